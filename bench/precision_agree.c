// precision_agree.c — the accuracy cost of reduced precision on a trained model: N held-out images
// of a dataset through the streaming inference path (xt_stream_open_array + xt_stream_classify)
// once per variant, compared with the first (float32): max |d logits|, max |d logits| / max(1,
// max|ref|), top-1 agreement, and each variant's accuracy against the labels.
//   build/bench/precision_agree -m MODEL [-m16 MODEL_BF16] [--data synth:1000:7] [--img 128] [-t 2]
// Variants: MODEL f32, bf16 and int8, and with -m16 (an `xt convert --dtype bf16` file) that file
// in f32 and in bf16. docs/performance.md ("Reduced precision") quotes its output for
// models/synth_xl.safetensors (2 x 2 regions of 64 px per image).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "run/stream.h"
#include "train/train.h"

#define MAXV 5

int main(int argc, char **argv) {
    const char *model = NULL, *model16 = NULL, *data = "synth:1000:7";
    int S = 128, threads = 2;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "-m")) model = argv[i + 1];
        else if (!strcmp(argv[i], "-m16")) model16 = argv[i + 1];
        else if (!strcmp(argv[i], "--data")) data = argv[i + 1];
        else if (!strcmp(argv[i], "--img")) S = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "-t")) threads = atoi(argv[i + 1]);
        else { fprintf(stderr, "precision_agree: unknown option %s\n", argv[i]); return 2; }
    }
    if (!model || S < 1) {
        fprintf(stderr, "usage: precision_agree -m MODEL [-m16 MODEL_BF16] [--data SPEC] [--img S] [-t T]\n");
        return 2;
    }
    xt_set_threads(threads);
    const char *path[MAXV] = {model, model, model, model16, model16}, *prec[MAXV] = {"f32", "bf16", "int8", "f32", "bf16"};
    int nv = model16 ? 5 : 3;
    xt_xtfile f[MAXV];
    memset(f, 0, sizeof f);
    for (int v = 0; v < nv; v++)
        if (xt_xtfile_load(&f[v], path[v], prec[v])) { fprintf(stderr, "precision_agree: %s\n", xt_error_buffer()); return 1; }
    xt_dataset d;
    if (xt_dataset_open(&d, data, NULL, NULL)) { fprintf(stderr, "precision_agree: %s\n", xt_error_buffer()); return 1; }
    const xt_xtmodel_info *mi = xt_xtmodel_get_info(f[0].m);
    int C = mi->in_chans, K = mi->num_classes;
    float *img = malloc(sizeof *img * C * S * S), *lg = malloc(sizeof *lg * K * MAXV);
    double maxd[MAXV] = {0}, maxs[MAXV] = {0};
    int agree[MAXV] = {0}, correct[MAXV] = {0};
    xt_stream_args a;
    xt_stream_args_default(&a);
    a.threads = threads;
    for (int i = 0; i < d.n; i++) {
        int label;
        if (xt_dataset_load(&d, i, img, C, S, mi->crop_size, 0, 0, &label)) { fprintf(stderr, "precision_agree: %s\n", xt_error_buffer()); return 1; }
        int top[MAXV];
        for (int v = 0; v < nv; v++) {
            xt_stream s;
            float *l = lg + v * K;
            if (xt_stream_open_array(&s, &f[v], img, C, S, S, &a) || xt_stream_classify(&s, l)) {
                fprintf(stderr, "precision_agree: %s\n", xt_error_buffer());
                return 1;
            }
            xt_stream_close(&s);
            top[v] = 0;
            for (int k = 1; k < K; k++) if (l[k] > l[top[v]]) top[v] = k;
            correct[v] += top[v] == label;
            double md = 0, mr = 1;
            for (int k = 0; k < K; k++) {
                md = fmax(md, fabs((double)l[k] - lg[k]));
                mr = fmax(mr, fabs(lg[k]));
            }
            maxd[v] = fmax(maxd[v], md);
            maxs[v] = fmax(maxs[v], md / mr);
            agree[v] += top[v] == top[0];
        }
    }
    printf("%s, %d images of %d x %d (%s):\n", model, d.n, S, S, data);
    printf("%-34s %14s %14s %16s %10s\n", "variant", "max|d logits|", "max|d|/scale", "top-1 agreement", "accuracy");
    for (int v = 0; v < nv; v++) {
        char name[160];
        snprintf(name, sizeof name, "%s, --precision %s", v < 3 ? "f32 file" : "bf16 file", prec[v]);
        printf("%-34s %14.3e %14.3e %9d / %-4d %9.2f %%\n", name, maxd[v], maxs[v], agree[v], d.n, 100.0 * correct[v] / d.n);
    }
    for (int v = 0; v < nv; v++) xt_xtfile_free(&f[v]);
    xt_dataset_free(&d);
    free(img);
    free(lg);
    return 0;
}
