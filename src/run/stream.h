// stream.h — the streaming inference driver (library): xT model + raster (or an in-memory
// normalised image) + normalisation, regions read and encoded a row at a time (B regions per
// encoder call), features handed on in row-major order. Peak memory: one batch of regions, the
// encoder's workspace, one row of region features and the raster's block cache — not the image.
// Used by `xt classify` / `xt embed` (option parsing in src/cli/stream.c) and by include/xt.h.
#ifndef XT_IO_STREAM_H
#define XT_IO_STREAM_H

#include <stdint.h>

#include "formats/raster.h"
#include "models/models.h"
#include "run/ctx.h"

// A loaded xT model file: the file (weights mmap'd), its config and the model.
typedef struct xt_xtfile {
    xt_st *st;
    xt_json *cfg;
    xt_xtmodel *m;
} xt_xtfile;
// kind "xt" only; precision: "f32" / "bf16" over the config's (NULL: the config's). -1 + error
int xt_xtfile_load(xt_xtfile *f, const char *path, const char *precision);
void xt_xtfile_free(xt_xtfile *f);

#define XT_STREAM_GROUP_MAX 4

typedef struct xt_stream_args {
    const char *model, *image;
    const char *precision;                    // --precision: over the model config's (NULL: the config's)
    int threads, quiet, batch;                // quiet: read by the CLI's progress line only
    int bands[XT_NORM_MAX_BANDS], n_bands;   // 0-based; n_bands 0: all bands of the image
    double mean[XT_NORM_MAX_BANDS], std[XT_NORM_MAX_BANDS];
    int n_mean, n_std;
    int has_scale, has_nodata;
    double scale, nodata;
    double cache_mb, mem_mb;
    xt_raster_open_opts open;                 // backend, pyramid level / MPP of the input raster
    // called after each batch of regions (done of total regions); NULL: none
    void (*progress)(void *user, int64_t done, int64_t total);
    void *progress_user;
    // xt_stream_classify, global-context modes: called as the context encoder's layers finish
    // (done of total layers, 0 of total first), after the last region; NULL: none
    void (*context_progress)(void *user, int64_t done, int64_t total);
    // xt_stream_classify: per-region logits (WP, num_classes) for each row of regions rr, in
    // order (meaning: run/ctx.h xt_ctx_set_region_logits); valid (WP): 0 where the region holds
    // no pixel that is inside the image and not NoData. NULL: none
    int (*region_logits)(void *user, int rr, const float *logits, const uint8_t *valid);
    void *region_user;
    // One scene across the MPI ranks (docs/distributed.md): region row rr is read and encoded by
    // rank (rr / group) % P (group: the region rows under one row of the file's tiles, 1 to
    // XT_STREAM_GROUP_MAX); rank 0 receives the other rows' features batch by batch, in row-major order,
    // and alone calls on_batch / runs the context, so its results are the single process's. The
    // other ranks only encode and send (xt_stream_run with on_batch NULL). 0: every rank alone.
    int split;
} xt_stream_args;

void xt_stream_args_default(xt_stream_args *a);

typedef struct xt_stream {
    xt_stream_args a;
    xt_xtfile own;       // the model when xt_stream_open loaded it
    xt_st *st;
    xt_json *cfg;
    const xt_xtmodel *m; // read only: a model may serve several streams at once
    const xt_xtmodel_info *mi;
    xt_raster *r;        // NULL when streaming an in-memory image
    const xt_raster_info *ri;
    const float *img;    // in-memory image (C, H, W), normalised; NULL for a raster
    int img_H, img_W;
    xt_norm norm;
    int bands[XT_NORM_MAX_BANDS];
    int S, HP, WP, B;
    float *regions;      // (B, C, S, S)
    float *feat;         // (B, feat_c, feat_h, feat_w)
    uint8_t *valid;      // (HP, WP) region holds valid pixels (only with a.region_logits: HP*WP bytes)
    xt_arena ws;
    // split: region rows per hand-out; ranks > 0: 2 groups of rows of batches (B, feat + 1 flag
    // per region) being sent, in ring order
    int group;
    float *ring;
    struct xt_dist_req *ring_rq;
    int n_ring;
    // seconds: reading + normalising regions, the region encoder, the on_batch consumer (the
    // context push for classify, the writer for embed), the context run after the last region
    // (xt_stream_classify), and the whole xt_stream_run / xt_stream_classify call
    double t_read, t_encode, t_sink, t_context, t_total;
    double t_wait; // split, rank 0: waiting for other ranks' rows (their reading and encoding)
    int64_t n_here; // regions read and encoded by this process
} xt_stream;

// Loads the model a->model, opens a->image, checks bands and size, sizes the buffers.
int xt_stream_open(xt_stream *s, const xt_stream_args *a);
// Same with a model already loaded (borrowed: it must outlive the stream); a->model unused.
int xt_stream_open_with(xt_stream *s, const xt_xtfile *f, const xt_stream_args *a);
// An in-memory image (C, H, W), already normalised (borrowed); uses a->threads, a->batch, a->mem_mb.
int xt_stream_open_array(xt_stream *s, const xt_xtfile *f, const float *img, int C, int H, int W, const xt_stream_args *a);
// Reads and encodes every region, row-major; on_batch gets `n` consecutive regions of region row
// rr starting at column rc0 with their features (n, feat_c, feat_h, feat_w). With a.split under
// MPI, ranks > 0 encode and send their rows (on_batch unused, may be NULL) and rank 0 gets every
// batch in the same order as alone; a rank's failure returns -1 there only (the caller ends the job).
int xt_stream_run(xt_stream *s, int (*on_batch)(void *u, int rr, int rc0, int n, const float *feat), void *u);
// Runs the whole stream through the context head: logits (num_classes). Global-context modes keep
// the token sequence in memory up to a.mem_mb, the rest spills to a scratch file. With a.split,
// ranks > 0 only serve their rows (logits untouched).
int xt_stream_classify(xt_stream *s, float *logits);
void xt_stream_close(xt_stream *s);

#endif
