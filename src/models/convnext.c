// convnext.c — ConvNeXt region encoder (timm 0.9.7 `convnext_*`, features_only): four stages of
// NCHW feature maps at strides 4, 8, 16, 32.
//
// The whole network runs channels-last (B, H, W, C) internally, as timm's blocks do between
// their permutes: LayerNorm and the MLP then act on contiguous rows and the depthwise 7x7 conv
// vectorises over C. Stage outputs are transposed to NCHW once each.
//   stem:   conv PxP/P (P = patch_size, 4) -> LayerNorm2d (eps 1e-6)
//   stage s (s >= 1 first downsamples): LayerNorm2d -> conv 2x2/2
//   block:  x + gamma * fc2(GELU(fc1(LN(dwconv7x7(x)))))
// ref: timm/models/convnext.py @ v0.9.7 (ConvNeXt, ConvNeXtStage, ConvNeXtBlock)
//
// Config (JSON object): dims [C0..], depths [D0..] (1-4 stages), in_chans (3), patch_size (4),
// kernel_size (7), mlp_ratio (4). Weights "<prefix>stem_0.weight" ... under timm's
// features_only names (stem_0/stem_1/stages_{s}) or, when "<prefix>stem.0.weight" exists, its
// classifier's (stem.0/stem.1/stages.{s}); the classifier's "head.*" is ignored.
#include <math.h>
#include <string.h>

#include "models/backbones.h"
#include "nn/nn.h"
#include "models/trainable.h"

#define LN_EPS 1e-6f

typedef struct {
    const float *gamma, *dw_b, *ln_w, *ln_b, *fc1_w, *fc1_b, *fc2_w, *fc2_b;
    float *dw_hwc; // (K, K, C), transposed copy of conv_dw.weight (owned)
    uint16_t *fc1_16, *fc2_16; // bfloat16 copies ("precision": "bf16" only; into convnext.w16)
} cnx_block;

typedef struct {
    const float *ds_ln_w, *ds_ln_b, *ds_w, *ds_b; // downsample (s >= 1)
    cnx_block *blk;
} cnx_stage;

typedef struct {
    int n_stages, dims[XT_MAX_STAGES], depths[XT_MAX_STAGES], patch, ks, hidden[XT_MAX_STAGES];
    const float *stem_w, *stem_b, *stem_ln_w, *stem_ln_b;
    cnx_stage st[XT_MAX_STAGES];
    int bf16;      // "precision": "bf16": the blocks' MLP linears (the bulk of the FLOPs) in bfloat16
    xt_mm *mm;     // oneDNN matmul primitives (float32 without oneDNN: NULL, xt_gemm)
    uint16_t *w16;
} convnext;

typedef struct {
    float *col, *x, *t, *h;
    uint16_t *a16; // bfloat16 copy of fc1's / fc2's input (bf16 only)
} cnx_bufs;

// One allocation plan for both workspace_size (measuring arena) and forward.
static void plan(const xt_encoder *e, int B, xt_arena *a, cnx_bufs *b) {
    const convnext *m = e->impl;
    size_t col = 0, act = 0, hid = 0;
    int H = e->img_size / m->patch;
    xt_conv2d_dims stem = {e->in_chans, e->img_size, e->img_size, m->dims[0], m->patch, m->patch, m->patch, m->patch, 0, 0};
    col = xt_conv2d_col_size(&stem);
    for (int s = 0; s < m->n_stages; s++) {
        if (s) {
            xt_conv2d_dims ds = {m->dims[s - 1], H, H, m->dims[s], 2, 2, 2, 2, 0, 0};
            if (xt_conv2d_col_size(&ds) > col) col = xt_conv2d_col_size(&ds);
            size_t prev = (size_t)B * H * H * m->dims[s - 1];
            if (prev > act) act = prev;
            H /= 2;
        }
        size_t n = (size_t)B * H * H;
        if (n * m->dims[s] > act) act = n * m->dims[s];
        if (n * m->hidden[s] > hid) hid = n * m->hidden[s];
    }
    b->col = xt_arena_f32(a, col);
    b->x = xt_arena_f32(a, act);
    b->t = xt_arena_f32(a, act);
    b->h = xt_arena_f32(a, hid);
    b->a16 = m->bf16 ? (uint16_t *)xt_arena_f32(a, ((act > hid ? act : hid) + 1) / 2) : NULL; // fc1: N x C, fc2: N x HID
}

static size_t cnx_workspace(const xt_encoder *e, int B) {
    xt_arena a;
    cnx_bufs b;
    xt_arena_init(&a, 0);
    plan(e, B, &a, &b);
    return a.high + 64;
}

static void emit_nchw(const xt_tap *tap, float *tmp, const float *x, int B, int H, int C, const char *prefix,
                      const char *name) {
    if (!xt_tap_on(tap)) return;
    xt_nhwc_to_nchw(tmp, x, B, H * H, C);
    int64_t shape[4] = {B, C, H, H};
    xt_tap_emitf(tap, tmp, 4, shape, "%s%s", prefix ? prefix : "", name);
}

static int cnx_forward(const xt_encoder *e, const float *img, int B, float *const *out, xt_arena *ws,
                       const xt_tap *tap, const char *prefix) {
    const convnext *m = e->impl;
    size_t mark = xt_arena_mark(ws);
    cnx_bufs b;
    if (ws->size - ws->used < cnx_workspace(e, B))
        return xt_error("convnext", "workspace of %zu bytes is too small for batch %d", ws->size - ws->used, B);
    plan(e, B, ws, &b);
    int H = e->img_size / m->patch, C = m->dims[0];
    // stem: (B, in, S, S) -> (B, H, H, C0), then LayerNorm2d over channels
    xt_conv2d_dims stem = {e->in_chans, e->img_size, e->img_size, C, m->patch, m->patch, m->patch, m->patch, 0, 0};
    xt_conv2d_forward(b.x, b.col, img, m->stem_w, m->stem_b, B, &stem, XT_CONV_OUT_NHWC);
    xt_layernorm_forward(b.x, NULL, NULL, b.x, m->stem_ln_w, m->stem_ln_b, B * H * H, C, LN_EPS);
    emit_nchw(tap, b.t, b.x, B, H, C, prefix, "stem_1");
    for (int s = 0; s < m->n_stages; s++) {
        const cnx_stage *st = &m->st[s];
        if (s) { // downsample: LayerNorm2d then conv 2x2/2, channels-last in and out
            xt_layernorm_forward(b.t, NULL, NULL, b.x, st->ds_ln_w, st->ds_ln_b, B * H * H, C, LN_EPS);
            xt_conv2d_dims ds = {C, H, H, m->dims[s], 2, 2, 2, 2, 0, 0};
            xt_conv2d_forward(b.x, b.col, b.t, st->ds_w, st->ds_b, B, &ds, XT_CONV_IN_NHWC | XT_CONV_OUT_NHWC);
            H /= 2;
            C = m->dims[s];
        }
        const int N = B * H * H, HID = m->hidden[s];
        for (int d = 0; d < m->depths[s]; d++) {
            const cnx_block *k = &st->blk[d];
            xt_dwconv2d_forward(b.t, b.x, k->dw_hwc, k->dw_b, B, H, H, C, m->ks, m->ks / 2); // (B, H, H, C)
            xt_layernorm_forward(b.t, NULL, NULL, b.t, k->ln_w, k->ln_b, N, C, LN_EPS);
            if (k->fc1_16) {
                if (xt_linear_forward_bf16(m->mm, b.h, b.t, k->fc1_16, k->fc1_b, N, C, HID, b.a16)) goto fail;
            } else if (xt_linear_forward_mm(m->mm, b.h, b.t, k->fc1_w, k->fc1_b, N, C, HID)) goto fail; // (N, HID)
            xt_gelu_forward(b.h, b.h, (size_t)N * HID);
            if (k->fc2_16) {
                if (xt_linear_forward_bf16(m->mm, b.t, b.h, k->fc2_16, k->fc2_b, N, HID, C, b.a16)) goto fail;
            } else if (xt_linear_forward_mm(m->mm, b.t, b.h, k->fc2_w, k->fc2_b, N, HID, C)) goto fail; // (N, C)
#pragma omp parallel for if ((size_t)N * C > 65536)
            for (int n = 0; n < N; n++) {
                float *x = b.x + (size_t)n * C;
                const float *y = b.t + (size_t)n * C;
                for (int c = 0; c < C; c++) x[c] += k->gamma[c] * y[c];
            }
        }
        xt_nhwc_to_nchw(out[s], b.x, B, H * H, C); // (B, C, H, H)
    }
    xt_arena_release(ws, mark);
    return 0;
fail:
    xt_arena_release(ws, mark);
    return -1;
}

static void cnx_free(xt_encoder *e) {
    if (!e) return;
    convnext *m = e->impl;
    if (m) {
        xt_mm_free(m->mm);
        free(m->w16);
        for (int s = 0; s < m->n_stages; s++) {
            if (!m->st[s].blk) continue;
            for (int d = 0; d < m->depths[s]; d++) free(m->st[s].blk[d].dw_hwc);
            free(m->st[s].blk);
        }
        free(m);
    }
    free(e);
}

// Reads and checks the architecture; fills m and the encoder's geometry (no weights).
static int cnx_config(convnext *m, xt_encoder *e, const xt_json *cfg, int img_size) {
    const char *M = "convnext";
    xt_precision prec;
    if (xt_cfg_precision(cfg, M, 1u << XT_PREC_F32 | 1u << XT_PREC_BF16, &prec)) return -1;
    m->bf16 = prec == XT_PREC_BF16;
    int n = xt_cfg_ints(cfg, M, "dims", m->dims, XT_MAX_STAGES, 1, 16384, NULL, 0);
    if (n < 0) return -1;
    int nd = xt_cfg_ints(cfg, M, "depths", m->depths, XT_MAX_STAGES, 0, 1000, NULL, 0);
    if (nd < 0) return -1;
    if (nd != n) return xt_error(M, "config 'dims' has %d stages but 'depths' has %d", n, nd);
    double ratio;
    if (xt_cfg_int(cfg, M, "in_chans", 3, 1, 1024, &e->in_chans) ||
        xt_cfg_int(cfg, M, "patch_size", 4, 1, 64, &m->patch) ||
        xt_cfg_int(cfg, M, "kernel_size", 7, 1, 31, &m->ks) || xt_json_num(cfg, "mlp_ratio", 4.0, &ratio))
        return -1;
    if (m->ks % 2 == 0) return xt_error(M, "config 'kernel_size' = %d must be odd", m->ks);
    if (!(ratio > 0 && ratio <= 64)) return xt_error(M, "config 'mlp_ratio' = %g is out of range (0, 64]", ratio);
    int red = m->patch << (n - 1); // total downsampling of the last stage
    if (img_size <= 0 || img_size > 65536 || img_size % red)
        return xt_error(M, "region size %d must be a positive multiple of %d (patch %d x 2^%d), at most 65536",
                        img_size, red, m->patch, n - 1);
    m->n_stages = e->n_stages = n;
    e->img_size = img_size;
    int H = img_size / m->patch;
    double flops = 2.0 * H * H * m->dims[0] * e->in_chans * m->patch * m->patch;
    for (int s = 0; s < n; s++) {
        m->hidden[s] = (int)(ratio * m->dims[s]);
        if (m->hidden[s] < 1) return xt_error(M, "config 'mlp_ratio' %g gives an empty MLP", ratio);
        if (s) {
            flops += 2.0 * (H / 2) * (H / 2) * m->dims[s] * m->dims[s - 1] * 4;
            H /= 2;
        }
        e->stage_c[s] = m->dims[s];
        e->stage_h[s] = e->stage_w[s] = H;
        flops += m->depths[s] * 2.0 * H * H * m->dims[s] * (m->ks * m->ks + 2.0 * m->hidden[s]);
    }
    e->flops = flops;
    return 0;
}

int xt_convnext_geom_new(xt_convnext_geom *g, const xt_json *cfg, int img_size) {
    convnext m;
    xt_encoder e;
    memset(&m, 0, sizeof m);
    memset(&e, 0, sizeof e);
    if (cnx_config(&m, &e, cfg, img_size)) return -1;
    memset(g, 0, sizeof *g);
    g->n_stages = m.n_stages, g->in_chans = e.in_chans, g->patch = m.patch, g->ks = m.ks, g->img = img_size;
    for (int s = 0; s < m.n_stages; s++)
        g->dims[s] = m.dims[s], g->depths[s] = m.depths[s], g->hidden[s] = m.hidden[s], g->stage_h[s] = e.stage_h[s];
    return 0;
}

xt_encoder *xt_convnext_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size) {
    xt_encoder *e = xt_xcalloc(1, sizeof *e);
    convnext *m = xt_xcalloc(1, sizeof *m);
    e->arch = "convnext";
    e->impl = m;
    e->workspace_size = cnx_workspace;
    e->forward = cnx_forward;
    e->free = cnx_free;
    xt_wload L = {.st = st, .prefix = prefix ? prefix : ""};
    if (cnx_config(m, e, cfg, img_size)) goto fail;
    const int64_t IN = e->in_chans, P = m->patch, K = m->ks;
    int64_t C = m->dims[0];
#define G(ptr, nd, shp, ...)                                                                       \
    do {                                                                                       \
        if (!(ptr = xt_wload_get(&L, nd, shp, __VA_ARGS__))) goto fail;                        \
    } while (0)
    // timm's features_only names (stem_0, stages_1) or its classifier's (stem.0, stages.1)
    char key[600];
    snprintf(key, sizeof key, "%sstem.0.weight", L.prefix);
    const char sep = xt_st_find(st, key) ? '.' : '_';
    int64_t sstem[4] = {C, IN, P, P};
    G(m->stem_w, 4, sstem, "stem%c0.weight", sep);
    G(m->stem_b, 1, &C, "stem%c0.bias", sep);
    G(m->stem_ln_w, 1, &C, "stem%c1.weight", sep);
    G(m->stem_ln_b, 1, &C, "stem%c1.bias", sep);
    int64_t np = C * IN * P * P + 3 * C;
    for (int s = 0; s < m->n_stages; s++) {
        cnx_stage *S = &m->st[s];
        int64_t Cs = m->dims[s], Hd = m->hidden[s];
        if (s) {
            G(S->ds_ln_w, 1, &C, "stages%c%d.downsample.0.weight", sep, s);
            G(S->ds_ln_b, 1, &C, "stages%c%d.downsample.0.bias", sep, s);
            int64_t shw[4] = {Cs, C, 2, 2};
            G(S->ds_w, 4, shw, "stages%c%d.downsample.1.weight", sep, s);
            G(S->ds_b, 1, &Cs, "stages%c%d.downsample.1.bias", sep, s);
            np += 2 * C + Cs * C * 4 + Cs;
        }
        C = Cs;
        S->blk = xt_xcalloc(m->depths[s] ? m->depths[s] : 1, sizeof *S->blk);
        for (int d = 0; d < m->depths[s]; d++) {
            cnx_block *k = &S->blk[d];
            int64_t sdw[4] = {C, 1, K, K}, s1[2] = {Hd, C}, s2[2] = {C, Hd};
            const float *dw;
            G(k->gamma, 1, &C, "stages%c%d.blocks.%d.gamma", sep, s, d);
            G(dw, 4, sdw, "stages%c%d.blocks.%d.conv_dw.weight", sep, s, d);
            G(k->dw_b, 1, &C, "stages%c%d.blocks.%d.conv_dw.bias", sep, s, d);
            G(k->ln_w, 1, &C, "stages%c%d.blocks.%d.norm.weight", sep, s, d);
            G(k->ln_b, 1, &C, "stages%c%d.blocks.%d.norm.bias", sep, s, d);
            G(k->fc1_w, 2, s1, "stages%c%d.blocks.%d.mlp.fc1.weight", sep, s, d);
            G(k->fc1_b, 1, &Hd, "stages%c%d.blocks.%d.mlp.fc1.bias", sep, s, d);
            G(k->fc2_w, 2, s2, "stages%c%d.blocks.%d.mlp.fc2.weight", sep, s, d);
            G(k->fc2_b, 1, &C, "stages%c%d.blocks.%d.mlp.fc2.bias", sep, s, d);
            k->dw_hwc = xt_xmalloc((size_t)C * K * K * sizeof(float));
            xt_dwconv2d_weight_hwc(k->dw_hwc, dw, (int)C, (int)K);
            np += C * K * K + C + 2 * C + 2 * C * Hd + Hd + C + C;
        }
#undef G
    }
    e->n_params = np;
    static const char *const ignore[] = {"head.", "norm_pre.", NULL};
    if (xt_wload_check_unused(&L, ignore, "convnext")) goto fail;
    // float32: cached primitives allocate nothing per call (dnnl_sgemm re-faults its packing buffers)
    if (!m->bf16 && !(m->mm = xt_mm_new(0))) xt_error_clear();
    if (m->bf16) { // bfloat16 copies of the MLP weights (stem, downsampling and depthwise convs stay float32)
        if (!(m->mm = xt_mm_new(1))) goto fail;
        size_t n16 = 0;
        for (int s = 0; s < m->n_stages; s++) n16 += (size_t)2 * m->dims[s] * m->hidden[s] * m->depths[s];
        if (!(m->w16 = xt_malloc_checked((n16 ? n16 : 1) * sizeof(uint16_t), "bfloat16 weights"))) goto fail;
        uint16_t *q = m->w16;
        for (int s = 0; s < m->n_stages; s++)
            for (int d = 0; d < m->depths[s]; d++) {
                cnx_block *k = &m->st[s].blk[d];
                size_t n = (size_t)m->dims[s] * m->hidden[s];
                k->fc1_16 = q, xt_f32_to_bf16(q, k->fc1_w, n), q += n;
                k->fc2_16 = q, xt_f32_to_bf16(q, k->fc2_w, n), q += n;
            }
    }
    xt_wload_free(&L);
    return e;
fail:
    xt_error_in_file(st ? st->path : NULL);
    xt_wload_free(&L);
    cnx_free(e);
    return NULL;
}

// `xt verify` for kind "convnext_region": the ConvNeXt config sits at the top level of the
// file's config; weights are unprefixed (or under the config's "weight_prefix"); emits stem_1 and stage{s} (NCHW).
int xt_convnext_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    xt_region_run r;
    if (xt_region_run_file(&r, st, cfg, cfg, xt_json_str(cfg, "weight_prefix", ""), xt_convnext_new, tap, "convnext"))
        return -1;
    for (int s = 0; s < r.e->n_stages; s++) {
        int64_t shape[4] = {r.B, r.e->stage_c[s], r.e->stage_h[s], r.e->stage_w[s]};
        xt_tap_emitf(tap, r.out[s], 4, shape, "stage%d", s);
    }
    xt_region_run_free(&r);
    return 0;
}
