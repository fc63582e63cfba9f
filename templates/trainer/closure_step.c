/* {{header}}
 *
 * closure_step.c — the closure the optimizers that search along a direction
 * step with (L-BFGS as torch's step(closure), conjugate gradient, SGD with
 * Armijo backtracking): the loss and gradient of the same batch, with the
 * same dropout masks, re-evaluated at the weights the step tries
 * (model_closure_step, model.c); and what the step did, for the metrics.
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

int tr_closure_step(train_run *r, int rows, const real *bx, const real *by, uint64_t noise,
                    double loss)
{
    buffers *b = &r->b;
    batch_closure c = {rows, bx, by, b->out, b->arena, noise};
    model_closure f = {eval_batch, &c};
    model_step_info s = model_closure_step(b->param, b->grad, b->state, r->lr, loss, &f);
    r->step_size = s.step_size;
    r->step_evals = s.evals;
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
