/* rt_plot_contour.c — a function of two variables on a grid as a picture:
 * the landscape command's loss surface (two directions around the weights,
 * or a two-parameter model's own parameters). Filled bands between contour
 * levels (a heat map), the contour lines (marching squares), the centre
 * marked, and optimizer paths drawn over it. The levels are the grid's own
 * quantiles, denser at the low end ((k/16)^2 for k = 1..15), so a bowl, a
 * saddle and a curved valley all show their shape without a scale chosen
 * per function; the colour bar names each level's value. The drawing
 * primitives are rt_svg.c's, the palette of the paths rt_plot_xy.c's. */
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum {
    WIDTH = 900,
    HEIGHT = 700,
    PX0 = 80,  /* the plot area: a square */
    PY0 = 80,
    SIDE = 540,
    NLEVELS = 15,
};

static const char *const FONT = "DejaVu Sans, Helvetica, Arial, sans-serif";

/* viridis-like stops, low to high: dark blue, teal, green, yellow */
static void band_color(int band, int nbands, char *out)
{
    static const double stops[5][3] = {
        {68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
    double t = nbands > 1 ? (double)band / (nbands - 1) : 0;
    double s = t * 4;
    int k = s >= 4 ? 3 : (int)s;
    double f = s - k;
    int c[3];
    for (int i = 0; i < 3; i++)
        c[i] = (int)lround(stops[k][i] + (stops[k + 1][i] - stops[k][i]) * f);
    sprintf(out, "#%02x%02x%02x", c[0], c[1], c[2]);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The contour levels: quantiles (k/16)^2 of the finite values, distinct and
 * rising. Returns how many (0: no finite value, or all equal). */
static int quantile_levels(const double *z, long n, double *levels)
{
    double *v = malloc(sizeof(double) * (size_t)(n ? n : 1));
    if (!v) return 0;
    long m = 0;
    for (long i = 0; i < n; i++)
        if (isfinite(z[i])) v[m++] = z[i];
    int nl = 0;
    if (m > 1) {
        qsort(v, (size_t)m, sizeof(double), cmp_double);
        for (int k = 1; k <= NLEVELS; k++) {
            double q = (double)k / (NLEVELS + 1);
            double l = v[(long)(q * q * (double)(m - 1) + 0.5)];
            if (l > v[0] && l < v[m - 1] && (nl == 0 || l > levels[nl - 1])) levels[nl++] = l;
        }
    }
    free(v);
    return nl;
}

/* which band value z falls in: 0 below the first level .. nl above the last;
 * -1: not finite */
static int band_of(double z, const double *levels, int nl)
{
    if (!isfinite(z)) return -1;
    int b = 0;
    while (b < nl && z >= levels[b]) b++;
    return b;
}

typedef struct mapping {
    double xlo, xhi, ylo, yhi;
} mapping;
static double px(const mapping *m, double x) { return PX0 + (x - m->xlo) / (m->xhi - m->xlo) * SIDE; }
static double py(const mapping *m, double y)
{
    return PY0 + SIDE - (y - m->ylo) / (m->yhi - m->ylo) * SIDE;
}

/* The heat map: each grid point's cell in its band's colour, runs of one
 * band along a row joined into one rectangle, a band's rectangles one path
 * (a picture of a few tens of kB). */
static void draw_bands(rt_svg_buf *b, const rt_contour_figure *f, const mapping *m,
                       const double *levels, int nl)
{
    double cw = (double)SIDE / (f->nx - 1), ch = (double)SIDE / (f->ny - 1);
    for (int band = -1; band <= nl; band++) {
        char col[8] = "#cccccc";
        if (band >= 0) band_color(band, nl + 1, col);
        int opened = 0;
        for (int j = 0; j < f->ny; j++)
            for (int i = 0; i < f->nx;) {
                int here = band_of(f->z[(long)j * f->nx + i], levels, nl), i1 = i + 1;
                while (i1 < f->nx && band_of(f->z[(long)j * f->nx + i1], levels, nl) == here) i1++;
                if (here == band) {
                    if (!opened) rt_svg_printf(b, "<path fill=\"%s\" d=\"", col);
                    opened = 1;
                    double x0 = px(m, f->xs[i]) - cw / 2, x1 = px(m, f->xs[i1 - 1]) + cw / 2;
                    double y0 = py(m, f->ys[j]) - ch / 2;
                    rt_svg_printf(b, "M%.1f %.1fh%.1fv%.1fh%.1fz", x0, y0, x1 - x0 + 0.3, ch + 0.3,
                                  -(x1 - x0 + 0.3));
                }
                i = i1;
            }
        if (opened) rt_svg_printf(b, "\"/>\n");
    }
}

/* Where along the edge from value a to value b the level l is crossed. */
static double cross_at(double a, double b, double l) { return (l - a) / (b - a); }

/* One level's contour lines by marching squares: in each cell, the
 * crossings of its four edges joined in pairs (a saddle cell's ambiguity
 * resolved by the cell's mean), as one path of segments. */
static void draw_level(rt_svg_buf *b, const rt_contour_figure *f, const mapping *m, double l)
{
    rt_svg_printf(b, "<path class=\"contour\" fill=\"none\" stroke=\"#ffffff\" "
                     "stroke-opacity=\"0.75\" stroke-width=\"0.9\" d=\"");
    for (int j = 0; j + 1 < f->ny; j++)
        for (int i = 0; i + 1 < f->nx; i++) {
            const double *z0 = f->z + (long)j * f->nx + i, *z1 = z0 + f->nx;
            double c[4] = {z0[0], z0[1], z1[1], z1[0]}; /* corners counter-clockwise */
            double cx[4] = {f->xs[i], f->xs[i + 1], f->xs[i + 1], f->xs[i]};
            double cy[4] = {f->ys[j], f->ys[j], f->ys[j + 1], f->ys[j + 1]};
            if (!isfinite(c[0]) || !isfinite(c[1]) || !isfinite(c[2]) || !isfinite(c[3]))
                continue;
            double ex[4], ey[4];
            int ne = 0;
            for (int e = 0; e < 4; e++) {
                double a = c[e], bb = c[(e + 1) % 4];
                if ((a < l) == (bb < l)) continue;
                double t = cross_at(a, bb, l);
                ex[ne] = cx[e] + t * (cx[(e + 1) % 4] - cx[e]);
                ey[ne++] = cy[e] + t * (cy[(e + 1) % 4] - cy[e]);
            }
            if (ne == 4 && ((c[0] + c[1] + c[2] + c[3]) / 4 < l) != (c[0] < l)) {
                /* a saddle cell whose centre is on corner 1's side: the lines cut off
                 * corners 0 and 2, edges 1-2 and 3-0 paired (not 0-1 and 2-3) */
                double tx = ex[0], ty = ey[0];
                for (int e = 0; e < 3; e++) ex[e] = ex[e + 1], ey[e] = ey[e + 1];
                ex[3] = tx, ey[3] = ty;
            }
            for (int s = 0; s + 1 < ne; s += 2)
                rt_svg_printf(b, "M%.1f %.1fl%.1f %.1f", px(m, ex[s]), py(m, ey[s]),
                              px(m, ex[s + 1]) - px(m, ex[s]), py(m, ey[s + 1]) - py(m, ey[s]));
        }
    rt_svg_printf(b, "\"/>\n");
}

/* The axes' ticks and labels (nice steps inside the grid's range). */
static void draw_axes(rt_svg_buf *b, const rt_contour_figure *f, const mapping *m)
{
    for (int ax = 0; ax < 2; ax++) {
        double lo = ax ? m->ylo : m->xlo, hi = ax ? m->yhi : m->xhi;
        double step = rt_svg_nice_step(hi - lo, 6);
        if (!(step > 0)) continue;
        for (double v = ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
            char lab[32];
            rt_svg_tick_label(lab, sizeof lab, fabs(v) < step * 1e-9 ? 0 : v, step);
            if (ax)
                rt_svg_printf(b,
                              "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" fill=\"#444\" "
                              "text-anchor=\"end\">%s</text>\n",
                              PX0 - 6, py(m, v) + 4, lab);
            else
                rt_svg_printf(b,
                              "<text x=\"%.1f\" y=\"%d\" font-size=\"12\" fill=\"#444\" "
                              "text-anchor=\"middle\">%s</text>\n",
                              px(m, v), PY0 + SIDE + 18, lab);
        }
    }
    rt_svg_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" fill=\"#222\" "
                     "text-anchor=\"middle\">", PX0 + SIDE / 2, PY0 + SIDE + 40);
    rt_svg_text(b, f->xlabel);
    rt_svg_printf(b, "</text>\n<text x=\"22\" y=\"%d\" font-size=\"13\" fill=\"#222\" "
                     "text-anchor=\"middle\" transform=\"rotate(-90 22 %d)\">",
                  PY0 + SIDE / 2, PY0 + SIDE / 2);
    rt_svg_text(b, f->ylabel);
    rt_svg_printf(b, "</text>\n");
}

/* The paths (clipped to the plot area): each a line in its palette
 * colour, a ring at its start and a dot at its end, and the centre's cross. */
static void draw_paths(rt_svg_buf *b, const rt_contour_figure *f, const mapping *m)
{
    rt_svg_printf(b, "<g clip-path=\"url(#plotarea)\">\n");
    for (int p = 0; p < f->np; p++) {
        const rt_contour_path *s = &f->paths[p];
        const char *col = rt_plot_xy_color(p);
        rt_svg_printf(b,
                      "<path class=\"path\" fill=\"none\" stroke=\"%s\" stroke-width=\"2.2\" "
                      "stroke-linejoin=\"round\" d=\"",
                      col);
        int pen = 0;
        for (int i = 0; i < s->n; i++) {
            if (!isfinite(s->x[i]) || !isfinite(s->y[i])) {
                pen = 0;
                continue;
            }
            rt_svg_printf(b, "%s%.2f %.2f", pen ? " L" : " M", px(m, s->x[i]), py(m, s->y[i]));
            pen = 1;
        }
        rt_svg_printf(b, "\"/>\n");
        if (s->n > 0 && isfinite(s->x[0]) && isfinite(s->y[0]))
            rt_svg_printf(b,
                          "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"4.5\" fill=\"none\" stroke=\"%s\" "
                          "stroke-width=\"2\"/>\n",
                          px(m, s->x[0]), py(m, s->y[0]), col);
        int e = s->n - 1;
        if (e >= 0 && isfinite(s->x[e]) && isfinite(s->y[e]))
            rt_svg_printf(b, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3.5\" fill=\"%s\"/>\n",
                          px(m, s->x[e]), py(m, s->y[e]), col);
    }
    if (f->has_centre) {
        double cx = px(m, f->cx), cy = py(m, f->cy);
        rt_svg_printf(b,
                      "<path class=\"centre\" stroke=\"#d00000\" stroke-width=\"3\" "
                      "d=\"M%.1f %.1fL%.1f %.1fM%.1f %.1fL%.1f %.1f\"/>\n",
                      cx - 8, cy - 8, cx + 8, cy + 8, cx - 8, cy + 8, cx + 8, cy - 8);
    }
    rt_svg_printf(b, "</g>\n");
}

/* The colour bar (each band, the levels' values) and the paths' legend. */
static void draw_legend(rt_svg_buf *b, const rt_contour_figure *f, const double *levels, int nl)
{
    const int x = PX0 + SIDE + 30, top = PY0 + 24; /* below the subtitle */
    double h = (double)(SIDE / 2) / (nl + 1);
    rt_svg_printf(b, "<text x=\"%d\" y=\"%d\" font-size=\"13\" fill=\"#222\">", x, top - 10);
    rt_svg_text(b, f->zlabel);
    rt_svg_printf(b, "</text>\n");
    for (int k = 0; k <= nl; k++) {
        char col[8];
        band_color(k, nl + 1, col);
        double y = top + (nl - k) * h;
        rt_svg_printf(b,
                      "<rect x=\"%d\" y=\"%.1f\" width=\"18\" height=\"%.1f\" fill=\"%s\"/>\n", x,
                      y, h + 0.3, col);
        if (k < nl) {
            char v[32];
            rt_svg_value_text(v, sizeof v, levels[k]);
            rt_svg_printf(b, "<text x=\"%d\" y=\"%.1f\" font-size=\"11\" fill=\"#444\">%s</text>\n",
                          x + 24, y + 4, v);
        }
    }
    double ly = top + SIDE / 2 + 30;
    for (int p = 0; p < f->np; p++, ly += 20) {
        rt_svg_printf(b,
                      "<path stroke=\"%s\" stroke-width=\"2.2\" d=\"M%d %.1fL%d %.1f\"/>\n"
                      "<text x=\"%d\" y=\"%.1f\" font-size=\"12\" fill=\"#222\">",
                      rt_plot_xy_color(p), x, ly, x + 24, ly, x + 30, ly + 4);
        rt_svg_text(b, f->paths[p].label);
        rt_svg_printf(b, "</text>\n");
    }
    if (f->has_centre) {
        rt_svg_printf(b,
                      "<path stroke=\"#d00000\" stroke-width=\"3\" d=\"M%d %.1fL%d %.1fM%d "
                      "%.1fL%d %.1f\"/>\n<text x=\"%d\" y=\"%.1f\" font-size=\"12\" "
                      "fill=\"#222\">",
                      x + 6, ly - 6, x + 18, ly + 6, x + 6, ly + 6, x + 18, ly - 6, x + 30, ly + 4);
        rt_svg_text(b, f->centre_label);
        rt_svg_printf(b, "</text>\n");
    }
}

int rt_plot_contour_svg(const rt_contour_figure *f, const char *path, rt_error *err)
{
    if (f->nx < 2 || f->ny < 2) return rt_fail(err, "%s: a contour needs a grid of 2 x 2 at least", path);
    long n = (long)f->nx * f->ny;
    double levels[NLEVELS];
    int nl = quantile_levels(f->z, n, levels);
    mapping m = {f->xs[0], f->xs[f->nx - 1], f->ys[0], f->ys[f->ny - 1]};
    rt_svg_buf b = {0};
    rt_svg_begin(&b, WIDTH, HEIGHT, FONT, PX0, f->title, "", "");
    rt_svg_text(&b, f->subtitle);
    rt_svg_printf(&b, "</text>\n<defs><clipPath id=\"plotarea\"><rect x=\"%d\" y=\"%d\" "
                      "width=\"%d\" height=\"%d\"/></clipPath></defs>\n",
                  PX0, PY0, SIDE, SIDE);
    rt_svg_printf(&b, "<g class=\"heatmap\" clip-path=\"url(#plotarea)\">\n");
    draw_bands(&b, f, &m, levels, nl);
    for (int k = 0; k < nl; k++) draw_level(&b, f, &m, levels[k]);
    rt_svg_printf(&b, "</g>\n<rect x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\" fill=\"none\" "
                      "stroke=\"#888\"/>\n",
                  PX0, PY0, SIDE, SIDE);
    draw_axes(&b, f, &m);
    draw_paths(&b, f, &m);
    draw_legend(&b, f, levels, nl);
    rt_svg_printf(&b, "</svg>\n");
    return rt_svg_finish(&b, path, err);
}
