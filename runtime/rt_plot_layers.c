/* rt_plot_layers.c — the layer metrics picture: a train --layer-metrics
 * file (read by rt_metrics.c) drawn as one self-contained SVG, its x axis
 * the layers from input to output, a line for each of a few rows (epochs,
 * or steps), so that a gradient that vanishes toward the input reads as a
 * line falling to the left. Shares rt_plot.c's buffer and axes
 * (rt_plot_svg.h). */
#include "rt.h"
#include "rt_plot_svg.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    L_WIDTH = 920,
    L_LEFT = 88,
    L_RIGHT = 28,
    L_TITLE = 78,
    L_PANEL = 300, /* a panel: title, plot, rotated layer names */
    L_PLOT = 176,
    L_PANEL_TOP = 36,
    L_INSET = 24,
    L_MAX_LINES = 4,
};

static const char *const L_FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";
/* light to dark: early rows pale, the last row strong */
static const char *const L_COLORS[L_MAX_LINES] = {"#9ecae1", "#4292c6", "#2166ac", "#08306b"};

/* a panel: a metric of each item (tensor or activation) at the chosen rows */
typedef struct lpanel {
    const char *title, *ylabel;
    int n; /* items */
    const char **names;
    int *col;    /* per item: its column */
    int log;     /* log scale (norms, ratios) */
    double rule; /* a dashed line at this value (0: none) */
} lpanel;

static double lcell(const rt_metrics *m, int r, int c)
{
    return m->v[(size_t)r * (size_t)m->cols + (size_t)c];
}

int rt_plot_is_layers(const rt_metrics *m)
{
    for (int c = 0; c < m->cols; c++) {
        const char *colon = strrchr(m->names[c], ':');
        if (colon && !strcmp(colon, ":grad_norm")) return 1;
    }
    return 0;
}

/* The column "<item>:<metric>", or -1. */
static int item_col(const rt_metrics *m, const char *item, size_t len, const char *metric)
{
    for (int c = 0; c < m->cols; c++)
        if (!strncmp(m->names[c], item, len) && m->names[c][len] == ':' &&
            !strcmp(m->names[c] + len + 1, metric))
            return c;
    return -1;
}

/* The items that have a column of that metric, in the file's order (the
 * model's); with weights_only, tensors named *.weight when there are any. */
static int find_items(const rt_metrics *m, const char *metric, const char *alt, int weights_only,
                      lpanel *p)
{
    p->n = 0;
    p->names = calloc((size_t)m->cols, sizeof *p->names);
    p->col = calloc((size_t)m->cols, sizeof *p->col);
    if (!p->names || !p->col) return -1;
    int any_weight = 0;
    for (int pass = weights_only ? 0 : 1; pass < 2 && !p->n; pass++)
        for (int c = 0; c < m->cols; c++) {
            const char *name = m->names[c], *colon = strrchr(name, ':');
            if (!colon || (strcmp(colon + 1, metric) && (!alt || strcmp(colon + 1, alt)))) continue;
            size_t len = (size_t)(colon - name);
            /* an activation with both: its saturated column, not its dead one */
            if (alt && !strcmp(colon + 1, metric) && item_col(m, name, len, alt) >= 0) continue;
            int weight = len > 7 && !strncmp(colon - 7, ".weight", 7);
            any_weight |= weight;
            if (pass == 0 && !weight) continue;
            p->names[p->n] = name;
            p->col[p->n++] = c;
        }
    (void)any_weight;
    return 0;
}

/* The rows drawn: up to L_MAX_LINES with a finite gradient norm, the first,
 * the last and evenly between. */
static int pick_rows(const rt_metrics *m, int grad_col, int *rows)
{
    int *ok = malloc(sizeof(int) * (size_t)(m->rows ? m->rows : 1)), n = 0, k = 0;
    if (!ok) return 0;
    for (int r = 0; r < m->rows; r++)
        if (grad_col < 0 || isfinite(lcell(m, r, grad_col))) ok[n++] = r;
    if (n <= L_MAX_LINES)
        for (k = 0; k < n; k++) rows[k] = ok[k];
    else
        for (k = 0; k < L_MAX_LINES; k++) rows[k] = ok[(long)k * (n - 1) / (L_MAX_LINES - 1)];
    free(ok);
    return k;
}

/* The value axis over the panel's values at the rows (and its rule). */
static axis value_axis(const rt_metrics *m, const lpanel *p, const int *rows, int nr)
{
    double lo = INFINITY, hi = -INFINITY;
    for (int k = 0; k < nr; k++)
        for (int i = 0; i < p->n; i++) {
            double v = lcell(m, rows[k], p->col[i]);
            if (!isfinite(v) || (p->log && v <= 0)) continue;
            lo = v < lo ? v : lo, hi = v > hi ? v : hi;
        }
    if (p->rule > 0) lo = p->rule < lo ? p->rule : lo, hi = p->rule > hi ? p->rule : hi;
    if (!(lo <= hi)) lo = p->log ? 1e-3 : 0, hi = p->log ? 1 : 1;
    if (!p->log) return linear_axis(lo < 0 ? lo : 0, hi > 1 ? hi : 1, 0);
    return log_axis(lo, hi);
}

/* the value axis's grid and labels */
static void value_ticks(sbuf *b, const lpanel *p, const axis *ay, double x0, double x1, double y0,
                        double y1)
{
    char t[64];
    int n = p->log ? (int)(ay->hi - ay->lo + 0.5) : ticks(ay);
    for (int k = 0; k <= n; k++) {
        double e = p->log ? ay->lo + k : tick(ay, k);
        if (p->log && fmod(e - ay->lo, ay->step) > 1e-9) continue;
        double y = p->log ? coord_pos(ay, e, y1, y0) : axis_pos(ay, e, y1, y0);
        if (p->log)
            snprintf(t, sizeof t, "1e%d", (int)e);
        else
            fmt_tick(t, sizeof t, e, ay->step);
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dcdce4\"/>\n"
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" "
                  "text-anchor=\"end\">%s</text>\n",
                  x0, y, x1, y, x0 - 7, y + 4, t);
    }
}

/* the items along the x axis: their names, turned */
static double item_x(const lpanel *p, int i, double x0, double x1)
{
    return p->n > 1 ? x0 + L_INSET + (x1 - x0 - 2 * L_INSET) * i / (p->n - 1) : (x0 + x1) / 2;
}

/* a line per row, its points at the items; a gap where a value is missing */
static void draw_lines(sbuf *b, const rt_metrics *m, const lpanel *p, const axis *ay,
                       const int *rows, int nr, double x0, double x1, double y0, double y1)
{
    for (int k = 0; k < nr; k++) {
        const char *color = L_COLORS[L_MAX_LINES - nr + k];
        sb_printf(b, "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" d=\"", color);
        int in_run = 0;
        for (int i = 0; i < p->n; i++) {
            double v = lcell(m, rows[k], p->col[i]);
            if (!isfinite(v) || (p->log && v <= 0)) {
                in_run = 0;
                continue;
            }
            sb_printf(b, "%s%.2f %.2f ", in_run ? "L" : "M", item_x(p, i, x0, x1),
                      axis_pos(ay, v, y1, y0));
            in_run = 1;
        }
        sb_printf(b, "\"/>\n");
        for (int i = 0; i < p->n; i++) {
            double v = lcell(m, rows[k], p->col[i]);
            if (isfinite(v) && !(p->log && v <= 0))
                sb_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                          item_x(p, i, x0, x1), axis_pos(ay, v, y1, y0), color);
        }
    }
}

/* the legend: which row each line is, in the top corner (left or right)
 * with fewer points under it; returns 1 when on the left */
static int legend(sbuf *b, const rt_metrics *m, const lpanel *p, const axis *ay, const int *rows,
                  int nr, double x0, double x1, double y0, double y1)
{
    int hits[2] = {0, 0};
    for (int k = 0; k < nr; k++)
        for (int i = 0; i < p->n; i++) {
            double v = lcell(m, rows[k], p->col[i]), x = item_x(p, i, x0, x1);
            if (!isfinite(v) || (p->log && v <= 0) || axis_pos(ay, v, y1, y0) > y0 + 24 + 17 * nr)
                continue;
            if (x < x0 + 130) hits[0]++;
            if (x > x1 - 130) hits[1]++;
        }
    const double lx = hits[0] < hits[1] ? x0 + 10 : x1 - 110;
    int c_step = rt_metrics_column(m, "step"), c_epoch = rt_metrics_column(m, "epoch");
    /* a file of steps (--every-steps) names its rows by step */
    int by_step =
        c_step >= 0 &&
        (c_epoch < 0 || (m->rows > 1 && lcell(m, 1, c_epoch) == lcell(m, m->rows - 1, c_epoch)));
    for (int r = 2; !by_step && r < m->rows && c_epoch >= 0; r++)
        by_step = lcell(m, r, c_epoch) == lcell(m, r - 1, c_epoch);
    for (int k = 0; k < nr; k++) {
        double y = y0 + 14 + 17 * k;
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"2.5\"/>\n<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" "
                  "fill=\"#222\">%s %g</text>\n",
                  lx, y, lx + 24, y, L_COLORS[L_MAX_LINES - nr + k], lx + 30, y + 4,
                  by_step ? "step" : "epoch", lcell(m, rows[k], by_step ? c_step : c_epoch));
    }
    return lx < x1 - 110;
}

static void draw_lpanel(sbuf *b, const rt_metrics *m, const lpanel *p, const int *rows, int nr,
                        double top)
{
    const double x0 = L_LEFT, x1 = L_WIDTH - L_RIGHT, y0 = top + L_PANEL_TOP, y1 = y0 + L_PLOT;
    axis ay = value_axis(m, p, rows, nr);
    rt_svg_panel_head(b, p->title, p->log, L_LEFT, top, x0, x1, y0, y1);
    value_ticks(b, p, &ay, x0, x1, y0, y1);
    for (int i = 0; i < p->n; i++) {
        double x = item_x(p, i, x0, x1);
        const char *colon = strrchr(p->names[i], ':');
        sb_printf(b,
                  "<text x=\"0\" y=\"0\" font-size=\"11.5\" fill=\"#444\" text-anchor=\"end\" "
                  "transform=\"translate(%.1f %.1f) rotate(-30)\">",
                  x + 4, y1 + 16);
        char name[256];
        snprintf(name, sizeof name, "%.*s%s", (int)(colon - p->names[i]), p->names[i],
                 strcmp(colon, ":saturated") ? "" : " (saturated)");
        sb_text(b, name);
        sb_printf(b, "</text>\n");
    }
    sb_printf(b,
              "<text x=\"0\" y=\"0\" font-size=\"13\" fill=\"#333\" text-anchor=\"middle\" "
              "transform=\"translate(20 %.1f) rotate(-90)\">",
              (y0 + y1) / 2);
    sb_text(b, p->ylabel);
    sb_printf(b, "</text>\n");
    draw_lines(b, m, p, &ay, rows, nr, x0, x1, y0, y1);
    int left = legend(b, m, p, &ay, rows, nr, x0, x1, y0, y1);
    if (p->rule > 0) {
        double y = axis_pos(&ay, p->rule, y1, y0);
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#c0392b\" "
                  "stroke-width=\"1.4\" stroke-dasharray=\"6 4\"/>\n<text x=\"%.1f\" "
                  "y=\"%.1f\" font-size=\"11.5\" fill=\"#c0392b\" text-anchor=\"%s\">%g (rule of "
                  "thumb)</text>\n",
                  x0, y, x1, y, left ? x1 - 6 : x0 + 6, y + 15, left ? "end" : "start", p->rule);
    }
    sb_printf(b, "</g>\n");
}

/* the title and the subtitle: the last row's gradient norms of the first
 * and the last layer, the figures vanishing gradients show in */
static void heading(sbuf *b, const rt_metrics *m, const lpanel *grad, const rt_plot_options *o,
                    int last, int height)
{
    rt_svg_begin(b, L_WIDTH, height, L_FONT, L_LEFT, o->title ? o->title : "training",
                 " layer health", " \xe2\x80\x94 layer health");
    if (grad->n && last >= 0) {
        char a[64], z[64];
        fmt_value(a, sizeof a, lcell(m, last, grad->col[0]));
        fmt_value(z, sizeof z, lcell(m, last, grad->col[grad->n - 1]));
        sb_printf(b, "last row: gradient norm %s at the first layer, %s at the last", a, z);
    }
    if (o->source) {
        const char *base = strrchr(o->source, '/');
        sb_printf(b, " \xc2\xb7 ");
        sb_text(b, base ? base + 1 : o->source);
    }
    sb_printf(b, "</text>\n");
}

int rt_plot_layers_svg(const rt_metrics *m, const char *svg_path, const rt_plot_options *o,
                       rt_error *err)
{
    lpanel p[3] = {{"Gradient norm per layer", "gradient norm", 0, 0, 0, 1, 0},
                   {"Update / weight per layer", "update norm / weight norm", 0, 0, 0, 1, 1e-3},
                   {"Dead (relu) or saturated (tanh, sigmoid) units", "fraction", 0, 0, 0, 0, 0}};
    int rc = -1, rows[L_MAX_LINES];
    if (find_items(m, "grad_norm", NULL, 1, &p[0]) ||
        find_items(m, "update_ratio", NULL, 1, &p[1]) ||
        find_items(m, "dead", "saturated", 0, &p[2])) {
        rt_fail(err, "%s: out of memory", svg_path);
        goto done;
    }
    int nr = pick_rows(m, p[0].n ? p[0].col[0] : -1, rows), np = 0;
    lpanel *drawn[3];
    for (int i = 0; i < 3; i++)
        if (p[i].n) drawn[np++] = &p[i];
    if (!nr || !np) {
        rt_fail(err, "%s: nothing to draw: no row with a gradient norm",
                o->source ? o->source : svg_path);
        goto done;
    }
    sbuf b = {0};
    const int height = L_TITLE + np * L_PANEL + 10;
    heading(&b, m, &p[0], o, rows[nr - 1], height);
    for (int i = 0; i < np; i++) draw_lpanel(&b, m, drawn[i], rows, nr, L_TITLE + i * L_PANEL);
    sb_printf(&b, "</svg>\n");
    rc = rt_svg_finish(&b, svg_path, err);
done:
    for (int i = 0; i < 3; i++) free(p[i].names), free(p[i].col);
    return rc;
}
