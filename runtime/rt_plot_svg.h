/* rt_plot_svg.h — the SVG helpers rt_plot.c defines and rt_plot_layers.c
 * reuses (not part of the runtime's API, rt.h): a growing text buffer, and
 * the scales, ticks and figures of a plot axis. */
#ifndef RT_PLOT_SVG_H
#define RT_PLOT_SVG_H

#include <stddef.h>

/* a growing text buffer: the SVG is built in memory, then written
 * atomically, so a failed run never leaves half a picture */
typedef struct sbuf {
    char *s;
    size_t len, cap;
    int oom;
} sbuf;

void sb_printf(sbuf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* text content and attribute values, XML-escaped */
void sb_text(sbuf *b, const char *t);

typedef struct axis {
    double lo, hi; /* the domain, in data units (log10 units when log) */
    int log;
    double step; /* between labelled ticks (in decades when log); 0: the
                  * values are beyond nice ticks, only the two ends are */
    int integer; /* ticks at whole numbers only (epochs) */
} axis;

/* a tick label for v at that step; a short figure for legends */
void fmt_tick(char *buf, size_t size, double v, double step);
void fmt_value(char *buf, size_t size, double v);
/* a linear axis around [lo, hi], widened when flat, ending on ticks; its
 * labelled ticks are tick(a, 0) .. tick(a, ticks(a)) */
axis linear_axis(double lo, double hi, int integer);
int ticks(const axis *a);
double tick(const axis *a, int k);
/* a log axis over whole decades around [lo, hi] (both > 0) */
axis log_axis(double lo, double hi);
/* where t (on the axis's scale: log10 on a log axis), or the value v,
 * falls between pixels p0 and p1, a few pixels inside them */
double coord_pos(const axis *a, double t, double p0, double p1);
double axis_pos(const axis *a, double v, double p0, double p1);

#endif
