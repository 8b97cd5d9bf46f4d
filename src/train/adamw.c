// adamw.c — torch.optim.AdamW (decoupled weight decay, bias correction) and global-norm gradient
// clipping (torch.nn.utils.clip_grad_norm_), over the flat parameter set.
#include <math.h>

#include "train/train.h"

// ref: torch/optim/adamw.py _single_tensor_adamw (torch 1.13)
void xt_adamw_step(xt_params *P, const xt_adamw_cfg *c) {
    P->step++;
    double bc1 = 1.0 - pow(c->beta1, (double)P->step), bc2 = 1.0 - pow(c->beta2, (double)P->step);
    float step_size = (float)(c->lr / bc1), bc2s = (float)sqrt(bc2);
    float b1 = c->beta1, b2 = c->beta2, decay = 1.0f - c->lr * c->weight_decay;
    for (int i = 0; i < P->n; i++) {
        float *w = xt_pw(P, i), *g = xt_pg(P, i), *m = P->m + P->p[i].off, *v = P->v + P->p[i].off;
        size_t n = P->p[i].n;
        int dec = P->p[i].decay && c->weight_decay != 0;
        for (size_t j = 0; j < n; j++) {
            if (dec) w[j] *= decay; // param.mul_(1 - lr * weight_decay)
            m[j] = m[j] * b1 + g[j] * (1.0f - b1);
            v[j] = v[j] * b2 + g[j] * g[j] * (1.0f - b2);
            float denom = sqrtf(v[j]) / bc2s + c->eps;
            w[j] -= step_size * (m[j] / denom);
        }
    }
}

// ref: torch/nn/utils/clip_grad.py clip_grad_norm_ (norm_type 2)
double xt_clip_grad_norm(xt_params *P, double max_norm) {
    double ss = 0;
    for (int i = 0; i < P->n; i++) {
        const float *g = xt_pg(P, i);
        for (size_t j = 0; j < P->p[i].n; j++) ss += (double)g[j] * g[j];
    }
    double norm = sqrt(ss);
    if (max_norm > 0) {
        double coef = max_norm / (norm + 1e-6);
        if (coef < 1.0)
            for (int i = 0; i < P->n; i++) {
                float *g = xt_pg(P, i);
                for (size_t j = 0; j < P->p[i].n; j++) g[j] *= (float)coef;
            }
    }
    return norm;
}
