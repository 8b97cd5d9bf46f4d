// backbones.h — helpers shared by the Hiera and ConvNeXt region encoders (backbones.c): a
// weight loader that records every name it consumed, so tensors under the model's prefix that
// the config does not account for (a deeper checkpoint, a wrong preset) are reported instead of
// silently ignored; and config readers with range checks.
#ifndef XT_BACKBONES_H
#define XT_BACKBONES_H

#include "models/models.h"

typedef struct xt_wload {
    xt_st *st;
    const char *prefix;
    char **used;
    int n, cap;
} xt_wload;

// Weight "<prefix><name>" with exactly this shape (NULL + error naming file and tensor).
const float *xt_wload_get(xt_wload *l, int ndim, const int64_t *shape, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
// Error naming the first tensor under the prefix that was not consumed; names starting with
// one of the NULL-terminated ignore prefixes (relative to the model prefix) are skipped, as are
// input.* and expected.* when the prefix is empty.
int xt_wload_check_unused(xt_wload *l, const char *const *ignore, const char *model);
void xt_wload_free(xt_wload *l);

// Integer config value in [lo, hi] (def when absent); error names the model and key.
int xt_cfg_int(const xt_json *cfg, const char *model, const char *key, int def, int lo, int hi, int *out);
// Integer array of 1..max entries each in [lo, hi]; returns count or -1. If absent and
// def_n > 0, copies def (def_n entries).
int xt_cfg_ints(const xt_json *cfg, const char *model, const char *key, int *out, int max, int lo, int hi,
                const int *def, int def_n);

// Runs a region encoder on a model file's input.image for `xt verify`: builds it with
// build(st, enc_cfg, prefix, S), checks input.image (B, in_chans, S, S) against the top-level
// config's image_size (when present), runs forward with the tap and keeps the NCHW outputs.
typedef xt_encoder *(*xt_encoder_builder)(xt_st *, const xt_json *, const char *, int);
typedef struct {
    xt_encoder *e;
    int B;
    float *out[XT_MAX_STAGES];
} xt_region_run;
int xt_region_run_file(xt_region_run *r, xt_st *st, const xt_json *top, const xt_json *enc_cfg, const char *prefix,
                       xt_encoder_builder build, const xt_tap *tap, const char *model);
void xt_region_run_free(xt_region_run *r);

// Hiera geometry (hiera.c) from a config and region side, without weights: the per-block plan and
// the unroll / reroll tables the inference encoder uses, shared with the trainable Hiera
// (hiera_bwd.c) so the config is read and checked once.
typedef struct {
    int dim, dout, heads, hd, q, window, use_mu, hidden;
    int N, end; // tokens per image entering the block; stage index if it ends a stage, else -1
} xt_hiera_blk;
typedef struct {
    int n_stages, depth, Hp, Np, C0, in_chans, img; // Hp x Hp patch tokens (Np), width C0
    int kh, kw, sh, sw, ph, pw;                     // patch-embed conv
    int stage_c[XT_MAX_STAGES], stage_h[XT_MAX_STAGES];
    xt_hiera_blk *blk;         // (depth)
    int *unroll;               // (Np): unrolled token n -> spatial index y*Hp + x
    int *pix[XT_MAX_STAGES];   // per stage: token n -> spatial index at that stage's resolution
} xt_hiera_geom;
int xt_hiera_geom_new(xt_hiera_geom *g, const xt_json *cfg, int img_size); // 0 / -1 + error
void xt_hiera_geom_free(xt_hiera_geom *g);

// ConvNeXt geometry (convnext.c) from a config and region side, without weights: the same reader
// and checks as the inference encoder, shared with the trainable ConvNeXt (convnext_bwd.c).
typedef struct {
    int n_stages, in_chans, patch, ks, img;
    int dims[XT_MAX_STAGES], depths[XT_MAX_STAGES], hidden[XT_MAX_STAGES], stage_h[XT_MAX_STAGES];
} xt_convnext_geom;
int xt_convnext_geom_new(xt_convnext_geom *g, const xt_json *cfg, int img_size); // 0 / -1 + error

#endif
