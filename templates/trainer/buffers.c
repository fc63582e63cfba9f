/* {{header}}
 *
 * buffers.c — what every command of the trainer of {{name}} starts from:
 * the buffers, allocated once, before any step; the data, scaled and
 * standardised; the saved weights. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trainer.h"

void *tr_alloc_or_die(size_t count, size_t size)
{
    size_t bytes = (count ? count : 1) * size;
    void *p = NULL;
    if (posix_memalign(&p, 64, (bytes + 63) / 64 * 64)) {
        fprintf(stderr, "%s: out of memory (%zu bytes)\n", MODEL_NAME, bytes);
        exit(1);
    }
    memset(p, 0, bytes);
    return p;
}

buffers tr_alloc_buffers(long rows)
{
    buffers b;
    b.param = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    b.grad = tr_alloc_or_die((size_t)MODEL_N_PARAMS, sizeof(real));
    b.state = tr_alloc_or_die((size_t)MODEL_N_STATE, sizeof(real));
    b.arena = tr_alloc_or_die((size_t)MODEL_ARENA, sizeof(real));
    b.x = tr_alloc_or_die((size_t)MODEL_BATCH * MODEL_FEATURES, sizeof(real));
    b.y = tr_alloc_or_die((size_t)MODEL_BATCH * (MODEL_LABEL_LEN ? MODEL_LABEL_LEN : 1),
                          sizeof(real));
    b.out = tr_alloc_or_die((size_t)MODEL_BATCH * MODEL_OUTPUT_LEN, sizeof(real));
    b.stats = tr_alloc_or_die(2 * (size_t)MODEL_FEATURES, sizeof(real));
    b.order = tr_alloc_or_die((size_t)(rows > 0 ? rows : 1), sizeof(int32_t));
    return b;
}

void tr_fail(const rt_error *err)
{
    fprintf(stderr, "%s: %s\n", MODEL_NAME, err->msg);
    exit(1);
}

void tr_prepare(rt_dataset *ds, const real *stats)
{
    rt_data_prepare(ds, MODEL_SCALE, MODEL_STANDARDIZE ? stats : NULL,
                    MODEL_STANDARDIZE ? stats + MODEL_FEATURES : NULL);
}

/* The training file's rows split into training, validation and (test =
 * fraction) test rows: views of the one loaded copy, by row indices drawn
 * from the spec's seed (stratified by class for classifiers), or the last
 * rows (order = "tail"). Each part in file order. */
static void split_rows(data *d)
{
    rt_error err;
    const rt_split s = {MODEL_N_TEST_SPLIT, MODEL_N_VALID, MODEL_TEST_TAIL, MODEL_VALID_TAIL,
                        MODEL_SPLIT_SEED};
    int32_t n = d->all.n, *rows = tr_alloc_or_die((size_t)n, sizeof(int32_t));
    int32_t *cls = NULL;
    if (MODEL_SPLIT_CLASSES > 0) {
        cls = tr_alloc_or_die((size_t)n, sizeof(int32_t));
        for (int32_t i = 0; i < n; i++)
            cls[i] = rt_label_class(MODEL_TASK, rt_data_label(&d->all, i));
    }
    int32_t *train = rows, *valid = rows + MODEL_N_TRAIN, *test = valid + MODEL_N_VALID;
    if (rt_split_rows(&s, cls, MODEL_SPLIT_CLASSES, n, train, valid, test, &err)) {
        fprintf(stderr, "%s: %s: %s\n", MODEL_NAME,
                model_train_data.path ? model_train_data.path : model_train_data.images, err.msg);
        exit(1);
    }
    free(cls);
    d->train = rt_data_view(&d->all, train, MODEL_N_TRAIN);
    d->valid = rt_data_view(&d->all, valid, MODEL_N_VALID);
    d->test = rt_data_view(&d->all, test, MODEL_N_TEST_SPLIT);
}

data tr_load_data(buffers *b, int need_train, int need_test)
{
    data d;
    rt_error err;
    memset(&d, 0, sizeof d);
    if (need_train && model_train_data.kind == RT_SRC_NONE) {
        /* a bare objective: one row of nothing, so that an epoch is one step */
        d.train.n = 1;
        d.train.x = b->x;
        d.train.y = b->y;
        return d;
    }
    const int split = MODEL_N_VALID > 0 || MODEL_N_TEST_SPLIT > 0;
    if (need_train || (need_test && MODEL_N_TEST_SPLIT > 0)) {
        /* the features as stored (IDX bytes stay bytes, .npy is mapped):
         * rows become real, scaled and standardised, as batches gather them */
        if (rt_data_open(&model_train_data, MODEL_FEATURES, MODEL_LABEL_LEN, MODEL_CLASSES, &d.all,
                         &err))
            tr_fail(&err);
        const long rows = (long)MODEL_N_TRAIN + MODEL_N_VALID + MODEL_N_TEST_SPLIT;
        if (d.all.n != rows) {
            fprintf(stderr,
                    "%s: the training data has %ld rows, but this trainer was generated for %ld; "
                    "run trainc again on %s\n",
                    MODEL_NAME, (long)d.all.n, rows, MODEL_SPEC);
            exit(1);
        }
        if (split)
            split_rows(&d);
        else
            d.train = rt_data_view(&d.all, NULL, d.all.n);
        /* standardise with statistics of the training rows only, scaled */
        rt_data_prepare(&d.train, MODEL_SCALE, NULL, NULL);
        if (need_train && MODEL_STANDARDIZE)
            rt_standardize_fit(&d.train, b->stats, b->stats + MODEL_FEATURES);
        tr_prepare(&d.train, b->stats);
        tr_prepare(&d.valid, b->stats);
        tr_prepare(&d.test, b->stats);
        if (!need_train) d.train.n = 0, d.valid.n = 0;
    }
    if (need_test && model_test_data.kind != RT_SRC_NONE) {
        if (rt_data_open(&model_test_data, MODEL_FEATURES, MODEL_LABEL_LEN, MODEL_CLASSES, &d.test,
                         &err))
            tr_fail(&err);
        tr_prepare(&d.test, b->stats);
    }
    return d;
}

void tr_load_weights(const options *o, buffers *b)
{
    rt_error err;
    tr_need_weights(o);
    rt_weights w = {b->param, MODEL_N_PARAMS, MODEL_STANDARDIZE ? b->stats : NULL,
                    MODEL_STANDARDIZE ? 2L * MODEL_FEATURES : 0};
    if (rt_weights_load(o->weights, MODEL_HASH, &w, &err)) tr_fail(&err);
}
