// npy.c — the .npy reader for point lists: the header dict, plain little-endian numeric payloads,
// and object arrays through the restricted pickle VM (xt_pk_load_numpy).
//
// Format: "\x93NUMPY", major, minor, header length (u16 in 1.0, u32 in 2.0/3.0), a Python dict
// literal {'descr': ..., 'fortran_order': ..., 'shape': (...), }, then the data. For dtype '|O'
// the data is a pickle of the whole array (protocol 2+). ref: numpy/lib/format.py.
// The xView3 shoreline files are 1-D object arrays of (N, 2) float64 / int64 / int32 arrays;
// the official scorer reads them with np.load(allow_pickle=True) and np.vstack.
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/ckpt.h"
#include "formats/npy.h"

void xt_npy_contours_free(xt_npy_contours *c) {
    if (!c) return;
    free(c->len);
    free(c->pts);
    memset(c, 0, sizeof *c);
}

// ---------------------------------------------------------------------------------------------
// the header: a Python dict literal of three known keys

typedef struct {
    const char *s, *end;
    const char *what;
} hparser;

static void skip_ws(hparser *h) {
    while (h->s < h->end && (*h->s == ' ' || *h->s == '\t' || *h->s == '\n')) h->s++;
}

static int hfail(hparser *h, const char *msg) { return xt_error("npy", "%s: header: %s", h->what, msg); }

static int expect(hparser *h, char c) {
    skip_ws(h);
    if (h->s >= h->end || *h->s != c) {
        char m[48];
        snprintf(m, sizeof m, "expected '%c'", c);
        return hfail(h, m);
    }
    h->s++;
    return 0;
}

static int hstring(hparser *h, char *out, size_t cap) { // '...' or "..." without escapes
    skip_ws(h);
    if (h->s >= h->end || (*h->s != '\'' && *h->s != '"')) return hfail(h, "expected a string");
    char q = *h->s++;
    size_t n = 0;
    while (h->s < h->end && *h->s != q) {
        if (*h->s == '\\' || n + 1 >= cap) return hfail(h, "string too long or escaped");
        out[n++] = *h->s++;
    }
    if (h->s >= h->end) return hfail(h, "unterminated string");
    h->s++;
    out[n] = 0;
    return 0;
}

typedef struct {
    char descr[16];
    int fortran, ndim, have_descr, have_fortran, have_shape;
    int64_t shape[XT_MAX_DIMS];
} header;

static int parse_header(hparser *h, header *hd) {
    if (expect(h, '{')) return -1;
    for (;;) {
        skip_ws(h);
        if (h->s < h->end && *h->s == '}') break;
        char key[32];
        if (hstring(h, key, sizeof key) || expect(h, ':')) return -1;
        skip_ws(h);
        if (!strcmp(key, "descr")) {
            if (h->s < h->end && *h->s == '[') return hfail(h, "structured dtypes are not supported");
            if (hstring(h, hd->descr, sizeof hd->descr)) return -1;
            hd->have_descr = 1;
        } else if (!strcmp(key, "fortran_order")) {
            if (h->end - h->s >= 4 && !memcmp(h->s, "True", 4)) hd->fortran = 1, h->s += 4;
            else if (h->end - h->s >= 5 && !memcmp(h->s, "False", 5)) hd->fortran = 0, h->s += 5;
            else return hfail(h, "fortran_order is not True or False");
            hd->have_fortran = 1;
        } else if (!strcmp(key, "shape")) {
            if (expect(h, '(')) return -1;
            for (;;) {
                skip_ws(h);
                if (h->s < h->end && *h->s == ')') { h->s++; break; }
                if (hd->ndim == XT_MAX_DIMS) return hfail(h, "too many dimensions");
                int64_t v = 0;
                int nd = 0;
                while (h->s < h->end && *h->s >= '0' && *h->s <= '9' && nd < 15) v = v * 10 + (*h->s++ - '0'), nd++;
                if (!nd) return hfail(h, "shape is not a tuple of integers");
                hd->shape[hd->ndim++] = v;
                skip_ws(h);
                if (h->s < h->end && *h->s == ',') h->s++;
            }
            hd->have_shape = 1;
        } else return hfail(h, "unknown key");
        skip_ws(h);
        if (h->s < h->end && *h->s == ',') h->s++;
    }
    if (!hd->have_descr || !hd->have_fortran || !hd->have_shape) return hfail(h, "missing descr, fortran_order or shape");
    return 0;
}

// ---------------------------------------------------------------------------------------------
// numeric elements

static int code_ok(const char *code) { // kind + size as in numpy's dtype.str without the order
    static const char *const ok[] = {"f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1"};
    for (size_t k = 0; k < sizeof ok / sizeof *ok; k++)
        if (!strcmp(code, ok[k])) return 1;
    return 0;
}

static double element(const uint8_t *p, const char *code) {
    int sz = code[1] - '0';
    uint64_t u = 0;
    for (int i = sz - 1; i >= 0; i--) u = u << 8 | p[i]; // little-endian
    switch (code[0]) {
    case 'f':
        if (sz == 8) { double d; memcpy(&d, &u, 8); return d; }
        if (sz == 4) { uint32_t b = (uint32_t)u; float f; memcpy(&f, &b, 4); return f; }
        return xt_f16_to_f32((uint16_t)u);
    case 'i': {
        int shift = 64 - 8 * sz;
        return (double)((int64_t)(u << shift) >> shift);
    }
    default: return (double)u; // u, b
    }
}

// Appends an (N, 2) (or (2,) = one point) numeric block to out.
static int add_block(xt_npy_contours *out, const char *what, int k, int ndim, const int64_t *shape, int fortran,
                     const uint8_t *data, const char *code) {
    int64_t n;
    if (ndim == 2 && shape[1] == 2) n = shape[0];
    else if (ndim == 1 && shape[0] == 2) n = 1;
    else {
        char s[64] = "";
        for (int i = 0; i < ndim; i++) snprintf(s + strlen(s), sizeof s - strlen(s), "%s%lld", i ? ", " : "", (long long)shape[i]);
        return xt_error("npy", "%s: contour %d has shape (%s), expected (N, 2) points", what, k, s);
    }
    int sz = code[1] - '0';
    out->len = realloc(out->len, (size_t)(out->n + 1) * sizeof *out->len);
    out->pts = realloc(out->pts, (size_t)(out->total + n) * 2 * sizeof *out->pts + 1);
    XT_ASSERT(out->len && out->pts);
    for (int64_t i = 0; i < n; i++)
        for (int j = 0; j < 2; j++) {
            int64_t at = (ndim == 2 && fortran) ? j * n + i : i * 2 + j;
            out->pts[(out->total + i) * 2 + j] = element(data + at * sz, code);
        }
    out->len[out->n++] = n;
    out->total += n;
    return 0;
}

static int from_pickle(const uint8_t *p, size_t n, const char *what, int64_t count, xt_npy_contours *out) {
    xt_pk *pk = xt_pk_load_numpy(p, n, NULL, what);
    if (!pk) return -1;
    int rc = -1;
    const xt_pk_obj *r = xt_pk_result(pk);
    if (r->type != XT_PK_NDARRAY || !r->u.nd->built || r->u.nd->code[0] != 'O') {
        xt_error("npy", "%s: the pickle is a %s, not a numpy object array", what, xt_pk_type_name(r->type));
        goto done;
    }
    const xt_pk_ndarray *a = r->u.nd;
    if (a->ndim != 1 || a->numel != count) {
        xt_error("npy", "%s: the pickled array has %d dimensions and %lld elements, the header says (%lld,)", what, a->ndim,
                 (long long)a->numel, (long long)count);
        goto done;
    }
    for (int k = 0; k < a->data->n; k++) {
        const xt_pk_obj *e = a->data->u.items[k];
        if (e->type != XT_PK_NDARRAY || !e->u.nd->built || !code_ok(e->u.nd->code)) {
            xt_error("npy", "%s: contour %d is a %s, not a numeric numpy array", what, k,
                     e->type == XT_PK_NDARRAY ? "numpy array of an unsupported dtype" : xt_pk_type_name(e->type));
            goto done;
        }
        const xt_pk_ndarray *c = e->u.nd;
        if (add_block(out, what, k, c->ndim, c->shape, c->fortran, (const uint8_t *)c->data->u.s, c->code)) goto done;
    }
    rc = 0;
done:
    xt_pk_free(pk);
    return rc;
}

int xt_npy_parse_contours(const uint8_t *data, size_t size, const char *what, xt_npy_contours *out) {
    memset(out, 0, sizeof *out);
    if (size < 10 || memcmp(data, "\x93NUMPY", 6)) return xt_error("npy", "%s: not a .npy file (no \\x93NUMPY magic)", what);
    int major = data[6];
    if (major < 1 || major > 3) return xt_error("npy", "%s: .npy format version %d.%d is not supported", what, major, data[7]);
    size_t hl, off = major == 1 ? 10 : 12;
    if (size < off) return xt_error("npy", "%s: truncated header", what);
    hl = major == 1 ? (size_t)(data[8] | data[9] << 8) : (size_t)(data[8] | data[9] << 8 | data[10] << 16 | (uint32_t)data[11] << 24);
    if (hl > size - off) return xt_error("npy", "%s: header of %zu bytes runs past the end of the file (%zu bytes)", what, hl, size);
    header hd = {0};
    hparser h = {(const char *)data + off, (const char *)data + off + hl, what};
    if (parse_header(&h, &hd)) return -1;
    const uint8_t *p = data + off + hl;
    size_t left = size - off - hl;
    int64_t numel = 1;
    for (int i = 0; i < hd.ndim; i++) {
        if (hd.shape[i] && numel > INT64_MAX / 16 / hd.shape[i]) return xt_error("npy", "%s: absurd shape", what);
        numel *= hd.shape[i];
    }
    int rc;
    if (!strcmp(hd.descr, "|O")) {
        if (hd.ndim != 1) return xt_error("npy", "%s: an object array of %d dimensions (expected 1)", what, hd.ndim);
        if (numel == 0) return 0; // np.save writes the pickle of an empty array too; len == 0 is all that counts
        rc = from_pickle(p, left, what, numel, out);
    } else {
        const char *code = hd.descr + (strchr("<|=", hd.descr[0]) ? 1 : 0);
        if (hd.descr[0] == '>' || !code_ok(code))
            return xt_error("npy", "%s: dtype '%s' is not supported (little-endian numbers or objects)", what, hd.descr);
        if (hd.ndim == 0) return xt_error("npy", "%s: a scalar, not an array of points", what);
        if (hd.shape[0] == 0) return 0; // len(array) == 0: no shoreline
        if ((uint64_t)numel * (uint64_t)(code[1] - '0') > left)
            return xt_error("npy", "%s: data of %lld elements runs past the end of the file", what, (long long)numel);
        rc = add_block(out, what, 0, hd.ndim, hd.shape, hd.fortran, p, code);
    }
    if (rc) xt_npy_contours_free(out);
    return rc;
}

int xt_npy_read_contours(const char *path, xt_npy_contours *out) {
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY);
    if (fd < 0) return xt_error("npy", "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        return xt_error("npy", "%s: not a regular file", path);
    }
    size_t size = (size_t)sb.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (size && map == MAP_FAILED) return xt_error("npy", "%s: cannot map: %s", path, strerror(errno));
    int rc = xt_npy_parse_contours(map, size, path, out);
    if (size) munmap(map, size);
    return rc;
}

// ---------------------------------------------------------------------------------------------
// writer: the xView3 shoreline layout, as np.save(allow_pickle) of a 1-D object array of (N, 2)
// float64 arrays writes it (format 1.0, pickle protocol 3, the opcodes numpy's __reduce__ gives;
// only the memo entries that are read back are stored).

typedef struct {
    char *p;
    size_t n, cap;
    int oom;
} bbuf;

static void bb_put(bbuf *b, const void *src, size_t n) {
    if (b->oom) return;
    if (b->n + n > b->cap) {
        size_t cap = (b->n + n) * 2 + 256;
        char *q = realloc(b->p, cap);
        if (!q) { b->oom = 1; return; }
        b->p = q, b->cap = cap;
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

#define LIT(b, s) bb_put(b, s, sizeof(s) - 1) // a literal, embedded NULs included

static void pk_int(bbuf *b, int64_t v) { // BININT1 / BININT2 / BININT
    if (v >= 0 && v < 256) {
        char o[2] = {'K', (char)v};
        bb_put(b, o, 2);
    } else if (v >= 0 && v < 65536) {
        char o[3] = {'M', (char)(v & 255), (char)(v >> 8)};
        bb_put(b, o, 3);
    } else {
        uint32_t u = (uint32_t)(int32_t)v;
        LIT(b, "J");
        bb_put(b, (const char *)&u, 4);
    }
}

static void pk_str(bbuf *b, const char *s) { // BINUNICODE
    uint32_t n = (uint32_t)strlen(s);
    LIT(b, "X");
    bb_put(b, (const char *)&n, 4);
    bb_put(b, s, n);
}

// numpy.dtype(code, False, True) with its state tuple (3, order, None, None, None, -1, -1, flags)
// (the callable numpy.dtype on the stack already)
static void pk_dtype(bbuf *b, const char *code, const char *order, int flags) {
    pk_str(b, code);
    LIT(b, "\x89\x88\x87R(K\x03");
    pk_str(b, order);
    LIT(b, "NNNJ\xff\xff\xff\xffJ\xff\xff\xff\xff");
    pk_int(b, flags);
    LIT(b, "tb");
}

// _reconstruct(ndarray, (0,), b'b') then BUILD (1, shape, dtype, fortran False, data)
static void pk_array_head(bbuf *b) { LIT(b, "h\x00h\x01K\x00\x85h\x03\x87R(K\x01"); }

int xt_npy_write_contours(const char *path, const xt_npy_contours *c) {
    bbuf b = {0};
    char hdr[128];
    int hl = snprintf(hdr, sizeof hdr, "{'descr': '|O', 'fortran_order': False, 'shape': (%d,), }", c->n);
    int total = 10 + hl + 1, pad = (64 - total % 64) % 64; // header padded to a multiple of 64 with spaces, then '\n'
    LIT(&b, "\x93NUMPY\x01\x00");
    uint16_t hlen = (uint16_t)(hl + pad + 1);
    bb_put(&b, (const char *)&hlen, 2);
    bb_put(&b, hdr, hl);
    for (int i = 0; i < pad; i++) LIT(&b, " ");
    LIT(&b, "\n");
    // memo 0 _reconstruct, 1 ndarray, 3 b'b', 7 numpy.dtype
    LIT(&b, "\x80\x03" "cnumpy.core.multiarray\n_reconstruct\nq\x00" "cnumpy\nndarray\nq\x01"
                       "K\x00\x85" "C\x01" "bq\x03\x87R(K\x01");
    pk_int(&b, c->n);
    LIT(&b, "\x85" "cnumpy\ndtype\nq\x07");
    pk_dtype(&b, "O8", "|", 63);
    LIT(&b, "\x89]");
    const double *p = c->pts;
    for (int k = 0; k < c->n; k++) {
        pk_array_head(&b);
        pk_int(&b, c->len[k]);
        pk_int(&b, 2);
        LIT(&b, "\x86h\x07");
        pk_dtype(&b, "f8", "<", 0);
        LIT(&b, "\x89");
        uint64_t nb = (uint64_t)c->len[k] * 2 * sizeof(double);
        if (nb >= (1ull << 32)) {
            free(b.p);
            return xt_error("npy", "%s: contour %d has %lld points: too many", path, k, (long long)c->len[k]);
        }
        uint32_t n32 = (uint32_t)nb;
        LIT(&b, "B");
        bb_put(&b, (const char *)&n32, 4);
        bb_put(&b, (const char *)p, nb);
        p += c->len[k] * 2;
        LIT(&b, "tba");
    }
    LIT(&b, "tb.");
    if (b.oom) return xt_error("npy", "%s: out of memory", path);
    int rc = xt_write_file_part(path, b.p, b.n, "npy"); // PATH.part, renamed when complete
    free(b.p);
    return rc;
}
