// xt.c — the xT classifier: nested tokenization, region encoder, context run, `xt verify`.
//
// Whole-image semantics (ref: xt/models/decoders/decoder.py xT.forward, nested_tokenization):
//   N C (HP HC) (WP WC) -> (N HP WP) C HC WC -> encoder -> stitch back -> head.
// Here the same computation is organised for streaming (models.h): regions are encoded one
// batch at a time and their last-stage maps pushed row-major into an xt_ctx, which keeps only
// what the head needs (a running GAP; the pending window; or the token sequence for global
// attention). `xt verify` for kind "xt" runs through this API, so the API is what is proven.
//
// Images whose sides are not multiples of crop_size are zero-padded (after normalisation) at
// the right and bottom to whole regions; padded pixels are encoded like any other and their
// tokens take part in pooling/attention (docs/xt-model.md).
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "models/context.h"
#include "nn/nn.h"
#include "models/trainable.h"

struct xt_xtmodel {
    xt_xtmodel_info info;
    xt_st *st;
    xt_encoder *enc;
    xt_naive_head naive;
    xt_xl_head xl;
    xt_context ctx; // per-pass randomness inside: one context run at a time per model
};

xt_xtmodel_params xt_xtmodel_default_params(void) {
    xt_xtmodel_params p = {NULL, 0};
    return p;
}

static const xt_json *find_variant(const xt_json *cfg, const char *name) {
    const xt_json *vs = xt_json_get(cfg, "variants");
    if (!vs || vs->type != XT_JSON_ARR) return NULL;
    for (int i = 0; i < vs->n; i++) {
        const char *n = xt_json_str(vs->items[i], "name", NULL);
        if (n && !strcmp(n, name)) return vs->items[i];
    }
    return NULL;
}

static xt_encoder *build_encoder(xt_st *st, const xt_json *cfg, int crop) {
    const xt_json *e;
    if ((e = xt_json_get(cfg, "swin"))) return xt_swinv2_new(st, e, "encoder.model.", crop);
    if ((e = xt_json_get(cfg, "hiera"))) return xt_hiera_new(st, e, "encoder.model.", crop);
    if ((e = xt_json_get(cfg, "convnext"))) return xt_convnext_new(st, e, "encoder.model.", crop);
    if ((e = xt_json_get(cfg, "backbone"))) return xt_backbone_new(st, e, "encoder.model.", crop); // docs/backbones.md
    xt_error("xt", "config names no region encoder (expected a \"swin\", \"hiera\", \"convnext\" or \"backbone\" object)");
    return NULL;
}

xt_xtmodel *xt_xtmodel_new(xt_st *st, const xt_json *cfg) { return xt_xtmodel_new_with(st, cfg, xt_xtmodel_default_params()); }

xt_xtmodel *xt_xtmodel_new_with(xt_st *st, const xt_json *cfg, xt_xtmodel_params p) {
    xt_xtmodel *m = xt_xcalloc(1, sizeof *m);
    xt_xtmodel_info *in = &m->info;
    m->st = st;
    const char *where = st->path;
    const char *head = xt_json_str(cfg, "cls_head", "naive");
    const xt_json *cx = xt_json_get(cfg, "context");
    const char *am = cx ? xt_json_str(cx, "attention_method", "naive") : "naive";
    if (xt_json_int(cfg, "crop_size", 256, &in->crop_size) || xt_json_int(cfg, "num_classes", 0, &in->num_classes) ||
        xt_json_int(cfg, "mlp_ratio", 4, &in->mlp_ratio) ||
        (cx && (xt_json_int(cx, "hidden_size", 768, &in->hidden) || xt_json_int(cx, "n_layer", 2, &in->n_layers) ||
                xt_json_int(cx, "in_context_patches", -1, &in->in_context_patches)))) {
        xt_error_in_file(where);
        goto fail;
    }
    if (!head || (strcmp(head, "naive") && strcmp(head, "xl"))) {
        xt_error("xt", "%s: config: cls_head '%s' (expected \"naive\" or \"xl\")", where, head ? head : "?");
        goto fail;
    }
    in->head = !strcmp(head, "xl") ? XT_HEAD_XL : XT_HEAD_NAIVE;
    if (!am || (strcmp(am, "naive") && strcmp(am, "hyper") && strcmp(am, "mamba"))) {
        xt_error("xt", "%s: config: attention_method '%s' (expected naive, hyper or mamba)", where, am ? am : "?");
        goto fail;
    }
    in->attn = !strcmp(am, "hyper") ? XT_ATTN_HYPER : !strcmp(am, "mamba") ? XT_ATTN_MAMBA : XT_ATTN_NAIVE;
    if (in->crop_size < 32 || in->crop_size > 16384 || in->num_classes < 1 || in->num_classes > 1000000 ||
        in->mlp_ratio < 1 || in->mlp_ratio > 64 ||
        (in->head == XT_HEAD_XL && (in->hidden < 4 || in->hidden % 4 || in->hidden > 65536 || in->n_layers < 0 ||
                                    in->n_layers > 1024 || in->in_context_patches == 1 || in->in_context_patches > (1 << 24)))) {
        xt_error("xt", "%s: config: crop_size %d, num_classes %d, mlp_ratio %d, hidden_size %d, n_layer %d, "
                 "in_context_patches %d: out of range", where, in->crop_size, in->num_classes, in->mlp_ratio,
                 in->hidden, in->n_layers, in->in_context_patches);
        goto fail;
    }
    // variants (golden README bugs 3, 5, 6): fixed behaviour under a name, from the caller or
    // from the config's "variant" key (a model file can carry its choice)
    if (!p.variant) p.variant = xt_json_str(cfg, "variant", NULL);
    if (p.variant) {
        const xt_json *v = find_variant(cfg, p.variant);
        int icp = in->in_context_patches;
        if (v && xt_json_int(v, "in_context_patches", icp, &icp)) {
            xt_error_prefix("variant '%s'", p.variant);
            xt_error_in_file(where);
            goto fail;
        }
        if (!strcmp(p.variant, "memfix")) in->memfix = 1;
        else if (!strcmp(p.variant, "blockmask")) in->hyper_block_mask = 1;
        else if (!strcmp(p.variant, "incontext16_tuplefix")) { if (!v) icp = 16; }
        else if (!v) {
            xt_error("xt", "%s: unknown variant '%s' (memfix, blockmask, incontext16_tuplefix or one in config.variants)",
                     where, p.variant);
            goto fail;
        }
        if (icp == 1 || icp > (1 << 24)) { // window buffers are sized by it (P x hidden floats)
            xt_error("xt", "%s: variant '%s': in_context_patches %d out of range", where, p.variant, icp);
            goto fail;
        }
        in->in_context_patches = icp;
        if (in->memfix && in->in_context_patches <= 0) {
            xt_error("xt", "%s: variant memfix needs in_context_patches > 0", where);
            goto fail;
        }
    }
    // NaN/Inf weights would silently poison every output: reject them, naming the tensor
    if (xt_st_check_finite(st, "decoder.") || (!p.no_encoder && xt_st_check_finite(st, "encoder."))) goto fail;
    if (!p.no_encoder) {
        if (!(m->enc = build_encoder(st, cfg, in->crop_size))) { xt_error_in_file(where); goto fail; }
        if (m->enc->img_size != in->crop_size) {
            xt_error("xt", "%s: region encoder built for %d-pixel regions, crop_size is %d", where, m->enc->img_size,
                     in->crop_size);
            goto fail;
        }
        int s = m->enc->n_stages - 1;
        in->in_chans = m->enc->in_chans;
        in->feat_c = m->enc->stage_c[s], in->feat_h = m->enc->stage_h[s], in->feat_w = m->enc->stage_w[s];
    } else {
        // features come from elsewhere: width from the head's weights, 1/32 resolution
        const char *kn = in->head == XT_HEAD_XL ? "decoder.input_proj.weight" : "decoder.layers.0.weight";
        const xt_st_tensor *t = xt_st_find(st, kn);
        if (!t || t->ndim != 2) { xt_error("xt", "%s: tensor '%s' missing or not 2-D", where, kn); goto fail; }
        const xt_json *e = xt_json_get(cfg, "swin");
        if (xt_json_int(e ? e : cfg, "in_chans", 3, &in->in_chans)) goto fail;
        in->feat_c = (int)t->shape[1];
        in->feat_h = in->feat_w = in->crop_size / 32;
    }
    if (in->head == XT_HEAD_NAIVE) {
        if (xt_naive_head_init(&m->naive, st, in->feat_c, in->mlp_ratio, in->num_classes)) goto fail;
        in->streaming = 1;
    } else {
        if (xt_xl_head_init(&m->xl, st, in->feat_c, in->hidden, in->num_classes)) goto fail;
        if (xt_context_init(&m->ctx, st, "decoder.", in->attn, in->hidden, in->n_layers, in->mlp_ratio,
                            xt_json_get(cfg, "hyper_override"), in->hyper_block_mask)) {
            xt_error_in_file(where);
            goto fail;
        }
        in->streaming = in->in_context_patches > 0;
    }
    return m;
fail:
    xt_xtmodel_free(m);
    return NULL;
}

void xt_xtmodel_free(xt_xtmodel *m) {
    if (!m) return;
    if (m->enc) m->enc->free(m->enc);
    xt_context_free(&m->ctx);
    free(m);
}

const xt_xtmodel_info *xt_xtmodel_get_info(const xt_xtmodel *m) { return &m->info; }
const xt_encoder *xt_xtmodel_encoder(const xt_xtmodel *m) { return m->enc; }

// ---------------------------------------------------------------------------------------------
// regions

size_t xt_xtmodel_encode_ws_size(const xt_xtmodel *m, int B) {
    const xt_encoder *e = m->enc;
    if (!e) return 0;
    size_t s = e->workspace_size(e, B) + 64 * XT_MAX_STAGES;
    for (int i = 0; i < e->n_stages - 1; i++) s += (size_t)B * e->stage_c[i] * e->stage_h[i] * e->stage_w[i] * sizeof(float);
    return s;
}

int xt_xtmodel_encode_stages(const xt_xtmodel *m, const float *regions, int B, float *const *out, xt_arena *ws,
                             const xt_tap *tap) {
    if (!m->enc) return xt_error("xt", "model built without a region encoder");
    xt_arena_reset(ws);
    return m->enc->forward(m->enc, regions, B, out, ws, tap, "encoder.");
}

int xt_xtmodel_encode_regions(const xt_xtmodel *m, const float *regions, int B, float *feat, xt_arena *ws) {
    const xt_encoder *e = m->enc;
    if (!e) return xt_error("xt", "model built without a region encoder");
    xt_arena_reset(ws);
    float *out[XT_MAX_STAGES];
    for (int i = 0; i < e->n_stages - 1; i++) out[i] = xt_arena_f32(ws, (size_t)B * e->stage_c[i] * e->stage_h[i] * e->stage_w[i]);
    out[e->n_stages - 1] = feat;
    return e->forward(e, regions, B, out, ws, NULL, "encoder.");
}

void xt_xtmodel_crop_region(const xt_xtmodel *m, float *dst, const float *img, int H, int W, int rr, int rc) {
    int S = m->info.crop_size, C = m->info.in_chans;
    int y0 = rr * S, x0 = rc * S;
    int nx = W - x0 < S ? W - x0 : S;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < S; y++) {
            float *d = dst + ((size_t)c * S + y) * S;
            if (y0 + y >= H || nx <= 0) { memset(d, 0, S * sizeof(float)); continue; }
            memcpy(d, img + ((size_t)c * H + y0 + y) * W + x0, nx * sizeof(float));
            if (nx < S) memset(d + nx, 0, (S - nx) * sizeof(float));
        }
}

// ---------------------------------------------------------------------------------------------
// token stores

typedef struct { float *p; int64_t cap; } mem_store;

static int mem_append(xt_token_store *s, const float *rows, int64_t n) {
    mem_store *ms = s->impl;
    if (s->n + n > ms->cap) {
        int64_t cap = ms->cap ? ms->cap : 1024;
        while (cap < s->n + n) cap *= 2;
        size_t bytes;
        if (xt_mul_size((size_t)cap, (size_t)s->D * sizeof(float), &bytes)) return xt_error_prefix("token store");
        float *np = realloc(ms->p, bytes);
        if (!np) return xt_error("xt", "token store: cannot allocate %zu bytes", bytes);
        ms->p = np, ms->cap = cap;
    }
    memcpy(ms->p + s->n * s->D, rows, (size_t)n * s->D * sizeof(float));
    s->n += n;
    return 0;
}

static int mem_read(xt_token_store *s, int64_t start, int64_t n, float *dst) {
    mem_store *ms = s->impl;
    if (start < 0 || n < 0 || start + n > s->n) return xt_error("xt", "token store: read [%lld, %lld) of %lld rows",
                                                                (long long)start, (long long)(start + n), (long long)s->n);
    memcpy(dst, ms->p + start * s->D, (size_t)n * s->D * sizeof(float));
    return 0;
}

static void mem_free(xt_token_store *s) {
    mem_store *ms = s->impl;
    free(ms->p);
    free(ms);
    free(s);
}

xt_token_store *xt_token_store_mem_new(int D) {
    xt_token_store *s = xt_xcalloc(1, sizeof *s);
    s->D = D;
    s->impl = xt_xcalloc(1, sizeof(mem_store));
    s->append = mem_append, s->read = mem_read, s->free = mem_free;
    return s;
}

// A scratch-file store: rows are appended to a file (unlinked at creation when possible, so
// nothing is left behind) and read back with pread; memory stays O(1) in the sequence length.
typedef struct { FILE *f; char *path; } file_store;

static int file_append(xt_token_store *s, const float *rows, int64_t n) {
    file_store *fs = s->impl;
    if (fseeko(fs->f, 0, SEEK_END) || fwrite(rows, sizeof(float) * s->D, (size_t)n, fs->f) != (size_t)n)
        return xt_error("xt", "token store %s: write failed (disk full?)", fs->path);
    s->n += n;
    return 0;
}

static int file_read(xt_token_store *s, int64_t start, int64_t n, float *dst) {
    file_store *fs = s->impl;
    if (start < 0 || n < 0 || start + n > s->n) return xt_error("xt", "token store: read past the end");
    if (fflush(fs->f) || fseeko(fs->f, (off_t)(start * s->D * (int64_t)sizeof(float)), SEEK_SET) ||
        fread(dst, sizeof(float) * s->D, (size_t)n, fs->f) != (size_t)n)
        return xt_error("xt", "token store %s: read failed", fs->path);
    return 0;
}

static void file_free(xt_token_store *s) {
    file_store *fs = s->impl;
    fclose(fs->f);
    free(fs->path);
    free(fs);
    free(s);
}

xt_token_store *xt_token_store_file_new(const char *dir, int D) {
    char path[4096];
    snprintf(path, sizeof path, "%s/xt-tokens-XXXXXX", dir && *dir ? dir : "/tmp");
    int fd = mkstemp(path);
    if (fd < 0) { xt_error("xt", "token store: cannot create a scratch file in %s", dir && *dir ? dir : "/tmp"); return NULL; }
    FILE *f = fdopen(fd, "w+b");
    if (!f) { close(fd); unlink(path); xt_error("xt", "token store: fdopen %s failed", path); return NULL; }
    unlink(path); // removed from the directory now, freed when closed
    xt_token_store *s = xt_xcalloc(1, sizeof *s);
    file_store *fs = xt_xcalloc(1, sizeof *fs);
    fs->f = f;
    fs->path = strdup(path);
    s->D = D, s->impl = fs;
    s->append = file_append, s->read = file_read, s->free = file_free;
    return s;
}

// ---------------------------------------------------------------------------------------------
// context run

struct xt_ctx {
    xt_xtmodel *m;
    int HP, WP, pushed, gh, gw; // region grid; token grid gh x gw
    int64_t L;                  // tokens (without the cls token)
    xt_tap tap;
    int tapping;
    double *gap;         // naive head: running sum (C)
    float *rowbuf;       // xl: one row of regions' features (WP, C, fh, fw)
    float *rowtok;       // xl: gathered features of one chunk of tokens (chunk, C)
    float *tokbuf;       // xl, global mode: projected tokens of one chunk (chunk, D)
    int chunk;           // xl: tokens projected at a time (<= one token row)
    float *pebuf;        // xl: one position embedding (D)
    float *mtmp;         // memfix: one layer's input (<= 2 (P + 1) rows)
    float *ip_tap;       // tapping: decoder.input_proj (L, D)
    xt_token_store *store; // global mode
    // windows
    int P, stride;
    float *pend;         // tokens [pend0, pend0 + npend) of the sequence
    int64_t pend0, npend, next_start;
    float *win;          // layer input buffer (<= 2 (P + 1) rows)
    float **mem;         // memfix: per-layer memory (<= 2 (P + 1) rows)
    int *mem_len;
    double *cls_sum;
    int n_win;
    xt_arena ws;
    int failed;
};

static const char *tprefix_of(const xt_ctx *c) { (void)c; return ""; }

xt_ctx *xt_ctx_begin(const xt_xtmodel *mc, int HP, int WP) {
    xt_xtmodel *m = (xt_xtmodel *)mc;
    const xt_xtmodel_info *in = &m->info;
    if (HP < 1 || WP < 1 || HP > 1000000 / (in->feat_h ? in->feat_h : 1) || WP > 1000000 / (in->feat_w ? in->feat_w : 1)) {
        xt_error("xt", "context: region grid %d x %d out of range", HP, WP);
        return NULL;
    }
    xt_ctx *c = xt_xcalloc(1, sizeof *c);
    c->m = m, c->HP = HP, c->WP = WP;
    c->gh = HP * in->feat_h, c->gw = WP * in->feat_w;
    c->L = (int64_t)c->gh * c->gw;
    if (in->head == XT_HEAD_NAIVE) {
        c->gap = xt_xcalloc(in->feat_c, sizeof(double));
        return c;
    }
    int D = in->hidden;
    size_t rowf = (size_t)WP * in->feat_c * in->feat_h * in->feat_w;
    // a fixed chunk keeps the token scratch independent of the image width (the projection is
    // per token, so chunking does not change the result beyond gemm blocking)
    c->chunk = c->gw < 256 ? c->gw : 256;
    size_t rowt = (size_t)c->chunk;
    c->rowbuf = xt_malloc_checked(rowf * sizeof(float), "region row");
    c->rowtok = xt_malloc_checked(rowt * (size_t)in->feat_c * sizeof(float), "token chunk");
    c->pebuf = xt_xmalloc(D * sizeof(float));
    if (!c->rowbuf || !c->rowtok) goto fail;
    xt_context_begin_pass(&m->ctx);
    if (in->in_context_patches <= 0 || in->in_context_patches >= c->L + 1) {
        c->store = xt_token_store_mem_new(D);
        if (!(c->tokbuf = xt_malloc_checked(rowt * D * sizeof(float), "token chunk"))) goto fail;
        return c;
    }
    c->P = in->in_context_patches, c->stride = c->P / 2;
    int Lw = in->memfix ? 2 * (c->P + 1) : c->P + 1;
    // after run_windows fewer than P tokens stay pending; a chunk is appended to them
    c->pend = xt_malloc_checked(((size_t)c->P + rowt + 1) * D * sizeof(float), "window tokens");
    c->win = xt_malloc_checked((size_t)Lw * D * sizeof(float), "window");
    c->cls_sum = xt_xcalloc(D, sizeof(double));
    if (!c->pend || !c->win) goto fail;
    if (in->memfix) {
        c->mem = xt_xcalloc(in->n_layers, sizeof(float *));
        c->mem_len = xt_xcalloc(in->n_layers, sizeof(int));
        if (!(c->mtmp = xt_malloc_checked((size_t)Lw * D * sizeof(float), "memfix window"))) goto fail;
        for (int i = 0; i < in->n_layers; i++)
            if (!(c->mem[i] = xt_malloc_checked((size_t)Lw * D * sizeof(float), "window memory"))) goto fail;
    }
    return c;
fail:
    xt_ctx_free(c);
    return NULL;
}

int xt_ctx_set_store(xt_ctx *c, xt_token_store *s) {
    if (!c->store) { s->free(s); return xt_error("xt", "context: this mode keeps no token sequence"); }
    if (c->pushed || s->D != c->m->info.hidden) { s->free(s); return xt_error("xt", "context: token store set too late or with the wrong width"); }
    c->store->free(c->store);
    c->store = s;
    return 0;
}

void xt_ctx_set_tap(xt_ctx *c, const xt_tap *tap) {
    c->tapping = xt_tap_on(tap);
    if (c->tapping) c->tap = *tap;
}

// lazily sized layer workspace
static int ensure_ws(xt_ctx *c, int Lmax) {
    size_t need = xt_context_ws_size(&c->m->ctx, Lmax, c->tapping);
    if (c->ws.size >= need) return 0;
    xt_arena_free(&c->ws);
    return xt_arena_init(&c->ws, need);
}

// runs every layer over rows (L, D) of `x` in place; sfx ".callK" or ""
static int run_layers(xt_ctx *c, float *x, int L, const char *sfx) {
    xt_xtmodel *m = c->m;
    if (ensure_ws(c, L)) return -1;
    for (int i = 0; i < m->info.n_layers; i++)
        if (xt_context_layer_forward(&m->ctx, i, x, L, &c->ws, c->tapping ? &c->tap : NULL, tprefix_of(c), sfx)) return -1;
    return 0;
}

// one window: tokens seq[s, e) (+ the global cls if e == L + 1), with a fresh cls appended
static int run_window(xt_ctx *c, int64_t s, int64_t e) {
    xt_xtmodel *m = c->m;
    const int D = m->info.hidden, NL = m->info.n_layers;
    int base = (int)(e - s) + 1, keep = 2 * base, off = c->stride;
    char sfx[32];
    snprintf(sfx, sizeof sfx, ".call%d", c->n_win);
    // xx = window + appended cls
    float *xx = c->win;
    int64_t nt = e > c->L ? c->L - s : e - s; // rows from the pending tokens
    memcpy(xx, c->pend + (s - c->pend0) * D, (size_t)nt * D * sizeof(float));
    int n = (int)nt;
    if (e > c->L) memcpy(xx + (size_t)n++ * D, m->xl.cls_token, D * sizeof(float)); // global cls
    memcpy(xx + (size_t)n++ * D, m->xl.cls_token, D * sizeof(float));
    if (ensure_ws(c, m->info.memfix ? keep : base)) return -1;
    const xt_tap *tap = c->tapping ? &c->tap : NULL;
    if (!m->info.memfix) {
        // official (bug 3): the memory is dead, each window runs on its own
        for (int i = 0; i < NL; i++)
            if (xt_context_layer_forward(&m->ctx, i, xx, base, &c->ws, tap, "", sfx)) return -1;
    } else {
        // memfix: layer i sees [mem_i minus its last `off` rows, xx][-keep:], remembers that
        // input minus its last row, and passes on its last `base` outputs
        float *tmp = c->mtmp;
        for (int i = 0; i < NL; i++) {
            int ml = c->n_win ? c->mem_len[i] - off : 0;
            if (ml < 0) ml = 0;
            int tot = ml + base, drop = tot > keep ? tot - keep : 0, len = tot - drop;
            // tmp = cat(mem[:ml], xx)[drop:]
            int from_mem = ml - drop > 0 ? ml - drop : 0;
            if (from_mem) memcpy(tmp, c->mem[i] + (size_t)drop * D, (size_t)from_mem * D * sizeof(float));
            int xskip = drop > ml ? drop - ml : 0;
            memcpy(tmp + (size_t)from_mem * D, xx + (size_t)xskip * D, (size_t)(base - xskip) * D * sizeof(float));
            memcpy(c->mem[i], tmp, (size_t)(len - 1) * D * sizeof(float));
            c->mem_len[i] = len - 1;
            if (xt_context_layer_forward(&m->ctx, i, tmp, len, &c->ws, NULL, "", sfx)) return -1;
            if (tap) {
                int64_t sh[3] = {1, len, D};
                xt_tap_emitf(tap, tmp, 3, sh, "decoder.layers.%d%s", i, sfx);
            }
            memcpy(xx, tmp + (size_t)(len - base) * D, (size_t)base * D * sizeof(float));
        }
    }
    const float *last = xx + (size_t)(base - 1) * D;
    for (int d = 0; d < D; d++) c->cls_sum[d] += last[d];
    c->n_win++;
    return 0;
}

// windows whose tokens are all available (final: the sequence is complete, cls included)
static int run_windows(xt_ctx *c, int final) {
    int64_t have = c->pend0 + c->npend;
    while (c->next_start < c->L) {
        int64_t s = c->next_start, e = s + c->P;
        if (e > c->L + 1) e = c->L + 1;
        if (!final && e > have) break;
        if (run_window(c, s, e)) return -1;
        c->next_start += c->stride;
    }
    // drop tokens no later window needs
    int64_t keep_from = c->next_start < have ? c->next_start : have;
    int64_t drop = keep_from - c->pend0;
    if (drop > 0) {
        const int D = c->m->info.hidden;
        memmove(c->pend, c->pend + drop * D, (size_t)(c->npend - drop) * D * sizeof(float));
        c->pend0 += drop, c->npend -= drop;
    }
    return 0;
}

// a full row of regions: stitched rows -> tokens (input_proj + pos_embed) -> store / windows,
// in chunks of <= c->chunk tokens along the row-major token order, so the scratch beyond the
// region row's features is O(chunk + window), not O(region row tokens x D)
static int flush_row(xt_ctx *c, int rr) {
    xt_xtmodel *m = c->m;
    const xt_xtmodel_info *in = &m->info;
    const int C = in->feat_c, fh = in->feat_h, fw = in->feat_w, D = in->hidden, gw = c->gw;
    size_t rf = (size_t)C * fh * fw;
    float *feat = c->rowtok; // gather (chunk, C)
    float *pe = c->pebuf;
    for (int y = 0; y < fh; y++)
        for (int x0 = 0; x0 < gw; x0 += c->chunk) {
            int n = gw - x0 < c->chunk ? gw - x0 : c->chunk;
            for (int j = 0; j < n; j++) {
                int x = x0 + j;
                const float *r = c->rowbuf + (x / fw) * rf;
                float *dst = feat + (size_t)j * C;
                for (int ch = 0; ch < C; ch++) dst[ch] = r[((size_t)ch * fh + y) * fw + x % fw];
            }
            // windows: project straight onto the pending tokens' tail; store: into tokbuf
            float *tok = c->store ? c->tokbuf : c->pend + c->npend * D;
            xt_xl_head_project(&m->xl, tok, feat, n);
            int64_t t0 = ((int64_t)rr * fh + y) * gw + x0;
            if (c->ip_tap) memcpy(c->ip_tap + t0 * D, tok, (size_t)n * D * sizeof(float));
            for (int j = 0; j < n; j++) {
                xt_sincos_pos_embed_token(pe, D, rr * fh + y, x0 + j);
                float *t = tok + (size_t)j * D;
                for (int d = 0; d < D; d++) t[d] += pe[d];
            }
            if (c->store) {
                if (c->store->append(c->store, tok, n)) return -1;
            } else {
                c->npend += n;
                if (run_windows(c, 0)) return -1;
            }
        }
    return 0;
}

int xt_ctx_push(xt_ctx *c, const float *feat) {
    const xt_xtmodel_info *in = &c->m->info;
    if (c->failed) return xt_error("xt", "context: an earlier step failed");
    if (c->pushed >= c->HP * c->WP) return xt_error("xt", "context: more than %d x %d regions pushed", c->HP, c->WP);
    size_t hw = (size_t)in->feat_h * in->feat_w;
    if (c->gap) {
        for (int ch = 0; ch < in->feat_c; ch++) {
            double s = 0;
            for (size_t i = 0; i < hw; i++) s += feat[ch * hw + i];
            c->gap[ch] += s;
        }
        c->pushed++;
        return 0;
    }
    if (c->tapping && !c->ip_tap) c->ip_tap = xt_malloc_checked((size_t)c->L * in->hidden * sizeof(float), "tap");
    int rc = c->pushed % c->WP;
    memcpy(c->rowbuf + rc * in->feat_c * hw, feat, in->feat_c * hw * sizeof(float));
    c->pushed++;
    if (rc == c->WP - 1 && flush_row(c, (c->pushed - 1) / c->WP)) { c->failed = 1; return -1; }
    return 0;
}

int xt_ctx_logits(xt_ctx *c, float *logits) {
    xt_xtmodel *m = c->m;
    const xt_xtmodel_info *in = &m->info;
    const xt_tap *tap = c->tapping ? &c->tap : NULL;
    if (c->failed) return xt_error("xt", "context: an earlier step failed");
    if (c->pushed != c->HP * c->WP) return xt_error("xt", "context: %d of %d regions pushed", c->pushed, c->HP * c->WP);
    if (c->gap) {
        float *pooled = xt_xmalloc(in->feat_c * sizeof(float));
        double cnt = (double)c->L;
        for (int ch = 0; ch < in->feat_c; ch++) pooled[ch] = (float)(c->gap[ch] / cnt);
        xt_naive_head_forward(&m->naive, logits, pooled, tap, "");
        free(pooled);
        return 0;
    }
    const int D = in->hidden;
    if (tap) {
        int64_t s3[3] = {1, c->L, D}, s2[2] = {c->L, D};
        xt_tap_emitf(tap, c->ip_tap, 3, s3, "decoder.input_proj");
        float *pe = xt_malloc_checked((size_t)c->L * D * sizeof(float), "pos_embed tap");
        if (!pe) return -1;
        xt_sincos_pos_embed_2d(pe, D, c->gh, c->gw);
        xt_tap_emitf(tap, pe, 2, s2, "pos_embed");
        free(pe);
    }
    float *v = xt_xmalloc(D * sizeof(float));
    int rc = 0;
    if (c->store) {
        int64_t L1 = c->L + 1;
        float *x;
        if (c->store->free == mem_free) {
            // in-memory store: append the cls token and take its buffer (no second copy)
            rc = mem_append(c->store, m->xl.cls_token, 1);
            mem_store *ms = c->store->impl;
            x = ms->p;
            ms->p = NULL, ms->cap = 0, c->store->n = 0;
            if (rc || c->store->n != 0) { free(x); free(v); return -1; }
        } else {
            x = xt_malloc_checked((size_t)L1 * D * sizeof(float), "token sequence");
            if (!x) { free(v); return -1; }
            rc = c->store->read(c->store, 0, c->L, x);
            memcpy(x + c->L * D, m->xl.cls_token, D * sizeof(float));
        }
        if (!rc) rc = run_layers(c, x, (int)L1, "");
        memcpy(v, x + c->L * D, D * sizeof(float));
        free(x);
    } else {
        rc = run_windows(c, 1);
        for (int d = 0; d < D; d++) v[d] = (float)(c->cls_sum[d] / c->n_win);
    }
    if (!rc) xt_xl_head_classify(&m->xl, logits, v, tap, "");
    free(v);
    if (rc) c->failed = 1;
    return rc;
}

void xt_ctx_free(xt_ctx *c) {
    if (!c) return;
    free(c->gap);
    free(c->rowbuf);
    free(c->rowtok);
    free(c->ip_tap);
    free(c->tokbuf);
    free(c->pebuf);
    free(c->mtmp);
    if (c->store) c->store->free(c->store);
    free(c->pend);
    free(c->win);
    if (c->mem)
        for (int i = 0; i < c->m->info.n_layers; i++) free(c->mem[i]);
    free(c->mem);
    free(c->mem_len);
    free(c->cls_sum);
    xt_arena_free(&c->ws);
    free(c);
}

// ---------------------------------------------------------------------------------------------
// `xt verify` for kind "xt": everything through the streaming API above.
//
// A context run is per image; a collector gathers each image's tapped tensors (leading dim 1)
// and emits them concatenated over the batch, as the official batched forward reports them.

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
static int run_contexts(xt_xtmodel *m, const float *feat, int N, int HP, int WP, const xt_tap *tap, const char *prefix) {
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

int xt__xt_verify_context(xt_st *st, const xt_json *cfg, xt_xtmodel *m, const float *feat, int N, int HP, int WP,
                          const xt_tap *tap) {
    const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
    if (run_contexts(m, feat, N, HP, WP, tap, "")) return -1;
    // variants: those the config lists, and blockmask wherever the hyper long path runs
    const xt_json *vs = xt_json_get(cfg, "variants");
    int nv = vs && vs->type == XT_JSON_ARR ? vs->n : 0;
    int64_t L1 = (int64_t)HP * in->feat_h * WP * in->feat_w + 1;
    int want_bm = in->head == XT_HEAD_XL && in->attn == XT_ATTN_HYPER && takes_long_path(cfg, L1) && !find_variant(cfg, "blockmask");
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
