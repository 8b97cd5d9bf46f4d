// file.c — whole files read into memory (configs, dataset lists), with a size cap; outputs
// written to PATH.part and renamed when complete.
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core.h"

const char *xt_file_kind(const void *bytes, size_t n) {
    const unsigned char *m = bytes;
    if (n >= 4 && ((m[0] == 'I' && m[1] == 'I' && m[2] == 42 && m[3] == 0) || (m[0] == 'M' && m[1] == 'M' && m[2] == 0 && m[3] == 42)))
        return "a TIFF image";
    if (n >= 4 && ((m[0] == 'I' && m[1] == 'I' && m[2] == 43 && m[3] == 0) || (m[0] == 'M' && m[1] == 'M' && m[2] == 0 && m[3] == 43)))
        return "a BigTIFF image";
    if (n >= 8 && !memcmp(m, "\x89PNG\r\n\x1a\n", 8)) return "a PNG image";
    if (n >= 3 && m[0] == 0xFF && m[1] == 0xD8 && m[2] == 0xFF) return "a JPEG image";
    if (n >= 12 && !memcmp(m, "\0\0\0\x0cjP  \r\n\x87\n", 12)) return "a JPEG 2000 image";
    if (n >= 4 && !memcmp(m, "PK\x03\x04", 4)) return "a zip archive (a PyTorch checkpoint? convert it with `xt convert`)";
    if (n >= 2 && m[0] == 0x80 && m[1] >= 2 && m[1] <= 5) return "a pickle (a PyTorch checkpoint? convert it with `xt convert`)";
    if (n >= 2 && m[0] == 0x1f && m[1] == 0x8b) return "a gzip file";
    if (n >= 5 && !memcmp(m, "<VRTD", 5)) return "a GDAL VRT file";
    return NULL;
}

char *xt_read_file(const char *path, size_t max, size_t *len, const char *where) {
    FILE *f = fopen(path, "rb");
    if (!f) { xt_error(where, "%s: cannot open: %s", path, strerror(errno)); return NULL; }
    size_t n = 0, cap = 65536;
    char *s = xt_xmalloc(cap + 1);
    for (;;) {
        if (n == cap) {
            cap *= 2;
            s = realloc(s, cap + 1);
            XT_ASSERT(s);
        }
        size_t got = fread(s + n, 1, cap - n, f);
        n += got;
        if (n > max) { xt_error(where, "%s: larger than %zu MiB", path, max >> 20); break; }
        if (got == 0) {
            if (ferror(f)) { xt_error(where, "%s: read error", path); break; }
            fclose(f);
            s[n] = 0;
            *len = n;
            return s;
        }
    }
    fclose(f);
    free(s);
    return NULL;
}

void xt_part_path(char *buf, size_t n, const char *path) { snprintf(buf, n, "%s.part", path); }

int xt_part_commit(const char *path, const char *where) {
    size_t n = strlen(path) + 6;
    char *tmp = xt_xmalloc(n);
    xt_part_path(tmp, n, path);
    int rc = 0;
    if (rename(tmp, path)) {
        rc = xt_error(where, "%s: cannot rename %s into place: %s", path, tmp, strerror(errno));
        remove(tmp);
    }
    free(tmp);
    return rc;
}

FILE *xt_part_fopen(const char *path, const char *where) {
    size_t n = strlen(path) + 6;
    char *tmp = xt_xmalloc(n);
    xt_part_path(tmp, n, path);
    FILE *f = fopen(tmp, "wb");
    if (!f) xt_error(where, "%s: cannot create: %s", tmp, strerror(errno));
    free(tmp);
    return f;
}

int xt_part_fclose(FILE *f, const char *path, int ok, const char *where) {
    int e = 0, discard = !ok; // discard: the caller failed and has set the error
    if (ok) {
        ok = fflush(f) == 0 && !ferror(f);
        e = errno;
    }
    ok &= fclose(f) == 0;
    if (ok) return xt_part_commit(path, where);
    if (discard) e = -1;
    size_t n = strlen(path) + 6;
    char *tmp = xt_xmalloc(n);
    xt_part_path(tmp, n, path);
    remove(tmp);
    free(tmp);
    return e < 0 ? -1 : xt_error(where, "%s: write failed: %s", path, strerror(e ? e : EIO));
}

int xt_write_file_part(const char *path, const void *data, size_t n, const char *where) {
    FILE *f = xt_part_fopen(path, where);
    if (!f) return -1;
    return xt_part_fclose(f, path, fwrite(data, 1, n, f) == n, where);
}

int xt_mkdir_p(const char *dir, const char *where) {
    char p[4096];
    size_t n = strlen(dir);
    if (!n || n >= sizeof p) return xt_error(where, "%s: cannot create: bad folder name", dir);
    memcpy(p, dir, n + 1);
    for (size_t i = 1; i <= n; i++) { // each prefix ending at a '/' (and the whole path) in turn
        if (p[i] != '/' && p[i] != 0) continue;
        char c = p[i];
        p[i] = 0;
        struct stat sb;
        if (mkdir(p, 0777) && (errno != EEXIST || stat(p, &sb) || !S_ISDIR(sb.st_mode))) {
            int e = errno == EEXIST ? ENOTDIR : errno;
            return xt_error(where, "%s: cannot create: %s", p, strerror(e));
        }
        p[i] = c;
    }
    return 0;
}

int xt_dl_load(const char *soname, const char *const *names, void **const *fns, int n, char *err, size_t nerr) {
    void *h = dlopen(soname, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        snprintf(err, nerr, "cannot load %s: %s", soname, dlerror());
        return -1;
    }
    for (int i = 0; i < n; i++)
        if (!(*fns[i] = dlsym(h, names[i]))) {
            snprintf(err, nerr, "%s: no symbol %s", soname, names[i]);
            return -1;
        }
    return 0;
}
