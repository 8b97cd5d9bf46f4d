// class_map.c — per-region class maps of `xt classify` (see class_map.h and docs/maps.md): rows
// of region logits in, a GeoTIFF row, GeoJSON features and quicklook pixels out, at once.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "run/class_map.h"

struct xt_class_map {
    xt_class_map_opts o;
    int K, top, nb, HP, WP, S, W, H;
    xt_georef geo;               // the map's: the input's scaled by S
    const xt_georef *ig;         // the input's
    int lonlat;                  // GeoJSON in lon/lat
    xt_tiff_writer *w;
    float *row;                  // (nb, WP) one map row
    double *prob;                // (K) one region's probabilities
    int *order;                  // (top) best classes of one region
    FILE *gj;
    int n_feat;
    uint8_t *ov;                 // (HP, WP, 4) quicklook overlay per region: RGB + alpha
    int f, qw, qh;
    char **desc;
};

int xt_class_map_default_top(int num_classes) { return num_classes <= 16 ? 0 : 3; }

// tab20: distinct colours for the top class (index modulo 20)
static const uint8_t palette[20][3] = {
    {31, 119, 180}, {255, 127, 14}, {44, 160, 44}, {214, 39, 40}, {148, 103, 189}, {140, 86, 75}, {227, 119, 194},
    {127, 127, 127}, {188, 189, 34}, {23, 190, 207}, {174, 199, 232}, {255, 187, 120}, {152, 223, 138},
    {255, 152, 150}, {197, 176, 213}, {196, 156, 148}, {247, 182, 210}, {199, 199, 199}, {219, 219, 141}, {158, 218, 229}};

void xt_class_map_abort(xt_class_map *m) {
    if (!m) return;
    if (m->w) xt_tiff_writer_abort(m->w);
    if (m->gj) xt_part_fclose(m->gj, m->o.geojson, 0, "map"); // removes PATH.part
    for (int i = 0; m->desc && i < m->nb; i++) free(m->desc[i]);
    free(m->desc);
    free(m->row);
    free(m->prob);
    free(m->order);
    free(m->ov);
    xt_georef_free(&m->geo);
    free(m);
}

static const char *class_name(const xt_class_map *m, int k) {
    return m->o.class_names && m->o.class_names[k] ? m->o.class_names[k] : NULL;
}

xt_class_map *xt_class_map_open(const xt_stream *s, const xt_class_map_opts *o) {
    xt_class_map *m = xt_xcalloc(1, sizeof *m);
    m->o = *o;
    m->K = s->mi->num_classes, m->HP = s->HP, m->WP = s->WP, m->S = s->S;
    m->W = s->ri->width, m->H = s->ri->height;
    m->top = o->top < 0 ? xt_class_map_default_top(m->K) : o->top;
    if (m->top > m->K) m->top = m->K;
    m->nb = m->top ? 2 * m->top : m->K;
    m->ig = &s->ri->geo;
    xt_georef_copy(&m->geo, m->ig);
    xt_georef_scale(&m->geo, m->S);
    m->row = xt_xmalloc(sizeof(float) * m->nb * m->WP);
    m->prob = xt_xmalloc(sizeof(double) * m->K);
    m->order = xt_xmalloc(sizeof(int) * (m->top ? m->top : 1));
    if (o->tif) {
        m->desc = xt_xcalloc(m->nb, sizeof *m->desc);
        for (int b = 0; b < m->nb; b++) {
            const char *nm = m->top ? NULL : class_name(m, b);
            char buf[64];
            if (m->top) snprintf(buf, sizeof buf, "top%d %s", b / 2 + 1, b % 2 ? "probability" : "class");
            else if (!nm) snprintf(buf, sizeof buf, "class %d", b);
            m->desc[b] = strdup(nm ? nm : buf);
        }
        // metadata: provenance, what the bands hold, and the class names when bands hold indices
        const char *kv[40];
        int n = 0;
        for (int i = 0; o->meta && o->meta[i] && n < 30; i++) kv[n++] = o->meta[i];
        kv[n++] = "XT_MAP_BANDS";
        kv[n++] = m->top ? "top-N pairs: class index (float), softmax probability, best first" : "softmax probability of each class";
        xt_sbuf names = {0};
        if (m->top && o->class_names) {
            for (int k = 0; k < m->K; k++) xt_sbuf_printf(&names, "%s%d:%s", k ? "," : "", k, class_name(m, k) ? class_name(m, k) : "");
            kv[n++] = "XT_CLASS_NAMES";
            kv[n++] = names.p;
        }
        kv[n] = NULL;
        int has_geo = m->geo.has_transform || m->geo.n_keys || m->geo.n_gcps;
        int side = m->WP > m->HP ? m->WP : m->HP, tile = side >= 256 ? 256 : (side + 15) / 16 * 16;
        xt_tiff_opts to = {.width = m->WP, .height = m->HP, .bands = m->nb, .sample = XT_S_F32, .tile_w = tile, .tile_h = tile,
                           .compression = o->compression ? o->compression : "deflate", .geo = has_geo ? &m->geo : NULL,
                           .has_nodata = 1, .nodata = NAN, .band_desc = (const char *const *)m->desc, .meta = kv,
                           .overviews = o->overviews ? XT_OVERVIEWS_MAX : 0, .overview_nearest = 1};
        m->w = xt_tiff_writer_open(o->tif, &to);
        xt_sbuf_free(&names);
        if (!m->w) goto fail;
    }
    if (o->geojson) {
        if (!(m->gj = xt_part_fopen(o->geojson, "map"))) goto fail;
        double x, y, lon, lat;
        const xt_georef *g = m->ig;
        m->lonlat = g->has_transform && (xt_georef_apply(g, 0, 0, &x, &y), xt_georef_lonlat(g, x, y, &lon, &lat));
        fprintf(m->gj, "{\"type\":\"FeatureCollection\",");
        if (!m->lonlat && g->has_transform && g->epsg > 0) // RFC 7946 wants lon/lat; GDAL/QGIS read this member
            fprintf(m->gj, "\"crs\":{\"type\":\"name\",\"properties\":{\"name\":\"urn:ogc:def:crs:EPSG::%d\"}},", g->epsg);
        fprintf(m->gj, "\"features\":[");
    }
    if (o->png) {
        int mx = m->W > m->H ? m->W : m->H;
        m->f = (mx + 1023) / 1024;
        m->qw = (m->W + m->f - 1) / m->f, m->qh = (m->H + m->f - 1) / m->f;
        if (!(m->ov = xt_malloc_checked((size_t)m->HP * m->WP * 4, "quicklook overlay"))) goto fail;
        memset(m->ov, 0, (size_t)m->HP * m->WP * 4);
    }
    return m;
fail:
    xt_class_map_abort(m);
    return NULL;
}

// region corner (col, row) in input pixels -> GeoJSON coordinates
static void corner(const xt_class_map *m, double px, double py, double *X, double *Y) {
    const xt_georef *g = m->ig;
    if (!g->has_transform) { *X = px, *Y = py; return; }
    xt_georef_apply(g, px, py, X, Y);
    if (m->lonlat) xt_georef_lonlat(g, *X, *Y, X, Y);
}

int xt_class_map_row(xt_class_map *m, int rr, const float *logits, const uint8_t *valid) {
    const int K = m->K, WP = m->WP;
    for (int rc = 0; rc < WP; rc++) {
        const float *l = logits + (size_t)rc * K;
        double mx = -INFINITY, sum = 0;
        for (int k = 0; k < K; k++) mx = l[k] > mx ? l[k] : mx;
        for (int k = 0; k < K; k++) sum += m->prob[k] = exp((double)l[k] - mx);
        for (int k = 0; k < K; k++) m->prob[k] /= sum;
        int nt = m->top ? m->top : 1; // best first, ties to the lower index
        for (int t = 0; t < nt; t++) {
            int b = -1;
            for (int k = 0; k < K; k++) {
                int used = 0;
                for (int u = 0; u < t; u++) used |= m->order[u] == k;
                if (!used && (b < 0 || m->prob[k] > m->prob[b])) b = k;
            }
            m->order[t] = b;
        }
        int ok = valid[rc];
        for (int b = 0; b < m->nb; b++) {
            float v = !m->top ? (float)m->prob[b] : b % 2 ? (float)m->prob[m->order[b / 2]] : (float)m->order[b / 2];
            m->row[(size_t)b * WP + rc] = ok ? v : NAN;
        }
        int best = m->order[0];
        if (m->gj) {
            double px0 = (double)rc * m->S, py0 = (double)rr * m->S;
            double px1 = fmin(px0 + m->S, m->W), py1 = fmin(py0 + m->S, m->H); // clipped to the image
            double c[5][2];
            corner(m, px0, py0, &c[0][0], &c[0][1]);
            corner(m, px0, py1, &c[1][0], &c[1][1]);
            corner(m, px1, py1, &c[2][0], &c[2][1]);
            corner(m, px1, py0, &c[3][0], &c[3][1]);
            c[4][0] = c[0][0], c[4][1] = c[0][1];
            fprintf(m->gj, "%s\n{\"type\":\"Feature\",\"geometry\":{\"type\":\"Polygon\",\"coordinates\":[[", m->n_feat++ ? "," : "");
            for (int i = 0; i < 5; i++) fprintf(m->gj, "%s[%.10g,%.10g]", i ? "," : "", c[i][0], c[i][1]);
            fprintf(m->gj, "]]},\"properties\":{\"row\":%d,\"col\":%d,", rr, rc);
            if (!ok) fprintf(m->gj, "\"class\":null,\"prob\":null}}");
            else {
                fprintf(m->gj, "\"class\":%d,\"prob\":%.6g", best, m->prob[best]);
                if (class_name(m, best)) {
                    xt_sbuf sb = {0};
                    xt_sbuf_json_str(&sb, class_name(m, best));
                    fprintf(m->gj, ",\"name\":%s", sb.p);
                    xt_sbuf_free(&sb);
                }
                fprintf(m->gj, "}}");
            }
        }
        if (m->ov && ok) { // the region's colour; the quicklook blends it at the end
            uint8_t *p = m->ov + ((size_t)rr * WP + rc) * 4;
            memcpy(p, palette[best % 20], 3);
            p[3] = (uint8_t)(255 * (0.3 + 0.4 * m->prob[best]));
        }
    }
    if (m->gj && ferror(m->gj)) return xt_error("map", "%s: write failed", m->o.geojson);
    return m->w ? xt_tiff_writer_rows(m->w, m->row, 1) : 0;
}

// The quicklook: the model's first three selected bands (one: grey) as raw value x scale (the
// model's input scale: 1/255 for u8) averaged over f x f blocks, NoData black, the overlay
// blended on top. Reads the image once more, f rows at a time.
static int quicklook(xt_class_map *m, xt_stream *s) {
    const int W = m->W, H = m->H, f = m->f, qw = m->qw, qh = m->qh, nb = s->mi->in_chans >= 3 ? 3 : 1;
    uint8_t *rgb = xt_malloc_checked((size_t)qw * qh * 3, "quicklook");
    float *strip = xt_malloc_checked((size_t)f * W * nb * sizeof(float), "quicklook");
    double *sum = xt_malloc_checked((size_t)qw * nb * sizeof(double), "quicklook");
    int *cnt = xt_malloc_checked((size_t)qw * sizeof(int), "quicklook"), rc = -1;
    if (!rgb || !strip || !sum || !cnt) goto done;
    const xt_norm *nm = &s->norm;
    // tiled inputs: keep a whole row of tiles (the stream's cache holds the tiles under one batch
    // of regions), or every strip of f rows would decode the tile row again
    const xt_raster_info *ri = s->ri;
    if (ri->tiled) {
        size_t px = (size_t)xt_sample_bytes(ri->sample) * (ri->planar ? 1 : ri->bands);
        size_t nbx = (size_t)(W + ri->block_w - 1) / ri->block_w + 1; // a strip across two tile rows holds both while read
        xt_raster_set_cache(s->r, px * ri->block_w * ri->block_h * nbx * (ri->planar ? ri->bands : 1));
    }
    for (int qy = 0; qy < qh; qy++) {
        int y0 = qy * f, h = H - y0 < f ? H - y0 : f;
        size_t np = (size_t)h * W;
        if (xt_raster_read_rect(s->r, xt_rect_make(0, y0, W, h), s->bands, nb, NAN, strip)) goto done;
        xt_raster_drop_above(s->r, y0 + h);
        memset(sum, 0, (size_t)qw * nb * sizeof(double));
        memset(cnt, 0, (size_t)qw * sizeof(int));
        for (size_t p = 0; p < np; p++) {
            int bad = 0, qx = (int)(p % W) / f;
            for (int c = 0; c < nb; c++) {
                float v = strip[c * np + p];
                bad |= isnan(v) || (nm->has_nodata && v == (float)nm->nodata);
            }
            if (bad) continue;
            for (int c = 0; c < nb; c++) sum[(size_t)qx * nb + c] += strip[c * np + p] * nm->scale;
            cnt[qx]++;
        }
        for (int qx = 0; qx < qw; qx++) {
            uint8_t *d = rgb + ((size_t)qy * qw + qx) * 3;
            // the region holding the block's top-left input pixel
            const uint8_t *o = m->ov + ((size_t)(qy * f / m->S) * m->WP + qx * f / m->S) * 4;
            for (int c = 0; c < 3; c++) {
                double g = cnt[qx] ? sum[(size_t)qx * nb + (nb == 3 ? c : 0)] / cnt[qx] * 255.0 : 0;
                g = g < 0 ? 0 : g > 255 ? 255 : g;
                d[c] = (uint8_t)lround(g + (o[c] - g) * (o[3] / 255.0));
            }
        }
    }
    rc = xt_png_write_rgb8(m->o.png, qw, qh, rgb); // PATH.part, renamed when complete
done:
    free(rgb), free(strip), free(sum), free(cnt);
    return rc;
}

int xt_class_map_close(xt_class_map *m, xt_stream *s) {
    int rc = 0;
    if (m->w) {
        xt_tiff_writer *w = m->w;
        m->w = NULL;
        rc = xt_tiff_writer_close(w);
    }
    if (!rc && m->gj) {
        FILE *f = m->gj;
        m->gj = NULL;
        fprintf(f, "\n]}\n");
        rc = xt_part_fclose(f, m->o.geojson, 1, "map");
    }
    if (!rc && m->ov && s->r) rc = quicklook(m, s);
    xt_class_map_abort(m); // frees; the outputs still open (after a failure) are removed
    return rc;
}
