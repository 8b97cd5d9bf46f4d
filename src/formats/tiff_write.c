// tiff_write.c — tiled (or striped) TIFF / BigTIFF / GeoTIFF writer that never holds more than
// one row of tiles: rows arrive band-sequential, each tile is written once its rows are complete.
// GeoTIFF keys are copied verbatim from an xt_georef; the geotransform is written as tie point +
// pixel scale (north-up) or as a ModelTransformation matrix (rotated).
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include <geotiff/xtiffio.h>

#include "core/core.h"
#include "formats/raster.h"

// GDAL's NoData tag (ASCII), which libtiff does not know: registered through a tag extender
// chained to the one XTIFFOpen installs for the GeoTIFF tags, once per process.
static TIFFExtendProc parent_extender;
static void extend_tags(TIFF *t) {
    static const TIFFFieldInfo info[] = {{TIFFTAG_GDAL_NODATA, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "GDALNoDataValue"}};
    TIFFMergeFieldInfo(t, info, 1);
    if (parent_extender) parent_extender(t);
}
static void register_once(void) { parent_extender = TIFFSetTagExtender(extend_tags); }
void xt_tiff_register_tags(void) {
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, register_once);
}

void xt__tiff_init(void);
const char *xt__tiff_last_error(void);
void xt__tiff_clear_error(void);

struct xt_tiff_writer {
    char *path;
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
    if (!g->has_transform) return 0;
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
    w->o = *o;
    w->o.geo = NULL;
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
    xt_tiff_register_tags();
    w->tif = XTIFFOpen(path, big ? "w8" : "w");
    if (!w->tif) {
        xt_error("tiff", "%s: cannot create (%s)", path, xt__tiff_last_error());
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
    if (o->nodata) TIFFSetField(t, TIFFTAG_GDAL_NODATA, o->nodata);
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
    if (rc < 0) unlink(w->path);
    free(w->rows);
    free(w->tile);
    free(w->path);
    free(w);
    return rc;
}

void xt_tiff_writer_abort(xt_tiff_writer *w) {
    if (!w) return;
    if (w->tif) {
        XTIFFClose(w->tif);
        unlink(w->path);
    }
    free(w->rows);
    free(w->tile);
    free(w->path);
    free(w);
}
