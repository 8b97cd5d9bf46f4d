// verify.h — `xt verify`: run a model file on its input.* tensors and report every tensor it
// computes, to be compared with its expected.* tensors. One registry of config kinds (verify.c)
// dispatches to each model's forward (models/; verify_xt.c for kind "xt") and, for gradient
// files, to verify_grad.c.
#ifndef XT_VERIFY_H
#define XT_VERIFY_H

#include "models/models.h"
#include "run/xview.h"

// One entry per config "kind" ("swin_region", "hiera_region", "convnext_region", "xt").
// verify_run: the model's forward (models.h). grad_and_forward: a gradient file (one holding
// expected.loss) also checks the forward; otherwise a gradient file checks the gradients only.
// final_outputs: names that must be computed for verify to pass.
typedef struct xt_kind {
    const char *name;
    int (*verify_run)(xt_st *st, const xt_json *cfg, const xt_tap *tap);
    int grad_and_forward;
    const char *final_outputs[8];
} xt_kind;

const xt_kind *xt_kind_find(const char *name); // NULL if unknown
// Runs a model file of this kind: gradients (verify_grad.c) when it holds expected.loss, the
// forward (kind->verify_run) otherwise or also. 0 / -1 + error.
int xt_verify_run(const xt_kind *k, xt_st *st, const xt_json *cfg, const xt_tap *tap);

// `xt verify` forward for kind "xt" (verify_xt.c): encoder stages, stitched maps, the context
// run's intermediates and logits, and those of every variant the config asks for.
int xt_xt_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);
// Its part after the encoder: context runs over per-region features feat ((N HP WP), C, h, w) for
// m and for every variant the config asks for; emits through tap. 0 / -1 + error.
int xt__xt_verify_context(xt_st *st, const xt_json *cfg, const xt_xtmodel *m, const float *feat, int N, int HP,
                          int WP, const xt_tap *tap);

// `xt verify` of the xView3 dense model (verify_xview.c).
int xt_xview_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);

// `xt verify` on the golden xView3 post-processing and tiling cases (verify_xview_score.c,
// tests/golden/xview_score README A-B): kinds "postprocessing" and "tiling", whose config
// cmd_verify builds from the file's __metadata__: {"kind", "case", "scene_id", "params"}. Emits
// the maps, labels, owner map, tile inputs, model-call log and det.*; compares the CSV beside the
// file (<case>.csv, postproc also <case>.selim.csv) byte for byte, -1 + error if it differs.
int xt_xview_score_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);
// "<folder of st>/<case><suffix>" into buf; 1 when that file exists (the CSVs the run compares).
int xt_xview_score_csv_path(const xt_st *st, const xt_json *cfg, const char *suffix, char *buf, size_t size);

// The README's fake models (section "Files": float32 functions of the input and a memory scalar
// m; coefficients kc bc rc kv bv mv kf bf cf kl cl rl per model), logging every call as
// [pass, i, j, m_before, m_after] per model.
#define XT_XVIEW_FAKE_COEFS 12
typedef struct xt_xview_fake {
    int n_models, region; // region > 0: context mode, the memory carried from region to region
    float coef[2][XT_XVIEW_FAKE_COEFS];
    float m[2];
    int pass[2];
    float *log[2]; // (nlog, 5) per model
    int nlog[2], cap[2];
} xt_xview_fake;
// From a tiling case's params: the fakes (n_models 1-2, coefs), the tile side *T and overlap
// *ov, and tp's region (context_mode, input_size), order (tiling) and rotate; tp->tta is left to
// the caller. 0 / -1 + error naming the bad field.
int xt_xview_fake_setup(xt_xview_fake *f, const xt_json *params, xt_xview_tiling *tp, int *T, int *ov);
xt_xview_model xt_xview_fake_model(xt_xview_fake *f);
void xt_xview_fake_free(xt_xview_fake *f);

// `xt verify` on gradient files (verify_grad.c): loss, grad.<param>, grad.input.image.
int xt_grad_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);

#endif
