// test_train_mamba_backward.c — the Mamba context layers' backward (selective scan, causal
// conv, softplus, gates, reversed even layers) against central finite differences of
// sum(out * dout) on a tiny stack (D 8, 2 layers, 2 sequences of 6 tokens). Loss in double;
// h = 1e-2, tolerance 2e-2 x max(1, max|grad|) (float32 forward).
#include "check.h"
#include "fd.h"
#include "train/train.h"

static xt_params P;
static xt_mamba_train *M;
static xt_arena act;
static float *X, *Y, *DY;
enum { N = 2, L = 6, D = 8 };

static double loss(void) {
    memcpy(Y, X, sizeof(float) * N * L * D);
    xt_arena_reset(&act);
    xt_mamba_train_plan(M, N, L, &act);
    xt_mamba_train_forward(M, &P, Y, N, L, NULL);
    return dot_(Y, DY, N * L * D);
}

int main(void) {
    xt_set_threads(1);
    M = xt_mamba_train_new(&P, "decoder.layers.", D, 2);
    CHECK(M && xt_params_alloc(&P) == 0);
    xt_params_init(&P, 3);
    uint64_t r = 5;
    for (int i = 0; i < P.n; i++) { // perturb the structured init so every term matters
        float *w = xt_pw(&P, i);
        for (size_t j = 0; j < P.p[i].n; j++) w[j] += (float)(0.1 * xt_rng_normal(&r));
    }
    xt_arena a0;
    xt_arena_init(&a0, 0);
    xt_mamba_train_plan(M, N, L, &a0);
    CHECK(xt_arena_init(&act, a0.high + 64) == 0);
    X = malloc(sizeof(float) * N * L * D), Y = malloc(sizeof(float) * N * L * D), DY = malloc(sizeof(float) * N * L * D);
    float *dx = malloc(sizeof(float) * N * L * D), *scr = malloc(sizeof(float) * xt_mamba_train_scratch_floats(M, N, L));
    for (int i = 0; i < N * L * D; i++) X[i] = (float)xt_rng_normal(&r), DY[i] = (float)xt_rng_normal(&r);
    loss();
    memcpy(dx, DY, sizeof(float) * N * L * D);
    xt_params_zero_grad(&P);
    xt_mamba_train_backward(M, &P, dx, N, L, scr);
    FD_CHECK(X, N * L * D, loss, dx, 1e-2, 2e-2, "dx");
    const char *names[] = {"mixer.A_log", "mixer.D", "mixer.in_proj.weight", "mixer.conv1d.weight", "mixer.conv1d.bias",
                           "mixer.x_proj.weight", "mixer.dt_proj.weight", "mixer.dt_proj.bias", "mixer.out_proj.weight",
                           "norm.weight", "norm.bias"};
    for (int l = 0; l < 2; l++)
        for (size_t k = 0; k < sizeof names / sizeof *names; k++) {
            char nm[128];
            snprintf(nm, sizeof nm, "decoder.layers.%d.%s", l, names[k]);
            int i = xt_params_find(&P, nm);
            CHECK(i >= 0);
            if (i < 0) { fprintf(stderr, "no %s\n", nm); continue; }
            FD_CHECK(xt_pw(&P, i), (long)P.p[i].n, loss, xt_pg(&P, i), 1e-2, 2e-2, nm);
        }
    xt_arena_free(&act);
    free(X); free(Y); free(DY); free(dx); free(scr);
    xt_mamba_train_free(M);
    xt_params_free(&P);
    return check_summary("train_mamba_backward");
}
