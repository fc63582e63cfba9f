/* main.c — the trainc command: runs the stages in order (spec, data probe
 * and memory budget, autodiff, plan, emit), then optionally ninja and the trainer.
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
#include "about.h"
#include "arena.h"
#include "autodiff.h"
#include "diff.h"
#include "emit.h"
#include "explain.h"
#include "hvp.h"
#include "escape.h"
#include "warn_init.h"
#include "ir.h"
#include "ops.h"
#include "optim.h"
#include "plan.h"
#include "shards.h"
#include "plot.h"
#include "sweep.h"
#include "probe.h"
#include "recompute.h"
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
    "       trainc <command> --from-binary TRAINER [options] [-- trainer arguments]\n"
    "       trainc plot METRICS.csv... [-o PICTURE.svg] [--title T] [--x epoch|step|seconds]\n"
    "                   [--labels a,b,...]\n"
    "       trainc sweep SPEC [--lr LO:HI:log:K] [--set KEY=v1,v2,...]... [--seeds N]\n"
    "                   [--epochs N] [--jobs J] [--refine] [-o DIR]\n"
    "\n"
    "Compiles a training spec (Lua) into a standalone C trainer in out/<model>/.\n"
    "\n"
    "commands:\n"
    "  gen SPEC      write the trainer's source folder\n"
    "  build SPEC    gen, then build it with ninja into one static binary\n"
    "  explain SPEC  gen, then DIR/explain.html: the spec and the generated C side by side,\n"
    "                each spec line linked to its code, the op graph and a table of the ops\n"
    "  diff A B      gen both specs into DIR/a and DIR/b, then DIR/diff.html: what changed in\n"
    "                the generated C, block by block, with the spec lines behind each change\n"
    "                (default DIR: out/diff)\n"
    "  run SPEC      build, then run the trainer (default: train) with the arguments after --\n"
    "                (in this folder: their paths are from here; its weights go beside it)\n"
    "  plot CSV      draw a trainer's --metrics (or --step-metrics) file as an SVG picture\n"
    "                (default: CSV's name with .svg; -o names the picture, --title its title)\n"
    "  plot A B ...  overlay several runs' metrics files: a panel per metric, a series per\n"
    "                file (default: overlay.svg beside A; --x epoch, step or seconds;\n"
    "                --labels names the series, default the file names)\n"
    "  sweep SPEC    train SPEC over a grid of lrs, --set values and seeds: DIR/results.csv,\n"
    "                DIR/sweep.svg and the best setting (default DIR: sweep/<model>)\n"
    "\n"
    "options:\n"
    "  -o DIR            output folder (default out/<model>)\n"
    "  --dtype T         element type: float (default) or double\n"
    "  --set KEY=VALUE   a value the spec reads as args.KEY (repeatable)\n"
    "  --max-memory MIB  the buffers' budget in MiB, fractions too (2.5; default 16384):\n"
    "                    over it, activations the backward reads are computed again there\n"
    "                    when that fits (the same bits), else the spec is refused\n"
    "  --no-fuse         one loop per op: no elementwise chains, no activation or batch\n"
    "                    norm stored by the op before it (for reading and comparing)\n"
    "  --hvp             also generate model_hvp, the Hessian-vector product (as the\n"
    "                    spec's train { hvp = true }; the trainer's hvp and hessian commands)\n"
    "  --mpi             build: also <model>-mpi, the trainer for mpirun -np R (Open MPI,\n"
    "                    linked dynamically)\n"
    "  --from-binary TRAINER  generate from the spec and options a trainer carries\n"
    "                    (instead of SPEC; its --set, --dtype, --no-fuse and --hvp too)\n"
    "  --force           overwrite an output folder generated from another spec\n"
    "  -q, --quiet       print nothing but errors and warnings\n"
    "  -h, --help        this text\n"
    "  --version         the version\n"
    "\n"
    "exit status: 0 ok, 1 failure while building or running, 2 bad usage or bad spec\n"
    "environment: TRAINC_HOME is where runtime/ and templates/ are (default: the source tree)\n";

typedef struct cli {
    const char *command, *spec, *out_dir, *title;
    const char *from_binary; /* --from-binary: the spec and options come from a trainer */
    int dbl, quiet, force;
    int fuse; /* 0: --no-fuse */
    int hvp;  /* --hvp: generate model_hvp (gen/hvp.c) */
    int mpi;  /* --mpi: build <model>-mpi too */
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
        } else if (!strcmp(a, "--from-binary")) {
            if (++i >= argc) return bad_usage("%s needs a trainer's file", a);
            c->from_binary = argv[i];
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
            char *end;
            c->max_mib = strtod(argv[i], &end);
            if (!(c->max_mib > 0) || *end || !isfinite(c->max_mib))
                return bad_usage("--max-memory needs a positive size in MiB (2.5: fractions "
                                 "too), not '%s'",
                                 argv[i]);
        } else if (!strcmp(a, "--no-fuse")) {
            c->fuse = 0;
        } else if (!strcmp(a, "--force")) {
            c->force = 1;
        } else if (!strcmp(a, "--hvp")) {
            c->hvp = 1;
        } else if (!strcmp(a, "--mpi")) {
            c->mpi = 1;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            c->quiet = 1;
        } else if (a[0] == '-' && a[1]) {
            return bad_usage("unknown option %s", a);
        } else if (!c->command) {
            c->command = a;
            /* plot and sweep read their own arguments (plot.c, sweep.c) */
            if (!strcmp(a, "plot") || !strcmp(a, "sweep")) return 0;
        } else if (!c->spec) {
            c->spec = a;
        } else {
            return bad_usage("unexpected argument %s", a);
        }
    }
    if (!c->command)
        return bad_usage("%s", "no command given (gen, build, run, explain, plot or sweep)");
    if (strcmp(c->command, "gen") && strcmp(c->command, "build") && strcmp(c->command, "run") &&
        strcmp(c->command, "explain") && strcmp(c->command, "plot") && strcmp(c->command, "sweep"))
        return bad_usage("unknown command '%s' (gen, build, run, explain, plot or sweep)",
                         c->command);
    if (c->title) return bad_usage("%s", "--title is for plot");
    if (c->mpi && strcmp(c->command, "build"))
        return bad_usage("%s", "--mpi is for build (then: mpirun -np R out/<model>/<model>-mpi)");
    if (c->from_binary) {
        if (c->spec)
            return bad_usage("--from-binary takes the spec from the trainer: give no spec file "
                             "(here '%s')",
                             c->spec);
        if (c->nsets || c->dbl || !c->fuse || c->hvp)
            return bad_usage("%s", "--from-binary takes --set, --dtype, --no-fuse and --hvp from "
                                   "the trainer: give none of them");
        return 0;
    }
    if (!c->spec) return bad_usage("%s needs a spec file", c->command);
    return 0;
}

/* What the folder is generated from, read once: the spec file's bytes and
 * the command line's options, or all of them from a trainer's file */
static int read_about(arena *A, const cli *c, about *a, char *err, size_t errsize)
{
    if (c->from_binary) {
        if (about_read(A, c->from_binary, a, err, errsize)) return -1;
        if (strcmp(a->version, TRAINC_VERSION))
            fprintf(stderr,
                    "trainc: warning: %s was generated by trainc %s, this is %s: the folder may "
                    "differ from the one it was built from\n",
                    c->from_binary, a->version, TRAINC_VERSION);
        return 0;
    }
    if (about_spec_file(A, c->spec, a, err, errsize)) return -1;
    a->version = TRAINC_VERSION, a->dbl = c->dbl, a->fuse = c->fuse, a->hvp = c->hvp;
    a->nsets = c->nsets;
    for (int i = 0; i < c->nsets; i++) a->sets[i] = c->sets[i];
    about_hash(a->text, a->len, a->sets, a->nsets, a->hash);
    return 0;
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

/* clang-format, when installed, lays the files out like the rest of the
 * project; the writer's output is already indented and valid without it */
static void format_folder(const char *out_dir)
{
    char *fmt[] = {"sh", "-c",
                   "command -v clang-format >/dev/null 2>&1 || exit 0; "
                   "clang-format -i --style=file *.c *.h",
                   NULL};
    if (run_command(fmt, out_dir))
        fprintf(stderr, "trainc: warning: clang-format failed on %s (the code is unchanged)\n",
                out_dir);
}

/* Names trainc writes otherwise than the spec gave them; warnings even
 * with -q, since the trainer and its folder take the new name. */
static void warn_renames(const ir_graph *g)
{
    int kept = g->nrenames < IR_MAX_RENAMES ? g->nrenames : IR_MAX_RENAMES;
    for (int i = 0; i < 2 * kept; i++) { /* the model's first */
        const ir_rename *r = &g->renames[i % kept];
        int model = !strcmp(r->what, "model");
        if (model != (i < kept)) continue;
        fprintf(stderr, "trainc: %s%s: warning: the %s name '%s' is written '%s' (%s)\n", r->file,
                r->line ? arena_printf(g->A, ":%d", r->line) : "", r->what,
                esc_visible(g->A, r->typed, 100), r->written,
                model ? "C names: lowercase letters, digits and '_', 48 at most, none of C's "
                        "or the generated code's own"
                      : "file names: letters, digits, '_', '.' and '-', 64 at most");
    }
    if (g->nrenames > IR_MAX_RENAMES)
        fprintf(stderr, "trainc: warning: %d more names are written otherwise\n",
                g->nrenames - IR_MAX_RENAMES);
}

/* what was written and the sizes of its buffers */
static void summary(const cli *c, const ir_graph *g, const plan *p, const char *out_dir,
                    double elem)
{
    char a[32], b2[32], d[32];
    printf("trainc: %s -> %s/ (%s)\n", c->spec, out_dir, c->dbl ? "double" : "float");
    printf("  parameters %ld (%s), gradients %s, optimizer state %s\n", g->n_params,
           probe_bytes(elem * (double)g->n_params, a, sizeof a),
           probe_bytes(elem * (double)g->n_params, b2, sizeof b2),
           probe_bytes(elem * (double)g->opt.n_state, d, sizeof d));
    printf("  activations %s (planned arena), %.3g FLOPs per step of %d rows\n",
           probe_bytes(elem * (double)p->arena_size, a, sizeof a), p->train_flops, g->train.batch);
    if (p->shards > 1)
        printf("  %d shards a step%s, each with its own gradients and arena: +%s (README: "
               "Threads)\n",
               p->shards,
               g->train.shards_by_rule ? " (the default rule; shards = 1 keeps one)" : "",
               probe_bytes(elem * p->shards * ((double)g->n_params + (double)p->shard_arena), a,
                           sizeof a));
}

/* build: ninja in the folder; run: then the trainer. Returns the exit status. */
static int build_and_run(const cli *c, arena *A, char *out_dir, const char *model)
{
    /* the default target; --mpi: the plain trainer and the -mpi one */
    char *ninja[] = {"ninja", "-C", out_dir, NULL, NULL, NULL, NULL};
    int nargs = 3;
    if (c->quiet) ninja[nargs++] = "--quiet";
    if (c->mpi) {
        ninja[nargs++] = (char *)model;
        ninja[nargs++] = arena_printf(A, "%s-mpi", model);
    }
    int st = run_command(ninja, NULL);
    if (st) {
        fprintf(stderr, "trainc: building %s failed (ninja exit status %d)\n", out_dir, st);
        return 1;
    }
    if (!strcmp(c->command, "build")) {
        if (!c->quiet) printf("trainc: built %s/%s%s\n", out_dir, model, c->mpi ? " and -mpi" : "");
        return 0;
    }
    /* run: the trainer starts in the user's folder, so the paths after --
     * are the user's; its weights go beside it (paths.c) */
    char **targv = calloc((size_t)c->targc + 3, sizeof *targv);
    int k = 0;
    targv[k++] = arena_printf(A, "%s/%s", out_dir, model);
    if (c->targc == 0 || c->targv[0][0] == '-') targv[k++] = "train";
    for (int i = 0; i < c->targc; i++) targv[k++] = c->targv[i];
    targv[k] = NULL;
    st = run_command(targv, NULL);
    free(targv);
    return st ? 1 : 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && !strcmp(argv[1], "plot")) return plot_main(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "sweep")) return sweep_main(argc, argv);
    if (argc > 1 && !strcmp(argv[1], "diff")) return diff_main(argc, argv);
    cli c;
    int rc = parse(argc, argv, &c);
    if (rc) return rc;
    if (!strcmp(c.command, "plot") || !strcmp(c.command, "sweep")) {
        /* options before the command word (trainc -q plot x.csv): the
         * command first, the rest in their order */
        int k = 1;
        while (argv[k] != c.command) k++;
        for (; k > 1; k--) argv[k] = argv[k - 1];
        argv[1] = (char *)c.command;
        return !strcmp(c.command, "plot") ? plot_main(argc, argv) : sweep_main(argc, argv);
    }

    arena A = {0};
    ir_graph g;
    ir_init_graph(&g, &A);
    char err[2048];
    about ab;
    if (read_about(&A, &c, &ab, err, sizeof err)) {
        fprintf(stderr, "trainc: %s\n", err);
        arena_free(&A);
        return 2;
    }
    /* from here on the options are the trainer's under --from-binary */
    c.spec = ab.path, c.dbl = ab.dbl, c.fuse = ab.fuse, c.hvp = ab.hvp, c.nsets = ab.nsets;
    for (int i = 0; i < ab.nsets; i++) c.sets[i] = ab.sets[i];
    memcpy(g.spec_hash, ab.hash, sizeof g.spec_hash);
    rc = 2;
    spec_options so = {.sets = c.sets, .nsets = c.nsets, .text = ab.text, .text_len = ab.len};
    if (spec_run(c.spec, &g, &so, err, sizeof err)) goto fail;
    warn_renames(&g);
    warn_init(&g);
    /* the inference API names its functions <model>_load, ...: they must not
     * collide with the runtime's rt_* */
    if (!strcmp(g.model_name, "rt") || !strncmp(g.model_name, "rt_", 3)) {
        snprintf(err, sizeof err,
                 "%s: the model name '%s' is taken by the runtime's names (rt_...); "
                 "name it otherwise with model \"...\"",
                 c.spec, esc_visible(&A, g.model_typed, 100));
        goto fail;
    }
    if ((rc = probe_data(&g, err, sizeof err))) goto fail;
    if (norm_check_batch(&g, g.train.batch, g.train.drop_last ? 0 : g.n_train % g.train.batch, err,
                         sizeof err)) {
        rc = 2;
        goto fail;
    }
    if (shard_check(&g, err, sizeof err)) {
        rc = 2;
        goto fail;
    }
    if (opt_resolve(&g, err, sizeof err) || sched_resolve(&g, err, sizeof err)) {
        rc = 2;
        goto fail;
    }

    double elem = c.dbl ? 8 : 4;
    ad_backward(&g);
    if (c.hvp) g.train.hvp = 1;
    if (g.train.hvp && hvp_build(&g, err, sizeof err)) {
        rc = 2;
        goto fail;
    }
    plan p;
    plan_make(&g, &p, c.fuse);
    /* the memory budget, before anything is written: activations computed
     * again in the backward when that fits (gen/recompute.c) */
    if ((rc = recompute_fit(&g, &p, c.fuse, elem, c.max_mib, err, sizeof err))) goto fail;

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
    if (c.hvp) sets = arena_printf(&A, "%s --hvp", sets);
    emit_options eo = {.out_dir = out_dir,
                       .home = home,
                       .dbl = c.dbl,
                       .argv_line = sets,
                       .force = c.force,
                       .about = &ab};
    if ((rc = emit_folder(&g, &p, &eo, err, sizeof err))) goto fail;
    format_folder(out_dir);
    if (!c.quiet) summary(&c, &g, &p, out_dir, elem);
    if (!strcmp(c.command, "explain")) {
        if (explain_write(&g, &p, &ab, out_dir, c.dbl, err, sizeof err)) {
            rc = 1;
            goto fail;
        }
        if (!c.quiet) printf("trainc: wrote %s/explain.html\n", out_dir);
    }
    rc = strcmp(c.command, "gen") && strcmp(c.command, "explain")
             ? build_and_run(&c, &A, out_dir, g.model_name)
             : 0;
    arena_free(&A);
    return rc;

fail:
    fprintf(stderr, "trainc: %s\n", err);
    arena_free(&A);
    return rc;
}
