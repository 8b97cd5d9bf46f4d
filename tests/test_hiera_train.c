// test_hiera_train.c — the trainable Hiera region encoder (hiera_bwd.c):
//   1. its training forward equals the golden official forward (hiera_region, 224, 4 stages) and
//      the inference encoder (hiera.c) on the same weights;
//   2. on tests/ref/hiera_grad_small.safetensors (tools/gen_ref_hiera_grad.py: float64 torch
//      autograd, batch 2, loss = sum_s <out_s, dout_s>) every parameter gradient and the image
//      gradient match, backward is deterministic and accumulates (`xt verify` on the same file:
//      tests/cli_verify_grad.sh);
//   3. central finite differences on a few parameters (q-pooled attention, residual pool,
//      pos_embed, patch embed conv) and the image;
//   4. bad configs are refused before anything is registered, small arenas are refused;
//   5. an xT classifier with a Hiera encoder: loss gradients vs finite differences; gradient
//      chipping splits the encoder gradient exactly.
#include "check.h"
#include "fd.h"
#include "models/models.h"
#include "nn/nn.h"
#include "train/train.h"
#include "check_train_xt.h"

static xt_json *cfg_of(xt_st *st) {
    const char *cs = xt_st_meta(st, "config");
    return cs ? xt_json_parse(cs, strlen(cs), "config") : NULL;
}

static void golden_forward(void) {
    xt_st *st = xt_st_open(golden("hiera_region.safetensors"));
    CHECK(st != NULL);
    if (!st) return;
    xt_json *cfg = cfg_of(st);
    const xt_json *hc = xt_json_get(cfg, "hiera");
    xt_params P = {0};
    xt_encoder_train *m = xt_encoder_train_new(&P, "hiera", hc, "model.", 224);
    CHECK(m != NULL);
    if (!m) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    CHECK(xt_params_alloc(&P) == 0 && xt_params_load(&P, st) == 0);
    int64_t nfile = 0, nparam = 0;
    for (int i = 0; i < st->n; i++)
        if (!strncmp(st->t[i].name, "model.", 6)) nfile += st->t[i].numel;
    for (int i = 0; i < P.n; i++) nparam += P.p[i].n;
    CHECK(nparam == nfile && P.n == 105); // README: 105 keys
    CHECK(!strcmp(P.p[0].name, "model.pos_embed") && !strcmp(P.p[1].name, "model.patch_embed.proj.weight"));
    int C[XT_MAX_STAGES], H[XT_MAX_STAGES];
    CHECK(xt_encoder_train_stages(m, C, H) == 4 && C[0] == 16 && H[0] == 56 && C[3] == 128 && H[3] == 7);
    xt_arena act;
    CHECK(xt_arena_init(&act, m->act_bytes(m, 1)) == 0);
    float *out[4], *inf[4];
    for (int s = 0; s < 4; s++) {
        out[s] = malloc((size_t)C[s] * H[s] * H[s] * sizeof(float));
        inf[s] = malloc((size_t)C[s] * H[s] * H[s] * sizeof(float));
    }
    const float *img = xt_st_f32(st, "input.image", NULL);
    double t0 = xt_time();
    CHECK(m->forward(m, &P, img, 1, out, &act, NULL, "model.") == 0);
    printf("hiera train forward, batch 1 at 224: %.3f s\n", xt_time() - t0);
    xt_encoder *e = xt_hiera_new(st, hc, "model.", 224);
    CHECK(e != NULL);
    xt_arena ws;
    CHECK(e && xt_arena_init(&ws, e->workspace_size(e, 1)) == 0);
    CHECK(e && e->forward(e, img, 1, inf, &ws, NULL, "model.") == 0);
    float *nhwc = malloc((size_t)56 * 56 * 16 * sizeof(float));
    for (int s = 0; s < 4; s++) {
        char name[40];
        snprintf(name, sizeof name, "expected.intermediates%d", s);
        int HW = H[s] * H[s];
        xt_nchw_to_nhwc(nhwc, out[s], 1, C[s], HW);
        CHECK_CLOSE(nhwc, xt_st_f32(st, name, NULL), (long)C[s] * HW, 0, 1e-5, name); // README: f32 vs f64 <= 4.3e-6
        CHECK_CLOSE(out[s], inf[s], (long)C[s] * HW, 0, 1e-5, "training forward vs inference encoder");
    }
    for (int s = 0; s < 4; s++) free(out[s]), free(inf[s]);
    free(nhwc);
    xt_arena_free(&ws);
    e->free(e);
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
    xt_st *st = xt_st_open("tests/ref/hiera_grad_small.safetensors");
    CHECK(st != NULL);
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    xt_json *cfg = cfg_of(st);
    const xt_st_tensor *ti;
    const float *img = xt_st_f32(st, "input.image", &ti);
    G.B = (int)ti->shape[0];
    int S = (int)ti->shape[3];
    G.m = xt_encoder_train_new(&G.P, "hiera", xt_json_get(cfg, "hiera"), "model.", S);
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
    printf("hiera train forward + backward, batch %d at %d: %.3f s\n", G.B, S, xt_time() - t0);
    double loss = loss_now();
    CHECK(fabs(loss - *xt_st_f32(st, "expected.loss", NULL)) < 1e-4 * fabs(loss));
    for (int s = 0; s < G.ns; s++) {
        char nm[40];
        snprintf(nm, sizeof nm, "expected.intermediates%d", s); // NHWC
        long HW = (long)G.H[s] * G.H[s];
        float *t = malloc((size_t)G.B * G.C[s] * HW * sizeof(float));
        xt_nchw_to_nhwc(t, G.out[s], G.B, G.C[s], (int)HW);
        CHECK_CLOSE(t, xt_st_f32(st, nm, NULL), G.B * G.C[s] * HW, 0, 1e-5, nm);
        free(t);
    }
    CHECK_CLOSE(G.out[3], xt_st_f32(st, "expected.out", NULL), (long)G.B * G.C[3] * G.H[3] * G.H[3], 0, 1e-5, "expected.out");
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
    // finite differences (float32 forward: h 1e-2, 2e-2 of max|grad|)
    grads(dimg);
    memcpy(g1, G.P.g, tot * sizeof(float));
    static const char *fd_names[] = {"model.blocks.1.attn.qkv.weight", "model.blocks.1.proj.weight",
                                     "model.blocks.3.attn.qkv.bias", "model.pos_embed",
                                     "model.patch_embed.proj.weight", "model.blocks.0.norm1.weight"};
    for (int f = 0; f < 6; f++) {
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
        {"{\"embed_dim\":8,\"stages\":[1,2,1]}", "'mask_unit_attn' has 4 entries for 3 stages"},
        {"{\"embed_dim\":8,\"num_heads\":3,\"stages\":[1,2,1,1]}", "not divisible by 3 heads"},
        {"{\"embed_dim\":8,\"dim_mul\":1.0,\"stages\":[1,2,1,1]}", "must change the width"},
        {"[1, 2]", "config must be a JSON object"},
    };
    for (int i = 0; i < 4; i++) {
        xt_json *j = xt_json_parse(bad[i][0], strlen(bad[i][0]), "test");
        xt_params P = {0};
        xt_error_clear();
        CHECK(xt_encoder_train_new(&P, "hiera", j, "model.", 64) == NULL);
        CHECK(P.n == 0);
        if (!strstr(xt_error_buffer(), bad[i][1]) || !strstr(xt_error_buffer(), "hiera train")) {
            fprintf(stderr, "config %s: error '%s' lacks '%s'\n", bad[i][0], xt_error_buffer(), bad[i][1]);
            CHECK(0);
        }
        xt_params_free(&P);
        xt_json_free(j);
    }
    xt_json *j = xt_json_parse("{\"embed_dim\":8,\"stages\":[1,2,1,1]}", 34, "test");
    xt_params P = {0};
    CHECK(xt_encoder_train_new(&P, "hiera", j, "model.", 60) == NULL); // 15 tokens: not divisible by 8
    CHECK(strstr(xt_error_buffer(), "not divisible by q_stride^3") != NULL);
    xt_params_free(&P);
    xt_json_free(j);
}

// An xT classifier whose region encoder is Hiera (xt_bwd.c dispatch): the loss gradient of
// encoder and head parameters and of the image agrees with finite differences.
static void xt_classifier(void) {
    static const char *cs =
        "{\"kind\": \"xt\", \"cls_head\": \"xl\", \"crop_size\": 32, \"num_classes\": 2, \"mlp_ratio\": 2,"
        " \"context\": {\"attention_method\": \"naive\", \"hidden_size\": 16, \"n_layer\": 1},"
        " \"hiera\": {\"embed_dim\": 8, \"num_heads\": 1, \"stages\": [1, 1, 1], \"q_pool\": 2, \"q_stride\": [2, 2],"
        " \"mask_unit_size\": [4, 4], \"mask_unit_attn\": [true, false, false], \"mlp_ratio\": 2.0}}";
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "test");
    X.m = xt_xt_train_new(&X.P, cfg, NULL);
    CHECK(X.m != NULL);
    if (!X.m) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    CHECK(xt_params_alloc(&X.P) == 0);
    xt_params_init(&X.P, 11);
    CHECK(xt_params_find(&X.P, "encoder.model.pos_embed") >= 0 && xt_params_find(&X.P, "decoder.cls_token") >= 0);
    CHECK(!strncmp(X.P.p[0].name, "decoder.", 8)); // official order: decoder first
    static const char *names[] = {"encoder.model.blocks.1.attn.qkv.weight", "encoder.model.blocks.2.proj.weight",
                                  "encoder.model.pos_embed", "encoder.model.patch_embed.proj.bias",
                                  "decoder.input_proj.weight"};
    check_xt_classifier(names, (int)(sizeof names / sizeof *names));
    xt_json_free(cfg);
}

int main(void) {
    golden_forward();
    grad_ref();
    bad_configs();
    xt_classifier();
    return check_summary("hiera_train");
}
