// check_xview.h — shared checks of the xView3 post-processing and tiling tests against the
// golden files of tests/golden/xview_score (their README, "How to compare"): maps and labels
// equal, detections equal (row, col, booleans, float16 length), the float64 means equal after
// rounding to float32 (as stored), mean_length within one float16 ulp (numpy's pairwise float32
// sum is not reproduced bit for bit), and the CSV text byte for byte.
#ifndef XT_CHECK_XVIEW_H
#define XT_CHECK_XVIEW_H

#include "check.h"
#include "run/verify.h"
#include "run/xview.h"

// a whole file, NUL-terminated (binary files too: *len counts every byte); NULL + a failed check
static inline char *read_text(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (!f) return NULL;
    size_t n = 0, cap = 4096, k;
    char *b = malloc(cap + 1);
    while ((k = fread(b + n, 1, cap - n, f)) > 0)
        if ((n += k) == cap) b = realloc(b, (cap *= 2) + 1);
    fclose(f);
    b[n] = 0;
    if (len) *len = n;
    return b;
}

// a JSON file, parsed; NULL + a failed check
static inline xt_json *read_json(const char *path) {
    size_t n;
    char *t = read_text(path, &n);
    xt_json *j = t ? xt_json_parse(t, n, path) : NULL;
    CHECK(j != NULL);
    free(t);
    return j;
}

// expected.<name> (integer-valued F32) equals the n values got[] (any integer type via int64)
static inline void check_ints(xt_st *st, const char *name, const int64_t *got, int64_t n) {
    const xt_st_tensor *t;
    const float *e = xt_st_f32(st, name, &t);
    CHECK(e && t->numel == n);
    if (!e || t->numel != n) {
        fprintf(stderr, "%s: missing or %lld elements, want %lld\n", name, e ? (long long)t->numel : -1LL, (long long)n);
        return;
    }
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if ((double)got[i] != (double)e[i]) bad++, first = first < 0 ? i : first;
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "%s: %lld of %lld differ, first at %lld: got %lld want %g\n", name, (long long)bad, (long long)n,
                     (long long)first, (long long)got[first], e[first]);
}

static inline void check_u8(xt_st *st, const char *name, const uint8_t *got, int64_t n) {
    int64_t *g = malloc((size_t)n * sizeof *g);
    for (int64_t i = 0; i < n; i++) g[i] = got[i];
    check_ints(st, name, g, n);
    free(g);
}

// float16 maps compare as values (inf included; the golden stores float16 values exactly in F32)
static inline void check_f16(xt_st *st, const char *name, const uint16_t *got, int64_t n) {
    const xt_st_tensor *t;
    const float *e = xt_st_f32(st, name, &t);
    CHECK(e && t->numel == n);
    if (!e || t->numel != n) return;
    int64_t bad = 0, first = -1;
    for (int64_t i = 0; i < n; i++)
        if (xt_f16_to_f32(got[i]) != e[i]) bad++, first = first < 0 ? i : first;
    CHECK(bad == 0);
    if (bad) fprintf(stderr, "%s: %lld differ, first at %lld: got %g want %g\n", name, (long long)bad, (long long)first,
                     xt_f16_to_f32(got[first]), e[first]);
}

static inline void check_dets(xt_st *st, const xt_xview_det *d, int64_t n) {
    const xt_st_tensor *t = xt_st_find(st, "expected.det.row");
    CHECK(t && t->numel == n);
    if (!t || t->numel != n) {
        fprintf(stderr, "%lld detections, want %lld\n", (long long)n, t ? (long long)t->numel : -1LL);
        return;
    }
    int64_t *v = calloc((size_t)n + 1, sizeof *v);
#define INTS(field, name)                                                                                                   \
    do {                                                                                                                    \
        for (int64_t i = 0; i < n; i++) v[i] = d[i].field;                                                                  \
        check_ints(st, "expected.det." name, v, n);                                                                         \
    } while (0)
    INTS(row, "row");
    INTS(col, "col");
    INTS(is_vessel, "is_vessel");
    INTS(is_fishing, "is_fishing");
    INTS(area, "area");
    INTS(vessel_votes, "vessel_votes");
    INTS(fishing_votes, "fishing_votes");
#undef INTS
    free(v);
    uint16_t *len = malloc(((size_t)n + 1) * sizeof *len);
    for (int64_t i = 0; i < n; i++) len[i] = d[i].length_f16;
    check_f16(st, "expected.det.length", len, n);
    free(len);
    // float64 means, stored rounded to float32: equal after the same rounding
    const float *mv = xt_st_f32(st, "expected.det.mean_vessel", NULL), *mf = xt_st_f32(st, "expected.det.mean_fishing", NULL);
    const float *mc = xt_st_f32(st, "expected.det.mean_center", NULL), *ml = xt_st_f32(st, "expected.det.mean_length", NULL);
    CHECK(mv && mf && mc && ml);
    if (!mv || !mf || !mc || !ml) return;
    int bad = 0, badl = 0, exact = 0;
    for (int64_t i = 0; i < n; i++) {
        bad += (float)d[i].mean_vessel != mv[i] || (float)d[i].mean_fishing != mf[i] || (float)d[i].mean_center != mc[i];
        // one float16 ulp at the expected value (2^-10 relative, 2^-24 absolute below 2^-14)
        float ulp = fabsf(ml[i]) < 6.1035156e-05f ? 5.9604645e-08f : ldexpf(1.0f, ilogbf(ml[i]) - 10);
        int same = d[i].mean_length == ml[i] || fabsf(d[i].mean_length - ml[i]) <= ulp;
        if (!same) fprintf(stderr, "det %lld: mean_length %.9g, want %.9g (1 float16 ulp %.3g)\n", (long long)i, d[i].mean_length,
                           ml[i], ulp);
        badl += !same;
        exact += d[i].mean_length == ml[i];
    }
    CHECK(bad == 0);
    CHECK(badl == 0);
    printf("mean_length: %d of %lld bit-exact, the rest within one float16 ulp\n", exact, (long long)n);
}

// the 6-column CSV of dets, byte for byte equal to the golden file
static inline void check_csv(const char *path, const char *scene, const xt_xview_det *d, int64_t n) {
    size_t len;
    char *want = read_text(path, &len);
    if (!want) return;
    xt_sbuf s = {0};
    xt_xview_csv_header(&s);
    xt_xview_csv_rows(&s, scene, d, n);
    int same = s.n == len && !memcmp(s.p, want, len);
    CHECK(same);
    if (!same) fprintf(stderr, "%s differs:\n--- got\n%s--- want\n%s", path, s.p, want);
    xt_sbuf_free(&s);
    free(want);
}

// xt verify's runner (run/verify_xview_score.c) on a golden case: every expected.* tensor is
// emitted and equal (values, infinities included), and the CSVs beside the file agree
typedef struct {
    xt_st *st;
    int n, bad;
} exact_tap;

static inline void exact_fn(void *u, const char *name, const float *x, const int64_t *shape, int ndim) {
    exact_tap *e = u;
    char en[600];
    snprintf(en, sizeof en, "expected.%s", name);
    const xt_st_tensor *t;
    const float *r = xt_st_find(e->st, en) ? xt_st_f32(e->st, en, &t) : NULL;
    if (!r) return;
    int64_t numel = 1, bad = 0;
    for (int i = 0; i < ndim; i++) numel *= shape[i];
    if (numel != t->numel) bad = 1;
    for (int64_t i = 0; !bad && i < numel; i++) bad += x[i] != r[i];
    e->n++;
    e->bad += bad != 0;
    if (bad) fprintf(stderr, "verify runner: %s differs\n", name);
}

static inline void check_verify_runner(xt_st *st) {
    xt_sbuf c = {0};
    xt_sbuf_printf(&c, "{\"kind\": ");
    xt_sbuf_json_str(&c, xt_st_meta(st, "kind"));
    xt_sbuf_printf(&c, ", \"case\": ");
    xt_sbuf_json_str(&c, xt_st_meta(st, "case"));
    xt_sbuf_printf(&c, ", \"scene_id\": ");
    xt_sbuf_json_str(&c, xt_st_meta(st, "scene_id"));
    xt_sbuf_printf(&c, ", \"params\": %s}", xt_st_meta(st, "params"));
    xt_json *cfg = xt_json_parse(c.p, c.n, "config");
    xt_sbuf_free(&c);
    CHECK(cfg != NULL);
    if (!cfg) return;
    const xt_kind *k = xt_kind_find(xt_json_str(cfg, "kind", NULL));
    CHECK(k && k->verify_run == xt_xview_score_verify);
    exact_tap e = {st, 0, 0};
    xt_tap tap = {exact_fn, &e};
    int rc = xt_verify_run(k, st, cfg, &tap);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "%s\n", xt_error_buffer());
    int nexp = 0;
    for (int i = 0; i < st->n; i++) nexp += !strncmp(st->t[i].name, "expected.", 9);
    CHECK(e.n == nexp && e.bad == 0);
    printf("verify runner: %d of %d expected tensors equal\n", e.n - e.bad, nexp);
    xt_json_free(cfg);
}

#endif
