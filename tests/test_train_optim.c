// test_train_optim.c — loss, AdamW, clipping and the lr schedule against torch
// (tests/ref/grad_optim.safetensors from tools/gen_ref_grad.py), plus a finite-difference check
// of the loss gradient and the parameter set's layout and decay rule.
#include "check.h"
#include "fd.h"
#include "train/train.h"

static xt_st *st;
static const float *T(const char *name) {
    const float *p = xt_st_f32(st, name, NULL);
    if (!p) { fprintf(stderr, "missing %s\n", name); exit(1); }
    return p;
}

static float LG[30];
static int LB[3];
static double f_loss(void) { return xt_lsce_loss(NULL, LG, LB, 3, 10, 0.3f); }

int main(void) {
    st = xt_st_open("tests/ref/grad_optim.safetensors");
    CHECK(st != NULL);
    if (!st) return check_summary("train_optim");

    // label-smoothed CE, smoothing 0.3 (tolerance: 1e-6 abs on the loss, 1e-6 on dlogits)
    memcpy(LG, T("lsce.logits"), sizeof LG);
    for (int b = 0; b < 3; b++) LB[b] = (int)T("lsce.label")[b];
    float dl[30];
    float loss = (float)xt_lsce_loss(dl, LG, LB, 3, 10, 0.3f);
    CHECK_CLOSE(&loss, T("lsce.loss"), 1, 1e-6, 0, "lsce loss");
    CHECK_CLOSE(dl, T("lsce.grad.logits"), 30, 1e-6, 0, "lsce dlogits");
    FD_CHECK(LG, 30, f_loss, dl, 1e-3, 1e-3, "lsce dlogits");

    // parameter set: layout, decay rule ("bias" in the name -> no decay)
    xt_params P = {0};
    int64_t s0[2] = {4, 3}, s1[1] = {5};
    int i0 = xt_params_add(&P, "layer.weight", 2, s0), i1 = xt_params_add(&P, "layer.q_bias", 1, s1);
    CHECK(xt_params_alloc(&P) == 0);
    CHECK(P.p[i0].decay == 1 && P.p[i1].decay == 0);
    CHECK(P.p[i1].off % 16 == 0 && P.p[i1].off >= 12);
    CHECK(xt_params_find(&P, "layer.q_bias") == i1 && xt_params_find(&P, "nope") == -1);

    // AdamW: 5 steps, lr changing every step, weight decay 0.05 on the weight only (1e-6 abs)
    memcpy(xt_pw(&P, i0), T("adamw.w0"), 12 * 4);
    memcpy(xt_pw(&P, i1), T("adamw.w1"), 5 * 4);
    xt_adamw_cfg c = {.lr = 1e-2f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .weight_decay = 0.05f};
    char nm[64];
    for (int s = 0; s < 5; s++) {
        snprintf(nm, sizeof nm, "adamw.g0.%d", s); memcpy(xt_pg(&P, i0), T(nm), 12 * 4);
        snprintf(nm, sizeof nm, "adamw.g1.%d", s); memcpy(xt_pg(&P, i1), T(nm), 5 * 4);
        c.lr = T("adamw.lrs")[s];
        xt_adamw_step(&P, &c);
        snprintf(nm, sizeof nm, "adamw.w0.%d", s); CHECK_CLOSE(xt_pw(&P, i0), T(nm), 12, 1e-6, 0, nm);
        snprintf(nm, sizeof nm, "adamw.w1.%d", s); CHECK_CLOSE(xt_pw(&P, i1), T(nm), 5, 1e-6, 0, nm);
    }
    CHECK(P.step == 5);

    // global-norm clipping to 1.0
    memcpy(xt_pg(&P, i0), T("clip.g0"), 12 * 4);
    memcpy(xt_pg(&P, i1), T("clip.g1"), 5 * 4);
    float norm = (float)xt_clip_grad_norm(&P, 1.0);
    CHECK_CLOSE(&norm, T("clip.norm"), 1, 1e-5, 0, "clip norm");
    CHECK_CLOSE(xt_pg(&P, i0), T("clip.out0"), 12, 1e-6, 0, "clip g0");
    CHECK_CLOSE(xt_pg(&P, i1), T("clip.out1"), 5, 1e-6, 0, "clip g1");
    CHECK(xt_clip_grad_norm(&P, 1.0) < 1.0 + 1e-5); // now within the bound: unchanged
    xt_params_free(&P);

    // schedule: 5 warm-up steps from 0, cosine to lr * 0.01 with T_max 20 (1e-12 relative)
    const float *ref = T("sched.lr");
    float got[20];
    for (int s = 0; s < 20; s++) got[s] = (float)xt_lr_at(s, 1e-3, 0.01, 5, 20);
    CHECK_CLOSE(got, ref, 20, 1e-9, 0, "schedule");
    xt_st_close(st);
    return check_summary("train_optim");
}
