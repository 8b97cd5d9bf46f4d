// raster_slide.c — OpenSlide as a raster backend for whole-slide images (Aperio SVS, Hamamatsu
// NDPI, MIRAX MRXS, Philips, Ventana, pyramidal "generic" TIFF ...). A level is chosen at open
// (--level, or --mpp: the nearest level); its rectangles come from openslide_read_region as
// premultiplied ARGB and are composited on white into 8-bit RGB (transparent slide background
// reads as white, as OpenSlide's own viewers and tilers show it). OpenSlide keeps its own small
// tile cache per handle; raster.c's block cache sits on top, so memory stays bounded by the region.
// Built when pkg-config finds openslide (Makefile: XT_OPENSLIDE).
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "formats/raster_ext.h"

#ifndef XT_OPENSLIDE

const char *xt__slide_vendor(const char *path) { return NULL; }
int xt__slide_available(void) { return 0; }
int xt__slide_open(const char *path, const xt_raster_open_opts *o, xt_raster_info *in, xt__ext *e) {
    xt_error("raster", "%s: OpenSlide backend not built in (install libopenslide-dev and rebuild)", path);
    return -2;
}

#else

#include <openslide.h>

#include <pthread.h>

// Loaded on first use (dlopen): linking libopenslide would add its start-up time to every xt run,
// also those that never read such a file.
#define SLIDE_FUNCS(X) \
    X(openslide_detect_vendor) X(openslide_open) X(openslide_get_error) X(openslide_close) \
    X(openslide_get_level_count) X(openslide_get_level_dimensions) \
    X(openslide_get_level_downsample) X(openslide_get_property_value) X(openslide_read_region)
#define X_DECL(f) static __typeof__(&f) p_##f;
SLIDE_FUNCS(X_DECL)
#undef X_DECL
static pthread_once_t slide_once = PTHREAD_ONCE_INIT;
static char slide_load_err[256]; // empty when loaded
static void slide_load(void) {
#define X_NAME(f) #f,
#define X_ADDR(f) (void **)&p_##f,
    static const char *const names[] = {SLIDE_FUNCS(X_NAME)};
    void **const fns[] = {SLIDE_FUNCS(X_ADDR)};
#undef X_NAME
#undef X_ADDR
    xt_dl_load(XT_OPENSLIDE_SONAME, names, fns, (int)(sizeof names / sizeof *names), slide_load_err, sizeof slide_load_err);
}
// 1 when the library is loaded (loads it once), else 0 and *why.
static int slide_loaded(const char **why) {
    pthread_once(&slide_once, slide_load);
    *why = slide_load_err;
    return !slide_load_err[0];
}
// from here on the API's names call through the loaded pointers
#define openslide_detect_vendor p_openslide_detect_vendor
#define openslide_open p_openslide_open
#define openslide_get_error p_openslide_get_error
#define openslide_close p_openslide_close
#define openslide_get_level_count p_openslide_get_level_count
#define openslide_get_level_dimensions p_openslide_get_level_dimensions
#define openslide_get_level_downsample p_openslide_get_level_downsample
#define openslide_get_property_value p_openslide_get_property_value
#define openslide_read_region p_openslide_read_region

typedef struct ssrc {
    openslide_t *osr;
    int level;
    double ds;       // downsample of the level: level coordinates * ds = level-0 coordinates
    uint32_t *argb;  // one block of premultiplied ARGB
    size_t cap;
    const char *path;
} ssrc;

const char *xt__slide_vendor(const char *path) {
    const char *why;
    return slide_loaded(&why) ? openslide_detect_vendor(path) : NULL;
}
int xt__slide_available(void) {
    const char *why;
    return slide_loaded(&why);
}

static int sread(void *h, int x, int y, int w, int hh, int stride, uint8_t *buf) {
    ssrc *s = h;
    size_t n = (size_t)w * hh;
    if (n > s->cap) {
        free(s->argb);
        s->argb = xt_xmalloc(n * sizeof *s->argb);
        s->cap = n;
    }
    openslide_read_region(s->osr, s->argb, (int64_t)llround(x * s->ds), (int64_t)llround(y * s->ds), s->level, w, hh);
    const char *err = openslide_get_error(s->osr);
    if (err) return xt_error("raster", "%s: OpenSlide: %s", s->path, err);
    for (int r = 0; r < hh; r++) {
        const uint32_t *p = s->argb + (size_t)r * w;
        uint8_t *o = buf + (size_t)r * stride * 3;
        for (int i = 0; i < w; i++) { // premultiplied colour over white: c + (255 - alpha)
            uint32_t v = p[i], a = v >> 24;
            o[3 * i] = (uint8_t)(((v >> 16) & 255) + 255 - a);
            o[3 * i + 1] = (uint8_t)(((v >> 8) & 255) + 255 - a);
            o[3 * i + 2] = (uint8_t)((v & 255) + 255 - a);
        }
    }
    return 0;
}

static void sclose(void *h) {
    ssrc *s = h;
    if (!s) return;
    if (s->osr) openslide_close(s->osr);
    free(s->argb);
    free(s);
}

static double prop_num(openslide_t *osr, const char *name) {
    const char *v = openslide_get_property_value(osr, name);
    char *end;
    double d = v ? strtod(v, &end) : 0;
    return v && end != v && isfinite(d) && d > 0 ? d : 0;
}

int xt__slide_open(const char *path, const xt_raster_open_opts *o, xt_raster_info *in, xt__ext *e) {
    const char *why;
    if (!slide_loaded(&why)) {
        xt_error("raster", "%s: OpenSlide backend: %s", path, why);
        return -2;
    }
    const char *vendor = openslide_detect_vendor(path);
    if (!vendor) {
        xt_error("raster", "%s: not a slide OpenSlide reads", path);
        return -2;
    }
    ssrc *s = xt_xcalloc(1, sizeof *s);
    s->path = path;
    s->osr = openslide_open(path);
    const char *err = s->osr ? openslide_get_error(s->osr) : "not recognised";
    if (err) {
        xt_error("raster", "%s: OpenSlide (%s): %s", path, vendor, err);
        sclose(s);
        return -1;
    }
    snprintf(e->format, sizeof e->format, "slide (%s)", vendor);
    int32_t nl = openslide_get_level_count(s->osr);
    in->n_levels = nl < XT_MAX_LEVELS ? nl : XT_MAX_LEVELS;
    for (int l = 0; l < in->n_levels; l++) {
        int64_t w, h;
        openslide_get_level_dimensions(s->osr, l, &w, &h);
        if (w < 1 || h < 1 || w > (1 << 30) || h > (1 << 30)) {
            xt_error("raster", "%s: OpenSlide: level %d has a bad size %lld x %lld", path, l, (long long)w, (long long)h);
            sclose(s);
            return -1;
        }
        in->level_w[l] = (int)w;
        in->level_h[l] = (int)h;
        in->level_downsample[l] = openslide_get_level_downsample(s->osr, l);
    }
    in->mpp_x = prop_num(s->osr, OPENSLIDE_PROPERTY_NAME_MPP_X);
    in->mpp_y = prop_num(s->osr, OPENSLIDE_PROPERTY_NAME_MPP_Y);
    int level = xt__raster_pick_level(path, in, o);
    if (level < 0) {
        sclose(s);
        return -1;
    }
    s->level = in->level = level;
    s->ds = in->level_downsample[level];
    in->width = in->level_w[level];
    in->height = in->level_h[level];
    in->bands = 3;
    in->sample = XT_S_U8;
    in->bits = 8;
    in->has_alpha = 1; // OpenSlide's output is ARGB; composited here
    in->photometric = "RGB (ARGB composited on white)";
    in->compression = "-";
    in->tiled = 1;
    // the level's own tiles when the slide says, else 512 (OpenSlide reads any rectangle)
    char key[64];
    snprintf(key, sizeof key, "openslide.level[%d].tile-width", level);
    double tw = prop_num(s->osr, key);
    snprintf(key, sizeof key, "openslide.level[%d].tile-height", level);
    double th = prop_num(s->osr, key);
    in->block_w = tw >= 64 && tw <= 2048 ? (int)tw : 512;
    in->block_h = th >= 64 && th <= 2048 ? (int)th : 512;
    if (in->block_w > in->width) in->block_w = in->width;
    if (in->block_h > in->height) in->block_h = in->height;
    e->h = s;
    e->read = sread;
    e->close = sclose;
    return 0;
}

#endif
