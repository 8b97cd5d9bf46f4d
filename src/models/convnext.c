// convnext.c — placeholder until the model lands.
#include "models.h"

int xt_convnext_region_verify(xt_st *st, const xt_json *cfg, const xt_tap *tap) {
    return xt_error("verify", "%s: model kind 'convnext_region' is not implemented yet", st->path);
}
