// raster.h — large rasters in bounded memory: rectangles, a windowed reader (TIFF / BigTIFF /
// GeoTIFF via libtiff+libgeotiff, PNG via libpng, JPEG via libjpeg), a tiled float GeoTIFF
// writer, procedural test rasters and per-band normalisation.
//
// Nothing here is W×H-sized: a reader decodes blocks (TIFF tiles or strips; bands of rows for
// PNG/JPEG) into a small LRU cache and copies the requested window out of them; a writer takes
// rows (or tiles) and writes each tile as soon as it is complete. See docs/streaming.md.
#ifndef XT_IO_RASTER_H
#define XT_IO_RASTER_H

#include <stddef.h>
#include <stdint.h>

// ---------------------------------------------------------------------------------------------
// rectangles (libvips style): pure helpers

struct xt_rect {
    int x, y, w, h;
};

static inline struct xt_rect xt_rect_make(int x, int y, int w, int h) {
    struct xt_rect r = {x, y, w, h};
    return r;
}
static inline int xt_rect_empty(struct xt_rect r) { return r.w <= 0 || r.h <= 0; }
static inline struct xt_rect xt_rect_intersect(struct xt_rect a, struct xt_rect b) {
    int x0 = a.x > b.x ? a.x : b.x, y0 = a.y > b.y ? a.y : b.y;
    int x1 = a.x + a.w < b.x + b.w ? a.x + a.w : b.x + b.w;
    int y1 = a.y + a.h < b.y + b.h ? a.y + a.h : b.y + b.h;
    struct xt_rect r = {x0, y0, x1 > x0 ? x1 - x0 : 0, y1 > y0 ? y1 - y0 : 0};
    return r;
}
// r grown by m pixels on every side (a halo).
static inline struct xt_rect xt_rect_pad(struct xt_rect r, int m) {
    struct xt_rect o = {r.x - m, r.y - m, r.w + 2 * m, r.h + 2 * m};
    return o;
}
static inline int xt_rect_contains(struct xt_rect outer, struct xt_rect inner) {
    return inner.x >= outer.x && inner.y >= outer.y && inner.x + inner.w <= outer.x + outer.w &&
           inner.y + inner.h <= outer.y + outer.h;
}

// Bounds-checked address of pixel (x, y) of band c in a (C, h, w) buffer covering rect r:
// checked under -DXT_DEBUG, plain arithmetic otherwise (VIPS_REGION_ADDR).
#ifdef XT_DEBUG
#define XT_RECT_AT(buf_, r_, c_, x_, y_)                                                       \
    (XT_ASSERT((x_) >= (r_).x && (x_) < (r_).x + (r_).w && (y_) >= (r_).y && (y_) < (r_).y + (r_).h), \
     &(buf_)[((size_t)(c_) * (r_).h + ((y_) - (r_).y)) * (r_).w + ((x_) - (r_).x)])
#else
#define XT_RECT_AT(buf_, r_, c_, x_, y_) (&(buf_)[((size_t)(c_) * (r_).h + ((y_) - (r_).y)) * (r_).w + ((x_) - (r_).x)])
#endif

// ---------------------------------------------------------------------------------------------
// sample types and georeferencing

typedef enum { XT_S_U8, XT_S_I8, XT_S_U16, XT_S_I16, XT_S_U32, XT_S_I32, XT_S_F32, XT_SAMPLE_COUNT } xt_sample;

const char *xt_sample_name(xt_sample s);                 // "u8", "i16", "f32", ...
int xt_sample_parse(const char *name, xt_sample *out);   // -1 + error on unknown
int xt_sample_bytes(xt_sample s);
// Scale that maps the type's range to ~[0, 1] before mean/std (1/255 for u8, 1 for f32, ...).
double xt_sample_unit_scale(xt_sample s);

// GeoTIFF georeferencing. The geotransform is in GDAL order and always refers to pixel
// *corners* (x = gt[0] + col*gt[1] + row*gt[2], y = gt[3] + col*gt[4] + row*gt[5]), whatever the
// file's raster type; the key directory and its parameter tags are kept verbatim so the CRS is
// copied exactly (whatever it is) into outputs.
typedef struct xt_georef {
    int has_transform;
    double gt[6];
    int pixel_is_point;          // GTRasterTypeGeoKey == RasterPixelIsPoint
    int n_keys;                  // GeoKeyDirectory (uint16) / GeoDoubleParams / GeoAsciiParams
    uint16_t *keys;
    int n_doubles;
    double *doubles;
    char *ascii;
    int epsg;                    // ProjectedCSTypeGeoKey or GeographicTypeGeoKey (0: none/user)
    int model_type;              // GTModelTypeGeoKey (1 projected, 2 geographic, 3 geocentric)
    int n_gcps;                  // ground control points (several tie points, no geotransform):
    double *gcps;                // (n_gcps, 6) as the GeoTIFF tag: pixel I, J, K, map X, Y, Z
    char *wkt;                   // the CRS as WKT when read through GDAL (described, not written:
                                 // outputs carry the keys of its EPSG code, when it has one); or NULL
} xt_georef;

void xt_georef_free(xt_georef *g);
int xt_georef_copy(xt_georef *dst, const xt_georef *src);
// A simple georeferencing for generated images: EPSG code, top-left corner, square pixel size.
int xt_georef_simple(xt_georef *g, int epsg, double x0, double y0, double pixel);
// Georeferencing of an image whose pixel (i, j) covers the input pixels [i*s, (i+1)*s) — the
// token grid of a model with stride s (GCPs: their pixel positions divided by s).
void xt_georef_scale(xt_georef *g, double s);
// Map coordinates (x, y) of pixel position (col, row) (corners at integers; centres at +0.5).
void xt_georef_apply(const xt_georef *g, double col, double row, double *x, double *y);
// Longitude / latitude (degrees, WGS 84) of map coordinates, when the CRS is geographic or
// WGS 84 / UTM (EPSG 326zz, 327zz): returns 1; other CRSs: 0 (outputs keep map coordinates) (geo.c).
int xt_georef_lonlat(const xt_georef *g, double x, double y, double *lon, double *lat);
// One-line description, e.g. "EPSG:32633, origin (500000, 4500000), pixel 10 x -10".
void xt_georef_describe(const xt_georef *g, char *buf, size_t n);

// ---------------------------------------------------------------------------------------------
// reader

// Backends: the native reader (TIFF / BigTIFF / PNG / JPEG), GDAL (every other raster format GDAL
// reads: VRT, JP2, NITF, HDF5, ...; raster_gdal.c) and OpenSlide (whole-slide images: SVS, NDPI,
// MRXS, pyramidal TIFF; raster_slide.c). GDAL and OpenSlide are optional at build time.
typedef enum { XT_BACKEND_AUTO, XT_BACKEND_NATIVE, XT_BACKEND_GDAL, XT_BACKEND_OPENSLIDE, XT_BACKEND_COUNT } xt_backend;

const char *xt_backend_name(xt_backend b);              // "auto", "native", "gdal", "openslide"
int xt_backend_parse(const char *name, xt_backend *out); // -1 + error on unknown
int xt_backend_available(xt_backend b);                  // 1 when built in (native, auto: always)

#define XT_MAX_LEVELS 32

typedef struct xt_raster_open_opts {
    xt_backend backend;     // AUTO: see xt_raster_open_with
    int level;              // pyramid level (0: full resolution; GDAL: overview level-1); -1: unset
    double mpp;             // > 0: the level whose microns per pixel are nearest (OpenSlide); 0: unset
} xt_raster_open_opts;

typedef struct xt_raster_info {
    const char *format;     // "TIFF", "BigTIFF", "PNG", "JPEG"; GDAL: its driver ("VRT", "JP2OpenJPEG");
                            // OpenSlide: "slide (<vendor>)"
    const char *backend;    // "native", "gdal", "openslide"
    int width, height, bands;
    xt_sample sample;
    int bits;
    int planar;             // 1: bands stored separately (PLANARCONFIG_SEPARATE)
    int tiled;              // 1: tiles, 0: strips / bands of rows
    int block_w, block_h;   // tile size, or (width, rows per strip / rows per decoded band)
    const char *compression;
    const char *photometric;
    int sequential;         // 1: PNG/JPEG: blocks decode in order; going back restarts the decoder
    xt_georef geo;
    int has_nodata;         // the file's NoData value (TIFF: GDAL_NODATA tag); may be NaN
    double nodata;
    char **band_desc;       // (bands) band descriptions from GDAL_METADATA, entries NULL if none; NULL: none
    // pyramid: level 0 is the full-resolution image; width/height above are those of `level`,
    // the level being read. GDAL: levels 1.. are the overviews; native TIFF: the reduced-resolution
    // directories after the first; PNG / JPEG: one level.
    int n_levels, level;
    int level_w[XT_MAX_LEVELS], level_h[XT_MAX_LEVELS];
    double level_downsample[XT_MAX_LEVELS];
    double mpp_x, mpp_y;    // microns per pixel of level 0 (OpenSlide's openslide.mpp-x/y; TIFF:
                            // resolution per centimetre); 0: unknown
    int has_alpha;          // an alpha band (GDAL: read as a band; OpenSlide: composited on white)
} xt_raster_info;

typedef struct xt_raster xt_raster;

// Opens and validates (NULL + error naming the file). Reads only the header.
xt_raster *xt_raster_open(const char *path);
// The same with a backend and a pyramid level (o NULL: defaults). AUTO: OpenSlide for a file it
// knows by vendor (SVS, NDPI, MRXS, ...), else the native reader for TIFF / PNG / JPEG (TIFF
// levels: reduced-resolution directories), else GDAL (levels: overviews), else OpenSlide. A level
// the file does not have, or mpp without MPP, is an error saying what the file has.
void xt_raster_open_opts_default(xt_raster_open_opts *o);
xt_raster *xt_raster_open_with(const char *path, const xt_raster_open_opts *o);
void xt_raster_close(xt_raster *r);
const xt_raster_info *xt_raster_get_info(const xt_raster *r);
// Cache budget in bytes for decoded blocks (default 32 MiB). The cache always holds at least
// the blocks of one read_rect call.
void xt_raster_set_cache(xt_raster *r, size_t bytes);
// Statistics: blocks decoded so far, and the largest number of bytes the cache ever held.
void xt_raster_stats(const xt_raster *r, long *decoded, size_t *cache_high);
// Hint for streaming: no later read touches rows above y; cached blocks entirely above are freed.
void xt_raster_drop_above(xt_raster *r, int y);

// Reads the window rect (may extend past the image) of the given bands (0-based, n_bands of
// them; NULL = all bands in order) as float (n_bands, rect.h, rect.w) raw sample values;
// pixels outside the image are `pad`. Returns 0 / -1 + error (decode failures, truncation).
int xt_raster_read_rect(xt_raster *r, struct xt_rect rect, const int *bands, int n_bands, float pad,
                        float *dst);

// ---------------------------------------------------------------------------------------------
// normalisation: raw sample v of band c becomes (v * scale - mean[c]) / std[c]; nodata pixels
// (any selected band equal to nodata, when has_nodata) and pixels outside the image become 0.

typedef struct xt_norm {
    int n;                   // bands
    double scale;
    double mean[16], std[16];
    int has_nodata;
    double nodata;
} xt_norm;

#define XT_NORM_MAX_BANDS 16

// Reads rect (see xt_raster_read_rect) and normalises it: the model's input for one region.
int xt_raster_read_norm(xt_raster *r, struct xt_rect rect, const int *bands, const xt_norm *nm,
                        float *dst);
// Same, and *n_valid = the pixels of rect inside the image and not NoData (maps mark regions
// without any as NoData).
int xt_raster_read_norm_valid(xt_raster *r, struct xt_rect rect, const int *bands, const xt_norm *nm, float *dst,
                              int64_t *n_valid);

// ---------------------------------------------------------------------------------------------
// tiled TIFF writer (tiff_write.c): tiles written as soon as they are complete.

typedef struct xt_tiff_opts {
    int width, height, bands;
    xt_sample sample;
    int tile_w, tile_h;      // multiples of 16; tile_w == 0: strips of tile_h rows
    int planar;              // 1: PLANARCONFIG_SEPARATE
    const char *compression; // "none" (default), "deflate", "lzw", "zstd", "packbits"
    int bigtiff;             // 1 force, 0 auto (when the data exceeds ~3.5 GiB)
    const xt_georef *geo;    // NULL: none
    // GDAL conventions (what gdalinfo / QGIS show): NoData (GDAL_NODATA tag, NaN allowed),
    // band descriptions and metadata items (GDAL_METADATA tag, XML)
    int has_nodata;
    double nodata;
    const char *const *band_desc; // (bands) or NULL; NULL entries: none
    const char *const *meta;      // key, value, key, value, ..., NULL; or NULL
    // up to this many overview levels (reduced-resolution directories, halving each time, until
    // the level fits one tile), written by xt_tiff_writer_rows (tiled, rows mode only): float
    // 2 x 2 means of the valid samples, integers (and overview_nearest) the top-left sample. 0: none
    int overviews, overview_nearest;
} xt_tiff_opts;

#define XT_OVERVIEWS_MAX 16 // levels at most (each halves; they stop once one tile holds the level)

typedef struct xt_tiff_writer xt_tiff_writer;

// The file is written as PATH.part and renamed to PATH by a successful close, so a killed or
// failed run never leaves a truncated file under the final name; abort removes PATH.part.
xt_tiff_writer *xt_tiff_writer_open(const char *path, const xt_tiff_opts *o);
// Appends n rows, band-sequential (bands, n, width) of the writer's sample type; complete tile
// rows are written immediately (buffer: one tile row).
int xt_tiff_writer_rows(xt_tiff_writer *w, const void *buf, int n);
// Writes tile (tx, ty) directly from (bands, tile_h, tile_w) data (generators; tiled only).
int xt_tiff_writer_tile(xt_tiff_writer *w, int tx, int ty, const void *buf);
// Flushes, writes the directory, closes. Returns 0 / -1 (an incomplete image is an error).
int xt_tiff_writer_close(xt_tiff_writer *w);
void xt_tiff_writer_abort(xt_tiff_writer *w); // closes and removes the file

// The GDAL_METADATA XML for band descriptions and key/value items (as xt_tiff_opts); NULL when
// there is nothing to write, else malloc'd.
char *xt_gdal_metadata_xml(int bands, const char *const *band_desc, const char *const *meta);

// An 8-bit RGB PNG (w, h, 3) in one call (quicklooks; synth.c holds the PNG code), written as
// PATH.part and renamed when complete. 0 / -1 + error.
int xt_png_write_rgb8(const char *path, int w, int h, const uint8_t *rgb);

// ---------------------------------------------------------------------------------------------
// procedural rasters (synth.c): deterministic content from (seed, band, x, y), any size.

typedef struct xt_synth_opts {
    int sar;                 // 1: xt_synth_sar_value (2 bands, f32, dB) instead of the generic content
    int width, height, bands;
    xt_sample sample;
    uint64_t seed;
    int tile;                // tile side (multiple of 16); 0: strips of 16 rows
    int planar;
    const char *compression;
    int bigtiff;
    const xt_georef *geo;
    int has_nodata;          // TIFF: the GDAL_NODATA tag (the content is not changed)
    double nodata;
} xt_synth_opts;

// Pixel value of the procedural SAR scene (dB; -32768 NoData), band 0 VV, 1 VH.
double xt_synth_sar_value(uint64_t seed, int band, int x, int y);
// Pixel value of the procedural image (in the type's range).
double xt_synth_value(uint64_t seed, int band, int x, int y, xt_sample s);
// Writes the image to path: TIFF (tiled or striped), PNG (.png) or JPEG (.jpg/.jpeg) by suffix.
// Memory: one tile (TIFF) or one row (PNG/JPEG).
int xt_synth_write(const char *path, const xt_synth_opts *o);

#endif
