// tiff_write.c — tiled (or striped) TIFF / BigTIFF / GeoTIFF writer that never holds more than
// one row of tiles: rows arrive band-sequential, each tile is written once its rows are complete.
// GeoTIFF keys are copied verbatim from an xt_georef; the geotransform is written as tie point +
// pixel scale (north-up) or as a ModelTransformation matrix (rotated); GCPs as tie points.
// GDAL's conventions ride along: GDAL_NODATA, GDAL_METADATA (band descriptions, provenance).
// The file is PATH.part until a successful close renames it.
// Overviews (o->overviews): each level is a writer of its own into a scratch TIFF, fed one row
// per two rows of the level above (2 x 2 mean of the valid samples for float, the top-left
// sample — GDAL's "nearest" — for integers and when asked, so class maps keep class values); at close their
// tiles are copied raw into reduced-resolution directories after the full image (what GDAL's
// internal overviews are), and the scratch files removed. Memory: one tile row per level.
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <geotiff/xtiffio.h>

#include "core/core.h"
#include "formats/raster.h"

void xt__tiff_init(void);
const char *xt__tiff_last_error(void);
void xt__tiff_clear_error(void);

struct xt_tiff_writer {
    char *path;              // the final name
    char *tmp;               // PATH.part, written
    TIFF *tif;
    xt_tiff_opts o;
    int sb;                  // bytes per sample
    int tw, th;              // block size (tw == width for strips)
    int tiles_x, tiles_y;
    uint8_t *rows;           // (bands, th, width) pending rows of the current tile row
    int pending;             // rows in `rows`
    int next_row;            // image rows received
    uint8_t *tile;           // one encoded block, interleaved as the file wants
    int failed;
    xt_tiff_writer *ov;      // the next overview level (its own scratch file), or NULL
    uint8_t *pair;           // (bands, 2, width) rows waiting to be halved into ov
    int n_pair;
};

static int wfail(xt_tiff_writer *w, const char *what) {
    w->failed = 1;
    return xt_error("tiff", "%s: %s: %s", w->path, what, xt__tiff_last_error());
}

static int set_georef(TIFF *t, const xt_georef *g) {
    if (g->n_keys) TIFFSetField(t, TIFFTAG_GEOKEYDIRECTORY, g->n_keys, g->keys);
    if (g->n_doubles) TIFFSetField(t, TIFFTAG_GEODOUBLEPARAMS, g->n_doubles, g->doubles);
    if (g->ascii) TIFFSetField(t, TIFFTAG_GEOASCIIPARAMS, g->ascii);
    if (!g->has_transform) {
        if (g->n_gcps > 0 && g->n_gcps <= 65535 / 6) TIFFSetField(t, TIFFTAG_GEOTIEPOINTS, (uint16_t)(6 * g->n_gcps), g->gcps);
        return 0;
    }
    double gt[6];
    memcpy(gt, g->gt, sizeof gt);
    if (g->pixel_is_point) { // the file's tie point refers to the centre of pixel (0, 0)
        gt[0] += 0.5 * (gt[1] + gt[2]);
        gt[3] += 0.5 * (gt[4] + gt[5]);
    }
    if (gt[2] == 0 && gt[4] == 0 && gt[5] < 0 && gt[1] > 0) {
        double tp[6] = {0, 0, 0, gt[0], gt[3], 0}, sc[3] = {gt[1], -gt[5], 0};
        TIFFSetField(t, TIFFTAG_GEOTIEPOINTS, 6, tp);
        TIFFSetField(t, TIFFTAG_GEOPIXELSCALE, 3, sc);
    } else {
        double m[16] = {gt[1], gt[2], 0, gt[0], gt[4], gt[5], 0, gt[3], 0, 0, 0, 0, 0, 0, 0, 1};
        TIFFSetField(t, TIFFTAG_GEOTRANSMATRIX, 16, m);
    }
    return 0;
}

static void xml_text(xt_sbuf *s, const char *v) {
    for (; *v; v++) {
        if (*v == '<') xt_sbuf_printf(s, "&lt;");
        else if (*v == '>') xt_sbuf_printf(s, "&gt;");
        else if (*v == '&') xt_sbuf_printf(s, "&amp;");
        else if (*v == '"') xt_sbuf_printf(s, "&quot;");
        else xt_sbuf_printf(s, "%c", *v);
    }
}

// GDAL's PAM layout: <GDALMetadata><Item name="K">V</Item>... and per band
// <Item name="DESCRIPTION" sample="i" role="description">NAME</Item>.
char *xt_gdal_metadata_xml(int bands, const char *const *band_desc, const char *const *meta) {
    xt_sbuf s = {0};
    int any = 0;
    for (int i = 0; meta && meta[i] && meta[i + 1]; i += 2) {
        xt_sbuf_printf(&s, "%s<Item name=\"", any++ ? "" : "<GDALMetadata>\n");
        xml_text(&s, meta[i]);
        xt_sbuf_printf(&s, "\">");
        xml_text(&s, meta[i + 1]);
        xt_sbuf_printf(&s, "</Item>\n");
    }
    for (int b = 0; band_desc && b < bands; b++) {
        if (!band_desc[b]) continue;
        xt_sbuf_printf(&s, "%s<Item name=\"DESCRIPTION\" sample=\"%d\" role=\"description\">", any++ ? "" : "<GDALMetadata>\n", b);
        xml_text(&s, band_desc[b]);
        xt_sbuf_printf(&s, "</Item>\n");
    }
    if (!any) return NULL;
    xt_sbuf_printf(&s, "</GDALMetadata>\n");
    return s.p;
}

static int compression_code(const char *name, uint16_t *out) {
    static const struct { const char *n; uint16_t c; } tab[] = {
        {"none", COMPRESSION_NONE}, {"deflate", COMPRESSION_ADOBE_DEFLATE}, {"lzw", COMPRESSION_LZW},
        {"zstd", COMPRESSION_ZSTD}, {"packbits", COMPRESSION_PACKBITS}};
    if (!name) name = "none";
    for (size_t i = 0; i < sizeof tab / sizeof *tab; i++)
        if (!strcmp(name, tab[i].n)) {
            if (!TIFFIsCODECConfigured(tab[i].c)) return xt_error("tiff", "compression '%s' not available in this libtiff", name);
            *out = tab[i].c;
            return 0;
        }
    return xt_error("tiff", "unknown compression '%s' (none, deflate, lzw, zstd, packbits)", name);
}

static void set_tags(TIFF *t, const xt_tiff_opts *o, const xt_tiff_writer *w, int reduced);

xt_tiff_writer *xt_tiff_writer_open(const char *path, const xt_tiff_opts *o) {
    uint16_t comp = COMPRESSION_NONE;
    if (compression_code(o->compression, &comp) < 0) return NULL;
    if (o->width <= 0 || o->height <= 0 || o->bands <= 0 || o->bands > 65535) {
        xt_error("tiff", "%s: bad image size %dx%d with %d bands", path, o->width, o->height, o->bands);
        return NULL;
    }
    int tw = o->tile_w ? o->tile_w : o->width, th = o->tile_h ? o->tile_h : 16;
    if ((o->tile_w && (o->tile_w % 16 || o->tile_h % 16)) || th <= 0) {
        xt_error("tiff", "%s: tile size %dx%d must be a positive multiple of 16", path, o->tile_w, o->tile_h);
        return NULL;
    }
    xt_tiff_writer *w = xt_xcalloc(1, sizeof *w);
    w->path = strdup(path);
    w->tmp = xt_xmalloc(strlen(path) + 6);
    xt_part_path(w->tmp, strlen(path) + 6, path);
    w->o = *o;
    w->o.geo = NULL;
    w->o.band_desc = NULL;
    w->o.meta = NULL;
    w->sb = xt_sample_bytes(o->sample);
    w->tw = tw;
    w->th = th;
    w->tiles_x = (o->width + tw - 1) / tw;
    w->tiles_y = (o->height + th - 1) / th;
    size_t rowbuf, tile;
    if (xt_mul_size((size_t)o->bands * th * w->sb, (size_t)o->width, &rowbuf) ||
        xt_mul_size((size_t)o->bands * th * w->sb, (size_t)tw, &tile) || !(w->rows = xt_malloc_checked(rowbuf, "tiff rows")) ||
        !(w->tile = xt_malloc_checked(tile, "tiff tile"))) {
        xt_tiff_writer_abort(w);
        return NULL;
    }
    double total = (double)o->width * o->height * o->bands * w->sb;
    int big = o->bigtiff || total > 3.5 * (1u << 30);
    xt__tiff_init();
    xt__tiff_clear_error();
    w->tif = XTIFFOpen(w->tmp, big ? "w8" : "w");
    if (!w->tif) {
        xt_error("tiff", "%s: cannot create (%s)", w->tmp, xt__tiff_last_error());
        xt_tiff_writer_abort(w);
        return NULL;
    }
    set_tags(w->tif, o, w, 0);
    // the next overview level: a writer of half the size into a scratch file (no georeferencing:
    // readers take the full image's, scaled)
    if (o->overviews > 0 && o->tile_w && (o->width > o->tile_w || o->height > o->tile_h)) {
        xt_tiff_opts c = *o;
        c.width = (o->width + 1) / 2;
        c.height = (o->height + 1) / 2;
        c.overviews = o->overviews - 1;
        c.geo = NULL;
        c.band_desc = NULL;
        c.meta = NULL;
        size_t n = strlen(w->tmp) + 8;
        char *cp = xt_xmalloc(n);
        snprintf(cp, n, "%s.ov", w->tmp);
        w->ov = xt_tiff_writer_open(cp, &c);
        free(cp);
        if (!w->ov || !(w->pair = xt_malloc_checked((size_t)o->bands * (2 * o->width + c.width) * w->sb, "overview rows"))) {
            xt_tiff_writer_abort(w);
            return NULL;
        }
    }
    return w;
}

// The tags of a directory: the full image (reduced 0) with georeferencing, NoData and metadata,
// or a reduced-resolution level with NoData only.
static void set_tags(TIFF *t, const xt_tiff_opts *o, const xt_tiff_writer *w, int reduced) {
    uint16_t comp = COMPRESSION_NONE;
    compression_code(o->compression, &comp);
    int tw = w->tw, th = w->th;
    if (reduced) TIFFSetField(t, TIFFTAG_SUBFILETYPE, FILETYPE_REDUCEDIMAGE);
    static const uint16_t fmt[XT_SAMPLE_COUNT] = {SAMPLEFORMAT_UINT, SAMPLEFORMAT_INT, SAMPLEFORMAT_UINT, SAMPLEFORMAT_INT,
                                                  SAMPLEFORMAT_UINT, SAMPLEFORMAT_INT, SAMPLEFORMAT_IEEEFP};
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, (uint32_t)o->width);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, (uint32_t)o->height);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, (uint16_t)o->bands);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, (uint16_t)(8 * w->sb));
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, fmt[o->sample]);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, o->planar ? PLANARCONFIG_SEPARATE : PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, o->bands == 3 && o->sample == XT_S_U8 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK);
    if (o->bands > 1 && !(o->bands == 3 && o->sample == XT_S_U8)) {
        // every band beyond the photometric ones is "unspecified" extra data
        uint16_t *ex = xt_xcalloc(o->bands, sizeof *ex);
        TIFFSetField(t, TIFFTAG_EXTRASAMPLES, (uint16_t)(o->bands - 1), ex);
        free(ex);
    }
    TIFFSetField(t, TIFFTAG_COMPRESSION, comp);
    if (comp == COMPRESSION_ADOBE_DEFLATE || comp == COMPRESSION_LZW || comp == COMPRESSION_ZSTD)
        TIFFSetField(t, TIFFTAG_PREDICTOR, o->sample == XT_S_F32 ? PREDICTOR_FLOATINGPOINT : PREDICTOR_HORIZONTAL);
    if (o->tile_w) {
        TIFFSetField(t, TIFFTAG_TILEWIDTH, (uint32_t)tw);
        TIFFSetField(t, TIFFTAG_TILELENGTH, (uint32_t)th);
    } else TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, (uint32_t)th);
    if (o->geo && !reduced) set_georef(t, o->geo);
    if (o->has_nodata) {
        char nd[64];
        if (isnan(o->nodata)) snprintf(nd, sizeof nd, "nan");
        else snprintf(nd, sizeof nd, "%.17g", o->nodata);
        TIFFSetField(t, TIFFTAG_GDAL_NODATA, nd);
    }
    char *xml = reduced ? NULL : xt_gdal_metadata_xml(o->bands, o->band_desc, o->meta);
    if (xml) TIFFSetField(t, TIFFTAG_GDAL_METADATA, xml);
    free(xml);
}

// Encodes block (tx, ty) of plane p from band-sequential data src (bands, h, stride) starting
// at column x0.
static int put_block(xt_tiff_writer *w, int tx, int ty, const uint8_t *src, int stride, int x0, int h) {
    const xt_tiff_opts *o = &w->o;
    int sb = w->sb, nb = o->bands, tw = w->tw, th = w->th;
    int cw = o->width - tx * tw < tw ? o->width - tx * tw : tw;
    for (int p = 0; p < (o->planar ? nb : 1); p++) {
        int spp = o->planar ? 1 : nb;
        memset(w->tile, 0, (size_t)spp * tw * th * sb);
        for (int c = 0; c < spp; c++) {
            int band = o->planar ? p : c;
            for (int y = 0; y < h; y++) {
                const uint8_t *s = src + (((size_t)band * h + y) * stride + x0) * sb;
                uint8_t *d = w->tile + (((size_t)y * tw) * spp + c) * sb;
                if (spp == 1) memcpy(d, s, (size_t)cw * sb);
                else
                    for (int x = 0; x < cw; x++) memcpy(d + (size_t)x * spp * sb, s + (size_t)x * sb, sb);
            }
        }
        xt__tiff_clear_error();
        tmsize_t n = (tmsize_t)spp * tw * (o->tile_w ? th : h) * sb;
        tmsize_t rc = o->tile_w ? TIFFWriteEncodedTile(w->tif, TIFFComputeTile(w->tif, tx * tw, ty * th, 0, p), w->tile, n)
                                : TIFFWriteEncodedStrip(w->tif, TIFFComputeStrip(w->tif, ty * th, p), w->tile, n);
        if (rc < 0) return wfail(w, "write failed");
    }
    return 0;
}

int xt_tiff_writer_tile(xt_tiff_writer *w, int tx, int ty, const void *buf) {
    XT_ASSERT(w->o.tile_w && tx >= 0 && ty >= 0 && tx < w->tiles_x && ty < w->tiles_y);
    return put_block(w, tx, ty, buf, w->tw, 0, w->th);
}

static int flush_rows(xt_tiff_writer *w) {
    int ty = (w->next_row - 1) / w->th, h = w->pending;
    if (!w->o.tile_w) return put_block(w, 0, ty, w->rows, w->o.width, 0, h);
    // tiles: the pending rows are (bands, th, width) with h valid rows; pad rows are zeros
    for (int tx = 0; tx < w->tiles_x; tx++)
        if (put_block(w, tx, ty, w->rows, w->o.width, tx * w->tw, h) < 0) return -1;
    return 0;
}

// One row of the next level from the two rows in w->pair (n_pair of them valid).
static int halve_rows(xt_tiff_writer *w) {
    const xt_tiff_opts *o = &w->o;
    int W = o->width, W2 = (W + 1) / 2, sb = w->sb;
    uint8_t *out = w->pair + (size_t)o->bands * 2 * W * sb; // (bands, 1, W2) after the pair
    for (int c = 0; c < o->bands; c++) {
        const uint8_t *r0 = w->pair + (size_t)c * 2 * W * sb, *r1 = w->n_pair > 1 ? r0 + (size_t)W * sb : NULL;
        uint8_t *d = out + (size_t)c * W2 * sb;
        if (o->sample != XT_S_F32 || o->overview_nearest) { // nearest: the top-left sample
            for (int x = 0; x < W2; x++) memcpy(d + (size_t)x * sb, r0 + (size_t)2 * x * sb, sb);
            continue;
        }
        const float *a = (const float *)r0, *b = (const float *)r1;
        float nd = o->has_nodata ? (float)o->nodata : NAN;
        for (int x = 0; x < W2; x++) {
            float v[4] = {a[2 * x], 2 * x + 1 < W ? a[2 * x + 1] : NAN, b ? b[2 * x] : NAN, b && 2 * x + 1 < W ? b[2 * x + 1] : NAN};
            double sum = 0;
            int k = 0;
            for (int i = 0; i < 4; i++)
                if (!isnan(v[i]) && !(o->has_nodata && v[i] == nd)) sum += v[i], k++;
            ((float *)d)[x] = k ? (float)(sum / k) : nd; // no valid sample: NoData (NaN without one)
        }
    }
    w->n_pair = 0;
    return xt_tiff_writer_rows(w->ov, out, 1);
}

int xt_tiff_writer_rows(xt_tiff_writer *w, const void *buf, int n) {
    const xt_tiff_opts *o = &w->o;
    if (w->failed) return -1;
    if (n < 0 || w->next_row + n > o->height) return xt_error("tiff", "%s: more rows than the image height %d", w->path, o->height);
    const uint8_t *src = buf;
    size_t rb = (size_t)o->width * w->sb;
    for (int i = 0; w->ov && i < n; i++) {
        for (int c = 0; c < o->bands; c++)
            memcpy(w->pair + ((size_t)c * 2 + w->n_pair) * rb, src + ((size_t)c * n + i) * rb, rb);
        if (++w->n_pair == 2 || w->next_row + i + 1 == o->height)
            if (halve_rows(w) < 0) return w->failed = 1, -1;
    }
    int done = 0;
    while (done < n) {
        int room = w->th - w->pending, k = n - done < room ? n - done : room;
        for (int c = 0; c < o->bands; c++)
            memcpy(w->rows + ((size_t)c * w->th + w->pending) * rb, src + ((size_t)c * n + done) * rb, (size_t)k * rb);
        w->pending += k;
        w->next_row += k;
        done += k;
        if (w->pending == w->th || w->next_row == o->height) {
            // compact (bands, th, W) with `pending` valid rows into (bands, pending, W) for put_block
            if (w->pending < w->th)
                for (int c = 1; c < o->bands; c++)
                    memmove(w->rows + (size_t)c * w->pending * rb, w->rows + (size_t)c * w->th * rb, (size_t)w->pending * rb);
            if (flush_rows(w) < 0) return -1;
            w->pending = 0;
        }
    }
    return 0;
}

// Closes the overview writer ov (and the levels below it, recursively: each copies its own
// levels into its scratch file first), then copies its tiles raw into a new reduced-resolution
// directory of w's file. *lv: the level number, for messages.
static int append_levels(xt_tiff_writer *w, xt_tiff_writer *ov, int *lv) {
    char *path = strdup(ov->path);
    xt_tiff_opts co = ov->o;
    int tw = ov->tw, th = ov->th, sb = ov->sb;
    if (xt_tiff_writer_close(ov) < 0) {
        free(path);
        w->failed = 1;
        return -1;
    }
    xt__tiff_clear_error();
    TIFF *src = XTIFFOpen(path, "rm");
    if (!src) {
        free(path);
        return wfail(w, "cannot reopen an overview level");
    }
    int rc = 0;
    tdir_t nd = TIFFNumberOfDirectories(src);
    for (tdir_t d = 0; d < nd && rc == 0; d++, (*lv)++) { // its own image, then its own levels
        if (!TIFFSetDirectory(src, d)) {
            rc = wfail(w, "cannot read an overview level");
            break;
        }
        uint32_t lw = 0, lh = 0;
        TIFFGetField(src, TIFFTAG_IMAGEWIDTH, &lw);
        TIFFGetField(src, TIFFTAG_IMAGELENGTH, &lh);
        xt_tiff_opts lo = co;
        lo.width = (int)lw;
        lo.height = (int)lh;
        xt_tiff_writer shape = {.tw = tw, .th = th, .sb = sb};
        set_tags(w->tif, &lo, &shape, 1);
        ttile_t n = TIFFNumberOfTiles(src);
        tmsize_t cap = 0;
        uint8_t *raw = NULL;
        for (ttile_t i = 0; i < n && rc == 0; i++) {
            tmsize_t sz = (tmsize_t)TIFFGetStrileByteCount(src, i);
            if (sz > cap) {
                free(raw);
                raw = xt_xmalloc((size_t)sz);
                cap = sz;
            }
            if (TIFFReadRawTile(src, i, raw, sz) != sz || TIFFWriteRawTile(w->tif, i, raw, sz) != sz)
                rc = wfail(w, "cannot copy an overview tile");
        }
        free(raw);
        if (rc == 0 && !TIFFWriteDirectory(w->tif)) rc = wfail(w, "cannot write an overview directory");
    }
    XTIFFClose(src);
    unlink(path);
    free(path);
    return rc;
}

// Removes whatever scratch files of overview levels a failure left (PATH.part.ov, its .part, ...).
static void unlink_levels(const char *ovpath) {
    size_t n = strlen(ovpath) + 16;
    char *p = xt_xmalloc(n);
    xt_part_path(p, n, ovpath);
    unlink(p);
    unlink(ovpath);
    free(p);
}

int xt_tiff_writer_close(xt_tiff_writer *w) {
    int rc = 0;
    if (!w->failed && !w->o.tile_w && w->next_row != w->o.height)
        rc = xt_error("tiff", "%s: only %d of %d rows were written", w->path, w->next_row, w->o.height);
    else if (!w->failed && w->o.tile_w && w->next_row && w->next_row != w->o.height)
        rc = xt_error("tiff", "%s: only %d of %d rows were written", w->path, w->next_row, w->o.height);
    if (w->failed) rc = -1;
    if (rc == 0) {
        xt__tiff_clear_error();
        if (!TIFFWriteDirectory(w->tif)) rc = wfail(w, "cannot write directory");
    }
    if (w->ov && !w->ov->next_row) { // tiles written directly (generators): no rows reached the levels
        xt_tiff_writer_abort(w->ov);
        w->ov = NULL;
    }
    if (w->ov) { // the overview levels, each into its scratch file, then copied here
        char *ovp = strdup(w->ov->path);
        int lv = 1;
        if (rc == 0) rc = append_levels(w, w->ov, &lv);
        else xt_tiff_writer_abort(w->ov);
        w->ov = NULL;
        unlink_levels(ovp);
        free(ovp);
    }
    XTIFFClose(w->tif);
    w->tif = NULL;
    if (rc < 0) unlink(w->tmp);
    else rc = xt_part_commit(w->path, "tiff");
    free(w->rows);
    free(w->tile);
    free(w->pair);
    free(w->path);
    free(w->tmp);
    free(w);
    return rc;
}

void xt_tiff_writer_abort(xt_tiff_writer *w) {
    if (!w) return;
    if (w->ov) xt_tiff_writer_abort(w->ov);
    if (w->tif) {
        XTIFFClose(w->tif);
        unlink(w->tmp);
    }
    free(w->pair);
    free(w->rows);
    free(w->tile);
    free(w->path);
    free(w->tmp);
    free(w);
}
