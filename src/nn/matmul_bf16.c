// matmul_bf16.c — matmuls on oneDNN: float32 (brgemm primitives cached per shape, as fast as dnnl_sgemm on Swin V2-T's
// linears, measured), and optional bfloat16 (AVX512-BF16 / AMX) with float32 accumulate and output.
// bfloat16 is About 2x the float32 GEMM rate on this CPU (oneDNN brgemm avx512_core_bf16:
// ~200 vs ~105 GFLOP/s per core), at bfloat16 input precision (8-bit mantissa: outputs differ
// from float32 by ~1e-2 relative), so it is opt-in; `xt verify` and the tests' default float32
// path never use it.
//
// Primitives are created once per (M, N, K) and cached (creating one costs ~1 ms); data
// pointers are bound per call. Scratchpads are ours, one per calling thread: oneDNN's default
// ("library") scratchpad is one buffer shared by every primitive, so two threads running models
// at once corrupted each other's results (seen as a flaky concurrent-forward test).
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "nn/nn.h"
#ifdef _OPENMP
#include <omp.h>
#endif

#define MAX_SHAPES 64

typedef struct {
    int M, N, K, f32; // f32: 1 float32, 0 bfloat16, 2 int8 (s8 x s8 -> s32)
    int bias;         // a float32 bias (N) added in the kernel: no second pass over the output
    int threads; // oneDNN fixes a primitive's thread count when it is created
    dnnl_primitive_t prim;
    dnnl_memory_desc_t a, w, o, b, scratch;
    size_t scratch_bytes;
} mm_entry;

struct xt_mm {
    pthread_mutex_t lock;
    int n;
    mm_entry e[MAX_SHAPES];
};

static dnnl_engine_t engine;
// Per calling thread (callers may run models in parallel): a stream and a scratchpad grown to the
// largest primitive's need, freed when the thread exits (pthread key destructor).
typedef struct {
    dnnl_stream_t stream;
    void *scratch;
    size_t cap;
} per_thread;
static pthread_key_t tkey;
static int available = -1; // -1 unknown, 0 no, 1 yes
static pthread_once_t once = PTHREAD_ONCE_INIT;

static int make_prim(mm_entry *m, int M, int N, int K, int f32, int bias, const char **impl) {
    dnnl_dims_t da = {M, K}, dw = {K, N}, dout = {M, N}, db = {1, N};
    dnnl_data_type_t t = f32 == 1 ? dnnl_f32 : f32 == 2 ? dnnl_s8 : dnnl_bf16;
    if (dnnl_memory_desc_init_by_tag(&m->a, 2, da, t, dnnl_ab) ||
        dnnl_memory_desc_init_by_tag(&m->w, 2, dw, t, dnnl_ba) || // (N, K) row-major = PyTorch (OC, IC)
        dnnl_memory_desc_init_by_tag(&m->o, 2, dout, f32 == 2 ? dnnl_s32 : dnnl_f32, dnnl_ab) ||
        (bias && dnnl_memory_desc_init_by_tag(&m->b, 2, db, dnnl_f32, dnnl_ab)))
        return -1;
    dnnl_matmul_desc_t md;
    if (dnnl_matmul_desc_init(&md, &m->a, &m->w, bias ? &m->b : NULL, &m->o)) return -1;
    dnnl_primitive_attr_t attr;
    if (dnnl_primitive_attr_create(&attr)) return -1;
    dnnl_primitive_desc_t pd;
    dnnl_status_t st = dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user);
    if (st == dnnl_success) st = dnnl_primitive_desc_create(&pd, &md, attr, engine, NULL);
    dnnl_primitive_attr_destroy(attr);
    if (st != dnnl_success) return -1;
    const dnnl_memory_desc_t *sp = dnnl_primitive_desc_query_md(pd, dnnl_query_scratchpad_md, 0);
    m->scratch = *sp;
    m->scratch_bytes = dnnl_memory_desc_get_size(sp);
    if (impl) dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, impl);
    dnnl_status_t s = dnnl_primitive_create(&m->prim, pd);
    if (impl) *impl = strstr(*impl, "bf16") || strstr(*impl, "amx") ? "native" : "emulated";
    dnnl_primitive_desc_destroy(pd);
    m->M = M, m->N = N, m->K = K, m->f32 = f32, m->bias = bias;
    return s == dnnl_success ? 0 : -1;
}

static void per_thread_free(void *p) {
    per_thread *t = p;
    if (t->stream) dnnl_stream_destroy(t->stream);
    free(t->scratch);
    free(t);
}

static void init_once(void) {
    available = 0;
    if (pthread_key_create(&tkey, per_thread_free)) return;
    if (dnnl_engine_create(&engine, dnnl_cpu, 0)) {
        engine = NULL;
        return;
    }
    // native support only: oneDNN emulates bf16 on plain AVX-512, slower than float32
    mm_entry m;
    const char *impl = NULL;
    if (make_prim(&m, 64, 64, 64, 0, 0, &impl)) return;
    dnnl_primitive_destroy(m.prim);
    available = impl && !strcmp(impl, "native");
}

int xt_bf16_available(void) {
    pthread_once(&once, init_once);
    return available;
}

xt_mm *xt_mm_new(int need_bf16) {
    xt_bf16_available();
    if (!engine) {
        xt_error("matmul", "oneDNN: no CPU engine");
        return NULL;
    }
    if (need_bf16 && !available) {
        xt_error("bf16", "bfloat16 matmuls need a CPU with AVX512-BF16 or AMX (oneDNN found none)");
        return NULL;
    }
    xt_mm *c = xt_xcalloc(1, sizeof *c);
    pthread_mutex_init(&c->lock, NULL);
    return c;
}

void xt_mm_free(xt_mm *c) {
    if (!c) return;
    for (int i = 0; i < c->n; i++) dnnl_primitive_destroy(c->e[i].prim);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

void xt_f32_to_bf16(uint16_t *out, const float *in, size_t n) {
#pragma omp parallel for simd if (n > 65536)
    for (size_t i = 0; i < n; i++) {
        union { float f; uint32_t u; } v = {in[i]};
        // round to nearest even (inputs here are finite activations/weights)
        out[i] = (uint16_t)((v.u + 0x7FFFu + ((v.u >> 16) & 1u)) >> 16);
    }
}

static int mm_run(xt_mm *c, void *out, const void *a, const void *w, const float *bias, int M, int N, int K, int f32) {
#ifdef _OPENMP
    int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
#else
    int threads = 1;
#endif
    pthread_mutex_lock(&c->lock);
    mm_entry *m = NULL;
    // keyed by thread count too: a primitive created at 1 thread stays at 1 thread (measured:
    // 7.5 instead of 12-13 regions/s for Swin V2-T at 2 threads after a 1-thread run)
    for (int i = 0; i < c->n && !m; i++)
        if (c->e[i].M == M && c->e[i].N == N && c->e[i].K == K && c->e[i].f32 == f32 && c->e[i].threads == threads &&
            c->e[i].bias == !!bias)
            m = &c->e[i];
    mm_entry e, tmp;
    int own = 0; // a primitive made for this call only (the cache is full; never in practice)
    if (!m) {
        m = c->n < MAX_SHAPES ? &c->e[c->n] : &tmp;
        if (make_prim(m, M, N, K, f32, !!bias, NULL)) {
            pthread_mutex_unlock(&c->lock);
            return xt_error("bf16", "oneDNN matmul (%d x %d x %d) could not be created", M, N, K);
        }
        m->threads = threads;
        if (m == &tmp) own = 1; // not recycled: another thread may be running a cached one
        else c->n++;
    }
    e = *m;
    pthread_mutex_unlock(&c->lock);
    dnnl_memory_t ma, mw, mo, mb = NULL, msp = NULL;
    int rc = -1;
    per_thread *t = pthread_getspecific(tkey);
    if (!t) {
        if (!(t = calloc(1, sizeof *t)) || pthread_setspecific(tkey, t)) {
            free(t);
            goto out0;
        }
    }
    if (!t->stream && dnnl_stream_create(&t->stream, engine, dnnl_stream_default_flags)) {
        t->stream = NULL;
        goto out0;
    }
    if (dnnl_memory_create(&ma, &e.a, engine, (void *)a)) goto out0;
    if (dnnl_memory_create(&mw, &e.w, engine, (void *)w)) goto out1;
    if (dnnl_memory_create(&mo, &e.o, engine, out)) goto out2;
    if (bias && dnnl_memory_create(&mb, &e.b, engine, (void *)bias)) {
        mb = NULL;
        goto out3;
    }
    if (e.scratch_bytes > t->cap) {
        free(t->scratch);
        t->scratch = malloc(e.scratch_bytes);
        t->cap = t->scratch ? e.scratch_bytes : 0;
        if (!t->scratch) goto out3;
    }
    if (e.scratch_bytes && dnnl_memory_create(&msp, &e.scratch, engine, t->scratch)) goto out3;
    dnnl_exec_arg_t args[5] = {{DNNL_ARG_SRC, ma}, {DNNL_ARG_WEIGHTS, mw}, {DNNL_ARG_DST, mo}};
    int na = 3;
    if (mb) args[na++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, mb};
    if (msp) args[na++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, msp};
    if (!dnnl_primitive_execute(e.prim, t->stream, na, args) && !dnnl_stream_wait(t->stream)) rc = 0;
    if (msp) dnnl_memory_destroy(msp);
out3:
    if (mb) dnnl_memory_destroy(mb);
    dnnl_memory_destroy(mo);
out2:
    dnnl_memory_destroy(mw);
out1:
    dnnl_memory_destroy(ma);
out0:
    if (own) dnnl_primitive_destroy(e.prim);
    if (rc) xt_error("bf16", "oneDNN matmul (%d x %d x %d) failed", M, N, K);
    return rc;
}

int xt_mm_bf16_run(xt_mm *c, float *out, const uint16_t *a, const uint16_t *w, int M, int N, int K) {
    return mm_run(c, out, a, w, NULL, M, N, K, 0);
}

int xt_mm_f32_run(xt_mm *c, float *out, const float *a, const float *w, int M, int N, int K) {
    return mm_run(c, out, a, w, NULL, M, N, K, 1);
}

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

// Per-row symmetric int8: scale = max|row| / 127, q = round-to-nearest-even(x / scale). The AVX-512
// path gives the same bytes as the scalar one (max is exact in any order; cvtps rounds to nearest
// even like lrintf); the scalar loop called fmaxf and llrintf per element and was 38 % of an int8
// Swin V2-T forward.
void xt_quantize_rows_s8(int8_t *q, float *scale, const float *x, int rows, int cols) {
#pragma omp parallel for if ((size_t)rows * cols > 65536)
    for (int r = 0; r < rows; r++) {
        const float *xr = x + (size_t)r * cols;
        int8_t *qr = q + (size_t)r * cols;
        int c = 0;
        float mx = 0;
#if defined(__AVX512F__)
        __m512 m = _mm512_setzero_ps();
        for (; c + 16 <= cols; c += 16) m = _mm512_max_ps(m, _mm512_abs_ps(_mm512_loadu_ps(xr + c)));
        mx = _mm512_reduce_max_ps(m);
#endif
        for (; c < cols; c++) mx = fmaxf(mx, fabsf(xr[c]));
        float s = mx > 0 ? mx / 127.0f : 1.0f, inv = 1.0f / s;
        scale[r] = s;
        c = 0;
#if defined(__AVX512F__)
        const __m512 vinv = _mm512_set1_ps(inv);
        for (; c + 16 <= cols; c += 16) // |x * inv| <= 127: the saturating narrow never saturates
            _mm_storeu_si128((__m128i *)(qr + c), _mm512_cvtsepi32_epi8(_mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(xr + c), vinv))));
#endif
        for (; c < cols; c++) qr[c] = (int8_t)lrintf(xr[c] * inv); // |x * inv| <= 127
    }
}

int xt_linear_forward_s8(xt_mm *mm, float *out, const float *in, const int8_t *w8, const float *wscale, const float *b,
                         int M, int K, int N, int8_t *a8, float *ascale) {
    xt_quantize_rows_s8(a8, ascale, in, M, K);
    int32_t *acc = (int32_t *)out; // the int32 sums land in out, then become floats in place
    if (mm_run(mm, acc, a8, w8, NULL, M, N, K, 2)) return -1;
#pragma omp parallel for if ((size_t)M * N > 65536)
    for (int r = 0; r < M; r++) {
        float *o = out + (size_t)r * N;
        const int32_t *ar = acc + (size_t)r * N;
        const float sa = ascale[r];
        if (b) { // in place, element by element: safe to vectorise (the compiler cannot prove it)
#pragma omp simd
            for (int c = 0; c < N; c++) o[c] = (float)ar[c] * sa * wscale[c] + b[c];
        } else {
#pragma omp simd
            for (int c = 0; c < N; c++) o[c] = (float)ar[c] * sa * wscale[c];
        }
    }
    return 0;
}

int xt_linear_forward_bf16(xt_mm *mm, float *out, const float *in, const uint16_t *w16, const float *b, int M, int K,
                           int N, uint16_t *a16) {
    xt_f32_to_bf16(a16, in, (size_t)M * K);
    return mm_run(mm, out, a16, w16, b, M, N, K, 0);
}

int xt_linear_forward_mm(xt_mm *mm, float *out, const float *in, const float *w, const float *b, int M, int K, int N) {
    if (!mm) {
        xt_linear_forward(out, in, w, b, M, K, N);
        return 0;
    }
    return mm_run(mm, out, in, w, b, M, N, K, 1);
}
