// cmd_eval.c — `xt eval -m MODEL --data SPEC`: top-1 / top-5 accuracy of an xT classifier (a
// model file or a training checkpoint) on a dataset, with a confusion summary (--json: one line
// with the per-class counts and the confusion matrix). Top-5 only where there are more than 5
// classes: with 5 or fewer it is 100 % by construction.
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "run/stream.h"
#include "run/yaml_train.h"
#include "train/train.h"

static void help(void) {
    printf("usage: xt eval -m MODEL.safetensors --data SPEC [--img-size S] [options]\n"
           "       xt eval -m MODEL.safetensors -c CONFIG [KEY=VALUE ...] [--data SPEC] [options]\n\n"
           "Classifies every image of SPEC (CSV path,label / iNaturalist JSON / synth:N[:seed]) and prints\n"
           "top-1, top-5, per-class accuracy and the most confused pairs. Images are seen as in training:\n"
           "the normalisation, transform (centre window, or the official resize [+ centre crop]) and iNat\n"
           "label map of the model's train_state, or of CONFIG's \"train\" (JSON or official YAML; its val\n"
           "set and img_size are the defaults).\n\n"
           "  -c CONFIG    training config (xt JSON or official YAML) for data, img_size and data keys;\n"
           "               KEY=VALUE operands override an official YAML's keys as in `xt train`\n"
           "  --transform T  center | resize | resize_crop         [the model's, else center]\n"
           "  --img-size S image side                             [the model's training img_size]\n"
           "  --root DIR   image folder for relative paths         [the data file's folder]\n"
           "  --batch N    images per forward                      [8]\n"
           "  -t N         threads (also --threads)                [all cores]\n"
           "  --json       one line of JSON on stdout: images, top1, top5 (null with <= 5 classes),\n"
           "               precision, recall (macro, as xt train's validation),\n"
           "               per_class [{class, correct, total}], confusion [true][predicted], seconds\n"
           "  --whole      each image whole, streamed exactly as `xt classify FILE` runs it (its own size,\n"
           "               the model's normalisation; no transform, no --img-size): whole-image accuracy\n"
           "  --precision P  f32: the training forward (float32); bf16 or int8: the inference model\n"
           "               (xt classify's path) in that precision, image by image    [f32]\n"
           "  -q           no progress (also --quiet)\n"
           "  (-m also --model; --opt=VALUE and -tN forms accepted)\n");
}

// --precision bf16 / int8: the training forward is float32 only, so the images go through the
// inference model instead (the streaming driver on an in-memory image), scored as
// xt_train_evaluate scores them. conf: (K, K), K the model's classes. 0 / -1 + error.
// whole: each image read whole from its file and streamed as `xt classify` runs it (its size, the
// model's normalisation); else the dataset's transform to S x S, as in training.
static int eval_inference(const xt_xtfile *f, const xt_dataset *d, int S, int whole, int threads, double *top1, double *top5,
                          int64_t *conf, void (*prog)(void *, int64_t, int64_t, double, double, double), void *u) {
    const xt_xtmodel_info *mi = xt_xtmodel_get_info(f->m);
    int C = mi->in_chans, K = mi->num_classes, rc = -1;
    float *img = whole ? NULL : xt_malloc_checked((size_t)C * S * S * sizeof(float), "evaluation image"), *l = xt_xmalloc(sizeof(float) * K);
    int64_t c1 = 0, c5 = 0;
    xt_stream_args a;
    xt_stream_args_default(&a);
    a.threads = threads;
    for (int i = 0; (img || whole) && i < d->n; i++) {
        int lab = whole ? d->labels[i] : 0; // (synth data has no label array: xt_dataset_load gives it)
        if (!whole && xt_dataset_load(d, i, img, C, S, mi->crop_size, 0, 0, &lab)) goto done;
        if (lab >= K) { xt_error("eval", "sample %d: label %d >= num_classes %d", i, lab, K); goto done; }
        xt_stream st;
        a.image = whole ? d->paths[i] : NULL;
        int bad = (whole ? xt_stream_open_with(&st, f, &a) : xt_stream_open_array(&st, f, img, C, S, S, &a)) ||
                  xt_stream_classify(&st, l);
        xt_stream_close(&st);
        if (bad) goto done;
        int above = 0, best = 0;
        for (int k = 0; k < K; k++) {
            above += l[k] > l[lab];
            if (l[k] > l[best]) best = k;
        }
        c1 += above == 0;
        c5 += above < 5;
        conf[(size_t)lab * K + best]++;
        prog(u, i + 1, d->n, (double)c1 / (i + 1), 0, 0);
    }
    if (!img && !whole) goto done;
    *top1 = (double)c1 / d->n;
    *top5 = (double)c5 / d->n;
    rc = 0;
done:
    free(img);
    free(l);
    return rc;
}

static void progress(void *u, int64_t done, int64_t total, double top1, double a, double sec) {
    xt_progress *pg = u;
    if (!pg->phase) xt_progress_phase(pg, "evaluate", (long)total, "images");
    xt_progress_note(pg, "top-1 so far %.2f %%", 100 * top1);
    xt_progress_set(pg, (long)done);
}

int xt_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *data = NULL, *root = NULL, *cfgf = NULL, *tfm = NULL, *precision = NULL;
    xt_sbuf notes = {0};
    char *sets[64];
    int n_sets = 0;
    if (argc > 64) return xt_cli_usage_error("eval", "too many arguments");
    int S = 0, batch = 8, threads = 0, quiet = 0, json = 0, whole = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if ((!strcmp(a, "-m") || !strcmp(a, "--model")) && v) model = argv[++i];
        else if (!strcmp(a, "--data") && v) data = argv[++i];
        else if (!strcmp(a, "-c") && v) cfgf = argv[++i];
        else if (!strcmp(a, "--transform") && v) tfm = argv[++i];
        else if (!strcmp(a, "--root") && v) root = argv[++i];
        else if (!strcmp(a, "--img-size") && v) { if (xt_cli_parse_int(argv[++i], "--img-size", 1, 1 << 16, &S)) return xt_cli_fail(); }
        else if (!strcmp(a, "--batch") && v) { if (xt_cli_parse_int(argv[++i], "--batch", 1, 4096, &batch)) return xt_cli_fail(); }
        else if ((!strcmp(a, "-t") || !strcmp(a, "--threads")) && v) { if (xt_cli_parse_int(argv[++i], "-t", 1, 1024, &threads)) return xt_cli_fail(); }
        else if (!strcmp(a, "--precision") && v) {
            if (xt_cli_parse_precision(argv[++i], &precision)) return xt_cli_fail();
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) quiet = 1;
        else if (!strcmp(a, "--json")) json = 1;
        else if (!strcmp(a, "--whole")) whole = 1;
        else if (a[0] != '-' && strchr(a, '=')) sets[n_sets++] = argv[i]; // official YAML overrides
        else return xt_cli_usage_error("eval", "unknown option '%s'", a);
    }
    if (!model || (!data && !cfgf)) return xt_cli_usage_error("eval", "need -m MODEL and --data SPEC (or -c CONFIG)");
    xt_set_threads(threads);
    xt_progress pg;
    xt_progress_init(&pg, "eval", quiet); // the job's clock: model load to the last image
    xt_st *st = xt_st_open(model);
    if (!st) return xt_cli_fail();
    xt_json *cfg = NULL, *ts = NULL, *cj = NULL;
    xt_params P = {0};
    xt_xt_train *m = NULL;
    xt_xtfile f = {0}; // --precision bf16 / int8: the inference model
    xt_dataset d = {0};
    int64_t *conf = NULL;
    int rc = 1;
    const char *c = xt_st_meta(st, "config"), *t = xt_st_meta(st, "train_state");
    if (!c) { xt_error("eval", "%s: no config in the metadata: not a model file", model); goto fail; }
    if (!(cfg = xt_json_parse(c, strlen(c), "config"))) goto fail;
    if (t && !(ts = xt_json_parse(t, strlen(t), "train_state"))) goto fail;
    if (cfgf) { // a training config: its data keys, its "val" as the default data, its img_size
        char *txt = xt_train_config_read(cfgf, sets, n_sets, &notes);
        if (!txt || !(cj = xt_json_parse(txt, strlen(txt), cfgf))) { free(txt); goto fail; }
        free(txt);
        if (notes.n && !quiet) fputs(notes.p, stderr);
        const xt_json *tr = xt_json_get(cj, "train");
        if (!data) data = xt_json_str(tr, "val", NULL);
        if (!root) root = xt_json_str(tr, "root", NULL);
        if (!S) xt_json_int(tr, "img_size", 0, &S);
    }
    if (!data) { xt_error("eval", "no data: --data SPEC (or -c CONFIG with a val set)"); goto fail; }
    if (!S && ts) xt_json_int(ts, "img_size", 0, &S);
    int K, crop;
    if (whole || (precision && strcmp(precision, "f32"))) { // the inference model, image by image
        if (xt_xtfile_load(&f, model, precision)) goto fail;
        K = xt_xtmodel_get_info(f.m)->num_classes, crop = xt_xtmodel_get_info(f.m)->crop_size;
    } else {
        if (!(m = xt_xt_train_new(&P, cfg, st)) || xt_params_alloc(&P) || xt_params_load(&P, st)) goto fail;
        K = xt_xt_train_num_classes(m), crop = xt_xt_train_crop(m);
    }
    if (!S) S = crop;
    if (S % crop) { xt_error("eval", "--img-size %d is not a multiple of crop_size %d", S, crop); goto fail; }
    xt_data_opts dopt; // how the model was trained to see images: its train_state's data keys
    xt_data_opts_default(&dopt);
    if (ts && xt_data_opts_parse(ts, &dopt)) goto fail;
    if (cj && xt_data_opts_parse(xt_json_get(cj, "train"), &dopt)) goto fail;
    if (tfm) {
        xt_json *tj = NULL;
        xt_sbuf q = {0};
        xt_sbuf_printf(&q, "{\"transform\": ");
        xt_sbuf_json_str(&q, tfm);
        xt_sbuf_printf(&q, "}");
        int bad = !(tj = xt_json_parse(q.p, q.n, "--transform")) || xt_data_opts_parse(tj, &dopt);
        xt_json_free(tj);
        xt_sbuf_free(&q);
        if (bad) goto fail;
    }
    if (xt_dataset_open(&d, data, root, &dopt)) goto fail;
    if (whole && d.synth) { xt_error("eval", "--whole reads image files: %s is generated", data); goto fail; }
    conf = calloc((size_t)K * K, sizeof *conf);
    double top1, top5;
    if (!conf || (f.m ? eval_inference(&f, &d, S, whole, threads, &top1, &top5, conf, progress, &pg)
                      : xt_train_evaluate(m, &P, &d, root, S, batch, &top1, &top5, conf, progress, &pg)))
        goto fail;
    double secs = xt_progress_end(&pg);
    if (json) {
        xt_sbuf b = {0};
        xt_sbuf_printf(&b, "{\"model\": ");
        xt_sbuf_json_str(&b, model);
        xt_sbuf_printf(&b, ", \"data\": ");
        xt_sbuf_json_str(&b, data);
        xt_sbuf_printf(&b, ", \"images\": %d, \"classes\": %d, \"img_size\": %d, \"whole\": %s, \"top1\": %.9g, \"top5\": ", d.n, K,
                       whole ? 0 : S, whole ? "true" : "false", top1);
        if (K > 5) xt_sbuf_printf(&b, "%.9g", top5);
        else xt_sbuf_printf(&b, "null");
        xt_val_metrics vm; // macro precision / recall as xt train's validation (docs/training.md)
        xt_metrics_from_confusion(conf, K, &vm);
        xt_sbuf_printf(&b, ", \"precision\": %.9g, \"recall\": %.9g", vm.precision, vm.recall);
        xt_sbuf_printf(&b, ", \"per_class\": [");
        for (int k = 0, first = 1; k < K; k++) {
            int64_t n = 0;
            for (int j = 0; j < K; j++) n += conf[(size_t)k * K + j];
            if (!n) continue;
            xt_sbuf_printf(&b, "%s{\"class\": %d, \"correct\": %lld, \"total\": %lld}", first ? "" : ", ", k,
                           (long long)conf[(size_t)k * K + k], (long long)n);
            first = 0;
        }
        xt_sbuf_printf(&b, "], \"confusion\": ");
        if (K <= 1000) {
            xt_sbuf_printf(&b, "[");
            for (int k = 0; k < K; k++) {
                xt_sbuf_printf(&b, "%s[", k ? ", " : "");
                for (int j = 0; j < K; j++) xt_sbuf_printf(&b, "%s%lld", j ? ", " : "", (long long)conf[(size_t)k * K + j]);
                xt_sbuf_printf(&b, "]");
            }
            xt_sbuf_printf(&b, "]");
        } else xt_sbuf_printf(&b, "null"); // a million cells: per_class holds the diagonal
        xt_sbuf_printf(&b, ", \"seconds\": %.3f}\n", secs);
        fputs(b.p, stdout);
        xt_sbuf_free(&b);
        rc = 0;
        goto done;
    }
    if (K > 5) printf("%s on %s: %d images, top-1 %.2f%%, top-5 %.2f%% (%.1f s)\n", model, data, d.n, 100 * top1, 100 * top5, secs);
    else printf("%s on %s: %d images, top-1 %.2f%% (%d classes: no top-5) (%.1f s)\n", model, data, d.n, 100 * top1, K, secs);
    printf("per class (label: correct/total):");
    for (int k = 0; k < K && k < 50; k++) {
        int64_t n = 0;
        for (int j = 0; j < K; j++) n += conf[(size_t)k * K + j];
        if (n) printf(" %d: %lld/%lld", k, (long long)conf[(size_t)k * K + k], (long long)n);
    }
    printf("%s\nmost confused (true -> predicted: count):", K > 50 ? " ..." : "");
    for (int r = 0; r < 5; r++) { // the 5 largest off-diagonal cells
        int64_t best = 0;
        int bi = -1;
        for (size_t q = 0; q < (size_t)K * K; q++)
            if (q / K != q % K && conf[q] > best) best = conf[q], bi = (int)q;
        if (bi < 0) break;
        printf(" %d -> %d: %lld;", bi / K, bi % K, (long long)best);
        conf[bi] = -conf[bi];
    }
    printf("\n");
    rc = 0;
    goto done;
fail:
    xt_progress_abort(&pg);
    rc = xt_cli_fail();
done:
    free(conf);
    xt_dataset_free(&d);
    xt_xt_train_free(m);
    xt_xtfile_free(&f);
    xt_params_free(&P);
    xt_json_free(cfg);
    xt_json_free(ts);
    xt_json_free(cj);
    xt_sbuf_free(&notes);
    xt_st_close(st);
    return rc;
}
