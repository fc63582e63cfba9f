/* rt_task.c — what a task makes of a model's outputs: predictions and
 * their probabilities (rt_decide), correct ones counted, and the confusion
 * matrix of a classifier. */
#include "rt.h"

#include <math.h>

/* the row's argmax (the first of equal largest values) */
static int argmax_row(const real *v, int n)
{
    int best = 0;
    for (int c = 1; c < n; c++)
        if (v[c] > v[best]) best = c;
    return best;
}

/* 1 when every output is on the label's side of its threshold */
static int all_sides(const real *o, const real *t, int n, real o_at, real t_at)
{
    int all = 1;
    for (int c = 0; c < n; c++) all &= (o[c] >= o_at) == (t[c] > t_at);
    return all;
}

/* The task is chosen once, outside the rows: a tiny net counts every step. */
long rt_count_correct(int task, const real *out, int out_len, const real *y, int label_len,
                      long rows)
{
    long correct = 0;
    switch (task) {
    case RT_TASK_CLASSIFY:
        /* labels: a class index, or a distribution (kl_div) read by its argmax */
        for (long r = 0; r < rows; r++) {
            const real *t = y + r * label_len;
            int want = label_len > 1 ? argmax_row(t, label_len) : (int)t[0];
            correct += argmax_row(out + r * out_len, out_len) == want;
        }
        break;
    case RT_TASK_BINARY: /* probability >= 0.5 against label > 0.5 */
    case RT_TASK_LOGIT:  /* logit >= 0 against label > 0.5 */
    case RT_TASK_SIGN:   /* sign >= 0 against label > 0 */ {
        const real o_at = task == RT_TASK_BINARY ? 0.5f : 0, t_at = task == RT_TASK_SIGN ? 0 : 0.5f;
        if (out_len == 1) /* one output a row: no inner loop to set up */
            for (long r = 0; r < rows; r++) correct += (out[r] >= o_at) == (y[r * label_len] > t_at);
        else
            for (long r = 0; r < rows; r++)
                correct += all_sides(out + r * out_len, y + r * label_len, out_len, o_at, t_at);
        break;
    }
    default:
        break;
    }
    return correct;
}

/* The class and probabilities (or values) of one row of outputs. */
int rt_decide(int task, const real *z, int out_len, real *p)
{
    int cls = 0;
    switch (task) {
    case RT_TASK_CLASSIFY: {
        /* softmax of the logits, from the largest (no overflow) */
        double m = z[0], s = 0;
        for (int c = 1; c < out_len; c++) {
            if (z[c] > z[cls]) cls = c;
            if (z[c] > m) m = z[c];
        }
        for (int c = 0; c < out_len; c++) s += exp(z[c] - m);
        for (int c = 0; c < out_len; c++) p[c] = (real)(exp(z[c] - m) / s);
        break;
    }
    case RT_TASK_BINARY: /* the output is a probability already */
        cls = z[0] >= 0.5;
        p[0] = z[0];
        break;
    case RT_TASK_LOGIT: /* a logit: the probability is its sigmoid */
    case RT_TASK_SIGN:
        cls = z[0] >= 0 ? 1 : task == RT_TASK_SIGN ? -1 : 0;
        p[0] = (real)(1 / (1 + exp(-(double)z[0])));
        break;
    default: /* values */
        for (int c = 0; c < out_len; c++) p[c] = z[c];
        break;
    }
    return cls;
}

int rt_task_classes(int task, int out_len, int label_len)
{
    if (task == RT_TASK_CLASSIFY) return out_len;
    if ((task == RT_TASK_BINARY || task == RT_TASK_LOGIT || task == RT_TASK_SIGN) && out_len == 1 &&
        label_len == 1)
        return 2;
    return 0;
}

int rt_label_class(int task, const real *y)
{
    if (task == RT_TASK_CLASSIFY) return (int)y[0];
    return task == RT_TASK_BINARY || task == RT_TASK_LOGIT ? y[0] > 0.5 : y[0] > 0;
}

void rt_confusion_add(int task, const real *out, int out_len, const real *y, int label_len,
                      long rows, long *counts)
{
    int k = rt_task_classes(task, out_len, label_len);
    if (!k) return;
    for (long r = 0; r < rows; r++) {
        const real *o = out + r * out_len;
        int predicted = 0;
        if (task == RT_TASK_CLASSIFY) {
            for (int c = 1; c < out_len; c++)
                if (o[c] > o[predicted]) predicted = c;
        } else {
            /* the same thresholds as rt_count_correct */
            predicted = task == RT_TASK_BINARY ? o[0] >= 0.5 : o[0] >= 0;
        }
        int truth = rt_label_class(task, y + r * label_len);
        if (truth >= 0 && truth < k) counts[(long)truth * k + predicted]++;
    }
}
