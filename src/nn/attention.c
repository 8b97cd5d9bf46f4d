// attention.c — the softmax attentions of the context encoder, each a forward (inference and
// training) beside its backward.
//
// xt_attention_forward: exact softmax attention (optionally causal) for one head. Inference
// (p == NULL) streams over key blocks with an online softmax (flash-attention style) and never
// materialises the L x L score matrix: each thread holds one (BQ x BK) score tile and a (BQ x HS)
// accumulator, so memory is O(L * HS) for q, k, v, out plus O(threads * BQ * (BK + HS)) scratch.
// Query blocks are split across OpenMP threads; the two GEMMs per tile run single-threaded inside
// (oneDNN sgemm). Training (p != NULL) keeps the probabilities for the backward: S = scale q k^T
// into p, row softmax, out = P v. The causal mask of the official code is finfo(float32).min
// added to the scores; with a finite row maximum that gives exactly exp(-huge) = 0, which skipping
// masked keys reproduces.
//
// xt_channel_attention_forward: the official "naive" context attention (golden README bug 1):
// ViTAttention built with num_heads = dim, i.e. head size 1, scale 1.0 and no causal mask:
//   out[n, c] = sum_m softmax_m(q[n, c] k[m, c]) v[m, c].
// The row maximum is q * max_m k (q >= 0) or q * min_m k (q < 0), so one pass per query suffices;
// the logits of a channel are rank 1, but exp(q k) does not factor, so the cost is one exp per
// (query, key, channel): the kernel below is an exp pipeline, 16 channels per instruction.
// ref: xt/models/context_encoders/attention.py ViTAttention
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/fastmath.h"
#include "nn/nn.h"

#define BQ 256
#define BK 256

size_t xt_attention_scratch_floats(int HS) {
#ifdef _OPENMP
    int t = omp_get_max_threads();
#else
    int t = 1;
#endif
    return (size_t)t * (BQ * BK + BQ * HS + 2 * BQ) + 64;
}

// training: the probabilities p (L, L) kept
static void attention_saved(float *out, int ldo, float *p, const float *q, int ldq, const float *k, int ldk,
                            const float *v, int ldv, int L, int HS, float scale, int causal) {
    xt_gemm(0, 1, L, L, HS, scale, q, ldq, k, ldk, 0.0f, p, L); // S = scale q k^T
    for (int i = 0; i < L; i++) {
        float *r = p + (size_t)i * L;
        int nk = causal ? i + 1 : L; // official: finfo.min added above the diagonal -> exp() == 0
        float mx = -INFINITY, s = 0;
        for (int j = 0; j < nk; j++) mx = fmaxf(mx, r[j]);
        for (int j = 0; j < nk; j++) { r[j] = expf(r[j] - mx); s += r[j]; }
        for (int j = 0; j < nk; j++) r[j] /= s;
        for (int j = nk; j < L; j++) r[j] = 0;
    }
    xt_gemm(0, 0, L, HS, L, 1.0f, p, L, v, ldv, 0.0f, out, ldo); // out = P v
}

void xt_attention_forward(float *out, int ldo, float *p, const float *q, int ldq, const float *k, int ldk,
                          const float *v, int ldv, int L, int HS, float scale, int causal, float *scratch) {
    if (p) {
        attention_saved(out, ldo, p, q, ldq, k, ldk, v, ldv, L, HS, scale, causal);
        return;
    }
    int nqb = (L + BQ - 1) / BQ;
    size_t per = (size_t)BQ * BK + (size_t)BQ * HS + 2 * BQ;
#pragma omp parallel for schedule(dynamic, 1) if (nqb > 1)
    for (int qb = 0; qb < nqb; qb++) {
#ifdef _OPENMP
        float *S = scratch + per * omp_get_thread_num();
#else
        float *S = scratch;
#endif
        float *acc = S + BQ * BK, *mx = acc + BQ * HS, *sum = mx + BQ;
        int q0 = qb * BQ, nq = L - q0 < BQ ? L - q0 : BQ;
        int kend = causal ? q0 + nq : L;
        for (int i = 0; i < nq; i++) { mx[i] = -INFINITY; sum[i] = 0; }
        memset(acc, 0, sizeof(float) * nq * HS);
        for (int k0 = 0; k0 < kend; k0 += BK) {
            int nk = kend - k0 < BK ? kend - k0 : BK;
            xt_gemm(0, 1, nq, nk, HS, scale, q + (size_t)q0 * ldq, ldq, k + (size_t)k0 * ldk, ldk, 0.0f, S, BK);
            for (int i = 0; i < nq; i++) {
                float *s = S + (size_t)i * BK;
                int lim = causal ? q0 + i - k0 + 1 : nk; // keys k0 + j <= q0 + i
                if (lim > nk) lim = nk;
                if (lim < 0) lim = 0;
                float m = mx[i];
#pragma omp simd reduction(max : m)
                for (int j = 0; j < lim; j++) m = s[j] > m ? s[j] : m;
                float corr = xt_expf(mx[i] - m); // exp(-inf) -> clamped tiny, then 0 below
                if (mx[i] == -INFINITY) corr = 0;
                float ls = 0;
#pragma omp simd reduction(+ : ls)
                for (int j = 0; j < lim; j++) { s[j] = xt_expf(s[j] - m); ls += s[j]; }
                for (int j = lim; j < nk; j++) s[j] = 0;
                sum[i] = sum[i] * corr + ls;
                mx[i] = m;
                if (corr != 1.0f)
                    for (int d = 0; d < HS; d++) acc[(size_t)i * HS + d] *= corr;
            }
            xt_gemm(0, 0, nq, HS, nk, 1.0f, S, BK, v + (size_t)k0 * ldv, ldv, 1.0f, acc, HS);
        }
        for (int i = 0; i < nq; i++) {
            float inv = 1.0f / sum[i];
            float *o = out + (size_t)(q0 + i) * ldo;
            for (int d = 0; d < HS; d++) o[d] = acc[(size_t)i * HS + d] * inv;
        }
    }
}

void xt_attention_forward_naive(float *out, int ldo, const float *q, int ldq, const float *k, int ldk,
                                const float *v, int ldv, int L, int HS, float scale, int causal) {
    const float fmin = -3.4028234663852886e38f;
    float *s = xt_xmalloc(sizeof(float) * L);
    for (int i = 0; i < L; i++) {
        float m = -INFINITY;
        for (int j = 0; j < L; j++) {
            double d = 0;
            for (int c = 0; c < HS; c++) d += (double)q[(size_t)i * ldq + c] * k[(size_t)j * ldk + c];
            s[j] = (float)d * scale + (causal && j > i ? fmin : 0.0f);
            if (s[j] > m) m = s[j];
        }
        double sum = 0;
        for (int j = 0; j < L; j++) { s[j] = expf(s[j] - m); sum += s[j]; }
        for (int c = 0; c < HS; c++) {
            double a = 0;
            for (int j = 0; j < L; j++) a += (double)s[j] * v[(size_t)j * ldv + c];
            out[(size_t)i * ldo + c] = (float)(a / sum);
        }
    }
    free(s);
}

void xt_attention_backward(float *dq, float *dk, float *dv, int ldd, float *dp, const float *dout, int ldo,
                           const float *p, const float *q, const float *k, const float *v, int ld, int L,
                           int HS, float scale) {
    xt_gemm(1, 0, L, HS, L, 1.0f, p, L, dout, ldo, 0.0f, dv, ldd);  // out = P v
    xt_gemm(0, 1, L, L, HS, 1.0f, dout, ldo, v, ld, 0.0f, dp, L);   // dP = dout v^T
    xt_softmax_backward(dp, dp, p, L, L);                           // masked entries: p == 0 -> 0
    xt_gemm(0, 0, L, HS, L, scale, dp, L, k, ld, 0.0f, dq, ldd);    // S = scale q k^T
    xt_gemm(1, 0, L, HS, L, scale, dp, L, q, ld, 0.0f, dk, ldd);
}

// Channel attention, inference. Per (query n, channel c), with mx = the row maximum above:
//   e_m = exp(q k_m - mx) = 2^t, t = fma(q log2 e, k_m, -mx log2 e) (fastmath.h xt_exp2f_neg);
//   se += e_m;  sv = fma(e_m, v_m, sv);  out = sv / se
// in key order m = 0, 1, ... — the same operations in the same order in every path (AVX-512,
// portable, training), so all give the same bits. Folding log2 e into q (one rounding of q, a
// relative 6e-8 change of the input) and into mx (a constant shift of the row's logits, which
// the softmax cancels) saves the multiply of exp's range reduction; the result is the exact
// softmax of inputs perturbed by at most 1 ulp. The AVX-512 kernel holds CB = 16 channels of
// QB = 4 queries in registers (q, -mx, se, sv) and streams keys: each k, v load serves 4 exps.
// Work items are (CQ queries) x (16 channels); within one, keys go in blocks of CK so the block's
// k, v (CK x 2 x 64 B = 64 KiB) stay in L2 while all CQ queries pass over them (the accumulators,
// CQ x 16 x 4 floats = 32 KiB per thread, live in scratch between blocks).
#define CB 16  // channels per vector
#define CQ 128 // queries per work item (a multiple of QB)
#define CK 512 // keys per block
#define QB 4   // queries in registers

size_t xt_channel_attention_scratch_floats(int C) {
#ifdef _OPENMP
    int t = omp_get_max_threads();
#else
    int t = 1;
#endif
    size_t portable = 4 * (size_t)C, blocked = 4 * (size_t)CQ * CB;
    return 2 * (size_t)C + (size_t)t * (portable > blocked ? portable : blocked);
}

// training: the probabilities p (C, L, L) kept; channels in parallel, no scratch. Per (n, c) the
// same operations in the same order as the streamed paths below, so all give the same out.
static void channel_attention_saved(float *out, int ldo, float *p, const float *q, const float *k, const float *v,
                                    int ld, int L, int C) {
#pragma omp parallel for if (C >= 16)
    for (int c = 0; c < C; c++) {
        float kmax = -INFINITY, kmin = INFINITY;
        for (int m = 0; m < L; m++) {
            float x = k[(size_t)m * ld + c];
            kmax = x > kmax ? x : kmax;
            kmin = x < kmin ? x : kmin;
        }
        for (int n = 0; n < L; n++) {
            float qn = q[(size_t)n * ld + c], mx = qn >= 0 ? qn * kmax : qn * kmin, se = 0, sv = 0;
            float q2 = qn * XT_LOG2E, nm2 = -mx * XT_LOG2E; // base 2: t = q2 k + nm2
            float *pr = p + ((size_t)c * L + n) * L;
            for (int m = 0; m < L; m++) {
                float e = xt_exp2f_neg(fmaf(q2, k[(size_t)m * ld + c], nm2));
                pr[m] = e;
                se += e;
                sv = fmaf(e, v[(size_t)m * ld + c], sv);
            }
            out[(size_t)n * ldo + c] = sv / se;
            float inv = 1.0f / se;
            for (int m = 0; m < L; m++) pr[m] *= inv;
        }
    }
}

#if defined(__AVX512F__)
// QB = 4 queries (rows of qs = q log2 e, nm = -mx log2 e, se, sv: 16 floats each) over keys
// [m0, m1) of one channel tile; kl: per lane the key that gives each query its lowest t (kmin
// where q >= 0, else kmax). Named variables, not arrays: GCC kept arrays of __m512 in sync on the
// stack (two 64-byte stores per exp, measured 1.3x slower).
#define CHANNEL_LOOP(EXP2)                                                                               \
    for (int m = m0; m < m1; m++) {                                                                      \
        __m512 kv = _mm512_maskz_loadu_ps(mk, k + (size_t)m * ld), vv = _mm512_maskz_loadu_ps(mk, v + (size_t)m * ld); \
        __m512 e0 = EXP2(_mm512_fmadd_ps(q0, kv, n0)), e1 = EXP2(_mm512_fmadd_ps(q1, kv, n1));          \
        __m512 e2 = EXP2(_mm512_fmadd_ps(q2, kv, n2)), e3 = EXP2(_mm512_fmadd_ps(q3, kv, n3));          \
        s0 = _mm512_add_ps(s0, e0), a0 = _mm512_fmadd_ps(e0, vv, a0);                                  \
        s1 = _mm512_add_ps(s1, e1), a1 = _mm512_fmadd_ps(e1, vv, a1);                                  \
        s2 = _mm512_add_ps(s2, e2), a2 = _mm512_fmadd_ps(e2, vv, a2);                                  \
        s3 = _mm512_add_ps(s3, e3), a3 = _mm512_fmadd_ps(e3, vv, a3);                                  \
    }
static inline void channel_block(float *qs, float *nm, float *se, float *sv, const float *k, const float *v, int ld,
                                 int m0, int m1, __mmask16 mk, __m512 kx, __m512 kn) {
#define LD4(x, p) __m512 x##0 = _mm512_loadu_ps(p), x##1 = _mm512_loadu_ps(p + CB), \
                         x##2 = _mm512_loadu_ps(p + 2 * CB), x##3 = _mm512_loadu_ps(p + 3 * CB)
    LD4(q, qs);
    LD4(n, nm);
    LD4(s, se);
    LD4(a, sv);
#undef LD4
    // the lowest t = q2 k + nm2 over all keys (fma rounding is monotone in k): when no lane can
    // go below -126, the clamp of xt_exp2f_neg changes nothing and is left out (same bits)
#define LOW(i) _mm512_fmadd_ps(q##i, _mm512_mask_blend_ps(_mm512_cmp_ps_mask(q##i, _mm512_setzero_ps(), _CMP_GE_OQ), kx, kn), n##i)
    __m512 lo = _mm512_min_ps(_mm512_min_ps(LOW(0), LOW(1)), _mm512_min_ps(LOW(2), LOW(3)));
#undef LOW
    if (_mm512_reduce_min_ps(lo) >= -126.0f) {
        CHANNEL_LOOP(xt_exp2_16_neg_noclamp)
    } else {
        CHANNEL_LOOP(xt_exp2_16_neg)
    }
    _mm512_storeu_ps(se, s0), _mm512_storeu_ps(se + CB, s1), _mm512_storeu_ps(se + 2 * CB, s2);
    _mm512_storeu_ps(se + 3 * CB, s3);
    _mm512_storeu_ps(sv, a0), _mm512_storeu_ps(sv + CB, a1), _mm512_storeu_ps(sv + 2 * CB, a2);
    _mm512_storeu_ps(sv + 3 * CB, a3);
}
#undef CHANNEL_LOOP

static void channel_attention_avx512(float *out, int ldo, const float *q, const float *k, const float *v, int ld,
                                     int L, int C, const float *kmax, const float *kmin, float *scratch) {
    const int nct = (C + CB - 1) / CB, nqi = (L + CQ - 1) / CQ;
#pragma omp parallel if ((double)L * L * C > 1e6)
    {
#ifdef _OPENMP
        float *buf = scratch + (size_t)4 * CQ * CB * omp_get_thread_num();
#else
        float *buf = scratch;
#endif
        float *qs = buf, *nm = qs + CQ * CB, *se = nm + CQ * CB, *sv = se + CQ * CB;
#pragma omp for schedule(dynamic, 1)
        for (int it = 0; it < nqi * nct; it++) {
            const int c0 = it % nct * CB, n0 = it / nct * CQ, nq = L - n0 < CQ ? L - n0 : CQ;
            const __mmask16 mk = C - c0 >= CB ? 0xffff : (__mmask16)((1u << (C - c0)) - 1);
            const __m512 kx = _mm512_maskz_loadu_ps(mk, kmax + c0), kn = _mm512_maskz_loadu_ps(mk, kmin + c0);
            const int nqp = (nq + QB - 1) / QB * QB; // rows past nq: q = 0, computed and dropped
            for (int i = 0; i < nqp; i++) {
                __m512 x = i < nq ? _mm512_maskz_loadu_ps(mk, q + (size_t)(n0 + i) * ld + c0) : _mm512_setzero_ps();
                __mmask16 pos = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_GE_OQ);
                __m512 mx = _mm512_mask_blend_ps(pos, _mm512_mul_ps(x, kn), _mm512_mul_ps(x, kx));
                const __m512 l2e = _mm512_set1_ps(XT_LOG2E);
                _mm512_storeu_ps(qs + i * CB, _mm512_mul_ps(x, l2e));
                _mm512_storeu_ps(nm + i * CB, _mm512_mul_ps(_mm512_sub_ps(_mm512_setzero_ps(), mx), l2e));
                _mm512_storeu_ps(se + i * CB, _mm512_setzero_ps());
                _mm512_storeu_ps(sv + i * CB, _mm512_setzero_ps());
            }
            for (int m0 = 0; m0 < L; m0 += CK) {
                int m1 = L - m0 < CK ? L : m0 + CK;
                for (int i = 0; i < nqp; i += QB)
                    channel_block(qs + i * CB, nm + i * CB, se + i * CB, sv + i * CB, k + c0, v + c0, ld, m0, m1, mk,
                                  kx, kn);
            }
            // out may alias q: rows n0.. of this tile were read into qs above
            for (int i = 0; i < nq; i++)
                _mm512_mask_storeu_ps(out + (size_t)(n0 + i) * ldo + c0, mk,
                                      _mm512_div_ps(_mm512_loadu_ps(sv + i * CB), _mm512_loadu_ps(se + i * CB)));
        }
    }
}
#endif

void xt_channel_attention_forward(float *out, int ldo, float *p, const float *q, const float *k, const float *v,
                                  int ld, int L, int C, float *scratch) {
    if (p) {
        channel_attention_saved(out, ldo, p, q, k, v, ld, L, C);
        return;
    }
    float *kmax = scratch, *kmin = scratch + C;
    for (int c = 0; c < C; c++) { kmax[c] = -INFINITY; kmin[c] = INFINITY; }
    for (int m = 0; m < L; m++)
        for (int c = 0; c < C; c++) {
            float x = k[(size_t)m * ld + c];
            kmax[c] = x > kmax[c] ? x : kmax[c];
            kmin[c] = x < kmin[c] ? x : kmin[c];
        }
#if defined(__AVX512F__)
    channel_attention_avx512(out, ldo, q, k, v, ld, L, C, kmax, kmin, scratch + 2 * (size_t)C);
#else
    // portable: one query row at a time, the channels vectorised by the compiler. Each query row
    // writes only its own output row; out may alias q (row n read before written)
#pragma omp parallel if (L >= 64)
    {
#ifdef _OPENMP
        float *buf = scratch + 2 * (size_t)C + 4 * (size_t)C * omp_get_thread_num();
#else
        float *buf = scratch + 2 * (size_t)C;
#endif
        float *nm = buf, *se = buf + C, *sv = buf + 2 * C, *q2 = buf + 3 * C;
#pragma omp for schedule(static)
        for (int n = 0; n < L; n++) {
            const float *qn = q + (size_t)n * ld;
            for (int c = 0; c < C; c++) {
                q2[c] = qn[c] * XT_LOG2E;
                nm[c] = -(qn[c] >= 0 ? qn[c] * kmax[c] : qn[c] * kmin[c]) * XT_LOG2E;
                se[c] = 0;
                sv[c] = 0;
            }
            for (int m = 0; m < L; m++) {
                const float *km = k + (size_t)m * ld, *vm = v + (size_t)m * ld;
#pragma omp simd
                for (int c = 0; c < C; c++) {
                    float e = xt_exp2f_neg(fmaf(q2[c], km[c], nm[c]));
                    se[c] += e;
                    sv[c] = fmaf(e, vm[c], sv[c]);
                }
            }
            float *o = out + (size_t)n * ldo;
            for (int c = 0; c < C; c++) o[c] = sv[c] / se[c];
        }
    }
#endif
}

void xt_channel_attention_backward(float *dqkv, const float *dout, const float *p, const float *qkv, int L, int D) {
    const size_t ld = 3 * (size_t)D;
#pragma omp parallel for if (D >= 16)
    for (int c = 0; c < D; c++) {
        for (int m = 0; m < L; m++) dqkv[m * ld + D + c] = dqkv[m * ld + 2 * D + c] = 0;
        for (int n = 0; n < L; n++) {
            const float *pr = p + ((size_t)c * L + n) * L;
            float dy = dout[(size_t)n * D + c], s = 0, dq = 0;
            for (int m = 0; m < L; m++) {
                dqkv[m * ld + 2 * D + c] += pr[m] * dy; // o = sum_m p v
                s += pr[m] * dy * qkv[m * ld + 2 * D + c];
            }
            float q = qkv[n * ld + c];
            for (int m = 0; m < L; m++) {
                float ds = pr[m] * (dy * qkv[m * ld + 2 * D + c] - s); // p = softmax(s)
                dq += ds * qkv[m * ld + D + c];                        // s = q k
                dqkv[m * ld + D + c] += ds * q;
            }
            dqkv[n * ld + c] = dq;
        }
    }
}
