// test_augment.c — the training augmentations (src/train/augment.c) against PIL 9.4 /
// torchvision 0.14 / torch 1.13: tests/data/augment, made by tools/gen_ref_augment.py.
//   RandAugment ops, ColorJitter factors, RandomResizedCrop at a fixed box: 8-bit, bit-exact
//     (PIL's own integer / float arithmetic reproduced), except the affine ops (Rotate, Shear,
//     Translate) where a sample coordinate on an exact pixel boundary may round either way:
//     <= 1/255 per pixel, on <= 2% of the pixels;
//   RandomResizedCrop's fallback box and timm's CutMix box (clipping, lam correction): exact;
//   soft-target cross-entropy: value and gradient within 1e-6 of autograd in float64.
// The whole data path (PNG -> RandomResizedCrop fallback box -> resize -> flip -> normalise): within
// 1e-6 of torchvision's ToTensor + Normalize.
// Then the random parts: distributions and bounds (RRC box inside the image and in scale,
// RandomErasing boxes, Mixup's lam in [0, 1] and prob 0 never mixing), determinism of the draws,
// and option errors.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "train/train.h"

#define DIR "tests/data/augment/"

static const uint8_t FILL[3] = {124, 116, 104};

static int ra_op(const char *name) {
    for (int k = 0; k < XT_RA_COUNT; k++)
        if (!strcmp(name, xt_ra_op_name((xt_ra_op)k))) return k;
    return -1;
}

static void compare(const char *label, const uint8_t *got, const uint8_t *want, size_t n, int maxd, double max_frac) {
    int worst = 0;
    size_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        int d = abs((int)got[k] - (int)want[k]);
        if (d > worst) worst = d;
        bad += d != 0;
    }
    int ok = worst <= maxd && bad <= max_frac * n;
    if (!ok || worst) printf("%-28s max |d| %d, %zu of %zu differ\n", label, worst, bad, n);
    CHECK(ok);
}

static void test_refs(void) {
    FILE *f = fopen(DIR "cases.txt", "r"), *fb = fopen(DIR "ref.bin", "rb");
    CHECK(f && fb);
    if (!f || !fb) return;
    int W, H;
    CHECK(fscanf(f, "%d %d", &W, &H) == 2);
    size_t n = (size_t)3 * H * W;
    uint8_t *in = malloc(n), *ex = malloc(n), *img = malloc(n), *tmp = malloc(n);
    CHECK(fread(in, 1, n, fb) == n);
    char kind[16], op[32];
    int n_img = 0, n_exact = 0;
    while (fscanf(f, "%15s", kind) == 1) {
        char label[64];
        if (!strcmp(kind, "ra") || !strcmp(kind, "cj")) {
            double a;
            CHECK(fscanf(f, "%31s %lf", op, &a) == 2);
            CHECK(fread(ex, 1, n, fb) == n);
            memcpy(img, in, n);
            snprintf(label, sizeof label, "%s %s %g", kind, op, a);
            if (!strcmp(kind, "ra")) {
                int k = ra_op(op);
                CHECK(k >= 0);
                if (k < 0) continue;
                xt_ra_apply(img, tmp, 3, H, W, (xt_ra_op)k, a, FILL);
                int geo = k == XT_RA_ROTATE || k == XT_RA_SHEAR_X || k == XT_RA_SHEAR_Y || k == XT_RA_TRANSLATE_X || k == XT_RA_TRANSLATE_Y;
                compare(label, img, ex, n, geo ? 1 : 0, geo ? 0.02 : 0);
            } else {
                if (!strcmp(op, "brightness")) xt_adjust_brightness(img, 3, H, W, a);
                else if (!strcmp(op, "contrast")) xt_adjust_contrast(img, H, W, a);
                else if (!strcmp(op, "saturation")) xt_adjust_saturation(img, H, W, a);
                else xt_adjust_hue(img, H, W, a);
                compare(label, img, ex, n, 0, 0);
            }
            n_img++;
            n_exact += !memcmp(img, ex, n);
        } else if (!strcmp(kind, "rrc")) { // crop (i, j, h, w) then PIL resize to S x S
            int i, j, h, w, S;
            CHECK(fscanf(f, "%d %d %d %d %d", &i, &j, &h, &w, &S) == 5);
            uint8_t *crop = malloc((size_t)3 * h * w), *out = malloc((size_t)3 * S * S), *want = malloc((size_t)3 * S * S);
            for (int c = 0; c < 3; c++)
                for (int y = 0; y < h; y++) memcpy(crop + ((size_t)c * h + y) * w, in + ((size_t)c * H + y + i) * W + j, w);
            xt_resize_u8(out, crop, 3, h, w, S, S, XT_INTERP_BILINEAR);
            CHECK(fread(want, 1, (size_t)3 * S * S, fb) == (size_t)3 * S * S);
            snprintf(label, sizeof label, "rrc %d %d %d %d -> %d", i, j, h, w, S);
            compare(label, out, want, (size_t)3 * S * S, 0, 0);
            free(crop), free(out), free(want);
        } else if (!strcmp(kind, "rrcfb")) { // scale > 1: every attempt fails, the fallback box
            int h, w, e[4], box[4];
            double ratio[2], scale[2] = {2, 3};
            CHECK(fscanf(f, "%d %d %lf %lf %d %d %d %d", &h, &w, &ratio[0], &ratio[1], &e[0], &e[1], &e[2], &e[3]) == 8);
            uint64_t r = 5;
            xt_rrc_params(&r, h, w, scale, ratio, box);
            CHECK(box[0] == e[0] && box[1] == e[1] && box[2] == e[2] && box[3] == e[3]);
        } else if (!strcmp(kind, "box")) {
            int h, w, cy, cx, e[4], box[4];
            double lam, elam;
            CHECK(fscanf(f, "%d %d %lf %d %d %d %d %d %d %lf", &h, &w, &lam, &cy, &cx, &e[0], &e[1], &e[2], &e[3], &elam) == 10);
            xt_cutmix_box(h, w, lam, cy, cx, box);
            CHECK(box[0] == e[0] && box[1] == e[1] && box[2] == e[2] && box[3] == e[3]);
            CHECK(fabs(xt_cutmix_lam(h, w, box) - elam) < 1e-15);
        } else if (!strcmp(kind, "sce")) {
            int B, K;
            CHECK(fscanf(f, "%d %d", &B, &K) == 2);
            float *x = malloc(sizeof(float) * B * K), *t = malloc(sizeof(float) * B * K), *g = malloc(sizeof(float) * B * K);
            float *et = malloc(sizeof(float) * B * K), *eg = malloc(sizeof(float) * B * K), *lg = malloc(sizeof(float) * B * K);
            int *y = malloc(sizeof(int) * B), *yp = malloc(sizeof(int) * B);
            double v, eloss;
            for (int k = 0; k < B * K; k++) { CHECK(fscanf(f, "%lf", &v) == 1); x[k] = (float)v; }
            for (int b = 0; b < B; b++) CHECK(fscanf(f, "%d", &y[b]) == 1);
            for (int k = 0; k < B * K; k++) { CHECK(fscanf(f, "%lf", &v) == 1); et[k] = (float)v; }
            CHECK(fscanf(f, "%lf", &eloss) == 1);
            for (int k = 0; k < B * K; k++) { CHECK(fscanf(f, "%lf", &v) == 1); eg[k] = (float)v; }
            for (int b = 0; b < B; b++) yp[b] = y[B - 1 - b];
            xt_mixup_target(t, y, yp, B, K, 0.7, 0.1);
            CHECK_CLOSE(t, et, B * K, 1e-7, 0, "mixup_target");
            double loss = xt_soft_ce_loss(g, x, et, B, K);
            printf("soft CE %.9f (torch %.9f)\n", loss, eloss);
            CHECK(fabs(loss - eloss) < 1e-6);
            CHECK_CLOSE(g, eg, B * K, 1e-7, 0, "soft CE gradient");
            // with one-hot smoothed targets it is the label-smoothing CE
            xt_mixup_target(t, y, y, B, K, 1.0, 0.3);
            double a = xt_soft_ce_loss(g, x, t, B, K), b = xt_lsce_loss(lg, x, y, B, K, 0.3f);
            CHECK(fabs(a - b) < 1e-6);
            CHECK_CLOSE(g, lg, B * K, 1e-7, 0, "soft CE = LSCE gradient");
            free(x), free(t), free(g), free(et), free(eg), free(lg), free(y), free(yp);
        } else {
            fprintf(stderr, "unknown case kind %s\n", kind);
            CHECK(0);
            break;
        }
    }
    printf("%d image cases, %d bit-exact\n", n_img, n_exact);
    CHECK(n_img == 39);
    free(in), free(ex), free(img), free(tmp);
    fclose(f), fclose(fb);
}

static void test_random(void) {
    // RandomResizedCrop: inside the image, area within scale when not the fallback
    double scale[2] = {0.08, 1}, ratio[2] = {3.0 / 4, 4.0 / 3};
    uint64_t r = 11;
    int inside = 1;
    for (int t = 0; t < 2000; t++) {
        int box[4], H = 20 + t % 37, W = 15 + t % 53;
        xt_rrc_params(&r, H, W, scale, ratio, box);
        inside &= box[0] >= 0 && box[1] >= 0 && box[2] >= 1 && box[3] >= 1 && box[0] + box[2] <= H && box[1] + box[3] <= W;
    }
    CHECK(inside);
    // same state, same draws
    uint64_t a = 42, b = 42;
    int b1[4], b2[4];
    xt_rrc_params(&a, 100, 80, scale, ratio, b1);
    xt_rrc_params(&b, 100, 80, scale, ratio, b2);
    CHECK(!memcmp(b1, b2, sizeof b1));
    // RandomErasing: prob 1, pixel mode: one box of 2%..33% of the area, inside, aspect in [0.3, 3.3]
    xt_aug_opts o;
    memset(&o, 0, sizeof o);
    o.reprob = 1, o.remode = XT_RE_PIXEL, o.recount = 1;
    int ok = 1;
    float *img = malloc(sizeof(float) * 3 * 32 * 40);
    for (int t = 0; t < 200; t++) {
        for (int k = 0; k < 3 * 32 * 40; k++) img[k] = 7.0f;
        xt_random_erasing(img, 3, 32, 40, &o, &r);
        int y0 = 32, y1 = -1, x0 = 40, x1 = -1, cnt = 0;
        for (int y = 0; y < 32; y++)
            for (int x = 0; x < 40; x++)
                if (img[y * 40 + x] != 7.0f) { cnt++; y0 = y < y0 ? y : y0, y1 = y > y1 ? y : y1, x0 = x < x0 ? x : x0, x1 = x > x1 ? x : x1; }
        int area = (y1 - y0 + 1) * (x1 - x0 + 1);
        ok &= cnt == area && area >= 0.015 * 1280 && area <= 0.36 * 1280; // rounding of h, w
    }
    CHECK(ok);
    o.reprob = 0;
    for (int k = 0; k < 3 * 32 * 40; k++) img[k] = 7.0f;
    xt_random_erasing(img, 3, 32, 40, &o, &r);
    CHECK(img[0] == 7.0f && img[3 * 32 * 40 - 1] == 7.0f);
    free(img);
    // Mixup: lam in [0, 1]; mixup alone never cuts; cutmix lam corrected to its box; prob 0: no mixing
    xt_mixup_opts m = {.mixup_alpha = 0.8, .prob = 1, .switch_prob = 0.5};
    int okm = 1, box[4], cut, ncut = 0;
    double lam, mean = 0;
    for (int t = 0; t < 4000; t++) {
        xt_mixup_draw(&m, 16, 16, &r, &lam, &cut, box);
        okm &= lam >= 0 && lam <= 1 && !cut;
        mean += lam / 4000;
    }
    CHECK(okm);
    CHECK(fabs(mean - 0.5) < 0.03); // Beta(a, a) has mean 1/2
    m = (xt_mixup_opts){.mixup_alpha = 0.8, .cutmix_alpha = 1.0, .prob = 1, .switch_prob = 0.5};
    for (int t = 0; t < 2000; t++) {
        xt_mixup_draw(&m, 16, 24, &r, &lam, &cut, box);
        ncut += cut;
        if (cut) okm &= fabs(lam - xt_cutmix_lam(16, 24, box)) < 1e-15 && box[0] <= box[1] && box[1] <= 16 && box[3] <= 24;
    }
    CHECK(okm && ncut > 850 && ncut < 1150);
    m = (xt_mixup_opts){.has_minmax = 1, .minmax = {0.25, 0.5}, .prob = 1, .switch_prob = 0.5};
    for (int t = 0; t < 500; t++) {
        xt_mixup_draw(&m, 16, 24, &r, &lam, &cut, box);
        okm &= cut && box[1] - box[0] >= 4 && box[1] - box[0] < 8 && box[3] - box[2] >= 6 && box[3] - box[2] < 12 && box[1] <= 16 && box[3] <= 24;
    }
    CHECK(okm);
    // per-element modes: lam is timm's float32
    m = (xt_mixup_opts){.mixup_alpha = 0.8, .cutmix_alpha = 1.0, .prob = 1, .switch_prob = 0.5, .mode = XT_MIX_ELEM};
    for (int t = 0; t < 200; t++) {
        xt_mixup_draw(&m, 16, 24, &r, &lam, &cut, box);
        okm &= lam == (double)(float)lam && lam >= 0 && lam <= 1;
    }
    CHECK(okm);
    m = (xt_mixup_opts){.mixup_alpha = 0.8, .cutmix_alpha = 1.0, .prob = 0, .switch_prob = 0.5};
    xt_mixup_draw(&m, 16, 16, &r, &lam, &cut, box);
    CHECK(lam == 1 && !cut);
    // apply: mixup is the convex blend with the partner, cutmix pastes the box
    float x[2 * 1 * 2 * 3] = {1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0}, p[12] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1};
    xt_mixup_apply(x, p, 2, 1, 2, 3, 0.25, 0, box);
    CHECK(x[0] == 0.25f && x[6] == 0.75f);
    int bx[4] = {1, 2, 0, 2};
    float y[6] = {0}, q[6] = {1, 2, 3, 4, 5, 6};
    xt_mixup_apply(y, q, 1, 1, 2, 3, 0.5, 1, bx);
    CHECK(y[0] == 0 && y[3] == 4 && y[4] == 5 && y[5] == 0);
    // RandAugment: p 0 never changes the image; p 1 with 2 layers changes it, the same way for the same stream
    {
        xt_aug_opts ra;
        memset(&ra, 0, sizeof ra);
        uint8_t im0[3 * 8 * 9], im1[3 * 8 * 9], im2[3 * 8 * 9], tmp[3 * 8 * 9];
        for (int k = 0; k < 3 * 8 * 9; k++) im0[k] = (uint8_t)(37 + k * 7 % 180);
        CHECK(xt_aug_parse_auto_augment("rand-m9-mstd0.5-inc1-p0", &ra) == 0 && ra.ra_prob == 0);
        memcpy(im1, im0, sizeof im0);
        for (int t = 0; t < 50; t++) xt_randaugment(im1, tmp, 3, 8, 9, &ra, FILL, &r);
        CHECK(!memcmp(im0, im1, sizeof im0));
        CHECK(xt_aug_parse_auto_augment("rand-m9-mstd0.5-inc1-p1", &ra) == 0);
        int changed = 0;
        for (int t = 0; t < 20; t++) {
            uint64_t s1 = 1000 + t, s2 = 1000 + t;
            memcpy(im1, im0, sizeof im0), memcpy(im2, im0, sizeof im0);
            xt_randaugment(im1, tmp, 3, 8, 9, &ra, FILL, &s1);
            xt_randaugment(im2, tmp, 3, 8, 9, &ra, FILL, &s2);
            CHECK(!memcmp(im1, im2, sizeof im1));
            changed += memcmp(im0, im1, sizeof im0) != 0;
        }
        CHECK(changed >= 15);
    }
    // RandAugment: level arguments at m9 as timm
    CHECK(fabs(xt_ra_level_arg(XT_RA_ROTATE, 9, 1, 1) + 27) < 1e-12);
    CHECK(xt_ra_level_arg(XT_RA_POSTERIZE, 9, 1, 0) == 1 && xt_ra_level_arg(XT_RA_SOLARIZE, 9, 1, 0) == 26);
    CHECK(xt_ra_level_arg(XT_RA_SOLARIZE_ADD, 9, 1, 0) == 99 && fabs(xt_ra_level_arg(XT_RA_COLOR, 9, 1, 1) - 0.19) < 1e-12);
    CHECK(fabs(xt_ra_level_arg(XT_RA_SHEAR_X, 9, 1, 0) - 0.27) < 1e-12 && fabs(xt_ra_level_arg(XT_RA_TRANSLATE_Y, 10, 1, 1) + 0.45) < 1e-12);
    CHECK(fabs(xt_ra_level_arg(XT_RA_BRIGHTNESS, 10, 1, 1) - 0.1) < 1e-12); // max(0.1, 1 - 0.9)
}

// tiny images: every op, the crop and the erasing stay inside 1 x 1 .. 3 x 2 (ASan / UBSan run)
static void test_tiny(void) {
    uint64_t r = 77;
    int sizes[3][2] = {{1, 1}, {1, 3}, {3, 2}}, ok = 1;
    for (int q = 0; q < 3; q++) {
        int H = sizes[q][0], W = sizes[q][1];
        uint8_t img[18], tmp[18];
        for (int op = 0; op < XT_RA_COUNT; op++) {
            for (int k = 0; k < 3 * H * W; k++) img[k] = (uint8_t)(40 * k + 3);
            xt_ra_apply(img, tmp, 3, H, W, (xt_ra_op)op, xt_ra_level_arg((xt_ra_op)op, 10, 1, op & 1), FILL);
        }
        double jit[4] = {0.4, 0.4, 0.4, 0.5};
        xt_color_jitter(img, H, W, jit, &r);
        double scale[2] = {0.08, 1}, ratio[2] = {0.75, 4.0 / 3};
        for (int t = 0; t < 100; t++) {
            int box[4];
            xt_rrc_params(&r, H, W, scale, ratio, box);
            ok &= box[2] >= 1 && box[3] >= 1 && box[0] + box[2] <= H && box[1] + box[3] <= W;
        }
        xt_aug_opts o;
        memset(&o, 0, sizeof o);
        o.reprob = 1, o.recount = 3, o.remode = XT_RE_PIXEL;
        float f[18] = {0};
        for (int t = 0; t < 20; t++) xt_random_erasing(f, 3, H, W, &o, &r);
        xt_mixup_opts m = {.cutmix_alpha = 1, .prob = 1};
        double lam;
        int cut, box[4];
        for (int t = 0; t < 20; t++) {
            xt_mixup_draw(&m, H, W, &r, &lam, &cut, box);
            ok &= box[0] >= 0 && box[1] <= H && box[2] >= 0 && box[3] <= W && lam >= 0 && lam <= 1;
        }
    }
    CHECK(ok);
}

static void test_options(void) {
    xt_aug_opts o;
    memset(&o, 0, sizeof o);
    CHECK(xt_aug_parse_auto_augment("rand-m9-mstd0.5-inc1", &o) == 0);
    CHECK(o.ra_n == 2 && o.ra_m == 9 && o.ra_mstd == 0.5 && o.ra_inc == 1 && o.ra_prob == 0.5 && o.ra_mmax == 10);
    CHECK(xt_aug_parse_auto_augment("rand-n3-m7-mstd101", &o) == 0 && o.ra_n == 3 && o.ra_m == 7 && isinf(o.ra_mstd) && !o.ra_inc);
    CHECK(xt_aug_parse_auto_augment("original-mstd0.5", &o) == -1);
    CHECK(strstr(xt_error_buffer(), "RandAugment") != NULL);
    CHECK(xt_aug_parse_auto_augment("rand-m12-mmax15", &o) == 0 && o.ra_m == 12 && o.ra_mmax == 15);
    CHECK(xt_aug_parse_auto_augment("rand-m9-mmax0", &o) == -1 && strstr(xt_error_buffer(), "out of range"));
    CHECK(xt_aug_parse_auto_augment("rand-m9-w0", &o) == -1);
    CHECK(strstr(xt_error_buffer(), "option 'w' is not implemented") != NULL);
    CHECK(xt_aug_parse_auto_augment("rand-mx", &o) == -1);
    xt_mixup_opts m = {.mixup_alpha = -1, .prob = 1};
    CHECK(xt_mixup_check(&m) == -1 && strstr(xt_error_buffer(), "must be >= 0"));
    m = (xt_mixup_opts){.mixup_alpha = 0.8, .prob = 1.5};
    CHECK(xt_mixup_check(&m) == -1 && strstr(xt_error_buffer(), "must lie in [0, 1]"));
    m = (xt_mixup_opts){.has_minmax = 1, .minmax = {0.6, 0.2}, .prob = 1};
    CHECK(xt_mixup_check(&m) == -1 && strstr(xt_error_buffer(), "cutmix_minmax"));
    int mode = -1;
    CHECK(xt_mix_mode_parse("elem", &mode) == 0 && mode == XT_MIX_ELEM && !strcmp(xt_mix_mode_name(XT_MIX_PAIR), "pair"));
    CHECK(xt_mix_mode_parse("pairs", &mode) == -1 && strstr(xt_error_buffer(), "expected batch, pair or elem"));
}

// the whole data path (read PNG, RandomResizedCrop's fallback box, PIL resize, flip, normalise)
// against torchvision on the same image
static void test_data_path(void) {
    xt_data_opts o;
    xt_data_opts_default(&o);
    o.aug.rrc = 1, o.aug.scale[0] = 2, o.aug.scale[1] = 3, o.aug.hflip = 1; // every attempt fails: the fallback
    xt_dataset d;
    CHECK(xt_dataset_open(&d, DIR "list.csv", NULL, &o) == 0);
    float got[3 * 16 * 16], want[3 * 16 * 16];
    int label = -1;
    CHECK(xt_dataset_load(&d, 0, got, 3, 16, 16, 123, 1, &label) == 0 && label == 0);
    FILE *f = fopen(DIR "path_S16.f32", "rb");
    CHECK(f && fread(want, sizeof(float), 3 * 16 * 16, f) == 3 * 16 * 16);
    if (f) fclose(f);
    double md = 0;
    for (int k = 0; k < 3 * 16 * 16; k++) md = fmax(md, fabs(got[k] - want[k]));
    printf("data path vs torchvision: max |d| %.2e\n", md);
    CHECK_CLOSE(got, want, 3 * 16 * 16, 1e-6, 0, "data path: RandomResizedCrop fallback + flip + normalise");
    // RandAugment + RandomErasing on: the same draws give the same image, another sample seed another
    o.aug.scale[0] = 0.08, o.aug.scale[1] = 1, o.aug.reprob = 1;
    CHECK(xt_aug_parse_auto_augment("rand-m9-mstd0.5-inc1", &o.aug) == 0);
    d.opts = o;
    float a[3 * 16 * 16], b[3 * 16 * 16], c[3 * 16 * 16];
    CHECK(xt_dataset_load(&d, 0, a, 3, 16, 16, 99, 1, &label) == 0 && xt_dataset_load(&d, 0, b, 3, 16, 16, 99, 1, &label) == 0);
    CHECK(xt_dataset_load(&d, 0, c, 3, 16, 16, 98, 1, &label) == 0);
    CHECK(!memcmp(a, b, sizeof a) && memcmp(a, c, sizeof a));
    // the options against the model: RandAugment needs RGB and a whole-image transform
    CHECK(xt_aug_check(&o, 3) == 0);
    CHECK(xt_aug_check(&o, 4) == -1 && strstr(xt_error_buffer(), "3-band"));
    o.aug.rrc = 0;
    CHECK(xt_aug_check(&o, 3) == -1 && strstr(xt_error_buffer(), "whole image"));
    xt_dataset_free(&d);
}

int main(void) {
    test_refs();
    test_data_path();
    test_random();
    test_tiny();
    test_options();
    return check_summary("augment");
}
