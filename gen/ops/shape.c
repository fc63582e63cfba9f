/* ops/shape.c — the leaves (inputs, labels, parameters, constants) and the
 * ops that only rearrange elements (reshape, transpose). */
#include <stdio.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"

/* Leaves have their shape set by whoever makes them and emit no code. */
const op_def op_INPUT = {
    .math = "the batch's features",
    .shape = shape_given,
    .flops = flops_none,
};
const op_def op_LABELS = {
    .math = "the batch's labels",
    .shape = shape_given,
    .flops = flops_none,
};
const op_def op_PARAM = {
    .math = "a trained parameter",
    .shape = shape_given,
    .flops = flops_none,
};
const op_def op_CONST = {
    .math = "a constant",
    .shape = shape_scalar,
    .flops = flops_none,
};

/* reshape: the element count must stay; the batch dimension may move only
 * as a whole (B x 784 -> B x 28 x 28). */
static int shape_reshape(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    int xb = ir_is_batched(x), nb = ir_is_batched(n);
    if (xb != nb || ir_numel(x, 7) != ir_numel(n, 7)) {
        char a[64], b[64];
        snprintf(err, errsize, "cannot reshape %s to %s: element counts differ",
                 ir_shape_str(x, a, sizeof a), ir_shape_str(n, b, sizeof b));
        return -1;
    }
    return 0;
}

/* reshape is a view: the plan gives it its input's storage; no code */
static void emit_view(emitter *e, const ir_node *n)
{
    (void)e, (void)n;
}

static void vjp_reshape(ad_ctx *c, const ir_node *n, int g)
{
    /* a constant gradient (the seed of a scalar view objective such as
     * mean(mean(v, 0), 0)) has no storage to view: repeat it instead */
    ir_op op = ir_get(c->g, g)->kind == K_CONST ? OP_EXPAND : OP_RESHAPE;
    ad_accum(c, n->in[0], ir_shaped(c->g, op, g, ir_get(c->g, n->in[0]), 0));
}

const op_def op_RESHAPE = {
    .math = "y = x viewed with another shape (no copy)",
    .shape = shape_reshape,
    .emit = emit_view,
    .vjp = vjp_reshape,
    .flops = flops_none,
    .flags = OPF_VIEW,
};

static int shape_transpose(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    if (x->rank != 2) {
        char a[64];
        snprintf(err, errsize, "transpose needs a matrix, got %s", ir_shape_str(x, a, sizeof a));
        return -1;
    }
    n->rank = 2;
    n->dim[0] = x->dim[1];
    n->dim[1] = x->dim[0];
    return 0;
}

static void emit_transpose(emitter *e, const ir_node *n)
{
    int r = e_dim(e, n, 0), c = e_dim(e, n, 1);
    wr_line(e->w, "for (long i = 0; i < %d; i++)", r);
    wr_line(e->w, "    for (long j = 0; j < %d; j++) %s[i * %d + j] = %s[j * %d + i];", c,
            e_ref(e, n->id), c, e_ref(e, n->in[0]), r);
}

static void vjp_transpose(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_unary(c->g, OP_TRANSPOSE, g, 0));
}

const op_def op_TRANSPOSE = {
    .math = "y[i][j] = x[j][i]",
    .shape = shape_transpose,
    .emit = emit_transpose,
    .vjp = vjp_transpose,
    .flops = flops_none,
};
