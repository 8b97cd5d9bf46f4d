// fuzz_ckpt.c — libFuzzer target for the checkpoint readers (not part of `make test`).
//
// One input goes through every parser that reads untrusted checkpoint bytes: the zip reader
// (open + read every entry), the pickle VM on the raw bytes, the whole loader (zip or legacy
// path, optimizer kept on odd sizes), config inference on whatever loads, and the YAML reader.
// Build and run: make fuzz && nice build/fuzz/fuzz_ckpt -max_total_time=600 build/fuzz/corpus tests/fuzz/corpus
#include <string.h>

#include "run/convert.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    xt_zip *z = xt_zip_open(data, size, "fuzz");
    if (z) {
        for (int i = 0; i < xt_zip_count(z) && i < 64; i++) {
            size_t n;
            xt_zip_read(z, i, &n);
        }
        xt_zip_close(z);
    }
    xt_pk_free(xt_pk_load(data, size, NULL, "fuzz"));
    xt_ckpt_opts o = {.keep_optimizer = (int)(size & 1)};
    // zip inputs twice: as they are, and with CRCs ignored so mutated pickles/storages get parsed
    if (size > 4 && data[0] == 'P') {
        xt__zip_no_crc = 1;
        xt_ckpt_free(xt_ckpt_load_mem(data, size, "fuzz", &o));
        xt__zip_no_crc = 0;
    }
    xt_ckpt *ck = xt_ckpt_load_mem(data, size, "fuzz", &o);
    if (ck) {
        xt_sbuf notes = {0};
        char *sets[] = {"crop_size=64", "swin.window_size=8", "context.attention_method=naive"};
        free(xt_ckpt_config(ck, NULL, sets, 3, &notes));
        // the pretrained-backbone path (src/io/pretrained.c): detect, map names, region config
        const char *from = xt_pretrained_detect(ck);
        if (!from) from = size & 2 ? "hiera" : size & 4 ? "timm-convnext" : "timm-swinv2";
        char *rsets[] = {"window_size=8", "hiera.num_heads=1"};
        if (!xt_pretrained_map(ck, from, size & 8 ? "encoder.model." : NULL))
            free(xt_ckpt_region_config(ck, from, size & 8 ? "encoder.model." : NULL, NULL, rsets, 2, &notes));
        xt_sbuf_free(&notes);
        xt_ckpt_free(ck);
    }
    if (size < 65536) {
        char *t = malloc(size + 1);
        memcpy(t, data, size);
        t[size] = 0;
        xt_json_free(xt_yaml_parse(t, size, "fuzz.yaml"));
        free(t);
    }
    return 0;
}
