/* ops.c — the op table (indexed by ir_op, filled from the X-macro in ir.h),
 * node making with shape rules, and the shape rules and FLOP counts that
 * several ops share. */
#include "ops.h"

#include <stdio.h>
#include <string.h>

#define X(e, s) extern const op_def op_##e;
IR_OPS(X)
#undef X

static const op_def *const table[OP_COUNT] = {
#define X(e, s) [OP_##e] = &op_##e,
    IR_OPS(X)
#undef X
};

const op_def *op_get(ir_op op)
{
    return table[op];
}

const char *elementwise_expr(const ir_node *n)
{
    const op_def *d = table[n->op];
    return d->expr ? d->expr(n) : d->cexpr;
}

ir_op op_grad(const ir_node *n)
{
    ir_op back = table[n->op]->grad_op;
    if (back == 0) {
        fprintf(stderr, "trainc: internal error: %s has no grad_op\n", ir_op_name(n->op));
        __builtin_trap();
    }
    return back;
}

int ir_make(ir_graph *g, ir_op op, const ir_args *a, char *err, size_t errsize)
{
    int id = ir_add(g, op, a->nin, a->in);
    ir_node *n = ir_get(g, id);
    memcpy(n->f, a->f, sizeof n->f);
    memcpy(n->i, a->i, sizeof n->i);
    n->rank = a->rank;
    memcpy(n->dim, a->dim, sizeof n->dim);
    if (a->nin > 0) {
        /* a node inherits its position and phase from its first input */
        const ir_node *x = ir_get(g, a->in[0]);
        n->file = x->file;
        n->line = x->line;
        n->via = x->via;
    }
    if (table[op]->shape && table[op]->shape(g, n, err, errsize) < 0) {
        g->n--; /* drop the rejected node */
        return -1;
    }
    return id;
}

int ir_must(ir_graph *g, ir_op op, const ir_args *a)
{
    char err[256];
    int id = ir_make(g, op, a, err, sizeof err);
    if (id < 0) {
        fprintf(stderr, "trainc: internal error: %s: %s\n", ir_op_name(op), err);
        __builtin_trap();
    }
    return id;
}

int ir_unary(ir_graph *g, ir_op op, int x, double p)
{
    ir_args a = {.nin = 1, .in = {x}, .f = {p}};
    return ir_must(g, op, &a);
}

int ir_binary(ir_graph *g, ir_op op, int x, int y)
{
    ir_args a = {.nin = 2, .in = {x, y}};
    return ir_must(g, op, &a);
}

int ir_const(ir_graph *g, double v)
{
    ir_args a = {.f = {v}};
    int id = ir_must(g, OP_CONST, &a);
    ir_get(g, id)->kind = K_CONST;
    return id;
}

int ir_matmul(ir_graph *g, int x, int y, int ta, int tb)
{
    ir_args a = {.nin = 2, .in = {x, y}, .i = {ta, tb}};
    return ir_must(g, OP_MATMUL, &a);
}

int ir_shaped(ir_graph *g, ir_op op, int x, const ir_node *like, int mean)
{
    ir_args a = {.nin = 1, .in = {x}, .i = {mean}, .rank = like->rank};
    memcpy(a.dim, like->dim, sizeof a.dim);
    return ir_must(g, op, &a);
}

int shape_same(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    for (int k = 1; k < n->nin; k++) {
        const ir_node *y = ir_get(g, n->in[k]);
        if (!ir_same_shape(x, y)) {
            char a[64], b[64];
            snprintf(err, errsize, "shapes %s and %s differ", ir_shape_str(x, a, sizeof a),
                     ir_shape_str(y, b, sizeof b));
            return -1;
        }
    }
    n->rank = x->rank;
    memcpy(n->dim, x->dim, sizeof n->dim);
    return 0;
}

int shape_broadcast(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]), *y = ir_get(g, n->in[1]);
    if (!ir_broadcast(x, y, &n->rank, n->dim)) {
        char a[64], b[64];
        snprintf(err, errsize, "shapes %s and %s do not broadcast", ir_shape_str(x, a, sizeof a),
                 ir_shape_str(y, b, sizeof b));
        return -1;
    }
    return 0;
}

int shape_scalar(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    (void)g, (void)err, (void)errsize;
    n->rank = 0;
    return 0;
}

int shape_given(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    (void)g, (void)n, (void)err, (void)errsize;
    return 0;
}

double flops_none(ir_graph *g, const ir_node *n, int b)
{
    (void)g, (void)n, (void)b;
    return 0;
}

double flops_elem(ir_graph *g, const ir_node *n, int b)
{
    (void)g;
    return (double)ir_numel(n, b);
}

double flops_elem4(ir_graph *g, const ir_node *n, int b)
{
    (void)g;
    return 4.0 * (double)ir_numel(n, b);
}

double flops_in0(ir_graph *g, const ir_node *n, int b)
{
    return (double)ir_numel(ir_get(g, n->in[0]), b);
}
