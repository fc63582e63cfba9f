/* ---- update: gradient descent with Armijo backtracking ({{where}}) ----
 * sgd(lr={{lr}}, line_search="armijo", c={{c}}, shrink={{shrink}}, max_shrinks={{max_shrinks}}):
 * one step on the batch (the full training set): t <- lr (the scheduled
 * lr), then t <- shrink * t until the sufficient-decrease test
 *   f(x - t g) <= f(x) - c t |g|^2
 * holds, each trial an evaluation of the batch's loss through the closure;
 * then x <- x - t g. After max_shrinks shrinks in vain the weights stay at
 * x and the step says it stalled (the trainer stops the run). No state:
 * |g|^2 and the test are in double. */
enum { MAX_SHRINKS = {{max_shrinks}} };
static const double armijo_c = {{c}}, armijo_shrink = {{shrink}};

/* the weights where the step starts, a trial's gradient */
static real x_start[MODEL_N_PARAMS], g_trial[MODEL_N_PARAMS];

model_step_info model_closure_step(real *param, real *grad, real *state, double lr, double loss,
                                   const model_closure *f)
{
    (void)state;
    const double g2 = dot(grad, grad);
    double t = lr;
    copy(x_start, param);
    for (int shrinks = 0;; shrinks++) {
        step_from(param, x_start, -t, grad);
        double trial = (double)f->eval(f->ctx, param, g_trial);
        /* a NaN trial fails the test: the step shrinks */
        if (trial <= loss - armijo_c * t * g2) return (model_step_info){shrinks + 2, t, 0, 0};
        if (shrinks == MAX_SHRINKS) break;
        t *= armijo_shrink;
    }
    copy(param, x_start);
    return (model_step_info){MAX_SHRINKS + 2, 0, 1, 0};
}
