// metrics.c — validation metrics as the official ClsEvaluator computes them (torchmetrics
// Accuracy top-1 / top-5, macro Precision / Recall), the metrics log (JSON Lines) kept across
// --resume, and a PNG plot of its curves.
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "train/train.h"

const char *const xt_val_metric_names[XT_VAL_METRICS] = {"top1", "top5", "precision", "recall"};

double xt_val_metric(const xt_val_metrics *m, int k) {
    const double v[XT_VAL_METRICS] = {m->top1, m->top5, m->precision, m->recall};
    return k >= 0 && k < XT_VAL_METRICS ? v[k] : NAN;
}

// torchmetrics (>= 0.11) multiclass, average="macro", top_k 1: per class precision tp / (tp + fp)
// and recall tp / (tp + fn), 0 where the denominator is 0 (_safe_divide); the mean is over the
// classes with tp + fp + fn > 0 (_adjust_weights_safe_divide gives the others weight 0), so a
// class neither in the labels nor ever predicted does not count, while a class predicted but
// absent from the labels counts with recall 0 (and precision 0), and a labelled class never
// predicted counts with precision 0. No such class at all (empty set): 0.
void xt_metrics_macro(const int64_t *tp, const int64_t *fp, const int64_t *fn, int K, double *precision, double *recall) {
    double sp = 0, sr = 0;
    int64_t n = 0;
    for (int k = 0; k < K; k++) {
        if (tp[k] + fp[k] + fn[k] == 0) continue;
        n++;
        sp += tp[k] + fp[k] ? (double)tp[k] / (double)(tp[k] + fp[k]) : 0.0;
        sr += tp[k] + fn[k] ? (double)tp[k] / (double)(tp[k] + fn[k]) : 0.0;
    }
    *precision = n ? sp / n : 0.0;
    *recall = n ? sr / n : 0.0;
}

void xt_metrics_from_confusion(const int64_t *conf, int K, xt_val_metrics *m) {
    int64_t *c = xt_xmalloc(3 * (size_t)(K ? K : 1) * sizeof(int64_t)), *tp = c, *fp = c + K, *fn = c + 2 * K;
    memset(c, 0, 3 * (size_t)K * sizeof(int64_t));
    int64_t n = 0, right = 0;
    for (int t = 0; t < K; t++)
        for (int p = 0; p < K; p++) {
            int64_t v = conf[(size_t)t * K + p];
            n += v;
            if (t == p) tp[t] += v, right += v;
            else fn[t] += v, fp[p] += v;
        }
    m->n = n;
    m->top1 = n ? (double)right / n : 0.0;
    xt_metrics_macro(tp, fp, fn, K, &m->precision, &m->recall);
    free(c);
}

// ---------------------------------------------------------------------------------------------
// the log

// One line per kept record: on resume at step s the lines of steps > s (written after the
// checkpoint by the interrupted run) are dropped, so the log reads as one uninterrupted run.
static int log_truncate(const char *path, int64_t step) {
    size_t len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return 0; // nothing logged yet (or a new -o): the resumed run starts the log
    fclose(f);
    char *text = xt_read_file(path, (size_t)1 << 30, &len, "metrics log");
    if (!text) return -1;
    xt_sbuf keep = {0};
    for (char *line = text, *nl; line < text + len; line = nl + 1) {
        nl = memchr(line, '\n', (size_t)(text + len - line));
        if (!nl) break; // a line cut by the interruption
        xt_json *j = xt_json_parse(line, (size_t)(nl - line), path);
        xt_error_clear();
        const xt_json *s = j ? xt_json_get(j, "step") : NULL;
        if (s && s->type == XT_JSON_NUM && s->num <= (double)step) xt_sbuf_printf(&keep, "%.*s\n", (int)(nl - line), line);
        xt_json_free(j);
    }
    free(text);
    // rewritten whole under PATH.part, then renamed: an interruption here keeps the old log
    int rc = xt_write_file_part(path, keep.p ? keep.p : "", keep.n, "metrics log");
    xt_sbuf_free(&keep);
    return rc;
}

FILE *xt_metrics_log_open(const char *path, int resume, int64_t step, const char *who) {
    if (resume && log_truncate(path, step)) return NULL;
    FILE *f = fopen(path, resume ? "ab" : "wb");
    if (!f) xt_error(who, "%s: cannot write the metrics log", path);
    return f;
}

// ---------------------------------------------------------------------------------------------
// the plot: no text (no font in xt), two panels over the same step axis from 0 to the last step:
// top the training loss (blue) from 0 to its maximum, bottom validation top-1 (red) and top-5
// (light red) from 0 to 1; grid lines at quarters.

typedef struct {
    uint8_t *rgb;
    int w, h;
} canvas;

static void px(canvas *c, int x, int y, const uint8_t col[3]) {
    if (x < 0 || y < 0 || x >= c->w || y >= c->h) return;
    memcpy(c->rgb + ((size_t)y * c->w + x) * 3, col, 3);
}

static void line(canvas *c, int x0, int y0, int x1, int y1, const uint8_t col[3], int thick) {
    int dx = abs(x1 - x0), dy = -abs(y1 - y0), sx = x0 < x1 ? 1 : -1, sy = y0 < y1 ? 1 : -1, e = dx + dy;
    for (;;) { // Bresenham
        for (int a = 0; a < thick; a++)
            for (int b = 0; b < thick; b++) px(c, x0 + a - thick / 2, y0 + b - thick / 2, col);
        if (x0 == x1 && y0 == y1) break;
        int e2 = 2 * e;
        if (e2 >= dy) e += dy, x0 += sx;
        if (e2 <= dx) e += dx, y0 += sy;
    }
}

typedef struct {
    double *x, *y;
    int n, cap;
} series;

static void push(series *s, double x, double y) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 256;
        s->x = realloc(s->x, s->cap * sizeof(double));
        s->y = realloc(s->y, s->cap * sizeof(double));
        XT_ASSERT(s->x && s->y);
    }
    s->x[s->n] = x, s->y[s->n++] = y;
}

// one panel: rect (x0, y0, pw, ph), y range [0, ymax]
static void curve(canvas *c, const series *s, double xmax, double ymax, int x0, int y0, int pw, int ph,
                  const uint8_t col[3], int marks) {
    int lx = 0, ly = 0;
    for (int i = 0; i < s->n; i++) {
        double fy = s->y[i] / ymax;
        if (!isfinite(fy)) continue;
        fy = fy < 0 ? 0 : fy > 1 ? 1 : fy;
        int X = x0 + (int)lround(s->x[i] / xmax * (pw - 1)), Y = y0 + ph - 1 - (int)lround(fy * (ph - 1));
        if (i) line(c, lx, ly, X, Y, col, 2);
        if (marks) line(c, X, Y, X, Y, col, 5);
        lx = X, ly = Y;
    }
}

static void frame(canvas *c, int x0, int y0, int pw, int ph) {
    static const uint8_t grid[3] = {225, 225, 225}, axis[3] = {0, 0, 0};
    for (int q = 1; q < 4; q++) {
        line(c, x0 + q * (pw - 1) / 4, y0, x0 + q * (pw - 1) / 4, y0 + ph - 1, grid, 1);
        line(c, x0, y0 + q * (ph - 1) / 4, x0 + pw - 1, y0 + q * (ph - 1) / 4, grid, 1);
    }
    line(c, x0, y0, x0, y0 + ph - 1, axis, 1);
    line(c, x0, y0 + ph - 1, x0 + pw - 1, y0 + ph - 1, axis, 1);
}

int xt_train_plot(const char *jsonl, const char *png, int w, int h) {
    if (w < 64 || h < 64 || w > 8192 || h > 8192) return xt_error("plot", "%dx%d: plot size out of range", w, h);
    size_t len = 0;
    char *text = xt_read_file(jsonl, (size_t)1 << 30, &len, "metrics log");
    if (!text) return -1;
    series loss = {0}, t1 = {0}, t5 = {0};
    double xmax = 1, lmax = 0;
    for (char *ln = text, *nl; ln < text + len; ln = nl + 1) {
        nl = memchr(ln, '\n', (size_t)(text + len - ln));
        if (!nl) nl = text + len;
        if (nl == ln) continue;
        xt_json *j = xt_json_parse(ln, (size_t)(nl - ln), jsonl);
        if (!j) { free(text); free(loss.x); free(loss.y); free(t1.x); free(t1.y); free(t5.x); free(t5.y); return -1; }
        double st = 0, v = NAN;
        xt_json_num(j, "step", 0, &st);
        if (st > xmax) xmax = st;
        const xt_json *val = xt_json_get(j, "val");
        if (val) {
            if (!xt_json_num(val, "top1", NAN, &v)) push(&t1, st, v);
            if (!xt_json_num(val, "top5", NAN, &v)) push(&t5, st, v);
        } else if (!xt_json_num(j, "loss", NAN, &v) && isfinite(v)) {
            push(&loss, st, v);
            if (v > lmax) lmax = v;
        }
        xt_json_free(j);
        xt_error_clear();
    }
    free(text);
    canvas c = {xt_xmalloc((size_t)w * h * 3), w, h};
    memset(c.rgb, 255, (size_t)w * h * 3);
    int m = 12, pw = w - 2 * m, ph = (h - 3 * m) / 2;
    static const uint8_t blue[3] = {31, 119, 180}, red[3] = {214, 39, 40}, pink[3] = {245, 170, 170};
    frame(&c, m, m, pw, ph);
    frame(&c, m, 2 * m + ph, pw, ph);
    curve(&c, &loss, xmax, lmax > 0 ? lmax : 1, m, m, pw, ph, blue, 0);
    curve(&c, &t5, xmax, 1, m, 2 * m + ph, pw, ph, pink, 1);
    curve(&c, &t1, xmax, 1, m, 2 * m + ph, pw, ph, red, 1);
    int rc = xt_png_write_rgb8(png, w, h, c.rgb);
    free(c.rgb);
    free(loss.x); free(loss.y); free(t1.x); free(t1.y); free(t5.x); free(t5.y);
    return rc;
}
