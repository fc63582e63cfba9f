/* plan.h — decides, for each variant of the step (batch size, train or
 * eval), which nodes run in which order, where each buffer lives (arena
 * offsets from liveness, views, the flat gradient buffer) and which kernel
 * each op uses. Emit only prints what the plan says. */
#ifndef PLAN_H
#define PLAN_H

#include "ir.h"
#include "variant.h"

typedef struct plan {
    plan_variant v[8]; /* 4 but with train { shards }: a train variant per shard size */
    int nv;
    int batch, remainder; /* rows of a training step, and of the last partial one (0: none) */
    int shards;           /* train { shards }: 1, or the train variants are the shards' sizes */
    long shard_arena;     /* shards > 1: elements of a shard's own arena (its largest variant) */
    long arena_size;      /* max over variants */
    double train_flops, eval_flops;
    /* --layer-metrics' probe: evaluation at the batch size, unfused, every
     * activation (op_def.act_bounds) kept in the arena to the end; its
     * arena is its own (probe.arena_size), allocated only when asked */
    plan_variant probe;
    /* train { hvp = true }: the Hessian-vector product at the batch and the
     * remainder (training mode); nhvp 0: none */
    plan_variant hvp[2];
    int nhvp;
    /* `<model> export-c`: evaluation of one row without the loss, plain
     * loops and no runtime calls (plain); its arena is the exported
     * function's scratch */
    plan_variant infer;
    /* --max-memory made gen/recompute.c compute activations again in the
     * backward (g->recompute_mib): the arena and the training step's FLOPs
     * of the plan without that */
    long arena_unconstrained;
    double train_flops_unconstrained;
} plan;

/* Plans the variants the trainer needs: train at the batch size and at the
 * remainder (if any), eval at the batch size and at 1. fuse = 0 (trainc
 * --no-fuse) computes every node in a loop of its own. */
void plan_make(ir_graph *g, plan *p, int fuse);
/* The same after plan_make once (its gradients' own nodes made): planned
 * again, as gen/recompute.c does after copying nodes */
void plan_variants(ir_graph *g, plan *p, int fuse);
/* The variant of that mode for that many rows (rows = 0: the one with the
 * most rows), or NULL */
const plan_variant *plan_find_variant(const plan *p, plan_mode mode, int rows);
/* 1 when a training step draws noise (dropout): the trainer computes the
 * step's noise key only then (MODEL_NOISE) */
int plan_draws_noise(const plan *p);

#endif
