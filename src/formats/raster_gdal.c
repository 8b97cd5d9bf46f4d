// raster_gdal.c — GDAL as a second raster backend: every format GDAL reads that the native
// reader does not (VRT, JPEG 2000, NITF, HDF5 / netCDF subdatasets, SAFE, ...), through the C API
// (gdal.h) only. Windows are read with GDALRasterIO straight into raster.c's block cache (one
// block: GDAL's natural block, grown to at least 256 x 64 pixels), so memory stays bounded by the
// region; GDAL's own block cache is capped at 16 MiB unless GDAL_CACHEMAX says otherwise (it
// keeps every block it reads up to its cap; ours already holds the blocks in use).
// Levels: 0 is the dataset, 1.. its overviews (GDALGetOverview), so --level reads a pyramid.
// Built when pkg-config finds gdal (Makefile: XT_GDAL); otherwise xt__gdal_open says so.
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "formats/raster_ext.h"

#ifndef XT_GDAL

int xt__gdal_available(void) { return 0; }
int xt__gdal_open(const char *path, const xt_raster_open_opts *o, xt_raster_info *in, xt__ext *e) {
    xt_error("raster", "%s: GDAL backend not built in (install libgdal-dev and rebuild)", path);
    return -2;
}

#else

#include <cpl_conv.h>
#include <cpl_error.h>
#include <cpl_string.h>
#include <gdal.h>
#include <ogr_srs_api.h>

#include <pthread.h>

// Loaded on first use (dlopen): linking libgdal (~150 shared libraries, 0.2 s) would add its start-up time to every xt run,
// also those that never read such a file.
#define GDAL_FUNCS(X) \
    X(GDALAllRegister) X(GDALSetCacheMax64) X(CPLGetLastErrorMsg) X(CPLPushErrorHandler) \
    X(CPLQuietErrorHandler) X(CPLErrorReset) X(CPLPopErrorHandler) X(GDALRasterIO) X(GDALClose) \
    X(GDALGetSpatialRef) X(GDALGetGeoTransform) X(GDALGetGCPCount) X(GDALGetGCPSpatialRef) \
    X(GDALGetGCPs) X(OSRExportToWkt) X(OSRClone) X(OSRAutoIdentifyEPSG) X(OSRGetAuthorityName) \
    X(OSRGetAuthorityCode) X(OSRIsGeographic) X(OSRDestroySpatialReference) X(VSIFree) \
    X(GDALIdentifyDriverEx) X(GDALOpenEx) X(GDALGetDatasetDriver) X(GDALGetDriverShortName) \
    X(GDALGetRasterCount) X(GDALGetMetadata) X(CSLFetchNameValue) X(CSLCount) X(GDALGetRasterBand) \
    X(GDALGetRasterDataType) X(GDALGetDataTypeName) X(GDALGetRasterXSize) X(GDALGetOverviewCount) \
    X(GDALGetOverview) X(GDALGetRasterBandXSize) X(GDALGetRasterBandYSize) X(GDALGetDescription) \
    X(GDALGetRasterColorInterpretation) X(GDALGetBlockSize) X(GDALGetMetadataItem) \
    X(GDALGetRasterNoDataValue)
#define X_DECL(f) static __typeof__(&f) p_##f;
GDAL_FUNCS(X_DECL)
#undef X_DECL
static pthread_once_t gdal_once = PTHREAD_ONCE_INIT;
static char gdal_load_err[256]; // empty when loaded
static void gdal_load(void) {
#define X_NAME(f) #f,
#define X_ADDR(f) (void **)&p_##f,
    static const char *const names[] = {GDAL_FUNCS(X_NAME)};
    void **const fns[] = {GDAL_FUNCS(X_ADDR)};
#undef X_NAME
#undef X_ADDR
    xt_dl_load(XT_GDAL_SONAME, names, fns, (int)(sizeof names / sizeof *names), gdal_load_err, sizeof gdal_load_err);
}
// 1 when the library is loaded (loads it once), else 0 and *why.
static int gdal_loaded(const char **why) {
    pthread_once(&gdal_once, gdal_load);
    *why = gdal_load_err;
    return !gdal_load_err[0];
}
// from here on the API's names call through the loaded pointers
#define GDALAllRegister p_GDALAllRegister
#define GDALSetCacheMax64 p_GDALSetCacheMax64
#define CPLGetLastErrorMsg p_CPLGetLastErrorMsg
#define CPLPushErrorHandler p_CPLPushErrorHandler
#define CPLQuietErrorHandler p_CPLQuietErrorHandler
#define CPLErrorReset p_CPLErrorReset
#define CPLPopErrorHandler p_CPLPopErrorHandler
#define GDALRasterIO p_GDALRasterIO
#define GDALClose p_GDALClose
#define GDALGetSpatialRef p_GDALGetSpatialRef
#define GDALGetGeoTransform p_GDALGetGeoTransform
#define GDALGetGCPCount p_GDALGetGCPCount
#define GDALGetGCPSpatialRef p_GDALGetGCPSpatialRef
#define GDALGetGCPs p_GDALGetGCPs
#define OSRExportToWkt p_OSRExportToWkt
#define OSRClone p_OSRClone
#define OSRAutoIdentifyEPSG p_OSRAutoIdentifyEPSG
#define OSRGetAuthorityName p_OSRGetAuthorityName
#define OSRGetAuthorityCode p_OSRGetAuthorityCode
#define OSRIsGeographic p_OSRIsGeographic
#define OSRDestroySpatialReference p_OSRDestroySpatialReference
#define VSIFree p_VSIFree
#define GDALIdentifyDriverEx p_GDALIdentifyDriverEx
#define GDALOpenEx p_GDALOpenEx
#define GDALGetDatasetDriver p_GDALGetDatasetDriver
#define GDALGetDriverShortName p_GDALGetDriverShortName
#define GDALGetRasterCount p_GDALGetRasterCount
#define GDALGetMetadata p_GDALGetMetadata
#define CSLFetchNameValue p_CSLFetchNameValue
#define CSLCount p_CSLCount
#define GDALGetRasterBand p_GDALGetRasterBand
#define GDALGetRasterDataType p_GDALGetRasterDataType
#define GDALGetDataTypeName p_GDALGetDataTypeName
#define GDALGetRasterXSize p_GDALGetRasterXSize
#define GDALGetOverviewCount p_GDALGetOverviewCount
#define GDALGetOverview p_GDALGetOverview
#define GDALGetRasterBandXSize p_GDALGetRasterBandXSize
#define GDALGetRasterBandYSize p_GDALGetRasterBandYSize
#define GDALGetDescription p_GDALGetDescription
#define GDALGetRasterColorInterpretation p_GDALGetRasterColorInterpretation
#define GDALGetBlockSize p_GDALGetBlockSize
#define GDALGetMetadataItem p_GDALGetMetadataItem
#define GDALGetRasterNoDataValue p_GDALGetRasterNoDataValue

static pthread_once_t gdal_once_init = PTHREAD_ONCE_INIT;
static void gdal_init(void) {
    GDALAllRegister();
    if (!getenv("GDAL_CACHEMAX")) GDALSetCacheMax64((GIntBig)16 << 20);
}

int xt__gdal_available(void) {
    const char *why;
    return gdal_loaded(&why);
}

typedef struct gsrc {
    GDALDatasetH ds;
    GDALRasterBandH *band; // (bands) of the open level
    GDALDataType gdt;
    int bands, sb;
    const char *path;
} gsrc;

// GDAL's message of the failed call (its errors are thread-local and silenced while we call).
static int gdal_fail(const char *path, const char *what) {
    const char *m = CPLGetLastErrorMsg();
    return xt_error("raster", "%s: GDAL: %s%s%s", path, what, m && *m ? ": " : "", m && *m ? m : "");
}

static int gread(void *h, int x, int y, int w, int hh, int stride, uint8_t *buf) {
    gsrc *g = h;
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    int rc = 0;
    for (int b = 0; b < g->bands && !rc; b++) // each band into its place in the interleaved block
        if (GDALRasterIO(g->band[b], GF_Read, x, y, w, hh, buf + (size_t)b * g->sb, w, hh, g->gdt, g->bands * g->sb,
                         (GSpacing)stride * g->bands * g->sb) != CE_None)
            rc = gdal_fail(g->path, "read failed");
    CPLPopErrorHandler();
    return rc;
}

static void gclose(void *h) {
    gsrc *g = h;
    if (!g) return;
    if (g->ds) GDALClose(g->ds);
    free(g->band);
    free(g);
}

static int sample_of(GDALDataType t, xt_sample *s) {
    switch (t) {
    case GDT_Byte: *s = XT_S_U8; return 0;
    case GDT_UInt16: *s = XT_S_U16; return 0;
    case GDT_Int16: *s = XT_S_I16; return 0;
    case GDT_UInt32: *s = XT_S_U32; return 0;
    case GDT_Int32: *s = XT_S_I32; return 0;
    case GDT_Float32: case GDT_Float64: *s = XT_S_F32; return 0; // Float64 read as float: what the model takes
    default: return -1;                                           // complex, 64-bit integers
    }
}

// A block of at least 256 x 64 pixels made of whole natural blocks (1-row strips or 16-pixel
// tiles would make thousands of tiny cache entries), at most 1024 on a side (JPEG 2000 may
// declare the whole image as one block).
static int grow(int nat, int full, int lo) {
    if (nat <= 0 || nat > 1024) nat = 1024 < full ? 1024 : full;
    if (nat < lo && nat < full) nat *= (lo + nat - 1) / nat;
    return nat < full ? nat : full;
}

static void georef(GDALDatasetH ds, xt_georef *geo) {
    double gt[6];
    OGRSpatialReferenceH srs = GDALGetSpatialRef(ds);
    int has_gt = GDALGetGeoTransform(ds, gt) == CE_None && // GDAL's default (0, 1, 0, 0, 0, 1): none
                 !(gt[0] == 0 && gt[1] == 1 && gt[2] == 0 && gt[3] == 0 && gt[4] == 0 && gt[5] == 1);
    if (!has_gt && GDALGetGCPCount(ds) > 0) srs = GDALGetGCPSpatialRef(ds);
    int epsg = 0, geographic = 0;
    char *wkt = NULL;
    if (srs) {
        if (OSRExportToWkt(srs, &wkt) != OGRERR_NONE) wkt = NULL;
        OGRSpatialReferenceH c = OSRClone(srs);
        OSRAutoIdentifyEPSG(c);
        const char *an = OSRGetAuthorityName(c, NULL), *ac = OSRGetAuthorityCode(c, NULL);
        if (an && ac && !strcmp(an, "EPSG")) epsg = atoi(ac);
        geographic = OSRIsGeographic(c);
        OSRDestroySpatialReference(c);
    }
    // the GeoTIFF keys outputs carry: those of the EPSG code (a CRS without one is described only)
    if (epsg > 0 && epsg <= 65535) xt_georef_simple(geo, epsg, 0, 0, 1);
    if (wkt) geo->wkt = strdup(wkt);
    CPLFree(wkt);
    geo->model_type = epsg ? (geographic ? 2 : 1) : 0;
    if (has_gt) {
        memcpy(geo->gt, gt, sizeof gt);
        geo->has_transform = 1;
    } else geo->has_transform = 0;
    int n = GDALGetGCPCount(ds);
    if (!geo->has_transform && n > 0) {
        const GDAL_GCP *p = GDALGetGCPs(ds);
        geo->gcps = xt_xmalloc(sizeof *geo->gcps * 6 * n);
        for (int i = 0; i < n; i++) {
            double v[6] = {p[i].dfGCPPixel, p[i].dfGCPLine, 0, p[i].dfGCPX, p[i].dfGCPY, p[i].dfGCPZ};
            memcpy(geo->gcps + 6 * i, v, sizeof v);
        }
        geo->n_gcps = n;
    }
}

int xt__gdal_open(const char *path, const xt_raster_open_opts *o, xt_raster_info *in, xt__ext *e) {
    const char *why;
    if (!gdal_loaded(&why)) {
        xt_error("raster", "%s: GDAL backend: %s", path, why);
        return -2;
    }
    pthread_once(&gdal_once_init, gdal_init);
    CPLPushErrorHandler(CPLQuietErrorHandler);
    CPLErrorReset();
    int rc = -1;
    gsrc *g = xt_xcalloc(1, sizeof *g);
    g->path = path;
    if (!GDALIdentifyDriverEx(path, GDAL_OF_RASTER, NULL, NULL)) {
        xt_error("raster", "%s: no GDAL driver recognises it", path);
        rc = -2;
        goto out;
    }
    g->ds = GDALOpenEx(path, GDAL_OF_RASTER | GDAL_OF_READONLY, NULL, NULL, NULL);
    if (!g->ds) {
        gdal_fail(path, "cannot open");
        goto out;
    }
    GDALDriverH drv = GDALGetDatasetDriver(g->ds);
    snprintf(e->format, sizeof e->format, "%s", drv ? GDALGetDriverShortName(drv) : "GDAL");
    g->bands = GDALGetRasterCount(g->ds);
    if (g->bands < 1) { // a container (HDF5, netCDF): name its subdatasets
        char **sub = GDALGetMetadata(g->ds, "SUBDATASETS");
        const char *first = sub ? CSLFetchNameValue(sub, "SUBDATASET_1_NAME") : NULL;
        if (first) xt_error("raster", "%s: %s container without bands of its own; open one of its %d subdatasets, e.g. '%s' (gdalinfo lists them)",
                            path, e->format, CSLCount(sub) / 2, first);
        else xt_error("raster", "%s: %s file without raster bands", path, e->format);
        goto out;
    }
    GDALRasterBandH b0 = GDALGetRasterBand(g->ds, 1);
    g->gdt = GDALGetRasterDataType(b0);
    for (int b = 2; b <= g->bands; b++) // mixed types: read all as float
        if (GDALGetRasterDataType(GDALGetRasterBand(g->ds, b)) != g->gdt) g->gdt = GDT_Float32;
    if (sample_of(g->gdt, &in->sample) < 0) {
        xt_error("raster", "%s: %s samples are not supported (complex or 64-bit integer)", path, GDALGetDataTypeName(g->gdt));
        goto out;
    }
    if (g->gdt == GDT_Float64) g->gdt = GDT_Float32;
    g->sb = xt_sample_bytes(in->sample);
    in->bits = 8 * g->sb;
    // levels: the dataset, then band 1's overviews
    int W0 = GDALGetRasterXSize(g->ds);
    int nov = GDALGetOverviewCount(b0);
    in->n_levels = 1 + (nov < XT_MAX_LEVELS - 1 ? nov : XT_MAX_LEVELS - 1);
    for (int l = 0; l < in->n_levels; l++) {
        GDALRasterBandH ob = l ? GDALGetOverview(b0, l - 1) : b0;
        in->level_w[l] = ob ? GDALGetRasterBandXSize(ob) : 0;
        in->level_h[l] = ob ? GDALGetRasterBandYSize(ob) : 0;
        in->level_downsample[l] = in->level_w[l] ? (double)W0 / in->level_w[l] : 0;
    }
    int level = xt__raster_pick_level(path, in, o);
    if (level < 0) goto out;
    in->level = level;
    g->band = xt_xcalloc(g->bands, sizeof *g->band);
    for (int b = 0; b < g->bands; b++) {
        GDALRasterBandH hb = GDALGetRasterBand(g->ds, b + 1);
        g->band[b] = level ? GDALGetOverview(hb, level - 1) : hb;
        if (!g->band[b] || GDALGetRasterBandXSize(g->band[b]) != in->level_w[level] ||
            GDALGetRasterBandYSize(g->band[b]) != in->level_h[level]) {
            xt_error("raster", "%s: band %d has no overview %d of band 1's size", path, b + 1, level);
            goto out;
        }
        const char *d = GDALGetDescription(hb);
        if (d && *d) {
            if (!in->band_desc) in->band_desc = xt_xcalloc(g->bands, sizeof *in->band_desc);
            in->band_desc[b] = strdup(d);
        }
        if (GDALGetRasterColorInterpretation(hb) == GCI_AlphaBand) in->has_alpha = 1;
    }
    in->width = in->level_w[level];
    in->height = in->level_h[level];
    in->bands = g->bands;
    int bw, bh;
    GDALGetBlockSize(g->band[0], &bw, &bh);
    in->block_w = grow(bw, in->width, 256);
    in->block_h = grow(bh, in->height, 64);
    in->tiled = 1;
    const char *comp = GDALGetMetadataItem(g->ds, "COMPRESSION", "IMAGE_STRUCTURE");
    in->compression = comp ? comp : "-";
    GDALColorInterp ci = GDALGetRasterColorInterpretation(b0);
    in->photometric = ci == GCI_RedBand && g->bands >= 3 ? (in->has_alpha ? "RGBA" : "RGB")
                      : ci == GCI_PaletteIndex        ? "palette (indices)"
                      : ci == GCI_GrayIndex           ? "gray"
                                                      : "bands";
    int has_nd = 0;
    double nd = GDALGetRasterNoDataValue(b0, &has_nd);
    in->has_nodata = has_nd;
    in->nodata = nd;
    georef(g->ds, &in->geo);
    if (level) xt_georef_scale(&in->geo, in->level_downsample[level]); // pixel size, GCP positions
    e->h = g;
    e->read = gread;
    e->close = gclose;
    g = NULL;
    rc = 0;
out:
    CPLPopErrorHandler();
    gclose(g);
    return rc;
}

#endif
