// core.h — internal core of libxt (the lowest layer): errors, arenas, JSON, GEMM, threads, taps.
//
// Everything here is internal (cross-file names carry the xt__ or xt_ prefix but are not in
// include/xt.h). Two kinds of error:
//   - programmer errors: XT_ASSERT(cond) — always on, prints file:line, aborts;
//   - input/runtime errors: functions return -1 (or NULL) after xt_error(...) wrote a message
//     into a thread-local buffer; callers propagate without re-logging; only src/cli prints it.
//
// Dimension vocabulary (shapes in PyTorch order, outermost first):
//   B batch, C channels, H/W height/width, L tokens, NH heads, HS head size, D hidden size.
#ifndef XT_CORE_H
#define XT_CORE_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "xt.h"

// ---------------------------------------------------------------------------------------------
// errors (err.c)

#define XT_MAX_DIMS 8 // tensor rank limit (safetensors, taps)

#define XT_ASSERT(cond)                                                                        \
    do {                                                                                       \
        if (!(cond)) xt__assert_fail(#cond, __FILE__, __LINE__);                               \
    } while (0)
_Noreturn void xt__assert_fail(const char *cond, const char *file, int line);

// Formats "<where>: <message>" into the thread-local error buffer; returns -1 for `return xt_error(..)`.
int xt_error(const char *where, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
// Prepends context to the current error: "<ctx>: <old message>". Returns -1.
int xt_error_prefix(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
// An error about a file: "<where>: <path>: <message>". The buffer remembers which file its message
// names, so that xt_error_in_file(path) further up does not name it again. Returns -1.
int xt_error_file(const char *where, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
// The failure happened while reading `path`: prepends "<path>: " unless the message already names
// that file (xt_error_file, or an inner xt_error_in_file); path NULL: nothing. Returns -1. Levels that hold an open file
// (model builders, region runners) call it instead of prefixing the path themselves, so a message
// names its file once however many of them it passes through (docs/design.md, "Errors").
int xt_error_in_file(const char *path);
void xt_error_clear(void);

// malloc/calloc that abort on failure for small internal sizes; for user-sized allocations use
// xt_malloc_checked which reports an error instead.
void *xt_xmalloc(size_t n);
void *xt_xcalloc(size_t n, size_t sz);
void *xt_malloc_checked(size_t n, const char *what); // NULL + xt_error on failure
// Overflow-checked a*b (returns 0 and sets error on overflow).
int xt_mul_size(size_t a, size_t b, size_t *out);

// ---------------------------------------------------------------------------------------------
// arena (arena.c): one aligned block, bump allocation, high-water mark, reset instead of free.

typedef struct xt_arena {
    char *base;
    size_t size, used, high;
    int measure; // 1: only count (base == NULL), used to size arenas before real allocation
} xt_arena;

int xt_arena_init(xt_arena *a, size_t size); // size 0 => measuring arena
void xt_arena_free(xt_arena *a);
float *xt_arena_f32(xt_arena *a, size_t n); // 64-byte aligned; asserts on overflow (sized before)
void *xt_arena_bytes(xt_arena *a, size_t n);
// 0 when a is a real arena with need bytes free, else -1 + error "<where>: <what> too small
// (N bytes free, need M)": the check a layer makes before placing what its size function counted.
int xt_arena_require(const xt_arena *a, size_t need, const char *where, const char *what);
static inline size_t xt_arena_mark(const xt_arena *a) { return a->used; }
static inline void xt_arena_release(xt_arena *a, size_t mark) { a->used = mark; }
static inline void xt_arena_reset(xt_arena *a) { a->used = 0; }

// ---------------------------------------------------------------------------------------------
// JSON (json.c): a small DOM parser for configs and safetensors headers. Strict RFC 8259,
// depth-limited, never crashes on hostile input.

typedef enum { XT_JSON_NULL, XT_JSON_BOOL, XT_JSON_NUM, XT_JSON_STR, XT_JSON_ARR, XT_JSON_OBJ } xt_json_type;

typedef struct xt_json {
    xt_json_type type;
    double num;             // NUM, BOOL (0/1)
    char *str;              // STR (NUL-terminated, unescaped)
    char **keys;            // OBJ: n keys
    struct xt_json **items; // ARR/OBJ: n items
    int n;
} xt_json;

xt_json *xt_json_parse(const char *text, size_t len, const char *what); // NULL + error
void xt_json_free(xt_json *j);
const xt_json *xt_json_get(const xt_json *obj, const char *key); // NULL if absent / not object
xt_json *xt_json_get_mut(xt_json *obj, const char *key);         // the same, in a tree the caller may change
// Sets obj[key] to the string val / the bool val (replacing a present value, else appending the key).
void xt_json_set_str(xt_json *obj, const char *key, const char *val);
void xt_json_set_bool(xt_json *obj, const char *key, int val);
// Typed getters with defaults; a present value of the wrong type is an error (-1).
int xt_json_int(const xt_json *obj, const char *key, int def, int *out);
int xt_json_num(const xt_json *obj, const char *key, double def, double *out);
int xt_json_bool(const xt_json *obj, const char *key, int def, int *out);
const char *xt_json_str(const xt_json *obj, const char *key, const char *def);
// Reads an integer array of at most max elements; returns count or -1.
int xt_json_int_array(const xt_json *obj, const char *key, int *out, int max);

// growable string for writers (JSON headers, messages)
typedef struct xt_sbuf {
    char *p;
    size_t n, cap;
} xt_sbuf;
void xt_sbuf_printf(xt_sbuf *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void xt_sbuf_json_str(xt_sbuf *s, const char *str); // appends a quoted, escaped JSON string
// Appends the JSON text of a value (the one writer of parsed values: configs, presets, model
// metadata). Keys in their order; whole numbers below 9e15 as integers, others "%.17g" (parses
// back to the same double); spaced: ", " and ": " between items, else compact.
void xt_sbuf_json(xt_sbuf *s, const xt_json *j, int spaced);
void xt_sbuf_free(xt_sbuf *s);
// The shortest decimal that reads back as x, written as Python's repr(float) writes it
// ("0.1", "2050.0", "1e-05", "1.5e+16", "inf", "nan"); buf holds at least 32 bytes. Returns buf.
// Output that Python code compares as text (the xView3 CSV and scores) needs exactly this form.
char *xt_fmt_pyfloat(char *buf, double x);

// A whole file (or stream) as a NUL-terminated buffer of *len bytes (free with free()); NULL +
// error "<where>: <path>: cannot open: <errno text>" / "larger than N MiB" / "read error". (file.c)
char *xt_read_file(const char *path, size_t max, size_t *len, const char *where);
// What a file's first bytes say it is ("a TIFF image", "a PNG image", "a zip archive (...)"...),
// for messages when a file of the wrong kind is given; NULL when not recognised. (file.c)
const char *xt_file_kind(const void *bytes, size_t n);
// Outputs written whole or not at all: data goes to PATH.part, renamed to PATH once complete,
// so a killed or failed run never leaves a truncated file under the final name (file.c).
// xt_part_path: PATH.part into buf (>= strlen(path) + 6 bytes). xt_part_commit renames it
// (0 / -1 + error, PATH.part removed on failure). xt_part_fopen / xt_part_fclose: the same for a
// stdio stream (fclose checks the write; ok == 0 discards it). xt_write_file_part: a whole buffer.
void xt_part_path(char *buf, size_t n, const char *path);
int xt_part_commit(const char *path, const char *where);
FILE *xt_part_fopen(const char *path, const char *where);
int xt_part_fclose(FILE *f, const char *path, int ok, const char *where);
int xt_write_file_part(const char *path, const void *data, size_t n, const char *where);
// mkdir -p: DIR and any missing parents; an existing directory is fine (0), anything else is
// "<where>: <dir>: cannot create: <errno text>" (-1). (file.c)
int xt_mkdir_p(const char *dir, const char *where);
// Loads the shared library soname (dlopen, local symbols) and resolves names[i] into *fns[i] for
// i < n: 0, or -1 with the reason in err ("cannot load SONAME: ..." / "SONAME: no symbol F"), not
// in the error channel (callers report it when a file needs the library). (file.c)
int xt_dl_load(const char *soname, const char *const *names, void **const *fns, int n, char *err, size_t nerr);

// ---------------------------------------------------------------------------------------------
// GEMM (gemm.c): row-major, on oneDNN's sgemm, with a naive reference for tests.
//   C(M,N) = alpha * op(A) * op(B) + beta * C; op = transpose when trans != 0.
// Called from inside an OpenMP parallel region it runs single-threaded (oneDNN on OpenMP), so
// callers split work across threads either outside or inside, never both.

void xt_gemm(int transA, int transB, int M, int N, int K, float alpha, const float *A, int lda,
             const float *B, int ldb, float beta, float *C, int ldc);
void xt_gemm_naive(int transA, int transB, int M, int N, int K, float alpha, const float *A,
                   int lda, const float *B, int ldb, float beta, float *C, int ldc);

// threads (threads.c)
void xt_set_threads(int n); // <= 0: all cores. Sets OpenMP and BLAS thread counts.
int xt_get_threads(void);

// ---------------------------------------------------------------------------------------------
// taps: a forward pass reports named intermediate tensors (golden-file module paths) so tests
// and `xt verify` can compare them. NULL tap = no reporting.

typedef struct xt_tap {
    void (*fn)(void *u, const char *path, const float *x, const int64_t *shape, int ndim);
    void *u;
} xt_tap;

void xt_tap_emit(const xt_tap *tap, const char *path, const float *x, int ndim, ...); // int64 dims
void xt_tap_emitf(const xt_tap *tap, const float *x, int ndim, const int64_t *shape,
                  const char *fmt, ...) __attribute__((format(printf, 5, 6)));
static inline int xt_tap_on(const xt_tap *tap) { return tap && tap->fn; }

// misc
double xt_time(void); // monotonic seconds
size_t xt_peak_rss(void); // bytes (VmHWM)

#endif
