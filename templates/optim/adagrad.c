/* ---- update: Adagrad ({{where}}) ----
 * {{torch}}(lr={{lr}}, lr_decay={{lr_decay}}, weight_decay={{weight_decay}},
 *     initial_accumulator_value={{initial_accumulator_value}}, eps={{eps}},
 *     maximize={{maximize}}):
 *   g <- -g                                    if maximize
 *   g <- g + weight_decay * p
 *   clr = lr / (1 + (t - 1) * lr_decay)
 *   s <- s + g^2                               (s starts at initial_accumulator_value)
 *   p <- p - clr * g / (sqrt(s) + eps)         (eps outside the root)
 * State: s, the sum of squared gradients. The trainer zeroes the state, so s
 * is set to initial_accumulator_value on the first step (t == 1), where
 * torch fills it when the optimizer is built: the same value before the
 * first update. Rounding as torch's kernels: addcmul is fma(g, g, s),
 * addcdiv is p + (-clr * g) / (sqrt(s) + eps); clr is computed in double and
 * rounded to the element type. */
static const double lr_decay = {{lr_decay}};
static const real eps = {{eps}}, initial_accumulator_value = {{initial_accumulator_value}};
static const int maximize = {{maximize}};

/* one range of the flat buffers: p, g and the state s at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double momentum,
                                          real weight_decay, long t)
{
    (void)momentum; /* none to cycle: a schedule's cycle_momentum is refused */
    real *restrict s = state;
    const real neg_clr = (real)(-((double)lr / (1 + (double)(t - 1) * lr_decay)));
    for (long i = 0; i < n; i++) {
        real g = maximize ? -grad[i] : grad[i];
        if (weight_decay != 0) g = fma(p[i], weight_decay, g);
        if (t == 1) s[i] = initial_accumulator_value;
        s[i] = fma(g, g, s[i]);
        p[i] += neg_clr * g / (sqrt(s[i]) + eps);
    }
}

void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
{{ranges}}
}
