// bench_context_encoder.c — the xl head's context encoder alone (every layer of a model file,
// xt_context_layer_forward as `xt classify` runs it) over L random tokens: the context phase's
// memory at a scene's token count without encoding the scene's regions first.
//
//   build/bench/bench_context_encoder -m MODEL.safetensors [--L 706561] [--method hyper] [--threads 2]
//
// MODEL: an xT model with a naive / hyper context (e.g. bench/whole_scene.sh's swint_hyper); its
// "decoder." weights are read; hidden size and layers from their shapes, mlp_ratio 4.
// Prints "RESULT context_encoder L=... D=... layers=... sec=S peak_rss_mb=M" (VmHWM of the
// process: x, the layer workspace as touched, the weights' mapped pages).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "formats/safetensors.h"
#include "models/context.h"

int main(int argc, char **argv) {
    const char *model = NULL, *method = "hyper";
    long L = 706561;
    int threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) model = argv[i + 1];
        else if (!strcmp(argv[i], "--L")) L = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--method")) method = argv[i + 1];
        else if (!strcmp(argv[i], "--threads")) threads = atoi(argv[i + 1]);
    }
    if (!model || L < 1) {
        fprintf(stderr, "usage: bench_context_encoder -m MODEL [--L 706561] [--method hyper|naive] [--threads 2]\n");
        return 2;
    }
    xt_set_threads(threads);
    xt_st *st = xt_st_open(model);
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    const xt_st_tensor *t = xt_st_find(st, "decoder.layers.0.input_layernorm.weight");
    if (!t) { fprintf(stderr, "%s: no decoder.layers.0 weights\n", model); return 1; }
    int D = (int)t->shape[0], n_layers = 0;
    char name[128];
    for (;; n_layers++) {
        snprintf(name, sizeof name, "decoder.layers.%d.input_layernorm.weight", n_layers);
        if (!xt_st_find(st, name)) break;
    }
    xt_context c;
    if (xt_context_init(&c, st, "decoder.", strcmp(method, "naive") ? XT_ATTN_HYPER : XT_ATTN_NAIVE, D, n_layers, 4,
                        NULL, 0)) {
        fprintf(stderr, "%s\n", xt_error_buffer());
        return 1;
    }
    float *x = xt_malloc_checked((size_t)L * D * sizeof(float), "x");
    xt_arena ws;
    if (!x || xt_arena_init(&ws, xt_context_ws_size(&c, (int)L, 0))) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    uint32_t s = 1;
    for (size_t i = 0; i < (size_t)L * D; i++) {
        s = s * 1664525u + 1013904223u;
        x[i] = ((s >> 8) * (1.0f / 16777216.0f) - 0.5f) * 2.0f;
    }
    xt_context_pass pass;
    xt_context_pass_begin(&pass, &c);
    double t0 = xt_time();
    for (int i = 0; i < n_layers; i++)
        if (xt_context_layer_forward(&c, &pass, i, x, (int)L, &ws, NULL, "")) {
            fprintf(stderr, "%s\n", xt_error_buffer());
            return 1;
        }
    double sec = xt_time() - t0, sum = 0;
    for (size_t i = 0; i < (size_t)L * D; i++) sum += x[i];
    printf("RESULT context_encoder method=%s L=%ld D=%d layers=%d threads=%d sec=%.2f checksum=%.6e peak_rss_mb=%.0f\n",
           method, L, D, n_layers, threads, sec, sum, xt_peak_rss() / 1048576.0);
    xt_context_pass_free(&pass);
    xt_context_free(&c);
    xt_arena_free(&ws);
    free(x);
    xt_st_close(st);
    return 0;
}
