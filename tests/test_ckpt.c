// test_ckpt.c — PyTorch checkpoints: the golden .ckpt files give the golden weights bit for bit,
// every view/dtype/format path matches torch's own conversion (tests/ref/ckpt_views*), every
// hostile file fails with its message, and the config is inferred / checked / reported missing.
#include "check.h"
#include "run/convert.h"

// Every weight of the golden model file (not input.*/expected.*) equals the checkpoint's tensor
// of the same name: same key set, same shape, same bytes.
static void same_weights(const char *ckpt, const char *golden_st, const char *format, int payload) {
    xt_ckpt_opts o = {0};
    xt_ckpt *ck = xt_ckpt_load(ckpt, &o);
    xt_st *st = xt_st_open(golden_st);
    CHECK(ck && st);
    if (!ck || !st) { fprintf(stderr, "%s\n", xt_error_buffer()); xt_ckpt_free(ck); xt_st_close(st); return; }
    CHECK(!strcmp(ck->format, format));
    CHECK(ck->trainer_payload == payload);
    int nw = 0, same = 0;
    for (int i = 0; i < st->n; i++) {
        const xt_st_tensor *t = &st->t[i];
        if (!strncmp(t->name, "input.", 6) || !strncmp(t->name, "expected.", 9)) continue;
        nw++;
        const xt_ck_tensor *c = xt_ckpt_find(ck, t->name);
        int ok = c && c->ndim == t->ndim && c->numel == t->numel;
        for (int k = 0; ok && k < t->ndim; k++) ok = c->shape[k] == t->shape[k];
        ok = ok && !memcmp(c->data, t->raw, (size_t)t->numel * 4);
        if (!ok) fprintf(stderr, "%s: '%s' differs or is missing\n", ckpt, t->name);
        same += ok;
    }
    CHECK(nw > 100 && same == nw);
    CHECK(ck->n == nw); // no extra tensors
    const char *wk = xt_st_meta(st, "weight_keys");
    CHECK(wk && atoi(wk) == ck->n);
    printf("%s: %d of %d weights bit-identical (%s format)\n", ckpt, same, nw, ck->format);
    xt_ckpt_free(ck);
    xt_st_close(st);
}

static void views(const char *file, int legacy) {
    char path[256];
    snprintf(path, sizeof path, "tests/ref/%s", file);
    xt_ckpt *ck = xt_ckpt_load(path, NULL);
    xt_st *ref = xt_st_open("tests/ref/ckpt_views_expected.safetensors");
    CHECK(ck && ref);
    if (!ck || !ref) { fprintf(stderr, "%s\n", xt_error_buffer()); xt_ckpt_free(ck); xt_st_close(ref); return; }
    CHECK(ck->n == ref->n);
    int same = 0;
    for (int i = 0; i < ref->n; i++) {
        const xt_st_tensor *t = &ref->t[i];
        const xt_ck_tensor *c = xt_ckpt_find(ck, t->name);
        int ok = c && c->ndim == t->ndim && c->numel == t->numel;
        for (int k = 0; ok && k < t->ndim; k++) ok = c->shape[k] == t->shape[k];
        ok = ok && (!t->numel || !memcmp(c->data, t->raw, (size_t)t->numel * 4));
        if (!ok) fprintf(stderr, "%s: '%s' differs from torch's float32 conversion\n", file, t->name);
        same += ok;
    }
    CHECK(same == ref->n);
    CHECK(xt_ckpt_find(ck, "int_big") == NULL); // 2^40 is not exact in float32: skipped with a note
    int noted = 0, half = 0;
    for (int i = 0; i < ck->n_notes; i++) {
        noted |= strstr(ck->notes[i], "int_big") != NULL;
        half |= strstr(ck->notes[i], "1 tensors stored as HalfStorage converted to float32") != NULL;
    }
    CHECK(noted && half);
    CHECK(legacy ? !strcmp(ck->format, "legacy") : (!strcmp(ck->format, "zip") && ck->epoch == 3));
    printf("%s: %d tensors equal torch's conversion\n", file, same);
    xt_ckpt_free(ck);
    xt_st_close(ref);
}

static void hostile(const char *name, const char *want) {
    char path[256];
    snprintf(path, sizeof path, "tests/ref/ckpt_bad_%s.ckpt", name);
    xt_ckpt *ck = xt_ckpt_load(path, NULL);
    const char *e = xt_error_buffer();
    int ok = !ck && strstr(e, want) && strstr(e, path);
    if (!ok) fprintf(stderr, "%s: want an error naming the file with '%s', got: %s\n", name, want, ck ? "success" : e);
    CHECK(ok);
    xt_ckpt_free(ck);
}

// a checkpoint with only names and shapes, for config inference
static xt_ckpt *fake(const char *const *names, const int64_t (*shapes)[5], int n) {
    xt_ckpt *ck = xt_xcalloc(1, sizeof *ck);
    ck->path = strdup("fake.ckpt");
    ck->t = xt_xcalloc(n, sizeof *ck->t);
    for (int i = 0; i < n; i++) {
        ck->t[i].name = strdup(names[i]);
        ck->t[i].ndim = (int)shapes[i][0];
        for (int k = 0; k < ck->t[i].ndim; k++) ck->t[i].shape[k] = shapes[i][k + 1];
    }
    ck->n = n;
    return ck;
}

// names and shapes of an xT Swin V2 + xl head checkpoint
static xt_ckpt *fake_swin_xl(int embed, const int *depths, const int *heads, int hidden, int n_layer, int ncls) {
    xt_ckpt *ck = xt_xcalloc(1, sizeof *ck);
    ck->path = strdup("fake_l.ckpt");
    ck->t = xt_xcalloc(256, sizeof *ck->t);
    char n[128];
#define ADD(nd, a, b, c, d)                                                                        \
    do {                                                                                           \
        xt_ck_tensor *t = &ck->t[ck->n++];                                                         \
        t->name = strdup(n);                                                                       \
        t->ndim = nd;                                                                              \
        int64_t s_[4] = {a, b, c, d};                                                              \
        for (int k = 0; k < nd; k++) t->shape[k] = s_[k];                                          \
    } while (0)
    snprintf(n, sizeof n, "encoder.model.patch_embed.proj.weight"); ADD(4, embed, 3, 4, 4);
    for (int s = 0; s < 4; s++)
        for (int b = 0; b < depths[s]; b++) { snprintf(n, sizeof n, "encoder.model.layers_%d.blocks.%d.attn.logit_scale", s, b); ADD(3, heads[s], 1, 1, 0); }
    snprintf(n, sizeof n, "decoder.cls_token"); ADD(3, 1, 1, hidden, 0);
    snprintf(n, sizeof n, "decoder.input_proj.weight"); ADD(2, hidden, embed * 8, 0, 0);
    for (int l = 0; l < n_layer; l++) {
        snprintf(n, sizeof n, "decoder.layers.%d.input_layernorm.weight", l); ADD(1, hidden, 0, 0, 0);
        snprintf(n, sizeof n, "decoder.layers.%d.mlp.gate_proj.weight", l); ADD(2, 4 * hidden, hidden, 0, 0);
    }
    snprintf(n, sizeof n, "decoder.cls.1.weight"); ADD(2, ncls, hidden, 0, 0);
#undef ADD
    return ck;
}

static xt_json *cfg_of(const xt_ckpt *ck, const char *path, char *const *sets, int n) {
    xt_sbuf notes = {0};
    char *c = xt_ckpt_config(ck, path, sets, n, &notes);
    xt_sbuf_free(&notes);
    if (!c) return NULL;
    xt_json *j = xt_json_parse(c, strlen(c), "config");
    free(c);
    return j;
}

static int jint(const xt_json *j, const char *a, const char *b) {
    const xt_json *x = xt_json_get(j, a);
    if (b) x = xt_json_get(x, b);
    return x && x->type == XT_JSON_NUM ? (int)x->num : -12345;
}

static const char *jstr(const xt_json *j, const char *a, const char *b) {
    const xt_json *x = xt_json_get(j, a);
    if (b) x = xt_json_get(x, b);
    return x && x->type == XT_JSON_STR ? x->str : "";
}

static void config_tests(void) {
    xt_ckpt *ck = xt_ckpt_load(golden("xt_cls_xl.ckpt"), NULL);
    CHECK(ck != NULL);
    if (!ck) return;
    // nothing given: the three undeterminable settings are listed
    xt_json *j = cfg_of(ck, NULL, NULL, 0);
    const char *e = xt_error_buffer();
    CHECK(!j && strstr(e, "crop_size") && strstr(e, "swin.window_size") && strstr(e, "context.attention_method"));
    char *sets[] = {"crop_size=128", "swin.window_size=16", "context.attention_method=naive", "num_classes=11"};
    j = cfg_of(ck, NULL, sets, 3);
    CHECK(j != NULL);
    if (!j) fprintf(stderr, "%s\n", xt_error_buffer());
    CHECK(!strcmp(jstr(j, "kind", NULL), "xt") && !strcmp(jstr(j, "cls_head", NULL), "xl"));
    CHECK(jint(j, "context", "hidden_size") == 128 && jint(j, "context", "n_layer") == 2);
    CHECK(jint(j, "context", "in_context_patches") == -1 && !strcmp(jstr(j, "context", "attention_method"), "naive"));
    CHECK(jint(j, "num_classes", NULL) == 10 && jint(j, "mlp_ratio", NULL) == 4 && jint(j, "crop_size", NULL) == 128);
    CHECK(jint(j, "swin", "embed_dim") == 8 && jint(j, "swin", "img_size") == 128);
    int d[8], h[8];
    CHECK(xt_json_int_array(xt_json_get(j, "swin"), "depths", d, 8) == 4 && d[0] == 2 && d[3] == 2);
    CHECK(xt_json_int_array(xt_json_get(j, "swin"), "num_heads", h, 8) == 4 && h[0] == 1 && h[3] == 4);
    xt_json_free(j);
    // a given setting that contradicts the tensors
    j = cfg_of(ck, NULL, sets, 4);
    CHECK(!j && strstr(xt_error_buffer(), "num_classes is 11 but the checkpoint's tensors say 10"));
    // the golden model file's own config passes the cross-check unchanged
    j = cfg_of(ck, golden("xt_cls_xl.safetensors"), NULL, 0);
    CHECK(j && jint(j, "seed", NULL) == 4 && !strcmp(jstr(j, "context", "attention_method"), "naive"));
    xt_json_free(j);
    // a "backbone" object (docs/backbones.md) instead of "swin": checked against the tensors, not duplicated
    char *bb[] = {"backbone={\"arch\":\"swinv2\",\"embed_dim\":8,\"depths\":[2,2,2,2],\"num_heads\":[1,1,2,4],\"window_size\":16}",
                  "crop_size=128", "context.attention_method=naive"};
    j = cfg_of(ck, NULL, bb, 3);
    CHECK(j && xt_json_get(j, "backbone") && !xt_json_get(j, "swin") && jint(j, "backbone", "window_size") == 16);
    if (!j) fprintf(stderr, "%s\n", xt_error_buffer());
    xt_json_free(j);
    bb[0] = "backbone={\"preset\":\"swinv2_tiny\"}";
    j = cfg_of(ck, NULL, bb, 3);
    CHECK(!j && strstr(xt_error_buffer(), "backbone.embed_dim is 96 but the checkpoint's tensors say 8"));
    bb[0] = "backbone={\"preset\":\"hiera_tiny\"}";
    j = cfg_of(ck, NULL, bb, 3);
    CHECK(!j && strstr(xt_error_buffer(), "backbone arch 'hiera' but the checkpoint's encoder is a Swin V2"));
    // an official YAML: the Swin-T preset contradicts this tiny checkpoint
    const char *yaml = "base_configs:\n  - config/does_not_exist.yaml\nmodel:\n  name: xT\n  num_classes: ${data.num_classes}\n"
                       "  backbone_class: swinv2_tiny_window16_256_timm\n  backbone:\n    input_size: 256\n  cls_head: xl\n"
                       "  context:\n    classification_mode: on\n    n_layer: 2\n    hidden_size: 128\n    attention_method: naive\n"
                       "data:\n  num_classes: 10\n  aug:\n    mean: [0.485, 0.456, 0.406]\nlosses:\n  losses:\n    - name: cls\n"
                       "      weight: 1.0\n      display: on\n";
    FILE *f = fopen("build/tests/official.yaml", "w");
    if (f) { fputs(yaml, f); fclose(f); }
    j = cfg_of(ck, "build/tests/official.yaml", NULL, 0);
    CHECK(!j && strstr(xt_error_buffer(), "swin.embed_dim is 96 but the checkpoint's tensors say 8"));
    xt_ckpt_free(ck);

    // the YAML mapping itself, on a fake Swin-T xl checkpoint with hyper attention
    {
        static const char *const nm[] = {"encoder.model.patch_embed.proj.weight", "encoder.model.layers_0.blocks.0.attn.logit_scale",
                                         "encoder.model.layers_0.blocks.1.attn.logit_scale", "encoder.model.layers_1.blocks.0.attn.logit_scale",
                                         "encoder.model.layers_1.blocks.1.attn.logit_scale", "encoder.model.layers_2.blocks.0.attn.logit_scale",
                                         "encoder.model.layers_2.blocks.1.attn.logit_scale", "encoder.model.layers_2.blocks.2.attn.logit_scale",
                                         "encoder.model.layers_2.blocks.3.attn.logit_scale", "encoder.model.layers_2.blocks.4.attn.logit_scale",
                                         "encoder.model.layers_2.blocks.5.attn.logit_scale", "encoder.model.layers_3.blocks.0.attn.logit_scale",
                                         "encoder.model.layers_3.blocks.1.attn.logit_scale", "decoder.cls_token", "decoder.input_proj.weight",
                                         "decoder.layers.0.input_layernorm.weight", "decoder.layers.1.input_layernorm.weight",
                                         "decoder.layers.0.mlp.gate_proj.weight", "decoder.cls.1.weight"};
        static const int64_t sh[][5] = {{4, 96, 3, 4, 4}, {3, 3, 1, 1}, {3, 3, 1, 1}, {3, 6, 1, 1}, {3, 6, 1, 1}, {3, 12, 1, 1}, {3, 12, 1, 1},
                                        {3, 12, 1, 1}, {3, 12, 1, 1}, {3, 12, 1, 1}, {3, 12, 1, 1}, {3, 24, 1, 1}, {3, 24, 1, 1},
                                        {3, 1, 1, 128}, {2, 128, 768}, {1, 128}, {1, 128}, {2, 512, 128}, {2, 10, 128}};
        xt_ckpt *fk = fake(nm, sh, 19);
        j = cfg_of(fk, "build/tests/official.yaml", NULL, 0);
        CHECK(j != NULL);
        if (!j) fprintf(stderr, "%s\n", xt_error_buffer());
        CHECK(jint(j, "crop_size", NULL) == 256 && jint(j, "swin", "window_size") == 16 && jint(j, "swin", "img_size") == 256);
        CHECK(jint(j, "num_classes", NULL) == 10); // ${data.num_classes} resolved
        CHECK(!strcmp(jstr(j, "context", "attention_method"), "naive") && jint(j, "context", "n_layer") == 2);
        xt_json_free(j);
        // Swin-L's preset carries pretrained_window_sizes (window12to16_192to256), which no tensor shows
        f = fopen("build/tests/official_l.yaml", "w");
        if (f) { fputs("model:\n  backbone_class: swinv2_large_window16_256_timm\n  num_classes: 10\n  cls_head: xl\n"
                       "  context:\n    hidden_size: 128\n    n_layer: 2\n", f); fclose(f); }
        j = cfg_of(fk, "build/tests/official_l.yaml", NULL, 0);
        CHECK(!j && strstr(xt_error_buffer(), "swin.embed_dim is 192 but the checkpoint's tensors say 96"));
        xt_ckpt_free(fk);
        int dl[4] = {2, 2, 18, 2}, hl[4] = {6, 12, 24, 48};
        fk = fake_swin_xl(192, dl, hl, 128, 2, 10);
        j = cfg_of(fk, "build/tests/official_l.yaml", NULL, 0);
        int pws[4] = {0};
        CHECK(j && xt_json_int_array(xt_json_get(j, "swin"), "pretrained_window_sizes", pws, 4) == 4 && pws[0] == 12 && pws[3] == 6);
        CHECK(j && !strcmp(jstr(j, "context", "attention_method"), "hyper")); // ContextEncoderConfig default
        if (!j) fprintf(stderr, "%s\n", xt_error_buffer());
        xt_json_free(j);
        char *sl[] = {"crop_size=256", "swin.window_size=16", "context.attention_method=hyper"};
        j = cfg_of(fk, NULL, sl, 3); // without the YAML, Swin-L's pretraining windows are asked for
        CHECK(!j && strstr(xt_error_buffer(), "swin.pretrained_window_sizes"));
        // without a config: hyper vs naive cannot be told apart
        char *s2[] = {"crop_size=256", "swin.window_size=16"};
        j = cfg_of(fk, NULL, s2, 2);
        CHECK(!j && strstr(xt_error_buffer(), "context.attention_method") && !strstr(xt_error_buffer(), "crop_size "));
        xt_ckpt_free(fk);
    }
    // mamba head and naive head inferred completely (given crop and window)
    {
        static const char *const nm[] = {"encoder.model.patch_embed.proj.weight", "encoder.model.layers_0.blocks.0.attn.logit_scale",
                                         "decoder.cls_token", "decoder.input_proj.weight", "decoder.layers.0.mixer.A_log",
                                         "decoder.layers.1.mixer.A_log", "decoder.layers.2.mixer.A_log", "decoder.cls.1.weight"};
        static const int64_t sh[][5] = {{4, 8, 2, 4, 4}, {3, 1, 1, 1}, {3, 1, 1, 64}, {2, 64, 8}, {2, 128, 16}, {2, 128, 16}, {2, 128, 16}, {2, 7, 64}};
        xt_ckpt *fk = fake(nm, sh, 8);
        char *s2[] = {"crop_size=64", "swin.window_size=8"};
        j = cfg_of(fk, NULL, s2, 2);
        CHECK(j && !strcmp(jstr(j, "context", "attention_method"), "mamba") && jint(j, "context", "n_layer") == 3);
        CHECK(j && jint(j, "swin", "in_chans") == 2 && jint(j, "num_classes", NULL) == 7 && jint(j, "context", "hidden_size") == 64);
        xt_json_free(j);
        xt_ckpt_free(fk);
    }
    // Hiera xT: preset heads and the region size (pos_embed) are inferred; a non-preset needs heads
    {
        static const char *const nm[] = {"encoder.model.patch_embed.proj.weight", "encoder.model.pos_embed",
                                         "encoder.model.blocks.0.attn.qkv.weight", "encoder.model.blocks.0.mlp.fc1.weight",
                                         "encoder.model.blocks.1.attn.qkv.weight", "encoder.model.blocks.1.proj.weight",
                                         "encoder.model.blocks.2.attn.qkv.weight", "encoder.model.blocks.3.attn.qkv.weight",
                                         "encoder.model.blocks.3.proj.weight", "encoder.model.blocks.4.attn.qkv.weight",
                                         "encoder.model.blocks.5.attn.qkv.weight", "encoder.model.blocks.6.attn.qkv.weight",
                                         "encoder.model.blocks.7.attn.qkv.weight", "encoder.model.blocks.8.attn.qkv.weight",
                                         "encoder.model.blocks.9.attn.qkv.weight", "encoder.model.blocks.10.attn.qkv.weight",
                                         "encoder.model.blocks.10.proj.weight", "encoder.model.blocks.11.attn.qkv.weight",
                                         "decoder.layers.0.weight", "decoder.layers.3.weight"};
        static const int64_t sh[][5] = {{4, 96, 3, 7, 7}, {3, 1, 3136, 96}, {2, 288, 96}, {2, 384, 96}, {2, 576, 192}, {2, 192, 96},
                                        {2, 576, 192}, {2, 1152, 384}, {2, 384, 192}, {2, 1152, 384}, {2, 1152, 384}, {2, 1152, 384},
                                        {2, 1152, 384}, {2, 1152, 384}, {2, 1152, 384}, {2, 2304, 768}, {2, 768, 384}, {2, 2304, 768},
                                        {2, 3072, 768}, {2, 5, 3072}};
        xt_ckpt *fk = fake(nm, sh, 20);
        j = cfg_of(fk, NULL, NULL, 0); // hiera_tiny: 1-2-7-2, embed 96
        CHECK(j && jint(j, "crop_size", NULL) == 224 && jint(j, "hiera", "num_heads") == 1 && jint(j, "hiera", "embed_dim") == 96);
        if (!j) fprintf(stderr, "%s\n", xt_error_buffer());
        int st[8];
        CHECK(j && xt_json_int_array(xt_json_get(j, "hiera"), "stages", st, 8) == 4 && st[0] == 1 && st[1] == 2 && st[2] == 7 && st[3] == 2);
        CHECK(j && !strcmp(jstr(j, "cls_head", NULL), "naive") && jint(j, "num_classes", NULL) == 5 && jint(j, "mlp_ratio", NULL) == 4);
        xt_json_free(j);
        fk->t[0].shape[0] = 64; // not a preset width: heads must be given
        j = cfg_of(fk, NULL, NULL, 0);
        CHECK(!j && strstr(xt_error_buffer(), "hiera.num_heads"));
        xt_ckpt_free(fk);
    }
    // YAML subset parser on its own
    {
        const char *y = "# comment\na: 1\nb:\n  - x\n  - {k: v}\n  -\n    c: 'q # not a comment'\nd: [1, 2.5, off, ~]\ne:\nf: \"s\\\"t\"\n";
        xt_json *p = xt_yaml_parse(y, strlen(y), "t.yaml");
        CHECK(p != NULL);
        if (!p) fprintf(stderr, "%s\n", xt_error_buffer());
        if (p) {
            const xt_json *b = xt_json_get(p, "b"), *dd = xt_json_get(p, "d");
            CHECK(jint(p, "a", NULL) == 1 && b && b->type == XT_JSON_ARR && b->n == 3);
            CHECK(b && !strcmp(jstr(b->items[2], "c", NULL), "q # not a comment"));
            CHECK(dd && dd->n == 4 && dd->items[1]->num == 2.5 && dd->items[2]->type == XT_JSON_BOOL && dd->items[3]->type == XT_JSON_NULL);
            CHECK(xt_json_get(p, "e") && xt_json_get(p, "e")->type == XT_JSON_NULL && !strcmp(jstr(p, "f", NULL), "s\"t"));
        }
        xt_json_free(p);
        const char *bad[] = {"a: 1\n  b: 2\n", "a: &x 1\n", "a: [1, 2\n", "- a\nb: 1\n", "a:\n\tb: 1\n"};
        for (int i = 0; i < 5; i++) {
            p = xt_yaml_parse(bad[i], strlen(bad[i]), "bad.yaml");
            CHECK(!p && strstr(xt_error_buffer(), "bad.yaml: line"));
            xt_json_free(p);
        }
    }
}

int main(void) {
    same_weights(golden("xt_cls_xl.ckpt"), golden("xt_cls_xl.safetensors"), "zip", 1);
    same_weights(golden("xt_cls_naive_legacy.ckpt"), golden("xt_cls_naive.safetensors"), "legacy", 0);

    // the real AdamW state, kept on request
    xt_ckpt_opts keep = {.keep_optimizer = 1};
    xt_ckpt *ck = xt_ckpt_load(golden("xt_cls_xl.ckpt"), &keep);
    CHECK(ck != NULL);
    if (ck) {
        int nopt = 0, steps_one = 1;
        for (int i = 0; i < ck->n; i++)
            if (!strncmp(ck->t[i].name, "optim.state.", 12)) {
                nopt++;
                if (strstr(ck->t[i].name, ".step")) steps_one &= ck->t[i].numel == 1 && ck->t[i].data[0] == 1.0f;
            }
        const xt_ck_tensor *ea = xt_ckpt_find(ck, "optim.state.0.exp_avg");
        CHECK(nopt == 3 * 174 && steps_one && ck->epoch == 7);
        CHECK(ea && ea->ndim == 3 && ea->shape[2] == 128); // param 0 = decoder.cls_token (1, 1, 128)
        xt_json *pg = ck->param_groups_json ? xt_json_parse(ck->param_groups_json, strlen(ck->param_groups_json), "pg") : NULL;
        xt_json *me = ck->metrics_json ? xt_json_parse(ck->metrics_json, strlen(ck->metrics_json), "m") : NULL;
        double lr = 0, top1 = 0;
        CHECK(pg && pg->type == XT_JSON_ARR && pg->n >= 1 && !xt_json_num(pg->items[0], "lr", 0, &lr) && lr > 0);
        CHECK(me && !xt_json_num(me, "val_top1", 0, &top1) && top1 == 0.5);
        xt_json_free(pg);
        xt_json_free(me);
        xt_ckpt_free(ck);
    }

    views("ckpt_views.ckpt", 0);
    views("ckpt_views_legacy.ckpt", 1);
    views("ckpt_views_deflate.ckpt", 0);
    views("ckpt_views_zip64.ckpt", 0);

    hostile("truncated", "no end-of-central-directory record");
    hostile("truncated_legacy", "truncated");
    hostile("bad_crc", "CRC-32 mismatch");
    hostile("os_system", "global 'os.system' is not allowed");
    hostile("posix_system", "global 'posix.system' is not allowed");
    hostile("builtins_eval", "global 'builtins.eval' is not allowed");
    hostile("huge_numel", "absurd element count");
    hostile("huge_shape", "size overflows");
    hostile("huge_string", "runs past the end of the pickle");
    hostile("offset_past_end", "storage offset 3 and strides reach element 6 but storage '0' has 4 elements");
    hostile("stride_past_end", "reach element 5 but storage '0' has 4 elements");
    hostile("short_storage", "holds 16 bytes, the pickle declares 8");
    hostile("missing_storage", "archive entry 'evil/data/7' is missing");
    hostile("no_data_pkl", "without a <folder>/data.pkl entry");
    hostile("unbalanced", "unbalanced pickle at STOP");
    hostile("stack_underflow", "no MARK");
    hostile("memo_undefined", "memo reference 5 is undefined");
    hostile("memo_huge", "memo index 2147483647 out of range");
    hostile("deep_marks", "nested MARKs");
    hostile("deep_stack", "stack deeper than");
    hostile("self_list", "holds a list, not a state_dict");
    hostile("not_ckpt", "not a PyTorch checkpoint");
    hostile("big_endian", "big-endian checkpoint");
    hostile("deflate_bomb", "declared size 4294967280 is impossible");
    hostile("deflate_size", "deflate stream is corrupt or its size differs");
    CHECK(!xt_ckpt_load("tests/ref/does_not_exist.ckpt", NULL) && strstr(xt_error_buffer(), "cannot open"));

    config_tests();
    return check_summary("ckpt");
}
