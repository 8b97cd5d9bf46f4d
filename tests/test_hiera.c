// test_hiera.c — Hiera region encoder: golden file through the xt_encoder API (every stage's
// intermediate, batch 1 and batch 2), and bad configs / mismatching weights as clear errors.
#include "check.h"
#include "models/models.h"

static xt_json *J(const char *s) {
    xt_json *j = xt_json_parse(s, strlen(s), "test config");
    if (!j) { fprintf(stderr, "bad test json: %s\n", s); exit(2); }
    return j;
}

#define BASE "\"embed_dim\":16,\"num_heads\":1,\"q_pool\":3,\"q_stride\":[2,2],\"mask_unit_size\":[8,8]," \
             "\"mask_unit_attn\":[true,true,false,false],\"dim_mul\":2.0,\"head_mul\":2.0,\"mlp_ratio\":4.0"
static const char *CFG = "{" BASE ",\"stages\":[1,2,3,2]}";

static void expect_fail(xt_st *st, const char *cfg, int S, const char *want) {
    xt_json *j = J(cfg);
    xt_error_clear();
    xt_encoder *e = xt_hiera_new(st, j, "model.", S);
    CHECK(e == NULL);
    if (e) e->free(e);
    const char *msg = xt_error_buffer();
    if (!strstr(msg, want)) {
        fprintf(stderr, "config %s (S=%d): error '%s' lacks '%s'\n", cfg, S, msg, want);
        CHECK(0);
    } else
        CHECK(1);
    xt_json_free(j);
}

int main(void) {
    xt_st *st = xt_st_open(golden("hiera_region.safetensors"));
    CHECK(st != NULL);
    if (!st) return check_summary("hiera");
    xt_json *cfg = J(CFG);
    xt_encoder *e = xt_hiera_new(st, cfg, "model.", 224);
    CHECK(e != NULL);
    if (!e) { fprintf(stderr, "%s\n", xt_error_buffer()); return check_summary("hiera"); }
    CHECK(e->n_stages == 4 && e->stage_c[0] == 16 && e->stage_c[3] == 128 && e->stage_h[0] == 56 && e->stage_h[3] == 7);
    int64_t nfile = 0;
    for (int i = 0; i < st->n; i++)
        if (!strncmp(st->t[i].name, "model.", 6)) nfile += st->t[i].numel;
    CHECK(e->n_params == nfile);
    const int S = 224, B = 2;
    const float *img = xt_st_f32(st, "input.image", NULL);
    float *img2 = malloc((size_t)B * 3 * S * S * sizeof(float));
    for (int b = 0; b < B; b++) memcpy(img2 + (size_t)b * 3 * S * S, img, 3 * S * S * sizeof(float));
    float *out[4], *nhwc = malloc((size_t)56 * 56 * 16 * sizeof(float));
    for (int s = 0; s < 4; s++) out[s] = malloc((size_t)B * e->stage_c[s] * e->stage_h[s] * e->stage_w[s] * sizeof(float));
    xt_arena ws;
    CHECK(xt_arena_init(&ws, e->workspace_size(e, B)) == 0);
    double t0 = xt_time();
    CHECK(e->forward(e, img2, B, out, &ws, NULL, "model.") == 0);
    printf("hiera forward, batch 2 at 224: %.3f s\n", xt_time() - t0);
    for (int s = 0; s < 4; s++) {
        char name[40];
        snprintf(name, sizeof name, "expected.intermediates%d", s);
        const float *ref = xt_st_f32(st, name, NULL); // NHWC
        int C = e->stage_c[s], HW = e->stage_h[s] * e->stage_w[s];
        for (int b = 0; b < B; b++) {
            const float *o = out[s] + (size_t)b * C * HW;
            for (int c = 0; c < C; c++)
                for (int p = 0; p < HW; p++) nhwc[(size_t)p * C + c] = o[(size_t)c * HW + p];
            CHECK_CLOSE(nhwc, ref, (long)C * HW, 0, 1e-4, name); // README: f32 vs f64 <= 4.3e-6 scaled
        }
    }
    CHECK_CLOSE(out[3], xt_st_f32(st, "expected.out", NULL), 128 * 49, 0, 1e-4, "expected.out (NCHW)");
    xt_arena_free(&ws);
    e->free(e);

    expect_fail(st, "{" BASE ",\"stages\":[1,2,3]}", 224, "'mask_unit_attn' has 4 entries for 3 stages");
    expect_fail(st, "{" BASE ",\"stages\":[1,2,0,2]}", 224, "'stages'[2] = 0 is out of range");
    expect_fail(st, "{\"embed_dim\":0,\"stages\":[1,2,3,2]}", 224, "'embed_dim' = 0 is out of range");
    expect_fail(st, "{\"embed_dim\":16,\"num_heads\":3,\"stages\":[1,2,3,2]}", 224, "not divisible by 3 heads");
    expect_fail(st, "{\"embed_dim\":16,\"q_pool\":4,\"stages\":[1,2,3,2]}", 224, "'q_pool' = 4 must be less than");
    expect_fail(st, "{\"embed_dim\":16,\"dim_mul\":1.0,\"stages\":[1,2,3,2]}", 224, "must change the width");
    expect_fail(st, "{\"embed_dim\":16,\"mlp_ratio\":0,\"stages\":[1,2,3,2]}", 224, "mlp_ratio");
    expect_fail(st, "{\"embed_dim\":16,\"q_stride\":[2],\"stages\":[1,2,3,2]}", 224, "need 2 entries");
    expect_fail(st, "{\"embed_dim\":16,\"mask_unit_size\":[8,4],\"stages\":[1,2,3,2]}", 224, "square");
    expect_fail(st, CFG, 200, "not divisible by q_stride^3 = 8");
    expect_fail(st, CFG, 0, "out of range");
    expect_fail(st, CFG, 1 << 20, "out of range");
    expect_fail(st, CFG, 256, "pos_embed");                                       // pos_embed is for 224
    expect_fail(st, "{" BASE ",\"stages\":[1,2,4,2]}", 224, "'model.blocks.6.attn.qkv.weight' has shape"); // block 6 moves into stage 2
    expect_fail(st, "{" BASE ",\"stages\":[1,2,3,1]}", 224, "'model.blocks.7.");       // unused
    expect_fail(st, "{" BASE ",\"stages\":[1,2,3,2],\"in_chans\":2}", 224, "patch_embed.proj.weight");
    expect_fail(st, "{" BASE ",\"stages\":[1,2,3,2],\"mask_unit_size\":[16,16]}", 224, "mask units");
    {
        xt_json *j = J("[1,2]");
        CHECK(xt_hiera_new(st, j, "model.", 224) == NULL);
        CHECK(strstr(xt_error_buffer(), "JSON object") != NULL);
        xt_json_free(j);
    }
    for (int s = 0; s < 4; s++) free(out[s]);
    free(img2);
    free(nhwc);
    xt_json_free(cfg);
    xt_st_close(st);
    return check_summary("hiera");
}
