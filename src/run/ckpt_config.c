// ckpt_config.c — the model config of a converted checkpoint: given, official YAML, inferred.
//
// A checkpoint holds weights, not the architecture. What the tensor names and shapes determine
// is inferred here and cross-checked against anything given; what they cannot determine must
// be given (the command fails and lists it):
//   determined: cls_head (naive: decoder.layers.{0,2,3}; xl: decoder.cls_token), num_classes,
//     mlp_ratio (except mamba), context.hidden_size / n_layer, attention_method "mamba"
//     (mixer.A_log), Swin embed_dim / depths / num_heads / in_chans, Hiera embed_dim / stages /
//     in_chans / region size (pos_embed length) / num_heads of the official presets;
//   not determined: crop_size for Swin (relative-position tables are recomputed, so nothing
//     depends on it), swin.window_size (same), attention_method naive vs hyper (identical
//     keys and shapes — only the semantics differ, golden README bug 1).
// The result has the shape of the golden files' __metadata__.config ("kind": "xt", "swin" or
// "hiera", "context", ...); keys of a given config that we do not know pass through unchanged.
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "run/convert.h"
#include "models/models.h" // presets: xt_preset_config, xt_backbone_resolve, xt_hiera_size_heads

// ---------------------------------------------------------------------------------------------
// a small mutable config tree (the JSON DOM in core is read-only)

typedef struct cnode {
    char *key;
    char *leaf;           // canonical JSON text of a non-object value, or NULL for an object
    struct cnode **kids;
    int n;
} cnode;

static cnode *cnode_new(const char *key) {
    cnode *c = xt_xcalloc(1, sizeof *c);
    c->key = strdup(key ? key : "");
    return c;
}

static void cnode_free(cnode *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) cnode_free(c->kids[i]);
    free(c->kids);
    free(c->key);
    free(c->leaf);
    free(c);
}

static cnode *cnode_child(cnode *c, const char *key, int create) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->kids[i]->key, key)) return c->kids[i];
    if (!create) return NULL;
    c->kids = realloc(c->kids, (c->n + 1) * sizeof *c->kids);
    XT_ASSERT(c->kids);
    return c->kids[c->n++] = cnode_new(key);
}

static char *json_text(const xt_json *j) {
    xt_sbuf s = {0};
    xt_sbuf_json(&s, j, 0);
    return s.p;
}

static void cnode_from_json(cnode *c, const xt_json *j) {
    for (int i = 0; i < j->n; i++) {
        cnode *k = cnode_child(c, j->keys[i], 1);
        if (j->items[i]->type == XT_JSON_OBJ) {
            free(k->leaf);
            k->leaf = NULL;
            cnode_from_json(k, j->items[i]);
        } else {
            free(k->leaf);
            k->leaf = json_text(j->items[i]);
        }
    }
}

static cnode *cnode_path(cnode *root, const char *path, int create) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    cnode *c = root;
    for (char *sv, *tok = strtok_r(buf, ".", &sv); tok && c; tok = strtok_r(NULL, ".", &sv)) c = cnode_child(c, tok, create);
    return c;
}

static void cnode_set(cnode *root, const char *path, const char *json) {
    cnode *c = cnode_path(root, path, 1);
    for (int i = 0; i < c->n; i++) cnode_free(c->kids[i]);
    c->n = 0;
    free(c->leaf);
    c->leaf = strdup(json);
}

static const char *cnode_get(cnode *root, const char *path) {
    cnode *c = cnode_path(root, path, 0);
    return c ? c->leaf : NULL;
}

static void cnode_emit(xt_sbuf *s, const cnode *c) {
    if (c->leaf) { xt_sbuf_printf(s, "%s", c->leaf); return; }
    xt_sbuf_printf(s, "{");
    for (int i = 0; i < c->n; i++) {
        if (i) xt_sbuf_printf(s, ",");
        xt_sbuf_json_str(s, c->kids[i]->key);
        xt_sbuf_printf(s, ":");
        cnode_emit(s, c->kids[i]);
    }
    xt_sbuf_printf(s, "}");
}

// canonical JSON of a value given as text (re-emitted so 16 and 16.0 compare equal)
static char *canon(const char *text) {
    xt_json *j = xt_json_parse(text, strlen(text), "value");
    if (!j) return NULL;
    char *t = json_text(j);
    xt_json_free(j);
    return t;
}

// ---------------------------------------------------------------------------------------------
// inference

typedef struct {
    const xt_ckpt *ck;
    cnode *inf;       // inferred settings
    xt_sbuf *notes;
    char missing[1024];
} infer;

static const xt_ck_tensor *T(const infer *I, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static const xt_ck_tensor *T(const infer *I, const char *fmt, ...) {
    char name[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return xt_ckpt_find(I->ck, name);
}

static void set_int(infer *I, const char *path, long long v) {
    char b[32];
    snprintf(b, sizeof b, "%lld", v);
    cnode_set(I->inf, path, b);
}

static void set_ints(infer *I, const char *path, const int *v, int n) {
    xt_sbuf s = {0};
    xt_sbuf_printf(&s, "[");
    for (int i = 0; i < n; i++) xt_sbuf_printf(&s, "%s%d", i ? ", " : "", v[i]);
    xt_sbuf_printf(&s, "]");
    char *c = canon(s.p);
    cnode_set(I->inf, path, c);
    free(c);
    xt_sbuf_free(&s);
}

static void set_str(infer *I, const char *path, const char *v) {
    xt_sbuf s = {0};
    xt_sbuf_json_str(&s, v);
    cnode_set(I->inf, path, s.p);
    xt_sbuf_free(&s);
}

static int count_prefix(const infer *I, const char *fmt, int max) {
    int n = 0;
    while (n < max && T(I, fmt, n)) n++;
    return n;
}

static int infer_swin(infer *I, const char *p, int *final_c) {
    const xt_ck_tensor *pe = T(I, "%spatch_embed.proj.weight", p);
    if (!pe || pe->ndim != 4) return xt_error("config", "%s: %spatch_embed.proj.weight missing or not 4-D", I->ck->path, p);
    set_int(I, "swin.embed_dim", pe->shape[0]);
    set_int(I, "swin.in_chans", pe->shape[1]);
    if (pe->shape[2] != 4 || pe->shape[3] != 4)
        return xt_error("config", "%s: Swin patch size %lldx%lld (timm Swin V2 uses 4x4)", I->ck->path, (long long)pe->shape[2], (long long)pe->shape[3]);
    int depths[8], heads[8], ns = 0, c = (int)pe->shape[0];
    while (ns < 8) {
        char pat[300];
        snprintf(pat, sizeof pat, "%slayers_%d.blocks.%%d.attn.logit_scale", p, ns);
        int d = count_prefix(I, pat, 1000);
        if (!d) break;
        const xt_ck_tensor *ls = T(I, "%slayers_%d.blocks.0.attn.logit_scale", p, ns);
        depths[ns] = d;
        heads[ns] = (int)ls->shape[0];
        if (ns > 0) c *= 2;
        ns++;
    }
    if (!ns) return xt_error("config", "%s: no %slayers_0.blocks.0.attn.logit_scale: not a timm Swin V2", I->ck->path, p);
    set_ints(I, "swin.depths", depths, ns);
    set_ints(I, "swin.num_heads", heads, ns);
    *final_c = c;
    strcat(I->missing, " swin.window_size");
    // the official Swin-L (window12to16_192to256) normalises its relative-position table by its
    // pretraining windows; nothing in the tensors says so
    if (pe->shape[0] == 192 && ns == 4 && depths[2] == 18) strcat(I->missing, " swin.pretrained_window_sizes");
    return 0;
}

static int infer_hiera(infer *I, const char *p, int *final_c) {
    const xt_ck_tensor *pe = T(I, "%spatch_embed.proj.weight", p), *pos = T(I, "%spos_embed", p);
    if (!pe || pe->ndim != 4 || !pos || pos->ndim != 3) return xt_error("config", "%s: Hiera patch_embed/pos_embed missing or misshaped", I->ck->path);
    int e = (int)pe->shape[0];
    set_int(I, "hiera.embed_dim", e);
    set_int(I, "hiera.in_chans", pe->shape[1]);
    int k[2] = {(int)pe->shape[2], (int)pe->shape[3]};
    set_ints(I, "hiera.patch_kernel", k, 2);
    char pat[300];
    snprintf(pat, sizeof pat, "%sblocks.%%d.attn.qkv.weight", p);
    int nb = count_prefix(I, pat, 10000);
    int stages[8] = {0}, ns = 1, width = e;
    for (int b = 0; b < nb; b++) {
        const xt_ck_tensor *pr = T(I, "%sblocks.%d.proj.weight", p, b);
        if (pr && b > 0) {
            if (ns == 8) return xt_error("config", "%s: more than 8 Hiera stages", I->ck->path);
            ns++;
            width = (int)pr->shape[0];
        }
        stages[ns - 1]++;
    }
    if (!nb) return xt_error("config", "%s: no Hiera blocks under %sblocks.", I->ck->path, p);
    set_ints(I, "hiera.stages", stages, ns);
    const xt_ck_tensor *fc1 = T(I, "%sblocks.0.mlp.fc1.weight", p);
    if (fc1 && fc1->ndim == 2 && fc1->shape[1] && fc1->shape[0] % fc1->shape[1] == 0)
        set_int(I, "hiera.mlp_ratio", fc1->shape[0] / fc1->shape[1]);
    // the region size: pos_embed holds (S / patch_stride)^2 tokens, patch stride 4 in every preset
    long long ntok = pos->shape[1], side = (long long)llround(sqrt((double)ntok));
    if (side * side == ntok) {
        set_int(I, "crop_size", side * 4);
        xt_sbuf_printf(I->notes, "crop_size %lld from %spos_embed (%lld tokens, patch stride 4)\n", side * 4, p, ntok);
    }
    // sizes of the hiera package (hiera_tiny_224 ... hiera_huge_224): heads are not in the shapes
    const char *size = NULL;
    int heads = xt_hiera_size_heads(e, stages, ns, &size);
    if (heads) {
        set_int(I, "hiera.num_heads", heads);
        xt_sbuf_printf(I->notes, "Hiera %s preset recognised: num_heads %d\n", size, heads);
    } else
        strcat(I->missing, " hiera.num_heads");
    *final_c = width;
    return 0;
}

static int infer_xt(infer *I) {
    const xt_ckpt *ck = I->ck;
    set_str(I, "kind", "xt");
    int c = 0;
    if (T(I, "encoder.model.layers_0.blocks.0.attn.logit_scale")) {
        if (infer_swin(I, "encoder.model.", &c)) return -1;
        strcat(I->missing, " crop_size");
    } else if (T(I, "encoder.model.pos_embed") && T(I, "encoder.model.blocks.0.attn.qkv.weight")) {
        if (infer_hiera(I, "encoder.model.", &c)) return -1;
        if (!cnode_get(I->inf, "crop_size")) strcat(I->missing, " crop_size");
    } else return xt_error("config", "%s: no encoder.model.* region encoder recognised (Swin V2 or Hiera): give --config", ck->path);

    const xt_ck_tensor *l0 = T(I, "decoder.layers.0.weight"), *l3 = T(I, "decoder.layers.3.weight"), *ct = T(I, "decoder.cls_token");
    if (ct) {
        set_str(I, "cls_head", "xl");
        const xt_ck_tensor *ip = T(I, "decoder.input_proj.weight"), *cl = T(I, "decoder.cls.1.weight");
        if (!ip || ip->ndim != 2 || !cl || cl->ndim != 2) return xt_error("config", "%s: xl head without decoder.input_proj / decoder.cls.1 weights", ck->path);
        int d = (int)ip->shape[0];
        if (ip->shape[1] != c)
            return xt_error("config", "%s: decoder.input_proj.weight takes %lld channels but the encoder's last stage has %d", ck->path, (long long)ip->shape[1], c);
        set_int(I, "context.hidden_size", d);
        set_int(I, "num_classes", cl->shape[0]);
        int nl = count_prefix(I, "decoder.layers.%d.input_layernorm.weight", 10000);
        if (T(I, "decoder.layers.0.mixer.A_log")) {
            nl = count_prefix(I, "decoder.layers.%d.mixer.A_log", 10000);
            set_str(I, "context.attention_method", "mamba");
            const xt_ck_tensor *al = T(I, "decoder.layers.0.mixer.A_log");
            if (al->ndim != 2 || al->shape[1] != 16)
                return xt_error("config", "%s: mamba d_state %lld (xT builds d_state 16)", ck->path, al->ndim == 2 ? (long long)al->shape[1] : -1LL);
            xt_sbuf_printf(I->notes, "mlp_ratio is unused by the mamba head\n");
        } else {
            const xt_ck_tensor *g = T(I, "decoder.layers.0.mlp.gate_proj.weight");
            if (!g || g->ndim != 2 || g->shape[0] % d)
                return xt_error("config", "%s: decoder.layers.0.mlp.gate_proj.weight missing or not a multiple of hidden %d", ck->path, d);
            set_int(I, "mlp_ratio", g->shape[0] / d);
            strcat(I->missing, " context.attention_method");
        }
        if (!nl) return xt_error("config", "%s: xl head without decoder layers", ck->path);
        set_int(I, "context.n_layer", nl);
    } else if (l0 && l3 && l0->ndim == 2 && l3->ndim == 2) {
        set_str(I, "cls_head", "naive");
        if (l0->shape[1] != c)
            return xt_error("config", "%s: decoder.layers.0.weight takes %lld channels but the encoder's last stage has %d", ck->path, (long long)l0->shape[1], c);
        if (l0->shape[0] % c) return xt_error("config", "%s: decoder.layers.0.weight is not (mlp_ratio x %d, %d)", ck->path, c, c);
        set_int(I, "mlp_ratio", l0->shape[0] / c);
        set_int(I, "num_classes", l3->shape[0]);
    } else return xt_error("config", "%s: no decoder recognised (naive: decoder.layers.0/3, xl: decoder.cls_token)", ck->path);
    return 0;
}

static void drop_missing(infer *I, const char *tok) {
    char buf[1024], out[1024] = "";
    snprintf(buf, sizeof buf, "%s", I->missing);
    for (char *sv, *t = strtok_r(buf, " ", &sv); t; t = strtok_r(NULL, " ", &sv))
        if (strcmp(t, tok)) { strcat(out, " "); strcat(out, t); }
    snprintf(I->missing, sizeof I->missing, "%s", out);
}

// The xView3 dense model (EncoderDecoderV2, SwinXviewWrapper): kind "xview"; the Swin sizes,
// the context model and its width from the tensors; the decoder widths are read at load.
static int infer_xview(infer *I) {
    const xt_ckpt *ck = I->ck;
    set_str(I, "kind", "xview");
    int c = 0;
    if (infer_swin(I, "encoder.model.", &c)) return -1;
    const xt_ck_tensor *pe = T(I, "encoder.model.patch_embed.proj.weight"), *up = T(I, "encoder.upsample.weight");
    if (!up || up->ndim != 4 || up->shape[0] != pe->shape[0] || up->shape[1] != pe->shape[0] || up->shape[2] != 2 || up->shape[3] != 2)
        return xt_error("config", "%s: encoder.upsample.weight is not (C, C, 2, 2) with C = %lld", ck->path, (long long)pe->shape[0]);
    strcat(I->missing, " crop_size");
    // every official xView3 backbone is a *_window16_256_timm_xview
    drop_missing(I, "swin.window_size");
    set_int(I, "swin.window_size", 16);
    const xt_ck_tensor *ip = T(I, "context_model.input_proj.weight");
    cnode_set(I->inf, "xl_context.enabled", ip ? "true" : "false");
    if (ip) {
        if (ip->ndim != 2 || ip->shape[1] != c)
            return xt_error("config", "%s: context_model.input_proj.weight is not (hidden, %d)", ck->path, c);
        set_int(I, "xl_context.hidden_size", ip->shape[0]);
        int nl = count_prefix(I, "context_model.layers.%d.input_layernorm.weight", 10000);
        if (!nl) return xt_error("config", "%s: a context model without context_model.layers.*", ck->path);
        set_int(I, "xl_context.n_layer", nl);
    }
    return 0;
}

// A given "backbone" object (docs/backbones.md: {"preset": ...} or {"arch": ...}) names the
// encoder instead of "swin"/"hiera": check the inferred values against its expansion and do not
// add the inferred object beside it.
static int backbone_check(infer *I, cnode *gb) {
    xt_sbuf t = {0};
    cnode_emit(&t, gb);
    xt_json *bj = xt_json_parse(t.p, t.n, "backbone");
    xt_sbuf_free(&t);
    xt_json *r = bj ? xt_backbone_resolve(bj) : NULL;
    xt_json_free(bj);
    if (!r) return xt_error_prefix("config: %s: backbone", I->ck->path);
    const char *arch = xt_json_str(r, "arch", "");
    const char *key = !strcmp(arch, "swinv2") ? "swin" : !strcmp(arch, "hiera") ? "hiera" : arch;
    cnode *ib = NULL;
    int at = -1;
    for (int i = 0; i < I->inf->n; i++)
        if (!strcmp(I->inf->kids[i]->key, "swin") || !strcmp(I->inf->kids[i]->key, "hiera")) { ib = I->inf->kids[i]; at = i; }
    int rc = 0;
    if (!ib || strcmp(ib->key, key)) {
        rc = xt_error("config", "%s: backbone arch '%s' but the checkpoint's encoder is %s", I->ck->path, arch,
                      ib ? (!strcmp(ib->key, "swin") ? "a Swin V2" : "a Hiera") : "unknown");
        goto out;
    }
    for (int i = 0; i < ib->n && !rc; i++) {
        const xt_json *v = xt_json_get(r, ib->kids[i]->key);
        if (!v || !ib->kids[i]->leaf) continue;
        char *a = json_text(v), *c = canon(a);
        if (!c || strcmp(c, ib->kids[i]->leaf))
            rc = xt_error("config", "%s: setting backbone.%s is %s but the checkpoint's tensors say %s", I->ck->path,
                          ib->kids[i]->key, a, ib->kids[i]->leaf);
        free(a);
        free(c);
    }
    if (!rc) {
        if (xt_json_get(r, "window_size")) drop_missing(I, "swin.window_size");
        if (xt_json_get(r, "pretrained_window_sizes")) drop_missing(I, "swin.pretrained_window_sizes");
        if (xt_json_get(r, "num_heads")) drop_missing(I, "hiera.num_heads");
        cnode_free(ib);
        memmove(I->inf->kids + at, I->inf->kids + at + 1, (size_t)(--I->inf->n - at) * sizeof *I->inf->kids);
    }
out:
    xt_json_free(r);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// the official YAML (xt/config.py + xt/models/build.py) -> our config

static const xt_json *jpath(const xt_json *j, const char *path) {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *sv, *tok = strtok_r(buf, ".", &sv); tok && j; tok = strtok_r(NULL, ".", &sv)) j = xt_json_get(j, tok);
    return j;
}

// A YAML file and its base_configs, highest priority first (OmegaConf.merge order reversed).
typedef struct {
    xt_json *doc[16];
    int n;
    char *file[16]; // the file each doc came from
} ydocs;

// value at a dotted path, following whole-value "${a.b}" interpolations (not resolvers like ${oc.env:...})
static const xt_json *ylook(const ydocs *D, const char *path, int depth) {
    for (int i = 0; i < D->n; i++) {
        const xt_json *j = jpath(D->doc[i], path);
        if (!j) continue;
        size_t n = j->type == XT_JSON_STR ? strlen(j->str) : 0;
        if (n > 3 && !strncmp(j->str, "${", 2) && j->str[n - 1] == '}' && !strchr(j->str, ':') && depth < 8) {
            char inner[256];
            snprintf(inner, sizeof inner, "%.*s", (int)(n - 3), j->str + 2);
            return ylook(D, inner, depth + 1);
        }
        return j;
    }
    return NULL;
}

static int ynum(const ydocs *D, const char *path, double def, double *out, const char *file) {
    const xt_json *j = ylook(D, path, 0);
    if (!j || j->type == XT_JSON_NULL) { *out = def; return 0; }
    if (j->type != XT_JSON_NUM) return xt_error("config", "%s: %s is not a number", file, path);
    *out = j->num;
    return 0;
}

static const char *ystr(const ydocs *D, const char *path, const char *def) {
    const xt_json *j = ylook(D, path, 0);
    return j && j->type == XT_JSON_STR ? j->str : def;
}

// config/xview_icml/*.yaml: the EncoderDecoderV2 model (gigaformer/models/build.py). Of
// model.backbone only img_size is used (golden README bug 16); the Swin sizes come from the
// preset (and are cross-checked against the tensors).
static int yaml_to_xview(const ydocs *D, cnode *given, const char *path, const char *bc, xt_sbuf *notes) {
    const xt_preset *p = xt_preset_find(bc);
    if (!p || strcmp(p->arch, "swinv2"))
        return xt_error("config", "%s: model.backbone_class '%s': the xView3 model takes a Swin V2 (swinv2_*_window16_256_timm_xview)", path, bc);
    const char *name = ystr(D, "model.name", "EncoderDecoderV2");
    if (strcmp(name, "EncoderDecoderV2") && strcmp(name, "TimmUnet"))
        return xt_error("config", "%s: model.name '%s' (the xView3 model is EncoderDecoderV2)", path, name);
    char b[256];
    double v = 0;
    cnode_set(given, "kind", "\"xview\"");
    snprintf(b, sizeof b, "\"%s\"", bc);
    cnode_set(given, "backbone_class", b);
    xt_json *pj = xt_json_parse(p->config, strlen(p->config), "preset");
    if (!pj) return -1;
    static const char *keys[] = {"embed_dim", "depths", "num_heads", "window_size"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        char *t = json_text(xt_json_get(pj, keys[i]));
        snprintf(b, sizeof b, "swin.%s", keys[i]);
        cnode_set(given, b, t);
        free(t);
    }
    xt_json_free(pj);
    cnode_set(given, "swin.in_chans", "2");
#define YNUM(p, def, key)                                                                      \
    do {                                                                                       \
        if (ynum(D, p, def, &v, path)) return -1;                                              \
        snprintf(b, sizeof b, "%d", (int)v);                                                   \
        cnode_set(given, key, b);                                                              \
    } while (0)
    YNUM("model.backbone.img_size", 256, "crop_size");
    YNUM("data.val_crop_size", 512, "val_crop_size");
    YNUM("data.overlap", 10, "overlap");
    const xt_json *en = ylook(D, "model.xl_context.enabled", 0);
    int on = en && en->type == XT_JSON_BOOL && en->num != 0;
    cnode_set(given, "xl_context.enabled", on ? "true" : "false");
    const xt_json *sk = ylook(D, "model.xl_context.skip_connection", 0);
    cnode_set(given, "xl_context.skip_connection", sk && sk->type == XT_JSON_BOOL && sk->num != 0 ? "true" : "false");
    if (on) {
        YNUM("model.xl_context.hidden_size", 256, "xl_context.hidden_size");
        YNUM("model.xl_context.n_layer", 4, "xl_context.n_layer");
        YNUM("model.xl_context.mem_chip", 1, "xl_context.mem_chip");
    }
#undef YNUM
    snprintf(b, sizeof b, "\"%s\"", ystr(D, "model.tiling", "naive"));
    cnode_set(given, "tiling", b);
    xt_sbuf_printf(notes, "official xView3 config %s: backbone %s, tiles %s px in crops of %s\n", path, bc,
                   cnode_get(given, "crop_size"), cnode_get(given, "val_crop_size"));
    return 0;
}

static int yaml_to_config(const ydocs *D, cnode *given, const char *path, xt_sbuf *notes) {
    const char *bc = ystr(D, "model.backbone_class", "swinv2_tiny_window16_256_timm");
    // ref: xt/models/backbones/{swin,hiera}.py — each backbone_class is a timm / hiera preset
    // (src/models/presets.c knows them by these names: window 16 at 256, Swin-L's
    // window12to16_192to256 with pretrained_window_sizes 12,12,12,6, ...). timm 0.9.7 swallows
    // input_size (golden README bug 9): the Swin is always built for img_size 256.
    char b[160];
    size_t bl = strlen(bc);
    if ((bl > 6 && !strcmp(bc + bl - 6, "_xview")) || !strcmp(ystr(D, "data.dataset", ""), "xview3"))
        return yaml_to_xview(D, given, path, bc, notes);
    const char *txt = xt_preset_config(bc);
    xt_json *pj = txt ? xt_json_parse(txt, strlen(txt), "preset") : NULL;
    if (!pj) return xt_error_prefix("config: %s: model.backbone_class", path);
    const char *arch = xt_json_str(pj, "arch", "");
    const char *key = !strcmp(arch, "swinv2") ? "swin" : !strcmp(arch, "hiera") ? "hiera" : NULL;
    if (!key) { xt_json_free(pj); return xt_error("config", "%s: backbone_class '%s' (%s) is not an xT backbone", path, bc, arch); }
    cnode_set(given, "kind", "\"xt\"");
    cnode *bn = cnode_path(given, key, 1);
    cnode_from_json(bn, pj);
    for (int i = 0; i < bn->n; i++) // "arch" is implied by the key
        if (!strcmp(bn->kids[i]->key, "arch")) {
            cnode_free(bn->kids[i]);
            memmove(bn->kids + i, bn->kids + i + 1, (size_t)(--bn->n - i) * sizeof *bn->kids);
            break;
        }
    xt_json_free(pj);
    const int is_swin = !strcmp(key, "swin");
    // xt/models/build.py: crop_size = model.backbone.input_size (dataclass defaults otherwise)
    double v = 0;
#define YNUM(p, def, key)                                                                      \
    do {                                                                                       \
        if (ynum(D, p, def, &v, path)) return -1;                                              \
        snprintf(b, sizeof b, "%d", (int)v);                                                   \
        cnode_set(given, key, b);                                                              \
    } while (0)
    YNUM("model.backbone.input_size", 256, "crop_size");
    YNUM("model.backbone.in_chans", 3, is_swin ? "swin.in_chans" : "hiera.in_chans");
    const char *head = ystr(D, "model.cls_head", "naive");
    if (strcmp(head, "xl") && strcmp(head, "naive")) return xt_error("config", "%s: model.cls_head '%s' (naive or xl)", path, head);
    snprintf(b, sizeof b, "\"%s\"", head);
    cnode_set(given, "cls_head", b);
    YNUM("model.num_classes", 9999, "num_classes");
    YNUM("model.mlp_ratio", 4, "mlp_ratio");
    if (!strcmp(head, "xl")) { // ContextEncoderConfig defaults: hidden 768, 12 layers, hyper, -1
        YNUM("model.context.hidden_size", 768, "context.hidden_size");
        YNUM("model.context.n_layer", 12, "context.n_layer");
        YNUM("model.context.in_context_patches", -1, "context.in_context_patches");
        const char *am = ystr(D, "model.context.attention_method", "hyper");
        if (strcmp(am, "hyper") && strcmp(am, "naive") && strcmp(am, "mamba"))
            return xt_error("config", "%s: model.context.attention_method '%s' (hyper, naive or mamba)", path, am);
        snprintf(b, sizeof b, "\"%s\"", am);
        cnode_set(given, "context.attention_method", b);
    }
#undef YNUM
    const char *ds = ystr(D, "data.dataset", "inaturalist");
    if (strcmp(ds, "inaturalist"))
        return xt_error("config", "%s: data.dataset '%s': only the inaturalist classification model is supported", path, ds);
    xt_sbuf_printf(notes, "official config %s: backbone %s, crop %s\n", path, bc, cnode_get(given, "crop_size"));
    return 0;
}

// ---------------------------------------------------------------------------------------------

static int ends_with(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcmp(s + n - k, suf);
}

#define CONFIG_MAX_BYTES (16u << 20)

// Parses path and, recursively, its base_configs (as xt/config.py: relative to the working
// directory; we also try the YAML file's folder and its parents, so configs work from anywhere).
static int yaml_load(const char *path, ydocs *D, int depth, xt_sbuf *notes) {
    if (depth > 4 || D->n >= 16) return xt_error("config", "%s: base_configs nested too deeply", path);
    size_t len;
    char *text = xt_read_file(path, CONFIG_MAX_BYTES, &len, "config");
    if (!text) return -1;
    xt_json *y = xt_yaml_parse(text, len, path);
    free(text);
    if (!y) return -1;
    if (y->type != XT_JSON_OBJ) { xt_json_free(y); return xt_error("config", "%s: not a YAML mapping", path); }
    D->file[D->n] = strdup(path);
    D->doc[D->n++] = y;
    const xt_json *bases = xt_json_get(y, "base_configs");
    if (!bases || bases->type != XT_JSON_ARR) return 0;
    for (int i = bases->n - 1; i >= 0; i--) { // later bases override earlier ones
        const xt_json *b = bases->items[i];
        if (b->type != XT_JSON_STR) continue;
        char dir[4096], cand[8192];
        snprintf(dir, sizeof dir, "%s", path);
        char *slash = strrchr(dir, '/');
        if (slash) *slash = 0; else snprintf(dir, sizeof dir, ".");
        int found = 0;
        for (int up = -1; up < 4 && !found; up++) { // as given, then next to the file and above
            if (up < 0) snprintf(cand, sizeof cand, "%s", b->str);
            else {
                snprintf(cand, sizeof cand, "%s", dir);
                for (int k = 0; k < up; k++) strncat(cand, "/..", sizeof cand - strlen(cand) - 1);
                strncat(cand, "/", sizeof cand - strlen(cand) - 1);
                strncat(cand, b->str, sizeof cand - strlen(cand) - 1);
            }
            FILE *f = fopen(cand, "rb");
            if (f) { fclose(f); found = 1; }
        }
        if (!found) { xt_sbuf_printf(notes, "base config %s not found: the official dataclass defaults are used\n", b->str); continue; }
        if (yaml_load(cand, D, depth + 1, notes)) return -1;
    }
    return 0;
}

static int load_given(const char *path, cnode *given, xt_sbuf *notes) {
    xt_json *j = NULL;
    int rc = -1;
    if (ends_with(path, ".safetensors")) { // a model file: its __metadata__.config
        xt_st *st = xt_st_open(path);
        if (!st) return -1;
        const char *cs = xt_st_meta(st, "config");
        if (!cs) xt_error("config", "%s: no 'config' in __metadata__", path);
        else j = xt_json_parse(cs, strlen(cs), path);
        xt_st_close(st);
    } else {
        size_t len;
        char *text = xt_read_file(path, CONFIG_MAX_BYTES, &len, "config");
        if (!text) return -1;
        if (ends_with(path, ".yaml") || ends_with(path, ".yml")) {
            free(text);
            ydocs D = {0};
            if (!yaml_load(path, &D, 0, notes)) {
                if (!jpath(D.doc[0], "model")) xt_error("config", "%s: no 'model' section: not an official xT config", path);
                else rc = yaml_to_config(&D, given, path, notes);
            }
            for (int i = 0; i < D.n; i++) xt_json_free(D.doc[i]), free(D.file[i]);
            return rc;
        }
        j = xt_json_parse(text, len, path);
        free(text);
    }
    if (!j) return -1;
    if (j->type != XT_JSON_OBJ) xt_error("config", "%s: config is not a JSON object", path);
    else { cnode_from_json(given, j); rc = 0; }
    xt_json_free(j);
    return rc;
}

static int apply_set(cnode *given, const char *kv) {
    const char *eq = strchr(kv, '=');
    if (!eq || eq == kv || (size_t)(eq - kv) >= 200) return xt_error("config", "--set expects KEY=VALUE, got '%s'", kv);
    char key[256];
    snprintf(key, sizeof key, "%.*s", (int)(eq - kv), kv);
    xt_json *obj = xt_json_parse(eq + 1, strlen(eq + 1), "value");
    if (obj && obj->type == XT_JSON_OBJ) { // an object value becomes a subtree
        cnode *c = cnode_path(given, key, 1);
        for (int i = 0; i < c->n; i++) cnode_free(c->kids[i]);
        c->n = 0;
        free(c->leaf);
        c->leaf = NULL;
        cnode_from_json(c, obj);
        xt_json_free(obj);
        return 0;
    }
    xt_json_free(obj);
    char *c = canon(eq + 1);
    if (!c) { // a bare word: a string
        xt_sbuf s = {0};
        xt_sbuf_json_str(&s, eq + 1);
        c = s.p;
    }
    cnode_set(given, key, c);
    free(c);
    xt_error_clear();
    return 0;
}

// every inferred leaf: present in given -> must match; absent -> added
static int merge(cnode *given, const cnode *inf, const char *prefix, const char *ckpath) {
    for (int i = 0; i < inf->n; i++) {
        const cnode *k = inf->kids[i];
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", k->key);
        if (!k->leaf) {
            if (merge(given, k, path, ckpath)) return -1;
            continue;
        }
        cnode *g = cnode_path(given, path, 0);
        if (g && g->leaf) {
            char *a = canon(g->leaf);
            int same = a && !strcmp(a, k->leaf);
            free(a);
            if (!same)
                return xt_error("config", "%s: setting %s is %s but the checkpoint's tensors say %s", ckpath, path, g->leaf, k->leaf);
        } else if (!g) cnode_set(given, path, k->leaf);
    }
    return 0;
}

// Settings in `missing` (space-separated dotted keys) that `given` still lacks: one error listing
// each with a hint, -1. 0 when nothing is missing. `how`: the options that can supply them.
static int report_missing(const char *missing, cnode *given, const char *path, const char *how) {
    static const char *const hints[][2] = {
        {"crop_size", "region side the model was trained with, e.g. 256"},
        {"swin.window_size", "16 for every official Swin V2 (large: window12to16 -> 16)"},
        {"window_size", "the window of the timm model, e.g. 16 for swinv2_tiny_window16_256"},
        {"context.attention_method", "naive or hyper: identical tensors, different attention"},
        {"hiera.num_heads", "not a hiera preset: heads of the first stage"},
        {"swin.pretrained_window_sizes", "[12,12,12,6] for the official Swin-L (window12to16_192to256)"},
        {"pretrained_window_sizes", "[12,12,12,6] for swinv2_large_window12to16_192to256"},
    };
    xt_sbuf miss = {0};
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", missing);
    for (char *sv, *tok = strtok_r(buf, " ", &sv); tok; tok = strtok_r(NULL, " ", &sv))
        if (!cnode_get(given, tok)) {
            const char *hint = "";
            for (size_t h = 0; h < sizeof hints / sizeof *hints; h++)
                if (!strcmp(tok, hints[h][0])) hint = hints[h][1];
            xt_sbuf_printf(&miss, "\n  %-26s %s", tok, hint);
        }
    if (!miss.n) return 0;
    xt_error("config", "%s: settings the tensors cannot determine are missing (give --set KEY=VALUE, %s):%s", path, how,
             miss.p);
    xt_sbuf_free(&miss);
    return -1;
}


char *xt_ckpt_config(const xt_ckpt *ck, const char *config_path, char *const *sets, int n_sets, xt_sbuf *notes) {
    cnode *given = cnode_new(NULL), *inf = cnode_new(NULL);
    char *out = NULL;
    infer I = {.ck = ck, .inf = inf, .notes = notes};
    if (config_path && load_given(config_path, given, notes)) goto done;
    for (int i = 0; i < n_sets; i++)
        if (apply_set(given, sets[i])) goto done;
    const char *kind = cnode_get(given, "kind");
    int xview = T(&I, "encoder.upsample.weight") != NULL;
    if (xview && (!kind || !strcmp(kind, "\"xview\""))) { // the xView3 dense model
        if (infer_xview(&I) || merge(given, inf, "", ck->path)) goto done;
        if (!cnode_get(given, "xl_context.mem_chip") && !strcmp(cnode_get(given, "xl_context.enabled"), "true")) {
            cnode_set(given, "xl_context.mem_chip", "1");
            xt_sbuf_printf(notes, "xl_context.mem_chip: 1 assumed (every official xView3 config)\n");
        }
        if (report_missing(I.missing, given, ck->path, "--config CONFIG.json|OFFICIAL.yaml|MODEL.safetensors")) goto done;
    } else if (kind && strcmp(kind, "\"xt\"")) { // another model kind: passed through unchecked
        xt_sbuf_printf(notes, "config kind %s given: passed through without inference\n", kind);
    } else {
        if (infer_xt(&I)) goto done;
        cnode *gb = cnode_path(given, "backbone", 0);
        if (gb && !gb->leaf && backbone_check(&I, gb)) goto done;
        if (merge(given, inf, "", ck->path)) goto done;
        // defaults the official code takes for what no released config changes
        if (!cnode_get(given, "context.in_context_patches") && cnode_get(given, "context.hidden_size")) {
            cnode_set(given, "context.in_context_patches", "-1");
            xt_sbuf_printf(notes, "context.in_context_patches: -1 assumed (the official default, no released config changes it)\n");
        }
        if (!cnode_get(given, "mlp_ratio")) cnode_set(given, "mlp_ratio", "4");
        if (cnode_get(given, "swin.embed_dim") && !cnode_get(given, "swin.img_size") && cnode_get(given, "crop_size"))
            cnode_set(given, "swin.img_size", cnode_get(given, "crop_size"));
        // what the tensors could not say and nobody gave
        if (report_missing(I.missing, given, ck->path, "--config CONFIG.json|OFFICIAL.yaml|MODEL.safetensors")) goto done;
    }
    xt_sbuf s = {0};
    cnode_emit(&s, given);
    out = s.p;
done:
    cnode_free(given);
    cnode_free(inf);
    return out;
}

// ---------------------------------------------------------------------------------------------
// region-encoder files from pretrained backbones (pretrained.c maps the names first)

static int infer_convnext(infer *I, const char *p) {
    const xt_ck_tensor *st = T(I, "%sstem_0.weight", p);
    if (!st || st->ndim != 4) return xt_error("config", "%s: %sstem_0.weight missing or not 4-D", I->ck->path, p);
    set_int(I, "in_chans", st->shape[1]);
    if (st->shape[2] != st->shape[3]) return xt_error("config", "%s: ConvNeXt stem %lldx%lld is not square", I->ck->path, (long long)st->shape[2], (long long)st->shape[3]);
    if (st->shape[2] != 4) set_int(I, "patch_size", st->shape[2]);
    int dims[8], depths[8], ns = 0;
    for (; ns < 8; ns++) {
        char pat[300];
        snprintf(pat, sizeof pat, "%sstages_%d.blocks.%%d.conv_dw.weight", p, ns);
        int d = count_prefix(I, pat, 1000);
        const xt_ck_tensor *dw = T(I, "%sstages_%d.blocks.0.conv_dw.weight", p, ns);
        if (!d || !dw || dw->ndim != 4) break;
        depths[ns] = d;
        dims[ns] = (int)dw->shape[0];
        if (!ns && dw->shape[2] != 7) set_int(I, "kernel_size", dw->shape[2]);
    }
    if (!ns) return xt_error("config", "%s: no %sstages_0.blocks.0.conv_dw.weight: not a timm ConvNeXt", I->ck->path, p);
    set_ints(I, "dims", dims, ns);
    set_ints(I, "depths", depths, ns);
    const xt_ck_tensor *fc1 = T(I, "%sstages_0.blocks.0.mlp.fc1.weight", p);
    if (fc1 && fc1->ndim == 2 && fc1->shape[1] && fc1->shape[0] % fc1->shape[1] == 0 && fc1->shape[0] / fc1->shape[1] != 4)
        set_int(I, "mlp_ratio", fc1->shape[0] / fc1->shape[1]);
    return 0;
}

// moves the children of inf.<obj> to the top level (the swin_region layout)
static void flatten(cnode *root, const char *obj) {
    for (int i = 0; i < root->n; i++) {
        cnode *o = root->kids[i];
        if (strcmp(o->key, obj) || o->leaf) continue;
        memmove(root->kids + i, root->kids + i + 1, (size_t)(--root->n - i) * sizeof *root->kids);
        for (int k = 0; k < o->n; k++) {
            cnode *c = cnode_child(root, o->kids[k]->key, 1);
            free(c->leaf);
            c->leaf = o->kids[k]->leaf ? strdup(o->kids[k]->leaf) : NULL;
        }
        cnode_free(o);
        return;
    }
}

char *xt_ckpt_region_config(const xt_ckpt *ck, const char *from, const char *prefix, const char *config_path,
                            char *const *sets, int n_sets, xt_sbuf *notes) {
    cnode *given = cnode_new(NULL), *inf = cnode_new(NULL);
    char *out = NULL;
    infer I = {.ck = ck, .inf = inf, .notes = notes};
    const char *kind = xt_pretrained_kind(from), *defp = xt_pretrained_prefix(from);
    if (!prefix) prefix = defp;
    if (config_path && load_given(config_path, given, notes)) goto done;
    for (int i = 0; i < n_sets; i++)
        if (apply_set(given, sets[i])) goto done;
    set_str(&I, "kind", kind);
    if (strcmp(prefix, defp)) set_str(&I, "weight_prefix", prefix);
    int c = 0;
    if (!strcmp(from, "timm-swinv2")) {
        if (infer_swin(&I, prefix, &c)) goto done;
        flatten(inf, "swin");
        char buf[1024]; // the missing settings are top-level keys here
        snprintf(buf, sizeof buf, "%s", I.missing);
        I.missing[0] = 0;
        for (char *sv, *tok = strtok_r(buf, " ", &sv); tok; tok = strtok_r(NULL, " ", &sv)) {
            strcat(I.missing, " ");
            strcat(I.missing, !strncmp(tok, "swin.", 5) ? tok + 5 : tok);
        }
        // timm's swinv2_base_window12to16_192to256 / _12to24_192to384 share swinv2_base_window16_256's
        // tensors but normalise the relative-position table by their pretraining windows
        const char *ed = cnode_get(inf, "embed_dim"), *dp = cnode_get(inf, "depths");
        if (ed && dp && !strcmp(ed, "128") && !strcmp(dp, "[2,2,18,2]") && !cnode_get(given, "pretrained_window_sizes"))
            xt_sbuf_printf(notes, "pretrained_window_sizes not given: none assumed (swinv2_base_window16_256 / window8_256); "
                                  "the window12to16 / window12to24 variants need --set pretrained_window_sizes=[12,12,12,6]\n");
    } else if (!strcmp(from, "hiera")) {
        if (infer_hiera(&I, prefix, &c)) goto done;
        cnode *cs = cnode_path(inf, "crop_size", 0); // the region side: "image_size" in a region file
        if (cs) { free(cs->key); cs->key = strdup("image_size"); }
    } else if (infer_convnext(&I, prefix)) goto done;
    if (merge(given, inf, "", ck->path)) goto done;
    if (report_missing(I.missing, given, ck->path, "--config CONFIG.json|MODEL.safetensors")) goto done;
    xt_sbuf s = {0};
    cnode_emit(&s, given);
    out = s.p;
done:
    cnode_free(given);
    cnode_free(inf);
    return out;
}

// ---------------------------------------------------------------------------------------------
// official YAML configs for training (run/yaml_train.c)

char *xt_config_merge(const xt_json *const *docs, int n) {
    cnode *root = cnode_new(NULL);
    for (int i = 0; i < n; i++)
        if (docs[i] && docs[i]->type == XT_JSON_OBJ) cnode_from_json(root, docs[i]);
    xt_sbuf s = {0};
    cnode_emit(&s, root);
    cnode_free(root);
    return s.p;
}

int xt_yaml_config_docs(const char *path, xt_json ***docs, int *n, char ***files, xt_sbuf *notes) {
    ydocs D = {0};
    if (yaml_load(path, &D, 0, notes)) {
        for (int i = 0; i < D.n; i++) xt_json_free(D.doc[i]), free(D.file[i]);
        return -1;
    }
    *docs = xt_xmalloc((size_t)(D.n + 1) * sizeof **docs);
    *files = xt_xmalloc((size_t)(D.n + 1) * sizeof **files);
    *n = D.n;
    for (int i = 0; i < D.n; i++) (*docs)[i] = D.doc[D.n - 1 - i], (*files)[i] = D.file[D.n - 1 - i]; // lowest priority first
    return 0;
}

char *xt_yaml_model_config(const xt_json *merged, const char *path, xt_sbuf *notes) {
    ydocs D = {{(xt_json *)merged}, 1, {NULL}};
    cnode *given = cnode_new(NULL);
    char *out = NULL;
    if (!yaml_to_config(&D, given, path, notes)) {
        if (!cnode_get(given, "context.in_context_patches") && cnode_get(given, "context.hidden_size"))
            cnode_set(given, "context.in_context_patches", "-1");
        if (cnode_get(given, "swin.embed_dim") && !cnode_get(given, "swin.img_size") && cnode_get(given, "crop_size"))
            cnode_set(given, "swin.img_size", cnode_get(given, "crop_size"));
        xt_sbuf s = {0};
        cnode_emit(&s, given);
        out = s.p;
    }
    cnode_free(given);
    return out;
}
