// bench_seq.c — the long-sequence context layers alone: tokens/s and peak RSS.
//
//   build/bench/bench_seq mamba [L=1000000] [D=128] [THREADS=all]   one Mamba block, in place
//   build/bench/bench_seq hyper [L=200000] [D=256] [THREADS=all]    one causal HyperAttention
//                                  (heads D/128, official block/sample 256, min_seq_len 4096)
//   build/bench/bench_seq hyper_train [L=16384] [D=768] [THREADS=all]  its training forward +
//                                  backward (seq.h), then one whole LLMLayer training step
//                                  (mlp_ratio 4: the official context dims) in a fresh process
// Weights and inputs are random (the official init shapes: A_log = log(1..16), dt bias in
// softplus^-1([1e-3, 1e-1])). Peak RSS is the process high-water mark (VmHWM) after the run, so
// it includes the input buffer: the issue asks for < 1 GiB for Mamba at L = 1e6, D = 128.
#include <math.h>
#include <string.h>

#include "models/seq.h"
#include "models/trainable.h"

static uint32_t rs = 1;
static float frand(void) { // U(-1, 1)
    rs = rs * 1664525u + 1013904223u;
    return (rs >> 8) * (2.0f / 16777216.0f) - 1.0f;
}
static float *rnd(size_t n, float scale, float shift) {
    float *p = malloc(n * sizeof(float));
    XT_ASSERT(p);
    for (size_t i = 0; i < n; i++) p[i] = shift + scale * frand();
    return p;
}

static int bench_mamba(int L, int D) {
    xt_mamba m = {.D = D, .DI = 2 * D, .N = 16, .R = (D + 15) / 16, .K = 4};
    int DI = m.DI, N = m.N, R = m.R;
    m.norm_w = rnd(D, 0.1f, 1), m.norm_b = rnd(D, 0.1f, 0);
    m.in_proj_w = rnd((size_t)2 * DI * D, sqrtf(3.0f / D), 0);
    m.conv_w = rnd((size_t)DI * 4, 0.8f, 0), m.conv_b = rnd(DI, 0.1f, 0);
    m.x_proj_w = rnd((size_t)(R + 2 * N) * DI, sqrtf(3.0f / DI), 0);
    m.dt_proj_w = rnd((size_t)DI * R, sqrtf(3.0f / R), 0);
    float *dtb = rnd(DI, 0, 0), *alog = rnd((size_t)DI * N, 0, 0);
    for (int d = 0; d < DI; d++) {
        float dt = expf(logf(1e-3f) + (frand() + 1) * 0.5f * (logf(1e-1f) - logf(1e-3f)));
        dtb[d] = dt + logf(-expm1f(-dt)); // softplus^-1
        for (int n = 0; n < N; n++) alog[d * N + n] = logf(n + 1.0f);
    }
    m.dt_proj_b = dtb, m.A_log = alog;
    m.Dskip = rnd(DI, 0, 1), m.out_proj_w = rnd((size_t)D * DI, sqrtf(3.0f / DI), 0);
    float *x = rnd((size_t)L * D, 1.7f, 0);
    xt_arena ws;
    if (xt_arena_init(&ws, xt_mamba_workspace_size(&m, 1, L))) return 1;
    double t0 = xt_time();
    if (xt_mamba_block_forward(x, x, &m, 1, L, 1, NULL, "bench", &ws)) return 1;
    double dt = xt_time() - t0;
    double s = 0;
    int finite = 1;
    for (size_t i = 0; i < (size_t)L * D; i++) { s += x[i]; finite &= isfinite(x[i]) != 0; }
    printf("mamba block L=%d D=%d threads=%d: %.2f s, %.0f tokens/s, peak RSS %.0f MiB, workspace %.1f MiB, "
           "finite %d (checksum %.6g)\n", L, D, xt_get_threads(), dt, L / dt, xt_peak_rss() / 1048576.0,
           ws.size / 1048576.0, finite, s);
    return !finite;
}

static int bench_hyper(int L, int D) {
    int NH = D / 128 > 0 ? D / 128 : 1, HS = D / NH;
    size_t n = (size_t)NH * L * HS;
    float *q = rnd(n, 1.7f, 0), *k = rnd(n, 1.7f, 0), *v = rnd(n, 1.7f, 0), *o = malloc(n * 4);
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, NULL, 1);
    xt_hyper hy;
    int calls = 0;
    if (xt_hyper_init(&hy, &p, HS, NULL, "bench", &r)) return 1;
    xt_arena ws;
    if (xt_arena_init(&ws, xt_hyper_workspace_size(&hy, 1, NH, L))) return 1;
    double t0 = xt_time();
    if (xt_hyper_attention(o, q, k, v, 1, NH, L, &hy, &r, &calls, NULL, "bench", &ws)) return 1;
    double dt = xt_time() - t0;
    int finite = 1;
    for (size_t i = 0; i < n; i++) finite &= isfinite(o[i]) != 0;
    printf("hyper attention L=%d D=%d (NH %d, HS %d, block %d, sample %d, min %d) threads=%d: %.2f s, "
           "%.0f tokens/s, %d LSH levels, peak RSS %.0f MiB, finite %d\n", L, D, NH, HS, p.block_size,
           p.sample_size, p.min_seq_len, xt_get_threads(), dt, L / dt, calls / 2,
           xt_peak_rss() / 1048576.0, finite);
    return !finite;
}

// HyperAttention training forward + backward alone: q, k, v, out, dout, dq, dk, dv, the record
// and the backward workspace, all O(L D)
static int bench_hyper_train(int L, int D) {
    int NH = D / 128 > 0 ? D / 128 : 1, HS = D / NH;
    size_t n = (size_t)NH * L * HS;
    float *q = rnd(n, 1, 0), *k = rnd(n, 1, 0), *v = rnd(n, 1, 0), *dout = rnd(n, 1, 0);
    float *o = malloc(n * 4), *dq = malloc(n * 4), *dk = malloc(n * 4), *dv = malloc(n * 4);
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, NULL, 1);
    xt_hyper hy;
    if (xt_hyper_init(&hy, &p, HS, NULL, "bench", &r)) return 1;
    xt_arena m, ra, ws;
    xt_arena_init(&m, 0);
    xt_hyper_rec rec;
    if (xt_hyper_rec_plan(&rec, &hy, 1, NH, L, &m) || xt_arena_init(&ra, m.high + 64)) return 1;
    xt_hyper_rec_plan(&rec, &hy, 1, NH, L, &ra);
    size_t wf = xt_hyper_workspace_size(&hy, 1, NH, L), wb = xt_hyper_backward_ws_size(&hy, 1, NH, L);
    if (xt_arena_init(&ws, wf > wb ? wf : wb)) return 1;
    double t0 = xt_time();
    if (xt_hyper_attention_train(o, &rec, q, k, v, 1, NH, L, &hy, &r, &ws)) return 1;
    double t1 = xt_time();
    xt_arena_reset(&ws);
    if (xt_hyper_attention_backward(dq, dk, dv, dout, q, k, v, &hy, &rec, &ws)) return 1;
    double t2 = xt_time();
    int finite = 1;
    for (size_t i = 0; i < n; i++) finite &= isfinite(dq[i]) && isfinite(dk[i]) && isfinite(dv[i]);
    printf("hyper attention train L=%d D=%d (NH %d) threads=%d: forward %.2f s, backward %.2f s, %d levels, record "
           "%.0f MiB, backward workspace %.0f MiB, peak RSS %.0f MiB (stored probabilities would be %.0f MiB), finite %d\n",
           L, D, NH, xt_get_threads(), t1 - t0, t2 - t1, rec.K, m.high / 1048576.0, wb / 1048576.0,
           xt_peak_rss() / 1048576.0, (double)NH * L * L * 4 / 1048576.0, finite);
    return !finite;
}

// one LLMLayer (hyper attention, causal) training forward + backward at L tokens
static int bench_llm_train(int L, int D) {
    int NH = D / 128, F = 4 * D;
    xt_params P = {0};
    xt_llm_train_layer l = {0};
    xt_llm_train_register(&l, &P, "l.", D, F, 1);
    if (xt_params_alloc(&P)) return 1;
    for (size_t i = 0; i < P.total; i++) P.w[i] = 0.02f * frand();
    for (int i = 0; i < P.n; i++)
        if (strstr(P.p[i].name, "layernorm")) for (size_t j = 0; j < P.p[i].n; j++) xt_pw(&P, i)[j] = 1;
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    xt_hyper_rand r0, r;
    xt_hyper_rand_init(&r0, NULL, 0);
    xt_hyper_rand_init(&r, NULL, 1);
    xt_hyper hy;
    if (xt_hyper_init(&hy, &p, D / NH, NULL, "bench", &r0)) return 1;
    l.hy = &hy, l.rand = &r;
    xt_arena m, act, scr;
    xt_arena_init(&m, 0);
    xt_llm_train_plan(&l, &m, 1, L, D, F, 1, NH);
    if (xt_arena_init(&act, m.high + 64) || xt_arena_init(&scr, xt_llm_train_scratch_floats(&l, 1, L, D, F) * 4))
        return 1;
    xt_llm_train_plan(&l, &act, 1, L, D, F, 1, NH);
    float *x = rnd((size_t)L * D, 1, 0);
    double t0 = xt_time();
    if (xt_llm_train_forward(&l, &P, x, 1, L, D, F, 1, NH, 1, NULL, NULL)) return 1;
    double t1 = xt_time();
    for (size_t i = 0; i < (size_t)L * D; i++) x[i] = frand(); // dout
    xt_llm_train_backward(&l, &P, x, 1, L, D, F, 1, NH, &scr);
    double t2 = xt_time();
    int finite = 1;
    for (size_t i = 0; i < P.total; i++) finite &= isfinite(P.g[i]);
    printf("LLMLayer train L=%d D=%d F=%d (hyper, NH %d) threads=%d: forward %.2f s, backward %.2f s, activations "
           "%.0f MiB, backward scratch %.0f MiB, peak RSS %.0f MiB, finite %d\n", L, D, F, NH, xt_get_threads(),
           t1 - t0, t2 - t1, act.size / 1048576.0, scr.size / 1048576.0, xt_peak_rss() / 1048576.0, finite);
    return !finite;
}

int main(int argc, char **argv) {
    const char *what = argc > 1 ? argv[1] : "mamba";
    xt_set_threads(argc > 4 ? atoi(argv[4]) : 0);
    if (!strcmp(what, "mamba"))
        return bench_mamba(argc > 2 ? atoi(argv[2]) : 1000000, argc > 3 ? atoi(argv[3]) : 128);
    if (!strcmp(what, "hyper"))
        return bench_hyper(argc > 2 ? atoi(argv[2]) : 200000, argc > 3 ? atoi(argv[3]) : 256);
    if (!strcmp(what, "hyper_train"))
        return bench_hyper_train(argc > 2 ? atoi(argv[2]) : 16384, argc > 3 ? atoi(argv[3]) : 768);
    if (!strcmp(what, "llm_train"))
        return bench_llm_train(argc > 2 ? atoi(argv[2]) : 16384, argc > 3 ? atoi(argv[3]) : 768);
    fprintf(stderr, "usage: bench_seq mamba|hyper|hyper_train|llm_train [L] [D] [THREADS]\n");
    return 2;
}
