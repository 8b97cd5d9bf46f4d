// cmd_embed.c — `xt embed -m MODEL IMAGE -o OUT.tif`: the stitched last-stage region features as
// a tiled float32 GeoTIFF, one pixel per token, C bands; georeferenced like the input with the
// pixel size multiplied by the token stride (crop_size / feat_w), GCPs carried over. Rows of region
// features go to the writer as they are produced (memory: one row of regions' features + one row
// of tiles). Tokens that cover only padding (past the image's right or bottom edge) are NoData
// (NaN); bands are described "feature N"; provenance goes into the GDAL metadata.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/stream.h"
#include "core/dist.h"

static void usage(FILE *f) {
    fprintf(f, "usage: xt embed -m MODEL IMAGE -o OUT.tif [options]\n\n"
               "Writes the region encoder's last-stage features of every region, stitched into one token\n"
               "grid, as a tiled float32 GeoTIFF (C bands, one pixel per token) carrying the input's\n"
               "georeferencing (pixel size x token stride, same CRS). The grid covers the padded region\n"
               "grid (ceil(H/S) x ceil(W/S) regions); tokens covering only padding are NoData (NaN). Band\n"
               "descriptions (\"feature N\") and provenance (model, region size, stride, xt version) are in\n"
               "the GDAL metadata. Written as OUT.tif.part, renamed when complete. Under mpirun the ranks\n"
               "share the region rows; rank 0 writes the file, identical to one process's (docs/distributed.md).\n\noptions:\n"
               "  -o, --output FILE   output GeoTIFF                               [required]\n"
               "  --compress C        none, deflate, lzw, zstd                     [none]\n"
               "  --list FILE -o DIR  many images (one path a line): DIR/<name>.tif and DIR/<name>.json (a\n"
               "                      summary) each, finished ones skipped on a rerun, DIR/results.jsonl\n"
               "                      merged at the end; under mpirun the ranks share the list\n"
               "  --overviews         add overviews (2 x 2 means, halving until one tile) so GIS viewers\n"
               "                      open big outputs fast\n");
    xt_stream_help(f);
}

typedef struct {
    xt_stream *s;
    xt_tiff_writer *w;
    float *row; // (C, fh, WP * fw)
    int stride; // input pixels per token
} emb_state;

static int on_batch(void *u, int rr, int rc0, int n, const float *feat) {
    emb_state *es = u;
    const xt_xtmodel_info *mi = es->s->mi;
    int C = mi->feat_c, fh = mi->feat_h, fw = mi->feat_w, GW = es->s->WP * fw;
    for (int k = 0; k < n; k++) {
        const float *f = feat + k * xt_xtmodel_feat_numel(mi);
        for (int c = 0; c < C; c++)
            for (int y = 0; y < fh; y++)
                memcpy(es->row + ((size_t)c * fh + y) * GW + (size_t)(rc0 + k) * fw, f + ((size_t)c * fh + y) * fw,
                       sizeof(float) * fw);
    }
    if (rc0 + n < es->s->WP) return 0;
    // NoData: tokens whose pixels [stride * i, stride * (i + 1)) all lie past the image
    const int W = es->s->ri->width, H = es->s->ri->height;
    for (int y = 0; y < fh; y++) {
        int pad_row = (rr * fh + y) * es->stride >= H;
        for (int x = 0; x < GW; x++)
            if (pad_row || x * es->stride >= W)
                for (int c = 0; c < C; c++) es->row[((size_t)c * fh + y) * GW + x] = NAN;
    }
    return xt_tiff_writer_rows(es->w, es->row, fh);
}

// Embeds one image into out; json (NULL: a line on stderr unless quiet) gets a one-object summary
// for --list. 0 / -1 (error buffer).
static int embed_one(const xt_stream_args *a0, const char *out, const char *comp, int overviews, xt_sbuf *json) {
    xt_stream_args a = *a0;
    xt_progress pg;
    xt_progress_init(&pg, "embed", a.quiet); // the job's clock: model load to the closed file
    xt_stream s;
    emb_state es = {&s, NULL, NULL, 0};
    xt_georef g = {0};
    char **desc = NULL;
    int rc = -1;
    if (xt_stream_open(&s, &a) < 0) goto done;
    double t_load = xt_time() - pg.t0;
    const xt_xtmodel_info *mi = s.mi;
    if (s.S % mi->feat_w || s.S % mi->feat_h || s.S / mi->feat_w != s.S / mi->feat_h) {
        xt_error("embed", "token stride is not an integer (%d px regions, %d x %d tokens)", s.S, mi->feat_h, mi->feat_w);
        goto done;
    }
    int stride = es.stride = s.S / mi->feat_w;
    const xt_georef *in_geo = &s.ri->geo;
    int has_geo = in_geo->has_transform || in_geo->n_keys || in_geo->n_gcps;
    if (has_geo) {
        xt_georef_copy(&g, in_geo);
        xt_georef_scale(&g, stride);
    }
    int tile = ((mi->feat_h + 15) / 16) * 16;
    xt_tiff_opts to = {.width = s.WP * mi->feat_w, .height = s.HP * mi->feat_h, .bands = mi->feat_c, .sample = XT_S_F32,
                       .tile_w = tile, .tile_h = tile, .compression = comp, .geo = has_geo ? &g : NULL,
                       .has_nodata = 1, .nodata = NAN, .overviews = overviews ? XT_OVERVIEWS_MAX : 0};
    desc = xt_xcalloc(mi->feat_c, sizeof *desc);
    for (int c = 0; c < mi->feat_c; c++) {
        desc[c] = xt_xmalloc(24);
        snprintf(desc[c], 24, "feature %d", c);
    }
    xt_cli_meta meta;
    xt_cli_meta_init(&meta, &s, "embed", stride);
    to.band_desc = (const char *const *)desc;
    to.meta = meta.kv;
    es.row = xt_malloc_checked(sizeof(float) * mi->feat_c * mi->feat_h * to.width, "feature row");
    if (!es.row || !(es.w = xt_tiff_writer_open(out, &to))) goto done;
    if (xt_cli_stream_run(&s, &pg, on_batch, &es, NULL) < 0) goto done;
    xt_tiff_writer *w = es.w;
    es.w = NULL;
    double t1 = xt_time();
    if (xt_tiff_writer_close(w) < 0) goto done;
    double t_write = s.t_sink + xt_time() - t1;
    double secs = xt_progress_end(&pg);
    if (json) {
        xt_sbuf_printf(json, "{\"image\": ");
        xt_sbuf_json_str(json, a.image);
        xt_sbuf_printf(json, ", \"output\": ");
        xt_sbuf_json_str(json, out);
        xt_sbuf_printf(json, ", \"width\": %d, \"height\": %d, \"bands\": %d, \"stride\": %d, \"regions\": [%d, %d], \"seconds\": %.3f}\n",
                       to.width, to.height, to.bands, stride, s.HP, s.WP, secs);
    } else if (!a.quiet)
        fprintf(stderr, "xt embed: %s: %d x %d tokens x %d channels (stride %d px), %d regions in %.2f s (load %.2f, read %.2f, encode %.2f, write %.2f)\n",
                out, to.width, to.height, to.bands, stride, s.HP * s.WP, secs, t_load, s.t_read, s.t_encode, t_write);
    rc = 0;
done:
    if (rc) xt_progress_abort(&pg);
    if (es.w) xt_tiff_writer_abort(es.w);
    free(es.row);
    for (int c = 0; desc && c < s.mi->feat_c; c++) free(desc[c]);
    free(desc);
    xt_georef_free(&g);
    xt_stream_close(&s);
    return rc;
}

typedef struct {
    xt_stream_args a;
    const char *dir, *comp;
    int overviews;
} list_ctx;

static int list_item(void *u, const char *path, const char *name, xt_sbuf *json) {
    list_ctx *c = u;
    xt_stream_args a = c->a;
    a.image = path;
    size_t n = strlen(c->dir) + strlen(name) + 8;
    char *out = xt_xmalloc(n);
    snprintf(out, n, "%s/%s.tif", c->dir, name);
    int rc = embed_one(&a, out, c->comp, c->overviews, json);
    free(out);
    return rc;
}

int xt_cmd_embed(int argc, char **argv) {
    xt_stream_args a;
    xt_stream_args_default(&a);
    const char *out = NULL, *comp = "none", *list = NULL;
    int overviews = 0;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "-h") || !strcmp(o, "--help")) {
            usage(stdout);
            return 0;
        }
        int r = xt_stream_parse_opt(&a, argc, argv, &i);
        if (r < 0) return xt_cli_usage_error("embed", "%s", xt_error_buffer());
        if (r) continue;
        if ((!strcmp(o, "-o") || !strcmp(o, "--output")) && i + 1 < argc) out = argv[++i];
        else if (!strcmp(o, "--compress") && i + 1 < argc) comp = argv[++i];
        else if (!strcmp(o, "--list") && i + 1 < argc) list = argv[++i];
        else if (!strcmp(o, "--overviews")) overviews = 1;
        else if (o[0] == '-' && o[1]) return xt_cli_usage_error("embed", "unknown option or missing value: %s", o);
        else if (!a.image) a.image = o;
        else return xt_cli_usage_error("embed", "more than one image (%s, %s)", a.image, o);
    }
    if (list) {
        if (!a.model || a.image || !out)
            return xt_cli_usage_error("embed", "%s", !a.model ? "no model (-m MODEL)" : a.image ? "--list takes no image operand" : "--list needs -o OUTDIR");
        list_ctx c = {a, out, comp, overviews};
        return xt_cli_list_run("embed", list, out, list_item, &c);
    }
    if (!a.model || !a.image || !out)
        return xt_cli_usage_error("embed", "%s", !a.model ? "no model (-m MODEL)" : !a.image ? "no image" : "no output (-o OUT.tif)");
    if ((a.split = xt_cli_split()) && xt_dist_rank() > 0) { // rank 0 writes; the others encode rows for it
        if (xt_cli_stream_serve(&a)) xt_cli_split_abort();
        return 0;
    }
    if (embed_one(&a, out, comp, overviews, NULL) == 0) return 0;
    if (a.split) xt_cli_split_abort(); // the OUT.tif.part stays; OUT.tif is only ever complete
    return xt_cli_fail();
}
