// mamba.c — xT's Mamba context block: LayerNorm, then mamba_ssm's Mamba mixer, residual on the
// normalised stream, optionally run right to left.
//
// ref: xT models/decoders/mamba_block.py (Block: flip if reverse; h = norm(x); h = h + mixer(h))
// ref: mamba_ssm/modules/mamba_simple.py Mamba.forward (v1.1.4, the non-fused path) and
//      mamba_ssm/ops/selective_scan_interface.py selective_scan_ref.
// The sequence is processed in chunks of CHUNK tokens; the causal conv keeps its last K-1 input
// rows and the scan its (d_state, d_inner) state across chunks, so memory does not grow with L
// and a block over a million tokens runs in place in its input buffer.
#include <math.h>
#include <string.h>

#include "models/seq.h"
#include "nn/nn.h"

#define CHUNK 2048 // default tokens per chunk: ~13 MB of scratch at D = 128; few parallel regions

static int chunk_len(const xt_mamba *m) { return m->chunk > 0 ? m->chunk : CHUNK; }

int xt_mamba_load(xt_mamba *m, xt_st *st, const char *prefix, int D) {
    memset(m, 0, sizeof *m);
    char name[512];
    const xt_st_tensor *t;
    // d_state, dt_rank and d_conv come from the tensors (defaults 16, ceil(D/16), 4)
    snprintf(name, sizeof name, "%smixer.A_log", prefix);
    if (!(t = xt_st_find(st, name)) || t->ndim != 2)
        return xt_error_file("mamba", st->path, "tensor '%s' missing or not 2-D", name);
    m->DI = (int)t->shape[0];
    m->N = (int)t->shape[1];
    snprintf(name, sizeof name, "%smixer.dt_proj.weight", prefix);
    if (!(t = xt_st_find(st, name)) || t->ndim != 2)
        return xt_error_file("mamba", st->path, "tensor '%s' missing or not 2-D", name);
    m->R = (int)t->shape[1];
    snprintf(name, sizeof name, "%smixer.conv1d.weight", prefix);
    if (!(t = xt_st_find(st, name)) || t->ndim != 3)
        return xt_error_file("mamba", st->path, "tensor '%s' missing or not 3-D", name);
    m->K = (int)t->shape[2];
    m->D = D;
    if (m->DI < 1 || m->N < 1 || m->R < 1 || m->K < 1 || m->DI > (1 << 20) || m->N > 4096 ||
        m->R > 4096 || m->K > 64)
        return xt_error_file("mamba", st->path, "implausible Mamba sizes under '%smixer.' (d_inner %d, d_state %d, "
                             "dt_rank %d, d_conv %d)", prefix, m->DI, m->N, m->R, m->K);
    int64_t DI = m->DI, N = m->N, R = m->R, K = m->K;
    if (!(m->norm_w = xt_st_weightf(st, 1, (int64_t[]){D}, "%snorm.weight", prefix)) ||
        !(m->norm_b = xt_st_weightf(st, 1, (int64_t[]){D}, "%snorm.bias", prefix)) ||
        !(m->in_proj_w = xt_st_weightf(st, 2, (int64_t[]){2 * DI, D}, "%smixer.in_proj.weight", prefix)) ||
        !(m->conv_w = xt_st_weightf(st, 3, (int64_t[]){DI, 1, K}, "%smixer.conv1d.weight", prefix)) ||
        !(m->conv_b = xt_st_weightf(st, 1, (int64_t[]){DI}, "%smixer.conv1d.bias", prefix)) ||
        !(m->x_proj_w = xt_st_weightf(st, 2, (int64_t[]){R + 2 * N, DI}, "%smixer.x_proj.weight", prefix)) ||
        !(m->dt_proj_w = xt_st_weightf(st, 2, (int64_t[]){DI, R}, "%smixer.dt_proj.weight", prefix)) ||
        !(m->dt_proj_b = xt_st_weightf(st, 1, (int64_t[]){DI}, "%smixer.dt_proj.bias", prefix)) ||
        !(m->A_log = xt_st_weightf(st, 2, (int64_t[]){DI, N}, "%smixer.A_log", prefix)) ||
        !(m->Dskip = xt_st_weightf(st, 1, (int64_t[]){DI}, "%smixer.D", prefix)) ||
        !(m->out_proj_w = xt_st_weightf(st, 2, (int64_t[]){D, DI}, "%smixer.out_proj.weight", prefix)))
        return -1;
    // official Mamba has no in/out projection biases (bias=False); refuse files that carry them
    snprintf(name, sizeof name, "%smixer.in_proj.bias", prefix);
    if (xt_st_find(st, name))
        return xt_error_file("mamba", st->path, "'%s' present: Mamba in/out projection biases are not supported",
                             name);
    return 0;
}

static size_t chunk_floats(const xt_mamba *m, int T) {
    size_t DI = m->DI, D = m->D, W = m->R + 2 * m->N;
    return (size_t)T * (2 * D + 2 * DI + DI + W + DI + DI) // h, xz, xc, dbc, delta, y
           + (size_t)(m->K - 1) * DI + 2 * (size_t)m->N * DI;  // conv history, state, A^T
}

size_t xt_mamba_workspace_size(const xt_mamba *m, int B, int L) {
    int T = L < chunk_len(m) ? L : chunk_len(m);
    return (chunk_floats(m, T) + 16 * 16) * sizeof(float) + 16 * 64;
}

// One sequence (one batch element). flip: read/write token t at position L-1-t.
// norm_tap / mixer_tap (L, D) or NULL: filled in the block's order.
static void block_seq(float *out, const float *inp, const xt_mamba *m, int L, int flip, int residual_norm,
                      float *norm_tap, float *mixer_tap, xt_arena *ws) {
    int D = m->D, DI = m->DI, N = m->N, R = m->R, K = m->K, W = R + 2 * N;
    int CH = chunk_len(m), T0 = L < CH ? L : CH;
    size_t mark = xt_arena_mark(ws);
    float *h = xt_arena_f32(ws, (size_t)T0 * D), *o = xt_arena_f32(ws, (size_t)T0 * D);
    float *xz = xt_arena_f32(ws, (size_t)T0 * 2 * DI), *xc = xt_arena_f32(ws, (size_t)T0 * DI);
    float *dbc = xt_arena_f32(ws, (size_t)T0 * W), *delta = xt_arena_f32(ws, (size_t)T0 * DI);
    float *y = xt_arena_f32(ws, (size_t)T0 * DI);
    float *hist = xt_arena_f32(ws, (size_t)(K - 1) * DI), *state = xt_arena_f32(ws, (size_t)N * DI);
    float *AT = xt_arena_f32(ws, (size_t)N * DI);
    memset(hist, 0, (size_t)(K - 1) * DI * sizeof(float));
    memset(state, 0, (size_t)N * DI * sizeof(float));
    for (int d = 0; d < DI; d++)
        for (int n = 0; n < N; n++) AT[(size_t)n * DI + d] = -expf(m->A_log[(size_t)d * N + n]);

    for (int t0 = 0; t0 < L; t0 += CH) {
        int T = L - t0 < CH ? L - t0 : CH;
        for (int t = 0; t < T; t++) {
            int src = flip ? L - 1 - (t0 + t) : t0 + t;
            memcpy(h + (size_t)t * D, inp + (size_t)src * D, D * sizeof(float));
        }
        if (residual_norm) xt_layernorm_forward(h, NULL, NULL, h, m->norm_w, m->norm_b, T, D, 1e-5f);
        if (norm_tap) memcpy(norm_tap + (size_t)t0 * D, h, (size_t)T * D * sizeof(float));
        // xz = in_proj(h): x = xz[:, :DI], z = xz[:, DI:]
        xt_linear_forward(xz, h, m->in_proj_w, NULL, T, D, 2 * DI);
        // x = SiLU(causal depthwise conv1d(x) + bias)
        xt_causal_conv1d_forward(xc, hist, xz, 2 * DI, m->conv_w, m->conv_b, T, DI, K);
        xt_vsilu(xc, xc, T * DI);
        // dt, B, C = split(x_proj(x), [R, N, N]); delta = softplus(dt_proj.weight @ dt + bias)
        xt_linear_forward(dbc, xc, m->x_proj_w, NULL, T, DI, W);
        xt_gemm(0, 1, T, DI, R, 1.0f, dbc, W, m->dt_proj_w, R, 0.0f, delta, DI);
        for (int t = 0; t < T; t++) xt_vsoftplus_bias(delta + (size_t)t * DI, m->dt_proj_b, DI);
        xt_selective_scan_forward(y, state, xc, delta, AT, dbc + R, dbc + R + N, W, m->Dskip, T, DI, N);
        // y = y * SiLU(z)
        for (int t = 0; t < T; t++) xt_vsilu_mul(y + (size_t)t * DI, xz + (size_t)t * 2 * DI + DI, DI);
        xt_linear_forward(o, y, m->out_proj_w, NULL, T, DI, D);
        if (mixer_tap) memcpy(mixer_tap + (size_t)t0 * D, o, (size_t)T * D * sizeof(float));
        for (int t = 0; t < T; t++) {
            int dst = flip ? L - 1 - (t0 + t) : t0 + t;
            float *orow = out + (size_t)dst * D;
            const float *hr = h + (size_t)t * D, *orr = o + (size_t)t * D;
            if (residual_norm)
                for (int c = 0; c < D; c++) orow[c] = hr[c] + orr[c];
            else
                memcpy(orow, orr, D * sizeof(float));
        }
    }
    xt_arena_release(ws, mark);
}

int xt_mamba_block_forward(float *out, const float *inp, const xt_mamba *m, int B, int L,
                           int reverse, const xt_tap *tap, const char *path, xt_arena *ws) {
    if (B < 1 || L < 1) return xt_error("mamba", "bad sizes B=%d L=%d", B, L);
    size_t BLD = (size_t)B * L * m->D;
    float *nt = NULL, *mt = NULL;
    if (xt_tap_on(tap)) {
        nt = xt_malloc_checked(BLD * sizeof(float), "Mamba norm tap");
        mt = nt ? xt_malloc_checked(BLD * sizeof(float), "Mamba mixer tap") : NULL;
        if (!mt) { free(nt); return -1; }
    }
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * L * m->D;
        block_seq(out + off, inp + off, m, L, reverse, 1, nt ? nt + off : NULL, mt ? mt + off : NULL, ws);
    }
    if (nt) {
        xt_tap_emitf(tap, nt, 3, (int64_t[]){B, L, m->D}, "%s.norm", path);
        xt_tap_emitf(tap, mt, 3, (int64_t[]){B, L, m->D}, "%s.mixer", path);
        xt_tap_emitf(tap, out, 3, (int64_t[]){B, L, m->D}, "%s", path);
        free(nt);
        free(mt);
    }
    return 0;
}

int xt_mamba_mixer_forward(float *out, const float *inp, const xt_mamba *m, int B, int L, xt_arena *ws) {
    if (B < 1 || L < 1) return xt_error("mamba", "bad sizes B=%d L=%d", B, L);
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * L * m->D;
        block_seq(out + off, inp + off, m, L, 0, 0, NULL, NULL, ws);
    }
    return 0;
}
