/* {{header}}
 *
 * train_files.c — the files a training run of {{name}} reads and writes
 * besides the data and the weights: the starting parameters (--init), the
 * trace (--trace), the metrics (--metrics, --step-metrics) and the
 * checkpoints (--checkpoint); and the classes of the rows, for stratified
 * batches. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trainer.h"

/* a step that searches along its direction: the step length it took and its
 * evaluations of the batch (the epoch's: its last step's) */
#define CLOSURE_COLUMNS ",step_size,evals"
/* train { track_sharpness = N }: the Hessian's λmax (hvp_cmd.c) */
#define SHARPNESS_COLUMN ",sharpness"
#define METRICS_HEADER "epoch,step,loss,accuracy,valid_loss,valid_accuracy,lr,grad_norm,seconds"
#define STEP_METRICS_HEADER "step,epoch,loss,grad_norm,lr,seconds"

/* Fine-tuning and transfer learning: the parameters a folder of .npy files
 * (as export writes them) or a safetensors file has replace the drawn ones,
 * by name; a wrong shape or dtype, or (safetensors) a tensor that is not a
 * parameter of this model, is refused. */
void tr_load_init(const options *o, buffers *b)
{
    rt_error err;
    struct stat st;
    int loaded = 0;
    if (stat(o->init, &st)) {
        fprintf(stderr, "%s: --init %s: %s\n", MODEL_NAME, o->init, strerror(errno));
        exit(1);
    }
    if (S_ISDIR(st.st_mode)) {
        if (rt_params_load_npy_dir(o->init, model_params, model_n_param_tensors, b->param, &loaded,
                                   &err))
            tr_fail(&err);
        if (!loaded) {
            fprintf(stderr, "%s: --init %s: no <parameter>.npy file of this model there\n",
                    MODEL_NAME, o->init);
            exit(1);
        }
    } else if (rt_safetensors_load(o->init, model_params, model_n_param_tensors, b->param, &loaded,
                                   &err)) {
        tr_fail(&err);
    }
    if (!o->quiet)
        printf("%s: %d of %d parameter tensors from %s\n", MODEL_NAME, loaded,
               model_n_param_tensors, o->init);
}

/* The class of every training row, for stratified batches (k classes). */
int32_t *tr_row_classes(const rt_dataset *ds, long n, int *k)
{
    int32_t *cls = tr_alloc_or_die((size_t)n, sizeof(int32_t));
    *k = MODEL_TASK == RT_TASK_CLASSIFY ? MODEL_CLASSES : 2;
    for (long i = 0; i < n; i++) cls[i] = rt_label_class(MODEL_TASK, rt_data_label(ds, (int32_t)i));
    return cls;
}

/* One row of the trace: every parameter value but the running statistics,
 * with enough digits to read back the element type exactly. */
static void trace_params(FILE *trace, const real *param)
{
    const char *fmt = sizeof(real) == 8 ? ",%.17g" : ",%.9g";
    for (int i = 0; i < model_n_param_tensors; i++)
        for (long k = 0; k < model_params[i].numel && !model_params[i].buffer; k++)
            fprintf(trace, fmt, (double)param[model_params[i].offset + k]);
}

/* The trajectory: every parameter after every step, for small models; the
 * header and the initial values. Returns 0, or the exit status of a refusal. */
int tr_open_trace(train_run *r, const options *o)
{
    if (!o->trace) return 0;
    if (MODEL_N_PARAMS > 10000) {
        fprintf(stderr, "%s: --trace: %ld parameters are too many to trace (10000 at most)\n",
                MODEL_NAME, MODEL_N_PARAMS);
        return 2;
    }
    FILE *trace = r->trace = fopen(o->trace, "w");
    if (!trace) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", MODEL_NAME, o->trace, strerror(errno));
        return 1;
    }
    /* the parameters, as torch's named_parameters(): running statistics are not traced */
    fprintf(trace, "step,loss,lr");
    for (int i = 0; i < model_n_param_tensors; i++)
        for (long k = 0; k < model_params[i].numel && !model_params[i].buffer; k++)
            if (model_params[i].numel == 1)
                fprintf(trace, ",%s", model_params[i].name);
            else
                fprintf(trace, ",%s[%ld]", model_params[i].name, k);
    fprintf(trace, "\n0,,");
    trace_params(trace, r->b.param); /* the initial values */
    fprintf(trace, "\n");
    return 0;
}

/* The trace's row after a step. */
void tr_trace_step(FILE *trace, long step, double loss, double lr, const real *param)
{
    fprintf(trace, "%ld,%.17g,%.17g", step, loss, lr);
    trace_params(trace, param);
    fprintf(trace, "\n");
}

/* rt_metrics_open (key: the first column), saying when it starts a file
 * that is not a metrics file of this trainer afresh */
static FILE *open_metrics(const char *path, const char *header, const char *more,
                          long long keep_through, double *seconds)
{
    rt_error err;
    int afresh;
    char head[160]; /* the header, the closure's columns if the step has them, more */
    snprintf(head, sizeof head, "%s%s%s", header, MODEL_CLOSURE_STEP ? CLOSURE_COLUMNS : "", more);
    FILE *f = rt_metrics_open(path, head, 0, keep_through, seconds, &afresh, &err);
    if (afresh)
        fprintf(stderr, "note: %s is not a metrics file of this trainer: starting it afresh\n",
                path);
    if (!f) tr_fail(&err);
    return f;
}

/* The metrics files; a resumed run continues them after the whole epochs
 * and the steps its checkpoint holds. */
void tr_open_metrics(train_run *r, const options *o)
{
    long long done_epochs = o->resume ? (long long)r->ck.run.epoch : -1;
    long long done_steps = o->resume ? (long long)r->ck.run.step : -1;
    r->metrics_t = 0, r->step_metrics_t = 0; /* the time earlier runs took */
    if (o->metrics)
        r->metrics = open_metrics(o->metrics, METRICS_HEADER,
                                  MODEL_TRACK_SHARPNESS ? SHARPNESS_COLUMN : "", done_epochs,
                                  &r->metrics_t);
    if (o->step_metrics)
        r->step_metrics =
            open_metrics(o->step_metrics, STEP_METRICS_HEADER, "", done_steps, &r->step_metrics_t);
}

/* Writes a checkpoint of the run as it stands (atomically): at the end of
 * its epoch, or within it, with the epoch's figures so far; never one of
 * weights that are no longer numbers (unless --no-guard). */
void tr_save_checkpoint(train_run *r, int epoch_end)
{
    rt_error err;
    rt_checkpoint *ck = &r->ck;
    rt_train_state run =
        epoch_end
            ? (rt_train_state){r->step,        r->epoch,   0,     r->base_lr, 0, 0, 0,
                               r->shuffle_rng, r->plateau, r->es, r->aug_rng, 0, 0, r->seed}
            : (rt_train_state){r->step,    r->epoch - 1, r->done,        r->base_lr, r->loss_sum,
                               r->correct, r->seen,      r->shuffle_rng, r->plateau, r->es,
                               r->aug_rng, r->norm_sum,  r->norm_steps,  r->seed};
    if (!r->o->no_guard && !tr_all_finite(ck->params, ck->n_params))
        exit(tr_diverged("the weights are no longer finite", (int)run.epoch + (run.pos > 0),
                         (long)run.step, run.base_lr));
    ck->run = run;
    if (rt_checkpoint_save(r->o->checkpoint, MODEL_HASH, ck, &err)) tr_fail(&err);
}
