/* variant.h — what the plan decided for one variant of the step (batch
 * size, train or eval), as plain data: the order, buffers, views, fusion
 * and kernel of each node. plan.c fills it; the op emitters (through
 * cgen) and emit.c read it. */
#ifndef VARIANT_H
#define VARIANT_H

#include "ir.h"

typedef enum plan_mode { PLAN_TRAIN, PLAN_EVAL } plan_mode;

typedef enum plan_kernel {
    KERN_LOOP,   /* constant-bound loops the compiler vectorises */
    KERN_UNROLL, /* straight-line code for tiny tensors */
    KERN_BLAS,   /* cblas_?gemm */
    KERN_GEMV,   /* cblas_?gemv: a product with a vector */
    KERN_GEMM,   /* trainc's own float product (runtime/rt_gemm.c) */
} plan_kernel;

typedef struct plan_variant {
    plan_mode mode;
    int batch;
    int *order; /* node ids to compute, in order */
    int norder;
    long *offset; /* per node: arena offset in elements (K_ACT), -1 if none */
    int *grad_of; /* per node: the parameter whose gradient buffer it writes, or -1 */
    int *view_of; /* per node: the node whose storage it shares, or -1 */
    int *inlined; /* per node: the consumer whose loop computes it (fused), or -1 */
    /* Epilogues: a producer (convolution, product, pooling, batch norm) that
     * stores the value of an elementwise node A reading it (an activation,
     * a bias, a residual sum: A with the chain inlined into it) straight
     * into A's buffer. A then emits no code and, unless epi_keep, the
     * producer has no buffer of its own. In the backward only relu's
     * backward after a product of ours (KERN_GEMM), its mask in the
     * kernel's store (plan.c's mask_store_fits). */
    int *epi;      /* per producer: the node A it stores, or -1 */
    int *epi_keep; /* per producer: its own value is stored too (read elsewhere) */
    int *epi_bn;   /* per convolution (eval): the batch_norm folded into it, or -1 */
    /* per convolution with a folded batch norm whose affine part γ·x̂ + β
     * the epilogue's chain computes: that add node, taken into the fold's
     * s and t, and γ and β (else -1) */
    int *epi_affine, *epi_gamma, *epi_beta;
    /* Side outputs: a producer whose block stores, besides its value, the
     * value of a node whose row names the producer's op (op_def.side_of:
     * max pooling's argmax for the backward), or of the col2im that alone
     * reads an input-gradient product (per image, in its loop: plan.c's
     * fuse_col2im). That node emits no code and its buffer is placed at
     * the producer's step. */
    int *side;       /* per producer: the node it stores too, or -1 */
    int *fused_into; /* per node: the producer whose loop computes it (A, folded nodes), or -1 */
    plan_kernel *kernel;
    char *declared; /* per node: the variant's function declares its buffer */
    int noise;      /* the variant draws dropout noise */
    int hvp; /* (mode PLAN_TRAIN) computes Hv into `hv` from `vec` (gen/hvp.c), not the gradient */
    /* export-c's variant (gen/emit_export.c): the output only (no loss),
     * products and convolutions in plain loops (no BLAS), activations one
     * value at a time (no runtime calls) */
    int plain;
    long arena_size; /* elements */
} plan_variant;

/* The storage root of a node (following views). */
static inline int plan_root(const plan_variant *v, int id)
{
    while (v->view_of[id] >= 0) id = v->view_of[id];
    return id;
}

/* The nodes of the fused chain of node a (a and the nodes inlined into it),
 * into ids[n..max); returns the new count. */
static inline int plan_chain(ir_graph *g, const plan_variant *v, int a, int *ids, int n, int max)
{
    const ir_node *x = ir_get(g, a);
    if (n < max) ids[n++] = a;
    for (int k = 0; k < x->nin; k++)
        if (v->inlined[x->in[k]] >= 0) n = plan_chain(g, v, x->in[k], ids, n, max);
    return n;
}

#endif
