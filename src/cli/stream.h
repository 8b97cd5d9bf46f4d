// stream.h — the CLI side of the streaming driver (src/run/stream.h): shared options of
// `xt classify` / `xt embed`, their help, and the progress line + XT_STREAM_STATS report.
#ifndef XT_CLI_STREAM_H
#define XT_CLI_STREAM_H

#include <stdio.h>

#include "cli/cli.h"
#include "run/stream.h"

// Parses one shared option at argv[*i] (advancing *i past its value). Returns 1 if consumed,
// 0 if not a shared option, -1 on a bad value (error set).
int xt_stream_parse_opt(xt_stream_args *a, int argc, char **argv, int *i);
// Help text of the shared options.
void xt_stream_help(FILE *f);
// xt_stream_run / xt_stream_classify reporting to pg (started by the command: its phases
// "read+encode" — "read+encode+write" for embed — then, global context modes, "context") and,
// when the environment has XT_STREAM_STATS, a timing/memory line on stderr. logits NULL:
// xt_stream_run(on_batch, u). The caller ends pg.
int xt_cli_stream_run(xt_stream *s, xt_progress *pg, int (*on_batch)(void *u, int rr, int rc0, int n, const float *feat),
                      void *u, float *logits);

// One scene across MPI ranks (`mpirun xt classify|embed IMAGE`, run/stream.h a.split): whether
// this run splits (a command on one image under mpirun with more than one rank); what a rank
// other than 0 does instead of the command (opens the image and model, encodes and sends its
// region rows; no output), 0 / -1; and the end of a split run that failed on this rank: the
// error with the rank, then the whole job ends (the other ranks would wait for this one forever).
int xt_cli_split(void);
int xt_cli_stream_serve(const xt_stream_args *a);
void xt_cli_split_abort(void) __attribute__((noreturn));
// With --level / --mpp: which level was opened, on stderr (the one said when --mpp chose it).
void xt_cli_level_note(const xt_raster_info *ri, const xt_raster_open_opts *o);

// Provenance written into every raster xt makes (GDAL metadata items): xt version, command,
// model file, input, region size, stride in input pixels of one output pixel, region grid.
typedef struct xt_cli_meta {
    const char *kv[16]; // key, value, ..., NULL (xt_tiff_opts.meta)
    char buf[4][64];
} xt_cli_meta;
void xt_cli_meta_init(xt_cli_meta *m, const xt_stream *s, const char *command, int stride);

#endif
