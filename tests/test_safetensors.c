// test_safetensors.c — reader/writer round trip, dtype conversion, and every validation rule:
// each hostile file must be rejected with a message naming the file and tensor.
#include <unistd.h>

#include "check.h"
#include "formats/safetensors.h"

static char dir[512];

static const char *path(const char *name) {
    static char p[1024];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    return p;
}

// Writes a file from a JSON header and raw data bytes.
static const char *write_raw(const char *name, const char *header, const void *data, size_t n, long hlen_override) {
    const char *p = path(name);
    FILE *f = fopen(p, "wb");
    uint64_t hl = hlen_override >= 0 ? (uint64_t)hlen_override : strlen(header);
    fwrite(&hl, 8, 1, f);
    fwrite(header, 1, strlen(header), f);
    if (n) fwrite(data, 1, n, f);
    fclose(f);
    return p;
}

static void expect_fail(const char *name, const char *header, size_t ndata, long hlen, const char *msg) {
    static float data[64];
    const char *p = write_raw(name, header, data, ndata, hlen);
    xt_st *st = xt_st_open(p);
    CHECK(st == NULL);
    if (st) xt_st_close(st);
    const char *e = xt_error_buffer();
    int ok = strstr(e, msg) != NULL && strstr(e, name) != NULL;
    if (!ok) fprintf(stderr, "  %s: got error '%s', wanted '%s'\n", name, e, msg);
    CHECK(ok);
}

int main(void) {
    const char *b = getenv("BUILD");
    snprintf(dir, sizeof dir, "%s/tmp_st", b ? b : "build");
    char cmd[600];
    snprintf(cmd, sizeof cmd, "mkdir -p %s", dir);
    CHECK(system(cmd) == 0);

    // round trip through the writer
    float a[6] = {1, 2, 3, 4, 5, -6}, c[1] = {42};
    xt_st_writer *w = xt_st_writer_new();
    xt_st_writer_meta(w, "config", "{\"kind\": \"x\"}");
    xt_st_writer_add(w, "a.weight", a, 2, (int64_t[]){2, 3});
    xt_st_writer_add(w, "c", c, 0, NULL);
    CHECK(xt_st_writer_save(w, path("rt.safetensors")) == 0);
    xt_st *st = xt_st_open(path("rt.safetensors"));
    CHECK(st != NULL);
    if (st) {
        CHECK(st->n == 2);
        CHECK(strcmp(xt_st_meta(st, "config"), "{\"kind\": \"x\"}") == 0);
        const float *p = xt_st_weight(st, "a.weight", 2, (int64_t)2, (int64_t)3);
        CHECK(p && CHECK_CLOSE(p, a, 6, 0, 0, "roundtrip"));
        CHECK(xt_st_weight(st, "a.weight", 2, (int64_t)3, (int64_t)2) == NULL);
        CHECK(strstr(xt_error_buffer(), "has shape (2, 3), the model config needs (3, 2)") != NULL);
        CHECK(xt_st_weight(st, "missing", 1, (int64_t)1) == NULL);
        CHECK(strstr(xt_error_buffer(), "tensor 'missing' not found") != NULL);
        const xt_st_tensor *t = xt_st_find(st, "c");
        CHECK(t && t->ndim == 0 && t->numel == 1 && xt_st_f32(st, "c", NULL)[0] == 42);
        CHECK(xt_st_check_finite(st, NULL) == 0);
        xt_st_close(st);
    }

    // F16 and BF16 are converted to F32 (1.0, -2.5, 65504 / 1.0, -2.5)
    uint16_t h[3] = {0x3c00, 0xc100, 0x7bff}, bf[2] = {0x3f80, 0xc020};
    uint8_t raw[10];
    memcpy(raw, h, 6);
    memcpy(raw + 6, bf, 4);
    const char *hdr = "{\"h\":{\"dtype\":\"F16\",\"shape\":[3],\"data_offsets\":[0,6]},"
                      "\"b\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[6,10]}}";
    st = xt_st_open(write_raw("half.safetensors", hdr, raw, 10, -1));
    CHECK(st != NULL);
    if (st) {
        const float *ph = xt_st_f32(st, "h", NULL), *pb = xt_st_f32(st, "b", NULL);
        CHECK(ph && ph[0] == 1.0f && ph[1] == -2.5f && ph[2] == 65504.0f);
        CHECK(pb && pb[0] == 1.0f && pb[1] == -2.5f);
        xt_st_close(st);
    }

    // NaN weights are caught by the finiteness check
    float nanv[2] = {1, NAN};
    write_raw("nan.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", nanv, 8, -1);
    st = xt_st_open(path("nan.safetensors"));
    CHECK(st && xt_st_check_finite(st, NULL) == -1 && strstr(xt_error_buffer(), "tensor 'w' holds a non-finite value"));
    xt_st_close(st);

    // hostile files
    const char *ok1 = "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}";
    expect_fail("empty-header.safetensors", "", 0, 0, "unexpected end");
    {   // 3-byte file
        FILE *f = fopen(path("tiny.safetensors"), "wb");
        fwrite("abc", 1, 3, f);
        fclose(f);
        CHECK(xt_st_open(path("tiny.safetensors")) == NULL && strstr(xt_error_buffer(), "too short"));
    }
    expect_fail("hlen.safetensors", ok1, 8, 1 << 20, "runs past the end");
    expect_fail("json.safetensors", "{\"w\":{\"dtype\":\"F32\",", 8, -1, "json");
    expect_fail("notobj.safetensors", "[1,2]", 0, -1, "not a JSON object");
    expect_fail("dtype.safetensors", "{\"w\":{\"dtype\":\"I64\",\"shape\":[1],\"data_offsets\":[0,8]}}", 8, -1, "unsupported dtype 'I64'");
    expect_fail("nodtype.safetensors", "{\"w\":{\"shape\":[1],\"data_offsets\":[0,4]}}", 8, -1, "missing dtype");
    expect_fail("range.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4],\"data_offsets\":[0,16]}}", 8, -1, "outside the data area");
    expect_fail("size.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, -1, "needs 12");
    expect_fail("neg.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[-1],\"data_offsets\":[0,8]}}", 8, -1, "shape[0]");
    expect_fail("ovf.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8, -1, "overflows");
    expect_fail("rev.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}", 8, -1, "outside the data area");
    expect_fail("overlap.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},\"v\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, -1, "overlaps");
    expect_fail("dup.safetensors",
                "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0,4]},\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                8, -1, "duplicate name");
    expect_fail("meta.safetensors", "{\"__metadata__\":{\"a\":1}}", 0, -1, "is not a string");
    expect_fail("offs.safetensors", "{\"w\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[0]}}", 8, -1, "malformed data_offsets");
    CHECK(xt_st_open(path("does-not-exist")) == NULL && strstr(xt_error_buffer(), "cannot open"));
    // levels above name the file only when no level below did (docs/design.md, "Errors")
    char want[1200];
    snprintf(want, sizeof want, "swinv2: safetensors: %s: cannot open: ", path("does-not-exist"));
    xt_error_prefix("swinv2");
    xt_error_in_file(path("does-not-exist"));
    CHECK(!strncmp(xt_error_buffer(), want, strlen(want)));
    xt_error("swinv2", "config: 'window_size' must be a number");
    xt_error_in_file("m.safetensors");
    xt_error_in_file("m.safetensors");
    xt_error_in_file(NULL);
    CHECK(!strcmp(xt_error_buffer(), "m.safetensors: swinv2: config: 'window_size' must be a number"));
    xt_error("xt", "another message"); // a new message names no file until told
    xt_error_in_file("m.safetensors");
    CHECK(!strcmp(xt_error_buffer(), "m.safetensors: xt: another message"));

    // the golden files all load and validate
    const char *gold[] = {"swinv2_region_256.safetensors", "xt_cls_xl.safetensors", "xt_cls_mamba_grad.safetensors"};
    for (int i = 0; i < 3; i++) {
        st = xt_st_open(golden(gold[i]));
        CHECK(st != NULL && xt_st_meta(st, "config") != NULL);
        if (!st) fprintf(stderr, "  %s\n", xt_error_buffer());
        xt_st_close(st);
    }
    return check_summary("safetensors");
}
