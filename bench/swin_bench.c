// swin_bench.c — regions/s of the Swin V2 region encoder with random weights (no PyTorch needed).
//   build/bench/swin_bench [-t THREADS] [-n ITERS] [-b BATCH] [-s SIZE] [-e EMBED] [-w WINDOW] [-p f32|bf16]
// Default: Swin V2-T (embed 96, depths 2-2-6-2, heads 3-6-12-24, window 16) on 256x256 regions.
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "models/models.h"

static double cpu_time(void) { // process CPU seconds: with 1 thread, robust to a loaded machine
    struct timespec t;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

int main(int argc, char **argv) {
    int threads = 2, iters = 10, B = 1, S = 256, embed = 96, window = 16, bf16 = 0;
    for (int i = 1; i + 1 < argc; i += 2) {
        int v = atoi(argv[i + 1]);
        if (!strcmp(argv[i], "-t")) threads = v;
        else if (!strcmp(argv[i], "-n")) iters = v;
        else if (!strcmp(argv[i], "-b")) B = v;
        else if (!strcmp(argv[i], "-s")) S = v;
        else if (!strcmp(argv[i], "-e")) embed = v;
        else if (!strcmp(argv[i], "-w")) window = v;
        else if (!strcmp(argv[i], "-p")) bf16 = !strcmp(argv[i + 1], "bf16");
    }
    char cs[256];
    snprintf(cs, sizeof cs, "{\"embed_dim\": %d, \"depths\": [2, 2, 6, 2], \"num_heads\": [%d, %d, %d, %d], \"window_size\": %d, \"matmul\": \"%s\"}",
             embed, embed / 32, embed / 16, embed / 8, embed / 4, window, bf16 ? "bf16" : "f32");
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "config");
    char path[] = "/tmp/xt_swin_bench_XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0 || !cfg) return 1;
    close(fd);
    xt_st_writer *w = xt_st_writer_new();
    if (xt_swinv2_random_weights(w, cfg, "model.", 1) || xt_st_writer_save(w, path)) goto fail;
    xt_st *st = xt_st_open(path);
    unlink(path);
    if (!st) goto fail;
    xt_set_threads(threads);
    xt_encoder *e = xt_swinv2_new(st, cfg, "model.", S);
    if (!e) goto fail;
    float *img = xt_xmalloc((size_t)B * 3 * S * S * sizeof(float)), *out[XT_MAX_STAGES];
    for (size_t i = 0; i < (size_t)B * 3 * S * S; i++) img[i] = (float)((i * 2654435761u) % 1000) / 500.0f - 1.0f;
    for (int s = 0; s < e->n_stages; s++)
        out[s] = xt_xmalloc((size_t)B * e->stage_c[s] * e->stage_h[s] * e->stage_w[s] * sizeof(float));
    xt_arena ws;
    if (xt_arena_init(&ws, e->workspace_size(e, B))) goto fail;
    if (e->forward(e, img, B, out, &ws, NULL, "")) goto fail; // warm-up
    double best = 1e30, tot = 0, c0 = cpu_time();
    for (int it = 0; it < iters; it++) {
        double t0 = xt_time();
        if (e->forward(e, img, B, out, &ws, NULL, "")) goto fail;
        double dt = xt_time() - t0;
        tot += dt;
        if (dt < best) best = dt;
    }
    double mean = tot / iters, cpu = (cpu_time() - c0) / iters;
    printf("swinv2 %s embed %d window %d %dx%d batch %d threads %d: %.2f M params, %.2f GFLOP/region, "
           "mean %.1f ms (best %.1f) per batch = %.2f regions/s (best %.2f), %.1f GFLOP/s, CPU %.1f ms/batch, workspace %.1f MB, peak RSS %.0f MB\n",
           bf16 ? "bf16" : "f32", embed, window, S, S, B, threads, e->n_params / 1e6, e->flops / 1e9, mean * 1e3, best * 1e3, B / mean, B / best,
           e->flops * B / mean / 1e9, cpu * 1e3, e->workspace_size(e, B) / 1e6, xt_peak_rss() / 1e6);
    return 0;
fail:
    fprintf(stderr, "swin_bench: %s\n", xt_error_buffer());
    return 1;
}
