/* {{header}}
 *
 * mpi.c — the trainer of {{name}} over several processes: `ninja
 * {{name}}-mpi` compiles this file with -DTRAINC_MPI into {{name}}-mpi (the
 * other objects are the plain trainer's); in the plain trainer it is one
 * process and nothing more.
 *
 * Under mpirun -np R, every rank reads the data and draws the same order
 * from the seed; rank r computes the shards k with k % R == r (round robin:
 * the shards differ by at most a row and the larger come first, so each
 * rank gets ceil or floor of count / R of them, the larger spread out),
 * then combine() below makes the step's gradient, loss and outputs, the
 * same bits on every rank as in one process. Rank 0 alone prints and
 * writes files. */
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

#ifdef TRAINC_MPI
#include <limits.h>
#include <mpi.h>

static int rank, ranks = 1, mpi_on;
static int eval_ranks = 1; /* the ranks that run this command together */

int tr_rank(void)
{
    return rank;
}

int tr_eval_ranks(void)
{
    return eval_ranks;
}

/* Every rank's part of a buffer, where each value was written by one rank
 * and is all zero bytes on the others, made whole: a bitwise OR of bytes
 * gives that one rank's bits exactly (a -0.0, a NaN too), in any order. */
static void merge_bytes(void *buf, size_t bytes)
{
    for (size_t at = 0; at < bytes; at += INT_MAX) {
        int n = bytes - at < INT_MAX ? (int)(bytes - at) : INT_MAX;
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + at, n, MPI_BYTE, MPI_BOR, MPI_COMM_WORLD);
    }
}

void tr_mpi_merge(void *buf, size_t bytes)
{
    if (eval_ranks > 1) merge_bytes(buf, bytes);
}

/* the counts are integers: their sum is the same in any order */
void tr_mpi_eval_sum(double *block_loss, long blocks, long *correct, long *confusion, long cells)
{
    merge_bytes(block_loss, sizeof(double) * (size_t)blocks);
    MPI_Allreduce(MPI_IN_PLACE, correct, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    if (confusion)
        MPI_Allreduce(MPI_IN_PLACE, confusion, (int)cells, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
}

/* The reduce, by gather + ordered sum + broadcast, not MPI_Allreduce
 * (whose order of additions changes with R): the other ranks send their
 * shards' gradients, mean losses and outputs to rank 0, which receives them
 * in shard order and sums them by rt_shards_reduce on its threads, exactly
 * as one process does; then it broadcasts the sum, so every rank holds
 * rank 0's bits rather than bits it computed itself. Why this scheme: the
 * sum is the single-process code unchanged, and one copy of the result
 * leaves no room for two ranks to differ. The cost: rank 0 receives
 * (count - its shards) x P values a step and sends P to every rank; an
 * alltoall reduce-scatter would spread that over the ranks, which pays
 * only beyond a few ranks. */
static real combine(const rt_shard_exchange *ex)
{
    const int size = (int)sizeof(real);
    const int glen = (int)ex->n_params * size;
    real loss = 0;
    enum { TAG_GRAD = 1, TAG_LOSS, TAG_OUT };
    for (int k = 0; k < ex->count; k++) {
        int from = k % ranks, olen = ex->shard_rows[k] * (int)ex->output_len * size;
        real *out = ex->out + (long)ex->shard_start[k] * ex->output_len;
        if (from == 0 || (rank != 0 && rank != from)) continue;
        if (rank == 0) {
            MPI_Recv(ex->grads[k], glen, MPI_BYTE, from, TAG_GRAD, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            MPI_Recv(&ex->loss[k], size, MPI_BYTE, from, TAG_LOSS, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
            MPI_Recv(out, olen, MPI_BYTE, from, TAG_OUT, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
        } else {
            MPI_Send(ex->grads[k], glen, MPI_BYTE, 0, TAG_GRAD, MPI_COMM_WORLD);
            MPI_Send(&ex->loss[k], size, MPI_BYTE, 0, TAG_LOSS, MPI_COMM_WORLD);
            MPI_Send(out, olen, MPI_BYTE, 0, TAG_OUT, MPI_COMM_WORLD);
        }
    }
    if (rank == 0) {
        ex->reduce();
        loss = (real)rt_shards_loss(ex->loss, ex->shard_rows, ex->count, ex->rows);
    }
    MPI_Bcast(ex->grad, glen, MPI_BYTE, 0, MPI_COMM_WORLD);
    MPI_Bcast(ex->out, ex->rows * (int)ex->output_len * size, MPI_BYTE, 0, MPI_COMM_WORLD);
    MPI_Bcast(&loss, size, MPI_BYTE, 0, MPI_COMM_WORLD);
    return loss;
}

/* Batch norm's sync points (train { shards } with batch norm): the same
 * gather + ordered sum + broadcast as combine(), over a few doubles per
 * channel: the other ranks send their shards' partial sums to rank 0, which
 * adds them in shard order (rt_shards_sum, as one process does) and
 * broadcasts the total. Why not an allgather of every shard's sums, each
 * rank adding them itself: the same bits either way, but one copy of the
 * sum keeps the rule of combine() (no rank computes what it could compute
 * differently), and at these sizes (8 to 16 bytes per channel and shard)
 * the cost is latency, the same for both. */
static void sync_sums(const rt_sync_exchange *ex)
{
    const int len = (int)(ex->hi - ex->lo);
    for (int k = 0; k < ex->count; k++) {
        int from = k % ranks;
        if (from == 0 || (rank != 0 && rank != from)) continue;
        if (rank == 0)
            MPI_Recv(ex->partials[k] + ex->lo, len, MPI_DOUBLE, from, 4, MPI_COMM_WORLD,
                     MPI_STATUS_IGNORE);
        else
            MPI_Send(ex->partials[k] + ex->lo, len, MPI_DOUBLE, 0, 4, MPI_COMM_WORLD);
    }
    if (rank == 0) ex->sum();
    MPI_Bcast(ex->total + ex->lo, len, MPI_DOUBLE, 0, MPI_COMM_WORLD);
}

/* Every rank runs the same trainer: the spec's hash, the element type and
 * the sizes, and the trainc that generated it (its version, and the
 * scratch and optimizer state it planned: another trainc's templates may
 * plan them otherwise), against rank 0's. 0, or 1 after a message. */
static int same_model(void)
{
    char mine[256], first[256];
    snprintf(mine, sizeof mine, "%s real%d params%ld shards%d (%s, arena%ld state%ld)", MODEL_HASH,
             (int)sizeof(real) * 8, (long)MODEL_N_PARAMS, (int)MODEL_SHARDS, MODEL_GENERATOR,
             (long)MODEL_ARENA, (long)MODEL_N_STATE);
    memcpy(first, mine, sizeof first);
    MPI_Bcast(first, (int)sizeof first, MPI_CHAR, 0, MPI_COMM_WORLD);
    int differs = strcmp(mine, first) != 0, any = 0;
    if (differs)
        fprintf(stderr,
                "%s-mpi: rank %d runs another trainer than rank 0 (model %s, rank 0's %s): "
                "start the same binary on every rank\n",
                MODEL_NAME, rank, mine, first);
    /* a maximum of 0s and 1s: the same whatever the order */
    MPI_Allreduce(&differs, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    if (any && rank == 0)
        fprintf(stderr, "%s-mpi: the ranks run different trainers (model hash %s here)\n",
                MODEL_NAME, MODEL_HASH);
    return any;
}

/* A refusal every rank returns: the barrier keeps a rank that leaves first
 * from having mpirun end rank 0 before its message is out */
static int refused(int status)
{
    MPI_Barrier(MPI_COMM_WORLD);
    return status;
}

/* What a rank does of the command: the commands that step (train,
 * gradcheck) run on every rank, and eval and predict (their rows split
 * over the ranks); the others on rank 0 alone. Returns -1 to go on, or the exit status of
 * this rank. */
static int share_out(options *o)
{
    const int steps = !strcmp(o->command, "train") || !strcmp(o->command, "gradcheck");
    /* predict from standard input: mpirun hands it to rank 0 alone */
    if (!strcmp(o->command, "eval") ||
        (!strcmp(o->command, "predict") && o->arg && strcmp(o->arg, "-"))) {
        eval_ranks = ranks;
        if (rank > 0) {
            if (!freopen("/dev/null", "w", stdout)) return 1;
            o->failures = o->out = NULL; /* rank 0 writes them, alone */
        }
        return -1;
    }
    if (!strcmp(o->command, "lr-find")) {
        if (rank == 0)
            fprintf(stderr,
                    "%s-mpi: lr-find runs as one process: start it without mpirun (or "
                    "with -np 1)\n",
                    MODEL_NAME);
        return refused(2);
    }
    if (!steps) return rank == 0 ? -1 : 0;
    if (ranks > MODEL_SHARDS) {
        if (rank == 0)
            fprintf(stderr,
                    "%s-mpi: %d ranks but the spec's train { shards = %d }: every rank needs a "
                    "shard; run at most %d ranks (mpirun -np) or raise shards in the spec\n",
                    MODEL_NAME, ranks, (int)MODEL_SHARDS, (int)MODEL_SHARDS);
        return refused(2);
    }
    if ((long)MODEL_N_PARAMS * (long)sizeof(real) > INT_MAX ||
        (long)MODEL_BATCH * MODEL_OUTPUT_LEN * (long)sizeof(real) > INT_MAX) {
        if (rank == 0)
            fprintf(stderr, "%s-mpi: the gradient is over 2 GiB, more than one MPI message\n",
                    MODEL_NAME);
        return refused(1);
    }
    rt_shards_ranks(rank, ranks, combine);
    rt_shards_ranks_sync(sync_sums);
    eval_ranks = ranks;
    if (!o->threads) o->threads = 1; /* the ranks share the cores */
    if (rank > 0) {
        /* the same run, quiet: rank 0 prints and writes the files */
        if (!freopen("/dev/null", "w", stdout)) return 1;
        o->quiet = 1;
        o->metrics = o->step_metrics = o->trace = o->checkpoint = o->layer_metrics = o->plot = NULL;
        o->weights_given = 0;
    }
    return -1;
}

int tr_mpi_begin(int *argc, char ***argv, options *o)
{
    /* started without mpirun: one rank, without MPI (no singleton start) */
    if (!getenv("OMPI_COMM_WORLD_SIZE") && !getenv("PMIX_RANK") && !getenv("PMI_RANK")) return -1;
    if (MPI_Init(argc, argv) != MPI_SUCCESS) {
        fprintf(stderr, "%s-mpi: MPI_Init failed\n", MODEL_NAME);
        return 1;
    }
    mpi_on = 1;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &ranks);
    if (same_model()) return refused(1);
    return ranks > 1 ? share_out(o) : -1;
}

int tr_mpi_end(int rc)
{
    /* a failing rank leaves without MPI_Finalize: mpirun then ends the job */
    if (mpi_on && rc == 0) MPI_Finalize();
    return rc;
}

#else /* the plain trainer: one process */

int tr_rank(void)
{
    return 0;
}

int tr_eval_ranks(void)
{
    return 1;
}

void tr_mpi_eval_sum(double *block_loss, long blocks, long *correct, long *confusion, long cells)
{
    (void)block_loss, (void)blocks, (void)correct, (void)confusion, (void)cells;
}

void tr_mpi_merge(void *buf, size_t bytes)
{
    (void)buf, (void)bytes;
}

int tr_mpi_begin(int *argc, char ***argv, options *o)
{
    (void)argc, (void)argv, (void)o;
    return -1;
}

int tr_mpi_end(int rc)
{
    return rc;
}

#endif

/* TRAINC_MPI_HASH=PREFIX (a test's check that every rank holds the same
 * weights): a hash of the weights after every step folded into one, and of
 * the final weights, written to PREFIX.<rank> */
static uint64_t step_hash = 14695981039346656037u;
static long hashed_steps;

static uint64_t fnv(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 1099511628211u;
    return h;
}

void tr_mpi_step_hash(const real *param)
{
    static int on = -1;
    if (on < 0) on = getenv("TRAINC_MPI_HASH") != NULL;
    if (!on) return;
    step_hash = fnv(step_hash, param, sizeof(real) * MODEL_N_PARAMS);
    hashed_steps++;
}

void tr_mpi_final_hash(const real *param)
{
    const char *prefix = getenv("TRAINC_MPI_HASH");
    if (!prefix) return;
    char path[4096];
    snprintf(path, sizeof path, "%s.%d", prefix, tr_rank());
    FILE *f = fopen(path, "w");
    if (!f) return;
    fprintf(f, "steps %ld after-each-step %016llx final %016llx\n", hashed_steps,
            (unsigned long long)step_hash,
            (unsigned long long)fnv(14695981039346656037u, param, sizeof(real) * MODEL_N_PARAMS));
    fclose(f);
}
