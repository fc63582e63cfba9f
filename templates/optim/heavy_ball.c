/* ---- update: heavy ball ({{where}}) ----
 * Polyak's heavy ball, lr={{lr}}, beta={{beta}}:
 *   x <- x - lr * g + beta * (x - x_prev),   x_prev <- x (the x before this step)
 * On the first step x_prev = x, so it is plain gradient descent.
 * For a constant lr this is torch.optim.SGD(lr, momentum=beta, dampening=0):
 * with d = x - x_prev = -lr * b_prev the step is -lr * (g + beta * b_prev) =
 * -lr * b. The two differ when lr changes over time (here the momentum term
 * keeps the earlier lr; torch scales the whole buffer by the current one),
 * and in float rounding: x - x_prev is a difference of rounded values, so
 * each step's rounding of x comes back through beta (torch's b does not see
 * p's rounding); over 50 float32 steps they drift apart by up to ~1e-5 of
 * the weights' size.
 * State: x_prev, the parameters before the last step. No weight decay. */
static const real beta = {{beta}};

/* one range of the flat buffers: p, g and the state x_prev at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double momentum,
                                          real weight_decay, long t)
{
    (void)momentum; /* none to cycle: a schedule's cycle_momentum is refused */
    const real lr_r = (real)lr; /* the element type's lr, as torch's kernels get it */
    (void)weight_decay; /* the heavy ball has no weight_decay option: always 0 */
    real *restrict x_prev = state;
    for (long i = 0; i < n; i++) {
        const real x = p[i];
        const real d = t == 1 ? 0 : x - x_prev[i];
        x_prev[i] = x;
        p[i] = x + fma(d, beta, -lr_r * grad[i]); /* one rounding at the scale of x */
    }
}

void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
    (void)state;
{{ranges}}
}
