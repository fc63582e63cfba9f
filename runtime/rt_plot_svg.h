/* rt_plot_svg.h — the short names rt_plot.c and rt_plot_layers.c give
 * rt_svg.c's drawing primitives (rt.h): a growing text buffer, and the
 * scales, ticks and figures of a plot axis. Not part of the runtime's API. */
#ifndef RT_PLOT_SVG_H
#define RT_PLOT_SVG_H

#include "rt.h"

/* The drawing primitives are rt_svg.c's, shared with rt_plot_xy.c. */
typedef rt_svg_buf sbuf;
typedef rt_svg_axis axis;
#define sb_printf rt_svg_printf
#define sb_text rt_svg_text
#define fmt_tick rt_svg_tick_label
#define fmt_value rt_svg_value_text
#define linear_axis rt_svg_linear_axis
#define log_axis rt_svg_log_axis
#define ticks rt_svg_ticks
#define tick rt_svg_tick
#define coord_pos rt_svg_coord
#define axis_pos rt_svg_pos

#endif
