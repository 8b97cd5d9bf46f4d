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

// ---- Swin V2 (window_attn.c) ----
// Continuous position bias of one block, computed at load: bias (NH, N, N), N = ws*ws, equal to
// 16 * sigmoid(cpb_mlp(relative_coords_table))[relative_position_index]. w0 (512, 2), b0 (512),
// w2 (NH, 512). scratch: xt_swin_cpb_scratch_floats(NH, ws) floats.
void xt_swin_cpb_bias(float *bias, const float *w0, const float *b0, const float *w2, int NH, int ws,
                      float *scratch);
size_t xt_swin_cpb_scratch_floats(int NH, int ws);
// (Shifted) window cosine attention on all windows of a (B, H, W) map, heads of size C/NH:
// out (B, H*W, C) = per-window softmax(norm(q) norm(k)^T * scale[h] + bias[h] + mask) v, with
// q, k, v read from qkv (B, H*W, 3C) (the qkv linear's output, bias included). shift > 0 applies
// torch.roll(-shift) before partitioning, the -100 mask, and the inverse roll on the output.
// scratch: nthreads x scratch_per_thread floats, scratch_per_thread >= xt_window_attn_scratch_floats.
void xt_window_attn_forward(float *out, const float *qkv, const float *scale, const float *bias, int B, int H,
                            int W, int C, int NH, int ws, int shift, float *scratch, size_t scratch_per_thread,
                            int nthreads);
size_t xt_window_attn_scratch_floats(int ws, int HS);
// out (B, H/2, W/2, 4C) = 2x2 neighbours of x (B, H, W, C) in timm PatchMerging order.
void xt_patch_merge_gather(float *out, const float *x, int B, int H, int W, int C);
// img (B, Cin, H, W) -> out (B, H/P, W/P, Cin*P*P): patches for a stride-P PxP convolution.
void xt_patch_im2col(float *out, const float *img, int B, int Cin, int H, int W, int P);
// out (B, C, L) = transpose of x (B, L, C).
void xt_nhwc_to_nchw(float *out, const float *x, int B, int L, int C);

#endif
