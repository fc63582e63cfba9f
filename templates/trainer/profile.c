/* {{header}}
 *
 * profile.c — train --profile: after training, where the time of a step
 * went, one row per op block of model.c's training step at MODEL_BATCH rows
 * (its spec line, op, kernel, measured µs per step, the generator's
 * predicted µs, GFLOP/s, share of the step), then the optimizer's update
 * and the rest of the step (the batch's rows, the divergence guard, the
 * figures). Only full-batch steps are timed; model.c's blocks add their
 * seconds to rt_prof_acc (runtime/rt_profile.c) while train points it here. */
#include <stdio.h>
#include <string.h>

#include "trainer.h"

void tr_profile_begin(tr_profile *p)
{
    memset(p, 0, sizeof *p);
    p->acc = tr_alloc_or_die((size_t)(model_n_prof_ops > 0 ? model_n_prof_ops : 1), sizeof(double));
}

void tr_profile_step_begin(tr_profile *p, int rows)
{
    p->timing = rows == MODEL_BATCH && p->seen++ > 0;
    p->t = p->timing ? rt_now() : 0;
}

void tr_profile_step_end(tr_profile *p)
{
    if (!p->timing) return;
    p->total += rt_now() - p->t;
    p->steps++;
    p->timing = 0;
}

static int w_at = 9, w_op = 29; /* the columns' widths: the longest entry's */

/* one row: its measured seconds, predicted µs (< 0: none), FLOPs per step */
static void row(const char *at, const char *op, const char *kernel, double s, double pred_us,
                double flops, const tr_profile *p)
{
    double us = s / (double)p->steps * 1e6;
    char pred[32] = "-", rate[32] = "-";
    if (pred_us >= 0) snprintf(pred, sizeof pred, "%.1f", pred_us);
    if (flops > 0 && us > 0) snprintf(rate, sizeof rate, "%.1f", flops / us * 1e-3);
    printf("%-*s  %-*s  %-8s %9.1f %10s %8s %6.1f%%\n", w_at, at, w_op, op, kernel, us, pred, rate,
           p->whole > 0 ? 100 * s / p->whole : 0.0);
}

void tr_profile_report(tr_profile *p)
{
    if (!p->steps) {
        printf("profile: no step of %s rows was timed\n", MODEL_BATCH_TEXT);
        return;
    }
    double ops = 0;
    for (int k = 0; k < model_n_prof_ops; k++) ops += p->acc[k];
    /* the shares: of the step, or of the CPU time when the shards' threads
     * overlap */
    p->whole = p->total > ops + p->update ? p->total : ops + p->update;
    printf("profile: %ld steps of %s rows, %.1f µs per step (predictions: the cost model of "
           "trainc's gen/profile.c)\n",
           p->steps, MODEL_BATCH_TEXT, p->total / (double)p->steps * 1e6);
    if (MODEL_SHARDS > 1)
        printf("shards: an op's time is summed over the %d shards' steps, which run side by side "
               "on --threads; the ops' times add up to %.1f µs of CPU per step\n",
               (int)MODEL_SHARDS, ops / (double)p->steps * 1e6);
    for (int k = 0; k < model_n_prof_ops; k++) {
        const model_prof_op *q = &model_prof_ops[k];
        int a = (int)strlen(q->at), b = (int)(strlen(q->op) + 1 + strlen(q->name));
        if (a > w_at) w_at = a;
        if (b > w_op) w_op = b;
    }
    /* µs takes two bytes and one column */
    printf("%-*s  %-*s  %-8s %10s %10s %8s %7s\n", w_at, "spec line", w_op, "op", "kernel",
           "µs/step", "predicted", "GFLOP/s", "share");
    for (int k = 0; k < model_n_prof_ops; k++) {
        const model_prof_op *q = &model_prof_ops[k];
        char op[96];
        snprintf(op, sizeof op, "%s %s", q->op, q->name);
        row(q->at, op, q->kernel, p->acc[k], q->predicted_us, q->flops, p);
    }
    row("-", "update (optimizer)", "-", p->update, -1, 0, p);
    double rest = p->total - ops - p->update;
    row("-",
        MODEL_SHARDS > 1 ? "other (batch, shards' sums and waits)"
                         : "other (batch, guard, figures)",
        "-", rest > 0 ? rest : 0, -1, 0, p);
}
