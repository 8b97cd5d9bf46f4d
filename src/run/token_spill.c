// token_spill.c — memory-then-file token store (see token_spill.h). Rows [0, n_mem) live in a
// buffer of at most mem_bytes; later rows are appended to a scratch file that is unlinked at
// creation, so nothing is left behind even on a crash.
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "core/core.h"
#include "run/token_spill.h"

typedef struct {
    float *mem;
    int64_t cap_mem, n_mem; // rows the buffer can hold / holds
    size_t used_mem;
    int fd;                 // -1 until the first spill
    int64_t n_file;
} spill;

static int spill_open_file(spill *sp) {
    const char *dir = getenv("TMPDIR");
    char path[1024];
    snprintf(path, sizeof path, "%s/xt-tokens-XXXXXX", dir && *dir ? dir : "/tmp");
    sp->fd = mkstemp(path);
    if (sp->fd < 0) return xt_error("tokens", "cannot create a scratch file in %s: %s", dir && *dir ? dir : "/tmp", strerror(errno));
    unlink(path);
    return 0;
}

static int spill_append(xt_token_store *s, const float *rows, int64_t n) {
    spill *sp = s->impl;
    size_t rb = (size_t)s->D * sizeof(float);
    int64_t k = sp->cap_mem - sp->n_mem;
    if (k > n) k = n;
    if (k > 0) {
        if (sp->n_mem + k > 0 && !sp->mem) {
            sp->mem = xt_malloc_checked((size_t)sp->cap_mem * rb, "token buffer");
            if (!sp->mem) return -1;
        }
        memcpy(sp->mem + sp->n_mem * s->D, rows, (size_t)k * rb);
        sp->n_mem += k;
    }
    if (n > k) {
        if (sp->fd < 0 && spill_open_file(sp) < 0) return -1;
        const char *p = (const char *)(rows + k * s->D);
        size_t left = (size_t)(n - k) * rb;
        off_t off = (off_t)sp->n_file * rb;
        while (left) {
            ssize_t w = pwrite(sp->fd, p, left, off);
            if (w <= 0) return xt_error("tokens", "scratch file write failed: %s", strerror(errno));
            p += w, left -= (size_t)w, off += w;
        }
        sp->n_file += n - k;
    }
    s->n += n;
    return 0;
}

static int spill_read(xt_token_store *s, int64_t start, int64_t n, float *dst) {
    spill *sp = s->impl;
    if (start < 0 || n < 0 || start + n > s->n)
        return xt_error("tokens", "read [%lld, %lld) of %lld rows", (long long)start, (long long)(start + n), (long long)s->n);
    size_t rb = (size_t)s->D * sizeof(float);
    if (start < sp->n_mem) {
        int64_t k = sp->n_mem - start < n ? sp->n_mem - start : n;
        memcpy(dst, sp->mem + start * s->D, (size_t)k * rb);
        dst += k * s->D, start += k, n -= k;
    }
    char *p = (char *)dst;
    size_t left = (size_t)n * rb;
    off_t off = (off_t)(start - sp->n_mem) * rb;
    while (left) {
        ssize_t r = pread(sp->fd, p, left, off);
        if (r <= 0) return xt_error("tokens", "scratch file read failed: %s", r < 0 ? strerror(errno) : "short file");
        p += r, left -= (size_t)r, off += r;
    }
    return 0;
}

static void spill_free(xt_token_store *s) {
    spill *sp = s->impl;
    if (sp->fd >= 0) close(sp->fd);
    free(sp->mem);
    free(sp);
    free(s);
}

xt_token_store *xt_token_store_spill_new(int D, size_t mem_bytes) {
    if (D <= 0) {
        xt_error("tokens", "bad token width %d", D);
        return NULL;
    }
    xt_token_store *s = xt_xcalloc(1, sizeof *s);
    spill *sp = xt_xcalloc(1, sizeof *sp);
    sp->fd = -1;
    sp->cap_mem = (int64_t)(mem_bytes / ((size_t)D * sizeof(float)));
    s->D = D;
    s->impl = sp;
    s->append = spill_append, s->read = spill_read, s->free = spill_free;
    return s;
}
