/* ops/loss.c — the fused losses whose stable forms need more than the
 * elementwise ops (PyTorch's formulas, reduction 'mean'; cross_entropy and
 * nll also 'sum': i[0] = 1), and their backward ops. mse, l1, huber,
 * smooth_l1 and kl_div are expressions built by the spec. */
#include <stdio.h>
#include <string.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"

/* cross_entropy(z [rows x C], y [rows] class indices) -> scalar; nll alike */
static int shape_ce(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *z = ir_get(g, n->in[0]), *y = ir_get(g, n->in[1]);
    char a[64], b[64];
    if (z->rank != 2 || y->rank != 1 || y->dim[0] != z->dim[0]) {
        snprintf(err, errsize,
                 "%s needs %s [rows x classes] and class indices [rows], got %s and %s",
                 ir_op_name(n->op), n->op == OP_NLL ? "log-probabilities" : "logits",
                 ir_shape_str(z, a, sizeof a), ir_shape_str(y, b, sizeof b));
        return -1;
    }
    n->rank = 0;
    return 0;
}

/* prediction and target of the same element count -> scalar */
static int shape_pairwise(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]), *y = ir_get(g, n->in[1]);
    if (ir_numel(x, 7) != ir_numel(y, 7) || ir_is_batched(x) != ir_is_batched(y)) {
        char a[64], b[64];
        snprintf(err, errsize, "%s: prediction %s and target %s have different sizes",
                 ir_op_name(n->op), ir_shape_str(x, a, sizeof a), ir_shape_str(y, b, sizeof b));
        return -1;
    }
    n->rank = 0;
    return 0;
}

/* The backward ops: same shape as the prediction, inputs (x, y, dloss). */
static int shape_like_first(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    (void)err, (void)errsize;
    const ir_node *x = ir_get(g, n->in[0]);
    n->rank = x->rank;
    for (int i = 0; i < x->rank; i++) n->dim[i] = x->dim[i];
    return 0;
}

/* A target computed from parameters (soft labels: bce(p, sigmoid(t))) gets
 * its gradient too, as torch gives it: dloss / n times d(term)/dy, built from
 * elementwise ops. Class indices (cross_entropy) have none. */
static void vjp_target(ad_ctx *c, const ir_node *n, int g)
{
    ir_graph *G = c->g;
    int x = n->in[0], y = n->in[1];
    ir_op op = n->op;
    if (op == OP_CROSS_ENTROPY || op == OP_NLL || y >= c->nforward || !c->needs[y]) return;
    /* the prediction viewed in the target's shape (same element count) */
    if (!ir_same_shape(ir_get(G, x), ir_get(G, y)))
        x = ir_shaped(G, OP_RESHAPE, x, ir_get(G, y), 0);
    int d;
    if (op == OP_BCE) {
        /* -(max(ln x, -100) - max(ln(1 - x), -100)); max(v, -100) = relu(v + 100) - 100 */
        int lx = ir_unary(G, OP_LOG, x, 0);
        int l1x = ir_unary(G, OP_LOG, ir_binary(G, OP_SUB, ir_const(G, 1), x), 0);
        int c100 = ir_const(G, 100);
        lx = ir_unary(G, OP_RELU, ir_binary(G, OP_ADD, lx, c100), 0);
        l1x = ir_unary(G, OP_RELU, ir_binary(G, OP_ADD, l1x, c100), 0);
        d = ir_binary(G, OP_SUB, l1x, lx);
    } else if (op == OP_BCE_LOGITS) { /* -x */
        d = ir_unary(G, OP_NEG, x, 0);
    } else { /* logistic: -x σ(-y x) */
        int s = ir_unary(G, OP_SIGMOID, ir_unary(G, OP_NEG, ir_binary(G, OP_MUL, y, x), 0), 0);
        d = ir_unary(G, OP_NEG, ir_binary(G, OP_MUL, x, s), 0);
    }
    int scale = ir_shaped(G, OP_EXPAND, g, ir_get(G, y), 1); /* dloss / n, per element */
    ad_accum(c, y, ir_binary(G, OP_MUL, scale, d));
}

static void vjp_loss(ad_ctx *c, const ir_node *n, int g)
{
    ir_op back = op_grad(n);
    ir_args a = {.nin = 3, .in = {n->in[0], n->in[1], g}};
    memcpy(a.f, n->f, sizeof a.f);
    memcpy(a.i, n->i, sizeof a.i);
    ad_accum(c, n->in[0], ir_must(c->g, back, &a));
    vjp_target(c, n, g);
}

/* The loss's divisor: rows for 'mean' (i[0] = 0), 1 for 'sum' */
static long ce_divisor(const emitter *e, const ir_node *n)
{
    return n->i[0] ? 1 : e_dim(e, ir_get(e->g, n->in[0]), 0);
}

/* Label smoothing ε = f[0] as torch 1.13: (1 - ε) nll + ε / C * (-Σ_c lp[c]),
 * each part reduced on its own, lp = z - m - ln s the log-softmax. */
static void emit_ce(emitter *e, const ir_node *n)
{
    const ir_node *z = ir_get(e->g, n->in[0]);
    long R = e_dim(e, z, 0), C = e_dim(e, z, 1);
    const char *zs = e_ref(e, n->in[0]), *ys = e_ref(e, n->in[1]);
    double eps = n->f[0];
    wr_line(e->w, "double total = 0%s;", eps > 0 ? ", smooth = 0" : "");
    wr_line(e->w, "for (long r = 0; r < %ld; r++) {", R);
    wr_line(e->w, "const real *zr = %s + r * %ld;", zs, C);
    wr_line(e->w, "real m = zr[0];");
    wr_line(e->w, "for (long c = 1; c < %ld; c++) m = zr[c] > m ? zr[c] : m;", C);
    wr_line(e->w, "real s = 0;");
    wr_line(e->w, "for (long c = 0; c < %ld; c++) s += exp(zr[c] - m);", C);
    wr_line(e->w, "total += m + log(s) - zr[(long)%s[r]];", ys);
    if (eps > 0) {
        wr_line(e->w, "const real lse = m + log(s);");
        wr_line(e->w, "real lps = 0;");
        wr_line(e->w, "for (long c = 0; c < %ld; c++) lps += zr[c] - lse;", C);
        wr_line(e->w, "smooth -= lps;");
    }
    wr_line(e->w, "}");
    long d = ce_divisor(e, n);
    if (eps > 0)
        wr_line(e->w, "%s[0] = (real)(%.17g * (total / %ld) + %.17g * (smooth / %ld));",
                e_ref(e, n->id), 1 - eps, d, eps / (double)C, d);
    else
        wr_line(e->w, "%s[0] = (real)(total / %ld);", e_ref(e, n->id), d);
}

/* dz = dloss / rows * (softmax(z) - (1 - ε) onehot(y) - ε / C) */
static void emit_ce_grad(emitter *e, const ir_node *n)
{
    const ir_node *z = ir_get(e->g, n->in[0]);
    long R = e_dim(e, z, 0), C = e_dim(e, z, 1);
    const char *zs = e_ref(e, n->in[0]), *ys = e_ref(e, n->in[1]), *dz = e_ref(e, n->id);
    double eps = n->f[0];
    wr_line(e->w, "const real scale = %s / %ld;", e_at(e, n->in[2], "0"), ce_divisor(e, n));
    wr_line(e->w, "for (long r = 0; r < %ld; r++) {", R);
    wr_line(e->w, "const real *zr = %s + r * %ld;", zs, C);
    wr_line(e->w, "real *dr = %s + r * %ld;", dz, C);
    wr_line(e->w, "real m = zr[0];");
    wr_line(e->w, "for (long c = 1; c < %ld; c++) m = zr[c] > m ? zr[c] : m;", C);
    wr_line(e->w, "real s = 0;");
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", C);
    wr_line(e->w, "dr[c] = exp(zr[c] - m);");
    wr_line(e->w, "s += dr[c];");
    wr_line(e->w, "}");
    if (eps > 0) {
        wr_line(e->w, "for (long c = 0; c < %ld; c++) dr[c] = (dr[c] / s - %s) * scale;", C,
                e_lit(e, eps / (double)C));
        wr_line(e->w, "dr[(long)%s[r]] -= %s * scale;", ys, e_lit(e, 1 - eps));
    } else {
        wr_line(e->w, "for (long c = 0; c < %ld; c++) dr[c] = dr[c] / s * scale;", C);
        wr_line(e->w, "dr[(long)%s[r]] -= scale;", ys);
    }
    wr_line(e->w, "}");
}

/* nll(lp [rows x C], y [rows]) = mean_r -lp[r, y[r]] */
static void emit_nll(emitter *e, const ir_node *n)
{
    const ir_node *z = ir_get(e->g, n->in[0]);
    long R = e_dim(e, z, 0), C = e_dim(e, z, 1);
    wr_line(e->w, "double total = 0;");
    wr_line(e->w, "for (long r = 0; r < %ld; r++) total -= %s[r * %ld + (long)%s[r]];", R,
            e_ref(e, n->in[0]), C, e_ref(e, n->in[1]));
    wr_line(e->w, "%s[0] = (real)(total / %ld);", e_ref(e, n->id), ce_divisor(e, n));
}

/* dlp = -dloss / rows at each row's class, 0 elsewhere */
static void emit_nll_grad(emitter *e, const ir_node *n)
{
    const ir_node *z = ir_get(e->g, n->in[0]);
    long R = e_dim(e, z, 0), C = e_dim(e, z, 1);
    const char *dz = e_ref(e, n->id);
    wr_line(e->w, "const real scale = %s / %ld;", e_at(e, n->in[2], "0"), ce_divisor(e, n));
    wr_line(e->w, "for (long i = 0; i < %ld; i++) %s[i] = 0;", R * C, dz);
    wr_line(e->w, "for (long r = 0; r < %ld; r++) %s[r * %ld + (long)%s[r]] = -scale;", R, dz, C,
            e_ref(e, n->in[1]));
}

/* A mean over elements of a per-element term (x = A, y = B). */
static void emit_mean_of(emitter *e, const ir_node *n, const char *term)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    long N = e_numel(e, x);
    wr_line(e->w, "double total = 0;");
    wr_line(e->w, "for (long i = 0; i < %ld; i++) {", N);
    wr_line(e->w, "const real xi = %s[i], yi = %s[i];", e_ref(e, n->in[0]), e_ref(e, n->in[1]));
    wr_line(e->w, "total += %s;", term);
    wr_line(e->w, "}");
    wr_line(e->w, "%s[0] = (real)(total / %ld);", e_ref(e, n->id), N);
}

static void emit_grad_of(emitter *e, const ir_node *n, const char *term)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    long N = e_numel(e, x);
    wr_line(e->w, "const real scale = %s / %ld;", e_at(e, n->in[2], "0"), N);
    wr_line(e->w, "for (long i = 0; i < %ld; i++) {", N);
    wr_line(e->w, "const real xi = %s[i], yi = %s[i];", e_ref(e, n->in[0]), e_ref(e, n->in[1]));
    wr_line(e->w, "%s[i] = scale * (%s);", e_ref(e, n->id), term);
    wr_line(e->w, "}");
}

/* torch clamps each log at -100 so that p = 0 or 1 gives a finite loss. A
 * label of 0 or 1 needs one log: the other term is 0 times a finite value,
 * a signed zero that changes no bit of the sum (the log is most of a small
 * net's loss: xor's step spent 15% of its instructions in it); the clamps
 * are rt.h's inline fmax against a constant, the same values as fmax */
static void emit_bce(emitter *e, const ir_node *n)
{
    wr_line(e->w, "/* a 0/1 label: one log (the other term is a zero) */");
    emit_mean_of(e, n,
                 "yi == 1   ? -rt_fmax_const_d(log(xi), -100)\n"
                 "        : yi == 0 ? -rt_fmax_const_d(log(1 - xi), -100)\n"
                 "                  : -(yi * rt_fmax_const_d(log(xi), -100) + (1 - yi) * "
                 "rt_fmax_const_d(log(1 - xi), -100))");
}

static void emit_bce_grad(emitter *e, const ir_node *n)
{
    emit_grad_of(e, n, e_fmt(e, "(xi - yi) / rt_fmax_const((1 - xi) * xi, %s)", e_lit(e, 1e-12)));
}

/* 1.13's form: (1 - y) x + m + ln(e^-m + e^(-x-m)), m = max(-x, 0) */
static void emit_bce_logits(emitter *e, const ir_node *n)
{
    emit_mean_of(e, n,
                 "(1 - yi) * xi + (xi < 0 ? -xi : 0) + log(exp(-(xi < 0 ? -xi : 0)) + exp(-xi - "
                 "(xi < 0 ? -xi : 0)))");
}

static void emit_bce_logits_grad(emitter *e, const ir_node *n)
{
    emit_grad_of(e, n, "1 / (1 + exp(-xi)) - yi");
}

/* -ln σ(y z) = softplus(-y z), y in {-1, +1}, in the overflow-free form */
static void emit_logistic(emitter *e, const ir_node *n)
{
    emit_mean_of(e, n, "-yi * xi > 0 ? -yi * xi + log1p(exp(yi * xi)) : log1p(exp(-yi * xi))");
}

/* d/dz softplus(-y z) = -y σ(-y z) */
static void emit_logistic_grad(emitter *e, const ir_node *n)
{
    emit_grad_of(e, n, "-yi / (1 + exp(yi * xi))");
}

/* ---- the backward ops' own rules (Hessian-vector products, gen/hvp.c).
 * Each is dx = dloss · G(x, y), linear in dloss: dloss's adjoint is
 * sum(u · G(x, y) at dloss = 1). x's adjoint: cross_entropy's is the
 * softmax's Jacobian, dloss / rows · softmax_backward(softmax(z), u) per
 * row; nll's is 0 (linear in lp); the mean losses' are dloss / n · u ·
 * ∂²term/∂x², their row's d2expr (A = x, B = y, C = u dloss / n). A target
 * computed from parameters has no rule here: refused. */

/* dloss / rows per row of z (cross_entropy, nll; 'sum': dloss), [rows x 1] */
static int per_row(ad_ctx *c, const ir_node *n, int dl)
{
    const ir_node *z = ir_get(c->g, n->in[0]);
    ir_args a = {.nin = 1, .in = {dl}, .i = {!n->i[0]}, .rank = 2, .dim = {z->dim[0], 1}};
    return ir_must(c->g, OP_EXPAND, &a);
}

static void vjp2_loss_grad(ad_ctx *c, const ir_node *n, int u)
{
    ir_graph *G = c->g;
    int x = n->in[0], y = n->in[1], dl = n->in[2];
    if (y < c->nforward && c->needs[y]) {
        c->refused = "a target computed from parameters has no second-derivative rule";
        return;
    }
    if (dl < c->nforward && c->needs[dl]) {
        ir_args a = {.nin = 3, .in = {x, y, ir_const(G, 1)}};
        memcpy(a.f, n->f, sizeof a.f);
        memcpy(a.i, n->i, sizeof a.i);
        int unit = ir_must(G, n->op, &a);
        int prod = ir_binary(G, OP_MUL, u, unit);
        ad_accum(c, dl, ir_shaped(G, OP_SUM_TO, prod, ir_get(G, dl), 0));
    }
    if (x >= c->nforward || !c->needs[x] || n->op == OP_NLL_GRAD) return;
    if (n->op == OP_CROSS_ENTROPY_GRAD) {
        int p = ir_unary(G, OP_SOFTMAX, x, 0);
        int j = ir_binary(G, OP_SOFTMAX_GRAD, p, u);
        ad_accum(c, x, ir_binary(G, OP_MUL, j, per_row(c, n, dl)));
        return;
    }
    /* the target viewed in the prediction's shape (same element count) */
    if (!ir_same_shape(ir_get(G, x), ir_get(G, y)))
        y = ir_shaped(G, OP_RESHAPE, y, ir_get(G, x), 0);
    int w = ir_binary(G, OP_MUL, u, ir_shaped(G, OP_EXPAND, dl, ir_get(G, x), 1));
    ir_args a = {.nin = 3, .in = {x, y, w}, .i = {n->op}};
    ad_accum(c, x, ir_must(G, OP_SECOND_DERIV, &a));
}

const op_def op_CROSS_ENTROPY = {
    .math = "loss = mean_r((1 - ε) (ln sum_c e^z[r,c] - z[r, y[r]]) - ε / C sum_c "
            "log_softmax(z)[r, c])",
    .shape = shape_ce,
    .emit = emit_ce,
    .vjp = vjp_loss,
    .flops = flops_in0,
    .grad_op = OP_CROSS_ENTROPY_GRAD,
};
const op_def op_CROSS_ENTROPY_GRAD = {
    .math = "dz = dloss / rows * (softmax(z) - (1 - ε) onehot(y) - ε / C)",
    .shape = shape_like_first,
    .emit = emit_ce_grad,
    .flops = flops_in0,
    .vjp = vjp2_loss_grad,
};
const op_def op_BCE = {
    .math = "loss = mean(-(y ln p + (1 - y) ln(1 - p))), logs clamped at -100",
    .shape = shape_pairwise,
    .emit = emit_bce,
    .vjp = vjp_loss,
    .flops = flops_in0,
    .grad_op = OP_BCE_GRAD,
};
const op_def op_BCE_GRAD = {
    .math = "dp = dloss / n * (p - y) / max(p (1 - p), 1e-12)",
    .shape = shape_like_first,
    .emit = emit_bce_grad,
    .flops = flops_in0,
    .vjp = vjp2_loss_grad,
    .d2expr = "A * (1 - A) > (real)1e-12 ? C * (A * (1 - A) - (A - B) * (1 - 2 * A)) / (A * (1 - "
              "A) * A * (1 - A)) : C / (real)1e-12",
};
const op_def op_BCE_LOGITS = {
    .math = "loss = mean(max(x, 0) - x y + ln(1 + e^-|x|))",
    .shape = shape_pairwise,
    .emit = emit_bce_logits,
    .vjp = vjp_loss,
    .flops = flops_in0,
    .grad_op = OP_BCE_LOGITS_GRAD,
};
const op_def op_BCE_LOGITS_GRAD = {
    .math = "dx = dloss / n * (σ(x) - y)",
    .shape = shape_like_first,
    .emit = emit_bce_logits_grad,
    .flops = flops_in0,
    .vjp = vjp2_loss_grad,
    .d2expr = "C / (1 + exp(-A)) * (1 - 1 / (1 + exp(-A)))",
};
const op_def op_LOGISTIC = {
    .math = "loss = mean(-ln σ(y z)) = mean(softplus(-y z))",
    .shape = shape_pairwise,
    .emit = emit_logistic,
    .vjp = vjp_loss,
    .flops = flops_in0,
    .grad_op = OP_LOGISTIC_GRAD,
};
const op_def op_LOGISTIC_GRAD = {
    .math = "dz = dloss / n * (-y σ(-y z))",
    .shape = shape_like_first,
    .emit = emit_logistic_grad,
    .flops = flops_in0,
    .vjp = vjp2_loss_grad,
    .d2expr = "C * B * B / (1 + exp(B * A)) * (1 - 1 / (1 + exp(B * A)))",
};
const op_def op_NLL = {
    .math = "loss = mean_r(-lp[r, y[r]])",
    .shape = shape_ce,
    .emit = emit_nll,
    .vjp = vjp_loss,
    .flops = flops_in0,
    .grad_op = OP_NLL_GRAD,
};
const op_def op_NLL_GRAD = {
    .math = "dlp = -dloss / rows * onehot(y)",
    .shape = shape_like_first,
    .emit = emit_nll_grad,
    .flops = flops_in0,
    .vjp = vjp2_loss_grad,
};
