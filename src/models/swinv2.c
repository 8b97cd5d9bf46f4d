// swinv2.c — the Swin Transformer V2 region encoder (timm 0.9.7 SwinTransformerV2, features_only,
// as xT's SwinWrapper uses it): image (B, Cin, S, S) -> every stage as NCHW.
//
// Structure (ref: timm/models/swin_transformer_v2.py at v0.9.7):
//   patch_embed: Conv2d(Cin, C0, 4, stride 4) + LayerNorm, NHWC
//   layers_s (s = 0..n-1): [s > 0: PatchMerging v2: 2x2 gather, Linear(4C, 2C, no bias), LayerNorm]
//                          blocks: x = x + norm1(attn(x)); x = x + norm2(mlp(x))   (res-post-norm)
//   attention: cosine attention in (shifted) windows, clamped logit scale, continuous position
//   bias (precomputed here at load: it depends on weights only), qkv bias cat(q_bias, 0, v_bias).
// Window per stage: timm's _calc_window_shift — if the map side <= window, window = side and
// shift = 0; odd blocks shift by window // 2.
//
// Speed: the token stream stays (B, L, C); qkv / proj / fc1 / fc2 are one multi-threaded GEMM
// over all B*L tokens; the windowed part is parallel over (batch, window, head) with
// single-threaded small GEMMs inside (nn/window_attn.c). Scratch comes from one arena sized by
// workspace_size; the forward does not allocate.
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "models/models.h"
#include "nn/nn.h"
#include "models/trainable.h"

typedef struct {
    int C, NH, hidden, res, ws, shift;
    const float *n1w, *n1b, *qkvw, *projw, *projb, *n2w, *n2b, *fc1w, *fc1b, *fc2w, *fc2b;
    float *qkvb, *scale, *bias; // owned: cat(q_bias, 0, v_bias) (3C); exp(min(logit_scale, log 100)) (NH); (NH, N, N)
    uint16_t *qkvw16, *projw16, *fc1w16, *fc2w16; // bfloat16 copies (matmul "bf16" only)
    int8_t *projw8, *fc1w8, *fc2w8;               // int8 weights ("precision": "int8" only) ...
    float *projs, *fc1s, *fc2s;                   // ... and their per-output-channel scales
} sblock;

typedef struct {
    int Cin, C, res, depth;
    const float *redw, *dnw, *dnb; // PatchMerging (s > 0)
    uint16_t *redw16;
    int8_t *redw8;
    float *reds;
    sblock *blk;
} sstage;

typedef struct {
    xt_swin_cfg c;
    int grid;
    const float *pew, *peb, *penw, *penb;
    sstage st[XT_MAX_STAGES];
    sblock *blocks;
    float *owned;
    uint16_t *owned16;
    int8_t *owned8;
    float *owned8s;
    xt_mm *mm; // oneDNN matmul primitives (NULL: xt_gemm)
} swin;

// ---------------------------------------------------------------------------------------------
// config (parsed by swinv2_cfg.c)

int64_t xt_swinv2_param_count(const xt_json *cfg, int img_size) {
    xt_swin_cfg c;
    if (xt_swin_cfg_parse(cfg, img_size, &c)) return -1;
    xt_swin_param p[XT_SWIN_BLOCK_PARAMS];
    xt_swin_stem_params(&c, p);
    int64_t n = xt_swin_params_numel(p, XT_SWIN_STEM_PARAMS);
    for (int s = 0; s < c.n_stages; s++) {
        xt_swin_merge_params(&c.st[s], p);
        if (s > 0) n += xt_swin_params_numel(p, XT_SWIN_MERGE_PARAMS);
        xt_swin_block_params(&c.st[s], p);
        n += xt_swin_params_numel(p, XT_SWIN_BLOCK_PARAMS) * c.st[s].depth;
    }
    return n;
}

// multiply-adds x 2 for one region
static double swin_flops(const xt_swin_cfg *c) {
    double g = c->grid, L = g * g, f = 2.0 * L * c->embed * c->in_chans * 16;
    for (int s = 0; s < c->n_stages; s++) {
        const xt_swin_stage *S = &c->st[s];
        double C = S->C, F = S->hidden, N = (double)S->ws * S->ws;
        if (s > 0) { L = (double)S->res * S->res; f += 2.0 * L * 4 * (C / 2) * C; }
        f += S->depth * (2.0 * L * C * 3 * C + 4.0 * L * N * C + 2.0 * L * C * C + 4.0 * L * C * F);
    }
    return f;
}

// ---------------------------------------------------------------------------------------------
// load

static size_t swin_workspace(const xt_encoder *e, int B);
static int swin_forward(const xt_encoder *e, const float *img, int B, float *const *out, xt_arena *ws,
                        const xt_tap *tap, const char *prefix);

static void swin_free(xt_encoder *e) {
    if (!e) return;
    swin *m = e->impl;
    if (m) {
        free(m->blocks);
        free(m->owned);
        free(m->owned16);
        free(m->owned8);
        free(m->owned8s);
        xt_mm_free(m->mm);
        free(m);
    }
    free(e);
}

// w[i] = the weight "<scope><p[i].name>" (scope: printf format and arguments) of p[i]'s shape.
// For the i in bf16_mask, a weight stored as BF16 is taken in place instead: w16[i] = its data,
// w[i] = NULL (no float32 copy: the file's bfloat16 weights feed the bf16 matmuls directly).
static int load(xt_st *st, const float **w, const uint16_t **w16, unsigned bf16_mask, const xt_swin_param *p, int n,
                const char *fmt, ...) __attribute__((format(printf, 7, 8)));
static int load(xt_st *st, const float **w, const uint16_t **w16, unsigned bf16_mask, const xt_swin_param *p, int n,
                const char *fmt, ...) {
    char scope[256], name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(scope, sizeof scope, fmt, ap);
    va_end(ap);
    for (int i = 0; i < n; i++) {
        if (w16) w16[i] = NULL;
        if (bf16_mask >> i & 1u) {
            xt_dtype dt;
            snprintf(name, sizeof name, "%s%s", scope, p[i].name);
            const void *r = xt_st_weight_raw(st, name, p[i].ndim, p[i].shape, &dt);
            if (!r) return -1;
            if (dt == XT_BF16) {
                w16[i] = r, w[i] = NULL;
                continue;
            }
            if (dt == XT_F32) {
                w[i] = r;
                continue;
            }
        }
        if (!(w[i] = xt_st_weightf(st, p[i].ndim, p[i].shape, "%s%s", scope, p[i].name))) return -1;
    }
    return 0;
}

xt_encoder *xt_swinv2_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size) {
    xt_swin_cfg c;
    if (xt_swin_cfg_parse(cfg, img_size, &c)) return xt_error_in_file(st ? st->path : NULL), NULL;
    xt_encoder *e = xt_xcalloc(1, sizeof *e);
    swin *m = xt_xcalloc(1, sizeof *m);
    e->impl = m;
    e->free = swin_free;
    m->c = c;
    m->grid = c.grid;
    int nblocks = 0;
    for (int s = 0; s < c.n_stages; s++) nblocks += c.st[s].depth;
    m->blocks = xt_xcalloc(nblocks ? nblocks : 1, sizeof *m->blocks);
    // geometry and owned-buffer size
    size_t owned = 0, cpb_scratch = 0;
    int bi = 0;
    for (int s = 0; s < c.n_stages; s++) {
        const xt_swin_stage *G = &c.st[s];
        sstage *S = &m->st[s];
        S->C = G->C;
        S->Cin = G->Cin;
        S->res = G->res;
        S->depth = G->depth;
        S->blk = m->blocks + bi;
        for (int b = 0; b < S->depth; b++, bi++) {
            sblock *k = &m->blocks[bi];
            k->C = G->C;
            k->NH = G->heads;
            k->hidden = G->hidden;
            k->res = G->res;
            k->ws = G->ws;
            k->shift = xt_swin_block_shift(G, b);
            size_t N = (size_t)k->ws * k->ws;
            owned += 3 * (size_t)k->C + k->NH + k->NH * N * N + 48; // + alignment slack
            size_t cs = xt_swin_cpb_scratch_floats(k->NH, k->ws);
            if (cs > cpb_scratch) cpb_scratch = cs;
        }
    }
    m->owned = xt_malloc_checked((owned + cpb_scratch) * sizeof(float), "Swin V2 position-bias tables");
    if (!m->owned) goto fail;
    float *op = m->owned, *cpb_tmp = m->owned + owned;
    const char *pre = prefix ? prefix : "";
    xt_swin_param pa[XT_SWIN_BLOCK_PARAMS];
    const float *w[XT_SWIN_BLOCK_PARAMS];
    const uint16_t *w16[XT_SWIN_BLOCK_PARAMS];
    unsigned mask_red = c.bf16 ? 1u << XT_SWIN_RED_W : 0,
             mask_blk = c.bf16 ? 1u << XT_SWIN_PROJ_W | 1u << XT_SWIN_FC1_W | 1u << XT_SWIN_FC2_W : 0;
    xt_swin_stem_params(&c, pa);
    if (load(st, w, NULL, 0, pa, XT_SWIN_STEM_PARAMS, "%spatch_embed.", pre)) goto fail;
    m->pew = w[XT_SWIN_PE_W], m->peb = w[XT_SWIN_PE_B], m->penw = w[XT_SWIN_PE_NORM_W], m->penb = w[XT_SWIN_PE_NORM_B];
    for (int s = 0; s < c.n_stages; s++) {
        sstage *S = &m->st[s];
        int C = S->C;
        if (s > 0) {
            xt_swin_merge_params(&c.st[s], pa);
            if (load(st, w, w16, mask_red, pa, XT_SWIN_MERGE_PARAMS, "%slayers_%d.downsample.", pre, s)) goto fail;
            S->redw = w[XT_SWIN_RED_W], S->dnw = w[XT_SWIN_DS_NORM_W], S->dnb = w[XT_SWIN_DS_NORM_B];
            S->redw16 = (uint16_t *)w16[XT_SWIN_RED_W];
        }
        xt_swin_block_params(&c.st[s], pa);
        for (int b = 0; b < S->depth; b++) {
            sblock *k = &S->blk[b];
            int NH = k->NH;
            if (load(st, w, w16, mask_blk, pa, XT_SWIN_BLOCK_PARAMS, "%slayers_%d.blocks.%d.", pre, s, b)) goto fail;
            k->qkvw = w[XT_SWIN_QKV_W], k->projw = w[XT_SWIN_PROJ_W], k->projb = w[XT_SWIN_PROJ_B];
            k->projw16 = (uint16_t *)w16[XT_SWIN_PROJ_W], k->fc1w16 = (uint16_t *)w16[XT_SWIN_FC1_W];
            k->fc2w16 = (uint16_t *)w16[XT_SWIN_FC2_W];
            k->n1w = w[XT_SWIN_NORM1_W], k->n1b = w[XT_SWIN_NORM1_B], k->n2w = w[XT_SWIN_NORM2_W], k->n2b = w[XT_SWIN_NORM2_B];
            k->fc1w = w[XT_SWIN_FC1_W], k->fc1b = w[XT_SWIN_FC1_B], k->fc2w = w[XT_SWIN_FC2_W], k->fc2b = w[XT_SWIN_FC2_B];
            // non-persistent buffers and weight-only precomputation
            size_t N = (size_t)k->ws * k->ws;
            k->qkvb = op; op += (3 * (size_t)C + 15) & ~(size_t)15;
            k->scale = op; op += (NH + 15) & ~15;
            k->bias = op; op += (NH * N * N + 15) & ~(size_t)15;
            xt_swin_attn_consts(k->qkvb, k->scale, w[XT_SWIN_Q_BIAS], w[XT_SWIN_V_BIAS], w[XT_SWIN_LOGIT_SCALE], C, NH);
            xt_swin_cpb_bias(k->bias, w[XT_SWIN_CPB0_W], w[XT_SWIN_CPB0_B], w[XT_SWIN_CPB2_W], NH, k->ws, c.st[s].pws,
                             cpb_tmp);
        }
    }
    XT_ASSERT(op <= m->owned + owned);
    if (c.bf16 && !(m->mm = xt_mm_new(1))) goto fail;
    if (c.int8 && !(m->mm = xt_mm_new(0))) goto fail;           // int8 needs oneDNN
    if (!c.bf16 && !c.int8 && !(m->mm = xt_mm_new(0))) xt_error_clear(); // float32 primitives, else xt_gemm
    if (c.int8) { // int8 copies of the same linears as bf16, one scale per output channel
        size_t n8 = 0, ns = 0;
        for (int s = 0; s < c.n_stages; s++) {
            const sstage *S = &m->st[s];
            if (s > 0) n8 += (size_t)S->C * 4 * S->Cin, ns += S->C;
            for (int b = 0; b < S->depth; b++)
                n8 += (size_t)S->C * (S->C + 2 * S->blk[b].hidden), ns += 2 * (size_t)S->C + S->blk[b].hidden;
        }
        m->owned8 = xt_malloc_checked(n8 ? n8 : 1, "int8 weights");
        m->owned8s = xt_malloc_checked((ns ? ns : 1) * sizeof(float), "int8 weight scales");
        if (!m->owned8 || !m->owned8s) goto fail;
        int8_t *q = m->owned8;
        float *qs = m->owned8s;
#define Q8(dst, dsts, src, rows, cols) (dst = q, dsts = qs, xt_quantize_rows_s8(q, qs, src, rows, cols), q += (size_t)(rows) * (cols), qs += (rows))
        for (int s = 0; s < c.n_stages; s++) {
            sstage *S = &m->st[s];
            int C = S->C;
            if (s > 0) Q8(S->redw8, S->reds, S->redw, C, 4 * S->Cin);
            for (int b = 0; b < S->depth; b++) {
                sblock *k = &S->blk[b];
                Q8(k->projw8, k->projs, k->projw, C, C);
                Q8(k->fc1w8, k->fc1s, k->fc1w, k->hidden, C);
                Q8(k->fc2w8, k->fc2s, k->fc2w, C, k->hidden);
            }
        }
#undef Q8
    }
    if (c.bf16) { // bfloat16 copies of the big linears' float32 weights (BF16 ones are used in place)
        size_t n16 = 0;
        for (int s = 0; s < c.n_stages; s++) {
            const sstage *S = &m->st[s];
            if (s > 0 && !S->redw16) n16 += (size_t)S->C * 4 * S->Cin;
            for (int b = 0; b < S->depth; b++) {
                const sblock *k = &S->blk[b];
                n16 += (size_t)S->C * ((k->projw16 ? 0 : S->C) + (k->fc1w16 ? 0 : k->hidden) + (k->fc2w16 ? 0 : k->hidden));
            }
        }
        m->owned16 = xt_malloc_checked((n16 ? n16 : 1) * sizeof(uint16_t), "bfloat16 weights");
        if (!m->owned16) goto fail;
        uint16_t *q = m->owned16;
#define CONV(dst, src, n) (dst ? 0 : (dst = q, xt_f32_to_bf16(q, src, n), q += (n), 0))
        for (int s = 0; s < c.n_stages; s++) {
            sstage *S = &m->st[s];
            size_t C = S->C;
            if (s > 0) CONV(S->redw16, S->redw, C * 4 * S->Cin);
            for (int b = 0; b < S->depth; b++) {
                sblock *k = &S->blk[b];
                k->qkvw16 = NULL; // qkv stays float32: cosine logits amplify q, k errors by logit_scale (up to 100)
                CONV(k->projw16, k->projw, C * C);
                CONV(k->fc1w16, k->fc1w, k->hidden * C);
                CONV(k->fc2w16, k->fc2w, C * k->hidden);
            }
        }
#undef CONV
    }
    e->arch = "swinv2";
    e->in_chans = c.in_chans;
    e->img_size = c.img;
    e->n_stages = c.n_stages;
    for (int s = 0; s < c.n_stages; s++) {
        e->stage_c[s] = m->st[s].C;
        e->stage_h[s] = e->stage_w[s] = m->st[s].res;
    }
    e->n_params = xt_swinv2_param_count(cfg, img_size);
    e->flops = swin_flops(&c);
    e->workspace_size = swin_workspace;
    e->forward = swin_forward;
    return e;
fail:
    xt_error_prefix("swinv2");
    xt_error_in_file(st ? st->path : NULL);
    swin_free(e);
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// forward

typedef struct {
    size_t tok;     // floats of one (B, L, C)-sized buffer: max over stages of B*L*C
    size_t big;     // qkv (3C) / MLP hidden / im2col / merge gather
    size_t attn;    // per-thread attention scratch
    size_t a16;     // floats holding a bfloat16 (int8) copy of the largest linear input (bf16, int8)
    size_t a8s;     // int8: per-token activation scales (the most tokens of any stage)
    int nthreads;
} ws_plan;

static ws_plan plan(const swin *m, int B) {
    ws_plan p = {0};
    size_t g = m->grid;
    p.big = (size_t)B * g * g * m->c.in_chans * 16;
    for (int s = 0; s < m->c.n_stages; s++) {
        const sstage *S = &m->st[s];
        size_t L = (size_t)S->res * S->res, tok = (size_t)B * L * S->C;
        if (tok > p.tok) p.tok = tok;
        if (s > 0 && (size_t)B * L * 4 * S->Cin > p.big) p.big = (size_t)B * L * 4 * S->Cin;
        for (int b = 0; b < S->depth; b++) {
            const sblock *k = &S->blk[b];
            size_t need = (size_t)B * L * (k->hidden > 3 * k->C ? k->hidden : 3 * k->C);
            if (need > p.big) p.big = need;
            size_t a = xt_window_attn_scratch_floats(k->ws, k->C / k->NH);
            if (a > p.attn) p.attn = a;
        }
    }
    p.attn = (p.attn + 15) & ~(size_t)15;
    if (m->c.bf16 || m->c.int8) p.a16 = (p.big + 1) / 2 + 16; // linear inputs: <= B L max(C, 4C_in, hidden) <= big
    if (m->c.int8) p.a8s = ((size_t)B * g * g + 15) & ~(size_t)15;
    p.nthreads = xt_get_threads();
    return p;
}

static size_t swin_workspace(const xt_encoder *e, int B) {
    ws_plan p = plan(e->impl, B);
    return (3 * p.tok + p.big + p.a16 + p.a8s + p.attn * p.nthreads) * sizeof(float) + 8 * 64;
}

static int swin_forward(const xt_encoder *e, const float *img, int B, float *const *out, xt_arena *ws,
                     const xt_tap *tap, const char *prefix) {
    const swin *m = e->impl;
    const xt_swin_cfg *c = &m->c;
    if (B < 1) return xt_error("swinv2", "batch size %d", B);
    ws_plan p = plan(m, B);
    size_t avail = ws->size - ws->used, fixed = (3 * p.tok + p.big + p.a16 + p.a8s) * sizeof(float) + 8 * 64;
    if (ws->measure || avail < fixed + p.attn * sizeof(float))
        return xt_error("swinv2", "workspace too small (%zu bytes free, need %zu)", avail, fixed + p.attn * sizeof(float));
    int nthr = p.nthreads;
    while (nthr > 1 && avail < fixed + p.attn * nthr * sizeof(float)) nthr--; // threads changed since sizing
    size_t mark = xt_arena_mark(ws);
    float *x = xt_arena_f32(ws, p.tok), *a = xt_arena_f32(ws, p.tok), *y = xt_arena_f32(ws, p.tok);
    float *big = xt_arena_f32(ws, p.big), *scr = xt_arena_f32(ws, p.attn * nthr);
    uint16_t *a16 = p.a16 ? (uint16_t *)xt_arena_f32(ws, p.a16) : NULL;
    float *a8s = p.a8s ? xt_arena_f32(ws, p.a8s) : NULL;
    int rc = 0;
#define LIN(out, in, w32, w16, M, K, N) LIN8(out, in, w32, w16, NULL, NULL, M, K, N)
#define LIN8(out, in, w32, w16, w8, w8s, M, K, N)                                                          \
    do {                                                                                                   \
        if (w8) {                                                                                          \
            if ((rc = xt_linear_forward_s8(m->mm, out, in, w8, w8s, NULL, M, K, N, (int8_t *)a16, a8s))) goto done; \
        } else if (w16) {                                                                                  \
            xt_f32_to_bf16(a16, in, (size_t)(M) * (K));                                                    \
            if ((rc = xt_mm_bf16_run(m->mm, out, a16, w16, M, N, K))) goto done;                           \
        } else if (m->mm) {                                                                                \
            if ((rc = xt_mm_f32_run(m->mm, out, in, w32, M, N, K))) goto done;                             \
        } else                                                                                             \
            xt_linear_forward(out, in, w32, NULL, M, K, N);                                                \
    } while (0)
    const char *pre = prefix ? prefix : "";
    int g = m->grid, C0 = c->embed;
    size_t L = (size_t)g * g;
    // patch embed. ref: timm.layers.PatchEmbed
    xt_patch_im2col(big, img, B, c->in_chans, c->img, c->img, 4);
    xt_linear_forward(y, big, m->pew, m->peb, (int)(B * L), c->in_chans * 16, C0);
    xt_layernorm_forward(x, NULL, NULL, y, m->penw, m->penb, (int)(B * L), C0, 1e-5f);
    if (xt_tap_on(tap)) {
        int64_t sh[4] = {B, g, g, C0};
        xt_tap_emitf(tap, x, 4, sh, "%spatch_embed", pre);
    }
    for (int s = 0; s < c->n_stages; s++) {
        const sstage *S = &m->st[s];
        int C = S->C, R = S->res;
        L = (size_t)R * R;
        int NT = (int)(B * L);
        if (s > 0) { // ref: PatchMerging.forward
            xt_patch_merge_gather(big, x, B, 2 * R, 2 * R, S->Cin);
            LIN8(y, big, S->redw, S->redw16, S->redw8, S->reds, NT, 4 * S->Cin, C);
            xt_layernorm_forward(x, NULL, NULL, y, S->dnw, S->dnb, NT, C, 1e-5f);
            if (xt_tap_on(tap)) {
                int64_t sh[4] = {B, R, R, C};
                xt_tap_emitf(tap, x, 4, sh, "%slayers_%d.downsample", pre, s);
            }
        }
        for (int b = 0; b < S->depth; b++) { // ref: SwinTransformerV2Block.forward
            const sblock *k = &S->blk[b];
            // biases are folded into the next pass (attention gather, GELU, residual layernorm)
            LIN(big, x, k->qkvw, k->qkvw16, NT, C, 3 * C);
            xt_window_attn_forward(a, NULL, big, k->qkvb, k->scale, k->bias, NULL, 0, B, R, R, C, k->NH, k->ws, k->shift,
                                   scr, p.attn, nthr);
            LIN8(y, a, k->projw, k->projw16, k->projw8, k->projs, NT, C, C);
            xt_residual_layernorm_forward(x, y, k->projb, k->n1w, k->n1b, NT, C, 1e-5f); // x += norm1(attn(x))
            LIN8(big, x, k->fc1w, k->fc1w16, k->fc1w8, k->fc1s, NT, C, k->hidden);
            xt_bias_gelu_forward(big, k->fc1b, NT, k->hidden);
            LIN8(y, big, k->fc2w, k->fc2w16, k->fc2w8, k->fc2s, NT, k->hidden, C);
            xt_residual_layernorm_forward(x, y, k->fc2b, k->n2w, k->n2b, NT, C, 1e-5f); // x += norm2(mlp(x))
            if (xt_tap_on(tap)) {
                int64_t sh[4] = {B, R, R, C};
                xt_tap_emitf(tap, x, 4, sh, "%slayers_%d.blocks.%d", pre, s, b);
            }
        }
        xt_nhwc_to_nchw(out[s], x, B, (int)L, C);
    }
done:
#undef LIN
#undef LIN8
    xt_arena_release(ws, mark);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// `xt verify` for kind "swin_region": SwinWrapper on input.image, every stage as expected.stage{s}.

int xt_swin_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    int S = 0;
    if (xt_json_int(cfg, "image_size", 0, &S)) return xt_error_in_file(st->path);
    const xt_st_tensor *ti;
    const float *img = xt_st_f32(st, "input.image", &ti);
    if (!img) return -1;
    if (ti->ndim != 4 || ti->shape[2] != ti->shape[3] || ti->shape[0] < 1 || ti->shape[0] > 4096)
        return xt_error_file("verify", st->path, "input.image must be (B, C, S, S)");
    if (S <= 0) S = (int)ti->shape[2];
    // weights under the config's "weight_prefix" (xt convert --prefix), default the golden "model."
    xt_encoder *e = xt_swinv2_new(st, cfg, xt_json_str(cfg, "weight_prefix", "model."), S);
    if (!e) return -1;
    int B = (int)ti->shape[0], rc = -1;
    if (ti->shape[1] != e->in_chans || ti->shape[2] != e->img_size) {
        xt_error_file("verify", st->path, "input.image is (%lld, %lld, %lld, %lld), the model needs (B, %d, %d, %d)",
                      (long long)ti->shape[0], (long long)ti->shape[1], (long long)ti->shape[2], (long long)ti->shape[3],
                 e->in_chans, e->img_size, e->img_size);
        e->free(e);
        return -1;
    }
    float *out[XT_MAX_STAGES] = {0};
    xt_arena ws = {0};
    for (int s = 0; s < e->n_stages; s++) {
        out[s] = xt_malloc_checked((size_t)B * e->stage_c[s] * e->stage_h[s] * e->stage_w[s] * sizeof(float), "stage output");
        if (!out[s]) goto done;
    }
    if (xt_arena_init(&ws, e->workspace_size(e, B))) goto done;
    if (e->forward(e, img, B, out, &ws, tap, "model.")) goto done;
    for (int s = 0; s < e->n_stages; s++) {
        int64_t sh[4] = {B, e->stage_c[s], e->stage_h[s], e->stage_w[s]};
        xt_tap_emitf(tap, out[s], 4, sh, "stage%d", s);
    }
    rc = 0;
done:
    xt_arena_free(&ws);
    for (int s = 0; s < XT_MAX_STAGES; s++) free(out[s]);
    e->free(e);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// random weights (benchmarks, tests): official names and order, the golden README's
// randomisation: >= 2-D weights N(0, 1/fan_in); norm weights 1 + N(0, 0.1^2); biases (incl.
// q_bias, v_bias) N(0, 0.1^2); logit_scale log(10) + N(0, 0.2^2).

typedef struct { uint64_t s; int has; double spare; } rng;

static uint64_t rng_u64(rng *r) { // splitmix64
    uint64_t z = (r->s += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static double rng_normal(rng *r) { // Box-Muller
    if (r->has) { r->has = 0; return r->spare; }
    double u = ((rng_u64(r) >> 11) + 0.5) * 0x1.0p-53, v = (rng_u64(r) >> 11) * 0x1.0p-53;
    double m = sqrt(-2.0 * log(u));
    r->spare = m * sin(2 * M_PI * v);
    r->has = 1;
    return m * cos(2 * M_PI * v);
}

// Writes p[0..n) as "<prefix><scope><name>" (scope: printf format and arguments), randomised by kind:
// logit_scale, >= 2-D weights, 1-D weights (the norms), biases.
static void put(xt_st_writer *w, rng *r, float *buf, const xt_swin_param *p, int n, const char *fmt, ...)
    __attribute__((format(printf, 6, 7)));
static void put(xt_st_writer *w, rng *r, float *buf, const xt_swin_param *p, int n, const char *fmt, ...) {
    char scope[256], name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(scope, sizeof scope, fmt, ap);
    va_end(ap);
    for (int k = 0; k < n; k++) {
        double fan_in = 1, mean = 0, std = 0.1;
        for (int i = 1; i < p[k].ndim; i++) fan_in *= (double)p[k].shape[i];
        size_t len = strlen(p[k].name);
        if (!strcmp(p[k].name, "attn.logit_scale")) mean = log(10.0), std = 0.2;
        else if (p[k].ndim >= 2) std = 1 / sqrt(fan_in);
        else if (len >= 6 && !strcmp(p[k].name + len - 6, "weight")) mean = 1;
        size_t m = (size_t)xt_swin_params_numel(&p[k], 1);
        for (size_t i = 0; i < m; i++) buf[i] = (float)(mean + std * rng_normal(r));
        snprintf(name, sizeof name, "%s%s", scope, p[k].name);
        xt_st_writer_add(w, name, buf, p[k].ndim, p[k].shape);
    }
}

int xt_swinv2_random_weights(xt_st_writer *w, const xt_json *cfg, const char *prefix, uint64_t seed) {
    xt_swin_cfg c;
    if (xt_swin_cfg_parse(cfg, 256, &c)) return -1; // the weights do not depend on the image size
    const char *pre = prefix ? prefix : "";
    xt_swin_param stem[XT_SWIN_STEM_PARAMS], merge[XT_MAX_STAGES][XT_SWIN_MERGE_PARAMS],
        blk[XT_MAX_STAGES][XT_SWIN_BLOCK_PARAMS];
    size_t maxn = 0;
#define MAXN(p, n)                                                                              \
    for (int i = 0; i < (n); i++)                                                               \
        if ((size_t)xt_swin_params_numel(&(p)[i], 1) > maxn) maxn = (size_t)xt_swin_params_numel(&(p)[i], 1)
    xt_swin_stem_params(&c, stem);
    MAXN(stem, XT_SWIN_STEM_PARAMS);
    for (int s = 0; s < c.n_stages; s++) {
        xt_swin_merge_params(&c.st[s], merge[s]);
        xt_swin_block_params(&c.st[s], blk[s]);
        if (s > 0) MAXN(merge[s], XT_SWIN_MERGE_PARAMS);
        MAXN(blk[s], XT_SWIN_BLOCK_PARAMS);
    }
#undef MAXN
    float *buf = xt_malloc_checked(maxn * sizeof(float), "random weights");
    if (!buf) return -1;
    rng r = {seed * 0x2545F4914F6CDD1Dull + 1, 0, 0};
    put(w, &r, buf, stem, XT_SWIN_STEM_PARAMS, "%spatch_embed.", pre);
    for (int s = 0; s < c.n_stages; s++) {
        if (s > 0) put(w, &r, buf, merge[s], XT_SWIN_MERGE_PARAMS, "%slayers_%d.downsample.", pre, s);
        for (int b = 0; b < c.st[s].depth; b++) put(w, &r, buf, blk[s], XT_SWIN_BLOCK_PARAMS, "%slayers_%d.blocks.%d.", pre, s, b);
    }
    free(buf);
    return 0;
}
