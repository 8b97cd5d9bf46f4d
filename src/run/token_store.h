// token_store.h — the token sequence of xT's global-context modes (naive / hyper / mamba
// attention over the whole image, run/ctx.c): an append-only sequence of rows of D floats, kept
// in memory up to a budget and spilled beyond it to a scratch file, so the region phase of a
// huge image stays within a memory budget. One kind of store serves every budget (SIZE_MAX: all
// in memory; 0: all in the file), so no caller needs to know which it holds.
#ifndef XT_RUN_TOKEN_STORE_H
#define XT_RUN_TOKEN_STORE_H

#include <stddef.h>
#include <stdint.h>

typedef struct xt_token_store xt_token_store;

// Rows [0, mem_bytes / (D * 4)) live in a growing buffer, later ones in a file in dir (NULL or
// "": $TMPDIR, else /tmp) created at the first spill and unlinked at once, so nothing is left
// behind even on a crash. NULL + xt_error on a bad width.
xt_token_store *xt_token_store_new(int D, size_t mem_bytes, const char *dir);
void xt_token_store_free(xt_token_store *s);
int xt_token_store_width(const xt_token_store *s);   // D
int64_t xt_token_store_rows(const xt_token_store *s); // rows appended so far
// rows (n, D). 0, or -1 + xt_error (allocation, disk full).
int xt_token_store_append(xt_token_store *s, const float *rows, int64_t n);
// dst (n, D) = rows [start, start + n). 0, or -1 + xt_error.
int xt_token_store_read(const xt_token_store *s, int64_t start, int64_t n, float *dst);
// The whole sequence followed by tail (n_tail, D), in one malloc'd buffer the caller frees; the
// store is empty afterwards. When nothing was spilled the memory buffer itself is handed over
// (no second copy of the sequence). NULL + xt_error.
float *xt_token_store_take(xt_token_store *s, const float *tail, int64_t n_tail);

#endif
