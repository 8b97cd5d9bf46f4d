// bench_swin.c — Swin V2-T region benchmark (a program, not a test).
//
//   build/bench/bench_swin [--threads 1,2] [--batch 4] [--iters 5] [--warmup 1] [--img 256]
//                          [--model FILE] [--ref RESULTS.txt] [--matmul f32|bf16|int8|f32,bf16,int8]
//   build/bench/bench_swin --peak [--threads 1,2]
//
// --peak: the machine's float32 GEMM rate, the yardstick of "% of peak": a 2048^3 oneDNN matmul
// (the same library and call the encoder's linears use), best of 10 per thread count, printed as
// "RESULT sgemm threads=T gflops=G".
// Swin V2-T: embed 96, depths 2-2-6-2, heads 3-6-12-24, window 16 (clamped to the map on small
// stages, as timm does), random weights from xt_swinv2_random_weights (seed 0), written once to
// FILE (default build/bench/swinv2_t_<img>.safetensors) and then mmap'd like any model file.
// Times encoder->forward on batches of `batch` regions: `warmup` untimed batches, then `iters`
// timed ones, per thread count (xt_set_threads); regions/s from the median batch time (robust to
// other jobs on a shared machine; the minimum is printed too). Prints regions/s, GFLOP/s (analytic count,
// swin_flops below — the same formula as bench/torch_swin.py) and peak RSS (VmHWM of this
// process, weights mapping included).
//
// --ref: a file holding the "RESULT torch ..." / "RESULT ort ..." lines of bench/torch_swin.py
// and bench/ort_swin.mjs (bench/run_bench.sh makes it); the table then shows them beside xt with
// the ratios xt/PyTorch-best and xt/ORT (same thread count).
//
// --matmul: the encoder's "precision" config ("f32", default; "bf16": the big linears in bfloat16
// on oneDNN, float32 accumulation — docs/swinv2.md; "int8": the same linears in int8, per-channel
// weight and per-token activation scales — docs/performance.md, "Reduced precision"). Modes run in that order in one process, so
// the bf16 rows' peak RSS includes the f32 run's high-water mark.
//
// When the model file has to be generated, the program re-executes itself afterwards so the
// peak RSS it reports is that of inference only, not of writing 110 MB of weights.
#include <errno.h>
#include <math.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/safetensors.h"
#include "models/models.h"
#include "nn/nn.h"

#define MAXT 8
#define MAXREF 16

static const char *CFG_FMT =
    "{\"kind\": \"swin_region\", \"embed_dim\": 96, \"depths\": [2, 2, 6, 2], "
    "\"num_heads\": [3, 6, 12, 24], \"window_size\": 16, \"mlp_ratio\": 4, \"in_chans\": 3, "
    "\"img_size\": %d}";

// Analytic FLOPs (2 x multiply-adds) per region; mirrors swin_flops() in bench/torch_swin.py.
// Counted: patch-embed conv, every linear (qkv, proj, fc1, fc2, patch-merging reduction) and the
// two attention matmuls (q k^T, attn v) with the window clamped to the feature map. Not counted:
// norms, softmax, GELU, cosine normalisation, bias adds, copies, the cpb MLP (input-independent).
static double swin_flops(int img) {
    static const int depths[4] = {2, 2, 6, 2};
    double H = img / 4, C = 96, macs = H * H * (3 * 16) * C;
    for (int s = 0; s < 4; s++) {
        double N = H * H, w = H < 16 ? H : 16, T = w * w, hid = 4 * C;
        for (int d = 0; d < depths[s]; d++)
            macs += N * C * 3 * C + N * C * C + 2 * N * C * hid + 2 * N * T * C;
        if (s < 3) {
            macs += (N / 4) * (4 * C) * (2 * C);
            H /= 2;
            C *= 2;
        }
    }
    return 2.0 * macs;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}
static double median(const double *v, int n) { return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]); }

typedef struct {
    char prog[16];
    int threads;
    double rps, rss_mb;
} result;

static int parse_refs(const char *path, result *r, int max) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_swin: cannot open %s: %s\n", path, strerror(errno));
        return -1;
    }
    char line[512];
    int n = 0;
    while (n < max && fgets(line, sizeof line, f)) {
        result x = {0};
        if (sscanf(line, "RESULT %15s threads=%d", x.prog, &x.threads) != 2) continue;
        const char *p = strstr(line, "regions_per_s=");
        const char *q = strstr(line, "peak_rss_mb=");
        if (!p || !q) continue;
        x.rps = atof(p + 14);
        x.rss_mb = atof(q + 12);
        r[n++] = x;
    }
    fclose(f);
    return n;
}

static int make_model(const char *path, const xt_json *cfg, const char *cfg_text) {
    xt_st_writer *w = xt_st_writer_new();
    xt_st_writer_meta(w, "config", cfg_text);
    if (xt_swinv2_random_weights(w, cfg, "model.", 0) || xt_st_writer_save(w, path)) {
        fprintf(stderr, "bench_swin: %s\n", xt_error_buffer());
        return -1;
    }
    return 0;
}

static int gemm_peak(const int *threads, int nt) {
    const int n = 2048;
    float *a = xt_xmalloc((size_t)n * n * sizeof(float)), *b = xt_xmalloc((size_t)n * n * sizeof(float)),
          *c = xt_xmalloc((size_t)n * n * sizeof(float));
    for (size_t i = 0; i < (size_t)n * n; i++) a[i] = (float)(i % 13) * 0.1f, b[i] = (float)(i % 7) * 0.1f;
    xt_mm *mm = xt_mm_new(0);
    if (!mm) return fprintf(stderr, "bench_swin: %s\n", xt_error_buffer()), 1;
    for (int ti = 0; ti < nt; ti++) {
        xt_set_threads(threads[ti]);
        double best = 1e30;
        for (int it = 0; it < 11; it++) {
            double t0 = xt_time();
            if (xt_mm_f32_run(mm, c, a, b, n, n, n)) return fprintf(stderr, "bench_swin: %s\n", xt_error_buffer()), 1;
            if (it && xt_time() - t0 < best) best = xt_time() - t0; // call 0 creates the primitive
        }
        printf("RESULT sgemm threads=%d n=%d gflops=%.1f\n", threads[ti], n, 2.0 * n * n * n / best / 1e9);
        fflush(stdout);
    }
    xt_mm_free(mm);
    free(a), free(b), free(c);
    return 0;
}

int main(int argc, char **argv) {
    const char *threads_s = "1,2", *model = NULL, *ref = NULL, *matmul_s = "f32";
    int batch = 4, iters = 5, warmup = 1, img = 256, peak = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--peak")) {
            peak = 1;
            continue;
        }
        if (!v) goto usage;
        if (!strcmp(a, "--threads")) threads_s = v;
        else if (!strcmp(a, "--batch")) batch = atoi(v);
        else if (!strcmp(a, "--iters")) iters = atoi(v);
        else if (!strcmp(a, "--warmup")) warmup = atoi(v);
        else if (!strcmp(a, "--img")) img = atoi(v);
        else if (!strcmp(a, "--model")) model = v;
        else if (!strcmp(a, "--ref")) ref = v;
        else if (!strcmp(a, "--matmul")) matmul_s = v;
        else goto usage;
        i++;
    }
    if (batch < 1 || iters < 1 || warmup < 0 || img < 32 || img % 32) goto usage;
    int modes[3], nm = 0; // 0: f32, 1: bf16, 2: int8
    if (strstr(matmul_s, "f32")) modes[nm++] = 0;
    if (strstr(matmul_s, "bf16")) modes[nm++] = 1;
    if (strstr(matmul_s, "int8")) modes[nm++] = 2;
    if (!nm) goto usage;

    int threads[MAXT], nt = 0;
    for (const char *p = threads_s; *p && nt < MAXT;) {
        threads[nt++] = atoi(p);
        p = strchr(p, ',');
        if (!p) break;
        p++;
    }
    if (peak) return gemm_peak(threads, nt);

    char cfg_text[512], model_buf[256];
    snprintf(cfg_text, sizeof cfg_text, CFG_FMT, img);
    xt_json *cfg = xt_json_parse(cfg_text, strlen(cfg_text), "bench config");
    XT_ASSERT(cfg);
    if (!model) {
        snprintf(model_buf, sizeof model_buf, "build/bench/swinv2_t_%d.safetensors", img);
        model = model_buf;
    }
    struct stat sb;
    if (stat(model, &sb) != 0) {
        fprintf(stderr, "# writing random-weight model %s\n", model);
        if (make_model(model, cfg, cfg_text)) return 1;
        // Fresh process so peak RSS reflects inference only.
        char *args[32];
        int na = 0;
        args[na++] = "/proc/self/exe";
        for (int i = 1; i < argc && na < 28; i++) args[na++] = argv[i];
        if (model == model_buf) {
            args[na++] = "--model";
            args[na++] = model_buf;
        }
        args[na] = NULL;
        fflush(NULL);
        execv("/proc/self/exe", args);
        fprintf(stderr, "bench_swin: re-exec failed (%s); peak RSS includes model writing\n",
                strerror(errno));
    }

    xt_st *st = xt_st_open(model);
    if (!st) {
        fprintf(stderr, "bench_swin: %s\n", xt_error_buffer());
        return 1;
    }
    const double fl = swin_flops(img);
    const size_t nin = (size_t)batch * 3 * img * img;
    float *x = xt_xmalloc(nin * sizeof(float));
    for (size_t i = 0; i < nin; i++) x[i] = (float)(i % 251) / 125.0f - 1.0f; // same ramp as ORT

    result xr[3 * MAXT];
    int nx = 0;
    for (int mi = 0; mi < nm; mi++) {
        const char *mm = modes[mi] == 2 ? "int8" : modes[mi] ? "bf16" : "f32";
        char mcfg_text[600];
        snprintf(mcfg_text, sizeof mcfg_text, "%.*s, \"precision\": \"%s\"}", (int)strlen(cfg_text) - 1, cfg_text, mm);
        xt_json *mcfg = xt_json_parse(mcfg_text, strlen(mcfg_text), "bench config");
        XT_ASSERT(mcfg);
        xt_encoder *e = xt_swinv2_new(st, mcfg, "model.", img);
        if (!e) {
            fprintf(stderr, "bench_swin: %s\n", xt_error_buffer());
            return 1;
        }
        printf("# xt Swin V2-T %dx%d, matmul %s: %.2f M params, %.3f GFLOP/region counted (encoder reports %.3f)\n",
               img, img, mm, e->n_params / 1e6, fl / 1e9, e->flops / 1e9);
        float *out[XT_MAX_STAGES];
        for (int s = 0; s < e->n_stages; s++)
            out[s] = xt_xmalloc((size_t)batch * e->stage_c[s] * e->stage_h[s] * e->stage_w[s] * sizeof(float));
        for (int ti = 0; ti < nt; ti++) {
            xt_set_threads(threads[ti]);
            xt_arena ws;
            if (xt_arena_init(&ws, e->workspace_size(e, batch))) {
                fprintf(stderr, "bench_swin: %s\n", xt_error_buffer());
                return 1;
            }
            double *times = xt_xmalloc((size_t)iters * sizeof(double));
            for (int it = 0; it < warmup + iters; it++) {
                double t0 = xt_time();
                xt_arena_reset(&ws);
                if (e->forward(e, x, batch, out, &ws, NULL, "")) {
                    fprintf(stderr, "bench_swin: %s\n", xt_error_buffer());
                    return 1;
                }
                if (it >= warmup) times[it - warmup] = xt_time() - t0;
            }
            qsort(times, iters, sizeof(double), cmp_double);
            double dt = median(times, iters), tmin = times[0];
            free(times);
            xt_arena_free(&ws);
            const int s3 = e->n_stages - 1;
            size_t n3 = (size_t)batch * e->stage_c[s3] * e->stage_h[s3] * e->stage_w[s3];
            double am = 0;
            for (size_t i = 0; i < n3; i++) am += fabs(out[s3][i]);
            printf("# matmul=%s threads=%d checksum stage3 absmean=%.6f\n", mm, threads[ti], am / n3);
            xr[nx] = (result){"", threads[ti], batch / dt, xt_peak_rss() / 1048576.0};
            snprintf(xr[nx].prog, sizeof xr[nx].prog, "xt-%s", mm);
            printf("RESULT %s threads=%d batch=%d regions_per_s=%.3f sec_per_batch=%.4f min_sec_per_batch=%.4f "
                   "gflops=%.1f peak_rss_mb=%.0f\n",
                   xr[nx].prog, threads[ti], batch, batch / dt, dt, tmin, batch / dt * fl / 1e9, xr[nx].rss_mb);
            fflush(stdout);
            nx++;
        }
        for (int s = 0; s < e->n_stages; s++) free(out[s]);
        e->free(e);
        xt_json_free(mcfg);
    }

    if (ref) {
        result rr[MAXREF];
        int nr = parse_refs(ref, rr, MAXREF);
        if (nr < 0) return 1;
        double torch_best = 0;
        for (int i = 0; i < nr; i++)
            if (!strcmp(rr[i].prog, "torch") && rr[i].rps > torch_best) torch_best = rr[i].rps;
        printf("\nSwin V2-T, %dx%d regions, batch %d, %.3f GFLOP/region (2 x MACs: linears, conv, "
               "attention matmuls)\n", img, img, batch, fl / 1e9);
        printf("| program | threads | regions/s | GFLOP/s | peak RSS (MiB) |\n|---|---:|---:|---:|---:|\n");
        for (int i = 0; i < nr; i++)
            printf("| %s | %d | %.2f | %.1f | %.0f |\n",
                   !strcmp(rr[i].prog, "torch") ? "PyTorch 1.13 (OpenBLAS)"
                   : !strcmp(rr[i].prog, "ort") ? "ONNX Runtime 1.30" : rr[i].prog,
                   rr[i].threads, rr[i].rps, rr[i].rps * fl / 1e9, rr[i].rss_mb);
        for (int i = 0; i < nx; i++)
            printf("| xt (%s matmuls) | %d | %.2f | %.1f | %.0f |\n", xr[i].prog + 3, xr[i].threads, xr[i].rps,
                   xr[i].rps * fl / 1e9, xr[i].rss_mb);
        printf("\n| xt | threads | xt / PyTorch best (%.2f regions/s) | xt / ORT same threads |\n"
               "|---|---:|---:|---:|\n", torch_best);
        for (int i = 0; i < nx; i++) {
            double ort = 0;
            for (int j = 0; j < nr; j++)
                if (!strcmp(rr[j].prog, "ort") && rr[j].threads == xr[i].threads) ort = rr[j].rps;
            printf("| %s | %d | %.2fx | %.2fx |\n", xr[i].prog, xr[i].threads,
                   torch_best > 0 ? xr[i].rps / torch_best : NAN, ort > 0 ? xr[i].rps / ort : NAN);
        }
    }

    free(x);
    xt_st_close(st);
    xt_json_free(cfg);
    return 0;

usage:
    fprintf(stderr, "usage: bench_swin [--threads 1,2] [--batch B] [--iters N] [--warmup W] "
                    "[--img S (multiple of 32)] [--model FILE] [--ref RESULTS.txt] [--matmul f32,bf16]\n");
    return 2;
}
