// nn.h — layers as explicit forward (and, for training, backward) functions over flat arrays.
//
// Signature convention (llm.c): outputs first, then const inputs, weights, sizes. No allocation,
// I/O or globals inside a layer; scratch comes from the caller. Shapes in comments, PyTorch order.
// Weights use PyTorch layouts: Linear weight (OC, IC), Conv2d weight (OC, IC, KH, KW).
// Backward functions accumulate (+=) into parameter gradients and write (=) input gradients
// unless stated otherwise.
#ifndef XT_NN_H
#define XT_NN_H

#include "core/core.h"

// out (N, OC) = inp (N, IC) @ w^T (OC, IC) + b (OC) [b may be NULL]
void xt_linear_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC, int OC);
// dinp (N, IC) = dout @ w (written, if dinp != NULL); dw (OC, IC) += dout^T @ inp; db (OC) += sum dout
void xt_linear_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int IC, int OC);

// LayerNorm over the last dim C. mean/rstd (N) saved for backward (may be NULL in inference).
void xt_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C, float eps);
void xt_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C);

// GELU, exact (erf) form as torch.nn.GELU(). In place allowed (out == inp).
void xt_gelu_forward(float *out, const float *inp, size_t n);
void xt_gelu_backward(float *dinp, const float *dout, const float *inp, size_t n); // dinp = dout * gelu'(inp)

// Softmax over rows of length C, in place allowed.
void xt_softmax_forward(float *out, const float *inp, int N, int C);

// out[i] = a[i] + b[i]
void xt_add(float *out, const float *a, const float *b, size_t n);

#endif
