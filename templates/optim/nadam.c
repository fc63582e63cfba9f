/* ---- update: NAdam ({{where}}) ----
 * {{torch}}(lr={{lr}}, betas=({{beta1}}, {{beta2}}), eps={{eps}},
 *     weight_decay={{weight_decay}}, momentum_decay={{momentum_decay}}):
 *   g <- g + weight_decay * p
 *   mu_t = beta1 * (1 - 0.5 * 0.96^(t * momentum_decay)),  mu_next the same at t + 1
 *   P <- P * mu_t                              (P, the product of the mu, from 1)
 *   P' = P * mu_t * mu_next                    (PyTorch 1.13: mu_t counted twice;
 *                                               2.0 fixed it to P * mu_next)
 *   m <- beta1 * m + (1 - beta1) * g
 *   v <- beta2 * v + (1 - beta2) * g^2
 *   d = sqrt(v / (1 - beta2^t)) + eps
 *   p <- p - lr * (1 - mu_t) / (1 - P) * g / d - lr * mu_next / (1 - P') * m / d
 * This matches 1.13. 2.x's smaller 1 - P' makes its second term larger: with
 * the default betas its first step is 0.7% longer.
 * State: m, v (buffers, from 0) and the scalar P at state[MODEL_N_STATE - 1].
 * torch keeps P in a float32 tensor (torch.tensor(1.)) whatever the
 * parameters' dtype, so P and P' are rounded to float here too; the state
 * starts at 0, so P is taken as 1 on the first step. model_update advances P
 * once per step and leaves mu_t, mu_next, P and P' in the statics below;
 * each range computes its two step sizes from them and its own lr (a
 * parameter group may have another), in double in torch's order, rounded to
 * the element type. */
/* beta1: the step's, {{beta1}} or a schedule's (model_momentum) */
static const double beta2 = {{beta2}}, momentum_decay = {{momentum_decay}};
static const real eps = {{eps}};

/* this step's scalars, set by model_update before the ranges */
static double mu_t, mu_next, product, product_next; /* mu_t, mu_{t+1}, P, P' */

/* one range of the flat buffers: p, g and the state m, v at the same offset */
RT_UPDATE_CLONES static void update_range(real *restrict p, const real *restrict grad,
                                          real *restrict state, long n, double lr, double beta1,
                                          real weight_decay, long t)
{
    real *restrict m = state, *restrict v = state + MODEL_N_PARAMS;
    const real b1 = (real)beta1, b2 = (real)beta2, mix1 = (real)(1 - beta1),
               mix2 = (real)(1 - beta2);
    const real bc2 = (real)(1 - pow(beta2, (double)t));
    const real c_g = (real)(-(double)lr * (1 - mu_t) / (1 - product));
    const real c_m = (real)(-(double)lr * mu_next / (1 - product_next));
    for (long i = 0; i < n; i++) {
        real g = grad[i];
        if (weight_decay != 0) g = fma(p[i], weight_decay, g);
        m[i] = fma(g, mix1, m[i] * b1);
        v[i] = fma(mix2 * g, g, v[i] * b2);
        const real d = sqrt(v[i] / bc2) + eps;
        p[i] += c_g * g / d;
        p[i] += c_m * m[i] / d;
    }
}

/* momentum: this step's beta1 */
void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
{
    const double beta1 = momentum;
    real *P = state + MODEL_N_STATE - 1;
    mu_t = beta1 * (1 - 0.5 * pow(0.96, (double)t * momentum_decay));
    mu_next = beta1 * (1 - 0.5 * pow(0.96, (double)(t + 1) * momentum_decay));
    const float P_t = (t == 1 ? 1.0f : (float)*P) * (float)mu_t;
    *P = P_t;
    product = P_t;
    product_next = P_t * (float)mu_t * (float)mu_next; /* 1.13's double count, in float */
{{ranges}}
}
