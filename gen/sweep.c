/* sweep.c — `trainc sweep SPEC`: the course's coarse-to-fine search of
 * hyper-parameters. Reads the command line (the lr grid, --set values,
 * seeds), runs the spec once per combination of --set values (refusing keys
 * it never reads), builds one trainer per combination (the lr, the seed and
 * the epochs are the trainer's options: they need no build), has
 * sweep_run.c run and score the runs, and picks the best setting (with
 * --refine, after a finer round around its lr). Exit status: 0 ok, 1 a
 * failure while building or running, 2 bad usage or bad spec. */
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
#include "ir.h"
#include "spec.h"
#include "sweep.h"

static const char sweep_help[] =
    "usage: trainc sweep SPEC [--lr GRID] [--set KEY=v1,v2,...]... [--seeds N] [--epochs N]\n"
    "                         [--jobs J] [--refine] [--list] [-o DIR] [-q]\n"
    "\n"
    "Trains SPEC once per lr, combination of --set values and seed; writes DIR/results.csv\n"
    "and DIR/sweep.svg (default DIR: sweep/<model>) and prints the best setting.\n"
    "\n"
    "  --lr GRID        LO:HI:log:K (default 1e-4:1:log:9), LO:HI:lin:K, LO:HI:random:K[:SEED],\n"
    "                   random:K[:SEED] (log-uniform over 1e-4..1) or a list a,b,...\n"
    "  --set KEY=v1,... values the spec reads as args.KEY; each combination is built once\n"
    "  --seeds N        seeds 1..N (default 3)\n"
    "  --epochs N       each run's epochs (default: the spec's)\n"
    "  --jobs J         J trainers side by side, each with --threads 1 (default 1)\n"
    "  --refine         then four lrs between the best lr and its neighbours\n"
    "  --list           print the runs and stop\n"
    "A run finished before (DIR/runs/<run>/result.csv) is skipped.\n";

static int sweep_usage(const char *fmt, const char *what)
{
    fputs("trainc: ", stderr);
    fprintf(stderr, fmt, what);
    fputs("\nTry 'trainc --help'.\n", stderr);
    return 2;
}

/* a number that is all of s */
static int number(const char *s, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return *s && !*end && !errno && isfinite(*v);
}

static int grid_error(const char *text, const char *why)
{
    fprintf(stderr, "trainc: bad --lr '%s': %s\nTry 'trainc --help'.\n", text, why);
    return 2;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The lr grid (README: "The lr grid"): LO:HI:log:K, LO:HI:lin:K,
 * LO:HI:random:K[:SEED], random:K[:SEED] (LO:HI 1e-4:1) or a list a,b,... */
static int parse_grid(const char *text, sweep_grid *g)
{
    const char *forms = "expected LO:HI:log:K, LO:HI:lin:K, LO:HI:random:K[:SEED], "
                        "random:K[:SEED] or a list of lrs a,b,...";
    char buf[512], *part[6];
    int n = 0;
    snprintf(buf, sizeof buf, "%s", text);
    for (char *p = buf, *q; p && n < 6; p = q) {
        q = strchr(p, ':');
        if (q) *q++ = 0;
        part[n++] = p;
    }
    memset(g, 0, sizeof *g);
    if (n == 1) { /* a list */
        g->kind = GRID_LIST;
        for (char *p = buf, *q; p; p = q) {
            q = strchr(p, ',');
            if (q) *q++ = 0;
            if (g->n == SWEEP_MAX_LRS) return grid_error(text, "more than 1000 lrs");
            if (!number(p, &g->v[g->n]) || g->v[g->n] < 0 || g->v[g->n] > 1e9)
                return grid_error(text, forms);
            int again = 0; /* an lr given twice is one setting */
            for (int i = 0; i < g->n; i++) again |= g->v[i] == g->v[g->n];
            g->n += !again;
        }
        return 0;
    }
    double lo = 1e-4, hi = 1, k, seed = 1;
    int at = 0;
    if (!strcmp(part[0], "random")) {
        g->kind = GRID_RANDOM;
        at = 1;
    } else if (n >= 4) {
        if (!number(part[0], &lo) || !number(part[1], &hi)) return grid_error(text, forms);
        g->kind = !strcmp(part[2], "log")      ? GRID_LOG
                  : !strcmp(part[2], "lin")    ? GRID_LIN
                  : !strcmp(part[2], "random") ? GRID_RANDOM
                                               : -1;
        at = 3;
    } else {
        return grid_error(text, forms);
    }
    if (g->kind < 0 || at >= n || n > at + 1 + (g->kind == GRID_RANDOM))
        return grid_error(text, forms);
    if (!number(part[at], &k) || k != floor(k) || k < 1 || k > SWEEP_MAX_LRS)
        return grid_error(text, "K must be a whole number from 1 to 1000");
    if (n == at + 2 &&
        (!number(part[at + 1], &seed) || seed != floor(seed) || seed < 0 || seed > 4294967295.0))
        return grid_error(text, "SEED must be a whole number from 0 to 4294967295");
    if (!(lo < hi)) return grid_error(text, "LO must be below HI");
    if (lo < 0 || hi > 1e9) return grid_error(text, "the lrs must lie in [0, 1e9]");
    if (g->kind != GRID_LIN && !(lo > 0))
        return grid_error(text, "a log grid or log-uniform draws need LO above 0");
    g->n = (int)k;
    rt_rng rng;
    rt_rng_seed(&rng, (uint32_t)seed);
    for (int i = 0; i < g->n; i++) {
        double t = g->n > 1 ? (double)i / (g->n - 1) : 0;
        if (g->kind == GRID_LOG) /* numpy's logspace: decades give 0.1, not 0.10000000000000003 */
            g->v[i] = pow(10, log10(lo) + t * (log10(hi) - log10(lo)));
        else if (g->kind == GRID_LIN)
            g->v[i] = i == g->n - 1 && g->n > 1 ? hi : lo + (hi - lo) * t;
        else /* numpy's RandomState(SEED).random_sample(K), log-uniform */
            g->v[i] = exp(log(lo) + rt_rng_uniform53(&rng) * (log(hi) - log(lo)));
    }
    if (g->kind == GRID_RANDOM) qsort(g->v, (size_t)g->n, sizeof *g->v, cmp_double);
    return 0;
}

/* --set KEY=v1,v2,... */
static int parse_set(sweep *s, const char *a)
{
    const char *eq = strchr(a, '=');
    if (!eq || eq == a || !eq[1]) return sweep_usage("--set needs KEY=v1,v2,..., not '%s'", a);
    if (s->nsets == SWEEP_MAX_SETS) return sweep_usage("%s", "more than 16 --set options");
    sweep_set *t = &s->sets[s->nsets];
    t->key = strndup(a, (size_t)(eq - a));
    for (int i = 0; i < s->nsets; i++)
        if (!strcmp(s->sets[i].key, t->key)) return sweep_usage("--set %s is given twice", t->key);
    for (char *p = strdup(eq + 1), *q; p; p = q) {
        q = strchr(p, ',');
        if (q) *q++ = 0;
        if (!*p) return sweep_usage("--set %s: an empty value", t->key);
        if (t->n == SWEEP_MAX_VALUES) return sweep_usage("--set %s: more than 64 values", t->key);
        t->values[t->n++] = p;
    }
    s->nsets++;
    return 0;
}

/* a whole number from lo to hi for option flag */
static int count_arg(const char *flag, const char *v, int lo, int hi, int *out)
{
    double d;
    if (!v || !number(v, &d) || d != floor(d) || d < lo || d > hi) {
        char msg[200];
        snprintf(msg, sizeof msg, "bad value for %s: '%s' (a whole number from %d to %d)", flag,
                 v ? v : "", lo, hi);
        return sweep_usage("%s", msg);
    }
    *out = (int)d;
    return 0;
}

static int parse(int argc, char **argv, sweep *s)
{
    memset(s, 0, sizeof *s);
    s->seeds = 3, s->jobs = 1, s->lr_text = "1e-4:1:log:9";
    int rc = 0;
    for (int i = 2; i < argc && !rc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        int takes = !strcmp(a, "--lr") || !strcmp(a, "--set") || !strcmp(a, "--seeds") ||
                    !strcmp(a, "--epochs") || !strcmp(a, "--jobs") || !strcmp(a, "-o");
        if (takes && !v) return sweep_usage("%s needs a value", a);
        if (takes) i++;
        if (!strcmp(a, "--lr"))
            s->lr_text = v;
        else if (!strcmp(a, "--set"))
            rc = parse_set(s, v);
        else if (!strcmp(a, "--seeds"))
            rc = count_arg(a, v, 1, 1000, &s->seeds);
        else if (!strcmp(a, "--epochs"))
            rc = count_arg(a, v, 1, 1000000, &s->epochs);
        else if (!strcmp(a, "--jobs"))
            rc = count_arg(a, v, 1, 64, &s->jobs);
        else if (!strcmp(a, "-o"))
            s->dir = v;
        else if (!strcmp(a, "--refine"))
            s->refine = 1;
        else if (!strcmp(a, "--list"))
            s->list = 1;
        else if (!strcmp(a, "-q") || !strcmp(a, "--quiet"))
            s->quiet = 1;
        else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            fputs(sweep_help, stdout);
            exit(0);
        }
        else if (a[0] == '-' && a[1])
            return sweep_usage("sweep: unknown option %s", a);
        else if (!s->spec)
            s->spec = a;
        else
            return sweep_usage("unexpected argument %s", a);
    }
    if (rc) return rc;
    if (!s->spec) return sweep_usage("%s", "sweep needs a spec file");
    return parse_grid(s->lr_text, &s->grid);
}

/* the "k=v" strings of a combination, for spec_run and trainc build */
static void combo_sets(const sweep *s, int c, char kv[][1024], const char **sets)
{
    for (int i = 0; i < s->nsets; i++) {
        snprintf(kv[i], sizeof kv[i], "%s=%s", s->sets[i].key,
                 s->sets[i].values[s->combo_value[c][i]]);
        sets[i] = kv[i];
    }
}

/* Runs the spec with combination c's values: its errors, a --set key it
 * never reads, and (first combination) the model's name and task. */
static int check_combo(sweep *s, int c)
{
    arena A = {0};
    ir_graph g;
    ir_init_graph(&g, &A);
    char kv[SWEEP_MAX_SETS][1024], err[2048];
    const char *sets[SWEEP_MAX_SETS];
    int read[SWEEP_MAX_SETS] = {0};
    combo_sets(s, c, kv, sets);
    spec_options so = {.sets = sets, .nsets = s->nsets, .sets_read = read};
    int rc = 0;
    if (spec_run(s->spec, &g, &so, err, sizeof err)) {
        fprintf(stderr, "trainc: %s\n", err);
        rc = 2;
    }
    for (int i = 0; i < s->nsets && !rc; i++)
        if (!read[i]) {
            fprintf(stderr,
                    "trainc: --set %s: %s never reads args.%s (an unknown key; the keys are "
                    "those the spec reads as args.KEY)\n",
                    s->sets[i].key, s->spec, s->sets[i].key);
            rc = 2;
        }
    s->combo_epochs[c] = g.train.epochs; /* a --set value may change them */
    if (!rc && c == 0) {
        snprintf(s->model, sizeof s->model, "%s", g.model_name);
        s->classifier = g.task == TASK_CLASSIFY || g.task == TASK_BINARY ||
                        g.task == TASK_LOGIT || g.task == TASK_SIGN;
        s->has_valid = g.has_data && g.data.valid > 0;
        s->has_test = g.has_data && (g.data.test_images || g.data.test_path ||
                                     g.data.test_split || g.data.n_test > 0);
    } else if (!rc && strcmp(s->model, g.model_name)) {
        fprintf(stderr, "trainc: %s: %s names the model '%s', %s '%s'\n", s->spec, kv[0],
                g.model_name, "the first setting", s->model);
        rc = 2;
    }
    arena_free(&A);
    return rc;
}

/* every combination of the --set values (the first --set varies slowest),
 * each checked */
static int combinations(sweep *s)
{
    long n = 1;
    for (int i = 0; i < s->nsets; i++) n *= s->sets[i].n;
    if (n > SWEEP_MAX_COMBOS)
        return sweep_usage("%s", "more than 256 combinations of --set values");
    s->ncombos = (int)n;
    for (int c = 0; c < s->ncombos; c++) {
        long rest = c;
        for (int i = s->nsets - 1; i >= 0; i--) {
            s->combo_value[c][i] = (int)(rest % s->sets[i].n);
            rest /= s->sets[i].n;
        }
    }
    for (int c = 0; c < s->ncombos; c++) {
        int rc = check_combo(s, c);
        if (rc) return rc;
    }
    /* results.csv's columns: the keys, unless one is a column of its own */
    static const char *const fixed[] = {"run", "lr", "seed", "epochs", "final_loss",
                                        "best_valid_loss", "best_valid_loss_epoch",
                                        "best_valid_accuracy", "best_valid_accuracy_epoch",
                                        "test_loss", "test_accuracy", "seconds", "status", NULL};
    for (int i = 0; i < s->nsets; i++) {
        s->sets[i].column = s->sets[i].key;
        for (const char *const *f = fixed; *f; f++)
            if (!strcmp(*f, s->sets[i].key)) {
                char *col = malloc(strlen(s->sets[i].key) + 5);
                sprintf(col, "set_%s", s->sets[i].key);
                s->sets[i].column = col;
            }
    }
    return 0;
}

/* DIR and its parents, as mkdir -p; says why not */
static int make_dir(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s", dir);
    for (char *p = path + 1;; p++) {
        int end = !*p;
        if (*p == '/' || end) {
            *p = 0;
            struct stat st;
            if (mkdir(path, 0777) && errno != EEXIST) break;
            if (stat(path, &st) || !S_ISDIR(st.st_mode)) {
                errno = ENOTDIR;
                break;
            }
            if (end) return 0;
            *p = '/';
        }
    }
    fprintf(stderr, "trainc: %s: cannot create the sweep's folder: %s\n", dir, strerror(errno));
    return 1;
}

/* the folder must take files: a probe written and removed */
static int writable_dir(const char *dir)
{
    char probe[4200];
    snprintf(probe, sizeof probe, "%s/.trainc-sweep-probe", dir);
    FILE *f = fopen(probe, "w");
    if (!f) {
        fprintf(stderr, "trainc: %s: cannot write in the sweep's folder: %s\n", dir,
                strerror(errno));
        return 1;
    }
    fclose(f);
    remove(probe);
    return 0;
}

/* trainc build SPEC -o DIR/build/NAME --set ... for combination c, its
 * output in DIR/build/NAME.log */
static int build_combo(sweep *s, int c)
{
    char name[512], out[4700], log[4800], kv[SWEEP_MAX_SETS][1024];
    const char *sets[SWEEP_MAX_SETS];
    sweep_combo_name(s, c, name, sizeof name);
    snprintf(out, sizeof out, "%s/build/%s", s->dir, name);
    snprintf(log, sizeof log, "%s.log", out);
    combo_sets(s, c, kv, sets);
    char *argv[8 + 2 * SWEEP_MAX_SETS];
    int k = 0;
    argv[k++] = s->self, argv[k++] = "build", argv[k++] = "-q", argv[k++] = (char *)s->spec;
    argv[k++] = "-o", argv[k++] = out;
    for (int i = 0; i < s->nsets; i++) argv[k++] = "--set", argv[k++] = (char *)sets[i];
    argv[k] = NULL;
    if (!s->quiet) printf("trainc: building %s\n", out);
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        FILE *f = freopen(log, "w", stdout);
        if (f) dup2(fileno(f), 2);
        execv(argv[0], argv);
        _exit(127);
    }
    int st = 0;
    if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st)) {
        fprintf(stderr, "trainc: building %s failed; its messages are in %s\n", out, log);
        return 1;
    }
    s->built[c] = 1;
    return 0;
}

/* one run of each seed of combination c at lr */
static void add_runs(sweep *s, int c, double lr)
{
    for (int seed = 1; seed <= s->seeds; seed++) {
        if (s->nruns == s->cap) {
            s->cap = s->cap ? 2 * s->cap : 64;
            s->runs = realloc(s->runs, (size_t)s->cap * sizeof *s->runs);
            if (!s->runs) {
                fputs("trainc: out of memory\n", stderr);
                exit(1);
            }
        }
        sweep_run *r = &s->runs[s->nruns++];
        memset(r, 0, sizeof *r);
        r->combo = c, r->lr = lr, r->seed = (unsigned)seed;
        r->epochs = s->epochs ? s->epochs : s->combo_epochs[c];
        char combo[512];
        sweep_combo_name(s, c, combo, sizeof combo);
        snprintf(r->name, sizeof r->name, "%s_lr%.6g_seed%d_ep%d", combo, lr, seed, r->epochs);
    }
}

/* The setting with the best mean score: among those all of whose seeds
 * ran ok, else among those with one that did. 0, or -1 when none has one. */
static int best_setting(const sweep *s, int *combo, double *lr)
{
    int found = 0, higher = sweep_higher_better(s);
    double best = 0;
    for (int pass = 0; pass < 2 && !found; pass++)
        for (int i = 0; i < s->nruns; i++) {
            const sweep_run *r = &s->runs[i];
            if (r->seed != 1 || r->state != RUN_DONE) continue; /* one look per setting */
            double mean, sd;
            int ok, all;
            sweep_setting(s, r->combo, r->lr, &mean, &sd, &ok, &all);
            if (!ok || (pass == 0 && ok < all) || !isfinite(mean)) continue;
            if (!found || (higher ? mean > best : mean < best)) {
                best = mean, *combo = r->combo, *lr = r->lr;
                found = 1;
            }
        }
    return found ? 0 : -1;
}

/* --refine: four lrs between the best one and its neighbours in the grid
 * (at a third and two thirds of the way, on the grid's scale), for the
 * best combination */
static void refine(sweep *s, int combo, double b)
{
    const sweep_grid *g = &s->grid;
    double sorted[SWEEP_MAX_LRS];
    memcpy(sorted, g->v, sizeof(double) * (size_t)g->n);
    qsort(sorted, (size_t)g->n, sizeof *sorted, cmp_double);
    int at = 0;
    while (at < g->n - 1 && sorted[at] != b) at++;
    int lin = g->kind == GRID_LIN;
    double lo = at > 0 ? sorted[at - 1] : 0, hi = at < g->n - 1 ? sorted[at + 1] : 0;
    if (at == 0) lo = hi > 0 ? (lin ? 2 * b - hi : b * b / hi) : (lin ? b / 2 : b / 10);
    if (at == g->n - 1) hi = lo > 0 ? (lin ? 2 * b - lo : b * b / lo) : (lin ? 1.5 * b : 10 * b);
    const double part[4] = {2.0 / 3, 1.0 / 3, 1.0 / 3, 2.0 / 3};
    for (int k = 0; k < 4; k++) {
        double end = k < 2 ? lo : hi;
        double lr = lin ? b + (end - b) * part[k] : b * pow(end / b, part[k]);
        if (lr > 0 && lr <= 1e9 && isfinite(lr)) add_runs(s, combo, lr);
    }
}

/* a setting as people read it: lr 0.01 batch=64 opt=adam */
static void say_setting(const sweep *s, int combo, double lr, char *buf, size_t size)
{
    size_t k = (size_t)snprintf(buf, size, "lr %g", lr);
    for (int i = 0; i < s->nsets && k < size; i++)
        k += (size_t)snprintf(buf + k, size - k, " %s=%s", s->sets[i].key,
                              s->sets[i].values[s->combo_value[combo][i]]);
}

/* builds the combinations that have runs to do, then runs them */
static int run_round(sweep *s)
{
    for (int c = 0; c < s->ncombos; c++) {
        int todo = 0;
        for (int i = 0; i < s->nruns; i++) {
            char marker[5000];
            snprintf(marker, sizeof marker, "%s/runs/%s/result.csv", s->dir, s->runs[i].name);
            todo |= s->runs[i].combo == c && access(marker, F_OK) != 0;
        }
        if (todo && !s->built[c] && build_combo(s, c)) return 1;
    }
    return sweep_run_all(s);
}

static int report_best(sweep *s)
{
    int combo = 0;
    double lr = 0, mean, sd;
    int ok, all;
    char what[2048];
    if (best_setting(s, &combo, &lr)) {
        sweep_write_svg(s, -1, 0);
        fprintf(stderr, "trainc: no run of the sweep ended with a score (%s); see %s/results.csv\n",
                sweep_criterion(s), s->dir);
        return 1;
    }
    if (sweep_write_svg(s, combo, lr)) return 1;
    sweep_setting(s, combo, lr, &mean, &sd, &ok, &all);
    say_setting(s, combo, lr, what, sizeof what);
    printf("best: %s: %s %.6g +- %.2g (mean +- sd of %d seed%s%s)\n", what, sweep_criterion(s),
           mean, sd, ok, ok == 1 ? "" : "s", ok < all ? ", others diverged or failed" : "");
    if (!s->quiet) printf("trainc: %s/results.csv, %s/sweep.svg\n", s->dir, s->dir);
    return 0;
}

int sweep_main(int argc, char **argv)
{
    static sweep sw;
    sweep *s = &sw;
    int rc = parse(argc, argv, s);
    if (rc) return rc;
    if (access(s->spec, R_OK)) {
        fprintf(stderr, "trainc: %s: cannot open: %s\n", s->spec, strerror(errno));
        return 2;
    }
    if ((rc = combinations(s))) return rc;
    char dir[4096];
    if (!s->dir) {
        snprintf(dir, sizeof dir, "sweep/%.200s", s->model);
        s->dir = dir;
    }
    for (int c = 0; c < s->ncombos; c++)
        for (int i = 0; i < s->grid.n; i++) add_runs(s, c, s->grid.v[i]);
    if (s->list) { /* what would run, and nothing else */
        sweep_list(s);
        return 0;
    }
    if (make_dir(s->dir) || writable_dir(s->dir)) return 1;
    ssize_t n = readlink("/proc/self/exe", s->self, sizeof s->self - 1);
    if (n <= 0) snprintf(s->self, sizeof s->self, "%s", argv[0]);
    char epochs[64] = "the epochs of each setting's spec";
    int same = 1;
    for (int i = 0; i < s->nruns; i++) same &= s->runs[i].epochs == s->runs[0].epochs;
    if (same)
        snprintf(epochs, sizeof epochs, "%d epoch%s", s->runs[0].epochs,
                 s->runs[0].epochs == 1 ? "" : "s");
    if (!s->quiet)
        printf("trainc: sweep of %s: %d lr%s x %d setting%s x %d seed%s = %d runs of %s in %s "
               "(score: %s)\n",
               s->spec, s->grid.n, s->grid.n == 1 ? "" : "s", s->ncombos,
               s->ncombos == 1 ? "" : "s", s->seeds, s->seeds == 1 ? "" : "s", s->nruns, epochs,
               s->dir, sweep_criterion(s));
    if ((rc = run_round(s))) return rc;
    if (s->refine) {
        int combo;
        double lr;
        if (!best_setting(s, &combo, &lr)) {
            int before = s->nruns;
            refine(s, combo, lr);
            if (!s->quiet) printf("trainc: refining around lr %g: %d more runs\n", lr,
                                  s->nruns - before);
            if ((rc = run_round(s))) return rc;
        }
    }
    return report_best(s);
}
