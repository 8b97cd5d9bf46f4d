// xview.h — everything around the xView3-SAR dense model that the official pipeline does:
// whole-scene tiling and stitching (xview_tile.c), maps -> point detections (xview_post.c), the
// prediction CSV (xview_csv.c) and the leaderboard metric (xview_metric.c). Every function
// reproduces the official code, quirks included; tests/golden/xview_score/README.md is the
// specification (sections A-D) and docs/xview3.md says which quirks are kept and which are flags.
//
//     xt_xview_grid g;  xt_xview_grid_init(&g, H, W, 4096, 10);
//     xt_xview_post *pp = xt_xview_post_new(W, 0, NULL);
//     xt_xview_scene_predict(&tiling, &g, &source, &model, xt_xview_post_sink(pp));  // streams rows
//     xt_xview_post_finish(pp, &dets, &n);  xt_xview_csv_rows(&csv, scene_id, dets, n);
//     ...  xt_xview_score(preds, labels, &opts, &scores, NULL);
#ifndef XT_RUN_XVIEW_H
#define XT_RUN_XVIEW_H

#include <stddef.h>

#include "formats/csv.h"
#include "models/xview.h"
#include "train/train.h"

// ---------------------------------------------------------------------------------------------
// A. maps -> detections (xview_post.c): inference/postprocessing.py process_confidence on the
// quantised maps of run_inference. Streaming: rows arrive top to bottom in any strips, memory is
// O(W) plus the open components, so a whole scene never has to be held.

#define XT_XVIEW_CENTER_THR 100 // center_u8 > 100 is a centre pixel
#define XT_XVIEW_VOTE_THR 100   // vessel_u8 / fishing_u8 > 100 is a vote
#define XT_XVIEW_MIN_VOTES 9    // votes > 8 make is_vessel / is_fishing

// Quantisation of one tile's outputs (run_inference): u8 = trunc((float)p * 255.0f) for the
// vessel and fishing probabilities, trunc(clamp(center, 0, 255)), float16(length) (RNE, inf
// above 65519). NaN gives 0 (numpy's cast is undefined there). Arrays of n elements.
void xt_xview_quantize(uint8_t *vessel_u8, uint8_t *fishing_u8, uint8_t *center_u8, uint16_t *length_f16,
                       const float *vessel_p, const float *fishing_p, const float *center, const float *length, size_t n);
void xt_xview_sigmoid(float *x, size_t n); // in place, float32 (torch.sigmoid)

enum {
    XT_XVIEW_POST_SELIM = 1, // selimsef's predict_test_single OR rules: is_vessel |= mean_vessel > 90,
                             // is_fishing |= mean_fishing > 80 (xT's evaluator does not apply them)
};

typedef struct xt_xview_det {
    int64_t row, col;           // int(centroid) of the dilated component: floor(sum / area)
    int is_vessel, is_fishing;  // > 8 votes (plus the OR rules with XT_XVIEW_POST_SELIM)
    uint16_t length_f16;        // vessel_length_m: max float16 length over the component (may be inf)
    float mean_length;          // numpy float16 mean (float32-accurate here, not bit-exact)
    double mean_vessel, mean_fishing, mean_center; // float64 means of the u8 values
    int64_t area, vessel_votes, fishing_votes;     // diagnostics
} xt_xview_det;

typedef struct xt_xview_post xt_xview_post;
// W: row width. flags: XT_XVIEW_POST_*. labels: NULL, or an (H, W) int32 image that receives
// the component label of every pixel (1.. in output order, 0 background; skimage.measure.label)
// at xt_xview_post_finish; it keeps every component's record until then (tests, small maps).
xt_xview_post *xt_xview_post_new(int W, int flags, int32_t *labels);
void xt_xview_post_free(xt_xview_post *p);
// Rows y0 .. y0+n-1 of the four quantised maps, each (n, ld) with W valid columns; y0 must be
// the next row. -1 + error on a gap or a bad size.
int xt_xview_post_rows(xt_xview_post *p, int y0, int n, const uint8_t *vessel_u8, const uint8_t *fishing_u8,
                       const uint8_t *center_u8, const uint16_t *length_f16, ptrdiff_t ld);
// Ends the scene: *dets (malloc'ed, caller frees) in the official order (raster order of each
// component's first pixel), *n of them. The post object is spent afterwards.
int xt_xview_post_finish(xt_xview_post *p, xt_xview_det **dets, int64_t *n);
// Whole maps in one call (H, W): the same as new + rows + finish.
int xt_xview_detect(const uint8_t *vessel_u8, const uint8_t *fishing_u8, const uint8_t *center_u8,
                    const uint16_t *length_f16, int H, int W, int flags, int32_t *labels, xt_xview_det **dets, int64_t *n);

// ---------------------------------------------------------------------------------------------
// B. whole-scene inference (xview_tile.c): inference/tiling.py Tiler + run_inference.py
// predict_scene_and_return_mm as xT's XviewEvaluator calls it (rotate=True, the region loop
// model_foward), or selimsef's variant.

typedef struct xt_xview_grid {
    int H, W;          // scene
    int T, ov, stride; // tile side, overlap, T - ov
    int half;          // ov / 2: a tile after the first row / column writes from here on
    int rows, cols;    // H / stride + 1, W / stride + 1 (a tile at y == H is run, all padding)
} xt_xview_grid;

int xt_xview_grid_init(xt_xview_grid *g, int H, int W, int T, int overlap); // -1 + error
// Tile (r, c): its origin, its in-scene extent (h, w <= T; 0 for an all-padding tile) and the
// scene rectangle it finally owns after the official row-major overwrite stitching
// (Tiler.update_crop): rows [oy0, oy1) x cols [ox0, ox1), empty when oy0 >= oy1 or ox0 >= ox1.
typedef struct xt_xview_tile {
    int r, c, index;    // index = r * cols + c (the slice order; no tile is ever skipped)
    int y, x, h, w;
    int oy0, oy1, ox0, ox1;
} xt_xview_tile;
void xt_xview_grid_tile(const xt_xview_grid *g, int r, int c, xt_xview_tile *t);
// owner (H, W): the index of the tile whose output each pixel finally holds (-1: none)
void xt_xview_grid_owner(const xt_xview_grid *g, int64_t *owner);

// The official tile input (SliceDataset + Tiler.get_crop + normalize_band, all in float16):
// vv, vh point at the tile origin in dB (row stride ld, h x w valid, h, w <= T); out (2, T, T)
// float32 of the float16 values. Padding is 0 dB before normalisation (-> 2.666015625).
void xt_xview_tile_input(float *out, const float *vv, const float *vh, ptrdiff_t ld, int h, int w, int T);

// The model, as callbacks (the real xt_xview_forward, or a fake in the tests).
typedef struct xt_xview_model {
    int n_models; // an ensemble of models 0 .. n_models-1
    // Starts one official model application to a tile (model_foward: the memory restarts). May be NULL.
    int (*begin)(void *u, int model);
    // One call on x (2, S, S): region (i, j) of the tile, or (-1, -1) without regions (S = T).
    // Writes the raw maps out[k] (S, S) (logits, logits, heatmap, metres) unless mem_only
    // (naive_two_stream's warm-up pass, outputs dropped). -1 + error stops the scene.
    int (*forward)(void *u, int model, const float *x, int S, int i, int j, int mem_only, float *const *out);
    void *u;
} xt_xview_model;

typedef enum {
    XT_XVIEW_ORDER_NAIVE,      // row-major (xT's evaluator: config.model.tiling, default "naive")
    XT_XVIEW_ORDER_ZIGZAG,     // "zig_zag_horizontal": odd rows right to left
    XT_XVIEW_ORDER_TWO_STREAM, // "naive_two_stream": all regions mem_only, then all again
    XT_XVIEW_ORDER_COUNT
} xt_xview_order;

typedef enum {
    XT_XVIEW_TTA_XT,    // xT's run_inference (bugs 12-13): sigmoid on the last model's output, then
                        // only length is averaged with the rot-180 pass; the result / n_models
    XT_XVIEW_TTA_SELIM, // selimsef: per model all four maps averaged with rot-180, models averaged
    XT_XVIEW_TTA_COUNT
} xt_xview_tta;

typedef struct xt_xview_tiling {
    int region;          // S: regions of S x S per tile (xT context mode); 0: the model sees the tile
    xt_xview_order order;
    int rotate;          // rot-180 TTA (the evaluator: on)
    xt_xview_tta tta;
    // xt_xview_scene_predict under MPI: tile i (row-major) is run by rank i % P and its maps
    // sent to rank 0, which alone stitches them in order and feeds the sink (docs/distributed.md)
    int split;
} xt_xview_tiling;

// Maps of one tile: (T, T) each, quantised.
typedef struct xt_xview_tile_maps {
    uint8_t *vessel, *fishing, *center;
    uint16_t *length;
} xt_xview_tile_maps;

// One tile through the model: x (2, T, T) from xt_xview_tile_input; regions, call order, TTA,
// ensemble and quantisation as tiling says. work: NULL or xt_xview_tile_work_size(p, T) floats.
size_t xt_xview_tile_work_size(const xt_xview_tiling *p, int T);
int xt_xview_tile_predict(const xt_xview_tiling *p, int T, const float *x, const xt_xview_model *m, float *work,
                          xt_xview_tile_maps *out);

// Sources and sinks of a streamed scene.
typedef struct xt_xview_source {
    // dB window rows [y, y+h) x cols [x, x+w) of VV and VH into vv, vh (h, w), row stride w.
    int (*read)(void *u, int y, int x, int h, int w, float *vv, float *vh);
    void *u;
} xt_xview_source;
typedef struct xt_xview_sink {
    // Final rows y0 .. y0+n-1 of the stitched quantised maps, each (n, W), top to bottom.
    int (*rows)(void *u, int y0, int n, int W, const uint8_t *vessel, const uint8_t *fishing, const uint8_t *center,
                const uint16_t *length);
    void *u;
} xt_xview_sink;
xt_xview_sink xt_xview_post_sink(xt_xview_post *p); // rows -> xt_xview_post_rows
// A source over a scene held in memory: vv, vh (H, W) dB, row stride W (tests, small scenes).
typedef struct xt_xview_mem_scene {
    const float *vv, *vh;
    int W;
} xt_xview_mem_scene;
xt_xview_source xt_xview_source_mem(const xt_xview_mem_scene *s);
// A sink that keeps the whole stitched maps (H, W) (small scenes: tests, xt verify) and, when
// post is not NULL, also hands every band to it. Rows out of order are an error.
typedef struct xt_xview_maps {
    uint8_t *vessel, *fishing, *center;
    uint16_t *length;
    int H, W, next;      // next: the first row not yet received
    xt_xview_post *post; // owned: freed by xt_xview_maps_free
} xt_xview_maps;
void xt_xview_maps_init(xt_xview_maps *k, int H, int W, xt_xview_post *post);
void xt_xview_maps_free(xt_xview_maps *k);
xt_xview_sink xt_xview_maps_sink(xt_xview_maps *k);

// The whole scene: every tile row-major, stitched, each finished band of rows (a tile row's
// owned rows) handed to sink. Memory: one tile's buffers and (stride + ov/2) x W map rows.
// With p->split under MPI, ranks > 0 run and send their tiles (two in flight at most; src and m
// used, sink not), rank 0 the rest as alone; a failure returns -1 on that rank only.
int xt_xview_scene_predict(const xt_xview_tiling *p, const xt_xview_grid *g, const xt_xview_source *src,
                           const xt_xview_model *m, const xt_xview_sink *sink);

// ---------------------------------------------------------------------------------------------
// C. the prediction CSV (xview_csv.c): the 6 columns xT's evaluator writes, byte for byte.

// vessel_length_m as the evaluator's files carry it: numpy's shortest repr of the float16,
// re-read by pandas and written as Python's repr of that double ("123.44", "2050.0", "inf",
// "1e-05"); NaN is the empty cell. buf >= 32 bytes; returns buf.
char *xt_xview_fmt_length(char *buf, uint16_t length_f16);
void xt_xview_csv_header(xt_sbuf *s); // "detect_scene_row,...,vessel_length_m\n"
void xt_xview_csv_rows(xt_sbuf *s, const char *scene_id, const xt_xview_det *d, int64_t n);

// ---------------------------------------------------------------------------------------------
// D. the metric (xview_metric.c): reference/metric.py with its flags.

typedef struct xt_xview_score_opts {
    int distance_tolerance; // metres (int in the official argparse) [200]
    int shore_tolerance;    // km [2]; 0 turns the shore score off (as the official code does)
    const char *shore_root; // folder of <scene_id>_shoreline.npy; NULL: loc_fscore_shore = 0
    int drop_low_detect;    // [1] delete predictions matched to LOW labels first
    int costly_dist;        // [1] distances > tolerance cost 99999990
    int score_all;          // [0] score against every label, LOW included (no drop pass)
} xt_xview_score_opts;
xt_xview_score_opts xt_xview_score_default_opts(void);
// Training points of a label CSV (the official label columns scene_id, detect_scene_row,
// detect_scene_column, is_vessel, is_fishing, vessel_length_m, confidence; empty = unknown): every
// row is checked (a bad number or boolean names the file, line and column), then the rows of
// scene_id (all rows if NULL) are returned in file order, coordinates rounded. 0 / -1 + error.
int xt_xview_labels_points(const xt_csv *c, const char *scene_id, xt_xview_point **out, int64_t *n); // the leaderboard flags, shore_root NULL

// A score as Python holds it: a float, or the integer 0 of a caught ZeroDivisionError.
typedef struct xt_xview_num {
    double v;
    int is_int;
} xt_xview_num;
typedef struct xt_xview_scores {
    xt_xview_num loc_fscore, loc_fscore_shore, vessel_fscore, fishing_fscore, length_acc, aggregate;
} xt_xview_scores;

// Counts behind the scores (detail.json of the golden cases).
typedef struct xt_xview_score_detail {
    int64_t loc[3], shore[3];        // tp, fp, fn (pooled)
    int shore_scored;                // 1 when the shore F1 was computed
    int64_t vessel[4], fishing[4];   // tp, fp, fn, tn
    int64_t n_dropped;               // predictions deleted by the LOW pass
    int64_t n_length_pairs;          // pairs summed into the length error
} xt_xview_score_detail;

// Scores a prediction table against a label table (columns by name, see the golden README).
// -1 + error where the official scorer raises (no predictions left in a scored scene, a missing
// shoreline file) or on malformed input. detail may be NULL.
int xt_xview_score(const xt_csv *preds, const xt_csv *labels, const xt_xview_score_opts *o, xt_xview_scores *out,
                   xt_xview_score_detail *detail);
// The six scores as metric.py's json.dump writes them (keys in order, no newline).
void xt_xview_scores_json(xt_sbuf *s, const xt_xview_scores *sc);

// scipy.optimize.linear_sum_assignment (rectangular_lsap.cpp, scipy 1.10), ported line for line
// so that ties break the same way: cost (nr, nc) row-major; writes min(nr, nc) pairs sorted by
// row into rows, cols. -1 + error on NaN / -inf / an infeasible matrix.
int xt_lsap(const double *cost, int64_t nr, int64_t nc, int64_t *rows, int64_t *cols);

#endif
