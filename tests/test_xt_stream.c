// test_xt_stream.c — the streaming model API (models.h xt_xtmodel, run/ctx.h xt_ctx and token
// stores) used the way the streaming engineer uses it: regions cropped one at a time, encoded in
// small batches, pushed row-major; plus zero padding, token stores, window memory and bad input.
#include <math.h>
#include <string.h>

#include "check.h"
#include "run/ctx.h"

static xt_json *config_of(xt_st *st) {
    const char *cs = xt_st_meta(st, "config");
    return xt_json_parse(cs, strlen(cs), "config");
}

// logits of image (C, H, W) through crop -> encode (batches of B) -> push -> logits
static int classify(const xt_xtmodel *m, const float *img, int H, int W, int B, float *logits, xt_token_store *store) {
    const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
    int S = in->crop_size, HP = (H + S - 1) / S, WP = (W + S - 1) / S;
    size_t rs = (size_t)in->in_chans * S * S, fs = xt_xtmodel_feat_numel(in);
    float *reg = xt_xmalloc(B * rs * sizeof(float)), *feat = xt_xmalloc(B * fs * sizeof(float));
    xt_arena ws;
    if (xt_arena_init(&ws, xt_xtmodel_encode_ws_size(m, B))) return -1;
    xt_ctx *c = xt_ctx_begin(m, HP, WP);
    int rc = c ? 0 : -1;
    if (!rc && store) rc = xt_ctx_set_store(c, store);
    for (int r0 = 0; !rc && r0 < HP * WP; r0 += B) {
        int nb = HP * WP - r0 < B ? HP * WP - r0 : B;
        for (int b = 0; b < nb; b++) xt_xtmodel_crop_region(m, reg + b * rs, img, H, W, (r0 + b) / WP, (r0 + b) % WP);
        rc = xt_xtmodel_encode_regions(m, reg, nb, feat, &ws);
        for (int b = 0; !rc && b < nb; b++) rc = xt_ctx_push(c, feat + b * fs);
    }
    if (!rc) rc = xt_ctx_logits(c, logits);
    xt_ctx_free(c);
    xt_arena_free(&ws);
    free(reg), free(feat);
    return rc;
}

int main(void) {
    xt_st *st = xt_st_open(golden("xt_cls_xl.safetensors"));
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    xt_json *cfg = config_of(st);
    xt_xtmodel *m = xt_xtmodel_new(st, cfg);
    CHECK(m != NULL);
    if (!m) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
    CHECK(in->crop_size == 128 && in->in_chans == 3 && in->num_classes == 10 && in->feat_c == 64 && in->feat_h == 4);
    CHECK(in->head == XT_HEAD_XL && in->attn == XT_ATTN_NAIVE && !in->streaming && in->hidden == 128);
    const float *img = xt_st_f32(st, "input.image", NULL), *ref = xt_st_f32(st, "expected.logits", NULL);
    float lg[10], lg2[10];
    // both images of the batch, one region at a time and two at a time: the official logits
    for (int n = 0; n < 2; n++) {
        CHECK(classify(m, img + (size_t)n * 3 * 256 * 256, 256, 256, 1, lg, NULL) == 0);
        CHECK_CLOSE(lg, ref + 10 * n, 10, 0, 1e-4, "streamed logits, B=1");
        CHECK(classify(m, img + (size_t)n * 3 * 256 * 256, 256, 256, 2, lg, xt_token_store_new(128, 0, NULL)) == 0);
        CHECK_CLOSE(lg, ref + 10 * n, 10, 0, 1e-4, "streamed logits, B=2, file token store");
    }
    // token store: 3 rows in memory, the rest in the file; reads across the boundary; take
    {
        float rows[7 * 4], got[7 * 4], tail[4] = {-1, -2, -3, -4};
        for (int i = 0; i < 7 * 4; i++) rows[i] = (float)i;
        xt_token_store *ts = xt_token_store_new(4, 3 * 4 * sizeof(float), NULL);
        CHECK(ts && xt_token_store_width(ts) == 4);
        CHECK(xt_token_store_append(ts, rows, 2) == 0 && xt_token_store_append(ts, rows + 8, 5) == 0);
        CHECK(xt_token_store_rows(ts) == 7 && xt_token_store_read(ts, 1, 5, got) == 0);
        CHECK(memcmp(got, rows + 4, 5 * 4 * sizeof(float)) == 0);
        CHECK(xt_token_store_read(ts, 5, 3, got) == -1 && strstr(xt_error_buffer(), "of 7 rows"));
        for (int spilled = 1; spilled >= 0; spilled--) { // then the same all in memory
            float *x = xt_token_store_take(ts, tail, 1);
            CHECK(x && memcmp(x, rows, 7 * 4 * sizeof(float)) == 0 && memcmp(x + 7 * 4, tail, sizeof tail) == 0);
            CHECK(xt_token_store_rows(ts) == 0);
            free(x);
            xt_token_store_free(ts);
            ts = xt_token_store_new(4, SIZE_MAX, NULL);
            CHECK(xt_token_store_append(ts, rows, 7) == 0);
        }
        xt_token_store_free(ts);
        CHECK(xt_token_store_new(0, 0, NULL) == NULL);
    }
    // zero padding: a 250 x 230 crop of image 0 equals the 256 x 256 image with that area zeroed
    {
        float *crop = xt_xmalloc(3 * 250 * 230 * sizeof(float)), *z = xt_xcalloc(3 * 256 * 256, sizeof(float));
        for (int c = 0; c < 3; c++)
            for (int y = 0; y < 250; y++) {
                memcpy(crop + ((size_t)c * 250 + y) * 230, img + ((size_t)c * 256 + y) * 256, 230 * sizeof(float));
                memcpy(z + ((size_t)c * 256 + y) * 256, img + ((size_t)c * 256 + y) * 256, 230 * sizeof(float));
            }
        CHECK(classify(m, crop, 250, 230, 3, lg, NULL) == 0);
        CHECK(classify(m, z, 256, 256, 4, lg2, NULL) == 0);
        CHECK_CLOSE(lg, lg2, 10, 0, 1e-6, "padded 250 x 230 == zero-filled 256 x 256");
        // an image smaller than one region: 1 x 1 grid
        CHECK(classify(m, crop, 100, 90, 1, lg, NULL) == 0);
        free(crop), free(z);
    }
    // misuse: clear errors, no crash
    xt_ctx *c = xt_ctx_begin(m, 1, 1);
    CHECK(c && xt_ctx_logits(c, lg) == -1 && strstr(xt_error_buffer(), "0 of 1 regions"));
    float *f = xt_xcalloc(xt_xtmodel_feat_numel(in), sizeof(float));
    CHECK(xt_ctx_push(c, f) == 0 && xt_ctx_push(c, f) == -1 && strstr(xt_error_buffer(), "more than"));
    xt_ctx_free(c);
    free(f);
    CHECK(xt_ctx_begin(m, 0, 3) == NULL);
    xt_xtmodel_params p = {"nosuch", 0};
    CHECK(xt_xtmodel_new_with(st, cfg, p) == NULL && strstr(xt_error_buffer(), "unknown variant 'nosuch'"));
    xt_xtmodel_free(m);
    // bad configs
    const char *bad[] = {"{\"kind\":\"xt\",\"cls_head\":\"foo\",\"crop_size\":128,\"num_classes\":10,\"swin\":{}}",
                         "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,"
                         "\"context\":{\"attention_method\":\"flash\"},\"swin\":{}}",
                         "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":-5,\"num_classes\":10,\"swin\":{}}",
                         "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,"
                         "\"context\":{\"attention_method\":\"naive\",\"hidden_size\":96,\"n_layer\":2},\"swin\":{}}"};
    const char *msg[] = {"cls_head 'foo'", "attention_method 'flash'", "out of range", "decoder.input_proj.weight"};
    for (int i = 0; i < 4; i++) {
        xt_json *b = xt_json_parse(bad[i], strlen(bad[i]), "test");
        xt_xtmodel_params q = {NULL, 1};
        CHECK(xt_xtmodel_new_with(st, b, q) == NULL);
        if (!strstr(xt_error_buffer(), msg[i])) { fprintf(stderr, "bad config %d: %s\n", i, xt_error_buffer()); CHECK(0); }
        xt_json_free(b);
    }
    // bad model files: a missing weight, a misshaped weight, a NaN weight -> NULL + message
    {
        const char *what[] = {"missing", "shape", "nan"};
        const char *msg[] = {"decoder.cls.1.bias", "decoder.cls.1.bias", "non-finite"};
        for (int k = 0; k < 3; k++) {
            xt_st_writer *w = xt_st_writer_new();
            xt_st_writer_meta(w, "config", xt_st_meta(st, "config"));
            for (int i = 0; i < st->n; i++) {
                const xt_st_tensor *t = &st->t[i];
                if (strncmp(t->name, "decoder.", 8)) continue;
                int is = !strcmp(t->name, "decoder.cls.1.bias");
                if (is && k == 0) continue;
                float *d = xt_xmalloc(t->numel * sizeof(float));
                memcpy(d, xt_st_f32(st, t->name, NULL), t->numel * sizeof(float));
                int64_t sh[XT_MAX_DIMS];
                memcpy(sh, t->shape, sizeof sh);
                if (is && k == 2) d[3] = NAN;
                if (is && k == 1) sh[0] = 9;
                xt_st_writer_add(w, t->name, d, t->ndim, sh);
                free(d);
            }
            char path[256];
            snprintf(path, sizeof path, "%s/xt_bad_%s.safetensors", getenv("BUILD") ? getenv("BUILD") : "build", what[k]);
            CHECK(xt_st_writer_save(w, path) == 0);
            xt_st *bs = xt_st_open(path);
            CHECK(bs != NULL);
            xt_xtmodel_params q = {NULL, 1};
            xt_xtmodel *bm = bs ? xt_xtmodel_new_with(bs, cfg, q) : NULL;
            CHECK(bm == NULL);
            if (!strstr(xt_error_buffer(), msg[k])) { fprintf(stderr, "bad file %s: %s\n", what[k], xt_error_buffer()); CHECK(0); }
            xt_xtmodel_free(bm);
            xt_st_close(bs);
        }
    }
    xt_json_free(cfg);
    xt_st_close(st);

    // windows mode streams: a 24 x 24 region grid (9,216 tokens) through the in-context model,
    // official and memfix, from the file's weights with random features
    st = xt_st_open(golden("xt_cls_xl_incontext.safetensors"));
    cfg = config_of(st);
    for (int v = 0; v < 2; v++) {
        xt_xtmodel_params q = {v ? "memfix" : NULL, 1};
        xt_xtmodel *mw = xt_xtmodel_new_with(st, cfg, q);
        CHECK(mw && xt_xtmodel_get_info(mw)->streaming);
        const xt_xtmodel_info *iw = xt_xtmodel_get_info(mw);
        size_t fs = xt_xtmodel_feat_numel(iw);
        float *feat = xt_xmalloc(fs * sizeof(float));
        xt_ctx *cw = xt_ctx_begin(mw, 24, 24);
        unsigned s = 5;
        int rc = 0;
        for (int r = 0; r < 24 * 24 && !rc; r++) {
            for (size_t i = 0; i < fs; i++) { s = s * 1664525u + 1013904223u; feat[i] = (s >> 9) / 8388608.0f - 1.0f; }
            rc = xt_ctx_push(cw, feat);
        }
        CHECK(rc == 0 && xt_ctx_logits(cw, lg) == 0);
        int fin = 1;
        for (int k = 0; k < 10; k++) fin &= isfinite(lg[k]) != 0;
        CHECK(fin);
        xt_ctx_free(cw);
        free(feat);
        xt_xtmodel_free(mw);
    }
    xt_json_free(cfg);
    // a model file can choose a variant in its config ("variant": "memfix")
    {
        const char *cs = xt_st_meta(st, "config");
        char *v = xt_xmalloc(strlen(cs) + 32);
        sprintf(v, "{\"variant\": \"memfix\", %s", cs + 1);
        xt_json *vc = xt_json_parse(v, strlen(v), "config");
        xt_xtmodel_params q = {NULL, 1};
        xt_xtmodel *mv = xt_xtmodel_new_with(st, vc, q);
        CHECK(mv && xt_xtmodel_get_info(mv)->memfix == 1 && xt_xtmodel_get_info(mv)->in_context_patches == 16);
        xt_xtmodel_free(mv);
        xt_json_free(vc);
        free(v);
    }
    xt_st_close(st);
    return check_summary("xt_stream");
}
