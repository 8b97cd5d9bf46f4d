// gemm.c — row-major float32 GEMM on oneDNN (dnnl_sgemm), plus the naive reference used by tests.
// Why oneDNN: on this AVX-512 EPYC its sgemm runs at 180–200 GFLOP/s per core on every shape xt
// uses (2048³, attention tiles 256×256×128, Swin/decoder linears, im2col convs), where OpenBLAS
// 0.3.21 got 80–100 (bench: tools in docs/performance.md, "One GEMM"). Built on OpenMP, it runs
// single-threaded when called inside one of our parallel regions, and it keeps no global state
// between calls, so concurrent callers need no lock (OpenBLAS needed one).
#include <oneapi/dnnl/dnnl.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/core.h"

// Below this many multiply-adds the fork/join of a second thread costs more than it saves
// (measured at 2 threads: 96³ 152 GFLOP/s vs 206 on one; 128³ 222 vs 198).
#define XT_GEMM_SERIAL_MACS 1500000.0

void xt_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { // BLAS leaves C untouched for K = 0 only when beta == 1
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
#ifdef _OPENMP
    int restore = 0;
    if ((double)M * N * K < XT_GEMM_SERIAL_MACS && !omp_in_parallel() && (restore = omp_get_max_threads()) > 1)
        omp_set_num_threads(1); // this thread's ICV only: other threads are unaffected
    else
        restore = 0;
#endif
    dnnl_status_t st = dnnl_sgemm(transA ? 'T' : 'N', transB ? 'T' : 'N', M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
#ifdef _OPENMP
    if (restore) omp_set_num_threads(restore);
#endif
    // Our callers check shapes; a failure here (bad leading dimension) is a programming error.
    XT_ASSERT(st == dnnl_success);
}

void xt_gemm_naive(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int k = 0; k < K; k++) {
                float a = transA ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                float b = transB ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                s += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * s + (beta == 0 ? 0 : beta * *c));
        }
}
