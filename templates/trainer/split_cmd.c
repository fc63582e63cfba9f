/* {{header}}
 *
 * split_cmd.c — the split command of the trainer of {{name}}: which rows of
 * the training file it trains on and which it holds out for validation and
 * testing (valid = ..., test = ... in the spec), one CSV line a row. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "trainer.h"

/* part[i] = name for the rows of a view */
static void mark(const rt_dataset *v, const char **part, const char *name)
{
    for (int32_t i = 0; i < v->n; i++) part[v->rows ? v->rows[i] : i] = name;
}

int tr_cmd_split(const options *o)
{
    if (model_train_data.kind == RT_SRC_NONE) {
        printf("%s: the spec has no data to split\n", MODEL_NAME);
        return 0;
    }
    buffers b = tr_alloc_buffers(0);
    data d = tr_load_data(&b, 1, 0);
    const char **part = tr_alloc_or_die((size_t)d.all.n, sizeof *part);
    mark(&d.train, part, "train");
    mark(&d.valid, part, "valid");
    if (MODEL_N_TEST_SPLIT > 0) mark(&d.test, part, "test");
    FILE *f = o->out ? fopen(o->out, "w") : stdout;
    if (!f) {
        fprintf(stderr, "%s: %s: cannot open: %s\n", MODEL_NAME, o->out, strerror(errno));
        return 1;
    }
    /* rows of the training file from 0, as it holds them (a CSV's header not counted) */
    fprintf(f, "row,part\n");
    for (int32_t i = 0; i < d.all.n; i++) fprintf(f, "%ld,%s\n", (long)i, part[i]);
    if (f != stdout ? fclose(f) != 0 : fflush(f) != 0) {
        fprintf(stderr, "%s: %s: %s\n", MODEL_NAME, o->out ? o->out : "standard output",
                strerror(errno));
        return 1;
    }
    return 0;
}
