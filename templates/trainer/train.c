/* {{header}}
 *
 * train.c — the train command of the trainer of {{name}}: start (or resume
 * from a checkpoint), then for each epoch shuffle the rows and run forward,
 * loss, backward and the optimizer's update on each batch (model.c); at the
 * end of each epoch report, evaluate, schedule, stop early, checkpoint; at
 * the end save the weights. The files a run writes besides (trace, metrics,
 * checkpoints, --init) are train_files.c's. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "trainer.h"

/* 1 when every value is a number (not NaN, not infinite) */
int tr_all_finite(const real *p, long n)
{
    for (long i = 0; i < n; i++)
        if (!isfinite(p[i])) return 0;
    return 1;
}

/* The divergence guard's message: training stops, and neither the weights
 * file nor the last good checkpoint is overwritten. */
int tr_diverged(const char *why, int epoch, long step, double lr)
{
    fflush(stdout);
    fprintf(stderr,
            "%s: training diverged at epoch %d, step %ld: %s; stopped without saving "
            "(the weights file and the last checkpoint are left as they were); "
            "try a lower learning rate, e.g. --lr %g\n",
            MODEL_NAME, epoch, step, why, lr / 10);
    return 1;
}

/* The buffers, the data, the initial weights and the rows to train on. */
static void begin_run(train_run *r, const options *o)
{
    r->b = tr_alloc_buffers(MODEL_N_TRAIN);
    r->d = tr_load_data(&r->b, 1, 1);
    rt_rng init_rng;
    rt_rng_seed(&init_rng, o->seed);
    rt_rng_seed(&r->shuffle_rng, o->seed ^ 0x9E3779B9u); /* its own stream: data order */
    /* and another: augmentation */
    rt_rng_seed(&r->aug_rng, o->seed ^ 0x85EBCA6Bu);
    model_init(r->b.param, &init_rng);
    if (o->init) tr_load_init(o, &r->b);

    r->n = r->d.train.n;
    r->remainder = MODEL_REMAINDER;
    if (o->limit > 0 && o->limit < r->n) {
        r->n = o->limit / MODEL_BATCH * MODEL_BATCH;
        if (r->n == 0) tr_die_usage("--limit is below one batch (%s rows)", MODEL_BATCH_TEXT);
        r->remainder = 0;
    }
    if (o->overfit) tr_overfit_begin(r); /* the first N rows */
    for (long i = 0; i < r->n; i++) r->b.order[i] = (int32_t)i;
    /* in file order, of real rows with nothing to apply, a batch is a
     * slice of the data: no copy */
    r->gather = MODEL_SHUFFLE || MODEL_STRATIFY || MODEL_AUGMENT || MODEL_SAMPLE_REPLACE ||
                !rt_data_plain(&r->d.train);
}

/* Everything a checkpoint holds; a resumed run (--resume) loads it and goes
 * on from there. Returns 0, or the exit status of a refused checkpoint. */
static int resume(train_run *r, const options *o)
{
    rt_error err;
    /* early stopping: the best monitored loss so far and its weights */
    r->es_weights = MODEL_EARLY_STOP && MODEL_ES_RESTORE
                        ? tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real))
                        : NULL;
    rt_checkpoint ck = {.order = r->b.order,
                        .n_order = r->n,
                        .params = r->b.param,
                        .state = r->b.state,
                        .stats = r->b.stats,
                        .n_params = MODEL_N_PARAMS,
                        .n_state = MODEL_N_STATE,
                        .n_stats = 2L * MODEL_FEATURES,
                        .best = r->es_weights,
                        .n_best = r->es_weights ? MODEL_N_PARAMS : 0};
    ck.run.base_lr = o->lr;
    ck.run.seed = o->seed;
    ck.run.rng = r->shuffle_rng;
    ck.run.aug_rng = r->aug_rng;
    ck.run.es.best = INFINITY;
    if (MODEL_PLATEAU) ck.run.plateau = model_plateau_init;
    r->ck = ck;
    if (!o->resume) return 0;
    if (rt_checkpoint_load(o->resume, MODEL_HASH, &r->ck, &err)) tr_fail(&err);
    /* runs stop after whole batches: a row within one would read past the data */
    if (r->ck.run.pos % MODEL_BATCH && r->ck.run.pos != r->n) {
        fprintf(stderr, "%s: %s: damaged: row %lld is not at a batch boundary\n", MODEL_NAME,
                o->resume, (long long)r->ck.run.pos);
        return 1;
    }
    /* the checkpoint's lr (a plateau schedule may have lowered it) unless
     * the command line names another */
    if (o->lr_given && o->lr != r->ck.run.base_lr) {
        if (!o->quiet)
            printf("%s: --lr %g replaces the checkpoint's lr %g (the run no longer repeats an "
                   "uninterrupted one)\n",
                   MODEL_NAME, o->lr, r->ck.run.base_lr);
        r->ck.run.base_lr = o->lr;
    }
    /* the masks of dropout go on from the checkpoint's seed, likewise */
    if (o->seed_given && o->seed != r->ck.run.seed) {
        if (!o->quiet)
            printf("%s: --seed %u replaces the checkpoint's seed %llu for dropout's masks (the "
                   "run no longer repeats an uninterrupted one)\n",
                   MODEL_NAME, o->seed, (unsigned long long)r->ck.run.seed);
        r->ck.run.seed = o->seed;
    }
    return 0;
}

/* Where the run stands (fresh or resumed): the start lines, the metrics
 * files, what batches need, the step, the clock and the learning rate. */
static void ready(train_run *r, const options *o)
{
    const rt_checkpoint *ck = &r->ck;
    r->seed = (uint32_t)ck->run.seed;
    if (!o->quiet)
        printf("%s: %ld training rows, batch %d, %ld parameters, %s, lr %g\n", MODEL_NAME, r->n,
               MODEL_BATCH, MODEL_N_PARAMS, MODEL_OPTIMIZER, ck->run.base_lr);
    if (o->resume && !o->quiet)
        printf("%s: resuming from %s at step %lld (epoch %lld, row %lld)\n", MODEL_NAME, o->resume,
               (long long)ck->run.step, (long long)ck->run.epoch + (ck->run.pos > 0),
               (long long)ck->run.pos);
    tr_open_metrics(r, o);
    r->shuffle_rng = ck->run.rng;
    r->aug_rng = ck->run.aug_rng;
    r->es = ck->run.es;
    /* what batches need on request: classes of the rows, an image's scratch */
    r->classes = MODEL_STRATIFY ? tr_row_classes(&r->d.train, r->n, &r->n_classes) : NULL;
    r->strat_scratch =
        MODEL_STRATIFY ? tr_alloc_or_die((size_t)(r->n + 2 * r->n_classes), sizeof(int32_t)) : NULL;
    r->aug_scratch = MODEL_AUGMENT ? tr_alloc_or_die((size_t)MODEL_FEATURES, sizeof(real)) : NULL;
    /* a progress line within the epoch on a terminal; plain lines otherwise */
    r->bar = !o->quiet && isatty(STDOUT_FILENO);
    r->progress = (rt_progress){.interval = 0.25, .last = 0};
    r->rows_run = 0; /* rows trained by this process, for its speed */

    r->step = (long)ck->run.step;
    r->t0 = rt_now();
    /* the learning rate: the schedule's function of the epoch or step count,
     * from the base lr (which a plateau schedule lowers between epochs) */
    r->base_lr = ck->run.base_lr, r->lr = r->base_lr;
    long steps_per_epoch = r->n / MODEL_BATCH + (r->remainder > 0 && r->n % MODEL_BATCH ? 1 : 0);
    r->total = MODEL_SCHEDULE_PER_STEP ? steps_per_epoch * o->epochs : o->epochs;
    if (MODEL_SCHEDULE_PER_STEP && o->steps >= 0 && o->steps < r->total) r->total = o->steps;
    r->plateau = ck->run.plateau; /* used by a plateau schedule only */
    r->stop = (o->steps >= 0 && r->step >= o->steps) || r->es.stopped;
    if (r->es.stopped && !o->quiet)
        printf("%s: this run stopped early after epoch %lld; nothing more to train\n", MODEL_NAME,
               (long long)ck->run.epoch);
    r->resume_pos = (long)ck->run.pos;
    /* a tiny net ends an epoch every step or two: what nobody reads is not
     * computed (--quiet without files: no accuracy, no norm, no epoch end) */
    r->need_correct = !o->quiet || r->metrics || o->checkpoint;
    r->need_norm = r->metrics || r->step_metrics || o->checkpoint || MODEL_STOP_GRAD_NORM > 0;
    r->epoch_due = !o->quiet || r->metrics || r->d.valid.n || MODEL_PLATEAU ||
                   MODEL_TRACK_SHARPNESS || o->overfit || r->lm || MODEL_EARLY_STOP ||
                   o->checkpoint;
    r->mpi_hash = getenv("TRAINC_MPI_HASH") != NULL; /* tr_mpi_step_hash's own test */
    r->step_extras = r->mpi_hash || r->lm || r->trace || r->step_metrics || r->bar ||
                     (o->checkpoint && o->every_steps);
    r->plain = !r->epoch_due && !r->step_extras && !r->need_norm && !r->need_correct &&
               !r->gather && !o->profile && !MODEL_CLOSURE_STEP;
}

/* An epoch's start: its figures from zero and a new order of the rows, or,
 * in the epoch the checkpoint stopped in, its order and figures so far.
 * Returns the first row to train. */
static long begin_epoch(train_run *r)
{
    if (!r->o->quiet) r->te = rt_now(); /* for the epoch's rows/s (a clock read costs) */
    r->loss_sum = 0, r->norm_sum = 0;
    r->norm_steps = 0;
    r->correct = 0, r->seen = 0, r->done = 0;
    r->bar_shown = 0;
    long first = 0;
    if (r->resume_pos > 0) {
        first = r->done = r->resume_pos;
        r->loss_sum = r->ck.run.loss_sum;
        r->correct = (long)r->ck.run.correct;
        r->seen = (long)r->ck.run.seen;
        r->norm_sum = r->ck.run.norm_sum;
        r->norm_steps = (long)r->ck.run.norm_steps;
        r->resume_pos = 0;
    } else if (r->o->overfit) {
        /* --overfit: file order */
    } else if (MODEL_STRATIFY) {
        rt_stratified_order(&r->shuffle_rng, r->classes, (int32_t)r->n, r->n_classes, MODEL_SHUFFLE,
                            r->b.order, r->strat_scratch);
    } else if (MODEL_SHUFFLE && !MODEL_SAMPLE_REPLACE) {
        rt_shuffle(&r->shuffle_rng, r->b.order, (int32_t)r->n);
    }
    return first;
}

/* The progress line within an epoch, on a terminal: rewritten in place. */
static void show_progress(train_run *r)
{
    const options *o = r->o;
    double now = r->bar ? rt_now() : 0;
    if (!r->bar || !rt_progress_due(&r->progress, now)) return;
    double rate = r->rows_run / (now - r->t0 > 1e-9 ? now - r->t0 : 1e-9);
    double left = (double)(r->n - r->done) + (double)(o->epochs - r->epoch) * (double)r->n;
    if (o->steps >= 0 && (double)(o->steps - r->step) * MODEL_BATCH < left)
        left = (double)(o->steps - r->step) * MODEL_BATCH;
    char line[512];
    rt_progress_format(line, sizeof line, rt_terminal_width(STDOUT_FILENO), r->epoch, o->epochs,
                       r->done, r->n, r->loss_sum / r->seen, rate, left / rate);
    printf("\r%s\033[K", line);
    fflush(stdout);
    r->bar_shown = 1;
}

/* The key of step `step`'s dropout masks (rt_noise_key), 0 when no op of
 * the step draws noise (MODEL_NOISE): its two hashes are a tiny net's
 * bookkeeping (xor: ~25 instructions of a step's ~1200) */
static uint64_t step_noise(const train_run *r, long step)
{
    return MODEL_NOISE ? rt_noise_key(r->seed, step) : 0;
}

/* The divergence guard: a loss or gradient that is no number. The norm
 * where it is recorded (need_norm); else only where the gradient's sum is
 * not finite (0 stands in: every element is finite). Returns 0, or the
 * exit status of a run that diverged; *grad_norm is the norm (or 0). */
static int diverged_at_step(train_run *r, real loss, double grad_norm)
{
    char why[96];
    snprintf(why, sizeof why, "the %s is %g", isfinite(loss) ? "gradient norm" : "loss",
             isfinite(loss) ? grad_norm : (double)loss);
    if (r->bar_shown) printf("\n");
    return tr_diverged(why, r->epoch, r->step + 1, r->base_lr);
}
static inline int guard(train_run *r, real loss, double *grad_norm)
{
    const options *o = r->o;
    *grad_norm = 0;
    if (r->need_norm || (!o->no_guard && !rt_sum_finite(r->b.grad, MODEL_N_PARAMS)))
        *grad_norm = sqrt(rt_sumsq(r->b.grad, MODEL_N_PARAMS));
    if (o->no_guard || (isfinite(loss) && isfinite(*grad_norm))) return 0;
    return diverged_at_step(r, loss, *grad_norm); /* its message apart: no buffer a step */
}

/* What a step writes besides, where asked (r->step_extras): the MPI hash,
 * layer metrics, the trace and step metrics, the progress line, a
 * checkpoint every N steps. */
static void after_step(train_run *r, double loss, double grad_norm)
{
    const options *o = r->o;
    if (r->mpi_hash) tr_mpi_step_hash(r->b.param);
    if (r->lm) tr_lm_after_update(r, r->b.param);
    if (r->trace) tr_trace_step(r->trace, r->step, loss, r->lr, r->b.param);
    if (r->step_metrics) {
        fprintf(r->step_metrics, "%ld,%d,%.9g,%.9g,%.17g,%.3f", r->step, r->epoch, loss, grad_norm,
                r->lr, r->step_metrics_t + rt_now() - r->t0);
        if (MODEL_CLOSURE_STEP) fprintf(r->step_metrics, ",%.17g,%d", r->step_size, r->step_evals);
        fprintf(r->step_metrics, "\n");
    }
    if (r->bar) show_progress(r);
    if (o->checkpoint && o->every_steps && r->step % o->every_steps == 0) tr_save_checkpoint(r, 0);
}

/* One batch of rows from start: a step of the model and the optimizer, its
 * figures, the trace and step metrics, the progress line, a checkpoint every
 * N steps. Returns 0, or the exit status of a run that diverged. */
static int train_batch(train_run *r, long start, int rows)
{
    const options *o = r->o;
    buffers *b = &r->b;
    /* a slice of the data, or the rows gathered (r->gather) */
    const real *bx = r->d.train.x + start * MODEL_FEATURES;
    const real *by = r->d.train.y ? r->d.train.y + start * MODEL_LABEL_LEN : b->y;
    if (r->gather) {
        /* rows as stored become real here: converted, scaled, standardised */
        rt_data_gather(&r->d.train, tr_batch_rows(r, start, rows), rows, b->x, b->y);
        if (rt_data_read_error(&r->d.train)) tr_fail(rt_data_read_error(&r->d.train));
        if (MODEL_AUGMENT && !o->overfit) {
            const rt_augment aug = {MODEL_IMAGE_C, MODEL_IMAGE_H, MODEL_IMAGE_W, MODEL_AUG_CROP,
                                    MODEL_AUG_FLIP};
            rt_augment_batch(&aug, &r->aug_rng, b->x, rows, r->aug_scratch);
        }
        bx = b->x;
        by = b->y;
    }
    /* dropout masks are keyed by the seed and the step (see rt_noise_key) */
    if (r->prof.timing) rt_prof_acc = r->prof.acc; /* --profile: profile.c */
    const long e = MODEL_SCHEDULE_PER_STEP ? r->step : r->epoch - 1;
    /* the update fused into the step when model.c has it, unless --profile
     * times the update apart or --layer-metrics reads the weights between
     * gradient and update. The guard below then sees the gradient after the
     * update: a run it stops saves nothing, so the weights it updated with a
     * non-finite gradient are never seen. */
    const int fused = model_train_update && !o->profile && !r->lm;
    real loss;
    if (fused) {
        r->lr = model_lr(e, r->base_lr, r->total);
        const model_update_args u = {b->state, r->lr, model_momentum(e, r->total), r->step + 1};
        loss = model_train_update(rows, b->param, b->grad, bx, by, b->out, b->arena,
                                  step_noise(r, r->step + 1), &u);
    } else {
        loss = model_train_step(rows, b->param, b->grad, bx, by, b->out, b->arena,
                                step_noise(r, r->step + 1));
    }
    rt_prof_acc = NULL;
    double grad_norm;
    int rc = guard(r, loss, &grad_norm);
    if (rc) return rc;
    if (MODEL_STOP_GRAD_NORM > 0 && tr_grad_norm_reached(r, (double)loss, grad_norm, by, rows))
        return 0;
    r->lr = model_lr(e, r->base_lr, r->total);
    if (r->lm) tr_lm_before_update(r->lm, b->param, b->grad);
    /* before the update: a closure step evaluates the batch again, into b->out */
    long correct = r->need_correct ? rt_count_correct(MODEL_TASK, b->out, MODEL_OUTPUT_LEN, by,
                                                      MODEL_LABEL_LEN, rows)
                                   : 0;
    const double t_update = r->prof.timing ? rt_now() : 0;
    if (fused) {
        ++r->step; /* updated in the step */
    } else if (MODEL_CLOSURE_STEP) {
        ++r->step;
        tr_closure_step(r, rows, bx, by, step_noise(r, r->step), (double)loss);
    } else {
        model_update(b->param, b->grad, b->state, r->lr, model_momentum(e, r->total), ++r->step);
    }
    if (r->prof.timing) r->prof.update += rt_now() - t_update;
    if (r->rows_run == 0) r->first_loss = (double)loss; /* for hints.c */
    r->loss_sum += (double)loss * rows;
    if (r->need_norm) r->norm_sum += grad_norm, r->norm_steps++;
    r->correct += correct;
    r->seen += rows;
    if (o->steps >= 0 && r->step >= o->steps) r->stop = 1;
    r->done = start + rows;
    r->rows_run += rows;
    if (r->step_extras) after_step(r, (double)loss, grad_norm);
    return 0;
}

/* A run with nothing to print, write or decide between its steps but the
 * divergence guard and --steps (r->plain: --quiet, no files, no validation,
 * rows in file order, ...): train_batch's step and update without its
 * other tests, epoch after epoch (their ends have nothing to do). The same
 * steps, the same bits. Returns 0, or the exit status of a diverged run. */
static int train_plain(train_run *r)
{
    const options *o = r->o;
    buffers *b = &r->b;
    const int fused = model_train_update != NULL; /* no --profile, no --layer-metrics */
    const long full = r->n / MODEL_BATCH * MODEL_BATCH;
    for (r->epoch = (int)r->ck.run.epoch + 1; r->epoch <= o->epochs && !r->stop; r->epoch++) {
        const long first = r->resume_pos; /* the epoch a checkpoint stopped in: from its row */
        r->resume_pos = 0;
        for (long start = first; start < r->n && !r->stop; start += MODEL_BATCH) {
            const int rows = start < full ? MODEL_BATCH : r->remainder;
            if (rows == 0) break; /* drop_last */
            const real *bx = r->d.train.x + start * MODEL_FEATURES;
            const real *by = r->d.train.y ? r->d.train.y + start * MODEL_LABEL_LEN : b->y;
            const long e = MODEL_SCHEDULE_PER_STEP ? r->step : r->epoch - 1;
            const uint64_t noise = step_noise(r, r->step + 1);
            r->lr = model_lr(e, r->base_lr, r->total);
            real loss;
            if (fused) {
                const model_update_args u = {b->state, r->lr, model_momentum(e, r->total),
                                             r->step + 1};
                loss = model_train_update(rows, b->param, b->grad, bx, by, b->out, b->arena,
                                          noise, &u);
            } else {
                loss = model_train_step(rows, b->param, b->grad, bx, by, b->out, b->arena, noise);
            }
            double grad_norm;
            int rc = guard(r, loss, &grad_norm);
            if (rc) return rc;
            if (!fused)
                model_update(b->param, b->grad, b->state, r->lr, model_momentum(e, r->total),
                             r->step + 1);
            r->step++;
            if (r->rows_run == 0) r->first_loss = (double)loss;
            r->rows_run += rows;
            r->done = start + rows;
            if (o->steps >= 0 && r->step >= o->steps) r->stop = 1;
        }
    }
    return 0;
}

/* Early stopping at a whole epoch's end: the best loss so far (and its
 * weights), or, after MODEL_ES_PATIENCE epochs without one, the end. */
static void early_stop(train_run *r, double watched, int on_valid)
{
    rt_early_stop *es = &r->es;
    if (watched < es->best - MODEL_ES_MIN_DELTA) {
        es->best = watched;
        es->best_epoch = r->epoch;
        es->wait = 0;
        if (r->es_weights) memcpy(r->es_weights, r->b.param, sizeof(real) * MODEL_N_PARAMS);
    } else if (++es->wait >= MODEL_ES_PATIENCE) {
        r->stop = 1;
        es->stopped = 1;
        if (!r->o->quiet)
            printf("early stopping after epoch %d: no improvement for %d epochs; best %s "
                   "loss %.6g at epoch %lld%s\n",
                   r->epoch, MODEL_ES_PATIENCE, on_valid ? "validation" : "training", es->best,
                   (long long)es->best_epoch, r->es_weights ? " (its weights restored)" : "");
        if (r->es_weights) memcpy(r->b.param, r->es_weights, sizeof(real) * MODEL_N_PARAMS);
    }
}

/* An epoch's end (or where --steps stopped it): its line and metrics, the
 * plateau schedule, early stopping and the checkpoint. */
static void end_epoch(train_run *r, long full)
{
    const options *o = r->o;
    if (r->bar_shown) printf("\r\033[K"); /* the epoch's line replaces the progress line */
    /* the epoch ran to its end (drop_last: to its last full batch) */
    int complete = r->done >= r->n || (r->remainder == 0 && r->done >= full);
    double now = !o->quiet || r->metrics ? rt_now() : 0; /* read only where printed */
    result tr = {r->loss_sum / (r->seen ? r->seen : 1),
                 (double)r->correct / (r->seen ? r->seen : 1)};
    result va = {NAN, NAN};
    if (r->d.valid.n) va = tr_evaluate(&r->d.valid, &r->b);
    /* a regression has no accuracy: nan in the metrics, not a column of zeros */
    const int has_accuracy = MODEL_TASK != RT_TASK_NONE && MODEL_TASK != RT_TASK_REGRESS;
    /* plateau: once per whole epoch (a run stopped within one steps it on
     * resuming) */
    if (MODEL_PLATEAU && complete)
        r->base_lr = rt_plateau_step(
            &r->plateau, r->plateau.monitor_loss || !r->d.valid.n ? tr.loss : va.loss, r->base_lr);
    /* track_sharpness = N: λmax every N whole epochs (NaN between) */
    double sharpness = MODEL_TRACK_SHARPNESS && complete && r->epoch % MODEL_TRACK_SHARPNESS == 0
                           ? tr_sharpness(r)
                           : NAN;
    if (o->overfit) tr_overfit_epoch(r); /* learnt yet? */
    if (!o->quiet && (!o->overfit || tr_overfit_show(r))) {
        printf("epoch %3d/%d  loss %.6g", r->epoch, o->epochs, tr.loss);
        if (has_accuracy) printf("  acc %.4f", tr.accuracy);
        if (r->d.valid.n) printf("  valid loss %.4g", va.loss);
        if (r->d.valid.n && has_accuracy) printf(" acc %.4f", va.accuracy);
        if (!isnan(sharpness)) printf("  sharpness %.4g (2/lr %.4g)", sharpness, 2 / r->lr);
        printf("  lr %.4g  %.0f rows/s  %.1fs\n", r->lr,
               r->seen / (now - r->te > 0 ? now - r->te : 1e-9), now - r->t0);
        fflush(stdout);
    }
    if (r->metrics) {
        fprintf(r->metrics, "%d,%ld,%.9g,%.6f,%.9g,%.6f,%.17g,%.9g,%.3f", r->epoch, r->step,
                tr.loss, has_accuracy ? tr.accuracy : NAN, va.loss,
                has_accuracy ? va.accuracy : NAN, r->lr,
                r->norm_steps ? r->norm_sum / r->norm_steps : NAN, r->metrics_t + now - r->t0);
        if (MODEL_CLOSURE_STEP) fprintf(r->metrics, ",%.17g,%d", r->step_size, r->step_evals);
        if (MODEL_TRACK_SHARPNESS) fprintf(r->metrics, ",%.9g", sharpness);
        fprintf(r->metrics, "\n");
    }
    if (r->lm && !o->every_steps) tr_lm_row(r, r->epoch);
    if (complete && r->done > 0 && !o->quiet) tr_hint_epoch(r, tr.loss); /* printed unless quiet */
    if (MODEL_EARLY_STOP && complete && !o->overfit) {
        int on_valid = !(MODEL_ES_MONITOR_LOSS || !r->d.valid.n);
        early_stop(r, on_valid ? va.loss : tr.loss, on_valid);
    }
    /* every N epochs, and always where the run ends (by --steps, early
     * stopping or its last epoch) */
    if (o->checkpoint && complete &&
        (r->stop || r->epoch == o->epochs ||
         (!o->every_steps && r->epoch % (o->every ? o->every : 1) == 0)))
        tr_save_checkpoint(r, 1);
    else if (o->checkpoint && !complete) /* stopped by --steps within the epoch */
        tr_save_checkpoint(r, 0);
}

/* The run's end: the weights saved (unless they are no longer numbers), the
 * loss on the test data, the curves. */
static int finish(train_run *r)
{
    const options *o = r->o;
    rt_error err;
    if (r->metrics) fclose(r->metrics);
    if (r->step_metrics) fclose(r->step_metrics);
    if (r->trace) fclose(r->trace);
    tr_lm_close(r);
    if (o->overfit) return tr_overfit_finish(r);

    if (!o->no_guard && !tr_all_finite(r->b.param, MODEL_N_PARAMS))
        return tr_diverged("the weights are no longer finite", o->epochs, r->step, r->base_lr);
    rt_weights w = {r->b.param, MODEL_N_PARAMS, MODEL_STANDARDIZE ? r->b.stats : NULL,
                    MODEL_STANDARDIZE ? 2L * MODEL_FEATURES : 0};
    tr_mpi_final_hash(r->b.param);
    if (tr_rank() == 0 && rt_weights_save(o->weights, MODEL_HASH, &w, &err)) tr_fail(&err);
    if (!o->quiet) printf("saved %s (%ld steps, %.1fs)\n", o->weights, r->step, rt_now() - r->t0);
    if (r->d.test.n)
        tr_print_result("test", tr_evaluate(&r->d.test, &r->b));
    else
        tr_print_result("train", tr_evaluate(&r->d.train, &r->b));
    tr_hint_print(r);
    /* ---- the curves of this run, from its metrics file (rt_plot.c); not
     * when the metrics went to a pipe or a terminal (--metrics /dev/stdout),
     * unless --plot asks ---- */
    struct stat st;
    if (o->metrics && (o->plot || (!stat(o->metrics, &st) && S_ISREG(st.st_mode))))
        return tr_plot_curves(o->metrics, o->plot, o->quiet);
    return 0;
}

/* Epoch by epoch, batch by batch. Returns 0, or the exit status of a run
 * that diverged. */
static int train_epochs(train_run *r)
{
    const options *o = r->o;
    int rc;
    for (r->epoch = (int)r->ck.run.epoch + 1; r->epoch <= o->epochs && !r->stop; r->epoch++) {
        long first = begin_epoch(r), full = r->n / MODEL_BATCH * MODEL_BATCH;
        for (long start = first; start < r->n && !r->stop; start += MODEL_BATCH) {
            int rows = start < full ? MODEL_BATCH : r->remainder;
            if (rows == 0) break; /* drop_last */
            if (o->profile) tr_profile_step_begin(&r->prof, rows);
            if ((rc = train_batch(r, start, rows))) return rc;
            if (o->profile) tr_profile_step_end(&r->prof);
        }
        if (r->epoch_due) end_epoch(r, full);
    }
    return 0;
}

/* The run: its start, then epoch by epoch, batch by batch, to its end. */
int tr_cmd_train(const options *o)
{
    options overfit_options;
    if (o->overfit) o = tr_overfit_options(o, &overfit_options);
    train_run run = {.o = o, .first_loss = NAN}, *r = &run;
    int rc;
    begin_run(r, o);
    tr_lm_begin(r, o);
    if ((rc = tr_open_trace(r, o)) || (rc = resume(r, o))) return rc;
    ready(r, o);
    tr_lm_open(r, o);
    if (o->profile) tr_profile_begin(&r->prof);
    if ((rc = r->plain ? train_plain(r) : train_epochs(r))) return rc;
    rc = finish(r);
    if (o->profile) tr_profile_report(&r->prof);
    return rc;
}
