// cmd_score.c — `xt score --inference P.csv --labels L.csv`: the xView3 leaderboard metric
// (reference/metric.py) on a prediction CSV; prints the six scores as the official JSON.
#include <string.h>

#include "cli/cli.h"
#include "run/xview.h"

static void help(void) {
    printf("usage: xt score --inference P.csv --labels L.csv [options]\n\n"
           "Scores xView3-SAR predictions as the leaderboard did (reference/metric.py with\n"
           "--distance_tolerance 200 --shore_tolerance 2 --shore_root DIR --drop_low_detect --costly_dist)\n"
           "and prints {\"loc_fscore\", \"loc_fscore_shore\", \"vessel_fscore\", \"fishing_fscore\",\n"
           "\"length_acc\", \"aggregate\"} as the official json.dump writes it. Where the official scorer\n"
           "raises (a scored scene left without predictions, a missing shoreline file) this fails too.\n\n"
           "  --inference P.csv          predictions (detect_scene_row, detect_scene_column, scene_id,\n"
           "                             is_vessel, is_fishing, vessel_length_m)\n"
           "  --labels L.csv             xView3 labels\n"
           "  --shore-root DIR           folder of <scene_id>_shoreline.npy     [none: loc_fscore_shore 0]\n"
           "  --distance-tolerance M     metres for a match                     [200]\n"
           "  --shore-tolerance KM       close to shore, km (0: no shore score) [2]\n"
           "  --no-drop-low-detect       keep predictions matched to LOW labels [dropped]\n"
           "  --no-costly-dist           plain distances beyond the tolerance   [99999990]\n"
           "  --score-all                score against every label, LOW too     [HIGH and MEDIUM]\n"
           "  -o OUT.json                also write the JSON there (no newline, byte-identical)\n");
}

int xt_cmd_score(int argc, char **argv) {
    const char *pred = NULL, *lab = NULL, *outp = NULL;
    xt_xview_score_opts o = xt_xview_score_default_opts();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(); return 0; }
        else if (!strcmp(a, "--inference") && v) pred = argv[++i];
        else if (!strcmp(a, "--labels") && v) lab = argv[++i];
        else if (!strcmp(a, "--shore-root") && v) o.shore_root = argv[++i];
        else if (!strcmp(a, "-o") && v) outp = argv[++i];
        else if (!strcmp(a, "--distance-tolerance") && v) {
            if (xt_cli_parse_int(argv[++i], "--distance-tolerance", 0, 1000000000, &o.distance_tolerance)) return xt_cli_fail();
        } else if (!strcmp(a, "--shore-tolerance") && v) {
            if (xt_cli_parse_int(argv[++i], "--shore-tolerance", 0, 1000000, &o.shore_tolerance)) return xt_cli_fail();
        } else if (!strcmp(a, "--no-drop-low-detect")) o.drop_low_detect = 0;
        else if (!strcmp(a, "--no-costly-dist")) o.costly_dist = 0;
        else if (!strcmp(a, "--score-all")) o.score_all = 1;
        else return xt_cli_usage_error("score", "unknown option '%s'", a);
    }
    if (!pred || !lab) return xt_cli_usage_error("score", "need --inference P.csv and --labels L.csv");
    xt_csv *p = xt_csv_read(pred), *l = p ? xt_csv_read(lab) : NULL;
    xt_sbuf js = {0};
    xt_xview_scores sc;
    int rc = 1;
    if (!p || !l || xt_xview_score(p, l, &o, &sc, NULL)) goto fail;
    xt_xview_scores_json(&js, &sc);
    if (outp) {
        FILE *f = fopen(outp, "wb");
        if (!f || fwrite(js.p, 1, js.n, f) != js.n || fclose(f)) {
            xt_error("score", "%s: cannot write", outp);
            goto fail;
        }
    }
    printf("%s\n", js.p);
    rc = 0;
    goto done;
fail:
    rc = xt_cli_fail();
done:
    xt_sbuf_free(&js);
    xt_csv_free(p);
    xt_csv_free(l);
    return rc;
}
