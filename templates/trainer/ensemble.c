/* {{header}}
 *
 * ensemble.c — the predictions of {{name}} row by row, of one weights file
 * or of several (eval and predict --weights a.w,b.w,c.w: an ensemble of
 * trainings of this spec, whose probabilities, or values for regression,
 * are averaged). eval's figures of an ensemble; the rows eval --failures
 * lists (failures.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "trainer.h"

const char **tr_weights_list(const options *o, int *count)
{
    const char *w = o->weights;
    /* one file: the default, a name without a comma, or an existing file
     * whose name has one (as --weights always took it) */
    if (!o->weights_given || !strchr(w, ',') || access(w, F_OK) == 0) {
        const char **one = tr_alloc_or_die(1, sizeof *one);
        one[0] = w;
        *count = 1;
        return one;
    }
    int n = 1;
    for (const char *c = w; *c; c++) n += *c == ',';
    const char **list = tr_alloc_or_die((size_t)n, sizeof *list);
    char *copy = tr_alloc_or_die(strlen(w) + 1, 1);
    strcpy(copy, w);
    char *item = copy;
    for (int i = 0; i < n; i++) {
        char *comma = strchr(item, ',');
        if (comma) *comma = 0;
        if (!*item) {
            char what[64];
            snprintf(what, sizeof what, "%d of %d", i + 1, n);
            tr_die_usage("--weights: item %s is empty (give weights files separated by commas: "
                         "--weights a.weights,b.weights)",
                         what);
        }
        list[i] = item;
        item = comma ? comma + 1 : item + strlen(item);
    }
    *count = n;
    return list;
}

int tr_class_of(const real *p)
{
    if (MODEL_TASK == RT_TASK_CLASSIFY) {
        int best = 0;
        for (int c = 1; c < MODEL_OUTPUT_LEN; c++)
            if (p[c] > p[best]) best = c;
        return best;
    }
    if (MODEL_TASK == RT_TASK_SIGN) return p[0] >= 0.5 ? 1 : -1;
    return MODEL_TASK == RT_TASK_BINARY || MODEL_TASK == RT_TASK_LOGIT ? p[0] >= 0.5 : 0;
}

/* An ensemble's loss of one row: the cross-entropy of the averaged
 * probabilities for classifiers (logs clamped at -100, as torch's BCE),
 * the mean squared error of the averaged values otherwise. */
static double ensemble_loss(const real *p, const real *y)
{
    const int k = rt_task_classes(MODEL_TASK, MODEL_OUTPUT_LEN, MODEL_LABEL_LEN);
    double loss = 0;
    if (MODEL_TASK == RT_TASK_CLASSIFY && MODEL_LABEL_LEN > 1) { /* soft labels */
        for (int c = 0; c < MODEL_OUTPUT_LEN && c < MODEL_LABEL_LEN; c++)
            loss -= y[c] * fmax(log(p[c]), -100);
        return loss;
    }
    if (k > 0) {
        int truth = rt_label_class(MODEL_TASK, y);
        double pt = MODEL_TASK == RT_TASK_CLASSIFY ? p[truth] : truth ? p[0] : 1 - p[0];
        return -fmax(log(pt), -100);
    }
    int m = MODEL_OUTPUT_LEN < MODEL_LABEL_LEN ? MODEL_OUTPUT_LEN : MODEL_LABEL_LEN;
    for (int c = 0; c < m; c++) loss += ((double)p[c] - y[c]) * ((double)p[c] - y[c]);
    return m ? loss / m : NAN;
}

/* Each row's own loss under the weights in b: the spec's loss of a batch of
 * that row alone (its mean over the rows is eval's loss). */
static void row_losses(const rt_dataset *ds, buffers *b, double *loss)
{
    for (int32_t i = 0; i < ds->n; i++) {
        rt_data_gather(ds, &i, 1, b->x, b->y);
        loss[i] = (double)model_eval(1, b->param, b->x, b->y, b->out, b->arena);
    }
}

tr_rows tr_predict_rows(const options *o, const rt_dataset *ds, buffers *b, int need_loss)
{
    int members;
    const char **paths = tr_weights_list(o, &members);
    tr_rows t = {ds->n, members, NULL, NULL, NULL};
    t.p = tr_alloc_or_die((size_t)ds->n * MODEL_OUTPUT_LEN, sizeof(real));
    t.y = tr_alloc_or_die((size_t)ds->n * (MODEL_LABEL_LEN ? MODEL_LABEL_LEN : 1), sizeof(real));
    t.loss = need_loss ? tr_alloc_or_die((size_t)ds->n, sizeof(double)) : NULL;
    double *sum = tr_alloc_or_die((size_t)ds->n * MODEL_OUTPUT_LEN, sizeof(double));
    int32_t idx[MODEL_BATCH];
    rt_error err;
    for (int m = 0; m < members; m++) {
        /* each member with its own standardisation statistics, which the
         * rows are gathered with */
        rt_weights w = {b->param, MODEL_N_PARAMS, MODEL_STANDARDIZE ? b->stats : NULL,
                        MODEL_STANDARDIZE ? 2L * MODEL_FEATURES : 0};
        if (rt_weights_load(paths[m], MODEL_HASH, &w, &err)) tr_fail(&err);
        for (long start = 0; start < ds->n;) {
            int rows = ds->n - start >= MODEL_BATCH ? MODEL_BATCH : 1;
            for (int r = 0; r < rows; r++) idx[r] = (int32_t)(start + r);
            rt_data_gather(ds, idx, rows, b->x, b->y);
            model_eval(rows, b->param, b->x, b->y, b->out, b->arena);
            for (int r = 0; r < rows; r++) {
                real p[MODEL_OUTPUT_LEN];
                rt_decide(MODEL_TASK, b->out + (long)r * MODEL_OUTPUT_LEN, MODEL_OUTPUT_LEN, p);
                for (int c = 0; c < MODEL_OUTPUT_LEN; c++)
                    sum[(start + r) * MODEL_OUTPUT_LEN + c] += (double)p[c];
            }
            if (m == 0 && MODEL_LABEL_LEN)
                memcpy(t.y + start * MODEL_LABEL_LEN, b->y,
                       sizeof(real) * (size_t)rows * MODEL_LABEL_LEN);
            start += rows;
        }
        if (rt_data_read_error(ds)) tr_fail(rt_data_read_error(ds));
        if (need_loss && members == 1) row_losses(ds, b, t.loss);
    }
    /* one member: its probabilities as they are (the sum of one) */
    for (long i = 0; i < (long)ds->n * MODEL_OUTPUT_LEN; i++) t.p[i] = (real)(sum[i] / members);
    if (need_loss && members > 1)
        for (long i = 0; i < ds->n; i++)
            t.loss[i] = ensemble_loss(t.p + i * MODEL_OUTPUT_LEN, t.y + i * MODEL_LABEL_LEN);
    free(sum);
    free(paths);
    return t;
}

void tr_rows_free(tr_rows *t)
{
    free(t->p), free(t->y), free(t->loss);
}

int tr_eval_ensemble(const options *o)
{
    buffers b = tr_alloc_buffers(0);
    data d = tr_load_data(&b, model_test_data.kind == RT_SRC_NONE, 1);
    const rt_dataset *ds = d.test.n ? &d.test : &d.train;
    tr_rows t = tr_predict_rows(o, ds, &b, 1);
    /* the averaged probabilities read as a probability output: the same
     * class thresholds as the members' own outputs */
    const int task = MODEL_TASK == RT_TASK_CLASSIFY ? RT_TASK_CLASSIFY : RT_TASK_BINARY;
    int k = rt_task_classes(MODEL_TASK, MODEL_OUTPUT_LEN, MODEL_LABEL_LEN);
    long *counts = k > 0 && k <= 64 ? tr_alloc_or_die((size_t)k * (size_t)k, sizeof(long)) : NULL;
    double loss = 0;
    for (long i = 0; i < t.n; i++) loss += t.loss[i];
    long correct = 0;
    if (k > 0 || MODEL_TASK == RT_TASK_BINARY || MODEL_TASK == RT_TASK_LOGIT ||
        MODEL_TASK == RT_TASK_SIGN)
        correct = rt_count_correct(task, t.p, MODEL_OUTPUT_LEN, t.y, MODEL_LABEL_LEN, t.n);
    if (counts) rt_confusion_add(task, t.p, MODEL_OUTPUT_LEN, t.y, MODEL_LABEL_LEN, t.n, counts);
    char what[64];
    snprintf(what, sizeof what, "%s (ensemble of %d)", d.test.n ? "test" : "train", t.members);
    result r = {loss / (t.n ? t.n : 1), (double)correct / (t.n ? t.n : 1)};
    tr_print_result(what, r);
    if (counts && !o->quiet) tr_print_confusion(counts, k);
    free(counts);
    int rc = o->failures ? tr_write_failures(o, ds, &t) : 0;
    tr_rows_free(&t);
    return rc;
}
