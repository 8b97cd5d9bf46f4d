// basic.c — linear, layernorm, GELU, softmax, add: the layers every model uses.
// ref: torch.nn.Linear / LayerNorm / GELU(approximate='none') / softmax.
#include <math.h>
#include <string.h>

#include "nn/fastmath.h"
#include "nn/nn.h"

void xt_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC, int OC) {
    if (b) {
        for (int n = 0; n < N; n++) memcpy(out + (size_t)n * OC, b, OC * sizeof(float));
        xt_gemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, 1.0f, out, OC);
    } else
        xt_gemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, 0.0f, out, OC);
}

void xt_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int IC, int OC) {
    if (dinp) xt_gemm(0, 0, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f, dinp, IC); // out = inp w^T
    if (dw) xt_gemm(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (db)
        for (int n = 0; n < N; n++)
            for (int o = 0; o < OC; o++) db[o] += dout[(size_t)n * OC + o];
}

void xt_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C, float eps) {
#pragma omp parallel for if ((size_t)N * C > 32768)
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        // two passes, the first shifted by x[0] so large offsets do not cost float precision
        float k = x[0], s = 0;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) s += x[c] - k;
        float m = k + s / C, v = 0;
#pragma omp simd reduction(+ : v)
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        float r = 1.0f / sqrtf(v / C + eps);
        if (w && b) {
#pragma omp simd
            for (int c = 0; c < C; c++) y[c] = (x[c] - m) * r * w[c] + b[c];
        } else
            for (int c = 0; c < C; c++) y[c] = (x[c] - m) * r * (w ? w[c] : 1.0f) + (b ? b[c] : 0.0f);
        if (mean) mean[n] = m;
        if (rstd) rstd[n] = r;
    }
}

void xt_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float m = mean[n], r = rstd[n];
        // y = xhat * w + b, xhat = (x - m) r
        float s1 = 0, s2 = 0; // mean(dxhat), mean(dxhat * xhat)
        for (int c = 0; c < C; c++) {
            float xh = (x[c] - m) * r, dxh = dy[c] * (w ? w[c] : 1.0f);
            s1 += dxh;
            s2 += dxh * xh;
            if (dw) dw[c] += dy[c] * xh;
            if (db) db[c] += dy[c];
        }
        s1 /= C;
        s2 /= C;
        if (dinp)
            for (int c = 0; c < C; c++) {
                float xh = (x[c] - m) * r, dxh = dy[c] * (w ? w[c] : 1.0f);
                dinp[(size_t)n * C + c] = (dxh - s1 - xh * s2) * r;
            }
    }
}

void xt_gelu_forward(float *out, const float *inp, size_t n) {
#pragma omp parallel for simd if (n > 65536)
    for (size_t i = 0; i < n; i++) out[i] = xt_gelu1(inp[i]);
}

void xt_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
#pragma omp parallel for simd if (n > 65536)
    for (size_t i = 0; i < n; i++) dinp[i] = dout[i] * xt_gelu1_grad(inp[i]);
}

void xt_softmax_forward(float *out, const float *inp, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float mx = -INFINITY, s = 0;
#pragma omp simd reduction(max : mx)
        for (int c = 0; c < C; c++) mx = x[c] > mx ? x[c] : mx;
#pragma omp simd reduction(+ : s)
        for (int c = 0; c < C; c++) { y[c] = xt_expf(x[c] - mx); s += y[c]; }
        float is = 1.0f / s;
#pragma omp simd
        for (int c = 0; c < C; c++) y[c] *= is;
    }
}

#if defined(__AVX512F__)
#include <immintrin.h>
// One row of xt_residual_layernorm_forward, C a multiple of 16, the same formulas with the sums
// in 16 lanes: GCC turns the 'omp simd reduction' loops below into a vector loop plus 16 scalar
// adds through memory per reduction, which dominated at Swin's 96..768 channels (perf annotate).
static void residual_ln_row16(float *xr, const float *yr, const float *yb, const float *w, const float *b, int C,
                              float eps) {
    float k = yr[0] + (yb ? yb[0] : 0.0f);
    __m512 kv = _mm512_set1_ps(k), acc = _mm512_setzero_ps();
    for (int c = 0; c < C; c += 16) {
        __m512 z = _mm512_loadu_ps(yr + c);
        if (yb) z = _mm512_add_ps(z, _mm512_loadu_ps(yb + c));
        acc = _mm512_add_ps(acc, _mm512_sub_ps(z, kv));
    }
    float m = k + _mm512_reduce_add_ps(acc) / C;
    __m512 mv = _mm512_set1_ps(m);
    acc = _mm512_setzero_ps();
    for (int c = 0; c < C; c += 16) {
        __m512 z = _mm512_loadu_ps(yr + c);
        if (yb) z = _mm512_add_ps(z, _mm512_loadu_ps(yb + c));
        __m512 d = _mm512_sub_ps(z, mv);
        acc = _mm512_add_ps(acc, _mm512_mul_ps(d, d));
    }
    __m512 rv = _mm512_set1_ps(1.0f / sqrtf(_mm512_reduce_add_ps(acc) / C + eps));
    for (int c = 0; c < C; c += 16) {
        __m512 z = _mm512_loadu_ps(yr + c);
        if (yb) z = _mm512_add_ps(z, _mm512_loadu_ps(yb + c));
        __m512 t = _mm512_mul_ps(_mm512_mul_ps(_mm512_sub_ps(z, mv), rv), _mm512_loadu_ps(w + c));
        t = _mm512_add_ps(t, _mm512_loadu_ps(b + c));
        _mm512_storeu_ps(xr + c, _mm512_add_ps(_mm512_loadu_ps(xr + c), t));
    }
}
#endif

// x (N, C) += LayerNorm(y + yb) — the res-post-norm residual of Swin V2 blocks with the preceding
// linear's bias folded in (yb may be NULL). One pass over y and x.
void xt_residual_layernorm_forward(float *x, const float *y, const float *yb, const float *w, const float *b, int N,
                                   int C, float eps) {
#if defined(__AVX512F__)
    if (C % 16 == 0) {
#pragma omp parallel for if ((size_t)N * C > 32768)
        for (int n = 0; n < N; n++) residual_ln_row16(x + (size_t)n * C, y + (size_t)n * C, yb, w, b, C, eps);
        return;
    }
#endif
#pragma omp parallel for if ((size_t)N * C > 32768)
    for (int n = 0; n < N; n++) {
        const float *yr = y + (size_t)n * C;
        float *xr = x + (size_t)n * C;
        float k = yr[0] + (yb ? yb[0] : 0.0f), s = 0;
        if (yb) {
#pragma omp simd reduction(+ : s)
            for (int c = 0; c < C; c++) s += (yr[c] + yb[c]) - k;
        } else {
#pragma omp simd reduction(+ : s)
            for (int c = 0; c < C; c++) s += yr[c] - k;
        }
        float m = k + s / C, v = 0;
        if (yb) {
#pragma omp simd reduction(+ : v)
            for (int c = 0; c < C; c++) { float d = (yr[c] + yb[c]) - m; v += d * d; }
            float r = 1.0f / sqrtf(v / C + eps);
#pragma omp simd
            for (int c = 0; c < C; c++) xr[c] += ((yr[c] + yb[c]) - m) * r * w[c] + b[c];
        } else {
#pragma omp simd reduction(+ : v)
            for (int c = 0; c < C; c++) { float d = yr[c] - m; v += d * d; }
            float r = 1.0f / sqrtf(v / C + eps);
#pragma omp simd
            for (int c = 0; c < C; c++) xr[c] += (yr[c] - m) * r * w[c] + b[c];
        }
    }
}

// x (N, C) = GELU(x + b) in place: a linear's bias fused with the activation.
void xt_bias_gelu_forward(float *x, const float *b, int N, int C) {
#pragma omp parallel for if ((size_t)N * C > 65536)
    for (int n = 0; n < N; n++) {
        float *xr = x + (size_t)n * C;
#pragma omp simd
        for (int c = 0; c < C; c++) xr[c] = xt_gelu1(xr[c] + b[c]);
    }
}

void xt_add(float *out, const float *a, const float *b, size_t n) {
#pragma omp parallel for if (n > 262144)
    for (size_t i = 0; i < n; i++) out[i] = a[i] + b[i];
}
