// test_raster.c — windowed raster reads (TIFF tiled/striped/planar/BigTIFF/compressed, PNG,
// JPEG) against the procedural generator pixel by pixel; the LRU cache bound; normalisation;
// the GeoTIFF writer's georeferencing (read back with libgeotiff); bad files.
#include <unistd.h>

#include <geotiff/geotiff.h>
#include <geotiff/geokeys.h>
#include <geotiff/geovalues.h>
#include <geotiff/xtiffio.h>

#include "check.h"
#include "formats/safetensors.h"
#include "formats/raster.h"

static char *scratch(const char *name) {
    static char buf[8][512];
    static int k;
    const char *d = getenv("BUILD");
    k = (k + 1) & 7;
    snprintf(buf[k], sizeof buf[k], "%s/tests/raster_%s", d ? d : "build", name);
    return buf[k];
}

// Reads rect from path's reader and compares every pixel of the selected bands with the
// generator (outside the image: pad). Returns max |diff|.
static double compare_rect(xt_raster *r, struct xt_rect rc, const int *bands, int nb, uint64_t seed) {
    const xt_raster_info *in = xt_raster_get_info(r);
    float *buf = malloc(sizeof *buf * nb * rc.w * rc.h);
    if (xt_raster_read_rect(r, rc, bands, nb, -7.0f, buf) < 0) {
        fprintf(stderr, "read_rect: %s\n", xt_error_buffer());
        free(buf);
        return 1e30;
    }
    double md = 0;
    for (int c = 0; c < nb; c++)
        for (int y = rc.y; y < rc.y + rc.h; y++)
            for (int x = rc.x; x < rc.x + rc.w; x++) {
                int inside = x >= 0 && y >= 0 && x < in->width && y < in->height;
                double want = inside ? xt_synth_value(seed, bands ? bands[c] : c, x, y, in->sample) : -7.0;
                if (in->sample == XT_S_F32) want = (float)want;
                double d = fabs(*XT_RECT_AT(buf, rc, c, x, y) - want);
                if (d > md) md = d;
            }
    free(buf);
    return md;
}

static void check_format(const char *label, const char *file, xt_synth_opts o, double tol) {
    const char *p = scratch(file);
    int rc = xt_synth_write(p, &o);
    if (rc < 0) fprintf(stderr, "%s: %s\n", label, xt_error_buffer());
    CHECK(rc == 0);
    xt_raster *r = xt_raster_open(p);
    if (!r) fprintf(stderr, "%s: %s\n", label, xt_error_buffer());
    CHECK(r != NULL);
    if (!r) return;
    const xt_raster_info *in = xt_raster_get_info(r);
    CHECK(in->width == o.width && in->height == o.height && in->bands == o.bands && in->sample == o.sample);
    if (o.bigtiff) CHECK(!strcmp(in->format, "BigTIFF"));
    xt_raster_set_cache(r, 64 << 10); // tiny: forces evictions and re-decodes
    struct xt_rect rects[] = {{0, 0, o.width, o.height}, {-5, -9, 40, 33}, {o.width - 20, o.height - 30, 50, 70},
                              {37, 61, 130, 77}, {3, 2, 1, 1}, {o.width + 5, 0, 8, 8}, {100, 90, 64, 200}};
    double md = 0;
    for (size_t i = 0; i < sizeof rects / sizeof *rects; i++) {
        double d = compare_rect(r, rects[i], NULL, o.bands, o.seed);
        if (d > md) md = d;
    }
    // band selection, reversed order, after reading further down (sequential sources restart)
    int sel[2] = {o.bands - 1, 0};
    double d = compare_rect(r, xt_rect_make(11, 5, 90, 45), sel, 2, o.seed);
    if (d > md) md = d;
    char lab[128];
    snprintf(lab, sizeof lab, "%s max|diff| %.3g <= %.3g", label, md, tol);
    CHECK(md <= tol);
    printf("%s\n", lab);
    size_t high;
    long decoded;
    xt_raster_stats(r, &decoded, &high);
    CHECK(decoded > 0);
    xt_raster_close(r);
}

static void test_formats(void) {
    xt_synth_opts base = {.width = 301, .height = 257, .bands = 3, .sample = XT_S_U8, .seed = 7, .tile = 64};
    xt_synth_opts o = base;
    check_format("tiled u8", "t_u8.tif", o, 0);
    o = base, o.sample = XT_S_U16, o.planar = 1, o.compression = "deflate", o.tile = 32;
    check_format("tiled u16 planar deflate", "t_u16p.tif", o, 0);
    o = base, o.sample = XT_S_I16, o.tile = 0, o.compression = "lzw", o.bands = 4;
    check_format("striped i16 lzw 4 bands", "s_i16.tif", o, 0);
    o = base, o.sample = XT_S_F32, o.bands = 2, o.compression = "zstd";
    check_format("tiled f32 zstd", "t_f32.tif", o, 0);
    o = base, o.sample = XT_S_I8, o.tile = 0, o.planar = 1, o.bands = 1;
    check_format("striped i8 planar", "s_i8.tif", o, 0);
    o = base, o.bigtiff = 1, o.compression = "packbits";
    check_format("BigTIFF u8 packbits", "big.tif", o, 0);
    o = base, o.bands = 4;
    check_format("PNG u8 RGBA", "p8.png", o, 0);
    o = base, o.sample = XT_S_U16, o.bands = 1;
    check_format("PNG u16 gray", "p16.png", o, 0);
    o = base; // JPEG is lossy: q95 on this smooth+noise content stays within a few levels
    check_format("JPEG u8 RGB", "j.jpg", o, 40);
}

// Bounded memory: streaming over a large-ish image with a small cache never holds more than
// the budget plus one call's blocks.
static void test_cache_bound(void) {
    xt_synth_opts o = {.width = 2048, .height = 1024, .bands = 3, .sample = XT_S_U8, .seed = 3, .tile = 128};
    const char *p = scratch("bound.tif");
    CHECK(xt_synth_write(p, &o) == 0);
    xt_raster *r = xt_raster_open(p);
    CHECK(r != NULL);
    if (!r) return;
    xt_raster_set_cache(r, 256 << 10);
    float *buf = malloc(sizeof *buf * 3 * 256 * 256);
    int ok = 1;
    for (int y = 0; y < o.height; y += 256)
        for (int x = 0; x < o.width; x += 200) ok &= xt_raster_read_rect(r, xt_rect_make(x, y, 256, 256), NULL, 3, 0, buf) == 0;
    CHECK(ok);
    size_t high;
    long decoded;
    xt_raster_stats(r, &decoded, &high);
    size_t tile = 128 * 128 * 3;
    printf("cache: %ld tiles decoded (image has %d), high-water %zu bytes (budget %d + one call)\n", decoded,
           16 * 8, high, 256 << 10);
    CHECK(high <= (256u << 10) + 9 * tile);
    CHECK(decoded >= 16 * 8);
    xt_raster_close(r);
    free(buf);
}

static void test_norm(void) {
    xt_synth_opts o = {.width = 50, .height = 40, .bands = 3, .sample = XT_S_U8, .seed = 5, .tile = 16};
    const char *p = scratch("norm.tif");
    CHECK(xt_synth_write(p, &o) == 0);
    xt_raster *r = xt_raster_open(p);
    CHECK(r != NULL);
    if (!r) return;
    xt_norm nm = {.n = 2, .scale = 1.0 / 255, .mean = {0.5, 0.25}, .std = {0.5, 2.0}, .has_nodata = 1};
    nm.nodata = xt_synth_value(5, 2, 42, 33, XT_S_U8); // band 3's value at (42, 33)
    int bands[2] = {2, 0};
    struct xt_rect rc = {40, 30, 16, 16};
    float out[2 * 16 * 16];
    CHECK(xt_raster_read_norm(r, rc, bands, &nm, out) == 0);
    int bad = 0, zeros = 0;
    for (int y = rc.y; y < rc.y + rc.h; y++)
        for (int x = rc.x; x < rc.x + rc.w; x++) {
            int inside = x < 50 && y < 40;
            double v0 = inside ? xt_synth_value(5, 2, x, y, XT_S_U8) : 0, v1 = inside ? xt_synth_value(5, 0, x, y, XT_S_U8) : 0;
            int nd = inside && v0 == nm.nodata;
            double w0 = !inside || nd ? 0 : (v0 / 255 - 0.5) / 0.5, w1 = !inside || nd ? 0 : (v1 / 255 - 0.25) / 2.0;
            zeros += !inside || nd;
            bad += fabs(*XT_RECT_AT(out, rc, 0, x, y) - w0) > 1e-6 || fabs(*XT_RECT_AT(out, rc, 1, x, y) - w1) > 1e-6;
        }
    CHECK(bad == 0);
    CHECK(zeros >= 16 * 16 - 10 * 10); // the padding, plus any nodata pixels
    xt_raster_close(r);
}

// A georeferenced input; the scaled georeferencing survives the writer and libgeotiff reads it.
static void test_georef(void) {
    xt_georef g;
    CHECK(xt_georef_simple(&g, 32633, 500000, 4500000, 10) == 0);
    xt_synth_opts o = {.width = 128, .height = 96, .bands = 1, .sample = XT_S_U16, .seed = 1, .tile = 32, .geo = &g};
    const char *p = scratch("geo.tif"), *q = scratch("geo_out.tif");
    CHECK(xt_synth_write(p, &o) == 0);
    xt_raster *r = xt_raster_open(p);
    CHECK(r != NULL);
    if (!r) return;
    const xt_georef *rg = &xt_raster_get_info(r)->geo;
    CHECK(rg->has_transform && rg->epsg == 32633 && rg->model_type == 1 && !rg->pixel_is_point);
    CHECK(rg->gt[0] == 500000 && rg->gt[3] == 4500000 && rg->gt[1] == 10 && rg->gt[5] == -10 && rg->gt[2] == 0);
    // output of a stride-32 model: pixel 320 m, same corner, same CRS
    xt_georef og;
    xt_georef_copy(&og, rg);
    xt_georef_scale(&og, 32);
    xt_tiff_opts to = {.width = 4, .height = 3, .bands = 5, .sample = XT_S_F32, .tile_w = 16, .tile_h = 16, .geo = &og};
    xt_tiff_writer *w = xt_tiff_writer_open(q, &to);
    CHECK(w != NULL);
    float rows[5 * 3 * 4];
    for (int i = 0; i < 5 * 3 * 4; i++) rows[i] = (float)i;
    CHECK(xt_tiff_writer_rows(w, rows, 2) == 0);
    CHECK(xt_tiff_writer_rows(w, rows + 5 * 2 * 4, 1) == 0); // band-sequential per call
    CHECK(xt_tiff_writer_close(w) == 0);
    xt_georef_free(&og);
    xt_raster_close(r);
    xt_georef_free(&g);
    // read back with libtiff + libgeotiff directly
    TIFF *t = XTIFFOpen(q, "r");
    CHECK(t != NULL);
    if (!t) return;
    uint16_t n = 0;
    double *tp = NULL, *sc = NULL;
    CHECK(TIFFGetField(t, TIFFTAG_GEOTIEPOINTS, &n, &tp) && n == 6 && tp[3] == 500000 && tp[4] == 4500000);
    CHECK(TIFFGetField(t, TIFFTAG_GEOPIXELSCALE, &n, &sc) && n == 3 && sc[0] == 320 && sc[1] == 320);
    uint16_t spp = 0, fmt = 0;
    uint32_t tw = 0;
    TIFFGetField(t, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetField(t, TIFFTAG_SAMPLEFORMAT, &fmt);
    CHECK(spp == 5 && fmt == SAMPLEFORMAT_IEEEFP && TIFFIsTiled(t) && TIFFGetField(t, TIFFTAG_TILEWIDTH, &tw) && tw == 16);
    GTIF *gt = GTIFNew(t);
    CHECK(gt != NULL);
    unsigned short pcs = 0, model = 0;
    CHECK(GTIFKeyGetSHORT(gt, ProjectedCSTypeGeoKey, &pcs, 0, 1) == 1 && pcs == 32633);
    CHECK(GTIFKeyGetSHORT(gt, GTModelTypeGeoKey, &model, 0, 1) == 1 && model == ModelTypeProjected);
    GTIFFree(gt);
    XTIFFClose(t);
    // the values: band c of pixel (x, y)
    r = xt_raster_open(q);
    CHECK(r != NULL);
    if (!r) return;
    float back[5 * 3 * 4];
    CHECK(xt_raster_read_rect(r, xt_rect_make(0, 0, 4, 3), NULL, 5, 0, back) == 0);
    int bad = 0;
    for (int c = 0; c < 5; c++)
        for (int y = 0; y < 3; y++)
            for (int x = 0; x < 4; x++) {
                float want = y < 2 ? rows[(c * 2 + y) * 4 + x] : rows[5 * 2 * 4 + c * 4 + x];
                bad += back[(c * 3 + y) * 4 + x] != want;
            }
    CHECK(bad == 0);
    xt_raster_close(r);
}

// PixelIsPoint inputs and rotated transforms survive the writer + reader round trip.
static void test_georef_point_rotated(void) {
    xt_georef g;
    CHECK(xt_georef_simple(&g, 4326, 10.0, 50.0, 0.001) == 0);
    CHECK(g.model_type == 2 && g.epsg == 4326);
    g.keys[4 + 4 * 1 + 3] = 2; // GTRasterTypeGeoKey = RasterPixelIsPoint
    g.pixel_is_point = 1;
    const char *p = scratch("point.tif");
    xt_tiff_opts to = {.width = 16, .height = 16, .bands = 1, .sample = XT_S_U8, .tile_w = 16, .tile_h = 16, .geo = &g};
    xt_tiff_writer *w = xt_tiff_writer_open(p, &to);
    uint8_t px[256] = {0};
    CHECK(w && xt_tiff_writer_rows(w, px, 16) == 0 && xt_tiff_writer_close(w) == 0);
    // on disk the tie point is the centre of pixel (0, 0)
    TIFF *t = XTIFFOpen(p, "r");
    uint16_t n = 0;
    double *tp = NULL;
    CHECK(t && TIFFGetField(t, TIFFTAG_GEOTIEPOINTS, &n, &tp) && fabs(tp[3] - 10.0005) < 1e-12 && fabs(tp[4] - 49.9995) < 1e-12);
    if (t) XTIFFClose(t);
    xt_raster *r = xt_raster_open(p);
    CHECK(r != NULL);
    if (r) {
        const xt_georef *rg = &xt_raster_get_info(r)->geo;
        CHECK(rg->pixel_is_point && rg->epsg == 4326 && fabs(rg->gt[0] - 10.0) < 1e-12 && fabs(rg->gt[3] - 50.0) < 1e-12 &&
              fabs(rg->gt[1] - 0.001) < 1e-15);
        xt_raster_close(r);
    }
    // rotated: a ModelTransformation matrix
    g.keys[4 + 4 * 1 + 3] = 1;
    g.pixel_is_point = 0;
    double gt[6] = {1000, 2, 0.5, 5000, 0.25, -2};
    memcpy(g.gt, gt, sizeof gt);
    p = scratch("rot.tif");
    w = xt_tiff_writer_open(p, &to);
    CHECK(w && xt_tiff_writer_rows(w, px, 16) == 0 && xt_tiff_writer_close(w) == 0);
    r = xt_raster_open(p);
    CHECK(r != NULL);
    if (r) {
        const xt_georef *rg = &xt_raster_get_info(r)->geo;
        int same = 1;
        for (int i = 0; i < 6; i++) same &= rg->gt[i] == gt[i];
        CHECK(same);
        xt_raster_close(r);
    }
    xt_georef_free(&g);
}

static void write_bytes(const char *p, const void *b, size_t n) {
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void truncate_copy(const char *src, const char *dst, double frac) {
    FILE *f = fopen(src, "rb");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc(n);
    CHECK(fread(b, 1, n, f) == (size_t)n);
    fclose(f);
    write_bytes(dst, b, (size_t)(n * frac));
    free(b);
}

// expect: open fails (or, if it opens, reading everything fails) with a message containing `msg`.
static void expect_bad(const char *label, const char *p, const char *msg) {
    xt_error_clear();
    xt_raster *r = xt_raster_open(p);
    int failed = r == NULL;
    if (r) {
        const xt_raster_info *in = xt_raster_get_info(r);
        float *buf = malloc(sizeof *buf * in->bands * in->width * in->height);
        failed = xt_raster_read_rect(r, xt_rect_make(0, 0, in->width, in->height), NULL, in->bands, 0, buf) < 0;
        free(buf);
        xt_raster_close(r);
    }
    int has = strstr(xt_error_buffer(), msg) != NULL;
    if (!failed || !has) fprintf(stderr, "%s: failed=%d, message '%s' (want '%s')\n", label, failed, xt_error_buffer(), msg);
    CHECK(failed && has);
}

static void test_bad(void) {
    const char *p = scratch("bad.txt");
    write_bytes(p, "hello, not an image\n", 20);
    expect_bad("text file", p, "not an image");
    expect_bad("missing file", scratch("does_not_exist.tif"), "cannot open");
    // truncated compressed TIFF: header fine, tiles missing
    xt_synth_opts o = {.width = 256, .height = 256, .bands = 3, .sample = XT_S_U8, .seed = 2, .tile = 64, .compression = "deflate"};
    CHECK(xt_synth_write(scratch("full.tif"), &o) == 0);
    truncate_copy(scratch("full.tif"), scratch("trunc.tif"), 0.5);
    expect_bad("truncated TIFF", scratch("trunc.tif"), "trunc.tif");
    truncate_copy(scratch("full.tif"), scratch("trunc2.tif"), 0.001);
    expect_bad("TIFF cut in the header", scratch("trunc2.tif"), "trunc2.tif");
    o.compression = NULL, o.tile = 0;
    CHECK(xt_synth_write(scratch("full.png"), &o) == 0);
    truncate_copy(scratch("full.png"), scratch("trunc.png"), 0.6);
    expect_bad("truncated PNG", scratch("trunc.png"), "PNG");
    CHECK(xt_synth_write(scratch("full.jpg"), &o) == 0);
    truncate_copy(scratch("full.jpg"), scratch("trunc.jpg"), 0.6);
    expect_bad("truncated JPEG", scratch("trunc.jpg"), "JPEG");
    // unsupported sample formats, written with libtiff directly
    struct { uint16_t bps, fmt; const char *name; } uns[] = {
        {64, SAMPLEFORMAT_IEEEFP, "64-bit float"}, {32, SAMPLEFORMAT_COMPLEXINT, "complex"}, {64, SAMPLEFORMAT_COMPLEXIEEEFP, "complex"},
        {16, SAMPLEFORMAT_IEEEFP, "16-bit float"}, {1, SAMPLEFORMAT_UINT, "1-bit"}};
    for (size_t i = 0; i < sizeof uns / sizeof *uns; i++) {
        const char *q = scratch("unsup.tif");
        TIFF *t = TIFFOpen(q, "w");
        TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 8);
        TIFFSetField(t, TIFFTAG_IMAGELENGTH, 8);
        TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 1);
        TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, uns[i].bps);
        TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, uns[i].fmt);
        TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_MINISBLACK);
        TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 8);
        char zero[8 * 8 * 16] = {0};
        TIFFWriteEncodedStrip(t, 0, zero, 8 * 8 * uns[i].bps / 8);
        TIFFClose(t);
        expect_bad(uns[i].name, q, "unsupported sample format");
    }
    // zero size: a hand-made little-endian TIFF with ImageWidth = 0
    unsigned char z[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 3, 0,
                         0, 1, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0,       // ImageWidth LONG 0
                         1, 1, 4, 0, 1, 0, 0, 0, 8, 0, 0, 0,       // ImageLength LONG 8
                         2, 1, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0,       // BitsPerSample 8
                         0, 0, 0, 0};
    write_bytes(scratch("zero.tif"), z, sizeof z);
    expect_bad("zero size", scratch("zero.tif"), "zero.tif");
    // writer refuses zero size too
    xt_tiff_opts to = {.width = 0, .height = 5, .bands = 1, .sample = XT_S_F32, .tile_w = 16, .tile_h = 16};
    CHECK(xt_tiff_writer_open(scratch("w0.tif"), &to) == NULL);
}

static void test_rect(void) {
    struct xt_rect a = {0, 0, 10, 10}, b = {5, -3, 10, 6};
    struct xt_rect i = xt_rect_intersect(a, b);
    CHECK(i.x == 5 && i.y == 0 && i.w == 5 && i.h == 3);
    CHECK(xt_rect_empty(xt_rect_intersect(a, xt_rect_make(10, 0, 5, 5))));
    struct xt_rect p = xt_rect_pad(a, 2);
    CHECK(p.x == -2 && p.w == 14 && xt_rect_contains(p, a) && !xt_rect_contains(a, p));
}

// Overviews written by the rows writer: each level the 2 x 2 mean of the valid samples of the
// level above (float; NaN / NoData skipped) or its top-left sample (integers), read back through
// the native reader's levels; no scratch file left behind; georeferencing scaled per level.
static void halve_ref(const float *src, int W, int H, int C, int nearest, float nd, float *dst) {
    int W2 = (W + 1) / 2, H2 = (H + 1) / 2;
    for (int c = 0; c < C; c++)
        for (int y = 0; y < H2; y++)
            for (int x = 0; x < W2; x++) {
                const float *p = src + (size_t)c * W * H;
                if (nearest) {
                    dst[((size_t)c * H2 + y) * W2 + x] = p[(size_t)2 * y * W + 2 * x];
                    continue;
                }
                double sum = 0;
                int k = 0;
                for (int dy = 0; dy < 2; dy++)
                    for (int dx = 0; dx < 2; dx++) {
                        int xx = 2 * x + dx, yy = 2 * y + dy;
                        if (xx >= W || yy >= H) continue;
                        float v = p[(size_t)yy * W + xx];
                        if (!isnan(v) && v != nd) sum += v, k++;
                    }
                dst[((size_t)c * H2 + y) * W2 + x] = k ? (float)(sum / k) : nd;
            }
}

static void test_overviews(void) {
    for (int nearest = 0; nearest < 2; nearest++) {
        const int W = 100, H = 70, C = 2;
        const char *p = scratch(nearest ? "ov_u8.tif" : "ov_f32.tif");
        xt_georef g;
        xt_georef_simple(&g, 32633, 500000, 4500000, 10);
        xt_tiff_opts o = {.width = W, .height = H, .bands = C, .sample = nearest ? XT_S_U8 : XT_S_F32, .tile_w = 16, .tile_h = 16,
                          .compression = "deflate", .geo = &g, .has_nodata = 1, .nodata = -1, .overviews = XT_OVERVIEWS_MAX};
        float *img = malloc(sizeof(float) * W * H * C);
        for (int i = 0; i < W * H * C; i++) img[i] = (float)((i * 37) % 251);
        if (!nearest) img[5] = NAN, img[6] = -1, img[W + 5] = -1, img[W + 6] = NAN; // a 2 x 2 cell without valid samples
        xt_tiff_writer *w = xt_tiff_writer_open(p, &o);
        CHECK(w != NULL);
        uint8_t *rows = malloc(sizeof(float) * W * 3 * C);
        for (int y = 0; y < H; y += 3) { // 3 rows at a time: pairs straddle the calls
            int n = H - y < 3 ? H - y : 3;
            for (int c = 0; c < C; c++)
                for (int i = 0; i < n * W; i++) {
                    float v = img[(size_t)c * W * H + (size_t)y * W + i];
                    if (nearest) rows[(size_t)c * n * W + i] = (uint8_t)v;
                    else ((float *)rows)[(size_t)c * n * W + i] = v;
                }
            CHECK(xt_tiff_writer_rows(w, rows, n) == 0);
        }
        CHECK(xt_tiff_writer_close(w) == 0);
        char ov[600];
        snprintf(ov, sizeof ov, "%s.part.ov", p);
        CHECK(access(ov, F_OK) != 0);
        xt_raster *r = xt_raster_open(p);
        CHECK(r && xt_raster_get_info(r)->n_levels == 4); // 100x70 -> 50x35 -> 25x18 -> 13x9 (one 16 px tile)
        xt_raster_close(r);
        float *ref = malloc(sizeof(float) * W * H * C), *next = malloc(sizeof(float) * W * H * C);
        memcpy(ref, img, sizeof(float) * W * H * C);
        int lw = W, lh = H, ok = 1;
        for (int l = 1; l < 4; l++) {
            halve_ref(ref, lw, lh, C, nearest, -1, next);
            lw = (lw + 1) / 2, lh = (lh + 1) / 2;
            memcpy(ref, next, sizeof(float) * lw * lh * C);
            xt_raster_open_opts ro;
            xt_raster_open_opts_default(&ro);
            ro.level = l;
            r = xt_raster_open_with(p, &ro);
            CHECK(r != NULL);
            if (!r) break;
            const xt_raster_info *in = xt_raster_get_info(r);
            CHECK(in->width == lw && in->height == lh && in->has_nodata && in->nodata == -1);
            // pixel size scaled by the level's downsample (width ratio: 100 / 13 at level 3, as GDAL does)
            CHECK(in->geo.epsg == 32633 && fabs(in->geo.gt[1] - 10.0 * W / lw) < 1e-9 && in->geo.gt[0] == 500000);
            float *got = malloc(sizeof(float) * lw * lh * C);
            CHECK(xt_raster_read_rect(r, xt_rect_make(0, 0, lw, lh), NULL, C, 0, got) == 0);
            for (int i = 0; i < lw * lh * C; i++)
                if (!(got[i] == ref[i] || (isnan(got[i]) && isnan(ref[i])))) ok = 0;
            free(got);
            xt_raster_close(r);
        }
        printf("overviews (%s): 3 levels %s\n", nearest ? "u8, nearest" : "f32, mean of valid samples", ok ? "match" : "DIFFER");
        CHECK(ok);
        free(ref), free(next), free(img), free(rows);
        xt_georef_free(&g);
    }
}

int main(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", scratch(""));
    *strrchr(cmd, '/') = 0;
    CHECK(system(cmd) == 0);
    test_rect();
    test_formats();
    test_cache_bound();
    test_norm();
    test_georef();
    test_overviews();
    test_georef_point_rotated();
    test_bad();
    return check_summary("raster");
}
