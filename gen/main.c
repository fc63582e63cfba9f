/* main.c — the trainc command: runs the stages in order (spec, data sizes,
 * autodiff, plan, emit), then optionally ninja and the trainer.
 * Exit status: 0 ok, 1 failure at run (data, build, training), 2 bad usage
 * or bad spec. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../runtime/rt.h"
#include "arena.h"
#include "autodiff.h"
#include "emit.h"
#include "ir.h"
#include "ops.h"
#include "optim.h"
#include "plan.h"
#include "spec.h"

#ifndef TRAINC_VERSION
#define TRAINC_VERSION "0.0.0"
#endif
#ifndef TRAINC_SANITIZE
#define TRAINC_SANITIZE ""
#endif
#ifndef TRAINC_SOURCE_DIR
#define TRAINC_SOURCE_DIR "."
#endif

static const char usage[] =
    "usage: trainc <command> SPEC [options] [-- trainer arguments]\n"
    "       trainc plot METRICS.csv [-o CURVES.svg] [--title T]\n"
    "\n"
    "Compiles a training spec (Lua) into a standalone C trainer in out/<model>/.\n"
    "\n"
    "commands:\n"
    "  gen SPEC      write the trainer's source folder\n"
    "  build SPEC    gen, then build it with ninja into one static binary\n"
    "  run SPEC      build, then run the trainer (default: train) with the arguments after --\n"
    "  plot CSV      draw a trainer's --metrics file as an SVG picture (default: CSV's name\n"
    "                with .svg; -o names the picture, --title its title)\n"
    "\n"
    "options:\n"
    "  -o DIR            output folder (default out/<model>)\n"
    "  --dtype T         element type: float (default) or double\n"
    "  --set KEY=VALUE   a value the spec reads as args.KEY (repeatable)\n"
    "  --max-memory MIB  refuse specs whose buffers need more (default 16384)\n"
    "  --no-fuse         one loop per op: no elementwise chains, no activation or batch\n"
    "                    norm stored by the op before it (for reading and comparing)\n"
    "  -q, --quiet       print nothing but errors\n"
    "  -h, --help        this text\n"
    "  --version         the version\n"
    "\n"
    "exit status: 0 ok, 1 failure while building or running, 2 bad usage or bad spec\n"
    "environment: TRAINC_HOME is where runtime/ and templates/ are (default: the source tree)\n";

typedef struct cli {
    const char *command, *spec, *out_dir, *title;
    int dbl, quiet;
    int fuse; /* 0: --no-fuse */
    double max_mib;
    int targc;
    char **targv;
    const char *sets[64];
    int nsets;
} cli;

static int bad_usage(const char *fmt, const char *what)
{
    fputs("trainc: ", stderr);
    fprintf(stderr, fmt, what);
    fputs("\nTry 'trainc --help'.\n", stderr);
    return 2;
}

static int parse(int argc, char **argv, cli *c)
{
    memset(c, 0, sizeof *c);
    c->max_mib = 16384;
    c->fuse = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) {
            c->targc = argc - i - 1;
            c->targv = argv + i + 1;
            break;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(usage, stdout);
            exit(0);
        } else if (!strcmp(a, "--version")) {
            printf("trainc %s (Lua 5.4, %s%s%s)\n", TRAINC_VERSION, "OpenBLAS",
                   TRAINC_SANITIZE[0] ? ", sanitize=" : "", TRAINC_SANITIZE);
            exit(0);
        } else if (!strcmp(a, "-o")) {
            if (++i >= argc) return bad_usage("%s needs a folder", a);
            c->out_dir = argv[i];
        } else if (!strcmp(a, "--title")) {
            if (++i >= argc) return bad_usage("%s needs a text", a);
            c->title = argv[i];
        } else if (!strcmp(a, "--dtype")) {
            if (++i >= argc) return bad_usage("%s needs float or double", a);
            if (!strcmp(argv[i], "double"))
                c->dbl = 1;
            else if (strcmp(argv[i], "float"))
                return bad_usage("--dtype must be float or double, not '%s'", argv[i]);
        } else if (!strcmp(a, "--set")) {
            if (++i >= argc || !strchr(argv[i], '=') || argv[i][0] == '=')
                return bad_usage("%s needs KEY=VALUE", a);
            if (c->nsets == 64) return bad_usage("%s", "too many --set options");
            c->sets[c->nsets++] = argv[i];
        } else if (!strcmp(a, "--max-memory")) {
            if (++i >= argc) return bad_usage("%s needs a size in MiB", a);
            c->max_mib = atof(argv[i]);
            if (!(c->max_mib > 0)) return bad_usage("bad value for %s", a);
        } else if (!strcmp(a, "--no-fuse")) {
            c->fuse = 0;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            c->quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            return bad_usage("unknown option %s", a);
        } else if (!c->command) {
            c->command = a;
        } else if (!c->spec) {
            c->spec = a;
        } else {
            return bad_usage("unexpected argument %s", a);
        }
    }
    if (!c->command) return bad_usage("%s", "no command given (gen, build, run or plot)");
    if (strcmp(c->command, "gen") && strcmp(c->command, "build") && strcmp(c->command, "run") &&
        strcmp(c->command, "plot"))
        return bad_usage("unknown command '%s' (gen, build, run or plot)", c->command);
    if (!strcmp(c->command, "plot")) {
        if (!c->spec) return bad_usage("%s", "plot needs a metrics CSV file");
        if (c->targc || c->dbl || c->nsets || !c->fuse)
            return bad_usage("%s", "plot takes only -o and --title");
        return 0;
    }
    if (c->title) return bad_usage("%s", "--title is for plot");
    if (!c->spec) return bad_usage("%s needs a spec file", c->command);
    return 0;
}

/* FNV-1a over the spec's bytes and the --set values: names the model in
 * every generated file and in its weights */
static int hash_file(const char *path, const cli *c, char out[17])
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    uint64_t h = 1469598103934665603ull;
    int ch;
    while ((ch = fgetc(f)) != EOF) h = (h ^ (uint64_t)ch) * 1099511628211ull;
    fclose(f);
    for (int i = 0; i < c->nsets; i++)
        for (const char *s = c->sets[i];; s++) {
            h = (h ^ (uint64_t)(unsigned char)*s) * 1099511628211ull;
            if (!*s) break;
        }
    snprintf(out, 17, "%016llx", (unsigned long long)h);
    return 0;
}

static rt_source train_source(const ir_data *d, uint32_t seed)
{
    rt_source s = {.kind = d->kind, .label_col = d->label_col, .header = d->header};
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
    rt_source s = train_source(&g->data, g->data.has_seed ? g->data.seed : g->train.seed);
    s.classes = g->labels >= 0 ? g->classes : 0;
    s.ylen = g->labels >= 0 ? g->label_len : 0;
    return s;
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
        snprintf(err, errsize, "%s:%d: %s: %d features per row, but input expects %ld",
                 g->spec_path, g->data.line, file, d, want);
        return 1;
    }
    /* IDX labels may hold label_len values per row (soft labels [n x C] for
     * kl_div); the trainer checks the file's row size when it loads it */
    g->features = d;
    g->n_valid = (int32_t)(g->data.valid * n + 0.5);
    g->n_train = n - g->n_valid;
    if (g->n_train < 1) {
        snprintf(err, errsize, "%s:%d: no training rows left after holding out %d for validation",
                 g->spec_path, g->data.line, g->n_valid);
        return 2;
    }
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

static const char *human(double bytes, char *buf, size_t size)
{
    const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int u = 0;
    while (bytes >= 1024 && u < 4) bytes /= 1024, u++;
    snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", bytes, unit[u]);
    return buf;
}

static int run_command(char *const argv[], const char *dir)
{
    fflush(stdout);
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        if (dir && chdir(dir)) {
            fprintf(stderr, "trainc: %s: %s\n", dir, strerror(errno));
            _exit(127);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "trainc: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int status;
    if (waitpid(pid, &status, 0) < 0) return -1;
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* trainc plot: the curves of a metrics CSV, drawn by the runtime's
 * rt_plot.c as the trainers draw them after training */
static int plot(const cli *c)
{
    const char *csv = c->spec;
    char svg[4096], title[256];
    if (c->out_dir)
        snprintf(svg, sizeof svg, "%s", c->out_dir);
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

int main(int argc, char **argv)
{
    cli c;
    int rc = parse(argc, argv, &c);
    if (rc) return rc;
    if (!strcmp(c.command, "plot")) return plot(&c);

    arena A = {0};
    ir_graph g;
    ir_init_graph(&g, &A);
    char err[2048];
    if (hash_file(c.spec, &c, g.spec_hash)) {
        fprintf(stderr, "trainc: %s: cannot open: %s\n", c.spec, strerror(errno));
        return 2;
    }
    rc = 2;
    spec_options so = {.sets = c.sets, .nsets = c.nsets};
    if (spec_run(c.spec, &g, &so, err, sizeof err)) goto fail;
    /* the inference API names its functions <model>_load, ...: they must not
     * collide with the runtime's rt_* */
    if (!strcmp(g.model_name, "rt") || !strncmp(g.model_name, "rt_", 3)) {
        snprintf(err, sizeof err,
                 "%s: the model name '%s' is taken by the runtime's names (rt_...); "
                 "name it otherwise with model \"...\"",
                 c.spec, g.model_name);
        goto fail;
    }
    if ((rc = size_from_data(&g, err, sizeof err))) goto fail;
    if ((rc = train_checks(&g, err, sizeof err))) goto fail;
    if (norm_check_batch(&g, g.train.batch, g.train.drop_last ? 0 : g.n_train % g.train.batch, err,
                         sizeof err)) {
        rc = 2;
        goto fail;
    }
    if (opt_resolve(&g, err, sizeof err) || sched_resolve(&g, err, sizeof err)) {
        rc = 2;
        goto fail;
    }

    /* the memory budget, before anything is planned or written */
    double elem = c.dbl ? 8 : 4;
    double act = 0;
    for (int i = 0; i < g.n; i++)
        if (ir_get(&g, i)->kind == K_ACT) act += (double)ir_numel(ir_get(&g, i), g.train.batch);
    double need = elem * (2.0 * (double)g.n_params + (double)g.opt.n_state + act);
    if (need > c.max_mib * 1048576.0) {
        char h1[32], h2[32];
        snprintf(
            err, sizeof err,
            "%s: the model needs about %s of buffers, more than the budget of %s (--max-memory)",
            c.spec, human(need, h1, sizeof h1), human(c.max_mib * 1048576.0, h2, sizeof h2));
        rc = 2;
        goto fail;
    }

    ad_backward(&g);
    plan p;
    plan_make(&g, &p, c.fuse);

    const char *home = getenv("TRAINC_HOME");
    if (!home || !*home) home = TRAINC_SOURCE_DIR;
    char out_dir[4096];
    snprintf(out_dir, sizeof out_dir, "%s", c.out_dir ? c.out_dir : "");
    if (!c.out_dir) {
        snprintf(out_dir, sizeof out_dir, "out/%s", g.model_name);
        if (mkdir("out", 0777) && errno != EEXIST) {
            snprintf(err, sizeof err, "out: cannot create: %s", strerror(errno));
            rc = 1;
            goto fail;
        }
    }
    const char *sets = "";
    for (int i = 0; i < c.nsets; i++) sets = arena_printf(&A, "%s --set %s", sets, c.sets[i]);
    if (!c.fuse) sets = arena_printf(&A, "%s --no-fuse", sets);
    emit_options eo = {.out_dir = out_dir, .home = home, .dbl = c.dbl, .argv_line = sets};
    if (emit_folder(&g, &p, &eo, err, sizeof err)) {
        rc = 1;
        goto fail;
    }
    /* clang-format, when installed, lays the files out like the rest of the
     * project; the writer's output is already indented and valid without it */
    char *format = "command -v clang-format >/dev/null 2>&1 || exit 0; "
                   "clang-format -i --style=file model.c model.h predict.c";
    for (int i = 0; emit_trainer_files[i]; i++)
        format = arena_printf(&A, "%s %s", format, emit_trainer_files[i]);
    char *fmt[] = {"sh", "-c", format, NULL};
    if (run_command(fmt, out_dir))
        fprintf(stderr, "trainc: warning: clang-format failed on %s (the code is unchanged)\n",
                out_dir);
    if (!c.quiet) {
        char a[32], b2[32], d[32];
        printf("trainc: %s -> %s/ (%s)\n", c.spec, out_dir, c.dbl ? "double" : "float");
        printf("  parameters %ld (%s), gradients %s, optimizer state %s\n", g.n_params,
               human(elem * (double)g.n_params, a, sizeof a),
               human(elem * (double)g.n_params, b2, sizeof b2),
               human(elem * (double)g.opt.n_state, d, sizeof d));
        printf("  activations %s (planned arena), %.3g FLOPs per step of %d rows\n",
               human(elem * (double)p.arena_size, a, sizeof a), p.train_flops, g.train.batch);
    }
    if (!strcmp(c.command, "gen")) {
        arena_free(&A);
        return 0;
    }
    char *ninja[] = {"ninja", "-C", out_dir, c.quiet ? "--quiet" : NULL, NULL};
    int st = run_command(ninja, NULL);
    if (st) {
        fprintf(stderr, "trainc: building %s failed (ninja exit status %d)\n", out_dir, st);
        arena_free(&A);
        return 1;
    }
    if (!strcmp(c.command, "build")) {
        if (!c.quiet) printf("trainc: built %s/%s\n", out_dir, g.model_name);
        arena_free(&A);
        return 0;
    }
    /* run: the trainer starts in its folder, so its weights file lands there */
    char **targv = calloc((size_t)c.targc + 3, sizeof *targv);
    int k = 0;
    targv[k++] = arena_printf(&A, "./%s", g.model_name);
    if (c.targc == 0 || c.targv[0][0] == '-') targv[k++] = "train";
    for (int i = 0; i < c.targc; i++) targv[k++] = c.targv[i];
    targv[k] = NULL;
    st = run_command(targv, out_dir);
    free(targv);
    arena_free(&A);
    return st ? 1 : 0;

fail:
    fprintf(stderr, "trainc: %s\n", err);
    arena_free(&A);
    return rc;
}
