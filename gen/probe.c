/* probe.c — the data probe (see probe.h): what the spec alone cannot
 * settle, checked before anything is planned or written. The memory budget
 * is checked on the plan (recompute.c). */
#include "probe.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/rt.h"

void probe_csv_source(arena *A, const ir_data *d, rt_source *s)
{
    memset(s, 0, sizeof *s);
    s->kind = RT_SRC_CSV;
    s->path = d->train_path;
    s->label = d->label;
    s->label_col = d->label_col;
    s->header = d->header;
    s->sep = d->sep;
    rt_column *f = arena_alloc(A, (size_t)(d->n_features + d->n_drop + 1) * sizeof *f);
    for (int i = 0; i < d->n_features; i++) f[i] = (rt_column){d->features[i].name, d->features[i].index};
    for (int i = 0; i < d->n_drop; i++)
        f[d->n_features + i] = (rt_column){d->drop[i].name, d->drop[i].index};
    s->features = d->n_features ? f : NULL;
    s->n_features = d->n_features;
    s->drop = d->n_drop ? f + d->n_features : NULL;
    s->n_drop = d->n_drop;
}

static rt_source train_source(arena *A, const ir_data *d, uint32_t seed)
{
    rt_source s = {.kind = d->kind, .label_col = d->label_col, .header = d->header};
    if (d->kind == RT_SRC_CSV) probe_csv_source(A, d, &s);
    s.images = d->train_images;
    s.labels = d->train_labels;
    s.path = d->train_path;
    s.label = d->label;
    s.n = d->n;
    s.d = d->d;
    s.noise = d->noise;
    s.seed = seed;
    s.wseed = seed;
    return s;
}

/* The probe checks labels too where it reads them (CSV). */
static rt_source probe_source(const ir_graph *g)
{
    rt_source s = train_source(g->A, &g->data, g->data.has_seed ? g->data.seed : g->train.seed);
    s.classes = g->labels >= 0 ? g->classes : 0;
    s.ylen = g->labels >= 0 ? g->label_len : 0;
    if (g->labels >= 0) {
        s.class_names = g->class_names;
        s.n_class_names = g->n_class_names;
    }
    return s;
}

/* What a CSV says before it is probed: a header of numbers (header = true)
 * is warned of; class names in the label column of labels { classes = K }
 * become the classes (K of them, sorted); labels { } whose file could not
 * be read while the spec ran is read again here for the message. */
static int csv_classes(ir_graph *g, char *err, size_t errsize)
{
    rt_source src = probe_source(g);
    int want_names = g->labels >= 0 && g->classes > 0 && !g->n_class_names;
    if (g->classes_from_data && !g->n_class_names) want_names = 1;
    src.classes = 0;
    rt_csv_info info;
    rt_error e;
    if (rt_csv_inspect(&src, want_names, &info, &e)) {
        snprintf(err, errsize, "%s:%d: data: %s", g->spec_path, g->data.line, e.msg);
        return 1;
    }
    if (info.header_numeric)
        fprintf(stderr,
                "%s:%d: warning: %s: header = true drops line %ld, which holds only numbers "
                "(header = false keeps it as data)\n",
                g->spec_path, g->data.line, src.path, info.header_line);
    int rc = 0;
    if (want_names && !info.labels_numeric) {
        if (info.n_names != g->classes) {
            snprintf(err, errsize,
                     "%s:%d: labels { classes = %d }, but the label column of %s has %d class "
                     "names; write labels { } to take them from the data, or list them: "
                     "labels { classes = { \"%s\", ... } }",
                     g->spec_path, ir_get(g, g->labels)->line, g->classes, src.path, info.n_names,
                     info.n_names ? info.names[0] : "");
            rc = 2;
        } else {
            const char **names = arena_alloc(g->A, (size_t)info.n_names * sizeof *names);
            for (int i = 0; i < info.n_names; i++) names[i] = arena_strdup(g->A, info.names[i]);
            g->class_names = names;
            g->n_class_names = info.n_names;
        }
    }
    rt_csv_info_free(&info);
    return rc;
}

/* The classes a split of the training rows is stratified over: class
 * indices, or one 0/1 (or sign) label; 0: not stratified. */
static int split_classes(const ir_graph *g)
{
    if (g->labels < 0 || g->label_len != 1) return 0;
    if (g->task == TASK_CLASSIFY) return g->classes;
    return g->task == TASK_BINARY || g->task == TASK_LOGIT || g->task == TASK_SIGN ? 2 : 0;
}

/* A random split of classes draws the rows the trainer will: refused now
 * when a class has too few rows (rt_split_rows, as the trainer calls it). */
static int check_draw(ir_graph *g, int32_t n, char *err, size_t errsize)
{
    const ir_data *d = &g->data;
    int draws = (g->n_valid && !d->valid_tail) || (g->n_test_split && !d->test_tail);
    if (!draws || !g->split_classes) return 0;
    rt_source src = probe_source(g);
    rt_error e;
    real *y = NULL;
    int32_t rows = 0;
    if (rt_data_load_labels(&src, g->label_len, g->classes, &y, &rows, &e)) {
        snprintf(err, errsize, "%s:%d: data: %s", g->spec_path, d->line, e.msg);
        return 1;
    }
    int32_t *cls = malloc(sizeof(int32_t) * 4 * (size_t)n + 1);
    int rc = 0;
    if (!cls || rows != n) {
        snprintf(err, errsize, "%s:%d: data: %s", g->spec_path, d->line,
                 cls ? "the labels changed while read" : "out of memory");
        rc = 1;
    } else {
        for (int32_t i = 0; i < n; i++) cls[i] = rt_label_class((int)g->task, y + i);
        const rt_split s = {g->n_test_split, g->n_valid, d->test_tail, d->valid_tail,
                            d->split_seed};
        int32_t *train = cls + n, *valid = train + g->n_train, *test = valid + g->n_valid;
        if (rt_split_rows(&s, cls, g->split_classes, n, train, valid, test, &e)) {
            snprintf(err, errsize, "%s:%d: %s: %s", g->spec_path, d->line,
                     src.path ? src.path : src.images, e.msg);
            rc = 2;
        }
    }
    free(cls);
    free(y);
    return rc;
}

/* test = 0.2, valid = 0.1: the rows of the training file held out, and
 * those left to train on. */
static int hold_out(ir_graph *g, int32_t n, char *err, size_t errsize)
{
    g->n_valid = (int32_t)(g->data.valid * n + 0.5);
    g->n_test_split = (int32_t)(g->data.test_frac * n + 0.5);
    g->n_train = n - g->n_valid - g->n_test_split;
    if (g->n_train < 1 && !g->n_test_split) {
        snprintf(err, errsize, "%s:%d: no training rows left after holding out %d for validation",
                 g->spec_path, g->data.line, g->n_valid);
        return 2;
    }
    if (g->n_train < 1) {
        snprintf(err, errsize,
                 "%s:%d: no training rows left after holding out %d for testing and %d for "
                 "validation",
                 g->spec_path, g->data.line, g->n_test_split, g->n_valid);
        return 2;
    }
    g->split_classes = split_classes(g);
    return check_draw(g, n, err, errsize);
}

/* The test file is read at generation like the training file: a missing or
 * unreadable one, or one of other rows, is found before anything is built. */
static int probe_test_file(ir_graph *g, long want, char *err, size_t errsize)
{
    const ir_data *d = &g->data;
    rt_source s = probe_source(g);
    s.images = d->test_images;
    s.labels = d->test_labels;
    s.path = d->test_path;
    if ((d->kind == RT_SRC_CSV && !s.path) ||
        ((d->kind == RT_SRC_IDX || d->kind == RT_SRC_NPY) && !s.images) ||
        (d->kind != RT_SRC_CSV && d->kind != RT_SRC_IDX && d->kind != RT_SRC_NPY))
        return 0;
    rt_error e;
    int32_t n, f;
    if (rt_data_probe(&s, &n, &f, &e)) {
        snprintf(err, errsize, "%s:%d: data: %s", g->spec_path, d->line, e.msg);
        return 1;
    }
    if (f != want) {
        snprintf(err, errsize, "%s:%d: %s: %d features per row, but input expects %ld",
                 g->spec_path, d->line, s.path ? s.path : s.images, f, want);
        return 1;
    }
    return 0;
}

/* Fixes the sizes that come from the data: rows, features, batch. */
static int size_from_data(ir_graph *g, char *err, size_t errsize)
{
    if (!g->has_data && g->input < 0 && g->labels < 0) {
        /* a bare objective of parameters (a test function, a textbook
         * problem): each epoch is one step on no data */
        g->n_train = 1;
        g->train.batch = 1;
        g->features = 0;
        g->label_len = 0;
        return 0;
    }
    if (!g->has_data) {
        snprintf(err, errsize,
                 "%s: the spec has an input but no data (e.g. data = idx { ... } or csv { ... })",
                 g->spec_path);
        return 2;
    }
    if (g->input < 0) {
        snprintf(err, errsize, "%s:%d: the spec reads data but has no input { ... }", g->spec_path,
                 g->data.line);
        return 2;
    }
    if (g->labels >= 0 && g->data.kind == RT_SRC_NPY && !g->data.train_labels) {
        snprintf(err, errsize,
                 "%s:%d: npy: the spec has labels { ... }, so train needs y = \"...\"",
                 g->spec_path, g->data.line);
        return 2;
    }
    if (g->data.kind == RT_SRC_CSV) {
        int rc = csv_classes(g, err, errsize);
        if (rc) return rc;
    }
    rt_source src = probe_source(g);
    rt_error e;
    int32_t n, d;
    if (rt_data_probe(&src, &n, &d, &e)) {
        snprintf(err, errsize, "%s:%d: data: %s", g->spec_path, g->data.line, e.msg);
        return 1;
    }
    long want = ir_numel(ir_get(g, g->input), 1);
    if (d != want) {
        /* IDX and NPY name their features file in images */
        const char *file = src.kind == RT_SRC_CSV ? src.path
                           : src.images           ? src.images
                                                  : "synthetic data";
        /* the spec's mistake as much as the data's: it points at input { } */
        const ir_node *x = ir_get(g, g->input);
        char dims[128] = "";
        for (int i = 1, len = 0; i < x->rank && len < 100; i++)
            len += snprintf(dims + len, sizeof dims - (size_t)len, "%s%d", i > 1 ? ", " : "",
                            x->dim[i]);
        snprintf(err, errsize,
                 "%s:%d: input { %s }: %s: %d features per row, but input expects %ld (the "
                 "data is set at line %d)",
                 g->spec_path, x->line, dims, file, d, want, g->data.line);
        return 2;
    }
    /* IDX labels may hold label_len values per row (soft labels [n x C] for
     * kl_div); the trainer checks the file's row size when it loads it */
    g->features = d;
    int rc = hold_out(g, n, err, errsize);
    if (!rc) rc = probe_test_file(g, want, err, errsize);
    if (rc) return rc;
    if (g->train.batch == 0 || g->train.batch > g->n_train) g->train.batch = g->n_train;
    if (g->labels < 0) g->label_len = 0;
    return 0;
}

/* What stratified batches and augmentation need from the model and data:
 * class labels, and the image shape (the input's { C, H, W }, or the square
 * grey images of IDX files). */
static int train_checks(ir_graph *g, char *err, size_t errsize)
{
    ir_train *t = &g->train;
    if (t->stratify) {
        int two_class = (g->task == TASK_BINARY || g->task == TASK_LOGIT || g->task == TASK_SIGN) &&
                        g->label_len == 1;
        if (!g->has_data || (g->task != TASK_CLASSIFY && !two_class)) {
            snprintf(err, errsize,
                     "%s:%d: train: stratify needs class labels (labels { classes = K } with "
                     "cross_entropy, or one 0/1 label with bce)",
                     g->spec_path, t->line);
            return 2;
        }
    }
    /* the gradient of a step is the full gradient only when the step's
     * batch is every training row, each once */
    if (t->stop_grad_norm > 0 && (t->batch < g->n_train || t->sample_replace)) {
        snprintf(err, errsize,
                 "%s:%d: train: stop_grad_norm needs full-batch training (batch = \"full\", "
                 "without sampling = \"replacement\"): the gradient of %s is not the full "
                 "gradient",
                 g->spec_path, t->line,
                 t->sample_replace ? "rows drawn with replacement" : "a mini-batch");
        return 2;
    }
    if (!t->aug_crop && !t->aug_flip) return 0;
    const ir_node *x = g->input >= 0 ? ir_get(g, g->input) : NULL;
    char shape[64] = "none";
    if (x) ir_shape_str(x, shape, sizeof shape);
    if (x && x->rank == 4) { /* [B x C x H x W] */
        t->img_c = x->dim[1], t->img_h = x->dim[2], t->img_w = x->dim[3];
    } else if (x && x->rank == 3) { /* [B x H x W]: grey */
        t->img_c = 1, t->img_h = x->dim[1], t->img_w = x->dim[2];
    } else if (x && g->data.kind == RT_SRC_IDX) {
        int side = (int)(sqrt((double)g->features) + 0.5);
        if (side * side == g->features) t->img_c = 1, t->img_h = t->img_w = side;
    }
    if (!t->img_h) {
        snprintf(err, errsize,
                 "%s:%d: train: augment needs the image shape; give the input as input { C, H, W } "
                 "(or use square IDX images), not %s",
                 g->spec_path, t->line, shape);
        return 2;
    }
    if (t->aug_crop >= t->img_h || t->aug_crop >= t->img_w) {
        snprintf(err, errsize, "%s:%d: augment: crop = %d is not smaller than the %d x %d images",
                 g->spec_path, t->line, t->aug_crop, t->img_h, t->img_w);
        return 2;
    }
    return 0;
}

int probe_data(ir_graph *g, char *err, size_t errsize)
{
    int rc = size_from_data(g, err, errsize);
    return rc ? rc : train_checks(g, err, errsize);
}

const char *probe_bytes(double bytes, char *buf, size_t size)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}
