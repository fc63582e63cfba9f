/* {{header}}
 *
 * hessian_spectrum.c — the spectrum of the Hessian of the training loss of
 * {{name}} (the loss and rows of hvp_cmd.c: --rows, --weights):
 *  - hessian --exact: for models of at most 4096 parameters, H built column
 *    by column from H e_j, in double, symmetrised, and all its eigenvalues
 *    through LAPACK's dsyevd (rt_eigen); written as CSV (index,eigenvalue,
 *    ascending) and a histogram beside it;
 *  - hessian --top K: the K largest eigenvalues (and the smallest) by
 *    Lanczos on H v with full reorthogonalisation; -o FILE.csv writes them. */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessian.h"

/* --exact's limit: n products and n² doubles (128 MB at 4096) */
#define EXACT_MAX 4096

/* 2/λmax, or why there is none */
static void print_ends(double hi, double lo)
{
    printf("lambda_max %.17g\n", hi);
    printf("lambda_min %.17g\n", lo);
    if (hi > 0)
        printf("2/lambda_max %.17g (gradient descent with a larger lr diverges along the top "
               "direction)\n",
               2 / hi);
    else
        printf("2/lambda_max none (no positive curvature)\n");
}

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

/* H, column j = H e_j, symmetrised in place ((H + Hᵀ)/2); *asym: the
 * largest |H_ij - H_ji| before, *scale: the largest |H_ij| */
static double *build_hessian(hvp_rows *h, double *asym, double *scale)
{
    const long n = MODEL_N_PARAMS;
    double *H = tr_alloc_or_die((size_t)(n * n), sizeof(double));
    real *e = tr_alloc_or_die((size_t)n, sizeof(real));
    for (long j = 0; j < n; j++) {
        e[j] = 1;
        tr_hvp_all(h, e, H + j * n);
        e[j] = 0;
    }
    *asym = *scale = 0;
    for (long j = 0; j < n; j++)
        for (long i = j; i < n; i++) {
            double a = H[i + j * n], b = H[j + i * n];
            *asym = fmax(*asym, fabs(a - b));
            *scale = fmax(*scale, fmax(fabs(a), fabs(b)));
            H[i + j * n] = H[j + i * n] = (a + b) / 2;
        }
    free(e);
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
    print_ends(w[n - 1], w[0]);
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

int tr_hessian_top(const options *o)
{
    (void)o;
    tr_die_usage("%s", "hessian --top: not yet");
    return 2;
}
