// llm_bwd.c — xT's LLMLayer for training, shared by the xT classifier's xl head (xt_bwd.c,
// causal) and the xView3 context model (xview_bwd.c, non-causal): training forward keeping
// activations and its backward, backward beside forward.
//   x1 = x + proj(attn(qkv(RMSNorm1(x))));  out = x1 + down(SiLU(gate(h)) * up(h)), h = RMSNorm2(x1)
// attn: 0 = official bug-1 per-channel attention (xt_channel_attention_*), 1 = softmax attention
// (HyperAttention's exact path) over NH heads of D / NH, scale head_dim^-0.5, causal or not.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "models/trainable.h"
#include "nn/nn.h"

static int reg(xt_params *P, const char *pre, const char *name, int nd, int64_t a, int64_t b) {
    char nm[200];
    snprintf(nm, sizeof nm, "%s%s", pre, name);
    int64_t sh[2] = {a, b};
    return xt_params_add(P, nm, nd, sh);
}

void xt_llm_train_register(xt_llm_train_layer *l, xt_params *P, const char *pre, int D, int F, int qkv_bias) {
    l->qkvw = reg(P, pre, "attn.qkv.weight", 2, 3 * D, D);
    l->qkvb = qkv_bias ? reg(P, pre, "attn.qkv.bias", 1, 3 * D, 0) : -1;
    l->projw = reg(P, pre, "attn.proj.weight", 2, D, D);
    l->projb = reg(P, pre, "attn.proj.bias", 1, D, 0);
    l->inw = reg(P, pre, "input_layernorm.weight", 1, D, 0);
    l->postw = reg(P, pre, "post_attention_layernorm.weight", 1, D, 0);
    l->gw = reg(P, pre, "mlp.gate_proj.weight", 2, F, D);
    l->uw = reg(P, pre, "mlp.up_proj.weight", 2, F, D);
    l->dw = reg(P, pre, "mlp.down_proj.weight", 2, D, F);
}

size_t xt_llm_train_act_floats(int N, int Lt, int D, int F, int attn, int NH) {
    size_t T = (size_t)N * Lt;
    return 6 * T * D + 2 * T + T * 3 * D + (size_t)N * (size_t)(attn == 0 ? D : NH) * Lt * Lt + 3 * T * F + 16 * 16;
}

void xt_llm_train_plan(xt_llm_train_layer *l, xt_arena *a, int N, int Lt, int D, int F, int attn, int NH) {
    size_t T = (size_t)N * Lt;
    l->xin = xt_arena_f32(a, T * D);
    l->rstd1 = xt_arena_f32(a, T);
    l->h = xt_arena_f32(a, T * D);
    l->qkv = xt_arena_f32(a, T * 3 * D);
    if (l->hy) {
        l->p = NULL;
        l->qh = xt_arena_f32(a, T * 3 * D);
        l->oh = xt_arena_f32(a, T * D);
        int rc = xt_hyper_rec_plan(&l->rec, l->hy, N, NH, Lt, a);
        XT_ASSERT(rc == 0); // the caller checked the length (xt_hyper_rec_plan on a measuring arena)
        size_t wb = xt_hyper_workspace_size(l->hy, N, NH, Lt);
        l->hws = (xt_arena){.base = xt_arena_bytes(a, wb), .size = wb, .measure = a->measure};
    } else
        l->p = xt_arena_f32(a, (size_t)N * (size_t)(attn == 0 ? D : NH) * Lt * Lt);
    l->o = xt_arena_f32(a, T * D);
    l->x1 = xt_arena_f32(a, T * D);
    l->rstd2 = xt_arena_f32(a, T);
    l->h2 = xt_arena_f32(a, T * D);
    l->g = xt_arena_f32(a, T * F);
    l->u = xt_arena_f32(a, T * F);
    l->mm = xt_arena_f32(a, T * F);
}

// (T, 3D) rows <-> head-major (3, N, NH, Lt, HS): q, k, v of every head contiguous (seq.h's layout)
static void to_heads(float *dst, const float *src, int N, int Lt, int D, int NH, int parts) {
    int HS = D / NH;
    for (int n = 0; n < N; n++)
        for (int t = 0; t < Lt; t++)
            for (int j = 0; j < parts; j++)
                for (int h = 0; h < NH; h++)
                    memcpy(dst + ((((size_t)j * N + n) * NH + h) * Lt + t) * HS,
                           src + ((size_t)n * Lt + t) * parts * D + (size_t)j * D + h * HS, HS * sizeof(float));
}
static void from_heads(float *dst, const float *src, int N, int Lt, int D, int NH, int parts) {
    int HS = D / NH;
    for (int n = 0; n < N; n++)
        for (int t = 0; t < Lt; t++)
            for (int j = 0; j < parts; j++)
                for (int h = 0; h < NH; h++)
                    memcpy(dst + ((size_t)n * Lt + t) * parts * D + (size_t)j * D + h * HS,
                           src + ((((size_t)j * N + n) * NH + h) * Lt + t) * HS, HS * sizeof(float));
}

int xt_llm_train_forward(xt_llm_train_layer *l, const xt_params *P, float *x, int N, int Lt, int D, int F, int attn,
                         int NH, int causal, const xt_tap *tap, const char *name) {
    const int T = N * Lt;
    memcpy(l->xin, x, (size_t)T * D * sizeof(float));
    xt_rmsnorm_forward(l->h, l->rstd1, l->xin, xt_pw(P, l->inw), T, D, 1e-5f);
    xt_linear_forward(l->qkv, l->h, xt_pw(P, l->qkvw), l->qkvb >= 0 ? xt_pw(P, l->qkvb) : NULL, T, D, 3 * D);
    if (l->hy) { // HyperAttention (causal): exact up to min_seq_len, the LSH path beyond
        XT_ASSERT(causal && attn == 1 && l->rand);
        size_t hd = (size_t)T * D;
        to_heads(l->qh, l->qkv, N, Lt, D, NH, 3);
        xt_arena_reset(&l->hws);
        if (xt_hyper_attention_train(l->oh, &l->rec, l->qh, l->qh + hd, l->qh + 2 * hd, N, NH, Lt, l->hy, l->rand,
                                     &l->hws))
            return -1;
        from_heads(l->o, l->oh, N, Lt, D, NH, 1);
    }
    for (int n = 0; n < N && !l->hy; n++) {
        const float *q = l->qkv + (size_t)n * Lt * 3 * D;
        if (attn == 0)
            xt_channel_attention_forward(l->o + (size_t)n * Lt * D, D, l->p + (size_t)n * D * Lt * Lt, q, q + D, q + 2 * D,
                                         3 * D, Lt, D, NULL);
        else {
            int hs = D / NH;
            for (int h = 0; h < NH; h++)
                xt_attention_forward(l->o + (size_t)n * Lt * D + h * hs, D, l->p + ((size_t)n * NH + h) * Lt * Lt,
                                     q + h * hs, 3 * D, q + D + h * hs, 3 * D, q + 2 * D + h * hs, 3 * D, Lt, hs,
                                     1.0f / sqrtf((float)hs), causal, NULL);
        }
    }
    xt_linear_forward(l->x1, l->o, xt_pw(P, l->projw), xt_pw(P, l->projb), T, D, D); // attn output
    int64_t sh[3] = {N, Lt, D};
    if (name) xt_tap_emitf(tap, l->x1, 3, sh, "%s.attn", name);
    for (size_t j = 0; j < (size_t)T * D; j++) l->x1[j] += l->xin[j];
    xt_rmsnorm_forward(l->h2, l->rstd2, l->x1, xt_pw(P, l->postw), T, D, 1e-5f);
    xt_gated_mlp_forward(x, l->g, l->u, l->mm, l->h2, xt_pw(P, l->gw), xt_pw(P, l->uw), xt_pw(P, l->dw), T, D, F);
    for (size_t j = 0; j < (size_t)T * D; j++) x[j] += l->x1[j];
    if (name) xt_tap_emit(tap, name, x, 3, (int64_t)N, (int64_t)Lt, (int64_t)D);
    return 0;
}

size_t xt_llm_train_scratch_floats(const xt_llm_train_layer *l, int N, int Lt, int D, int F) {
    size_t T = (size_t)N * Lt;
    size_t att = (size_t)Lt * Lt; // the stored-probability path's score rows
    if (l && l->hy) att = 4 * T * D + xt_hyper_backward_ws_size(l->hy, N, D / l->hy->HS, Lt) / sizeof(float) + 16;
    return 3 * T * D + T * 3 * D + 2 * T * F + att + 16 * 8;
}

void xt_llm_train_backward(xt_llm_train_layer *l, xt_params *P, float *dx, int N, int Lt, int D, int F, int attn, int NH,
                           xt_arena *scr) {
    const int T = N * Lt;
    size_t mark = xt_arena_mark(scr);
    float *t1 = xt_arena_f32(scr, (size_t)T * D), *t2 = xt_arena_f32(scr, (size_t)T * D);
    float *t3 = xt_arena_f32(scr, (size_t)T * D), *dq = xt_arena_f32(scr, (size_t)T * 3 * D);
    size_t lt2 = l->hy ? 0 : (size_t)Lt * Lt;
    float *gs = xt_arena_f32(scr, 2 * (size_t)T * F > lt2 ? 2 * (size_t)T * F : lt2);
    // out = x1 + mlp(RMSNorm2(x1))
    xt_gated_mlp_backward(t1, xt_pg(P, l->gw), xt_pg(P, l->uw), xt_pg(P, l->dw), dx, l->h2, l->g, l->u, l->mm,
                          xt_pw(P, l->gw), xt_pw(P, l->uw), xt_pw(P, l->dw), T, D, F, gs);
    xt_rmsnorm_backward(t2, xt_pg(P, l->postw), t1, l->x1, xt_pw(P, l->postw), l->rstd2, T, D);
    for (size_t j = 0; j < (size_t)T * D; j++) dx[j] += t2[j];
    // x1 = xin + proj(attn(qkv(RMSNorm1(xin))))
    xt_linear_backward(t1, xt_pg(P, l->projw), xt_pg(P, l->projb), dx, l->o, xt_pw(P, l->projw), T, D, D);
    if (l->hy) { // through the head-major layout of the forward
        size_t hd = (size_t)T * D, m2 = xt_arena_mark(scr);
        float *doh = xt_arena_f32(scr, hd), *dqh = xt_arena_f32(scr, 3 * hd);
        to_heads(doh, t1, N, Lt, D, NH, 1);
        int rc = xt_hyper_attention_backward(dqh, dqh + hd, dqh + 2 * hd, doh, l->qh, l->qh + hd, l->qh + 2 * hd, l->hy,
                                             &l->rec, scr);
        XT_ASSERT(rc == 0); // scratch sized by xt_llm_train_scratch_floats
        from_heads(dq, dqh, N, Lt, D, NH, 3);
        xt_arena_release(scr, m2);
    }
    for (int n = 0; n < N && !l->hy; n++) {
        const float *q = l->qkv + (size_t)n * Lt * 3 * D;
        float *dqn = dq + (size_t)n * Lt * 3 * D, *don = t1 + (size_t)n * Lt * D;
        if (attn == 0)
            xt_channel_attention_backward(dqn, don, l->p + (size_t)n * D * Lt * Lt, q, Lt, D);
        else {
            int hs = D / NH;
            for (int h = 0; h < NH; h++)
                xt_attention_backward(dqn + h * hs, dqn + D + h * hs, dqn + 2 * D + h * hs, 3 * D, gs, don + h * hs, D,
                                      l->p + ((size_t)n * NH + h) * Lt * Lt, q + h * hs, q + D + h * hs, q + 2 * D + h * hs,
                                      3 * D, Lt, hs, 1.0f / sqrtf((float)hs));
        }
    }
    xt_linear_backward(t3, xt_pg(P, l->qkvw), l->qkvb >= 0 ? xt_pg(P, l->qkvb) : NULL, dq, l->h, xt_pw(P, l->qkvw), T, D,
                       3 * D);
    xt_rmsnorm_backward(t2, xt_pg(P, l->inw), t3, l->xin, xt_pw(P, l->inw), l->rstd1, T, D);
    for (size_t j = 0; j < (size_t)T * D; j++) dx[j] += t2[j];
    xt_arena_release(scr, mark);
}
