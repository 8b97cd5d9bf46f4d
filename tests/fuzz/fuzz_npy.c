// fuzz_npy.c — libFuzzer target for the .npy point-list reader (src/formats/npy.c) and the numpy
// mode of the restricted pickle VM (src/formats/pickle.c), not part of `make test`.
//
// Any bytes -> xt_npy_parse_contours; on success every point is read. Seeds: golden shoreline
// files in tests/fuzz/corpus_npy (object arrays of float64 / int64 / int32 contours, empty arrays).
// Build and run: make fuzz && tests/fuzz/run.sh npy -t 300 (see docs/robustness.md)
#include <stdlib.h>

#include "formats/npy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xt_npy_contours c;
    if (xt_npy_parse_contours(data, size, "fuzz.npy", &c)) return 0;
    double s = 0;
    for (int64_t i = 0; i < 2 * c.total; i++) s += c.pts[i];
    int64_t t = 0;
    for (int k = 0; k < c.n; k++) t += c.len[k];
    if (t != c.total) abort();
    (void)s;
    xt_npy_contours_free(&c);
    return 0;
}
