// err.c — the one error channel: a thread-local message buffer (libvips/ggml style).
#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "core/core.h"

static _Thread_local char err_buf[2048];
static _Thread_local char err_file[4096]; // the file the message names ("" none)

const char *xt_error_buffer(void) { return err_buf[0] ? err_buf : "unknown error"; }

void xt_error_clear(void) { err_buf[0] = err_file[0] = 0; }

int xt_error(const char *where, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err_buf, sizeof err_buf, "%s: %s", where, msg);
    err_file[0] = 0;
    return -1;
}

int xt_error_file(const char *where, const char *path, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(err_buf, sizeof err_buf, "%s: %s: %s", where, path, msg);
    snprintf(err_file, sizeof err_file, "%s", path);
    return -1;
}

int xt_error_in_file(const char *path) {
    if (!path || !strcmp(err_file, path)) return -1;
    xt_error_prefix("%s", path);
    snprintf(err_file, sizeof err_file, "%s", path);
    return -1;
}

int xt_error_prefix(const char *fmt, ...) {
    char ctx[512], old[sizeof err_buf];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(ctx, sizeof ctx, fmt, ap);
    va_end(ap);
    memcpy(old, err_buf, sizeof old);
    int k = snprintf(err_buf, sizeof err_buf, "%s: ", ctx);
    if (k > 0 && (size_t)k < sizeof err_buf) snprintf(err_buf + k, sizeof err_buf - k, "%.*s", (int)(sizeof err_buf - k - 1), old);
    return -1;
}

_Noreturn void xt__assert_fail(const char *cond, const char *file, int line) {
    fprintf(stderr, "xt: internal error: assertion '%s' failed at %s:%d\n", cond, file, line);
    abort();
}

void *xt_xmalloc(size_t n) {
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "xt: out of memory (%zu bytes)\n", n);
        abort();
    }
    return p;
}

void *xt_xcalloc(size_t n, size_t sz) {
    void *p = calloc(n ? n : 1, sz ? sz : 1);
    if (!p) {
        fprintf(stderr, "xt: out of memory (%zu x %zu bytes)\n", n, sz);
        abort();
    }
    return p;
}

void *xt_malloc_checked(size_t n, const char *what) {
    void *p = malloc(n ? n : 1);
    if (!p) xt_error("memory", "cannot allocate %zu bytes for %s", n, what);
    return p;
}

int xt_mul_size(size_t a, size_t b, size_t *out) {
    if (a && b > SIZE_MAX / a) return xt_error("size", "size overflow (%zu x %zu)", a, b);
    *out = a * b;
    return 0;
}

double xt_time(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + 1e-9 * ts.tv_nsec;
}

size_t xt_peak_rss(void) {
    FILE *f = fopen("/proc/self/status", "r");
    if (!f) return 0;
    char line[256];
    size_t kb = 0;
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "VmHWM:", 6)) kb = strtoull(line + 6, NULL, 10);
    fclose(f);
    return kb * 1024;
}
