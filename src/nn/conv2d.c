// conv2d.c — dense conv2d (im2col + GEMM), depthwise conv (direct, channels-last) and layout
// transposes. The region encoders use conv only for patch embedding (Swin 4x4/4, Hiera 7x7/4
// pad 3, ConvNeXt stem 4x4/4 and downsample 2x2/2) and ConvNeXt's depthwise 7x7, so the dense
// path favours simplicity: one image at a time, im2col rows split over threads, then one BLAS
// GEMM (itself threaded). ref: torch.nn.functional.conv2d semantics (cross-correlation, zero pad).
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/nn.h"

size_t xt_conv2d_col_size(const xt_conv2d_dims *d) {
    size_t OH = xt_conv2d_out(d->H, d->KH, d->SH, d->PH), OW = xt_conv2d_out(d->W, d->KW, d->SW, d->PW);
    return OH * OW * (size_t)d->IC * d->KH * d->KW;
}

// col (OH*OW, IC*KH*KW): row p = output pixel, column (ic, ky, kx) in the weight's order.
static void im2col(float *col, const float *img, const xt_conv2d_dims *d, int nhwc) {
    const int OH = xt_conv2d_out(d->H, d->KH, d->SH, d->PH), OW = xt_conv2d_out(d->W, d->KW, d->SW, d->PW);
    const int K = d->IC * d->KH * d->KW;
#pragma omp parallel for if ((size_t)OH * OW * K > 32768)
    for (int oy = 0; oy < OH; oy++)
        for (int ox = 0; ox < OW; ox++) {
            float *row = col + ((size_t)oy * OW + ox) * K;
            for (int ic = 0; ic < d->IC; ic++)
                for (int ky = 0; ky < d->KH; ky++) {
                    int iy = oy * d->SH - d->PH + ky;
                    float *dst = row + ((size_t)ic * d->KH + ky) * d->KW;
                    if (iy < 0 || iy >= d->H) {
                        memset(dst, 0, d->KW * sizeof(float));
                        continue;
                    }
                    for (int kx = 0; kx < d->KW; kx++) {
                        int ix = ox * d->SW - d->PW + kx;
                        if (ix < 0 || ix >= d->W) dst[kx] = 0;
                        else if (nhwc) dst[kx] = img[((size_t)iy * d->W + ix) * d->IC + ic];
                        else dst[kx] = img[((size_t)ic * d->H + iy) * d->W + ix];
                    }
                }
        }
}

void xt_conv2d_forward(float *out, float *col, const float *inp, const float *w, const float *b,
                       int B, const xt_conv2d_dims *d, int flags) {
    const int OH = xt_conv2d_out(d->H, d->KH, d->SH, d->PH), OW = xt_conv2d_out(d->W, d->KW, d->SW, d->PW);
    const int K = d->IC * d->KH * d->KW, P = OH * OW, OC = d->OC;
    XT_ASSERT(OH > 0 && OW > 0);
    for (int n = 0; n < B; n++) {
        const float *img = inp + (size_t)n * d->IC * d->H * d->W;
        float *o = out + (size_t)n * OC * P;
        im2col(col, img, d, flags & XT_CONV_IN_NHWC);
        if (flags & XT_CONV_OUT_NHWC) {
            // o (P, OC) = col (P, K) @ w^T (K, OC) + b
            for (int p = 0; p < P; p++) {
                if (b) memcpy(o + (size_t)p * OC, b, OC * sizeof(float));
                else memset(o + (size_t)p * OC, 0, OC * sizeof(float));
            }
            xt_gemm(0, 1, P, OC, K, 1.0f, col, K, w, K, 1.0f, o, OC);
        } else {
            // o (OC, P) = w (OC, K) @ col^T (K, P) + b
            for (int oc = 0; oc < OC; oc++)
                for (int p = 0; p < P; p++) o[(size_t)oc * P + p] = b ? b[oc] : 0.0f;
            xt_gemm(0, 1, OC, P, K, 1.0f, w, K, col, K, 1.0f, o, P);
        }
    }
}

void xt_conv2d_forward_naive(float *out, const float *inp, const float *w, const float *b, int B,
                             const xt_conv2d_dims *d, int groups) {
    const int OH = xt_conv2d_out(d->H, d->KH, d->SH, d->PH), OW = xt_conv2d_out(d->W, d->KW, d->SW, d->PW);
    const int icg = d->IC / groups, ocg = d->OC / groups;
    for (int n = 0; n < B; n++)
        for (int oc = 0; oc < d->OC; oc++) {
            int g = oc / ocg;
            for (int oy = 0; oy < OH; oy++)
                for (int ox = 0; ox < OW; ox++) {
                    double acc = b ? b[oc] : 0.0;
                    for (int i = 0; i < icg; i++) {
                        int ic = g * icg + i;
                        for (int ky = 0; ky < d->KH; ky++)
                            for (int kx = 0; kx < d->KW; kx++) {
                                int iy = oy * d->SH - d->PH + ky, ix = ox * d->SW - d->PW + kx;
                                if (iy < 0 || iy >= d->H || ix < 0 || ix >= d->W) continue;
                                acc += (double)inp[(((size_t)n * d->IC + ic) * d->H + iy) * d->W + ix] *
                                       w[(((size_t)oc * icg + i) * d->KH + ky) * d->KW + kx];
                            }
                    }
                    out[(((size_t)n * d->OC + oc) * OH + oy) * OW + ox] = (float)acc;
                }
        }
}

void xt_dwconv2d_weight_hwc(float *w_hwc, const float *w, int C, int K) {
    for (int c = 0; c < C; c++)
        for (int k = 0; k < K * K; k++) w_hwc[(size_t)k * C + c] = w[(size_t)c * K * K + k];
}

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// One output pixel, all C channels, the taps inside the image (edges, and the general case).
static void dw_pixel(float *orow, const float *img, const float *w_hwc, const float *b, int W, int C, int K, int pad,
                     int oy, int ox, int ky0, int ky1) {
    float *restrict o = orow + (size_t)ox * C;
    const int kx0 = ox - pad < 0 ? pad - ox : 0, kx1 = ox - pad + K > W ? W - ox + pad : K;
    int c0 = 0;
    // 32 channels at a time in registers (two AVX-512 vectors) across all K*K taps
    for (; c0 + 32 <= C; c0 += 32) {
        float acc[32];
#pragma omp simd
        for (int c = 0; c < 32; c++) acc[c] = b ? b[c0 + c] : 0.0f;
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) {
                const float *restrict x = img + ((size_t)(oy - pad + ky) * W + (ox - pad + kx)) * C + c0;
                const float *restrict wk = w_hwc + ((size_t)ky * K + kx) * C + c0;
#pragma omp simd
                for (int c = 0; c < 32; c++) acc[c] += x[c] * wk[c];
            }
        memcpy(o + c0, acc, sizeof acc);
    }
    if (c0 < C) { // remainder channels
        for (int c = c0; c < C; c++) o[c] = b ? b[c] : 0.0f;
        for (int ky = ky0; ky < ky1; ky++)
            for (int kx = kx0; kx < kx1; kx++) {
                const float *restrict x = img + ((size_t)(oy - pad + ky) * W + (ox - pad + kx)) * C;
                const float *restrict wk = w_hwc + ((size_t)ky * K + kx) * C;
#pragma omp simd
                for (int c = c0; c < C; c++) o[c] += x[c] * wk[c];
            }
    }
}

#if defined(__AVX512F__)
// OB (a constant once inlined) neighbouring outputs of one row, 16 channels, 7x7 kernel: each
// input vector is loaded once and feeds up to 7 outputs, where the per-pixel loop loads an input
// and a weight per multiply-add (load-bound). x: the first tap row's column 0; the strip's taps
// start at column ix0 = ox - pad, and columns outside [0, W) are skipped (zero padding). The same
// products summed in the same order as dw_pixel (ky, then kx; separate multiply and add, as
// -std=c11 compiles the scalar loop), so results are bit-identical.
static inline __attribute__((always_inline)) void dw7_strip16(float *o, const float *x, const float *w, const float *b,
                                                                 int W, int C, int ix0, int nky, const int OB) {
    __m512 acc[8];
    for (int j = 0; j < OB; j++) acc[j] = b ? _mm512_loadu_ps(b) : _mm512_setzero_ps();
    for (int ky = 0; ky < nky; ky++) {
        const float *xr = x + (size_t)ky * W * C, *wr = w + (size_t)ky * 7 * C;
        __m512 wv[7];
#pragma GCC unroll 7
        for (int kx = 0; kx < 7; kx++) wv[kx] = _mm512_loadu_ps(wr + (size_t)kx * C);
#pragma GCC unroll 14
        for (int i = 0; i < OB + 6; i++) {
            if ((unsigned)(ix0 + i) >= (unsigned)W) continue;
            const __m512 xv = _mm512_loadu_ps(xr + (size_t)(ix0 + i) * C);
#pragma GCC unroll 7
            for (int kx = 0; kx < 7; kx++) {
                const int j = i - kx;
                if (j >= 0 && j < OB) acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(xv, wv[kx]));
            }
        }
    }
    for (int j = 0; j < OB; j++) _mm512_storeu_ps(o + (size_t)j * C, acc[j]);
}
#endif

void xt_dwconv2d_forward(float *out, const float *inp, const float *w_hwc, const float *b, int B,
                         int H, int W, int C, int K, int pad) {
    const int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
    XT_ASSERT(OH > 0 && OW > 0);
#pragma omp parallel for collapse(2) if ((size_t)B * OH * OW * C * K * K > 65536)
    for (int n = 0; n < B; n++)
        for (int oy = 0; oy < OH; oy++) {
            const float *img = inp + (size_t)n * H * W * C;
            float *orow = out + (((size_t)n * OH + oy) * OW) * C;
            const int ky0 = oy - pad < 0 ? pad - oy : 0, ky1 = oy - pad + K > H ? H - oy + pad : K;
            int ox = 0;
#if defined(__AVX512F__)
            // ConvNeXt's 7x7: strips of 8 (then 4) outputs, the rest one pixel at a time
            if (K == 7 && C % 16 == 0) {
                const float *x0 = img + (size_t)(oy - pad + ky0) * W * C, *w0 = w_hwc + (size_t)ky0 * K * C;
                for (; ox + 8 <= OW; ox += 8)
                    for (int c0 = 0; c0 < C; c0 += 16)
                        dw7_strip16(orow + (size_t)ox * C + c0, x0 + c0, w0 + c0,
                                    b ? b + c0 : NULL, W, C, ox - pad, ky1 - ky0, 8);
                for (; ox + 4 <= OW; ox += 4)
                    for (int c0 = 0; c0 < C; c0 += 16)
                        dw7_strip16(orow + (size_t)ox * C + c0, x0 + c0, w0 + c0,
                                    b ? b + c0 : NULL, W, C, ox - pad, ky1 - ky0, 4);
            }
#endif
            for (; ox < OW; ox++) dw_pixel(orow, img, w_hwc, b, W, C, K, pad, oy, ox, ky0, ky1);
        }
}

void xt_nchw_to_nhwc(float *out, const float *inp, int B, int C, int HW) {
#pragma omp parallel for if ((size_t)B * C * HW > 65536)
    for (int n = 0; n < B; n++)
        for (int c = 0; c < C; c++) {
            const float *src = inp + ((size_t)n * C + c) * HW;
            float *dst = out + (size_t)n * HW * C + c;
            for (int p = 0; p < HW; p++) dst[(size_t)p * C] = src[p];
        }
}

// ---------------------------------------------------------------------------------------------
// UNet pieces (the xView3 dense model): nearest 2x upsampling and the 2x2 / stride-2 transposed conv.

void xt_upsample2x_nearest(float *out, const float *inp, int B, int C, int H, int W) {
#pragma omp parallel for collapse(2) if ((size_t)B * C * H * W > 65536)
    for (int n = 0; n < B * C; n++)
        for (int y = 0; y < 2 * H; y++) {
            const float *src = inp + ((size_t)n * H + y / 2) * W;
            float *dst = out + ((size_t)n * 2 * H + y) * 2 * W;
            for (int x = 0; x < W; x++) dst[2 * x] = dst[2 * x + 1] = src[x];
        }
}

// ---------------------------------------------------------------------------------------------
// The UNet decoder's 3x3 "same" conv (xt_conv3x3_forward): the input is one or two NCHW planes
// concatenated along channels, each read directly or through a nearest 2x upsampling, so neither
// the concat nor the upsampled plane is ever materialised. Output rows go in blocks of R rows
// (R from the sizes only, so the result does not depend on the thread count), one block per
// thread at a time: the block's column matrix colT (K = 9 IC rows, R*W columns; a row is a
// shifted copy of an input row), one single-threaded GEMM into the output rows, then the bias,
// SiLU and the optional 1x1 heads while the block is in cache. Scratch is bounded by the block.

#define CONV3_BLOCK_FLOATS (256 * 1024) // colT of one block: about 1 MB

static int conv3_rows(int IC, int H, int W) {
    size_t per_row = (size_t)9 * IC * W;
    int R = per_row ? (int)(CONV3_BLOCK_FLOATS / per_row) : 1;
    return R < 1 ? 1 : R > H ? H : R;
}

size_t xt_conv3x3_scratch_floats(int IC, int OC, int H, int W, int heads, int threads) {
    int R = conv3_rows(IC, H, W);
    size_t per = (size_t)9 * IC * R * W + (heads ? (size_t)OC * R * W : 0) + 16;
    return per * (size_t)(threads < 1 ? 1 : threads);
}

// colT rows (ic, ky, kx) for output rows [y0, y0 + R) of an H x W output.
static void conv3_cols(float *colT, const xt_conv_src *src, int nsrc, int H, int W, int y0, int R) {
    const size_t P = (size_t)R * W;
    int cb = 0;
    for (int s = 0; s < nsrc; s++) {
        const int up = src[s].up2, sw = up ? W / 2 : W, sh = up ? H / 2 : H;
        for (int c = 0; c < src[s].C; c++) {
            const float *plane = src[s].x + (size_t)c * sh * sw;
            for (int ky = 0; ky < 3; ky++)
                for (int kx = 0; kx < 3; kx++) {
                    float *dst = colT + ((size_t)(cb + c) * 9 + ky * 3 + kx) * P;
                    for (int r = 0; r < R; r++, dst += W) {
                        int iy = y0 + r + ky - 1;
                        if (iy < 0 || iy >= H) { memset(dst, 0, W * sizeof(float)); continue; }
                        const float *row = plane + (size_t)(up ? iy >> 1 : iy) * sw;
                        if (!up) {
                            if (kx == 0) dst[0] = 0, memcpy(dst + 1, row, (W - 1) * sizeof(float));
                            else if (kx == 1) memcpy(dst, row, W * sizeof(float));
                            else memcpy(dst, row + 1, (W - 1) * sizeof(float)), dst[W - 1] = 0;
                        } else {
                            int o = kx - 1; // dst[ox] = row[(ox + o) / 2], zero outside
                            int x0 = o < 0 ? 1 : 0, x1 = o > 0 ? W - 1 : W;
                            if (o < 0) dst[0] = 0;
                            if (o > 0) dst[W - 1] = 0;
                            for (int ox = x0; ox < x1; ox++) dst[ox] = row[(ox + o) >> 1];
                        }
                    }
                }
        }
        cb += src[s].C;
    }
}

void xt_conv3x3_forward(float *out, const xt_conv_src *src, int nsrc, int H, int W, const float *w,
                        const float *b, int OC, int silu, const xt_conv_heads *hd, float *scratch,
                        size_t scratch_floats) {
    int IC = 0;
    for (int s = 0; s < nsrc; s++) IC += src[s].C;
    const int K = 9 * IC, R = conv3_rows(IC, H, W), nb = (H + R - 1) / R;
    const size_t per = xt_conv3x3_scratch_floats(IC, OC, H, W, hd != NULL, 1);
    int threads = 1;
#ifdef _OPENMP
    threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#endif
    if ((size_t)threads > scratch_floats / per) threads = (int)(scratch_floats / per);
    XT_ASSERT(threads >= 1 && (!hd || OC % hd->groups == 0));
    if (threads > nb) threads = nb;
    const size_t HW = (size_t)H * W;
#pragma omp parallel for schedule(dynamic, 1) num_threads(threads) if (threads > 1)
    for (int blk = 0; blk < nb; blk++) {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        float *colT = scratch + per * t, *tmp = colT + (size_t)K * R * W;
        const int y0 = blk * R, Rb = y0 + R <= H ? R : H - y0;
        const size_t P = (size_t)Rb * W, p0 = (size_t)y0 * W;
        conv3_cols(colT, src, nsrc, H, W, y0, Rb);
        // o (OC, P) rows of the output (ld HW), or the heads' block buffer (ld P)
        float *o = hd ? tmp : out + p0;
        const size_t ld = hd ? P : HW;
        for (int oc = 0; oc < OC; oc++) {
            float bv = b ? b[oc] : 0.0f, *orow = o + (size_t)oc * ld;
            for (size_t p = 0; p < P; p++) orow[p] = bv;
        }
        xt_gemm(0, 0, OC, (int)P, K, 1.0f, w, K, colT, (int)P, 1.0f, o, (int)ld);
        if (silu)
            for (int oc = 0; oc < OC; oc++) xt_silu_forward(o + (size_t)oc * ld, o + (size_t)oc * ld, P);
        if (hd) { // out_g = b_g + w_g . (the g-th OC/G channels), per pixel
            const int cg = OC / hd->groups;
            for (int g = 0; g < hd->groups; g++) {
                float *dst = hd->out[g] + p0;
                for (size_t p = 0; p < P; p++) dst[p] = 0.0f;
                for (int c = 0; c < cg; c++) {
                    const float wc = hd->w[(size_t)g * cg + c], *x = tmp + ((size_t)g * cg + c) * P;
                    for (size_t p = 0; p < P; p++) dst[p] += wc * x[p];
                }
                for (size_t p = 0; p < P; p++) dst[p] += hd->b[g];
            }
        }
    }
}

size_t xt_conv_transpose2x2_scratch_floats(int IC, int OC, int H, int W) {
    return (size_t)OC * 4 * IC + (size_t)OC * 4 * H * W;
}

// ConvTranspose2d(IC, OC, 2, stride 2) as one GEMM: Y (OC*4, HW) = Wt (OC*4, IC) @ X (IC, HW),
// then each of the four (a, b) planes is scattered to its output phase.
void xt_conv_transpose2x2_forward(float *out, const float *inp, const float *w, const float *b, int B, int IC,
                                  int OC, int H, int W, float *scratch) {
    const size_t HW = (size_t)H * W;
    float *wt = scratch, *y = scratch + (size_t)OC * 4 * IC;
    for (int i = 0; i < IC; i++)
        for (int o = 0; o < OC; o++)
            for (int k = 0; k < 4; k++) wt[((size_t)o * 4 + k) * IC + i] = w[((size_t)i * OC + o) * 4 + k];
    for (int n = 0; n < B; n++) {
        xt_gemm(0, 0, OC * 4, (int)HW, IC, 1.0f, wt, IC, inp + (size_t)n * IC * HW, (int)HW, 0.0f, y, (int)HW);
        float *o0 = out + (size_t)n * OC * 4 * HW;
#pragma omp parallel for if (OC * HW > 65536)
        for (int o = 0; o < OC; o++)
            for (int k = 0; k < 4; k++) {
                const float *src = y + ((size_t)o * 4 + k) * HW;
                float bias = b ? b[o] : 0.0f;
                for (int yy = 0; yy < H; yy++) {
                    float *dst = o0 + ((size_t)o * 2 * H + 2 * yy + k / 2) * 2 * W + k % 2;
                    for (int xx = 0; xx < W; xx++) dst[2 * xx] = src[(size_t)yy * W + xx] + bias;
                }
            }
    }
}

// ---------------------------------------------------------------------------------------------
// Backward passes (the xView3 dense model's training step): dense conv, nearest 2x upsampling and
// the 2x2 / stride-2 transposed conv, each the adjoint of its forward above.

// dimg (IC, H, W) += the im2col adjoint of dcol (OH*OW, IC*KH*KW). Serial over output pixels
// (overlapping windows add into the same input pixel); parallel over input channels instead.
static void col2im_add(float *dimg, const float *dcol, const xt_conv2d_dims *d) {
    const int OH = xt_conv2d_out(d->H, d->KH, d->SH, d->PH), OW = xt_conv2d_out(d->W, d->KW, d->SW, d->PW);
    const int K = d->IC * d->KH * d->KW;
#pragma omp parallel for if ((size_t)OH * OW * K > 32768)
    for (int ic = 0; ic < d->IC; ic++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++) {
                const float *row = dcol + ((size_t)oy * OW + ox) * K + (size_t)ic * d->KH * d->KW;
                for (int ky = 0; ky < d->KH; ky++) {
                    int iy = oy * d->SH - d->PH + ky;
                    if (iy < 0 || iy >= d->H) continue;
                    for (int kx = 0; kx < d->KW; kx++) {
                        int ix = ox * d->SW - d->PW + kx;
                        if (ix >= 0 && ix < d->W) dimg[((size_t)ic * d->H + iy) * d->W + ix] += row[ky * d->KW + kx];
                    }
                }
            }
}

size_t xt_conv2d_backward_scratch_floats(const xt_conv2d_dims *d) { return 2 * xt_conv2d_col_size(d); }

void xt_conv2d_backward(float *dinp, float *dw, float *db, float *scratch, const float *inp, const float *dout,
                        const float *w, int B, const xt_conv2d_dims *d) {
    const int OH = xt_conv2d_out(d->H, d->KH, d->SH, d->PH), OW = xt_conv2d_out(d->W, d->KW, d->SW, d->PW);
    const int K = d->IC * d->KH * d->KW, P = OH * OW, OC = d->OC;
    const size_t in1 = (size_t)d->IC * d->H * d->W;
    float *col = scratch, *dcol = scratch + xt_conv2d_col_size(d);
    if (dinp) memset(dinp, 0, (size_t)B * in1 * sizeof(float));
    for (int n = 0; n < B; n++) {
        const float *g = dout + (size_t)n * OC * P; // (OC, P)
        if (db)
            for (int oc = 0; oc < OC; oc++) {
                double s = 0;
                for (int p = 0; p < P; p++) s += g[(size_t)oc * P + p];
                db[oc] += (float)s;
            }
        if (dw) { // dw (OC, K) += g (OC, P) @ col (P, K)
            im2col(col, inp + (size_t)n * in1, d, 0);
            xt_gemm(0, 0, OC, K, P, 1.0f, g, P, col, K, 1.0f, dw, K);
        }
        if (dinp) { // dcol (P, K) = g^T (P, OC) @ w (OC, K)
            xt_gemm(1, 0, P, K, OC, 1.0f, g, P, w, K, 0.0f, dcol, K);
            col2im_add(dinp + (size_t)n * in1, dcol, d);
        }
    }
}

void xt_upsample2x_nearest_backward(float *dinp, const float *dout, int B, int C, int H, int W) {
#pragma omp parallel for if ((size_t)B * C * H * W > 65536)
    for (int n = 0; n < B * C; n++)
        for (int y = 0; y < H; y++) {
            const float *r0 = dout + ((size_t)n * 2 * H + 2 * y) * 2 * W, *r1 = r0 + 2 * W;
            float *dst = dinp + ((size_t)n * H + y) * W;
            for (int x = 0; x < W; x++) dst[x] = (r0[2 * x] + r0[2 * x + 1]) + (r1[2 * x] + r1[2 * x + 1]);
        }
}

size_t xt_conv_transpose2x2_backward_scratch_floats(int IC, int OC, int H, int W) {
    return (size_t)2 * OC * 4 * IC + (size_t)OC * 4 * H * W;
}

// The adjoint of the one-GEMM forward: gather the four output phases into Y (OC*4, HW), then
// dX (IC, HW) = Wt^T @ Y, dWt (OC*4, IC) += Y @ X^T, db[o] += sum of its four phase rows.
void xt_conv_transpose2x2_backward(float *dinp, float *dw, float *db, const float *inp, const float *dout,
                                   const float *w, int B, int IC, int OC, int H, int W, float *scratch) {
    const size_t HW = (size_t)H * W;
    float *wt = scratch, *dwt = scratch + (size_t)OC * 4 * IC, *y = dwt + (size_t)OC * 4 * IC;
    for (int i = 0; i < IC; i++)
        for (int o = 0; o < OC; o++)
            for (int k = 0; k < 4; k++) wt[((size_t)o * 4 + k) * IC + i] = w[((size_t)i * OC + o) * 4 + k];
    memset(dwt, 0, (size_t)OC * 4 * IC * sizeof(float));
    for (int n = 0; n < B; n++) {
        const float *g = dout + (size_t)n * OC * 4 * HW;
#pragma omp parallel for if (OC * HW > 65536)
        for (int o = 0; o < OC; o++)
            for (int k = 0; k < 4; k++) {
                float *dst = y + ((size_t)o * 4 + k) * HW;
                for (int yy = 0; yy < H; yy++) {
                    const float *src = g + ((size_t)o * 2 * H + 2 * yy + k / 2) * 2 * W + k % 2;
                    for (int xx = 0; xx < W; xx++) dst[(size_t)yy * W + xx] = src[2 * xx];
                }
            }
        if (db)
            for (int o = 0; o < OC; o++) {
                double s = 0;
                for (size_t p = 0; p < 4 * HW; p++) s += y[(size_t)o * 4 * HW + p];
                db[o] += (float)s;
            }
        const float *x = inp + (size_t)n * IC * HW;
        if (dw) xt_gemm(0, 1, OC * 4, IC, (int)HW, 1.0f, y, (int)HW, x, (int)HW, 1.0f, dwt, IC);
        if (dinp) xt_gemm(1, 0, IC, (int)HW, OC * 4, 1.0f, wt, IC, y, (int)HW, 0.0f, dinp + (size_t)n * IC * HW, (int)HW);
    }
    if (dw)
        for (int i = 0; i < IC; i++)
            for (int o = 0; o < OC; o++)
                for (int k = 0; k < 4; k++) dw[((size_t)i * OC + o) * 4 + k] += dwt[((size_t)o * 4 + k) * IC + i];
}
