// raster_ext.h — the GDAL and OpenSlide backends behind xt_raster (raster.c). Each fills the
// info of the level it opened and reads rectangles of it; raster.c's block cache, sample
// conversion and read_rect serve them exactly as TIFF tiles, so the streaming code does not know
// which backend it reads.
#ifndef XT_FORMATS_RASTER_EXT_H
#define XT_FORMATS_RASTER_EXT_H

#include "formats/raster.h"

typedef struct xt__ext {
    void *h;
    char format[64]; // storage for info->format
    // Reads rectangle (x, y, w, h) of the open level into buf, pixel-interleaved: h rows of
    // `stride` pixels, info->bands samples of info->sample each. 0 / -1 + error.
    int (*read)(void *h, int x, int y, int w, int hh, int stride, uint8_t *buf);
    void (*close)(void *h);
} xt__ext;

// 0 opened; -1 error (set); -2 the backend does not recognise the file (or is not built in;
// error set saying which).
int xt__gdal_open(const char *path, const xt_raster_open_opts *o, xt_raster_info *in, xt__ext *e);
int xt__slide_open(const char *path, const xt_raster_open_opts *o, xt_raster_info *in, xt__ext *e);
// 1 when the library is built in and loads (on first use, dlopen).
int xt__gdal_available(void);
int xt__slide_available(void);
// The OpenSlide vendor of a file ("aperio", "generic-tiff", ...) or NULL (not a slide, or no OpenSlide).
const char *xt__slide_vendor(const char *path);
// The level o asks for among in->level_* (in->n_levels set): o->level, or for o->mpp the level
// whose MPP is nearest (said on stderr); -1 + error when out of range / no MPP.
int xt__raster_pick_level(const char *path, const xt_raster_info *in, const xt_raster_open_opts *o);

#endif
