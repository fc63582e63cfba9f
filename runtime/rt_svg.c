/* rt_svg.c — the drawing primitives of the pictures (rt_plot.c's curves,
 * rt_plot_xy.c's overlays and sweeps): a growing text buffer with XML-safe
 * text, "nice" ticks and their labels, linear and log axes, and a value
 * axis's grid. */
#include "rt.h"

#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLOT_INSET RT_SVG_INSET

/* ---- a growing text buffer (the SVG is built in memory, then written
 * atomically, so a failed run never leaves half a picture) ---- */

void rt_svg_printf(rt_svg_buf *b, const char *fmt, ...)
{
    if (b->oom) return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        size_t room = b->cap - b->len;
        int n = vsnprintf(b->s ? b->s + b->len : NULL, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->oom = 1;
            return;
        }
        if ((size_t)n < room) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap ? b->cap * 2 : 1 << 14;
        while (cap - b->len <= (size_t)n) cap *= 2;
        char *s = realloc(b->s, cap);
        if (!s) {
            b->oom = 1;
            return;
        }
        b->s = s;
        b->cap = cap;
    }
}

/* Text content and attribute values: XML's five specials escaped, and bytes
 * that are control characters or not ASCII replaced, so the file stays
 * well-formed whatever a file name holds. */
void rt_svg_text(rt_svg_buf *b, const char *t)
{
    for (; *t; t++) {
        unsigned char c = (unsigned char)*t;
        if (c == '&')
            rt_svg_printf(b, "&amp;");
        else if (c == '<')
            rt_svg_printf(b, "&lt;");
        else if (c == '>')
            rt_svg_printf(b, "&gt;");
        else if (c == '"')
            rt_svg_printf(b, "&quot;");
        else if (c == '\'')
            rt_svg_printf(b, "&apos;");
        else if (c < 0x20 || c >= 0x7f)
            rt_svg_printf(b, "?");
        else
            rt_svg_printf(b, "%c", c);
    }
}

/* A "nice" step (1, 2 or 5 times a power of ten) giving about `want` ticks
 * over span; 0 when there is none (a span of 0, subnormal or not finite). */
double rt_svg_nice_step(double span, int want)
{
    double raw = span / want;
    double p = pow(10, floor(log10(raw)));
    if (!(raw > 0) || !isfinite(raw) || !(p > 0) || !isfinite(p)) return 0;
    double f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

/* A tick label: fixed notation with as many decimals as the step needs;
 * exponent notation for very small or large values (and without a step). */
void rt_svg_tick_label(char *buf, size_t size, double v, double step)
{
    double a = fabs(v);
    if (v == 0 || a < step * 1e-6) {
        snprintf(buf, size, "0");
    } else if (step > 0 && a >= 1e-4 && a < 1e6) {
        int dec = step >= 1 ? 0 : (int)ceil(-log10(step) - 1e-9);
        snprintf(buf, size, "%.*f", dec > 10 ? 10 : dec, v);
    } else if (a >= 1e-4 && a < 1e6) {
        snprintf(buf, size, "%.4g", v);
    } else {
        int e = (int)floor(log10(a));
        double mant = v / pow(10, e);
        snprintf(buf, size, "%.3ge%d", mant, e);
    }
}

/* A short figure for legends and the subtitle. */
void rt_svg_value_text(char *buf, size_t size, double v)
{
    if (!isfinite(v))
        snprintf(buf, size, "%s", isnan(v) ? "NaN" : v > 0 ? "inf" : "-inf");
    else
        snprintf(buf, size, "%.4g", v);
}

/* A linear axis around [lo, hi] (finite): widened when flat, ends on ticks. */
rt_svg_axis rt_svg_linear_axis(double lo, double hi, int integer)
{
    rt_svg_axis a = {lo, hi, 0, 0, integer};
    if (!(hi > lo)) {
        double pad = integer ? 1 : fabs(lo) > 0 ? fabs(lo) * 0.1 : 1;
        if (lo - pad == lo) pad = fabs(lo) * 0.1; /* 1 is lost in a huge epoch */
        a.lo = lo - pad > -DBL_MAX ? lo - pad : -DBL_MAX;
        a.hi = hi + pad < DBL_MAX ? hi + pad : DBL_MAX;
    }
    double step = rt_svg_nice_step(a.hi - a.lo, 4);
    if (integer && step > 0 && step < 1) step = 1;
    if (step > 0) {
        double l = floor(a.lo / step + 1e-9) * step, h = ceil(a.hi / step - 1e-9) * step;
        /* ticks only where they are few and each moves the value */
        if (isfinite(l) && isfinite(h) && h > l && (h - l) / step <= 50 && l + step != l &&
            h - step != h) {
            a.lo = l;
            a.hi = h;
            a.step = step;
        }
    }
    return a;
}

/* A linear axis's labelled ticks are tick(a, 0) .. tick(a, ticks(a)). */
int rt_svg_ticks(const rt_svg_axis *a)
{
    return a->step > 0 ? (int)floor((a->hi - a->lo) / a->step + 0.5) : 1;
}

double rt_svg_tick(const rt_svg_axis *a, int k)
{
    if (a->step > 0) return a->lo + k * a->step;
    return k ? a->hi : a->lo;
}

/* A log axis over whole decades around [lo, hi] (both > 0). */
rt_svg_axis rt_svg_log_axis(double lo, double hi)
{
    rt_svg_axis a = {floor(log10(lo)), ceil(log10(hi)), 1, 1, 0};
    if (a.hi <= a.lo) a.hi = a.lo + 1;
    double decades = a.hi - a.lo;
    a.step = decades > 12 ? ceil(decades / 6) : decades > 6 ? 2 : 1;
    return a;
}

/* Where t, a value on the axis's scale (its log10 on a log axis), falls
 * between pixels p0 and p1, kept a few pixels inside them so that points at
 * the ends are not cut by the frame. Halves: the span of values near the
 * largest doubles does not overflow. */
double rt_svg_coord(const rt_svg_axis *a, double t, double p0, double p1)
{
    const double inset = p1 > p0 ? PLOT_INSET : -PLOT_INSET;
    p0 += inset;
    p1 -= inset;
    double span = a->hi * 0.5 - a->lo * 0.5;
    if (!(span > 0)) return (p0 + p1) / 2;
    return p0 + (t * 0.5 - a->lo * 0.5) / span * (p1 - p0);
}

/* Where the value v falls. */
double rt_svg_pos(const rt_svg_axis *a, double v, double p0, double p1)
{
    return rt_svg_coord(a, a->log ? log10(v) : v, p0, p1);
}

void rt_svg_x_tick(rt_svg_buf *b, double x, double y0, double y1, const char *label)
{
    rt_svg_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e6e6ec\"/>\n"
                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#888\"/>\n",
                  x, y0, x, y1, x, y1, x, y1 + 5);
    rt_svg_printf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" "
                  "text-anchor=\"middle\">%s</text>\n",
                  x, y1 + 19, label);
}

void rt_svg_x_name(rt_svg_buf *b, double x0, double x1, double y1, const char *name,
                   const char *tail)
{
    rt_svg_printf(b,
                  "<text x=\"%.1f\" y=\"%.1f\" font-size=\"13\" fill=\"#333\" "
                  "text-anchor=\"middle\">",
                  (x0 + x1) / 2, y1 + 37);
    rt_svg_text(b, name);
    rt_svg_printf(b, "%s</text>\n", tail);
}

/* the value axis: ticks, labels and grid lines (a log axis: decades, and
 * faint lines at 2..9 times each when there is room) */
void rt_svg_value_grid(rt_svg_buf *b, const rt_svg_axis *ay, double x0, double x1, double y0,
                       double y1)
{
    char t[64];
    if (ay->log) {
        double decades = ay->hi - ay->lo;
        for (double e = ay->lo; e <= ay->hi + 1e-9; e += 1) {
            double y = rt_svg_coord(ay, e, y1, y0);
            int labelled = fmod(e - ay->lo, ay->step) < 1e-9;
            if (labelled) {
                rt_svg_printf(
                    b,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dcdce4\"/>\n",
                    x0, y, x1, y);
                if (e >= -4 && e <= 5) /* 0.0001 .. 100000 */
                    rt_svg_tick_label(t, sizeof t, pow(10, e), pow(10, e));
                else
                    snprintf(t, sizeof t, "1e%d", (int)e);
                rt_svg_printf(b,
                              "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" "
                              "text-anchor=\"end\">%s</text>\n",
                              x0 - 7, y + 4, t);
            }
            /* faint lines at 2..9 times the decade when there is room */
            if (decades <= 4 && e < ay->hi - 1e-9)
                for (int k = 2; k <= 9; k++) {
                    double yk = rt_svg_coord(ay, e + log10(k), y1, y0);
                    rt_svg_printf(b,
                                  "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" "
                                  "stroke=\"#eeeef3\"/>\n",
                                  x0, yk, x1, yk);
                }
        }
    } else {
        for (int k = 0; k <= rt_svg_ticks(ay); k++) {
            double v = rt_svg_tick(ay, k), y = rt_svg_pos(ay, v, y1, y0);
            rt_svg_printf(
                b, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#dcdce4\"/>\n",
                x0, y, x1, y);
            rt_svg_tick_label(t, sizeof t, v, ay->step);
            rt_svg_printf(b,
                          "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" "
                          "text-anchor=\"end\">%s</text>\n",
                          x0 - 7, y + 4, t);
        }
    }
}

/* A panel's head: its title at (left, top + 22), "log scale" at the right
 * end x1 when log, and the plot area's frame x0..x1, y0..y1; the caller
 * closes the <g> it opens. */
void rt_svg_panel_head(rt_svg_buf *b, const char *title, int log, double left, double top,
                       double x0, double x1, double y0, double y1)
{
    rt_svg_printf(b,
                  "<g>\n<text x=\"%g\" y=\"%.1f\" font-size=\"15\" font-weight=\"bold\" "
                  "fill=\"#222\">",
                  left, top + 22);
    rt_svg_text(b, title);
    rt_svg_printf(b, "</text>\n");
    if (log)
        rt_svg_printf(b,
                      "<text x=\"%.1f\" y=\"%.1f\" font-size=\"12\" fill=\"#777\" "
                      "text-anchor=\"end\">log scale</text>\n",
                      x1, top + 22);
    rt_svg_printf(b,
                  "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#fbfbfd\" "
                  "stroke=\"#bbb\"/>\n",
                  x0, y0, x1 - x0, y1 - y0);
}

/* A picture's start: the XML declaration and the svg element, the title
 * "<name><title_tail>", a white ground, the heading "<name><heading_tail>"
 * at x = left, and the subtitle's text element opened at y = 58: the caller
 * writes the subtitle and closes it. */
void rt_svg_begin(rt_svg_buf *b, int width, int height, const char *font, int left,
                  const char *name, const char *title_tail, const char *heading_tail)
{
    rt_svg_printf(b,
                  "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                  "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
                  "viewBox=\"0 0 %d %d\" font-family=\"%s\">\n<title>",
                  width, height, width, height, font);
    rt_svg_text(b, name);
    rt_svg_printf(b,
                  "%s</title>\n<rect width=\"100%%\" height=\"100%%\" fill=\"#ffffff\"/>\n"
                  "<text x=\"%d\" y=\"34\" font-size=\"21\" font-weight=\"bold\" fill=\"#111\">",
                  title_tail, left);
    rt_svg_text(b, name);
    rt_svg_printf(b, "%s</text>\n<text x=\"%d\" y=\"58\" font-size=\"13\" fill=\"#555\">",
                  heading_tail, left);
}

/* The picture written atomically to path (none when the text ran out of
 * memory), and its text freed. */
int rt_svg_finish(rt_svg_buf *b, const char *path, rt_error *err)
{
    int rc =
        b->oom ? rt_fail(err, "%s: out of memory", path) : rt_write_atomic(path, b->s, b->len, err);
    free(b->s);
    b->s = NULL;
    return rc;
}
