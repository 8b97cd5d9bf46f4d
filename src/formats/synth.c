// synth.c — procedural test rasters of any size in bounded memory (one tile or one row).
//
// Content: per band, a product of two sinusoids (structure at ~100-1000 px), smooth value noise on
// a 97 px grid and a little per-pixel hash noise — deterministic in (seed, band, x, y), so a test
// can check any pixel a reader returns against xt_synth_value without storing the image.
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include <jpeglib.h>
#include <png.h>

#include "core/core.h"
#include "formats/raster.h"

static uint64_t mix(uint64_t z) { // splitmix64 finaliser
    z += 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
static double hash01(uint64_t seed, int band, int64_t x, int64_t y) {
    uint64_t h = mix(seed ^ mix((uint64_t)band * 0x100000001b3ull ^ mix((uint64_t)x ^ ((uint64_t)y << 32))));
    return (double)(h >> 11) * (1.0 / 9007199254740992.0);
}
static double wave_x(uint64_t seed, int band, int x) {
    double f = 0.004 + 0.02 * hash01(seed, band, -1, 1), ph = 6.28 * hash01(seed, band, -1, 2);
    return sin(x * f + ph);
}
static double wave_y(uint64_t seed, int band, int y) {
    double f = 0.003 + 0.02 * hash01(seed, band, -1, 3), ph = 6.28 * hash01(seed, band, -1, 4);
    return cos(y * f + ph);
}
static double smooth(double t) { return t * t * (3 - 2 * t); }
static double value_noise(uint64_t seed, int band, int x, int y) {
    const int G = 97;
    int gx = x / G, gy = y / G;
    double tx = smooth((double)(x - gx * G) / G), ty = smooth((double)(y - gy * G) / G);
    double a = hash01(seed, band, gx, gy), b = hash01(seed, band, gx + 1, gy);
    double c = hash01(seed, band, gx, gy + 1), d = hash01(seed, band, gx + 1, gy + 1);
    return (a + (b - a) * tx) + ((c + (d - c) * tx) - (a + (b - a) * tx)) * ty;
}
static double unit_value(uint64_t seed, int band, int x, int y, double wx, double wy) {
    double u = 0.5 + 0.22 * wx * wy + 0.4 * (value_noise(seed, band, x, y) - 0.5) + 0.12 * (hash01(seed, band, x, y) - 0.5);
    return u < 0 ? 0 : u > 1 ? 1 : u;
}
static double to_type(double u, xt_sample s) {
    switch (s) {
    case XT_S_U8: return round(u * 255);
    case XT_S_I8: return round(u * 254 - 127);
    case XT_S_U16: return round(u * 65535);
    case XT_S_I16: return round(u * 65534 - 32767);
    case XT_S_U32: return round(u * 4294967295.0);
    case XT_S_I32: return round(u * 4294967294.0 - 2147483647.0);
    default: return (float)(2 * u - 1);
    }
}

double xt_synth_value(uint64_t seed, int band, int x, int y, xt_sample s) {
    return to_type(unit_value(seed, band, x, y, wave_x(seed, band, x), wave_y(seed, band, y)), s);
}

static void store(uint8_t *dst, size_t i, double v, xt_sample s) {
    switch (s) {
    case XT_S_U8: dst[i] = (uint8_t)v; break;
    case XT_S_I8: ((int8_t *)dst)[i] = (int8_t)v; break;
    case XT_S_U16: ((uint16_t *)dst)[i] = (uint16_t)v; break;
    case XT_S_I16: ((int16_t *)dst)[i] = (int16_t)v; break;
    case XT_S_U32: ((uint32_t *)dst)[i] = (uint32_t)v; break;
    case XT_S_I32: ((int32_t *)dst)[i] = (int32_t)v; break;
    default: ((float *)dst)[i] = (float)v; break;
    }
}

// A Sentinel-1-like scene in dB (band 0 VV, band 1 VH): sea clutter around the xView3 means
// (VV -15.83, VH -24.66 dB) with texture, bright point targets ("vessels", +22 / +16 dB Gaussian
// blobs of sigma 1.5 px) in about a third of the 96 px cells, and a NoData (-32768) strip in the
// first 8 columns, as scene borders have.
double xt_synth_sar_value(uint64_t seed, int band, int x, int y) {
    if (x < 8) return -32768.0;
    double v = (band ? -24.66 : -15.83) + 4.0 * (value_noise(seed, band, x, y) - 0.5) + 3.0 * (hash01(seed, band, x, y) - 0.5);
    const int G = 96;
    for (int cy = y / G - 1; cy <= y / G + 1; cy++)
        for (int cx = x / G - 1; cx <= x / G + 1; cx++) {
            if (cx < 0 || cy < 0 || hash01(seed, 7, cx, cy) > 0.35) continue;
            double px = cx * G + 8 + (G - 16) * hash01(seed, 8, cx, cy), py = cy * G + 8 + (G - 16) * hash01(seed, 9, cx, cy);
            double r2 = (x - px) * (x - px) + (y - py) * (y - py);
            v += (band ? 16.0 : 22.0) * exp(-r2 / (2 * 1.5 * 1.5));
        }
    return v;
}

// Fills dst (bands, h, w) with the image window at (x0, y0); pixels outside W×H are zero.
static void fill(uint8_t *dst, const xt_synth_opts *o, int x0, int y0, int w, int h, double *wx) {
    for (int c = 0; c < o->bands; c++) {
        for (int x = 0; x < w; x++) wx[x] = wave_x(o->seed, c, x0 + x);
        for (int y = 0; y < h; y++) {
            int yy = y0 + y;
            double wy = wave_y(o->seed, c, yy);
            size_t base = ((size_t)c * h + y) * w;
            for (int x = 0; x < w; x++) {
                int xx = x0 + x;
                double v = !(xx < o->width && yy < o->height) ? 0
                           : o->sar ? xt_synth_sar_value(o->seed, c, xx, yy)
                                    : to_type(unit_value(o->seed, c, xx, yy, wx[x], wy), o->sample);
                store(dst, base + x, v, o->sample);
            }
        }
    }
}

static int write_tiff(const char *path, const xt_synth_opts *o) {
    xt_tiff_opts t = {.width = o->width, .height = o->height, .bands = o->bands, .sample = o->sample,
                      .tile_w = o->tile, .tile_h = o->tile ? o->tile : 16, .planar = o->planar,
                      .compression = o->compression, .bigtiff = o->bigtiff, .geo = o->geo,
                      .has_nodata = o->has_nodata, .nodata = o->nodata};
    xt_tiff_writer *w = xt_tiff_writer_open(path, &t);
    if (!w) return -1;
    int bw = o->tile ? o->tile : o->width, bh = t.tile_h;
    uint8_t *buf = xt_malloc_checked((size_t)o->bands * bw * bh * xt_sample_bytes(o->sample), "synth block");
    double *wx = xt_malloc_checked(sizeof *wx * bw, "synth row");
    int rc = buf && wx ? 0 : -1;
    for (int ty = 0; rc == 0 && ty * bh < o->height; ty++) {
        if (o->tile)
            for (int tx = 0; rc == 0 && tx * bw < o->width; tx++) {
                fill(buf, o, tx * bw, ty * bh, bw, bh, wx);
                rc = xt_tiff_writer_tile(w, tx, ty, buf);
            }
        else {
            int h = o->height - ty * bh < bh ? o->height - ty * bh : bh;
            fill(buf, o, 0, ty * bh, bw, h, wx);
            rc = xt_tiff_writer_rows(w, buf, h);
        }
    }
    free(buf);
    free(wx);
    if (rc < 0) {
        xt_tiff_writer_abort(w);
        return -1;
    }
    return xt_tiff_writer_close(w);
}

// Interleaves band-sequential (bands, 1, w) into one pixel-interleaved row.
static void interleave(uint8_t *row, const uint8_t *src, int w, int bands, int sb) {
    for (int c = 0; c < bands; c++)
        for (int x = 0; x < w; x++) memcpy(row + ((size_t)x * bands + c) * sb, src + ((size_t)c * w + x) * sb, sb);
}

static void png_err(png_structp p, png_const_charp msg) {
    xt_error("png", "%s", msg);
    png_longjmp(p, 1);
}

static int write_png(const char *path, const xt_synth_opts *o) {
    if ((o->sample != XT_S_U8 && o->sample != XT_S_U16) || o->bands > 4)
        return xt_error("synth", "%s: PNG holds 1-4 bands of u8 or u16", path);
    FILE *f = fopen(path, "wb");
    if (!f) return xt_error("synth", "%s: cannot create", path);
    int sb = xt_sample_bytes(o->sample);
    uint8_t *src = xt_xmalloc((size_t)o->bands * o->width * sb), *row = xt_xmalloc((size_t)o->bands * o->width * sb);
    double *wx = xt_xmalloc(sizeof *wx * o->width);
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_err, NULL);
    png_infop info = png_create_info_struct(p);
    volatile int rc = -1;
    if (!setjmp(png_jmpbuf(p))) {
        png_init_io(p, f);
        static const int ct[] = {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB, PNG_COLOR_TYPE_RGB_ALPHA};
        png_set_IHDR(p, info, o->width, o->height, 8 * sb, ct[o->bands - 1], PNG_INTERLACE_NONE,
                     PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
        png_write_info(p, info);
        if (sb == 2) png_set_swap(p);
        for (int y = 0; y < o->height; y++) {
            fill(src, o, 0, y, o->width, 1, wx);
            interleave(row, src, o->width, o->bands, sb);
            png_write_row(p, row);
        }
        png_write_end(p, info);
        rc = 0;
    }
    png_destroy_write_struct(&p, &info);
    free(src);
    free(row);
    free(wx);
    if (fclose(f) != 0 && rc == 0) rc = xt_error("synth", "%s: write failed", path);
    return rc;
}

int xt_png_write_rgb8(const char *path, int w, int h, const uint8_t *rgb) {
    FILE *f = xt_part_fopen(path, "png");
    if (!f) return -1;
    png_structp p = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, png_err, NULL);
    png_infop info = png_create_info_struct(p);
    volatile int rc = -1;
    if (!setjmp(png_jmpbuf(p))) {
        png_init_io(p, f);
        png_set_IHDR(p, info, w, h, 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT,
                     PNG_FILTER_TYPE_DEFAULT);
        png_write_info(p, info);
        for (int y = 0; y < h; y++) png_write_row(p, (png_bytep)(rgb + (size_t)y * w * 3));
        png_write_end(p, info);
        rc = 0;
    }
    png_destroy_write_struct(&p, &info);
    return xt_part_fclose(f, path, rc == 0, "png");
}

typedef struct { struct jpeg_error_mgr pub; jmp_buf jb; } jerr;
static void jerr_exit(j_common_ptr c) {
    char msg[JMSG_LENGTH_MAX];
    c->err->format_message(c, msg);
    xt_error("jpeg", "%s", msg);
    longjmp(((jerr *)c->err)->jb, 1);
}

static int write_jpeg(const char *path, const xt_synth_opts *o) {
    if (o->sample != XT_S_U8 || (o->bands != 1 && o->bands != 3))
        return xt_error("synth", "%s: JPEG holds 1 or 3 bands of u8", path);
    FILE *f = fopen(path, "wb");
    if (!f) return xt_error("synth", "%s: cannot create", path);
    uint8_t *src = xt_xmalloc((size_t)o->bands * o->width), *row = xt_xmalloc((size_t)o->bands * o->width);
    double *wx = xt_xmalloc(sizeof *wx * o->width);
    struct jpeg_compress_struct cj;
    jerr je;
    cj.err = jpeg_std_error(&je.pub);
    je.pub.error_exit = jerr_exit;
    volatile int rc = -1;
    if (!setjmp(je.jb)) {
        jpeg_create_compress(&cj);
        jpeg_stdio_dest(&cj, f);
        cj.image_width = o->width;
        cj.image_height = o->height;
        cj.input_components = o->bands;
        cj.in_color_space = o->bands == 3 ? JCS_RGB : JCS_GRAYSCALE;
        jpeg_set_defaults(&cj);
        jpeg_set_quality(&cj, 95, TRUE);
        jpeg_start_compress(&cj, TRUE);
        for (int y = 0; y < o->height; y++) {
            fill(src, o, 0, y, o->width, 1, wx);
            interleave(row, src, o->width, o->bands, 1);
            JSAMPROW rp = row;
            jpeg_write_scanlines(&cj, &rp, 1);
        }
        jpeg_finish_compress(&cj);
        rc = 0;
    }
    jpeg_destroy_compress(&cj);
    free(src);
    free(row);
    free(wx);
    if (fclose(f) != 0 && rc == 0) rc = xt_error("synth", "%s: write failed", path);
    return rc;
}

static int has_suffix(const char *s, const char *suf) {
    size_t n = strlen(s), k = strlen(suf);
    return n >= k && !strcasecmp(s + n - k, suf);
}

int xt_synth_write(const char *path, const xt_synth_opts *o) {
    if (o->width <= 0 || o->height <= 0 || o->bands <= 0 || o->bands > 1024)
        return xt_error("synth", "bad size %dx%d with %d bands", o->width, o->height, o->bands);
    if (o->tile && (o->tile % 16 || o->tile > 8192)) return xt_error("synth", "tile %d must be a multiple of 16 (<= 8192)", o->tile);
    if (has_suffix(path, ".png")) return write_png(path, o);
    if (has_suffix(path, ".jpg") || has_suffix(path, ".jpeg")) return write_jpeg(path, o);
    return write_tiff(path, o);
}
