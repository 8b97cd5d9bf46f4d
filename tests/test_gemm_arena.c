// test_gemm_arena.c — xt_gemm (oneDNN sgemm) against the naive reference on odd shapes and every
// transpose combination (tol 1e-5 x scale, float32 reassociation), and the arena's measure pass.
#include "check.h"
#include "formats/safetensors.h"

static float frand(unsigned *s) {
    *s = *s * 1664525u + 1013904223u;
    return ((*s >> 8) / 16777216.0f) * 2 - 1;
}

int main(void) {
    unsigned seed = 1;
    int shapes[][3] = {{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {128, 96, 384}, {3, 1000, 2}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                float *A = malloc(sizeof(float) * M * K), *B = malloc(sizeof(float) * K * N);
                float *C = malloc(sizeof(float) * M * N), *R = malloc(sizeof(float) * M * N);
                for (int i = 0; i < M * K; i++) A[i] = frand(&seed);
                for (int i = 0; i < K * N; i++) B[i] = frand(&seed);
                for (int i = 0; i < M * N; i++) C[i] = R[i] = frand(&seed);
                int lda = ta ? M : K, ldb = tb ? K : N;
                xt_gemm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 2.0f, C, N);
                xt_gemm_naive(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 2.0f, R, N);
                char label[64];
                snprintf(label, sizeof label, "gemm %dx%dx%d ta%d tb%d", M, N, K, ta, tb);
                CHECK_CLOSE(C, R, M * N, 0, 1e-5 * (K > 16 ? K / 16.0 : 1), label);
                free(A); free(B); free(C); free(R);
            }
    // beta = 0 must ignore NaN garbage in C (BLAS semantics)
    float A1[2] = {1, 2}, B1[2] = {3, 4}, C1[1] = {NAN};
    xt_gemm(0, 0, 1, 1, 2, 1, A1, 2, B1, 1, 0, C1, 1);
    CHECK(C1[0] == 11);

    // arena: the measuring pass gives the exact size the real pass needs
    xt_arena m, a;
    CHECK(xt_arena_init(&m, 0) == 0);
    xt_arena_f32(&m, 3);
    xt_arena_f32(&m, 100);
    size_t mark = xt_arena_mark(&m);
    xt_arena_f32(&m, 1000);
    xt_arena_release(&m, mark);
    xt_arena_f32(&m, 10);
    CHECK(m.high == 64 + 448 + 4032); // 3 -> 64 B, 100 -> 448 B, 1000 -> 4032 B (64-byte aligned)
    CHECK(xt_arena_init(&a, m.high) == 0);
    float *p1 = xt_arena_f32(&a, 3), *p2 = xt_arena_f32(&a, 100);
    CHECK(((uintptr_t)p1 % 64) == 0 && ((uintptr_t)p2 % 64) == 0 && p2 >= p1 + 3);
    mark = xt_arena_mark(&a);
    xt_arena_f32(&a, 1000);
    xt_arena_release(&a, mark);
    xt_arena_f32(&a, 10);
    CHECK(a.high == m.high);
    xt_arena_free(&a);
    return check_summary("gemm_arena");
}
