// train.h — training: loss, optimiser, schedule, data, checkpoints and the training loop, over
// the trainable models of models/trainable.h and the parameter set of nn/params.h.
//
// Memory: parameters, gradients and AdamW moments are four flat float arrays of the same layout
// (one block per parameter, official state_dict names and order). Activations of one training
// forward live in one arena, backward scratch in a second, both sized up front by pure functions
// of the model and the batch (models/trainable.h) and allocated once: a step allocates nothing.
#ifndef XT_TRAIN_H
#define XT_TRAIN_H

#include "models/trainable.h"
#include "formats/raster.h"
#include "formats/resize.h"

// ---------------------------------------------------------------------------------------------
// loss, optimiser, schedule (loss.c, optim.c, schedule.c)

// timm LabelSmoothingCrossEntropy: mean_b[(1-s)(-log p[label]) + s mean_c(-log p_c)].
// dlogits (B, K) written (may be NULL). Returns the loss; labels outside [0, K) are a bug (assert).
double xt_lsce_loss(float *dlogits, const float *logits, const int *label, int B, int K, float smoothing);
// timm SoftTargetCrossEntropy: mean_b sum_k -t[b,k] log_softmax(x[b])_k; dlogits (may be NULL)
// = (p sum_k t - t) / B. The loss of Mixup / CutMix.
double xt_soft_ce_loss(float *dlogits, const float *logits, const float *target, int B, int K);
// xView3 dense model loss (xview_loss.c): total = w[0] Combo(vessel) + w[1] Combo(fishing) +
// w[2] Center + w[3] Length over the four (B, 1, H, W) maps (order of xt_xview_map_names);
// Combo = combo[m][0] BCE + combo[m][1] Focal + combo[m][2] Dice for the vessel (m 0) and fishing
// (m 1) masks (each official loss term has its own params.weights; the *_xl_* yaml give both the
// same). Official weights: xt_xview_loss_official.
typedef struct xt_xview_loss_cfg {
    float w[4], combo[2][3];
    // Not official (0 there): the fishing target is 255 (ignored) outside the vessel discs, so the
    // fishing term is about the vessels only (docs/detection.md, sixth attempt). The targets are
    // masked where they are painted (xview_train.c load_crop); xt_xview_loss only turns the
    // then-empty term of a crop without vessels into 0 instead of the official NaN.
    int fishing_on_vessels;
} xt_xview_loss_cfg;
extern const xt_xview_loss_cfg xt_xview_loss_official; // {1, 2, 3e-7, 2}, {1, 3, 1} for both masks
typedef struct xt_xview_loss_terms {
    double combo[2], parts[2][3]; // Combo(vessel), Combo(fishing); their (bce, focal, dice)
    double center, length, total;
} xt_xview_loss_terms;
// out/tgt: four maps of n = B*H*W floats; dout (may be NULL): four maps written with d total / d out.
// c NULL: official. Returns the total (NaN per bug 22 when a Length target has only zeros).
double xt_xview_loss(const xt_xview_loss_cfg *c, const float *const *out, const float *const *tgt, size_t n,
                     float *const *dout, xt_xview_loss_terms *terms);
// One Combo's weights from a JSON object {"bce", "focal", "dice"} (what names it in errors): absent
// keys keep k's values; each must be in [0, 1e6]. 0 / -1 + error.
int xt_xview_combo_parse(const xt_json *j, const char *what, float k[3]);

// xView3 training targets (xview_targets.c), painted as the official XviewDataset paints them:
// one labelled point (scene pixel row/col; NaN = unknown class or length).
typedef struct xt_xview_point {
    int64_t row, col;
    double is_vessel, is_fishing, length;
} xt_xview_point;
// tgt: the four (H, W) maps in xt_xview_map_names order (vessel, fishing, center x 255, length),
// for the crop whose top-left scene pixel is (y0, x0); points strictly inside it are painted in
// order (golden README "xView3 dense prediction files", targets).
void xt_xview_paint_targets(float *const *tgt, int H, int W, int64_t y0, int64_t x0, const xt_xview_point *pts,
                            int64_t n);
// OpenCV's filled-circle rows: hw[d], d = 0..r, the half-width of the row d from the centre.
void xt_xview_disc_halfwidth(int r, int *hw);
// torch.rot90(x, 2, dims=(1, 2)) in place on (C, H, W).
void xt_xview_rot180(float *x, int C, int H, int W);

// The official trainer's optimisers (xt/optimizer.py create_optimizer; optim.c), torch.optim
// semantics: SGD (dampening 0; weight decay added to the gradient), Adam (L2 added to the
// gradient), AdamW (decoupled: w *= 1 - lr wd). Weight decay only where P->p[i].decay.
typedef enum { XT_OPTIM_SGD, XT_OPTIM_ADAM, XT_OPTIM_ADAMW, XT_OPTIM_COUNT } xt_optim_kind;
typedef struct {
    xt_optim_kind kind;
    double momentum;          // SGD (0: none)
    int nesterov;             // SGD; needs momentum > 0
    double beta1, beta2, eps; // Adam, AdamW
    double weight_decay;
} xt_optim_cfg;
void xt_optim_default(xt_optim_cfg *c);                  // adamw, betas 0.9/0.999, eps 1e-8, momentum 0.9 nesterov, wd 1e-4
int xt_optim_check(const xt_optim_cfg *c);               // 0 / -1 + error naming the bad value
int xt_optim_parse_name(const char *s, xt_optim_kind *k); // "sgd" | "adam" | "adamw" (any case); -1 + error
const char *xt_optim_name(xt_optim_kind k);
// classifier_ratio's groups (official rule): 1 unless the name contains "backbone" (none of xT's do)
int xt_optim_is_classifier(const char *name);
// One optimiser step: parameter i at learning rate lr[i] (lr NULL: lr_all), except where skip[i]
// (skip may be NULL): a skipped parameter is left alone as torch leaves one whose .grad is None.
// P->step counts calls, P->p[i].step each parameter's own updates (its bias correction / first
// momentum step).
void xt_optim_step(xt_params *P, const xt_optim_cfg *c, const double *lr, double lr_all, const unsigned char *skip);

typedef struct {
    float lr, beta1, beta2, eps, weight_decay;
} xt_adamw_cfg;
// One torch.optim.AdamW step over all parameters (xt_optim_step with AdamW, one lr).
void xt_adamw_step(xt_params *P, const xt_adamw_cfg *c);
// torch.nn.utils.clip_grad_norm_: returns the global L2 norm before clipping; scales the
// gradients by max_norm / (norm + 1e-6) when norm > max_norm (max_norm <= 0: no clipping).
double xt_clip_grad_norm(xt_params *P, double max_norm);
// The same over the parameters with !skip[i] (skip NULL: all): frozen ones have no gradient.
double xt_clip_grad_norm_skip(xt_params *P, double max_norm, const unsigned char *skip);
// lr at step s (0-based): linear warm-up from 0 over `warmup` steps (GradualWarmupScheduler,
// multiplier 1), then cosine annealing from base to base*min_ratio over `total` steps
// (CosineAnnealingLR(T_max = total) started at the end of warm-up), as the official trainer.
double xt_lr_at(int64_t s, double base, double min_ratio, int64_t warmup, int64_t total);
// The same with an absolute floor: a classifier_ratio group warms up to and anneals from its own
// base (lr * ratio) towards the one eta_min = lr * min_lr_ratio the official scheduler shares.
double xt_lr_at_eta(int64_t s, double base, double eta_min, int64_t warmup, int64_t total);

// ---------------------------------------------------------------------------------------------
// data (data.c), deterministic randomness, initialisation and checkpoints (checkpoint.c)

uint64_t xt_rng_mix(uint64_t z);     // splitmix64 finaliser
double xt_rng_u01(uint64_t *state);  // uniform [0, 1)
double xt_rng_normal(uint64_t *state);

// How an image becomes the S x S model input (docs/training.md, "Data"):
//   CENTER       the centre S x S window, zero-padded when smaller; training: a random window + flip
//   RESIZE       the official evaluation transform with test_crop false: Resize((S, S))
//   RESIZE_CROP  test_crop true: Resize(S) (shorter side) + CenterCrop(S)
// (the resize ones train on the same resized image + a random horizontal flip)
typedef enum { XT_TF_CENTER, XT_TF_RESIZE, XT_TF_RESIZE_CROP, XT_TF_COUNT } xt_transform;

// ---------------------------------------------------------------------------------------------
// training augmentation (augment.c): timm create_transform(is_training=True) as the official
// recipes call it — RandomResizedCrop, flip, RandAugment or else ColorJitter (timm applies the
// jitter only without auto_augment), RandomErasing after normalisation — and timm Mixup / CutMix.

typedef enum { XT_RE_PIXEL, XT_RE_RAND, XT_RE_CONST, XT_RE_COUNT } xt_re_mode; // timm RandomErasing modes
// timm auto_augment.py _RAND_TRANSFORMS (with inc1 the *Increasing variants of Posterize,
// Solarize, Color, Contrast, Brightness, Sharpness)
typedef enum {
    XT_RA_AUTOCONTRAST, XT_RA_EQUALIZE, XT_RA_INVERT, XT_RA_ROTATE, XT_RA_POSTERIZE, XT_RA_SOLARIZE, XT_RA_SOLARIZE_ADD,
    XT_RA_COLOR, XT_RA_CONTRAST, XT_RA_BRIGHTNESS, XT_RA_SHARPNESS, XT_RA_SHEAR_X, XT_RA_SHEAR_Y, XT_RA_TRANSLATE_X,
    XT_RA_TRANSLATE_Y, XT_RA_COUNT
} xt_ra_op;

typedef struct xt_aug_opts {
    int rrc;                      // training crop: RandomResizedCrop(S, scale, ratio) of the whole image
    double scale[2], ratio[2];    // default (0.08, 1), (3/4, 4/3)
    double hflip;                 // flip probability (default 0.5)
    double jitter[4];             // ColorJitter brightness, contrast, saturation, hue (0: off; only without RandAugment)
    char auto_augment[64];        // "" or "rand-m9-mstd0.5-inc1" style; parsed into:
    int ra_n, ra_inc;             // layers (0: off), increasing variants
    double ra_m, ra_mstd, ra_prob; // magnitude, its std (inf: uniform [0, m]), per-op probability
    double ra_mmax;               // magnitude upper bound (timm magnitude_max; 10)
    double reprob;                // RandomErasing probability (0: off)
    int remode, recount;          // xt_re_mode, max boxes
} xt_aug_opts;

// timm Mixup modes: one lam / box per batch, per pair (b, N-1-b), or per sample
typedef enum { XT_MIX_BATCH, XT_MIX_PAIR, XT_MIX_ELEM, XT_MIX_COUNT } xt_mix_mode;

typedef struct xt_mixup_opts {
    double mixup_alpha, cutmix_alpha; // Beta(alpha, alpha); 0: off
    int has_minmax;                   // cutmix_minmax given (forces cutmix, alpha 1, as timm)
    double minmax[2];
    double prob, switch_prob;         // timm Mixup prob / switch_prob (defaults 1, 0.5)
    int mode;                         // xt_mix_mode
} xt_mixup_opts;

double xt_rng_beta(uint64_t *state, double a, double b);
// RandomResizedCrop.get_params on an H x W image: box = (top i, left j, h, w)
void xt_rrc_params(uint64_t *rng, int H, int W, const double scale[2], const double ratio[2], int box[4]);
// PIL's 8-bit ops on planar (C, H, W) uint8 (C = 3 where a conversion to L is involved)
void xt_adjust_brightness(uint8_t *img, int C, int H, int W, double factor); // ImageEnhance.Brightness
void xt_adjust_contrast(uint8_t *img, int H, int W, double factor);          // ImageEnhance.Contrast
void xt_adjust_saturation(uint8_t *img, int H, int W, double factor);        // ImageEnhance.Color
void xt_adjust_sharpness(uint8_t *img, uint8_t *tmp, int C, int H, int W, double factor);
void xt_autocontrast(uint8_t *img, int C, int H, int W);
void xt_equalize(uint8_t *img, int C, int H, int W);
// Image.transform(AFFINE, a, BILINEAR, fillcolor=fill); out and in distinct
void xt_affine_u8(uint8_t *out, const uint8_t *in, int C, int H, int W, const double a[6], const uint8_t *fill);
const char *xt_ra_op_name(xt_ra_op op); // timm's names ("ShearX", ...)
// one RandAugment op with its PIL argument (degrees, bits, threshold, factor, shear, fraction of
// the size); tmp holds C*H*W bytes
void xt_ra_apply(uint8_t *img, uint8_t *tmp, int C, int H, int W, xt_ra_op op, double arg, const uint8_t *fill);
// timm's level_to_arg at magnitude mag (0..10); neg: the random negation drawn
double xt_ra_level_arg(xt_ra_op op, double mag, int increasing, int neg);
int xt_aug_parse_auto_augment(const char *s, xt_aug_opts *o); // 0 / -1 + error
void xt_randaugment(uint8_t *img, uint8_t *tmp, int C, int H, int W, const xt_aug_opts *o, const uint8_t *fill, uint64_t *rng);
void xt_adjust_hue(uint8_t *img, int H, int W, double hue);                 // torchvision F.adjust_hue (PIL), hue in [-0.5, 0.5]
void xt_color_jitter(uint8_t *img, int H, int W, const double jitter[4], uint64_t *rng);
void xt_random_erasing(float *img, int C, int H, int W, const xt_aug_opts *o, uint64_t *rng);
// Mixup / CutMix per batch: sample b mixes with sample N-1-b (timm's x.flip(0))
int xt_mixup_active(const xt_mixup_opts *o);
int xt_mixup_check(const xt_mixup_opts *o); // 0 / -1 + error naming the bad value
const char *xt_mix_mode_name(int mode);     // "batch", "pair", "elem"
int xt_mix_mode_parse(const char *s, int *mode); // 0 / -1 + error
// lam (1: no mixing), cut (CutMix), box = (yl, yh, xl, xh) with lam corrected to the box: one
// draw of the batch (mode batch), of a pair or of a sample (lam in float32 there, as timm's)
void xt_mixup_draw(const xt_mixup_opts *o, int H, int W, uint64_t *rng, double *lam, int *cut, int box[4]);
void xt_cutmix_box(int H, int W, double lam, int cy, int cx, int box[4]); // timm rand_bbox at a centre
double xt_cutmix_lam(int H, int W, const int box[4]);
// x (n, C, H, W) mixed in place with partner (n, C, H, W): the partners' images of the samples,
// all with one draw (pair / elem modes: called per sample)
void xt_mixup_apply(float *x, const float *partner, int n, int C, int H, int W, double lam, int cut, const int box[4]);
// soft targets (n, K): timm mixup_target with label smoothing
void xt_mixup_target(float *t, const int *label, const int *partner, int n, int K, double lam, double smoothing);

typedef struct xt_data_opts {
    int n_norm;            // bands with mean / std given; 0: ImageNet for 3 bands, 0.5 / 0.25 otherwise
    double mean[XT_NORM_MAX_BANDS], std[XT_NORM_MAX_BANDS];
    double scale;          // raw sample to ~[0, 1] before mean / std; 0: the sample type's (1/255 for u8)
    int has_nodata;        // pixels equal to nodata (any band) become 0 after normalisation
    double nodata;
    xt_transform transform;
    xt_interp interp;      // of the resize transforms
    char categories[1024]; // iNat: a categories file (id, supercategory); "": the annotation file's own
    char label_map[1024];  // iNat: {"category_id": label} JSON; "": see xt_dataset_open
    char supercats[1024];  // iNat: supercategories kept, '\n'-separated; "": all
    xt_aug_opts aug;       // training augmentation (used when augmenting)
} xt_data_opts;

void xt_data_opts_default(xt_data_opts *o);
// The data keys of a "train" object: mean, std, scale, nodata, transform, interpolation,
// categories, label_map, supercategories. 0 / -1 + error naming the key.
int xt_data_opts_parse(const xt_json *j, xt_data_opts *o);
// The same keys as JSON members (", \"mean\": [...], ..."), for checkpoints' train_state.
void xt_data_opts_json(xt_sbuf *b, const xt_data_opts *o);

typedef struct {
    int n, n_classes;
    char **paths;
    int *labels;
    int synth;         // generated task "synth:N[:seed]"
    uint64_t seed;
    xt_data_opts opts;
} xt_dataset;

// spec: a CSV file (`path,label` lines; an optional header; paths relative to the CSV's folder
// or root), an iNaturalist 2018 JSON (*.json), or "synth:N[:seed]". opts: NULL for the defaults.
// iNat labels: opts->label_map's label of each category_id (a category missing from the map is
// an error); without a map the raw category_id, or with a supercategory filter the rank of the
// category id among the kept categories (the same numbering for train and val).
int xt_dataset_open(xt_dataset *d, const char *spec, const char *root, const xt_data_opts *opts);
void xt_dataset_free(xt_dataset *d);
int xt_dataset_label(const xt_dataset *d, int i, int crop, int S);
// Sample i as a normalised (C, S, S) image through d->opts.transform; augment: the training
// transform of d->opts.aug (random window (CENTER) or RandomResizedCrop, flip, RandAugment or
// ColorJitter, RandomErasing), every draw from aug.
// The augmentation options against the model's bands and the transform: 0 / -1 + error.
int xt_aug_check(const xt_data_opts *o, int C);
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
    int skipped;            // tensors of the file the model does not have (e.g. another head's)
    char skipped_names[400]; // the first three of them and the count of the rest: "'a', 'b', 'c' ... 3 more"
} xt_init_report;

// --init from a model file that may hold only some of the parameters (e.g. an ImageNet-pretrained
// region encoder made by `xt convert --from ...`, or an xT checkpoint with another head): parameters
// present are copied (same shape, else an error naming both; F16 / BF16 are widened), the others
// keep their current (fresh) values. A region-encoder file (config kind swin_region, hiera_region
// or convnext_region; names under its "weight_prefix", default "model.", for convnext_region none)
// provides the encoder: its names map to encoder.model.*. Tensors the model does not have are
// skipped (counted in rep->skipped), except under encoder.model.: a region-encoder weight with no
// place in the configured encoder means the two disagree (depths), an error. A file sharing no
// tensor with the model is an error too; input.* / expected.* / optim.* tensors are ignored.
int xt_params_load_partial(xt_params *P, xt_st *st, xt_init_report *rep);

// ---------------------------------------------------------------------------------------------
// the training loop and evaluation (trainer.c)

typedef struct {
    const char *data, *val, *root, *out; // data specs (see xt_dataset_open); checkpoint path
    const char *export_path;             // also write a weights-only model file at the end (NULL: no)
    int img_size, batch, augment, warmup, save_every;
    double steps, epochs, stop_after;    // steps <= 0 (default -1): epochs x ceil(n / batch) (xview: steps 0 is 0 steps); stop_after < 0: none
    double lr, min_lr_ratio, wd, clip, grad_ratio, seed;
    double warmup_epochs;                // the official optimizer.warmup_epochs: adds epochs x steps per epoch to warmup
    xt_optim_cfg optim;                  // optimizer, momentum, nesterov, betas, eps (its weight_decay: wd)
    double classifier_ratio;             // lr x this for the classifier group (xt_optim_is_classifier): official 1
    double context_lr_ratio;             // xview: lr x this for context_model.* (not official; 1)
    int context_identity;                // xview, from scratch: context_model.out_proj starts at zero, the context
                                         // block the identity (1, not official) or at the fresh init like every weight (0)
    double freeze_epochs;                // the region encoder (encoder.*) gets no update for this many epochs of steps
    int val_every;                       // validate on val every N steps (0: no)
    double val_every_epochs;             // ... and/or every N epochs of steps (official train.test_every; 0: no)
    const char *metrics_path, *plot_path; // metrics log (JSON Lines) / PNG of its curves (NULL or "": none;
                                         // xt train: OUT.metrics.jsonl / OUT.curves.png); outputs, like out,
                                         // so not part of train_state
    xt_data_opts dopt;                   // normalisation, transform, iNat filter / label map (data and val)
    xt_mixup_opts mix;                   // Mixup / CutMix per batch (off by default)
    void (*progress)(void *u, int64_t step, int64_t total, double loss, double lr, double sec_per_step);
    void *progress_u;
    // called once a model file (--init, not resume) is loaded, before training: the library does
    // not print, the caller may (e.g. the tensors skipped) without waiting for the end (NULL: none)
    void (*on_init)(const char *path, const xt_init_report *r);
} xt_train_opts;

typedef struct {
    int64_t step;
    double last_loss, top1, top5, precision, recall; // the last validation
    int evaluated, n_val, n_validations;              // validations this run (periodic + final)
    xt_init_report init;    // from a model file without resume: what was loaded
    int ranks;              // processes that trained (mpirun; 1 alone)
    uint64_t weights_hash;  // FNV-1a 64 of the final weights (equal on every rank, checked)
    double train_seconds, comm_seconds; // this run's steps; of which in gradient allreduce
} xt_train_result;

void xt_train_opts_default(xt_train_opts *o);
int xt_train_opts_parse(const xt_json *j, xt_train_opts *o); // numeric/bool fields of a "train" object
// Trains the xT model of model_cfg: from fresh weights (from == NULL), from a model file's weights
// (resume 0), or continuing a checkpoint exactly (resume 1: weights, moments, step; o must hold
// the checkpoint's options). Checkpoints to o->out.
int xt_train_run(const xt_json *model_cfg, xt_st *from, int resume, const xt_train_opts *o, xt_train_result *res);

// Validation metrics (metrics.c), as the official ClsEvaluator (torchmetrics): top-1 / top-5
// accuracy over all images, macro precision / recall over the classes (xt_metrics_macro).
#define XT_VAL_METRICS 4
typedef struct {
    int64_t n; // images
    double top1, top5, precision, recall;
} xt_val_metrics;
extern const char *const xt_val_metric_names[XT_VAL_METRICS]; // "top1", "top5", "precision", "recall"
double xt_val_metric(const xt_val_metrics *m, int k);           // by index of xt_val_metric_names
// Macro precision / recall from per-class counts (K classes): per class tp / (tp + fp) and
// tp / (tp + fn), 0 when the denominator is 0; averaged over the classes with tp + fp + fn > 0
// (torchmetrics' rule: a class absent from the labels and never predicted does not count).
void xt_metrics_macro(const int64_t *tp, const int64_t *fp, const int64_t *fn, int K, double *precision, double *recall);
// n, top1, precision, recall from a confusion matrix (K, K), rows the true class (top5 untouched).
void xt_metrics_from_confusion(const int64_t *conf, int K, xt_val_metrics *m);
// Metrics log, opened for appending: a fresh run starts it empty; a resumed run (at `step`) keeps
// the lines of steps <= step and continues it. NULL with the error set (`who` names the caller).
FILE *xt_metrics_log_open(const char *path, int resume, int64_t step, const char *who);
// PNG (w x h) of a metrics log's curves: training loss, and validation top-1 / top-5, vs step.
int xt_train_plot(const char *jsonl, const char *png, int w, int h);
// Validation metrics of a model on a dataset (transform as xt_train_evaluate).
int xt_train_validate(xt_xt_train *m, const xt_params *P, const xt_dataset *d, int img_size, int batch, xt_val_metrics *out);

// Top-1 / top-5 of a model on a dataset (centre crops); confusion (K x K, may be NULL) +=.
int xt_train_evaluate(xt_xt_train *m, const xt_params *P, const xt_dataset *d, const char *root, int img_size,
                      int batch, double *top1, double *top5, int64_t *confusion,
                      void (*progress)(void *u, int64_t done, int64_t total, double, double, double), void *u);

#endif
