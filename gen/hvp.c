/* hvp.c — Hessian-vector products by reverse mode over reverse mode (see
 * hvp.h). After autodiff the graph holds the forward nodes and the
 * backward ones, and the backward nodes are ordinary ops (matmul, sum_to,
 * tanh_backward, cross_entropy_backward...). For a vector v, one slice v_p
 * per trainable parameter, s(θ) = Σ_p <g_p(θ), v_p> is a function of the
 * forward and backward nodes, and ds/dθ = H v. So a second reverse pass over
 * both, seeded with ds/dg_p = v_p, gives Hv with the same vjp rules: each
 * backward op's row has a vjp of its own (its second-derivative rule). */
#include "hvp.h"

#include <stdio.h>
#include <string.h>

#include "autodiff.h"
#include "ops.h"

/* The vector's slice of parameter p: a leaf of p's shape, read from the
 * flat vector at p's offset (i[0] = p; i[1] = the node holding (Hv)_p). */
static int vector_of(ir_graph *g, const ir_node *p)
{
    ir_args a = {.i = {p->id, -1}, .rank = p->rank};
    memcpy(a.dim, p->dim, sizeof a.dim);
    int v = ir_must(g, OP_HVP_VECTOR, &a);
    ir_node *n = ir_get(g, v);
    n->kind = K_VECTOR;
    n->phase = PH_BACKWARD;
    n->file = p->file;
    n->line = p->line;
    n->name = ir_c_name(g, arena_printf(g->A, "v_%s", p->name));
    return v;
}

/* The node that (Hv)_p is stored from: a buffer of p's own shape. */
static int hv_output(ir_graph *g, const ir_node *p, int adj)
{
    int out;
    if (adj < 0) { /* the gradient does not depend on p: a zero of p's shape */
        out = ir_shaped(g, OP_EXPAND, ir_const(g, 0), p, 0);
    } else if (!ir_same_shape(ir_get(g, adj), p)) {
        out = ir_shaped(g, OP_EXPAND, adj, p, 0);
    } else {
        out = ir_unary(g, OP_COPY, adj, 0);
    }
    ir_node *n = ir_get(g, out);
    n->phase = PH_BACKWARD;
    n->file = p->file;
    n->line = p->line;
    n->name = ir_c_name(g, arena_printf(g->A, "hv_%s", p->name));
    return out;
}

/* The spec's position of node n, for messages */
static const char *where(ir_graph *g, const ir_node *n)
{
    return arena_printf(g->A, "%s:%d", n->file ? n->file : g->spec_path, n->line);
}

/* Marks each node that a trainable parameter is upstream of. */
static char *upstream_of_params(ir_graph *g, int nb)
{
    char *needs = arena_alloc(g->A, (size_t)nb);
    for (int i = 0; i < nb; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind == K_PARAM) {
            needs[i] = (char)n->trainable;
            continue;
        }
        for (int k = 0; k < n->nin; k++)
            if (needs[n->in[k]]) needs[i] = 1;
    }
    return needs;
}

/* The second reverse pass, from the last node down: each node with an
 * adjoint applies its row's vjp. A node that needs one and whose row has
 * none is refused, naming the op and the spec line. */
static int second_pass(ad_ctx *c, int nb, char *err, size_t errsize)
{
    ir_graph *g = c->g;
    for (int i = nb - 1; i >= 0; i--) {
        ir_node *n = ir_get(g, i);
        if (c->adj[i] < 0 || !c->needs[i] || n->kind == K_PARAM) continue;
        const op_def *d = op_get(n->op);
        int first = g->n;
        c->at = n;
        c->refused = d->vjp ? NULL : "its row has no second-derivative rule";
        if (d->vjp) d->vjp(c, n, c->adj[i]);
        n = ir_get(g, i);
        if (c->refused) {
            snprintf(err, errsize,
                     "%s: Hessian-vector products (%s) need the derivative of %s = %s(...): %s",
                     where(g, n),
                     strcmp(g->opt.c.name, "newton") ? "train { hvp = true }"
                                                     : "optimizer = newton builds H from them",
                     n->name ? n->name : "?", ir_op_name(n->op), c->refused);
            return -1;
        }
        ad_mark_made(g, first, n, "hvp_");
    }
    return 0;
}

int hvp_build(ir_graph *g, char *err, size_t errsize)
{
    int nb = g->n;
    ad_ctx c = {.g = g, .nforward = nb, .needs = upstream_of_params(g, nb)};
    c.adj = arena_alloc(g->A, sizeof(int) * (size_t)nb);
    for (int i = 0; i < nb; i++) c.adj[i] = -1;
    int *vec = arena_alloc(g->A, sizeof(int) * (size_t)nb);
    /* seeds: ds/dg_p = v_p */
    for (int i = 0; i < nb; i++) {
        const ir_node *p = ir_get(g, i);
        if (p->kind != K_PARAM || !p->trainable) continue;
        vec[i] = vector_of(g, p);
        p = ir_get(g, i);
        if (p->grad >= 0) ad_accum(&c, p->grad, vec[i]);
    }
    if (second_pass(&c, nb, err, errsize)) return -1;
    for (int i = 0; i < nb; i++) {
        const ir_node *p = ir_get(g, i);
        if (p->kind != K_PARAM || !p->trainable) continue;
        int out = hv_output(g, p, c.adj[i]);
        ir_get(g, vec[i])->i[1] = out;
    }
    return 0;
}
