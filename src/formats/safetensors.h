// safetensors.h — the model file format: a validating mmap'd reader and an atomic writer.
#ifndef XT_SAFETENSORS_H
#define XT_SAFETENSORS_H

#include "core/core.h"

// safetensors (safetensors.c): mmap'd reader with full validation, and writer.


typedef enum { XT_F32, XT_F16, XT_BF16, XT_DTYPE_COUNT } xt_dtype;

typedef struct xt_st_tensor {
    char *name;
    xt_dtype dtype;
    int ndim;
    int64_t shape[XT_MAX_DIMS];
    int64_t numel;
    const void *raw;  // into the mapping
    float *f32;       // F32 view: == raw when dtype F32 and aligned, else converted copy (lazily)
    int owns_f32;
} xt_st_tensor;

typedef struct xt_st {
    char *path;
    void *map;
    size_t map_size;
    int n;
    xt_st_tensor *t;    // sorted by name for lookup
    xt_json *header;    // parsed header
    const xt_json *meta; // __metadata__ object or NULL
} xt_st;

xt_st *xt_st_open(const char *path); // NULL + error; validates everything (see safetensors.c)
void xt_st_close(xt_st *st);
const xt_st_tensor *xt_st_find(const xt_st *st, const char *name); // NULL if absent (no error)
// F32 data of a tensor (converting F16/BF16 once). Returns NULL + error if absent.
const float *xt_st_f32(xt_st *st, const char *name, const xt_st_tensor **info);
// Weight lookup with exact shape check: ndim dims given as varargs (int64_t); NULL + error naming
// file and tensor when missing or shaped differently.
const float *xt_st_weight(xt_st *st, const char *name, int ndim, ...);
// Same with a printf-built name.
const float *xt_st_weightf(xt_st *st, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// The stored data of a weight of this shape without widening: *dtype XT_BF16 / XT_F16 with the
// mmap'd 2-byte values (a bf16 matmul uses BF16 weights in place: no float32 copy), else XT_F32
// and its float32 data. NULL + error as xt_st_weight.
const void *xt_st_weight_raw(xt_st *st, const char *name, int ndim, const int64_t *shape, xt_dtype *dtype);
const char *xt_st_meta(const xt_st *st, const char *key); // string value or NULL
float xt_f16_to_f32(uint16_t h); // IEEE binary16 -> float (exact)
float xt_bf16_to_f32(uint16_t h);     // bfloat16 -> float (exact)
uint16_t xt_f32_to_bf16_rne(float f); // float -> bfloat16, round to nearest even (torch's .bfloat16())
// float -> IEEE binary16, round to nearest even (numpy / torch astype(float16)): above 65504
// rounds to +-inf from 65520 on, subnormals kept, NaN stays NaN.
uint16_t xt_f32_to_f16(float f);
// Rejects NaN/Inf in every tensor whose name does not start with "expected." (weights, inputs).
int xt_st_check_finite(xt_st *st, const char *prefix);

typedef struct xt_st_writer xt_st_writer;
xt_st_writer *xt_st_writer_new(void);
void xt_st_writer_meta(xt_st_writer *w, const char *key, const char *value);
// Copies data. shape in PyTorch order.
void xt_st_writer_add(xt_st_writer *w, const char *name, const float *data, int ndim, const int64_t *shape);
// Same, stored as dtype (XT_BF16 / XT_F16: rounded to nearest even when saved). The file holds
// the F32 tensors' data first, so they stay 4-byte aligned.
void xt_st_writer_add_as(xt_st_writer *w, const char *name, const float *data, int ndim, const int64_t *shape, xt_dtype dtype);
// Writes atomically (tmp file, fsync, rename). Frees w. Returns 0/-1.
int xt_st_writer_save(xt_st_writer *w, const char *path);
void xt_st_writer_free(xt_st_writer *w);

#endif
