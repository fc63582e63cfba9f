/* optim_linesearch.c — the optimizers that step through the batch's
 * closure (L-BFGS, conjugate gradient, SGD with Armijo backtracking, and
 * Newton's method: optim_newton.c): what they share beyond the option
 * tables of optim.c (one parameter group of trained parameters, no
 * clipping, full batches), the checks of SGD's line search and of CG, and
 * the templates their steps are made of. The steps are
 * templates/optim/closure.c, strong_wolfe.c, lbfgs.c, cg.c, sgd_armijo.c
 * and newton.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "optim.h"

int opt_whole(double v)
{
    return v >= 1 && v == floor(v) && v < 1e9;
}

int opt_was_set(const ir_choice *c, const char *key)
{
    for (int k = 0; k < c->nset; k++)
        if (!strcmp(c->set_key[k], key)) return 1;
    return 0;
}

static double value(const ir_choice *c, const char *opt, const char *key)
{
    return c->value[opt_index(opt_find(opt), key)][0];
}

static int sgd_line_search(const ir_graph *g)
{
    return !strcmp(g->opt.c.name, "sgd") && value(&g->opt.c, "sgd", "line_search") != 0;
}

int opt_closure_step(const ir_graph *g)
{
    return !strcmp(g->opt.c.name, "lbfgs") || !strcmp(g->opt.c.name, "cg") ||
           !strcmp(g->opt.c.name, "newton") || sgd_line_search(g);
}

int opt_templates(const ir_graph *g, const char *names[3])
{
    const char *name = g->opt.c.name;
    if (sgd_line_search(g)) {
        names[0] = "closure", names[1] = "sgd_armijo";
        return 2;
    }
    if (!strcmp(name, "lbfgs") || !strcmp(name, "cg")) {
        names[0] = "closure", names[1] = "strong_wolfe", names[2] = name;
        return 3;
    }
    if (!strcmp(name, "newton")) {
        names[0] = "closure", names[1] = "newton";
        return 2;
    }
    names[0] = name;
    return 1;
}

int closure_step_check(ir_graph *g, const char *who, int full_batch, char *msg, size_t size)
{
    /* the step uses the gradients as the closure returns them */
    if (g->train.clip_grad_norm > 0 || g->train.clip_grad_value > 0) {
        snprintf(msg, size,
                 "%s: clip_grad_norm and clip_grad_value do not apply (the step re-evaluates "
                 "the gradient itself, as torch's closure does)",
                 who);
        return -1;
    }
    /* the search compares losses of one function: every row, each once */
    if (full_batch && (g->train.batch < g->n_train || g->train.sample_replace)) {
        snprintf(msg, size,
                 "%s needs full-batch training (train { batch = \"full\" }, without sampling = "
                 "\"replacement\"): the loss of %s changes from step to step, and the search "
                 "compares losses of one function",
                 who, g->train.sample_replace ? "rows drawn with replacement" : "a mini-batch");
        return -1;
    }
    /* one lr for all (torch.optim.LBFGS refuses more than one parameter
     * group); and the step walks the whole flat buffer (running statistics
     * included), so every value in it must be a trained parameter */
    for (int i = 0; i < g->n; i++) {
        const ir_node *p = ir_get(g, i);
        if (p->kind != K_PARAM) continue;
        if (!p->trainable || !isnan(p->group_lr) || !isnan(p->group_wd)) {
            snprintf(msg, size,
                     "%s: every parameter must be trainable with the optimizer's own lr "
                     "(one parameter group), but '%s' is %s",
                     who, p->label,
                     p->trainable ? "in a group of its own"
                     : p->buffer  ? "a running statistic (batch norm)"
                                  : "frozen");
            return -1;
        }
    }
    return 0;
}

/* sgd { line_search = "armijo", c, shrink, max_shrinks }: the search steps
 * along -g from the scheduled lr; what would change the direction or the
 * function it tests is refused */
int sgd_line_search_resolve(ir_graph *g, char *msg, size_t size)
{
    const ir_choice *c = &g->opt.c;
    static const char *const own[] = {"c", "shrink", "max_shrinks"};
    if (!sgd_line_search(g)) {
        for (int k = 0; k < 3; k++)
            if (opt_was_set(c, own[k])) {
                snprintf(msg, size, "sgd: %s applies only with line_search = \"armijo\"", own[k]);
                return -1;
            }
        return 0;
    }
    const char *who = "sgd with line_search = \"armijo\"";
    double lr = value(c, "sgd", "lr"), cc = value(c, "sgd", "c");
    double shrink = value(c, "sgd", "shrink"), max = value(c, "sgd", "max_shrinks");
    if (!(lr > 0)) {
        snprintf(msg, size, "%s: lr (the first trial step) must be above 0, not %g", who, lr);
        return -1;
    }
    if (!(cc > 0 && cc < 1) || !(shrink > 0 && shrink < 1)) {
        snprintf(msg, size, "%s: c and shrink must be above 0 and below 1, not c = %g, shrink = %g",
                 who, cc, shrink);
        return -1;
    }
    if (!opt_whole(max) || max > 1000) {
        snprintf(msg, size, "%s: max_shrinks must be a whole number from 1 to 1000, not %g", who,
                 max);
        return -1;
    }
    if (value(c, "sgd", "momentum") != 0 || value(c, "sgd", "nesterov") != 0) {
        snprintf(msg, size,
                 "%s: momentum and nesterov do not apply (Armijo's test f(x - t g) <= f(x) - c t "
                 "|g|^2 is for the step along -g; a momentum direction need not descend)",
                 who);
        return -1;
    }
    if (value(c, "sgd", "weight_decay") != 0 || value(c, "sgd", "maximize") != 0) {
        snprintf(msg, size,
                 "%s: weight_decay and maximize do not apply (the search tests the loss the "
                 "model computes: for weight decay wd, minimize(loss + wd / 2 * l2_penalty()))",
                 who);
        return -1;
    }
    return closure_step_check(g, who, 1, msg, size);
}

/* cg { beta, lr, max_iter, tolerance_grad, tolerance_change, restart, c2 } */
int cg_resolve(ir_graph *g, char *msg, size_t size)
{
    ir_choice *c = &g->opt.c;
    double lr = value(c, "cg", "lr"), max_iter = value(c, "cg", "max_iter");
    double *restart = &c->value[opt_index(opt_find("cg"), "restart")][0];
    double c2 = value(c, "cg", "c2");
    if (!(lr > 0)) {
        snprintf(msg, size, "cg: lr must be above 0, not %g", lr);
        return -1;
    }
    if (!opt_whole(max_iter)) {
        snprintf(msg, size, "cg: max_iter must be a whole number of at least 1, not %g", max_iter);
        return -1;
    }
    if (!opt_was_set(c, "restart"))
        *restart = (double)g->n_params; /* every n iterations */
    else if (!opt_whole(*restart)) {
        snprintf(msg, size, "cg: restart must be a whole number of at least 1, not %g", *restart);
        return -1;
    }
    if (!(c2 > 1e-4 && c2 < 1)) {
        snprintf(msg, size,
                 "cg: c2 must be above c1 = 1e-4 and below 1 (the strong Wolfe conditions), "
                 "not %g",
                 c2);
        return -1;
    }
    return closure_step_check(g, "cg", 1, msg, size);
}
