/* ops/reduce.c — sums and means (to any broadcast-compatible shape), their
 * adjoint expand, and the row-wise softmax family. */
#include <stdio.h>
#include <string.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"

/* sum_to: the output shape is given; it must broadcast to the input's. */
static int shape_sum_to(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    int rank, dim[IR_MAX_RANK];
    if (n->rank > x->rank || !ir_broadcast(x, n, &rank, dim) || rank != x->rank) goto bad;
    for (int i = 0; i < rank; i++)
        if (dim[i] != x->dim[i]) goto bad;
    return 0;
bad:;
    char a[64], b[64];
    snprintf(err, errsize, "cannot reduce %s to %s", ir_shape_str(x, a, sizeof a),
             ir_shape_str(n, b, sizeof b));
    return -1;
}

/* expand: the output shape is given; the input must broadcast to it. */
static int shape_expand(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    int rank, dim[IR_MAX_RANK];
    if (x->rank > n->rank || !ir_broadcast(x, n, &rank, dim) || rank != n->rank) goto bad;
    for (int i = 0; i < rank; i++)
        if (dim[i] != n->dim[i]) goto bad;
    return 0;
bad:;
    char a[64], b[64];
    snprintf(err, errsize, "cannot expand %s to %s", ir_shape_str(x, a, sizeof a),
             ir_shape_str(n, b, sizeof b));
    return -1;
}

static void emit_sum_to(emitter *e, const ir_node *n)
{
    /* a mean divides by the count of elements summed into each output */
    const ir_node *x = ir_get(e->g, n->in[0]);
    long count = e_numel(e, x) / e_numel(e, n);
    e_reduce_to(e, n, n->in[0], n->i[0] ? e_lit(e, 1.0 / (double)count) : NULL);
}

static void vjp_sum_to(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_shaped(c->g, OP_EXPAND, g, ir_get(c->g, n->in[0]), n->i[0]));
}

static void emit_expand(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    if (n->i[0]) {
        long count = e_numel(e, n) / e_numel(e, x);
        e_elementwise(e, n, e_fmt(e, "A * %s", e_lit(e, 1.0 / (double)count)));
    } else {
        e_elementwise(e, n, "A");
    }
}

static void vjp_expand(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_shaped(c->g, OP_SUM_TO, g, ir_get(c->g, n->in[0]), n->i[0]));
}

const op_def op_SUM_TO = {
    .math = "y = sum of x over the reduced axes (mean: / count)",
    .shape = shape_sum_to,
    .emit = emit_sum_to,
    .vjp = vjp_sum_to,
    .flops = flops_in0,
};
const op_def op_EXPAND = {
    .math = "y = x repeated along the broadcast axes (mean: / count)",
    .shape = shape_expand,
    .emit = emit_expand,
    .vjp = vjp_expand,
    .flops = flops_elem,
};

/* ---- softmax family, over the last axis ---- */

static void rows_cols(emitter *e, const ir_node *n, long *rows, long *cols)
{
    *cols = n->rank ? e_dim(e, n, n->rank - 1) : 1;
    *rows = e_numel(e, n) / *cols;
}

static void emit_softmax(emitter *e, const ir_node *n)
{
    long R, C;
    rows_cols(e, n, &R, &C);
    const char *x = e_ref(e, n->in[0]), *y = e_ref(e, n->id);
    wr_line(e->w, "for (long r = 0; r < %ld; r++) {", R);
    wr_line(e->w, "const real *xr = %s + r * %ld;", x, C);
    wr_line(e->w, "real *yr = %s + r * %ld;", y, C);
    wr_line(e->w, "real m = xr[0];");
    wr_line(e->w, "for (long c = 1; c < %ld; c++) m = xr[c] > m ? xr[c] : m;", C);
    wr_line(e->w, "real s = 0;");
    if (n->op == OP_SOFTMAX) {
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", C);
        wr_line(e->w, "yr[c] = exp(xr[c] - m);");
        wr_line(e->w, "s += yr[c];");
        wr_line(e->w, "}");
        wr_line(e->w, "for (long c = 0; c < %ld; c++) yr[c] /= s;", C);
    } else {
        wr_line(e->w, "for (long c = 0; c < %ld; c++) s += exp(xr[c] - m);", C);
        wr_line(e->w, "const real lse = m + log(s);");
        wr_line(e->w, "for (long c = 0; c < %ld; c++) yr[c] = xr[c] - lse;", C);
    }
    wr_line(e->w, "}");
}

static void vjp_softmax(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_binary(c->g, op_grad(n), n->id, g));
}

/* softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - e^y * sum(dy) */
static void emit_softmax_grad(emitter *e, const ir_node *n)
{
    long R, C;
    rows_cols(e, n, &R, &C);
    const char *y = e_ref(e, n->in[0]), *g = e_ref(e, n->in[1]), *dx = e_ref(e, n->id);
    wr_line(e->w, "for (long r = 0; r < %ld; r++) {", R);
    wr_line(e->w, "const real *yr = %s + r * %ld, *gr = %s + r * %ld;", y, C, g, C);
    wr_line(e->w, "real *dr = %s + r * %ld;", dx, C);
    wr_line(e->w, "real s = 0;");
    if (n->op == OP_SOFTMAX_GRAD) {
        wr_line(e->w, "for (long c = 0; c < %ld; c++) s += gr[c] * yr[c];", C);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) dr[c] = yr[c] * (gr[c] - s);", C);
    } else {
        wr_line(e->w, "for (long c = 0; c < %ld; c++) s += gr[c];", C);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) dr[c] = gr[c] - exp(yr[c]) * s;", C);
    }
    wr_line(e->w, "}");
}

/* ---- their second derivatives (Hessian-vector products, gen/hvp.c),
 * through the elementwise ops and row sums. With adjoint u:
 *   softmax_backward(y, g) = y (g - s), s = sum(g y):
 *     du/dg: softmax_backward(y, u);  dy: u (g - s) - g sum(u y)
 *   log_softmax_backward(y, g) = g - e^y sum(g):
 *     dg: u - sum(u e^y);  dy: -u e^y sum(g) ---- */

/* the sum over the last axis, kept as an axis of 1 */
static int row_sum(ir_graph *g, int x)
{
    const ir_node *n = ir_get(g, x);
    ir_args a = {.nin = 1, .in = {x}, .rank = n->rank};
    memcpy(a.dim, n->dim, sizeof a.dim);
    if (a.rank) a.dim[a.rank - 1] = 1;
    return ir_must(g, OP_SUM_TO, &a);
}

static void vjp2_softmax_grad(ad_ctx *c, const ir_node *n, int u)
{
    ir_graph *G = c->g;
    int y = n->in[0], dy = n->in[1];
    int dy_needs = dy < c->nforward && c->needs[dy], y_needs = y < c->nforward && c->needs[y];
    if (n->op == OP_SOFTMAX_GRAD) {
        if (dy_needs) ad_accum(c, dy, ir_binary(G, OP_SOFTMAX_GRAD, y, u));
        if (!y_needs) return;
        int s = row_sum(G, ir_binary(G, OP_MUL, dy, y));
        int t = row_sum(G, ir_binary(G, OP_MUL, u, y));
        int a = ir_binary(G, OP_MUL, u, ir_binary(G, OP_SUB, dy, s));
        ad_accum(c, y, ir_binary(G, OP_SUB, a, ir_binary(G, OP_MUL, dy, t)));
        return;
    }
    int p = ir_unary(G, OP_EXP, y, 0);
    if (dy_needs) ad_accum(c, dy, ir_binary(G, OP_SUB, u, row_sum(G, ir_binary(G, OP_MUL, u, p))));
    if (y_needs) {
        int up = ir_binary(G, OP_MUL, u, p);
        ad_accum(c, y, ir_unary(G, OP_NEG, ir_binary(G, OP_MUL, up, row_sum(G, dy)), 0));
    }
}

const op_def op_SOFTMAX = {
    .math = "y = e^(x - max) / sum(e^(x - max)) over the last axis",
    .shape = shape_same,
    .emit = emit_softmax,
    .vjp = vjp_softmax,
    .flops = flops_elem4,
    .grad_op = OP_SOFTMAX_GRAD,
};
const op_def op_LOG_SOFTMAX = {
    .math = "y = x - max - ln(sum(e^(x - max))) over the last axis",
    .shape = shape_same,
    .emit = emit_softmax,
    .vjp = vjp_softmax,
    .flops = flops_elem4,
    .grad_op = OP_LOG_SOFTMAX_GRAD,
};
const op_def op_SOFTMAX_GRAD = {
    .math = "dx = y * (dy - sum(dy * y))",
    .shape = shape_same,
    .emit = emit_softmax_grad,
    .flops = flops_elem4,
    .vjp = vjp2_softmax_grad,
};
const op_def op_LOG_SOFTMAX_GRAD = {
    .math = "dx = dy - e^y * sum(dy)",
    .shape = shape_same,
    .emit = emit_softmax_grad,
    .flops = flops_elem4,
    .vjp = vjp2_softmax_grad,
};
