// safetensors.c — mmap'd reader that trusts nothing, and an atomic writer.
//
// Validation (each failure names the file and the tensor): file at least 8 bytes; header length
// within the file; header is a well-formed JSON object; every entry has dtype F32/F16/BF16 (F16
// and BF16 are converted to F32 on first use), a shape of non-negative integers, data_offsets
// [begin, end] inside the data area with end - begin == numel x dtype size (overflow-checked);
// no two tensors overlap; names are unique; __metadata__ is an object of strings.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/safetensors.h"

static const char *dtype_names[XT_DTYPE_COUNT] = {"F32", "F16", "BF16"};
static const size_t dtype_size[XT_DTYPE_COUNT] = {4, 2, 2};

static int cmp_name(const void *a, const void *b) {
    return strcmp(((const xt_st_tensor *)a)->name, ((const xt_st_tensor *)b)->name);
}

typedef struct { uint64_t b, e; const char *name; } span;
static int cmp_span(const void *a, const void *b) {
    const span *x = a, *y = b;
    return x->b < y->b ? -1 : x->b > y->b ? 1 : (x->e < y->e ? -1 : x->e > y->e);
}

static int st_fail(xt_st *st, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    xt_error_file("safetensors", st->path, "%s", msg);
    return -1;
}

static int get_u64(const xt_json *v, uint64_t *out) {
    if (!v || v->type != XT_JSON_NUM || !(v->num >= 0) || v->num > 9007199254740992.0 || v->num != floor(v->num)) return -1;
    *out = (uint64_t)v->num;
    return 0;
}

static int st_parse(xt_st *st) {
    if (st->map_size < 8) return st_fail(st, "file too short (%zu bytes) for a safetensors header", st->map_size);
    uint64_t hlen;
    memcpy(&hlen, st->map, 8); // little-endian hosts only (x86-64, arm64)
    const char *kind = xt_file_kind(st->map, st->map_size);
    if (kind && !(hlen <= st->map_size - 8 && ((const char *)st->map)[8] == '{'))
        return st_fail(st, "%s, not a model file (.safetensors)", kind);
    if (hlen > st->map_size - 8)
        return st_fail(st, "header length %llu runs past the end of the file (%zu bytes)", (unsigned long long)hlen, st->map_size);
    if (hlen > 100u << 20) return st_fail(st, "header length %llu is absurd (> 100 MiB)", (unsigned long long)hlen);
    const char *h = (const char *)st->map + 8;
    st->header = xt_json_parse(h, hlen, "header");
    if (!st->header) return xt_error_in_file(st->path), xt_error_prefix("safetensors"), -1;
    if (st->header->type != XT_JSON_OBJ) return st_fail(st, "header is not a JSON object");
    const uint8_t *data = (const uint8_t *)st->map + 8 + hlen;
    uint64_t data_size = st->map_size - 8 - hlen;
    const xt_json *hd = st->header;
    st->t = xt_xcalloc(hd->n ? hd->n : 1, sizeof *st->t);
    span *spans = xt_xcalloc(hd->n ? hd->n : 1, sizeof *spans);
    int ok = -1;
    for (int i = 0; i < hd->n; i++) {
        const char *name = hd->keys[i];
        const xt_json *e = hd->items[i];
        if (!strcmp(name, "__metadata__")) {
            if (e->type != XT_JSON_OBJ) { st_fail(st, "__metadata__ is not an object"); goto out; }
            for (int k = 0; k < e->n; k++)
                if (e->items[k]->type != XT_JSON_STR) { st_fail(st, "__metadata__ value '%s' is not a string", e->keys[k]); goto out; }
            if (st->meta) { st_fail(st, "duplicate __metadata__"); goto out; }
            st->meta = e;
            continue;
        }
        if (e->type != XT_JSON_OBJ) { st_fail(st, "tensor '%s': entry is not an object", name); goto out; }
        xt_st_tensor *t = &st->t[st->n];
        const char *dt = xt_json_str(e, "dtype", NULL);
        if (!dt) { st_fail(st, "tensor '%s': missing dtype", name); goto out; }
        int d = -1;
        for (int k = 0; k < XT_DTYPE_COUNT; k++) if (!strcmp(dt, dtype_names[k])) d = k;
        if (d < 0) { st_fail(st, "tensor '%s': unsupported dtype '%s' (F32, F16 and BF16 are supported)", name, dt); goto out; }
        const xt_json *sh = xt_json_get(e, "shape"), *off = xt_json_get(e, "data_offsets");
        if (!sh || sh->type != XT_JSON_ARR) { st_fail(st, "tensor '%s': missing or malformed shape", name); goto out; }
        if (sh->n > XT_MAX_DIMS) { st_fail(st, "tensor '%s': %d dimensions (at most %d)", name, sh->n, XT_MAX_DIMS); goto out; }
        size_t numel = 1;
        for (int k = 0; k < sh->n; k++) {
            uint64_t v;
            if (get_u64(sh->items[k], &v) || v > INT64_MAX) { st_fail(st, "tensor '%s': shape[%d] is not a non-negative integer", name, k); goto out; }
            if (xt_mul_size(numel, v, &numel)) { st_fail(st, "tensor '%s': shape overflows", name); goto out; }
            t->shape[k] = (int64_t)v;
        }
        size_t nbytes;
        if (xt_mul_size(numel, dtype_size[d], &nbytes)) { st_fail(st, "tensor '%s': size overflows", name); goto out; }
        uint64_t b, en;
        if (!off || off->type != XT_JSON_ARR || off->n != 2 || get_u64(off->items[0], &b) || get_u64(off->items[1], &en)) {
            st_fail(st, "tensor '%s': missing or malformed data_offsets", name); goto out;
        }
        if (b > en || en > data_size) {
            st_fail(st, "tensor '%s': data_offsets [%llu, %llu] outside the data area (%llu bytes)", name,
                    (unsigned long long)b, (unsigned long long)en, (unsigned long long)data_size);
            goto out;
        }
        if (en - b != nbytes) {
            st_fail(st, "tensor '%s': data_offsets span %llu bytes but shape x dtype needs %zu", name,
                    (unsigned long long)(en - b), nbytes);
            goto out;
        }
        t->name = strdup(name);
        t->dtype = (xt_dtype)d;
        t->ndim = sh->n;
        t->numel = (int64_t)numel;
        t->raw = data + b;
        if (d == XT_F32 && ((uintptr_t)t->raw % 4) == 0) t->f32 = (float *)t->raw;
        spans[st->n] = (span){b, en, t->name};
        st->n++;
    }
    qsort(st->t, st->n, sizeof *st->t, cmp_name);
    for (int i = 1; i < st->n; i++)
        if (!strcmp(st->t[i].name, st->t[i - 1].name)) { st_fail(st, "tensor '%s': duplicate name", st->t[i].name); goto out; }
    qsort(spans, st->n, sizeof *spans, cmp_span);
    for (int i = 1; i < st->n; i++)
        if (spans[i].b < spans[i - 1].e && spans[i].e > spans[i].b) {
            st_fail(st, "tensor '%s': data overlaps tensor '%s'", spans[i].name, spans[i - 1].name); goto out;
        }
    ok = 0;
out:
    free(spans);
    return ok;
}

xt_st *xt_st_open(const char *path) {
    xt_st *st = xt_xcalloc(1, sizeof *st);
    st->path = strdup(path);
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        xt_error_file("safetensors", path, "cannot open: %s", strerror(errno));
        xt_st_close(st);
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        xt_error_file("safetensors", path, "not a regular file");
        close(fd);
        xt_st_close(st);
        return NULL;
    }
    st->map_size = (size_t)sb.st_size;
    if (st->map_size > 0) {
        st->map = mmap(NULL, st->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (st->map == MAP_FAILED) {
            st->map = NULL;
            xt_error_file("safetensors", path, "cannot map: %s", strerror(errno));
            close(fd);
            xt_st_close(st);
            return NULL;
        }
    }
    close(fd);
    if (st_parse(st)) {
        xt_st_close(st);
        return NULL;
    }
    return st;
}

void xt_st_close(xt_st *st) {
    if (!st) return;
    for (int i = 0; i < st->n; i++) {
        if (st->t[i].owns_f32) free(st->t[i].f32);
        free(st->t[i].name);
    }
    free(st->t);
    xt_json_free(st->header);
    if (st->map) munmap(st->map, st->map_size);
    free(st->path);
    free(st);
}

const xt_st_tensor *xt_st_find(const xt_st *st, const char *name) {
    xt_st_tensor key = {.name = (char *)name};
    return bsearch(&key, st->t, st->n, sizeof *st->t, cmp_name);
}

// IEEE half -> float, exact for every value (subnormals, inf, NaN); also used by ckpt.c.
uint16_t xt_f32_to_f16(float f) {
    uint32_t x;
    memcpy(&x, &f, 4);
    uint32_t sign = (x >> 16) & 0x8000u, ax = x & 0x7fffffffu;
    if (ax > 0x7f800000u) return (uint16_t)(sign | 0x7e00u | ((ax >> 13) & 0x3ffu)); // NaN (quiet)
    if (ax >= 0x47800000u) return (uint16_t)(sign | 0x7c00u);                         // >= 65536, inf
    if (ax < 0x38800000u) // below 2^-14: a subnormal half, units of 2^-24; the scaling is exact
        return (uint16_t)(sign | (uint32_t)rintf(fabsf(f) * 16777216.0f)); // 1024 = the smallest normal
    uint32_t h = ((ax >> 23) - 112) << 10 | ((ax >> 13) & 0x3ffu), rem = ax & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1))) h++; // a carry moves into the exponent (65520 -> inf)
    return (uint16_t)(sign | h);
}

float xt_f16_to_f32(uint16_t h) {
    uint32_t s = (uint32_t)(h >> 15) << 31, e = (h >> 10) & 31, m = h & 1023, bits;
    if (e == 0) {
        if (m == 0) bits = s;
        else { // subnormal
            float f = ldexpf((float)m, -24);
            memcpy(&bits, &f, 4);
            bits |= s;
        }
    } else if (e == 31) bits = s | 0x7f800000u | (m << 13);
    else bits = s | ((e + 112) << 23) | (m << 13);
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

const float *xt_st_f32(xt_st *st, const char *name, const xt_st_tensor **info) {
    xt_st_tensor key = {.name = (char *)name}; // the conversion below is cached in st's own tensor
    xt_st_tensor *t = bsearch(&key, st->t, st->n, sizeof *st->t, cmp_name);
    if (!t) {
        xt_error_file("safetensors", st->path, "tensor '%s' not found", name);
        return NULL;
    }
    if (info) *info = t;
    if (!t->f32) {
        float *f = xt_malloc_checked(t->numel * sizeof(float), name);
        if (!f) return NULL;
        const uint8_t *r = t->raw;
        for (int64_t i = 0; i < t->numel; i++) {
            if (t->dtype == XT_F32) memcpy(&f[i], r + 4 * i, 4);
            else {
                uint16_t h;
                memcpy(&h, r + 2 * i, 2);
                if (t->dtype == XT_F16) f[i] = xt_f16_to_f32(h);
                else f[i] = xt_bf16_to_f32(h);
            }
        }
        t->f32 = f;
        t->owns_f32 = 1;
    }
    return t->f32;
}

static const float *weight_check(xt_st *st, const char *name, int ndim, const int64_t *shape) {
    const xt_st_tensor *t;
    const float *p = xt_st_f32(st, name, &t);
    if (!p) return NULL;
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same) {
        char want[128] = "", got[128] = "";
        for (int i = 0; i < ndim; i++) snprintf(want + strlen(want), sizeof want - strlen(want), "%s%lld", i ? ", " : "", (long long)shape[i]);
        for (int i = 0; i < t->ndim; i++) snprintf(got + strlen(got), sizeof got - strlen(got), "%s%lld", i ? ", " : "", (long long)t->shape[i]);
        xt_error_file("safetensors", st->path, "tensor '%s' has shape (%s), the model config needs (%s)", name, got, want);
        return NULL;
    }
    return p;
}

const float *xt_st_weight(xt_st *st, const char *name, int ndim, ...) {
    int64_t shape[XT_MAX_DIMS];
    va_list ap;
    va_start(ap, ndim);
    for (int i = 0; i < ndim; i++) shape[i] = va_arg(ap, int64_t);
    va_end(ap);
    return weight_check(st, name, ndim, shape);
}

const float *xt_st_weightf(xt_st *st, int ndim, const int64_t *shape, const char *fmt, ...) {
    char name[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(name, sizeof name, fmt, ap);
    va_end(ap);
    return weight_check(st, name, ndim, shape);
}

float xt_bf16_to_f32(uint16_t h) {
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

const void *xt_st_weight_raw(xt_st *st, const char *name, int ndim, const int64_t *shape, xt_dtype *dtype) {
    xt_st_tensor key = {.name = (char *)name};
    const xt_st_tensor *t = bsearch(&key, st->t, st->n, sizeof *st->t, cmp_name);
    if (!t || t->dtype == XT_F32) return weight_check(st, name, ndim, shape) ? (*dtype = XT_F32, (const void *)xt_st_f32(st, name, NULL)) : NULL;
    int same = t->ndim == ndim;
    for (int i = 0; same && i < ndim; i++) same = t->shape[i] == shape[i];
    if (!same || (uintptr_t)t->raw % 2) // the message, and an aligned F32 copy
        return weight_check(st, name, ndim, shape) ? (*dtype = XT_F32, (const void *)xt_st_f32(st, name, NULL)) : NULL;
    *dtype = t->dtype;
    return t->raw;
}

const char *xt_st_meta(const xt_st *st, const char *key) { return xt_json_str(st->meta, key, NULL); }

int xt_st_check_finite(xt_st *st, const char *prefix) {
    for (int i = 0; i < st->n; i++) {
        xt_st_tensor *t = &st->t[i];
        if (!strncmp(t->name, "expected.", 9)) continue;
        if (prefix && strncmp(t->name, prefix, strlen(prefix))) continue;
        if (t->dtype != XT_F32 && !t->f32) { // on the stored bits: widening would cost an f32 copy
            const uint8_t *r = t->raw;
            uint16_t emask = t->dtype == XT_BF16 ? 0x7f80u : 0x7c00u;
            for (int64_t k = 0; k < t->numel; k++) {
                uint16_t hb;
                memcpy(&hb, r + 2 * k, 2);
                if ((hb & emask) == emask) {
                    float v = t->dtype == XT_BF16 ? xt_bf16_to_f32(hb) : xt_f16_to_f32(hb);
                    return xt_error_file("safetensors", st->path, "tensor '%s' holds a non-finite value (%g at index %lld)",
                                         t->name, v, (long long)k);
                }
            }
            continue;
        }
        const float *p = xt_st_f32(st, t->name, NULL);
        if (!p) return -1;
        for (int64_t k = 0; k < t->numel; k++)
            if (!isfinite(p[k]))
                return xt_error_file("safetensors", st->path, "tensor '%s' holds a non-finite value (%g at index %lld)",
                                     t->name, p[k], (long long)k);
    }
    return 0;
}

// ---------------------------------------------------------------------------------------------
// writer

typedef struct { char *name; float *data; int ndim; int64_t shape[XT_MAX_DIMS]; size_t numel; xt_dtype dtype; } wt;
struct xt_st_writer {
    wt *t;
    int n, cap;
    char **mk, **mv;
    int nm;
};

xt_st_writer *xt_st_writer_new(void) { return xt_xcalloc(1, sizeof(xt_st_writer)); }

void xt_st_writer_meta(xt_st_writer *w, const char *key, const char *value) {
    w->mk = realloc(w->mk, (w->nm + 1) * sizeof *w->mk);
    w->mv = realloc(w->mv, (w->nm + 1) * sizeof *w->mv);
    XT_ASSERT(w->mk && w->mv);
    w->mk[w->nm] = strdup(key);
    w->mv[w->nm] = strdup(value);
    w->nm++;
}

void xt_st_writer_add(xt_st_writer *w, const char *name, const float *data, int ndim, const int64_t *shape) {
    xt_st_writer_add_as(w, name, data, ndim, shape, XT_F32);
}

void xt_st_writer_add_as(xt_st_writer *w, const char *name, const float *data, int ndim, const int64_t *shape, xt_dtype dtype) {
    XT_ASSERT(ndim >= 0 && ndim <= XT_MAX_DIMS && dtype >= 0 && dtype < XT_DTYPE_COUNT);
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 64;
        w->t = realloc(w->t, w->cap * sizeof *w->t);
        XT_ASSERT(w->t);
    }
    wt *t = &w->t[w->n++];
    t->name = strdup(name);
    t->ndim = ndim;
    t->numel = 1;
    for (int i = 0; i < ndim; i++) { t->shape[i] = shape[i]; t->numel *= (size_t)shape[i]; }
    t->data = xt_xmalloc(t->numel * sizeof(float));
    memcpy(t->data, data, t->numel * sizeof(float));
    t->dtype = dtype;
}

uint16_t xt_f32_to_bf16_rne(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)(u >> 16 | 0x40); // NaN stays a (quiet) NaN
    return (uint16_t)((u + 0x7fffu + (u >> 16 & 1u)) >> 16);
}

// Writes t's data in its dtype. 0 / -1 (errno set).
static int write_data(FILE *f, const wt *t) {
    if (t->dtype == XT_F32) return fwrite(t->data, 4, t->numel, f) == t->numel ? 0 : -1;
    uint16_t buf[4096];
    for (size_t i = 0; i < t->numel; i += 4096) {
        size_t n = t->numel - i < 4096 ? t->numel - i : 4096;
        for (size_t k = 0; k < n; k++)
            buf[k] = t->dtype == XT_BF16 ? xt_f32_to_bf16_rne(t->data[i + k]) : xt_f32_to_f16(t->data[i + k]);
        if (fwrite(buf, 2, n, f) != n) return -1;
    }
    return 0;
}

void xt_st_writer_free(xt_st_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n; i++) { free(w->t[i].name); free(w->t[i].data); }
    for (int i = 0; i < w->nm; i++) { free(w->mk[i]); free(w->mv[i]); }
    free(w->t); free(w->mk); free(w->mv);
    free(w);
}

static int cmp_wt_name(const void *a, const void *b) { return strcmp((*(wt *const *)a)->name, (*(wt *const *)b)->name); }

int xt_st_writer_save(xt_st_writer *w, const char *path) {
    // a name twice would make a file no reader accepts: refuse before writing anything
    wt **by = xt_xmalloc((w->n + 1) * sizeof *by);
    for (int i = 0; i < w->n; i++) by[i] = &w->t[i];
    qsort(by, w->n, sizeof *by, cmp_wt_name);
    for (int i = 1; i < w->n; i++)
        if (!strcmp(by[i - 1]->name, by[i]->name)) {
            xt_error("safetensors", "%s: tensor '%s' added twice", path, by[i]->name);
            free(by);
            xt_st_writer_free(w);
            return -1;
        }
    free(by);
    xt_sbuf h = {0};
    xt_sbuf_printf(&h, "{");
    int first = 1;
    if (w->nm) {
        xt_sbuf_printf(&h, "\"__metadata__\":{");
        for (int i = 0; i < w->nm; i++) {
            xt_sbuf_printf(&h, "%s", i ? "," : "");
            xt_sbuf_json_str(&h, w->mk[i]);
            xt_sbuf_printf(&h, ":");
            xt_sbuf_json_str(&h, w->mv[i]);
        }
        xt_sbuf_printf(&h, "}");
        first = 0;
    }
    // data order: the F32 tensors first, then the 2-byte ones, so that every F32 tensor stays
    // 4-byte aligned (mmap'd in place) with no gaps (safetensors allows none)
    int *order = xt_xmalloc((w->n + 1) * sizeof *order), no = 0;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < w->n; i++)
            if ((w->t[i].dtype == XT_F32) == (pass == 0)) order[no++] = i;
    size_t off = 0;
    for (int j = 0; j < w->n; j++) {
        wt *t = &w->t[order[j]];
        xt_sbuf_printf(&h, "%s", first ? "" : ",");
        first = 0;
        xt_sbuf_json_str(&h, t->name);
        xt_sbuf_printf(&h, ":{\"dtype\":\"%s\",\"shape\":[", dtype_names[t->dtype]);
        for (int k = 0; k < t->ndim; k++) xt_sbuf_printf(&h, "%s%lld", k ? "," : "", (long long)t->shape[k]);
        size_t nb = t->numel * dtype_size[t->dtype];
        xt_sbuf_printf(&h, "],\"data_offsets\":[%zu,%zu]}", off, off + nb);
        off += nb;
    }
    xt_sbuf_printf(&h, "}");
    while (h.n % 8) xt_sbuf_printf(&h, " ");
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp.%d", path, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    int rc = -1;
    if (!f) { xt_error_file("safetensors", tmp, "cannot create: %s", strerror(errno)); goto done; }
    uint64_t hl = h.n;
    int bad = fwrite(&hl, 8, 1, f) != 1 || fwrite(h.p, 1, h.n, f) != h.n;
    for (int j = 0; !bad && j < w->n; j++) bad = write_data(f, &w->t[order[j]]) != 0;
    if (!bad) bad = fflush(f) || fsync(fileno(f));
    if (fclose(f) || bad) {
        xt_error_file("safetensors", tmp, "write failed: %s", strerror(errno));
        unlink(tmp);
        goto done;
    }
    if (rename(tmp, path)) {
        xt_error_file("safetensors", path, "cannot rename into place: %s", strerror(errno));
        unlink(tmp);
        goto done;
    }
    rc = 0;
done:
    free(order);
    xt_sbuf_free(&h);
    xt_st_writer_free(w);
    return rc;
}
