// test_xview_metric.c — the xView3 leaderboard metric (run/xview_metric.c) on every metric case
// of tests/golden/xview_score (index.json lists them): the JSON text byte for byte equal to
// expected.json (the cases where the official scorer raised must fail with its error named),
// the counts of detail.json, and its four other flag variants (values equal, NaN = NaN, no
// tolerance). Then scipy's LSAP port on ties and against brute force, and refusals.
#include <dirent.h>

#include "check_xview.h"

static int64_t jint(const xt_json *o, const char *k) {
    double d = NAN;
    xt_json_num(o, k, NAN, &d);
    return d == d ? (int64_t)d : -999;
}

static int same_num(xt_xview_num a, const xt_json *e) {
    if (!e || e->type != XT_JSON_NUM) return 0;
    return a.v == e->num || (a.v != a.v && e->num != e->num);
}

static int scores_equal(const xt_xview_scores *s, const xt_json *e) {
    return same_num(s->loc_fscore, xt_json_get(e, "loc_fscore")) && same_num(s->loc_fscore_shore, xt_json_get(e, "loc_fscore_shore")) &&
           same_num(s->vessel_fscore, xt_json_get(e, "vessel_fscore")) &&
           same_num(s->fishing_fscore, xt_json_get(e, "fishing_fscore")) && same_num(s->length_acc, xt_json_get(e, "length_acc")) &&
           same_num(s->aggregate, xt_json_get(e, "aggregate"));
}

static int ncases, nvariants;

static void metric_case(const char *name, const xt_json *index_expected) {
    char dir[512], p1[600], p2[600], p3[600];
    snprintf(dir, sizeof dir, "%s", golden("xview_score/metric"));
    snprintf(p1, sizeof p1, "%s/%s/preds.csv", dir, name);
    snprintf(p2, sizeof p2, "%s/%s/labels.csv", dir, name);
    snprintf(p3, sizeof p3, "%s/%s/shoreline", dir, name);
    xt_csv *P = xt_csv_read(p1), *L = xt_csv_read(p2);
    CHECK(P && L);
    if (!P || !L) { fprintf(stderr, "%s\n", xt_error_buffer()); xt_csv_free(P); xt_csv_free(L); return; }
    char pe[600], pd[600];
    snprintf(pe, sizeof pe, "%s/%s/expected.json", dir, name);
    snprintf(pd, sizeof pd, "%s/%s/detail.json", dir, name);
    size_t elen = 0;
    char *etext = read_text(pe, &elen);
    xt_json *detail = read_json(pd);
    if (!etext || !detail) goto done;
    ncases++;

    // the leaderboard flags
    xt_xview_score_opts o = xt_xview_score_default_opts();
    o.shore_root = p3;
    xt_xview_scores sc;
    xt_xview_score_detail dt;
    int rc = xt_xview_score(P, L, &o, &sc, &dt);
    if (strstr(etext, "\"error\"")) { // the official scorer raised: so must we, naming its error
        CHECK(rc == -1 && strstr(xt_error_buffer(), "ValueError"));
        printf("%s: fails as the official scorer does: %.80s...\n", name, xt_error_buffer());
    } else {
        CHECK(rc == 0);
        if (rc) fprintf(stderr, "%s: %s\n", name, xt_error_buffer());
        xt_sbuf js = {0};
        xt_xview_scores_json(&js, &sc);
        int same = rc == 0 && js.n == elen && !memcmp(js.p, etext, elen);
        CHECK(same);
        if (!same) fprintf(stderr, "%s:\n got  %s\n want %s\n", name, js.p, etext);
        CHECK(rc == 0 && scores_equal(&sc, index_expected));
        xt_sbuf_free(&js);
        // the counts behind the scores
        const xt_json *c = xt_json_get(detail, "counts"), *loc = xt_json_get(c, "loc"), *sh = xt_json_get(c, "shore");
        CHECK(loc && dt.loc[0] == jint(loc, "n_tp") && dt.loc[1] == jint(loc, "n_fp") && dt.loc[2] == jint(loc, "n_fn"));
        CHECK(dt.shore_scored == (sh != NULL));
        if (sh) CHECK(dt.shore[0] == jint(sh, "n_tp") && dt.shore[1] == jint(sh, "n_fp") && dt.shore[2] == jint(sh, "n_fn"));
        const xt_json *vc = xt_json_get(detail, "vessel_tp_fp_fn_tn"), *fc = xt_json_get(detail, "fishing_tp_fp_fn_tn");
        CHECK(vc && fc && vc->n == 4 && fc->n == 4);
        for (int k = 0; vc && fc && k < 4 && k < vc->n && k < fc->n; k++)
            CHECK(dt.vessel[k] == (int64_t)vc->items[k]->num && dt.fishing[k] == (int64_t)fc->items[k]->num);
        const xt_json *dr = xt_json_get(detail, "dropped_pred_rows"), *lp = xt_json_get(detail, "length_pairs_pred_gt_predlen_gtlen");
        CHECK(dr && lp && dt.n_dropped == dr->n && dt.n_length_pairs == lp->n);
    }

    // the other flag variants
    const xt_json *vars = xt_json_get(detail, "variants");
    CHECK(vars && vars->type == XT_JSON_OBJ);
    for (int k = 0; vars && k < vars->n; k++) {
        const char *v = vars->keys[k];
        xt_xview_score_opts ov = xt_xview_score_default_opts();
        ov.shore_root = p3;
        if (!strcmp(v, "no_costly_dist")) ov.costly_dist = 0;
        else if (!strcmp(v, "no_drop_low_detect")) ov.drop_low_detect = 0;
        else if (!strcmp(v, "score_all")) ov.score_all = 1;
        else if (!strcmp(v, "no_shore_root")) ov.shore_root = NULL;
        else if (strcmp(v, "leaderboard")) { CHECK(!"unknown variant"); continue; }
        const xt_json *e = vars->items[k];
        int r = xt_xview_score(P, L, &ov, &sc, NULL);
        int ok = xt_json_get(e, "error") ? r == -1 && strstr(xt_error_buffer(), "ValueError") : r == 0 && scores_equal(&sc, e);
        CHECK(ok);
        if (!ok) fprintf(stderr, "%s variant %s differs\n", name, v);
        nvariants++;
    }

done:
    free(etext);
    xt_json_free(detail);
    xt_csv_free(P);
    xt_csv_free(L);
}

// ---------------------------------------------------------------------------------------------

static double brute(const double *c, int nr, int nc, int r, int used) { // min cost of a full matching (nr <= nc)
    if (r == nr) return 0;
    double best = INFINITY;
    for (int j = 0; j < nc; j++)
        if (!(used >> j & 1)) {
            double v = c[r * nc + j] + brute(c, nr, nc, r + 1, used | 1 << j);
            best = v < best ? v : best;
        }
    return best;
}

static void lsap(void) {
    int64_t r[8], c[8];
    double z[9] = {0};
    CHECK(xt_lsap(z, 3, 3, r, c) == 0 && c[0] == 0 && c[1] == 1 && c[2] == 2); // constant: the identity
    double tall[2] = {5, 5}, wide[2] = {5, 5};
    CHECK(xt_lsap(tall, 2, 1, r, c) == 0 && r[0] == 0 && c[0] == 0); // 2 predictions, 1 label: the first
    CHECK(xt_lsap(wide, 1, 2, r, c) == 0 && r[0] == 0 && c[0] == 0);
    double t3[6] = {9, 1, 2, 8, 7, 0}; // (3, 2): rows sorted by prediction
    CHECK(xt_lsap(t3, 3, 2, r, c) == 0 && r[0] == 1 && c[0] == 0 && r[1] == 2 && c[1] == 1);
    double bad[4] = {1, NAN, 2, 3};
    CHECK(xt_lsap(bad, 2, 2, r, c) == -1 && strstr(xt_error_buffer(), "NaN"));
    double inf[4] = {INFINITY, INFINITY, INFINITY, INFINITY};
    CHECK(xt_lsap(inf, 2, 2, r, c) == -1 && strstr(xt_error_buffer(), "infeasible"));
    uint32_t seed = 7;
    int wrong = 0;
    for (int t = 0; t < 300; t++) {
        int nr = 1 + t % 5, nc = 1 + t / 5 % 6;
        double m[36];
        for (int i = 0; i < nr * nc; i++) {
            seed = seed * 1664525u + 1013904223u;
            m[i] = (double)(seed >> 24 & 7); // small integers: many ties
        }
        if (xt_lsap(m, nr, nc, r, c)) { wrong++; continue; }
        double got = 0, tr[36];
        int k = nr < nc ? nr : nc;
        for (int q = 0; q < k; q++) got += m[r[q] * nc + c[q]], wrong += q && r[q] <= r[q - 1];
        if (nr > nc) {
            for (int i = 0; i < nr; i++)
                for (int j = 0; j < nc; j++) tr[j * nr + i] = m[i * nc + j];
            wrong += got != brute(tr, nc, nr, 0, 0);
        } else wrong += got != brute(m, nr, nc, 0, 0);
    }
    CHECK(wrong == 0);
}

static void score_errors(void) {
    const char *p = "detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m\n1,1,s1,True,False,10\n";
    const char *l = "detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m,confidence,"
                    "distance_from_shore_km\n1,1,s1,True,False,10,HIGH,1\n";
    xt_csv *P = xt_csv_parse(p, strlen(p), "p.csv"), *L = xt_csv_parse(l, strlen(l), "l.csv");
    xt_xview_score_opts o = xt_xview_score_default_opts();
    xt_xview_scores sc;
    CHECK(xt_xview_score(P, L, &o, &sc, NULL) == 0 && sc.loc_fscore.v == 1 && sc.loc_fscore_shore.is_int);
    o.shore_root = "/nonexistent";
    CHECK(xt_xview_score(P, L, &o, &sc, NULL) == -1 && strstr(xt_error_buffer(), "FileNotFoundError"));
    xt_csv_free(P);
    const char *p2 = "scene_id,detect_scene_row\ns1,1\n";
    P = xt_csv_parse(p2, strlen(p2), "p.csv");
    CHECK(xt_xview_score(P, L, &o, &sc, NULL) == -1 && strstr(xt_error_buffer(), "no column 'detect_scene_column'"));
    xt_csv_free(P);
    const char *p3 = "detect_scene_row,detect_scene_column,scene_id,is_vessel,is_fishing,vessel_length_m\n1,1,s1,yes,False,10\n";
    P = xt_csv_parse(p3, strlen(p3), "p.csv");
    CHECK(xt_xview_score(P, L, &o, &sc, NULL) == -1 && strstr(xt_error_buffer(), "not True or False"));
    xt_csv_free(P);
    xt_csv_free(L);
}

int main(void) {
    xt_json *idx = read_json(golden("xview_score/index.json"));
    const xt_json *cases = xt_json_get(idx, "cases");
    int listed = 0;
    for (int k = 0; cases && k < cases->n; k++) {
        const xt_json *c = cases->items[k];
        if (strcmp(xt_json_str(c, "kind", ""), "metric")) continue;
        listed++;
        metric_case(xt_json_str(c, "name", ""), xt_json_get(c, "expected"));
    }
    CHECK(listed == 17 && ncases == listed);
    printf("metric: %d of %d golden cases scored, %d flag variants\n", ncases, listed, nvariants);
    xt_json_free(idx);
    lsap();
    score_errors();
    return check_summary("test_xview_metric");
}
