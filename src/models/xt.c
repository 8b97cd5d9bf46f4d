// xt.c — the xT classifier as a model: config, build, region encoding and cropping. The model is
// immutable once built; running it over an image is run/ctx.c (the context run, which owns all
// per-run state) and `xt verify` is run/verify_xt.c.
//
// Whole-image semantics (ref: xt/models/decoders/decoder.py xT.forward, nested_tokenization):
//   N C (HP HC) (WP WC) -> (N HP WP) C HC WC -> encoder -> stitch back -> head.
// Here the same computation is organised for streaming (models.h): regions are encoded one
// batch at a time and their last-stage maps pushed row-major into a context run (run/ctx.h),
// which keeps only what the head needs.
//
// Images whose sides are not multiples of crop_size are zero-padded (after normalisation) at
// the right and bottom to whole regions; padded pixels are encoded like any other and their
// tokens take part in pooling/attention (docs/xt-model.md).
#include <string.h>

#include "models/xt_model.h"

xt_xtmodel_params xt_xtmodel_default_params(void) {
    xt_xtmodel_params p = {NULL, 0};
    return p;
}

static xt_encoder *build_encoder(xt_st *st, const xt_xt_config *c) {
    if (!c->encoder) {
        xt_error("xt", "config names no region encoder (expected a \"swin\", \"hiera\", \"convnext\" or \"backbone\" object)");
        return NULL;
    }
    return xt_encoder_new(st, c->encoder_arch, c->encoder, "encoder.model.", c->crop_size); // docs/backbones.md
}

xt_xtmodel *xt_xtmodel_new(xt_st *st, const xt_json *cfg) { return xt_xtmodel_new_with(st, cfg, xt_xtmodel_default_params()); }

xt_xtmodel *xt_xtmodel_new_with(xt_st *st, const xt_json *cfg, xt_xtmodel_params p) {
    xt_xtmodel *m = xt_xcalloc(1, sizeof *m);
    xt_xtmodel_info *in = &m->info;
    m->st = st;
    const char *where = st->path;
    xt_xt_config xc; // xt_config.c: keys, limits and variants shared with training
    if (xt_xt_config_parse(&xc, cfg, p.variant)) {
        xt_error_in_file(where);
        goto fail;
    }
    in->crop_size = xc.crop_size, in->num_classes = xc.num_classes, in->mlp_ratio = xc.mlp_ratio;
    in->head = xc.head, in->attn = xc.attn, in->hidden = xc.hidden, in->n_layers = xc.n_layers;
    in->in_context_patches = xc.in_context_patches, in->memfix = xc.memfix, in->hyper_block_mask = xc.hyper_block_mask;
    // NaN/Inf weights would silently poison every output: reject them, naming the tensor
    if (xt_st_check_finite(st, "decoder.") || (!p.no_encoder && xt_st_check_finite(st, "encoder."))) goto fail;
    if (!p.no_encoder) {
        if (!(m->enc = build_encoder(st, &xc))) { xt_error_in_file(where); goto fail; }
        if (m->enc->img_size != in->crop_size) {
            xt_error("xt", "%s: region encoder built for %d-pixel regions, crop_size is %d", where, m->enc->img_size,
                     in->crop_size);
            goto fail;
        }
        int s = m->enc->n_stages - 1;
        in->in_chans = m->enc->in_chans;
        in->feat_c = m->enc->stage_c[s], in->feat_h = m->enc->stage_h[s], in->feat_w = m->enc->stage_w[s];
    } else {
        // features come from elsewhere: width from the head's weights, 1/32 resolution
        const char *kn = in->head == XT_HEAD_XL ? "decoder.input_proj.weight" : "decoder.layers.0.weight";
        const xt_st_tensor *t = xt_st_find(st, kn);
        if (!t || t->ndim != 2) { xt_error("xt", "%s: tensor '%s' missing or not 2-D", where, kn); goto fail; }
        const xt_json *e = xt_json_get(cfg, "swin");
        if (xt_json_int(e ? e : cfg, "in_chans", 3, &in->in_chans)) goto fail;
        in->feat_c = (int)t->shape[1];
        in->feat_h = in->feat_w = in->crop_size / 32;
    }
    if (in->head == XT_HEAD_NAIVE) {
        if (xt_naive_head_init(&m->naive, st, in->feat_c, in->mlp_ratio, in->num_classes)) goto fail;
        in->streaming = 1;
    } else {
        if (xt_xl_head_init(&m->xl, st, in->feat_c, in->hidden, in->num_classes)) goto fail;
        if (xt_context_init(&m->ctx, st, "decoder.", in->attn, in->hidden, in->n_layers, in->mlp_ratio,
                            xt_json_get(cfg, "hyper_override"), in->hyper_block_mask)) {
            xt_error_in_file(where);
            goto fail;
        }
        in->streaming = in->in_context_patches > 0;
    }
    return m;
fail:
    xt_xtmodel_free(m);
    return NULL;
}

void xt_xtmodel_free(xt_xtmodel *m) {
    if (!m) return;
    if (m->enc) m->enc->free(m->enc);
    xt_context_free(&m->ctx);
    free(m);
}

const xt_xtmodel_info *xt_xtmodel_get_info(const xt_xtmodel *m) { return &m->info; }
const xt_encoder *xt_xtmodel_encoder(const xt_xtmodel *m) { return m->enc; }

// ---------------------------------------------------------------------------------------------
// regions

size_t xt_xtmodel_encode_ws_size(const xt_xtmodel *m, int B) {
    const xt_encoder *e = m->enc;
    if (!e) return 0;
    size_t s = e->workspace_size(e, B) + 64 * XT_MAX_STAGES;
    for (int i = 0; i < e->n_stages - 1; i++) s += (size_t)B * e->stage_c[i] * e->stage_h[i] * e->stage_w[i] * sizeof(float);
    return s;
}

int xt_xtmodel_encode_stages(const xt_xtmodel *m, const float *regions, int B, float *const *out, xt_arena *ws,
                             const xt_tap *tap) {
    if (!m->enc) return xt_error("xt", "model built without a region encoder");
    xt_arena_reset(ws);
    return m->enc->forward(m->enc, regions, B, out, ws, tap, "encoder.");
}

int xt_xtmodel_encode_regions(const xt_xtmodel *m, const float *regions, int B, float *feat, xt_arena *ws) {
    const xt_encoder *e = m->enc;
    if (!e) return xt_error("xt", "model built without a region encoder");
    xt_arena_reset(ws);
    float *out[XT_MAX_STAGES];
    for (int i = 0; i < e->n_stages - 1; i++) out[i] = xt_arena_f32(ws, (size_t)B * e->stage_c[i] * e->stage_h[i] * e->stage_w[i]);
    out[e->n_stages - 1] = feat;
    return e->forward(e, regions, B, out, ws, NULL, "encoder.");
}

void xt_xtmodel_crop_region(const xt_xtmodel *m, float *dst, const float *img, int H, int W, int rr, int rc) {
    int S = m->info.crop_size, C = m->info.in_chans;
    int y0 = rr * S, x0 = rc * S;
    int nx = W - x0 < S ? W - x0 : S;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < S; y++) {
            float *d = dst + ((size_t)c * S + y) * S;
            if (y0 + y >= H || nx <= 0) { memset(d, 0, S * sizeof(float)); continue; }
            memcpy(d, img + ((size_t)c * H + y0 + y) * W + x0, nx * sizeof(float));
            if (nx < S) memset(d + nx, 0, (S - nx) * sizeof(float));
        }
}
