/* {{header}}
 *
 * grad_stop.c — train { stop_grad_norm = eps } in the trainer of {{name}}:
 * full-batch gradient descent stops at the first step whose gradient
 * (the full gradient, as trainc allows the option only with a full batch)
 * has a norm of at most eps, before that step's update: the weights kept
 * are the ones whose gradient it is, as the textbook's "until ||grad f(w)||
 * <= eps" returns them. */
#include <stdio.h>

#include "trainer.h"

int tr_grad_norm_reached(train_run *r, double loss, double grad_norm, const real *by, int rows)
{
    if (!(MODEL_STOP_GRAD_NORM > 0) || !(grad_norm <= MODEL_STOP_GRAD_NORM)) return 0;
    /* the epoch's figures are those of the weights it stops at */
    r->loss_sum += loss * rows;
    r->correct +=
        rt_count_correct(MODEL_TASK, r->b.out, MODEL_OUTPUT_LEN, by, MODEL_LABEL_LEN, rows);
    r->seen += rows;
    r->done = r->n;
    r->stop = 1;
    if (!r->o->quiet) {
        if (r->bar_shown) printf("\r\033[K");
        r->bar_shown = 0;
        printf("stop_grad_norm: gradient norm %.6g <= %g at epoch %d after %ld steps: training "
               "stops (the weights of step %ld are kept)\n",
               grad_norm, (double)MODEL_STOP_GRAD_NORM, r->epoch, r->step, r->step);
    }
    return 1;
}
