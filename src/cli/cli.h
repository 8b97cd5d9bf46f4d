// cli.h — commands of the `xt` tool. Each returns the process exit status; errors go to stderr
// as "xt: <message>".
#ifndef XT_CLI_H
#define XT_CLI_H

int xt_cmd_verify(int argc, char **argv);
int xt_cmd_info(int argc, char **argv);

// shared helpers (main.c)
int xt_cli_fail(void);                      // prints "xt: <error buffer>", returns 1
int xt_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int xt_cli_parse_int(const char *s, const char *opt, int lo, int hi, int *out);

#endif
