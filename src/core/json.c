// json.c — strict, depth-limited JSON DOM parser (configs, safetensors headers) and a string
// builder for writers. Hostile input yields an error message with the byte offset, never a crash.
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "core/core.h"

#define JSON_MAX_DEPTH 64

typedef struct {
    const char *s, *end, *what;
    const char *start;
    int depth;
} parser;

static int perr(parser *p, const char *msg) {
    return xt_error("json", "%s: %s at byte %ld", p->what, msg, (long)(p->s - p->start));
}

static void ws(parser *p) {
    while (p->s < p->end && (*p->s == ' ' || *p->s == '\t' || *p->s == '\n' || *p->s == '\r')) p->s++;
}

static xt_json *node(xt_json_type t) {
    xt_json *j = xt_xcalloc(1, sizeof *j);
    j->type = t;
    return j;
}

static int hex4(parser *p, unsigned *out) {
    if (p->end - p->s < 4) return perr(p, "truncated \\u escape");
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[i];
        v <<= 4;
        if (c >= '0' && c <= '9') v |= c - '0';
        else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
        else return perr(p, "bad \\u escape");
    }
    p->s += 4;
    *out = v;
    return 0;
}

static char *parse_string(parser *p) {
    // p->s at opening quote
    p->s++;
    xt_sbuf b = {0};
    xt_sbuf_printf(&b, "%s", "");
    while (1) {
        if (p->s >= p->end) { perr(p, "unterminated string"); xt_sbuf_free(&b); return NULL; }
        unsigned char c = (unsigned char)*p->s++;
        if (c == '"') break;
        if (c < 0x20) { perr(p, "control character in string"); xt_sbuf_free(&b); return NULL; }
        if (c != '\\') {
            char ch[2] = {(char)c, 0};
            xt_sbuf_printf(&b, "%s", ch);
            continue;
        }
        if (p->s >= p->end) { perr(p, "unterminated escape"); xt_sbuf_free(&b); return NULL; }
        char e = *p->s++;
        const char *rep = NULL;
        switch (e) {
        case '"': rep = "\""; break;
        case '\\': rep = "\\"; break;
        case '/': rep = "/"; break;
        case 'b': rep = "\b"; break;
        case 'f': rep = "\f"; break;
        case 'n': rep = "\n"; break;
        case 'r': rep = "\r"; break;
        case 't': rep = "\t"; break;
        case 'u': {
            unsigned cp;
            if (hex4(p, &cp)) { xt_sbuf_free(&b); return NULL; }
            if (cp >= 0xD800 && cp < 0xDC00) { // surrogate pair
                unsigned lo;
                if (p->end - p->s < 6 || p->s[0] != '\\' || p->s[1] != 'u') {
                    perr(p, "unpaired surrogate"); xt_sbuf_free(&b); return NULL;
                }
                p->s += 2;
                if (hex4(p, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
                    perr(p, "bad surrogate pair"); xt_sbuf_free(&b); return NULL;
                }
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            }
            char u[5] = {0};
            if (cp < 0x80) u[0] = (char)cp;
            else if (cp < 0x800) { u[0] = (char)(0xC0 | cp >> 6); u[1] = (char)(0x80 | (cp & 63)); }
            else if (cp < 0x10000) { u[0] = (char)(0xE0 | cp >> 12); u[1] = (char)(0x80 | ((cp >> 6) & 63)); u[2] = (char)(0x80 | (cp & 63)); }
            else { u[0] = (char)(0xF0 | cp >> 18); u[1] = (char)(0x80 | ((cp >> 12) & 63)); u[2] = (char)(0x80 | ((cp >> 6) & 63)); u[3] = (char)(0x80 | (cp & 63)); }
            if (cp == 0) { perr(p, "NUL in string"); xt_sbuf_free(&b); return NULL; }
            xt_sbuf_printf(&b, "%s", u);
            continue;
        }
        default: perr(p, "bad escape"); xt_sbuf_free(&b); return NULL;
        }
        xt_sbuf_printf(&b, "%s", rep);
    }
    return b.p;
}

static xt_json *parse_value(parser *p);

static xt_json *parse_container(parser *p, int obj) {
    if (++p->depth > JSON_MAX_DEPTH) { perr(p, "nesting too deep"); return NULL; }
    p->s++;
    xt_json *j = node(obj ? XT_JSON_OBJ : XT_JSON_ARR);
    int cap = 0;
    ws(p);
    if (p->s < p->end && *p->s == (obj ? '}' : ']')) { p->s++; p->depth--; return j; }
    while (1) {
        char *key = NULL;
        if (obj) {
            ws(p);
            if (p->s >= p->end || *p->s != '"') { perr(p, "expected object key"); xt_json_free(j); return NULL; }
            if (!(key = parse_string(p))) { xt_json_free(j); return NULL; }
            ws(p);
            if (p->s >= p->end || *p->s != ':') { perr(p, "expected ':'"); free(key); xt_json_free(j); return NULL; }
            p->s++;
        }
        xt_json *v = parse_value(p);
        if (!v) { free(key); xt_json_free(j); return NULL; }
        if (j->n == cap) {
            cap = cap ? cap * 2 : 8;
            j->items = realloc(j->items, cap * sizeof *j->items);
            if (obj) j->keys = realloc(j->keys, cap * sizeof *j->keys);
            XT_ASSERT(j->items && (!obj || j->keys));
        }
        j->items[j->n] = v;
        if (obj) j->keys[j->n] = key;
        j->n++;
        ws(p);
        if (p->s >= p->end) { perr(p, "unterminated container"); xt_json_free(j); return NULL; }
        if (*p->s == ',') { p->s++; continue; }
        if (*p->s == (obj ? '}' : ']')) { p->s++; break; }
        perr(p, obj ? "expected ',' or '}'" : "expected ',' or ']'");
        xt_json_free(j);
        return NULL;
    }
    p->depth--;
    return j;
}

static xt_json *parse_value(parser *p) {
    ws(p);
    if (p->s >= p->end) { perr(p, "unexpected end"); return NULL; }
    char c = *p->s;
    if (c == '{' || c == '[') return parse_container(p, c == '{');
    if (c == '"') {
        char *s = parse_string(p);
        if (!s) return NULL;
        xt_json *j = node(XT_JSON_STR);
        j->str = s;
        return j;
    }
    static const struct { const char *w; xt_json_type t; double v; } lits[] = {
        {"true", XT_JSON_BOOL, 1}, {"false", XT_JSON_BOOL, 0}, {"null", XT_JSON_NULL, 0},
        {"NaN", XT_JSON_NUM, NAN}, {"Infinity", XT_JSON_NUM, INFINITY}, {"-Infinity", XT_JSON_NUM, -INFINITY}};
    for (size_t i = 0; i < sizeof lits / sizeof *lits; i++) {
        size_t l = strlen(lits[i].w);
        if ((size_t)(p->end - p->s) >= l && !memcmp(p->s, lits[i].w, l)) {
            p->s += l;
            xt_json *j = node(lits[i].t);
            j->num = lits[i].v;
            return j;
        }
    }
    if (c == '-' || isdigit((unsigned char)c)) {
        char buf[64];
        size_t k = 0;
        while (p->s < p->end && k < sizeof buf - 1 &&
               (isdigit((unsigned char)*p->s) || strchr("+-.eE", *p->s)))
            buf[k++] = *p->s++;
        buf[k] = 0;
        char *e;
        errno = 0;
        double v = strtod(buf, &e);
        if (e != buf + k || k == 0) { perr(p, "bad number"); return NULL; }
        xt_json *j = node(XT_JSON_NUM);
        j->num = v;
        return j;
    }
    perr(p, "unexpected character");
    return NULL;
}

xt_json *xt_json_parse(const char *text, size_t len, const char *what) {
    parser p = {text, text + len, what ? what : "json", text, 0};
    xt_json *j = parse_value(&p);
    if (!j) return NULL;
    ws(&p);
    if (p.s != p.end) {
        perr(&p, "trailing characters");
        xt_json_free(j);
        return NULL;
    }
    return j;
}

void xt_json_free(xt_json *j) {
    if (!j) return;
    for (int i = 0; i < j->n; i++) {
        xt_json_free(j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->str);
    free(j);
}

const xt_json *xt_json_get(const xt_json *obj, const char *key) {
    if (!obj || obj->type != XT_JSON_OBJ) return NULL;
    for (int i = obj->n - 1; i >= 0; i--) // last duplicate wins, as in Python's json
        if (!strcmp(obj->keys[i], key)) return obj->items[i];
    return NULL;
}

xt_json *xt_json_get_mut(xt_json *obj, const char *key) { return (xt_json *)xt_json_get(obj, key); }

static void set_node(xt_json *obj, const char *key, xt_json *v) {
    XT_ASSERT(obj && obj->type == XT_JSON_OBJ);
    for (int i = obj->n - 1; i >= 0; i--) // the last duplicate is the one xt_json_get reads
        if (!strcmp(obj->keys[i], key)) {
            xt_json_free(obj->items[i]);
            obj->items[i] = v;
            return;
        }
    // parse_container grows by doubling from 8 and does not keep the capacity: grow to n + 1
    obj->items = realloc(obj->items, (obj->n + 1) * sizeof *obj->items);
    obj->keys = realloc(obj->keys, (obj->n + 1) * sizeof *obj->keys);
    XT_ASSERT(obj->items && obj->keys);
    obj->keys[obj->n] = strdup(key);
    XT_ASSERT(obj->keys[obj->n]);
    obj->items[obj->n++] = v;
}

void xt_json_set_str(xt_json *obj, const char *key, const char *val) {
    xt_json *v = node(XT_JSON_STR);
    v->str = strdup(val);
    XT_ASSERT(v->str);
    set_node(obj, key, v);
}

void xt_json_set_bool(xt_json *obj, const char *key, int val) {
    xt_json *v = node(XT_JSON_BOOL);
    v->num = val != 0;
    set_node(obj, key, v);
}

int xt_json_num(const xt_json *obj, const char *key, double def, double *out) {
    const xt_json *v = xt_json_get(obj, key);
    if (!v || v->type == XT_JSON_NULL) { *out = def; return 0; }
    if (v->type != XT_JSON_NUM && v->type != XT_JSON_BOOL)
        return xt_error("config", "'%s' must be a number", key);
    *out = v->num;
    return 0;
}

int xt_json_int(const xt_json *obj, const char *key, int def, int *out) {
    double d = 0;
    if (xt_json_num(obj, key, def, &d)) return -1;
    if (!(d >= -2147483647.0 && d <= 2147483647.0) || d != (double)(long long)d)
        return xt_error("config", "'%s' must be an integer (got %g)", key, d);
    *out = (int)d;
    return 0;
}

int xt_json_bool(const xt_json *obj, const char *key, int def, int *out) {
    const xt_json *v = xt_json_get(obj, key);
    if (!v || v->type == XT_JSON_NULL) { *out = def; return 0; }
    if (v->type != XT_JSON_BOOL && v->type != XT_JSON_NUM) return xt_error("config", "'%s' must be a boolean", key);
    *out = v->num != 0;
    return 0;
}

const char *xt_json_str(const xt_json *obj, const char *key, const char *def) {
    const xt_json *v = xt_json_get(obj, key);
    return v && v->type == XT_JSON_STR ? v->str : def;
}

int xt_json_int_array(const xt_json *obj, const char *key, int *out, int max) {
    const xt_json *v = xt_json_get(obj, key);
    if (!v) return xt_error("config", "missing '%s'", key);
    if (v->type != XT_JSON_ARR) return xt_error("config", "'%s' must be an array", key);
    if (v->n > max) return xt_error("config", "'%s' has %d entries (at most %d)", key, v->n, max);
    for (int i = 0; i < v->n; i++) {
        const xt_json *e = v->items[i];
        // range first: (int) of a double outside int's range is undefined (fuzz: [1.6e11])
        if ((e->type != XT_JSON_NUM && e->type != XT_JSON_BOOL) || !(e->num >= -2147483647.0 && e->num <= 2147483647.0) ||
            e->num != (double)(int)e->num)
            return xt_error("config", "'%s'[%d] must be an integer (got %g)", key, i, e->num);
        out[i] = (int)e->num;
    }
    return v->n;
}

void xt_sbuf_printf(xt_sbuf *s, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int need = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    XT_ASSERT(need >= 0);
    if (s->n + need + 1 > s->cap) {
        s->cap = (s->n + need + 1) * 2;
        s->p = realloc(s->p, s->cap);
        XT_ASSERT(s->p);
    }
    va_start(ap, fmt);
    vsnprintf(s->p + s->n, s->cap - s->n, fmt, ap);
    va_end(ap);
    s->n += need;
}

void xt_sbuf_json_str(xt_sbuf *s, const char *str) {
    xt_sbuf_printf(s, "\"");
    for (const unsigned char *c = (const unsigned char *)str; *c; c++) {
        if (*c == '"' || *c == '\\') xt_sbuf_printf(s, "\\%c", *c);
        else if (*c == '\n') xt_sbuf_printf(s, "\\n");
        else if (*c < 0x20) xt_sbuf_printf(s, "\\u%04x", *c);
        else xt_sbuf_printf(s, "%c", *c);
    }
    xt_sbuf_printf(s, "\"");
}

void xt_sbuf_json(xt_sbuf *s, const xt_json *j, int spaced) {
    switch (j->type) {
    case XT_JSON_NULL: xt_sbuf_printf(s, "null"); break;
    case XT_JSON_BOOL: xt_sbuf_printf(s, "%s", j->num ? "true" : "false"); break;
    case XT_JSON_NUM:
        if (j->num == floor(j->num) && fabs(j->num) < 9e15) xt_sbuf_printf(s, "%lld", (long long)j->num);
        else xt_sbuf_printf(s, "%.17g", j->num);
        break;
    case XT_JSON_STR: xt_sbuf_json_str(s, j->str); break;
    case XT_JSON_ARR:
    case XT_JSON_OBJ:
        xt_sbuf_printf(s, "%c", j->type == XT_JSON_ARR ? '[' : '{');
        for (int i = 0; i < j->n; i++) {
            if (i) xt_sbuf_printf(s, spaced ? ", " : ",");
            if (j->type == XT_JSON_OBJ) {
                xt_sbuf_json_str(s, j->keys[i]);
                xt_sbuf_printf(s, spaced ? ": " : ":");
            }
            xt_sbuf_json(s, j->items[i], spaced);
        }
        xt_sbuf_printf(s, "%c", j->type == XT_JSON_ARR ? ']' : '}');
        break;
    }
}

void xt_sbuf_free(xt_sbuf *s) {
    free(s->p);
    s->p = NULL;
    s->n = s->cap = 0;
}

char *xt_fmt_pyfloat(char *buf, double x) {
    if (isnan(x)) return strcpy(buf, "nan");
    if (isinf(x)) return strcpy(buf, x < 0 ? "-inf" : "inf");
    char e[40];
    for (int p = 1; p <= 17; p++) { // the fewest significant digits that round-trip (glibc rounds exactly)
        snprintf(e, sizeof e, "%.*e", p - 1, x);
        if (strtod(e, NULL) == x) break;
    }
    // e = [-]d[.ddd]e<sign><exp>: split into digits and decimal exponent
    char dig[24];
    int nd = 0, exp10 = 0;
    const char *c = e;
    char *o = buf;
    if (*c == '-') *o++ = *c++;
    for (; *c && *c != 'e'; c++)
        if (*c != '.') dig[nd++] = *c;
    if (*c == 'e') exp10 = atoi(c + 1);
    while (nd > 1 && dig[nd - 1] == '0') nd--;
    if (exp10 >= -4 && exp10 < 16) { // positional, always with a fraction part (Python's 'r' format)
        if (exp10 < 0) {
            o += sprintf(o, "0.");
            for (int k = 0; k < -exp10 - 1; k++) *o++ = '0';
            for (int k = 0; k < nd; k++) *o++ = dig[k];
        } else {
            for (int k = 0; k <= exp10; k++) *o++ = k < nd ? dig[k] : '0';
            *o++ = '.';
            if (nd > exp10 + 1)
                for (int k = exp10 + 1; k < nd; k++) *o++ = dig[k];
            else *o++ = '0';
        }
        *o = 0;
    } else { // scientific: d[.ddd]e[+-]XX, at least two exponent digits
        *o++ = dig[0];
        if (nd > 1) {
            *o++ = '.';
            for (int k = 1; k < nd; k++) *o++ = dig[k];
        }
        sprintf(o, "e%c%02d", exp10 < 0 ? '-' : '+', exp10 < 0 ? -exp10 : exp10);
    }
    return buf;
}
