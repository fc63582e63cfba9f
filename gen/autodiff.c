/* autodiff.c — reverse mode over the traced graph (see autodiff.h). */
#include "autodiff.h"

#include <stdlib.h>

#include "ops.h"

void ad_accum(ad_ctx *c, int x, int gnode)
{
    if (x >= c->nforward || !c->needs[x] || gnode < 0) return;
    if (c->adj) {
        c->adj[x] = c->adj[x] < 0 ? gnode : ir_binary(c->g, OP_ADD, c->adj[x], gnode);
        return;
    }
    ir_node *n = ir_get(c->g, x);
    n->grad = n->grad < 0 ? gnode : ir_binary(c->g, OP_ADD, n->grad, gnode);
}

void ad_mark_made(ir_graph *g, int first, const ir_node *n, const char *prefix)
{
    /* the backward nodes of an op point at the op's spec line */
    for (int k = first; k < g->n; k++) {
        ir_node *b = ir_get(g, k);
        b->phase = PH_BACKWARD;
        b->file = n->file;
        b->line = n->line;
        b->via = n->via;
        if (!b->name && b->kind != K_CONST)
            b->name = ir_c_name(g, arena_printf(g->A, "%s%s_%s", prefix, n->name ? n->name : "t",
                                                ir_op_name(b->op)));
    }
}

void ad_backward(ir_graph *g)
{
    ad_ctx c = {.g = g, .nforward = g->n};
    c.needs = arena_alloc(g->A, (size_t)g->n);
    for (int i = 0; i < g->n; i++) {
        ir_node *n = ir_get(g, i);
        n->grad = -1;
        if (n->kind == K_PARAM) {
            c.needs[i] = (char)n->trainable;
            continue;
        }
        for (int k = 0; k < n->nin; k++)
            if (c.needs[n->in[k]]) c.needs[i] = 1;
    }
    if (g->loss < 0 || !c.needs[g->loss]) return;

    /* d(loss)/d(loss) = 1 */
    ir_node *loss = ir_get(g, g->loss);
    int seed = ir_const(g, 1);
    ir_get(g, seed)->phase = PH_BACKWARD;
    /* a [1] objective (x:reshape { 1 }, mean(v, 0)) needs a seed of its own
     * shape: vjps reduce or view the seed as the loss's shape, which a
     * constant has not (and a view of a constant has no storage) */
    if (ir_get(g, g->loss)->rank != 0) {
        seed = ir_shaped(g, OP_EXPAND, seed, ir_get(g, g->loss), 0);
        ir_get(g, seed)->phase = PH_BACKWARD;
    }
    ir_get(g, g->loss)->grad = seed;
    for (int i = g->loss; i >= 0; i--) {
        ir_node *n = ir_get(g, i);
        if (n->grad < 0 || !c.needs[i] || n->kind == K_PARAM) continue;
        const op_def *d = op_get(n->op);
        int first = g->n;
        c.at = n;
        if (d->vjp) d->vjp(&c, n, n->grad);
        n = ir_get(g, i); /* the node array may have moved */
        ad_mark_made(g, first, n, "");
    }
    /* the node holding d(loss)/d(x) is called d_x */
    for (int i = 0; i < c.nforward; i++) {
        ir_node *n = ir_get(g, i);
        if (n->grad >= c.nforward && n->kind == K_ACT && ir_get(g, n->grad)->kind == K_ACT)
            ir_get(g, n->grad)->name = ir_c_name(g, arena_printf(g->A, "d_%s", n->name));
    }
    (void)loss;
}
