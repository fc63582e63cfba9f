/* {{header}}
 *
 * landscape_plane.c — landscape --plane of the trainer of {{name}}: the
 * training loss (evaluation mode) on a --grid x --grid grid around the
 * weights theta, at theta + a d1 + b d2. The directions are Gaussian
 * (--seed), filter-normalised as Li et al. 2018 do: each output unit's
 * slice of a weight (its first dimension: a linear layer's row, a
 * convolution's filter) scaled to the norm of the weight's own slice, and 0
 * for biases, batch norm's parameters and running statistics (rank 1) and
 * frozen tensors. --pca takes them from the paths instead: their first two
 * principal directions (LAPACK's dsyev on the points' Gram matrix). A model
 * of exactly two scalar parameters is drawn in its own parameters. Paths
 * (--path: a --trace CSV, or weights or checkpoint files, comma-separated,
 * one point each) are projected onto the plane by least squares. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "landscape.h"

/* LAPACK (OpenBLAS has it): the eigenvalues, rising, and eigenvectors of a
 * symmetric matrix */
void dsyev_(const char *jobz, const char *uplo, const int *n, double *a, const int *lda, double *w,
            double *work, const int *lwork, int *info);

enum { PCA_MAX_POINTS = 1000 }; /* the Gram matrix's side: longer paths are thinned */

typedef struct path {
    char label[256];
    long n;
    real *theta; /* n x MODEL_N_PARAMS */
    double *x, *y;
} path;

/* The directions' random draw, then filter normalisation: d's slice k of
 * parameter i has the norm of w's slice k (0 where w's is). */
static void random_direction(rt_rng *rng, const real *w, real *d)
{
    for (long k = 0; k < MODEL_N_PARAMS; k++) d[k] = (real)rt_rng_normal(rng);
    for (int i = 0; i < model_n_param_tensors; i++) {
        const rt_param_info *p = &model_params[i];
        if (!ls_moves(i) || p->rank < 2) {
            memset(d + p->offset, 0, sizeof(real) * (size_t)p->numel);
            continue;
        }
        long size = p->numel / p->dim[0];
        for (long s = 0; s < p->dim[0]; s++) {
            real *ds = d + p->offset + s * size;
            const real *ws = w + p->offset + s * size;
            double nd = 0, nw = 0;
            for (long k = 0; k < size; k++) nd += (double)ds[k] * ds[k], nw += (double)ws[k] * ws[k];
            double scale = nd > 0 ? sqrt(nw) / sqrt(nd) : 0;
            for (long k = 0; k < size; k++) ds[k] = (real)(ds[k] * scale);
        }
    }
}

static int is_trace(const char *file)
{
    FILE *f = fopen(file, "r");
    char head[16] = {0};
    if (!f) {
        fprintf(stderr, "%s: landscape: --path %s: %s\n", MODEL_NAME, file, strerror(errno));
        exit(1);
    }
    size_t got = fread(head, 1, 13, f);
    fclose(f);
    return got == 13 && !memcmp(head, "step,loss,lr,", 13);
}

/* One row of a trace into theta: the traced values (running statistics
 * are not traced: the centre's). Returns 0, or -1 when the row is not one. */
static int trace_row(char *line, real *theta, const real *centre)
{
    memcpy(theta, centre, sizeof(real) * MODEL_N_PARAMS);
    char *s = line;
    for (int col = 0; col < 3; col++) { /* step, loss, lr */
        s = strchr(s, ',');
        if (!s) return -1;
        s++;
    }
    int first = 1;
    for (int i = 0; i < model_n_param_tensors; i++)
        for (long k = 0; k < model_params[i].numel && !model_params[i].buffer; k++) {
            if (!first && *s++ != ',') return -1; /* a value short */
            first = 0;
            char *end;
            double v = strtod(s, &end);
            if (end == s) return -1;
            theta[model_params[i].offset + k] = (real)v;
            s = end;
        }
    return *s && *s != '\n' && *s != '\r' ? -1 : 0; /* a value too many */
}

static void read_trace(path *p, const char *file, const real *centre)
{
    FILE *f = fopen(file, "r");
    size_t cap = 0, ncap = 64;
    char *line = NULL;
    p->theta = tr_alloc_or_die(ncap * MODEL_N_PARAMS, sizeof(real));
    long row = 0;
    while (f && getline(&line, &cap, f) > 0) {
        if (row++ == 0) continue; /* the header */
        if ((size_t)p->n == ncap) {
            real *t = tr_alloc_or_die(2 * ncap * MODEL_N_PARAMS, sizeof(real));
            memcpy(t, p->theta, sizeof(real) * ncap * MODEL_N_PARAMS);
            free(p->theta);
            p->theta = t, ncap *= 2;
        }
        if (trace_row(line, p->theta + p->n * MODEL_N_PARAMS, centre)) {
            fprintf(stderr,
                    "%s: landscape: --path %s: line %ld is not a trace row of this model (step, "
                    "loss, lr and its %ld traced values)\n",
                    MODEL_NAME, file, row, MODEL_N_PARAMS);
            exit(1);
        }
        p->n++;
    }
    free(line);
    if (f) fclose(f);
    if (p->n == 0) {
        fprintf(stderr, "%s: landscape: --path %s: a trace without rows\n", MODEL_NAME, file);
        exit(1);
    }
}

/* a weights or checkpoint file (by its first bytes) as one point */
static void read_point(ls_run *r, const char *file, real *theta)
{
    char magic[8] = {0};
    FILE *f = fopen(file, "rb");
    if (!f || fread(magic, 1, 8, f) != 8) {
        fprintf(stderr, "%s: landscape: --path %s: %s\n", MODEL_NAME, file,
                f ? "not a trace, weights or checkpoint file" : strerror(errno));
        exit(1);
    }
    fclose(f);
    if (memcmp(magic, "TRAINCK\n", 8)) {
        ls_load_weights(r, file, theta);
        return;
    }
    rt_error err;
    real *state = tr_alloc_or_die((size_t)MODEL_N_STATE + 1, sizeof(real));
    real *best = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    int32_t *order = tr_alloc_or_die((size_t)r->n_train_all + 1, sizeof(int32_t));
    rt_checkpoint ck = {.order = order,
                        .n_order = r->n_train_all,
                        .params = theta,
                        .state = state,
                        .stats = r->b.stats,
                        .n_params = MODEL_N_PARAMS,
                        .n_state = MODEL_N_STATE,
                        .n_stats = 2L * MODEL_FEATURES,
                        .best = best,
                        .n_best = MODEL_EARLY_STOP && MODEL_ES_RESTORE ? MODEL_N_PARAMS : 0};
    if (rt_checkpoint_load(file, MODEL_HASH, &ck, &err)) tr_fail(&err);
    free(state), free(best), free(order);
}

/* --path's text: a trace, or files of one point each, comma-separated */
static void read_path(ls_run *r, path *p, const char *arg)
{
    snprintf(p->label, sizeof p->label, "%s", arg);
    if (!strchr(arg, ',') && is_trace(arg)) {
        /* the legend names a trace by its file's name, without folder and .csv */
        const char *base = strrchr(arg, '/') ? strrchr(arg, '/') + 1 : arg;
        size_t len = strlen(base);
        if (len > 4 && !strcmp(base + len - 4, ".csv")) len -= 4;
        snprintf(p->label, sizeof p->label, "%.*s", (int)len, base);
        read_trace(p, arg, r->centre);
        return;
    }
    long n = 1;
    for (const char *c = arg; *c; c++) n += *c == ',';
    p->theta = tr_alloc_or_die((size_t)n * MODEL_N_PARAMS, sizeof(real));
    char *copy = strdup(arg), *save = NULL;
    for (char *file = strtok_r(copy, ",", &save); file; file = strtok_r(NULL, ",", &save))
        read_point(r, file, p->theta + p->n++ * MODEL_N_PARAMS);
    free(copy);
    if (p->n == 0) tr_die_usage("landscape: --path '%s' names no file", arg);
}

static double dot(const real *a, const real *b, const real *c)
{
    double s = 0; /* (a - c) . b, or a . b when c is NULL */
    for (long k = 0; k < MODEL_N_PARAMS; k++) s += ((double)a[k] - (c ? (double)c[k] : 0)) * b[k];
    return s;
}

/* Each point's coordinates (a, b): theta - centre ~ a d1 + b d2 by least
 * squares (the directions need not be orthogonal); a two-parameter model:
 * its parameters. */
static void project(const path *p, const real *centre, const real *d1, const real *d2, int own)
{
    double g11 = dot(d1, d1, NULL), g12 = dot(d1, d2, NULL), g22 = dot(d2, d2, NULL);
    double det = g11 * g22 - g12 * g12;
    for (long t = 0; t < p->n; t++) {
        const real *th = p->theta + t * MODEL_N_PARAMS;
        if (own) {
            p->x[t] = dot(th, d1, NULL), p->y[t] = dot(th, d2, NULL);
            continue;
        }
        double r1 = dot(th, d1, centre), r2 = dot(th, d2, centre);
        p->x[t] = det > 0 ? (g22 * r1 - g12 * r2) / det : NAN;
        p->y[t] = det > 0 ? (g11 * r2 - g12 * r1) / det : NAN;
    }
}

/* The paths' first two principal directions around the centre (unit
 * length, into d1 and d2); prints their share of the variance. */
static void pca_directions(const path *ps, int np, const real *centre, real *d1, real *d2)
{
    long total = 0;
    for (int i = 0; i < np; i++) total += ps[i].n;
    long stride = (total + PCA_MAX_POINTS - 1) / PCA_MAX_POINTS, m = 0;
    const real **rows = tr_alloc_or_die((size_t)total, sizeof(real *));
    long seen = 0;
    for (int i = 0; i < np; i++)
        for (long t = 0; t < ps[i].n; t++, seen++)
            if (seen % stride == 0) rows[m++] = ps[i].theta + t * MODEL_N_PARAMS;
    if (m < 2) tr_die_usage("landscape: --pca needs two points on the paths at least%s", "");
    double *g = tr_alloc_or_die((size_t)(m * m), sizeof(double));
    real *dev = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    for (long a = 0; a < m; a++) {
        for (long k = 0; k < MODEL_N_PARAMS; k++) dev[k] = (real)(rows[a][k] - centre[k]);
        for (long b = 0; b <= a; b++) g[a * m + b] = g[b * m + a] = dot(rows[b], dev, centre);
    }
    int n = (int)m, lwork = -1, info;
    double *w = tr_alloc_or_die((size_t)m, sizeof(double)), q;
    dsyev_("V", "U", &n, g, &n, w, &q, &lwork, &info);
    lwork = (int)q;
    double *work = tr_alloc_or_die((size_t)lwork, sizeof(double));
    dsyev_("V", "U", &n, g, &n, w, work, &lwork, &info);
    if (info) tr_die_usage("landscape: --pca: LAPACK's dsyev failed%s", "");
    double sum = 0;
    for (long k = 0; k < m; k++) sum += w[k] > 0 ? w[k] : 0;
    for (int c = 0; c < 2; c++) { /* the largest eigenvalues are the last */
        const double *u = g + (m - 1 - c) * m;
        real *d = c ? d2 : d1;
        memset(d, 0, sizeof(real) * MODEL_N_PARAMS);
        for (long a = 0; a < m; a++)
            for (long k = 0; k < MODEL_N_PARAMS; k++) d[k] += (real)(u[a] * (rows[a][k] - centre[k]));
        double norm = sqrt(dot(d, d, NULL));
        for (long k = 0; k < MODEL_N_PARAMS; k++) d[k] = norm > 0 ? (real)(d[k] / norm) : 0;
    }
    printf("%s: landscape: the principal directions explain %.1f%% and %.1f%% of the paths' "
           "variance (%ld points)\n",
           MODEL_NAME, sum > 0 ? 100 * w[m - 1] / sum : 0, sum > 0 ? 100 * w[m - 2] / sum : 0, m);
    free(rows), free(g), free(dev), free(w), free(work);
}

/* A two-parameter model: d1, d2 pick its two parameters. */
static void own_axes(real *d1, real *d2, const char **n1, const char **n2)
{
    int seen = 0;
    for (int i = 0; i < model_n_param_tensors; i++)
        if (ls_moves(i)) {
            (seen ? d2 : d1)[model_params[i].offset] = 1;
            *(seen++ ? n2 : n1) = model_params[i].name;
        }
}

/* the range of an axis from the paths' points and the centre, padded */
static void fit_range(const path *ps, int np, int ycoord, double c, double *lo, double *hi)
{
    *lo = c, *hi = c;
    for (int i = 0; i < np; i++)
        for (long t = 0; t < ps[i].n; t++) {
            double v = ycoord ? ps[i].y[t] : ps[i].x[t];
            if (isfinite(v) && v < *lo) *lo = v;
            if (isfinite(v) && v > *hi) *hi = v;
        }
    double pad = (*hi - *lo) * 0.1;
    if (!(pad > 0)) pad = fabs(c) > 0 ? fabs(c) * 0.5 : 1;
    *lo -= pad, *hi += pad;
}

typedef struct plane {
    real *d1, *d2;
    int own; /* a two-parameter model's own axes */
    const char *xname, *yname;
    double xlo, xhi, ylo, yhi;
    path *ps;
    int np;
} plane;

/* The grid evaluated: the CSV, z[j * grid + i] the training loss at (xs[i], ys[j]). */
static void evaluate_grid(ls_run *r, const plane *pl, double *xs, double *ys, double *z)
{
    const long n = r->grid;
    FILE *csv = ls_open_out(r->csv);
    fprintf(csv, "%s,%s,train_loss,train_accuracy\n", pl->xname, pl->yname);
    real *p = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    for (long k = 0; k < n; k++) {
        xs[k] = pl->xlo + (pl->xhi - pl->xlo) * (double)k / (double)(n - 1);
        ys[k] = pl->ylo + (pl->yhi - pl->ylo) * (double)k / (double)(n - 1);
    }
    for (long j = 0; j < n; j++)
        for (long i = 0; i < n; i++) {
            for (long k = 0; k < MODEL_N_PARAMS; k++)
                p[k] = pl->own ? (pl->d1[k] ? (real)xs[i] : pl->d2[k] ? (real)ys[j] : r->centre[k])
                               : (real)(r->centre[k] + xs[i] * pl->d1[k] + ys[j] * pl->d2[k]);
            result res = ls_eval_at(r, &r->train, p);
            z[j * n + i] = res.loss;
            fprintf(csv, "%.17g,%.17g,%.17g,%.17g\n", xs[i], ys[j], res.loss, res.accuracy);
        }
    ls_close_out(csv, r->csv);
    free(p);
}

static void write_directions(const char *file, const real *d1, const real *d2)
{
    FILE *f = ls_open_out(file);
    fprintf(f, "param,d1,d2\n");
    for (int i = 0; i < model_n_param_tensors; i++)
        for (long k = model_params[i].offset; k < model_params[i].offset + model_params[i].numel;
             k++) {
            tr_put_cell(f, model_params[i].name);
            fprintf(f, sizeof(real) == 8 ? ",%.17g,%.17g\n" : ",%.9g,%.9g\n", (double)d1[k],
                    (double)d2[k]);
        }
    ls_close_out(f, file);
}

/* The directions, the paths' coordinates and the axes' ranges. */
static void make_plane(ls_run *r, plane *pl)
{
    const options *o = r->o;
    pl->d1 = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    pl->d2 = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    pl->own = ls_two_scalars();
    pl->np = o->ls_n_paths;
    pl->ps = tr_alloc_or_die((size_t)(pl->np ? pl->np : 1), sizeof(path));
    for (int i = 0; i < pl->np; i++) read_path(r, &pl->ps[i], o->ls_paths[i]);
    pl->xname = "a", pl->yname = "b";
    if (pl->own) {
        own_axes(pl->d1, pl->d2, &pl->xname, &pl->yname);
    } else if (o->ls_pca) {
        pca_directions(pl->ps, pl->np, r->centre, pl->d1, pl->d2);
    } else {
        rt_rng rng;
        rt_rng_seed(&rng, o->seed);
        random_direction(&rng, r->centre, pl->d1);
        random_direction(&rng, r->centre, pl->d2);
    }
    for (int i = 0; i < pl->np; i++) {
        pl->ps[i].x = tr_alloc_or_die((size_t)pl->ps[i].n, sizeof(double));
        pl->ps[i].y = tr_alloc_or_die((size_t)pl->ps[i].n, sizeof(double));
        project(&pl->ps[i], r->centre, pl->d1, pl->d2, pl->own);
    }
    double cx = pl->own ? dot(r->centre, pl->d1, NULL) : 0;
    double cy = pl->own ? dot(r->centre, pl->d2, NULL) : 0;
    pl->xlo = r->lo, pl->xhi = r->hi, pl->ylo = r->lo, pl->yhi = r->hi;
    if (r->yrange_given) pl->ylo = r->ylo, pl->yhi = r->yhi;
    if (!r->range_given && (pl->own || o->ls_pca)) { /* around the paths */
        fit_range(pl->ps, pl->np, 0, cx, &pl->xlo, &pl->xhi);
        fit_range(pl->ps, pl->np, 1, cy, &pl->ylo, &pl->yhi);
    }
    if (o->ls_directions) write_directions(o->ls_directions, pl->d1, pl->d2);
}

/* The picture: the grid's contours, the centre, the paths. */
static void draw_plane(ls_run *r, const plane *pl, const double *xs, const double *ys,
                       const double *z)
{
    const options *o = r->o;
    rt_contour_path *cp = tr_alloc_or_die((size_t)(pl->np ? pl->np : 1), sizeof(rt_contour_path));
    for (int i = 0; i < pl->np; i++)
        cp[i] = (rt_contour_path){pl->ps[i].label, (int)pl->ps[i].n, pl->ps[i].x, pl->ps[i].y};
    char title[200], sub[400], xl[160], yl[160];
    snprintf(title, sizeof title, "%s: loss landscape", MODEL_NAME);
    if (pl->own)
        snprintf(sub, sizeof sub, "the objective over its two parameters; %ld x %ld grid",
                 r->grid, r->grid);
    else
        snprintf(sub, sizeof sub,
                 "training loss (eval mode, %ld rows) at theta + a d1 + b d2; %s; %ld x %ld grid",
                 (long)r->train.n,
                 o->ls_pca ? "d1, d2: the paths' principal directions"
                           : "d1, d2: Gaussian, filter-normalised",
                 r->grid, r->grid);
    snprintf(xl, sizeof xl, "%s", pl->own ? pl->xname : o->ls_pca ? "a (1st principal direction)" : "a (direction d1)");
    snprintf(yl, sizeof yl, "%s", pl->own ? pl->yname : o->ls_pca ? "b (2nd principal direction)" : "b (direction d2)");
    rt_contour_figure f = {title, sub, xl, yl, "loss", (int)r->grid, (int)r->grid, xs, ys, z,
                           1, pl->own ? dot(r->centre, pl->d1, NULL) : 0,
                           pl->own ? dot(r->centre, pl->d2, NULL) : 0,
                           r->centre_is_init ? "the initial weights" : "the weights", cp, pl->np};
    rt_error err;
    if (rt_plot_contour_svg(&f, r->svg, &err)) tr_fail(&err);
    free(cp);
}

/* The centre: theta as --weights has it (a two-parameter model without
 * weights yet: its initial values). */
static void load_centre(ls_run *r)
{
    const options *o = r->o;
    rt_rng init_rng;
    rt_rng_seed(&init_rng, o->seed);
    model_init(r->centre, &init_rng);
    FILE *f = ls_two_scalars() && !o->weights_given ? fopen(o->weights, "rb") : NULL;
    r->centre_is_init = 1;
    if (!ls_two_scalars() || o->weights_given || f) {
        tr_need_weights(o);
        ls_load_weights(r, o->weights, r->centre);
        r->centre_is_init = 0;
    }
    if (f) fclose(f);
}

int ls_plane(ls_run *r)
{
    load_centre(r);
    plane pl;
    memset(&pl, 0, sizeof pl);
    make_plane(r, &pl);
    const long n = r->grid;
    double t0 = rt_now();
    double *xs = tr_alloc_or_die((size_t)n, sizeof(double));
    double *ys = tr_alloc_or_die((size_t)n, sizeof(double));
    double *z = tr_alloc_or_die((size_t)(n * n), sizeof(double));
    evaluate_grid(r, &pl, xs, ys, z);
    draw_plane(r, &pl, xs, ys, z);
    /* the centre, as eval prints it (test rows too where there are) */
    tr_print_result("train", ls_eval_at(r, &r->train, r->centre));
    if (r->test.n) tr_print_result("test", ls_eval_at(r, &r->test, r->centre));
    if (!r->o->quiet)
        printf("%s: landscape: %ld x %ld points (%ld training rows) in %.2f s; wrote %s and %s\n",
               MODEL_NAME, n, n, (long)r->train.n, rt_now() - t0, r->csv, r->svg);
    for (int i = 0; i < pl.np; i++) free(pl.ps[i].theta), free(pl.ps[i].x), free(pl.ps[i].y);
    free(pl.ps), free(pl.d1), free(pl.d2), free(xs), free(ys), free(z);
    return 0;
}
