// swinv2_cfg.c — the Swin V2 config and the geometry it implies, read once for both encoders:
// inference (swinv2.c) and training (swinv2_bwd.c) build from the same xt_swin_cfg, so a config
// means the same model (and a bad one the same error) in both.
//
// ref: timm/models/swin_transformer_v2.py at v0.9.7 (SwinTransformerV2.__init__,
// SwinTransformerV2Stage, SwinTransformerV2Block._calc_window_shift).
#include <string.h>

#include "models/models.h"

// "pretrained_window_sizes": one per stage (absent or null: all 0). ref: timm 0.9.7
// SwinTransformerV2 passes pretrained_window_sizes[i] to every block of stage i unchanged (not
// clamped with the window); WindowAttention then divides the coordinate table by (p - 1) when
// p > 0, else by (window - 1). p == 1 would divide by 0 there: refused.
int xt_swinv2_pretrained_windows(const xt_json *cfg, int n_stages, int *out) {
    for (int s = 0; s < XT_MAX_STAGES; s++) out[s] = 0;
    const xt_json *v = xt_json_get(cfg, "pretrained_window_sizes");
    if (!v || v->type == XT_JSON_NULL) return 0;
    int n = xt_json_int_array(cfg, "pretrained_window_sizes", out, XT_MAX_STAGES);
    if (n < 0) return -1;
    if (n != n_stages)
        return xt_error("config", "'pretrained_window_sizes' has %d entries, the model has %d stages", n, n_stages);
    for (int s = 0; s < n; s++)
        if (out[s] < 0 || out[s] == 1 || out[s] > 256)
            return xt_error("config", "pretrained_window_sizes[%d] = %d: must be 0 (none) or 2..256", s, out[s]);
    return 0;
}

int xt_swin_cfg_parse(const xt_json *cfg, int img_size, xt_swin_cfg *c) {
    memset(c, 0, sizeof *c);
    if (!cfg || cfg->type != XT_JSON_OBJ) return xt_error("swinv2", "config is not a JSON object");
    int depths[XT_MAX_STAGES], heads[XT_MAX_STAGES], pws[XT_MAX_STAGES];
    if (xt_json_int(cfg, "embed_dim", -1, &c->embed) || xt_json_int(cfg, "window_size", -1, &c->window) ||
        xt_json_int(cfg, "in_chans", 3, &c->in_chans) || xt_json_num(cfg, "mlp_ratio", 4.0, &c->mlp_ratio))
        return xt_error_prefix("swinv2");
    // "precision" (every model's key) wins over "matmul" (this encoder's older name for it)
    xt_precision prec;
    if (xt_json_get(cfg, "precision")) {
        if (xt_cfg_precision(cfg, "swinv2", 1u << XT_PREC_F32 | 1u << XT_PREC_BF16 | 1u << XT_PREC_INT8, &prec)) return -1;
    } else {
        const char *mm = xt_json_str(cfg, "matmul", "f32");
        if (!mm || (strcmp(mm, "f32") && strcmp(mm, "bf16")))
            return xt_error("swinv2", "config: matmul must be \"f32\" or \"bf16\"");
        prec = strcmp(mm, "bf16") ? XT_PREC_F32 : XT_PREC_BF16;
    }
    c->bf16 = prec == XT_PREC_BF16;
    c->int8 = prec == XT_PREC_INT8;
    const xt_json *is = xt_json_get(cfg, "img_size");
    c->img = img_size;
    if (is && is->type != XT_JSON_NULL && xt_json_int(cfg, "img_size", img_size, &c->img)) return xt_error_prefix("swinv2");
    int nd = xt_json_int_array(cfg, "depths", depths, XT_MAX_STAGES);
    int nh = xt_json_int_array(cfg, "num_heads", heads, XT_MAX_STAGES);
    if (nd < 0 || nh < 0) return xt_error_prefix("swinv2");
    if (nd < 1 || nd != nh)
        return xt_error("swinv2", "config: 'depths' and 'num_heads' need the same number (1..%d) of stages, got %d and %d",
                        XT_MAX_STAGES, nd, nh);
    c->n_stages = nd;
    if (xt_swinv2_pretrained_windows(cfg, nd, pws)) return xt_error_prefix("swinv2");
    if (c->embed < 1 || c->embed > 8192) return xt_error("swinv2", "config: embed_dim %d out of range", c->embed);
    if (c->window < 1 || c->window > 256) return xt_error("swinv2", "config: window_size %d out of range", c->window);
    if (c->in_chans < 1 || c->in_chans > 64) return xt_error("swinv2", "config: in_chans %d out of range", c->in_chans);
    if (!(c->mlp_ratio > 0 && c->mlp_ratio <= 64)) return xt_error("swinv2", "config: mlp_ratio %g out of range", c->mlp_ratio);
    if (c->img < 4 || c->img > 65536 || c->img % 4)
        return xt_error("swinv2", "image size %d: must be a positive multiple of the patch size 4", c->img);
    if ((int64_t)c->embed << (nd - 1) > 65536) return xt_error("swinv2", "config: embed_dim %d too wide", c->embed);
    c->grid = c->img / 4;
    int res = c->grid;
    for (int s = 0; s < nd; s++) {
        xt_swin_stage *S = &c->st[s];
        S->C = c->embed << s;
        S->Cin = s > 0 ? S->C / 2 : S->C;
        if (depths[s] < 0 || depths[s] > 256) return xt_error("swinv2", "config: depths[%d] = %d out of range", s, depths[s]);
        if (heads[s] < 1 || S->C % heads[s])
            return xt_error("swinv2", "config: stage %d: %d channels cannot be split into %d heads", s, S->C, heads[s]);
        if (s > 0) {
            if (res % 2) return xt_error("swinv2", "image size %d: stage %d input side %d is odd (patch merging needs even)", c->img, s, res);
            res /= 2;
        }
        if (res > c->window && res % c->window)
            return xt_error("swinv2", "image size %d: stage %d side %d is not a multiple of window_size %d", c->img, s, res, c->window);
        S->depth = depths[s];
        S->heads = heads[s];
        S->hidden = (int)(S->C * c->mlp_ratio); // timm: int(dim * mlp_ratio)
        S->res = res;
        // timm _calc_window_shift: a map no larger than the window is one window, never shifted
        S->ws = res <= c->window ? res : c->window;
        S->shift = res > c->window ? c->window / 2 : 0;
        S->pws = pws[s];
    }
    return 0;
}

// ref: timm.layers.PatchEmbed (Conv2d 4x4/4, LayerNorm)
void xt_swin_stem_params(const xt_swin_cfg *c, xt_swin_param *p) {
    int64_t C = c->embed;
    const xt_swin_param t[XT_SWIN_STEM_PARAMS] = {
        {"proj.weight", 4, {C, c->in_chans, 4, 4}},
        {"proj.bias", 1, {C}},
        {"norm.weight", 1, {C}},
        {"norm.bias", 1, {C}},
    };
    memcpy(p, t, sizeof t);
}

// ref: PatchMerging (v2): Linear(4 Cin, C, no bias), LayerNorm(C)
void xt_swin_merge_params(const xt_swin_stage *S, xt_swin_param *p) {
    const xt_swin_param t[XT_SWIN_MERGE_PARAMS] = {
        {"reduction.weight", 2, {S->C, 4 * S->Cin}},
        {"norm.weight", 1, {S->C}},
        {"norm.bias", 1, {S->C}},
    };
    memcpy(p, t, sizeof t);
}

// ref: SwinTransformerV2Block: attn (WindowAttention), norm1, mlp (fc1, fc2), norm2
void xt_swin_block_params(const xt_swin_stage *S, xt_swin_param *p) {
    int64_t C = S->C, NH = S->heads, F = S->hidden, H = XT_SWIN_CPB_HIDDEN;
    const xt_swin_param t[XT_SWIN_BLOCK_PARAMS] = {
        {"attn.logit_scale", 3, {NH, 1, 1}},
        {"attn.q_bias", 1, {C}},
        {"attn.v_bias", 1, {C}},
        {"attn.cpb_mlp.0.weight", 2, {H, 2}},
        {"attn.cpb_mlp.0.bias", 1, {H}},
        {"attn.cpb_mlp.2.weight", 2, {NH, H}},
        {"attn.qkv.weight", 2, {3 * C, C}},
        {"attn.proj.weight", 2, {C, C}},
        {"attn.proj.bias", 1, {C}},
        {"norm1.weight", 1, {C}},
        {"norm1.bias", 1, {C}},
        {"mlp.fc1.weight", 2, {F, C}},
        {"mlp.fc1.bias", 1, {F}},
        {"mlp.fc2.weight", 2, {C, F}},
        {"mlp.fc2.bias", 1, {C}},
        {"norm2.weight", 1, {C}},
        {"norm2.bias", 1, {C}},
    };
    memcpy(p, t, sizeof t);
}

int64_t xt_swin_params_numel(const xt_swin_param *p, int n) {
    int64_t k = 0;
    for (int i = 0; i < n; i++) {
        int64_t m = 1;
        for (int d = 0; d < p[i].ndim; d++) m *= p[i].shape[d];
        k += m;
    }
    return k;
}
