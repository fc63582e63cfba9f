/* {{header}}
 *
 * predict_cmd.c — the predict command of the trainer of {{name}}: the
 * predictions for each row of a file of features, as CSV. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

/* --label COL: a name, a 0-based index, or last (-1) */
static void set_label(rt_source *s, const char *col)
{
    char *end;
    long i = strtol(col, &end, 10);
    s->label = NULL;
    if (!strcmp(col, "last") || !strcmp(col, "-1"))
        s->label_col = RT_CSV_LAST;
    else if (*col >= '0' && *col <= '9' && !*end && i < (1L << 24))
        s->label_col = (int)i;
    else
        s->label = col;
}

/* text as one CSV cell: quoted when it holds a comma, a quote, a line end
 * or spaces at its ends (RFC 4180) */
void tr_put_cell(FILE *f, const char *text)
{
    size_t n = strlen(text);
    if (!strpbrk(text, ",\"\r\n") && !(n && (text[0] == ' ' || text[n - 1] == ' '))) {
        fputs(text, f);
        return;
    }
    fputc('"', f);
    for (; *text; text++) {
        if (*text == '"') fputc('"', f);
        fputc(*text, f);
    }
    fputc('"', f);
}

/* The header line: the class and its probabilities (by the class names
 * where the model has them), or the values. */
static void print_header(FILE *f)
{
    if (MODEL_TASK == RT_TASK_CLASSIFY) {
        fprintf(f, "class");
        for (int c = 0; c < MODEL_OUTPUT_LEN; c++) {
            if (c >= model_n_class_names) {
                fprintf(f, ",p%d", c);
                continue;
            }
            char head[1024]; /* p_<name> */
            snprintf(head, sizeof head, "p_%s", model_class_names[c]);
            fputc(',', f);
            tr_put_cell(f, head);
        }
        fprintf(f, "\n");
    } else if (MODEL_TASK == RT_TASK_BINARY || MODEL_TASK == RT_TASK_LOGIT ||
               MODEL_TASK == RT_TASK_SIGN) {
        fprintf(f, "class,p\n");
    } else {
        for (int c = 0; c < MODEL_OUTPUT_LEN; c++) fprintf(f, "%sy%d", c ? "," : "", c);
        fprintf(f, "\n");
    }
}

/* One row: its class and probabilities p, or its values. */
static void print_row(FILE *f, int cls, const real *p)
{
    if (MODEL_TASK == RT_TASK_CLASSIFY || MODEL_TASK == RT_TASK_BINARY ||
        MODEL_TASK == RT_TASK_LOGIT || MODEL_TASK == RT_TASK_SIGN) {
        if (cls >= 0 && cls < model_n_class_names) /* sign labels: -1 */
            tr_put_cell(f, model_class_names[cls]);
        else
            fprintf(f, "%d", cls);
        for (int c = 0; c < (MODEL_TASK == RT_TASK_CLASSIFY ? MODEL_OUTPUT_LEN : 1); c++)
            fprintf(f, ",%.6g", (double)p[c]);
        fprintf(f, "\n");
    } else {
        for (int c = 0; c < MODEL_OUTPUT_LEN; c++) fprintf(f, "%s%.9g", c ? "," : "", (double)p[c]);
        fprintf(f, "\n");
    }
}

/* a row's outputs read as the model.h API's <model>_classify does */
static void print_output(FILE *f, const real *out)
{
    real p[MODEL_OUTPUT_LEN];
    int cls = rt_decide(MODEL_TASK, out, MODEL_OUTPUT_LEN, p);
    print_row(f, cls, p);
}

int tr_cmd_predict(const options *o)
{
    rt_error err;
    if (!o->arg) tr_die_usage("%s", "predict needs a file of features (CSV, .npy or IDX)");
    int members;
    free(tr_weights_list(o, &members));
    buffers b = tr_alloc_buffers(0);
    if (members == 1) tr_load_weights(o, &b); /* an ensemble loads each file in turn */
    rt_dataset ds;
    /* a CSV shaped like the training file: its columns chosen the same way,
     * its label column (or --label's) dropped */
    rt_source like = model_train_data;
    if (like.kind != RT_SRC_CSV) {
        memset(&like, 0, sizeof like);
        like.kind = RT_SRC_CSV;
        like.header = -1;
        like.label_col = -1;
    }
    if (o->label) set_label(&like, o->label);
    int use_like = model_train_data.kind == RT_SRC_CSV || o->label;
    int from_stdin = !strcmp(o->arg, "-");
    const char *path = from_stdin ? tr_stdin_file() : o->arg;
    if (rt_read_features_like(path, MODEL_FEATURES, use_like ? &like : NULL, o->label != NULL,
                              &ds, &err))
        tr_fail_as(&err, path, from_stdin ? "standard input" : path);
    tr_prepare(&ds, b.stats);
    tr_rows t = {.members = members};
    if (members > 1) t = tr_predict_rows(o, &ds, &b, 0);
    FILE *f = o->out ? fopen(o->out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", MODEL_NAME, o->out, strerror(errno));
        return 1;
    }
    print_header(f);
    if (t.members > 1) { /* an ensemble: the averaged probabilities */
        for (long i = 0; i < t.n; i++)
            print_row(f, tr_class_of(t.p + i * MODEL_OUTPUT_LEN), t.p + i * MODEL_OUTPUT_LEN);
    }
    int32_t idx[MODEL_BATCH];
    memset(b.y, 0, sizeof(real) * MODEL_BATCH * (MODEL_LABEL_LEN ? MODEL_LABEL_LEN : 1));
    /* under mpirun (mpi.c) block j of rows is rank j % ranks's; the outputs
     * meet in outs, which rank 0 prints */
    const int ranks = t.members == 1 ? tr_eval_ranks() : 1, rank = tr_rank();
    real *outs = ranks > 1 ? calloc((size_t)ds.n * MODEL_OUTPUT_LEN + 1, sizeof(real)) : NULL;
    if (ranks > 1 && !outs) tr_die_usage("%s", "out of memory");
    for (long start = 0, j = 0; t.members == 1 && start < ds.n; j++) {
        int rows = ds.n - start >= MODEL_BATCH ? MODEL_BATCH : 1;
        if (j % ranks != rank) {
            start += rows;
            continue;
        }
        for (int r = 0; r < rows; r++) idx[r] = (int32_t)(start + r);
        rt_data_gather(&ds, idx, rows, b.x, NULL);
        model_eval(rows, b.param, b.x, b.y, b.out, b.arena);
        if (outs)
            memcpy(outs + start * MODEL_OUTPUT_LEN, b.out, sizeof(real) * rows * MODEL_OUTPUT_LEN);
        for (int r = 0; r < rows && !outs; r++) print_output(f, b.out + (long)r * MODEL_OUTPUT_LEN);
        start += rows;
    }
    if (outs) {
        tr_mpi_merge(outs, sizeof(real) * (size_t)ds.n * MODEL_OUTPUT_LEN);
        for (long i = 0; i < ds.n; i++) print_output(f, outs + i * MODEL_OUTPUT_LEN);
        free(outs);
    }
    if (f != stdout && fclose(f)) {
        fprintf(stderr, "%s: %s: %s\n", MODEL_NAME, o->out, strerror(errno));
        return 1;
    }
    rt_data_free(&ds);
    tr_rows_free(&t);
    return 0;
}
