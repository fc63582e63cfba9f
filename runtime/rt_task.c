/* rt_task.c — what a task makes of a model's outputs: predictions and
 * their probabilities (rt_decide), correct ones counted, and the confusion
 * matrix of a classifier. */
#include "rt.h"

#include <math.h>

long rt_count_correct(int task, const real *out, int out_len, const real *y, int label_len,
                      long rows)
{
    long correct = 0;
    for (long r = 0; r < rows; r++) {
        const real *o = out + r * out_len;
        const real *t = y + r * label_len;
        switch (task) {
        case RT_TASK_CLASSIFY: {
            int best = 0;
            for (int c = 1; c < out_len; c++)
                if (o[c] > o[best]) best = c;
            /* labels: a class index, or a distribution (kl_div) read by its argmax */
            int want = 0;
            if (label_len > 1) {
                for (int c = 1; c < label_len; c++)
                    if (t[c] > t[want]) want = c;
            } else {
                want = (int)t[0];
            }
            correct += best == want;
            break;
        }
        case RT_TASK_BINARY:
        case RT_TASK_LOGIT: {
            int all = 1;
            for (int c = 0; c < out_len; c++) {
                int p = task == RT_TASK_BINARY ? o[c] >= 0.5 : o[c] >= 0;
                all &= p == (t[c] > 0.5);
            }
            correct += all;
            break;
        }
        case RT_TASK_SIGN: {
            int all = 1;
            for (int c = 0; c < out_len; c++) all &= (o[c] >= 0) == (t[c] > 0);
            correct += all;
            break;
        }
        default:
            break;
        }
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
