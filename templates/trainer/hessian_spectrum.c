/* {{header}}
 *
 * hessian_spectrum.c — the spectrum of the Hessian of the training loss of
 * {{name}} (the loss and rows of hvp_cmd.c: --rows, --weights):
 *  - hessian --exact: for models of at most 4096 parameters, H built column
 *    by column from H e_j, in double, symmetrised, and all its eigenvalues
 *    through LAPACK's dsyevd (rt_eigen); written as CSV (index,eigenvalue,
 *    ascending) and a histogram beside it;
 *  - hessian --top K: the K largest eigenvalues (and the smallest) by
 *    Lanczos on H v with full reorthogonalisation; -o FILE.csv writes them;
 *  - plain hessian and train { track_sharpness }: the same Lanczos for the
 *    largest and the smallest (tr_hessian_ends). */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessian.h"

/* --exact's limit: n products and n² doubles (128 MB at 4096) */
#define EXACT_MAX 4096

/* The CSV opened for writing ("x": never over a file), or exit 1. */
static FILE *open_new(const char *path)
{
    FILE *f = fopen(path, "wx");
    if (!f) {
        fprintf(stderr, "%s: hessian: %s: %s\n", MODEL_NAME, path, strerror(errno));
        exit(1);
    }
    return f;
}

static void close_or_die(FILE *f, const char *path)
{
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "%s: hessian: %s: %s\n", MODEL_NAME, path, strerror(errno));
        exit(1);
    }
}

/* one product over the rows, for rt_hessian_build */
static void product_over_rows(void *ctx, const real *v, double *hv)
{
    tr_hvp_all(ctx, v, hv);
}

/* H, column j = H e_j, symmetrised (rt_hessian_build: Newton's step
 * builds it there too) */
static double *build_hessian(hvp_rows *h, double *asym, double *scale)
{
    double *H = rt_hessian_build(MODEL_N_PARAMS, product_over_rows, h, asym, scale);
    if (!H) {
        fprintf(stderr, "%s: hessian: out of memory for the %ld x %ld Hessian\n", MODEL_NAME,
                (long)MODEL_N_PARAMS, (long)MODEL_N_PARAMS);
        exit(1);
    }
    return H;
}

/* the spectrum as CSV and its histogram */
static void write_spectrum(const options *o, const hvp_rows *h, const double *w, const long *count,
                           double zero_tol, const char *csv, const char *svg)
{
    const long n = MODEL_N_PARAMS;
    FILE *f = open_new(csv);
    fprintf(f, "index,eigenvalue\n");
    for (long i = 0; i < n; i++) fprintf(f, "%ld,%.17g\n", i, w[i]);
    close_or_die(f, csv);
    char sub[512], panel[160];
    snprintf(sub, sizeof sub,
             "the Hessian's %ld eigenvalues over %ld rows at %s: %ld negative, %ld zero, %ld "
             "positive",
             n, h->n, tr_hvp_at(o), count[0], count[1], count[2]);
    snprintf(panel, sizeof panel, "eigenvalues from %.4g to %.4g (zero: |lambda| <= %.2g)", w[0],
             w[n - 1], zero_tol);
    const double marks[1] = {0};
    const char *const labels[1] = {"0"};
    rt_hist_figure fig = {MODEL_NAME, sub, panel, "eigenvalue", w, n, 0, marks, labels, 1};
    rt_error err;
    if (rt_plot_hist_svg(&fig, svg, &err)) tr_fail(&err);
}

int tr_hessian_exact(const options *o)
{
    const long n = MODEL_N_PARAMS;
    if (n > EXACT_MAX) {
        fprintf(stderr,
                "%s: hessian --exact: this model has %ld parameters; the whole Hessian is built "
                "for %d at most (%ld products, a %ld x %ld matrix): use hessian --top K (Lanczos) "
                "for its K largest eigenvalues\n",
                MODEL_NAME, n, EXACT_MAX, n, n, n);
        exit(2);
    }
    char csv[4096], svg[4200];
    tr_choose_csv_svg(o, "hessian", csv, svg, sizeof csv);
    hvp_rows h;
    tr_hvp_start(o, &h);
    double asym, scale;
    double *H = build_hessian(&h, &asym, &scale);
    double *w = tr_alloc_or_die((size_t)n, sizeof(double));
    rt_error err;
    if (rt_eigen(H, n, w, &err)) tr_fail(&err);
    free(H);
    /* zero within the rounding of the products: 100 sqrt(n) ε ‖H‖, ε the
     * element type's */
    const double eps = sizeof(real) == sizeof(double) ? DBL_EPSILON : FLT_EPSILON;
    const double norm = fmax(fabs(w[0]), fabs(w[n - 1]));
    const double zero_tol = 100 * sqrt((double)n) * eps * norm;
    long count[3] = {0, 0, 0}; /* negative, zero, positive */
    for (long i = 0; i < n; i++) count[w[i] < -zero_tol ? 0 : w[i] <= zero_tol ? 1 : 2]++;
    printf("hessian over %ld rows (%s, exact: %ld products, dsyevd):\n", h.n, tr_hvp_at(o), n);
    tr_hessian_print_ends(w[n - 1], w[0], 17);
    printf("asymmetry max|H - H^T| %.3g (%.3g of max|H|), symmetrised\n", asym,
           scale > 0 ? asym / scale : 0.0);
    printf("eigenvalues: %ld negative, %ld zero, %ld positive (zero: |lambda| <= %.3g = 100 "
           "sqrt(n) eps |lambda|max)\n",
           count[0], count[1], count[2], zero_tol);
    write_spectrum(o, &h, w, count, zero_tol, csv, svg);
    if (!o->quiet) printf("%s: hessian: wrote %s and %s\n", MODEL_NAME, csv, svg);
    free(w);
    return 0;
}

/* Lanczos, not power iteration: the same products give many eigenvalues at
 * once (the Ritz values: the eigenvalues of H restricted to the Krylov space
 * of the products), and the extreme ones converge much faster: after k
 * products the error falls like a Chebyshev polynomial of degree k, about
 * exp(-2k sqrt(gap)) against power iteration's exp(-k gap) for a relative
 * gap between the top two eigenvalues; both ends of the spectrum come from
 * one run. Full reorthogonalisation (each new vector made orthogonal to all
 * the earlier ones, twice: "twice is enough") keeps rounding from bringing
 * back converged directions as spurious copies of their eigenvalues; it
 * costs the m vectors kept, m <= --iters. */
typedef struct lanczos {
    long n, m;     /* parameters; products done */
    double *q;     /* the basis, (m + 1) x n: q + j n is vector j */
    double *alpha; /* T's diagonal */
    double *beta;  /* T's off-diagonal (0: a restart after an exhausted space) */
    double *ritz;  /* T's eigenvalues, ascending; prev: the step before's */
    double *prev;
    real *v; /* the vector the product takes, in the element type */
    rt_rng rng;
} lanczos;

static double dot(const double *a, const double *b, long n)
{
    double s = 0;
    for (long i = 0; i < n; i++) s += a[i] * b[i];
    return s;
}

/* w made orthogonal to vectors 0..k of the basis, twice */
static void orthogonalise(lanczos *l, double *w, long k)
{
    for (int pass = 0; pass < 2; pass++)
        for (long i = 0; i <= k; i++) {
            const double *qi = l->q + i * l->n, c = dot(qi, w, l->n);
            for (long t = 0; t < l->n; t++) w[t] -= c * qi[t];
        }
}

/* vector `at` of the basis: a fresh random one orthogonal to those before
 * (the start, and after an exhausted Krylov space); its norm */
static double random_vector(lanczos *l, long at)
{
    double *w = l->q + at * l->n;
    for (long i = 0; i < l->n; i++) w[i] = rt_rng_normal(&l->rng);
    if (at > 0) orthogonalise(l, w, at - 1);
    double norm = sqrt(dot(w, w, l->n));
    for (long i = 0; i < l->n; i++) w[i] /= norm;
    return norm;
}

/* product j: H q_j, its α_j and β_j, and q_{j+1} */
static void lanczos_step(lanczos *l, hvp_rows *h, long j)
{
    const long n = l->n;
    double *qj = l->q + j * n, *w = qj + n;
    for (long i = 0; i < n; i++) l->v[i] = (real)qj[i];
    tr_hvp_all(h, l->v, w);
    l->alpha[j] = dot(qj, w, n);
    orthogonalise(l, w, j); /* takes α_j q_j and β_{j-1} q_{j-1} off, and the rest */
    double b = sqrt(dot(w, w, n));
    double scale = fmax(fabs(l->alpha[j]), j ? l->beta[j - 1] : 0);
    if (j + 1 < n && !(b > 1e-10 * scale)) { /* an invariant space: start another */
        random_vector(l, j + 1);
        b = 0;
    } else if (j + 1 < n)
        for (long i = 0; i < n; i++) w[i] /= b;
    l->beta[j] = b;
}

/* The largest move of the top k Ritz values and the smallest since the step
 * before, over the largest |Ritz value| (inf before there are k + 1). */
static double ritz_move(const lanczos *l, long k)
{
    const long m = l->m;
    if (m < k + 1 || m < 2) return INFINITY;
    double norm = fmax(fabs(l->ritz[0]), fabs(l->ritz[m - 1])), move = 0;
    for (long i = 0; i < k; i++) move = fmax(move, fabs(l->ritz[m - 1 - i] - l->prev[m - 2 - i]));
    move = fmax(move, fabs(l->ritz[0] - l->prev[0]));
    return norm > 0 ? move / norm : move;
}

/* Runs until the top k and the smallest Ritz values move by at most tol
 * (relative to the largest |Ritz value|) or after iters products (or n:
 * then T holds all of H's eigenvalues). Returns the last move. */
static double lanczos_run(lanczos *l, hvp_rows *h, long k, long iters, double tol)
{
    rt_error err;
    random_vector(l, 0);
    double move = INFINITY;
    for (l->m = 0; l->m < iters;) {
        lanczos_step(l, h, l->m);
        memcpy(l->prev, l->ritz, sizeof(double) * (size_t)l->m);
        l->m++;
        if (rt_eigen_tridiag(l->alpha, l->beta, l->m, l->ritz, &err)) tr_fail(&err);
        move = ritz_move(l, k);
        if (move <= tol || l->m == l->n) break;
    }
    return l->m == l->n ? 0 : move;
}

/* the basis of at most iters products, from the fixed start (seed 12345) */
static lanczos lanczos_new(long iters)
{
    lanczos l = {.n = MODEL_N_PARAMS};
    l.q = tr_alloc_or_die((size_t)(iters + 1) * (size_t)l.n, sizeof(double));
    l.alpha = tr_alloc_or_die((size_t)iters * 4, sizeof(double));
    l.beta = l.alpha + iters, l.ritz = l.beta + iters, l.prev = l.ritz + iters;
    l.v = tr_alloc_or_die((size_t)l.n, sizeof(real));
    rt_rng_seed(&l.rng, 12345);
    return l;
}

static void lanczos_free(lanczos *l)
{
    free(l->q), free(l->alpha), free(l->v);
}

double tr_hessian_ends(hvp_rows *h, long iters, double tol, double *hi, double *lo, long *products)
{
    if (iters > MODEL_N_PARAMS) iters = MODEL_N_PARAMS; /* n products span the whole space */
    lanczos l = lanczos_new(iters);
    double move = lanczos_run(&l, h, 1, iters, tol);
    *hi = l.ritz[l.m - 1], *lo = l.ritz[0], *products = l.m;
    lanczos_free(&l);
    return move;
}

/* the eigenvalues found as CSV: rank,eigenvalue,change (rank 1: the
 * largest; the smallest has rank n) */
static void write_top(const char *path, const lanczos *l, long k)
{
    FILE *f = open_new(path);
    const long m = l->m;
    fprintf(f, "rank,eigenvalue,change\n");
    for (long i = 0; i < k; i++)
        fprintf(f, "%ld,%.17g,%.3g\n", i + 1, l->ritz[m - 1 - i],
                m > k ? fabs(l->ritz[m - 1 - i] - l->prev[m - 2 - i]) : 0.0);
    if (k < l->n)
        fprintf(f, "%ld,%.17g,%.3g\n", l->n, l->ritz[0],
                m > 1 ? fabs(l->ritz[0] - l->prev[0]) : 0.0);
    close_or_die(f, path);
}

int tr_hessian_top(const options *o)
{
    const long n = MODEL_N_PARAMS, k = o->top;
    if (k > n) {
        fprintf(stderr,
                "%s: hessian --top %ld: this model has %ld parameters, so %ld eigenvalues\n",
                MODEL_NAME, k, n, n);
        exit(2);
    }
    long iters = o->iters ? o->iters : (3 * k > 100 ? 3 * k : 100);
    if (iters < k) {
        fprintf(stderr,
                "%s: hessian --top %ld: --iters %ld gives %ld Ritz values at most: give "
                "--iters %ld or more\n",
                MODEL_NAME, k, iters, iters, k);
        exit(2);
    }
    if (iters > n) iters = n; /* n products span the whole space */
    double tol = o->tol >= 0 ? o->tol : 1e-3;
    if (o->out && tr_exists(o->out)) {
        fprintf(stderr,
                "%s: hessian: %s exists; hessian never overwrites a file: remove it or "
                "give another -o\n",
                MODEL_NAME, o->out);
        exit(1);
    }
    hvp_rows h;
    tr_hvp_start(o, &h);
    lanczos l = lanczos_new(iters);
    double move = lanczos_run(&l, &h, k, iters, tol);
    const long m = l.m;
    printf("hessian over %ld rows (%s, Lanczos: %ld products, tol %g):\n", h.n, tr_hvp_at(o), m,
           tol);
    tr_hessian_print_ends(l.ritz[m - 1], l.ritz[0], 17);
    for (long i = 0; i < k; i++) printf("lambda_%ld %.17g\n", i + 1, l.ritz[m - 1 - i]);
    if (move > tol)
        printf("not converged: after %ld products the Ritz values still moved by %.3g of "
               "|lambda|max (tol %g); give more --iters\n",
               m, move, tol);
    if (o->out) {
        write_top(o->out, &l, k);
        if (!o->quiet) printf("%s: hessian: wrote %s\n", MODEL_NAME, o->out);
    }
    lanczos_free(&l);
    return 0;
}
