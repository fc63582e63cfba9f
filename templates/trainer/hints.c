/* {{header}}
 *
 * hints.c — after training, the trainer of {{name}} prints a hint when the
 * curve of the training loss shows one of the course notes' patterns (not
 * with --quiet). L_1 .. L_E are the training losses of the whole epochs
 * this run trained (a resumed run: those after its checkpoint), L_0 the
 * loss of its first step. With E < 3 nothing is said.
 *
 *   still falling  each of the last two epochs lowered the loss by 5% or
 *                  more: L_{E-1} <= 0.95 L_{E-2} and L_E <= 0.95 L_{E-1}
 *                  -> more epochs may help
 *   flat and high  flat from epoch 2 on (max - min of L_2 .. L_E within 1%
 *                  of L_E) at a high value (L_E at least half of L_0): it
 *                  is not learning
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
#include <stdlib.h>

#include "trainer.h"

/* an epoch's training loss, at the end of a whole epoch */
void tr_hint_epoch(train_run *r, double loss)
{
    if (r->n_losses == r->cap_losses) {
        long cap = r->cap_losses ? 2 * r->cap_losses : 64;
        double *l = realloc(r->losses, sizeof(double) * (size_t)cap);
        if (!l) return; /* no hint rather than no training */
        r->losses = l, r->cap_losses = cap;
    }
    r->losses[r->n_losses++] = loss;
}

static int falling(const double *L, long E)
{
    return L[E - 2] <= 0.95 * L[E - 3] && L[E - 1] <= 0.95 * L[E - 2];
}

static int flat_and_high(const double *L, long E, double first)
{
    double lo = L[1], hi = L[1];
    for (long e = 2; e < E; e++) lo = fmin(lo, L[e]), hi = fmax(hi, L[e]);
    return hi - lo <= 0.01 * L[E - 1] && L[E - 1] >= 0.5 * first;
}

/* the number of significant rises among the last *m changes */
static int rises(const double *L, long E, long *m)
{
    double lo = L[0], hi = L[0];
    for (long e = 1; e < E; e++) lo = fmin(lo, L[e]), hi = fmax(hi, L[e]);
    *m = E - 1 < 10 ? E - 1 : 10;
    int n = 0;
    for (long e = E - *m; e < E; e++) {
        double up = L[e] - L[e - 1];
        n += up > 0.01 * L[e - 1] && up > 0.1 * (hi - lo);
    }
    return n;
}

void tr_hint_print(const train_run *r)
{
    const double *L = r->losses;
    long E = r->n_losses, m = 0;
    if (r->o->quiet || E < 3 || !isfinite(r->first_loss)) return;
    for (long e = 0; e < E; e++)
        if (!isfinite(L[e])) return;
    int up = rises(L, E, &m), oscillating = up >= 3 && 3 * up >= m;
    if (falling(L, E) && !oscillating) /* a rise and two falls can be a swing */
        printf("hint: the training loss was still falling steeply (by %.0f%% and %.0f%% in the "
               "last two epochs): more epochs may help\n",
               100 * (1 - L[E - 2] / L[E - 3]), 100 * (1 - L[E - 1] / L[E - 2]));
    if (flat_and_high(L, E, r->first_loss))
        printf("hint: the training loss has been flat since epoch 2 at %.4g, not below half its "
               "first step's %.4g: the network is not learning (try another learning rate or "
               "init; train --layer-metrics shows vanishing gradients and dead units)\n",
               L[E - 1], r->first_loss);
    if (oscillating)
        printf("hint: the training loss rose in %d of the last %ld epochs: it oscillates; the "
               "learning rate may be too large (try --lr %g)\n",
               up, m, r->base_lr / 3);
}
