/* {{header}}
 *
 * hvp_cmd.c — the hvp and hessian commands of the trainer of {{name}}:
 * exact Hessian-vector products of the training loss (model_hvp, generated
 * by reverse mode over the backward pass: gen/hvp.c), and the extreme
 * eigenvalues of the Hessian from them (Lanczos: hessian_spectrum.c).
 *
 * The loss is the one training reports over the first N training rows (in
 * file order, training mode): the mean of the batches' losses weighted by
 * their rows, so Hv is the same mean of the batches' Hv. model_hvp exists
 * only when the spec says train { hvp = true } (or trainc --hvp, or
 * optimizer = newton): it is declared weak (trainer.h), so that other
 * trainers link without it and say so. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hessian.h"

static void need_hvp(void)
{
    if (model_hvp) return;
    fprintf(stderr,
            "%s: this trainer has no Hessian-vector product: add hvp = true to the spec's "
            "train { } (or run trainc --hvp) and build it again\n",
            MODEL_NAME);
    exit(2);
}

/* The rows: --rows N (default all the training rows), whole batches and
 * at most the one partial batch the trainer was generated for. */
static long rows_of(const options *o)
{
    long n = o->rows > 0 ? o->rows : MODEL_N_TRAIN;
    if (n > MODEL_N_TRAIN) {
        fprintf(stderr, "%s: --rows %ld: the training data has %ld rows\n", MODEL_NAME, n,
                (long)MODEL_N_TRAIN);
        exit(2);
    }
    if (n % MODEL_BATCH && n % MODEL_BATCH != MODEL_REMAINDER) {
        fprintf(stderr,
                "%s: --rows %ld: the products are generated for batches of %d rows (and the "
                "last one of %d): give a multiple of %d, or %ld (all the training rows)\n",
                MODEL_NAME, n, MODEL_BATCH, MODEL_REMAINDER, MODEL_BATCH, (long)MODEL_N_TRAIN);
        exit(2);
    }
    return n;
}

/* The weights of --weights FILE if given, else the spec's initial ones. */
void tr_hvp_start(const options *o, hvp_rows *h)
{
    need_hvp();
    h->n = rows_of(o);
    h->b = tr_alloc_buffers(MODEL_BATCH);
    h->d = tr_load_data(&h->b, 1, 0);
    rt_rng rng;
    rt_rng_seed(&rng, o->seed);
    model_init(h->b.param, &rng);
    if (o->weights_given) tr_load_weights(o, &h->b);
    h->part = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    h->noise = rt_noise_key(o->seed, 1); /* dropout: the first training step's masks */
}

const char *tr_hvp_at(const options *o)
{
    return o->weights_given ? o->weights : "the initial weights";
}

/* hv = H v over the rows; returns the loss */
double tr_hvp_all(hvp_rows *h, const real *v, double *hv)
{
    double loss = 0;
    for (long i = 0; i < MODEL_N_PARAMS; i++) hv[i] = 0;
    for (long start = 0; start < h->n; start += MODEL_BATCH) {
        int rows = (int)(h->n - start < MODEL_BATCH ? h->n - start : MODEL_BATCH);
        for (int r = 0; r < rows; r++) h->b.order[r] = (int32_t)(start + r);
        rt_data_gather(&h->d.train, h->b.order, rows, h->b.x, h->b.y);
        double w = (double)rows / (double)h->n;
        loss += w * (double)model_hvp(rows, h->b.param, v, h->part, h->b.x, h->b.y, h->b.out,
                                      h->b.arena, h->noise);
        for (long i = 0; i < MODEL_N_PARAMS; i++) hv[i] += w * (double)h->part[i];
    }
    return loss;
}

/* hvp VECTOR.npy -o OUT.npy: one product */
int tr_cmd_hvp(const options *o)
{
    if (!o->arg || !o->out)
        tr_die_usage("%s", "hvp needs the vector and the output: hvp VECTOR.npy -o OUT.npy");
    hvp_rows h;
    tr_hvp_start(o, &h);
    real *v = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    double *hv = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(double));
    rt_error err;
    if (rt_npy_read(o->arg, v, MODEL_N_PARAMS, &err)) tr_fail(&err);
    double loss = tr_hvp_all(&h, v, hv);
    for (long i = 0; i < MODEL_N_PARAMS; i++) v[i] = (real)hv[i];
    int64_t dims[1] = {MODEL_N_PARAMS};
    if (rt_npy_write(o->out, v, 1, dims, &err)) tr_fail(&err);
    if (!o->quiet) printf("hvp: H v over %ld rows (loss %.9g) written to %s\n", h.n, loss, o->out);
    return 0;
}

/* hessian: the largest and smallest eigenvalues of H and 2 / λmax, by
 * Lanczos (both ends from one run of products; --exact: all of them; --top
 * K: the K largest) */
int tr_cmd_hessian(const options *o)
{
    if (o->exact) return tr_hessian_exact(o);
    if (o->top) return tr_hessian_top(o);
    if (o->out)
        tr_die_usage("%s", "hessian -o FILE: the eigenvalues are written with --exact or --top K");
    hvp_rows h;
    tr_hvp_start(o, &h);
    /* tol 1e-6: λmin converges after λmax, and a movement of 1e-3 |λ|max
     * can still leave it 10% off (edge_of_stability: 11 products, -0.912
     * against -1.018; 36 products at 1e-6) */
    long iters = o->iters > 0 ? o->iters : 100, used;
    double tol = o->tol >= 0 ? o->tol : 1e-6, hi, lo;
    double move = tr_hessian_ends(&h, iters, tol, &hi, &lo, &used);
    printf("hessian over %ld rows (%s, Lanczos: %ld products, tol %g):\n", h.n, tr_hvp_at(o), used,
           tol);
    tr_hessian_print_ends(hi, lo, 9);
    if (move > tol)
        printf("not converged: after %ld products the ends still moved by %.3g of |lambda|max "
               "(tol %g); give more --iters\n",
               used, move, tol);
    return 0;
}

void tr_hessian_print_ends(double hi, double lo, int digits)
{
    printf("lambda_max %.*g\n", digits, hi);
    printf("lambda_min %.*g\n", digits, lo);
    if (hi > 0)
        printf("2/lambda_max %.*g (gradient descent with a larger lr diverges along the top "
               "direction)\n",
               digits, 2 / hi);
    else
        printf("2/lambda_max none (no positive curvature)\n");
}

/* train { track_sharpness = N }: λmax over the rows trained on (whole
 * batches, and the partial one the products exist for), at the weights now,
 * by the plain hessian's Lanczos (tol 1e-6, at most 100 products: the same
 * value as `hessian` at the same weights and rows). Its own row order: the
 * epoch's is train's. */
double tr_sharpness(train_run *r)
{
    static hvp_rows h;
    if (!h.part) {
        need_hvp();
        h.b = r->b;
        h.b.order = tr_alloc_or_die((size_t)MODEL_BATCH, sizeof(int32_t));
        h.d = r->d;
        h.n = r->n;
        if (h.n % MODEL_BATCH && h.n % MODEL_BATCH != MODEL_REMAINDER) h.n -= h.n % MODEL_BATCH;
        h.part = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
        h.noise = rt_noise_key(r->seed, 1);
    }
    long used;
    double hi, lo;
    tr_hessian_ends(&h, 100, 1e-6, &hi, &lo, &used);
    return hi;
}
