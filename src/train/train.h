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
// xView3 dense model loss (xview_loss.c): total = w[0] Combo(vessel) + w[1] Combo(fishing) +
// w[2] Center + w[3] Length over the four (B, 1, H, W) maps (order of xt_xview_map_names);
// Combo = combo[0] BCE + combo[1] Focal + combo[2] Dice. Official weights: xt_xview_loss_official.
typedef struct xt_xview_loss_cfg {
    float w[4], combo[3];
} xt_xview_loss_cfg;
extern const xt_xview_loss_cfg xt_xview_loss_official; // {1, 2, 3e-7, 2}, {1, 3, 1}
typedef struct xt_xview_loss_terms {
    double combo[2], parts[2][3]; // Combo(vessel), Combo(fishing); their (bce, focal, dice)
    double center, length, total;
} xt_xview_loss_terms;
// out/tgt: four maps of n = B*H*W floats; dout (may be NULL): four maps written with d total / d out.
// c NULL: official. Returns the total (NaN per bug 22 when a Length target has only zeros).
double xt_xview_loss(const xt_xview_loss_cfg *c, const float *const *out, const float *const *tgt, size_t n,
                     float *const *dout, xt_xview_loss_terms *terms);

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
// Sample i as a normalised (C, S, S) image through d->opts.transform; augment: random window
// (CENTER) + horizontal flip drawn from aug.
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
    double steps, epochs, stop_after;    // steps <= 0 (default -1): epochs x ceil(n / batch) (xview: steps 0 is 0 steps); stop_after < 0: none
    double lr, min_lr_ratio, wd, clip, grad_ratio, seed;
    double warmup_epochs;                // the official optimizer.warmup_epochs: adds epochs x steps per epoch to warmup
    xt_optim_cfg optim;                  // optimizer, momentum, nesterov, betas, eps (its weight_decay: wd)
    double classifier_ratio;             // lr x this for the classifier group (xt_optim_is_classifier): official 1
    double freeze_epochs;                // the region encoder (encoder.*) gets no update for this many epochs of steps
    int val_every;                       // validate on val every N steps (0: no)
    double val_every_epochs;             // ... and/or every N epochs of steps (official train.test_every; 0: no)
    const char *metrics_path, *plot_path; // metrics log (JSON Lines) / PNG of its curves (NULL or "": none;
                                         // xt train: OUT.metrics.jsonl / OUT.curves.png); outputs, like out,
                                         // so not part of train_state
    xt_data_opts dopt;                   // normalisation, transform, iNat filter / label map (data and val)
    void (*progress)(void *u, int64_t step, int64_t total, double loss, double lr, double sec_per_step);
    void *progress_u;
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
// Metrics log: drop the lines of steps after `step` (a resumed run continues the log). 0 / -1.
int xt_metrics_log_truncate(const char *path, int64_t step);
// PNG (w x h) of a metrics log's curves: training loss, and validation top-1 / top-5, vs step.
int xt_train_plot(const char *jsonl, const char *png, int w, int h);
// Validation metrics of a model on a dataset (transform as xt_train_evaluate).
int xt_train_validate(xt_xt_train *m, const xt_params *P, const xt_dataset *d, int img_size, int batch, xt_val_metrics *out);

// Top-1 / top-5 of a model on a dataset (centre crops); confusion (K x K, may be NULL) +=.
int xt_train_evaluate(xt_xt_train *m, const xt_params *P, const xt_dataset *d, const char *root, int img_size,
                      int batch, double *top1, double *top5, int64_t *confusion,
                      void (*progress)(void *u, int64_t done, int64_t total, double, double, double), void *u);

#endif
