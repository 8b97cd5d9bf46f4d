// train_ops.c — forward/backward pairs that training needs beyond basic.c: softmax backward,
// RMSNorm, SiLU, softplus, gated MLP, softmax attention (exact, causal or not), the official
// "naive" per-channel attention (bug 1), Swin V2 cosine window attention, window partition,
// patch merging and the patch-embedding convolution.
//
// Every backward's term is commented with the forward line it differentiates. Parallel loops
// split so no two threads write one gradient; reductions across threads go through per-task
// partial sums reduced in a fixed order, so results are bitwise reproducible for a thread count.
#include <math.h>
#include <string.h>

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

static inline float gelu1(float x) { return 0.5f * x * (1.0f + erff(x * (float)M_SQRT1_2)); }
static inline float gelu1_grad(float x) {
    return 0.5f * (1.0f + erff(x * (float)M_SQRT1_2)) + x * expf(-0.5f * x * x) * 0.3989422804014327f;
}

void xt_gated_mlp_forward(float *out, float *g, float *u, float *m, const float *h, const float *wg,
                          const float *wu, const float *wd, int N, int C, int F) {
    xt_linear_forward(g, h, wg, NULL, N, C, F);
    xt_linear_forward(u, h, wu, NULL, N, C, F);
    for (size_t i = 0; i < (size_t)N * F; i++) m[i] = gelu1(g[i]) * u[i];
    xt_linear_forward(out, m, wd, NULL, N, F, C);
}

void xt_gated_mlp_backward(float *dh, float *dwg, float *dwu, float *dwd, const float *dout, const float *h,
                           const float *g, const float *u, const float *m, const float *wg, const float *wu,
                           const float *wd, int N, int C, int F, float *scratch) {
    float *dm = scratch, *du = scratch + (size_t)N * F;
    xt_linear_backward(dm, dwd, NULL, dout, m, wd, N, F, C); // out = m wd^T
    for (size_t i = 0; i < (size_t)N * F; i++) {
        du[i] = dm[i] * gelu1(g[i]);             // m = gelu(g) * u
        dm[i] = dm[i] * u[i] * gelu1_grad(g[i]); // now dg
    }
    xt_linear_backward(dh, dwg, NULL, dm, h, wg, N, C, F);               // g = h wg^T
    if (dh) xt_gemm(0, 0, N, C, F, 1.0f, du, F, wu, C, 1.0f, dh, C); // u = h wu^T
    if (dwu) xt_gemm(1, 0, F, C, N, 1.0f, du, F, h, C, 1.0f, dwu, C);
}

void xt_attention_forward(float *out, int ldo, float *p, const float *q, const float *k, const float *v, int ld,
                          int L, int HS, float scale, int causal) {
    xt_gemm(0, 1, L, L, HS, scale, q, ld, k, ld, 0.0f, p, L); // S = scale q k^T
    for (int i = 0; i < L; i++) {
        float *r = p + (size_t)i * L;
        int nk = causal ? i + 1 : L; // official: finfo.min added above the diagonal -> exp() == 0
        float mx = -INFINITY, s = 0;
        for (int j = 0; j < nk; j++) mx = fmaxf(mx, r[j]);
        for (int j = 0; j < nk; j++) { r[j] = expf(r[j] - mx); s += r[j]; }
        for (int j = 0; j < nk; j++) r[j] /= s;
        for (int j = nk; j < L; j++) r[j] = 0;
    }
    xt_gemm(0, 0, L, HS, L, 1.0f, p, L, v, ld, 0.0f, out, ldo); // out = P v
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

// ref: xT official ViTAttention called as ViTAttention(dim, dim, ...) (golden README bug 1)
void xt_chanattn_forward(float *out, float *p, const float *qkv, int L, int D) {
#pragma omp parallel for if (D >= 16)
    for (int c = 0; c < D; c++) {
        float row[L];
        for (int n = 0; n < L; n++) {
            float q = qkv[(size_t)n * 3 * D + c], mx = -INFINITY, s = 0, o = 0;
            for (int m = 0; m < L; m++) { row[m] = q * qkv[(size_t)m * 3 * D + D + c]; mx = fmaxf(mx, row[m]); }
            for (int m = 0; m < L; m++) { row[m] = expf(row[m] - mx); s += row[m]; }
            for (int m = 0; m < L; m++) {
                row[m] /= s;
                o += row[m] * qkv[(size_t)m * 3 * D + 2 * D + c];
            }
            out[(size_t)n * D + c] = o;
            if (p) memcpy(p + ((size_t)c * L + n) * L, row, L * sizeof(float));
        }
    }
}

void xt_chanattn_backward(float *dqkv, const float *dout, const float *p, const float *qkv, int L, int D) {
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

// ref: timm 0.9.7 swin_transformer_v2.py WindowAttention.forward (cosine attention)
void xt_cosattn_forward(float *out, float *p, float *qn, float *kn, float *qnorm, float *knorm, const float *qkv,
                        const float *bias, const float *mask, int nmask, const float *scale, int nw, int n,
                        int NH, int HS) {
    const int C = NH * HS, ld = 3 * C;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < nw * NH; t++) {
        int w = t / NH, h = t % NH;
        const float *q = qkv + (size_t)w * n * ld + h * HS, *k = q + C, *v = q + 2 * C;
        float *qo = qn + (size_t)t * n * HS, *ko = kn + (size_t)t * n * HS;
        for (int i = 0; i < n; i++) { // F.normalize(x, dim=-1): x / max(|x|, 1e-12)
            float sq = 0, sk = 0;
            for (int d = 0; d < HS; d++) {
                sq += q[(size_t)i * ld + d] * q[(size_t)i * ld + d];
                sk += k[(size_t)i * ld + d] * k[(size_t)i * ld + d];
            }
            float nq = fmaxf(sqrtf(sq), 1e-12f), nk = fmaxf(sqrtf(sk), 1e-12f);
            qnorm[(size_t)t * n + i] = nq;
            knorm[(size_t)t * n + i] = nk;
            for (int d = 0; d < HS; d++) {
                qo[(size_t)i * HS + d] = q[(size_t)i * ld + d] / nq;
                ko[(size_t)i * HS + d] = k[(size_t)i * ld + d] / nk;
            }
        }
        float *P = p + (size_t)t * n * n;
        xt_gemm(0, 1, n, n, HS, scale[h], qo, HS, ko, HS, 0.0f, P, n);
        const float *bh = bias + (size_t)h * n * n, *mk = mask ? mask + (size_t)(w % nmask) * n * n : NULL;
        for (int i = 0; i < n; i++) {
            float *r = P + (size_t)i * n, mx = -INFINITY, s = 0;
            for (int j = 0; j < n; j++) {
                r[j] += bh[(size_t)i * n + j] + (mk ? mk[(size_t)i * n + j] : 0.0f);
                mx = fmaxf(mx, r[j]);
            }
            for (int j = 0; j < n; j++) { r[j] = expf(r[j] - mx); s += r[j]; }
            for (int j = 0; j < n; j++) r[j] /= s;
        }
        xt_gemm(0, 0, n, HS, n, 1.0f, P, n, v, ld, 0.0f, out + (size_t)w * n * C + h * HS, C);
    }
}

void xt_cosattn_backward(float *dqkv, float *dbias, float *dscale, const float *dout, float *p, const float *qn,
                         const float *kn, const float *qnorm, const float *knorm, const float *qkv,
                         const float *scale, int nw, int n, int NH, int HS, float *part) {
    const int C = NH * HS, ld = 3 * C;
#pragma omp parallel for schedule(static)
    for (int t = 0; t < nw * NH; t++) {
        int w = t / NH, h = t % NH;
        const float *v = qkv + (size_t)w * n * ld + h * HS + 2 * C, *dO = dout + (size_t)w * n * C + h * HS;
        float *dq = dqkv + (size_t)w * n * ld + h * HS, *dk = dq + C, *dv = dq + 2 * C;
        const float *qo = qn + (size_t)t * n * HS, *ko = kn + (size_t)t * n * HS;
        float *P = p + (size_t)t * n * n;
        xt_gemm(1, 0, n, HS, n, 1.0f, P, n, dO, C, 0.0f, dv, ld); // out = P v
        for (int i = 0; i < n; i++) {                            // P = softmax(S), row by row: dS into P
            float dp[n], s = 0, *r = P + (size_t)i * n;
            for (int j = 0; j < n; j++) {
                float a = 0;
                for (int d = 0; d < HS; d++) a += dO[(size_t)i * C + d] * v[(size_t)j * ld + d];
                dp[j] = a;
                s += a * r[j];
            }
            for (int j = 0; j < n; j++) r[j] = r[j] * (dp[j] - s);
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

void xt_window_partition(float *out, const float *inp, int B, int H, int W, int C, int ws, int shift) {
    int nh = H / ws, nwd = W / ws;
    for (int b = 0; b < B; b++)
        for (int wh = 0; wh < nh; wh++)
            for (int ww = 0; ww < nwd; ww++)
                for (int i = 0; i < ws; i++)
                    for (int j = 0; j < ws; j++) {
                        int y = (wh * ws + i + shift) % H, x = (ww * ws + j + shift) % W; // roll(-shift)
                        size_t o = ((((size_t)b * nh + wh) * nwd + ww) * ws * ws + (size_t)i * ws + j) * C;
                        memcpy(out + o, inp + (((size_t)b * H + y) * W + x) * C, C * sizeof(float));
                    }
}

void xt_window_reverse(float *out, const float *inp, int B, int H, int W, int C, int ws, int shift) {
    int nh = H / ws, nwd = W / ws;
    for (int b = 0; b < B; b++)
        for (int wh = 0; wh < nh; wh++)
            for (int ww = 0; ww < nwd; ww++)
                for (int i = 0; i < ws; i++)
                    for (int j = 0; j < ws; j++) {
                        int y = (wh * ws + i + shift) % H, x = (ww * ws + j + shift) % W; // roll(+shift)
                        size_t o = ((((size_t)b * nh + wh) * nwd + ww) * ws * ws + (size_t)i * ws + j) * C;
                        memcpy(out + (((size_t)b * H + y) * W + x) * C, inp + o, C * sizeof(float));
                    }
}

// ref: timm 0.9.7 swin_transformer_v2.py PatchMerging: reshape(B, H/2, 2, W/2, 2, C)
// .permute(0, 1, 3, 4, 2, 5).flatten(3) -> slot k = 2 * col_offset + row_offset (gather: window_attn.c)
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

void xt_patch_embed_forward(float *out, float *col, const float *img, const float *w, const float *b, int B,
                            int IC, int H, int W, int P, int OC) {
    int hp = H / P, wp = W / P, K = IC * P * P;
    for (int bb = 0; bb < B; bb++)
        for (int py = 0; py < hp; py++)
            for (int px = 0; px < wp; px++) {
                float *c = col + (((size_t)bb * hp + py) * wp + px) * K;
                for (int ic = 0; ic < IC; ic++)
                    for (int ky = 0; ky < P; ky++)
                        memcpy(c + (ic * P + ky) * P, img + (((size_t)bb * IC + ic) * H + py * P + ky) * W + px * P,
                               P * sizeof(float));
            }
    xt_linear_forward(out, col, w, b, B * hp * wp, K, OC);
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

// ref: timm 0.9.7 swin_transformer_v2.py WindowAttention: cpb_mlp + 16 * sigmoid
void xt_cpb_forward(float *out, float *hid, float *raw, const float *table, const int *index, const float *w0,
                    const float *b0, const float *w2, int T, int HID, int NH, int n) {
    float *act = hid + (size_t)T * HID; // [pre-ReLU | ReLU]
    xt_linear_forward(hid, table, w0, b0, T, 2, HID);
    for (size_t i = 0; i < (size_t)T * HID; i++) act[i] = hid[i] > 0 ? hid[i] : 0;
    xt_linear_forward(raw, act, w2, NULL, T, HID, NH);
    for (int h = 0; h < NH; h++)
        for (int i = 0; i < n * n; i++)
            out[(size_t)h * n * n + i] = 16.0f / (1.0f + expf(-raw[(size_t)index[i] * NH + h]));
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
