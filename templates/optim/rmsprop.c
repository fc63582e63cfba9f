/* ---- update: RMSprop ({{where}}) ----
 * {{torch}}(lr={{lr}}, alpha={{alpha}}, eps={{eps}}, weight_decay={{weight_decay}},
 *     momentum={{momentum}}, centered={{centered}}, maximize={{maximize}}):
 *   g <- -g                                    if maximize
 *   g <- g + weight_decay * p
 *   v <- alpha * v + (1 - alpha) * g^2
 *   g_avg <- alpha * g_avg + (1 - alpha) * g,  d = sqrt(v - g_avg^2) + eps   if centered
 *                                              d = sqrt(v) + eps             otherwise
 *   buf <- momentum * buf + g / d,  p <- p - lr * buf                       if momentum > 0
 *   p <- p - lr * g / d                                                     otherwise
 * State, all from 0, no bias correction: v (the mean square, torch's
 * square_avg); buf (momentum_buffer) when momentum > 0 or a schedule cycles
 * the momentum (cycle_momentum = {{cycle_momentum}}); g_avg (grad_avg) when centered.
 * momentum is the step's (model_momentum: {{momentum}}, or the schedule's).
 * Rounding as torch's kernels: addcmul is fma(c * x, y, z), add_ with alpha
 * is fma, addcdiv is z + (c * x) / y. */
static const double alpha = {{alpha}};
static const real eps = {{eps}};
static const int centered = {{centered}}, maximize = {{maximize}};
static const int has_buf = {{momentum}} > 0 || {{cycle_momentum}};

/* the loop over one range; decay (weight_decay != 0) and mom (momentum > 0)
 * are constants in each copy update_range inlines, so none branches */
RT_INLINE_LOOP void rmsprop_loop(real *restrict p, const real *restrict grad,
                                 real *restrict state, long n, real lr_r, real mu,
                                 real weight_decay, const int decay, const int mom)
{
    real *restrict v = state;
    real *restrict buf = has_buf ? state + MODEL_N_PARAMS : NULL;
    real *restrict g_avg = centered ? state + (1 + has_buf) * MODEL_N_PARAMS : NULL;
    const real keep = (real)alpha, mix = (real)(1 - alpha);
    for (long i = 0; i < n; i++) {
        real g = maximize ? -grad[i] : grad[i];
        if (decay) g = fma(p[i], weight_decay, g);
        v[i] = fma(mix * g, g, v[i] * keep);
        real d;
        if (centered) {
            g_avg[i] = fma(g, mix, g_avg[i] * keep);
            d = sqrt(fma(-g_avg[i], g_avg[i], v[i])) + eps;
        } else {
            d = sqrt(v[i]) + eps;
        }
        if (mom) {
            buf[i] = buf[i] * mu + g / d;
            p[i] = fma(buf[i], -lr_r, p[i]);
        } else {
            p[i] += -lr_r * g / d;
        }
    }
}

/* one range of the flat buffers: p, g and the state v (, buf) (, g_avg) at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double momentum,
                                          real weight_decay, long t)
{
    const real lr_r = (real)lr; /* the element type's lr, as torch's kernels get it */
    const real mu = (real)momentum;
    (void)t;
    if (weight_decay != 0 && momentum > 0)
        rmsprop_loop(p, grad, state, n, lr_r, mu, weight_decay, 1, 1);
    else if (weight_decay != 0)
        rmsprop_loop(p, grad, state, n, lr_r, mu, weight_decay, 1, 0);
    else if (momentum > 0)
        rmsprop_loop(p, grad, state, n, lr_r, mu, weight_decay, 0, 1);
    else
        rmsprop_loop(p, grad, state, n, lr_r, mu, weight_decay, 0, 0);
}

void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
{{ranges}}
}
