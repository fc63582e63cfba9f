/* rt_plot.c — training curves: a metrics CSV (read by rt_metrics.c, columns
 * found by their header names) drawn as one self-contained SVG file, a panel
 * each for the loss, the accuracy and the learning rate against the epochs
 * (a --step-metrics file: against the steps).
 * The file needs no script, stylesheet or font beyond the browser's own
 * sans-serif. */
#include "rt.h"
#include "rt_plot_svg.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* picture geometry, in SVG user units (pixels at 100%) */
enum {
    WIDTH = 920,
    MARGIN_LEFT = 88,
    MARGIN_RIGHT = 28,
    TITLE_BAND = 78,
    PANEL_HEIGHT = 262,
    PANEL_TOP = 36, /* the panel's title above the plot area */
    PLOT_HEIGHT = 176,
    BOTTOM_PAD = 18,
};

/* ---- the picture ---- */

typedef struct series {
    const char *label, *color;
    int col;
} series;

typedef struct panel {
    const char *title, *ylabel;
    series s[2];
    int ns;
    int log;                /* a log scale for values that span decades */
    int valid;              /* which series is the validation one; -1: none */
    int mark_best;          /* a line at the epoch of the lowest validation value */
    const char *mark_label; /* a line at x = mark_x so labelled (NULL: none) */
    double mark_x;
    int join; /* NaN rows are not measured, not gaps: the line joins over them (sharpness) */
} panel;

static const char *const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

/* The first of the names that the header has, or -1. */
static int find_col(const rt_metrics *m, const char *const *names)
{
    for (; *names; names++) {
        int c = rt_metrics_column(m, *names);
        if (c >= 0) return c;
    }
    return -1;
}

static double cell(const rt_metrics *m, int r, int c)
{
    return m->v[(size_t)r * (size_t)m->cols + (size_t)c];
}

/* A column worth drawing: at least one finite value. */
static int has_values(const rt_metrics *m, int col)
{
    if (col < 0) return 0;
    for (int r = 0; r < m->rows; r++)
        if (isfinite(cell(m, r, col))) return 1;
    return 0;
}

static double last_finite(const rt_metrics *m, int col)
{
    for (int r = m->rows - 1; r >= 0; r--)
        if (isfinite(cell(m, r, col))) return cell(m, r, col);
    return NAN;
}

/* The row of the lowest finite value of a column that has one. */
static int lowest_row(const rt_metrics *m, int col)
{
    int best = -1;
    for (int r = 0; r < m->rows; r++) {
        double v = cell(m, r, col);
        if (isfinite(v) && (best < 0 || v < cell(m, best, col))) best = r;
    }
    return best;
}

/* The corner of the plot area where the legend hides the fewest points. */
static void legend_place(const rt_metrics *m, const panel *p, const axis *ax, const axis *ay,
                         double x0, double x1, double y0, double y1, double lw, double lh,
                         double *lx, double *ly)
{
    const double cx[4] = {x1 - lw - 10, x1 - lw - 10, x0 + 10, x0 + 10};
    const double cy[4] = {y0 + 10, y1 - lh - 10, y0 + 10, y1 - lh - 10};
    long best = -1;
    for (int k = 0; k < 4; k++) {
        long hits = 0;
        for (int i = 0; i < p->ns; i++)
            for (int r = 0; r < m->rows; r++) {
                double v = cell(m, r, p->s[i].col);
                if (!isfinite(v) || (p->log && v <= 0)) continue;
                double px = axis_pos(ax, cell(m, r, m->x_col), x0, x1);
                double py = axis_pos(ay, v, y1, y0);
                hits += px >= cx[k] - 6 && px <= cx[k] + lw + 6 && py >= cy[k] - 6 &&
                        py <= cy[k] + lh + 6;
            }
        if (best < 0 || hits < best) {
            best = hits;
            *lx = cx[k];
            *ly = cy[k];
        }
    }
}

/* a panel's plotting area */
typedef struct frame {
    double x0, x1, y0, y1;
} frame;

/* the value axis: ticks, labels and grid lines (rt_svg.c) */
static void value_grid(sbuf *b, const panel *p, const axis *ay, const frame *f)
{
    (void)p; /* the axis says whether it is a log one */
    rt_svg_value_grid(b, ay, f->x0, f->x1, f->y0, f->y1);
}

/* the epoch (or step) axis: ticks, labels and grid lines; both axes' names */
static void x_axis(sbuf *b, const panel *p, const axis *ax, const frame *f, const char *name)
{
    const double x0 = f->x0, x1 = f->x1, y0 = f->y0, y1 = f->y1;
    char t[64];
    /* epoch (step) ticks; a log axis (the lr): decades */
    for (int k = 0; k <= ticks(ax); k++) {
        double v = tick(ax, k), x = ax->log ? coord_pos(ax, v, x0, x1) : axis_pos(ax, v, x0, x1);
        if (ax->log && v > ax->hi + 1e-9) break; /* a step of 2 decades past the end */
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6ec\"/>\n"
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
                  x, y0, x, y1, x, y1, x, y1 + 5);
        if (ax->log)
            snprintf(t, sizeof t, "1e%d", (int)v);
        else
            fmt_tick(t, sizeof t, v, ax->step);
        sb_printf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" "
                  "text-anchor=\"middle\">%s</text>\n",
                  x, y1 + 19, t);
    }
    sb_printf(b,
              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#333\" "
              "text-anchor=\"middle\">%s</text>\n",
              (x0 + x1) / 2, y1 + 37, name);
    sb_printf(b,
              "<text x=\"0\" y=\"0\" font-size=\"13\" fill=\"#333\" text-anchor=\"middle\" "
              "transform=\"translate(%d %.1f) rotate(-90)\">",
              20, (y0 + y1) / 2);
    sb_text(b, p->ylabel);
    sb_printf(b, "</text>\n");
}

/* the curves: a path per run of finite values, so a NaN or inf is a gap;
 * dots on each point when they are few, and on points standing alone */
static void draw_curves(sbuf *b, const rt_metrics *m, const panel *p, const axis *ax,
                        const axis *ay, const frame *f)
{
    const double x0 = f->x0, x1 = f->x1, y0 = f->y0, y1 = f->y1;
    int finite_points = 0;
    for (int i = 0; i < p->ns; i++)
        for (int r = 0; r < m->rows; r++) finite_points += isfinite(cell(m, r, p->s[i].col));
    for (int i = 0; i < p->ns; i++) {
        const series *s = &p->s[i];
        sb_printf(b,
                  "<path fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" "
                  "stroke-linejoin=\"round\" stroke-linecap=\"round\" d=\"",
                  s->color);
        int in_run = 0, started = 0;
        for (int r = 0; r < m->rows; r++) {
            double v = cell(m, r, s->col);
            if (p->join && isnan(v)) continue;
            if (!isfinite(v) || (p->log && v <= 0)) {
                in_run = 0;
                continue;
            }
            sb_printf(b, "%s%.2f %.2f",
                      in_run    ? " L"
                      : started ? " M"
                                : "M",
                      axis_pos(ax, cell(m, r, m->x_col), x0, x1), axis_pos(ay, v, y1, y0));
            in_run = started = 1;
        }
        sb_printf(b, "\"/>\n");
        for (int r = 0; r < m->rows; r++) {
            double v = cell(m, r, s->col);
            if (!isfinite(v) || (p->log && v <= 0)) continue;
            int before = r > 0 && isfinite(cell(m, r - 1, s->col));
            int after = r + 1 < m->rows && isfinite(cell(m, r + 1, s->col));
            if (p->join) before = after = 1; /* a dot where the points are few only */
            if (finite_points <= 80 || (!before && !after))
                sb_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"%d\" fill=\"%s\"/>\n",
                          axis_pos(ax, cell(m, r, m->x_col), x0, x1), axis_pos(ay, v, y1, y0),
                          before || after ? 3 : 4, s->color);
        }
    }
}

/* the epoch (step) early stopping goes back to (the lowest validation loss), and
 * the legend: each series with its last value */
static void best_and_legend(sbuf *b, const rt_metrics *m, const panel *p, const axis *ax,
                            const axis *ay, const frame *f)
{
    const double x0 = f->x0, x1 = f->x1, y0 = f->y0, y1 = f->y1;
    char t[64];
    if (p->mark_best && p->valid >= 0 && m->rows > 1) {
        const series *v = &p->s[p->valid];
        double x = axis_pos(ax, cell(m, lowest_row(m, v->col), m->x_col), x0, x1);
        sb_printf(b,
                  "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"1.2\" stroke-dasharray=\"5 4\" opacity=\"0.8\"/>\n"
                  "<text x=\"%.2f\" y=\"%.1f\" font-size=\"11.5\" fill=\"%s\" "
                  "text-anchor=\"%s\">best</text>\n",
                  x, y0, x, y1, v->color, x + (x > x1 - 40 ? -4 : 4), y1 - 6, v->color,
                  x > x1 - 40 ? "end" : "start");
    }

    if (p->mark_label && isfinite(p->mark_x)) { /* lr-find's suggestion */
        double x = axis_pos(ax, p->mark_x, x0, x1);
        sb_printf(b,
                  "<line x1=\"%.2f\" y1=\"%.1f\" x2=\"%.2f\" y2=\"%.1f\" stroke=\"#c0392b\" "
                  "stroke-width=\"1.6\" stroke-dasharray=\"5 4\"/>\n"
                  "<text x=\"%.2f\" y=\"%.1f\" font-size=\"11.5\" fill=\"#c0392b\" "
                  "text-anchor=\"%s\">",
                  x, y0, x, y1, x + (x > x1 - 120 ? -4 : 4), y0 + 14,
                  x > x1 - 120 ? "end" : "start");
        sb_text(b, p->mark_label);
        sb_printf(b, "</text>\n");
    }

    /* the legend: each series with its last value */
    const double row_h = 19, lw = 230, lh = 10 + row_h * p->ns;
    double lx = 0, ly = 0;
    legend_place(m, p, ax, ay, x0, x1, y0, y1, lw, lh, &lx, &ly);
    sb_printf(b,
              "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" rx=\"4\" "
              "fill=\"#ffffff\" fill-opacity=\"0.92\" stroke=\"#ccc\"/>\n",
              lx, ly, lw, lh);
    for (int i = 0; i < p->ns; i++) {
        double y = ly + 5 + row_h * (i + 0.5);
        fmt_value(t, sizeof t, last_finite(m, p->s[i].col));
        sb_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\" "
                  "stroke-width=\"2.5\"/>\n"
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12.5\" fill=\"#222\">",
                  lx + 10, y, lx + 34, y, p->s[i].color, lx + 42, y + 4.5);
        sb_text(b, p->s[i].label);
        sb_printf(b, " (last %s)</text>\n", t);
    }
}

static void draw_panel(sbuf *b, const rt_metrics *m, const panel *p, const axis *ax, double top)
{
    const double x0 = MARGIN_LEFT, x1 = WIDTH - MARGIN_RIGHT;
    const double y0 = top + PANEL_TOP, y1 = y0 + PLOT_HEIGHT;

    /* the value axis: over the finite values of the panel's series */
    double lo = INFINITY, hi = -INFINITY;
    int gaps = 0;
    for (int i = 0; i < p->ns; i++)
        for (int r = 0; r < m->rows; r++) {
            double v = cell(m, r, p->s[i].col);
            if (!isfinite(v) || (p->log && v <= 0)) {
                gaps += !(p->join && isnan(v));
                continue;
            }
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    axis ay = p->log ? log_axis(lo, hi) : linear_axis(lo, hi, 0);

    rt_svg_panel_head(b, p->title, p->log, MARGIN_LEFT, top, x0, x1, y0, y1);

    const frame f = {x0, x1, y0, y1};
    value_grid(b, p, &ay, &f);
    x_axis(b, p, ax, &f, m->x_name);
    draw_curves(b, m, p, ax, &ay, &f);
    best_and_legend(b, m, p, ax, &ay, &f);
    if (gaps)
        sb_printf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11.5\" fill=\"#a33\" "
                  "text-anchor=\"end\">gaps: %d value%s not finite%s</text>\n",
                  x1, y1 + 37, gaps, gaps == 1 ? "" : "s", p->log ? " or not positive" : "");
    sb_printf(b, "</g>\n");
}

/* Training and validation columns under the names trainers use. */
static const char *const LOSS[] = {"loss", "train_loss", NULL};
static const char *const VALID_LOSS[] = {"valid_loss", "val_loss", "validation_loss", NULL};
static const char *const ACC[] = {"accuracy", "acc", "train_accuracy", NULL};
static const char *const VALID_ACC[] = {"valid_accuracy", "val_accuracy", "val_acc", NULL};
static const char *const LR[] = {"lr", "learning_rate", NULL};
static const char *const SHARPNESS[] = {"sharpness", NULL};
static const char *const TWO_OVER_LR[] = {"2/lr", NULL}; /* made by rt_plot_svg */

/* Adds a panel of the columns that have values; says whether it did. */
static int add_panel(const rt_metrics *m, panel *p, const char *title, const char *ylabel,
                     int c_train, int c_valid, const char *color_train, const char *color_valid,
                     const char *label_train, int may_log)
{
    memset(p, 0, sizeof *p);
    p->title = title;
    p->ylabel = ylabel;
    if (has_values(m, c_train)) p->s[p->ns++] = (series){label_train, color_train, c_train};
    p->valid = -1;
    if (has_values(m, c_valid)) {
        p->valid = p->ns;
        p->s[p->ns++] = (series){"validation", color_valid, c_valid};
    }
    if (!p->ns) return 0;
    /* a log scale when every value is positive and they span two decades */
    double lo = INFINITY, hi = 0;
    int positive = 1;
    for (int i = 0; i < p->ns; i++)
        for (int r = 0; r < m->rows; r++) {
            double v = cell(m, r, p->s[i].col);
            if (!isfinite(v)) continue;
            if (v <= 0) positive = 0;
            if (v < lo) lo = v;
            if (v > hi) hi = v;
        }
    p->log = may_log && positive && hi / lo >= 100;
    return 1;
}

static int plot_svg(const rt_metrics *m, const char *svg_path, const rt_plot_options *o,
                    rt_error *err)
{
    panel panels[4];
    int np = 0;
    if (add_panel(m, &panels[np], "Loss", "loss", find_col(m, LOSS), find_col(m, VALID_LOSS),
                  "#1f5fbf", "#e8710a", "training", 1))
        panels[np++].mark_best = 1;
    if (!o->no_accuracy)
        np += add_panel(m, &panels[np], "Accuracy", "accuracy", find_col(m, ACC),
                        find_col(m, VALID_ACC), "#1f5fbf", "#e8710a", "training", 0);
    np += add_panel(m, &panels[np], "Learning rate", "lr", find_col(m, LR), -1, "#2e9d4f", NULL,
                    "learning rate", 0); /* a schedule's shape reads best on a linear scale */
    if (add_panel(m, &panels[np], "Sharpness", "lambda_max", find_col(m, SHARPNESS),
                  find_col(m, TWO_OVER_LR), "#8e44ad", "#c0392b", "lambda_max", 0)) {
        /* gradient descent is stable along the top direction while λmax < 2/lr */
        if (panels[np].valid >= 0) panels[np].s[panels[np].valid].label = "2/lr";
        panels[np].join = 1; /* measured every N epochs */
        panels[np++].valid = -1;
    }
    if (!np)
        return rt_fail(err,
                       "%s: nothing to draw: no loss, accuracy or lr column with a finite value",
                       o->source ? o->source : svg_path);

    /* epochs (steps): whole numbers get whole ticks */
    double elo = INFINITY, ehi = -INFINITY;
    int integer = 1;
    for (int r = 0; r < m->rows; r++) {
        double e = cell(m, r, m->x_col);
        if (e < elo) elo = e;
        if (e > ehi) ehi = e;
        if (e != floor(e)) integer = 0;
    }
    axis ax = linear_axis(elo, ehi, integer);

    sbuf b = {0};
    const int height = TITLE_BAND + np * PANEL_HEIGHT + BOTTOM_PAD;
    rt_svg_begin(&b, WIDTH, height, FONT, MARGIN_LEFT, o->title ? o->title : "training",
                 " training curves", " \xe2\x80\x94 training curves");

    /* the subtitle: how far it went and the figures a reader looks for */
    char a[64];
    sb_printf(&b, "%d %s%s", m->rows, m->x_name, m->rows == 1 ? "" : "s");
    int c_epoch = rt_metrics_column(m, "epoch");
    if (c_epoch >= 0 && c_epoch != m->x_col && has_values(m, c_epoch)) { /* steps: of epochs */
        double most = -INFINITY;
        for (int r = 0; r < m->rows; r++)
            if (cell(m, r, c_epoch) > most) most = cell(m, r, c_epoch);
        sb_printf(&b, " in %g epoch%s", most, most == 1 ? "" : "s");
    }
    int c_loss = find_col(m, LOSS), c_vloss = find_col(m, VALID_LOSS);
    if (has_values(m, c_loss)) {
        fmt_value(a, sizeof a, last_finite(m, c_loss));
        sb_printf(&b, " \xc2\xb7 last training loss %s", a);
    }
    if (has_values(m, c_vloss)) {
        int best = lowest_row(m, c_vloss);
        fmt_value(a, sizeof a, cell(m, best, c_vloss));
        sb_printf(&b, " \xc2\xb7 best validation loss %s at %s %g", a, m->x_name,
                  cell(m, best, m->x_col));
    }
    if (o->source) {
        const char *base = strrchr(o->source, '/');
        sb_printf(&b, " \xc2\xb7 ");
        sb_text(&b, base ? base + 1 : o->source);
    }
    sb_printf(&b, "</text>\n");

    for (int i = 0; i < np; i++) draw_panel(&b, m, &panels[i], &ax, TITLE_BAND + i * PANEL_HEIGHT);
    sb_printf(&b, "</svg>\n");
    return rt_svg_finish(&b, svg_path, err);
}

/* A sharpness column (train { track_sharpness = N }) is drawn with 2/lr,
 * the stability limit of gradient descent: a copy of the metrics with a
 * 2/lr column added. */
int rt_plot_svg(const rt_metrics *m, const char *svg_path, const rt_plot_options *o, rt_error *err)
{
    int c_sharp = find_col(m, SHARPNESS), c_lr = find_col(m, LR);
    if (c_sharp < 0 || c_lr < 0 || find_col(m, TWO_OVER_LR) >= 0)
        return plot_svg(m, svg_path, o, err);
    rt_metrics w = *m;
    w.cols = m->cols + 1;
    w.v = malloc(sizeof(double) * (size_t)w.cols * (size_t)(m->rows ? m->rows : 1));
    w.names = malloc(sizeof(char *) * (size_t)w.cols);
    if (!w.v || !w.names) {
        free(w.v), free(w.names);
        return rt_fail(err, "%s: out of memory", svg_path);
    }
    memcpy(w.names, m->names, sizeof(char *) * (size_t)m->cols);
    w.names[m->cols] = (char *)TWO_OVER_LR[0];
    for (int r = 0; r < m->rows; r++) {
        memcpy(w.v + (size_t)r * w.cols, m->v + (size_t)r * m->cols, sizeof(double) * m->cols);
        double lr = cell(m, r, c_lr);
        w.v[(size_t)r * w.cols + m->cols] = lr > 0 ? 2 / lr : NAN;
    }
    int rc = plot_svg(&w, svg_path, o, err);
    free(w.v), free(w.names);
    return rc;
}

int rt_plot_metrics(const char *csv_path, const char *svg_path, const rt_plot_options *o,
                    rt_error *err)
{
    rt_metrics m;
    if (rt_metrics_read(csv_path, &m, err)) return -1;
    rt_plot_options opts = *o;
    if (!opts.source) opts.source = csv_path;
    int rc = rt_plot_is_layers(&m) ? rt_plot_layers_svg(&m, svg_path, &opts, err)
                                   : rt_plot_svg(&m, svg_path, &opts, err);
    rt_metrics_free(&m);
    return rc;
}

/* lr-find's picture of lm (its rows against the lr, from lo to hi), the
 * losses capped (clipped: how many were) */
static int draw_lr_find(const rt_metrics *lm, int c_loss, int c_smooth, double suggested,
                        const double range[2], int clipped, const char *svg_path,
                        const rt_plot_options *o, rt_error *err)
{
    panel p;
    if (!add_panel(lm, &p, "Loss against the learning rate", "loss", c_loss, -1, "#9db7e0", NULL,
                   "loss", 1))
        return rt_fail(err, "%s: nothing to draw: no finite loss",
                       o->source ? o->source : svg_path);
    if (has_values(lm, c_smooth)) p.s[p.ns++] = (series){"smoothed loss", "#1f5fbf", c_smooth};
    char label[64];
    snprintf(label, sizeof label, "suggested lr %.3g", suggested);
    p.mark_label = isfinite(suggested) ? label : NULL;
    p.mark_x = suggested;
    axis ax = log_axis(range[0], range[1]);

    sbuf b = {0};
    const int height = TITLE_BAND + PANEL_HEIGHT + BOTTOM_PAD;
    rt_svg_begin(&b, WIDTH, height, FONT, MARGIN_LEFT, o->title ? o->title : "training",
                 " learning-rate range test", " \xe2\x80\x94 learning-rate range test");
    sb_printf(&b, "%d steps, lr %.3g to %.3g", lm->rows, range[0], range[1]);
    if (p.mark_label) sb_printf(&b, " \xc2\xb7 %s", label);
    if (clipped) sb_printf(&b, " \xc2\xb7 %d values above the top drawn at it", clipped);
    sb_printf(&b, "</text>\n");
    draw_panel(&b, lm, &p, &ax, TITLE_BAND);
    sb_printf(&b, "</svg>\n");
    return rt_svg_finish(&b, svg_path, err);
}

/* The lr-find picture: the loss and the smoothed loss against the lr on a
 * log axis, the suggestion marked. */
int rt_plot_lr_find(const rt_metrics *m, double suggested, const char *svg_path,
                    const rt_plot_options *o, rt_error *err)
{
    rt_metrics lm = *m; /* the same rows, drawn against the lr */
    int c_lr = rt_metrics_column(m, "lr"), c_loss = rt_metrics_column(m, "loss"),
        c_smooth = rt_metrics_column(m, "smoothed");
    double range[2] = {INFINITY, 0};
    for (int r = 0; c_lr >= 0 && r < m->rows; r++) {
        double v = cell(m, r, c_lr);
        if (isfinite(v) && v > 0 && v < range[0]) range[0] = v;
        if (isfinite(v) && v > range[1]) range[1] = v;
    }
    if (c_loss < 0 || c_smooth < 0 || !(range[1] > 0))
        return rt_fail(err, "%s: nothing to draw: no lr, loss and smoothed columns with values",
                       o->source ? o->source : svg_path);
    lm.x_col = c_lr;
    lm.x_name = "learning rate (log scale)";
    /* the losses drawn up to a cap, the test's own stopping threshold (4 x
     * the lowest smoothed loss): the blow-up that ends the test would
     * flatten the rest of the curve into a line; values above are drawn at it */
    double best = INFINITY;
    for (int r = 0; r < m->rows; r++)
        if (cell(m, r, c_smooth) < best) best = cell(m, r, c_smooth);
    const double cap = isfinite(best) ? best + 3 * fabs(best) : INFINITY;
    size_t cells = (size_t)m->rows * (size_t)m->cols;
    double *v = malloc(sizeof(double) * (cells ? cells : 1));
    if (!v) return rt_fail(err, "%s: out of memory", svg_path);
    if (cells) memcpy(v, m->v, sizeof(double) * cells);
    int clipped = 0;
    for (int r = 0; r < m->rows; r++)
        for (int k = 0; k < 2; k++) {
            double *x = &v[(size_t)r * (size_t)m->cols + (size_t)(k ? c_smooth : c_loss)];
            if (*x > cap) *x = cap, clipped++;
        }
    lm.v = v;
    int rc = draw_lr_find(&lm, c_loss, c_smooth, suggested, range, clipped, svg_path, o, err);
    free(v);
    return rc;
}

void rt_plot_path_beside(const char *csv_path, char *svg_path, size_t size)
{
    size_t n = strlen(csv_path);
    if (n > 4 && !strcmp(csv_path + n - 4, ".csv")) n -= 4;
    snprintf(svg_path, size, "%.*s.svg", (int)n, csv_path);
}
