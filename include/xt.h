// xt.h — the one public header of libxt: xT (nested tokenization for large images) in C.
//
// Usage:
//
//     #include "xt.h"
//     xt_model *m = xt_model_load("model.safetensors");          // immutable, shareable
//     if (!m) { fprintf(stderr, "xt: %s\n", xt_error_buffer()); return 1; }
//     ...
//     xt_model_free(m);
//
// Errors: functions return -1 (or NULL) and leave a message in a thread-local buffer read with
// xt_error_buffer(). Nothing in the library exits or prints.
#ifndef XT_H
#define XT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define XT_VERSION "0.1.0"

// The last error message of the calling thread.
const char *xt_error_buffer(void);

#ifdef __cplusplus
}
#endif

#endif
