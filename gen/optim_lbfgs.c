/* optim_lbfgs.c — what L-BFGS (torch.optim.LBFGS 1.13) needs beyond the
 * option table of optim.c: max_eval's default, the checks of its counts,
 * and the size of its state's scalar part (what it shares with the other
 * closure steps: optim_linesearch.c). The step is templates/optim/lbfgs.c. */
#include <math.h>
#include <stdio.h>

#include "optim.h"

/* the number of doubles after the vectors: ro per pair, then t, prev_loss,
 * H_diag, n_iter, func_evals, pairs held, oldest pair (the template's
 * lbfgs_scalars) */
#define LBFGS_FIXED 7

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
    if (!opt_whole(max_iter)) {
        snprintf(msg, size, "lbfgs: max_iter must be a whole number of at least 1, not %g",
                 max_iter);
        return -1;
    }
    if (!opt_was_set(c, "max_eval"))
        *max_eval = floor(max_iter * 5 / 4); /* torch: max_iter * 5 // 4 */
    else if (!opt_whole(*max_eval)) {
        snprintf(msg, size, "lbfgs: max_eval must be a whole number of at least 1, not %g",
                 *max_eval);
        return -1;
    }
    if (!opt_whole(history) || history > 10000) {
        snprintf(msg, size, "lbfgs: history_size must be a whole number from 1 to 10000, not %g",
                 history);
        return -1;
    }
    return closure_step_check(g, "lbfgs", 0, msg, size);
}

int lbfgs_scalars(const ir_choice *c)
{
    const opt_def *d = opt_find("lbfgs");
    int history = (int)c->value[opt_index(d, "history_size")][0];
    /* each double takes two reals in float32, one in double: room for two */
    return 2 * (history + LBFGS_FIXED);
}
