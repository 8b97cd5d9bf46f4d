// xview_post.c — xView3 maps -> point detections (golden README section A): the official
// process_confidence (inference/postprocessing.py, identical in xT and selimsef) on the uint8 /
// float16 maps that run_inference quantised, streamed row by row.
//
// Official steps and how they are done here:
//   centers = center_u8 > 100; binary_dilation (3x3 cross, one iteration, outside = false)
//     -> the dilated row r is formed when row r+1 has arrived (a ring of three mask rows);
//   skimage.measure.label (8-connectivity), regionprops in label order (raster order of each
//   component's first pixel) -> runs of the dilated row joined to the touching runs of the row
//   above with a union-find over component records; a component is complete when no run of the
//   next row touches it, and is then reduced to its detection; the list is sorted by first pixel
//   at the end;
//   centroid int(mean(coords)), votes > 8, max length, means -> exact integer sums per
//   component (A.5); the means are float64 as numpy's, except mean_length (numpy averages the
//   float16 values pairwise in float32; here in float64, so it may differ by one float16 ulp).
// Nothing W x H is held unless the caller asks for the label image.
#include <math.h>
#include <string.h>

#include "formats/safetensors.h"
#include "run/xview.h"

void xt_xview_sigmoid(float *x, size_t n) {
    for (size_t i = 0; i < n; i++) x[i] = 1.0f / (1.0f + expf(-x[i]));
}

void xt_xview_quantize(uint8_t *vessel_u8, uint8_t *fishing_u8, uint8_t *center_u8, uint16_t *length_f16,
                       const float *vessel_p, const float *fishing_p, const float *center, const float *length, size_t n) {
    for (size_t i = 0; i < n; i++) {
        // (output * 255).astype(uint8): a float32 product, truncated
        float v = vessel_p[i] * 255.0f, f = fishing_p[i] * 255.0f, c = center[i];
        vessel_u8[i] = v >= 0 && v < 256 ? (uint8_t)v : v >= 256 ? 255 : 0;
        fishing_u8[i] = f >= 0 && f < 256 ? (uint8_t)f : f >= 256 ? 255 : 0;
        c = c > 255.0f ? 255.0f : c; // torch.clamp(center, 0, 255).astype(uint8)
        center_u8[i] = c >= 0 ? (uint8_t)c : 0;
        length_f16[i] = xt_f32_to_f16(length[i]);
    }
}

typedef struct {
    int64_t parent;          // union-find; == self for a root
    int64_t first_r, first_c;
    int64_t area, sum_r, sum_c, votes_v, votes_f, sum_v, sum_f, sum_c8;
    double sum_len;
    float max_len;
    uint16_t max_bits;
    int len_nan;
    int64_t stamp;           // last dilated row with a run of this component
} comp;

typedef struct {
    int x0, x1;   // inclusive
    int64_t comp;
} run;

typedef struct {
    xt_xview_det d;
    int64_t first_r, first_c, comp;
} done_det;

struct xt_xview_post {
    int W, flags;
    int32_t *labels;
    int64_t y;           // rows received
    uint8_t *cm[3];      // centre masks of rows y % 3
    uint8_t *mv[2], *mf[2], *mc[2]; // maps of rows y % 2
    uint16_t *ml[2];
    uint8_t *dil;
    run *prev, *cur;
    int nprev, ncur;
    comp *comps;
    int64_t ncomp, capcomp;
    int64_t *free_ids, nfree, capfree;
    int64_t *merged, nmerged, capmerged;
    done_det *out;
    int64_t nout, capout;
    int finished;
};

xt_xview_post *xt_xview_post_new(int W, int flags, int32_t *labels) {
    if (W <= 0) {
        xt_error("xview post", "row width %d", W);
        return NULL;
    }
    xt_xview_post *p = xt_xcalloc(1, sizeof *p);
    p->W = W;
    p->flags = flags;
    p->labels = labels;
    for (int k = 0; k < 3; k++) p->cm[k] = xt_xcalloc((size_t)W, 1);
    for (int k = 0; k < 2; k++) {
        p->mv[k] = xt_xmalloc((size_t)W);
        p->mf[k] = xt_xmalloc((size_t)W);
        p->mc[k] = xt_xmalloc((size_t)W);
        p->ml[k] = xt_xmalloc((size_t)W * 2);
    }
    p->dil = xt_xmalloc((size_t)W);
    p->prev = xt_xmalloc(((size_t)W / 2 + 1) * sizeof *p->prev); // at most ceil(W/2) runs in a row
    p->cur = xt_xmalloc(((size_t)W / 2 + 1) * sizeof *p->cur);
    return p;
}

void xt_xview_post_free(xt_xview_post *p) {
    if (!p) return;
    for (int k = 0; k < 3; k++) free(p->cm[k]);
    for (int k = 0; k < 2; k++) {
        free(p->mv[k]);
        free(p->mf[k]);
        free(p->mc[k]);
        free(p->ml[k]);
    }
    free(p->dil);
    free(p->prev);
    free(p->cur);
    free(p->comps);
    free(p->free_ids);
    free(p->merged);
    free(p->out);
    free(p);
}

static void *grow(void *a, int64_t *cap, int64_t need, size_t elem) {
    if (need <= *cap) return a;
    int64_t c = *cap ? *cap : 64;
    while (c < need) c *= 2;
    a = realloc(a, (size_t)c * elem);
    XT_ASSERT(a);
    *cap = c;
    return a;
}

static int64_t find(comp *cs, int64_t i) {
    int64_t r = i;
    while (cs[r].parent != r) r = cs[r].parent;
    while (cs[i].parent != r) { // path compression
        int64_t n = cs[i].parent;
        cs[i].parent = r;
        i = n;
    }
    return r;
}

static int64_t new_comp(xt_xview_post *p, int64_t r, int x) {
    int64_t id;
    if (p->nfree) id = p->free_ids[--p->nfree];
    else {
        p->comps = grow(p->comps, &p->capcomp, p->ncomp + 1, sizeof *p->comps);
        id = p->ncomp++;
    }
    comp *c = &p->comps[id];
    memset(c, 0, sizeof *c);
    c->parent = id;
    c->first_r = r;
    c->first_c = x;
    c->max_len = -INFINITY;
    c->max_bits = 0xfc00; // -inf
    return id;
}

static void release(xt_xview_post *p, int64_t id) {
    if (p->labels) return; // the label image resolves provisional ids at the end
    p->free_ids = grow(p->free_ids, &p->capfree, p->nfree + 1, sizeof *p->free_ids);
    p->free_ids[p->nfree++] = id;
}

// b joins a (both roots)
static void unite(xt_xview_post *p, int64_t a, int64_t b) {
    comp *A = &p->comps[a], *B = &p->comps[b];
    B->parent = a;
    if (B->first_r < A->first_r || (B->first_r == A->first_r && B->first_c < A->first_c)) {
        A->first_r = B->first_r;
        A->first_c = B->first_c;
    }
    A->area += B->area;
    A->sum_r += B->sum_r;
    A->sum_c += B->sum_c;
    A->votes_v += B->votes_v;
    A->votes_f += B->votes_f;
    A->sum_v += B->sum_v;
    A->sum_f += B->sum_f;
    A->sum_c8 += B->sum_c8;
    A->sum_len += B->sum_len;
    A->len_nan |= B->len_nan;
    if (B->max_len > A->max_len) {
        A->max_len = B->max_len;
        A->max_bits = B->max_bits;
    }
    p->merged = grow(p->merged, &p->capmerged, p->nmerged + 1, sizeof *p->merged);
    p->merged[p->nmerged++] = b;
}

static void emit(xt_xview_post *p, int64_t id) {
    const comp *c = &p->comps[id];
    p->out = grow(p->out, &p->capout, p->nout + 1, sizeof *p->out);
    done_det *o = &p->out[p->nout++];
    memset(o, 0, sizeof *o);
    xt_xview_det *d = &o->d;
    d->row = c->sum_r / c->area; // int(mean): non-negative, so truncation = floor
    d->col = c->sum_c / c->area;
    d->area = c->area;
    d->vessel_votes = c->votes_v;
    d->fishing_votes = c->votes_f;
    d->is_vessel = c->votes_v >= XT_XVIEW_MIN_VOTES;
    d->is_fishing = c->votes_f >= XT_XVIEW_MIN_VOTES;
    d->mean_vessel = (double)c->sum_v / (double)c->area;
    d->mean_fishing = (double)c->sum_f / (double)c->area;
    d->mean_center = (double)c->sum_c8 / (double)c->area;
    d->length_f16 = c->len_nan ? 0x7e00 : c->max_bits; // numpy's max propagates NaN
    d->mean_length = xt_f16_to_f32(xt_f32_to_f16((float)(c->sum_len / (double)c->area)));
    if (p->flags & XT_XVIEW_POST_SELIM) {
        d->is_vessel |= d->mean_vessel > 90;
        d->is_fishing |= d->mean_fishing > 80;
    }
    o->first_r = c->first_r;
    o->first_c = c->first_c;
    o->comp = id;
}

// Dilated row r (r + 1 < p->y means the next mask row exists), then the components it ends.
static void process_row(xt_xview_post *p, int64_t r) {
    const int W = p->W;
    const uint8_t *cu = p->cm[r % 3], *up = r > 0 ? p->cm[(r - 1) % 3] : NULL, *dn = r + 1 < p->y ? p->cm[(r + 1) % 3] : NULL;
    uint8_t *d = p->dil;
    for (int x = 0; x < W; x++)
        d[x] = cu[x] | (x > 0 ? cu[x - 1] : 0) | (x + 1 < W ? cu[x + 1] : 0) | (up ? up[x] : 0) | (dn ? dn[x] : 0);
    const uint8_t *mv = p->mv[r % 2], *mf = p->mf[r % 2], *mc = p->mc[r % 2];
    const uint16_t *ml = p->ml[r % 2];
    p->ncur = 0;
    p->nmerged = 0;
    if (p->labels) memset(p->labels + r * W, 0, (size_t)W * sizeof *p->labels); // background
    int pi = 0;
    for (int x = 0; x < W;) {
        if (!d[x]) { x++; continue; }
        int x0 = x;
        while (x < W && d[x]) x++;
        int x1 = x - 1;
        // 8-connectivity: a run of the row above touches [x0 - 1, x1 + 1]
        while (pi < p->nprev && p->prev[pi].x1 < x0 - 1) pi++;
        int64_t id = -1;
        for (int k = pi; k < p->nprev && p->prev[k].x0 <= x1 + 1; k++) {
            int64_t rc = find(p->comps, p->prev[k].comp);
            if (id < 0) id = rc;
            else if (rc != id) unite(p, id, rc);
        }
        if (id < 0) id = new_comp(p, r, x0);
        comp *c = &p->comps[id];
        for (int k = x0; k <= x1; k++) {
            c->area++;
            c->sum_r += r;
            c->sum_c += k;
            c->votes_v += mv[k] > XT_XVIEW_VOTE_THR;
            c->votes_f += mf[k] > XT_XVIEW_VOTE_THR;
            c->sum_v += mv[k];
            c->sum_f += mf[k];
            c->sum_c8 += mc[k];
            float l = xt_f16_to_f32(ml[k]);
            if (l != l) c->len_nan = 1;
            else if (l > c->max_len) {
                c->max_len = l;
                c->max_bits = ml[k];
            }
            c->sum_len += l;
            if (p->labels) p->labels[r * W + k] = (int32_t)(id + 1); // provisional
        }
        p->cur[p->ncur++] = (run){x0, x1, id};
    }
    for (int k = 0; k < p->ncur; k++) {
        p->cur[k].comp = find(p->comps, p->cur[k].comp);
        p->comps[p->cur[k].comp].stamp = r + 1; // stamps are row + 1: 0 = never
    }
    for (int k = 0; k < p->nprev; k++) {
        int64_t c = find(p->comps, p->prev[k].comp);
        if (p->comps[c].stamp != r + 1 && p->comps[c].stamp != -1) {
            emit(p, c);
            p->comps[c].stamp = -1; // emitted (several runs of the row above may share it)
            release(p, c);
        }
    }
    for (int64_t k = 0; k < p->nmerged; k++) release(p, p->merged[k]);
    run *t = p->prev;
    p->prev = p->cur;
    p->cur = t;
    p->nprev = p->ncur;
}

int xt_xview_post_rows(xt_xview_post *p, int y0, int n, const uint8_t *vessel_u8, const uint8_t *fishing_u8,
                       const uint8_t *center_u8, const uint16_t *length_f16, ptrdiff_t ld) {
    if (p->finished) return xt_error("xview post", "rows after the end of the scene");
    if (y0 != p->y) return xt_error("xview post", "rows from %d, expected %lld (rows must come in order)", y0, (long long)p->y);
    if (n < 0 || ld < p->W) return xt_error("xview post", "%d rows of stride %td (width %d)", n, ld, p->W);
    if (p->labels && p->ncomp > INT32_MAX / 2) return xt_error("xview post", "too many components for a label image");
    const size_t W = (size_t)p->W;
    for (int i = 0; i < n; i++) {
        int64_t y = p->y;
        const size_t o = (size_t)i * (size_t)ld;
        uint8_t *cm = p->cm[y % 3];
        for (size_t x = 0; x < W; x++) cm[x] = center_u8[o + x] > XT_XVIEW_CENTER_THR;
        memcpy(p->mv[y % 2], vessel_u8 + o, W);
        memcpy(p->mf[y % 2], fishing_u8 + o, W);
        memcpy(p->mc[y % 2], center_u8 + o, W);
        memcpy(p->ml[y % 2], length_f16 + o, W * 2);
        p->y++;
        if (y >= 1) process_row(p, y - 1);
    }
    return 0;
}

static int by_first(const void *a, const void *b) {
    const done_det *x = a, *y = b;
    if (x->first_r != y->first_r) return x->first_r < y->first_r ? -1 : 1;
    return x->first_c < y->first_c ? -1 : x->first_c > y->first_c;
}

int xt_xview_post_finish(xt_xview_post *p, xt_xview_det **dets, int64_t *n) {
    *dets = NULL;
    *n = 0;
    if (p->finished) return xt_error("xview post", "finished twice");
    p->finished = 1;
    if (p->y > 0) {
        process_row(p, p->y - 1);
        p->ncur = 0;             // an empty row below the scene closes what is left
        for (int k = 0; k < p->nprev; k++) {
            int64_t c = find(p->comps, p->prev[k].comp);
            if (p->comps[c].stamp != -1) {
                emit(p, c);
                p->comps[c].stamp = -1;
            }
        }
        p->nprev = 0;
    }
    if (p->nout) qsort(p->out, (size_t)p->nout, sizeof *p->out, by_first);
    if (p->labels && p->y > 0) { // provisional ids -> output ranks
        int32_t *rank = xt_xcalloc((size_t)p->ncomp + 1, sizeof *rank);
        for (int64_t k = 0; k < p->nout; k++) rank[p->out[k].comp] = (int32_t)(k + 1);
        for (int64_t i = 0; i < p->y * p->W; i++)
            if (p->labels[i] > 0) p->labels[i] = rank[find(p->comps, p->labels[i] - 1)];
        free(rank);
    }
    xt_xview_det *d = xt_xmalloc(((size_t)p->nout + 1) * sizeof *d);
    for (int64_t k = 0; k < p->nout; k++) d[k] = p->out[k].d;
    *dets = d;
    *n = p->nout;
    return 0;
}

int xt_xview_detect(const uint8_t *vessel_u8, const uint8_t *fishing_u8, const uint8_t *center_u8,
                    const uint16_t *length_f16, int H, int W, int flags, int32_t *labels, xt_xview_det **dets, int64_t *n) {
    *dets = NULL;
    *n = 0;
    xt_xview_post *p = xt_xview_post_new(W, flags, labels);
    if (!p) return -1;
    int rc = xt_xview_post_rows(p, 0, H, vessel_u8, fishing_u8, center_u8, length_f16, W) ? -1 : xt_xview_post_finish(p, dets, n);
    xt_xview_post_free(p);
    return rc;
}

static int sink_rows(void *u, int y0, int n, int W, const uint8_t *vessel, const uint8_t *fishing, const uint8_t *center,
                     const uint16_t *length) {
    return xt_xview_post_rows(u, y0, n, vessel, fishing, center, length, W);
}

xt_xview_sink xt_xview_post_sink(xt_xview_post *p) { return (xt_xview_sink){sink_rows, p}; }
