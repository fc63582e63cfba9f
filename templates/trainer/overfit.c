/* {{header}}
 *
 * overfit.c — train --overfit N of the trainer of {{name}}: the course's
 * first check of a new model, that it can learn a few rows by heart. It
 * trains on the first N training rows in file order (no shuffle), with
 * regularisation off (dropout and dropconnect keep every value, weight decay
 * and the l1/l2 penalties are 0: the generated code reads model_regularise;
 * no augmentation, no early stopping), until the N rows are learnt: every
 * one classified right (classifiers), or the loss below 1e-4 of its start
 * (others), judged after each epoch in evaluation mode. train.c calls these
 * hooks; the rest of the run is train's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "trainer.h"

/* the figures of the N rows, as each epoch's end measured them */
struct tr_overfit {
    rt_dataset rows; /* the first N training rows */
    double start_loss;
    result best;    /* the highest accuracy (the lowest loss for the others) */
    long best_step; /* ... after this step */
    int reached;
};

/* accuracy is the goal when the task has one */
static int by_accuracy(void)
{
    return MODEL_TASK != RT_TASK_NONE && MODEL_TASK != RT_TASK_REGRESS;
}

const options *tr_overfit_options(const options *o, options *copy)
{
    *copy = *o;
    if (o->resume) tr_die_usage("%s", "--overfit starts afresh: it takes no --resume");
    if (o->limit > 0) tr_die_usage("%s", "--overfit N picks the rows itself: drop --limit");
    if (o->overfit % MODEL_BATCH) {
        char what[160];
        snprintf(what, sizeof what,
                 "--overfit %ld: the rows must be whole batches of %d (%d, %d, ...)", o->overfit,
                 MODEL_BATCH, MODEL_BATCH, 2 * MODEL_BATCH);
        tr_die_usage("%s", what);
    }
    /* without --epochs: the spec's, but room for 2000 steps at least */
    long per_epoch = o->overfit / MODEL_BATCH, want = (2000 + per_epoch - 1) / per_epoch;
    if (!o->epochs_given && want > copy->epochs) copy->epochs = (int)want;
    return copy;
}

void tr_overfit_begin(train_run *r)
{
    const options *o = r->o;
    if (o->overfit > r->d.train.n) {
        char what[160];
        snprintf(what, sizeof what, "--overfit %ld: the training data has %ld rows", o->overfit,
                 (long)r->d.train.n);
        tr_die_usage("%s", what);
    }
    struct tr_overfit *of = tr_alloc_or_die(1, sizeof *of);
    r->overfit = of;
    r->n = o->overfit;
    r->remainder = 0;
    of->rows = r->d.train;
    of->rows.n = (int32_t)o->overfit;
    model_regularise = 0; /* read by the generated step and update */
    of->start_loss = tr_evaluate(&of->rows, &r->b).loss;
    of->best = (result){INFINITY, -1};
    if (o->quiet) return;
    printf("overfit: the first %ld rows in file order, at most %d epochs; turned off:", o->overfit,
           o->epochs);
    int any = 0;
    if (MODEL_N_DROPOUT)
        printf(" %d dropout%s", MODEL_N_DROPOUT, MODEL_N_DROPOUT > 1 ? "s" : ""), any = 1;
    if (MODEL_N_DROPCONNECT)
        printf("%s %d dropconnect%s", any ? "," : "", MODEL_N_DROPCONNECT,
               MODEL_N_DROPCONNECT > 1 ? "s" : ""),
            any = 1;
    if (MODEL_WEIGHT_DECAY) printf("%s weight decay", any ? "," : ""), any = 1;
    if (MODEL_N_PENALTY)
        printf("%s %d penalt%s", any ? "," : "", MODEL_N_PENALTY,
               MODEL_N_PENALTY > 1 ? "ies" : "y"),
            any = 1;
    if (MODEL_AUGMENT) printf("%s augmentation", any ? "," : ""), any = 1;
    if (MODEL_EARLY_STOP) printf("%s early stopping", any ? "," : ""), any = 1;
    if (MODEL_SAMPLE_REPLACE) printf("%s sampling with replacement", any ? "," : ""), any = 1;
    if (!any)
        printf(" nothing (the spec has no dropout, dropconnect, weight decay, penalty, "
               "augmentation, early stopping or sampling with replacement)");
    printf("\n");
}

void tr_overfit_epoch(train_run *r)
{
    struct tr_overfit *of = r->overfit;
    result now = tr_evaluate(&of->rows, &r->b);
    int better = by_accuracy() ? now.accuracy > of->best.accuracy ||
                                     (now.accuracy == of->best.accuracy && now.loss < of->best.loss)
                               : now.loss < of->best.loss;
    if (better) of->best = now, of->best_step = r->step;
    of->reached = by_accuracy() ? now.accuracy >= 1 : now.loss < 1e-4 * of->start_loss;
    if (of->reached) r->stop = 1;
}

int tr_overfit_show(const train_run *r)
{
    const int e = r->epoch;
    return (e & (e - 1)) == 0 || e == r->o->epochs || r->stop || r->overfit->reached;
}

int tr_overfit_finish(train_run *r)
{
    const options *o = r->o;
    const struct tr_overfit *of = r->overfit;
    rt_error err;
    /* the weights of an overfit run are saved only where --weights says */
    if (o->weights_given) {
        rt_weights w = {r->b.param, MODEL_N_PARAMS, MODEL_STANDARDIZE ? r->b.stats : NULL,
                        MODEL_STANDARDIZE ? 2L * MODEL_FEATURES : 0};
        if (rt_weights_save(o->weights, MODEL_HASH, &w, &err)) tr_fail(&err);
        if (!o->quiet) printf("saved %s (%ld steps)\n", o->weights, r->step);
    }
    struct stat st;
    if (o->metrics && (o->plot || (!stat(o->metrics, &st) && S_ISREG(st.st_mode))))
        tr_plot_curves(o->metrics, o->plot, o->quiet);
    result now = tr_evaluate(&of->rows, &r->b);
    char goal[96];
    if (by_accuracy())
        snprintf(goal, sizeof goal, "100%% training accuracy");
    else
        snprintf(goal, sizeof goal, "a loss below 1e-4 of its start %.6g", of->start_loss);
    if (of->reached) {
        printf("overfit: reached %s on the first %ld rows in %ld steps (train loss %.6g", goal,
               o->overfit, r->step, now.loss);
        if (by_accuracy()) printf("  accuracy %.4f", now.accuracy);
        printf(")\n");
        return 0;
    }
    printf("overfit: did not reach %s on the first %ld rows in %ld steps: best train loss %.6g",
           goal, o->overfit, r->step, of->best.loss);
    if (by_accuracy()) printf("  accuracy %.4f", of->best.accuracy);
    printf(" after step %ld; now loss %.6g", of->best_step, now.loss);
    if (by_accuracy()) printf("  accuracy %.4f", now.accuracy);
    printf(" (more epochs, another lr, or a model that can learn)\n");
    return 1;
}
