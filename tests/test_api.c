// test_api.c — the public API (include/xt.h) as a user sees it: only "xt.h" (the golden-file
// reader below is the one exception, kept apart). xt_classify_image on a golden xT file's
// input.image element 0 and xt_classify_file on the same image as a float32 TIFF (written by
// `xt make-image --from-tensor`) both give expected.logits within 1e-4 (|d| <= 1e-4 *
// max(1, max|ref|), the verify rule); the error paths return -1 / NULL with a message; one model
// shared by three application threads at once gives the same logits (every context encoder).
#include <pthread.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xt.h"

// ---- golden tensors: the only use of internal headers -----------------------------------
#include "formats/safetensors.h"

// Copies input.image element 0 (C, H, W) and expected.logits row 0 into fresh buffers.
static int golden_read(const char *path, float **img, int *C, int *H, int *W, float **logits, int *K) {
    xt_st *st = xt_st_open(path);
    if (!st) return -1;
    const xt_st_tensor *ti, *tl;
    const float *im = xt_st_f32(st, "input.image", &ti), *lg = xt_st_f32(st, "expected.logits", &tl);
    if (!im || !lg || ti->ndim != 4) {
        xt_st_close(st);
        return -1;
    }
    *C = (int)ti->shape[1], *H = (int)ti->shape[2], *W = (int)ti->shape[3], *K = (int)tl->shape[tl->ndim - 1];
    size_t n = (size_t)*C * *H * *W;
    *img = malloc(n * sizeof(float));
    *logits = malloc((size_t)*K * sizeof(float));
    memcpy(*img, im, n * sizeof(float));
    memcpy(*logits, lg, (size_t)*K * sizeof(float));
    xt_st_close(st);
    return 0;
}
// -------------------------------------------------------------------------------------------

// One shared model used from several application threads at once (the header promises an
// immutable, shareable model): each thread classifies the file and the in-memory image a few
// times with its own thread count; every result must equal the reference.
typedef struct {
    const xt_model *m;
    const char *tif;
    const float *img, *ref;
    float scale; // the verify rule: |d| <= 1e-4 max(1, max|ref|)
    int C, H, W, K, threads, bad, errs;
} runner;

static void *run_many(void *arg) {
    runner *r = arg;
    float lg[1024];
    for (int it = 0; it < 3; it++) {
        xt_classify_params p = xt_classify_default_params();
        p.threads = r->threads;
        p.batch = 2 + it;
        p.n_mean = p.n_std = r->C;
        for (int i = 0; i < r->C; i++) p.mean[i] = 0, p.std[i] = 1;
        p.mem_mb = it == 2 ? 0 : 64; // the last round spills its tokens
        int rc = xt_classify_file(r->m, r->tif, &p, lg);
        r->errs += rc != 0;
        for (int k = 0; k < r->K && !rc; k++) r->bad += !(fabsf(lg[k] - r->ref[k]) <= 1e-4f * r->scale);
        rc = xt_classify_image(r->m, r->img, r->C, r->H, r->W, r->threads, lg);
        r->errs += rc != 0;
        for (int k = 0; k < r->K && !rc; k++) r->bad += !(fabsf(lg[k] - r->ref[k]) <= 1e-4f * r->scale);
    }
    return NULL;
}

// xt_cls_<name>: written as a float TIFF, then classified by 3 threads at once (1, 2, 1 threads each)
static void test_concurrent(const char *name) {
    char file[256], tif[1024], cmd[4096];
    snprintf(file, sizeof file, "xt_cls_%s.safetensors", name);
    const char *path = golden(file);
    float *img = NULL, *ref = NULL;
    int C = 0, H = 0, W = 0, K = 0;
    if (access(path, R_OK) != 0 || golden_read(path, &img, &C, &H, &W, &ref, &K) < 0 || K > 1024) {
        fprintf(stderr, "%s: cannot read\n", path);
        CHECK(0);
        return;
    }
    const char *bd = getenv("BUILD"), *xt = getenv("XT");
    snprintf(tif, sizeof tif, "%s/tests/api_conc_%s.tif", bd ? bd : "build", name);
    snprintf(cmd, sizeof cmd, "%s make-image %s --from-tensor %s:input.image:0", xt ? xt : "./xt", tif, path);
    CHECK(system(cmd) == 0);
    xt_model *m = xt_model_load(path);
    CHECK(m != NULL);
    if (m) {
        enum { NT = 3 };
        runner r[NT];
        pthread_t th[NT];
        float scale = 1;
        for (int k = 0; k < K; k++) scale = fmaxf(scale, fabsf(ref[k]));
        for (int t = 0; t < NT; t++) {
            r[t] = (runner){m, tif, img, ref, scale, C, H, W, K, t == 1 ? 2 : 1, 0, 0};
            CHECK(pthread_create(&th[t], NULL, run_many, &r[t]) == 0);
        }
        int bad = 0, errs = 0;
        for (int t = 0; t < NT; t++) {
            pthread_join(th[t], NULL);
            bad += r[t].bad, errs += r[t].errs;
        }
        if (bad || errs) fprintf(stderr, "concurrent %s: %d wrong logits, %d errors\n", name, bad, errs);
        CHECK(bad == 0 && errs == 0);
        xt_model_free(m);
    }
    free(img);
    free(ref);
}

static int progress_calls;
static int64_t progress_last, progress_total;
static void on_progress(void *user, int64_t done, int64_t total) {
    (*(int *)user)++;
    progress_last = done;
    progress_total = total;
}

int main(void) {
    const char *path = golden("xt_cls_xl.safetensors");
    if (access(path, R_OK) != 0) return check_summary("api"); // golden() counted the failure
    float *img = NULL, *ref = NULL;
    int C = 0, H = 0, W = 0, K = 0;
    if (golden_read(path, &img, &C, &H, &W, &ref, &K) < 0) {
        fprintf(stderr, "%s: %s\n", path, xt_error_buffer());
        CHECK(0);
        return check_summary("api");
    }

    xt_model *m = xt_model_load(path);
    CHECK(m != NULL);
    if (!m) {
        fprintf(stderr, "%s\n", xt_error_buffer());
        return check_summary("api");
    }
    CHECK(xt_model_num_classes(m) == K);
    CHECK(xt_model_in_chans(m) == C);
    CHECK(xt_model_region_size(m) > 0 && xt_model_region_size(m) <= H);
    float *lg = calloc((size_t)K, sizeof(float));

    // in-memory image
    CHECK(xt_classify_image(m, img, C, H, W, 2, lg) == 0);
    CHECK_CLOSE(lg, ref, K, 0, 1e-4, "xt_classify_image logits");

    // the same image as a float32 TIFF, streamed; normalisation off (the image is normalised)
    char tif[1024], cmd[4096];
    const char *bd = getenv("BUILD"), *xt = getenv("XT");
    snprintf(tif, sizeof tif, "%s/tests/api_xt_cls_xl.tif", bd ? bd : "build");
    snprintf(cmd, sizeof cmd, "%s make-image %s --from-tensor %s:input.image:0", xt ? xt : "./xt", tif, path);
    CHECK(system(cmd) == 0);
    xt_classify_params p = xt_classify_default_params();
    CHECK(p.batch > 0 && p.mem_mb > 0 && p.threads == 0);
    p.threads = 2;
    p.batch = 3;
    p.n_mean = p.n_std = C;
    for (int i = 0; i < C; i++) p.mean[i] = 0, p.std[i] = 1;
    p.progress = on_progress;
    p.progress_user = &progress_calls;
    memset(lg, 0, (size_t)K * sizeof(float));
    CHECK(xt_classify_file(m, tif, &p, lg) == 0);
    CHECK_CLOSE(lg, ref, K, 0, 1e-4, "xt_classify_file logits");
    CHECK(progress_calls > 0 && progress_last == progress_total && progress_total > 0);

    // a tiny memory budget makes the global-context token sequence spill: same logits
    p.mem_mb = 0;
    p.progress = NULL;
    CHECK(xt_classify_file(m, tif, &p, lg) == 0);
    CHECK_CLOSE(lg, ref, K, 0, 1e-4, "xt_classify_file logits, spilled tokens");

    // softmax
    float pr[1024];
    xt_softmax(ref, pr, K);
    double sum = 0;
    int pos = 1;
    for (int i = 0; i < K; i++) sum += pr[i], pos &= pr[i] > 0;
    CHECK(pos);
    CHECK(fabs(sum - 1) < 1e-5);

    // error paths: -1 / NULL with a message naming the problem
    CHECK(xt_model_load("/nonexistent/model.safetensors") == NULL);
    CHECK(strstr(xt_error_buffer(), "/nonexistent/model.safetensors") != NULL);
    CHECK(xt_model_load(tif) == NULL); // not a model file
    CHECK(strlen(xt_error_buffer()) > 0);
    CHECK(xt_model_load(golden("convnext_region.safetensors")) == NULL); // a region-encoder file, not kind "xt"
    CHECK(strstr(xt_error_buffer(), "convnext_region") != NULL);
    p = xt_classify_default_params();
    CHECK(xt_classify_file(m, "/nonexistent/image.tif", &p, lg) == -1);
    CHECK(strstr(xt_error_buffer(), "/nonexistent/image.tif") != NULL);
    p.n_bands = C - 1;
    for (int i = 0; i < p.n_bands; i++) p.bands[i] = i;
    CHECK(xt_classify_file(m, tif, &p, lg) == -1); // wrong band count
    CHECK(strstr(xt_error_buffer(), "bands") != NULL);
    p = xt_classify_default_params();
    p.n_bands = C;
    for (int i = 0; i < C; i++) p.bands[i] = C + 5; // band beyond the image
    CHECK(xt_classify_file(m, tif, &p, lg) == -1);
    CHECK(strstr(xt_error_buffer(), "band") != NULL);
    CHECK(xt_classify_image(m, img, C + 1, H, W, 1, lg) == -1); // wrong band count
    CHECK(strstr(xt_error_buffer(), "bands") != NULL);
    CHECK(xt_classify_image(m, img, C, 0, W, 1, lg) == -1);
    CHECK(xt_classify_file(m, tif, NULL, lg) == 0); // NULL params: defaults (ImageNet normalisation)

    // the same model from several application threads at once, every context encoder
    const char *kinds[] = {"naive", "xl", "hyper", "mamba", "xl_incontext"};
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++) test_concurrent(kinds[i]);

    xt_model_free(m);
    xt_model_free(NULL);
    free(lg);
    free(img);
    free(ref);
    return check_summary("api");
}
