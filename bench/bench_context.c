// bench_context.c — long-sequence context layers (a program, not a test): tokens/s and peak RSS.
//
//   build/bench/bench_context attn  [--L 200000] [--D 256] [--method stream|hyper|hyper-exact] [--threads 2]
//   build/bench/bench_context mamba [--L 1000000] [--D 128] [--threads 2]
//   build/bench/bench_context naive [--L 16384] [--D 64] [--threads 2]
//   build/bench/bench_context gemm [--threads 2]
//
// gemm: xt_gemm's GFLOP/s (best of 3 timed batches of calls) on the shapes xt's layers use —
// 2048³, a flash-attention tile, Swin V2-T linears forward and backward, an im2col conv, small
// window products (docs/performance.md, "One GEMM").
// One layer per process run, so the printed peak RSS (VmHWM) is that layer's alone.
//
// attn: a causal self-attention layer as xT's LLMLayer sizes it — NH = D / 128 heads of 128
// (golden README bug 2), q/k/v/out projections (D -> D, no bias), residual:
//     x <- x + Wo · attention(Wq x, Wk x, Wv x).
// Heads are processed one at a time so only one head's q, k, v (L x 128 each) are alive beside x
// and the projection accumulator: memory O(L·D), 3.5 L·D floats in all (D = 256).
// --method stream (default): exact causal softmax attention, blocked and streamed with an online
//   softmax (xt_attention_forward, src/nn/attention.c: the kernel xT's context layers
//   use up to min_seq_len); never an L x L matrix.
// --method hyper: xt_hyper_attention with the official settings (exact causal attention up to
//   min_seq_len 4096, HyperAttention recursion beyond: LSH-sorted blocks of 256 + 256 sampled
//   keys) — what attention_method "hyper" computes at this length; one more L x 128 buffer.
// --method hyper-exact: xt_hyper_attention with min_seq_len > L (its row-by-row exact path).
// FLOPs counted (2 x MACs): projections 8 L D^2; exact attention 2 · 2 · L(L+1)/2 · D (q·k and
// p·v over the causal triangle). For the exact methods the attention alone is also printed as
// GFLOP/s and as % of the sgemm peak (xt_gemm 2048^3, same threads) measured just before. For hyper only the projections are counted (its attention
// cost depends on the sampling); tokens/s is the comparable number.
// Peak RSS must stay under 1 GiB at L = 200,000 (stream: x, acc 2 x 195 MiB + q, k, v 3 x 98).
// Projections run in 4096-row chunks: one tall library sgemm may touch a scratch buffer the size
// of its A operand (measured: +195 MiB for x (200,000 x 256)).
//
// mamba: the xT Mamba block (LayerNorm, Mamba mixer d_state 16, d_conv 4, expand 2, dt_rank
// D/16, residual on the normalised stream) over L tokens in place (xt_mamba_block_forward),
// random weights with mamba_ssm's init ranges, written to a scratch model file first.
//
// naive: the official "naive" context attention alone (golden README bug 1: ViTAttention with
// num_heads = dim, head size 1, scale 1, not causal; xt_channel_attention_forward, src/nn/
// attention.c) over random q, k, v (L, 3D) as the layer stores them, output over q. Its cost is
// one exp per (query, key, channel): printed as G pair evaluations/s (L^2 D / s) beside tokens/s.
// Defaults: the README's 4096^2 scene with models/synth_xl (L = 64 x 64 regions x 4 tokens, D 64).
//
// Prints "RESULT <what> L=... D=... threads=T sec=S tokens_per_s=R peak_rss_mb=M".
#include <math.h>
#include <string.h>
#include <unistd.h>

#include "formats/safetensors.h"
#include "models/seq.h"
#include "nn/nn.h"

static uint64_t rng = 0x9E3779B97F4A7C15ull;
static float urand(float lo, float hi) { // xorshift64*, uniform [lo, hi)
    rng ^= rng >> 12;
    rng ^= rng << 25;
    rng ^= rng >> 27;
    uint64_t r = rng * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * (float)((r >> 40) / 16777216.0);
}
static float *rand_array(size_t n, float a) {
    float *p = xt_malloc_checked(n * sizeof(float), "bench array");
    if (!p) {
        fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
        exit(1);
    }
    for (size_t i = 0; i < n; i++) p[i] = urand(-a, a);
    return p;
}

static void result(const char *what, long L, int D, double sec, double flops) {
    printf("RESULT %s L=%ld D=%d threads=%d sec=%.3f tokens_per_s=%.0f", what, L, D, xt_get_threads(), sec,
           L / sec);
    if (flops > 0) printf(" gflops=%.1f", flops / sec / 1e9);
    printf(" peak_rss_mb=%.0f\n", xt_peak_rss() / 1048576.0);
}

enum { M_STREAM, M_HYPER_EXACT, M_HYPER };

// GFLOP/s of the project's sgemm (xt_gemm: oneDNN) on 2048^3 at the current thread count,
// best of 3 after a warm-up: the peak the attention kernels are measured against.
static double sgemm_peak(void) {
    const int N = 2048;
    float *a = xt_xmalloc((size_t)N * N * sizeof(float)), *b = xt_xmalloc((size_t)N * N * sizeof(float));
    float *c = xt_xmalloc((size_t)N * N * sizeof(float));
    for (size_t i = 0; i < (size_t)N * N; i++) a[i] = b[i] = c[i] = (float)(i % 13) * 0.01f; // (not the rng: the data stay those of older runs)
    double best = 1e30;
    for (int r = 0; r < 4; r++) {
        double t = xt_time();
        xt_gemm(0, 0, N, N, N, 1.0f, a, N, b, N, 0.0f, c, N);
        t = xt_time() - t;
        if (r && t < best) best = t;
    }
    free(a), free(b), free(c);
    return 2.0 * N * N * N / best / 1e9;
}
#define CHUNK 4096 // rows per projection GEMM

static int bench_attn(long L, int D, int method) {
    const int HS = 128, NH = D / HS;
    if (D % HS || L < 2 || L > 100000000) {
        fprintf(stderr, "bench_context: attn needs D a multiple of 128 and 2 <= L\n");
        return 2;
    }
    const size_t LD = (size_t)L * D, LH = (size_t)L * HS;
    float a = 1.0f / sqrtf((float)D);
    float *wq = rand_array((size_t)D * D, a), *wk = rand_array((size_t)D * D, a);
    float *wv = rand_array((size_t)D * D, a), *wo = rand_array((size_t)D * D, a);
    float *x = rand_array(LD, 1.0f);
    float *acc = xt_malloc_checked(LD * sizeof(float), "acc");
    float *q = xt_malloc_checked(LH * sizeof(float), "q"), *k = xt_malloc_checked(LH * sizeof(float), "k");
    float *v = xt_malloc_checked(LH * sizeof(float), "v");
    // the streamed kernel may write its output over q; HyperAttention needs its own
    float *o = method == M_STREAM ? q : xt_malloc_checked(LH * sizeof(float), "o");
    float *scr = method == M_STREAM ? xt_malloc_checked(xt_attention_scratch_floats(HS) * sizeof(float), "scratch")
                                    : NULL;
    if (!acc || !q || !k || !v || !o || (method == M_STREAM && !scr)) {
        fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
        return 1;
    }
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    if (method == M_HYPER_EXACT) p.min_seq_len = (int)L + 1;
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, NULL, 1);
    xt_hyper hy;
    int calls = 0;
    xt_arena ws;
    if (xt_hyper_init(&hy, &p, HS, NULL, "bench.attn", &r) ||
        xt_arena_init(&ws, xt_hyper_workspace_size(&hy, 1, 1, (int)L))) {
        fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
        return 1;
    }
    double peak = method != M_HYPER ? sgemm_peak() : 0;
    double t0 = xt_time(), t_attn = 0;
    for (int h = 0; h < NH; h++) {
        // q_h (L, HS) = x (L, D) @ Wq[h*HS:(h+1)*HS, :]^T, likewise k, v
        // in row chunks: OpenBLAS touched a scratch buffer as large as A for one tall GEMM
        // (+195 MiB of peak RSS at L = 200,000 if done in one call)
        for (long r0 = 0; r0 < L; r0 += CHUNK) {
            int n = (int)(L - r0 < CHUNK ? L - r0 : CHUNK);
            const float *xr = x + (size_t)r0 * D;
            xt_gemm(0, 1, n, HS, D, 1.0f, xr, D, wq + (size_t)h * HS * D, D, 0.0f, q + (size_t)r0 * HS, HS);
            xt_gemm(0, 1, n, HS, D, 1.0f, xr, D, wk + (size_t)h * HS * D, D, 0.0f, k + (size_t)r0 * HS, HS);
            xt_gemm(0, 1, n, HS, D, 1.0f, xr, D, wv + (size_t)h * HS * D, D, 0.0f, v + (size_t)r0 * HS, HS);
        }
        double ta = xt_time();
        xt_arena_reset(&ws);
        if (method == M_STREAM) {
            xt_attention_forward(o, HS, NULL, q, HS, k, HS, v, HS, (int)L, HS, 1.0f / sqrtf((float)HS), 1, scr);
        } else if (xt_hyper_attention(o, q, k, v, 1, 1, (int)L, &hy, &r, &calls, NULL, "bench.attn", &ws)) {
            fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
            return 1;
        }
        t_attn += xt_time() - ta;
        // acc (L, D) (+)= o_h (L, HS) @ Wo[:, h*HS:(h+1)*HS]^T
        for (long r0 = 0; r0 < L; r0 += CHUNK) {
            int n = (int)(L - r0 < CHUNK ? L - r0 : CHUNK);
            xt_gemm(0, 1, n, D, HS, 1.0f, o + (size_t)r0 * HS, HS, wo + (size_t)h * HS, D, h ? 1.0f : 0.0f,
                    acc + (size_t)r0 * D, D);
        }
    }
    xt_add(x, x, acc, LD);
    double sec = xt_time() - t0;
    double fl = 8.0 * L * D * D + (method != M_HYPER ? 2.0 * 2.0 * (L * (L + 1.0) / 2.0) * D : 0.0);
    double cs = 0;
    for (size_t i = 0; i < LD; i += 997) cs += x[i];
    printf("# attention part %.3f s of %.3f s; checksum %.6g\n", t_attn, sec, cs);
    if (peak > 0) {
        double fa = 2.0 * 2.0 * (L * (L + 1.0) / 2.0) * D / t_attn / 1e9;
        printf("# attention alone %.1f GFLOP/s = %.0f %% of the sgemm peak %.1f GFLOP/s (xt_gemm 2048^3, %d threads, "
               "measured just before)\n", fa, 100 * fa / peak, peak, xt_get_threads());
    }
    static const char *names[] = {"xt-attn-stream", "xt-attn-hyper-exact", "xt-attn-hyper"};
    result(names[method], L, D, sec, fl);
    xt_hyper_free(&hy);
    xt_arena_free(&ws);
    free(wq), free(wk), free(wv), free(wo), free(x), free(acc), free(q), free(k), free(v);
    if (method != M_STREAM) free(o);
    free(scr);
    return 0;
}

static int bench_mamba(long L, int D) {
    const int DI = 2 * D, N = 16, K = 4, R = (D + 15) / 16;
    if (L < 1 || L > 1000000000 || D < 1) {
        fprintf(stderr, "bench_context: bad sizes\n");
        return 2;
    }
    // mamba_ssm Mamba.__init__ init ranges; A_log = log(1..N); dt in [1e-3, 1e-1] log-uniform.
    xt_st_writer *w = xt_st_writer_new();
    float *t;
    const char *pre = "layers.0.";
    char name[128];
#define ADD(nm, n, a, ...)                                                                        \
    do {                                                                                      \
        t = rand_array(n, a);                                                                 \
        snprintf(name, sizeof name, "%s%s", pre, nm);                                         \
        int64_t sh[] = {__VA_ARGS__};                                                         \
        xt_st_writer_add(w, name, t, (int)(sizeof sh / sizeof sh[0]), sh);                    \
        free(t);                                                                              \
    } while (0)
    ADD("mixer.in_proj.weight", (size_t)2 * DI * D, 1.0f / sqrtf(D), 2 * DI, D);
    ADD("mixer.conv1d.weight", (size_t)DI * K, 1.0f / sqrtf(K), DI, 1, K);
    ADD("mixer.conv1d.bias", (size_t)DI, 1.0f / sqrtf(K), DI);
    ADD("mixer.x_proj.weight", (size_t)(R + 2 * N) * DI, 1.0f / sqrtf(DI), R + 2 * N, DI);
    ADD("mixer.dt_proj.weight", (size_t)DI * R, 1.0f / sqrtf(R), DI, R);
    ADD("mixer.out_proj.weight", (size_t)D * DI, 1.0f / sqrtf(DI), D, DI);
    t = xt_xmalloc((size_t)DI * N * sizeof(float));
    for (int d = 0; d < DI; d++)
        for (int n = 0; n < N; n++) t[d * N + n] = logf((float)(n + 1));
    snprintf(name, sizeof name, "%smixer.A_log", pre);
    xt_st_writer_add(w, name, t, 2, (int64_t[]){DI, N});
    for (int d = 0; d < DI; d++) {
        float dt = expf(urand(logf(1e-3f), logf(1e-1f)));
        t[d] = dt + logf(-expm1f(-dt)); // inverse softplus
    }
    snprintf(name, sizeof name, "%smixer.dt_proj.bias", pre);
    xt_st_writer_add(w, name, t, 1, (int64_t[]){DI});
    for (int d = 0; d < DI; d++) t[d] = 1.0f;
    snprintf(name, sizeof name, "%smixer.D", pre);
    xt_st_writer_add(w, name, t, 1, (int64_t[]){DI});
    snprintf(name, sizeof name, "%snorm.weight", pre);
    xt_st_writer_add(w, name, t, 1, (int64_t[]){D});
    for (int d = 0; d < D; d++) t[d] = 0.0f;
    snprintf(name, sizeof name, "%snorm.bias", pre);
    xt_st_writer_add(w, name, t, 1, (int64_t[]){D});
    free(t);
#undef ADD
    char path[] = "/tmp/xt_bench_mamba_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) return 1;
    close(fd);
    if (xt_st_writer_save(w, path)) {
        fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
        return 1;
    }
    xt_st *st = xt_st_open(path);
    unlink(path);
    xt_mamba mb;
    if (!st || xt_mamba_load(&mb, st, pre, D)) {
        fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
        return 1;
    }
    float *x = rand_array((size_t)L * D, 1.0f);
    xt_arena ws;
    if (xt_arena_init(&ws, xt_mamba_workspace_size(&mb, 1, (int)L))) {
        fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
        return 1;
    }
    double t0 = xt_time();
    if (xt_mamba_block_forward(x, x, &mb, 1, (int)L, 0, NULL, "bench", &ws)) {
        fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
        return 1;
    }
    double sec = xt_time() - t0;
    // 2 x MACs of the projections (in, x, dt, out) and of the scan (~3 per state element).
    double fl = 2.0 * L * ((double)D * 2 * DI + (double)DI * (R + 2 * N) + (double)R * DI + (double)DI * D) +
                2.0 * L * 3.0 * DI * N;
    double cs = 0;
    for (size_t i = 0; i < (size_t)L * D; i += 997) cs += x[i];
    printf("# checksum %.6g\n", cs);
    result("xt-mamba", L, D, sec, fl);
    xt_arena_free(&ws);
    xt_st_close(st);
    free(x);
    return 0;
}

static int bench_naive(long L, int D) {
    if (L < 1 || L > 1000000 || D < 1) {
        fprintf(stderr, "bench_context: bad sizes\n");
        return 2;
    }
    float *qkv = rand_array((size_t)L * 3 * D, 1.0f);
    float *scr = xt_malloc_checked(xt_channel_attention_scratch_floats(D) * sizeof(float), "scratch");
    if (!scr) {
        fprintf(stderr, "bench_context: %s\n", xt_error_buffer());
        return 1;
    }
    double t0 = xt_time();
    xt_channel_attention_forward(qkv, 3 * D, NULL, qkv, qkv + D, qkv + 2 * D, 3 * D, (int)L, D, scr);
    double sec = xt_time() - t0;
    double cs = 0;
    for (long i = 0; i < L; i += 7)
        for (int c = 0; c < D; c++) cs += qkv[(size_t)i * 3 * D + c];
    printf("# checksum %.6g; %.2f G pair evaluations/s\n", cs, (double)L * L * D / sec / 1e9);
    result("xt-naive", L, D, sec, 0);
    free(qkv), free(scr);
    return 0;
}

static int bench_gemm(void) {
    static const struct { int M, N, K, ta, tb; const char *what; } sh[] = {
        {2048, 2048, 2048, 0, 0, "square"},
        {256, 256, 128, 0, 1, "flash tile S = q k^T"},
        {256, 128, 256, 0, 0, "flash tile P v"},
        {4096, 384, 96, 0, 1, "Swin V2-T stage-1 qkv (batch 4 of 32^2 tokens)"},
        {4096, 96, 384, 0, 0, "its backward dX"},
        {384, 96, 4096, 1, 0, "its backward dW"},
        {1024, 768, 192, 0, 1, "stage-2 fc1"},
        {16384, 96, 288, 0, 0, "im2col conv 3x3 (128^2 x 32 ch)"},
        {256, 256, 32, 0, 1, "window scores (256 tokens, head 32)"},
        {64, 64, 64, 0, 0, "small"},
    };
    for (size_t s = 0; s < sizeof sh / sizeof sh[0]; s++) {
        int M = sh[s].M, N = sh[s].N, K = sh[s].K, lda = sh[s].ta ? M : K, ldb = sh[s].tb ? K : N;
        float *A = rand_array((size_t)M * K, 1), *B = rand_array((size_t)K * N, 1), *C = rand_array((size_t)M * N, 1);
        double fl = 2.0 * M * N * K, best = 1e30;
        int reps = (int)(2e10 / fl) + 1;
        for (int r = 0; r < 4; r++) {
            double t = xt_time();
            for (int i = 0; i < reps; i++) xt_gemm(sh[s].ta, sh[s].tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, N);
            t = (xt_time() - t) / reps;
            if (r && t < best) best = t;
        }
        printf("RESULT xt-gemm M=%d N=%d K=%d trans=%d%d threads=%d gflops=%.1f  # %s\n", M, N, K, sh[s].ta, sh[s].tb,
               xt_get_threads(), fl / best / 1e9, sh[s].what);
        free(A), free(B), free(C);
    }
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 2 && !strcmp(argv[1], "gemm")) {
        int threads = argc == 4 && !strcmp(argv[2], "--threads") ? atoi(argv[3]) : 2;
        if (argc != 2 && argc != 4) goto usage;
        xt_set_threads(threads);
        return bench_gemm();
    }
    if (argc < 2 || (strcmp(argv[1], "attn") && strcmp(argv[1], "mamba") && strcmp(argv[1], "naive"))) goto usage;
    int mamba = !strcmp(argv[1], "mamba"), naive = !strcmp(argv[1], "naive");
    long L = mamba ? 1000000 : naive ? 16384 : 200000;
    int D = mamba ? 128 : naive ? 64 : 256, threads = 2, method = M_STREAM;
    for (int i = 2; i < argc; i += 2) {
        if (i + 1 >= argc) goto usage;
        const char *a = argv[i], *v = argv[i + 1];
        if (!strcmp(a, "--L")) L = atol(v);
        else if (!strcmp(a, "--D")) D = atoi(v);
        else if (!strcmp(a, "--threads")) threads = atoi(v);
        else if (!strcmp(a, "--method") && !strcmp(v, "stream")) method = M_STREAM;
        else if (!strcmp(a, "--method") && !strcmp(v, "hyper-exact")) method = M_HYPER_EXACT;
        else if (!strcmp(a, "--method") && !strcmp(v, "hyper")) method = M_HYPER;
        else goto usage;
    }
    if (L < 1 || L > 2000000000L) goto usage;
    xt_set_threads(threads);
    return mamba ? bench_mamba(L, D) : naive ? bench_naive(L, D) : bench_attn(L, D, method);
usage:
    fprintf(stderr, "usage: bench_context attn [--L 200000] [--D 256] [--method stream|hyper|hyper-exact] [--threads T]\n"
                    "       bench_context mamba [--L 1000000] [--D 128] [--threads T]\n"
                    "       bench_context naive [--L 16384] [--D 64] [--threads T]\n"
                    "       bench_context gemm [--threads T]\n");
    return 2;
}
