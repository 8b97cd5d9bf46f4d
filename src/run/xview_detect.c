// xview_detect.c — `xt detect`: a whole xView3-SAR scene through the dense model, streamed.
//
//   VV, VH (one 2-band raster, or the dataset's VV_dB.tif + VH_dB.tif) --read by tile windows-->
//   official tiles (xview_tile.c: grid, float16 normalisation, regions with cord, TTA, stitching)
//   --model callback--> xt_xview_forward (models/xview.c; memory restarted per tile as model_foward does)
//   --finished map rows--> detections (xview_post.c) and, opt-in, the four maps as tiled GeoTIFFs
//   --> <scene>.csv (the official columns first), <scene>.geojson (points in lon/lat or the CRS).
// Memory: one tile's buffers and a band of (stride + overlap/2) map rows; never the scene.
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/dist.h"
#include "formats/raster.h"
#include "run/xview.h"
#include "run/xview_detect.h"

xt_detect_opts xt_detect_default_opts(void) {
    xt_detect_opts o;
    memset(&o, 0, sizeof o);
    o.tile = 0, o.overlap = -1, o.order = -1, o.rotate = 1, o.tta = XT_XVIEW_TTA_XT;
    return o;
}

// ---------------------------------------------------------------------------------------------
// the scene: one 2-band raster or two 1-band rasters of the same grid

struct xt_detect_scene {
    xt_raster *r[2];
    int H, W;
    xt_georef geo;
};

static int same_grid(const xt_raster_info *a, const xt_raster_info *b) {
    if (a->width != b->width || a->height != b->height || a->geo.has_transform != b->geo.has_transform) return 0;
    for (int i = 0; a->geo.has_transform && i < 6; i++)
        if (fabs(a->geo.gt[i] - b->geo.gt[i]) > 1e-9 * fmax(1, fabs(a->geo.gt[i]))) return 0;
    return a->geo.epsg == b->geo.epsg;
}

xt_detect_scene *xt_detect_scene_open(const char *vv, const char *vh) {
    xt_detect_scene *s = xt_xcalloc(1, sizeof *s);
    if (!(s->r[0] = xt_raster_open(vv))) goto fail;
    const xt_raster_info *a = xt_raster_get_info(s->r[0]);
    if (vh) {
        if (!(s->r[1] = xt_raster_open(vh))) goto fail;
        const xt_raster_info *b = xt_raster_get_info(s->r[1]);
        if (a->bands != 1 || b->bands != 1) {
            xt_error("detect", "VV and VH files must have one band each (%s: %d, %s: %d)", vv, a->bands, vh, b->bands);
            goto fail;
        }
        if (!same_grid(a, b)) {
            xt_error("detect", "%s (%d x %d) and %s (%d x %d) do not share size and georeferencing", vv, a->width,
                     a->height, vh, b->width, b->height);
            goto fail;
        }
    } else if (a->bands != 2) {
        xt_error("detect", "%s has %d band%s: give a 2-band (VV, VH) raster, or VV and VH as two files", vv, a->bands,
                 a->bands == 1 ? "" : "s");
        goto fail;
    }
    s->W = a->width, s->H = a->height;
    if (xt_georef_copy(&s->geo, &a->geo)) goto fail;
    return s;
fail:
    xt_detect_scene_close(s);
    return NULL;
}

void xt_detect_scene_close(xt_detect_scene *s) {
    if (!s) return;
    xt_raster_close(s->r[0]);
    xt_raster_close(s->r[1]);
    xt_georef_free(&s->geo);
    free(s);
}

void xt_detect_scene_size(const xt_detect_scene *s, int *H, int *W) { *H = s->H, *W = s->W; }

int xt_detect_scene_read(xt_detect_scene *s, int y, int x, int h, int w, float *vv, float *vh) {
    struct xt_rect rect = xt_rect_make(x, y, w, h);
    int b0 = 0, b1 = 1;
    if (s->r[1]) return xt_raster_read_rect(s->r[0], rect, &b0, 1, -32768.0f, vv) || xt_raster_read_rect(s->r[1], rect, &b0, 1, -32768.0f, vh) ? -1 : 0;
    return xt_raster_read_rect(s->r[0], rect, &b0, 1, -32768.0f, vv) || xt_raster_read_rect(s->r[0], rect, &b1, 1, -32768.0f, vh) ? -1 : 0;
}

typedef struct {
    xt_detect_scene *s;
    const xt_detect_opts *o;
} src_ctx;

// VV and VH of rect, NoData as -32768 (another NoData value of the file, and NaN, become it).
static int read_bands(const src_ctx *c, struct xt_rect rect, float *vv, float *vh) {
    int b0 = 0, b1 = 1;
    if (c->s->r[1]) {
        if (xt_raster_read_rect(c->s->r[0], rect, &b0, 1, -32768.0f, vv) ||
            xt_raster_read_rect(c->s->r[1], rect, &b0, 1, -32768.0f, vh))
            return -1;
    } else if (xt_raster_read_rect(c->s->r[0], rect, &b0, 1, -32768.0f, vv) ||
               xt_raster_read_rect(c->s->r[0], rect, &b1, 1, -32768.0f, vh))
        return -1;
    // another NoData value of the file becomes the dataset's -32768 (normalize_band's test)
    if (c->o->has_nodata && c->o->nodata != -32768.0)
        for (size_t i = 0; i < (size_t)rect.w * rect.h; i++) {
            if (vv[i] == (float)c->o->nodata || isnan(vv[i])) vv[i] = -32768.0f;
            if (vh[i] == (float)c->o->nodata || isnan(vh[i])) vh[i] = -32768.0f;
        }
    return 0;
}

static int read_db(void *u, int y, int x, int h, int w, float *vv, float *vh) {
    src_ctx *c = u;
    if (read_bands(c, xt_rect_make(x, y, w, h), vv, vh)) return -1;
    for (int r = 0; r < 2; r++) // rows above this tile row are not read again
        if (c->s->r[r]) xt_raster_drop_above(c->s->r[r], y);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// the model as the tiling driver calls it

typedef struct {
    const xt_xview *m;
    const xt_detect_opts *o;
    xt_xview_mem *mem;
    xt_xview_ws *ws; // the forward's buffers, allocated by the first call and reused
    long calls, total;
    void (*progress)(void *u, long done, long total);
    void *progress_u;
} model_ctx;

static int model_begin(void *u, int model) {
    model_ctx *c = u;
    xt_xview_mem_free(c->mem); // model_foward: mem = set() for every tile (and TTA pass)
    c->mem = xt_xview_mem_new(c->m, c->o->memfix, 0);
    return 0;
}

static int model_forward(void *u, int model, const float *x, int S, int i, int j, int mem_only, float *const *out) {
    model_ctx *c = u;
    if (i < 0) i = 0, j = 0; // no regions: the model sees the tile at cord (0, 0)
    if (xt_xview_forward_ws(c->m, c->ws, x, 1, S, i, j, c->mem, out, NULL, "")) return -1; // mem_only: out is scratch
    if (c->progress) c->progress(c->progress_u, ++c->calls, c->total);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// sinks: detections, and the optional map GeoTIFFs (the writer renames PATH.part at close)

typedef struct {
    xt_xview_post *post;
    xt_tiff_writer *map[XT_XVIEW_MAPS];
    float *lenrow; // length rows as float32 for the GeoTIFF
    // the written maps mark the scene's NoData (both bands -32768): a row of each band and of
    // the three uint8 maps
    const src_ctx *src;
    float *vv, *vh;
    uint8_t *u8[3];
    int W, band_rows;
} sink_ctx;

static int sink_rows(void *u, int y0, int n, int W, const uint8_t *v, const uint8_t *f, const uint8_t *c,
                     const uint16_t *l) {
    sink_ctx *s = u;
    if (xt_xview_post_rows(s->post, y0, n, v, f, c, l, W)) return -1;
    if (s->map[0]) { // row by row: the scene's row, then the four map rows with NoData marked
        const uint8_t *in8[3] = {v, f, c};
        for (int r = 0; r < n; r++) {
            if (read_bands(s->src, xt_rect_make(0, y0 + r, W, 1), s->vv, s->vh)) return -1;
            const size_t o = (size_t)r * W;
            for (int x = 0; x < W; x++) {
                int nd = s->vv[x] == -32768.0f && s->vh[x] == -32768.0f;
                for (int k = 0; k < 3; k++) {
                    uint8_t q = in8[k][o + x];
                    s->u8[k][x] = nd ? XT_DETECT_MAP_NODATA : q < XT_DETECT_MAP_NODATA ? q : XT_DETECT_MAP_NODATA - 1;
                }
                s->lenrow[x] = nd ? NAN : xt_f16_to_f32(l[o + x]);
            }
            for (int k = 0; k < 3; k++)
                if (xt_tiff_writer_rows(s->map[k], s->u8[k], 1)) return -1;
            if (xt_tiff_writer_rows(s->map[3], s->lenrow, 1)) return -1;
        }
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// outputs

// The official six columns as xT's evaluator writes them, then what a user wants beside them.
static void csv_text(xt_sbuf *s, const char *scene_id, const xt_xview_det *d, int64_t n) {
    xt_sbuf_printf(s, "detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m,"
                      "confidence,mean_vessel,mean_fishing,mean_center,mean_length,area\n");
    for (int64_t i = 0; i < n; i++) {
        char len[32];
        xt_xview_fmt_length(len, d[i].length_f16);
        // confidence: the mean vessel probability over the detection (the official file has the constant 127)
        xt_sbuf_printf(s, "%lld,%lld,%s,%s,%s,%s,%.4f,%.3f,%.3f,%.3f,%.3f,%lld\n", (long long)d[i].row, (long long)d[i].col,
                       scene_id, d[i].is_vessel ? "True" : "False", d[i].is_fishing ? "True" : "False", len,
                       d[i].mean_vessel / 255.0, d[i].mean_vessel, d[i].mean_fishing, d[i].mean_center,
                       (double)d[i].mean_length, (long long)d[i].area);
    }
}

static void geojson_text(xt_sbuf *s, const char *scene_id, const xt_georef *g, const xt_xview_det *d, int64_t n) {
    double lon, lat, x, y;
    int ll = g->has_transform && (xt_georef_apply(g, 0.5, 0.5, &x, &y), xt_georef_lonlat(g, x, y, &lon, &lat));
    xt_sbuf_printf(s, "{\"type\":\"FeatureCollection\",");
    if (!ll && g->has_transform && g->epsg > 0) // RFC 7946 wants lon/lat; GDAL/QGIS read this member for others
        xt_sbuf_printf(s, "\"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"urn:ogc:def:crs:EPSG::%d\"}},", g->epsg);
    xt_sbuf_printf(s, "\"features\":[");
    for (int64_t i = 0; i < n; i++) {
        double px = d[i].col + 0.5, py = d[i].row + 0.5; // the pixel's centre
        if (g->has_transform) xt_georef_apply(g, px, py, &x, &y);
        else x = px, y = py;
        if (ll) xt_georef_lonlat(g, x, y, &lon, &lat);
        char len[32];
        xt_xview_fmt_length(len, d[i].length_f16);
        xt_sbuf_printf(s, "%s\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"Point\",\"coordinates\":[%.9g,%.9g]},"
                          "\"properties\":{\"detect_scene_row\":%lld,\"detect_scene_column\":%lld,\"scene_id\":",
                       i ? "," : "", ll ? lon : x, ll ? lat : y, (long long)d[i].row, (long long)d[i].col);
        xt_sbuf_json_str(s, scene_id);
        double lm = strtod(len, NULL);
        xt_sbuf_printf(s, ",\"is_vessel\":%s,\"is_fishing\":%s,\"vessel_length_m\":", d[i].is_vessel ? "true" : "false",
                       d[i].is_fishing ? "true" : "false");
        if (isfinite(lm)) xt_sbuf_printf(s, "%s", len);
        else xt_sbuf_printf(s, "null");
        xt_sbuf_printf(s, ",\"confidence\":%.4f,\"mean_fishing\":%.3f,\"area\":%lld", d[i].mean_vessel / 255.0,
                       d[i].mean_fishing, (long long)d[i].area);
        if (g->has_transform) xt_sbuf_printf(s, ",\"x\":%.3f,\"y\":%.3f", x, y);
        xt_sbuf_printf(s, "}}");
    }
    xt_sbuf_printf(s, "\n]}\n");
}

// A quicklook: VV averaged over f x f blocks (f = ceil(max side / 1024)), grey from -30 to -5 dB,
// NoData black; detections as rings: red vessel, yellow fishing, cyan other. Reads the scene again
// in strips of f rows (memory: the picture and one strip).
static int quicklook(xt_detect_scene *sc, const xt_xview_det *d, int64_t n, const char *path) {
    const int H = sc->H, W = sc->W, f = (H > W ? H : W) / 1024 + ((H > W ? H : W) % 1024 != 0);
    const int qw = (W + f - 1) / f, qh = (H + f - 1) / f;
    uint8_t *rgb = xt_malloc_checked((size_t)qw * qh * 3, "quicklook");
    float *strip = xt_malloc_checked((size_t)f * W * sizeof(float), "quicklook");
    double *sum = xt_malloc_checked((size_t)qw * sizeof(double), "quicklook");
    int *cnt = xt_malloc_checked((size_t)qw * sizeof(int), "quicklook"), rc = -1;
    if (!rgb || !strip || !sum || !cnt) goto done;
    for (int qy = 0; qy < qh; qy++) {
        int y0 = qy * f, h = H - y0 < f ? H - y0 : f, b0 = 0;
        if (xt_raster_read_rect(sc->r[0], xt_rect_make(0, y0, W, h), &b0, 1, -32768.0f, strip)) goto done;
        xt_raster_drop_above(sc->r[0], y0 + h);
        memset(sum, 0, (size_t)qw * sizeof(double));
        memset(cnt, 0, (size_t)qw * sizeof(int));
        for (int y = 0; y < h; y++)
            for (int x = 0; x < W; x++) {
                float v = strip[(size_t)y * W + x];
                if (v > -32760.0f && isfinite(v)) sum[x / f] += v, cnt[x / f]++;
            }
        for (int qx = 0; qx < qw; qx++) {
            double g = cnt[qx] ? (sum[qx] / cnt[qx] + 30.0) / 25.0 * 255.0 : 0;
            uint8_t u = (uint8_t)(g < 0 ? 0 : g > 255 ? 255 : g);
            memset(rgb + ((size_t)qy * qw + qx) * 3, u, 3);
        }
    }
    for (int64_t i = 0; i < n; i++) {
        const uint8_t col[3][3] = {{255, 40, 40}, {255, 220, 0}, {0, 220, 255}};
        const uint8_t *c = col[d[i].is_fishing ? 1 : d[i].is_vessel ? 0 : 2];
        int cx = (int)(d[i].col / f), cy = (int)(d[i].row / f);
        for (int dy = -4; dy <= 4; dy++)
            for (int dx = -4; dx <= 4; dx++) {
                int r2 = dx * dx + dy * dy, x = cx + dx, y = cy + dy;
                if (r2 < 9 || r2 > 17 || x < 0 || y < 0 || x >= qw || y >= qh) continue;
                memcpy(rgb + ((size_t)y * qw + x) * 3, c, 3);
            }
    }
    if (xt_png_write_rgb8(path, qw, qh, rgb)) goto done; // PATH.part, renamed when complete
    rc = 0;
done:
    free(rgb), free(strip), free(sum), free(cnt);
    return rc;
}

int xt_detect_run(const xt_xview *m, xt_detect_scene *scene, const xt_detect_opts *o, xt_detect_result *res) {
    const xt_xview_info *in = xt_xview_get_info(m);
    memset(res, 0, sizeof *res);
    double t0 = xt_time();
    if (in->in_chans != 2) return xt_error("detect", "the model takes %d bands; xView3 scenes have 2 (VV, VH)", in->in_chans);
    int T = o->tile, ov = o->overlap;
    if (T <= 0) T = in->val_crop_size > 0 ? in->val_crop_size : 2 * in->crop_size;
    if (ov < 0) ov = in->overlap >= 0 ? in->overlap : 10;
    if (T % in->crop_size)
        return xt_error("detect", "tile %d is not a multiple of the model's region %d (--tile)", T, in->crop_size);
    xt_xview_grid g;
    if (xt_xview_grid_init(&g, scene->H, scene->W, T, ov)) return -1;
    xt_xview_order order = XT_XVIEW_ORDER_NAIVE;
    if (o->order >= 0) order = (xt_xview_order)o->order;
    else if (!strcmp(in->tiling, "zig_zag_horizontal")) order = XT_XVIEW_ORDER_ZIGZAG;
    else if (!strcmp(in->tiling, "naive_two_stream")) order = XT_XVIEW_ORDER_TWO_STREAM;
    else if (strcmp(in->tiling, "naive") && strcmp(in->tiling, "chip") && in->tiling[0])
        return xt_error("detect", "config: tiling '%s' (naive, zig_zag_horizontal, naive_two_stream or chip)", in->tiling);
    int chip = o->chip || !strcmp(in->tiling, "chip"); // a model trained on whole chipped crops runs tiles so
    xt_xview_tiling tl = {in->context && !chip ? in->crop_size : 0, order, o->rotate, o->tta, o->split};
    const int P = o->split ? xt_dist_size() : 1, worker = P > 1 && xt_dist_rank() > 0;
    int n = tl.region ? T / in->crop_size : 1;
    long per_tile = (long)(in->context ? n * n * (tl.order == XT_XVIEW_ORDER_TWO_STREAM ? 2 : 1) : 1) * (o->rotate ? 2 : 1);
    // split: the progress of rank 0's own tiles (i % P == 0)
    model_ctx mc = {m, o, NULL, xt_xview_ws_new(), 0, per_tile * ((g.rows * g.cols + P - 1) / P), o->progress, o->progress_u};
    sink_ctx sk = {0};
    src_ctx sc = {scene, o};
    sk.src = &sc;
    char paths[XT_XVIEW_MAPS][4200];
    xt_sbuf text = {0};
    int rc = -1;
    if (!(sk.post = xt_xview_post_new(scene->W, o->selim ? XT_XVIEW_POST_SELIM : 0, NULL))) goto done;
    if (o->maps && !worker) {
        static const char *const names[XT_XVIEW_MAPS] = {"vessel", "fishing", "center", "length"};
        if (!(sk.lenrow = xt_malloc_checked((size_t)scene->W * sizeof(float), "detect rows")) ||
            !(sk.vv = xt_malloc_checked((size_t)scene->W * sizeof(float), "detect rows")) ||
            !(sk.vh = xt_malloc_checked((size_t)scene->W * sizeof(float), "detect rows")))
            goto done;
        for (int k = 0; k < 3; k++)
            if (!(sk.u8[k] = xt_malloc_checked((size_t)scene->W, "detect rows"))) goto done;
        for (int k = 0; k < XT_XVIEW_MAPS; k++) {
            snprintf(paths[k], sizeof paths[k], "%s/%s.%s.tif", o->out_dir, o->scene_id, names[k]);
            // NoData: 255 in the uint8 maps (a computed 255 is written 254), NaN in length
            const char *desc[1] = {names[k]};
            xt_tiff_opts to = {.width = scene->W, .height = scene->H, .bands = 1, .sample = k == 3 ? XT_S_F32 : XT_S_U8,
                               .tile_w = 256, .tile_h = 256, .compression = "deflate",
                               .geo = scene->geo.has_transform || scene->geo.n_gcps ? &scene->geo : NULL, .band_desc = desc,
                               .has_nodata = 1, .nodata = k == 3 ? NAN : 255};
            if (!(sk.map[k] = xt_tiff_writer_open(paths[k], &to))) goto done; // PATH.part until closed
        }
    }
    xt_xview_source src = {read_db, &sc};
    xt_xview_model model = {1, model_begin, model_forward, &mc};
    xt_xview_sink sink = {sink_rows, &sk};
    if (xt_xview_scene_predict(&tl, &g, &src, &model, &sink)) goto done;
    res->seconds_model = xt_time() - t0;
    res->tiles = g.rows * g.cols, res->calls = mc.calls, res->T = T, res->overlap = ov;
    if (P > 1) { // the model calls of every rank
        double calls = (double)mc.calls;
        if (xt_dist_allreduce_sum_f64(&calls, 1)) goto done;
        res->calls = (long)calls;
    }
    if (worker) {
        rc = 0;
        goto done;
    }
    if (xt_xview_post_finish(sk.post, &res->dets, &res->n)) goto done; // spent, freed below
    for (int k = 0; o->maps && k < XT_XVIEW_MAPS; k++) {
        int e = xt_tiff_writer_close(sk.map[k]);
        sk.map[k] = NULL;
        if (e) goto done;
    }
    char path[4200];
    csv_text(&text, o->scene_id, res->dets, res->n);
    snprintf(path, sizeof path, "%s/%s.csv", o->out_dir, o->scene_id);
    if (xt_write_file_part(path, text.p, text.n, "detect")) goto done;
    xt_sbuf_free(&text);
    geojson_text(&text, o->scene_id, &scene->geo, res->dets, res->n);
    snprintf(path, sizeof path, "%s/%s.geojson", o->out_dir, o->scene_id);
    if (xt_write_file_part(path, text.p, text.n, "detect")) goto done;
    if (o->maps) {
        snprintf(path, sizeof path, "%s/%s.png", o->out_dir, o->scene_id);
        if (quicklook(scene, res->dets, res->n, path)) goto done;
    }
    res->seconds = xt_time() - t0;
    rc = 0;
done:
    xt_sbuf_free(&text);
    if (sk.post) xt_xview_post_free(sk.post);
    for (int k = 0; k < XT_XVIEW_MAPS; k++) {
        if (sk.map[k]) xt_tiff_writer_abort(sk.map[k]);
    }
    free(sk.lenrow), free(sk.vv), free(sk.vh);
    for (int k = 0; k < 3; k++) free(sk.u8[k]);
    xt_xview_mem_free(mc.mem);
    xt_xview_ws_free(mc.ws);
    if (rc) {
        free(res->dets);
        res->dets = NULL;
    }
    return rc;
}
