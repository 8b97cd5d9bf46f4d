// fastmath.h — branch-free expf / erff that the compiler vectorises inside `omp simd` loops
// (glibc's expf/erff are scalar calls; in Swin V2 they were a third of the forward time).
// fmaf is explicit: -std=c11 turns off FP contraction, and these are latency-bound Horner chains.
// xt_expf is the project's one fast exp (softmaxes, the naive and flash context attentions, the
// Mamba scan, SiLU, softplus); xt_exp16 is the same operations on 16 AVX-512 lanes, bit for bit.
// Accuracy: xt_expf max relative error 1.2e-7 (~1 ulp) vs double exp on [-87, 88] (measured by
// tests/test_nn_basic.c on a dense sweep); arguments are clamped to [-87, 88], so exp(x < -87)
// gives exp(-87) ~ 1.6e-38, not 0 — harmless for softmax weights and decay factors. erff a few
// ulp; GELU and softmax match torch to < 1e-6.
#ifndef XT_FASTMATH_H
#define XT_FASTMATH_H

#include <math.h>
#include <stdint.h>

// exp(x): x = n ln2 + r, |r| <= ln2/2, Cephes degree-6 polynomial, 2^n from the exponent bits.
static inline float xt_expf(float x) {
    x = x < -87.0f ? -87.0f : x;
    x = x > 88.0f ? 88.0f : x;
    // round to nearest by the 1.5 * 2^23 trick (vectorises, unlike floorf; exact for |n| < 2^22)
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = fmaf(n, 2.12194440e-4f, fmaf(n, -0.693359375f, x));
    float p = 1.9875691500e-4f;
    p = fmaf(p, r, 1.3981999507e-3f);
    p = fmaf(p, r, 8.3334519073e-3f);
    p = fmaf(p, r, 4.1665795894e-2f);
    p = fmaf(p, r, 1.6666665459e-1f);
    p = fmaf(p, r, 5.0000001201e-1f);
    p = fmaf(p, r * r, r + 1.0f);
    union { int32_t i; float f; } s;
    s.i = ((int32_t)n + 127) << 23;
    return p * s.f;
}

// exp for softmax arguments x <= 0 (a score minus its row maximum; rounding may leave x a few
// ulp above 0), in base 2: xt_exp2f_neg(t) = 2^t = 2^floor(t) 2^frac(t), 2^frac on [0, 1) by a
// degree-5 polynomial (relative error 8e-8, fitted for this file), t clamped at -126 (2^-126 ~
// 1.2e-38, as xt_expf's clamp); xt_expf_neg(x) = xt_exp2f_neg(x log2 e). Relative error <= 2e-7
// + |x| 8e-8 (the rounding of t): for softmax weights an absolute error <= 2e-7 x exp(x) + 3e-8,
// below float resolution of a row sum, which always holds exp(0) = 1. Callers that can fold
// log2 e into their operands (the naive channel attention: t = (q log2 e) k - mx log2 e, one
// fma) pay 10 operations per exp where xt_expf takes 14.
#define XT_LOG2E 1.44269504088896341f
#define XT_EXP2_C1 0.6931512951850891f
#define XT_EXP2_C2 0.24016445875167847f
#define XT_EXP2_C3 0.055799901485443115f
#define XT_EXP2_C4 0.00901701208204031f
#define XT_EXP2_C5 0.0018671465804800391f
static inline float xt_exp2f_neg(float t) {
    t = t < -126.0f ? -126.0f : t;
    float fl = floorf(t), f = t - fl;
    float p = fmaf(XT_EXP2_C5, f, XT_EXP2_C4);
    p = fmaf(p, f, XT_EXP2_C3);
    p = fmaf(p, f, XT_EXP2_C2);
    p = fmaf(p, f, XT_EXP2_C1);
    p = fmaf(p, f, 1.0f);
    union { int32_t i; float f; } s;
    s.i = ((int32_t)fl + 127) << 23;
    return p * s.f;
}
static inline float xt_expf_neg(float x) { return xt_exp2f_neg(x * XT_LOG2E); }

#if defined(__AVX512F__)
#include <immintrin.h>
// xt_expf on 16 lanes: rounding by roundscale (= the 1.5 * 2^23 trick) and 2^n by scalef (= the
// exponent bits times p): the same values, 3 instructions fewer.
static inline __m512 xt_exp16(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fmadd_ps(n, _mm512_set1_ps(2.12194440e-4f), _mm512_fmadd_ps(n, _mm512_set1_ps(-0.693359375f), x));
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
    return _mm512_scalef_ps(p, n);
}
// xt_exp2f_neg on 16 lanes, the same bits; 2^floor(t) by scalef. (vreduceps would give frac(t)
// in one instruction, but rounds t - floor(t) downwards where the scalar subtraction rounds to
// nearest: 1 ulp apart.) _noclamp: for t known >= -126, where the clamp changes nothing.
static inline __m512 xt_exp2_16_neg_noclamp(__m512 t) {
    __m512 fl = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC), f = _mm512_sub_ps(t, fl);
    __m512 p = _mm512_fmadd_ps(_mm512_set1_ps(XT_EXP2_C5), f, _mm512_set1_ps(XT_EXP2_C4));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(XT_EXP2_C3));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(XT_EXP2_C2));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(XT_EXP2_C1));
    p = _mm512_fmadd_ps(p, f, _mm512_set1_ps(1.0f));
    return _mm512_scalef_ps(p, fl);
}
static inline __m512 xt_exp2_16_neg(__m512 t) {
    return xt_exp2_16_neg_noclamp(_mm512_max_ps(t, _mm512_set1_ps(-126.0f)));
}
static inline __m512 xt_exp16_neg(__m512 x) { return xt_exp2_16_neg(_mm512_mul_ps(x, _mm512_set1_ps(XT_LOG2E))); }
#endif

// erf(x): rational minimax on [-4, 4] (Eigen's generic_fast_erf_float); |erf| = 1 in float beyond.
static inline float xt_erff(float a) {
    float x = a < -4.0f ? -4.0f : a > 4.0f ? 4.0f : a;
    float x2 = x * x;
    float p = -2.72614225801306e-10f;
    p = fmaf(p, x2, 2.77068142495902e-08f);
    p = fmaf(p, x2, -2.10102402082508e-06f);
    p = fmaf(p, x2, -5.69250639462346e-05f);
    p = fmaf(p, x2, -7.34990630326855e-04f);
    p = fmaf(p, x2, -2.95459980854025e-03f);
    p = fmaf(p, x2, -1.60960333262415e-02f);
    p = p * x;
    float q = -1.45660718464996e-05f;
    q = fmaf(q, x2, -2.13374055278905e-04f);
    q = fmaf(q, x2, -1.68282697438203e-03f);
    q = fmaf(q, x2, -7.37332916720468e-03f);
    q = fmaf(q, x2, -1.42647390514189e-02f);
    return p / q;
}

// GELU, exact (erf) form
static inline float xt_gelu1(float x) { return 0.5f * x * (1.0f + xt_erff(x * 0.70710678118654752f)); }
// d gelu(x) / dx = Phi(x) + x phi(x)
static inline float xt_gelu1_grad(float x) {
    return 0.5f * (1.0f + xt_erff(x * 0.70710678118654752f)) + x * xt_expf(-0.5f * x * x) * 0.3989422804014327f;
}

#endif
