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

#endif
