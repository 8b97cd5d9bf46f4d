// xview.c — xT's xView3-SAR dense model (official pre-release gigaformer/models/unet.py
// EncoderDecoderV2 with SwinXviewWrapper, LLMTransformerXLContextModel and UNetDecoder).
//
//   img (B, 2, nS, nS) -> n x n regions -> Swin V2 (2 bands): levels 1..4 = the stage outputs,
//   level 0 = ConvTranspose2d(C, C, 2, 2) of the patch embedding -> stitched back
//   -> [context model on level 4: input_proj + 2-D sin-cos(cord), non-causal LLMLayers, out_proj + residual]
//   -> UNet decoder (up2, conv3x3, SiLU; concat with the skip level, conv3x3, SiLU) x 4
//   -> four heads conv1x1(SiLU(conv3x3(up2(x)))): vessel, fishing, center, length (B, 1, nS, nS).
// Semantics and the official bugs kept: tests/golden/README.md, "xView3 dense prediction files".
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <string.h>

#include "models/context.h"
#include "models/xview.h"
#include "nn/nn.h"

#define MAXZ(a, b) ((size_t)(a) > (size_t)(b) ? (size_t)(a) : (size_t)(b))

const char *const xt_xview_map_names[XT_XVIEW_MAPS] = {"vessel_mask", "fishing_mask", "center_mask", "length_mask"};

typedef struct {
    const float *w, *b;
    int IC, OC, K;
} conv;

struct xt_xview {
    xt_xview_info info;
    xt_encoder *enc;
    const float *up_w, *up_b;      // encoder.upsample: ConvTranspose2d(C, C, 2, 2)
    conv stage[4], bott[4];        // decoder.decoder_stages.{k}.layer.1, decoder.bottlenecks.{i}.seq.0
    conv head3[4], head1[4];       // decoder.<key>.layer.1 (3x3), .layer.3 (1x1)
    float *h3_w, *h3_b, *h1_w, *h1_b; // the four heads' convs concatenated (owned): (4 last, F0, 3, 3), (4, last)
    xt_context ctx;                // context_model.layers.* (non-causal LLMLayers)
    const float *in_w, *in_b, *out_w, *out_b; // context_model.input_proj / out_proj
};

struct xt_xview_mem {
    int carry, mem_chip, n_layers, D, B;
    int64_t *n;  // rows kept per layer (per batch item)
    float **x;   // per layer: (B, n, D)
};

const xt_xview_info *xt_xview_get_info(const xt_xview *m) { return &m->info; }

// A conv's weight (OC, IC, K, K) and bias; IC/OC from the tensor, checked against want_ic (> 0).
static int load_conv(conv *c, xt_st *st, int K, int want_ic, const char *fmt, const char *a) {
    char wn[256], bn[256];
    snprintf(wn, sizeof wn, fmt, a, "weight");
    snprintf(bn, sizeof bn, fmt, a, "bias");
    const xt_st_tensor *t = xt_st_find(st, wn);
    if (!t || t->ndim != 4 || t->shape[2] != K || t->shape[3] != K || t->shape[0] < 1 || t->shape[1] < 1 ||
        t->shape[0] > 65536 || t->shape[1] > 65536)
        return xt_error("xview", "tensor '%s' missing or not (OC, IC, %d, %d)", wn, K, K);
    c->OC = (int)t->shape[0], c->IC = (int)t->shape[1], c->K = K;
    if (want_ic > 0 && c->IC != want_ic)
        return xt_error("xview", "tensor '%s' takes %d input channels, the model gives it %d", wn, c->IC, want_ic);
    int64_t sw[4] = {c->OC, c->IC, K, K}, sb[1] = {c->OC};
    if (!(c->w = xt_st_weightf(st, 4, sw, "%s", wn)) || !(c->b = xt_st_weightf(st, 1, sb, "%s", bn))) return -1;
    return 0;
}

// The Swin window: the config's window_size, else "windowNN" in timm_model or backbone_class.
static int swin_window(const xt_json *cfg, const xt_json *sw) {
    int w = 0;
    if (xt_json_int(sw, "window_size", 0, &w)) return -1;
    const char *names[2] = {xt_json_str(sw, "timm_model", NULL), xt_json_str(cfg, "backbone_class", NULL)};
    for (int i = 0; i < 2 && w == 0; i++) {
        const char *p = names[i] ? strstr(names[i], "window") : NULL;
        if (p) w = atoi(p + 6);
    }
    if (w < 1 || w > 256) return xt_error("xview", "config: no Swin window size (swin.window_size, or \"windowNN\" in swin.timm_model / backbone_class)");
    return w;
}

// The "swin" object of an xview config as the Swin V2 reader's own config (window from
// window_size, timm_model or backbone_class). NULL + error; the caller frees it.
xt_json *xt_xview_swin_json(const xt_json *cfg) {
    const xt_json *sw = xt_json_get(cfg, "swin");
    if (!sw || sw->type != XT_JSON_OBJ) { xt_error("xview", "config has no \"swin\" object and no backbone_class"); return NULL; }
    int win = swin_window(cfg, sw), embed = 0, in_chans = 2, d[XT_MAX_STAGES], h[XT_MAX_STAGES];
    if (win < 0 || xt_json_int(sw, "embed_dim", -1, &embed) || xt_json_int(sw, "in_chans", 2, &in_chans)) return NULL;
    int nd = xt_json_int_array(sw, "depths", d, XT_MAX_STAGES), nh = xt_json_int_array(sw, "num_heads", h, XT_MAX_STAGES);
    if (nd != 4 || nh != 4) { xt_error("xview", "config: swin needs 4 stages (depths, num_heads)"); return NULL; }
    // the Swin reader takes its own keys only: a config object of exactly those
    char txt[512];
    snprintf(txt, sizeof txt,
             "{\"embed_dim\":%d,\"depths\":[%d,%d,%d,%d],\"num_heads\":[%d,%d,%d,%d],\"window_size\":%d,\"in_chans\":%d}",
             embed, d[0], d[1], d[2], d[3], h[0], h[1], h[2], h[3], win, in_chans);
    xt_json *j = xt_json_parse(txt, strlen(txt), "swin config");
    const xt_json *p = xt_json_get(sw, "precision");
    if (!p) p = xt_json_get(cfg, "precision"); // the model's, as xt_config_apply_precision leaves it
    if (j && p && p->type == XT_JSON_STR) xt_json_set_str(j, "precision", p->str);
    return j;
}

// The encoder: a "swin" object (our config; convert writes it), else the official
// backbone_class preset (swinv2_{tiny,small,base}_window16_256_timm_xview) with 2 bands at S.
static xt_encoder *build_encoder(xt_st *st, const xt_json *cfg, int S) {
    const xt_json *sw = xt_json_get(cfg, "swin");
    const char *bc = xt_json_str(cfg, "backbone_class", NULL);
    if (!sw && bc) {
        const xt_preset *p = xt_preset_find(bc);
        if (!p || strcmp(p->arch, "swinv2")) {
            xt_error("xview", "config: backbone_class '%s' is not a Swin V2 preset (e.g. swinv2_base_window16_256_timm_xview)", bc);
            return NULL;
        }
        char txt[256];
        snprintf(txt, sizeof txt, "{\"preset\":\"%s\",\"in_chans\":2,\"img_size\":%d}", p->name, S);
        xt_json *j = xt_json_parse(txt, strlen(txt), "xview backbone");
        const char *pr = xt_json_str(cfg, "precision", NULL);
        if (j && pr) xt_json_set_str(j, "precision", pr);
        xt_encoder *e = j ? xt_backbone_new(st, j, "encoder.model.", S) : NULL;
        xt_json_free(j);
        return e;
    }
    xt_json *j = xt_xview_swin_json(cfg);
    if (!j) return NULL;
    xt_encoder *e = xt_swinv2_new(st, j, "encoder.model.", S);
    xt_json_free(j);
    return e;
}

xt_xview *xt_xview_new(xt_st *st, const xt_json *cfg) {
    xt_xview *m = xt_xcalloc(1, sizeof *m);
    xt_xview_info *in = &m->info;
    const xt_json *xl = xt_json_get(cfg, "xl_context");
    int bs = 0;
    if (xt_json_int(cfg, "crop_size", 256, &in->crop_size) ||
        (xl && (xt_json_bool(xl, "enabled", 0, &in->context) || xt_json_int(xl, "hidden_size", 256, &in->hidden) ||
                xt_json_int(xl, "n_layer", 4, &in->n_layers) || xt_json_int(xl, "mem_chip", 1, &in->mem_chip) ||
                xt_json_bool(xl, "skip_connection", 0, &bs)))) {
        // the JSON getters say "config: ..."
        goto fail;
    }
    const char *tiling = xt_json_str(cfg, "tiling", "naive");
    if (xt_json_int(cfg, "val_crop_size", 0, &in->val_crop_size) || xt_json_int(cfg, "overlap", -1, &in->overlap) || !tiling) {
        // the JSON getters say "config: ..."
        goto fail;
    }
    snprintf(in->tiling, sizeof in->tiling, "%s", tiling);
    if (in->val_crop_size < 0 || in->val_crop_size > 65536 || in->overlap < -1 || in->overlap > 65536) {
        xt_error("xview", "config: val_crop_size %d, overlap %d: out of range", in->val_crop_size, in->overlap);
        goto fail;
    }
    if (in->crop_size < 32 || in->crop_size > 8192 || in->crop_size % 32) {
        xt_error("xview", "config: crop_size %d: must be a multiple of 32 in [32, 8192]", in->crop_size);
        goto fail;
    }
    if (bs) { // bug 18: the official decoder crashes with it; no config uses it
        xt_error("xview", "config: xl_context.skip_connection is not supported (the official decoder cannot run it)");
        goto fail;
    }
    if (xt_st_check_finite(st, "encoder.") || xt_st_check_finite(st, "decoder.") || xt_st_check_finite(st, "context_model."))
        goto fail;
    if (!(m->enc = build_encoder(st, cfg, in->crop_size))) goto fail;
    const xt_encoder *e = m->enc;
    if (e->n_stages != 4) { xt_error("xview", "the Swin encoder has %d stages, the decoder needs 4", e->n_stages); goto fail; }
    in->in_chans = e->in_chans;
    int C = e->stage_c[0];
    in->level_c[0] = C;
    for (int s = 0; s < 4; s++) in->level_c[s + 1] = e->stage_c[s];
    int64_t su[4] = {C, C, 2, 2}, sb[1] = {C};
    if (!(m->up_w = xt_st_weight(st, "encoder.upsample.weight", 4, su[0], su[1], su[2], su[3])) ||
        !(m->up_b = xt_st_weight(st, "encoder.upsample.bias", 1, sb[0])))
        goto fail;
    // decoder: stage k maps (up2 of) the deeper features to F[k]; bottleneck idx joins level 3 - idx
    int x_c = in->level_c[4];
    for (int idx = 0; idx < 4; idx++) {
        int k = 3 - idx;
        char a[16];
        snprintf(a, sizeof a, "%d", k);
        if (load_conv(&m->stage[k], st, 3, x_c, "decoder.decoder_stages.%s.layer.1.%s", a)) goto fail;
        in->dec_f[k] = m->stage[k].OC;
        snprintf(a, sizeof a, "%d", idx);
        if (load_conv(&m->bott[idx], st, 3, in->dec_f[k] + in->level_c[3 - idx], "decoder.bottlenecks.%s.seq.0.%s", a))
            goto fail;
        if (m->bott[idx].OC != in->dec_f[k]) {
            xt_error("xview", "decoder.bottlenecks.%d has %d outputs, decoder_stages.%d %d", idx, m->bott[idx].OC, k, in->dec_f[k]);
            goto fail;
        }
        x_c = in->dec_f[k];
    }
    for (int h = 0; h < XT_XVIEW_MAPS; h++) {
        char hn[96];
        snprintf(hn, sizeof hn, "decoder.%s.layer.1.weight", xt_xview_map_names[h]);
        if (!xt_st_find(st, hn)) {
            xt_error("xview", "no dense head '%s' (%s): the four output heads decoder.{vessel,fishing,center,length}_mask "
                     "are needed; a classification or encoder-only checkpoint cannot detect", xt_xview_map_names[h], hn);
            goto fail;
        }
        if (load_conv(&m->head3[h], st, 3, in->dec_f[0], "decoder.%s.layer.1.%s", xt_xview_map_names[h]) ||
            load_conv(&m->head1[h], st, 1, m->head3[h].OC, "decoder.%s.layer.3.%s", xt_xview_map_names[h]))
            goto fail;
        if (m->head1[h].OC != 1) { xt_error("xview", "decoder.%s gives %d channels, not 1", xt_xview_map_names[h], m->head1[h].OC); goto fail; }
    }
    in->last = m->head3[0].OC;
    {
        const int Lh = in->last, K3 = 9 * in->dec_f[0];
        for (int h = 1; h < XT_XVIEW_MAPS; h++)
            if (m->head3[h].OC != Lh) {
                xt_error("xview", "decoder.%s has %d channels, decoder.%s %d", xt_xview_map_names[h], m->head3[h].OC,
                         xt_xview_map_names[0], Lh);
                goto fail;
            }
        m->h3_w = xt_xcalloc((size_t)XT_XVIEW_MAPS * Lh * K3, sizeof(float));
        m->h3_b = xt_xcalloc((size_t)XT_XVIEW_MAPS * Lh, sizeof(float));
        m->h1_w = xt_xcalloc((size_t)XT_XVIEW_MAPS * Lh, sizeof(float));
        m->h1_b = xt_xcalloc(XT_XVIEW_MAPS, sizeof(float));
        for (int h = 0; h < XT_XVIEW_MAPS; h++) {
            memcpy(m->h3_w + (size_t)h * Lh * K3, m->head3[h].w, (size_t)Lh * K3 * sizeof(float));
            memcpy(m->h3_b + (size_t)h * Lh, m->head3[h].b, (size_t)Lh * sizeof(float));
            memcpy(m->h1_w + (size_t)h * Lh, m->head1[h].w, (size_t)Lh * sizeof(float));
            m->h1_b[h] = m->head1[h].b[0];
        }
    }
    if (in->context) {
        const int C4 = in->level_c[4], D = in->hidden;
        if (D < 128 || D % 128 || D > 65536 || in->n_layers < 0 || in->n_layers > 1024 || in->mem_chip < 1 ||
            in->mem_chip > 1024) {
            xt_error("xview", "config: xl_context hidden_size %d (a multiple of 128: heads = hidden // 128), n_layer %d, "
                     "mem_chip %d: out of range", D, in->n_layers, in->mem_chip);
            goto fail;
        }
        if (!(m->in_w = xt_st_weight(st, "context_model.input_proj.weight", 2, (int64_t)D, (int64_t)C4)) ||
            !(m->in_b = xt_st_weight(st, "context_model.input_proj.bias", 1, (int64_t)D)) ||
            !(m->out_w = xt_st_weight(st, "context_model.out_proj.weight", 2, (int64_t)C4, (int64_t)D)) ||
            !(m->out_b = xt_st_weight(st, "context_model.out_proj.bias", 1, (int64_t)C4)))
            goto fail;
        // the MLP width is the file's (xl_context.mlp_ratio x hidden)
        int ratio = 4;
        const xt_st_tensor *g = xt_st_find(st, "context_model.layers.0.mlp.gate_proj.weight");
        if (g && g->ndim == 2 && g->shape[0] % D == 0 && g->shape[0] / D >= 1 && g->shape[0] / D <= 64)
            ratio = (int)(g->shape[0] / D);
        if (xt_context_init(&m->ctx, st, "context_model.", XT_ATTN_HYPER, D, in->n_layers, ratio, NULL, 0)) goto fail;
        m->ctx.causal = 0; // LLMLayer(causal=False): HyperAttention's forward_no_causal_mask
    }
    return m;
fail:
    xt_xview_free(m);
    return NULL;
}

void xt_xview_free(xt_xview *m) {
    if (!m) return;
    if (m->enc) m->enc->free(m->enc);
    xt_context_free(&m->ctx);
    free(m->h3_w), free(m->h3_b), free(m->h1_w), free(m->h1_b);
    free(m);
}

xt_xview_mem *xt_xview_mem_new(const xt_xview *m, int carry, int mem_chip) {
    xt_xview_mem *mem = xt_xcalloc(1, sizeof *mem);
    mem->carry = carry;
    mem->mem_chip = mem_chip > 0 ? mem_chip : m->info.mem_chip;
    mem->n_layers = m->info.context ? m->info.n_layers : 0;
    mem->D = m->info.hidden;
    mem->n = xt_xcalloc(mem->n_layers + 1, sizeof *mem->n);
    mem->x = xt_xcalloc(mem->n_layers + 1, sizeof *mem->x);
    return mem;
}

void xt_xview_mem_free(xt_xview_mem *mem) {
    if (!mem) return;
    for (int i = 0; i < mem->n_layers; i++) free(mem->x[i]);
    free(mem->x);
    free(mem->n);
    free(mem);
}

// ---------------------------------------------------------------------------------------------
// forward

// ---------------------------------------------------------------------------------------------
// The per-run scratch: every buffer of a forward, carved from one arena sized for the largest
// (B, H) seen, plus the encoder's and the context layers' workspaces. Reused across calls, so a
// whole-scene run allocates once; the model itself stays immutable (one scratch per thread).

struct xt_xview_ws {
    xt_arena a, enc, ctx;
};

typedef struct {
    float *chip[5], *lev[5], *region, *stem, *stemc, *scr, *xa, *xb, *conv;
    size_t conv_n;
    float *raw, *pos, *tok, *xs, *o; // context
} bufs;

static int max_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

// Carves the buffers of a forward of B images of side H (context over keep tokens) from a; a
// measuring arena gives the size.
static void carve(const xt_xview *m, xt_arena *a, int B, int H, int keep, bufs *bf) {
    const xt_xview_info *in = &m->info;
    const xt_encoder *e = m->enc;
    const int S = in->crop_size, Cin = in->in_chans, C = in->level_c[0], n = H / S, R = B * n * n, g = S / 4;
    int side[5];
    side[0] = S / 2;
    for (int s = 0; s < 4; s++) side[s + 1] = e->stage_h[s];
    memset(bf, 0, sizeof *bf);
    for (int k = 0; k < 5; k++) {
        size_t nk = (size_t)R * in->level_c[k] * side[k] * side[k];
        bf->chip[k] = xt_arena_f32(a, nk);
        bf->lev[k] = n == 1 ? bf->chip[k] : xt_arena_f32(a, nk);
    }
    bf->region = xt_arena_f32(a, (size_t)Cin * S * S);
    bf->stem = xt_arena_f32(a, (size_t)g * g * C);
    bf->stemc = xt_arena_f32(a, (size_t)R * C * g * g);
    bf->scr = xt_arena_f32(a, xt_conv_transpose2x2_scratch_floats(C, C, g, g));
    // decoder planes (stage output, bottleneck output) and the 3x3 convs' scratch
    size_t plane = 0, conv = 0;
    const int th = max_threads();
    for (int idx = 0, hh = n * side[4]; idx < 4; idx++, hh *= 2) {
        int k = 3 - idx, h2 = 2 * hh;
        plane = MAXZ(plane, (size_t)B * in->dec_f[k] * h2 * h2);
        conv = MAXZ(conv, xt_conv3x3_scratch_floats(m->stage[k].IC, m->stage[k].OC, h2, h2, 0, th));
        conv = MAXZ(conv, xt_conv3x3_scratch_floats(m->bott[idx].IC, m->bott[idx].OC, h2, h2, 0, th));
    }
    conv = MAXZ(conv, xt_conv3x3_scratch_floats(in->dec_f[0], XT_XVIEW_MAPS * in->last, H, H, 1, th));
    bf->xa = xt_arena_f32(a, plane);
    bf->xb = xt_arena_f32(a, plane);
    bf->conv = xt_arena_f32(a, conv);
    bf->conv_n = conv;
    if (in->context) {
        const int C4 = in->level_c[4], D = in->hidden, L = (n * side[4]) * (n * side[4]);
        bf->raw = xt_arena_f32(a, (size_t)B * L * C4);
        bf->pos = xt_arena_f32(a, (size_t)L * D);
        bf->tok = xt_arena_f32(a, (size_t)B * L * D);
        bf->xs = xt_arena_f32(a, (size_t)keep * D);
        bf->o = xt_arena_f32(a, (size_t)B * L * C4);
    }
}

// The encoder reports its patch embedding (after the norm, NHWC) through the tap: kept here.
typedef struct {
    float *dst; // (g*g, C) of one region
    size_t n;
    const char *name;
} stem_grab;

static void grab_stem(void *u, const char *path, const float *x, const int64_t *shape, int ndim) {
    stem_grab *g = u;
    if (!strcmp(path, g->name)) memcpy(g->dst, x, g->n * sizeof(float));
}

static void emit4(const xt_tap *tap, const float *x, int64_t a, int64_t b, int64_t c, int64_t d, const char *name,
                  const char *sfx) {
    int64_t sh[4] = {a, b, c, d};
    xt_tap_emitf(tap, x, 4, sh, "%s%s", name, sfx);
}

// Context model on level 4 x (B, C4, h, h), replaced in place. ref: LLMTransformerXLContextModel.forward
static int context_fwd(const xt_xview *m, float *x4, int B, int h, int ci, int cj, xt_xview_mem *mem, const xt_tap *tap,
                       const char *sfx, const bufs *bf, xt_arena *ws, int keep) {
    const xt_xview_info *in = &m->info;
    const int C4 = in->level_c[4], D = in->hidden, L = h * h;
    if (keep > m->ctx.hp.min_seq_len)
        return xt_error("xview", "context over %d tokens: beyond HyperAttention's exact path (%d); its non-causal long "
                        "path is not implemented", keep, m->ctx.hp.min_seq_len);
    int tapping = xt_tap_on(tap);
    size_t nraw = (size_t)B * L * C4;
    float *raw = bf->raw, *pos = bf->pos, *tok = bf->tok, *xs = bf->xs, *o = bf->o;
    xt_arena_reset(ws);
    xt_context_pass pass;
    xt_context_pass_begin(&pass, &m->ctx);
    int rc = -1;
    if (tapping) emit4(tap, x4, B, C4, h, h, "context_model.in", sfx);
    xt_nchw_to_nhwc(raw, x4, B, C4, L);
    // get_2d_sincos_pos_embed(D, h, i, j): token r*h + c at (row r + i h, col c + j h)
    for (int r = 0; r < h; r++)
        for (int c = 0; c < h; c++) xt_sincos_pos_embed_token(pos + ((size_t)r * h + c) * D, D, r + ci * h, c + cj * h);
    xt_linear_forward(tok, raw, m->in_w, m->in_b, B * L, C4, D);
    if (tapping) {
        int64_t sp[2] = {L, D}, st3[3] = {B, L, D};
        xt_tap_emitf(tap, pos, 2, sp, "context_model.pos_embed%s", sfx);
        xt_tap_emitf(tap, tok, 3, st3, "context_model.input_proj%s", sfx);
    }
    for (int b = 0; b < B; b++) {
        float *t = tok + (size_t)b * L * D;
        xt_add(t, t, pos, (size_t)L * D);
        // taps of a layer carry batch dim 1: only a batch of one reports them
        const xt_tap *lt = B == 1 ? tap : NULL;
        for (int i = 0; i < in->n_layers; i++) {
            // x_i = cat(mem[i], x)[:, -keep:], new_mem[i] = x_i; x = layer(x_i)[:, -L:]
            int64_t nm = mem && mem->carry ? mem->n[i] : 0;
            if (nm > keep - L) nm = keep - L;
            int Lx = (int)(nm + L);
            if (nm) memcpy(xs, mem->x[i] + ((size_t)b * mem->n[i] + (mem->n[i] - nm)) * D, (size_t)nm * D * sizeof(float));
            memcpy(xs + (size_t)nm * D, t, (size_t)L * D * sizeof(float));
            if (mem && mem->carry) { // the layer input, before the layer runs (detach)
                if (b == 0) {
                    float *nx2 = realloc(mem->x[i], (size_t)B * Lx * D * sizeof(float));
                    if (!nx2) { xt_error("xview", "out of memory (context memory)"); goto done; }
                    mem->x[i] = nx2;
                }
                memcpy(mem->x[i] + (size_t)b * Lx * D, xs, (size_t)Lx * D * sizeof(float));
            }
            if (xt_context_layer_forward(&m->ctx, &pass, i, xs, Lx, ws, lt, sfx)) goto done;
            memcpy(t, xs + (size_t)nm * D, (size_t)L * D * sizeof(float));
        }
    }
    if (mem && mem->carry)
        for (int i = 0; i < in->n_layers; i++) {
            int64_t nm = mem->n[i];
            if (nm > keep - L) nm = keep - L;
            mem->n[i] = nm + L;
        }
    xt_linear_forward(o, tok, m->out_w, m->out_b, B * L, D, C4);
    if (tapping) {
        int64_t s3[3] = {B, L, C4};
        xt_tap_emitf(tap, o, 3, s3, "context_model.out_proj%s", sfx);
    }
    xt_add(o, o, raw, nraw);
    xt_nhwc_to_nchw(x4, o, B, L, C4);
    if (tapping) emit4(tap, x4, B, C4, h, h, "context_model.out", sfx);
    rc = 0;
done:
    xt_context_pass_free(&pass);
    return rc;
}

xt_xview_ws *xt_xview_ws_new(void) { return xt_xcalloc(1, sizeof(xt_xview_ws)); }

void xt_xview_ws_free(xt_xview_ws *ws) {
    if (!ws) return;
    xt_arena_free(&ws->a), xt_arena_free(&ws->enc), xt_arena_free(&ws->ctx);
    free(ws);
}

// a holds at least need bytes (grown, never shrunk).
static int ensure(xt_arena *a, size_t need) {
    if (need == 0 || (!a->measure && a->base && a->size >= need)) return 0;
    xt_arena_free(a);
    return xt_arena_init(a, need);
}

int xt_xview_forward(const xt_xview *m, const float *img, int B, int H, int ci, int cj, xt_xview_mem *mem,
                     float *const *maps, const xt_tap *tap, const char *sfx) {
    xt_xview_ws *ws = xt_xview_ws_new();
    int rc = xt_xview_forward_ws(m, ws, img, B, H, ci, cj, mem, maps, tap, sfx);
    xt_xview_ws_free(ws);
    return rc;
}

int xt_xview_forward_ws(const xt_xview *m, xt_xview_ws *ws, const float *img, int B, int H, int ci, int cj,
                        xt_xview_mem *mem, float *const *maps, const xt_tap *tap, const char *sfx) {
    const xt_xview_info *in = &m->info;
    const xt_encoder *e = m->enc;
    const int S = in->crop_size, Cin = in->in_chans, C = in->level_c[0];
    if (B < 1 || H < S || H % S || H / S > 4096)
        return xt_error("xview", "input side %d: must be a multiple of the region size %d (square inputs only)", H, S);
    sfx = sfx ? sfx : "";
    const int n = H / S, R = B * n * n, g = S / 4;
    int side[5], lc[5];
    side[0] = S / 2;
    for (int s = 0; s < 4; s++) side[s + 1] = e->stage_h[s];
    for (int k = 0; k < 5; k++) lc[k] = in->level_c[k];
    int tapping = xt_tap_on(tap);
    const int L = (n * side[4]) * (n * side[4]);
    const int keep = L * (mem && mem->carry ? mem->mem_chip : 1); // context tokens a layer sees
    // size (a measuring pass of the same carving), grow, carve
    bufs bf;
    xt_arena meas;
    xt_arena_init(&meas, 0);
    carve(m, &meas, B, H, keep, &bf);
    if (ensure(&ws->a, meas.high) || ensure(&ws->enc, e->workspace_size(e, 1)) ||
        (in->context && ensure(&ws->ctx, xt_context_ws_size(&m->ctx, keep, tapping))))
        return -1;
    xt_arena_reset(&ws->a);
    carve(m, &ws->a, B, H, keep, &bf);
    float **chip = bf.chip, **lev = bf.lev, *region = bf.region, *stem = bf.stem, *stemc = bf.stemc;
    // 1. regions (nested tokenization, row-major per image) -> 5 levels each
    char sname[64];
    snprintf(sname, sizeof sname, "encoder.model.patch_embed");
    stem_grab sg = {stem, (size_t)g * g * C, sname};
    xt_tap grab = {grab_stem, &sg};
    for (int r = 0; r < R; r++) {
        int b = r / (n * n), rr = r / n % n, rcn = r % n;
        for (int c = 0; c < Cin; c++)
            for (int y = 0; y < S; y++)
                memcpy(region + ((size_t)c * S + y) * S, img + (((size_t)b * Cin + c) * H + rr * S + y) * H + rcn * S,
                       S * sizeof(float));
        float *out[4];
        for (int s = 0; s < 4; s++) out[s] = chip[s + 1] + (size_t)r * lc[s + 1] * side[s + 1] * side[s + 1];
        xt_arena_reset(&ws->enc);
        if (e->forward(e, region, 1, out, &ws->enc, &grab, "encoder.model.")) return -1;
        float *sc = stemc + (size_t)r * C * g * g;
        xt_nhwc_to_nchw(sc, stem, 1, g * g, C);
        xt_conv_transpose2x2_forward(chip[0] + (size_t)r * C * side[0] * side[0], sc, m->up_w, m->up_b, 1, C, C, g, g,
                                     bf.scr);
    }
    if (tapping) {
        emit4(tap, stemc, R, C, g, g, "encoder.upsample.in", sfx);
        for (int k = 0; k < 5; k++) {
            char nm[32];
            snprintf(nm, sizeof nm, "encoder.%d", k);
            emit4(tap, chip[k], R, lc[k], side[k], side[k], nm, sfx);
        }
    }
    // stitch: (B n n, C, h, h) -> (B, C, n h, n h)
    if (n > 1)
        for (int k = 0; k < 5; k++) {
            int hk = side[k], W = n * hk;
            for (int r = 0; r < R; r++) {
                int b = r / (n * n), rr = r / n % n, rcn = r % n;
                for (int c = 0; c < lc[k]; c++)
                    for (int y = 0; y < hk; y++)
                        memcpy(lev[k] + (((size_t)b * lc[k] + c) * W + rr * hk + y) * W + rcn * hk,
                               chip[k] + (((size_t)r * lc[k] + c) * hk + y) * hk, hk * sizeof(float));
            }
        }
    // 2. context on the deepest level
    if (in->context && context_fwd(m, lev[4], B, n * side[4], ci, cj, mem, tap, sfx, &bf, &ws->ctx, keep)) return -1;
    // 3. UNet decoder (ref: UNetDecoder.forward): conv3x3 + SiLU of up2(x), then of cat(x, skip),
    // the upsampling and the concat read in place by the conv
    int hh = n * side[4], xc = lc[4];
    const float *x = lev[4];
    for (int idx = 0; idx < 4; idx++) {
        int k = 3 - idx, h2 = 2 * hh, sk = 3 - idx, F = in->dec_f[k];
        size_t p2 = (size_t)h2 * h2;
        for (int b = 0; b < B; b++) {
            xt_conv_src s1 = {x + (size_t)b * xc * hh * hh, xc, 1};
            xt_conv3x3_forward(bf.xa + (size_t)b * F * p2, &s1, 1, h2, h2, m->stage[k].w, m->stage[k].b, F, 1, NULL,
                               bf.conv, bf.conv_n);
        }
        char nm[64];
        if (tapping) {
            snprintf(nm, sizeof nm, "decoder.decoder_stages.%d", k);
            emit4(tap, bf.xa, B, F, h2, h2, nm, sfx);
        }
        for (int b = 0; b < B; b++) {
            xt_conv_src s2[2] = {{bf.xa + (size_t)b * F * p2, F, 0}, {lev[sk] + (size_t)b * lc[sk] * p2, lc[sk], 0}};
            xt_conv3x3_forward(bf.xb + (size_t)b * F * p2, s2, 2, h2, h2, m->bott[idx].w, m->bott[idx].b, F, 1, NULL,
                               bf.conv, bf.conv_n);
        }
        if (tapping) {
            snprintf(nm, sizeof nm, "decoder.bottlenecks.%d", idx);
            emit4(tap, bf.xb, B, F, h2, h2, nm, sfx);
        }
        x = bf.xb, xc = F, hh = h2; // the next stage reads xb and writes xa
    }
    // 4. heads conv1x1(SiLU(conv3x3(up2(x)))): the four 3x3 convs as one, the 1x1s on its blocks
    for (int b = 0; b < B; b++) {
        float *out[XT_XVIEW_MAPS];
        for (int h = 0; h < XT_XVIEW_MAPS; h++) out[h] = maps[h] + (size_t)b * H * H;
        xt_conv_src s1 = {x + (size_t)b * xc * hh * hh, xc, 1};
        xt_conv_heads hd = {XT_XVIEW_MAPS, m->h1_w, m->h1_b, out};
        xt_conv3x3_forward(NULL, &s1, 1, H, H, m->h3_w, m->h3_b, XT_XVIEW_MAPS * in->last, 1, &hd, bf.conv, bf.conv_n);
    }
    if (tapping)
        for (int h = 0; h < XT_XVIEW_MAPS; h++) {
            char nm[64];
            snprintf(nm, sizeof nm, "out.%s", xt_xview_map_names[h]);
            emit4(tap, maps[h], B, 1, H, H, nm, sfx);
        }
    return 0;
}
