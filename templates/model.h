/* {{header}}
 *
 * model.h — the model {{name}} as its trainer sees it: fixed sizes, the
 * parameter layout, and the functions of one training step. */
#ifndef MODEL_H
#define MODEL_H

#include "runtime/rt.h"

#define MODEL_NAME "{{name}}"
#define MODEL_SPEC "{{spec}}"
#define MODEL_HASH "{{hash}}"
#define MODEL_GENERATOR "trainc {{version}}"

/* sizes fixed at generation time */
#define MODEL_N_PARAMS {{n_params}}L   /* trained values in the flat buffer */
#define MODEL_N_STATE {{n_state}}L     /* optimizer state values */
#define MODEL_ARENA {{arena}}L         /* activations and gradients, planned */
#define MODEL_FEATURES {{features}}    /* input values per row */
#define MODEL_LABEL_LEN {{label_len}}  /* label values per row */
#define MODEL_CLASSES {{classes}}      /* 0: labels are values */
#define MODEL_OUTPUT_LEN {{output_len}} /* prediction values per row */
#define MODEL_TASK {{task}}
#define MODEL_N_TRAIN {{n_train}}      /* training rows the shapes were made for */
#define MODEL_N_VALID {{n_valid}}      /* rows held out for validation */
#define MODEL_BATCH {{batch}}          /* rows per step */
#define MODEL_BATCH_TEXT "{{batch}}"
#define MODEL_REMAINDER {{remainder}}  /* rows of the last, partial step (0: none) */
#define MODEL_TRAIN_FLOPS {{train_flops}} /* per training step of MODEL_BATCH rows */
#define MODEL_EVAL_FLOPS {{eval_flops}}   /* per forward pass of MODEL_BATCH rows */

/* training settings from the spec (the trainer's flags override them) */
#define MODEL_EPOCHS {{epochs}}
#define MODEL_SEED {{seed}}u
#define MODEL_SHUFFLE {{shuffle}}
#define MODEL_LR {{lr}}
#define MODEL_OPTIMIZER "{{optimizer}}"
#define MODEL_SCHEDULE "{{schedule}}"
#define MODEL_SCHEDULE_PER_STEP {{per_step}} /* the schedule counts steps (1) or epochs (0) */
#define MODEL_PLATEAU {{plateau}}            /* the schedule watches a metric after each epoch */
/* early stopping: stop when the monitored loss has not improved by more than
 * min_delta for `patience` epochs, and go back to the best weights */
#define MODEL_EARLY_STOP {{early_stop}}
#define MODEL_ES_PATIENCE {{es_patience}}
#define MODEL_ES_MIN_DELTA {{es_min_delta}}
#define MODEL_ES_RESTORE {{es_restore}}
#define MODEL_ES_MONITOR_LOSS {{es_monitor_loss}} /* 1: the training loss; 0: the validation loss */

/* data, and how it is prepared */
extern const rt_source model_train_data, model_test_data;
#define MODEL_SCALE {{scale}}          /* 0: no scaling */
#define MODEL_STANDARDIZE {{standardize}}

extern const rt_param_info model_params[];
extern const int model_n_param_tensors;

/* The model summary: one row per op of the forward pass and the loss. */
typedef struct model_layer {
    int line;                       /* in the spec */
    const char *name, *op, *shape;  /* node, op, output shape ("[B x 10]") */
    long params;                    /* parameter values it reads first */
    double flops;                   /* per forward pass of MODEL_BATCH rows */
} model_layer;
extern const model_layer model_layers[];
extern const int model_n_layers;

/* Draws the initial parameters from rng, in the spec's order. */
void model_init(real *param, rt_rng *rng);

/* One step's forward, loss and backward on `rows` rows (MODEL_BATCH or
 * MODEL_REMAINDER): writes d(loss)/d(param) into grad and the predictions
 * into out, returns the loss. */
real model_train_step(int rows, const real *param, real *grad, const real *x, const real *y,
                      real *out, real *arena);

/* Forward and loss without gradients on `rows` rows (MODEL_BATCH or 1). */
real model_eval(int rows, const real *param, const real *x, const real *y, real *out,
                real *arena);

/* The learning rate after e epochs or steps (from 0) of a run of `total`,
 * from the base lr (the spec's, or --lr). */
double model_lr(long e, double base, long total);
#if MODEL_PLATEAU
extern const rt_plateau model_plateau_init;
#endif

/* The optimizer's step: param <- update(param, grad, state) at learning
 * rate lr, for step t = 1, 2, ... (gradient clipping may scale grad). */
void model_update(real *param, real *grad, real *state, double lr, long t);

#endif
