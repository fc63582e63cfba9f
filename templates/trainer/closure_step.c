/* {{header}}
 *
 * closure_step.c — the closure the optimizers that search along a direction
 * step with (L-BFGS as torch's step(closure), conjugate gradient, SGD with
 * Armijo backtracking): the loss and gradient of the same batch, with the
 * same dropout masks, re-evaluated at the weights the step tries
 * (model_closure_step, model.c), and its Hessian-vector products (Newton's
 * method); and what the step did, for the metrics.
 * Called only when MODEL_CLOSURE_STEP. */
#include "trainer.h"

/* the batch a closure evaluates */
typedef struct batch_closure {
    int rows;
    const real *x, *y;
    real *out, *arena;
    uint64_t noise;
} batch_closure;

static real eval_batch(void *ctx, const real *param, real *grad)
{
    const batch_closure *c = ctx;
    return model_train_step(c->rows, (real *)param, grad, c->x, c->y, c->out, c->arena, c->noise);
}

static real hvp_batch(void *ctx, const real *param, const real *vec, real *hv)
{
    const batch_closure *c = ctx;
    return model_hvp(c->rows, (real *)param, vec, hv, c->x, c->y, c->out, c->arena, c->noise);
}

/* Newton's solve, said once for each kind (and why), and a singular
 * H + damping I, which stops the run */
static int newton_said(train_run *r, int solve)
{
    static int said[4];
    if (solve == RT_SOLVE_CHOLESKY && !said[solve]++)
        fprintf(stderr,
                "newton: H + damping*I is positive definite at step %ld: Cholesky (dpotrf, "
                "dpotrs)\n",
                r->step);
    if (solve == RT_SOLVE_INDEFINITE && !said[solve]++)
        fprintf(stderr,
                "newton: H + damping*I is not positive definite at step %ld: symmetric "
                "indefinite solve (dsysv); the step may go uphill\n",
                r->step);
    if (solve != RT_SOLVE_SINGULAR && solve >= 0) return 0;
    if (r->bar_shown) printf("\n");
    if (solve == RT_SOLVE_SINGULAR)
        fprintf(stderr,
                "%s: newton stopped the run at step %ld: H + damping*I is singular (dsysv met "
                "an exactly zero pivot); the weights stay as they were before the step: give "
                "damping > 0\n",
                MODEL_NAME, r->step);
    else
        fprintf(stderr, "%s: newton stopped the run at step %ld\n", MODEL_NAME, r->step);
    r->stop = 1;
    return 1;
}

int tr_closure_step(train_run *r, int rows, const real *bx, const real *by, uint64_t noise,
                    double loss)
{
    buffers *b = &r->b;
    batch_closure c = {rows, bx, by, b->out, b->arena, noise};
    model_closure f = {eval_batch, &c, model_hvp ? hvp_batch : NULL};
    model_step_info s = model_closure_step(b->param, b->grad, b->state, r->lr, loss, &f);
    r->step_size = s.step_size;
    r->step_evals = s.evals;
    if (s.solve) return newton_said(r, s.solve);
    if (!s.stalled) return 0;
    /* the full batch's loss is the same at the next step: stop, where the
     * weights are the best the search found */
    if (r->bar_shown) printf("\n");
    fprintf(stderr,
            "%s: the Armijo line search stopped the run at step %ld: %d shrinks from lr %g "
            "found no step with enough decrease (the gradient is at the loss's rounding "
            "noise, or the loss is not smooth there); the weights stay as they were before "
            "the step\n",
            MODEL_NAME, r->step, s.evals - 2, r->lr);
    r->stop = 1;
    return 1;
}
