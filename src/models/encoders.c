// encoders.c — the region encoders by arch, in one table: which builder makes "swinv2", "hiera"
// or "convnext" for inference (xt_encoder, models.h) and for training (xt_encoder_train,
// trainable.h), how each reads its stage geometry from a config alone, and under which key an xT
// config holds it. A "backbone" object (docs/backbones.md) names its arch, or a preset that does.
#include <string.h>

#include "models/backbones.h"
#include "models/trainable.h"

static int swin_geometry(const xt_json *cfg, int img_size, int *C, int *H) {
    xt_swin_cfg c;
    if (xt_swin_cfg_parse(cfg, img_size, &c)) return -1;
    for (int s = 0; s < c.n_stages; s++) C[s] = c.st[s].C, H[s] = c.st[s].res;
    return c.n_stages;
}

static int hiera_geometry(const xt_json *cfg, int img_size, int *C, int *H) {
    xt_hiera_geom g;
    if (xt_hiera_geom_new(&g, cfg, img_size)) return -1;
    int n = g.n_stages;
    for (int s = 0; s < n; s++) C[s] = g.stage_c[s], H[s] = g.stage_h[s];
    xt_hiera_geom_free(&g);
    return n;
}

static int convnext_geometry(const xt_json *cfg, int img_size, int *C, int *H) {
    xt_convnext_geom g;
    if (xt_convnext_geom_new(&g, cfg, img_size)) return -1;
    for (int s = 0; s < g.n_stages; s++) C[s] = g.dims[s], H[s] = g.stage_h[s];
    return g.n_stages;
}

static const struct {
    const char *arch, *key; // key: the encoder's config object in an xT config
    xt_encoder *(*build)(xt_st *st, const xt_json *cfg, const char *prefix, int img_size);
    xt_encoder_train *(*build_train)(xt_params *P, const xt_json *cfg, const char *prefix, int img_size);
    int (*geometry)(const xt_json *cfg, int img_size, int *C, int *H);
} archs[] = {
    {"swinv2", "swin", xt_swinv2_new, xt_swin_train_new, swin_geometry},
    {"hiera", "hiera", xt_hiera_new, xt_hiera_train_new, hiera_geometry},
    {"convnext", "convnext", xt_convnext_new, xt_convnext_train_new, convnext_geometry},
};
#define N_ARCHS ((int)(sizeof archs / sizeof *archs))

// The table row of (arch, *cfg): arch itself, or (arch NULL) the "arch" of the backbone object
// *cfg with its preset expanded into *res (a new object the caller frees; *cfg then points at
// it). Row index, or -1 + error.
static int arch_of(const char *arch, const xt_json **cfg, xt_json **res) {
    *res = NULL;
    if (!arch) {
        if (!(*res = xt_backbone_resolve(*cfg))) return -1;
        *cfg = *res;
        if (!(arch = xt_json_str(*res, "arch", NULL)))
            return xt_error("backbone", "config has no \"arch\" (swinv2, hiera or convnext) and no \"preset\"");
    }
    for (int i = 0; i < N_ARCHS; i++)
        if (!strcmp(arch, archs[i].arch)) return i;
    return xt_error("backbone", "unknown arch '%s' (swinv2, hiera or convnext)", arch);
}

xt_encoder *xt_encoder_new(xt_st *st, const char *arch, const xt_json *cfg, const char *prefix, int img_size) {
    xt_json *res;
    int a = arch_of(arch, &cfg, &res);
    xt_encoder *e = a < 0 ? NULL : archs[a].build(st, cfg, prefix, img_size);
    xt_json_free(res);
    return e;
}

xt_encoder *xt_backbone_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size) {
    return xt_encoder_new(st, NULL, cfg, prefix, img_size);
}

xt_encoder_train *xt_encoder_train_new(xt_params *P, const char *arch, const xt_json *cfg, const char *prefix,
                                       int img_size) {
    xt_json *res;
    int a = arch_of(arch, &cfg, &res);
    xt_encoder_train *e = a < 0 ? NULL : archs[a].build_train(P, cfg, prefix, img_size);
    xt_json_free(res);
    return e;
}

int xt_encoder_geometry(const char *arch, const xt_json *cfg, int img_size, int *C, int *H) {
    xt_json *res;
    int a = arch_of(arch, &cfg, &res);
    int n = a < 0 ? -1 : archs[a].geometry(cfg, img_size, C, H);
    xt_json_free(res);
    return n;
}

const xt_json *xt_xt_encoder_config(const xt_json *cfg, const char **arch, const char **key) {
    const xt_json *e;
    for (int i = 0; i < N_ARCHS; i++)
        if ((e = xt_json_get(cfg, archs[i].key))) {
            *arch = archs[i].arch, *key = archs[i].key;
            return e;
        }
    *arch = NULL, *key = "backbone";
    return xt_json_get(cfg, "backbone");
}

// ---------------------------------------------------------------------------------------------
// precision

static const char *prec_names[XT_PREC_COUNT] = {"f32", "bf16", "int8"};

const char *xt_precision_name(xt_precision p) { return p >= 0 && p < XT_PREC_COUNT ? prec_names[p] : "?"; }

int xt_precision_parse(const char *s, xt_precision *out) {
    for (int i = 0; s && i < XT_PREC_COUNT; i++)
        if (!strcmp(s, prec_names[i])) return *out = (xt_precision)i, 0;
    return xt_error("precision", "'%s' is not a precision (f32, bf16 or int8)", s ? s : "(none)");
}

int xt_cfg_precision(const xt_json *cfg, const char *model, unsigned supported, xt_precision *out) {
    *out = XT_PREC_F32;
    const xt_json *v = xt_json_get(cfg, "precision");
    if (!v || v->type == XT_JSON_NULL) return 0;
    if (v->type != XT_JSON_STR) return xt_error(model, "config: \"precision\" must be a string (f32, bf16 or int8)");
    if (xt_precision_parse(v->str, out)) return xt_error_prefix("%s: config", model);
    if (!(supported >> *out & 1u))
        return xt_error(model, "precision %s is not supported by this encoder", v->str);
    return 0;
}

int xt_config_apply_precision(xt_json *cfg, const char *override) {
    if (!cfg || cfg->type != XT_JSON_OBJ) return 0;
    const char *p = override;
    if (!p) {
        const xt_json *v = xt_json_get(cfg, "precision");
        if (!v || v->type == XT_JSON_NULL) return 0;
        if (v->type != XT_JSON_STR) return xt_error("config", "\"precision\" must be a string (f32, bf16 or int8)");
        p = v->str;
    }
    xt_precision pr;
    if (xt_precision_parse(p, &pr)) return -1;
    const char *name = xt_precision_name(pr); // p may point into cfg, which changes below
    xt_json_set_str(cfg, "precision", name);
    static const char *keys[] = {"swin", "hiera", "convnext", "backbone"};
    for (int k = 0; k < 4; k++) {
        const xt_json *o = xt_json_get(cfg, keys[k]);
        if (o && o->type == XT_JSON_OBJ) xt_json_set_str((xt_json *)o, "precision", name);
    }
    return 0;
}
