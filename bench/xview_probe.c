// xview_probe.c — docs/detection.md, "The deepest tokens do carry the ships": runs an xView3
// model (config kind "xview", chipped, context on level 4) over 256 x 256 crops of 2-band dB scenes
// and dumps, per crop, the taps context_model.in (level 4, stitched) and context_model.out
// (after the context residual), each C4 x 8 x 8 float32, to OUT.bin; tools/xview_probe.py makes
// the crop list and fits the linear probes.
//
//   build/bench/xview_probe MODEL.safetensors CROPS.txt OUT.bin   # CROPS.txt: "VV.tif VH.tif y x" per line
#include "core/core.h"
#include "formats/safetensors.h"
#include "models/xview.h"
#include "run/xview_detect.h"
#include "run/xview_train.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { D = 256 };

typedef struct {
    FILE *f;
    int n; // taps written for this crop
    int64_t c4, side;
} sink;

static void grab(void *u, const char *path, const float *x, const int64_t *shape, int ndim) {
    sink *s = u;
    if (ndim != 4 || (strcmp(path, "context_model.in") && strcmp(path, "context_model.out"))) return;
    s->c4 = shape[1], s->side = shape[2];
    fwrite(x, sizeof(float), (size_t)(shape[0] * shape[1] * shape[2] * shape[3]), s->f);
    s->n++;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: xview_probe MODEL.safetensors CROPS.txt OUT.bin\n");
        return 2;
    }
    int rc = 1, n = 0, y, x;
    xt_st *st = xt_st_open(argv[1]);
    const char *cs = st ? xt_st_meta(st, "config") : NULL;
    xt_json *cfg = cs ? xt_json_parse(cs, strlen(cs), "config") : NULL;
    xt_xview *m = cfg ? xt_xview_new(st, cfg) : NULL;
    FILE *in = fopen(argv[2], "r");
    sink s = {fopen(argv[3], "wb"), 0, 0, 0};
    float *img = malloc(2 * D * D * sizeof(float)), *maps[XT_XVIEW_MAPS] = {0};
    for (int k = 0; k < XT_XVIEW_MAPS; k++) maps[k] = malloc(D * D * sizeof(float));
    char vv[1024], vh[1024];
    if (!m) { fprintf(stderr, "xview_probe: %s\n", xt_error_buffer()); goto done; }
    if (!in || !s.f) { fprintf(stderr, "xview_probe: cannot open %s\n", in ? argv[3] : argv[2]); goto done; }
    if (!xt_xview_get_info(m)->context) { fprintf(stderr, "xview_probe: %s has no context model\n", argv[1]); goto done; }
    xt_tap tap = {grab, &s};
    while (fscanf(in, "%1023s %1023s %d %d", vv, vh, &y, &x) == 4) {
        xt_detect_scene *sc = xt_detect_scene_open(vv, vh);
        int bad = !sc || xt_detect_scene_read(sc, y, x, D, D, img, img + D * D);
        xt_detect_scene_close(sc);
        if (bad) { fprintf(stderr, "xview_probe: %s\n", xt_error_buffer()); goto done; }
        xt_xview_normalize_band(img, D * D), xt_xview_normalize_band(img + D * D, D * D);
        s.n = 0;
        if (xt_xview_forward(m, img, 1, D, 0, 0, NULL, maps, &tap, "")) { fprintf(stderr, "xview_probe: %s\n", xt_error_buffer()); goto done; }
        if (s.n != 2) { fprintf(stderr, "xview_probe: the model did not report both context taps\n"); goto done; }
        n++;
    }
    fprintf(stderr, "xview_probe: %d crops, C4 %lld, %lld x %lld tokens -> %s\n", n, (long long)s.c4, (long long)s.side,
            (long long)s.side, argv[3]);
    rc = 0;
done:
    if (s.f && fclose(s.f)) rc = 1;
    if (in) fclose(in);
    for (int k = 0; k < XT_XVIEW_MAPS; k++) free(maps[k]);
    free(img);
    xt_xview_free(m);
    xt_json_free(cfg);
    xt_st_close(st);
    return rc;
}
