// xview_bwd.c — the xView3 dense model (xview.c) for training: parameters in an xt_params set
// under the official names, a training forward keeping activations (eval mode: no drop-path)
// and its backward through heads, UNet decoder, context model (non-causal LLMLayers, memory
// empty as in the official trainer: bug 15), level-0 ConvTranspose and the Swin V2 encoder
// (xt_encoder_train, its patch embedding as an extra output) down to the image.
// An input of side n x crop_size is chipped as in inference (n x n regions through the encoder,
// levels stitched back, the context model over all their tokens, the decoder on the stitched
// maps): n = 1 is the official training tile; n > 1 is xT's nested tokenization trained whole.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/trainable.h"
#include "models/xview.h"
#include "nn/nn.h"

#define MAXZ(a, b) ((size_t)(a) > (size_t)(b) ? (size_t)(a) : (size_t)(b))

typedef struct {
    int w, b, IC, OC, K;
} tconv;

struct xt_xview_train {
    xt_encoder_train *enc;
    int S, Cin, C, lc[5], side[5], F[4], last, ctx, D, nl, FF, NH;
    int upw, upb, ipw, ipb, opw, opb;
    tconv stage[4], bott[4], head3[4], head1[4];
    xt_llm_train_layer *L;
    // activations of the last forward (one block, freed at the next forward): B images of side
    // n S, R = B n^2 regions; lev per region, levS stitched (= lev when n = 1), reg the regions
    int B, n, R;
    float *blk, *stem, *stemc, *lev[5], *levS[5], *reg, *raw, *x0, *xf;
    float *up[4], *pa[4], *cat[4], *pb[4], *upx, *ph, *sh; // ph, sh: (B, 4 last, H, H), the heads stacked
    float *hw, *hb;                                            // the four heads' 3x3 convs as one (4 last, F0, 3, 3)
    int hs[4]; // decoder side after stage idx
    xt_arena lact;
    size_t colmax, blk_cap, bblk_cap;
    float *bblk; // the backward's buffers (grow-only)
};

static void add_conv(xt_params *P, tconv *c, int IC, int OC, int K, const char *fmt, const char *a) {
    char nm[200], f2[200];
    snprintf(f2, sizeof f2, fmt, a, "%s");
    c->IC = IC, c->OC = OC, c->K = K;
    snprintf(nm, sizeof nm, f2, "weight");
    int64_t sw[4] = {OC, IC, K, K}, sb[1] = {OC};
    c->w = xt_params_add(P, nm, 4, sw);
    snprintf(nm, sizeof nm, f2, "bias");
    c->b = xt_params_add(P, nm, 1, sb);
}

// A width from the file's tensor (dim 0 of name) when st has it, else the config's value.
static int width(const xt_st *st, const char *name, int dflt) {
    const xt_st_tensor *t = st ? xt_st_find((xt_st *)st, name) : NULL;
    return t && t->ndim >= 1 && t->shape[0] >= 1 && t->shape[0] <= 65536 ? (int)t->shape[0] : dflt;
}

void xt_xview_train_free(xt_xview_train *m) {
    if (!m) return;
    if (m->enc) m->enc->free(m->enc);
    free(m->L);
    free(m->blk);
    free(m->bblk);
    free(m->hw);
    free(m->hb);
    xt_arena_free(&m->lact);
    free(m);
}

xt_xview_train *xt_xview_train_new(xt_params *P, const xt_json *cfg, const xt_st *st) {
    xt_xview_train *m = xt_xcalloc(1, sizeof *m);
    xt_json *sj = NULL;
    const xt_json *xl = xt_json_get(cfg, "xl_context");
    int ratio = 4, bs = 0;
    if (xt_json_int(cfg, "crop_size", 256, &m->S) ||
        (xl && (xt_json_bool(xl, "enabled", 0, &m->ctx) || xt_json_int(xl, "hidden_size", 256, &m->D) ||
                xt_json_int(xl, "n_layer", 4, &m->nl) || xt_json_int(xl, "mlp_ratio", 4, &ratio) ||
                xt_json_bool(xl, "skip_connection", 0, &bs))))
        goto fail;
    if (m->S < 32 || m->S > 8192 || m->S % 32) { xt_error("xview train", "config: crop_size %d: a multiple of 32 in [32, 8192]", m->S); goto fail; }
    if (bs) { xt_error("xview train", "config: xl_context.skip_connection is not supported (bug 18)"); goto fail; }
    if (m->ctx && (m->D < 128 || m->D % 128 || m->D > 8192 || m->nl < 0 || m->nl > 256 || ratio < 1 || ratio > 16)) {
        xt_error("xview train", "config: xl_context hidden_size %d (a multiple of 128), n_layer %d, mlp_ratio %d: out of range",
                 m->D, m->nl, ratio);
        goto fail;
    }
    if (!(sj = xt_xview_swin_json(cfg))) goto fail;
    int Cs[XT_MAX_STAGES], Hs[XT_MAX_STAGES];
    if (xt_encoder_geometry("swinv2", sj, m->S, Cs, Hs) != 4) { xt_error_prefix("xview train: swin"); goto fail; }
    m->C = Cs[0];
    m->lc[0] = m->C, m->side[0] = m->S / 2;
    for (int s = 0; s < 4; s++) m->lc[s + 1] = Cs[s], m->side[s + 1] = Hs[s];
    // widths: the file's tensors, else config decoder_filters / last_upsample_filters, else official
    int df[4] = {48, 96, 176, 256}, last = 48;
    if (xt_json_get(cfg, "decoder_filters") && xt_json_int_array(cfg, "decoder_filters", df, 4) != 4) {
        xt_error("xview train", "config: decoder_filters must have 4 widths");
        goto fail;
    }
    if (xt_json_int(cfg, "last_upsample_filters", 48, &last)) goto fail;
    char nm[160];
    for (int k = 0; k < 4; k++) {
        snprintf(nm, sizeof nm, "decoder.decoder_stages.%d.layer.1.weight", k);
        m->F[k] = width(st, nm, df[k]);
        if (m->F[k] < 1 || m->F[k] > 65536) { xt_error("xview train", "config: decoder width %d out of range", m->F[k]); goto fail; }
    }
    m->last = width(st, "decoder.vessel_mask.layer.1.weight", last);
    if (m->last < 1 || m->last > 65536) { xt_error("xview train", "config: last_upsample_filters %d out of range", m->last); goto fail; }
    // state-dict order: context_model.*, decoder.*, encoder.*
    if (m->ctx) {
        const int D = m->D, C4 = m->lc[4];
        m->FF = D * ratio, m->NH = D / 128;
        int64_t a[2] = {D, C4}, b[1] = {D}, c[2] = {C4, D}, d[1] = {C4};
        m->ipw = xt_params_add(P, "context_model.input_proj.weight", 2, a);
        m->ipb = xt_params_add(P, "context_model.input_proj.bias", 1, b);
        m->opw = xt_params_add(P, "context_model.out_proj.weight", 2, c);
        m->opb = xt_params_add(P, "context_model.out_proj.bias", 1, d);
        m->L = xt_xcalloc(m->nl ? m->nl : 1, sizeof *m->L);
        for (int i = 0; i < m->nl; i++) {
            snprintf(nm, sizeof nm, "context_model.layers.%d.", i);
            xt_llm_train_register(&m->L[i], P, nm, D, m->FF, 1); // qkv_bias = D // 128 (bug 2): present
        }
    }
    for (int idx = 0, xc = m->lc[4]; idx < 4; idx++) {
        int k = 3 - idx;
        char a[16];
        snprintf(a, sizeof a, "%d", k);
        add_conv(P, &m->stage[k], xc, m->F[k], 3, "decoder.decoder_stages.%s.layer.1.%s", a);
        xc = m->F[k];
    }
    for (int idx = 0; idx < 4; idx++) {
        char a[16];
        snprintf(a, sizeof a, "%d", idx);
        add_conv(P, &m->bott[idx], m->F[3 - idx] + m->lc[3 - idx], m->F[3 - idx], 3, "decoder.bottlenecks.%s.seq.0.%s", a);
    }
    for (int h = 0; h < XT_XVIEW_MAPS; h++) {
        add_conv(P, &m->head3[h], m->F[0], m->last, 3, "decoder.%s.layer.1.%s", xt_xview_map_names[h]);
        add_conv(P, &m->head1[h], m->last, 1, 1, "decoder.%s.layer.3.%s", xt_xview_map_names[h]);
    }
    if (!(m->enc = xt_encoder_train_new(P, "swinv2", sj, "encoder.model.", m->S))) goto fail;
    if (!m->enc->has_stem) { xt_error("xview train", "the region encoder does not give its patch embedding"); goto fail; }
    m->Cin = m->enc->in_chans;
    int64_t su[4] = {m->C, m->C, 2, 2}, sb[1] = {m->C};
    m->upw = xt_params_add(P, "encoder.upsample.weight", 4, su);
    m->upb = xt_params_add(P, "encoder.upsample.bias", 1, sb);
    xt_json_free(sj);
    return m;
fail:
    xt_json_free(sj);
    xt_xview_train_free(m);
    return NULL;
}

int xt_xview_train_in_chans(const xt_xview_train *m) { return m->Cin; }
int xt_xview_train_crop(const xt_xview_train *m) { return m->S; }

size_t xt_xview_train_act_bytes(const xt_xview_train *m, int B, int H) {
    int n = H / m->S;
    return m->enc->act_bytes(m->enc, B * n * n);
}
size_t xt_xview_train_scratch_bytes(const xt_xview_train *m, int B, int H) {
    int n = H / m->S;
    size_t s = m->enc->scratch_bytes(m->enc, B * n * n);
    if (m->ctx) {
        int L = m->side[4] * m->side[4] * n * n;
        s += xt_llm_train_scratch_floats(&m->L[0], B, L, m->D, m->FF) * sizeof(float) + 256;
    }
    return s;
}

// ---------------------------------------------------------------------------------------------
// forward

typedef struct {
    float *dst;
    size_t n;
} stem_grab;

static void grab_stem(void *u, const char *path, const float *x, const int64_t *shape, int ndim) {
    stem_grab *g = u;
    if (!strcmp(path, "encoder.model.patch_embed")) memcpy(g->dst, x, g->n * sizeof(float));
}

static void emit4(const xt_tap *tap, const float *x, int64_t a, int64_t b, int64_t c, int64_t d, const char *name) {
    int64_t sh[4] = {a, b, c, d};
    xt_tap_emitf(tap, x, 4, sh, "%s", name);
}

static xt_conv2d_dims dims(const tconv *c, int H) {
    return (xt_conv2d_dims){c->IC, H, H, c->OC, c->K, c->K, 1, 1, c->K / 2, c->K / 2};
}

// (B n^2, c, h, h) regions <-> (B, c, n h, n h) stitched, regions row-major per image:
// to_stitched: src regions -> dst stitched; else src stitched -> dst regions
static void chips(float *dst, const float *src, int B, int n, int c, int h, int to_stitched) {
    const size_t nh = (size_t)n * h;
    for (int r = 0; r < B * n * n; r++) {
        int b = r / (n * n), i = r / n % n, j = r % n;
        for (int ch = 0; ch < c; ch++)
            for (int y = 0; y < h; y++) {
                size_t st = (((size_t)b * c + ch) * nh + (size_t)i * h + y) * nh + (size_t)j * h;
                size_t rg = (((size_t)r * c + ch) * h + y) * h;
                if (to_stitched) memcpy(dst + st, src + rg, h * sizeof(float));
                else memcpy(dst + rg, src + st, h * sizeof(float));
            }
    }
}

int xt_xview_train_forward(xt_xview_train *m, const xt_params *P, const float *img, int B, int H, int ci, int cj,
                           float *const *maps, xt_arena *act, const xt_tap *tap) {
    if (B < 1 || B > 4096 || H < m->S || H % m->S || H / m->S > 64)
        return xt_error("xview train", "input (%d, %d, %d, %d): the side must be n x crop_size %d (n = 1..64)", B, m->Cin, H,
                        H, m->S);
    const int C = m->C, g = m->S / 4, *lc = m->lc, *side = m->side, n = H / m->S, R = B * n * n, S = m->S;
    int sideS[5];
    for (int k = 0; k < 5; k++) sideS[k] = n * side[k];
    m->B = B, m->n = n, m->R = R;
    // place every activation in one block
    size_t need = (size_t)R * g * g * C * 2, big = 0;
    for (int k = 0; k < 5; k++) need += (size_t)R * lc[k] * side[k] * side[k] * (n > 1 ? 2 : 1);
    if (n > 1) need += (size_t)R * m->Cin * S * S;
    int L4 = sideS[4] * sideS[4];
    if (m->ctx && L4 > 4096) // the inference model's exact non-causal path ends there (xview.c)
        return xt_error("xview train", "context over %d tokens (input side %d): at most 4096", L4, H);
    if (m->ctx) need += (size_t)B * L4 * (lc[4] + 2 * m->D);
    m->colmax = 0;
    for (int idx = 0, hh = sideS[4], xc = lc[4]; idx < 4; idx++, hh *= 2) {
        int k = 3 - idx, h2 = 2 * hh;
        size_t p2 = (size_t)h2 * h2;
        m->hs[idx] = h2;
        need += (size_t)B * p2 * (xc + 2 * m->F[k] + m->F[k] + lc[3 - idx]);
        xt_conv2d_dims d1 = dims(&m->stage[k], h2), d2 = dims(&m->bott[idx], h2);
        m->colmax = MAXZ(m->colmax, MAXZ(xt_conv2d_backward_scratch_floats(&d1), xt_conv2d_backward_scratch_floats(&d2)));
        xc = m->F[k];
    }
    need += (size_t)B * H * H * (m->F[0] + 8 * m->last);
    xt_conv2d_dims dh = dims(&m->head3[0], H);
    dh.OC = XT_XVIEW_MAPS * m->last;
    m->colmax = MAXZ(m->colmax, xt_conv2d_backward_scratch_floats(&dh));
    big = MAXZ(xt_conv_transpose2x2_scratch_floats(C, C, g, g), xt_conv_transpose2x2_backward_scratch_floats(C, C, g, g));
    m->colmax = MAXZ(m->colmax, big);
    // the block and the conv scratch grow only: a training loop of equal steps allocates (and
    // page-faults) them once
    if (need + m->colmax > m->blk_cap) {
        free(m->blk);
        m->blk_cap = 0;
        if (!(m->blk = xt_malloc_checked((need + m->colmax) * sizeof(float), "xview train activations"))) return -1;
        m->blk_cap = need + m->colmax;
    }
    float *p = m->blk;
#define TAKE(ptr, n) (ptr = p, p += (n))
    TAKE(m->stem, (size_t)R * g * g * C);
    TAKE(m->stemc, (size_t)R * g * g * C);
    for (int k = 0; k < 5; k++) {
        TAKE(m->lev[k], (size_t)R * lc[k] * side[k] * side[k]);
        if (n > 1) TAKE(m->levS[k], (size_t)R * lc[k] * side[k] * side[k]);
        else m->levS[k] = m->lev[k];
    }
    if (n > 1) TAKE(m->reg, (size_t)R * m->Cin * S * S);
    else m->reg = NULL;
    if (m->ctx) {
        TAKE(m->raw, (size_t)B * L4 * lc[4]);
        TAKE(m->x0, (size_t)B * L4 * m->D);
        TAKE(m->xf, (size_t)B * L4 * m->D);
    }
    for (int idx = 0, xc = lc[4]; idx < 4; idx++) {
        int k = 3 - idx;
        size_t p2 = (size_t)m->hs[idx] * m->hs[idx];
        TAKE(m->up[idx], (size_t)B * xc * p2);
        TAKE(m->pa[idx], (size_t)B * m->F[k] * p2);
        TAKE(m->cat[idx], (size_t)B * (m->F[k] + lc[3 - idx]) * p2);
        TAKE(m->pb[idx], (size_t)B * m->F[k] * p2);
        xc = m->F[k];
    }
    TAKE(m->upx, (size_t)B * H * H * m->F[0]);
    TAKE(m->ph, (size_t)B * H * H * m->last * XT_XVIEW_MAPS);
    TAKE(m->sh, (size_t)B * H * H * m->last * XT_XVIEW_MAPS);
#undef TAKE
    float *col = p; // after the activations, in the same block
    int rc = -1;
    // 1. encoder on the R regions: levels 1..4 and the patch embedding; level 0 = ConvTranspose2d
    //    2x2 of it; then the levels stitched back (nested tokenization, as xt_xview_forward)
    const float *rin = img;
    if (n > 1) {
        chips(m->reg, img, B, n, m->Cin, S, 0);
        rin = m->reg;
    }
    stem_grab sg = {m->stem, (size_t)R * g * g * C};
    xt_tap grab = {grab_stem, &sg};
    xt_arena_reset(act);
    if (m->enc->forward(m->enc, P, rin, R, m->lev + 1, act, &grab, "encoder.model.")) goto done;
    xt_nhwc_to_nchw(m->stemc, m->stem, R, g * g, C);
    xt_conv_transpose2x2_forward(m->lev[0], m->stemc, xt_pw(P, m->upw), xt_pw(P, m->upb), R, C, C, g, g, col);
    if (xt_tap_on(tap)) {
        emit4(tap, m->stemc, R, C, g, g, "encoder.upsample.in");
        for (int k = 0; k < 5; k++) {
            char nm[32];
            snprintf(nm, sizeof nm, "encoder.%d", k);
            emit4(tap, m->lev[k], R, lc[k], side[k], side[k], nm);
        }
    }
    if (n > 1)
        for (int k = 0; k < 5; k++) chips(m->levS[k], m->lev[k], B, n, lc[k], side[k], 1);
    // 2. context model on level 4 (memory empty). ref: LLMTransformerXLContextModel.forward
    if (m->ctx) {
        const int D = m->D, C4 = lc[4], h = sideS[4], T = B * L4;
        float *pos = xt_xmalloc((size_t)L4 * D * sizeof(float));
        for (int r = 0; r < h; r++)
            for (int c = 0; c < h; c++) xt_sincos_pos_embed_token(pos + ((size_t)r * h + c) * D, D, r + ci * h, c + cj * h);
        emit4(tap, m->levS[4], B, C4, h, h, "context_model.in");
        xt_nchw_to_nhwc(m->raw, m->levS[4], B, C4, L4);
        xt_linear_forward(m->x0, m->raw, xt_pw(P, m->ipw), xt_pw(P, m->ipb), T, C4, D);
        int64_t sp[2] = {L4, D}, s3[3] = {B, L4, D};
        xt_tap_emitf(tap, pos, 2, sp, "context_model.pos_embed");
        xt_tap_emitf(tap, m->x0, 3, s3, "context_model.input_proj");
        for (int b = 0; b < B; b++) xt_add(m->x0 + (size_t)b * L4 * D, m->x0 + (size_t)b * L4 * D, pos, (size_t)L4 * D);
        free(pos);
        memcpy(m->xf, m->x0, (size_t)T * D * sizeof(float));
        size_t per = xt_llm_train_act_floats(B, L4, D, m->FF, 1, m->NH) * sizeof(float);
        xt_arena_free(&m->lact);
        if (xt_arena_init(&m->lact, per * (m->nl ? m->nl : 1))) goto done;
        for (int i = 0; i < m->nl; i++) {
            char nm[64];
            snprintf(nm, sizeof nm, "context_model.layers.%d.in", i);
            xt_tap_emitf(tap, m->xf, 3, s3, "%s", nm);
            xt_llm_train_plan(&m->L[i], &m->lact, B, L4, D, m->FF, 1, m->NH);
            snprintf(nm, sizeof nm, "context_model.layers.%d", i);
            (void)xt_llm_train_forward(&m->L[i], P, m->xf, B, L4, D, m->FF, 1, m->NH, 0, tap, nm); // no hy: cannot fail
        }
        float *o = xt_xmalloc((size_t)T * C4 * sizeof(float));
        xt_linear_forward(o, m->xf, xt_pw(P, m->opw), xt_pw(P, m->opb), T, D, C4);
        int64_t so[3] = {B, L4, C4};
        xt_tap_emitf(tap, o, 3, so, "context_model.out_proj");
        xt_add(o, o, m->raw, (size_t)T * C4);
        xt_nhwc_to_nchw(m->levS[4], o, B, L4, C4);
        free(o);
        emit4(tap, m->levS[4], B, C4, h, h, "context_model.out");
    }
    // 3. UNet decoder. ref: UNetDecoder.forward
    {
        const float *x = m->levS[4];
        float *xs = NULL;
        for (int idx = 0, hh = sideS[4], xc = lc[4]; idx < 4; idx++) {
            int k = 3 - idx, h2 = m->hs[idx], sk = 3 - idx, Fk = m->F[k];
            size_t p2 = (size_t)h2 * h2;
            xt_upsample2x_nearest(m->up[idx], x, B, xc, hh, hh);
            xt_conv2d_dims d1 = dims(&m->stage[k], h2), d2 = dims(&m->bott[idx], h2);
            xt_conv2d_forward(m->pa[idx], col, m->up[idx], xt_pw(P, m->stage[k].w), xt_pw(P, m->stage[k].b), B, &d1, 0);
            for (int b = 0; b < B; b++) {
                float *cb = m->cat[idx] + (size_t)b * (Fk + lc[sk]) * p2;
                xt_silu_forward(cb, m->pa[idx] + (size_t)b * Fk * p2, (size_t)Fk * p2);
                memcpy(cb + (size_t)Fk * p2, m->levS[sk] + (size_t)b * lc[sk] * p2, (size_t)lc[sk] * p2 * sizeof(float));
            }
            if (xt_tap_on(tap)) {
                float *t = xt_xmalloc((size_t)B * Fk * p2 * sizeof(float));
                xt_silu_forward(t, m->pa[idx], (size_t)B * Fk * p2);
                char nm[64];
                snprintf(nm, sizeof nm, "decoder.decoder_stages.%d", k);
                emit4(tap, t, B, Fk, h2, h2, nm);
                free(t);
            }
            xt_conv2d_forward(m->pb[idx], col, m->cat[idx], xt_pw(P, m->bott[idx].w), xt_pw(P, m->bott[idx].b), B, &d2, 0);
            free(xs);
            xs = xt_xmalloc((size_t)B * Fk * p2 * sizeof(float));
            xt_silu_forward(xs, m->pb[idx], (size_t)B * Fk * p2);
            char nm[64];
            snprintf(nm, sizeof nm, "decoder.bottlenecks.%d", idx);
            emit4(tap, xs, B, Fk, h2, h2, nm);
            x = xs, xc = Fk, hh = h2;
        }
        // 4. heads: conv1x1(SiLU(conv3x3(up2(x)))); the four 3x3 convs read the same input, so they
        //    run as one conv of 4 x last outputs (one im2col instead of four), the 1x1s directly
        xt_upsample2x_nearest(m->upx, x, B, m->F[0], H / 2, H / 2);
        free(xs);
        const int NL = XT_XVIEW_MAPS * m->last;
        const size_t HH = (size_t)H * H, hk = (size_t)m->last * m->F[0] * 9;
        if (!m->hw) m->hw = xt_xmalloc((size_t)NL * m->F[0] * 9 * sizeof(float)), m->hb = xt_xmalloc((size_t)NL * sizeof(float));
        for (int h = 0; h < XT_XVIEW_MAPS; h++) {
            memcpy(m->hw + h * hk, xt_pw(P, m->head3[h].w), hk * sizeof(float));
            memcpy(m->hb + h * m->last, xt_pw(P, m->head3[h].b), m->last * sizeof(float));
        }
        xt_conv2d_dims d3 = dims(&m->head3[0], H);
        d3.OC = NL;
        xt_conv2d_forward(m->ph, col, m->upx, m->hw, m->hb, B, &d3, 0);
        xt_silu_forward(m->sh, m->ph, (size_t)B * NL * HH);
        for (int h = 0; h < XT_XVIEW_MAPS; h++) {
            const float *w1 = xt_pw(P, m->head1[h].w), b1 = xt_pw(P, m->head1[h].b)[0];
            for (int b = 0; b < B; b++) {
                float *o = maps[h] + (size_t)b * HH;
                const float *sb = m->sh + ((size_t)b * NL + (size_t)h * m->last) * HH;
                for (size_t q = 0; q < HH; q++) o[q] = b1;
                for (int c = 0; c < m->last; c++)
                    for (size_t q = 0; q < HH; q++) o[q] += w1[c] * sb[(size_t)c * HH + q];
            }
            char nm[64];
            snprintf(nm, sizeof nm, "out.%s", xt_xview_map_names[h]);
            emit4(tap, maps[h], B, 1, H, H, nm);
        }
    }
    rc = 0;
done:
    return rc;
}

// ---------------------------------------------------------------------------------------------
// backward

int xt_xview_train_backward(xt_xview_train *m, xt_params *P, const float *const *dmaps, float *dimg, xt_arena *scr) {
    XT_ASSERT(m->B > 0); // backward needs a forward
    const int B = m->B, n = m->n, R = m->R, H = n * m->S, C = m->C, g = m->S / 4, *lc = m->lc, *side = m->side;
    const int F0 = m->F[0];
    const size_t HH = (size_t)H * H;
    // dlev: stitched (B, c, n h, n h); dlevR: per region (R, c, h, h) (= dlev when n = 1)
    float *dlev[5] = {0}, *dlevR[5] = {0}, *col = NULL, *dup = NULL, *t = NULL, *d1 = NULL, *d2 = NULL, *dstem = NULL;
    float *dreg = NULL;
    int rc = -1;
    size_t maxp = (size_t)B * HH * (F0 > m->last ? F0 : m->last);
    for (int idx = 0, xc = lc[4]; idx < 4; idx++) {
        size_t p2 = (size_t)m->hs[idx] * m->hs[idx], w = xc;
        if ((size_t)(m->F[3 - idx] + lc[3 - idx]) > w) w = m->F[3 - idx] + lc[3 - idx];
        if ((size_t)B * w * p2 > maxp) maxp = (size_t)B * w * p2;
        xc = m->F[3 - idx];
    }
    if ((size_t)R * C * side[0] * side[0] > maxp) maxp = (size_t)R * C * side[0] * side[0];
    // every buffer from one grow-only block (no page faults from fresh allocations per step)
    const int NL = XT_XVIEW_MAPS * m->last;
    size_t need = m->colmax + 4 * maxp + (size_t)R * g * g * C + (size_t)B * NL * HH + (size_t)NL * F0 * 9 + NL;
    for (int k = 0; k < 5; k++) need += (size_t)R * lc[k] * side[k] * side[k] * (n > 1 ? 2 : 1);
    if (n > 1 && dimg) need += (size_t)R * m->Cin * m->S * m->S;
    if (need > m->bblk_cap) {
        free(m->bblk);
        m->bblk_cap = 0;
        if (!(m->bblk = xt_malloc_checked(need * sizeof(float), "xview train gradients"))) goto done;
        m->bblk_cap = need;
    }
    float *bp = m->bblk, *dph, *dhw, *dhb;
#define TAKE(ptr, cnt) (ptr = bp, bp += (cnt))
    for (int k = 0; k < 5; k++) {
        size_t nk = (size_t)R * lc[k] * side[k] * side[k];
        TAKE(dlev[k], nk);
        if (n == 1) dlevR[k] = dlev[k];
        else TAKE(dlevR[k], nk);
    }
    if (n > 1 && dimg) TAKE(dreg, (size_t)R * m->Cin * m->S * m->S);
    TAKE(col, m->colmax);
    TAKE(dup, maxp);
    TAKE(t, maxp);
    TAKE(d1, maxp);
    TAKE(d2, maxp);
    TAKE(dstem, (size_t)R * g * g * C);
    TAKE(dph, (size_t)B * NL * HH);
    TAKE(dhw, (size_t)NL * F0 * 9);
    TAKE(dhb, (size_t)NL);
#undef TAKE
    // heads: the 1x1s directly, then one backward of the stacked 3x3 conv (dupx sums the four)
    {
        const size_t hk = (size_t)m->last * F0 * 9;
        memset(dhw, 0, (size_t)NL * F0 * 9 * sizeof(float));
        memset(dhb, 0, (size_t)NL * sizeof(float));
        for (int h = 0; h < XT_XVIEW_MAPS; h++) {
            const float *w1 = xt_pw(P, m->head1[h].w);
            float *gw1 = xt_pg(P, m->head1[h].w), *gb1 = xt_pg(P, m->head1[h].b);
            for (int b = 0; b < B; b++) {
                const float *g = dmaps[h] + (size_t)b * HH;
                size_t off = ((size_t)b * NL + (size_t)h * m->last) * HH;
                double gs = 0;
                for (size_t q = 0; q < HH; q++) gs += g[q];
                gb1[0] += (float)gs;
                for (int c = 0; c < m->last; c++) {
                    const float *sc = m->sh + off + (size_t)c * HH;
                    float *dc = dph + off + (size_t)c * HH;
                    double acc = 0;
                    for (size_t q = 0; q < HH; q++) acc += (double)g[q] * sc[q], dc[q] = g[q] * w1[c];
                    gw1[c] += (float)acc;
                }
            }
        }
        xt_silu_backward(dph, dph, m->ph, (size_t)B * NL * HH);
        xt_conv2d_dims e3 = dims(&m->head3[0], H);
        e3.OC = NL;
        xt_conv2d_backward(dup, dhw, dhb, col, m->upx, dph, m->hw, B, &e3);
        for (int h = 0; h < XT_XVIEW_MAPS; h++) {
            xt_add(xt_pg(P, m->head3[h].w), xt_pg(P, m->head3[h].w), dhw + h * hk, hk);
            xt_add(xt_pg(P, m->head3[h].b), xt_pg(P, m->head3[h].b), dhb + h * m->last, m->last);
        }
    }
    float *dx = d1; // gradient at the decoder's running x
    xt_upsample2x_nearest_backward(dx, dup, B, F0, H / 2, H / 2);
    for (int idx = 3; idx >= 0; idx--) {
        int k = 3 - idx, sk = 3 - idx, h2 = m->hs[idx], Fk = m->F[k], xc = idx ? m->F[k + 1] : lc[4];
        size_t p2 = (size_t)h2 * h2;
        xt_conv2d_dims e1 = dims(&m->stage[k], h2), e2 = dims(&m->bott[idx], h2);
        xt_silu_backward(d2, dx, m->pb[idx], (size_t)B * Fk * p2); // x = SiLU(pb)
        xt_conv2d_backward(t, xt_pg(P, m->bott[idx].w), xt_pg(P, m->bott[idx].b), col, m->cat[idx], d2,
                           xt_pw(P, m->bott[idx].w), B, &e2);
        for (int b = 0; b < B; b++) { // cat = [SiLU(pa), skip]
            const float *tb = t + (size_t)b * (Fk + lc[sk]) * p2;
            xt_silu_backward(d2 + (size_t)b * Fk * p2, tb, m->pa[idx] + (size_t)b * Fk * p2, (size_t)Fk * p2);
            memcpy(dlev[sk] + (size_t)b * lc[sk] * p2, tb + (size_t)Fk * p2, (size_t)lc[sk] * p2 * sizeof(float));
        }
        xt_conv2d_backward(dup, xt_pg(P, m->stage[k].w), xt_pg(P, m->stage[k].b), col, m->up[idx], d2,
                           xt_pw(P, m->stage[k].w), B, &e1);
        xt_upsample2x_nearest_backward(dx, dup, B, xc, h2 / 2, h2 / 2);
    }
    memcpy(dlev[4], dx, (size_t)R * lc[4] * side[4] * side[4] * sizeof(float));
    // context: lev4 = NCHW(out_proj(layers(input_proj(raw) + pos)) + raw)
    if (m->ctx) {
        const int D = m->D, C4 = lc[4], L4 = n * n * side[4] * side[4], T = B * L4;
        float *draw = xt_xmalloc((size_t)T * C4 * sizeof(float)), *dxf = xt_xmalloc((size_t)T * D * sizeof(float));
        float *tr = xt_xmalloc((size_t)T * C4 * sizeof(float));
        xt_nchw_to_nhwc(draw, dlev[4], B, C4, L4);
        xt_linear_backward(dxf, xt_pg(P, m->opw), xt_pg(P, m->opb), draw, m->xf, xt_pw(P, m->opw), T, D, C4);
        // layer activations live in lact; the layers' own scratch in scr, after the encoder's needs
        for (int i = m->nl - 1; i >= 0; i--) xt_llm_train_backward(&m->L[i], P, dxf, B, L4, D, m->FF, 1, m->NH, scr);
        xt_linear_backward(tr, xt_pg(P, m->ipw), xt_pg(P, m->ipb), dxf, m->raw, xt_pw(P, m->ipw), T, C4, D);
        xt_add(draw, draw, tr, (size_t)T * C4);
        xt_nhwc_to_nchw(dlev[4], draw, B, L4, C4);
        free(draw), free(dxf), free(tr);
    }
    if (n > 1)
        for (int k = 0; k < 5; k++) chips(dlevR[k], dlev[k], B, n, lc[k], side[k], 0);
    // level 0: ConvTranspose2d of the patch embedding (NCHW) -> gradient at the stem, NHWC
    xt_conv_transpose2x2_backward(t, xt_pg(P, m->upw), xt_pg(P, m->upb), m->stemc, dlevR[0], xt_pw(P, m->upw), R, C, C, g,
                                  g, col);
    xt_nchw_to_nhwc(dstem, t, R, C, g * g);
    const float *dout[4] = {dlevR[1], dlevR[2], dlevR[3], dlevR[4]};
    m->enc->dstem = dstem;
    int erc = m->enc->backward(m->enc, P, dout, n > 1 ? dreg : dimg, scr);
    m->enc->dstem = NULL;
    if (erc) goto done;
    if (n > 1 && dimg) chips(dimg, dreg, B, n, m->Cin, m->S, 1);
    rc = 0;
done:
    return rc;
}
