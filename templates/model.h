/* {{header}}
 *
 * model.h — the model {{name}}: its fixed sizes and settings as constants
 * (model.c and predict.c are specialised to them; the trainer reads the same
 * values from model_consts), the functions of one training step
 * (model_api.h), and, at the end, the inference API for other C programs
 * ({{name}}_predict). */
#ifndef MODEL_H
#define MODEL_H

#include "model_api.h"

#define MODEL_NAME "{{name}}"
#define MODEL_SPEC {{spec_literal}}
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
#define MODEL_N_TEST_SPLIT {{n_test_split}} /* rows of the training file held out for testing */
/* which rows are held out: a draw from the spec's seed, stratified by class
 * over MODEL_SPLIT_CLASSES classes (0: not stratified), or the last rows */
#define MODEL_SPLIT_SEED {{split_seed}}u
#define MODEL_SPLIT_CLASSES {{split_classes}}
#define MODEL_TEST_TAIL {{test_tail}}
#define MODEL_VALID_TAIL {{valid_tail}}
#define MODEL_BATCH {{batch}}          /* rows per step */
#define MODEL_BATCH_TEXT "{{batch}}"
#define MODEL_REMAINDER {{remainder}}  /* rows of the last, partial step (0: none) */
/* train { shards = S }: each step's batch in S shards of fixed sizes,
 * run on the threads model_shards_start makes (1: one step, as ever) */
#define MODEL_SHARDS {{shards}}
#define MODEL_SHARD_ARENA {{shard_arena}}L /* a shard's own arena (shards > 1) */
#define MODEL_SYNC_POINTS {{sync_points}} /* batch norm's sync points a step (shards > 1) */
#define MODEL_SYNC_DOUBLES {{sync_doubles}}L /* their partial sums: doubles a shard sends a step */
#define MODEL_TRAIN_FLOPS {{train_flops}} /* per training step of MODEL_BATCH rows */
#define MODEL_EVAL_FLOPS {{eval_flops}}   /* per forward pass of MODEL_BATCH rows */
#define MODEL_TINY_STEP {{tiny_step}} /* training steps with a twin in registers (gen/emit_tiny.c) */
#define MODEL_NOISE {{noise}} /* a training step draws dropout masks (reads its noise key) */

/* training settings from the spec (the trainer's flags override them) */
#define MODEL_EPOCHS {{epochs}}
#define MODEL_SEED {{seed}}u
#define MODEL_SHUFFLE {{shuffle}}
#define MODEL_LR {{lr}}
#define MODEL_OPTIMIZER "{{optimizer}}"
#define MODEL_CLOSURE_STEP {{closure_step}} /* the step re-evaluates the batch (model_closure_step) */
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
/* batches: classes in proportion; image augmentation (training batches only)
 * of C x H x W images: pad-and-crop margin, left-right flips */
#define MODEL_STRATIFY {{stratify}}
#define MODEL_AUG_CROP {{aug_crop}}
#define MODEL_AUG_FLIP {{aug_flip}}
#define MODEL_AUGMENT (MODEL_AUG_CROP > 0 || MODEL_AUG_FLIP)
#define MODEL_IMAGE_C {{img_c}}
#define MODEL_IMAGE_H {{img_h}}
#define MODEL_IMAGE_W {{img_w}}
/* sampling = "replacement": each step's rows drawn uniformly with
 * replacement (an epoch is still rows / batch steps); stop_grad_norm: stop
 * when the full-batch gradient norm is at most this (0: never) */
#define MODEL_SAMPLE_REPLACE {{sample_replace}}
#define MODEL_STOP_GRAD_NORM {{stop_grad_norm}}
/* track_sharpness = N: the Hessian's λmax (Lanczos on model_hvp over
 * the training rows) every N epochs, a sharpness column in the metrics */
#define MODEL_TRACK_SHARPNESS {{track_sharpness}}
/* regularisation the spec has: dropouts of activations, dropconnects,
 * l1/l2 penalties, weight decay (1: some parameter has it). The generated
 * step and update read model_regularise (model.c, 1); train --overfit sets
 * it to 0, turning them all off at run time. */
#define MODEL_N_DROPOUT {{n_dropout}}
#define MODEL_N_DROPCONNECT {{n_dropconnect}}
#define MODEL_N_PENALTY {{n_penalty}}
#define MODEL_WEIGHT_DECAY {{weight_decay}}

/* data, and how it is prepared */
#define MODEL_SCALE {{scale}}          /* 0: no scaling */
#define MODEL_STANDARDIZE {{standardize}}

/* --layer-metrics: the probe's arena (values; model_api.h) */
#define MODEL_PROBE_ARENA {{probe_arena}}L

/* trainc gen --max-memory: what the step computes again in the backward
 * to fit the budget, for info ("" when nothing) */
#define MODEL_RECOMPUTE {{recompute}}

/* ==== the inference API: the trained model in another C program ====
 *
 * Build: model.c, predict.c and runtime/ *.c with -I. (the folder's
 * `ninja lib{{name}}.a` makes them one static library), then link OpenBLAS,
 * zlib and libm; main.c (the trainer) is not needed. A --dtype double model
 * is compiled with -DTRAINC_DOUBLE and `real` is double. For example:
 *
 *     #include "model.h"
 *     if ({{name}}_load("{{name}}.weights")) {   // as the trainer saved it
 *         fprintf(stderr, "%s\n", {{name}}_error());
 *         return 1;
 *     }
 *     real x[2 * {{name_upper}}_FEATURES] = {...};  // 2 rows of features
 *     real p[2 * {{name_upper}}_OUTPUTS];
 *     int cls[2];
 *     {{name}}_classify(x, 2, cls, p);            // or {{name}}_predict(x, 2, p)
 *
 * Rows are raw features, as in the trainer's `predict FILE.csv`: the
 * spec's scaling and standardisation (with the statistics saved in the
 * weights) are applied inside. The numbers are those the trainer's predict
 * writes for the same rows in one call: the eval-mode forward pass on whole
 * batches of MODEL_BATCH rows, then single rows. The weights and the work
 * buffers live inside predict.c (one model per program, calls from one
 * thread at a time); functions return 0, or -1 with the reason in
 * {{name}}_error(). */
#define {{name_upper}}_FEATURES {{features}}  /* input values per row */
#define {{name_upper}}_OUTPUTS {{output_len}} /* output values per row */
#define {{name_upper}}_CLASSES {{classes}}    /* K of labels { classes = K }; 0: one output or values */

/* Loads weights saved by the trainer (train, or --weights FILE); refuses
 * another model's weights, another element type or a damaged file. */
int {{name}}_load(const char *path);
/* The same from the bytes of a weights file already in memory (embedded in
 * the program, or read by the caller). */
int {{name}}_load_buffer(const void *buf, size_t len);
/* out[r * {{name_upper}}_OUTPUTS + k] for rows r of x[r * {{name_upper}}_FEATURES + j]:
 *   classes (softmax outputs)      the probability of each class
 *   one probability (sigmoid/bce)  that probability, of class 1
 *   one logit (bce_with_logits, logistic)  its sigmoid, of class 1 (+1)
 *   values (regression)            the values */
int {{name}}_predict(const real *x, int rows, real *out);
/* The same and the class of each row (argmax; p >= 0.5: 1, else 0, or -1
 * for labels in {-1, +1}); out may be NULL. */
int {{name}}_classify(const real *x, int rows, int *classes, real *out);
/* Why the last call failed. */
const char *{{name}}_error(void);
/* Frees the weights and buffers (a later load allocates them again). */
void {{name}}_free(void);

#endif
