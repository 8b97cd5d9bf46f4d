// cmd_info.c — `xt info FILE`: what a model file holds, or for an image (TIFF, BigTIFF, GeoTIFF,
// PNG, JPEG natively; any GDAL raster; OpenSlide slides): backend, size, bands, sample type,
// layout, compression, pyramid levels, MPP, georeferencing (CRS), NoData, alpha, band descriptions.
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "formats/raster.h"
#include "models/models.h"

// A safetensors file starts with its header length (8 bytes) and '{'; anything else is read as
// an image (native, GDAL or OpenSlide), whose open error says what the file is when none reads it.
static int is_model(const char *path) {
    unsigned char m[9] = {0};
    FILE *f = fopen(path, "rb");
    if (!f) return 1; // the model loader says it cannot be opened
    size_t n = fread(m, 1, sizeof m, f);
    fclose(f);
    return n == 9 && m[8] == '{';
}

static void json_str(const char *key, const char *v, int last) {
    xt_sbuf sb = {0};
    xt_sbuf_json_str(&sb, v ? v : "");
    printf("\"%s\": %s%s", key, sb.p, last ? "" : ", ");
    xt_sbuf_free(&sb);
}

static int info_image(const char *path, int json, const xt_raster_open_opts *o) {
    xt_raster *r = xt_raster_open_with(path, o);
    if (!r) return xt_cli_fail();
    const xt_raster_info *in = xt_raster_get_info(r);
    char geo[512];
    xt_georef_describe(&in->geo, geo, sizeof geo);
    if (json) { // one line
        printf("{");
        json_str("file", path, 0);
        json_str("kind", "image", 0);
        json_str("format", in->format, 0);
        json_str("backend", in->backend, 0);
        printf("\"width\": %d, \"height\": %d, \"bands\": %d, ", in->width, in->height, in->bands);
        json_str("photometric", in->photometric, 0);
        json_str("sample", xt_sample_name(in->sample), 0);
        printf("\"bits\": %d, \"tiled\": %s, \"block\": [%d, %d], \"planar\": %s, ", in->bits, in->tiled ? "true" : "false",
               in->block_w, in->block_h, in->planar ? "true" : "false");
        json_str("compression", in->compression, 0);
        if (in->geo.epsg) printf("\"epsg\": %d, ", in->geo.epsg);
        // levels: [width, height, downsample] each, level 0 first; "level" is the one read
        printf("\"level\": %d, \"levels\": [", in->level);
        for (int l = 0; l < in->n_levels; l++)
            printf("%s[%d, %d, %.17g]", l ? ", " : "", in->level_w[l], in->level_h[l], in->level_downsample[l]);
        printf("], \"overviews\": %d, ", in->n_levels - 1);
        if (in->mpp_x > 0) printf("\"mpp\": [%.17g, %.17g], ", in->mpp_x, in->mpp_y);
        else printf("\"mpp\": null, ");
        printf("\"alpha\": %s, ", in->has_alpha ? "true" : "false");
        if (in->geo.wkt) json_str("crs_wkt", in->geo.wkt, 0);
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
    printf("backend:     %s\n", in->backend);
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
    if (in->n_levels > 1 || in->level) {
        printf("levels:      %d (reading level %d)\n", in->n_levels, in->level);
        for (int l = 0; l < in->n_levels; l++)
            printf("  level %-3d  %d x %d, downsample %.4g\n", l, in->level_w[l], in->level_h[l], in->level_downsample[l]);
    }
    if (in->mpp_x > 0) printf("mpp:         %.6g x %.6g um/px (level 0)\n", in->mpp_x, in->mpp_y);
    if (in->has_alpha) printf("alpha:       yes%s\n", strcmp(in->backend, "openslide") ? " (a band like the others)" : " (composited on white)");
    printf("georef:      %s\n", geo);
    if (in->geo.wkt && !in->geo.epsg) printf("crs (wkt):   %.200s%s\n", in->geo.wkt, strlen(in->geo.wkt) > 200 ? "... (--json: all)" : "");
    if (in->has_nodata) printf("nodata:      %.17g\n", in->nodata);
    for (int b = 0, shown = 0; in->band_desc && b < in->bands; b++) // the first 16 (--json: all)
        if (in->band_desc[b] && shown++ < 16) printf("band %-6d   %s\n", b + 1, in->band_desc[b]);
        else if (in->band_desc[b] && shown == 17) printf("...          (--json lists every band)\n");
    xt_raster_close(r);
    return 0;
}

int xt_cmd_info(int argc, char **argv) {
    const char *file = NULL;
    int json = 0, image = 0;
    xt_raster_open_opts ro;
    xt_raster_open_opts_default(&ro);
    for (int i = 1; i < argc; i++) { // options may come anywhere; an unknown one is an error, not ignored
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            printf("usage: xt info FILE [--json]\n\nDescribes a model file (safetensors): kind, config, tensors, parameters;\n"
                   "or an image (TIFF, BigTIFF, GeoTIFF, PNG, JPEG natively; other rasters through GDAL;\n"
                   "whole-slide images through OpenSlide; docs/inputs.md): backend, size, bands, sample type,\n"
                   "tiling, compression, pyramid levels (size, downsample; GDAL: overviews), MPP (slides),\n"
                   "alpha, georeferencing (CRS, GCPs), NoData (\"nodata\": number, \"nan\" or null) and band\n"
                   "descriptions (GDAL metadata).\n\n"
                   "  --json        one JSON object on one line\n"
                   "  --level N     describe as read at level N (size, georeferencing)      [0]\n"
                   "  --mpp X       the slide level nearest X microns per pixel\n"
                   "  --backend B   auto, native, gdal, openslide                           [auto]\n");
            return 0;
        } else if (!strcmp(argv[i], "--json")) json = 1;
        else if (!strcmp(argv[i], "--level") || !strcmp(argv[i], "--mpp") || !strcmp(argv[i], "--backend")) {
            if (i + 1 >= argc) return xt_cli_usage_error("info", "%s needs a value", argv[i]);
            const char *o = argv[i++], *v = argv[i];
            char *e;
            if (o[2] == 'l') {
                if (xt_cli_parse_int(v, o, 0, XT_MAX_LEVELS - 1, &ro.level) < 0) return xt_cli_usage_error("info", "%s", xt_error_buffer());
            } else if (o[2] == 'm') {
                ro.mpp = strtod(v, &e);
                if (e == v || *e || !(ro.mpp > 0)) return xt_cli_usage_error("info", "--mpp expects microns per pixel > 0, got '%s'", v);
            } else if (xt_backend_parse(v, &ro.backend) < 0) return xt_cli_usage_error("info", "%s", xt_error_buffer());
            image = 1;
        }
        else if (argv[i][0] == '-' && argv[i][1]) return xt_cli_usage_error("info", "unknown option %s", argv[i]);
        else if (!file) file = argv[i];
        else return xt_cli_usage_error("info", "more than one file (%s, %s)", file, argv[i]);
    }
    if (!file) return xt_cli_usage_error("info", "no file");
    argv[1] = (char *)file;
    if (image || !is_model(argv[1])) return info_image(argv[1], json, &ro);
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
