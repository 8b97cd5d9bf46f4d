// convnext_bwd.c — the ConvNeXt region encoder for training: a training forward that keeps every
// activation backward needs in one planned arena, and the backward (parameter gradients and the
// gradient w.r.t. the image).
//
// Same semantics and geometry as convnext.c (timm 0.9.7 ConvNeXt, features_only; the config is
// read by xt_convnext_geom_new), channels-last (B, H, W, C) throughout:
//   stem:   conv PxP/P (patch embedding) -> LayerNorm2d
//   stage s (s >= 1 first downsamples): LayerNorm2d -> conv 2x2/2
//   block:  x + gamma * fc2(GELU(fc1(LN(dwconv7x7(x)))))    (drop path off)
// Per block it saves the input, the depthwise conv output, LN statistics and output, the MLP
// hidden before and after GELU and fc2's output (for d gamma); per downsample the LN statistics
// and the conv's im2col. The 2x2/2 conv and the stem are non-overlapping, so both run as
// xt_patch_embed_* (NCHW in: the downsample transposes its LN output once).
//
// Memory per block and image: H*H*(4C + 2 hidden + 2) floats.
// ref: timm/models/convnext.py @ v0.9.7 (ConvNeXt, ConvNeXtStage, ConvNeXtBlock)
#include <string.h>

#include "models/backbones.h"
#include "nn/nn.h"
#include "models/trainable.h"

#define LN_EPS 1e-6f

typedef struct {
    int gam, dww, dwb, lnw, lnb, f1w, f1b, f2w, f2b; // param ids
    // saved activations of the last forward (in the act arena)
    float *whwc, *t, *mean, *rstd, *xn, *h, *gl, *y; // whwc: conv_dw.weight as (K, K, C)
} tblock;

typedef struct {
    int dlw, dlb, dw, db; // downsample param ids (s >= 1)
    tblock *blk;
    float **xs;           // (depth + 1): xs[0] stage input (after stem / downsample), xs[d + 1] block d output
    float *mean, *rstd, *dn, *col; // downsample: LN stats, LN output NCHW, im2col
} tstage;

typedef struct {
    xt_convnext_geom g;
    int stw, stb, slw, slb;
    tstage st[XT_MAX_STAGES];
    int B;                           // batch of the last forward
    float *col, *pe, *smean, *srstd; // stem: im2col, conv output (NHWC), LN statistics
} tmodel;

// ---------------------------------------------------------------------------------------------
// build

static void tmodel_free(tmodel *m) {
    if (!m) return;
    for (int s = 0; s < XT_MAX_STAGES; s++) {
        free(m->st[s].blk);
        free(m->st[s].xs);
    }
    free(m);
}

static tmodel *tmodel_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size) {
    const char *pre = prefix ? prefix : "";
    tmodel *m = xt_xcalloc(1, sizeof *m);
    if (xt_convnext_geom_new(&m->g, cfg, img_size)) {
        free(m);
        return xt_error_prefix("convnext train"), NULL;
    }
    const xt_convnext_geom *G = &m->g;
    const int64_t K = G->ks, Pt = G->patch;
    int64_t C = G->dims[0];
    // timm features_only state_dict names and order (stem_0/stem_1/stages_{s})
    m->stw = xt_params_addf(P, 4, C, G->in_chans, Pt, Pt, "%sstem_0.weight", pre);
    m->stb = xt_params_addf(P, 1, C, 0, 0, 0, "%sstem_0.bias", pre);
    m->slw = xt_params_addf(P, 1, C, 0, 0, 0, "%sstem_1.weight", pre);
    m->slb = xt_params_addf(P, 1, C, 0, 0, 0, "%sstem_1.bias", pre);
    for (int s = 0; s < G->n_stages; s++) {
        tstage *S = &m->st[s];
        int64_t Cs = G->dims[s], Hd = G->hidden[s];
        if (s) {
            S->dlw = xt_params_addf(P, 1, C, 0, 0, 0, "%sstages_%d.downsample.0.weight", pre, s);
            S->dlb = xt_params_addf(P, 1, C, 0, 0, 0, "%sstages_%d.downsample.0.bias", pre, s);
            S->dw = xt_params_addf(P, 4, Cs, C, 2, 2, "%sstages_%d.downsample.1.weight", pre, s);
            S->db = xt_params_addf(P, 1, Cs, 0, 0, 0, "%sstages_%d.downsample.1.bias", pre, s);
        }
        C = Cs;
        S->blk = xt_xcalloc(G->depths[s] ? G->depths[s] : 1, sizeof *S->blk);
        S->xs = xt_xcalloc(G->depths[s] + 1, sizeof *S->xs);
        for (int d = 0; d < G->depths[s]; d++) {
            tblock *k = &S->blk[d];
            k->gam = xt_params_addf(P, 1, C, 0, 0, 0, "%sstages_%d.blocks.%d.gamma", pre, s, d);
            k->dww = xt_params_addf(P, 4, C, 1, K, K, "%sstages_%d.blocks.%d.conv_dw.weight", pre, s, d);
            k->dwb = xt_params_addf(P, 1, C, 0, 0, 0, "%sstages_%d.blocks.%d.conv_dw.bias", pre, s, d);
            k->lnw = xt_params_addf(P, 1, C, 0, 0, 0, "%sstages_%d.blocks.%d.norm.weight", pre, s, d);
            k->lnb = xt_params_addf(P, 1, C, 0, 0, 0, "%sstages_%d.blocks.%d.norm.bias", pre, s, d);
            k->f1w = xt_params_addf(P, 2, Hd, C, 0, 0, "%sstages_%d.blocks.%d.mlp.fc1.weight", pre, s, d);
            k->f1b = xt_params_addf(P, 1, Hd, 0, 0, 0, "%sstages_%d.blocks.%d.mlp.fc1.bias", pre, s, d);
            k->f2w = xt_params_addf(P, 2, C, Hd, 0, 0, "%sstages_%d.blocks.%d.mlp.fc2.weight", pre, s, d);
            k->f2b = xt_params_addf(P, 1, C, 0, 0, 0, "%sstages_%d.blocks.%d.mlp.fc2.bias", pre, s, d);
        }
    }
    return m;
}

// ---------------------------------------------------------------------------------------------
// activation plan: the same code sizes (measuring arena) and places (real arena) the buffers

// Places the saved activations of a forward of B images in a, setting out's pointers; with out
// NULL only counts them (a measuring arena) and touches nothing. The geometry comes from m alone.
static void plan_acts(const tmodel *m, int B, xt_arena *a, tmodel *out) {
    tmodel sink_m;
    tstage sink_s;
    tblock sink_b;
    float *sink_x;
    tmodel *o = out ? out : &sink_m;
    const xt_convnext_geom *G = &m->g;
    int H = G->img / G->patch;
    const size_t K2 = (size_t)G->ks * G->ks;
    o->col = xt_arena_f32(a, (size_t)B * H * H * G->in_chans * G->patch * G->patch);
    o->pe = xt_arena_f32(a, (size_t)B * H * H * G->dims[0]);
    o->smean = xt_arena_f32(a, (size_t)B * H * H);
    o->srstd = xt_arena_f32(a, (size_t)B * H * H);
    for (int s = 0; s < G->n_stages; s++) {
        tstage *S = out ? &out->st[s] : &sink_s;
        float **xs = out ? out->st[s].xs : NULL;
        const size_t C = G->dims[s];
        if (s) {
            size_t Np = (size_t)B * H * H, Cp = G->dims[s - 1];
            S->mean = xt_arena_f32(a, Np);
            S->rstd = xt_arena_f32(a, Np);
            S->dn = xt_arena_f32(a, Np * Cp);
            S->col = xt_arena_f32(a, Np * Cp); // 2x2/2 im2col holds every input pixel once
            H /= 2;
        }
        const size_t N = (size_t)B * H * H, F = G->hidden[s];
        *(xs ? &xs[0] : &sink_x) = xt_arena_f32(a, N * C);
        for (int d = 0; d < G->depths[s]; d++) {
            tblock *k = out ? &out->st[s].blk[d] : &sink_b;
            k->whwc = xt_arena_f32(a, K2 * C);
            k->t = xt_arena_f32(a, N * C);
            k->mean = xt_arena_f32(a, N);
            k->rstd = xt_arena_f32(a, N);
            k->xn = xt_arena_f32(a, N * C);
            k->h = xt_arena_f32(a, N * F);
            k->gl = xt_arena_f32(a, N * F);
            k->y = xt_arena_f32(a, N * C);
            *(xs ? &xs[d + 1] : &sink_x) = xt_arena_f32(a, N * C);
        }
    }
}

static size_t act_bytes(const xt_encoder_train *e, int B) {
    xt_arena a;
    xt_arena_init(&a, 0);
    plan_acts(e->impl, B, &a, NULL);
    return a.high + 64;
}

typedef struct {
    float *dy, *t1, *t2, *dh, *dcol, *dwg;
} bscratch;

static void plan_scratch(const tmodel *m, int B, xt_arena *a, bscratch *z) {
    const xt_convnext_geom *G = &m->g;
    int H = G->img / G->patch;
    size_t tok = (size_t)H * H * G->dims[0], hid = 0, col = (size_t)H * H * G->in_chans * G->patch * G->patch, cmax = 0;
    for (int s = 0; s < G->n_stages; s++) {
        if (s) H /= 2;
        size_t n = (size_t)H * H;
        if (n * G->dims[s] > tok) tok = n * G->dims[s];
        if (n * G->hidden[s] > hid) hid = n * G->hidden[s];
        if ((size_t)G->dims[s] > cmax) cmax = G->dims[s];
        if (s && 4 * n * G->dims[s - 1] > col) col = 4 * n * G->dims[s - 1];
    }
    z->dy = xt_arena_f32(a, B * tok);
    z->t1 = xt_arena_f32(a, B * tok);
    z->t2 = xt_arena_f32(a, B * tok);
    z->dh = xt_arena_f32(a, B * hid);
    z->dcol = xt_arena_f32(a, B * col);
    z->dwg = xt_arena_f32(a, (size_t)G->ks * G->ks * cmax);
}

static size_t scratch_bytes(const xt_encoder_train *e, int B) {
    xt_arena a;
    bscratch z;
    xt_arena_init(&a, 0);
    plan_scratch(e->impl, B, &a, &z);
    return a.high + 64;
}

// ---------------------------------------------------------------------------------------------
// training forward

static void emit_nhwc(const xt_tap *tap, const float *x, int B, int H, int C, const char *pre, const char *name) {
    if (!xt_tap_on(tap)) return;
    float *t = xt_xmalloc((size_t)B * H * H * C * sizeof(float)); // taps are for verification only
    xt_nhwc_to_nchw(t, x, B, H * H, C);
    int64_t sh[4] = {B, C, H, H};
    xt_tap_emitf(tap, t, 4, sh, "%s%s", pre, name);
    free(t);
}

static int forward(xt_encoder_train *e, const xt_params *P, const float *img, int B, float *const *out, xt_arena *act,
                   const xt_tap *tap, const char *prefix) {
    tmodel *m = e->impl;
    if (B < 1) return xt_error("convnext train", "batch size %d", B);
    if (xt_arena_require(act, act_bytes(e, B), "convnext train", "activation arena")) return -1;
    plan_acts(m, B, act, m);
    m->B = B;
    const xt_convnext_geom *G = &m->g;
    const char *pre = prefix ? prefix : "";
    int H = G->img / G->patch, C = G->dims[0];
    // ref: ConvNeXt.stem (conv k=s=patch, LayerNorm2d)
    xt_patch_embed_forward(m->pe, m->col, img, xt_pw(P, m->stw), xt_pw(P, m->stb), B, G->in_chans, G->img, G->img,
                           G->patch, C);
    xt_layernorm_forward(m->st[0].xs[0], m->smean, m->srstd, m->pe, xt_pw(P, m->slw), xt_pw(P, m->slb), B * H * H, C,
                         LN_EPS);
    emit_nhwc(tap, m->st[0].xs[0], B, H, C, pre, "stem_1");
    for (int s = 0; s < G->n_stages; s++) {
        tstage *S = &m->st[s];
        if (s) { // ref: ConvNeXtStage.downsample (LayerNorm2d, conv 2x2/2)
            const tstage *Sp = &m->st[s - 1];
            const int Np = B * H * H;
            xt_layernorm_forward(S->col, S->mean, S->rstd, Sp->xs[G->depths[s - 1]], xt_pw(P, S->dlw), xt_pw(P, S->dlb),
                                 Np, C, LN_EPS); // col as temporary: patch_embed rewrites it below
            xt_nhwc_to_nchw(S->dn, S->col, B, H * H, C);
            xt_patch_embed_forward(S->xs[0], S->col, S->dn, xt_pw(P, S->dw), xt_pw(P, S->db), B, C, H, H, 2, G->dims[s]);
            H /= 2;
            C = G->dims[s];
        }
        const int N = B * H * H, F = G->hidden[s];
        for (int d = 0; d < G->depths[s]; d++) { // ref: ConvNeXtBlock.forward (conv_mlp False)
            tblock *k = &S->blk[d];
            const float *x = S->xs[d];
            float *y = S->xs[d + 1];
            xt_dwconv2d_weight_hwc(k->whwc, xt_pw(P, k->dww), C, G->ks);
            xt_dwconv2d_forward(k->t, x, k->whwc, xt_pw(P, k->dwb), B, H, H, C, G->ks, G->ks / 2);
            xt_layernorm_forward(k->xn, k->mean, k->rstd, k->t, xt_pw(P, k->lnw), xt_pw(P, k->lnb), N, C, LN_EPS);
            xt_linear_forward(k->h, k->xn, xt_pw(P, k->f1w), xt_pw(P, k->f1b), N, C, F);
            xt_gelu_forward(k->gl, k->h, (size_t)N * F);
            xt_linear_forward(k->y, k->gl, xt_pw(P, k->f2w), xt_pw(P, k->f2b), N, F, C);
            const float *gam = xt_pw(P, k->gam);
#pragma omp parallel for if ((size_t)N * C > 65536)
            for (int n = 0; n < N; n++)
                for (int c = 0; c < C; c++) y[(size_t)n * C + c] = x[(size_t)n * C + c] + gam[c] * k->y[(size_t)n * C + c];
        }
        if (out && out[s]) xt_nhwc_to_nchw(out[s], S->xs[G->depths[s]], B, H * H, C); // (B, C, H, H)
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// backward

// Backward of xt_dwconv2d_forward (stride 1, zero padding pad, channels-last): dinp (B, H, W, C)
// written; dw_hwc (K, K, C) written (not accumulated); db (C) +=. Each output element is owned by
// one thread and summed in a fixed order: deterministic at any thread count.
static void dwconv_backward(float *dinp, float *dw_hwc, float *db, const float *dout, const float *inp,
                            const float *w_hwc, int B, int H, int W, int C, int K, int pad) {
#pragma omp parallel for if ((size_t)B * H * W * C * K * K > 262144)
    for (int r = 0; r < B * H; r++) { // dinp[y, x] = sum_k dout[y + pad - ky, x + pad - kx] w[ky, kx]
        const int b = r / H, iy = r % H;
        float *dst = dinp + (size_t)r * W * C;
        memset(dst, 0, (size_t)W * C * sizeof(float));
        for (int ky = 0; ky < K; ky++) {
            const int oy = iy + pad - ky;
            if (oy < 0 || oy >= H) continue;
            for (int kx = 0; kx < K; kx++) {
                const float *wk = w_hwc + ((size_t)ky * K + kx) * C;
                for (int ix = 0; ix < W; ix++) {
                    const int ox = ix + pad - kx;
                    if (ox < 0 || ox >= W) continue;
                    const float *g = dout + (((size_t)b * H + oy) * W + ox) * C;
                    float *o = dst + (size_t)ix * C;
                    for (int c = 0; c < C; c++) o[c] += g[c] * wk[c];
                }
            }
        }
    }
#pragma omp parallel for if ((size_t)B * H * W * C * K * K > 262144)
    for (int tap = 0; tap < K * K; tap++) { // dw[ky, kx] = sum_out dout[o] inp[o - pad + k]
        const int ky = tap / K, kx = tap % K;
        float *acc = dw_hwc + (size_t)tap * C;
        memset(acc, 0, C * sizeof(float));
        for (int b = 0; b < B; b++)
            for (int oy = 0; oy < H; oy++) {
                const int iy = oy - pad + ky;
                if (iy < 0 || iy >= H) continue;
                for (int ox = 0; ox < W; ox++) {
                    const int ix = ox - pad + kx;
                    if (ix < 0 || ix >= W) continue;
                    const float *g = dout + (((size_t)b * H + oy) * W + ox) * C;
                    const float *x = inp + (((size_t)b * H + iy) * W + ix) * C;
                    for (int c = 0; c < C; c++) acc[c] += g[c] * x[c];
                }
            }
    }
    for (size_t n = 0; n < (size_t)B * H * W; n++)
        for (int c = 0; c < C; c++) db[c] += dout[n * C + c];
}

static int backward(xt_encoder_train *e, xt_params *P, const float *const *dout, float *dimg, xt_arena *scratch) {
    tmodel *m = e->impl;
    const int B = m->B;
    XT_ASSERT(B > 0); // backward needs a forward
    if (xt_arena_require(scratch, scratch_bytes(e, B), "convnext train", "backward scratch")) return -1;
    size_t mark = xt_arena_mark(scratch);
    bscratch z;
    plan_scratch(m, B, scratch, &z);
    const xt_convnext_geom *G = &m->g;
    const int ns = G->n_stages, K = G->ks;
    float *dy = z.dy, *t1 = z.t1, *t2 = z.t2;
    {
        int H = G->stage_h[ns - 1];
        memset(dy, 0, (size_t)B * H * H * G->dims[ns - 1] * sizeof(float));
    }
    for (int s = ns - 1; s >= 0; s--) {
        tstage *S = &m->st[s];
        const int H = G->stage_h[s], C = G->dims[s], F = G->hidden[s], N = B * H * H;
        if (dout && dout[s]) { // the stage output's own cotangent, NCHW -> NHWC
            xt_nchw_to_nhwc(t1, dout[s], B, C, H * H);
            xt_add(dy, dy, t1, (size_t)N * C);
        }
        for (int d = G->depths[s] - 1; d >= 0; d--) {
            tblock *k = &S->blk[d];
            // y = x + gamma * fc2(GELU(fc1(LN(dwconv(x)))))
            const float *gam = xt_pw(P, k->gam);
            float *dgam = xt_pg(P, k->gam);
            for (int n = 0; n < N; n++) // fixed order: deterministic
                for (int c = 0; c < C; c++) {
                    dgam[c] += dy[(size_t)n * C + c] * k->y[(size_t)n * C + c];
                    t1[(size_t)n * C + c] = dy[(size_t)n * C + c] * gam[c];
                }
            xt_linear_backward(z.dh, xt_pg(P, k->f2w), xt_pg(P, k->f2b), t1, k->gl, xt_pw(P, k->f2w), N, F, C);
            xt_gelu_backward(z.dh, z.dh, k->h, (size_t)N * F);
            xt_linear_backward(t2, xt_pg(P, k->f1w), xt_pg(P, k->f1b), z.dh, k->xn, xt_pw(P, k->f1w), N, C, F);
            xt_layernorm_backward(t1, xt_pg(P, k->lnw), xt_pg(P, k->lnb), t2, k->t, xt_pw(P, k->lnw), k->mean, k->rstd,
                                  N, C);
            dwconv_backward(t2, z.dwg, xt_pg(P, k->dwb), t1, S->xs[d], k->whwc, B, H, H, C, K, K / 2);
            float *dw = xt_pg(P, k->dww); // (C, 1, K, K) += (K, K, C)
            for (int c = 0; c < C; c++)
                for (int j = 0; j < K * K; j++) dw[(size_t)c * K * K + j] += z.dwg[(size_t)j * C + c];
            xt_add(dy, dy, t2, (size_t)N * C);
        }
        if (s) { // xs[0] = conv2x2/2(LN2d(previous stage output))
            const int Hp = G->stage_h[s - 1], Cp = G->dims[s - 1], Np = B * Hp * Hp;
            xt_patch_embed_backward(t1, xt_pg(P, S->dw), xt_pg(P, S->db), z.dcol, dy, S->col, xt_pw(P, S->dw), B, Cp, Hp,
                                    Hp, 2, C);
            xt_nchw_to_nhwc(t2, t1, B, Cp, Hp * Hp);
            xt_layernorm_backward(dy, xt_pg(P, S->dlw), xt_pg(P, S->dlb), t2, m->st[s - 1].xs[G->depths[s - 1]],
                                  xt_pw(P, S->dlw), S->mean, S->rstd, Np, Cp);
        }
    }
    // stem: xs0[0] = LN2d(conv(img))
    const int H0 = G->img / G->patch, C0 = G->dims[0];
    xt_layernorm_backward(t1, xt_pg(P, m->slw), xt_pg(P, m->slb), dy, m->pe, xt_pw(P, m->slw), m->smean, m->srstd,
                          B * H0 * H0, C0);
    xt_patch_embed_backward(dimg, xt_pg(P, m->stw), xt_pg(P, m->stb), z.dcol, t1, m->col, xt_pw(P, m->stw), B,
                            G->in_chans, G->img, G->img, G->patch, C0);
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

xt_encoder_train *xt_convnext_train_new(xt_params *P, const xt_json *cfg, const char *prefix, int img_size) {
    tmodel *m = tmodel_new(P, cfg, prefix, img_size);
    if (!m) return NULL;
    xt_encoder_train *e = xt_xmalloc(sizeof *e);
    *e = (xt_encoder_train){"convnext", m->g.in_chans, m->g.img, m->g.n_stages, {0}, {0}, m, act_bytes, scratch_bytes, forward, backward, encoder_free, 0, NULL};
    for (int s = 0; s < e->n_stages; s++) e->stage_c[s] = m->g.dims[s], e->stage_h[s] = m->g.stage_h[s];
    return e;
}
