/* ---- update: SGD ({{where}}) ----
 * {{torch}}(lr={{lr}}, momentum={{momentum}}, dampening={{dampening}},
 *     weight_decay={{weight_decay}}, nesterov={{nesterov}}, maximize={{maximize}}):
 *   g <- -g                                    if maximize
 *   g <- g + weight_decay * p
 *   b <- g                                     on the first step (momentum != 0),
 *   b <- momentum * b + (1 - dampening) * g    after it
 *   g <- g + momentum * b                      if nesterov, else g <- b
 *   p <- p - lr * g
 * State: b, the momentum buffer (when momentum != 0 or a schedule cycles the
 * momentum: cycle_momentum = {{cycle_momentum}}). momentum is the step's
 * (model_momentum: {{momentum}}, or the schedule's); a step whose momentum is
 * 0 leaves b alone, as torch's. The float rounding is torch's:
 * x.add_(y, alpha=a) is fma(y, a, x); scalars are rounded to the element
 * type first. */
static const double dampening = {{dampening}};
static const int nesterov = {{nesterov}}, maximize = {{maximize}};

/* one range of the flat buffers: p, g and the state b at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double momentum,
                                          real weight_decay, long t)
{
    const real lr_r = (real)lr; /* the element type's lr, as torch's kernels get it */
    const real mu = (real)momentum, keep = (real)(1 - dampening);
    real *restrict b = state;
    for (long i = 0; i < n; i++) {
        real g = maximize ? -grad[i] : grad[i];
        if (weight_decay != 0) g = fma(p[i], weight_decay, g);
        if (momentum != 0) {
            b[i] = t == 1 ? g : fma(g, keep, b[i] * mu);
            g = nesterov ? fma(b[i], mu, g) : b[i];
        }
        p[i] = fma(g, -lr_r, p[i]);
    }
}

void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
    (void)state;
{{ranges}}
}
