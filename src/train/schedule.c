// schedule.c — learning rate per step, as the official trainer builds it (xt/optimizer.py):
// GradualWarmupScheduler(multiplier=1, total_epoch=warmup) around
// CosineAnnealingLR(T_max=epochs*loader_len, eta_min=lr*min_lr_ratio), stepped every step.
#include <math.h>

#include "train/train.h"

double xt_lr_at_eta(int64_t s, double base, double eta_min, int64_t warmup, int64_t total) {
    if (s < warmup) return base * (double)s / (double)warmup; // warm-up starts at 0
    double t = (double)(s - warmup), T = total > 0 ? (double)total : 1.0;
    return eta_min + 0.5 * (base - eta_min) * (1.0 + cos(M_PI * t / T));
}

double xt_lr_at(int64_t s, double base, double min_ratio, int64_t warmup, int64_t total) {
    return xt_lr_at_eta(s, base, base * min_ratio, warmup, total);
}
