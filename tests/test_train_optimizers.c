// test_train_optimizers.c — SGD (momentum, Nesterov), Adam and AdamW against torch.optim over 6
// steps with the official param groups, classifier_ratio and freeze_epochs
// (tests/ref/optim_ref.safetensors from tools/gen_ref_optim.py); the two-group cosine schedule;
// option checks; per-parameter steps through a checkpoint (and an older checkpoint without them).
#include <stdarg.h>

#include "check.h"
#include "train/train.h"

static xt_st *st;
static const float *T(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static const float *T(const char *fmt, ...) {
    char nm[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(nm, sizeof nm, fmt, ap);
    va_end(ap);
    const float *p = xt_st_f32(st, nm, NULL);
    if (!p) { fprintf(stderr, "missing %s\n", nm); exit(1); }
    return p;
}

static const char *NAMES[4] = {"encoder.model.proj.weight", "encoder.model.proj.bias", "decoder.backbone_head.weight", "decoder.cls.weight"};
static const int64_t SH[4][2] = {{4, 3}, {5, 1}, {3, 2}, {2, 3}};
static const int ND[4] = {2, 1, 2, 2};

typedef struct {
    const char *name;
    xt_optim_kind kind;
    double momentum;
    int nesterov;
    double b1, b2, eps, wd, ratio;
    int frozen;
} tcase;

static const tcase CASES[] = {
    {"sgd_nesterov", XT_OPTIM_SGD, 0.9, 1, 0.9, 0.999, 1e-8, 0.05, 1.0, 0},
    {"sgd_momentum", XT_OPTIM_SGD, 0.8, 0, 0.9, 0.999, 1e-8, 0.05, 1.0, 0},
    {"sgd_plain", XT_OPTIM_SGD, 0.0, 0, 0.9, 0.999, 1e-8, 0.0, 1.0, 0},
    {"adam", XT_OPTIM_ADAM, 0.9, 1, 0.8, 0.99, 1e-6, 0.05, 1.0, 0},
    {"adamw", XT_OPTIM_ADAMW, 0.9, 1, 0.85, 0.995, 1e-7, 0.05, 1.0, 0},
    {"adamw_ratio_freeze", XT_OPTIM_ADAMW, 0.9, 1, 0.9, 0.999, 1e-8, 0.05, 10.0, 2},
    {"sgd_ratio_freeze", XT_OPTIM_SGD, 0.9, 1, 0.9, 0.999, 1e-8, 0.05, 0.1, 2},
    {"adam_freeze", XT_OPTIM_ADAM, 0.9, 1, 0.9, 0.999, 1e-8, 0.05, 1.0, 3},
};

static void setup(xt_params *P) {
    memset(P, 0, sizeof *P);
    for (int i = 0; i < 4; i++) xt_params_add(P, NAMES[i], ND[i], SH[i]);
    XT_ASSERT(xt_params_alloc(P) == 0);
    for (int i = 0; i < 4; i++) memcpy(xt_pw(P, i), T("w.%s", NAMES[i]), P->p[i].n * sizeof(float));
}

// steps s0..s1-1 of case c on P; worst relative error into *worst
static void run(xt_params *P, const tcase *c, int s0, int s1, double *worst) {
    xt_optim_cfg oc = {.kind = c->kind, .momentum = c->momentum, .nesterov = c->nesterov, .beta1 = c->b1, .beta2 = c->b2,
                       .eps = c->eps, .weight_decay = c->wd};
    CHECK(xt_optim_check(&oc) == 0);
    unsigned char enc[4];
    for (int i = 0; i < 4; i++) enc[i] = !strncmp(NAMES[i], "encoder.", 8);
    for (int s = s0; s < s1; s++) {
        double base = T("%s.lr", c->name)[s], lr[4];
        for (int i = 0; i < 4; i++) {
            memcpy(xt_pg(P, i), T("%s.g.%s.%d", c->name, NAMES[i], s), P->p[i].n * sizeof(float));
            // the reference sets each group's lr to base x its multiplier (the schedule is tested below)
            lr[i] = c->ratio != 1 && xt_optim_is_classifier(NAMES[i]) ? base * c->ratio : base;
        }
        xt_optim_step(P, &oc, lr, 0, s < c->frozen ? enc : NULL);
        for (int i = 0; i < 4; i++) {
            const float *r = T("%s.w.%s.%d", c->name, NAMES[i], s);
            char label[160];
            snprintf(label, sizeof label, "%s step %d %s", c->name, s, NAMES[i]);
            // tolerance: 1e-6 x max(1, max|ref|) (float32 rounding over 6 steps)
            CHECK_CLOSE(xt_pw(P, i), r, (long)P->p[i].n, 0, 1e-6, label);
            for (size_t j = 0; j < P->p[i].n; j++) {
                double e = fabs((double)xt_pw(P, i)[j] - r[j]) / fmax(1.0, fabs(r[j]));
                if (e > *worst) *worst = e;
            }
        }
    }
}

int main(void) {
    st = xt_st_open("tests/ref/optim_ref.safetensors");
    CHECK(st != NULL);
    if (!st) return check_summary("train_optimizers");
    char tmp[] = "/tmp/xt_optim_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);

    // the official groups: "bias" -> no decay; "backbone" -> net (base lr), else classifier
    CHECK(xt_optim_is_classifier("encoder.model.layers_0.blocks.0.attn.qkv.weight"));
    CHECK(xt_optim_is_classifier("decoder.cls.0.weight"));
    CHECK(!xt_optim_is_classifier("decoder.backbone_head.weight"));

    for (size_t k = 0; k < sizeof CASES / sizeof *CASES; k++) {
        const tcase *c = &CASES[k];
        xt_params P;
        setup(&P);
        double worst = 0;
        run(&P, c, 0, 6, &worst);
        CHECK(P.step == 6);
        for (int i = 0; i < 4; i++) CHECK(P.p[i].step == (!strncmp(NAMES[i], "encoder.", 8) ? 6 - c->frozen : 6));
        printf("%-20s worst |xt - torch| / max(1, |torch|) over 6 steps: %.2e\n", c->name, worst);
        xt_params_free(&P);

        // resume through a checkpoint after step 1 (inside the frozen steps for the freeze cases,
        // so per-parameter steps and momentum buffers must survive it)
        setup(&P);
        double w2 = 0;
        run(&P, c, 0, 2, &w2);
        char path[256];
        snprintf(path, sizeof path, "%s/%s.safetensors", tmp, c->name);
        CHECK(xt_train_ckpt_save(&P, path, NULL, NULL, 1) == 0);
        xt_params Q;
        memset(&Q, 0, sizeof Q);
        for (int i = 0; i < 4; i++) xt_params_add(&Q, NAMES[i], ND[i], SH[i]);
        CHECK(xt_params_alloc(&Q) == 0);
        xt_st *ck = xt_st_open(path);
        CHECK(ck && xt_train_ckpt_load(&Q, ck, 1) == 0);
        xt_st_close(ck);
        CHECK(Q.step == 2);
        for (int i = 0; i < 4; i++) CHECK(Q.p[i].step == P.p[i].step);
        run(&Q, c, 2, 6, &w2);
        xt_params_free(&Q);
        xt_params_free(&P);
    }

    // an older checkpoint (no optim.param_step): every parameter took optim.step steps
    {
        xt_params P;
        setup(&P);
        P.step = 3;
        char path[256];
        snprintf(path, sizeof path, "%s/old.safetensors", tmp);
        xt_st_writer *w = xt_st_writer_new();
        char nm[128];
        for (int i = 0; i < 4; i++) {
            xt_st_writer_add(w, NAMES[i], xt_pw(&P, i), ND[i], SH[i]);
            snprintf(nm, sizeof nm, "optim.exp_avg.%s", NAMES[i]);
            xt_st_writer_add(w, nm, P.m + P.p[i].off, ND[i], SH[i]);
            snprintf(nm, sizeof nm, "optim.exp_avg_sq.%s", NAMES[i]);
            xt_st_writer_add(w, nm, P.v + P.p[i].off, ND[i], SH[i]);
        }
        float three = 3;
        int64_t one = 1;
        xt_st_writer_add(w, "optim.step", &three, 1, &one);
        CHECK(xt_st_writer_save(w, path) == 0);
        xt_params_free(&P);
        setup(&P);
        xt_st *ck = xt_st_open(path);
        CHECK(ck && xt_train_ckpt_load(&P, ck, 1) == 0);
        xt_st_close(ck);
        CHECK(P.step == 3);
        for (int i = 0; i < 4; i++) CHECK(P.p[i].step == 3);
        xt_params_free(&P);
    }

    // CosineAnnealingLR with two groups (torch, T_max 12): the classifier group (lr x 10) anneals to
    // the same absolute eta_min (lr x 0.01) as the net group (1e-12 relative)
    {
        float gc[12], gn[12];
        for (int s = 0; s < 12; s++) {
            gc[s] = (float)xt_lr_at_eta(s, 1e-3 * 10, 1e-3 * 0.01, 0, 12);
            gn[s] = (float)xt_lr_at(s, 1e-3, 0.01, 0, 12);
        }
        CHECK_CLOSE(gc, T("cos.lr_c"), 12, 1e-9, 0, "cosine, classifier group");
        CHECK_CLOSE(gn, T("cos.lr_n"), 12, 1e-9, 0, "cosine, net group");
    }

    // option checks: clear errors
    xt_optim_cfg c;
    xt_optim_default(&c);
    CHECK(c.kind == XT_OPTIM_ADAMW && xt_optim_check(&c) == 0);
    c.momentum = -0.1;
    CHECK(xt_optim_check(&c) == -1 && strstr(xt_error_buffer(), "momentum -0.1 must be in [0, 1)"));
    xt_optim_default(&c);
    c.kind = XT_OPTIM_SGD, c.momentum = 0, c.nesterov = 1;
    CHECK(xt_optim_check(&c) == -1 && strstr(xt_error_buffer(), "nesterov momentum requires momentum > 0"));
    xt_optim_default(&c);
    c.beta2 = 1.0;
    CHECK(xt_optim_check(&c) == -1 && strstr(xt_error_buffer(), "betas"));
    xt_optim_kind k;
    CHECK(xt_optim_parse_name("SGD", &k) == 0 && k == XT_OPTIM_SGD);
    CHECK(xt_optim_parse_name("Adam", &k) == 0 && k == XT_OPTIM_ADAM);
    CHECK(xt_optim_parse_name("lamb", &k) == -1 && strstr(xt_error_buffer(), "unknown optimizer 'lamb' (sgd, adam or adamw)"));

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
    xt_st_close(st);
    return check_summary("train_optimizers");
}
