// npy.h — numpy .npy files of point lists (the xView3 shoreline contours) read without Python.
#ifndef XT_FORMATS_NPY_H
#define XT_FORMATS_NPY_H

#include <stdint.h>

// A list of contours, each a run of (row, col) points, stacked in file order (np.vstack).
typedef struct xt_npy_contours {
    int n;          // contours
    int64_t *len;   // (n) points per contour
    int64_t total;  // sum of len
    double *pts;    // (total, 2) row, col as float64
} xt_npy_contours;

// Reads np.save output (format 1.0-3.0) holding either a 1-D object array whose elements are
// (N, 2) numeric arrays (an element of shape (2,) is one point, as np.vstack takes it), or one
// numeric (N, 2) array, or an empty array of any dtype (no contours). Object arrays are unpickled
// by the restricted VM (pickle.c): nothing in the file is executed. -1 + error naming the path.
int xt_npy_read_contours(const char *path, xt_npy_contours *out);
int xt_npy_parse_contours(const uint8_t *data, size_t size, const char *what, xt_npy_contours *out);
void xt_npy_contours_free(xt_npy_contours *c);
// Writes c as the official shoreline files are (np.save of a 1-D object array of (N, 2) float64
// arrays, pickle protocol 3; np.load(allow_pickle=True) reads it), to a temporary name then
// renamed. 0 / -1 + error.
int xt_npy_write_contours(const char *path, const xt_npy_contours *c);

#endif
