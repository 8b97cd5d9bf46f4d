// test_attention.c — the context encoders' attention kernels and the one fast exp they share,
// each against a straightforward double-precision reference.
//   xt_expf: max relative error vs exp() in double over [-87, 88] <= 2e-7 (measured 1.2e-7, ~1
//     ulp; printed); xt_exp16 (AVX-512) gives the same bits as xt_expf.
//   xt_expf_neg (softmax arguments x <= 0, the naive attention's exp): relative error <=
//     2e-7 + |x| 8e-8 on [-87, 0]; xt_exp16_neg the same bits.
//   xt_channel_attention_forward (the official naive attention, head size 1): vs double softmax,
//     logits up to |81|, 2e-6 x max(1, max|ref|) (float sums of <= 301 exps); the streamed kernel
//     and the training path (p kept) give identical bits; in place over q as the layer calls it.
//   xt_attention_forward (flash-style blocked, online softmax): not causal and causal vs
//     xt_attention_forward_naive (double accumulation) on L = 700, HS = 32: 2e-5.
#include <math.h>

#include "check.h"
#include "nn/fastmath.h"
#include "nn/nn.h"

static float *rnd(size_t n, float a, unsigned *s) {
    float *x = xt_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1664525u + 1013904223u;
        x[i] = a * ((float)(*s >> 8) / (float)(1u << 24) * 2 - 1);
    }
    return x;
}

static void test_exp(void) {
    double worst = 0, wx = 0;
    long n = 0, bits_differ = 0;
    float xs[16];
    int nx = 0;
    for (double xd = -87.0; xd <= 88.0; xd += 1.7e-5) {
        float x = (float)xd, e = xt_expf(x);
        double r = exp((double)x), rel = fabs(e - r) / r;
        if (rel > worst) worst = rel, wx = x;
        n++;
#if defined(__AVX512F__)
        xs[nx++] = x;
        if (nx == 16) {
            float ev[16];
            _mm512_storeu_ps(ev, xt_exp16(_mm512_loadu_ps(xs)));
            for (int i = 0; i < 16; i++) bits_differ += memcmp(&ev[i], &(float){xt_expf(xs[i])}, 4) != 0;
            nx = 0;
        }
#endif
    }
    (void)xs, (void)nx;
    printf("xt_expf: max relative error %.3g (%.2f x 2^-23) at x = %.7g over %ld points in [-87, 88]\n", worst,
           worst / ldexp(1, -23), wx, n);
    CHECK(worst <= 2e-7);
    CHECK(bits_differ == 0);
    // clamped below: exp(-87) ~ 1.6e-38 for anything smaller, never 0, inf or NaN
    CHECK(xt_expf(-1000.0f) > 0 && xt_expf(-1000.0f) < 2e-38f);
    CHECK(isfinite(xt_expf(1000.0f)));

    // xt_expf_neg (softmax arguments x <= 0): relative error <= 2e-7 + |x| 8e-8 (fastmath.h),
    // xt_exp16_neg the same bits
    double wn = 0, wnx = 0;
    bits_differ = 0, nx = 0;
    for (double xd = -87.0; xd <= 0.0; xd += 3.3e-6) {
        float x = (float)xd, e = xt_expf_neg(x);
        double r = exp((double)x), rel = fabs(e - r) / r / (2e-7 + fabs(x) * 8e-8);
        if (rel > wn) wn = rel, wnx = x;
#if defined(__AVX512F__)
        xs[nx++] = x;
        if (nx == 16) {
            float ev[16];
            _mm512_storeu_ps(ev, xt_exp16_neg(_mm512_loadu_ps(xs)));
            for (int i = 0; i < 16; i++) bits_differ += memcmp(&ev[i], &(float){xt_expf_neg(xs[i])}, 4) != 0;
            nx = 0;
        }
#endif
    }
    printf("xt_expf_neg: max relative error / (2e-7 + |x| 8e-8) = %.3f at x = %.7g\n", wn, wnx);
    CHECK(wn <= 1.0);
    CHECK(bits_differ == 0);
    CHECK(xt_expf_neg(-1000.0f) > 0 && xt_expf_neg(-1000.0f) < 2e-38f && xt_expf_neg(0.0f) == 1.0f);
}

// out (L, C) in double: per channel softmax over keys of q_n k_m (scale 1, not causal) times v
static void channel_ref(float *out, const float *q, const float *k, const float *v, int ld, int L, int C) {
    for (int c = 0; c < C; c++)
        for (int n = 0; n < L; n++) {
            double mx = -INFINITY, se = 0, sv = 0, qn = q[(size_t)n * ld + c];
            for (int m = 0; m < L; m++) mx = fmax(mx, qn * k[(size_t)m * ld + c]);
            for (int m = 0; m < L; m++) {
                double e = exp(qn * k[(size_t)m * ld + c] - mx);
                se += e, sv += e * v[(size_t)m * ld + c];
            }
            out[(size_t)n * C + c] = (float)(sv / se);
        }
}

static void test_channel(int L, int C, float a) {
    unsigned s = 11u + (unsigned)L;
    const int ld = 3 * C;
    float *qkv = rnd((size_t)L * ld, a, &s), *ref = xt_xmalloc((size_t)L * C * sizeof(float));
    float *got = xt_xmalloc((size_t)L * C * sizeof(float)), *tr = xt_xmalloc((size_t)L * C * sizeof(float));
    float *p = xt_xmalloc((size_t)C * L * L * sizeof(float));
    float *sc = xt_xmalloc(xt_channel_attention_scratch_floats(C) * sizeof(float));
    channel_ref(ref, qkv, qkv + C, qkv + 2 * C, ld, L, C);
    xt_channel_attention_forward(got, C, NULL, qkv, qkv + C, qkv + 2 * C, ld, L, C, sc);
    char label[96];
    snprintf(label, sizeof label, "channel attention L %d C %d |q|,|k| <= %g vs double", L, C, a);
    CHECK_CLOSE(got, ref, (long)L * C, 0, 2e-6, label);
    xt_channel_attention_forward(tr, C, p, qkv, qkv + C, qkv + 2 * C, ld, L, C, NULL);
    CHECK(memcmp(tr, got, (size_t)L * C * sizeof(float)) == 0); // training path: the same bits
    xt_channel_attention_forward(qkv, ld, NULL, qkv, qkv + C, qkv + 2 * C, ld, L, C, sc); // over q
    for (int n = 0; n < L; n++) memcpy(tr + (size_t)n * C, qkv + (size_t)n * ld, C * sizeof(float));
    CHECK(memcmp(tr, got, (size_t)L * C * sizeof(float)) == 0);
    free(qkv), free(ref), free(got), free(tr), free(p), free(sc);
}

static void test_flash(int L, int HS, int causal) {
    unsigned s = 5u + (unsigned)causal;
    float *q = rnd((size_t)L * HS, 1.5f, &s), *k = rnd((size_t)L * HS, 1.5f, &s), *v = rnd((size_t)L * HS, 1, &s);
    float *ref = xt_xmalloc((size_t)L * HS * sizeof(float)), *got = xt_xmalloc((size_t)L * HS * sizeof(float));
    float *sc = xt_xmalloc(xt_attention_scratch_floats(HS) * sizeof(float));
    xt_attention_forward_naive(ref, HS, q, HS, k, HS, v, HS, L, HS, 0.5f, causal);
    xt_attention_forward(got, HS, NULL, q, HS, k, HS, v, HS, L, HS, 0.5f, causal, sc);
    CHECK_CLOSE(got, ref, (long)L * HS, 0, 2e-5, causal ? "flash attention causal" : "flash attention");
    free(q), free(k), free(v), free(ref), free(got), free(sc);
}

int main(void) {
    test_exp();
    test_channel(301, 40, 3.0f); // 2 channel tiles (16 + 16 + 8 masked), 3 query items, 1 padded row
    test_channel(37, 5, 9.0f);   // logits up to 81: exps down to the clamp
    test_channel(600, 16, 1.0f); // 2 key blocks
    test_flash(700, 32, 0);
    test_flash(700, 32, 1);
    return check_summary("attention");
}
