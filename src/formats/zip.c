// zip.c — a read-only zip reader for PyTorch checkpoints (torch.save since 1.6).
//
// Trusts nothing: the end-of-central-directory record (and its zip64 form) must lie inside the
// file, every central entry must fit in the directory, every local header and its data must lie
// inside the file, names must be unique, and every entry read is CRC-32 checked. Only methods 0
// (stored: what torch writes) and 8 (deflate, via zlib) are accepted; encryption is refused.
// ref: APPNOTE.TXT 6.3 (PKWARE), sections 4.3.7 (local header), 4.3.12 (central header),
// 4.3.14-16 (zip64 end records), 4.5.3 (zip64 extra field).
#include <string.h>
#include <zlib.h>

#include "formats/ckpt.h"

typedef struct {
    char *name;
    uint64_t csize, usize, local;
    uint32_t crc;
    uint16_t method, flags;
    const uint8_t *data; // resolved from the local header on first read
    uint8_t *inflated;   // owned copy for deflated entries
    int checked;         // CRC verified
} zentry;

typedef struct { const char *name; int idx; } zname;
static int cmp_zname(const void *a, const void *b) { return strcmp(((const zname *)a)->name, ((const zname *)b)->name); }

struct xt_zip {
    const uint8_t *p;
    size_t size;
    char *what;
    int n;
    zentry *e;
    zname *sorted; // names sorted, for lookup
};

int xt__zip_no_crc; // fuzzing only: lets mutated entries reach the pickle VM and the loader

static uint16_t rd16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t rd32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint64_t rd64(const uint8_t *p) { return (uint64_t)rd32(p) | (uint64_t)rd32(p + 4) << 32; }

static xt_zip *zfail(xt_zip *z, const char *fmt, const char *a, unsigned long long b) {
    char msg[512];
    snprintf(msg, sizeof msg, fmt, a, b);
    xt_error("zip", "%s: %s", z->what, msg);
    xt_zip_close(z);
    return NULL;
}


xt_zip *xt_zip_open(const uint8_t *p, size_t size, const char *what) {
    xt_zip *z = xt_xcalloc(1, sizeof *z);
    z->p = p;
    z->size = size;
    z->what = strdup(what ? what : "archive");
    if (size < 22) return zfail(z, "%sfile too short for a zip archive (%llu bytes)", "", size);
    // End of central directory: 22 bytes + comment (<= 65535), searched backwards.
    size_t lo = size > 22 + 65535 ? size - 22 - 65535 : 0, eocd = (size_t)-1;
    for (size_t i = size - 22 + 1; i-- > lo;)
        if (rd32(p + i) == 0x06054b50 && i + 22 + rd16(p + i + 20) <= size) { eocd = i; break; }
    if (eocd == (size_t)-1) return zfail(z, "%sno end-of-central-directory record (truncated or not a zip file; %llu bytes)", "", size);
    const uint8_t *E = p + eocd;
    if (rd16(E + 4) != 0 || rd16(E + 6) != 0) return zfail(z, "%smulti-disk archives are not supported%llu", "", 0);
    uint64_t n = rd16(E + 10), cd_size = rd32(E + 12), cd_off = rd32(E + 16);
    if (n == 0xFFFF || cd_size == 0xFFFFFFFFu || cd_off == 0xFFFFFFFFu) {
        // zip64: locator (20 bytes) right before the EOCD, pointing at the zip64 EOCD record
        if (eocd < 20 || rd32(p + eocd - 20) != 0x07064b50)
            return zfail(z, "%szip64 fields without a zip64 end-of-central-directory locator%llu", "", 0);
        uint64_t r = rd64(p + eocd - 20 + 8);
        if (r > size || size - r < 56 || rd32(p + r) != 0x06064b50)
            return zfail(z, "%szip64 end-of-central-directory record at %llu is outside the file or corrupt", "", r);
        n = rd64(p + r + 32);
        cd_size = rd64(p + r + 40);
        cd_off = rd64(p + r + 48);
    }
    if (cd_off > size || cd_size > size - cd_off)
        return zfail(z, "%scentral directory at offset %llu runs past the end of the file (truncated?)", "", cd_off);
    if (n > cd_size / 46) return zfail(z, "%sentry count %llu does not fit in the central directory", "", n);
    z->e = xt_xcalloc(n ? n : 1, sizeof *z->e);
    const uint8_t *c = p + cd_off, *cend = c + cd_size;
    for (uint64_t k = 0; k < n; k++) {
        if (cend - c < 46 || rd32(c) != 0x02014b50) return zfail(z, "%scentral directory entry %llu is corrupt", "", k);
        zentry *e = &z->e[z->n];
        e->flags = rd16(c + 8);
        e->method = rd16(c + 10);
        e->crc = rd32(c + 16);
        e->csize = rd32(c + 20);
        e->usize = rd32(c + 24);
        size_t nl = rd16(c + 28), xl = rd16(c + 30), cl = rd16(c + 32);
        e->local = rd32(c + 42);
        if ((size_t)(cend - c) < 46 + nl + xl + cl) return zfail(z, "%scentral directory entry %llu runs past the directory", "", k);
        e->name = xt_xmalloc(nl + 1);
        memcpy(e->name, c + 46, nl);
        e->name[nl] = 0;
        z->n++;
        if (strlen(e->name) != nl) return zfail(z, "entry '%s': NUL byte in the name%llu", e->name, 0);
        // zip64 extra field: the 64-bit values of the fields that are 0xFFFFFFFF, in this order
        const uint8_t *x = c + 46 + nl, *xend = x + xl;
        while (xend - x >= 4) {
            uint16_t id = rd16(x), len = rd16(x + 2);
            if ((size_t)(xend - x - 4) < len) return zfail(z, "entry '%s': extra field runs past its record%llu", e->name, 0);
            if (id == 0x0001) {
                const uint8_t *q = x + 4, *qe = q + len;
                uint64_t *f[3] = {&e->usize, &e->csize, &e->local};
                for (int j = 0; j < 3; j++) {
                    if (*f[j] != 0xFFFFFFFFu) continue;
                    if (qe - q < 8) return zfail(z, "entry '%s': zip64 extra field too short%llu", e->name, 0);
                    *f[j] = rd64(q);
                    q += 8;
                }
            }
            x += 4 + len;
        }
        if (e->flags & 1) return zfail(z, "entry '%s': encrypted entries are not supported%llu", e->name, 0);
        if (e->method != 0 && e->method != 8)
            return zfail(z, "entry '%s': compression method %llu is not supported (stored and deflate are)", e->name, e->method);
        if (e->method == 0 && e->csize != e->usize)
            return zfail(z, "entry '%s': stored entry with compressed size != size (%llu)", e->name, e->csize);
        if (e->local > size || e->csize > size)
            return zfail(z, "entry '%s': data at offset %llu lies outside the file (truncated?)", e->name, e->local);
        c += 46 + nl + xl + cl;
    }
    z->sorted = xt_xmalloc((z->n ? z->n : 1) * sizeof *z->sorted);
    for (int i = 0; i < z->n; i++) z->sorted[i] = (zname){z->e[i].name, i};
    qsort(z->sorted, z->n, sizeof *z->sorted, cmp_zname);
    for (int i = 1; i < z->n; i++)
        if (!strcmp(z->sorted[i].name, z->sorted[i - 1].name))
            return zfail(z, "entry '%s' appears twice%llu", z->sorted[i].name, 0);
    return z;
}

void xt_zip_close(xt_zip *z) {
    if (!z) return;
    for (int i = 0; i < z->n; i++) { free(z->e[i].name); free(z->e[i].inflated); }
    free(z->e);
    free(z->sorted);
    free(z->what);
    free(z);
}

int xt_zip_count(const xt_zip *z) { return z->n; }
const char *xt_zip_name(const xt_zip *z, int i) { return z->e[i].name; }
uint64_t xt_zip_size(const xt_zip *z, int i) { return z->e[i].usize; }

int xt_zip_find(const xt_zip *z, const char *name) {
    int lo = 0, hi = z->n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2, c = strcmp(z->sorted[mid].name, name);
        if (!c) return z->sorted[mid].idx;
        if (c < 0) lo = mid + 1; else hi = mid - 1;
    }
    return -1;
}

static int rfail(xt_zip *z, zentry *e, const char *msg, unsigned long long v) {
    char m[256];
    snprintf(m, sizeof m, msg, v);
    return xt_error("zip", "%s: entry '%s': %s", z->what, e->name, m);
}

const uint8_t *xt_zip_read(xt_zip *z, int i, size_t *out_size) {
    XT_ASSERT(i >= 0 && i < z->n);
    zentry *e = &z->e[i];
    if (!e->data) {
        const uint8_t *L = z->p + e->local;
        if (z->size - e->local < 30 || rd32(L) != 0x04034b50) return rfail(z, e, "bad local header at offset %llu", e->local), NULL;
        uint64_t start = e->local + 30 + (uint64_t)rd16(L + 26) + rd16(L + 28);
        if (rd16(L + 26) != strlen(e->name) || memcmp(L + 30, e->name, rd16(L + 26)))
            return rfail(z, e, "local header name differs from the central directory%llu", 0), NULL;
        if (start > z->size || e->csize > z->size - start)
            return rfail(z, e, "data (%llu bytes) runs past the end of the file (truncated?)", e->csize), NULL;
        e->data = z->p + start;
    }
    const uint8_t *out = e->data;
    if (e->method == 8) {
        if (!e->inflated) {
            // deflate expands at most ~1032:1; refuse declared sizes beyond that before allocating
            if (e->usize > 1032 * (e->csize + 1) || e->usize > ((uint64_t)1 << 40))
                return rfail(z, e, "declared size %llu is impossible for its compressed size", e->usize), NULL;
            uint8_t *buf = xt_malloc_checked(e->usize ? e->usize : 1, e->name);
            if (!buf) return NULL;
            z_stream s;
            memset(&s, 0, sizeof s);
            if (inflateInit2(&s, -15) != Z_OK) { free(buf); return rfail(z, e, "zlib init failed%llu", 0), NULL; }
            uint64_t in_left = e->csize, out_done = 0;
            const uint8_t *in = e->data;
            int rc = Z_OK;
            while (rc == Z_OK) { // chunks: avail_in/avail_out are 32-bit
                if (!s.avail_in && in_left) {
                    s.next_in = (Bytef *)in;
                    s.avail_in = in_left > (1u << 30) ? (1u << 30) : (uInt)in_left;
                    in += s.avail_in;
                    in_left -= s.avail_in;
                }
                s.next_out = buf + out_done;
                uint64_t room = e->usize - out_done;
                s.avail_out = room > (1u << 30) ? (1u << 30) : (uInt)room;
                uInt before = s.avail_out;
                rc = inflate(&s, Z_NO_FLUSH);
                out_done += before - s.avail_out;
            }
            inflateEnd(&s);
            if (rc != Z_STREAM_END || out_done != e->usize) {
                free(buf);
                return rfail(z, e, "deflate stream is corrupt or its size differs from the declared %llu bytes", e->usize), NULL;
            }
            e->inflated = buf;
        }
        out = e->inflated;
    }
    if (!e->checked) {
        uLong crc = crc32(0L, Z_NULL, 0);
        const uint8_t *q = out;
        for (uint64_t left = e->usize; left;) {
            uInt k = left > (1u << 30) ? (1u << 30) : (uInt)left;
            crc = crc32(crc, q, k);
            q += k;
            left -= k;
        }
        if ((uint32_t)crc != e->crc && !xt__zip_no_crc) {
            char m[128];
            snprintf(m, sizeof m, "CRC-32 mismatch (stored %08x, computed %08x): the file is corrupt", e->crc, (unsigned)crc);
            xt_error("zip", "%s: entry '%s': %s", z->what, e->name, m);
            return NULL;
        }
        e->checked = 1;
    }
    if (out_size) *out_size = (size_t)e->usize;
    return out;
}
