// test_window_attn.c — the Swin V2 layers against PyTorch (tests/ref/nn_swin.safetensors, made by
// tools/gen_ref_nn.py with timm 0.9.7's formulas): continuous position bias table, (shifted)
// window cosine attention with the -100 mask (and what its training call keeps), patch-merging
// gather, patch-embedding im2col, and model-level properties (parameter count, batch and thread
// independence, random weights), and the "pretrained_window_sizes" config key (values per stage;
// 0/absent/null = none; 1 refused).
// Tolerances: cpb 1e-5 x max(1, max|ref|) (a 512-term float dot product, then 16 sigmoid);
// attention 1e-5 (cosine logits x scale <= 100, softmax, 25-term averages); gathers exact (0);
// model-level 1e-5 x max(1, max|ref|) between runs (GEMM blocking may differ with batch/threads).
#include "check.h"
#include "models/models.h"
#include "nn/nn.h"
#include <unistd.h>

static xt_st *st;
static const float *T(const char *name) {
    const float *p = xt_st_f32(st, name, NULL);
    if (!p) { fprintf(stderr, "%s\n", xt_error_buffer()); exit(1); }
    return p;
}

static void test_layers(void) {
    enum { NH = 3, WS = 5, N = WS * WS, B = 2, H = 10, C = 12 };
    static float bias[NH * N * N], tmp[(2 * WS - 1) * (2 * WS - 1) * (NH + 2) + N * N];
    CHECK(xt_swin_cpb_scratch_floats(NH, WS) <= sizeof tmp / sizeof *tmp);
    xt_swin_cpb_bias(bias, T("cpb.attn.cpb_mlp.0.weight"), T("cpb.attn.cpb_mlp.0.bias"), T("cpb.attn.cpb_mlp.2.weight"),
                     NH, WS, 0, tmp);
    CHECK_CLOSE(bias, T("cpb.out"), NH * N * N, 0, 1e-5, "cpb bias 16*sigmoid(mlp(table))[index]");

    static float out[B * H * H * C];
    size_t per = xt_window_attn_scratch_floats(WS, C / NH);
    float *scr = malloc(2 * per * sizeof(float));
    for (int shift = 0; shift <= 2; shift += 2)
        for (int thr = 1; thr <= 2; thr++) {
            memset(out, 0, sizeof out);
            xt_window_attn_forward(out, NULL, T("attn.qkv"), NULL, T("attn.scale"), bias, NULL, 0, B, H, H, C, NH, WS,
                                   shift, scr, per, thr);
            char name[64], label[96];
            snprintf(name, sizeof name, "attn.out_shift%d", shift);
            snprintf(label, sizeof label, "window attention shift %d, %d thread(s)", shift, thr);
            CHECK_CLOSE(out, T(name), B * H * H * C, 0, 1e-5, label);
        }
    free(scr);

    static float mg[2 * 3 * 5 * 20];
    xt_patch_merge_gather(mg, T("merge.x"), 2, 6, 10, 5);
    CHECK_CLOSE(mg, T("merge.out"), 2 * 3 * 5 * 20, 0, 0, "patch merging gather (0,0),(1,0),(0,1),(1,1)");

    // Conv2d(3, 7, 4, stride 4) = im2col + linear
    static float cols[2 * 3 * 5 * 48], emb[2 * 3 * 5 * 7];
    xt_patch_im2col(cols, T("embed.img"), 2, 3, 12, 20, 4);
    xt_linear_forward(emb, cols, T("embed.w"), T("embed.b"), 2 * 3 * 5, 48, 7);
    CHECK_CLOSE(emb, T("embed.out"), 2 * 3 * 5 * 7, 0, 1e-5, "patch embedding conv 4x4/4");

    float x[2 * 3 * 4], y[2 * 4 * 3];
    for (int i = 0; i < 24; i++) x[i] = (float)i;
    xt_nhwc_to_nchw(y, x, 2, 3, 4); // (2, 3, 4) -> (2, 4, 3)
    CHECK(y[0] == 0 && y[1] == 4 && y[2] == 8 && y[3] == 1 && y[12] == 12 && y[23] == 23);
}

// A random Swin V2 (2 stages, window 4, 32 px: 8x8 then 4x4 maps) built through the public
// path: random weights -> file -> xt_swinv2_new -> forward.
static void test_model(void) {
    const char *cs = "{\"embed_dim\": 8, \"depths\": [2, 3], \"num_heads\": [2, 4], \"window_size\": 4}";
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "cfg");
    const char *swt = "{\"embed_dim\": 96, \"depths\": [2, 2, 6, 2], \"num_heads\": [3, 6, 12, 24], \"window_size\": 16}";
    xt_json *cfgt = xt_json_parse(swt, strlen(swt), "cfg");
    // Swin V2-T features_only: 27,576,618 (timm: 28.35 M with the final norm 1,536 and head 769,000)
    CHECK(xt_swinv2_param_count(cfgt, 256) == 27576618);
    char path[] = "/tmp/xt_test_swin_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    xt_st_writer *w = xt_st_writer_new();
    CHECK(xt_swinv2_random_weights(w, cfg, "encoder.model.", 5) == 0);
    CHECK(xt_st_writer_save(w, path) == 0);
    xt_st *ws = xt_st_open(path);
    unlink(path);
    CHECK(ws != NULL);
    if (!ws) return;
    CHECK(xt_swinv2_new(ws, cfg, "model.", 32) == NULL); // wrong prefix: a clear error
    CHECK(strstr(xt_error_buffer(), "model.patch_embed.proj.weight' not found") != NULL);
    CHECK(xt_swinv2_new(ws, cfg, "encoder.model.", 30) == NULL); // not a multiple of 4
    CHECK(strstr(xt_error_buffer(), "multiple of the patch size") != NULL);
    xt_encoder *e = xt_swinv2_new(ws, cfg, "encoder.model.", 32);
    CHECK(e != NULL);
    if (!e) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    CHECK(e->n_stages == 2 && e->stage_c[0] == 8 && e->stage_c[1] == 16 && e->stage_h[0] == 8 && e->stage_h[1] == 4);
    CHECK(e->n_params == xt_swinv2_param_count(cfg, 32) && e->n_params > 0);
    enum { B = 3, S = 32 };
    static float img[B * 3 * S * S], o0[B * 8 * 64], o1[B * 16 * 16], r0[8 * 64], r1[16 * 16];
    for (int i = 0; i < B * 3 * S * S; i++) img[i] = sinf(i * 0.37f) * 2;
    float *outs[2] = {o0, o1}, *refs[2] = {r0, r1};
    xt_arena a;
    CHECK(xt_arena_init(&a, e->workspace_size(e, B)) == 0);
    CHECK(e->forward(e, img, B, outs, &a, NULL, "") == 0);
    CHECK(a.used == 0 && a.high <= a.size);
    int finite = 1;
    for (int i = 0; i < B * 16 * 16; i++) finite &= isfinite(o1[i]) != 0;
    CHECK(finite);
    // batch independence: image 2 alone gives the same maps as inside the batch
    for (int thr = 1; thr <= 2; thr++) {
        xt_set_threads(thr);
        xt_arena_reset(&a);
        CHECK(e->forward(e, img + 2 * 3 * S * S, 1, refs, &a, NULL, "") == 0);
        CHECK_CLOSE(o0 + 2 * 8 * 64, r0, 8 * 64, 0, 1e-5, "stage0 batch vs single");
        CHECK_CLOSE(o1 + 2 * 16 * 16, r1, 16 * 16, 0, 1e-5, "stage1 batch vs single");
    }
    // the same encoder used from two threads at once (own arenas): same results as serially
    {
        static float p0[2][B * 8 * 64], p1[2][B * 16 * 16];
        int ok[2] = {0, 0};
#pragma omp parallel for num_threads(2)
        for (int t = 0; t < 2; t++) {
            xt_arena at;
            float *po[2] = {p0[t], p1[t]};
            ok[t] = !xt_arena_init(&at, e->workspace_size(e, B)) && !e->forward(e, img, B, po, &at, NULL, "");
            xt_arena_free(&at);
        }
        CHECK(ok[0] && ok[1]);
        CHECK_CLOSE(p1[0], o1, B * 16 * 16, 0, 1e-5, "concurrent forward 0");
        CHECK_CLOSE(p1[1], o1, B * 16 * 16, 0, 1e-5, "concurrent forward 1");
    }
    // opt-in bfloat16 matmuls: same model, outputs within bf16 precision of float32
    if (xt_bf16_available()) {
        const char *cb = "{\"embed_dim\": 8, \"depths\": [2, 3], \"num_heads\": [2, 4], \"window_size\": 4, \"matmul\": \"bf16\"}";
        xt_json *cfgb = xt_json_parse(cb, strlen(cb), "cfg");
        xt_encoder *eb = xt_swinv2_new(ws, cfgb, "encoder.model.", 32);
        CHECK(eb != NULL);
        if (eb) {
            xt_arena ab;
            CHECK(xt_arena_init(&ab, eb->workspace_size(eb, B)) == 0);
            static float b0[B * 8 * 64], b1[B * 16 * 16];
            float *bo[2] = {b0, b1};
            CHECK(eb->forward(eb, img, B, bo, &ab, NULL, "") == 0);
            // bf16 keeps 8 mantissa bits (0.4% per rounding); observed here 1.9% of max|ref| after
            // 5 blocks (cosine attention amplifies q, k errors by the logit scale); tolerance 5%
            CHECK_CLOSE(b1, o1, B * 16 * 16, 0, 5e-2, "bf16 matmuls vs float32 (stage 1)");
            double md = 0;
            for (int i = 0; i < B * 16 * 16; i++) md = fmax(md, fabs(b1[i] - o1[i]));
            CHECK(md > 1e-4); // bf16 really used
            xt_arena_free(&ab);
            eb->free(eb);
        }
        xt_json_free(cfgb);
    } else
        printf("bf16 not available on this CPU: bf16 check skipped\n");
    // a workspace that is too small is an error, not an overflow
    xt_arena small;
    CHECK(xt_arena_init(&small, 4096) == 0);
    CHECK(e->forward(e, img, B, outs, &small, NULL, "") == -1);
    CHECK(strstr(xt_error_buffer(), "workspace too small") != NULL);
    xt_arena_free(&small);
    xt_arena_free(&a);
    e->free(e);
    xt_st_close(ws);
    xt_json_free(cfg);
    xt_json_free(cfgt);
}

// pretrained_window_sizes: parsed per stage; a bad value or count is a clear config error
static void test_pretrained_windows(void) {
    static const struct { const char *js; int rc, p0, p3; const char *msg; } cases[] = {
        {"{}", 0, 0, 0, NULL},
        {"{\"pretrained_window_sizes\": null}", 0, 0, 0, NULL},
        {"{\"pretrained_window_sizes\": [12, 12, 12, 6]}", 0, 12, 6, NULL},
        {"{\"pretrained_window_sizes\": [12, 12, 6]}", -1, 0, 0, "3 entries, the model has 4 stages"},
        {"{\"pretrained_window_sizes\": [12, 1, 12, 6]}", -1, 0, 0, "pretrained_window_sizes[1] = 1"},
        {"{\"pretrained_window_sizes\": [12, 12, -4, 6]}", -1, 0, 0, "pretrained_window_sizes[2] = -4"},
        {"{\"pretrained_window_sizes\": 12}", -1, 0, 0, "must be an array"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        xt_json *j = xt_json_parse(cases[i].js, strlen(cases[i].js), "cfg");
        int p[XT_MAX_STAGES] = {9, 9, 9, 9};
        int rc = xt_swinv2_pretrained_windows(j, 4, p);
        CHECK(rc == cases[i].rc);
        if (!rc) CHECK(p[0] == cases[i].p0 && p[3] == cases[i].p3);
        else CHECK(strstr(xt_error_buffer(), cases[i].msg) != NULL);
        xt_error_clear();
        xt_json_free(j);
    }
    // the Swin-L preset carries window12to16's values
    const char *pc = xt_preset_config("swinv2_large_window12to16_192to256");
    xt_json *j = pc ? xt_json_parse(pc, strlen(pc), "preset") : NULL;
    int p[XT_MAX_STAGES];
    CHECK(j && xt_swinv2_pretrained_windows(j, 4, p) == 0 && p[0] == 12 && p[1] == 12 && p[2] == 12 && p[3] == 6);
    xt_json_free(j);
}

// The fused AVX-512 path (head dim and window area multiples of 16: 32-wide heads, 8x8 windows;
// 16-wide heads, 4x4 windows) against a direct double-precision evaluation of the same formulas
// (the torch-checked generic path above uses 4-wide heads, 5x5 windows).
static void test_attn_fused(void) {
    static const int cfgs[2][3] = {{64, 2, 8}, {48, 3, 4}}; // C, NH, ws
    enum { B = 2, H = 16 };
    for (int ci = 0; ci < 2; ci++) {
        int C = cfgs[ci][0], NH = cfgs[ci][1], ws = cfgs[ci][2], HS = C / NH, N = ws * ws;
        size_t nq = (size_t)B * H * H * 3 * C, no = (size_t)B * H * H * C;
        float *qkv = malloc(nq * sizeof(float)), *out = malloc(no * sizeof(float)), *ref = malloc(no * sizeof(float));
        float *bias = malloc((size_t)NH * N * N * sizeof(float)), *qb = malloc(3 * C * sizeof(float)), sc[3];
        uint64_t r = 12345;
#define RND() ((float)((r = r * 6364136223846793005ull + 1442695040888963407ull) >> 40) / (float)(1 << 24) - 0.5f)
        for (size_t i = 0; i < nq; i++) qkv[i] = RND();
        for (int i = 0; i < NH * N * N; i++) bias[i] = 16.0f * (RND() + 0.5f);
        for (int i = 0; i < 3 * C; i++) qb[i] = i >= C && i < 2 * C ? 0 : 0.2f * RND();
        for (int h = 0; h < NH; h++) sc[h] = 10.0f + 20.0f * h;
#undef RND
        size_t per = xt_window_attn_scratch_floats(ws, HS);
        float *scr = malloc(2 * per * sizeof(float));
        double *lg = malloc((size_t)N * sizeof(double));
        // what a training forward keeps, per task (window, head): probabilities and normalised q, k
        size_t nt = (size_t)B * (H / ws) * (H / ws) * NH;
        float *refp = malloc(nt * N * N * sizeof(float)), *refq = malloc(nt * N * HS * sizeof(float));
        float *sp = malloc(nt * N * N * sizeof(float)), *sq = malloc(nt * N * HS * sizeof(float));
        float *sk = malloc(nt * N * HS * sizeof(float)), *snq = malloc(nt * N * sizeof(float));
        float *snk = malloc(nt * N * sizeof(float)), *out2 = malloc(no * sizeof(float));
        for (int shift = 0; shift <= ws / 2; shift += ws / 2) {
            for (int b = 0; b < B; b++)
                for (int wy = 0; wy < H / ws; wy++)
                    for (int wx = 0; wx < H / ws; wx++)
                        for (int h = 0; h < NH; h++)
                            for (int p = 0; p < N; p++) {
                                int py = wy * ws + p / ws, px = wx * ws + p % ws;
                                const float *rq = qkv + (((size_t)b * H + (py + shift) % H) * H + (px + shift) % H) * 3 * C + h * HS;
                                double nq2 = 0, mx = -1e300, sum = 0;
                                for (int d = 0; d < HS; d++) nq2 += (double)(rq[d] + qb[h * HS + d]) * (rq[d] + qb[h * HS + d]);
                                for (int t = 0; t < N; t++) {
                                    int ty = wy * ws + t / ws, tx = wx * ws + t % ws;
                                    const float *rk = qkv + (((size_t)b * H + (ty + shift) % H) * H + (tx + shift) % H) * 3 * C + C + h * HS;
                                    double dot = 0, nk2 = 0;
                                    for (int d = 0; d < HS; d++) {
                                        double kd = rk[d] + qb[C + h * HS + d];
                                        dot += (rq[d] + qb[h * HS + d]) * kd;
                                        nk2 += kd * kd;
                                    }
                                    lg[t] = sc[h] * dot / (sqrt(nq2) * sqrt(nk2)) + bias[((size_t)h * N + p) * N + t];
                                    if (shift && xt_swin_mask_label(py, px, H, H, ws, shift) != xt_swin_mask_label(ty, tx, H, H, ws, shift))
                                        lg[t] -= 100;
                                    if (lg[t] > mx) mx = lg[t];
                                }
                                for (int t = 0; t < N; t++) sum += (lg[t] = exp(lg[t] - mx));
                                size_t task = (((size_t)b * (H / ws) + wy) * (H / ws) + wx) * NH + h;
                                for (int t = 0; t < N; t++) refp[(task * N + p) * N + t] = (float)(lg[t] / sum);
                                for (int d = 0; d < HS; d++)
                                    refq[(task * N + p) * HS + d] = (float)((rq[d] + qb[h * HS + d]) / sqrt(nq2));
                                float *o = ref + (((size_t)b * H + (py + shift) % H) * H + (px + shift) % H) * C + h * HS;
                                for (int d = 0; d < HS; d++) {
                                    double a = 0;
                                    for (int t = 0; t < N; t++) {
                                        int ty = wy * ws + t / ws, tx = wx * ws + t % ws;
                                        const float *rv = qkv + (((size_t)b * H + (ty + shift) % H) * H + (tx + shift) % H) * 3 * C + 2 * C + h * HS;
                                        a += lg[t] * (rv[d] + qb[2 * C + h * HS + d]);
                                    }
                                    o[d] = (float)(a / sum);
                                }
                            }
            for (int thr = 1; thr <= 2; thr++) {
                memset(out, 0, no * sizeof(float));
                xt_window_attn_forward(out, NULL, qkv, qb, sc, bias, NULL, 0, B, H, H, C, NH, ws, shift, scr, per, thr);
                char label[128];
                snprintf(label, sizeof label, "window attention, head dim %d, window %d, shift %d, %d thread(s)", HS, ws, shift, thr);
                CHECK_CLOSE(out, ref, no, 0, 1e-5, label);
            }
            // the same call keeping what the backward needs: the same output, bit for bit
            xt_window_attn_saved sv = {sp, sq, sk, snq, snk};
            xt_window_attn_forward(out2, &sv, qkv, qb, sc, bias, NULL, 0, B, H, H, C, NH, ws, shift, scr, per, 2);
            CHECK(memcmp(out, out2, no * sizeof(float)) == 0);
            CHECK_CLOSE(sp, refp, nt * N * N, 0, 1e-5, "window attention saved probabilities");
            CHECK_CLOSE(sq, refq, nt * N * HS, 0, 1e-5, "window attention saved normalize(q)");
            double worst = 0; // |normalize(k)| = 1, knorm * normalize(k) = k
            for (size_t i = 0; i < nt * N; i++) {
                double n2 = 0;
                for (int d = 0; d < HS; d++) n2 += (double)sk[i * HS + d] * sk[i * HS + d];
                worst = fmax(worst, fabs(sqrt(n2) - 1));
            }
            CHECK(worst < 1e-5);
        }
        free(qkv), free(out), free(ref), free(bias), free(qb), free(scr), free(lg);
        free(refp), free(refq), free(sp), free(sq), free(sk), free(snq), free(snk), free(out2);
    }
}

int main(void) {
    test_pretrained_windows();
    st = xt_st_open("tests/ref/nn_swin.safetensors");
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    test_layers();
    test_attn_fused();
    test_model();
    xt_st_close(st);
    return check_summary("test_window_attn");
}
