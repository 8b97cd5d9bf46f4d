// stream.c — CLI side of the streaming driver (src/run/stream.c): shared options of `xt classify`
// and `xt embed`, the progress line and the XT_STREAM_STATS report.
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli/cli.h"
#include "cli/stream.h"
#include "core/dist.h"

void xt_stream_help(FILE *f) {
    fprintf(f,
            "  -m, --model FILE    model file (safetensors, kind \"xt\")         [required]\n"
            "  -t, --threads N     threads (0: all cores)                       [0]\n"
            "  --batch N           regions per encoder call                     [8]\n"
            XT_CLI_PRECISION_HELP
            "  --bands LIST        1-based bands to use, e.g. 4,3,2              [all]\n"
            "  --mean LIST         per-band mean after scaling   [config \"mean\"; ImageNet for 3 bands; else 0]\n"
            "  --std LIST          per-band std after scaling    [config \"std\"; ImageNet for 3 bands; else 1]\n"
            "  --scale S           multiply samples by S first   [config \"input_scale\"; 1/255 u8, 1/65535 u16,\n"
            "                      1/32767 i16, 1 f32]\n"
            "  --nodata V          pixels where a selected band equals V (raw, or nan) become 0 after\n"
            "                      normalisation                  [the file's GDAL_NODATA, if any]\n"
            "  --level N           pyramid level to read (0: full resolution; slides: OpenSlide's levels,\n"
            "                      other files: GDAL overviews; `xt info` lists them)  [0]\n"
            "  --mpp X             the slide level nearest X microns per pixel (OpenSlide's openslide.mpp-x)\n"
            "  --backend B         auto, native (TIFF/PNG/JPEG), gdal, openslide      [auto]\n"
            "  --cache MB          decoded-tile cache [auto: the tiles under one batch of regions,\n"
            "                      or for striped TIFF / PNG / JPEG a band of region-height rows]\n"
            "  --mem MB            global context modes: token sequence kept in memory, the rest\n"
            "                      spills to a scratch file in $TMPDIR          [1024]\n"
            "  --quiet             no progress line (shown only when stderr is a terminal)\n");
}

static int parse_list(const char *s, const char *opt, double *out, int max) {
    int n = 0;
    const char *p = s;
    while (p && *p) {
        char *e;
        double v = strtod(p, &e);
        if (e == p || (*e && *e != ',') || n >= max || !isfinite(v))
            return xt_error("cli", "%s expects up to %d comma-separated numbers, got '%s'", opt, max, s);
        out[n++] = v;
        p = *e ? e + 1 : e;
    }
    if (!n) return xt_error("cli", "%s expects a list of numbers", opt);
    return n;
}

int xt_stream_parse_opt(xt_stream_args *a, int argc, char **argv, int *i) {
    const char *o = argv[*i], *v = *i + 1 < argc ? argv[*i + 1] : NULL;
    double tmp[XT_NORM_MAX_BANDS];
    int n;
#define NEEDV                                                                                      \
    if (!v) return xt_error("cli", "%s needs a value", o);                                         \
    (*i)++
    if (!strcmp(o, "-m") || !strcmp(o, "--model")) { NEEDV; a->model = v; }
    else if (!strcmp(o, "-t") || !strcmp(o, "--threads")) { NEEDV; return xt_cli_parse_int(v, o, 0, 1024, &a->threads) < 0 ? -1 : 1; }
    else if (!strcmp(o, "--precision")) { NEEDV; return xt_cli_parse_precision(v, &a->precision) < 0 ? -1 : 1; }
    else if (!strcmp(o, "--batch")) { NEEDV; return xt_cli_parse_int(v, o, 1, 4096, &a->batch) < 0 ? -1 : 1; }
    else if (!strcmp(o, "--quiet") || !strcmp(o, "-q")) a->quiet = 1;
    else if (!strcmp(o, "--bands")) {
        NEEDV;
        if ((n = parse_list(v, o, tmp, XT_NORM_MAX_BANDS)) < 0) return -1;
        for (int k = 0; k < n; k++) {
            if (tmp[k] != floor(tmp[k]) || tmp[k] < 1 || tmp[k] > 65535) return xt_error("cli", "--bands: bad band number in '%s' (1-based)", v);
            a->bands[k] = (int)tmp[k] - 1;
        }
        a->n_bands = n;
    } else if (!strcmp(o, "--mean")) { NEEDV; if ((a->n_mean = parse_list(v, o, a->mean, XT_NORM_MAX_BANDS)) < 0) return -1; }
    else if (!strcmp(o, "--std")) {
        NEEDV;
        if ((a->n_std = parse_list(v, o, a->std, XT_NORM_MAX_BANDS)) < 0) return -1;
        for (int k = 0; k < a->n_std; k++)
            if (!(a->std[k] > 0)) return xt_error("cli", "--std values must be > 0, got '%s'", v);
    } else if (!strcmp(o, "--scale")) {
        NEEDV;
        if (parse_list(v, o, &a->scale, 1) < 0 || !(a->scale > 0)) return xt_error("cli", "--scale expects a positive number, got '%s'", v);
        a->has_scale = 1;
    } else if (!strcmp(o, "--nodata")) {
        NEEDV;
        if (!strcasecmp(v, "nan")) a->nodata = NAN; // NaN samples are always NoData; said for clarity
        else if (parse_list(v, o, &a->nodata, 1) < 0) return -1;
        a->has_nodata = 1;
    } else if (!strcmp(o, "--level")) { NEEDV; return xt_cli_parse_int(v, o, 0, XT_MAX_LEVELS - 1, &a->open.level) < 0 ? -1 : 1; }
    else if (!strcmp(o, "--mpp")) {
        NEEDV;
        if (parse_list(v, o, &a->open.mpp, 1) < 0 || !(a->open.mpp > 0)) return xt_error("cli", "--mpp expects microns per pixel > 0, got '%s'", v);
    } else if (!strcmp(o, "--backend")) { NEEDV; return xt_backend_parse(v, &a->open.backend) < 0 ? -1 : 1; }
    else if (!strcmp(o, "--cache") || !strcmp(o, "--mem")) {
        NEEDV;
        double mb;
        if (parse_list(v, o, &mb, 1) < 0 || !(mb >= 0)) return xt_error("cli", "%s expects megabytes, got '%s'", o, v);
        *(o[2] == 'c' ? &a->cache_mb : &a->mem_mb) = mb;
    } else return 0;
    return 1;
#undef NEEDV
}

static void on_progress(void *u, int64_t done, int64_t total) {
    (void)total;
    xt_progress_set(u, (long)done);
}

static void on_context(void *u, int64_t done, int64_t total) {
    xt_progress *pg = u;
    if (done == 0) xt_progress_phase(pg, "context", (long)total, "layers");
    xt_progress_set(pg, (long)done);
}

static void stats(const xt_stream *s, const char *sink) {
    if (!getenv("XT_STREAM_STATS")) return;
    long dec;
    size_t high;
    xt_raster_stats(s->r, &dec, &high);
    int split = s->a.split && xt_dist_size() > 1;
    char line[512], who[32] = "", here[48] = "", wait[64] = "";
    if (split) { // the line as one write: ranks' lines then arrive whole through mpirun
        snprintf(who, sizeof who, "rank %d: ", xt_dist_rank());
        snprintf(here, sizeof here, " (%lld encoded here)", (long long)s->n_here);
        if (xt_dist_rank() == 0) snprintf(wait, sizeof wait, ", waited for other ranks' rows %.2f s", s->t_wait);
    }
    snprintf(line, sizeof line, "xt: stream: %s%d regions%s, read %.2f s, encode %.2f s, %s %.2f s, %ld blocks decoded, cache high-water %.1f MiB, peak RSS %.1f MiB%s\n",
             who, s->HP * s->WP, here, s->t_read, s->t_encode, sink, s->t_sink + s->t_context, dec, high / 1048576.0,
             xt_peak_rss() / 1048576.0, wait);
    fputs(line, stderr);
}

int xt_cli_stream_run(xt_stream *s, xt_progress *pg, int (*on_batch)(void *u, int rr, int rc0, int n, const float *feat),
                      void *u, float *logits) {
    int global = logits && !s->mi->streaming && s->mi->head == XT_HEAD_XL;
    xt_cli_level_note(s->ri, &s->a.open);
    xt_progress_phase(pg, logits ? "read+encode" : "read+encode+write", (long)s->HP * s->WP, "regions");
    if (global) xt_progress_note(pg, "then the context encoder");
    s->a.progress = on_progress;
    s->a.context_progress = on_context;
    s->a.progress_user = pg;
    int rc = logits ? xt_stream_classify(s, logits) : xt_stream_run(s, on_batch, u);
    s->a.progress = NULL;
    s->a.context_progress = NULL;
    if (rc == 0) stats(s, logits ? "context" : "write");
    return rc;
}

int xt_cli_split(void) { return xt_dist_size() > 1; }

int xt_cli_stream_serve(const xt_stream_args *a) {
    xt_stream s;
    int rc = xt_stream_open(&s, a);
    if (!rc) rc = xt_stream_run(&s, NULL, NULL);
    if (!rc) stats(&s, "send");
    xt_stream_close(&s);
    return rc;
}

void xt_cli_split_abort(void) {
    xt_cli_fail();
    xt_dist_abort(1);
}

void xt_cli_level_note(const xt_raster_info *ri, const xt_raster_open_opts *o) {
    if (!ri || (o->level < 0 && !(o->mpp > 0))) return;
    int l = ri->level;
    fprintf(stderr, "xt: reading level %d of %d (%d x %d, downsample %.4g", l, ri->n_levels, ri->width, ri->height, ri->level_downsample[l]);
    if (ri->mpp_x > 0) fprintf(stderr, ", %.4g um/px", ri->mpp_x * ri->level_downsample[l]);
    if (o->mpp > 0) fprintf(stderr, "; nearest to --mpp %g", o->mpp);
    fprintf(stderr, ") via %s\n", ri->backend);
}

void xt_cli_meta_init(xt_cli_meta *m, const xt_stream *s, const char *command, int stride) {
    memset(m, 0, sizeof *m);
    snprintf(m->buf[0], sizeof m->buf[0], "%d", s->S);
    snprintf(m->buf[1], sizeof m->buf[1], "%d", stride);
    snprintf(m->buf[2], sizeof m->buf[2], "%d x %d", s->HP, s->WP);
    const char *kv[] = {"XT_VERSION", XT_VERSION, "XT_COMMAND", command, "XT_MODEL", s->a.model ? s->a.model : "",
                        "XT_INPUT", s->a.image ? s->a.image : "", "XT_REGION_SIZE", m->buf[0], "XT_STRIDE", m->buf[1],
                        "XT_REGIONS", m->buf[2], NULL};
    memcpy(m->kv, kv, sizeof kv);
}
