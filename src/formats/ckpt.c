// ckpt.c — PyTorch checkpoints (zip and legacy formats) -> named contiguous F32 tensors.
//
// Zip (torch >= 1.6): `<folder>/data.pkl` is the object, `<folder>/data/<key>` the raw bytes
// of storage <key> (little-endian). The folder is "archive" or the saved file's stem; we take
// whichever single folder holds data.pkl.
// Legacy (torch < 1.6 or _use_new_zipfile_serialization=False): five consecutive pickles —
// magic number, protocol version (1001), sys info, the object, the list of storage keys — then
// each storage in that order as an int64 element count followed by its raw bytes.
// ref: torch/serialization.py (torch 1.13: _legacy_save, _save, _legacy_load, _load).
//
// The object is the official trainer's payload {"epoch", "state_dict", "optimizer_state_dict",
// "metrics"}, a {"model_state": ...} / {"model": ...} payload (hiera, original Swin releases), or a
// bare state_dict. Keys lose the "module." prefix of (Distributed)DataParallel,
// as xt/trainer.py's loader does. Every tensor view (storage offset, sizes, strides — e.g. the
// channels_last conv weights of the official trainer) is checked to lie inside its storage
// and gathered into a contiguous float32 array. Dtypes: F32 as is (bit-exact); F16, BF16
// exactly widened; F64 rounded to nearest F32; integer and bool tensors become F32 when every
// value is exactly representable (|v| <= 2^24), else they are skipped with a note.
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/ckpt.h"

typedef struct {
    xt_ckpt *ck;
    const uint8_t *file;
    size_t size;
    xt_zip *zip;          // zip format
    char prefix[256];     // "<folder>/"
    xt_pk *pk;            // the object pickle
    int cap;
    int converted[XT_SD_COUNT]; // tensors widened/rounded to F32, per stored dtype
} loader;

#define note xt_ckpt_note
void xt_ckpt_note(xt_ckpt *ck, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    ck->notes = realloc(ck->notes, (ck->n_notes + 1) * sizeof *ck->notes);
    XT_ASSERT(ck->notes);
    ck->notes[ck->n_notes++] = strdup(buf);
}

void xt_ckpt_free(xt_ckpt *ck) {
    if (!ck) return;
    for (int i = 0; i < ck->n; i++) { free(ck->t[i].name); free(ck->t[i].data); }
    for (int i = 0; i < ck->n_notes; i++) free(ck->notes[i]);
    free(ck->t);
    free(ck->notes);
    free(ck->metrics_json);
    free(ck->param_groups_json);
    free(ck->path);
    free(ck);
}

const xt_ck_tensor *xt_ckpt_find(const xt_ckpt *ck, const char *name) {
    for (int i = 0; i < ck->n; i++)
        if (!strcmp(ck->t[i].name, name)) return &ck->t[i];
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// storages

static int bind_zip_storage(loader *L, xt_pk_storage *s) {
    char name[512];
    snprintf(name, sizeof name, "%sdata/%s", L->prefix, s->key);
    int i = xt_zip_find(L->zip, name);
    if (i < 0) return xt_error("ckpt", "%s: storage '%s': archive entry '%s' is missing", L->ck->path, s->key, name);
    size_t n;
    const uint8_t *d = xt_zip_read(L->zip, i, &n);
    if (!d) return -1; // the zip error names the file and entry
    uint64_t want = (uint64_t)s->numel * (uint64_t)xt_sdtype_size[s->dtype];
    if (n != want)
        return xt_error("ckpt", "%s: storage '%s': entry '%s' holds %zu bytes, the pickle declares %lld %s elements (%llu bytes)",
                        L->ck->path, s->key, name, n, (long long)s->numel, xt_sdtype_name[s->dtype], (unsigned long long)want);
    s->data = d;
    s->avail = s->numel;
    return 0;
}

static int bind_storage(loader *L, xt_pk_storage *s) {
    if (s->data || s->numel == 0) return 0;
    if (L->zip) return bind_zip_storage(L, s);
    return xt_error("ckpt", "%s: storage '%s' has no data in the file", L->ck->path, s->key);
}

// ---------------------------------------------------------------------------------------------
// tensors

// element k of a storage as double (exact for every dtype but I64 beyond 2^53, which the
// integer check rejects anyway since it also tests the int64 value)
static double elem(const uint8_t *d, xt_sdtype t, int64_t k, int64_t *iv) {
    switch (t) {
    case XT_SD_F32: { float f; memcpy(&f, d + 4 * k, 4); return f; }
    case XT_SD_F16: { uint16_t h; memcpy(&h, d + 2 * k, 2); return xt_f16_to_f32(h); }
    case XT_SD_BF16: { uint16_t h; memcpy(&h, d + 2 * k, 2); uint32_t b = (uint32_t)h << 16; float f; memcpy(&f, &b, 4); return f; }
    case XT_SD_F64: { double x; memcpy(&x, d + 8 * k, 8); return x; }
    case XT_SD_I64: { int64_t x; memcpy(&x, d + 8 * k, 8); *iv = x; return (double)x; }
    case XT_SD_I32: { int32_t x; memcpy(&x, d + 4 * k, 4); *iv = x; return x; }
    case XT_SD_I16: { int16_t x; memcpy(&x, d + 2 * k, 2); *iv = x; return x; }
    case XT_SD_I8: { *iv = (int8_t)d[k]; return *iv; }
    case XT_SD_U8: { *iv = d[k]; return *iv; }
    case XT_SD_BOOL: { *iv = d[k] != 0; return (double)*iv; }
    default: return 0;
    }
}

// Materialises a tensor view as contiguous F32 into t. Returns 0, 1 (skipped, with a note) or -1.
static int convert_tensor(loader *L, const xt_pk_obj *o, const char *name, xt_ck_tensor *t) {
    const xt_ckpt *ck = L->ck;
    xt_pk_storage *s = o->u.tensor->storage;
    int nd = o->u.tensor->ndim;
    const int64_t *shape = o->u.tensor->shape, *stride = o->u.tensor->stride;
    int64_t off = o->u.tensor->offset;
    // numel and the last element reached, overflow-checked
    uint64_t numel = 1, last = (uint64_t)off;
    for (int i = 0; i < nd; i++) {
        if (shape[i] && numel > UINT64_MAX / 2 / (uint64_t)shape[i])
            return xt_error("ckpt", "%s: tensor '%s': size overflows", ck->path, name);
        numel *= (uint64_t)shape[i];
    }
    for (int i = 0; numel && i < nd; i++) {
        uint64_t reach = (uint64_t)(shape[i] - 1);
        if (stride[i] && reach > (UINT64_MAX / 4 - last) / (uint64_t)stride[i])
            return xt_error("ckpt", "%s: tensor '%s': strides overflow", ck->path, name);
        last += reach * (uint64_t)stride[i];
    }
    // stride-0 views can be larger than their storage, but not absurdly so
    if (numel > (uint64_t)L->size * 4 + (1u << 20))
        return xt_error("ckpt", "%s: tensor '%s': %llu elements is implausible for a %zu-byte file", ck->path, name,
                        (unsigned long long)numel, L->size);
    if (bind_storage(L, s)) return -1;
    if (numel && last >= (uint64_t)s->avail)
        return xt_error("ckpt", "%s: tensor '%s': storage offset %lld and strides reach element %llu but storage '%s' has %lld elements",
                        ck->path, name, (long long)off, (unsigned long long)last, s->key, (long long)s->avail);
    t->ndim = nd;
    for (int i = 0; i < nd; i++) t->shape[i] = shape[i];
    t->numel = (int64_t)numel;
    t->dtype = s->dtype;
    float *out = xt_malloc_checked(numel * sizeof(float), name);
    if (!out) return -1;
    int is_float = s->dtype <= XT_SD_F64;
    int contiguous = 1;
    int64_t expect = 1;
    for (int i = nd - 1; i >= 0; i--) {
        if (shape[i] != 1 && stride[i] != expect) contiguous = 0;
        expect *= shape[i];
    }
    if (!numel) {
    } else if (contiguous && s->dtype == XT_SD_F32) memcpy(out, s->data + 4 * off, numel * 4); // the bit-exact common case
    else {
        int64_t idx[XT_MAX_DIMS] = {0}, pos = off;
        for (uint64_t k = 0; k < numel; k++) {
            int64_t iv = 0;
            double x = elem(s->data, s->dtype, contiguous ? off + (int64_t)k : pos, &iv);
            if (!is_float && (iv > (1 << 24) || iv < -(1 << 24))) {
                note(L->ck, "skipped '%s': %s value %lld is not exact in float32", name, xt_sdtype_name[s->dtype], (long long)iv);
                free(out);
                return 1;
            }
            out[k] = (float)x;
            if (!contiguous) // odometer over the dimensions, innermost fastest
                for (int d = nd - 1; d >= 0; d--) {
                    pos += stride[d];
                    if (++idx[d] < shape[d]) break;
                    pos -= stride[d] * shape[d];
                    idx[d] = 0;
                }
        }
    }
    for (uint64_t k = 0; k < numel; k++)
        if (!isfinite(out[k])) {
            int64_t bad = (int64_t)k;
            free(out);
            return xt_error("ckpt", "%s: tensor '%s' holds a non-finite value at index %lld", ck->path, name, (long long)bad);
        }
    L->converted[s->dtype] += s->dtype != XT_SD_F32;
    t->data = out;
    t->name = strdup(name);
    return 0;
}

static int add_tensor(loader *L, const xt_pk_obj *o, const char *name) {
    xt_ckpt *ck = L->ck;
    if (xt_ckpt_find(ck, name)) return xt_error("ckpt", "%s: tensor '%s' appears twice (after removing 'module.')", ck->path, name);
    if (ck->n == L->cap) {
        L->cap = L->cap ? 2 * L->cap : 256;
        ck->t = realloc(ck->t, L->cap * sizeof *ck->t);
        XT_ASSERT(ck->t);
    }
    xt_ck_tensor *t = &ck->t[ck->n];
    memset(t, 0, sizeof *t);
    int rc = convert_tensor(L, o, name, t);
    if (rc < 0) return -1;
    if (rc == 0) ck->n++;
    return 0;
}

// Buffers timm/hiera register as non-persistent; older checkpoints may still hold them. The
// model recomputes them, so they are dropped rather than turned into unknown weights.
int xt_ckpt_recomputed_buffer(const char *name) {
    static const char *suffix[] = {".relative_position_index", ".relative_coords_table", ".attn_mask", ".num_batches_tracked"};
    size_t n = strlen(name);
    for (size_t i = 0; i < sizeof suffix / sizeof *suffix; i++) {
        size_t k = strlen(suffix[i]);
        if (n >= k && !strcmp(name + n - k, suffix[i])) return 1;
    }
    return 0;
}

static int take_state_dict(loader *L, const xt_pk_obj *sd) {
    xt_ckpt *ck = L->ck;
    for (int i = 0; i < sd->n; i++) {
        const xt_pk_obj *k = sd->u.items[2 * i], *v = sd->u.items[2 * i + 1];
        if (k->type != XT_PK_STR) return xt_error("ckpt", "%s: state_dict key %d is a %s, not a string", ck->path, i, xt_pk_type_name(k->type));
        const char *name = k->u.s;
        if (!strncmp(name, "module.", 7)) name += 7; // ref: xt/trainer.py re.sub("^module.", "", k)
        if (v->type != XT_PK_TENSOR) {
            note(ck, "skipped state_dict entry '%s': a %s, not a tensor", name, xt_pk_type_name(v->type));
            continue;
        }
        if (xt_ckpt_recomputed_buffer(name)) {
            note(ck, "skipped buffer '%s': recomputed by the model", name);
            continue;
        }
        if (!*name) return xt_error("ckpt", "%s: empty tensor name in the state_dict", ck->path);
        if (add_tensor(L, v, name)) return -1;
    }
    return 0;
}

// optimizer_state_dict["state"][param_id][name] -> optim.state.<param_id>.<name>
static int take_optimizer(loader *L, const xt_pk_obj *opt) {
    const xt_pk_obj *state = xt_pk_dict_get(opt, "state");
    if (!state || state->type != XT_PK_DICT) {
        note(L->ck, "optimizer_state_dict has no 'state' dict: nothing kept");
        return 0;
    }
    for (int i = 0; i < state->n; i++) {
        const xt_pk_obj *pid = state->u.items[2 * i], *ps = state->u.items[2 * i + 1];
        if (pid->type != XT_PK_INT || ps->type != XT_PK_DICT) continue;
        for (int j = 0; j < ps->n; j++) {
            const xt_pk_obj *k = ps->u.items[2 * j], *v = ps->u.items[2 * j + 1];
            if (k->type != XT_PK_STR || v->type != XT_PK_TENSOR) continue;
            char name[512];
            snprintf(name, sizeof name, "optim.state.%lld.%s", (long long)pid->u.i, k->u.s);
            if (add_tensor(L, v, name)) return -1;
        }
    }
    return 0;
}

// Plain data as JSON for the model file's metadata (metrics, optimizer hyper-parameters).
// Depth- and size-limited: memo sharing can make a small pickle describe a huge tree.
static void pk_json(xt_sbuf *s, const xt_pk_obj *o, int depth) {
    if (s->n > 65536 || depth > 8) { xt_sbuf_printf(s, "null"); return; }
    switch (o->type) {
    case XT_PK_NONE: xt_sbuf_printf(s, "null"); break;
    case XT_PK_BOOL: xt_sbuf_printf(s, "%s", o->u.i ? "true" : "false"); break;
    case XT_PK_INT: xt_sbuf_printf(s, "%lld", (long long)o->u.i); break;
    case XT_PK_FLOAT:
        if (isfinite(o->u.f)) { // shortest of %.15g / %.17g that round-trips
            char b[40];
            snprintf(b, sizeof b, "%.15g", o->u.f);
            if (strtod(b, NULL) != o->u.f) snprintf(b, sizeof b, "%.17g", o->u.f);
            xt_sbuf_printf(s, "%s", b);
        } else xt_sbuf_printf(s, "null");
        break;
    case XT_PK_STR: xt_sbuf_json_str(s, o->u.s); break;
    case XT_PK_TUPLE: case XT_PK_LIST:
        xt_sbuf_printf(s, "[");
        for (int i = 0; i < o->n && s->n <= 65536; i++) {
            if (i) xt_sbuf_printf(s, ",");
            pk_json(s, o->u.items[i], depth + 1);
        }
        xt_sbuf_printf(s, "]");
        break;
    case XT_PK_DICT:
        xt_sbuf_printf(s, "{");
        for (int i = 0; i < o->n && s->n <= 65536; i++) {
            const xt_pk_obj *k = o->u.items[2 * i];
            char kb[32];
            if (i) xt_sbuf_printf(s, ",");
            if (k->type == XT_PK_STR) xt_sbuf_json_str(s, k->u.s);
            else {
                snprintf(kb, sizeof kb, "%lld", k->type == XT_PK_INT ? (long long)k->u.i : (long long)i);
                xt_sbuf_json_str(s, kb);
            }
            xt_sbuf_printf(s, ":");
            pk_json(s, o->u.items[2 * i + 1], depth + 1);
        }
        xt_sbuf_printf(s, "}");
        break;
    case XT_PK_TENSOR: {
        xt_sbuf_printf(s, "\"tensor(");
        for (int i = 0; i < o->u.tensor->ndim; i++) xt_sbuf_printf(s, "%s%lld", i ? "," : "", (long long)o->u.tensor->shape[i]);
        xt_sbuf_printf(s, ")\"");
        break;
    }
    default: xt_sbuf_printf(s, "\"<%s>\"", xt_pk_type_name(o->type)); break;
    }
}

static char *to_json(const xt_pk_obj *o) {
    xt_sbuf s = {0};
    pk_json(&s, o, 0);
    if (s.n > 65536) { xt_sbuf_free(&s); return NULL; }
    return s.p;
}

// The key of a dict-valued "model_state" or "model" entry (sets *sd), or NULL.
static const char *payload_dict(const xt_pk_obj *root, const xt_pk_obj **sd) {
    static const char *const keys[] = {"model_state", "model"};
    for (int i = 0; i < 2; i++) {
        const xt_pk_obj *o = xt_pk_dict_get(root, keys[i]);
        if (o && o->type == XT_PK_DICT) { *sd = o; return keys[i]; }
    }
    return NULL;
}

static int take_object(loader *L, const xt_ckpt_opts *opts) {
    xt_ckpt *ck = L->ck;
    const xt_pk_obj *root = xt_pk_result(L->pk);
    if (root->type != XT_PK_DICT)
        return xt_error("ckpt", "%s: the checkpoint holds a %s, not a state_dict or a trainer payload", ck->path, xt_pk_type_name(root->type));
    const xt_pk_obj *sd = xt_pk_dict_get(root, "state_dict");
    if (sd) {
        if (sd->type != XT_PK_DICT) return xt_error("ckpt", "%s: 'state_dict' is a %s, not a dict", ck->path, xt_pk_type_name(sd->type));
        ck->trainer_payload = 1;
        const xt_pk_obj *ep = xt_pk_dict_get(root, "epoch");
        if (ep && ep->type == XT_PK_INT) ck->epoch = ep->u.i;
        const xt_pk_obj *me = xt_pk_dict_get(root, "metrics");
        if (me) ck->metrics_json = to_json(me);
        if (take_state_dict(L, sd)) return -1;
        const xt_pk_obj *opt = xt_pk_dict_get(root, "optimizer_state_dict");
        if (opt && opts && opts->keep_optimizer) {
            if (opt->type == XT_PK_DICT && take_optimizer(L, opt)) return -1;
            const xt_pk_obj *pg = xt_pk_dict_get(opt, "param_groups");
            if (pg) ck->param_groups_json = to_json(pg);
        } else if (opt) note(ck, "optimizer state not converted (use --keep-optimizer to keep it as optim.* tensors)");
    } else if (payload_dict(root, &sd)) {
        // other payloads holding a state_dict: the hiera package's {"model_state": ...}, the
        // original Swin / DeiT / MAE releases' {"model": ...}
        note(ck, "state_dict taken from the payload's '%s' entry", payload_dict(root, &sd));
        if (take_state_dict(L, sd)) return -1;
    } else {
        int ntensor = 0;
        for (int i = 0; i < root->n; i++) ntensor += root->u.items[2 * i + 1]->type == XT_PK_TENSOR;
        if (!ntensor)
            return xt_error("ckpt", "%s: no 'state_dict' key and no tensors at the top level: not a model checkpoint", ck->path);
        if (take_state_dict(L, root)) return -1;
    }
    if (!ck->n) return xt_error("ckpt", "%s: the state_dict holds no tensors", ck->path);
    for (int d = 0; d < XT_SD_COUNT; d++)
        if (L->converted[d]) note(ck, "%d tensors stored as %s converted to float32%s", L->converted[d], xt_sdtype_name[d],
                                  d == XT_SD_F64 ? " (rounded to nearest)" : d > XT_SD_F64 ? " (every value exact)" : " (exact)");
    return 0;
}

// ---------------------------------------------------------------------------------------------
// the two formats

static int load_zip(loader *L) {
    xt_ckpt *ck = L->ck;
    L->zip = xt_zip_open(L->file, L->size, ck->path);
    if (!L->zip) return -1;
    int found = -1;
    for (int i = 0; i < xt_zip_count(L->zip); i++) {
        const char *n = xt_zip_name(L->zip, i), *slash = strchr(n, '/');
        if (!slash || strcmp(slash, "/data.pkl")) continue;
        if (found >= 0) return xt_error("ckpt", "%s: two data.pkl entries ('%s' and '%s')", ck->path, xt_zip_name(L->zip, found), n);
        found = i;
    }
    if (found < 0) return xt_error("ckpt", "%s: zip archive without a <folder>/data.pkl entry: not a PyTorch checkpoint", ck->path);
    const char *n = xt_zip_name(L->zip, found);
    size_t plen = (size_t)(strchr(n, '/') - n) + 1;
    if (plen >= sizeof L->prefix) return xt_error("ckpt", "%s: folder name too long", ck->path);
    memcpy(L->prefix, n, plen);
    L->prefix[plen] = 0;
    size_t len;
    char bo[300];
    snprintf(bo, sizeof bo, "%sbyteorder", L->prefix); // torch >= 2.1 records it; absent means little
    int ib = xt_zip_find(L->zip, bo);
    if (ib >= 0) {
        const uint8_t *b = xt_zip_read(L->zip, ib, &len);
        if (!b) return -1;
        if (len < 6 || memcmp(b, "little", 6))
            return xt_error("ckpt", "%s: big-endian checkpoint ('%s' is not 'little'): not supported", ck->path, bo);
    }
    const uint8_t *pkl = xt_zip_read(L->zip, found, &len);
    if (!pkl) return -1;
    char what[600];
    snprintf(what, sizeof what, "%s: %s", ck->path, n);
    L->pk = xt_pk_load(pkl, len, NULL, what);
    if (!L->pk) return -1;
    ck->format = "zip";
    return 0;
}

static int load_legacy(loader *L) {
    xt_ckpt *ck = L->ck;
    size_t pos = 0, used;
    static const uint8_t magic[10] = {0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19}; // 0x1950a86a20f9469cfc6c
    xt_pk *pk[5] = {0};
    int rc = -1;
    const char *part[5] = {"magic number", "protocol version", "sys info", "object", "storage keys"};
    for (int i = 0; i < 5; i++) {
        char what[600];
        snprintf(what, sizeof what, "%s: legacy %s pickle", ck->path, part[i]);
        pk[i] = xt_pk_load(L->file + pos, L->size - pos, &used, what);
        if (!pk[i]) goto out;
        pos += used;
        const xt_pk_obj *r = xt_pk_result(pk[i]);
        if (i == 0 && (r->type != XT_PK_BIGINT || r->n != 10 || memcmp(r->u.s, magic, 10))) {
            xt_error("ckpt", "%s: not a PyTorch checkpoint (legacy magic number missing)", ck->path);
            goto out;
        }
        if (i == 1 && (r->type != XT_PK_INT || r->u.i != 1001)) {
            xt_error("ckpt", "%s: legacy protocol version is not 1001", ck->path);
            goto out;
        }
        if (i == 2) {
            const xt_pk_obj *le = xt_pk_dict_get(r, "little_endian");
            if (r->type != XT_PK_DICT || (le && le->type == XT_PK_BOOL && !le->u.i)) {
                xt_error("ckpt", "%s: big-endian or malformed legacy sys info", ck->path);
                goto out;
            }
        }
        if (i == 4 && r->type != XT_PK_LIST) {
            xt_error("ckpt", "%s: legacy storage key list is a %s", ck->path, xt_pk_type_name(r->type));
            goto out;
        }
    }
    // storages, in key-list order: int64 element count, then the raw bytes
    const xt_pk_obj *keys = xt_pk_result(pk[4]);
    for (int i = 0; i < keys->n; i++) {
        const xt_pk_obj *k = keys->u.items[i];
        if (k->type != XT_PK_STR) { xt_error("ckpt", "%s: legacy storage key %d is not a string", ck->path, i); goto out; }
        xt_pk_storage *s = xt_pk_storage_find(pk[3], k->u.s);
        if (!s) { xt_error("ckpt", "%s: legacy storage '%s' is listed but never used", ck->path, k->u.s); goto out; }
        if (s->data) { xt_error("ckpt", "%s: legacy storage '%s' listed twice", ck->path, k->u.s); goto out; }
        if (L->size - pos < 8) { xt_error("ckpt", "%s: truncated: storage '%s' header past the end of the file", ck->path, k->u.s); goto out; }
        int64_t numel;
        memcpy(&numel, L->file + pos, 8);
        pos += 8;
        if (numel != s->numel) {
            xt_error("ckpt", "%s: legacy storage '%s' holds %lld elements, the pickle declares %lld", ck->path, k->u.s,
                     (long long)numel, (long long)s->numel);
            goto out;
        }
        uint64_t nb = (uint64_t)numel * (uint64_t)xt_sdtype_size[s->dtype];
        if (nb > L->size - pos) {
            xt_error("ckpt", "%s: truncated: storage '%s' (%llu bytes) runs past the end of the file", ck->path, k->u.s, (unsigned long long)nb);
            goto out;
        }
        s->data = L->file + pos;
        s->avail = numel;
        pos += nb;
    }
    for (int i = 0; i < xt_pk_n_storages(pk[3]); i++) { // legacy views into a root storage
        xt_pk_storage *s = xt_pk_storage_at(pk[3], i);
        if (!s->view_root) continue;
        xt_pk_storage *r = xt_pk_storage_find(pk[3], s->view_root);
        if (!r || !r->data || r->dtype != s->dtype || s->view_offset > r->avail || s->numel > r->avail - s->view_offset) {
            xt_error("ckpt", "%s: legacy storage view '%s' of '%s' lies outside its root", ck->path, s->key, s->view_root);
            goto out;
        }
        s->data = r->data + s->view_offset * xt_sdtype_size[s->dtype];
        s->avail = s->numel;
    }
    if (pos != L->size) note(ck, "%zu trailing bytes after the last storage ignored", L->size - pos);
    L->pk = pk[3];
    pk[3] = NULL;
    ck->format = "legacy";
    rc = 0;
out:
    for (int i = 0; i < 5; i++) xt_pk_free(pk[i]);
    return rc;
}

xt_ckpt *xt_ckpt_load_mem(const uint8_t *data, size_t size, const char *path, const xt_ckpt_opts *opts) {
    xt_ckpt *ck = xt_xcalloc(1, sizeof *ck);
    ck->path = strdup(path);
    ck->epoch = -1;
    loader L = {.ck = ck, .file = data, .size = size};
    int rc;
    if (size >= 4 && !memcmp(data, "PK", 2) && (data[2] == 3 || data[2] == 5)) rc = load_zip(&L);
    else if (size >= 2 && data[0] == 0x80 && data[1] >= 2) rc = load_legacy(&L);
    else if (size > 262 && !memcmp(data + 257, "ustar", 5))
        rc = xt_error("ckpt", "%s: tar checkpoint of torch < 0.4 is not supported (re-save it with a newer torch)", path);
    else rc = xt_error("ckpt", "%s: not a PyTorch checkpoint (neither a zip archive nor a legacy pickle)", path);
    if (!rc) rc = take_object(&L, opts);
    xt_pk_free(L.pk);
    xt_zip_close(L.zip);
    if (rc) {
        xt_ckpt_free(ck);
        return NULL;
    }
    return ck;
}

xt_ckpt *xt_ckpt_load(const char *path, const xt_ckpt_opts *opts) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        xt_error("ckpt", "%s: cannot open: %s", path, strerror(errno));
        return NULL;
    }
    struct stat sb;
    if (fstat(fd, &sb) || !S_ISREG(sb.st_mode)) {
        close(fd);
        xt_error("ckpt", "%s: not a regular file", path);
        return NULL;
    }
    size_t size = (size_t)sb.st_size;
    void *map = size ? mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0) : NULL;
    close(fd);
    if (map == MAP_FAILED) {
        xt_error("ckpt", "%s: cannot map: %s", path, strerror(errno));
        return NULL;
    }
    xt_ckpt *ck = xt_ckpt_load_mem(map ? map : (const uint8_t *)"", size, path, opts);
    if (map) munmap(map, size);
    return ck;
}
