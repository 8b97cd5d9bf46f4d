// xview_tile.c — xView3 whole-scene inference around the model (golden README section B):
// the official tile grid and stitching (inference/tiling.py), the float16 tile input
// (Tiler.get_crop + normalize_band), the region loop of xT's evaluator (model_foward), rot-180
// TTA and ensembling in xT's (buggy) or selimsef's form (run_inference.py), quantisation per
// tile, and a driver that streams a scene tile row by tile row into a sink.
#include <string.h>

#include "core/dist.h"
#include "formats/safetensors.h"
#include "run/xview.h"

int xt_xview_grid_init(xt_xview_grid *g, int H, int W, int T, int overlap) {
    if (H <= 0 || W <= 0) return xt_error("xview tiles", "scene of %d x %d pixels", H, W);
    if (T <= 0 || overlap < 0 || overlap >= T)
        return xt_error("xview tiles", "tile size %d with overlap %d (need 0 <= overlap < tile size)", T, overlap);
    g->H = H;
    g->W = W;
    g->T = T;
    g->ov = overlap;
    g->stride = T - overlap;
    g->half = overlap / 2;
    g->rows = H / g->stride + 1; // Tiler.generate_slices: a row starting at y == H is kept (bug 19)
    g->cols = W / g->stride + 1;
    if ((int64_t)g->rows * g->cols > INT32_MAX / 2) return xt_error("xview tiles", "%d x %d tiles", g->rows, g->cols);
    return 0;
}

static int imin(int a, int b) { return a < b ? a : b; }

void xt_xview_grid_tile(const xt_xview_grid *g, int r, int c, xt_xview_tile *t) {
    t->r = r;
    t->c = c;
    t->index = r * g->cols + c;
    t->y = r * g->stride;
    t->x = c * g->stride;
    t->h = t->y < g->H ? imin(g->T, g->H - t->y) : 0;
    t->w = t->x < g->W ? imin(g->W - t->x, g->T) : 0;
    // update_crop writes pred[top:, left:] from y + top (top = ov // 2 after the first row) and
    // later tiles overwrite: the tile keeps rows up to where the next tile row starts writing.
    t->oy0 = t->y + (r > 0 ? g->half : 0);
    t->oy1 = imin(g->H, imin(t->y + g->T, (r + 1) * g->stride + g->half));
    t->ox0 = t->x + (c > 0 ? g->half : 0);
    t->ox1 = imin(g->W, imin(t->x + g->T, (c + 1) * g->stride + g->half));
}

static float f16r(float v) { return xt_f16_to_f32(xt_f32_to_f16(v)); }

void xt_xview_tile_input(float *out, const float *vv, const float *vh, ptrdiff_t ld, int h, int w, int T) {
    for (int b = 0; b < 2; b++) {
        const float *src = b ? vh : vv;
        float *o = out + (size_t)b * T * T;
        int any = 0;
        for (int y = 0; y < T; y++)
            for (int x = 0; x < T; x++) {
                // crop.astype(float16), padded with 0 dB; then band[band < -32760] = -100
                // (the comparison is exact: numpy compares in float32)
                float v = y < h && x < w ? f16r(src[(size_t)y * ld + x]) : 0.0f;
                if (v < -32760.0f) v = -100.0f;
                any |= v != -100.0f;
                o[(size_t)y * T + x] = v;
            }
        for (size_t i = 0; i < (size_t)T * T; i++) {
            float v = o[i];
            // normalize_band: the ignored (-100) pixels are 0; so is a band that is all -100.
            // numpy float16 arithmetic: each op in float32, rounded to float16
            o[i] = !any || v == -100.0f ? 0.0f : f16r(f16r(v + 40.0f) / 15.0f);
        }
    }
}

// ---------------------------------------------------------------------------------------------
// one tile through the model

typedef struct {
    float *xr;       // (2, T, T) the rot-180 input
    float *reg;      // (2, S, S) one region
    float *rout[XT_XVIEW_MAPS];  // (S, S)
    float *o[XT_XVIEW_MAPS];     // (T, T) a pass's canvas
    float *o180[XT_XVIEW_MAPS];  // (T, T) the rot-180 pass
    float *acc[XT_XVIEW_MAPS];   // (T, T) selimsef's ensemble sum (more than one model)
} tile_bufs;

size_t xt_xview_tile_work_size(const xt_xview_tiling *p, int T) {
    size_t TT = (size_t)T * T, S = p->region > 0 ? (size_t)p->region : 0;
    return 2 * TT + 2 * S * S + XT_XVIEW_MAPS * (S * S + 3 * TT);
}

static void carve(tile_bufs *b, float *w, const xt_xview_tiling *p, int T) {
    size_t TT = (size_t)T * T, S = p->region > 0 ? (size_t)p->region : 0;
    b->xr = w, w += 2 * TT;
    b->reg = w, w += 2 * S * S;
    for (int k = 0; k < XT_XVIEW_MAPS; k++) {
        b->rout[k] = w, w += S * S;
        b->o[k] = w, w += TT;
        b->o180[k] = w, w += TT;
        b->acc[k] = w, w += TT;
    }
}

// model_foward (xT context mode) or model(x): one application of model m to the tile x.
static int run_pass(const xt_xview_tiling *p, int T, const float *x, const xt_xview_model *m, int model, tile_bufs *b,
                    float *const *canvas) {
    if (m->begin && m->begin(m->u, model)) return -1;
    if (p->region <= 0) return m->forward(m->u, model, x, T, -1, -1, 0, canvas);
    const int S = p->region, n = T / S;
    // the canvas starts at zero: if T % S != 0 the uncovered border stays 0 (bug 20)
    for (int k = 0; k < XT_XVIEW_MAPS; k++) memset(canvas[k], 0, (size_t)T * T * sizeof(float));
    const int passes = p->order == XT_XVIEW_ORDER_TWO_STREAM ? 2 : 1;
    for (int pass = 0; pass < passes; pass++) {
        const int mem_only = passes == 2 && pass == 0;
        for (int q = 0; q < n * n; q++) {
            int i = q / n, j = q % n;
            if (p->order == XT_XVIEW_ORDER_ZIGZAG && (i & 1)) j = n - 1 - j;
            for (int ch = 0; ch < 2; ch++)
                for (int y = 0; y < S; y++)
                    memcpy(b->reg + ((size_t)ch * S + y) * S, x + ((size_t)ch * T + (size_t)S * i + y) * T + (size_t)S * j,
                           (size_t)S * sizeof(float));
            if (m->forward(m->u, model, b->reg, S, i, j, mem_only, b->rout)) return -1;
            if (mem_only) continue;
            for (int k = 0; k < XT_XVIEW_MAPS; k++)
                for (int y = 0; y < S; y++)
                    memcpy(canvas[k] + ((size_t)S * i + y) * T + (size_t)S * j, b->rout[k] + (size_t)y * S, (size_t)S * sizeof(float));
        }
    }
    return 0;
}

int xt_xview_tile_predict(const xt_xview_tiling *p, int T, const float *x, const xt_xview_model *m, float *work,
                          xt_xview_tile_maps *out) {
    if (m->n_models < 1) return xt_error("xview tiles", "an ensemble of %d models", m->n_models);
    if (p->order < 0 || p->order >= XT_XVIEW_ORDER_COUNT || p->tta < 0 || p->tta >= XT_XVIEW_TTA_COUNT)
        return xt_error("xview tiles", "bad region order or TTA kind");
    if (p->region > T) return xt_error("xview tiles", "region %d larger than the tile %d", p->region, T);
    const size_t TT = (size_t)T * T;
    float *own = NULL;
    if (!work) {
        own = work = xt_malloc_checked(xt_xview_tile_work_size(p, T) * sizeof(float), "xview tile buffers");
        if (!work) return -1;
    }
    tile_bufs b;
    carve(&b, work, p, T);
    const int M = m->n_models;
    int rc = -1;
    if (p->rotate) // torch.rot90(x, 2, dims=(2, 3)): both axes reversed
        for (int ch = 0; ch < 2; ch++)
            for (size_t i = 0; i < TT; i++) b.xr[ch * TT + i] = x[ch * TT + TT - 1 - i];
    float **res = b.o;
    if (p->tta == XT_XVIEW_TTA_XT) {
        // for model in models: output = model_foward(batch, model)   (overwritten: bug 13)
        for (int mi = 0; mi < M; mi++)
            if (run_pass(p, T, x, m, mi, &b, b.o)) goto done;
        xt_xview_sigmoid(b.o[XT_XVIEW_VESSEL], TT);
        xt_xview_sigmoid(b.o[XT_XVIEW_FISHING], TT);
        if (p->rotate) {
            if (run_pass(p, T, b.xr, m, M - 1, &b, b.o180)) goto done;
            // the loop over keys only computes val; the += and *= 0.5 after it touch the last
            // key, length_mask (bug 12)
            float *l = b.o[XT_XVIEW_LENGTH];
            const float *l180 = b.o180[XT_XVIEW_LENGTH];
            for (size_t i = 0; i < TT; i++) l[i] = (l[i] + l180[TT - 1 - i]) * 0.5f;
        }
        for (int k = 0; k < XT_XVIEW_MAPS; k++) // sum([output]) / len(models)
            for (size_t i = 0; i < TT; i++) b.o[k][i] = b.o[k][i] / (float)M;
    } else {
        for (int mi = 0; mi < M; mi++) {
            if (run_pass(p, T, x, m, mi, &b, b.o)) goto done;
            xt_xview_sigmoid(b.o[XT_XVIEW_VESSEL], TT);
            xt_xview_sigmoid(b.o[XT_XVIEW_FISHING], TT);
            if (p->rotate) {
                if (run_pass(p, T, b.xr, m, mi, &b, b.o180)) goto done;
                xt_xview_sigmoid(b.o180[XT_XVIEW_VESSEL], TT);
                xt_xview_sigmoid(b.o180[XT_XVIEW_FISHING], TT);
                for (int k = 0; k < XT_XVIEW_MAPS; k++)
                    for (size_t i = 0; i < TT; i++) b.o[k][i] = (b.o[k][i] + b.o180[k][TT - 1 - i]) * 0.5f;
            }
            if (M > 1) // sum(outputs): 0 + o_1 + o_2 + ...
                for (int k = 0; k < XT_XVIEW_MAPS; k++)
                    for (size_t i = 0; i < TT; i++) b.acc[k][i] = mi ? b.acc[k][i] + b.o[k][i] : b.o[k][i];
        }
        if (M > 1) res = b.acc;
        for (int k = 0; k < XT_XVIEW_MAPS; k++)
            for (size_t i = 0; i < TT; i++) res[k][i] = res[k][i] / (float)M;
    }
    xt_xview_quantize(out->vessel, out->fishing, out->center, out->length, res[XT_XVIEW_VESSEL], res[XT_XVIEW_FISHING],
                      res[XT_XVIEW_CENTER], res[XT_XVIEW_LENGTH], TT);
    rc = 0;
done:
    free(own);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// the scene

int xt_xview_scene_predict(const xt_xview_tiling *p, const xt_xview_grid *g, const xt_xview_source *src,
                           const xt_xview_model *m, const xt_xview_sink *sink) {
    const int T = g->T, W = g->W, P = p->split ? xt_dist_size() : 1, me = P > 1 ? xt_dist_rank() : 0;
    const size_t TT = (size_t)T * T, band = (size_t)(g->stride + g->half) * W;
    if (P > 1) { // every rank must cut the scene alike, or rank 0 would wait for tiles nobody sends
        int mine[4] = {g->H, g->W, T, g->ov}, r0[4];
        memcpy(r0, mine, sizeof mine);
        if (xt_dist_bcast(r0, sizeof r0, 0)) return -1;
        if (memcmp(mine, r0, sizeof mine))
            return xt_error("xview tiles", "scene %d x %d, tiles %d overlapping by %d here; rank 0 has %d x %d, %d, %d "
                            "(every rank must see the same scene and options)", mine[1], mine[0], mine[2], mine[3], r0[1], r0[0], r0[2], r0[3]);
    }
    // ranks > 0: two tiles' maps (5 bytes a pixel) in flight, so one runs while rank 0 takes the other
    const int n_slot = me > 0 ? 2 : 1;
    xt_dist_req rq[2] = {{{0}, 0}, {{0}, 0}};
    float *work = xt_malloc_checked(xt_xview_tile_work_size(p, T) * sizeof(float), "xview tile buffers");
    float *db = xt_malloc_checked(2 * TT * sizeof(float), "xview tile window");
    float *x = xt_malloc_checked(2 * TT * sizeof(float), "xview tile input");
    uint8_t *tm = xt_malloc_checked(TT * 5 * n_slot, "xview tile maps");
    uint8_t *sm = me > 0 ? NULL : xt_malloc_checked(band * 5, "xview map rows");
    int rc = -1, slot = 0;
    if (!work || !db || !x || !tm || (me == 0 && !sm)) goto done;
    uint8_t *sv = sm, *sf = sm ? sm + band : NULL, *sc = sm ? sm + 2 * band : NULL; // none on ranks > 0
    uint16_t *sl = sm ? (uint16_t *)(void *)(sm + 3 * band) : NULL;
    for (int r = 0; r < g->rows; r++) {
        xt_xview_tile t;
        xt_xview_grid_tile(g, r, 0, &t);
        const int oy0 = t.oy0, oy1 = t.oy1;
        for (int c = 0; c < g->cols; c++) {
            const int i = r * g->cols + c, owner = i % P, tag = i % (XT_DIST_TAG_MAX + 1);
            if (owner != me && me != 0) continue; // another rank's tile
            uint8_t *b = tm + TT * 5 * slot;
            xt_xview_tile_maps tile = {b, b + TT, b + 2 * TT, (uint16_t *)(void *)(b + 3 * TT)};
            xt_xview_grid_tile(g, r, c, &t);
            if (owner != me) { // rank 0: the tile's maps from its owner, in order
                if (xt_dist_recv_bytes(b, TT * 5, owner, tag)) goto done;
            } else {
                if (xt_dist_wait(&rq[slot])) goto done; // ranks > 0: the slot's last send was taken
                // every tile is run, also an all-padding one (its outputs are then discarded)
                if (t.h > 0 && t.w > 0 && src->read(src->u, t.y, t.x, t.h, t.w, db, db + TT)) goto done;
                xt_xview_tile_input(x, db, db + TT, t.w > 0 ? t.w : 1, t.h, t.w, T);
                if (xt_xview_tile_predict(p, T, x, m, work, &tile)) goto done;
                if (me > 0) {
                    if (xt_dist_isend_bytes(b, TT * 5, 0, tag, &rq[slot])) goto done;
                    slot = (slot + 1) % n_slot;
                    continue;
                }
            }
            for (int y = t.oy0; y < t.oy1; y++)
                for (int xx = t.ox0; xx < t.ox1; xx++) {
                    size_t si = (size_t)(y - oy0) * W + xx, ti = (size_t)(y - t.y) * T + (xx - t.x);
                    sv[si] = tile.vessel[ti];
                    sf[si] = tile.fishing[ti];
                    sc[si] = tile.center[ti];
                    sl[si] = tile.length[ti];
                }
        }
        if (me == 0 && oy1 > oy0 && sink->rows(sink->u, oy0, oy1 - oy0, W, sv, sf, sc, sl)) goto done;
    }
    for (int k = 0; k < n_slot; k++) // rank 0 has taken every tile when these complete
        if (xt_dist_wait(&rq[k])) goto done;
    rc = 0;
done:
    free(work);
    free(db);
    free(x);
    if (!rq[0].active && !rq[1].active) free(tm); // else a send may still read it: the caller ends the job
    free(sm);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// whole maps of a streamed scene (small scenes, tests, xt verify)

static int maps_rows(void *u, int y0, int n, int W, const uint8_t *v, const uint8_t *f, const uint8_t *c,
                     const uint16_t *l) {
    xt_xview_maps *k = u;
    if (y0 != k->next || W != k->W || y0 + n > k->H) return xt_error("xview maps", "rows %d..%d out of order", y0, y0 + n);
    k->next = y0 + n;
    memcpy(k->vessel + (size_t)y0 * W, v, (size_t)n * W);
    memcpy(k->fishing + (size_t)y0 * W, f, (size_t)n * W);
    memcpy(k->center + (size_t)y0 * W, c, (size_t)n * W);
    memcpy(k->length + (size_t)y0 * W, l, (size_t)n * W * 2);
    return k->post ? xt_xview_post_rows(k->post, y0, n, v, f, c, l, W) : 0;
}

void xt_xview_maps_init(xt_xview_maps *k, int H, int W, xt_xview_post *post) {
    const size_t n = (size_t)H * W;
    *k = (xt_xview_maps){xt_xmalloc(n + 1), xt_xmalloc(n + 1), xt_xmalloc(n + 1), xt_xmalloc(2 * n + 2), H, W, 0, post};
}

void xt_xview_maps_free(xt_xview_maps *k) {
    free(k->vessel), free(k->fishing), free(k->center), free(k->length);
    xt_xview_post_free(k->post);
    memset(k, 0, sizeof *k);
}

xt_xview_sink xt_xview_maps_sink(xt_xview_maps *k) { return (xt_xview_sink){maps_rows, k}; }

void xt_xview_grid_owner(const xt_xview_grid *g, int64_t *owner) {
    for (size_t i = 0; i < (size_t)g->H * g->W; i++) owner[i] = -1;
    for (int r = 0; r < g->rows; r++)
        for (int c = 0; c < g->cols; c++) {
            xt_xview_tile t;
            xt_xview_grid_tile(g, r, c, &t);
            for (int y = t.oy0; y < t.oy1; y++)
                for (int x = t.ox0; x < t.ox1; x++) owner[(size_t)y * g->W + x] = t.index;
        }
}

static int mem_read(void *u, int y, int x, int h, int w, float *vv, float *vh) {
    const xt_xview_mem_scene *s = u;
    for (int r = 0; r < h; r++) {
        memcpy(vv + (size_t)r * w, s->vv + (size_t)(y + r) * s->W + x, (size_t)w * sizeof *vv);
        memcpy(vh + (size_t)r * w, s->vh + (size_t)(y + r) * s->W + x, (size_t)w * sizeof *vh);
    }
    return 0;
}

xt_xview_source xt_xview_source_mem(const xt_xview_mem_scene *s) {
    xt_xview_source src = {mem_read, (void *)s};
    return src;
}
