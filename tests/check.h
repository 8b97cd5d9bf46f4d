// check.h — the whole test framework: CHECK, CHECK_CLOSE, a summary and the exit code.
#ifndef XT_CHECK_H
#define XT_CHECK_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_pass_, check_fail_;

#define CHECK(cond)                                                                            \
    do {                                                                                       \
        if (cond) check_pass_++;                                                               \
        else {                                                                                 \
            check_fail_++;                                                                     \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);           \
        }                                                                                      \
    } while (0)

// |a - r| <= atol + rtol * max(1, max|r|) elementwise; prints worst index on failure.
static inline int check_close_(const float *a, const float *r, long n, double atol, double rtol,
                               const char *label, const char *file, int line) {
    double mr = 0, md = 0;
    long worst = 0;
    for (long i = 0; i < n; i++) if (fabs(r[i]) > mr) mr = fabs(r[i]);
    for (long i = 0; i < n; i++) {
        double d = fabs((double)a[i] - r[i]);
        if (!(d <= md)) { md = d; worst = i; }
    }
    double tol = atol + rtol * (mr > 1 ? mr : 1);
    int ok = md <= tol;
    if (ok) check_pass_++;
    else {
        check_fail_++;
        fprintf(stderr, "%s:%d: %s: max|d| %.3e > tol %.3e at [%ld]: got %.7g want %.7g\n", file, line,
                label, md, tol, worst, a[worst], r[worst]);
    }
    return ok;
}
#define CHECK_CLOSE(a, r, n, atol, rtol, label) check_close_((a), (r), (n), (atol), (rtol), (label), __FILE__, __LINE__)

// Path of a golden file: tests/golden (the repository's copy of the official reference files,
// tests/golden/README.md; tests run from the repository root) or $XT_GOLDEN. A golden file the
// suite names must be there: a missing one is a failure with the path, never a skip.
static inline const char *golden(const char *name) {
    static char buf[4][1024];
    static int k;
    const char *dir = getenv("XT_GOLDEN");
    k = (k + 1) & 3;
    snprintf(buf[k], sizeof buf[k], "%s/%s", dir ? dir : "tests/golden", name);
    FILE *f = fopen(buf[k], "rb");
    if (f) fclose(f);
    else {
        check_fail_++;
        fprintf(stderr, "FAIL: golden file %s is missing (run the tests from the repository root, or set XT_GOLDEN)\n", buf[k]);
    }
    return buf[k];
}

static inline int check_summary(const char *name) {
    printf("%s: %d passed, %d failed\n", name, check_pass_, check_fail_);
    return check_fail_ ? 1 : 0;
}

#endif
