/* rt_pool.c — the shard plan's step on a pool of threads (see rt.h). The
 * pool is made once; a step hands each worker the same job and waits for
 * all of them. Shard k runs on worker k % threads and writes only its own
 * buffers, and the reduce gives each worker a range of elements, each
 * summed in shard order: which thread does what never changes a bit.
 * Over several processes (rt_shards_ranks) this process runs the shards
 * k % ranks == rank the same way, and the combine it was given replaces
 * the reduce. With batch norm the shards run phase by phase (run_phases):
 * a worker may hold several shards, so no shard ever waits for another
 * inside a phase; the pool waits for all, sums, and starts the next. */
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "rt.h"

int rt_shard_count(int shards, int n)
{
    return shards < n ? shards : n;
}

int rt_shard_rows(int shards, int n, int k)
{
    int c = rt_shard_count(shards, n);
    return n / c + (k < n % c);
}

double rt_shards_loss(const real *loss, const int *rows, int count, int n)
{
    double acc = 0;
    for (int k = 0; k < count; k++) acc += (double)rows[k] * (double)loss[k];
    return acc / n;
}

/* Element by element as written in rt.h, but a chunk of elements at a
 * time, shard after shard, so that each loop vectorises: with the shards
 * innermost the loop ran scalar, a double division per element; and by a
 * batch of 2^k rows, multiplying by 2^-k, the same bits (fashion_cnn's
 * 206K gradients from 2 shards, alone: 196 us, 153 vectorised, 82 so). Each
 * element's operations and their order are the same. */
#define REDUCE_CHUNK 1024
void rt_shards_reduce(real *grad, const real *const *g, const int *rows, int count, int n,
                      long lo, long hi)
{
    double acc[REDUCE_CHUNK];
    for (long i0 = lo; i0 < hi; i0 += REDUCE_CHUNK) {
        const long m = hi - i0 < REDUCE_CHUNK ? hi - i0 : REDUCE_CHUNK;
        const double r0 = (double)rows[0];
        for (long i = 0; i < m; i++) acc[i] = r0 * (double)g[0][i0 + i];
        for (int k = 1; k < count; k++) {
            const double rk = (double)rows[k];
            const real *gk = g[k] + i0;
            for (long i = 0; i < m; i++) acc[i] += rk * (double)gk[i];
        }
        if (n & (n - 1)) /* not a power of two */
            for (long i = 0; i < m; i++) grad[i0 + i] = (real)(acc[i] / n);
        else /* x / 2^k and x · 2^-k are the same correctly rounded value */
            for (long i = 0; i < m; i++) grad[i0 + i] = (real)(acc[i] * (1.0 / n));
    }
}

void rt_shards_sum(double *total, const double *const *p, int count, long lo, long hi)
{
    for (long i = lo; i < hi; i++) {
        double acc = p[0][i];
        for (int k = 1; k < count; k++) acc += p[k][i];
        total[i] = acc;
    }
}

typedef enum { JOB_SHARDS, JOB_REDUCE } pool_job;

/* The pool, its scratch and the step it is running (one model per program) */
static struct {
    const rt_shard_plan *plan;
    int threads, started;
    int rank, ranks; /* this process's shards: k % ranks == rank */
    rt_shards_combine_fn combine;
    rt_shards_sync_fn sync;
    real **grads, **arenas;    /* per shard, allocated once */
    double **partials, *total; /* batch norm's sums: per shard, and combined */
    int phase, point;          /* the phase the shards run; the point being combined */
    real *loss;                /* per shard */
    pthread_t *tid;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    unsigned long generation;
    int pending;
    pool_job job;
    /* the step */
    int rows, count, shard_rows[4096], shard_start[4096];
    real *param, *grad, *out;
    const real *x, *y;
    uint64_t noise;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .go = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER,
       .ranks = 1};

/* Shard k's dropout key: the step's for shard 0 (so one shard is the plain
 * step), a mix of it and k for the others, so shards draw different masks */
static uint64_t shard_noise(uint64_t noise, int k)
{
    return k ? rt_noise_mix(noise + (uint64_t)k * 0x9E3779B97F4A7C15u) : noise;
}

/* Worker w's part of the current job */
static void run_part(int w)
{
    const rt_shard_plan *p = P.plan;
    if (P.job == JOB_SHARDS) {
        for (int k = P.rank + w * P.ranks; k < P.count; k += P.threads * P.ranks) {
            long r0 = P.shard_start[k];
            const real *x = P.x + r0 * p->features, *y = P.y + r0 * p->label_len;
            real *out = P.out + r0 * p->output_len;
            if (p->points)
                P.loss[k] =
                    p->phase_step(P.shard_rows[k], P.param, P.grads[k], x, y, out, P.arenas[k],
                                  shard_noise(P.noise, k), P.phase, P.rows, P.partials[k], P.total);
            else
                P.loss[k] = p->step(P.shard_rows[k], P.param, P.grads[k], x, y, out, P.arenas[k],
                                    shard_noise(P.noise, k));
        }
    } else {
        long n = p->n_params;
        rt_shards_reduce(P.grad, (const real *const *)P.grads, P.shard_rows, P.count, P.rows,
                         n * w / P.threads, n * (w + 1) / P.threads);
    }
}

static void *worker(void *arg)
{
    int w = (int)(long)arg;
    unsigned long seen = 0;
    for (;;) {
        pthread_mutex_lock(&P.mu);
        while (P.generation == seen) pthread_cond_wait(&P.go, &P.mu);
        seen = P.generation;
        pthread_mutex_unlock(&P.mu);
        run_part(w);
        pthread_mutex_lock(&P.mu);
        if (--P.pending == 0) pthread_cond_signal(&P.done);
        pthread_mutex_unlock(&P.mu);
    }
    return NULL;
}

/* Runs job on every worker, the caller being worker 0 */
static void pool_run(pool_job job)
{
    P.job = job;
    if (P.threads > 1) {
        pthread_mutex_lock(&P.mu);
        P.pending = P.threads - 1;
        P.generation++;
        pthread_cond_broadcast(&P.go);
        pthread_mutex_unlock(&P.mu);
    }
    run_part(0);
    if (P.threads > 1) {
        pthread_mutex_lock(&P.mu);
        while (P.pending) pthread_cond_wait(&P.done, &P.mu);
        pthread_mutex_unlock(&P.mu);
    }
}

/* the ordered reduce of every shard's gradient, for a combine (rank 0) */
static void pool_reduce(void)
{
    pool_run(JOB_REDUCE);
}

/* the ordered sum of sync point P.point's partials, for a sync (rank 0):
 * a few doubles per channel, on one thread */
static void pool_sum(void)
{
    const long *at = P.plan->at;
    rt_shards_sum(P.total, (const double *const *)P.partials, P.count, at[P.point],
                  at[P.point + 1]);
}

/* The shards' phases and, between them, the sync points' combines: every
 * shard's phase p, then the ordered sum of their partials (here, or over
 * the ranks by the sync given), then synced(p) once */
static void run_phases(const rt_shard_plan *p)
{
    for (P.phase = 0;; P.phase++) {
        pool_run(JOB_SHARDS);
        if (P.phase == p->points) return;
        P.point = P.phase;
        if (P.ranks > 1) {
            const rt_sync_exchange ex = {P.count,        P.partials,         P.total,
                                         p->at[P.point], p->at[P.point + 1], pool_sum};
            P.sync(&ex);
        } else {
            pool_sum();
        }
        p->synced(P.point, P.rows, P.param, P.total);
    }
}

/* n zeroed reals on a cache line's start, as the trainer's own buffers
 * (tr_alloc_or_die): calloc's 16-byte alignment splits every other vector
 * load of a 64-byte kernel across two lines (LeNet's conv2 weight gradient
 * over a shard's 32 images took 176 us against 131 for one of 64) */
static real *zeroed_lines(size_t n)
{
    void *p = NULL;
    const size_t bytes = (n * sizeof(real) + 63) / 64 * 64;
    if (posix_memalign(&p, 64, bytes)) return NULL;
    return memset(p, 0, bytes);
}

int rt_shards_start(const rt_shard_plan *p, int threads)
{
    if (P.started) return 0;
    if (threads < 1) threads = 1;
    if (p->shards > 4096) return -1;
    P.plan = p;
    P.grads = calloc((size_t)p->shards, sizeof *P.grads);
    P.arenas = calloc((size_t)p->shards, sizeof *P.arenas);
    P.loss = calloc((size_t)p->shards, sizeof *P.loss);
    P.tid = calloc((size_t)threads, sizeof *P.tid);
    if (!P.grads || !P.arenas || !P.loss || !P.tid) return -1;
    for (int k = 0; k < p->shards; k++) {
        /* zeros: a gradient the step leaves unwritten sums to 0 */
        P.grads[k] = zeroed_lines((size_t)p->n_params + 1);
        P.arenas[k] = zeroed_lines((size_t)p->arena + 1);
        if (!P.grads[k] || !P.arenas[k]) return -1;
    }
    if (p->points) {
        P.partials = calloc((size_t)p->shards, sizeof *P.partials);
        P.total = calloc((size_t)p->at[p->points] + 1, sizeof(double));
        if (!P.partials || !P.total) return -1;
        for (int k = 0; k < p->shards; k++)
            if (!(P.partials[k] = calloc((size_t)p->at[p->points] + 1, sizeof(double)))) return -1;
    }
    P.threads = 1;
    for (int w = 1; w < threads; w++) {
        if (pthread_create(&P.tid[w], NULL, worker, (void *)(long)w)) break;
        P.threads++;
    }
    P.started = 1;
    return P.threads == threads ? 0 : -1;
}

real rt_shards_train(const rt_shard_plan *p, int rows, real *param, real *grad, const real *x,
                     const real *y, real *out, real *arena, uint64_t noise)
{
    (void)arena; /* each shard has its own */
    if (!P.started && rt_shards_start(p, 1) && !P.started) return NAN;
    if (rows < 1) return NAN;
    P.rows = rows;
    P.count = rt_shard_count(p->shards, rows);
    for (int k = 0, start = 0; k < P.count; k++) {
        P.shard_start[k] = start;
        P.shard_rows[k] = rt_shard_rows(p->shards, rows, k);
        start += P.shard_rows[k];
    }
    P.param = param;
    P.grad = grad;
    P.out = out;
    P.x = x;
    P.y = y;
    P.noise = noise;
    if (p->points)
        run_phases(p);
    else
        pool_run(JOB_SHARDS);
    if (P.ranks > 1) {
        const rt_shard_exchange ex = {P.count,     rows,          P.shard_rows, P.shard_start,
                                      P.grads,     P.loss,        grad,         out,
                                      p->n_params, p->output_len, pool_reduce};
        return P.combine(&ex);
    }
    /* the ordered reduce: a step of its own */
    pool_run(JOB_REDUCE);
    return (real)rt_shards_loss(P.loss, P.shard_rows, P.count, rows);
}

void rt_shards_ranks_sync(rt_shards_sync_fn sync)
{
    P.sync = sync;
}

void rt_shards_ranks(int rank, int ranks, rt_shards_combine_fn combine)
{
    P.rank = ranks > 1 && combine ? rank : 0;
    P.ranks = ranks > 1 && combine ? ranks : 1;
    P.combine = combine;
}
