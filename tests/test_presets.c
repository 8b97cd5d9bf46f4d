// test_presets.c — named official sizes: parameter counts computed from each preset's config
// against the published numbers (1000-class classifiers: timm 0.9.7 for Swin V2 / ConvNeXt,
// hiera v0.1.4 for Hiera — final norm + classifier Linear included, as those tables count them);
// the same counting code against the real tensors of the golden files (features only); presets
// with overrides building real encoders through xt_backbone_new; unknown names as errors.
#include "check.h"
#include "models/models.h"

static xt_json *J(const char *s) {
    xt_json *j = xt_json_parse(s, strlen(s), "test config");
    if (!j) { fprintf(stderr, "bad test json: %s (%s)\n", s, xt_error_buffer()); exit(2); }
    return j;
}

static int64_t file_params(xt_st *st, const char *prefix) {
    int64_t n = 0;
    for (int i = 0; i < st->n; i++)
        if (!strncmp(st->t[i].name, prefix, strlen(prefix)) && strncmp(st->t[i].name, "input.", 6) &&
            strncmp(st->t[i].name, "expected.", 9))
            n += st->t[i].numel;
    return n;
}

// Builds cfg on golden file `file` (weights under prefix, region size S), runs nothing; checks
// the encoder's own count, the config count and the file agree.
static void golden_case(const char *file, const char *prefix, const char *cfg, int S) {
    xt_st *st = xt_st_open(golden(file));
    CHECK(st != NULL);
    if (!st) return;
    xt_json *j = J(cfg);
    int64_t counted = -1, infile = file_params(st, prefix);
    CHECK(xt_backbone_param_count(j, S, -1, &counted) == 0);
    xt_encoder *e = xt_backbone_new(st, j, prefix, S);
    if (!e) fprintf(stderr, "%s: %s\n", file, xt_error_buffer());
    CHECK(e != NULL);
    printf("%-28s file %lld, config count %lld, encoder %lld\n", file, (long long)infile, (long long)counted,
           e ? (long long)e->n_params : -1LL);
    CHECK(counted == infile);
    if (e) {
        CHECK(e->n_params == 0 || e->n_params == infile); // builders that report it must agree
        e->free(e);
    }
    xt_json_free(j);
    xt_st_close(st);
}

int main(void) {
    // 1. every preset vs its published size
    CHECK(xt_preset_count() == 13);
    for (int i = 0; i < xt_preset_count(); i++) {
        const xt_preset *p = xt_preset_at(i);
        xt_json *j = J(p->config);
        CHECK(!strcmp(xt_json_str(j, "arch", ""), p->arch));
        int64_t n = 0, feat = 0;
        CHECK(xt_backbone_param_count(j, 0, 1000, &n) == 0);
        CHECK(xt_backbone_param_count(j, 0, -1, &feat) == 0);
        double m = n / 1e6;
        // published numbers are rounded to 0.01 M
        printf("%-36s %9.4f M (published %.2f M, %s); features only %.4f M\n", p->name, m, p->published_m, p->source,
               feat / 1e6);
        if (!(fabs(m - p->published_m) <= 0.0051)) {
            fprintf(stderr, "%s: %.4f M vs published %.2f M\n", p->name, m, p->published_m);
            CHECK(0);
        } else
            CHECK(1);
        CHECK(feat < n);
        xt_json_free(j);
    }
    // exact counts of the official hiera.Hiera classifiers, constructed in PyTorch from hiera
    // v0.1.4's hiera.py (sum of p.numel() over parameters, 1000 classes)
    {
        static const struct { const char *name; int64_t n; } exact[] = {
            {"hiera_tiny_224", 27910216},      {"hiera_small_224", 35008072}, {"hiera_base_224", 51524968},
            {"hiera_base_plus_224", 69896616}, {"hiera_large_224", 213739912},
        };
        for (int i = 0; i < 5; i++) {
            xt_json *j = J(xt_preset_config(exact[i].name));
            int64_t n = 0;
            CHECK(xt_backbone_param_count(j, 0, 1000, &n) == 0 && n == exact[i].n);
            xt_json_free(j);
        }
    }
    // aliases (xT backbone_class names)
    CHECK(xt_preset_find("swinv2_large_window16_256_timm") == xt_preset_find("swinv2_large_window12to16_192to256"));
    CHECK(xt_preset_find("hiera_base_plus") && !strcmp(xt_preset_find("hiera_base_plus")->name, "hiera_base_plus_224"));
    CHECK(xt_preset_config("swinv2_base_window16_256_timm") != NULL);
    CHECK(strstr(xt_preset_config("swinv2_large"), "\"pretrained_window_sizes\":[12,12,12,6]") != NULL);
    CHECK(xt_preset_config("resnet50") == NULL);
    CHECK(strstr(xt_error_buffer(), "unknown preset 'resnet50'") && strstr(xt_error_buffer(), "convnext_large"));
    CHECK(xt_preset_find(NULL) == NULL);

    // 2. the counting code against real files, through presets with overrides
    golden_case("convnext_region.safetensors", "",
                "{\"preset\":\"convnext_tiny\",\"dims\":[16,32,64,128],\"depths\":[2,2,2,2]}", 256);
    golden_case("convnext_region.safetensors", "", "{\"arch\":\"convnext\",\"dims\":[16,32,64,128],\"depths\":[2,2,2,2]}",
                256);
    golden_case("hiera_region.safetensors", "model.",
                "{\"preset\":\"hiera_tiny\",\"embed_dim\":16,\"stages\":[1,2,3,2]}", 224);
    golden_case("swinv2_region_256.safetensors", "model.",
                "{\"preset\":\"swinv2_tiny_window16_256\",\"embed_dim\":16,\"depths\":[2,2,2,2],"
                "\"num_heads\":[1,2,4,8],\"img_size\":null}", 256);

    // 3. bad backbone configs
    {
        xt_json *j = J("{\"preset\":\"nope\"}");
        int64_t n;
        CHECK(xt_backbone_param_count(j, 0, -1, &n) == -1);
        CHECK(strstr(xt_error_buffer(), "unknown preset 'nope'") != NULL);
        CHECK(xt_backbone_new(NULL, j, "", 256) == NULL);
        xt_json_free(j);
        j = J("{\"arch\":\"resnet\"}");
        CHECK(xt_backbone_param_count(j, 0, -1, &n) == -1);
        CHECK(strstr(xt_error_buffer(), "unknown arch 'resnet'") != NULL);
        CHECK(xt_backbone_new(NULL, j, "", 256) == NULL);
        CHECK(strstr(xt_error_buffer(), "unknown arch 'resnet'") != NULL);
        xt_json_free(j);
        j = J("{\"embed_dim\":96}");
        CHECK(xt_backbone_new(NULL, j, "", 256) == NULL);
        CHECK(strstr(xt_error_buffer(), "no \"arch\"") != NULL);
        xt_json_free(j);
        j = J("[1]");
        CHECK(xt_backbone_resolve(j) == NULL);
        xt_json_free(j);
        j = J("{\"arch\":\"convnext\",\"dims\":[16,32],\"depths\":[2]}");
        CHECK(xt_backbone_param_count(j, 0, -1, &n) == -1);
        xt_json_free(j);
    }
    // 4. overrides win over the preset; the expanded object keeps the rest
    {
        xt_json *j = J("{\"preset\":\"hiera_base_plus_224\",\"in_chans\":2}");
        xt_json *r = xt_backbone_resolve(j);
        CHECK(r != NULL);
        int v = 0;
        CHECK(r && xt_json_int(r, "in_chans", 0, &v) == 0 && v == 2);
        CHECK(r && xt_json_int(r, "embed_dim", 0, &v) == 0 && v == 112);
        CHECK(r && !xt_json_get(r, "preset"));
        int64_t n3, n2;
        xt_json *j3 = J("{\"preset\":\"hiera_base_plus_224\"}");
        CHECK(xt_backbone_param_count(j3, 0, -1, &n3) == 0 && xt_backbone_param_count(j, 0, -1, &n2) == 0);
        CHECK(n3 - n2 == 112 * 7 * 7); // one input channel fewer in the patch embedding
        xt_json_free(r);
        xt_json_free(j);
        xt_json_free(j3);
    }
    // 5. an xT model naming its encoder with "backbone" (preset + overrides) instead of "swin":
    //    the xt_cls_naive golden file's regions encode to its expected.encoder.3
    {
        xt_st *st = xt_st_open(golden("xt_cls_naive.safetensors"));
        CHECK(st != NULL);
        xt_json *cfg = J("{\"kind\":\"xt\",\"cls_head\":\"naive\",\"crop_size\":256,\"mlp_ratio\":4,"
                         "\"num_classes\":10,\"backbone\":{\"preset\":\"swinv2_tiny\",\"embed_dim\":8,"
                         "\"depths\":[2,2,2,2],\"num_heads\":[1,1,2,4],\"img_size\":null}}");
        xt_xtmodel *m = st ? xt_xtmodel_new(st, cfg) : NULL;
        if (!m) fprintf(stderr, "xt with backbone: %s\n", xt_error_buffer());
        CHECK(m != NULL);
        if (m) {
            const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
            CHECK(!strcmp(xt_xtmodel_encoder(m)->arch, "swinv2") && in->feat_c == 64 && in->feat_h == 8);
            const float *img = xt_st_f32(st, "input.image", NULL); // (1, 3, 512, 512)
            float *reg = malloc((size_t)4 * 3 * 256 * 256 * sizeof(float));
            float *feat = malloc((size_t)4 * xt_xtmodel_feat_numel(in) * sizeof(float));
            for (int r = 0; r < 4; r++) xt_xtmodel_crop_region(m, reg + (size_t)r * 3 * 256 * 256, img, 512, 512, r / 2, r % 2);
            xt_arena ws;
            CHECK(xt_arena_init(&ws, xt_xtmodel_encode_ws_size(m, 4)) == 0);
            CHECK(xt_xtmodel_encode_regions(m, reg, 4, feat, &ws) == 0);
            CHECK_CLOSE(feat, xt_st_f32(st, "expected.encoder.3", NULL), 4L * 64 * 64, 0, 1e-4, "encoder.3 via backbone");
            xt_arena_free(&ws);
            free(reg);
            free(feat);
            xt_xtmodel_free(m);
        }
        xt_json_free(cfg);
        xt_st_close(st);
    }
    return check_summary("presets");
}
