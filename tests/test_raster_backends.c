// test_raster_backends.c — the GDAL and OpenSlide backends (docs/inputs.md) read windows exactly
// as the generator made them: TIFFs from xt_synth_write (u8 / i16 / u16 / f32, tiled, striped,
// planar) seen through a hand-written VRT (GDAL) and a generic-TIFF slide (OpenSlide), windows
// inside, across the edges, outside, band subsets, with a tiny cache; the VRT's NoData; auto
// choice of backend; levels out of range; files no backend reads. Skipped (with the reason) for a
// backend not built in.
#include "check.h"
#include "core/core.h"
#include "formats/raster.h"

static char *scratch(const char *name) {
    static char buf[8][512];
    static int k;
    const char *d = getenv("BUILD");
    k = (k + 1) & 7;
    snprintf(buf[k], sizeof buf[k], "%s/tests/backends_%s", d ? d : "build", name);
    return buf[k];
}

// max |read - generator| over rect (outside the image: the pad value)
static double compare_rect(xt_raster *r, struct xt_rect rc, const int *bands, int nb, uint64_t seed, xt_sample gen) {
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
                double want = inside ? xt_synth_value(seed, bands ? bands[c] : c, x, y, gen) : -7.0;
                if (gen == XT_S_F32) want = (float)want;
                double d = fabs(*XT_RECT_AT(buf, rc, c, x, y) - want);
                if (d > md) md = d;
            }
    free(buf);
    return md;
}

static double compare_all(xt_raster *r, int W, int H, int C, uint64_t seed, xt_sample gen) {
    xt_raster_set_cache(r, 64 << 10); // tiny: evictions and re-reads
    struct xt_rect rects[] = {{0, 0, W, H}, {-5, -9, 40, 33}, {W - 20, H - 30, 50, 70}, {37, 61, 130, 77}, {3, 2, 1, 1},
                              {W + 5, 0, 8, 8}, {100, 90, 64, 200}};
    double md = 0;
    for (size_t i = 0; i < sizeof rects / sizeof *rects; i++) {
        double d = compare_rect(r, rects[i], NULL, C, seed, gen);
        if (d > md) md = d;
    }
    int sel[2] = {C - 1, 0};
    double d = compare_rect(r, xt_rect_make(11, 5, 90, 45), sel, 2, seed, gen);
    return d > md ? d : md;
}

static const char *gdal_type(xt_sample s) {
    switch (s) {
    case XT_S_U8: return "Byte";
    case XT_S_U16: return "UInt16";
    case XT_S_I16: return "Int16";
    default: return "Float32";
    }
}

// A VRT of every band of tif (in the same folder), optionally with NoData.
static void write_vrt(const char *vrt, const char *tif_name, const xt_synth_opts *o, const char *nodata) {
    FILE *f = fopen(vrt, "w");
    fprintf(f, "<VRTDataset rasterXSize=\"%d\" rasterYSize=\"%d\">\n", o->width, o->height);
    for (int b = 1; b <= o->bands; b++) {
        fprintf(f, "  <VRTRasterBand dataType=\"%s\" band=\"%d\">\n", gdal_type(o->sample), b);
        if (nodata) fprintf(f, "    <NoDataValue>%s</NoDataValue>\n", nodata);
        fprintf(f, "    <Description>band %d of %s</Description>\n", b, tif_name);
        fprintf(f, "    <SimpleSource><SourceFilename relativeToVRT=\"1\">%s</SourceFilename><SourceBand>%d</SourceBand></SimpleSource>\n",
                tif_name, b);
        fprintf(f, "  </VRTRasterBand>\n");
    }
    fprintf(f, "</VRTDataset>\n");
    fclose(f);
}

static void test_gdal(void) {
    if (!xt_backend_available(XT_BACKEND_GDAL)) {
        printf("skip: GDAL backend not built in or not loadable\n");
        return;
    }
    struct { const char *name; xt_synth_opts o; } cases[] = {
        {"u8_tiled", {.width = 300, .height = 200, .bands = 3, .sample = XT_S_U8, .seed = 1, .tile = 64}},
        {"i16_striped_planar", {.width = 257, .height = 131, .bands = 2, .sample = XT_S_I16, .seed = 2, .planar = 1}},
        {"u16_deflate", {.width = 190, .height = 170, .bands = 4, .sample = XT_S_U16, .seed = 3, .tile = 32, .compression = "deflate"}},
        {"f32_tiled", {.width = 211, .height = 97, .bands = 1, .sample = XT_S_F32, .seed = 4, .tile = 16}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        xt_synth_opts o = cases[i].o;
        char tname[128], vname[128];
        snprintf(tname, sizeof tname, "%s.tif", cases[i].name);
        snprintf(vname, sizeof vname, "%s.vrt", cases[i].name);
        const char *tif = scratch(tname), *vrt = scratch(vname);
        CHECK(xt_synth_write(tif, &o) == 0);
        write_vrt(vrt, strrchr(tif, '/') + 1, &o, i == 0 ? "7" : NULL);
        xt_raster *r = xt_raster_open(vrt); // auto: not native, so GDAL
        CHECK(r != NULL);
        if (!r) {
            fprintf(stderr, "%s\n", xt_error_buffer());
            continue;
        }
        const xt_raster_info *in = xt_raster_get_info(r);
        CHECK(!strcmp(in->backend, "gdal") && !strcmp(in->format, "VRT"));
        CHECK(in->width == o.width && in->height == o.height && in->bands == o.bands && in->sample == o.sample);
        CHECK(in->n_levels == 1 && in->level == 0);
        CHECK(in->band_desc && in->band_desc[o.bands - 1] && strstr(in->band_desc[o.bands - 1], "band "));
        if (i == 0) CHECK(in->has_nodata && in->nodata == 7);
        else CHECK(!in->has_nodata);
        double md = compare_all(r, o.width, o.height, o.bands, o.seed, o.sample);
        printf("gdal %-20s max|diff| %g (exact expected)\n", cases[i].name, md);
        CHECK(md == 0);
        xt_raster_close(r);
        // a level the VRT does not have
        xt_raster_open_opts ro;
        xt_raster_open_opts_default(&ro);
        ro.level = 1;
        CHECK(xt_raster_open_with(vrt, &ro) == NULL && strstr(xt_error_buffer(), "--level 1: the file has 1 level"));
    }
}

static void test_openslide(void) {
    if (!xt_backend_available(XT_BACKEND_OPENSLIDE)) {
        printf("skip: OpenSlide backend not built in or not loadable\n");
        return;
    }
    // a tiled 8-bit RGB TIFF is a one-level "generic-tiff" slide; lossless, so exact
    xt_synth_opts o = {.width = 333, .height = 222, .bands = 3, .sample = XT_S_U8, .seed = 9, .tile = 64, .compression = "deflate"};
    const char *tif = scratch("slide.tif");
    CHECK(xt_synth_write(tif, &o) == 0);
    xt_raster_open_opts ro;
    xt_raster_open_opts_default(&ro);
    ro.backend = XT_BACKEND_OPENSLIDE;
    xt_raster *r = xt_raster_open_with(tif, &ro);
    CHECK(r != NULL);
    if (r) {
        const xt_raster_info *in = xt_raster_get_info(r);
        CHECK(!strcmp(in->backend, "openslide") && strstr(in->format, "generic-tiff"));
        CHECK(in->width == o.width && in->height == o.height && in->bands == 3 && in->sample == XT_S_U8 && in->n_levels == 1);
        double md = compare_all(r, o.width, o.height, 3, o.seed, XT_S_U8);
        printf("openslide generic-tiff max|diff| %g (exact expected)\n", md);
        CHECK(md == 0);
        xt_raster_close(r);
    }
    ro.level = 2;
    CHECK(xt_raster_open_with(tif, &ro) == NULL && strstr(xt_error_buffer(), "--level 2: the file has 1 level (0: 333 x 222)"));
    // auto keeps a plain TIFF native
    xt_raster *n = xt_raster_open(tif);
    CHECK(n && !strcmp(xt_raster_get_info(n)->backend, "native"));
    xt_raster_close(n);
    // a PNG is no slide
    xt_synth_opts p = {.width = 20, .height = 20, .bands = 3, .sample = XT_S_U8, .seed = 1};
    const char *png = scratch("p.png");
    CHECK(xt_synth_write(png, &p) == 0);
    ro.level = -1;
    CHECK(xt_raster_open_with(png, &ro) == NULL && strstr(xt_error_buffer(), "not a slide OpenSlide reads"));
}

static void test_unreadable(void) {
    const char *junk = scratch("junk.bin");
    FILE *f = fopen(junk, "w");
    fputs("plain text, not a raster of any kind\n", f);
    fclose(f);
    CHECK(xt_raster_open(junk) == NULL);
    CHECK(strstr(xt_error_buffer(), "not an image xt reads (native: TIFF, BigTIFF, PNG, JPEG; GDAL: "));
    xt_raster_open_opts ro;
    xt_raster_open_opts_default(&ro);
    ro.backend = XT_BACKEND_NATIVE;
    CHECK(xt_raster_open_with(junk, &ro) == NULL && strstr(xt_error_buffer(), "not a TIFF, BigTIFF, PNG or JPEG"));
    xt_backend b;
    CHECK(xt_backend_parse("gdal", &b) == 0 && b == XT_BACKEND_GDAL);
    CHECK(xt_backend_parse("vips", &b) < 0 && strstr(xt_error_buffer(), "unknown backend 'vips'"));
}

int main(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", scratch(""));
    *strrchr(cmd, '/') = 0;
    CHECK(system(cmd) == 0);
    test_gdal();
    test_openslide();
    test_unreadable();
    return check_summary("raster_backends");
}
