// augment.c — the official training augmentations (timm create_transform(is_training=True) as
// xt/datasets/build.py calls it, and timm's Mixup): RandomResizedCrop, horizontal flip,
// RandAugment or ColorJitter on the 8-bit image (PIL's arithmetic: ImageEnhance, ImageOps,
// Image.transform with a fill colour), RandomErasing on the normalised tensor, and per batch
// Mixup / CutMix with soft targets.
//
// Each op is a deterministic function of its parameters (tested against PIL / torchvision /
// timm in tests/test_augment.c); the random draws come from xt's splitmix64 streams, seeded per
// sample from (run seed, sample index) and per batch from (run seed, step), so a resumed run
// replays them exactly. The distributions are timm's; the draws are not Python's (no bit-exact
// replay of a timm run is possible or intended).
//
// Images here are planar (C, H, W) uint8, C = 3 for the colour ops (RGB as PIL holds it).
#include <math.h>
#include <string.h>

#include "train/train.h"

// ---------------------------------------------------------------------------------------------
// random helpers (Python's random.uniform / randint, numpy's beta)

static double uniform(uint64_t *r, double a, double b) { return a + (b - a) * xt_rng_u01(r); }
static int randint(uint64_t *r, int a, int b) { // inclusive, as random.randint
    int v = a + (int)(xt_rng_u01(r) * (double)(b - a + 1));
    return v > b ? b : v;
}
static double pyround(double x) { return nearbyint(x); } // Python round: half to even

static double gamma_draw(uint64_t *r, double a) { // Marsaglia & Tsang; a < 1 by boosting
    if (a < 1) {
        double u = xt_rng_u01(r);
        return gamma_draw(r, a + 1) * pow(u > 1e-300 ? u : 1e-300, 1.0 / a);
    }
    double d = a - 1.0 / 3, c = 1 / sqrt(9 * d);
    for (;;) {
        double x = xt_rng_normal(r), v = 1 + c * x;
        if (v <= 0) continue;
        v = v * v * v;
        double u = xt_rng_u01(r);
        if (u < 1 - 0.0331 * x * x * x * x || log(u > 1e-300 ? u : 1e-300) < 0.5 * x * x + d * (1 - v + log(v))) return d * v;
    }
}
double xt_rng_beta(uint64_t *r, double a, double b) {
    double x = gamma_draw(r, a), y = gamma_draw(r, b);
    return x + y > 0 ? x / (x + y) : 0.5;
}

// ---------------------------------------------------------------------------------------------
// RandomResizedCrop (timm RandomResizedCropAndInterpolation.get_params = torchvision's, with
// torchvision's 0 < w check so a tiny image never gives an empty crop)

void xt_rrc_params(uint64_t *r, int H, int W, const double scale[2], const double ratio[2], int box[4]) {
    double area = (double)H * W, lr0 = log(ratio[0]), lr1 = log(ratio[1]);
    for (int attempt = 0; attempt < 10; attempt++) {
        double target = uniform(r, scale[0], scale[1]) * area, ar = exp(uniform(r, lr0, lr1));
        int w = (int)pyround(sqrt(target * ar)), h = (int)pyround(sqrt(target / ar));
        if (w > 0 && h > 0 && w <= W && h <= H) {
            int i = randint(r, 0, H - h), j = randint(r, 0, W - w);
            box[0] = i, box[1] = j, box[2] = h, box[3] = w;
            return;
        }
    }
    double in_ratio = (double)W / H, rmin = fmin(ratio[0], ratio[1]), rmax = fmax(ratio[0], ratio[1]);
    int w = W, h = H;
    if (in_ratio < rmin) h = (int)pyround(w / rmin);
    else if (in_ratio > rmax) w = (int)pyround(h * rmax);
    if (h < 1) h = 1;
    if (w < 1) w = 1;
    box[0] = (H - h) / 2, box[1] = (W - w) / 2, box[2] = h, box[3] = w;
}

// ---------------------------------------------------------------------------------------------
// PIL's 8-bit arithmetic

// Image.blend(im1, im2, alpha) (Blend.c): in float, truncated; clipped when extrapolating
static uint8_t blend(uint8_t a, uint8_t b, float alpha) {
    float t = (float)((int)a + alpha * (float)((int)b - (int)a));
    if (alpha >= 0 && alpha <= 1.0f) return (uint8_t)t;
    return t <= 0.0f ? 0 : t >= 255.0f ? 255 : (uint8_t)t;
}

static void blend_img(uint8_t *img, const uint8_t *deg, size_t n, double factor) {
    float a = (float)factor;
    if (a == 1.0f) return;
    for (size_t k = 0; k < n; k++) img[k] = a == 0.0f ? deg[k] : blend(deg[k], img[k], a);
}

// RGB -> L as Convert.c rgb2l: (R 19595 + G 38470 + B 7471 + 0x8000) >> 16
static uint8_t luma(uint8_t r, uint8_t g, uint8_t b) { return (uint8_t)((r * 19595u + g * 38470u + b * 7471u + 0x8000u) >> 16); }

void xt_adjust_brightness(uint8_t *img, int C, int H, int W, double f) { // ImageEnhance.Brightness
    size_t n = (size_t)C * H * W;
    float a = (float)f;
    for (size_t k = 0; k < n && a != 1.0f; k++) img[k] = a == 0.0f ? 0 : blend(0, img[k], a);
}

void xt_adjust_contrast(uint8_t *img, int H, int W, double f) { // ImageEnhance.Contrast: the mean of L
    size_t n = (size_t)H * W;
    double s = 0;
    for (size_t k = 0; k < n; k++) s += luma(img[k], img[n + k], img[2 * n + k]);
    int mean = (int)(s / n + 0.5);
    float a = (float)f;
    for (size_t k = 0; k < 3 * n && a != 1.0f; k++) img[k] = a == 0.0f ? (uint8_t)mean : blend((uint8_t)mean, img[k], a);
}

void xt_adjust_saturation(uint8_t *img, int H, int W, double f) { // ImageEnhance.Color: L as RGB
    size_t n = (size_t)H * W;
    float a = (float)f;
    if (a == 1.0f) return;
    for (size_t k = 0; k < n; k++) {
        uint8_t l = luma(img[k], img[n + k], img[2 * n + k]);
        for (int c = 0; c < 3; c++) img[c * n + k] = a == 0.0f ? l : blend(l, img[c * n + k], a);
    }
}

// ImageEnhance.Sharpness: blend with ImageFilter.SMOOTH (3 x 3, 1 1 1 / 1 5 1 / 1 1 1, / 13);
// the filter keeps the border pixels (Filter.c ImagingFilter3x3)
void xt_adjust_sharpness(uint8_t *img, uint8_t *tmp, int C, int H, int W, double f) {
    size_t n = (size_t)H * W;
    memcpy(tmp, img, (size_t)C * n);
    float k1 = (float)(1.0 / 13), k5 = (float)(5.0 / 13);
    for (int c = 0; c < C; c++)
        for (int y = 1; y < H - 1; y++) {
            const uint8_t *a = img + c * n + (size_t)(y + 1) * W, *m = img + c * n + (size_t)y * W, *b = img + c * n + (size_t)(y - 1) * W;
            for (int x = 1; x < W - 1; x++) {
                float s = 0.0f;
                s += (float)a[x - 1] * k1 + (float)a[x] * k1 + (float)a[x + 1] * k1;
                s += (float)m[x - 1] * k1 + (float)m[x] * k5 + (float)m[x + 1] * k1;
                s += (float)b[x - 1] * k1 + (float)b[x] * k1 + (float)b[x + 1] * k1;
                tmp[c * n + (size_t)y * W + x] = s <= 0.0f ? 0 : s >= 255.0f ? 255 : (uint8_t)(s + 0.5f);
            }
        }
    blend_img(img, tmp, (size_t)C * n, f);
}

static void apply_lut(uint8_t *img, int C, size_t n, const int *lut) { // lut: 256 per band (or one for all)
    for (int c = 0; c < C; c++)
        for (size_t k = 0; k < n; k++) img[c * n + k] = (uint8_t)lut[img[c * n + k]];
}

void xt_autocontrast(uint8_t *img, int C, int H, int W) { // ImageOps.autocontrast(cutoff 0)
    size_t n = (size_t)H * W;
    for (int c = 0; c < C; c++) {
        int64_t h[256] = {0};
        int lut[256], lo = 0, hi = 255;
        for (size_t k = 0; k < n; k++) h[img[c * n + k]]++;
        while (lo < 255 && !h[lo]) lo++;
        while (hi > 0 && !h[hi]) hi--;
        for (int i = 0; i < 256; i++) lut[i] = i;
        if (hi > lo) {
            double scale = 255.0 / (hi - lo), off = -lo * scale;
            for (int i = 0; i < 256; i++) {
                int v = (int)(i * scale + off);
                lut[i] = v < 0 ? 0 : v > 255 ? 255 : v;
            }
        }
        apply_lut(img + c * n, 1, n, lut);
    }
}

void xt_equalize(uint8_t *img, int C, int H, int W) { // ImageOps.equalize
    size_t n = (size_t)H * W;
    for (int c = 0; c < C; c++) {
        int64_t h[256] = {0}, total = 0, last = 0;
        int lut[256], nz = 0;
        for (size_t k = 0; k < n; k++) h[img[c * n + k]]++;
        for (int i = 0; i < 256; i++)
            if (h[i]) nz++, total += h[i], last = h[i];
        for (int i = 0; i < 256; i++) lut[i] = i;
        int64_t step = nz > 1 ? (total - last) / 255 : 0;
        if (step) {
            int64_t acc = step / 2;
            for (int i = 0; i < 256; i++) {
                int64_t v = acc / step;
                lut[i] = v > 255 ? 255 : (int)v; // Image.point clips the table to 8 bits
                acc += h[i];
            }
        }
        apply_lut(img + c * n, 1, n, lut);
    }
}

// Image.transform(size, AFFINE, a, BILINEAR, fillcolor): output pixel (x, y) samples the input at
// a (x + 0.5, y + 0.5) (Geometry.c affine_transform), bilinear with clamped neighbours, outside
// the input the fill colour; the result truncated to 8 bits (bilinear_filter32RGB)
void xt_affine_u8(uint8_t *out, const uint8_t *in, int C, int H, int W, const double a[6], const uint8_t *fill) {
    size_t n = (size_t)H * W;
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            double xi = a[0] * (x + 0.5) + a[1] * (y + 0.5) + a[2], yi = a[3] * (x + 0.5) + a[4] * (y + 0.5) + a[5];
            size_t o = (size_t)y * W + x;
            if (!(xi >= 0.0 && xi < W && yi >= 0.0 && yi < H)) {
                for (int c = 0; c < C; c++) out[c * n + o] = fill[c];
                continue;
            }
            xi -= 0.5, yi -= 0.5;
            int x0 = (int)floor(xi), y0 = (int)floor(yi);
            double dx = xi - x0, dy = yi - y0;
            int xa = x0 < 0 ? 0 : x0 >= W ? W - 1 : x0, xb = x0 + 1 >= W ? W - 1 : x0 + 1 < 0 ? 0 : x0 + 1;
            int ya = y0 < 0 ? 0 : y0 >= H ? H - 1 : y0;
            int has2 = y0 + 1 >= 0 && y0 + 1 < H;
            for (int c = 0; c < C; c++) {
                const uint8_t *p = in + c * n;
                double v1 = p[(size_t)ya * W + xa] + (p[(size_t)ya * W + xb] - p[(size_t)ya * W + xa]) * dx, v2 = v1;
                if (has2) v2 = p[(size_t)(y0 + 1) * W + xa] + (p[(size_t)(y0 + 1) * W + xb] - p[(size_t)(y0 + 1) * W + xa]) * dx;
                v1 = v1 + (v2 - v1) * dy;
                out[c * n + o] = (uint8_t)v1;
            }
        }
}

// Image.rotate(deg, BILINEAR, fillcolor): about the centre (W/2, H/2); angle % 360 (Python's
// modulo), -math.radians (x * (pi / 180)), the matrix rounded to 15 decimals as PIL does. PIL's
// exact shortcuts (0: a copy; 180, and 90 / 270 on a square, a transpose) lie outside RandAugment's
// +-30 degrees except 0, which is kept.
static void rotate_matrix(double deg, int H, int W, double m[6]) {
    double d = fmod(deg, 360.0);
    if (d < 0) d += 360.0;
    double a = -(d * (M_PI / 180.0));
    double c = round(cos(a) * 1e15) / 1e15, s = round(sin(a) * 1e15) / 1e15;
    double cx = W / 2.0, cy = H / 2.0;
    m[0] = c, m[1] = s, m[3] = -s, m[4] = c;
    m[2] = c * -cx + s * -cy + cx;
    m[5] = -s * -cx + c * -cy + cy;
}

static const char *ra_names[XT_RA_COUNT] = {"AutoContrast", "Equalize", "Invert", "Rotate", "Posterize", "Solarize",
                                            "SolarizeAdd", "Color", "Contrast", "Brightness", "Sharpness",
                                            "ShearX", "ShearY", "TranslateXRel", "TranslateYRel"};
const char *xt_ra_op_name(xt_ra_op op) { return op >= 0 && op < XT_RA_COUNT ? ra_names[op] : "?"; }

void xt_ra_apply(uint8_t *img, uint8_t *tmp, int C, int H, int W, xt_ra_op op, double arg, const uint8_t *fill) {
    size_t n = (size_t)H * W;
    int lut[256];
    double m[6] = {1, 0, 0, 0, 1, 0};
    switch (op) {
    case XT_RA_AUTOCONTRAST: xt_autocontrast(img, C, H, W); return;
    case XT_RA_EQUALIZE: xt_equalize(img, C, H, W); return;
    case XT_RA_INVERT:
        for (size_t k = 0; k < (size_t)C * n; k++) img[k] = (uint8_t)(255 - img[k]);
        return;
    case XT_RA_POSTERIZE: { // ImageOps.posterize; timm returns the image for bits >= 8
        int bits = (int)arg;
        if (bits >= 8) return;
        int mask = ~((1 << (8 - bits)) - 1);
        for (int i = 0; i < 256; i++) lut[i] = i & mask & 255;
        apply_lut(img, C, n, lut);
        return;
    }
    case XT_RA_SOLARIZE: // ImageOps.solarize(threshold)
        for (int i = 0; i < 256; i++) lut[i] = i < arg ? i : 255 - i;
        apply_lut(img, C, n, lut);
        return;
    case XT_RA_SOLARIZE_ADD: // timm solarize_add(add, thresh 128)
        for (int i = 0; i < 256; i++) lut[i] = i < 128 ? (i + (int)arg > 255 ? 255 : i + (int)arg) : i;
        apply_lut(img, C, n, lut);
        return;
    case XT_RA_COLOR: xt_adjust_saturation(img, H, W, arg); return;
    case XT_RA_CONTRAST: xt_adjust_contrast(img, H, W, arg); return;
    case XT_RA_BRIGHTNESS: xt_adjust_brightness(img, C, H, W, arg); return;
    case XT_RA_SHARPNESS: xt_adjust_sharpness(img, tmp, C, H, W, arg); return;
    case XT_RA_ROTATE:
        if (fmod(arg, 360.0) == 0) return;
        rotate_matrix(arg, H, W, m);
        break;
    case XT_RA_SHEAR_X: m[1] = arg; break;
    case XT_RA_SHEAR_Y: m[3] = arg; break;
    case XT_RA_TRANSLATE_X: m[2] = arg * W; break; // timm translate_x_rel: pct * width
    case XT_RA_TRANSLATE_Y: m[5] = arg * H; break;
    default: XT_ASSERT(0);
    }
    xt_affine_u8(tmp, img, C, H, W, m, fill);
    memcpy(img, tmp, (size_t)C * n);
}

// timm auto_augment.py level_to_arg with _LEVEL_DENOM 10 (the "increasing" variants for inc1);
// neg: the _randomly_negate draw (1: negate)
double xt_ra_level_arg(xt_ra_op op, double mag, int increasing, int neg) {
    double sgn = neg ? -1 : 1;
    switch (op) {
    case XT_RA_ROTATE: return sgn * mag / 10 * 30;
    case XT_RA_POSTERIZE: return increasing ? 4 - (int)(mag / 10 * 4) : (int)(mag / 10 * 4);
    case XT_RA_SOLARIZE: return increasing ? 256 - (int)(mag / 10 * 256) : (int)(mag / 10 * 256);
    case XT_RA_SOLARIZE_ADD: return (int)(mag / 10 * 110);
    case XT_RA_COLOR: case XT_RA_CONTRAST: case XT_RA_BRIGHTNESS: case XT_RA_SHARPNESS:
        if (increasing) return fmax(0.1, 1.0 + sgn * mag / 10 * 0.9);
        return mag / 10 * 1.8 + 0.1;
    case XT_RA_SHEAR_X: case XT_RA_SHEAR_Y: return sgn * mag / 10 * 0.3;
    case XT_RA_TRANSLATE_X: case XT_RA_TRANSLATE_Y: return sgn * mag / 10 * 0.45; // translate_pct
    default: return 0;
    }
}

// "rand-m9-mstd0.5-inc1" (timm rand_augment_transform): m magnitude, n layers, mstd, inc, p
int xt_aug_parse_auto_augment(const char *s, xt_aug_opts *o) {
    o->ra_n = 0;
    if (!s || !s[0]) return 0;
    if (strncmp(s, "rand", 4) || (s[4] && s[4] != '-'))
        return xt_error("augment", "auto_augment '%s': xt implements RandAugment ('rand-m9-mstd0.5-inc1' style) only", s);
    int n = 2, inc = 0;
    double m = 10, mstd = 0, p = 0.5, mmax = 10;
    for (const char *q = s + 4; *q == '-';) {
        q++;
        const char *kend = q;
        while (*kend && !(*kend >= '0' && *kend <= '9') && *kend != '-' && *kend != '.') kend++;
        char key[8];
        int kl = (int)(kend - q);
        if (kl < 1 || kl >= (int)sizeof key) return xt_error("augment", "auto_augment '%s': cannot read '%s'", s, q);
        memcpy(key, q, kl), key[kl] = 0;
        char *e;
        double v = strtod(kend, &e);
        if (e == kend || (*e && *e != '-')) return xt_error("augment", "auto_augment '%s': '%s' needs a number", s, key);
        if (!strcmp(key, "m")) m = v;
        else if (!strcmp(key, "n")) n = (int)v;
        else if (!strcmp(key, "mstd")) mstd = v > 100 ? INFINITY : v;
        else if (!strcmp(key, "inc")) inc = v != 0;
        else if (!strcmp(key, "p")) p = v;
        else if (!strcmp(key, "mmax")) mmax = v;
        else return xt_error("augment", "auto_augment '%s': option '%s' is not implemented (m, n, mstd, mmax, inc, p)", s, key);
        q = e;
    }
    if (!(m >= 0 && m <= 30) || n < 0 || n > 16 || !(mstd >= 0) || !(p >= 0 && p <= 1) || !(mmax > 0 && mmax <= 30))
        return xt_error("augment", "auto_augment '%s': m %g, n %d, mstd %g, mmax %g, p %g out of range", s, m, n, mstd, mmax, p);
    o->ra_n = n, o->ra_m = m, o->ra_mstd = mstd, o->ra_inc = inc, o->ra_prob = p, o->ra_mmax = mmax;
    snprintf(o->auto_augment, sizeof o->auto_augment, "%s", s);
    return 0;
}

// timm RandAugment.__call__: n ops drawn with replacement; each applied with probability p at a
// magnitude ~ N(m, mstd) clipped to [0, mmax] (timm's magnitude_max, default _LEVEL_DENOM 10)
void xt_randaugment(uint8_t *img, uint8_t *tmp, int C, int H, int W, const xt_aug_opts *o, const uint8_t *fill, uint64_t *r) {
    for (int l = 0; l < o->ra_n; l++) {
        xt_ra_op op = (xt_ra_op)randint(r, 0, XT_RA_COUNT - 1);
        double u = xt_rng_u01(r), mag = o->ra_m, g = xt_rng_normal(r), uu = xt_rng_u01(r), neg = xt_rng_u01(r);
        if (o->ra_prob < 1.0 && u > o->ra_prob) continue;
        if (isinf(o->ra_mstd)) mag = uu * mag;
        else if (o->ra_mstd > 0) mag = mag + o->ra_mstd * g;
        mag = fmax(0.0, fmin(mag, o->ra_mmax > 0 ? o->ra_mmax : 10.0));
        xt_ra_apply(img, tmp, C, H, W, op, xt_ra_level_arg(op, mag, o->ra_inc, neg > 0.5), fill);
    }
}

static uint8_t clip8i(int v) { return (uint8_t)(v < 0 ? 0 : v > 255 ? 255 : v); }

// torchvision F.adjust_hue on a PIL image: to HSV (Convert.c rgb2hsv, colorsys in float), H
// shifted by uint8(hue 255) modulo 256, back to RGB (hsv2rgb)
void xt_adjust_hue(uint8_t *img, int H, int W, double hue) {
    size_t n = (size_t)H * W;
    double hv = hue * 255;
    uint8_t shift = (uint8_t)(int)hv; // numpy's uint8(float): truncated, then modulo 256
    for (size_t k = 0; k < n; k++) {
        uint8_t r = img[k], g = img[n + k], b = img[2 * n + k];
        uint8_t maxc = r > g ? (r > b ? r : b) : (g > b ? g : b), minc = r < g ? (r < b ? r : b) : (g < b ? g : b);
        uint8_t uh = 0, us = 0, uv = maxc;
        if (minc != maxc) {
            float cr = (float)(maxc - minc), s = cr / (float)maxc, h;
            float rc = (float)(maxc - r) / cr, gc = (float)(maxc - g) / cr, bc = (float)(maxc - b) / cr;
            if (r == maxc) h = bc - gc;
            else if (g == maxc) h = (float)(2.0 + rc - bc);
            else h = (float)(4.0 + gc - rc);
            h = (float)fmod(h / 6.0 + 1.0, 1.0);
            uh = clip8i((int)(h * 255.0)), us = clip8i((int)(s * 255.0));
        }
        uh = (uint8_t)(uh + shift);
        if (us == 0) { img[k] = img[n + k] = img[2 * n + k] = uv; continue; }
        int i = (int)floor((float)uh * 6.0 / 255.0);
        float f = (float)((float)uh * 6.0 / 255.0 - (float)i), fs = (float)(((float)us) / 255.0);
        uint8_t p = clip8i((int)round((float)uv * (1.0 - fs))), q = clip8i((int)round((float)uv * (1.0 - fs * f)));
        uint8_t t = clip8i((int)round((float)uv * (1.0 - fs * (1.0 - f))));
        uint8_t o[6][3] = {{uv, t, p}, {q, uv, p}, {p, uv, t}, {p, q, uv}, {t, p, uv}, {uv, p, q}};
        for (int c = 0; c < 3; c++) img[c * n + k] = o[i % 6][c];
    }
}

// torchvision ColorJitter on a PIL image: the factors drawn, then applied in a random order
void xt_color_jitter(uint8_t *img, int H, int W, const double jit[4], uint64_t *r) {
    int order[4] = {0, 1, 2, 3};
    for (int i = 3; i > 0; i--) {
        int j = randint(r, 0, i), t = order[i];
        order[i] = order[j], order[j] = t;
    }
    double f[4];
    for (int i = 0; i < 3; i++) f[i] = jit[i] > 0 ? uniform(r, fmax(0, 1 - jit[i]), 1 + jit[i]) : 1;
    f[3] = jit[3] > 0 ? uniform(r, -jit[3], jit[3]) : 0;
    for (int i = 0; i < 4; i++) {
        int k = order[i];
        if (jit[k] <= 0) continue;
        if (k == 0) xt_adjust_brightness(img, 3, H, W, f[0]);
        else if (k == 1) xt_adjust_contrast(img, H, W, f[1]);
        else if (k == 2) xt_adjust_saturation(img, H, W, f[2]);
        else xt_adjust_hue(img, H, W, f[3]);
    }
}

// timm RandomErasing._erase on a normalised (C, H, W) image: with probability prob, count boxes
// of area U(0.02, 1/3) * area / count and aspect log-U(0.3, 1/0.3) (10 tries each), filled per
// pixel N(0, 1) (pixel), per channel (rand) or 0 (const)
void xt_random_erasing(float *img, int C, int H, int W, const xt_aug_opts *o, uint64_t *r) {
    if (o->reprob <= 0 || xt_rng_u01(r) > o->reprob) return;
    int count = o->recount > 1 ? randint(r, 1, o->recount) : 1;
    double area = (double)H * W, la = log(0.3), lb = log(1 / 0.3);
    for (int q = 0; q < count; q++)
        for (int attempt = 0; attempt < 10; attempt++) {
            double target = uniform(r, 0.02, 1 / 3.0) * area / count, ar = exp(uniform(r, la, lb));
            int h = (int)pyround(sqrt(target * ar)), w = (int)pyround(sqrt(target / ar));
            if (!(w < W && h < H)) continue;
            int top = randint(r, 0, H - h), left = randint(r, 0, W - w);
            for (int c = 0; c < C; c++) {
                double cv = o->remode == XT_RE_RAND ? xt_rng_normal(r) : 0;
                for (int y = top; y < top + h; y++)
                    for (int x = left; x < left + w; x++)
                        img[((size_t)c * H + y) * W + x] = (float)(o->remode == XT_RE_PIXEL ? xt_rng_normal(r) : cv);
            }
            break;
        }
}

// ---------------------------------------------------------------------------------------------
// Mixup / CutMix (timm mixup.py): _params_per_batch, or for modes pair / elem the same laws drawn
// per pair / per sample (_params_per_elem), the caller choosing the stream

// rand_bbox: a cut of int(H sqrt(1 - lam)) x int(W sqrt(1 - lam)) centred at (cy, cx), clipped
void xt_cutmix_box(int H, int W, double lam, int cy, int cx, int box[4]) {
    double ratio = sqrt(1 - lam);
    int ch = (int)(H * ratio), cw = (int)(W * ratio);
    int yl = cy - ch / 2, yh = cy + ch / 2, xl = cx - cw / 2, xh = cx + cw / 2;
    box[0] = yl < 0 ? 0 : yl > H ? H : yl, box[1] = yh < 0 ? 0 : yh > H ? H : yh;
    box[2] = xl < 0 ? 0 : xl > W ? W : xl, box[3] = xh < 0 ? 0 : xh > W ? W : xh;
}

// cutmix_bbox_and_lam's correction: 1 - box area / image area
double xt_cutmix_lam(int H, int W, const int box[4]) { return 1.0 - (double)(box[1] - box[0]) * (box[3] - box[2]) / ((double)H * W); }

int xt_mixup_active(const xt_mixup_opts *o) { return o->mixup_alpha > 0 || o->cutmix_alpha > 0 || o->has_minmax; }

void xt_mixup_draw(const xt_mixup_opts *o, int H, int W, uint64_t *r, double *lam, int *cut, int box[4]) {
    *lam = 1, *cut = 0;
    box[0] = box[1] = box[2] = box[3] = 0;
    if (!xt_mixup_active(o) || !(xt_rng_u01(r) < o->prob)) return;
    double ca = o->has_minmax ? 1.0 : o->cutmix_alpha; // timm: cutmix_minmax forces cutmix_alpha 1
    if (o->mixup_alpha > 0 && ca > 0) {
        *cut = xt_rng_u01(r) < o->switch_prob;
        *lam = *cut ? xt_rng_beta(r, ca, ca) : xt_rng_beta(r, o->mixup_alpha, o->mixup_alpha);
    } else if (o->mixup_alpha > 0) *lam = xt_rng_beta(r, o->mixup_alpha, o->mixup_alpha);
    else *cut = 1, *lam = xt_rng_beta(r, ca, ca);
    if (o->mode != XT_MIX_BATCH) *lam = (float)*lam;
    if (*lam == 1.0 || !*cut) return;
    if (o->has_minmax) { // rand_bbox_minmax: numpy randint's upper bound is exclusive
        int h0 = (int)(H * o->minmax[0]), h1 = (int)(H * o->minmax[1]), w0 = (int)(W * o->minmax[0]), w1 = (int)(W * o->minmax[1]);
        int ch = h1 > h0 ? randint(r, h0, h1 - 1) : h0, cw = w1 > w0 ? randint(r, w0, w1 - 1) : w0;
        int yl = H - ch > 0 ? randint(r, 0, H - ch - 1) : 0, xl = W - cw > 0 ? randint(r, 0, W - cw - 1) : 0;
        box[0] = yl, box[1] = yl + ch, box[2] = xl, box[3] = xl + cw;
    } else xt_cutmix_box(H, W, *lam, randint(r, 0, H - 1), randint(r, 0, W - 1), box);
    *lam = xt_cutmix_lam(H, W, box); // correct_lam (always with minmax)
    if (o->mode != XT_MIX_BATCH) *lam = (float)*lam; // timm's lam_batch: a float32 array
}

static const char *mix_modes[XT_MIX_COUNT] = {"batch", "pair", "elem"};
const char *xt_mix_mode_name(int mode) { return mode >= 0 && mode < XT_MIX_COUNT ? mix_modes[mode] : "?"; }
int xt_mix_mode_parse(const char *s, int *mode) {
    for (int k = 0; k < XT_MIX_COUNT; k++)
        if (!strcmp(s, mix_modes[k])) { *mode = k; return 0; }
    return xt_error("mixup", "mixup_mode '%s': expected batch, pair or elem", s);
}

void xt_mixup_apply(float *x, const float *partner, int n, int C, int H, int W, double lam, int cut, const int box[4]) {
    size_t hw = (size_t)H * W;
    for (int b = 0; b < n; b++) {
        float *d = x + (size_t)b * C * hw;
        const float *p = partner + (size_t)b * C * hw;
        if (!cut) {
            float l = (float)lam, l1 = (float)(1.0 - lam);
            for (size_t k = 0; k < (size_t)C * hw; k++) d[k] = d[k] * l + p[k] * l1; // x.mul_(lam).add_(flip * (1 - lam))
        } else
            for (int c = 0; c < C; c++)
                for (int y = box[0]; y < box[1]; y++)
                    memcpy(d + c * hw + (size_t)y * W + box[2], p + c * hw + (size_t)y * W + box[2], (size_t)(box[3] - box[2]) * sizeof(float));
    }
}

// mixup_target: lam one_hot(y, on, off) + (1 - lam) one_hot(partner, on, off), off = s / K,
// on = 1 - s + off
void xt_mixup_target(float *t, const int *label, const int *partner, int n, int K, double lam, double smoothing) {
    float off = (float)(smoothing / K), on = (float)(1.0 - smoothing + smoothing / K);
    float l = (float)lam, l1 = (float)(1.0 - lam);
    for (int b = 0; b < n; b++)
        for (int k = 0; k < K; k++) {
            float y1 = k == label[b] ? on : off, y2 = k == partner[b] ? on : off;
            t[(size_t)b * K + k] = y1 * l + y2 * l1;
        }
}

int xt_mixup_check(const xt_mixup_opts *o) {
    if (!(o->mixup_alpha >= 0) || !(o->cutmix_alpha >= 0))
        return xt_error("mixup", "mixup alpha %g, cutmix alpha %g must be >= 0", o->mixup_alpha, o->cutmix_alpha);
    if (!(o->prob >= 0 && o->prob <= 1) || !(o->switch_prob >= 0 && o->switch_prob <= 1))
        return xt_error("mixup", "mixup_prob %g and mixup_switch_prob %g must lie in [0, 1]", o->prob, o->switch_prob);
    if (o->has_minmax && !(o->minmax[0] > 0 && o->minmax[0] < o->minmax[1] && o->minmax[1] <= 1))
        return xt_error("mixup", "cutmix_minmax [%g, %g]: expected 0 < min < max <= 1", o->minmax[0], o->minmax[1]);
    return 0;
}
