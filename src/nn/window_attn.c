// window_attn.c — Swin V2 layers: (shifted) window cosine attention, its continuous position
// bias, patch-merging gather and the patch-embedding im2col.
//
// Layout: tokens stay in the model's NHWC order (B, H, W, C) = (B, L, C) the whole time. The
// per-token linears (qkv, proj, MLP) run on all tokens at once as one big GEMM; only the
// attention itself works per window. torch.roll(-shift) + window_partition and the inverse
// window_reverse + roll(+shift) are fused into one index map: token t of window (wy, wx) reads
// and writes the original position ((wy*ws + ty + shift) mod H, (wx*ws + tx + shift) mod W).
// ref: timm/models/swin_transformer_v2.py (v0.9.7) WindowAttention, SwinTransformerV2Block._attn
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "fastmath.h"
#include "nn.h"

// ref: WindowAttention.__init__ relative_coords_table, one coordinate: offset d in
// [-(ws-1), ws-1] scaled to 8 / (pws - 1) when pws > 0, else 8 / (ws - 1), then
// sign * log2(|v| + 1) / log2(8). ws == 1 gives 0/0 = NaN in timm (a 1x1 feature map), we use 0
// there: the only pair is a token with itself.
float xt_swin_cpb_coord(int d, int ws, int pws) {
    float den = pws > 0 ? (float)(pws - 1) : ws > 1 ? (float)(ws - 1) : 1.0f;
    float v = (float)d / den * 8.0f;
    float s = v > 0 ? 1.0f : v < 0 ? -1.0f : 0.0f;
    return s * log2f(fabsf(v) + 1.0f) / 3.0f;
}

void xt_swin_cpb_table(float *table, int ws, int pws) {
    int T = 2 * ws - 1;
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            table[(i * T + j) * 2] = xt_swin_cpb_coord(i - (ws - 1), ws, pws);
            table[(i * T + j) * 2 + 1] = xt_swin_cpb_coord(j - (ws - 1), ws, pws);
        }
}

// ref: WindowAttention forward (cpb_mlp -> gather -> 16 * sigmoid). bias (NH, N, N), N = ws*ws.
// Depends on weights only.
void xt_swin_cpb_bias(float *bias, const float *w0, const float *b0, const float *w2, int NH, int ws, int pws,
                      float *scratch) {
    int T = 2 * ws - 1, N = ws * ws;
    float *tab = scratch; // (T*T, NH)
    for (int i = 0; i < T; i++)
        for (int j = 0; j < T; j++) {
            float c[2] = {xt_swin_cpb_coord(i - (ws - 1), ws, pws), xt_swin_cpb_coord(j - (ws - 1), ws, pws)};
            float *o = tab + (size_t)(i * T + j) * NH;
            for (int h = 0; h < NH; h++) o[h] = 0;
            for (int k = 0; k < 512; k++) { // Linear(2, 512) + ReLU + Linear(512, NH, no bias)
                float hk = w0[2 * k] * c[0] + w0[2 * k + 1] * c[1] + b0[k];
                if (hk <= 0) continue;
                for (int h = 0; h < NH; h++) o[h] += w2[(size_t)h * 512 + k] * hk;
            }
        }
    for (int p = 0; p < N; p++)
        for (int q = 0; q < N; q++) {
            const float *o = tab + (size_t)xt_swin_rel_index(p, q, ws) * NH;
            for (int h = 0; h < NH; h++) bias[((size_t)h * N + p) * N + q] = 16.0f / (1.0f + expf(-o[h]));
        }
}

void xt_swin_attn_consts(float *qkvb, float *scale, const float *qb, const float *vb, const float *ls, int C, int NH) {
    memcpy(qkvb, qb, C * sizeof(float));
    memset(qkvb + C, 0, C * sizeof(float));
    memcpy(qkvb + 2 * C, vb, C * sizeof(float));
    for (int h = 0; h < NH; h++) scale[h] = expf(fminf(ls[h], XT_SWIN_LOGIT_MAX));
}

size_t xt_swin_cpb_scratch_floats(int NH, int ws) { return (size_t)(2 * ws - 1) * (2 * ws - 1) * NH; }

size_t xt_window_attn_scratch_floats(int ws, int HS) {
    size_t N = (size_t)ws * ws;
    return 4 * N * HS + N * N + 3 * N + 64; // q, k, v, o, row scales, scores, token index + mask label (ints)
}


void xt_window_attn_forward(float *out, const float *qkv, const float *qkv_bias, const float *scale, const float *bias, int B, int H,
                            int W, int C, int NH, int ws, int shift, float *scratch, size_t scratch_per_thread,
                            int nthreads) {
    int HS = C / NH, N = ws * ws, nWh = H / ws, nWw = W / ws, nW = nWh * nWw;
    long ntask = (long)B * nW * NH;
#pragma omp parallel for schedule(dynamic, 1) num_threads(nthreads) if (nthreads > 1)
    for (long task = 0; task < ntask; task++) {
        int tid = 0;
#ifdef _OPENMP
        tid = omp_get_thread_num();
#endif
        float *q = scratch + (size_t)tid * scratch_per_thread;
        float *k = q + (size_t)N * HS, *v = k + (size_t)N * HS, *o = v + (size_t)N * HS, *S = o + (size_t)N * HS + N;
        int *tok = (int *)(S + (size_t)N * N), *lab = tok + N;
        int h = (int)(task % NH), w = (int)(task / NH % nW), b = (int)(task / NH / nW);
        int wy = w / nWw, wx = w % nWw, masked = 0;
        for (int t = 0; t < N; t++) {
            int sy = wy * ws + t / ws, sx = wx * ws + t % ws;
            tok[t] = ((sy + shift) % H) * W + (sx + shift) % W;
            lab[t] = shift ? xt_swin_mask_label(sy, sx, H, W, ws, shift) : 0;
            masked |= lab[t] != lab[0];
        }
        const float *base = qkv + (size_t)b * H * W * 3 * C + (size_t)h * HS;
        float sc = scale[h];
        // cosine attention: F.normalize(q) . F.normalize(k) * logit scale (folded into q)
        for (int t = 0; t < N; t++) {
            const float *r = base + (size_t)tok[t] * 3 * C, *rk = r + C, *rv = r + 2 * C;
            float *qt = q + (size_t)t * HS, *kt = k + (size_t)t * HS, *vt = v + (size_t)t * HS;
            float sq = 0, sk = 0;
            if (qkv_bias) {
                const float *qb = qkv_bias + h * HS, *kb = qb + C, *vb = qb + 2 * C;
#pragma omp simd reduction(+ : sq, sk)
                for (int d = 0; d < HS; d++) {
                    qt[d] = r[d] + qb[d];
                    kt[d] = rk[d] + kb[d];
                    vt[d] = rv[d] + vb[d];
                    sq += qt[d] * qt[d];
                    sk += kt[d] * kt[d];
                }
            } else {
#pragma omp simd reduction(+ : sq, sk)
                for (int d = 0; d < HS; d++) {
                    qt[d] = r[d];
                    kt[d] = rk[d];
                    vt[d] = rv[d];
                    sq += qt[d] * qt[d];
                    sk += kt[d] * kt[d];
                }
            }
            float iq = sc / fmaxf(sqrtf(sq), 1e-12f), ik = 1.0f / fmaxf(sqrtf(sk), 1e-12f);
#pragma omp simd
            for (int d = 0; d < HS; d++) {
                qt[d] *= iq;
                kt[d] *= ik;
            }
        }
        xt_gemm(0, 1, N, N, HS, 1.0f, q, HS, k, HS, 0.0f, S, N);
        // + 16 sigmoid(cpb) (+ -100 across shifted regions), softmax over keys; the 1/sum
        // normalisation is applied to the (N, HS) output rows instead of the (N, N) weights
        const float *bh = bias + (size_t)h * N * N;
        float *rs = o + (size_t)N * HS; // N row scales
        for (int p = 0; p < N; p++) {
            float *sp = S + (size_t)p * N;
            const float *bp = bh + (size_t)p * N;
            float mx = -INFINITY, sum = 0;
            if (masked) {
                int lp = lab[p];
#pragma omp simd reduction(max : mx)
                for (int j = 0; j < N; j++) {
                    float z = (sp[j] + bp[j]) + (lab[j] != lp ? -100.0f : 0.0f);
                    sp[j] = z;
                    mx = z > mx ? z : mx;
                }
            } else {
#pragma omp simd reduction(max : mx)
                for (int j = 0; j < N; j++) {
                    float z = sp[j] + bp[j];
                    sp[j] = z;
                    mx = z > mx ? z : mx;
                }
            }
#pragma omp simd reduction(+ : sum)
            for (int j = 0; j < N; j++) { sp[j] = xt_expf(sp[j] - mx); sum += sp[j]; }
            rs[p] = 1.0f / sum;
        }
        xt_gemm(0, 0, N, HS, N, 1.0f, S, N, v, HS, 0.0f, o, HS);
        float *ob = out + (size_t)b * H * W * C + (size_t)h * HS;
        for (int t = 0; t < N; t++) {
            float *dst = ob + (size_t)tok[t] * C, *src = o + (size_t)t * HS, r = rs[t];
#pragma omp simd
            for (int d = 0; d < HS; d++) dst[d] = src[d] * r;
        }
    }
}

// ref: PatchMerging.forward: reshape(B, H/2, 2, W/2, 2, C).permute(0, 1, 3, 4, 2, 5).flatten(3),
// i.e. the 2x2 neighbours in the order (0,0), (1,0), (0,1), (1,1) as (row, col) offsets.
void xt_patch_merge_gather(float *out, const float *x, int B, int H, int W, int C) {
    int H2 = H / 2, W2 = W / 2;
#pragma omp parallel for if ((size_t)B * H * W * C > 65536)
    for (long r = 0; r < (long)B * H2; r++) {
        int b = (int)(r / H2), i = (int)(r % H2);
        for (int j = 0; j < W2; j++) {
            float *o = out + ((size_t)r * W2 + j) * 4 * C;
            for (int q = 0; q < 4; q++) {
                int dy = q & 1, dx = q >> 1;
                memcpy(o + q * C, x + (((size_t)b * H + 2 * i + dy) * W + 2 * j + dx) * C, C * sizeof(float));
            }
        }
    }
}

// Conv2d(k = stride = P) as a GEMM: out (B, H/P, W/P, Cin*P*P) with columns in the weight's
// (ci, ky, kx) order.
void xt_patch_im2col(float *out, const float *img, int B, int Cin, int H, int W, int P) {
    int Ho = H / P, Wo = W / P, K = Cin * P * P;
#pragma omp parallel for if ((size_t)B * Cin * H * W > 65536)
    for (long r = 0; r < (long)B * Ho; r++) {
        int b = (int)(r / Ho), i = (int)(r % Ho);
        for (int j = 0; j < Wo; j++) {
            float *o = out + ((size_t)r * Wo + j) * K;
            for (int c = 0; c < Cin; c++)
                for (int ky = 0; ky < P; ky++)
                    memcpy(o + (c * P + ky) * P, img + (((size_t)b * Cin + c) * H + i * P + ky) * W + j * P,
                           P * sizeof(float));
        }
    }
}

// (B, L, C) -> (B, C, L)
void xt_nhwc_to_nchw(float *out, const float *x, int B, int L, int C) {
#pragma omp parallel for if ((size_t)B * L * C > 65536)
    for (long bc = 0; bc < (long)B * C; bc++) {
        int b = (int)(bc / C), c = (int)(bc % C);
        const float *xb = x + (size_t)b * L * C + c;
        float *o = out + (size_t)bc * L;
        for (int l = 0; l < L; l++) o[l] = xb[(size_t)l * C];
    }
}
