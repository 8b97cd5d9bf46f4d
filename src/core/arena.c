// arena.c — one aligned block per lifetime, bump allocation, reset instead of free.
// A measuring arena (size 0) only counts, so callers size real arenas with the same code path.
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "core/core.h"

#define XT_ALIGN 64

int xt_arena_init(xt_arena *a, size_t size) {
    memset(a, 0, sizeof *a);
    if (size == 0) {
        a->measure = 1;
        return 0;
    }
    size = (size + XT_ALIGN - 1) & ~(size_t)(XT_ALIGN - 1);
    // Large workspaces on 2 MiB pages where the kernel lends them (transparent huge pages in
    // "madvise" mode, Debian's default): 512x fewer page faults on first touch and TLB misses in
    // the encoders' passes over 100+ MiB of activations.
    const size_t huge = (size_t)2 << 20;
    if (size >= 4 * huge && !getenv("XT_NO_HUGEPAGES")) {
        size = (size + huge - 1) & ~(huge - 1);
        a->base = aligned_alloc(huge, size);
#ifdef MADV_HUGEPAGE
        if (a->base) madvise(a->base, size, MADV_HUGEPAGE); // advice only: failure changes nothing
#endif
    } else
        a->base = aligned_alloc(XT_ALIGN, size);
    if (!a->base) return xt_error("arena", "cannot allocate %zu bytes of workspace", size);
    a->size = size;
    return 0;
}

void xt_arena_free(xt_arena *a) {
    free(a->base);
    memset(a, 0, sizeof *a);
}

void *xt_arena_bytes(xt_arena *a, size_t n) {
    size_t off = (a->used + XT_ALIGN - 1) & ~(size_t)(XT_ALIGN - 1);
    size_t end = off + ((n + XT_ALIGN - 1) & ~(size_t)(XT_ALIGN - 1));
    a->used = end;
    if (end > a->high) a->high = end;
    if (a->measure) return NULL;
    XT_ASSERT(end <= a->size); // arenas are sized by a measure pass; overflow is a bug
    return a->base + off;
}

int xt_arena_require(const xt_arena *a, size_t need, const char *where, const char *what) {
    if (a->measure || a->size - a->used < need)
        return xt_error(where, "%s too small (%zu bytes free, need %zu)", what, a->size - a->used, need);
    return 0;
}

float *xt_arena_f32(xt_arena *a, size_t n) { return xt_arena_bytes(a, n * sizeof(float)); }
