/* rt_lapack.c — what needs LAPACK (in OpenBLAS): orthogonal matrices by QR
 * for the initialisers, and the eigenvalues of symmetric matrices (the
 * Hessian's spectrum: hessian --exact, and Lanczos's tridiagonal matrix in
 * hessian --top). Linked into trainers only. */
#include "rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* LAPACK's Fortran entry points (OpenBLAS exports them) */
void dgeqrf_(const int *m, const int *n, double *a, const int *lda, double *tau, double *work,
             const int *lwork, int *info);
void dorgqr_(const int *m, const int *n, const int *k, double *a, const int *lda, const double *tau,
             double *work, const int *lwork, int *info);
void dsyevd_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
             double *work, const int *lwork, int *iwork, const int *liwork, int *info);
void dstev_(const char *jobz, const int *n, double *d, double *e, double *z, const int *ldz,
            double *work, int *info);

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

/* dsyevd without vectors (jobz N): the divide-and-conquer driver; its
 * workspace asked first (lwork = liwork = -1), as LAPACK's interface says */
int rt_eigen(double *a, long n, double *w, rt_error *err)
{
    if (n < 1) return 0;
    if (n > 46340) return rt_fail(err, "eigenvalues: %ld x %ld is beyond LAPACK's int sizes", n, n);
    const char jobz = 'N', uplo = 'L';
    int m = (int)n, lwork = -1, liwork = -1, iquery = 0, info = 0;
    double query = 0;
    dsyevd_(&jobz, &uplo, &m, a, &m, w, &query, &lwork, &iquery, &liwork, &info);
    if (info) return rt_fail(err, "eigenvalues: dsyevd's workspace query failed (info %d)", info);
    lwork = (int)query + 1;
    liwork = iquery > 1 ? iquery : 1;
    double *work = malloc(sizeof(double) * (size_t)lwork);
    int *iwork = malloc(sizeof(int) * (size_t)liwork);
    if (!work || !iwork) {
        free(work), free(iwork);
        return rt_fail(err, "eigenvalues: out of memory (%ld x %ld)", n, n);
    }
    dsyevd_(&jobz, &uplo, &m, a, &m, w, work, &lwork, iwork, &liwork, &info);
    free(work), free(iwork);
    if (info) return rt_fail(err, "eigenvalues: dsyevd failed (info %d)", info);
    return 0;
}

/* dstev without vectors: the implicit QL/QR on the tridiagonal matrix (on
 * copies: dstev overwrites d with the eigenvalues and e with scratch) */
int rt_eigen_tridiag(const double *d, const double *e, long n, double *w, rt_error *err)
{
    if (n < 1) return 0;
    const char jobz = 'N';
    int m = (int)n, one = 1, info = 0;
    double *off = malloc(sizeof(double) * (size_t)n), z = 0, work = 0; /* neither read (jobz N) */
    if (!off) return rt_fail(err, "eigenvalues: out of memory (%ld)", n);
    memcpy(w, d, sizeof(double) * (size_t)n);
    if (n > 1) memcpy(off, e, sizeof(double) * (size_t)(n - 1));
    dstev_(&jobz, &m, w, off, &z, &one, &work, &info);
    free(off);
    if (info) return rt_fail(err, "eigenvalues: dstev failed (info %d)", info);
    return 0;
}
