/* rt_lapack.c — what needs LAPACK (in OpenBLAS): orthogonal matrices by QR
 * for the initialisers, the eigenvalues of symmetric matrices (the
 * Hessian's spectrum: hessian --exact, and Lanczos's tridiagonal matrix in
 * hessian --top), and the whole Hessian from products with Newton's solve
 * on it (optimizer = newton). */
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
void dpotrf_(const char *uplo, const int *n, double *a, const int *lda, int *info);
void dpotrs_(const char *uplo, const int *n, const int *nrhs, const double *a, const int *lda,
             double *b, const int *ldb, int *info);
void dsysv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, int *ipiv,
            double *b, const int *ldb, double *work, const int *lwork, int *info);

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

double *rt_hessian_build(long n, void (*product)(void *ctx, const real *v, double *hv), void *ctx,
                         double *asym, double *scale)
{
    double *h = malloc(sizeof(double) * (size_t)n * (size_t)n);
    real *e = calloc((size_t)n, sizeof(real));
    if (!h || !e) {
        free(h), free(e);
        return NULL;
    }
    for (long j = 0; j < n; j++) {
        e[j] = 1;
        product(ctx, e, h + j * n);
        e[j] = 0;
    }
    *asym = *scale = 0;
    for (long j = 0; j < n; j++)
        for (long i = j; i < n; i++) {
            double a = h[i + j * n], b = h[j + i * n];
            *asym = fmax(*asym, fabs(a - b));
            *scale = fmax(*scale, fmax(fabs(a), fabs(b)));
            h[i + j * n] = h[j + i * n] = (a + b) / 2;
        }
    free(e);
    return h;
}

/* dsysv on the lower triangle, its workspace asked first */
static int solve_indefinite(double *h, int m, double *d, rt_error *err)
{
    const char uplo = 'L';
    int one = 1, lwork = -1, info = 0;
    int *ipiv = malloc(sizeof(int) * (size_t)m);
    double query = 0;
    if (!ipiv) return rt_fail(err, "newton: out of memory (%d pivots)", m);
    dsysv_(&uplo, &m, &one, h, &m, ipiv, d, &m, &query, &lwork, &info);
    lwork = info ? 0 : (int)query + 1;
    double *work = lwork ? malloc(sizeof(double) * (size_t)lwork) : NULL;
    if (!work) {
        free(ipiv);
        return rt_fail(err, "newton: dsysv's workspace query failed (info %d)", info);
    }
    dsysv_(&uplo, &m, &one, h, &m, ipiv, d, &m, work, &lwork, &info);
    free(ipiv), free(work);
    if (info < 0) return rt_fail(err, "newton: dsysv failed (info %d)", info);
    return info > 0 ? RT_SOLVE_SINGULAR : RT_SOLVE_INDEFINITE;
}

/* Cholesky first: it fails (info > 0) exactly when a leading minor is not
 * positive, i.e. when H + damping I is not positive definite. dpotrf writes
 * only the lower triangle, so the strict upper one (H's copy) and the saved
 * diagonal give the matrix back for dsysv without a second n x n copy. */
int rt_newton_solve(double *h, long n, double damping, const double *g, double *d, rt_error *err)
{
    if (n > 46340) return rt_fail(err, "newton: %ld x %ld is beyond LAPACK's int sizes", n, n);
    const char uplo = 'L';
    int m = (int)n, one = 1, info = 0;
    double *diag = malloc(sizeof(double) * (size_t)n), *x = malloc(sizeof(double) * (size_t)n);
    if (!diag || !x) {
        free(diag), free(x);
        return rt_fail(err, "newton: out of memory (%ld)", n);
    }
    for (long i = 0; i < n; i++) diag[i] = h[i + i * n] += damping;
    memcpy(x, g, sizeof(double) * (size_t)n);
    dpotrf_(&uplo, &m, h, &m, &info);
    int how = RT_SOLVE_CHOLESKY;
    if (info == 0)
        dpotrs_(&uplo, &m, &one, h, &m, x, &m, &info);
    else if (info > 0) {
        for (long j = 0; j < n; j++) {
            h[j + j * n] = diag[j];
            for (long i = j + 1; i < n; i++) h[i + j * n] = h[j + i * n];
        }
        how = solve_indefinite(h, m, x, err);
        info = 0;
    }
    if (info < 0) how = rt_fail(err, "newton: dpotrf/dpotrs failed (info %d)", info);
    if (how == RT_SOLVE_CHOLESKY || how == RT_SOLVE_INDEFINITE)
        memcpy(d, x, sizeof(double) * (size_t)n);
    free(diag), free(x);
    return how;
}
