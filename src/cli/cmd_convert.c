// cmd_convert.c — `xt convert IN.ckpt -o OUT.safetensors`: official PyTorch checkpoints -> model file.
//
// Reads the checkpoint with our own zip reader and restricted pickle VM (src/formats/ckpt.h: no
// Python, nothing from the file executed), settles the model config (given / official YAML /
// inferred from the tensors, cross-checked), and writes a model file: the state_dict under the
// official names without "module.", __metadata__.config, and optionally the optimizer state
// (optim.*) and a reference file's input.* / expected.* tensors (so `xt verify` can check the
// converted weights against golden outputs).
#include <string.h>

#include "cli/cli.h"
#include "run/convert.h"
#include "models/models.h"

static void help(void) {
    printf("usage: xt convert IN.ckpt -o OUT.safetensors [options]\n"
           "       xt convert IN.pth|IN.safetensors -o OUT.safetensors --from timm-swinv2|timm-convnext|hiera|auto\n\n"
           "Converts a PyTorch checkpoint (zip or legacy format; the official trainer's payload or a\n"
           "bare state_dict) into an xt model file. Nothing in the checkpoint is executed: only the\n"
           "pickle opcodes and globals a tensor state_dict needs are accepted.\n\n"
           "  -o OUT               output model file (.safetensors)                      [required]\n"
           "  --config CFG         model config: our JSON, an official xT YAML (config/*.yaml),\n"
           "                       or a model file (.safetensors) whose config is reused   [none]\n"
           "  --set KEY=VALUE      set one config entry (dotted path, JSON value or word), e.g.\n"
           "                       --set crop_size=256 --set context.attention_method=hyper\n"
           "  --keep-optimizer     also write the optimizer state as optim.state.<id>.<name>  [off]\n"
           "  --with-io REF        copy REF's input.* and expected.* tensors (to `xt verify` the result)\n"
           "  --from LAYOUT        IN is an ImageNet-pretrained backbone under its library's names:\n"
           "                       timm-swinv2, timm-convnext, hiera, or auto (detect). Writes a region-\n"
           "                       encoder model file (kind swin_region / convnext_region / hiera_region).\n"
           "                       Without --from, such a state dict is detected automatically.\n"
           "  --prefix P           with --from: weight name prefix          [model. (convnext: none)]\n"
           "                       (encoder.model. gives the names of an xT model's encoder)\n"
           "  --dtype D            f32, or bf16: weight matrices (every >= 2-D *.weight tensor) stored\n"
           "                       as bfloat16, rounded to nearest even: about half the file; biases,\n"
           "                       norms, embeddings, input.* / expected.* stay f32. Loading widens them\n"
           "                       for f32 layers; bf16 matmuls (--precision bf16) use them in place [f32]\n"
           "  -q                   print errors only\n\n"
           "An xt model file (.safetensors with a config) as IN keeps its config: `xt convert M.safetensors\n"
           "--dtype bf16 -o M16.safetensors` halves a model file.\n\n"
           "Settings the tensor names and shapes determine (head, classes, widths, depths, heads,\n"
           "layers) are inferred and checked against the config; the rest (e.g. crop_size,\n"
           "swin.window_size, naive vs hyper attention) must be given, or the command fails and\n"
           "lists them. See docs/checkpoints.md.\n");
}

// The written region file must build as its encoder: every tensor the model needs, with its
// shape, and (ConvNeXt, Hiera builders) nothing it does not know.
static int check_region(const char *path, const char *config, const char *from, const char *prefix) {
    xt_st *st = xt_st_open(path);
    xt_json *cfg = st ? xt_json_parse(config, strlen(config), "config") : NULL;
    int rc = -1, S = 0, w = 16, nd = 4;
    xt_encoder *e = NULL;
    if (!cfg) goto out;
    if (!prefix) prefix = xt_pretrained_prefix(from);
    if (xt_json_int(cfg, "image_size", 0, &S)) goto out;
    if (!strcmp(from, "timm-swinv2")) {
        int d[XT_MAX_STAGES];
        if (xt_json_int(cfg, "window_size", 16, &w) || (nd = xt_json_int_array(cfg, "depths", d, XT_MAX_STAGES)) < 1) goto out;
        // a size whose stage resolutions are all multiples of the window (no padding question)
        if (S <= 0) S = 4 * w << (nd - 1);
        e = xt_swinv2_new(st, cfg, prefix, S);
    } else if (!strcmp(from, "hiera")) e = xt_hiera_new(st, xt_json_get(cfg, "hiera"), prefix, S > 0 ? S : 224);
    else e = xt_convnext_new(st, cfg, prefix, S > 0 ? S : 256);
    if (e) { e->free(e); rc = 0; }
out:
    if (rc) { // "<path>: the converted file does not build as ...: <why>", the path named once
        xt_error_prefix("the converted file does not build as a %s region encoder", from);
        xt_error_in_file(path);
    }
    xt_json_free(cfg);
    xt_st_close(st);
    return rc;
}

// --dtype bf16 keeps these weight matrices float32 (measured on the golden files, f32 compute):
// Swin V2's qkv (cosine attention multiplies q, k errors by the logit scale, up to 100: bfloat16
// qkv weights moved xt_cls_xl's stage 0 by 6 %% of its scale; the bf16 matmuls keep qkv float32
// too), the position-bias MLP (its output feeds every attention logit) and the patch embedding
// (bfloat16 there alone: 4.6 %% instead of 1.5 %% on swinv2_region_512). All three are small.
static int keep_f32(const char *name) { return strstr(name, "attn.qkv.") || strstr(name, "cpb_mlp.") || strstr(name, "patch_embed."); }

int xt_cmd_convert(int argc, char **argv) {
    const char *in = NULL, *out = NULL, *cfg = NULL, *io = NULL, *from = NULL, *prefix = NULL;
    char **sets = xt_xcalloc(argc, sizeof *sets);
    int n_sets = 0, quiet = 0, rc = 1, bf16 = 0;
    xt_ckpt_opts opts = {0};
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) { help(); free(sets); return 0; }
        else if (!strcmp(argv[i], "-o") && i + 1 < argc) out = argv[++i];
        else if (!strcmp(argv[i], "--config") && i + 1 < argc) cfg = argv[++i];
        else if (!strcmp(argv[i], "--set") && i + 1 < argc) sets[n_sets++] = argv[++i];
        else if (!strcmp(argv[i], "--with-io") && i + 1 < argc) io = argv[++i];
        else if (!strcmp(argv[i], "--keep-optimizer")) opts.keep_optimizer = 1;
        else if (!strcmp(argv[i], "--from") && i + 1 < argc) from = argv[++i];
        else if (!strcmp(argv[i], "--prefix") && i + 1 < argc) prefix = argv[++i];
        else if (!strcmp(argv[i], "--dtype") && i + 1 < argc) {
            const char *d = argv[++i];
            if (strcmp(d, "f32") && strcmp(d, "bf16")) { free(sets); return xt_cli_usage_error("convert", "--dtype '%s': f32 or bf16", d); }
            bf16 = !strcmp(d, "bf16");
        } else if (!strcmp(argv[i], "-q")) quiet = 1;
        else if (argv[i][0] == '-') { free(sets); return xt_cli_usage_error("convert", "unknown option or missing value '%s'", argv[i]); }
        else if (!in) in = argv[i];
        else { free(sets); return xt_cli_usage_error("convert", "more than one input file"); }
    }
    if (!in || !out) { free(sets); return xt_cli_usage_error("convert", "%s", !in ? "no input checkpoint" : "no output file (-o)"); }
    xt_sbuf notes = {0};
    char *config = NULL;
    xt_st *ref = NULL;
    double t0 = xt_time();
    if (from && strcmp(from, "auto") && strcmp(from, "timm-swinv2") && strcmp(from, "timm-convnext") && strcmp(from, "hiera")) {
        free(sets);
        return xt_cli_usage_error("convert", "--from '%s': timm-swinv2, timm-convnext, hiera or auto", from);
    }
    xt_ckpt *ck = xt_ckpt_load_any(in, &opts);
    if (!ck) { xt_cli_fail(); goto done; }
    if (!from && !xt_ckpt_find(ck, "encoder.model.patch_embed.proj.weight")) { // a pretrained backbone?
        from = xt_pretrained_detect(ck);
        if (from) xt_sbuf_printf(&notes, "%s layout detected (--from %s)\n", from, from);
        xt_error_clear();
    } else if (from && !strcmp(from, "auto") && !(from = xt_pretrained_detect(ck))) { xt_cli_fail(); goto done; }
    if (!cfg && !from && !strcmp(ck->format, "safetensors")) { // a model file: its own config (e.g. --dtype bf16)
        xt_st *self = xt_st_open(in);
        if (self && xt_st_meta(self, "config")) cfg = in;
        xt_st_close(self);
        xt_error_clear();
    }
    if (prefix && !from) { xt_error("convert", "%s: --prefix applies to pretrained backbones (--from), not to xT checkpoints", in); xt_cli_fail(); goto done; }
    if (from) {
        if (xt_pretrained_map(ck, from, prefix) ||
            !(config = xt_ckpt_region_config(ck, from, prefix, cfg, sets, n_sets, &notes))) { xt_cli_fail(); goto done; }
    } else if (!(config = xt_ckpt_config(ck, cfg, sets, n_sets, &notes))) { xt_cli_fail(); goto done; }
    if (io && !(ref = xt_st_open(io))) { xt_cli_fail(); goto done; }
    xt_st_writer *w = xt_st_writer_new();
    xt_st_writer_meta(w, "config", config);
    const char *base = strrchr(in, '/');
    xt_st_writer_meta(w, "source", base ? base + 1 : in);
    xt_st_writer_meta(w, "source_format", ck->format);
    xt_st_writer_meta(w, "generator", "xt convert");
    char buf[64];
    int nw = 0, nhalf = 0;
    int64_t nparam = 0;
    for (int i = 0; i < ck->n; i++) {
        const xt_ck_tensor *t = &ck->t[i];
        // a model file given as the checkpoint brings its own input/expected: --with-io's replace them
        if (ref && (!strncmp(t->name, "input.", 6) || !strncmp(t->name, "expected.", 9))) continue;
        size_t nl = strlen(t->name);
        int half = bf16 && t->ndim >= 2 && nl > 7 && !strcmp(t->name + nl - 7, ".weight") && strncmp(t->name, "optim.", 6) &&
                   strncmp(t->name, "input.", 6) && strncmp(t->name, "expected.", 9) && !keep_f32(t->name);
        xt_st_writer_add_as(w, t->name, t->data, t->ndim, t->shape, half ? XT_BF16 : XT_F32); // copies: free ours now (peak memory)
        nhalf += half;
        free(ck->t[i].data);
        ck->t[i].data = NULL;
        if (strncmp(t->name, "optim.", 6)) { nw++; nparam += t->numel; }
    }
    snprintf(buf, sizeof buf, "%d", nw);
    xt_st_writer_meta(w, "weight_keys", buf);
    if (ck->epoch >= 0) {
        snprintf(buf, sizeof buf, "%lld", (long long)ck->epoch);
        xt_st_writer_meta(w, "epoch", buf);
    }
    if (ck->metrics_json) xt_st_writer_meta(w, "metrics", ck->metrics_json);
    if (ck->param_groups_json) xt_st_writer_meta(w, "optimizer_param_groups", ck->param_groups_json);
    int nio = 0;
    for (int i = 0; ref && i < ref->n; i++) {
        const xt_st_tensor *t = &ref->t[i];
        if (strncmp(t->name, "input.", 6) && strncmp(t->name, "expected.", 9)) continue;
        const float *d = xt_st_f32(ref, t->name, NULL);
        if (!d) { xt_st_writer_free(w); xt_cli_fail(); goto done; }
        xt_st_writer_add(w, t->name, d, t->ndim, t->shape);
        nio++;
    }
    if (xt_st_writer_save(w, out)) { xt_cli_fail(); goto done; }
    if (from && check_region(out, config, from, prefix)) { remove(out); xt_cli_fail(); goto done; }
    if (!quiet) {
        for (int i = 0; i < ck->n_notes; i++) fprintf(stderr, "xt convert: note: %s\n", ck->notes[i]);
        if (notes.n) {
            for (char *l = notes.p, *e; l && *l; l = e) {
                e = strchr(l, '\n');
                if (e) *e++ = 0;
                fprintf(stderr, "xt convert: note: %s\n", l);
            }
        }
        char hb[64] = "";
        if (bf16) snprintf(hb, sizeof hb, ", %d of them bf16", nhalf);
        printf("%s: %s checkpoint%s -> %s: %d tensors%s (%lld parameters)%s, %d input/expected tensors; %.2f s\n", in,
               ck->format, ck->trainer_payload ? " (trainer payload)" : "", out, ck->n, hb, (long long)nparam,
               ck->n > nw ? " incl. optimizer state" : "", nio, xt_time() - t0);
        printf("config: %s\n", config);
    }
    rc = 0;
done:
    xt_st_close(ref);
    xt_ckpt_free(ck);
    free(config);
    xt_sbuf_free(&notes);
    free(sets);
    return rc;
}
