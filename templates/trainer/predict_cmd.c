/* {{header}}
 *
 * predict_cmd.c — the predict command of the trainer of {{name}}: the
 * predictions for each row of a file of features, as CSV. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "trainer.h"

int tr_cmd_predict(const options *o)
{
    rt_error err;
    if (!o->arg) tr_die_usage("%s", "predict needs a file of features (CSV, .npy or IDX)");
    buffers b = tr_alloc_buffers(0);
    tr_load_weights(o, &b);
    rt_dataset ds;
    int from_stdin = !strcmp(o->arg, "-");
    const char *path = from_stdin ? tr_stdin_file() : o->arg;
    if (rt_read_features(path, MODEL_FEATURES, &ds, &err))
        tr_fail_as(&err, path, from_stdin ? "standard input" : path);
    tr_prepare(&ds, b.stats);
    FILE *f = o->out ? fopen(o->out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", MODEL_NAME, o->out, strerror(errno));
        return 1;
    }
    if (MODEL_TASK == RT_TASK_CLASSIFY) {
        fprintf(f, "class");
        for (int c = 0; c < MODEL_OUTPUT_LEN; c++) fprintf(f, ",p%d", c);
        fprintf(f, "\n");
    } else if (MODEL_TASK == RT_TASK_BINARY || MODEL_TASK == RT_TASK_LOGIT ||
               MODEL_TASK == RT_TASK_SIGN) {
        fprintf(f, "class,p\n");
    } else {
        for (int c = 0; c < MODEL_OUTPUT_LEN; c++) fprintf(f, "%sy%d", c ? "," : "", c);
        fprintf(f, "\n");
    }
    int32_t idx[MODEL_BATCH];
    memset(b.y, 0, sizeof(real) * MODEL_BATCH * (MODEL_LABEL_LEN ? MODEL_LABEL_LEN : 1));
    for (long start = 0; start < ds.n;) {
        int rows = ds.n - start >= MODEL_BATCH ? MODEL_BATCH : 1;
        for (int r = 0; r < rows; r++) idx[r] = (int32_t)(start + r);
        rt_data_gather(&ds, idx, rows, b.x, NULL);
        model_eval(rows, b.param, b.x, b.y, b.out, b.arena);
        for (int r = 0; r < rows; r++) {
            /* the same reading as the model.h API's <model>_classify */
            real p[MODEL_OUTPUT_LEN];
            int cls =
                rt_decide(MODEL_TASK, b.out + (long)r * MODEL_OUTPUT_LEN, MODEL_OUTPUT_LEN, p);
            if (MODEL_TASK == RT_TASK_CLASSIFY || MODEL_TASK == RT_TASK_BINARY ||
                MODEL_TASK == RT_TASK_LOGIT || MODEL_TASK == RT_TASK_SIGN) {
                fprintf(f, "%d", cls);
                for (int c = 0; c < (MODEL_TASK == RT_TASK_CLASSIFY ? MODEL_OUTPUT_LEN : 1); c++)
                    fprintf(f, ",%.6g", (double)p[c]);
                fprintf(f, "\n");
            } else {
                for (int c = 0; c < MODEL_OUTPUT_LEN; c++)
                    fprintf(f, "%s%.9g", c ? "," : "", (double)p[c]);
                fprintf(f, "\n");
            }
        }
        start += rows;
    }
    if (f != stdout && fclose(f)) {
        fprintf(stderr, "%s: %s: %s\n", MODEL_NAME, o->out, strerror(errno));
        return 1;
    }
    rt_data_free(&ds);
    return 0;
}
