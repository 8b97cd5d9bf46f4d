// stubs.c — the encoder builders presets.c refers to, absent from the fuzz build (the fuzz target
// only needs preset expansion; nothing it runs builds a model).
#include "models/models.h"

xt_encoder *xt_swinv2_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size) { return NULL; }
xt_encoder *xt_hiera_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size) { return NULL; }
xt_encoder *xt_convnext_new(xt_st *st, const xt_json *cfg, const char *prefix, int img_size) { return NULL; }
