/* {{header}}
 *
 * lbfgs_closure.c — the closure L-BFGS steps with (torch's step(closure)):
 * the loss and gradient of the same batch, with the same dropout masks,
 * re-evaluated at the weights the step tries (model_lbfgs_step, model.c). */
#include "trainer.h"

#if MODEL_LBFGS
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

int tr_lbfgs_step(buffers *b, int rows, const real *bx, const real *by, uint64_t noise, double lr,
                  double loss)
{
    batch_closure c = {rows, bx, by, b->out, b->arena, noise};
    model_closure f = {eval_batch, &c};
    return model_lbfgs_step(b->param, b->grad, b->state, lr, loss, &f);
}
#endif
