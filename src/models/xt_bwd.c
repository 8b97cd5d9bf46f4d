// xt_bwd.c — the xT classifier for training: nested tokenization, the trainable region encoder
// (Swin V2 swinv2_bwd.c, Hiera hiera_bwd.c or ConvNeXt convnext_bwd.c), stitching, and the naive /
// xl heads (attention "naive" = official bug-1 per-channel attention, "hyper" = exact causal
// softmax attention, "mamba" = Mamba blocks (mamba_bwd.c)), with a training forward that keeps
// activations and the backward down to the image.
//
// Whole-image semantics (ref: xt/models/decoders/decoder.py xT.forward):
//   N C (HP S) (WP S) -> (N HP WP) C S S -> encoder -> last stage stitched (N, C, HP h, WP w)
//   naive head: GAP -> Linear(C, rC) -> GELU -> LayerNorm -> Linear(rC, K)
//   xl head:    tokens (row-major) -> input_proj -> + 2-D sin-cos pos -> append cls at the end
//               -> layers -> LayerNorm + Linear on the last token
//   LLMLayer:   x += proj(attn(RMSNorm(x)));  x += down(GELU(gate(h)) * up(h)), h = RMSNorm(x)
// Gradient chipping (grad_ratio < 1): a random subset of regions (chosen by the caller) runs
// through the training encoder; the others run the same forward without keeping activations
// and get no gradient. Region order is kept (official bug 14 scrambles it).
#include <math.h>
#include <string.h>

#include "models/backbones.h"
#include "models/models.h"
#include "nn/nn.h"
#include "models/trainable.h"

typedef struct {
    int qkvw, qkvb, projw, projb, inw, postw, gw, uw, dw; // param ids (qkvb -1 when absent)
    float *xin, *rstd1, *h, *qkv, *p, *o, *x1, *rstd2, *h2, *g, *u, *mm;
} xlayer;

struct xt_xt_train {
    xt_swin_train *enc;                  // the region encoder: Swin V2, or
    xt_hiera_train *hen;                 // Hiera, or
    xt_convnext_train *cen;              // ConvNeXt (then enc is NULL)
    int crop, in_chans, ns, C, fh, K, head, attn, D, nl, F, NHh; // fh: last-stage side per region
    float smoothing;
    int l0w, l0b, l2w, l2b, l3w, l3b;                   // naive head
    int cls_tok, ipw, ipb, cnw, cnb, clw, clb;          // xl head
    xlayer *L;
    xt_mamba_train *mamba;
    // activations of the last forward
    int N, HP, WP, H, W, R, gh, gw, Lt, ng;
    float *regions, *feat[XT_MAX_STAGES];
    float *kimg, *kfeat[XT_MAX_STAGES]; // chipping: the kept regions as one batch and its outputs
    int *kidx;                          // their region indices, ascending
    xt_arena nog;                       // chipping: activations of one forward-only region
    float *pooled, *a0, *a1, *lnm, *lnr, *a2;           // naive head
    float *tok, *pe, *x0, *xf, *cls, *cm, *cr, *cln;    // xl head
};

// the region encoder, whichever it is (same interface shape: swinv2_bwd.c, hiera_bwd.c, convnext_bwd.c)
static int enc_stages(const xt_xt_train *m, int *C, int *H) {
    return m->cen   ? xt_convnext_train_stages(m->cen, C, H)
           : m->hen ? xt_hiera_train_stages(m->hen, C, H)
                    : xt_swin_train_stages(m->enc, C, H);
}
static size_t enc_act_bytes(const xt_xt_train *m, int B) {
    return m->cen   ? xt_convnext_train_act_bytes(m->cen, B)
           : m->hen ? xt_hiera_train_act_bytes(m->hen, B)
                    : xt_swin_train_act_bytes(m->enc, B);
}
static size_t enc_scratch_bytes(const xt_xt_train *m, int B) {
    return m->cen   ? xt_convnext_train_scratch_bytes(m->cen, B)
           : m->hen ? xt_hiera_train_scratch_bytes(m->hen, B)
                    : xt_swin_train_scratch_bytes(m->enc, B);
}
static int enc_forward(xt_xt_train *m, const xt_params *P, const float *img, int B, float *const *out, xt_arena *act,
                       const xt_tap *tap, const char *prefix) {
    return m->cen   ? xt_convnext_train_forward(m->cen, P, img, B, out, act, tap, prefix)
           : m->hen ? xt_hiera_train_forward(m->hen, P, img, B, out, act, tap, prefix)
                    : xt_swin_train_forward(m->enc, P, img, B, out, act, tap, prefix);
}
static int enc_backward(xt_xt_train *m, xt_params *P, const float *const *dout, float *dimg, xt_arena *scr) {
    return m->cen   ? xt_convnext_train_backward(m->cen, P, dout, dimg, scr)
           : m->hen ? xt_hiera_train_backward(m->hen, P, dout, dimg, scr)
                    : xt_swin_train_backward(m->enc, P, dout, dimg, scr);
}

// ---------------------------------------------------------------------------------------------
// build

static int reg(xt_params *P, const char *name, int nd, int64_t a, int64_t b, int64_t c) {
    int64_t sh[3] = {a, b, c};
    return xt_params_add(P, name, nd, sh);
}

void xt_xt_train_free(xt_xt_train *m) {
    if (!m) return;
    xt_swin_train_free(m->enc);
    xt_hiera_train_free(m->hen);
    xt_convnext_train_free(m->cen);
    xt_mamba_train_free(m->mamba);
    free(m->L);
    free(m);
}

xt_xt_train *xt_xt_train_new(xt_params *P, const xt_json *cfg, const xt_st *st) {
    xt_xt_train *m = xt_xcalloc(1, sizeof *m);
    const char *head = xt_json_str(cfg, "cls_head", "naive");
    const xt_json *cx = xt_json_get(cfg, "context"), *lc = xt_json_get(cfg, "loss"), *sw = xt_json_get(cfg, "swin");
    const xt_json *hc = sw ? NULL : xt_json_get(cfg, "hiera"), *cc = sw || hc ? NULL : xt_json_get(cfg, "convnext");
    xt_json *bb = NULL; // a "backbone" object (docs/backbones.md) with its preset expanded
    if (!sw && !hc && !cc && xt_json_get(cfg, "backbone")) {
        if (!(bb = xt_backbone_resolve(xt_json_get(cfg, "backbone")))) { xt_error_prefix("xt train: backbone"); goto fail; }
        const char *arch = xt_json_str(bb, "arch", "");
        if (arch && !strcmp(arch, "hiera")) hc = bb;
        else if (arch && !strcmp(arch, "swinv2")) sw = bb;
        else if (arch && !strcmp(arch, "convnext")) cc = bb;
        else { xt_error("xt train", "config: backbone arch '%s': training supports swinv2, hiera and convnext", arch ? arch : "?"); goto fail; }
    }
    const char *am = cx ? xt_json_str(cx, "attention_method", "naive") : "naive";
    int ratio = 4, icp = -1;
    double sm = 0.3;
    if (xt_json_int(cfg, "crop_size", 256, &m->crop) || xt_json_int(cfg, "num_classes", 0, &m->K) ||
        xt_json_int(cfg, "mlp_ratio", 4, &ratio) || (lc && xt_json_num(lc, "smoothing", 0.3, &sm)) ||
        (cx && (xt_json_int(cx, "hidden_size", 768, &m->D) || xt_json_int(cx, "n_layer", 2, &m->nl) ||
                xt_json_int(cx, "in_context_patches", -1, &icp)))) {
        xt_error_prefix("xt train: config");
        goto fail;
    }
    m->smoothing = (float)sm;
    if (!sw && !hc && !cc) { xt_error("xt train", "config: training needs a \"swin\", \"hiera\", \"convnext\" or \"backbone\" region encoder"); goto fail; }
    if (!head || (strcmp(head, "naive") && strcmp(head, "xl"))) { xt_error("xt train", "config: cls_head '%s'", head ? head : "?"); goto fail; }
    if (!am || (strcmp(am, "naive") && strcmp(am, "hyper") && strcmp(am, "mamba"))) { xt_error("xt train", "config: attention_method '%s'", am ? am : "?"); goto fail; }
    if (m->K < 1 || m->K > 100000 || ratio < 1 || ratio > 16 || m->crop < 32 || m->crop > 8192 || !(sm >= 0 && sm < 1)) {
        xt_error("xt train", "config: num_classes %d, mlp_ratio %d, crop_size %d, smoothing %g out of range", m->K, ratio, m->crop, sm);
        goto fail;
    }
    m->head = !strcmp(head, "xl");
    m->attn = !strcmp(am, "hyper") ? 1 : !strcmp(am, "mamba") ? 2 : 0;
    if (m->head && icp > 0) { xt_error("xt train", "config: in_context_patches > 0 is not supported in training"); goto fail; }
    if (m->head && (m->D < 4 || m->D % 4 || m->D > 8192 || m->nl < 0 || m->nl > 256)) {
        xt_error("xt train", "config: hidden_size %d / n_layer %d out of range", m->D, m->nl);
        goto fail;
    }
    if (m->head && m->attn == 1 && m->D < 128) { xt_error("xt train", "config: hyper attention needs hidden_size >= 128 (official heads = D / 128)"); goto fail; }
    char nm[160];
    // decoder first: the official named_parameters() order
    int Cl = 0;
    if (cc) { // the encoder's last-stage width (the same reader as xt_convnext_train_new below)
        xt_convnext_geom cg;
        if (xt_convnext_geom_new(&cg, cc, m->crop)) { xt_error_prefix("xt train: convnext"); goto fail; }
        Cl = cg.dims[cg.n_stages - 1];
    } else if (hc) { // the encoder's last-stage width (the same geometry reader as xt_hiera_train_new below)
        xt_hiera_geom hg;
        if (xt_hiera_geom_new(&hg, hc, m->crop)) { xt_error_prefix("xt train: hiera"); goto fail; }
        Cl = hg.stage_c[hg.n_stages - 1];
        xt_hiera_geom_free(&hg);
    } else {
        // the encoder's last-stage width (the swin config is read again, with the same reader, by
        // xt_swin_train_new below)
        xt_swin_cfg sc;
        if (xt_swin_cfg_parse(sw, m->crop, &sc)) { xt_error_prefix("xt train: swin"); goto fail; }
        Cl = sc.st[sc.n_stages - 1].C;
    }
    m->C = Cl;
    if (!m->head) {
        int I = Cl * ratio;
        m->l0w = reg(P, "decoder.layers.0.weight", 2, I, Cl, 0);
        m->l0b = reg(P, "decoder.layers.0.bias", 1, I, 0, 0);
        m->l2w = reg(P, "decoder.layers.2.weight", 1, I, 0, 0);
        m->l2b = reg(P, "decoder.layers.2.bias", 1, I, 0, 0);
        m->l3w = reg(P, "decoder.layers.3.weight", 2, m->K, I, 0);
        m->l3b = reg(P, "decoder.layers.3.bias", 1, m->K, 0, 0);
        m->F = I;
    } else {
        int D = m->D;
        m->F = D * ratio;
        m->NHh = D / 128 > 0 ? D / 128 : 1;
        m->cls_tok = reg(P, "decoder.cls_token", 3, 1, 1, D);
        m->ipw = reg(P, "decoder.input_proj.weight", 2, D, Cl, 0);
        m->ipb = reg(P, "decoder.input_proj.bias", 1, D, 0, 0);
        if (m->attn == 2) {
            if (!(m->mamba = xt_mamba_train_new(P, "decoder.layers.", D, m->nl))) goto fail;
        } else {
            m->L = xt_xcalloc(m->nl ? m->nl : 1, sizeof(xlayer));
            for (int i = 0; i < m->nl; i++) {
                xlayer *l = &m->L[i];
#define R(f, name, nd, a, b)                                                                       \
    snprintf(nm, sizeof nm, "decoder.layers.%d." name, i);                                         \
    l->f = reg(P, nm, nd, a, b, 0)
                R(qkvw, "attn.qkv.weight", 2, 3 * D, D);
                // official bug 2: qkv_bias = dim // 128 (present for D >= 128); follow the file
                snprintf(nm, sizeof nm, "decoder.layers.%d.attn.qkv.bias", i);
                l->qkvb = (!st || xt_st_find(st, nm)) && D >= 128 ? reg(P, nm, 1, 3 * D, 0, 0) : -1;
                R(projw, "attn.proj.weight", 2, D, D);
                R(projb, "attn.proj.bias", 1, D, 0);
                R(inw, "input_layernorm.weight", 1, D, 0);
                R(postw, "post_attention_layernorm.weight", 1, D, 0);
                R(gw, "mlp.gate_proj.weight", 2, m->F, D);
                R(uw, "mlp.up_proj.weight", 2, m->F, D);
                R(dw, "mlp.down_proj.weight", 2, D, m->F);
#undef R
            }
        }
        m->cnw = reg(P, "decoder.cls.0.weight", 1, D, 0, 0);
        m->cnb = reg(P, "decoder.cls.0.bias", 1, D, 0, 0);
        m->clw = reg(P, "decoder.cls.1.weight", 2, m->K, D, 0);
        m->clb = reg(P, "decoder.cls.1.bias", 1, m->K, 0, 0);
    }
    if (cc   ? !(m->cen = xt_convnext_train_new(P, cc, "encoder.model.", m->crop))
        : hc ? !(m->hen = xt_hiera_train_new(P, hc, "encoder.model.", m->crop))
             : !(m->enc = xt_swin_train_new(P, sw, "encoder.model.", m->crop)))
        goto fail;
    int Cs[XT_MAX_STAGES], Hs[XT_MAX_STAGES];
    m->ns = enc_stages(m, Cs, Hs);
    m->fh = Hs[m->ns - 1];
    m->in_chans = m->cen ? xt_convnext_train_in_chans(m->cen)
                         : (int)P->p[xt_params_find(P, "encoder.model.patch_embed.proj.weight")].shape[1];
    xt_json_free(bb);
    return m;
fail:
    xt_json_free(bb);
    xt_xt_train_free(m);
    return NULL;
}

int xt_xt_train_num_classes(const xt_xt_train *m) { return m->K; }
int xt_xt_train_crop(const xt_xt_train *m) { return m->crop; }
float xt_xt_train_smoothing(const xt_xt_train *m) { return m->smoothing; }
int xt_xt_train_in_chans(const xt_xt_train *m) { return m->in_chans; }

// ---------------------------------------------------------------------------------------------
// activation plan (measure pass = same code on a measuring arena)

static void plan_head(xt_xt_train *m, int N, int ng, xt_arena *a) {
    int Cs[XT_MAX_STAGES], Hs[XT_MAX_STAGES];
    enc_stages(m, Cs, Hs);
    size_t R = (size_t)m->R, rsz = (size_t)m->in_chans * m->crop * m->crop;
    m->regions = xt_arena_f32(a, R * rsz);
    for (int s = 0; s < m->ns; s++) m->feat[s] = xt_arena_f32(a, R * Cs[s] * Hs[s] * Hs[s]);
    m->ng = ng;
    if (ng < m->R) {
        m->kidx = xt_arena_bytes(a, R * sizeof(int));
        m->kimg = xt_arena_f32(a, (size_t)ng * rsz);
        for (int s = 0; s < m->ns; s++) m->kfeat[s] = xt_arena_f32(a, (size_t)ng * Cs[s] * Hs[s] * Hs[s]);
        size_t nb = enc_act_bytes(m, 1);
        memset(&m->nog, 0, sizeof m->nog);
        m->nog.base = xt_arena_bytes(a, nb);
        m->nog.size = nb;
    }
    if (!m->head) {
        m->pooled = xt_arena_f32(a, (size_t)N * m->C);
        m->a0 = xt_arena_f32(a, (size_t)N * m->F);
        m->a1 = xt_arena_f32(a, (size_t)N * m->F);
        m->lnm = xt_arena_f32(a, N);
        m->lnr = xt_arena_f32(a, N);
        m->a2 = xt_arena_f32(a, (size_t)N * m->F);
        return;
    }
    size_t L = (size_t)m->gh * m->gw, Lt = L + 1, D = m->D, T = N * Lt, F = m->F;
    m->tok = xt_arena_f32(a, N * L * m->C);
    m->pe = xt_arena_f32(a, L * D);
    m->x0 = xt_arena_f32(a, T * D);
    for (int i = 0; m->attn != 2 && i < m->nl; i++) {
        xlayer *l = &m->L[i];
        l->xin = xt_arena_f32(a, T * D);
        l->rstd1 = xt_arena_f32(a, T);
        l->h = xt_arena_f32(a, T * D);
        l->qkv = xt_arena_f32(a, T * 3 * D);
        l->p = xt_arena_f32(a, (size_t)N * (m->attn == 0 ? D : (size_t)m->NHh) * Lt * Lt);
        l->o = xt_arena_f32(a, T * D);
        l->x1 = xt_arena_f32(a, T * D);
        l->rstd2 = xt_arena_f32(a, T);
        l->h2 = xt_arena_f32(a, T * D);
        l->g = xt_arena_f32(a, T * F);
        l->u = xt_arena_f32(a, T * F);
        l->mm = xt_arena_f32(a, T * F);
    }
    if (m->attn == 2) xt_mamba_train_plan(m->mamba, N, (int)Lt, a);
    m->xf = xt_arena_f32(a, T * D);
    m->cls = xt_arena_f32(a, N * D);
    m->cm = xt_arena_f32(a, N);
    m->cr = xt_arena_f32(a, N);
    m->cln = xt_arena_f32(a, N * D);
}

static int geometry(xt_xt_train *m, int N, int H, int W) {
    if (N < 1 || H < 1 || W < 1 || H > 1 << 20 || W > 1 << 20)
        return xt_error("xt train", "image batch (%d, %d, %d) out of range", N, H, W);
    m->N = N, m->H = H, m->W = W;
    m->HP = (H + m->crop - 1) / m->crop, m->WP = (W + m->crop - 1) / m->crop;
    m->R = N * m->HP * m->WP;
    m->gh = m->HP * m->fh, m->gw = m->WP * m->fh;
    m->Lt = m->gh * m->gw + 1;
    return 0;
}

size_t xt_xt_train_act_bytes(xt_xt_train *m, int N, int H, int W, int n_grad) {
    if (geometry(m, N, H, W)) return 0;
    xt_arena a;
    xt_arena_init(&a, 0);
    int ng = n_grad > 0 && n_grad < m->R ? n_grad : m->R;
    plan_head(m, N, ng, &a);
    return a.high + 64 + enc_act_bytes(m, ng);
}

// ---------------------------------------------------------------------------------------------
// forward

static void crop(float *dst, const float *img, int C, int H, int W, int S, int y0, int x0) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < S; y++) {
            float *d = dst + ((size_t)c * S + y) * S;
            int nx = W - x0 < S ? W - x0 : S;
            if (y0 + y >= H || nx <= 0) { memset(d, 0, S * sizeof(float)); continue; }
            memcpy(d, img + ((size_t)c * H + y0 + y) * W + x0, nx * sizeof(float));
            if (nx < S) memset(d + nx, 0, (S - nx) * sizeof(float));
        }
}

static void uncrop_add(float *dimg, const float *d, int C, int H, int W, int S, int y0, int x0) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < S && y0 + y < H; y++)
            for (int x = 0; x < S && x0 + x < W; x++)
                dimg[((size_t)c * H + y0 + y) * W + x0 + x] += d[((size_t)c * S + y) * S + x];
}

// region feature (C, h, w) of region (n, rr, rc) <-> stitched map / tokens (n, y, x)
static inline size_t feat_at(const xt_xt_train *m, int n, int c, int y, int x) {
    int rr = y / m->fh, rc = x / m->fh, r = (n * m->HP + rr) * m->WP + rc;
    return (((size_t)r * m->C + c) * m->fh + y % m->fh) * m->fh + x % m->fh;
}

int xt_xt_train_forward(xt_xt_train *m, const xt_params *P, const float *img, int N, int H, int W,
                        const unsigned char *keep, float *logits, xt_arena *act, const xt_tap *tap) {
    if (geometry(m, N, H, W)) return -1;
    int ng = 0;
    for (int r = 0; r < m->R; r++) ng += keep ? keep[r] != 0 : 1;
    if (ng < 1) return xt_error("xt train", "no region keeps gradients");
    if (m->head && m->attn == 1 && m->Lt > 4096) // official min_seq_len: longer runs the LSH path
        return xt_error("xt train", "%d tokens: HyperAttention's LSH path (> 4096 tokens) has no backward", m->Lt);
    size_t need = xt_xt_train_act_bytes(m, N, H, W, ng);
    if (act->measure || act->size - act->used < need)
        return xt_error("xt train", "activation arena too small (%zu bytes free, need %zu)", act->size - act->used, need);
    plan_head(m, N, ng, act);
    int S = m->crop, C0 = m->in_chans, Cs[XT_MAX_STAGES], Hs[XT_MAX_STAGES];
    enc_stages(m, Cs, Hs);
    size_t rsz = (size_t)C0 * S * S;
    for (int n = 0; n < N; n++)
        for (int r = 0; r < m->HP * m->WP; r++)
            crop(m->regions + ((size_t)n * m->HP * m->WP + r) * rsz, img + (size_t)n * C0 * H * W, C0, H, W, S,
                 (r / m->WP) * S, (r % m->WP) * S);
    // encoder: all regions in one batch, or (chipping) the kept ones with activations and the
    // rest forward-only, one at a time, each written back at its own position
    if (ng == m->R) {
        if (enc_forward(m, P, m->regions, m->R, m->feat, act, tap, "encoder.model.")) return -1;
    } else {
        // forward-only regions first (their activations are dropped region by region), then the
        // kept ones as one batch, whose activations stay for backward; order is preserved
        for (int r = 0, j = 0; r < m->R; r++) {
            if (keep[r]) { m->kidx[j++] = r; continue; }
            float *o[XT_MAX_STAGES];
            for (int s = 0; s < m->ns; s++) o[s] = m->feat[s] + (size_t)r * Cs[s] * Hs[s] * Hs[s];
            xt_arena_reset(&m->nog);
            if (enc_forward(m, P, m->regions + r * rsz, 1, o, &m->nog, NULL, NULL)) return -1;
        }
        for (int j = 0; j < ng; j++) memcpy(m->kimg + j * rsz, m->regions + m->kidx[j] * rsz, rsz * sizeof(float));
        if (enc_forward(m, P, m->kimg, ng, m->kfeat, act, NULL, NULL)) return -1;
        for (int s = 0; s < m->ns; s++) {
            size_t fs = (size_t)Cs[s] * Hs[s] * Hs[s];
            for (int j = 0; j < ng; j++) memcpy(m->feat[s] + m->kidx[j] * fs, m->kfeat[s] + j * fs, fs * sizeof(float));
        }
    }
    for (int s = 0; s < m->ns; s++) {
        int64_t es[4] = {m->R, Cs[s], Hs[s], Hs[s]};
        xt_tap_emitf(tap, m->feat[s], 4, es, "encoder.%d", s);
    }
    int C = m->C, D = m->D, K = m->K;
    const float *fl = m->feat[m->ns - 1];
    if (xt_tap_on(tap)) {
        float *stt = xt_xmalloc((size_t)N * C * m->gh * m->gw * sizeof(float));
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < m->gh; y++)
                    for (int x = 0; x < m->gw; x++)
                        stt[(((size_t)n * C + c) * m->gh + y) * m->gw + x] = fl[feat_at(m, n, c, y, x)];
        int64_t ss[4] = {N, C, m->gh, m->gw};
        xt_tap_emitf(tap, stt, 4, ss, "stitched.%d", m->ns - 1);
        free(stt);
    }
    if (!m->head) { // ref: decoder.py LLMClassificationDecoder naive path (GAP + MLP)
        int I = m->F, Lg = m->gh * m->gw;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int y = 0; y < m->gh; y++)
                    for (int x = 0; x < m->gw; x++) s += fl[feat_at(m, n, c, y, x)];
                m->pooled[(size_t)n * C + c] = (float)(s / Lg);
            }
        xt_linear_forward(m->a0, m->pooled, xt_pw(P, m->l0w), xt_pw(P, m->l0b), N, C, I);
        xt_gelu_forward(m->a1, m->a0, (size_t)N * I);
        xt_layernorm_forward(m->a2, m->lnm, m->lnr, m->a1, xt_pw(P, m->l2w), xt_pw(P, m->l2b), N, I, 1e-5f);
        xt_linear_forward(logits, m->a2, xt_pw(P, m->l3w), xt_pw(P, m->l3b), N, I, K);
        if (xt_tap_on(tap)) {
            xt_tap_emit(tap, "decoder.pooled", m->pooled, 2, (int64_t)N, (int64_t)C);
            xt_tap_emit(tap, "decoder.layers.0", m->a0, 2, (int64_t)N, (int64_t)I);
            xt_tap_emit(tap, "decoder.layers.1", m->a1, 2, (int64_t)N, (int64_t)I);
            xt_tap_emit(tap, "decoder.layers.2", m->a2, 2, (int64_t)N, (int64_t)I);
            xt_tap_emit(tap, "decoder.layers.3", logits, 2, (int64_t)N, (int64_t)K);
        }
        xt_tap_emit(tap, "logits", logits, 2, (int64_t)N, (int64_t)K);
        return 0;
    }
    // xl head. ref: decoder.py LLMClassificationDecoder (tokens, input_proj, pos, cls at the end)
    int L = m->gh * m->gw, Lt = L + 1, T = N * Lt, F = m->F;
    for (int n = 0; n < N; n++)
        for (int y = 0; y < m->gh; y++)
            for (int x = 0; x < m->gw; x++)
                for (int c = 0; c < C; c++) m->tok[((size_t)n * L + y * m->gw + x) * C + c] = fl[feat_at(m, n, c, y, x)];
    xt_sincos_pos_embed_2d(m->pe, D, m->gh, m->gw);
    xt_tap_emit(tap, "pos_embed", m->pe, 2, (int64_t)L, (int64_t)D);
    for (int n = 0; n < N; n++) {
        float *x = m->x0 + (size_t)n * Lt * D;
        xt_linear_forward(x, m->tok + (size_t)n * L * C, xt_pw(P, m->ipw), xt_pw(P, m->ipb), L, C, D);
        for (size_t i = 0; i < (size_t)L * D; i++) x[i] += m->pe[i];
        memcpy(x + (size_t)L * D, xt_pw(P, m->cls_tok), D * sizeof(float));
    }
    xt_tap_emit(tap, "decoder.layers.0.in", m->x0, 3, (int64_t)N, (int64_t)Lt, (int64_t)D);
    memcpy(m->xf, m->x0, (size_t)T * D * sizeof(float));
    char nm[96];
    if (m->attn == 2) {
        if (xt_mamba_train_forward(m->mamba, P, m->xf, N, Lt, tap)) return -1;
    } else
        for (int i = 0; i < m->nl; i++) { // ref: LLMLayer.forward
            xlayer *l = &m->L[i];
            memcpy(l->xin, m->xf, (size_t)T * D * sizeof(float));
            xt_rmsnorm_forward(l->h, l->rstd1, l->xin, xt_pw(P, l->inw), T, D, 1e-5f);
            xt_linear_forward(l->qkv, l->h, xt_pw(P, l->qkvw), l->qkvb >= 0 ? xt_pw(P, l->qkvb) : NULL, T, D, 3 * D);
            for (int n = 0; n < N; n++) {
                const float *q = l->qkv + (size_t)n * Lt * 3 * D;
                if (m->attn == 0)
                    xt_channel_attention_forward(l->o + (size_t)n * Lt * D, D, l->p + (size_t)n * D * Lt * Lt, q, q + D,
                                                 q + 2 * D, 3 * D, Lt, D, NULL);
                else {
                    int hs = D / m->NHh;
                    for (int h = 0; h < m->NHh; h++)
                        xt_attention_forward(l->o + (size_t)n * Lt * D + h * hs, D,
                                             l->p + ((size_t)n * m->NHh + h) * Lt * Lt, q + h * hs, 3 * D,
                                             q + D + h * hs, 3 * D, q + 2 * D + h * hs, 3 * D, Lt, hs,
                                             1.0f / sqrtf((float)hs), 1, NULL);
                }
            }
            xt_linear_forward(l->x1, l->o, xt_pw(P, l->projw), xt_pw(P, l->projb), T, D, D); // attn output
            snprintf(nm, sizeof nm, "decoder.layers.%d.attn", i);
            xt_tap_emit(tap, nm, l->x1, 3, (int64_t)N, (int64_t)Lt, (int64_t)D);
            for (size_t j = 0; j < (size_t)T * D; j++) l->x1[j] += l->xin[j];
            xt_rmsnorm_forward(l->h2, l->rstd2, l->x1, xt_pw(P, l->postw), T, D, 1e-5f);
            xt_gated_mlp_forward(m->xf, l->g, l->u, l->mm, l->h2, xt_pw(P, l->gw), xt_pw(P, l->uw), xt_pw(P, l->dw), T, D, F);
            for (size_t j = 0; j < (size_t)T * D; j++) m->xf[j] += l->x1[j];
            snprintf(nm, sizeof nm, "decoder.layers.%d", i);
            xt_tap_emit(tap, nm, m->xf, 3, (int64_t)N, (int64_t)Lt, (int64_t)D);
        }
    for (int n = 0; n < N; n++) memcpy(m->cls + (size_t)n * D, m->xf + ((size_t)n * Lt + L) * D, D * sizeof(float));
    xt_layernorm_forward(m->cln, m->cm, m->cr, m->cls, xt_pw(P, m->cnw), xt_pw(P, m->cnb), N, D, 1e-5f);
    xt_tap_emit(tap, "decoder.cls.norm", m->cln, 2, (int64_t)N, (int64_t)D);
    xt_linear_forward(logits, m->cln, xt_pw(P, m->clw), xt_pw(P, m->clb), N, D, K);
    xt_tap_emit(tap, "logits", logits, 2, (int64_t)N, (int64_t)K);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// backward

size_t xt_xt_train_scratch_bytes(xt_xt_train *m, int N, int H, int W, int n_grad) {
    if (geometry(m, N, H, W)) return 0;
    size_t R = (size_t)m->R, T = (size_t)N * m->Lt, D = m->D > 0 ? m->D : 1;
    size_t L = (size_t)m->gh * m->gw;
    size_t head = 4 * T * D + 2 * T * (size_t)m->F + T * 3 * D + (size_t)N * D + L * m->C + 64 * 16;
    if (!m->head) head = (size_t)N * (4 * m->F + 2 * m->C) + 64 * 8;
    size_t mam = m->mamba ? xt_mamba_train_scratch_floats(m->mamba, N, m->Lt) : 0;
    size_t fl = R * m->C * m->fh * m->fh, reg = R * m->in_chans * m->crop * m->crop;
    int ng = n_grad > 0 && n_grad < m->R ? n_grad : m->R;
    return (head + mam + 2 * fl + reg) * sizeof(float) + 64 * 8 + enc_scratch_bytes(m, ng);
}

int xt_xt_train_backward(xt_xt_train *m, xt_params *P, const float *dlogits, float *dimg, xt_arena *scr) {
    int N = m->N, C = m->C, D = m->D, K = m->K, F = m->F, Cs[XT_MAX_STAGES], Hs[XT_MAX_STAGES];
    enc_stages(m, Cs, Hs);
    size_t need = xt_xt_train_scratch_bytes(m, N, m->H, m->W, m->ng);
    if (scr->measure || scr->size - scr->used < need)
        return xt_error("xt train", "backward scratch too small (%zu bytes free, need %zu)", scr->size - scr->used, need);
    size_t mark = xt_arena_mark(scr);
    float *dfl = xt_arena_f32(scr, (size_t)m->R * C * m->fh * m->fh);
    if (!m->head) {
        int I = F, Lg = m->gh * m->gw;
        float *d2 = xt_arena_f32(scr, (size_t)N * I), *d1 = xt_arena_f32(scr, (size_t)N * I);
        float *dp = xt_arena_f32(scr, (size_t)N * C);
        xt_linear_backward(d2, xt_pg(P, m->l3w), xt_pg(P, m->l3b), dlogits, m->a2, xt_pw(P, m->l3w), N, I, K);
        xt_layernorm_backward(d1, xt_pg(P, m->l2w), xt_pg(P, m->l2b), d2, m->a1, xt_pw(P, m->l2w), m->lnm, m->lnr, N, I);
        xt_gelu_backward(d1, d1, m->a0, (size_t)N * I);
        xt_linear_backward(dp, xt_pg(P, m->l0w), xt_pg(P, m->l0b), d1, m->pooled, xt_pw(P, m->l0w), N, C, I);
        for (int n = 0; n < N; n++) // pooled = mean over the stitched map
            for (int c = 0; c < C; c++)
                for (int y = 0; y < m->gh; y++)
                    for (int x = 0; x < m->gw; x++) dfl[feat_at(m, n, c, y, x)] = dp[(size_t)n * C + c] / Lg;
    } else {
        int L = m->gh * m->gw, Lt = L + 1, T = N * Lt;
        float *dx = xt_arena_f32(scr, (size_t)T * D), *t1 = xt_arena_f32(scr, (size_t)T * D);
        float *t2 = xt_arena_f32(scr, (size_t)T * D), *t3 = xt_arena_f32(scr, (size_t)T * D);
        float *dq = xt_arena_f32(scr, (size_t)T * 3 * D), *gs = xt_arena_f32(scr, 2 * (size_t)T * F);
        float *dcl = xt_arena_f32(scr, (size_t)N * D), *dtok = xt_arena_f32(scr, (size_t)L * C);
        // logits = cls.1(cls.0(x[:, -1]))
        xt_linear_backward(dcl, xt_pg(P, m->clw), xt_pg(P, m->clb), dlogits, m->cln, xt_pw(P, m->clw), N, D, K);
        memset(dx, 0, (size_t)T * D * sizeof(float));
        for (int n = 0; n < N; n++)
            xt_layernorm_backward(dx + ((size_t)n * Lt + L) * D, xt_pg(P, m->cnw), xt_pg(P, m->cnb), dcl + (size_t)n * D,
                                  m->cls + (size_t)n * D, xt_pw(P, m->cnw), m->cm + n, m->cr + n, 1, D);
        if (m->attn == 2) {
            float *ms = xt_arena_f32(scr, xt_mamba_train_scratch_floats(m->mamba, N, Lt));
            xt_mamba_train_backward(m->mamba, P, dx, N, Lt, ms);
        } else
            for (int i = m->nl - 1; i >= 0; i--) {
                xlayer *l = &m->L[i];
                // xf = x1 + mlp(RMSNorm2(x1))
                xt_gated_mlp_backward(t1, xt_pg(P, l->gw), xt_pg(P, l->uw), xt_pg(P, l->dw), dx, l->h2, l->g, l->u, l->mm,
                                      xt_pw(P, l->gw), xt_pw(P, l->uw), xt_pw(P, l->dw), T, D, F, gs);
                xt_rmsnorm_backward(t2, xt_pg(P, l->postw), t1, l->x1, xt_pw(P, l->postw), l->rstd2, T, D);
                for (size_t j = 0; j < (size_t)T * D; j++) dx[j] += t2[j];
                // x1 = xin + proj(attn(qkv(RMSNorm1(xin))))
                xt_linear_backward(t1, xt_pg(P, l->projw), xt_pg(P, l->projb), dx, l->o, xt_pw(P, l->projw), T, D, D);
                for (int n = 0; n < N; n++) {
                    const float *q = l->qkv + (size_t)n * Lt * 3 * D;
                    float *dqn = dq + (size_t)n * Lt * 3 * D, *don = t1 + (size_t)n * Lt * D;
                    if (m->attn == 0)
                        xt_channel_attention_backward(dqn, don, l->p + (size_t)n * D * Lt * Lt, q, Lt, D);
                    else {
                        int hs = D / m->NHh;
                        for (int h = 0; h < m->NHh; h++)
                            xt_attention_backward(dqn + h * hs, dqn + D + h * hs, dqn + 2 * D + h * hs, 3 * D, gs,
                                                  don + h * hs, D, l->p + ((size_t)n * m->NHh + h) * Lt * Lt, q + h * hs,
                                                  q + D + h * hs, q + 2 * D + h * hs, 3 * D, Lt, hs, 1.0f / sqrtf((float)hs));
                    }
                }
                xt_linear_backward(t3, xt_pg(P, l->qkvw), l->qkvb >= 0 ? xt_pg(P, l->qkvb) : NULL, dq, l->h,
                                   xt_pw(P, l->qkvw), T, D, 3 * D);
                xt_rmsnorm_backward(t2, xt_pg(P, l->inw), t3, l->xin, xt_pw(P, l->inw), l->rstd1, T, D);
                for (size_t j = 0; j < (size_t)T * D; j++) dx[j] += t2[j];
            }
        // x0 = [input_proj(tok) + pe, cls_token]
        float *dct = xt_pg(P, m->cls_tok);
        for (int n = 0; n < N; n++) {
            const float *d = dx + (size_t)n * Lt * D;
            for (int j = 0; j < D; j++) dct[j] += d[(size_t)L * D + j];
            xt_linear_backward(dtok, xt_pg(P, m->ipw), xt_pg(P, m->ipb), d, m->tok + (size_t)n * L * C, xt_pw(P, m->ipw), L, C, D);
            for (int y = 0; y < m->gh; y++)
                for (int x = 0; x < m->gw; x++)
                    for (int c = 0; c < C; c++) dfl[feat_at(m, n, c, y, x)] = dtok[((size_t)y * m->gw + x) * C + c];
        }
    }
    // encoder: only the kept regions (chipping) get gradients
    const float *dst[XT_MAX_STAGES] = {0};
    size_t fs = (size_t)C * m->fh * m->fh, rsz = (size_t)m->in_chans * m->crop * m->crop;
    dst[m->ns - 1] = dfl;
    if (m->ng < m->R) {
        float *k = xt_arena_f32(scr, (size_t)m->ng * fs);
        for (int j = 0; j < m->ng; j++) memcpy(k + j * fs, dfl + m->kidx[j] * fs, fs * sizeof(float));
        dst[m->ns - 1] = k;
    }
    float *dreg = dimg ? xt_arena_f32(scr, (size_t)m->ng * rsz) : NULL;
    if (enc_backward(m, P, dst, dreg, scr)) return -1;
    if (dimg) {
        int S = m->crop, C0 = m->in_chans, per = m->HP * m->WP;
        memset(dimg, 0, (size_t)N * C0 * m->H * m->W * sizeof(float));
        for (int j = 0; j < m->ng; j++) {
            int r = m->ng < m->R ? m->kidx[j] : j, n = r / per, q = r % per;
            uncrop_add(dimg + (size_t)n * C0 * m->H * m->W, dreg + j * rsz, C0, m->H, m->W, S, (q / m->WP) * S,
                       (q % m->WP) * S);
        }
    }
    xt_arena_release(scr, mark);
    return 0;
}
