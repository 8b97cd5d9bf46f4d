// fd.h — central finite differences for gradient tests (include after check.h).
//
// loss(): runs the forward from the current inputs and returns sum(out * dout) accumulated in
// double. fd_check perturbs up to 24 evenly spaced elements of x by ±h and compares
// (L(x+h) - L(x-h)) / 2h with the analytic gradient g: |fd - g| <= tol * max(1, max|g|).
// The layers are float32, so h is large-ish (1e-2) and tol ~1e-2; kinks (ReLU) are skipped by
// the caller choosing inputs away from them.
#ifndef XT_FD_H
#define XT_FD_H

static inline int fd_check_(float *x, long n, double (*loss)(void), const float *g, double h, double tol,
                     const char *label, const char *file, int line) {
    double mg = 0, worst = 0;
    long wi = 0, step = n > 24 ? n / 24 : 1;
    for (long i = 0; i < n; i++) mg = fmax(mg, fabs(g[i]));
    double wfd = 0;
    for (long i = 0; i < n; i += step) {
        float x0 = x[i];
        x[i] = (float)(x0 + h);
        double lp = loss();
        x[i] = (float)(x0 - h);
        double lm = loss();
        x[i] = x0;
        double fd = (lp - lm) / (2 * h), d = fabs(fd - g[i]);
        if (!(d <= worst)) { worst = d; wi = i; wfd = fd; }
    }
    double t = tol * (mg > 1 ? mg : 1);
    if (worst <= t) { check_pass_++; return 1; }
    check_fail_++;
    fprintf(stderr, "%s:%d: FD %s: |fd - grad| %.3e > %.3e at [%ld]: fd %.7g grad %.7g\n", file, line, label,
            worst, t, wi, wfd, g[wi]);
    return 0;
}
#define FD_CHECK(x, n, loss, g, h, tol, label) fd_check_((x), (n), (loss), (g), (h), (tol), (label), __FILE__, __LINE__)

static inline double dot_(const float *a, const float *b, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)a[i] * b[i];
    return s;
}

#endif
