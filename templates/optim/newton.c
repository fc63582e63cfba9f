/* ---- update: Newton's method ({{where}}) ----
 * newton(lr={{lr}}, damping={{damping}}): one step on the batch, with g the
 * batch's gradient at x (evaluated before the step):
 *   H     the batch's Hessian at x, column j = H e_j: n Hessian-vector
 *         products (model_hvp, through the closure), in double, symmetrised
 *         ((H + H^T)/2; rt_hessian_build, as hessian --exact)
 *   d     from (H + damping I) d = g (rt_newton_solve, LAPACK): Cholesky
 *         (dpotrf, dpotrs) when H + damping I is positive definite, else the
 *         symmetric indefinite solve (dsysv), whose d need not descend
 *   x <- x - lr d
 * Cost per step: n products (each about two passes over the batch), n^3/3
 * flops for the factorisation, n^2 doubles. No state. A singular
 * H + damping I (an exactly zero pivot) leaves x as it was and the step
 * says so (the trainer stops the run). */
static const double newton_damping = {{damping}};

/* what a product of rt_hessian_build needs: H v at param, in double */
typedef struct newton_products {
    const model_closure *f;
    const real *param;
    real *hv;
} newton_products;

static void newton_product(void *ctx, const real *v, double *hv)
{
    const newton_products *c = ctx;
    c->f->hvp(c->f->ctx, c->param, v, c->hv);
    for (long i = 0; i < MODEL_N_PARAMS; i++) hv[i] = (double)c->hv[i];
}

model_step_info model_closure_step(real *param, real *grad, real *state, double lr, double loss,
                                   const model_closure *f)
{
    (void)state, (void)loss;
    const long n = MODEL_N_PARAMS;
    model_step_info info = {1 + (int)n, 0, 1, -1}; /* the gradient and n products */
    real *hv = malloc(sizeof(real) * (size_t)n);
    double *g = malloc(sizeof(double) * (size_t)n), *d = malloc(sizeof(double) * (size_t)n);
    double *h = NULL, asym, scale;
    rt_error err = {"newton: out of memory for the Hessian"};
    if (hv && g && d && f->hvp) {
        newton_products c = {f, param, hv};
        h = rt_hessian_build(n, newton_product, &c, &asym, &scale);
    }
    if (h) {
        for (long i = 0; i < n; i++) g[i] = (double)grad[i];
        info.solve = rt_newton_solve(h, n, newton_damping, g, d, &err);
    }
    if (info.solve == RT_SOLVE_CHOLESKY || info.solve == RT_SOLVE_INDEFINITE) {
        double dd = 0;
        for (long i = 0; i < n; i++) {
            param[i] = (real)((double)param[i] - lr * d[i]);
            dd += d[i] * d[i];
        }
        info.step_size = lr * sqrt(dd);
        info.stalled = 0;
    } else if (info.solve < 0) {
        fprintf(stderr, "%s\n", err.msg);
    }
    free(hv), free(g), free(d), free(h);
    return info;
}
