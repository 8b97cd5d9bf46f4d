// params.c — the flat parameter set: weights, gradients and AdamW moments in four arrays of one
// layout, one 16-float-aligned block per parameter under its official state_dict name.
#include <stdarg.h>
#include <string.h>

#include "nn/params.h"

int xt_params_add(xt_params *P, const char *name, int ndim, const int64_t *shape) {
    XT_ASSERT(!P->w && ndim >= 1 && ndim <= 4 && strlen(name) < sizeof P->p[0].name);
    if (P->n == P->cap) {
        P->cap = P->cap ? 2 * P->cap : 64;
        P->p = realloc(P->p, P->cap * sizeof *P->p);
        XT_ASSERT(P->p);
    }
    xt_param *p = &P->p[P->n];
    memset(p, 0, sizeof *p);
    strcpy(p->name, name);
    p->ndim = ndim;
    p->n = 1;
    for (int i = 0; i < ndim; i++) { p->shape[i] = shape[i]; p->n *= (size_t)shape[i]; }
    p->off = P->total;
    P->total += (p->n + 15) & ~(size_t)15;
    // ref: xT optimizer.py make_params: no decay for names containing "bias" (its other no_decay
    // patterns, "LayerNorm.weight" etc., match no parameter name of these models)
    p->decay = strstr(name, "bias") == NULL;
    return P->n++;
}

int xt_params_addf(xt_params *P, int nd, int64_t a, int64_t b, int64_t c, int64_t d, const char *fmt, ...) {
    char nm[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nm, sizeof nm, fmt, ap);
    va_end(ap);
    int64_t sh[4] = {a, b, c, d};
    return xt_params_add(P, nm, nd, sh);
}

int xt_params_alloc(xt_params *P) {
    size_t n = P->total ? P->total : 16;
    P->w = xt_malloc_checked(4 * n * sizeof(float), "parameters, gradients and optimiser state");
    if (!P->w) return -1;
    memset(P->w, 0, 4 * n * sizeof(float));
    P->g = P->w + n;
    P->m = P->g + n;
    P->v = P->m + n;
    return 0;
}

void xt_params_free(xt_params *P) {
    free(P->p);
    free(P->w);
    memset(P, 0, sizeof *P);
}

int xt_params_find(const xt_params *P, const char *name) {
    for (int i = 0; i < P->n; i++)
        if (!strcmp(P->p[i].name, name)) return i;
    return -1;
}

int xt_params_load(xt_params *P, xt_st *st) {
    for (int i = 0; i < P->n; i++) {
        const float *w = xt_st_weightf(st, P->p[i].ndim, P->p[i].shape, "%s", P->p[i].name);
        if (!w) return -1;
        memcpy(xt_pw(P, i), w, P->p[i].n * sizeof(float));
    }
    return 0;
}

void xt_params_zero_grad(xt_params *P) { memset(P->g, 0, P->total * sizeof(float)); }
