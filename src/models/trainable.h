// trainable.h — the trainable models: region encoders (Swin V2, Hiera, ConvNeXt), Mamba context
// layers and the xT classifier, each with a training forward that keeps activations and a
// backward that fills the gradients of an xt_params set.
//
// Memory: activations of one training forward live in one arena, backward scratch in a second;
// their sizes are pure functions of the model's geometry and the batch, computed by the same code
// that places the buffers (counting on a measuring arena, writing nothing), so callers allocate
// both once and a step allocates nothing.
#ifndef XT_TRAINABLE_H
#define XT_TRAINABLE_H

#include "models/models.h"
#include "models/seq.h"
#include "nn/params.h"

// ---------------------------------------------------------------------------------------------
// Region encoders, trainable: Swin V2 (swinv2_bwd.c), Hiera (hiera_bwd.c), ConvNeXt (convnext_bwd.c)
// behind one interface, the training counterpart of xt_encoder (models.h).

typedef struct xt_encoder_train xt_encoder_train;
struct xt_encoder_train {
    const char *arch; // "swinv2", "hiera", "convnext"
    int in_chans;
    int img_size;     // region side S
    int n_stages;
    int stage_c[XT_MAX_STAGES], stage_h[XT_MAX_STAGES]; // square maps: H_s x H_s
    void *impl;
    // Bytes of activations / backward scratch for a batch of B regions: pure functions of the
    // encoder's geometry and B (the forward's and backward's own placement code, counting only).
    size_t (*act_bytes)(const xt_encoder_train *e, int B);
    size_t (*scratch_bytes)(const xt_encoder_train *e, int B);
    // Training forward: img (B, in_chans, S, S) -> out[s] (B, C_s, H_s, H_s) NCHW for every stage
    // (out[s] may be NULL for stages not wanted). Activations go to act (>= act_bytes free, reset by
    // the caller between steps). tap/prefix as the inference encoder.
    int (*forward)(xt_encoder_train *e, const xt_params *P, const float *img, int B, float *const *out,
                   xt_arena *act, const xt_tap *tap, const char *prefix);
    // Backward of the last forward: dout[s] (B, C_s, H_s, H_s) NCHW or NULL (zero) per stage;
    // accumulates parameter gradients into P->g; dimg (B, in_chans, S, S) written when non-NULL.
    int (*backward)(xt_encoder_train *e, xt_params *P, const float *const *dout, float *dimg, xt_arena *scratch);
    void (*free)(xt_encoder_train *e);
    // Swin V2 only (0 elsewhere): the patch embedding (after its norm) is an output too (the
    // xView3 level 0). Forward taps it as "<prefix>patch_embed" (B, g, g, C0) NHWC; when dstem is
    // set at backward, it is the gradient there (same layout), added to what the stages send back.
    int has_stem;
    const float *dstem;
};

// Stage geometry as the arrays C[s], H[s] (may be NULL); returns n_stages.
static inline int xt_encoder_train_stages(const xt_encoder_train *e, int *C, int *H) {
    for (int s = 0; s < e->n_stages; s++) {
        if (C) C[s] = e->stage_c[s];
        if (H) H[s] = e->stage_h[s];
    }
    return e->n_stages;
}

// The builder (encoders.c): registers the encoder's parameters in P under "<prefix>..." official
// names and returns it. arch "swinv2", "hiera" or "convnext" with that encoder's config object,
// or arch NULL with a "backbone" object ({"arch": ...} or {"preset": NAME, ...overrides}, as
// xt_backbone_new). img_size: region side. NULL + error (nothing registered) on a bad config.
xt_encoder_train *xt_encoder_train_new(xt_params *P, const char *arch, const xt_json *cfg, const char *prefix,
                                       int img_size);
// The per-arch builders behind it. cfg: that encoder's config object (swinv2.c / hiera.c /
// convnext.c keys). Parameter names: Swin V2 timm's ("patch_embed.*", "layers_<s>.*"); Hiera
// "pos_embed", "patch_embed.proj.*", "blocks.<i>.*"; ConvNeXt timm's features_only names
// "stem_0.*", "stem_1.*", "stages_<s>.downsample.*", "stages_<s>.blocks.<d>.*" (official orders).
xt_encoder_train *xt_swin_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size);
xt_encoder_train *xt_hiera_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size);
xt_encoder_train *xt_convnext_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size);

// ---------------------------------------------------------------------------------------------
// xT's LLMLayer, trainable (models/llm_bwd.c), over N sequences of Lt tokens of width D (MLP F):
// RMSNorm, qkv, attention (attn 0: official bug-1 per-channel attention; 1: softmax attention
// over NH heads, causal or not), proj, residual, RMSNorm, gated MLP, residual.

typedef struct {
    int qkvw, qkvb, projw, projb, inw, postw, gw, uw, dw; // param ids (qkvb -1 when absent)
    float *xin, *rstd1, *h, *qkv, *p, *o, *x1, *rstd2, *h2, *g, *u, *mm; // activations (plan)
    // HyperAttention (xT's causal "hyper" layer at any length, seq.h): set hy before plan, rand
    // before each forward; then no L x L probabilities are kept: q, k, v head-major (qh), the
    // output (oh) and the forward's record (O(L) at every length), recomputed blocks at backward
    const xt_hyper *hy;
    xt_hyper_rand *rand;
    float *qh, *oh;
    xt_hyper_rec rec;
    xt_arena hws; // the forward's workspace, a slice of the activation arena
} xt_llm_train_layer;
// Registers "<pre>attn.qkv.weight", ... (official order).
void xt_llm_train_register(xt_llm_train_layer *l, xt_params *P, const char *pre, int D, int F, int qkv_bias);
size_t xt_llm_train_act_floats(int N, int Lt, int D, int F, int attn, int NH); // what plan places (with alignment)
void xt_llm_train_plan(xt_llm_train_layer *l, xt_arena *a, int N, int Lt, int D, int F, int attn, int NH);
// x (N*Lt, D): the layer input, replaced by its output. name (may be NULL): taps "<name>.attn"
// (the proj output) and "<name>" (the layer output), (N, Lt, D).
// Returns 0, or -1 + error (HyperAttention: replayed draws that do not fit).
int xt_llm_train_forward(xt_llm_train_layer *l, const xt_params *P, float *x, int N, int Lt, int D, int F, int attn,
                         int NH, int causal, const xt_tap *tap, const char *name);
// backward scratch (with alignment); l (NULL: none): the layer, whose hy decides the attention's part
size_t xt_llm_train_scratch_floats(const xt_llm_train_layer *l, int N, int Lt, int D, int F);
// dx (N*Lt, D): gradient at the output, replaced by the gradient at the input; gradients += into P->g.
void xt_llm_train_backward(xt_llm_train_layer *l, xt_params *P, float *dx, int N, int Lt, int D, int F, int attn, int NH,
                           xt_arena *scr);

// ---------------------------------------------------------------------------------------------
// Mamba context layers, trainable (models/mamba_bwd.c): xT's Block (LayerNorm, Mamba mixer,
// residual on the normalised stream, even layers reversed) over (N, Lt, D) token sequences.

typedef struct xt_mamba_train xt_mamba_train;
xt_mamba_train *xt_mamba_train_new(xt_params *P, const char *prefix, int D, int n_layers);
void xt_mamba_train_free(xt_mamba_train *m);
void xt_mamba_train_plan(xt_mamba_train *m, int N, int Lt, xt_arena *act); // places activations
size_t xt_mamba_train_act_bytes(const xt_mamba_train *m, int N, int Lt);    // what plan takes (pure)
// x (N, Lt, D): layer input, replaced by the last layer's output.
int xt_mamba_train_forward(xt_mamba_train *m, const xt_params *P, float *x, int N, int Lt, const xt_tap *tap);
size_t xt_mamba_train_scratch_floats(const xt_mamba_train *m, int N, int Lt);
// dx (N, Lt, D): gradient at the output, replaced by the gradient at the input.
void xt_mamba_train_backward(xt_mamba_train *m, xt_params *P, float *dx, int N, int Lt, float *scratch);

// ---------------------------------------------------------------------------------------------
// xT classifier, trainable (models/xt_bwd.c): Swin V2, Hiera or ConvNeXt regions + naive or xl head.

typedef struct xt_xt_train xt_xt_train;
// cfg: an xT model config ("kind": "xt"); st (may be NULL) decides optional keys (qkv.bias).
xt_xt_train *xt_xt_train_new(xt_params *P, const xt_json *cfg, const xt_st *st);
void xt_xt_train_free(xt_xt_train *m);
// HyperAttention ("hyper" context): the sample draws of the following forwards come from seed
// (the trainer sets one per step); before any call, from the file's input.hyper_randint.* when it
// holds them, else seed 1 (as inference). Other models: nothing.
void xt_xt_train_set_seed(xt_xt_train *m, uint64_t seed);
// frozen != 0: the following backwards stop before the region encoder (its parameters get no
// gradient; with dimg requested the encoder still runs back). The trainer's freeze_epochs.
void xt_xt_train_freeze_encoder(xt_xt_train *m, int frozen);
// memfix windows, for tests: mode 1 = the following forwards record the memory rows every layer
// input received (geometry of the last forward), 2 = they replay them instead of the memory they
// would build, 0 = off. With 2, finite differences see the memory as the constant (detached)
// value the gradient treats it as.
void xt_xt_train_memory_replay(xt_xt_train *m, int mode);
int xt_xt_train_num_classes(const xt_xt_train *m);
int xt_xt_train_crop(const xt_xt_train *m);
float xt_xt_train_smoothing(const xt_xt_train *m);
int xt_xt_train_in_chans(const xt_xt_train *m); // image channels the region encoder takes
// Arena sizes for a batch (N, C, H, W) of which n_grad regions keep activations.
size_t xt_xt_train_act_bytes(const xt_xt_train *m, int N, int H, int W, int n_grad);
size_t xt_xt_train_scratch_bytes(const xt_xt_train *m, int N, int H, int W, int n_grad);
// img (N, C, H, W) -> logits (N, K); keep (N*HP*WP regions, row-major per image) selects the
// regions that keep activations and get gradients (NULL: all).
int xt_xt_train_forward(xt_xt_train *m, const xt_params *P, const float *img, int N, int H, int W,
                        const unsigned char *keep, float *logits, xt_arena *act, const xt_tap *tap);
// Backward of the last forward from dlogits (N, K); gradients += into P->g; dimg written if non-NULL.
int xt_xt_train_backward(xt_xt_train *m, xt_params *P, const float *dlogits, float *dimg, xt_arena *scratch);

// ---------------------------------------------------------------------------------------------
// xView3 dense model, trainable (models/xview_bwd.c): Swin V2 (2 bands) + level-0 ConvTranspose,
// non-causal context model (memory empty), UNet decoder, four heads. An input of side n x crop_size
// is chipped into n x n regions as xt_xview_forward does (n = 1: the official training tile).

typedef struct xt_xview_train xt_xview_train;
// cfg: an xview model config (as xt_xview_new); st (may be NULL) gives the decoder widths.
xt_xview_train *xt_xview_train_new(xt_params *P, const xt_json *cfg, const xt_st *st);
void xt_xview_train_free(xt_xview_train *m);
int xt_xview_train_in_chans(const xt_xview_train *m);
int xt_xview_train_crop(const xt_xview_train *m);
size_t xt_xview_train_act_bytes(const xt_xview_train *m, int B, int H);     // the encoder's activation arena
size_t xt_xview_train_scratch_bytes(const xt_xview_train *m, int B, int H); // backward scratch arena
// img (B, C, H, H) normalised, H = n S, cord (ci, cj) of the tile -> maps[k] (B, 1, H, H) (xt_xview_map_names
// order). Taps as xt_xview_forward (encoder.upsample.in, encoder.{0..4}, context_model.*,
// decoder.*, out.*).
int xt_xview_train_forward(xt_xview_train *m, const xt_params *P, const float *img, int B, int H, int ci, int cj,
                           float *const *maps, xt_arena *act, const xt_tap *tap);
// Backward of the last forward from dmaps[k] (B, 1, H, H); gradients += into P->g; dimg written if non-NULL.
int xt_xview_train_backward(xt_xview_train *m, xt_params *P, const float *const *dmaps, float *dimg, xt_arena *scr);

#endif
