/* optim_lbfgs.c — what L-BFGS (torch.optim.LBFGS 1.13) needs beyond the
 * option table of optim.c: max_eval's default, the checks of its counts,
 * and the size of its state's scalar part. The step is
 * templates/optim/lbfgs.c. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "optim.h"

/* the number of doubles after the vectors: ro per pair, then t, prev_loss,
 * H_diag, n_iter, func_evals, pairs held, oldest pair (the template's
 * lbfgs_scalars) */
#define LBFGS_FIXED 7

static int whole(double v)
{
    return v >= 1 && v == floor(v) && v < 1e9;
}

static int was_set(const ir_choice *c, const char *key)
{
    for (int k = 0; k < c->nset; k++)
        if (!strcmp(c->set_key[k], key)) return 1;
    return 0;
}

int lbfgs_resolve(ir_graph *g, char *msg, size_t size)
{
    ir_choice *c = &g->opt.c;
    const opt_def *d = opt_find("lbfgs");
    double lr = c->value[opt_index(d, "lr")][0];
    double max_iter = c->value[opt_index(d, "max_iter")][0];
    double *max_eval = &c->value[opt_index(d, "max_eval")][0];
    double history = c->value[opt_index(d, "history_size")][0];
    if (!(lr > 0)) {
        snprintf(msg, size, "lbfgs: lr must be above 0, not %g", lr);
        return -1;
    }
    if (!whole(max_iter)) {
        snprintf(msg, size, "lbfgs: max_iter must be a whole number of at least 1, not %g",
                 max_iter);
        return -1;
    }
    if (!was_set(c, "max_eval")) *max_eval = floor(max_iter * 5 / 4); /* torch: max_iter * 5 // 4 */
    else if (!whole(*max_eval)) {
        snprintf(msg, size, "lbfgs: max_eval must be a whole number of at least 1, not %g",
                 *max_eval);
        return -1;
    }
    if (!whole(history) || history > 10000) {
        snprintf(msg, size, "lbfgs: history_size must be a whole number from 1 to 10000, not %g",
                 history);
        return -1;
    }
    /* its step uses the gradients as the closure returns them */
    if (g->train.clip_grad_norm > 0 || g->train.clip_grad_value > 0) {
        snprintf(msg, size,
                 "lbfgs: clip_grad_norm and clip_grad_value do not apply (the step re-evaluates "
                 "the gradient itself, as torch's closure does)");
        return -1;
    }
    /* torch.optim.LBFGS refuses more than one parameter group: one lr for
     * all; and its step walks the whole flat buffer (running statistics
     * included), so every value in it must be a trained parameter */
    for (int i = 0; i < g->n; i++) {
        const ir_node *p = ir_get(g, i);
        if (p->kind != K_PARAM) continue;
        if (!p->trainable || !isnan(p->group_lr) || !isnan(p->group_wd)) {
            snprintf(msg, size,
                     "lbfgs: every parameter must be trainable with the optimizer's own lr "
                     "(torch.optim.LBFGS has one parameter group), but '%s' is %s",
                     p->label,
                     p->trainable ? "in a group of its own"
                     : p->buffer  ? "a running statistic (batch norm)"
                                  : "frozen");
            return -1;
        }
    }
    return 0;
}

int lbfgs_scalars(const ir_choice *c)
{
    const opt_def *d = opt_find("lbfgs");
    int history = (int)c->value[opt_index(d, "history_size")][0];
    /* each double takes two reals in float32, one in double: room for two */
    return 2 * (history + LBFGS_FIXED);
}
