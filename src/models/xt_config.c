// xt_config.c — the xT model config, read once for inference (xt.c) and training (xt_bwd.c):
// keys, defaults, the limits both share (sizes the buffers may be planned from), the variants and
// the region encoder's object. Training's own, tighter limits stay in xt_bwd.c.
#include <string.h>

#include "models/models.h"

const xt_json *xt_xt_config_variant(const xt_json *cfg, const char *name) {
    const xt_json *vs = xt_json_get(cfg, "variants");
    if (!vs || vs->type != XT_JSON_ARR) return NULL;
    for (int i = 0; i < vs->n; i++) {
        const char *n = xt_json_str(vs->items[i], "name", NULL);
        if (n && !strcmp(n, name)) return vs->items[i];
    }
    return NULL;
}

// variants (golden README bugs 3, 5, 6): fixed behaviour under a name, from the caller or from
// the config's "variant" key (a model file can carry its choice)
static int apply_variant(xt_xt_config *c, const xt_json *cfg, const char *variant) {
    if (!variant) variant = xt_json_str(cfg, "variant", NULL);
    if (!variant) return 0;
    c->variant = variant;
    const xt_json *v = xt_xt_config_variant(cfg, variant);
    int icp = c->in_context_patches;
    if (v && xt_json_int(v, "in_context_patches", icp, &icp)) return xt_error_prefix("variant '%s'", variant);
    if (!strcmp(variant, "memfix")) c->memfix = 1;
    else if (!strcmp(variant, "blockmask")) c->hyper_block_mask = 1;
    else if (!strcmp(variant, "incontext16_tuplefix")) { if (!v) icp = 16; }
    else if (!v)
        return xt_error("config", "unknown variant '%s' (memfix, blockmask, incontext16_tuplefix or one in "
                        "config.variants)", variant);
    if (icp == 1 || icp > (1 << 24)) // window buffers are sized by it (P x hidden floats)
        return xt_error("config", "variant '%s': in_context_patches %d out of range", variant, icp);
    c->in_context_patches = icp;
    if (c->memfix && c->in_context_patches <= 0) return xt_error("config", "variant memfix needs in_context_patches > 0");
    return 0;
}

int xt_xt_config_parse(xt_xt_config *c, const xt_json *cfg, const char *variant) {
    memset(c, 0, sizeof *c);
    const char *head = xt_json_str(cfg, "cls_head", "naive");
    const xt_json *cx = xt_json_get(cfg, "context");
    const char *am = cx ? xt_json_str(cx, "attention_method", "naive") : "naive";
    // without a "context" object hidden_size / n_layer / in_context_patches are 0 (an xl head then
    // fails the range check below)
    if (xt_json_int(cfg, "crop_size", 256, &c->crop_size) || xt_json_int(cfg, "num_classes", 0, &c->num_classes) ||
        xt_json_int(cfg, "mlp_ratio", 4, &c->mlp_ratio) ||
        (cx && (xt_json_int(cx, "hidden_size", 768, &c->hidden) || xt_json_int(cx, "n_layer", 2, &c->n_layers) ||
                xt_json_int(cx, "in_context_patches", -1, &c->in_context_patches))))
        return -1; // the JSON getters say "config: ..."
    if (!head || (strcmp(head, "naive") && strcmp(head, "xl")))
        return xt_error("config", "cls_head '%s' (expected \"naive\" or \"xl\")", head ? head : "?");
    c->head = !strcmp(head, "xl") ? XT_HEAD_XL : XT_HEAD_NAIVE;
    if (!am || (strcmp(am, "naive") && strcmp(am, "hyper") && strcmp(am, "mamba")))
        return xt_error("config", "attention_method '%s' (expected naive, hyper or mamba)", am ? am : "?");
    c->attn = !strcmp(am, "hyper") ? XT_ATTN_HYPER : !strcmp(am, "mamba") ? XT_ATTN_MAMBA : XT_ATTN_NAIVE;
    if (c->crop_size < 32 || c->crop_size > 16384 || c->num_classes < 1 || c->num_classes > 1000000 ||
        c->mlp_ratio < 1 || c->mlp_ratio > 64 ||
        (c->head == XT_HEAD_XL && (c->hidden < 4 || c->hidden % 4 || c->hidden > 65536 || c->n_layers < 0 ||
                                   c->n_layers > 1024 || c->in_context_patches == 1 ||
                                   c->in_context_patches > (1 << 24))))
        return xt_error("config", "crop_size %d, num_classes %d, mlp_ratio %d, hidden_size %d, n_layer %d, "
                        "in_context_patches %d: out of range", c->crop_size, c->num_classes, c->mlp_ratio, c->hidden,
                        c->n_layers, c->in_context_patches);
    if (apply_variant(c, cfg, variant)) return -1;
    c->encoder = xt_xt_encoder_config(cfg, &c->encoder_arch, &c->encoder_key);
    return 0;
}
