// conv1d.c — causal depthwise 1-D convolution over channels-last rows, carrying the last K-1
// input rows across chunks so a long sequence can be processed piece by piece.
// ref: torch.nn.Conv1d(C, C, K, groups=C, padding=K-1)(x)[..., :L] as in mamba_simple.Mamba.
#include <string.h>

#include "models/seq.h"

void xt_causal_conv1d_forward(float *out, float *hist, const float *x, int ld, const float *w,
                              const float *b, int T, int C, int K) {
    int H = K - 1;
    for (int t = 0; t < T; t++) {
        float *o = out + (size_t)t * C;
        for (int c = 0; c < C; c++) o[c] = b ? b[c] : 0.0f;
        for (int j = 0; j < K; j++) {
            int src = t - H + j; // < 0: from the history rows
            const float *xr = src >= 0 ? x + (size_t)src * ld : hist + (size_t)(H + src) * C;
            for (int c = 0; c < C; c++) o[c] += w[(size_t)c * K + j] * xr[c];
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
