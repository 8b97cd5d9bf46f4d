// test_train_metrics.c — validation metrics on a hand-made confusion matrix (torchmetrics' macro
// rule for classes absent from the labels), the metrics log's truncation on resume, the plot.
#include "check.h"
#include "train/train.h"

static void close1(double a, double r, const char *label) {
    float fa = (float)a, fr = (float)r;
    CHECK_CLOSE(&fa, &fr, 1, 1e-7, 0, label);
}

int main(void) {
    // rows: true class, columns: predicted. 5 classes:
    //   0: 3 right, 1 taken for 1            1: 2 right, 1 taken for 4
    //   2: not in the labels, never predicted (tp + fp + fn = 0: left out of the macro mean)
    //   3: 2 images, both taken for 0 (never predicted: precision 0 / 0 -> 0, counted)
    //   4: not in the labels but predicted once (recall 0 / 0 -> 0, counted; precision 0 / 1)
    const int64_t conf[25] = {3, 1, 0, 0, 0, //
                              0, 2, 0, 0, 1, //
                              0, 0, 0, 0, 0, //
                              2, 0, 0, 0, 0, //
                              0, 0, 0, 0, 0};
    xt_val_metrics m = {0};
    xt_metrics_from_confusion(conf, 5, &m);
    CHECK(m.n == 9);
    close1(m.top1, 5.0 / 9, "top-1");
    // precision: class 0 3/5, class 1 2/3, class 3 0, class 4 0 -> mean over 4 classes
    close1(m.precision, (0.6 + 2.0 / 3) / 4, "macro precision");
    // recall: class 0 3/4, class 1 2/3, class 3 0/2, class 4 0 (no label) -> mean over 4 classes
    close1(m.recall, (0.75 + 2.0 / 3) / 4, "macro recall");

    // per-class counts directly; nothing at all -> 0
    int64_t tp[3] = {0}, fp[3] = {0}, fn[3] = {0};
    double p = -1, r = -1;
    xt_metrics_macro(tp, fp, fn, 3, &p, &r);
    CHECK(p == 0 && r == 0);
    tp[1] = 4; // one class, always right: 1, 1 (the two absent classes do not dilute it)
    xt_metrics_macro(tp, fp, fn, 3, &p, &r);
    CHECK(p == 1 && r == 1);
    CHECK(!strcmp(xt_val_metric_names[0], "top1") && !strcmp(xt_val_metric_names[3], "recall"));
    xt_val_metrics v = {.top1 = 0.1, .top5 = 0.2, .precision = 0.3, .recall = 0.4};
    CHECK(xt_val_metric(&v, 2) == 0.3 && xt_val_metric(&v, 3) == 0.4);

    // metrics log: a resume at step 2 keeps the lines of steps <= 2 and drops a cut last line
    char tmp[] = "/tmp/xt_metrics_XXXXXX";
    CHECK(mkdtemp(tmp) != NULL);
    char log[256], png[256];
    snprintf(log, sizeof log, "%s/m.jsonl", tmp);
    snprintf(png, sizeof png, "%s/m.png", tmp);
    FILE *f = fopen(log, "wb");
    fprintf(f, "{\"step\": 1, \"loss\": 2.0}\n{\"step\": 2, \"loss\": 1.5}\n"
               "{\"step\": 2, \"loss\": 1.5, \"val\": {\"top1\": 0.5, \"top5\": 1}}\n{\"step\": 3, \"loss\": 1.0}\n{\"step\": 4, \"lo");
    fclose(f);
    FILE *g = xt_metrics_log_open(log, 1, 2, "test"); // opened for appending after step 2
    CHECK(g != NULL);
    if (g) fputs("{\"step\": 3, \"loss\": 0.9}\n", g), fclose(g);
    size_t len = 0;
    char *t = xt_read_file(log, 1 << 20, &len, "test");
    CHECK(t && !strcmp(t, "{\"step\": 1, \"loss\": 2.0}\n{\"step\": 2, \"loss\": 1.5}\n"
                          "{\"step\": 2, \"loss\": 1.5, \"val\": {\"top1\": 0.5, \"top5\": 1}}\n{\"step\": 3, \"loss\": 0.9}\n"));
    free(t);
    char missing[300], fresh[300], bad[300];
    snprintf(missing, sizeof missing, "%s/none.jsonl", tmp);
    snprintf(fresh, sizeof fresh, "%s/fresh.jsonl", tmp);
    snprintf(bad, sizeof bad, "%s/no/such/dir.jsonl", tmp);
    CHECK((g = xt_metrics_log_open(fresh, 1, 5, "test")) != NULL); // resumed, nothing logged yet: fine
    if (g) fclose(g);
    CHECK((g = xt_metrics_log_open(log, 0, 0, "test")) != NULL); // a fresh run starts it empty
    if (g) fclose(g);
    t = xt_read_file(log, 1 << 20, &len, "test");
    CHECK(t && len == 0);
    free(t);
    CHECK(xt_metrics_log_open(bad, 0, 0, "test") == NULL && strstr(xt_error_buffer(), "cannot write the metrics log"));
    f = fopen(log, "wb"); // the log the plot below reads
    fprintf(f, "{\"step\": 1, \"loss\": 2.0}\n{\"step\": 2, \"loss\": 1.5}\n"
               "{\"step\": 2, \"loss\": 1.5, \"val\": {\"top1\": 0.5, \"top5\": 1}}\n");
    fclose(f);

    // the plot: a PNG of the requested size (signature, IHDR width / height)
    CHECK(xt_train_plot(log, png, 320, 200) == 0);
    unsigned char h[24] = {0};
    f = fopen(png, "rb");
    CHECK(f && fread(h, 1, 24, f) == 24);
    if (f) fclose(f);
    CHECK(!memcmp(h, "\x89PNG\r\n\x1a\n", 8) && !memcmp(h + 12, "IHDR", 4));
    CHECK(((h[16] << 24) | (h[17] << 16) | (h[18] << 8) | h[19]) == 320);
    CHECK(((h[20] << 24) | (h[21] << 16) | (h[22] << 8) | h[23]) == 200);
    CHECK(xt_train_plot(log, png, 10, 10) == -1 && strstr(xt_error_buffer(), "plot size out of range"));
    CHECK(xt_train_plot(missing, png, 320, 200) == -1);

    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmp);
    CHECK(system(cmd) == 0);
    return check_summary("train_metrics");
}
