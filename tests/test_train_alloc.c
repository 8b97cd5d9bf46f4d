// test_train_alloc.c — a training step allocates nothing: arenas and buffers are sized by pure
// functions of the model and the batch and allocated once at setup (docs/training.md). Counts
// malloc / calloc / realloc / aligned_alloc calls inside steps 3..6 of xt_train_run for every
// region encoder with the naive head and the xl head (naive, hyper and mamba context), with and
// without gradient chipping, on one thread: a threaded library sgemm may allocate its own buffers
// per call, which is not ours to plan. Under AddressSanitizer (which owns malloc) it only runs
// the steps.
#include "check.h"
#include <unistd.h>

#include "train/train.h"

#if defined(__SANITIZE_ADDRESS__)
#define COUNTING 0
#else
#define COUNTING 1
extern void *__libc_malloc(size_t n), *__libc_calloc(size_t a, size_t b), *__libc_realloc(void *p, size_t n),
    *__libc_memalign(size_t a, size_t n);
static int counting;
static long n_alloc;
static void count(void) {
    if (__atomic_load_n(&counting, __ATOMIC_RELAXED)) __atomic_add_fetch(&n_alloc, 1, __ATOMIC_RELAXED);
}
void *malloc(size_t n) { return count(), __libc_malloc(n); }
void *calloc(size_t a, size_t b) { return count(), __libc_calloc(a, b); }
void *realloc(void *p, size_t n) { return count(), __libc_realloc(p, n); }
void *aligned_alloc(size_t a, size_t n) { return count(), __libc_memalign(a, n); }
#endif

// progress runs after each step: count from the end of step 2 to the end of step 6 (the first
// steps may warm up thread pools; the checkpoint written after step 6 is not counted)
static void progress(void *u, int64_t step, int64_t total, double loss, double lr, double sec) {
    (void)u, (void)total, (void)loss, (void)lr, (void)sec;
#if COUNTING
    __atomic_store_n(&counting, step >= 2 && step < 6, __ATOMIC_RELAXED);
#else
    (void)step;
#endif
}

int main(void) {
    static const char *enc[] = {
        "\"swin\": {\"embed_dim\": 8, \"depths\": [1, 1], \"num_heads\": [1, 2], \"window_size\": 4}",
        "\"hiera\": {\"embed_dim\": 8, \"num_heads\": 1, \"stages\": [1, 1, 1], \"q_pool\": 2, \"q_stride\": [2, 2], "
        "\"mask_unit_size\": [4, 4], \"mask_unit_attn\": [true, false, false]}",
        "\"convnext\": {\"dims\": [8, 16, 32], \"depths\": [1, 1, 1]}",
    };
    static const char *head[][2] = {{"naive", "naive"}, {"xl", "naive"}, {"xl", "hyper"}, {"xl", "mamba"}};
    xt_set_threads(1);
    char out[] = "/tmp/xt_test_train_alloc_XXXXXX";
    int fd = mkstemp(out);
    CHECK(fd >= 0);
    close(fd);
    for (int e = 0; e < 3; e++)
        for (int h = 0; h < 4; h++)
            for (int chip = 0; chip < 2; chip++) {
                char js[1024];
                snprintf(js, sizeof js,
                         "{\"kind\": \"xt\", \"cls_head\": \"%s\", \"crop_size\": 32, \"num_classes\": 2, \"mlp_ratio\": 2, "
                         "\"context\": {\"attention_method\": \"%s\", \"hidden_size\": 128, \"n_layer\": 2}, %s}",
                         head[h][0], head[h][1], enc[e]);
                xt_json *cfg = xt_json_parse(js, strlen(js), "test config");
                xt_train_opts o;
                xt_train_opts_default(&o);
                o.img_size = 64, o.batch = 2, o.steps = 6, o.data = "synth:8:1", o.out = out;
                o.grad_ratio = chip ? 0.5 : 1.0, o.progress = progress;
                xt_train_result r;
#if COUNTING
                n_alloc = 0;
#endif
                int rc = xt_train_run(cfg, NULL, 0, &o, &r);
                progress(NULL, 0, 0, 0, 0, 0);
                if (rc) fprintf(stderr, "%s\n", xt_error_buffer());
                CHECK(rc == 0 && r.step == 6);
#if COUNTING
                if (n_alloc) fprintf(stderr, "encoder %d, head %s/%s, chipping %d: %ld allocations in 4 steps\n", e,
                                     head[h][0], head[h][1], chip, n_alloc);
                CHECK(n_alloc == 0);
#endif
                xt_json_free(cfg);
            }
    unlink(out);
    printf("%s\n", COUNTING ? "steps 3..6 allocated nothing (24 models)" : "AddressSanitizer: allocations not counted");
    return check_summary("train_alloc");
}
