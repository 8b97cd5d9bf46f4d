// resize.c — PIL's resampling (the official evaluation transform's Resize), reimplemented.
//
// ref: Pillow src/libImaging/Resample.c (precompute_coeffs, normalize_coeffs_8bpc,
// ImagingResampleHorizontal_8bpc / Vertical_8bpc, ImagingResampleInner). What matters for a
// bit-exact match: the support is the filter's times max(1, in/out); each output pixel's weights
// are normalised to sum 1 in double, then rounded to 22-bit fixed point; a pass starts its sum at
// half a unit and clips to 0..255; the horizontal pass runs first and stores uint8.
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "formats/resize.h"

static const char *names[XT_INTERP_COUNT] = {"bilinear", "bicubic", "lanczos", "hamming"};

const char *xt_interp_name(xt_interp m) { return m < XT_INTERP_COUNT ? names[m] : "?"; }

int xt_interp_parse(const char *name, xt_interp *out) {
    for (int i = 0; i < XT_INTERP_COUNT; i++)
        if (!strcmp(name, names[i])) { *out = (xt_interp)i; return 0; }
    return xt_error("resize", "interpolation '%s': expected bilinear, bicubic, lanczos or hamming", name);
}

static double sinc(double x) {
    if (x == 0.0) return 1.0;
    x *= M_PI;
    return sin(x) / x;
}

static double filter(xt_interp m, double x) {
    if (x < 0.0) x = -x;
    switch (m) {
    case XT_INTERP_BILINEAR: return x < 1.0 ? 1.0 - x : 0.0;
    case XT_INTERP_BICUBIC: { // a = -0.5
        const double a = -0.5;
        if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
        if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
        return 0.0;
    }
    case XT_INTERP_LANCZOS: return x < 3.0 ? sinc(x) * sinc(x / 3.0) : 0.0;
    case XT_INTERP_HAMMING:
        if (x == 0.0) return 1.0;
        if (x >= 1.0) return 0.0;
        x *= M_PI;
        return sin(x) / x * (0.54 + 0.46 * cos(x));
    default: XT_ASSERT(0);
    }
    return 0.0;
}

static const double support[XT_INTERP_COUNT] = {1.0, 2.0, 3.0, 1.0};

// weights of out pixel o over in pixels bounds[2o] .. bounds[2o] + bounds[2o+1] - 1: k[o * ksize + i]
static int coeffs(int in, int out, xt_interp m, int **bounds, double **k) {
    double scale = (double)in / out, fs = scale < 1.0 ? 1.0 : scale, sup = support[m] * fs;
    int ksize = (int)ceil(sup) * 2 + 1;
    *bounds = xt_xmalloc((size_t)out * 2 * sizeof(int));
    *k = xt_xmalloc((size_t)out * ksize * sizeof(double));
    for (int o = 0; o < out; o++) {
        double center = (o + 0.5) * scale, ww = 0.0, ss = 1.0 / fs, *w = *k + (size_t)o * ksize;
        int lo = (int)(center - sup + 0.5), hi = (int)(center + sup + 0.5);
        if (lo < 0) lo = 0;
        if (hi > in) hi = in;
        hi -= lo;
        int x = 0;
        for (; x < hi; x++) ww += w[x] = filter(m, (x + lo - center + 0.5) * ss);
        for (x = 0; x < hi; x++)
            if (ww != 0.0) w[x] /= ww;
        for (; x < ksize; x++) w[x] = 0;
        (*bounds)[2 * o] = lo, (*bounds)[2 * o + 1] = hi;
    }
    return ksize;
}

#define PRECISION_BITS (32 - 8 - 2)

static int32_t *fixed(const double *k, size_t n) {
    int32_t *q = xt_xmalloc(n * sizeof *q);
    for (size_t i = 0; i < n; i++)
        q[i] = (int32_t)(k[i] < 0 ? -0.5 + k[i] * (1 << PRECISION_BITS) : 0.5 + k[i] * (1 << PRECISION_BITS));
    return q;
}

static inline uint8_t clip8(int64_t v) {
    if (v >= (int64_t)1 << (PRECISION_BITS + 8)) return 255;
    if (v <= 0) return 0;
    return (uint8_t)(v >> PRECISION_BITS);
}

void xt_resize_u8(uint8_t *out, const uint8_t *in, int C, int H, int W, int oh, int ow, xt_interp m) {
    int *bx, *by;
    double *kx, *ky;
    int kxs = coeffs(W, ow, m, &bx, &kx), kys = coeffs(H, oh, m, &by, &ky);
    int32_t *qx = fixed(kx, (size_t)ow * kxs), *qy = fixed(ky, (size_t)oh * kys);
    // horizontal pass (only when the width changes, as Pillow), into uint8
    const uint8_t *src = in;
    int sw = W;
    uint8_t *tmp = NULL;
    if (ow != W) {
        tmp = xt_xmalloc((size_t)C * H * ow);
        for (int c = 0; c < C; c++)
            for (int y = 0; y < H; y++) {
                const uint8_t *row = in + ((size_t)c * H + y) * W;
                uint8_t *o = tmp + ((size_t)c * H + y) * ow;
                for (int x = 0; x < ow; x++) {
                    int64_t s = 1 << (PRECISION_BITS - 1);
                    const int32_t *q = qx + (size_t)x * kxs;
                    for (int i = 0; i < bx[2 * x + 1]; i++) s += (int64_t)row[bx[2 * x] + i] * q[i];
                    o[x] = clip8(s);
                }
            }
        src = tmp, sw = ow;
    }
    if (oh != H) {
        for (int c = 0; c < C; c++)
            for (int y = 0; y < oh; y++) {
                const int32_t *q = qy + (size_t)y * kys;
                uint8_t *o = out + ((size_t)c * oh + y) * ow;
                for (int x = 0; x < ow; x++) {
                    int64_t s = 1 << (PRECISION_BITS - 1);
                    for (int i = 0; i < by[2 * y + 1]; i++) s += (int64_t)src[((size_t)c * H + by[2 * y] + i) * sw + x] * q[i];
                    o[x] = clip8(s);
                }
            }
    } else memcpy(out, src, (size_t)C * H * ow);
    free(tmp); free(bx); free(by); free(kx); free(ky); free(qx); free(qy);
}

void xt_resize_f32(float *out, const float *in, int C, int H, int W, int oh, int ow, xt_interp m) {
    int *bx, *by;
    double *kx, *ky;
    int kxs = coeffs(W, ow, m, &bx, &kx), kys = coeffs(H, oh, m, &by, &ky);
    float *tmp = xt_xmalloc((size_t)C * H * ow * sizeof(float));
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H; y++) {
            const float *row = in + ((size_t)c * H + y) * W;
            for (int x = 0; x < ow; x++) {
                double s = 0;
                for (int i = 0; i < bx[2 * x + 1]; i++) s += row[bx[2 * x] + i] * kx[(size_t)x * kxs + i];
                tmp[((size_t)c * H + y) * ow + x] = (float)s;
            }
        }
    for (int c = 0; c < C; c++)
        for (int y = 0; y < oh; y++)
            for (int x = 0; x < ow; x++) {
                double s = 0;
                for (int i = 0; i < by[2 * y + 1]; i++) s += tmp[((size_t)c * H + by[2 * y] + i) * ow + x] * ky[(size_t)y * kys + i];
                out[((size_t)c * oh + y) * ow + x] = (float)s;
            }
    free(tmp); free(bx); free(by); free(kx); free(ky);
}

void xt_resize_short_side(int H, int W, int S, int *oh, int *ow) {
    if (W <= H) *ow = S, *oh = (int)((double)S * H / W);
    else *oh = S, *ow = (int)((double)S * W / H);
}

int xt_center_crop_offset(int n, int S) { return (int)nearbyint((n - S) / 2.0); }
