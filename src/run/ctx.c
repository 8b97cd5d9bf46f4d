// ctx.c — the context run of an xT model over one image (see ctx.h): region feature maps in,
// logits out, keeping only what the head needs (a running GAP; the pending window; or the
// token sequence for global attention). Everything a run changes is in its xt_ctx; the model
// (models/xt_model.h) is only read.
#include <stdio.h>
#include <string.h>

#include "models/xt_model.h"
#include "nn/nn.h"
#include "run/ctx.h"

struct xt_ctx {
    const xt_xtmodel *m;        // read only: runs of one model may go on at once
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
    xt_context_pass pass; // the context layers' per-pass state (HyperAttention's draws)
    xt_arena ws;          // layer workspace, sized lazily
    void (*progress)(void *u, int64_t done, int64_t total);
    void *progress_u;
    int (*region_fn)(void *u, int rr, const float *logits); // class maps: per-region logits
    void *region_u;
    float *rlog;          // (WP, num_classes) one row of region logits
    float *rpool;         // (max(feat_c, hidden)) one region's pooled feature / token
    int failed;
};

xt_ctx *xt_ctx_begin(const xt_xtmodel *m, int HP, int WP) {
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
    xt_context_pass_begin(&c->pass, &m->ctx);
    if (in->in_context_patches <= 0 || in->in_context_patches >= c->L + 1) {
        c->store = xt_token_store_new(D, SIZE_MAX, NULL); // in memory unless xt_ctx_set_store
        if (!c->store) goto fail;
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
    if (!c->store) { xt_token_store_free(s); return xt_error("xt", "context: this mode keeps no token sequence"); }
    if (c->pushed || xt_token_store_width(s) != c->m->info.hidden) {
        xt_token_store_free(s);
        return xt_error("xt", "context: token store set too late or with the wrong width");
    }
    xt_token_store_free(c->store);
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
    const xt_xtmodel *m = c->m;
    if (ensure_ws(c, L)) return -1;
    if (c->progress) c->progress(c->progress_u, 0, m->info.n_layers);
    for (int i = 0; i < m->info.n_layers; i++) {
        if (xt_context_layer_forward(&m->ctx, &c->pass, i, x, L, &c->ws, c->tapping ? &c->tap : NULL, sfx)) return -1;
        if (c->progress) c->progress(c->progress_u, i + 1, m->info.n_layers);
    }
    return 0;
}

int xt_ctx_set_region_logits(xt_ctx *c, int (*fn)(void *u, int rr, const float *logits), void *u) {
    const xt_xtmodel_info *in = &c->m->info;
    if (c->pushed) return xt_error("xt", "context: region logits requested after the first region");
    if (in->head == XT_HEAD_XL && !c->store)
        return xt_error("map", "per-region maps need a naive head or global context; this model's windowed context "
                              "(in_context_patches %d) encodes each token in several windows", in->in_context_patches);
    c->region_fn = fn, c->region_u = u;
    int w = in->feat_c > in->hidden ? in->feat_c : in->hidden;
    c->rlog = xt_xmalloc(sizeof(float) * c->WP * in->num_classes);
    c->rpool = xt_xmalloc(sizeof(float) * w);
    return 0;
}

// xl, global: per-region logits from the context-encoded sequence x (L, D), row by row
static int region_rows_xl(xt_ctx *c, const float *x) {
    const xt_xtmodel_info *in = &c->m->info;
    const int D = in->hidden, fh = in->feat_h, fw = in->feat_w, K = in->num_classes;
    double *acc = xt_xcalloc(D, sizeof(double));
    int rc = 0;
    for (int rr = 0; rr < c->HP && !rc; rr++) {
        for (int rc_ = 0; rc_ < c->WP; rc_++) {
            memset(acc, 0, sizeof(double) * D);
            for (int y = 0; y < fh; y++)
                for (int xx = 0; xx < fw; xx++) {
                    const float *t = x + (((int64_t)rr * fh + y) * c->gw + (int64_t)rc_ * fw + xx) * D;
                    for (int d = 0; d < D; d++) acc[d] += t[d];
                }
            for (int d = 0; d < D; d++) c->rpool[d] = (float)(acc[d] / (fh * fw));
            xt_xl_head_classify(&c->m->xl, c->rlog + (size_t)rc_ * K, c->rpool, NULL);
        }
        rc = c->region_fn(c->region_u, rr, c->rlog);
    }
    free(acc);
    return rc;
}

void xt_ctx_set_progress(xt_ctx *c, void (*fn)(void *u, int64_t done, int64_t total), void *u) {
    c->progress = fn;
    c->progress_u = u;
}

// one window: tokens seq[s, e) (+ the global cls if e == L + 1), with a fresh cls appended
static int run_window(xt_ctx *c, int64_t s, int64_t e) {
    const xt_xtmodel *m = c->m;
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
            if (xt_context_layer_forward(&m->ctx, &c->pass, i, xx, base, &c->ws, tap, sfx)) return -1;
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
            if (xt_context_layer_forward(&m->ctx, &c->pass, i, tmp, len, &c->ws, NULL, sfx)) return -1;
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
    const xt_xtmodel *m = c->m;
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
                if (xt_token_store_append(c->store, tok, n)) return -1;
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
        int rc = c->pushed % c->WP;
        for (int ch = 0; ch < in->feat_c; ch++) {
            double s = 0;
            for (size_t i = 0; i < hw; i++) s += feat[ch * hw + i];
            c->gap[ch] += s;
            if (c->region_fn) c->rpool[ch] = (float)(s / hw);
        }
        c->pushed++;
        if (c->region_fn) {
            xt_naive_head_forward(&c->m->naive, c->rlog + (size_t)rc * in->num_classes, c->rpool, NULL);
            if (rc == c->WP - 1 && c->region_fn(c->region_u, (c->pushed - 1) / c->WP, c->rlog)) { c->failed = 1; return -1; }
        }
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
    const xt_xtmodel *m = c->m;
    const xt_xtmodel_info *in = &m->info;
    const xt_tap *tap = c->tapping ? &c->tap : NULL;
    if (c->failed) return xt_error("xt", "context: an earlier step failed");
    if (c->pushed != c->HP * c->WP) return xt_error("xt", "context: %d of %d regions pushed", c->pushed, c->HP * c->WP);
    if (c->gap) {
        float *pooled = xt_xmalloc(in->feat_c * sizeof(float));
        double cnt = (double)c->L;
        for (int ch = 0; ch < in->feat_c; ch++) pooled[ch] = (float)(c->gap[ch] / cnt);
        xt_naive_head_forward(&m->naive, logits, pooled, tap);
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
        // the sequence with the cls token appended (the store's own buffer when it spilled nothing)
        int64_t L1 = c->L + 1;
        float *x = xt_token_store_take(c->store, m->xl.cls_token, 1);
        if (!x) { free(v); c->failed = 1; return -1; }
        rc = run_layers(c, x, (int)L1, "");
        memcpy(v, x + c->L * D, D * sizeof(float));
        if (!rc && c->region_fn) rc = region_rows_xl(c, x);
        free(x);
    } else {
        rc = run_windows(c, 1);
        for (int d = 0; d < D; d++) v[d] = (float)(c->cls_sum[d] / c->n_win);
    }
    if (!rc) xt_xl_head_classify(&m->xl, logits, v, tap);
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
    xt_token_store_free(c->store);
    free(c->pend);
    free(c->win);
    if (c->mem)
        for (int i = 0; i < c->m->info.n_layers; i++) free(c->mem[i]);
    free(c->mem);
    free(c->mem_len);
    free(c->cls_sum);
    free(c->rlog);
    free(c->rpool);
    xt_context_pass_free(&c->pass);
    xt_arena_free(&c->ws);
    free(c);
}
