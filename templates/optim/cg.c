/* ---- update: nonlinear conjugate gradient ({{where}}) ----
 * cg(beta={{beta}} (0: "polak_ribiere", 1: "fletcher_reeves"), lr={{lr}}, max_iter={{max_iter}},
 *    tolerance_grad={{tolerance_grad}}, tolerance_change={{tolerance_change}},
 *    restart={{restart}}, c2={{c2}}):
 * one step is up to max_iter iterations on the batch (the full training
 * set), each (Nocedal & Wright, Numerical Optimization, 5.2):
 *   d <- -g                        on the first iteration, every restart
 *                                  iterations, and when d would not descend (g.d >= 0)
 *   d <- -g + beta d               else, with the previous gradient g', either
 *        beta = max(0, g.(g - g') / g'.g')    Polak-Ribiere (PR+)
 *        beta = g.g / g'.g'                   Fletcher-Reeves
 *   x <- x + t d, t from the strong-Wolfe search (torch's, strong_wolfe.c:
 *        c1 = 1e-4, c2; first trial min(1, 1/|g|_1) lr on the very first
 *        iteration, lr after it)
 * and the tests of torch's L-BFGS: max|g| <= tolerance_grad, g.d >
 * -tolerance_change, max|t d| <= tolerance_change, |loss change| <
 * tolerance_change. State (checkpointed): d, the previous gradient, then as
 * doubles t, the previous loss, n_iter, func_evals and the iterations since
 * the last restart. Scalars are computed in double. */
enum { MAX_ITER = {{max_iter}}, RESTART = {{restart}}, FLETCHER_REEVES = {{beta}} };
static const double tolerance_grad = {{tolerance_grad}}, tolerance_change = {{tolerance_change}};
static const double wolfe_c2 = {{c2}};

typedef struct cg_scalars {
    double t, prev_loss, n_iter, func_evals, since_restart;
} cg_scalars;

/* d <- the next direction at gradient g (the previous one in prev_g) */
static void cg_direction(real *d, const real *g, const real *prev_g, cg_scalars *v)
{
    double beta = 0;
    if (v->n_iter > 1 && v->since_restart < RESTART) {
        double gg_prev = dot(prev_g, prev_g);
        if (FLETCHER_REEVES) {
            beta = dot(g, g) / gg_prev;
        } else {
            beta = (dot(g, g) - dot(g, prev_g)) / gg_prev;
            if (!(beta > 0)) beta = 0; /* PR+ */
        }
    }
    for (long i = 0; i < MODEL_N_PARAMS; i++) d[i] = fma((real)beta, d[i], -g[i]);
    if (beta == 0 || dot(g, d) >= 0) { /* a restart: steepest descent */
        for (long i = 0; i < MODEL_N_PARAMS; i++) d[i] = -g[i];
        v->since_restart = 0;
    }
}

model_step_info model_closure_step(real *param, real *grad, real *state, double lr, double loss,
                                   const model_closure *f)
{
    real *d = state, *prev_g = state + MODEL_N_PARAMS, *scalars = state + 2L * MODEL_N_PARAMS;
    cg_scalars v;
    memcpy(&v, scalars, sizeof v); /* all zero before the first step */
    int evals = 1;
    double taken = 0; /* the last step length taken */
    v.func_evals++;
    if (abs_max(grad, 1) <= tolerance_grad) goto out;
    for (int n_iter = 1; n_iter <= MAX_ITER; n_iter++) {
        v.n_iter++;
        cg_direction(d, grad, prev_g, &v);
        copy(prev_g, grad);
        double prev_loss = v.prev_loss = loss;
        if (v.n_iter == 1) {
            double g1 = 0;
            for (long i = 0; i < MODEL_N_PARAMS; i++) g1 += fabs((double)grad[i]);
            v.t = (1 / g1 < 1 ? 1 / g1 : 1) * lr;
        } else {
            v.t = lr;
        }
        double gtd = dot(grad, d);
        if (gtd > -tolerance_change) break;
        int ls_evals = 0;
        loss = strong_wolfe_search(f, param, d, &v.t, loss, grad, gtd, wolfe_c2, &ls_evals);
        step_from(param, param, v.t, d);
        taken = v.t;
        v.since_restart++;
        evals += ls_evals;
        v.func_evals += ls_evals;
        if (n_iter == MAX_ITER || abs_max(grad, 1) <= tolerance_grad) break;
        if (abs_max(d, v.t) <= tolerance_change) break;
        if (fabs(loss - prev_loss) < tolerance_change) break;
    }
out:
    memcpy(scalars, &v, sizeof v);
    return (model_step_info){evals, taken, 0, 0};
}
