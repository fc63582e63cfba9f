/* rt_lr_find.c — the learning-rate range test's arithmetic: the lr of each
 * step, the smoothed loss and when to stop, and the suggested lr (the
 * trainer's lr_find.c runs the steps; tests/unit/lr_rule.c feeds recorded
 * curves to the same functions). */
#include <math.h>

#include "rt.h"

double rt_lr_range(double from, double to, long i, long steps)
{
    if (steps < 2) return from;
    return from * pow(to / from, (double)i / (double)(steps - 1));
}

void rt_lr_smooth_init(rt_lr_smooth *s)
{
    s->avg = 0;
    s->best = INFINITY;
    s->n = 0;
}

double rt_lr_smooth_add(rt_lr_smooth *s, double loss)
{
    s->avg = RT_LR_BETA * s->avg + (1 - RT_LR_BETA) * loss;
    s->n++;
    double smoothed = s->avg / (1 - pow(RT_LR_BETA, (double)s->n));
    if (smoothed < s->best) s->best = smoothed;
    return smoothed;
}

int rt_lr_smooth_stop(const rt_lr_smooth *s, double smoothed)
{
    /* best + 3|best| is 4 x best for a positive loss, and still above the
     * best for a negative one */
    return !isfinite(smoothed) || smoothed > s->best + 3 * fabs(s->best);
}

double rt_lr_suggest(const double *lr, const double *smoothed, long n)
{
    /* the window: not the first tenth (rounded up), not the last 5 */
    long lo = (n + 9) / 10, hi = n - 5;
    if (hi - lo < 2) return NAN;
    long min_at = lo;
    for (long i = lo + 1; i < hi; i++)
        if (smoothed[i] < smoothed[min_at]) min_at = i; /* the first of equal lows */
    double s = lr[min_at] / 10;
    return s > lr[lo] ? s : lr[lo]; /* kept within the window's lrs */
}
