/* autodiff.h — appends the backward graph: walks the forward nodes from the
 * loss back to the parameters and applies each op's vector-Jacobian rule,
 * summing the contributions a node receives from all its uses. */
#ifndef AUTODIFF_H
#define AUTODIFF_H

#include "ir.h"

typedef struct ad_ctx {
    ir_graph *g;
    char *needs;       /* per forward node: a trainable parameter is upstream */
    int nforward;      /* nodes at or after this id are backward nodes */
    const ir_node *at; /* the node being differentiated (for file:line) */
    /* the second pass of a Hessian-vector product (gen/hvp.c): the adjoint
     * of each node (-1: none), instead of the nodes' grad fields; NULL in
     * the first pass */
    int *adj;
    const char *refused; /* set by a rule that cannot differentiate its node: why */
} ad_ctx;

/* Adds gnode to d(loss)/d(x). Does nothing if no parameter is upstream of x. */
void ad_accum(ad_ctx *c, int x, int gnode);
/* Builds the backward graph; afterwards each trainable parameter's grad field
 * names the node that holds its gradient (-1 if the loss does not depend on it). */
void ad_backward(ir_graph *g);
/* The nodes from id first on were made by n's rule: backward nodes at n's
 * spec line, named prefix + n's name + their op where unnamed. */
void ad_mark_made(ir_graph *g, int first, const ir_node *n, const char *prefix);

#endif
