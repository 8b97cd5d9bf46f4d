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

// Fused epilogues (one pass instead of two or three; bias of the preceding linear folded in):
// x (N, C) += LayerNorm(y + yb) (yb may be NULL; w, b required) — Swin V2's res-post-norm residual.
void xt_residual_layernorm_forward(float *x, const float *y, const float *yb, const float *w, const float *b, int N,
                                   int C, float eps);
// x (N, C) = GELU(x + b), in place.
void xt_bias_gelu_forward(float *x, const float *b, int N, int C);

// out[i] = a[i] + b[i]
void xt_add(float *out, const float *a, const float *b, size_t n);

// ---- Swin V2 (window_attn.c) ----
// Shift-mask label of rolled-map position (y, x): timm's img_mask slices [0, R-ws), [R-ws, R-shift),
// [R-shift, R) per axis; two tokens of a window attend with -100 added when their labels differ.
static inline int xt_swin_mask_label(int y, int x, int H, int W, int ws, int shift) {
    int ly = y < H - ws ? 0 : y < H - shift ? 1 : 2, lx = x < W - ws ? 0 : x < W - shift ? 1 : 2;
    return ly * 3 + lx;
}
// The position-bias MLP's input and gather: table (T, 2), T = (2 ws - 1)^2, timm's
// relative_coords_table, row (dy + ws-1) * (2 ws - 1) + (dx + ws-1) = (coord(dy), coord(dx)) for
// window offsets dy, dx in [-(ws-1), ws-1] (normalised by pws - 1 if pws > 0, else ws - 1); index
// (n, n), n = ws*ws, relative_position_index: index[p n + q] = xt_swin_rel_index(p, q, ws), the
// table row of query token p and key token q of a window.
float xt_swin_cpb_coord(int d, int ws, int pws);
void xt_swin_cpb_table(float *table, int *index, int ws, int pws);
static inline int xt_swin_rel_index(int p, int q, int ws) {
    return (p / ws - q / ws + ws - 1) * (2 * ws - 1) + (p % ws - q % ws + ws - 1);
}
// Continuous position bias (training: every forward; inference: once at load): raw (T, NH) =
// relu(table (T, 2) w0^T + b0) w2^T, then out (NH, n, n) = 16 sigmoid(raw[index[i n + j], h]).
// w0 (HID, 2), b0 (HID), w2 (NH, HID). Saves raw and hid (2, T, HID) (pre-ReLU, ReLU; NULL: not
// kept).
void xt_cpb_forward(float *out, float *hid, float *raw, const float *table, const int *index, const float *w0,
                    const float *b0, const float *w2, int T, int HID, int NH, int n);
// dw0 (HID, 2), db0 (HID), dw2 (NH, HID) +=. scratch: T*NH + T*HID floats.
void xt_cpb_backward(float *dw0, float *db0, float *dw2, const float *dout, const float *hid, const float *raw,
                     const float *table, const int *index, const float *w2, int T, int HID, int NH, int n,
                     float *scratch);
// The same at load, table and index built in scratch (xt_swin_cpb_scratch_floats(NH, ws) floats):
// bias (NH, n, n) from w0 (512, 2), b0 (512), w2 (NH, 512).
void xt_swin_cpb_bias(float *bias, const float *w0, const float *b0, const float *w2, int NH, int ws, int pws,
                      float *scratch);
size_t xt_swin_cpb_scratch_floats(int NH, int ws);
// The rest of a block's attention constants, from weights (inference: at load; training: every
// forward): qkvb (3C) = cat(q_bias, 0, v_bias); scale (NH) = exp(min(logit_scale, max)), max =
// XT_SWIN_LOGIT_MAX = log(1 / 0.01), the float logf(100.0f) (no gradient where clamped).
// ref: WindowAttention.forward
#define XT_SWIN_LOGIT_MAX 4.60517019f
void xt_swin_attn_consts(float *qkvb, float *scale, const float *qb, const float *vb, const float *ls, int C, int NH);
// (Shifted) window cosine attention on all windows of a (B, H, W) map, heads of size HS = C/NH
// (ref: timm 0.9.7 WindowAttention.forward): per window and head
//   out = softmax(normalize(q) normalize(k)^T * scale[h] + bias[h] + mask) v
// with q, k, v read from qkv (B, H*W, 3C) + qkv_bias (3C; NULL = none) (the qkv linear's output
// and its bias, added here to save a pass). shift > 0 applies torch.roll(-shift) before
// partitioning and the inverse roll on the output (out (B, H*W, C)). The mask (timm's attn_mask)
// adds -100 between two tokens of a window whose labels differ: labels (nlab, ws*ws), window
// i = b*nW + w of the batch using row i % nlab; NULL: the labels of the shifted map
// (xt_swin_mask_label; none when shift == 0). Training runs it on partitioned windows (B = number
// of windows, H = W = ws, shift 0, labels of the stage) and keeps what the backward needs in
// *saved (NULL in inference), indexed by task t = i*NH + h (windows x heads):
typedef struct xt_window_attn_saved {
    float *p;            // (nw, NH, N, N) attention probabilities, N = ws*ws
    float *qn, *kn;      // (nw, NH, N, HS) normalize(q), normalize(k)
    float *qnorm, *knorm; // (nw, NH, N) max(|q|, 1e-12), max(|k|, 1e-12)
} xt_window_attn_saved;
// scale (NH) = exp(min(logit_scale, log 100)); bias (NH, N, N). scratch: nthreads x
// scratch_per_thread floats, scratch_per_thread >= xt_window_attn_scratch_floats.
void xt_window_attn_forward(float *out, const xt_window_attn_saved *saved, const float *qkv, const float *qkv_bias,
                            const float *scale, const float *bias, const int *labels, int nlab, int B, int H, int W,
                            int C, int NH, int ws, int shift, float *scratch, size_t scratch_per_thread, int nthreads);
size_t xt_window_attn_scratch_floats(int ws, int HS);
// Backward of xt_window_attn_forward on nw partitioned windows of n tokens (the training forward:
// qkv (nw, n, 3C) biases included, qkv_bias NULL): dqkv (nw, n, 3C) written; dbias (NH, n, n) +=;
// dscale (NH) += dL/dscale[h] (the caller chains to logit_scale). saved->p is overwritten (by dS).
// dout (nw, n, C). part: nw*NH floats scratch (deterministic reduction).
void xt_window_attn_backward(float *dqkv, float *dbias, float *dscale, const float *dout,
                             const xt_window_attn_saved *saved, const float *qkv, const float *scale, int nw, int n,
                             int NH, int HS, float *part);

// Window partition with cyclic shift (torch.roll(-shift) then partition): inp (B, H, W, C) ->
// out (B*nWh*nWw, ws*ws, C). Reverse is the exact inverse (partition^-1 then roll(+shift)).
// Both are permutations, so each is the other's backward.
void xt_window_partition(float *out, const float *inp, int B, int H, int W, int C, int ws, int shift);
void xt_window_reverse(float *out, const float *inp, int B, int H, int W, int C, int ws, int shift);

// out (B, H/2, W/2, 4C) = 2x2 neighbours of x (B, H, W, C) in timm PatchMerging order; its
// backward scatters dout (B, H/2, W/2, 4C) back into dinp (B, H, W, C) (written).
void xt_patch_merge_gather(float *out, const float *x, int B, int H, int W, int C);
void xt_patch_merge_scatter(float *dinp, const float *dout, int B, int H, int W, int C);
// img (B, Cin, H, W) -> out (B, H/P, W/P, Cin*P*P): patches for a stride-P PxP convolution.
void xt_patch_im2col(float *out, const float *img, int B, int Cin, int H, int W, int P);
// out (B, C, L) = transpose of x (B, L, C).
void xt_nhwc_to_nchw(float *out, const float *x, int B, int L, int C);

// ---- matmuls on oneDNN (matmul_bf16.c): float32, and optional bfloat16 ----
// 1 when the CPU runs bf16 matmuls natively (AVX512-BF16 or AMX), else 0.
int xt_bf16_available(void);
typedef struct xt_mm xt_mm; // per-model cache of oneDNN primitives, one per shape (thread-safe)
xt_mm *xt_mm_new(int need_bf16); // NULL + error when oneDNN (or, if asked, native bf16) is missing
void xt_mm_free(xt_mm *c);
// out (M, N) float32 = a (M, K) @ w (N, K)^T (PyTorch Linear layout, no bias), float32 accumulate;
// a and w bfloat16 / float32. Called outside OpenMP parallel regions (oneDNN threads itself).
int xt_mm_bf16_run(xt_mm *c, float *out, const uint16_t *a, const uint16_t *w, int M, int N, int K);
int xt_mm_f32_run(xt_mm *c, float *out, const float *a, const float *w, int M, int N, int K);
// bfloat16 (round to nearest even) of n floats.
void xt_f32_to_bf16(uint16_t *out, const float *in, size_t n);
// xt_linear_forward in bfloat16: out (M, N) = in (M, K) @ w16 (N, K)^T + b (NULL: none), in
// rounded into a16 (M*K, caller's scratch) first, float32 accumulate and output. 0 / -1 + error.
int xt_linear_forward_bf16(xt_mm *mm, float *out, const float *in, const uint16_t *w16, const float *b, int M, int K,
                           int N, uint16_t *a16);
// xt_linear_forward through mm's cached float32 primitives (no allocation per call, unlike
// dnnl_sgemm's packing buffers); mm NULL: xt_linear_forward. 0 / -1 + error.
int xt_linear_forward_mm(xt_mm *mm, float *out, const float *in, const float *w, const float *b, int M, int K, int N);
// int8 (oneDNN s8 x s8 -> s32; AVX512-VNNI where the CPU has it): symmetric per-row scales,
// q = round(x / s), s = max|row| / 127 (1 for a zero row). Weights (N, K) quantised once per
// output channel, activations per token (row) on every call.
void xt_quantize_rows_s8(int8_t *q, float *scale, const float *x, int rows, int cols);
// out (M, N) = (a8 @ w8^T) * ascale[m] * wscale[n] + b, a8 / ascale the caller's scratch (M*K, M)
// filled here from in. 0 / -1 + error.
int xt_linear_forward_s8(xt_mm *mm, float *out, const float *in, const int8_t *w8, const float *wscale, const float *b,
                         int M, int K, int N, int8_t *a8, float *ascale);
// ---------------------------------------------------------------------------------------------
// Training layers (train_ops.c): the remaining forward/backward pairs training needs.

// Softmax backward over rows: dinp = p * (dout - sum(dout * p)). In place allowed (dinp == dout).
void xt_softmax_backward(float *dinp, const float *dout, const float *p, int N, int C);

// RMSNorm (LlamaRMSNorm): out = w * x / sqrt(mean(x^2) + eps). rstd (N) saved for backward.
void xt_rmsnorm_forward(float *out, float *rstd, const float *inp, const float *w, int N, int C, float eps);
void xt_rmsnorm_backward(float *dinp, float *dw, const float *dout, const float *inp, const float *w,
                         const float *rstd, int N, int C);

// SiLU x*sigmoid(x) and softplus log(1+e^x) (torch threshold 20: x > 20 -> x). In place allowed.
void xt_silu_forward(float *out, const float *inp, size_t n);
void xt_silu_backward(float *dinp, const float *dout, const float *inp, size_t n);
void xt_softplus_forward(float *out, const float *inp, size_t n);
void xt_softplus_backward(float *dinp, const float *dout, const float *inp, size_t n);

// Gated MLP (LLaMA style, GELU): out (N, C) = down(GELU(gate(h)) * up(h)), no biases.
// Saves g (N, F) = gate(h) pre-activation, u (N, F) = up(h), m (N, F) = GELU(g) * u.
void xt_gated_mlp_forward(float *out, float *g, float *u, float *m, const float *h, const float *wg,
                          const float *wu, const float *wd, int N, int C, int F);
// dh (N, C) written; dwg/dwu (F, C), dwd (C, F) +=. scratch: 2*N*F floats.
void xt_gated_mlp_backward(float *dh, float *dwg, float *dwu, float *dwd, const float *dout, const float *h,
                           const float *g, const float *u, const float *m, const float *wg, const float *wu,
                           const float *wd, int N, int C, int F, float *scratch);

// Conv2d with kernel == stride == P, no padding (patch embedding), as im2col + GEMM:
// img (B, IC, H, W) -> out (B, H/P, W/P, OC) NHWC; col (B*(H/P)*(W/P), IC*P*P) saved for backward.
void xt_patch_embed_forward(float *out, float *col, const float *img, const float *w, const float *b, int B,
                            int IC, int H, int W, int P, int OC);
// dimg (B, IC, H, W) written if non-NULL; dw (OC, IC, P, P), db (OC) +=. dcol: scratch like col.
void xt_patch_embed_backward(float *dimg, float *dw, float *db, float *dcol, const float *dout, const float *col,
                             const float *w, int B, int IC, int H, int W, int P, int OC);

// ---------------------------------------------------------------------------------------------
// Hiera's mask-unit attention (mask_unit_attn.c), one image: qkv (N, 3D), token n = t*nw + w of mask
// unit w (nw = 1: global attention), NH heads of HS = D/NH; per (head, unit) task the query is
// max-pooled over q blocks, then att (N/q, D) = softmax(qp K^T / sqrt(HS)) V. qp (NH, nw, N/(q nw),
// HS) and p (NH, nw, N/(q nw), N/nw) receive the pooled query and the probabilities (inference:
// scratch; training: kept for the backward, with qidx (like qp) the argmax of each pooled element;
// NULL: not kept).
void xt_mask_unit_attn_forward(float *att, float *qp, int *qidx, float *p, const float *qkv, int N, int D, int NH,
                               int q, int nw);
// datt (N/q, D) -> dqkv (N, 3D) written. scratch: NH * nw * Tq * (T + HS) floats (Tq = N/(q nw), T = N/nw).
void xt_mask_unit_attn_backward(float *dqkv, float *scratch, const float *datt, const float *qkv, const float *qp,
                                const int *qidx, const float *p, int N, int D, int NH, int q, int nw);

// ---------------------------------------------------------------------------------------------
// attention of the context encoder (attention.c): forward (inference and training) and backward

// Exact softmax attention of one head: out[i] = sum_j softmax_j(scale q_i . k_j [+ causal mask
// j > i]) v_j. Rows of q, k, v, out (HS floats) at strides ldq, ldk, ldv, ldo; L rows each. out may
// alias q (not k or v). Inference: p == NULL, streamed over key blocks (flash-attention style,
// never L x L); scratch: xt_attention_scratch_floats(HS) floats (per-thread tiles). Training: the
// probabilities p (L, L) are kept for the backward; scratch unused (may be NULL).
size_t xt_attention_scratch_floats(int HS);
void xt_attention_forward(float *out, int ldo, float *p, const float *q, int ldq, const float *k, int ldk,
                          const float *v, int ldv, int L, int HS, float scale, int causal, float *scratch);
// Reference (one score row per query, double accumulation): for tests.
void xt_attention_forward_naive(float *out, int ldo, const float *q, int ldq, const float *k, int ldk,
                                const float *v, int ldv, int L, int HS, float scale, int causal);
// From the forward's p: dq/dk/dv written (row stride ldd); q, k, v at row stride ld; dout at ldo;
// dp (L, L) scratch.
void xt_attention_backward(float *dq, float *dk, float *dv, int ldd, float *dp, const float *dout, int ldo,
                           const float *p, const float *q, const float *k, const float *v, int ld, int L,
                           int HS, float scale);

// Official xT "naive" context attention (bug 1): per channel, head size 1, scale 1, not causal:
// out[n, c] = sum_m softmax_m(q[n, c] k[m, c]) v[m, c]. q, k, v rows at stride ld, out rows at ldo
// (may alias q). Inference: p == NULL, O(L^2 C) time, O(L C) memory; scratch:
// xt_channel_attention_scratch_floats(C). Training: the probabilities p (C, L, L) are kept for
// the backward; scratch unused (may be NULL).
size_t xt_channel_attention_scratch_floats(int C);
void xt_channel_attention_forward(float *out, int ldo, float *p, const float *q, const float *k, const float *v,
                                  int ld, int L, int C, float *scratch);
// qkv (L, 3D) = [q | k | v] as the forward read it (ld = 3D), dout (L, D); dqkv (L, 3D) written.
void xt_channel_attention_backward(float *dqkv, const float *dout, const float *p, const float *qkv, int L, int D);

// ---------------------------------------------------------------------------------------------
// context-encoder position embedding (sincos.c); RMSNorm and the gated MLP are the training
// layers above.

// 2-D sin-cos position embedding (xT get_2d_sincos_pos_embed, generalised to h x w grids):
// first D/2 channels encode the column, last D/2 the row. D % 4 == 0.
void xt_sincos_pos_embed_token(float *out, int D, int row, int col); // out (D)
void xt_sincos_pos_embed_2d(float *out, int D, int h, int w);        // out (h * w, D), row-major

// ---------------------------------------------------------------------------------------------
// conv2d (conv2d.c). Weights in PyTorch layout (OC, IC, KH, KW).

// Geometry of one dense conv: input (IC, H, W) per image, kernel KHxKW, stride SH/SW, zero
// padding PH/PW on both sides. OH = (H + 2 PH - KH) / SH + 1 (xt_conv2d_out).
typedef struct xt_conv2d_dims {
    int IC, H, W, OC, KH, KW, SH, SW, PH, PW;
} xt_conv2d_dims;
enum { XT_CONV_IN_NHWC = 1, XT_CONV_OUT_NHWC = 2 }; // layout flags (default NCHW)
static inline int xt_conv2d_out(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }
// Floats of im2col scratch xt_conv2d_forward needs (one image at a time: OH*OW*IC*KH*KW).
size_t xt_conv2d_col_size(const xt_conv2d_dims *d);
// Dense conv via im2col + GEMM. inp (B, IC, H, W) [or (B, H, W, IC) with XT_CONV_IN_NHWC] ->
// out (B, OC, OH, OW) [or (B, OH, OW, OC) with XT_CONV_OUT_NHWC]; b (OC) may be NULL.
void xt_conv2d_forward(float *out, float *col, const float *inp, const float *w, const float *b,
                       int B, const xt_conv2d_dims *d, int flags);
// Definitional reference (NCHW in and out, groups dividing IC and OC), for tests.
void xt_conv2d_forward_naive(float *out, const float *inp, const float *w, const float *b, int B,
                             const xt_conv2d_dims *d, int groups);
// Depthwise KxK conv, stride 1, zero padding pad, channels-last: inp (B, H, W, C) ->
// out (B, OH, OW, C). w_hwc (K, K, C) is the PyTorch weight (C, 1, K, K) transposed by
// xt_dwconv2d_weight_hwc (done once at load time so the inner loop runs over contiguous C).
void xt_dwconv2d_forward(float *out, const float *inp, const float *w_hwc, const float *b, int B,
                         int H, int W, int C, int K, int pad);
void xt_dwconv2d_weight_hwc(float *w_hwc, const float *w, int C, int K); // (C,1,K,K) -> (K,K,C)

// NCHW -> NHWC: out (B, HW, C) from inp (B, C, HW) (the inverse is xt_nhwc_to_nchw above).
void xt_nchw_to_nhwc(float *out, const float *inp, int B, int C, int HW);

// Nearest-neighbour 2x upsampling (F.interpolate(scale_factor=2)): inp (B, C, H, W) -> out (B, C, 2H, 2W).
// The UNet decoder's 3x3 conv, stride 1, zero pad 1 (conv2d.c): out (OC, H, W) = act(w (*) cat(src) + b)
// for one image; src[s] is C channels of (H, W), or of (H/2, W/2) read through a nearest 2x
// upsampling (up2). silu: SiLU after the bias. hd != NULL: out is not written; instead each of
// hd->groups planes hd->out[g] (H, W) = hd->b[g] + hd->w[g] . (channels g*OC/G .. of the activated
// conv), the heads' 1x1 convs. Threads over blocks of rows; scratch: xt_conv3x3_scratch_floats
// (IC = sum of src C) for as many threads as may run (fewer run if it is smaller).
typedef struct xt_conv_src {
    const float *x;
    int C, up2;
} xt_conv_src;
typedef struct xt_conv_heads {
    int groups;
    const float *w, *b; // (groups, OC / groups), (groups)
    float *const *out;
} xt_conv_heads;
size_t xt_conv3x3_scratch_floats(int IC, int OC, int H, int W, int heads, int threads);
void xt_conv3x3_forward(float *out, const xt_conv_src *src, int nsrc, int H, int W, const float *w,
                        const float *b, int OC, int silu, const xt_conv_heads *hd, float *scratch,
                        size_t scratch_floats);
void xt_upsample2x_nearest(float *out, const float *inp, int B, int C, int H, int W);
// ConvTranspose2d(IC, OC, kernel 2, stride 2), NCHW: out (B, OC, 2H, 2W),
// out[o, 2y+a, 2x+b] = b[o] + sum_i inp[i, y, x] w[i, o, a, b]; w (IC, OC, 2, 2), b may be NULL.
// scratch: xt_conv_transpose2x2_scratch_floats floats.
size_t xt_conv_transpose2x2_scratch_floats(int IC, int OC, int H, int W);
void xt_conv_transpose2x2_forward(float *out, const float *inp, const float *w, const float *b, int B, int IC,
                                  int OC, int H, int W, float *scratch);
// Backward passes (training). Parameter gradients dw/db are accumulated (+=) and may be NULL;
// input gradients are written (dinp may be NULL).
// Dense conv, NCHW in and out: dout (B, OC, OH, OW); inp the forward's input;
// scratch: xt_conv2d_backward_scratch_floats floats.
size_t xt_conv2d_backward_scratch_floats(const xt_conv2d_dims *d);
void xt_conv2d_backward(float *dinp, float *dw, float *db, float *scratch, const float *inp, const float *dout,
                        const float *w, int B, const xt_conv2d_dims *d);
// Nearest 2x: dinp (B, C, H, W) = sum of each pixel's four copies in dout (B, C, 2H, 2W).
void xt_upsample2x_nearest_backward(float *dinp, const float *dout, int B, int C, int H, int W);
// ConvTranspose2d 2x2 / 2: scratch xt_conv_transpose2x2_backward_scratch_floats floats.
size_t xt_conv_transpose2x2_backward_scratch_floats(int IC, int OC, int H, int W);
void xt_conv_transpose2x2_backward(float *dinp, float *dw, float *db, const float *inp, const float *dout,
                                   const float *w, int B, int IC, int OC, int H, int W, float *scratch);

// ---------------------------------------------------------------------------------------------
// vectorisation hint

// GCC's -O2 uses the "very cheap" vectorizer cost model, which gives up on loops with a run-time
// trip count; the dynamic model vectorizes them (the selective scan runs ~10x faster). Marks
// hot element-wise functions; other compilers: plain loops.
#if defined(__GNUC__) && !defined(__clang__)
#define XT_VECTORIZE __attribute__((optimize("tree-vectorize", "vect-cost-model=dynamic")))
#else
#define XT_VECTORIZE
#endif

// ---------------------------------------------------------------------------------------------
// sequence kernels of the Mamba block (scan.c, conv1d.c), channels-last, carrying state across chunks.

// Selective scan over T steps (ref: mamba_ssm selective_scan_ref, no z, delta already softplus'd):
//   s_t = exp(delta_t * A) s_{t-1} + delta_t B_t u_t;  y_t = C_t . s_t + Dskip u_t.
// y, u, delta (T, DI); AT (N, DI) = (-exp(A_log))^T, transposed so the channel loop is
// contiguous; Bm, Cm rows of N at stride ldbc (T rows); state (N, DI) in/out (zero at sequence
// start). Dskip may be NULL. Threads split the channels.
void xt_selective_scan_forward(float *y, float *state, const float *u, const float *delta,
                               const float *AT, const float *Bm, const float *Cm, int ldbc,
                               const float *Dskip, int T, int DI, int N);

// Double-precision naive reference of the same (tests): state (N, DI) in/out as double.
void xt_selective_scan_naive(float *y, double *state, const float *u, const float *delta,
                             const float *AT, const float *Bm, const float *Cm, int ldbc,
                             const float *Dskip, int T, int DI, int N);

// exp for float vectors (max rel. error ~2 ulp; flushes below exp(-87.3) to that value):
// out[i] = exp(x[i]); in place allowed. Plain C that the compiler vectorizes.
void xt_vexp(float *out, const float *x, int n);
// out = SiLU(x) = x / (1 + exp(-x)) (in place allowed); y *= SiLU(z);
// x = softplus(x + bias) with torch's threshold 20 (bias (n)).
void xt_vsilu(float *out, const float *x, int n);
void xt_vsilu_mul(float *y, const float *z, int n);
void xt_vsoftplus_bias(float *x, const float *bias, int n);

// Causal depthwise conv1d (ref: torch conv1d, groups = C, padding K-1, first L outputs):
// out (T, C) = sum_j w[c, j] * x_{t - (K-1) + j} + b[c]; x rows before the chunk come from
// hist (K-1, C) (zeros at sequence start), which is updated to the chunk's last K-1 rows.
// ld: row stride of x. b may be NULL.
void xt_causal_conv1d_forward(float *out, float *hist, const float *x, int ld, const float *w,
                              const float *b, int T, int C, int K);

#endif
