// xview_train.h — training the xView3 dense model (models/xview_bwd.c) on scenes and a label CSV:
// the official XviewDataset crops and targets, drawn deterministically, and the official
// naive_two_stream loop (without its dead warm-up pass: golden README bug 15). docs/xview3.md,
// "Training".
#ifndef XT_XVIEW_TRAIN_H
#define XT_XVIEW_TRAIN_H

#include "run/xview.h"

// The data: scene paths (a folder holding VV_dB.tif and VH_dB.tif, or a 2-band raster), a label CSV.
typedef struct xt_xview_data_spec {
    char **scenes;         // resolved paths, sorted when they came from a folder
    int n_scenes;
    char labels[1024];
    double positive_ratio; // share of crops placed around a label [0.85, the official config's]
} xt_xview_data_spec;

// spec: the "xview3" object of a train config's "data": {"scenes": DIR | [PATH, ...], "labels":
// CSV, "positive_ratio": X}. DIR is one scene folder (it holds VV_dB.tif), or a folder whose scene
// folders and .tif files are the scenes (sorted by name). 0 / -1 + error.
int xt_xview_data_parse(const xt_json *spec, xt_xview_data_spec *d);
void xt_xview_data_free(xt_xview_data_spec *d);
// The spec as JSON (what a checkpoint's train_state keeps, resolved paths).
void xt_xview_data_json(xt_sbuf *b, const xt_xview_data_spec *d);
// The train object's "loss" {"weights": {vessel, fishing, center, length}, "combo": {bce, focal,
// dice} (both masks), "combo_fishing": {...} (the fishing mask's, over "combo"),
// "fishing_on_vessels": false}; absent keys keep the official values. 0 / -1 + error.
int xt_xview_loss_parse(const xt_json *train, xt_xview_loss_cfg *c);
// The training crops' normalize_band (float32, in place): NoData (< -32760) -> 0, else (dB + 40) / 15.
void xt_xview_normalize_band(float *b, size_t n);

// Trains an xview model config (kind "xview") as xt_train_run does the classifier: fresh weights
// (from NULL), a model file's (resume 0: --init) or a checkpoint continued exactly (resume 1).
// o->img_size is the data crop side (a multiple of crop_size; 0: 2 x crop_size with the context
// model, else crop_size); a step is one batch of crops, each cut into n x n tiles that get one
// AdamW update each. Checkpoints to o->out (also at step 0 when there are no steps).
int xt_xview_train_run(const xt_json *model_cfg, xt_st *from, int resume, const xt_train_opts *o,
                       const xt_xview_data_spec *d, const xt_xview_loss_cfg *lc, xt_train_result *res);

#endif
