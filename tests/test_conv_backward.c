// test_conv_backward.c — the backward passes of the xView3 UNet pieces (dense conv2d, nearest 2x
// upsampling, ConvTranspose2d 2x2/2) against central finite differences of sum(out * dout).
// The ops are linear in each argument, so the differences are exact up to float32 rounding of
// the forward: h = 0.25, tol 2e-3 x max(1, max|grad|) (observed <= 2.8e-6 absolute).
#include "check.h"
#include "fd.h"
#include "nn/nn.h"

static unsigned rng = 777;
static float frand(void) { // uniform in [-1, 1)
    rng = rng * 1664525u + 1013904223u;
    return (float)((rng >> 8) * (1.0 / 8388608.0)) - 1.0f;
}
static float *rnd(size_t n) {
    float *p = xt_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) p[i] = frand();
    return p;
}

static float *X, *Wt, *Bs, *Y, *DY, *SCR;
static int NB, IC, OC, HH, WW;
static xt_conv2d_dims D;
static long NOUT;

static double f_conv(void) { xt_conv2d_forward(Y, SCR, X, Wt, Bs, NB, &D, 0); return dot_(Y, DY, NOUT); }
static double f_up(void) { xt_upsample2x_nearest(Y, X, NB, IC, HH, WW); return dot_(Y, DY, NOUT); }
static double f_convt(void) {
    xt_conv_transpose2x2_forward(Y, X, Wt, Bs, NB, IC, OC, HH, WW, SCR);
    return dot_(Y, DY, NOUT);
}

static void conv_case(int B, xt_conv2d_dims d) {
    NB = B, D = d;
    int OH = xt_conv2d_out(d.H, d.KH, d.SH, d.PH), OW = xt_conv2d_out(d.W, d.KW, d.SW, d.PW);
    long nin = (long)B * d.IC * d.H * d.W, nw = (long)d.OC * d.IC * d.KH * d.KW;
    NOUT = (long)B * d.OC * OH * OW;
    X = rnd(nin), Wt = rnd(nw), Bs = rnd(d.OC), DY = rnd(NOUT), Y = xt_xmalloc(NOUT * sizeof(float));
    SCR = xt_xmalloc(xt_conv2d_backward_scratch_floats(&d) * sizeof(float));
    float *dx = rnd(nin), *dw = xt_xcalloc(nw, sizeof(float)), *db = xt_xcalloc(d.OC, sizeof(float));
    xt_conv2d_backward(dx, dw, db, SCR, X, DY, Wt, B, &d);
    char l[96];
    snprintf(l, sizeof l, "conv IC%d %dx%d OC%d k%d s%d p%d dinp", d.IC, d.H, d.W, d.OC, d.KH, d.SH, d.PH);
    FD_CHECK(X, nin, f_conv, dx, 0.25, 2e-3, l);
    FD_CHECK(Wt, nw, f_conv, dw, 0.25, 2e-3, "conv dw");
    FD_CHECK(Bs, d.OC, f_conv, db, 0.25, 2e-3, "conv db");
    // accumulation: a second call adds the same again
    float *dw2 = xt_xmalloc(nw * sizeof(float));
    memcpy(dw2, dw, nw * sizeof(float));
    xt_conv2d_backward(NULL, dw2, NULL, SCR, X, DY, Wt, B, &d);
    for (long i = 0; i < nw; i++) dw2[i] -= 2 * dw[i];
    double m = 0;
    for (long i = 0; i < nw; i++) m = fmax(m, fabs(dw2[i]));
    CHECK(m < 1e-4);
    free(X); free(Wt); free(Bs); free(DY); free(Y); free(SCR); free(dx); free(dw); free(db); free(dw2);
}

static void up_case(int B, int C, int H, int W) {
    NB = B, IC = C, HH = H, WW = W;
    long nin = (long)B * C * H * W;
    NOUT = 4 * nin;
    X = rnd(nin), DY = rnd(NOUT), Y = xt_xmalloc(NOUT * sizeof(float));
    float *dx = rnd(nin);
    xt_upsample2x_nearest_backward(dx, DY, B, C, H, W);
    FD_CHECK(X, nin, f_up, dx, 0.25, 2e-3, "up2 dinp");
    free(X); free(DY); free(Y); free(dx);
}

static void convt_case(int B, int ic, int oc, int H, int W) {
    NB = B, IC = ic, OC = oc, HH = H, WW = W;
    long nin = (long)B * ic * H * W, nw = (long)ic * oc * 4;
    NOUT = (long)B * oc * 4 * H * W;
    X = rnd(nin), Wt = rnd(nw), Bs = rnd(oc), DY = rnd(NOUT), Y = xt_xmalloc(NOUT * sizeof(float));
    size_t ns = xt_conv_transpose2x2_scratch_floats(ic, oc, H, W), nb = xt_conv_transpose2x2_backward_scratch_floats(ic, oc, H, W);
    SCR = xt_xmalloc((ns > nb ? ns : nb) * sizeof(float));
    float *dx = rnd(nin), *dw = xt_xcalloc(nw, sizeof(float)), *db = xt_xcalloc(oc, sizeof(float));
    xt_conv_transpose2x2_backward(dx, dw, db, X, DY, Wt, B, ic, oc, H, W, SCR);
    FD_CHECK(X, nin, f_convt, dx, 0.25, 2e-3, "convT dinp");
    FD_CHECK(Wt, nw, f_convt, dw, 0.25, 2e-3, "convT dw");
    FD_CHECK(Bs, oc, f_convt, db, 0.25, 2e-3, "convT db");
    free(X); free(Wt); free(Bs); free(DY); free(Y); free(SCR); free(dx); free(dw); free(db);
}

int main(void) {
    conv_case(2, (xt_conv2d_dims){3, 8, 8, 4, 3, 3, 1, 1, 1, 1});   // the UNet 3x3 pad 1
    conv_case(1, (xt_conv2d_dims){5, 6, 7, 2, 1, 1, 1, 1, 0, 0});   // head 1x1
    conv_case(2, (xt_conv2d_dims){2, 16, 16, 4, 4, 4, 4, 4, 0, 0}); // patch embed 4x4/4
    conv_case(1, (xt_conv2d_dims){2, 9, 11, 3, 3, 5, 2, 1, 1, 2});  // odd everything
    up_case(2, 3, 4, 5);
    convt_case(2, 3, 4, 5, 6);
    convt_case(1, 8, 8, 4, 4);
    return check_summary("conv_backward");
}
