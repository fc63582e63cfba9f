/* ---- update: Adadelta ({{where}}) ----
 * {{torch}}(lr={{lr}}, rho={{rho}}, eps={{eps}}, weight_decay={{weight_decay}},
 *     maximize={{maximize}}):
 *   g <- -g                                    if maximize
 *   g <- g + weight_decay * p
 *   s <- rho * s + (1 - rho) * g^2
 *   delta = sqrt(u + eps) / sqrt(s + eps) * g  (the old u; eps inside both roots)
 *   u <- rho * u + (1 - rho) * delta^2         (delta before lr is applied)
 *   p <- p - lr * delta
 * State: s (mean square gradient), u (mean square update), both from 0.
 * Rounding as torch's kernels: addcmul is fma(c * x, x, z), add_ with alpha
 * is fma. */
static const double rho = {{rho}};
static const real eps = {{eps}};
static const int maximize = {{maximize}};

/* one range of the flat buffers: p, g and the state s, u at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double momentum,
                                          real weight_decay, long t)
{
    (void)momentum; /* none to cycle: a schedule's cycle_momentum is refused */
    const real lr_r = (real)lr; /* the element type's lr, as torch's kernels get it */
    (void)t;
    real *restrict s = state, *restrict u = state + MODEL_N_PARAMS;
    const real keep = (real)rho, mix = (real)(1 - rho);
    for (long i = 0; i < n; i++) {
        real g = maximize ? -grad[i] : grad[i];
        if (weight_decay != 0) g = fma(p[i], weight_decay, g);
        s[i] = fma(mix * g, g, s[i] * keep);
        const real delta = sqrt(u[i] + eps) / sqrt(s[i] + eps) * g;
        u[i] = fma(mix * delta, delta, u[i] * keep);
        p[i] = fma(delta, -lr_r, p[i]);
    }
}

void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
{{ranges}}
}
