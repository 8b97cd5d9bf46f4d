// cmd_detect.c — `xt detect -m MODEL SCENE -o OUT/`: dark-vessel detection over a whole xView3-SAR
// scene (run/xview_detect.c), streamed in bounded memory, with the official tiling and
// post-processing; writes the prediction CSV, GeoJSON points and, with --maps, four GeoTIFFs.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/stream.h"
#include "core/dist.h"
#include "run/xview_detect.h"

static void help(void) {
    printf("usage: xt detect -m MODEL.safetensors SCENE -o OUT/ [options]\n\n"
           "Finds vessels in a whole Sentinel-1 scene with an xView3 model (config kind \"xview\", see\n"
           "`xt convert`), as the official evaluation did: tiles of --tile px overlapping by --overlap,\n"
           "each cut into regions run with their position (and the model's context), 180-degree TTA,\n"
           "stitching, thresholds, components and centroids (docs/xview3.md). SCENE is a 2-band (VV, VH)\n"
           "raster in dB, a VV file followed by its VH file, or a folder holding VV_dB.tif and VH_dB.tif\n"
           "(the dataset's layout). NoData is -32768.\n\n"
           "Writes OUT/<scene>.csv (detect_scene_row, detect_scene_column, scene_id, is_vessel, is_fishing,\n"
           "vessel_length_m as the official evaluator, then confidence and per-detection means) and\n"
           "OUT/<scene>.geojson (points at pixel centres, lon/lat when the CRS is geographic or UTM).\n\n"
           "  -m MODEL            xView3 model file                              [required]\n"
           "  -o OUT              output folder (created)                        [required]\n"
           "  --scene-id ID       scene_id in the outputs         [the folder or file name]\n"
           "  --tile T            tile side, a multiple of the region  [config val_crop_size]\n"
           "  --overlap N         tile overlap                         [config overlap, 10]\n"
           "  --order O           regions in a tile: naive, zigzag, two-stream  [config tiling]\n"
           "  --no-rotate         no 180-degree test-time augmentation          [rotate]\n"
           "  --tta xt|mean       xt: the official code (only length averaged); mean: all maps [xt]\n"
           "  --memfix            carry the context memory across a tile's regions (not official)\n"
           "  --no-context        leave the model's context model out (its add to the deepest level\n"
           "                      skipped): the ablation that tells what the context contributes at\n"
           "                      inference; the tiles then run as a no-context model's\n"
           "  --chip              each tile in one model call: its regions chipped inside the model, the\n"
           "                      context over all of them (xT's nested tokenization; not the official loop)\n"
           "  --selim             selimsef's rules: is_vessel |= mean_vessel > 90, is_fishing |= mean_fishing > 80\n"
           "  --nodata V          the file's NoData value (NaN is always NoData)       [-32768]\n"
           "  --maps              also write OUT/<scene>.{vessel,fishing,center,length}.tif (tiled, georeferenced)\n"
           "                      with NoData where VV and VH are both NoData (255 in the uint8 maps, whose\n"
           "                      computed 255 is written 254; NaN in length): the files only, detections\n"
           "                      use the official maps; and OUT/<scene>.png, a quicklook (<= 1024 px)\n"
           "                      with the detections drawn\n"
           "  --list FILE         many scenes (a folder or a 2-band file per line): OUT/<scene>.* each and\n"
           "                      OUT/<name>.json (a summary), finished ones skipped on a rerun,\n"
           "                      OUT/results.jsonl merged at the end; under mpirun the ranks share the\n"
           "                      list\n"
           XT_CLI_PRECISION_HELP
           "  -t N                threads                                       [all cores]\n"
           "  -q                  no progress\n\n"
           "Under mpirun with one SCENE the ranks share its tiles (tile i on rank i mod N); rank 0 stitches\n"
           "them in order, post-processes and writes: the files of one process (docs/distributed.md).\n");
}

static int is_dir(const char *p) {
    struct stat sb;
    return stat(p, &sb) == 0 && S_ISDIR(sb.st_mode);
}

static void on_progress(void *u, long done, long total) {
    xt_progress *p = u;
    if (done == 1) xt_progress_phase(p, "model", total, "calls"); // read, model, stitch and components interleave
    xt_progress_set(p, done);
}

// One scene: ops[0..nops) as on the command line (a folder, a 2-band file, or VV and VH files);
// id NULL: from the folder or file name. json NULL: the summary line on stdout; else one object
// for --list. 0 / -1 (error buffer).
static int detect_one(const xt_xview *m, const char *const *ops, int nops, const char *id, xt_detect_opts o, int quiet, xt_sbuf *json) {
    // the dataset layout: a folder with VV_dB.tif and VH_dB.tif
    char vv[4096], vh[4096], sid[256];
    const char *vvp = ops[0], *vhp = nops > 1 ? ops[1] : NULL;
    if (nops == 1 && is_dir(ops[0])) {
        int n = (int)strlen(ops[0]);
        while (n > 1 && ops[0][n - 1] == '/') n--;
        snprintf(vv, sizeof vv, "%.*s/VV_dB.tif", n, ops[0]);
        snprintf(vh, sizeof vh, "%.*s/VH_dB.tif", n, ops[0]);
        vvp = vv, vhp = vh;
    }
    if (!id) { // the scene folder's name, else the file name without extension and _VV_dB / .tif
        const char *src = ops[0];
        size_t n = strlen(src);
        while (n > 1 && src[n - 1] == '/') n--;
        const char *b = src;
        for (size_t k = 0; k < n; k++) if (src[k] == '/') b = src + k + 1;
        snprintf(sid, sizeof sid, "%.*s", (int)(src + n - b), b);
        char *dot = strrchr(sid, '.');
        if (dot && vvp != vv) *dot = 0;
        id = sid;
        if (strpbrk(id, "/\\") || !*id || strlen(id) > 200) return xt_error("detect", "%s: no usable scene id (--scene-id)", ops[0]);
    }
    o.scene_id = id;
    xt_detect_result res = {0};
    xt_detect_scene *sc = xt_detect_scene_open(vvp, vhp);
    if (!sc) return -1;
    xt_progress pg;
    xt_progress_init(&pg, "detect", quiet);
    o.progress = on_progress, o.progress_u = &pg;
    if (xt_detect_run(m, sc, &o, &res)) {
        xt_progress_abort(&pg);
        xt_detect_scene_close(sc);
        free(res.dets);
        return -1;
    }
    xt_progress_end(&pg);
    int H, W;
    xt_detect_scene_size(sc, &H, &W);
    int64_t nv = 0, nf = 0;
    for (int64_t i = 0; i < res.n; i++) nv += res.dets[i].is_vessel, nf += res.dets[i].is_fishing;
    if (json) {
        xt_sbuf_printf(json, "{\"scene\": ");
        xt_sbuf_json_str(json, ops[0]);
        xt_sbuf_printf(json, ", \"scene_id\": ");
        xt_sbuf_json_str(json, id);
        xt_sbuf_printf(json, ", \"width\": %d, \"height\": %d, \"tiles\": %d, \"tile\": %d, \"overlap\": %d, \"calls\": %ld, "
                       "\"detections\": %lld, \"vessels\": %lld, \"fishing\": %lld, \"csv\": ", W, H, res.tiles, res.T,
                       res.overlap, res.calls, (long long)res.n, (long long)nv, (long long)nf);
        char csv[4400];
        snprintf(csv, sizeof csv, "%s/%s.csv", o.out_dir, id);
        xt_sbuf_json_str(json, csv);
        xt_sbuf_printf(json, ", \"seconds\": %.3f}\n", res.seconds);
    } else if (!o.split || xt_dist_rank() == 0)
        printf("%s: %d x %d, %d tiles of %d (overlap %d), %ld model calls: %lld detections (%lld vessels, %lld fishing) "
               "-> %s/%s.csv, .geojson%s; %.1f s\n", id, W, H, res.tiles, res.T, res.overlap, res.calls, (long long)res.n,
               (long long)nv, (long long)nf, o.out_dir, id, o.maps ? ", maps" : "", res.seconds);
    free(res.dets);
    xt_detect_scene_close(sc);
    return 0;
}

typedef struct {
    const xt_xview *m;
    xt_detect_opts o;
    int quiet;
} list_ctx;

static int list_item(void *u, const char *path, const char *name, xt_sbuf *json) {
    (void)name; // the scene id comes from the path as for one scene (a folder keeps its dots)
    list_ctx *c = u;
    const char *ops[1] = {path};
    return detect_one(c->m, ops, 1, NULL, c->o, c->quiet, json);
}

int xt_cmd_detect(int argc, char **argv) {
    const char *model = NULL, *out = NULL, *id = NULL, *ops[2] = {NULL, NULL}, *list = NULL;
    const char *precision = NULL;
    int nops = 0, threads = 0, quiet = 0, no_context = 0;
    xt_detect_opts o = xt_detect_default_opts();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "-m") && v) model = argv[++i];
        else if (!strcmp(a, "-o") && v) out = argv[++i];
        else if (!strcmp(a, "--scene-id") && v) id = argv[++i];
        else if (!strcmp(a, "--list") && v) list = argv[++i];
        else if (!strcmp(a, "--tile") && v) { if (xt_cli_parse_int(argv[++i], "--tile", 32, 65536, &o.tile)) return xt_cli_fail(); }
        else if (!strcmp(a, "--overlap") && v) { if (xt_cli_parse_int(argv[++i], "--overlap", 0, 65535, &o.overlap)) return xt_cli_fail(); }
        else if (!strcmp(a, "--order") && v) {
            const char *s = argv[++i];
            o.order = !strcmp(s, "naive") ? XT_XVIEW_ORDER_NAIVE : !strcmp(s, "zigzag") ? XT_XVIEW_ORDER_ZIGZAG
                    : !strcmp(s, "two-stream") ? XT_XVIEW_ORDER_TWO_STREAM : -2;
            if (o.order == -2) return xt_cli_usage_error("detect", "--order '%s': naive, zigzag or two-stream", s);
        } else if (!strcmp(a, "--tta") && v) {
            const char *s = argv[++i];
            if (!strcmp(s, "xt")) o.tta = XT_XVIEW_TTA_XT;
            else if (!strcmp(s, "mean")) o.tta = XT_XVIEW_TTA_SELIM;
            else return xt_cli_usage_error("detect", "--tta '%s': xt or mean", s);
        } else if (!strcmp(a, "--nodata") && v) {
            char *e;
            o.nodata = strtod(argv[++i], &e);
            if (*e || e == argv[i]) return xt_cli_usage_error("detect", "--nodata '%s' is not a number", argv[i]);
            o.has_nodata = 1;
        } else if (!strcmp(a, "--no-rotate")) o.rotate = 0;
        else if (!strcmp(a, "--memfix")) o.memfix = 1;
        else if (!strcmp(a, "--no-context")) no_context = 1;
        else if (!strcmp(a, "--chip")) o.chip = 1;
        else if (!strcmp(a, "--selim")) o.selim = 1;
        else if (!strcmp(a, "--maps")) o.maps = 1;
        else if (!strcmp(a, "-q")) quiet = 1;
        else if (!strcmp(a, "--precision") && v) { if (xt_cli_parse_precision(argv[++i], &precision)) return xt_cli_fail(); }
        else if (!strcmp(a, "-t") && v) { if (xt_cli_parse_int(argv[++i], "-t", 1, 1024, &threads)) return xt_cli_fail(); }
        else if (a[0] == '-') return xt_cli_usage_error("detect", "unknown option '%s'", a);
        else if (nops < 2) ops[nops++] = a;
        else return xt_cli_usage_error("detect", "more than two scene files");
    }
    if (!model || !out || (!nops && !list)) return xt_cli_usage_error("detect", "need -m MODEL, a SCENE (or --list FILE) and -o OUT");
    if (list && (nops || id)) return xt_cli_usage_error("detect", "--list takes no SCENE operand and no --scene-id (the ids come from the list)");
    o.split = !list && xt_dist_size() > 1; // one scene under mpirun: tiles shared, rank 0 writes
    if (o.split && xt_dist_rank() > 0) quiet = 1;
    if (strlen(out) > 3000) return xt_cli_usage_error("detect", "-o path too long");
    if (id && (strpbrk(id, "/\\") || !*id || strlen(id) > 200)) return xt_cli_usage_error("detect", "bad --scene-id '%s'", id);
    o.out_dir = out;
    xt_set_threads(threads);
    if (xt_mkdir_p(out, "detect")) return xt_cli_fail();
    xt_st *st = xt_st_open(model);
    if (!st) return xt_cli_fail();
    int rc = 1;
    xt_json *cfg = NULL;
    xt_xview *m = NULL;
    const char *cs = xt_st_meta(st, "config");
    if (!cs) { xt_error("detect", "%s: no config in __metadata__: not a model file", model); goto fail; }
    if (!(cfg = xt_json_parse(cs, strlen(cs), "config"))) goto fail;
    const char *kind = xt_json_str(cfg, "kind", "");
    if (!kind || strcmp(kind, "xview")) {
        xt_error("detect", "%s: model kind '%s': detect needs an xView3 model (kind \"xview\")", model, kind ? kind : "?");
        goto fail;
    }
    if (no_context) { // the context_model.* tensors stay in the file, unread
        int on = 0;
        xt_json *xl = xt_json_get_mut(cfg, "xl_context");
        if (xt_json_bool(xl, "enabled", 0, &on) || !on) {
            xt_error("detect", "--no-context: %s has no context model (xl_context.enabled is not true)", model);
            goto fail;
        }
        xt_json_set_bool(xl, "enabled", 0);
    }
    if (xt_config_apply_precision(cfg, precision) || !(m = xt_xview_new(st, cfg))) { xt_error_in_file(model); goto fail; }
    if (list) { // the model is loaded once for every scene
        list_ctx c = {m, o, quiet};
        rc = xt_cli_list_run("detect", list, out, list_item, &c);
        goto done;
    }
    if (detect_one(m, ops, nops, id, o, quiet, NULL)) goto fail;
    rc = 0;
    goto done;
fail:
    if (o.split) xt_cli_split_abort(); // the other ranks would wait for this one's tiles
    rc = xt_cli_fail();
done:
    xt_xview_free(m);
    xt_json_free(cfg);
    xt_st_close(st);
    return rc;
}
