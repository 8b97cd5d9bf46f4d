// sincos.c — MAE-style 2-D sin-cos position embedding as xT's get_2d_sincos_pos_embed.
// ref: xt/models/decoders/utils.py get_2d_sincos_pos_embed_from_grid (numpy, float32)
//
// For the token at (row, col): the first D/2 channels encode the column, the last D/2 the row;
// each half is [sin(p w_k) (k < D/4), cos(p w_k)], w_k = 1 / 10000^(k / (D/4)). The arithmetic
// follows numpy's float32 steps (omega in float32, p * omega in float32) so values match the
// official table to float32 rounding.
#include <math.h>

#include "nn.h"

static void half(float *out, int D2, int p) {
    int K = D2 / 2;
    for (int k = 0; k < K; k++) {
        float om = (float)k / (float)K;
        om = 1.0f / powf(10000.0f, om);
        float a = (float)p * om;
        out[k] = sinf(a);
        out[K + k] = cosf(a);
    }
}

void xt_sincos_pos_embed_token(float *out, int D, int row, int col) {
    half(out, D / 2, col);
    half(out + D / 2, D / 2, row);
}

void xt_sincos_pos_embed_2d(float *out, int D, int h, int w) {
    for (int r = 0; r < h; r++)
        for (int c = 0; c < w; c++) xt_sincos_pos_embed_token(out + ((size_t)r * w + c) * D, D, r, c);
}
