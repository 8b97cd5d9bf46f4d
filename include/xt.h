// xt.h — the one public header of libxt: xT (nested tokenization for large images) in C.
//
// Usage (examples/classify.c is the complete program):
//
//     #include "xt.h"
//     xt_model *m = xt_model_load("model.safetensors");          // immutable, shareable
//     if (!m) { fprintf(stderr, "xt: %s\n", xt_error_buffer()); return 1; }
//     xt_classify_params p = xt_classify_default_params();
//     p.threads = 4;
//     float *logits = malloc(sizeof(float) * xt_model_num_classes(m));
//     if (xt_classify_file(m, "scene.tif", &p, logits) < 0)     // streams: bounded memory
//         fprintf(stderr, "xt: %s\n", xt_error_buffer());
//     xt_softmax(logits, logits, xt_model_num_classes(m));
//     free(logits);
//     xt_model_free(m);
//
// Errors: functions return -1 (or NULL) and leave a message in a thread-local buffer read with
// xt_error_buffer(). Nothing in the library exits or prints.
//
// Threads: libxt runs OpenMP (libgomp) loops and BLAS. libgomp's default lets waiting threads
// spin, which on a machine with another busy process made runs 30-40x slower (two concurrent
// 2048^2 embeds: median 22.8 s vs 0.62 s passive). libgomp reads its policy when it is loaded,
// before main(), so a library cannot change it: start your program with OMP_WAIT_POLICY=passive
// in its environment (the `xt` tool does this itself: it sets it and re-executes once when
// neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT is set).
#ifndef XT_H
#define XT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XT_VERSION "0.1.0"

// The last error message of the calling thread.
const char *xt_error_buffer(void);

// ---- models --------------------------------------------------------------------------------
typedef struct xt_model xt_model;

// Loads an xT model file (safetensors with a config of kind "xt"; see `xt convert`).
// The weights are memory-mapped. NULL + error on failure.
xt_model *xt_model_load(const char *path);
void xt_model_free(xt_model *m);          // NULL is fine
int xt_model_num_classes(const xt_model *m);
int xt_model_in_chans(const xt_model *m); // bands the model expects
int xt_model_region_size(const xt_model *m); // side of one region (crop_size), pixels

// ---- classification ------------------------------------------------------------------------
#define XT_MAX_BANDS 16

typedef struct xt_classify_params {
    int threads;                   // 0: all cores
    int batch;                     // regions per encoder call [8]
    int n_bands;                   // 0: all bands of the image (must equal in_chans)
    int bands[XT_MAX_BANDS];       // 0-based band indices, n_bands of them
    int n_mean, n_std;             // 0: the model config's "mean"/"std" (ImageNet for 3 bands)
    double mean[XT_MAX_BANDS], std[XT_MAX_BANDS]; // per band, after scaling
    int has_scale;                 // 0: config "input_scale", else by sample type (1/255 for u8...)
    double scale;
    int has_nodata;                // pixels where a selected band equals nodata become 0
    double nodata;
    double cache_mb;               // decoded-tile cache; < 0: automatic [-1]
    double mem_mb;                 // global-context models: tokens kept in memory, rest spills to $TMPDIR [1024]
    void (*progress)(void *user, int64_t done, int64_t total); // regions done; NULL: none
    void *progress_user;
} xt_classify_params;

xt_classify_params xt_classify_default_params(void);

// Classifies an image file (TIFF, BigTIFF, GeoTIFF, PNG, JPEG) of any size, reading it region by
// region: memory is bounded by one batch of regions and the tile cache, not the image.
// logits: num_classes floats. p NULL: defaults. 0, or -1 + error.
int xt_classify_file(const xt_model *m, const char *image_path, const xt_classify_params *p, float *logits);

// Classifies an in-memory image img (C, H, W), already normalised; C must be in_chans.
// threads 0: all cores. logits: num_classes floats. 0, or -1 + error.
int xt_classify_image(const xt_model *m, const float *img, int C, int H, int W, int threads, float *logits);

// probs = softmax(logits), n values (in place is fine).
void xt_softmax(const float *logits, float *probs, int n);

#ifdef __cplusplus
}
#endif

#endif
