/* plan.h — decides, for each variant of the step (batch size, train or
 * eval), which nodes run in which order, where each buffer lives (arena
 * offsets from liveness, views, the flat gradient buffer) and which kernel
 * each op uses. Emit only prints what the plan says. */
#ifndef PLAN_H
#define PLAN_H

#include "ir.h"

typedef enum plan_mode { PLAN_TRAIN, PLAN_EVAL } plan_mode;

typedef enum plan_kernel {
    KERN_LOOP,   /* constant-bound loops the compiler vectorises */
    KERN_UNROLL, /* straight-line code for tiny tensors */
    KERN_BLAS,   /* cblas_?gemm */
    KERN_GEMV,   /* cblas_?gemv: a product with a vector */
} plan_kernel;

typedef struct plan_variant {
    plan_mode mode;
    int batch;
    int *order; /* node ids to compute, in order */
    int norder;
    long *offset; /* per node: arena offset in elements (K_ACT), -1 if none */
    int *grad_of; /* per node: the parameter whose gradient buffer it writes, or -1 */
    int *view_of; /* per node: the node whose storage it shares, or -1 */
    int *inlined;    /* per node: the consumer whose loop computes it (fused), or -1 */
    plan_kernel *kernel;
    long arena_size; /* elements */
} plan_variant;

typedef struct plan {
    plan_variant v[4];
    int nv;
    int batch, remainder; /* rows of a training step, and of the last partial one (0: none) */
    long arena_size;      /* max over variants */
    double train_flops, eval_flops;
} plan;

/* Plans the variants the trainer needs: train at the batch size and at the
 * remainder (if any), eval at the batch size and at 1. */
void plan_make(ir_graph *g, plan *p);
/* The storage root of a node (following views). */
int plan_root(const plan_variant *v, int id);

#endif
