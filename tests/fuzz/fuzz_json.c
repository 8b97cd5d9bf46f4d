// fuzz_json.c — libFuzzer target for the JSON parser (src/core/json.c), not part of `make test`.
//
// Any bytes -> xt_json_parse; on success every accessor is exercised on the root and on each
// member (configs are read through these), so a malformed DOM would show up as ASan/UBSan reports.
// Build and run: make fuzz && tests/fuzz/run.sh json 300 (see docs/robustness.md)
#include <stdlib.h>
#include <string.h>

#include "formats/safetensors.h"

static void walk(const xt_json *j, int depth) {
    if (!j || depth > 64) return;
    if (j->type == XT_JSON_OBJ) {
        for (int i = 0; i < j->n; i++) {
            const char *k = j->keys[i];
            int iv, arr[8];
            double dv;
            (void)xt_json_get(j, k);
            (void)xt_json_int(j, k, 0, &iv);
            (void)xt_json_num(j, k, 0, &dv);
            (void)xt_json_bool(j, k, 0, &iv);
            (void)xt_json_str(j, k, NULL);
            (void)xt_json_int_array(j, k, arr, 8);
            walk(j->items[i], depth + 1);
        }
        (void)xt_json_get(j, "absent");
    } else if (j->type == XT_JSON_ARR) {
        for (int i = 0; i < j->n; i++) walk(j->items[i], depth + 1);
    } else if (j->type == XT_JSON_STR) {
        (void)strlen(j->str);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    // not NUL-terminated on purpose: the parser must respect len
    char *t = malloc(size ? size : 1);
    memcpy(t, data, size);
    xt_json *j = xt_json_parse(t, size, "fuzz.json");
    walk(j, 0);
    xt_json_free(j);
    free(t);
    xt_error_clear();
    return 0;
}
