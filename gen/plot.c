/* plot.c — `trainc plot`: one metrics CSV drawn as the trainers draw their
 * curves (rt_plot.c), or several (metrics, step metrics, layer metrics: any
 * CSV with an epoch or a step column) overlaid, one panel per metric and
 * one series per file, against the epoch, the step or the seconds
 * (rt_plot_xy.c). Exit status: 0 ok, 1 a file refused, 2 bad usage. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/rt.h"
#include "plot.h"

#define PLOT_MAX_FILES 64

typedef struct plot_cli {
    const char *files[PLOT_MAX_FILES];
    int nfiles;
    const char *out, *title, *x, *labels;
    int quiet;
} plot_cli;

static int plot_usage(const char *fmt, const char *what)
{
    fputs("trainc: ", stderr);
    fprintf(stderr, fmt, what);
    fputs("\nTry 'trainc --help'.\n", stderr);
    return 2;
}

static int parse(int argc, char **argv, plot_cli *c)
{
    memset(c, 0, sizeof *c);
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        const char **val = !strcmp(a, "-o")         ? &c->out
                           : !strcmp(a, "--title")  ? &c->title
                           : !strcmp(a, "--x")      ? &c->x
                           : !strcmp(a, "--labels") ? &c->labels
                                                    : NULL;
        if (val) {
            if (++i >= argc) return plot_usage("%s needs a value", a);
            *val = argv[i];
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            c->quiet = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs("usage: trainc plot METRICS.csv... [-o PICTURE.svg] [--title T]\n"
                  "                   [--x epoch|step|seconds] [--labels a,b,...] [-q]\n"
                  "One file: its curves (default: the CSV's name with .svg). Several: one panel\n"
                  "per metric, one series per file (default: overlay.svg beside the first).\n",
                  stdout);
            exit(0);
        } else if (a[0] == '-' && a[1]) {
            return plot_usage("%s", "plot takes only -o, --title, --x, --labels and -q");
        } else if (c->nfiles == PLOT_MAX_FILES) {
            return plot_usage("%s", "plot overlays 64 files at most");
        } else {
            c->files[c->nfiles++] = a;
        }
    }
    if (!c->nfiles) return plot_usage("%s", "plot needs a metrics CSV file");
    if (c->x && strcmp(c->x, "epoch") && strcmp(c->x, "step") && strcmp(c->x, "seconds"))
        return plot_usage("--x must be epoch, step or seconds, not '%s'", c->x);
    return 0;
}

/* one file: the curves picture, as the trainer draws it */
static int plot_one(const plot_cli *c)
{
    const char *csv = c->files[0];
    char svg[4096], title[256];
    if (c->out)
        snprintf(svg, sizeof svg, "%s", c->out);
    else
        rt_plot_path_beside(csv, svg, sizeof svg);
    if (!c->title) { /* the file's name without folder and extension */
        const char *base = strrchr(csv, '/');
        base = base ? base + 1 : csv;
        size_t n = strlen(base);
        if (n > 4 && !strcmp(base + n - 4, ".csv")) n -= 4;
        snprintf(title, sizeof title, "%.*s", (int)n, base);
    }
    rt_plot_options o = {.title = c->title ? c->title : title, .source = csv};
    rt_error err;
    if (rt_plot_metrics(csv, svg, &o, &err)) {
        fprintf(stderr, "trainc: %s\n", err.msg);
        return 1;
    }
    if (!c->quiet) printf("trainc: %s -> %s\n", csv, svg);
    return 0;
}

/* The legend's names: --labels, or each file's name without ".csv", with
 * as many of its folders as tell it from the others (runs/a/metrics,
 * runs/b/metrics). Returns 0, or 2 after saying what is wrong. */
static int series_labels(const plot_cli *c, char **labels)
{
    if (c->labels) {
        int n = 0;
        for (const char *p = c->labels, *q; p; p = q) {
            q = strchr(p, ',');
            if (n < c->nfiles) labels[n] = q ? strndup(p, (size_t)(q - p)) : strdup(p);
            n++;
            if (q) q++;
        }
        if (n != c->nfiles) {
            char msg[160];
            snprintf(msg, sizeof msg, "--labels names %d run%s, but %d files are given", n,
                     n == 1 ? "" : "s", c->nfiles);
            return plot_usage("%s", msg);
        }
        return 0;
    }
    for (int depth = 0;; depth++) {
        int unique = 1, whole = 1;
        for (int i = 0; i < c->nfiles; i++) {
            const char *f = c->files[i], *start = f + strlen(f);
            for (int d = 0; d <= depth && start > f; d++) {
                start--;
                while (start > f && start[-1] != '/') start--;
                if (d < depth && start > f) start--; /* over the '/' to the folder */
            }
            whole &= start == f;
            size_t n = strlen(start);
            if (n > 4 && !strcmp(start + n - 4, ".csv")) n -= 4;
            free(labels[i]); /* the shorter name tried before */
            labels[i] = strndup(start, n);
        }
        for (int i = 0; i < c->nfiles; i++)
            for (int j = 0; j < i; j++) unique &= strcmp(labels[i], labels[j]) != 0;
        if (unique || whole) return 0;
    }
}

/* The x value of each row: the step or seconds column as it is; the
 * epoch, or, in a file whose own axis is the step (step metrics), the
 * epochs trained before the step: epoch - 1 + (k - 1)/n for the k-th of
 * the epoch's n rows (its loss is that of the weights there; full-batch GD's
 * steps fall on 0, 1, 2...); in another file rows that share an epoch (a
 * layer metrics file written every few steps) at epoch - 1 + k/n, the
 * epoch's last at the epoch. NULL after saying why. */
static double *x_values(const char *file, const rt_metrics *m, const char *x)
{
    int col = rt_metrics_column(m, x);
    if (col < 0 && !strcmp(x, "seconds")) col = rt_metrics_column(m, "time");
    if (col < 0) {
        fprintf(stderr, "trainc: %s: no '%s' column for --x %s (it has:", file, x, x);
        for (int k = 0; k < m->cols; k++) fprintf(stderr, "%s%s", k ? "," : " ", m->names[k]);
        fprintf(stderr, ")\n");
        return NULL;
    }
    double *v = malloc(((size_t)m->rows + 1) * sizeof *v);
    if (!v) return NULL;
    for (int r = 0; r < m->rows; r++) v[r] = m->v[(size_t)r * (size_t)m->cols + (size_t)col];
    if (strcmp(x, "epoch")) return v;
    int steps = !strcmp(m->x_name, "step");
    for (int r = 0; r < m->rows;) {
        int n = 1;
        while (r + n < m->rows && v[r + n] == v[r]) n++;
        for (int k = 0; k < n && (steps || n > 1); k++)
            v[r + k] = v[r + k] - 1 + (double)(steps ? k : k + 1) / n;
        r += n;
    }
    return v;
}

/* a metric: any column but the axes */
static int is_axis(const char *name)
{
    return !strcmp(name, "epoch") || !strcmp(name, "step") || !strcmp(name, "seconds") ||
           !strcmp(name, "time");
}

/* one panel per metric that some file has a finite value of, series in
 * file order; returns the panels made */
static int make_panels(const plot_cli *c, rt_metrics *m, double **xs, char **labels,
                       rt_xy_panel *panels, int max_panels)
{
    int np = 0;
    for (int f = 0; f < c->nfiles; f++)
        for (int col = 0; col < m[f].cols; col++) {
            const char *name = m[f].names[col];
            int seen = is_axis(name);
            for (int k = 0; k < np && !seen; k++) seen = !strcmp(panels[k].title, name);
            if (seen || np == max_panels) continue;
            rt_xy_series *s = calloc((size_t)c->nfiles, sizeof *s);
            int ns = 0;
            for (int g = 0; g < c->nfiles && s; g++) {
                int cg = rt_metrics_column(&m[g], name);
                if (cg < 0) continue;
                double *y = malloc(((size_t)m[g].rows + 1) * sizeof *y);
                int finite = 0;
                for (int r = 0; y && r < m[g].rows; r++) {
                    y[r] = m[g].v[(size_t)r * (size_t)m[g].cols + (size_t)cg];
                    finite |= isfinite(y[r]);
                }
                if (finite)
                    s[ns++] = (rt_xy_series){labels[g], m[g].rows, g, xs[g], y, NULL, NULL};
                else
                    free(y);
            }
            if (ns) panels[np++] = (rt_xy_panel){.title = name, .s = s, .ns = ns};
            else free(s);
        }
    return np;
}

/* what an overlay reads and makes, freed together */
typedef struct overlay {
    rt_metrics m[PLOT_MAX_FILES];
    double *xs[PLOT_MAX_FILES];
    char *labels[PLOT_MAX_FILES];
    int nread;
    rt_xy_panel panels[256];
    int np;
} overlay;

static void overlay_free(overlay *v)
{
    for (int f = 0; f < PLOT_MAX_FILES; f++) free(v->labels[f]), free(v->xs[f]);
    for (int f = 0; f < v->nread; f++) rt_metrics_free(&v->m[f]);
    for (int k = 0; k < v->np; k++) {
        for (int i = 0; i < v->panels[k].ns; i++) free((void *)v->panels[k].s[i].y);
        free((void *)v->panels[k].s);
    }
}

/* The files read and their x values; the axis: --x, or by default the
 * files' own (the first of epoch and step): the epoch when it is every
 * file's, else the step when every file has one. Returns 0 or the exit status. */
static int read_files(const plot_cli *c, overlay *v, const char **x)
{
    rt_error err;
    for (; v->nread < c->nfiles; v->nread++)
        if (rt_metrics_read(c->files[v->nread], &v->m[v->nread], &err)) {
            fprintf(stderr, "trainc: %s\n", err.msg);
            return 1;
        }
    int all_epoch = 1, all_step = 1;
    for (int f = 0; f < c->nfiles; f++) {
        all_epoch &= !strcmp(v->m[f].x_name, "epoch");
        all_step &= rt_metrics_column(&v->m[f], "step") >= 0;
    }
    *x = c->x ? c->x : !all_epoch && all_step ? "step" : "epoch";
    for (int f = 0; f < c->nfiles; f++)
        if (!(v->xs[f] = x_values(c->files[f], &v->m[f], *x))) return 1;
    return 0;
}

static int draw_overlay(const plot_cli *c, overlay *v, const char *x)
{
    char svg[4096], title[128], sub[512];
    if (c->out)
        snprintf(svg, sizeof svg, "%s", c->out);
    else { /* overlay.svg beside the first file */
        const char *slash = strrchr(c->files[0], '/');
        snprintf(svg, sizeof svg, "%.*soverlay.svg", slash ? (int)(slash - c->files[0] + 1) : 0,
                 c->files[0]);
    }
    snprintf(title, sizeof title, "%d runs", c->nfiles);
    snprintf(sub, sizeof sub, "%d metric%s against the %s, one series per file", v->np,
             v->np == 1 ? "" : "s", x);
    rt_xy_figure fig = {.title = c->title ? c->title : title,
                        .subtitle = sub,
                        .xlabel = x,
                        .legend_last = 1,
                        .panels = v->panels,
                        .np = v->np};
    rt_error err;
    if (rt_plot_xy_svg(&fig, svg, &err)) {
        fprintf(stderr, "trainc: %s\n", err.msg);
        return 1;
    }
    if (!c->quiet) printf("trainc: %d files -> %s (%d panels)\n", c->nfiles, svg, v->np);
    return 0;
}

static int plot_overlay(const plot_cli *c)
{
    static overlay v;
    const char *x = NULL;
    int rc = series_labels(c, v.labels);
    if (!rc) rc = read_files(c, &v, &x);
    if (!rc) {
        v.np = make_panels(c, v.m, v.xs, v.labels, v.panels, 256);
        if (!v.np) {
            fprintf(stderr, "trainc: %s: nothing to draw: no column but %s has a finite value\n",
                    c->files[0], "epoch, step and seconds");
            rc = 1;
        }
    }
    if (!rc) rc = draw_overlay(c, &v, x);
    overlay_free(&v);
    return rc;
}

int plot_main(int argc, char **argv)
{
    plot_cli c;
    int rc = parse(argc, argv, &c);
    if (rc) return rc;
    if (c.nfiles == 1 && !c.x && !c.labels) return plot_one(&c);
    return plot_overlay(&c);
}
