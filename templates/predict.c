/* {{header}}
 *
 * predict.c — the inference API of {{name}} (declared at the end of
 * model.h): trained weights in, predictions for rows of features out, on the
 * caller's buffers, through the model's forward pass without gradients
 * (model_eval). It is what the trainer's predict command computes: rows
 * prepared as in training (scale, standardisation with the statistics saved
 * in the weights), whole batches of MODEL_BATCH rows then single rows, and
 * the same probabilities. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"

/* The model's state: its weights and the buffers of one forward pass,
 * allocated by the first load, kept until {{name}}_free. */
static struct {
    real *param, *stats, *arena, *x, *y, *out;
    int loaded;
    rt_error err;
} api;

static void *alloc_zeroed(size_t count)
{
    size_t bytes = (count ? count : 1) * sizeof(real);
    void *p = NULL;
    /* 64-byte aligned as the trainer's buffers, for the vector loops */
    if (posix_memalign(&p, 64, (bytes + 63) / 64 * 64)) return NULL;
    memset(p, 0, bytes);
    return p;
}

static int api_alloc(void)
{
    if (api.param) return 0;
    api.param = alloc_zeroed((size_t)MODEL_N_PARAMS);
    api.stats = alloc_zeroed(2 * (size_t)MODEL_FEATURES);
    api.arena = alloc_zeroed((size_t)MODEL_ARENA);
    api.x = alloc_zeroed((size_t)MODEL_BATCH * MODEL_FEATURES);
    api.y = alloc_zeroed((size_t)MODEL_BATCH * (MODEL_LABEL_LEN ? MODEL_LABEL_LEN : 1));
    api.out = alloc_zeroed((size_t)MODEL_BATCH * MODEL_OUTPUT_LEN);
    if (api.param && api.stats && api.arena && api.x && api.y && api.out) return 0;
    {{name}}_free();
    return rt_fail(&api.err, "%s: out of memory", MODEL_NAME);
}

static int load(const void *buf, size_t len, const char *path)
{
    if (api_alloc()) return -1;
    rt_weights w = {api.param, MODEL_N_PARAMS, MODEL_STANDARDIZE ? api.stats : NULL,
                    MODEL_STANDARDIZE ? 2L * MODEL_FEATURES : 0};
    /* a refused file leaves the weights loaded before as they were */
    int rc = path ? rt_weights_load(path, MODEL_HASH, &w, &api.err)
                  : rt_weights_from_buffer(buf, len, "weights in memory", MODEL_HASH, &w, &api.err);
    if (rc) return -1;
    api.loaded = 1;
    return 0;
}

int {{name}}_load(const char *path)
{
    if (!path) return rt_fail(&api.err, "%s_load: no file name", MODEL_NAME);
    return load(NULL, 0, path);
}

int {{name}}_load_buffer(const void *buf, size_t len)
{
    return load(buf, len, NULL);
}

const char *{{name}}_error(void)
{
    return api.err.msg;
}

void {{name}}_free(void)
{
    free(api.param);
    free(api.stats);
    free(api.arena);
    free(api.x);
    free(api.y);
    free(api.out);
    memset(&api, 0, sizeof api);
}

int {{name}}_classify(const real *x, int rows, int *classes, real *out)
{
    if (!api.loaded)
        return rt_fail(&api.err, "%s: no weights loaded (call %s_load first)", MODEL_NAME,
                       MODEL_NAME);
    if (rows < 0 || (rows > 0 && !x))
        return rt_fail(&api.err, "%s_predict: bad arguments (rows %d)", MODEL_NAME, rows);
    real p[MODEL_OUTPUT_LEN];
    for (long start = 0; start < rows;) {
        /* whole batches, then single rows: the step sizes model.c has */
        int n = rows - start >= MODEL_BATCH ? MODEL_BATCH : 1;
        memcpy(api.x, x + start * MODEL_FEATURES, sizeof(real) * (size_t)n * MODEL_FEATURES);
        rt_dataset rows_in = {.n = n, .d = MODEL_FEATURES, .x = api.x};
        if (MODEL_SCALE != 0) rt_data_scale(&rows_in, MODEL_SCALE);
        if (MODEL_STANDARDIZE) rt_standardize_apply(&rows_in, api.stats, api.stats + MODEL_FEATURES);
        model_eval(n, api.param, api.x, api.y, api.out, api.arena);
        for (int r = 0; r < n; r++) {
            int cls = rt_decide(MODEL_TASK, api.out + (long)r * MODEL_OUTPUT_LEN,
                                MODEL_OUTPUT_LEN, p);
            if (classes) classes[start + r] = cls;
            if (out) memcpy(out + (start + r) * MODEL_OUTPUT_LEN, p, sizeof p);
        }
        start += n;
    }
    return 0;
}

int {{name}}_predict(const real *x, int rows, real *out)
{
    return {{name}}_classify(x, rows, NULL, out);
}
