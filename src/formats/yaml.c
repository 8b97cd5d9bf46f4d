// yaml.c — the YAML subset of the official xT configs, converted to JSON text, then xt_json.
//
// Supported: block mappings and sequences by indentation (sequences may sit at their key's
// indentation, "- key: v" items open a mapping), flow sequences and mappings of scalars
// ("[0.485, 0.456]", "{}"), plain / 'single' / "double" quoted scalars, comments, empty values
// (null). Plain scalars follow YAML 1.1 as PyYAML/OmegaConf read them: null/~, true/false/
// yes/no/on/off, integers, floats; anything else (including "${data.num_classes}"
// interpolations, resolved by the caller) is a string. Anchors, tags, multi-line scalars and
// multiple documents are refused with the line number.
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "formats/ckpt.h"

typedef struct {
    int indent;
    char *text; // content without indentation and comment, right-trimmed
    int lineno;
} yline;

typedef struct {
    yline *l;
    int n, i;
    const char *what;
    xt_sbuf out;
    int depth;
} yparser;

static int yfail(yparser *y, int lineno, const char *msg) {
    return xt_error("yaml", "%s: line %d: %s", y->what, lineno, msg);
}

// strips a comment: '#' at the start or after whitespace, outside quotes
static void strip_comment(char *s) {
    char q = 0;
    for (char *p = s; *p; p++) {
        if (q) { if (*p == q) q = 0; continue; }
        if (*p == '"' || *p == '\'') { if (p == s || p[-1] == ' ' || p[-1] == '[' || p[-1] == ',' || p[-1] == ':') q = *p; continue; }
        if (*p == '#' && (p == s || p[-1] == ' ' || p[-1] == '\t')) { *p = 0; break; }
    }
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
}

static int emit_scalar(yparser *y, const char *s, int lineno) {
    size_t n = strlen(s);
    if (n >= 2 && (s[0] == '"' || s[0] == '\'')) {
        if (s[n - 1] != s[0]) return yfail(y, lineno, "unterminated quoted string");
        char *t = xt_xmalloc(n);
        size_t k = 0;
        for (size_t i = 1; i + 1 < n; i++) {
            if (s[0] == '\'' && s[i] == '\'' && s[i + 1] == '\'') { t[k++] = '\''; i++; continue; }
            if (s[0] == '"' && s[i] == '\\' && i + 2 < n) {
                char c = s[++i];
                t[k++] = c == 'n' ? '\n' : c == 't' ? '\t' : c;
                continue;
            }
            t[k++] = s[i];
        }
        t[k] = 0;
        xt_sbuf_json_str(&y->out, t);
        free(t);
        return 0;
    }
    if (s[0] == '&' || s[0] == '*' || s[0] == '!' || s[0] == '|' || s[0] == '>')
        return yfail(y, lineno, "anchors, aliases, tags and block scalars are not supported");
    if (!n || !strcmp(s, "~") || !strcasecmp(s, "null")) { xt_sbuf_printf(&y->out, "null"); return 0; }
    static const char *t[] = {"true", "yes", "on"}, *f[] = {"false", "no", "off"};
    for (int i = 0; i < 3; i++) {
        if (!strcasecmp(s, t[i])) { xt_sbuf_printf(&y->out, "true"); return 0; }
        if (!strcasecmp(s, f[i])) { xt_sbuf_printf(&y->out, "false"); return 0; }
    }
    char *e;
    double v = strtod(s, &e);
    int numeric = *e == 0 && (isdigit((unsigned char)s[0]) || ((s[0] == '-' || s[0] == '+' || s[0] == '.') && s[1] && (isdigit((unsigned char)s[1]) || s[1] == '.')));
    if (numeric && v == v && v - v == 0) { xt_sbuf_printf(&y->out, "%.17g", v); return 0; }
    xt_sbuf_json_str(&y->out, s);
    return 0;
}

// flow collection "[a, b, [c]]" or "{k: v}" of scalars, on one line
static int emit_flow(yparser *y, const char **ps, int lineno, int depth) {
    const char *s = *ps;
    if (depth > 16) return yfail(y, lineno, "flow collection nested too deeply");
    char open = *s, close = open == '[' ? ']' : '}';
    xt_sbuf_printf(&y->out, "%c", open);
    s++;
    int first = 1;
    for (;;) {
        while (*s == ' ') s++;
        if (*s == close) { s++; break; }
        if (!*s) return yfail(y, lineno, "unterminated flow collection");
        if (!first) {
            if (*s != ',') return yfail(y, lineno, "expected ',' in a flow collection");
            s++;
            while (*s == ' ') s++;
            if (*s == close) { s++; break; } // trailing comma
        }
        if (!first) xt_sbuf_printf(&y->out, ",");
        first = 0;
        if (open == '{') { // key
            const char *k = s;
            while (*s && *s != ':' && *s != ',' && *s != close) s++;
            if (*s != ':') return yfail(y, lineno, "expected 'key: value' in a flow mapping");
            char key[256];
            size_t kl = (size_t)(s - k);
            while (kl && k[kl - 1] == ' ') kl--;
            if (kl >= sizeof key) return yfail(y, lineno, "key too long");
            memcpy(key, k, kl);
            key[kl] = 0;
            xt_sbuf_json_str(&y->out, key);
            xt_sbuf_printf(&y->out, ":");
            s++;
            while (*s == ' ') s++;
        }
        if (*s == '[' || *s == '{') {
            if (emit_flow(y, &s, lineno, depth + 1)) return -1;
        } else {
            const char *b = s;
            char q = (*s == '"' || *s == '\'') ? *s : 0;
            if (q) { s++; while (*s && *s != q) s++; if (*s) s++; }
            else while (*s && *s != ',' && *s != close) s++;
            char buf[512];
            size_t bl = (size_t)(s - b);
            while (bl && b[bl - 1] == ' ') bl--;
            if (bl >= sizeof buf) return yfail(y, lineno, "scalar too long");
            memcpy(buf, b, bl);
            buf[bl] = 0;
            if (emit_scalar(y, buf, lineno)) return -1;
        }
    }
    xt_sbuf_printf(&y->out, "%c", close);
    *ps = s;
    return 0;
}

static int emit_value(yparser *y, const char *s, int lineno) {
    if (*s == '[' || *s == '{') {
        const char *p = s;
        if (emit_flow(y, &p, lineno, 0)) return -1;
        while (*p == ' ') p++;
        if (*p) return yfail(y, lineno, "text after a flow collection");
        return 0;
    }
    return emit_scalar(y, s, lineno);
}

// "key: rest" -> key (unquoted) and rest; 0 if the line is not a mapping entry
static int split_key(char *s, char **key, char **rest) {
    char q = (*s == '"' || *s == '\'') ? *s : 0;
    char *p = s;
    if (q) {
        p = strchr(s + 1, q);
        if (!p) return 0;
        p++;
    } else
        while (*p && !(*p == ':' && (p[1] == ' ' || p[1] == 0))) p++;
    if (*p != ':' || (p[1] != ' ' && p[1] != 0)) return 0;
    *p = 0;
    *key = s;
    if (q) { (*key)++; p[-1] = 0; }
    *rest = p + 1;
    while (**rest == ' ') (*rest)++;
    return 1;
}

static int is_seq_item(const char *s) { return s[0] == '-' && (s[1] == ' ' || s[1] == 0); }

static int parse_block(yparser *y, int ind);

// value after "key:" or "- " that continues on the following lines
static int parse_nested(yparser *y, int ind, int lineno) {
    if (y->i < y->n && y->l[y->i].indent > ind) return parse_block(y, y->l[y->i].indent);
    xt_sbuf_printf(&y->out, "null");
    return 0;
}

static int parse_block(yparser *y, int ind) {
    if (++y->depth > 64) return yfail(y, y->l[y->i].lineno, "nested too deeply");
    int rc = 0;
    if (is_seq_item(y->l[y->i].text)) {
        xt_sbuf_printf(&y->out, "[");
        int first = 1;
        while (!rc && y->i < y->n && y->l[y->i].indent == ind && is_seq_item(y->l[y->i].text)) {
            yline *L = &y->l[y->i];
            if (!first) xt_sbuf_printf(&y->out, ",");
            first = 0;
            char *rest = L->text + 1;
            while (*rest == ' ') rest++;
            char *k, *r, tmp[8];
            (void)tmp;
            if (!*rest) { y->i++; rc = parse_nested(y, ind, L->lineno); }
            else {
                char *copy = strdup(rest);
                int is_map = split_key(copy, &k, &r);
                free(copy);
                if (is_map) { // "- key: v": a mapping whose first line is this one, at the item's column
                    L->indent = ind + (int)(rest - L->text);
                    memmove(L->text, rest, strlen(rest) + 1);
                    rc = parse_block(y, L->indent);
                } else { rc = emit_value(y, rest, L->lineno); y->i++; }
            }
        }
        xt_sbuf_printf(&y->out, "]");
    } else {
        xt_sbuf_printf(&y->out, "{");
        int first = 1;
        while (!rc && y->i < y->n && y->l[y->i].indent == ind) {
            yline *L = &y->l[y->i];
            char *k, *r;
            if (is_seq_item(L->text)) { rc = yfail(y, L->lineno, "sequence item inside a mapping"); break; }
            if (!split_key(L->text, &k, &r)) { rc = yfail(y, L->lineno, "expected 'key: value'"); break; }
            if (!first) xt_sbuf_printf(&y->out, ",");
            first = 0;
            xt_sbuf_json_str(&y->out, k);
            xt_sbuf_printf(&y->out, ":");
            y->i++;
            if (*r) rc = emit_value(y, r, L->lineno);
            else if (y->i < y->n && y->l[y->i].indent == ind && is_seq_item(y->l[y->i].text)) rc = parse_block(y, ind);
            else rc = parse_nested(y, ind, L->lineno);
        }
        xt_sbuf_printf(&y->out, "}");
    }
    if (!rc && y->i < y->n && y->l[y->i].indent > ind) rc = yfail(y, y->l[y->i].lineno, "unexpected indentation");
    y->depth--;
    return rc;
}

xt_json *xt_yaml_parse(const char *text, size_t len, const char *what) {
    yparser y = {.what = what ? what : "yaml"};
    char *buf = xt_xmalloc(len + 1);
    memcpy(buf, text, len);
    buf[len] = 0;
    if (strlen(buf) != len) { free(buf); xt_error("yaml", "%s: NUL byte in the file", y.what); return NULL; }
    int cap = 0, lineno = 0, rc = 0;
    for (char *line = buf, *next; line && !rc; line = next) {
        next = strchr(line, '\n');
        if (next) *next++ = 0;
        lineno++;
        int ind = 0;
        while (line[ind] == ' ') ind++;
        if (line[ind] == '\t') { rc = yfail(&y, lineno, "tab indentation"); break; }
        char *c = line + ind;
        strip_comment(c);
        if (!*c) continue;
        if (!strcmp(c, "---") || !strcmp(c, "...")) {
            if (y.n) rc = yfail(&y, lineno, "multiple documents are not supported");
            continue;
        }
        if (y.n == cap) {
            cap = cap ? 2 * cap : 64;
            y.l = realloc(y.l, cap * sizeof *y.l);
            XT_ASSERT(y.l);
        }
        y.l[y.n++] = (yline){ind, c, lineno};
    }
    xt_json *j = NULL;
    if (!rc) {
        if (!y.n) xt_sbuf_printf(&y.out, "{}");
        else rc = parse_block(&y, y.l[0].indent);
        if (!rc && y.i < y.n) rc = yfail(&y, y.l[y.i].lineno, "unexpected dedent below the first line's indentation");
        if (!rc) j = xt_json_parse(y.out.p, y.out.n, y.what);
    }
    xt_sbuf_free(&y.out);
    free(y.l);
    free(buf);
    return j;
}
