/* emit.c — prints the plan into out/<model>/ (see emit.h): model.c in
 * schedule order through the op rows, and the templates filled by name. */
#include "emit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../runtime/rt.h"
#include "about.h"
#include "cgen.h"
#include "emit_tiny.h"
#include "escape.h"
#include "ops.h"
#include "optim.h"
#include "owner.h"
#include "shards.h"
#include "filelist.h"
#include "fuse_update.h"
#include "recompute.h"

#ifndef TRAINC_VERSION
#define TRAINC_VERSION "0.0.0"
#endif
#ifndef TRAINC_BLAS_CFLAGS
#define TRAINC_BLAS_CFLAGS "-I/usr/include/x86_64-linux-gnu/openblas-pthread"
#endif
#ifndef TRAINC_BLAS_LIBS
#define TRAINC_BLAS_LIBS                                                                           \
    "-L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -lgfortran -lquadmath"
#endif
/* trainc built with -Dsanitize=LIST builds its trainers with the same
 * sanitizers and flags (meson.build); they cannot link statically, so those
 * trainers are dynamic */
#ifndef TRAINC_SANITIZE_FLAGS
#define TRAINC_SANITIZE_FLAGS ""
#endif
/* Open MPI's flags for the -mpi trainer (pkg-config ompi-c when meson
 * configured trainc; empty: not found, and the -mpi target says so) */
#ifndef TRAINC_MPI_CFLAGS
#define TRAINC_MPI_CFLAGS ""
#endif
#ifndef TRAINC_MPI_LIBS
#define TRAINC_MPI_LIBS ""
#endif

/* ---- model.c ---- */

/* The model summary `info` prints: one row per op of the forward pass and
 * the loss, in spec order, with its spec line, output shape, the
 * parameters it reads first and its FLOPs at the batch size. */
static void emit_summary(writer *w, ir_graph *g, int batch)
{
    char *seen = arena_alloc(g->A, (size_t)g->n);
    int rows = 0;
    wr_line(w, "const model_layer model_layers[] = {");
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_ACT || n->phase == PH_BACKWARD) continue;
        long params = 0;
        for (int k = 0; k < n->nin; k++) {
            const ir_node *p = ir_get(g, n->in[k]);
            if (p->kind == K_PARAM && !seen[p->id]) {
                seen[p->id] = 1;
                params += ir_numel(p, 1);
            }
        }
        char shape[64];
        wr_line(w, "{%d, %s, %s, %s, %ldL, %.17g},", n->line, esc_c_string(g->A, n->name),
                esc_c_string(g->A, ir_op_name(n->op)),
                esc_c_string(g->A, ir_shape_str(n, shape, sizeof shape)), params,
                op_get(n->op)->flops(g, n, batch));
        rows++;
    }
    if (!rows) wr_line(w, "{0, NULL, NULL, NULL, 0, 0},");
    wr_line(w, "};");
    wr_line(w, "const int model_n_layers = %d;", rows);
}

static const char *fmt_init(emitter *e, const ir_node *p)
{
    const ir_init *in = &p->init;
    const char *at = e_fmt(e, "param + P_%s", e_upper(e->g->A, p->name));
    long n = ir_numel(p, 1);
    switch (in->kind) {
    case INIT_ZEROS:
        return e_fmt(e, "rt_init_constant(%s, %ld, 0);", at, n);
    case INIT_CONSTANT:
        return e_fmt(e, "rt_init_constant(%s, %ld, %.17g);", at, n, in->a);
    case INIT_UNIFORM:
        return e_fmt(e, "rt_init_uniform(rng, %s, %ld, %.17g, %.17g);", at, n, in->a, in->b);
    case INIT_NORMAL:
        return e_fmt(e, "rt_init_normal(rng, %s, %ld, %.17g, %.17g);", at, n, in->a, in->b);
    case INIT_ORTHOGONAL:
        return e_fmt(e, "rt_init_orthogonal(rng, %s, %d, %ld, %.17g);", at, p->dim[0],
                     n / p->dim[0], in->a);
    }
    return "";
}

static void emit_source(writer *w, arena *A, const char *var, const ir_data *d, int test,
                        uint32_t seed, int names)
{
    wr_line(w, "const rt_source %s = {", var);
    if (d->kind == RT_SRC_NONE) {
        wr_line(w, ".kind = RT_SRC_NONE, /* no data: a bare objective */");
        wr_line(w, "};");
        return;
    }
    if (d->kind == RT_SRC_IDX || d->kind == RT_SRC_NPY) {
        if (test && !d->test_images) {
            wr_line(w, ".kind = RT_SRC_NONE,");
        } else {
            wr_line(w, ".kind = %s,", d->kind == RT_SRC_IDX ? "RT_SRC_IDX" : "RT_SRC_NPY");
            wr_line(w, ".images = %s,", esc_c_string(A, test ? d->test_images : d->train_images));
            wr_line(w, ".labels = %s,", esc_c_string(A, test ? d->test_labels : d->train_labels));
        }
    } else if (d->kind == RT_SRC_CSV) {
        if (test && !d->test_path) {
            wr_line(w, ".kind = RT_SRC_NONE,");
        } else {
            wr_line(w, ".kind = RT_SRC_CSV,");
            wr_line(w, ".path = %s,", esc_c_string(A, test ? d->test_path : d->train_path));
            wr_line(w, ".label = %s,", esc_c_string(A, d->label));
            if (d->label_col == RT_CSV_LAST)
                wr_line(w, ".label_col = RT_CSV_LAST,");
            else
                wr_line(w, ".label_col = %d,", d->label_col);
            wr_line(w, ".header = %d,", d->header);
            if (d->sep) wr_line(w, ".sep = %d, /* %s */", d->sep, d->sep == '\t' ? "tab" : "given");
            if (d->n_features)
                wr_line(w, ".features = model_csv_columns, .n_features = %d,", d->n_features);
            if (d->n_drop)
                wr_line(w, ".drop = model_csv_columns + %d, .n_drop = %d,", d->n_features,
                        d->n_drop);
            if (names) wr_line(w, ".class_names = model_class_names, .n_class_names = %d,", names);
        }
    } else {
        static const char *const kinds[] = {"RT_SRC_NONE", "RT_SRC_IDX",     "RT_SRC_CSV",
                                            "RT_SRC_XOR",  "RT_SRC_SPIRALS", "RT_SRC_LINREG"};
        if (test && d->n_test == 0) {
            wr_line(w, ".kind = RT_SRC_NONE,");
        } else {
            wr_line(w, ".kind = %s,", kinds[d->kind]);
            wr_line(w, ".n = %d,", test ? d->n_test : d->n);
            wr_line(w, ".d = %d,", d->d);
            wr_line(w, ".noise = %.17g,", d->noise);
            /* train and test are different draws of the same problem (same w*) */
            wr_line(w, ".seed = %uu,", test ? seed + 1 : seed);
            wr_line(w, ".wseed = %uu,", seed);
        }
    }
    wr_line(w, "};");
}

/* The class names, as C string literals (esc_c_string escapes them; none goes
 * into a comment), and their number: eval and predict print them. */
static void emit_class_names(writer *w, ir_graph *g)
{
    if (g->n_class_names)
        wr_line(w, "/* the class names, class 0 first (labels { } at spec line %d) */",
                ir_get(g, g->labels)->line);
    wr_line(w, "const char *const model_class_names[] = {");
    for (int i = 0; i < g->n_class_names; i++)
        wr_line(w, "%s,", esc_c_string(g->A, g->class_names[i]));
    if (!g->n_class_names) wr_line(w, "NULL, /* none: classes are numbered */");
    wr_line(w, "};");
    wr_line(w, "const int model_n_class_names = %d;", g->n_class_names);
}

/* csv { features = ... } or drop = { ... }: the columns by name or index */
static void emit_csv_columns(writer *w, arena *A, const ir_data *d)
{
    if (!d->n_features && !d->n_drop) return;
    wr_line(w, "static const rt_column model_csv_columns[] = {");
    for (int i = 0; i < d->n_features + d->n_drop; i++) {
        const ir_column *c = i < d->n_features ? &d->features[i] : &d->drop[i - d->n_features];
        wr_line(w, "{%s, %d},", esc_c_string(A, c->name), c->index);
    }
    wr_line(w, "};");
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

/* Writes a generated file atomically (temporary file, fsync, rename): an
 * interrupted trainc never leaves half a file for ninja to build */
static int write_file(const char *path, const char *text, char *err, size_t errsize)
{
    rt_error e;
    if (rt_write_atomic(path, text, strlen(text), &e) == 0) return 0;
    snprintf(err, errsize, "%s", e.msg);
    return -1;
}

static char *fill_template(const emit_options *o, const char *name, const tpl_var *vars, int n,
                           char *err, size_t errsize)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/templates/%s", o->home, name);
    char *text = read_file(path);
    if (!text) {
        snprintf(err, errsize, "%s: cannot read the template: %s", path, strerror(errno));
        return NULL;
    }
    const char *missing = NULL;
    char *out = tpl_fill(text, vars, n, &missing);
    free(text);
    if (!out) snprintf(err, errsize, "%s: no value for the hole {{%s}}", path, missing);
    return out;
}

/* Fills the template tpl and writes it into the model's folder as name. */
static int write_template(const emit_options *o, const char *tpl, const char *name,
                          const tpl_var *vars, int n, char *err, size_t errsize)
{
    char path[4096];
    char *text = fill_template(o, tpl, vars, n, err, errsize);
    if (!text) return -1;
    snprintf(path, sizeof path, "%s/%s", o->out_dir, name);
    int rc = write_file(path, text, err, errsize);
    free(text);
    return rc;
}

static const char *task_name(ir_task t)
{
    static const char *const names[] = {"RT_TASK_NONE",  "RT_TASK_CLASSIFY", "RT_TASK_BINARY",
                                        "RT_TASK_LOGIT", "RT_TASK_SIGN",     "RT_TASK_REGRESS"};
    return names[t];
}

/* The calls of the optimizer's update_range: one per run of trainable
 * parameters in the flat buffer (frozen ones are left as they are). */
static const char *update_ranges(ir_graph *g)
{
    writer w;
    wr_init(&w);
    w.indent = 1;
    /* runs of trainable parameters with the same group options */
    long start = -1, end = 0;
    double lr_scale = 1, wd = 0;
    const char *first = NULL, *last = NULL;
    for (int i = 0; i <= g->n; i++) {
        const ir_node *p = i < g->n ? ir_get(g, i) : NULL;
        if (p && p->kind != K_PARAM) continue;
        double p_scale = 1, p_wd = 0;
        if (p) update_scale_of(g, p, &p_scale, &p_wd);
        if (p && p->trainable && start >= 0 && p->offset == end && p_scale == lr_scale &&
            p_wd == wd) {
            end = p->offset + ir_numel(p, 1);
            last = p->label;
            continue;
        }
        if (start >= 0) {
            wr_line(&w, "/* %s%s%s */", first, first == last ? "" : " .. ",
                    first == last ? "" : last);
            wr_line(&w, "%s",
                    update_range_call(g, arena_printf(g->A, "%ld", start), end - start, lr_scale,
                                      wd, 0));
            start = -1;
        }
        if (p && p->trainable) {
            start = p->offset;
            end = p->offset + ir_numel(p, 1);
            first = last = p->label;
            lr_scale = p_scale;
            wd = p_wd;
        }
    }
    if (w.len == 0)
        wr_line(
            &w,
            "(void)param, (void)grad, (void)lr, (void)momentum, (void)t; /* nothing to train */");
    char *ranges = wr_take(&w);
    /* gradient clipping comes first, as torch's clip_grad_*_ before step() */
    w.indent = 1;
    if (g->train.clip_grad_norm > 0) {
        wr_line(&w,
                "/* clip_grad_norm_(max_norm = %g): g <- g * min(1, max_norm / (||g|| + 1e-6)),",
                g->train.clip_grad_norm);
        wr_line(&w, " * ||g|| the L2 norm of all the gradients together */");
        wr_line(&w, "{");
        wr_line(&w, "const double norm = sqrt(rt_sumsq(grad, MODEL_N_PARAMS));");
        wr_line(&w, "const double coef = %.17g / (norm + 1e-6);", g->train.clip_grad_norm);
        wr_line(&w, "if (coef < 1)");
        wr_line(&w, "    for (long i = 0; i < MODEL_N_PARAMS; i++) grad[i] *= (real)coef;");
        wr_line(&w, "}");
    }
    if (g->train.clip_grad_value > 0) {
        wr_line(&w, "/* clip_grad_value_(%g): each g clamped to [-%g, %g] */",
                g->train.clip_grad_value, g->train.clip_grad_value, g->train.clip_grad_value);
        wr_line(&w, "for (long i = 0; i < MODEL_N_PARAMS; i++)");
        wr_line(&w, "    grad[i] = fmin(fmax(grad[i], (real)-%.17g), (real)%.17g);",
                g->train.clip_grad_value, g->train.clip_grad_value);
    }
    wr_raw(&w, ranges);
    free(ranges);
    char *t = wr_take(&w);
    const char *r = arena_strdup(g->A, t);
    free(t);
    return r;
}

/* A writer's text in the arena, without its last newline: a hole's value
 * (the template's line ends it) */
static const char *block(arena *A, writer *w)
{
    char *t = wr_take(w);
    size_t n = strlen(t);
    if (n && t[n - 1] == '\n') t[n - 1] = 0;
    const char *r = arena_strdup(A, t);
    free(t);
    return r;
}

/* model.c's table of the names written otherwise (ir_rename), the model's
 * first; a name is kept to 1024 bytes (C compilers need not take longer
 * string literals than 4095) */
static const char *renames_table(ir_graph *g)
{
    writer w;
    wr_init(&w);
    wr_line(&w, "const model_rename model_renames[] = {");
    int rows = 0;
    for (int model = 1; model >= 0; model--)
        for (int i = 0; i < g->nrenames && i < IR_MAX_RENAMES; i++) {
            const ir_rename *r = &g->renames[i];
            if ((strcmp(r->what, "model") == 0) != model) continue;
            size_t len = strlen(r->typed);
            char *typed = arena_strdup(g->A, r->typed);
            if (len > 1024) typed[1024] = 0;
            wr_line(&w, "{%s, %s, %s, %zuL, %d},", esc_c_string(g->A, r->what),
                    esc_c_string(g->A, typed), esc_c_string(g->A, r->written), len, r->line);
            rows++;
        }
    if (!rows) wr_line(&w, "{NULL, NULL, NULL, 0, 0},");
    wr_line(&w, "};");
    wr_line(&w, "const int model_n_renames = %d;", rows);
    return block(g->A, &w);
}

/* model.c's parameter offsets (#define P_NAME) and the table of tensors */
static void param_holes(ir_graph *g, tpl_var *offsets, tpl_var *table, tpl_var *count)
{
    arena *A = g->A;
    writer w;
    wr_init(&w);
    int ntensors = 0;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_PARAM) continue;
        char shape[64];
        ntensors++;
        wr_commented(&w, 0, arena_printf(A, "#define P_%s %ldL", e_upper(A, n->name), n->offset),
                     arena_printf(A, "/* %s %s, %s:%d */", esc_c_comment(A, n->label),
                                  ir_shape_str(n, shape, sizeof shape), esc_c_comment(A, n->file),
                                  n->line));
    }
    *offsets = (tpl_var){"param_offsets", block(A, &w)};
    w.indent = 1;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_PARAM) continue;
        wr_line(&w, "{%s, P_%s, %ldL, %d, {%d, %d, %d, %d}, %d, %d, %d},",
                esc_c_string(A, n->label), e_upper(A, n->name), ir_numel(n, 1), n->rank, n->dim[0],
                n->rank > 1 ? n->dim[1] : 0, n->rank > 2 ? n->dim[2] : 0,
                n->rank > 3 ? n->dim[3] : 0, n->trainable, n->buffer, n->count);
    }
    if (!ntensors) wr_line(&w, "{NULL, 0, 0, 0, {0, 0, 0, 0}, 0, 0, 0},");
    *table = (tpl_var){"param_table", block(A, &w)};
    *count = (tpl_var){"n_param_tensors", arena_printf(A, "%d", ntensors)};
}

/* model_init's body: each parameter's initialiser, in the spec's order */
static const char *init_body(emitter *e)
{
    ir_graph *g = e->g;
    writer w;
    wr_init(&w);
    w.indent = 1;
    int uses_rng = 0, ntensors = 0;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_PARAM) continue;
        ntensors++;
        wr_line(&w, "/* %s: %s */", esc_c_comment(g->A, n->label),
                esc_c_comment(g->A, n->init.what));
        wr_line(&w, "%s", fmt_init(e, n));
        if (n->init.kind != INIT_ZEROS && n->init.kind != INIT_CONSTANT) uses_rng = 1;
    }
    if (!uses_rng) wr_line(&w, "(void)rng;");
    if (!ntensors) wr_line(&w, "(void)param;");
    return block(g->A, &w);
}

/* model_train_update's head and its lines picking a step by the number of
 * rows (dispatch) */
static void train_update_head(writer *w, const char *dispatch)
{
    wr_line(w, "real model_train_update(int rows, real *param, real *grad, const real *x, "
               "const real *y,");
    wr_line(w, "                        real *out, real *arena, uint64_t noise, const "
               "model_update_args *u)");
    wr_line(w, "{");
    wr_raw(w, dispatch);
    wr_raw(w, "\n");
}

/* model_train_update, the training step with the update fused into it
 * (dispatch: its lines picking a step by the number of rows), or why the
 * spec's update is not fused */
static void fused_update_step(writer *w, const char *unfused, int in_store, const char *dispatch)
{
    if (unfused) {
        wr_line(w, "/* The optimizer's update runs after the training step, a pass of its own");
        wr_line(w, " * (gen/fuse_update.c): %s. */", unfused);
        wr_blank(w);
        return;
    }
    wr_line(w, "/* The training step with the optimizer's update fused into it: each");
    wr_line(w, " * parameter is updated right after the block that completes its gradient");
    wr_line(w, " * (gen/fuse_update.c); the same bits as model_train_step, then model_update");
    if (in_store) { /* fuse_update_in_store */
        wr_line(w, " * (the update is elementwise). A weight gradient that trainc's own kernel");
        wr_line(w, " * computes (runtime/rt_gemm.c, rt_sgemm_tn_store) has its parameter's update");
        wr_line(w, " * inside the product's store: on each run of rows of the gradient as soon as");
        wr_line(w, " * they are final, while they are in cache, the parameter and state fetched a");
        wr_line(w, " * strip ahead during the product (update_strip_done); after the block where");
        wr_line(w, " * the kernel leaves the product to OpenBLAS (no AVX2) */");
    } else
        wr_line(w, " * (the update is elementwise) */");
    train_update_head(w, dispatch);
    wr_line(w, "    return NAN; /* no step of that size was generated */");
    wr_line(w, "}");
    wr_blank(w);
}

/* model_train_update of a tiny net whose steps in registers do plain
 * SGD's update too (emit_tiny.c): theirs where they run, else the generic
 * step and then model_update */
static void tiny_update_step(writer *w, const char *unfused, const char *dispatch)
{
    wr_line(w, "/* The training step with the optimizer's update: the steps in registers do");
    wr_line(w, " * it themselves, after the step (plain SGD: p = fma(g, -lr, p), as");
    wr_line(w, " * model_update's loop); elsewhere the generic step, then model_update, a");
    wr_line(w, " * pass of its own (gen/fuse_update.c): %s. The same bits either way. */", unfused);
    train_update_head(w, dispatch);
    wr_line(w,
            "    const real loss = model_train_step(rows, param, grad, x, y, out, arena, noise);");
    wr_line(w, "    model_update(param, grad, u->state, u->lr, u->momentum, u->t);");
    wr_line(w, "    return loss;");
    wr_line(w, "}");
    wr_blank(w);
}

/* The training variants train --profile times: the full batch's step, or
 * with shards its shards' steps (their blocks, summed over the shards) */
static int profiled(const plan *p, int batch)
{
    if (p->shards == 1) return batch == p->batch;
    for (int k = 0; k < rt_shard_count(p->shards, p->batch); k++)
        if (batch == rt_shard_rows(p->shards, p->batch, k)) return 1;
    return 0;
}

/* One function per step variant (train_64, eval_1...), and the lines of
 * model_train_step and model_eval that pick one by the number of rows */
static void step_holes(emitter *e, const plan *p, const shard_sync *sync, tpl_var *steps,
                       tpl_var *train, tpl_var *eval)
{
    arena *A = e->g->A;
    writer w, tw, ew, sw, uw;
    wr_init(&w);
    wr_init(&tw);
    wr_init(&ew);
    wr_init(&sw);
    wr_init(&uw);
    tw.indent = ew.indent = sw.indent = uw.indent = 1;
    e->w = &w;
    const char *unfused = fuse_update_refusal(e->g, p);
    /* the tiny steps do plain SGD's update themselves (emit_tiny.c) */
    const int tiny_sgd = unfused && emit_tiny_sgd(e->g, p);
    int in_store = 0; /* a weight gradient's product runs its update (fuse_update.c) */
    if (!unfused)     /* the steps call it; it is defined with the optimizer's update below */
    {
        wr_line(&w, "static void update_range(real *restrict p, const real *restrict grad, "
                    "real *restrict state,");
        wr_line(&w, "                         long n, double lr, double momentum, real "
                    "weight_decay, long t);");
        wr_blank(&w);
        in_store = fuse_update_store_used(e, p);
        if (in_store) fuse_update_store_helper(&w);
    }
    for (int k = 0; k < p->nv; k++) {
        e->pv = &p->v[k];
        e->batch = p->v[k].batch;
        int tr = p->v[k].mode == PLAN_TRAIN;
        e->profile = tr && profiled(p, e->batch); /* the steps train --profile times */
        e->sync = tr && sync->points ? sync : NULL;
        const char *fname = arena_printf(A, "%s_%d", tr ? "train" : "eval", e->batch);
        int *last = tr && !unfused ? malloc(sizeof(int) * (size_t)(e->g->n + 1)) : NULL;
        if (last) fuse_update_points(e->g, e->pv, last);
        e->fuse_last = last;
        emit_step(e, fname);
        /* a tiny net's step in registers beside it (emit_tiny.c), where the
         * update is a pass of its own and one step takes the whole batch */
        const char *tiny =
            tr && !last && !e->sync && p->shards <= 1 ? emit_tiny_step(e, fname, tiny_sgd) : NULL;
        e->fuse_last = NULL;
        free(last);
        e->profile = 0;
        if (e->sync)
            wr_line(&sw,
                    "if (rows == %d)\n        return %s(param, grad, x, y, out, arena, noise, "
                    "phase, step_rows, partial, total);",
                    e->batch, fname);
        else if (tr && tiny)
            wr_line(&tw,
                    "#ifdef RT_ACT_VECTOR\n    if (rows == %d && rt_tiny_step && !rt_prof_acc)\n"
                    "        return %s(param, grad, x, y, out);\n#endif\n    "
                    "if (rows == %d) return %s(param, grad, x, y, out, arena, noise);",
                    e->batch, tiny, e->batch, fname);
        else if (tr)
            wr_line(p->shards > 1 ? &sw : &tw,
                    "if (rows == %d) return %s(param, grad, x, y, out, arena, noise%s);", e->batch,
                    fname, unfused ? "" : ", NULL");
        if (tr && tiny && tiny_sgd) /* model_train_update: the update in it */
            wr_line(&uw,
                    "#ifdef RT_ACT_VECTOR\n    if (rows == %d && rt_tiny_step && !rt_prof_acc)\n"
                    "        return %s_update(param, grad, x, y, out, u);\n#endif",
                    e->batch, tiny);
        else if (tr && !unfused)
            wr_line(&uw, "if (rows == %d) return %s(param, grad, x, y, out, arena, noise, u);",
                    e->batch, fname);
        else if (!tr)
            wr_line(&ew, "if (rows == %d) return %s(param, x, y, out, arena);", e->batch, fname);
    }
    e->sync = NULL;
    if (p->shards > 1) emit_shard_steps(e, p, sync, &w, &tw, block(A, &sw));
    e->w = &w;
    if (unfused && uw.len)
        tiny_update_step(&w, unfused, block(A, &uw));
    else
        fused_update_step(&w, unfused, in_store, block(A, &uw));
    emit_hvp_steps(e, p);
    *steps = (tpl_var){"steps", block(A, &w)};
    *train = (tpl_var){"train_dispatch", block(A, &tw)};
    *eval = (tpl_var){"eval_dispatch", block(A, &ew)};
}

/* The optimizer's update and the schedule (with the momentum the
 * optimizer keeps unless the schedule cycles it), from their templates */
static int update_holes(ir_graph *g, const emit_options *o, tpl_var *update, tpl_var *schedule,
                        char *err, size_t errsize)
{
    arena *A = g->A;
    tpl_var ov[IR_MAX_OPT * 2 + 8];
    const char *ok[IR_MAX_OPT * 2 + 8], *oval[IR_MAX_OPT * 2 + 8];
    int nov = opt_template_vars(g, ok, oval, IR_MAX_OPT * 2 + 6);
    for (int i = 0; i < nov; i++) ov[i] = (tpl_var){ok[i], oval[i]};
    ov[nov++] = (tpl_var){"ranges", update_ranges(g)};
    writer w;
    wr_init(&w);
    const char *parts[3]; /* a closure step's helpers first (optim_linesearch.c) */
    for (int k = 0, n = opt_templates(g, parts); k < n; k++) {
        char *upd =
            fill_template(o, arena_printf(A, "optim/%s.c", parts[k]), ov, nov, err, errsize);
        if (!upd) return -1;
        wr_raw(&w, upd);
        free(upd);
    }
    *update = (tpl_var){"update", block(A, &w)};

    int nsv = 0;
    const char *sk[IR_MAX_OPT * 4 + 4], *svv[IR_MAX_OPT * 4 + 4];
    tpl_var sv[IR_MAX_OPT * 4 + 4];
    if (g->sched.c.name) nsv = sched_template_vars(g, sk, svv, IR_MAX_OPT * 4 + 2);
    for (int i = 0; i < nsv; i++) sv[i] = (tpl_var){sk[i], svv[i]};
    char *sched = fill_template(
        o, arena_printf(A, "schedule/%s.c", g->sched.c.name ? g->sched.c.name : "constant"), sv,
        nsv, err, errsize);
    if (!sched) return -1;
    wr_raw(&w, sched);
    free(sched);
    /* model_momentum: the cycling schedules define it, else the optimizer's own */
    const sched_def *sd = g->sched.c.name ? sched_find(g->sched.c.name) : NULL;
    if (!sd || !sd->momentum) {
        tpl_var mv[] = {{"optimizer_momentum", opt_momentum_text(g)}};
        char *mom = fill_template(o, "schedule/momentum_fixed.c", mv, 1, err, errsize);
        if (!mom) return -1;
        wr_blank(&w);
        wr_raw(&w, mom);
        free(mom);
    }
    *schedule = (tpl_var){"schedule", block(A, &w)};
    return 0;
}

/* model.c: templates/model.c with its holes filled; sync: batch norm's
 * sync points under shards */
static int emit_model_c(ir_graph *g, const plan *p, const shard_sync *sync, const emit_options *o,
                        const char *header, char *err, size_t errsize)
{
    arena *A = g->A;
    emitter e = {.g = g, .dbl = o->dbl};
    tpl_var v[20];
    int n = 0;
    v[n++] = (tpl_var){"header", esc_c_comment(A, header)};
    v[n++] = (tpl_var){"name", g->model_name};
    param_holes(g, &v[n], &v[n + 1], &v[n + 2]);
    n += 3;
    writer w;
    wr_init(&w);
    emit_summary(&w, g, p->batch);
    v[n++] = (tpl_var){"layer_table", block(A, &w)};
    v[n++] = (tpl_var){"renames", renames_table(g)};
    v[n++] = (tpl_var){
        "data_at",
        esc_c_comment(
            A, arena_printf(A, "%s:%d", g->data.file ? g->data.file : g->spec_path, g->data.line))};
    uint32_t data_seed = g->data.has_seed ? g->data.seed : g->train.seed;
    emit_class_names(&w, g);
    emit_csv_columns(&w, A, &g->data);
    emit_source(&w, A, "model_train_data", &g->data, 0, data_seed, g->n_class_names);
    emit_source(&w, A, "model_test_data", &g->data, 1, data_seed, g->n_class_names);
    v[n++] = (tpl_var){"data_sources", block(A, &w)};
    v[n++] = (tpl_var){"init", init_body(&e)};
    step_holes(&e, p, sync, &v[n], &v[n + 1], &v[n + 2]);
    n += 3;
    v[n++] = (tpl_var){"probe", emit_probe(&e, p)};
    v[n++] = (tpl_var){"profile_table", emit_profile_table(&e, p)};
    if (update_holes(g, o, &v[n], &v[n + 1], err, errsize)) return -1;
    n += 2;
    char *text = fill_template(o, "model.c", v, n, err, errsize);
    if (!text) return -1;
    char path[4096];
    snprintf(path, sizeof path, "%s/model.c", o->out_dir);
    int rc = write_file(path, text, err, errsize);
    free(text);
    return rc;
}

/* The FILES list at home/name (its build lines find the files in dir) */
static int read_list(const emit_options *o, arena *A, const char *name, const char *dir,
                     filelist *l, char *err, size_t errsize)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", o->home, name);
    char *text = read_file(path);
    if (!text) {
        snprintf(err, errsize, "%s: cannot read: %s", path, strerror(errno));
        return -1;
    }
    int rc = filelist_parse(A, text, path, dir, l, err, errsize);
    free(text);
    return rc;
}

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

#define FOLDER_VARS_MAX 88

/* What train --overfit turns off, as the spec has it: dropouts of
 * activations, dropouts of weights (dropconnect), penalties, and whether a
 * trainable parameter has weight decay (model.h says which). */
static void regularisers(ir_graph *g, int *dropout, int *dropconnect, int *penalty, int *decay)
{
    const opt_def *d = opt_find(g->opt.c.name);
    int wdi = opt_index(d, "weight_decay");
    double wd0 = wdi >= 0 ? g->opt.c.value[wdi][0] : 0;
    *dropout = *dropconnect = *penalty = *decay = 0;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind == K_PARAM && n->trainable && (isnan(n->group_wd) ? wd0 : n->group_wd) != 0)
            *decay = 1;
        if (n->phase == PH_BACKWARD) continue;
        if (n->op == OP_DROPOUT && ir_get(g, n->in[0])->kind == K_PARAM)
            ++*dropconnect;
        else if (n->op == OP_DROPOUT)
            ++*dropout;
        else if (n->op == OP_PENALTY_SWITCH)
            ++*penalty;
    }
}

/* about.c's comment: the block's text lines, each as " *   line" */
static const char *about_comment(arena *A, const about *a)
{
    const char *out = "";
    for (const char *l = about_header(A, a), *nl; (nl = strchr(l, '\n')) != NULL; l = nl + 1)
        out = arena_printf(A, "%s%s *   %s", out, *out ? "\n" : "",
                           esc_c_comment(A, arena_printf(A, "%.*s", (int)(nl - l), l)));
    return out;
}

/* The holes of model.h, predict.c, build.ninja and the trainer: sizes and
 * settings of the model, the build's flags and file lists */
static int folder_vars(ir_graph *g, const plan *p, const shard_sync *sync, const emit_options *o,
                       const char *header, const filelist *rt, const filelist *tr, tpl_var *vars)
{
    arena *A = g->A;
    const ir_node *out = g->output >= 0 ? ir_get(g, g->output) : NULL;
    long out_len = out && g->task != TASK_NONE ? ir_numel(out, 1) : 1;
    int dropout, dropconnect, penalty, decay;
    regularisers(g, &dropout, &dropconnect, &penalty, &decay);
    long about_len, spec_at;
    const char *about_bytes = about_c_bytes(A, o->about, &about_len, &spec_at);
    const tpl_var v[] = {
        {"header", esc_c_comment(A, header)},
        {"ninja_header", esc_ninja_comment(A, header)},
        {"name", g->model_name},
        {"ninja_name", esc_ninja_path(A, g->model_name)},
        {"name_upper", e_upper(A, g->model_name)},
        {"spec_literal", esc_c_string(A, g->spec_path)},
        {"hash", g->spec_hash},
        {"version", TRAINC_VERSION},
        {"n_params", arena_printf(A, "%ld", g->n_params)},
        {"n_state", arena_printf(A, "%ld", g->opt.n_state)},
        {"arena", arena_printf(A, "%ld", p->arena_size)},
        {"probe_arena", arena_printf(A, "%ld", p->probe.arena_size)},
        {"recompute", esc_c_string(A, recompute_text(g, p, o->dbl ? 8 : 4))},
        {"features", arena_printf(A, "%d", g->features)},
        {"label_len", arena_printf(A, "%d", g->label_len)},
        {"classes", arena_printf(A, "%d", g->classes)},
        {"output_len", arena_printf(A, "%ld", out_len)},
        {"task", task_name(g->task)},
        {"n_train", arena_printf(A, "%d", g->n_train)},
        {"n_valid", arena_printf(A, "%d", g->n_valid)},
        {"n_test_split", arena_printf(A, "%d", g->n_test_split)},
        {"split_seed", arena_printf(A, "%u", g->data.split_seed)},
        {"split_classes", arena_printf(A, "%d", g->split_classes)},
        {"test_tail", g->data.test_tail ? "1" : "0"},
        {"valid_tail", g->data.valid_tail ? "1" : "0"},
        {"batch", arena_printf(A, "%d", p->batch)},
        {"remainder", arena_printf(A, "%d", p->remainder)},
        {"shards", arena_printf(A, "%d", p->shards)},
        {"shard_arena", arena_printf(A, "%ld", p->shard_arena)},
        {"sync_points", arena_printf(A, "%d", sync->points)},
        {"sync_doubles", arena_printf(A, "%ld", sync->at[sync->points])},
        {"train_flops", arena_printf(A, "%.0f", p->train_flops)},
        {"noise", plan_draws_noise(p) ? "1" : "0"},
        {"tiny_step", arena_printf(A, "%d", emit_tiny_count(g, p, o->dbl))},
        {"eval_flops", arena_printf(A, "%.0f", p->eval_flops)},
        {"epochs", arena_printf(A, "%d", g->train.epochs)},
        {"seed", arena_printf(A, "%u", g->train.seed)},
        {"shuffle", g->train.shuffle ? "1" : "0"},
        {"lr", arena_printf(A, "%.17g", g->opt.lr)},
        {"optimizer", g->opt.c.name},
        {"closure_step", opt_closure_step(g) ? "1" : "0"},
        {"schedule", g->sched.c.name ? g->sched.c.name : "constant"},
        {"per_step", g->sched.per_step ? "1" : "0"},
        {"early_stop", g->train.early_stop ? "1" : "0"},
        {"es_patience", arena_printf(A, "%d", g->train.es_patience)},
        {"es_min_delta", arena_printf(A, "%.17g", g->train.es_min_delta)},
        {"es_restore", g->train.es_restore ? "1" : "0"},
        {"es_monitor_loss", g->train.es_monitor_loss ? "1" : "0"},
        {"stratify", g->train.stratify ? "1" : "0"},
        {"aug_crop", arena_printf(A, "%d", g->train.aug_crop)},
        {"aug_flip", g->train.aug_flip ? "1" : "0"},
        {"sample_replace", g->train.sample_replace ? "1" : "0"},
        {"stop_grad_norm", arena_printf(A, "%.17g", g->train.stop_grad_norm)},
        {"track_sharpness", arena_printf(A, "%d", g->train.track_sharpness)},
        {"img_c", arena_printf(A, "%d", g->train.img_c)},
        {"img_h", arena_printf(A, "%d", g->train.img_h)},
        {"img_w", arena_printf(A, "%d", g->train.img_w)},
        {"plateau",
         g->sched.c.name && !strcmp(g->sched.c.name, "reduce_lr_on_plateau") ? "1" : "0"},
        {"scale", arena_printf(A, "%.17g", g->data.scale)},
        {"standardize", g->data.standardize ? "1" : "0"},
        {"n_dropout", arena_printf(A, "%d", dropout)},
        {"n_dropconnect", arena_printf(A, "%d", dropconnect)},
        {"n_penalty", arena_printf(A, "%d", penalty)},
        {"weight_decay", decay ? "1" : "0"},
        {"dtype_flag", o->dbl ? "-DTRAINC_DOUBLE" : ""},
        {"blas_cflags", TRAINC_BLAS_CFLAGS},
        {"blas_libs", TRAINC_BLAS_LIBS},
        {"san_flags", TRAINC_SANITIZE_FLAGS},
        {"ldflags", TRAINC_SANITIZE_FLAGS[0] ? TRAINC_SANITIZE_FLAGS : "-static"},
        {"runtime_build", rt->build},
        {"runtime_objects", rt->objects},
        {"trainer_build", tr->build},
        {"trainer_objects", tr->objects},
        {"about_bytes", about_bytes},
        {"about_len", arena_printf(A, "%ld", about_len)},
        {"about_header", about_comment(A, o->about)},
        {"spec_at", arena_printf(A, "%ld", spec_at)},
        {"spec_len", arena_printf(A, "%zu", o->about->len)},
        {"about_options",
         esc_c_string(
             A, esc_visible(A,
                            arena_printf(A, "%s%s", o->dbl ? "--dtype double" : "--dtype float",
                                         o->argv_line ? o->argv_line : ""),
                            0))},
        {"mpi_cflags", TRAINC_MPI_CFLAGS},
        {"mpi_libs", TRAINC_MPI_LIBS},
        {"mpi_build",
         filelist_mpi_build(A, tr, rt, esc_ninja_path(A, g->model_name), TRAINC_MPI_LIBS[0] != 0)},
    };
    int n = (int)(sizeof v / sizeof *v);
    memcpy(vars, v, sizeof v);
    /* and export-c's 4 */
    _Static_assert(sizeof v / sizeof *v + 4 <= FOLDER_VARS_MAX, "FOLDER_VARS_MAX is too small");
    return n + emit_export_vars(g, p, o->dbl, header, vars + n);
}

/* Each file of a FILES list, from home/src to out_dir/dst (src and dst
 * folders, "" or ending in '/'); templates are filled, other files copied */
static int write_listed(const emit_options *o, arena *A, const filelist *l, const char *src,
                        const char *dst, const tpl_var *vars, int nvars, char *err, size_t errsize)
{
    for (int i = 0; i < l->n; i++) {
        const char *from = arena_printf(A, "%s%s", src, l->files[i]);
        const char *to = arena_printf(A, "%s%s", dst, l->files[i]);
        if (vars) {
            if (write_template(o, from + strlen("templates/"), to, vars, nvars, err, errsize))
                return -1;
            continue;
        }
        char *text = read_file(arena_printf(A, "%s/%s", o->home, from));
        if (!text) {
            snprintf(err, errsize, "%s/%s: cannot read: %s", o->home, from, strerror(errno));
            return -1;
        }
        int rc = write_file(arena_printf(A, "%s/%s", o->out_dir, to), text, err, errsize);
        free(text);
        if (rc) return -1;
    }
    return 0;
}

/* The style the generated files are formatted in travels with them: the
 * project's, but comments keep the lines trainc wrote (reflowing a long one
 * carries its end into the next line, gluing a spec line to the math below
 * it). And the spec itself. */
static int write_style_and_spec(ir_graph *g, const emit_options *o, char *err, size_t errsize)
{
    arena *A = g->A;
    char *style = read_file(arena_printf(A, "%s/.clang-format", o->home));
    if (style) {
        char *generated = arena_printf(A, "%sReflowComments: false\n", style);
        free(style);
        if (write_file(arena_printf(A, "%s/.clang-format", o->out_dir), generated, err, errsize))
            return -1;
    }
    rt_error e;
    if (rt_write_atomic(arena_printf(A, "%s/spec.lua", o->out_dir), o->about->text, o->about->len,
                        &e)) {
        snprintf(err, errsize, "%s", e.msg);
        return -1;
    }
    return 0;
}

static int write_folder(ir_graph *g, const plan *p, const emit_options *o, char *err,
                        size_t errsize)
{
    arena *A = g->A;
    const char *runtime = arena_printf(A, "%s/runtime", o->out_dir);
    const char *failed = make_dirs(o->out_dir)                     ? o->out_dir
                         : mkdir(runtime, 0777) && errno != EEXIST ? runtime
                                                                   : NULL;
    if (failed) {
        snprintf(err, errsize, "%s: cannot create: %s", failed, strerror(errno));
        return -1;
    }
    /* the folder is this spec's from now on, even if writing stops halfway */
    if (owner_write(A, o->out_dir, g->spec_path, g->spec_hash, err, errsize)) return -1;
    const char *header =
        arena_printf(A, "Generated by trainc %s from %s%s%s (spec hash %s); do not edit.",
                     TRAINC_VERSION, g->spec_path, o->dbl ? " --dtype double" : "",
                     o->argv_line ? o->argv_line : "", g->spec_hash);
    shard_sync sync = {0}; /* batch norm's sync points under shards */
    if (p->shards > 1 && shard_sync_make(g, p, &sync, err, errsize)) return -1;
    if (emit_model_c(g, p, &sync, o, header, err, errsize)) return -1;
    /* the runtime's and the trainer's files, each listed once in its FILES */
    filelist rt, tr;
    if (read_list(o, A, "runtime/FILES", "runtime/", &rt, err, errsize) ||
        read_list(o, A, "templates/trainer/FILES", "", &tr, err, errsize))
        return -1;
    tpl_var vars[FOLDER_VARS_MAX];
    int nvars = folder_vars(g, p, &sync, o, header, &rt, &tr, vars);
    /* the model's C name is letters, digits and '_' (ir_c_name): a ninja path as it is */
    if (!esc_ninja_path(A, g->model_name)) {
        snprintf(err, errsize, "internal error: the model name '%s' is no ninja path",
                 esc_visible(A, g->model_name, 100));
        return -1;
    }
    static const char *const files[] = {"model.h",   "model_api.h", "model_consts.c",
                                        "predict.c", "about.c",     "build.ninja"};
    for (int i = 0; i < 6; i++)
        if (write_template(o, files[i], files[i], vars, nvars, err, errsize)) return -1;
    /* the trainer, templates/trainer/X -> X; the runtime as real files */
    if (write_listed(o, A, &tr, "templates/trainer/", "", vars, nvars, err, errsize) ||
        write_listed(o, A, &rt, "runtime/", "runtime/", NULL, 0, err, errsize))
        return -1;
    return write_style_and_spec(g, o, err, errsize);
}

int emit_folder(ir_graph *g, const plan *p, const emit_options *o, char *err, size_t errsize)
{
    int rc = owner_check(g->A, o->out_dir, g->spec_path, o->force, err, errsize);
    if (rc) return rc;
    return write_folder(g, p, o, err, errsize) ? 1 : 0;
}
