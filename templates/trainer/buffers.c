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
    if (MODEL_SCALE != 0) rt_data_scale(ds, MODEL_SCALE);
    if (MODEL_STANDARDIZE) rt_standardize_apply(ds, stats, stats + MODEL_FEATURES);
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
    if (need_train) {
        if (rt_data_load(&model_train_data, MODEL_FEATURES, MODEL_LABEL_LEN, MODEL_CLASSES,
                         &d.train, &err))
            tr_fail(&err);
        if (d.train.n != MODEL_N_TRAIN + MODEL_N_VALID) {
            fprintf(stderr,
                    "%s: the training data has %ld rows, but this trainer was generated for %ld; "
                    "run trainc again on %s\n",
                    MODEL_NAME, (long)d.train.n, (long)(MODEL_N_TRAIN + MODEL_N_VALID), MODEL_SPEC);
            exit(1);
        }
        if (MODEL_N_VALID > 0 && rt_data_split(&d.train, MODEL_N_VALID, &d.valid, &err))
            tr_fail(&err);
        /* scale first, then standardise with statistics of the training rows only */
        if (MODEL_SCALE != 0) rt_data_scale(&d.train, MODEL_SCALE);
        if (MODEL_STANDARDIZE) {
            rt_standardize_fit(&d.train, b->stats, b->stats + MODEL_FEATURES);
            rt_standardize_apply(&d.train, b->stats, b->stats + MODEL_FEATURES);
        }
        if (MODEL_N_VALID > 0) tr_prepare(&d.valid, b->stats);
    }
    if (need_test && model_test_data.kind != RT_SRC_NONE) {
        if (rt_data_load(&model_test_data, MODEL_FEATURES, MODEL_LABEL_LEN, MODEL_CLASSES, &d.test,
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
