// cmd_classify.c — `xt classify -m MODEL IMAGE`: streams the image through the xT model (regions
// a row at a time into the context run) and prints the top-k classes, or with --json one object
// {"logits": [...], "probs": [...], "top": [{"class", "prob", "logit"}...], ...} on stdout.
// --list FILE -o DIR classifies many images (cli/list.c), shared among MPI ranks.
#include <math.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/stream.h"

static void usage(FILE *f) {
    fprintf(f, "usage: xt classify -m MODEL IMAGE [options]\n\n"
               "Classifies an image of any size (TIFF, BigTIFF, GeoTIFF, PNG, JPEG) with an xT model, reading it\n"
               "region by region in bounded memory. Prints the top-k classes with probabilities.\n\noptions:\n"
               "  --json              one JSON object on stdout: logits, probs, top\n"
               "  -k N                classes to show                              [5]\n"
               "  --list FILE -o DIR  many images (one path a line): DIR/<name>.json each, written atomically,\n"
               "                      finished ones skipped on a rerun, DIR/results.jsonl merged at the end;\n"
               "                      under mpirun the ranks share the list dynamically (docs/distributed.md)\n");
    xt_stream_help(f);
}

static const char *class_name(const xt_json *cfg, int i) {
    const xt_json *names = xt_json_get(cfg, "class_names");
    if (!names || names->type != XT_JSON_ARR || i >= names->n || names->items[i]->type != XT_JSON_STR) return NULL;
    return names->items[i]->str;
}

// Classifies one image into out (--json: the JSON object, with line breaks that a list run's
// one-line files drop; else the human summary). Returns 0 or -1 (error buffer).
static int classify_one(const xt_stream_args *a, int json, int topk, xt_sbuf *out) {
    xt_progress pg;
    xt_progress_init(&pg, "classify", a->quiet); // the job's clock: model load to the last layer
    xt_stream s;
    float *logits = NULL;
    double *probs = NULL;
    int *order = NULL, rc = -1;
    if (xt_stream_open(&s, a) < 0) goto done;
    double t_load = xt_time() - pg.t0;
    int K = s.mi->num_classes;
    logits = xt_xmalloc(sizeof *logits * K);
    probs = xt_xmalloc(sizeof *probs * K);
    order = xt_xmalloc(sizeof *order * K);
    if (xt_cli_stream_run(&s, &pg, NULL, NULL, logits) < 0) goto done;
    double secs = xt_progress_end(&pg), t_ctx = s.t_sink + s.t_context;
    double mx = -INFINITY, sum = 0;
    for (int i = 0; i < K; i++) mx = logits[i] > mx ? logits[i] : mx;
    for (int i = 0; i < K; i++) sum += probs[i] = exp((double)logits[i] - mx);
    for (int i = 0; i < K; i++) {
        probs[i] /= sum;
        order[i] = i;
    }
    for (int i = 1; i < K; i++) // stable insertion sort by probability, descending
        for (int j = i; j > 0 && probs[order[j]] > probs[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    if (topk > K) topk = K;
    if (json) {
        xt_sbuf_printf(out, "{\"image\": ");
        xt_sbuf_json_str(out, a->image);
        xt_sbuf_printf(out, ", \"width\": %d, \"height\": %d, \"regions\": [%d, %d], \"crop_size\": %d,\n", s.ri->width,
                       s.ri->height, s.HP, s.WP, s.S);
        xt_sbuf_printf(out, " \"logits\": [");
        for (int i = 0; i < K; i++) xt_sbuf_printf(out, "%s%.9g", i ? ", " : "", logits[i]);
        xt_sbuf_printf(out, "],\n \"probs\": [");
        for (int i = 0; i < K; i++) xt_sbuf_printf(out, "%s%.9g", i ? ", " : "", probs[i]);
        xt_sbuf_printf(out, "],\n \"top\": [");
        for (int i = 0; i < topk; i++) {
            const char *nm = class_name(s.cfg, order[i]);
            xt_sbuf_printf(out, "%s{\"class\": %d, \"prob\": %.9g, \"logit\": %.9g", i ? ", " : "", order[i], probs[order[i]],
                           logits[order[i]]);
            if (nm) {
                xt_sbuf_printf(out, ", \"name\": ");
                xt_sbuf_json_str(out, nm);
            }
            xt_sbuf_printf(out, "}");
        }
        xt_sbuf_printf(out, "],\n \"seconds\": %.3f, \"phase_seconds\": {\"load\": %.3f, \"read\": %.3f, \"encode\": %.3f, \"context\": %.3f}}\n",
                       secs, t_load, s.t_read, s.t_encode, t_ctx);
    } else {
        xt_sbuf_printf(out, "%s: %d x %d, %d rows x %d columns of %d px regions, %.2f s (load %.2f, read %.2f, encode %.2f, context %.2f)\n",
                       a->image, s.ri->width, s.ri->height, s.HP, s.WP, s.S, secs, t_load, s.t_read, s.t_encode, t_ctx);
        for (int i = 0; i < topk; i++) {
            const char *nm = class_name(s.cfg, order[i]);
            xt_sbuf_printf(out, "%2d. class %-4d %s%s%7.3f %%  (logit %.5f)\n", i + 1, order[i], nm ? nm : "", nm ? "  " : "",
                           100 * probs[order[i]], logits[order[i]]);
        }
    }
    rc = 0;
done:
    if (rc) xt_progress_abort(&pg);
    xt_stream_close(&s);
    free(logits);
    free(probs);
    free(order);
    return rc;
}

typedef struct {
    xt_stream_args a;
    int topk;
} list_ctx;

static int list_item(void *u, const char *path, xt_sbuf *json) {
    list_ctx *c = u;
    xt_stream_args a = c->a;
    a.image = path;
    return classify_one(&a, 1, c->topk, json);
}

int xt_cmd_classify(int argc, char **argv) {
    xt_stream_args a;
    xt_stream_args_default(&a);
    int json = 0, topk = 5;
    const char *list = NULL, *outdir = NULL;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 0;
        }
        int r = xt_stream_parse_opt(&a, argc, argv, &i);
        if (r < 0) return xt_cli_usage_error("classify", "%s", xt_error_buffer());
        if (r) continue;
        if (!strcmp(o, "--json")) json = 1;
        else if (!strcmp(o, "-k") || !strcmp(o, "--top")) {
            if (i + 1 >= argc || xt_cli_parse_int(argv[++i], "-k", 1, 1000000, &topk) < 0)
                return xt_cli_usage_error("classify", "-k expects a positive integer");
        } else if (!strcmp(o, "--list") && i + 1 < argc) list = argv[++i];
        else if ((!strcmp(o, "-o") || !strcmp(o, "--output")) && i + 1 < argc) outdir = argv[++i];
        else if (o[0] == '-' && o[1]) return xt_cli_usage_error("classify", "unknown option %s", o);
        else if (!a.image) a.image = o;
        else return xt_cli_usage_error("classify", "more than one image (%s, %s)", a.image, o);
    }
    if (list) {
        if (!a.model || a.image || !outdir)
            return xt_cli_usage_error("classify", "%s", !a.model ? "no model (-m MODEL)" : a.image ? "--list takes no image operand" : "--list needs -o OUTDIR");
        list_ctx c = {a, topk};
        return xt_cli_list_run("classify", list, outdir, list_item, &c);
    }
    if (outdir) return xt_cli_usage_error("classify", "-o OUTDIR goes with --list");
    if (!a.model || !a.image) return xt_cli_usage_error("classify", "%s", !a.model ? "no model (-m MODEL)" : "no image");
    xt_sbuf out = {0};
    int rc = classify_one(&a, json, topk, &out);
    if (rc) xt_cli_fail();
    else fputs(out.p, stdout);
    xt_sbuf_free(&out);
    return rc ? 1 : 0;
}
