// test_convnext_train.c — the trainable ConvNeXt region encoder (convnext_bwd.c):
//   1. its training forward equals the golden official forward (convnext_region, 256, 4 stages)
//      and the inference encoder (convnext.c) on the same weights;
//   2. on tests/ref/convnext_grad_small.safetensors (tools/gen_ref_convnext_grad.py: float64 torch
//      autograd, batch 2, loss = sum_s <stage_s, dout_s>) every parameter gradient and the image
//      gradient match within 1e-4 of max|ref|, backward is deterministic and accumulates (`xt
//      verify` on the same file: tests/cli_verify_grad.sh);
//   3. central finite differences on a few parameters (depthwise conv, layer scale, downsample,
//      stem) and the image;
//   4. a non-default geometry (kernel 3, patch 2, 2 channels, a stage of depth 0): training
//      forward = inference encoder, every parameter and the image vs finite differences;
//   5. bad configs are refused before anything is registered, small arenas are refused;
//   6. an xT classifier with a ConvNeXt encoder: loss gradients vs finite differences; gradient
//      chipping splits the encoder gradient exactly.
#include "check.h"
#include "fd.h"
#include "models/models.h"
#include "nn/nn.h"
#include "train/train.h"
#include "check_train_xt.h"

#include <unistd.h>

static xt_json *cfg_of(xt_st *st) {
    const char *cs = xt_st_meta(st, "config");
    return cs ? xt_json_parse(cs, strlen(cs), "config") : NULL;
}

static void golden_forward(void) {
    xt_st *st = xt_st_open(golden("convnext_region.safetensors"));
    CHECK(st != NULL);
    if (!st) return;
    xt_json *cfg = cfg_of(st);
    xt_params P = {0};
    xt_encoder_train *m = xt_encoder_train_new(&P, "convnext", cfg, "", 256);
    CHECK(m != NULL);
    if (!m) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    CHECK(xt_params_alloc(&P) == 0 && xt_params_load(&P, st) == 0);
    int64_t nfile = 0, nparam = 0;
    for (int i = 0; i < st->n; i++)
        if (strncmp(st->t[i].name, "input.", 6) && strncmp(st->t[i].name, "expected.", 9)) nfile += st->t[i].numel;
    for (int i = 0; i < P.n; i++) nparam += P.p[i].n;
    CHECK(nparam == nfile && P.n == 4 + 3 * 4 + 8 * 9); // stem, 3 downsamples, 8 blocks
    CHECK(!strcmp(P.p[0].name, "stem_0.weight") && !strcmp(P.p[4].name, "stages_0.blocks.0.gamma"));
    int C[XT_MAX_STAGES], H[XT_MAX_STAGES];
    CHECK(xt_encoder_train_stages(m, C, H) == 4 && C[0] == 16 && H[0] == 64 && C[3] == 128 && H[3] == 8);
    xt_arena act;
    CHECK(xt_arena_init(&act, m->act_bytes(m, 1)) == 0);
    float *out[4], *inf[4];
    for (int s = 0; s < 4; s++) {
        out[s] = malloc((size_t)C[s] * H[s] * H[s] * sizeof(float));
        inf[s] = malloc((size_t)C[s] * H[s] * H[s] * sizeof(float));
    }
    const float *img = xt_st_f32(st, "input.image", NULL);
    double t0 = xt_time();
    CHECK(m->forward(m, &P, img, 1, out, &act, NULL, "") == 0);
    printf("convnext train forward, batch 1 at 256: %.3f s\n", xt_time() - t0);
    xt_encoder *e = xt_convnext_new(st, cfg, "", 256);
    CHECK(e != NULL);
    xt_arena ws;
    CHECK(e && xt_arena_init(&ws, e->workspace_size(e, 1)) == 0);
    CHECK(e && e->forward(e, img, 1, inf, &ws, NULL, "") == 0);
    for (int s = 0; s < 4; s++) {
        char name[40];
        snprintf(name, sizeof name, "expected.stage%d", s);
        long n = (long)C[s] * H[s] * H[s];
        CHECK_CLOSE(out[s], xt_st_f32(st, name, NULL), n, 0, 1e-5, name);
        CHECK_CLOSE(out[s], inf[s], n, 0, 1e-5, "training forward vs inference encoder");
    }
    for (int s = 0; s < 4; s++) free(out[s]), free(inf[s]);
    xt_arena_free(&ws);
    if (e) e->free(e);
    xt_arena_free(&act);
    m->free(m);
    xt_params_free(&P);
    xt_json_free(cfg);
    xt_st_close(st);
}

// --- gradient reference -------------------------------------------------------------------------

static struct {
    xt_params P;
    xt_encoder_train *m;
    xt_arena act, scr;
    float *out[4], *img;
    const float *dout[4];
    int B, ns, C[4], H[4];
} G;

static double loss_now(void) { // forward only: sum_s <out_s, dout_s> in double
    xt_arena_reset(&G.act);
    if (G.m->forward(G.m, &G.P, G.img, G.B, G.out, &G.act, NULL, NULL)) return NAN;
    double l = 0;
    for (int s = 0; s < G.ns; s++) l += dot_(G.out[s], G.dout[s], (long)G.B * G.C[s] * G.H[s] * G.H[s]);
    return l;
}

static void grads(float *dimg) {
    xt_params_zero_grad(&G.P);
    loss_now();
    CHECK(G.m->backward(G.m, &G.P, G.dout, dimg, &G.scr) == 0);
}

static void grad_ref(void) {
    xt_st *st = xt_st_open("tests/ref/convnext_grad_small.safetensors");
    CHECK(st != NULL);
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    xt_json *cfg = cfg_of(st);
    const xt_st_tensor *ti;
    const float *img = xt_st_f32(st, "input.image", &ti);
    G.B = (int)ti->shape[0];
    int S = (int)ti->shape[3];
    G.m = xt_encoder_train_new(&G.P, "convnext", cfg, "", S);
    CHECK(G.m != NULL);
    if (!G.m) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    CHECK(xt_params_alloc(&G.P) == 0 && xt_params_load(&G.P, st) == 0);
    G.ns = xt_encoder_train_stages(G.m, G.C, G.H);
    CHECK(G.ns == 4);
    CHECK(xt_arena_init(&G.act, G.m->act_bytes(G.m, G.B)) == 0);
    CHECK(xt_arena_init(&G.scr, G.m->scratch_bytes(G.m, G.B)) == 0);
    size_t ni = (size_t)G.B * 3 * S * S;
    G.img = malloc(ni * sizeof(float));
    memcpy(G.img, img, ni * sizeof(float));
    for (int s = 0; s < G.ns; s++) {
        char nm[48];
        snprintf(nm, sizeof nm, "input.cotangent.stage%d", s);
        G.dout[s] = xt_st_f32(st, nm, NULL);
        G.out[s] = malloc((size_t)G.B * G.C[s] * G.H[s] * G.H[s] * sizeof(float));
    }
    float *dimg = malloc(ni * sizeof(float)), *dimg2 = malloc(ni * sizeof(float));
    double t0 = xt_time();
    grads(dimg);
    printf("convnext train forward + backward, batch %d at %d: %.3f s\n", G.B, S, xt_time() - t0);
    double loss = loss_now();
    CHECK(fabs(loss - *xt_st_f32(st, "expected.loss", NULL)) < 1e-4 * fabs(loss));
    for (int s = 0; s < G.ns; s++) {
        char nm[40];
        snprintf(nm, sizeof nm, "expected.stage%d", s);
        CHECK_CLOSE(G.out[s], xt_st_f32(st, nm, NULL), (long)G.B * G.C[s] * G.H[s] * G.H[s], 0, 1e-5, nm);
    }
    // every gradient within 1e-4 of max|ref| (float32 vs float64 autograd)
    double worst = 0;
    const char *wname = "";
    for (int i = 0; i < G.P.n; i++) {
        char nm[200];
        snprintf(nm, sizeof nm, "expected.grad.%s", G.P.p[i].name);
        const float *ref = xt_st_f32(st, nm, NULL);
        CHECK(ref != NULL);
        if (!ref) continue;
        double mr = 1e-12, md = 0;
        const float *g = xt_pg(&G.P, i);
        for (size_t j = 0; j < G.P.p[i].n; j++) mr = fmax(mr, fabs(ref[j])), md = fmax(md, fabs(g[j] - ref[j]));
        if (md / mr > worst) worst = md / mr, wname = G.P.p[i].name;
        if (md > 1e-4 * mr) {
            fprintf(stderr, "%s: max|d| %.3e, max|ref| %.3e\n", nm, md, mr);
            CHECK(0);
        } else
            CHECK(1);
    }
    printf("worst parameter gradient error: %.2e of max|ref| (%s)\n", worst, wname);
    const float *rimg = xt_st_f32(st, "expected.grad.input.image", NULL);
    double mr = 0, md = 0;
    for (size_t j = 0; j < ni; j++) mr = fmax(mr, fabs(rimg[j])), md = fmax(md, fabs(dimg[j] - rimg[j]));
    printf("image gradient error: %.2e of max|ref|\n", md / mr);
    CHECK(md <= 1e-4 * mr);
    // deterministic (bitwise) and accumulating
    size_t tot = G.P.total;
    float *g1 = malloc(tot * sizeof(float));
    memcpy(g1, G.P.g, tot * sizeof(float));
    grads(dimg2);
    CHECK(!memcmp(g1, G.P.g, tot * sizeof(float)) && !memcmp(dimg, dimg2, ni * sizeof(float)));
    loss_now();
    CHECK(G.m->backward(G.m, &G.P, G.dout, NULL, &G.scr) == 0); // no dimg: parameters only
    int acc = 1;
    for (size_t j = 0; j < tot; j++)
        if (fabs(G.P.g[j] - 2 * g1[j]) > 1e-5 * (1 + fabs(g1[j]))) { // GEMM += order rounding
            if (acc) fprintf(stderr, "accumulate: [%zu] %g vs 2 x %g\n", j, G.P.g[j], g1[j]);
            acc = 0;
        }
    CHECK(acc);
    // only some stages with a cotangent (NULL = zero): the stage-0 gradient alone
    {
        const float *d0[4] = {G.dout[0], NULL, NULL, NULL};
        xt_params_zero_grad(&G.P);
        loss_now();
        CHECK(G.m->backward(G.m, &G.P, d0, NULL, &G.scr) == 0);
        int i = xt_params_find(&G.P, "stages_3.blocks.0.gamma"), j = xt_params_find(&G.P, "stem_0.weight");
        double z = 0, nz = 0;
        for (size_t k = 0; k < G.P.p[i].n; k++) z += fabs(xt_pg(&G.P, i)[k]);
        for (size_t k = 0; k < G.P.p[j].n; k++) nz += fabs(xt_pg(&G.P, j)[k]);
        CHECK(z == 0 && nz > 0);
    }
    // finite differences (float32 forward: h 1e-3, 2e-2 of max|grad|)
    grads(dimg);
    memcpy(g1, G.P.g, tot * sizeof(float));
    static const char *fd_names[] = {"stages_0.blocks.0.conv_dw.weight", "stages_2.blocks.1.gamma",
                                     "stages_1.downsample.1.weight", "stages_3.downsample.0.weight",
                                     "stem_0.weight", "stem_1.bias", "stages_3.blocks.0.conv_dw.bias"};
    for (int f = 0; f < 7; f++) {
        int i = xt_params_find(&G.P, fd_names[f]);
        CHECK(i >= 0);
        if (i < 0) continue;
        FD_CHECK(xt_pw(&G.P, i), (long)G.P.p[i].n, loss_now, g1 + G.P.p[i].off, 1e-3, 2e-2, fd_names[f]);
    }
    FD_CHECK(G.img, (long)ni, loss_now, dimg, 1e-2, 2e-2, "input image");
    // arenas too small are errors, not overflows
    xt_arena tiny;
    CHECK(xt_arena_init(&tiny, 1024) == 0);
    CHECK(G.m->forward(G.m, &G.P, G.img, G.B, G.out, &tiny, NULL, NULL) == -1);
    CHECK(strstr(xt_error_buffer(), "activation arena too small") != NULL);
    loss_now();
    CHECK(G.m->backward(G.m, &G.P, G.dout, NULL, &tiny) == -1);
    CHECK(strstr(xt_error_buffer(), "backward scratch too small") != NULL);
    xt_arena_free(&tiny);
    free(g1);
    free(dimg);
    free(dimg2);
    free(G.img);
    for (int s = 0; s < G.ns; s++) free(G.out[s]);
    xt_arena_free(&G.act);
    xt_arena_free(&G.scr);
    G.m->free(G.m);
    xt_params_free(&G.P);
    xt_json_free(cfg);
    xt_st_close(st);
}

static void bad_configs(void) {
    static const char *bad[][2] = {
        {"{\"dims\":[8,16,32],\"depths\":[1,1]}", "'dims' has 3 stages but 'depths' has 2"},
        {"{\"dims\":[8,16],\"depths\":[1,1],\"kernel_size\":6}", "must be odd"},
        {"{\"dims\":[8,16],\"depths\":[1,1],\"mlp_ratio\":0}", "mlp_ratio"},
        {"[1, 2]", "missing 'dims'"},
    };
    for (int i = 0; i < 4; i++) {
        xt_json *j = xt_json_parse(bad[i][0], strlen(bad[i][0]), "test");
        xt_params P = {0};
        xt_error_clear();
        CHECK(xt_encoder_train_new(&P, "convnext", j, "", 64) == NULL);
        CHECK(P.n == 0);
        if (!strstr(xt_error_buffer(), bad[i][1]) || !strstr(xt_error_buffer(), "convnext train")) {
            fprintf(stderr, "config %s: error '%s' lacks '%s'\n", bad[i][0], xt_error_buffer(), bad[i][1]);
            CHECK(0);
        }
        xt_params_free(&P);
        xt_json_free(j);
    }
    xt_json *j = xt_json_parse("{\"dims\":[8,16,32,64],\"depths\":[1,1,1,1]}", 40, "test");
    xt_params P = {0};
    CHECK(xt_encoder_train_new(&P, "convnext", j, "", 48) == NULL); // 48 is not a multiple of 4 x 2^3
    CHECK(strstr(xt_error_buffer(), "must be a positive multiple of 32") != NULL);
    xt_params_free(&P);
    xt_json_free(j);
}

// A non-default geometry (kernel 3, patch 2, 2 input channels, mlp_ratio 2, a stage of depth 0):
// training forward = inference encoder on the same weights, gradients vs finite differences.
static double odd_loss(void) {
    xt_arena_reset(&G.act);
    if (G.m->forward(G.m, &G.P, G.img, G.B, G.out, &G.act, NULL, NULL)) return NAN;
    double l = 0;
    for (int s = 0; s < G.ns; s++) l += dot_(G.out[s], G.dout[s], (long)G.B * G.C[s] * G.H[s] * G.H[s]);
    return l;
}

static void odd_geometry(void) {
    static const char *cs = "{\"dims\": [4, 8, 6], \"depths\": [1, 0, 2], \"kernel_size\": 3, \"patch_size\": 2,"
                            " \"in_chans\": 2, \"mlp_ratio\": 2}";
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "test");
    memset(&G, 0, sizeof G);
    const int S = 24;
    G.B = 2;
    G.m = xt_encoder_train_new(&G.P, "convnext", cfg, "", S);
    CHECK(G.m != NULL);
    if (!G.m) { fprintf(stderr, "%s\n", xt_error_buffer()); xt_json_free(cfg); return; }
    CHECK(xt_params_alloc(&G.P) == 0);
    xt_params_init(&G.P, 7);
    uint64_t r = 9;
    for (int i = 0; i < G.P.n; i++) // gamma 0.5, biases and norm weights away from 0 / 1
        for (size_t j = 0; j < G.P.p[i].n; j++)
            if (G.P.p[i].ndim == 1) xt_pw(&G.P, i)[j] = (strstr(G.P.p[i].name, "gamma") ? 0.5f : 0.0f) +
                                                        0.2f * (float)xt_rng_normal(&r);
    G.ns = xt_encoder_train_stages(G.m, G.C, G.H);
    CHECK(G.ns == 3 && G.H[0] == 12 && G.H[2] == 3 && G.C[1] == 8);
    CHECK(xt_arena_init(&G.act, G.m->act_bytes(G.m, G.B)) == 0);
    CHECK(xt_arena_init(&G.scr, G.m->scratch_bytes(G.m, G.B)) == 0);
    size_t ni = (size_t)G.B * 2 * S * S;
    G.img = malloc(ni * sizeof(float));
    for (size_t j = 0; j < ni; j++) G.img[j] = (float)xt_rng_normal(&r);
    float *dd[3], *inf[3];
    for (int s = 0; s < G.ns; s++) {
        size_t n = (size_t)G.B * G.C[s] * G.H[s] * G.H[s];
        G.out[s] = malloc(n * sizeof(float));
        inf[s] = malloc(n * sizeof(float));
        dd[s] = malloc(n * sizeof(float));
        for (size_t j = 0; j < n; j++) dd[s][j] = (float)xt_rng_normal(&r);
        G.dout[s] = dd[s];
    }
    // inference encoder from the same weights (written as a model file)
    char path[] = "/tmp/xt_test_cnx_train_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    if (fd >= 0) close(fd);
    CHECK(xt_train_ckpt_save(&G.P, path, NULL, NULL, 0) == 0);
    xt_st *st = xt_st_open(path);
    xt_encoder *e = st ? xt_convnext_new(st, cfg, "", S) : NULL;
    CHECK(e != NULL);
    odd_loss();
    if (e) {
        xt_arena ws;
        CHECK(xt_arena_init(&ws, e->workspace_size(e, G.B)) == 0);
        CHECK(e->forward(e, G.img, G.B, inf, &ws, NULL, "") == 0);
        for (int s = 0; s < G.ns; s++)
            CHECK_CLOSE(G.out[s], inf[s], (long)G.B * G.C[s] * G.H[s] * G.H[s], 0, 1e-5, "odd geometry: train vs inference");
        xt_arena_free(&ws);
        e->free(e);
    }
    xt_st_close(st);
    unlink(path);
    float *dimg = malloc(ni * sizeof(float)), *g = malloc(G.P.total * sizeof(float));
    xt_params_zero_grad(&G.P);
    odd_loss();
    CHECK(G.m->backward(G.m, &G.P, G.dout, dimg, &G.scr) == 0);
    memcpy(g, G.P.g, G.P.total * sizeof(float));
    for (int i = 0; i < G.P.n; i++)
        FD_CHECK(xt_pw(&G.P, i), (long)G.P.p[i].n, odd_loss, g + G.P.p[i].off, 1e-3, 2e-2, G.P.p[i].name);
    FD_CHECK(G.img, (long)ni, odd_loss, dimg, 1e-3, 2e-2, "odd geometry image");
    for (int s = 0; s < G.ns; s++) free(G.out[s]), free(inf[s]), free(dd[s]);
    free(dimg);
    free(g);
    free(G.img);
    xt_arena_free(&G.act);
    xt_arena_free(&G.scr);
    G.m->free(G.m);
    xt_params_free(&G.P);
    xt_json_free(cfg);
}

// An xT classifier whose region encoder is ConvNeXt (xt_bwd.c dispatch): the loss gradient of
// encoder and head parameters and of the image agrees with finite differences.
static void xt_classifier(void) {
    static const char *cs =
        "{\"kind\": \"xt\", \"cls_head\": \"xl\", \"crop_size\": 32, \"num_classes\": 2, \"mlp_ratio\": 2,"
        " \"context\": {\"attention_method\": \"naive\", \"hidden_size\": 16, \"n_layer\": 1},"
        " \"convnext\": {\"dims\": [8, 16, 24], \"depths\": [1, 1, 1], \"mlp_ratio\": 2}}";
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "test");
    X.m = xt_xt_train_new(&X.P, cfg, NULL);
    CHECK(X.m != NULL);
    if (!X.m) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    CHECK(xt_params_alloc(&X.P) == 0);
    xt_params_init(&X.P, 11);
    int gi = xt_params_find(&X.P, "encoder.model.stages_1.blocks.0.gamma");
    CHECK(gi >= 0 && xt_pw(&X.P, gi)[0] == 1e-6f); // timm ls_init_value
    CHECK(xt_params_find(&X.P, "encoder.model.stem_0.weight") >= 0 && xt_params_find(&X.P, "decoder.cls_token") >= 0);
    CHECK(!strncmp(X.P.p[0].name, "decoder.", 8)); // official order: decoder first
    CHECK(xt_xt_train_in_chans(X.m) == 3);
    for (int i = 0; i < X.P.n; i++) // layer scale 0.5 so the blocks' own gradients are not tiny
        if (strstr(X.P.p[i].name, ".gamma"))
            for (size_t j = 0; j < X.P.p[i].n; j++) xt_pw(&X.P, i)[j] = 0.5f;
    static const char *names[] = {"encoder.model.stages_1.blocks.0.conv_dw.weight", "encoder.model.stages_2.downsample.1.weight",
                                  "encoder.model.stages_0.blocks.0.gamma", "encoder.model.stem_0.bias",
                                  "decoder.input_proj.weight"};
    check_xt_classifier(names, (int)(sizeof names / sizeof *names));
    xt_json_free(cfg);
}

int main(void) {
    golden_forward();
    grad_ref();
    bad_configs();
    odd_geometry();
    xt_classifier();
    return check_summary("convnext_train");
}
