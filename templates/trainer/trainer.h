/* {{header}}
 *
 * trainer.h — what the files of the trainer of {{name}} share: the options,
 * the buffers, the data and the helpers every command uses. Each command
 * (train, eval, predict, export, info, gradcheck, plot, split) has a file of its
 * own; main.c picks one. */
#ifndef TRAINER_H
#define TRAINER_H

#include <stdio.h>

#include "model_api.h"

/* model.h's constants, read from model_consts (model_consts.c): the
 * trainer's files are the same C for every model */
#define MODEL_NAME (model_consts.name)
#define MODEL_SPEC (model_consts.spec)
#define MODEL_HASH (model_consts.hash)
#define MODEL_GENERATOR (model_consts.generator)
#define MODEL_N_PARAMS (model_consts.n_params)
#define MODEL_N_STATE (model_consts.n_state)
#define MODEL_ARENA (model_consts.arena)
#define MODEL_FEATURES (model_consts.features)
#define MODEL_LABEL_LEN (model_consts.label_len)
#define MODEL_CLASSES (model_consts.classes)
#define MODEL_OUTPUT_LEN (model_consts.output_len)
#define MODEL_TASK (model_consts.task)
#define MODEL_N_TRAIN (model_consts.n_train)
#define MODEL_N_VALID (model_consts.n_valid)
#define MODEL_N_TEST_SPLIT (model_consts.n_test_split)
#define MODEL_SPLIT_SEED (model_consts.split_seed)
#define MODEL_SPLIT_CLASSES (model_consts.split_classes)
#define MODEL_TEST_TAIL (model_consts.test_tail)
#define MODEL_VALID_TAIL (model_consts.valid_tail)
#define MODEL_BATCH (model_consts.batch)
#define MODEL_BATCH_TEXT (model_consts.batch_text)
#define MODEL_REMAINDER (model_consts.remainder)
#define MODEL_SHARDS (model_consts.shards)
#define MODEL_SHARD_ARENA (model_consts.shard_arena)
#define MODEL_SYNC_POINTS (model_consts.sync_points)
#define MODEL_SYNC_DOUBLES (model_consts.sync_doubles)
#define MODEL_TRAIN_FLOPS (model_consts.train_flops)
#define MODEL_EVAL_FLOPS (model_consts.eval_flops)
#define MODEL_NOISE (model_consts.noise)
#define MODEL_TINY_STEP (model_consts.tiny_step)
#define MODEL_EPOCHS (model_consts.epochs)
#define MODEL_SEED (model_consts.seed)
#define MODEL_SHUFFLE (model_consts.shuffle)
#define MODEL_LR (model_consts.lr)
#define MODEL_OPTIMIZER (model_consts.optimizer)
#define MODEL_CLOSURE_STEP (model_consts.closure_step)
#define MODEL_SCHEDULE (model_consts.schedule)
#define MODEL_SCHEDULE_PER_STEP (model_consts.schedule_per_step)
#define MODEL_PLATEAU (model_consts.plateau)
#define MODEL_EARLY_STOP (model_consts.early_stop)
#define MODEL_ES_PATIENCE (model_consts.es_patience)
#define MODEL_ES_MIN_DELTA (model_consts.es_min_delta)
#define MODEL_ES_RESTORE (model_consts.es_restore)
#define MODEL_ES_MONITOR_LOSS (model_consts.es_monitor_loss)
#define MODEL_STRATIFY (model_consts.stratify)
#define MODEL_AUG_CROP (model_consts.aug_crop)
#define MODEL_AUG_FLIP (model_consts.aug_flip)
#define MODEL_IMAGE_C (model_consts.image_c)
#define MODEL_IMAGE_H (model_consts.image_h)
#define MODEL_IMAGE_W (model_consts.image_w)
#define MODEL_SAMPLE_REPLACE (model_consts.sample_replace)
#define MODEL_STOP_GRAD_NORM (model_consts.stop_grad_norm)
#define MODEL_N_DROPOUT (model_consts.n_dropout)
#define MODEL_N_DROPCONNECT (model_consts.n_dropconnect)
#define MODEL_N_PENALTY (model_consts.n_penalty)
#define MODEL_WEIGHT_DECAY (model_consts.weight_decay)
#define MODEL_TRACK_SHARPNESS (model_consts.track_sharpness)
#define MODEL_SCALE (model_consts.scale)
#define MODEL_STANDARDIZE (model_consts.standardize)
#define MODEL_PROBE_ARENA (model_consts.probe_arena)
#define MODEL_RECOMPUTE (model_consts.recompute)
#define MODEL_AUGMENT (MODEL_AUG_CROP > 0 || MODEL_AUG_FLIP)

/* what model.c has only for some specs: the shards' pool (shards > 1), the
 * plateau schedule's state, one of the two kinds of optimizer step
 * (MODEL_CLOSURE_STEP says which); weak, so that the trainer links without
 * the others and tests MODEL_* before it calls them */
int model_shards_start(int threads) __attribute__((weak));
extern const rt_plateau model_plateau_init __attribute__((weak));
void model_update(real *param, real *grad, real *state, double lr, double momentum, long t)
    __attribute__((weak));
real model_train_update(int rows, real *param, real *grad, const real *x, const real *y, real *out,
                        real *arena, uint64_t noise, const model_update_args *u)
    __attribute__((weak));
model_step_info model_closure_step(real *param, real *grad, real *state, double lr, double loss,
                                   const model_closure *f) __attribute__((weak));
/* the Hessian-vector product (train { hvp = true }, or optimizer = newton) */
real model_hvp(int rows, real *param, const real *vec, real *hv, const real *x, const real *y,
               real *out, real *arena, uint64_t noise) __attribute__((weak));

/* options.c: the command line */
typedef struct options {
    const char *command, *arg, *weights, *metrics, *step_metrics, *out, *trace, *init, *checkpoint,
        *resume;
    const char *plot;     /* --plot: the curves' picture */
    const char *label;    /* --label: predict's label column */
    const char *failures; /* eval --failures: the rows sorted by loss, as CSV */
    /* --layer-metrics: per-layer health (layer_metrics.c) */
    const char *layer_metrics;
    long every, every_steps;
    int epochs, threads, quiet;
    int no_guard; /* --no-guard: train on through numbers that are not finite */
    int profile;  /* train --profile: the time of each op of the step */
    int lr_given, seed_given, weights_given; /* --lr, --seed, --weights were on the command line */
    long steps, limit;
    double lr, tol;
    double lr_from, lr_to; /* lr-find: --from, --to */
    int range_given;       /* ... either was on the command line */
    long overfit;          /* train --overfit N: the first N rows (0: off) */
    int epochs_given;      /* --epochs was on the command line */
    const char *rows_text; /* --rows as given: landscape's, or hvp's and hessian's */
    long rows, iters;      /* hvp, hessian: --rows, --iters (0: their defaults) */
    long top;              /* hessian --top K (0: not given) */
    int exact;             /* hessian --exact */
    int spec;              /* info --spec */
    unsigned seed;
    /* landscape (landscape.c checks the values): --to (lr-find's last lr is
     * read from it too), --range, --points, --grid, --rows, --directions,
     * --path (repeated), --plane, --pca */
    const char *to, *ls_range, *ls_points, *ls_grid, *ls_rows, *ls_directions;
#define TR_MAX_PATHS 16
    const char *ls_paths[TR_MAX_PATHS];
    int ls_n_paths, ls_plane, ls_pca, ls_given;
    int ranks;        /* info --ranks R: the cost model of R ranks (0: not given) */
    double link_gbps; /* ... --link-gbps G (0: not given) */
} options;

extern const char *const tr_usage[]; /* main.c: what --help prints, in parts, NULL-ended */
options tr_parse_args(int argc, char **argv);
/* A usage error: the message (fmt with what), a pointer to --help, exit 2. */
void tr_die_usage(const char *fmt, const char *what);

/* paths.c: the trainer's own files beside its binary; standard input as a file */
const char *tr_beside_binary(const char *name);
/* eval, predict, export without --weights before any training: says to train first, exit 1 */
void tr_need_weights(const options *o);
const char *tr_stdin_file(void);
/* 1 when path exists (or cannot be told not to) */
int tr_exists(const char *path);
/* The names of a command's CSV and its picture (lr-find's rule): -o FILE
 * (exit 1 when it or the .svg beside it exists), else <model>-<what>.csv,
 * -2.csv, ... the first whose two names are free. */
/* (nonnull: gcc with the sanitizers otherwise warns of a null csv) */
void tr_choose_csv_svg(const options *o, const char *what, char *csv, char *svg, size_t size)
    __attribute__((nonnull));
/* tr_fail, saying the file path as the user named it (as) */
void tr_fail_as(const rt_error *err, const char *path, const char *as);

/* buffers.c: the buffers, allocated once, before any step */
typedef struct buffers {
    real *param, *grad, *state, *arena;
    real *x, *y, *out; /* one batch */
    real *stats;       /* standardisation mean and std per feature */
    int32_t *order;
} buffers;

/* the training file as loaded (all), and the parts of it trained on and
 * held out (views of its rows); test: the test file, or the rows held out */
typedef struct data {
    rt_dataset all, train, valid, test;
} data;

void *tr_alloc_or_die(size_t count, size_t size);
buffers tr_alloc_buffers(long rows);
/* An error of the runtime: its message, exit 1. */
void tr_fail(const rt_error *err);
/* Scaling and standardisation, as the training rows have them, applied as
 * ds's rows are gathered. */
void tr_prepare(rt_dataset *ds, const real *stats);
data tr_load_data(buffers *b, int need_train, int need_test);
void tr_load_weights(const options *o, buffers *b);

/* eval.c: evaluation, whole batches, then the leftover rows one at a time */
typedef struct result {
    double loss, accuracy;
} result;

/* confusion: counts[true * k + predicted] for k = rt_task_classes(...), or NULL */
result tr_evaluate_counting(const rt_dataset *ds, buffers *b, long *confusion);
result tr_evaluate(const rt_dataset *ds, buffers *b);
void tr_print_result(const char *what, result r);
/* class c as the labels name it: its name, or its number (-1 for a sign
 * model's negative class) */
const char *tr_class_name(int c, char *buf, size_t size);

/* the confusion matrix (counts[true * k + predicted]) and each class's
 * precision, recall and support */
void tr_print_confusion(const long *counts, int k);
/* predict_cmd.c: text as one CSV cell (quoted where RFC 4180 needs it) */
void tr_put_cell(FILE *f, const char *text);

/* ensemble.c: the predictions row by row, of the --weights file or of
 * several (--weights a.w,b.w: an ensemble, probabilities averaged) */
typedef struct tr_rows {
    long n;
    int members;  /* weights files averaged */
    real *p;      /* [n x MODEL_OUTPUT_LEN] probabilities (rt_decide's) or values */
    real *y;      /* [n x MODEL_LABEL_LEN] the rows' labels */
    double *loss; /* [n] each row's loss (need_loss), or NULL */
} tr_rows;
/* --weights as a list (a comma separates files; an empty item is a usage
 * error); one file where no list is given */
const char **tr_weights_list(const options *o, int *count);
tr_rows tr_predict_rows(const options *o, const rt_dataset *ds, buffers *b, int need_loss);
void tr_rows_free(tr_rows *t);
/* the class of a row of (averaged) probabilities, as rt_decide gives it */
int tr_class_of(const real *p);
/* eval of an ensemble: loss (cross-entropy of the averaged probabilities;
 * squared error of the averaged values), accuracy, confusion matrix */
int tr_eval_ensemble(const options *o);
/* failures.c: eval --failures */
int tr_write_failures(const options *o, const rt_dataset *ds, const tr_rows *t);
int tr_eval_failures(const options *o, const rt_dataset *ds, buffers *b);

/* plot.c: draws a metrics CSV as an SVG picture (svg NULL: beside the CSV) */
int tr_plot_curves(const char *csv, const char *svg, int quiet);

typedef struct layer_metrics layer_metrics; /* layer_metrics.c */

/* hints.c: the training losses of the whole epochs of a run, as much as
 * the hints read (no allocation in the training loop) */
#define TR_HINT_WINDOW 11
typedef struct hint_curve {
    long n;                      /* whole epochs */
    double last[TR_HINT_WINDOW]; /* the newest losses: last[(n - 1) % TR_HINT_WINDOW] */
    double lo, hi;               /* over all the epochs */
    double lo2, hi2;             /* from epoch 2 on */
    int not_finite;              /* a loss was not a number: no hint */
} hint_curve;

/* train.c, train_files.c: one training run, from its start (or a
 * checkpoint) to its end; the epoch under way at the bottom */
/* profile.c: train --profile, the time of each op block of the step */
typedef struct tr_profile {
    double *acc;          /* seconds per op block (model_prof_ops), summed */
    double update, total; /* seconds in the optimizer's update, in whole steps */
    double whole;         /* the shares' whole: total, or the ops' sum when above it */
    long steps, seen;     /* full-batch steps timed, and run */
    int timing;           /* the step running now is timed */
    double t;             /* when it began */
} tr_profile;
void tr_profile_begin(tr_profile *p);
/* around each step of `rows` rows: times it, unless it is a partial step or
 * the first one (cold caches, the buffers' first touch) */
void tr_profile_step_begin(tr_profile *p, int rows);
void tr_profile_step_end(tr_profile *p);
void tr_profile_report(tr_profile *p);

typedef struct train_run {
    const options *o;
    buffers b;
    data d;
    long n;           /* rows trained on (--limit: fewer) */
    int remainder;    /* rows of the last, partial batch (0: none) */
    int gather;       /* 1: batches are gathered (else slices of the data) */
    rt_checkpoint ck; /* everything a checkpoint holds; a resumed run starts from it */
    real *es_weights; /* early stopping: the weights of the best loss so far */
    FILE *trace, *metrics, *step_metrics;
    double metrics_t, step_metrics_t; /* the time earlier runs took */
    rt_rng shuffle_rng, aug_rng;      /* the data order's stream, augmentation's */
    rt_early_stop es;
    rt_plateau plateau; /* used by a plateau schedule only */
    uint32_t seed;      /* dropout's masks: keyed by the seed and the step */
    int n_classes;      /* stratified batches: the class of every row */
    int32_t *classes, *strat_scratch;
    real *aug_scratch;
    int bar; /* a progress line within the epoch (on a terminal) */
    rt_progress progress;
    long rows_run; /* rows trained by this process, for its speed */
    long step, total;
    double t0, base_lr, lr;
    int stop;
    long resume_pos; /* rows of the first epoch a checkpoint had trained already */
    int epoch, bar_shown;
    double te, loss_sum, norm_sum;
    long norm_steps, correct, seen, done;
    double step_size; /* the last step's length (line searches: step_size in the metrics) */
    int step_evals;   /* and its evaluations of the batch */
    layer_metrics *lm; /* --layer-metrics, else NULL */
    hint_curve curve;  /* hints.c: what the epochs' training losses show */
    double first_loss; /* of this run's first step (hints.c) */
    struct tr_overfit *overfit; /* train --overfit: overfit.c's (NULL: off) */
    tr_profile prof; /* --profile */
    /* what the run records, fixed in ready(): a step computes only these */
    int need_correct; /* the epoch's accuracy is printed, recorded or checkpointed */
    int need_norm;    /* the gradient norm is recorded, checkpointed or watched */
    int epoch_due;    /* an epoch's end has something to do (print, evaluate, ...) */
    int mpi_hash;     /* TRAINC_MPI_HASH is set */
    int step_extras;  /* a step writes more than its sums (train.c's after_step) */
    int plain;        /* none of these: train.c's train_plain runs the steps */
} train_run;

int tr_all_finite(const real *p, long n);
/* The divergence guard's message; returns the exit status, 1. */
int tr_diverged(const char *why, int epoch, long step, double lr);
void tr_load_init(const options *o, buffers *b);
/* The class of every training row, for stratified batches (k classes). */
int32_t *tr_row_classes(const rt_dataset *ds, long n, int *k);
int tr_open_trace(train_run *r, const options *o);
void tr_trace_step(FILE *trace, long step, double loss, double lr, const real *param);
void tr_open_metrics(train_run *r, const options *o);
void tr_save_checkpoint(train_run *r, int epoch_end);
/* sampling.c: the rows of a step from start (the epoch's order, or drawn
 * with replacement) */
const int32_t *tr_batch_rows(train_run *r, long start, int rows);
/* closure_step.c: one step of an optimizer that searches along a direction
 * (MODEL_CLOSURE_STEP; loss and b->grad already evaluated at b->param); its
 * step length and evaluations go to r; 1 (and r->stop) when Armijo's
 * search stalled */
int tr_closure_step(train_run *r, int rows, const real *bx, const real *by, uint64_t noise,
                    double loss);
/* grad_stop.c: 1 when stop_grad_norm stops the run at this step (before its
 * update), its figures counted and the line printed */
int tr_grad_norm_reached(train_run *r, double loss, double grad_norm, const real *by, int rows);
/* layer_metrics.c: train --layer-metrics; each does nothing without it
 * (the update hooks are called only with it) */
void tr_lm_begin(train_run *r, const options *o);
void tr_lm_open(train_run *r, const options *o);
void tr_lm_before_update(layer_metrics *lm, const real *param, const real *grad);
void tr_lm_after_update(train_run *r, const real *param);
void tr_lm_row(train_run *r, int epoch);
void tr_lm_close(train_run *r);
/* hints.c: the epochs' training losses, and the hint they show after training */
void tr_hint_epoch(train_run *r, double loss);
void tr_hint_print(const train_run *r);

/* overfit.c: train --overfit N, hooks train.c calls. The options with its
 * epochs (checked; copy holds them); the first N rows, regularisation off;
 * after each epoch: learnt yet? (stops the run); whether to print the epoch's
 * line; the end: the verdict line and the exit status. */
const options *tr_overfit_options(const options *o, options *copy);
void tr_overfit_begin(train_run *r);
void tr_overfit_epoch(train_run *r);
int tr_overfit_show(const train_run *r);
int tr_overfit_finish(train_run *r);

/* the commands: each returns the exit status */
int tr_cmd_train(const options *o);
int tr_cmd_eval(const options *o);
int tr_cmd_predict(const options *o);
int tr_cmd_export(const options *o);
int tr_cmd_export_c(const options *o); /* export_c.c */
int tr_cmd_info(const options *o);
/* info_ranks.c: info --ranks R, the cost model of training on R ranks */
int tr_info_ranks(const options *o);
/* info --spec: the spec this trainer was generated from, byte for byte */
int tr_cmd_info_spec(void);
/* --version: trainc's version and options, the spec hash, the compiler and flags */
void tr_print_version(void);
int tr_cmd_gradcheck(const options *o);
int tr_cmd_hvp(const options *o);     /* hvp_cmd.c */
int tr_cmd_hessian(const options *o); /* hvp_cmd.c */
/* hvp_cmd.c: the Hessian's λmax over the rows trained on, at the weights
 * now (train { track_sharpness = N }) */
double tr_sharpness(train_run *r);
int tr_cmd_plot(const options *o);
int tr_cmd_split(const options *o);
int tr_cmd_lr_find(const options *o); /* lr_find.c */
int tr_cmd_landscape(const options *o); /* landscape.c */

/* mpi.c: several processes (the -mpi trainer; one in the plain trainer).
 * begin: MPI_Init under mpirun, the checks, each rank's share of the
 * command (rank > 0: quiet, no files); -1 to go on, or this rank's exit
 * status. end: MPI_Finalize after a good run; returns rc. */
int tr_mpi_begin(int *argc, char ***argv, options *o);
int tr_mpi_end(int rc);
int tr_rank(void); /* 0: this process writes the files */
/* the ranks that evaluate together (tr_evaluate_counting, predict): all
 * of them in train, gradcheck, eval and predict under mpirun; 1 otherwise */
int tr_eval_ranks(void);
/* every rank's part of an evaluation made whole on every rank: each block's
 * loss (computed by one rank, 0 on the others), the correct rows and the
 * confusion counts (cells of them) */
void tr_mpi_eval_sum(double *block_loss, long blocks, long *correct, long *confusion, long cells);
/* a buffer each of whose values one rank wrote (zero bytes on the others)
 * made whole on every rank (predict's outputs) */
void tr_mpi_merge(void *buf, size_t bytes);
/* TRAINC_MPI_HASH=PREFIX: the weights' hash after each step, and at the end
 * written to PREFIX.<rank> */
void tr_mpi_step_hash(const real *param);
void tr_mpi_final_hash(const real *param);

#endif
/* sampling.c: the rows of a step from start (the epoch's order, or drawn
 * with replacement) */
const int32_t *tr_batch_rows(train_run *r, long start, int rows);
/* grad_stop.c: 1 when stop_grad_norm stops the run at this step (before its
 * update), its figures counted and the line printed */
int tr_grad_norm_reached(train_run *r, double loss, double grad_norm, const real *by, int rows);
