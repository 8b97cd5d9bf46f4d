// fuzz_raster.c — libFuzzer target for the raster reader (src/io/raster.c: TIFF / BigTIFF /
// GeoTIFF through libtiff + libgeotiff, PNG through libpng, JPEG through libjpeg), not part of
// `make test`.
//
// Bytes -> a memory file -> xt_raster_open; on success a few windows are read the way the
// streaming reader does (inside, across the edges, fully outside, a band subset, backwards so
// PNG/JPEG restart their decoders), with a tiny cache so blocks get evicted and re-decoded, and
// the georeferencing is described. The native backend only: GDAL and OpenSlide are not our
// parsers (docs/inputs.md); the last reduced-resolution level of a TIFF is opened too.
// Build and run: make fuzz && tests/fuzz/run.sh raster 300 (see docs/robustness.md)
#include <string.h>

#include "formats/safetensors.h"
#include "fuzz_memfd.h"
#include "formats/raster.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    xt_raster_open_opts o;
    xt_raster_open_opts_default(&o);
    o.backend = XT_BACKEND_NATIVE;
    xt_raster *r = xt_raster_open_with(path, &o);
    if (r && xt_raster_get_info(r)->n_levels > 1) { // the last level instead
        o.level = xt_raster_get_info(r)->n_levels - 1;
        xt_raster_close(r);
        r = xt_raster_open_with(path, &o);
    }
    if (r) {
        const xt_raster_info *in = xt_raster_get_info(r);
        char desc[256];
        xt_georef_describe(&in->geo, desc, sizeof desc);
        xt_raster_set_cache(r, 1 << 16);
        int W = in->width, H = in->height, C = in->bands;
        struct xt_rect rects[] = {
            {0, 0, 8, 8}, {W - 5, H - 3, 9, 7}, {-4, -4, 6, 6}, {W / 2, H / 2, 17, 3}, {W + 10, 0, 4, 4}, {0, 0, 3, 2},
        };
        int bands[2] = {C - 1, 0};
        float *dst = malloc(sizeof(float) * (size_t)C * 17 * 9);
        for (size_t i = 0; i < sizeof rects / sizeof *rects; i++) {
            if (i == 3) (void)xt_raster_read_rect(r, rects[i], bands, 2, 0.f, dst);
            else if (xt_raster_read_rect(r, rects[i], NULL, C, -1.f, dst)) break;
            if (i == 1) xt_raster_drop_above(r, H / 2);
        }
        if (C <= XT_NORM_MAX_BANDS) {
            xt_norm nm = {.n = C, .scale = xt_sample_unit_scale(in->sample), .has_nodata = 1, .nodata = 0};
            for (int c = 0; c < C; c++) nm.mean[c] = 0.5, nm.std[c] = 0.25;
            (void)xt_raster_read_norm(r, rects[0], NULL, &nm, dst);
        }
        free(dst);
        long dec;
        size_t high;
        xt_raster_stats(r, &dec, &high);
        xt_raster_close(r);
    }
    close(fd);
    xt_error_clear();
    return 0;
}
