// train.h — training: a flat parameter set with gradients, loss, optimiser, schedule, and the
// trainable models (region encoder + heads) with a training forward that keeps activations and
// a backward that fills gradients.
//
// Memory: parameters, gradients and AdamW moments are four flat float arrays of the same layout
// (one block per parameter, official state_dict names and order). Activations of one training
// forward live in one arena sized by a measure pass over the same allocation code; backward
// scratch in a second arena, sized the same way. Nothing is allocated per step.
#ifndef XT_TRAIN_H
#define XT_TRAIN_H

#include "core/core.h"

// ---------------------------------------------------------------------------------------------
// parameter set (params.c)

typedef struct {
    char name[160];
    int ndim;
    int64_t shape[4];
    size_t off, n; // offset into w/g/m/v (floats, 16-float aligned), element count
    int decay;     // AdamW weight decay applies (official: names without "bias")
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

// ---------------------------------------------------------------------------------------------
// loss, optimiser, schedule (loss.c, adamw.c, schedule.c)

// timm LabelSmoothingCrossEntropy: mean_b[(1-s)(-log p[label]) + s mean_c(-log p_c)].
// dlogits (B, K) written (may be NULL). Returns the loss; labels outside [0, K) are a bug (assert).
double xt_lsce_loss(float *dlogits, const float *logits, const int *label, int B, int K, float smoothing);

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} xt_adamw_cfg;
// One torch.optim.AdamW step over all parameters (decoupled decay only where P->p[i].decay).
void xt_adamw_step(xt_params *P, const xt_adamw_cfg *c);
// torch.nn.utils.clip_grad_norm_: returns the global L2 norm before clipping; scales the
// gradients by max_norm / (norm + 1e-6) when norm > max_norm (max_norm <= 0: no clipping).
double xt_clip_grad_norm(xt_params *P, double max_norm);
// lr at step s (0-based): linear warm-up from 0 over `warmup` steps (GradualWarmupScheduler,
// multiplier 1), then cosine annealing from base to base*min_ratio over `total` steps
// (CosineAnnealingLR(T_max = total) started at the end of warm-up), as the official trainer.
double xt_lr_at(int64_t s, double base, double min_ratio, int64_t warmup, int64_t total);

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

// ---------------------------------------------------------------------------------------------
// data (data.c), deterministic randomness, initialisation and checkpoints (checkpoint.c)

uint64_t xt_rng_mix(uint64_t z);     // splitmix64 finaliser
double xt_rng_u01(uint64_t *state);  // uniform [0, 1)
double xt_rng_normal(uint64_t *state);

typedef struct {
    int n, n_classes;
    char **paths;
    int *labels;
    int synth;         // generated task "synth:N[:seed]"
    uint64_t seed;
} xt_dataset;

// spec: a CSV file (`path,label` lines; an optional header; paths relative to the CSV's folder
// or root), an iNaturalist 2018 JSON (*.json), or "synth:N[:seed]".
int xt_dataset_open(xt_dataset *d, const char *spec, const char *root);
void xt_dataset_free(xt_dataset *d);
int xt_dataset_label(const xt_dataset *d, int i, int crop, int S);
// Sample i as a normalised (C, S, S) image; augment: random crop + horizontal flip drawn from aug.
int xt_dataset_load(const xt_dataset *d, int i, float *img, int C, int S, int crop, uint64_t aug, int augment,
                    int *label);

// Fresh weights: >= 2-D N(0, 1/fan_in); norm weights 1; biases 0; Swin logit_scale log 10;
// cls_token and (Hiera) pos_embed N(0, 0.02^2); ConvNeXt layer scale gamma 1e-6 (timm); Mamba A_log = log(1..d_state), D = 1, dt_proj.bias = softplus^-1(dt),
// dt log-uniform in [1e-3, 1e-1] (mamba_simple's init).
void xt_params_init(xt_params *P, uint64_t seed);

// Checkpoint = model file: every parameter under its name, metadata "config" (the model config)
// and "train_state" (JSON); with optim != 0 also AdamW moments as optim.exp_avg.<name> /
// optim.exp_avg_sq.<name> and the step. Written atomically (tmp, fsync, rename).
int xt_train_ckpt_save(const xt_params *P, const char *path, const char *config_json, const char *train_state, int optim);
// Loads weights (and, when present and optim != 0, moments + step) from an open model file.
int xt_train_ckpt_load(xt_params *P, xt_st *st, int optim);

// What a partial --init loaded (xt_params_load_partial).
typedef struct {
    int loaded, fresh;      // parameters taken from the file / left at their fresh initialisation
    char fresh_groups[256]; // their name groups, e.g. "decoder.layers, decoder.cls" ("..." if cut)
} xt_init_report;

// --init from a model file that may hold only some of the parameters (e.g. an ImageNet-pretrained
// region encoder made by `xt convert --from ...`): parameters present are copied (same shape, else
// an error naming both), the others keep their current (fresh) values. A region-encoder file
// (config kind swin_region, hiera_region or convnext_region; names under its "weight_prefix", default
// "model.", for convnext_region none) provides the
// encoder: its names map to encoder.model.*. A weight the model does not have is an error;
// input.* / expected.* / optim.* tensors are ignored.
int xt_params_load_partial(xt_params *P, xt_st *st, xt_init_report *rep);

// ---------------------------------------------------------------------------------------------
// the training loop and evaluation (trainer.c)

typedef struct {
    const char *data, *val, *root, *out; // data specs (see xt_dataset_open); checkpoint path
    const char *export_path;             // also write a weights-only model file at the end (NULL: no)
    int img_size, batch, augment, warmup, save_every;
    double steps, epochs, stop_after;    // steps 0: epochs x ceil(n / batch); stop_after < 0: none
    double lr, min_lr_ratio, wd, clip, grad_ratio, seed;
    void (*progress)(void *u, int64_t step, int64_t total, double loss, double lr, double sec_per_step);
    void *progress_u;
} xt_train_opts;

typedef struct {
    int64_t step;
    double last_loss, top1, top5;
    int evaluated, n_val;
    xt_init_report init;    // from a model file without resume: what was loaded
} xt_train_result;

void xt_train_opts_default(xt_train_opts *o);
int xt_train_opts_parse(const xt_json *j, xt_train_opts *o); // numeric/bool fields of a "train" object
// Trains the xT model of model_cfg: from fresh weights (from == NULL), from a model file's weights
// (resume 0), or continuing a checkpoint exactly (resume 1: weights, moments, step; o must hold
// the checkpoint's options). Checkpoints to o->out.
int xt_train_run(const xt_json *model_cfg, xt_st *from, int resume, const xt_train_opts *o, xt_train_result *res);

// Top-1 / top-5 of a model on a dataset (centre crops); confusion (K x K, may be NULL) +=.
int xt_train_evaluate(xt_xt_train *m, const xt_params *P, const xt_dataset *d, const char *root, int img_size,
                      int batch, double *top1, double *top5, int64_t *confusion,
                      void (*progress)(void *u, int64_t done, int64_t total, double, double, double), void *u);

// ---------------------------------------------------------------------------------------------
// `xt verify` on gradient files (train/verify_grad.c): loss, grad.<param>, grad.input.image.
// Called by a kind's verify_run when the file holds expected.loss.
int xt_grad_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);

#endif
