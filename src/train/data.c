// data.c — training data: a folder of images listed by a CSV (`path,label`), the iNaturalist
// 2018 JSON layout (`images`, `annotations`, `categories`), and a generated context-dependent
// task ("synth:N[:seed]") for the learning proof. Images are read through the raster reader
// (PNG, JPEG, TIFF) as one S x S window: a random crop + horizontal flip when augmenting, the
// centre otherwise; smaller images are zero-padded (after normalisation). Everything random is a
// pure function of (seed, step, sample), so a resumed run sees exactly the same data.
#include <ctype.h>
#include <math.h>
#include <string.h>

#include "formats/raster.h"
#include "train/train.h"

uint64_t xt_rng_mix(uint64_t z) { // splitmix64 finaliser
    z += 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
double xt_rng_u01(uint64_t *s) { *s = xt_rng_mix(*s); return (double)(*s >> 11) * (1.0 / 9007199254740992.0); }
double xt_rng_normal(uint64_t *s) {
    double u = xt_rng_u01(s), v = xt_rng_u01(s);
    return sqrt(-2.0 * log(u > 1e-300 ? u : 1e-300)) * cos(2 * M_PI * v);
}

void xt_dataset_free(xt_dataset *d) {
    for (int i = 0; i < d->n && d->paths; i++) free(d->paths[i]);
    free(d->paths);
    free(d->labels);
    memset(d, 0, sizeof *d);
}

static char *join(const char *dir, const char *p) {
    if (p[0] == '/' || !dir[0]) return strdup(p);
    size_t n = strlen(dir) + strlen(p) + 2;
    char *s = xt_xmalloc(n);
    snprintf(s, n, "%s/%s", dir, p);
    return s;
}

#define LIST_MAX_BYTES ((size_t)1 << 31) // dataset lists (CSV, iNaturalist JSON)

static void add(xt_dataset *d, char *path, int label, int *cap) {
    if (d->n == *cap) {
        *cap = *cap ? 2 * *cap : 256;
        d->paths = realloc(d->paths, *cap * sizeof *d->paths);
        d->labels = realloc(d->labels, *cap * sizeof *d->labels);
        XT_ASSERT(d->paths && d->labels);
    }
    d->paths[d->n] = path;
    d->labels[d->n++] = label;
    if (label + 1 > d->n_classes) d->n_classes = label + 1;
}

static int open_csv(xt_dataset *d, const char *path, const char *dir) {
    size_t len;
    char *s = xt_read_file(path, LIST_MAX_BYTES, &len, "data");
    if (!s) return -1;
    int cap = 0, line = 0;
    for (char *p = s, *nl; p && *p; p = nl) {
        nl = strchr(p, '\n');
        if (nl) *nl++ = 0;
        line++;
        size_t l = strlen(p);
        while (l && (p[l - 1] == '\r' || p[l - 1] == ' ')) p[--l] = 0;
        if (!l) continue;
        char *comma = strrchr(p, ',');
        if (!comma) { free(s); return xt_error("data", "%s:%d: expected 'path,label'", path, line); }
        *comma = 0;
        char *e;
        long lab = strtol(comma + 1, &e, 10);
        if (e == comma + 1 || *e) {
            if (line == 1) continue; // header
            xt_error("data", "%s:%d: label '%s' is not an integer", path, line, comma + 1);
            free(s);
            return -1;
        }
        if (lab < 0 || lab > 1000000) { free(s); return xt_error("data", "%s:%d: label %ld out of range", path, line, lab); }
        add(d, join(dir, p), (int)lab, &cap);
    }
    free(s);
    if (!d->n) return xt_error("data", "%s: no samples", path);
    return 0;
}

// ref: iNaturalist 2018 train2018.json / val2018.json
static int open_inat(xt_dataset *d, const char *path, const char *dir) {
    size_t len;
    char *s = xt_read_file(path, LIST_MAX_BYTES, &len, "data");
    if (!s) return -1;
    xt_json *j = xt_json_parse(s, len, path);
    free(s);
    if (!j) return -1;
    const xt_json *im = xt_json_get(j, "images"), *an = xt_json_get(j, "annotations");
    int rc = -1, cap = 0;
    if (!im || !an || im->type != XT_JSON_ARR || an->type != XT_JSON_ARR) {
        xt_error("data", "%s: not an iNaturalist JSON (needs 'images' and 'annotations' arrays)", path);
        goto done;
    }
    // annotations by image id: iNat ids are dense, but do not rely on it
    for (int i = 0; i < im->n; i++) {
        int id = -1, cat = -1;
        const char *fn = xt_json_str(im->items[i], "file_name", NULL);
        if (xt_json_int(im->items[i], "id", -1, &id) || !fn) { xt_error("data", "%s: images[%d] needs id and file_name", path, i); goto done; }
        for (int k = 0; k < an->n; k++) { // linear scan from the same index first (files list them in order)
            const xt_json *a = an->items[(i + k) % an->n];
            int iid = -1;
            if (xt_json_int(a, "image_id", -1, &iid)) goto done;
            if (iid == id) {
                if (xt_json_int(a, "category_id", -1, &cat)) goto done;
                break;
            }
        }
        if (cat < 0) { xt_error("data", "%s: image id %d has no annotation", path, id); goto done; }
        add(d, join(dir, fn), cat, &cap);
    }
    const xt_json *cats = xt_json_get(j, "categories");
    if (cats && cats->type == XT_JSON_ARR && cats->n > d->n_classes) d->n_classes = cats->n;
    rc = d->n ? 0 : xt_error("data", "%s: no images", path);
done:
    xt_json_free(j);
    return rc;
}

int xt_dataset_open(xt_dataset *d, const char *spec, const char *root) {
    memset(d, 0, sizeof *d);
    if (!strncmp(spec, "synth:", 6)) {
        char *e;
        long n = strtol(spec + 6, &e, 10);
        unsigned long long seed = 1;
        if (*e == ':') seed = strtoull(e + 1, &e, 10);
        if (n < 1 || n > 100000000 || *e) return xt_error("data", "'%s': expected synth:N[:seed]", spec);
        d->synth = 1, d->n = (int)n, d->seed = seed, d->n_classes = 2;
        return 0;
    }
    char dir[1024] = "";
    if (root) snprintf(dir, sizeof dir, "%s", root);
    else {
        const char *sl = strrchr(spec, '/');
        if (sl) snprintf(dir, sizeof dir, "%.*s", (int)(sl - spec), spec);
    }
    size_t l = strlen(spec);
    int rc = l > 5 && !strcasecmp(spec + l - 5, ".json") ? open_inat(d, spec, dir) : open_csv(d, spec, dir);
    if (rc) xt_dataset_free(d);
    return rc;
}

// The generated task: an S x S image of (S/crop)^2 regions with noise, a red square in one
// region and a green one in another region of a different column. Label 1 when the red square
// is left of the green one. The squares' colours are the same whatever the side, so a head that
// pools regions without knowing where they are (GAP) sees the same statistics for both labels.
typedef struct { int ca, cb, ra, rb, xa, ya, xb, yb, m; } synth_geo;

static synth_geo synth_geometry(const xt_dataset *d, int i, int S, int crop) {
    uint64_t r = xt_rng_mix(d->seed * 0x9E3779B97F4A7C15ull ^ (uint64_t)i);
    synth_geo g;
    int G = S / crop > 1 ? S / crop : 1;
    g.m = crop / 4 > 2 ? crop / 4 : 2;
    g.ca = (int)(xt_rng_u01(&r) * G), g.cb = (int)(xt_rng_u01(&r) * (G - 1));
    if (G > 1 && g.cb >= g.ca) g.cb++;
    g.ra = (int)(xt_rng_u01(&r) * G), g.rb = (int)(xt_rng_u01(&r) * G);
    g.xa = g.ca * crop + (int)(xt_rng_u01(&r) * (crop - g.m)), g.ya = g.ra * crop + (int)(xt_rng_u01(&r) * (crop - g.m));
    g.xb = g.cb * crop + (int)(xt_rng_u01(&r) * (crop - g.m)), g.yb = g.rb * crop + (int)(xt_rng_u01(&r) * (crop - g.m));
    return g;
}

static void synth_sample(const xt_dataset *d, int i, float *img, int C, int S, int crop) {
    synth_geo g = synth_geometry(d, i, S, crop);
    uint64_t r = xt_rng_mix(d->seed * 0xD1B54A32D192ED03ull ^ (uint64_t)i ^ 0xABCDEFull);
    for (size_t k = 0; k < (size_t)C * S * S; k++) img[k] = (float)(0.3 * xt_rng_normal(&r));
    for (int q = 0; q < 2; q++) { // q 0: red (band 0), 1: green (band 1)
        int x0 = q ? g.xb : g.xa, y0 = q ? g.yb : g.ya;
        for (int c = 0; c < C; c++)
            for (int y = y0; y < y0 + g.m; y++)
                for (int x = x0; x < x0 + g.m; x++) img[((size_t)c * S + y) * S + x] = c == q ? 2.0f : -1.0f;
    }
}

int xt_dataset_label(const xt_dataset *d, int i, int crop, int S) {
    if (!d->synth) return d->labels[i];
    synth_geo g = synth_geometry(d, i, S, crop);
    return g.ca < g.cb; // red left of green
}

int xt_dataset_load(const xt_dataset *d, int i, float *img, int C, int S, int crop, uint64_t aug, int augment,
                    int *label) {
    if (d->synth) {
        if (C != 3) return xt_error("data", "the synthetic task has 3 channels, the model %d", C);
        synth_sample(d, i, img, C, S, crop);
        *label = xt_dataset_label(d, i, crop, S);
        return 0;
    }
    *label = d->labels[i];
    xt_raster *r = xt_raster_open(d->paths[i]);
    if (!r) return -1;
    const xt_raster_info *in = xt_raster_get_info(r);
    if (in->bands < C || C > XT_NORM_MAX_BANDS) {
        xt_raster_close(r);
        return xt_error("data", "%s: %d bands, the model needs %d", d->paths[i], in->bands, C);
    }
    xt_norm nm = {.n = C, .scale = xt_sample_unit_scale(in->sample)};
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225}; // ImageNet
    for (int c = 0; c < C && c < XT_NORM_MAX_BANDS; c++) {
        nm.mean[c] = C == 3 ? mean[c] : 0.5;
        nm.std[c] = C == 3 ? sd[c] : 0.25;
    }
    int x0 = (in->width - S) / 2, y0 = (in->height - S) / 2, flip = 0;
    uint64_t s = xt_rng_mix(aug ^ 0x5151);
    if (augment) {
        if (in->width > S) x0 = (int)(xt_rng_u01(&s) * (in->width - S + 1));
        if (in->height > S) y0 = (int)(xt_rng_u01(&s) * (in->height - S + 1));
        flip = xt_rng_u01(&s) < 0.5;
    }
    if (in->width <= S) x0 = 0;
    if (in->height <= S) y0 = 0;
    int bands[XT_NORM_MAX_BANDS];
    for (int c = 0; c < C; c++) bands[c] = c;
    int rc = xt_raster_read_norm(r, xt_rect_make(x0, y0, S, S), bands, &nm, img);
    xt_raster_close(r);
    if (rc) return -1;
    if (flip)
        for (int c = 0; c < C; c++)
            for (int y = 0; y < S; y++) {
                float *row = img + ((size_t)c * S + y) * S;
                for (int x = 0; x < S / 2; x++) { float t = row[x]; row[x] = row[S - 1 - x]; row[S - 1 - x] = t; }
            }
    return 0;
}
