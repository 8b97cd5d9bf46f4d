// models.h — internal interfaces between the models and the rest of libxt.
//
// Data flow: image -> regions -> region encoder (xt_encoder) -> context encoder / head -> writer.
//
// Two contracts live here:
//   1. xt_encoder: a region encoder (Swin V2, Hiera, ConvNeXt) built from a model file; maps a
//      batch of regions (B, C, S, S) to per-stage NCHW feature maps.
//   2. xt_kind: one entry per config "kind" ("swin_region", "hiera_region", "convnext_region",
//      "xt"); `xt verify` dispatches on it (src/models/registry.c).
#ifndef XT_MODELS_H
#define XT_MODELS_H

#include "../core/core.h"

#define XT_MAX_STAGES 4

typedef struct xt_encoder xt_encoder;
struct xt_encoder {
    const char *arch;     // "swinv2", "hiera", "convnext"
    int in_chans;
    int img_size;         // region side S
    int n_stages;
    int stage_c[XT_MAX_STAGES], stage_h[XT_MAX_STAGES], stage_w[XT_MAX_STAGES];
    int64_t n_params;
    double flops;         // multiply-adds * 2 per region (for benchmarks)
    void *impl;
    // Bytes of scratch the forward needs for batch B (sized before use; arena never grows).
    size_t (*workspace_size)(const xt_encoder *e, int B);
    // img (B, in_chans, S, S) -> out[s] (B, stage_c[s], stage_h[s], stage_w[s]) for every stage s.
    // ws: arena of >= workspace_size bytes (reset by the callee's caller). tap/prefix: module
    // paths are reported as "<prefix><official path>", e.g. prefix "encoder." inside xT files.
    int (*forward)(const xt_encoder *e, const float *img, int B, float *const *out, xt_arena *ws,
                   const xt_tap *tap, const char *prefix);
    void (*free)(xt_encoder *e);
};

// Builders: weights are looked up in st under "<prefix>..." official names (e.g. "model." for
// region files, "encoder.model." inside xT files). cfg: the encoder's JSON config object.
// Return NULL + xt_error on any problem (missing key, wrong shape, bad config).
xt_encoder *xt_swinv2_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size);
// Swin V2 helpers: parameter count of a config (features_only: no final norm, no head; -1 + error
// on a bad config), and a full random weight set under "<prefix>" official names with the golden
// README's randomisation (seeded, deterministic). Return 0/-1.
int64_t xt_swinv2_param_count(const xt_json *cfg, int img_size);
int xt_swinv2_random_weights(xt_st_writer *w, const xt_json *cfg, const char *prefix, uint64_t seed);
xt_encoder *xt_hiera_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size);
xt_encoder *xt_convnext_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size);

// `xt verify` contract per kind: build the model described by cfg from st, run it on st's
// input.* tensors and emit every tensor it computes through tap under the golden names (without
// the "expected." prefix). final_outputs: names that must be computed for verify to pass.
typedef struct xt_kind {
    const char *name;
    int (*verify_run)(xt_st *st, const xt_json *cfg, const xt_tap *tap);
    const char *final_outputs[8];
} xt_kind;

const xt_kind *xt_kind_find(const char *name);

#endif
