// csv.c — a strict, bounded CSV reader with pandas.read_csv's defaults (see csv.h). One pass:
// field texts are unquoted into one store, cells are offsets until the end (the store grows).
// Memory is linear in the input; every error names the file and line.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <string.h>

#include "core/core.h"
#include "formats/csv.h"

void xt_csv_free(xt_csv *c) {
    if (!c) return;
    free(c->what);
    for (int k = 0; c->head && k < c->n_cols; k++) free(c->head[k]);
    free(c->head);
    free(c->cell);
    free(c->line);
    free(c->store);
    free(c);
}

int xt_csv_col(const xt_csv *c, const char *name) {
    for (int k = 0; k < c->n_cols; k++)
        if (!strcmp(c->head[k], name)) return k;
    return -1;
}

typedef struct {
    char *p;
    size_t n, cap;
} buf;

static void put(buf *b, const char *s, size_t n) {
    if (b->n + n + 1 > b->cap) {
        b->cap = (b->n + n + 1) * 2;
        b->p = realloc(b->p, b->cap);
        XT_ASSERT(b->p);
    }
    memcpy(b->p + b->n, s, n);
    b->n += n;
}

typedef struct {
    size_t *v;
    size_t n, cap;
} offs;

static void push_off(offs *o, size_t x) {
    if (o->n == o->cap) {
        o->cap = o->cap ? 2 * o->cap : 64;
        o->v = realloc(o->v, o->cap * sizeof *o->v);
        XT_ASSERT(o->v);
    }
    o->v[o->n++] = x;
}

xt_csv *xt_csv_parse(const char *text, size_t len, const char *what) {
    xt_csv *c = xt_xcalloc(1, sizeof *c);
    c->what = strdup(what ? what : "csv");
    buf st = {0};
    offs cells = {0}, lines = {0}; // cells: store offsets of every field of the data rows (n_cols per row)
    offs row = {0};                // the fields of the row being read
    offs head = {0};               // store offsets of the header names
    const char *s = text, *end = text + len;
    int64_t line = 1;
    if (len >= 3 && !memcmp(s, "\xef\xbb\xbf", 3)) s += 3;
    if (memchr(s, 0, (size_t)(end - s))) {
        xt_error("csv", "%s: contains a NUL byte (not a text table)", c->what);
        goto fail;
    }
    int have_head = 0;
    while (s < end) {
        int64_t row_line = line;
        row.n = 0;
        // an empty line is skipped (pandas skip_blank_lines)
        if (*s == '\n' || *s == '\r') {
            s += (*s == '\r' && s + 1 < end && s[1] == '\n') ? 2 : 1;
            line++;
            continue;
        }
        for (;;) { // one field per iteration
            push_off(&row, st.n);
            if (s < end && *s == '"') {
                s++;
                for (;;) {
                    if (s >= end) {
                        xt_error("csv", "%s: line %lld: unterminated quoted field", c->what, (long long)row_line);
                        goto fail;
                    }
                    if (*s == '"') {
                        if (s + 1 < end && s[1] == '"') { put(&st, "\"", 1); s += 2; continue; }
                        s++;
                        break;
                    }
                    if (*s == '\n') line++;
                    put(&st, s++, 1);
                }
                if (s < end && *s != ',' && *s != '\n' && *s != '\r') {
                    xt_error("csv", "%s: line %lld: text after a closing quote", c->what, (long long)line);
                    goto fail;
                }
            } else {
                const char *f = s;
                while (s < end && *s != ',' && *s != '\n' && *s != '\r') {
                    if (*s == '"') {
                        xt_error("csv", "%s: line %lld: a quote inside an unquoted field", c->what, (long long)line);
                        goto fail;
                    }
                    s++;
                }
                put(&st, f, (size_t)(s - f));
            }
            put(&st, "", 1); // NUL
            if (s < end && *s == ',') { s++; continue; }
            break;
        }
        if (s < end) { // end of line
            s += (*s == '\r' && s + 1 < end && s[1] == '\n') ? 2 : 1;
            line++;
        }
        if (!have_head) {
            if (row.n > 10000) { xt_error("csv", "%s: %zu columns (at most 10000)", c->what, row.n); goto fail; }
            for (size_t k = 0; k < row.n; k++) push_off(&head, row.v[k]);
            have_head = 1;
            continue;
        }
        if (row.n > head.n) {
            xt_error("csv", "%s: line %lld: %zu fields, the header has %zu", c->what, (long long)row_line, row.n, head.n);
            goto fail;
        }
        for (size_t k = 0; k < row.n; k++) push_off(&cells, row.v[k]);
        for (size_t k = row.n; k < head.n; k++) push_off(&cells, SIZE_MAX); // missing: the empty text
        push_off(&lines, (size_t)row_line);
    }
    if (!have_head) {
        xt_error("csv", "%s: empty file (no header row)", c->what);
        goto fail;
    }
    put(&st, "", 1); // the shared empty text for missing cells, at st.n - 1
    c->store = st.p;
    st.p = NULL;
    size_t empty = st.n - 1;
    // names as pandas makes them: an empty one is "Unnamed: <k>" (e.g. the index column of
    // DataFrame.to_csv), a repeated one gets ".1", ".2", ... (the first keeps the name)
    c->n_cols = (int)head.n;
    c->head = xt_xcalloc(head.n + 1, sizeof *c->head);
    for (int k = 0; k < c->n_cols; k++) {
        const char *nm = c->store + head.v[k];
        char *h = xt_xmalloc(strlen(nm) + 32);
        if (!*nm) sprintf(h, "Unnamed: %d", k);
        else strcpy(h, nm);
        for (int dup = 1;; dup++) {
            int j = 0;
            while (j < k && strcmp(c->head[j], h)) j++;
            if (j == k) break;
            sprintf(h, "%s.%d", *nm ? nm : "Unnamed", dup);
        }
        c->head[k] = h;
    }
    c->n_rows = (int64_t)lines.n;
    c->cell = xt_xmalloc((cells.n ? cells.n : 1) * sizeof *c->cell);
    for (size_t i = 0; i < cells.n; i++) c->cell[i] = c->store + (cells.v[i] == SIZE_MAX ? empty : cells.v[i]);
    c->line = xt_xmalloc((lines.n ? lines.n : 1) * sizeof *c->line);
    for (size_t i = 0; i < lines.n; i++) c->line[i] = (int64_t)lines.v[i];
    free(cells.v);
    free(lines.v);
    free(row.v);
    free(head.v);
    return c;
fail:
    free(st.p);
    free(cells.v);
    free(lines.v);
    free(row.v);
    free(head.v);
    xt_csv_free(c);
    return NULL;
}

xt_csv *xt_csv_read(const char *path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        xt_error("csv", "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    buf b = {0};
    char chunk[65536];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) put(&b, chunk, n);
    int err = ferror(f);
    fclose(f);
    if (err) {
        free(b.p);
        xt_error("csv", "%s: read error", path);
        return NULL;
    }
    xt_csv *c = xt_csv_parse(b.p ? b.p : "", b.n, path);
    free(b.p);
    return c;
}

int xt_csv_is_na(const char *s) {
    static const char *const na[] = {"", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN",
                                     "<NA>", "N/A", "NA", "NULL", "NaN", "None", "n/a", "nan", "null"};
    for (size_t k = 0; k < sizeof na / sizeof *na; k++)
        if (!strcmp(s, na[k])) return 1;
    return 0;
}

int xt_csv_num(const xt_csv *c, int64_t r, int k, double *out) {
    const char *s = xt_csv_at(c, r, k);
    if (xt_csv_is_na(s)) {
        *out = NAN;
        return 0;
    }
    const char *p = s;
    while (*p == ' ' || *p == '\t') p++;
    int bad = !*p || strchr(p, 'x') || strchr(p, 'X'); // no hex floats
    char *e = NULL;
    double v = bad ? 0 : strtod(p, &e);
    if (!bad) {
        while (*e == ' ' || *e == '\t') e++;
        bad = *e != 0 || isnan(v);
        // strtod also takes "infinity"/"inf" in any case, as pandas does; nothing else non-finite
    }
    if (bad)
        return xt_error("csv", "%s: line %lld: column '%s': '%.40s' is not a number", c->what, (long long)c->line[r], c->head[k], s);
    *out = v;
    return 0;
}
