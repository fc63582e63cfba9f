/* shards.c — the shard plan's rule and its checks (see shards.h). */
#include <stdio.h>
#include <string.h>

#include "ops.h"
#include "plan.h"
#include "shards.h"

/* A node that takes the rows of a batched input to a value without them:
 * the shards can only combine it when it is a mean over the rows (a mean
 * loss, or mean() of everything), weighted by the shard's rows. */
static int reduces_rows(ir_graph *g, const ir_node *n)
{
    if (ir_is_batched(n)) return 0;
    for (int k = 0; k < n->nin; k++)
        if (ir_is_batched(ir_get(g, n->in[k]))) return 1;
    return 0;
}

static int mean_over_rows(const ir_node *n)
{
    switch (n->op) {
    case OP_CROSS_ENTROPY:
    case OP_NLL:
        return n->i[0] == 0; /* reduction = "mean" */
    case OP_BCE:
    case OP_BCE_LOGITS:
    case OP_LOGISTIC:
        return 1;
    case OP_SUM_TO:
        return n->i[0] && n->rank == 0; /* mean of every element */
    default:
        return 0;
    }
}

/* The first forward op that combines the rows otherwise than as a mean
 * (the shards' losses are combined as the rows-weighted mean), or NULL.
 * Batch norm's statistics are combined over the shards (shard_sync). */
static const ir_node *unshardable(ir_graph *g)
{
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->phase == PH_BACKWARD || op_get(n->op)->sync_points) continue;
        if (reduces_rows(g, n) && !mean_over_rows(n)) return n;
    }
    return NULL;
}

/* Batch norm's sync points a step, from the forward ops (each counts its
 * backward's too) */
static int sync_point_count(ir_graph *g)
{
    int points = 0;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        const op_def *d = op_get(n->op);
        long len[8];
        if (n->phase != PH_BACKWARD && d->sync_points) points += d->sync_points(g, n, len);
    }
    return points;
}

/* The rule, for a spec without shards and for shards = "auto": as many
 * shards as keep each of them at least SHARD_MIN_ROWS rows, SHARD_MIN_FLOPS
 * of training work (forward and backward, about 3x the forward's FLOPs) and
 * SHARD_MIN_FLOPS_PER_PARAM of that work per parameter, at most
 * SHARD_MAX_AUTO. From the batch and the model only, never the thread or
 * rank count, so every machine computes the same numbers.
 * - Rows and work: below them a shard's synchronisation (a pool wake-up, a
 *   few microseconds; over MPI a message) costs more than its work.
 * - Work per parameter: each shard writes a gradient of its own, and the
 *   ordered sum reads them all again. Measured on one thread (AMD EPYC,
 *   2026-12-06), shards = 2 against 1: fashion_mlp (270 training FLOPs a
 *   parameter a step) 1128 against 790 us a step (+43%); the conv nets
 *   +7% to +13% (fashion_cnn, 2300 FLOPs a parameter: 12875/11900; LeNet,
 *   18700: 2140/2005; resnet_tiny, 29300: 20300/17975), and on 2 threads
 *   they take 0.52-0.56 of the 1-thread time: the default pays on every
 *   machine with two cores (the trainer's default --threads is all).
 * 1 where the shards could not combine the step: a loss that is not a mean
 * over the rows, or more batch norm sync points than shard_sync holds. */
#define SHARD_MIN_ROWS 32
#define SHARD_MIN_FLOPS 4e6
#define SHARD_MIN_FLOPS_PER_PARAM 512
#define SHARD_MAX_AUTO 8
int shard_auto(ir_graph *g)
{
    if (unshardable(g) || sync_point_count(g) > SHARD_MAX_SYNC) return 1;
    double row_flops = 0;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        const op_def *d = op_get(n->op);
        if (n->phase != PH_BACKWARD && ir_is_batched(n) && d->flops) row_flops += d->flops(g, n, 1);
    }
    int B = g->train.batch, S = B / SHARD_MIN_ROWS;
    double work = 3 * row_flops * B;
    if (work / SHARD_MIN_FLOPS < S) S = (int)(work / SHARD_MIN_FLOPS);
    if (g->n_params && work / (SHARD_MIN_FLOPS_PER_PARAM * (double)g->n_params) < S)
        S = (int)(work / (SHARD_MIN_FLOPS_PER_PARAM * (double)g->n_params));
    if (S > SHARD_MAX_AUTO) S = SHARD_MAX_AUTO;
    return S > 1 ? S : 1;
}

int shard_check(ir_graph *g, char *err, size_t errsize)
{
    ir_train *t = &g->train;
    t->shards_by_rule = t->shards == 0 || t->shards == IR_SHARDS_AUTO;
    if (t->shards_by_rule) t->shards = shard_auto(g);
    int S = t->shards;
    if (S > t->batch) {
        snprintf(err, errsize,
                 "%s:%d: train: shards = %d is more than the batch of %d rows; each shard "
                 "needs at least one row",
                 g->spec_path, t->line, S, t->batch);
        return -1;
    }
    if (S == 1) return 0;
    const ir_node *n = unshardable(g);
    if (n) {
        snprintf(err, errsize,
                 "%s:%d: train: shards = %d needs a loss that is a mean over the rows; %s "
                 "(%s:%d) %s the rows otherwise; use shards = 1",
                 g->spec_path, t->line, S, ir_op_name(n->op), n->file, n->line,
                 n->op == OP_SUM_TO || n->op == OP_CROSS_ENTROPY || n->op == OP_NLL ? "sums"
                                                                                    : "combines");
        return -1;
    }
    return 0;
}

/* The sync points of variant v in its schedule order */
static int sync_points_of(ir_graph *g, const plan_variant *v, shard_sync *s, char *err,
                          size_t errsize)
{
    s->points = 0;
    s->at[0] = 0;
    for (int k = 0; k < v->norder; k++) {
        const ir_node *n = ir_get(g, v->order[k]);
        const op_def *d = op_get(n->op);
        long len[8];
        int np = d->sync_points ? d->sync_points(g, n, len) : 0;
        for (int j = 0; j < np; j++) {
            if (s->points == SHARD_MAX_SYNC) {
                snprintf(err, errsize,
                         "%s:%d: train: shards = %d with more than %d batch norm "
                         "synchronisations a step; use shards = 1",
                         g->spec_path, g->train.line, g->train.shards, SHARD_MAX_SYNC / 3);
                return -1;
            }
            s->node[s->points] = n->id;
            s->part[s->points] = j;
            s->at[s->points + 1] = s->at[s->points] + len[j];
            s->points++;
        }
    }
    return 0;
}

int shard_sync_make(ir_graph *g, const plan *p, shard_sync *s, char *err, size_t errsize)
{
    int first = 1;
    for (int j = 0; j < p->nv; j++) {
        if (p->v[j].mode != PLAN_TRAIN) continue;
        shard_sync other;
        if (sync_points_of(g, &p->v[j], first ? s : &other, err, errsize)) return -1;
        if (!first && (other.points != s->points ||
                       memcmp(other.node, s->node, sizeof(int) * (size_t)s->points))) {
            snprintf(err, errsize,
                     "%s:%d: internal error: the shard variants order their batch norms "
                     "differently; use shards = 1",
                     g->spec_path, g->train.line);
            return -1;
        }
        first = 0;
    }
    return 0;
}

long shard_sync_at(const shard_sync *s, int id, int k)
{
    for (int p = 0; p < s->points; p++)
        if (s->node[p] == id && s->part[p] == k) return s->at[p];
    return -1;
}
