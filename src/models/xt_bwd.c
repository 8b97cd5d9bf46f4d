// xt_bwd.c — the xT classifier for training: nested tokenization, the trainable region encoder
// (xt_encoder_train: Swin V2, Hiera or ConvNeXt), stitching, and the naive /
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

#include "models/models.h"
#include "nn/nn.h"
#include "models/trainable.h"

typedef xt_llm_train_layer xlayer; // llm_bwd.c

// the geometry of a batch: N images (H, W) cut into HP x WP regions each (R in all), whose
// last-stage maps stitch into a gh x gw token grid per image (Lt tokens with the cls token)
typedef struct {
    int N, H, W, HP, WP, R, gh, gw, Lt;
} bgeom;

struct xt_xt_train {
    xt_encoder_train *enc;               // the region encoder (Swin V2, Hiera or ConvNeXt)
    int crop, in_chans, ns, C, fh, K, head, attn, D, nl, F, NHh; // fh: last-stage side per region
    float smoothing;
    int enc_frozen;                      // backward stops before the region encoder (train freeze_epochs)
    int l0w, l0b, l2w, l2b, l3w, l3b;                   // naive head
    int cls_tok, ipw, ipb, cnw, cnb, clw, clb;          // xl head
    xlayer *L;
    xt_hyper *hy;                        // attn 1: HyperAttention per layer (proj_dir drawn at build)
    xt_hyper_rand rand0, rand;           // attn 1: the draws every forward starts from; the forward's
    xt_mamba_train *mamba;
    // activations of the last forward
    bgeom b;
    int ng;
    float *regions, *feat[XT_MAX_STAGES];
    float *kimg, *kfeat[XT_MAX_STAGES]; // chipping: the kept regions as one batch and its outputs
    int *kidx;                          // their region indices, ascending
    xt_arena nog;                       // chipping: activations of one forward-only region
    float *pooled, *a0, *a1, *lnm, *lnr, *a2;           // naive head
    float *tok, *pe, *x0, *xf, *cls, *cm, *cr, *cln;    // xl head
    // windowed context (in_context_patches = P > 0, P < L + 1): one layer stack per window
    int P, memfix;                       // config; memfix: the recurrent memory (variant)
    int nw, Lw;                          // windows of the last forward; their longest layer input
    int *wgeo;                           // per window: start, end, base rows, layer-input rows
    xlayer *WL;                          // (nw, nl) layers, each over its window's rows
    float *wx, *wmem;                    // a window's rows (N, Lw, D); memfix memory (nl, N, Lw, D)
    int mem_mode;                        // tests: 1 record every window's memory rows, 2 replay them
    float *mem_rec;                      //   (nw, nl, N, Lw, D), xt_xt_train_memory_replay
};

// ---------------------------------------------------------------------------------------------
// build

static int reg(xt_params *P, const char *name, int nd, int64_t a, int64_t b, int64_t c) {
    int64_t sh[3] = {a, b, c};
    return xt_params_add(P, name, nd, sh);
}

void xt_xt_train_free(xt_xt_train *m) {
    if (!m) return;
    if (m->enc) m->enc->free(m->enc);
    xt_mamba_train_free(m->mamba);
    for (int i = 0; m->hy && i < m->nl; i++) xt_hyper_free(&m->hy[i]);
    free(m->hy);
    free(m->mem_rec);
    free(m->L);
    free(m);
}

// Training keeps every activation of a step (all regions' encoder activations, Lt^2 attention
// probabilities per layer): past these sizes a step would not fit in memory anyway, so training
// refuses them up front; the shared parser (xt_config.c) accepts the larger inference limits.
#define TRAIN_MAX_CLASSES 100000
#define TRAIN_MAX_MLP_RATIO 16
#define TRAIN_MAX_CROP 8192
#define TRAIN_MAX_HIDDEN 8192
#define TRAIN_MAX_LAYERS 256

xt_xt_train *xt_xt_train_new(xt_params *P, const xt_json *cfg, const xt_st *st) {
    xt_xt_train *m = xt_xcalloc(1, sizeof *m);
    xt_xt_config c;
    if (xt_xt_config_parse(&c, cfg, NULL)) { xt_error_prefix("xt train"); goto fail; }
    const xt_json *lc = xt_json_get(cfg, "loss");
    double sm = 0.3;
    if (lc && xt_json_num(lc, "smoothing", 0.3, &sm)) { xt_error_prefix("xt train: loss"); goto fail; }
    if (!(sm >= 0 && sm < 1)) { xt_error("xt train", "config: loss.smoothing %g out of range [0, 1)", sm); goto fail; }
    m->smoothing = (float)sm;
    m->crop = c.crop_size, m->K = c.num_classes, m->D = c.hidden, m->nl = c.n_layers;
    m->head = c.head == XT_HEAD_XL;
    m->attn = c.attn == XT_ATTN_HYPER ? 1 : c.attn == XT_ATTN_MAMBA ? 2 : 0;
    int ratio = c.mlp_ratio;
    if (!c.encoder) { xt_error("xt train", "config: training needs a \"swin\", \"hiera\", \"convnext\" or \"backbone\" region encoder"); goto fail; }
    if (m->K > TRAIN_MAX_CLASSES || ratio > TRAIN_MAX_MLP_RATIO || m->crop > TRAIN_MAX_CROP ||
        (m->head && (m->D > TRAIN_MAX_HIDDEN || m->nl > TRAIN_MAX_LAYERS))) {
        xt_error("xt train", "config: num_classes %d, mlp_ratio %d, crop_size %d, hidden_size %d, n_layer %d: past the "
                 "training limits (%d, %d, %d, %d, %d; a step keeps every activation)", m->K, ratio, m->crop, m->D, m->nl,
                 TRAIN_MAX_CLASSES, TRAIN_MAX_MLP_RATIO, TRAIN_MAX_CROP, TRAIN_MAX_HIDDEN, TRAIN_MAX_LAYERS);
        goto fail;
    }
    if (m->head && c.in_context_patches > 0 && m->attn == 2) {
        xt_error("xt train", "config: in_context_patches > 0 with Mamba (windowed Mamba context%s%s) is not supported "
                 "in training", c.variant ? ", variant " : "", c.variant ? c.variant : "");
        goto fail;
    }
    m->P = m->head ? c.in_context_patches : 0, m->memfix = c.memfix;
    if (m->head && m->attn == 1 && m->D < 128) { xt_error("xt train", "config: hyper attention needs hidden_size >= 128 (official heads = D / 128)"); goto fail; }
    char nm[160];
    // decoder first (the official named_parameters() order), so the encoder's last-stage width
    // comes from its config alone (the readers its builder uses below)
    int Cs[XT_MAX_STAGES], Hs[XT_MAX_STAGES];
    int ns = xt_encoder_geometry(c.encoder_arch, c.encoder, m->crop, Cs, Hs);
    if (ns < 1) { xt_error_prefix("xt train: %s", c.encoder_key); goto fail; }
    int Cl = Cs[ns - 1];
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
            if (m->attn == 1) { // as the inference model (context.c): proj_dir from the file or seed 0,
                                // the sample draws replayed from the file or from seed 1
                xt_hyper_params hp;
                xt_hyper_params_default(&hp);
                if (xt_hyper_params_from_json(&hp, xt_json_get(cfg, "hyper_override"))) { xt_error_prefix("xt train"); goto fail; }
                hp.block_mask = hp.block_mask || c.hyper_block_mask;
                xt_hyper_rand init;
                xt_hyper_rand_init(&init, (xt_st *)st, 0);
                xt_hyper_rand_init(&m->rand0, (xt_st *)st, 1);
                m->hy = xt_xcalloc(m->nl ? m->nl : 1, sizeof *m->hy);
                for (int i = 0; i < m->nl; i++) {
                    snprintf(nm, sizeof nm, "decoder.layers.%d.attn.attn", i);
                    if (xt_hyper_init(&m->hy[i], &hp, D / m->NHh, (xt_st *)st, nm, &init)) goto fail;
                    m->L[i].hy = &m->hy[i];
                    m->L[i].rand = &m->rand;
                }
            }
            for (int i = 0; i < m->nl; i++) {
                // official bug 2: qkv_bias = dim // 128 (present for D >= 128); follow the file
                snprintf(nm, sizeof nm, "decoder.layers.%d.attn.qkv.bias", i);
                int qb = (!st || xt_st_find(st, nm)) && D >= 128;
                snprintf(nm, sizeof nm, "decoder.layers.%d.", i);
                xt_llm_train_register(&m->L[i], P, nm, D, m->F, qb);
            }
        }
        m->cnw = reg(P, "decoder.cls.0.weight", 1, D, 0, 0);
        m->cnb = reg(P, "decoder.cls.0.bias", 1, D, 0, 0);
        m->clw = reg(P, "decoder.cls.1.weight", 2, m->K, D, 0);
        m->clb = reg(P, "decoder.cls.1.bias", 1, m->K, 0, 0);
    }
    if (!(m->enc = xt_encoder_train_new(P, c.encoder_arch, c.encoder, "encoder.model.", m->crop))) goto fail;
    m->ns = m->enc->n_stages;
    m->fh = m->enc->stage_h[m->ns - 1];
    m->in_chans = m->enc->in_chans;
    return m;
fail:
    xt_xt_train_free(m);
    return NULL;
}

void xt_xt_train_memory_replay(xt_xt_train *m, int mode) {
    if (mode == 1 && m->memfix && m->nw) {
        free(m->mem_rec);
        m->mem_rec = xt_xcalloc((size_t)m->nw * m->nl * m->b.N * m->Lw * m->D, sizeof(float));
    }
    m->mem_mode = m->mem_rec ? mode : 0;
}

void xt_xt_train_set_seed(xt_xt_train *m, uint64_t seed) {
    if (m->hy) xt_hyper_rand_init(&m->rand0, NULL, seed);
}

void xt_xt_train_freeze_encoder(xt_xt_train *m, int frozen) { m->enc_frozen = frozen; }

int xt_xt_train_num_classes(const xt_xt_train *m) { return m->K; }
int xt_xt_train_crop(const xt_xt_train *m) { return m->crop; }
float xt_xt_train_smoothing(const xt_xt_train *m) { return m->smoothing; }
int xt_xt_train_in_chans(const xt_xt_train *m) { return m->in_chans; }

// ---------------------------------------------------------------------------------------------
// activation plan

static int batch_geometry(const xt_xt_train *m, int N, int H, int W, bgeom *g) {
    if (N < 1 || H < 1 || W < 1 || H > 1 << 20 || W > 1 << 20)
        return xt_error("xt train", "image batch (%d, %d, %d) out of range", N, H, W);
    g->N = N, g->H = H, g->W = W;
    g->HP = (H + m->crop - 1) / m->crop, g->WP = (W + m->crop - 1) / m->crop;
    g->R = N * g->HP * g->WP;
    g->gh = g->HP * m->fh, g->gw = g->WP * m->fh;
    g->Lt = g->gh * g->gw + 1;
    return 0;
}

// Windows over the Lt = L + 1 tokens (the global cls last), as inference runs them (run/ctx.c,
// official forward): starts 0, P/2, ... while < L; window w holds tokens [s, e), e <= L + 1, plus
// an appended cls: base = e - s + 1 rows. Its layer input has len rows: base, or with memfix
// [the previous input minus its last row, minus its last P/2 rows; the window][-2 base:].
static int n_windows(const xt_xt_train *m, int L) {
    return m->P > 0 && m->P < L + 1 ? (L + m->P / 2 - 1) / (m->P / 2) : 0; // 0: global context
}
// window w's g = {s, e, base, len}; prev: the previous window's len (0 before the first), updated
static void window_step(const xt_xt_train *m, int L, int w, int *prev, int *g) {
    int off = m->P / 2, s = w * off, e = s + m->P < L + 1 ? s + m->P : L + 1, base = e - s + 1, len = base;
    if (m->memfix && w) {
        int ml = *prev - 1 - off > 0 ? *prev - 1 - off : 0;
        len = ml + base < 2 * base ? ml + base : 2 * base;
    }
    g[0] = s, g[1] = e, g[2] = base, g[3] = len;
    *prev = len;
}

// Places the region buffers and the head's activations of a batch of geometry g (ng regions
// keep gradients) in a, setting out's pointers; with out NULL only counts them (a measuring
// arena) and touches nothing. The encoder places its own activations after these.
static void plan_head(const xt_xt_train *m, const bgeom *g, int ng, xt_arena *a, xt_xt_train *out) {
    xt_xt_train sink_m;
    xlayer sink_l;
    xt_xt_train *o = out ? out : &sink_m;
    const int *Cs = m->enc->stage_c, *Hs = m->enc->stage_h, N = g->N;
    size_t R = (size_t)g->R, rsz = (size_t)m->in_chans * m->crop * m->crop;
    o->regions = xt_arena_f32(a, R * rsz);
    for (int s = 0; s < m->ns; s++) o->feat[s] = xt_arena_f32(a, R * Cs[s] * Hs[s] * Hs[s]);
    if (ng < g->R) {
        o->kidx = xt_arena_bytes(a, R * sizeof(int));
        o->kimg = xt_arena_f32(a, (size_t)ng * rsz);
        for (int s = 0; s < m->ns; s++) o->kfeat[s] = xt_arena_f32(a, (size_t)ng * Cs[s] * Hs[s] * Hs[s]);
        size_t nb = m->enc->act_bytes(m->enc, 1);
        o->nog = (xt_arena){.base = xt_arena_bytes(a, nb), .size = nb};
    }
    if (!m->head) {
        o->pooled = xt_arena_f32(a, (size_t)N * m->C);
        o->a0 = xt_arena_f32(a, (size_t)N * m->F);
        o->a1 = xt_arena_f32(a, (size_t)N * m->F);
        o->lnm = xt_arena_f32(a, N);
        o->lnr = xt_arena_f32(a, N);
        o->a2 = xt_arena_f32(a, (size_t)N * m->F);
        return;
    }
    size_t L = (size_t)g->gh * g->gw, Lt = L + 1, D = m->D, T = N * Lt, F = m->F;
    o->tok = xt_arena_f32(a, N * L * m->C);
    o->pe = xt_arena_f32(a, L * D);
    o->x0 = xt_arena_f32(a, T * D);
    int nw = n_windows(m, (int)L), Lw = 0, prev = 0, wg[4];
    if (nw) { // a layer stack per window, each over its own rows
        o->wgeo = xt_arena_bytes(a, 4 * (size_t)nw * sizeof(int));
        o->WL = xt_arena_bytes(a, (size_t)nw * m->nl * sizeof(xlayer));
        for (int w = 0; w < nw; w++) {
            window_step(m, (int)L, w, &prev, wg);
            if (out) memcpy(o->wgeo + 4 * w, wg, sizeof wg);
            Lw = wg[3] > Lw ? wg[3] : Lw;
            for (int i = 0; i < m->nl; i++) {
                xlayer *l = out ? &o->WL[(size_t)w * m->nl + i] : &sink_l;
                *l = m->L[i]; // parameter ids, attention
                xt_llm_train_plan(l, a, N, wg[3], (int)D, (int)F, m->attn, m->NHh);
            }
        }
        o->wx = xt_arena_f32(a, (size_t)N * Lw * D);
        o->wmem = m->memfix ? xt_arena_f32(a, (size_t)m->nl * N * Lw * D) : NULL;
    }
    o->nw = nw, o->Lw = Lw;
    for (int i = 0; !nw && m->attn != 2 && i < m->nl; i++) {
        if (!out) sink_l = m->L[i]; // what the layer places depends on its attention (hy)
        xt_llm_train_plan(out ? &out->L[i] : &sink_l, a, N, (int)Lt, (int)D, (int)F, m->attn, m->NHh);
    }
    if (m->attn == 2 && out) xt_mamba_train_plan(out->mamba, N, (int)Lt, a);
    else if (m->attn == 2) xt_arena_bytes(a, xt_mamba_train_act_bytes(m->mamba, N, (int)Lt)); // 64-byte multiple
    o->xf = xt_arena_f32(a, T * D);
    o->cls = xt_arena_f32(a, N * D);
    o->cm = xt_arena_f32(a, N);
    o->cr = xt_arena_f32(a, N);
    o->cln = xt_arena_f32(a, N * D);
}

size_t xt_xt_train_act_bytes(const xt_xt_train *m, int N, int H, int W, int n_grad) {
    bgeom g;
    if (batch_geometry(m, N, H, W, &g)) return 0;
    xt_arena a;
    xt_arena_init(&a, 0);
    int ng = n_grad > 0 && n_grad < g.R ? n_grad : g.R;
    plan_head(m, &g, ng, &a, NULL);
    return a.high + 64 + m->enc->act_bytes(m->enc, ng);
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
    int rr = y / m->fh, rc = x / m->fh, r = (n * m->b.HP + rr) * m->b.WP + rc;
    return (((size_t)r * m->C + c) * m->fh + y % m->fh) * m->fh + x % m->fh;
}

// The windowed context over x0 (N, Lt, D): every window through every layer (ref: decoder.py
// LLMClassificationDecoder.forward_context), cls = the mean over windows of each window's last
// row. memfix: layer i's input is [its memory, the window] (window_step), its memory becomes that
// input minus its last row, detached as the official new_mem (a constant: no gradient flows
// back into an earlier window); without memfix every window stands alone (official bug 3).
static int windows_forward(xt_xt_train *m, const xt_params *P) {
    const int N = m->b.N, D = m->D, F = m->F, nl = m->nl, Lt = m->b.Lt;
    const float *ct = xt_pw(P, m->cls_tok);
    memset(m->cls, 0, (size_t)N * D * sizeof(float));
    m->rand = m->rand0; // HyperAttention draws: windows in order, layers in order (as inference)
    for (int w = 0; w < m->nw; w++) {
        const int *g = m->wgeo + 4 * w, s = g[0], e = g[1], base = g[2], len = g[3], nm = len - base;
        for (int n = 0; n < N; n++) { // the window's rows at the end of its len rows
            float *xn = m->wx + ((size_t)n * len + nm) * D;
            memcpy(xn, m->x0 + ((size_t)n * Lt + s) * D, (size_t)(e - s) * D * sizeof(float));
            memcpy(xn + (size_t)(e - s) * D, ct, D * sizeof(float));
        }
        for (int i = 0; i < nl; i++) {
            if (m->memfix) {
                float *mem = m->wmem + (size_t)i * N * m->Lw * D;
                int prev = w ? m->wgeo[4 * (w - 1) + 3] - 1 : 0, drop = prev - (m->P / 2) - nm; // mem[drop, drop + nm)
                for (int n = 0; n < N; n++) {
                    float *xn = m->wx + (size_t)n * len * D, *mn = mem + (size_t)n * m->Lw * D;
                    float *rec = m->mem_rec ? m->mem_rec + (((size_t)w * nl + i) * N + n) * m->Lw * D : NULL;
                    if (nm) memcpy(xn, m->mem_mode == 2 ? rec : mn + (size_t)drop * D, (size_t)nm * D * sizeof(float));
                    if (nm && m->mem_mode == 1) memcpy(rec, xn, (size_t)nm * D * sizeof(float));
                    memcpy(mn, xn, (size_t)(len - 1) * D * sizeof(float)); // the next window's memory
                }
            }
            if (xt_llm_train_forward(&m->WL[(size_t)w * nl + i], P, m->wx, N, len, D, F, m->attn, m->NHh, 1, NULL,
                                     NULL))
                return -1;
        }
        for (int n = 0; n < N; n++) {
            const float *last = m->wx + ((size_t)n * len + len - 1) * D;
            float *c = m->cls + (size_t)n * D;
            for (int j = 0; j < D; j++) c[j] += last[j];
        }
    }
    for (size_t j = 0; j < (size_t)N * D; j++) m->cls[j] /= (float)m->nw;
    return 0;
}

int xt_xt_train_forward(xt_xt_train *m, const xt_params *P, const float *img, int N, int H, int W,
                        const unsigned char *keep, float *logits, xt_arena *act, const xt_tap *tap) {
    bgeom g;
    if (batch_geometry(m, N, H, W, &g)) return -1;
    int ng = 0;
    for (int r = 0; r < g.R; r++) ng += keep ? keep[r] != 0 : 1;
    if (ng < 1) return xt_error("xt train", "no region keeps gradients");
    if (xt_arena_require(act, xt_xt_train_act_bytes(m, N, H, W, ng), "xt train", "activation arena")) return -1;
    m->b = g;
    m->ng = ng;
    plan_head(m, &g, ng, act, m);
    xt_encoder_train *enc = m->enc;
    const int S = m->crop, C0 = m->in_chans, *Cs = enc->stage_c, *Hs = enc->stage_h;
    size_t rsz = (size_t)C0 * S * S;
    for (int n = 0; n < N; n++)
        for (int r = 0; r < m->b.HP * m->b.WP; r++)
            crop(m->regions + ((size_t)n * m->b.HP * m->b.WP + r) * rsz, img + (size_t)n * C0 * H * W, C0, H, W, S,
                 (r / m->b.WP) * S, (r % m->b.WP) * S);
    // encoder: all regions in one batch, or (chipping) the kept ones with activations and the
    // rest forward-only, one at a time, each written back at its own position
    if (ng == m->b.R) {
        if (enc->forward(enc, P, m->regions, m->b.R, m->feat, act, tap, "encoder.model.")) return -1;
    } else {
        // forward-only regions first (their activations are dropped region by region), then the
        // kept ones as one batch, whose activations stay for backward; order is preserved
        for (int r = 0, j = 0; r < m->b.R; r++) {
            if (keep[r]) { m->kidx[j++] = r; continue; }
            float *o[XT_MAX_STAGES];
            for (int s = 0; s < m->ns; s++) o[s] = m->feat[s] + (size_t)r * Cs[s] * Hs[s] * Hs[s];
            xt_arena_reset(&m->nog);
            if (enc->forward(enc, P, m->regions + r * rsz, 1, o, &m->nog, NULL, NULL)) return -1;
        }
        for (int j = 0; j < ng; j++) memcpy(m->kimg + j * rsz, m->regions + m->kidx[j] * rsz, rsz * sizeof(float));
        if (enc->forward(enc, P, m->kimg, ng, m->kfeat, act, NULL, NULL)) return -1;
        for (int s = 0; s < m->ns; s++) {
            size_t fs = (size_t)Cs[s] * Hs[s] * Hs[s];
            for (int j = 0; j < ng; j++) memcpy(m->feat[s] + m->kidx[j] * fs, m->kfeat[s] + j * fs, fs * sizeof(float));
        }
    }
    for (int s = 0; s < m->ns; s++) {
        int64_t es[4] = {m->b.R, Cs[s], Hs[s], Hs[s]};
        xt_tap_emitf(tap, m->feat[s], 4, es, "encoder.%d", s);
    }
    int C = m->C, D = m->D, K = m->K;
    const float *fl = m->feat[m->ns - 1];
    if (xt_tap_on(tap)) {
        float *stt = xt_xmalloc((size_t)N * C * m->b.gh * m->b.gw * sizeof(float));
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < m->b.gh; y++)
                    for (int x = 0; x < m->b.gw; x++)
                        stt[(((size_t)n * C + c) * m->b.gh + y) * m->b.gw + x] = fl[feat_at(m, n, c, y, x)];
        int64_t ss[4] = {N, C, m->b.gh, m->b.gw};
        xt_tap_emitf(tap, stt, 4, ss, "stitched.%d", m->ns - 1);
        free(stt);
    }
    if (!m->head) { // ref: decoder.py LLMClassificationDecoder naive path (GAP + MLP)
        int I = m->F, Lg = m->b.gh * m->b.gw;
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) {
                double s = 0;
                for (int y = 0; y < m->b.gh; y++)
                    for (int x = 0; x < m->b.gw; x++) s += fl[feat_at(m, n, c, y, x)];
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
    int L = m->b.gh * m->b.gw, Lt = L + 1, T = N * Lt, F = m->F;
    for (int n = 0; n < N; n++)
        for (int y = 0; y < m->b.gh; y++)
            for (int x = 0; x < m->b.gw; x++)
                for (int c = 0; c < C; c++) m->tok[((size_t)n * L + y * m->b.gw + x) * C + c] = fl[feat_at(m, n, c, y, x)];
    xt_sincos_pos_embed_2d(m->pe, D, m->b.gh, m->b.gw);
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
    if (m->nw) {
        if (windows_forward(m, P)) return -1;
    } else if (m->attn == 2) {
        if (xt_mamba_train_forward(m->mamba, P, m->xf, N, Lt, tap)) return -1;
    } else {
        m->rand = m->rand0; // one pool of draws per forward, consumed by the layers in order (official)
        for (int i = 0; i < m->nl; i++) { // ref: LLMLayer.forward
            snprintf(nm, sizeof nm, "decoder.layers.%d", i);
            if (xt_llm_train_forward(&m->L[i], P, m->xf, N, Lt, D, F, m->attn, m->NHh, 1, tap, nm)) return -1;
        }
    }
    for (int n = 0; !m->nw && n < N; n++) memcpy(m->cls + (size_t)n * D, m->xf + ((size_t)n * Lt + L) * D, D * sizeof(float));
    xt_layernorm_forward(m->cln, m->cm, m->cr, m->cls, xt_pw(P, m->cnw), xt_pw(P, m->cnb), N, D, 1e-5f);
    xt_tap_emit(tap, "decoder.cls.norm", m->cln, 2, (int64_t)N, (int64_t)D);
    xt_linear_forward(logits, m->cln, xt_pw(P, m->clw), xt_pw(P, m->clb), N, D, K);
    xt_tap_emit(tap, "logits", logits, 2, (int64_t)N, (int64_t)K);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// backward

// Backward of windows_forward: window by window (the detached memory makes them independent),
// layer by layer; the memory rows of a layer input get no gradient. dv (N, D): gradient at the
// mean cls; dx (N, Lt, D): gradients at x0, accumulated (tokens sit in several windows).
static void windows_backward(xt_xt_train *m, xt_params *P, const float *dv, float *dx, xt_arena *scr) {
    const int N = m->b.N, D = m->D, F = m->F, nl = m->nl, Lt = m->b.Lt;
    float *dX = xt_arena_f32(scr, (size_t)N * m->Lw * D), *dct = xt_pg(P, m->cls_tok);
    for (int w = 0; w < m->nw; w++) {
        const int *g = m->wgeo + 4 * w, s = g[0], e = g[1], base = g[2], len = g[3], nm = len - base;
        memset(dX, 0, (size_t)N * len * D * sizeof(float));
        for (int n = 0; n < N; n++) // cls = mean over windows of the last row
            for (int j = 0; j < D; j++) dX[((size_t)n * len + len - 1) * D + j] = dv[(size_t)n * D + j] / (float)m->nw;
        for (int i = nl - 1; i >= 0; i--) {
            xt_llm_train_backward(&m->WL[(size_t)w * nl + i], P, dX, N, len, D, F, m->attn, m->NHh, scr);
            // the layer below passed on only its last base rows; memory rows are constants
            for (int n = 0; n < N && nm; n++) memset(dX + (size_t)n * len * D, 0, (size_t)nm * D * sizeof(float));
        }
        for (int n = 0; n < N; n++) { // the window's tokens [s, e) of x0, then the appended cls
            const float *d = dX + ((size_t)n * len + nm) * D;
            float *o = dx + ((size_t)n * Lt + s) * D;
            for (size_t j = 0; j < (size_t)(e - s) * D; j++) o[j] += d[j];
            for (int j = 0; j < D; j++) dct[j] += d[(size_t)(e - s) * D + j];
        }
    }
}

size_t xt_xt_train_scratch_bytes(const xt_xt_train *m, int N, int H, int W, int n_grad) {
    bgeom g;
    if (batch_geometry(m, N, H, W, &g)) return 0;
    size_t R = (size_t)g.R, T = (size_t)N * g.Lt, D = m->D > 0 ? m->D : 1;
    size_t L = (size_t)g.gh * g.gw;
    int nw = n_windows(m, (int)L), Lw = 0, prev = 0, wg[4];
    for (int w = 0; w < nw; w++) window_step(m, (int)L, w, &prev, wg), Lw = wg[3] > Lw ? wg[3] : Lw;
    size_t head = T * D + (size_t)N * D + L * m->C + 64 * 16 +
                  (nw ? (size_t)N * Lw * D + (size_t)N * D + xt_llm_train_scratch_floats(m->L, N, Lw, (int)D, m->F)
                      : xt_llm_train_scratch_floats(m->L, N, g.Lt, (int)D, m->F));
    if (!m->head) head = (size_t)N * (4 * m->F + 2 * m->C) + 64 * 8;
    size_t mam = m->mamba ? xt_mamba_train_scratch_floats(m->mamba, N, g.Lt) : 0;
    size_t fl = R * m->C * m->fh * m->fh, reg = R * m->in_chans * m->crop * m->crop;
    int ng = n_grad > 0 && n_grad < g.R ? n_grad : g.R;
    return (head + mam + 2 * fl + reg) * sizeof(float) + 64 * 8 + m->enc->scratch_bytes(m->enc, ng);
}

int xt_xt_train_backward(xt_xt_train *m, xt_params *P, const float *dlogits, float *dimg, xt_arena *scr) {
    int N = m->b.N, C = m->C, D = m->D, K = m->K, F = m->F;
    size_t need = xt_xt_train_scratch_bytes(m, N, m->b.H, m->b.W, m->ng);
    if (xt_arena_require(scr, need, "xt train", "backward scratch")) return -1;
    size_t mark = xt_arena_mark(scr);
    float *dfl = xt_arena_f32(scr, (size_t)m->b.R * C * m->fh * m->fh);
    if (!m->head) {
        int I = F, Lg = m->b.gh * m->b.gw;
        float *d2 = xt_arena_f32(scr, (size_t)N * I), *d1 = xt_arena_f32(scr, (size_t)N * I);
        float *dp = xt_arena_f32(scr, (size_t)N * C);
        xt_linear_backward(d2, xt_pg(P, m->l3w), xt_pg(P, m->l3b), dlogits, m->a2, xt_pw(P, m->l3w), N, I, K);
        xt_layernorm_backward(d1, xt_pg(P, m->l2w), xt_pg(P, m->l2b), d2, m->a1, xt_pw(P, m->l2w), m->lnm, m->lnr, N, I);
        xt_gelu_backward(d1, d1, m->a0, (size_t)N * I);
        xt_linear_backward(dp, xt_pg(P, m->l0w), xt_pg(P, m->l0b), d1, m->pooled, xt_pw(P, m->l0w), N, C, I);
        for (int n = 0; n < N; n++) // pooled = mean over the stitched map
            for (int c = 0; c < C; c++)
                for (int y = 0; y < m->b.gh; y++)
                    for (int x = 0; x < m->b.gw; x++) dfl[feat_at(m, n, c, y, x)] = dp[(size_t)n * C + c] / Lg;
    } else {
        int L = m->b.gh * m->b.gw, Lt = L + 1, T = N * Lt;
        float *dx = xt_arena_f32(scr, (size_t)T * D);
        float *dcl = xt_arena_f32(scr, (size_t)N * D), *dtok = xt_arena_f32(scr, (size_t)L * C);
        // logits = cls.1(cls.0(x[:, -1]))
        xt_linear_backward(dcl, xt_pg(P, m->clw), xt_pg(P, m->clb), dlogits, m->cln, xt_pw(P, m->clw), N, D, K);
        memset(dx, 0, (size_t)T * D * sizeof(float));
        float *dv = m->nw ? xt_arena_f32(scr, (size_t)N * D) : NULL; // windows: d(mean of the windows' cls)
        for (int n = 0; n < N; n++)
            xt_layernorm_backward(dv ? dv + (size_t)n * D : dx + ((size_t)n * Lt + L) * D, xt_pg(P, m->cnw),
                                  xt_pg(P, m->cnb), dcl + (size_t)n * D, m->cls + (size_t)n * D, xt_pw(P, m->cnw),
                                  m->cm + n, m->cr + n, 1, D);
        if (m->nw)
            windows_backward(m, P, dv, dx, scr);
        else if (m->attn == 2) {
            float *ms = xt_arena_f32(scr, xt_mamba_train_scratch_floats(m->mamba, N, Lt));
            xt_mamba_train_backward(m->mamba, P, dx, N, Lt, ms);
        } else
            for (int i = m->nl - 1; i >= 0; i--) xt_llm_train_backward(&m->L[i], P, dx, N, Lt, D, F, m->attn, m->NHh, scr);
        // x0 = [input_proj(tok) + pe, cls_token]
        float *dct = xt_pg(P, m->cls_tok);
        for (int n = 0; n < N; n++) {
            const float *d = dx + (size_t)n * Lt * D;
            for (int j = 0; j < D; j++) dct[j] += d[(size_t)L * D + j];
            xt_linear_backward(dtok, xt_pg(P, m->ipw), xt_pg(P, m->ipb), d, m->tok + (size_t)n * L * C, xt_pw(P, m->ipw), L, C, D);
            for (int y = 0; y < m->b.gh; y++)
                for (int x = 0; x < m->b.gw; x++)
                    for (int c = 0; c < C; c++) dfl[feat_at(m, n, c, y, x)] = dtok[((size_t)y * m->b.gw + x) * C + c];
        }
    }
    // a frozen encoder gets no gradient (the official requires_grad False): its backward is skipped
    if (m->enc_frozen && !dimg) { xt_arena_release(scr, mark); return 0; }
    // encoder: only the kept regions (chipping) get gradients
    const float *dst[XT_MAX_STAGES] = {0};
    size_t fs = (size_t)C * m->fh * m->fh, rsz = (size_t)m->in_chans * m->crop * m->crop;
    dst[m->ns - 1] = dfl;
    if (m->ng < m->b.R) {
        float *k = xt_arena_f32(scr, (size_t)m->ng * fs);
        for (int j = 0; j < m->ng; j++) memcpy(k + j * fs, dfl + m->kidx[j] * fs, fs * sizeof(float));
        dst[m->ns - 1] = k;
    }
    float *dreg = dimg ? xt_arena_f32(scr, (size_t)m->ng * rsz) : NULL;
    if (m->enc->backward(m->enc, P, dst, dreg, scr)) return -1;
    if (dimg) {
        int S = m->crop, C0 = m->in_chans, per = m->b.HP * m->b.WP;
        memset(dimg, 0, (size_t)N * C0 * m->b.H * m->b.W * sizeof(float));
        for (int j = 0; j < m->ng; j++) {
            int r = m->ng < m->b.R ? m->kidx[j] : j, n = r / per, q = r % per;
            uncrop_add(dimg + (size_t)n * C0 * m->b.H * m->b.W, dreg + j * rsz, C0, m->b.H, m->b.W, S, (q / m->b.WP) * S,
                       (q % m->b.WP) * S);
        }
    }
    xt_arena_release(scr, mark);
    return 0;
}
