// dist.h — the one door to MPI (dist.c): rank, size, collectives, point-to-point bytes, float
// streams tagged by row, abort, and a dynamic work queue. Nothing else in xt includes <mpi.h>.
//
// Built with MPI when the Makefile finds Open MPI (pkg-config ompi-c or mpicc), as a stub
// otherwise. Either way a process that was not started by a launcher (mpirun, srun) is a
// singleton: MPI is not even initialised, rank 0 of 1, every collective a no-op, so `xt` alone
// behaves exactly as it would without this module. A launched process of a stub build refuses to
// run (N copies of one job writing one checkpoint would be worse than an error).
#ifndef XT_DIST_H
#define XT_DIST_H

#include <stddef.h>
#include <stdint.h>

// Call once at the start of main (before threads). Returns 0, or -1 (error buffer) when launched
// by mpirun/srun but MPI is missing or fails to start.
int xt_dist_init(int *argc, char ***argv);
void xt_dist_finalize(void);            // at exit of a successful run (no-op for a singleton)
int xt_dist_rank(void);                 // 0 for a singleton
int xt_dist_size(void);                 // 1 for a singleton
int xt_dist_local_size(void);           // ranks on this node (for the default thread count)
int xt_dist_have_mpi(void);             // compiled with MPI
// Ends every rank of the job now (MPI_Abort); a singleton exits with code.
void xt_dist_abort(int code) __attribute__((noreturn));

// In-place sums over all ranks (every rank gets the same result). Floats go in buckets of
// XT_DIST_BUCKET elements; time spent is added to xt_dist_comm_seconds().
#define XT_DIST_BUCKET ((size_t)1 << 20)
int xt_dist_allreduce_sum(float *x, size_t n);
int xt_dist_allreduce_sum_f64(double *x, int n);
int xt_dist_bcast(void *buf, size_t bytes, int root);
int xt_dist_barrier(void);
double xt_dist_comm_seconds(void);      // seconds spent in allreduce since init

// Point-to-point byte messages: send n bytes to dest; receive up to cap bytes from src (-1: any
// rank), *from / *got set (may be NULL).
int xt_dist_send(const void *buf, size_t n, int dest, int tag);
int xt_dist_recv(void *buf, size_t cap, int src, int tag, int *from, size_t *got);

// Float (or byte) buffers between two ranks, for streams of results (one huge scene split by
// region rows or tiles: tag = row or tile). A send completes only once the receiver has matched
// it (synchronous mode), so a sender can run ahead of its receiver by the sends it has in flight
// and no further: nothing piles up unread at the receiver. Waiting polls with short sleeps
// instead of spinning a core that the encoders need. A receive wants exactly n and fails on
// another size.
// MPI_TAG_UB is at least 32767: tags are in [0, XT_DIST_TAG_MAX].
#define XT_DIST_TAG_MAX 32767
typedef struct xt_dist_req {
    _Alignas(8) unsigned char h[16]; // the MPI request (opaque here: no <mpi.h>)
    int active;
} xt_dist_req;
int xt_dist_isend_floats(const float *x, size_t n, int dest, int tag, xt_dist_req *rq); // buffer untouched until waited
int xt_dist_wait(xt_dist_req *rq);                                                    // no-op when not active
int xt_dist_recv_floats(float *x, size_t n, int src, int tag);
int xt_dist_isend_bytes(const void *x, size_t n, int dest, int tag, xt_dist_req *rq); // the same for bytes
int xt_dist_recv_bytes(void *x, size_t n, int src, int tag);

// Dynamic work queue over items 0..n-1 (collective: every rank calls begin, next until -1, end).
// Rank 0 hands out indices in order, first come first served, from a helper thread, so rank 0
// works on items too; a singleton just counts.
int xt_dist_queue_begin(int n);
int xt_dist_queue_next(void);
int xt_dist_queue_end(void);

#endif
