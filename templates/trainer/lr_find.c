/* {{header}}
 *
 * lr_find.c — the lr-find command of the trainer of {{name}}: the
 * learning-rate range test. From the initial weights (or --init, or
 * --weights FILE) it trains --steps steps with the spec's optimizer, the lr
 * of step i growing from --from to --to as from * (to/from)^(i/(steps-1)),
 * records the loss and fastai's smoothed loss, and stops at the first step
 * whose smoothed loss passes 4 x the best so far (or is not finite). It
 * writes the curve as CSV (step,lr,loss,smoothed) and a picture beside it,
 * and prints the suggested lr: the lr of the lowest smoothed loss over 10,
 * within the steps after the first tenth and before the last 5 (see
 * rt_lr_suggest in rt_lr_find.c and the README for why not fastai's valley). Nothing on
 * disk is overwritten, and the weights, the optimizer state and the random
 * streams in memory are put back afterwards (checked by a checksum). */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainer.h"

/* what the test changes, saved to be put back afterwards */
typedef struct saved {
    real *param, *state;
    rt_rng shuffle_rng, aug_rng;
} saved;

/* FNV-1a of the weights' and the optimizer state's bytes: the same before
 * and after proves they were put back */
static unsigned long long checksum(const buffers *b)
{
    unsigned long long h = 0xcbf29ce484222325ull;
    const unsigned char *p = (const unsigned char *)b->param;
    for (size_t i = 0; i < sizeof(real) * (size_t)MODEL_N_PARAMS; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    const size_t state_bytes = sizeof(real) * (size_t)MODEL_N_STATE; /* may be 0 */
    p = (const unsigned char *)b->state;
    for (size_t i = 0; i + 1 <= state_bytes; i++) h = (h ^ p[i]) * 0x100000001b3ull;
    return h;
}

/* The CSV's and the picture's names: -o FILE (refused when either exists),
 * or <model>-lr-find.csv, -2.csv, ... the first whose two names are free.
 * Checked before the data loads; the CSV is opened after it (open_csv). */
static void choose_output(const options *o, char *csv, char *svg, size_t size)
{
    tr_choose_csv_svg(o, "lr-find", csv, svg, size);
}

/* The CSV opened for writing ("x": never over a file), or exit 1. */
static FILE *open_csv(const char *csv)
{
    FILE *f = fopen(csv, "wx");
    if (!f) {
        fprintf(stderr, "%s: lr-find: %s: %s\n", MODEL_NAME, csv, strerror(errno));
        exit(1);
    }
    fprintf(f, "step,lr,loss,smoothed\n");
    return f;
}

/* The batch of step `step` (from 1): the next MODEL_BATCH rows of the
 * order, which is shuffled anew (as train does) each time it is used up.
 * Returns the rows. */
static int next_batch(buffers *b, data *d, long n, long *pos, rt_rng *shuffle_rng, rt_rng *aug_rng,
                      real *aug_scratch)
{
    const int rows = n >= MODEL_BATCH ? MODEL_BATCH : (int)n;
    if (*pos + rows > n) *pos = 0;
    if (*pos == 0 && MODEL_SHUFFLE) rt_shuffle(shuffle_rng, b->order, (int32_t)n);
    if (model_train_data.kind != RT_SRC_NONE) {
        rt_data_gather(&d->train, b->order + *pos, rows, b->x, b->y);
        if (rt_data_read_error(&d->train)) tr_fail(rt_data_read_error(&d->train));
        const rt_augment aug = {MODEL_IMAGE_C, MODEL_IMAGE_H, MODEL_IMAGE_W, MODEL_AUG_CROP,
                                MODEL_AUG_FLIP};
        if (MODEL_AUGMENT) rt_augment_batch(&aug, aug_rng, b->x, rows, aug_scratch);
    }
    *pos += rows;
    return rows;
}

/* The steps: each at its lr, one CSV line each, until --steps or the stop
 * rule. Fills smoothed[] and lrs[]; returns the steps recorded. */
static long run_steps(const options *o, buffers *b, data *d, FILE *csv, double *smoothed,
                      double *lrs, rt_rng *shuffle_rng, rt_rng *aug_rng)
{
    const long steps = o->steps, n = d->train.n;
    real *aug_scratch =
        MODEL_AUGMENT ? tr_alloc_or_die((size_t)MODEL_FEATURES, sizeof(real)) : NULL;
    for (long i = 0; i < n; i++) b->order[i] = (int32_t)i;
    rt_lr_smooth sm;
    rt_lr_smooth_init(&sm);
    long pos = 0, step = 0;
    while (step < steps) {
        int rows = next_batch(b, d, n, &pos, shuffle_rng, aug_rng, aug_scratch);
        double lr = rt_lr_range(o->lr_from, o->lr_to, step, steps);
        step++;
        double loss = model_train_step(rows, b->param, b->grad, b->x, b->y, b->out, b->arena,
                                       rt_noise_key(o->seed, step));
        /* the spec's optimizer at this step's lr (its own momentum) */
        /* (tr_cmd_lr_find refuses L-BFGS, CG, line searches: they have no model_update) */
        model_update(b->param, b->grad, b->state, lr, model_momentum(0, steps), step);
        double s = rt_lr_smooth_add(&sm, loss);
        smoothed[step - 1] = s, lrs[step - 1] = lr;
        fprintf(csv, "%ld,%.17g,%.17g,%.17g\n", step, lr, loss, s);
        if (rt_lr_smooth_stop(&sm, s)) {
            if (!o->quiet)
                printf("%s: lr-find: stopped at step %ld (lr %.3g): the smoothed loss %.4g %s "
                       "(best %.4g)\n",
                       MODEL_NAME, step, lr, s,
                       isfinite(s) ? "passed 4 x the best" : "is not finite", sm.best);
            break;
        }
    }
    free(aug_scratch);
    return step;
}

/* The weights, the optimizer state and the random streams as they were;
 * says so, with the checksum before and after (differing: exit 1). */
static int put_back(const options *o, buffers *b, const saved *sv, unsigned long long before)
{
    /* TRAINC_TEST_LR_FIND_KEEP: tests' negative control, the check must see it */
    if (!getenv("TRAINC_TEST_LR_FIND_KEEP")) {
        memcpy(b->param, sv->param, sizeof(real) * MODEL_N_PARAMS);
        memcpy(b->state, sv->state, sizeof(real) * MODEL_N_STATE);
    }
    unsigned long long after = checksum(b);
    if (after != before) {
        fprintf(stderr,
                "%s: lr-find: the weights and optimizer state were not put back (checksum "
                "%016llx before, %016llx after)\n",
                MODEL_NAME, before, after);
        return 1;
    }
    if (!o->quiet)
        printf("%s: lr-find: weights and optimizer state put back (checksum %016llx before and "
               "after)\n",
               MODEL_NAME, before);
    return 0;
}

int tr_cmd_lr_find(const options *o_in)
{
    options opts = *o_in, *o = &opts;
    if (MODEL_CLOSURE_STEP)
        tr_die_usage("%s", !strcmp(MODEL_OPTIMIZER, "lbfgs")
                               ? "lr-find is for first-order optimizers: L-BFGS chooses its own "
                                 "step length (its line search and curvature pairs)"
                           : !strcmp(MODEL_OPTIMIZER, "newton")
                               ? "lr-find is for first-order optimizers: Newton's method takes "
                                 "its step from the Hessian (lr = 1 is the full Newton step)"
                               : "lr-find is for optimizers with a fixed step: this one chooses "
                                 "its own step length (its line search)");
    if (o->steps < 0) o->steps = 100;
    if (o->steps < 10) tr_die_usage("lr-find: --steps must be at least %s", "10");
    if (!(o->lr_to > o->lr_from)) tr_die_usage("lr-find: --to must be above --from%s", "");
    char csv_path[4096], svg_path[4200];
    choose_output(o, csv_path, svg_path, sizeof csv_path);

    buffers b = tr_alloc_buffers(MODEL_N_TRAIN);
    data d = tr_load_data(&b, 1, 0);
    rt_rng init_rng;
    rt_rng_seed(&init_rng, o->seed);
    model_init(b.param, &init_rng);
    if (o->weights_given) tr_load_weights(o, &b);
    if (o->init) tr_load_init(o, &b);
    saved sv;
    sv.param = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    sv.state = tr_alloc_or_die((size_t)MODEL_N_STATE + 1, sizeof(real));
    rt_rng_seed(&sv.shuffle_rng, o->seed ^ 0x9E3779B9u); /* train's streams */
    rt_rng_seed(&sv.aug_rng, o->seed ^ 0x85EBCA6Bu);
    memcpy(sv.param, b.param, sizeof(real) * MODEL_N_PARAMS);
    memcpy(sv.state, b.state, sizeof(real) * MODEL_N_STATE);
    const unsigned long long before = checksum(&b);
    if (!o->quiet)
        printf("%s: lr-find: %ld steps of %d rows, lr %g to %g, %s, from %s\n", MODEL_NAME,
               o->steps, MODEL_BATCH, o->lr_from, o->lr_to, MODEL_OPTIMIZER,
               o->weights_given ? o->weights
               : o->init        ? o->init
                                : "the initial weights");

    FILE *csv = open_csv(csv_path);
    double *smoothed = tr_alloc_or_die((size_t)o->steps, sizeof(double));
    double *lrs = tr_alloc_or_die((size_t)o->steps, sizeof(double));
    rt_rng shuffle_rng = sv.shuffle_rng, aug_rng = sv.aug_rng; /* copies: sv's stay as they were */
    long n = run_steps(o, &b, &d, csv, smoothed, lrs, &shuffle_rng, &aug_rng);
    if (fclose(csv)) {
        fprintf(stderr, "%s: lr-find: %s: %s\n", MODEL_NAME, csv_path, strerror(errno));
        return 1;
    }
    if (put_back(o, &b, &sv, before)) return 1;

    double suggested = rt_lr_suggest(lrs, smoothed, n);
    rt_error err;
    rt_metrics m;
    rt_plot_options po = {MODEL_NAME, csv_path, 0};
    if (rt_metrics_read(csv_path, &m, &err) || rt_plot_lr_find(&m, suggested, svg_path, &po, &err))
        tr_fail(&err);
    rt_metrics_free(&m);
    if (!o->quiet) printf("%s: lr-find: wrote %s and %s\n", MODEL_NAME, csv_path, svg_path);
    if (isnan(suggested)) {
        fprintf(stderr,
                "%s: lr-find: the loss diverged after %ld steps, too few to suggest an lr (the "
                "first tenth and the last 5 are left out); try a lower --from\n",
                MODEL_NAME, n);
        return 1;
    }
    printf("suggested lr: %.3g\n", suggested);
    return 0;
}
