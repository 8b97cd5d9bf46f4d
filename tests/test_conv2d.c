// test_conv2d.c — im2col+GEMM conv and the depthwise kernel against the definitional reference,
// in every layout combination, plus a hand-computed case for the reference itself.
#include "check.h"
#include "nn/nn.h"

static unsigned rng = 12345;
static float frand(void) { // uniform in [-1, 1)
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 8388608.0)) - 1.0f;
}
static float *rnd(size_t n) {
    float *p = xt_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static void dense_case(int B, xt_conv2d_dims d, int with_bias) {
    int OH = xt_conv2d_out(d.H, d.KH, d.SH, d.PH), OW = xt_conv2d_out(d.W, d.KW, d.SW, d.PW);
    size_t nin = (size_t)B * d.IC * d.H * d.W, nout = (size_t)B * d.OC * OH * OW;
    float *x = rnd(nin), *w = rnd((size_t)d.OC * d.IC * d.KH * d.KW), *b = with_bias ? rnd(d.OC) : NULL;
    float *ref = xt_xmalloc(nout * sizeof(float)), *got = xt_xmalloc(nout * sizeof(float));
    float *tmp = xt_xmalloc(nout * sizeof(float)), *xh = xt_xmalloc(nin * sizeof(float));
    float *col = xt_xmalloc(xt_conv2d_col_size(&d) * sizeof(float));
    xt_conv2d_forward_naive(ref, x, w, b, B, &d, 1);
    xt_nchw_to_nhwc(xh, x, B, d.IC, d.H * d.W);
    char label[128];
    for (int flags = 0; flags < 4; flags++) {
        xt_conv2d_forward(flags & XT_CONV_OUT_NHWC ? tmp : got, col, flags & XT_CONV_IN_NHWC ? xh : x, w, b, B, &d, flags);
        if (flags & XT_CONV_OUT_NHWC) xt_nhwc_to_nchw(got, tmp, B, OH * OW, d.OC);
        snprintf(label, sizeof label, "conv IC%d %dx%d OC%d k%dx%d s%d,%d p%d,%d flags %d", d.IC, d.H, d.W, d.OC,
                 d.KH, d.KW, d.SH, d.SW, d.PH, d.PW, flags);
        CHECK_CLOSE(got, ref, (long)nout, 1e-5, 1e-5, label); // float32 GEMM vs double accumulation
    }
    free(x); free(w); free(b); free(ref); free(got); free(tmp); free(xh); free(col);
}

static void depthwise_case(int B, int H, int W, int C, int K, int pad) {
    int OH = H + 2 * pad - K + 1, OW = W + 2 * pad - K + 1;
    xt_conv2d_dims d = {C, H, W, C, K, K, 1, 1, pad, pad};
    size_t nin = (size_t)B * C * H * W, nout = (size_t)B * C * OH * OW;
    float *x = rnd(nin), *w = rnd((size_t)C * K * K), *b = rnd(C), *whwc = xt_xmalloc((size_t)C * K * K * sizeof(float));
    float *ref = xt_xmalloc(nout * sizeof(float)), *got = xt_xmalloc(nout * sizeof(float));
    float *xh = xt_xmalloc(nin * sizeof(float)), *oh = xt_xmalloc(nout * sizeof(float));
    xt_conv2d_forward_naive(ref, x, w, b, B, &d, C);
    xt_nchw_to_nhwc(xh, x, B, C, H * W);
    xt_dwconv2d_weight_hwc(whwc, w, C, K);
    xt_dwconv2d_forward(oh, xh, whwc, b, B, H, W, C, K, pad);
    xt_nhwc_to_nchw(got, oh, B, OH * OW, C);
    char label[96];
    snprintf(label, sizeof label, "depthwise %dx%d C%d k%d pad%d", H, W, C, K, pad);
    CHECK_CLOSE(got, ref, (long)nout, 1e-5, 1e-5, label);
    free(x); free(w); free(b); free(whwc); free(ref); free(got); free(xh); free(oh);
}

int main(void) {
    // the reference itself: 1x1x3x3 input 1..9, 2x2 kernel of ones, stride 1, pad 1, bias 0.5
    {
        float x[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, w[4] = {1, 1, 1, 1}, b = 0.5f, out[16];
        xt_conv2d_dims d = {1, 3, 3, 1, 2, 2, 1, 1, 1, 1};
        xt_conv2d_forward_naive(out, x, w, &b, 1, &d, 1);
        float want[16] = {1, 3, 5, 3, 5, 12, 16, 9, 11, 24, 28, 15, 7, 15, 17, 9};
        for (int i = 0; i < 16; i++) want[i] += 0.5f;
        CHECK_CLOSE(out, want, 16, 0, 0, "naive conv by hand");
        CHECK(xt_conv2d_out(224, 7, 4, 3) == 56);
        CHECK(xt_conv2d_out(256, 4, 4, 0) == 64);
    }
    dense_case(2, (xt_conv2d_dims){3, 17, 17, 5, 7, 7, 4, 4, 3, 3}, 1);   // Hiera patch embed shape
    dense_case(1, (xt_conv2d_dims){3, 32, 32, 8, 7, 7, 4, 4, 3, 3}, 1);
    dense_case(2, (xt_conv2d_dims){3, 16, 16, 8, 4, 4, 4, 4, 0, 0}, 1);   // Swin/ConvNeXt stem
    dense_case(2, (xt_conv2d_dims){6, 8, 8, 12, 2, 2, 2, 2, 0, 0}, 1);    // ConvNeXt downsample
    dense_case(1, (xt_conv2d_dims){2, 9, 13, 3, 3, 5, 1, 2, 1, 2}, 0);    // odd everything, no bias
    dense_case(1, (xt_conv2d_dims){1, 5, 5, 1, 5, 5, 1, 1, 0, 0}, 1);     // one output pixel
    depthwise_case(2, 9, 9, 5, 7, 3);
    depthwise_case(1, 16, 12, 33, 7, 3);
    depthwise_case(1, 3, 3, 4, 7, 3); // kernel larger than the image: all taps but the centre padded
    depthwise_case(1, 6, 5, 3, 3, 0);
    depthwise_case(2, 10, 17, 48, 7, 3); // C % 16 == 0: strips of 8 (padded columns included), one pixel left
    depthwise_case(1, 12, 29, 16, 7, 3); // strips of 8 and 4, one pixel left
    depthwise_case(1, 5, 5, 16, 7, 3);   // one strip of 4 with padding on both sides
    // transposes round-trip
    {
        float *x = rnd(2 * 3 * 20), *y = xt_xmalloc(120 * sizeof(float)), *z = xt_xmalloc(120 * sizeof(float));
        xt_nchw_to_nhwc(y, x, 2, 3, 20);
        CHECK(y[(0 * 20 + 7) * 3 + 2] == x[(0 * 3 + 2) * 20 + 7] && y[(20 + 19) * 3 + 1] == x[(3 + 1) * 20 + 19]);
        xt_nhwc_to_nchw(z, y, 2, 20, 3);
        CHECK(!memcmp(x, z, 120 * sizeof(float)));
        free(x); free(y); free(z);
    }
    return check_summary("conv2d");
}
