// progress.c — progress of a whole job, phase by phase, on stderr. On a terminal: one
// self-overwriting line per phase ("what: phase done/total unit, rate, ETA", at most 4 updates a
// second) ending with the phase's time. On a file or pipe (a log): plain lines — each phase's
// start, about every 10 %, its end — and a last line with the job's wall time. Nothing when quiet.
// The job's clock starts at xt_progress_init, so call it first (before loading the model).
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"

void xt_progress_init(xt_progress *p, const char *what, int quiet) {
    *p = (xt_progress){.what = what, .phase = NULL, .unit = ""};
    p->t0 = p->tphase = p->last = xt_time();
    p->on = !quiet;
    p->tty = isatty(2);
}

static void hms(char *b, size_t n, double s) {
    int t = s > 0 ? (int)(s + 0.5) : 0;
    snprintf(b, n, "%02d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
}

double xt_progress_eta(const xt_progress *p) {
    double dt = xt_time() - p->tphase;
    return p->done > 0 && dt > 0 ? (p->total - p->done) * dt / p->done : 0;
}

static void show(xt_progress *p, double now, int final) {
    double dt = now - p->tphase, rate = dt > 0 ? p->done / dt : 0;
    double eta = rate > 0 ? (p->total - p->done) / rate : 0;
    char t[16];
    hms(t, sizeof t, final ? dt : eta);
    if (p->tty) {
        fprintf(stderr, "\r%s: %s %ld/%ld %s  %.1f %s/s  %s %s  %s\033[K", p->what, p->phase, p->done, p->total, p->unit, rate,
                p->unit, final ? "took" : "ETA", t, final ? "" : p->note);
        if (final) fputc('\n', stderr);
    } else if (final)
        fprintf(stderr, "xt %s: %s: done, %ld %s in %.2f s\n", p->what, p->phase, p->done, p->unit, dt);
    else
        fprintf(stderr, "xt %s: %s: %ld/%ld %s (%d %%), %.1f s, ETA %s%s%s\n", p->what, p->phase, p->done, p->total, p->unit,
                p->total ? (int)(100 * p->done / p->total) : 0, dt, t, *p->note ? ", " : "", p->note);
    fflush(stderr);
}

void xt_progress_phase(xt_progress *p, const char *phase, long total, const char *unit) {
    if (p->phase && p->on) show(p, xt_time(), 1);
    p->phase = phase;
    p->unit = unit;
    p->total = total;
    p->done = 0;
    p->next_tenth = 1;
    p->note[0] = 0;
    p->tphase = p->last = xt_time();
    if (p->on && !p->tty) {
        fprintf(stderr, "xt %s: %s: %ld %s\n", p->what, phase, total, unit);
        fflush(stderr);
    }
}

void xt_progress_note(xt_progress *p, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->note, sizeof p->note, fmt, ap);
    va_end(ap);
}

void xt_progress_set(xt_progress *p, long done) {
    p->done = done;
    if (!p->on || !p->phase) return;
    double now = xt_time();
    if (p->tty) {
        if (now - p->last < 0.25 && p->done < p->total) return;
        p->last = now;
        show(p, now, 0);
    } else if (p->total > 0 && p->done < p->total && 10 * p->done >= p->next_tenth * p->total) {
        p->next_tenth = (int)(10 * p->done / p->total) + 1;
        show(p, now, 0);
    }
}

void xt_progress_add(xt_progress *p, long n) { xt_progress_set(p, p->done + n); }

double xt_progress_end(xt_progress *p) {
    double now = xt_time(), s = now - p->t0;
    if (p->on) {
        if (p->phase) show(p, now, 1);
        if (!p->tty) fprintf(stderr, "xt %s: done in %.2f s\n", p->what, s);
        fflush(stderr);
    }
    p->on = 0;
    p->phase = NULL;
    return s;
}

void xt_progress_abort(xt_progress *p) {
    if (p->on && p->tty && p->phase) fputc('\n', stderr);
    p->on = 0;
    p->phase = NULL;
}
