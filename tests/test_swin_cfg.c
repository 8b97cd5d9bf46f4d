// test_swin_cfg.c — the Swin V2 config reader shared by the inference and the training encoder
// (models/swinv2_cfg.c): one config gives both the same geometry, and a bad one the same error
// (after each constructor's own prefix: the model file's path, "swinv2 train"); the shared
// position-bias table / index give the same bias through both encoders' kernels.
#include <unistd.h>

#include "check.h"
#include "models/models.h"
#include "nn/nn.h"
#include "train/train.h"

static xt_st *st; // any model file: the config is refused before a weight is read

#define BASE "\"embed_dim\": 8, \"num_heads\": [1, 1, 2, 4], \"window_size\": 8"

// Inference and training both refuse cfg at img px with the same message, containing want.
static void refused_alike(const char *cfg_s, int img, const char *want) {
    xt_json *cfg = xt_json_parse(cfg_s, strlen(cfg_s), "cfg");
    CHECK(cfg != NULL);
    char inf[1024] = "", trn[1024] = "";
    xt_encoder *e = xt_swinv2_new(st, cfg, "model.", img);
    CHECK(e == NULL);
    if (e) e->free(e);
    snprintf(inf, sizeof inf, "%s", xt_error_buffer());
    xt_error_clear();
    xt_params P = {0};
    xt_encoder_train *m = xt_encoder_train_new(&P, "swinv2", cfg, "model.", img);
    CHECK(m == NULL);
    if (m) m->free(m);
    xt_params_free(&P);
    snprintf(trn, sizeof trn, "%s", xt_error_buffer());
    xt_error_clear();
    size_t np = strlen(st->path);
    const char *a = !strncmp(inf, st->path, np) && !strncmp(inf + np, ": ", 2) ? inf + np + 2 : NULL;
    const char *b = !strncmp(trn, "swinv2 train: ", 14) ? trn + 14 : NULL;
    CHECK(a && b && !strcmp(a, b));
    CHECK(a && strstr(a, want) != NULL);
    if (!a || !b || strcmp(a, b) || !strstr(a, want)) fprintf(stderr, "inference: %s\ntraining:  %s\n", inf, trn);
    xt_json_free(cfg);
}

// One good config: the same stages (channels, side) from both encoders.
static void same_geometry(void) {
    const char *s = "{" BASE ", \"depths\": [2, 2, 1, 1], \"pretrained_window_sizes\": [12, 12, 6, 6]}";
    xt_json *cfg = xt_json_parse(s, strlen(s), "cfg");
    xt_swin_cfg c;
    CHECK(xt_swin_cfg_parse(cfg, 128, &c) == 0);
    // 128 px: sides 32, 16, 8, 4 with window 8 -> windows 8, 8, 8, 4; odd blocks shift 4, 4, 0, 0
    CHECK(c.n_stages == 4 && c.grid == 32 && c.st[3].C == 64 && c.st[3].res == 4 && c.st[3].ws == 4);
    CHECK(c.st[0].shift == 4 && c.st[1].shift == 4 && c.st[2].shift == 0 && c.st[3].shift == 0);
    CHECK(xt_swin_block_shift(&c.st[0], 0) == 0 && xt_swin_block_shift(&c.st[0], 1) == 4);
    CHECK(c.st[0].hidden == 32 && c.st[2].heads == 2 && c.st[3].pws == 6);
    xt_params P = {0};
    xt_encoder_train *m = xt_encoder_train_new(&P, "swinv2", cfg, "model.", 128);
    CHECK(m != NULL);
    int C[XT_MAX_STAGES], H[XT_MAX_STAGES], n = m ? xt_encoder_train_stages(m, C, H) : 0;
    CHECK(n == c.n_stages);
    for (int i = 0; i < n; i++) CHECK(C[i] == c.st[i].C && H[i] == c.st[i].res);
    // one parameter list: the random-weight writer's file holds exactly training's parameters
    // (names, shapes), inference loads it, and the parameter count is their total
    char path[] = "/tmp/xt_swin_cfg_XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0);
    close(fd);
    xt_st_writer *w = xt_st_writer_new();
    CHECK(xt_swinv2_random_weights(w, cfg, "model.", 1) == 0);
    CHECK(xt_st_writer_save(w, path) == 0);
    xt_st *f = xt_st_open(path);
    CHECK(f != NULL && m != NULL && f->n == P.n);
    int64_t total = 0, bad = 0;
    for (int i = 0; f && i < P.n; i++) {
        const xt_st_tensor *t = xt_st_find(f, P.p[i].name);
        bad += !t || t->ndim != P.p[i].ndim || memcmp(t->shape, P.p[i].shape, t->ndim * sizeof(int64_t));
        total += (int64_t)P.p[i].n;
    }
    CHECK(bad == 0 && total == xt_swinv2_param_count(cfg, 128));
    xt_encoder *e = f ? xt_swinv2_new(f, cfg, "model.", 128) : NULL;
    CHECK(e != NULL && e->n_params == total && e->n_stages == n);
    for (int i = 0; e && i < n; i++) CHECK(e->stage_c[i] == C[i] && e->stage_h[i] == H[i]);
    if (e) e->free(e);
    xt_st_close(f);
    unlink(path);
    if (m) m->free(m);
    xt_params_free(&P);
    xt_json_free(cfg);
}

// The position-bias table and index (nn.h) feed inference's xt_swin_cpb_bias and training's
// xt_cpb_forward: one computation, the same bias bit for bit.
static void same_cpb(int NH, int ws, int pws) {
    int T = 2 * ws - 1, n = ws * ws;
    float *w0 = malloc(512 * 2 * sizeof(float)), *b0 = malloc(512 * sizeof(float)), *w2 = malloc((size_t)NH * 512 * sizeof(float));
    uint64_t r = 7;
    for (int i = 0; i < 1024; i++) w0[i] = (float)(xt_rng_normal(&r) / sqrt(2.0));
    for (int i = 0; i < 512; i++) b0[i] = (float)(0.1 * xt_rng_normal(&r));
    for (int i = 0; i < NH * 512; i++) w2[i] = (float)(xt_rng_normal(&r) / sqrt(512.0));
    float *inf = malloc((size_t)NH * n * n * sizeof(float)), *trn = malloc((size_t)NH * n * n * sizeof(float));
    float *scr = malloc(xt_swin_cpb_scratch_floats(NH, ws) * sizeof(float));
    xt_swin_cpb_bias(inf, w0, b0, w2, NH, ws, pws, scr);
    float *tab = malloc((size_t)T * T * 2 * sizeof(float)), *hid = malloc((size_t)2 * T * T * 512 * sizeof(float));
    float *raw = malloc((size_t)T * T * NH * sizeof(float));
    int *idx = malloc((size_t)n * n * sizeof(int));
    xt_swin_cpb_table(tab, idx, ws, pws);
    xt_cpb_forward(trn, hid, raw, tab, idx, w0, b0, w2, T * T, 512, NH, n);
    char label[64];
    snprintf(label, sizeof label, "cpb bias ws %d pws %d: inference vs training", ws, pws);
    CHECK_CLOSE(trn, inf, NH * n * n, 0, 0, label);
    // the centre row is offset (0, 0); a token with itself
    CHECK(tab[(ws - 1) * T * 2 + (ws - 1) * 2] == 0 && idx[0] == (ws - 1) * T + ws - 1);
    free(w0), free(b0), free(w2), free(inf), free(trn), free(scr), free(tab), free(hid), free(raw), free(idx);
}

int main(void) {
    same_cpb(3, 5, 0);
    same_cpb(2, 4, 12);
    same_cpb(1, 1, 0);
    st = xt_st_open("tests/ref/nn_swin.safetensors");
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    same_geometry();
    refused_alike("{" BASE ", \"depths\": [2, 2, 2]}", 128, "'depths' and 'num_heads' need the same number");
    refused_alike("{\"embed_dim\": 8, \"num_heads\": [1, 3, 2, 4], \"window_size\": 8, \"depths\": [2, 2, 2, 2]}", 128,
                  "stage 1: 16 channels cannot be split into 3 heads");
    refused_alike("{" BASE ", \"depths\": [2, 2, 2, 2]}", 96, "stage 1 side 12 is not a multiple of window_size 8");
    refused_alike("{" BASE ", \"depths\": [2, 2, 2, 2]}", 28, "stage 1 input side 7 is odd");
    refused_alike("{" BASE ", \"depths\": [2, 2, 2, 2], \"pretrained_window_sizes\": [12, 1, 6, 6]}", 128,
                  "pretrained_window_sizes[1] = 1");
    refused_alike("{\"num_heads\": [1, 1, 2, 4], \"window_size\": 8, \"depths\": [2, 2, 2, 2]}", 128,
                  "embed_dim -1 out of range");
    // "img_size" in the config wins in inference (the region size must then match); training refuses
    // to build a model for other regions
    {
        const char *js = "{" BASE ", \"depths\": [2, 2, 2, 2], \"img_size\": 128}";
        xt_json *j = xt_json_parse(js, strlen(js), "cfg");
        xt_swin_cfg c;
        CHECK(xt_swin_cfg_parse(j, 64, &c) == 0 && c.img == 128);
        xt_params P = {0};
        CHECK(xt_encoder_train_new(&P, "swinv2", j, "model.", 64) == NULL);
        CHECK(strstr(xt_error_buffer(), "config img_size 128, but the regions are 64 pixels") != NULL);
        xt_error_clear();
        xt_params_free(&P);
        xt_json_free(j);
    }
    // the xT training model reads its "swin" object with the same reader, before any decoder parameter
    const char *xs = "{\"kind\": \"xt\", \"crop_size\": 64, \"num_classes\": 5, \"swin\": {\"embed_dim\": 8, "
                     "\"depths\": [2, 2, 2, 2], \"num_heads\": [1, 3, 2, 4], \"window_size\": 8}}";
    xt_json *xc = xt_json_parse(xs, strlen(xs), "cfg");
    xt_params P = {0};
    xt_xt_train *xm = xt_xt_train_new(&P, xc, NULL);
    CHECK(xm == NULL && P.n == 0);
    CHECK(strstr(xt_error_buffer(), "xt train: swin: swinv2: config: stage 1: 16 channels cannot be split into 3 heads"));
    xt_xt_train_free(xm);
    xt_params_free(&P);
    xt_json_free(xc);
    xt_error_clear();
    xt_st_close(st);
    return check_summary("swin_cfg");
}
