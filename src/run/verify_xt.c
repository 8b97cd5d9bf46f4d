// verify_xt.c — `xt verify` for kind "xt": the model file's images through the region encoder
// (models/xt.c) and the context run (run/ctx.c), the same API inference uses, so that API is
// what the golden files prove.
//
// A context run is per image; a collector gathers each image's tapped tensors (leading dim 1)
// and emits them concatenated over the batch, as the official batched forward reports them.
#include <stdio.h>
#include <string.h>

#include "run/ctx.h"
#include "run/verify.h"

typedef struct {
    char *name;
    int ndim;
    int64_t shape[XT_MAX_DIMS];
    size_t numel; // per image
    float *data;  // (N, numel)
    int seen;
} coll_item;

typedef struct {
    coll_item *it;
    int n, cap, N, cur;
} collector;

static void coll_fn(void *u, const char *path, const float *x, const int64_t *shape, int ndim) {
    collector *co = u;
    coll_item *t = NULL;
    for (int i = 0; i < co->n; i++)
        if (!strcmp(co->it[i].name, path)) t = &co->it[i];
    size_t numel = 1;
    for (int d = 0; d < ndim; d++) numel *= (size_t)shape[d];
    if (t && t->numel != numel) return; // same name, other shape: keep the first
    if (!t) {
        if (co->n == co->cap) {
            co->cap = co->cap ? 2 * co->cap : 64;
            co->it = realloc(co->it, co->cap * sizeof *co->it);
            XT_ASSERT(co->it);
        }
        t = &co->it[co->n++];
        memset(t, 0, sizeof *t);
        t->name = strdup(path);
        t->ndim = ndim;
        memcpy(t->shape, shape, ndim * sizeof(int64_t));
        t->numel = numel;
        t->data = xt_xcalloc(co->N * numel, sizeof(float));
    }
    memcpy(t->data + co->cur * numel, x, numel * sizeof(float));
    t->seen |= 1 << (co->cur & 30);
}

static void coll_emit(collector *co, const xt_tap *tap, const char *prefix) {
    for (int i = 0; i < co->n; i++) {
        coll_item *t = &co->it[i];
        int64_t shape[XT_MAX_DIMS];
        memcpy(shape, t->shape, sizeof shape);
        int batched = t->ndim > 0 && t->shape[0] == 1 && strcmp(t->name, "pos_embed");
        if (batched) shape[0] = co->N;
        xt_tap_emitf(tap, t->data, t->ndim, shape, "%s%s", prefix, t->name);
        free(t->name);
        free(t->data);
    }
    free(co->it);
    memset(co, 0, sizeof *co);
}

// stage map of N images from per-region maps: (N HP WP) C h w -> N C (HP h) (WP w)
static void stitch(float *out, const float *reg, int N, int HP, int WP, int C, int h, int w) {
    for (int n = 0; n < N; n++)
        for (int rr = 0; rr < HP; rr++)
            for (int rc = 0; rc < WP; rc++) {
                const float *r = reg + (((size_t)n * HP + rr) * WP + rc) * C * h * w;
                for (int c = 0; c < C; c++)
                    for (int y = 0; y < h; y++)
                        memcpy(out + (((size_t)n * C + c) * HP * h + rr * h + y) * WP * w + rc * w,
                               r + ((size_t)c * h + y) * w, w * sizeof(float));
            }
}

// runs model m over per-region features feat ((N HP WP), C, h, w); emits under prefix
static int run_contexts(const xt_xtmodel *m, const float *feat, int N, int HP, int WP, const xt_tap *tap, const char *prefix) {
    const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
    collector co = {.N = N};
    xt_tap ct = {coll_fn, &co};
    float *logits = xt_xmalloc(in->num_classes * sizeof(float));
    int rc = 0;
    for (int n = 0; n < N && !rc; n++) {
        co.cur = n;
        xt_ctx *c = xt_ctx_begin(m, HP, WP);
        if (!c) { rc = -1; break; }
        xt_ctx_set_tap(c, &ct);
        for (int r = 0; r < HP * WP && !rc; r++)
            rc = xt_ctx_push(c, feat + ((size_t)n * HP * WP + r) * xt_xtmodel_feat_numel(in));
        if (!rc) rc = xt_ctx_logits(c, logits);
        xt_ctx_free(c);
    }
    if (!rc) coll_emit(&co, tap, prefix);
    else coll_emit(&co, NULL, prefix);
    free(logits);
    return rc;
}

// does the hyper long path run on this model's full sequence? (then blockmask differs)
static int takes_long_path(const xt_json *cfg, int64_t L1) {
    const xt_json *ho = xt_json_get(cfg, "hyper_override");
    int msl = 4096;
    if (ho && xt_json_int(ho, "min_seq_len", 4096, &msl)) return 0;
    return L1 > msl;
}

int xt__xt_verify_context(xt_st *st, const xt_json *cfg, const xt_xtmodel *m, const float *feat, int N, int HP, int WP,
                          const xt_tap *tap) {
    const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
    if (run_contexts(m, feat, N, HP, WP, tap, "")) return -1;
    // variants: those the config lists, and blockmask wherever the hyper long path runs
    const xt_json *vs = xt_json_get(cfg, "variants");
    int nv = vs && vs->type == XT_JSON_ARR ? vs->n : 0, listed_bm = 0;
    for (int i = 0; i < nv; i++) {
        const char *name = xt_json_str(vs->items[i], "name", NULL);
        listed_bm |= name && !strcmp(name, "blockmask");
    }
    int64_t L1 = (int64_t)HP * in->feat_h * WP * in->feat_w + 1;
    int want_bm = in->head == XT_HEAD_XL && in->attn == XT_ATTN_HYPER && takes_long_path(cfg, L1) && !listed_bm;
    for (int i = 0; i < nv + want_bm; i++) {
        const char *name = i < nv ? xt_json_str(vs->items[i], "name", NULL) : "blockmask";
        if (!name) { xt_error("verify", "%s: config.variants[%d] has no name", st->path, i); return -1; }
        xt_xtmodel_params p = {name, 1};
        xt_xtmodel *vm = xt_xtmodel_new_with(st, cfg, p);
        if (!vm) return -1;
        char prefix[128];
        snprintf(prefix, sizeof prefix, "variant_%s.", name);
        int r = run_contexts(vm, feat, N, HP, WP, tap, prefix);
        xt_xtmodel_free(vm);
        if (r) return -1;
    }
    return 0;
}

int xt_xt_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    // a gradient file reaches here after its gradients (run/verify.c) for the forward
    // intermediates and variant logits it also holds (same names as the training pass's)
    const xt_st_tensor *ti = xt_st_find(st, "input.image");
    if (!ti || ti->ndim != 4) return xt_error("verify", "%s: tensor 'input.image' missing or not (N, C, H, W)", st->path);
    const float *img = xt_st_f32(st, "input.image", NULL);
    if (!img) return -1;
    xt_xtmodel *m = xt_xtmodel_new(st, cfg);
    if (!m) return -1;
    const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
    const xt_encoder *e = xt_xtmodel_encoder(m);
    int N = (int)ti->shape[0], C = (int)ti->shape[1], H = (int)ti->shape[2], W = (int)ti->shape[3];
    int rc = -1, S = in->crop_size;
    float *regions = NULL, *stages[XT_MAX_STAGES] = {0};
    xt_arena ws = {0};
    if (C != in->in_chans) {
        xt_error("verify", "%s: input.image has %d channels, the model %d", st->path, C, in->in_chans);
        goto done;
    }
    int HP = (H + S - 1) / S, WP = (W + S - 1) / S, R = N * HP * WP;
    size_t rsz = (size_t)C * S * S;
    regions = xt_malloc_checked(R * rsz * sizeof(float), "regions");
    if (!regions) goto done;
    for (int n = 0; n < N; n++)
        for (int r = 0; r < HP * WP; r++)
            xt_xtmodel_crop_region(m, regions + ((size_t)n * HP * WP + r) * rsz, img + (size_t)n * C * H * W, H, W,
                                   r / WP, r % WP);
    // all regions in one batch, so the encoder's own taps carry the whole (N HP WP) batch
    if (xt_arena_init(&ws, xt_xtmodel_encode_ws_size(m, R))) goto done;
    for (int s = 0; s < e->n_stages; s++)
        if (!(stages[s] = xt_malloc_checked((size_t)R * e->stage_c[s] * e->stage_h[s] * e->stage_w[s] * sizeof(float), "stage")))
            goto done;
    if (xt_xtmodel_encode_stages(m, regions, R, stages, &ws, tap)) goto done;
    for (int s = 0; s < e->n_stages; s++) {
        int sc = e->stage_c[s], sh = e->stage_h[s], sw = e->stage_w[s];
        int64_t es[4] = {R, sc, sh, sw}, ss[4] = {N, sc, HP * sh, WP * sw};
        xt_tap_emitf(tap, stages[s], 4, es, "encoder.%d", s);
        float *st_ = xt_malloc_checked((size_t)R * sc * sh * sw * sizeof(float), "stitched");
        if (!st_) goto done;
        stitch(st_, stages[s], N, HP, WP, sc, sh, sw);
        xt_tap_emitf(tap, st_, 4, ss, "stitched.%d", s);
        free(st_);
    }
    if (xt__xt_verify_context(st, cfg, m, stages[e->n_stages - 1], N, HP, WP, tap)) goto done;
    rc = 0;
done:
    for (int s = 0; s < XT_MAX_STAGES; s++) free(stages[s]);
    free(regions);
    xt_arena_free(&ws);
    xt_xtmodel_free(m);
    return rc;
}
