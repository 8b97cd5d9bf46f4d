// verify.c — config "kind" -> the model's `xt verify` run (forward, gradients or both).
#include <string.h>

#include "run/verify.h"

static const xt_kind kinds[] = {
    {"swin_region", xt_swin_region_verify, 0, {"stage0", "stage1", "stage2", "stage3"}},
    {"hiera_region", xt_hiera_region_verify, 0, {"out"}},
    {"convnext_region", xt_convnext_region_verify, 0, {"stage0", "stage1", "stage2", "stage3"}},
    {"xt", xt_xt_verify, 1, {"logits"}},
    {"xview", xt_xview_verify, 0, {"out.vessel_mask", "out.fishing_mask", "out.center_mask", "out.length_mask"}},
    // the xView3 scoring cases (config built from the file's metadata by cmd_verify)
    {"postprocessing", xt_xview_score_verify, 0, {"labels", "det.row"}},
    {"tiling", xt_xview_score_verify, 0, {"owner", "calls", "labels", "det.row"}},
};

const xt_kind *xt_kind_find(const char *name) {
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (name && !strcmp(kinds[i].name, name)) return &kinds[i];
    return NULL;
}

int xt_verify_run(const xt_kind *k, xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    if (xt_st_find(st, "expected.loss")) {
        if (xt_grad_verify(st, cfg, tap)) return -1;
        if (!k->grad_and_forward) return 0;
    }
    return k->verify_run(st, cfg, tap);
}
