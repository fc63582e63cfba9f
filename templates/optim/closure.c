/* ---- the helpers of the steps through the batch's closure ({{where}}) ----
 * L-BFGS, conjugate gradient and SGD with a line search evaluate the loss
 * and gradient of the same batch again at the weights they try
 * (model_closure); their scalars (dot products, norms) are in double. */
static inline double dot(const real *a, const real *b)
{
    double s = 0;
    for (long i = 0; i < MODEL_N_PARAMS; i++) s += (double)a[i] * (double)b[i];
    return s;
}
/* max |a_i scale|, NaN when one is */
static inline double abs_max(const real *a, double scale)
{
    double m = 0;
    for (long i = 0; i < MODEL_N_PARAMS; i++) {
        double v = fabs((double)a[i] * scale);
        if (v > m || v != v) m = v;
    }
    return m;
}
static inline void copy(real *to, const real *from)
{
    memcpy(to, from, sizeof(real) * MODEL_N_PARAMS);
}
/* p <- x + t d (torch's add_ with alpha: fused) */
static inline void step_from(real *p, const real *x, double t, const real *d)
{
    for (long i = 0; i < MODEL_N_PARAMS; i++) p[i] = fma((real)t, d[i], x[i]);
}

