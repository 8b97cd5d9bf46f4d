// test_nn_basic.c — linear, layernorm, GELU, softmax against PyTorch (tests/ref/nn_basic.safetensors,
// made by tools/gen_ref_nn.py), and xt_gemm against xt_gemm_naive on odd shapes.
// Tolerances: float32 reductions of <= 300 terms: 1e-5 x max(1, max|ref|) (1e-6 for the
// elementwise GELU/softmax, whose refs are O(1)); GEMM vs the double-accumulating naive
// reference: 1e-5 x max(1, max|ref|) with K <= 131.
#include "check.h"
#include "formats/safetensors.h"
#include "nn/nn.h"
#ifdef _OPENMP
#include <omp.h>
#endif

static xt_st *st;
static const float *T(const char *name) {
    const float *p = xt_st_f32(st, name, NULL);
    if (!p) { fprintf(stderr, "%s\n", xt_error_buffer()); exit(1); }
    return p;
}

static void fill(float *x, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = (float)(seed >> 8) / (float)(1u << 24) * 2 - 1;
    }
}

static void test_gemm(void) {
    // odd shapes, all transposes, alpha/beta, leading dimensions larger than the rows
    int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 65}, {64, 48, 131}, {129, 7, 3}, {5, 250, 32}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int ta = 0; ta < 2; ta++)
            for (int tb = 0; tb < 2; tb++) {
                int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
                int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 1, ldc = N + 2;
                float *A = malloc(sizeof(float) * (ta ? K : M) * lda), *B = malloc(sizeof(float) * (tb ? N : K) * ldb);
                float *C1 = malloc(sizeof(float) * M * ldc), *C2 = malloc(sizeof(float) * M * ldc);
                fill(A, (size_t)(ta ? K : M) * lda, 1 + s);
                fill(B, (size_t)(tb ? N : K) * ldb, 7 + s);
                fill(C1, (size_t)M * ldc, 3);
                memcpy(C2, C1, sizeof(float) * M * ldc);
                xt_gemm(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C1, ldc);
                xt_gemm_naive(ta, tb, M, N, K, 0.7f, A, lda, B, ldb, 0.3f, C2, ldc);
                char label[64];
                snprintf(label, sizeof label, "gemm %dx%dx%d ta%d tb%d", M, N, K, ta, tb);
                CHECK_CLOSE(C1, C2, (long)M * ldc, 0, 1e-5, label);
                free(A); free(B); free(C1); free(C2);
            }
    // inside a parallel region (oneDNN runs single-threaded there): same result
    enum { M = 37, N = 41, K = 43 };
    static float A[M * K], B[K * N], C[4][M * N], R[M * N];
    fill(A, M * K, 11);
    fill(B, K * N, 12);
    xt_gemm_naive(0, 0, M, N, K, 1, A, K, B, N, 0, R, N);
#pragma omp parallel for num_threads(2)
    for (int i = 0; i < 4; i++) xt_gemm(0, 0, M, N, K, 1, A, K, B, N, 0, C[i], N);
    for (int i = 0; i < 4; i++) CHECK_CLOSE(C[i], R, M * N, 0, 1e-5, "gemm in parallel region");
}

// oneDNN matmuls (the Swin V2 linears) vs the naive GEMM: float32 1e-5; bfloat16 against the
// naive GEMM of the bf16-rounded inputs (exact products, float32 sums): 1e-5.
static void test_onednn(void) {
    xt_mm *mm = xt_mm_new(0);
    CHECK(mm != NULL);
    if (!mm) { fprintf(stderr, "%s\n", xt_error_buffer()); return; }
    int shapes[][3] = {{1, 1, 1}, {37, 29, 53}, {129, 7, 96}, {64, 200, 33}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *a = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K);
        float *o = malloc(sizeof(float) * M * N), *r = malloc(sizeof(float) * M * N);
        fill(a, (size_t)M * K, 31 + s);
        fill(w, (size_t)N * K, 41 + s);
        for (int rep = 0; rep < 2; rep++) { // second call: cached primitive
            CHECK(xt_mm_f32_run(mm, o, a, w, M, N, K) == 0);
            xt_gemm_naive(0, 1, M, N, K, 1, a, K, w, K, 0, r, N);
            CHECK_CLOSE(o, r, (long)M * N, 0, 1e-5, "oneDNN f32 matmul");
        }
        if (xt_bf16_available()) {
            uint16_t *a16 = malloc(2 * M * K), *w16 = malloc(2 * N * K);
            xt_f32_to_bf16(a16, a, (size_t)M * K);
            xt_f32_to_bf16(w16, w, (size_t)N * K);
            for (int i = 0; i < M * K; i++) { uint32_t u = (uint32_t)a16[i] << 16; memcpy(&a[i], &u, 4); }
            for (int i = 0; i < N * K; i++) { uint32_t u = (uint32_t)w16[i] << 16; memcpy(&w[i], &u, 4); }
            CHECK(xt_mm_bf16_run(mm, o, a16, w16, M, N, K) == 0);
            xt_gemm_naive(0, 1, M, N, K, 1, a, K, w, K, 0, r, N);
            CHECK_CLOSE(o, r, (long)M * N, 0, 1e-5, "oneDNN bf16 matmul");
            // the layer form (Hiera, ConvNeXt): a rounded into a16 by the call, bias in float32
            float *bias = malloc(sizeof(float) * N);
            uint16_t *scr = malloc(2 * M * K);
            fill(bias, N, 51 + s);
            CHECK(xt_linear_forward_bf16(mm, o, a, w16, bias, M, K, N, scr) == 0);
            for (int i = 0; i < M; i++)
                for (int j = 0; j < N; j++) r[(size_t)i * N + j] += bias[j];
            CHECK_CLOSE(o, r, (long)M * N, 0, 1e-5, "xt_linear_forward_bf16");
            // and the float32 sgemm's bias: the layer agrees with xt_linear_forward on bf16 inputs
            xt_linear_forward(r, a, w, bias, M, K, N);
            CHECK_CLOSE(o, r, (long)M * N, 0, 1e-5, "xt_linear_forward_bf16 vs xt_linear_forward");
            free(bias); free(scr);
            free(a16); free(w16);
        }
        free(a); free(w); free(o); free(r);
    }
    // int8 (s8 x s8 -> s32 on oneDNN): against the exact integer sums of the same quantised rows,
    // rescaled in double; the quantiser: max|row| maps to +-127, a zero row to scale 1
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *a = malloc(sizeof(float) * M * K), *w = malloc(sizeof(float) * N * K), *bias = malloc(sizeof(float) * N);
        float *o = malloc(sizeof(float) * M * N), *r = malloc(sizeof(float) * M * N), *as = malloc(sizeof(float) * M);
        float *ws = malloc(sizeof(float) * N), *as2 = malloc(sizeof(float) * M);
        int8_t *a8 = malloc(M * K), *w8 = malloc(N * K), *a8b = malloc(M * K);
        fill(a, (size_t)M * K, 61 + s);
        fill(w, (size_t)N * K, 71 + s);
        fill(bias, N, 81 + s);
        xt_quantize_rows_s8(w8, ws, w, N, K);
        xt_quantize_rows_s8(a8b, as2, a, M, K);
        CHECK(xt_linear_forward_s8(mm, o, a, w8, ws, bias, M, K, N, a8, as) == 0);
        CHECK(memcmp(a8, a8b, M * K) == 0);
        int top = 0;
        for (int i = 0; i < M * K; i++) top |= a8[i] == 127 || a8[i] == -127;
        CHECK(top);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                long acc = 0;
                for (int k = 0; k < K; k++) acc += (long)a8[(size_t)i * K + k] * w8[(size_t)j * K + k];
                r[(size_t)i * N + j] = (float)((double)acc * as[i] * ws[j] + bias[j]);
            }
        CHECK_CLOSE(o, r, (long)M * N, 0, 1e-5, "xt_linear_forward_s8 vs exact integer sums");
        free(a); free(w); free(bias); free(o); free(r); free(as); free(ws); free(as2); free(a8); free(w8); free(a8b);
    }
    float z[4] = {0, 0, 0, 0}, zs;
    int8_t zq[4];
    xt_quantize_rows_s8(zq, &zs, z, 1, 4);
    CHECK(zs == 1.0f && zq[0] == 0 && zq[3] == 0);
    // the vector quantiser against the scalar definition: rows of 37 (two vectors + a tail), ties
    // x / scale = k + 0.5 rounding to even, negative values
    {
        enum { R = 5, C = 37 };
        float x[R * C], sc[R];
        int8_t qv[R * C];
        fill(x, R * C, 91);
        for (int c = 0; c < C; c++) x[2 * C + c] = c == 0 ? 127.0f : (float)(c % 9) - 4.5f; // scale 1: exact ties
        xt_quantize_rows_s8(qv, sc, x, R, C);
        int same = 1;
        for (int r = 0; r < R; r++) {
            float mx = 0;
            for (int c = 0; c < C; c++) mx = fmaxf(mx, fabsf(x[r * C + c]));
            float s1 = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / s1;
            same &= sc[r] == s1;
            for (int c = 0; c < C; c++) same &= qv[r * C + c] == (int8_t)lrintf(x[r * C + c] * inv);
        }
        CHECK(same);
        CHECK(qv[2 * C + 1] == -4 && qv[2 * C + 2] == -2 && qv[2 * C + 6] == 2); // -3.5 -> -4, -2.5 -> -2, 1.5 -> 2
    }
    // bf16 rounding: to nearest even
    float v[3] = {1.0f, 1.00390625f, 1.01171875f}; // 1, 1 + 2^-8 (tie -> even 1), 1 + 3 * 2^-8 (tie -> up)
    uint16_t h[3];
    xt_f32_to_bf16(h, v, 3);
    CHECK(h[0] == 0x3F80 && h[1] == 0x3F80 && h[2] == 0x3F82);
    xt_mm_free(mm);
}

int main(void) {
    st = xt_st_open("tests/ref/nn_basic.safetensors");
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    static float out[4096];
    xt_linear_forward(out, T("linear.x"), T("linear.w"), T("linear.b"), 37, 53, 29);
    CHECK_CLOSE(out, T("linear.out"), 37 * 29, 0, 1e-5, "linear");
    xt_linear_forward(out, T("linear.x"), T("linear.w"), NULL, 37, 53, 29);
    CHECK_CLOSE(out, T("linear.out_nobias"), 37 * 29, 0, 1e-5, "linear no bias");

    float mean[13], rstd[13];
    xt_layernorm_forward(out, mean, rstd, T("layernorm.x"), T("layernorm.w"), T("layernorm.b"), 13, 97, 1e-5f);
    CHECK_CLOSE(out, T("layernorm.out"), 13 * 97, 0, 1e-5, "layernorm (rows offset by up to 600)");
    memcpy(out, T("layernorm.x"), sizeof(float) * 13 * 97); // in place
    xt_layernorm_forward(out, NULL, NULL, out, T("layernorm.w"), T("layernorm.b"), 13, 97, 1e-5f);
    CHECK_CLOSE(out, T("layernorm.out"), 13 * 97, 0, 1e-5, "layernorm in place");

    xt_gelu_forward(out, T("gelu.x"), 3004);
    CHECK_CLOSE(out, T("gelu.out"), 3004, 0, 1e-6, "gelu (erf) on [-10, 10]");
    memcpy(out, T("gelu.x"), sizeof(float) * 3004);
    xt_gelu_forward(out, out, 3004);
    CHECK_CLOSE(out, T("gelu.out"), 3004, 0, 1e-6, "gelu in place");

    xt_softmax_forward(out, T("softmax.x"), 7, 301);
    CHECK_CLOSE(out, T("softmax.out"), 7 * 301, 0, 1e-6, "softmax (wide range, -100 mask, constant row)");
    float sum = 0;
    for (int c = 0; c < 301; c++) sum += out[5 * 301 + c];
    CHECK(fabsf(sum - 1) < 1e-5f);

    // fused epilogues vs the composition of the checked ops above (same float math up to order)
    {
        enum { N = 13, C = 97 };
        static float x[N * C], x2[N * C], y[N * C], yb[C], t[N * C];
        fill(x, N * C, 21);
        memcpy(x2, x, sizeof x);
        memcpy(y, T("layernorm.x"), sizeof y);
        fill(yb, C, 22);
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C; c++) t[n * C + c] = y[n * C + c] + yb[c];
        xt_layernorm_forward(t, NULL, NULL, t, T("layernorm.w"), T("layernorm.b"), N, C, 1e-5f);
        for (int i = 0; i < N * C; i++) x2[i] += t[i];
        xt_residual_layernorm_forward(x, y, yb, T("layernorm.w"), T("layernorm.b"), N, C, 1e-5f);
        CHECK_CLOSE(x, x2, N * C, 0, 1e-5, "x += layernorm(y + yb)");
        fill(x, N * C, 21);
        memcpy(x2, x, sizeof x);
        xt_layernorm_forward(t, NULL, NULL, y, T("layernorm.w"), T("layernorm.b"), N, C, 1e-5f);
        for (int i = 0; i < N * C; i++) x2[i] += t[i];
        xt_residual_layernorm_forward(x, y, NULL, T("layernorm.w"), T("layernorm.b"), N, C, 1e-5f);
        CHECK_CLOSE(x, x2, N * C, 0, 1e-5, "x += layernorm(y)");
        // C a multiple of 16: the AVX-512 rows (basic.c), same checks
        enum { C16 = 96 };
        fill(x, N * C16, 23);
        memcpy(x2, x, sizeof(float) * N * C16);
        for (int n = 0; n < N; n++)
            for (int c = 0; c < C16; c++) t[n * C16 + c] = y[n * C16 + c] + yb[c];
        xt_layernorm_forward(t, NULL, NULL, t, T("layernorm.w"), T("layernorm.b"), N, C16, 1e-5f);
        for (int i = 0; i < N * C16; i++) x2[i] += t[i];
        xt_residual_layernorm_forward(x, y, yb, T("layernorm.w"), T("layernorm.b"), N, C16, 1e-5f);
        CHECK_CLOSE(x, x2, N * C16, 0, 1e-5, "x += layernorm(y + yb), 96 channels");
        fill(x, N * C16, 24);
        memcpy(x2, x, sizeof(float) * N * C16);
        xt_layernorm_forward(t, NULL, NULL, y, T("layernorm.w"), T("layernorm.b"), N, C16, 1e-5f);
        for (int i = 0; i < N * C16; i++) x2[i] += t[i];
        xt_residual_layernorm_forward(x, y, NULL, T("layernorm.w"), T("layernorm.b"), N, C16, 1e-5f);
        CHECK_CLOSE(x, x2, N * C16, 0, 1e-5, "x += layernorm(y), 96 channels");
        // GELU(x + b) on the GELU reference: x = gelu.x - b
        static float g[3004], gb[4];
        for (int i = 0; i < 4; i++) gb[i] = 0.25f * i - 0.3f;
        for (int i = 0; i < 3004; i++) g[i] = T("gelu.x")[i] - gb[i % 4];
        xt_bias_gelu_forward(g, gb, 751, 4);
        CHECK_CLOSE(g, T("gelu.out"), 3004, 0, 2e-6, "gelu(x + b)");
    }

    test_gemm();
    test_onednn();
    xt_st_close(st);
    return check_summary("test_nn_basic");
}
