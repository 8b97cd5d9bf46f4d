// test_xview_tile.c — xView3 whole-scene inference around the model (run/xview_tile.c) against
// tests/golden/xview_score/tiling with the README's fake models (float32 functions of the input
// and a memory scalar): the tile owner map, the float16-normalised inputs of tiles 0 and 15,
// the log of every model call (pass, region i, j, memory before / after), the stitched
// quantised maps, the detections and the CSV. tile_xt is xT's evaluator path (2 x 2 regions of
// 20 per 40-pixel tile, naive order, the TTA bug); tile_selim selimsef's (two models, correct
// rot-180 TTA, OR rules). All comparisons are exact.
#include "check_xview.h"
#include "core/core.h"


static void golden_case(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "xview_score/tiling/%s.safetensors", name);
    xt_st *st = xt_st_open(golden(path));
    CHECK(st != NULL);
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    const char *ps = xt_st_meta(st, "params"), *scene = xt_st_meta(st, "scene_id");
    xt_json *pj = ps ? xt_json_parse(ps, strlen(ps), "params") : NULL;
    CHECK(pj && scene);
    if (!pj || !scene) { xt_st_close(st); return; }
    // the README's fake models and the tiling from params (the library's, as xt verify uses them)
    xt_xview_fake fk;
    xt_xview_tiling tp = {0};
    int T = 0, ov = 0;
    CHECK(xt_xview_fake_setup(&fk, pj, &tp, &T, &ov) == 0);
    CHECK(tp.order == XT_XVIEW_ORDER_NAIVE && tp.rotate == 1 && fk.n_models == (strstr(name, "selim") ? 2 : 1));
    tp.tta = strstr(name, "selim") ? XT_XVIEW_TTA_SELIM : XT_XVIEW_TTA_XT;
    const int M = fk.n_models;
    const xt_st_tensor *t;
    const float *vv = xt_st_f32(st, "input.vv_db", &t), *vh = xt_st_f32(st, "input.vh_db", NULL);
    CHECK(vv && vh);
    const int H = (int)t->shape[0], W = (int)t->shape[1];
    const size_t n = (size_t)H * W;
    xt_xview_grid g;
    CHECK(xt_xview_grid_init(&g, H, W, T, ov) == 0);

    // owner map: the rectangles the tiles keep after row-major overwriting
    int64_t *own = malloc(n * sizeof *own);
    xt_xview_grid_owner(&g, own);
    check_ints(st, "expected.owner", own, (int64_t)n);

    // the normalised float16 inputs of the tiles the golden shows
    float *x = malloc(2 * (size_t)T * T * sizeof *x);
    for (int k = 0; k < g.rows * g.cols; k++) {
        char en[64];
        snprintf(en, sizeof en, "expected.tile%d.input", k);
        const float *e = xt_st_find(st, en) ? xt_st_f32(st, en, NULL) : NULL;
        if (!e) continue;
        xt_xview_tile tl;
        xt_xview_grid_tile(&g, k / g.cols, k % g.cols, &tl);
        const float *z = vv; // an all-padding tile reads nothing
        xt_xview_tile_input(x, tl.h ? vv + (size_t)tl.y * W + tl.x : z, tl.h ? vh + (size_t)tl.y * W + tl.x : z, W, tl.h, tl.w, T);
        int same = !memcmp(x, e, 2 * (size_t)T * T * sizeof *x);
        CHECK(same);
        if (!same) fprintf(stderr, "%s: %s differs\n", name, en);
    }

    // the scene, streamed into whole maps and the detector
    xt_xview_model model = xt_xview_fake_model(&fk);
    xt_xview_mem_scene ss = {vv, vh, W};
    xt_xview_source src = xt_xview_source_mem(&ss);
    const int flags = tp.tta == XT_XVIEW_TTA_SELIM ? XT_XVIEW_POST_SELIM : 0;
    xt_xview_maps col;
    xt_xview_maps_init(&col, H, W, xt_xview_post_new(W, flags, NULL));
    xt_xview_sink sink = xt_xview_maps_sink(&col);
    int rc = xt_xview_scene_predict(&tp, &g, &src, &model, &sink);
    CHECK(rc == 0);
    if (rc) fprintf(stderr, "%s\n", xt_error_buffer());
    CHECK(col.next == H);
    check_u8(st, "expected.vessel_u8", col.vessel, (int64_t)n);
    check_u8(st, "expected.fishing_u8", col.fishing, (int64_t)n);
    check_u8(st, "expected.center_u8", col.center, (int64_t)n);
    check_f16(st, "expected.length_f16", col.length, (int64_t)n);

    // the call log: models concatenated, [pass, i, j, m_before, m_after]
    const float *calls = xt_st_f32(st, "expected.calls", &t);
    int ncalls = fk.nlog[0] + (M > 1 ? fk.nlog[1] : 0);
    CHECK(calls && t->shape[0] == ncalls && t->shape[1] == 5);
    if (calls && t->shape[0] == ncalls) {
        int same = !memcmp(calls, fk.log[0], (size_t)fk.nlog[0] * 5 * sizeof(float)) &&
                   (M < 2 || !memcmp(calls + (size_t)fk.nlog[0] * 5, fk.log[1], (size_t)fk.nlog[1] * 5 * sizeof(float)));
        CHECK(same);
    }
    printf("%s: %d model calls\n", name, ncalls);

    // detections from the streamed rows (selimsef: OR rules, as in his CSV), and from the whole
    // maps with the label image (process_confidence's own output, as in expected.det.*)
    xt_xview_det *d = NULL, *d2 = NULL;
    int64_t nd = 0, nd2 = 0;
    CHECK(xt_xview_post_finish(col.post, &d, &nd) == 0);
    snprintf(path, sizeof path, "xview_score/tiling/%s.csv", name);
    check_csv(golden(path), scene, d, nd);
    int32_t *lab = malloc(n * sizeof *lab);
    CHECK(xt_xview_detect(col.vessel, col.fishing, col.center, col.length, H, W, 0, lab, &d2, &nd2) == 0);
    CHECK(nd == nd2);
    for (size_t i = 0; i < n; i++) own[i] = lab[i];
    check_ints(st, "expected.labels", own, (int64_t)n);
    check_dets(st, d2, nd2);
    printf("%s: %lld detections\n", name, (long long)nd);

    free(d), free(d2), free(lab), free(own), free(x);
    xt_xview_maps_free(&col);
    xt_xview_fake_free(&fk);
    xt_json_free(pj);
    check_verify_runner(st);
    xt_st_close(st);
}

// the grid of the README's example and its refusals
static void grid(void) {
    xt_xview_grid g;
    CHECK(xt_xview_grid_init(&g, 24400, 29400, 4096, 10) == 0 && g.rows == 6 && g.cols == 8);
    CHECK(xt_xview_grid_init(&g, 24400, 29400, 3584, 704) == 0 && g.rows == 9 && g.cols == 11);
    CHECK(xt_xview_grid_init(&g, 10, 10, 8, 8) == -1 && strstr(xt_error_buffer(), "overlap"));
    CHECK(xt_xview_grid_init(&g, 0, 10, 8, 2) == -1);
    // odd overlap: the half-overlap is floor(ov / 2); every pixel has exactly one owner
    CHECK(xt_xview_grid_init(&g, 50, 37, 16, 5) == 0 && g.half == 2);
    int *cnt = calloc(50 * 37, sizeof *cnt), bad = 0;
    for (int r = 0; r < g.rows; r++)
        for (int c = 0; c < g.cols; c++) {
            xt_xview_tile t;
            xt_xview_grid_tile(&g, r, c, &t);
            for (int y = t.oy0; y < t.oy1; y++)
                for (int x = t.ox0; x < t.ox1; x++) cnt[y * 37 + x]++;
            // closed form of the README: row p belongs to max{r : r s + (r > 0) floor(ov/2) <= p}
            for (int y = t.oy0; y < t.oy1; y++) {
                int best = 0;
                for (int q = 0; q < g.rows; q++)
                    if (q * g.stride + (q > 0) * g.half <= y) best = q;
                bad += best != r;
            }
        }
    for (int i = 0; i < 50 * 37; i++) bad += cnt[i] != 1;
    CHECK(bad == 0);
    free(cnt);
}

// region orders, the mem_only warm-up pass, and the uncovered border when T % S != 0
typedef struct {
    int calls[64][3], n, begins;
} order_log;

static int log_begin(void *u, int model) {
    ((order_log *)u)->begins++;
    return 0;
}

static int log_forward(void *u, int model, const float *x, int S, int i, int j, int mem_only, float *const *out) {
    order_log *L = u;
    if (L->n < 64) L->calls[L->n][0] = i, L->calls[L->n][1] = j, L->calls[L->n][2] = mem_only, L->n++;
    for (int k = 0; k < XT_XVIEW_MAPS; k++)
        for (int p = 0; p < S * S; p++) out[k][p] = 200.0f; // centre 200, probabilities ~1, length 200
    return 0;
}

static void orders(void) {
    const int T = 5, S = 2; // 2 x 2 regions; row and column 4 are not covered
    float x[2 * 25] = {0};
    uint8_t v[25], f[25], c[25];
    uint16_t l[25];
    xt_xview_tile_maps tm = {v, f, c, l};
    order_log L = {0};
    xt_xview_model m = {.n_models = 1, .begin = log_begin, .forward = log_forward, .u = &L};
    xt_xview_tiling p = {.region = S, .order = XT_XVIEW_ORDER_ZIGZAG, .rotate = 0, .tta = XT_XVIEW_TTA_XT};
    CHECK(xt_xview_tile_predict(&p, T, x, &m, NULL, &tm) == 0);
    CHECK(L.n == 4 && L.begins == 1 && L.calls[2][0] == 1 && L.calls[2][1] == 1 && L.calls[3][1] == 0);
    CHECK(v[0] == 255 && c[0] == 200 && v[4] == 127 && f[24] == 127 && c[4] == 0 && l[20] == 0); // sigmoid(0) * 255
    memset(&L, 0, sizeof L);
    p.order = XT_XVIEW_ORDER_TWO_STREAM;
    p.rotate = 1;
    CHECK(xt_xview_tile_predict(&p, T, x, &m, NULL, &tm) == 0);
    int ok = L.n == 16 && L.begins == 2;
    for (int k = 0; ok && k < 16; k++) ok = L.calls[k][2] == (k % 8 < 4) && L.calls[k][0] == k % 4 / 2 && L.calls[k][1] == k % 2;
    CHECK(ok);
    // xT's ensemble keeps only the last model's output, then divides by the number of models
    memset(&L, 0, sizeof L);
    p = (xt_xview_tiling){.region = 0, .order = XT_XVIEW_ORDER_NAIVE, .rotate = 1, .tta = XT_XVIEW_TTA_XT};
    m.n_models = 2;
    CHECK(xt_xview_tile_predict(&p, T, x, &m, NULL, &tm) == 0);
    CHECK(L.n == 3 && L.begins == 3 && L.calls[0][0] == -1 && c[0] == 100 && xt_f16_to_f32(l[0]) == 100.0f);
    p.tta = XT_XVIEW_TTA_SELIM; // averaged correctly: 200 stays 200
    CHECK(xt_xview_tile_predict(&p, T, x, &m, NULL, &tm) == 0 && c[0] == 200 && xt_f16_to_f32(l[0]) == 200.0f);
    m.n_models = 0;
    CHECK(xt_xview_tile_predict(&p, T, x, &m, NULL, &tm) == -1);
}

// the params reader refuses what the fakes cannot run, naming the field
static void bad_params(void) {
    const char *bad[][2] = {
        {"{\"crop_size\": 40, \"overlap\": 8, \"n_models\": 1, \"coefs\": [{\"kc\": 1}]}", "coefs[0].bc"},
        {"{\"crop_size\": 40, \"overlap\": 8, \"n_models\": 3, \"coefs\": []}", "n_models"},
        {"{\"crop_size\": 40, \"overlap\": 8, \"n_models\": 1, \"context_mode\": true, \"coefs\": []}", "input_size"},
        {"{\"overlap\": 8, \"n_models\": 1}", "crop_size"},
    };
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        xt_json *j = xt_json_parse(bad[k][0], strlen(bad[k][0]), "params");
        xt_xview_fake f;
        xt_xview_tiling tp = {0};
        int T, ov;
        CHECK(j && xt_xview_fake_setup(&f, j, &tp, &T, &ov) == -1 && strstr(xt_error_buffer(), bad[k][1]));
        xt_xview_fake_free(&f);
        xt_json_free(j);
    }
}

int main(void) {
    grid();
    bad_params();
    orders();
    golden_case("tile_xt");
    golden_case("tile_selim");
    return check_summary("test_xview_tile");
}
