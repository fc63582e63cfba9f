/* {{header}}
 *
 * hessian.h — what the files of the hvp and hessian commands of {{name}}
 * share: hvp_cmd.c (the products over the rows, hvp, hessian and the
 * sharpness) and hessian_spectrum.c (hessian --exact: the whole spectrum;
 * Lanczos for hessian --top K, plain hessian and the sharpness). */
#ifndef HESSIAN_H
#define HESSIAN_H

#include "trainer.h"

/* What every product shares: the weights, the rows, a scratch slice of Hv. */
typedef struct hvp_rows {
    buffers b;
    data d;
    long n;     /* rows */
    real *part; /* one batch's Hv */
    uint64_t noise;
} hvp_rows;

/* The weights of --weights FILE if given, else the spec's initial ones;
 * the rows of --rows (checked against the batches). */
void tr_hvp_start(const options *o, hvp_rows *h);
/* hv = H v over the rows; returns the loss */
double tr_hvp_all(hvp_rows *h, const real *v, double *hv);
/* "the initial weights" or the --weights file */
const char *tr_hvp_at(const options *o);
/* λmax, λmin and 2/λmax (or why there is none), with `digits` digits */
void tr_hessian_print_ends(double hi, double lo, int digits);

/* hessian_spectrum.c: hessian --exact, hessian --top K */
int tr_hessian_exact(const options *o);
int tr_hessian_top(const options *o);
/* λmax and λmin by Lanczos (at most iters products, n at most: then exact)
 * until both move by at most tol of max |λ|; returns the last move (0:
 * exact), the products used in *products */
double tr_hessian_ends(hvp_rows *h, long iters, double tol, double *hi, double *lo, long *products);

#endif
