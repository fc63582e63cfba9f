/* normal_eq.c — the least-squares solution of a generated trainer's data,
 * computed without the trainer: regenerate X and y with the runtime
 * (rt_data_load on the very rt_source the generated model.c holds, so the
 * n, d, noise and seeds are the ones trainc used), then solve the normal
 * equations XᵀX w = Xᵀy in double with LAPACK's dposv (Cholesky), and compare
 * a trained w (an .npy from `trainer export`) with that solution.
 *
 * Not built by meson: it needs a generated model.c. tests/test_least_squares.sh
 * compiles it against DIR/model.c (for model_train_data) and the runtime sources, with
 * -DTRAINC_DOUBLE when the trainer is double, so X and y are rounded to the
 * trainer's element type exactly as the trainer saw them; from there on all
 * arithmetic here is double.
 *
 *   normal_eq W.npy [W_LS.npy]
 * prints
 *   rows N  features D  (float|double)
 *   rel_err    ||w - w_ls|| / ||w_ls||
 *   loss_w     mean((X w - y)^2)
 *   loss_ls    mean((X w_ls - y)^2)          (the minimum)
 *   ne_resid   ||XᵀX w_ls - Xᵀy|| / ||Xᵀy||  (how well LAPACK solved it)
 * and writes w_ls (in the trainer's element type) to W_LS.npy if given.
 * Exit status 0, or 1 with a message on a failure of the data, file or solve. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include <cblas.h>

#include "model.h"

/* LAPACK (in OpenBLAS), called through its Fortran symbol: no LAPACKE needed */
void dposv_(const char *uplo, const int *n, const int *nrhs, double *a, const int *lda, double *b,
            const int *ldb, int *info);

#if MODEL_SCALE != 0 || MODEL_STANDARDIZE
#error "normal_eq compares against the raw data; the spec scales or standardises it"
#endif

static void die(const char *what)
{
    fprintf(stderr, "normal_eq: %s\n", what);
    exit(1);
}

/* mean((X w - y)^2), in double */
static double objective(const double *X, const double *y, const double *w, int n, int d)
{
    double *r = malloc((size_t)n * sizeof *r);
    if (!r) die("out of memory");
    for (int i = 0; i < n; i++) r[i] = y[i];
    cblas_dgemv(CblasRowMajor, CblasNoTrans, n, d, 1.0, X, d, w, 1, -1.0, r, 1);
    double s = 0;
    for (int i = 0; i < n; i++) s += r[i] * r[i];
    free(r);
    return s / n;
}

int main(int argc, char **argv)
{
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: normal_eq W.npy [W_LS.npy]\n");
        return 2;
    }
    rt_error err;
    rt_dataset ds;
    if (model_train_data.kind != RT_SRC_LINREG) die("the model's data is not linreg");
    if (MODEL_N_VALID != 0) die("the model holds out validation rows; not supported here");
    if (rt_data_load(&model_train_data, MODEL_FEATURES, MODEL_LABEL_LEN, MODEL_CLASSES, &ds, &err))
        die(err.msg);
    if (model_n_param_tensors != 1 || model_params[0].numel != ds.d)
        die("the model should have one parameter of d values (w)");
    const int n = ds.n, d = ds.d;
    printf("rows %d  features %d  (%s)\n", n, d, RT_REAL_NAME);

    /* X and y exactly as the trainer sees them, widened to double */
    double *X = malloc((size_t)n * d * sizeof *X), *y = malloc((size_t)n * sizeof *y);
    double *A = malloc((size_t)d * d * sizeof *A), *b = malloc((size_t)d * sizeof *b);
    double *wls = malloc((size_t)d * sizeof *wls), *w = malloc((size_t)d * sizeof *w);
    real *wr = malloc((size_t)d * sizeof *wr);
    if (!X || !y || !A || !b || !wls || !w || !wr) die("out of memory");
    for (long k = 0; k < (long)n * d; k++) X[k] = (double)ds.x[k];
    for (int i = 0; i < n; i++) y[i] = (double)ds.y[i];
    rt_data_free(&ds);

    /* A = XᵀX (upper triangle, row major = lower in Fortran's column major,
     * so ask dposv for 'L'), b = Xᵀy */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0, X, d, 0.0, A, d);
    cblas_dgemv(CblasRowMajor, CblasTrans, n, d, 1.0, X, d, y, 1, 0.0, b, 1);
    for (int j = 0; j < d; j++) wls[j] = b[j];
    double *A2 = malloc((size_t)d * d * sizeof *A2);
    if (!A2) die("out of memory");
    for (long k = 0; k < (long)d * d; k++) A2[k] = A[k];
    int one = 1, info = 0;
    dposv_("L", &d, &one, A2, &d, wls, &d, &info);
    if (info != 0) {
        fprintf(stderr, "normal_eq: dposv failed, info = %d\n", info);
        return 1;
    }
    free(A2);

    /* how well the normal equations hold at w_ls: A is upper (row major) */
    double rn = 0, bn = 0;
    for (int i = 0; i < d; i++) {
        double s = 0;
        for (int j = 0; j < d; j++)
            s += (i <= j ? A[(long)i * d + j] : A[(long)j * d + i]) * wls[j];
        rn += (s - b[i]) * (s - b[i]);
        bn += b[i] * b[i];
    }

    if (rt_npy_read(argv[1], wr, d, &err)) die(err.msg);
    for (int j = 0; j < d; j++) w[j] = (double)wr[j];
    double dn = 0, wn = 0;
    for (int j = 0; j < d; j++) {
        dn += (w[j] - wls[j]) * (w[j] - wls[j]);
        wn += wls[j] * wls[j];
    }
    printf("rel_err %.6e\n", sqrt(dn / wn));
    printf("loss_w %.17g\n", objective(X, y, w, n, d));
    printf("loss_ls %.17g\n", objective(X, y, wls, n, d));
    printf("ne_resid %.6e\n", sqrt(rn / bn));

    if (argc == 3) {
        int64_t dims[2] = {d, 1};
        for (int j = 0; j < d; j++) wr[j] = (real)wls[j];
        if (rt_npy_write(argv[2], wr, 2, dims, &err)) die(err.msg);
    }
    free(X), free(y), free(A), free(b), free(wls), free(w), free(wr);
    return 0;
}
