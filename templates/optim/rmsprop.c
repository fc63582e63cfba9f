/* ---- update: RMSprop ({{where}}) ----
 * {{torch}}(lr={{lr}}, alpha={{alpha}}, eps={{eps}}, weight_decay={{weight_decay}},
 *     momentum={{momentum}}, centered={{centered}}, maximize={{maximize}}):
 *   g <- -g                                    if maximize
 *   g <- g + weight_decay * p
 *   s <- alpha * s + (1 - alpha) * g^2
 *   a <- alpha * a + (1 - alpha) * g,  d = sqrt(s - a^2) + eps     if centered
 *                                      d = sqrt(s) + eps           otherwise
 *   b <- momentum * b + g / d,  p <- p - lr * b                    if momentum > 0
 *   p <- p - lr * g / d                                            otherwise
 * State: s (mean square), a (mean gradient, centered), b (momentum buffer);
 * all start at 0, no bias correction. Rounding as torch's kernels: addcmul
 * is fma(c * x, y, z), add_ with alpha is fma, addcdiv is z + (c * x) / y. */
static const double alpha = {{alpha}};
static const real eps = {{eps}}, momentum = {{momentum}};
static const int centered = {{centered}}, maximize = {{maximize}};

/* one range of the flat buffers: p, g and the state s, a, b at the same offset */
RT_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                   real *restrict state, long n, double lr, real weight_decay, long t)
{
    const real lr_r = (real)lr; /* the element type's lr, as torch's kernels get it */
    (void)t;
    real *restrict s = state, *restrict a = state + MODEL_N_PARAMS,
                   *restrict b = state + 2 * MODEL_N_PARAMS;
    const real keep = (real)alpha, mix = (real)(1 - alpha);
    for (long i = 0; i < n; i++) {
        real g = maximize ? -grad[i] : grad[i];
        if (weight_decay != 0) g = fma(p[i], weight_decay, g);
        s[i] = fma(mix * g, g, s[i] * keep);
        real d;
        if (centered) {
            a[i] = fma(g, mix, a[i] * keep);
            d = sqrt(fma(-a[i], a[i], s[i])) + eps;
        } else {
            d = sqrt(s[i]) + eps;
        }
        if (momentum > 0) {
            b[i] = b[i] * momentum + g / d;
            p[i] = fma(b[i], -lr_r, p[i]);
        } else {
            p[i] += -lr_r * g / d;
        }
    }
}

void model_update(real *param, real *grad, real *state, double lr, long t)
{
{{ranges}}
}
