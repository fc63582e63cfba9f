/* rt_lapack.c — the initialisers that need linear algebra: orthogonal
 * matrices by QR through LAPACK (in OpenBLAS). Linked into trainers only. */
#include "rt.h"

#include <math.h>
#include <stdlib.h>

/* LAPACK's Fortran entry points (OpenBLAS exports them) */
void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work,
             const int *lwork, int *info);
void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau,
             double *work, const int *lwork, int *info);

/* torch.nn.init.orthogonal_: W [rows x cols] from N(0, 1) draws, transposed
 * when rows < cols so that A is tall; A = QR; Q's columns times sign(diag R)
 * (torch's sign: 0 stays 0); transposed back; times gain. */
int rt_init_orthogonal(rt_rng *rng, real *p, long rows, long cols, double gain)
{
    int m = (int)(rows >= cols ? rows : cols), n = (int)(rows >= cols ? cols : rows), info = 0;
    double *a = malloc(sizeof(double) * ((size_t)m * (size_t)n + (size_t)n));
    if (!a) return -1;
    double *tau = a + (size_t)m * (size_t)n;
    /* the draws fill W row by row; A is W (rows >= cols) or Wᵀ, column-major */
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++) {
            double v = rt_rng_normal(rng);
            if (rows >= cols)
                a[i + j * (long)m] = v;
            else
                a[j + i * (long)m] = v;
        }
    double query, *work;
    int lwork = -1;
    dgeqrf_(&m, &n, a, &m, tau, &query, &lwork, &info);
    lwork = (int)query + n;
    work = malloc(sizeof(double) * (size_t)lwork);
    if (!work) {
        free(a);
        return -1;
    }
    dgeqrf_(&m, &n, a, &m, tau, work, &lwork, &info);
    double *sign = malloc(sizeof(double) * (size_t)n);
    if (!sign || info) goto fail;
    for (int j = 0; j < n; j++) {
        double r = a[j + j * (long)m];
        sign[j] = (r > 0) - (r < 0);
    }
    dorgqr_(&m, &n, &n, a, &m, tau, work, &lwork, &info);
    if (info) goto fail;
    for (long i = 0; i < rows; i++)
        for (long j = 0; j < cols; j++) {
            double q = rows >= cols ? a[i + j * (long)m] * sign[j] : a[j + i * (long)m] * sign[i];
            p[i * cols + j] = (real)(q * gain);
        }
    free(sign);
    free(work);
    free(a);
    return 0;
fail:
    free(sign);
    free(work);
    free(a);
    return -1;
}
