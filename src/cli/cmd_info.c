// cmd_info.c — `xt info FILE`: what a model file holds, or for an image (TIFF, BigTIFF, GeoTIFF,
// PNG, JPEG): size, bands, sample type, layout, compression, georeferencing, NoData, band
// descriptions.
#include <math.h>
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

static void json_str(const char *key, const char *v, int last) {
    xt_sbuf sb = {0};
    xt_sbuf_json_str(&sb, v ? v : "");
    printf("\"%s\": %s%s", key, sb.p, last ? "" : ", ");
    xt_sbuf_free(&sb);
}

static int info_image(const char *path, int json) {
    xt_raster *r = xt_raster_open(path);
    if (!r) return xt_cli_fail();
    const xt_raster_info *in = xt_raster_get_info(r);
    char geo[512];
    xt_georef_describe(&in->geo, geo, sizeof geo);
    if (json) { // one line
        printf("{");
        json_str("file", path, 0);
        json_str("kind", "image", 0);
        json_str("format", in->format, 0);
        printf("\"width\": %d, \"height\": %d, \"bands\": %d, ", in->width, in->height, in->bands);
        json_str("photometric", in->photometric, 0);
        json_str("sample", xt_sample_name(in->sample), 0);
        printf("\"bits\": %d, \"tiled\": %s, \"block\": [%d, %d], \"planar\": %s, ", in->bits, in->tiled ? "true" : "false",
               in->block_w, in->block_h, in->planar ? "true" : "false");
        json_str("compression", in->compression, 0);
        if (in->geo.epsg) printf("\"epsg\": %d, ", in->geo.epsg);
        if (in->has_nodata) {
            if (isnan(in->nodata)) printf("\"nodata\": \"nan\", ");
            else printf("\"nodata\": %.17g, ", in->nodata);
        }
        if (in->geo.has_transform)
            printf("\"geotransform\": [%.17g, %.17g, %.17g, %.17g, %.17g, %.17g], ", in->geo.gt[0], in->geo.gt[1], in->geo.gt[2],
                   in->geo.gt[3], in->geo.gt[4], in->geo.gt[5]);
        if (in->geo.n_gcps) {
            printf("\"gcps\": [");
            for (int i = 0; i < in->geo.n_gcps; i++) {
                const double *p = in->geo.gcps + 6 * i;
                printf("%s[%.17g, %.17g, %.17g, %.17g, %.17g]", i ? ", " : "", p[0], p[1], p[3], p[4], p[5]);
            }
            printf("], ");
        }
        // NoData: a number, or the string "nan" (JSON has no NaN); null when the file has none
        if (!in->has_nodata) printf("\"nodata\": null, ");
        else if (isnan(in->nodata)) printf("\"nodata\": \"nan\", ");
        else printf("\"nodata\": %.17g, ", in->nodata);
        printf("\"band_descriptions\": [");
        for (int b = 0; b < in->bands; b++) {
            if (b) printf(", ");
            if (in->band_desc && in->band_desc[b]) {
                xt_sbuf sb = {0};
                xt_sbuf_json_str(&sb, in->band_desc[b]);
                printf("%s", sb.p);
                xt_sbuf_free(&sb);
            } else printf("null");
        }
        printf("], ");
        json_str("georef", geo, 1);
        printf("}\n");
        xt_raster_close(r);
        return 0;
    }
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
    if (in->has_nodata) printf("nodata:      %.17g\n", in->nodata);
    for (int b = 0, shown = 0; in->band_desc && b < in->bands; b++) // the first 16 (--json: all)
        if (in->band_desc[b] && shown++ < 16) printf("band %-6d   %s\n", b + 1, in->band_desc[b]);
        else if (in->band_desc[b] && shown == 17) printf("...          (--json lists every band)\n");
    xt_raster_close(r);
    return 0;
}

int xt_cmd_info(int argc, char **argv) {
    const char *file = NULL;
    int json = 0;
    for (int i = 1; i < argc; i++) { // options may come anywhere; an unknown one is an error, not ignored
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: xt info FILE [--json]\n\nDescribes a model file (safetensors): kind, config, tensors, parameters;\n"
                   "or an image (TIFF, BigTIFF, GeoTIFF, PNG, JPEG): size, bands, sample type, tiling,\n"
                   "compression, georeferencing (GCPs), NoData (\"nodata\": number, \"nan\" or null) and band\n"
                   "descriptions (GDAL metadata).\n\n  --json   one JSON object on one line\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) json = 1;
        else if (argv[i][0] == '-' && argv[i][1]) return xt_cli_usage_error("info", "unknown option %s", argv[i]);
        else if (!file) file = argv[i];
        else return xt_cli_usage_error("info", "more than one file (%s, %s)", file, argv[i]);
    }
    if (!file) return xt_cli_usage_error("info", "no file");
    argv[1] = (char *)file;
    if (is_image(argv[1])) return info_image(argv[1], json);
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
    if (json) {
        printf("{");
        json_str("file", argv[1], 0);
        json_str("kind", "model", 0);
        printf("\"tensors\": %d, \"weights\": %lld, \"parameters\": %lld, \"config\": ", st->n, (long long)nw, (long long)nparam);
        xt_json *cj = cs ? xt_json_parse(cs, strlen(cs), "config") : NULL;
        xt_sbuf sb = {0};
        if (cj) xt_sbuf_json(&sb, cj, 1);
        printf("%s}\n", cj ? sb.p : "null");
        xt_sbuf_free(&sb);
        xt_json_free(cj);
        xt_error_clear();
    } else {
        printf("file:       %s\n", argv[1]);
        printf("tensors:    %d (%lld weights, %lld parameters)\n", st->n, (long long)nw, (long long)nparam);
        printf("config:     %s\n", cs ? cs : "(none: not a model file)");
    }
    xt_st_close(st);
    return 0;
}
