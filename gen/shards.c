/* shards.c — the shard plan's rule and its checks (see shards.h). */
#include <stdio.h>

#include "ops.h"
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
    case OP_NLL: return n->i[0] == 0; /* reduction = "mean" */
    case OP_BCE:
    case OP_BCE_LOGITS:
    case OP_LOGISTIC: return 1;
    case OP_SUM_TO: return n->i[0] && n->rank == 0; /* mean of every element */
    default: return 0;
    }
}

int shard_check(ir_graph *g, char *err, size_t errsize)
{
    ir_train *t = &g->train;
    int S = t->shards ? t->shards : 1;
    if (S > t->batch) {
        snprintf(err, errsize,
                 "%s:%d: train: shards = %d is more than the batch of %d rows; each shard "
                 "needs at least one row",
                 g->spec_path, t->line, S, t->batch);
        return -1;
    }
    t->shards = S;
    if (S == 1) return 0;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->phase == PH_BACKWARD) continue;
        if (op_get(n->op)->flags & OPF_BN || n->op == OP_BN_STATS) {
            snprintf(err, errsize,
                     "%s:%d: train: shards = %d with batch_norm (%s:%d): training-mode batch "
                     "norm needs the whole batch's statistics, which shards do not combine yet; "
                     "use shards = 1",
                     g->spec_path, t->line, S, n->file, n->line);
            return -1;
        }
        if (reduces_rows(g, n) && !mean_over_rows(n)) {
            snprintf(err, errsize,
                     "%s:%d: train: shards = %d needs a loss that is a mean over the rows; %s "
                     "(%s:%d) %s the rows otherwise; use shards = 1",
                     g->spec_path, t->line, S, ir_op_name(n->op), n->file, n->line,
                     n->op == OP_SUM_TO || n->op == OP_CROSS_ENTROPY || n->op == OP_NLL
                         ? "sums"
                         : "combines");
            return -1;
        }
    }
    return 0;
}
