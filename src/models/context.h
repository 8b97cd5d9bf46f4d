// context.h — internal: xT's context encoder layers (context.c) and heads (heads.c), used by
// the context run (run/ctx.c). Not part of the streaming API; see docs/xt-model.md.
//
// The layers are part of the model and read-only once built, so one model can serve runs on
// many threads at once; what a forward pass changes (HyperAttention's draws and hash-tap
// counters) lives in an xt_context_pass that the run owns.
#ifndef XT_CONTEXT_H
#define XT_CONTEXT_H

#include "models/models.h"
#include "models/seq.h"

// LLMLayer weights (naive / hyper attention), official names under "decoder.layers.{i}."
typedef struct xt_llm_layer {
    const float *ln1_w, *qkv_w, *qkv_b, *proj_w, *proj_b; // input_layernorm, attn.qkv, attn.proj
    const float *ln2_w, *gate_w, *up_w, *down_w;          // post_attention_layernorm, mlp.*
} xt_llm_layer;

typedef struct xt_context {
    xt_attn_method attn;
    int D, n_layers, inner, NH, HS;
    xt_llm_layer *llm;       // naive / hyper: n_layers
    xt_mamba *mamba;         // mamba: n_layers
    xt_hyper *hyper;         // hyper: n_layers
    xt_hyper_params hp;
    xt_hyper_rand pass_rand; // hyper: the draws every pass starts from (a pass copies it)
    int causal;              // 1 (xT's classification context); 0: the xView3 context model
    char tname[64];          // module path of the layers' parent, from prefix: "decoder", "context_model"
    size_t spill_min_bytes;  // hyper long path: x parked in a $TMPDIR file from this size
                             // (XT_CONTEXT_SPILL_MIB at init, default 64 MiB; docs/performance.md)
} xt_context;

// What one forward pass changes; one per run, never shared.
typedef struct xt_context_pass {
    xt_hyper_rand rand; // hyper: the pass's draws, shared by all layers in call order (official)
    int *hash_calls;    // hyper: per layer, K of the next "<path>.lsh.hash.call{K}" tap
} xt_context_pass;

// prefix: "decoder." (also the taps' module path); causal 1 unless set to 0 after init; hyper_override: config "hyper_override" (NULL: official defaults).
int xt_context_init(xt_context *c, xt_st *st, const char *prefix, xt_attn_method attn, int D, int n_layers,
                    int mlp_ratio, const xt_json *hyper_override, int block_mask);
void xt_context_free(xt_context *c);
// Starts a forward pass: every pass replays the same draws (so a variant sees the same samples,
// as in the files). Free with xt_context_pass_free.
void xt_context_pass_begin(xt_context_pass *p, const xt_context *c);
void xt_context_pass_free(xt_context_pass *p);
// Bytes of workspace one layer needs on up to Lmax tokens (tap: room for the tapped tensors).
size_t xt_context_ws_size(const xt_context *c, int Lmax, int tap);
// Layer i over x (L, D), in place, within pass p. Taps "<path>.in<sfx>", "<path>.attn<sfx>",
// "<path><sfx>" with path "<tname>.layers.{i}".
int xt_context_layer_forward(const xt_context *c, xt_context_pass *p, int i, float *x, int L, xt_arena *ws,
                             const xt_tap *tap, const char *sfx);

// Heads (heads.c). Naive: GAP -> Linear(C, rC) -> GELU -> LayerNorm(rC) -> Linear(rC, classes).
typedef struct xt_naive_head {
    int C, I, K;
    const float *w0, *b0, *ln_w, *ln_b, *w3, *b3;
} xt_naive_head;
int xt_naive_head_init(xt_naive_head *h, xt_st *st, int C, int mlp_ratio, int num_classes);
// pooled (C) -> logits (K); taps decoder.pooled, decoder.layers.{0..3}, logits (batch dim 1).
void xt_naive_head_forward(const xt_naive_head *h, float *logits, const float *pooled, const xt_tap *tap);

// xl head pieces: input_proj (C -> D), cls_token (D), cls = LayerNorm(D) + Linear(D, K).
typedef struct xt_xl_head {
    int C, D, K;
    const float *proj_w, *proj_b, *cls_token, *ln_w, *ln_b, *fc_w, *fc_b;
} xt_xl_head;
int xt_xl_head_init(xt_xl_head *h, xt_st *st, int C, int D, int num_classes);
// tokens (n, D) = input_proj(feat rows (n, C))  (no position embedding)
void xt_xl_head_project(const xt_xl_head *h, float *tokens, const float *feat_rows, int n);
// v (D) -> logits (K); taps decoder.cls.norm, logits.
void xt_xl_head_classify(const xt_xl_head *h, float *logits, const float *v, const xt_tap *tap);

#endif
