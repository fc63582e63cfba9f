/* shards.h — the fixed shard plan of a training step (train { shards = S }):
 * which rows each shard of a step of n rows holds. The sizes depend only on
 * the spec, never on the thread count, so any number of threads (and, later,
 * processes) computes the same numbers. The rule (rows per shard) is
 * rt_shard_count and rt_shard_rows of runtime/rt_pool.c. */
#ifndef SHARDS_H
#define SHARDS_H

#include <stddef.h>

#include "ir.h"

/* Resolves train { shards } against the probed batch and the model and
 * sets g->train.shards: the rule of shard_auto when the spec gives none or
 * "auto". Refuses, with the spec's file:line, a given S above the batch or
 * S > 1 with an op that reduces over the rows other than a mean loss (the
 * shards' losses are combined as the rows-weighted mean); the rule picks 1
 * there instead. Returns 0 or -1 with err. */
int shard_check(ir_graph *g, char *err, size_t errsize);
/* The shard count of the rule in shards.c, from the batch and the model's
 * FLOPs per row and parameters */
int shard_auto(ir_graph *g);

/* Synchronised batch norm: with S > 1, an op whose row has sync_points
 * (ops.h) needs the whole step's per-channel sums. A shard's training step
 * then runs in phases, phase p ending at sync point p with the shard's
 * partial sums; runtime/rt_pool.c runs phase p of every shard, adds their
 * sums in shard order into one `total`, runs shard_synced (what each
 * point's op does once per step) and then phase p + 1. The points are
 * numbered in schedule order, the same in every shard variant. */
#define SHARD_MAX_SYNC 256
typedef struct shard_sync {
    int points;                  /* sync points a step */
    int node[SHARD_MAX_SYNC];    /* the op of point p */
    int part[SHARD_MAX_SYNC];    /* and which of its points it is */
    long at[SHARD_MAX_SYNC + 1]; /* point p's doubles are [at[p], at[p + 1]) */
} shard_sync;
struct plan;
/* The sync points of p's training variants (p->shards > 1); 0, or -1 with
 * err when there are too many or the variants' orders disagree */
int shard_sync_make(ir_graph *g, const struct plan *p, shard_sync *s, char *err, size_t errsize);
/* The first double of node id's k-th sync point */
long shard_sync_at(const shard_sync *s, int id, int k);

#endif
