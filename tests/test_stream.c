// test_stream.c — the streaming acceptance test: `xt classify --json --mean 0,0,0 --std 1,1,1`
// on a float32 TIFF holding a golden xT file's input.image (written by `xt make-image
// --from-tensor`, through the TIFF writer and read back by the windowed reader) prints that
// file's expected.logits within 1e-4 (|d| <= 1e-4 * max(1, max|ref|), the verify rule).
// Also: the same through a striped, planar, deflate-compressed TIFF with a tiny tile cache and
// batch 1, and `xt embed` against the golden per-region features (expected.encoder.3).
#include <unistd.h>

#include <tiffio.h>

#include "check.h"
#include "formats/safetensors.h"
#include "formats/raster.h"

static const char *xt_bin(void) {
    const char *x = getenv("XT");
    return x ? x : "./xt";
}
static const char *scratch(const char *name) {
    static char buf[4][512];
    static int k;
    const char *d = getenv("BUILD");
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/tests/stream_%s", d ? d : "build", name);
    return buf[k];
}

static int run(const char *cmd) {
    int rc = system(cmd);
    if (rc != 0) fprintf(stderr, "command failed (%d): %s\n", rc, cmd);
    return rc;
}

// Runs classify --json and parses the "logits" array into out (at most max); returns count.
static int classify(const char *model, const char *img, const char *extra, float *out, int max) {
    char cmd[2048];
    snprintf(cmd, sizeof cmd, "%s classify --json --quiet --mean 0,0,0 --std 1,1,1 %s -m %s %s 2>&1", xt_bin(), extra, model, img);
    FILE *p = popen(cmd, "r");
    if (!p) return -1;
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text - 1, p);
    text[n] = 0;
    int st = pclose(p);
    if (st != 0) {
        fprintf(stderr, "failed (%d): %s\n%s", st, cmd, text);
        return -1;
    }
    const char *s = strstr(text, "\"logits\": [");
    if (!s) return -1;
    s += strlen("\"logits\": [");
    int k = 0;
    while (k < max && *s && *s != ']') {
        char *e;
        out[k++] = strtof(s, &e);
        if (e == s) return -1;
        s = e;
        while (*s == ',' || *s == ' ') s++;
    }
    return k;
}

static void check_file(const char *name, int image, const char *mk_extra, const char *variant_extra) {
    char model[512], img[512], cmd[2048], label[256];
    snprintf(model, sizeof model, "%s", golden(name));
    if (access(model, R_OK) != 0) return; // golden() counted the failure
    snprintf(img, sizeof img, "%s", scratch(name));
    snprintf(img + strlen(img), sizeof img - strlen(img), ".%d%s.tif", image, *mk_extra ? ".x" : "");
    snprintf(cmd, sizeof cmd, "%s make-image %s --from-tensor %s:input.image:%d %s", xt_bin(), img, model, image, mk_extra);
    CHECK(run(cmd) == 0);
    xt_st *st = xt_st_open(model);
    CHECK(st != NULL);
    if (!st) return;
    const xt_st_tensor *t;
    const float *ref = xt_st_f32(st, "expected.logits", &t);
    CHECK(ref != NULL);
    if (!ref) {
        xt_st_close(st);
        return;
    }
    int K = (int)t->shape[t->ndim - 1];
    float got[1024];
    int n = classify(model, img, variant_extra, got, 1024);
    snprintf(label, sizeof label, "%s image %d %s %s", name, image, mk_extra, variant_extra);
    CHECK(n == K);
    if (n == K) {
        CHECK_CLOSE(got, ref + (size_t)image * K, K, 0, 1e-4, label);
        double md = 0;
        for (int i = 0; i < K; i++) md = fmax(md, fabs(got[i] - ref[(size_t)image * K + i]));
        printf("%-40s max|d| %.2e\n", label, md);
    }
    xt_st_close(st);
}

// embed: the output's token grid equals the golden stitched last stage (expected.stitched.3).
static void check_embed(void) {
    const char *model = golden("xt_cls_naive.safetensors");
    if (access(model, R_OK) != 0) return;
    char cmd[2048];
    const char *img = scratch("naive_geo.tif"), *out = scratch("naive_embed.tif");
    // the golden image, georeferenced (EPSG:32633, 10 m pixels), so the output must carry it
    snprintf(cmd, sizeof cmd, "%s make-image %s --from-tensor %s:input.image:0 --geo 32633,600000,5000000,10", xt_bin(), img, model);
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s embed --quiet --mean 0,0,0 --std 1,1,1 -m %s %s -o %s", xt_bin(), model, img, out);
    CHECK(run(cmd) == 0);
    xt_st *st = xt_st_open(model);
    xt_raster *r = xt_raster_open(out);
    CHECK(st && r);
    if (!st || !r) goto done;
    const xt_st_tensor *t;
    const float *ref = xt_st_f32(st, "expected.stitched.3", &t); // (1, 64, 16, 16)
    const xt_raster_info *in = xt_raster_get_info(r);
    CHECK(ref && in->width == 16 && in->height == 16 && in->bands == 64 && in->sample == XT_S_F32 && in->tiled);
    if (!ref || in->bands != 64) goto done;
    float *got = malloc(sizeof *got * 64 * 16 * 16);
    CHECK(xt_raster_read_rect(r, xt_rect_make(0, 0, 16, 16), NULL, 64, 0, got) == 0);
    CHECK_CLOSE(got, ref, 64 * 16 * 16, 0, 1e-4, "embed vs expected.stitched.3");
    free(got);
    const xt_georef *g = &in->geo;
    CHECK(g->has_transform && g->epsg == 32633 && g->gt[0] == 600000 && g->gt[3] == 5000000 && g->gt[1] == 320 &&
          g->gt[5] == -320);
done:
    xt_raster_close(r);
    xt_st_close(st);
}

// Runs cmd (stderr captured) and expects a non-zero exit and `msg` in the output.
static void expect_fail(const char *label, const char *cmd, const char *msg) {
    char full[2048];
    snprintf(full, sizeof full, "%s 2>&1", cmd);
    FILE *p = popen(full, "r");
    char text[4096];
    size_t n = p ? fread(text, 1, sizeof text - 1, p) : 0;
    text[n] = 0;
    int st = p ? pclose(p) : 0;
    int ok = st != 0 && strstr(text, msg) != NULL && strstr(text, "xt") != NULL;
    if (!ok) fprintf(stderr, "%s: status %d, output '%s' (want '%s')\n", label, st, text, msg);
    CHECK(ok);
}

static void write_bytes(const char *p, const void *b, size_t n) {
    FILE *f = fopen(p, "wb");
    fwrite(b, 1, n, f);
    fclose(f);
}

static void check_bad_input(void) {
    const char *model = golden("xt_cls_naive.safetensors");
    if (access(model, R_OK) != 0) return;
    char cmd[2048], base[1024];
    snprintf(base, sizeof base, "%s classify --quiet -m %s", xt_bin(), model);
    // not an image
    write_bytes(scratch("text.tif"), "just some text, no image\n", 25);
    snprintf(cmd, sizeof cmd, "%s %s", base, scratch("text.tif"));
    expect_fail("not an image", cmd, "not an image");
    // truncated TIFF: the golden image, deflate-compressed, cut in half
    char full[512];
    snprintf(full, sizeof full, "%s", scratch("full.tif"));
    snprintf(cmd, sizeof cmd, "%s make-image %s --from-tensor %s:input.image:0 --compress deflate --tile 64", xt_bin(), full, model);
    CHECK(run(cmd) == 0);
    FILE *f = fopen(full, "rb");
    static char buf[8 << 20];
    size_t n = f ? fread(buf, 1, sizeof buf, f) : 0;
    if (f) fclose(f);
    write_bytes(scratch("trunc.tif"), buf, n / 2);
    snprintf(cmd, sizeof cmd, "%s %s", base, scratch("trunc.tif"));
    expect_fail("truncated TIFF", cmd, "trunc.tif"); // libtiff writes the directory last: it is what goes
    // unsupported sample format (64-bit float), written with libtiff
    TIFF *t = TIFFOpen(scratch("f64.tif"), "w");
    TIFFSetField(t, TIFFTAG_IMAGEWIDTH, 512);
    TIFFSetField(t, TIFFTAG_IMAGELENGTH, 512);
    TIFFSetField(t, TIFFTAG_SAMPLESPERPIXEL, 3);
    TIFFSetField(t, TIFFTAG_BITSPERSAMPLE, 64);
    TIFFSetField(t, TIFFTAG_SAMPLEFORMAT, SAMPLEFORMAT_IEEEFP);
    TIFFSetField(t, TIFFTAG_PHOTOMETRIC, PHOTOMETRIC_RGB);
    TIFFSetField(t, TIFFTAG_PLANARCONFIG, PLANARCONFIG_CONTIG);
    TIFFSetField(t, TIFFTAG_ROWSPERSTRIP, 1);
    static double row[512 * 3];
    for (int y = 0; y < 512; y++) TIFFWriteScanline(t, row, y, 0);
    TIFFClose(t);
    snprintf(cmd, sizeof cmd, "%s %s", base, scratch("f64.tif"));
    expect_fail("64-bit float", cmd, "unsupported sample format");
    // zero size: a hand-made TIFF whose ImageWidth is 0
    unsigned char z[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 3, 0, 0, 1, 4, 0, 1, 0, 0, 0, 0, 0, 0, 0,
                         1, 1, 4, 0, 1, 0, 0, 0, 8, 0, 0, 0, 2, 1, 3, 0, 1, 0, 0, 0, 8, 0, 0, 0, 0, 0, 0, 0};
    write_bytes(scratch("zero.tif"), z, sizeof z);
    snprintf(cmd, sizeof cmd, "%s %s", base, scratch("zero.tif"));
    expect_fail("zero size", cmd, "zero.tif");
    // smaller than one region (the model's regions are 256 x 256)
    snprintf(cmd, sizeof cmd, "%s make-image %s --size 200x300", xt_bin(), scratch("small.tif"));
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s %s", base, scratch("small.tif"));
    expect_fail("smaller than a region", cmd, "smaller than one region");
    // band count different from the model's
    snprintf(cmd, sizeof cmd, "%s make-image %s --size 300x300 --bands 4", xt_bin(), scratch("four.tif"));
    CHECK(run(cmd) == 0);
    snprintf(cmd, sizeof cmd, "%s %s", base, scratch("four.tif"));
    expect_fail("4 bands for a 3-band model", cmd, "has 4 bands, the model expects 3");
    snprintf(cmd, sizeof cmd, "%s --bands 1,2 %s", base, scratch("four.tif"));
    expect_fail("--bands selecting 2", cmd, "selects 2 bands");
    snprintf(cmd, sizeof cmd, "%s --bands 1,2,7 %s", base, scratch("four.tif"));
    expect_fail("--bands out of range", cmd, "no band 7");
    // ... and selecting 3 of the 4 bands works
    snprintf(cmd, sizeof cmd, "%s --bands 4,2,1 %s > /dev/null", base, scratch("four.tif"));
    CHECK(run(cmd) == 0);
    // a model file that is an image, wrong --mean length, missing output directory
    snprintf(cmd, sizeof cmd, "%s classify -m %s %s", xt_bin(), scratch("four.tif"), scratch("four.tif"));
    expect_fail("image as model", cmd, "four.tif");
    snprintf(cmd, sizeof cmd, "%s --mean 1,2 %s", base, full);
    expect_fail("--mean length", cmd, "--mean has 2 values");
    snprintf(cmd, sizeof cmd, "%s embed -m %s %s -o /nonexistent/dir/x.tif", xt_bin(), model, full);
    expect_fail("unwritable output", cmd, "/nonexistent/dir/x.tif");
    snprintf(cmd, sizeof cmd, "%s classify %s", xt_bin(), full);
    expect_fail("no model", cmd, "no model");
}

int main(void) {
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", scratch(""));
    *strrchr(cmd, '/') = 0;
    CHECK(system(cmd) == 0);
    check_file("xt_cls_naive.safetensors", 0, "", "");
    check_file("xt_cls_naive.safetensors", 0, "--striped --planar --compress deflate", "--batch 1 --cache 0");
    check_file("xt_cls_xl.safetensors", 0, "", "");
    check_file("xt_cls_xl.safetensors", 1, "", "--batch 3");
    check_file("xt_cls_xl.safetensors", 1, "--tile 48 --compress lzw", "--mem 0.001"); // tokens spilled to a file
    check_file("xt_cls_hyper.safetensors", 0, "", "");
    check_file("xt_cls_xl_incontext.safetensors", 0, "", "");
    check_file("xt_cls_mamba.safetensors", 0, "", "");
    check_file("xt_cls_hyper_long.safetensors", 0, "", "");
    check_embed();
    check_bad_input();
    return check_summary("stream");
}
