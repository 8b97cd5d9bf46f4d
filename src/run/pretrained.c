// pretrained.c — ImageNet backbone weights under timm's / hiera's own names -> region encoder.
//
// Users hold the weights xT fine-tunes from (`backbone.pretrained: true`) as plain state dicts:
// a `torch.save(model.state_dict())` .pth (zip or legacy), the hiera package's
// {"model_state": ...} .pth, or the model.safetensors timm publishes on the HF hub. Their names
// are those of the full classifier; xT's region encoder is timm's features_only network, whose
// FeatureListNet flattens sequential children ("layers.0" -> "layers_0") and has no head:
//
//   timm-swinv2   patch_embed.*, layers.{s}.{blocks,downsample}.*  -> layers_{s}.*;
//                 norm.*, head.* dropped. Older layouts (timm < 0.9, the original Microsoft
//                 release) put PatchMerging at the END of stage s (layers.0.downsample exists):
//                 it moves to stage s + 1, as timm 0.9.7's checkpoint_filter_fn does.
//   timm-convnext stem.{i}.* -> stem_{i}.*, stages.{s}.* -> stages_{s}.*; head.* (norm + fc) dropped.
//   hiera         pos_embed, patch_embed.*, blocks.{i}.* kept; norm.*, head.* dropped (HieraWrapper
//                 replaces them by Identity).
// Recomputed buffers (relative_position_index, relative_coords_table, attn_mask) are dropped by
// the loaders with a note. ref: timm/models/swin_transformer_v2.py, convnext.py,
// _features.py (v0.9.7); hiera/hiera.py (v0.1.4).
#include <string.h>

#include "run/convert.h"

static int starts(const char *s, const char *p) { return !strncmp(s, p, strlen(p)); }

// "layers.12.rest" with head "layers." -> 12, *rest = "rest"; -1 if not of that form
static int indexed(const char *name, const char *head, const char **rest) {
    if (!starts(name, head)) return -1;
    const char *p = name + strlen(head);
    int v = 0, nd = 0;
    while (*p >= '0' && *p <= '9' && nd < 6) { v = v * 10 + (*p++ - '0'); nd++; }
    if (!nd || *p != '.' || !p[1]) return -1;
    *rest = p + 1;
    return v;
}

// ---------------------------------------------------------------------------------------------

static int is_safetensors(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    unsigned char b[9];
    size_t n = fread(b, 1, sizeof b, f);
    fclose(f);
    return n == 9 && b[8] == '{' && b[0] != 0x80 && !(b[0] == 'P' && b[1] == 'K');
}

static xt_ckpt *load_safetensors(const char *path) {
    xt_st *st = xt_st_open(path);
    if (!st) return NULL;
    xt_ckpt *ck = xt_xcalloc(1, sizeof *ck);
    ck->path = strdup(path);
    ck->format = "safetensors";
    ck->epoch = -1;
    ck->t = xt_xcalloc(st->n ? st->n : 1, sizeof *ck->t);
    for (int i = 0; i < st->n; i++) {
        const xt_st_tensor *s = &st->t[i];
        if (xt_ckpt_recomputed_buffer(s->name)) {
            xt_ckpt_note(ck, "skipped buffer '%s': recomputed by the model", s->name);
            continue;
        }
        const float *d = xt_st_f32(st, s->name, NULL);
        if (!d) { xt_st_close(st); xt_ckpt_free(ck); return NULL; }
        for (int64_t k = 0; k < s->numel; k++)
            if (!(d[k] - d[k] == 0)) { // NaN or Inf
                xt_error("ckpt", "%s: tensor '%s' holds NaN or Inf", path, s->name);
                xt_st_close(st);
                xt_ckpt_free(ck);
                return NULL;
            }
        xt_ck_tensor *t = &ck->t[ck->n++];
        t->name = strdup(s->name);
        t->dtype = s->dtype == XT_F32 ? XT_SD_F32 : s->dtype == XT_F16 ? XT_SD_F16 : XT_SD_BF16;
        t->ndim = s->ndim;
        memcpy(t->shape, s->shape, sizeof t->shape);
        t->numel = s->numel;
        t->data = xt_xmalloc((size_t)(s->numel ? s->numel : 1) * sizeof(float));
        memcpy(t->data, d, (size_t)s->numel * sizeof(float));
    }
    xt_st_close(st);
    if (!ck->n) { xt_error("ckpt", "%s: no tensors", path); xt_ckpt_free(ck); return NULL; }
    return ck;
}

xt_ckpt *xt_ckpt_load_any(const char *path, const xt_ckpt_opts *opts) {
    return is_safetensors(path) ? load_safetensors(path) : xt_ckpt_load(path, opts);
}

// ---------------------------------------------------------------------------------------------

const char *xt_pretrained_detect(const xt_ckpt *ck) {
    if (xt_ckpt_find(ck, "layers.0.blocks.0.attn.logit_scale")) return "timm-swinv2";
    if (xt_ckpt_find(ck, "stem.0.weight") && xt_ckpt_find(ck, "stages.0.blocks.0.conv_dw.weight")) return "timm-convnext";
    if (xt_ckpt_find(ck, "pos_embed") && xt_ckpt_find(ck, "patch_embed.proj.weight") && xt_ckpt_find(ck, "blocks.0.attn.qkv.weight"))
        return "hiera";
    for (int i = 0; i < ck->n; i++) {
        const char *n = ck->t[i].name;
        if (starts(n, "encoder.model.") || starts(n, "model.layers_") || starts(n, "stem_0.") || starts(n, "model.blocks."))
            return xt_error("pretrained", "%s: the names are already xT's ('%s'): convert it without --from", ck->path, n), NULL;
        if (strstr(n, "layers.0.blocks.0.attn.relative_position_bias_table"))
            return xt_error("pretrained", "%s: a Swin V1 state dict ('%s'): xT uses Swin V2", ck->path, n), NULL;
    }
    xt_error("pretrained", "%s: not a timm Swin V2 (layers.0.blocks.0.attn.logit_scale), timm ConvNeXt "
                           "(stem.0.weight, stages.0.blocks.0.conv_dw.weight) or hiera (pos_embed, blocks.0.attn.qkv.weight) "
                           "state dict: give --from, or check the file (first name: '%s')",
             ck->path, ck->n ? ck->t[0].name : "");
    return NULL;
}

const char *xt_pretrained_kind(const char *from) {
    return !strcmp(from, "timm-swinv2") ? "swin_region" : !strcmp(from, "timm-convnext") ? "convnext_region" : "hiera_region";
}

const char *xt_pretrained_prefix(const char *from) { return !strcmp(from, "timm-convnext") ? "" : "model."; }

// the parameters of a timm 0.9.7 SwinTransformerV2 (the features_only encoder loads each; the
// Swin builder does not reject extra names, so unknown ones are caught here)
static int swin_leaf(const char *rest) {
    static const char *const blk[] = {"attn.logit_scale", "attn.q_bias", "attn.v_bias", "attn.cpb_mlp.0.weight",
                                      "attn.cpb_mlp.0.bias", "attn.cpb_mlp.2.weight", "attn.qkv.weight", "attn.qkv.bias",
                                      "attn.proj.weight", "attn.proj.bias", "norm1.weight", "norm1.bias", "norm2.weight",
                                      "norm2.bias", "mlp.fc1.weight", "mlp.fc1.bias", "mlp.fc2.weight", "mlp.fc2.bias"};
    static const char *const ds[] = {"downsample.reduction.weight", "downsample.norm.weight", "downsample.norm.bias"};
    const char *leaf;
    if (indexed(rest, "blocks.", &leaf) >= 0) {
        for (size_t i = 0; i < sizeof blk / sizeof *blk; i++)
            if (!strcmp(leaf, blk[i])) return 1;
        return 0;
    }
    for (size_t i = 0; i < sizeof ds / sizeof *ds; i++)
        if (!strcmp(rest, ds[i])) return 1;
    return 0;
}

// dropped groups, counted for one note each
typedef struct {
    const char *group, *why;
    int n;
} dropped;

int xt_pretrained_map(xt_ckpt *ck, const char *from, const char *prefix) {
    const int swin = !strcmp(from, "timm-swinv2"), cnx = !strcmp(from, "timm-convnext"), hiera = !strcmp(from, "hiera");
    if (!swin && !cnx && !hiera) return xt_error("pretrained", "--from '%s': timm-swinv2, timm-convnext or hiera", from);
    if (!prefix) prefix = xt_pretrained_prefix(from);
    if (strlen(prefix) > 100) return xt_error("pretrained", "prefix longer than 100 characters");
    // timm < 0.9 / Microsoft layout: PatchMerging closes stage s instead of opening stage s + 1
    const int shift = swin && xt_ckpt_find(ck, "layers.0.downsample.reduction.weight");
    dropped drops[] = {
        {"head.*", cnx ? "the ImageNet classifier and its norm: a features_only encoder has no head" : "the ImageNet classifier", 0},
        {"norm.*", "the final norm: the features_only encoder outputs the stages before it", 0},
    };
    xt_sbuf unknown = {0};
    int n_unknown = 0, out = 0;
    for (int i = 0; i < ck->n; i++) {
        xt_ck_tensor *t = &ck->t[i];
        const char *n = t->name, *rest;
        char nn[512];
        int k;
        nn[0] = 0;
        if (starts(n, "head.")) drops[0].n++;
        else if (starts(n, "norm.") && !cnx) drops[1].n++;
        else if (swin && (!strcmp(n, "patch_embed.proj.weight") || !strcmp(n, "patch_embed.proj.bias") ||
                          !strcmp(n, "patch_embed.norm.weight") || !strcmp(n, "patch_embed.norm.bias")))
            snprintf(nn, sizeof nn, "%s%s", prefix, n);
        else if (swin && (k = indexed(n, "layers.", &rest)) >= 0 && swin_leaf(rest))
            snprintf(nn, sizeof nn, "%slayers_%d.%s", prefix, k + (shift && starts(rest, "downsample.")), rest);
        else if (cnx && (k = indexed(n, "stem.", &rest)) >= 0) snprintf(nn, sizeof nn, "%sstem_%d.%s", prefix, k, rest);
        else if (cnx && (k = indexed(n, "stages.", &rest)) >= 0) snprintf(nn, sizeof nn, "%sstages_%d.%s", prefix, k, rest);
        else if (hiera && (!strcmp(n, "pos_embed") || starts(n, "patch_embed.") || indexed(n, "blocks.", &rest) >= 0))
            snprintf(nn, sizeof nn, "%s%s", prefix, n);
        else {
            if (n_unknown < 6) xt_sbuf_printf(&unknown, "%s'%s'", n_unknown ? ", " : "", n);
            n_unknown++;
        }
        if (!nn[0]) { // dropped or unknown
            free(t->name);
            free(t->data);
            continue;
        }
        free(t->name);
        t->name = strdup(nn);
        ck->t[out++] = *t;
    }
    ck->n = out;
    if (n_unknown) {
        int mae = 0;
        for (const char *p = unknown.p; p && (p = strstr(p, "'")); p++)
            if (starts(p + 1, "decoder") || starts(p + 1, "mask_token") || starts(p + 1, "encoder_norm")) mae = 1;
        xt_error("pretrained", "%s: %d tensor%s with no %s mapping: %s%s%s", ck->path, n_unknown, n_unknown > 1 ? "s" : "",
                 from, unknown.p, n_unknown > 6 ? ", ..." : "",
                 mae ? " (an MAE pre-training checkpoint? use a fine-tuned one)" : " (is --from right?)");
        xt_sbuf_free(&unknown);
        return -1;
    }
    if (shift) xt_ckpt_note(ck, "layers.{s}.downsample (PatchMerging at the end of stage s, timm < 0.9 / original layout) "
                                "moved to layers_{s+1}.downsample (timm 0.9.7's layout)");
    for (size_t g = 0; g < sizeof drops / sizeof *drops; g++)
        if (drops[g].n) xt_ckpt_note(ck, "dropped %d tensor%s %s: %s", drops[g].n, drops[g].n > 1 ? "s" : "", drops[g].group, drops[g].why);
    if (!ck->n) return xt_error("pretrained", "%s: no backbone tensors left after the mapping", ck->path);
    return 0;
}
