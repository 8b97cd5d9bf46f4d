// cmd_info.c — `xt info FILE`: what a model file holds, or for an image (TIFF, BigTIFF, GeoTIFF,
// PNG, JPEG): size, bands, sample type, layout, compression and georeferencing.
#include <string.h>

#include "cli/cli.h"
#include "formats/raster.h"
#include "models/models.h"

static int is_image(const char *path) {
    unsigned char m[8] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    size_t n = fread(m, 1, sizeof m, f);
    fclose(f);
    return n >= 4 && (!memcmp(m, "II*", 4) || !memcmp(m, "II+", 4) || !memcmp(m, "MM\0*", 4) ||
                      !memcmp(m, "MM\0+", 4) || !memcmp(m, "\x89PNG", 4) || !memcmp(m, "\xff\xd8\xff", 3));
}

static int info_image(const char *path) {
    xt_raster *r = xt_raster_open(path);
    if (!r) return xt_cli_fail();
    const xt_raster_info *in = xt_raster_get_info(r);
    char geo[512];
    xt_georef_describe(&in->geo, geo, sizeof geo);
    printf("file:        %s\n", path);
    printf("format:      %s\n", in->format);
    printf("size:        %d x %d\n", in->width, in->height);
    printf("bands:       %d (%s)\n", in->bands, in->photometric);
    printf("sample:      %s (%d-bit)\n", xt_sample_name(in->sample), in->bits);
    if (in->sequential)
        printf("layout:      rows (decoded in order, %d rows at a time)\n", in->block_h);
    else if (in->tiled)
        printf("layout:      tiled %d x %d, %s\n", in->block_w, in->block_h, in->planar ? "planar" : "interleaved");
    else
        printf("layout:      strips of %d rows, %s\n", in->block_h, in->planar ? "planar" : "interleaved");
    printf("compression: %s\n", in->compression);
    printf("georef:      %s\n", geo);
    xt_raster_close(r);
    return 0;
}

int xt_cmd_info(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        printf("usage: xt info FILE\n\nDescribes a model file (safetensors): kind, config, tensors, parameters;\n"
               "or an image (TIFF, BigTIFF, GeoTIFF, PNG, JPEG): size, bands, sample type, tiling,\n"
               "compression, georeferencing.\n");
        return argc < 2 ? 2 : 0;
    }
    if (is_image(argv[1])) return info_image(argv[1]);
    xt_st *st = xt_st_open(argv[1]);
    if (!st) return xt_cli_fail();
    const char *cs = xt_st_meta(st, "config");
    int64_t nparam = 0, nw = 0;
    for (int i = 0; i < st->n; i++)
        if (strncmp(st->t[i].name, "input.", 6) && strncmp(st->t[i].name, "expected.", 9) &&
            strncmp(st->t[i].name, "output.", 7) && strncmp(st->t[i].name, "optim.", 6)) {
            nparam += st->t[i].numel;
            nw++;
        }
    printf("file:       %s\n", argv[1]);
    printf("tensors:    %d (%lld weights, %lld parameters)\n", st->n, (long long)nw, (long long)nparam);
    printf("config:     %s\n", cs ? cs : "(none: not a model file)");
    xt_st_close(st);
    return 0;
}
