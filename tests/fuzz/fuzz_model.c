// fuzz_model.c — libFuzzer target for the model builders (src/models/*.c), not part of
// `make test`.
//
// Weights stay valid, configs are hostile: the input is one selector byte and a config JSON. The
// selector picks one of the small golden model files (mmap'd once, read-only) and a mode:
//   - build: the builder for the config's kind (xt_xtmodel_new, xt_backbone_new or the region
//     builder, with the config's own image size), then what callers size from the result
//     (workspace, context run begin) and the config-only helpers (param counts, preset resolve);
//   - run: the kind's whole `xt verify` run (build + forward on the file's input.*), only where
//     the config's crop size is small (a valid 16384-pixel crop is slow, not a bug).
// Absurd values (huge depths/sizes, zero or negative dims, window 0, heads not dividing widths)
// must give an error; libFuzzer's -malloc_limit_mb catches builders that allocate absurdly.
// Needs tests/golden (or XT_GOLDEN; run from the repository root). Build and run: make fuzz && tests/fuzz/run.sh model 300
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/ctx.h"
#include "run/verify.h"

const char *xt_error_buffer(void);

static const char *files[] = {"xt_cls_mamba", "xt_cls_hyper", "xt_cls_xl_incontext", "xt_cls_naive",
                              "hiera_region", "convnext_region", "swinv2_region_256"};
#define NF (int)(sizeof files / sizeof *files)
static xt_st *sts[NF];

static void tap_fn(void *u, const char *path, const float *x, const int64_t *shape, int ndim) {}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    const char *dir = getenv("XT_GOLDEN") ? getenv("XT_GOLDEN") : "tests/golden";
    for (int i = 0; i < NF; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s.safetensors", dir, files[i]);
        if (!(sts[i] = xt_st_open(p))) {
            fprintf(stderr, "fuzz_model: %s\n", xt_error_buffer());
            exit(1);
        }
    }
    return 0;
}

static int cfg_int(const xt_json *cfg, const char *k, int def) {
    int v = def;
    if (xt_json_int(cfg, k, def, &v)) return def;
    return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2 || size > 8192) return 0;
    int fi = (data[0] & 15) % NF, run = (data[0] >> 4) & 1;
    xt_st *st = sts[fi];
    xt_json *cfg = xt_json_parse((const char *)data + 1, size - 1, "fuzz config");
    if (!cfg || cfg->type != XT_JSON_OBJ) goto out;
    const char *kname = xt_json_str(cfg, "kind", NULL);
    const xt_kind *kind = xt_kind_find(kname);
    int64_t np;
    // config-only helpers first (their errors are expected on most configs)
    (void)xt_backbone_param_count(cfg, cfg_int(cfg, "image_size", 0), cfg_int(cfg, "num_classes", -1) % 2000, &np);
    xt_json_free(xt_backbone_resolve(cfg));
    xt_error_clear();
    if (kind && !strcmp(kind->name, "xt")) {
        if (run && cfg_int(cfg, "crop_size", 256) <= 256 && cfg_int(cfg, "crop_size", 256) >= 32) {
            xt_tap tap = {tap_fn, NULL};
            (void)xt_verify_run(kind, st, cfg, &tap);
            goto out;
        }
        xt_xtmodel *m = xt_xtmodel_new(st, cfg);
        if (m) {
            const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
            size_t ws = xt_xtmodel_encode_ws_size(m, 1);
            (void)ws;
            (void)xt_xtmodel_feat_numel(in);
            xt_ctx *c = xt_ctx_begin(m, 2, 3);
            xt_ctx_free(c);
            xt_xtmodel_free(m);
        }
    } else if (kind && run) {
        xt_tap tap = {tap_fn, NULL};
        (void)xt_verify_run(kind, st, cfg, &tap);
    } else {
        const char *pfx = fi == 5 ? "" : fi >= 4 ? "model." : "encoder.model.";
        int img = cfg_int(cfg, "image_size", 224);
        xt_encoder *e = NULL;
        if (xt_json_get(cfg, "arch") || xt_json_get(cfg, "preset")) e = xt_backbone_new(st, cfg, pfx, img);
        else if (fi == 4) e = xt_hiera_new(st, xt_json_get(cfg, "hiera") ? xt_json_get(cfg, "hiera") : cfg, pfx, img);
        else if (fi == 5) e = xt_convnext_new(st, cfg, pfx, img);
        else e = xt_swinv2_new(st, xt_json_get(cfg, "swin") ? xt_json_get(cfg, "swin") : cfg, pfx, img);
        if (e) {
            (void)e->workspace_size(e, 1);
            e->free(e);
        }
    }
out:
    if (getenv("FUZZ_VERBOSE")) fprintf(stderr, "fuzz_model: file %s, %s: %s\n", files[fi], run ? "run" : "build", xt_error_buffer());
    xt_json_free(cfg);
    xt_error_clear();
    return 0;
}
