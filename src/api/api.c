// api.c — include/xt.h on top of the internal streaming driver (run/stream.h): an xt_model is a
// loaded model file; classification is xt_stream_classify over a raster or an in-memory image.
#include <string.h>

#include "xt.h"
#include "core/core.h"
#include "run/stream.h"
#include "nn/nn.h"

_Static_assert(XT_MAX_BANDS == XT_NORM_MAX_BANDS, "xt.h band limit must match the raster's");

struct xt_model {
    xt_xtfile f;
};

xt_model *xt_model_load(const char *path) {
    xt_model *m = xt_malloc_checked(sizeof *m, "model");
    if (!m) return NULL;
    if (xt_xtfile_load(&m->f, path, NULL) < 0) {
        free(m);
        return NULL;
    }
    return m;
}

void xt_model_free(xt_model *m) {
    if (!m) return;
    xt_xtfile_free(&m->f);
    free(m);
}

int xt_model_num_classes(const xt_model *m) { return xt_xtmodel_get_info(m->f.m)->num_classes; }
int xt_model_in_chans(const xt_model *m) { return xt_xtmodel_get_info(m->f.m)->in_chans; }
int xt_model_region_size(const xt_model *m) { return xt_xtmodel_get_info(m->f.m)->crop_size; }

xt_classify_params xt_classify_default_params(void) {
    xt_stream_args a;
    xt_stream_args_default(&a);
    return (xt_classify_params){.threads = a.threads, .batch = a.batch, .cache_mb = a.cache_mb, .mem_mb = a.mem_mb};
}

static int to_args(xt_stream_args *a, const xt_classify_params *p) {
    xt_classify_params d = xt_classify_default_params();
    if (!p) p = &d;
    xt_stream_args_default(a);
    if (p->batch < 1 || p->threads < 0) return xt_error("classify", "batch must be >= 1 and threads >= 0");
    if (p->n_bands < 0 || p->n_bands > XT_MAX_BANDS || p->n_mean < 0 || p->n_mean > XT_MAX_BANDS || p->n_std < 0 ||
        p->n_std > XT_MAX_BANDS)
        return xt_error("classify", "n_bands, n_mean and n_std must be 0..%d", XT_MAX_BANDS);
    for (int i = 0; i < p->n_bands; i++)
        if (p->bands[i] < 0) return xt_error("classify", "bands are 0-based indices, got %d", p->bands[i]);
    for (int i = 0; i < p->n_std; i++)
        if (!(p->std[i] > 0)) return xt_error("classify", "std values must be > 0");
    if (p->has_scale && !(p->scale > 0)) return xt_error("classify", "scale must be > 0");
    if (!(p->mem_mb >= 0)) return xt_error("classify", "mem_mb must be >= 0");
    a->threads = p->threads;
    a->batch = p->batch;
    a->n_bands = p->n_bands;
    memcpy(a->bands, p->bands, sizeof a->bands);
    a->n_mean = p->n_mean;
    a->n_std = p->n_std;
    memcpy(a->mean, p->mean, sizeof a->mean);
    memcpy(a->std, p->std, sizeof a->std);
    a->has_scale = p->has_scale;
    a->scale = p->scale;
    a->has_nodata = p->has_nodata;
    a->nodata = p->nodata;
    a->cache_mb = p->cache_mb;
    a->mem_mb = p->mem_mb;
    a->progress = p->progress;
    a->progress_user = p->progress_user;
    return 0;
}

int xt_classify_file(const xt_model *m, const char *image_path, const xt_classify_params *p, float *logits) {
    if (!m || !image_path || !logits) return xt_error("classify", "NULL model, image path or logits");
    xt_stream_args a;
    if (to_args(&a, p) < 0) return -1;
    a.image = image_path;
    xt_stream s;
    int rc = xt_stream_open_with(&s, &m->f, &a);
    if (rc == 0) rc = xt_stream_classify(&s, logits);
    xt_stream_close(&s);
    return rc;
}

int xt_classify_image(const xt_model *m, const float *img, int C, int H, int W, int threads, float *logits) {
    if (!m || !img || !logits) return xt_error("classify", "NULL model, image or logits");
    xt_stream_args a;
    xt_stream_args_default(&a);
    a.threads = threads < 0 ? 0 : threads;
    xt_stream s;
    int rc = xt_stream_open_array(&s, &m->f, img, C, H, W, &a);
    if (rc == 0) rc = xt_stream_classify(&s, logits);
    xt_stream_close(&s);
    return rc;
}

void xt_softmax(const float *logits, float *probs, int n) {
    if (n > 0) xt_softmax_forward(probs, logits, 1, n);
}
