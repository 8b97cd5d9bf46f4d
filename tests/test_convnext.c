// test_convnext.c — ConvNeXt region encoder: golden file through the xt_encoder API (batch 1 and
// the same image twice as batch 2), and bad configs / mismatching weights as clear errors.
#include <unistd.h>

#include "check.h"
#include "models/models.h"

static xt_json *J(const char *s) {
    xt_json *j = xt_json_parse(s, strlen(s), "test config");
    if (!j) { fprintf(stderr, "bad test json: %s\n", s); exit(2); }
    return j;
}

// Builds from cfg; expects failure with a message containing want.
static void expect_fail(xt_st *st, const char *cfg, int S, const char *want) {
    xt_json *j = J(cfg);
    xt_error_clear();
    xt_encoder *e = xt_convnext_new(st, j, "", S);
    CHECK(e == NULL);
    if (e) e->free(e);
    const char *msg = xt_error_buffer();
    if (!strstr(msg, want)) {
        fprintf(stderr, "config %s: error '%s' lacks '%s'\n", cfg, msg, want);
        CHECK(0);
    } else
        CHECK(1);
    xt_json_free(j);
}

static const char *CFG = "{\"dims\":[16,32,64,128],\"depths\":[2,2,2,2]}";

int main(void) {
    xt_st *st = xt_st_open(golden("convnext_region.safetensors"));
    CHECK(st != NULL);
    if (!st) return check_summary("convnext");
    xt_json *cfg = J(CFG);
    xt_encoder *e = xt_convnext_new(st, cfg, "", 256);
    CHECK(e != NULL);
    if (!e) { fprintf(stderr, "%s\n", xt_error_buffer()); return check_summary("convnext"); }
    CHECK(e->n_stages == 4 && e->in_chans == 3 && e->stage_c[3] == 128 && e->stage_h[0] == 64 && e->stage_h[3] == 8);
    // parameters: every tensor of the file except input/expected (no head in features_only)
    int64_t nfile = 0;
    for (int i = 0; i < st->n; i++)
        if (strncmp(st->t[i].name, "input.", 6) && strncmp(st->t[i].name, "expected.", 9)) nfile += st->t[i].numel;
    CHECK(e->n_params == nfile);
    const int S = 256, B = 2;
    const float *img = xt_st_f32(st, "input.image", NULL);
    float *img2 = malloc((size_t)B * 3 * S * S * sizeof(float));
    for (int b = 0; b < B; b++) memcpy(img2 + (size_t)b * 3 * S * S, img, 3 * S * S * sizeof(float));
    float *out[4];
    for (int s = 0; s < 4; s++) out[s] = malloc((size_t)B * e->stage_c[s] * e->stage_h[s] * e->stage_w[s] * sizeof(float));
    xt_arena ws;
    CHECK(xt_arena_init(&ws, e->workspace_size(e, B)) == 0);
    double t0 = xt_time();
    CHECK(e->forward(e, img2, B, out, &ws, NULL, "") == 0);
    printf("convnext forward, batch 2 at 256: %.3f s\n", xt_time() - t0);
    for (int s = 0; s < 4; s++) {
        char name[32];
        snprintf(name, sizeof name, "expected.stage%d", s);
        const float *ref = xt_st_f32(st, name, NULL);
        long n = (long)e->stage_c[s] * e->stage_h[s] * e->stage_w[s];
        // golden README: float32 vs float64 differs by <= 2.6e-6 here; 1e-4 x scale is the contract
        CHECK_CLOSE(out[s], ref, n, 0, 1e-4, name);
        CHECK_CLOSE(out[s] + n, ref, n, 0, 1e-4, "batch element 1");
    }
    // workspace too small -> error, not overflow
    xt_arena small;
    xt_arena_init(&small, 4096);
    CHECK(e->forward(e, img2, B, out, &small, NULL, "") == -1);
    CHECK(strstr(xt_error_buffer(), "workspace") != NULL);
    xt_arena_free(&small);
    xt_arena_free(&ws);
    e->free(e);

    // bad configs and mismatching weights
    expect_fail(st, "{\"dims\":[16,32,64,0],\"depths\":[2,2,2,2]}", 256, "'dims'[3] = 0 is out of range");
    expect_fail(st, "{\"dims\":[16,32,64],\"depths\":[2,2,2,2]}", 256, "'dims' has 3 stages but 'depths' has 4");
    expect_fail(st, "{\"dims\":[],\"depths\":[]}", 256, "'dims' is empty");
    expect_fail(st, "{\"dims\":[16,32,64,128,256],\"depths\":[2,2,2,2,2]}", 256, "at most 4");
    expect_fail(st, "{\"depths\":[2,2,2,2]}", 256, "missing 'dims'");
    expect_fail(st, "{\"dims\":[16,32,64,100000],\"depths\":[2,2,2,2]}", 256, "out of range");
    expect_fail(st, "{\"dims\":[16,32,64,128],\"depths\":[2,2,2,2],\"mlp_ratio\":-1}", 256, "mlp_ratio");
    expect_fail(st, "{\"dims\":[16,32,64,128],\"depths\":[2,2,2,2],\"kernel_size\":6}", 256, "must be odd");
    expect_fail(st, CFG, 200, "multiple of 32");
    expect_fail(st, CFG, 0, "multiple of 32");
    expect_fail(st, CFG, 1 << 20, "at most 65536");
    expect_fail(st, "{\"dims\":[16,32,64,128],\"depths\":[2,2,3,2]}", 256, "stages_2.blocks.2.gamma");   // missing
    expect_fail(st, "{\"dims\":[16,32,64,128],\"depths\":[2,2,1,2]}", 256, "'stages_2.blocks.1.");        // unused
    expect_fail(st, "{\"dims\":[16,32,64,256],\"depths\":[2,2,2,2]}", 256, "stages_3.downsample.1.weight"); // shape
    expect_fail(st, "{\"dims\":[16,32,64,128],\"depths\":[2,2,2,2],\"in_chans\":2}", 256, "stem_0.weight");
    expect_fail(st, "{\"dims\":[16,32,64,128],\"depths\":[2,2,2,2],\"mlp_ratio\":2}", 256, "mlp.fc1.weight");
    expect_fail(st, "{\"dims\":[16,32,64,128],\"depths\":[2,2,2,2],\"in_chans\":\"x\"}", 256, "in_chans");
    // prefix that matches nothing
    {
        xt_json *j = J(CFG);
        CHECK(xt_convnext_new(st, j, "encoder.model.", 256) == NULL);
        CHECK(strstr(xt_error_buffer(), "encoder.model.stem_0.weight") != NULL);
        xt_json_free(j);
    }
    // a timm classifier checkpoint's names (stem.0, stages.1, + head.*) load the same weights
    {
        xt_st_writer *w = xt_st_writer_new();
        for (int i = 0; i < st->n; i++) {
            const xt_st_tensor *t = &st->t[i];
            if (!strncmp(t->name, "expected.", 9)) continue;
            char name[300];
            snprintf(name, sizeof name, "%s", t->name);
            if (!strncmp(name, "stem_", 5) || !strncmp(name, "stages_", 7)) *strchr(name, '_') = '.';
            xt_st_writer_add(w, name, xt_st_f32(st, t->name, NULL), t->ndim, t->shape);
        }
        float head[10 * 128] = {0}, hb[10] = {0}, hn[128] = {0};
        xt_st_writer_add(w, "head.fc.weight", head, 2, (int64_t[]){10, 128});
        xt_st_writer_add(w, "head.fc.bias", hb, 1, (int64_t[]){10});
        xt_st_writer_add(w, "head.norm.weight", hn, 1, (int64_t[]){128});
        char path[] = "/tmp/xt_test_convnext_XXXXXX";
        int fd = mkstemp(path);
        CHECK(fd >= 0);
        close(fd);
        CHECK(xt_st_writer_save(w, path) == 0);
        xt_st *st2 = xt_st_open(path);
        CHECK(st2 != NULL);
        xt_encoder *e2 = st2 ? xt_convnext_new(st2, cfg, "", 256) : NULL;
        if (!e2) fprintf(stderr, "dotted names: %s\n", xt_error_buffer());
        CHECK(e2 != NULL);
        if (e2) {
            xt_arena ws2;
            CHECK(xt_arena_init(&ws2, e2->workspace_size(e2, 1)) == 0);
            CHECK(e2->forward(e2, img, 1, out, &ws2, NULL, "") == 0);
            CHECK_CLOSE(out[3], xt_st_f32(st, "expected.stage3", NULL), 128L * 64, 0, 1e-4, "stage3, dotted names");
            xt_arena_free(&ws2);
            e2->free(e2);
        }
        xt_st_close(st2);
        unlink(path);
    }
    for (int s = 0; s < 4; s++) free(out[s]);
    free(img2);
    xt_json_free(cfg);
    xt_st_close(st);
    return check_summary("convnext");
}
