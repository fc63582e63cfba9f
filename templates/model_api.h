/* {{header}}
 *
 * model_api.h — what model.c gives the trainer, in words that are the same
 * for every model: the functions of one training step, the tables that
 * describe the model, and its sizes and settings as data (model_consts,
 * in model_consts.c). model.h has the same sizes as constants, for model.c
 * and predict.c, whose code is specialised to them; the trainer reads them
 * from model_consts, so that its files compile to the same objects for every
 * model (and a compiler cache builds them once). */
#ifndef MODEL_API_H
#define MODEL_API_H

#include "runtime/rt.h"

/* The model's sizes and settings: model.h's MODEL_* constants, one field
 * each, in model.h's order (see there what each means). */
typedef struct model_constants {
    const char *name, *spec, *hash, *generator;
    long n_params, n_state, arena;
    int features, label_len, classes, output_len;
    int task; /* enum rt_task */
    int n_train, n_valid, n_test_split;
    unsigned split_seed;
    int split_classes, test_tail, valid_tail;
    int batch;
    const char *batch_text;
    int remainder, shards;
    long shard_arena;
    int sync_points;
    long sync_doubles;
    double train_flops, eval_flops;
    int noise;
    int tiny_step;
    int epochs;
    unsigned seed;
    int shuffle;
    double lr;
    const char *optimizer;
    int closure_step;
    const char *schedule;
    int schedule_per_step, plateau;
    int early_stop, es_patience;
    double es_min_delta;
    int es_restore, es_monitor_loss;
    int stratify, aug_crop, aug_flip, image_c, image_h, image_w;
    int sample_replace;
    double stop_grad_norm;
    int n_dropout, n_dropconnect, n_penalty, weight_decay;
    int track_sharpness;
    double scale;
    int standardize;
    long probe_arena;
    const char *recompute;
} model_constants;
extern const model_constants model_consts;

/* What the trainer was made from (about.c): the spec's bytes, trainc's
 * options, the compiler and the flags build.ninja gave it */
typedef struct model_about_info {
    const char *spec;
    long spec_len;
    const char *cc, *compiler, *flags, *options;
} model_about_info;
extern const model_about_info model_about;

/* the classes' names (labels { classes = { ... } } or a CSV's class-name
 * labels), class 0 first; model_n_class_names 0: the classes are numbered */
extern const char *const model_class_names[];
extern const int model_n_class_names;

/* train { shards = S > 1 }: the pool of `threads` threads and each shard's
 * scratch, made once (runtime/rt_pool.c): 0, or -1 when out of memory or
 * threads */
int model_shards_start(int threads);

/* The generated step and update read model_regularise (model.c, 1); train
 * --overfit sets it to 0, turning dropout, dropconnect, penalties and
 * weight decay off at run time. */
extern int model_regularise;

/* data, and how it is prepared */
extern const rt_source model_train_data, model_test_data;

extern const rt_param_info model_params[];
extern const int model_n_param_tensors;

/* The model summary: one row per op of the forward pass and the loss. */
typedef struct model_layer {
    int line;                      /* in the spec */
    const char *name, *op, *shape; /* node, op, output shape ("[B x 10]") */
    long params;                   /* parameter values it reads first */
    double flops;                  /* per forward pass of MODEL_BATCH rows */
} model_layer;
extern const model_layer model_layers[];
extern const int model_n_layers;

/* train --profile: the op blocks of the training step at MODEL_BATCH rows,
 * in model.c's order (PROFILE_BEGIN(k)), with the cost model's prediction
 * (gen/profile.c) */
typedef struct model_prof_op {
    const char *at, *name, *op, *kernel; /* "spec.lua:12", node, op, "blas" / "loops" / ... */
    double flops, bytes;                 /* per step, the block's fused ops included */
    double predicted_us;
} model_prof_op;
extern const model_prof_op model_prof_ops[];
extern const int model_n_prof_ops;

/* Names the spec gave that trainc wrote otherwise (the model's for C, a
 * layer's for file names); info shows them. */
typedef struct model_rename {
    const char *what, *typed, *written; /* "model" or "layer"; typed: its first 1024 bytes */
    long typed_len;                     /* bytes of the name as typed */
    int line;                           /* in the spec (0: the spec's file name) */
} model_rename;
extern const model_rename model_renames[];
extern const int model_n_renames;

/* Draws the initial parameters from rng, in the spec's order. */
void model_init(real *param, rt_rng *rng);

/* One step's forward, loss and backward on `rows` rows (MODEL_BATCH or
 * MODEL_REMAINDER) in training mode: writes d(loss)/d(param) into grad and
 * the predictions into out, returns the loss. It updates batch norm's running
 * statistics in param; noise = rt_noise_key(seed, step) keys the dropout
 * masks (the same key gives the same masks). */
real model_train_step(int rows, real *param, real *grad, const real *x, const real *y, real *out,
                      real *arena, uint64_t noise);

/* The optimizer's update fused into the training step: model.c defines
 * model_train_update only when the spec's update fuses (else its comment
 * says why). It is model_train_step, then model_update(param, grad,
 * u->state, u->lr, u->momentum, u->t), in one pass: each parameter is
 * updated as soon as its gradient is complete; the same bits. grad holds
 * the whole gradient afterwards, as model_train_step leaves it. */
typedef struct model_update_args {
    real *state;
    double lr, momentum;
    long t;
} model_update_args;
real model_train_update(int rows, real *param, real *grad, const real *x, const real *y, real *out,
                        real *arena, uint64_t noise, const model_update_args *u);

/* Forward and loss without gradients on `rows` rows (MODEL_BATCH or 1), in
 * evaluation mode (batch norm's running statistics, no dropout). */
real model_eval(int rows, const real *param, const real *x, const real *y, real *out, real *arena);

/* --layer-metrics (the trainer's layer_metrics.c): the probe is the
 * forward pass and loss on MODEL_BATCH rows in evaluation mode, unfused,
 * in an arena of its own (MODEL_PROBE_ARENA values), after which every
 * activation (each nonlinearity's output) is at its offset there. */
typedef struct model_act {
    const char *name, *op; /* the node's name in model.c ("relu1"), its op */
    long offset, numel;    /* in the probe's arena; values per batch */
    int bounded;           /* 1: saturates at lo and hi (tanh, sigmoid, hardtanh) */
    double lo, hi;
} model_act;
extern const model_act model_acts[];
extern const int model_n_acts;
real model_probe(const real *param, const real *x, const real *y, real *out, real *arena);

/* The learning rate after e epochs or steps (from 0) of a run of `total`,
 * from the base lr (the spec's, or --lr). */
double model_lr(long e, double base, long total);
/* The momentum (SGD, RMSprop) or beta1 (the Adam family) at the same e:
 * the optimizer's own unless the schedule cycles it (cycle_momentum). */
double model_momentum(long e, long total);
/* reduce_lr_on_plateau (MODEL_PLATEAU): the schedule's starting state */
extern const rt_plateau model_plateau_init;

/* The optimizer's step, one of two kinds (MODEL_CLOSURE_STEP says which
 * model.c has). model_update: param <- update(param, grad, state) at
 * learning rate lr and momentum (or beta1; see model_momentum; optimizers
 * without one ignore it), for step t = 1, 2, ... (gradient clipping may
 * scale grad). */
void model_update(real *param, real *grad, real *state, double lr, double momentum, long t);
/* L-BFGS, conjugate gradient and SGD with a line search re-evaluate the
 * batch's loss and gradient at new weights: eval writes the gradient at
 * param to grad and returns the loss; Newton's method takes Hessian-vector
 * products of the batch's loss: hvp writes H vec at param to hv (NULL
 * without model_hvp) */
typedef struct model_closure {
    real (*eval)(void *ctx, const real *param, real *grad);
    void *ctx;
    real (*hvp)(void *ctx, const real *param, const real *vec, real *hv);
} model_closure;
/* what one step did */
typedef struct model_step_info {
    int evals;        /* evaluations of the batch, the first included */
    double step_size; /* the last step length t taken (0: none); Newton: |lr d| */
    int stalled;      /* no step taken: SGD's Armijo search shrank max_shrinks times in vain,
                         or Newton's H + damping I is singular */
    int solve;        /* Newton: RT_SOLVE_CHOLESKY, _INDEFINITE or _SINGULAR (rt.h); else 0 */
} model_step_info;
/* One step from param, where the loss and grad were just evaluated (at the
 * scheduled lr; torch's step(closure) for L-BFGS); L-BFGS and CG leave grad
 * at the last gradient evaluated, Armijo's search at the step's. */
model_step_info model_closure_step(real *param, real *grad, real *state, double lr, double loss,
                                   const model_closure *f);

#endif
