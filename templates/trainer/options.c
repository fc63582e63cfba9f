/* {{header}}
 *
 * options.c — the command line of the trainer of {{name}}, read with
 * getopt_long: one command, its argument and the options, in any order.
 * Each option is taken only as spelled in the usage: getopt_long would also
 * take --ep for --epochs, --epochs=5 and -qq, which this trainer refuses
 * (unknown option), as it always has; "--" is an unknown option too. */
#include <errno.h>
#include <float.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

/* the options without a letter, after the letters' codes */
enum {
    OPT_VERSION = 256,
    OPT_EPOCHS,
    OPT_LR,
    OPT_SEED,
    OPT_THREADS,
    OPT_STEPS,
    OPT_LIMIT,
    OPT_EVERY,
    OPT_EVERY_STEPS,
    OPT_TOL,
    OPT_WEIGHTS,
    OPT_METRICS,
    OPT_STEP_METRICS,
    OPT_TRACE,
    OPT_INIT,
    OPT_CHECKPOINT,
    OPT_RESUME,
    OPT_PLOT,
    OPT_NO_GUARD,
    OPT_LABEL,
    OPT_FAILURES,
    OPT_LAYER_METRICS,
    OPT_FROM,
    OPT_TO,
    OPT_OVERFIT,
    OPT_PROFILE,
    OPT_RANGE, /* landscape's */
    OPT_POINTS,
    OPT_GRID,
    OPT_ROWS,
    OPT_DIRECTIONS,
    OPT_PATH,
    OPT_PLANE,
    OPT_PCA,
    OPT_ITERS, /* hvp's, hessian's */
    OPT_TOP,   /* hessian's */
    OPT_EXACT,
    OPT_RANKS, /* info's cost model (info_ranks.c) */
    OPT_LINK_GBPS,
    OPT_SPEC /* info's */
};

static const struct option long_options[] = {
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"epochs", required_argument, NULL, OPT_EPOCHS},
    {"lr", required_argument, NULL, OPT_LR},
    {"seed", required_argument, NULL, OPT_SEED},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"steps", required_argument, NULL, OPT_STEPS},
    {"limit", required_argument, NULL, OPT_LIMIT},
    {"every", required_argument, NULL, OPT_EVERY},
    {"every-steps", required_argument, NULL, OPT_EVERY_STEPS},
    {"tol", required_argument, NULL, OPT_TOL},
    {"weights", required_argument, NULL, OPT_WEIGHTS},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {"step-metrics", required_argument, NULL, OPT_STEP_METRICS},
    {"trace", required_argument, NULL, OPT_TRACE},
    {"init", required_argument, NULL, OPT_INIT},
    {"checkpoint", required_argument, NULL, OPT_CHECKPOINT},
    {"resume", required_argument, NULL, OPT_RESUME},
    {"plot", required_argument, NULL, OPT_PLOT},
    {"quiet", no_argument, NULL, 'q'},
    {"no-guard", no_argument, NULL, OPT_NO_GUARD},
    {"label", required_argument, NULL, OPT_LABEL},
    {"failures", required_argument, NULL, OPT_FAILURES},
    {"layer-metrics", required_argument, NULL, OPT_LAYER_METRICS},
    {"from", required_argument, NULL, OPT_FROM},
    {"to", required_argument, NULL, OPT_TO},
    {"overfit", required_argument, NULL, OPT_OVERFIT},
    {"profile", no_argument, NULL, OPT_PROFILE},
    {"range", required_argument, NULL, OPT_RANGE},
    {"points", required_argument, NULL, OPT_POINTS},
    {"grid", required_argument, NULL, OPT_GRID},
    {"rows", required_argument, NULL, OPT_ROWS},
    {"directions", required_argument, NULL, OPT_DIRECTIONS},
    {"path", required_argument, NULL, OPT_PATH},
    {"plane", no_argument, NULL, OPT_PLANE},
    {"pca", no_argument, NULL, OPT_PCA},
    {"iters", required_argument, NULL, OPT_ITERS},
    {"top", required_argument, NULL, OPT_TOP},
    {"exact", no_argument, NULL, OPT_EXACT},
    {"ranks", required_argument, NULL, OPT_RANKS},
    {"link-gbps", required_argument, NULL, OPT_LINK_GBPS},
    {"spec", no_argument, NULL, OPT_SPEC},
    {NULL, 0, NULL, 0}};

/* "-": the command and its argument come back in order, as code 1; ":": a
 * missing value comes back as ':', without a message of getopt's own */
static const char short_options[] = "-:ho:q";

void tr_die_usage(const char *fmt, const char *what)
{
    fprintf(stderr, "%s: ", MODEL_NAME);
    fprintf(stderr, fmt, what);
    fprintf(stderr, "\nTry '%s --help'.\n", MODEL_NAME);
    exit(2);
}

static double number_arg(const char *flag, const char *s, double lo, double hi)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || errno || end == s || *end || !(v >= lo && v <= hi))
        tr_die_usage("bad value for %s", flag);
    return v;
}

/* a whole number of `what`, at least 1 */
static long count_arg(const char *flag, const char *s, const char *what)
{
    char *end;
    errno = 0;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || errno || end == s || *end || v < 1) {
        fprintf(stderr, "%s: %s needs a whole number of %s, at least 1 (got '%s')\n", MODEL_NAME,
                flag, what, s ? s : "");
        fprintf(stderr, "Try '%s --help'.\n", MODEL_NAME);
        exit(2);
    }
    return v;
}

/* --overfit's, --rows' rows */
static long rows_arg(const char *flag, const char *s)
{
    return count_arg(flag, s, "rows");
}

/* --link-gbps: a link speed in Gbit/s, above 0 */
static double gbps_arg(const char *flag, const char *s)
{
    char *end;
    errno = 0;
    double v = s ? strtod(s, &end) : 0;
    if (!s || errno || end == s || *end || !(v > 0 && v <= 1e6)) {
        fprintf(stderr,
                "%s: %s needs the link's speed in Gbit/s, a number above 0 and at most 1e6 "
                "(got '%s')\n",
                MODEL_NAME, flag, s ? s : "");
        fprintf(stderr, "Try '%s --help'.\n", MODEL_NAME);
        exit(2);
    }
    return v;
}

/* 1 when the word a is option c as the usage spells it (-h, --help) */
static int spelled(const char *a, int c)
{
    if (c < 256 && a[0] == '-' && a[1] == c && !a[2]) return 1;
    for (const struct option *l = long_options; l->name; l++)
        if (l->val == c && a[0] == '-' && a[1] == '-' && !strcmp(a + 2, l->name)) return 1;
    return 0;
}

/* a file name; v NULL: the option was the last word */
static const char *file_arg(const char *flag, const char *v)
{
    if (!v) tr_die_usage("%s needs a file name", flag);
    return v;
}

/* landscape's options, as given (landscape.c checks their values) */
static void take_landscape(options *o, int c, const char *a, const char *v)
{
    o->ls_given = 1;
    if (c == OPT_PLANE) o->ls_plane = 1;
    if (c == OPT_PCA) o->ls_pca = 1;
    if (c == OPT_PLANE || c == OPT_PCA) return;
    if (!v || !*v) tr_die_usage("%s needs a value", a);
    if (c == OPT_RANGE) o->ls_range = v;
    if (c == OPT_POINTS) o->ls_points = v;
    if (c == OPT_GRID) o->ls_grid = v;
    if (c == OPT_DIRECTIONS) o->ls_directions = v;
    if (c == OPT_PATH) {
        if (o->ls_n_paths == TR_MAX_PATHS) tr_die_usage("--path: %s at most", "16");
        o->ls_paths[o->ls_n_paths++] = v;
    }
}

/* Option c, written a, with its value v (NULL: none followed). */
static void take(options *o, int c, const char *a, const char *v)
{
    switch (c) {
    case 'h':
        for (int i = 0; tr_usage[i]; i++) fputs(tr_usage[i], stdout);
        exit(0);
    case OPT_VERSION:
        tr_print_version();
        exit(0);
    case OPT_EPOCHS:
        o->epochs = (int)number_arg(a, v, 0, 1e9), o->epochs_given = 1;
        break;
    case OPT_LR:
        o->lr = number_arg(a, v, 0, 1e9), o->lr_given = 1;
        break;
    case OPT_SEED:
        o->seed = (unsigned)number_arg(a, v, 0, 4294967295.0), o->seed_given = 1;
        break;
    case OPT_THREADS:
        o->threads = (int)number_arg(a, v, 1, 1024);
        break;
    case OPT_STEPS:
        o->steps = (long)number_arg(a, v, 0, 1e15);
        break;
    case OPT_LIMIT:
        o->limit = (long)number_arg(a, v, 1, 1e15);
        break;
    case OPT_EVERY:
        o->every = (long)number_arg(a, v, 1, 1e15);
        break;
    case OPT_EVERY_STEPS:
        o->every_steps = (long)number_arg(a, v, 1, 1e15);
        break;
    case OPT_TOL:
        o->tol = number_arg(a, v, 0, 1);
        break;
    case OPT_WEIGHTS:
        o->weights = file_arg(a, v), o->weights_given = 1;
        break;
    case OPT_METRICS:
        o->metrics = file_arg(a, v);
        break;
    case OPT_STEP_METRICS:
        o->step_metrics = file_arg(a, v);
        break;
    case OPT_TRACE:
        o->trace = file_arg(a, v);
        break;
    case OPT_INIT:
        o->init = file_arg(a, v);
        break;
    case OPT_CHECKPOINT:
        o->checkpoint = file_arg(a, v);
        break;
    case OPT_RESUME:
        o->resume = file_arg(a, v);
        break;
    case OPT_LAYER_METRICS:
        o->layer_metrics = file_arg(a, v);
        break;
    case OPT_PLOT:
        o->plot = file_arg(a, v);
        break;
    case 'o':
        o->out = file_arg(a, v);
        break;
    case 'q':
        o->quiet = 1;
        break;
    case OPT_NO_GUARD:
        o->no_guard = 1;
        break;
    case OPT_LABEL:
        if (!v || !*v) tr_die_usage("%s needs a column name, a 0-based index or last", a);
        o->label = v;
        break;
    case OPT_FAILURES:
        o->failures = file_arg(a, v);
        break;
    case OPT_FROM: /* lr-find's range: above 0 (lr_find.c checks --to > --from) */
        o->lr_from = number_arg(a, v, DBL_MIN, 1e9), o->range_given = 1;
        break;
    case OPT_TO: /* lr-find's number or landscape's file: read when the command is known */
        o->to = file_arg(a, v);
        break;
    case OPT_OVERFIT: /* overfit.c checks it against the training rows */
        o->overfit = rows_arg(a, v);
        break;
    case OPT_PROFILE:
        o->profile = 1;
        break;
    case OPT_ROWS: /* landscape's, hvp's, hessian's: read once the command is known */
        if (!v || !*v) tr_die_usage("%s needs a value", a);
        o->rows_text = v;
        break;
    case OPT_ITERS:
        o->iters = (long)number_arg(a, v, 1, 1e9);
        break;
    case OPT_TOP: /* hessian_spectrum.c checks it against the parameters */
        o->top = count_arg(a, v, "eigenvalues");
        break;
    case OPT_SPEC:
        o->spec = 1;
        break;
    case OPT_EXACT:
        o->exact = 1;
        break;
    case OPT_RANKS: /* info_ranks.c checks it against the shards */
        o->ranks = (int)count_arg(a, v, "ranks");
        break;
    case OPT_LINK_GBPS:
        o->link_gbps = gbps_arg(a, v);
        break;
    default:
        take_landscape(o, c, a, v);
    }
}

/* A word that is not an option: the command, then its argument ("-" as the
 * argument: standard input). */
static void take_word(options *o, const char *a)
{
    if (a[0] == '-' && !o->command)
        tr_die_usage("unknown option %s", a); /* "-" */
    else if (!o->command)
        o->command = a;
    else if (!o->arg)
        o->arg = a;
    else
        tr_die_usage("unexpected argument %s", a);
}

options tr_parse_args(int argc, char **argv)
{
    /* <model>.weights */
    char *weights = tr_alloc_or_die(strlen(MODEL_NAME) + sizeof ".weights", 1);
    strcat(strcpy(weights, MODEL_NAME), ".weights");
    options o = {.weights = weights,
                 .epochs = MODEL_EPOCHS,
                 .lr = MODEL_LR,
                 .seed = MODEL_SEED,
                 .steps = -1,
                 .limit = -1,
                 .tol = -1,
                 .lr_from = 1e-7,
                 .lr_to = 10};
    opterr = 0;
    for (;;) {
        int at = optind; /* the word getopt_long reads next: a letter never follows another */
        int c = getopt_long(argc, argv, short_options, long_options, NULL);
        if (c == -1) {
            if (at < argc) tr_die_usage("unknown option %s", argv[at]); /* "--" */
            break;
        }
        if (c == 1) {
            take_word(&o, optarg);
            continue;
        }
        int missing = c == ':';
        if (missing) c = optopt;
        if (c == '?' || !spelled(argv[at], c)) tr_die_usage("unknown option %s", argv[at]);
        take(&o, c, argv[at], missing ? NULL : optarg);
    }
    if (!o.command)
        tr_die_usage("%s", "no command given (train, eval, predict, export, export-c, info, "
                           "gradcheck, plot, split, "
                           "lr-find, landscape, hvp, hessian)");
    /* its own weights beside the binary; every other file is the user's */
    if (!o.weights_given) o.weights = tr_beside_binary(o.weights);
    if (o.failures && strcmp(o.command, "eval"))
        tr_die_usage("%s", "--failures FILE is an option of eval");
    if (o.layer_metrics && strcmp(o.command, "train"))
        tr_die_usage("--layer-metrics is for train, not %s", o.command);
    if (o.to && !strcmp(o.command, "lr-find"))
        o.lr_to = number_arg("--to", o.to, DBL_MIN, 1e9), o.range_given = 1;
    else if (o.to && strcmp(o.command, "landscape"))
        tr_die_usage("%s", "--to is lr-find's (its last lr) or landscape's (the weights to go to)");
    if (o.ls_given && strcmp(o.command, "landscape"))
        tr_die_usage("--range, --points, --grid, --directions, --path, --plane and --pca "
                     "are landscape's, not %s's",
                     o.command);
    if (o.range_given && strcmp(o.command, "lr-find"))
        tr_die_usage("%s", "--from and --to are lr-find's: the range of its learning rates");
    if (o.overfit && strcmp(o.command, "train"))
        tr_die_usage("%s", "--overfit is train's: train --overfit N");
    if (o.profile && strcmp(o.command, "train"))
        tr_die_usage("%s", "--profile times the steps of training: it is an option of train");
    if (o.rows_text && !strcmp(o.command, "landscape"))
        o.ls_rows = o.rows_text; /* landscape.c checks it */
    else if (o.rows_text && (!strcmp(o.command, "hvp") || !strcmp(o.command, "hessian")))
        o.rows = rows_arg("--rows", o.rows_text); /* hvp_cmd.c checks it against the batches */
    else if (o.rows_text)
        tr_die_usage("%s", "--rows is an option of landscape, hvp and hessian");
    if (o.iters && strcmp(o.command, "hvp") && strcmp(o.command, "hessian"))
        tr_die_usage("%s", "--iters is an option of hvp and hessian");
    if ((o.top || o.exact) && strcmp(o.command, "hessian"))
        tr_die_usage("%s", "--top and --exact are options of hessian");
    if (o.top && o.exact)
        tr_die_usage("%s",
                     "hessian: --exact gives every eigenvalue, --top K the K largest: give one");
    if (o.exact && (o.iters || o.tol >= 0))
        tr_die_usage("%s",
                     "hessian --exact builds the whole Hessian: --iters and --tol are for the "
                     "iterations (Lanczos: plain hessian, --top K)");
    if (o.ranks && strcmp(o.command, "info"))
        tr_die_usage("--ranks R is info's (info --ranks R: the cost model of training under "
                     "mpirun -np R), not %s's",
                     o.command);
    if (o.link_gbps > 0 && !o.ranks)
        tr_die_usage("%s", "--link-gbps goes with info --ranks R (the link of the cost model)");
    if (o.spec && strcmp(o.command, "info"))
        tr_die_usage("%s", "--spec is an option of info: info --spec prints the spec");
    if (o.plot && !o.metrics)
        tr_die_usage("%s", "--plot draws the --metrics file: give --metrics FILE too");
    return o;
}
