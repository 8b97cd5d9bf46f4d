// hiera_bwd.c — the Hiera region encoder for training: a training forward that keeps every
// activation backward needs in one planned arena, and the backward (parameter gradients and the
// gradient w.r.t. the image).
//
// Same semantics and geometry as hiera.c (hiera v0.1.4 Hiera with return_intermediates; the
// config, per-block plan and unroll / reroll tables come from xt_hiera_geom_new): patch embed
// conv k7 s4 p3 -> + pos_embed -> unroll -> blocks
//   xn = LN1(x); r = dim changes ? maxpool_q(proj(xn)) : x;  x1 = r + proj(attn(xn));
//   y = x1 + fc2(GELU(fc1(LN2(x1))))
// with mask-unit attention whose query is max-pooled over the q_stride blocks when the block
// starts a pooled stage. Per block it saves the input, LN statistics, LN outputs, qkv, the pooled
// query with the argmax of each pooled element, the attention probabilities, the attention
// output, x1, the MLP hidden before and after GELU, and the residual pool's argmax.
// Max pools route the gradient to the first maximum (torch's max(dim) picks one; ties have
// measure zero with real weights).
//
// Memory per block and image: tokens N (entering) / Nq (leaving), probabilities heads*Nq*T
// (T = tokens of one mask unit, or N for global attention), MLP hidden 2*Nq*hidden.
// ref: hiera/hiera.py (HieraBlock, MaskUnitAttention, PatchEmbed, do_pool) @ b12b842
#include <string.h>

#include "models/backbones.h"
#include "nn/nn.h"
#include "models/trainable.h"

#define LN_EPS 1e-6f

typedef struct {
    xt_hiera_blk g;
    int n1w, n1b, qkvw, qkvb, projw, projb, n2w, n2b, fc1w, fc1b, fc2w, fc2b, pw, pb; // param ids (pw, pb -1: none)
    // saved activations of the last forward (in the act arena)
    float *xin, *mean1, *rstd1, *xn, *p, *qkv, *qp, *prob, *att, *x1, *mean2, *rstd2, *xn2, *h, *gl;
    int *pidx, *qidx; // argmax (0..q-1) of the residual pool / of each pooled query element
} tblock;

typedef struct {
    xt_hiera_geom g;
    int pew, peb, pos;
    tblock *blk;
    int B;                    // batch of the last forward
    size_t colsz;             // im2col floats per image
    float *col, *pe, *xout;   // saved im2col (B, Np, K); conv out (B, Np, C0) spatial; last block's output
} tmodel;

// ---------------------------------------------------------------------------------------------
// build

static void tmodel_free(tmodel *m) {
    if (!m) return;
    xt_hiera_geom_free(&m->g);
    free(m->blk);
    free(m);
}

static tmodel *tmodel_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size) {
    const char *pre = prefix ? prefix : "";
    tmodel *m = xt_xcalloc(1, sizeof *m);
    if (xt_hiera_geom_new(&m->g, cfg, img_size)) {
        free(m);
        return xt_error_prefix("hiera train"), NULL;
    }
    const xt_hiera_geom *G = &m->g;
    xt_conv2d_dims pd = {G->in_chans, G->img, G->img, G->C0, G->kh, G->kw, G->sh, G->sw, G->ph, G->pw};
    m->colsz = xt_conv2d_col_size(&pd);
    m->blk = xt_xcalloc(G->depth, sizeof *m->blk);
    // official state_dict order: the module's own pos_embed, then patch_embed, then blocks
    m->pos = xt_params_addf(P, 3, 1, G->Np, G->C0, 0, "%spos_embed", pre);
    m->pew = xt_params_addf(P, 4, G->C0, G->in_chans, G->kh, G->kw, "%spatch_embed.proj.weight", pre);
    m->peb = xt_params_addf(P, 1, G->C0, 0, 0, 0, "%spatch_embed.proj.bias", pre);
    for (int i = 0; i < G->depth; i++) {
        tblock *k = &m->blk[i];
        k->g = G->blk[i];
        int64_t dim = k->g.dim, D = k->g.dout, F = k->g.hidden;
        k->n1w = xt_params_addf(P, 1, dim, 0, 0, 0, "%sblocks.%d.norm1.weight", pre, i);
        k->n1b = xt_params_addf(P, 1, dim, 0, 0, 0, "%sblocks.%d.norm1.bias", pre, i);
        k->qkvw = xt_params_addf(P, 2, 3 * D, dim, 0, 0, "%sblocks.%d.attn.qkv.weight", pre, i);
        k->qkvb = xt_params_addf(P, 1, 3 * D, 0, 0, 0, "%sblocks.%d.attn.qkv.bias", pre, i);
        k->projw = xt_params_addf(P, 2, D, D, 0, 0, "%sblocks.%d.attn.proj.weight", pre, i);
        k->projb = xt_params_addf(P, 1, D, 0, 0, 0, "%sblocks.%d.attn.proj.bias", pre, i);
        k->n2w = xt_params_addf(P, 1, D, 0, 0, 0, "%sblocks.%d.norm2.weight", pre, i);
        k->n2b = xt_params_addf(P, 1, D, 0, 0, 0, "%sblocks.%d.norm2.bias", pre, i);
        k->fc1w = xt_params_addf(P, 2, F, D, 0, 0, "%sblocks.%d.mlp.fc1.weight", pre, i);
        k->fc1b = xt_params_addf(P, 1, F, 0, 0, 0, "%sblocks.%d.mlp.fc1.bias", pre, i);
        k->fc2w = xt_params_addf(P, 2, D, F, 0, 0, "%sblocks.%d.mlp.fc2.weight", pre, i);
        k->fc2b = xt_params_addf(P, 1, D, 0, 0, 0, "%sblocks.%d.mlp.fc2.bias", pre, i);
        k->pw = k->pb = -1;
        if (dim != D) {
            k->pw = xt_params_addf(P, 2, D, dim, 0, 0, "%sblocks.%d.proj.weight", pre, i);
            k->pb = xt_params_addf(P, 1, D, 0, 0, 0, "%sblocks.%d.proj.bias", pre, i);
        }
    }
    return m;
}

// ---------------------------------------------------------------------------------------------
// activation plan: the same code sizes (measuring arena) and places (real arena) the buffers

static int n_windows(const xt_hiera_blk *k) { return k->use_mu ? k->N / (k->q * k->window) : 1; }

// Places the saved activations of a forward of B images in a, setting out's pointers; with out
// NULL only counts them (a measuring arena) and touches nothing. The geometry comes from m alone.
static void plan_acts(const tmodel *m, int B, xt_arena *a, tmodel *out) {
    tmodel sink_m;
    tblock sink_b;
    tmodel *o = out ? out : &sink_m;
    const xt_hiera_geom *G = &m->g;
    o->col = xt_arena_f32(a, (size_t)B * m->colsz);
    o->pe = xt_arena_f32(a, (size_t)B * G->Np * G->C0);
    for (int i = 0; i < G->depth; i++) {
        const xt_hiera_blk *g = &m->blk[i].g;
        tblock *k = out ? &out->blk[i] : &sink_b;
        size_t N = (size_t)B * g->N, Nq = N / g->q, D = g->dout, T = g->N / n_windows(g);
        k->xin = xt_arena_f32(a, N * g->dim);
        k->mean1 = xt_arena_f32(a, N);
        k->rstd1 = xt_arena_f32(a, N);
        k->xn = xt_arena_f32(a, N * g->dim);
        k->p = g->dim != g->dout ? xt_arena_f32(a, N * D) : NULL;
        k->pidx = g->dim != g->dout ? (int *)xt_arena_f32(a, Nq * D) : NULL;
        k->qkv = xt_arena_f32(a, N * 3 * D);
        k->qp = xt_arena_f32(a, Nq * D);
        k->qidx = (int *)xt_arena_f32(a, Nq * D);
        k->prob = xt_arena_f32(a, Nq * g->heads * T);
        k->att = xt_arena_f32(a, Nq * D);
        k->x1 = xt_arena_f32(a, Nq * D);
        k->mean2 = xt_arena_f32(a, Nq);
        k->rstd2 = xt_arena_f32(a, Nq);
        k->xn2 = xt_arena_f32(a, Nq * D);
        k->h = xt_arena_f32(a, Nq * g->hidden);
        k->gl = xt_arena_f32(a, Nq * g->hidden);
    }
    const xt_hiera_blk *l = &G->blk[G->depth - 1];
    o->xout = xt_arena_f32(a, (size_t)B * (l->N / l->q) * l->dout);
}

static size_t act_bytes(const xt_encoder_train *e, int B) {
    xt_arena a;
    xt_arena_init(&a, 0);
    plan_acts(e->impl, B, &a, NULL);
    return a.high + 64;
}

typedef struct {
    float *dy, *dx1, *dxn, *t, *dqkv, *dh, *att, *dcol;
} bscratch;

static void plan_scratch(const tmodel *m, int B, xt_arena *a, bscratch *s) {
    const xt_hiera_geom *G = &m->g;
    size_t tok = (size_t)G->Np * G->C0, qkv = 0, hid = 0, att = 0;
    for (int i = 0; i < G->depth; i++) {
        const xt_hiera_blk *g = &G->blk[i];
        size_t N = g->N, Nq = N / g->q, nw = n_windows(g), T = N / nw, Tq = T / g->q;
        if (N * g->dim > tok) tok = N * g->dim;
        if (N * g->dout > tok) tok = N * g->dout;
        if (3 * N * g->dout > qkv) qkv = 3 * N * g->dout;
        if (Nq * g->hidden > hid) hid = Nq * g->hidden;
        size_t sc = g->heads * nw * (Tq * T + Tq * g->hd);
        if (sc > att) att = sc;
    }
    s->dy = xt_arena_f32(a, B * tok);
    s->dx1 = xt_arena_f32(a, B * tok);
    s->dxn = xt_arena_f32(a, B * tok);
    s->t = xt_arena_f32(a, B * tok);
    s->dqkv = xt_arena_f32(a, B * qkv);
    s->dh = xt_arena_f32(a, B * hid);
    s->att = xt_arena_f32(a, att); // attention backward runs one image at a time
    s->dcol = xt_arena_f32(a, m->colsz);
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
    if (B < 1) return xt_error("hiera train", "batch size %d", B);
    if (xt_arena_require(act, act_bytes(e, B), "hiera train", "activation arena")) return -1;
    plan_acts(m, B, act, m);
    m->B = B;
    const xt_hiera_geom *G = &m->g;
    const char *pre = prefix ? prefix : "";
    const int Np = G->Np, C0 = G->C0, S = G->img;
    // ref: PatchEmbed (conv, then flatten(2).transpose(1, 2): spatial token order, NHWC)
    xt_conv2d_dims pd = {G->in_chans, S, S, C0, G->kh, G->kw, G->sh, G->sw, G->ph, G->pw};
    for (int n = 0; n < B; n++)
        xt_conv2d_forward(m->pe + (size_t)n * Np * C0, m->col + (size_t)n * m->colsz, img + (size_t)n * G->in_chans * S * S,
                          xt_pw(P, m->pew), xt_pw(P, m->peb), 1, &pd, XT_CONV_OUT_NHWC);
    if (xt_tap_on(tap)) {
        int64_t sh[3] = {B, Np, C0};
        xt_tap_emitf(tap, m->pe, 3, sh, "%spatch_embed", pre);
    }
    const float *pos = xt_pw(P, m->pos);
    float *x0 = m->blk[0].xin;
    for (int n = 0; n < B; n++) // + pos_embed, then unroll
        for (int t = 0; t < Np; t++) {
            const int src = G->unroll[t];
            const float *a = m->pe + ((size_t)n * Np + src) * C0, *p = pos + (size_t)src * C0;
            float *dst = x0 + ((size_t)n * Np + t) * C0;
            for (int c = 0; c < C0; c++) dst[c] = a[c] + p[c];
        }
    for (int i = 0; i < G->depth; i++) { // ref: HieraBlock.forward
        tblock *k = &m->blk[i];
        const xt_hiera_blk *g = &k->g;
        const int N = g->N, Nq = N / g->q, D = g->dout, dim = g->dim, F = g->hidden, BN = B * N, BNq = B * Nq;
        float *y = i + 1 < G->depth ? m->blk[i + 1].xin : m->xout;
        xt_layernorm_forward(k->xn, k->mean1, k->rstd1, k->xin, xt_pw(P, k->n1w), xt_pw(P, k->n1b), BN, dim, LN_EPS);
        if (dim != D) { // residual: do_pool(proj(x_norm), q): max over the q outermost blocks of Nq tokens
            xt_linear_forward(k->p, k->xn, xt_pw(P, k->pw), xt_pw(P, k->pb), BN, dim, D);
            for (int n = 0; n < B; n++)
                for (int t = 0; t < Nq; t++) {
                    float *dst = y + ((size_t)n * Nq + t) * D;
                    int *arg = k->pidx + ((size_t)n * Nq + t) * D;
                    const float *src = k->p + ((size_t)n * N + t) * D;
                    for (int c = 0; c < D; c++) {
                        float mx = src[c];
                        int a = 0;
                        for (int s = 1; s < g->q; s++) {
                            float v = src[(size_t)s * Nq * D + c];
                            if (v > mx) mx = v, a = s;
                        }
                        dst[c] = mx;
                        arg[c] = a;
                    }
                }
        } else
            memcpy(y, k->xin, (size_t)BN * D * sizeof(float)); // dim == dout implies q == 1 (hiera_config)
        xt_linear_forward(k->qkv, k->xn, xt_pw(P, k->qkvw), xt_pw(P, k->qkvb), BN, dim, 3 * D);
        for (int n = 0; n < B; n++)
            xt_mask_unit_attn_forward(k->att + (size_t)n * Nq * D, k->qp + (size_t)n * Nq * D,
                                      k->qidx + (size_t)n * Nq * D, k->prob + (size_t)n * g->heads * Nq * (N / n_windows(g)),
                                      k->qkv + (size_t)n * N * 3 * D, N, D, g->heads, g->q, n_windows(g));
        xt_linear_forward(k->x1, k->att, xt_pw(P, k->projw), xt_pw(P, k->projb), BNq, D, D);
        xt_add(k->x1, k->x1, y, (size_t)BNq * D); // x1 = r + proj(attn(xn))
        xt_layernorm_forward(k->xn2, k->mean2, k->rstd2, k->x1, xt_pw(P, k->n2w), xt_pw(P, k->n2b), BNq, D, LN_EPS);
        xt_linear_forward(k->h, k->xn2, xt_pw(P, k->fc1w), xt_pw(P, k->fc1b), BNq, D, F);
        xt_gelu_forward(k->gl, k->h, (size_t)BNq * F);
        xt_linear_forward(y, k->gl, xt_pw(P, k->fc2w), xt_pw(P, k->fc2b), BNq, F, D);
        xt_add(y, y, k->x1, (size_t)BNq * D);
        if (xt_tap_on(tap)) { // unrolled token order
            int64_t sh[3] = {B, Nq, D};
            xt_tap_emitf(tap, y, 3, sh, "%sblocks.%d", pre, i);
        }
        if (g->end >= 0 && out && out[g->end]) { // reroll: scatter tokens to (B, C, h, w)
            const int s = g->end, HW = G->stage_h[s] * G->stage_h[s];
            const int *pix = G->pix[s];
            for (int n = 0; n < B; n++)
                for (int c = 0; c < D; c++) {
                    const float *src = y + (size_t)n * Nq * D + c;
                    float *dst = out[s] + ((size_t)n * D + c) * HW;
                    for (int t = 0; t < Nq; t++) dst[pix[t]] = src[(size_t)t * D];
                }
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// backward

// col2im of one image: dimg (IC, H, W) = sum of dcol (OH*OW, IC*KH*KW) over the taps reading it.
static void col2im(float *dimg, const float *dcol, const xt_conv2d_dims *d) {
    const int OH = xt_conv2d_out(d->H, d->KH, d->SH, d->PH), OW = xt_conv2d_out(d->W, d->KW, d->SW, d->PW);
    const int K = d->IC * d->KH * d->KW;
#pragma omp parallel for if ((size_t)OH * OW * K > 32768)
    for (int ic = 0; ic < d->IC; ic++) { // one channel plane per thread: no write conflicts
        float *plane = dimg + (size_t)ic * d->H * d->W;
        memset(plane, 0, (size_t)d->H * d->W * sizeof(float));
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const float *row = dcol + ((size_t)oy * OW + ox) * K + (size_t)ic * d->KH * d->KW;
                for (int ky = 0; ky < d->KH; ky++) {
                    int iy = oy * d->SH - d->PH + ky;
                    if (iy < 0 || iy >= d->H) continue;
                    for (int kx = 0; kx < d->KW; kx++) {
                        int ix = ox * d->SW - d->PW + kx;
                        if (ix >= 0 && ix < d->W) plane[(size_t)iy * d->W + ix] += row[ky * d->KW + kx];
                    }
                }
            }
    }
}

static int backward(xt_encoder_train *e, xt_params *P, const float *const *dout, float *dimg, xt_arena *scratch) {
    tmodel *m = e->impl;
    const int B = m->B;
    XT_ASSERT(B > 0); // backward needs a forward
    if (xt_arena_require(scratch, scratch_bytes(e, B), "hiera train", "backward scratch")) return -1;
    size_t mark = xt_arena_mark(scratch);
    bscratch z;
    plan_scratch(m, B, scratch, &z);
    const xt_hiera_geom *G = &m->g;
    {
        const xt_hiera_blk *l = &G->blk[G->depth - 1];
        memset(z.dy, 0, (size_t)B * (l->N / l->q) * l->dout * sizeof(float));
    }
    for (int i = G->depth - 1; i >= 0; i--) {
        tblock *k = &m->blk[i];
        const xt_hiera_blk *g = &k->g;
        const int N = g->N, Nq = N / g->q, D = g->dout, dim = g->dim, F = g->hidden, BN = B * N, BNq = B * Nq;
        if (g->end >= 0 && dout && dout[g->end]) { // reroll^-1: gather the stage cotangent into token order
            const int s = g->end, HW = G->stage_h[s] * G->stage_h[s];
            const int *pix = G->pix[s];
            for (int n = 0; n < B; n++)
                for (int c = 0; c < D; c++) {
                    float *dst = z.dy + (size_t)n * Nq * D + c;
                    const float *src = dout[s] + ((size_t)n * D + c) * HW;
                    for (int t = 0; t < Nq; t++) dst[(size_t)t * D] += src[pix[t]];
                }
        }
        // y = x1 + fc2(GELU(fc1(LN2(x1))))
        xt_linear_backward(z.dh, xt_pg(P, k->fc2w), xt_pg(P, k->fc2b), z.dy, k->gl, xt_pw(P, k->fc2w), BNq, F, D);
        xt_gelu_backward(z.dh, z.dh, k->h, (size_t)BNq * F);
        xt_linear_backward(z.t, xt_pg(P, k->fc1w), xt_pg(P, k->fc1b), z.dh, k->xn2, xt_pw(P, k->fc1w), BNq, D, F);
        xt_layernorm_backward(z.dx1, xt_pg(P, k->n2w), xt_pg(P, k->n2b), z.t, k->x1, xt_pw(P, k->n2w), k->mean2, k->rstd2,
                              BNq, D);
        xt_add(z.dx1, z.dx1, z.dy, (size_t)BNq * D); // dL/dx1
        // x1 = r + proj(att); att = attention(qkv(xn))
        xt_linear_backward(z.t, xt_pg(P, k->projw), xt_pg(P, k->projb), z.dx1, k->att, xt_pw(P, k->projw), BNq, D, D);
        for (int n = 0; n < B; n++)
            xt_mask_unit_attn_backward(z.dqkv + (size_t)n * N * 3 * D, z.att, z.t + (size_t)n * Nq * D,
                                       k->qkv + (size_t)n * N * 3 * D, k->qp + (size_t)n * Nq * D,
                                       k->qidx + (size_t)n * Nq * D,
                                       k->prob + (size_t)n * g->heads * Nq * (N / n_windows(g)), N, D, g->heads, g->q,
                                       n_windows(g));
        xt_linear_backward(z.dxn, xt_pg(P, k->qkvw), xt_pg(P, k->qkvb), z.dqkv, k->xn, xt_pw(P, k->qkvw), BN, dim, 3 * D);
        if (dim != D) { // r = maxpool_q(proj(xn)): unpool dx1 to the argmax, then proj
            memset(z.t, 0, (size_t)BN * D * sizeof(float));
            for (int n = 0; n < B; n++)
                for (int t = 0; t < Nq; t++) {
                    const float *src = z.dx1 + ((size_t)n * Nq + t) * D;
                    const int *arg = k->pidx + ((size_t)n * Nq + t) * D;
                    float *dst = z.t + ((size_t)n * N + t) * D;
                    for (int c = 0; c < D; c++) dst[(size_t)arg[c] * Nq * D + c] = src[c];
                }
            xt_linear_backward(z.dy, xt_pg(P, k->pw), xt_pg(P, k->pb), z.t, k->xn, xt_pw(P, k->pw), BN, dim, D);
            xt_add(z.dxn, z.dxn, z.dy, (size_t)BN * dim);
            xt_layernorm_backward(z.dy, xt_pg(P, k->n1w), xt_pg(P, k->n1b), z.dxn, k->xin, xt_pw(P, k->n1w), k->mean1,
                                  k->rstd1, BN, dim);
        } else { // r = x
            xt_layernorm_backward(z.dy, xt_pg(P, k->n1w), xt_pg(P, k->n1b), z.dxn, k->xin, xt_pw(P, k->n1w), k->mean1,
                                  k->rstd1, BN, dim);
            xt_add(z.dy, z.dy, z.dx1, (size_t)BN * dim);
        }
    }
    // z.dy: gradient at the unrolled (patch embed + pos_embed); undo the unroll into spatial order
    const int Np = G->Np, C0 = G->C0, S = G->img;
    float *dpos = xt_pg(P, m->pos);
    for (int n = 0; n < B; n++)
        for (int t = 0; t < Np; t++) {
            const int dst = G->unroll[t];
            const float *src = z.dy + ((size_t)n * Np + t) * C0;
            float *d = z.t + ((size_t)n * Np + dst) * C0;
            memcpy(d, src, C0 * sizeof(float));
        }
    for (int n = 0; n < B; n++) // batch order fixed: deterministic sum
        for (size_t j = 0; j < (size_t)Np * C0; j++) dpos[j] += z.t[(size_t)n * Np * C0 + j];
    xt_conv2d_dims pd = {G->in_chans, S, S, C0, G->kh, G->kw, G->sh, G->sw, G->ph, G->pw};
    const int K = G->in_chans * G->kh * G->kw;
    for (int n = 0; n < B; n++) { // conv as im2col GEMM: out (Np, C0) = col (Np, K) w^T + b
        xt_linear_backward(dimg ? z.dcol : NULL, xt_pg(P, m->pew), xt_pg(P, m->peb), z.t + (size_t)n * Np * C0,
                           m->col + (size_t)n * m->colsz, xt_pw(P, m->pew), Np, K, C0);
        if (dimg) col2im(dimg + (size_t)n * G->in_chans * S * S, z.dcol, &pd);
    }
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

xt_encoder_train *xt_hiera_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size) {
    tmodel *m = tmodel_new(P, cfg, prefix, img_size);
    if (!m) return NULL;
    xt_encoder_train *e = xt_xmalloc(sizeof *e);
    *e = (xt_encoder_train){"hiera", m->g.in_chans, m->g.img, m->g.n_stages, {0}, {0}, m, act_bytes, scratch_bytes, forward, backward, encoder_free, 0, NULL};
    for (int s = 0; s < e->n_stages; s++) e->stage_c[s] = m->g.stage_c[s], e->stage_h[s] = m->g.stage_h[s];
    return e;
}
