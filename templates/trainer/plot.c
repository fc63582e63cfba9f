/* {{header}}
 *
 * plot.c — the curves of a run in the trainer of {{name}}: a metrics CSV
 * drawn as an SVG picture (rt_plot.c), after training or by the plot command. */
#include <stdio.h>

#include "trainer.h"

/* Draws a metrics CSV as an SVG picture (svg NULL: beside the CSV). */
int tr_plot_curves(const char *csv, const char *svg, int quiet)
{
    char beside[4096];
    if (!svg) {
        rt_plot_path_beside(csv, beside, sizeof beside);
        svg = beside;
    }
    rt_plot_options po = {.title = MODEL_NAME,
                          .source = csv,
                          .no_accuracy =
                              MODEL_TASK == RT_TASK_NONE || MODEL_TASK == RT_TASK_REGRESS};
    rt_error err;
    if (rt_plot_metrics(csv, svg, &po, &err)) tr_fail(&err);
    if (!quiet) printf("curves in %s\n", svg);
    return 0;
}

int tr_cmd_plot(const options *o)
{
    if (!o->arg) tr_die_usage("%s", "plot needs a metrics CSV file (as train --metrics writes)");
    return tr_plot_curves(o->arg, o->out, o->quiet);
}
