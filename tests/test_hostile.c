// test_hostile.c — regression tests for bugs the fuzz targets (tests/fuzz/, docs/robustness.md)
// found in the loaders: each input below once crashed, hit undefined behaviour, leaked or
// allocated absurdly; now each must give a clear error (or a correct result) and nothing else.
// The suite runs this at -O2 and under ASan+UBSan (`make asan`), which is what keeps them fixed.
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "formats/safetensors.h"
#include "formats/raster.h"
#include "models/models.h"

const char *xt_error_buffer(void);

static xt_json *P(const char *s) { return xt_json_parse(s, strlen(s), "hostile"); }

// fuzz_json: an integer array entry outside int's range was cast to int (UB; wraps in practice,
// so "dims": [162147483648] became a negative width).
static void json_int_array_range(void) {
    const char *bad[] = {"{\"d\": [162147483648, 32]}", "{\"d\": [1e300]}", "{\"d\": [-2147483649]}", "{\"d\": [2147483648]}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xt_json *j = P(bad[i]);
        int out[4];
        CHECK(j != NULL);
        CHECK(xt_json_int_array(j, "d", out, 4) == -1);
        CHECK(strstr(xt_error_buffer(), "'d'[0] must be an integer") != NULL);
        xt_json_free(j);
    }
    xt_json *j = P("{\"d\": [2147483647, -2147483647, 0]}");
    int out[4];
    CHECK(xt_json_int_array(j, "d", out, 4) == 3 && out[0] == 2147483647 && out[1] == -2147483647 && out[2] == 0);
    xt_json_free(j);
}


// Absurd configs on valid weights: every builder must refuse them with a message (never crash,
// never try to allocate for them). Weights come from small golden files.
typedef struct { const char *file, *cfg, *want; } bad_cfg;

static const bad_cfg bad_cfgs[] = {
    // xT: region size, widths, context sizes
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":0,\"num_classes\":10,\"context\":{\"hidden_size\":128}}", "out of range"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":-128,\"num_classes\":10}", "out of range"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":1e12,\"num_classes\":10}", "must be an integer"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"context\":{\"hidden_size\":128,\"in_context_patches\":2000000000}}", "out of range"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"variant\":\"v\",\"variants\":[{\"name\":\"v\",\"in_context_patches\":2000000000}],\"context\":{\"hidden_size\":128}}", "out of range"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"context\":{\"hidden_size\":130}}", "out of range"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"context\":{\"hidden_size\":128,\"n_layer\":100000}}", "out of range"},
    // Swin V2 inside xT: window 0, heads not dividing widths, huge depths, odd region sizes
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"context\":{\"hidden_size\":128},\"swin\":{\"depths\":[2,2,2,2],\"embed_dim\":8,\"num_heads\":[1,1,2,4],\"window_size\":0}}", "window_size 0"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"context\":{\"hidden_size\":128},\"swin\":{\"depths\":[2,2,2,2],\"embed_dim\":8,\"num_heads\":[3,1,2,4],\"window_size\":16}}", "heads"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"context\":{\"hidden_size\":128},\"swin\":{\"depths\":[2,2,2,1000000000],\"embed_dim\":8,\"num_heads\":[1,1,2,4],\"window_size\":16}}", "out of range"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":130,\"num_classes\":10,\"context\":{\"hidden_size\":128},\"swin\":{\"depths\":[2,2,2,2],\"embed_dim\":8,\"num_heads\":[1,1,2,4],\"window_size\":16}}", "multiple of the patch size"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"context\":{\"hidden_size\":128},\"swin\":{\"depths\":[2,2,2,2],\"embed_dim\":-8,\"num_heads\":[1,1,2,4],\"window_size\":16}}", "embed_dim"},
    {"xt_cls_xl_incontext", "{\"kind\":\"xt\",\"cls_head\":\"xl\",\"crop_size\":128,\"num_classes\":10,\"context\":{\"hidden_size\":128},\"swin\":{\"depths\":[162147483648,2,2,2],\"embed_dim\":8,\"num_heads\":[1,1,2,4],\"window_size\":16}}", "must be an integer"},
};

static void bad_model_configs(void) {
    for (size_t i = 0; i < sizeof bad_cfgs / sizeof *bad_cfgs; i++) {
        char f[128];
        snprintf(f, sizeof f, "%s.safetensors", bad_cfgs[i].file);
        xt_st *st = xt_st_open(golden(f));
        CHECK(st != NULL);
        if (!st) continue;
        xt_json *cfg = P(bad_cfgs[i].cfg);
        CHECK(cfg != NULL);
        xt_error_clear();
        xt_xtmodel *m = xt_xtmodel_new(st, cfg);
        CHECK(m == NULL);
        if (!strstr(xt_error_buffer(), bad_cfgs[i].want)) {
            fprintf(stderr, "bad config %zu: error '%s' lacks '%s'\n", i, xt_error_buffer(), bad_cfgs[i].want);
            CHECK(0);
        }
        xt_xtmodel_free(m);
        xt_json_free(cfg);
        xt_st_close(st);
    }
}

// review after fuzz_raster: a progressive JPEG is decoded by libjpeg into a whole-image
// coefficient buffer; 358 bytes declaring 60000x60000 made it allocate ~7 GB (and spin for
// seconds). Now refused at open. A small progressive JPEG still decodes exactly like its
// baseline original (jpegtran -progressive is lossless).
static void progressive_jpeg(void) {
    double t0 = xt_time();
    xt_raster *r = xt_raster_open("tests/ref/hostile_progressive_60000.jpg");
    CHECK(r == NULL);
    CHECK(strstr(xt_error_buffer(), "progressive JPEG of 60000x60000 needs the whole image") != NULL);
    CHECK(xt_time() - t0 < 1.0);
    xt_raster_close(r);
    const char *pairs[][2] = {{"tests/fuzz/corpus_raster/gray.jpg", "tests/fuzz/corpus_raster/gray_progressive.jpg"},
                              {"tests/fuzz/corpus_raster/rgb.jpg", "tests/fuzz/corpus_raster/rgb_progressive.jpg"}};
    for (int k = 0; k < 2; k++) {
        xt_raster *a = xt_raster_open(pairs[k][0]), *b = xt_raster_open(pairs[k][1]);
        CHECK(a && b);
        if (!a || !b) { xt_raster_close(a); xt_raster_close(b); continue; }
        const xt_raster_info *ia = xt_raster_get_info(a), *ib = xt_raster_get_info(b);
        CHECK(ia->width == ib->width && ia->height == ib->height && ia->bands == ib->bands);
        CHECK(strstr(ib->compression, "progressive") != NULL);
        struct xt_rect rc = {-2, -1, ia->width + 3, ia->height + 2};
        size_t n = (size_t)ia->bands * rc.w * rc.h;
        float *x = malloc(n * sizeof *x), *y = malloc(n * sizeof *y);
        CHECK(xt_raster_read_rect(a, rc, NULL, ia->bands, -1.f, x) == 0);
        CHECK(xt_raster_read_rect(b, rc, NULL, ib->bands, -1.f, y) == 0);
        CHECK(memcmp(x, y, n * sizeof *x) == 0); // identical pixels (exact)
        free(x);
        free(y);
        xt_raster_close(a);
        xt_raster_close(b);
    }
}

// fuzz_model (param counts from a config alone): int64 overflow on embed_dim 2e9 and double ->
// int64 casts of mlp_ratio / dim_mul 1e300 were UB. Now out-of-range values are refused.
static void param_count_ranges(void) {
    const char *bad[] = {
        "{\"arch\":\"swinv2\",\"embed_dim\":2000000000,\"depths\":[2,2,2,2],\"num_heads\":[1,1,1,1]}",
        "{\"arch\":\"swinv2\",\"embed_dim\":96,\"depths\":[2,2,2,2],\"num_heads\":[1,1,1,1],\"mlp_ratio\":-1}",
        "{\"arch\":\"convnext\",\"dims\":[16,32,64,128],\"depths\":[2,2,2,2],\"mlp_ratio\":1e300}",
        "{\"arch\":\"convnext\",\"dims\":[16,32,64,128],\"depths\":[2,2,2,2],\"patch_size\":-4}",
        "{\"arch\":\"hiera\",\"stages\":[1,2,3,2],\"embed_dim\":16,\"dim_mul\":1e300}",
        "{\"arch\":\"hiera\",\"stages\":[1,2,3,2],\"embed_dim\":32,\"dim_mul\":16,\"img_size\":224}",
        "{\"arch\":\"hiera\",\"stages\":[1,2,3,2],\"embed_dim\":16,\"img_size\":2000000000}",
        "{\"arch\":\"hiera\",\"stages\":[1,2,3,2000000],\"embed_dim\":16}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xt_json *j = P(bad[i]);
        int64_t n = 12345;
        CHECK(j != NULL);
        CHECK(xt_backbone_param_count(j, 0, 1000, &n) == -1);
        CHECK(strstr(xt_error_buffer(), "out of range") || strstr(xt_error_buffer(), "too wide"));
        xt_json_free(j);
    }
    // a sane config still counts (Swin V2 tiny, 1000 classes: 28.35 M as timm)
    xt_json *j = P("{\"preset\":\"swinv2_tiny_window16_256\"}");
    int64_t n = 0;
    CHECK(xt_backbone_param_count(j, 256, 1000, &n) == 0 && n > 28000000 && n < 28700000);
    xt_json_free(j);
}

int main(void) {
    json_int_array_range();
    bad_model_configs();
    progressive_jpeg();
    param_count_ranges();
    return check_summary("hostile");
}
