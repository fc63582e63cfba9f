/* {{header}}
 *
 * hints.c — after training, the trainer of {{name}} prints a hint when the
 * curve of the training loss shows one of the course notes' patterns (not
 * with --quiet). L_1 .. L_E are the training losses of the whole epochs
 * this run trained (a resumed run: those after its checkpoint), L_0 the
 * loss of its first step. With E < 5 nothing is said: a shorter curve
 * tells too little (spirals' 3 first epochs sit on a plateau it leaves
 * later).
 *
 *   still falling  each of the last two epochs lowered the loss by 5% or
 *                  more: L_{E-1} <= 0.95 L_{E-2} and L_E <= 0.95 L_{E-1}
 *                  -> more epochs may help
 *   flat and high  flat from epoch 2 on (max - min of L_2 .. L_E within 1%
 *                  of L_E) at a high value (L_E at least half of L_0): it
 *                  is not learning (or is on a long plateau)
 *   oscillating    of the last M = min(E - 1, 10) changes L_e - L_{e-1},
 *                  at least 3, and at least a third, are rises by more
 *                  than 1% of L_{e-1} and more than a tenth of the run's
 *                  range (max - min of L_1 .. L_E): the lr may be too large
 *                  (an oscillating curve is not also said to be falling)
 *
 * The thresholds keep quiet on a converged run: its last epochs change the
 * loss by a few percent (not falling steeply), it sits far below its first
 * step (not flat and high), and its noise is small against the range the
 * run covered (not oscillating). */
#include <math.h>
#include <stdio.h>

#include "trainer.h"

/* L_{n - back}, back = 0: the newest (back < TR_HINT_WINDOW) */
static double L(const hint_curve *c, long back)
{
    return c->last[(c->n - 1 - back) % TR_HINT_WINDOW];
}

/* fmin and fmax (a NaN loses), inline: libm's are calls, and a tiny net
 * ends an epoch every step */
static double min_num(double a, double b)
{
    return b < a || isnan(a) ? b : a;
}
static double max_num(double a, double b)
{
    return b > a || isnan(a) ? b : a;
}

/* an epoch's training loss, at the end of a whole epoch */
void tr_hint_epoch(train_run *r, double loss)
{
    hint_curve *c = &r->curve;
    c->not_finite |= !isfinite(loss);
    c->last[c->n % TR_HINT_WINDOW] = loss;
    c->n++;
    if (c->n == 1) c->lo = c->hi = loss;
    c->lo = min_num(c->lo, loss), c->hi = max_num(c->hi, loss);
    if (c->n == 2) c->lo2 = c->hi2 = loss;
    c->lo2 = min_num(c->lo2, loss), c->hi2 = max_num(c->hi2, loss);
}

static int falling(const hint_curve *c)
{
    return L(c, 1) <= 0.95 * L(c, 2) && L(c, 0) <= 0.95 * L(c, 1);
}

static int flat_and_high(const hint_curve *c, double first)
{
    return c->hi2 - c->lo2 <= 0.01 * L(c, 0) && L(c, 0) >= 0.5 * first;
}

/* the number of significant rises among the last *m changes */
static int rises(const hint_curve *c, long *m)
{
    *m = c->n - 1 < TR_HINT_WINDOW - 1 ? c->n - 1 : TR_HINT_WINDOW - 1;
    int n = 0;
    for (long back = 0; back < *m; back++) {
        double up = L(c, back) - L(c, back + 1);
        n += up > 0.01 * L(c, back + 1) && up > 0.1 * (c->hi - c->lo);
    }
    return n;
}

void tr_hint_print(const train_run *r)
{
    const hint_curve *c = &r->curve;
    long m = 0;
    if (r->o->quiet || c->n < 5 || !isfinite(r->first_loss) || c->not_finite) return;
    int up = rises(c, &m), oscillating = up >= 3 && 3 * up >= m;
    if (falling(c) && !oscillating) /* a rise and two falls can be a swing */
        printf("hint: the training loss was still falling steeply (by %.0f%% and %.0f%% in the "
               "last two epochs): more epochs may help\n",
               100 * (1 - L(c, 1) / L(c, 2)), 100 * (1 - L(c, 0) / L(c, 1)));
    if (flat_and_high(c, r->first_loss))
        printf("hint: the training loss has been flat since epoch 2 at %.4g, not below half its "
               "first step's %.4g: the network is not learning, or is on a long plateau "
               "(try another learning rate or init; train --layer-metrics shows vanishing "
               "gradients and dead units)\n",
               L(c, 0), r->first_loss);
    if (oscillating)
        printf("hint: the training loss rose in %d of the last %ld epochs: it oscillates; the "
               "learning rate may be too large (try --lr %g)\n",
               up, m, r->base_lr / 3);
}
