// verify_xview_score.c — `xt verify` on the golden xView3 post-processing and tiling cases
// (tests/golden/xview_score/{postproc,tiling}/<case>.safetensors, README sections A-B), and the
// README's fake models that the tiling cases run (also used by tests/test_xview_tile.c).
//
// The files carry no model config: cmd_verify builds {"kind", "case", "scene_id", "params"} from
// their __metadata__ (kind "postprocessing" or "tiling"). Every map, the label image, the owner
// map, the tile inputs, the model-call log and the detections are emitted under the names of
// their expected.* tensors; the CSV (<case>.csv, and <case>.selim.csv for postproc) is compared
// byte for byte when it lies beside the file.
#include <math.h>
#include <string.h>

#include "run/verify.h"
#include "run/xview.h"

// ---------------------------------------------------------------------------------------------
// the fake models

static const char *const coef_names[XT_XVIEW_FAKE_COEFS] = {"kc", "bc", "rc", "kv", "bv", "mv",
                                                            "kf", "bf", "cf", "kl", "cl", "rl"};
enum { KC, BC, RC, KV, BV, MV, KF, BF, CF, KL, CL, RL };

static int fake_begin(void *u, int model) {
    xt_xview_fake *f = u;
    f->pass[model]++;
    f->m[model] = 0; // model_foward: mem = set()
    return 0;
}

// center = ((vv*kc)+bc)+(r*rc); vessel = ((vh*kv)+bv)+(m*mv); fishing = ((vh*kf)+bf)+(c*cf);
// length = (((vh*kl)+(c*cl))+(r*rl))+m; then m += max(vv over the input); all float32
static int fake_forward(void *u, int model, const float *x, int S, int i, int j, int mem_only, float *const *out) {
    xt_xview_fake *f = u;
    const float *k = f->coef[model];
    const float m = f->region > 0 ? f->m[model] : 0.0f;
    const float *vv = x, *vh = x + (size_t)S * S;
    float mx = -INFINITY;
    for (int r = 0; r < S; r++)
        for (int c = 0; c < S; c++) {
            size_t p = (size_t)r * S + c;
            float fr = (float)r, fc = (float)c;
            if (!mem_only) {
                out[XT_XVIEW_CENTER][p] = ((vv[p] * k[KC]) + k[BC]) + (fr * k[RC]);
                out[XT_XVIEW_VESSEL][p] = ((vh[p] * k[KV]) + k[BV]) + (m * k[MV]);
                out[XT_XVIEW_FISHING][p] = ((vh[p] * k[KF]) + k[BF]) + (fc * k[CF]);
                out[XT_XVIEW_LENGTH][p] = (((vh[p] * k[KL]) + (fc * k[CL])) + (fr * k[RL])) + m;
            }
            mx = vv[p] > mx ? vv[p] : mx;
        }
    if (f->nlog[model] == f->cap[model]) {
        int cap = f->cap[model] ? 2 * f->cap[model] : 256;
        float *l = realloc(f->log[model], (size_t)cap * 5 * sizeof *l);
        if (!l) return xt_error("xview fake model", "out of memory");
        f->log[model] = l, f->cap[model] = cap;
    }
    float *L = f->log[model] + (size_t)f->nlog[model]++ * 5;
    L[0] = (float)(f->pass[model] - 1), L[1] = (float)i, L[2] = (float)j, L[3] = m;
    if (f->region > 0) f->m[model] = m + mx;
    L[4] = f->region > 0 ? f->m[model] : 0.0f;
    return 0;
}

xt_xview_model xt_xview_fake_model(xt_xview_fake *f) {
    return (xt_xview_model){.n_models = f->n_models, .begin = fake_begin, .forward = fake_forward, .u = f};
}

void xt_xview_fake_free(xt_xview_fake *f) {
    for (int m = 0; m < 2; m++) free(f->log[m]);
    memset(f, 0, sizeof *f);
}

int xt_xview_fake_setup(xt_xview_fake *f, const xt_json *params, xt_xview_tiling *tp, int *T, int *ov) {
    const char *w = "tiling params";
    memset(f, 0, sizeof *f);
    int rotate = 0, ctx = 0, M = 0;
    if (!params || params->type != XT_JSON_OBJ) return xt_error(w, "not a JSON object");
    if (xt_json_int(params, "crop_size", 0, T) || *T <= 0) return xt_error(w, "'crop_size' missing or not a positive integer");
    if (xt_json_int(params, "overlap", -1, ov) || *ov < 0) return xt_error(w, "'overlap' missing or not an integer >= 0");
    if (xt_json_bool(params, "rotate", 0, &rotate)) return xt_error(w, "'rotate' is not a boolean");
    if (xt_json_bool(params, "context_mode", 0, &ctx)) return xt_error(w, "'context_mode' is not a boolean");
    if (xt_json_int(params, "n_models", 0, &M) || M < 1 || M > 2)
        return xt_error(w, "'n_models' missing or not 1 or 2 (the fake models of the golden README)");
    int region = 0;
    xt_xview_order order = XT_XVIEW_ORDER_NAIVE;
    if (ctx) {
        if (xt_json_int(params, "input_size", 0, &region) || region <= 0 || region > *T)
            return xt_error(w, "context_mode needs 'input_size', the region side, in 1 .. crop_size %d", *T);
        const xt_json *tj = xt_json_get(params, "tiling");
        const char *o = tj && tj->type == XT_JSON_STR ? tj->str : tj && tj->type != XT_JSON_NULL ? "?" : "naive";
        if (!strcmp(o, "naive")) order = XT_XVIEW_ORDER_NAIVE;
        else if (!strcmp(o, "zig_zag_horizontal")) order = XT_XVIEW_ORDER_ZIGZAG;
        else if (!strcmp(o, "naive_two_stream")) order = XT_XVIEW_ORDER_TWO_STREAM;
        else return xt_error(w, "unknown 'tiling' '%s' (naive, zig_zag_horizontal, naive_two_stream)", o);
    }
    const xt_json *cj = xt_json_get(params, "coefs");
    if (!cj || cj->type != XT_JSON_ARR || cj->n != M) return xt_error(w, "'coefs' is not a list of n_models %d objects", M);
    for (int m = 0; m < M; m++)
        for (int k = 0; k < XT_XVIEW_FAKE_COEFS; k++) {
            double d;
            if (xt_json_num(cj->items[m], coef_names[k], NAN, &d) || !isfinite(d))
                return xt_error(w, "coefs[%d].%s missing or not a finite number", m, coef_names[k]);
            f->coef[m][k] = (float)d;
        }
    f->n_models = M;
    f->region = region;
    tp->region = region;
    tp->order = order;
    tp->rotate = rotate;
    return 0;
}

// ---------------------------------------------------------------------------------------------
// the runner

static void emit_u8(const xt_tap *tap, const char *name, const uint8_t *v, size_t n, int H, int W, float *buf) {
    for (size_t i = 0; i < n; i++) buf[i] = v[i];
    xt_tap_emit(tap, name, buf, 2, (int64_t)H, (int64_t)W);
}

static void emit_maps(const xt_tap *tap, const uint8_t *v8, const uint8_t *f8, const uint8_t *c8, const uint16_t *l16,
                      const int32_t *lab, int H, int W) {
    const size_t n = (size_t)H * W;
    float *buf = xt_xmalloc((n + 1) * sizeof *buf);
    emit_u8(tap, "vessel_u8", v8, n, H, W, buf);
    emit_u8(tap, "fishing_u8", f8, n, H, W, buf);
    emit_u8(tap, "center_u8", c8, n, H, W, buf);
    for (size_t i = 0; i < n; i++) buf[i] = xt_f16_to_f32(l16[i]);
    xt_tap_emit(tap, "length_f16", buf, 2, (int64_t)H, (int64_t)W);
    for (size_t i = 0; i < n; i++) buf[i] = (float)lab[i];
    xt_tap_emit(tap, "labels", buf, 2, (int64_t)H, (int64_t)W);
    free(buf);
}

// expected.det.*: the official outputs and the diagnostics, in output order
static void emit_dets(const xt_tap *tap, const xt_xview_det *d, int64_t n) {
    float *b = xt_xmalloc(((size_t)n + 1) * sizeof *b);
#define DET(name, expr)                                                                                                     \
    do {                                                                                                                    \
        for (int64_t i = 0; i < n; i++) b[i] = (float)(expr);                                                               \
        xt_tap_emit(tap, "det." name, b, 1, n);                                                                             \
    } while (0)
    DET("row", d[i].row);
    DET("col", d[i].col);
    DET("is_vessel", d[i].is_vessel);
    DET("is_fishing", d[i].is_fishing);
    DET("length", xt_f16_to_f32(d[i].length_f16));
    DET("mean_vessel", d[i].mean_vessel);
    DET("mean_fishing", d[i].mean_fishing);
    DET("mean_center", d[i].mean_center);
    DET("mean_length", d[i].mean_length);
    DET("area", d[i].area);
    DET("vessel_votes", d[i].vessel_votes);
    DET("fishing_votes", d[i].fishing_votes);
#undef DET
    free(b);
}

// "<dir of st>/<case><suffix>"; 1 when that file exists
int xt_xview_score_csv_path(const xt_st *st, const xt_json *cfg, const char *suffix, char *buf, size_t size) {
    const char *cs = xt_json_str(cfg, "case", NULL), *sl = strrchr(st->path, '/');
    if (!cs || !*cs || strchr(cs, '/')) return 0;
    int dl = sl ? (int)(sl - st->path + 1) : 0;
    if (snprintf(buf, size, "%.*s%s%s", dl, st->path, cs, suffix) >= (int)size) return 0;
    FILE *f = fopen(buf, "rb");
    if (f) fclose(f);
    return f != NULL;
}

// the CSV of dets against the file beside st (when there): -1 + error naming the first different line
static int compare_csv(const xt_st *st, const xt_json *cfg, const char *suffix, const char *scene, const xt_xview_det *d,
                       int64_t n) {
    char path[1024];
    if (!xt_xview_score_csv_path(st, cfg, suffix, path, sizeof path)) return 0;
    FILE *f = fopen(path, "rb");
    if (!f) return xt_error("verify", "%s: cannot open", path);
    xt_sbuf want = {0}, got = {0};
    char chunk[4096];
    size_t k;
    while ((k = fread(chunk, 1, sizeof chunk, f)) > 0) xt_sbuf_printf(&want, "%.*s", (int)k, chunk);
    fclose(f);
    xt_xview_csv_header(&got);
    xt_xview_csv_rows(&got, scene, d, n);
    int rc = 0;
    if (got.n != want.n || (got.n && memcmp(got.p, want.p, got.n))) {
        size_t i = 0, line = 1;
        while (i < got.n && i < want.n && got.p[i] == want.p[i]) line += got.p[i++] == '\n';
        rc = xt_error("verify", "%s: the computed CSV differs from the file at line %zu (%zu bytes computed, %zu in the file)",
                      path, line, got.n, want.n);
    }
    xt_sbuf_free(&want);
    xt_sbuf_free(&got);
    return rc;
}

static int run_postproc(xt_st *st, const xt_json *cfg, const char *scene, const xt_tap *tap) {
    const xt_st_tensor *t, *t2;
    const char *names[4] = {"input.vessel_logit", "input.fishing_logit", "input.center", "input.length"};
    const float *in[4];
    t = xt_st_find(st, names[0]);
    for (int k = 0; k < 4; k++) {
        in[k] = xt_st_f32(st, names[k], &t2);
        if (!in[k]) return xt_error("verify", "%s: no F32 tensor '%s'", st->path, names[k]);
        if (t2->ndim != 2 || t2->shape[0] != t->shape[0] || t2->shape[1] != t->shape[1] || t->shape[0] < 1 ||
            t->shape[1] < 1 || t->shape[0] > (1 << 20) || t->shape[1] > (1 << 20))
            return xt_error("verify", "%s: '%s' is not an (H, W) map like '%s'", st->path, names[k], names[0]);
    }
    const int H = (int)t->shape[0], W = (int)t->shape[1];
    const size_t n = (size_t)H * W;
    float *vp = xt_xmalloc(n * sizeof *vp), *fp = xt_xmalloc(n * sizeof *fp);
    memcpy(vp, in[0], n * sizeof *vp);
    memcpy(fp, in[1], n * sizeof *fp);
    xt_xview_sigmoid(vp, n);
    xt_xview_sigmoid(fp, n);
    uint8_t *v8 = xt_xmalloc(n), *f8 = xt_xmalloc(n), *c8 = xt_xmalloc(n);
    uint16_t *l16 = xt_xmalloc(n * 2);
    int32_t *lab = xt_xmalloc(n * sizeof *lab);
    xt_xview_quantize(v8, f8, c8, l16, vp, fp, in[2], in[3], n);
    xt_xview_det *d = NULL, *ds = NULL;
    int64_t nd = 0, nds = 0;
    int rc = xt_xview_detect(v8, f8, c8, l16, H, W, 0, lab, &d, &nd);
    if (!rc) {
        emit_maps(tap, v8, f8, c8, l16, lab, H, W);
        emit_dets(tap, d, nd);
        rc = compare_csv(st, cfg, ".csv", scene, d, nd);
    }
    // selimsef's submission: the OR rules
    if (!rc) rc = xt_xview_detect(v8, f8, c8, l16, H, W, XT_XVIEW_POST_SELIM, NULL, &ds, &nds);
    if (!rc) rc = compare_csv(st, cfg, ".selim.csv", scene, ds, nds);
    free(d), free(ds), free(vp), free(fp), free(v8), free(f8), free(c8), free(l16), free(lab);
    return rc;
}


static int run_tiling(xt_st *st, const xt_json *cfg, const char *scene, const xt_tap *tap) {
    const xt_json *pj = xt_json_get(cfg, "params");
    xt_xview_fake fk;
    xt_xview_tiling tp = {0};
    int T = 0, ov = 0;
    if (xt_xview_fake_setup(&fk, pj, &tp, &T, &ov)) return xt_error_in_file(st->path);
    // the pipeline: selimsef's (correct TTA, OR rules) for his cases, xT's evaluator otherwise
    const char *cs = xt_json_str(cfg, "case", ""), *pl = xt_json_str(pj, "pipeline", strstr(cs, "selim") ? "selim" : "xt");
    if (strcmp(pl, "xt") && strcmp(pl, "selim")) {
        xt_xview_fake_free(&fk);
        return xt_error("verify", "%s: tiling params: unknown 'pipeline' '%s' (xt, selim)", st->path, pl);
    }
    tp.tta = !strcmp(pl, "selim") ? XT_XVIEW_TTA_SELIM : XT_XVIEW_TTA_XT;
    const xt_st_tensor *t, *t2;
    const float *vv = xt_st_f32(st, "input.vv_db", &t), *vh = xt_st_f32(st, "input.vh_db", &t2);
    if (!vv || !vh || t->ndim != 2 || t2->ndim != 2 || t->shape[0] != t2->shape[0] || t->shape[1] != t2->shape[1] ||
        t->shape[0] > (1 << 20) || t->shape[1] > (1 << 20)) {
        xt_xview_fake_free(&fk);
        return xt_error("verify", "%s: needs F32 (H, W) maps 'input.vv_db' and 'input.vh_db' of one shape", st->path);
    }
    const int H = (int)t->shape[0], W = (int)t->shape[1];
    const size_t n = (size_t)H * W;
    xt_xview_grid g;
    if (xt_xview_grid_init(&g, H, W, T, ov)) {
        xt_xview_fake_free(&fk);
        return xt_error_in_file(st->path);
    }
    float *buf = xt_xmalloc((n + 2 * (size_t)T * T) * sizeof *buf);
    int64_t *own = xt_xmalloc(n * sizeof *own);
    xt_xview_grid_owner(&g, own);
    for (size_t i = 0; i < n; i++) buf[i] = (float)own[i];
    xt_tap_emit(tap, "owner", buf, 2, (int64_t)H, (int64_t)W);
    // the normalised float16 inputs of the tiles the case shows
    const xt_json *show = xt_json_get(pj, "show_tiles");
    for (int s = 0; show && show->type == XT_JSON_ARR && s < show->n; s++) {
        const xt_json *e = show->items[s];
        if (e->type != XT_JSON_NUM || e->num != (int)e->num || e->num < 0 || e->num >= g.rows * g.cols) continue;
        int k = (int)e->num;
        xt_xview_tile tl;
        xt_xview_grid_tile(&g, k / g.cols, k % g.cols, &tl);
        size_t o = tl.h ? (size_t)tl.y * W + tl.x : 0; // an all-padding tile reads nothing
        xt_xview_tile_input(buf, vv + o, vh + o, W, tl.h, tl.w, T);
        xt_tap_emitf(tap, buf, 3, (int64_t[]){2, T, T}, "tile%d.input", k);
    }
    // the scene, streamed into whole maps and the detector
    xt_xview_model model = xt_xview_fake_model(&fk);
    xt_xview_mem_scene ss = {vv, vh, W};
    xt_xview_source src = xt_xview_source_mem(&ss);
    xt_xview_maps mp;
    xt_xview_maps_init(&mp, H, W, xt_xview_post_new(W, tp.tta == XT_XVIEW_TTA_SELIM ? XT_XVIEW_POST_SELIM : 0, NULL));
    xt_xview_sink sink = xt_xview_maps_sink(&mp);
    xt_xview_det *d = NULL, *d2 = NULL;
    int64_t nd = 0, nd2 = 0;
    int32_t *lab = xt_xmalloc(n * sizeof *lab);
    int rc = xt_xview_scene_predict(&tp, &g, &src, &model, &sink);
    if (!rc && mp.next != H) rc = xt_error("verify", "%s: the scene ended at row %d of %d", st->path, mp.next, H);
    if (!rc) {
        // the call log: models concatenated, [pass, i, j, m_before, m_after]
        int nc = fk.nlog[0] + fk.nlog[1];
        float *calls = xt_xmalloc(((size_t)nc * 5 + 1) * sizeof *calls);
        if (fk.nlog[0]) memcpy(calls, fk.log[0], (size_t)fk.nlog[0] * 5 * sizeof *calls);
        if (fk.nlog[1]) memcpy(calls + (size_t)fk.nlog[0] * 5, fk.log[1], (size_t)fk.nlog[1] * 5 * sizeof *calls);
        xt_tap_emit(tap, "calls", calls, 2, (int64_t)nc, (int64_t)5);
        free(calls);
        // the CSV from the streamed rows (selimsef: OR rules); expected.det.* and labels are
        // process_confidence's own output on the whole maps
        rc = xt_xview_post_finish(mp.post, &d, &nd);
    }
    if (!rc) rc = xt_xview_detect(mp.vessel, mp.fishing, mp.center, mp.length, H, W, 0, lab, &d2, &nd2);
    if (!rc) {
        emit_maps(tap, mp.vessel, mp.fishing, mp.center, mp.length, lab, H, W);
        emit_dets(tap, d2, nd2);
        rc = compare_csv(st, cfg, ".csv", scene, d, nd);
    }
    free(d), free(d2), free(lab), free(own), free(buf);
    xt_xview_maps_free(&mp);
    xt_xview_fake_free(&fk);
    return rc;
}

int xt_xview_score_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    const char *kind = xt_json_str(cfg, "kind", ""), *scene = xt_json_str(cfg, "scene_id", NULL);
    if (!scene) return xt_error("verify", "%s: no 'scene_id' in __metadata__ (the CSV's scene column)", st->path);
    if (!strcmp(kind, "postprocessing")) return run_postproc(st, cfg, scene, tap);
    if (!strcmp(kind, "tiling")) return run_tiling(st, cfg, scene, tap);
    return xt_error("verify", "%s: kind '%s' is not an xView3 scoring case", st->path, kind);
}
