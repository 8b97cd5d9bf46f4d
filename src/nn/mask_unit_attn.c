// mask_unit_attn.c — Hiera's mask-unit attention: one forward for inference and training, and its
// backward. ref: hiera/hiera.py MaskUnitAttention.forward @ b12b842
//
// One image: qkv (N, 3D), token n = t*nw + w is the t-th token of mask unit w (nw = 1: global
// attention), heads of HS = D / NH. Per (head, unit) task of T = N / nw tokens: the query is
// max-pooled over the q_stride blocks (token t = s*Tq + t', Tq = T / q, pooled over s), then
// out = softmax(scale qp K^T) V with scale = HS^-1/2, written to att (N/q, D) at token t'*nw + w,
// channels h*HS.. (the (Tq, nw, heads, HS) layout of the official transpose(1, 3)). Tasks run in
// parallel, each with single-threaded GEMMs; the backward's tasks own disjoint dqkv slots.
#include <float.h>
#include <math.h>
#include <string.h>

#include "nn/nn.h"

void xt_mask_unit_attn_forward(float *att, float *qp, int *qidx, float *p, const float *qkv, int N, int D, int NH,
                               int q, int nw) {
    const int HS = D / NH, T = N / nw, Tq = T / q;
    const float scale = 1.0f / sqrtf((float)HS);
    const int tasks = NH * nw;
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
    for (int task = 0; task < tasks; task++) {
        const int h = task / nw, w = task % nw;
        float *Qp = qp + (size_t)task * Tq * HS, *S = p + (size_t)task * Tq * T;
        int *qi = qidx ? qidx + (size_t)task * Tq * HS : NULL;
        const size_t ld = (size_t)nw * 3 * D; // consecutive tokens of one unit
        const float *Q = qkv + (size_t)w * 3 * D + (size_t)h * HS, *K = Q + D, *V = Q + 2 * D;
        for (int t = 0; t < Tq; t++) { // pooled q = max over s (first s on ties), s outermost: vectorises over d
            float *mx = Qp + (size_t)t * HS;
            int *arg = qi ? qi + (size_t)t * HS : NULL;
            for (int d = 0; d < HS; d++) mx[d] = -FLT_MAX;
            if (arg) memset(arg, 0, HS * sizeof(int));
            for (int s = 0; s < q; s++) {
                const float *v = Q + (size_t)(s * Tq + t) * ld;
                if (arg) {
#pragma omp simd
                    for (int d = 0; d < HS; d++) {
                        const int gt = v[d] > mx[d];
                        mx[d] = gt ? v[d] : mx[d];
                        arg[d] = gt ? s : arg[d];
                    }
                } else {
#pragma omp simd
                    for (int d = 0; d < HS; d++) mx[d] = v[d] > mx[d] ? v[d] : mx[d];
                }
            }
        }
        xt_gemm(0, 1, Tq, T, HS, scale, Qp, HS, K, (int)ld, 0.0f, S, T);
        xt_softmax_forward(S, S, Tq, T);
        xt_gemm(0, 0, Tq, HS, T, 1.0f, S, T, V, (int)ld, 0.0f, att + (size_t)w * D + (size_t)h * HS, nw * D);
    }
}

void xt_mask_unit_attn_backward(float *dqkv, float *scratch, const float *datt, const float *qkv, const float *qp,
                                const int *qidx, const float *p, int N, int D, int NH, int q, int nw) {
    const int HS = D / NH, T = N / nw, Tq = T / q;
    const float scale = 1.0f / sqrtf((float)HS);
    const int tasks = NH * nw, ldo = nw * D;
    const size_t per = (size_t)Tq * T + (size_t)Tq * HS;
#pragma omp parallel for schedule(dynamic) if (tasks > 1)
    for (int task = 0; task < tasks; task++) { // each task owns its (unit, head) slots of dqkv
        const int h = task / nw, w = task % nw;
        float *dP = scratch + task * per, *dqp = dP + (size_t)Tq * T;
        const int ld = nw * 3 * D;
        const float *K = qkv + (size_t)w * 3 * D + (size_t)h * HS + D, *V = K + D;
        float *dQ = dqkv + (size_t)w * 3 * D + (size_t)h * HS, *dK = dQ + D, *dV = dQ + 2 * D;
        const float *dO = datt + (size_t)w * D + (size_t)h * HS, *Pr = p + (size_t)task * Tq * T;
        const float *Qp = qp + (size_t)task * Tq * HS;
        const int *qi = qidx + (size_t)task * Tq * HS;
        xt_gemm(1, 0, T, HS, Tq, 1.0f, Pr, T, dO, ldo, 0.0f, dV, ld); // dV = P^T dO
        xt_gemm(0, 1, Tq, T, HS, 1.0f, dO, ldo, V, ld, 0.0f, dP, T);  // dP = dO V^T
        xt_softmax_backward(dP, dP, Pr, Tq, T);                        // dS
        xt_gemm(0, 0, Tq, HS, T, scale, dP, T, K, ld, 0.0f, dqp, HS); // dQp = scale dS K
        xt_gemm(1, 0, T, HS, Tq, scale, dP, T, Qp, HS, 0.0f, dK, ld); // dK = scale dS^T Qp
        for (int r = 0; r < T; r++) memset(dQ + (size_t)r * ld, 0, HS * sizeof(float));
        for (int t = 0; t < Tq; t++) // max pool: the gradient goes to the selected token
            for (int d = 0; d < HS; d++) dQ[(size_t)(qi[(size_t)t * HS + d] * Tq + t) * ld + d] += dqp[(size_t)t * HS + d];
    }
}
