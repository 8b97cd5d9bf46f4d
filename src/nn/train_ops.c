// train_ops.c — forward/backward pairs that training needs beyond basic.c: softmax backward,
// RMSNorm, SiLU, softplus, gated MLP, the patch-embedding convolution and the Swin V2 position-bias
// MLP. (The attentions' pairs live with their inference forward: window_attn.c, attention.c.)
//
// Every backward's term is commented with the forward line it differentiates. Parallel loops
// split so no two threads write one gradient; reductions across threads go through per-task
// partial sums reduced in a fixed order, so results are bitwise reproducible for a thread count.
#include <math.h>
#include <string.h>

#include "nn/fastmath.h"
#include "nn/nn.h"

void xt_softmax_backward(float *dinp, const float *dout, const float *p, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *dy = dout + (size_t)n * C, *y = p + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float s = 0;
        for (int c = 0; c < C; c++) s += dy[c] * y[c];
        for (int c = 0; c < C; c++) dx[c] = y[c] * (dy[c] - s); // y = e^x / sum e^x
    }
}

// ref: transformers LlamaRMSNorm (variance in float32, weight * x * rsqrt(var + eps))
void xt_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C, float eps) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *y = out + (size_t)n * C;
        float ss = 0;
        for (int c = 0; c < C; c++) ss += x[c] * x[c];
        float r = 1.0f / sqrtf(ss / C + eps);
        for (int c = 0; c < C; c++) y[c] = w[c] * (x[c] * r);
        if (rstd) rstd[n] = r;
    }
}

void xt_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                         const float *rstd, int N, int C) {
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *dy = dout + (size_t)n * C;
        float r = rstd[n], s = 0;
        for (int c = 0; c < C; c++) {
            s += dy[c] * w[c] * x[c];
            if (dw) dw[c] += dy[c] * x[c] * r; // y = w * (x r)
        }
        // d(x r)/dx = r - x r^3 x^T / C
        float k = s * r * r * r / C;
        if (dinp)
            for (int c = 0; c < C; c++) dinp[(size_t)n * C + c] = dy[c] * w[c] * r - x[c] * k;
    }
}

void xt_silu_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] / (1.0f + expf(-inp[i]));
}

void xt_silu_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) {
        float s = 1.0f / (1.0f + expf(-inp[i]));
        dinp[i] = dout[i] * s * (1.0f + inp[i] * (1.0f - s)); // x s(x)
    }
}

void xt_softplus_forward(float *out, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++) out[i] = inp[i] > 20.0f ? inp[i] : log1pf(expf(inp[i]));
}

void xt_softplus_backward(float *dinp, const float *dout, const float *inp, size_t n) {
    for (size_t i = 0; i < n; i++)
        dinp[i] = inp[i] > 20.0f ? dout[i] : dout[i] / (1.0f + expf(-inp[i])); // log(1 + e^x)
}


void xt_gated_mlp_forward(float *out, float *g, float *u, float *m, const float *h, const float *wg,
                          const float *wu, const float *wd, int N, int C, int F) {
    xt_linear_forward(g, h, wg, NULL, N, C, F);
    xt_linear_forward(u, h, wu, NULL, N, C, F);
    for (size_t i = 0; i < (size_t)N * F; i++) m[i] = xt_gelu1(g[i]) * u[i];
    xt_linear_forward(out, m, wd, NULL, N, F, C);
}

void xt_gated_mlp_backward(float *dh, float *dwg, float *dwu, float *dwd, const float *dout, const float *h,
                           const float *g, const float *u, const float *m, const float *wg, const float *wu,
                           const float *wd, int N, int C, int F, float *scratch) {
    float *dm = scratch, *du = scratch + (size_t)N * F;
    xt_linear_backward(dm, dwd, NULL, dout, m, wd, N, F, C); // out = m wd^T
    for (size_t i = 0; i < (size_t)N * F; i++) {
        du[i] = dm[i] * xt_gelu1(g[i]);             // m = gelu(g) * u
        dm[i] = dm[i] * u[i] * xt_gelu1_grad(g[i]); // now dg
    }
    xt_linear_backward(dh, dwg, NULL, dm, h, wg, N, C, F);               // g = h wg^T
    if (dh) xt_gemm(0, 0, N, C, F, 1.0f, du, F, wu, C, 1.0f, dh, C); // u = h wu^T
    if (dwu) xt_gemm(1, 0, F, C, N, 1.0f, du, F, h, C, 1.0f, dwu, C);
}

void xt_patch_embed_forward(float *out, float *col, const float *img, const float *w, const float *b, int B,
                            int IC, int H, int W, int P, int OC) {
    xt_patch_im2col(col, img, B, IC, H, W, P);
    xt_linear_forward(out, col, w, b, B * (H / P) * (W / P), IC * P * P, OC);
}

void xt_patch_embed_backward(float *dimg, float *dw, float *db, float *dcol, const float *dout, const float *col,
                             const float *w, int B, int IC, int H, int W, int P, int OC) {
    int hp = H / P, wp = W / P, K = IC * P * P;
    xt_linear_backward(dimg ? dcol : NULL, dw, db, dout, col, w, B * hp * wp, K, OC);
    if (!dimg) return;
    for (int bb = 0; bb < B; bb++) // kernel == stride: every pixel belongs to exactly one patch
        for (int py = 0; py < hp; py++)
            for (int px = 0; px < wp; px++) {
                const float *c = dcol + (((size_t)bb * hp + py) * wp + px) * K;
                for (int ic = 0; ic < IC; ic++)
                    for (int ky = 0; ky < P; ky++)
                        memcpy(dimg + (((size_t)bb * IC + ic) * H + py * P + ky) * W + px * P, c + (ic * P + ky) * P,
                               P * sizeof(float));
            }
}
