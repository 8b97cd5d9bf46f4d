// presets.c — the official region-encoder sizes by name, as our JSON encoder configs, and
// parameter counts computed from a config (so a preset can be checked against the published
// size without weights, and a user can see what a config costs before loading anything).
//
// Sources: timm 0.9.7 swin_transformer_v2.py / convnext.py model entry points; hiera v0.1.4
// hiera.py hiera_*_224; xT's backbone class names (xt/models/backbones) map onto them as aliases.
#include <string.h>

#include "models/models.h"

#define SWIN(ed, d2, h0, pws)                                                                      \
    "{\"arch\":\"swinv2\",\"embed_dim\":" #ed ",\"depths\":[2,2," #d2 ",2],\"num_heads\":[" h0 "],"  \
    "\"window_size\":16,\"img_size\":256,\"pretrained_window_sizes\":[" pws "],\"mlp_ratio\":4.0,"  \
    "\"in_chans\":3}"
#define HIERA(ed, nh, st)                                                                          \
    "{\"arch\":\"hiera\",\"embed_dim\":" #ed ",\"num_heads\":" #nh ",\"stages\":[" st "],"          \
    "\"q_pool\":3,\"q_stride\":[2,2],\"mask_unit_size\":[8,8],\"mask_unit_attn\":[true,true,false,false],"  \
    "\"dim_mul\":2.0,\"head_mul\":2.0,\"patch_kernel\":[7,7],\"patch_stride\":[4,4],"             \
    "\"patch_padding\":[3,3],\"mlp_ratio\":4.0,\"img_size\":224,\"in_chans\":3}"
#define CONVNEXT(d, w)                                                                             \
    "{\"arch\":\"convnext\",\"depths\":[" d "],\"dims\":[" w "],\"patch_size\":4,\"kernel_size\":7," \
    "\"mlp_ratio\":4.0,\"img_size\":224,\"in_chans\":3}"

// published: parameters in millions of the ImageNet-1k classifier (1000 classes), as timm's
// model tables / the Hiera README report them.
static const xt_preset presets[] = {
    {"swinv2_tiny_window16_256", "swinv2", SWIN(96, 6, "3,6,12,24", "0,0,0,0"), 28.35, "timm 0.9.7"},
    {"swinv2_small_window16_256", "swinv2", SWIN(96, 18, "3,6,12,24", "0,0,0,0"), 49.73, "timm 0.9.7"},
    {"swinv2_base_window16_256", "swinv2", SWIN(128, 18, "4,8,16,32", "0,0,0,0"), 87.92, "timm 0.9.7"},
    {"swinv2_large_window12to16_192to256", "swinv2", SWIN(192, 18, "6,12,24,48", "12,12,12,6"), 196.74,
     "timm 0.9.7"},
    {"hiera_tiny_224", "hiera", HIERA(96, 1, "1,2,7,2"), 27.91, "hiera v0.1.4 / timm"},
    {"hiera_small_224", "hiera", HIERA(96, 1, "1,2,11,2"), 35.01, "hiera v0.1.4 / timm"},
    {"hiera_base_224", "hiera", HIERA(96, 1, "2,3,16,3"), 51.52, "hiera v0.1.4 / timm"},
    {"hiera_base_plus_224", "hiera", HIERA(112, 2, "2,3,16,3"), 69.90, "hiera v0.1.4 / timm"},
    {"hiera_large_224", "hiera", HIERA(144, 2, "2,6,36,4"), 213.74, "hiera v0.1.4 / timm"},
    {"convnext_tiny", "convnext", CONVNEXT("3,3,9,3", "96,192,384,768"), 28.59, "timm 0.9.7"},
    {"convnext_small", "convnext", CONVNEXT("3,3,27,3", "96,192,384,768"), 50.22, "timm 0.9.7"},
    {"convnext_base", "convnext", CONVNEXT("3,3,27,3", "128,256,512,1024"), 88.59, "timm 0.9.7"},
    {"convnext_large", "convnext", CONVNEXT("3,3,27,3", "192,384,768,1536"), 197.77, "timm 0.9.7"},
};

// Other spellings: xT's backbone_class names (config/*.yaml) and short names.
static const struct { const char *alias, *name; } aliases[] = {
    {"swinv2_tiny_window16_256_timm", "swinv2_tiny_window16_256"},
    {"swinv2_small_window16_256_timm", "swinv2_small_window16_256"},
    {"swinv2_base_window16_256_timm", "swinv2_base_window16_256"},
    {"swinv2_large_window16_256_timm", "swinv2_large_window12to16_192to256"},
    {"swinv2_tiny_window16_256_timm_xview", "swinv2_tiny_window16_256"},
    {"swinv2_small_window16_256_timm_xview", "swinv2_small_window16_256"},
    {"swinv2_base_window16_256_timm_xview", "swinv2_base_window16_256"},
    {"swinv2_large_window16_256_timm_xview", "swinv2_large_window12to16_192to256"},
    {"swinv2_tiny", "swinv2_tiny_window16_256"},
    {"swinv2_small", "swinv2_small_window16_256"},
    {"swinv2_base", "swinv2_base_window16_256"},
    {"swinv2_large", "swinv2_large_window12to16_192to256"},
    {"hiera_tiny", "hiera_tiny_224"},
    {"hiera_small", "hiera_small_224"},
    {"hiera_base", "hiera_base_224"},
    {"hiera_base_plus", "hiera_base_plus_224"},
    {"hiera_large", "hiera_large_224"},
};

int xt_preset_count(void) { return (int)(sizeof presets / sizeof *presets); }
const xt_preset *xt_preset_at(int i) { return i >= 0 && i < xt_preset_count() ? &presets[i] : NULL; }

const xt_preset *xt_preset_find(const char *name) {
    if (!name) return NULL;
    for (size_t i = 0; i < sizeof aliases / sizeof *aliases; i++)
        if (!strcmp(aliases[i].alias, name)) name = aliases[i].name;
    for (int i = 0; i < xt_preset_count(); i++)
        if (!strcmp(presets[i].name, name)) return &presets[i];
    return NULL;
}

const char *xt_preset_config(const char *name) {
    const xt_preset *p = xt_preset_find(name);
    if (!p) {
        xt_sbuf s = {0};
        for (int i = 0; i < xt_preset_count(); i++) xt_sbuf_printf(&s, "%s%s", i ? ", " : "", presets[i].name);
        xt_error("preset", "unknown preset '%s' (known: %s)", name ? name : "(null)", s.p);
        xt_sbuf_free(&s);
        return NULL;
    }
    return p->config;
}

// ---------------------------------------------------------------------------------------------
// parameter counts from a config

static int ints(const xt_json *c, const char *key, int *out, int max, int min_n) {
    int n = xt_json_int_array(c, key, out, max);
    if (n < 0) return xt_error_prefix("param count");
    if (n < min_n) return xt_error("param count", "config '%s' needs at least %d entries", key, min_n);
    for (int i = 0; i < n; i++)
        if (out[i] < 0 || out[i] > 1 << 16) return xt_error("param count", "config '%s'[%d] out of range", key, i);
    return n;
}

// Scalars within the builders' ranges, so the int64 sums below cannot overflow (fuzz_model: UB
// on embed_dim 2e9, mlp_ratio / dim_mul 1e300).
static int in_range(const char *arch, const char *key, double v, double lo, double hi) {
    if (!(v >= lo && v <= hi)) return xt_error("param count", "%s: config '%s' = %g out of range [%g, %g]", arch, key, v, lo, hi);
    return 0;
}

// ref: timm swin_transformer_v2.py (PatchEmbed, PatchMerging, SwinTransformerV2Block, WindowAttention)
static int count_swin(const xt_json *c, int nc, int64_t *out) {
    int depths[XT_MAX_STAGES], heads[XT_MAX_STAGES], ed, in;
    double mr;
    int n = ints(c, "depths", depths, XT_MAX_STAGES, 1);
    if (n < 0 || ints(c, "num_heads", heads, XT_MAX_STAGES, n) != n) return xt_error("param count", "swinv2: depths/num_heads mismatch");
    if (xt_json_int(c, "embed_dim", 96, &ed) || xt_json_int(c, "in_chans", 3, &in) || xt_json_num(c, "mlp_ratio", 4, &mr))
        return xt_error_prefix("param count");
    if (in_range("swinv2", "embed_dim", ed, 1, 8192) || in_range("swinv2", "in_chans", in, 1, 1024) ||
        in_range("swinv2", "mlp_ratio", mr, 1e-9, 64) || in_range("swinv2", "widest stage", (double)ed * (1 << (n - 1)), 1, 65536))
        return -1;
    // the encoder's own parameter list (swinv2_cfg.c)
    xt_swin_cfg sc = {.embed = ed, .in_chans = in};
    xt_swin_param t[XT_SWIN_BLOCK_PARAMS];
    xt_swin_stem_params(&sc, t);
    int64_t p = xt_swin_params_numel(t, XT_SWIN_STEM_PARAMS), C = ed;
    for (int s = 0; s < n; s++) {
        xt_swin_stage S = {.C = ed << s, .Cin = s ? ed << (s - 1) : ed, .heads = heads[s], .hidden = (int)((ed << s) * mr)};
        C = S.C;
        xt_swin_merge_params(&S, t);
        if (s) p += xt_swin_params_numel(t, XT_SWIN_MERGE_PARAMS);
        xt_swin_block_params(&S, t);
        p += depths[s] * xt_swin_params_numel(t, XT_SWIN_BLOCK_PARAMS);
    }
    if (nc >= 0) p += 2 * C + (nc ? C * nc + nc : 0); // final norm + head fc
    *out = p;
    return 0;
}

// ref: timm convnext.py (stem, ConvNeXtStage downsample, ConvNeXtBlock, NormMlpClassifierHead)
static int count_convnext(const xt_json *c, int nc, int64_t *out) {
    int depths[XT_MAX_STAGES], dims[XT_MAX_STAGES], in, P, K;
    double mr;
    int n = ints(c, "dims", dims, XT_MAX_STAGES, 1);
    if (n < 0 || ints(c, "depths", depths, XT_MAX_STAGES, n) != n) return xt_error("param count", "convnext: dims/depths mismatch");
    if (xt_json_int(c, "in_chans", 3, &in) || xt_json_int(c, "patch_size", 4, &P) || xt_json_int(c, "kernel_size", 7, &K) ||
        xt_json_num(c, "mlp_ratio", 4, &mr))
        return xt_error_prefix("param count");
    if (in_range("convnext", "in_chans", in, 1, 1024) || in_range("convnext", "patch_size", P, 1, 64) ||
        in_range("convnext", "kernel_size", K, 1, 31) || in_range("convnext", "mlp_ratio", mr, 1e-9, 64))
        return -1;
    int64_t C = dims[0], p = (int64_t)in * C * P * P + C + 2 * C;
    for (int s = 0; s < n; s++) {
        int64_t Cs = dims[s], hid = (int64_t)(Cs * mr);
        if (s) p += 2 * C + Cs * C * 4 + Cs;
        C = Cs;
        p += depths[s] * (C * K * K + C + 2 * C + C * hid + hid + hid * C + C + C);
    }
    if (nc >= 0) p += 2 * C + (nc ? C * nc + nc : 0); // head.norm + head.fc
    *out = p;
    return 0;
}

// ref: hiera.py (PatchEmbed, pos_embed, HieraBlock, norm, Head)
static int count_hiera(const xt_json *c, int img, int nc, int64_t *out) {
    int stages[XT_MAX_STAGES], pk[2] = {7, 7}, ps[2] = {4, 4}, ed, nh, in;
    double dm, hm, mr;
    int n = ints(c, "stages", stages, XT_MAX_STAGES, 1);
    if (n < 0) return -1;
    if (xt_json_get(c, "patch_kernel") && ints(c, "patch_kernel", pk, 2, 2) < 0) return -1;
    if (xt_json_get(c, "patch_stride") && ints(c, "patch_stride", ps, 2, 2) < 0) return -1;
    if (xt_json_int(c, "embed_dim", 96, &ed) || xt_json_int(c, "num_heads", 1, &nh) || xt_json_int(c, "in_chans", 3, &in) ||
        xt_json_num(c, "dim_mul", 2, &dm) || xt_json_num(c, "head_mul", 2, &hm) || xt_json_num(c, "mlp_ratio", 4, &mr))
        return xt_error_prefix("param count");
    if (ps[0] < 1 || ps[1] < 1) return xt_error("param count", "hiera: patch_stride must be positive");
    if (in_range("hiera", "embed_dim", ed, 1, 16384) || in_range("hiera", "in_chans", in, 1, 1024) ||
        in_range("hiera", "dim_mul", dm, 1, 16) || in_range("hiera", "head_mul", hm, 1, 16) ||
        in_range("hiera", "mlp_ratio", mr, 1e-9, 64) || in_range("hiera", "image size", img, 1, 65536) ||
        in_range("hiera", "patch_kernel", pk[0] > pk[1] ? pk[0] : pk[1], 1, 64) ||
        in_range("hiera", "patch_stride", ps[0] > ps[1] ? ps[0] : ps[1], 1, 64))
        return -1;
    int64_t C = ed, p = (int64_t)in * C * pk[0] * pk[1] + C + (int64_t)(img / ps[0]) * (img / ps[1]) * C;
    for (int s = 0; s < n; s++)
        for (int i = 0; i < stages[s]; i++) {
            int64_t D = (s && !i) ? (int64_t)(C * dm) : C, hid = (int64_t)(D * mr);
            if (D > 65536) return xt_error("param count", "hiera: stage %d width %lld too wide", s, (long long)D);
            p += 2 * C + 3 * D * C + 3 * D + D * D + D + 2 * D + D * hid + hid + hid * D + D;
            if (D != C) p += D * C + D;
            C = D;
        }
    (void)hm;
    if (nc >= 0) p += 2 * C + (nc ? C * nc + nc : 0); // norm + head.projection
    *out = p;
    return 0;
}

static int count_resolved(const xt_json *cfg, int img_size, int num_classes, int64_t *out) {
    const char *arch = xt_json_str(cfg, "arch", NULL);
    if (!arch) return xt_error("param count", "config has no \"arch\" (swinv2, hiera or convnext)");
    int img = img_size;
    if (img <= 0 && xt_json_int(cfg, "img_size", 224, &img)) return xt_error_prefix("param count");
    if (!strcmp(arch, "swinv2")) return count_swin(cfg, num_classes, out);
    if (!strcmp(arch, "convnext")) return count_convnext(cfg, num_classes, out);
    if (!strcmp(arch, "hiera")) return count_hiera(cfg, img, num_classes, out);
    return xt_error("param count", "unknown arch '%s' (swinv2, hiera or convnext)", arch);
}

int xt_backbone_param_count(const xt_json *cfg, int img_size, int num_classes, int64_t *out) {
    xt_json *r = xt_backbone_resolve(cfg);
    if (!r) return -1;
    int rc = count_resolved(r, img_size, num_classes, out);
    xt_json_free(r);
    return rc;
}

static void json_write(xt_sbuf *s, const xt_json *j) {
    switch (j->type) {
    case XT_JSON_NULL: xt_sbuf_printf(s, "null"); break;
    case XT_JSON_BOOL: xt_sbuf_printf(s, j->num ? "true" : "false"); break;
    case XT_JSON_NUM: xt_sbuf_printf(s, "%.17g", j->num); break;
    case XT_JSON_STR: xt_sbuf_json_str(s, j->str); break;
    case XT_JSON_ARR:
    case XT_JSON_OBJ:
        xt_sbuf_printf(s, j->type == XT_JSON_ARR ? "[" : "{");
        for (int i = 0; i < j->n; i++) {
            if (i) xt_sbuf_printf(s, ",");
            if (j->type == XT_JSON_OBJ) {
                xt_sbuf_json_str(s, j->keys[i]);
                xt_sbuf_printf(s, ":");
            }
            json_write(s, j->items[i]);
        }
        xt_sbuf_printf(s, j->type == XT_JSON_ARR ? "]" : "}");
        break;
    }
}

xt_json *xt_backbone_resolve(const xt_json *cfg) {
    if (!cfg || cfg->type != XT_JSON_OBJ) {
        xt_error("backbone", "config must be a JSON object");
        return NULL;
    }
    const char *preset = xt_json_str(cfg, "preset", NULL);
    xt_sbuf s = {0};
    xt_sbuf_printf(&s, "{");
    int first = 1;
    if (preset) { // the preset's keys that the object does not override
        const char *txt = xt_preset_config(preset);
        xt_json *pj = txt ? xt_json_parse(txt, strlen(txt), "preset") : NULL;
        if (!pj) { xt_sbuf_free(&s); return NULL; }
        for (int i = 0; i < pj->n; i++) {
            if (xt_json_get(cfg, pj->keys[i])) continue;
            xt_sbuf_printf(&s, "%s", first ? "" : ",");
            xt_sbuf_json_str(&s, pj->keys[i]);
            xt_sbuf_printf(&s, ":");
            json_write(&s, pj->items[i]);
            first = 0;
        }
        xt_json_free(pj);
    }
    for (int i = 0; i < cfg->n; i++) {
        if (!strcmp(cfg->keys[i], "preset")) continue;
        xt_sbuf_printf(&s, "%s", first ? "" : ",");
        xt_sbuf_json_str(&s, cfg->keys[i]);
        xt_sbuf_printf(&s, ":");
        json_write(&s, cfg->items[i]);
        first = 0;
    }
    xt_sbuf_printf(&s, "}");
    xt_json *out = xt_json_parse(s.p, s.n, "backbone config");
    xt_sbuf_free(&s);
    return out;
}

xt_encoder *xt_backbone_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size) {
    xt_json *r = xt_backbone_resolve(cfg);
    if (!r) return xt_error_in_file(st ? st->path : NULL), NULL;
    const char *arch = xt_json_str(r, "arch", NULL);
    xt_encoder *e = NULL;
    if (!arch) xt_error("backbone", "config has no \"arch\" (swinv2, hiera or convnext) and no \"preset\"");
    else if (!strcmp(arch, "swinv2")) e = xt_swinv2_new(st, r, prefix, img_size);
    else if (!strcmp(arch, "hiera")) e = xt_hiera_new(st, r, prefix, img_size);
    else if (!strcmp(arch, "convnext")) e = xt_convnext_new(st, r, prefix, img_size);
    else xt_error("backbone", "unknown arch '%s' (swinv2, hiera or convnext)", arch);
    xt_json_free(r);
    if (!e) xt_error_in_file(st ? st->path : NULL);
    return e;
}
