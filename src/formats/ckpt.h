// ckpt.h — PyTorch checkpoints read without Python: zip reader, restricted pickle VM, loader.
//
// Layers (each hostile-input safe on its own, each with a fuzz target in tests/fuzz/):
//   zip.c     the archive of torch >= 1.6 (`<folder>/data.pkl`, `<folder>/data/<key>`): stored
//             or deflated entries, CRC-32 checked on every read, zip64.
//   pickle.c  a pickle *reader*: it builds plain data (ints, floats, strings, tuples, lists,
//             dicts) and recognises only the globals a tensor state_dict needs; it never calls
//             or imports anything named in the file.
//   ckpt.c    both torch formats (zip and legacy consecutive pickles) -> named F32 tensors.
//   ckpt_config.c  the model config: ours (JSON), the official YAML, or inferred from shapes.
#ifndef XT_IO_CKPT_H
#define XT_IO_CKPT_H

#include "formats/safetensors.h"

// ---------------------------------------------------------------------------------------------
// zip (zip.c): a read-only view of an archive held in memory (the caller keeps it alive).

typedef struct xt_zip xt_zip;

// Parses the central directory; NULL + error (naming `what`) if anything is inconsistent.
xt_zip *xt_zip_open(const uint8_t *data, size_t size, const char *what);
void xt_zip_close(xt_zip *z);
int xt_zip_count(const xt_zip *z);
const char *xt_zip_name(const xt_zip *z, int i);
int xt_zip_find(const xt_zip *z, const char *name); // index or -1 (no error)
// Declared uncompressed size of entry i.
uint64_t xt_zip_size(const xt_zip *z, int i);
// Uncompressed content of entry i, CRC-32 verified: a pointer into the mapping for stored
// entries, an internal buffer (freed by xt_zip_close) for deflated ones. NULL + error.
const uint8_t *xt_zip_read(xt_zip *z, int i, size_t *size);
extern int xt__zip_no_crc; // fuzz targets only: skip the CRC check so mutations reach the parsers

// ---------------------------------------------------------------------------------------------
// pickle (pickle.c)

typedef enum {
    XT_PK_NONE, XT_PK_BOOL, XT_PK_INT, XT_PK_BIGINT, XT_PK_FLOAT, XT_PK_STR, XT_PK_BYTES,
    XT_PK_TUPLE, XT_PK_LIST, XT_PK_DICT, XT_PK_GLOBAL, XT_PK_STORAGE, XT_PK_TENSOR,
    XT_PK_MARK, // internal: never in a finished object
    XT_PK_NDARRAY, XT_PK_DTYPE, // numpy objects (xt_pk_load_numpy only)
    XT_PK_TYPE_COUNT
} xt_pk_type;

// torch storage element types (the torch.*Storage globals)
typedef enum {
    XT_SD_F32, XT_SD_F16, XT_SD_BF16, XT_SD_F64, XT_SD_I64, XT_SD_I32, XT_SD_I16, XT_SD_I8,
    XT_SD_U8, XT_SD_BOOL, XT_SD_COUNT
} xt_sdtype;
extern const char *const xt_sdtype_name[XT_SD_COUNT];  // "FloatStorage", ...
extern const int xt_sdtype_size[XT_SD_COUNT];

// The allowed globals. Anything else in a GLOBAL/STACK_GLOBAL opcode is rejected.
typedef enum {
    XT_G_ORDERED_DICT,     // collections.OrderedDict
    XT_G_REBUILD_TENSOR,   // torch._utils._rebuild_tensor_v2
    XT_G_REBUILD_PARAM,    // torch._utils._rebuild_parameter
    XT_G_STORAGE,          // torch.<X>Storage (sdtype says which)
    XT_G_NP_RECONSTRUCT,   // numpy.core.multiarray._reconstruct (xt_pk_load_numpy only)
    XT_G_NP_NDARRAY,       // numpy.ndarray
    XT_G_NP_DTYPE,         // numpy.dtype
} xt_pk_global;

typedef struct xt_pk_obj xt_pk_obj;
// A numpy array as np.save(allow_pickle=True) pickles it: _reconstruct(ndarray, (0,), b'b')
// then BUILD with (version, shape, dtype, fortran_order, data). data is the element LIST for
// dtype 'O', else BYTES of exactly numel x itemsize (checked at BUILD).
typedef struct xt_pk_ndarray {
    int built;              // BUILD seen
    int ndim, fortran;
    int64_t shape[XT_MAX_DIMS], numel;
    char code[8];           // dtype kind + size: "O8", "f8", "i8", "i4", "u1", ...
    char order;             // '<', '>', '|' or '='
    int itemsize;
    xt_pk_obj *data;
} xt_pk_ndarray;
typedef struct xt_pk_storage {
    char *key;           // persistent-id key: zip entry data/<key>, or the legacy storage key
    xt_sdtype dtype;
    int64_t numel;       // declared element count
    const uint8_t *data; // bound by the loader (NULL until then)
    int64_t avail;       // elements actually available at data
    // legacy views: (root key, element offset) or root NULL
    char *view_root;
    int64_t view_offset;
} xt_pk_storage;

struct xt_pk_obj {
    xt_pk_type type;
    int n;                 // TUPLE/LIST: items; DICT: pairs; STR/BYTES/BIGINT: bytes
    int cap;
    union {
        int64_t i;         // INT, BOOL
        double f;          // FLOAT
        char *s;           // STR/BYTES/BIGINT (NUL-terminated; BIGINT: little-endian bytes)
        xt_pk_obj **items; // TUPLE/LIST: n items; DICT: 2n (key, value, key, value, ...)
        struct { xt_pk_global g; xt_sdtype sd; } glob;
        xt_pk_storage *storage;
        struct {
            xt_pk_storage *storage;
            int64_t offset;             // in elements
            int ndim;
            int64_t shape[XT_MAX_DIMS], stride[XT_MAX_DIMS];
        } *tensor;
        xt_pk_ndarray *nd; // NDARRAY; DTYPE uses its code/order/itemsize only
    } u;
};

typedef struct xt_pk xt_pk; // owns every object and storage it created

// Limits (all also bounded by the pickle's length).
#define XT_PK_MAX_STACK 1000000
#define XT_PK_MAX_MARKS 100000 // nesting depth of open MARKs (a real pickle needs a handful)
#define XT_PK_MAX_STR (256u << 20)

// Runs the pickle at data[0..len) until STOP. *used (may be NULL) = bytes consumed. what names
// the source in messages. NULL + error on any violation (unknown opcode or global, truncation,
// bad memo reference, type errors, limits).
xt_pk *xt_pk_load(const uint8_t *data, size_t len, size_t *used, const char *what);
// Same VM for numpy pickles (np.save of object arrays): also accepts the globals
// numpy.core.multiarray._reconstruct (or numpy._core...), numpy.ndarray and numpy.dtype, and
// builds XT_PK_NDARRAY objects from them. Nothing else numpy can pickle is accepted.
xt_pk *xt_pk_load_numpy(const uint8_t *data, size_t len, size_t *used, const char *what);
void xt_pk_free(xt_pk *pk);
xt_pk_obj *xt_pk_result(const xt_pk *pk);
int xt_pk_n_storages(const xt_pk *pk);
xt_pk_storage *xt_pk_storage_at(const xt_pk *pk, int i);
xt_pk_storage *xt_pk_storage_find(const xt_pk *pk, const char *key);
// DICT lookup by string key (NULL if absent or not a dict).
xt_pk_obj *xt_pk_dict_get(const xt_pk_obj *d, const char *key);
const char *xt_pk_type_name(xt_pk_type t);

// ---------------------------------------------------------------------------------------------
// checkpoint (ckpt.c)

typedef struct xt_ck_tensor {
    char *name;      // state_dict key without "module."; optimizer: "optim.<path>"
    xt_sdtype dtype; // as stored in the checkpoint
    int ndim;
    int64_t shape[XT_MAX_DIMS];
    int64_t numel;
    float *data;     // contiguous F32
} xt_ck_tensor;

typedef struct xt_ckpt {
    char *path;
    const char *format;     // "zip" or "legacy"
    int n;
    xt_ck_tensor *t;        // state_dict order
    int n_notes;
    char **notes;           // human-readable warnings (skipped entries, conversions)
    int trainer_payload;    // 1: the official {"epoch", "state_dict", ...} dict
    int64_t epoch;          // -1 if absent
    char *metrics_json;     // the payload's "metrics" as JSON, or NULL
    char *param_groups_json; // optimizer param_groups as JSON (with --keep-optimizer), or NULL
} xt_ckpt;

typedef struct xt_ckpt_opts {
    int keep_optimizer;     // also convert optimizer_state_dict tensors as optim.*
} xt_ckpt_opts;

xt_ckpt *xt_ckpt_load(const char *path, const xt_ckpt_opts *opts); // NULL + error
// Same on a buffer (fuzzing, tests); path only names it.
xt_ckpt *xt_ckpt_load_mem(const uint8_t *data, size_t size, const char *path, const xt_ckpt_opts *opts);
void xt_ckpt_free(xt_ckpt *ck);
const xt_ck_tensor *xt_ckpt_find(const xt_ckpt *ck, const char *name);

// Appends a human-readable note to ck->notes.
void xt_ckpt_note(xt_ckpt *ck, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// 1 if name is a buffer timm/hiera recompute and no longer save (relative_position_index, ...).
int xt_ckpt_recomputed_buffer(const char *name);

// ---------------------------------------------------------------------------------------------
// YAML (yaml.c)

// Minimal YAML (the subset the official configs use: block maps and lists, flow lists, plain
// and quoted scalars, comments) -> JSON text -> xt_json. NULL + error naming `what`.
xt_json *xt_yaml_parse(const char *text, size_t len, const char *what);

#endif
