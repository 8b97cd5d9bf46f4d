// cli.h — commands of the `xt` tool. Each returns the process exit status; errors go to stderr
// as "xt: <message>".
#ifndef XT_CLI_H
#define XT_CLI_H

int xt_cmd_verify(int argc, char **argv);
int xt_cmd_info(int argc, char **argv);
int xt_cmd_convert(int argc, char **argv);
int xt_cmd_make_image(int argc, char **argv);
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

// progress line (progress.c): on stderr only when it is a terminal and not quiet
typedef struct xt_progress {
    const char *what;
    long total, done;
    double t0, last;
    int on;
} xt_progress;
void xt_progress_init(xt_progress *p, const char *what, long total, int quiet);
void xt_progress_add(xt_progress *p, long n);
void xt_progress_end(xt_progress *p);

#endif
