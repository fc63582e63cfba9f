/* ---- update: AdamW ({{where}}) ----
 * {{torch}}(lr={{lr}}, betas=({{beta1}}, {{beta2}}), eps={{eps}},
 *     weight_decay={{weight_decay}}, amsgrad={{amsgrad}}, maximize={{maximize}}):
 *   g <- -g                                    if maximize
 *   p <- p * (1 - lr * weight_decay)           (decoupled, with the current lr,
 *                                               before the moments)
 *   m <- beta1 * m + (1 - beta1) * g
 *   v <- beta2 * v + (1 - beta2) * g^2
 *   vmax <- max(vmax, v)  and v below is vmax  if amsgrad (the raw v)
 *   p <- p - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * State: m, v, vmax, from 0. The decay factor, bias corrections and step
 * size are computed in double once per call and rounded to the element
 * type; then torch's kernels: add_ with alpha is fma, addcmul is
 * fma((1 - beta2) * g, g, beta2 * v), addcdiv is p + (-step * m) / denom. */
static const double beta1 = {{beta1}}, beta2 = {{beta2}};
static const real eps = {{eps}};
static const int amsgrad = {{amsgrad}}, maximize = {{maximize}};

/* one range of the flat buffers: p, g and the state m, v, vmax at the same offset */
RT_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                   real *restrict state, long n, double lr, real weight_decay, long t)
{
    real *restrict m = state, *restrict v = state + MODEL_N_PARAMS,
                   *restrict vmax = state + 2 * MODEL_N_PARAMS;
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
        if (amsgrad) vv = vmax[i] = fmax(vmax[i], vv);
        p[i] += neg_step * m[i] / (sqrt(vv) / sqrt_bc2 + eps);
    }
}

void model_update(real *param, real *grad, real *state, double lr, long t)
{
{{ranges}}
}
