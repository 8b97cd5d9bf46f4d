// cmd_classify.c — `xt classify -m MODEL IMAGE`: streams the image through the xT model (regions
// a row at a time into the context run) and prints the top-k classes, or with --json one object
// {"logits": [...], "probs": [...], "top": [{"class", "prob", "logit"}...], ...} on stdout.
// --map / --geojson / --preview: per-region class maps as the regions stream (run/class_map.h).
// --list FILE -o DIR classifies many images (cli/list.c), shared among MPI ranks.
#include <math.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/stream.h"
#include "core/dist.h"
#include "run/class_map.h"

static void usage(FILE *f) {
    fprintf(f, "usage: xt classify -m MODEL IMAGE [options]\n\n"
               "Classifies an image of any size (TIFF, BigTIFF, GeoTIFF, PNG, JPEG; other rasters through GDAL,\n"
               "whole-slide images through OpenSlide: docs/inputs.md) with an xT model, reading it\n"
               "region by region in bounded memory. Prints the top-k classes with probabilities.\n\noptions:\n"
               "  --json              one JSON object on stdout: logits, probs, top\n"
               "  -k N                classes to show                              [5]\n"
               "  --map OUT.tif       per-region class probabilities: float32 GeoTIFF, one pixel per region,\n"
               "                      georeferenced like the input (pixel size x region size), NoData NaN\n"
               "  --map-top N         map bands: the N best (class, probability) pairs; 0: every class\n"
               "                      [every class up to 16 classes, else 3]\n"
               "  --geojson OUT       one polygon per region with its top class and probability (lon/lat\n"
               "                      for geographic and WGS 84 / UTM inputs, else the image's CRS or pixels)\n"
               "  --overviews         --map gets overviews (nearest, halving until one tile) for GIS viewers\n"
               "  --preview OUT.png   quicklook (<= 1024 px a side) with the top class coloured over it\n"
               "(docs/maps.md: what the per-region values mean for each head)\n"

               "  --list FILE -o DIR  many images (one path a line): DIR/<name>.json each, written atomically,\n"
               "                      finished ones skipped on a rerun, DIR/results.jsonl merged at the end;\n"
               "                      under mpirun the ranks share the list dynamically (docs/distributed.md)\n"
               "Under mpirun with one IMAGE the ranks share its region rows (rank r encodes rows r, r+N, ...);\n"
               "rank 0 runs the context encoder on them in order and alone writes the results, which are\n"
               "those of one process (docs/distributed.md).\n");
    xt_stream_help(f);
}

static const char *class_name(const xt_json *cfg, int i) {
    const xt_json *names = xt_json_get(cfg, "class_names");
    if (!names || names->type != XT_JSON_ARR || i >= names->n || names->items[i]->type != XT_JSON_STR) return NULL;
    return names->items[i]->str;
}

static int on_region_row(void *u, int rr, const float *logits, const uint8_t *valid) {
    return xt_class_map_row(u, rr, logits, valid);
}

typedef struct {
    const char *map, *geojson, *preview;
    int map_top, overviews;
} map_args;

// Classifies one image into out (--json: the JSON object, with line breaks that a list run's
// one-line files drop; else the human summary); mp (NULL: none) asks for the per-region maps.
// Returns 0 or -1 (error buffer).
static int classify_one(const xt_stream_args *a0, int json, int topk, const map_args *mp, xt_sbuf *out) {
    xt_stream_args args = *a0, *a = &args;
    xt_progress pg;
    xt_progress_init(&pg, "classify", a->quiet); // the job's clock: model load to the last layer
    xt_stream s;
    float *logits = NULL;
    double *probs = NULL;
    int *order = NULL, rc = -1;
    xt_class_map *cm = NULL;
    const char **names = NULL;
    if (mp && (mp->map || mp->geojson || mp->preview)) a->region_logits = on_region_row; // the stream sizes its region flags
    if (xt_stream_open(&s, a) < 0) goto done;
    double t_load = xt_time() - pg.t0;
    int K = s.mi->num_classes;
    logits = xt_xmalloc(sizeof *logits * K);
    probs = xt_xmalloc(sizeof *probs * K);
    order = xt_xmalloc(sizeof *order * K);
    if (a->region_logits) {
        names = xt_xcalloc(K, sizeof *names);
        int any = 0;
        for (int k = 0; k < K; k++) any |= (names[k] = class_name(s.cfg, k)) != NULL;
        xt_cli_meta meta;
        xt_cli_meta_init(&meta, &s, "classify", s.S);
        xt_class_map_opts mo = {mp->map, mp->geojson, mp->preview, mp->map_top, any ? names : NULL, meta.kv, NULL, mp->overviews};
        if (!(cm = xt_class_map_open(&s, &mo))) goto done;
        s.a.region_user = cm;
    }
    if (xt_cli_stream_run(&s, &pg, NULL, NULL, logits) < 0) goto done;
    if (cm) {
        xt_class_map *m = cm;
        cm = NULL;
        if (xt_class_map_close(m, &s) < 0) goto done;
    }
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
    xt_class_map_abort(cm);
    free(names);
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

static int list_item(void *u, const char *path, const char *name, xt_sbuf *json) {
    (void)name;
    list_ctx *c = u;
    xt_stream_args a = c->a;
    a.image = path;
    return classify_one(&a, 1, c->topk, NULL, json);
}

int xt_cmd_classify(int argc, char **argv) {
    xt_stream_args a;
    xt_stream_args_default(&a);
    int json = 0, topk = 5;
    const char *list = NULL, *outdir = NULL;
    map_args mp = {NULL, NULL, NULL, -1, 0};
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
        else if (!strcmp(o, "--overviews")) mp.overviews = 1;
        else if (!strcmp(o, "-k") || !strcmp(o, "--top")) {
            if (i + 1 >= argc || xt_cli_parse_int(argv[++i], "-k", 1, 1000000, &topk) < 0)
                return xt_cli_usage_error("classify", "-k expects a positive integer");
        } else if (!strcmp(o, "--map-top")) {
            if (i + 1 >= argc || xt_cli_parse_int(argv[++i], "--map-top", 0, 1000000, &mp.map_top) < 0)
                return xt_cli_usage_error("classify", "--map-top expects a number >= 0");
        } else if (!strcmp(o, "--map") || !strcmp(o, "--geojson") || !strcmp(o, "--preview")) {
            if (i + 1 >= argc) return xt_cli_usage_error("classify", "%s needs a file name", o);
            *(o[2] == 'm' ? &mp.map : o[2] == 'g' ? &mp.geojson : &mp.preview) = argv[++i];
        } else if (!strcmp(o, "--list") && i + 1 < argc) list = argv[++i];
        else if ((!strcmp(o, "-o") || !strcmp(o, "--output")) && i + 1 < argc) outdir = argv[++i];
        else if (o[0] == '-' && o[1]) return xt_cli_usage_error("classify", "unknown option %s", o);
        else if (!a.image) a.image = o;
        else return xt_cli_usage_error("classify", "more than one image (%s, %s)", a.image, o);
    }
    if (list) {
        if (!a.model || a.image || !outdir)
            return xt_cli_usage_error("classify", "%s", !a.model ? "no model (-m MODEL)" : a.image ? "--list takes no image operand" : "--list needs -o OUTDIR");
        if (mp.map || mp.geojson || mp.preview) return xt_cli_usage_error("classify", "--map / --geojson / --preview go with one image, not --list");
        list_ctx c = {a, topk};
        return xt_cli_list_run("classify", list, outdir, list_item, &c);
    }
    if (outdir) return xt_cli_usage_error("classify", "-o OUTDIR goes with --list");
    if (!a.model || !a.image) return xt_cli_usage_error("classify", "%s", !a.model ? "no model (-m MODEL)" : "no image");
    if ((a.split = xt_cli_split()) && xt_dist_rank() > 0) { // rank 0 prints; the others encode rows for it
        if (xt_cli_stream_serve(&a)) xt_cli_split_abort();
        return 0;
    }
    xt_sbuf out = {0};
    int rc = classify_one(&a, json, topk, &mp, &out);
    if (rc && a.split) xt_cli_split_abort();
    if (rc) xt_cli_fail();
    else fputs(out.p, stdout);
    xt_sbuf_free(&out);
    return rc ? 1 : 0;
}
