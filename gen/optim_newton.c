/* optim_newton.c — what Newton's method (optimizer = newton { lr, damping })
 * needs beyond the option table of optim.c: its size limit, the check of
 * lr, and the Hessian-vector products it builds H from (train.hvp: every op
 * must have a second-derivative rule, gen/hvp.c). The step is
 * templates/optim/newton.c, through the closure (optim_linesearch.c). */
#include <stdio.h>

#include "optim.h"

int newton_resolve(ir_graph *g, char *msg, size_t size)
{
    const ir_choice *c = &g->opt.c;
    const opt_def *d = opt_find("newton");
    double lr = c->value[opt_index(d, "lr")][0];
    const double n = (double)g->n_params;
    if (!(lr > 0)) {
        snprintf(msg, size, "newton: lr must be above 0, not %g", lr);
        return -1;
    }
    if (g->n_params > NEWTON_MAX) {
        snprintf(msg, size,
                 "newton: this model has %ld parameters; Newton's method builds the whole "
                 "Hessian every step (%ld Hessian-vector products, a %ld x %ld matrix of %.0f MB "
                 "in double) and factorises it in O(n^3) (n^3/3 = %.3g flops): it takes %d "
                 "parameters at most; use lbfgs or cg",
                 g->n_params, g->n_params, g->n_params, g->n_params, n * n * 8 / 1e6,
                 n * n * n / 3, NEWTON_MAX);
        return -1;
    }
    g->train.hvp = 1; /* H, column by column, from model_hvp */
    return closure_step_check(g, "newton", 0, msg, size);
}
