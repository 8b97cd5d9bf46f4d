// progress.c — one self-overwriting progress line on stderr ("regions done/total, regions/s,
// ETA"), only when stderr is a terminal and not --quiet; at most 4 updates per second.
#include <stdio.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/core.h"

void xt_progress_init(xt_progress *p, const char *what, long total, int quiet) {
    p->what = what;
    p->total = total;
    p->done = 0;
    p->t0 = p->last = xt_time();
    p->on = !quiet && isatty(2);
}

static void show(const xt_progress *p, double now, int final) {
    double dt = now - p->t0, rate = dt > 0 ? p->done / dt : 0;
    double eta = rate > 0 ? (p->total - p->done) / rate : 0;
    fprintf(stderr, "\r%s %ld/%ld  %.1f regions/s  %s %02d:%02d:%02d ", p->what, p->done, p->total, rate,
            final ? "took" : "ETA", (int)(final ? dt : eta) / 3600, (int)(final ? dt : eta) / 60 % 60, (int)(final ? dt : eta) % 60);
    if (final) fputc('\n', stderr);
    fflush(stderr);
}

void xt_progress_add(xt_progress *p, long n) {
    p->done += n;
    if (!p->on) return;
    double now = xt_time();
    if (now - p->last < 0.25 && p->done < p->total) return;
    p->last = now;
    show(p, now, 0);
}

void xt_progress_end(xt_progress *p) {
    if (p->on) show(p, xt_time(), 1);
    p->on = 0;
}
