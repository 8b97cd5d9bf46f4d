// dist.c — xt's only MPI code (see dist.h). Compiled against <mpi.h> when the Makefile defines
// XT_MPI (it found Open MPI), as a singleton-only stub otherwise.
//
// Whether to initialise MPI is decided from the launcher's environment, not by trying: Open MPI's
// singleton MPI_Init would start a runtime daemon for every plain `xt` call. mpirun sets
// OMPI_COMM_WORLD_SIZE; srun --mpi=pmix / pmi2 set PMIX_RANK / PMI_RANK.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core.h"
#include "core/dist.h"

static int g_rank = 0, g_size = 1, g_local = 1;
static double g_comm = 0;

static int launched(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMIX_RANK") || getenv("PMI_RANK");
}

int xt_dist_rank(void) { return g_rank; }
int xt_dist_size(void) { return g_size; }
int xt_dist_local_size(void) { return g_local; }
double xt_dist_comm_seconds(void) { return g_comm; }

#ifdef XT_MPI
#include <mpi.h>
#include <pthread.h>
#include <time.h>

static int g_on = 0; // MPI_Init was called

int xt_dist_have_mpi(void) { return 1; }

int xt_dist_init(int *argc, char ***argv) {
    if (!launched()) return 0;
    int provided = 0;
    // SERIALIZED: the work-queue thread of rank 0 makes MPI calls while the main thread makes none
    if (MPI_Init_thread(argc, argv, MPI_THREAD_SERIALIZED, &provided) != MPI_SUCCESS)
        return xt_error("dist", "MPI_Init_thread failed");
    g_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &g_rank);
    MPI_Comm_size(MPI_COMM_WORLD, &g_size);
    MPI_Comm node;
    if (MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, g_rank, MPI_INFO_NULL, &node) == MPI_SUCCESS) {
        MPI_Comm_size(node, &g_local);
        MPI_Comm_free(&node);
    }
    if (provided < MPI_THREAD_SERIALIZED && g_size > 1) {
        MPI_Finalize();
        g_on = 0, g_rank = 0, g_size = 1;
        return xt_error("dist", "MPI provides thread level %d, xt needs MPI_THREAD_SERIALIZED", provided);
    }
    return 0;
}

void xt_dist_finalize(void) {
    if (g_on) MPI_Finalize();
    g_on = 0;
}

void xt_dist_abort(int code) {
    fflush(stdout);
    fflush(stderr);
    if (g_on && g_size > 1) MPI_Abort(MPI_COMM_WORLD, code);
    exit(code);
}

int xt_dist_allreduce_sum(float *x, size_t n) {
    if (g_size == 1) return 0;
    double t0 = xt_time();
    for (size_t i = 0; i < n; i += XT_DIST_BUCKET) {
        int k = (int)(n - i < XT_DIST_BUCKET ? n - i : XT_DIST_BUCKET);
        if (MPI_Allreduce(MPI_IN_PLACE, x + i, k, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
            return xt_error("dist", "MPI_Allreduce of %d floats failed", k);
    }
    g_comm += xt_time() - t0;
    return 0;
}

int xt_dist_allreduce_sum_f64(double *x, int n) {
    if (g_size == 1) return 0;
    double t0 = xt_time();
    if (MPI_Allreduce(MPI_IN_PLACE, x, n, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD) != MPI_SUCCESS)
        return xt_error("dist", "MPI_Allreduce of %d doubles failed", n);
    g_comm += xt_time() - t0;
    return 0;
}

int xt_dist_bcast(void *buf, size_t bytes, int root) {
    if (g_size == 1) return 0;
    XT_ASSERT(bytes <= INT32_MAX);
    return MPI_Bcast(buf, (int)bytes, MPI_BYTE, root, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : xt_error("dist", "MPI_Bcast failed");
}

int xt_dist_barrier(void) {
    if (g_size == 1) return 0;
    return MPI_Barrier(MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : xt_error("dist", "MPI_Barrier failed");
}

int xt_dist_send(const void *buf, size_t n, int dest, int tag) {
    XT_ASSERT(g_on && n <= INT32_MAX);
    return MPI_Send(buf, (int)n, MPI_BYTE, dest, tag, MPI_COMM_WORLD) == MPI_SUCCESS ? 0 : xt_error("dist", "MPI_Send to rank %d failed", dest);
}

int xt_dist_recv(void *buf, size_t cap, int src, int tag, int *from, size_t *got) {
    XT_ASSERT(g_on && cap <= INT32_MAX);
    MPI_Status st;
    if (MPI_Recv(buf, (int)cap, MPI_BYTE, src < 0 ? MPI_ANY_SOURCE : src, tag, MPI_COMM_WORLD, &st) != MPI_SUCCESS)
        return xt_error("dist", "MPI_Recv failed");
    int c = 0;
    MPI_Get_count(&st, MPI_BYTE, &c);
    if (from) *from = st.MPI_SOURCE;
    if (got) *got = (size_t)c;
    return 0;
}

_Static_assert(sizeof(MPI_Request) <= sizeof(((xt_dist_req *)0)->h), "xt_dist_req too small for MPI_Request");

static void nap(void) { // 0.2 ms: latency well under one region's encoding, no core burnt
    struct timespec ts = {0, 200000};
    nanosleep(&ts, NULL);
}

static int poll_wait(MPI_Request *r, MPI_Status *st) {
    int done = 0;
    for (;;) {
        if (MPI_Test(r, &done, st) != MPI_SUCCESS) return -1;
        if (done) return 0;
        nap();
    }
}

static int isend(const void *x, size_t n, MPI_Datatype type, int dest, int tag, xt_dist_req *rq) {
    XT_ASSERT(g_on && n <= INT32_MAX && tag >= 0 && tag <= XT_DIST_TAG_MAX && !rq->active);
    if (MPI_Issend(x, (int)n, type, dest, tag, MPI_COMM_WORLD, (MPI_Request *)rq->h) != MPI_SUCCESS)
        return xt_error("dist", "rank %d: sending %zu %s (tag %d) to rank %d failed", g_rank, n, type == MPI_FLOAT ? "floats" : "bytes",
                        tag, dest);
    rq->active = 1;
    return 0;
}

static int recv_exact(void *x, size_t n, MPI_Datatype type, int src, int tag) {
    XT_ASSERT(g_on && n <= INT32_MAX && tag >= 0 && tag <= XT_DIST_TAG_MAX);
    const char *what = type == MPI_FLOAT ? "floats" : "bytes";
    MPI_Request r;
    MPI_Status st;
    if (MPI_Irecv(x, (int)n, type, src, tag, MPI_COMM_WORLD, &r) != MPI_SUCCESS || poll_wait(&r, &st))
        return xt_error("dist", "rank %d: receiving %zu %s (tag %d) from rank %d failed", g_rank, n, what, tag, src);
    int c = -1;
    MPI_Get_count(&st, type, &c);
    if (c != (int)n) return xt_error("dist", "rank %d: got %d %s from rank %d (tag %d), expected %zu", g_rank, c, what, src, tag, n);
    return 0;
}

int xt_dist_isend_floats(const float *x, size_t n, int dest, int tag, xt_dist_req *rq) { return isend(x, n, MPI_FLOAT, dest, tag, rq); }
int xt_dist_isend_bytes(const void *x, size_t n, int dest, int tag, xt_dist_req *rq) { return isend(x, n, MPI_BYTE, dest, tag, rq); }
int xt_dist_recv_floats(float *x, size_t n, int src, int tag) { return recv_exact(x, n, MPI_FLOAT, src, tag); }
int xt_dist_recv_bytes(void *x, size_t n, int src, int tag) { return recv_exact(x, n, MPI_BYTE, src, tag); }

int xt_dist_wait(xt_dist_req *rq) {
    if (!rq->active) return 0;
    rq->active = 0;
    if (poll_wait((MPI_Request *)rq->h, MPI_STATUS_IGNORE))
        return xt_error("dist", "rank %d: a send did not complete", g_rank);
    return 0;
}

// ---- work queue: rank 0's helper thread answers requests; its main thread takes from the counter
enum { TAG_REQ = 7001, TAG_ITEM = 7002 };
static pthread_mutex_t q_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_t q_thr;
static int q_n, q_next, q_thr_on;

static int q_take(void) {
    pthread_mutex_lock(&q_mu);
    int i = q_next < q_n ? q_next++ : -1;
    pthread_mutex_unlock(&q_mu);
    return i;
}

static void *q_serve(void *u) {
    (void)u;
    int left = g_size - 1;
    while (left > 0) {
        int dummy = 0, done = 0;
        MPI_Request rq;
        MPI_Status st;
        MPI_Irecv(&dummy, 1, MPI_INT, MPI_ANY_SOURCE, TAG_REQ, MPI_COMM_WORLD, &rq);
        // polls with sleeps: a blocking receive spins a core the workers need
        for (MPI_Test(&rq, &done, &st); !done; MPI_Test(&rq, &done, &st)) {
            struct timespec ts = {0, 500000};
            nanosleep(&ts, NULL);
        }
        int item = q_take();
        MPI_Send(&item, 1, MPI_INT, st.MPI_SOURCE, TAG_ITEM, MPI_COMM_WORLD);
        left -= item < 0;
    }
    return NULL;
}

int xt_dist_queue_begin(int n) {
    q_n = n, q_next = 0, q_thr_on = 0;
    if (g_size > 1 && g_rank == 0) {
        if (pthread_create(&q_thr, NULL, q_serve, NULL)) return xt_error("dist", "cannot start the work-queue thread");
        q_thr_on = 1;
    }
    return 0;
}

int xt_dist_queue_next(void) {
    if (g_size == 1 || g_rank == 0) return q_take();
    int req = 0, item = -1;
    if (MPI_Send(&req, 1, MPI_INT, 0, TAG_REQ, MPI_COMM_WORLD) != MPI_SUCCESS ||
        MPI_Recv(&item, 1, MPI_INT, 0, TAG_ITEM, MPI_COMM_WORLD, MPI_STATUS_IGNORE) != MPI_SUCCESS)
        return xt_error("dist", "rank %d: work queue: no answer from rank 0", g_rank), -1;
    return item;
}

int xt_dist_queue_end(void) {
    if (q_thr_on) pthread_join(q_thr, NULL);
    q_thr_on = 0;
    return 0;
}

#else // ---- stub: singleton only

int xt_dist_have_mpi(void) { return 0; }

int xt_dist_init(int *argc, char ***argv) {
    (void)argc, (void)argv;
    if (launched())
        return xt_error("dist", "started by mpirun/srun, but this xt was built without MPI (install libopenmpi-dev and rebuild)");
    return 0;
}
void xt_dist_finalize(void) {}
void xt_dist_abort(int code) {
    fflush(stdout);
    exit(code);
}
int xt_dist_allreduce_sum(float *x, size_t n) { (void)x, (void)n; return 0; }
int xt_dist_allreduce_sum_f64(double *x, int n) { (void)x, (void)n; return 0; }
int xt_dist_bcast(void *buf, size_t bytes, int root) { (void)buf, (void)bytes, (void)root; return 0; }
int xt_dist_barrier(void) { return 0; }
int xt_dist_send(const void *buf, size_t n, int dest, int tag) {
    (void)buf, (void)n, (void)dest, (void)tag;
    return xt_error("dist", "no other rank (built without MPI)");
}
int xt_dist_recv(void *buf, size_t cap, int src, int tag, int *from, size_t *got) {
    (void)buf, (void)cap, (void)src, (void)tag, (void)from, (void)got;
    return xt_error("dist", "no other rank (built without MPI)");
}
int xt_dist_isend_floats(const float *x, size_t n, int dest, int tag, xt_dist_req *rq) {
    (void)x, (void)n, (void)dest, (void)tag, (void)rq;
    return xt_error("dist", "no other rank (built without MPI)");
}
int xt_dist_isend_bytes(const void *x, size_t n, int dest, int tag, xt_dist_req *rq) {
    (void)x, (void)n, (void)dest, (void)tag, (void)rq;
    return xt_error("dist", "no other rank (built without MPI)");
}
int xt_dist_wait(xt_dist_req *rq) { rq->active = 0; return 0; }
int xt_dist_recv_floats(float *x, size_t n, int src, int tag) {
    (void)x, (void)n, (void)src, (void)tag;
    return xt_error("dist", "no other rank (built without MPI)");
}
int xt_dist_recv_bytes(void *x, size_t n, int src, int tag) {
    (void)x, (void)n, (void)src, (void)tag;
    return xt_error("dist", "no other rank (built without MPI)");
}
static int q_n, q_next;
int xt_dist_queue_begin(int n) { q_n = n, q_next = 0; return 0; }
int xt_dist_queue_next(void) { return q_next < q_n ? q_next++ : -1; }
int xt_dist_queue_end(void) { return 0; }
#endif
