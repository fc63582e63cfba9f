/* {{header}}
 *
 * export.c — the export command of the trainer of {{name}}: the parameters as
 * .npy files and one safetensors file, with what the inputs go through first. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "trainer.h"

int tr_cmd_export(const options *o)
{
    rt_error err;
    if (!o->arg) tr_die_usage("%s", "export needs a folder");
    buffers b = tr_alloc_buffers(0);
    tr_load_weights(o, &b);
    if (mkdir(o->arg, 0777) && errno != EEXIST) {
        fprintf(stderr, "%s: %s: cannot create: %s\n", MODEL_NAME, o->arg, strerror(errno));
        return 1;
    }
    for (int i = 0; i < model_n_param_tensors; i++) {
        const rt_param_info *p = &model_params[i];
        char path[4096];
        int64_t dims[4];
        for (int k = 0; k < p->rank; k++) dims[k] = p->dim[k];
        snprintf(path, sizeof path, "%s/%s.npy", o->arg, p->name);
        /* counts (batch norm's batches) as int64, as torch keeps them */
        if ((p->count ? rt_npy_write_int64 : rt_npy_write)(path, b.param + p->offset, p->rank, dims,
                                                           &err))
            tr_fail(&err);
    }
    /* what the inputs go through first, for whoever runs the model elsewhere:
     * x * input_scale, then (x - input_mean) / input_std */
    char path[4096], scale[32];
    if (MODEL_STANDARDIZE) {
        int64_t dim = MODEL_FEATURES;
        snprintf(path, sizeof path, "%s/input_mean.npy", o->arg);
        if (rt_npy_write(path, b.stats, 1, &dim, &err)) tr_fail(&err);
        snprintf(path, sizeof path, "%s/input_std.npy", o->arg);
        if (rt_npy_write(path, b.stats + MODEL_FEATURES, 1, &dim, &err)) tr_fail(&err);
    }
    snprintf(scale, sizeof scale, "%.17g", MODEL_SCALE != 0 ? (double)MODEL_SCALE : 1.0);
    /* the same tensors in one file, under the same names (PyTorch's state_dict) */
    snprintf(path, sizeof path, "%s/model.safetensors", o->arg);
    const char *meta[] = {"format",
                          "pt",
                          "model",
                          MODEL_NAME,
                          "generator",
                          MODEL_GENERATOR,
                          "spec_hash",
                          MODEL_HASH,
                          "input_scale",
                          scale,
                          "input_standardize",
                          MODEL_STANDARDIZE ? "input_mean.npy input_std.npy" : "no",
                          NULL};
    if (rt_safetensors_save(path, model_params, model_n_param_tensors, b.param, meta, &err))
        tr_fail(&err);
    if (!o->quiet)
        printf("wrote %d arrays to %s (.npy and model.safetensors)\n", model_n_param_tensors,
               o->arg);
    return 0;
}
