// verify_xview.c — `xt verify` for kind "xview" (tests/golden/xview_seg*.safetensors): runs the
// dense model the way the file's "case_type" says the official code ran it.
//   seg: one call on input.image.
//   xl:  the official evaluation loop over a crop (XviewEvaluator.build_iterator + model_foward:
//        n x n tiles of crop_size, row-major, cord (i, j), outputs pasted into expected.scene.*),
//        the memory as the official code passes it (dead, bug 15); then call n*n: the whole
//        image in one call (internal chipping, cord (0, 0)); then each variant in config.variants
//        ("memfix": the memory carried, its mem_chip) over the same tiles, names
//        "variant_<name>.<...>". Tensors of call K end in ".call{K}".
//   grad: handled before this by verify_grad.c (xview_grad: the trainable model, models/xview_bwd.c).
#include <string.h>

#include "models/xview.h"
#include "run/verify.h"

// Forwards every tapped tensor under "<prefix><name>" (a variant's names).
typedef struct {
    const xt_tap *to;
    const char *prefix;
} prefixed;

static void prefix_fn(void *u, const char *path, const float *x, const int64_t *shape, int ndim) {
    const prefixed *p = u;
    xt_tap_emitf(p->to, x, ndim, shape, "%s%s", p->prefix, path);
}

// Runs the tiles of img (B, C, H, H) in the official order, pasting the maps into scene[k].
static int run_tiles(const xt_xview *m, const float *img, int B, int H, xt_xview_mem *mem, float *const *scene,
                     const xt_tap *tap, int *call) {
    const xt_xview_info *in = xt_xview_get_info(m);
    const int S = in->crop_size, C = in->in_chans, n = H / S;
    float *tile = xt_malloc_checked((size_t)B * C * S * S * sizeof(float), "xview tile");
    float *maps[XT_XVIEW_MAPS] = {0};
    int rc = -1;
    if (!tile) return -1;
    for (int k = 0; k < XT_XVIEW_MAPS; k++)
        if (!(maps[k] = xt_malloc_checked((size_t)B * S * S * sizeof(float), "xview tile"))) goto done;
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++) {
            for (int b = 0; b < B; b++)
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < S; y++)
                        memcpy(tile + (((size_t)b * C + c) * S + y) * S, img + (((size_t)b * C + c) * H + i * S + y) * H + j * S,
                               S * sizeof(float));
            char sfx[32];
            snprintf(sfx, sizeof sfx, ".call%d", (*call)++);
            if (xt_xview_forward(m, tile, B, S, i, j, mem, maps, tap, sfx)) goto done;
            if (scene)
                for (int k = 0; k < XT_XVIEW_MAPS; k++)
                    for (int b = 0; b < B; b++)
                        for (int y = 0; y < S; y++)
                            memcpy(scene[k] + ((size_t)b * H + i * S + y) * H + j * S, maps[k] + ((size_t)b * S + y) * S,
                                   S * sizeof(float));
        }
    rc = 0;
done:
    for (int k = 0; k < XT_XVIEW_MAPS; k++) free(maps[k]);
    free(tile);
    return rc;
}

int xt_xview_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    const char *ct = xt_json_str(cfg, "case_type", "seg");
    if (!ct || (strcmp(ct, "seg") && strcmp(ct, "xl") && strcmp(ct, "grad")))
        return xt_error("verify", "config: case_type '%s' (expected seg, xl or grad)", ct ? ct : "?");
    if (!strcmp(ct, "grad"))
        return xt_error("verify", "xView3 gradient files: training the xView3 model is not implemented yet");
    const xt_st_tensor *ti = xt_st_find(st, "input.image");
    if (!ti || ti->ndim != 4 || ti->shape[2] != ti->shape[3])
        return xt_error("verify", "tensor 'input.image' missing or not (N, C, H, H)");
    const float *img = xt_st_f32(st, "input.image", NULL);
    if (!img) return -1;
    xt_xview *m = xt_xview_new(st, cfg);
    if (!m) return xt_error_in_file(st->path);
    const xt_xview_info *in = xt_xview_get_info(m);
    int B = (int)ti->shape[0], H = (int)ti->shape[2], rc = -1;
    float *maps[XT_XVIEW_MAPS] = {0};
    xt_xview_mem *mem = NULL;
    if (ti->shape[1] != in->in_chans) {
        xt_error("verify", "input.image has %d bands, the model takes %d", (int)ti->shape[1], in->in_chans);
        goto done;
    }
    for (int k = 0; k < XT_XVIEW_MAPS; k++)
        if (!(maps[k] = xt_malloc_checked((size_t)B * H * H * sizeof(float), "xview maps"))) goto done;
    if (!strcmp(ct, "seg")) {
        rc = xt_xview_forward(m, img, B, H, 0, 0, NULL, maps, tap, "");
        goto done;
    }
    if (H % in->crop_size) {
        xt_error("verify", "input.image side %d is not a multiple of crop_size %d", H, in->crop_size);
        goto done;
    }
    int call = 0;
    mem = xt_xview_mem_new(m, 0, 0);
    if (run_tiles(m, img, B, H, mem, maps, tap, &call)) goto done;
    for (int k = 0; k < XT_XVIEW_MAPS; k++) {
        int64_t sh[4] = {B, 1, H, H};
        xt_tap_emitf(tap, maps[k], 4, sh, "scene.%s", xt_xview_map_names[k]);
    }
    char sfx[32];
    snprintf(sfx, sizeof sfx, ".call%d", call);
    xt_xview_mem_free(mem);
    mem = xt_xview_mem_new(m, 0, 0);
    if (xt_xview_forward(m, img, B, H, 0, 0, mem, maps, tap, sfx)) goto done;
    const xt_json *vs = xt_json_get(cfg, "variants");
    for (int v = 0; vs && vs->type == XT_JSON_ARR && v < vs->n; v++) {
        const char *name = xt_json_str(vs->items[v], "name", NULL);
        int mem_chip = 0;
        if (!name || strcmp(name, "memfix")) {
            xt_error("verify", "config.variants[%d]: unknown variant '%s' (xview knows memfix)", v, name ? name : "?");
            goto done;
        }
        if (xt_json_int(vs->items[v], "mem_chip", 0, &mem_chip)) goto done;
        xt_xview_mem_free(mem);
        mem = xt_xview_mem_new(m, 1, mem_chip);
        char tp[80];
        snprintf(tp, sizeof tp, "variant_%s.", name);
        prefixed pu = {tap, tp};
        xt_tap vt = {prefix_fn, &pu};
        call = 0;
        if (run_tiles(m, img, B, H, mem, NULL, xt_tap_on(tap) ? &vt : NULL, &call)) goto done;
    }
    rc = 0;
done:
    xt_xview_mem_free(mem);
    for (int k = 0; k < XT_XVIEW_MAPS; k++) free(maps[k]);
    xt_xview_free(m);
    return rc;
}
