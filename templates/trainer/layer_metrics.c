/* {{header}}
 *
 * layer_metrics.c — train --layer-metrics FILE of the trainer of {{name}}:
 * the health of each layer as CSV, a row per epoch (or every N steps with
 * --every-steps N), columns epoch,step and then <name>:<metric>:
 *   for each parameter tensor (running statistics excepted):
 *     weight_norm   ‖w‖ after the row's step
 *     grad_norm     ‖g‖ of the row's step (the last step before the row),
 *                   as the backward pass gave it (before any clipping)
 *     update_norm   ‖Δw‖ of the update the optimizer applied at that step
 *                   (the weights after it minus before it: momentum, Adam,
 *                   weight decay and clipping included)
 *     update_ratio  ‖Δw‖ / ‖w‖, w before the update (rule of thumb: ~1e-3)
 *     dist_init     ‖w − w₀‖, w₀ the weights the run started from
 *   for each activation (each nonlinearity's output), on one fixed batch:
 *   the first MODEL_BATCH training rows in file order, unaugmented, through
 *   model_probe (evaluation mode: dropout off, batch norm's running
 *   statistics), at the row's weights:
 *     mean, std     over all its values (std: population, ddof 0)
 *     zero          fraction of values exactly 0
 *     dead          fraction of units (a row's values: a feature, or a
 *                   channel at a position) that are 0 on every row
 *     saturated     (tanh, sigmoid, hardtanh only) fraction of values
 *                   within 0.01 of either bound
 * Row 0 (epoch 0, step 0) is the start, before any step: its gradient and
 * update columns are nan. Norms are accumulated in double. Nothing here
 * runs without --layer-metrics. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

struct layer_metrics {
    FILE *f;
    real *init, *before;       /* the weights at the start, and before this step */
    double *grad, *update;     /* per tensor: ‖g‖ and ‖Δw‖ of the last step */
    double *before_norm;       /* per tensor: ‖w‖ before the last step */
    real *arena, *x, *y, *out; /* the probe's arena and its fixed batch */
};

static int measured(int i)
{
    return !model_params[i].buffer;
}

/* ‖a‖, or ‖a − b‖ (b not NULL), in double */
static double norm(const real *a, const real *b, long n)
{
    double s = 0;
    for (long k = 0; k < n; k++) {
        double d = (double)a[k] - (b ? (double)b[k] : 0);
        s += d * d;
    }
    return sqrt(s);
}

/* The start: w₀, the fixed batch, the probe's arena. Called after the
 * initial weights (and --init) are in place, before a checkpoint replaces
 * them: a resumed run measures its distance from the same start. */
void tr_lm_begin(train_run *r, const options *o)
{
    if (!o->layer_metrics) return;
    if (r->d.train.n < MODEL_BATCH)
        tr_die_usage("--layer-metrics needs a whole batch of training rows (%s)", MODEL_BATCH_TEXT);
    layer_metrics *lm = r->lm = tr_alloc_or_die(1, sizeof *lm);
    int t = model_n_param_tensors;
    lm->init = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    lm->before = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    memcpy(lm->init, r->b.param, sizeof(real) * MODEL_N_PARAMS);
    lm->grad = tr_alloc_or_die((size_t)t, sizeof(double));
    lm->update = tr_alloc_or_die((size_t)t, sizeof(double));
    lm->before_norm = tr_alloc_or_die((size_t)t, sizeof(double));
    for (int i = 0; i < t; i++) lm->grad[i] = lm->update[i] = lm->before_norm[i] = NAN;
    lm->arena = tr_alloc_or_die((size_t)MODEL_PROBE_ARENA + 1, sizeof(real));
    lm->x = tr_alloc_or_die((size_t)MODEL_BATCH * MODEL_FEATURES, sizeof(real));
    lm->y = tr_alloc_or_die((size_t)MODEL_BATCH * MODEL_LABEL_LEN, sizeof(real));
    lm->out = tr_alloc_or_die((size_t)MODEL_BATCH * MODEL_OUTPUT_LEN, sizeof(real));
    int32_t first[MODEL_BATCH];
    for (int k = 0; k < MODEL_BATCH; k++) first[k] = k;
    rt_data_gather(&r->d.train, first, MODEL_BATCH, lm->x, lm->y);
    if (rt_data_read_error(&r->d.train)) tr_fail(rt_data_read_error(&r->d.train));
}

/* The file's header: epoch,step, then each tensor's and activation's columns */
static char *header(void)
{
    static const char *const pm[] = {"weight_norm", "grad_norm", "update_norm", "update_ratio",
                                     "dist_init"};
    static const char *const am[] = {"mean", "std", "zero", "dead", "saturated"};
    size_t size = 16;
    for (int i = 0; i < model_n_param_tensors; i++) size += 5 * (strlen(model_params[i].name) + 16);
    for (int i = 0; i < model_n_acts; i++) size += 5 * (strlen(model_acts[i].name) + 16);
    char *h = tr_alloc_or_die(size, 1);
    size_t len = (size_t)snprintf(h, size, "epoch,step");
    for (int i = 0; i < model_n_param_tensors; i++)
        for (int m = 0; m < 5 && measured(i); m++)
            len += (size_t)snprintf(h + len, size - len, ",%s:%s", model_params[i].name, pm[m]);
    for (int i = 0; i < model_n_acts; i++)
        for (int m = 0; m < 4 + model_acts[i].bounded; m++)
            len += (size_t)snprintf(h + len, size - len, ",%s:%s", model_acts[i].name, am[m]);
    return h;
}

/* The file, once the run knows where it stands: a resumed run keeps the
 * rows its checkpoint holds (by epoch, or by step with --every-steps). The
 * start's row when the run is new. */
void tr_lm_open(train_run *r, const options *o)
{
    layer_metrics *lm = r->lm;
    if (!lm) return;
    rt_error err;
    int afresh, by_step = o->every_steps > 0;
    double seconds;
    long long through = !o->resume ? -1 : by_step ? r->ck.run.step : r->ck.run.epoch;
    char *h = header();
    lm->f = rt_metrics_open(o->layer_metrics, h, by_step, through, &seconds, &afresh, &err);
    free(h);
    if (afresh)
        fprintf(stderr,
                "note: %s is not a layer metrics file of this trainer: starting it afresh\n",
                o->layer_metrics);
    if (!lm->f) tr_fail(&err);
    if (!o->resume) tr_lm_row(r, 0);
}

/* Before the optimizer's update: the weights and each tensor's ‖g‖. */
void tr_lm_before_update(layer_metrics *lm, const real *param, const real *grad)
{
    memcpy(lm->before, param, sizeof(real) * MODEL_N_PARAMS);
    for (int i = 0; i < model_n_param_tensors; i++) {
        const rt_param_info *p = &model_params[i];
        lm->grad[i] = norm(grad + p->offset, NULL, p->numel);
        lm->before_norm[i] = norm(param + p->offset, NULL, p->numel);
    }
}

/* After it: ‖Δw‖ per tensor; a row every N steps with --every-steps N. */
void tr_lm_after_update(train_run *r, const real *param)
{
    layer_metrics *lm = r->lm;
    for (int i = 0; i < model_n_param_tensors; i++) {
        const rt_param_info *p = &model_params[i];
        lm->update[i] = norm(param + p->offset, lm->before + p->offset, p->numel);
    }
    if (r->o->every_steps && r->step % r->o->every_steps == 0) tr_lm_row(r, r->epoch);
}

/* One activation's columns, from the probe's arena */
static void act_columns(FILE *f, const model_act *a, const real *v)
{
    const long units = a->numel / MODEL_BATCH;
    double sum = 0, sq = 0;
    long zero = 0, sat = 0, dead = 0;
    for (long k = 0; k < a->numel; k++) {
        double y = (double)v[k];
        sum += y;
        zero += y == 0;
        sat += a->bounded && (y <= a->lo + 0.01 || y >= a->hi - 0.01);
    }
    double mean = sum / (double)a->numel;
    for (long k = 0; k < a->numel; k++) sq += ((double)v[k] - mean) * ((double)v[k] - mean);
    for (long u = 0; u < units; u++) {
        long b = 0;
        while (b < MODEL_BATCH && v[b * units + u] == 0) b++;
        dead += b == MODEL_BATCH;
    }
    fprintf(f, ",%.9g,%.9g,%.9g,%.9g", mean, sqrt(sq / (double)a->numel),
            (double)zero / (double)a->numel, (double)dead / (double)units);
    if (a->bounded) fprintf(f, ",%.9g", (double)sat / (double)a->numel);
}

/* A row: the tensors' figures at the weights as they stand (the last
 * step's gradient and update), and the activations of the fixed batch. */
void tr_lm_row(train_run *r, int epoch)
{
    layer_metrics *lm = r->lm;
    const real *param = r->b.param;
    fprintf(lm->f, "%d,%ld", epoch, r->step);
    for (int i = 0; i < model_n_param_tensors; i++) {
        const rt_param_info *p = &model_params[i];
        if (!measured(i)) continue;
        double w = norm(param + p->offset, NULL, p->numel);
        double ratio = lm->update[i] / lm->before_norm[i];
        fprintf(lm->f, ",%.9g,%.9g,%.9g,%.9g,%.9g", w, lm->grad[i], lm->update[i],
                isfinite(ratio) ? ratio : NAN,
                norm(param + p->offset, lm->init + p->offset, p->numel));
    }
    if (model_n_acts) model_probe(param, lm->x, lm->y, lm->out, lm->arena);
    for (int i = 0; i < model_n_acts; i++)
        act_columns(lm->f, &model_acts[i], lm->arena + model_acts[i].offset);
    fprintf(lm->f, "\n");
}

void tr_lm_close(train_run *r)
{
    layer_metrics *lm = r->lm;
    if (!lm) return;
    if (lm->f && fclose(lm->f))
        fprintf(stderr, "%s: %s: %s\n", MODEL_NAME, r->o->layer_metrics, strerror(errno));
}
