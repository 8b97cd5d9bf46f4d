// stream.c — streaming inference driver (see stream.h and docs/streaming.md).
#include <math.h>
#include <string.h>

#include "cli.h"
#include "cli/stream.h"

static const double imagenet_mean[3] = {0.485, 0.456, 0.406}, imagenet_std[3] = {0.229, 0.224, 0.225};

void xt_stream_args_default(xt_stream_args *a) {
    memset(a, 0, sizeof *a);
    a->batch = 8;
    a->cache_mb = -1; // auto
    a->mem_mb = 1024;
}

void xt_stream_help(FILE *f) {
    fprintf(f,
            "  -m, --model FILE    model file (safetensors, kind \"xt\")         [required]\n"
            "  -t, --threads N     threads (0: all cores)                       [0]\n"
            "  --batch N           regions per encoder call                     [8]\n"
            "  --bands LIST        1-based bands to use, e.g. 4,3,2              [all]\n"
            "  --mean LIST         per-band mean after scaling   [config \"mean\"; ImageNet for 3 bands; else 0]\n"
            "  --std LIST          per-band std after scaling    [config \"std\"; ImageNet for 3 bands; else 1]\n"
            "  --scale S           multiply samples by S first   [config \"input_scale\"; 1/255 u8, 1/65535 u16,\n"
            "                      1/32767 i16, 1 f32]\n"
            "  --nodata V          pixels where a selected band equals V (raw) become 0 after normalisation\n"
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
        if (parse_list(v, o, &a->nodata, 1) < 0) return -1;
        a->has_nodata = 1;
    } else if (!strcmp(o, "--cache") || !strcmp(o, "--mem")) {
        NEEDV;
        double mb;
        if (parse_list(v, o, &mb, 1) < 0 || !(mb >= 0)) return xt_error("cli", "%s expects megabytes, got '%s'", o, v);
        *(o[2] == 'c' ? &a->cache_mb : &a->mem_mb) = mb;
    } else return 0;
    return 1;
#undef NEEDV
}

// Reads a numeric array config key; returns count, 0 if absent, -1 on a bad value.
static int cfg_list(const xt_json *cfg, const char *key, double *out, int max) {
    const xt_json *j = xt_json_get(cfg, key);
    if (!j) return 0;
    if (j->type != XT_JSON_ARR || j->n > max) return xt_error("config", "\"%s\" must be an array of at most %d numbers", key, max);
    for (int i = 0; i < j->n; i++) {
        if (j->items[i]->type != XT_JSON_NUM) return xt_error("config", "\"%s\" must be an array of numbers", key);
        out[i] = j->items[i]->num;
    }
    return j->n;
}

int xt_stream_open(xt_stream *s, const xt_stream_args *a) {
    memset(s, 0, sizeof *s);
    s->a = *a;
    if (!a->model) return xt_error("cli", "no model (-m FILE)");
    if (!a->image) return xt_error("cli", "no input image");
    xt_set_threads(a->threads);
    if (!(s->st = xt_st_open(a->model))) return -1;
    const char *cs = xt_st_meta(s->st, "config");
    if (!cs) return xt_error("model", "%s: no config in the file's metadata (not a model file)", a->model);
    if (!(s->cfg = xt_json_parse(cs, strlen(cs), a->model))) return -1;
    const char *kind = xt_json_str(s->cfg, "kind", "");
    if (strcmp(kind, "xt")) return xt_error("model", "%s: kind \"%s\" is not an xT model (kind \"xt\")", a->model, kind);
    if (!(s->m = xt_xtmodel_new(s->st, s->cfg))) return -1;
    s->mi = xt_xtmodel_get_info(s->m);
    s->S = s->mi->crop_size;
    if (!(s->r = xt_raster_open(a->image))) return -1;
    s->ri = xt_raster_get_info(s->r);
    const xt_raster_info *ri = s->ri;
    int C = s->mi->in_chans;
    // bands
    if (a->n_bands) {
        if (a->n_bands != C)
            return xt_error("cli", "--bands selects %d bands, the model expects %d", a->n_bands, C);
        for (int i = 0; i < C; i++) {
            if (a->bands[i] >= ri->bands) return xt_error("cli", "--bands: %s has %d bands, no band %d", a->image, ri->bands, a->bands[i] + 1);
            s->bands[i] = a->bands[i];
        }
    } else {
        if (ri->bands != C)
            return xt_error("cli", "%s has %d bands, the model expects %d (choose bands with --bands, e.g. --bands 1,2,3)",
                            a->image, ri->bands, C);
        for (int i = 0; i < C; i++) s->bands[i] = i;
    }
    if (C > XT_NORM_MAX_BANDS) return xt_error("cli", "models with more than %d input bands are not supported", XT_NORM_MAX_BANDS);
    // size: an image smaller than one region is refused (it would be mostly padding)
    if (ri->width < s->S || ri->height < s->S)
        return xt_error("cli", "%s is %d x %d, smaller than one region of the model (%d x %d)", a->image, ri->width,
                        ri->height, s->S, s->S);
    s->HP = (ri->height + s->S - 1) / s->S;
    s->WP = (ri->width + s->S - 1) / s->S;
    // normalisation: command line > config > defaults
    xt_norm *nm = &s->norm;
    nm->n = C;
    double cm[XT_NORM_MAX_BANDS], csd[XT_NORM_MAX_BANDS], sc;
    int ncm = cfg_list(s->cfg, "mean", cm, XT_NORM_MAX_BANDS), ncs = cfg_list(s->cfg, "std", csd, XT_NORM_MAX_BANDS);
    if (ncm < 0 || ncs < 0) return xt_error_prefix("%s", a->model);
    if (xt_json_num(s->cfg, "input_scale", xt_sample_unit_scale(ri->sample), &sc) < 0) return xt_error_prefix("%s", a->model);
    nm->scale = a->has_scale ? a->scale : sc;
    for (int i = 0; i < C; i++) {
        nm->mean[i] = C == 3 ? imagenet_mean[i] : 0;
        nm->std[i] = C == 3 ? imagenet_std[i] : 1;
    }
    if (ncm && ncm != C) return xt_error("config", "%s: \"mean\" has %d values, the model has %d bands", a->model, ncm, C);
    if (ncs && ncs != C) return xt_error("config", "%s: \"std\" has %d values, the model has %d bands", a->model, ncs, C);
    for (int i = 0; i < ncm; i++) nm->mean[i] = cm[i];
    for (int i = 0; i < ncs; i++) {
        if (!(csd[i] > 0)) return xt_error("config", "%s: \"std\" values must be > 0", a->model);
        nm->std[i] = csd[i];
    }
    if (a->n_mean && a->n_mean != C) return xt_error("cli", "--mean has %d values, the model expects %d bands", a->n_mean, C);
    if (a->n_std && a->n_std != C) return xt_error("cli", "--std has %d values, the model expects %d bands", a->n_std, C);
    for (int i = 0; i < a->n_mean; i++) nm->mean[i] = a->mean[i];
    for (int i = 0; i < a->n_std; i++) nm->std[i] = a->std[i];
    nm->has_nodata = a->has_nodata;
    nm->nodata = a->nodata;
    // buffers: one batch of regions and features, the encoder workspace
    s->B = a->batch < s->WP ? a->batch : s->WP;
    size_t rs = (size_t)C * s->S * s->S, fs = xt_xtmodel_feat_numel(s->mi);
    s->regions = xt_malloc_checked(sizeof(float) * rs * s->B, "region batch");
    s->feat = xt_malloc_checked(sizeof(float) * fs * s->B, "feature batch");
    if (!s->regions || !s->feat) return -1;
    if (xt_arena_init(&s->ws, xt_xtmodel_encode_ws_size(s->m, s->B)) < 0) return -1;
    // cache: by default the tiles under one batch of regions (each tile is decoded once when
    // tiles and regions align, about twice otherwise, and the cache does not grow with the image
    // width); strips and row-decoded formats need a band of S rows across the whole width.
    size_t px = (size_t)xt_sample_bytes(ri->sample) * (ri->planar ? 1 : ri->bands), bb = px * ri->block_w * ri->block_h;
    size_t nbx = ((size_t)s->B * s->S + ri->block_w - 1) / ri->block_w + 1, nby = ((size_t)s->S + ri->block_h - 1) / ri->block_h + 1;
    size_t cache = nbx * nby * bb * (ri->planar ? ri->bands : 1);
    if (!ri->tiled) cache = px * (ri->planar ? ri->bands : 1) * ri->width * ((size_t)s->S + 2 * ri->block_h);
    if (a->cache_mb >= 0) cache = (size_t)(a->cache_mb * 1048576.0) > cache || ri->tiled ? (size_t)(a->cache_mb * 1048576.0) : cache;
    xt_raster_set_cache(s->r, cache);
    return 0;
}

int xt_stream_run(xt_stream *s, const char *what, int (*on_batch)(void *u, int rr, int rc0, int n, const float *feat), void *u) {
    int S = s->S, C = s->mi->in_chans;
    size_t rs = (size_t)C * S * S;
    xt_progress pg;
    xt_progress_init(&pg, what, (long)s->HP * s->WP, s->a.quiet);
    double t0 = xt_time();
    for (int rr = 0; rr < s->HP; rr++) {
        xt_raster_drop_above(s->r, rr * S);
        for (int rc0 = 0; rc0 < s->WP; rc0 += s->B) {
            int n = s->WP - rc0 < s->B ? s->WP - rc0 : s->B;
            double t1 = xt_time();
            for (int k = 0; k < n; k++)
                if (xt_raster_read_norm(s->r, xt_rect_make((rc0 + k) * S, rr * S, S, S), s->bands, &s->norm, s->regions + k * rs) < 0) {
                    xt_progress_end(&pg);
                    return -1;
                }
            double t2 = xt_time();
            xt_arena_reset(&s->ws);
            if (xt_xtmodel_encode_regions(s->m, s->regions, n, s->feat, &s->ws) < 0 || on_batch(u, rr, rc0, n, s->feat) < 0) {
                xt_progress_end(&pg);
                return -1;
            }
            s->t_read += t2 - t1;
            s->t_encode += xt_time() - t2;
            xt_progress_add(&pg, n);
        }
    }
    xt_progress_end(&pg);
    s->t_total = xt_time() - t0;
    if (getenv("XT_STREAM_STATS")) {
        long dec;
        size_t high;
        xt_raster_stats(s->r, &dec, &high);
        fprintf(stderr, "xt: stream: %d regions, read %.2f s, encode %.2f s, %ld blocks decoded, cache high-water %.1f MiB, peak RSS %.1f MiB\n",
                s->HP * s->WP, s->t_read, s->t_encode, dec, high / 1048576.0, xt_peak_rss() / 1048576.0);
    }
    return 0;
}

void xt_stream_close(xt_stream *s) {
    xt_arena_free(&s->ws);
    free(s->regions);
    free(s->feat);
    xt_raster_close(s->r);
    if (s->m) xt_xtmodel_free(s->m);
    xt_json_free(s->cfg);
    xt_st_close(s->st);
    memset(s, 0, sizeof *s);
}
