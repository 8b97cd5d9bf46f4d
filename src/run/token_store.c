// token_store.c — memory-then-file token store (see token_store.h).
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "run/token_store.h"

struct xt_token_store {
    int D;
    int64_t n;                   // rows appended
    float *mem;                  // rows [0, n_mem)
    int64_t n_mem, cap, max_mem; // rows held / allocated / allowed in memory
    int fd;                      // rows [n_mem, n); -1 until the first spill
    char *dir;                   // for the scratch file; NULL: $TMPDIR or /tmp
};

xt_token_store *xt_token_store_new(int D, size_t mem_bytes, const char *dir) {
    if (D <= 0) {
        xt_error("tokens", "bad token width %d", D);
        return NULL;
    }
    xt_token_store *s = xt_xcalloc(1, sizeof *s);
    s->D = D;
    s->max_mem = (int64_t)(mem_bytes / ((size_t)D * sizeof(float)));
    s->fd = -1;
    s->dir = dir && *dir ? strdup(dir) : NULL;
    return s;
}

void xt_token_store_free(xt_token_store *s) {
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    free(s->mem);
    free(s->dir);
    free(s);
}

int xt_token_store_width(const xt_token_store *s) { return s->D; }
int64_t xt_token_store_rows(const xt_token_store *s) { return s->n; }

static int open_file(xt_token_store *s) {
    const char *dir = s->dir ? s->dir : getenv("TMPDIR");
    if (!dir || !*dir) dir = "/tmp";
    char path[4096];
    snprintf(path, sizeof path, "%s/xt-tokens-XXXXXX", dir);
    s->fd = mkstemp(path);
    if (s->fd < 0) return xt_error("tokens", "cannot create a scratch file in %s: %s", dir, strerror(errno));
    unlink(path); // removed from the directory now, freed when closed
    return 0;
}

// the buffer grows by doubling (from 1024 rows) up to the budget, so a small image costs little
static int grow(xt_token_store *s, int64_t need) {
    if (need <= s->cap) return 0;
    int64_t cap = s->cap ? s->cap : 1024;
    while (cap < need) cap *= 2;
    if (cap > s->max_mem) cap = s->max_mem;
    size_t bytes;
    if (xt_mul_size((size_t)cap, (size_t)s->D * sizeof(float), &bytes)) return xt_error_prefix("token store");
    float *p = realloc(s->mem, bytes);
    if (!p) return xt_error("tokens", "cannot allocate %zu bytes", bytes);
    s->mem = p, s->cap = cap;
    return 0;
}

int xt_token_store_append(xt_token_store *s, const float *rows, int64_t n) {
    size_t rb = (size_t)s->D * sizeof(float);
    int64_t n_file = s->n - s->n_mem;                   // rows in the file so far
    int64_t k = s->fd < 0 ? s->max_mem - s->n_mem : 0; // rows that still fit in memory
    if (k > n) k = n;
    if (k > 0) {
        if (grow(s, s->n_mem + k)) return -1;
        memcpy(s->mem + s->n_mem * s->D, rows, (size_t)k * rb);
        s->n_mem += k;
    }
    if (n > k) {
        if (s->fd < 0 && open_file(s)) return -1;
        const char *p = (const char *)(rows + k * s->D);
        size_t left = (size_t)(n - k) * rb;
        off_t off = (off_t)n_file * (off_t)rb;
        while (left) {
            ssize_t w = pwrite(s->fd, p, left, off);
            if (w <= 0) return xt_error("tokens", "scratch file write failed: %s", w < 0 ? strerror(errno) : "disk full?");
            p += w, left -= (size_t)w, off += w;
        }
    }
    s->n += n;
    return 0;
}

int xt_token_store_read(const xt_token_store *s, int64_t start, int64_t n, float *dst) {
    if (start < 0 || n < 0 || start + n > s->n)
        return xt_error("tokens", "read [%lld, %lld) of %lld rows", (long long)start, (long long)(start + n), (long long)s->n);
    size_t rb = (size_t)s->D * sizeof(float);
    if (start < s->n_mem) {
        int64_t k = s->n_mem - start < n ? s->n_mem - start : n;
        memcpy(dst, s->mem + start * s->D, (size_t)k * rb);
        dst += k * s->D, start += k, n -= k;
    }
    char *p = (char *)dst;
    size_t left = (size_t)n * rb;
    off_t off = (off_t)(start - s->n_mem) * (off_t)rb;
    while (left) {
        ssize_t r = pread(s->fd, p, left, off);
        if (r <= 0) return xt_error("tokens", "scratch file read failed: %s", r < 0 ? strerror(errno) : "short file");
        p += r, left -= (size_t)r, off += r;
    }
    return 0;
}

float *xt_token_store_take(xt_token_store *s, const float *tail, int64_t n_tail) {
    size_t rb = (size_t)s->D * sizeof(float), bytes;
    if (n_tail < 0 || xt_mul_size((size_t)(s->n + n_tail), rb, &bytes)) {
        xt_error("tokens", "sequence of %lld + %lld rows too large", (long long)s->n, (long long)n_tail);
        return NULL;
    }
    float *x;
    if (s->fd < 0) { // all in memory: extend the buffer itself
        x = realloc(s->mem, bytes ? bytes : 1);
        if (!x) {
            xt_error("tokens", "cannot allocate %zu bytes", bytes);
            return NULL;
        }
    } else {
        if (!(x = xt_malloc_checked(bytes ? bytes : 1, "token sequence"))) return NULL;
        if (xt_token_store_read(s, 0, s->n, x)) {
            free(x);
            return NULL;
        }
        free(s->mem);
        close(s->fd);
        s->fd = -1;
    }
    memcpy(x + s->n * s->D, tail, (size_t)n_tail * rb);
    s->mem = NULL, s->n = s->n_mem = s->cap = 0;
    return x;
}
