/* {{header}}
 *
 * landscape.c — the landscape command of the trainer of {{name}}: the loss
 * along the line (1 - alpha) A + alpha B between two weights (the initial
 * weights and the trained ones, or --weights A --to B), at --points alphas
 * over --range, with the training and test loss and accuracy at each, in
 * evaluation mode (batch norm's running statistics interpolated too, no
 * dropout); written as CSV and a picture beside it. Its options are checked
 * here; --plane is landscape_plane.c's. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "landscape.h"

static void die_value(const char *flag, const char *what, const char *text)
{
    fprintf(stderr, "%s: landscape: %s needs %s (got '%s')\nTry '%s --help'.\n", MODEL_NAME, flag,
            what, text, MODEL_NAME);
    exit(2);
}

long ls_whole(const char *flag, const char *text, long lo, long hi)
{
    char *end, what[96];
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno || end == text || *end || v < lo || v > hi) {
        snprintf(what, sizeof what, "a whole number from %ld to %ld", lo, hi);
        die_value(flag, what, text);
    }
    return v;
}

/* "A:B" with A < B, both finite; end: where the text after it starts */
static void parse_pair(const char *flag, const char *text, double *a, double *b, const char **end)
{
    char *e1, *e2;
    errno = 0;
    *a = strtod(text, &e1);
    int ok = !errno && e1 != text && *e1 == ':';
    if (ok) {
        *b = strtod(e1 + 1, &e2);
        ok = !errno && e2 != e1 + 1 && isfinite(*a) && isfinite(*b) && *a < *b;
        *end = e2;
    }
    if (!ok) die_value(flag, "LO:HI, two finite numbers with LO below HI", text);
}

/* --range: A:B, or A:B,C:D for a two-parameter model's two axes */
static void parse_range(ls_run *r, const char *text, int two_axes)
{
    const char *end;
    parse_pair("--range", text, &r->lo, &r->hi, &end);
    r->range_given = 1;
    if (*end == ',' && two_axes) {
        parse_pair("--range", end + 1, &r->ylo, &r->yhi, &end);
        r->yrange_given = 1;
    }
    if (*end)
        die_value("--range",
                  two_axes ? "LO:HI or LO:HI,LO:HI (x1, then x2)" : "LO:HI (one range)", text);
}

int ls_moves(int i)
{
    return !model_params[i].buffer && !model_params[i].count && model_params[i].trainable;
}

/* the two scalar parameters a two-parameter model's plane is drawn in */
int ls_two_scalars(void)
{
    int n = 0;
    for (int i = 0; i < model_n_param_tensors; i++)
        if (ls_moves(i)) n += model_params[i].numel == 1 ? 1 : 3;
    return n == 2;
}

/* The options' combinations and values, before anything is loaded. */
static void check_options(ls_run *r, const options *o)
{
    const char *plane_only = !o->ls_plane ? o->ls_grid       ? "--grid"
                                            : o->ls_n_paths  ? "--path"
                                            : o->ls_pca      ? "--pca"
                                            : o->ls_directions ? "--directions"
                                                             : NULL
                                          : NULL;
    if (plane_only) tr_die_usage("landscape: %s is an option of --plane", plane_only);
    if (o->ls_plane && o->to)
        tr_die_usage("%s", "landscape: --to draws a line between two weights; --plane is a plane "
                           "around one (--weights)");
    if (o->ls_plane && o->ls_points)
        tr_die_usage("%s", "landscape: --points is the line's; --plane has --grid N");
    if (o->ls_pca && !o->ls_n_paths)
        tr_die_usage("%s", "landscape: --pca takes its plane from the paths: give --path FILE");
    if (o->ls_pca && ls_two_scalars())
        tr_die_usage("%s", "landscape: --pca: this model's two parameters are the plane already");
    r->points = o->ls_points ? ls_whole("--points", o->ls_points, 2, 100000) : 41;
    r->grid = o->ls_grid ? ls_whole("--grid", o->ls_grid, 2, 1001) : 21;
    r->lo = o->ls_plane ? -1 : -0.5, r->hi = o->ls_plane ? 1 : 1.5;
    if (o->ls_range) parse_range(r, o->ls_range, o->ls_plane && ls_two_scalars());
    if (o->out) {
        size_t len = strlen(o->out);
        if (len < 5 || strcmp(o->out + len - 4, ".csv"))
            tr_die_usage("landscape: -o %s: the CSV's name must end in .csv (the picture is "
                         "beside it, .svg)",
                         o->out);
        snprintf(r->csv, sizeof r->csv, "%s", o->out);
    } else {
        snprintf(r->csv, sizeof r->csv, "%s-%s.csv", MODEL_NAME, o->ls_plane ? "plane" : "line");
    }
    rt_plot_path_beside(r->csv, r->svg, sizeof r->svg);
}

void ls_load_weights(ls_run *r, const char *path, real *p)
{
    rt_error err;
    rt_weights w = {p, MODEL_N_PARAMS, MODEL_STANDARDIZE ? r->b.stats : NULL,
                    MODEL_STANDARDIZE ? 2L * MODEL_FEATURES : 0};
    if (rt_weights_load(path, MODEL_HASH, &w, &err)) tr_fail(&err);
}

result ls_eval_at(ls_run *r, const rt_dataset *ds, const real *p)
{
    memcpy(r->scratch, p, sizeof(real) * MODEL_N_PARAMS);
    r->b.param = r->scratch;
    if (model_train_data.kind == RT_SRC_NONE) { /* a bare objective: no rows */
        result res = {(double)model_eval(1, r->b.param, r->b.x, r->b.y, r->b.out, r->b.arena), 0};
        return res;
    }
    return tr_evaluate(ds, &r->b);
}

/* The data (--rows: the first N training and test rows) and the buffers. */
static void load(ls_run *r)
{
    const options *o = r->o;
    r->b = tr_alloc_buffers(0);
    r->d = tr_load_data(&r->b, 1, 1);
    r->n_train_all = r->d.train.n;
    r->train = r->d.train, r->test = r->d.test;
    if (o->ls_rows) {
        long rows = ls_whole("--rows", o->ls_rows, 1, 1L << 40);
        if (r->train.n > rows) r->train.n = (int32_t)rows;
        if (r->test.n > rows) r->test.n = (int32_t)rows;
    }
    r->centre = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    r->scratch = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
}

FILE *ls_open_out(const char *path)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: landscape: %s: %s\n", MODEL_NAME, path, strerror(errno));
        exit(1);
    }
    return f;
}

void ls_close_out(FILE *f, const char *path)
{
    if (ferror(f) | fclose(f)) {
        fprintf(stderr, "%s: landscape: %s: %s\n", MODEL_NAME, path, strerror(errno));
        exit(1);
    }
}

/* The picture of the line: the losses, and the accuracies of a classifier. */
static void draw_line(ls_run *r, long n, const double *alpha, const double *v, const char *from,
                      const char *to)
{
    const int has_test = r->test.n > 0, acc = MODEL_TASK != RT_TASK_NONE &&
                                              MODEL_TASK != RT_TASK_REGRESS;
    rt_xy_series s[4] = { {"training", (int)n, 0, alpha, v, NULL, NULL},
                         {"test", (int)n, 1, alpha, v + n, NULL, NULL},
                         {"training", (int)n, 0, alpha, v + 2 * n, NULL, NULL},
                         {"test", (int)n, 1, alpha, v + 3 * n, NULL, NULL}};
    rt_xy_panel p[2] = { {"loss", NULL, s, 1 + has_test, NULL, 0, NULL},
                        {"accuracy", NULL, s + 2, 1 + has_test, NULL, 0, NULL}};
    char sub[600], title[200];
    snprintf(title, sizeof title, "%s: loss along a line", MODEL_NAME);
    snprintf(sub, sizeof sub, "(1 - alpha) A + alpha B, evaluation mode; A = %.200s, B = %.200s",
             from, to);
    rt_xy_figure fig = {title, sub, "alpha", 0, 0, p, 1 + acc};
    rt_error err;
    if (rt_plot_xy_svg(&fig, r->svg, &err)) tr_fail(&err);
}

/* The line from a to b: --points alphas over --range, each evaluated. */
static int run_line(ls_run *r, const real *a, const real *b, const char *from, const char *to)
{
    const long n = r->points;
    double *alpha = tr_alloc_or_die((size_t)n, sizeof(double));
    double *v = tr_alloc_or_die(4 * (size_t)n, sizeof(double)); /* loss, test, acc, test acc */
    FILE *csv = ls_open_out(r->csv);
    fprintf(csv, "alpha,train_loss,train_accuracy,test_loss,test_accuracy\n");
    for (long k = 0; k < n; k++) {
        /* alpha 0 and 1 exactly at the ends when the range has them */
        double t = r->lo + (r->hi - r->lo) * (double)k / (double)(n - 1);
        alpha[k] = t;
        for (long i = 0; i < MODEL_N_PARAMS; i++)
            r->centre[i] = (real)((1 - t) * (double)a[i] + t * (double)b[i]);
        for (int i = 0; i < model_n_param_tensors; i++) /* counts: B's */
            if (model_params[i].count)
                r->centre[model_params[i].offset] = b[model_params[i].offset];
        result tr = ls_eval_at(r, &r->train, r->centre), te = {NAN, NAN};
        if (r->test.n) te = ls_eval_at(r, &r->test, r->centre);
        v[k] = tr.loss, v[n + k] = te.loss, v[2 * n + k] = tr.accuracy, v[3 * n + k] = te.accuracy;
        fprintf(csv, "%.17g,%.17g,%.17g,%.17g,%.17g\n", t, tr.loss, tr.accuracy, te.loss,
                te.accuracy);
    }
    ls_close_out(csv, r->csv);
    draw_line(r, n, alpha, v, from, to);
    if (!r->o->quiet)
        printf("%s: landscape: %ld points from alpha %g to %g (%ld training rows%s); wrote %s and "
               "%s\n",
               MODEL_NAME, n, r->lo, r->hi, (long)r->train.n, r->test.n ? " and test rows" : "",
               r->csv, r->svg);
    free(alpha);
    free(v);
    return 0;
}

int tr_cmd_landscape(const options *o)
{
    ls_run run, *r = &run;
    memset(r, 0, sizeof run);
    r->o = o;
    check_options(r, o);
    load(r);
    if (o->ls_plane) return ls_plane(r);
    real *a = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    real *b = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    const char *from = "the initial weights", *to = o->weights;
    if (o->to) {
        ls_load_weights(r, o->weights, a);
        ls_load_weights(r, o->to, b);
        from = o->weights, to = o->to;
    } else {
        rt_rng init_rng;
        rt_rng_seed(&init_rng, o->seed);
        model_init(a, &init_rng);
        tr_need_weights(o);
        ls_load_weights(r, o->weights, b);
    }
    int rc = run_line(r, a, b, from, to);
    free(a);
    free(b);
    return rc;
}
