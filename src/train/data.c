// data.c — training data: a folder of images listed by a CSV (`path,label`), the iNaturalist
// 2018 JSON layout (`images`, `annotations`, `categories`), and a generated context-dependent
// task ("synth:N[:seed]") for the learning proof. Images are read through the raster reader
// (PNG, JPEG, TIFF) either as one S x S window (a random crop + horizontal flip when augmenting,
// the centre otherwise; smaller images are zero-padded after normalisation) or whole and resized
// as the official evaluation transform (torchvision Resize on PIL images: formats/resize.c).
// Normalisation and the iNat supercategory filter / label map come from xt_data_opts. Everything
// random is a pure function of (seed, step, sample), so a resumed run sees exactly the same data.
#include <ctype.h>
#include <math.h>
#include <string.h>

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
    d->paths = NULL, d->labels = NULL, d->n = 0;
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

// ---------------------------------------------------------------------------------------------
// options

static const char *tf_names[XT_TF_COUNT] = {"center", "resize", "resize_crop"};

void xt_data_opts_default(xt_data_opts *o) {
    memset(o, 0, sizeof *o);
    o->transform = XT_TF_CENTER, o->interp = XT_INTERP_BILINEAR;
    xt_aug_opts *a = &o->aug; // timm / torchvision defaults
    a->scale[0] = 0.08, a->scale[1] = 1, a->ratio[0] = 3.0 / 4, a->ratio[1] = 4.0 / 3, a->hflip = 0.5, a->recount = 1;
}

static const char *re_names[XT_RE_COUNT] = {"pixel", "rand", "const"};

static int pair_opt(const xt_json *j, const char *key, double *dst) {
    const xt_json *v = xt_json_get(j, key);
    if (!v || v->type == XT_JSON_NULL) return 0;
    if (v->type != XT_JSON_ARR || v->n != 2 || v->items[0]->type != XT_JSON_NUM || v->items[1]->type != XT_JSON_NUM)
        return xt_error("data", "'%s' must be a list of two numbers", key);
    dst[0] = v->items[0]->num, dst[1] = v->items[1]->num;
    if (!(dst[0] > 0 && dst[0] <= dst[1])) return xt_error("data", "'%s' [%g, %g]: expected 0 < min <= max", key, dst[0], dst[1]);
    return 0;
}

// the augmentation keys of a "train" object (docs/training.md, "Augmentation")
static int aug_parse(const xt_json *j, xt_aug_opts *a) {
    if (xt_json_bool(j, "rrc", a->rrc, &a->rrc) || pair_opt(j, "rrc_scale", a->scale) || pair_opt(j, "rrc_ratio", a->ratio) ||
        xt_json_num(j, "hflip", a->hflip, &a->hflip) || xt_json_num(j, "reprob", a->reprob, &a->reprob) ||
        xt_json_int(j, "recount", a->recount, &a->recount))
        return -1;
    if (!(a->hflip >= 0 && a->hflip <= 1)) return xt_error("data", "'hflip' %g must lie in [0, 1]", a->hflip);
    if (!(a->reprob >= 0 && a->reprob <= 1)) return xt_error("data", "'reprob' %g must lie in [0, 1]", a->reprob);
    if (a->recount < 1 || a->recount > 100) return xt_error("data", "'recount' %d must lie in 1..100", a->recount);
    const xt_json *cj = xt_json_get(j, "color_jitter");
    if (cj && cj->type == XT_JSON_NUM) a->jitter[0] = a->jitter[1] = a->jitter[2] = cj->num, a->jitter[3] = 0; // timm: (cj,) * 3
    else if (cj && cj->type == XT_JSON_ARR && (cj->n == 3 || cj->n == 4)) {
        for (int i = 0; i < cj->n; i++)
            if (cj->items[i]->type != XT_JSON_NUM) return xt_error("data", "'color_jitter'[%d] is not a number", i);
        for (int i = 0; i < 4; i++) a->jitter[i] = i < cj->n ? cj->items[i]->num : 0;
    } else if (cj && cj->type != XT_JSON_NULL) return xt_error("data", "'color_jitter' must be a number or [brightness, contrast, saturation(, hue)]");
    for (int i = 0; i < 3; i++)
        if (!(a->jitter[i] >= 0 && a->jitter[i] <= 10)) return xt_error("data", "'color_jitter' %g must lie in [0, 10]", a->jitter[i]);
    if (!(a->jitter[3] >= 0 && a->jitter[3] <= 0.5)) return xt_error("data", "'color_jitter' hue %g must lie in [0, 0.5]", a->jitter[3]);
    const xt_json *aa = xt_json_get(j, "auto_augment");
    if (aa && aa->type == XT_JSON_NULL) a->ra_n = 0, a->auto_augment[0] = 0;
    else if (aa && aa->type != XT_JSON_STR) return xt_error("data", "'auto_augment' must be a string or null");
    else if (aa) {
        if (strlen(aa->str) >= sizeof a->auto_augment) return xt_error("data", "'auto_augment' is too long");
        a->auto_augment[0] = 0;
        if (xt_aug_parse_auto_augment(aa->str, a)) return -1;
    }
    const char *rm = xt_json_str(j, "remode", NULL);
    if (rm) {
        int k = 0;
        while (k < XT_RE_COUNT && strcmp(rm, re_names[k])) k++;
        if (k == XT_RE_COUNT) return xt_error("data", "remode '%s': expected pixel, rand or const", rm);
        a->remode = k;
    }
    return 0;
}

static int path_opt(const xt_json *j, const char *key, char *dst, size_t n) {
    const xt_json *v = xt_json_get(j, key);
    if (!v || v->type == XT_JSON_NULL) return 0;
    if (v->type != XT_JSON_STR) return xt_error("data", "'%s' must be a string", key);
    if (strlen(v->str) >= n) return xt_error("data", "'%s' is too long", key);
    snprintf(dst, n, "%s", v->str);
    return 0;
}

static int num_list(const xt_json *j, const char *key, double *dst, int *n) {
    const xt_json *v = xt_json_get(j, key);
    if (!v || v->type == XT_JSON_NULL) return 0;
    if (v->type != XT_JSON_ARR || v->n < 1 || v->n > XT_NORM_MAX_BANDS)
        return xt_error("data", "'%s' must be a list of 1 to %d numbers", key, XT_NORM_MAX_BANDS);
    for (int i = 0; i < v->n; i++) {
        if (v->items[i]->type != XT_JSON_NUM) return xt_error("data", "'%s'[%d] is not a number", key, i);
        dst[i] = v->items[i]->num;
    }
    *n = v->n;
    return 0;
}

int xt_data_opts_parse(const xt_json *j, xt_data_opts *o) {
    if (!j) return 0;
    int nm = o->n_norm, ns = o->n_norm;
    if (num_list(j, "mean", o->mean, &nm) || num_list(j, "std", o->std, &ns)) return -1;
    if (nm != ns) return xt_error("data", "'mean' has %d values, 'std' %d", nm, ns);
    for (int c = 0; c < ns; c++)
        if (!(o->std[c] > 0)) return xt_error("data", "'std'[%d] = %g must be > 0", c, o->std[c]);
    o->n_norm = nm;
    if (xt_json_num(j, "scale", o->scale, &o->scale)) return -1;
    if (o->scale < 0) return xt_error("data", "'scale' %g < 0", o->scale);
    const xt_json *nd = xt_json_get(j, "nodata");
    if (nd && nd->type == XT_JSON_NUM) o->has_nodata = 1, o->nodata = nd->num;
    else if (nd && nd->type != XT_JSON_NULL) return xt_error("data", "'nodata' must be a number or null");
    const char *t = xt_json_str(j, "transform", NULL);
    if (t) {
        int k = 0;
        while (k < XT_TF_COUNT && strcmp(t, tf_names[k])) k++;
        if (k == XT_TF_COUNT) return xt_error("data", "transform '%s': expected center, resize or resize_crop", t);
        o->transform = (xt_transform)k;
    }
    if ((t = xt_json_str(j, "interpolation", NULL)) && xt_interp_parse(t, &o->interp)) return -1;
    if (aug_parse(j, &o->aug)) return -1;
    if (path_opt(j, "categories", o->categories, sizeof o->categories) ||
        path_opt(j, "label_map", o->label_map, sizeof o->label_map))
        return -1;
    const xt_json *sc = xt_json_get(j, "supercategories");
    if (sc && sc->type != XT_JSON_NULL) {
        if (sc->type != XT_JSON_ARR) return xt_error("data", "'supercategories' must be a list of names");
        size_t k = 0;
        o->supercats[0] = 0;
        for (int i = 0; i < sc->n; i++) {
            const xt_json *v = sc->items[i];
            if (v->type != XT_JSON_STR || !v->str[0] || strchr(v->str, '\n'))
                return xt_error("data", "'supercategories'[%d] is not a name", i);
            int w = snprintf(o->supercats + k, sizeof o->supercats - k, "%s%s", k ? "\n" : "", v->str);
            if (w < 0 || (size_t)w >= sizeof o->supercats - k) return xt_error("data", "'supercategories' too long");
            k += (size_t)w;
        }
    }
    return 0;
}

void xt_data_opts_json(xt_sbuf *b, const xt_data_opts *o) {
    if (o->n_norm) {
        const char *k[2] = {"mean", "std"};
        const double *v[2] = {o->mean, o->std};
        for (int q = 0; q < 2; q++) {
            xt_sbuf_printf(b, ", \"%s\": [", k[q]);
            for (int c = 0; c < o->n_norm; c++) xt_sbuf_printf(b, "%s%.17g", c ? ", " : "", v[q][c]);
            xt_sbuf_printf(b, "]");
        }
    }
    if (o->scale > 0) xt_sbuf_printf(b, ", \"scale\": %.17g", o->scale);
    if (o->has_nodata) xt_sbuf_printf(b, ", \"nodata\": %.17g", o->nodata);
    xt_sbuf_printf(b, ", \"transform\": \"%s\", \"interpolation\": \"%s\"", tf_names[o->transform], xt_interp_name(o->interp));
    const xt_aug_opts *a = &o->aug;
    xt_sbuf_printf(b, ", \"rrc\": %s, \"rrc_scale\": [%.17g, %.17g], \"rrc_ratio\": [%.17g, %.17g], \"hflip\": %.17g, "
                      "\"color_jitter\": [%.17g, %.17g, %.17g, %.17g], \"auto_augment\": ",
                   a->rrc ? "true" : "false", a->scale[0], a->scale[1], a->ratio[0], a->ratio[1], a->hflip, a->jitter[0], a->jitter[1], a->jitter[2],
                   a->jitter[3]);
    if (a->ra_n) xt_sbuf_json_str(b, a->auto_augment);
    else xt_sbuf_printf(b, "null");
    xt_sbuf_printf(b, ", \"reprob\": %.17g, \"remode\": \"%s\", \"recount\": %d", a->reprob, re_names[a->remode], a->recount);
    if (o->categories[0]) { xt_sbuf_printf(b, ", \"categories\": "); xt_sbuf_json_str(b, o->categories); }
    if (o->label_map[0]) { xt_sbuf_printf(b, ", \"label_map\": "); xt_sbuf_json_str(b, o->label_map); }
    if (o->supercats[0]) {
        xt_sbuf_printf(b, ", \"supercategories\": [");
        char buf[sizeof o->supercats];
        snprintf(buf, sizeof buf, "%s", o->supercats);
        int first = 1;
        for (char *sv, *t = strtok_r(buf, "\n", &sv); t; t = strtok_r(NULL, "\n", &sv), first = 0) {
            xt_sbuf_printf(b, "%s", first ? "" : ", ");
            xt_sbuf_json_str(b, t);
        }
        xt_sbuf_printf(b, "]");
    }
}

// ---------------------------------------------------------------------------------------------
// iNaturalist 2018
//
// ref: xt/datasets/inaturalist.py INatDataset._process_labels — annotations in ascending id order;
// with supercategories, only those whose category's supercategory is listed (categories from
// categories.json beside the annotation file); the label is category_label_map[category_id]
// (meta/category_label_reptilia_map.json: {"4264": 0, ...}). Deliberate deviations: a category
// missing from a given map is an error (the official gives it the next free counter value, which
// collides with the map's labels); without a map the labels are the raw category ids, or with a
// filter the rank among the kept category ids (the official numbers by first appearance, per
// file, so train and val may disagree); the image is found by the annotation's image_id (the
// official looks it up by the annotation id, the same number in iNat 2018).

typedef struct { long long id; int idx; } idpair;

static int cmp_id(const void *a, const void *b) {
    long long x = ((const idpair *)a)->id, y = ((const idpair *)b)->id;
    return (x > y) - (x < y);
}

static const idpair *find_id(const idpair *v, int n, long long id) {
    idpair k = {id, 0};
    return bsearch(&k, v, (size_t)n, sizeof *v, cmp_id);
}

static xt_json *read_json(const char *path) {
    size_t len;
    char *s = xt_read_file(path, LIST_MAX_BYTES, &len, "data");
    if (!s) return NULL;
    xt_json *j = xt_json_parse(s, len, path);
    free(s);
    return j;
}

static int json_id(const xt_json *o, const char *key, long long *out) {
    const xt_json *v = xt_json_get(o, key);
    if (!v || v->type != XT_JSON_NUM || v->num != floor(v->num) || fabs(v->num) > 9e15) return -1;
    *out = (long long)v->num;
    return 0;
}

static int in_list(const char *list, const char *name) { // '\n'-separated
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *e = strchr(p, '\n');
        size_t l = e ? (size_t)(e - p) : strlen(p);
        if (l == n && !strncmp(p, name, n)) return 1;
        if (!e) break;
        p = e + 1;
    }
    return 0;
}

static int open_inat(xt_dataset *d, const char *path, const char *dir) {
    const xt_data_opts *o = &d->opts;
    xt_json *j = read_json(path), *cj = NULL, *mj = NULL;
    if (!j) return -1;
    int rc = -1, cap = 0, nk = 0, nm = 0;
    idpair *imgs = NULL, *anns = NULL, *kept = NULL, *map = NULL;
    const xt_json *im = xt_json_get(j, "images"), *an = xt_json_get(j, "annotations");
    if (!im || !an || im->type != XT_JSON_ARR || an->type != XT_JSON_ARR) {
        xt_error("data", "%s: not an iNaturalist JSON (needs 'images' and 'annotations' arrays)", path);
        goto done;
    }
    imgs = xt_xmalloc(((size_t)im->n + 1) * sizeof *imgs);
    anns = xt_xmalloc(((size_t)an->n + 1) * sizeof *anns);
    for (int i = 0; i < im->n; i++) {
        if (json_id(im->items[i], "id", &imgs[i].id) || !xt_json_str(im->items[i], "file_name", NULL)) {
            xt_error("data", "%s: images[%d] needs an integer id and a file_name", path, i);
            goto done;
        }
        imgs[i].idx = i;
    }
    for (int i = 0; i < an->n; i++) {
        long long t;
        if (json_id(an->items[i], "id", &anns[i].id) || json_id(an->items[i], "image_id", &t) ||
            json_id(an->items[i], "category_id", &t)) {
            xt_error("data", "%s: annotations[%d] needs integer id, image_id and category_id", path, i);
            goto done;
        }
        anns[i].idx = i;
    }
    qsort(imgs, (size_t)im->n, sizeof *imgs, cmp_id);
    qsort(anns, (size_t)an->n, sizeof *anns, cmp_id);
    for (int i = 1; i < an->n; i++)
        if (anns[i].id == anns[i - 1].id) { xt_error("data", "%s: annotation id %lld twice", path, anns[i].id); goto done; }
    // the kept categories (supercategory filter), sorted by id
    const xt_json *cats = NULL;
    const char *cpath = path;
    if (o->supercats[0] || !o->label_map[0]) {
        if (o->categories[0]) {
            if (!(cj = read_json(o->categories))) goto done;
            cats = cj->type == XT_JSON_ARR ? cj : xt_json_get(cj, "categories");
            cpath = o->categories;
        } else cats = xt_json_get(j, "categories");
    }
    if (o->supercats[0]) {
        if (!cats || cats->type != XT_JSON_ARR) {
            xt_error("data", "%s: a supercategory filter needs a 'categories' list (train.categories: categories.json)", cpath);
            goto done;
        }
        kept = xt_xmalloc(((size_t)cats->n + 1) * sizeof *kept);
        for (int i = 0; i < cats->n; i++) {
            long long id;
            const char *sc = xt_json_str(cats->items[i], "supercategory", NULL);
            if (json_id(cats->items[i], "id", &id) || !sc) {
                xt_error("data", "%s: categories[%d] needs an integer id and a supercategory", cpath, i);
                goto done;
            }
            if (in_list(o->supercats, sc)) kept[nk++] = (idpair){id, 0};
        }
        if (!nk) { xt_error("data", "%s: no category has one of the supercategories given", cpath); goto done; }
        qsort(kept, (size_t)nk, sizeof *kept, cmp_id);
        for (int i = 0; i < nk; i++) kept[i].idx = i;
    }
    if (o->label_map[0]) {
        if (!(mj = read_json(o->label_map))) goto done;
        if (mj->type != XT_JSON_OBJ) { xt_error("data", "%s: a label map is a JSON object {\"category_id\": label}", o->label_map); goto done; }
        map = xt_xmalloc(((size_t)mj->n + 1) * sizeof *map);
        for (int i = 0; i < mj->n; i++) {
            char *e;
            long long id = strtoll(mj->keys[i], &e, 10);
            const xt_json *v = mj->items[i];
            if (!mj->keys[i][0] || *e || v->type != XT_JSON_NUM || v->num != floor(v->num) || v->num < 0 || v->num > 1000000) {
                xt_error("data", "%s: entry '%s': expected \"category_id\": label (an integer 0..1000000)", o->label_map, mj->keys[i]);
                goto done;
            }
            map[nm++] = (idpair){id, (int)v->num};
            if ((int)v->num + 1 > d->n_classes) d->n_classes = (int)v->num + 1;
        }
        qsort(map, (size_t)nm, sizeof *map, cmp_id);
    }
    for (int i = 0; i < an->n; i++) {
        const xt_json *a = an->items[anns[i].idx];
        long long cat, iid;
        json_id(a, "category_id", &cat);
        json_id(a, "image_id", &iid);
        const idpair *k = kept ? find_id(kept, nk, cat) : NULL;
        if (kept && !k) continue;
        int label;
        if (map) {
            const idpair *m = find_id(map, nm, cat);
            if (!m) { xt_error("data", "%s: category_id %lld (annotation %lld) is not in the label map %s", path, cat, anns[i].id, o->label_map); goto done; }
            label = m->idx;
        } else if (k) label = k->idx;
        else {
            if (cat < 0 || cat > 1000000) { xt_error("data", "%s: category_id %lld out of range (give a label map)", path, cat); goto done; }
            label = (int)cat;
        }
        const idpair *ip = find_id(imgs, im->n, iid);
        if (!ip) { xt_error("data", "%s: annotation %lld: image id %lld is not in 'images'", path, anns[i].id, iid); goto done; }
        add(d, join(dir, xt_json_str(im->items[ip->idx], "file_name", "")), label, &cap);
    }
    if (kept && !map && nk > d->n_classes) d->n_classes = nk;
    if (!map && !kept && cats && cats->type == XT_JSON_ARR && cats->n > d->n_classes) d->n_classes = cats->n;
    rc = d->n ? 0 : xt_error("data", "%s: no images%s", path, kept ? " of the supercategories given" : "");
done:
    free(imgs); free(anns); free(kept); free(map);
    xt_json_free(j);
    xt_json_free(cj);
    xt_json_free(mj);
    return rc;
}

int xt_dataset_open(xt_dataset *d, const char *spec, const char *root, const xt_data_opts *opts) {
    memset(d, 0, sizeof *d);
    if (opts) d->opts = *opts;
    else xt_data_opts_default(&d->opts);
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

static void norm_of(const xt_data_opts *o, int C, const xt_raster_info *in, xt_norm *nm) {
    static const double mean[3] = {0.485, 0.456, 0.406}, sd[3] = {0.229, 0.224, 0.225}; // ImageNet
    memset(nm, 0, sizeof *nm);
    nm->n = C;
    nm->scale = o->scale > 0 ? o->scale : xt_sample_unit_scale(in->sample);
    for (int c = 0; c < C && c < XT_NORM_MAX_BANDS; c++) {
        if (o->n_norm) { // one value for all bands, or one per band
            int k = o->n_norm == 1 ? 0 : c;
            nm->mean[c] = o->mean[k], nm->std[c] = o->std[k];
        } else {
            nm->mean[c] = C == 3 ? mean[c] : 0.5;
            nm->std[c] = C == 3 ? sd[c] : 0.25;
        }
    }
    nm->has_nodata = o->has_nodata, nm->nodata = o->nodata;
}

static void hflip(float *img, int C, int S) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < S; y++) {
            float *row = img + ((size_t)c * S + y) * S;
            for (int x = 0; x < S / 2; x++) { float t = row[x]; row[x] = row[S - 1 - x]; row[S - 1 - x] = t; }
        }
}

#define RESIZE_MAX_PIXELS ((int64_t)1 << 26) // the resize transforms read the whole image

static void hflip_u8(uint8_t *img, int C, int S) {
    for (int c = 0; c < C; c++)
        for (int y = 0; y < S; y++) {
            uint8_t *row = img + ((size_t)c * S + y) * S;
            for (int x = 0; x < S / 2; x++) { uint8_t t = row[x]; row[x] = row[S - 1 - x]; row[S - 1 - x] = t; }
        }
}

// The 8-bit ops need RGB (PIL's conversions to L) and 8-bit samples; the crop a whole image.
int xt_aug_check(const xt_data_opts *o, int C) {
    const xt_aug_opts *a = &o->aug;
    int colour = a->ra_n > 0 || a->jitter[0] > 0 || a->jitter[1] > 0 || a->jitter[2] > 0 || a->jitter[3] > 0;
    if (colour && C != 3) return xt_error("augment", "auto_augment / color_jitter need 3-band (RGB) images, the model has %d bands", C);
    if (colour && o->transform == XT_TF_CENTER && !a->rrc)
        return xt_error("augment", "auto_augment / color_jitter work on the whole image: set rrc true or transform resize / resize_crop");
    if (a->ra_n > 0 && o->interp != XT_INTERP_BILINEAR)
        return xt_error("augment", "auto_augment: the geometric ops are implemented with bilinear interpolation only (interpolation '%s')", xt_interp_name(o->interp));
    return 0;
}

// The whole image (a 1-band image repeated to 3 bands, as PIL's convert("RGB")), then
//   evaluation: the official transform, resized as torchvision's Resize on a PIL image (8-bit
//     samples bit for bit, others in float), centre-cropped for RESIZE_CROP;
//   training: RandomResizedCrop (aug.rrc) or that resize, a flip, RandAugment or ColorJitter on
//     the 8-bit image (timm's order);
// then normalised, and RandomErasing when training. Each draw has its own stream of aug.
static int load_whole(const xt_dataset *d, int i, xt_raster *r, const xt_norm *nm, float *img, int C, int S,
                      uint64_t aug, int augment) {
    const xt_raster_info *in = xt_raster_get_info(r);
    const xt_aug_opts *ao = &d->opts.aug;
    int W = in->width, H = in->height, oh = S, ow = S, rc = -1, rrc = augment && ao->rrc;
    int colour = augment && (ao->ra_n > 0 || ao->jitter[0] > 0 || ao->jitter[1] > 0 || ao->jitter[2] > 0 || ao->jitter[3] > 0);
    if ((int64_t)W * H > RESIZE_MAX_PIXELS)
        return xt_error("data", "%s: %d x %d is too large for the resize transform (transform \"center\" reads windows)", d->paths[i], W, H);
    if (colour && in->sample != XT_S_U8)
        return xt_error("augment", "%s: auto_augment / color_jitter are PIL's 8-bit ops, the image has %s samples", d->paths[i], xt_sample_name(in->sample));
    int box[4] = {0, 0, H, W}; // the source window (top, left, h, w)
    if (rrc) {
        uint64_t s = xt_rng_mix(aug ^ 0x3C3C);
        xt_rrc_params(&s, H, W, ao->scale, ao->ratio, box);
    } else if (d->opts.transform == XT_TF_RESIZE_CROP) xt_resize_short_side(H, W, S, &oh, &ow);
    int bands[XT_NORM_MAX_BANDS];
    for (int c = 0; c < C; c++) bands[c] = in->bands == 1 ? 0 : c;
    size_t np = (size_t)box[2] * box[3], no = (size_t)oh * ow, ns = (size_t)S * S;
    float *raw = xt_malloc_checked((size_t)C * np * sizeof(float), "image"), *res = xt_malloc_checked((size_t)C * no * sizeof(float), "image");
    uint8_t *u = NULL, *uo = NULL, *tmp = NULL;
    if (!raw || !res || xt_raster_read_rect(r, xt_rect_make(box[1], box[0], box[3], box[2]), bands, C, 0, raw)) goto done;
    int y0 = xt_center_crop_offset(oh, S), x0 = xt_center_crop_offset(ow, S), flip = 0;
    if (augment) {
        uint64_t s = xt_rng_mix(aug ^ 0x5151);
        flip = xt_rng_u01(&s) < ao->hflip;
    }
    if (in->sample == XT_S_U8) {
        u = xt_xmalloc((size_t)C * np), uo = xt_xmalloc((size_t)C * no);
        for (size_t k = 0; k < (size_t)C * np; k++) u[k] = (uint8_t)raw[k];
        xt_resize_u8(uo, u, C, box[2], box[3], oh, ow, d->opts.interp);
        if (oh != S || ow != S) // the centre crop, in place at the front
            for (int c = 0; c < C; c++)
                for (int y = 0; y < S; y++) memmove(uo + ((size_t)c * S + y) * S, uo + ((size_t)c * oh + y + y0) * ow + x0, S);
        if (flip) hflip_u8(uo, C, S);
        if (colour) {
            uint64_t s = xt_rng_mix(aug ^ 0xAA77);
            tmp = xt_xmalloc((size_t)C * ns);
            if (ao->ra_n > 0) { // timm aa_params img_mean: the fill of the geometric ops
                uint8_t fill[3];
                for (int c = 0; c < 3; c++) {
                    double m = round(255 * nm->mean[c]);
                    fill[c] = (uint8_t)(m < 0 ? 0 : m > 255 ? 255 : m);
                }
                xt_randaugment(uo, tmp, C, S, S, ao, fill, &s);
            } else xt_color_jitter(uo, S, S, ao->jitter, &s); // timm: the jitter only without auto_augment
        }
        for (size_t k = 0; k < (size_t)C * ns; k++) res[k] = uo[k];
    } else {
        xt_resize_f32(res, raw, C, box[2], box[3], oh, ow, d->opts.interp);
        if (oh != S || ow != S)
            for (int c = 0; c < C; c++)
                for (int y = 0; y < S; y++) memmove(res + ((size_t)c * S + y) * S, res + ((size_t)c * oh + y + y0) * ow + x0, S * sizeof(float));
        if (flip) hflip(res, C, S);
    }
    for (int c = 0; c < C; c++)
        for (size_t k = 0; k < ns; k++) {
            float v = res[(size_t)c * ns + k];
            int nodata = 0;
            for (int q = 0; q < C && nm->has_nodata; q++) nodata |= res[(size_t)q * ns + k] == (float)nm->nodata;
            img[(size_t)c * ns + k] = nodata ? 0.0f : (float)((v * nm->scale - nm->mean[c]) / nm->std[c]);
        }
    if (augment && ao->reprob > 0) {
        uint64_t s = xt_rng_mix(aug ^ 0xE5E5);
        xt_random_erasing(img, C, S, S, ao, &s);
    }
    rc = 0;
done:
    free(raw); free(res); free(u); free(uo); free(tmp);
    return rc;
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
    int whole = d->opts.transform != XT_TF_CENTER || (augment && d->opts.aug.rrc);
    int gray = in->bands == 1 && C == 3 && whole; // PIL convert("RGB")
    if ((in->bands < C && !gray) || C > XT_NORM_MAX_BANDS) {
        xt_raster_close(r);
        return xt_error("data", "%s: %d bands, the model needs %d", d->paths[i], in->bands, C);
    }
    if (d->opts.n_norm > 1 && d->opts.n_norm != C) {
        xt_raster_close(r);
        return xt_error("data", "mean / std have %d values, the model has %d bands", d->opts.n_norm, C);
    }
    xt_norm nm;
    norm_of(&d->opts, C, in, &nm);
    if (whole) {
        int rc = load_whole(d, i, r, &nm, img, C, S, aug, augment);
        xt_raster_close(r);
        return rc;
    }
    int x0 = (in->width - S) / 2, y0 = (in->height - S) / 2, flip = 0;
    uint64_t s = xt_rng_mix(aug ^ 0x5151);
    if (augment) {
        if (in->width > S) x0 = (int)(xt_rng_u01(&s) * (in->width - S + 1));
        if (in->height > S) y0 = (int)(xt_rng_u01(&s) * (in->height - S + 1));
        flip = xt_rng_u01(&s) < d->opts.aug.hflip;
    }
    if (in->width <= S) x0 = 0;
    if (in->height <= S) y0 = 0;
    int bands[XT_NORM_MAX_BANDS];
    for (int c = 0; c < C; c++) bands[c] = c;
    int rc = xt_raster_read_norm(r, xt_rect_make(x0, y0, S, S), bands, &nm, img);
    xt_raster_close(r);
    if (rc) return -1;
    if (flip) hflip(img, C, S);
    if (augment && d->opts.aug.reprob > 0) {
        uint64_t se = xt_rng_mix(aug ^ 0xE5E5);
        xt_random_erasing(img, C, S, S, &d->opts.aug, &se);
    }
    return 0;
}
