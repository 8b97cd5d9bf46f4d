// registry.c — config "kind" -> model builder/runner used by `xt verify` and the CLI.
#include <string.h>

#include "models.h"

int xt_swin_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);
int xt_hiera_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);
int xt_convnext_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);
int xt_xt_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap);

static const xt_kind kinds[] = {
    {"swin_region", xt_swin_region_verify, {"stage0", "stage1", "stage2", "stage3"}},
    {"hiera_region", xt_hiera_region_verify, {"out"}},
    {"convnext_region", xt_convnext_region_verify, {"stage0", "stage1", "stage2", "stage3"}},
    {"xt", xt_xt_verify, {"logits"}},
};

const xt_kind *xt_kind_find(const char *name) {
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (name && !strcmp(kinds[i].name, name)) return &kinds[i];
    return NULL;
}
