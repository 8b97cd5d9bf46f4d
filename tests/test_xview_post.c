// test_xview_post.c — xView3 maps -> detections (run/xview_post.c) and the prediction CSV
// (run/xview_csv.c) against tests/golden/xview_score/postproc (pp_edges: hand-made edge cases,
// pp_random: random peaks): the quantised maps, the label image and every detection field
// exactly (means as stored in float32, mean_length within one float16 ulp), the CSV text byte
// for byte (xT's evaluator CSV and selimsef's OR-rule CSV). Then the streaming contract (any
// strips of rows give the same detections) and a flood-fill reference on random masks, and the
// CSV length text over every float16 value.
#include "check_xview.h"

static void golden_case(const char *name) {
    char path[512];
    snprintf(path, sizeof path, "xview_score/postproc/%s.safetensors", name);
    xt_st *st = xt_st_open(golden(path));
    CHECK(st != NULL);
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    const xt_st_tensor *t;
    const float *vl = xt_st_f32(st, "input.vessel_logit", &t), *fl = xt_st_f32(st, "input.fishing_logit", NULL);
    const float *ce = xt_st_f32(st, "input.center", NULL), *le = xt_st_f32(st, "input.length", NULL);
    const char *scene = xt_st_meta(st, "scene_id");
    CHECK(vl && fl && ce && le && scene && t->ndim == 2);
    if (!vl || !fl || !ce || !le || !scene) { xt_st_close(st); return; }
    const int H = (int)t->shape[0], W = (int)t->shape[1];
    const size_t n = (size_t)H * W;
    float *vp = malloc(n * sizeof *vp), *fp = malloc(n * sizeof *fp);
    memcpy(vp, vl, n * sizeof *vp);
    memcpy(fp, fl, n * sizeof *fp);
    xt_xview_sigmoid(vp, n);
    xt_xview_sigmoid(fp, n);
    uint8_t *v8 = malloc(n), *f8 = malloc(n), *c8 = malloc(n);
    uint16_t *l16 = malloc(n * 2);
    xt_xview_quantize(v8, f8, c8, l16, vp, fp, ce, le, n);
    check_u8(st, "expected.vessel_u8", v8, (int64_t)n);
    check_u8(st, "expected.fishing_u8", f8, (int64_t)n);
    check_u8(st, "expected.center_u8", c8, (int64_t)n);
    check_f16(st, "expected.length_f16", l16, (int64_t)n);

    int32_t *lab = malloc(n * sizeof *lab);
    xt_xview_det *d = NULL, *ds = NULL;
    int64_t nd = 0, nds = 0;
    CHECK(xt_xview_detect(v8, f8, c8, l16, H, W, 0, lab, &d, &nd) == 0);
    int64_t *l64 = malloc(n * sizeof *l64);
    for (size_t i = 0; i < n; i++) l64[i] = lab[i];
    check_ints(st, "expected.labels", l64, (int64_t)n);
    check_dets(st, d, nd);
    snprintf(path, sizeof path, "xview_score/postproc/%s.csv", name);
    check_csv(golden(path), scene, d, nd);
    printf("%s: %lld detections\n", name, (long long)nd);

    // streamed in uneven strips (1, 2, 3, ... rows), no label image: the same detections
    xt_xview_post *pp = xt_xview_post_new(W, 0, NULL);
    int y = 0, k = 1;
    while (y < H) {
        int h = k < H - y ? k : H - y;
        CHECK(xt_xview_post_rows(pp, y, h, v8 + (size_t)y * W, f8 + (size_t)y * W, c8 + (size_t)y * W, l16 + (size_t)y * W, W) == 0);
        y += h;
        k = k % 7 + 1;
    }
    CHECK(xt_xview_post_rows(pp, y + 1, 1, v8, f8, c8, l16, W) == -1); // a gap is refused
    CHECK(xt_xview_post_finish(pp, &ds, &nds) == 0);
    CHECK(nds == nd && (nd == 0 || !memcmp(ds, d, (size_t)nd * sizeof *d)));
    xt_xview_post_free(pp);
    free(ds);
    free(d);

    // selimsef's submission: the OR rules on the means
    CHECK(xt_xview_detect(v8, f8, c8, l16, H, W, XT_XVIEW_POST_SELIM, NULL, &d, &nd) == 0);
    snprintf(path, sizeof path, "xview_score/postproc/%s.selim.csv", name);
    check_csv(golden(path), scene, d, nd);
    free(d);
    free(vp), free(fp), free(v8), free(f8), free(c8), free(l16), free(lab), free(l64);
    check_verify_runner(st);
    xt_st_close(st);
}

// ---------------------------------------------------------------------------------------------
// flood-fill reference: whole-image dilation, 8-connected labelling in raster order

static int64_t reference(const uint8_t *c8, int H, int W, int32_t *lab, int64_t *area, int64_t *sr, int64_t *sc) {
    uint8_t *dil = calloc((size_t)H * W, 1);
    for (int y = 0; y < H; y++)
        for (int x = 0; x < W; x++) {
            int on = c8[y * W + x] > 100 || (x > 0 && c8[y * W + x - 1] > 100) || (x + 1 < W && c8[y * W + x + 1] > 100) ||
                     (y > 0 && c8[(y - 1) * W + x] > 100) || (y + 1 < H && c8[(y + 1) * W + x] > 100);
            dil[y * W + x] = (uint8_t)on;
        }
    memset(lab, 0, (size_t)H * W * sizeof *lab);
    int *stack = malloc((size_t)H * W * sizeof *stack);
    int64_t n = 0;
    for (int i = 0; i < H * W; i++) {
        if (!dil[i] || lab[i]) continue;
        n++;
        area[n - 1] = sr[n - 1] = sc[n - 1] = 0;
        int sp = 0;
        stack[sp++] = i;
        lab[i] = (int32_t)n;
        while (sp) {
            int p = stack[--sp], py = p / W, px = p % W;
            area[n - 1]++, sr[n - 1] += py, sc[n - 1] += px;
            for (int dy = -1; dy <= 1; dy++)
                for (int dx = -1; dx <= 1; dx++) {
                    int qy = py + dy, qx = px + dx;
                    if (qy < 0 || qy >= H || qx < 0 || qx >= W) continue;
                    int q = qy * W + qx;
                    if (dil[q] && !lab[q]) lab[q] = (int32_t)n, stack[sp++] = q;
                }
        }
    }
    free(stack);
    free(dil);
    return n;
}

static void random_masks(void) {
    uint32_t seed = 12345;
    int mismatches = 0, total = 0;
    for (int trial = 0; trial < 60; trial++) {
        int H = 1 + trial % 13 * 3, W = 1 + (trial * 7) % 41;
        double density = 0.02 + 0.05 * (trial % 6);
        size_t n = (size_t)H * W;
        uint8_t *c8 = malloc(n), *v8 = malloc(n);
        uint16_t *l16 = malloc(n * 2);
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1664525u + 1013904223u;
            c8[i] = (seed >> 8) % 1000 < density * 1000 ? 200 : 50;
            v8[i] = (uint8_t)(seed >> 20);
            l16[i] = xt_f32_to_f16((float)((seed >> 4) % 5000) * 0.37f - 100.0f);
        }
        int32_t *lab = malloc(n * sizeof *lab), *rl = malloc(n * sizeof *rl);
        int64_t *area = malloc((n + 1) * sizeof *area), *sr = malloc((n + 1) * sizeof *sr), *sc = malloc((n + 1) * sizeof *sc);
        int64_t nr = reference(c8, H, W, rl, area, sr, sc), nd = 0;
        xt_xview_det *d = NULL;
        CHECK(xt_xview_detect(v8, v8, c8, l16, H, W, 0, lab, &d, &nd) == 0);
        int ok = nd == nr && !memcmp(lab, rl, n * sizeof *lab);
        for (int64_t k = 0; ok && k < nd; k++) {
            ok = d[k].area == area[k] && d[k].row == sr[k] / area[k] && d[k].col == sc[k] / area[k];
            float mx = -INFINITY;
            int64_t votes = 0;
            for (size_t i = 0; i < n; i++)
                if (rl[i] == k + 1) {
                    float l = xt_f16_to_f32(l16[i]);
                    mx = l > mx ? l : mx;
                    votes += v8[i] > 100;
                }
            ok = ok && xt_f16_to_f32(d[k].length_f16) == mx && d[k].vessel_votes == votes && d[k].is_vessel == (votes > 8);
        }
        mismatches += !ok;
        total++;
        free(d), free(c8), free(v8), free(l16), free(lab), free(rl), free(area), free(sr), free(sc);
    }
    CHECK(mismatches == 0);
    printf("flood-fill reference: %d random maps, %d mismatches\n", total, mismatches);
}

static void formats(void) {
    // the CSV length: numpy's shortest float16 digits, written as Python's repr
    struct { float v; const char *s; } L[] = {
        {123.456f, "123.44"}, {0.1f, "0.1"}, {2049.3f, "2050.0"}, {70000.0f, "inf"}, {-70000.0f, "-inf"},
        {-7.3f, "-7.3"}, {600.0f, "600.0"}, {0.0f, "0.0"}, {-0.0f, "-0.0"}, {65504.0f, "65500.0"},
        {2048.0f, "2048.0"}, {1e-5f, "1e-05"}, {5.9604645e-08f, "6e-08"}, {0.0001f, "0.0001"}, {1.0f / 3, "0.3333"},
    };
    char b[32];
    for (size_t k = 0; k < sizeof L / sizeof *L; k++) {
        xt_xview_fmt_length(b, xt_f32_to_f16(L[k].v));
        if (strcmp(b, L[k].s)) fprintf(stderr, "length %g: '%s', want '%s'\n", L[k].v, b, L[k].s);
        CHECK(!strcmp(b, L[k].s));
    }
    CHECK(!strcmp(xt_xview_fmt_length(b, 0x7e00), "")); // NaN: pandas' empty cell
    // every finite half: the text reads back as the same half and no shorter text would
    int rt = 0;
    for (uint32_t h = 0; h < 0x7c00; h++) {
        xt_xview_fmt_length(b, (uint16_t)h);
        rt += xt_f32_to_f16((float)strtod(b, NULL)) != h && xt_f16_to_f32((uint16_t)h) != 0;
    }
    CHECK(rt == 0);
    // quantisation: truncation, clamping, NaN -> 0
    float p[4] = {100.99f / 255.0f, 1.0f, NAN, 0.0f}, c[4] = {100.99f, 1000.0f, NAN, -5.0f}, l[4] = {0, 0, 0, 0};
    uint8_t v8[4], f8[4], c8[4];
    uint16_t l16[4];
    xt_xview_quantize(v8, f8, c8, l16, p, p, c, l, 4);
    CHECK(v8[0] == 100 && v8[1] == 255 && v8[2] == 0 && c8[0] == 100 && c8[1] == 255 && c8[2] == 0 && c8[3] == 0);
    // a CSV field that needs quotes
    xt_sbuf s = {0};
    xt_xview_det d = {.row = 1, .col = 2, .is_vessel = 1, .length_f16 = 0x3c00};
    xt_xview_csv_rows(&s, "a,\"b", &d, 1);
    CHECK(!strcmp(s.p, "1,2,\"a,\"\"b\",True,False,1.0\n"));
    xt_sbuf_free(&s);
}

int main(void) {
    golden_case("pp_edges");
    golden_case("pp_random");
    random_masks();
    formats();
    // refusals
    CHECK(xt_xview_post_new(0, 0, NULL) == NULL);
    xt_xview_post *p = xt_xview_post_new(4, 0, NULL);
    xt_xview_det *d;
    int64_t n;
    CHECK(xt_xview_post_finish(p, &d, &n) == 0 && n == 0);
    free(d);
    CHECK(xt_xview_post_finish(p, &d, &n) == -1);
    xt_xview_post_free(p);
    return check_summary("test_xview_post");
}
