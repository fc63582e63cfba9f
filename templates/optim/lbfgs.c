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
 * grad is left at the last gradient evaluated. */
model_step_info model_closure_step(real *param, real *grad, real *state, double lr, double loss,
                                   const model_closure *f)
{
    lbfgs_state st = load_state(state);
    lbfgs_scalars *v = &st.v;
    int evals = 1;
    double taken = 0; /* the last step length taken */
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
            loss = strong_wolfe_search(f, param, st.d, &v->t, loss, grad, gtd, 0.9, &ls_evals);
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
        taken = v->t;
        evals += ls_evals;
        v->func_evals += ls_evals;
        if (n_iter == MAX_ITER || evals >= MAX_EVAL || opt_cond) break;
        if (abs_max(st.d, v->t) <= tolerance_change) break;
        if (fabs(loss - prev_loss) < tolerance_change) break;
    }
out:
    memcpy(st.scalars, &st.v, sizeof st.v);
    return (model_step_info){evals, taken, 0, 0};
}
