// hiera.c — Hiera region encoder (facebookresearch/hiera v0.1.4, 2-D images), as xT's
// HieraWrapper uses it: `Hiera(x, return_intermediates=True)` with head and norm removed. The
// encoder returns every stage's intermediate as NCHW; HieraWrapper's single output is the last.
//
// Tokens stay in Hiera's "unrolled" order throughout, which is what makes its operations cheap:
//   unroll:     Unroll applied L = n_stages-1 times with q_stride (Qy, Qx): the token index is
//               n = (s_1 Q^(L-1) + ... + s_L) * G + g, where s_j = (y, x) offset at level j and
//               g the position in the coarsest grid; so a 2x2 max pool over the finest level is
//               a max over the outermost Q = Qy*Qx blocks of N/Q tokens (do_pool), and a mask
//               unit (window) w of a block's attention is every token with n % n_windows == w.
//   reroll:     instead of replaying Reroll's permutes we keep, per stage, the (y, x) of every
//               token (pooling keeps the coarse coordinate floor(y/Qy)) and scatter once.
// Block (ref: hiera/hiera.py HieraBlock, MaskUnitAttention):
//   xn = LN1(x) (eps 1e-6); if dim changes: x = maxpool_Q(proj(xn));
//   x = x + proj(attn(xn)), attention per (head, window) with q max-pooled over Q when the block
//   starts a pooled stage (nn/mask_unit_attn.c); x = x + fc2(GELU(fc1(LN2(x)))).
// Per-block settings follow Hiera.__init__: stage transitions multiply width by dim_mul and
// heads by head_mul; the first q_pool transitions pool (flat window shrinks by Q); a block uses
// mask-unit attention iff the *previous* block's stage does ("lag by 1 block").
// ref: hiera/hiera.py, hiera/hiera_utils.py @ b12b842542ee5c757fcfec8c41f6b56fcbe89b65
#include <string.h>

#include "models/backbones.h"
#include "nn/nn.h"
#include "models/trainable.h"

#define LN_EPS 1e-6f

typedef struct {
    int dim, dout, heads, hd, q, window, use_mu, hidden;
    int N;   // tokens per image entering the block (Nq = N / q leave it)
    int end; // stage index if the block ends a stage, else -1
    const float *n1_w, *n1_b, *qkv_w, *qkv_b, *proj_w, *proj_b, *n2_w, *n2_b;
    const float *fc1_w, *fc1_b, *fc2_w, *fc2_b, *p_w, *p_b; // p_*: width-changing residual proj
    uint16_t *qkv16, *proj16, *fc1_16, *fc2_16, *p16;       // bfloat16 copies ("precision": "bf16" only)
} hblock;

typedef struct {
    int n_stages, depth, Hp, Np, C0; // Hp x Hp patch tokens (Np), width C0 after patch embed
    int kh, kw, sh, sw, ph, pw;
    const float *pe_w, *pe_b, *pos;
    hblock *blk;
    int *unroll;               // (Np): unrolled token n -> spatial index y*Hp + x
    int *pix[XT_MAX_STAGES];   // per stage: token n -> spatial index at that stage's resolution
    int bf16;                  // "precision": "bf16": the five linears of each block in bfloat16
    xt_mm *mm;                 // oneDNN matmul primitives (float32 without oneDNN: NULL, xt_gemm)
    uint16_t *w16;             // the bfloat16 weight copies
} hiera;

typedef struct {
    float *col, *pe, *x, *x2, *xn, *p, *qkv, *att, *h, *scratch;
    uint16_t *a16; // bfloat16 copy of a linear's input (bf16 only)
} hbufs;

static size_t task_scratch(const hblock *k) { // pooled q (Tq, hd) + scores (Tq, T) per (head, window)
    int nw = k->use_mu ? k->N / (k->q * k->window) : 1, T = k->N / nw, Tq = T / k->q;
    return (size_t)k->heads * nw * ((size_t)Tq * k->hd + (size_t)Tq * T);
}

static void plan(const xt_encoder *e, int B, xt_arena *a, hbufs *b) {
    const hiera *m = e->impl;
    xt_conv2d_dims pe = {e->in_chans, e->img_size, e->img_size, m->C0, m->kh, m->kw, m->sh, m->sw, m->ph, m->pw};
    size_t act = (size_t)m->Np * m->C0, p = 0, qkv = 0, h = 0, sc = 0;
    for (int i = 0; i < m->depth; i++) {
        const hblock *k = &m->blk[i];
        size_t Nq = k->N / k->q;
        if ((size_t)k->N * k->dim > act) act = (size_t)k->N * k->dim;
        if (Nq * k->dout > act) act = Nq * k->dout;
        if (k->dim != k->dout && (size_t)k->N * k->dout > p) p = (size_t)k->N * k->dout;
        if ((size_t)k->N * 3 * k->dout > qkv) qkv = (size_t)k->N * 3 * k->dout;
        if (Nq * k->hidden > h) h = Nq * k->hidden;
        if (task_scratch(k) > sc) sc = task_scratch(k);
    }
    b->col = xt_arena_f32(a, xt_conv2d_col_size(&pe));
    b->pe = xt_arena_f32(a, (size_t)B * m->Np * m->C0);
    b->x = xt_arena_f32(a, B * act);
    b->x2 = xt_arena_f32(a, B * act);
    b->xn = xt_arena_f32(a, B * act);
    b->p = xt_arena_f32(a, B * p);
    b->qkv = xt_arena_f32(a, B * qkv);
    b->att = xt_arena_f32(a, B * act);
    b->h = xt_arena_f32(a, B * h);
    b->scratch = xt_arena_f32(a, sc); // attention runs one image at a time
    // every linear's input (M x K) fits in B * max(act, h) floats: xn, att (act) or h
    b->a16 = m->bf16 ? (uint16_t *)xt_arena_f32(a, (B * (act > h ? act : h) + 1) / 2) : NULL;
}

static size_t hiera_workspace(const xt_encoder *e, int B) {
    xt_arena a;
    hbufs b;
    xt_arena_init(&a, 0);
    plan(e, B, &a, &b);
    return a.high + 64;
}

static int hiera_forward(const xt_encoder *e, const float *img, int B, float *const *out, xt_arena *ws,
                         const xt_tap *tap, const char *prefix) {
    const hiera *m = e->impl;
    size_t mark = xt_arena_mark(ws);
    if (ws->size - ws->used < hiera_workspace(e, B))
        return xt_error("hiera", "workspace of %zu bytes is too small for batch %d", ws->size - ws->used, B);
    hbufs b;
    plan(e, B, ws, &b);
    const int Np = m->Np, C0 = m->C0;
    // patch embed: conv -> (B, Hp*Hp, C0) in spatial order (PatchEmbed's reshape + transpose)
    xt_conv2d_dims pe = {e->in_chans, e->img_size, e->img_size, C0, m->kh, m->kw, m->sh, m->sw, m->ph, m->pw};
    xt_conv2d_forward(b.pe, b.col, img, m->pe_w, m->pe_b, B, &pe, XT_CONV_OUT_NHWC);
    if (xt_tap_on(tap)) {
        int64_t shape[3] = {B, Np, C0};
        xt_tap_emitf(tap, b.pe, 3, shape, "%spatch_embed", prefix ? prefix : "");
    }
    // + pos_embed, then unroll
#pragma omp parallel for collapse(2) if ((size_t)B * Np * C0 > 65536)
    for (int n = 0; n < B; n++)
        for (int t = 0; t < Np; t++) {
            const int src = m->unroll[t];
            const float *a = b.pe + ((size_t)n * Np + src) * C0, *pos = m->pos + (size_t)src * C0;
            float *dst = b.x + ((size_t)n * Np + t) * C0;
            for (int c = 0; c < C0; c++) dst[c] = a[c] + pos[c];
        }
    float *x = b.x, *x2 = b.x2;
    int rc = 0;
#define LIN(out, in, w, w16, bias, M, K, N)                                                        \
    do {                                                                                       \
        if (w16) {                                                                             \
            if ((rc = xt_linear_forward_bf16(m->mm, out, in, w16, bias, M, K, N, b.a16))) goto done; \
        } else if ((rc = xt_linear_forward_mm(m->mm, out, in, w, bias, M, K, N)))            \
            goto done;                                                                         \
    } while (0)
    for (int i = 0; i < m->depth; i++) {
        const hblock *k = &m->blk[i];
        const int N = k->N, Nq = N / k->q, D = k->dout;
        xt_layernorm_forward(b.xn, NULL, NULL, x, k->n1_w, k->n1_b, B * N, k->dim, LN_EPS);
        if (k->dim != k->dout) { // residual: do_pool(proj(x_norm), q)
            LIN(b.p, b.xn, k->p_w, k->p16, k->p_b, B * N, k->dim, D);
#pragma omp parallel for collapse(2) if ((size_t)B * Nq * D > 65536)
            for (int n = 0; n < B; n++)
                for (int t = 0; t < Nq; t++) {
                    float *dst = x2 + ((size_t)n * Nq + t) * D;
                    const float *src = b.p + ((size_t)n * N + t) * D;
                    memcpy(dst, src, D * sizeof(float));
                    for (int s = 1; s < k->q; s++) { // branch-free select: vectorises (the if() did not)
                        const float *v = src + (size_t)s * Nq * D;
#pragma omp simd
                        for (int c = 0; c < D; c++) dst[c] = v[c] > dst[c] ? v[c] : dst[c];
                    }
                }
            float *tmp = x; x = x2; x2 = tmp;
        }
        LIN(b.qkv, b.xn, k->qkv_w, k->qkv16, k->qkv_b, B * N, k->dim, 3 * D);
        int nw = k->use_mu ? N / (k->q * k->window) : 1;
        for (int n = 0; n < B; n++) // pooled q and probabilities in scratch
            xt_mask_unit_attn_forward(b.att + (size_t)n * Nq * D, b.scratch, NULL, b.scratch + (size_t)Nq * D,
                                      b.qkv + (size_t)n * N * 3 * D, N, D, k->heads, k->q, nw);
        LIN(b.xn, b.att, k->proj_w, k->proj16, k->proj_b, B * Nq, D, D);
        xt_add(x, x, b.xn, (size_t)B * Nq * D);
        xt_layernorm_forward(b.xn, NULL, NULL, x, k->n2_w, k->n2_b, B * Nq, D, LN_EPS);
        LIN(b.h, b.xn, k->fc1_w, k->fc1_16, k->fc1_b, B * Nq, D, k->hidden);
        xt_gelu_forward(b.h, b.h, (size_t)B * Nq * k->hidden);
        LIN(b.xn, b.h, k->fc2_w, k->fc2_16, k->fc2_b, B * Nq, k->hidden, D);
        xt_add(x, x, b.xn, (size_t)B * Nq * D);
        if (k->end >= 0) { // reroll: scatter tokens to (B, C, h, w)
            const int s = k->end, HW = e->stage_h[s] * e->stage_w[s];
            const int *pix = m->pix[s];
            float *o = out[s];
#pragma omp parallel for collapse(2) if ((size_t)B * Nq * D > 65536)
            for (int n = 0; n < B; n++)
                for (int c = 0; c < D; c++) {
                    const float *src = x + (size_t)n * Nq * D + c;
                    float *dst = o + ((size_t)n * D + c) * HW;
                    for (int t = 0; t < Nq; t++) dst[pix[t]] = src[(size_t)t * D];
                }
        }
    }
done:
#undef LIN
    xt_arena_release(ws, mark);
    return rc;
}

static void hiera_free(xt_encoder *e) {
    if (!e) return;
    hiera *m = e->impl;
    if (m) {
        xt_mm_free(m->mm);
        free(m->w16);
        free(m->blk);
        free(m->unroll);
        for (int s = 0; s < XT_MAX_STAGES; s++) free(m->pix[s]);
        free(m);
    }
    free(e);
}

static int ipow(int b, int e) {
    long long r = 1;
    while (e-- > 0 && r <= 1 << 20) r *= b;
    return r > 1 << 20 ? 1 << 21 : (int)r;
}

// Reads and checks the architecture, fills the per-block plan, the encoder geometry and the
// unroll/reroll index tables (no weights).
static int hiera_config(hiera *m, xt_encoder *e, const xt_json *cfg, int S) {
    const char *M = "hiera";
    static const int d_stages[] = {2, 3, 16, 3}, d_mua[] = {1, 1, 0, 0}, d_two[] = {2, 2}, d_eight[] = {8, 8},
                     d_seven[] = {7, 7}, d_four[] = {4, 4}, d_three[] = {3, 3};
    int stages[XT_MAX_STAGES], mua[XT_MAX_STAGES], qs[2], mus[2], pk[2], pst[2], pp[2], heads, qpool;
    double dim_mul, head_mul, mlp;
    xt_precision prec;
    if (xt_cfg_precision(cfg, M, 1u << XT_PREC_F32 | 1u << XT_PREC_BF16, &prec)) return -1;
    m->bf16 = prec == XT_PREC_BF16;
    int n = xt_cfg_ints(cfg, M, "stages", stages, XT_MAX_STAGES, 1, 1000, d_stages, 4);
    if (n < 0) return -1;
    int nm = xt_cfg_ints(cfg, M, "mask_unit_attn", mua, XT_MAX_STAGES, 0, 1, d_mua, 4);
    if (nm < 0) return -1;
    if (nm != n) return xt_error(M, "config 'mask_unit_attn' has %d entries for %d stages", nm, n);
    int n2[5] = {xt_cfg_ints(cfg, M, "q_stride", qs, 2, 1, 16, d_two, 2),
                 xt_cfg_ints(cfg, M, "mask_unit_size", mus, 2, 1, 4096, d_eight, 2),
                 xt_cfg_ints(cfg, M, "patch_kernel", pk, 2, 1, 64, d_seven, 2),
                 xt_cfg_ints(cfg, M, "patch_stride", pst, 2, 1, 64, d_four, 2),
                 xt_cfg_ints(cfg, M, "patch_padding", pp, 2, 0, 64, d_three, 2)};
    for (int i = 0; i < 5; i++) {
        if (n2[i] < 0) return -1;
        if (n2[i] != 2) return xt_error(M, "config: q_stride, mask_unit_size and patch_* need 2 entries (2-D only)");
    }
    if (xt_cfg_int(cfg, M, "embed_dim", 96, 1, 16384, &m->C0) || xt_cfg_int(cfg, M, "num_heads", 1, 1, 1024, &heads) ||
        xt_cfg_int(cfg, M, "q_pool", 3, 0, XT_MAX_STAGES, &qpool) || xt_cfg_int(cfg, M, "in_chans", 3, 1, 1024, &e->in_chans))
        return -1;
    if (xt_json_num(cfg, "dim_mul", 2.0, &dim_mul) || xt_json_num(cfg, "head_mul", 2.0, &head_mul) ||
        xt_json_num(cfg, "mlp_ratio", 4.0, &mlp))
        return xt_error_prefix("%s", M);
    if (!(dim_mul >= 1 && dim_mul <= 16) || !(head_mul >= 1 && head_mul <= 16) || !(mlp > 0 && mlp <= 64))
        return xt_error(M, "config dim_mul %g / head_mul %g must be in [1, 16], mlp_ratio %g in (0, 64]", dim_mul,
                        head_mul, mlp);
    if (qpool >= n) return xt_error(M, "config 'q_pool' = %d must be less than the number of stages (%d)", qpool, n);
    if (qs[0] != qs[1] || pst[0] != pst[1] || pk[0] != pk[1] || pp[0] != pp[1] || mus[0] != mus[1])
        return xt_error(M, "config: only square q_stride, mask units and patch embeddings are supported");
    m->kh = pk[0]; m->kw = pk[1]; m->sh = pst[0]; m->sw = pst[1]; m->ph = pp[0]; m->pw = pp[1];
    const int L = n - 1, Q = qs[0] * qs[1];
    if (S <= 0 || S > 65536) return xt_error(M, "region size %d is out of range [1, 65536]", S);
    m->Hp = S / m->sh;
    if (xt_conv2d_out(S, m->kh, m->sh, m->ph) != m->Hp || m->Hp < 1)
        return xt_error(M, "region size %d: patch embedding (kernel %d, stride %d, padding %d) does not give %d = "
                        "size/stride tokens per side", S, m->kh, m->sh, m->ph, m->Hp);
    const int unit = ipow(qs[0], L);
    if (m->Hp % unit)
        return xt_error(M, "region size %d gives %dx%d tokens, not divisible by q_stride^%d = %d as unrolling needs "
                        "(use a multiple of %d)", S, m->Hp, m->Hp, L, unit, unit * m->sh);
    if ((size_t)m->Hp * m->Hp > (1u << 26)) return xt_error(M, "region size %d is too large", S);
    m->Np = m->Hp * m->Hp;
    m->n_stages = e->n_stages = n;
    e->img_size = S;
    m->depth = 0;
    for (int s = 0; s < n; s++) m->depth += stages[s];
    m->blk = xt_xcalloc(m->depth, sizeof *m->blk);
    int stage_end[XT_MAX_STAGES], acc = 0;
    for (int s = 0; s < n; s++) stage_end[s] = (acc += stages[s]) - 1;
    int dim = m->C0, cur = 0, flat_mu = mus[0] * mus[1], N = m->Np, side = m->Hp;
    double flops = 2.0 * m->Np * m->C0 * e->in_chans * m->kh * m->kw;
    for (int i = 0; i < m->depth; i++) {
        hblock *k = &m->blk[i];
        int dout = dim, q = 1;
        k->use_mu = mua[cur]; // lags by one block (read before cur advances)
        if (i > 0 && i - 1 == stage_end[cur]) {
            dout = (int)(dim * dim_mul);
            heads = (int)(heads * head_mul);
            cur++;
            if (cur <= qpool) {
                q = Q;
                flat_mu /= Q;
            }
        }
        if (dout > 65536 || heads > 4096) return xt_error(M, "config gives width %d / %d heads at block %d", dout, heads, i);
        if (dout % heads) return xt_error(M, "block %d: width %d is not divisible by %d heads", i, dout, heads);
        if (q > 1 && dout == dim)
            return xt_error(M, "config: pooling stage %d must change the width (dim_mul > 1)", cur);
        k->dim = dim; k->dout = dout; k->heads = heads; k->hd = dout / heads; k->q = q;
        k->window = flat_mu; k->N = N; k->end = -1;
        k->hidden = (int)(dout * mlp);
        if (k->hidden < 1) return xt_error(M, "config 'mlp_ratio' %g gives an empty MLP", mlp);
        if (k->use_mu && (flat_mu < 1 || N % (q * flat_mu) || (N / (q * flat_mu)) < 1))
            return xt_error(M, "block %d: %d tokens do not split into mask units of %d (x q_stride %d); check "
                            "mask_unit_size against q_stride^%d", i, N, flat_mu, q, L);
        int nw = k->use_mu ? N / (q * flat_mu) : 1;
        if ((N / nw) % q) return xt_error(M, "block %d: window of %d tokens does not pool by %d", i, N / nw, q);
        N /= q;
        if (q > 1) side /= qs[0];
        flops += 2.0 * N * dout * (3.0 * dim + dout + 2.0 * k->hidden) + 4.0 * N * (k->N / nw) * dout +
                 (dim != dout ? 2.0 * k->N * dim * dout : 0);
        if (i == stage_end[cur]) {
            k->end = cur;
            e->stage_c[cur] = dout;
            e->stage_h[cur] = e->stage_w[cur] = side;
        }
        dim = dout;
    }
    e->flops = flops;
    // unroll table: replay Unroll on spatial indices (view (B', H/Qy, Qy, W/Qx, Qx) -> (B'*Qy*Qx, ...))
    int *cur_ix = xt_xmalloc(m->Np * sizeof(int)), *nxt = xt_xmalloc(m->Np * sizeof(int));
    for (int t = 0; t < m->Np; t++) cur_ix[t] = t;
    int h = m->Hp, nb = 1;
    for (int l = 0; l < L; l++) {
        int h2 = h / qs[0], w2 = h / qs[1];
        for (int bb = 0; bb < nb; bb++)
            for (int sy = 0; sy < qs[0]; sy++)
                for (int sx = 0; sx < qs[1]; sx++)
                    for (int yy = 0; yy < h2; yy++)
                        for (int xx = 0; xx < w2; xx++)
                            nxt[((bb * qs[0] + sy) * qs[1] + sx) * (h2 * w2) + yy * w2 + xx] =
                                cur_ix[bb * h * h + (yy * qs[0] + sy) * h + xx * qs[1] + sx];
        int *tmp = cur_ix; cur_ix = nxt; nxt = tmp;
        nb *= Q;
        h = h2;
    }
    m->unroll = cur_ix;
    // reroll tables: track (y, x) per token through the pools; pooled token t keeps floor(y/Qy)
    int *ty = nxt, *tx = xt_xmalloc(m->Np * sizeof(int));
    for (int t = 0; t < m->Np; t++) { ty[t] = cur_ix[t] / m->Hp; tx[t] = cur_ix[t] % m->Hp; }
    int res = m->Hp;
    N = m->Np;
    for (int i = 0; i < m->depth; i++) {
        const hblock *k = &m->blk[i];
        if (k->q > 1) {
            N /= k->q;
            res /= qs[0];
            for (int t = 0; t < N; t++) { ty[t] /= qs[0]; tx[t] /= qs[1]; }
        }
        if (k->end >= 0) {
            m->pix[k->end] = xt_xmalloc(N * sizeof(int));
            for (int t = 0; t < N; t++) m->pix[k->end][t] = ty[t] * res + tx[t];
        }
    }
    free(ty);
    free(tx);
    return 0;
}

int xt_hiera_geom_new(xt_hiera_geom *g, const xt_json *cfg, int img_size) {
    memset(g, 0, sizeof *g);
    if (!cfg || cfg->type != XT_JSON_OBJ) return xt_error("hiera", "config must be a JSON object");
    xt_encoder e = {0};
    hiera m = {0};
    if (hiera_config(&m, &e, cfg, img_size)) {
        free(m.blk);
        free(m.unroll);
        for (int s = 0; s < XT_MAX_STAGES; s++) free(m.pix[s]);
        return -1;
    }
    g->n_stages = m.n_stages, g->depth = m.depth, g->Hp = m.Hp, g->Np = m.Np, g->C0 = m.C0;
    g->in_chans = e.in_chans, g->img = e.img_size;
    g->kh = m.kh, g->kw = m.kw, g->sh = m.sh, g->sw = m.sw, g->ph = m.ph, g->pw = m.pw;
    memcpy(g->stage_c, e.stage_c, sizeof g->stage_c);
    memcpy(g->stage_h, e.stage_h, sizeof g->stage_h);
    g->blk = xt_xcalloc(m.depth, sizeof *g->blk);
    for (int i = 0; i < m.depth; i++) {
        const hblock *k = &m.blk[i];
        g->blk[i] = (xt_hiera_blk){k->dim, k->dout, k->heads, k->hd, k->q, k->window, k->use_mu, k->hidden, k->N, k->end};
    }
    free(m.blk);
    g->unroll = m.unroll;
    memcpy(g->pix, m.pix, sizeof g->pix);
    return 0;
}

void xt_hiera_geom_free(xt_hiera_geom *g) {
    free(g->blk);
    free(g->unroll);
    for (int s = 0; s < XT_MAX_STAGES; s++) free(g->pix[s]);
    memset(g, 0, sizeof *g);
}

xt_encoder *xt_hiera_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size) {
    xt_encoder *e = xt_xcalloc(1, sizeof *e);
    hiera *m = xt_xcalloc(1, sizeof *m);
    e->arch = "hiera";
    e->impl = m;
    e->workspace_size = hiera_workspace;
    e->forward = hiera_forward;
    e->free = hiera_free;
    xt_wload L = {.st = st, .prefix = prefix ? prefix : ""};
    if (!cfg || cfg->type != XT_JSON_OBJ) {
        xt_error("hiera", "config must be a JSON object");
        goto fail;
    }
    if (hiera_config(m, e, cfg, img_size)) goto fail;
#define G(ptr, nd, shp, ...)                                                                       \
    do {                                                                                       \
        if (!(ptr = xt_wload_get(&L, nd, shp, __VA_ARGS__))) goto fail;                        \
    } while (0)
    int64_t C0 = m->C0, spe[4] = {C0, e->in_chans, m->kh, m->kw}, spos[3] = {1, m->Np, C0};
    G(m->pe_w, 4, spe, "patch_embed.proj.weight");
    G(m->pe_b, 1, &C0, "patch_embed.proj.bias");
    G(m->pos, 3, spos, "pos_embed");
    int64_t np = C0 * e->in_chans * m->kh * m->kw + C0 + (int64_t)m->Np * C0;
    for (int i = 0; i < m->depth; i++) {
        hblock *k = &m->blk[i];
        int64_t dim = k->dim, D = k->dout, Hd = k->hidden, s3[2] = {3 * D, dim}, sp[2] = {D, D}, s1[2] = {Hd, D},
                s2[2] = {D, Hd}, sr[2] = {D, dim}, D3 = 3 * D;
        G(k->n1_w, 1, &dim, "blocks.%d.norm1.weight", i);
        G(k->n1_b, 1, &dim, "blocks.%d.norm1.bias", i);
        G(k->qkv_w, 2, s3, "blocks.%d.attn.qkv.weight", i);
        G(k->qkv_b, 1, &D3, "blocks.%d.attn.qkv.bias", i);
        G(k->proj_w, 2, sp, "blocks.%d.attn.proj.weight", i);
        G(k->proj_b, 1, &D, "blocks.%d.attn.proj.bias", i);
        G(k->n2_w, 1, &D, "blocks.%d.norm2.weight", i);
        G(k->n2_b, 1, &D, "blocks.%d.norm2.bias", i);
        G(k->fc1_w, 2, s1, "blocks.%d.mlp.fc1.weight", i);
        G(k->fc1_b, 1, &Hd, "blocks.%d.mlp.fc1.bias", i);
        G(k->fc2_w, 2, s2, "blocks.%d.mlp.fc2.weight", i);
        G(k->fc2_b, 1, &D, "blocks.%d.mlp.fc2.bias", i);
        np += 2 * dim + 3 * D * dim + 3 * D + D * D + D + 2 * D + 2 * Hd * D + Hd + D;
        if (dim != D) {
            G(k->p_w, 2, sr, "blocks.%d.proj.weight", i);
            G(k->p_b, 1, &D, "blocks.%d.proj.bias", i);
            np += D * dim + D;
        }
    }
#undef G
    e->n_params = np;
    static const char *const ignore[] = {"head.", "norm.", NULL};
    if (xt_wload_check_unused(&L, ignore, "hiera")) goto fail;
    // float32: cached primitives allocate nothing per call (dnnl_sgemm re-faults its packing buffers)
    if (!m->bf16 && !(m->mm = xt_mm_new(0))) xt_error_clear();
    if (m->bf16) { // bfloat16 copies of every block's linears (attention is plain dot-product: qkv too)
        if (!(m->mm = xt_mm_new(1))) goto fail;
        size_t n16 = 0;
        for (int i = 0; i < m->depth; i++) {
            const hblock *k = &m->blk[i];
            n16 += (size_t)k->dout * (3 * k->dim + k->dout + 2 * k->hidden + (k->dim != k->dout ? k->dim : 0));
        }
        if (!(m->w16 = xt_malloc_checked((n16 ? n16 : 1) * sizeof(uint16_t), "bfloat16 weights"))) goto fail;
        uint16_t *q = m->w16;
#define CONV(dst, src, n) (dst = q, xt_f32_to_bf16(q, src, n), q += (n))
        for (int i = 0; i < m->depth; i++) {
            hblock *k = &m->blk[i];
            size_t D = k->dout, dim = k->dim, Hd = k->hidden;
            CONV(k->qkv16, k->qkv_w, 3 * D * dim);
            CONV(k->proj16, k->proj_w, D * D);
            CONV(k->fc1_16, k->fc1_w, Hd * D);
            CONV(k->fc2_16, k->fc2_w, D * Hd);
            if (dim != D) CONV(k->p16, k->p_w, D * dim);
        }
#undef CONV
    }
    xt_wload_free(&L);
    return e;
fail:
    xt_error_in_file(st ? st->path : NULL);
    xt_wload_free(&L);
    hiera_free(e);
    return NULL;
}

// `xt verify` for kind "hiera_region": config object "hiera", weights under "model." (or the config's
// "weight_prefix"), emits
// model.patch_embed, intermediates{s} (NHWC, as return_intermediates) and out (last, NCHW).
int xt_hiera_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    const xt_json *hc = xt_json_get(cfg, "hiera");
    if (!hc || hc->type != XT_JSON_OBJ) return xt_error_file("hiera", st->path, "config has no 'hiera' object");
    xt_region_run r;
    if (xt_region_run_file(&r, st, cfg, hc, xt_json_str(cfg, "weight_prefix", "model."), xt_hiera_new, tap, "hiera"))
        return -1;
    const xt_encoder *e = r.e;
    for (int s = 0; s < e->n_stages; s++) {
        int C = e->stage_c[s], HW = e->stage_h[s] * e->stage_w[s];
        float *t = xt_xmalloc((size_t)r.B * C * HW * sizeof(float));
        xt_nchw_to_nhwc(t, r.out[s], r.B, C, HW);
        int64_t shape[4] = {r.B, e->stage_h[s], e->stage_w[s], C};
        xt_tap_emitf(tap, t, 4, shape, "intermediates%d", s);
        free(t);
    }
    int l = e->n_stages - 1;
    int64_t shape[4] = {r.B, e->stage_c[l], e->stage_h[l], e->stage_w[l]};
    xt_tap_emitf(tap, r.out[l], 4, shape, "out");
    xt_region_run_free(&r);
    return 0;
}
