// mamba_bwd.c — xT's Mamba context layers for training: forward keeping the activations
// (including every scan state) and the backward, over (N, Lt, D) token sequences.
//
// ref: xt/models/context_encoders/mamba.py Block and mamba_ssm v1.1.4 mamba_simple.Mamba (slow
// path, selective_scan_ref); golden spec.py mamba_mixer. Per layer i (reversed when i is even):
//   h = LayerNorm(flip?(x));  o = Mamba(h);  x = flip?(h + o)
//   Mamba: [xi, z] = h in_proj^T;  xs = SiLU(causal depthwise conv(xi) + b);
//          [dt, B, C] = xs x_proj^T;  delta = softplus(dt dt_proj^T + dt_bias);  A = -exp(A_log)
//          s_t = exp(delta_t A) s_{t-1} + delta_t B_t xs_t;  y_t = C_t . s_t + D xs_t
//          out = (y * SiLU(z)) out_proj^T
// Defaults as the official Block: d_state 16, d_conv 4, expand 2, dt_rank ceil(D / 16).
#include <math.h>
#include <string.h>

#include "nn/nn.h"
#include "models/trainable.h"

typedef struct {
    int A_log, Dp, inw, convw, convb, xw, dtw, dtb, outw, nw, nb; // param ids
    float *hin, *mean, *rstd, *h, *xz, *xc, *xs, *dbc, *u, *delta, *st, *y, *yg, *o;
} mlayer;

struct xt_mamba_train {
    int D, Di, S, R, K, nl;
    mlayer *L;
};

static int reg(xt_params *P, const char *pre, int i, const char *name, int nd, int64_t a, int64_t b, int64_t c) {
    char nm[200];
    snprintf(nm, sizeof nm, "%s%d.%s", pre, i, name);
    int64_t sh[3] = {a, b, c};
    return xt_params_add(P, nm, nd, sh);
}

xt_mamba_train *xt_mamba_train_new(xt_params *P, const char *prefix, int D, int n_layers) {
    xt_mamba_train *m = xt_xcalloc(1, sizeof *m);
    m->D = D, m->Di = 2 * D, m->S = 16, m->K = 4, m->R = (D + 15) / 16, m->nl = n_layers;
    m->L = xt_xcalloc(n_layers ? n_layers : 1, sizeof(mlayer));
    int Di = m->Di, S = m->S, R = m->R;
    for (int i = 0; i < n_layers; i++) {
        mlayer *l = &m->L[i];
        l->A_log = reg(P, prefix, i, "mixer.A_log", 2, Di, S, 0);
        l->Dp = reg(P, prefix, i, "mixer.D", 1, Di, 0, 0);
        l->inw = reg(P, prefix, i, "mixer.in_proj.weight", 2, 2 * Di, D, 0);
        l->convw = reg(P, prefix, i, "mixer.conv1d.weight", 3, Di, 1, m->K);
        l->convb = reg(P, prefix, i, "mixer.conv1d.bias", 1, Di, 0, 0);
        l->xw = reg(P, prefix, i, "mixer.x_proj.weight", 2, R + 2 * S, Di, 0);
        l->dtw = reg(P, prefix, i, "mixer.dt_proj.weight", 2, Di, R, 0);
        l->dtb = reg(P, prefix, i, "mixer.dt_proj.bias", 1, Di, 0, 0);
        l->outw = reg(P, prefix, i, "mixer.out_proj.weight", 2, D, Di, 0);
        l->nw = reg(P, prefix, i, "norm.weight", 1, D, 0, 0);
        l->nb = reg(P, prefix, i, "norm.bias", 1, D, 0, 0);
    }
    return m;
}

void xt_mamba_train_free(xt_mamba_train *m) {
    if (!m) return;
    free(m->L);
    free(m);
}

// Places the saved activations in a, setting out's pointers; with out NULL only counts them.
static void plan(const xt_mamba_train *m, int N, int Lt, xt_arena *a, xt_mamba_train *out) {
    mlayer sink;
    size_t T = (size_t)N * Lt, D = m->D, Di = m->Di;
    for (int i = 0; i < m->nl; i++) {
        mlayer *l = out ? &out->L[i] : &sink;
        l->hin = xt_arena_f32(a, T * D);
        l->mean = xt_arena_f32(a, T);
        l->rstd = xt_arena_f32(a, T);
        l->h = xt_arena_f32(a, T * D);
        l->xz = xt_arena_f32(a, T * 2 * Di);
        l->xc = xt_arena_f32(a, T * Di);
        l->xs = xt_arena_f32(a, T * Di);
        l->dbc = xt_arena_f32(a, T * (m->R + 2 * m->S));
        l->u = xt_arena_f32(a, T * Di);
        l->delta = xt_arena_f32(a, T * Di);
        l->st = xt_arena_f32(a, T * Di * m->S);
        l->y = xt_arena_f32(a, T * Di);
        l->yg = xt_arena_f32(a, T * Di);
        l->o = xt_arena_f32(a, T * D);
    }
}

void xt_mamba_train_plan(xt_mamba_train *m, int N, int Lt, xt_arena *a) { plan(m, N, Lt, a, m); }

size_t xt_mamba_train_act_bytes(const xt_mamba_train *m, int N, int Lt) {
    xt_arena a;
    xt_arena_init(&a, 0);
    plan(m, N, Lt, &a, NULL);
    return a.high;
}

static inline float sigm(float x) { return 1.0f / (1.0f + expf(-x)); }

int xt_mamba_train_forward(xt_mamba_train *m, const xt_params *P, float *x, int N, int Lt, const xt_tap *tap) {
    int D = m->D, Di = m->Di, S = m->S, R = m->R, K = m->K, E = R + 2 * S, T = N * Lt;
    char nm[96];
    for (int i = 0; i < m->nl; i++) {
        mlayer *l = &m->L[i];
        int rev = i % 2 == 0;
        for (int n = 0; n < N; n++)
            for (int t = 0; t < Lt; t++)
                memcpy(l->hin + ((size_t)n * Lt + t) * D, x + ((size_t)n * Lt + (rev ? Lt - 1 - t : t)) * D, D * sizeof(float));
        xt_layernorm_forward(l->h, l->mean, l->rstd, l->hin, xt_pw(P, l->nw), xt_pw(P, l->nb), T, D, 1e-5f);
        snprintf(nm, sizeof nm, "decoder.layers.%d.norm", i);
        xt_tap_emit(tap, nm, l->h, 3, (int64_t)N, (int64_t)Lt, (int64_t)D);
        xt_linear_forward(l->xz, l->h, xt_pw(P, l->inw), NULL, T, D, 2 * Di);
        const float *cw = xt_pw(P, l->convw), *cb = xt_pw(P, l->convb), *Dp = xt_pw(P, l->Dp), *Al = xt_pw(P, l->A_log);
        for (int n = 0; n < N; n++) // causal depthwise conv, left zero padding K-1
            for (int t = 0; t < Lt; t++)
                for (int c = 0; c < Di; c++) {
                    float a = cb[c];
                    for (int k = 0; k < K; k++) {
                        int tt = t - (K - 1) + k;
                        if (tt >= 0) a += cw[c * K + k] * l->xz[((size_t)n * Lt + tt) * 2 * Di + c];
                    }
                    l->xc[((size_t)n * Lt + t) * Di + c] = a;
                }
        xt_silu_forward(l->xs, l->xc, (size_t)T * Di);
        xt_linear_forward(l->dbc, l->xs, xt_pw(P, l->xw), NULL, T, Di, E);
        // u = dt dt_proj^T + b  (dt = dbc[:, :R], row stride E)
        xt_gemm(0, 1, T, Di, R, 1.0f, l->dbc, E, xt_pw(P, l->dtw), R, 0.0f, l->u, Di);
        for (int t = 0; t < T; t++)
            for (int c = 0; c < Di; c++) l->u[(size_t)t * Di + c] += xt_pw(P, l->dtb)[c];
        xt_softplus_forward(l->delta, l->u, (size_t)T * Di);
        for (int n = 0; n < N; n++) { // selective scan (ref: selective_scan_ref)
#pragma omp parallel for if (Di >= 64)
            for (int c = 0; c < Di; c++) {
                float s[S];
                for (int j = 0; j < S; j++) s[j] = 0;
                for (int t = 0; t < Lt; t++) {
                    size_t r = (size_t)n * Lt + t;
                    float dl = l->delta[r * Di + c], xv = l->xs[r * Di + c], yv = 0;
                    const float *Bt = l->dbc + r * E + R, *Ct = Bt + S;
                    float *so = l->st + (r * Di + c) * S;
                    for (int j = 0; j < S; j++) {
                        float A = -expf(Al[c * S + j]);
                        s[j] = expf(dl * A) * s[j] + dl * Bt[j] * xv;
                        so[j] = s[j];
                        yv += s[j] * Ct[j];
                    }
                    l->y[r * Di + c] = yv + Dp[c] * xv;
                }
            }
        }
        for (int t = 0; t < T; t++)
            for (int c = 0; c < Di; c++) {
                float z = l->xz[(size_t)t * 2 * Di + Di + c];
                l->yg[(size_t)t * Di + c] = l->y[(size_t)t * Di + c] * z * sigm(z);
            }
        xt_linear_forward(l->o, l->yg, xt_pw(P, l->outw), NULL, T, Di, D);
        snprintf(nm, sizeof nm, "decoder.layers.%d.mixer", i);
        xt_tap_emit(tap, nm, l->o, 3, (int64_t)N, (int64_t)Lt, (int64_t)D);
        for (int n = 0; n < N; n++)
            for (int t = 0; t < Lt; t++) {
                float *d = x + ((size_t)n * Lt + (rev ? Lt - 1 - t : t)) * D;
                const float *a = l->h + ((size_t)n * Lt + t) * D, *b = l->o + ((size_t)n * Lt + t) * D;
                for (int j = 0; j < D; j++) d[j] = a[j] + b[j]; // residual on the normalised stream
            }
        snprintf(nm, sizeof nm, "decoder.layers.%d", i);
        xt_tap_emit(tap, nm, x, 3, (int64_t)N, (int64_t)Lt, (int64_t)D);
    }
    return 0;
}

size_t xt_mamba_train_scratch_floats(const xt_mamba_train *m, int N, int Lt) {
    size_t T = (size_t)N * Lt;
    return T * (3 * (size_t)m->D + 2 * 2 * (size_t)m->Di + 2 * (size_t)m->Di + (m->R + 2 * m->S)) +
           T * m->Di * m->S + 64;
}

void xt_mamba_train_backward(xt_mamba_train *m, xt_params *P, float *dx, int N, int Lt, float *scratch) {
    int D = m->D, Di = m->Di, S = m->S, R = m->R, K = m->K, E = R + 2 * S, T = N * Lt;
    float *dh = scratch, *dhin = dh + (size_t)T * D, *t1 = dhin + (size_t)T * D;
    float *dxz = t1 + (size_t)T * D, *dxs = dxz + (size_t)T * 2 * Di, *du = dxs + (size_t)T * Di;
    float *dyg = du + (size_t)T * Di, *ddbc = dyg + (size_t)T * Di, *dS = ddbc + (size_t)T * E;
    for (int i = m->nl - 1; i >= 0; i--) {
        mlayer *l = &m->L[i];
        int rev = i % 2 == 0;
        const float *cw = xt_pw(P, l->convw), *Dp = xt_pw(P, l->Dp), *Al = xt_pw(P, l->A_log);
        float *gA = xt_pg(P, l->A_log), *gD = xt_pg(P, l->Dp), *gcw = xt_pg(P, l->convw), *gcb = xt_pg(P, l->convb);
        // x_out = flip?(h + o): dh (= do) in the layer's order
        for (int n = 0; n < N; n++)
            for (int t = 0; t < Lt; t++)
                memcpy(dh + ((size_t)n * Lt + t) * D, dx + ((size_t)n * Lt + (rev ? Lt - 1 - t : t)) * D, D * sizeof(float));
        // o = yg out_proj^T
        xt_linear_backward(dyg, xt_pg(P, l->outw), NULL, dh, l->yg, xt_pw(P, l->outw), T, Di, D);
        // yg = y * SiLU(z): dy into du (temporarily), dz into dxz[:, Di:]
        for (int t = 0; t < T; t++)
            for (int c = 0; c < Di; c++) {
                float z = l->xz[(size_t)t * 2 * Di + Di + c], sg = sigm(z), g = dyg[(size_t)t * Di + c];
                du[(size_t)t * Di + c] = g * z * sg;
                dxz[(size_t)t * 2 * Di + Di + c] = g * l->y[(size_t)t * Di + c] * sg * (1.0f + z * (1.0f - sg));
            }
        float *dy = du;
        memset(dxs, 0, (size_t)T * Di * sizeof(float));
        memset(ddbc, 0, (size_t)T * E * sizeof(float));
        // scan backward, per channel; dS (T, Di, S) kept for the B reduction
        for (int n = 0; n < N; n++) {
#pragma omp parallel for if (Di >= 64)
            for (int c = 0; c < Di; c++) {
                float carry[S], gAc[S];
                for (int j = 0; j < S; j++) carry[j] = gAc[j] = 0;
                float gDc = 0;
                for (int t = Lt - 1; t >= 0; t--) {
                    size_t r = (size_t)n * Lt + t;
                    float dl = l->delta[r * Di + c], xv = l->xs[r * Di + c], g = dy[r * Di + c], ddl = 0, dxv = 0;
                    const float *Bt = l->dbc + r * E + R, *Ct = Bt + S;
                    const float *sp = t > 0 ? l->st + ((r - 1) * Di + c) * S : NULL;
                    float *dSo = dS + (r * Di + c) * S;
                    gDc += g * xv; // y = C.s + D xs
                    dxv += g * Dp[c];
                    for (int j = 0; j < S; j++) {
                        float A = -expf(Al[c * S + j]), ea = expf(dl * A), sprev = sp ? sp[j] : 0.0f;
                        float ds = carry[j] + g * Ct[j]; // s_t feeds y_t and s_{t+1}
                        dSo[j] = ds;
                        // s_t = exp(dl A) s_{t-1} + dl B x
                        ddl += ds * (A * ea * sprev + Bt[j] * xv);
                        gAc[j] += ds * dl * ea * sprev;
                        dxv += ds * dl * Bt[j];
                        carry[j] = ds * ea;
                    }
                    du[r * Di + c] = ddl; // dy consumed for this (t, c): reuse as d(delta)
                    dxs[r * Di + c] += dxv;
                }
                gD[c] += gDc;
                for (int j = 0; j < S; j++) gA[c * S + j] += gAc[j] * -expf(Al[c * S + j]); // A = -exp(A_log)
            }
        }
        // dB_t = sum_c dS delta x;  dC_t = sum_c dy s  (fixed-order reductions)
        // (dy was overwritten by d(delta): recomputed from the gate gradient)
        for (int t = 0; t < T; t++) {
            float *dB = ddbc + (size_t)t * E + R, *dC = dB + S;
            for (int c = 0; c < Di; c++) {
                float z = l->xz[(size_t)t * 2 * Di + Di + c], g = dyg[(size_t)t * Di + c] * z * sigm(z);
                float dx_ = l->delta[(size_t)t * Di + c] * l->xs[(size_t)t * Di + c];
                const float *ds = dS + ((size_t)t * Di + c) * S, *s = l->st + ((size_t)t * Di + c) * S;
                for (int j = 0; j < S; j++) {
                    dB[j] += ds[j] * dx_;
                    dC[j] += g * s[j];
                }
            }
        }
        // delta = softplus(u): du = d(delta) * sigmoid(u)
        xt_softplus_backward(du, du, l->u, (size_t)T * Di);
        float *gdb = xt_pg(P, l->dtb);
        for (int t = 0; t < T; t++)
            for (int c = 0; c < Di; c++) gdb[c] += du[(size_t)t * Di + c];
        // u = dt dt_proj^T: d(dt) (T, R) into ddbc[:, :R], dW += du^T dt
        xt_gemm(0, 0, T, R, Di, 1.0f, du, Di, xt_pw(P, l->dtw), R, 0.0f, ddbc, E);
        xt_gemm(1, 0, Di, R, T, 1.0f, du, Di, l->dbc, E, 1.0f, xt_pg(P, l->dtw), R);
        // dbc = xs x_proj^T
        xt_gemm(0, 0, T, Di, E, 1.0f, ddbc, E, xt_pw(P, l->xw), Di, 1.0f, dxs, Di);
        xt_gemm(1, 0, E, Di, T, 1.0f, ddbc, E, l->xs, Di, 1.0f, xt_pg(P, l->xw), Di);
        // xs = SiLU(xc); xc = conv(xi) + b
        xt_silu_backward(dxs, dxs, l->xc, (size_t)T * Di);
        for (int n = 0; n < N; n++)
            for (int t = 0; t < Lt; t++)
                for (int c = 0; c < Di; c++) dxz[((size_t)n * Lt + t) * 2 * Di + c] = 0;
        for (int n = 0; n < N; n++)
            for (int t = 0; t < Lt; t++)
                for (int c = 0; c < Di; c++) {
                    float g = dxs[((size_t)n * Lt + t) * Di + c];
                    gcb[c] += g;
                    for (int k = 0; k < K; k++) {
                        int tt = t - (K - 1) + k;
                        if (tt < 0) continue;
                        gcw[c * K + k] += g * l->xz[((size_t)n * Lt + tt) * 2 * Di + c];
                        dxz[((size_t)n * Lt + tt) * 2 * Di + c] += g * cw[c * K + k];
                    }
                }
        // xz = h in_proj^T; plus the residual h + o
        xt_linear_backward(t1, xt_pg(P, l->inw), NULL, dxz, l->h, xt_pw(P, l->inw), T, D, 2 * Di);
        for (size_t j = 0; j < (size_t)T * D; j++) dh[j] += t1[j];
        xt_layernorm_backward(dhin, xt_pg(P, l->nw), xt_pg(P, l->nb), dh, l->hin, xt_pw(P, l->nw), l->mean, l->rstd, T, D);
        for (int n = 0; n < N; n++)
            for (int t = 0; t < Lt; t++)
                memcpy(dx + ((size_t)n * Lt + (rev ? Lt - 1 - t : t)) * D, dhin + ((size_t)n * Lt + t) * D, D * sizeof(float));
    }
}
