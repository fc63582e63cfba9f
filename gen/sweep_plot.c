/* sweep_plot.c — sweep.svg: the score of each setting against the lr (a
 * log axis; a linear one for a lin grid) and the final training loss, one
 * series per combination of --set values, each point the mean over the
 * seeds that ran ok with a bar of ± one standard deviation (rt_plot_xy.c). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/rt.h"
#include "sweep.h"

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* the final training loss's mean and sd over the ok seeds of a setting */
static void loss_of(const sweep *s, int combo, double lr, double *mean, double *sd)
{
    double sum = 0, sq = 0;
    int n = 0;
    for (int i = 0; i < s->nruns; i++) {
        const sweep_run *r = &s->runs[i];
        if (r->combo == combo && r->lr == lr && r->state == RUN_DONE && isfinite(r->final_loss))
            sum += r->final_loss, sq += r->final_loss * r->final_loss, n++;
    }
    *mean = n ? sum / n : NAN;
    *sd = n > 1 ? sqrt(fmax(0, (sq - n * *mean * *mean) / (n - 1))) : 0;
}

/* one series of a panel for combination c over the lrs it ran */
static void series_of(const sweep *s, int c, int loss, rt_xy_series *out, char *label)
{
    int n = 0;
    double *x = calloc((size_t)s->nruns + 1, 4 * sizeof *x), *y = x + s->nruns + 1,
           *lo = y + s->nruns + 1, *hi = lo + s->nruns + 1;
    for (int i = 0; x && i < s->nruns; i++) {
        const sweep_run *r = &s->runs[i];
        int seen = r->combo != c || r->state != RUN_DONE;
        for (int k = 0; k < n && !seen; k++) seen = x[k] == r->lr;
        if (!seen) x[n++] = r->lr;
    }
    if (x) qsort(x, (size_t)n, sizeof *x, cmp_double);
    for (int k = 0; k < n; k++) {
        double mean, sd;
        int ok, all;
        if (loss)
            loss_of(s, c, x[k], &mean, &sd);
        else
            sweep_setting(s, c, x[k], &mean, &sd, &ok, &all);
        y[k] = mean, lo[k] = mean - sd, hi[k] = mean + sd;
    }
    *out = (rt_xy_series){label, n, c, x, y, lo, hi};
}

int sweep_write_svg(sweep *s, int best_combo, double best_lr)
{
    rt_xy_series *ser = calloc(2 * (size_t)s->ncombos, sizeof *ser);
    char(*labels)[512] = calloc((size_t)s->ncombos, sizeof *labels);
    if (!ser || !labels) return 1;
    for (int c = 0; c < s->ncombos; c++) {
        if (s->nsets)
            sweep_combo_name(s, c, labels[c], sizeof labels[c]);
        else
            snprintf(labels[c], sizeof labels[c], "%s", s->model);
        series_of(s, c, 0, &ser[c], labels[c]);
        series_of(s, c, 1, &ser[s->ncombos + c], labels[c]);
    }
    char title[300], sub[600], score[200], path[4200];
    snprintf(title, sizeof title, "%s: sweep of the lr", s->model);
    snprintf(score, sizeof score, "%s (mean over seeds; bars: one sd)", sweep_criterion(s));
    int diverged = 0, failed = 0;
    for (int i = 0; i < s->nruns; i++)
        if (s->runs[i].state == RUN_DONE) {
            diverged += !strcmp(s->runs[i].status, "diverged");
            failed += !strcmp(s->runs[i].status, "failed");
        }
    int k = snprintf(sub, sizeof sub, "%d runs (%d diverged, %d failed), %d seed%s each; ",
                     s->nruns, diverged, failed, s->seeds, s->seeds == 1 ? "" : "s");
    if (best_combo >= 0)
        snprintf(sub + k, sizeof sub - (size_t)k, "best: lr %g%s%s", best_lr,
                 s->nsets ? " " : "", s->nsets ? labels[best_combo] : "");
    else
        snprintf(sub + k, sizeof sub - (size_t)k, "none with a score");
    /* the lrs at which some run diverged, marked on the score's axis */
    double *marks = calloc((size_t)s->nruns + 1, sizeof *marks);
    int nmarks = 0;
    for (int i = 0; marks && i < s->nruns; i++) {
        const sweep_run *r = &s->runs[i];
        int seen = r->state != RUN_DONE || strcmp(r->status, "diverged");
        for (int k = 0; k < nmarks && !seen; k++) seen = marks[k] == r->lr;
        if (!seen) marks[nmarks++] = r->lr;
    }
    rt_xy_panel panels[2] = {{score, sweep_criterion(s), ser, s->ncombos, marks, nmarks,
                              "an lr at which a run diverged"},
                             {"final training loss (mean over seeds; bars: one sd)", "final loss",
                              ser + s->ncombos, s->ncombos, NULL, 0, NULL}};
    rt_xy_figure fig = {.title = title,
                        .subtitle = sub,
                        .xlabel = "lr",
                        .log_x = s->grid.kind != GRID_LIN,
                        .panels = panels,
                        .np = 2};
    snprintf(path, sizeof path, "%s/sweep.svg", s->dir);
    rt_error err;
    int rc = rt_plot_xy_svg(&fig, path, &err);
    if (rc) fprintf(stderr, "trainc: %s\n", err.msg);
    for (int i = 0; i < 2 * s->ncombos; i++) free((void *)ser[i].x);
    free(ser);
    free(labels);
    free(marks);
    return rc ? 1 : 0;
}
