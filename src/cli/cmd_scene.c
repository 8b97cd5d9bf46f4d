// cmd_scene.c — `xt make-scene DIR`: synthetic xView3-SAR scenes with labels and shorelines
// (run/xview_world.h), where telling fishing vessels from others needs context beyond a region.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"
#include "run/xview_world.h"

static void help(void) {
    printf("usage: xt make-scene DIR [--size WxH] [--scenes N] [--seed S] [--density D] [--rule fleets|ports|grounds|lanes] [--port-gap PX] [--geo EPSG,X0,Y0,PX]\n\n"
           "Writes synthetic Sentinel-1-like scenes in the xView3-SAR layout: DIR/<scene_id>/VV_dB.tif and\n"
           "VH_dB.tif (float32 dB, speckle, land behind a coastline, a NoData swath edge), DIR/labels.csv\n"
           "(the official label columns) and DIR/shoreline/<scene_id>_shoreline.npy (the coastline).\n"
           "Fishing vessels sail in fleets, 96-112 px apart; other vessels alone; both look the same, so\n"
           "is_fishing needs context beyond a 64 px region (docs/detection.md). With --rule ports, fishing\n"
           "vessels lie 150-190 px from a harbour (a bright open square at sea, not labelled; listed in\n"
           "DIR/ports.csv) and other vessels at least --port-gap px from every harbour (from 725 on, no\n"
           "512 x 512 window holds both a harbour and a non-fishing vessel). With --rule grounds, fishing\n"
           "vessels work in grounds of 8-14, >= 150 px apart within 300 px of a centre, and other vessels\n"
           "are at least --port-gap px (default 600) from every fishing vessel. With --rule lanes, it is\n"
           "turned around: other vessels sail in lanes of 3-5, 150-180 px apart, and as many fishing\n"
           "vessels are alone, at least --port-gap px (default 400) from every other vessel.\n\n"
           "  --size WxH      scene size in 10 m pixels                   [2048x2048]\n"
           "  --scenes N      number of scenes                            [1]\n"
           "  --seed S        seed (scenes and ids follow from it)        [1]\n"
           "  --density D     fleets (harbours) per 1024 x 1024 px of sea [1.0]\n"
           "  --rule R        fleets, ports, grounds or lanes: what makes a vessel fish [fleets]\n"
           "  --port-gap PX   least distance, other vessel to a harbour (ports) [320]\n"
           "                  or to a fishing vessel (grounds) [600]; fishing vessel to any\n"
           "                  other vessel (lanes) [400]\n"
           "  --geo ...       georeference: EPSG code, top-left corner, pixel size [32633,400000,4700000,10]\n"
           "  --compress C    none, deflate, lzw, zstd                    [none]\n");
}

int xt_cmd_make_scene(int argc, char **argv) {
    const char *dir = NULL, *geo = NULL;
    xt_world_opts o = {.width = 2048, .height = 2048, .scenes = 1, .seed = 1, .density = 1.0, .compression = "none"};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "--size") && v) {
            if (sscanf(v, "%dx%d", &o.width, &o.height) != 2)
                return xt_cli_usage_error("make-scene", "--size expects WxH, got '%s'", v);
            i++;
        } else if (!strcmp(a, "--scenes") && v) {
            if (xt_cli_parse_int(v, "--scenes", 1, 100000, &o.scenes) < 0) return xt_cli_fail();
            i++;
        } else if (!strcmp(a, "--seed") && v) {
            int s;
            if (xt_cli_parse_int(v, "--seed", 0, 2147483647, &s) < 0) return xt_cli_fail();
            o.seed = (uint64_t)s, i++;
        } else if (!strcmp(a, "--density") && v) {
            char *e;
            o.density = strtod(v, &e);
            if (*e || !(o.density > 0 && o.density <= 20))
                return xt_cli_usage_error("make-scene", "--density expects a number in (0, 20], got '%s'", v);
            i++;
        } else if (!strcmp(a, "--rule") && v) {
            if (!strcmp(v, "fleets")) o.rule = XT_WORLD_FLEETS;
            else if (!strcmp(v, "ports")) o.rule = XT_WORLD_PORTS;
            else if (!strcmp(v, "grounds")) o.rule = XT_WORLD_GROUNDS;
            else if (!strcmp(v, "lanes")) o.rule = XT_WORLD_LANES;
            else return xt_cli_usage_error("make-scene", "--rule expects fleets, ports, grounds or lanes, got '%s'", v);
            i++;
        } else if (!strcmp(a, "--port-gap") && v) {
            int g;
            if (xt_cli_parse_int(v, "--port-gap", 200, 100000, &g) < 0) return xt_cli_fail();
            o.port_gap = g, i++;
        } else if (!strcmp(a, "--geo") && v) geo = argv[++i];
        else if (!strcmp(a, "--compress") && v) o.compression = argv[++i];
        else if (a[0] == '-' && a[1]) return xt_cli_usage_error("make-scene", "unknown option or missing value: %s", a);
        else if (!dir) dir = a;
        else return xt_cli_usage_error("make-scene", "more than one output folder");
    }
    if (!dir) return xt_cli_usage_error("make-scene", "no output folder");
    xt_georef g = {0};
    if (geo) {
        if (xt_cli_parse_geo("make-scene", geo, &g)) return 1;
        o.geo = &g;
    }
    char (*ids)[32] = xt_xmalloc((size_t)o.scenes * 32);
    int rc = xt_world_write(dir, &o, ids);
    if (!rc)
        for (int s = 0; s < o.scenes; s++) printf("%s/%s\n", dir, ids[s]);
    free(ids);
    xt_georef_free(&g);
    return rc ? xt_cli_fail() : 0;
}
