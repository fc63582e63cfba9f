/* optim.h — the update step: the optimizers (their options and PyTorch's
 * defaults), resolving the spec's choice against them, the state it needs,
 * and the ranges of the flat buffer the update walks. Emit fills the
 * optimizer's template (templates/optim/<name>.c) from what this decides. */
#ifndef OPTIM_H
#define OPTIM_H

#include <stddef.h>

#include "ir.h"

typedef enum opt_kind { OPT_NUMBER, OPT_BOOL, OPT_PAIR, OPT_LIST, OPT_STRING } opt_kind;

typedef struct opt_option {
    const char *name;
    opt_kind kind;
    double dflt[2];           /* NAN: required; OPT_STRING: the index of the default in `words` */
    const char *const *words; /* OPT_STRING: the accepted words (stored as their index) */
} opt_option;

typedef struct opt_def {
    const char *name;  /* spec name, and templates/optim/<name>.c */
    const char *torch; /* what it matches, for comments */
    const opt_option *options;
    /* state buffers for these values; extra checks (message into err) */
    int (*buffers)(const double (*v)[IR_MAX_LIST]);
    int scalars;
    int (*check)(const double (*v)[IR_MAX_LIST], char *err, size_t errsize);
    /* what a schedule's cycle_momentum drives: "momentum" (torch's
     * group['momentum']), "betas" (its first, beta1) or NULL (none) */
    const char *momentum;
} opt_def;

/* The optimizers, terminated by a row with a NULL name. */
extern const opt_def opt_defs[];

/* The learning-rate schedules: a closed form lr(e) per row, in
 * templates/schedule/<name>.c (e counts epochs or steps from 0). */
typedef struct sched_def {
    const char *name;
    const char *torch;
    const opt_option *options;
    /* cycles the momentum (options cycle_momentum, base_momentum,
     * max_momentum; the template defines model_momentum): 0 no, 1 an
     * optimizer's "momentum" only (torch 1.13's CyclicLR), 2 "momentum" or
     * beta1 (OneCycleLR) */
    int momentum;
} sched_def;
extern const sched_def sched_defs[];
const sched_def *sched_find(const char *name);
/* Resolves g->sched like opt_resolve (nothing to do without a schedule). */
int sched_resolve(ir_graph *g, char *err, size_t errsize);
/* 1 when the schedule cycles the optimizer's momentum (or beta1) */
int sched_cycles_momentum(const ir_graph *g);
/* The optimizer's own momentum (or beta1) as C text: what model_momentum
 * returns when the schedule does not cycle it; "0" without one. */
const char *opt_momentum_text(const ir_graph *g);
/* The schedule template's holes (options; lists as C initialisers; and
 * optimizer_momentum, opt_momentum_text). */
int sched_template_vars(const ir_graph *g, const char **keys, const char **values, int max);

const opt_def *opt_find(const char *name);
/* The option's index in def->options, or -1. */
int opt_index(const opt_def *def, const char *name);

/* Fills g->opt.value with the spec's values and the defaults, checks them,
 * sizes the state. Returns 0, or -1 with "file:line: message" in err. */
int opt_resolve(ir_graph *g, char *err, size_t errsize);

/* The template's holes: one per option (pairs as name1/name2, e.g.
 * beta1/beta2), "lr", "where", "torch", "n_state". Returns the count. */
int opt_template_vars(const ir_graph *g, const char **keys, const char **values, int max);

/* L-BFGS (optim_lbfgs.c): fills max_eval's default and checks what the
 * generic checks cannot (whole counts, one group); -1 with a message. */
int lbfgs_resolve(ir_graph *g, char *msg, size_t size);
/* the state's scalar part in reals: ro per pair and the step's counters, as doubles */
int lbfgs_scalars(const ir_choice *c);

/* The steps through the batch's closure (optim_linesearch.c): L-BFGS, cg,
 * and sgd with line_search = "armijo". */
int opt_closure_step(const ir_graph *g);
/* The templates (templates/optim/<name>.c) the update is made of, in
 * order; returns their count. */
int opt_templates(const ir_graph *g, const char *names[3]);
/* What every closure step needs (no clipping, one parameter group of
 * trained parameters, full batches when full_batch); -1 with a message
 * naming who. */
int closure_step_check(ir_graph *g, const char *who, int full_batch, char *msg, size_t size);
int sgd_line_search_resolve(ir_graph *g, char *msg, size_t size);
/* cg: restart's default (the parameter count) and the checks */
int cg_resolve(ir_graph *g, char *msg, size_t size);
/* newton { lr, damping } (optim_newton.c): at most NEWTON_MAX parameters;
 * turns on the Hessian-vector products (train.hvp) */
#define NEWTON_MAX 4096
int newton_resolve(ir_graph *g, char *msg, size_t size);
/* a whole number from 1 (below 1e9); an option the spec set */
int opt_whole(double v);
int opt_was_set(const ir_choice *c, const char *key);

#endif
