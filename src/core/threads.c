// threads.c — one place that decides thread counts: OpenMP for our loops (the calling thread's
// OpenMP thread count); xt_gemm's oneDNN sgemm uses that same count, and runs single-threaded
// inside our parallel regions, so library threads x our threads never exceed the cores.
#include <stdarg.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/core.h"
#include "core/dist.h"

void xt_set_threads(int n) {
#ifdef _OPENMP
    if (n <= 0) n = omp_get_num_procs() / xt_dist_local_size(); // ranks on one node share its cores
    if (n < 1) n = 1;
    omp_set_num_threads(n);
#else
    (void)n; // one thread
#endif
}

int xt_get_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

void xt_tap_emit(const xt_tap *tap, const char *path, const float *x, int ndim, ...) {
    if (!xt_tap_on(tap)) return;
    int64_t shape[XT_MAX_DIMS];
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    tap->fn(tap->u, path, x, shape, ndim);
}

void xt_tap_emitf(const xt_tap *tap, const float *x, int ndim, const int64_t *shape,
                  const char *fmt, ...) {
    if (!xt_tap_on(tap)) return;
    char path[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof path, fmt, ap);
    va_end(ap);
    tap->fn(tap->u, path, x, shape, ndim);
}
