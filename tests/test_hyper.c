// test_hyper.c — HyperAttention against tools/gen_ref_seq.py (a copy of the golden spec.py):
// LSH hashes (every call, pad rows included), block attention with zero-padded blocks, the full
// causal recursion with sampling (replayed draws), the block-mask variant, the exact path, the
// seeded generator, and a long sequence (finite, deterministic).
// Tolerances: hashes exact; outputs 1e-5 absolute (float32 sums in a different order; the
// reference's own float64 re-run differs by ~1e-6).
#include <string.h>

#include "check_golden.h"
#include "models/seq.h"

typedef struct {
    xt_st *st;
    int n_checked;
} tapctx;

static void on_tap(void *u, const char *name, const float *x, const int64_t *shape, int ndim) {
    tapctx *c = u;
    double tol = strstr(name, "hash") ? 0.0 : 1e-5; // hashes are exact
    if (check_golden(c->st, name, x, shape, ndim, tol, 0.0) > 0) c->n_checked++;
}

static int run_case(const char *file, int n_taps) {
    xt_st *st = xt_st_open(file);
    if (!st) { fprintf(stderr, "%s\n", xt_error_buffer()); CHECK(0); return -1; }
    const xt_st_tensor *tq = xt_st_find(st, "input.q");
    int B = (int)tq->shape[0], NH = (int)tq->shape[1], L = (int)tq->shape[2], HS = (int)tq->shape[3];
    const float *q = xt_st_f32(st, "input.q", NULL), *k = xt_st_f32(st, "input.k", NULL),
                *v = xt_st_f32(st, "input.v", NULL), *prm = xt_st_f32(st, "input.params", NULL);
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    p.min_seq_len = (int)prm[0];
    p.block_size = (int)prm[1];
    p.sample_size = (int)prm[2];
    size_t n = (size_t)B * NH * L * HS;
    float *out = malloc(n * sizeof(float));
    tapctx tc = {st, 0};
    xt_tap tap = {on_tap, &tc};

    for (int mask = 0; mask < 2; mask++) {
        p.block_mask = mask;
        xt_hyper_rand r;
        xt_hyper_rand_init(&r, st, 0);
        CHECK(r.st == st || !xt_st_find(st, "input.hyper_randint.0"));
        xt_hyper hy;
        int calls = 0;
        CHECK(xt_hyper_init(&hy, &p, HS, st, "attn", &r) == 0);
        CHECK(hy.proj_dir[1] == xt_st_f32(st, "input.buffer.attn.lsh.proj_dir", NULL)[1]);
        xt_arena ws;
        CHECK(xt_arena_init(&ws, xt_hyper_workspace_size(&hy, B, NH, L)) == 0);
        int rc = xt_hyper_attention(out, q, k, v, B, NH, L, &hy, &r, &calls, mask ? NULL : &tap, "attn", &ws);
        if (rc) fprintf(stderr, "%s\n", xt_error_buffer());
        CHECK(rc == 0);
        CHECK(calls == n_taps);
        if (mask) CHECK_CLOSE(out, xt_st_f32(st, "expected.blockmask", NULL), n, 1e-5, 0, "blockmask");
        else CHECK(tc.n_checked == n_taps + 1); // hashes + output
        CHECK(ws.high <= ws.size);
        xt_hyper_free(&hy);
        xt_arena_free(&ws);
    }
    // exact path: min_seq_len >= L gives causal softmax attention
    p.min_seq_len = L;
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, NULL, 1);
    xt_hyper hy;
    int calls = 0;
    CHECK(xt_hyper_init(&hy, &p, HS, NULL, NULL, &r) == 0);
    xt_arena ws;
    CHECK(xt_arena_init(&ws, xt_hyper_workspace_size(&hy, B, NH, L)) == 0);
    CHECK(xt_hyper_attention(out, q, k, v, B, NH, L, &hy, &r, &calls, NULL, "attn", &ws) == 0);
    CHECK_CLOSE(out, xt_st_f32(st, "expected.exact", NULL), n, 1e-5, 0, "exact");
    CHECK(calls == 0);
    xt_hyper_free(&hy);
    xt_arena_free(&ws);
    free(out);
    printf("%s: %d tensors compared\n", file, tc.n_checked);
    xt_st_close(st);
    return 0;
}

static void fill(float *x, size_t n, uint32_t seed) {
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        x[i] = ((seed >> 8) * (1.0f / 16777216.0f) - 0.5f) * 3.0f;
    }
}

// seeded generator: deterministic, replay errors reported, a long sequence stays finite
static void seeded(void) {
    int B = 1, NH = 2, L = 8001, HS = 32;
    size_t n = (size_t)B * NH * L * HS;
    float *q = malloc(n * 4), *k = malloc(n * 4), *v = malloc(n * 4), *o1 = malloc(n * 4), *o2 = malloc(n * 4);
    fill(q, n, 1), fill(k, n, 2), fill(v, n, 3);
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    p.min_seq_len = 512, p.block_size = 64, p.sample_size = 64;
    for (int rep = 0; rep < 3; rep++) {
        xt_hyper_rand r;
        xt_hyper_rand_init(&r, NULL, rep == 2 ? 99 : 7);
        xt_hyper hy;
        int calls = 0;
        CHECK(xt_hyper_init(&hy, &p, HS, NULL, "x", &r) == 0);
        xt_arena ws;
        CHECK(xt_arena_init(&ws, xt_hyper_workspace_size(&hy, B, NH, L)) == 0);
        double t0 = xt_time();
        CHECK(xt_hyper_attention(rep ? o2 : o1, q, k, v, B, NH, L, &hy, &r, &calls, NULL, "x", &ws) == 0);
        if (!rep) printf("hyper L=%d NH=%d HS=%d (min 512, block 64, sample 64): %.3f s, %d LSH calls\n",
                         L, NH, HS, xt_time() - t0, calls);
        CHECK(calls == 6); // 8001 -> 4001 -> 2001 -> 1001 -> 501: LSH at m = 4001, 2001, 1001
        CHECK(r.next == 3);
        xt_hyper_free(&hy);
        xt_arena_free(&ws);
        if (rep == 1) CHECK(memcmp(o1, o2, n * 4) == 0);
        if (rep == 2) CHECK(memcmp(o1, o2, n * 4) != 0);
    }
    int finite = 1;
    for (size_t i = 0; i < n; i++) finite &= isfinite(o1[i]) != 0;
    CHECK(finite);
    // the first min_seq_len rows of each head are exact causal attention at any length
    xt_hyper_params pe = p;
    pe.min_seq_len = 512;
    int Ls = 512;
    size_t ns = (size_t)Ls * HS;
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, NULL, 1);
    xt_hyper hy;
    int calls = 0;
    CHECK(xt_hyper_init(&hy, &pe, HS, NULL, "x", &r) == 0);
    xt_arena ws;
    CHECK(xt_arena_init(&ws, xt_hyper_workspace_size(&hy, 1, 1, Ls)) == 0);
    CHECK(xt_hyper_attention(o2, q, k, v, 1, 1, Ls, &hy, &r, &calls, NULL, "x", &ws) == 0);
    CHECK_CLOSE(o1, o2, ns, 1e-6, 0, "prefix = exact");
    xt_hyper_free(&hy);
    xt_arena_free(&ws);
    free(q), free(k), free(v), free(o1), free(o2);
}

// Official settings at L = 6000: two base heads of 3000 rows (exact causal) and an exact
// off-diagonal block (3000 < min_seq_len 4096), both past one key block (2048 keys): the result
// is exact causal attention. Float64 loop on rows around the boundaries; 2e-5 absolute.
static void exact_long(void) {
    int L = 6000, HS = 16;
    size_t n = (size_t)L * HS;
    float *q = malloc(n * 4), *k = malloc(n * 4), *v = malloc(n * 4), *o = malloc(n * 4);
    fill(q, n, 4), fill(k, n, 5), fill(v, n, 6);
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, NULL, 1);
    xt_hyper hy;
    int calls = 0;
    CHECK(xt_hyper_init(&hy, &p, HS, NULL, "x", &r) == 0);
    xt_arena ws;
    CHECK(xt_arena_init(&ws, xt_hyper_workspace_size(&hy, 1, 1, L)) == 0);
    CHECK(xt_hyper_attention(o, q, k, v, 1, 1, L, &hy, &r, &calls, NULL, "x", &ws) == 0);
    CHECK(calls == 0 && r.next == 0);
    int rows[] = {0, 2047, 2048, 2999, 3000, 3001, 5047, 5048, 5999};
    float got[9 * 16], want[9 * 16];
    for (int t = 0; t < 9; t++) {
        int i = rows[t];
        double mx = -1e300, sum = 0, acc[16] = {0};
        for (int j = 0; j <= i; j++) {
            double sc = 0;
            for (int d = 0; d < HS; d++) sc += (double)q[(size_t)i * HS + d] * k[(size_t)j * HS + d];
            sc /= 4.0; // HS^-0.5
            if (sc > mx) mx = sc;
        }
        for (int j = 0; j <= i; j++) {
            double sc = 0;
            for (int d = 0; d < HS; d++) sc += (double)q[(size_t)i * HS + d] * k[(size_t)j * HS + d];
            double w = exp(sc / 4.0 - mx);
            sum += w;
            for (int d = 0; d < HS; d++) acc[d] += w * v[(size_t)j * HS + d];
        }
        for (int d = 0; d < HS; d++) {
            want[t * HS + d] = (float)(acc[d] / sum);
            got[t * HS + d] = o[(size_t)i * HS + d];
        }
    }
    CHECK_CLOSE(got, want, 9 * HS, 2e-5, 0, "official settings, L = 6000 (exact)");
    xt_hyper_free(&hy);
    xt_arena_free(&ws);
    free(q), free(k), free(v), free(o);
}

static void bad_input(void) {
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    const char *bad[] = {"{\"block_size\": 0}", "{\"lsh_num_projs\": 40}", "{\"sample_size\": 1.5}", "[1]"};
    for (int i = 0; i < 4; i++) {
        xt_json *j = xt_json_parse(bad[i], strlen(bad[i]), "test");
        CHECK(j && xt_hyper_params_from_json(&p, j) == -1);
        CHECK(strstr(xt_error_buffer(), "hyper_override") != NULL);
        xt_json_free(j);
    }
    const char *ok = "{\"block_size\": 8, \"lsh_num_projs\": 7, \"min_seq_len\": 16, \"sample_size\": 8}";
    xt_json *j = xt_json_parse(ok, strlen(ok), "test");
    CHECK(xt_hyper_params_from_json(&p, j) == 0 && p.block_size == 8 && p.min_seq_len == 16 && p.sample_size == 8);
    xt_json_free(j);
    // replayed draws that do not fit the call: a clear error, no crash
    xt_st *st = xt_st_open("tests/ref/seq_hyper_long.safetensors");
    CHECK(st != NULL);
    if (!st) return;
    int B = 1, NH = 2, L = 77, HS = 16; // batch 1 while the file's draws are (2, ., .)
    p.min_seq_len = 8, p.block_size = 4, p.sample_size = 6;
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, st, 0);
    xt_hyper hy;
    int calls = 0;
    CHECK(xt_hyper_init(&hy, &p, HS, st, "attn", &r) == 0);
    xt_arena ws;
    CHECK(xt_arena_init(&ws, xt_hyper_workspace_size(&hy, B, NH, L)) == 0);
    const float *q = xt_st_f32(st, "input.q", NULL);
    float *out = malloc((size_t)B * NH * L * HS * 4);
    CHECK(xt_hyper_attention(out, q, q, q, B, NH, L, &hy, &r, &calls, NULL, "attn", &ws) == -1);
    CHECK(strstr(xt_error_buffer(), "input.hyper_randint.0") != NULL);
    xt_hyper_free(&hy);
    // arena sized for 1 thread, run with 2: fewer threads, same result; too small: an error
    xt_hyper_rand_init(&r, st, 0);
    CHECK(xt_hyper_init(&hy, &p, HS, st, "attn", &r) == 0);
    xt_set_threads(1);
    xt_arena w1;
    CHECK(xt_arena_init(&w1, xt_hyper_workspace_size(&hy, 2, NH, L)) == 0);
    xt_set_threads(2);
    float *o2 = malloc((size_t)2 * NH * L * HS * 4);
    const float *k = xt_st_f32(st, "input.k", NULL), *v = xt_st_f32(st, "input.v", NULL);
    CHECK(xt_hyper_attention(o2, q, k, v, 2, NH, L, &hy, &r, &calls, NULL, "attn", &w1) == 0);
    CHECK_CLOSE(o2, xt_st_f32(st, "expected.attn", NULL), 2 * NH * L * HS, 1e-5, 0, "1-thread arena");
    xt_arena_free(&w1);
    CHECK(xt_arena_init(&w1, 1024) == 0);
    CHECK(xt_hyper_attention(o2, q, k, v, 2, NH, L, &hy, &r, &calls, NULL, "attn", &w1) == -1);
    CHECK(strstr(xt_error_buffer(), "workspace") != NULL);
    xt_arena_free(&w1);
    free(o2);
    xt_hyper_free(&hy);
    // proj_dir of the wrong head size
    CHECK(xt_hyper_init(&hy, &p, 8, st, "attn", &r) == -1);
    CHECK(strstr(xt_error_buffer(), "proj_dir") != NULL);
    free(out);
    xt_arena_free(&ws);
    xt_st_close(st);
}

// The official file xt_cls_hyper_long : from the stored layer input, RMSNorm and
// qkv here, then HyperAttention with the file's proj_dir and draws; hashes exact, output 1e-4.
static void golden_long(void) {
    xt_st *st = xt_st_open(golden("xt_cls_hyper_long.safetensors"));
    CHECK(st != NULL);
    if (!st) return;
    int L = 65, D = 256, NH = 2, HS = 128;
    const float *x = xt_st_f32(st, "expected.decoder.layers.0.in", NULL);
    const float *g = xt_st_f32(st, "decoder.layers.0.input_layernorm.weight", NULL);
    const float *w = xt_st_f32(st, "decoder.layers.0.attn.qkv.weight", NULL);
    const float *b = xt_st_f32(st, "decoder.layers.0.attn.qkv.bias", NULL);
    CHECK(x && g && w && b);
    if (!(x && g && w && b)) { xt_st_close(st); return; }
    float *h = malloc((size_t)L * D * 4), *qkv = malloc((size_t)3 * L * D * 4), *out = malloc((size_t)L * D * 4);
    for (int l = 0; l < L; l++) {
        double ss = 0;
        for (int c = 0; c < D; c++) ss += (double)x[l * D + c] * x[l * D + c];
        float r = 1.0f / sqrtf((float)(ss / D) + 1e-5f);
        for (int c = 0; c < D; c++) h[l * D + c] = g[c] * (x[l * D + c] * r);
    }
    // (L, 3, NH, HS) -> (3, NH, L, HS)
    for (int l = 0; l < L; l++)
        for (int o = 0; o < 3 * D; o++) {
            double s = b[o];
            for (int c = 0; c < D; c++) s += (double)h[l * D + c] * w[(size_t)o * D + c];
            int t = o / D, hh = (o % D) / HS, d = o % HS;
            qkv[(((size_t)t * NH + hh) * L + l) * HS + d] = (float)s;
        }
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    const char *cs = xt_st_meta(st, "config");
    xt_json *cfg = xt_json_parse(cs, strlen(cs), "config");
    CHECK(cfg && xt_hyper_params_from_json(&p, xt_json_get(cfg, "hyper_override")) == 0);
    xt_json_free(cfg);
    xt_hyper_rand r;
    xt_hyper_rand_init(&r, st, 0);
    xt_hyper hy;
    int calls = 0;
    CHECK(xt_hyper_init(&hy, &p, HS, st, "decoder.layers.0.attn.attn", &r) == 0);
    xt_arena ws;
    CHECK(xt_arena_init(&ws, xt_hyper_workspace_size(&hy, 1, NH, L)) == 0);
    tapctx tc = {st, 0};
    xt_tap tap = {on_tap, &tc};
    CHECK(xt_hyper_attention(out, qkv, qkv + L * D, qkv + 2 * L * D, 1, NH, L, &hy, &r, &calls, &tap,
                             "decoder.layers.0.attn.attn", &ws) == 0);
    CHECK(tc.n_checked == 5); // 4 hash calls + the output
    CHECK(r.next == 2);
    printf("golden xt_cls_hyper_long: %d tensors compared\n", tc.n_checked);
    xt_hyper_free(&hy);
    xt_arena_free(&ws);
    free(h), free(qkv), free(out);
    xt_st_close(st);
}

// One head at a time (xt_hyper_plan, the context encoder's long path) against the all-heads
// call: the same draws, bucket-id taps and outputs, bit for bit (every row's arithmetic is the
// same). B = 2, NH = 2, an odd length (pad rows), LSH with sampling at three levels.
typedef struct {
    int n;
    char name[8][64];
    float *x[8];
    size_t len[8];
} keep_taps;

static void keep_tap(void *u, const char *name, const float *x, const int64_t *shape, int ndim) {
    keep_taps *t = u;
    if (t->n == 8) return;
    size_t len = 1;
    for (int i = 0; i < ndim; i++) len *= (size_t)shape[i];
    snprintf(t->name[t->n], sizeof t->name[0], "%s", name);
    t->x[t->n] = malloc(len * sizeof(float));
    memcpy(t->x[t->n], x, len * sizeof(float));
    t->len[t->n++] = len;
}

static void per_head(void) {
    int B = 2, NH = 2, L = 8001, HS = 32;
    size_t LH = (size_t)L * HS, n = (size_t)B * NH * LH;
    float *q = malloc(n * 4), *k = malloc(n * 4), *v = malloc(n * 4), *o1 = malloc(n * 4), *o2 = malloc(n * 4);
    fill(q, n, 11), fill(k, n, 12), fill(v, n, 13);
    xt_hyper_params p;
    xt_hyper_params_default(&p);
    p.min_seq_len = 512, p.block_size = 64, p.sample_size = 64;
    keep_taps t1 = {0}, t2 = {0};
    xt_tap tap1 = {keep_tap, &t1}, tap2 = {keep_tap, &t2};
    xt_hyper_rand r1, r2;
    xt_hyper_rand_init(&r1, NULL, 5);
    xt_hyper_rand_init(&r2, NULL, 5);
    xt_hyper hy;
    CHECK(xt_hyper_init(&hy, &p, HS, NULL, "x", &r1) == 0);
    xt_hyper_rand_init(&r1, NULL, 5);
    int calls1 = 2, calls2 = 2; // taps continue from an earlier call
    xt_arena ws;
    CHECK(xt_arena_init(&ws, xt_hyper_workspace_size(&hy, B, NH, L)) == 0);
    CHECK(xt_hyper_attention(o1, q, k, v, B, NH, L, &hy, &r1, &calls1, &tap1, "x", &ws) == 0);
    xt_arena_free(&ws);
    CHECK(xt_arena_init(&ws, xt_hyper_plan_size(&hy, B, NH, L, 1) + xt_hyper_workspace_size(&hy, 1, 1, L)) == 0);
    xt_hyper_plan pl;
    CHECK(xt_hyper_plan_init(&pl, &hy, B, NH, L, &r2, &calls2, 1, &ws) == 0);
    for (int hd = B * NH - 1; hd >= 0; hd--) // any order
        CHECK(xt_hyper_attention_head(o2 + hd * LH, q + hd * LH, k + hd * LH, v + hd * LH, &hy, &pl, hd, &ws) == 0);
    xt_hyper_plan_emit(&pl, &hy, &tap2, "x");
    CHECK(calls1 == calls2 && calls1 == 2 + 6 && r1.next == r2.next);
    CHECK(memcmp(o1, o2, n * 4) == 0);
    CHECK(t1.n == 7 && t2.n == 6); // 6 hash taps (LSH at m = 4001, 2001, 1001), then "x" (all-heads call only)
    for (int i = 0; i < t2.n; i++) {
        CHECK(!strcmp(t1.name[i], t2.name[i]) && t1.len[i] == t2.len[i]);
        CHECK(memcmp(t1.x[i], t2.x[i], t1.len[i] * 4) == 0);
    }
    printf("hyper one head at a time: L=%d B=%d NH=%d, outputs and %d hash taps identical\n", L, B, NH, t2.n);
    for (int i = 0; i < t1.n; i++) free(t1.x[i]);
    for (int i = 0; i < t2.n; i++) free(t2.x[i]);
    xt_hyper_free(&hy);
    xt_arena_free(&ws);
    free(q), free(k), free(v), free(o1), free(o2);
}

int main(void) {
    run_case("tests/ref/seq_hyper_blocks.safetensors", 2);
    run_case("tests/ref/seq_hyper_long.safetensors", 6);
    run_case("tests/ref/seq_hyper_many.safetensors", 4);
    seeded();
    exact_long();
    per_head();
    bad_input();
    golden_long();
    return check_summary("hyper");
}
