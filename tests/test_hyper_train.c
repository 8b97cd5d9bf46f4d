// test_hyper_train.c — the HyperAttention backward (hyper.c) on its long path: the gradient of
// sum(out * dout) with respect to q, k, v
//   * against float64 torch autograd through the official computation (tools/gen_ref_hyper_grad.py:
//     LSH recursion with odd lengths at every level, several blocks, sampled keys, batch 2; the
//     block-mask variant; many blocks per head; an exact off-diagonal level), tolerance
//     1e-4 * max(1, max|ref|) (float32 against float64; measured worst 3.5e-7 * max|ref|);
//   * against central finite differences of the float32 forward (h = 1e-3, 24 elements per
//     tensor, 1e-2 * max(1, max|grad|)): the permutations and draws are constants, so the
//     forward is replayed with the same draws each time;
//   * dq, dk, dv are the same whatever the thread count (1 vs 2, 1e-6).
#include <string.h>

#include "check.h"
#include "fd.h"
#include "models/seq.h"

static struct {
    xt_st *st;
    xt_hyper hy;
    xt_hyper_rec rec;
    xt_arena ra, ws;
    int B, NH, L, HS;
    float *q, *k, *v, *out;
    const float *dout;
} F;

static void forward(void) {
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, F.st, 0); // replays the file's draws: the same samples every time
    xt_arena_reset(&F.ws);
    CHECK(xt_hyper_attention_train(F.out, &F.rec, F.q, F.k, F.v, F.B, F.NH, F.L, &F.hy, &r, &F.ws) == 0);
}

static double loss(void) {
    forward();
    return dot_(F.out, F.dout, (long)F.B * F.NH * F.L * F.HS);
}

static void run_case(const char *file) {
    F.st = xt_st_open(file);
    if (!F.st) { fprintf(stderr, "%s\n", xt_error_buffer()); CHECK(0); return; }
    const xt_st_tensor *tq = xt_st_find(F.st, "input.q");
    F.B = (int)tq->shape[0], F.NH = (int)tq->shape[1], F.L = (int)tq->shape[2], F.HS = (int)tq->shape[3];
    size_t n = (size_t)F.B * F.NH * F.L * F.HS;
    const float *prm = xt_st_f32(F.st, "input.params", NULL);
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    p.min_seq_len = (int)prm[0], p.block_size = (int)prm[1], p.sample_size = (int)prm[2], p.block_mask = (int)prm[3];
    xt_hyper_rand r0;
    xt_hyper_rand_init(&r0, F.st, 0);
    CHECK(xt_hyper_init(&F.hy, &p, F.HS, F.st, "attn", &r0) == 0);
    xt_arena m;
    xt_arena_init(&m, 0);
    CHECK(xt_hyper_rec_plan(&F.rec, &F.hy, F.B, F.NH, F.L, &m) == 0);
    CHECK(xt_arena_init(&F.ra, m.high + 64) == 0);
    CHECK(xt_hyper_rec_plan(&F.rec, &F.hy, F.B, F.NH, F.L, &F.ra) == 0);
    size_t wf = xt_hyper_workspace_size(&F.hy, F.B, F.NH, F.L), wb = xt_hyper_backward_ws_size(&F.hy, F.B, F.NH, F.L);
    CHECK(xt_arena_init(&F.ws, wf > wb ? wf : wb) == 0);
    F.q = malloc(n * 4), F.k = malloc(n * 4), F.v = malloc(n * 4), F.out = malloc(n * 4);
    memcpy(F.q, xt_st_f32(F.st, "input.q", NULL), n * 4);
    memcpy(F.k, xt_st_f32(F.st, "input.k", NULL), n * 4);
    memcpy(F.v, xt_st_f32(F.st, "input.v", NULL), n * 4);
    F.dout = xt_st_f32(F.st, "input.dout", NULL);
    forward();
    char lb[160];
    snprintf(lb, sizeof lb, "%s: out", file);
    CHECK_CLOSE(F.out, xt_st_f32(F.st, "expected.attn", NULL), (long)n, 1e-5, 0, lb);
    float *d[3], *d1[3];
    for (int i = 0; i < 3; i++) d[i] = malloc(n * 4), d1[i] = malloc(n * 4);
    xt_arena_reset(&F.ws);
    CHECK(xt_hyper_attention_backward(d[0], d[1], d[2], F.dout, F.q, F.k, F.v, &F.hy, &F.rec, &F.ws) == 0);
    const char *nm[3] = {"q", "k", "v"};
    float *x[3] = {F.q, F.k, F.v};
    for (int i = 0; i < 3; i++) {
        char en[64];
        snprintf(en, sizeof en, "expected.grad.%s", nm[i]);
        snprintf(lb, sizeof lb, "%s: d%s vs float64 autograd", file, nm[i]);
        const float *ref = xt_st_f32(F.st, en, NULL);
        CHECK_CLOSE(d[i], ref, (long)n, 0, 1e-4, lb);
        double mr = 0, md = 0;
        for (size_t j = 0; j < n; j++) mr = fmax(mr, fabs(ref[j])), md = fmax(md, fabs(d[i][j] - ref[j]));
        printf("%s: d%s max|d| / max|ref| %.2e\n", file, nm[i], md / mr);
        snprintf(lb, sizeof lb, "%s: d%s vs finite differences", file, nm[i]);
        FD_CHECK(x[i], (long)n, loss, d[i], 1e-3, 1e-2, lb);
    }
    // one thread: the same gradients (each row's merges and each head's blocks in one place)
    xt_set_threads(1);
    forward();
    xt_arena_reset(&F.ws);
    CHECK(xt_hyper_attention_backward(d1[0], d1[1], d1[2], F.dout, F.q, F.k, F.v, &F.hy, &F.rec, &F.ws) == 0);
    xt_set_threads(2);
    for (int i = 0; i < 3; i++) {
        snprintf(lb, sizeof lb, "%s: d%s 1 vs 2 threads", file, nm[i]);
        CHECK_CLOSE(d1[i], d[i], (long)n, 1e-6, 1e-6, lb);
    }
    // a workspace too small is an error, not an overrun
    xt_arena tiny;
    CHECK(xt_arena_init(&tiny, 1024) == 0);
    CHECK(xt_hyper_attention_backward(d1[0], d1[1], d1[2], F.dout, F.q, F.k, F.v, &F.hy, &F.rec, &tiny) == -1);
    xt_arena_free(&tiny);
    for (int i = 0; i < 3; i++) free(d[i]), free(d1[i]);
    free(F.q), free(F.k), free(F.v), free(F.out);
    xt_arena_free(&F.ra);
    xt_arena_free(&F.ws);
    xt_hyper_free(&F.hy);
    xt_st_close(F.st);
}

int main(void) {
    xt_set_threads(2);
    run_case("tests/ref/seq_hyper_grad_long.safetensors");
    run_case("tests/ref/seq_hyper_grad_mask.safetensors");
    run_case("tests/ref/seq_hyper_grad_many.safetensors");
    run_case("tests/ref/seq_hyper_grad_exactoff.safetensors");
    return check_summary("hyper_train");
}
