// test_pretrained.c — ImageNet backbone state dicts (timm / hiera names) -> region encoders, and
// partial --init. The "pretrained" files are the golden region models' weights renamed to what
// timm 0.9.7 / the hiera package save for the full classifiers (plus their head and final norm):
// the mapping must give back every golden tensor bit for bit, the config inferred from the shapes
// must build the encoder, and that encoder must reproduce the golden stage outputs.
#include <unistd.h>

#include "check_golden.h"
#include "run/convert.h"
#include "models/backbones.h"
#include "models/models.h"
#include "train/train.h"

static char tmp[256];

typedef const char *(*renamer)(const char *golden_name, char *buf, size_t n); // NULL: leave out

// Writes golden's weights renamed, then `extra` (name, numel pairs; filled with 0.5) and, with
// io, golden's input.* / expected.* unchanged.
static void write_renamed(const char *golden_file, const char *out, renamer rn, const char *const *extra, int io) {
    xt_st *g = xt_st_open(golden(golden_file));
    CHECK(g != NULL);
    if (!g) exit(1);
    xt_st_writer *w = xt_st_writer_new();
    char buf[512];
    for (int i = 0; i < g->n; i++) {
        const xt_st_tensor *t = &g->t[i];
        int isio = !strncmp(t->name, "input.", 6) || !strncmp(t->name, "expected.", 9);
        const char *n = isio ? (io ? t->name : NULL) : rn(t->name, buf, sizeof buf);
        if (n) xt_st_writer_add(w, n, xt_st_f32(g, t->name, NULL), t->ndim, t->shape);
    }
    float half[1024];
    for (int i = 0; i < 1024; i++) half[i] = 0.5f;
    for (int i = 0; extra && extra[i]; i += 2) {
        int64_t n = atoi(extra[i + 1]);
        xt_st_writer_add(w, extra[i], half, 1, &n);
    }
    CHECK(xt_st_writer_save(w, out) == 0);
    xt_st_close(g);
}

// every tensor of ck equals the golden tensor of the same name, bit for bit; returns the count
static int same_as_golden(const xt_ckpt *ck, const char *golden_file) {
    xt_st *g = xt_st_open(golden(golden_file));
    int same = 0;
    for (int i = 0; g && i < ck->n; i++) {
        const xt_st_tensor *gt = xt_st_find(g, ck->t[i].name);
        if (!gt) { fprintf(stderr, "no golden '%s'\n", ck->t[i].name); continue; }
        const float *d = xt_st_f32(g, gt->name, NULL);
        same += gt->numel == ck->t[i].numel && !memcmp(d, ck->t[i].data, (size_t)gt->numel * 4);
    }
    xt_st_close(g);
    return same;
}

static int golden_weights(const char *golden_file) {
    xt_st *g = xt_st_open(golden(golden_file));
    int n = 0;
    for (int i = 0; g && i < g->n; i++) n += strncmp(g->t[i].name, "input.", 6) && strncmp(g->t[i].name, "expected.", 9);
    xt_st_close(g);
    return n;
}

// the mapped tensors + golden input/expected as a region file with `config`
static void write_region(const xt_ckpt *ck, const char *golden_file, const char *config, const char *out) {
    xt_st *g = xt_st_open(golden(golden_file));
    xt_st_writer *w = xt_st_writer_new();
    xt_st_writer_meta(w, "config", config);
    for (int i = 0; i < ck->n; i++) xt_st_writer_add(w, ck->t[i].name, ck->t[i].data, ck->t[i].ndim, ck->t[i].shape);
    for (int i = 0; g && i < g->n; i++)
        if (!strncmp(g->t[i].name, "input.", 6) || !strncmp(g->t[i].name, "expected.", 9))
            xt_st_writer_add(w, g->t[i].name, xt_st_f32(g, g->t[i].name, NULL), g->t[i].ndim, g->t[i].shape);
    CHECK(xt_st_writer_save(w, out) == 0);
    xt_st_close(g);
}

// convert: load, detect, map, config; NULL on failure (error kept)
static xt_ckpt *convert(const char *path, const char *want_from, char **config, const char *set) {
    xt_ckpt *ck = xt_ckpt_load_any(path, NULL);
    CHECK(ck != NULL);
    if (!ck) return NULL;
    const char *from = xt_pretrained_detect(ck);
    CHECK(from && !strcmp(from, want_from));
    xt_sbuf notes = {0};
    char *sets[1] = {(char *)set};
    *config = NULL;
    if (!from || xt_pretrained_map(ck, from, NULL) ||
        !(*config = xt_ckpt_region_config(ck, from, NULL, NULL, sets, set ? 1 : 0, &notes))) {
        fprintf(stderr, "%s\n", xt_error_buffer());
        xt_ckpt_free(ck);
        ck = NULL;
    }
    xt_sbuf_free(&notes);
    return ck;
}

// ---------------------------------------------------------------------------------------------

static int old_layout; // timm < 0.9: PatchMerging at the end of stage s - 1

static const char *swin_name(const char *g, char *b, size_t n) {
    if (strncmp(g, "model.", 6)) return NULL;
    g += 6;
    int s;
    char rest[400];
    if (sscanf(g, "layers_%d.%399s", &s, rest) == 2) {
        if (old_layout && !strncmp(rest, "downsample.", 11)) s--;
        snprintf(b, n, "layers.%d.%s", s, rest);
    } else snprintf(b, n, "%s", g);
    return b;
}

static void run_region(const char *file, const char *prefix, xt_encoder_builder build, const char *obj, const char *model,
                       const char *expect_last) {
    xt_st *st = xt_st_open(file);
    CHECK(st != NULL);
    if (!st) return;
    const char *cs = xt_st_meta(st, "config");
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "config");
    xt_region_run r;
    int rc = xt_region_run_file(&r, st, cfg, obj ? xt_json_get(cfg, obj) : cfg, prefix, build, NULL, model);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "%s\n", xt_error_buffer());
    for (int s = 0; !rc && s < r.e->n_stages; s++) {
        int64_t sh[4] = {r.B, r.e->stage_c[s], r.e->stage_h[s], r.e->stage_w[s]};
        char nm[32];
        snprintf(nm, sizeof nm, "stage%d", s);
        if (!expect_last) CHECK(check_golden(st, nm, r.out[s], sh, 4, 0, 1e-4) == 1);
        else if (s == r.e->n_stages - 1) CHECK(check_golden(st, expect_last, r.out[s], sh, 4, 0, 1e-4) == 1);
    }
    if (!rc) xt_region_run_free(&r);
    xt_json_free(cfg);
    xt_st_close(st);
}

static void test_swin(void) {
    static const char *const extra[] = {"norm.weight", "128", "norm.bias", "128", "head.fc.bias", "5", NULL};
    char in[300], out[300];
    snprintf(in, sizeof in, "%s_swin.safetensors", tmp);
    snprintf(out, sizeof out, "%s_swin_region.safetensors", tmp);
    for (old_layout = 0; old_layout < 2; old_layout++) {
        write_renamed("swinv2_region_256.safetensors", in, swin_name, extra, 0);
        char *config;
        xt_ckpt *ck = convert(in, "timm-swinv2", &config, "window_size=16");
        if (!ck) continue;
        CHECK(ck->n == golden_weights("swinv2_region_256.safetensors") && ck->n == 149);
        CHECK(same_as_golden(ck, "swinv2_region_256.safetensors") == 149);
        xt_json *c = xt_json_parse(config, strlen(config), "config");
        int d[8], h[8], e = 0, ws = 0;
        CHECK(c && !strcmp(xt_json_str(c, "kind", ""), "swin_region"));
        CHECK(xt_json_int(c, "embed_dim", 0, &e) == 0 && e == 16 && xt_json_int(c, "window_size", 0, &ws) == 0 && ws == 16);
        CHECK(xt_json_int_array(c, "depths", d, 8) == 4 && d[0] == 2 && d[3] == 2);
        CHECK(xt_json_int_array(c, "num_heads", h, 8) == 4 && h[0] == 1 && h[1] == 2 && h[2] == 4 && h[3] == 8);
        xt_json_free(c);
        int dropped = 0, moved = 0;
        for (int i = 0; i < ck->n_notes; i++) {
            dropped += strstr(ck->notes[i], "dropped 2 tensors norm.*") != NULL || strstr(ck->notes[i], "dropped 1 tensor head.*") != NULL;
            moved += strstr(ck->notes[i], "moved to layers_{s+1}.downsample") != NULL;
        }
        CHECK(dropped == 2 && moved == old_layout);
        if (!old_layout) { // the converted encoder reproduces the golden stage outputs
            write_region(ck, "swinv2_region_256.safetensors", config, out);
            run_region(out, "model.", xt_swinv2_new, NULL, "swin", NULL);
        }
        free(config);
        xt_ckpt_free(ck);
    }
    old_layout = 0;
    // window_size cannot be inferred
    char *config;
    write_renamed("swinv2_region_256.safetensors", in, swin_name, extra, 0);
    xt_ckpt *ck = xt_ckpt_load_any(in, NULL);
    CHECK(ck && xt_pretrained_map(ck, "timm-swinv2", NULL) == 0);
    xt_sbuf notes = {0};
    CHECK(ck && (config = xt_ckpt_region_config(ck, "timm-swinv2", NULL, NULL, NULL, 0, &notes)) == NULL);
    CHECK(strstr(xt_error_buffer(), "window_size") != NULL);
    xt_sbuf_free(&notes);
    xt_ckpt_free(ck);
    remove(in);
    remove(out);
}

static const char *cnx_name(const char *g, char *b, size_t n) {
    int s;
    char rest[400];
    if (sscanf(g, "stem_%d.%399s", &s, rest) == 2) snprintf(b, n, "stem.%d.%s", s, rest);
    else if (sscanf(g, "stages_%d.%399s", &s, rest) == 2) snprintf(b, n, "stages.%d.%s", s, rest);
    else return NULL;
    return b;
}

static void test_convnext(void) {
    static const char *const extra[] = {"head.norm.weight", "128", "head.norm.bias", "128", "head.fc.bias", "7", NULL};
    char in[300], out[300];
    snprintf(in, sizeof in, "%s_cnx.safetensors", tmp);
    snprintf(out, sizeof out, "%s_cnx_region.safetensors", tmp);
    write_renamed("convnext_region.safetensors", in, cnx_name, extra, 0);
    char *config;
    xt_ckpt *ck = convert(in, "timm-convnext", &config, NULL);
    if (!ck) return;
    CHECK(ck->n == 88 && same_as_golden(ck, "convnext_region.safetensors") == 88);
    CHECK(strstr(config, "\"dims\":[16,32,64,128]") && strstr(config, "\"depths\":[2,2,2,2]") &&
          strstr(config, "\"kind\":\"convnext_region\""));
    write_region(ck, "convnext_region.safetensors", config, out);
    run_region(out, "", xt_convnext_new, NULL, "convnext", NULL);
    free(config);
    xt_ckpt_free(ck);
    remove(in);
    remove(out);
}

static int hiera_mae;
static const char *hiera_name(const char *g, char *b, size_t n) {
    if (strncmp(g, "model.", 6)) return NULL;
    snprintf(b, n, "%s%s", hiera_mae && !strcmp(g + 6, "pos_embed") ? "decoder_" : "", g + 6);
    return b;
}

static void test_hiera(void) {
    static const char *const extra[] = {"norm.weight", "128", "head.projection.bias", "9", NULL};
    char in[300], out[300];
    snprintf(in, sizeof in, "%s_hiera.safetensors", tmp);
    snprintf(out, sizeof out, "%s_hiera_region.safetensors", tmp);
    write_renamed("hiera_region.safetensors", in, hiera_name, extra, 0);
    char *config;
    xt_ckpt *ck = convert(in, "hiera", &config, "hiera.num_heads=1");
    if (!ck) return;
    CHECK(ck->n == 105 && same_as_golden(ck, "hiera_region.safetensors") == 105);
    CHECK(strstr(config, "\"stages\":[1,2,3,2]") && strstr(config, "\"embed_dim\":16") && strstr(config, "\"image_size\":224"));
    write_region(ck, "hiera_region.safetensors", config, out);
    run_region(out, "model.", xt_hiera_new, "hiera", "hiera", "out");
    free(config);
    xt_ckpt_free(ck);
    // an MAE pre-training checkpoint (decoder_* names): a clear error with a hint
    hiera_mae = 1;
    write_renamed("hiera_region.safetensors", in, hiera_name, NULL, 0);
    hiera_mae = 0;
    ck = xt_ckpt_load_any(in, NULL);
    CHECK(ck && xt_pretrained_map(ck, "hiera", NULL) == -1 && strstr(xt_error_buffer(), "'decoder_pos_embed'") &&
          strstr(xt_error_buffer(), "MAE"));
    xt_ckpt_free(ck);
    remove(in);
    remove(out);
}

static const char *with_unknown(const char *g, char *b, size_t n) {
    const char *r = swin_name(g, b, n);
    if (r && !strcmp(r, "layers.1.blocks.0.attn.q_bias")) snprintf(b, n, "layers.1.blocks.0.attn.rel_bias");
    return r;
}
static const char *as_is(const char *g, char *b, size_t n) { return g; }
static const char *none(const char *g, char *b, size_t n) { return NULL; }

static void test_errors(void) {
    char in[300];
    snprintf(in, sizeof in, "%s_err.safetensors", tmp);
    // an unknown name inside a block and one at the top level: named in the error
    static const char *const extra[] = {"absolute_pos_embed", "8", NULL};
    write_renamed("swinv2_region_256.safetensors", in, with_unknown, extra, 0);
    xt_ckpt *ck = xt_ckpt_load_any(in, NULL);
    CHECK(ck && xt_pretrained_map(ck, "timm-swinv2", NULL) == -1);
    CHECK(strstr(xt_error_buffer(), "2 tensors with no timm-swinv2 mapping") && strstr(xt_error_buffer(), "'layers.1.blocks.0.attn.rel_bias'") &&
          strstr(xt_error_buffer(), "'absolute_pos_embed'"));
    xt_ckpt_free(ck);
    // a Swin state dict under the wrong --from: every name unmapped
    write_renamed("swinv2_region_256.safetensors", in, swin_name, NULL, 0);
    ck = xt_ckpt_load_any(in, NULL);
    CHECK(ck && xt_pretrained_map(ck, "timm-convnext", NULL) == -1 && strstr(xt_error_buffer(), "149 tensors with no timm-convnext mapping"));
    xt_ckpt_free(ck);
    // xT names: nothing to map
    write_renamed("xt_cls_naive.safetensors", in, as_is, NULL, 0);
    ck = xt_ckpt_load_any(in, NULL);
    CHECK(ck && !xt_pretrained_detect(ck) && strstr(xt_error_buffer(), "already xT's"));
    xt_ckpt_free(ck);
    // nothing recognisable
    static const char *const junk[] = {"fc.weight", "4", NULL};
    write_renamed("swinv2_region_256.safetensors", in, none, junk, 0);
    ck = xt_ckpt_load_any(in, NULL);
    CHECK(ck && !xt_pretrained_detect(ck) && strstr(xt_error_buffer(), "not a timm Swin V2") && strstr(xt_error_buffer(), "'fc.weight'"));
    xt_ckpt_free(ck);
    remove(in);
}

// ---------------------------------------------------------------------------------------------
// partial --init: a Swin region file provides encoder.model.*, the head stays fresh

static const char *xt_cfg_json =
    "{\"kind\":\"xt\",\"cls_head\":\"naive\",\"crop_size\":256,\"num_classes\":3,\"mlp_ratio\":2,"
    "\"swin\":{\"embed_dim\":%d,\"depths\":[2,2,2,2],\"num_heads\":[1,2,4,8],\"window_size\":16}}";

static int init_from(const char *file, int embed, xt_params *P, xt_init_report *rep) {
    char cj[512];
    snprintf(cj, sizeof cj, xt_cfg_json, embed);
    xt_json *cfg = xt_json_parse(cj, strlen(cj), "cfg");
    xt_st *st = xt_st_open(file);
    memset(P, 0, sizeof *P);
    xt_xt_train *m = xt_xt_train_new(P, cfg, NULL);
    int rc = -1;
    if (m && st && !xt_params_alloc(P)) {
        xt_params_init(P, 3);
        rc = xt_params_load_partial(P, st, rep);
    }
    xt_xt_train_free(m);
    xt_st_close(st);
    xt_json_free(cfg);
    return rc;
}

static void test_partial_init(void) {
    static const char *const extra[] = {"norm.weight", "128", "norm.bias", "128", NULL};
    char in[300], out[300];
    snprintf(in, sizeof in, "%s_init.safetensors", tmp);
    snprintf(out, sizeof out, "%s_init_region.safetensors", tmp);
    write_renamed("swinv2_region_256.safetensors", in, swin_name, extra, 0);
    char *config;
    xt_ckpt *ck = convert(in, "timm-swinv2", &config, "window_size=16");
    if (!ck) return;
    write_region(ck, "swinv2_region_256.safetensors", config, out); // input.* / expected.* are ignored
    xt_params P;
    xt_init_report rep;
    CHECK(init_from(out, 16, &P, &rep) == 0);
    CHECK(rep.loaded == 149 && rep.fresh == 6 && !strcmp(rep.fresh_groups, "decoder.layers"));
    // the encoder equals the source bit for bit; the head keeps its fresh initialisation
    xt_st *g = xt_st_open(golden("swinv2_region_256.safetensors"));
    int same = 0, enc = 0;
    for (int i = 0; i < P.n; i++) {
        if (strncmp(P.p[i].name, "encoder.model.", 14)) {
            if (!strcmp(P.p[i].name, "decoder.layers.2.weight")) CHECK(xt_pw(&P, i)[0] == 1.0f); // norm init
            continue;
        }
        char nm[300];
        snprintf(nm, sizeof nm, "model.%s", P.p[i].name + 14);
        enc++;
        same += !memcmp(xt_pw(&P, i), xt_st_f32(g, nm, NULL), P.p[i].n * 4);
    }
    CHECK(enc == 149 && same == 149);
    xt_st_close(g);
    xt_params_free(&P);
    // wrong shape: a clear error naming both tensors
    CHECK(init_from(out, 8, &P, &rep) == -1);
    CHECK(strstr(xt_error_buffer(), "'model.patch_embed.proj.weight' is (16, 3, 4, 4)") &&
          strstr(xt_error_buffer(), "'encoder.model.patch_embed.proj.weight' is (8, 3, 4, 4)"));
    xt_params_free(&P);
    // a weight the model does not have
    xt_st *st = xt_st_open(out);
    xt_st_writer *w = xt_st_writer_new();
    xt_st_writer_meta(w, "config", config);
    for (int i = 0; i < st->n; i++) xt_st_writer_add(w, st->t[i].name, xt_st_f32(st, st->t[i].name, NULL), st->t[i].ndim, st->t[i].shape);
    float one = 1;
    int64_t n1 = 1;
    xt_st_writer_add(w, "model.layers_4.blocks.0.attn.logit_scale", &one, 1, &n1);
    xt_st_writer_add(w, "optim.step", &one, 1, &n1); // ignored
    xt_st_close(st);
    CHECK(xt_st_writer_save(w, in) == 0);
    CHECK(init_from(in, 16, &P, &rep) == -1);
    CHECK(strstr(xt_error_buffer(), "1 tensor is not part of the configured model: 'model.layers_4.blocks.0.attn.logit_scale'") != NULL);
    xt_params_free(&P);
    // weights outside the region encoder the model does not have (another head's): skipped, counted
    st = xt_st_open(out);
    w = xt_st_writer_new();
    xt_st_writer_meta(w, "config", config);
    for (int i = 0; i < st->n; i++) xt_st_writer_add(w, st->t[i].name, xt_st_f32(st, st->t[i].name, NULL), st->t[i].ndim, st->t[i].shape);
    for (int i = 0; i < 5; i++) {
        char nm[64];
        snprintf(nm, sizeof nm, "head.%d.weight", i);
        xt_st_writer_add(w, nm, &one, 1, &n1);
    }
    xt_st_close(st);
    CHECK(xt_st_writer_save(w, in) == 0);
    CHECK(init_from(in, 16, &P, &rep) == 0 && rep.loaded == 149 && rep.skipped == 5);
    CHECK(!strcmp(rep.skipped_names, "'head.0.weight', 'head.1.weight', 'head.2.weight' ... 2 more"));
    xt_params_free(&P);
    free(config);
    xt_ckpt_free(ck);
    remove(in);
    remove(out);
}

// through the trainer: the committed timm-named .pth (golden swinv2_region_512 weights) ->
// region file -> one step at lr 0 keeps the loaded encoder exactly (step 0 state); lr 1e-3 moves it
static void test_train_step0(void) {
    char region[300], out[300];
    snprintf(region, sizeof region, "%s_t_region.safetensors", tmp);
    snprintf(out, sizeof out, "%s_t_out.safetensors", tmp);
    char *config;
    xt_ckpt *ck = convert("tests/ref/pretrained_swinv2_timm.pth", "timm-swinv2", &config, "window_size=16");
    if (!ck) return;
    CHECK(ck->n == 149 && same_as_golden(ck, "swinv2_region_512.safetensors") == 149);
    write_region(ck, "swinv2_region_512.safetensors", config, region);
    const char *cj = "{\"kind\":\"xt\",\"cls_head\":\"naive\",\"crop_size\":64,\"num_classes\":2,\"mlp_ratio\":2,"
                     "\"swin\":{\"embed_dim\":8,\"depths\":[2,2,2,2],\"num_heads\":[1,1,2,4],\"window_size\":8}}";
    xt_json *cfg = xt_json_parse(cj, strlen(cj), "cfg");
    for (int moved = 0; moved < 2; moved++) {
        xt_train_opts o;
        xt_train_opts_default(&o);
        o.data = "synth:4:1", o.img_size = 64, o.batch = 2, o.steps = 1, o.lr = moved ? 1e-3 : 0, o.augment = 0, o.out = out;
        xt_st *st = xt_st_open(region);
        xt_train_result res;
        int rc = xt_train_run(cfg, st, 0, &o, &res);
        CHECK(rc == 0 && res.step == 1 && res.init.loaded == 149 && res.init.fresh == 6);
        if (rc) fprintf(stderr, "%s\n", xt_error_buffer());
        xt_st_close(st);
        xt_st *t = xt_st_open(out), *g = xt_st_open(golden("swinv2_region_512.safetensors"));
        int same = 0;
        for (int i = 0; t && g && i < t->n; i++) {
            if (strncmp(t->t[i].name, "encoder.model.", 14)) continue;
            char nm[300];
            snprintf(nm, sizeof nm, "model.%s", t->t[i].name + 14);
            const xt_st_tensor *gt = xt_st_find(g, nm);
            same += gt && gt->numel == t->t[i].numel && !memcmp(xt_st_f32(t, t->t[i].name, NULL), xt_st_f32(g, nm, NULL), gt->numel * 4);
        }
        CHECK(moved ? same < 100 : same == 149);
        xt_st_close(t);
        xt_st_close(g);
    }
    xt_json_free(cfg);
    free(config);
    xt_ckpt_free(ck);
    remove(region);
    remove(out);
}

int main(void) {
    snprintf(tmp, sizeof tmp, "/tmp/xt_test_pretrained_%d", (int)getpid());
    test_swin();
    test_convnext();
    test_hiera();
    test_errors();
    test_partial_init();
    test_train_step0();
    return check_summary("pretrained");
}
