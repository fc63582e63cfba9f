/* rt_plot_xy.c — pictures of several series on shared axes: `trainc plot
 * A.csv B.csv` (one panel per metric, one series per file) and `trainc
 * sweep`'s score against the lr (log axis, mean and spread over seeds).
 * Each series has its own x values; the drawing primitives are rt_svg.c's,
 * the look is rt_plot.c's. One self-contained SVG file, written atomically. */
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* picture geometry, in SVG user units, as rt_plot.c's */
enum {
    WIDTH = 920,
    MARGIN_LEFT = 88,
    MARGIN_RIGHT = 28,
    TITLE_BAND = 78,
    PANEL_HEIGHT = 262,
    PANEL_TOP = 36,
    PLOT_HEIGHT = 176,
    BOTTOM_PAD = 18,
    DOTS_UPTO = 40, /* a series of at most this many points gets a dot on each */
};

static const char *const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

/* one colour per series; past the palette, dashes tell them apart */
static const char *const COLORS[] = {"#1f5fbf", "#e8710a", "#2e9d4f", "#c0392b", "#8e44ad",
                                     "#7f5539", "#d63384", "#555555", "#a4a000", "#17a2b8"};
#define NCOLORS ((int)(sizeof COLORS / sizeof *COLORS))

const char *rt_plot_xy_color(int i) { return COLORS[i % NCOLORS]; }

static const char *dashes(int i)
{
    static const char *const d[] = {"", " stroke-dasharray=\"7 4\"", " stroke-dasharray=\"2 3\"",
                                    " stroke-dasharray=\"10 3 2 3\""};
    return d[(i / NCOLORS) % 4];
}

typedef struct frame {
    double x0, x1, y0, y1;
} frame;

/* a value the panel can place: finite, and positive on a log scale */
static int placeable(double v, int log) { return isfinite(v) && (!log || v > 0); }

/* The points of a series as drawn: as they are, or, when there are more
 * than two a pixel column, the mean of each column's values (a noisy
 * per-step loss becomes its running average). Returns the count. */
static int drawn_points(const rt_xy_series *s, const rt_svg_axis *ax, const frame *f, int log_y,
                        double *px, double *py)
{
    int cols = (int)(f->x1 - f->x0);
    int k = 0;
    if (s->n <= 2 * cols) {
        for (int i = 0; i < s->n; i++) {
            px[k] = placeable(s->x[i], ax->log) ? s->x[i] : NAN;
            py[k++] = placeable(s->y[i], log_y) ? s->y[i] : NAN;
        }
        return k;
    }
    double *sum = calloc((size_t)cols + 1, 2 * sizeof *sum);
    if (!sum) return 0;
    double *xs = sum + cols + 1;
    int *cnt = calloc((size_t)cols + 1, sizeof *cnt);
    if (!cnt) {
        free(sum);
        return 0;
    }
    for (int i = 0; i < s->n; i++) {
        if (!placeable(s->x[i], ax->log) || !placeable(s->y[i], log_y)) continue;
        int c = (int)((rt_svg_pos(ax, s->x[i], f->x0, f->x1) - f->x0));
        c = c < 0 ? 0 : c > cols ? cols : c;
        sum[c] += s->y[i]; /* the arithmetic mean, on a log scale too: the mean loss */
        xs[c] += s->x[i];
        cnt[c]++;
    }
    for (int c = 0; c <= cols; c++)
        if (cnt[c]) {
            px[k] = xs[c] / cnt[c];
            py[k++] = sum[c] / cnt[c];
        }
    free(sum);
    free(cnt);
    return k;
}

/* the x axis: ticks (decades on a log axis), labels, grid lines, its name */
static void x_axis(rt_svg_buf *b, const rt_svg_axis *ax, const frame *f, const char *name)
{
    char t[64];
    int n = ax->log ? (int)floor((ax->hi - ax->lo) / ax->step + 1e-9) : rt_svg_ticks(ax);
    for (int k = 0; k <= n; k++) {
        double e = ax->lo + k * ax->step;
        double v = ax->log ? pow(10, e) : rt_svg_tick(ax, k);
        double x = ax->log ? rt_svg_coord(ax, e, f->x0, f->x1) : rt_svg_pos(ax, v, f->x0, f->x1);
        if (ax->log && !(e >= -4 && e <= 5))
            snprintf(t, sizeof t, "1e%d", (int)e);
        else
            rt_svg_tick_label(t, sizeof t, v, ax->log ? v : ax->step);
        rt_svg_x_tick(b, x, f->y0, f->y1, t);
    }
    rt_svg_x_name(b, f->x0, f->x1, f->y1, name, ax->log ? " (log scale)" : "");
}

/* one series: a path per run of placeable points (a NaN is a gap), dots
 * when they are few, bars from lo to hi where given */
static void draw_series(rt_svg_buf *b, const rt_xy_series *s, int idx, const rt_svg_axis *ax,
                        const rt_svg_axis *ay, const frame *f, double *px, double *py)
{
    const char *color = rt_plot_xy_color(idx);
    int n = drawn_points(s, ax, f, ay->log, px, py);
    rt_svg_printf(b,
                  "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" "
                  "stroke-linejoin=\"round\" stroke-linecap=\"round\"%s d=\"",
                  color, dashes(idx));
    int in_run = 0, started = 0;
    for (int i = 0; i < n; i++) {
        if (isnan(px[i]) || isnan(py[i])) {
            in_run = 0;
            continue;
        }
        rt_svg_printf(b, "%s%.2f %.2f", in_run ? " L" : started ? " M" : "M",
                      rt_svg_pos(ax, px[i], f->x0, f->x1), rt_svg_pos(ay, py[i], f->y1, f->y0));
        in_run = started = 1;
    }
    rt_svg_printf(b, "\"/>\n");
    for (int i = 0; i < n; i++) {
        if (isnan(px[i]) || isnan(py[i])) continue;
        int alone = (i == 0 || isnan(py[i - 1]) || isnan(px[i - 1])) &&
                    (i + 1 == n || isnan(py[i + 1]) || isnan(px[i + 1]));
        double x = rt_svg_pos(ax, px[i], f->x0, f->x1), y = rt_svg_pos(ay, py[i], f->y1, f->y0);
        if (n <= DOTS_UPTO || alone)
            rt_svg_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%d\" fill=\"%s\"/>\n", x, y,
                          alone ? 4 : 3, color);
    }
    if (!s->lo || !s->hi || n != s->n) return;
    for (int i = 0; i < n; i++) {
        if (isnan(px[i]) || !placeable(s->lo[i], ay->log) || !placeable(s->hi[i], ay->log) ||
            !(s->hi[i] > s->lo[i]))
            continue;
        double x = rt_svg_pos(ax, px[i], f->x0, f->x1);
        double ylo = rt_svg_pos(ay, s->lo[i], f->y1, f->y0),
               yhi = rt_svg_pos(ay, s->hi[i], f->y1, f->y0);
        rt_svg_printf(b,
                      "<path fill=\"none\" stroke=\"%s\" stroke-width=\"1.4\" "
                      "d=\"M%.2f %.2f L%.2f %.2f M%.2f %.2f L%.2f %.2f M%.2f %.2f L%.2f %.2f\"/>\n",
                      color, x, ylo, x, yhi, x - 4, ylo, x + 4, ylo, x - 4, yhi, x + 4, yhi);
    }
}

/* the last value as drawn (a long series: its last column's mean) */
static double last_drawn(const rt_xy_series *s, const rt_svg_axis *ax, const frame *f, int log_y,
                         double *px, double *py)
{
    for (int i = drawn_points(s, ax, f, log_y, px, py) - 1; i >= 0; i--)
        if (!isnan(px[i]) && !isnan(py[i])) return py[i];
    return NAN;
}

/* the legend, in the corner with the fewest points: each series' label
 * (and its last value, when the figure asks) */
static void legend(rt_svg_buf *b, const rt_xy_figure *fig, const rt_xy_panel *p,
                   const rt_svg_axis *ax, const rt_svg_axis *ay, const frame *f, double *px,
                   double *py)
{
    const double row_h = 19, lw = 250, lh = 10 + row_h * p->ns;
    const double cx[4] = {f->x1 - lw - 10, f->x1 - lw - 10, f->x0 + 10, f->x0 + 10};
    const double cy[4] = {f->y0 + 10, f->y1 - lh - 10, f->y0 + 10, f->y1 - lh - 10};
    long best = -1;
    double lx = cx[0], ly = cy[0];
    for (int k = 0; k < 4; k++) {
        long hits = 0;
        for (int i = 0; i < p->ns; i++)
            for (int r = 0; r < p->s[i].n; r++) {
                if (!placeable(p->s[i].x[r], ax->log) || !placeable(p->s[i].y[r], ay->log))
                    continue;
                double px = rt_svg_pos(ax, p->s[i].x[r], f->x0, f->x1);
                double py = rt_svg_pos(ay, p->s[i].y[r], f->y1, f->y0);
                hits += px >= cx[k] - 6 && px <= cx[k] + lw + 6 && py >= cy[k] - 6 &&
                        py <= cy[k] + lh + 6;
            }
        if (best < 0 || hits < best) best = hits, lx = cx[k], ly = cy[k];
    }
    rt_svg_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"4\" "
                  "fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#ccc\"/>\n",
                  lx, ly, lw, lh);
    char t[64];
    for (int i = 0; i < p->ns; i++) {
        double y = ly + 5 + row_h * (i + 0.5);
        rt_svg_printf(b,
                      "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                      "stroke-width=\"2.5\"%s/>\n"
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12.5\" fill=\"#222\">",
                      lx + 10, y, lx + 34, y, rt_plot_xy_color(p->s[i].color), dashes(p->s[i].color),
                      lx + 42, y + 4.5);
        rt_svg_text(b, p->s[i].label);
        if (fig->legend_last) {
            double v = last_drawn(&p->s[i], ax, f, ay->log, px, py);
            rt_svg_value_text(t, sizeof t, v);
            if (isfinite(v)) rt_svg_printf(b, " (last %s)", t);
        }
        rt_svg_printf(b, "</text>\n");
    }
}

/* the value axis over the placeable values (and bars) of a panel's series:
 * a log scale when all are positive and span two decades */
static rt_svg_axis value_axis(const rt_xy_panel *p)
{
    double lo = INFINITY, hi = -INFINITY;
    int positive = 1;
    for (int i = 0; i < p->ns; i++)
        for (int r = 0; r < p->s[i].n; r++) {
            double v[3] = {p->s[i].y[r], p->s[i].lo ? p->s[i].lo[r] : NAN,
                           p->s[i].hi ? p->s[i].hi[r] : NAN};
            for (int k = 0; k < 3; k++) {
                if (!isfinite(v[k]) || (k && v[k] <= 0)) continue; /* a bar below 0: cut */
                if (v[k] <= 0) positive = 0;
                if (v[k] < lo) lo = v[k];
                if (v[k] > hi) hi = v[k];
            }
        }
    if (!(hi >= lo)) lo = hi = 0;
    if (positive && hi / lo >= 100) return rt_svg_log_axis(lo, hi);
    return rt_svg_linear_axis(lo, hi, 0);
}

/* red crosses on the x axis at the panel's marks, and their name */
static void draw_marks(rt_svg_buf *b, const rt_xy_panel *p, const rt_svg_axis *ax, const frame *f)
{
    int drawn = 0;
    for (int i = 0; i < p->nmarks; i++) {
        if (!placeable(p->marks[i], ax->log)) continue;
        double x = rt_svg_pos(ax, p->marks[i], f->x0, f->x1), y = f->y1 - 9;
        rt_svg_printf(b,
                      "<path fill=\"none\" stroke=\"#d62728\" stroke-width=\"2.4\" "
                      "d=\"M%.2f %.2f L%.2f %.2f M%.2f %.2f L%.2f %.2f\"/>\n",
                      x - 5, y - 5, x + 5, y + 5, x - 5, y + 5, x + 5, y - 5);
        drawn++;
    }
    if (!drawn || !p->marks_label) return;
    rt_svg_printf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11.5\" fill=\"#d62728\" "
                  "text-anchor=\"end\">x: ",
                  f->x1, f->y1 + 37);
    rt_svg_text(b, p->marks_label);
    rt_svg_printf(b, "</text>\n");
}

/* The value axis over the points as drawn (a long series: its columns'
 * means, not its extremes), on the scale value_axis chose. */
static rt_svg_axis drawn_axis(const rt_xy_panel *p, const rt_svg_axis *ax, const frame *f,
                              double *px, double *py)
{
    rt_svg_axis ay = value_axis(p);
    int cols = (int)(f->x1 - f->x0);
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < p->ns; i++) {
        if (p->s[i].n <= 2 * cols) continue;
        int n = drawn_points(&p->s[i], ax, f, ay.log, px, py);
        for (int k = 0; k < n; k++)
            if (!isnan(py[k])) lo = fmin(lo, py[k]), hi = fmax(hi, py[k]);
    }
    if (!(hi >= lo)) return ay; /* no long series */
    for (int i = 0; i < p->ns; i++) {
        if (p->s[i].n > 2 * cols) continue;
        for (int r = 0; r < p->s[i].n; r++) {
            const rt_xy_series *s = &p->s[i];
            double v[3] = {s->y[r], s->lo ? s->lo[r] : NAN, s->hi ? s->hi[r] : NAN};
            for (int k = 0; k < 3; k++)
                if (placeable(v[k], ay.log)) lo = fmin(lo, v[k]), hi = fmax(hi, v[k]);
        }
    }
    return ay.log ? rt_svg_log_axis(lo, hi) : rt_svg_linear_axis(lo, hi, 0);
}

static void draw_panel(rt_svg_buf *b, const rt_xy_figure *fig, const rt_xy_panel *p,
                       const rt_svg_axis *ax, double top, double *px, double *py)
{
    const frame f = {MARGIN_LEFT, WIDTH - MARGIN_RIGHT, top + PANEL_TOP,
                     top + PANEL_TOP + PLOT_HEIGHT};
    rt_svg_axis ay = drawn_axis(p, ax, &f, px, py);
    rt_svg_panel_head(b, p->title, ay.log, MARGIN_LEFT, top, f.x0, f.x1, f.y0, f.y1);
    rt_svg_value_grid(b, &ay, f.x0, f.x1, f.y0, f.y1);
    x_axis(b, ax, &f, fig->xlabel);
    rt_svg_printf(b,
                  "<text x=\"0\" y=\"0\" font-size=\"13\" fill=\"#333\" text-anchor=\"middle\" "
                  "transform=\"translate(20 %.1f) rotate(-90)\">",
                  (f.y0 + f.y1) / 2);
    rt_svg_text(b, p->ylabel ? p->ylabel : p->title);
    rt_svg_printf(b, "</text>\n");
    for (int i = 0; i < p->ns; i++) draw_series(b, &p->s[i], p->s[i].color, ax, &ay, &f, px, py);
    draw_marks(b, p, ax, &f);
    legend(b, fig, p, ax, &ay, &f, px, py);
    rt_svg_printf(b, "</g>\n");
}

/* the x axis shared by every panel: over the placeable x of every series */
static rt_svg_axis shared_x_axis(const rt_xy_figure *fig, long *most)
{
    double lo = INFINITY, hi = -INFINITY;
    int integer = 1;
    *most = 0;
    for (int k = 0; k < fig->np; k++)
        for (int i = 0; i < fig->panels[k].ns; i++) {
            const rt_xy_series *s = &fig->panels[k].s[i];
            if (s->n > *most) *most = s->n;
            for (int r = 0; r < s->n; r++) {
                if (!placeable(s->x[r], fig->log_x)) continue;
                if (s->x[r] < lo) lo = s->x[r];
                if (s->x[r] > hi) hi = s->x[r];
                if (s->x[r] != floor(s->x[r])) integer = 0;
            }
        }
    if (!(hi >= lo)) lo = hi = fig->log_x ? 1 : 0;
    return fig->log_x ? rt_svg_log_axis(lo, hi) : rt_svg_linear_axis(lo, hi, integer);
}

int rt_plot_xy_svg(const rt_xy_figure *fig, const char *svg_path, rt_error *err)
{
    long most;
    rt_svg_axis ax = shared_x_axis(fig, &most);
    double *px = malloc(((size_t)most + 1) * 2 * sizeof *px);
    if (!px) return rt_fail(err, "%s: out of memory", svg_path);
    rt_svg_buf b = {0};
    const int height = TITLE_BAND + fig->np * PANEL_HEIGHT + BOTTOM_PAD;
    rt_svg_begin(&b, WIDTH, height, FONT, MARGIN_LEFT, fig->title, "", "");
    rt_svg_text(&b, fig->subtitle ? fig->subtitle : "");
    rt_svg_printf(&b, "</text>\n");
    for (int k = 0; k < fig->np; k++)
        draw_panel(&b, fig, &fig->panels[k], &ax, TITLE_BAND + k * PANEL_HEIGHT, px,
                   px + most + 1);
    rt_svg_printf(&b, "</svg>\n");
    free(px);
    return rt_svg_finish(&b, svg_path, err);
}
