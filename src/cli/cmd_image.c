// cmd_image.c — `xt make-image OUT`: procedural rasters of any size in bounded memory (tests and
// benchmarks), or a float32 TIFF holding one image of a safetensors tensor (--from-tensor), so
// the consistency tests feed golden inputs through the real reader without PyTorch.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/safetensors.h"
#include "formats/raster.h"

static void usage(FILE *f) {
    fprintf(f,
            "usage: xt make-image OUT [options]\n\n"
            "Writes a procedural test raster (TIFF/BigTIFF by default; .png or .jpg by suffix) in bounded\n"
            "memory: one tile (TIFF) or one row (PNG/JPEG) at a time.\n\n"
            "options:\n"
            "  --size WxH          image size in pixels                 [512x512]\n"
            "  --bands N           number of bands                      [3]\n"
            "  --type T            u8, i8, u16, i16, u32, i32, f32      [u8]\n"
            "  --tile N            tile side (multiple of 16)           [256]\n"
            "  --striped           strips of 16 rows instead of tiles\n"
            "  --sar               a Sentinel-1-like scene for `xt detect`: 2 bands (VV, VH), f32 dB,\n"
            "                      sea clutter, bright point targets, a NoData (-32768) border strip\n"
            "                      (recorded as the file's NoData unless --nodata says otherwise)\n"
            "  --planar            one plane per band (PLANARCONFIG_SEPARATE)\n"
            "  --compress C        none, deflate, lzw, zstd, packbits   [none]\n"
            "  --bigtiff           force BigTIFF (automatic above ~3.5 GiB)\n"
            "  --seed N            content seed                         [1]\n"
            "  --geo EPSG,X0,Y0,PX georeference: CRS EPSG code, top-left corner, pixel size\n"
            "  --nodata V          record V (a number or nan) as the file's NoData (GDAL_NODATA tag, TIFF only)\n"
            "  --from-tensor FILE:NAME[:I]\n"
            "                      instead of procedural content, write image I [0] of the (N, C, H, W)\n"
            "                      (or (C, H, W)) tensor NAME of a safetensors file as float32\n");
}

static int from_tensor(const char *out, const char *spec, const xt_tiff_opts *base) {
    char buf[1024];
    snprintf(buf, sizeof buf, "%s", spec);
    char *c1 = strchr(buf, ':');
    if (!c1) return xt_error("make-image", "--from-tensor expects FILE:NAME[:I], got '%s'", spec);
    *c1 = 0;
    char *name = c1 + 1, *c2 = strchr(name, ':');
    int idx = 0;
    if (c2) {
        *c2 = 0;
        if (xt_cli_parse_int(c2 + 1, "--from-tensor index", 0, 1 << 20, &idx) < 0) return -1;
    }
    xt_st *st = xt_st_open(buf);
    if (!st) return -1;
    const xt_st_tensor *t;
    const float *x = xt_st_f32(st, name, &t);
    int rc = -1;
    if (!x) goto done;
    if (t->ndim != 3 && t->ndim != 4) {
        xt_error("make-image", "%s: tensor '%s' has %d dims, expected (N, C, H, W) or (C, H, W)", buf, name, t->ndim);
        goto done;
    }
    int64_t n = t->ndim == 4 ? t->shape[0] : 1;
    const int64_t *s = t->shape + (t->ndim - 3);
    if (idx >= n) {
        xt_error("make-image", "%s: tensor '%s' has %lld images, index %d", buf, name, (long long)n, idx);
        goto done;
    }
    xt_tiff_opts o = *base;
    o.width = (int)s[2];
    o.height = (int)s[1];
    o.bands = (int)s[0];
    o.sample = XT_S_F32;
    if (o.tile_w && (o.tile_w > o.width || o.tile_h > o.height)) o.tile_w = o.tile_h = 16;
    xt_tiff_writer *w = xt_tiff_writer_open(out, &o);
    if (!w) goto done;
    // rows are band-sequential (C, n, W): copy a strip of rows out of (C, H, W)
    const float *img = x + (size_t)idx * s[0] * s[1] * s[2];
    int H = o.height, W = o.width, C = o.bands;
    float *rows = xt_xmalloc(sizeof *rows * C * 16 * W);
    rc = 0;
    for (int y = 0; y < H && rc == 0; y += 16) {
        int k = H - y < 16 ? H - y : 16;
        for (int c = 0; c < C; c++) memcpy(rows + (size_t)c * k * W, img + ((size_t)c * H + y) * W, sizeof *rows * k * W);
        rc = xt_tiff_writer_rows(w, rows, k);
    }
    free(rows);
    if (rc < 0) xt_tiff_writer_abort(w);
    else rc = xt_tiff_writer_close(w);
done:
    xt_st_close(st);
    return rc;
}

int xt_cmd_make_image(int argc, char **argv) {
    const char *out = NULL, *type = "u8", *comp = "none", *tensor = NULL, *geo = NULL;
    double nodata = 0;
    int has_nodata = 0;
    int W = 512, H = 512, bands = 3, tile = 256, striped = 0, sar = 0, planar = 0, bigtiff = 0, seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return 0;
        } else if (!strcmp(a, "--size") && v) {
            if (sscanf(v, "%dx%d", &W, &H) != 2 || W <= 0 || H <= 0 || W > (1 << 30) || H > (1 << 30))
                return xt_cli_usage_error("make-image", "--size expects WxH with positive sides, got '%s'", v);
            i++;
        } else if (!strcmp(a, "--bands") && v) {
            if (xt_cli_parse_int(v, "--bands", 1, 1024, &bands) < 0) return xt_cli_fail();
            i++;
        } else if (!strcmp(a, "--type") && v) type = argv[++i];
        else if (!strcmp(a, "--tile") && v) {
            if (xt_cli_parse_int(v, "--tile", 16, 8192, &tile) < 0) return xt_cli_fail();
            i++;
        } else if (!strcmp(a, "--compress") && v) comp = argv[++i];
        else if (!strcmp(a, "--seed") && v) {
            if (xt_cli_parse_int(v, "--seed", 0, 2147483647, &seed) < 0) return xt_cli_fail();
            i++;
        } else if (!strcmp(a, "--geo") && v) geo = argv[++i];
        else if (!strcmp(a, "--nodata") && v) {
            char *e;
            nodata = strtod(v, &e);
            if (e == v || *e) return xt_cli_usage_error("make-image", "--nodata expects a number or nan, got '%s'", v);
            has_nodata = 1, i++;
        }
        else if (!strcmp(a, "--from-tensor") && v) tensor = argv[++i];
        else if (!strcmp(a, "--striped")) striped = 1;
        else if (!strcmp(a, "--sar")) sar = 1;
        else if (!strcmp(a, "--planar")) planar = 1;
        else if (!strcmp(a, "--bigtiff")) bigtiff = 1;
        else if (a[0] == '-' && a[1]) return xt_cli_usage_error("make-image", "unknown option or missing value: %s", a);
        else if (!out) out = a;
        else return xt_cli_usage_error("make-image", "more than one output file");
    }
    if (!out) return xt_cli_usage_error("make-image", "no output file");
    xt_sample s;
    if (xt_sample_parse(type, &s) < 0) return xt_cli_fail();
    xt_georef g = {0};
    if (geo && xt_cli_parse_geo("make-image", geo, &g)) return 1;
    int rc;
    if (tensor) {
        xt_tiff_opts o = {.tile_w = striped ? 0 : tile, .tile_h = striped ? 16 : tile, .planar = planar,
                          .compression = comp, .bigtiff = bigtiff, .geo = geo ? &g : NULL, .has_nodata = has_nodata,
                          .nodata = nodata};
        rc = from_tensor(out, tensor, &o);
    } else {
        if (sar) bands = 2, s = XT_S_F32;
        if (sar && !has_nodata) has_nodata = 1, nodata = -32768; // the border strip, as Sentinel-1 products mark it
        xt_synth_opts o = {.sar = sar, .width = W, .height = H, .bands = bands, .sample = s, .seed = (uint64_t)seed,
                           .tile = striped ? 0 : tile, .planar = planar, .compression = comp, .bigtiff = bigtiff, .geo = geo ? &g : NULL,
                           .has_nodata = has_nodata, .nodata = nodata};
        rc = xt_synth_write(out, &o);
    }
    xt_georef_free(&g);
    return rc < 0 ? xt_cli_fail() : 0;
}
