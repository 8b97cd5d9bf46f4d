// params.h — the flat parameter set of a trainable model: names, shapes, weights, gradients and
// AdamW moments as four float arrays of one layout (official state_dict names and order).
#ifndef XT_PARAMS_H
#define XT_PARAMS_H

#include "formats/safetensors.h"

// ---------------------------------------------------------------------------------------------
// parameter set (params.c)

typedef struct {
    char name[160];
    int ndim;
    int64_t shape[4];
    size_t off, n; // offset into w/g/m/v (floats, 16-float aligned), element count
    int decay;     // AdamW weight decay applies (official: names without "bias")
    int64_t step;  // optimiser updates this parameter received (torch's per-parameter state['step'])
} xt_param;

typedef struct {
    int n, cap;
    xt_param *p;
    size_t total;           // floats in each of w, g, m, v
    float *w, *g, *m, *v;   // weights, gradients, AdamW first/second moments
    int64_t step;           // optimiser steps taken
} xt_params;

// Registers a parameter (layout phase, before xt_params_alloc); returns its index.
int xt_params_add(xt_params *P, const char *name, int ndim, const int64_t *shape);
// The same with a printf-formatted name and the shape as up to 4 sizes (nd of them are used).
int xt_params_addf(xt_params *P, int nd, int64_t a, int64_t b, int64_t c, int64_t d, const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));
int xt_params_alloc(xt_params *P); // zeroed w/g/m/v; -1 + error on allocation failure
void xt_params_free(xt_params *P);
int xt_params_find(const xt_params *P, const char *name); // index or -1
static inline float *xt_pw(const xt_params *P, int i) { return P->w + P->p[i].off; }
static inline float *xt_pg(const xt_params *P, int i) { return P->g + P->p[i].off; }
// Copies every parameter's weights from st (exact names and shapes) -> 0/-1.
int xt_params_load(xt_params *P, xt_st *st);
void xt_params_zero_grad(xt_params *P);

#endif
