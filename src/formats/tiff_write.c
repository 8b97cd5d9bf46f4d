// tiff_write.c — tiled (or striped) TIFF / BigTIFF / GeoTIFF writer that never holds more than
// one row of tiles: rows arrive band-sequential, each tile is written once its rows are complete.
// GeoTIFF keys are copied verbatim from an xt_georef; the geotransform is written as tie point +
// pixel scale (north-up) or as a ModelTransformation matrix (rotated); GCPs as tie points.
// GDAL's conventions ride along: GDAL_NODATA, GDAL_METADATA (band descriptions, provenance).
// The file is PATH.part until a successful close renames it.
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
    TIFF *t = w->tif;
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
    if (o->geo) set_georef(t, o->geo);
    if (o->has_nodata) {
        char nd[64];
        if (isnan(o->nodata)) snprintf(nd, sizeof nd, "nan");
        else snprintf(nd, sizeof nd, "%.17g", o->nodata);
        TIFFSetField(t, TIFFTAG_GDAL_NODATA, nd);
    }
    char *xml = xt_gdal_metadata_xml(o->bands, o->band_desc, o->meta);
    if (xml) TIFFSetField(t, TIFFTAG_GDAL_METADATA, xml);
    free(xml);
    return w;
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

int xt_tiff_writer_rows(xt_tiff_writer *w, const void *buf, int n) {
    const xt_tiff_opts *o = &w->o;
    if (w->failed) return -1;
    if (n < 0 || w->next_row + n > o->height) return xt_error("tiff", "%s: more rows than the image height %d", w->path, o->height);
    const uint8_t *src = buf;
    size_t rb = (size_t)o->width * w->sb;
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
    XTIFFClose(w->tif);
    w->tif = NULL;
    if (rc < 0) unlink(w->tmp);
    else rc = xt_part_commit(w->path, "tiff");
    free(w->rows);
    free(w->tile);
    free(w->path);
    free(w->tmp);
    free(w);
    return rc;
}

void xt_tiff_writer_abort(xt_tiff_writer *w) {
    if (!w) return;
    if (w->tif) {
        XTIFFClose(w->tif);
        unlink(w->tmp);
    }
    free(w->rows);
    free(w->tile);
    free(w->path);
    free(w->tmp);
    free(w);
}
