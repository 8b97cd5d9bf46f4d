// file.c — whole files read into memory (configs, dataset lists), with a size cap.
#include <string.h>

#include "core/core.h"

char *xt_read_file(const char *path, size_t max, size_t *len, const char *where) {
    FILE *f = fopen(path, "rb");
    if (!f) { xt_error(where, "%s: cannot open", path); return NULL; }
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
