// hyper.c — causal HyperAttention as the official xT code runs it (float32 path).
//
// ref: xT hyper_attn/hyper_attn.py (HyperAttention.forward_causal_mask / forward_no_causal_mask),
//      hyper_attn/angular_lsh.py, hyper_attn/utils.py (add_self_attentions, exact_attention).
// The semantics (golden README bugs 6 and 7, spec.py's class Hyper) in brief:
//   causal(n): n <= min_seq_len -> exact causal softmax; else pad odd n with one zero row,
//     split into halves as new heads (head 2h + half), recurse, and add the off-diagonal block
//     (queries = second half, keys = first half) through the non-causal path, merging with
//     add_self_attentions; drop the pad row.
//   noncausal(nq = nk = m): m < min_seq_len -> exact; else angular-LSH hash both sides (Gray
//     ordered buckets), stable sort, attention inside blocks of block_size of the sorted
//     sequences (zero rows appended after sorting take part with score 0), plus, when
//     m > block_size, attention to sample_size keys drawn uniformly from the sorted keys with
//     lse += log(m / sample_size), merged with add_self_attentions.
//
// No copies of q/k/v: a head at recursion level k is a row range of an original head: `r` real
// rows from `start`, then zero rows up to its length n (the pad rows of the levels above).
// Pad rows take part as keys and in the LSH sort, but their outputs are never used, so only
// real query rows are computed. The recursion runs level by level (innermost first), which is
// also the official order of the LSH hash calls and of the random draws.
#include <float.h>
#include <math.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#include "seq.h"

#define FMIN (-FLT_MAX) // torch.finfo(torch.float32).min: the official causal mask / block mask
#define MAX_LEVELS 40
#define MAX_PROJS 12 // 2^12 buckets: the counting sort's table lives on the stack

static int n_threads(void) {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}
static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// ---------------------------------------------------------------------------------------------
// parameters and randomness

void xt_hyper_params_default(xt_hyper_params *p) {
    // ref: xT models/decoders/decoder.py LLMAttention (hard-coded HyperAttention arguments)
    p->n_projs = 7;
    p->block_size = 256;
    p->sample_size = 256;
    p->min_seq_len = 4096;
    p->block_mask = 0;
}

int xt_hyper_params_from_json(xt_hyper_params *p, const xt_json *o) {
    if (!o) return 0;
    if (o->type != XT_JSON_OBJ) return xt_error("config", "'hyper_override' must be an object");
    if (xt_json_int(o, "lsh_num_projs", p->n_projs, &p->n_projs) ||
        xt_json_int(o, "block_size", p->block_size, &p->block_size) ||
        xt_json_int(o, "sample_size", p->sample_size, &p->sample_size) ||
        xt_json_int(o, "min_seq_len", p->min_seq_len, &p->min_seq_len) ||
        xt_json_bool(o, "block_mask", p->block_mask, &p->block_mask))
        return xt_error_prefix("hyper_override");
    if (p->n_projs < 1 || p->n_projs > MAX_PROJS)
        return xt_error("config", "hyper_override: lsh_num_projs %d outside [1, %d]", p->n_projs, MAX_PROJS);
    if (p->block_size < 1 || p->block_size > (1 << 20))
        return xt_error("config", "hyper_override: block_size %d outside [1, 2^20]", p->block_size);
    if (p->sample_size < 1 || p->sample_size > (1 << 20))
        return xt_error("config", "hyper_override: sample_size %d outside [1, 2^20]", p->sample_size);
    if (p->min_seq_len < 1)
        return xt_error("config", "hyper_override: min_seq_len %d must be >= 1", p->min_seq_len);
    return 0;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t next_u64(xt_hyper_rand *r) { // xoshiro256**
    uint64_t *s = r->s, res = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t; s[3] = rotl(s[3], 45);
    return res;
}

static int rand_below(xt_hyper_rand *r, int n) { // unbiased (Lemire) integer in [0, n)
    uint64_t x = next_u64(r) >> 32, m = x * (uint64_t)n;
    if ((uint32_t)m < (uint32_t)n) {
        uint32_t t = (uint32_t)(-(uint32_t)n) % (uint32_t)n;
        while ((uint32_t)m < t) { x = next_u64(r) >> 32; m = x * (uint64_t)n; }
    }
    return (int)(m >> 32);
}

static double rand_normal(xt_hyper_rand *r) { // Box-Muller, one value per call
    double u1 = ((next_u64(r) >> 11) + 1.0) * 0x1.0p-53, u2 = (next_u64(r) >> 11) * 0x1.0p-53;
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void xt_hyper_rand_init(xt_hyper_rand *r, xt_st *st, uint64_t seed) {
    memset(r, 0, sizeof *r);
    r->st = st && xt_st_find(st, "input.hyper_randint.0") ? st : NULL;
    uint64_t x = seed;
    for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

// One torch.randint(m, (B, NH, S)) draw: replayed from the file or generated. idx (B, NH, S).
static int draw_samples(int *idx, xt_hyper_rand *r, int B, int NH, int S, int m) {
    size_t n = (size_t)B * NH * S;
    if (r->st) {
        char name[64];
        snprintf(name, sizeof name, "input.hyper_randint.%d", r->next);
        const xt_st_tensor *t = xt_st_find(r->st, name);
        if (!t)
            return xt_error("hyper", "%s: tensor '%s' missing: the file's HyperAttention draws ran out",
                            r->st->path, name);
        if (t->ndim != 3 || t->shape[0] != B || t->shape[1] != NH || t->shape[2] != S)
            return xt_error("hyper", "%s: tensor '%s' must have shape (%d, %d, %d) for this draw",
                            r->st->path, name, B, NH, S);
        const float *f = xt_st_f32(r->st, name, NULL);
        if (!f) return -1;
        for (size_t i = 0; i < n; i++) {
            if (!(f[i] >= 0 && f[i] < m && f[i] == floorf(f[i])))
                return xt_error("hyper", "%s: tensor '%s': value %g at %zu is not an index in [0, %d)",
                                r->st->path, name, f[i], i, m);
            idx[i] = (int)f[i];
        }
    } else
        for (size_t i = 0; i < n; i++) idx[i] = rand_below(r, m);
    r->next++;
    return 0;
}

int xt_hyper_init(xt_hyper *h, const xt_hyper_params *p, int HS, xt_st *st, const char *path,
                  xt_hyper_rand *r) {
    memset(h, 0, sizeof *h);
    if (HS < 1) return xt_error("hyper", "head size %d must be >= 1", HS);
    h->p = *p;
    h->HS = HS;
    int P = p->n_projs;
    h->proj_dir = xt_malloc_checked((size_t)HS * P * sizeof(float), "HyperAttention proj_dir");
    if (!h->proj_dir) return -1;
    char name[512];
    snprintf(name, sizeof name, "input.buffer.%s.lsh.proj_dir", path ? path : "");
    const xt_st_tensor *t = st && path ? xt_st_find(st, name) : NULL;
    if (t) {
        // stored as (1, 1, input_dim, n_projs)
        int ok = t->ndim >= 2 && t->shape[t->ndim - 2] == HS && t->shape[t->ndim - 1] == P;
        for (int i = 0; ok && i < t->ndim - 2; i++) ok = t->shape[i] == 1;
        if (!ok) {
            xt_hyper_free(h);
            return xt_error("hyper", "%s: tensor '%s' must have shape (1, 1, %d, %d)", st->path, name, HS, P);
        }
        const float *f = xt_st_f32(st, name, NULL);
        if (!f) { xt_hyper_free(h); return -1; }
        memcpy(h->proj_dir, f, (size_t)HS * P * sizeof(float));
    } else {
        // official: torch.randn((1, 1, input_dim, n_projs)) at construction; ours: seeded normals
        for (size_t i = 0; i < (size_t)HS * P; i++) h->proj_dir[i] = (float)rand_normal(r);
    }
    return 0;
}

void xt_hyper_free(xt_hyper *h) {
    free(h->proj_dir);
    h->proj_dir = NULL;
}

// ---------------------------------------------------------------------------------------------
// geometry of the recursion

typedef struct {
    int n[MAX_LEVELS + 1]; // head length at each level
    int K;                 // base level: n[K] <= min_seq_len
} levels;

static void make_levels(levels *lv, int L, int min_len) {
    lv->K = 0;
    lv->n[0] = L;
    while (lv->n[lv->K] > min_len && lv->K < MAX_LEVELS) {
        lv->n[lv->K + 1] = (lv->n[lv->K] + 1) / 2;
        lv->K++;
    }
}

// Head hk (0 <= hk < 2^k) of an original head at level k: rows [start, start + r) are real,
// the head has n rows (zeros after the real ones).
static void head_range(const levels *lv, int k, long hk, int *start, int *r) {
    int s = 0, rr = lv->n[0];
    for (int lev = 0; lev < k; lev++) {
        int m = lv->n[lev + 1];
        if ((hk >> (k - 1 - lev)) & 1) {
            s += m;
            rr = rr > m ? rr - m : 0;
        } else if (rr > m)
            rr = m;
    }
    *start = s;
    *r = rr;
}

static inline float dot(const float *a, const float *b, int n) {
    float s = 0;
    for (int i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

// ---------------------------------------------------------------------------------------------
// kernels

// softmax-weighted sum of value rows: sc (n) scores (overwritten by weights), rows[j] NULL for
// zero rows. acc (HS) = softmax(sc) @ V; returns lse.
static float attend(float *acc, float *sc, const float *const *vrows, int n, int HS) {
    float mx = -INFINITY;
    for (int j = 0; j < n; j++) mx = sc[j] > mx ? sc[j] : mx;
    float sum = 0;
    for (int j = 0; j < n; j++) { sc[j] = expf(sc[j] - mx); sum += sc[j]; }
    memset(acc, 0, HS * sizeof(float));
    for (int j = 0; j < n; j++) {
        if (!vrows[j]) continue;
        float w = sc[j];
        const float *v = vrows[j];
        for (int c = 0; c < HS; c++) acc[c] += w * v[c];
    }
    float inv = 1.0f / sum;
    for (int c = 0; c < HS; c++) acc[c] *= inv;
    return mx + logf(sum);
}

// add_self_attentions: (a1, l1) <- merge with (a2, l2). ref: hyper_attn/utils.py
static inline void merge(float *a1, float *l1, const float *a2, float l2, int HS) {
    float c = 1.0f / (1.0f + expf(l2 - *l1));
    for (int i = 0; i < HS; i++) a1[i] = c * a1[i] + (1.0f - c) * a2[i];
    *l1 = *l1 - logf(c + FLT_EPSILON);
}

// per-thread scratch
typedef struct {
    float *sc, *acc;
    const float **rows;
} scratch;

// ---------------------------------------------------------------------------------------------
// the forward pass

typedef struct {
    const float *q, *k, *v;
    float *out, *lse;
    int B, NH, L, HS;
    float scale;
    const xt_hyper *h;
    levels lv;
    scratch *scr;
} ctx;

static inline size_t row_off(const ctx *c, long head0, int row) { // head0 = b * NH + h
    return ((size_t)head0 * c->L + row) * c->HS;
}

// Exact causal attention for every head at the base level (real query rows only).
static void base_level(const ctx *c) {
    int K = c->lv.K;
    long nheads = (long)c->B * c->NH << K;
#pragma omp parallel for schedule(dynamic, 1)
    for (long hh = 0; hh < nheads; hh++) {
        scratch *s = &c->scr[thread_id()];
        long head0 = hh >> K, hk = hh & ((1L << K) - 1);
        int start, r;
        head_range(&c->lv, K, hk, &start, &r);
        for (int i = 0; i < r; i++) {
            const float *qi = c->q + row_off(c, head0, start + i);
            for (int j = 0; j <= i; j++) {
                const float *kj = c->k + row_off(c, head0, start + j);
                s->sc[j] = dot(qi, kj, c->HS) * c->scale;
                s->rows[j] = c->v + row_off(c, head0, start + j);
            }
            size_t o = row_off(c, head0, start + i);
            c->lse[o / c->HS] = attend(c->out + o, s->sc, s->rows, i + 1, c->HS);
        }
    }
}

// LSH bucket of a row (NULL = zero row): perm[sum_r [x . proj[:, r] > 0] 2^r], perm = Gray order.
static int lsh_hash(const float *x, const float *proj, int HS, int P) {
    if (!x) return 0; // 0 > 0 is false for every projection; gray(0) = 0
    int id = 0;
    for (int r = 0; r < P; r++) {
        float s = 0;
        for (int i = 0; i < HS; i++) s += x[i] * proj[(size_t)i * P + r];
        if (s > 0) id |= 1 << r;
    }
    // perm = [0, 1, 3, 2, 6, 7, 5, 4, ...] (the reflected Gray code built by mirroring), so
    // perm[id] = id ^ (id >> 1)
    return id ^ (id >> 1);
}

// One level's off-diagonal blocks: queries = second halves, keys/values = first halves.
static int offdiag_level(const ctx *c, int k, xt_hyper_rand *rnd, const xt_tap *tap, const char *path,
                         xt_hyper *hy, xt_arena *ws) {
    const xt_hyper_params *p = &c->h->p;
    int m = c->lv.n[k + 1], HS = c->HS, P = p->n_projs, bs = p->block_size, S = p->sample_size;
    int NHk = c->NH << k;
    long nheads = (long)c->B * NHk;
    size_t mark = xt_arena_mark(ws);

    if (m < p->min_seq_len) { // exact non-causal
#pragma omp parallel for schedule(dynamic, 1)
        for (long hh = 0; hh < nheads; hh++) {
            scratch *s = &c->scr[thread_id()];
            long head0 = hh >> k, hk = hh & ((1L << k) - 1);
            int start, r;
            head_range(&c->lv, k, hk, &start, &r);
            int r1 = r < m ? r : m, r2 = r > m ? r - m : 0;
            for (int i = 0; i < r2; i++) {
                const float *qi = c->q + row_off(c, head0, start + m + i);
                for (int j = 0; j < m; j++) {
                    if (j < r1) {
                        s->sc[j] = dot(qi, c->k + row_off(c, head0, start + j), HS) * c->scale;
                        s->rows[j] = c->v + row_off(c, head0, start + j);
                    } else {
                        s->sc[j] = 0;
                        s->rows[j] = NULL;
                    }
                }
                float l = attend(s->acc, s->sc, s->rows, m, HS);
                size_t o = row_off(c, head0, start + m + i);
                merge(c->out + o, &c->lse[o / HS], s->acc, l, HS);
            }
        }
        return 0;
    }

    // LSH: hash every query and key row of every head (pad rows too: they take part in sorting)
    size_t nrows = (size_t)nheads * m;
    float *hq = xt_arena_f32(ws, nrows), *hk_ = xt_arena_f32(ws, nrows);
    int *qi = xt_arena_bytes(ws, nrows * sizeof(int)), *ki = xt_arena_bytes(ws, nrows * sizeof(int));
    int nb = (m + bs - 1) / bs;
    int sampling = m > bs; // official: nq > block_size and nk > block_size
    int *idx = sampling ? xt_arena_bytes(ws, (size_t)nheads * S * sizeof(int)) : NULL;
#pragma omp parallel for schedule(dynamic, 1)
    for (long hh = 0; hh < nheads; hh++) {
        long head0 = hh >> k, hk = hh & ((1L << k) - 1);
        int start, r;
        head_range(&c->lv, k, hk, &start, &r);
        int r1 = r < m ? r : m, r2 = r > m ? r - m : 0;
        for (int i = 0; i < m; i++) {
            hq[hh * m + i] = (float)lsh_hash(i < r2 ? c->q + row_off(c, head0, start + m + i) : NULL,
                                             hy->proj_dir, HS, P);
            hk_[hh * m + i] = (float)lsh_hash(i < r1 ? c->k + row_off(c, head0, start + i) : NULL,
                                              hy->proj_dir, HS, P);
        }
        // stable counting sort by bucket (argsort)
        int nbk = 1 << P;
        for (int side = 0; side < 2; side++) {
            const float *hsrc = side ? hk_ + hh * m : hq + hh * m;
            int *dst = side ? ki + hh * m : qi + hh * m;
            int cnt[1 << MAX_PROJS];
            memset(cnt, 0, nbk * sizeof(int));
            for (int i = 0; i < m; i++) cnt[(int)hsrc[i]]++;
            for (int b = 0, acc = 0; b < nbk; b++) { int t = cnt[b]; cnt[b] = acc; acc += t; }
            for (int i = 0; i < m; i++) dst[cnt[(int)hsrc[i]]++] = i;
        }
    }
    if (xt_tap_on(tap)) {
        xt_tap_emitf(tap, hq, 3, (int64_t[]){c->B, NHk, m}, "%s.lsh.hash.call%d", path, hy->hash_calls);
        xt_tap_emitf(tap, hk_, 3, (int64_t[]){c->B, NHk, m}, "%s.lsh.hash.call%d", path, hy->hash_calls + 1);
    }
    hy->hash_calls += 2;
    if (sampling && draw_samples(idx, rnd, c->B, NHk, S, m)) { xt_arena_release(ws, mark); return -1; }
    float lcorr = logf((float)m / (float)S);

#pragma omp parallel for schedule(dynamic, 1)
    for (long hb = 0; hb < nheads * nb; hb++) {
        scratch *s = &c->scr[thread_id()];
        long hh = hb / nb;
        int blk = (int)(hb % nb);
        long head0 = hh >> k, hk = hh & ((1L << k) - 1);
        int start, r;
        head_range(&c->lv, k, hk, &start, &r);
        int r1 = r < m ? r : m, r2 = r > m ? r - m : 0;
        const int *qs = qi + hh * m, *ks = ki + hh * m, *sidx = sampling ? idx + hh * S : NULL;
        for (int pos = blk * bs; pos < (blk + 1) * bs && pos < m; pos++) {
            int qrow = qs[pos];
            if (qrow >= r2) continue; // a pad query: its output is dropped
            const float *qv = c->q + row_off(c, head0, start + m + qrow);
            // block attention: keys at sorted positions of the same block; positions >= m are
            // the zero rows appended after sorting
            for (int j = 0; j < bs; j++) {
                int kp = blk * bs + j;
                int krow = kp < m ? ks[kp] : m;
                if (krow < r1) {
                    s->sc[j] = dot(qv, c->k + row_off(c, head0, start + krow), HS) * c->scale;
                    s->rows[j] = c->v + row_off(c, head0, start + krow);
                } else {
                    s->sc[j] = 0;
                    s->rows[j] = NULL;
                }
            }
            float *ab = s->acc, *ar = s->acc + HS;
            float lb = attend(ab, s->sc, s->rows, bs, HS);
            if (sampling) {
                for (int j = 0; j < S; j++) {
                    int krow = ks[sidx[j]];
                    if (krow < r1) {
                        s->sc[j] = dot(qv, c->k + row_off(c, head0, start + krow), HS) * c->scale;
                        s->rows[j] = c->v + row_off(c, head0, start + krow);
                    } else {
                        s->sc[j] = 0;
                        s->rows[j] = NULL;
                    }
                    // bug 6: the GPU path masks sampled keys already inside the query's block
                    if (p->block_mask && pos / bs == sidx[j] / bs) s->sc[j] += FMIN;
                }
                float lr = attend(ar, s->sc, s->rows, S, HS) + lcorr;
                merge(ab, &lb, ar, lr, HS);
            }
            size_t o = row_off(c, head0, start + m + qrow);
            merge(c->out + o, &c->lse[o / HS], ab, lb, HS);
        }
    }
    xt_arena_release(ws, mark);
    return 0;
}

static size_t scratch_floats(const xt_hyper *h, int L) {
    int n = h->p.min_seq_len < L ? h->p.min_seq_len : L; // base level rows / exact off-diagonal
    if (h->p.block_size > n) n = h->p.block_size;
    if (h->p.sample_size > n) n = h->p.sample_size;
    return (size_t)n;
}

size_t xt_hyper_workspace_size(const xt_hyper *h, int B, int NH, int L) {
    levels lv;
    make_levels(&lv, L, h->p.min_seq_len);
    size_t al = 64, T = (size_t)n_threads(), n = scratch_floats(h, L);
    size_t sz = (size_t)B * NH * L * sizeof(float) + al;                     // lse
    sz += T * (sizeof(scratch) + n * (sizeof(float) + sizeof(float *)) + 2 * h->HS * sizeof(float) + 4 * al);
    size_t lvl = 0;
    for (int k = 0; k < lv.K; k++) {
        size_t nh = (size_t)B * NH << k, rows = nh * lv.n[k + 1];
        size_t s = 4 * rows * 4 + nh * h->p.sample_size * sizeof(int) + 5 * al;
        if (s > lvl) lvl = s;
    }
    return sz + lvl + al;
}

int xt_hyper_attention(float *out, const float *q, const float *k, const float *v, int B, int NH,
                       int L, xt_hyper *h, xt_hyper_rand *r, const xt_tap *tap, const char *path,
                       xt_arena *ws) {
    if (B < 1 || NH < 1 || L < 1) return xt_error("hyper", "bad sizes B=%d NH=%d L=%d", B, NH, L);
    ctx c = {.q = q, .k = k, .v = v, .out = out, .B = B, .NH = NH, .L = L, .HS = h->HS, .h = h};
    c.scale = 1.0f / sqrtf((float)h->HS);
    make_levels(&c.lv, L, h->p.min_seq_len);
    if (c.lv.K >= MAX_LEVELS) return xt_error("hyper", "sequence of %d tokens is too long", L);
    size_t mark = xt_arena_mark(ws);
    c.lse = xt_arena_f32(ws, (size_t)B * NH * L);
    int T = n_threads();
    size_t n = scratch_floats(h, L);
    c.scr = xt_arena_bytes(ws, T * sizeof(scratch));
    for (int t = 0; t < T; t++) {
        c.scr[t].sc = xt_arena_f32(ws, n);
        c.scr[t].acc = xt_arena_f32(ws, 2 * (size_t)h->HS);
        c.scr[t].rows = xt_arena_bytes(ws, n * sizeof(float *));
    }
    base_level(&c);
    int rc = 0;
    for (int lev = c.lv.K - 1; lev >= 0 && !rc; lev--) rc = offdiag_level(&c, lev, r, tap, path, h, ws);
    xt_arena_release(ws, mark);
    if (rc) return -1;
    if (xt_tap_on(tap)) xt_tap_emitf(tap, out, 4, (int64_t[]){B, NH, L, h->HS}, "%s", path);
    return 0;
}
