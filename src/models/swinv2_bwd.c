// swinv2_bwd.c — the Swin V2 region encoder for training: a training forward that keeps every
// activation backward needs in one planned arena, and the backward (parameter gradients and the
// gradient w.r.t. the image).
//
// Same semantics as swinv2.c (timm 0.9.7 SwinTransformerV2, features_only): patch embed conv
// 4x4/4 + LayerNorm; stages [PatchMerging (s > 0)] + res-post-norm blocks
//   x1 = x + norm1(proj(cosine window attention(x)));  x2 = x1 + norm2(fc2(GELU(fc1(x1))))
// It differs in what it keeps: weights are mutable (the flat xt_params set), the position-bias
// MLP and the logit-scale clamp are recomputed every forward (they depend on trained weights),
// and per block it saves the window-ordered input, qkv, normalised q/k and their norms, the
// attention probabilities, the attention output, norm inputs with mean/rstd, and the MLP hidden.
//
// Memory per block and region: tokens T = (S/4 / 2^s)^2, with probabilities T*NH*n (n = window
// tokens) dominating stage 0 and the MLP hidden 2*T*F next; see docs/training.md.
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "models/models.h"
#include "nn/nn.h"
#include "models/trainable.h"

typedef struct {
    int C, NH, HS, F, shift;
    int ls, qb, vb, c0w, c0b, c2w, qkvw, projw, projb, n1w, n1b, fc1w, fc1b, fc2w, fc2b, n2w, n2b; // param ids
    // saved activations of the last forward (in the act arena)
    float *xw, *qkvb, *qkv, *ao, *a, *mean1, *rstd1, *x1, *h1, *g1, *mm, *mean2, *rstd2, *bias, *cpb_hid, *cpb_raw,
        *scale;
    xt_window_attn_saved att; // probabilities, normalised q and k and their norms
} tblock;

typedef struct {
    int C, Cin, res, depth, ws, pws, n, nwin, ntab; // nwin: windows per region; ntab: cpb table rows; pws: pretrained window
    int redw, dnw, dnb;                        // PatchMerging param ids (s > 0)
    float *table;                              // cpb table (ntab, 2)
    int *lab;                                  // shift-mask labels (nwin, n) or NULL
    int *index;                                // (n, n) relative position index
    tblock *blk;
    float *gath, *red, *dmean, *drstd;         // saved: merge gather, reduction out, its norm stats
} tstage;

typedef struct {
    int embed, n_stages, img, in_chans, grid, nblocks;
    int pew, peb, penw, penb;
    tstage st[XT_MAX_STAGES];
    tblock *blocks;
    int B;                                     // batch of the last forward
    float *col, *pey, *pemean, *perstd, *x;    // saved patch-embed activations; token stream
    float *attn_scr;                           // window-attention scratch: attn_threads x attn_per floats
    size_t attn_per;
    int attn_threads;
} tmodel;

// ---------------------------------------------------------------------------------------------
// build

// id[i] = the parameter "<scope><p[i].name>" (scope: printf format and arguments), registered
static void reg(xt_params *P, int *id, const xt_swin_param *p, int n, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void reg(xt_params *P, int *id, const xt_swin_param *p, int n, const char *fmt, ...) {
    char scope[160], nm[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(scope, sizeof scope, fmt, ap);
    va_end(ap);
    for (int i = 0; i < n; i++) {
        snprintf(nm, sizeof nm, "%s%s", scope, p[i].name);
        id[i] = xt_params_add(P, nm, p[i].ndim, p[i].shape);
    }
}

static void tmodel_free(tmodel *m) {
    if (!m) return;
    for (int s = 0; s < XT_MAX_STAGES; s++) {
        free(m->st[s].table);
        free(m->st[s].lab);
        free(m->st[s].index);
    }
    free(m->blocks);
    free(m);
}

// ref: timm 0.9.7 WindowAttention relative_coords_table / relative_position_index (nn.h: the
// same builders as inference's xt_swin_cpb_bias)
static void make_tables(tstage *S) {
    int ws = S->ws, t = 2 * ws - 1;
    S->ntab = t * t;
    S->table = xt_xmalloc((size_t)S->ntab * 2 * sizeof(float));
    S->index = xt_xmalloc((size_t)S->n * S->n * sizeof(int));
    xt_swin_cpb_table(S->table, S->index, ws, S->pws);
}

// ref: timm 0.9.7 SwinTransformerV2Block attn_mask: the region labels of the rolled map per window
// (the forward runs on partitioned windows, so the attention cannot derive them from the shift)
static void make_labels(tstage *S, int shift) {
    int ws = S->ws, R = S->res, nwd = R / ws, n = S->n;
    S->lab = xt_xmalloc((size_t)S->nwin * n * sizeof(int));
    for (int w = 0; w < S->nwin; w++)
        for (int i = 0; i < n; i++) {
            int y = (w / nwd) * ws + i / ws, x = (w % nwd) * ws + i % ws;
            S->lab[(size_t)w * n + i] = xt_swin_mask_label(y, x, R, R, ws, shift);
        }
}

// Sizes past which training's saved activations (probabilities T*NH*n*n, cpb tables, shift
// labels) stop being practical; the shared reader accepts larger inference configs.
#define TRAIN_MAX_EMBED 4096
#define TRAIN_MAX_WINDOW 64
#define TRAIN_MAX_DEPTH 64
#define TRAIN_MAX_MLP_RATIO 16
#define TRAIN_MAX_IMG 16384

static tmodel *tmodel_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size) {
    const char *pre = prefix ? prefix : "";
    xt_swin_cfg c;
    if (xt_swin_cfg_parse(cfg, img_size, &c)) return xt_error_prefix("swinv2 train"), NULL;
    if (c.img != img_size)
        return xt_error("swinv2 train", "config img_size %d, but the regions are %d pixels (the inference encoder "
                        "refuses that model too)", c.img, img_size), NULL;
    if (c.embed > TRAIN_MAX_EMBED || c.window > TRAIN_MAX_WINDOW || c.mlp_ratio > TRAIN_MAX_MLP_RATIO || c.img > TRAIN_MAX_IMG)
        return xt_error("swinv2 train", "embed_dim %d, window_size %d, mlp_ratio %g or region size %d is past the training "
                        "limits (%d, %d, %d, %d)", c.embed, c.window, c.mlp_ratio, c.img, TRAIN_MAX_EMBED,
                        TRAIN_MAX_WINDOW, TRAIN_MAX_MLP_RATIO, TRAIN_MAX_IMG), NULL;
    for (int s = 0; s < c.n_stages; s++)
        if (c.st[s].depth > TRAIN_MAX_DEPTH)
            return xt_error("swinv2 train", "depths[%d] = %d is past the training limit %d", s, c.st[s].depth,
                            TRAIN_MAX_DEPTH), NULL;
    tmodel *m = xt_xcalloc(1, sizeof *m);
    m->embed = c.embed;
    m->n_stages = c.n_stages;
    m->img = c.img;
    m->in_chans = c.in_chans;
    m->grid = c.grid;
    for (int s = 0; s < c.n_stages; s++) m->nblocks += c.st[s].depth;
    m->blocks = xt_xcalloc(m->nblocks ? m->nblocks : 1, sizeof(tblock));
    int bi = 0, id[XT_SWIN_BLOCK_PARAMS];
    xt_swin_param pa[XT_SWIN_BLOCK_PARAMS];
    xt_swin_stem_params(&c, pa);
    reg(P, id, pa, XT_SWIN_STEM_PARAMS, "%spatch_embed.", pre);
    m->pew = id[XT_SWIN_PE_W], m->peb = id[XT_SWIN_PE_B], m->penw = id[XT_SWIN_PE_NORM_W], m->penb = id[XT_SWIN_PE_NORM_B];
    for (int s = 0; s < c.n_stages; s++) {
        const xt_swin_stage *G = &c.st[s];
        tstage *S = &m->st[s];
        S->C = G->C;
        S->Cin = G->Cin;
        S->res = G->res;
        S->depth = G->depth;
        S->ws = G->ws;
        S->n = S->ws * S->ws;
        S->nwin = (S->res / S->ws) * (S->res / S->ws);
        S->blk = m->blocks + bi;
        S->pws = G->pws;
        make_tables(S);
        if (S->depth > 1 && G->shift) make_labels(S, G->shift);
        if (s) {
            xt_swin_merge_params(G, pa);
            reg(P, id, pa, XT_SWIN_MERGE_PARAMS, "%slayers_%d.downsample.", pre, s);
            S->redw = id[XT_SWIN_RED_W], S->dnw = id[XT_SWIN_DS_NORM_W], S->dnb = id[XT_SWIN_DS_NORM_B];
        }
        xt_swin_block_params(G, pa);
        for (int b = 0; b < S->depth; b++, bi++) {
            tblock *k = &S->blk[b];
            k->C = S->C, k->NH = G->heads, k->HS = S->C / G->heads, k->F = G->hidden;
            k->shift = xt_swin_block_shift(G, b);
            reg(P, id, pa, XT_SWIN_BLOCK_PARAMS, "%slayers_%d.blocks.%d.", pre, s, b);
            k->ls = id[XT_SWIN_LOGIT_SCALE], k->qb = id[XT_SWIN_Q_BIAS], k->vb = id[XT_SWIN_V_BIAS];
            k->c0w = id[XT_SWIN_CPB0_W], k->c0b = id[XT_SWIN_CPB0_B], k->c2w = id[XT_SWIN_CPB2_W];
            k->qkvw = id[XT_SWIN_QKV_W], k->projw = id[XT_SWIN_PROJ_W], k->projb = id[XT_SWIN_PROJ_B];
            k->n1w = id[XT_SWIN_NORM1_W], k->n1b = id[XT_SWIN_NORM1_B], k->n2w = id[XT_SWIN_NORM2_W], k->n2b = id[XT_SWIN_NORM2_B];
            k->fc1w = id[XT_SWIN_FC1_W], k->fc1b = id[XT_SWIN_FC1_B], k->fc2w = id[XT_SWIN_FC2_W], k->fc2b = id[XT_SWIN_FC2_B];
        }
    }
    return m;
}

// ---------------------------------------------------------------------------------------------
// activation plan: the same code sizes (measuring arena) and places (real arena) the buffers

// Places the saved activations of a forward of B regions in a, setting out's pointers; with out
// NULL only counts them (a measuring arena) and touches nothing. The geometry comes from m alone.
static void plan_acts(const tmodel *m, int B, xt_arena *a, tmodel *out) {
    tmodel sink_m;
    tstage sink_s;
    tblock sink_b;
    tmodel *o = out ? out : &sink_m;
    size_t L0 = (size_t)m->grid * m->grid, maxtok = 0;
    o->attn_per = 0;
    o->col = xt_arena_f32(a, B * L0 * m->in_chans * 16);
    o->pey = xt_arena_f32(a, B * L0 * m->embed);
    o->pemean = xt_arena_f32(a, B * L0);
    o->perstd = xt_arena_f32(a, B * L0);
    for (int s = 0; s < m->n_stages; s++) {
        const tstage *S = &m->st[s];
        tstage *os = out ? &out->st[s] : &sink_s;
        size_t T = (size_t)B * S->res * S->res, C = S->C;
        if (T * C > maxtok) maxtok = T * C;
        if (s) {
            os->gath = xt_arena_f32(a, T * 4 * S->Cin);
            os->red = xt_arena_f32(a, T * C);
            os->dmean = xt_arena_f32(a, T);
            os->drstd = xt_arena_f32(a, T);
        }
        for (int b = 0; b < S->depth; b++) {
            const tblock *g = &S->blk[b];
            tblock *k = out ? &out->st[s].blk[b] : &sink_b;
            size_t nw = (size_t)B * S->nwin;
            k->xw = xt_arena_f32(a, T * C);
            k->qkvb = xt_arena_f32(a, 3 * C);
            k->qkv = xt_arena_f32(a, T * 3 * C);
            k->att.qn = xt_arena_f32(a, T * C);
            k->att.kn = xt_arena_f32(a, T * C);
            k->att.qnorm = xt_arena_f32(a, T * g->NH);
            k->att.knorm = xt_arena_f32(a, T * g->NH);
            k->att.p = xt_arena_f32(a, nw * g->NH * S->n * S->n);
            size_t per = (xt_window_attn_scratch_floats(S->ws, g->HS) + 15) & ~(size_t)15;
            if (per > o->attn_per) o->attn_per = per;
            k->ao = xt_arena_f32(a, T * C);
            k->a = xt_arena_f32(a, T * C);
            k->mean1 = xt_arena_f32(a, T);
            k->rstd1 = xt_arena_f32(a, T);
            k->x1 = xt_arena_f32(a, T * C);
            k->h1 = xt_arena_f32(a, T * g->F);
            k->g1 = xt_arena_f32(a, T * g->F);
            k->mm = xt_arena_f32(a, T * C);
            k->mean2 = xt_arena_f32(a, T);
            k->rstd2 = xt_arena_f32(a, T);
            k->bias = xt_arena_f32(a, (size_t)g->NH * S->n * S->n);
            k->cpb_hid = xt_arena_f32(a, 2 * (size_t)S->ntab * XT_SWIN_CPB_HIDDEN);
            k->cpb_raw = xt_arena_f32(a, (size_t)S->ntab * g->NH);
            k->scale = xt_arena_f32(a, g->NH);
        }
    }
    o->x = xt_arena_f32(a, maxtok);
    o->attn_threads = xt_get_threads();
    o->attn_scr = xt_arena_f32(a, o->attn_per * o->attn_threads);
}

static size_t act_bytes(const xt_encoder_train *e, int B) {
    xt_arena a;
    xt_arena_init(&a, 0);
    plan_acts(e->impl, B, &a, NULL);
    return a.high + 64;
}

typedef struct {
    float *dx, *t1, *t2, *big, *dbias, *dscale, *part, *cpb, *dcol;
} bscratch;

static void plan_scratch(const tmodel *m, int B, xt_arena *a, bscratch *s) {
    size_t tok = (size_t)B * m->grid * m->grid * m->embed, big = 0, nhnn = 0, nh = 0, part = 0, cpb = 0;
    for (int i = 0; i < m->n_stages; i++) {
        const tstage *S = &m->st[i];
        size_t T = (size_t)B * S->res * S->res;
        if (T * S->C > tok) tok = T * S->C;
        if (i && T * 4 * S->Cin > big) big = T * 4 * S->Cin;
        for (int b = 0; b < S->depth; b++) {
            const tblock *k = &S->blk[b];
            size_t w = T * (size_t)(k->F > 3 * k->C ? k->F : 3 * k->C);
            if (w > big) big = w;
            if ((size_t)k->NH * S->n * S->n > nhnn) nhnn = (size_t)k->NH * S->n * S->n;
            if ((size_t)k->NH > nh) nh = k->NH;
            if ((size_t)B * S->nwin * k->NH > part) part = (size_t)B * S->nwin * k->NH;
            size_t c = (size_t)S->ntab * (k->NH + XT_SWIN_CPB_HIDDEN);
            if (c > cpb) cpb = c;
        }
    }
    s->dx = xt_arena_f32(a, tok);
    s->t1 = xt_arena_f32(a, tok);
    s->t2 = xt_arena_f32(a, tok);
    s->big = xt_arena_f32(a, big);
    s->dbias = xt_arena_f32(a, nhnn);
    s->dscale = xt_arena_f32(a, nh);
    s->part = xt_arena_f32(a, part);
    s->cpb = xt_arena_f32(a, cpb);
    s->dcol = xt_arena_f32(a, (size_t)B * m->grid * m->grid * m->in_chans * 16);
}

static size_t scratch_bytes(const xt_encoder_train *e, int B) {
    xt_arena a;
    bscratch s;
    xt_arena_init(&a, 0);
    plan_scratch(e->impl, B, &a, &s);
    return a.high + 64;
}

// ---------------------------------------------------------------------------------------------
// training forward

static int forward(xt_encoder_train *e, const xt_params *P, const float *img, int B, float *const *out, xt_arena *act,
                   const xt_tap *tap, const char *prefix) {
    tmodel *m = e->impl;
    if (B < 1) return xt_error("swinv2 train", "batch size %d", B);
    if (xt_arena_require(act, act_bytes(e, B), "swinv2 train", "activation arena")) return -1;
    plan_acts(m, B, act, m);
    m->B = B;
    const char *pre = prefix ? prefix : "";
    int g = m->grid, C0 = m->embed;
    size_t L = (size_t)g * g;
    float *x = m->x;
    // ref: timm.layers.PatchEmbed (conv 4x4/4, NHWC, LayerNorm)
    xt_patch_embed_forward(m->pey, m->col, img, xt_pw(P, m->pew), xt_pw(P, m->peb), B, m->in_chans, m->img, m->img, 4, C0);
    xt_layernorm_forward(x, m->pemean, m->perstd, m->pey, xt_pw(P, m->penw), xt_pw(P, m->penb), (int)(B * L), C0, 1e-5f);
    if (xt_tap_on(tap)) {
        int64_t sh[4] = {B, g, g, C0};
        xt_tap_emitf(tap, x, 4, sh, "%spatch_embed", pre);
    }
    for (int s = 0; s < m->n_stages; s++) {
        tstage *S = &m->st[s];
        int C = S->C, Rs = S->res, T;
        L = (size_t)Rs * Rs;
        T = (int)(B * L);
        if (s) { // ref: PatchMerging.forward (gather, reduction, norm)
            xt_patch_merge_gather(S->gath, x, B, 2 * Rs, 2 * Rs, S->Cin);
            xt_linear_forward(S->red, S->gath, xt_pw(P, S->redw), NULL, T, 4 * S->Cin, C);
            xt_layernorm_forward(x, S->dmean, S->drstd, S->red, xt_pw(P, S->dnw), xt_pw(P, S->dnb), T, C, 1e-5f);
            if (xt_tap_on(tap)) {
                int64_t sh[4] = {B, Rs, Rs, C};
                xt_tap_emitf(tap, x, 4, sh, "%slayers_%d.downsample", pre, s);
            }
        }
        for (int b = 0; b < S->depth; b++) { // ref: SwinTransformerV2Block.forward / WindowAttention.forward
            tblock *k = &S->blk[b];
            int NH = k->NH, nw = B * S->nwin;
            xt_swin_attn_consts(k->qkvb, k->scale, xt_pw(P, k->qb), xt_pw(P, k->vb), xt_pw(P, k->ls), C, NH);
            xt_cpb_forward(k->bias, k->cpb_hid, k->cpb_raw, S->table, S->index, xt_pw(P, k->c0w), xt_pw(P, k->c0b),
                           xt_pw(P, k->c2w), S->ntab, XT_SWIN_CPB_HIDDEN, NH, S->n);
            xt_window_partition(k->xw, x, B, Rs, Rs, C, S->ws, k->shift);
            xt_linear_forward(k->qkv, k->xw, xt_pw(P, k->qkvw), k->qkvb, T, C, 3 * C);
            xt_window_attn_forward(k->ao, &k->att, k->qkv, NULL, k->scale, k->bias, k->shift ? S->lab : NULL, S->nwin,
                                   nw, S->ws, S->ws, C, NH, S->ws, 0, m->attn_scr, m->attn_per, m->attn_threads);
            xt_linear_forward(k->x1, k->ao, xt_pw(P, k->projw), xt_pw(P, k->projb), T, C, C); // x1 as temp
            xt_window_reverse(k->a, k->x1, B, Rs, Rs, C, S->ws, k->shift);
            xt_layernorm_forward(k->x1, k->mean1, k->rstd1, k->a, xt_pw(P, k->n1w), xt_pw(P, k->n1b), T, C, 1e-5f);
            xt_add(k->x1, k->x1, x, (size_t)T * C); // x1 = x + norm1(attn(x))
            xt_linear_forward(k->h1, k->x1, xt_pw(P, k->fc1w), xt_pw(P, k->fc1b), T, C, k->F);
            xt_gelu_forward(k->g1, k->h1, (size_t)T * k->F);
            xt_linear_forward(k->mm, k->g1, xt_pw(P, k->fc2w), xt_pw(P, k->fc2b), T, k->F, C);
            xt_layernorm_forward(x, k->mean2, k->rstd2, k->mm, xt_pw(P, k->n2w), xt_pw(P, k->n2b), T, C, 1e-5f);
            xt_add(x, x, k->x1, (size_t)T * C); // x2 = x1 + norm2(mlp(x1))
            if (xt_tap_on(tap)) {
                int64_t sh[4] = {B, Rs, Rs, C};
                xt_tap_emitf(tap, x, 4, sh, "%slayers_%d.blocks.%d", pre, s, b);
            }
        }
        if (out && out[s]) xt_nhwc_to_nchw(out[s], x, B, (int)L, C);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// backward

static void colsum_add(float *db, const float *d, int T, int ld, int C) {
    for (int t = 0; t < T; t++)
        for (int c = 0; c < C; c++) db[c] += d[(size_t)t * ld + c];
}

static int backward(xt_encoder_train *e, xt_params *P, const float *const *dout, float *dimg, xt_arena *scratch) {
    tmodel *m = e->impl;
    int B = m->B;
    XT_ASSERT(B > 0); // backward needs a forward
    if (xt_arena_require(scratch, scratch_bytes(e, B), "swinv2 train", "backward scratch")) return -1;
    size_t mark = xt_arena_mark(scratch);
    bscratch z;
    plan_scratch(m, B, scratch, &z);
    float *dx = z.dx;
    for (int s = m->n_stages - 1; s >= 0; s--) {
        tstage *S = &m->st[s];
        int C = S->C, Rs = S->res, T = B * Rs * Rs;
        // gradient at the stage output: its cotangent (+ what the next stage's merge sent back, in dx)
        if (s == m->n_stages - 1) memset(dx, 0, (size_t)T * C * sizeof(float));
        if (dout && dout[s]) {
            xt_nchw_to_nhwc(z.t1, dout[s], B, C, Rs * Rs);
            xt_add(dx, dx, z.t1, (size_t)T * C);
        }
        for (int b = S->depth - 1; b >= 0; b--) {
            tblock *k = &S->blk[b];
            int NH = k->NH, F = k->F, nw = B * S->nwin;
            float *t1 = z.t1, *t2 = z.t2, *big = z.big;
            // x2 = x1 + norm2(mm): dmm = LN2'(dx)
            xt_layernorm_backward(t1, xt_pg(P, k->n2w), xt_pg(P, k->n2b), dx, k->mm, xt_pw(P, k->n2w), k->mean2, k->rstd2, T, C);
            // mm = fc2(g1); g1 = GELU(h1); h1 = fc1(x1)
            xt_linear_backward(big, xt_pg(P, k->fc2w), xt_pg(P, k->fc2b), t1, k->g1, xt_pw(P, k->fc2w), T, F, C);
            xt_gelu_backward(big, big, k->h1, (size_t)T * F);
            xt_linear_backward(t2, xt_pg(P, k->fc1w), xt_pg(P, k->fc1b), big, k->x1, xt_pw(P, k->fc1w), T, C, F);
            xt_add(dx, dx, t2, (size_t)T * C); // dx1 = dx2 + (MLP path)
            // x1 = x + norm1(a): da = LN1'(dx1); dx keeps the residual
            xt_layernorm_backward(t1, xt_pg(P, k->n1w), xt_pg(P, k->n1b), dx, k->a, xt_pw(P, k->n1w), k->mean1, k->rstd1, T, C);
            // a = reverse(proj(ao)): partition back to window order, then proj
            xt_window_partition(t2, t1, B, Rs, Rs, C, S->ws, k->shift);
            xt_linear_backward(t1, xt_pg(P, k->projw), xt_pg(P, k->projb), t2, k->ao, xt_pw(P, k->projw), T, C, C);
            // ao = cosine attention(qkv, bias, scale)
            memset(z.dbias, 0, (size_t)NH * S->n * S->n * sizeof(float));
            memset(z.dscale, 0, NH * sizeof(float));
            xt_window_attn_backward(big, z.dbias, z.dscale, t1, &k->att, k->qkv, k->scale, nw, S->n, NH, k->HS, z.part);
            const float *ls = xt_pw(P, k->ls);
            float *dls = xt_pg(P, k->ls);
            for (int h = 0; h < NH; h++) // scale = exp(clamp(ls, max=log 100)): no gradient where clamped
                if (ls[h] <= XT_SWIN_LOGIT_MAX) dls[h] += z.dscale[h] * k->scale[h];
            xt_cpb_backward(xt_pg(P, k->c0w), xt_pg(P, k->c0b), xt_pg(P, k->c2w), z.dbias, k->cpb_hid, k->cpb_raw,
                            S->table, S->index, xt_pw(P, k->c2w), S->ntab, XT_SWIN_CPB_HIDDEN, NH, S->n, z.cpb);
            // qkv = xw qkv_w^T + cat(q_bias, 0, v_bias)
            colsum_add(xt_pg(P, k->qb), big, T, 3 * C, C);
            colsum_add(xt_pg(P, k->vb), big + 2 * C, T, 3 * C, C);
            xt_linear_backward(t2, xt_pg(P, k->qkvw), NULL, big, k->xw, xt_pw(P, k->qkvw), T, C, 3 * C);
            xt_window_reverse(t1, t2, B, Rs, Rs, C, S->ws, k->shift); // xw = partition(roll(x))
            xt_add(dx, dx, t1, (size_t)T * C);
        }
        if (s) { // x = norm(red); red = gather(x_prev) w^T
            xt_layernorm_backward(z.t1, xt_pg(P, S->dnw), xt_pg(P, S->dnb), dx, S->red, xt_pw(P, S->dnw), S->dmean, S->drstd, T, C);
            xt_linear_backward(z.big, xt_pg(P, S->redw), NULL, z.t1, S->gath, xt_pw(P, S->redw), T, 4 * S->Cin, C);
            xt_patch_merge_scatter(dx, z.big, B, 2 * Rs, 2 * Rs, S->Cin);
        }
    }
    // patch embed: x = LN(conv(img)); the xView3 model also reads x itself (level 0)
    size_t L0 = (size_t)m->grid * m->grid;
    if (e->dstem) xt_add(dx, dx, e->dstem, B * L0 * m->embed);
    xt_layernorm_backward(z.t1, xt_pg(P, m->penw), xt_pg(P, m->penb), dx, m->pey, xt_pw(P, m->penw), m->pemean,
                          m->perstd, (int)(B * L0), m->embed);
    xt_patch_embed_backward(dimg, xt_pg(P, m->pew), xt_pg(P, m->peb), z.dcol, z.t1, m->col, xt_pw(P, m->pew), B,
                            m->in_chans, m->img, m->img, 4, m->embed);
    xt_arena_release(scratch, mark);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// the encoder behind the xt_encoder_train interface

static void encoder_free(xt_encoder_train *e) {
    if (!e) return;
    tmodel_free(e->impl);
    free(e);
}

xt_encoder_train *xt_swin_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size) {
    tmodel *m = tmodel_new(P, cfg, prefix, img_size);
    if (!m) return NULL;
    xt_encoder_train *e = xt_xmalloc(sizeof *e);
    *e = (xt_encoder_train){"swinv2", m->in_chans, m->img, m->n_stages, {0}, {0}, m, act_bytes, scratch_bytes, forward, backward, encoder_free, 1, NULL};
    for (int s = 0; s < e->n_stages; s++) e->stage_c[s] = m->st[s].C, e->stage_h[s] = m->st[s].res;
    return e;
}
