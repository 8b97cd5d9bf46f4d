// test_shared_model.c — one loaded model is read-only while it runs: for every context encoder
// (golden xt_cls_* files, hyper_long = the HyperAttention long path on 2 x 2 regions), ONE model
// classifies the file's image serially, then from 4 application threads at once for 12 rounds
// through xt_classify_image; every result must equal the serial logits (|d| <= 1e-6 max(1, |ref|),
// in practice bit-for-bit: every call runs on one OpenMP thread). A run that kept state in the
// model (HyperAttention's draws and hash counters did) gives other logits when runs overlap.
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xt.h"

// ---- golden tensors: the only use of an internal header ------------------------------------
#include "formats/safetensors.h"

// Copies input.image element 0 (C, H, W) into a fresh buffer.
static float *golden_image(const char *path, int *C, int *H, int *W) {
    xt_st *st = xt_st_open(path);
    if (!st) return NULL;
    const xt_st_tensor *ti;
    const float *im = xt_st_f32(st, "input.image", &ti);
    float *img = NULL;
    if (im && ti->ndim == 4) {
        *C = (int)ti->shape[1], *H = (int)ti->shape[2], *W = (int)ti->shape[3];
        size_t n = (size_t)*C * *H * *W;
        if ((img = malloc(n * sizeof(float)))) memcpy(img, im, n * sizeof(float));
    }
    xt_st_close(st);
    return img;
}
// ---------------------------------------------------------------------------------------------

enum { NT = 4, ROUNDS = 12, KMAX = 1024 };

typedef struct {
    const xt_model *m;
    const float *img, *ref;
    float tol;
    int C, H, W, K;
    pthread_barrier_t *go; // every thread starts each round together, so runs overlap
    int bad, errs;          // runs with other logits / with an error
    char msg[256];          // the first error
} runner;

static void *run_rounds(void *arg) {
    runner *r = arg;
    float lg[KMAX];
    for (int it = 0; it < ROUNDS; it++) {
        pthread_barrier_wait(r->go);
        if (xt_classify_image(r->m, r->img, r->C, r->H, r->W, 1, lg)) {
            if (!r->errs++) snprintf(r->msg, sizeof r->msg, "%s", xt_error_buffer());
            continue;
        }
        int same = 1;
        for (int k = 0; k < r->K; k++) same &= fabsf(lg[k] - r->ref[k]) <= r->tol;
        r->bad += !same;
    }
    return NULL;
}

static void test_shared(const char *name) {
    char file[256];
    snprintf(file, sizeof file, "xt_cls_%s.safetensors", name);
    const char *path = golden(file);
    int C = 0, H = 0, W = 0;
    float *img = access(path, R_OK) == 0 ? golden_image(path, &C, &H, &W) : NULL;
    xt_model *m = img ? xt_model_load(path) : NULL;
    if (!m) {
        fprintf(stderr, "%s: cannot read: %s\n", path, xt_error_buffer());
        CHECK(0);
        free(img);
        return;
    }
    int K = xt_model_num_classes(m);
    float ref[KMAX];
    CHECK(K > 0 && K <= KMAX);
    CHECK(xt_classify_image(m, img, C, H, W, 1, ref) == 0); // the serial reference
    float tol = 1;
    for (int k = 0; k < K; k++) tol = fmaxf(tol, fabsf(ref[k]));
    tol *= 1e-6f;
    pthread_barrier_t go;
    pthread_barrier_init(&go, NULL, NT);
    runner r[NT];
    pthread_t th[NT];
    for (int t = 0; t < NT; t++) {
        r[t] = (runner){m, img, ref, tol, C, H, W, K, &go, 0, 0, ""};
        CHECK(pthread_create(&th[t], NULL, run_rounds, &r[t]) == 0);
    }
    int bad = 0, errs = 0;
    for (int t = 0; t < NT; t++) {
        pthread_join(th[t], NULL);
        bad += r[t].bad, errs += r[t].errs;
        if (r[t].errs) fprintf(stderr, "%s: thread %d: %s\n", name, t, r[t].msg);
    }
    pthread_barrier_destroy(&go);
    printf("%-14s %d of %d shared runs differ from the serial run, %d errors\n", name, bad, NT * ROUNDS, errs);
    CHECK(bad == 0 && errs == 0);
    xt_model_free(m);
    free(img);
}

int main(void) {
    if (access(golden("xt_cls_hyper_long.safetensors"), R_OK) != 0) {
        printf("skip: golden files not found\n");
        return check_summary("shared_model");
    }
    const char *kinds[] = {"hyper_long", "hyper", "mamba", "xl", "naive", "xl_incontext"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) test_shared(kinds[i]);
    return check_summary("shared_model");
}
