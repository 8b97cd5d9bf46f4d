// test_xt_context.c — the xT context encoders and heads on every golden xt_cls_* file, fed with
// the file's own region features (expected.encoder.3), through the streaming API (xt_ctx_*).
// Isolates the decoder from the region encoder. Every emitted tensor that the file holds is
// compared: |a - r| <= 1e-4 * max(1, max|r|) (golden README tolerance), and the logits and all
// variant logits the file holds must have been computed.
#include <string.h>

#include "check_golden.h"
#include "run/verify.h"

typedef struct {
    xt_st *st;
    int compared, failed;
    char seen[64][128];
    int nseen;
} cmp_state;

static void cmp(void *u, const char *name, const float *x, const int64_t *shape, int ndim) {
    cmp_state *c = u;
    int r = check_golden(c->st, name, x, shape, ndim, 0.0, 1e-4);
    if (r <= 0) return;
    c->compared++;
    if (r == 2) c->failed++;
    if (c->nseen < 64) snprintf(c->seen[c->nseen++], 128, "%s", name);
}

static int seen(cmp_state *c, const char *n) {
    for (int i = 0; i < c->nseen; i++)
        if (!strcmp(c->seen[i], n)) return 1;
    return 0;
}

static void run_file(const char *name) {
    xt_st *st = xt_st_open(golden(name));
    CHECK(st != NULL);
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    const char *cs = xt_st_meta(st, "config");
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "config");
    xt_xtmodel_params p = {NULL, 1};
    xt_xtmodel *m = xt_xtmodel_new_with(st, cfg, p);
    CHECK(m != NULL);
    if (!m) { fprintf(stderr, "%s: %s\n", name, xt_error_buffer()); goto out; }
    const xt_st_tensor *e3 = xt_st_find(st, "expected.encoder.3"), *s3 = xt_st_find(st, "expected.stitched.3");
    const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
    CHECK(e3 && s3 && e3->shape[1] == in->feat_c && e3->shape[2] == in->feat_h);
    int N = (int)s3->shape[0], HP = (int)(s3->shape[2] / e3->shape[2]), WP = (int)(s3->shape[3] / e3->shape[3]);
    cmp_state c = {.st = st};
    xt_tap tap = {cmp, &c};
    int rc = xt__xt_verify_context(st, cfg, m, xt_st_f32(st, "expected.encoder.3", NULL), N, HP, WP, &tap);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "%s: %s\n", name, xt_error_buffer());
    CHECK(seen(&c, "logits"));
    for (int i = 0; i < st->n; i++) {
        const char *tn = st->t[i].name;
        if (!strncmp(tn, "expected.variant_", 17) && strstr(tn, ".logits")) {
            CHECK(seen(&c, tn + 9));
            if (!seen(&c, tn + 9)) fprintf(stderr, "%s: %s not computed\n", name, tn);
        }
    }
    printf("%s: %d tensors compared, %d failed\n", name, c.compared, c.failed);
out:
    xt_xtmodel_free(m);
    xt_json_free(cfg);
    xt_st_close(st);
}

int main(void) {
    const char *files[] = {"xt_cls_naive.safetensors", "xt_cls_xl.safetensors", "xt_cls_xl_incontext.safetensors",
                           "xt_cls_hyper.safetensors", "xt_cls_hyper_long.safetensors", "xt_cls_mamba.safetensors"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) run_file(files[i]);
    // the HyperAttention long path with x parked in a scratch file while the heads run (from
    // 64 MiB of x by default; here at any size)
    setenv("XT_CONTEXT_SPILL_MIB", "0", 1);
    run_file("xt_cls_hyper_long.safetensors");
    unsetenv("XT_CONTEXT_SPILL_MIB");
    return check_summary("xt_context");
}
