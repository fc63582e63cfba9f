/* ---- update: AdamW ({{where}}) ----
 * {{torch}}(lr={{lr}}, betas=({{beta1}}, {{beta2}}), eps={{eps}},
 *     weight_decay={{weight_decay}}, amsgrad={{amsgrad}}, maximize={{maximize}}):
 *   g <- -g                                    if maximize
 *   p <- p * (1 - lr * weight_decay)           (decoupled, with the current lr,
 *                                               before the moments)
 *   m <- beta1 * m + (1 - beta1) * g
 *   v <- beta2 * v + (1 - beta2) * g^2
 *   v_max <- max(v_max, v)  and v below is v_max   if amsgrad (the raw v)
 *   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * State: m, v, and v_max with amsgrad, from 0. beta1 is the step's
 * (model_momentum: {{beta1}}, or the schedule's when it cycles the momentum).
 * The decay factor, bias corrections and step size are computed in double
 * once per call and rounded to the element type; then torch's kernels:
 * add_ with alpha is fma, addcmul is fma((1 - beta2) * g, g, beta2 * v),
 * addcdiv is p + (-step * m) / denom. */
static const double beta2 = {{beta2}};
static const real eps = {{eps}};
static const int amsgrad = {{amsgrad}}, maximize = {{maximize}};

/* one range of the flat buffers: p, g and the state m, v (, v_max) at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double beta1,
                                          real weight_decay, long t)
{
    real *restrict m = state, *restrict v = state + MODEL_N_PARAMS;
    real *restrict v_max = amsgrad ? state + 2 * MODEL_N_PARAMS : NULL;
    const double bc1 = 1 - pow(beta1, (double)t), bc2 = 1 - pow(beta2, (double)t);
    const real b1 = (real)beta1, b2 = (real)beta2, mix1 = (real)(1 - beta1),
               mix2 = (real)(1 - beta2);
    const real decay = (real)(1 - (double)lr * (double)weight_decay);
    const real neg_step = (real)(-((double)lr / bc1)), sqrt_bc2 = (real)sqrt(bc2);
    for (long i = 0; i < n; i++) {
        const real g = maximize ? -grad[i] : grad[i];
        p[i] *= decay;
        m[i] = fma(g, mix1, m[i] * b1);
        v[i] = fma(mix2 * g, g, v[i] * b2);
        real vv = v[i];
        /* fmax(v_max, v) as a comparison, which vectorises (vmaxps); the same
         * value since v_max is never NaN (from 0, and fmax drops a NaN v) */
        if (amsgrad) vv = v_max[i] = vv > v_max[i] ? vv : v_max[i];
        p[i] += neg_step * m[i] / (sqrt(vv) / sqrt_bc2 + eps);
    }
}

/* momentum: this step's beta1 */
void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
{{ranges}}
}
