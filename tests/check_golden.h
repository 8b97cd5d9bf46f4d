// check_golden.h — compare a tapped tensor with expected.<name> of a golden-format file.
// Separate from check.h because it needs the internal safetensors reader (core.h).
#ifndef XT_CHECK_GOLDEN_H
#define XT_CHECK_GOLDEN_H

#include "check.h"
#include "formats/safetensors.h"

// 0: the file has no expected.<name>; -1: element counts differ (a failed CHECK);
// 1: compared and within |d| <= atol + rtol * max(1, max|ref|); 2: compared and not within (failed).
static inline int check_golden(xt_st *st, const char *name, const float *x, const int64_t *shape, int ndim,
                               double atol, double rtol) {
    char en[600];
    snprintf(en, sizeof en, "expected.%s", name);
    const xt_st_tensor *t = xt_st_find(st, en);
    if (!t) return 0;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    CHECK(n == t->numel);
    if (n != t->numel) {
        fprintf(stderr, "%s: %lld elements, expected %lld\n", name, (long long)n, (long long)t->numel);
        return -1;
    }
    return CHECK_CLOSE(x, xt_st_f32(st, en, NULL), n, atol, rtol, name) ? 1 : 2;
}

#endif
