// check_train_xt.h — shared by the region-encoder training tests (test_hiera_train.c,
// test_convnext_train.c): an xT classifier (xl head, 2 images of 64 x 64, 2 classes) around the
// encoder under test. The caller builds X.m / X.P (initialised); check_xt_classifier() checks the
// loss gradient of the named parameters and of the image against finite differences, then the
// gradient-chipping identity (encoder grads(A) + grads(B) = grads(all), head grads and logits
// unchanged), and frees X.
#ifndef XT_CHECK_TRAIN_XT_H
#define XT_CHECK_TRAIN_XT_H

static struct {
    xt_params P;
    xt_xt_train *m;
    xt_arena act, scr;
    float *img, logits[4];
    int lab[2];
} X;

static double xt_loss_now(void) {
    xt_arena_reset(&X.act);
    if (xt_xt_train_forward(X.m, &X.P, X.img, 2, 64, 64, NULL, X.logits, &X.act, NULL)) return NAN;
    return 100 * xt_lsce_loss(NULL, X.logits, X.lab, 2, 2, 0.1f); // x100: gradients > 1, so FD's tolerance is relative
}

// names: nnames parameters checked by finite differences (step 1e-3, tolerance 2 %)
static void check_xt_classifier(const char *const *names, int nnames) {
    size_t ni = 2 * 3 * 64 * 64;
    X.img = malloc(ni * sizeof(float));
    uint64_t r = 5;
    for (size_t j = 0; j < ni; j++) X.img[j] = (float)xt_rng_normal(&r);
    X.lab[0] = 0, X.lab[1] = 1;
    CHECK(xt_arena_init(&X.act, xt_xt_train_act_bytes(X.m, 2, 64, 64, 0)) == 0);
    CHECK(xt_arena_init(&X.scr, xt_xt_train_scratch_bytes(X.m, 2, 64, 64, 0)) == 0);
    float dl[4], *dimg = malloc(ni * sizeof(float));
    xt_params_zero_grad(&X.P);
    xt_arena_reset(&X.act);
    CHECK(xt_xt_train_forward(X.m, &X.P, X.img, 2, 64, 64, NULL, X.logits, &X.act, NULL) == 0);
    double l = xt_lsce_loss(dl, X.logits, X.lab, 2, 2, 0.1f);
    CHECK(isfinite(l));
    CHECK(xt_xt_train_backward(X.m, &X.P, dl, dimg, &X.scr) == 0);
    float *g = malloc(X.P.total * sizeof(float));
    for (size_t j = 0; j < X.P.total; j++) g[j] = 100 * X.P.g[j];
    for (size_t j = 0; j < ni; j++) dimg[j] *= 100;
    for (int f = 0; f < nnames; f++) {
        int i = xt_params_find(&X.P, names[f]);
        CHECK(i >= 0);
        if (i < 0) continue;
        FD_CHECK(xt_pw(&X.P, i), (long)X.P.p[i].n, xt_loss_now, g + X.P.p[i].off, 1e-3, 2e-2, names[f]);
    }
    FD_CHECK(X.img, (long)ni, xt_loss_now, dimg, 1e-3, 2e-2, "xT image");
    // gradient chipping (8 regions; A = {1, 4, 6}, B = the rest): the kept regions run the
    // training forward as one batch, the others forward-only through a one-region arena;
    // encoder grads(A) + grads(B) = grads(all), head grads and logits unchanged
    xt_params_zero_grad(&X.P);
    xt_arena_reset(&X.act);
    CHECK(xt_xt_train_forward(X.m, &X.P, X.img, 2, 64, 64, NULL, X.logits, &X.act, NULL) == 0);
    xt_lsce_loss(dl, X.logits, X.lab, 2, 2, 0.1f);
    CHECK(xt_xt_train_backward(X.m, &X.P, dl, NULL, &X.scr) == 0);
    memcpy(g, X.P.g, X.P.total * sizeof(float));
    unsigned char keep[2][8] = {{0, 1, 0, 0, 1, 0, 1, 0}, {1, 0, 1, 1, 0, 1, 0, 1}};
    float *gs = calloc(X.P.total, sizeof(float)), *gh = malloc(X.P.total * sizeof(float)), lg[4];
    for (int k = 0; k < 2; k++) {
        xt_arena a, b;
        int ng = k ? 5 : 3;
        CHECK(xt_arena_init(&a, xt_xt_train_act_bytes(X.m, 2, 64, 64, ng)) == 0);
        CHECK(xt_arena_init(&b, xt_xt_train_scratch_bytes(X.m, 2, 64, 64, ng)) == 0);
        xt_params_zero_grad(&X.P);
        CHECK(xt_xt_train_forward(X.m, &X.P, X.img, 2, 64, 64, keep[k], lg, &a, NULL) == 0);
        CHECK_CLOSE(lg, X.logits, 4, 1e-5, 0, "chipped logits");
        xt_lsce_loss(dl, lg, X.lab, 2, 2, 0.1f);
        CHECK(xt_xt_train_backward(X.m, &X.P, dl, NULL, &b) == 0);
        for (size_t j = 0; j < X.P.total; j++) gs[j] += X.P.g[j];
        if (!k) memcpy(gh, X.P.g, X.P.total * sizeof(float));
        xt_arena_free(&a);
        xt_arena_free(&b);
    }
    int enc_ok = 1, head_ok = 1;
    for (int i = 0; i < X.P.n; i++) {
        int enc = !strncmp(X.P.p[i].name, "encoder.", 8);
        const float *want = g + X.P.p[i].off, *got = (enc ? gs : gh) + X.P.p[i].off;
        double mg = 1e-6, md = 0;
        for (size_t j = 0; j < X.P.p[i].n; j++) mg = fmax(mg, fabs(want[j])), md = fmax(md, fabs(got[j] - want[j]));
        if (md > 1e-4 * mg) {
            fprintf(stderr, "chipping: %s differs by %.3e of max %.3e\n", X.P.p[i].name, md, mg);
            if (enc) enc_ok = 0; else head_ok = 0;
        }
    }
    CHECK(enc_ok && head_ok);
    free(gs);
    free(gh);
    free(g);
    free(dimg);
    free(X.img);
    xt_arena_free(&X.act);
    xt_arena_free(&X.scr);
    xt_xt_train_free(X.m);
    xt_params_free(&X.P);
}

#endif
