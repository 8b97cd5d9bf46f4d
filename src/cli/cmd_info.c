// cmd_info.c — `xt info FILE`: what a model file holds.
#include <string.h>

#include "cli.h"
#include "models/models.h"

int xt_cmd_info(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        printf("usage: xt info FILE\n\nDescribes a model file (safetensors): kind, config, tensors, parameters.\n");
        return argc < 2 ? 2 : 0;
    }
    xt_st *st = xt_st_open(argv[1]);
    if (!st) return xt_cli_fail();
    const char *cs = xt_st_meta(st, "config");
    int64_t nparam = 0, nw = 0;
    for (int i = 0; i < st->n; i++)
        if (strncmp(st->t[i].name, "input.", 6) && strncmp(st->t[i].name, "expected.", 9) &&
            strncmp(st->t[i].name, "output.", 7) && strncmp(st->t[i].name, "optim.", 6)) {
            nparam += st->t[i].numel;
            nw++;
        }
    printf("file:       %s\n", argv[1]);
    printf("tensors:    %d (%lld weights, %lld parameters)\n", st->n, (long long)nw, (long long)nparam);
    printf("config:     %s\n", cs ? cs : "(none: not a model file)");
    xt_st_close(st);
    return 0;
}
