// scan.c — Mamba's selective scan, linear in the sequence length, state carried across chunks.
//
// ref: mamba_ssm/ops/selective_scan_interface.py selective_scan_ref (v1.1.4):
//   deltaA = exp(delta * A); deltaB_u = delta * B * u; x = deltaA * x + deltaB_u; y = x . C
// The state is laid out (N, DI) so that the innermost loop runs over contiguous channels: it
// vectorizes without reassociating the sum over the state dimension (which stays in order n).
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "nn/fastmath.h"
#include "nn/nn.h"

// exp: xt_expf (fastmath.h), branch-free so the loops over it vectorize; arguments clamped to
// [-87, 88] (exp(-87) ~ 1.6e-38 instead of a denormal or 0: irrelevant as a decay factor).
#define fexp xt_expf

XT_VECTORIZE void xt_vexp(float *out, const float *x, int n) {
    for (int i = 0; i < n; i++) out[i] = fexp(x[i]);
}

XT_VECTORIZE void xt_vsilu(float *out, const float *x, int n) {
    for (int i = 0; i < n; i++) out[i] = x[i] / (1.0f + fexp(-x[i]));
}

XT_VECTORIZE void xt_vsilu_mul(float *y, const float *z, int n) {
    for (int i = 0; i < n; i++) y[i] *= z[i] / (1.0f + fexp(-z[i]));
}

// Cephes logf for x > 0 (normal), branch-free: x = m 2^e with m in [sqrt(1/2), sqrt(2)).
static inline float flog(float x) {
    int32_t b;
    memcpy(&b, &x, sizeof b);
    int32_t e = ((b >> 23) & 0xff) - 126;
    b = (b & 0x807fffff) | 0x3f000000; // mantissa in [0.5, 1)
    float m;
    memcpy(&m, &b, sizeof m);
    // m < sqrt(1/2): use 2m and e - 1 (arithmetic select: keeps the loop free of branches)
    float small = (float)(m < 0.707106781186547524f);
    float fe = (float)e - small;
    m = m - 1.0f + small * m;
    float z = m * m;
    float y = 7.0376836292e-2f;
    y = y * m - 1.1514610310e-1f;
    y = y * m + 1.1676998740e-1f;
    y = y * m - 1.2420140846e-1f;
    y = y * m + 1.4249322787e-1f;
    y = y * m - 1.6668057665e-1f;
    y = y * m + 2.0000714765e-1f;
    y = y * m - 2.4999993993e-1f;
    y = y * m + 3.3333331174e-1f;
    y = y * m * z;
    y += -2.12194440e-4f * fe;
    y += -0.5f * z;
    return m + y + 0.693359375f * fe;
}

// torch softplus (beta 1, threshold 20): x > 20 ? x : log1p(exp(x)), on x + bias.
// log1p(y) = log(u) + (y - (u - 1)) / u with u = 1 + y (the correction restores the bits of y
// lost in the rounding of u, so tiny y give y).
XT_VECTORIZE void xt_vsoftplus_bias(float *x, const float *bias, int n) {
    // two loops over tiles: GCC does not vectorize fexp and flog fused in one loop body
    float v[64], y[64], u[64];
    for (int i0 = 0; i0 < n; i0 += 64) {
        int m = n - i0 < 64 ? n - i0 : 64;
        for (int i = 0; i < m; i++) {
            v[i] = x[i0 + i] + bias[i0 + i];
            y[i] = fexp(v[i]);
            u[i] = 1.0f + y[i];
        }
        for (int i = 0; i < m; i++) {
            float l = flog(u[i]) + (y[i] - (u[i] - 1.0f)) / u[i];
            float big = (float)(v[i] > 20.0f); // arithmetic select (l is finite: fexp clamps)
            x[i0 + i] = big * v[i] + (1.0f - big) * l;
        }
    }
}

#define TILE 64 // channels per tile: the tile's state (N x TILE) stays in L1

// One tile of nd channels over T steps. Called with nd == TILE (a constant after inlining, so
// the loops have fixed trip counts and vectorize even under -O2's cheap cost model) or with the
// leftover width.
XT_VECTORIZE static void scan_tile(float *restrict y, float *restrict state, const float *restrict u,
                             const float *restrict delta, const float *restrict AT,
                             const float *restrict Bm, const float *restrict Cm, int ldbc,
                             const float *restrict Dskip, int T, int DI, int N, int d0, int nd) {
    float dtu[TILE], acc[TILE], dA[TILE];
    for (int t = 0; t < T; t++) {
        const float *restrict dt = delta + (size_t)t * DI + d0, *restrict ut = u + (size_t)t * DI + d0;
        const float *bt = Bm + (size_t)t * ldbc, *ct = Cm + (size_t)t * ldbc;
        for (int d = 0; d < nd; d++) { dtu[d] = dt[d] * ut[d]; acc[d] = 0; }
        for (int n = 0; n < N; n++) {
            float *restrict s = state + (size_t)n * DI + d0;
            const float *restrict a = AT + (size_t)n * DI + d0;
            float b = bt[n], c = ct[n];
            for (int d = 0; d < nd; d++) dA[d] = fexp(dt[d] * a[d]);
            for (int d = 0; d < nd; d++) {
                s[d] = dA[d] * s[d] + dtu[d] * b;
                acc[d] += s[d] * c;
            }
        }
        float *restrict yt = y + (size_t)t * DI + d0;
        if (Dskip)
            for (int d = 0; d < nd; d++) yt[d] = acc[d] + Dskip[d0 + d] * ut[d];
        else
            for (int d = 0; d < nd; d++) yt[d] = acc[d];
    }
}

void xt_selective_scan_forward(float *y, float *state, const float *u, const float *delta,
                               const float *AT, const float *Bm, const float *Cm, int ldbc,
                               const float *Dskip, int T, int DI, int N) {
    int ntiles = (DI + TILE - 1) / TILE;
#pragma omp parallel for schedule(static) if ((long)T * DI * N > 65536)
    for (int tile = 0; tile < ntiles; tile++) {
        int d0 = tile * TILE;
        if (DI - d0 >= TILE) scan_tile(y, state, u, delta, AT, Bm, Cm, ldbc, Dskip, T, DI, N, d0, TILE);
        else scan_tile(y, state, u, delta, AT, Bm, Cm, ldbc, Dskip, T, DI, N, d0, DI - d0);
    }
}

void xt_selective_scan_naive(float *y, double *state, const float *u, const float *delta,
                             const float *AT, const float *Bm, const float *Cm, int ldbc,
                             const float *Dskip, int T, int DI, int N) {
    for (int t = 0; t < T; t++)
        for (int d = 0; d < DI; d++) {
            double dt = delta[(size_t)t * DI + d], ut = u[(size_t)t * DI + d], acc = 0;
            for (int n = 0; n < N; n++) {
                double *s = &state[(size_t)n * DI + d];
                *s = exp(dt * AT[(size_t)n * DI + d]) * *s + dt * Bm[(size_t)t * ldbc + n] * ut;
                acc += *s * Cm[(size_t)t * ldbc + n];
            }
            y[(size_t)t * DI + d] = (float)(acc + (Dskip ? Dskip[d] * ut : 0.0));
        }
}
