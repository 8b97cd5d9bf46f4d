// context.c — the context encoder of xT's xl head: LLMLayer (RMSNorm, attention, gated MLP)
// with "naive" (official bug 1) or "hyper" attention, and the Mamba blocks (seq.h).
//
// Memory: a layer over L tokens keeps x (L, D) plus q, k, v (3 L D); everything else is
// processed in chunks of CH rows (RMSNorm, projections, MLP), and exact attention is streamed
// (xt_attention_forward), so a layer is O(L D) — 4 L D floats on the exact paths. The
// HyperAttention long path runs one head at a time (hyper_long below): one head's q, k, v and
// the outputs of the heads not yet projected, (NH + 2) L HS floats — 2 L D at NH = 2 — plus
// seq.h's workspace, while x (L D) waits in a scratch file (from 64 MiB of x; in memory below).
// ref: xt/models/decoders/decoder.py LLMLayer, LlamaMLP; context_encoders/attention.py
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "models/context.h"
#include "nn/nn.h"

#define CH 256 // rows per chunk

int xt_context_init(xt_context *c, xt_st *st, const char *prefix, xt_attn_method attn, int D, int n_layers,
                    int mlp_ratio, const xt_json *hyper_override, int block_mask) {
    memset(c, 0, sizeof *c);
    c->attn = attn;
    c->D = D;
    c->n_layers = n_layers;
    c->inner = D * mlp_ratio;
    c->causal = 1;
    // the hyper long path parks x in $TMPDIR from this size (MiB; default 64; 0: always)
    const char *e = getenv("XT_CONTEXT_SPILL_MIB");
    char *end = NULL;
    long mib = e && *e ? strtol(e, &end, 10) : 64;
    if (e && *e && (*end || mib < 0 || mib > (1L << 20))) {
        fprintf(stderr, "xt: warning: XT_CONTEXT_SPILL_MIB=%s is not a size in MiB; using 64\n", e);
        mib = 64;
    }
    c->spill_min_bytes = (size_t)mib << 20;
    snprintf(c->tname, sizeof c->tname, "%.*s", (int)strcspn(prefix, "."), prefix);
    if (attn == XT_ATTN_MAMBA) {
        c->mamba = xt_xcalloc(n_layers, sizeof *c->mamba);
        for (int i = 0; i < n_layers; i++) {
            char p[256];
            snprintf(p, sizeof p, "%slayers.%d.", prefix, i);
            if (xt_mamba_load(&c->mamba[i], st, p, D)) { xt_context_free(c); return -1; }
        }
        return 0;
    }
    // bug 2: heads = dim // 128 for both naive (ignored: naive has dim heads) and hyper
    c->NH = attn == XT_ATTN_NAIVE ? D : D / 128;
    if (c->NH < 1 || D % c->NH) return xt_error("xt", "hidden_size %d: hyper attention needs a multiple of 128 (heads = hidden // 128)", D);
    c->HS = D / c->NH;
    c->llm = xt_xcalloc(n_layers, sizeof *c->llm);
    int64_t sD[1] = {D}, sQ[2] = {3 * D, D}, sQb[1] = {3 * D}, sP[2] = {D, D}, sI[2] = {c->inner, D},
            sO[2] = {D, c->inner};
    for (int i = 0; i < n_layers; i++) {
        xt_llm_layer *l = &c->llm[i];
        char p[256];
        snprintf(p, sizeof p, "%slayers.%d.", prefix, i);
        if (!(l->ln1_w = xt_st_weightf(st, 1, sD, "%sinput_layernorm.weight", p)) ||
            !(l->ln2_w = xt_st_weightf(st, 1, sD, "%spost_attention_layernorm.weight", p)) ||
            !(l->qkv_w = xt_st_weightf(st, 2, sQ, "%sattn.qkv.weight", p)) ||
            !(l->proj_w = xt_st_weightf(st, 2, sP, "%sattn.proj.weight", p)) ||
            !(l->proj_b = xt_st_weightf(st, 1, sD, "%sattn.proj.bias", p)) ||
            !(l->gate_w = xt_st_weightf(st, 2, sI, "%smlp.gate_proj.weight", p)) ||
            !(l->up_w = xt_st_weightf(st, 2, sI, "%smlp.up_proj.weight", p)) ||
            !(l->down_w = xt_st_weightf(st, 2, sO, "%smlp.down_proj.weight", p))) {
            xt_context_free(c);
            return -1;
        }
        // qkv bias: always for hyper; for naive only when dim >= 128 (bug 1: qkv_bias = dim // 128)
        char bn[300];
        snprintf(bn, sizeof bn, "%sattn.qkv.bias", p);
        int need_b = attn == XT_ATTN_HYPER || D >= 128;
        if (need_b || xt_st_find(st, bn)) {
            if (!(l->qkv_b = xt_st_weightf(st, 1, sQb, "%s", bn))) { xt_context_free(c); return -1; }
        }
    }
    if (attn == XT_ATTN_HYPER) {
        xt_hyper_params_default(&c->hp);
        if (xt_hyper_params_from_json(&c->hp, hyper_override)) { xt_context_free(c); return -1; }
        c->hp.block_mask = block_mask || c->hp.block_mask; // variant, or config hyper_override.block_mask
        // the proj_dir draws (no file buffer) happen here, from seed 0; every pass then starts
        // from seed 1 (or the file's replayed run-time draws)
        xt_hyper_rand init_rand;
        xt_hyper_rand_init(&init_rand, st, 0);
        xt_hyper_rand_init(&c->pass_rand, st, 1);
        c->hyper = xt_xcalloc(n_layers, sizeof *c->hyper);
        for (int i = 0; i < n_layers; i++) {
            char p[256];
            snprintf(p, sizeof p, "%slayers.%d.attn.attn", prefix, i);
            if (xt_hyper_init(&c->hyper[i], &c->hp, c->HS, st, p, &init_rand)) {
                c->n_layers = i; // only the initialised ones are freed
                xt_context_free(c);
                return -1;
            }
        }
    }
    return 0;
}

void xt_context_free(xt_context *c) {
    if (c->hyper)
        for (int i = 0; i < c->n_layers; i++) xt_hyper_free(&c->hyper[i]);
    free(c->hyper);
    free(c->mamba);
    free(c->llm);
    memset(c, 0, sizeof *c);
}

void xt_context_pass_begin(xt_context_pass *p, const xt_context *c) {
    p->rand = c->pass_rand;
    p->hash_calls = xt_xcalloc(c->n_layers > 0 ? c->n_layers : 1, sizeof *p->hash_calls);
}

void xt_context_pass_free(xt_context_pass *p) {
    free(p->hash_calls);
    memset(p, 0, sizeof *p);
}

static int long_path(const xt_context *c, int L) {
    return c->attn == XT_ATTN_HYPER && L > c->hp.min_seq_len;
}

// floats of the long path's per-head buffers: q, k, v of one head, NH - 1 output slots (one at NH = 1)
static size_t long_floats(const xt_context *c, size_t L) {
    return (3 + (size_t)(c->NH > 1 ? c->NH - 1 : 1)) * L * c->HS;
}

size_t xt_context_ws_size(const xt_context *c, int Lmax, int tap) {
    size_t D = c->D, L = Lmax, al = 128;
    if (c->attn == XT_ATTN_MAMBA) {
        size_t s = xt_mamba_workspace_size(&c->mamba[0], 1, Lmax) + al;
        return s + (tap ? 2 * L * D * sizeof(float) + al : 0);
    }
    int lp = long_path(c, Lmax);
    size_t f = (lp ? long_floats(c, L) : 3 * L * D) + al;        // q, k, v (long path: one head's + outputs)
    f += 3 * CH * D + CH * D + CH * D + 3 * (size_t)CH * c->inner + 4 * al; // chunk buffers
    size_t sa = xt_attention_scratch_floats(c->HS), sc = xt_channel_attention_scratch_floats(c->D);
    f += (sa > sc ? sa : sc) + al;
    if (tap) f += 2 * L * D + 2 * al; // layer input and attention output for the taps
    size_t bytes = f * sizeof(float);
    if (lp) // the plan, the hyper tap (all heads' outputs) and the per-head workspace
        bytes += xt_hyper_plan_size(&c->hyper[0], 1, c->NH, Lmax, tap) + (tap ? (L * D + al) * sizeof(float) : 0) +
                 xt_hyper_workspace_size(&c->hyper[0], 1, 1, Lmax) + al;
    return bytes;
}

static void emit(const xt_context *c, const xt_tap *tap, const float *x, int L, int i, const char *what,
                 const char *sfx) {
    int64_t shape[3] = {1, L, c->D};
    xt_tap_emitf(tap, x, 3, shape, "%s.layers.%d%s%s", c->tname, i, what, sfx);
}

// x rows (n, D) += proj(o rows) for head h's output rows o (n, HS): the columns h HS.. of
// proj_w, the bias with head 0. to (CH, D) scratch; attn_tap rows (n, D) accumulate the same
// terms when tapping.
static void proj_rows(float *xr, float *tr, const float *o, const xt_llm_layer *l, int h, int n, int D, int HS,
                      float *to) {
    if (h == 0)
        for (int r = 0; r < n; r++) memcpy(to + (size_t)r * D, l->proj_b, D * sizeof(float));
    xt_gemm(0, 1, n, D, HS, 1.0f, o, HS, l->proj_w + (size_t)h * HS, D, h == 0 ? 1.0f : 0.0f, to, D);
    if (tr) {
        if (h == 0) memcpy(tr, to, (size_t)n * D * sizeof(float));
        else xt_add(tr, tr, to, (size_t)n * D);
    }
    xt_add(xr, xr, to, (size_t)n * D);
}

// The sequence x parked in a scratch file while the heads run (long path, issue 11): x is read
// there chunk by chunk, so its memory is not held beside one head's q, k, v and output. The
// pages of x are handed back to the kernel (MADV_DONTNEED on the whole pages inside it; their
// contents come back from the file before x is used again). fd < 0: x stays in memory.
typedef struct {
    int fd;
    float *x;
} spill;

static void release_pages(void *p, size_t bytes) {
    uintptr_t pg = (uintptr_t)sysconf(_SC_PAGESIZE), a = ((uintptr_t)p + pg - 1) & ~(pg - 1),
              b = ((uintptr_t)p + bytes) & ~(pg - 1);
    if (b > a) madvise((void *)a, b - a, MADV_DONTNEED); // advice: on failure the pages just stay
}

static int spill_io(const spill *s, int wr, size_t off, float *buf, size_t n) { // rows in floats
    char *p = (char *)buf;
    size_t left = n * sizeof(float);
    off_t o = (off_t)(off * sizeof(float));
    while (left) {
        ssize_t k = wr ? pwrite(s->fd, p, left, o) : pread(s->fd, p, left, o);
        if (k <= 0)
            return xt_error("context", "scratch file %s failed: %s", wr ? "write" : "read",
                            k < 0 ? strerror(errno) : "short");
        p += k, left -= (size_t)k, o += k;
    }
    return 0;
}

// Spills x (n floats) when it is at least min_bytes; a file that cannot be made leaves x where it is.
static void spill_begin(spill *s, float *x, size_t n, size_t min_bytes) {
    s->fd = -1, s->x = x;
    if (n * sizeof(float) < min_bytes) return;
    const char *dir = getenv("TMPDIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/xt-context-XXXXXX", dir && *dir ? dir : "/tmp");
    if ((s->fd = mkstemp(path)) < 0) return;
    unlink(path); // freed when closed, even after a crash
    if (spill_io(s, 1, 0, x, n)) {
        close(s->fd);
        s->fd = -1;
        return;
    }
    release_pages(x, n * sizeof(float));
}

// rows [r0, r0 + n) of x: in x, or read from the file into buf
static const float *x_rows(const spill *s, int r0, int n, int D, float *buf) {
    if (s->fd < 0) return s->x + (size_t)r0 * D;
    return spill_io(s, 0, (size_t)r0 * D, buf, (size_t)n * D) ? NULL : buf;
}

// HyperAttention's long path, one head at a time (issue 11), with the projection and the
// residual: for head h, its q, k, v (L, HS each) from RMSNorm(x) and the head's rows of qkv_w;
// its output into an output slot. x must stay the layer input until the last head's q, k, v are
// made, so the earlier heads' outputs wait in NH - 1 slots and are projected into x then; the
// last head's output reuses slot 0. While the heads run, x waits in a scratch file (spill above)
// and the memory is one head's q, k, v plus the slots: (NH + 2) L HS floats, 2 L D at NH = 2;
// q, k, v are handed back before x returns. The draws are the plan's, made up front in the
// official order, so the result is xt_hyper_attention's over (1, NH, L, HS) (up to the
// projection's summation order: x + (b + o_0 W_0^T) + o_1 W_1^T ... instead of x + (b + o W^T)).
static int hyper_long(const xt_context *c, xt_context_pass *p, int i, float *x, int L, xt_arena *ws,
                      const xt_tap *tap, const char *sfx, float *th, float *to, float *xc, float *attn_tap) {
    const xt_llm_layer *l = &c->llm[i];
    const xt_hyper *hy = &c->hyper[i];
    const int D = c->D, NH = c->NH, HS = c->HS, tapping = xt_tap_on(tap);
    const size_t LH = (size_t)L * HS;
    char path[256];
    snprintf(path, sizeof path, "%s.layers.%d.attn.attn%s", c->tname, i, sfx);
    xt_hyper_plan pl;
    if (xt_hyper_plan_init(&pl, hy, 1, NH, L, &p->rand, &p->hash_calls[i], tapping, ws)) return -1;
    float *hyper_tap = tapping ? xt_arena_f32(ws, (size_t)NH * LH) : NULL; // (1, NH, L, HS)
    float *qkv = xt_arena_f32(ws, 3 * LH), *slots = xt_arena_f32(ws, (size_t)(NH > 1 ? NH - 1 : 1) * LH);
    spill sp;
    spill_begin(&sp, x, (size_t)L * D, c->spill_min_bytes);
    int rc = -1;
    for (int h = 0; h < NH; h++) {
        for (int r0 = 0; r0 < L; r0 += CH) {
            int n = L - r0 < CH ? L - r0 : CH;
            const float *xr = x_rows(&sp, r0, n, D, xc);
            if (!xr) goto out;
            xt_rmsnorm_forward(th, NULL, xr, l->ln1_w, n, D, 1e-5f);
            for (int t = 0; t < 3; t++) // q, k, v: rows t D + h HS .. of qkv_w
                xt_linear_forward(qkv + t * LH + (size_t)r0 * HS, th, l->qkv_w + ((size_t)t * D + h * HS) * D,
                                  l->qkv_b ? l->qkv_b + (size_t)t * D + h * HS : NULL, n, D, HS);
        }
        if (h == NH - 1 && NH > 1) // x is no longer read: the waiting heads go into it
            for (int r0 = 0; r0 < L; r0 += CH) {
                int n = L - r0 < CH ? L - r0 : CH;
                float *xr = (float *)x_rows(&sp, r0, n, D, xc);
                if (!xr) goto out;
                for (int s = 0; s < NH - 1; s++)
                    proj_rows(xr, attn_tap ? attn_tap + (size_t)r0 * D : NULL, slots + s * LH + (size_t)r0 * HS, l, s,
                              n, D, HS, to);
                if (sp.fd >= 0 && spill_io(&sp, 1, (size_t)r0 * D, xr, (size_t)n * D)) goto out;
            }
        float *o = slots + (h < NH - 1 ? h : 0) * LH;
        if (xt_hyper_attention_head(o, qkv, qkv + LH, qkv + 2 * LH, hy, &pl, h, ws)) goto out;
        if (hyper_tap) memcpy(hyper_tap + h * LH, o, LH * sizeof(float));
    }
    if (sp.fd >= 0) { // q, k, v and the spent slots go back before x returns
        release_pages(qkv, 3 * LH * sizeof(float));
        if (NH > 2) release_pages(slots + LH, (size_t)(NH - 2) * LH * sizeof(float));
    }
    for (int r0 = 0; r0 < L; r0 += CH) { // x back from the file, plus the last head
        int n = L - r0 < CH ? L - r0 : CH;
        float *xr = x + (size_t)r0 * D;
        if (sp.fd >= 0 && spill_io(&sp, 0, (size_t)r0 * D, xr, (size_t)n * D)) goto out;
        proj_rows(xr, attn_tap ? attn_tap + (size_t)r0 * D : NULL, slots + (size_t)r0 * HS, l, NH - 1, n, D, HS, to);
    }
    if (tapping) {
        xt_hyper_plan_emit(&pl, hy, tap, path);
        xt_tap_emitf(tap, hyper_tap, 4, (int64_t[]){1, NH, L, HS}, "%s", path);
    }
    rc = 0;
out:
    if (sp.fd >= 0) close(sp.fd);
    return rc;
}

int xt_context_layer_forward(const xt_context *c, xt_context_pass *p, int i, float *x, int L, xt_arena *ws,
                             const xt_tap *tap, const char *sfx) {
    const int D = c->D;
    int tapping = xt_tap_on(tap);
    size_t mark = xt_arena_mark(ws);
    if (tapping) emit(c, tap, x, L, i, ".in", sfx);
    if (c->attn == XT_ATTN_MAMBA) {
        char path[256];
        snprintf(path, sizeof path, "%s.layers.%d%s", c->tname, i, sfx);
        int rc = xt_mamba_block_forward(x, x, &c->mamba[i], 1, L, i % 2 == 0, tap, path, ws);
        xt_arena_release(ws, mark);
        return rc;
    }
    const xt_llm_layer *l = &c->llm[i];
    const int NH = c->NH, HS = c->HS, I = c->inner;
    const int hyper = c->attn == XT_ATTN_HYPER;
    float *tq = xt_arena_f32(ws, (size_t)3 * CH * D), *th = xt_arena_f32(ws, (size_t)CH * D);
    float *to = xt_arena_f32(ws, (size_t)CH * D), *inner = xt_arena_f32(ws, (size_t)3 * CH * I); // g, u, m of the gated MLP
    float *attn_tap = tapping ? xt_arena_f32(ws, (size_t)L * D) : NULL;
    if (hyper && long_path(c, L)) {
        if (hyper_long(c, p, i, x, L, ws, tap, sfx, th, to, tq, attn_tap)) {
            xt_arena_release(ws, mark);
            return -1;
        }
        goto mlp;
    }
    // q, k, v: naive -> row-major (L, 3D); hyper -> head-major (3, NH, L, HS)
    float *qkv = xt_arena_f32(ws, (size_t)3 * L * D);
    size_t sa = xt_attention_scratch_floats(HS), sc = xt_channel_attention_scratch_floats(D);
    float *scr = xt_arena_f32(ws, sa > sc ? sa : sc);
    for (int r0 = 0; r0 < L; r0 += CH) {
        int n = L - r0 < CH ? L - r0 : CH;
        xt_rmsnorm_forward(th, NULL, x + (size_t)r0 * D, l->ln1_w, n, D, 1e-5f);
        if (!hyper) {
            xt_linear_forward(qkv + (size_t)r0 * 3 * D, th, l->qkv_w, l->qkv_b, n, D, 3 * D);
            continue;
        }
        xt_linear_forward(tq, th, l->qkv_w, l->qkv_b, n, D, 3 * D);
        // (n, 3, NH, HS) -> (3, NH, L, HS) rows r0..r0+n
        for (int r = 0; r < n; r++)
            for (int t = 0; t < 3; t++)
                for (int h = 0; h < NH; h++)
                    memcpy(qkv + (((size_t)t * NH + h) * L + r0 + r) * HS, tq + (size_t)r * 3 * D + ((size_t)t * NH + h) * HS,
                           HS * sizeof(float));
    }
    // attention; the output (before proj) ends up in `ao` with element (l, h, d) at
    // ao[h * hstride + l * lstride + d]
    float *ao;
    size_t hstride, lstride;
    if (!hyper) {
        xt_channel_attention_forward(qkv, 3 * D, NULL, qkv, qkv + D, qkv + 2 * D, 3 * D, L, D, scr);
        ao = qkv, hstride = 1, lstride = 3 * (size_t)D; // NH = D heads of size 1
    } else {
        const float *q = qkv, *k = qkv + (size_t)L * D, *v = qkv + 2 * (size_t)L * D;
        hstride = (size_t)L * HS, lstride = HS;
        for (int h = 0; h < NH; h++) // L <= min_seq_len: HyperAttention is exact causal attention
            xt_attention_forward(qkv + h * hstride, HS, NULL, q + h * hstride, HS, k + h * hstride, HS,
                                 v + h * hstride, HS, L, HS, 1.0f / sqrtf((float)HS), c->causal, scr);
        ao = qkv;
    }
    // proj + residual, then RMSNorm + MLP + residual, chunk by chunk
    for (int r0 = 0; r0 < L; r0 += CH) {
        int n = L - r0 < CH ? L - r0 : CH;
        if (hstride == 1) {
            for (int r = 0; r < n; r++) memcpy(th + (size_t)r * D, ao + (r0 + r) * lstride, D * sizeof(float));
        } else {
            for (int r = 0; r < n; r++)
                for (int h = 0; h < NH; h++)
                    memcpy(th + (size_t)r * D + h * HS, ao + h * hstride + (r0 + r) * lstride, HS * sizeof(float));
        }
        xt_linear_forward(to, th, l->proj_w, l->proj_b, n, D, D);
        if (attn_tap) memcpy(attn_tap + (size_t)r0 * D, to, (size_t)n * D * sizeof(float));
        float *xr = x + (size_t)r0 * D;
        xt_add(xr, xr, to, (size_t)n * D);
    }
mlp:
    if (tapping) emit(c, tap, attn_tap, L, i, ".attn", sfx);
    for (int r0 = 0; r0 < L; r0 += CH) {
        int n = L - r0 < CH ? L - r0 : CH;
        float *xr = x + (size_t)r0 * D;
        xt_rmsnorm_forward(th, NULL, xr, l->ln2_w, n, D, 1e-5f);
        xt_gated_mlp_forward(to, inner, inner + (size_t)CH * I, inner + (size_t)2 * CH * I, th, l->gate_w, l->up_w, l->down_w, n, D, I);
        xt_add(xr, xr, to, (size_t)n * D);
    }
    if (tapping) emit(c, tap, x, L, i, "", sfx);
    xt_arena_release(ws, mark);
    return 0;
}

