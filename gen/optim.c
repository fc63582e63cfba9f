/* optim.c — the optimizers of torch.optim (and two textbook forms), their
 * options with PyTorch 1.13's defaults, and resolving the spec's choice
 * (see optim.h). The update code itself is each optimizer's template. */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REQUIRED                                                                                   \
    {                                                                                              \
        NAN, NAN                                                                                   \
    }
#define BETAS                                                                                      \
    {                                                                                              \
        "betas", OPT_PAIR,                                                                         \
        {                                                                                          \
            0.9, 0.999                                                                             \
        }                                                                                          \
    }
#define MAXIMIZE                                                                                   \
    {                                                                                              \
        "maximize", OPT_BOOL,                                                                      \
        {                                                                                          \
            0, 0                                                                                   \
        }                                                                                          \
    }
#define WEIGHT_DECAY                                                                               \
    {                                                                                              \
        "weight_decay", OPT_NUMBER,                                                                \
        {                                                                                          \
            0, 0                                                                                   \
        }                                                                                          \
    }

static double get(const double (*v)[2], const opt_def *d, const char *name)
{
    int i = opt_index(d, name);
    return i < 0 ? 0 : v[i][0];
}

static int one(const double (*v)[2])
{
    (void)v;
    return 1;
}
static int two(const double (*v)[2])
{
    (void)v;
    return 2;
}
static int three(const double (*v)[2])
{
    (void)v;
    return 3;
}

static const opt_option sgd_options[] = {{"lr", OPT_NUMBER, REQUIRED},
                                         {"momentum", OPT_NUMBER, {0, 0}},
                                         {"dampening", OPT_NUMBER, {0, 0}},
                                         WEIGHT_DECAY,
                                         {"nesterov", OPT_BOOL, {0, 0}},
                                         MAXIMIZE,
                                         {NULL, 0, {0, 0}}};

/* the momentum buffer only when there is momentum */
static int sgd_buffers(const double (*v)[2])
{
    return v[1][0] != 0;
}

static int sgd_check(const double (*v)[2], char *err, size_t errsize)
{
    /* options: lr, momentum, dampening, weight_decay, nesterov, maximize */
    if (v[4][0] && (v[1][0] <= 0 || v[2][0] != 0)) {
        snprintf(err, errsize, "Nesterov momentum requires a momentum and zero dampening");
        return -1;
    }
    return 0;
}

static const opt_option heavy_ball_options[] = {
    {"lr", OPT_NUMBER, REQUIRED}, {"beta", OPT_NUMBER, {0.9, 0}}, {NULL, 0, {0, 0}}};
static const opt_option momentum_classic_options[] = {
    {"lr", OPT_NUMBER, REQUIRED}, {"gamma", OPT_NUMBER, {0.9, 0}}, {NULL, 0, {0, 0}}};
static const opt_option adagrad_options[] = {{"lr", OPT_NUMBER, {1e-2, 0}},
                                             {"lr_decay", OPT_NUMBER, {0, 0}},
                                             WEIGHT_DECAY,
                                             {"initial_accumulator_value", OPT_NUMBER, {0, 0}},
                                             {"eps", OPT_NUMBER, {1e-10, 0}},
                                             MAXIMIZE,
                                             {NULL, 0, {0, 0}}};
static const opt_option rmsprop_options[] = {{"lr", OPT_NUMBER, {1e-2, 0}},
                                             {"alpha", OPT_NUMBER, {0.99, 0}},
                                             {"eps", OPT_NUMBER, {1e-8, 0}},
                                             WEIGHT_DECAY,
                                             {"momentum", OPT_NUMBER, {0, 0}},
                                             {"centered", OPT_BOOL, {0, 0}},
                                             MAXIMIZE,
                                             {NULL, 0, {0, 0}}};
static const opt_option adadelta_options[] = {{"lr", OPT_NUMBER, {1.0, 0}},
                                              {"rho", OPT_NUMBER, {0.9, 0}},
                                              {"eps", OPT_NUMBER, {1e-6, 0}},
                                              WEIGHT_DECAY,
                                              MAXIMIZE,
                                              {NULL, 0, {0, 0}}};
static const opt_option adam_options[] = {{"lr", OPT_NUMBER, {1e-3, 0}},
                                          BETAS,
                                          {"eps", OPT_NUMBER, {1e-8, 0}},
                                          WEIGHT_DECAY,
                                          {"amsgrad", OPT_BOOL, {0, 0}},
                                          MAXIMIZE,
                                          {NULL, 0, {0, 0}}};
static const opt_option adamw_options[] = {{"lr", OPT_NUMBER, {1e-3, 0}},
                                           BETAS,
                                           {"eps", OPT_NUMBER, {1e-8, 0}},
                                           {"weight_decay", OPT_NUMBER, {1e-2, 0}},
                                           {"amsgrad", OPT_BOOL, {0, 0}},
                                           MAXIMIZE,
                                           {NULL, 0, {0, 0}}};
static const opt_option adamax_options[] = {{"lr", OPT_NUMBER, {2e-3, 0}},
                                            BETAS,
                                            {"eps", OPT_NUMBER, {1e-8, 0}},
                                            WEIGHT_DECAY,
                                            MAXIMIZE,
                                            {NULL, 0, {0, 0}}};
static const opt_option nadam_options[] = {{"lr", OPT_NUMBER, {2e-3, 0}},
                                           BETAS,
                                           {"eps", OPT_NUMBER, {1e-8, 0}},
                                           WEIGHT_DECAY,
                                           {"momentum_decay", OPT_NUMBER, {4e-3, 0}},
                                           {NULL, 0, {0, 0}}};
static const opt_option radam_options[] = {{"lr", OPT_NUMBER, {1e-3, 0}},
                                           BETAS,
                                           {"eps", OPT_NUMBER, {1e-8, 0}},
                                           WEIGHT_DECAY,
                                           {NULL, 0, {0, 0}}};

const opt_def opt_defs[] = {
    {"sgd", "torch.optim.SGD", sgd_options, sgd_buffers, 0, sgd_check},
    {"heavy_ball", "Polyak's heavy ball (torch.optim.SGD momentum for a constant lr)",
     heavy_ball_options, one, 0, NULL},
    {"momentum_classic", "v <- gamma v + lr g (torch.optim.SGD momentum with lr folded into v)",
     momentum_classic_options, one, 0, NULL},
    {"adagrad", "torch.optim.Adagrad", adagrad_options, one, 0, NULL},
    {"rmsprop", "torch.optim.RMSprop", rmsprop_options, three, 0, NULL},
    {"adadelta", "torch.optim.Adadelta", adadelta_options, two, 0, NULL},
    {"adam", "torch.optim.Adam", adam_options, three, 0, NULL},
    {"adamw", "torch.optim.AdamW", adamw_options, three, 0, NULL},
    {"adamax", "torch.optim.Adamax", adamax_options, two, 0, NULL},
    {"nadam", "torch.optim.NAdam (1.13)", nadam_options, two, 1, NULL},
    {"radam", "torch.optim.RAdam", radam_options, two, 0, NULL},
    {NULL, NULL, NULL, NULL, 0, NULL},
};

const opt_def *opt_find(const char *name)
{
    for (const opt_def *d = opt_defs; d->name; d++)
        if (!strcmp(d->name, name)) return d;
    return NULL;
}

int opt_index(const opt_def *def, const char *name)
{
    for (int i = 0; def->options[i].name; i++)
        if (!strcmp(def->options[i].name, name)) return i;
    return -1;
}

int opt_resolve(ir_graph *g, char *err, size_t errsize)
{
    ir_optimizer *o = &g->opt;
    const opt_def *d = opt_find(o->name);
    char msg[512];
    if (!d) {
        snprintf(msg, sizeof msg, "unknown optimizer '%s'", o->name);
        goto bad;
    }
    for (int i = 0; d->options[i].name; i++) {
        o->value[i][0] = d->options[i].dflt[0];
        o->value[i][1] = d->options[i].dflt[1];
    }
    for (int k = 0; k < o->nset; k++) {
        int i = opt_index(d, o->set_key[k]);
        if (i < 0) {
            snprintf(msg, sizeof msg, "%s: unknown option '%s'", d->name, o->set_key[k]);
            goto bad;
        }
        o->value[i][0] = o->set_value[k][0];
        o->value[i][1] = o->set_value[k][1];
    }
    for (int i = 0; d->options[i].name; i++) {
        const opt_option *op = &d->options[i];
        double a = o->value[i][0], b = o->value[i][1];
        if (isnan(a)) {
            snprintf(msg, sizeof msg, "%s: %s is required (as in %s)", d->name, op->name, d->torch);
            goto bad;
        }
        /* every hyper-parameter of these optimizers is >= 0; betas lie in [0, 1) */
        if (op->kind == OPT_PAIR && !(a >= 0 && a < 1 && b >= 0 && b < 1)) {
            snprintf(msg, sizeof msg, "%s: invalid %s (%g, %g): each must be in [0, 1)", d->name,
                     op->name, a, b);
            goto bad;
        }
        if (op->kind == OPT_NUMBER && !(a >= 0) && strcmp(op->name, "lr_decay")) {
            snprintf(msg, sizeof msg, "%s: invalid %s: %g", d->name, op->name, a);
            goto bad;
        }
    }
    if (d->check && d->check((const double(*)[2])o->value, msg, sizeof msg) < 0) goto bad;
    o->lr = get((const double(*)[2])o->value, d, "lr");
    o->nbuffers = d->buffers((const double(*)[2])o->value);
    o->nscalars = d->scalars;
    o->n_state = o->nbuffers * g->n_params + o->nscalars;
    return 0;
bad:
    snprintf(err, errsize, "%s:%d: %s", o->file ? o->file : g->spec_path, o->line, msg);
    return -1;
}

/* the shortest text that reads back as the same double */
static const char *num(arena *A, double v)
{
    char buf[40];
    for (int p = 6; p <= 17; p++) {
        snprintf(buf, sizeof buf, "%.*g", p, v);
        if (strtod(buf, NULL) == v) break;
    }
    return arena_strdup(A, buf);
}

int opt_template_vars(const ir_graph *g, const char **keys, const char **values, int max)
{
    const ir_optimizer *o = &g->opt;
    const opt_def *d = opt_find(o->name);
    arena *A = g->A;
    int n = 0;
    for (int i = 0; d->options[i].name && n + 2 <= max; i++) {
        const opt_option *op = &d->options[i];
        if (op->kind == OPT_PAIR) {
            /* betas -> beta1, beta2 */
            size_t len = strlen(op->name) - 1;
            keys[n] = arena_printf(A, "%.*s1", (int)len, op->name);
            values[n++] = num(A, o->value[i][0]);
            keys[n] = arena_printf(A, "%.*s2", (int)len, op->name);
            values[n++] = num(A, o->value[i][1]);
        } else {
            keys[n] = op->name;
            values[n++] =
                op->kind == OPT_BOOL ? (o->value[i][0] ? "1" : "0") : num(A, o->value[i][0]);
        }
    }
    if (n + 3 <= max) {
        keys[n] = "where";
        values[n++] = arena_printf(A, "%s:%d", o->file ? o->file : g->spec_path, o->line);
        keys[n] = "torch";
        values[n++] = d->torch;
        keys[n] = "n_state";
        values[n++] = arena_printf(A, "%ld", o->n_state);
    }
    return n;
}
