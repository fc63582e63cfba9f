/* shards.h — the fixed shard plan of a training step (train { shards = S }):
 * which rows each shard of a step of n rows holds. The sizes depend only on
 * the spec, never on the thread count, so any number of threads (and, later,
 * processes) computes the same numbers. The rule (rows per shard) is
 * rt_shard_count and rt_shard_rows of runtime/rt_pool.c. */
#ifndef SHARDS_H
#define SHARDS_H

#include <stddef.h>

#include "ir.h"

/* Checks train { shards = S } against the probed batch and the model and
 * sets g->train.shards (1 when not given). Refuses, with the spec's
 * file:line: S above the batch; S > 1 with training-mode batch norm (its
 * statistics span the whole batch); S > 1 with an op that reduces over the
 * rows other than a mean loss (the shards' losses are combined as the
 * rows-weighted mean). Returns 0 or -1 with err. */
int shard_check(ir_graph *g, char *err, size_t errsize);

#endif
