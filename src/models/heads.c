// heads.c — xT's classification heads.
//   naive: GAP of the stitched last stage -> Linear(C, rC) -> GELU -> LayerNorm(rC) -> Linear.
//          (ref: xt/models/decoders/decoder.py ClassificationDecoder; keys decoder.layers.{0,2,3})
//   xl:    input_proj (C -> D), cls_token, cls = LayerNorm(D) + Linear(D, classes) on the last
//          token (ref: LLMClassificationDecoder). The context layers are in context.c.
#include <string.h>

#include "models/context.h"
#include "nn/nn.h"

int xt_naive_head_init(xt_naive_head *h, xt_st *st, int C, int mlp_ratio, int num_classes) {
    memset(h, 0, sizeof *h);
    h->C = C, h->I = C * mlp_ratio, h->K = num_classes;
    int64_t s0[2] = {h->I, C}, sI[1] = {h->I}, s3[2] = {num_classes, h->I}, sK[1] = {num_classes};
    if (!(h->w0 = xt_st_weightf(st, 2, s0, "decoder.layers.0.weight")) ||
        !(h->b0 = xt_st_weightf(st, 1, sI, "decoder.layers.0.bias")) ||
        !(h->ln_w = xt_st_weightf(st, 1, sI, "decoder.layers.2.weight")) ||
        !(h->ln_b = xt_st_weightf(st, 1, sI, "decoder.layers.2.bias")) ||
        !(h->w3 = xt_st_weightf(st, 2, s3, "decoder.layers.3.weight")) ||
        !(h->b3 = xt_st_weightf(st, 1, sK, "decoder.layers.3.bias")))
        return -1;
    return 0;
}

void xt_naive_head_forward(const xt_naive_head *h, float *logits, const float *pooled, const xt_tap *tap) {
    float *a = xt_xmalloc(sizeof(float) * 2 * h->I); // once per image: not a hot path
    float *b = a + h->I;
    int64_t sC[2] = {1, h->C}, sI[2] = {1, h->I}, sK[2] = {1, h->K};
    xt_tap_emitf(tap, pooled, 2, sC, "decoder.pooled");
    xt_linear_forward(a, pooled, h->w0, h->b0, 1, h->C, h->I);
    xt_tap_emitf(tap, a, 2, sI, "decoder.layers.0");
    xt_gelu_forward(a, a, h->I);
    xt_tap_emitf(tap, a, 2, sI, "decoder.layers.1");
    xt_layernorm_forward(b, NULL, NULL, a, h->ln_w, h->ln_b, 1, h->I, 1e-5f);
    xt_tap_emitf(tap, b, 2, sI, "decoder.layers.2");
    xt_linear_forward(logits, b, h->w3, h->b3, 1, h->I, h->K);
    xt_tap_emitf(tap, logits, 2, sK, "decoder.layers.3");
    xt_tap_emitf(tap, logits, 2, sK, "logits");
    free(a);
}

int xt_xl_head_init(xt_xl_head *h, xt_st *st, int C, int D, int num_classes) {
    memset(h, 0, sizeof *h);
    h->C = C, h->D = D, h->K = num_classes;
    int64_t sP[2] = {D, C}, sD[1] = {D}, sT[3] = {1, 1, D}, sF[2] = {num_classes, D}, sK[1] = {num_classes};
    if (!(h->proj_w = xt_st_weightf(st, 2, sP, "decoder.input_proj.weight")) ||
        !(h->proj_b = xt_st_weightf(st, 1, sD, "decoder.input_proj.bias")) ||
        !(h->cls_token = xt_st_weightf(st, 3, sT, "decoder.cls_token")) ||
        !(h->ln_w = xt_st_weightf(st, 1, sD, "decoder.cls.0.weight")) ||
        !(h->ln_b = xt_st_weightf(st, 1, sD, "decoder.cls.0.bias")) ||
        !(h->fc_w = xt_st_weightf(st, 2, sF, "decoder.cls.1.weight")) ||
        !(h->fc_b = xt_st_weightf(st, 1, sK, "decoder.cls.1.bias")))
        return -1;
    return 0;
}

void xt_xl_head_project(const xt_xl_head *h, float *tokens, const float *feat_rows, int n) {
    xt_linear_forward(tokens, feat_rows, h->proj_w, h->proj_b, n, h->C, h->D);
}

void xt_xl_head_classify(const xt_xl_head *h, float *logits, const float *v, const xt_tap *tap) {
    float *y = xt_xmalloc(sizeof(float) * h->D); // once per image
    int64_t sD[2] = {1, h->D}, sK[2] = {1, h->K};
    xt_layernorm_forward(y, NULL, NULL, v, h->ln_w, h->ln_b, 1, h->D, 1e-5f);
    xt_tap_emitf(tap, y, 2, sD, "decoder.cls.norm");
    xt_linear_forward(logits, y, h->fc_w, h->fc_b, 1, h->D, h->K);
    xt_tap_emitf(tap, logits, 2, sK, "logits");
    free(y);
}
