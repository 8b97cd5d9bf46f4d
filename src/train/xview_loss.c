// xview_loss.c — the xView3 dense model's training loss (official gigaformer/losses.py as built
// by build_losses from the *_xl_* yaml) and its gradient: total = w0 Combo(vessel) +
// w1 Combo(fishing) + w2 Center + w3 Length (official 1, 2, 3e-7, 2), float32 maps, sums in
// double. Semantics and bug 22: tests/golden/README.md, "xView3 dense prediction files", Losses.
#include <math.h>
#include <string.h>

#include "train/train.h"

const xt_xview_loss_cfg xt_xview_loss_official = {{1.0f, 2.0f, 3e-7f, 2.0f}, {{1.0f, 3.0f, 1.0f}, {1.0f, 3.0f, 1.0f}}, 0};

// Combo(o, t) over the pixels with t < 200 (255 = ignore): wb BCEWithLogits(mean) + wf Focal +
// wd Dice; Focal = mean((1 - e^-b)^2 b) with b the per-pixel BCE (gradient through both
// factors); Dice = 1 - (2 sum st + 1e-5) / (sum s + sum t + 1e-5), s = sigmoid(o), or the constant 0
// (no gradient) when that denominator is < 5. g[i] = scale x d total / d o[i] (0 where ignored).
static double combo(float *g, const float *o, const float *t, size_t n, const float *w, float scale, double *parts) {
    size_t M = 0;
    double sb = 0, sf = 0, sst = 0, ss = 0, stt = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(t[i] < 200)) continue;
        double x = o[i], y = t[i];
        double b = fmax(x, 0) - x * y + log1p(exp(-fabs(x)));
        double e = exp(-b), s = 1 / (1 + exp(-x));
        sb += b, sf += (1 - e) * (1 - e) * b;
        sst += s * y, ss += s, stt += y;
        M++;
    }
    double bce = M ? sb / M : NAN, focal = M ? sf / M : NAN;
    double den = ss + stt + 1e-5, dice = den < 5 ? 0 : 1 - (2 * sst + 1e-5) / den;
    parts[0] = bce, parts[1] = focal, parts[2] = dice;
    if (g)
        for (size_t i = 0; i < n; i++) {
            if (!(t[i] < 200) || !M) { g[i] = 0; continue; }
            double x = o[i], y = t[i];
            double b = fmax(x, 0) - x * y + log1p(exp(-fabs(x)));
            double e = exp(-b), s = 1 / (1 + exp(-x)), db = s - y; // d b / d o
            double dfocal = (2 * (1 - e) * e * b + (1 - e) * (1 - e)) * db;
            double d = (w[0] * db + w[1] * dfocal) / M;
            if (den >= 5) d += w[2] * -(2 * y * den - (2 * sst + 1e-5)) / (den * den) * s * (1 - s);
            g[i] = (float)(scale * d);
        }
    return w[0] * bce + w[1] * focal + w[2] * dice;
}

int xt_xview_combo_parse(const xt_json *j, const char *what, float k[3]) {
    static const char *kn[3] = {"bce", "focal", "dice"};
    for (int i = 0; i < 3; i++) {
        double v;
        if (xt_json_num(j, kn[i], k[i], &v)) return xt_error_prefix(what);
        if (!(v >= 0 && v <= 1e6)) return xt_error(what, "%s %g must be in [0, 1e6]", kn[i], v);
        k[i] = (float)v;
    }
    return 0;
}

// Center: m = (p - t)^2 over all pixels (t >= 0 everywhere); sum of m over m > 0.1 if any, else mean(m).
static double center(float *g, const float *p, const float *t, size_t n, float scale) {
    size_t above = 0;
    double sa = 0, sall = 0;
    for (size_t i = 0; i < n; i++) {
        float d = p[i] - t[i], m = d * d;
        sall += m;
        if (m > 0.1f) sa += m, above++;
    }
    if (g)
        for (size_t i = 0; i < n; i++) {
            float d = p[i] - t[i], m = d * d;
            g[i] = above ? (m > 0.1f ? (float)(scale * 2.0 * d) : 0.0f) : (float)(scale * 2.0 * d / n);
        }
    return above ? sa : sall / n;
}

// Length: mean(|p - t| / t) over t > 0; 0 x mean(p) (zero gradient) when no t >= 0; NaN when some
// t >= 0 but none > 0 (bug 22: the official code tests >= 0 and averages over > 0).
static double length(float *g, const float *p, const float *t, size_t n, float scale) {
    size_t pos = 0, nonneg = 0;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        if (t[i] >= 0) nonneg++;
        if (t[i] > 0) s += fabs((double)p[i] - t[i]) / t[i], pos++;
    }
    if (g)
        for (size_t i = 0; i < n; i++) {
            float d = p[i] - t[i];
            g[i] = t[i] > 0 && pos ? (float)(scale * (d > 0 ? 1.0 : d < 0 ? -1.0 : 0.0) / t[i] / pos) : nonneg && !pos ? NAN : 0.0f;
        }
    if (!nonneg) return 0;
    return pos ? s / pos : NAN;
}

double xt_xview_loss(const xt_xview_loss_cfg *c, const float *const *out, const float *const *tgt, size_t n,
                     float *const *dout, xt_xview_loss_terms *terms) {
    if (!c) c = &xt_xview_loss_official;
    xt_xview_loss_terms T;
    double p[3];
    T.combo[0] = combo(dout ? dout[0] : NULL, out[0], tgt[0], n, c->combo[0], c->w[0], p);
    memcpy(T.parts[0], p, sizeof p);
    T.combo[1] = combo(dout ? dout[1] : NULL, out[1], tgt[1], n, c->combo[1], c->w[1], p);
    if (c->fishing_on_vessels && isnan(p[0])) // a crop without vessels has no fishing pixel: no term
        T.combo[1] = 0, p[0] = p[1] = p[2] = 0;
    memcpy(T.parts[1], p, sizeof p);
    T.center = center(dout ? dout[2] : NULL, out[2], tgt[2], n, c->w[2]);
    T.length = length(dout ? dout[3] : NULL, out[3], tgt[3], n, c->w[3]);
    T.total = c->w[0] * T.combo[0] + c->w[1] * T.combo[1] + c->w[2] * T.center + c->w[3] * T.length;
    if (terms) *terms = T;
    return T.total;
}
