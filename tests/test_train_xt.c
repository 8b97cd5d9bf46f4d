// test_train_xt.c — the xT training model beyond golden parity: gradient chipping keeps the
// region order and splits the encoder gradient exactly (grads(kept A) + grads(kept B) ==
// grads(all) for a partition A|B of the regions, head gradients identical), and a few AdamW steps
// on one batch lower the loss. Uses xt_cls_xl_grad.safetensors (batch 2, 2x2 regions).
#include "check.h"
#include "train/train.h"

typedef struct { xt_params P; xt_xt_train *m; xt_arena act, scr; } run;

static int setup(run *r, xt_st *st, const xt_json *cfg, int N, int H, int W, int ng) {
    memset(r, 0, sizeof *r);
    if (!(r->m = xt_xt_train_new(&r->P, cfg, st))) return -1;
    if (xt_params_alloc(&r->P) || xt_params_load(&r->P, st)) return -1;
    if (xt_arena_init(&r->act, xt_xt_train_act_bytes(r->m, N, H, W, ng))) return -1;
    return xt_arena_init(&r->scr, xt_xt_train_scratch_bytes(r->m, N, H, W, ng));
}
static void teardown(run *r) {
    xt_arena_free(&r->act);
    xt_arena_free(&r->scr);
    xt_xt_train_free(r->m);
    xt_params_free(&r->P);
}
static double step(run *r, const float *img, int N, int H, int W, const unsigned char *keep, const int *lab,
                   float *logits, float *dimg) {
    float dl[64];
    xt_arena_reset(&r->act);
    xt_params_zero_grad(&r->P);
    if (xt_xt_train_forward(r->m, &r->P, img, N, H, W, keep, logits, &r->act, NULL)) return NAN;
    double loss = xt_lsce_loss(dl, logits, lab, N, 10, 0.3f);
    if (xt_xt_train_backward(r->m, &r->P, dl, dimg, &r->scr)) return NAN;
    return loss;
}

int main(void) {
    xt_st *st = xt_st_open(golden("xt_cls_xl_grad.safetensors"));
    CHECK(st != NULL);
    if (!st) return check_summary("train_xt");
    const char *cs = xt_st_meta(st, "config");
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "config");
    const float *img = xt_st_f32(st, "input.image", NULL), *fl = xt_st_f32(st, "input.label", NULL);
    int N = 2, H = 256, W = 256, lab[2] = {(int)fl[0], (int)fl[1]};
    size_t ni = (size_t)N * 3 * H * W;
    float *d_all = malloc(ni * 4), *d_a = malloc(ni * 4), *d_b = malloc(ni * 4);
    float lg_all[20], lg_a[20], lg_b[20];
    run full, ra, rb;
    CHECK(setup(&full, st, cfg, N, H, W, 0) == 0);
    CHECK(setup(&ra, st, cfg, N, H, W, 3) == 0);
    CHECK(setup(&rb, st, cfg, N, H, W, 5) == 0);
    // regions 0..7: A = {1, 4, 6}, B = the rest
    unsigned char ka[8] = {0, 1, 0, 0, 1, 0, 1, 0}, kb[8];
    for (int i = 0; i < 8; i++) kb[i] = !ka[i];
    double l0 = step(&full, img, N, H, W, NULL, lab, lg_all, d_all);
    double la = step(&ra, img, N, H, W, ka, lab, lg_a, d_a);
    double lb = step(&rb, img, N, H, W, kb, lab, lg_b, d_b);
    CHECK(fabs(l0 - *xt_st_f32(st, "expected.loss", NULL)) < 1e-5);
    // same logits whatever the chipping (order kept; 1e-5: batch-size-dependent GEMM rounding)
    CHECK_CLOSE(lg_a, lg_all, 20, 1e-5, 0, "chipped logits A");
    CHECK_CLOSE(lg_b, lg_all, 20, 1e-5, 0, "chipped logits B");
    CHECK(fabs(la - l0) < 1e-5 && fabs(lb - l0) < 1e-5);
    // gradients: head identical, encoder A + B == all; dimg zero outside the kept regions
    int enc_ok = 1, head_ok = 1;
    for (int i = 0; i < full.P.n; i++) {
        const float *g = xt_pg(&full.P, i), *ga = xt_pg(&ra.P, i), *gb = xt_pg(&rb.P, i);
        double mg = 1e-6, md = 0;
        int enc = !strncmp(full.P.p[i].name, "encoder.", 8);
        for (size_t j = 0; j < full.P.p[i].n; j++) {
            mg = fmax(mg, fabs(g[j]));
            md = fmax(md, fabs((enc ? ga[j] + gb[j] : ga[j]) - g[j]));
        }
        if (md > 1e-4 * mg) {
            fprintf(stderr, "%s: max|d| %.3g (scale %.3g)\n", full.P.p[i].name, md, mg);
            if (enc) enc_ok = 0; else head_ok = 0;
        }
    }
    CHECK(enc_ok);
    CHECK(head_ok);
    float *dsum = malloc(ni * 4);
    for (size_t j = 0; j < ni; j++) dsum[j] = d_a[j] + d_b[j];
    CHECK_CLOSE(dsum, d_all, (long)ni, 1e-6, 1e-4, "dimg A + B");
    // region 0 of image 0 (rows/cols 0..127) is not in A: no gradient there
    double z = 0;
    for (int c = 0; c < 3; c++)
        for (int y = 0; y < 128; y++)
            for (int x = 0; x < 128; x++) z = fmax(z, fabs(d_a[((size_t)c * H + y) * W + x]));
    CHECK(z == 0);
    // two AdamW steps on this batch lower the loss
    xt_adamw_cfg oc = {.lr = 2e-3f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.05f};
    double first = l0, last = l0;
    for (int s = 0; s < 2; s++) {
        last = step(&full, img, N, H, W, NULL, lab, lg_all, NULL);
        xt_clip_grad_norm(&full.P, 1.0);
        xt_adamw_step(&full.P, &oc);
    }
    last = step(&full, img, N, H, W, NULL, lab, lg_all, NULL);
    printf("loss %.4f -> %.4f after 2 steps\n", first, last);
    CHECK(last < first - 0.05);
    teardown(&full);
    teardown(&ra);
    teardown(&rb);
    free(d_all); free(d_a); free(d_b); free(dsum);
    xt_json_free(cfg);
    xt_st_close(st);
    return check_summary("train_xt");
}
