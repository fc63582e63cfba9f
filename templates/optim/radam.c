/* ---- update: RAdam ({{where}}) ----
 * {{torch}}(lr={{lr}}, betas=({{beta1}}, {{beta2}}), eps={{eps}},
 *     weight_decay={{weight_decay}}):
 *   g <- g + weight_decay * p
 *   m <- beta1 * m + (1 - beta1) * g
 *   v <- beta2 * v + (1 - beta2) * g^2
 *   m_hat = m / (1 - beta1^t)
 *   rho_inf = 2 / (1 - beta2) - 1,  rho_t = rho_inf - 2 t beta2^t / (1 - beta2^t)
 *   if rho_t > 5 (from step 6 on with beta2 = 0.999):
 *     r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
 *     p <- p - lr * m_hat * r * sqrt(1 - beta2^t) / (sqrt(v) + eps)
 *   else
 *     p <- p - lr * m_hat
 * State: m, v, from 0. rho_t, r and the bias corrections are computed in
 * double once per call and rounded to the element type. The product is
 * rounded in torch's order: ((m_hat * lr) * adaptive) * r with adaptive =
 * (1 / (sqrt(v) + eps)) * sqrt(1 - beta2^t) (torch's scalar / tensor is a
 * reciprocal times the scalar), then p - that. */
static const double beta2 = {{beta2}}; /* beta1: the step's, {{beta1}} or a schedule's (model_momentum) */
static const real eps = {{eps}};

/* the loop over one range; decay (weight_decay != 0) and rectified are
 * constants in each copy update_range inlines, so none branches */
RT_INLINE_LOOP void radam_loop(real *restrict p, const real *restrict grad, real *restrict state,
                               long n, real lr_r, double beta1, real weight_decay, real bc1_r,
                               real sqrt_bc2, real rect, const int decay, const int rectified)
{
    real *restrict m = state, *restrict v = state + MODEL_N_PARAMS;
    const real b1 = (real)beta1, b2 = (real)beta2, mix1 = (real)(1 - beta1),
               mix2 = (real)(1 - beta2);
    for (long i = 0; i < n; i++) {
        real g = grad[i];
        if (decay) g = fma(p[i], weight_decay, g);
        m[i] = fma(g, mix1, m[i] * b1);
        v[i] = fma(mix2 * g, g, v[i] * b2);
        const real m_hat = m[i] / bc1_r;
        if (rectified) {
            const real adaptive = 1 / (sqrt(v[i]) + eps) * sqrt_bc2;
            p[i] -= m_hat * lr_r * adaptive * rect;
        } else {
            p[i] -= m_hat * lr_r;
        }
    }
}

/* one range of the flat buffers: p, g and the state m, v at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double beta1,
                                          real weight_decay, long t)
{
    const real lr_r = (real)lr; /* the element type's lr, as torch's kernels get it */
    const double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
    const double rho_inf = 2 / (1 - beta2) - 1;
    const double rho_t = rho_inf - 2.0 * (double)t * pow(beta2, (double)t) / bc2;
    const int rectified = rho_t > 5;
    const double r = rectified ? sqrt((rho_t - 4) * (rho_t - 2) * rho_inf /
                                      ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                               : 0;
    const real bc1_r = (real)bc1, sqrt_bc2 = (real)sqrt(bc2), rect = (real)r;
    if (weight_decay != 0 && rectified)
        radam_loop(p, grad, state, n, lr_r, beta1, weight_decay, bc1_r, sqrt_bc2, rect, 1, 1);
    else if (weight_decay != 0)
        radam_loop(p, grad, state, n, lr_r, beta1, weight_decay, bc1_r, sqrt_bc2, rect, 1, 0);
    else if (rectified)
        radam_loop(p, grad, state, n, lr_r, beta1, weight_decay, bc1_r, sqrt_bc2, rect, 0, 1);
    else
        radam_loop(p, grad, state, n, lr_r, beta1, weight_decay, bc1_r, sqrt_bc2, rect, 0, 0);
}

/* momentum: this step's beta1 */
void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
{{ranges}}
}
