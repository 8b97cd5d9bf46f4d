// main.c — `xt <command> [options] <inputs...>`: dispatch table and shared CLI helpers.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/core.h"

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
} commands[] = {
    {"verify", xt_cmd_verify, "run a model file on its input.* tensors and compare with expected.*"},
    {"info", xt_cmd_info, "describe a model file or an image (size, bands, tiling, georeferencing)"},
    {"convert", xt_cmd_convert, "convert a PyTorch checkpoint (.ckpt/.pth) into a model file"},
    {"make-image", xt_cmd_make_image, "write a procedural test raster of any size (bounded memory)"},
    {"classify", xt_cmd_classify, "classify an image of any size with an xT model (streaming)"},
    {"embed", xt_cmd_embed, "write the stitched region features of an image as a float GeoTIFF"},
    {"train", xt_cmd_train, "train an xT classifier (CPU; checkpoints, --resume)"},
    {"eval", xt_cmd_eval, "top-1 / top-5 accuracy of an xT classifier on a dataset"},
    {"detect", xt_cmd_detect, "find vessels in a whole xView3-SAR scene (CSV, GeoJSON, GeoTIFF maps)"},
    {"score", xt_cmd_score, "xView3-SAR leaderboard metric of a prediction CSV against labels"},
};

int xt_cli_fail(void) {
    fprintf(stderr, "xt: %s\n", xt_error_buffer());
    return 1;
}

int xt_cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "xt %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n(see 'xt %s --help')\n", cmd);
    return 2;
}

int xt_cli_parse_int(const char *s, const char *opt, int lo, int hi, int *out) {
    char *e;
    long v = s ? strtol(s, &e, 10) : 0;
    if (!s || !*s || *e || v < lo || v > hi) {
        xt_error("cli", "%s expects an integer in [%d, %d], got '%s'", opt, lo, hi, s ? s : "");
        return -1;
    }
    *out = (int)v;
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "xt %s — xT (nested tokenization) for very large images\n\nusage: xt <command> [options]\n\ncommands:\n", XT_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'xt <command> --help' lists the options of a command.\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("xt %s\n", XT_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "xt: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
