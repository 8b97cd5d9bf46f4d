// test_train_infer.c — a model trained by xt is read the same way by the inference path: for
// fresh weights of each head (naive; xl with naive, hyper and mamba context layers), the logits
// of the training forward equal those of the streaming inference model (`xt verify`'s kind
// "xt" runner) on the same image, within 1e-4 x max(1, max|logit|). The last case sets Swin V2's
// pretrained_window_sizes (training and inference each build the position-bias table from it).
#include <unistd.h>

#include "check.h"
#include "run/verify.h"
#include "train/train.h"

static float got[64];
static int have;
static void tap_fn(void *u, const char *path, const float *x, const int64_t *shape, int ndim) {
    if (strcmp(path, "logits")) return;
    int64_t n = 1;
    for (int i = 0; i < ndim; i++) n *= shape[i];
    if (n <= 64) { memcpy(got, x, n * sizeof(float)); have = (int)n; }
}

static void one(const char *head, const char *attn, int D, int N, const char *pws) {
    char cfgs[1024];
    snprintf(cfgs, sizeof cfgs,
             "{\"kind\": \"xt\", \"cls_head\": \"%s\", \"crop_size\": 64, \"num_classes\": 5, \"mlp_ratio\": 2, "
             "\"context\": {\"attention_method\": \"%s\", \"hidden_size\": %d, \"n_layer\": 2, \"in_context_patches\": -1}, "
             "\"swin\": {\"embed_dim\": 8, \"depths\": [2, 1, 1, 1], \"num_heads\": [1, 1, 2, 2], \"window_size\": 8, "
             "\"pretrained_window_sizes\": %s}}",
             head, attn, D, pws);
    xt_json *cfg = xt_json_parse(cfgs, strlen(cfgs), "cfg");
    xt_params P = {0};
    xt_xt_train *m = xt_xt_train_new(&P, cfg, NULL);
    CHECK(m != NULL);
    if (!m) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    CHECK(xt_params_alloc(&P) == 0);
    xt_params_init(&P, 42);
    int S = 128;
    size_t ni = (size_t)N * 3 * S * S;
    float *img = malloc(ni * sizeof(float)), lg[64];
    uint64_t r = 9;
    for (size_t i = 0; i < ni; i++) img[i] = (float)xt_rng_normal(&r);
    xt_arena act;
    CHECK(xt_arena_init(&act, xt_xt_train_act_bytes(m, N, S, S, 0)) == 0);
    CHECK(xt_xt_train_forward(m, &P, img, N, S, S, NULL, lg, &act, NULL) == 0);
    // the same weights + image as a model file, run by the inference model
    char path[] = "/tmp/xt_train_infer_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    xt_st_writer *w = xt_st_writer_new();
    xt_st_writer_meta(w, "config", cfgs);
    for (int i = 0; i < P.n; i++) xt_st_writer_add(w, P.p[i].name, xt_pw(&P, i), P.p[i].ndim, P.p[i].shape);
    int64_t sh[4] = {N, 3, S, S};
    xt_st_writer_add(w, "input.image", img, 4, sh);
    CHECK(xt_st_writer_save(w, path) == 0);
    xt_st *st = xt_st_open(path);
    CHECK(st != NULL);
    have = 0;
    xt_tap tap = {tap_fn, NULL};
    int rc = st ? xt_verify_run(xt_kind_find("xt"), st, cfg, &tap) : -1;
    if (rc) fprintf(stderr, "%s/%s: %s\n", head, attn, xt_error_buffer());
    CHECK(rc == 0 && have == N * 5);
    char label[64];
    snprintf(label, sizeof label, "%s/%s logits", head, attn);
    CHECK_CLOSE(got, lg, N * 5, 0, 1e-4, label);
    xt_st_close(st);
    unlink(path);
    xt_arena_free(&act);
    free(img);
    xt_xt_train_free(m);
    xt_params_free(&P);
    xt_json_free(cfg);
}

int main(void) {
    one("naive", "naive", 64, 2, "null");
    one("xl", "naive", 32, 2, "null");
    one("xl", "hyper", 128, 1, "null");
    one("xl", "mamba", 32, 2, "null");
    one("naive", "naive", 64, 1, "[12, 12, 6, 6]");
    return check_summary("train_infer");
}
