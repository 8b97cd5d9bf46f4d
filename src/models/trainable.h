// trainable.h — the trainable models: region encoders (Swin V2, Hiera, ConvNeXt), Mamba context
// layers and the xT classifier, each with a training forward that keeps activations and a
// backward that fills the gradients of an xt_params set.
//
// Memory: activations of one training forward live in one arena sized by a measure pass over the
// same allocation code; backward scratch in a second arena, sized the same way.
#ifndef XT_TRAINABLE_H
#define XT_TRAINABLE_H

#include "nn/params.h"

// ---------------------------------------------------------------------------------------------
// Swin V2 region encoder, trainable (models/swinv2_bwd.c)

typedef struct xt_swin_train xt_swin_train;
// Registers the encoder's parameters under "<prefix>..." official names. cfg: Swin config object
// (embed_dim, depths, num_heads, window_size, in_chans, mlp_ratio); img_size: region side.
xt_swin_train *xt_swin_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size);
void xt_swin_train_free(xt_swin_train *m);
int xt_swin_train_stages(const xt_swin_train *m, int *C, int *H); // n_stages; C/H per stage
// Floats of activations / backward scratch for a batch of B regions (measure passes).
size_t xt_swin_train_act_bytes(const xt_swin_train *m, int B);
size_t xt_swin_train_scratch_bytes(const xt_swin_train *m, int B);
// Training forward: img (B, Cin, S, S) -> out[s] (B, C_s, H_s, H_s) NCHW for every stage (out[s]
// may be NULL for stages not wanted). Activations go to act (>= act_bytes, reset by the caller
// between steps). tap/prefix as the inference encoder.
int xt_swin_train_forward(xt_swin_train *m, const xt_params *P, const float *img, int B, float *const *out,
                          xt_arena *act, const xt_tap *tap, const char *prefix);
// Backward of the last forward: dout[s] (B, C_s, H_s, H_s) NCHW or NULL (zero) per stage;
// accumulates parameter gradients into P->g; dimg (B, Cin, S, S) written when non-NULL.
int xt_swin_train_backward(xt_swin_train *m, xt_params *P, const float *const *dout, float *dimg, xt_arena *scratch);

// ---------------------------------------------------------------------------------------------
// Hiera region encoder, trainable (models/hiera_bwd.c): the same interface as Swin's above.
// cfg: Hiera config object (hiera.c keys); parameters "<prefix>pos_embed", "patch_embed.proj.*",
// "blocks.<i>.*" (official names and order). out[s] / dout[s]: (B, C_s, H_s, H_s) NCHW (reroll).

typedef struct xt_hiera_train xt_hiera_train;
xt_hiera_train *xt_hiera_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size);
void xt_hiera_train_free(xt_hiera_train *m);
int xt_hiera_train_stages(const xt_hiera_train *m, int *C, int *H);
size_t xt_hiera_train_act_bytes(const xt_hiera_train *m, int B);
size_t xt_hiera_train_scratch_bytes(const xt_hiera_train *m, int B);
int xt_hiera_train_forward(xt_hiera_train *m, const xt_params *P, const float *img, int B, float *const *out,
                           xt_arena *act, const xt_tap *tap, const char *prefix);
int xt_hiera_train_backward(xt_hiera_train *m, xt_params *P, const float *const *dout, float *dimg, xt_arena *scratch);

// ConvNeXt region encoder, trainable (models/convnext_bwd.c): the same interface as Swin's above.
// cfg: ConvNeXt config object (convnext.c keys); parameters under timm's features_only names
// "<prefix>stem_0.*", "stem_1.*", "stages_<s>.downsample.*", "stages_<s>.blocks.<d>.*".

typedef struct xt_convnext_train xt_convnext_train;
xt_convnext_train *xt_convnext_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size);
void xt_convnext_train_free(xt_convnext_train *m);
int xt_convnext_train_stages(const xt_convnext_train *m, int *C, int *H);
int xt_convnext_train_in_chans(const xt_convnext_train *m);
size_t xt_convnext_train_act_bytes(const xt_convnext_train *m, int B);
size_t xt_convnext_train_scratch_bytes(const xt_convnext_train *m, int B);
int xt_convnext_train_forward(xt_convnext_train *m, const xt_params *P, const float *img, int B, float *const *out,
                              xt_arena *act, const xt_tap *tap, const char *prefix);
int xt_convnext_train_backward(xt_convnext_train *m, xt_params *P, const float *const *dout, float *dimg,
                               xt_arena *scratch);

// ---------------------------------------------------------------------------------------------
// Mamba context layers, trainable (models/mamba_bwd.c): xT's Block (LayerNorm, Mamba mixer,
// residual on the normalised stream, even layers reversed) over (N, Lt, D) token sequences.

typedef struct xt_mamba_train xt_mamba_train;
xt_mamba_train *xt_mamba_train_new(xt_params *P, const char *prefix, int D, int n_layers);
void xt_mamba_train_free(xt_mamba_train *m);
void xt_mamba_train_plan(xt_mamba_train *m, int N, int Lt, xt_arena *act); // places activations
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
int xt_xt_train_num_classes(const xt_xt_train *m);
int xt_xt_train_crop(const xt_xt_train *m);
float xt_xt_train_smoothing(const xt_xt_train *m);
int xt_xt_train_in_chans(const xt_xt_train *m); // image channels the region encoder takes
// Arena sizes for a batch (N, C, H, W) of which n_grad regions keep activations.
size_t xt_xt_train_act_bytes(xt_xt_train *m, int N, int H, int W, int n_grad);
size_t xt_xt_train_scratch_bytes(xt_xt_train *m, int N, int H, int W, int n_grad);
// img (N, C, H, W) -> logits (N, K); keep (N*HP*WP regions, row-major per image) selects the
// regions that keep activations and get gradients (NULL: all).
int xt_xt_train_forward(xt_xt_train *m, const xt_params *P, const float *img, int N, int H, int W,
                        const unsigned char *keep, float *logits, xt_arena *act, const xt_tap *tap);
// Backward of the last forward from dlogits (N, K); gradients += into P->g; dimg written if non-NULL.
int xt_xt_train_backward(xt_xt_train *m, xt_params *P, const float *dlogits, float *dimg, xt_arena *scratch);

#endif
