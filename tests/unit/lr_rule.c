/* lr_rule.c — lr-find's arithmetic (runtime/rt_lr_find.c) on a loss curve
 * given on standard input, as the trainer's lr-find would record it, for
 * test_lr_find.py to hold against numpy. Usage: lr_rule FROM TO STEPS < losses
 * (one loss a line, at most STEPS). Prints the recorded steps as lr-find's
 * CSV lines step,lr,loss,smoothed (stopping where it would), then
 * "suggested X" (nan: none). */
#include <stdio.h>
#include <stdlib.h>

#include "rt.h"

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: lr_rule FROM TO STEPS < losses\n");
        return 2;
    }
    double from = atof(argv[1]), to = atof(argv[2]);
    long steps = atol(argv[3]), n = 0;
    double *lr = malloc(sizeof(double) * (size_t)steps),
           *smoothed = malloc(sizeof(double) * (size_t)steps), loss;
    if (!lr || !smoothed) return 1;
    rt_lr_smooth sm;
    rt_lr_smooth_init(&sm);
    while (n < steps && scanf("%lf", &loss) == 1) {
        lr[n] = rt_lr_range(from, to, n, steps);
        smoothed[n] = rt_lr_smooth_add(&sm, loss);
        printf("%ld,%.17g,%.17g,%.17g\n", n + 1, lr[n], loss, smoothed[n]);
        if (rt_lr_smooth_stop(&sm, smoothed[n++])) break;
    }
    printf("suggested %.17g\n", rt_lr_suggest(lr, smoothed, n));
    free(lr);
    free(smoothed);
    return 0;
}
