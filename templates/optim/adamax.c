/* ---- update: Adamax ({{where}}) ----
 * {{torch}}(lr={{lr}}, betas=({{beta1}}, {{beta2}}), eps={{eps}},
 *     weight_decay={{weight_decay}}, maximize={{maximize}}):
 *   g <- -g                                    if maximize
 *   g <- g + weight_decay * p
 *   m <- beta1 * m + (1 - beta1) * g
 *   u <- max(beta2 * u, |g| + eps)             (eps inside the max)
 *   p <- p - lr / (1 - beta1^t) * m / u
 * State: m, u (the infinity norm), from 0. The step size is computed in
 * double once per call and rounded to the element type; then torch's
 * kernels: add_ with alpha is fma, addcdiv is p + (-step * m) / u. */
static const double beta2 = {{beta2}}; /* beta1: the step's, {{beta1}} or a schedule's (model_momentum) */
static const real eps = {{eps}};
static const int maximize = {{maximize}};

/* one range of the flat buffers: p, g and the state m, u at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double beta1,
                                          real weight_decay, long t)
{
    real *restrict m = state, *restrict u = state + MODEL_N_PARAMS;
    const real b1 = (real)beta1, b2 = (real)beta2, mix1 = (real)(1 - beta1);
    const real neg_step = (real)(-((double)lr / (1 - pow(beta1, (double)t))));
    for (long i = 0; i < n; i++) {
        real g = maximize ? -grad[i] : grad[i];
        if (weight_decay != 0) g = fma(p[i], weight_decay, g);
        m[i] = fma(g, mix1, m[i] * b1);
        /* fmax(u * beta2, |g| + eps) as a comparison, which vectorises
         * (vmaxps); the same value since u is never NaN (from 0, and fmax
         * drops a NaN |g| + eps) */
        const real decayed = u[i] * b2, fresh = fabs(g) + eps;
        u[i] = fresh > decayed ? fresh : decayed;
        p[i] += neg_step * m[i] / u[i];
    }
}

/* momentum: this step's beta1 */
void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
{{ranges}}
}
