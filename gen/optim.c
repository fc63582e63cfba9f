/* optim.c — the optimizers of torch.optim (and two textbook forms), their
 * options with PyTorch 1.13's defaults, and resolving the spec's choice
 * (see optim.h). The update code itself is each optimizer's template. */
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "escape.h"

/* clang-format off */
#define REQUIRED {NAN, NAN}
#define BETAS {"betas", OPT_PAIR, {0.9, 0.999}, NULL}
#define MAXIMIZE {"maximize", OPT_BOOL, {0, 0}, NULL}
#define WEIGHT_DECAY {"weight_decay", OPT_NUMBER, {0, 0}, NULL}
/* clang-format on */

static int resolve_choice(ir_choice *c, const char *what, const opt_option *options, char *msg,
                          size_t size);

static double get(const double (*v)[IR_MAX_LIST], const opt_def *d, const char *name)
{
    int i = opt_index(d, name);
    return i < 0 ? 0 : v[i][0];
}

static int one(const double (*v)[IR_MAX_LIST])
{
    (void)v;
    return 1;
}
static int two(const double (*v)[IR_MAX_LIST])
{
    (void)v;
    return 2;
}

/* line_search = "armijo": backtracking from lr (sgd_line_search_resolve) */
static const char *const sgd_line_search_words[] = {"none", "armijo", NULL};
static const opt_option sgd_options[] = {{"lr", OPT_NUMBER, REQUIRED, NULL},
                                         {"momentum", OPT_NUMBER, {0, 0}, NULL},
                                         {"dampening", OPT_NUMBER, {0, 0}, NULL},
                                         WEIGHT_DECAY,
                                         {"nesterov", OPT_BOOL, {0, 0}, NULL},
                                         MAXIMIZE,
                                         {"line_search", OPT_STRING, {0, 0}, sgd_line_search_words},
                                         {"c", OPT_NUMBER, {1e-4, 0}, NULL},
                                         {"shrink", OPT_NUMBER, {0.5, 0}, NULL},
                                         {"max_shrinks", OPT_NUMBER, {30, 0}, NULL},
                                         {NULL, 0, {0, 0}, NULL}};

/* the momentum buffer only when there is momentum */
static int sgd_buffers(const double (*v)[IR_MAX_LIST])
{
    return v[1][0] != 0;
}

static int sgd_check(const double (*v)[IR_MAX_LIST], char *err, size_t errsize)
{
    /* options: lr, momentum, dampening, weight_decay, nesterov, maximize */
    if (v[4][0] && (v[1][0] <= 0 || v[2][0] != 0)) {
        snprintf(err, errsize, "Nesterov momentum requires a momentum and zero dampening");
        return -1;
    }
    return 0;
}

static const opt_option heavy_ball_options[] = {{"lr", OPT_NUMBER, REQUIRED, NULL},
                                                {"beta", OPT_NUMBER, {0.9, 0}, NULL},
                                                {NULL, 0, {0, 0}, NULL}};
static const opt_option momentum_classic_options[] = {{"lr", OPT_NUMBER, REQUIRED, NULL},
                                                      {"gamma", OPT_NUMBER, {0.9, 0}, NULL},
                                                      {NULL, 0, {0, 0}, NULL}};
static const opt_option adagrad_options[] = {
    {"lr", OPT_NUMBER, {1e-2, 0}, NULL},
    {"lr_decay", OPT_NUMBER, {0, 0}, NULL},
    WEIGHT_DECAY,
    {"initial_accumulator_value", OPT_NUMBER, {0, 0}, NULL},
    {"eps", OPT_NUMBER, {1e-10, 0}, NULL},
    MAXIMIZE,
    {NULL, 0, {0, 0}, NULL}};
static const opt_option rmsprop_options[] = {{"lr", OPT_NUMBER, {1e-2, 0}, NULL},
                                             {"alpha", OPT_NUMBER, {0.99, 0}, NULL},
                                             {"eps", OPT_NUMBER, {1e-8, 0}, NULL},
                                             WEIGHT_DECAY,
                                             {"momentum", OPT_NUMBER, {0, 0}, NULL},
                                             {"centered", OPT_BOOL, {0, 0}, NULL},
                                             MAXIMIZE,
                                             {NULL, 0, {0, 0}, NULL}};
/* v (the mean square), then the momentum buffer when momentum > 0, then
 * the mean gradient when centered */
static int rmsprop_buffers(const double (*v)[IR_MAX_LIST])
{
    /* options: lr, alpha, eps, weight_decay, momentum, centered, maximize */
    return 1 + (v[4][0] > 0) + (v[5][0] != 0);
}
static const opt_option adadelta_options[] = {{"lr", OPT_NUMBER, {1.0, 0}, NULL},
                                              {"rho", OPT_NUMBER, {0.9, 0}, NULL},
                                              {"eps", OPT_NUMBER, {1e-6, 0}, NULL},
                                              WEIGHT_DECAY,
                                              MAXIMIZE,
                                              {NULL, 0, {0, 0}, NULL}};
static const opt_option adam_options[] = {{"lr", OPT_NUMBER, {1e-3, 0}, NULL},
                                          BETAS,
                                          {"eps", OPT_NUMBER, {1e-8, 0}, NULL},
                                          WEIGHT_DECAY,
                                          {"amsgrad", OPT_BOOL, {0, 0}, NULL},
                                          MAXIMIZE,
                                          {NULL, 0, {0, 0}, NULL}};
/* m and v, then v_max with amsgrad (Adam and AdamW: the same options order) */
static int adam_buffers(const double (*v)[IR_MAX_LIST])
{
    /* options: lr, betas, eps, weight_decay, amsgrad, maximize */
    return 2 + (v[4][0] != 0);
}
static const opt_option adamw_options[] = {{"lr", OPT_NUMBER, {1e-3, 0}, NULL},
                                           BETAS,
                                           {"eps", OPT_NUMBER, {1e-8, 0}, NULL},
                                           {"weight_decay", OPT_NUMBER, {1e-2, 0}, NULL},
                                           {"amsgrad", OPT_BOOL, {0, 0}, NULL},
                                           MAXIMIZE,
                                           {NULL, 0, {0, 0}, NULL}};
static const opt_option adamax_options[] = {{"lr", OPT_NUMBER, {2e-3, 0}, NULL},
                                            BETAS,
                                            {"eps", OPT_NUMBER, {1e-8, 0}, NULL},
                                            WEIGHT_DECAY,
                                            MAXIMIZE,
                                            {NULL, 0, {0, 0}, NULL}};
static const opt_option nadam_options[] = {{"lr", OPT_NUMBER, {2e-3, 0}, NULL},
                                           BETAS,
                                           {"eps", OPT_NUMBER, {1e-8, 0}, NULL},
                                           WEIGHT_DECAY,
                                           {"momentum_decay", OPT_NUMBER, {4e-3, 0}, NULL},
                                           {NULL, 0, {0, 0}, NULL}};
static const opt_option radam_options[] = {{"lr", OPT_NUMBER, {1e-3, 0}, NULL},
                                           BETAS,
                                           {"eps", OPT_NUMBER, {1e-8, 0}, NULL},
                                           WEIGHT_DECAY,
                                           {NULL, 0, {0, 0}, NULL}};

/* torch.optim.LBFGS: max_eval's default 0 stands for torch's max_iter * 5 // 4
 * (filled in by lbfgs_resolve); line_search_fn nil is "none" */
static const char *const line_search_words[] = {"none", "strong_wolfe", NULL};
static const opt_option lbfgs_options[] = {{"lr", OPT_NUMBER, {1, 0}, NULL},
                                           {"max_iter", OPT_NUMBER, {20, 0}, NULL},
                                           {"max_eval", OPT_NUMBER, {0, 0}, NULL},
                                           {"tolerance_grad", OPT_NUMBER, {1e-7, 0}, NULL},
                                           {"tolerance_change", OPT_NUMBER, {1e-9, 0}, NULL},
                                           {"history_size", OPT_NUMBER, {100, 0}, NULL},
                                           {"line_search_fn", OPT_STRING, {0, 0}, line_search_words},
                                           {NULL, 0, {0, 0}, NULL}};
/* nonlinear conjugate gradient (no torch class): restart's default 0
 * stands for the parameter count (filled in by cg_resolve) */
static const char *const cg_beta_words[] = {"polak_ribiere", "fletcher_reeves", NULL};
static const opt_option cg_options[] = {{"beta", OPT_STRING, {0, 0}, cg_beta_words},
                                        {"lr", OPT_NUMBER, {1, 0}, NULL},
                                        {"max_iter", OPT_NUMBER, {20, 0}, NULL},
                                        {"tolerance_grad", OPT_NUMBER, {1e-7, 0}, NULL},
                                        {"tolerance_change", OPT_NUMBER, {1e-9, 0}, NULL},
                                        {"restart", OPT_NUMBER, {0, 0}, NULL},
                                        {"c2", OPT_NUMBER, {0.1, 0}, NULL},
                                        {NULL, 0, {0, 0}, NULL}};

/* Newton's method (no torch class): the Hessian from Hv products, solved
 * through LAPACK (newton_resolve, templates/optim/newton.c) */
static const opt_option newton_options[] = {{"lr", OPT_NUMBER, {1, 0}, NULL},
                                            {"damping", OPT_NUMBER, {0, 0}, NULL},
                                            {NULL, 0, {0, 0}, NULL}};
static int none(const double (*v)[IR_MAX_LIST])
{
    (void)v;
    return 0;
}

/* the history of s and y (history_size each), d and the previous gradient */
static int lbfgs_buffers(const double (*v)[IR_MAX_LIST])
{
    return 2 * (int)v[5][0] + 2;
}

const opt_def opt_defs[] = {
    {"sgd", "torch.optim.SGD", sgd_options, sgd_buffers, 0, sgd_check, "momentum"},
    {"heavy_ball", "Polyak's heavy ball (torch.optim.SGD momentum for a constant lr)",
     heavy_ball_options, one, 0, NULL, NULL},
    {"momentum_classic", "v <- gamma v + lr g (torch.optim.SGD momentum with lr folded into v)",
     momentum_classic_options, one, 0, NULL, NULL},
    {"adagrad", "torch.optim.Adagrad", adagrad_options, one, 0, NULL, NULL},
    {"rmsprop", "torch.optim.RMSprop", rmsprop_options, rmsprop_buffers, 0, NULL, "momentum"},
    {"adadelta", "torch.optim.Adadelta", adadelta_options, two, 0, NULL, NULL},
    {"adam", "torch.optim.Adam", adam_options, adam_buffers, 0, NULL, "betas"},
    {"adamw", "torch.optim.AdamW", adamw_options, adam_buffers, 0, NULL, "betas"},
    {"adamax", "torch.optim.Adamax", adamax_options, two, 0, NULL, "betas"},
    {"nadam", "torch.optim.NAdam (1.13)", nadam_options, two, 1, NULL, "betas"},
    {"radam", "torch.optim.RAdam", radam_options, two, 0, NULL, "betas"},
    {"lbfgs", "torch.optim.LBFGS (1.13)", lbfgs_options, lbfgs_buffers, 0, NULL, NULL},
    /* d and the previous gradient; t, the previous loss, n_iter, func_evals
     * and the iterations since the last restart as doubles (two reals each) */
    {"cg", "nonlinear conjugate gradient (Nocedal & Wright 5.2, torch's strong-Wolfe search)",
     cg_options, two, 10, NULL, NULL},
    {"newton", "Newton's method: (H + damping I) d = g through LAPACK, x <- x - lr d",
     newton_options, none, 0, NULL, NULL},
    {NULL, NULL, NULL, NULL, 0, NULL, NULL},
};

/* ---- schedules ---- */

static const char *const every_words[] = {"epoch", "step", NULL};
static const char *const mode_words[] = {"min", "max", NULL};
static const char *const threshold_words[] = {"rel", "abs", NULL};
static const char *const monitor_words[] = {"valid_loss", "loss", NULL};
#define EVERY(d)                                                                                   \
    {                                                                                              \
        "every", OPT_STRING, {d, 0}, every_words                                                   \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, 0, {0, 0}, NULL                                                                      \
    }

static const opt_option step_lr_options[] = {{"step_size", OPT_NUMBER, REQUIRED, NULL},
                                             {"gamma", OPT_NUMBER, {0.1, 0}, NULL},
                                             EVERY(0),
                                             END};
static const opt_option multistep_lr_options[] = {
    {"milestones", OPT_LIST, REQUIRED, NULL}, {"gamma", OPT_NUMBER, {0.1, 0}, NULL}, EVERY(0), END};
static const opt_option exponential_lr_options[] = {
    {"gamma", OPT_NUMBER, REQUIRED, NULL}, EVERY(0), END};
static const opt_option exp_decay_options[] = {{"k", OPT_NUMBER, REQUIRED, NULL}, EVERY(0), END};
static const opt_option linear_lr_options[] = {{"start_factor", OPT_NUMBER, {1.0 / 3, 0}, NULL},
                                               {"end_factor", OPT_NUMBER, {1.0, 0}, NULL},
                                               {"total_iters", OPT_NUMBER, {5, 0}, NULL},
                                               EVERY(0),
                                               END};
static const opt_option cosine_options[] = {{"T_max", OPT_NUMBER, {0, 0}, NULL},
                                            {"eta_min", OPT_NUMBER, {0, 0}, NULL},
                                            {"warmup", OPT_NUMBER, {0, 0}, NULL},
                                            EVERY(0),
                                            END};
static const opt_option inverse_sqrt_options[] = {EVERY(0), END};
static const opt_option inverse_time_options[] = {{"k", OPT_NUMBER, REQUIRED, NULL}, EVERY(0), END};
static const opt_option cyclic_lr_options[] = {{"base_lr", OPT_NUMBER, REQUIRED, NULL},
                                               {"max_lr", OPT_NUMBER, REQUIRED, NULL},
                                               {"step_size_up", OPT_NUMBER, {2000, 0}, NULL},
                                               {"step_size_down", OPT_NUMBER, {0, 0}, NULL},
                                               {"cycle_momentum", OPT_BOOL, {1, 0}, NULL},
                                               {"base_momentum", OPT_NUMBER, {0.8, 0}, NULL},
                                               {"max_momentum", OPT_NUMBER, {0.9, 0}, NULL},
                                               EVERY(1),
                                               END};
static const opt_option one_cycle_lr_options[] = {{"max_lr", OPT_NUMBER, REQUIRED, NULL},
                                                  {"total_steps", OPT_NUMBER, {0, 0}, NULL},
                                                  {"pct_start", OPT_NUMBER, {0.3, 0}, NULL},
                                                  {"div_factor", OPT_NUMBER, {25, 0}, NULL},
                                                  {"final_div_factor", OPT_NUMBER, {1e4, 0}, NULL},
                                                  {"cycle_momentum", OPT_BOOL, {1, 0}, NULL},
                                                  {"base_momentum", OPT_NUMBER, {0.85, 0}, NULL},
                                                  {"max_momentum", OPT_NUMBER, {0.95, 0}, NULL},
                                                  EVERY(1),
                                                  END};
static const opt_option plateau_options[] = {
    {"mode", OPT_STRING, {0, 0}, mode_words},
    {"factor", OPT_NUMBER, {0.1, 0}, NULL},
    {"patience", OPT_NUMBER, {10, 0}, NULL},
    {"threshold", OPT_NUMBER, {1e-4, 0}, NULL},
    {"threshold_mode", OPT_STRING, {0, 0}, threshold_words},
    {"cooldown", OPT_NUMBER, {0, 0}, NULL},
    {"min_lr", OPT_NUMBER, {0, 0}, NULL},
    {"eps", OPT_NUMBER, {1e-8, 0}, NULL},
    {"monitor", OPT_STRING, {0, 0}, monitor_words},
    EVERY(0),
    END};

const sched_def sched_defs[] = {
    {"step_lr", "torch.optim.lr_scheduler.StepLR", step_lr_options, 0},
    {"multistep_lr", "torch.optim.lr_scheduler.MultiStepLR", multistep_lr_options, 0},
    {"exponential_lr", "torch.optim.lr_scheduler.ExponentialLR", exponential_lr_options, 0},
    {"exp_decay", "ExponentialLR with gamma = e^-k", exp_decay_options, 0},
    {"linear_lr", "torch.optim.lr_scheduler.LinearLR", linear_lr_options, 0},
    {"cosine", "torch.optim.lr_scheduler.CosineAnnealingLR, with an optional linear warmup",
     cosine_options, 0},
    {"inverse_sqrt", "LambdaLR(lambda e: 1 / sqrt(e + 1))", inverse_sqrt_options, 0},
    {"inverse_time", "LambdaLR(lambda e: 1 / (1 + k e))", inverse_time_options, 0},
    {"cyclic_lr", "torch.optim.lr_scheduler.CyclicLR (triangular)", cyclic_lr_options, 1},
    {"one_cycle_lr", "torch.optim.lr_scheduler.OneCycleLR (cosine)", one_cycle_lr_options, 2},
    {"reduce_lr_on_plateau", "torch.optim.lr_scheduler.ReduceLROnPlateau", plateau_options, 0},
    {NULL, NULL, NULL, 0},
};

const sched_def *sched_find(const char *name)
{
    for (const sched_def *d = sched_defs; d->name; d++)
        if (!strcmp(d->name, name)) return d;
    return NULL;
}

/* The ranges torch's schedulers accept (it raises otherwise): divisors
 * above 0, fractions within [0, 1], a plateau factor below 1. */
static int sched_check(const sched_def *d, const ir_choice *c, char *msg, size_t size)
{
    for (int i = 0; d->options[i].name; i++) {
        const char *n = d->options[i].name;
        double v = c->value[i][0];
        int bad = 0;
        if (!strcmp(n, "step_size") || !strcmp(n, "step_size_up") || !strcmp(n, "div_factor") ||
            !strcmp(n, "final_div_factor") || !strcmp(n, "max_lr"))
            bad = !(v > 0);
        else if (!strcmp(n, "pct_start") || !strcmp(n, "end_factor"))
            bad = !(v >= 0 && v <= 1);
        else if (!strcmp(n, "start_factor"))
            bad = !(v > 0 && v <= 1);
        else if (!strcmp(n, "factor"))
            bad = !(v < 1);
        if (bad) {
            snprintf(msg, size, "%s: invalid %s: %g", d->name, n, v);
            return -1;
        }
    }
    return 0;
}

/* the value of a resolved choice's option, by name (0 when it has none) */
static double choice_get(const ir_choice *c, const opt_option *options, const char *name)
{
    for (int i = 0; options[i].name; i++)
        if (!strcmp(options[i].name, name)) return c->value[i][0];
    return 0;
}

int sched_cycles_momentum(const ir_graph *g)
{
    const sched_def *d = g->sched.c.name ? sched_find(g->sched.c.name) : NULL;
    return d && d->momentum && choice_get(&g->sched.c, d->options, "cycle_momentum") != 0;
}

/* A schedule that cycles the momentum (cycle_momentum = true, torch's
 * default) needs an optimizer that has one, as torch's scheduler raises
 * otherwise; the optimizer's state then holds what the largest momentum
 * needs (SGD and RMSprop keep a momentum buffer only for a momentum > 0). */
static int sched_momentum(ir_graph *g, const sched_def *d, char *msg, size_t size)
{
    ir_optimizer *o = &g->opt;
    const opt_def *od = opt_find(o->c.name);
    double lo = choice_get(&g->sched.c, d->options, "base_momentum");
    double hi = choice_get(&g->sched.c, d->options, "max_momentum");
    if (!od->momentum || (d->momentum == 1 && strcmp(od->momentum, "momentum"))) {
        snprintf(msg, size,
                 "%s cycles the momentum (cycle_momentum = true, the default as in %s), but %s "
                 "has no %s for it to set (torch: \"optimizer must support momentum with "
                 "`cycle_momentum` option enabled\"); it works with %s; or set cycle_momentum = "
                 "false",
                 d->name, d->torch, od->name, d->momentum == 1 ? "momentum" : "momentum or betas",
                 d->momentum == 1 ? "sgd and rmsprop"
                                  : "sgd and rmsprop (momentum) and adam, adamw, adamax, nadam "
                                    "and radam (beta1)");
        return -1;
    }
    if (opt_closure_step(g)) {
        snprintf(msg, size,
                 "%s cycles the momentum (cycle_momentum = true, the default), but %s's line "
                 "search steps along -g without one; set cycle_momentum = false",
                 d->name, od->name);
        return -1;
    }
    if (!(hi > 0 && hi < 1 && lo < 1)) {
        snprintf(msg, size,
                 "%s: base_momentum (%g) and max_momentum (%g) must be in [0, 1), max_momentum "
                 "above 0 (the first step's momentum); or set cycle_momentum = false",
                 d->name, lo, hi);
        return -1;
    }
    if (!strcmp(od->momentum, "momentum")) {
        double v[IR_MAX_OPT][IR_MAX_LIST];
        memcpy(v, o->c.value, sizeof v);
        v[opt_index(od, "momentum")][0] = hi;
        o->nbuffers = od->buffers((const double(*)[IR_MAX_LIST])v);
        o->n_state = o->nbuffers * g->n_params + o->nscalars;
    }
    return 0;
}

int sched_resolve(ir_graph *g, char *err, size_t errsize)
{
    ir_schedule *s = &g->sched;
    if (!s->c.name) return 0;
    const sched_def *d = sched_find(s->c.name);
    char msg[512];
    if (!d)
        snprintf(msg, sizeof msg, "unknown schedule '%s'", s->c.name);
    else if (!resolve_choice(&s->c, d->name, d->options, msg, sizeof msg) &&
             !sched_check(d, &s->c, msg, sizeof msg) &&
             !(sched_cycles_momentum(g) && sched_momentum(g, d, msg, sizeof msg))) {
        int i = 0;
        while (d->options[i].name && strcmp(d->options[i].name, "every")) i++;
        s->per_step = d->options[i].name && s->c.value[i][0] == 1;
        return 0;
    }
    snprintf(err, errsize, "%s:%d: %s", s->c.file ? s->c.file : g->spec_path, s->c.line, msg);
    return -1;
}

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

/* Fills c->value from the definition's defaults and what the spec set,
 * and checks them; -1 with a message (without position) in msg. */
static int resolve_choice(ir_choice *c, const char *what, const opt_option *options, char *msg,
                          size_t size)
{
    for (int i = 0; options[i].name; i++) {
        c->value[i][0] = options[i].dflt[0];
        c->value[i][1] = options[i].dflt[1];
        c->len[i] = options[i].kind == OPT_PAIR ? 2 : 1;
        if (options[i].kind == OPT_LIST) c->len[i] = isnan(options[i].dflt[0]) ? 1 : 0;
    }
    for (int k = 0; k < c->nset; k++) {
        int i = -1;
        for (int j = 0; options[j].name; j++)
            if (!strcmp(options[j].name, c->set_key[k])) i = j;
        if (i < 0) {
            snprintf(msg, size, "%s: unknown option '%s'", what, c->set_key[k]);
            return -1;
        }
        const opt_option *op = &options[i];
        int len = c->set_len[k];
        if (op->kind == OPT_STRING) {
            int w = -1;
            for (int j = 0; c->set_word[k] && op->words[j]; j++)
                if (!strcmp(op->words[j], c->set_word[k])) w = j;
            if (w < 0) {
                char list[128] = "";
                for (int j = 0; op->words[j]; j++)
                    snprintf(list + strlen(list), sizeof list - strlen(list), "%s'%s'",
                             j ? ", " : "", op->words[j]);
                snprintf(msg, size, "%s: %s must be one of %s", what, op->name, list);
                return -1;
            }
            c->value[i][0] = w;
            c->len[i] = 1;
            continue;
        }
        if (c->set_word[k]) {
            snprintf(msg, size, "%s: %s must be a number, not '%s'", what, op->name,
                     c->set_word[k]);
            return -1;
        }
        if ((op->kind == OPT_PAIR && len != 2) || (op->kind == OPT_LIST && len < 1) ||
            ((op->kind == OPT_NUMBER || op->kind == OPT_BOOL) && len != 1)) {
            snprintf(msg, size, "%s: %s must be %s", what, op->name,
                     op->kind == OPT_PAIR   ? "a pair of numbers such as {0.9, 0.999}"
                     : op->kind == OPT_LIST ? "a list of numbers such as {30, 80}"
                     : op->kind == OPT_BOOL ? "true or false"
                                            : "a number");
            return -1;
        }
        memcpy(c->value[i], c->set_value[k], sizeof c->value[i]);
        c->len[i] = len;
    }
    for (int i = 0; options[i].name; i++) {
        const opt_option *op = &options[i];
        double a = c->value[i][0], b = c->value[i][1];
        if (isnan(a)) {
            snprintf(msg, size, "%s: %s is required", what, op->name);
            return -1;
        }
        if (op->kind == OPT_PAIR && !(a >= 0 && a < 1 && b >= 0 && b < 1)) {
            snprintf(msg, size, "%s: invalid %s (%g, %g): each must be in [0, 1)", what, op->name,
                     a, b);
            return -1;
        }
        if (op->kind == OPT_NUMBER && !(a >= 0)) {
            snprintf(msg, size, "%s: invalid %s: %g", what, op->name, a);
            return -1;
        }
    }
    return 0;
}

int opt_resolve(ir_graph *g, char *err, size_t errsize)
{
    ir_optimizer *o = &g->opt;
    const opt_def *d = opt_find(o->c.name);
    char msg[512];
    if (!d) {
        snprintf(msg, sizeof msg, "unknown optimizer '%s'", o->c.name);
        goto bad;
    }
    if (resolve_choice(&o->c, d->name, d->options, msg, sizeof msg)) goto bad;
    if (!strcmp(d->name, "lbfgs") && lbfgs_resolve(g, msg, sizeof msg)) goto bad;
    if (!strcmp(d->name, "sgd") && sgd_line_search_resolve(g, msg, sizeof msg)) goto bad;
    if (!strcmp(d->name, "cg") && cg_resolve(g, msg, sizeof msg)) goto bad;
    if (!strcmp(d->name, "newton") && newton_resolve(g, msg, sizeof msg)) goto bad;
    if (d->check && d->check((const double(*)[IR_MAX_LIST])o->c.value, msg, sizeof msg) < 0)
        goto bad;
    o->lr = get((const double(*)[IR_MAX_LIST])o->c.value, d, "lr");
    o->nbuffers = d->buffers((const double(*)[IR_MAX_LIST])o->c.value);
    o->nscalars = d->scalars;
    if (!strcmp(d->name, "lbfgs")) o->nscalars = lbfgs_scalars(&o->c);
    o->n_state = o->nbuffers * g->n_params + o->nscalars;
    return 0;
bad:
    snprintf(err, errsize, "%s:%d: %s", o->c.file ? o->c.file : g->spec_path, o->c.line, msg);
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

int sched_template_vars(const ir_graph *g, const char **keys, const char **values, int max)
{
    const ir_choice *c = &g->sched.c;
    const sched_def *d = sched_find(c->name);
    arena *A = g->A;
    int n = 0;
    for (int i = 0; d->options[i].name && n + 1 <= max; i++) {
        const opt_option *op = &d->options[i];
        keys[n] = op->name;
        if (op->kind == OPT_LIST) {
            const char *list = "";
            for (int k = 0; k < c->len[i]; k++)
                list = arena_printf(A, "%s%s%s", list, k ? ", " : "", num(A, c->value[i][k]));
            values[n++] = list;
            keys[n] = arena_printf(A, "n_%s", op->name);
            values[n++] = arena_printf(A, "%d", c->len[i]);
        } else if (op->kind == OPT_STRING) {
            /* the word, and a 0/1 hole per word: mode_max, monitor_loss, ... */
            values[n++] = op->words[(int)c->value[i][0]];
            for (int w = 0; op->words[w] && n < max; w++) {
                keys[n] = arena_printf(A, "%s_%s", op->name, op->words[w]);
                values[n++] = w == (int)c->value[i][0] ? "1" : "0";
            }
        } else {
            values[n++] = num(A, c->value[i][0]);
        }
    }
    if (n + 3 <= max) {
        keys[n] = "where";
        values[n++] =
            esc_c_comment(A, arena_printf(A, "%s:%d", c->file ? c->file : g->spec_path, c->line));
        keys[n] = "torch";
        values[n++] = d->torch;
        keys[n] = "optimizer_momentum";
        values[n++] = opt_momentum_text(g);
    }
    return n;
}

const char *opt_momentum_text(const ir_graph *g)
{
    const opt_def *d = opt_find(g->opt.c.name);
    int i = d->momentum ? opt_index(d, d->momentum) : -1;
    return i < 0 ? "0" : num(g->A, g->opt.c.value[i][0]);
}

int opt_template_vars(const ir_graph *g, const char **keys, const char **values, int max)
{
    const ir_choice *o = &g->opt.c;
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
    if (n + 4 <= max) {
        keys[n] = "where";
        values[n++] =
            esc_c_comment(A, arena_printf(A, "%s:%d", o->file ? o->file : g->spec_path, o->line));
        keys[n] = "torch";
        values[n++] = d->torch;
        keys[n] = "n_state";
        values[n++] = arena_printf(A, "%ld", g->opt.n_state);
        keys[n] = "cycle_momentum";
        values[n++] = sched_cycles_momentum(g) ? "1" : "0";
    }
    return n;
}
