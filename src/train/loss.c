// loss.c — label-smoothed cross-entropy (timm LabelSmoothingCrossEntropy, the official loss
// with smoothing 0.3 in every iNaturalist config) and its gradient.
#include <math.h>

#include "train/train.h"

// ref: timm/loss/cross_entropy.py LabelSmoothingCrossEntropy
double xt_lsce_loss(float *dlogits, const float *logits, const int *label, int B, int K, float smoothing) {
    double total = 0, conf = 1.0 - smoothing;
    for (int b = 0; b < B; b++) {
        const float *x = logits + (size_t)b * K;
        XT_ASSERT(label[b] >= 0 && label[b] < K);
        double mx = -INFINITY, s = 0, mean = 0;
        for (int k = 0; k < K; k++) mx = fmax(mx, x[k]);
        for (int k = 0; k < K; k++) s += exp(x[k] - mx);
        double lse = mx + log(s);
        for (int k = 0; k < K; k++) mean += lse - x[k];
        // loss_b = conf (-log p[label]) + smoothing mean_k(-log p_k)
        total += conf * (lse - x[label[b]]) + smoothing * mean / K;
        if (dlogits)
            for (int k = 0; k < K; k++) {
                double p = exp(x[k] - lse);
                dlogits[(size_t)b * K + k] = (float)((p - conf * (k == label[b]) - smoothing / K) / B);
            }
    }
    return total / B;
}

// ref: timm/loss/cross_entropy.py SoftTargetCrossEntropy: sum(-target * log_softmax(x)).mean()
double xt_soft_ce_loss(float *dlogits, const float *logits, const float *target, int B, int K) {
    double total = 0;
    for (int b = 0; b < B; b++) {
        const float *x = logits + (size_t)b * K, *t = target + (size_t)b * K;
        double mx = -INFINITY, s = 0, ts = 0;
        for (int k = 0; k < K; k++) mx = fmax(mx, x[k]);
        for (int k = 0; k < K; k++) s += exp(x[k] - mx);
        double lse = mx + log(s);
        for (int k = 0; k < K; k++) total += t[k] * (lse - x[k]), ts += t[k];
        // d/dx_k sum_j t_j (lse - x_j) = p_k sum_j t_j - t_k
        if (dlogits)
            for (int k = 0; k < K; k++) dlogits[(size_t)b * K + k] = (float)((exp(x[k] - lse) * ts - t[k]) / B);
    }
    return total / B;
}
