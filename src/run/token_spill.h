// token_spill.h — a token store (models.h xt_token_store) for the global-context modes that
// keeps the first mem_bytes of the sequence in memory and spills the rest to an unlinked scratch
// file in $TMPDIR (default /tmp), so the region phase of a huge image stays within a budget.
#ifndef XT_IO_TOKEN_SPILL_H
#define XT_IO_TOKEN_SPILL_H

#include "models/models.h"

xt_token_store *xt_token_store_spill_new(int D, size_t mem_bytes); // NULL + xt_error

#endif
