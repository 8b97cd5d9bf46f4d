// test_api.c — the public API (include/xt.h) as a user sees it: only "xt.h" (the golden-file
// reader below is the one exception, kept apart). xt_classify_image on a golden xT file's
// input.image element 0 and xt_classify_file on the same image as a float32 TIFF (written by
// `xt make-image --from-tensor`) both give expected.logits within 1e-4 (|d| <= 1e-4 *
// max(1, max|ref|), the verify rule); the error paths return -1 / NULL with a message.
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "xt.h"

// ---- golden tensors: the only use of internal headers -----------------------------------
#include "core/core.h"

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

static int progress_calls;
static int64_t progress_last, progress_total;
static void on_progress(void *user, int64_t done, int64_t total) {
    (*(int *)user)++;
    progress_last = done;
    progress_total = total;
}

int main(void) {
    const char *path = golden("xt_cls_xl.safetensors");
    if (access(path, R_OK) != 0) {
        printf("skip: %s not found\n", path);
        return check_summary("api");
    }
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

    xt_model_free(m);
    xt_model_free(NULL);
    free(lg);
    free(img);
    free(ref);
    return check_summary("api");
}
