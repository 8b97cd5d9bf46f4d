// test_hostile.c — regression tests for bugs the fuzz targets (tests/fuzz/, docs/robustness.md)
// found in the loaders: each input below once crashed, hit undefined behaviour, leaked or
// allocated absurdly; now each must give a clear error (or a correct result) and nothing else.
// The suite runs this at -O2 and under ASan+UBSan (`make asan`), which is what keeps them fixed.
#include <string.h>

#include "check.h"
#include "core/core.h"

const char *xt_error_buffer(void);

static xt_json *P(const char *s) { return xt_json_parse(s, strlen(s), "hostile"); }

// fuzz_json: an integer array entry outside int's range was cast to int (UB; wraps in practice,
// so "dims": [162147483648] became a negative width).
static void json_int_array_range(void) {
    const char *bad[] = {"{\"d\": [162147483648, 32]}", "{\"d\": [1e300]}", "{\"d\": [-2147483649]}", "{\"d\": [2147483648]}"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        xt_json *j = P(bad[i]);
        int out[4];
        CHECK(j != NULL);
        CHECK(xt_json_int_array(j, "d", out, 4) == -1);
        CHECK(strstr(xt_error_buffer(), "'d'[0] must be an integer") != NULL);
        xt_json_free(j);
    }
    xt_json *j = P("{\"d\": [2147483647, -2147483647, 0]}");
    int out[4];
    CHECK(xt_json_int_array(j, "d", out, 4) == 3 && out[0] == 2147483647 && out[1] == -2147483647 && out[2] == 0);
    xt_json_free(j);
}

int main(void) {
    json_int_array_range();
    return check_summary("hostile");
}
