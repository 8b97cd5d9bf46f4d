// fuzz_safetensors.c — libFuzzer target for the safetensors reader (src/io/safetensors.c), not
// part of `make test`.
//
// Bytes -> a memory file -> xt_st_open; on success every tensor is converted to f32 (F16/BF16
// conversion, unaligned F32 copies), looked up by name and shape, checked for NaN/Inf, and the
// metadata is read: everything a model builder does with a file it was given.
// Build and run: make fuzz && tests/fuzz/run.sh safetensors 300 (see docs/robustness.md)
#include <string.h>

#include "formats/safetensors.h"
#include "fuzz_memfd.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    char path[64];
    int fd = fuzz_memfd(data, size, path, sizeof path);
    xt_st *st = xt_st_open(path);
    close(fd);
    if (st) {
        (void)xt_st_meta(st, "config");
        (void)xt_st_meta(st, "format");
        for (int i = 0; i < st->n; i++) {
            const xt_st_tensor *info = NULL;
            const char *name = st->t[i].name;
            const float *x = xt_st_f32(st, name, &info);
            if (x && info) {
                volatile float acc = 0;
                for (int64_t k = 0; k < info->numel; k++) acc += x[k]; // every element readable
                (void)acc;
                if (info->ndim >= 1) (void)xt_st_weightf(st, info->ndim, info->shape, "%s", name);
                (void)xt_st_weight(st, name, 2, (int64_t)3, (int64_t)4); // usually a shape mismatch
            }
            (void)xt_st_find(st, name);
        }
        (void)xt_st_find(st, "nope");
        (void)xt_st_check_finite(st, "");
        (void)xt_st_check_finite(st, "model.");
        xt_st_close(st);
    }
    xt_error_clear();
    return 0;
}
