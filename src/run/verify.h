// verify.h — `xt verify`: run a model file on its input.* tensors and report every tensor it
// computes, to be compared with its expected.* tensors. One registry of config kinds (verify.c)
// dispatches to each model's forward (models/; verify_xt.c for kind "xt") and, for gradient
// files, to verify_grad.c.
#ifndef XT_VERIFY_H
#define XT_VERIFY_H

#include "models/models.h"

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

// `xt verify` on gradient files (verify_grad.c): loss, grad.<param>, grad.input.image.
int xt_grad_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);

#endif
