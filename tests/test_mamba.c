// test_mamba.c — Mamba pieces against tools/gen_ref_seq.py (a copy of the golden spec.py):
// causal depthwise conv1d (whole and in chunks), the selective scan (whole and in chunks), the
// mixer, the xT Block (reversed, batch 2, taps), a 1100-token block (several internal chunks,
// both directions, in place), bad weights, and a 100k-token scan against a float64 loop.
// Tolerances: kernels 1e-5 absolute; blocks 1e-4 x max(1, max|ref|) (the golden README's rule;
// observed ~1e-6); the long scan 2e-4 x max(1, max|ref|) against float64 over 100k steps.
#include <string.h>

#include "check_golden.h"
#include "models/seq.h"

typedef struct {
    xt_st *st;
    int n;
} tapctx;

static void on_tap(void *u, const char *name, const float *x, const int64_t *shape, int ndim) {
    tapctx *c = u;
    int r = check_golden(c->st, name, x, shape, ndim, 0, 1e-4);
    CHECK(r != 0); // every tap of these references has an expected tensor
    if (r) c->n++;
}

static const float *get(xt_st *st, const char *name) {
    const float *p = xt_st_f32(st, name, NULL);
    if (!p) fprintf(stderr, "%s\n", xt_error_buffer());
    XT_ASSERT(p);
    return p;
}

static void kernels(xt_st *st) {
    // conv: (2, 37, 24), K 4; batch 1 in one call, batch 0 in chunks of 1, 5, 31
    int T = 37, C = 24, K = 4;
    const float *x = get(st, "input.conv.x"), *w = get(st, "input.conv.w"), *b = get(st, "input.conv.b");
    const float *ref = get(st, "expected.conv");
    float out[2 * 37 * 24], hist[3 * 24];
    for (int bb = 0; bb < 2; bb++) {
        memset(hist, 0, sizeof hist);
        int cuts[] = {0, 1, 6, T}, nc = bb ? 1 : 3;
        if (bb) cuts[1] = T;
        for (int i = 0; i < nc; i++)
            xt_causal_conv1d_forward(out + (bb * T + cuts[i]) * C, hist, x + (bb * T + cuts[i]) * C, C, w, b,
                                     cuts[i + 1] - cuts[i], C, K);
    }
    CHECK_CLOSE(out, ref, 2 * T * C, 1e-5, 0, "conv1d");
    // scan: (37, 40), N 16, in chunks of 10, 27
    int DI = 40, N = 16;
    const float *u = get(st, "input.scan.u"), *dl = get(st, "input.scan.delta"), *A = get(st, "input.scan.A");
    const float *Bm = get(st, "input.scan.B"), *Cm = get(st, "input.scan.C"), *Dp = get(st, "input.scan.D");
    float AT[16 * 40], state[16 * 40] = {0}, y[37 * 40];
    for (int d = 0; d < DI; d++)
        for (int n = 0; n < N; n++) AT[n * DI + d] = A[d * N + n];
    xt_selective_scan_forward(y, state, u, dl, AT, Bm, Cm, N, Dp, 10, DI, N);
    xt_selective_scan_forward(y + 10 * DI, state, u + 10 * DI, dl + 10 * DI, AT, Bm + 10 * N, Cm + 10 * N, N, Dp,
                              27, DI, N);
    CHECK_CLOSE(y, get(st, "expected.scan"), T * DI, 1e-5, 0, "selective scan");
    double dstate[16 * 40] = {0};
    float y2[37 * 40];
    xt_selective_scan_naive(y2, dstate, u, dl, AT, Bm, Cm, N, Dp, T, DI, N);
    CHECK_CLOSE(y2, get(st, "expected.scan"), T * DI, 1e-5, 0, "selective scan (naive double)");
    // vectorised exp over its whole range
    float xs[2001], e[2001], maxrel = 0;
    for (int i = 0; i <= 2000; i++) xs[i] = -87.0f + i * (175.0f / 2000);
    xt_vexp(e, xs, 2001);
    for (int i = 0; i <= 2000; i++) {
        double r = exp((double)xs[i]);
        float rel = (float)fabs((e[i] - r) / r);
        if (rel > maxrel) maxrel = rel;
    }
    printf("xt_vexp max rel. error %.3g\n", maxrel);
    CHECK(maxrel < 3e-7f);
    // softplus (torch threshold 20) and SiLU against float64, relative to max(|ref|, 1e-30)
    float sp[2001], zero[2001] = {0}, si[2001], msp = 0, msi = 0;
    for (int i = 0; i <= 2000; i++) xs[i] = -40.0f + i * (80.0f / 2000);
    memcpy(sp, xs, sizeof sp);
    xt_vsoftplus_bias(sp, zero, 2001);
    xt_vsilu(si, xs, 2001);
    for (int i = 0; i <= 2000; i++) {
        double x = xs[i], rsp = x > 20 ? x : log1p(exp(x)), rsi = x / (1 + exp(-x));
        float e1 = (float)(fabs(sp[i] - rsp) / fmax(fabs(rsp), 1e-30));
        float e2 = (float)(fabs(si[i] - rsi) / fmax(fabs(rsi), 1e-30));
        if (e1 > msp) msp = e1;
        if (e2 > msi) msi = e2;
    }
    printf("softplus max rel. error %.3g, SiLU %.3g\n", msp, msi);
    CHECK(msp < 1e-6f);
    CHECK(msi < 1e-6f);
}

static void blocks(xt_st *st) {
    xt_mamba m;
    CHECK(xt_mamba_load(&m, st, "a.", 32) == 0);
    CHECK(m.DI == 64 && m.N == 16 && m.R == 2 && m.K == 4);
    int B = 2, L = 50, D = 32;
    float *out = malloc((size_t)B * L * D * 4);
    xt_arena ws;
    CHECK(xt_arena_init(&ws, xt_mamba_workspace_size(&m, B, L)) == 0);
    tapctx tc = {st, 0};
    xt_tap tap = {on_tap, &tc};
    CHECK(xt_mamba_block_forward(out, get(st, "input.a"), &m, B, L, 1, &tap, "a", &ws) == 0);
    CHECK(tc.n == 3); // a.norm, a.mixer, a
    CHECK(xt_mamba_mixer_forward(out, get(st, "input.a"), &m, B, L, &ws) == 0);
    CHECK_CLOSE(out, get(st, "expected.a.mixer_only"), B * L * D, 0, 1e-4, "mixer");
    CHECK(ws.high <= ws.size);
    xt_arena_free(&ws);
    free(out);

    // 1100 tokens in internal chunks of 300 (state and conv history carried), both directions,
    // in place
    CHECK(xt_mamba_load(&m, st, "b.", 16) == 0);
    m.chunk = 300;
    L = 1100, D = 16;
    float *x = malloc((size_t)L * D * 4);
    CHECK(xt_arena_init(&ws, xt_mamba_workspace_size(&m, 1, L)) == 0);
    for (int rev = 0; rev < 2; rev++) {
        memcpy(x, get(st, "input.b"), (size_t)L * D * 4);
        CHECK(xt_mamba_block_forward(x, x, &m, 1, L, rev, NULL, "b", &ws) == 0);
        CHECK_CLOSE(x, get(st, rev ? "expected.b.rev1" : "expected.b.rev0"), L * D, 0, 1e-4,
                    rev ? "block 1100 reversed (in place)" : "block 1100 (in place)");
    }
    CHECK(ws.high <= ws.size);
    xt_arena_free(&ws);
    free(x);

    // bad weights: wrong width, missing tensor
    CHECK(xt_mamba_load(&m, st, "a.", 48) == -1);
    CHECK(strstr(xt_error_buffer(), "a.norm.weight") != NULL);
    CHECK(xt_mamba_load(&m, st, "c.", 32) == -1);
    CHECK(strstr(xt_error_buffer(), "c.mixer.A_log") != NULL);
}

// 100k steps of the scan in chunks of 4096 against a float64 loop: the state stays bounded and
// the float32 recurrence does not drift.
static void long_scan(void) {
    int T = 100000, DI = 32, N = 16, CH = 4096;
    float *u = malloc((size_t)T * DI * 4), *dl = malloc((size_t)T * DI * 4), *bc = malloc((size_t)T * 2 * N * 4);
    float *y = malloc((size_t)T * DI * 4), *y2 = malloc((size_t)T * DI * 4);
    uint32_t s = 12345;
    for (size_t i = 0; i < (size_t)T * DI; i++) {
        s = s * 1664525u + 1013904223u;
        u[i] = (s >> 8) * (2.0f / 16777216.0f) - 1.0f;
        s = s * 1664525u + 1013904223u;
        dl[i] = log1pf(expf((s >> 8) * (4.0f / 16777216.0f) - 3.0f)); // softplus(U(-3, 1))
    }
    for (size_t i = 0; i < (size_t)T * 2 * N; i++) {
        s = s * 1664525u + 1013904223u;
        bc[i] = (s >> 8) * (2.0f / 16777216.0f) - 1.0f;
    }
    float AT[16 * 32], Dp[32], st[16 * 32] = {0};
    double dst[16 * 32] = {0};
    for (int n = 0; n < N; n++)
        for (int d = 0; d < DI; d++) AT[n * DI + d] = -(n + 1) * (0.5f + d / 64.0f); // S4D-real-like
    for (int d = 0; d < DI; d++) Dp[d] = 1.0f;
    double t0 = xt_time();
    for (int t = 0; t < T; t += CH) {
        int n = T - t < CH ? T - t : CH;
        xt_selective_scan_forward(y + (size_t)t * DI, st, u + (size_t)t * DI, dl + (size_t)t * DI, AT,
                                  bc + (size_t)t * 2 * N, bc + (size_t)t * 2 * N + N, 2 * N, Dp, n, DI, N);
    }
    double t1 = xt_time();
    xt_selective_scan_naive(y2, dst, u, dl, AT, bc, bc + N, 2 * N, Dp, T, DI, N);
    printf("scan 100k x 32 ch x 16 states: %.3f s (%.1f Mtok*ch/s), float64 loop %.3f s\n", t1 - t0,
           (double)T * DI / (t1 - t0) / 1e6, xt_time() - t1);
    int finite = 1;
    for (size_t i = 0; i < (size_t)T * DI; i++) finite &= isfinite(y[i]) != 0;
    CHECK(finite);
    CHECK_CLOSE(y, y2, (long)T * DI, 0, 2e-4, "scan 100k vs float64");
    free(u), free(dl), free(bc), free(y), free(y2);
}

// The official file xt_cls_mamba : both blocks from the stored decoder input,
// layer 0 reversed; norm, mixer and layer outputs at 1e-4 x max(1, max|ref|).
static void golden_mamba(void) {
    xt_st *st = xt_st_open(golden("xt_cls_mamba.safetensors"));
    CHECK(st != NULL);
    if (!st) return;
    int L = 65, D = 128;
    float *x = malloc((size_t)L * D * 4);
    memcpy(x, get(st, "expected.decoder.layers.0.in"), (size_t)L * D * 4);
    tapctx tc = {st, 0};
    xt_tap tap = {on_tap, &tc};
    for (int i = 0; i < 2; i++) {
        char pre[64], path[64];
        snprintf(pre, sizeof pre, "decoder.layers.%d.", i);
        snprintf(path, sizeof path, "decoder.layers.%d", i);
        xt_mamba m;
        CHECK(xt_mamba_load(&m, st, pre, D) == 0);
        xt_arena ws;
        CHECK(xt_arena_init(&ws, xt_mamba_workspace_size(&m, 1, L)) == 0);
        CHECK(xt_mamba_block_forward(x, x, &m, 1, L, i % 2 == 0, &tap, path, &ws) == 0);
        xt_arena_free(&ws);
    }
    CHECK(tc.n == 6);
    printf("golden xt_cls_mamba: %d tensors compared\n", tc.n);
    free(x);
    xt_st_close(st);
}

int main(void) {
    xt_st *st = xt_st_open("tests/ref/seq_mamba.safetensors");
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    kernels(st);
    blocks(st);
    long_scan();
    golden_mamba();
    xt_st_close(st);
    return check_summary("mamba");
}
