// test_xt_layers.c — the context-encoder kernels against tools/gen_ref_xt.py references
// (tests/ref/xt_layers.safetensors, plain PyTorch float32) and against their naive versions.
// Tolerances (|a - r| <= atol + rtol * max(1, max|r|)) are stated at each check.
#include <math.h>
#include <string.h>

#include "formats/safetensors.h"
#include "check.h"
#include "nn/nn.h"

static xt_st *st;

static const float *T(const char *name) {
    const float *p = xt_st_f32(st, name, NULL);
    if (!p) { fprintf(stderr, "%s\n", xt_error_buffer()); exit(1); }
    return p;
}

static float *randv(size_t n, unsigned *s) {
    float *p = xt_xmalloc(n * sizeof(float));
    for (size_t i = 0; i < n; i++) {
        *s = *s * 1664525u + 1013904223u;
        p[i] = ((*s >> 8) / 16777216.0f) * 4.0f - 2.0f;
    }
    return p;
}

int main(void) {
    st = xt_st_open("tests/ref/xt_layers.safetensors");
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); return 1; }
    float out[8192];

    // RMSNorm (5, 48): float32 arithmetic on both sides -> 1e-6
    xt_rmsnorm_forward(out, NULL, T("rmsnorm.x"), T("rmsnorm.w"), 5, 48, 1e-5f);
    CHECK_CLOSE(out, T("rmsnorm.out"), 5 * 48, 0, 1e-6, "rmsnorm");

    // gated MLP (7, 32) -> 64 -> 32: GEMM summation order differs -> 1e-5
    float g[7 * 64], u[7 * 64], mm[7 * 64];
    xt_gated_mlp_forward(out, g, u, mm, T("mlp.h"), T("mlp.wg"), T("mlp.wu"), T("mlp.wd"), 7, 32, 64);
    CHECK_CLOSE(out, T("mlp.out"), 7 * 32, 0, 1e-5, "gated mlp");

    // streamed attention (L 300, HS 32; several key blocks, a partial last block): 1e-5
    const int L = 300, HS = 32;
    float *scr = xt_xmalloc(xt_attention_scratch_floats(HS) * sizeof(float));
    float *o = xt_xmalloc((size_t)L * HS * sizeof(float));
    xt_attention_forward(o, HS, NULL, T("attn.q"), HS, T("attn.k"), HS, T("attn.v"), HS, L, HS, 1.0f / sqrtf(HS), 1, scr);
    CHECK_CLOSE(o, T("attn.causal"), L * HS, 0, 1e-5, "causal attention vs torch");
    xt_attention_forward(o, HS, NULL, T("attn.q"), HS, T("attn.k"), HS, T("attn.v"), HS, L, HS, 1.0f / sqrtf(HS), 0, scr);
    CHECK_CLOSE(o, T("attn.full"), L * HS, 0, 1e-5, "full attention vs torch");
    // the naive reference agrees with torch too (it is the oracle for the long case below)
    xt_attention_forward_naive(o, HS, T("attn.q"), HS, T("attn.k"), HS, T("attn.v"), HS, L, HS, 1.0f / sqrtf(HS), 1);
    CHECK_CLOSE(o, T("attn.causal"), L * HS, 0, 1e-5, "naive causal attention vs torch");
    free(o);
    free(scr);

    // long sequence, interleaved rows (q | k | v at stride 3 HS, as the layer stores them), output
    // written over q: blocked vs naive on L = 2500, HS = 64, scores up to ~|60| -> 2e-5
    {
        const int L2 = 2500, H2 = 64, ld = 3 * H2;
        unsigned s = 7;
        float *qkv = randv((size_t)L2 * ld, &s), *ref = xt_xmalloc((size_t)L2 * H2 * sizeof(float));
        float *sc2 = xt_xmalloc(xt_attention_scratch_floats(H2) * sizeof(float));
        xt_attention_forward_naive(ref, H2, qkv, ld, qkv + H2, ld, qkv + 2 * H2, ld, L2, H2, 0.25f, 1);
        xt_attention_forward(qkv, ld, NULL, qkv, ld, qkv + H2, ld, qkv + 2 * H2, ld, L2, H2, 0.25f, 1, sc2);
        float *got = xt_xmalloc((size_t)L2 * H2 * sizeof(float));
        for (int i = 0; i < L2; i++) memcpy(got + (size_t)i * H2, qkv + (size_t)i * ld, H2 * sizeof(float));
        CHECK_CLOSE(got, ref, (long)L2 * H2, 0, 2e-5, "blocked causal attention, L 2500, in place over q");
        free(qkv), free(ref), free(sc2), free(got);
    }

    // official "naive" context attention (bug 1): per channel, not causal, scale 1 -> 1e-5
    {
        const int Lc = 40, C = 24;
        float *qkv = xt_xmalloc((size_t)Lc * 3 * C * sizeof(float));
        for (int i = 0; i < Lc; i++) {
            memcpy(qkv + (size_t)i * 3 * C, T("chan.q") + i * C, C * sizeof(float));
            memcpy(qkv + (size_t)i * 3 * C + C, T("chan.k") + i * C, C * sizeof(float));
            memcpy(qkv + (size_t)i * 3 * C + 2 * C, T("chan.v") + i * C, C * sizeof(float));
        }
        float *sc = xt_xmalloc(xt_channel_attention_scratch_floats(C) * sizeof(float));
        xt_channel_attention_forward(out, C, NULL, qkv, qkv + C, qkv + 2 * C, 3 * C, Lc, C, sc);
        CHECK_CLOSE(out, T("chan.out"), Lc * C, 0, 1e-5, "channel attention (bug 1)");
        // out over q (how the layer calls it)
        xt_channel_attention_forward(qkv, 3 * C, NULL, qkv, qkv + C, qkv + 2 * C, 3 * C, Lc, C, sc);
        for (int i = 0; i < Lc; i++) memcpy(out + i * C, qkv + (size_t)i * 3 * C, C * sizeof(float));
        CHECK_CLOSE(out, T("chan.out"), Lc * C, 0, 1e-5, "channel attention in place");
        free(qkv), free(sc);
    }

    // sin-cos embedding: numpy float32 vs sinf/cosf; arguments up to ~30 rad -> 1e-6
    xt_sincos_pos_embed_2d(out, 64, 3, 5);
    CHECK_CLOSE(out, T("pos.64x3x5"), 15 * 64, 0, 1e-6, "pos embed 64, 3 x 5");
    float *pe = xt_xmalloc(60 * 256 * sizeof(float));
    xt_sincos_pos_embed_2d(pe, 256, 6, 10);
    CHECK_CLOSE(pe, T("pos.256x6x10"), 60 * 256, 0, 1e-6, "pos embed 256, 6 x 10");
    free(pe);
    // and the official table stored in a golden file (square 8 x 8, D 128)
    xt_st *gf = xt_st_open(golden("xt_cls_xl.safetensors"));
    CHECK(gf != NULL);
    if (gf) {
        xt_sincos_pos_embed_2d(out, 128, 8, 8);
        CHECK_CLOSE(out, xt_st_f32(gf, "expected.pos_embed", NULL), 64 * 128, 0, 1e-6, "pos embed vs official");
        xt_st_close(gf);
    }
    xt_st_close(st);
    return check_summary("xt_layers");
}
