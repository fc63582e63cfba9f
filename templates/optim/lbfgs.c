/* ---- update: L-BFGS ({{where}}) ----
 * {{torch}}(lr={{lr}}, max_iter={{max_iter}}, max_eval={{max_eval}},
 *     tolerance_grad={{tolerance_grad}}, tolerance_change={{tolerance_change}},
 *     history_size={{history_size}}, line_search_fn={{line_search_fn}} (1: "strong_wolfe", 0: None)):
 * one step is one torch step(closure) on the batch: up to max_iter inner
 * iterations, each a direction d from the two-loop recursion over the
 * curvature pairs (s, y) kept (a pair only when y.s > 1e-10; the oldest
 * dropped beyond history_size), scaled by H_diag = y.s / y.y; a step of t
 * along it (the very first: min(1, 1/|g|_1) * lr, then lr), or t from the
 * strong-Wolfe search (cubic interpolation, c1 = 1e-4, c2 = 0.9, at most 25
 * evaluations per search); then the tests: max_iter, max_eval evaluations,
 * max|g| <= tolerance_grad, max|t d| <= tolerance_change, |loss change| <
 * tolerance_change. The closure (model_closure) re-evaluates the loss and
 * gradient of the same batch at new weights.
 * State (checkpointed): y and s, history_size vectors each, then d and the
 * previous gradient, then as doubles (lbfgs_scalars) ro = 1/y.s per pair,
 * t, the previous loss, H_diag, torch's n_iter and func_evals, the pairs
 * held and the oldest one's slot. Scalars are computed in double. */
enum { HISTORY = {{history_size}}, MAX_ITER = {{max_iter}}, MAX_EVAL = {{max_eval}} };
static const double tolerance_grad = {{tolerance_grad}}, tolerance_change = {{tolerance_change}};
static const int strong_wolfe = {{line_search_fn}};

typedef struct lbfgs_scalars {
    double ro[HISTORY];
    double t, prev_loss, h_diag, n_iter, func_evals, pairs, oldest;
} lbfgs_scalars;

/* the state's parts (model_lbfgs_state) */
typedef struct lbfgs_state {
    real *y, *s, *d, *prev_g; /* y and s: HISTORY rows of MODEL_N_PARAMS */
    real *scalars;            /* where lbfgs_scalars is kept, byte for byte */
    lbfgs_scalars v;
} lbfgs_state;

/* scratch of the step: the weights where a search starts, a gradient
 * being evaluated, the search's previous one and its bracket's two */
static real x_init[MODEL_N_PARAMS], g_new[MODEL_N_PARAMS], g_prev[MODEL_N_PARAMS],
    g_bracket[2][MODEL_N_PARAMS];

static double dot(const real *a, const real *b)
{
    double s = 0;
    for (long i = 0; i < MODEL_N_PARAMS; i++) s += (double)a[i] * (double)b[i];
    return s;
}
static double abs_max(const real *a, double scale)
{
    double m = 0;
    for (long i = 0; i < MODEL_N_PARAMS; i++) {
        double v = fabs((double)a[i] * scale);
        if (v > m || v != v) m = v;
    }
    return m;
}
static void copy(real *to, const real *from)
{
    memcpy(to, from, sizeof(real) * MODEL_N_PARAMS);
}
/* p <- x + t d (torch's add_ with alpha: fused) */
static void step_from(real *p, const real *x, double t, const real *d)
{
    for (long i = 0; i < MODEL_N_PARAMS; i++) p[i] = fma((real)t, d[i], x[i]);
}

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
                 double gtd0, double d_norm, int *ls_iter)
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
            if (fabs(gtd_new) <= -0.9 * gtd0)
                done = 1;
            else if (gtd_new * (b->t[b->high] - b->t[b->low]) >= 0)
                set_end(b, b->high, b->t[b->low], b->f[b->low], g_bracket[b->low], b->gtd[b->low]);
            set_end(b, b->low, t, f_new, g_new, gtd_new);
        }
    }
}

/* torch's _strong_wolfe from the weights param (loss f0, gradient g, g.d =
 * gtd0) along d from step *t: the step found goes to *t, its loss is
 * returned and its gradient written to g; *evals counts the evaluations. */
static double strong_wolfe_search(const model_closure *f, real *param, const real *d, double *t,
                           double f0, real *g, double gtd0, int *evals)
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
        if (fabs(gtd_new) <= -0.9 * gtd0) { /* the strong Wolfe conditions hold */
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
        zoom(f, param, d, &b, f0, gtd0, d_norm, &ls_iter);
    }
    *evals = ls_iter + 1;
    *t = b.t[b.low];
    copy(g, g_bracket[b.low]);
    return b.f[b.low];
}

static lbfgs_state load_state(real *state)
{
    const long n = MODEL_N_PARAMS;
    lbfgs_state st;
    st.y = state, st.s = state + HISTORY * n, st.d = state + 2 * HISTORY * n;
    st.prev_g = state + (2 * HISTORY + 1) * n, st.scalars = state + (2 * HISTORY + 2) * n;
    memcpy(&st.v, st.scalars, sizeof st.v); /* all zero before the first step */
    return st;
}

/* d <- the two-loop recursion on -g after taking the pair (s = t d, y = g -
 * prev_g) when y.s > 1e-10 */
static void direction(lbfgs_state *st, const real *g)
{
    const long n = MODEL_N_PARAMS;
    lbfgs_scalars *v = &st->v;
    for (long i = 0; i < n; i++) g_new[i] = g[i] - st->prev_g[i]; /* y */
    for (long i = 0; i < n; i++) g_prev[i] = st->d[i] * (real)v->t;  /* s */
    double ys = dot(g_new, g_prev);
    if (ys > 1e-10) {
        int slot = (int)(v->oldest + v->pairs) % HISTORY;
        if (v->pairs == HISTORY) v->oldest = (double)(((int)v->oldest + 1) % HISTORY);
        else v->pairs++;
        copy(st->y + slot * n, g_new);
        copy(st->s + slot * n, g_prev);
        v->ro[slot] = 1 / ys;
        v->h_diag = ys / dot(g_new, g_new);
    }
    double al[HISTORY];
    real *q = st->d;
    for (long i = 0; i < n; i++) q[i] = -g[i];
    for (int k = (int)v->pairs - 1; k >= 0; k--) {
        int j = ((int)v->oldest + k) % HISTORY;
        al[k] = dot(st->s + j * n, q) * v->ro[j];
        const real a = (real)-al[k], *y = st->y + j * n;
        for (long i = 0; i < n; i++) q[i] = fma(a, y[i], q[i]);
    }
    for (long i = 0; i < n; i++) q[i] *= (real)v->h_diag;
    for (int k = 0; k < (int)v->pairs; k++) {
        int j = ((int)v->oldest + k) % HISTORY;
        double be = dot(st->y + j * n, q) * v->ro[j];
        const real a = (real)(al[k] - be), *s = st->s + j * n;
        for (long i = 0; i < n; i++) q[i] = fma(a, s[i], q[i]);
    }
}

/* One torch step(closure): param, with loss and grad already evaluated
 * there (torch's first closure call), moves by up to MAX_ITER iterations;
 * grad is left at the last gradient evaluated. Returns the evaluations. */
int model_lbfgs_step(real *param, real *grad, real *state, double lr, double loss,
                     const model_closure *f)
{
    lbfgs_state st = load_state(state);
    lbfgs_scalars *v = &st.v;
    int evals = 1;
    v->func_evals++;
    if (abs_max(grad, 1) <= tolerance_grad) goto out;
    for (int n_iter = 1; n_iter <= MAX_ITER; n_iter++) {
        v->n_iter++;
        if (v->n_iter == 1) {
            for (long i = 0; i < MODEL_N_PARAMS; i++) st.d[i] = -grad[i];
            v->pairs = 0, v->oldest = 0, v->h_diag = 1;
        } else {
            direction(&st, grad);
        }
        copy(st.prev_g, grad);
        double prev_loss = v->prev_loss = loss;
        if (v->n_iter == 1) {
            double g1 = 0;
            for (long i = 0; i < MODEL_N_PARAMS; i++) g1 += fabs((double)grad[i]);
            v->t = (1 / g1 < 1 ? 1 / g1 : 1) * lr;
        } else {
            v->t = lr;
        }
        double gtd = dot(grad, st.d);
        if (gtd > -tolerance_change) break;
        int ls_evals = 0, opt_cond = 0;
        if (strong_wolfe) {
            loss = strong_wolfe_search(f, param, st.d, &v->t, loss, grad, gtd, &ls_evals);
            step_from(param, param, v->t, st.d);
            opt_cond = abs_max(grad, 1) <= tolerance_grad;
        } else {
            step_from(param, param, v->t, st.d);
            if (n_iter != MAX_ITER) {
                loss = (double)f->eval(f->ctx, param, grad);
                opt_cond = abs_max(grad, 1) <= tolerance_grad;
                ls_evals = 1;
            }
        }
        evals += ls_evals;
        v->func_evals += ls_evals;
        if (n_iter == MAX_ITER || evals >= MAX_EVAL || opt_cond) break;
        if (abs_max(st.d, v->t) <= tolerance_change) break;
        if (fabs(loss - prev_loss) < tolerance_change) break;
    }
out:
    memcpy(st.scalars, &st.v, sizeof st.v);
    return evals;
}
