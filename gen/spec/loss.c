/* spec/loss.c — the objective: the losses (cross_entropy, nll, bce,
 * bce_with_logits, logistic as fused ops; mse, l1, huber, smooth_l1 and
 * kl_div as the expressions themselves) with torch's options and
 * reductions, the weight penalties, minimize and output. The first loss
 * names the model's prediction and task. */
#include <math.h>
#include <string.h>

#include "spec_int.h"

static void set_task(lua_State *L, int pred, ir_task task)
{
    spec_state *s = spec_state_of(L);
    if (s->g->output < 0) {
        s->g->output = pred;
        s->g->task = task;
    }
}

/* A loss's options table (argument 3): its keys checked, or nothing. */
static void loss_options(lua_State *L, const char *fname, const char *const *keys)
{
    if (!lua_isnoneornil(L, 3) && !lua_istable(L, 3))
        spec_error(L, "bad argument #3 to '%s' (options table expected, got %s)", fname,
                   luaL_typename(L, 3));
    spec_check_keys(L, 3, fname, keys);
}

enum { RED_MEAN, RED_SUM, RED_BATCHMEAN };

/* reduction = "mean" | "sum" (| "batchmean" for kl_div), as torch */
static int reduction_of(lua_State *L, const char *fname, int dflt, int batchmean)
{
    const char *r = spec_opt_string(L, 3, "reduction", NULL);
    if (!r) return dflt;
    if (!strcmp(r, "mean")) return RED_MEAN;
    if (!strcmp(r, "sum")) return RED_SUM;
    if (batchmean && !strcmp(r, "batchmean")) return RED_BATCHMEAN;
    return spec_error(L, "%s: reduction must be \"mean\"%s or \"sum\", got '%s'", fname,
                      batchmean ? ", \"batchmean\"" : "", r);
}

/* f[0], i[0]: the loss's parameter and reduction (see gen/ops/loss.c) */
static int fused_loss_with(lua_State *L, ir_op op, const char *fname, ir_task task, double f0,
                           int i0)
{
    ir_args a = {.nin = 2,
                 .in = {spec_check_tensor(L, 1, fname), spec_check_tensor(L, 2, fname)},
                 .f = {f0},
                 .i = {i0}};
    int id = spec_make(L, op, &a, fname);
    set_task(L, a.in[0], task);
    ir_get(spec_state_of(L)->g, id)->phase = PH_LOSS;
    spec_push_tensor(L, id);
    return 1;
}

static int fused_loss(lua_State *L, ir_op op, const char *fname, ir_task task)
{
    return fused_loss_with(L, op, fname, task, 0, 0);
}

/* the loss on top of the stack reads [rows x C] against labels { classes = K } */
static int check_classes(lua_State *L, const char *fname, const char *what)
{
    spec_state *s = spec_state_of(L);
    spec_tensor *t = luaL_checkudata(L, -1, TENSOR_MT);
    const ir_node *z = ir_get(s->g, ir_get(s->g, t->id)->in[0]);
    if (s->g->classes && z->rank == 2 && z->dim[1] != s->g->classes)
        return spec_error(L, "%s: the %s have %d columns but labels have %d classes", fname, what,
                          z->dim[1], s->g->classes);
    return 1;
}

/* cross_entropy(z, y, { label_smoothing = 0, reduction = "mean" }) */
static int dsl_cross_entropy(lua_State *L)
{
    static const char *const keys[] = {"label_smoothing", "reduction", NULL};
    loss_options(L, "cross_entropy", keys);
    double eps = spec_opt_number(L, 3, "label_smoothing", 0);
    if (!(eps >= 0 && eps <= 1))
        return spec_error(L, "cross_entropy: label_smoothing = %g must be in [0, 1]", eps);
    int red = reduction_of(L, "cross_entropy", RED_MEAN, 0);
    fused_loss_with(L, OP_CROSS_ENTROPY, "cross_entropy", TASK_CLASSIFY, eps, red);
    return check_classes(L, "cross_entropy", "logits");
}

/* nll(lp, y, { reduction = "mean" }): lp log-probabilities [rows x C] */
static int dsl_nll(lua_State *L)
{
    static const char *const keys[] = {"reduction", NULL};
    loss_options(L, "nll", keys);
    int red = reduction_of(L, "nll", RED_MEAN, 0);
    fused_loss_with(L, OP_NLL, "nll", TASK_CLASSIFY, 0, red);
    return check_classes(L, "nll", "log-probabilities");
}

static int dsl_bce(lua_State *L)
{
    return fused_loss(L, OP_BCE, "bce", TASK_BINARY);
}
static int dsl_bce_with_logits(lua_State *L)
{
    return fused_loss(L, OP_BCE_LOGITS, "bce_with_logits", TASK_LOGIT);
}
static int dsl_logistic(lua_State *L)
{
    return fused_loss(L, OP_LOGISTIC, "logistic", TASK_SIGN);
}

/* Prediction and target of one shape; returns x and sets *y. */
static int same_shape_pair(lua_State *L, const char *fname, int *y)
{
    spec_state *s = spec_state_of(L);
    int x = spec_check_tensor(L, 1, fname);
    *y = spec_check_tensor(L, 2, fname);
    const ir_node *xn = ir_get(s->g, x), *yn = ir_get(s->g, *y);
    if (!ir_same_shape(xn, yn)) {
        char a[64], b[64];
        return spec_error(L, "%s: prediction %s and target %s differ in shape", fname,
                          ir_shape_str(xn, a, sizeof a), ir_shape_str(yn, b, sizeof b));
    }
    return x;
}

/* The loss from its per-element terms: their mean, sum, or sum over
 * everything but the first dimension averaged over it (batchmean). */
static int reduce_loss(lua_State *L, int term, int red, const char *fname)
{
    spec_state *s = spec_state_of(L);
    const ir_node *tn = ir_get(s->g, term);
    if (red == RED_BATCHMEAN && tn->rank >= 2) {
        ir_args rows = {.nin = 1, .in = {term}, .rank = tn->rank};
        rows.dim[0] = tn->dim[0];
        for (int i = 1; i < tn->rank; i++) rows.dim[i] = 1;
        term = spec_make(L, OP_SUM_TO, &rows, fname);
    }
    ir_args m = {.nin = 1, .in = {term}, .i = {red != RED_SUM}, .rank = 0};
    int id = spec_make(L, OP_SUM_TO, &m, fname);
    ir_get(s->g, id)->phase = PH_LOSS;
    return id;
}

/* mse, l1, huber and smooth_l1 are the expressions themselves: the mean (or
 * sum) of a term: (x - y)^2, |x - y|, huber(x, y; delta), ... */
static int pairwise(lua_State *L, ir_op op, const char *fname, double param, int red)
{
    int y, x = same_shape_pair(L, fname, &y);
    ir_args t = {.nin = 2, .in = {x, y}, .f = {param}};
    if (op == OP_POW || op == OP_ABS) { /* of x - y */
        ir_args d = {.nin = 2, .in = {x, y}};
        t = (ir_args){.nin = 1, .in = {spec_make(L, OP_SUB, &d, fname)}, .f = {param}};
    }
    int id = reduce_loss(L, spec_make(L, op, &t, fname), red, fname);
    set_task(L, x, TASK_REGRESS);
    spec_push_tensor(L, id);
    return 1;
}

static int dsl_mse(lua_State *L)
{
    static const char *const keys[] = {"reduction", NULL};
    loss_options(L, "mse", keys);
    return pairwise(L, OP_POW, "mse", 2, reduction_of(L, "mse", RED_MEAN, 0));
}
static int dsl_l1(lua_State *L)
{
    static const char *const keys[] = {"reduction", NULL};
    loss_options(L, "l1", keys);
    return pairwise(L, OP_ABS, "l1", 0, reduction_of(L, "l1", RED_MEAN, 0));
}

/* huber(x, y, { delta = 1 }) and smooth_l1(x, y, { beta = 1 }): torch's
 * HuberLoss and SmoothL1Loss; huber = beta * smooth_l1 for delta = beta */
static int dsl_huber(lua_State *L)
{
    static const char *const keys[] = {"delta", "reduction", NULL};
    loss_options(L, "huber", keys);
    double delta = spec_opt_number(L, 3, "delta", 1);
    if (!(delta > 0 && isfinite(delta)))
        return spec_error(L, "huber: delta = %g must be positive", delta);
    return pairwise(L, OP_HUBER, "huber", delta, reduction_of(L, "huber", RED_MEAN, 0));
}
static int dsl_smooth_l1(lua_State *L)
{
    static const char *const keys[] = {"beta", "reduction", NULL};
    loss_options(L, "smooth_l1", keys);
    double beta = spec_opt_number(L, 3, "beta", 1);
    if (!(beta >= 0 && isfinite(beta)))
        return spec_error(L, "smooth_l1: beta = %g must not be negative", beta);
    return pairwise(L, OP_SMOOTH_L1, "smooth_l1", beta, reduction_of(L, "smooth_l1", RED_MEAN, 0));
}

/* kl_div(input, target, { reduction = "batchmean", log_target = false }):
 * input log-probabilities, target probabilities (log-probabilities with
 * log_target), torch's terms t ln t - t x (0 at t = 0) or e^t (t - x).
 * The default is batchmean, the KL divergence itself; torch 1.13's default
 * 'mean' (also divided by the classes, with a warning) is reduction = "mean".
 * An input [rows x C] is read as classes (accuracy by argmax), else values. */
static int dsl_kl_div(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    static const char *const keys[] = {"reduction", "log_target", NULL};
    loss_options(L, "kl_div", keys);
    int red = reduction_of(L, "kl_div", RED_BATCHMEAN, 1);
    int log_target = spec_opt_bool(L, 3, "log_target", 0);
    int t, x = same_shape_pair(L, "kl_div", &t);
    ir_args tx = {.nin = 2, .in = {t, x}};
    int term;
    if (log_target) {
        ir_args e = {.nin = 1, .in = {t}};
        ir_args m = {
            .nin = 2,
            .in = {spec_make(L, OP_EXP, &e, "kl_div"), spec_make(L, OP_SUB, &tx, "kl_div")}};
        term = spec_make(L, OP_MUL, &m, "kl_div");
    } else {
        ir_args e = {.nin = 1, .in = {t}};
        ir_args d = {
            .nin = 2,
            .in = {spec_make(L, OP_XLOGX, &e, "kl_div"), spec_make(L, OP_MUL, &tx, "kl_div")}};
        term = spec_make(L, OP_SUB, &d, "kl_div");
    }
    int id = reduce_loss(L, term, red, "kl_div");
    const ir_node *xn = ir_get(s->g, x);
    set_task(L, x, xn->rank == 2 && xn->dim[1] >= 2 ? TASK_CLASSIFY : TASK_REGRESS);
    spec_push_tensor(L, id);
    return 1;
}

/* l2_penalty() = Σ w² and l1_penalty() = Σ |w| over the trainable weights
 * made so far (parameters of two or more dimensions: biases usually go
 * unregularised); l2_penalty { biases = true } includes the rest. Add them
 * to the objective: minimize(loss + 1e-4 * l2_penalty()). */
static int regulariser(lua_State *L, int l1, const char *fname)
{
    spec_state *s = spec_state_of(L);
    static const char *const keys[] = {"biases", NULL};
    spec_check_keys(L, 1, fname, keys);
    int biases = spec_opt_bool(L, 1, "biases", 0), total = -1, n = s->g->n;
    for (int i = 0; i < n; i++) {
        const ir_node *p = ir_get(s->g, i);
        if (p->kind != K_PARAM || !p->trainable || (p->rank < 2 && !biases)) continue;
        ir_args t = {.nin = 1, .in = {i}, .f = {2}};
        int term = l1 ? spec_make(L, OP_ABS, &t, fname) : spec_make(L, OP_POW, &t, fname);
        ir_args r = {.nin = 1, .in = {term}, .rank = 0};
        int sum = spec_make(L, OP_SUM_TO, &r, fname);
        if (total < 0) {
            total = sum;
        } else {
            ir_args a = {.nin = 2, .in = {total, sum}};
            total = spec_make(L, OP_ADD, &a, fname);
        }
    }
    if (total < 0) return spec_error(L, "%s: there are no weights to regularise yet", fname);
    /* through a switch train --overfit turns off (gen/ops/norm.c) */
    ir_args sw = {.nin = 1, .in = {total}};
    spec_push_tensor(L, spec_make(L, OP_PENALTY_SWITCH, &sw, fname));
    return 1;
}

static int dsl_l2_penalty(lua_State *L)
{
    return regulariser(L, 0, "l2_penalty");
}
static int dsl_l1_penalty(lua_State *L)
{
    return regulariser(L, 1, "l1_penalty");
}

static int dsl_minimize(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    int id = spec_check_tensor(L, 1, "minimize");
    const ir_node *n = ir_get(s->g, id);
    char sh[64];
    if (n->rank != 0 && (ir_is_batched(n) || ir_numel(n, 1) != 1))
        return spec_error(L, "minimize: the objective must be a scalar, got %s (take sum or mean)",
                          ir_shape_str(n, sh, sizeof sh));
    if (s->minimized) return spec_error(L, "minimize: the spec already has an objective");
    s->minimized = 1;
    s->g->loss = id;
    /* an objective over data should have its output recorded; a bare one is TASK_NONE */
    return 0;
}

/* output(t): the node predict writes (defaults to the loss's prediction) */
static int dsl_output(lua_State *L)
{
    spec_state *s = spec_state_of(L);
    s->g->output = spec_check_tensor(L, 1, "output");
    if (lua_isstring(L, 2)) {
        const char *t = lua_tostring(L, 2);
        s->g->task = !strcmp(t, "classify") ? TASK_CLASSIFY
                     : !strcmp(t, "values") ? TASK_REGRESS
                                            : TASK_NONE;
    }
    return 0;
}

const luaL_Reg spec_loss_lib[] = {
    {"nll", dsl_nll},
    {"kl_div", dsl_kl_div},
    {"huber", dsl_huber},
    {"smooth_l1", dsl_smooth_l1},
    {"mse", dsl_mse},
    {"l1", dsl_l1},
    {"bce", dsl_bce},
    {"bce_with_logits", dsl_bce_with_logits},
    {"cross_entropy", dsl_cross_entropy},
    {"logistic", dsl_logistic},
    {"minimize", dsl_minimize},
    {"l2_penalty", dsl_l2_penalty},
    {"l1_penalty", dsl_l1_penalty},
    {"output", dsl_output},
    {NULL, NULL},
};
