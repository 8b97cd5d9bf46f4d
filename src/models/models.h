// models.h — internal interfaces between the models and the rest of libxt.
//
// Data flow: image -> regions -> region encoder (xt_encoder) -> context encoder / head -> writer.
//
// Two contracts live here:
//   1. xt_encoder: a region encoder (Swin V2, Hiera, ConvNeXt) built from a model file; maps a
//      batch of regions (B, C, S, S) to per-stage NCHW feature maps.
//   2. xt_xtmodel: the xT classifier (regions + context encoder + head), immutable once built;
//      a run over one image keeps its own state (run/).
#ifndef XT_MODELS_H
#define XT_MODELS_H

#include "formats/safetensors.h"

#define XT_MAX_STAGES 4

// Numeric precision of a model's big matmuls (docs/performance.md, "Reduced precision"): the
// config key "precision" ("f32" default, "bf16", "int8": Swin V2 only) of a region encoder's object or of a whole model
// (xT, xView3), which the CLI's --precision overrides. Only the layers an encoder lists run in
// it (Swin V2: proj, fc1, fc2, patch merging; Hiera: its five linears; ConvNeXt: fc1, fc2); an
// encoder without a bf16 path would refuse "bf16" (xt_cfg_precision).
typedef enum { XT_PREC_F32, XT_PREC_BF16, XT_PREC_INT8, XT_PREC_COUNT } xt_precision;
const char *xt_precision_name(xt_precision p);
int xt_precision_parse(const char *s, xt_precision *out); // 0, or -1 + error naming the choices
// The "precision" of an encoder's config object cfg (absent: f32), checked against what encoder
// `model` supports (mask of 1 << XT_PREC_*). 0, or -1 + error.
int xt_cfg_precision(const xt_json *cfg, const char *model, unsigned supported, xt_precision *out);
// Puts one precision into a model config (in place): override (NULL: the config's top-level
// "precision", if any) becomes "precision" at the top and in the encoder objects ("swin",
// "hiera", "convnext", "backbone"), replacing theirs. 0, or -1 + error (a bad name).
int xt_config_apply_precision(xt_json *cfg, const char *override);

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
int xt_swinv2_pretrained_windows(const xt_json *cfg, int n_stages, int *out); // per stage, 0 = none
// The Swin V2 config and its per-stage geometry (swinv2_cfg.c), one reader for the inference
// (swinv2.c) and the training (swinv2_bwd.c) encoder. Keys: embed_dim, depths, num_heads,
// window_size (required); in_chans (3), mlp_ratio (4), pretrained_window_sizes (none), matmul
// ("f32"), img_size (default: the img_size argument). Stage s: C = embed_dim << s on a res x res
// map (res = img / 4 >> s); the window is clamped to the map (ws = min(res, window)) and odd
// blocks shift by window / 2 unless one window covers the map (timm _calc_window_shift).
typedef struct {
    int C, Cin, res, depth, heads, hidden; // hidden: MLP width int(C * mlp_ratio)
    int ws, shift, pws;                    // effective window; shift of odd blocks; pretrained window (0 = none)
} xt_swin_stage;
typedef struct {
    int embed, n_stages, window, img, grid, in_chans; // grid = img / 4 (patch-embed side)
    double mlp_ratio;
    int bf16; // "precision" (or "matmul"): "bf16" (inference only)
    int int8; // "precision": "int8" (inference only; same layers as bf16)
    xt_swin_stage st[XT_MAX_STAGES];
} xt_swin_cfg;
int xt_swin_cfg_parse(const xt_json *cfg, int img_size, xt_swin_cfg *c); // 0, or -1 + xt_error
static inline int xt_swin_block_shift(const xt_swin_stage *S, int b) { return b % 2 ? S->shift : 0; }
// The encoder's parameters in timm's named_parameters() order, one list for the inference
// loader, the training registry, the random-weight writer and the parameter count: the stem
// "patch_embed.<name>", then per stage s the patch merging "layers_<s>.downsample.<name>" (s > 0)
// and each block "layers_<s>.blocks.<b>.<name>". (The CPB MLP is 2 -> XT_SWIN_CPB_HIDDEN -> heads.)
#define XT_SWIN_CPB_HIDDEN 512
enum { XT_SWIN_PE_W, XT_SWIN_PE_B, XT_SWIN_PE_NORM_W, XT_SWIN_PE_NORM_B, XT_SWIN_STEM_PARAMS };
enum { XT_SWIN_RED_W, XT_SWIN_DS_NORM_W, XT_SWIN_DS_NORM_B, XT_SWIN_MERGE_PARAMS };
enum {
    XT_SWIN_LOGIT_SCALE, XT_SWIN_Q_BIAS, XT_SWIN_V_BIAS, XT_SWIN_CPB0_W, XT_SWIN_CPB0_B, XT_SWIN_CPB2_W,
    XT_SWIN_QKV_W, XT_SWIN_PROJ_W, XT_SWIN_PROJ_B, XT_SWIN_NORM1_W, XT_SWIN_NORM1_B, XT_SWIN_FC1_W,
    XT_SWIN_FC1_B, XT_SWIN_FC2_W, XT_SWIN_FC2_B, XT_SWIN_NORM2_W, XT_SWIN_NORM2_B, XT_SWIN_BLOCK_PARAMS
};
typedef struct {
    const char *name; // e.g. "attn.qkv.weight"
    int ndim;
    int64_t shape[4];
} xt_swin_param;
void xt_swin_stem_params(const xt_swin_cfg *c, xt_swin_param *p);    // p[XT_SWIN_STEM_PARAMS]
void xt_swin_merge_params(const xt_swin_stage *S, xt_swin_param *p); // p[XT_SWIN_MERGE_PARAMS]
void xt_swin_block_params(const xt_swin_stage *S, xt_swin_param *p); // p[XT_SWIN_BLOCK_PARAMS]
int64_t xt_swin_params_numel(const xt_swin_param *p, int n);         // elements of p[0..n)
int xt_swinv2_random_weights(xt_st_writer *w, const xt_json *cfg, const char *prefix, uint64_t seed);
xt_encoder *xt_hiera_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size);
xt_encoder *xt_convnext_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size);

// Any region encoder from a "backbone" config object (docs/backbones.md):
//   {"arch": "swinv2" | "hiera" | "convnext", ...that builder's keys}   or
//   {"preset": NAME, ...keys overriding the preset's}                   (presets.c)
xt_encoder *xt_backbone_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size);
// The one dispatch by arch (encoders.c; xt_encoder_train_new in trainable.h is its training
// twin): arch "swinv2", "hiera" or "convnext" with that builder's config object, or arch NULL
// with a "backbone" object (as xt_backbone_new).
xt_encoder *xt_encoder_new(xt_st *st, const char *arch, const xt_json *cfg, const char *prefix, int img_size);
// Stage widths C[s] and sides H[s] (square maps) of the encoder (arch, cfg) describes for
// img_size regions, from the config alone with the builders' own readers: n_stages, -1 + error.
int xt_encoder_geometry(const char *arch, const xt_json *cfg, int img_size, int *C, int *H);
// The config with its preset expanded (a new object; free with xt_json_free). NULL + error.
xt_json *xt_backbone_resolve(const xt_json *cfg);

// Named official sizes (presets.c): our JSON config (with "arch") for NAME or an alias (xT's
// backbone_class names such as "swinv2_tiny_window16_256_timm", "hiera_base_plus"); NULL + error.
typedef struct xt_preset {
    const char *name, *arch, *config;
    double published_m; // published parameter count (millions) of the 1000-class classifier
    const char *source;
} xt_preset;
const char *xt_preset_config(const char *name);
const xt_preset *xt_preset_find(const char *name); // NULL if unknown (no error)
int xt_preset_count(void);
const xt_preset *xt_preset_at(int i);
// The hiera package's size (hiera_tiny_224 ... hiera_huge_224) with this embed_dim and stages:
// its num_heads, which no tensor shape holds (name: its short name, "tiny" ... "huge"); 0 if none.
int xt_hiera_size_heads(int embed_dim, const int *stages, int n_stages, const char **name);
// Parameters of the encoder a config describes (presets expanded), computed from the config
// alone. num_classes < 0: the region encoder as xT uses it (features only: no final norm, no
// classifier); >= 0: the classifier as timm / hiera count it (final norm + Linear(C, num_classes),
// no Linear when 0). img_size <= 0: the config's img_size (Hiera's pos_embed depends on it).
int xt_backbone_param_count(const xt_json *cfg, int img_size, int num_classes, int64_t *out);

// `xt verify` forward of each model kind (run/verify.c dispatches on the config "kind"): build the
// model described by cfg from st, run it on st's input.* tensors and emit every tensor it computes
// through tap under the golden names (without the "expected." prefix). 0 / -1 + error. (Kind
// "xt" runs through the context run, so its verify is in run/verify_xt.c.)
int xt_swin_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);
int xt_hiera_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);
int xt_convnext_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);

// ---------------------------------------------------------------------------------------------
// xT model (xt.c, heads.c, context.c): the immutable classifier; the run over an image is
// run/ctx.h.
//
// An image (C, H, W) is cut into HP x WP regions of crop_size (zero padding, after
// normalisation, at the right/bottom edge: HP = ceil(H / S), WP = ceil(W / S)). Each region is
// encoded on its own (xt_xtmodel_encode_regions); its last-stage feature map (feat_c, feat_h,
// feat_w) is pushed, row-major over the region grid, into a context run (run/ctx.h, xt_ctx_*)
// that produces the logits after the last region. The model is only read while it runs, so
// one model serves any number of runs at once, on any threads.

typedef enum { XT_HEAD_NAIVE, XT_HEAD_XL, XT_HEAD_COUNT } xt_head_kind;
typedef enum { XT_ATTN_NAIVE, XT_ATTN_HYPER, XT_ATTN_MAMBA, XT_ATTN_COUNT } xt_attn_method;

// The xT config (xt_config.c): one parser and one set of limits for inference (xt.c) and
// training (xt_bwd.c, which refuses more afterwards, saying why). Keys: crop_size (256),
// num_classes (required), mlp_ratio (4), cls_head ("naive" | "xl"), context.attention_method
// ("naive" | "hyper" | "mamba"), context.hidden_size (768), context.n_layer (2),
// context.in_context_patches (-1), variant / variants, and the region encoder's object.
typedef struct xt_xt_config {
    int crop_size, num_classes, mlp_ratio;
    xt_head_kind head;
    xt_attn_method attn;                      // xl head only
    int hidden, n_layers, in_context_patches; // xl head only; in_context_patches after the variant
    const char *variant;                      // the variant in effect (NULL: official behaviour)
    int memfix, hyper_block_mask;             // what it switches on
    const xt_json *encoder;                   // the region encoder's config object (NULL: none named)
    const char *encoder_arch, *encoder_key;   // as xt_xt_encoder_config returns them
} xt_xt_config;
// variant: NULL (the config's "variant" key if any, else official behaviour), else a name from
// config.variants or one of "memfix", "blockmask", "incontext16_tuplefix" (docs/xt-model.md).
// Pointers in c point into cfg. 0, or -1 + error ("config: ...").
int xt_xt_config_parse(xt_xt_config *c, const xt_json *cfg, const char *variant);
const xt_json *xt_xt_config_variant(const xt_json *cfg, const char *name); // config.variants entry, or NULL
// The region encoder an xT config names (encoders.c): its "swin", "hiera" or "convnext" object,
// first found in that order (*arch "swinv2", "hiera", "convnext"), else its "backbone" object
// (*arch NULL: the object names an arch or a preset). *key: the config key. NULL when none.
const xt_json *xt_xt_encoder_config(const xt_json *cfg, const char **arch, const char **key);

typedef struct xt_xtmodel_info {
    int crop_size, in_chans, num_classes;
    int feat_c, feat_h, feat_w;  // last-stage feature map of one region (NCHW, batch 1)
    xt_head_kind head;
    xt_attn_method attn;         // xl head only
    int hidden, n_layers, mlp_ratio;
    int in_context_patches;      // <= 0: global context; > 0: windows (stride half)
    int memfix;                  // windows with the working recurrent memory (variant "memfix")
    int hyper_block_mask;        // HyperAttention long path with the block mask (variant "blockmask")
    int streaming;               // 1: context memory does not grow with the image
} xt_xtmodel_info;

typedef struct xt_xtmodel_params {
    const char *variant; // NULL: the config's "variant" key if any, else official behaviour;
                         // else a name from config.variants or one of "memfix", "blockmask",
                         // "incontext16_tuplefix" (docs/xt-model.md)
    int no_encoder;      // 1: context + head only (features computed elsewhere)
} xt_xtmodel_params;

typedef struct xt_xtmodel xt_xtmodel;

xt_xtmodel_params xt_xtmodel_default_params(void);
xt_xtmodel *xt_xtmodel_new(xt_st *st, const xt_json *cfg); // NULL + xt_error
xt_xtmodel *xt_xtmodel_new_with(xt_st *st, const xt_json *cfg, xt_xtmodel_params p);
void xt_xtmodel_free(xt_xtmodel *m);
const xt_xtmodel_info *xt_xtmodel_get_info(const xt_xtmodel *m);
const xt_encoder *xt_xtmodel_encoder(const xt_xtmodel *m); // NULL when built with no_encoder
static inline size_t xt_xtmodel_feat_numel(const xt_xtmodel_info *in) {
    return (size_t)in->feat_c * in->feat_h * in->feat_w;
}

// Region encoding: regions (B, in_chans, S, S) -> feat (B, feat_c, feat_h, feat_w).
// ws: an arena of >= xt_xtmodel_encode_ws_size(m, B) bytes (reset by this call).
size_t xt_xtmodel_encode_ws_size(const xt_xtmodel *m, int B);
int xt_xtmodel_encode_regions(const xt_xtmodel *m, const float *regions, int B, float *feat, xt_arena *ws);
// Same, every stage: out[s] (B, stage_c[s], stage_h[s], stage_w[s]); taps "encoder.<path>".
int xt_xtmodel_encode_stages(const xt_xtmodel *m, const float *regions, int B, float *const *out,
                             xt_arena *ws, const xt_tap *tap);
// Cuts region (rr, rc) of an image (C, H, W) into dst (C, S, S), zero-padding outside the image.
void xt_xtmodel_crop_region(const xt_xtmodel *m, float *dst, const float *img, int H, int W, int rr, int rc);

#endif
