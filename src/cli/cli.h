// cli.h — commands of the `xt` tool. Each returns the process exit status; errors go to stderr
// as "xt: <message>".
#ifndef XT_CLI_H
#define XT_CLI_H

int xt_cmd_verify(int argc, char **argv);
int xt_cmd_info(int argc, char **argv);
int xt_cmd_convert(int argc, char **argv);
int xt_cmd_make_image(int argc, char **argv);
int xt_cmd_make_scene(int argc, char **argv);
int xt_cmd_classify(int argc, char **argv);
int xt_cmd_embed(int argc, char **argv);
int xt_cmd_train(int argc, char **argv);
int xt_cmd_eval(int argc, char **argv);
int xt_cmd_score(int argc, char **argv);
int xt_cmd_detect(int argc, char **argv);

// shared helpers (main.c)
int xt_cli_fail(void);                      // prints "xt: <error buffer>", returns 1
int xt_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int xt_cli_parse_int(const char *s, const char *opt, int lo, int hi, int *out);
// --precision f32|bf16|int8 of every inference command: *out the canonical name; -1 + error otherwise.
// The model's builders then refuse what a layer cannot run (models.h xt_config_apply_precision).
int xt_cli_parse_precision(const char *s, const char **out);
#define XT_CLI_PRECISION_HELP                                                                      \
    "  --precision P       f32, bf16 or int8: the region encoder's big matmuls in bfloat16, or in\n" \
    "                      int8 (Swin V2 only); docs/performance.md lists the layers and the\n"     \
    "                      accuracy cost                                [model config; f32]\n"
// --geo EPSG,X0,Y0,PIXEL (make-image, make-scene) into g; -1 + a usage message naming cmd
struct xt_georef;
int xt_cli_parse_geo(const char *cmd, const char *s, struct xt_georef *g);

// Many inputs (list.c): runs item() over the paths of a list file (one a line; blank lines and
// #-comments skipped), shared dynamically among the MPI ranks (xt_dist_queue; alone: in order).
// Each result is written atomically to OUTDIR/<name>.json (name: the file or folder name without
// its extension, also given to item for its own files; the JSON on one line); a result already
// there is skipped, so a rerun finishes an interrupted job. A failing item is reported on stderr with the rank and the path, the others
// go on. At the end rank 0 writes OUTDIR/results.jsonl (every result, list order) and a summary.
// Returns the exit status: 0, 1 when an item failed, 2 for a bad list.
typedef struct xt_sbuf xt_sbuf;
int xt_cli_list_run(const char *cmd, const char *list, const char *outdir,
                    int (*item)(void *u, const char *path, const char *name, xt_sbuf *json), void *u);

// GNU option forms (args.c): argv rewritten so each command's own loop sees "--name VALUE" for
// "--name=VALUE", "-k VALUE" for "-kVALUE" (value_opts: the space-separated options that take a
// value), operands after "--" as "./-name"; a flag (flag_opts) given "=VALUE" is an error (-1).
typedef struct xt_cli_args {
    int argc, n_own;
    char **argv, **own; // own: the strings made here
} xt_cli_args;
int xt_cli_args_gnu(const char *value_opts, const char *flag_opts, int argc, char **argv, xt_cli_args *out);
void xt_cli_args_free(xt_cli_args *a);

// Progress of a whole job, phase by phase, on stderr (progress.c): on a terminal a self-overwriting
// line per phase with its rate and ETA; on a file or pipe a few plain lines (each phase's start,
// about every 10 %, its end, then the job's wall time); nothing when quiet. Usage:
//     xt_progress pg;  xt_progress_init(&pg, "classify", quiet);      // the job's clock starts
//     xt_progress_phase(&pg, "read+encode", n_regions, "regions");   // per phase
//     xt_progress_add(&pg, n);  (or xt_progress_set(&pg, done); xt_progress_note(&pg, "loss %.3f", l))
//     double seconds = xt_progress_end(&pg);                          // the job's wall time
typedef struct xt_progress {
    const char *what, *phase, *unit;
    long total, done;
    double t0, tphase, last; // job start, phase start, last terminal update
    int on, tty, next_tenth;
    char note[96]; // shown after the counts (e.g. the loss)
} xt_progress;
void xt_progress_init(xt_progress *p, const char *what, int quiet);
void xt_progress_phase(xt_progress *p, const char *phase, long total, const char *unit);
void xt_progress_set(xt_progress *p, long done);
void xt_progress_add(xt_progress *p, long n);
void xt_progress_note(xt_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double xt_progress_eta(const xt_progress *p); // seconds left in the phase at its rate so far
double xt_progress_end(xt_progress *p); // ends the last phase; returns seconds since init
void xt_progress_abort(xt_progress *p);  // on failure: ends the terminal line, prints nothing more

#endif
