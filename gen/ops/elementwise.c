/* ops/elementwise.c — arithmetic with broadcasting, unary math, activations
 * and their backward helpers: every op that maps elements to elements. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"

/* The gradient reaching an input that was broadcast: sum it back to shape. */
static int unbroadcast(ad_ctx *c, int gnode, int x)
{
    ir_graph *g = c->g;
    if (ir_same_shape(ir_get(g, gnode), ir_get(g, x))) return gnode;
    return ir_shaped(g, OP_SUM_TO, gnode, ir_get(g, x), 0);
}

static int needs(ad_ctx *c, int x)
{
    return x < c->nforward && c->needs[x];
}

/* ---- binary arithmetic with numpy broadcasting ---- */

static void vjp_add(ad_ctx *c, const ir_node *n, int g)
{
    for (int k = 0; k < 2; k++)
        if (needs(c, n->in[k])) ad_accum(c, n->in[k], unbroadcast(c, g, n->in[k]));
}

static void vjp_sub(ad_ctx *c, const ir_node *n, int g)
{
    if (needs(c, n->in[0])) ad_accum(c, n->in[0], unbroadcast(c, g, n->in[0]));
    if (needs(c, n->in[1]))
        ad_accum(c, n->in[1], unbroadcast(c, ir_unary(c->g, OP_NEG, g, 0), n->in[1]));
}

static void vjp_mul(ad_ctx *c, const ir_node *n, int g)
{
    int a = n->in[0], b = n->in[1];
    if (needs(c, a)) ad_accum(c, a, unbroadcast(c, ir_binary(c->g, OP_MUL, g, b), a));
    if (needs(c, b)) ad_accum(c, b, unbroadcast(c, ir_binary(c->g, OP_MUL, g, a), b));
}

/* y = a / b: da = g / b, db = -g * y / b */
static void vjp_div(ad_ctx *c, const ir_node *n, int g)
{
    int a = n->in[0], b = n->in[1];
    if (needs(c, a)) ad_accum(c, a, unbroadcast(c, ir_binary(c->g, OP_DIV, g, b), a));
    if (needs(c, b)) {
        int gy = ir_binary(c->g, OP_MUL, g, n->id);
        int q = ir_binary(c->g, OP_DIV, gy, b);
        ad_accum(c, b, unbroadcast(c, ir_unary(c->g, OP_NEG, q, 0), b));
    }
}

const op_def op_ADD = {
    .math = "y = a + b",
    .cexpr = "A + B",
    .shape = shape_broadcast,
    .vjp = vjp_add,
    .flops = flops_elem,
    .flags = OPF_ADD,
};
const op_def op_SUB = {
    .math = "y = a - b",
    .cexpr = "A - B",
    .shape = shape_broadcast,
    .vjp = vjp_sub,
    .flops = flops_elem,
};
const op_def op_MUL = {
    .math = "y = a * b",
    .cexpr = "A * B",
    .shape = shape_broadcast,
    .vjp = vjp_mul,
    .flops = flops_elem,
    .flags = OPF_MUL,
};
const op_def op_DIV = {
    .math = "y = a / b",
    .cexpr = "A / B",
    .shape = shape_broadcast,
    .vjp = vjp_div,
    .flops = flops_elem,
};

/* ---- unary math ---- */

static void vjp_neg(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_unary(c->g, OP_NEG, g, 0));
}

/* y = x^p: dx = g * p * x^(p-1) */
static void vjp_pow(ad_ctx *c, const ir_node *n, int g)
{
    double p = n->f[0];
    int dydx;
    if (p == 1)
        dydx = ir_const(c->g, 1);
    else if (p == 2)
        dydx = ir_binary(c->g, OP_MUL, n->in[0], ir_const(c->g, 2));
    else
        dydx = ir_binary(c->g, OP_MUL, ir_unary(c->g, OP_POW, n->in[0], p - 1), ir_const(c->g, p));
    ad_accum(c, n->in[0], ir_binary(c->g, OP_MUL, g, dydx));
}

/* small integer and simple powers as products, the rest through pow() */
static const char *pow_expr(const ir_node *n)
{
    double p = n->f[0];
    if (p == 2) return "A * A";
    if (p == 1) return "A";
    if (p == 3) return "A * A * A";
    if (p == 0.5) return "sqrt(A)";
    if (p == -1) return "1 / A";
    return "pow(A, P)";
}

static void vjp_exp(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_binary(c->g, OP_MUL, g, n->id));
}

static void vjp_log(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_binary(c->g, OP_DIV, g, n->in[0]));
}

/* y = sqrt(x): dx = g * 0.5 / y */
static void vjp_sqrt(ad_ctx *c, const ir_node *n, int g)
{
    int half = ir_binary(c->g, OP_MUL, g, ir_const(c->g, 0.5));
    ad_accum(c, n->in[0], ir_binary(c->g, OP_DIV, half, n->id));
}

/* y = |x|: dx = g * sign(x), 0 at 0 as torch */
static void vjp_abs(ad_ctx *c, const ir_node *n, int g)
{
    int s = ir_unary(c->g, OP_SIGN, n->in[0], 0);
    ad_accum(c, n->in[0], ir_binary(c->g, OP_MUL, g, s));
}

static double sign_number(double x)
{
    return (x > 0) - (x < 0);
}

static void vjp_none(ad_ctx *c, const ir_node *n, int g)
{
    (void)c, (void)n, (void)g;
}

const op_def op_NEG = {
    .math = "y = -x",
    .cexpr = "-A",
    .shape = shape_same,
    .vjp = vjp_neg,
    .flops = flops_elem,
};
const op_def op_POW = {
    .math = "y = x^p",
    .cexpr = "pow(A, P)",
    .shape = shape_same,
    .expr = pow_expr,
    .vjp = vjp_pow,
    .flops = flops_elem,
};
const op_def op_EXP = {
    .math = "y = e^x",
    .cexpr = "exp(A)",
    .shape = shape_same,
    .vjp = vjp_exp,
    .flops = flops_elem,
    .dsl = {.name = "exp", .number = exp},
};
const op_def op_LOG = {
    .math = "y = ln x",
    .cexpr = "log(A)",
    .shape = shape_same,
    .vjp = vjp_log,
    .flops = flops_elem,
    .dsl = {.name = "log", .number = log},
};
const op_def op_SQRT = {
    .math = "y = sqrt(x)",
    .cexpr = "sqrt(A)",
    .shape = shape_same,
    .vjp = vjp_sqrt,
    .flops = flops_elem,
    .dsl = {.name = "sqrt", .number = sqrt},
};
const op_def op_ABS = {
    .math = "y = |x|",
    .cexpr = "fabs(A)",
    .shape = shape_same,
    .vjp = vjp_abs,
    .flops = flops_elem,
    .dsl = {.name = "abs", .number = fabs},
};
/* torch.sign: 0 at 0 and NaN; its gradient is 0 everywhere */
const op_def op_SIGN = {
    .math = "y = sign(x)",
    .cexpr = "(A > 0) - (A < 0)",
    .shape = shape_same,
    .vjp = vjp_none,
    .flops = flops_elem,
    .dsl = {.name = "sign", .number = sign_number},
};

/* ---- activations: forward, and backward helpers that take the saved value ---- */

static double sigmoid_number(double x)
{
    return 1 / (1 + exp(-x));
}

static int softplus_check(const double *f, char *msg, size_t size)
{
    if (f[0] != 0) return 0;
    snprintf(msg, size, "beta must not be 0");
    return -1;
}

static int hardtanh_check(const double *f, char *msg, size_t size)
{
    if (f[0] < f[1]) return 0;
    snprintf(msg, size, "min_val = %g must be below max_val = %g", f[0], f[1]);
    return -1;
}

static void vjp_relu(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_binary(c->g, OP_RELU_GRAD, n->id, g));
}

static void vjp_leaky_relu(ad_ctx *c, const ir_node *n, int g)
{
    ir_args a = {.nin = 2, .in = {n->in[0], g}, .f = {n->f[0]}};
    ad_accum(c, n->in[0], ir_must(c->g, OP_LEAKY_RELU_GRAD, &a));
}

static void vjp_sigmoid(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_binary(c->g, OP_SIGMOID_GRAD, n->id, g));
}

static void vjp_tanh(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], ir_binary(c->g, OP_TANH_GRAD, n->id, g));
}

/* The backward of an activation whose derivative is a function of its input
 * x (A) and the attributes (P, Q): its grad_op, fed (x, dy). */
static void vjp_of_input(ad_ctx *c, const ir_node *n, int g)
{
    ir_args a = {.nin = 2, .in = {n->in[0], g}, .f = {n->f[0], n->f[1]}};
    ad_accum(c, n->in[0], ir_must(c->g, op_grad(n), &a));
}

/* Activations as --layer-metrics sees them (op_def.act_bounds): bounded
 * ones say where they saturate. */
static int act_unbounded(const ir_node *n, double *lo, double *hi)
{
    (void)n, (void)lo, (void)hi;
    return 0;
}
static int act_tanh(const ir_node *n, double *lo, double *hi)
{
    (void)n;
    *lo = -1, *hi = 1;
    return 1;
}
static int act_sigmoid(const ir_node *n, double *lo, double *hi)
{
    (void)n;
    *lo = 0, *hi = 1;
    return 1;
}
static int act_hardtanh(const ir_node *n, double *lo, double *hi)
{
    *lo = n->f[0], *hi = n->f[1];
    return 1;
}

const op_def op_RELU = {
    .act_bounds = act_unbounded,
    .math = "y = max(x, 0)",
    .cexpr = "A > 0 ? A : 0",
    .shape = shape_same,
    .vjp = vjp_relu,
    .flops = flops_elem,
    .gemm_epi = GEMM_EPI_RELU,
    .dsl = {.name = "relu", .layer = "ReLU"},
};
const op_def op_LEAKY_RELU = {
    .act_bounds = act_unbounded,
    .math = "y = x > 0 ? x : slope * x",
    .cexpr = "A > 0 ? A : A * P",
    .shape = shape_same,
    .vjp = vjp_leaky_relu,
    .flops = flops_elem,
    .dsl = {.name = "leaky_relu", .opt = {{"negative_slope", 0.01}}},
};
const op_def op_SIGMOID = {
    .act_bounds = act_sigmoid,
    .math = "y = 1 / (1 + e^-x)",
    .cexpr = "rt_sigmoid(A)",
    .shape = shape_same,
    .vjp = vjp_sigmoid,
    .flops = flops_elem4,
    .array_fn = "rt_sigmoid_n",
    .dsl = {.name = "sigmoid", .layer = "Sigmoid", .number = sigmoid_number},
};
const op_def op_TANH = {
    .act_bounds = act_tanh,
    .math = "y = tanh(x)",
    .cexpr = "rt_tanh(A)",
    .shape = shape_same,
    .vjp = vjp_tanh,
    .flops = flops_elem4,
    .array_fn = "rt_tanh_n",
    .dsl = {.name = "tanh", .layer = "Tanh", .number = tanh},
};
/* beta = P, threshold = Q (torch's 1 and 20): beyond the threshold softplus
 * is x to float precision, and its derivative exactly 1 */
const op_def op_SOFTPLUS = {
    .act_bounds = act_unbounded,
    .math = "y = x beta > threshold ? x : ln(1 + e^(x beta)) / beta",
    .cexpr = "A * P > Q ? A : log1p(exp(A * P)) / P",
    .shape = shape_same,
    .vjp = vjp_of_input,
    .flops = flops_elem4,
    .grad_op = OP_SOFTPLUS_GRAD,
    .dsl = {.name = "softplus",
            .layer = "Softplus",
            .opt = {{"beta", 1}, {"threshold", 20}},
            .check = softplus_check},
};

/* ---- second derivatives of the backward helpers (Hessian-vector
 * products, gen/hvp.c). A helper is dx = dy f'(a) (or dy h(a - b) for the
 * loss terms): linear in dy, so dy's adjoint is the same helper of the
 * adjoint u; a's is u dy f''(a), the row's d2expr as a second_derivative
 * node (b's the negation of it). ---- */

static int second_deriv(ad_ctx *c, const ir_node *n, int nin, const int *in)
{
    ir_args a = {.nin = nin, .i = {n->op}};
    memcpy(a.in, in, sizeof(int) * (size_t)nin);
    memcpy(a.f, n->f, sizeof a.f);
    return ir_must(c->g, OP_SECOND_DERIV, &a);
}

/* dx = G(a, dy): in = (a, dy) */
static void vjp2_of_helper(ad_ctx *c, const ir_node *n, int u)
{
    int x = n->in[0], dy = n->in[1];
    if (needs(c, dy)) {
        ir_args a = {.nin = 2, .in = {x, u}};
        memcpy(a.f, n->f, sizeof a.f);
        ad_accum(c, dy, ir_must(c->g, n->op, &a));
    }
    if (needs(c, x) && strcmp(op_get(n->op)->d2expr, "0")) {
        int w = ir_binary(c->g, OP_MUL, u, dy);
        ad_accum(c, x, second_deriv(c, n, 2, (int[]){x, w}));
    }
}

/* dx = G(a, b, dy) = dy h(a - b): in = (a, b, dy) */
static void vjp2_of_pair(ad_ctx *c, const ir_node *n, int u)
{
    int x = n->in[0], t = n->in[1], dy = n->in[2];
    if (needs(c, dy)) {
        ir_args a = {.nin = 3, .in = {x, t, u}};
        memcpy(a.f, n->f, sizeof a.f);
        ad_accum(c, dy, ir_must(c->g, n->op, &a));
    }
    if (!needs(c, x) && !needs(c, t)) return;
    int w = ir_binary(c->g, OP_MUL, u, dy);
    int d = second_deriv(c, n, 3, (int[]){x, t, w});
    if (needs(c, x)) ad_accum(c, x, d);
    if (needs(c, t)) ad_accum(c, t, ir_unary(c->g, OP_NEG, d, 0));
}

/* the cexpr of a second_derivative node: its helper's d2expr */
static const char *second_deriv_expr(const ir_node *n)
{
    return op_get((ir_op)n->i[0])->d2expr;
}

/* names the helper it differentiates */
static const char *second_deriv_describe(struct emitter *e, const ir_node *n)
{
    return e_fmt(e, "second derivative of %s: %s", ir_op_name((ir_op)n->i[0]),
                 op_get((ir_op)n->i[0])->d2expr);
}

const op_def op_SECOND_DERIV = {
    .math = "w * f''(x): the backward helper's second derivative (gen/hvp.c)",
    .cexpr = "0",
    .expr = second_deriv_expr,
    .describe = second_deriv_describe,
    .shape = shape_same,
    .flops = flops_elem4,
};
/* a leaf: v's slice of one parameter, read from the flat vector */
const op_def op_HVP_VECTOR = {
    .math = "the vector of a Hessian-vector product",
    .shape = shape_given,
    .flops = flops_none,
};

const op_def op_RELU_GRAD = {
    .math = "dx = y > 0 ? dy : 0",
    .cexpr = "A > 0 ? B : 0",
    .shape = shape_same,
    .flops = flops_elem,
    .vjp = vjp2_of_helper,
    .gemm_epi = GEMM_EPI_MASK,
    .d2expr = "0",
};
const op_def op_LEAKY_RELU_GRAD = {
    .math = "dx = x > 0 ? dy : slope * dy",
    .cexpr = "A > 0 ? B : B * P",
    .shape = shape_same,
    .flops = flops_elem,
    .vjp = vjp2_of_helper,
    .d2expr = "0",
};
const op_def op_SIGMOID_GRAD = {
    .math = "dx = dy * y * (1 - y)",
    .cexpr = "B * (1 - A) * A",
    .shape = shape_same,
    .flops = flops_elem,
    .vjp = vjp2_of_helper,
    .d2expr = "B * (1 - 2 * A)",
};
const op_def op_TANH_GRAD = {
    .math = "dx = dy * (1 - y^2)",
    .cexpr = "B * (1 - A * A)",
    .shape = shape_same,
    .flops = flops_elem,
    .vjp = vjp2_of_helper,
    .d2expr = "-2 * A * B",
};

/* PyTorch 1.13's CPU formulas, operation for operation: ELU with
 * exp(x) - 1 (not expm1), the exact GELU through erf, the tanh GELU with
 * its constants. Constants are cast to the element type as torch's
 * scalar_t(...). At the kinks the gradient is torch's: ELU takes the
 * x <= 0 side at 0 (alpha), hardtanh passes nothing at x == min or max. */
const op_def op_ELU = {
    .act_bounds = act_unbounded,
    .math = "y = x <= 0 ? alpha (e^x - 1) : x",
    .cexpr = "A <= 0 ? (exp(A) - 1) * P : A",
    .shape = shape_same,
    .vjp = vjp_of_input,
    .flops = flops_elem4,
    .grad_op = OP_ELU_GRAD,
    .dsl = {.name = "elu", .layer = "ELU", .opt = {{"alpha", 1}}},
};
const op_def op_ELU_GRAD = {
    .math = "dx = x <= 0 ? dy alpha e^x : dy",
    .cexpr = "A <= 0 ? B * P * exp(A) : B",
    .shape = shape_same,
    .flops = flops_elem4,
    .vjp = vjp2_of_helper,
    .d2expr = "A <= 0 ? B * P * exp(A) : 0",
};
const op_def op_GELU = {
    .act_bounds = act_unbounded,
    .math = "y = x Φ(x) = x / 2 (1 + erf(x / √2))",
    .cexpr = "A * (real)0.5 * (1 + erf(A * (real)0.70710678118654752440))",
    .shape = shape_same,
    .vjp = vjp_of_input,
    .flops = flops_elem4,
    .grad_op = OP_GELU_GRAD,
};
const op_def op_GELU_GRAD = {
    .math = "dx = dy (Φ(x) + x φ(x)), φ(x) = e^(-x²/2) / √(2π)",
    .cexpr = "B * ((real)0.5 * (1 + erf(A * (real)0.70710678118654752440)) + "
             "A * ((real)0.39894228040143267794 * exp(A * A * (real)-0.5)))",
    .shape = shape_same,
    .flops = flops_elem4,
    .vjp = vjp2_of_helper,
    .d2expr = "B * (real)0.39894228040143267794 * exp(A * A * (real)-0.5) * (2 - A * A)",
};
const op_def op_GELU_TANH = {
    .act_bounds = act_unbounded,
    .math = "y = x / 2 (1 + tanh(√(2/π) (x + 0.044715 x³)))",
    .cexpr = "(real)0.5 * A * (1 + tanh((real)0.79788456080286535588 * (A + (real)0.044715 * (A * "
             "A * A))))",
    .shape = shape_same,
    .vjp = vjp_of_input,
    .flops = flops_elem4,
    .grad_op = OP_GELU_TANH_GRAD,
};
/* t = tanh(k (x + 0.044715 x³)), k = √(2/π) */
const op_def op_GELU_TANH_GRAD = {
    .math = "dx = dy ((1 + t) / 2 + x / 2 (1 - t²) k (1 + 3 0.044715 x²))",
    .cexpr =
        "B * ((real)0.5 * (1 + tanh((real)0.79788456080286535588 * (A + (real)0.044715 * (A * A * "
        "A)))) "
        "+ (real)0.5 * A * (1 - tanh((real)0.79788456080286535588 * (A + (real)0.044715 * (A * A * "
        "A))) "
        "* tanh((real)0.79788456080286535588 * (A + (real)0.044715 * (A * A * A)))) "
        "* ((real)0.79788456080286535588 * (1 + 3 * (real)0.044715 * (A * A))))",
    .shape = shape_same,
    .flops = flops_elem4,
    .vjp = vjp2_of_helper,
    .d2expr = "B * (1 - tanh((real)0.79788456080286535588 * (A + (real)0.044715 * (A * A * A))) * "
              "tanh((real)0.79788456080286535588 * (A + (real)0.044715 * (A * A * A)))) * "
              "(real)0.79788456080286535588 * ((1 + 3 * (real)0.044715 * (A * A)) * (1 - A * "
              "tanh((real)0.79788456080286535588 * (A + (real)0.044715 * (A * A * A))) * "
              "(real)0.79788456080286535588 * (1 + 3 * (real)0.044715 * (A * A))) + 3 * "
              "(real)0.044715 * (A * A))",
};
const op_def op_SOFTPLUS_GRAD = {
    .math = "dx = x beta > threshold ? dy : dy e^(x beta) / (e^(x beta) + 1)",
    .cexpr = "A * P > Q ? B : B * exp(A * P) / (exp(A * P) + 1)",
    .shape = shape_same,
    .flops = flops_elem4,
    .vjp = vjp2_of_helper,
    .d2expr = "A * P > Q ? 0 : B * P * exp(A * P) / ((exp(A * P) + 1) * (exp(A * P) + 1))",
};
/* min_val = P, max_val = Q */
const op_def op_HARDTANH = {
    .act_bounds = act_hardtanh,
    .math = "y = min(max(x, min_val), max_val)",
    .cexpr = "A < P ? P : A > Q ? Q : A",
    .shape = shape_same,
    .vjp = vjp_of_input,
    .flops = flops_elem,
    .grad_op = OP_HARDTANH_GRAD,
    .dsl = {.name = "hardtanh",
            .layer = "Hardtanh",
            .opt = {{"min_val", -1}, {"max_val", 1}},
            .check = hardtanh_check},
};
const op_def op_HARDTANH_GRAD = {
    .math = "dx = min_val < x < max_val ? dy : 0",
    .cexpr = "A <= P || A >= Q ? 0 : B",
    .shape = shape_same,
    .flops = flops_elem,
    .vjp = vjp2_of_helper,
    .d2expr = "0",
};

/* ---- loss terms: huber, smooth_l1 and kl_div are these, summed ----
 * Each is torch's per-element term of a prediction x (A) and target y (B)
 * of one shape (huber, smooth_l1), or of the target t (t ln t, as torch's
 * xlogy(t, t)); the spec sums or averages them. Their backward ops are
 * torch's. Like torch, the target's gradient of huber and smooth_l1 is the
 * same rule with x and y swapped, not the negated prediction's: the two
 * differ where the rule is not odd (smooth_l1 with beta = 0 at x == y: -1
 * for both). */
static void vjp_pair(ad_ctx *c, const ir_node *n, int g)
{
    for (int k = 0; k < 2; k++) {
        if (!needs(c, n->in[k])) continue;
        ir_args a = {.nin = 3, .in = {n->in[k], n->in[1 - k], g}, .f = {n->f[0]}};
        ad_accum(c, n->in[k], ir_must(c->g, op_grad(n), &a));
    }
}

const op_def op_HUBER = {
    .math = "y = |x - t| < delta ? (x - t)² / 2 : delta (|x - t| - delta / 2)",
    .cexpr = "fabs(A - B) < P ? (real)0.5 * (A - B) * (A - B) : P * (fabs(A - B) - (real)0.5 * P)",
    .shape = shape_same,
    .vjp = vjp_pair,
    .flops = flops_elem4,
    .grad_op = OP_HUBER_GRAD,
};
const op_def op_HUBER_GRAD = {
    .math = "dx = dy clamp(x - t, -delta, delta)",
    .cexpr = "A - B <= -P ? -P * C : A - B >= P ? P * C : (A - B) * C",
    .shape = shape_same,
    .flops = flops_elem4,
    .vjp = vjp2_of_pair,
    .d2expr = "A - B <= -P || A - B >= P ? 0 : C",
};
/* beta = 0 is l1 (the first branch is never taken) */
const op_def op_SMOOTH_L1 = {
    .math = "y = |x - t| < beta ? (x - t)² / (2 beta) : |x - t| - beta / 2",
    .cexpr = "fabs(A - B) < P ? (real)0.5 * (A - B) * (A - B) / P : fabs(A - B) - (real)0.5 * P",
    .shape = shape_same,
    .vjp = vjp_pair,
    .flops = flops_elem4,
    .grad_op = OP_SMOOTH_L1_GRAD,
};
const op_def op_SMOOTH_L1_GRAD = {
    .math = "dx = x - t <= -beta ? -dy : x - t >= beta ? dy : dy (x - t) / beta",
    .cexpr = "A - B <= -P ? -C : A - B >= P ? C : C * (A - B) / P",
    .shape = shape_same,
    .flops = flops_elem4,
    .vjp = vjp2_of_pair,
    .d2expr = "A - B <= -P || A - B >= P ? 0 : C / P",
};
const op_def op_XLOGX = {
    .math = "y = t == 0 ? 0 : t ln t",
    .cexpr = "A == 0 ? 0 : A * log(A)",
    .shape = shape_same,
    .vjp = vjp_of_input,
    .flops = flops_elem4,
    .grad_op = OP_XLOGX_GRAD,
};
/* torch's xlogy(t, t) backward: (t != 0 ? ln t : 0) + t / t, not finite at t = 0 */
const op_def op_XLOGX_GRAD = {
    .math = "dt = dy ((t != 0 ? ln t : 0) + t / t)",
    .cexpr = "B * ((A != 0 ? log(A) : 0) + A / A)",
    .shape = shape_same,
    .flops = flops_elem4,
    .vjp = vjp2_of_helper,
    .d2expr = "B / A",
};

static void vjp_copy(ad_ctx *c, const ir_node *n, int g)
{
    ad_accum(c, n->in[0], g);
}

const op_def op_COPY = {
    .math = "y = x",
    .cexpr = "A",
    .shape = shape_same,
    .vjp = vjp_copy,
    .flops = flops_none,
};
