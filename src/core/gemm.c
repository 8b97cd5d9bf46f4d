// gemm.c — row-major GEMM on OpenBLAS (cblas_sgemm), plus the naive reference used by tests.
// Why OpenBLAS: ~310 GFLOP/s sgemm on 2 cores here, mature, in Debian; the OpenMP build shares
// our thread pool. The bf16/AMX path (oneDNN) can slot in behind this same function.
#include <cblas.h>
#include <pthread.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "core/core.h"

void openblas_set_num_threads(int);

// OpenBLAS 0.3.21 (OpenMP build) keeps its thread count and per-thread buffers in globals:
// openblas_set_num_threads frees the buffers of threads it no longer needs, so two application
// threads calling it (or a multi-threaded sgemm) at once corrupt each other's products (measured:
// 9 of 200 wrong sgemms with 3 pthreads at 1/2/1 threads). Multi-threaded calls — those made
// outside our parallel regions — are therefore serialised here, each first setting OpenBLAS to the
// calling thread's OpenMP thread count. Inside a parallel region OpenBLAS runs single-threaded
// without touching those globals, so those calls need no lock.
static pthread_mutex_t blas_lock = PTHREAD_MUTEX_INITIALIZER;
static int blas_threads; // what OpenBLAS was last set to (under blas_lock); 0 = not yet

void xt_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    if (K <= 0) { // BLAS leaves C untouched for K = 0 only when beta == 1
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) C[(size_t)i * ldc + j] = beta == 0 ? 0 : beta * C[(size_t)i * ldc + j];
        return;
    }
#ifdef _OPENMP
    int serial = !omp_in_parallel(), want = omp_get_max_threads();
#else
    int serial = 1, want = 1;
#endif
    if (serial) {
        pthread_mutex_lock(&blas_lock);
        if (want != blas_threads) openblas_set_num_threads(blas_threads = want);
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (serial) pthread_mutex_unlock(&blas_lock);
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
