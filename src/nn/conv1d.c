// conv1d.c — causal depthwise 1-D convolution over channels-last rows, carrying the last K-1
// input rows across chunks so a long sequence can be processed piece by piece.
// ref: torch.nn.Conv1d(C, C, K, groups=C, padding=K-1)(x)[..., :L] as in mamba_simple.Mamba.
#include <string.h>

#include "nn/nn.h"

#define CT 64 // channels per tile; the tile's transposed weights (K, CT) live on the stack

XT_VECTORIZE void xt_causal_conv1d_forward(float *out, float *hist, const float *x, int ld, const float *w,
                                           const float *b, int T, int C, int K) {
    int H = K - 1;
    XT_ASSERT(K >= 1 && K <= 64);
    for (int c0 = 0; c0 < C; c0 += CT) {
        int nc = C - c0 < CT ? C - c0 : CT;
        float wt[64 * CT], bt[CT];
        for (int j = 0; j < K; j++)
            for (int c = 0; c < CT; c++) wt[j * CT + c] = c < nc ? w[(size_t)(c0 + c) * K + j] : 0.0f;
        for (int c = 0; c < CT; c++) bt[c] = b && c < nc ? b[c0 + c] : 0.0f;
        for (int t = 0; t < T; t++) {
            float acc[CT];
            for (int c = 0; c < CT; c++) acc[c] = bt[c];
            for (int j = 0; j < K; j++) {
                int src = t - H + j; // < 0: from the history rows
                const float *xr = (src >= 0 ? x + (size_t)src * ld : hist + (size_t)(H + src) * C) + c0;
                const float *wj = wt + j * CT;
                if (nc == CT)
                    for (int c = 0; c < CT; c++) acc[c] += wj[c] * xr[c];
                else
                    for (int c = 0; c < nc; c++) acc[c] += wj[c] * xr[c];
            }
            memcpy(out + (size_t)t * C + c0, acc, nc * sizeof(float));
        }
    }
    // new history: the last H rows of [hist; x]; row i comes from position T + i of that
    // concatenation, which is >= i, so ascending in-place copies never overwrite a source.
    for (int i = 0; i < H; i++) {
        int src = T + i - H; // index into x, or into the old hist when negative
        if (src >= 0) memcpy(hist + (size_t)i * C, x + (size_t)src * ld, C * sizeof(float));
        else memmove(hist + (size_t)i * C, hist + (size_t)(H + src) * C, C * sizeof(float));
    }
}
