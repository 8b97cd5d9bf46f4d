// stream.h — the streaming inference driver shared by `xt classify` and `xt embed`: model +
// raster + normalisation, regions read and encoded a row at a time (B regions per encoder call),
// features handed on in row-major order. Peak memory: one batch of regions, the encoder's
// workspace, one row of region features and the raster's block cache — not the image.
#ifndef XT_CLI_STREAM_H
#define XT_CLI_STREAM_H

#include "io/raster.h"
#include "io/token_spill.h"
#include "models/models.h"

typedef struct xt_stream_args {
    const char *model, *image;
    int threads, quiet, batch;
    int bands[XT_NORM_MAX_BANDS], n_bands;   // 0-based; n_bands 0: all bands of the image
    double mean[XT_NORM_MAX_BANDS], std[XT_NORM_MAX_BANDS];
    int n_mean, n_std;
    int has_scale, has_nodata;
    double scale, nodata;
    double cache_mb, mem_mb;
} xt_stream_args;

void xt_stream_args_default(xt_stream_args *a);
// Parses one shared option at argv[*i] (advancing *i past its value). Returns 1 if consumed,
// 0 if not a shared option, -1 on a bad value (error set).
int xt_stream_parse_opt(xt_stream_args *a, int argc, char **argv, int *i);
// Help text of the shared options.
void xt_stream_help(FILE *f);

typedef struct xt_stream {
    xt_stream_args a;
    xt_st *st;
    xt_json *cfg;
    xt_xtmodel *m;
    const xt_xtmodel_info *mi;
    xt_raster *r;
    const xt_raster_info *ri;
    xt_norm norm;
    int bands[XT_NORM_MAX_BANDS];
    int S, HP, WP, B;
    float *regions;      // (B, C, S, S)
    float *feat;         // (B, feat_c, feat_h, feat_w)
    xt_arena ws;
    double t_read, t_encode, t_total;
} xt_stream;

// Loads the model, opens the image, checks bands and size, sizes the buffers.
int xt_stream_open(xt_stream *s, const xt_stream_args *a);
// Reads and encodes every region, row-major; on_batch gets `n` consecutive regions of region row
// rr starting at column rc0 with their features (n, feat_c, feat_h, feat_w).
int xt_stream_run(xt_stream *s, const char *what, int (*on_batch)(void *u, int rr, int rc0, int n, const float *feat),
                  void *u);
void xt_stream_close(xt_stream *s);

#endif
