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

#include "models/seq.h"

#define FMIN (-FLT_MAX) // torch.finfo(torch.float32).min: the official causal mask / block mask
#define MAX_LEVELS XT_HYPER_MAX_LEVELS
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
    // convert the replayed draws now, so that a pass only reads st (passes may run at once)
    char name[64];
    for (int j = 0; r->st; j++) {
        snprintf(name, sizeof name, "input.hyper_randint.%d", j);
        if (!xt_st_find(st, name) || !xt_st_f32(st, name, NULL)) break; // a pass reports it
    }
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
            return xt_error_file("hyper", r->st->path, "tensor '%s' missing: the file's HyperAttention draws ran out",
                                 name);
        if (t->ndim != 3 || t->shape[0] != B || t->shape[1] != NH || t->shape[2] != S)
            return xt_error_file("hyper", r->st->path, "tensor '%s' must have shape (%d, %d, %d) for this draw", name,
                                 B, NH, S);
        const float *f = t->f32; // converted by xt_hyper_rand_init
        if (!f) return xt_error_file("hyper", r->st->path, "tensor '%s' could not be read as float32", name);
        for (size_t i = 0; i < n; i++) {
            if (!(f[i] >= 0 && f[i] < m && f[i] == floorf(f[i])))
                return xt_error_file("hyper", r->st->path, "tensor '%s': value %g at %zu is not an index in [0, %d)",
                                     name, f[i], i, m);
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
            return xt_error_file("hyper", st->path, "tensor '%s' must have shape (1, 1, %d, %d)", name, HS, P);
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

// ---------------------------------------------------------------------------------------------
// kernels: query blocks against key blocks through GEMM (single-threaded inside the parallel
// loops), softmax rows in place with their logsumexp.

#define QB 128 // query rows per GEMM block on the exact paths

// Row-wise softmax of S (n, m) at stride ld, in place. causal_i0 >= 0: row i keeps only its first
// causal_i0 + i + 1 entries, the rest become 0 (the official mask adds finfo.min, whose exp is
// exactly 0 too). nzero extra entries of score 0 (zero key rows, not stored) join the
// normalisation. lse (n) = logsumexp of each row.
XT_VECTORIZE static void softmax_rows(float *S, int ld, float *lse, int n, int m, int causal_i0, int nzero) {
    for (int i = 0; i < n; i++) {
        float *s = S + (size_t)i * ld;
        int cnt = causal_i0 >= 0 && causal_i0 + i + 1 < m ? causal_i0 + i + 1 : m;
        float mx = nzero ? 0.0f : -INFINITY;
        for (int j = 0; j < cnt; j++) mx = s[j] > mx ? s[j] : mx;
        for (int j = 0; j < cnt; j++) s[j] -= mx;
        xt_vexp(s, s, cnt);
        float sum = nzero ? nzero * expf(-mx) : 0.0f;
        for (int j = 0; j < cnt; j++) sum += s[j];
        float inv = 1.0f / sum;
        for (int j = 0; j < cnt; j++) s[j] *= inv;
        for (int j = cnt; j < m; j++) s[j] = 0;
        lse[i] = mx + logf(sum);
    }
}

#define KB 2048 // key rows per GEMM block on the exact paths (one block at the official 4096 / 2)

// Exact softmax attention of nq query rows against nk contiguous key/value rows plus nzero zero
// keys (score 0, value 0), streamed over blocks of KB keys with an online softmax, so scratch is
// O(nq * KB) at any length. causal_i0 >= 0: query i sees keys j <= causal_i0 + i only.
// O (nq, HS) = attention output, lse (nq). S (nq * KB), mx (nq) scratch.
XT_VECTORIZE static void exact_rows(float *O, float *lse, const float *Q, int nq, const float *Km,
                                    const float *V, int nk, int causal_i0, int nzero, int HS,
                                    float scale, float *S, float *mx) {
    for (int i = 0; i < nq; i++) {
        mx[i] = nzero ? 0.0f : -INFINITY;
        lse[i] = (float)nzero; // running sum of exp(score - mx)
    }
    memset(O, 0, (size_t)nq * HS * sizeof(float));
    for (int j0 = 0; j0 < nk; j0 += KB) {
        if (causal_i0 >= 0 && j0 > causal_i0 + nq - 1) break; // no query sees these keys
        int kc = nk - j0 < KB ? nk - j0 : KB;
        xt_gemm(0, 1, nq, kc, HS, scale, Q, HS, Km + (size_t)j0 * HS, HS, 0.0f, S, kc);
        for (int i = 0; i < nq; i++) {
            float *sr = S + (size_t)i * kc, *o = O + (size_t)i * HS;
            int cnt = causal_i0 >= 0 ? causal_i0 + i + 1 - j0 : kc;
            cnt = cnt < 0 ? 0 : cnt > kc ? kc : cnt;
            float mnew = mx[i];
            for (int j = 0; j < cnt; j++) mnew = sr[j] > mnew ? sr[j] : mnew;
            if (mnew != mx[i] && mx[i] != -INFINITY) { // rescale what was accumulated
                float f = expf(mx[i] - mnew);
                lse[i] *= f;
                for (int d = 0; d < HS; d++) o[d] *= f;
            }
            mx[i] = mnew;
            for (int j = 0; j < cnt; j++) sr[j] -= mnew;
            xt_vexp(sr, sr, cnt);
            float sum = 0;
            for (int j = 0; j < cnt; j++) sum += sr[j];
            lse[i] += sum;
            for (int j = cnt; j < kc; j++) sr[j] = 0;
        }
        xt_gemm(0, 0, nq, HS, kc, 1.0f, S, kc, V + (size_t)j0 * HS, HS, 1.0f, O, HS);
    }
    for (int i = 0; i < nq; i++) {
        float inv = 1.0f / lse[i], *o = O + (size_t)i * HS;
        for (int d = 0; d < HS; d++) o[d] *= inv;
        lse[i] = mx[i] + logf(lse[i]);
    }
}

// add_self_attentions: (a1, l1) <- merge with (a2, l2). ref: hyper_attn/utils.py
XT_VECTORIZE static void merge(float *a1, float *l1, const float *a2, float l2, int HS) {
    float c = 1.0f / (1.0f + expf(l2 - *l1));
    for (int i = 0; i < HS; i++) a1[i] = c * a1[i] + (1.0f - c) * a2[i];
    *l1 = *l1 - logf(c + FLT_EPSILON);
}

// rows of a gathered block: src NULL -> zero row
static inline void put_row(float *dst, const float *src, int HS) {
    if (src) memcpy(dst, src, HS * sizeof(float));
    else memset(dst, 0, HS * sizeof(float));
}

// per-thread scratch
typedef struct {
    float *S;                  // scores
    float *Qb, *Kb, *Vb;       // (bs, HS) gathered LSH block
    float *Ks, *Vs;            // (sample, HS) gathered sampled keys
    float *A1, *A2, *l1, *l2;  // (rows, HS) partial outputs and their lse
} scratch;

// ---------------------------------------------------------------------------------------------
// the forward pass

// training: the off-diagonal piece (a, l) of level k for the query row at offset o (row * HS)
static inline void record(xt_hyper_rec *rec, int k, size_t o, const float *a, float l, int HS) {
    memcpy(rec->aoff[k] + o, a, HS * sizeof(float));
    rec->loff[k][o / HS] = l;
}

typedef struct {
    const float *q, *k, *v;
    float *out, *lse;
    int B, NH, L, HS;
    float scale;
    const xt_hyper *h;
    levels lv;
    scratch *scr;
    int T; // threads: one scratch each
    xt_hyper_rec *rec; // training: the pieces the backward needs (NULL at inference)
    xt_hyper_plan *plan; // one head at a time: the shared draws and hash taps (B = NH = 1 here)
    int hd;              //   and which head of the plan's (B, NH) this is
} ctx;

static inline size_t row_off(const ctx *c, long head0, int row) { // head0 = b * NH + h
    return ((size_t)head0 * c->L + row) * c->HS;
}

// Exact causal attention for every head at the base level (real query rows only: the real
// rows of a head are contiguous, so no gathering).
static void base_level(const ctx *c) {
    int K = c->lv.K, HS = c->HS;
    long nheads = (long)c->B * c->NH << K;
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
    for (long hh = 0; hh < nheads; hh++) {
        scratch *s = &c->scr[thread_id()];
        long head0 = hh >> K, hk = hh & ((1L << K) - 1);
        int start, r;
        head_range(&c->lv, K, hk, &start, &r);
        const float *Q = c->q + row_off(c, head0, start), *Km = c->k + row_off(c, head0, start),
                    *V = c->v + row_off(c, head0, start);
        for (int i0 = 0; i0 < r; i0 += QB) {
            int nq = r - i0 < QB ? r - i0 : QB;
            exact_rows(c->out + row_off(c, head0, start + i0), c->lse + head0 * c->L + start + i0,
                       Q + (size_t)i0 * HS, nq, Km, V, i0 + nq, i0, 0, HS, c->scale, s->S, s->l2);
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
static int offdiag_level(const ctx *c, int k, xt_hyper_rand *rnd, int *hash_calls, const xt_tap *tap,
                         const char *path, xt_arena *ws) {
    const xt_hyper *hy = c->h;
    const xt_hyper_params *p = &c->h->p;
    int m = c->lv.n[k + 1], HS = c->HS, P = p->n_projs, bs = p->block_size, S = p->sample_size;
    int NHk = c->NH << k;
    long nheads = (long)c->B * NHk;
    size_t mark = xt_arena_mark(ws);

    if (m < p->min_seq_len) { // exact non-causal; first-half zero rows are keys of score 0
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
        for (long hh = 0; hh < nheads; hh++) {
            scratch *s = &c->scr[thread_id()];
            long head0 = hh >> k, hk = hh & ((1L << k) - 1);
            int start, r;
            head_range(&c->lv, k, hk, &start, &r);
            int r1 = r < m ? r : m, r2 = r > m ? r - m : 0;
            const float *Q = c->q + row_off(c, head0, start + m), *Km = c->k + row_off(c, head0, start),
                        *V = c->v + row_off(c, head0, start);
            for (int i0 = 0; i0 < r2; i0 += QB) {
                int nq = r2 - i0 < QB ? r2 - i0 : QB;
                exact_rows(s->A1, s->l1, Q + (size_t)i0 * HS, nq, Km, V, r1, -1, m - r1, HS, c->scale, s->S, s->l2);
                for (int i = 0; i < nq; i++) {
                    size_t o = row_off(c, head0, start + m + i0 + i);
                    if (c->rec) record(c->rec, k, o, s->A1 + (size_t)i * HS, s->l1[i], HS);
                    merge(c->out + o, &c->lse[o / HS], s->A1 + (size_t)i * HS, s->l1[i], HS);
                }
            }
        }
        return 0;
    }

    // LSH: hash every query and key row of every head (pad rows too: they take part in sorting)
    size_t nrows = (size_t)nheads * m;
    float *hq = xt_arena_f32(ws, nrows), *hk_ = xt_arena_f32(ws, nrows);
    int nb = (m + bs - 1) / bs;
    int sampling = m > bs; // official: nq > block_size and nk > block_size
    // training keeps the permutations and draws: constants of the backward
    xt_hyper_rec *rec = c->rec;
    int *qi = rec ? rec->qi[k] : xt_arena_bytes(ws, nrows * sizeof(int));
    int *ki = rec ? rec->ki[k] : xt_arena_bytes(ws, nrows * sizeof(int));
    int *idx = !sampling     ? NULL
               : c->plan ? c->plan->idx[k] + ((size_t)c->hd << k) * S // this head's slice
               : rec     ? rec->idx[k]
                         : xt_arena_bytes(ws, (size_t)nheads * S * sizeof(int));
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
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
    if (c->plan) { // draws made by the plan; the hash taps wait there for every head
        if (c->plan->hq[k]) {
            memcpy(c->plan->hq[k] + ((size_t)c->hd << k) * m, hq, nrows * sizeof(float));
            memcpy(c->plan->hk[k] + ((size_t)c->hd << k) * m, hk_, nrows * sizeof(float));
        }
    } else {
        if (xt_tap_on(tap)) {
            xt_tap_emitf(tap, hq, 3, (int64_t[]){c->B, NHk, m}, "%s.lsh.hash.call%d", path, *hash_calls);
            xt_tap_emitf(tap, hk_, 3, (int64_t[]){c->B, NHk, m}, "%s.lsh.hash.call%d", path, *hash_calls + 1);
        }
        *hash_calls += 2;
        if (sampling && draw_samples(idx, rnd, c->B, NHk, S, m)) { xt_arena_release(ws, mark); return -1; }
    }
    float lcorr = logf((float)m / (float)S);

#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
    for (long hb = 0; hb < nheads * nb; hb++) {
        scratch *s = &c->scr[thread_id()];
        long hh = hb / nb;
        int blk = (int)(hb % nb);
        long head0 = hh >> k, hk = hh & ((1L << k) - 1);
        int start, r;
        head_range(&c->lv, k, hk, &start, &r);
        int r1 = r < m ? r : m, r2 = r > m ? r - m : 0;
        const int *qs = qi + hh * m, *ks = ki + hh * m, *sidx = sampling ? idx + hh * S : NULL;
        // the block's sorted queries and keys; positions >= m are the zero rows appended after
        // sorting, rows past r1 / r2 the zero pad rows of the recursion
        for (int j = 0; j < bs; j++) {
            int pos = blk * bs + j, qrow = pos < m ? qs[pos] : m, krow = pos < m ? ks[pos] : m;
            put_row(s->Qb + (size_t)j * HS, qrow < r2 ? c->q + row_off(c, head0, start + m + qrow) : NULL, HS);
            put_row(s->Kb + (size_t)j * HS, krow < r1 ? c->k + row_off(c, head0, start + krow) : NULL, HS);
            put_row(s->Vb + (size_t)j * HS, krow < r1 ? c->v + row_off(c, head0, start + krow) : NULL, HS);
        }
        xt_gemm(0, 1, bs, bs, HS, c->scale, s->Qb, HS, s->Kb, HS, 0.0f, s->S, bs);
        softmax_rows(s->S, bs, s->l1, bs, bs, -1, 0);
        xt_gemm(0, 0, bs, HS, bs, 1.0f, s->S, bs, s->Vb, HS, 0.0f, s->A1, HS);
        if (sampling) { // residual: the head's sampled keys (indices into its sorted keys)
            for (int j = 0; j < S; j++) {
                int krow = ks[sidx[j]];
                put_row(s->Ks + (size_t)j * HS, krow < r1 ? c->k + row_off(c, head0, start + krow) : NULL, HS);
                put_row(s->Vs + (size_t)j * HS, krow < r1 ? c->v + row_off(c, head0, start + krow) : NULL, HS);
            }
            xt_gemm(0, 1, bs, S, HS, c->scale, s->Qb, HS, s->Ks, HS, 0.0f, s->S, S);
            // bug 6: the GPU path masks sampled keys already inside the query's block
            if (p->block_mask)
                for (int j = 0; j < S; j++)
                    if (sidx[j] / bs == blk)
                        for (int i = 0; i < bs; i++) s->S[(size_t)i * S + j] += FMIN;
            softmax_rows(s->S, S, s->l2, bs, S, -1, 0);
            xt_gemm(0, 0, bs, HS, S, 1.0f, s->S, S, s->Vs, HS, 0.0f, s->A2, HS);
            for (int i = 0; i < bs; i++)
                merge(s->A1 + (size_t)i * HS, &s->l1[i], s->A2 + (size_t)i * HS, s->l2[i] + lcorr, HS);
        }
        for (int j = 0; j < bs; j++) {
            int pos = blk * bs + j;
            if (pos >= m || qs[pos] >= r2) continue; // padding / pad query: output dropped
            size_t o = row_off(c, head0, start + m + qs[pos]);
            if (rec) record(rec, k, o, s->A1 + (size_t)j * HS, s->l1[j], HS);
            merge(c->out + o, &c->lse[o / HS], s->A1 + (size_t)j * HS, s->l1[j], HS);
        }
    }
    xt_arena_release(ws, mark);
    return 0;
}

typedef struct { size_t S, blk, smp, rows; } scratch_sizes;

static scratch_sizes scratch_size(const xt_hyper *h, int L) {
    size_t lcap = (size_t)(h->p.min_seq_len < L ? h->p.min_seq_len : L), bs = h->p.block_size,
           S = h->p.sample_size;
    scratch_sizes z;
    size_t kb = lcap < KB ? lcap : KB;
    z.S = QB * kb > bs * (bs > S ? bs : S) ? QB * kb : bs * (bs > S ? bs : S);
    z.blk = bs * h->HS;
    z.smp = S * h->HS;
    z.rows = bs > QB ? bs : QB;
    return z;
}

static void scratch_take(scratch *s, const scratch_sizes *z, int HS, xt_arena *ws) {
    s->S = xt_arena_f32(ws, z->S);
    s->Qb = xt_arena_f32(ws, z->blk), s->Kb = xt_arena_f32(ws, z->blk), s->Vb = xt_arena_f32(ws, z->blk);
    s->Ks = xt_arena_f32(ws, z->smp), s->Vs = xt_arena_f32(ws, z->smp);
    s->A1 = xt_arena_f32(ws, z->rows * HS), s->A2 = xt_arena_f32(ws, z->rows * HS);
    s->l1 = xt_arena_f32(ws, z->rows), s->l2 = xt_arena_f32(ws, z->rows);
}

static size_t ws_need(const xt_hyper *h, int B, int NH, int L, int T) {
    levels lv;
    make_levels(&lv, L, h->p.min_seq_len);
    xt_arena a;
    xt_arena_init(&a, 0); // measuring arena: the same allocation sequence as the forward
    xt_arena_f32(&a, (size_t)B * NH * L);
    xt_arena_bytes(&a, T * sizeof(scratch));
    scratch_sizes z = scratch_size(h, L);
    scratch s;
    for (int t = 0; t < T; t++) scratch_take(&s, &z, h->HS, &a);
    size_t base = a.used, lvl = 0;
    for (int k = 0; k < lv.K; k++) {
        size_t nh = (size_t)B * NH << k, rows = nh * lv.n[k + 1];
        a.used = base;
        for (int i = 0; i < 4; i++) xt_arena_bytes(&a, rows * 4);
        xt_arena_bytes(&a, nh * h->p.sample_size * sizeof(int));
        if (a.used > lvl) lvl = a.used;
    }
    return (lvl > base ? lvl : base) + 64;
}

size_t xt_hyper_workspace_size(const xt_hyper *h, int B, int NH, int L) {
    return ws_need(h, B, NH, L, n_threads());
}

static int attention(float *out, const float *q, const float *k, const float *v, int B, int NH, int L,
                     const xt_hyper *h, xt_hyper_rand *r, int *hash_calls, const xt_tap *tap, const char *path,
                     xt_arena *ws, xt_hyper_rec *rec) {
    if (B < 1 || NH < 1 || L < 1) return xt_error("hyper", "bad sizes B=%d NH=%d L=%d", B, NH, L);
    ctx c = {.q = q, .k = k, .v = v, .out = out, .B = B, .NH = NH, .L = L, .HS = h->HS, .h = h, .rec = rec};
    c.scale = 1.0f / sqrtf((float)h->HS);
    make_levels(&c.lv, L, h->p.min_seq_len);
    if (c.lv.K >= MAX_LEVELS) return xt_error("hyper", "sequence of %d tokens is too long", L);
    // one scratch per thread; fewer threads when the arena was sized for fewer
    int T = n_threads();
    if (!ws->measure)
        while (T > 1 && ws_need(h, B, NH, L, T) > ws->size - ws->used) T--;
    if (!ws->measure && ws_need(h, B, NH, L, T) > ws->size - ws->used)
        return xt_error("hyper", "workspace of %zu bytes too small (needs %zu)", ws->size - ws->used,
                        ws_need(h, B, NH, L, T));
    c.T = T;
    size_t mark = xt_arena_mark(ws);
    c.lse = xt_arena_f32(ws, (size_t)B * NH * L);
    scratch_sizes z = scratch_size(h, L);
    c.scr = xt_arena_bytes(ws, T * sizeof(scratch));
    for (int t = 0; t < T; t++) scratch_take(&c.scr[t], &z, h->HS, ws);
    base_level(&c);
    if (rec) { // the base piece, before the levels merge into out
        memcpy(rec->a0, out, (size_t)B * NH * L * h->HS * sizeof(float));
        memcpy(rec->l0, c.lse, (size_t)B * NH * L * sizeof(float));
    }
    int rc = 0;
    for (int lev = c.lv.K - 1; lev >= 0 && !rc; lev--) rc = offdiag_level(&c, lev, r, hash_calls, tap, path, ws);
    xt_arena_release(ws, mark);
    if (rc) return -1;
    if (xt_tap_on(tap)) xt_tap_emitf(tap, out, 4, (int64_t[]){B, NH, L, h->HS}, "%s", path);
    return 0;
}

int xt_hyper_attention(float *out, const float *q, const float *k, const float *v, int B, int NH,
                       int L, const xt_hyper *h, xt_hyper_rand *r, int *hash_calls, const xt_tap *tap,
                       const char *path, xt_arena *ws) {
    return attention(out, q, k, v, B, NH, L, h, r, hash_calls, tap, path, ws, NULL);
}

// ---------------------------------------------------------------------------------------------
// one head at a time (seq.h): the plan makes every level's draws up front, in the order
// offdiag_level makes them (levels innermost first, one (B, NH 2^k, S) draw per LSH level that
// samples), so each head's pass reads its slice of the same draws.

static int lsh_level(const xt_hyper *h, const levels *lv, int k) { return lv->n[k + 1] >= h->p.min_seq_len; }

static void plan_place(xt_hyper_plan *pl, const xt_hyper *h, const levels *lv, int B, int NH, int tapping,
                       xt_arena *ws) {
    int S = h->p.sample_size;
    for (int k = lv->K - 1; k >= 0; k--) {
        if (!lsh_level(h, lv, k)) continue;
        size_t nh = (size_t)B * NH << k, m = lv->n[k + 1];
        if ((int)m > h->p.block_size) pl->idx[k] = xt_arena_bytes(ws, nh * S * sizeof(int));
        if (tapping) pl->hq[k] = xt_arena_f32(ws, nh * m), pl->hk[k] = xt_arena_f32(ws, nh * m);
    }
}

size_t xt_hyper_plan_size(const xt_hyper *h, int B, int NH, int L, int tapping) {
    levels lv;
    make_levels(&lv, L, h->p.min_seq_len);
    xt_arena a;
    xt_arena_init(&a, 0); // measuring
    xt_hyper_plan pl;
    memset(&pl, 0, sizeof pl);
    plan_place(&pl, h, &lv, B, NH, tapping, &a);
    return a.used + 64;
}

int xt_hyper_plan_init(xt_hyper_plan *pl, const xt_hyper *h, int B, int NH, int L, xt_hyper_rand *r,
                       int *hash_calls, int tapping, xt_arena *ws) {
    memset(pl, 0, sizeof *pl);
    if (B < 1 || NH < 1 || L < 1) return xt_error("hyper", "bad sizes B=%d NH=%d L=%d", B, NH, L);
    levels lv;
    make_levels(&lv, L, h->p.min_seq_len);
    if (lv.K >= MAX_LEVELS) return xt_error("hyper", "sequence of %d tokens is too long", L);
    pl->B = B, pl->NH = NH, pl->L = L, pl->K = lv.K, pl->calls0 = *hash_calls;
    plan_place(pl, h, &lv, B, NH, tapping, ws);
    for (int k = lv.K - 1; k >= 0; k--) {
        if (!lsh_level(h, &lv, k)) continue;
        *hash_calls += 2;
        if (pl->idx[k] && draw_samples(pl->idx[k], r, B, NH << k, h->p.sample_size, lv.n[k + 1])) return -1;
    }
    return 0;
}

int xt_hyper_attention_head(float *out, const float *q, const float *k, const float *v, const xt_hyper *h,
                            xt_hyper_plan *pl, int hd, xt_arena *ws) {
    XT_ASSERT(hd >= 0 && hd < pl->B * pl->NH);
    int L = pl->L;
    ctx c = {.q = q, .k = k, .v = v, .out = out, .B = 1, .NH = 1, .L = L, .HS = h->HS, .h = h, .plan = pl, .hd = hd};
    c.scale = 1.0f / sqrtf((float)h->HS);
    make_levels(&c.lv, L, h->p.min_seq_len);
    XT_ASSERT(c.lv.K == pl->K);
    int T = n_threads();
    if (!ws->measure)
        while (T > 1 && ws_need(h, 1, 1, L, T) > ws->size - ws->used) T--;
    if (!ws->measure && ws_need(h, 1, 1, L, T) > ws->size - ws->used)
        return xt_error("hyper", "workspace of %zu bytes too small (needs %zu)", ws->size - ws->used,
                        ws_need(h, 1, 1, L, T));
    c.T = T;
    size_t mark = xt_arena_mark(ws);
    c.lse = xt_arena_f32(ws, (size_t)L);
    scratch_sizes z = scratch_size(h, L);
    c.scr = xt_arena_bytes(ws, T * sizeof(scratch));
    for (int t = 0; t < T; t++) scratch_take(&c.scr[t], &z, h->HS, ws);
    base_level(&c);
    int rc = 0, calls = 0;
    for (int lev = c.lv.K - 1; lev >= 0 && !rc; lev--) rc = offdiag_level(&c, lev, NULL, &calls, NULL, NULL, ws);
    xt_arena_release(ws, mark);
    return rc ? -1 : 0;
}

void xt_hyper_plan_emit(const xt_hyper_plan *pl, const xt_hyper *h, const xt_tap *tap, const char *path) {
    if (!xt_tap_on(tap)) return;
    levels lv;
    make_levels(&lv, pl->L, h->p.min_seq_len);
    int calls = pl->calls0;
    for (int k = lv.K - 1; k >= 0; k--) {
        if (!lsh_level(h, &lv, k)) continue;
        int64_t shape[3] = {pl->B, pl->NH << k, lv.n[k + 1]};
        if (pl->hq[k]) {
            xt_tap_emitf(tap, pl->hq[k], 3, shape, "%s.lsh.hash.call%d", path, calls);
            xt_tap_emitf(tap, pl->hk[k], 3, shape, "%s.lsh.hash.call%d", path, calls + 1);
        }
        calls += 2;
    }
}

// ---------------------------------------------------------------------------------------------
// training: the forward's record and the backward.
//
// Pieces (each a softmax attention with its output a and log-sum-exp l): the base level's exact
// causal attention of every row; at each level k, the off-diagonal piece of every second-half
// row (exact, or on the LSH path the merge of its block piece and its sampled piece). Every row
// ends as a chain of merges: s = base; for k = K-1 .. 0 where the row is in the second half of
// its level-k head: s = merge(s, off_k). The backward replays each row's chain, sends (da, dl)
// back through the merges, then each piece's (da, dl) through its softmax:
//   g = dl - da . a,  dS = P (dP + g) with dP = da V^T,  dV = P^T da,  dQ = scale dS K,
//   dK = scale dS^T Q   (d lse / dS = P; the -da . a term is the softmax's own)
// with P recomputed from q, k and the recorded lse (block and sampled pieces: recomputed whole).

int xt_hyper_rec_plan(xt_hyper_rec *rec, const xt_hyper *h, int B, int NH, int L, xt_arena *a) {
    levels lv;
    make_levels(&lv, L, h->p.min_seq_len);
    if (lv.K >= MAX_LEVELS) return xt_error("hyper", "sequence of %d tokens is too long", L);
    memset(rec, 0, sizeof *rec);
    rec->B = B, rec->NH = NH, rec->L = L, rec->K = lv.K;
    size_t rows = (size_t)B * NH * L;
    rec->a0 = xt_arena_f32(a, rows * h->HS);
    rec->l0 = xt_arena_f32(a, rows);
    for (int k = 0; k < lv.K; k++) {
        rec->aoff[k] = xt_arena_f32(a, rows * h->HS);
        rec->loff[k] = xt_arena_f32(a, rows);
        int m = lv.n[k + 1];
        if (m < h->p.min_seq_len) continue; // exact off-diagonal: no permutations
        size_t nh = (size_t)B * NH << k;
        rec->qi[k] = xt_arena_bytes(a, nh * m * sizeof(int));
        rec->ki[k] = xt_arena_bytes(a, nh * m * sizeof(int));
        if (m > h->p.block_size) rec->idx[k] = xt_arena_bytes(a, nh * h->p.sample_size * sizeof(int));
    }
    return 0;
}

int xt_hyper_attention_train(float *out, xt_hyper_rec *rec, const float *q, const float *k, const float *v, int B,
                             int NH, int L, const xt_hyper *h, xt_hyper_rand *r, xt_arena *ws) {
    XT_ASSERT(rec->B == B && rec->NH == NH && rec->L == L);
    int calls = 0;
    return attention(out, q, k, v, B, NH, L, h, r, &calls, NULL, NULL, ws, rec);
}

// per-thread backward scratch
typedef struct {
    float *S, *P2, *dP, *g;                           // score blocks
    float *Qb, *Kb, *Vb, *dQb, *dKb, *dVb, *Ks, *Vs;  // gathered rows
    float *A1, *A2, *dA1, *dA2, *l1, *l2, *dl1, *dl2; // the two pieces of an LSH block
    float *stk;                                       // a row's merge chain (K states)
} bscratch;

typedef struct {
    const float *q, *k, *v;
    float *dq, *dk, *dv;
    float *dA0, *dl0, *dAoff[MAX_LEVELS], *dloff[MAX_LEVELS];
    int B, NH, L, HS;
    float scale;
    const xt_hyper *h;
    const xt_hyper_rec *rec;
    levels lv;
    bscratch *scr;
    int T;
} bctx;

static void bscratch_take(bscratch *s, const xt_hyper *h, int L, int K, xt_arena *ws) {
    size_t lcap = (size_t)(h->p.min_seq_len < L ? h->p.min_seq_len : L), bs = h->p.block_size,
           S = h->p.sample_size, HS = h->HS, kb = lcap < KB ? lcap : KB;
    size_t sc = QB * kb > bs * (bs > S ? bs : S) ? QB * kb : bs * (bs > S ? bs : S);
    size_t rows = bs > QB ? bs : QB;
    s->S = xt_arena_f32(ws, sc), s->P2 = xt_arena_f32(ws, bs * S), s->dP = xt_arena_f32(ws, sc);
    s->g = xt_arena_f32(ws, rows);
    s->Qb = xt_arena_f32(ws, bs * HS), s->Kb = xt_arena_f32(ws, bs * HS), s->Vb = xt_arena_f32(ws, bs * HS);
    s->dQb = xt_arena_f32(ws, bs * HS), s->dKb = xt_arena_f32(ws, bs * HS), s->dVb = xt_arena_f32(ws, bs * HS);
    s->Ks = xt_arena_f32(ws, S * HS), s->Vs = xt_arena_f32(ws, S * HS);
    s->A1 = xt_arena_f32(ws, bs * HS), s->A2 = xt_arena_f32(ws, bs * HS);
    s->dA1 = xt_arena_f32(ws, bs * HS), s->dA2 = xt_arena_f32(ws, bs * HS);
    s->l1 = xt_arena_f32(ws, bs), s->l2 = xt_arena_f32(ws, bs), s->dl1 = xt_arena_f32(ws, bs), s->dl2 = xt_arena_f32(ws, bs);
    s->stk = xt_arena_f32(ws, (size_t)(K > 0 ? K : 1) * (HS + 1));
}

static size_t bws_need(const xt_hyper *h, int B, int NH, int L, int T) {
    levels lv;
    make_levels(&lv, L, h->p.min_seq_len);
    xt_arena a;
    xt_arena_init(&a, 0); // measuring: the backward's own allocation sequence
    size_t rows = (size_t)B * NH * L;
    for (int k = 0; k <= lv.K; k++) xt_arena_f32(&a, rows * h->HS), xt_arena_f32(&a, rows);
    xt_arena_bytes(&a, T * sizeof(bscratch));
    bscratch s;
    for (int t = 0; t < T; t++) bscratch_take(&s, h, L, lv.K, &a);
    size_t base = a.used, top = base;
    for (int k = 0; k < lv.K; k++) { // an LSH level's sampled-key gradients, per block
        int m = lv.n[k + 1];
        if (m < h->p.min_seq_len || m <= h->p.block_size) continue;
        size_t nb = (m + h->p.block_size - 1) / h->p.block_size, nh = (size_t)B * NH << k;
        a.used = base;
        xt_arena_f32(&a, nh * nb * h->p.sample_size * 2 * h->HS);
        if (a.used > top) top = a.used;
    }
    return top + 64;
}

size_t xt_hyper_backward_ws_size(const xt_hyper *h, int B, int NH, int L) {
    return bws_need(h, B, NH, L, n_threads());
}

// Backward of exact_rows: nq query rows against nk contiguous key rows (zero keys need nothing:
// their values are 0 and their scores constant). A, lse: the piece's output and lse; dA, dl:
// their gradients. dQ (nq, HS), dK, dV (nk, HS) accumulate. S, dP (nq * KB), g (nq) scratch.
static void exact_rows_bwd(float *dQ, float *dK, float *dV, const float *dA, const float *dl, const float *A,
                           const float *lse, const float *Q, int nq, const float *Km, const float *V, int nk,
                           int causal_i0, int HS, float scale, float *S, float *dP, float *g) {
    for (int i = 0; i < nq; i++) {
        double d = 0;
        for (int e = 0; e < HS; e++) d += (double)dA[(size_t)i * HS + e] * A[(size_t)i * HS + e];
        g[i] = (dl ? dl[i] : 0.0f) - (float)d;
    }
    for (int j0 = 0; j0 < nk; j0 += KB) {
        if (causal_i0 >= 0 && j0 > causal_i0 + nq - 1) break;
        int kc = nk - j0 < KB ? nk - j0 : KB;
        xt_gemm(0, 1, nq, kc, HS, scale, Q, HS, Km + (size_t)j0 * HS, HS, 0.0f, S, kc);
        xt_gemm(0, 1, nq, kc, HS, 1.0f, dA, HS, V + (size_t)j0 * HS, HS, 0.0f, dP, kc);
        for (int i = 0; i < nq; i++) {
            float *sr = S + (size_t)i * kc, *dr = dP + (size_t)i * kc;
            int cnt = causal_i0 >= 0 ? causal_i0 + i + 1 - j0 : kc;
            cnt = cnt < 0 ? 0 : cnt > kc ? kc : cnt;
            for (int j = 0; j < cnt; j++) sr[j] -= lse[i];
            xt_vexp(sr, sr, cnt); // P
            for (int j = 0; j < cnt; j++) dr[j] = sr[j] * (dr[j] + g[i]); // dS
            for (int j = cnt; j < kc; j++) sr[j] = 0, dr[j] = 0;            // masked: no gradient
        }
        xt_gemm(1, 0, kc, HS, nq, 1.0f, S, kc, dA, HS, 1.0f, dV + (size_t)j0 * HS, HS);
        xt_gemm(0, 0, nq, HS, kc, scale, dP, kc, Km + (size_t)j0 * HS, HS, 1.0f, dQ, HS);
        xt_gemm(1, 0, kc, HS, nq, scale, dP, kc, Q, HS, 1.0f, dK + (size_t)j0 * HS, HS);
    }
}

// The merge chain of every row, backwards: dout -> dA0/dl0 and dAoff/dloff per level.
static void chain_bwd(const bctx *c, const float *dout) {
    const xt_hyper_rec *rec = c->rec;
    int K = c->lv.K, HS = c->HS;
    long nrows = (long)c->B * c->NH * c->L;
#pragma omp parallel for schedule(static) num_threads(c->T)
    for (long row = 0; row < nrows; row++) {
        bscratch *s = &c->scr[thread_id()];
        int t = (int)(row % c->L), second[MAX_LEVELS];
        for (int lev = 0, pos = t; lev < K; lev++) {
            int m = c->lv.n[lev + 1];
            second[lev] = pos >= m;
            if (second[lev]) pos -= m;
        }
        size_t o = (size_t)row * HS;
        // replay: stk[lev] = the state before the merge at level lev
        float *a = s->A1, l = rec->l0[row];
        memcpy(a, rec->a0 + o, HS * sizeof(float));
        for (int lev = K - 1; lev >= 0; lev--) {
            if (!second[lev]) continue;
            float *st = s->stk + (size_t)lev * (HS + 1);
            memcpy(st, a, HS * sizeof(float));
            st[HS] = l;
            merge(a, &l, rec->aoff[lev] + o, rec->loff[lev][row], HS);
        }
        float *da = s->dA1, dl = 0; // the final lse is not an output
        memcpy(da, dout + o, HS * sizeof(float));
        for (int lev = 0; lev < K; lev++) {
            if (!second[lev]) {
                memset(c->dAoff[lev] + o, 0, HS * sizeof(float));
                c->dloff[lev][row] = 0;
                continue;
            }
            // (a, l) = merge((a1, l1), (a2, l2)): c = 1 / (1 + exp(l2 - l1)),
            // a = c a1 + (1 - c) a2, l = l1 - log(c + eps)
            const float *a1 = s->stk + (size_t)lev * (HS + 1), *a2 = rec->aoff[lev] + o;
            float l1 = a1[HS], l2 = rec->loff[lev][row];
            float cc = 1.0f / (1.0f + expf(l2 - l1));
            double dc = 0;
            for (int e = 0; e < HS; e++) dc += (double)da[e] * (a1[e] - a2[e]);
            dc -= dl / (cc + FLT_EPSILON);
            float dz = (float)dc * cc * (1.0f - cc); // dc/dl1 = c (1 - c) = -dc/dl2
            float *d2 = c->dAoff[lev] + o;
            for (int e = 0; e < HS; e++) d2[e] = (1.0f - cc) * da[e], da[e] *= cc;
            c->dloff[lev][row] = -dz;
            dl = dl + dz;
        }
        memcpy(c->dA0 + o, da, HS * sizeof(float));
        c->dl0[row] = dl;
    }
}

static inline size_t brow(const bctx *c, long head0, int row) { return ((size_t)head0 * c->L + row) * c->HS; }

static void base_bwd(const bctx *c) {
    int K = c->lv.K, HS = c->HS;
    long nheads = (long)c->B * c->NH << K;
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
    for (long hh = 0; hh < nheads; hh++) {
        bscratch *s = &c->scr[thread_id()];
        long head0 = hh >> K, hk = hh & ((1L << K) - 1);
        int start, r;
        head_range(&c->lv, K, hk, &start, &r);
        size_t o = brow(c, head0, start);
        for (int i0 = 0; i0 < r; i0 += QB) {
            int nq = r - i0 < QB ? r - i0 : QB;
            size_t oi = o + (size_t)i0 * HS, li = oi / HS;
            exact_rows_bwd(c->dq + oi, c->dk + o, c->dv + o, c->dA0 + oi, c->dl0 + li, c->rec->a0 + oi, c->rec->l0 + li,
                           c->q + oi, nq, c->k + o, c->v + o, i0 + nq, i0, HS, c->scale, s->S, s->dP, s->g);
        }
    }
}

// row-wise: dS = P (dP + g) with g = dl - da . a, in place in dP (n rows of m)
static void softmax_piece_bwd(float *dP, const float *P, const float *da, const float *a, const float *dl, float *g,
                              int n, int m, int HS) {
    for (int i = 0; i < n; i++) {
        double d = 0;
        for (int e = 0; e < HS; e++) d += (double)da[(size_t)i * HS + e] * a[(size_t)i * HS + e];
        g[i] = dl[i] - (float)d;
        for (int j = 0; j < m; j++) dP[(size_t)i * m + j] = P[(size_t)i * m + j] * (dP[(size_t)i * m + j] + g[i]);
    }
}

static inline void add_row(float *dst, const float *src, int HS) {
    for (int e = 0; e < HS; e++) dst[e] += src[e];
}

static int offdiag_bwd(const bctx *c, int k, xt_arena *ws) {
    const xt_hyper_params *p = &c->h->p;
    const xt_hyper_rec *rec = c->rec;
    int m = c->lv.n[k + 1], HS = c->HS, bs = p->block_size, S = p->sample_size;
    long nheads = (long)c->B * (c->NH << k);
    if (m < p->min_seq_len) { // exact non-causal piece
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
        for (long hh = 0; hh < nheads; hh++) {
            bscratch *s = &c->scr[thread_id()];
            long head0 = hh >> k, hk = hh & ((1L << k) - 1);
            int start, r;
            head_range(&c->lv, k, hk, &start, &r);
            int r1 = r < m ? r : m, r2 = r > m ? r - m : 0;
            size_t ok = brow(c, head0, start);
            for (int i0 = 0; i0 < r2; i0 += QB) {
                int nq = r2 - i0 < QB ? r2 - i0 : QB;
                size_t oi = brow(c, head0, start + m + i0), li = oi / HS;
                exact_rows_bwd(c->dq + oi, c->dk + ok, c->dv + ok, c->dAoff[k] + oi, c->dloff[k] + li,
                               rec->aoff[k] + oi, rec->loff[k] + li, c->q + oi, nq, c->k + ok, c->v + ok, r1, -1, HS,
                               c->scale, s->S, s->dP, s->g);
            }
        }
        return 0;
    }
    int nb = (m + bs - 1) / bs, sampling = m > bs;
    size_t mark = xt_arena_mark(ws);
    float *sg = sampling ? xt_arena_f32(ws, (size_t)nheads * nb * S * 2 * HS) : NULL; // dKs, dVs per block
    float lcorr = logf((float)m / (float)S);
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
    for (long hb = 0; hb < nheads * nb; hb++) {
        bscratch *s = &c->scr[thread_id()];
        long hh = hb / nb;
        int blk = (int)(hb % nb);
        long head0 = hh >> k, hk = hh & ((1L << k) - 1);
        int start, r;
        head_range(&c->lv, k, hk, &start, &r);
        int r1 = r < m ? r : m, r2 = r > m ? r - m : 0;
        const int *qs = rec->qi[k] + hh * m, *ks = rec->ki[k] + hh * m, *sidx = sampling ? rec->idx[k] + hh * S : NULL;
        // the forward's gather; dA1 / dl1 start as the merged piece's gradient
        for (int j = 0; j < bs; j++) {
            int pos = blk * bs + j, qrow = pos < m ? qs[pos] : m, krow = pos < m ? ks[pos] : m;
            put_row(s->Qb + (size_t)j * HS, qrow < r2 ? c->q + brow(c, head0, start + m + qrow) : NULL, HS);
            put_row(s->Kb + (size_t)j * HS, krow < r1 ? c->k + brow(c, head0, start + krow) : NULL, HS);
            put_row(s->Vb + (size_t)j * HS, krow < r1 ? c->v + brow(c, head0, start + krow) : NULL, HS);
            int real = qrow < r2;
            size_t oq = real ? brow(c, head0, start + m + qrow) : 0;
            put_row(s->dA1 + (size_t)j * HS, real ? c->dAoff[k] + oq : NULL, HS);
            s->dl1[j] = real ? c->dloff[k][oq / HS] : 0.0f;
        }
        float *P1 = s->S;
        xt_gemm(0, 1, bs, bs, HS, c->scale, s->Qb, HS, s->Kb, HS, 0.0f, P1, bs);
        softmax_rows(P1, bs, s->l1, bs, bs, -1, 0);
        xt_gemm(0, 0, bs, HS, bs, 1.0f, P1, bs, s->Vb, HS, 0.0f, s->A1, HS);
        if (sampling) {
            for (int j = 0; j < S; j++) {
                int krow = ks[sidx[j]];
                put_row(s->Ks + (size_t)j * HS, krow < r1 ? c->k + brow(c, head0, start + krow) : NULL, HS);
                put_row(s->Vs + (size_t)j * HS, krow < r1 ? c->v + brow(c, head0, start + krow) : NULL, HS);
            }
            xt_gemm(0, 1, bs, S, HS, c->scale, s->Qb, HS, s->Ks, HS, 0.0f, s->P2, S);
            if (p->block_mask)
                for (int j = 0; j < S; j++)
                    if (sidx[j] / bs == blk)
                        for (int i = 0; i < bs; i++) s->P2[(size_t)i * S + j] += FMIN;
            softmax_rows(s->P2, S, s->l2, bs, S, -1, 0);
            xt_gemm(0, 0, bs, HS, S, 1.0f, s->P2, S, s->Vs, HS, 0.0f, s->A2, HS);
            for (int i = 0; i < bs; i++) { // merge((A1, l1), (A2, l2 + lcorr)) backwards
                float *da = s->dA1 + (size_t)i * HS, *da2 = s->dA2 + (size_t)i * HS;
                const float *a1 = s->A1 + (size_t)i * HS, *a2 = s->A2 + (size_t)i * HS;
                float cc = 1.0f / (1.0f + expf(s->l2[i] + lcorr - s->l1[i]));
                double dc = 0;
                for (int e = 0; e < HS; e++) dc += (double)da[e] * (a1[e] - a2[e]);
                dc -= s->dl1[i] / (cc + FLT_EPSILON);
                float dz = (float)dc * cc * (1.0f - cc);
                for (int e = 0; e < HS; e++) da2[e] = (1.0f - cc) * da[e], da[e] *= cc;
                s->dl2[i] = -dz;
                s->dl1[i] += dz;
            }
        }
        // block piece
        xt_gemm(0, 1, bs, bs, HS, 1.0f, s->dA1, HS, s->Vb, HS, 0.0f, s->dP, bs);
        softmax_piece_bwd(s->dP, P1, s->dA1, s->A1, s->dl1, s->g, bs, bs, HS);
        xt_gemm(0, 0, bs, HS, bs, c->scale, s->dP, bs, s->Kb, HS, 0.0f, s->dQb, HS);
        xt_gemm(1, 0, bs, HS, bs, c->scale, s->dP, bs, s->Qb, HS, 0.0f, s->dKb, HS);
        xt_gemm(1, 0, bs, HS, bs, 1.0f, P1, bs, s->dA1, HS, 0.0f, s->dVb, HS);
        if (sampling) { // sampled piece: its key gradients wait in this block's slot of sg
            float *dKs = sg + (size_t)hb * S * 2 * HS, *dVs = dKs + (size_t)S * HS;
            xt_gemm(0, 1, bs, S, HS, 1.0f, s->dA2, HS, s->Vs, HS, 0.0f, s->dP, S);
            softmax_piece_bwd(s->dP, s->P2, s->dA2, s->A2, s->dl2, s->g, bs, S, HS);
            xt_gemm(0, 0, bs, HS, S, c->scale, s->dP, S, s->Ks, HS, 1.0f, s->dQb, HS);
            xt_gemm(1, 0, S, HS, bs, c->scale, s->dP, S, s->Qb, HS, 0.0f, dKs, HS);
            xt_gemm(1, 0, S, HS, bs, 1.0f, s->P2, S, s->dA2, HS, 0.0f, dVs, HS);
        }
        // scatter: within a head every query and every block key sits in one block only
        for (int j = 0; j < bs; j++) {
            int pos = blk * bs + j;
            if (pos >= m) break;
            if (qs[pos] < r2) add_row(c->dq + brow(c, head0, start + m + qs[pos]), s->dQb + (size_t)j * HS, HS);
            if (ks[pos] < r1) {
                add_row(c->dk + brow(c, head0, start + ks[pos]), s->dKb + (size_t)j * HS, HS);
                add_row(c->dv + brow(c, head0, start + ks[pos]), s->dVb + (size_t)j * HS, HS);
            }
        }
    }
    if (sampling) { // sampled keys are shared by a head's blocks: summed per head
#pragma omp parallel for schedule(dynamic, 1) num_threads(c->T)
        for (long hh = 0; hh < nheads; hh++) {
            long head0 = hh >> k, hk = hh & ((1L << k) - 1);
            int start, r;
            head_range(&c->lv, k, hk, &start, &r);
            int r1 = r < m ? r : m;
            const int *ks = rec->ki[k] + hh * m, *sidx = rec->idx[k] + hh * S;
            for (int blk = 0; blk < nb; blk++) {
                const float *dKs = sg + ((size_t)hh * nb + blk) * S * 2 * HS, *dVs = dKs + (size_t)S * HS;
                for (int j = 0; j < S; j++) {
                    int krow = ks[sidx[j]];
                    if (krow >= r1) continue; // a zero pad key: constant
                    add_row(c->dk + brow(c, head0, start + krow), dKs + (size_t)j * HS, HS);
                    add_row(c->dv + brow(c, head0, start + krow), dVs + (size_t)j * HS, HS);
                }
            }
        }
    }
    xt_arena_release(ws, mark);
    return 0;
}

int xt_hyper_attention_backward(float *dq, float *dk, float *dv, const float *dout, const float *q, const float *k,
                                const float *v, const xt_hyper *h, const xt_hyper_rec *rec, xt_arena *ws) {
    int B = rec->B, NH = rec->NH, L = rec->L;
    bctx c = {.q = q, .k = k, .v = v, .dq = dq, .dk = dk, .dv = dv, .B = B, .NH = NH, .L = L, .HS = h->HS,
              .h = h, .rec = rec};
    c.scale = 1.0f / sqrtf((float)h->HS);
    make_levels(&c.lv, L, h->p.min_seq_len);
    XT_ASSERT(c.lv.K == rec->K);
    int T = n_threads();
    if (!ws->measure)
        while (T > 1 && bws_need(h, B, NH, L, T) > ws->size - ws->used) T--;
    if (!ws->measure && bws_need(h, B, NH, L, T) > ws->size - ws->used)
        return xt_error("hyper", "backward workspace of %zu bytes too small (needs %zu)", ws->size - ws->used,
                        bws_need(h, B, NH, L, T));
    c.T = T;
    size_t mark = xt_arena_mark(ws), rows = (size_t)B * NH * L, n = rows * h->HS;
    c.dA0 = xt_arena_f32(ws, n), c.dl0 = xt_arena_f32(ws, rows);
    for (int lev = 0; lev < c.lv.K; lev++) c.dAoff[lev] = xt_arena_f32(ws, n), c.dloff[lev] = xt_arena_f32(ws, rows);
    c.scr = xt_arena_bytes(ws, T * sizeof(bscratch));
    for (int t = 0; t < T; t++) bscratch_take(&c.scr[t], h, L, c.lv.K, ws);
    memset(dq, 0, n * sizeof(float));
    memset(dk, 0, n * sizeof(float));
    memset(dv, 0, n * sizeof(float));
    chain_bwd(&c, dout);
    base_bwd(&c);
    for (int lev = 0; lev < c.lv.K; lev++) offdiag_bwd(&c, lev, ws);
    xt_arena_release(ws, mark);
    return 0;
}
