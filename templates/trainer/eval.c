/* {{header}}
 *
 * eval.c — evaluation in the trainer of {{name}}: the loss and accuracy of a
 * dataset, whole batches, then the leftover rows one at a time; the eval
 * command, with a confusion matrix for classifiers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

/* confusion: counts[true * k + predicted] for k = rt_task_classes(...), or NULL.
 * Under mpirun (train, gradcheck, eval) the blocks of rows are dealt to the
 * ranks, block j to rank j % ranks; mpi.c gives every rank every block's
 * loss, which is then summed in block order as one process does. */
result tr_evaluate_counting(const rt_dataset *ds, buffers *b, long *confusion)
{
    double loss = 0;
    long correct = 0;
    int32_t idx[MODEL_BATCH];
    const int ranks = tr_eval_ranks(), rank = tr_rank();
    const long blocks = ds->n / MODEL_BATCH + ds->n % MODEL_BATCH;
    double *block_loss = ranks > 1 ? calloc((size_t)blocks + 1, sizeof(double)) : NULL;
    if (ranks > 1 && !block_loss) tr_die_usage("%s", "out of memory");
    for (long start = 0, j = 0; start < ds->n; j++) {
        int rows = ds->n - start >= MODEL_BATCH ? MODEL_BATCH : 1;
        if (j % ranks == rank) {
            for (int r = 0; r < rows; r++) idx[r] = (int32_t)(start + r);
            rt_data_gather(ds, idx, rows, b->x, b->y);
            double l = (double)model_eval(rows, b->param, b->x, b->y, b->out, b->arena) * rows;
            if (block_loss)
                block_loss[j] = l;
            else
                loss += l;
            correct +=
                rt_count_correct(MODEL_TASK, b->out, MODEL_OUTPUT_LEN, b->y, MODEL_LABEL_LEN, rows);
            if (confusion)
                rt_confusion_add(MODEL_TASK, b->out, MODEL_OUTPUT_LEN, b->y, MODEL_LABEL_LEN, rows,
                                 confusion);
        }
        start += rows;
    }
    if (rt_data_read_error(ds)) tr_fail(rt_data_read_error(ds));
    if (block_loss) {
        int k = rt_task_classes(MODEL_TASK, MODEL_OUTPUT_LEN, MODEL_LABEL_LEN);
        tr_mpi_eval_sum(block_loss, blocks, &correct, confusion, confusion ? (long)k * k : 0);
        for (long j = 0; j < blocks; j++) loss += block_loss[j];
        free(block_loss);
    }
    result r = {loss / (ds->n ? ds->n : 1), (double)correct / (ds->n ? ds->n : 1)};
    return r;
}

result tr_evaluate(const rt_dataset *ds, buffers *b)
{
    return tr_evaluate_counting(ds, b, NULL);
}

void tr_print_result(const char *what, result r)
{
    if (MODEL_TASK == RT_TASK_NONE || MODEL_TASK == RT_TASK_REGRESS)
        printf("%s loss %.6g\n", what, r.loss);
    else
        printf("%s loss %.6g  accuracy %.4f\n", what, r.loss, r.accuracy);
}

const char *tr_class_name(int c, char *buf, size_t size)
{
    if (c >= 0 && c < model_n_class_names) return model_class_names[c];
    snprintf(buf, size, "%d", MODEL_TASK == RT_TASK_SIGN && c == 0 ? -1 : c);
    return buf;
}

/* The confusion matrix as an aligned table (rows: true class, columns:
 * predicted), then each class's precision, recall and support; classes as
 * the labels name them (names cut at 24 characters here). */
void tr_print_confusion(const long *counts, int k)
{
    enum { CUT = 24 };
    char buf[32];
    long most = 0;
    for (long i = 0; i < (long)k * k; i++)
        if (counts[i] > most) most = counts[i];
    int nw = snprintf(NULL, 0, "%d", k - 1);
    for (int c = 0; c < k && model_n_class_names; c++) {
        int len = (int)strlen(tr_class_name(c, buf, sizeof buf));
        if (c == 0 || len > nw) nw = len < CUT ? len : CUT;
    }
    int w = snprintf(NULL, 0, "%ld", most), lw = nw + 5;
    if (w < lw) w = lw;
    printf("\nconfusion matrix (rows: true class, columns: predicted class)\n%*s", lw, "");
    for (int c = 0; c < k; c++) printf(" %*.*s", w, CUT, tr_class_name(c, buf, sizeof buf));
    printf("\n");
    for (int t = 0; t < k; t++) {
        printf("true %*.*s", lw - 5, CUT, tr_class_name(t, buf, sizeof buf));
        for (int c = 0; c < k; c++) printf(" %*ld", w, counts[(long)t * k + c]);
        printf("\n");
    }
    printf("\n%-*s %9s %9s %9s\n", lw, "class", "precision", "recall", "support");
    for (int c = 0; c < k; c++) {
        long right = counts[(long)c * k + c], predicted = 0, support = 0;
        for (int i = 0; i < k; i++)
            predicted += counts[(long)i * k + c], support += counts[(long)c * k + i];
        printf("%-*.*s", lw, CUT, tr_class_name(c, buf, sizeof buf));
        if (predicted)
            printf(" %9.4f", (double)right / predicted);
        else
            printf(" %9s", "-");
        if (support)
            printf(" %9.4f", (double)right / support);
        else
            printf(" %9s", "-");
        printf(" %9ld\n", support);
    }
}

int tr_cmd_eval(const options *o)
{
    int members;
    free(tr_weights_list(o, &members));
    if (o->failures && MODEL_TASK == RT_TASK_NONE)
        tr_die_usage("%s", "--failures lists data rows, and this model has no data");
    if (members > 1) return tr_eval_ensemble(o);
    buffers b = tr_alloc_buffers(0);
    tr_load_weights(o, &b);
    data d = tr_load_data(&b, model_test_data.kind == RT_SRC_NONE, 1);
    /* classifiers: a confusion matrix too (up to 64 classes on a screen) */
    int k = rt_task_classes(MODEL_TASK, MODEL_OUTPUT_LEN, MODEL_LABEL_LEN);
    long *counts = k > 0 && k <= 64 ? tr_alloc_or_die((size_t)k * (size_t)k, sizeof(long)) : NULL;
    const rt_dataset *ds = d.test.n ? &d.test : &d.train;
    tr_print_result(d.test.n ? "test" : "train", tr_evaluate_counting(ds, &b, counts));
    if (counts && !o->quiet) tr_print_confusion(counts, k);
    free(counts);
    return o->failures ? tr_eval_failures(o, ds, &b) : 0;
}
