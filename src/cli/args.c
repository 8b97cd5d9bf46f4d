// args.c — the GNU forms of options, for every command's own option loop: main() rewrites the
// arguments once before dispatching (getopt_long's spellings, without rewriting each loop):
//   --name=VALUE  ->  --name VALUE     (when --name takes a value; a flag given =VALUE is refused)
//   -kVALUE       ->  -k VALUE         (when -k takes a value: -k1, -t4, -m/path/model)
//   --            ->  the end of options: later arguments are operands (files), passed as
//                     ./-name when they begin with '-'
// Options may come before or after operands: every command's loop scans all arguments.
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"

// is `name` (n bytes) one of the space-separated words of `list`?
static int in_list(const char *list, const char *name, size_t n) {
    for (const char *p = list; p && *p;) {
        while (*p == ' ') p++;
        size_t k = strcspn(p, " ");
        if (k && k == n && !memcmp(p, name, n)) return 1;
        p += k;
    }
    return 0;
}

static char *dup_n(const char *s, size_t n) {
    char *d = xt_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = 0;
    return d;
}

int xt_cli_args_gnu(const char *value_opts, const char *flag_opts, int argc, char **argv, xt_cli_args *out) {
    out->argv = xt_xcalloc((size_t)2 * argc + 1, sizeof *out->argv);
    out->own = xt_xcalloc((size_t)2 * argc + 1, sizeof *out->own);
    out->argc = out->n_own = 0;
    int operands_only = 0;
    for (int i = 0; i < argc; i++) {
        char *a = argv[i];
        if (i == 0 || operands_only || a[0] != '-' || !a[1]) {
            if (operands_only && a[0] == '-') {
                char *p = xt_xmalloc(strlen(a) + 3);
                strcpy(p, "./");
                strcat(p, a);
                out->argv[out->argc++] = out->own[out->n_own++] = p;
            } else out->argv[out->argc++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            operands_only = 1;
            continue;
        }
        if (in_list(value_opts, a, strlen(a))) { // "-k VALUE": the value is passed on as it is
            out->argv[out->argc++] = a;
            if (i + 1 < argc) out->argv[out->argc++] = argv[++i];
            continue;
        }
        const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
        if (eq) {
            size_t n = (size_t)(eq - a);
            if (in_list(value_opts, a, n)) {
                out->argv[out->argc++] = out->own[out->n_own++] = dup_n(a, n);
                out->argv[out->argc++] = (char *)eq + 1;
                continue;
            }
            if (in_list(flag_opts, a, n)) {
                xt_error("cli", "option %.*s takes no value (got '%s')", (int)n, a, a);
                return -1;
            }
        } else if (a[1] != '-' && a[2] && in_list(value_opts, a, 2)) {
            out->argv[out->argc++] = out->own[out->n_own++] = dup_n(a, 2);
            out->argv[out->argc++] = a + 2;
            continue;
        }
        out->argv[out->argc++] = a;
    }
    out->argv[out->argc] = NULL;
    return 0;
}

void xt_cli_args_free(xt_cli_args *a) {
    for (int i = 0; i < a->n_own; i++) free(a->own[i]);
    free(a->own);
    free(a->argv);
    memset(a, 0, sizeof *a);
}
