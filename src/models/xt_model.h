// xt_model.h — internal: the xT classifier's struct (built in xt.c), for the context run
// (run/ctx.c), which reads its heads and context layers. Everything here is read-only once
// xt_xtmodel_new returns: a run keeps what it changes in its own xt_ctx, so one model can
// serve runs on several threads at once.
#ifndef XT_XT_MODEL_H
#define XT_XT_MODEL_H

#include "models/context.h"

struct xt_xtmodel {
    xt_xtmodel_info info;
    xt_st *st;
    xt_encoder *enc;
    xt_naive_head naive;
    xt_xl_head xl;
    xt_context ctx; // the context encoder's layers (xl head)
};

#endif
