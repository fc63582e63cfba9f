/* ---- the strong-Wolfe line search ({{where}}) ----
 * torch.optim.LBFGS 1.13's _strong_wolfe and _cubic_interpolate, shared by
 * L-BFGS and conjugate gradient: from t along d, a step satisfying
 * f(x + t d) <= f(x) + c1 t g.d (c1 = 1e-4) and |g(x + t d).d| <= c2 |g.d|
 * (L-BFGS: c2 = 0.9, torch's; CG: its option c2), bracketing then zooming
 * by cubic interpolation, at most 25 evaluations per search. */
/* scratch of the step: the weights where a search starts, a gradient
 * being evaluated, the search's previous one and its bracket's two */
static real x_init[MODEL_N_PARAMS], g_new[MODEL_N_PARAMS], g_prev[MODEL_N_PARAMS],
    g_bracket[2][MODEL_N_PARAMS];

/* the loss and gradient at x + t d; the weights are x again after */
static double directional(const model_closure *f, real *param, double t, const real *d, real *g)
{
    step_from(param, x_init, t, d);
    double loss = (double)f->eval(f->ctx, param, g);
    copy(param, x_init);
    return loss;
}

/* Python's max and min (the first unless the second is larger/smaller) */
static double py_max(double a, double b)
{
    return b > a ? b : a;
}
static double py_min(double a, double b)
{
    return b < a ? b : a;
}

/* torch's _cubic_interpolate: the minimum of the cubic through (x1, f1, g1)
 * and (x2, f2, g2), clamped to [lo, hi]; the bracket's middle without one */
static double cubic_min(double x1, double f1, double g1, double x2, double f2, double g2,
                        double lo, double hi)
{
    double d1 = g1 + g2 - 3 * (f1 - f2) / (x1 - x2);
    double d2_square = d1 * d1 - g1 * g2;
    if (!(d2_square >= 0)) return (lo + hi) / 2;
    double d2 = sqrt(d2_square), m;
    if (x1 <= x2)
        m = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2 * d2));
    else
        m = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2 * d2));
    return py_min(py_max(m, lo), hi);
}

/* A bracket of step sizes in the search: t, the loss, the gradient (in
 * g_bracket[i]) and g.d at each end. */
typedef struct bracket {
    double t[2], f[2], gtd[2];
    int low, high;
} bracket;

static void set_end(bracket *b, int i, double t, double f, const real *g, double gtd)
{
    b->t[i] = t, b->f[i] = f, b->gtd[i] = gtd;
    if (g != g_bracket[i]) copy(g_bracket[i], g);
}
static void order_ends(bracket *b)
{
    b->low = b->f[0] <= b->f[1] ? 0 : 1;
    b->high = 1 - b->low;
}

/* The zoom phase of torch's _strong_wolfe: shrinks the bracket by cubic
 * interpolation (kept 0.1 of its width from its ends when progress is
 * slow) until the strong Wolfe conditions hold, it is too small, or the
 * search has used its 25 evaluations. */
static void zoom(const model_closure *f, real *param, const real *d, bracket *b, double f0,
                 double gtd0, double c2, double d_norm, int *ls_iter)
{
    int insuf_progress = 0, done = 0;
    while (!done && *ls_iter < 25) {
        if (fabs(b->t[1] - b->t[0]) * d_norm < 1e-9) break;
        double t = cubic_min(b->t[0], b->f[0], b->gtd[0], b->t[1], b->f[1], b->gtd[1],
                             py_min(b->t[0], b->t[1]), py_max(b->t[0], b->t[1]));
        double hi = py_max(b->t[0], b->t[1]), lo = py_min(b->t[0], b->t[1]);
        double eps = 0.1 * (hi - lo);
        if (py_min(hi - t, t - lo) < eps) {
            if (insuf_progress || t >= hi || t <= lo) {
                t = fabs(t - hi) < fabs(t - lo) ? hi - eps : lo + eps;
                insuf_progress = 0;
            } else {
                insuf_progress = 1;
            }
        } else {
            insuf_progress = 0;
        }
        double f_new = directional(f, param, t, d, g_new), gtd_new = dot(g_new, d);
        ++*ls_iter;
        if (f_new > f0 + 1e-4 * t * gtd0 || f_new >= b->f[b->low]) {
            set_end(b, b->high, t, f_new, g_new, gtd_new);
            order_ends(b);
        } else {
            if (fabs(gtd_new) <= -c2 * gtd0)
                done = 1;
            else if (gtd_new * (b->t[b->high] - b->t[b->low]) >= 0)
                set_end(b, b->high, b->t[b->low], b->f[b->low], g_bracket[b->low], b->gtd[b->low]);
            set_end(b, b->low, t, f_new, g_new, gtd_new);
        }
    }
}

/* torch's _strong_wolfe from the weights param (loss f0, gradient g, g.d =
 * gtd0) along d from step *t with the curvature constant c2: the step
 * found goes to *t, its loss is returned and its gradient written to g;
 * *evals counts the evaluations. */
static double strong_wolfe_search(const model_closure *f, real *param, const real *d, double *t,
                                  double f0, real *g, double gtd0, double c2, int *evals)
{
    const double d_norm = abs_max(d, 1);
    copy(x_init, param);
    double f_new = directional(f, param, *t, d, g_new), gtd_new = dot(g_new, d);
    double t_prev = 0, f_prev = f0, gtd_prev = gtd0;
    copy(g_prev, g);
    int ls_iter = 0, done = 0, bracketed = 0;
    bracket b;
    memset(&b, 0, sizeof b);
    while (ls_iter < 25) {
        /* the Armijo condition fails or the loss rose: a bracket */
        if (f_new > f0 + 1e-4 * *t * gtd0 || (ls_iter > 1 && f_new >= f_prev)) {
            bracketed = 1;
            break;
        }
        if (fabs(gtd_new) <= -c2 * gtd0) { /* the strong Wolfe conditions hold */
            done = 1;
            break;
        }
        if (gtd_new >= 0) {
            bracketed = 1;
            break;
        }
        /* extrapolate: between 1.01 t - 0.01 t_prev and 10 t */
        double lo = *t + 0.01 * (*t - t_prev), hi = *t * 10, tmp = *t;
        *t = cubic_min(t_prev, f_prev, gtd_prev, *t, f_new, gtd_new, lo, hi);
        t_prev = tmp, f_prev = f_new, gtd_prev = gtd_new;
        copy(g_prev, g_new);
        f_new = directional(f, param, *t, d, g_new), gtd_new = dot(g_new, d);
        ls_iter++;
    }
    if (done) {
        set_end(&b, 0, *t, f_new, g_new, gtd_new);
        b.low = 0;
    } else {
        if (bracketed) {
            set_end(&b, 0, t_prev, f_prev, g_prev, gtd_prev);
            set_end(&b, 1, *t, f_new, g_new, gtd_new);
        } else { /* 25 evaluations without a bracket: [0, t] */
            set_end(&b, 0, 0, f0, g, gtd0);
            set_end(&b, 1, *t, f_new, g_new, gtd_new);
        }
        order_ends(&b);
        zoom(f, param, d, &b, f0, gtd0, c2, d_norm, &ls_iter);
    }
    *evals = ls_iter + 1;
    *t = b.t[b.low];
    copy(g, g_bracket[b.low]);
    return b.f[b.low];
}

