// test_xview_chip.c — the trainable xView3 model on chipped inputs (side n x crop_size, n > 1):
// the nested tokenization that lets the context model see n x n regions in one training call.
// (1) its forward equals the official whole-image call of tests/golden/xview_seg_xl (call 4:
//     a 128 x 128 image, crop 64, 2 x 2 regions, 2 context layers) at the golden tolerance;
// (2) its backward equals central finite differences of L = sum_k <maps_k, w_k> (w fixed
//     random) for the largest gradient entry of tensors in every part of the model and for image
//     pixels in every region (the chipping and stitching of the gradients), within 3 %;
// (3) a loss on one region's maps has the right gradient in another region's pixels.
#include "check.h"
#include "formats/safetensors.h"
#include "models/trainable.h"
#include "models/xview.h"
#include "nn/params.h"
#include "train/train.h"

static xt_xview_train *M;
static xt_params P;
static xt_arena act, scr;
static float *maps[XT_XVIEW_MAPS], *W[XT_XVIEW_MAPS];
static int B = 1, H = 128;

static double loss(const float *img) {
    if (xt_xview_train_forward(M, &P, img, B, H, 0, 0, maps, &act, NULL)) return NAN;
    double s = 0;
    for (int k = 0; k < XT_XVIEW_MAPS; k++)
        for (long i = 0; i < (long)B * H * H; i++) s += (double)maps[k][i] * W[k][i];
    return s;
}

static void fd_check(double analytic, float *x, const float *img, double h, const char *what) {
    float x0 = *x;
    *x = (float)(x0 + h);
    double lp = loss(img);
    *x = (float)(x0 - h);
    double lm = loss(img);
    *x = x0;
    double fd = (lp - lm) / (2 * h), err = fabs(fd - analytic), tol = 0.03 * fabs(analytic) + 2e-3;
    if (err > tol) fprintf(stderr, "%s: analytic %.6g, finite difference %.6g\n", what, analytic, fd);
    CHECK(err <= tol);
}

int main(void) {
    xt_st *st = xt_st_open(golden("xview_seg_xl.safetensors"));
    CHECK(st != NULL);
    if (!st) return 1;
    const char *cs = xt_st_meta(st, "config");
    xt_json *cfg = cs ? xt_json_parse(cs, strlen(cs), "config") : NULL;
    CHECK(cfg != NULL);
    M = xt_xview_train_new(&P, cfg, st);
    CHECK(M != NULL);
    if (!M) return 1;
    CHECK(xt_params_alloc(&P) == 0 && xt_params_load(&P, st) == 0);
    const xt_st_tensor *ti;
    const float *img0 = xt_st_f32(st, "input.image", &ti);
    CHECK(img0 && ti->shape[2] == H && ti->shape[3] == H);
    size_t n = (size_t)B * H * H, ni = (size_t)B * 2 * H * H;
    float *img = malloc(ni * sizeof(float)), *dimg = malloc(ni * sizeof(float));
    memcpy(img, img0, ni * sizeof(float));
    CHECK(xt_arena_init(&act, xt_xview_train_act_bytes(M, B, H)) == 0);
    CHECK(xt_arena_init(&scr, xt_xview_train_scratch_bytes(M, B, H)) == 0);
    uint64_t r = 7;
    for (int k = 0; k < XT_XVIEW_MAPS; k++) {
        maps[k] = malloc(n * sizeof(float));
        W[k] = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) W[k][i] = (float)(xt_rng_u01(&r) * 2 - 1);
    }
    // (1) forward = the official call 4
    CHECK(xt_xview_train_forward(M, &P, img, B, H, 0, 0, maps, &act, NULL) == 0);
    for (int k = 0; k < XT_XVIEW_MAPS; k++) {
        char nm[96];
        snprintf(nm, sizeof nm, "expected.out.%s.call4", xt_xview_map_names[k]);
        const xt_st_tensor *te;
        const float *e = xt_st_f32(st, nm, &te);
        CHECK(e && (size_t)te->numel == n);
        if (e) CHECK_CLOSE(maps[k], e, (long)n, 0, 1e-4, nm);
    }
    // also a chipped input whose side is not a multiple of the crop is refused
    CHECK(xt_xview_train_forward(M, &P, img, B, 96, 0, 0, maps, &act, NULL) != 0);
    // (2) backward vs finite differences
    xt_params_zero_grad(&P);
    loss(img);
    CHECK(xt_xview_train_backward(M, &P, (const float *const *)W, dimg, &scr) == 0);
    static const char *names[] = {
        "decoder.vessel_mask.layer.1.weight",          "decoder.bottlenecks.0.seq.0.weight",
        "decoder.decoder_stages.3.layer.1.weight",     "context_model.input_proj.weight",
        "context_model.layers.1.mlp.down_proj.weight", "context_model.out_proj.bias",
        "encoder.upsample.weight",                     "encoder.model.patch_embed.proj.weight",
        "encoder.model.layers_3.downsample.reduction.weight",
    };
    for (size_t t = 0; t < sizeof names / sizeof *names; t++) {
        int id = xt_params_find(&P, names[t]);
        CHECK(id >= 0);
        if (id < 0) { fprintf(stderr, "no parameter %s\n", names[t]); continue; }
        float *w = xt_pw(&P, id), *g = xt_pg(&P, id);
        size_t cnt = P.p[id].n, best = 0;
        for (size_t i = 0; i < cnt; i++)
            if (fabsf(g[i]) > fabsf(g[best])) best = i;
        double h = 1e-2 * (fabsf(w[best]) > 1 ? fabsf(w[best]) : 1);
        fd_check(g[best], w + best, img, h, names[t]);
    }
    // image pixels: the largest gradient of each of the 4 regions and both bands
    for (int c = 0; c < 2; c++)
        for (int ri = 0; ri < 2; ri++)
            for (int rj = 0; rj < 2; rj++) {
                size_t best = 0;
                float bv = -1;
                for (int y = ri * 64; y < ri * 64 + 64; y++)
                    for (int x = rj * 64; x < rj * 64 + 64; x++) {
                        size_t i = ((size_t)c * H + y) * H + x;
                        if (fabsf(dimg[i]) > bv) bv = fabsf(dimg[i]), best = i;
                    }
                char nm[64];
                snprintf(nm, sizeof nm, "image band %d region (%d, %d)", c, ri, rj);
                fd_check(dimg[best], img + best, img, 1e-2, nm);
            }
    // (3) across regions: the loss reads only region (1, 1)'s outputs, so a pixel of region
    // (0, 0) reaches it only through the stitched levels (the context model, the decoder's
    // convolutions over region borders); its gradient must be there and right
    for (int k = 0; k < XT_XVIEW_MAPS; k++)
        for (int y = 0; y < H; y++)
            for (int x = 0; x < H; x++)
                if (y < 64 || x < 64) W[k][(size_t)y * H + x] = 0;
    xt_params_zero_grad(&P);
    loss(img);
    CHECK(xt_xview_train_backward(M, &P, (const float *const *)W, dimg, &scr) == 0);
    for (int c = 0; c < 2; c++) {
        size_t best = 0;
        float bv = -1;
        for (int y = 0; y < 64; y++)
            for (int x = 0; x < 64; x++) {
                size_t i = ((size_t)c * H + y) * H + x;
                if (fabsf(dimg[i]) > bv) bv = fabsf(dimg[i]), best = i;
            }
        CHECK(bv > 1e-4); // region (0, 0) is seen by region (1, 1)'s maps
        char nm[80];
        snprintf(nm, sizeof nm, "image band %d region (0, 0) into region (1, 1)", c);
        fd_check(dimg[best], img + best, img, 1e-2, nm);
    }
    for (int k = 0; k < XT_XVIEW_MAPS; k++) free(maps[k]), free(W[k]);
    free(img), free(dimg);
    xt_arena_free(&act), xt_arena_free(&scr);
    xt_xview_train_free(M);
    xt_params_free(&P);
    xt_json_free(cfg);
    xt_st_close(st);
    return check_summary("test_xview_chip");
}
