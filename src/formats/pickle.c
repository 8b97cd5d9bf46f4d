// pickle.c — a restricted pickle reader: builds data, never executes.
//
// A torch checkpoint is a pickle whose "calls" are a handful of torch/collections functions.
// This VM implements the opcodes of protocols 2-5 that data needs (ints, floats, strings,
// tuples, lists, dicts, memo, marks, frames) and interprets exactly four kinds of global by
// name — collections.OrderedDict (a dict), torch._utils._rebuild_tensor_v2 (a tensor view of a
// storage), torch._utils._rebuild_parameter (the tensor inside), torch.<T>Storage (a storage
// type tag in a persistent id). Every other global, and every opcode that builds arbitrary
// objects (INST, OBJ, NEWOBJ, EXT*, text opcodes), is refused with the offset where it occurs.
//
// Bounds: every length is checked against the bytes left; memo indices must be below the
// pickle's length (a pickler numbers them sequentially, one per opcode at most); stack depth
// and marks are capped (XT_PK_MAX_*); objects are at most one per opcode, so memory is linear
// in the input. Nothing here recurses over the object graph (self-referencing lists are fine).
// ref: CPython Lib/pickletools.py (opcode table), Modules/_pickle.c (load_* semantics);
//      torch/serialization.py, torch/_utils.py (torch 1.13: _rebuild_tensor_v2 signature).
#include <stdarg.h>
#include <string.h>

#include "formats/ckpt.h"

const char *const xt_sdtype_name[XT_SD_COUNT] = {"FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage",
                                                 "LongStorage", "IntStorage", "ShortStorage", "CharStorage",
                                                 "ByteStorage", "BoolStorage"};
const int xt_sdtype_size[XT_SD_COUNT] = {4, 2, 2, 8, 8, 4, 2, 1, 1, 1};

struct xt_pk {
    char *what;
    xt_pk_obj **objs;
    size_t nobj, capobj;
    xt_pk_storage **st;
    int nst, capst;
    xt_pk_obj *result;
};

static const char *type_names[XT_PK_TYPE_COUNT] = {"None", "bool", "int", "int (big)", "float", "str", "bytes", "tuple",
                                                   "list", "dict", "global", "storage", "tensor", "mark",
                                                   "numpy array", "numpy dtype"};
const char *xt_pk_type_name(xt_pk_type t) { return t < XT_PK_TYPE_COUNT ? type_names[t] : "?"; }

static xt_pk_obj *new_obj(xt_pk *pk, xt_pk_type t) {
    if (pk->nobj == pk->capobj) {
        pk->capobj = pk->capobj ? 2 * pk->capobj : 256;
        pk->objs = realloc(pk->objs, pk->capobj * sizeof *pk->objs);
        XT_ASSERT(pk->objs);
    }
    xt_pk_obj *o = xt_xcalloc(1, sizeof *o);
    o->type = t;
    pk->objs[pk->nobj++] = o;
    return o;
}

static void free_obj(xt_pk_obj *o) {
    switch (o->type) {
    case XT_PK_STR: case XT_PK_BYTES: case XT_PK_BIGINT: free(o->u.s); break;
    case XT_PK_TUPLE: case XT_PK_LIST: case XT_PK_DICT: free(o->u.items); break;
    case XT_PK_TENSOR: free(o->u.tensor); break;
    case XT_PK_NDARRAY: case XT_PK_DTYPE: free(o->u.nd); break;
    default: break;
    }
    free(o);
}

void xt_pk_free(xt_pk *pk) {
    if (!pk) return;
    for (size_t i = 0; i < pk->nobj; i++) free_obj(pk->objs[i]);
    for (int i = 0; i < pk->nst; i++) { free(pk->st[i]->key); free(pk->st[i]->view_root); free(pk->st[i]); }
    free(pk->objs);
    free(pk->st);
    free(pk->what);
    free(pk);
}

xt_pk_obj *xt_pk_result(const xt_pk *pk) { return pk->result; }
int xt_pk_n_storages(const xt_pk *pk) { return pk->nst; }
xt_pk_storage *xt_pk_storage_at(const xt_pk *pk, int i) { return pk->st[i]; }

xt_pk_storage *xt_pk_storage_find(const xt_pk *pk, const char *key) {
    for (int i = 0; i < pk->nst; i++)
        if (!strcmp(pk->st[i]->key, key)) return pk->st[i];
    return NULL;
}

xt_pk_obj *xt_pk_dict_get(const xt_pk_obj *d, const char *key) {
    if (!d || d->type != XT_PK_DICT) return NULL;
    for (int i = d->n - 1; i >= 0; i--) { // last assignment wins, as in Python
        const xt_pk_obj *k = d->u.items[2 * i];
        if (k->type == XT_PK_STR && !strcmp(k->u.s, key)) return d->u.items[2 * i + 1];
    }
    return NULL;
}

// ---------------------------------------------------------------------------------------------
// the VM

typedef struct {
    xt_pk *pk;
    const uint8_t *p;
    size_t len, pos, op_pos;
    xt_pk_obj **stack;
    size_t sp, cap;
    size_t *marks;
    size_t nmarks, capmarks;
    xt_pk_obj **memo;
    size_t nmemo;   // allocated slots
    size_t memo_count; // MEMOIZE: next index
    int op;
    int numpy;      // xt_pk_load_numpy: the numpy globals are allowed
} vm;

static int vfail(vm *v, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int vfail(vm *v, const char *fmt, ...) {
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return xt_error("pickle", "%s: offset %zu: %s", v->pk->what, v->op_pos, msg);
}

static int need(vm *v, size_t n) {
    if (v->len - v->pos < n) return vfail(v, "truncated: opcode needs %zu more bytes, %zu left", n, v->len - v->pos);
    return 0;
}

static int push(vm *v, xt_pk_obj *o) {
    if (v->sp == v->cap) {
        if (v->cap >= XT_PK_MAX_STACK) return vfail(v, "stack deeper than %d entries", XT_PK_MAX_STACK);
        v->cap = v->cap ? 2 * v->cap : 64;
        if (v->cap > XT_PK_MAX_STACK) v->cap = XT_PK_MAX_STACK;
        v->stack = realloc(v->stack, v->cap * sizeof *v->stack);
        XT_ASSERT(v->stack);
    }
    v->stack[v->sp++] = o;
    return 0;
}

static xt_pk_obj *pop(vm *v) {
    if (v->sp == 0 || (v->nmarks && v->sp <= v->marks[v->nmarks - 1])) {
        vfail(v, "stack underflow (unbalanced pickle)");
        return NULL;
    }
    return v->stack[--v->sp];
}

static xt_pk_obj *top(vm *v) {
    if (v->sp == 0 || (v->nmarks && v->sp <= v->marks[v->nmarks - 1])) {
        vfail(v, "stack underflow (unbalanced pickle)");
        return NULL;
    }
    return v->stack[v->sp - 1];
}

// Pops to the last mark; returns its stack position (items are stack[pos .. sp)), or -1.
static long pop_mark(vm *v) {
    if (!v->nmarks) return vfail(v, "no MARK on the stack (unbalanced pickle)");
    return (long)v->marks[--v->nmarks];
}

static int add_items(vm *v, xt_pk_obj *o, xt_pk_obj **items, size_t n) {
    if (!n) return 0;
    if (n > (size_t)INT32_MAX - (size_t)o->n) return vfail(v, "container too large");
    if ((size_t)o->n + n > (size_t)o->cap) {
        size_t cap = o->cap ? 2 * (size_t)o->cap : 8;
        while (cap < (size_t)o->n + n) cap *= 2;
        size_t per = o->type == XT_PK_DICT ? 2 : 1;
        o->u.items = realloc(o->u.items, cap * per * sizeof *o->u.items);
        XT_ASSERT(o->u.items);
        o->cap = (int)cap;
    }
    size_t per = o->type == XT_PK_DICT ? 2 : 1;
    memcpy(o->u.items + (size_t)o->n * per, items, n * per * sizeof *items);
    o->n += (int)n;
    return 0;
}

static xt_pk_obj *new_tuple(vm *v, xt_pk_obj **items, size_t n) {
    xt_pk_obj *t = new_obj(v->pk, XT_PK_TUPLE);
    t->u.items = xt_xmalloc((n ? n : 1) * sizeof *items);
    if (n) memcpy(t->u.items, items, n * sizeof *items);
    t->n = t->cap = (int)n;
    return t;
}

static int push_str(vm *v, size_t n, xt_pk_type t) {
    if (n > XT_PK_MAX_STR) return vfail(v, "string of %zu bytes exceeds the limit", n);
    if (need(v, n)) return -1;
    xt_pk_obj *o = new_obj(v->pk, t);
    o->u.s = xt_xmalloc(n + 1);
    memcpy(o->u.s, v->p + v->pos, n);
    o->u.s[n] = 0;
    o->n = (int)n;
    v->pos += n;
    return push(v, o);
}

static uint64_t le(const uint8_t *p, int n) {
    uint64_t x = 0;
    for (int i = n - 1; i >= 0; i--) x = x << 8 | p[i];
    return x;
}

static int memo_put(vm *v, size_t idx) {
    xt_pk_obj *o = top(v);
    if (!o) return -1;
    if (idx > v->len) return vfail(v, "memo index %zu out of range (pickle has %zu bytes)", idx, v->len);
    if (idx >= v->nmemo) {
        size_t n = v->nmemo ? v->nmemo : 64;
        while (n <= idx) n *= 2;
        if (n > v->len + 1) n = v->len + 1;
        v->memo = realloc(v->memo, n * sizeof *v->memo);
        XT_ASSERT(v->memo);
        memset(v->memo + v->nmemo, 0, (n - v->nmemo) * sizeof *v->memo);
        v->nmemo = n;
    }
    v->memo[idx] = o;
    return 0;
}

static int memo_get(vm *v, size_t idx) {
    if (idx >= v->nmemo || !v->memo[idx]) return vfail(v, "memo reference %zu is undefined (out of range)", idx);
    return push(v, v->memo[idx]);
}

static int allowed_global(vm *v, const char *mod, const char *name) {
    xt_pk_obj *g = new_obj(v->pk, XT_PK_GLOBAL);
    if (!strcmp(mod, "collections") && !strcmp(name, "OrderedDict")) g->u.glob.g = XT_G_ORDERED_DICT;
    else if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_tensor_v2")) g->u.glob.g = XT_G_REBUILD_TENSOR;
    else if (!strcmp(mod, "torch._utils") && !strcmp(name, "_rebuild_parameter")) g->u.glob.g = XT_G_REBUILD_PARAM;
    else if (v->numpy && (!strcmp(mod, "numpy.core.multiarray") || !strcmp(mod, "numpy._core.multiarray")) &&
             !strcmp(name, "_reconstruct"))
        g->u.glob.g = XT_G_NP_RECONSTRUCT;
    else if (v->numpy && !strcmp(mod, "numpy") && !strcmp(name, "ndarray")) g->u.glob.g = XT_G_NP_NDARRAY;
    else if (v->numpy && !strcmp(mod, "numpy") && !strcmp(name, "dtype")) g->u.glob.g = XT_G_NP_DTYPE;
    else if (v->numpy)
        return vfail(v, "global '%.100s.%.100s' is not allowed: a numpy array pickle needs only "
                        "numpy.core.multiarray._reconstruct, numpy.ndarray and numpy.dtype (nothing in it is executed)", mod, name);
    else {
        int sd = -1;
        if (!strcmp(mod, "torch"))
            for (int k = 0; k < XT_SD_COUNT; k++)
                if (!strcmp(name, xt_sdtype_name[k])) sd = k;
        if (sd < 0)
            return vfail(v, "global '%.100s.%.100s' is not allowed: a tensor checkpoint needs only collections.OrderedDict, "
                            "torch._utils._rebuild_tensor_v2, torch._utils._rebuild_parameter and torch.*Storage "
                            "(refusing the file; nothing in it is ever executed)", mod, name);
        g->u.glob.g = XT_G_STORAGE;
        g->u.glob.sd = (xt_sdtype)sd;
    }
    return push(v, g);
}

static int read_line(vm *v, char *buf, size_t cap) {
    size_t i = 0;
    for (;;) {
        if (v->pos >= v->len) return vfail(v, "truncated GLOBAL");
        char c = (char)v->p[v->pos++];
        if (c == '\n') break;
        if (i + 1 >= cap) return vfail(v, "GLOBAL name longer than %zu bytes", cap - 1);
        if ((unsigned char)c < 32) return vfail(v, "control character in a GLOBAL name");
        buf[i++] = c;
    }
    buf[i] = 0;
    return 0;
}

static int is_int(const xt_pk_obj *o) { return o->type == XT_PK_INT || o->type == XT_PK_BOOL; }

// (sizes and strides) tuple of non-negative ints
static int int_tuple(vm *v, const xt_pk_obj *t, int64_t *out, const char *what) {
    if (t->type != XT_PK_TUPLE) return vfail(v, "_rebuild_tensor_v2: %s is a %s, not a tuple", what, xt_pk_type_name(t->type));
    if (t->n > XT_MAX_DIMS) return vfail(v, "_rebuild_tensor_v2: %d dimensions (at most %d)", t->n, XT_MAX_DIMS);
    for (int i = 0; i < t->n; i++) {
        const xt_pk_obj *x = t->u.items[i];
        if (x->type != XT_PK_INT || x->u.i < 0) return vfail(v, "_rebuild_tensor_v2: %s[%d] is not a non-negative int", what, i);
        out[i] = x->u.i;
    }
    return 0;
}

static int do_reduce(vm *v) {
    xt_pk_obj *args = pop(v), *fn = args ? pop(v) : NULL;
    if (!fn) return -1;
    if (fn->type != XT_PK_GLOBAL) return vfail(v, "REDUCE on a %s (only the allowed globals can be called)", xt_pk_type_name(fn->type));
    if (args->type != XT_PK_TUPLE) return vfail(v, "REDUCE arguments are a %s, not a tuple", xt_pk_type_name(args->type));
    xt_pk_obj **a = args->u.items;
    switch (fn->u.glob.g) {
    case XT_G_ORDERED_DICT:
        if (args->n != 0) return vfail(v, "OrderedDict called with %d arguments (expected none)", args->n);
        return push(v, new_obj(v->pk, XT_PK_DICT));
    case XT_G_REBUILD_PARAM:
        if (args->n != 3 || a[0]->type != XT_PK_TENSOR)
            return vfail(v, "_rebuild_parameter expects (tensor, requires_grad, hooks), got %d arguments", args->n);
        return push(v, a[0]);
    case XT_G_STORAGE:
        return vfail(v, "a storage type cannot be called");
    case XT_G_NP_NDARRAY:
        return vfail(v, "numpy.ndarray cannot be called (only passed to _reconstruct)");
    case XT_G_NP_RECONSTRUCT: { // _reconstruct(ndarray, (0,), b'b'): an empty array, filled by BUILD
        if (args->n != 3 || a[0]->type != XT_PK_GLOBAL || a[0]->u.glob.g != XT_G_NP_NDARRAY)
            return vfail(v, "_reconstruct expects (numpy.ndarray, shape, dtype char), got %d arguments", args->n);
        xt_pk_obj *o = new_obj(v->pk, XT_PK_NDARRAY);
        o->u.nd = xt_xcalloc(1, sizeof *o->u.nd);
        return push(v, o);
    }
    case XT_G_NP_DTYPE: { // dtype('f8', False, True)
        if (args->n < 1 || args->n > 3 || a[0]->type != XT_PK_STR) return vfail(v, "numpy.dtype expects a type code string");
        const char *c = a[0]->u.s;
        static const char *const codes[] = {"O8", "f8", "f4", "f2", "i8", "i4", "i2", "i1", "u8", "u4", "u2", "u1", "b1"};
        int ok = 0;
        for (size_t k = 0; k < sizeof codes / sizeof *codes; k++) ok |= !strcmp(c, codes[k]);
        if (!ok) return vfail(v, "numpy dtype '%.20s' is not supported (object, float, int, uint or bool only)", c);
        xt_pk_obj *o = new_obj(v->pk, XT_PK_DTYPE);
        o->u.nd = xt_xcalloc(1, sizeof *o->u.nd);
        snprintf(o->u.nd->code, sizeof o->u.nd->code, "%s", c);
        o->u.nd->itemsize = c[1] - '0';
        o->u.nd->order = '|';
        return push(v, o);
    }
    case XT_G_REBUILD_TENSOR: {
        // (storage, storage_offset, size, stride, requires_grad, backward_hooks[, metadata])
        if (args->n != 6 && args->n != 7) return vfail(v, "_rebuild_tensor_v2 expects 6 or 7 arguments, got %d", args->n);
        if (a[0]->type != XT_PK_STORAGE) return vfail(v, "_rebuild_tensor_v2: first argument is a %s, not a storage", xt_pk_type_name(a[0]->type));
        if (a[1]->type != XT_PK_INT || a[1]->u.i < 0) return vfail(v, "_rebuild_tensor_v2: storage offset is not a non-negative int");
        if (!is_int(a[4])) return vfail(v, "_rebuild_tensor_v2: requires_grad is not a bool");
        xt_pk_obj *t = new_obj(v->pk, XT_PK_TENSOR);
        t->u.tensor = xt_xcalloc(1, sizeof *t->u.tensor);
        t->u.tensor->storage = a[0]->u.storage;
        t->u.tensor->offset = a[1]->u.i;
        if (int_tuple(v, a[2], t->u.tensor->shape, "size") || int_tuple(v, a[3], t->u.tensor->stride, "stride")) return -1;
        if (a[2]->n != a[3]->n) return vfail(v, "_rebuild_tensor_v2: size has %d dimensions, stride %d", a[2]->n, a[3]->n);
        t->u.tensor->ndim = a[2]->n;
        return push(v, t);
    }
    }
    return vfail(v, "bad global");
}

static int do_persid(vm *v) {
    xt_pk_obj *pid = pop(v);
    if (!pid) return -1;
    // ('storage', torch.<T>Storage, key, location, numel[, view_metadata])
    if (pid->type != XT_PK_TUPLE || pid->n < 5 || pid->n > 6 || pid->u.items[0]->type != XT_PK_STR ||
        strcmp(pid->u.items[0]->u.s, "storage"))
        return vfail(v, "persistent id is not a ('storage', type, key, location, numel) tuple");
    xt_pk_obj **a = pid->u.items;
    if (a[1]->type != XT_PK_GLOBAL || a[1]->u.glob.g != XT_G_STORAGE) return vfail(v, "persistent id: storage type is not a torch.*Storage");
    char key[64];
    if (a[2]->type == XT_PK_STR) {
        if (a[2]->n == 0 || a[2]->n >= (int)sizeof key || strchr(a[2]->u.s, '/') || strstr(a[2]->u.s, ".."))
            return vfail(v, "persistent id: bad storage key");
        snprintf(key, sizeof key, "%s", a[2]->u.s);
    } else if (a[2]->type == XT_PK_INT) snprintf(key, sizeof key, "%lld", (long long)a[2]->u.i);
    else return vfail(v, "persistent id: storage key is a %s", xt_pk_type_name(a[2]->type));
    if (a[4]->type != XT_PK_INT || a[4]->u.i < 0) return vfail(v, "persistent id: storage '%s': element count is not a non-negative int", key);
    xt_sdtype sd = a[1]->u.glob.sd;
    int64_t numel = a[4]->u.i;
    if (numel > INT64_MAX / 8) return vfail(v, "persistent id: storage '%s': absurd element count %lld", key, (long long)numel);
    const char *root = NULL;
    int64_t voff = 0;
    if (pid->n == 6 && a[5]->type != XT_PK_NONE) { // legacy view: (root key, offset, size)
        xt_pk_obj *vm_ = a[5];
        if (vm_->type != XT_PK_TUPLE || vm_->n != 3 || vm_->u.items[0]->type != XT_PK_STR || vm_->u.items[1]->type != XT_PK_INT ||
            vm_->u.items[1]->u.i < 0 || vm_->u.items[1]->u.i > INT64_MAX / 8)
            return vfail(v, "persistent id: storage '%s': malformed view metadata", key);
        root = vm_->u.items[0]->u.s;
        voff = vm_->u.items[1]->u.i;
    }
    xt_pk_storage *s = xt_pk_storage_find(v->pk, key);
    if (s) {
        if (s->dtype != sd || s->numel != numel)
            return vfail(v, "storage '%s' declared twice with different types or sizes", key);
    } else {
        if (v->pk->nst == v->pk->capst) {
            v->pk->capst = v->pk->capst ? 2 * v->pk->capst : 64;
            v->pk->st = realloc(v->pk->st, v->pk->capst * sizeof *v->pk->st);
            XT_ASSERT(v->pk->st);
        }
        s = xt_xcalloc(1, sizeof *s);
        s->key = strdup(key);
        s->dtype = sd;
        s->numel = numel;
        if (root) { s->view_root = strdup(root); s->view_offset = voff; }
        v->pk->st[v->pk->nst++] = s;
    }
    xt_pk_obj *o = new_obj(v->pk, XT_PK_STORAGE);
    o->u.storage = s;
    return push(v, o);
}

// BUILD of a numpy dtype: (version, byte order, ...); of an array: (version, shape, dtype,
// fortran_order, data) with data the element list (dtype 'O') or the raw bytes.
static int np_build(vm *v, xt_pk_obj *o, const xt_pk_obj *st) {
    if (st->type != XT_PK_TUPLE) return vfail(v, "BUILD state of a %s is a %s, not a tuple", xt_pk_type_name(o->type), xt_pk_type_name(st->type));
    xt_pk_obj **a = st->u.items;
    if (o->type == XT_PK_DTYPE) {
        if (st->n < 2 || a[1]->type != XT_PK_STR || a[1]->n != 1 || !strchr("<>|=", a[1]->u.s[0]))
            return vfail(v, "numpy dtype state without a byte order");
        o->u.nd->order = a[1]->u.s[0];
        return 0;
    }
    xt_pk_ndarray *nd = o->u.nd;
    if (nd->built) return vfail(v, "numpy array built twice");
    if (st->n != 5 || a[1]->type != XT_PK_TUPLE || a[2]->type != XT_PK_DTYPE || !is_int(a[3]))
        return vfail(v, "numpy array state is not (version, shape, dtype, fortran_order, data)");
    if (a[1]->n > XT_MAX_DIMS) return vfail(v, "numpy array of %d dimensions (at most %d)", a[1]->n, XT_MAX_DIMS);
    const xt_pk_ndarray *dt = a[2]->u.nd;
    int64_t numel = 1;
    for (int i = 0; i < a[1]->n; i++) {
        const xt_pk_obj *d = a[1]->u.items[i];
        if (d->type != XT_PK_INT || d->u.i < 0 || d->u.i > (int64_t)v->len * 8 + 8)
            return vfail(v, "numpy array: shape[%d] is not a plausible size", i);
        nd->shape[i] = d->u.i;
        if (d->u.i && numel > INT64_MAX / 8 / d->u.i) return vfail(v, "numpy array: element count overflows");
        numel *= d->u.i;
    }
    nd->ndim = a[1]->n;
    nd->numel = numel;
    nd->fortran = (int)a[3]->u.i;
    memcpy(nd->code, dt->code, sizeof nd->code);
    nd->order = dt->order;
    nd->itemsize = dt->itemsize;
    nd->data = a[4];
    if (nd->code[0] == 'O') {
        if (a[4]->type != XT_PK_LIST || a[4]->n != numel)
            return vfail(v, "numpy object array of %lld elements: data is a %s of %d", (long long)numel, xt_pk_type_name(a[4]->type), a[4]->n);
    } else {
        if (nd->order == '>' && nd->itemsize > 1) return vfail(v, "big-endian numpy data is not supported");
        if (a[4]->type != XT_PK_BYTES || (int64_t)a[4]->n != numel * nd->itemsize)
            return vfail(v, "numpy array of %lld x %d-byte elements: data is a %s of %d bytes", (long long)numel, nd->itemsize,
                         xt_pk_type_name(a[4]->type), a[4]->n);
    }
    nd->built = 1;
    return 0;
}

static const char *op_name(int op) {
    switch (op) {
    case 'i': return "INST";
    case 'o': return "OBJ";
    case 0x81: return "NEWOBJ";
    case 0x92: return "NEWOBJ_EX";
    case 0x82: case 0x83: case 0x84: return "EXT";
    case 'P': return "PERSID (text)";
    case 'g': return "GET (text)";
    case 'p': return "PUT (text)";
    case 'I': return "INT (text)";
    case 'L': return "LONG (text)";
    case 'F': return "FLOAT (text)";
    case 'S': return "STRING (text)";
    case 'V': return "UNICODE (text)";
    case 0x8f: return "EMPTY_SET";
    case 0x90: return "ADDITEMS";
    case 0x91: return "FROZENSET";
    case 0x96: return "BYTEARRAY8";
    case 0x97: return "NEXT_BUFFER";
    case 0x98: return "READONLY_BUFFER";
    default: return "unknown";
    }
}

static int step(vm *v, int *done) {
    v->op_pos = v->pos;
    if (need(v, 1)) return -1;
    int op = v->p[v->pos++];
    const uint8_t *a = v->p + v->pos;
    xt_pk_obj *o, *k, *x;
    long m;
    switch (op) {
    case 0x80: // PROTO
        if (need(v, 1)) return -1;
        if (a[0] < 2 || a[0] > 5) return vfail(v, "pickle protocol %d is not supported (2-5 are)", a[0]);
        v->pos += 1;
        return 0;
    case 0x95: // FRAME: a length hint only
        if (need(v, 8)) return -1;
        v->pos += 8;
        return 0;
    case '.': // STOP
        *done = 1;
        return 0;
    case '(': // MARK
        if (v->nmarks == v->capmarks) {
            if (v->capmarks >= XT_PK_MAX_MARKS) return vfail(v, "more than %d nested MARKs", XT_PK_MAX_MARKS);
            v->capmarks = v->capmarks ? 2 * v->capmarks : 32;
            v->marks = realloc(v->marks, v->capmarks * sizeof *v->marks);
            XT_ASSERT(v->marks);
        }
        v->marks[v->nmarks++] = v->sp;
        return 0;
    case '0': return pop(v) ? 0 : -1;                             // POP
    case '1': return (m = pop_mark(v)) < 0 ? -1 : (v->sp = (size_t)m, 0); // POP_MARK
    case '2': return (o = top(v)) ? push(v, o) : -1;            // DUP
    case 'N': return push(v, new_obj(v->pk, XT_PK_NONE));
    case 0x88: case 0x89: // NEWTRUE, NEWFALSE
        o = new_obj(v->pk, XT_PK_BOOL);
        o->u.i = op == 0x88;
        return push(v, o);
    case 'J': case 'K': case 'M': { // BININT (signed 4), BININT1, BININT2 (unsigned)
        int n = op == 'J' ? 4 : op == 'K' ? 1 : 2;
        if (need(v, n)) return -1;
        o = new_obj(v->pk, XT_PK_INT);
        o->u.i = op == 'J' ? (int64_t)(int32_t)(uint32_t)le(a, 4) : (int64_t)le(a, n);
        v->pos += n;
        return push(v, o);
    }
    case 0x8a: case 0x8b: { // LONG1, LONG4: little-endian two's complement of n bytes
        int hl = op == 0x8a ? 1 : 4;
        if (need(v, hl)) return -1;
        uint64_t n = le(a, hl);
        if (op == 0x8b && (int32_t)n < 0) return vfail(v, "LONG4 with negative length");
        if (n > 64) return vfail(v, "integer of %llu bytes is too large", (unsigned long long)n);
        v->pos += hl;
        if (need(v, n)) return -1;
        const uint8_t *b = v->p + v->pos;
        if (n <= 8) {
            o = new_obj(v->pk, XT_PK_INT);
            uint64_t x64 = le(b, (int)n);
            if (n > 0 && n < 8 && (b[n - 1] & 0x80)) x64 |= ~(uint64_t)0 << (8 * n); // sign-extend
            o->u.i = (int64_t)x64;
        } else {
            o = new_obj(v->pk, XT_PK_BIGINT);
            o->u.s = xt_xmalloc(n + 1);
            memcpy(o->u.s, b, n);
            o->u.s[n] = 0;
            o->n = (int)n;
        }
        v->pos += n;
        return push(v, o);
    }
    case 'G': { // BINFLOAT, big-endian
        if (need(v, 8)) return -1;
        uint64_t bits = 0;
        for (int i = 0; i < 8; i++) bits = bits << 8 | a[i];
        o = new_obj(v->pk, XT_PK_FLOAT);
        memcpy(&o->u.f, &bits, 8);
        v->pos += 8;
        return push(v, o);
    }
    case 'X': case 0x8c: case 0x8d:             // BINUNICODE, SHORT_BINUNICODE, BINUNICODE8
    case 'T': case 'U': case 'B': case 'C': case 0x8e: { // BINSTRING, SHORT_BINSTRING, BINBYTES, SHORT_BINBYTES, BINBYTES8
        int hl = (op == 0x8c || op == 'U' || op == 'C') ? 1 : (op == 0x8d || op == 0x8e) ? 8 : 4;
        if (need(v, hl)) return -1;
        uint64_t n = le(a, hl);
        if (op == 'T' && (int32_t)n < 0) return vfail(v, "BINSTRING with negative length");
        v->pos += hl;
        if (n > v->len - v->pos) return vfail(v, "string of %llu bytes runs past the end of the pickle (%zu bytes left)",
                                              (unsigned long long)n, v->len - v->pos);
        return push_str(v, (size_t)n, (op == 'B' || op == 'C' || op == 0x8e) ? XT_PK_BYTES : XT_PK_STR);
    }
    case '}': return push(v, new_obj(v->pk, XT_PK_DICT));
    case ']': return push(v, new_obj(v->pk, XT_PK_LIST));
    case ')': return push(v, new_tuple(v, NULL, 0));
    case 't': // TUPLE
        if ((m = pop_mark(v)) < 0) return -1;
        o = new_tuple(v, v->stack + m, v->sp - (size_t)m);
        v->sp = (size_t)m;
        return push(v, o);
    case 0x85: case 0x86: case 0x87: { // TUPLE1..3
        size_t n = (size_t)(op - 0x84);
        if (v->sp < n || (v->nmarks && v->sp - n < v->marks[v->nmarks - 1])) return vfail(v, "stack underflow (unbalanced pickle)");
        o = new_tuple(v, v->stack + v->sp - n, n);
        v->sp -= n;
        return push(v, o);
    }
    case 'l': case 'd': // LIST, DICT from the items above the mark
        if ((m = pop_mark(v)) < 0) return -1;
        if (op == 'd' && (v->sp - (size_t)m) % 2) return vfail(v, "DICT with an odd number of items");
        o = new_obj(v->pk, op == 'l' ? XT_PK_LIST : XT_PK_DICT);
        if (add_items(v, o, v->stack + m, (v->sp - (size_t)m) / (op == 'd' ? 2 : 1))) return -1;
        v->sp = (size_t)m;
        return push(v, o);
    case 'a': // APPEND
        if (!(x = pop(v)) || !(o = top(v))) return -1;
        if (o->type != XT_PK_LIST) return vfail(v, "APPEND to a %s", xt_pk_type_name(o->type));
        return add_items(v, o, &x, 1);
    case 'e': // APPENDS
        if ((m = pop_mark(v)) < 0) return -1;
        if (m == 0 || (v->nmarks && (size_t)m <= v->marks[v->nmarks - 1])) return vfail(v, "APPENDS without a list");
        o = v->stack[m - 1];
        if (o->type != XT_PK_LIST) return vfail(v, "APPENDS to a %s", xt_pk_type_name(o->type));
        if (add_items(v, o, v->stack + m, v->sp - (size_t)m)) return -1;
        v->sp = (size_t)m;
        return 0;
    case 's': { // SETITEM
        xt_pk_obj *kv[2];
        if (!(kv[1] = pop(v)) || !(kv[0] = pop(v)) || !(o = top(v))) return -1;
        if (o->type != XT_PK_DICT) return vfail(v, "SETITEM on a %s", xt_pk_type_name(o->type));
        return add_items(v, o, kv, 1);
    }
    case 'u': // SETITEMS
        if ((m = pop_mark(v)) < 0) return -1;
        if (m == 0 || (v->nmarks && (size_t)m <= v->marks[v->nmarks - 1])) return vfail(v, "SETITEMS without a dict");
        o = v->stack[m - 1];
        if (o->type != XT_PK_DICT) return vfail(v, "SETITEMS on a %s", xt_pk_type_name(o->type));
        if ((v->sp - (size_t)m) % 2) return vfail(v, "SETITEMS with an odd number of items");
        if (add_items(v, o, v->stack + m, (v->sp - (size_t)m) / 2)) return -1;
        v->sp = (size_t)m;
        return 0;
    case 'q': case 'r': { // BINPUT, LONG_BINPUT
        int n = op == 'q' ? 1 : 4;
        if (need(v, n)) return -1;
        v->pos += n;
        return memo_put(v, (size_t)le(a, n));
    }
    case 0x94: // MEMOIZE
        if (memo_put(v, v->memo_count)) return -1;
        v->memo_count++;
        return 0;
    case 'h': case 'j': { // BINGET, LONG_BINGET
        int n = op == 'h' ? 1 : 4;
        if (need(v, n)) return -1;
        v->pos += n;
        return memo_get(v, (size_t)le(a, n));
    }
    case 'c': { // GLOBAL "module\nname\n"
        char mod[256], name[256];
        if (read_line(v, mod, sizeof mod) || read_line(v, name, sizeof name)) return -1;
        return allowed_global(v, mod, name);
    }
    case 0x93: { // STACK_GLOBAL
        if (!(k = pop(v)) || !(o = pop(v))) return -1;
        if (o->type != XT_PK_STR || k->type != XT_PK_STR) return vfail(v, "STACK_GLOBAL operands are not strings");
        return allowed_global(v, o->u.s, k->u.s);
    }
    case 'R': return do_reduce(v);
    case 'Q': return do_persid(v);
    case 'b': // BUILD: set state on the object below; only dicts (OrderedDict._metadata) take it
        if (!(x = pop(v)) || !(o = top(v))) return -1;
        if (o->type == XT_PK_DTYPE || o->type == XT_PK_NDARRAY) return np_build(v, o, x);
        if (o->type != XT_PK_DICT && o->type != XT_PK_TENSOR) return vfail(v, "BUILD on a %s", xt_pk_type_name(o->type));
        return 0; // the state (e.g. state_dict._metadata versions) carries no weights: ignored
    default:
        return vfail(v, "opcode 0x%02x (%s) is not allowed in a tensor checkpoint", op, op_name(op));
    }
}

static xt_pk *load(const uint8_t *data, size_t len, size_t *used, const char *what, int numpy) {
    xt_pk *pk = xt_xcalloc(1, sizeof *pk);
    pk->what = strdup(what ? what : "pickle");
    vm v = {.pk = pk, .p = data, .len = len, .cap = 64, .numpy = numpy};
    v.stack = xt_xmalloc(v.cap * sizeof *v.stack); // never NULL: `stack + mark` must be valid
    int done = 0, rc = 0;
    while (!done && !(rc = step(&v, &done))) {}
    if (!rc) {
        if (v.nmarks || v.sp != 1) rc = vfail(&v, "unbalanced pickle at STOP (%zu items on the stack, %zu open MARKs)", v.sp, v.nmarks);
        else pk->result = v.stack[0];
    }
    free(v.stack);
    free(v.marks);
    free(v.memo);
    if (rc) {
        xt_pk_free(pk);
        return NULL;
    }
    if (used) *used = v.pos;
    return pk;
}

xt_pk *xt_pk_load(const uint8_t *data, size_t len, size_t *used, const char *what) { return load(data, len, used, what, 0); }
xt_pk *xt_pk_load_numpy(const uint8_t *data, size_t len, size_t *used, const char *what) { return load(data, len, used, what, 1); }
