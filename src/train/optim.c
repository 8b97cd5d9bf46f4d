// optim.c — the official trainer's optimisers over the flat parameter set: torch.optim.SGD
// (momentum, Nesterov, L2 weight decay), torch.optim.Adam (L2 weight decay) and
// torch.optim.AdamW (decoupled weight decay), each with torch's bias correction and per-parameter
// state; global-norm gradient clipping (torch.nn.utils.clip_grad_norm_).
//
// Per-parameter state as torch keeps it: a parameter that gets no gradient at a step (the
// official freeze_epochs sets requires_grad False on the encoder, so its .grad stays None) is
// skipped whole — no decay, no moment update, no step count — so when it starts training its
// Adam bias correction starts at step 1 and its SGD momentum buffer is initialised from its first
// gradient (P->p[i].step counts its own updates; P->step counts optimiser calls).
#include <math.h>
#include <string.h>
#include <strings.h>

#include "train/train.h"

static const char *const names[XT_OPTIM_COUNT] = {"sgd", "adam", "adamw"};

const char *xt_optim_name(xt_optim_kind k) { return k >= 0 && k < XT_OPTIM_COUNT ? names[k] : "?"; }

int xt_optim_parse_name(const char *s, xt_optim_kind *k) {
    for (int i = 0; i < XT_OPTIM_COUNT; i++)
        if (s && !strcasecmp(s, names[i])) { *k = (xt_optim_kind)i; return 0; } // official: str.lower(name)
    return xt_error("optimizer", "unknown optimizer '%s' (sgd, adam or adamw)", s ? s : "");
}

void xt_optim_default(xt_optim_cfg *c) {
    // xt's JSON default is AdamW (what xt always trained with); the other values are the
    // official OptimizerConfig's defaults
    *c = (xt_optim_cfg){.kind = XT_OPTIM_ADAMW, .momentum = 0.9, .nesterov = 1, .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8,
                        .weight_decay = 1e-4};
}

int xt_optim_check(const xt_optim_cfg *c) {
    if (c->kind < 0 || c->kind >= XT_OPTIM_COUNT) return xt_error("optimizer", "unknown optimizer kind %d", (int)c->kind);
    if (!(c->momentum >= 0 && c->momentum < 1)) return xt_error("optimizer", "momentum %g must be in [0, 1)", c->momentum);
    if (c->kind == XT_OPTIM_SGD && c->nesterov && c->momentum == 0) // torch.optim.SGD's own check
        return xt_error("optimizer", "nesterov momentum requires momentum > 0 (momentum 0, nesterov true)");
    if (!(c->beta1 >= 0 && c->beta1 < 1) || !(c->beta2 >= 0 && c->beta2 < 1))
        return xt_error("optimizer", "betas (%g, %g) must be in [0, 1)", c->beta1, c->beta2);
    if (!(c->eps >= 0) || !isfinite(c->eps)) return xt_error("optimizer", "eps %g must be >= 0", c->eps);
    if (!(c->weight_decay >= 0) || !isfinite(c->weight_decay))
        return xt_error("optimizer", "weight_decay %g must be >= 0", c->weight_decay);
    return 0;
}

// official create_optimizer with classifier_ratio != 1: a parameter whose name holds "backbone"
// is a "net" parameter (base lr), every other one a "classifier" parameter (lr * ratio). xT's
// parameters are named encoder.* / decoder.* (module.* under DDP), so none is "net": the ratio
// scales every parameter's lr (while eta_min stays lr * min_lr_ratio).
int xt_optim_is_classifier(const char *name) { return strstr(name, "backbone") == NULL; }

// ref: torch/optim/sgd.py _single_tensor_sgd (torch 1.13; dampening 0, maximize false)
static void sgd(float *w, const float *g, float *buf, size_t n, int first, float lr, float wd, float mom, int nesterov) {
    for (size_t j = 0; j < n; j++) {
        float d = g[j];
        if (wd != 0) d = d + wd * w[j]; // d_p = d_p.add(param, alpha=weight_decay)
        if (mom != 0) {
            buf[j] = first ? d : buf[j] * mom + d; // buf = clone(d_p) | buf.mul_(momentum).add_(d_p)
            d = nesterov ? d + mom * buf[j] : buf[j];
        }
        w[j] = w[j] + lr * d; // param.add_(d_p, alpha=-lr), lr negated by the caller
    }
}

// ref: torch/optim/adam.py and adamw.py _single_tensor_adam(w) (torch 1.13, amsgrad false)
static void adam(float *w, const float *g, float *m, float *v, size_t n, int64_t step, double lr, const xt_optim_cfg *c,
                 double wd, int decoupled) {
    // the scalars are rounded to float first, as xt's AdamW always did (torch rounds some of
    // them from double instead: <= 1 ulp apart, measured in tests/test_train_optimizers.c), so
    // runs and models trained before SGD / Adam were added reproduce bit for bit
    float b1 = (float)c->beta1, b2 = (float)c->beta2, lrf = (float)lr, wdf = (float)wd, eps = (float)c->eps;
    double bc1 = 1.0 - pow(b1, (double)step), bc2 = 1.0 - pow(b2, (double)step);
    float step_size = (float)(lrf / bc1), bc2s = (float)sqrt(bc2);
    float a1 = 1.0f - b1, a2 = 1.0f - b2, decay = 1.0f - lrf * wdf, l2 = wdf;
    for (size_t j = 0; j < n; j++) {
        float gj = g[j];
        if (wd != 0) {
            if (decoupled) w[j] *= decay; // AdamW: param.mul_(1 - lr * weight_decay)
            else gj = gj + l2 * w[j];     // Adam: grad = grad.add(param, alpha=weight_decay)
        }
        m[j] = m[j] * b1 + gj * a1;
        v[j] = v[j] * b2 + gj * gj * a2;
        float denom = sqrtf(v[j]) / bc2s + eps;
        w[j] -= step_size * (m[j] / denom);
    }
}

void xt_optim_step(xt_params *P, const xt_optim_cfg *c, const double *lr, double lr_all, const unsigned char *skip) {
    P->step++;
    for (int i = 0; i < P->n; i++) {
        if (skip && skip[i]) continue;
        xt_param *p = &P->p[i];
        float *w = xt_pw(P, i), *g = xt_pg(P, i), *m = P->m + p->off, *v = P->v + p->off;
        double l = lr ? lr[i] : lr_all, wd = p->decay ? c->weight_decay : 0.0;
        p->step++;
        if (c->kind == XT_OPTIM_SGD)
            sgd(w, g, m, p->n, p->step == 1, (float)-l, (float)wd, (float)c->momentum, c->nesterov);
        else adam(w, g, m, v, p->n, p->step, l, c, wd, c->kind == XT_OPTIM_ADAMW);
    }
}

void xt_adamw_step(xt_params *P, const xt_adamw_cfg *c) {
    xt_optim_cfg o = {.kind = XT_OPTIM_ADAMW, .beta1 = c->beta1, .beta2 = c->beta2, .eps = c->eps, .weight_decay = c->weight_decay};
    xt_optim_step(P, &o, NULL, c->lr, NULL);
}

// ref: torch/nn/utils/clip_grad.py clip_grad_norm_ (norm_type 2). skip (may be NULL): parameters
// without a gradient this step (frozen), left out of the norm as torch leaves out .grad None.
double xt_clip_grad_norm(xt_params *P, double max_norm) { return xt_clip_grad_norm_skip(P, max_norm, NULL); }

double xt_clip_grad_norm_skip(xt_params *P, double max_norm, const unsigned char *skip) {
    double ss = 0;
    for (int i = 0; i < P->n; i++) {
        if (skip && skip[i]) continue;
        const float *g = xt_pg(P, i);
        for (size_t j = 0; j < P->p[i].n; j++) ss += (double)g[j] * g[j];
    }
    double norm = sqrt(ss);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0)
            for (int i = 0; i < P->n; i++) {
                if (skip && skip[i]) continue;
                float *g = xt_pg(P, i);
                for (size_t j = 0; j < P->p[i].n; j++) g[j] *= (float)coef;
            }
    }
    return norm;
}
