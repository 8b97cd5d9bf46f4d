// checkpoint.c — fresh initialisation and training checkpoints (model files + optimiser state).
#include <math.h>
#include <string.h>

#include "train.h"

static int ends(const char *s, const char *suf) {
    size_t a = strlen(s), b = strlen(suf);
    return a >= b && !strcmp(s + a - b, suf);
}

void xt_params_init(xt_params *P, uint64_t seed) {
    for (int i = 0; i < P->n; i++) {
        const xt_param *p = &P->p[i];
        float *w = xt_pw(P, i);
        uint64_t r = xt_rng_mix(seed ^ xt_rng_mix((uint64_t)i + 1));
        size_t fan_in = p->shape[0] ? p->n / (size_t)p->shape[0] : 1;
        for (size_t j = 0; j < p->n; j++) {
            double v;
            if (ends(p->name, "logit_scale")) v = log(10.0);
            else if (ends(p->name, "A_log")) v = log((double)(j % (size_t)p->shape[1]) + 1.0);
            else if (ends(p->name, "mixer.D")) v = 1.0;
            else if (ends(p->name, "dt_proj.bias")) {
                double dt = exp(xt_rng_u01(&r) * (log(0.1) - log(1e-3)) + log(1e-3));
                v = dt + log(-expm1(-dt)); // softplus^-1
            } else if (ends(p->name, "cls_token")) v = 0.02 * xt_rng_normal(&r);
            else if (p->ndim == 1 || (p->ndim == 3 && p->shape[1] == 1 && p->shape[2] == 1))
                v = strstr(p->name, "bias") ? 0.0 : 1.0;
            else v = xt_rng_normal(&r) / sqrt((double)fan_in);
            w[j] = (float)v;
        }
    }
}

int xt_train_ckpt_save(const xt_params *P, const char *path, const char *config_json, const char *train_state, int optim) {
    xt_st_writer *w = xt_st_writer_new();
    if (config_json) xt_st_writer_meta(w, "config", config_json);
    if (train_state) xt_st_writer_meta(w, "train_state", train_state);
    xt_st_writer_meta(w, "generator", "xt train");
    char nm[220];
    for (int i = 0; i < P->n; i++) xt_st_writer_add(w, P->p[i].name, xt_pw(P, i), P->p[i].ndim, P->p[i].shape);
    if (optim) {
        for (int i = 0; i < P->n; i++) {
            snprintf(nm, sizeof nm, "optim.exp_avg.%s", P->p[i].name);
            xt_st_writer_add(w, nm, P->m + P->p[i].off, P->p[i].ndim, P->p[i].shape);
            snprintf(nm, sizeof nm, "optim.exp_avg_sq.%s", P->p[i].name);
            xt_st_writer_add(w, nm, P->v + P->p[i].off, P->p[i].ndim, P->p[i].shape);
        }
        float step = (float)P->step; // exact below 2^24 steps
        int64_t one = 1;
        xt_st_writer_add(w, "optim.step", &step, 1, &one);
    }
    return xt_st_writer_save(w, path);
}

int xt_train_ckpt_load(xt_params *P, xt_st *st, int optim) {
    if (xt_params_load(P, st)) return -1;
    if (!optim || !xt_st_find(st, "optim.step")) return 0;
    for (int i = 0; i < P->n; i++) {
        const float *m = xt_st_weightf(st, P->p[i].ndim, P->p[i].shape, "optim.exp_avg.%s", P->p[i].name);
        const float *v = xt_st_weightf(st, P->p[i].ndim, P->p[i].shape, "optim.exp_avg_sq.%s", P->p[i].name);
        if (!m || !v) return -1;
        memcpy(P->m + P->p[i].off, m, P->p[i].n * sizeof(float));
        memcpy(P->v + P->p[i].off, v, P->p[i].n * sizeof(float));
    }
    const float *s = xt_st_weight(st, "optim.step", 1, (int64_t)1);
    if (!s || !(*s >= 0 && *s < 16777216.0f)) return xt_error("ckpt", "%s: bad optim.step", st->path);
    P->step = (int64_t)*s;
    return 0;
}
