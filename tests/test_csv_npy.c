// test_csv_npy.c — the readers and number formats of the xView3 files: CSV (formats/csv.c) on
// quoting, line ends, short rows and hostile text; shoreline .npy (formats/npy.c over the
// restricted pickle VM) against every golden contours.json, on every truncation, random
// mutations and refused contents; float32 -> float16 rounding over all 65536 halves and their
// midpoints; Python's float repr (xt_fmt_pyfloat).
#include <unistd.h>

#include "check_xview.h"
#include "formats/csv.h"
#include "formats/npy.h"
#include "formats/safetensors.h"


// every shoreline file of the golden metric cases: the .npy reader gives the points of contours.json
static void golden_contours(void) {
    static const char *cases[] = {"p01_exact_hits", "p02_boundary_200m", "p03_float_coords", "p04_costly_exact200",
                                  "p05_duplicates", "p06_scene_coverage", "p07_low_confidence", "p08_nan_labels", "p09_shore",
                                  "p10_length", "p11_length_capped", "p12_no_match", "p13_nan_prediction",
                                  "p14_empty_predictions", "p15_hungarian_ties", "p16_all_predictions_dropped", "p17_random"};
    int files = 0;
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char p3[600];
        snprintf(p3, sizeof p3, "%s/%s/shoreline", golden("xview_score/metric"), cases[k]);
    // the shoreline files: the .npy reader gives the points of contours.json
        char pj[700];
        snprintf(pj, sizeof pj, "%s/contours.json", p3);
        xt_json *cj = read_json(pj);
        for (int s = 0; cj && s < cj->n; s++) {
            char pn[900];
            snprintf(pn, sizeof pn, "%s/%s_shoreline.npy", p3, cj->keys[s]);
            xt_npy_contours ct;
            int r = xt_npy_read_contours(pn, &ct);
            CHECK(r == 0);
            if (r) { fprintf(stderr, "%s\n", xt_error_buffer()); continue; }
            const xt_json *want = cj->items[s];
            int ok = want->type == XT_JSON_ARR && want->n == ct.n;
            int64_t at = 0;
            for (int q = 0; ok && q < ct.n; q++) {
                const xt_json *w = want->items[q];
                ok = w->type == XT_JSON_ARR && w->n == ct.len[q];
                for (int64_t i = 0; ok && i < ct.len[q]; i++, at++)
                    ok = w->items[i]->n == 2 && w->items[i]->items[0]->num == ct.pts[2 * at] && w->items[i]->items[1]->num == ct.pts[2 * at + 1];
            }
            CHECK(ok);
            if (!ok) fprintf(stderr, "%s: points differ from contours.json\n", pn);
            // the writer (make-scene's shorelines): written and read back, the same contours
            char pw[64];
            snprintf(pw, sizeof pw, "/tmp/xt_npy_rt_%d.npy", (int)getpid());
            xt_npy_contours back;
            CHECK(xt_npy_write_contours(pw, &ct) == 0 && xt_npy_read_contours(pw, &back) == 0);
            CHECK(back.n == ct.n && back.total == ct.total &&
                  (!ct.n || !memcmp(back.len, ct.len, ct.n * sizeof *ct.len)) &&
                  (!ct.total || !memcmp(back.pts, ct.pts, ct.total * 2 * sizeof(double))));
            xt_npy_contours_free(&back);
            remove(pw);
            xt_npy_contours_free(&ct);
            files++;
        }
        xt_json_free(cj);
    }
    CHECK(files == 30);
    printf("npy: %d golden shoreline files read as contours.json says\n", files);
}

static void npy_hostile(void) {
    char path[700];
    snprintf(path, sizeof path, "%s", golden("xview_score/metric/p09_shore/shoreline/279c5a99efcc5cccv_shoreline.npy"));
    size_t n;
    char *good = read_text(path, &n);
    if (!good) return;
    xt_npy_contours ct;
    CHECK(xt_npy_parse_contours((const uint8_t *)good, n, "t", &ct) == 0 && ct.n == 2);
    xt_npy_contours_free(&ct);
    int crashed_ok = 1, accepted = 0;
    for (size_t k = 0; k < n; k++) { // every truncation is refused with a message
        int r = xt_npy_parse_contours((const uint8_t *)good, k, "t", &ct);
        if (r == 0) accepted++, xt_npy_contours_free(&ct);
        else crashed_ok &= strlen(xt_error_buffer()) > 0;
    }
    CHECK(accepted == 0 && crashed_ok);
    uint8_t *m = malloc(n);
    uint32_t seed = 99;
    for (int t = 0; t < 3000; t++) { // mutations: any outcome but a crash (ASan/UBSan runs watch)
        memcpy(m, good, n);
        for (int q = 0; q < 1 + t % 4; q++) {
            seed = seed * 1664525u + 1013904223u;
            m[(seed >> 8) % n] = (uint8_t)(seed >> 24);
        }
        if (xt_npy_parse_contours(m, n, "t", &ct) == 0) xt_npy_contours_free(&ct);
    }
    free(m);
#define H(s) "\x93NUMPY\x01\x00\x40\x00" s
    static const char r0[] = "NOTNUMPY..", r1[] = "\x93NUMPY\x01\x00\x10\x00{'descr': '<c8'",
                      r2[] = H("{'descr': '<c16', 'fortran_order': False, 'shape': (1,), }           \n"),
                      r3[] = H("{'descr': '<f8', 'fortran_order': False, 'shape': (3,), }            \n"),
                      r4[] = H("{'descr': '|O', 'fortran_order': False, 'shape': (1,), }             \n") "\x80\x02" "cos\nsystem\nq\x00.",
                      r5[] = "\x93NUMPY\x04\x00\x40\x00";
#undef H
    const struct { const char *b; size_t n; const char *want; } refuse[] = {
        {r0, sizeof r0 - 1, "magic"}, {r1, sizeof r1 - 1, "runs past"}, {r2, sizeof r2 - 1, "not supported"},
        {r3, sizeof r3 - 1, "runs past"}, {r4, sizeof r4 - 1, "not allowed"}, {r5, sizeof r5 - 1, "version 4"},
    };
    for (size_t k = 0; k < sizeof refuse / sizeof *refuse; k++) {
        int r = xt_npy_parse_contours((const uint8_t *)refuse[k].b, refuse[k].n, "t", &ct);
        int ok = r == -1 && strstr(xt_error_buffer(), refuse[k].want);
        CHECK(ok);
        if (!ok) fprintf(stderr, "npy case %zu: %s\n", k, r ? xt_error_buffer() : "accepted");
    }
    free(good);
}

static void csv_reader(void) {
    const char *t = "\xef\xbb\xbf" "a,b,\"c,d\"\r\n1,\"x\"\"y\",\r\n\n2\r\n\"multi\nline\",,3\n";
    xt_csv *c = xt_csv_parse(t, strlen(t), "t.csv");
    CHECK(c && c->n_cols == 3 && c->n_rows == 3);
    if (c) {
        CHECK(!strcmp(c->head[0], "a") && !strcmp(c->head[2], "c,d") && xt_csv_col(c, "c,d") == 2 && xt_csv_col(c, "z") == -1);
        CHECK(!strcmp(xt_csv_at(c, 0, 1), "x\"y") && !strcmp(xt_csv_at(c, 0, 2), ""));
        CHECK(!strcmp(xt_csv_at(c, 1, 0), "2") && !strcmp(xt_csv_at(c, 1, 2), "")); // short row: missing cells
        CHECK(!strcmp(xt_csv_at(c, 2, 0), "multi\nline") && c->line[2] == 5);
        double v;
        CHECK(xt_csv_num(c, 0, 0, &v) == 0 && v == 1 && xt_csv_num(c, 1, 1, &v) == 0 && isnan(v));
        CHECK(xt_csv_num(c, 0, 1, &v) == -1 && strstr(xt_error_buffer(), "t.csv: line 2: column 'b'"));
    }
    xt_csv_free(c);
    const char *refuse[][2] = {
        {"", "empty"},          {"a,b\n1,2,3\n", "3 fields"},       {"a,b\n\"x\"y,1\n", "after a closing quote"},
        {"a,b\n\"open,1\n", "unterminated"}, {"a\nx\"y\n", "quote inside"},
    };
    for (size_t k = 0; k < sizeof refuse / sizeof *refuse; k++) {
        xt_csv *b = xt_csv_parse(refuse[k][0], strlen(refuse[k][0]), "t.csv");
        CHECK(!b && strstr(xt_error_buffer(), refuse[k][1]));
        if (b || !strstr(xt_error_buffer(), refuse[k][1])) fprintf(stderr, "csv case %zu: %s\n", k, xt_error_buffer());
        xt_csv_free(b);
    }
    // pandas' names: the unnamed index column of DataFrame.to_csv, repeated names
    const char *names = ",a,a,,a\n0,1,2,3,4\n";
    xt_csv *b = xt_csv_parse(names, strlen(names), "t.csv");
    CHECK(b && !strcmp(b->head[0], "Unnamed: 0") && !strcmp(b->head[2], "a.1") && !strcmp(b->head[3], "Unnamed: 3") &&
          !strcmp(b->head[4], "a.2") && xt_csv_col(b, "a") == 1 && !strcmp(xt_csv_at(b, 0, 4), "4"));
    xt_csv_free(b);
    b = xt_csv_parse("a\x00,b\n", 6, "t.csv");
    CHECK(!b && strstr(xt_error_buffer(), "NUL"));
    b = xt_csv_parse("a\n0x10\n inf \n-Infinity\nNA\n", 25, "t.csv");
    double v;
    CHECK(b && xt_csv_num(b, 0, 0, &v) == -1 && xt_csv_num(b, 1, 0, &v) == 0 && v == INFINITY &&
          xt_csv_num(b, 2, 0, &v) == 0 && v == -INFINITY && xt_csv_num(b, 3, 0, &v) == 0 && isnan(v));
    xt_csv_free(b);
    // every prefix of a quoted table parses or fails cleanly
    const char *q = "x,\"y\"\n\"1\",\"a\"\"b\"\n";
    for (size_t k = 0; k <= strlen(q); k++) xt_csv_free(xt_csv_parse(q, k, "t.csv"));
    CHECK(xt_csv_read("/nonexistent/x.csv") == NULL && strstr(xt_error_buffer(), "cannot open"));
}

static void numbers(void) {
    char b[32];
    // float16 RNE: every half value round-trips; each midpoint rounds to the even neighbour
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        float f = xt_f16_to_f32((uint16_t)h);
        if (f != f) { bad += (xt_f32_to_f16(f) & 0x7c00) != 0x7c00 || !(xt_f32_to_f16(f) & 0x3ff); continue; }
        bad += xt_f32_to_f16(f) != h;
        if ((h & 0x7fff) < 0x7bff) { // the midpoint to the next magnitude
            float g = xt_f16_to_f32((uint16_t)(h + 1)), mid = (f + g) / 2; // exact in float
            uint16_t even = (h & 1) ? (uint16_t)(h + 1) : (uint16_t)h;
            bad += xt_f32_to_f16(mid) != even;
        }
    }
    CHECK(bad == 0);
    CHECK(xt_f32_to_f16(65519.996f) == 0x7bff && xt_f32_to_f16(65520.0f) == 0x7c00 && xt_f32_to_f16(70000.0f) == 0x7c00);
    CHECK(xt_f32_to_f16(-1e-9f) == 0x8000 && xt_f32_to_f16(2049.3f) == xt_f32_to_f16(2050.0f));

    struct { double v; const char *s; } R[] = {{0.33999999999999997, "0.33999999999999997"}, {1e16, "1e+16"}, {123456789012345.6, "123456789012345.6"},
                                              {1.5e-5, "1.5e-05"}, {0.8000000000000002, "0.8000000000000002"}, {2.0, "2.0"}, {NAN, "nan"}};
    for (size_t k = 0; k < sizeof R / sizeof *R; k++) {
        xt_fmt_pyfloat(b, R[k].v);
        if (strcmp(b, R[k].s)) fprintf(stderr, "pyfloat: '%s', want '%s'\n", b, R[k].s);
        CHECK(!strcmp(b, R[k].s));
    }
}

int main(void) {
    csv_reader();
    golden_contours();
    npy_hostile();
    numbers();
    return check_summary("test_csv_npy");
}
