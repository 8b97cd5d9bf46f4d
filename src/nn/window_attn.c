// window_attn.c — Swin V2 layers: (shifted) window cosine attention (one forward for inference
// and training, and its backward), its continuous position bias, window partition, patch-merging
// gather (and its backward) and the patch-embedding im2col.
//
// Layout: tokens stay in the model's NHWC order (B, H, W, C) = (B, L, C) the whole time. The
// per-token linears (qkv, proj, MLP) run on all tokens at once as one big GEMM; only the
// attention itself works per window. torch.roll(-shift) + window_partition and the inverse
// window_reverse + roll(+shift) are fused into one index map: token t of window (wy, wx) reads
// and writes the original position ((wy*ws + ty + shift) mod H, (wx*ws + tx + shift) mod W).
// ref: timm/models/swin_transformer_v2.py (v0.9.7) WindowAttention, SwinTransformerV2Block._attn
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/fastmath.h"
#include "nn/nn.h"

// ref: WindowAttention.__init__ relative_coords_table, one coordinate: offset d in
// [-(ws-1), ws-1] scaled to 8 / (pws - 1) when pws > 0, else 8 / (ws - 1), then
// sign * log2(|v| + 1) / log2(8). ws == 1 gives 0/0 = NaN in timm (a 1x1 feature map), we use 0
// there: the only pair is a token with itself.
float xt_swin_cpb_coord(int d, int ws, int pws) {
    float den = pws > 0 ? (float)(pws - 1) : ws > 1 ? (float)(ws - 1) : 1.0f;
    float v = (float)d / den * 8.0f;
    float s = v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f;
    return s * log2f(fabsf(v) + 1.0f) / 3.0f;
}

void xt_swin_cpb_table(float *table, int *index, int ws, int pws) {
    int T = 2 * ws - 1, n = ws * ws;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            table[(i * T + j) * 2] = xt_swin_cpb_coord(i - (ws - 1), ws, pws);
            table[(i * T + j) * 2 + 1] = xt_swin_cpb_coord(j - (ws - 1), ws, pws);
        }
    for (int p = 0; p < n; p++)
        for (int q = 0; q < n; q++) index[p * n + q] = xt_swin_rel_index(p, q, ws);
}

// ref: timm 0.9.7 WindowAttention.forward: cpb_mlp (Linear(2, HID) + ReLU + Linear(HID, NH, no
// bias)) over the table, gathered by relative_position_index, then 16 * sigmoid. Row by row,
// skipping the ReLU's zeros; hid (the training's saved activations) may be NULL.
void xt_cpb_forward(float *out, float *hid, float *raw, const float *table, const int *index, const float *w0,
                    const float *b0, const float *w2, int T, int HID, int NH, int n) {
    // row by row: the hidden layer as a vector, then NH dot products (vectorised over k; the old
    // scalar loop over h was a third of a Swin V2-T model's load time). No allocation: a training
    // step must not allocate (test_train_alloc), so the ReLU row is hid's or on the stack.
    enum { MAX_HID = 512 }; // the Swin V2 cpb MLP's width (XT_SWIN_CPB_HIDDEN)
    XT_ASSERT(HID <= MAX_HID);
#pragma omp parallel
    {
        float actb[MAX_HID];
#pragma omp for
        for (int i = 0; i < T; i++) {
            const float *c = table + 2 * (size_t)i;
            float *act = hid ? hid + ((size_t)T + i) * HID : actb; // hid: pre-ReLU rows, then ReLU rows
#pragma omp simd
            for (int k = 0; k < HID; k++) {
                float hk = w0[2 * k] * c[0] + w0[2 * k + 1] * c[1] + b0[k];
                if (hid) hid[(size_t)i * HID + k] = hk;
                act[k] = hk > 0 ? hk : 0;
            }
            for (int h = 0; h < NH; h++) {
                const float *w = w2 + (size_t)h * HID;
                float sum = 0;
#pragma omp simd reduction(+ : sum)
                for (int k = 0; k < HID; k++) sum += w[k] * act[k];
                raw[(size_t)i * NH + h] = sum;
            }
        }
    }
    if (!hid) {
        // inference: raw is scratch, so the sigmoid once per table entry in place, then gathered
        // (n^2 x NH expf calls were most of a model's load time: 6 M for Swin V2-T, T = 961)
        for (size_t i = 0; i < (size_t)T * NH; i++) raw[i] = 16.0f / (1.0f + expf(-raw[i]));
        for (int h = 0; h < NH; h++)
            for (int i = 0; i < n * n; i++) out[(size_t)h * n * n + i] = raw[(size_t)index[i] * NH + h];
        return;
    }
    // training: the backward needs raw before the sigmoid (same values as above, computed per use)
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < n * n; i++) out[(size_t)h * n * n + i] = 16.0f / (1.0f + expf(-raw[(size_t)index[i] * NH + h]));
}

void xt_cpb_backward(float *dw0, float *db0, float *dw2, const float *dout, const float *hid, const float *raw,
                     const float *table, const int *index, const float *w2, int T, int HID, int NH, int n,
                     float *scratch) {
    float *draw = scratch, *dhid = scratch + (size_t)T * NH;
    const float *act = hid + (size_t)T * HID;
    memset(draw, 0, (size_t)T * NH * sizeof(float));
    for (int h = 0; h < NH; h++) // out = 16 sigmoid(raw[index])
        for (int i = 0; i < n * n; i++) {
            float r = raw[(size_t)index[i] * NH + h], s = 1.0f / (1.0f + expf(-r));
            draw[(size_t)index[i] * NH + h] += dout[(size_t)h * n * n + i] * 16.0f * s * (1.0f - s);
        }
    xt_linear_backward(dhid, dw2, NULL, draw, act, w2, T, HID, NH);                  // raw = act w2^T
    for (size_t i = 0; i < (size_t)T * HID; i++) dhid[i] = hid[i] > 0 ? dhid[i] : 0; // act = relu(hid)
    xt_linear_backward(NULL, dw0, db0, dhid, table, NULL, T, 2, HID);                // hid = table w0^T + b0
}

// Inference, at load: the table and index in scratch, then the forward above (hidden width 512).
void xt_swin_cpb_bias(float *bias, const float *w0, const float *b0, const float *w2, int NH, int ws, int pws,
                      float *scratch) {
    int T = (2 * ws - 1) * (2 * ws - 1);
    float *raw = scratch, *table = raw + (size_t)T * NH;
    int *index = (int *)(table + 2 * (size_t)T);
    xt_swin_cpb_table(table, index, ws, pws);
    xt_cpb_forward(bias, NULL, raw, table, index, w0, b0, w2, T, 512, NH, ws * ws);
}

void xt_swin_attn_consts(float *qkvb, float *scale, const float *qb, const float *vb, const float *ls, int C, int NH) {
    memcpy(qkvb, qb, C * sizeof(float));
    memset(qkvb + C, 0, C * sizeof(float));
    memcpy(qkvb + 2 * C, vb, C * sizeof(float));
    for (int h = 0; h < NH; h++) scale[h] = expf(fminf(ls[h], XT_SWIN_LOGIT_MAX));
}

size_t xt_swin_cpb_scratch_floats(int NH, int ws) { // raw (T, NH), table (T, 2), index (n, n) ints
    size_t T = (size_t)(2 * ws - 1) * (2 * ws - 1), n = (size_t)ws * ws;
    return T * (NH + 2) + n * n;
}

size_t xt_window_attn_scratch_floats(int ws, int HS) {
    size_t N = (size_t)ws * ws;
    return 4 * N * HS + N * N + 3 * N + 64; // q, k, v, o, row scales, scores, token index + mask label (ints)
}


#if defined(__AVX512F__)
#include <immintrin.h>
// Fused window attention for head dims and window areas that are multiples of 16 (Swin V2's
// 32-wide heads, 16x16 and 8x8 windows): 8 query rows at a time, S = q k^T (8, N) by a register-
// blocked AVX-512 kernel that also adds the position bias and shift mask and tracks the row max,
// the softmax numerators (xt_exp16), then P v (8, HS) in registers and straight into the output
// rows. The (8, N) block stays in L1, and the small GEMMs skip the library GEMM's per-call packing
// (measured: attention 26 % -> 21 % of the Swin V2-T forward, docs/performance.md).
#define RB 8 // query rows per block

// Scores of query rows [p0, p0 + RB) and keys [j, j + 16 nv), nv = 1 or 2: S = q kT + bias
// (+ -100 where the key's shift region differs from the query's, if masked), stored (RB, N) in
// S; mx[r] keeps each row's running max per lane. q (RB, HS) rows p0.., kT (HS, N).
static inline __attribute__((always_inline)) void qk_tile(float *S, __m512 *mx, const float *q, const float *kT,
                                                          const float *bh, const int *lab, int masked, int p0,
                                                          int N, int HS, int j, int nv) {
    __m512 a0[RB], a1[RB];
#pragma GCC unroll 8
    for (int r = 0; r < RB; r++) a0[r] = a1[r] = _mm512_setzero_ps();
    for (int d = 0; d < HS; d++) {
        const float *kr = kT + (size_t)d * N + j;
        __m512 k0 = _mm512_loadu_ps(kr), k1 = nv > 1 ? _mm512_loadu_ps(kr + 16) : k0;
#pragma GCC unroll 8
        for (int r = 0; r < RB; r++) {
            __m512 qb = _mm512_set1_ps(q[r * HS + d]);
            a0[r] = _mm512_fmadd_ps(qb, k0, a0[r]);
            if (nv > 1) a1[r] = _mm512_fmadd_ps(qb, k1, a1[r]);
        }
    }
    __m512i l0 = _mm512_setzero_si512(), l1 = l0;
    if (masked) {
        l0 = _mm512_loadu_si512(lab + j);
        if (nv > 1) l1 = _mm512_loadu_si512(lab + j + 16);
    }
    const __m512 m100 = _mm512_set1_ps(-100.0f);
#pragma GCC unroll 8
    for (int r = 0; r < RB; r++) {
        const float *bp = bh + (size_t)(p0 + r) * N + j;
        float *sp = S + (size_t)r * N + j;
        __m512 z0 = _mm512_add_ps(a0[r], _mm512_loadu_ps(bp)), z1 = z0;
        if (nv > 1) z1 = _mm512_add_ps(a1[r], _mm512_loadu_ps(bp + 16));
        if (masked) {
            __m512i lp = _mm512_set1_epi32(lab[p0 + r]);
            z0 = _mm512_mask_add_ps(z0, _mm512_cmpneq_epi32_mask(l0, lp), z0, m100);
            if (nv > 1) z1 = _mm512_mask_add_ps(z1, _mm512_cmpneq_epi32_mask(l1, lp), z1, m100);
        }
        _mm512_storeu_ps(sp, z0);
        mx[r] = _mm512_max_ps(mx[r], z0);
        if (nv > 1) {
            _mm512_storeu_ps(sp + 16, z1);
            mx[r] = _mm512_max_ps(mx[r], z1);
        }
    }
}

// o rows tok[0..RB) (stride C), columns [c, c + 16 nv) = rs[r] * (P (RB, N) . v (N, HS))
static inline __attribute__((always_inline)) void pv_tile(float *o, const int *tok, int C, const float *P,
                                                          const float *v, const float *rs, int N, int HS, int c,
                                                          int nv) {
    __m512 a0[RB], a1[RB];
#pragma GCC unroll 8
    for (int r = 0; r < RB; r++) a0[r] = a1[r] = _mm512_setzero_ps();
    for (int j = 0; j < N; j++) {
        const float *vr = v + (size_t)j * HS + c;
        __m512 v0 = _mm512_loadu_ps(vr), v1 = nv > 1 ? _mm512_loadu_ps(vr + 16) : v0;
#pragma GCC unroll 8
        for (int r = 0; r < RB; r++) {
            __m512 pb = _mm512_set1_ps(P[(size_t)r * N + j]);
            a0[r] = _mm512_fmadd_ps(pb, v0, a0[r]);
            if (nv > 1) a1[r] = _mm512_fmadd_ps(pb, v1, a1[r]);
        }
    }
#pragma GCC unroll 8
    for (int r = 0; r < RB; r++) {
        float *dst = o + (size_t)tok[r] * C + c;
        __m512 sr = _mm512_set1_ps(rs[r]);
        _mm512_storeu_ps(dst, _mm512_mul_ps(a0[r], sr));
        if (nv > 1) _mm512_storeu_ps(dst + 16, _mm512_mul_ps(a1[r], sr));
    }
}
#define XT_ATTN_FUSED 1

// One token of the gather, HS a multiple of 16: q, k, v (+ bias if qb) to qt, kt, vt and the
// squared norms of q and k. (The plain loops' float reductions compile to scalar adds.)
static inline void gather16(float *qt, float *kt, float *vt, const float *r, const float *qb, int C, int HS, float *sq,
                            float *sk) {
    __m512 aq = _mm512_setzero_ps(), ak = aq;
    for (int d = 0; d < HS; d += 16) {
        __m512 xq = _mm512_loadu_ps(r + d), xk = _mm512_loadu_ps(r + C + d), xv = _mm512_loadu_ps(r + 2 * C + d);
        if (qb) {
            xq = _mm512_add_ps(xq, _mm512_loadu_ps(qb + d));
            xk = _mm512_add_ps(xk, _mm512_loadu_ps(qb + C + d));
            xv = _mm512_add_ps(xv, _mm512_loadu_ps(qb + 2 * C + d));
        }
        _mm512_storeu_ps(qt + d, xq);
        _mm512_storeu_ps(kt + d, xk);
        _mm512_storeu_ps(vt + d, xv);
        aq = _mm512_fmadd_ps(xq, xq, aq);
        ak = _mm512_fmadd_ps(xk, xk, ak);
    }
    *sq = _mm512_reduce_add_ps(aq);
    *sk = _mm512_reduce_add_ps(ak);
}
#endif

#define PF 6 // tokens prefetched ahead by the gather (2..16 measured within noise)

// Rows [p0, p0 + n) of the scores S (row p at S + (p - p0) * N): + 16 sigmoid(cpb) (+ -100 across
// shifted regions), softmax over keys without the 1/sum, which goes to rs[p - p0] and is applied
// to the (N, HS) output rows instead of the (N, N) weights.
static void softmax_rows(float *S, float *rs, const float *bh, const int *lab, int masked, int N, int p0, int n) {
    for (int p = p0; p < p0 + n; p++) {
        float *sp = S + (size_t)(p - p0) * N;
        const float *bp = bh + (size_t)p * N;
        float mx = -INFINITY, sum = 0;
        if (masked) {
            int lp = lab[p];
#pragma omp simd reduction(max : mx)
            for (int j = 0; j < N; j++) {
                float z = (sp[j] + bp[j]) + (lab[j] != lp ? -100.0f : 0.0f);
                sp[j] = z;
                mx = z > mx ? z : mx;
            }
        } else {
#pragma omp simd reduction(max : mx)
            for (int j = 0; j < N; j++) {
                float z = sp[j] + bp[j];
                sp[j] = z;
                mx = z > mx ? z : mx;
            }
        }
#pragma omp simd reduction(+ : sum)
        for (int j = 0; j < N; j++) { sp[j] = xt_expf(sp[j] - mx); sum += sp[j]; }
        rs[p - p0] = 1.0f / sum;
    }
}

// the probabilities of n score rows: p (n, N) = numerators S (n, N) x row scales rs (n)
static void save_probs(float *p, const float *S, const float *rs, int n, int N) {
    for (int r = 0; r < n; r++)
        for (int j = 0; j < N; j++) p[(size_t)r * N + j] = S[(size_t)r * N + j] * rs[r];
}

void xt_window_attn_forward(float *out, const xt_window_attn_saved *saved, const float *qkv, const float *qkv_bias,
                            const float *scale, const float *bias, const int *labels, int nlab, int B, int H, int W,
                            int C, int NH, int ws, int shift, float *scratch, size_t scratch_per_thread, int nthreads) {
    int HS = C / NH, N = ws * ws, nWh = H / ws, nWw = W / ws, nW = nWh * nWw;
    long ntask = (long)B * nW * NH;
#ifdef XT_ATTN_FUSED
    int fused = HS % 16 == 0 && N % 16 == 0;
#else
    int fused = 0;
#endif
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nthreads > 1)
    for (long task = 0; task < ntask; task++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *q = scratch + (size_t)tid * scratch_per_thread;
        float *k = q + (size_t)N * HS, *v = k + (size_t)N * HS, *o = v + (size_t)N * HS, *S = o + (size_t)N * HS + N;
        int *tok = (int *)(S + (size_t)N * N), *lab = tok + N;
        // task = (b nW + w) NH + h: window gw = b nW + w of the batch, head h
        long gw = task / NH;
        int h = (int)(task % NH), w = (int)(gw % nW), b = (int)(gw / nW);
        int wy = w / nWw, wx = w % nWw, masked = 0;
        const int *lrow = labels ? labels + (size_t)(gw % nlab) * N : NULL;
        for (int t = 0; t < N; t++) {
            int sy = wy * ws + t / ws, sx = wx * ws + t % ws;
            tok[t] = ((sy + shift) % H) * W + (sx + shift) % W;
            lab[t] = lrow ? lrow[t] : shift ? xt_swin_mask_label(sy, sx, H, W, ws, shift) : 0;
            masked |= lab[t] != lab[0];
        }
        const float *base = qkv + (size_t)b * H * W * 3 * C + (size_t)h * HS;
        float sc = scale[h];
        // cosine attention: F.normalize(q) . F.normalize(k) * logit scale (folded into q)
        for (int t = 0; t < N; t++) {
            const float *r = base + (size_t)tok[t] * 3 * C, *rk = r + C, *rv = r + 2 * C;
            if (t + PF < N) { // the rows are far apart in qkv: prefetch a few tokens ahead (HS*4 bytes each)
                const char *pr = (const char *)(base + (size_t)tok[t + PF] * 3 * C);
                for (int l = 0; l < HS * 4; l += 64) {
                    __builtin_prefetch(pr + l);
                    __builtin_prefetch(pr + (size_t)C * 4 + l);
                    __builtin_prefetch(pr + (size_t)C * 8 + l);
                }
            }
            float *qt = q + (size_t)t * HS, *kt = k + (size_t)t * HS, *vt = v + (size_t)t * HS;
            float sq = 0, sk = 0;
#ifdef XT_ATTN_FUSED
            if (fused)
                gather16(qt, kt, vt, r, qkv_bias ? qkv_bias + h * HS : NULL, C, HS, &sq, &sk);
            else
#endif
            if (qkv_bias) {
                const float *qb = qkv_bias + h * HS, *kb = qb + C, *vb = qb + 2 * C;
#pragma omp simd reduction(+ : sq, sk)
                for (int d = 0; d < HS; d++) {
                    qt[d] = r[d] + qb[d];
                    kt[d] = rk[d] + kb[d];
                    vt[d] = rv[d] + vb[d];
                    sq += qt[d] * qt[d];
                    sk += kt[d] * kt[d];
                }
            } else {
#pragma omp simd reduction(+ : sq, sk)
                for (int d = 0; d < HS; d++) {
                    qt[d] = r[d];
                    kt[d] = rk[d];
                    vt[d] = rv[d];
                    sq += qt[d] * qt[d];
                    sk += kt[d] * kt[d];
                }
            }
            float nq = fmaxf(sqrtf(sq), 1e-12f), nk = fmaxf(sqrtf(sk), 1e-12f), iq = sc / nq, ik = 1.0f / nk;
            if (saved) { // F.normalize(q), F.normalize(k) and the norms, for the backward
                size_t r = (size_t)task * N + t;
                float *qs = saved->qn + r * HS, *ks = saved->kn + r * HS, rq = 1.0f / nq;
                saved->qnorm[r] = nq;
                saved->knorm[r] = nk;
                for (int d = 0; d < HS; d++) {
                    qs[d] = qt[d] * rq;
                    ks[d] = kt[d] * ik;
                }
            }
            if (fused) { // k goes transposed to kT (HS, N) = o, unused on this path
#pragma omp simd
                for (int d = 0; d < HS; d++) {
                    qt[d] *= iq;
                    o[(size_t)d * N + t] = kt[d] * ik;
                }
            } else {
#pragma omp simd
                for (int d = 0; d < HS; d++) {
                    qt[d] *= iq;
                    kt[d] *= ik;
                }
            }
        }
        const float *bh = bias + (size_t)h * N * N;
        float *rs = o + (size_t)N * HS; // N row scales
        float *ob = out + (size_t)b * H * W * C + (size_t)h * HS;
#ifdef XT_ATTN_FUSED
        if (fused) {
            const float *kT = o;
            for (int p0 = 0; p0 < N; p0 += RB) {
                const float *qp = q + (size_t)p0 * HS;
                int j = 0;
                __m512 mx[RB];
                for (int r = 0; r < RB; r++) mx[r] = _mm512_set1_ps(-INFINITY);
                for (; j + 32 <= N; j += 32) qk_tile(S, mx, qp, kT, bh, lab, masked, p0, N, HS, j, 2);
                if (j < N) qk_tile(S, mx, qp, kT, bh, lab, masked, p0, N, HS, j, 1);
                for (int r = 0; r < RB; r++) { // softmax numerators; 1/sum goes to the output rows
                    float *sp = S + (size_t)r * N;
                    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(mx[r])), sum = _mm512_setzero_ps();
                    for (int jj = 0; jj < N; jj += 16) {
                        __m512 e = xt_exp16(_mm512_sub_ps(_mm512_loadu_ps(sp + jj), m));
                        _mm512_storeu_ps(sp + jj, e);
                        sum = _mm512_add_ps(sum, e);
                    }
                    rs[r] = 1.0f / _mm512_reduce_add_ps(sum);
                }
                if (saved) save_probs(saved->p + ((size_t)task * N + p0) * N, S, rs, RB, N);
                int c = 0;
                for (; c + 32 <= HS; c += 32) pv_tile(ob, tok + p0, C, S, v, rs, N, HS, c, 2);
                if (c < HS) pv_tile(ob, tok + p0, C, S, v, rs, N, HS, c, 1);
            }
            continue;
        }
#endif
        xt_gemm(0, 1, N, N, HS, 1.0f, q, HS, k, HS, 0.0f, S, N);
        softmax_rows(S, rs, bh, lab, masked, N, 0, N);
        if (saved) save_probs(saved->p + (size_t)task * N * N, S, rs, N, N);
        xt_gemm(0, 0, N, HS, N, 1.0f, S, N, v, HS, 0.0f, o, HS);
        for (int t = 0; t < N; t++) {
            float *dst = ob + (size_t)tok[t] * C, *src = o + (size_t)t * HS, r = rs[t];
#pragma omp simd
            for (int d = 0; d < HS; d++) dst[d] = src[d] * r;
        }
    }
    (void)fused;
}

// Each term differentiates the forward line quoted beside it; windows x heads run in parallel
// (disjoint dqkv columns), dbias and dscale are reduced over windows in a fixed order.
void xt_window_attn_backward(float *dqkv, float *dbias, float *dscale, const float *dout,
                             const xt_window_attn_saved *saved, const float *qkv, const float *scale, int nw, int n,
                             int NH, int HS, float *part) {
    float *p = saved->p;
    const float *qn = saved->qn, *kn = saved->kn, *qnorm = saved->qnorm, *knorm = saved->knorm;
    const int C = NH * HS, ld = 3 * C;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < nw * NH; t++) {
        int w = t / NH, h = t % NH;
        const float *v = qkv + (size_t)w * n * ld + h * HS + 2 * C, *dO = dout + (size_t)w * n * C + h * HS;
        float *dq = dqkv + (size_t)w * n * ld + h * HS, *dk = dq + C, *dv = dq + 2 * C;
        const float *qo = qn + (size_t)t * n * HS, *ko = kn + (size_t)t * n * HS;
        float *P = p + (size_t)t * n * n;
        xt_gemm(1, 0, n, HS, n, 1.0f, P, n, dO, C, 0.0f, dv, ld); // out = P v
        enum { DRB = 32 }; // dP = dO v^T in blocks of DRB rows (DRB x n floats on the stack)
        for (int i0 = 0; i0 < n; i0 += DRB) { // P = softmax(S), row by row: dS into P
            int rb = n - i0 < DRB ? n - i0 : DRB;
            float dpb[DRB * n];
            xt_gemm(0, 1, rb, n, HS, 1.0f, dO + (size_t)i0 * C, C, v, ld, 0.0f, dpb, n);
            for (int i = i0; i < i0 + rb; i++) {
                float s = 0, *r = P + (size_t)i * n;
                const float *dp = dpb + (size_t)(i - i0) * n;
                for (int j = 0; j < n; j++) s += dp[j] * r[j];
                for (int j = 0; j < n; j++) r[j] = r[j] * (dp[j] - s);
            }
        }
        // S = scale qn kn^T + bias: dqn = scale dS kn, dkn = scale dS^T qn
        xt_gemm(0, 0, n, HS, n, scale[h], P, n, ko, HS, 0.0f, dq, ld);
        xt_gemm(1, 0, n, HS, n, scale[h], P, n, qo, HS, 0.0f, dk, ld);
        // dL/dscale = sum dS * (qn kn^T) = sum_i qn_i . dqn_i / scale
        double ps = 0;
        for (int i = 0; i < n; i++)
            for (int d = 0; d < HS; d++) ps += (double)qo[(size_t)i * HS + d] * dq[(size_t)i * ld + d];
        part[t] = (float)(ps / scale[h]);
        // xn = x / max(|x|, eps): dx = (dxn - xn (xn . dxn)) / |x|  (dxn / eps when clamped)
        for (int i = 0; i < n; i++) {
            float nq = qnorm[(size_t)t * n + i], nk = knorm[(size_t)t * n + i], aq = 0, ak = 0;
            float *a = dq + (size_t)i * ld, *b = dk + (size_t)i * ld;
            const float *xq = qo + (size_t)i * HS, *xk = ko + (size_t)i * HS;
            if (nq > 1e-12f)
                for (int d = 0; d < HS; d++) aq += xq[d] * a[d];
            if (nk > 1e-12f)
                for (int d = 0; d < HS; d++) ak += xk[d] * b[d];
            for (int d = 0; d < HS; d++) {
                a[d] = (a[d] - xq[d] * aq) / nq;
                b[d] = (b[d] - xk[d] * ak) / nk;
            }
        }
    }
    for (int h = 0; h < NH; h++) { // fixed-order reductions over windows
        float *db = dbias + (size_t)h * n * n;
        for (int w = 0; w < nw; w++) {
            const float *P = p + ((size_t)w * NH + h) * n * n;
            for (size_t i = 0; i < (size_t)n * n; i++) db[i] += P[i];
            dscale[h] += part[w * NH + h];
        }
    }
}

// torch.roll(-shift) + window_partition, and its inverse (the training forward works on partitioned
// windows; inference folds both into xt_window_attn_forward's index map)
// window-ordered row (b, wh, ww, i, j) <-> map row (b, (wh ws + i + shift) mod H, (ww ws + j + shift) mod W)
static void window_permute(float *out, const float *inp, int B, int H, int W, int C, int ws, int shift, int reverse) {
    int nh = H / ws, nwd = W / ws;
    for (int b = 0; b < B; b++)
        for (int wh = 0; wh < nh; wh++)
            for (int ww = 0; ww < nwd; ww++)
                for (int i = 0; i < ws; i++)
                    for (int j = 0; j < ws; j++) {
                        int y = (wh * ws + i + shift) % H, x = (ww * ws + j + shift) % W;
                        size_t o = ((((size_t)b * nh + wh) * nwd + ww) * ws * ws + (size_t)i * ws + j) * C;
                        size_t m = (((size_t)b * H + y) * W + x) * C;
                        memcpy(out + (reverse ? m : o), inp + (reverse ? o : m), C * sizeof(float));
                    }
}

void xt_window_partition(float *out, const float *inp, int B, int H, int W, int C, int ws, int shift) {
    window_permute(out, inp, B, H, W, C, ws, shift, 0); // roll(-shift), then partition
}

void xt_window_reverse(float *out, const float *inp, int B, int H, int W, int C, int ws, int shift) {
    window_permute(out, inp, B, H, W, C, ws, shift, 1); // partition^-1, then roll(+shift)
}

// ref: PatchMerging.forward: reshape(B, H/2, 2, W/2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3),
// i.e. the 2x2 neighbours in the order (0,0), (1,0), (0,1), (1,1) as (row, col) offsets.
void xt_patch_merge_gather(float *out, const float *x, int B, int H, int W, int C) {
    int H2 = H / 2, W2 = W / 2;
#pragma omp parallel for if ((size_t)B * H * W * C > 65536)
    for (long r = 0; r < (long)B * H2; r++) {
        int b = (int)(r / H2), i = (int)(r % H2);
        for (int j = 0; j < W2; j++) {
            float *o = out + ((size_t)r * W2 + j) * 4 * C;
            for (int q = 0; q < 4; q++) {
                int dy = q & 1, dx = q >> 1;
                memcpy(o + q * C, x + (((size_t)b * H + 2 * i + dy) * W + 2 * j + dx) * C, C * sizeof(float));
            }
        }
    }
}

// ref: timm 0.9.7 swin_transformer_v2.py PatchMerging: reshape(B, H/2, 2, W/2, 2, C)
// .permute(0, 1, 3, 4, 2, 5).flatten(3) -> slot k = 2 * col_offset + row_offset
void xt_patch_merge_scatter(float *dinp, const float *dout, int B, int H, int W, int C) {
    for (int b = 0; b < B; b++)
        for (int i = 0; i < H / 2; i++)
            for (int j = 0; j < W / 2; j++)
                for (int k = 0; k < 4; k++) {
                    int y = 2 * i + (k & 1), x = 2 * j + (k >> 1);
                    memcpy(dinp + (((size_t)b * H + y) * W + x) * C,
                           dout + ((((size_t)b * (H / 2) + i) * (W / 2) + j) * 4 + k) * C, C * sizeof(float));
                }
}

// Conv2d(k = stride = P) as a GEMM: out (B, H/P, W/P, Cin*P*P) with columns in the weight's
// (ci, ky, kx) order.
void xt_patch_im2col(float *out, const float *img, int B, int Cin, int H, int W, int P) {
    int Ho = H / P, Wo = W / P, K = Cin * P * P;
#pragma omp parallel for if ((size_t)B * Cin * H * W > 65536)
    for (long r = 0; r < (long)B * Ho; r++) {
        int b = (int)(r / Ho), i = (int)(r % Ho);
        for (int j = 0; j < Wo; j++) {
            float *o = out + ((size_t)r * Wo + j) * K;
            for (int c = 0; c < Cin; c++)
                for (int ky = 0; ky < P; ky++)
                    memcpy(o + (c * P + ky) * P, img + (((size_t)b * Cin + c) * H + i * P + ky) * W + j * P,
                           P * sizeof(float));
        }
    }
}

// (B, L, C) -> (B, C, L)
void xt_nhwc_to_nchw(float *out, const float *x, int B, int L, int C) {
#pragma omp parallel for if ((size_t)B * L * C > 65536)
    for (long bc = 0; bc < (long)B * C; bc++) {
        int b = (int)(bc / C), c = (int)(bc % C);
        const float *xb = x + (size_t)b * L * C + c;
        float *o = out + (size_t)bc * L;
        for (int l = 0; l < L; l++) o[l] = xb[(size_t)l * C];
    }
}
