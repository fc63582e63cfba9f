/* {{header}}
 *
 * failures.c — eval --failures FILE in the trainer of {{name}}: the rows
 * of the evaluated data sorted by their loss, the worst first, as CSV, to
 * look at the cases the model gets wrong. Classifiers: row, true class,
 * predicted class, the probability of the true class, loss; otherwise row,
 * true value(s), predicted value(s), loss. Rows are numbered from 0 as the
 * file holds them (a CSV's header not counted), as `split` numbers them. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

static const double *sort_loss; /* qsort's comparison reads the losses here */

/* the larger loss first (NaN before any number), then the lower row */
static int by_loss(const void *a, const void *b)
{
    long i = *(const long *)a, j = *(const long *)b;
    double x = sort_loss[i], y = sort_loss[j];
    if (isnan(x) != isnan(y)) return isnan(x) ? -1 : 1;
    if (x > y) return -1;
    if (x < y) return 1;
    return (i > j) - (i < j);
}

/* the true class of labels y: a class index, a distribution's argmax, or
 * a binary label's class (rt_task_classes order) */
static int true_class(const real *y)
{
    if (MODEL_TASK != RT_TASK_CLASSIFY || MODEL_LABEL_LEN == 1)
        return rt_label_class(MODEL_TASK, y);
    int best = 0;
    for (int c = 1; c < MODEL_LABEL_LEN; c++)
        if (y[c] > y[best]) best = c;
    return best;
}

static void header(FILE *f, int classes)
{
    if (classes) {
        fprintf(f, "row,true,predicted,p_true,loss\n");
    } else if (MODEL_LABEL_LEN == 1 && MODEL_OUTPUT_LEN == 1) {
        fprintf(f, "row,true,predicted,loss\n");
    } else {
        fprintf(f, "row");
        for (int c = 0; c < MODEL_LABEL_LEN; c++) fprintf(f, ",true_y%d", c);
        for (int c = 0; c < MODEL_OUTPUT_LEN; c++) fprintf(f, ",pred_y%d", c);
        fprintf(f, ",loss\n");
    }
}

/* One row: its number in the file, then the columns the header names. */
static void row_line(FILE *f, long file_row, const real *p, const real *y, double loss, int classes)
{
    char buf[32];
    fprintf(f, "%ld", file_row);
    if (classes) {
        int truth = true_class(y), cls = tr_class_of(p);
        /* binary outputs: class 1 is the probability p, class 0 is 1 - p;
         * a sign model's class 0 is its -1 */
        int predicted = MODEL_TASK == RT_TASK_SIGN ? cls > 0 : cls;
        double pt = MODEL_TASK == RT_TASK_CLASSIFY ? p[truth] : truth ? p[0] : 1 - (double)p[0];
        fputc(',', f);
        tr_put_cell(f, tr_class_name(truth, buf, sizeof buf));
        fputc(',', f);
        tr_put_cell(f, tr_class_name(predicted, buf, sizeof buf));
        fprintf(f, ",%.9g", pt);
    } else {
        for (int c = 0; c < MODEL_LABEL_LEN; c++) fprintf(f, ",%.9g", (double)y[c]);
        for (int c = 0; c < MODEL_OUTPUT_LEN; c++) fprintf(f, ",%.9g", (double)p[c]);
    }
    fprintf(f, ",%.9g\n", loss);
}

int tr_write_failures(const options *o, const rt_dataset *ds, const tr_rows *t)
{
    const int classes = rt_task_classes(MODEL_TASK, MODEL_OUTPUT_LEN, MODEL_LABEL_LEN) > 0;
    long *order = tr_alloc_or_die((size_t)t->n, sizeof(long));
    for (long i = 0; i < t->n; i++) order[i] = i;
    sort_loss = t->loss;
    qsort(order, (size_t)t->n, sizeof *order, by_loss);
    FILE *f = fopen(o->failures, "w");
    if (!f) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", MODEL_NAME, o->failures, strerror(errno));
        return 1;
    }
    header(f, classes);
    for (long k = 0; k < t->n; k++) {
        long i = order[k];
        row_line(f, ds->rows ? ds->rows[i] : i, t->p + i * MODEL_OUTPUT_LEN,
                 t->y + i * (MODEL_LABEL_LEN ? MODEL_LABEL_LEN : 1), t->loss[i], classes);
    }
    free(order);
    if (fclose(f)) {
        fprintf(stderr, "%s: %s: %s\n", MODEL_NAME, o->failures, strerror(errno));
        return 1;
    }
    if (!o->quiet) printf("wrote %s (%ld rows, the largest loss first)\n", o->failures, t->n);
    return 0;
}

int tr_eval_failures(const options *o, const rt_dataset *ds, buffers *b)
{
    tr_rows t = tr_predict_rows(o, ds, b, 1);
    int rc = tr_write_failures(o, ds, &t);
    tr_rows_free(&t);
    return rc;
}
