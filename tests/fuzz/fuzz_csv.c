// fuzz_csv.c — libFuzzer target for the CSV reader (src/formats/csv.c) and the xView3 metric
// (src/run/xview_metric.c) on hostile tables, not part of `make test`.
//
// The input is split at its first NUL byte into a prediction table and a label table; both are
// parsed, every cell read as a number, and the pair scored with the leaderboard flags (no
// shoreline folder) and with the other flag settings. Seeds: golden cases in tests/fuzz/corpus_csv.
// Build and run: make fuzz && tests/fuzz/run.sh csv -t 300 (see docs/robustness.md)
#include <stdlib.h>
#include <string.h>

#include "run/xview.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *z = memchr(data, 0, size);
    size_t n1 = z ? (size_t)(z - data) : size, n2 = z ? size - n1 - 1 : 0;
    char *a = malloc(n1 ? n1 : 1), *b = malloc(n2 ? n2 : 1); // not NUL-terminated on purpose
    memcpy(a, data, n1);
    if (n2) memcpy(b, z + 1, n2);
    xt_csv *p = xt_csv_parse(a, n1, "p.csv"), *l = z ? xt_csv_parse(b, n2, "l.csv") : NULL;
    if (p)
        for (int64_t r = 0; r < p->n_rows; r++)
            for (int k = 0; k < p->n_cols; k++) {
                double v;
                (void)xt_csv_num(p, r, k, &v);
                (void)xt_csv_is_na(xt_csv_at(p, r, k));
            }
    if (p && l) {
        xt_xview_scores sc;
        xt_xview_score_opts o = xt_xview_score_default_opts();
        xt_sbuf s = {0};
        if (!xt_xview_score(p, l, &o, &sc, NULL)) xt_xview_scores_json(&s, &sc);
        o.costly_dist = 0, o.drop_low_detect = 0;
        (void)xt_xview_score(p, l, &o, &sc, NULL);
        o.score_all = 1;
        (void)xt_xview_score(p, l, &o, &sc, NULL);
        xt_sbuf_free(&s);
    }
    xt_csv_free(p);
    xt_csv_free(l);
    free(a);
    free(b);
    return 0;
}
