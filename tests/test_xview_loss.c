// test_xview_loss.c — the xView3 training loss (train/xview_loss.c): every term against the
// official values stored in tests/golden/xview_seg_grad.safetensors (computed by gigaformer's
// losses on the stored output maps; tolerance 1e-5 relative, the README's), and the gradient of
// the total against central finite differences on small random maps (h = 1e-3 in double-summed
// float32 losses, tol 2e-3 x max(1, max|grad|); Center's threshold and Length's |.| kinks are
// kept away from the probed pixels by construction).
#include "check.h"
#include "fd.h"
#include "formats/safetensors.h"
#include "train/train.h"

static const char *keys[4] = {"vessel_mask", "fishing_mask", "center_mask", "length_mask"};

static void rel(double got, const char *name, const xt_st *st) {
    const float *r = xt_st_f32((xt_st *)st, name, NULL);
    if (!r) { CHECK(0); return; }
    double d = fabs(got - r[0]) / fmax(fabs(r[0]), 1e-12);
    if (d > 1e-5) fprintf(stderr, "%s: got %.9g ref %.9g (rel %.2e)\n", name, got, r[0], d);
    CHECK(d <= 1e-5);
}

static void golden_case(void) {
    xt_st *st = xt_st_open(golden("xview_seg_grad.safetensors"));
    if (!st) { CHECK(0); return; }
    const float *out[4], *tgt[4];
    size_t n = 0;
    for (int k = 0; k < 4; k++) {
        char nm[96];
        const xt_st_tensor *t;
        snprintf(nm, sizeof nm, "expected.out.%s", keys[k]);
        out[k] = xt_st_f32(st, nm, &t);
        n = t ? (size_t)t->numel : 0;
        snprintf(nm, sizeof nm, "input.target.%s", keys[k]);
        tgt[k] = xt_st_f32(st, nm, NULL);
        CHECK(out[k] && tgt[k]);
    }
    xt_xview_loss_terms T;
    xt_xview_loss(NULL, out, tgt, n, NULL, &T);
    const char *cn[2] = {"mask_vessel", "mask_fishing"}, *pn[3] = {"bce", "focal", "dice"};
    char nm[96];
    for (int c = 0; c < 2; c++) {
        snprintf(nm, sizeof nm, "expected.loss.%s", cn[c]);
        rel(T.combo[c], nm, st);
        for (int p = 0; p < 3; p++) {
            snprintf(nm, sizeof nm, "expected.loss.%s.%s", cn[c], pn[p]);
            rel(T.parts[c][p], nm, st);
        }
    }
    rel(T.center, "expected.loss.center", st);
    rel(T.length, "expected.loss.length", st);
    rel(T.total, "expected.loss", st);
    xt_st_close(st);
}

// FD: 4 maps of N pixels; targets with ignores, vessels, negative lengths
enum { N = 96 };
static float O[4][N], T4[4][N], G[4][N];
static const xt_xview_loss_cfg unit = {{1, 1, 1, 1}, {{1, 3, 1}, {1, 3, 1}}, 0}; // Center/Length visible to FD
// the fishing mask's own Combo weights (train.loss.combo_fishing): no Dice, another Focal weight
static const xt_xview_loss_cfg own = {{1, 1, 1, 1}, {{1, 3, 1}, {1, 0.5f, 0}}, 0};
static const xt_xview_loss_cfg *fd_cfg = &unit;
static double f_loss(void) {
    const float *o[4] = {O[0], O[1], O[2], O[3]}, *t[4] = {T4[0], T4[1], T4[2], T4[3]};
    return xt_xview_loss(fd_cfg, o, t, N, NULL, NULL);
}

int main(void) {
    golden_case();
    unsigned r = 99;
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < N; i++) {
            r = r * 1664525u + 1013904223u;
            float u = (float)((r >> 8) * (1.0 / 16777216.0)); // [0, 1)
            O[k][i] = 4 * u - 2;
            T4[k][i] = k < 2 ? (i % 7 == 0 ? 255.0f : i % 3 == 0) : k == 2 ? 30 * u : (i % 4 == 0 ? 20.0f + i : -1.0f);
            if (k == 2) O[k][i] = T4[k][i] + (i % 2 ? 1.0f : 0.1f) * (u + 0.5f); // |p - t| clear of sqrt(0.1)
            if (k == 3 && T4[k][i] > 0) O[k][i] = T4[k][i] + (i % 8 ? 3.0f : -3.0f);
        }
    const float *o[4] = {O[0], O[1], O[2], O[3]}, *t[4] = {T4[0], T4[1], T4[2], T4[3]};
    float *g[4] = {G[0], G[1], G[2], G[3]};
    xt_xview_loss_terms T;
    xt_xview_loss(&unit, o, t, N, g, &T);
    CHECK(T.parts[0][2] != 0); // Dice active (denominator >= 5)
    FD_CHECK(O[0], N, f_loss, G[0], 1e-3, 2e-3, "combo vessel");
    FD_CHECK(O[1], N, f_loss, G[1], 1e-3, 2e-3, "combo fishing");
    FD_CHECK(O[2], N, f_loss, G[2], 1e-3, 2e-3, "center");
    FD_CHECK(O[3], N, f_loss, G[3], 1e-3, 2e-3, "length");
    xt_xview_loss_terms U;
    fd_cfg = &own;
    xt_xview_loss(&own, o, t, N, g, &U);
    CHECK(U.combo[0] == T.combo[0] && U.parts[1][2] == T.parts[1][2]); // the vessel mask's Combo as before
    CHECK(fabs(U.combo[1] - (U.parts[1][0] + 0.5 * U.parts[1][1])) < 1e-12 && fabs(U.combo[1] - T.combo[1]) > 1e-3);
    FD_CHECK(O[1], N, f_loss, G[1], 1e-3, 2e-3, "combo fishing, its own weights");
    // Dice constant below denominator 5, Length 0 without t >= 0, NaN with only zero lengths (bug 22)
    for (int i = 0; i < N; i++) O[0][i] = -20, T4[0][i] = 0, T4[3][i] = -1;
    xt_xview_loss(NULL, o, t, N, g, &T);
    CHECK(T.parts[0][2] == 0 && T.length == 0);
    T4[3][5] = 0;
    xt_xview_loss(NULL, o, t, N, g, &T);
    CHECK(isnan(T.length));
    // every fishing pixel ignored (a crop without vessels): NaN officially (torch's mean of
    // nothing); with fishing_on_vessels the term is 0 with a zero gradient
    T4[3][5] = -1;
    for (int i = 0; i < N; i++) T4[1][i] = 255;
    xt_xview_loss(NULL, o, t, N, g, &T);
    CHECK(isnan(T.combo[1]));
    xt_xview_loss_cfg onv = xt_xview_loss_official;
    onv.fishing_on_vessels = 1;
    double tot = xt_xview_loss(&onv, o, t, N, g, &T);
    CHECK(T.combo[1] == 0 && isfinite(tot));
    int zero = 1;
    for (int i = 0; i < N; i++) zero &= G[1][i] == 0;
    CHECK(zero);
    return check_summary("xview_loss");
}
