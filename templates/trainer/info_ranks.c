/* {{header}}
 *
 * info_ranks.c — info --ranks R [--link-gbps G]: the cost model of training
 * {{name}} under mpirun -np R (README, "The cost model of info --ranks").
 *
 * The bytes are the reduce of mpi.c, message by message: every rank but 0
 * sends each of its shards' gradient (P values), mean loss (1) and outputs
 * (rows x outputs) to rank 0, which sums them in shard order and broadcasts
 * the gradient (P), the batch's outputs (batch x outputs) and the loss (1).
 * With batch norm under shards, each of its sync points adds the same
 * pattern mid-step: every shard's partial sums (doubles) to rank 0, the
 * step's sums broadcast back (mpi.c's sync_sums).
 * Time: each message costs a latency plus its bits over the link; rank 0's
 * link takes the gathered messages one after another; the broadcast is a
 * binomial tree, ceil(log2 R) rounds. Compute is measured here, on one
 * thread: the step splits into the shards' part (in proportion to their
 * rows), the ordered sum on rank 0 and the optimizer's update (every rank). */
#include <stdio.h>
#include <stdlib.h>

#include "trainer.h"

void openblas_set_num_threads(int num_threads);

#define RANKS_LATENCY_US 5.0 /* a message's latency: a fast Ethernet or RDMA link */
#define RANKS_GBPS 10.0      /* the default link */
#define RANKS_MESSAGES 3     /* a shard's messages: gradient, loss, outputs */

typedef struct ranks_plan {
    int S, n, e;     /* shards of a full batch, its rows, bytes of a value */
    long P, O;       /* parameters, outputs of a row */
    int points;      /* batch norm's sync points a step (shards > 1) */
    long D;          /* their doubles: what a shard sends, what rank 0 broadcasts */
    const int *rows; /* per shard */
    double gbps;
    /* measured, seconds: a step's shards (one thread), the ordered sum, the update */
    double shards_s, reduce_s, update_s;
    long timed; /* steps timed */
} ranks_plan;

/* what shard k sends rank 0, and what rank 0 broadcasts (sync points' sums included) */
static double shard_bytes(const ranks_plan *p, int k)
{
    return (double)p->e * ((double)p->P + 1 + (double)p->O * p->rows[k]) + 8.0 * (double)p->D;
}

static double bcast_bytes(const ranks_plan *p)
{
    return (double)p->e * ((double)p->P + 1 + (double)p->O * p->n) + 8.0 * (double)p->D;
}

/* the rounds of a binomial tree over R ranks, and rank r's children in it
 * (r + 2^j for every 2^j above r: rank 0 sends to 1, 2, 4, ...) */
static int tree_rounds(int R)
{
    int rounds = 0;
    for (long d = 1; d < R; d <<= 1) rounds++;
    return rounds;
}

static int tree_children(int r, int R)
{
    int c = 0;
    for (long d = 1; d < R; d <<= 1)
        if (d > r && r + d < R) c++;
    return c;
}

typedef struct rank_traffic {
    double sent, received; /* bytes a step */
    int shards;
    long rows;
} rank_traffic;

static rank_traffic traffic(const ranks_plan *p, int r, int R)
{
    rank_traffic t = {tree_children(r, R) * (R > 1 ? bcast_bytes(p) : 0), 0, 0, 0};
    for (int k = r; k < p->S; k += R) {
        t.shards++;
        t.rows += p->rows[k];
        if (r > 0) t.sent += shard_bytes(p, k);
    }
    if (r > 0) t.received = bcast_bytes(p);
    for (int k = 0; r == 0 && k < p->S; k++)
        if (k % R) t.received += shard_bytes(p, k);
    return t;
}

/* µs of b bytes over the link; of the communication of a step at R ranks */
static double link_us(const ranks_plan *p, double b)
{
    return b * 8 / (p->gbps * 1e3);
}

static double comm_us(const ranks_plan *p, int R)
{
    if (R == 1) return 0;
    const rank_traffic t0 = traffic(p, 0, R);
    const int messages = RANKS_MESSAGES + p->points; /* a shard's, and the broadcasts */
    const double gather = messages * (p->S - t0.shards) * RANKS_LATENCY_US + link_us(p, t0.received);
    const double bcast = tree_rounds(R) * (messages * RANKS_LATENCY_US + link_us(p, bcast_bytes(p)));
    return gather + bcast;
}

/* the largest rows of a rank's shards: the compute every rank waits for */
static long max_rows(const ranks_plan *p, int R)
{
    long most = 0;
    for (int r = 0; r < R; r++) {
        long rows = traffic(p, r, R).rows;
        if (rows > most) most = rows;
    }
    return most;
}

static double step_us(const ranks_plan *p, int R)
{
    return (p->shards_s * (double)max_rows(p, R) / p->n + p->reduce_s + p->update_s) * 1e6 +
           comm_us(p, R);
}

/* seconds of one call of fn, over at least 3 calls and 0.2 s (or exactly
 * `want` calls) */
typedef void (*timed_fn)(void *arg);
static double time_calls(timed_fn fn, void *arg, long want, long *calls)
{
    long n = 0;
    double t0 = rt_now(), t = t0;
    while (want > 0 ? n < want : n < 3 || (t - t0 < 0.2 && n < 1000)) {
        fn(arg);
        n++;
        t = rt_now();
    }
    if (calls) *calls = n;
    return (t - t0) / (double)n;
}

typedef struct timed_step {
    buffers b;
    const ranks_plan *p;
    real **grads; /* the ordered sum's inputs: one per shard */
    long t;
} timed_step;

static void one_step(void *arg)
{
    timed_step *s = arg;
    model_train_step(MODEL_BATCH, s->b.param, s->b.grad, s->b.x, s->b.y, s->b.out, s->b.arena,
                     rt_noise_key(1, ++s->t));
}

static void one_reduce(void *arg)
{
    timed_step *s = arg;
    rt_shards_reduce(s->b.grad, (const real *const *)s->grads, s->p->rows, s->p->S, s->p->n, 0,
                     s->p->P);
}

static void one_update(void *arg)
{
    timed_step *s = arg;
    model_update(s->b.param, s->b.grad, s->b.state, MODEL_LR, model_momentum(0, 1), ++s->t);
}

/* A step on one thread (one rank a core), on random rows from the seed
 * (features uniform in [0, 1), every label 0): the data do not change the
 * time of a step, and info reads no files */
static void measure(ranks_plan *p, const options *o)
{
    openblas_set_num_threads(1);
    timed_step s = {tr_alloc_buffers(1), p, NULL, 0};
    rt_rng rng;
    rt_rng_seed(&rng, o->seed);
    model_init(s.b.param, &rng);
    for (long i = 0; i < (long)MODEL_BATCH * MODEL_FEATURES; i++)
        s.b.x[i] = (real)rt_rng_uniform24(&rng);
    const long want = o->steps > 0 ? o->steps : 0;
    one_step(&s); /* the first: the pool starts, the caches fill */
    const double step = time_calls(one_step, &s, want, &p->timed);
    p->reduce_s = 0;
    if (p->S > 1) {
        s.grads = tr_alloc_or_die((size_t)p->S, sizeof *s.grads);
        for (int k = 0; k < p->S; k++) s.grads[k] = tr_alloc_or_die((size_t)p->P, sizeof(real));
        p->reduce_s = time_calls(one_reduce, &s, want, NULL);
        for (int k = 0; k < p->S; k++) free(s.grads[k]);
        free(s.grads);
    }
    /* the step holds the ordered sum of its shards already */
    p->shards_s = step > p->reduce_s ? step - p->reduce_s : 0;
    p->update_s = 0;
    if (!MODEL_CLOSURE_STEP && model_update) p->update_s = time_calls(one_update, &s, want, NULL);
}

/* the rows of R = 1, 2, 4, ... below the asked R, and R */
static void print_table(const ranks_plan *p, int asked)
{
    /* µs takes two bytes and one column */
    printf("  %5s %9s %11s %11s %11s %9s %13s %13s %13s\n", "ranks", "max rows", "compute µs",
           "comm µs", "step µs", "speed-up", "rank 0 recv B", "rank 0 send B", "others recv B");
    const double one = step_us(p, 1);
    for (int R = 1;; R = 2 * R > asked ? asked : 2 * R) {
        const rank_traffic t0 = traffic(p, 0, R);
        const double step = step_us(p, R);
        printf("  %5d %9ld %10.1f %10.1f %10.1f %9.2f %13.0f %13.0f %13.0f\n", R, max_rows(p, R),
               step - comm_us(p, R), comm_us(p, R), step, one / step, t0.received, t0.sent,
               R > 1 ? bcast_bytes(p) : 0.0);
        if (R == asked) break;
    }
}

static void print_ranks(const ranks_plan *p, int R)
{
    printf("bytes a step at R = %d (rank 0 alone sums; the others send their shards):\n", R);
    for (int r = 0; r < R; r++) {
        if (r == 16 && R > 17) {
            printf("  ... (ranks 16 to %d left out)\n", R - 2);
            r = R - 1;
        }
        const rank_traffic t = traffic(p, r, R);
        printf("  rank %d: %d shard%s, %ld rows, sends %.0f B, receives %.0f B\n", r, t.shards,
               t.shards == 1 ? "" : "s", t.rows, t.sent, t.received);
    }
}

int tr_info_ranks(const options *o)
{
    const int S = MODEL_SHARDS > 1 ? MODEL_SHARDS : 1, R = o->ranks;
    if (R > S) {
        fprintf(stderr,
                "%s: info --ranks %d: the spec's train { shards = %d } gives at most %d rank%s a "
                "shard; raise shards in the spec (at most the batch, %d rows) to model more\n",
                MODEL_NAME, R, S, S, S == 1 ? "" : "s", MODEL_BATCH);
        return 2;
    }
    int *rows = tr_alloc_or_die((size_t)S, sizeof(int));
    for (int k = 0; k < S; k++) rows[k] = rt_shard_rows(S, MODEL_BATCH, k);
    ranks_plan p = {S,
                    MODEL_BATCH,
                    (int)sizeof(real),
                    MODEL_N_PARAMS,
                    MODEL_OUTPUT_LEN,
                    MODEL_SYNC_POINTS,
                    MODEL_SYNC_DOUBLES,
                    rows,
                    o->link_gbps > 0 ? o->link_gbps : RANKS_GBPS,
                    0,
                    0,
                    0,
                    0};
    measure(&p, o);
    printf("\ncost model of mpirun -np %d (README: \"The cost model of info --ranks\")\n", R);
    printf("plan       %d shard%s of the %d-row batch (", S, S == 1 ? "" : "s", p.n);
    for (int k = 0; k < S && k < 16; k++) printf("%s%d", k ? " " : "", rows[k]);
    printf("%s rows), shard k on rank k %% R; %ld parameters of %d bytes, %ld outputs a row\n",
           S > 16 ? " ..." : "", p.P, p.e, p.O);
    printf(
        "compute    measured: %ld steps of %d random rows (labels 0) on 1 thread: the %d shard%s "
        "%.1f µs, ordered sum %.1f µs, update %.1f µs\n",
        p.timed, p.n, S, S == 1 ? "" : "s", p.shards_s * 1e6, p.reduce_s * 1e6, p.update_s * 1e6);
    printf("link       %g Gbit/s (--link-gbps), %g µs a message; the gather queues at rank 0, "
           "the broadcast is a binomial tree (R = %d: %d round%s)\n",
           p.gbps, RANKS_LATENCY_US, R, tree_rounds(R), tree_rounds(R) == 1 ? "" : "s");
    printf("step       max over ranks of its shards + ordered sum + update + gather + broadcast\n");
    print_table(&p, R);
    print_ranks(&p, R);
    printf("also       gradcheck: these bytes at each of its steps; each evaluation (validation at "
           "an epoch's end): an allreduce of 8 B a block of rows + 8 B (eval: + 8 B a confusion "
           "cell)\n");
    free(rows);
    return 0;
}
