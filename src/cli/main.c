// main.c — `xt <command> [options] <inputs...>`: dispatch table and shared CLI helpers.
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"
#include "core/dist.h"
#include "formats/raster.h"
#include "models/models.h"
#include "nn/nn.h"

#define STREAM_VALUES "-m --model -t --threads --precision --batch --bands --mean --std --scale --nodata --cache --mem --level --mpp --backend"
static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *help;
    // GNU forms (args.c): the options taking a value, the flags; values NULL: argv as given
    const char *values, *flags;
} commands[] = {
    {"verify", xt_cmd_verify, "run a model file on its input.* tensors and compare with expected.*", "-o -t --threads --precision --tol", "-q --quiet --help"},
    {"info", xt_cmd_info, "describe a model file or an image (size, bands, tiling, georeferencing, levels)", "--level --mpp --backend", "--json --help"},
    {"convert", xt_cmd_convert, "convert a PyTorch checkpoint (.ckpt/.pth) into a model file",
     "-o --config --set --with-io --from --prefix --dtype", "-q --keep-optimizer --help"},
    {"make-image", xt_cmd_make_image, "write a procedural test raster of any size (bounded memory)",
     "--size --bands --type --tile --compress --seed --geo --from-tensor", "--striped --planar --bigtiff --help"},
    {"make-scene", xt_cmd_make_scene, "write synthetic xView3-SAR scenes, labels and shorelines (context-dependent classes)",
     "--size --scenes --seed --density --geo --compress", "--help"},
    {"classify", xt_cmd_classify, "classify an image of any size with an xT model (streaming)", STREAM_VALUES " -k --top --list -o --output",
     "-q --quiet --json --overviews --help"},
    {"embed", xt_cmd_embed, "write the stitched region features of an image as a float GeoTIFF", STREAM_VALUES " -o --output --compress --list",
     "-q --quiet --overviews --help"},
    {"train", xt_cmd_train, "train an xT classifier (CPU; xt JSON or official YAML configs; checkpoints, --resume)",
     "-c --init --resume -o --export --data --val --root --img-size --batch --steps --epochs --lr --min-lr-ratio --warmup --wd "
     "--clip --grad-ratio --seed --save-every --stop-after -t --threads",
     "-q --quiet --no-augment --help"},
    {"eval", xt_cmd_eval, "top-1 / top-5 accuracy of an xT classifier on a dataset", "-m --model -c --data --root --img-size --batch --transform -t --threads --precision",
     "-q --quiet --json --whole --help"},
    {"detect", xt_cmd_detect, "find vessels in a whole xView3-SAR scene (CSV, GeoJSON, GeoTIFF maps)", NULL, NULL},
    {"score", xt_cmd_score, "xView3-SAR leaderboard metric of a prediction CSV against labels", NULL, NULL},
};

int xt_cli_parse_geo(const char *cmd, const char *s, struct xt_georef *g) {
    int epsg;
    double x0, y0, px;
    if (sscanf(s, "%d,%lf,%lf,%lf", &epsg, &x0, &y0, &px) != 4) {
        xt_cli_usage_error(cmd, "--geo expects EPSG,X0,Y0,PIXEL, got '%s'", s);
        return -1;
    }
    if (xt_georef_simple(g, epsg, x0, y0, px) < 0) {
        xt_cli_fail();
        return -1;
    }
    return 0;
}

int xt_cli_fail(void) {
    if (xt_dist_size() > 1) fprintf(stderr, "xt: rank %d: %s\n", xt_dist_rank(), xt_error_buffer());
    else fprintf(stderr, "xt: %s\n", xt_error_buffer());
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

int xt_cli_parse_precision(const char *s, const char **out) {
    xt_precision p;
    if (xt_precision_parse(s, &p)) return -1;
    *out = xt_precision_name(p);
    return 0;
}

static void usage(FILE *f) {
    fprintf(f, "xt %s — xT (nested tokenization) for very large images\n\nusage: xt <command> [options]\n\ncommands:\n", XT_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].help);
    fprintf(f, "\n'xt <command> --help' lists the options of a command.\n");
}

// Waiting OpenMP threads: libgomp's default spins up to ~300,000 iterations before sleeping, so
// on a machine with one other busy process a thread waiting at a barrier burns the time slice
// its partner needs (measured 30-40x slower). Passive waiting costs a few microseconds per
// parallel region instead. libgomp reads OMP_WAIT_POLICY / GOMP_SPINCOUNT when it is loaded,
// before main(), so when the user has set neither, xt sets OMP_WAIT_POLICY=passive and executes
// itself again (once: the variable is then set). A user's own setting always wins.
static void thread_policy(char **argv) {
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1) == 0) execv("/proc/self/exe", argv);
    // no re-execution possible (no /proc): the runtime's default policy stays for this process
}

static int run(int argc, char **argv);

// Under mpirun / srun every rank runs the same command (docs/distributed.md); alone, xt is a
// singleton and MPI is never initialised.
int main(int argc, char **argv) {
    thread_policy(argv);
    if (xt_dist_init(&argc, &argv)) return xt_cli_fail();
    int rc = run(argc, argv);
    xt_dist_finalize();
    return rc;
}

static int run(int argc, char **argv) {
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        const char *w = getenv("OMP_WAIT_POLICY"), *sc = getenv("GOMP_SPINCOUNT");
        printf("xt %s\nOpenMP waiting: OMP_WAIT_POLICY=%s GOMP_SPINCOUNT=%s\n", XT_VERSION, w ? w : "(unset)", sc ? sc : "(unset)");
        printf("bf16 matmuls (--precision bf16): %s\n", xt_bf16_available() ? "native (oneDNN, AVX512-BF16 or AMX)" : "not on this CPU (refused)");
        printf("MPI: %s\n", xt_dist_have_mpi() ? "built in (mpirun / srun run data-parallel training, --list jobs and one image split across ranks)" : "not built in");
        printf("inputs: native (TIFF, BigTIFF, PNG, JPEG), gdal: %s, openslide: %s\n", // loads them to say so
               xt_backend_available(XT_BACKEND_GDAL) ? "yes" : "no", xt_backend_available(XT_BACKEND_OPENSLIDE) ? "yes" : "no");
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++) {
        if (strcmp(argv[1], commands[i].name)) continue;
        if (!commands[i].values) return commands[i].fn(argc - 1, argv + 1);
        xt_cli_args a;
        int rc = xt_cli_args_gnu(commands[i].values, commands[i].flags, argc - 1, argv + 1, &a) < 0
                     ? xt_cli_usage_error(commands[i].name, "%s", xt_error_buffer())
                     : commands[i].fn(a.argc, a.argv);
        xt_cli_args_free(&a);
        return rc;
    }
    fprintf(stderr, "xt: unknown command '%s'\n", argv[1]);
    usage(stderr);
    return 2;
}
