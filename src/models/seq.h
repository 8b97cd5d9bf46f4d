// seq.h — the long-sequence mixers of xT's context encoder: HyperAttention (hyper.c) and the
// Mamba block (mamba.c); the sequence kernels they use are in nn/nn.h (scan.c, conv1d.c).
//
// Both take token sequences in PyTorch order and never materialise an L x L matrix; the Mamba
// block is linear in L with O(D_inner * d_state) carried state and may run in place.
//
// HyperAttention usage (one xt_hyper per layer, read-only once built; what a forward pass changes
// is the caller's: one xt_hyper_rand per pass, one hash-call counter per layer and pass):
//
//     xt_hyper_params p;  xt_hyper_params_default(&p);
//     if (xt_hyper_params_from_json(&p, xt_json_get(cfg, "hyper_override"))) return -1;
//     xt_hyper_rand r;    xt_hyper_rand_init(&r, st, seed);     // replays input.hyper_randint.*
//     xt_hyper hy;        if (xt_hyper_init(&hy, &p, HS, st, "decoder.layers.0.attn.attn", &r)) ...
//     xt_arena ws;        xt_arena_init(&ws, xt_hyper_workspace_size(&hy, B, NH, L));
//     int calls = 0;
//     xt_hyper_attention(out, q, k, v, B, NH, L, &hy, &r, &calls, tap, "decoder.layers.0.attn.attn", &ws);
//     xt_hyper_free(&hy); xt_arena_free(&ws);
//
// Mamba usage:
//
//     xt_mamba mb;  if (xt_mamba_load(&mb, st, "decoder.layers.0.", D)) return -1;
//     xt_arena ws;  xt_arena_init(&ws, xt_mamba_workspace_size(&mb, B, L));
//     xt_mamba_block_forward(x, x, &mb, B, L, /*reverse=*/1, tap, "decoder.layers.0", &ws);
#ifndef XT_SEQ_H
#define XT_SEQ_H

#include "formats/safetensors.h"
#include "nn/nn.h"


// ---------------------------------------------------------------------------------------------
// HyperAttention (causal), official xT hyper_attn semantics (golden README bugs 6 and 7).

typedef struct xt_hyper_params {
    int n_projs;     // lsh_num_projs                          [7]
    int block_size;  // LSH block size                         [256]
    int sample_size; // sampled residual keys                  [256]
    int min_seq_len; // exact causal attention at or below     [4096]
    int block_mask;  // 0: official float32 path (bug 6: block mask dropped) [0]
                     // 1: the GPU/fp16 path: sampled keys inside the query's block get finfo.min
} xt_hyper_params;

void xt_hyper_params_default(xt_hyper_params *p);
// Applies a config "hyper_override" object ({"block_size", "lsh_num_projs", "min_seq_len",
// "sample_size"}); NULL leaves the defaults. -1 + error on bad values.
int xt_hyper_params_from_json(xt_hyper_params *p, const xt_json *override);

// Randomness of one forward pass. With a model file that holds input.hyper_randint.0, ...,
// the draws are replayed in call order (shared by all layers, as in the official code);
// otherwise they come from our seeded generator (xoshiro256**, see docs/context-encoders.md).
// Re-init (or copy a fresh one) before running the same pass again (e.g. a variant). Init
// converts the replayed draws once, so passes only read st and may run at once.
typedef struct xt_hyper_rand {
    const xt_st *st; // replay source, or NULL
    int next;      // index j of the next input.hyper_randint.{j}
    uint64_t s[4]; // generator state
} xt_hyper_rand;

void xt_hyper_rand_init(xt_hyper_rand *r, xt_st *st /* may be NULL */, uint64_t seed);

// One HyperAttention module (one per layer).
typedef struct xt_hyper {
    xt_hyper_params p;
    int HS;          // head size = the module's input_dim
    float *proj_dir; // (HS, n_projs), owned
} xt_hyper;

// proj_dir comes from st's "input.buffer.<path>.lsh.proj_dir" when present (path = module
// path, e.g. "decoder.layers.0.attn.attn"), else N(0,1) draws from r. st may be NULL.
int xt_hyper_init(xt_hyper *h, const xt_hyper_params *p, int HS, xt_st *st, const char *path,
                  xt_hyper_rand *r);
void xt_hyper_free(xt_hyper *h);

// Bytes of workspace xt_hyper_attention needs for these sizes.
size_t xt_hyper_workspace_size(const xt_hyper *h, int B, int NH, int L);

// Causal HyperAttention with scale HS^-0.5:
// out (B, NH, L, HS) from q, k, v (B, NH, L, HS) (all contiguous; out must not alias them).
// For L <= min_seq_len this is exact causal softmax attention (streamed, no L x L matrix).
// Taps (when tap != NULL): "<path>.lsh.hash.call{K}" for every LSH hash (queries, then keys),
// and "<path>" = out. r: the pass's draws (advanced); hash_calls: K of the next hash tap, advanced
// by 2 per LSH level (the caller keeps one per layer and pass, so tap names continue over calls).
// Returns 0, or -1 + error (e.g. replayed draws missing or misshaped).
int xt_hyper_attention(float *out, const float *q, const float *k, const float *v, int B, int NH,
                       int L, const xt_hyper *h, xt_hyper_rand *r, int *hash_calls, const xt_tap *tap,
                       const char *path, xt_arena *ws);

#define XT_HYPER_MAX_LEVELS 40

// One head at a time (the context encoder's long path, issue 11): the same result as
// xt_hyper_attention over (B, NH, L, HS), but q, k, v and out of only one original head need
// to exist at once. A plan holds what the heads share: the pass's draws for every level, made up
// front in the official order (they depend on the sizes only), and, when tapping, the LSH bucket
// ids of every head for the "<path>.lsh.hash.call{K}" taps.
//     xt_hyper_plan pl;
//     if (xt_hyper_plan_init(&pl, &hy, B, NH, L, &r, &calls, tapping, &ws)) return -1;
//     for (int hd = 0; hd < B * NH; hd++) {   // hd = b * NH + h
//         ... q, k, v of head hd, each (L, HS) ...
//         xt_hyper_attention_head(out, q, k, v, &hy, &pl, hd, &ws);   // out (L, HS)
//     }
//     xt_hyper_plan_emit(&pl, tap, path);   // the hash taps, as xt_hyper_attention names them
// The plan lives in ws (place it before the heads run; xt_hyper_plan_size bytes); r and
// hash_calls advance as xt_hyper_attention advances them.
typedef struct xt_hyper_plan {
    int B, NH, L, K, calls0;
    int *idx[XT_HYPER_MAX_LEVELS];  // LSH levels with sampling: the draws (B, NH 2^k, S)
    float *hq[XT_HYPER_MAX_LEVELS]; // tapping: LSH levels' bucket ids (B, NH 2^k, m), queries
    float *hk[XT_HYPER_MAX_LEVELS]; //   and keys
} xt_hyper_plan;

size_t xt_hyper_plan_size(const xt_hyper *h, int B, int NH, int L, int tapping);
int xt_hyper_plan_init(xt_hyper_plan *pl, const xt_hyper *h, int B, int NH, int L, xt_hyper_rand *r,
                       int *hash_calls, int tapping, xt_arena *ws);
// out, q, k, v (L, HS): head hd (= b * NH + h) of the plan's (B, NH, L, HS); ws as
// xt_hyper_workspace_size(h, 1, 1, L) after the plan.
int xt_hyper_attention_head(float *out, const float *q, const float *k, const float *v, const xt_hyper *h,
                            xt_hyper_plan *pl, int hd, xt_arena *ws);
void xt_hyper_plan_emit(const xt_hyper_plan *pl, const xt_hyper *h, const xt_tap *tap, const char *path);

// ---------------------------------------------------------------------------------------------
// HyperAttention for training (the same forward, keeping what its backward needs).
//
// The gradient is that of the attention actually computed (official autograd): the LSH buckets,
// sort permutations and sampled key indices are constants; gradients flow through every block
// softmax, every sampled softmax and every add_self_attentions merge (output and log-sum-exp).
// Memory is O(L): the forward records the base piece and each level's off-diagonal piece per
// query row ((1 + K) L HS floats per head, K = levels above min_seq_len) plus the permutations;
// the backward recomputes every score block from q, k and the recorded log-sum-exps (as
// FlashAttention does), so nothing is L x L at any length.

typedef struct xt_hyper_rec {
    int B, NH, L, K;
    float *a0, *l0;                          // base piece (B, NH, L, HS), its lse (B, NH, L)
    float *aoff[XT_HYPER_MAX_LEVELS];        // level k off-diagonal piece, by query row (B, NH, L, HS)
    float *loff[XT_HYPER_MAX_LEVELS];        //   and its lse (B, NH, L); first-half rows unused
    int *qi[XT_HYPER_MAX_LEVELS], *ki[XT_HYPER_MAX_LEVELS]; // LSH levels: sort permutations
    int *idx[XT_HYPER_MAX_LEVELS];           // LSH levels with sampling: the draws (B, NH 2^k, S)
} xt_hyper_rec;

// Places a record for these sizes in a (a measuring arena only counts). -1 + error if too long.
int xt_hyper_rec_plan(xt_hyper_rec *rec, const xt_hyper *h, int B, int NH, int L, xt_arena *a);
// xt_hyper_attention, filling rec (planned for the same sizes).
int xt_hyper_attention_train(float *out, xt_hyper_rec *rec, const float *q, const float *k, const float *v, int B,
                             int NH, int L, const xt_hyper *h, xt_hyper_rand *r, xt_arena *ws);
size_t xt_hyper_backward_ws_size(const xt_hyper *h, int B, int NH, int L);
// Backward of the forward that filled rec: dq, dk, dv (B, NH, L, HS) written from dout (B, NH, L, HS).
int xt_hyper_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                const float *v, const xt_hyper *h, const xt_hyper_rec *rec, xt_arena *ws);

// ---------------------------------------------------------------------------------------------
// Mamba block: mamba_ssm v1.1.4 Mamba (selective_scan_ref semantics) inside xT's Block.

typedef struct xt_mamba {
    int D, DI, N, R, K;      // d_model, d_inner = 2 D, d_state 16, dt_rank ceil(D/16), d_conv 4
    const float *norm_w;     // (D) block LayerNorm, eps 1e-5
    const float *norm_b;     // (D)
    const float *in_proj_w;  // (2 DI, D)   no bias
    const float *conv_w;     // (DI, 1, K)  depthwise, causal (left zero padding K-1)
    const float *conv_b;     // (DI)
    const float *x_proj_w;   // (R + 2 N, DI) no bias
    const float *dt_proj_w;  // (DI, R)
    const float *dt_proj_b;  // (DI)
    const float *A_log;      // (DI, N)
    const float *Dskip;      // (DI)  the "D" parameter
    const float *out_proj_w; // (D, DI)  no bias
    int chunk;               // tokens per internal chunk; 0 = default (2048). Set before sizing.
} xt_mamba;

// Weights "<prefix>norm.{weight,bias}" and "<prefix>mixer.*" (prefix e.g. "decoder.layers.0.");
// shapes checked against D; d_state, d_conv, dt_rank read from the tensors.
int xt_mamba_load(xt_mamba *m, xt_st *st, const char *prefix, int D);

size_t xt_mamba_workspace_size(const xt_mamba *m, int B, int L);

// xT Block: if reverse, flip the sequence; h = LayerNorm(x); h = h + Mamba(h); flip back.
// out, inp (B, L, D); out may equal inp (in place). Processed in chunks: memory beyond out/inp
// is O(chunk * D + D_inner * d_state). Taps (tap != NULL; these need 2 B L D extra floats,
// allocated here): "<path>.norm", "<path>.mixer" (in the block's, possibly flipped, order),
// "<path>" = out.
int xt_mamba_block_forward(float *out, const float *inp, const xt_mamba *m, int B, int L,
                           int reverse, const xt_tap *tap, const char *path, xt_arena *ws);

// Mamba mixer alone (no norm, no residual, no flip): out (B, L, D) = Mamba(inp (B, L, D)).
int xt_mamba_mixer_forward(float *out, const float *inp, const xt_mamba *m, int B, int L, xt_arena *ws);

#endif
