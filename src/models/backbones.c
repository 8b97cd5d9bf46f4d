// backbones.c — weight loading and config checks shared by hiera.c and convnext.c.
#include <stdarg.h>
#include <string.h>

#include "models/backbones.h"

const float *xt_wload_get(xt_wload *l, int ndim, const int64_t *shape, const char *fmt, ...) {
    char name[512], full[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    snprintf(full, sizeof full, "%s%s", l->prefix, name);
    const float *p = xt_st_weightf(l->st, ndim, shape, "%s", full);
    if (!p) return NULL;
    if (l->n == l->cap) {
        l->cap = l->cap ? 2 * l->cap : 128;
        l->used = realloc(l->used, l->cap * sizeof *l->used);
        XT_ASSERT(l->used);
    }
    l->used[l->n++] = strdup(full);
    return p;
}

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

int xt_wload_check_unused(xt_wload *l, const char *const *ignore, const char *model) {
    size_t np = strlen(l->prefix);
    for (int i = 0; i < l->st->n; i++) {
        const char *name = l->st->t[i].name;
        if (!starts(name, l->prefix)) continue;
        if (!np && (starts(name, "input.") || starts(name, "expected."))) continue;
        int skip = 0;
        for (int k = 0; ignore && ignore[k] && !skip; k++) skip = starts(name + np, ignore[k]);
        for (int k = 0; k < l->n && !skip; k++) skip = !strcmp(l->used[k], name);
        if (!skip)
            return xt_error_file(model, l->st->path, "tensor '%s' is not part of the configured model (config and "
                                 "weights disagree: wrong depths/stages or preset?)", name);
    }
    return 0;
}

void xt_wload_free(xt_wload *l) {
    for (int i = 0; i < l->n; i++) free(l->used[i]);
    free(l->used);
    l->used = NULL;
    l->n = l->cap = 0;
}

int xt_cfg_int(const xt_json *cfg, const char *model, const char *key, int def, int lo, int hi, int *out) {
    if (xt_json_int(cfg, key, def, out)) return xt_error_prefix("%s", model);
    if (*out < lo || *out > hi)
        return xt_error(model, "config '%s' = %d is out of range [%d, %d]", key, *out, lo, hi);
    return 0;
}

int xt_cfg_ints(const xt_json *cfg, const char *model, const char *key, int *out, int max, int lo, int hi,
                const int *def, int def_n) {
    int n;
    if (!xt_json_get(cfg, key) && def_n > 0) {
        memcpy(out, def, def_n * sizeof *out);
        n = def_n;
    } else if ((n = xt_json_int_array(cfg, key, out, max)) < 0)
        return xt_error_prefix("%s", model);
    if (n == 0) return xt_error(model, "config '%s' is empty", key);
    for (int i = 0; i < n; i++)
        if (out[i] < lo || out[i] > hi)
            return xt_error(model, "config '%s'[%d] = %d is out of range [%d, %d]", key, i, out[i], lo, hi);
    return n;
}

int xt_region_run_file(xt_region_run *r, xt_st *st, const xt_json *top, const xt_json *enc_cfg, const char *prefix,
                       xt_encoder_builder build, const xt_tap *tap, const char *model) {
    memset(r, 0, sizeof *r);
    const xt_st_tensor *ti = xt_st_find(st, "input.image");
    if (!ti) return xt_error_file(model, st->path, "no tensor 'input.image'");
    if (ti->ndim != 4 || ti->shape[0] < 1 || ti->shape[2] != ti->shape[3] || ti->shape[2] < 1 || ti->shape[2] > 65536 ||
        ti->shape[0] > 4096)
        return xt_error_file(model, st->path, "'input.image' must be (B, C, S, S) with 1 <= B <= 4096, 1 <= S <= 65536");
    int S = (int)ti->shape[2], cfgS;
    if (xt_cfg_int(top, model, "image_size", S, 1, 65536, &cfgS)) return -1;
    if (cfgS != S)
        return xt_error_file(model, st->path, "'input.image' is %dx%d but the config's image_size is %d", S, S, cfgS);
    const float *img = xt_st_f32(st, "input.image", NULL);
    if (!img) return -1;
    if (!(r->e = build(st, enc_cfg, prefix, S)))
        return xt_error_in_file(st->path);
    if (ti->shape[1] != r->e->in_chans) {
        int c = r->e->in_chans;
        xt_region_run_free(r);
        return xt_error_file(model, st->path, "'input.image' has %lld channels, the model expects in_chans = %d",
                        (long long)ti->shape[1], c);
    }
    r->B = (int)ti->shape[0];
    for (int s = 0; s < r->e->n_stages; s++) {
        size_t n = (size_t)r->B * r->e->stage_c[s] * r->e->stage_h[s] * r->e->stage_w[s];
        if (!(r->out[s] = xt_malloc_checked(n * sizeof(float), "stage output"))) { xt_region_run_free(r); return -1; }
    }
    xt_arena ws;
    if (xt_arena_init(&ws, r->e->workspace_size(r->e, r->B))) { xt_region_run_free(r); return -1; }
    int rc = r->e->forward(r->e, img, r->B, r->out, &ws, tap, prefix);
    xt_arena_free(&ws);
    if (rc) xt_region_run_free(r);
    return rc;
}

void xt_region_run_free(xt_region_run *r) {
    for (int s = 0; s < XT_MAX_STAGES; s++) free(r->out[s]);
    if (r->e) r->e->free(r->e);
    memset(r, 0, sizeof *r);
}
