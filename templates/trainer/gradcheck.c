/* {{header}}
 *
 * gradcheck.c — the gradcheck command of the trainer of {{name}}: the
 * gradients of the backward pass against central finite differences.
 *
 * A central difference over [p - h, p + h] is the mean of the gradient over
 * that interval. Where the loss has a kink in it (relu and its kin: a hidden
 * unit of some row changes sign), that mean is not the gradient at p, and a
 * correct backward pass would fail. Float needs a large h (its rounding
 * noise in the loss is ~1e-7 |loss| / h), and a batch of rows puts a kink of
 * some row near most values. So each difference is taken only where the
 * gradient itself, computed by the backward pass at p +- h and p +- h/2, is
 * smooth over the interval and agrees with the loss between those points;
 * otherwise at half the step, and so on; a value with a kink within every
 * step is counted apart. The step is scaled to the value's magnitude. */
#include <float.h>
#include <math.h>
#include <stdio.h>

#include "trainer.h"

/* the first step (scaled to the value's magnitude) and how many times it
 * is halved at most */
#define GC_H0 (sizeof(real) == 8 ? 1e-6 : 1e-2)
#define GC_HALVINGS 4

/* What every evaluation shares: the first batch, the masks of the first
 * training step; the gradients of the perturbed evaluations. */
typedef struct gc_batch {
    buffers *b;
    real *grad;
    int rows;
    uint64_t noise;
} gc_batch;

/* The loss and the gradient of value i (at offset i) with the value at v. */
typedef struct gc_point {
    double at, loss, grad;
} gc_point;

static gc_point point_at(const gc_batch *g, long i, double v)
{
    buffers *b = g->b;
    const real saved = b->param[i];
    b->param[i] = (real)v;
    gc_point q = {(double)b->param[i], 0, 0}; /* the value the type can hold */
    q.loss = model_train_step(g->rows, b->param, g->grad, b->x, b->y, b->out, b->arena, g->noise);
    q.grad = g->grad[i];
    b->param[i] = saved;
    return q;
}

/* |a - b| / max(|a|, |b|, floor) */
static double relative(double a, double b, double floor_)
{
    double den = fabs(a) > fabs(b) ? fabs(a) : fabs(b);
    return fabs(a - b) / (den > floor_ ? den : floor_);
}

/* How far the gradient at the five points is from a straight line: its
 * second differences on either side of p and across it, O(h^2) where the
 * loss is smooth; a kink between shows its jump, or its change of slope. */
static double bend(const gc_point q[5])
{
    const double d[4] = {
        q[0].grad - 2 * q[1].grad + q[2].grad, q[2].grad - 2 * q[3].grad + q[4].grad,
        q[1].grad - 2 * q[2].grad + q[3].grad, q[0].grad - 2 * q[2].grad + q[4].grad};
    double most = 0;
    for (int k = 0; k < 4; k++)
        if (fabs(d[k]) > most) most = fabs(d[k]);
    return most;
}

/* How far the loss between the five points is from what the gradient at
 * them says (the trapezoid rule on each quarter), beyond what all quarters
 * share: a kink within a quarter that bend() misses (two jumps that undo
 * each other) shows here. A wrong gradient is off in every quarter alike
 * and does not. */
static double spread(const gc_point q[5])
{
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < 4; k++) {
        double e =
            (q[k + 1].loss - q[k].loss) / (q[k + 1].at - q[k].at) - (q[k].grad + q[k + 1].grad) / 2;
        if (e < lo) lo = e;
        if (e > hi) hi = e;
    }
    return hi - lo;
}

/* Value i's check: the relative error of its analytic gradient a against the
 * central difference at the first step over which the loss is smooth: bend
 * within tau = tol / 4 of the gradient (a jump left in moves the difference
 * by at most half of it), spread within 4 tau and the rounding noise (a
 * spike left in moves it by a quarter). The floor grows as the step
 * shrinks, as the rounding noise does. Returns -1 where no step was smooth
 * (a kink within every step tried). */
static double check_value(const gc_batch *g, long i, double a, double loss, double tol,
                          double floor_)
{
    const double p = (double)g->b->param[i];
    const double scale = fabs(p) > 1 ? fabs(p) : 1;
    /* the loss's rounding: about a unit in its last place */
    const double ulp = fabs(loss) * (sizeof(real) == 8 ? DBL_EPSILON : FLT_EPSILON);
    double h = GC_H0 * scale;
    gc_point q[5]; /* at p - h, p - h/2, p, p + h/2, p + h */
    q[0] = point_at(g, i, p - h), q[4] = point_at(g, i, p + h);
    q[2] = (gc_point){p, loss, a};
    for (int k = 0; k <= GC_HALVINGS; k++, floor_ *= 2) {
        q[1] = point_at(g, i, p - h / 2), q[3] = point_at(g, i, p + h / 2);
        double num = (q[4].loss - q[0].loss) / (q[4].at - q[0].at);
        double tau = tol / 4 * (fabs(a) > floor_ ? fabs(a) : floor_);
        if (bend(q) <= tau && spread(q) <= 4 * tau + 8 * ulp / h) return relative(a, num, floor_);
        /* half the step: the quarter points become the ends */
        h /= 2;
        q[0] = q[1], q[4] = q[3];
    }
    return -1;
}

/* The starting point: the weights of --weights FILE, or the spec's initial
 * ones from the seed. */
static void start_from(const options *o, buffers *b)
{
    rt_rng rng;
    rt_rng_seed(&rng, o->seed);
    model_init(b->param, &rng);
    if (o->weights_given) tr_load_weights(o, b);
}

/* Central differences on the first batch of the training data: for each
 * parameter value p, (L(p + h) - L(p - h)) / 2h against the backward pass. */
int tr_cmd_gradcheck(const options *o)
{
    buffers b = tr_alloc_buffers(MODEL_N_TRAIN);
    data d = tr_load_data(&b, 1, 0);
    start_from(o, &b);
    int rows = MODEL_N_TRAIN >= MODEL_BATCH ? MODEL_BATCH : MODEL_REMAINDER;
    for (int r = 0; r < rows; r++) b.order[r] = r;
    rt_data_gather(&d.train, b.order, rows, b.x, b.y);
    real *analytic = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    /* the masks of the first training step, the same in every evaluation */
    gc_batch g = {&b, tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real)), rows,
                  rt_noise_key(o->seed, 1)};
    double loss = model_train_step(rows, b.param, analytic, b.x, b.y, b.out, b.arena, g.noise);
    const double tol = o->tol >= 0 ? o->tol : sizeof(real) == 8 ? 1e-6 : 2e-2;
    double worst = 0;
    long compared = 0, kinks = 0;
    int blind = 0; /* a tensor none of whose values could be compared */
    /* relative error |a - n| / max(|a|, |n|, floor): the floor keeps values
     * near zero from dividing by rounding noise, which grows with |loss| / h */
    const double floor_ = 1e-3 * (fabs(loss) > 1 ? fabs(loss) : 1);
    for (int i = 0; i < model_n_param_tensors; i++) {
        const rt_param_info *p = &model_params[i];
        double tensor_worst = 0;
        if (!p->trainable) {
            if (!o->quiet)
                printf("%-28s %s, not checked\n", p->name,
                       p->buffer ? "running statistic" : "frozen");
            continue;
        }
        long stride = p->numel > 200 ? p->numel / 200 : 1; /* at most ~200 values per tensor */
        long tensor_kinks = 0, tensor_values = 0;
        for (long k = 0; k < p->numel; k += stride, tensor_values++) {
            long at = p->offset + k;
            double rel = check_value(&g, at, (double)analytic[at], loss, tol, floor_);
            if (rel < 0)
                tensor_kinks++;
            else if (rel > tensor_worst)
                tensor_worst = rel;
        }
        compared += tensor_values - tensor_kinks, kinks += tensor_kinks;
        if (tensor_kinks == tensor_values) blind = 1;
        if (!o->quiet) {
            printf("%-28s ", p->name);
            if (tensor_kinks)
                printf("%ld of %ld values at a kink, not compared; ", tensor_kinks, tensor_values);
            printf("max relative error %.3g\n", tensor_worst);
        }
        if (tensor_worst > worst) worst = tensor_worst;
    }
    int ok = worst <= tol && !blind;
    if (blind)
        printf("gradcheck: every value of a tensor had a kink within every step: it was not "
               "checked; try gradcheck in double (trainc --dtype double)\n");
    printf("gradcheck %s: max relative error %.3g (tolerance %.3g, h %.0e, floor %.2g, %s; %ld "
           "values compared, %ld not: a kink of the loss within every step; loss %.6g at %s)\n",
           ok ? "ok" : "FAILED", worst, tol, GC_H0, floor_, RT_REAL_NAME, compared, kinks, loss,
           o->weights_given ? o->weights : "the initial weights");
    return ok ? 0 : 1;
}
