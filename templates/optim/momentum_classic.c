/* ---- update: classical momentum ({{where}}) ----
 * The textbook form, lr={{lr}}, gamma={{gamma}}:
 *   v <- gamma * v + lr * g      (v starts at 0: the first step is lr * g)
 *   w <- w - v
 * This is torch.optim.SGD(lr, momentum=gamma, dampening=0) with lr folded
 * into the velocity: v = lr * b. They are equal for a constant lr and
 * differ when lr changes over time (v keeps the past steps' lr, torch
 * multiplies the whole buffer b by the current lr); the float rounding
 * differs too (v is rounded after the lr is applied).
 * State: v, the velocity. No weight decay. */
static const real gamma_ = {{gamma}}; /* "gamma" is a libm function */

/* one range of the flat buffers: w, g and the state v at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict w, const real *restrict grad,
                                          real *restrict state, long n, double lr, double momentum,
                                          real weight_decay, long t)
{
    (void)momentum; /* none to cycle: a schedule's cycle_momentum is refused */
    const real lr_r = (real)lr; /* the element type's lr, as torch's kernels get it */
    (void)weight_decay, (void)t; /* no weight_decay option: always 0; v starts at 0 */
    real *restrict v = state;
    for (long i = 0; i < n; i++) {
        v[i] = fma(grad[i], lr_r, v[i] * gamma_);
        w[i] -= v[i];
    }
}

void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
    (void)state;
{{ranges}}
}
