// raster.c — windowed reads of large rasters in bounded memory.
//
// A source is a grid of *blocks*: TIFF tiles, TIFF strips (full width × rows per strip), or
// for PNG/JPEG bands of rows decoded in order (they are not tiled; going back restarts the
// decoder). read_rect copies the window out of the blocks it overlaps, decoding them into a
// small LRU cache (hash + doubly linked list, O(1) per block). Nothing W×H-sized is allocated
// except for interlaced PNGs (libpng needs the whole image; refused above 1 GiB).
//
// Library choice (docs/streaming.md): libtiff + libgeotiff, libpng, libjpeg from Debian —
// what GDAL itself uses underneath for these formats, without GDAL's ~100 MB dependency tree.
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdarg.h>
#include <errno.h>
#include <string.h>

#include <geotiff/xtiffio.h>
#include <jpeglib.h>
#include <png.h>

#include "core/core.h"
#include "formats/raster.h"
#include "formats/raster_ext.h"

#define MAX_SIDE (1 << 30)
#define MAX_BLOCK_BYTES ((size_t)512 << 20)
#define MAX_INTERLACED_BYTES ((size_t)1 << 30)
#define SEQ_BLOCK_ROWS 64

// ---------------------------------------------------------------------------------------------
// sample types

static const char *sample_names[XT_SAMPLE_COUNT] = {"u8", "i8", "u16", "i16", "u32", "i32", "f32"};
static const int sample_bytes[XT_SAMPLE_COUNT] = {1, 1, 2, 2, 4, 4, 4};

const char *xt_sample_name(xt_sample s) { return s < XT_SAMPLE_COUNT ? sample_names[s] : "?"; }
int xt_sample_bytes(xt_sample s) { return sample_bytes[s]; }

int xt_sample_parse(const char *name, xt_sample *out) {
    for (int i = 0; i < XT_SAMPLE_COUNT; i++)
        if (name && !strcmp(name, sample_names[i])) {
            *out = (xt_sample)i;
            return 0;
        }
    return xt_error("raster", "unknown sample type '%s' (u8, i8, u16, i16, u32, i32, f32)", name ? name : "");
}

double xt_sample_unit_scale(xt_sample s) {
    switch (s) {
    case XT_S_U8: return 1.0 / 255;
    case XT_S_I8: return 1.0 / 127;
    case XT_S_U16: return 1.0 / 65535;
    case XT_S_I16: return 1.0 / 32767;
    case XT_S_U32: return 1.0 / 4294967295.0;
    case XT_S_I32: return 1.0 / 2147483647.0;
    default: return 1.0;
    }
}

// ---------------------------------------------------------------------------------------------
// georeferencing

void xt_georef_free(xt_georef *g) {
    free(g->keys);
    free(g->doubles);
    free(g->ascii);
    free(g->gcps);
    free(g->wkt);
    memset(g, 0, sizeof *g);
}

int xt_georef_copy(xt_georef *d, const xt_georef *s) {
    *d = *s;
    d->keys = NULL;
    d->doubles = NULL;
    d->ascii = NULL;
    if (s->n_keys) {
        d->keys = xt_xmalloc(sizeof *d->keys * s->n_keys);
        memcpy(d->keys, s->keys, sizeof *d->keys * s->n_keys);
    }
    if (s->n_doubles) {
        d->doubles = xt_xmalloc(sizeof *d->doubles * s->n_doubles);
        memcpy(d->doubles, s->doubles, sizeof *d->doubles * s->n_doubles);
    }
    if (s->ascii) d->ascii = strdup(s->ascii);
    d->wkt = s->wkt ? strdup(s->wkt) : NULL;
    d->gcps = NULL;
    if (s->n_gcps) {
        d->gcps = xt_xmalloc(sizeof *d->gcps * 6 * s->n_gcps);
        memcpy(d->gcps, s->gcps, sizeof *d->gcps * 6 * s->n_gcps);
    }
    return 0;
}

// Reads the keys we describe (model type, raster type, EPSG) from the key directory.
static void georef_parse_keys(xt_georef *g) {
    if (g->n_keys < 4) return;
    int nk = g->keys[3];
    for (int i = 0; i < nk && 4 + 4 * i + 3 < g->n_keys; i++) {
        const uint16_t *k = g->keys + 4 + 4 * i;
        if (k[1] != 0) continue; // value stored elsewhere (double/ascii params)
        if (k[0] == 1024) g->model_type = k[3];
        if (k[0] == 1025) g->pixel_is_point = k[3] == 2;
        if ((k[0] == 3072 || k[0] == 2048) && k[3] != 32767 && !g->epsg) g->epsg = k[3];
    }
}

int xt_georef_simple(xt_georef *g, int epsg, double x0, double y0, double pixel) {
    memset(g, 0, sizeof *g);
    if (epsg <= 0 || epsg > 65535 || !(pixel > 0) || !isfinite(x0) || !isfinite(y0))
        return xt_error("georef", "bad georeferencing (EPSG %d, pixel %g)", epsg, pixel);
    int geographic = epsg >= 4000 && epsg < 5000;
    uint16_t keys[] = {1, 1, 0, 3,                                 // version 1.1.0, 3 keys
                       1024, 0, 1, (uint16_t)(geographic ? 2 : 1), // GTModelTypeGeoKey
                       1025, 0, 1, 1,                              // GTRasterTypeGeoKey = PixelIsArea
                       (uint16_t)(geographic ? 2048 : 3072), 0, 1, (uint16_t)epsg};
    g->n_keys = (int)(sizeof keys / sizeof *keys);
    g->keys = xt_xmalloc(sizeof keys);
    memcpy(g->keys, keys, sizeof keys);
    g->has_transform = 1;
    double gt[6] = {x0, pixel, 0, y0, 0, -pixel};
    memcpy(g->gt, gt, sizeof gt);
    georef_parse_keys(g);
    return 0;
}

void xt_georef_scale(xt_georef *g, double s) {
    g->gt[1] *= s;
    g->gt[2] *= s;
    g->gt[4] *= s;
    g->gt[5] *= s;
    for (int i = 0; i < g->n_gcps; i++) { // pixel positions (I, J) on the coarser grid
        g->gcps[6 * i] /= s;
        g->gcps[6 * i + 1] /= s;
    }
}

void xt_georef_describe(const xt_georef *g, char *buf, size_t n) {
    if (!g->has_transform && !g->n_keys && !g->n_gcps && !g->wkt) {
        snprintf(buf, n, "none");
        return;
    }
    char crs[64];
    if (g->epsg) snprintf(crs, sizeof crs, "EPSG:%d", g->epsg);
    else if (g->n_keys) snprintf(crs, sizeof crs, "user-defined CRS");
    else if (g->wkt) snprintf(crs, sizeof crs, "CRS without EPSG code (WKT)");
    else snprintf(crs, sizeof crs, "no CRS");
    if (g->has_transform)
        snprintf(buf, n, "%s (%s), origin (%.10g, %.10g), pixel %.10g x %.10g%s", crs,
                 g->model_type == 2 ? "geographic" : g->model_type == 1 ? "projected" : "model type ?",
                 g->gt[0], g->gt[3], g->gt[1], g->gt[5],
                 g->gt[2] != 0 || g->gt[4] != 0 ? " (rotated)" : "");
    else if (g->n_gcps) snprintf(buf, n, "%s, %d GCPs", crs, g->n_gcps);
    else snprintf(buf, n, "%s, no geotransform", crs);
}

// ---------------------------------------------------------------------------------------------
// libtiff error capture: libtiff reports through global handlers; we keep the last message of
// the calling thread and put it into our error.

static _Thread_local char tiff_msg[512];

static void tiff_error_handler(const char *module, const char *fmt, va_list ap) {
    int k = snprintf(tiff_msg, sizeof tiff_msg, "%s%s", module ? module : "", module ? ": " : "");
    if (k < 0 || (size_t)k >= sizeof tiff_msg) k = 0;
    vsnprintf(tiff_msg + k, sizeof tiff_msg - k, fmt, ap);
}
static void tiff_warning_handler(const char *module, const char *fmt, va_list ap) {}

// GDAL's private tags (ASCII): GDAL_METADATA (band descriptions, metadata items as XML) and
// GDAL_NODATA (the NoData value as text); libtiff does not know them, so they are registered
// here beside libgeotiff's, chaining to its tag extender.
static const TIFFFieldInfo gdal_fields[] = {
    {TIFFTAG_GDAL_METADATA, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "GDALMetadata"},
    {TIFFTAG_GDAL_NODATA, -1, -1, TIFF_ASCII, FIELD_CUSTOM, 1, 0, "GDALNoDataValue"},
};
static TIFFExtendProc parent_extender;
static void gdal_extender(TIFF *t) {
    TIFFMergeFieldInfo(t, gdal_fields, (int)(sizeof gdal_fields / sizeof *gdal_fields));
    if (parent_extender) parent_extender(t);
}

static pthread_once_t tiff_once = PTHREAD_ONCE_INIT;
static void tiff_init(void) {
    TIFFSetErrorHandler(tiff_error_handler);
    TIFFSetWarningHandler(tiff_warning_handler);
    XTIFFInitialize();
    parent_extender = TIFFSetTagExtender(gdal_extender);
}
void xt__tiff_init(void) { pthread_once(&tiff_once, tiff_init); }
const char *xt__tiff_last_error(void) { return tiff_msg[0] ? tiff_msg : "unknown libtiff error"; }
void xt__tiff_clear_error(void) { tiff_msg[0] = 0; }

// ---------------------------------------------------------------------------------------------
// reader state

typedef struct block {
    int plane, bx, by;
    uint8_t *data;
    size_t bytes;
    uint64_t tick;
    int prev, next, hnext; // LRU list, hash chain
} block;

#define HASH_SIZE 4096

enum { SRC_TIFF, SRC_PNG, SRC_JPEG, SRC_EXT }; // SRC_EXT: GDAL or OpenSlide (raster_ext.h)

typedef struct jerr_mgr {
    struct jpeg_error_mgr pub;
    jmp_buf jb;
    char msg[JMSG_LENGTH_MAX];
} jerr_mgr;

struct xt_raster {
    char *path;
    xt_raster_info info;
    int src;
    TIFF *tif;
    int spp_block;           // samples per pixel inside one block (1 when planar)
    int n_planes;
    size_t block_bytes;      // bytes of a full block
    // sequential decoders (PNG/JPEG)
    FILE *fp;
    png_structp png;
    png_infop pinfo;
    struct jpeg_decompress_struct *jd;
    jerr_mgr *je;
    int next_block;          // block row the decoder produces next
    int interlaced;
    size_t row_bytes;
    char png_msg[256];
    xt__ext ext;             // SRC_EXT
    // cache
    block *b;
    int nb, capb, free_head, lru_head, lru_tail; // head = most recent
    int hash[HASH_SIZE];
    size_t bytes, budget, high;
    uint64_t tick, call_tick;
    long decoded;
    // evicted block buffers for reuse: every block has the same size, and recycling them keeps
    // the heap from growing through fragmentation between libtiff's allocations
    uint8_t *pool[64];
    int npool;
};

static uint8_t *buf_get(xt_raster *r) {
    if (r->npool) return r->pool[--r->npool];
    return xt_malloc_checked(r->block_bytes, "raster block");
}
static void buf_put(xt_raster *r, uint8_t *b) {
    if (r->npool < (int)(sizeof r->pool / sizeof *r->pool)) r->pool[r->npool++] = b;
    else free(b);
}

static unsigned hkey(int plane, int bx, int by) {
    return ((unsigned)by * 2654435761u ^ (unsigned)bx * 40503u ^ (unsigned)plane * 97u) & (HASH_SIZE - 1);
}

static void lru_unlink(xt_raster *r, int i) {
    block *e = &r->b[i];
    if (e->prev >= 0) r->b[e->prev].next = e->next;
    else r->lru_head = e->next;
    if (e->next >= 0) r->b[e->next].prev = e->prev;
    else r->lru_tail = e->prev;
    e->prev = e->next = -1;
}
static void lru_push_front(xt_raster *r, int i) {
    block *e = &r->b[i];
    e->prev = -1;
    e->next = r->lru_head;
    if (r->lru_head >= 0) r->b[r->lru_head].prev = i;
    r->lru_head = i;
    if (r->lru_tail < 0) r->lru_tail = i;
}

static void cache_remove(xt_raster *r, int i) {
    block *e = &r->b[i];
    unsigned h = hkey(e->plane, e->bx, e->by);
    int *p = &r->hash[h];
    while (*p != i) p = &r->b[*p].hnext;
    *p = e->hnext;
    lru_unlink(r, i);
    buf_put(r, e->data);
    e->data = NULL;
    r->bytes -= e->bytes;
    e->hnext = r->free_head;
    r->free_head = i;
}

static int cache_find(xt_raster *r, int plane, int bx, int by) {
    for (int i = r->hash[hkey(plane, bx, by)]; i >= 0; i = r->b[i].hnext)
        if (r->b[i].plane == plane && r->b[i].bx == bx && r->b[i].by == by) return i;
    return -1;
}

// Makes room for n more bytes, evicting least recently used blocks not used by this call.
static void cache_make_room(xt_raster *r, size_t n) {
    while (r->bytes + n > r->budget && r->lru_tail >= 0 && r->b[r->lru_tail].tick < r->call_tick)
        cache_remove(r, r->lru_tail);
}

static int cache_insert(xt_raster *r, int plane, int bx, int by, uint8_t *data, size_t bytes) {
    if (r->free_head < 0) {
        int ncap = r->capb ? 2 * r->capb : 64;
        r->b = realloc(r->b, sizeof *r->b * ncap);
        XT_ASSERT(r->b);
        for (int i = ncap - 1; i >= r->capb; i--) {
            r->b[i].hnext = r->free_head;
            r->b[i].data = NULL;
            r->free_head = i;
        }
        r->capb = ncap;
    }
    int i = r->free_head;
    r->free_head = r->b[i].hnext;
    block *e = &r->b[i];
    e->plane = plane;
    e->bx = bx;
    e->by = by;
    e->data = data;
    e->bytes = bytes;
    e->tick = ++r->tick;
    unsigned h = hkey(plane, bx, by);
    e->hnext = r->hash[h];
    r->hash[h] = i;
    lru_push_front(r, i);
    r->bytes += bytes;
    if (r->bytes > r->high) r->high = r->bytes;
    return i;
}

void xt_raster_set_cache(xt_raster *r, size_t bytes) { r->budget = bytes; }

void xt_raster_stats(const xt_raster *r, long *decoded, size_t *high) {
    if (decoded) *decoded = r->decoded;
    if (high) *high = r->high;
}

void xt_raster_drop_above(xt_raster *r, int y) {
    for (int i = r->lru_head; i >= 0;) {
        int nx = r->b[i].next;
        if ((r->b[i].by + 1) * (int64_t)r->info.block_h <= y) cache_remove(r, i);
        i = nx;
    }
}

const xt_raster_info *xt_raster_get_info(const xt_raster *r) { return &r->info; }

// ---------------------------------------------------------------------------------------------
// PNG / JPEG sequential decoders

static void png_err_fn(png_structp p, png_const_charp msg) {
    xt_raster *r = png_get_error_ptr(p);
    snprintf(r->png_msg, sizeof r->png_msg, "%s", msg);
    png_longjmp(p, 1);
}
static void png_warn_fn(png_structp p, png_const_charp msg) {}

static void jpeg_err_exit(j_common_ptr c) {
    jerr_mgr *e = (jerr_mgr *)c->err;
    c->err->format_message(c, e->msg);
    longjmp(e->jb, 1);
}
// Corrupt-data warnings (premature end of file, bad Huffman code) are errors for us: libjpeg
// would otherwise return grey pixels silently.
static void jpeg_emit(j_common_ptr c, int level) {
    if (level < 0) jpeg_err_exit(c);
}
static void jpeg_output_message(j_common_ptr c) {}

static void seq_close(xt_raster *r) {
    if (r->png) png_destroy_read_struct(&r->png, &r->pinfo, NULL);
    r->png = NULL;
    r->pinfo = NULL;
    if (r->jd) {
        jpeg_destroy_decompress(r->jd);
        free(r->jd);
        free(r->je);
        r->jd = NULL;
        r->je = NULL;
    }
    if (r->fp) fclose(r->fp);
    r->fp = NULL;
}

// Opens the decoder and reads the header; fills info on first open, checks it after.
static int png_open(xt_raster *r) {
    r->fp = fopen(r->path, "rb");
    if (!r->fp) return xt_error("raster", "%s: cannot open: %s", r->path, strerror(errno));
    r->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, r, png_err_fn, png_warn_fn);
    r->pinfo = r->png ? png_create_info_struct(r->png) : NULL;
    if (!r->pinfo) return xt_error("raster", "%s: out of memory", r->path);
    if (setjmp(png_jmpbuf(r->png))) return xt_error("raster", "%s: PNG: %s", r->path, r->png_msg);
    png_init_io(r->png, r->fp);
    png_set_user_limits(r->png, MAX_SIDE, MAX_SIDE);
    png_read_info(r->png, r->pinfo);
    int ct = png_get_color_type(r->png, r->pinfo), depth = png_get_bit_depth(r->png, r->pinfo);
    if (ct == PNG_COLOR_TYPE_PALETTE) png_set_palette_to_rgb(r->png);
    if (ct == PNG_COLOR_TYPE_GRAY && depth < 8) png_set_expand_gray_1_2_4_to_8(r->png);
    if (depth == 16) png_set_swap(r->png); // to host (little-endian) order
    r->interlaced = png_get_interlace_type(r->png, r->pinfo) != PNG_INTERLACE_NONE;
    if (r->interlaced) png_set_interlace_handling(r->png);
    png_read_update_info(r->png, r->pinfo);
    r->info.width = (int)png_get_image_width(r->png, r->pinfo);
    r->info.height = (int)png_get_image_height(r->png, r->pinfo);
    r->info.bands = png_get_channels(r->png, r->pinfo);
    r->info.bits = png_get_bit_depth(r->png, r->pinfo);
    r->info.sample = r->info.bits == 16 ? XT_S_U16 : XT_S_U8;
    r->row_bytes = png_get_rowbytes(r->png, r->pinfo);
    r->info.has_alpha = (ct & PNG_COLOR_MASK_ALPHA) != 0;
    r->info.photometric = ct == PNG_COLOR_TYPE_PALETTE ? "palette (expanded to RGB)"
                          : (ct & PNG_COLOR_MASK_COLOR) ? (ct & PNG_COLOR_MASK_ALPHA ? "RGBA" : "RGB")
                                                        : (ct & PNG_COLOR_MASK_ALPHA ? "gray+alpha" : "gray");
    r->info.compression = r->interlaced ? "deflate (Adam7 interlaced)" : "deflate";
    return 0;
}

static int jpeg_open(xt_raster *r) {
    r->fp = fopen(r->path, "rb");
    if (!r->fp) return xt_error("raster", "%s: cannot open: %s", r->path, strerror(errno));
    r->jd = xt_xcalloc(1, sizeof *r->jd);
    r->je = xt_xcalloc(1, sizeof *r->je);
    r->jd->err = jpeg_std_error(&r->je->pub);
    r->je->pub.error_exit = jpeg_err_exit;
    r->je->pub.emit_message = jpeg_emit;
    r->je->pub.output_message = jpeg_output_message;
    if (setjmp(r->je->jb)) return xt_error("raster", "%s: JPEG: %s", r->path, r->je->msg);
    jpeg_create_decompress(r->jd);
    jpeg_stdio_src(r->jd, r->fp);
    jpeg_read_header(r->jd, TRUE);
    // Progressive / multi-scan JPEGs are decoded by libjpeg into a whole-image coefficient buffer
    // (2 bytes per pixel per component) inside jpeg_start_decompress: refuse that before it is
    // allocated (fuzz: 358 bytes declaring 60000x60000 asked for 7 GB), and cap libjpeg's memory.
    if (jpeg_has_multiple_scans(r->jd)) {
        double need = 2.0 * r->jd->image_width * r->jd->image_height * r->jd->num_components;
        if (need > (double)MAX_INTERLACED_BYTES)
            return xt_error("raster", "%s: progressive JPEG of %ux%u needs the whole image in memory (%.0f MiB); "
                            "convert it to a tiled TIFF", r->path, r->jd->image_width, r->jd->image_height,
                            need / (1 << 20));
    }
    r->jd->mem->max_memory_to_use = (long)MAX_INTERLACED_BYTES + (64l << 20);
    jpeg_start_decompress(r->jd);
    r->info.width = (int)r->jd->output_width;
    r->info.height = (int)r->jd->output_height;
    r->info.bands = r->jd->output_components;
    r->info.bits = 8;
    r->info.sample = XT_S_U8;
    r->row_bytes = (size_t)r->info.width * r->info.bands;
    r->info.photometric = r->jd->out_color_space == JCS_GRAYSCALE ? "gray"
                          : r->jd->out_color_space == JCS_CMYK    ? "CMYK"
                                                                  : "RGB";
    r->info.compression = r->jd->progressive_mode ? "JPEG (progressive)" : "JPEG (baseline)";
    return 0;
}

static int seq_restart(xt_raster *r) {
    int w = r->info.width, h = r->info.height, c = r->info.bands;
    seq_close(r);
    if ((r->src == SRC_PNG ? png_open(r) : jpeg_open(r)) < 0) return -1;
    if (r->info.width != w || r->info.height != h || r->info.bands != c)
        return xt_error("raster", "%s: file changed while reading", r->path);
    r->next_block = 0;
    return 0;
}

// Decodes the next block row of a PNG/JPEG into buf.
static int seq_decode_next(xt_raster *r, uint8_t *buf) {
    int y0 = r->next_block * r->info.block_h;
    int n = r->info.height - y0 < r->info.block_h ? r->info.height - y0 : r->info.block_h;
    if (r->src == SRC_PNG) {
        png_bytep *rows = xt_xmalloc(sizeof *rows * n);
        for (int i = 0; i < n; i++) rows[i] = buf + (size_t)i * r->row_bytes;
        if (setjmp(png_jmpbuf(r->png))) {
            free(rows);
            return xt_error("raster", "%s: PNG: %s (at row %d)", r->path, r->png_msg, y0);
        }
        if (r->interlaced) png_read_image(r->png, rows);
        else png_read_rows(r->png, rows, NULL, (png_uint_32)n);
        free(rows);
    } else {
        if (setjmp(r->je->jb)) return xt_error("raster", "%s: JPEG: %s (at row %d)", r->path, r->je->msg, y0);
        int done = 0;
        while (done < n) {
            JSAMPROW row = buf + (size_t)done * r->row_bytes;
            int k = (int)jpeg_read_scanlines(r->jd, &row, 1);
            if (k <= 0) return xt_error("raster", "%s: JPEG: decoder stopped at row %d", r->path, y0 + done);
            done += k;
        }
    }
    r->next_block++;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// TIFF header

// <Item name="DESCRIPTION" sample="i" role="description">TEXT</Item> of GDAL_METADATA (as GDAL
// writes it: attributes in that order, the five XML entities).
static void parse_band_desc(xt_raster_info *in, const char *xml) {
    const char *p = xml;
    while ((p = strstr(p, "<Item name=\"DESCRIPTION\" sample=\""))) {
        p += strlen("<Item name=\"DESCRIPTION\" sample=\"");
        char *e;
        long b = strtol(p, &e, 10);
        const char *gt = strchr(e, '>'), *end = gt ? strstr(gt, "</Item>") : NULL;
        if (!gt || !end || b < 0 || b >= in->bands || !strstr(e, "role=\"description\"") || strstr(e, "role=\"description\"") > gt) continue;
        if (!in->band_desc) in->band_desc = xt_xcalloc(in->bands, sizeof *in->band_desc);
        free(in->band_desc[b]);
        char *d = in->band_desc[b] = xt_xmalloc((size_t)(end - gt));
        size_t k = 0;
        for (const char *q = gt + 1; q < end;) {
            static const char *const ent[5][2] = {{"&lt;", "<"}, {"&gt;", ">"}, {"&amp;", "&"}, {"&quot;", "\""}, {"&apos;", "'"}};
            int hit = 0;
            for (int i = 0; i < 5 && !hit; i++)
                if (!strncmp(q, ent[i][0], strlen(ent[i][0]))) d[k++] = ent[i][1][0], q += strlen(ent[i][0]), hit = 1;
            if (!hit) d[k++] = *q++;
        }
        d[k] = 0;
        p = end;
    }
}

// Layout of the current directory: size, bands, sample type, tiles or strips, compression.
static int tiff_layout(xt_raster *r) {
    TIFF *t = r->tif;
    uint32_t w = 0, h = 0;
    uint16_t spp = 1, bps = 1, fmt = SAMPLEFORMAT_UINT, planar = PLANARCONFIG_CONTIG, comp = 1, photo = 1;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(t, TIFFTAG_BITSPERSAMPLE, &bps);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLEFORMAT, &fmt);
    TIFFGetFieldDefaulted(t, TIFFTAG_PLANARCONFIG, &planar);
    TIFFGetFieldDefaulted(t, TIFFTAG_COMPRESSION, &comp);
    TIFFGetFieldDefaulted(t, TIFFTAG_PHOTOMETRIC, &photo);
    xt_raster_info *in = &r->info;
    if (w == 0 || h == 0) return xt_error("raster", "%s: image has zero size (%ux%u)", r->path, w, h);
    if (w > MAX_SIDE || h > MAX_SIDE) return xt_error("raster", "%s: image too large (%ux%u)", r->path, w, h);
    if (spp == 0 || spp > 1024) return xt_error("raster", "%s: bad samples per pixel %u", r->path, spp);
    in->width = (int)w;
    in->height = (int)h;
    in->bands = spp;
    in->bits = bps;
    in->format = TIFFIsBigTIFF(t) ? "BigTIFF" : "TIFF";
    int s = -1;
    if (fmt == SAMPLEFORMAT_UINT || fmt == SAMPLEFORMAT_VOID)
        s = bps == 8 ? XT_S_U8 : bps == 16 ? XT_S_U16 : bps == 32 ? XT_S_U32 : -1;
    else if (fmt == SAMPLEFORMAT_INT) s = bps == 8 ? XT_S_I8 : bps == 16 ? XT_S_I16 : bps == 32 ? XT_S_I32 : -1;
    else if (fmt == SAMPLEFORMAT_IEEEFP) s = bps == 32 ? XT_S_F32 : -1;
    if (s < 0) {
        static const char *fn[] = {"?", "unsigned integer", "signed integer", "float", "void",
                                   "complex integer", "complex float"};
        return xt_error("raster", "%s: unsupported sample format: %u-bit %s (supported: 8/16/32-bit integers, 32-bit float)",
                        r->path, bps, fmt < 7 ? fn[fmt] : "unknown");
    }
    in->sample = (xt_sample)s;
    in->planar = planar == PLANARCONFIG_SEPARATE && spp > 1;
    r->spp_block = in->planar ? 1 : spp;
    r->n_planes = in->planar ? spp : 1;
    const TIFFCodec *codec = TIFFFindCODEC(comp);
    in->compression = comp == COMPRESSION_NONE ? "none" : codec ? codec->name : "unknown";
    if (!TIFFIsCODECConfigured(comp))
        return xt_error("raster", "%s: compression %u (%s) is not supported by this libtiff", r->path, comp, in->compression);
    // JPEG-in-TIFF stored as YCbCr: let libtiff convert to RGB (whole-resolution blocks).
    if (comp == COMPRESSION_JPEG && photo == PHOTOMETRIC_YCBCR) TIFFSetField(t, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
    static const char *pn[] = {"min-is-white", "min-is-black", "RGB", "palette", "mask", "separated (CMYK)", "YCbCr"};
    in->photometric = photo < 7 ? pn[photo] : photo == 8 ? "CIELab" : "other";
    uint16_t n_extra = 0, *extra = NULL;
    if (TIFFGetField(t, TIFFTAG_EXTRASAMPLES, &n_extra, &extra))
        for (int i = 0; i < n_extra; i++) in->has_alpha |= extra[i] == EXTRASAMPLE_ASSOCALPHA || extra[i] == EXTRASAMPLE_UNASSALPHA;
    if (TIFFIsTiled(t)) {
        uint32_t tw = 0, th = 0;
        TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw);
        TIFFGetField(t, TIFFTAG_TILELENGTH, &th);
        if (tw == 0 || th == 0 || tw > MAX_SIDE || th > MAX_SIDE)
            return xt_error("raster", "%s: bad tile size %ux%u", r->path, tw, th);
        in->tiled = 1;
        in->block_w = (int)tw;
        in->block_h = (int)th;
    } else {
        uint32_t rps = h;
        TIFFGetFieldDefaulted(t, TIFFTAG_ROWSPERSTRIP, &rps);
        if (rps == 0 || rps > h) rps = h;
        in->block_w = (int)w;
        in->block_h = (int)rps;
    }
    size_t bb = (size_t)in->block_w * in->block_h;
    if (xt_mul_size(bb, (size_t)r->spp_block * sample_bytes[s], &bb) || bb > MAX_BLOCK_BYTES)
        return xt_error("raster", "%s: a %s of %dx%d pixels is too large to decode (> %zu MiB); re-tile the image",
                        r->path, in->tiled ? "tile" : "strip", in->block_w, in->block_h, MAX_BLOCK_BYTES >> 20);
    // The codec's own size must not exceed ours (e.g. subsampled or odd layouts).
    uint64_t lib = in->tiled ? TIFFTileSize64(t) : TIFFStripSize64(t);
    if (lib == 0 || lib > bb)
        return xt_error("raster", "%s: unsupported block layout (%llu bytes per block, expected %zu)", r->path,
                        (unsigned long long)lib, bb);
    r->block_bytes = bb;
    return 0;
}

// Georeferencing, NoData, band descriptions and resolution of the current directory (the first:
// reduced-resolution levels carry none of their own).
static int tiff_meta(xt_raster *r) {
    TIFF *t = r->tif;
    xt_raster_info *in = &r->info;
    xt_georef *g = &in->geo;
    uint16_t n = 0;
    double *d = NULL;
    uint16_t *k = NULL;
    char *a = NULL;
    if (TIFFGetField(t, TIFFTAG_GEOKEYDIRECTORY, &n, &k) && n >= 4 && k) {
        g->n_keys = n;
        g->keys = xt_xmalloc(sizeof *k * n);
        memcpy(g->keys, k, sizeof *k * n);
        georef_parse_keys(g);
    }
    if (TIFFGetField(t, TIFFTAG_GEODOUBLEPARAMS, &n, &d) && n && d) {
        g->n_doubles = n;
        g->doubles = xt_xmalloc(sizeof *d * n);
        memcpy(g->doubles, d, sizeof *d * n);
    }
    if (TIFFGetField(t, TIFFTAG_GEOASCIIPARAMS, &a) && a) g->ascii = strdup(a);
    if (TIFFGetField(t, TIFFTAG_GEOTRANSMATRIX, &n, &d) && n >= 16 && d) {
        double gt[6] = {d[3], d[0], d[1], d[7], d[4], d[5]};
        memcpy(g->gt, gt, sizeof gt);
        g->has_transform = 1;
    } else {
        double *tp = NULL, *sc = NULL;
        uint16_t ntp = 0, nsc = 0;
        if (TIFFGetField(t, TIFFTAG_GEOTIEPOINTS, &ntp, &tp) && ntp >= 6 && tp &&
            TIFFGetField(t, TIFFTAG_GEOPIXELSCALE, &nsc, &sc) && nsc >= 2 && sc) {
            double gt[6] = {tp[3] - tp[0] * sc[0], sc[0], 0, tp[4] + tp[1] * sc[1], 0, -sc[1]};
            memcpy(g->gt, gt, sizeof gt);
            g->has_transform = 1;
        } else if (TIFFGetField(t, TIFFTAG_GEOTIEPOINTS, &ntp, &tp) && ntp >= 6 && tp) { // GCPs, kept verbatim
            g->n_gcps = ntp / 6;
            g->gcps = xt_xmalloc(sizeof *g->gcps * 6 * g->n_gcps);
            memcpy(g->gcps, tp, sizeof *g->gcps * 6 * g->n_gcps);
        }
    }
    // GDAL's NoData and band descriptions
    char *nd = NULL, *xml = NULL;
    if (TIFFGetField(t, TIFFTAG_GDAL_NODATA, &nd) && nd) {
        char *e;
        double v = strtod(nd, &e);
        while (*e == ' ') e++;
        if (e != nd && !*e) in->has_nodata = 1, in->nodata = v;
    }
    if (TIFFGetField(t, TIFFTAG_GDAL_METADATA, &xml) && xml) parse_band_desc(in, xml);
    if (g->has_transform && g->pixel_is_point) { // tie point at a pixel centre -> corner
        g->gt[0] -= 0.5 * (g->gt[1] + g->gt[2]);
        g->gt[3] -= 0.5 * (g->gt[4] + g->gt[5]);
    }
    for (int i = 0; i < 6; i++)
        if (!isfinite(g->gt[i])) return xt_error("raster", "%s: non-finite georeferencing", r->path);
    // microns per pixel from the resolution when it is per centimetre (what slide scanners and
    // libvips write; OpenSlide 4 reads generic TIFF slides so); per inch is mostly a 72-dpi default
    uint16_t unit = 0;
    float xr = 0, yr = 0;
    if (TIFFGetField(t, TIFFTAG_RESOLUTIONUNIT, &unit) && unit == RESUNIT_CENTIMETER && TIFFGetField(t, TIFFTAG_XRESOLUTION, &xr) &&
        TIFFGetField(t, TIFFTAG_YRESOLUTION, &yr) && xr > 0 && yr > 0 && isfinite(xr) && isfinite(yr)) {
        in->mpp_x = 1e4 / xr;
        in->mpp_y = 1e4 / yr;
    }
    return 0;
}

// Opens the TIFF and the level o asks for. Levels: the first directory, then the directories
// after it marked reduced-resolution (SubfileType bit 1) with as many bands — the pyramids of
// libvips, GDAL's internal overviews (COG), generic-TIFF slides. SubIFD pyramids are not followed.
static int tiff_open(xt_raster *r, const xt_raster_open_opts *o) {
    xt__tiff_init();
    xt__tiff_clear_error();
    // "m": no memory mapping — touched pages of a mapped file count as resident and would grow
    // the peak RSS with the image (and a truncated file would SIGBUS instead of failing).
    r->tif = XTIFFOpen(r->path, "rm");
    if (!r->tif) return xt_error("raster", "%s: not a readable TIFF (%s)", r->path, xt__tiff_last_error());
    TIFF *t = r->tif;
    xt_raster_info *in = &r->info;
    tdir_t dirs[XT_MAX_LEVELS] = {0};
    uint32_t w0 = 0, h0 = 0;
    uint16_t spp0 = 1;
    TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w0);
    TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h0);
    TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp0);
    in->n_levels = 1;
    in->level_w[0] = (int)w0;
    in->level_h[0] = (int)h0;
    in->level_downsample[0] = 1;
    for (tdir_t d = 1; d < 64 && in->n_levels < XT_MAX_LEVELS && TIFFReadDirectory(t); d++) {
        uint32_t sft = 0, w = 0, h = 0;
        uint16_t spp = 1;
        TIFFGetFieldDefaulted(t, TIFFTAG_SUBFILETYPE, &sft);
        TIFFGetField(t, TIFFTAG_IMAGEWIDTH, &w);
        TIFFGetField(t, TIFFTAG_IMAGELENGTH, &h);
        TIFFGetFieldDefaulted(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
        if (!(sft & FILETYPE_REDUCEDIMAGE) || spp != spp0 || w == 0 || h == 0 || w >= w0 || h >= h0) continue; // masks, thumbnails
        dirs[in->n_levels] = d;
        in->level_w[in->n_levels] = (int)w;
        in->level_h[in->n_levels] = (int)h;
        in->level_downsample[in->n_levels++] = (double)w0 / w;
    }
    xt__tiff_clear_error();
    if (!TIFFSetDirectory(t, 0)) return xt_error("raster", "%s: %s", r->path, xt__tiff_last_error());
    in->bands = spp0; // band descriptions are per band
    if (tiff_meta(r) < 0) return -1;
    int level = xt__raster_pick_level(r->path, in, o);
    if (level < 0) return -1;
    in->level = level;
    if (level && !TIFFSetDirectory(t, dirs[level]))
        return xt_error("raster", "%s: cannot read level %d: %s", r->path, level, xt__tiff_last_error());
    if (tiff_layout(r) < 0) return -1;
    if (level) xt_georef_scale(&in->geo, in->level_downsample[level]);
    return 0;
}

// ---------------------------------------------------------------------------------------------
// open / close

// The native source of a file by its magic bytes: 0 and *src, 1 when not native (*kind: what
// the bytes look like, or NULL), -1 + error when it cannot be read.
static int sniff(const char *path, int *src, const char **kind) {
    FILE *f = fopen(path, "rb");
    if (!f) return xt_error("raster", "%s: cannot open: %s", path, strerror(errno));
    unsigned char m[16] = {0};
    size_t n = fread(m, 1, sizeof m, f);
    fclose(f);
    if (n >= 4 && ((m[0] == 'I' && m[1] == 'I' && (m[2] == 42 || m[2] == 43) && m[3] == 0) ||
                   (m[0] == 'M' && m[1] == 'M' && m[2] == 0 && (m[3] == 42 || m[3] == 43))))
        *src = SRC_TIFF;
    else if (n >= 8 && !memcmp(m, "\x89PNG\r\n\x1a\n", 8)) *src = SRC_PNG;
    else if (n >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) *src = SRC_JPEG;
    else {
        *kind = n >= 9 && m[8] == '{' ? "a model file (safetensors)" : xt_file_kind(m, n);
        return 1;
    }
    return 0;
}

static const char *backend_names[XT_BACKEND_COUNT] = {"auto", "native", "gdal", "openslide"};

const char *xt_backend_name(xt_backend b) { return b < XT_BACKEND_COUNT ? backend_names[b] : "?"; }

int xt_backend_parse(const char *name, xt_backend *out) {
    for (int i = 0; i < XT_BACKEND_COUNT; i++)
        if (name && !strcmp(name, backend_names[i])) {
            *out = (xt_backend)i;
            return 0;
        }
    return xt_error("raster", "unknown backend '%s' (auto, native, gdal, openslide)", name ? name : "");
}

int xt_backend_available(xt_backend b) {
    if (b == XT_BACKEND_GDAL) return xt__gdal_available();
    if (b == XT_BACKEND_OPENSLIDE) return xt__slide_available();
    return b < XT_BACKEND_COUNT;
}

void xt_raster_open_opts_default(xt_raster_open_opts *o) {
    memset(o, 0, sizeof *o);
    o->level = -1;
}

int xt__raster_pick_level(const char *path, const xt_raster_info *in, const xt_raster_open_opts *o) {
    int n = in->n_levels;
    if (o->mpp > 0) {
        if (!(in->mpp_x > 0))
            return xt_error("raster", "%s: --mpp %g: the file states no microns per pixel (use --level; it has %d level%s)", path,
                            o->mpp, n, n == 1 ? "" : "s");
        int best = 0;
        for (int l = 1; l < n; l++) // nearest on a log scale: 0.5 and 2 are equally far from 1
            if (fabs(log(in->mpp_x * in->level_downsample[l] / o->mpp)) < fabs(log(in->mpp_x * in->level_downsample[best] / o->mpp)))
                best = l;
        return best;
    }
    int l = o->level < 0 ? 0 : o->level;
    if (l >= n) {
        char lv[256];
        int k = 0;
        for (int i = 0; i < n && k < (int)sizeof lv - 40; i++)
            k += snprintf(lv + k, sizeof lv - k, "%s%d: %d x %d", i ? ", " : "", i, in->level_w[i], in->level_h[i]);
        return xt_error("raster", "%s: --level %d: the file has %d level%s (%s)", path, l, n, n == 1 ? "" : "s", lv);
    }
    return l;
}

static int ext_open(xt_raster *r, xt_backend b, const xt_raster_open_opts *o) {
    int rc = b == XT_BACKEND_GDAL ? xt__gdal_open(r->path, o, &r->info, &r->ext) : xt__slide_open(r->path, o, &r->info, &r->ext);
    if (rc < 0) return rc;
    xt_raster_info *in = &r->info;
    in->format = r->ext.format;
    in->backend = backend_names[b];
    r->spp_block = in->bands;
    r->n_planes = 1;
    if (xt_mul_size((size_t)in->block_w * in->block_h, (size_t)in->bands * sample_bytes[in->sample], &r->block_bytes) ||
        r->block_bytes > MAX_BLOCK_BYTES)
        return xt_error("raster", "%s: blocks of %d x %d x %d bands are too large", r->path, in->block_w, in->block_h, in->bands);
    return 0;
}

xt_raster *xt_raster_open(const char *path) { return xt_raster_open_with(path, NULL); }

xt_raster *xt_raster_open_with(const char *path, const xt_raster_open_opts *o_) {
    xt_raster_open_opts o;
    if (o_) o = *o_;
    else xt_raster_open_opts_default(&o);
    int src = SRC_TIFF;
    const char *kind = NULL;
    int sn = sniff(path, &src, &kind);
    if (sn < 0) return NULL;
    xt_backend b = o.backend;
    if (b == XT_BACKEND_AUTO) {
        // a vendor's slide (SVS, NDPI are TIFFs too) goes to OpenSlide; a plain TIFF / PNG / JPEG
        // to the native reader unless a level above 0 is asked for (a pyramidal TIFF OpenSlide
        // reads, else GDAL's overviews); anything else to GDAL
        const char *vendor = sn == 0 && src != SRC_TIFF ? NULL : xt__slide_vendor(path); // PNG / JPEG are no slides
        if (vendor && strcmp(vendor, "generic-tiff")) b = XT_BACKEND_OPENSLIDE;
        else if (sn == 0) b = XT_BACKEND_NATIVE;
        else if (vendor) b = XT_BACKEND_OPENSLIDE;
        else b = XT_BACKEND_GDAL;
    }
    if (b == XT_BACKEND_NATIVE && sn == 1)
        return xt_error("raster", "%s: %s%snot a TIFF, BigTIFF, PNG or JPEG (the native reader's formats)", path, kind ? kind : "",
                        kind ? ", " : ""), NULL;
    xt_raster *r = xt_xcalloc(1, sizeof *r);
    r->path = strdup(path);
    r->src = b == XT_BACKEND_NATIVE ? src : SRC_EXT;
    r->free_head = r->lru_head = r->lru_tail = -1;
    for (int i = 0; i < HASH_SIZE; i++) r->hash[i] = -1;
    r->budget = (size_t)32 << 20;
    int rc;
    if (r->src == SRC_EXT) {
        rc = ext_open(r, b, &o);
        if (rc == -2 && o.backend == XT_BACKEND_AUTO) { // no backend knows it: say what it is and what was tried
            int g = xt_backend_available(XT_BACKEND_GDAL), sl = xt_backend_available(XT_BACKEND_OPENSLIDE);
            xt_error("raster", "%s: %s%snot an image xt reads (native: TIFF, BigTIFF, PNG, JPEG; GDAL: %s; OpenSlide: %s)", path,
                     kind ? kind : "", kind ? ", " : "", g ? "no driver recognises it" : "not available",
                     sl ? "not a slide" : "not available");
        }
    } else if (src == SRC_TIFF) rc = tiff_open(r, &o);
    else {
        rc = src == SRC_PNG ? png_open(r) : jpeg_open(r);
        if (rc == 0) {
            r->info.format = src == SRC_PNG ? "PNG" : "JPEG";
            r->info.sequential = 1;
            r->spp_block = r->info.bands;
            r->n_planes = 1;
            r->info.block_w = r->info.width;
            r->info.block_h = r->interlaced ? r->info.height : SEQ_BLOCK_ROWS;
            if (r->info.block_h > r->info.height) r->info.block_h = r->info.height;
            if (r->info.width <= 0 || r->info.height <= 0)
                rc = xt_error("raster", "%s: image has zero size", path);
            else if (xt_mul_size(r->row_bytes, (size_t)r->info.block_h, &r->block_bytes) ||
                     r->block_bytes > (r->interlaced ? MAX_INTERLACED_BYTES : MAX_BLOCK_BYTES))
                rc = xt_error("raster", "%s: %s too large to decode in bounded memory (%dx%d); convert it to a tiled TIFF",
                              path, r->interlaced ? "interlaced PNG" : "image rows", r->info.width, r->info.height);
            else if (r->row_bytes != (size_t)r->info.width * r->info.bands * sample_bytes[r->info.sample])
                rc = xt_error("raster", "%s: unexpected row layout", path);
        }
    }
    if (rc == 0 && r->src != SRC_EXT) {
        xt_raster_info *in = &r->info;
        in->backend = backend_names[XT_BACKEND_NATIVE];
        if (src != SRC_TIFF) { // PNG / JPEG: one level
            in->n_levels = 1;
            in->level_w[0] = in->width;
            in->level_h[0] = in->height;
            in->level_downsample[0] = 1;
            if (xt__raster_pick_level(path, in, &o) < 0) rc = -1;
        }
    }
    if (rc < 0) {
        xt_raster_close(r);
        return NULL;
    }
    return r;
}

void xt_raster_close(xt_raster *r) {
    if (!r) return;
    if (r->tif) XTIFFClose(r->tif);
    if (r->ext.close) r->ext.close(r->ext.h);
    seq_close(r);
    for (int i = 0; i < r->capb; i++) free(r->b[i].data);
    for (int i = 0; i < r->npool; i++) free(r->pool[i]);
    free(r->b);
    xt_georef_free(&r->info.geo);
    for (int i = 0; r->info.band_desc && i < r->info.bands; i++) free(r->info.band_desc[i]);
    free(r->info.band_desc);
    free(r->path);
    free(r);
}

// ---------------------------------------------------------------------------------------------
// blocks

static int decode_block(xt_raster *r, int plane, int bx, int by, uint8_t *buf) {
    xt_raster_info *in = &r->info;
    if (r->src == SRC_TIFF) {
        xt__tiff_clear_error();
        tmsize_t got;
        if (in->tiled) {
            uint32_t tile = TIFFComputeTile(r->tif, (uint32_t)bx * in->block_w, (uint32_t)by * in->block_h, 0, (uint16_t)plane);
            got = TIFFReadEncodedTile(r->tif, tile, buf, (tmsize_t)r->block_bytes);
        } else {
            uint32_t strip = TIFFComputeStrip(r->tif, (uint32_t)by * in->block_h, (uint16_t)plane);
            got = TIFFReadEncodedStrip(r->tif, strip, buf, (tmsize_t)r->block_bytes);
        }
        if (got < 0)
            return xt_error("raster", "%s: cannot decode %s (%d, %d)%s: %s", r->path, in->tiled ? "tile" : "strip", bx, by,
                            r->n_planes > 1 ? " of a band" : "", xt__tiff_last_error());
        return 0;
    }
    if (r->src == SRC_EXT) { // edge blocks: the part inside the image, at the full block's stride
        int x = bx * in->block_w, y = by * in->block_h;
        int w = in->width - x < in->block_w ? in->width - x : in->block_w;
        int h = in->height - y < in->block_h ? in->height - y : in->block_h;
        return r->ext.read(r->ext.h, x, y, w, h, in->block_w, buf);
    }
    return seq_decode_next(r, buf);
}

// Returns the cached block (decoding it, and for sequential sources every block before it).
static const uint8_t *get_block(xt_raster *r, int plane, int bx, int by) {
    int i = cache_find(r, plane, bx, by);
    if (i >= 0) {
        r->b[i].tick = ++r->tick;
        lru_unlink(r, i);
        lru_push_front(r, i);
        return r->b[i].data;
    }
    if (r->src == SRC_PNG || r->src == SRC_JPEG) {
        if (by < r->next_block && seq_restart(r) < 0) return NULL;
        while (r->next_block <= by) {
            int cur = r->next_block;
            cache_make_room(r, r->block_bytes);
            uint8_t *buf = buf_get(r);
            if (!buf) return NULL;
            if (seq_decode_next(r, buf) < 0) {
                buf_put(r, buf);
                r->next_block = INT_MAX; // force a restart on the next access
                return NULL;
            }
            r->decoded++;
            int j = cache_find(r, 0, 0, cur);
            if (j >= 0) cache_remove(r, j);
            j = cache_insert(r, 0, 0, cur, buf, r->block_bytes);
            if (cur == by) return r->b[j].data;
        }
        return NULL;
    }
    cache_make_room(r, r->block_bytes);
    uint8_t *buf = buf_get(r);
    if (!buf) return NULL;
    if (decode_block(r, plane, bx, by, buf) < 0) {
        buf_put(r, buf);
        return NULL;
    }
    r->decoded++;
    int j = cache_insert(r, plane, bx, by, buf, r->block_bytes); // may move r->b
    return r->b[j].data;
}

// Copies n samples with stride `step` (in samples) from a block row into floats.
static void convert(float *dst, const uint8_t *src, int n, int step, xt_sample s) {
    switch (s) {
    case XT_S_U8: for (int i = 0; i < n; i++) dst[i] = src[(size_t)i * step]; break;
    case XT_S_I8: for (int i = 0; i < n; i++) dst[i] = ((const int8_t *)src)[(size_t)i * step]; break;
    case XT_S_U16: for (int i = 0; i < n; i++) dst[i] = ((const uint16_t *)src)[(size_t)i * step]; break;
    case XT_S_I16: for (int i = 0; i < n; i++) dst[i] = ((const int16_t *)src)[(size_t)i * step]; break;
    case XT_S_U32: for (int i = 0; i < n; i++) dst[i] = (float)((const uint32_t *)src)[(size_t)i * step]; break;
    case XT_S_I32: for (int i = 0; i < n; i++) dst[i] = (float)((const int32_t *)src)[(size_t)i * step]; break;
    case XT_S_F32: for (int i = 0; i < n; i++) dst[i] = ((const float *)src)[(size_t)i * step]; break;
    default: XT_ASSERT(0);
    }
}

int xt_raster_read_rect(xt_raster *r, struct xt_rect rect, const int *bands, int n_bands, float pad, float *dst) {
    xt_raster_info *in = &r->info;
    XT_ASSERT(rect.w >= 0 && rect.h >= 0 && n_bands > 0);
    for (int c = 0; c < n_bands; c++) {
        int b = bands ? bands[c] : c;
        if (b < 0 || b >= in->bands)
            return xt_error("raster", "%s: band %d requested, the image has %d", r->path, b + 1, in->bands);
    }
    struct xt_rect img = {0, 0, in->width, in->height};
    struct xt_rect v = xt_rect_intersect(rect, img);
    size_t plane_px = (size_t)rect.w * rect.h;
    if (!xt_rect_contains(v, rect))
        for (size_t i = 0; i < plane_px * n_bands; i++) dst[i] = pad;
    if (xt_rect_empty(v)) return 0;
    r->call_tick = r->tick + 1;
    int bw = in->block_w, bh = in->block_h, sb = sample_bytes[in->sample];
    int bx0 = v.x / bw, bx1 = (v.x + v.w - 1) / bw, by0 = v.y / bh, by1 = (v.y + v.h - 1) / bh;
    for (int by = by0; by <= by1; by++)
        for (int bx = bx0; bx <= bx1; bx++) {
            struct xt_rect br = xt_rect_intersect(v, xt_rect_make(bx * bw, by * bh, bw, bh));
            for (int c = 0; c < n_bands; c++) {
                int b = bands ? bands[c] : c;
                int plane = in->planar ? b : 0, off = in->planar ? 0 : b;
                const uint8_t *blk = get_block(r, plane, bx, by);
                if (!blk) return -1;
                for (int y = br.y; y < br.y + br.h; y++) {
                    size_t si = (((size_t)(y - by * bh) * bw + (br.x - bx * bw)) * r->spp_block + off) * sb;
                    convert(XT_RECT_AT(dst, rect, c, br.x, y), blk + si, br.w, r->spp_block, in->sample);
                }
            }
        }
    return 0;
}

int xt_raster_read_norm(xt_raster *r, struct xt_rect rect, const int *bands, const xt_norm *nm, float *dst) {
    return xt_raster_read_norm_valid(r, rect, bands, nm, dst, NULL);
}

int xt_raster_read_norm_valid(xt_raster *r, struct xt_rect rect, const int *bands, const xt_norm *nm, float *dst,
                              int64_t *n_valid) {
    if (xt_raster_read_rect(r, rect, bands, nm->n, NAN, dst) < 0) return -1;
    int64_t valid = 0;
    size_t np = (size_t)rect.w * rect.h;
    float a[XT_NORM_MAX_BANDS], b[XT_NORM_MAX_BANDS];
    for (int c = 0; c < nm->n; c++) {
        a[c] = (float)(nm->scale / nm->std[c]);
        b[c] = (float)(-nm->mean[c] / nm->std[c]);
    }
    float nd = (float)nm->nodata;
    for (size_t p = 0; p < np; p++) {
        int zero = 0;
        for (int c = 0; c < nm->n; c++) {
            float v = dst[c * np + p];
            if (isnan(v) || (nm->has_nodata && v == nd)) zero = 1; // NaN: outside the image
        }
        for (int c = 0; c < nm->n; c++) dst[c * np + p] = zero ? 0.0f : dst[c * np + p] * a[c] + b[c];
        valid += !zero;
    }
    if (n_valid) *n_valid = valid;
    return 0;
}
