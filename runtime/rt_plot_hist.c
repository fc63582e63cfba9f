/* rt_plot_hist.c — a histogram of values as one SVG picture (the Hessian's
 * spectrum of `hessian --exact`): equal-width bins over the values' range,
 * the counts on a log scale when they span two decades (a spectrum's spike
 * near 0 would otherwise flatten its tails), dashed lines at marked values.
 * The drawing primitives are rt_svg.c's, the look is rt_plot.c's. */
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

/* picture geometry, in SVG user units, as rt_plot.c's */
enum {
    WIDTH = 920,
    MARGIN_LEFT = 88,
    MARGIN_RIGHT = 28,
    TITLE_BAND = 78,
    PANEL_TOP = 36,
    PLOT_HEIGHT = 300,
    BOTTOM_PAD = 60,
};

static const char *const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

typedef struct frame {
    double x0, x1, y0, y1;
} frame;

/* the values' range, widened when flat (one value, or all equal) */
static void value_range(const rt_hist_figure *f, double *lo, double *hi)
{
    *lo = INFINITY, *hi = -INFINITY;
    for (long i = 0; i < f->n; i++)
        if (isfinite(f->v[i])) *lo = fmin(*lo, f->v[i]), *hi = fmax(*hi, f->v[i]);
    if (!(*hi >= *lo)) *lo = *hi = 0;
    if (*hi == *lo) {
        double pad = *lo ? fabs(*lo) * 0.5 : 0.5;
        *lo -= pad, *hi += pad;
    }
}

/* the x axis: ticks, labels, grid lines, its name */
static void x_axis(rt_svg_buf *b, const rt_svg_axis *ax, const frame *f, const char *name)
{
    char t[64];
    for (int k = 0; k <= rt_svg_ticks(ax); k++) {
        double v = rt_svg_tick(ax, k);
        rt_svg_tick_label(t, sizeof t, v, ax->step);
        rt_svg_x_tick(b, rt_svg_pos(ax, v, f->x0, f->x1), f->y0, f->y1, t);
    }
    rt_svg_x_name(b, f->x0, f->x1, f->y1, name, "");
}

/* the bars: one rectangle per non-empty bin, from the frame's bottom */
static void bars(rt_svg_buf *b, const long *count, int bins, double lo, double width,
                 const rt_svg_axis *ax, const rt_svg_axis *ay, const frame *f)
{
    for (int k = 0; k < bins; k++) {
        if (!count[k]) continue;
        double xa = rt_svg_pos(ax, lo + k * width, f->x0, f->x1);
        double xb = rt_svg_pos(ax, lo + (k + 1) * width, f->x0, f->x1);
        double y = rt_svg_pos(ay, (double)count[k], f->y1, f->y0);
        rt_svg_printf(b,
                      "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"%s\" "
                      "fill-opacity=\"0.85\" stroke=\"#ffffff\" stroke-width=\"0.6\"><title>%ld"
                      "</title></rect>\n",
                      xa, y, xb - xa, f->y1 - y, rt_plot_xy_color(0), count[k]);
    }
}

/* a dashed line at each marked value within the range, its label on top */
static void marks(rt_svg_buf *b, const rt_hist_figure *h, const rt_svg_axis *ax, const frame *f)
{
    for (int i = 0; i < h->nmarks; i++) {
        double v = h->marks[i];
        if (!(v >= ax->lo && v <= ax->hi)) continue;
        double x = rt_svg_pos(ax, v, f->x0, f->x1);
        rt_svg_printf(b,
                      "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#d62728\" "
                      "stroke-width=\"1.6\" stroke-dasharray=\"6 4\"/>\n"
                      "<text x=\"%.2f\" y=\"%.1f\" font-size=\"11.5\" fill=\"#d62728\" "
                      "text-anchor=\"middle\">",
                      x, f->y0, x, f->y1, x, f->y0 - 4);
        rt_svg_text(b, h->mark_labels ? h->mark_labels[i] : "");
        rt_svg_printf(b, "</text>\n");
    }
}

int rt_plot_hist_svg(const rt_hist_figure *h, const char *path, rt_error *err)
{
    double lo, hi;
    value_range(h, &lo, &hi);
    int bins = h->bins > 0 ? h->bins : (int)fmin(80, fmax(10, round(2 * sqrt((double)h->n))));
    long *count = calloc((size_t)bins, sizeof *count), most = 0, least = 0;
    if (!count) return rt_fail(err, "%s: out of memory", path);
    double width = (hi - lo) / bins;
    for (long i = 0; i < h->n; i++) {
        if (!isfinite(h->v[i])) continue;
        int k = (int)((h->v[i] - lo) / width);
        count[k < 0 ? 0 : k >= bins ? bins - 1 : k]++; /* the top value: the last bin */
    }
    for (int k = 0; k < bins; k++) {
        if (count[k] > most) most = count[k];
        if (count[k] && (!least || count[k] < least)) least = count[k];
    }
    const int log = least > 0 && most >= 100 * least;
    /* on a log scale a bin of 1 is a bar a decade high (from 0.1) */
    rt_svg_axis ay =
        log ? rt_svg_log_axis(0.8, (double)most) : rt_svg_linear_axis(0, (double)most, 1);
    rt_svg_axis ax = rt_svg_linear_axis(lo, hi, 0);
    const frame f = {MARGIN_LEFT, WIDTH - MARGIN_RIGHT, TITLE_BAND + PANEL_TOP,
                     TITLE_BAND + PANEL_TOP + PLOT_HEIGHT};
    rt_svg_buf b = {0};
    rt_svg_begin(&b, WIDTH, TITLE_BAND + PANEL_TOP + PLOT_HEIGHT + BOTTOM_PAD, FONT, MARGIN_LEFT,
                 h->title, "", "");
    rt_svg_text(&b, h->subtitle ? h->subtitle : "");
    rt_svg_printf(&b, "</text>\n");
    rt_svg_panel_head(&b, h->panel ? h->panel : "", log, MARGIN_LEFT, TITLE_BAND, f.x0, f.x1, f.y0,
                      f.y1);
    rt_svg_value_grid(&b, &ay, f.x0, f.x1, f.y0, f.y1);
    x_axis(&b, &ax, &f, h->xlabel ? h->xlabel : "value");
    rt_svg_printf(&b,
                  "<text x=\"0\" y=\"0\" font-size=\"13\" fill=\"#333\" text-anchor=\"middle\" "
                  "transform=\"translate(20 %.1f) rotate(-90)\">count per bin (%d bins)</text>\n",
                  (f.y0 + f.y1) / 2, bins);
    bars(&b, count, bins, lo, width, &ax, &ay, &f);
    marks(&b, h, &ax, &f);
    rt_svg_printf(&b, "</g>\n</svg>\n");
    free(count);
    return rt_svg_finish(&b, path, err);
}
