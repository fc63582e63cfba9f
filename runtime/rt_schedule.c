/* rt_schedule.c — the state of the schedules that watch a metric:
 * ReduceLROnPlateau's step, as torch.optim.lr_scheduler computes it (early
 * stopping's state is a plain struct, rt_early_stop, kept in checkpoints). */
#include "rt.h"

#include <math.h>

double rt_plateau_step(rt_plateau *p, double metric, double lr)
{
    if (!p->started) {
        p->started = 1;
        p->best = p->mode_max ? -INFINITY : INFINITY;
    }
    /* better than best by the threshold, in torch's four ways */
    double rel = p->mode_max ? 1 + p->threshold : 1 - p->threshold;
    int better =
        p->mode_max ? (p->threshold_abs ? metric > p->best + p->threshold : metric > p->best * rel)
                    : (p->threshold_abs ? metric < p->best - p->threshold : metric < p->best * rel);
    if (better) {
        p->best = metric;
        p->bad_epochs = 0;
    } else {
        p->bad_epochs++;
    }
    if (p->cooldown_left > 0) {
        p->cooldown_left--;
        p->bad_epochs = 0; /* bad epochs during the cooldown do not count */
    }
    if (p->bad_epochs > p->patience) {
        double reduced = lr * p->factor > p->min_lr ? lr * p->factor : p->min_lr;
        if (lr - reduced > p->eps) lr = reduced;
        p->cooldown_left = p->cooldown;
        p->bad_epochs = 0;
    }
    return lr;
}
