// ctx.h — the context run of an xT model over one image (ctx.c): the part of inference after the
// region encoder. Each region's last-stage feature map (feat_c, feat_h, feat_w) is pushed,
// row-major over the HP x WP region grid; the logits come out after the last region. Nothing
// image-sized is held beyond what the head truly needs:
//   - naive head: a running GAP, O(C);
//   - xl head with windows (in_context_patches > 0): the pending window(s), O(P * D);
//   - xl head, global context (naive/hyper/mamba): the token sequence (L x D), which global
//     attention truly needs, in an xt_token_store (in memory unless xt_ctx_set_store gives one
//     with a budget).
// A run owns everything it changes (the store, buffers, workspace, HyperAttention's draws); the
// model is only read, so runs of one model may go on at once on any threads.
//
//     xt_xtmodel *m = xt_xtmodel_new(st, cfg);              // st must outlive m (weights mmap'd)
//     const xt_xtmodel_info *in = xt_xtmodel_get_info(m);
//     xt_arena ws;  xt_arena_init(&ws, xt_xtmodel_encode_ws_size(m, B));
//     xt_ctx *c = xt_ctx_begin(m, HP, WP);
//     for each row of regions, B regions at a time:
//         xt_xtmodel_encode_regions(m, regions /* (B, C, S, S) */, B, feat, &ws);
//         for b < B: xt_ctx_push(c, feat + b * xt_xtmodel_feat_numel(in));
//     xt_ctx_logits(c, logits /* (num_classes) */);
//     xt_ctx_free(c);  xt_arena_free(&ws);  xt_xtmodel_free(m);
#ifndef XT_RUN_CTX_H
#define XT_RUN_CTX_H

#include "models/models.h"
#include "run/token_store.h"

typedef struct xt_ctx xt_ctx;

// A run over one image of HP x WP regions (batch 1); m must outlive it. NULL + xt_error.
xt_ctx *xt_ctx_begin(const xt_xtmodel *m, int HP, int WP);
// Replaces the token store (global modes; before the first push). The ctx takes ownership.
int xt_ctx_set_store(xt_ctx *c, xt_token_store *s);
// Reports intermediates under golden names ("decoder.*", "pos_embed", ".callK" suffixes).
void xt_ctx_set_tap(xt_ctx *c, const xt_tap *tap);
// Global modes: fn(u, layers done, n_layers) as xt_ctx_logits runs the context layers over the
// whole sequence (0 first); the other heads do their context work during the pushes.
void xt_ctx_set_progress(xt_ctx *c, void (*fn)(void *u, int64_t done, int64_t total), void *u);
// Per-region logits (class maps), one call per row of regions, rows in order: fn(u, rr,
// logits (WP, num_classes)). Set before the first push. What a region's logits are:
//   - naive head: the head applied to the region's own pooled feature (GAP over its tokens),
//     i.e. what the model says about the region alone; called as each region row completes;
//   - xl head, global context: the classifier (LayerNorm + fc of the cls path) applied to the
//     mean of the region's context-encoded tokens (the last layer's output, which has attended to
//     the whole image); called for every row after the last layer, in xt_ctx_logits;
//   - xl head with windows: refused (-1 + error): each token is encoded in several windows.
int xt_ctx_set_region_logits(xt_ctx *c, int (*fn)(void *u, int rr, const float *logits), void *u);
int xt_ctx_push(xt_ctx *c, const float *feat_region); // (feat_c, feat_h, feat_w)
int xt_ctx_logits(xt_ctx *c, float *logits);          // (num_classes), after HP*WP pushes
void xt_ctx_free(xt_ctx *c);

#endif
