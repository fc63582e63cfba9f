/* {{header}}
 *
 * info.c — the info command of the trainer of {{name}}: sizes, parameters,
 * FLOPs per step and the memory plan; with --ranks R, then the cost model
 * of R ranks (info_ranks.c); info --spec and --version, what the trainer
 * was made from (about.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "trainer.h"

int tr_cmd_info(const options *o)
{
    printf("model      %s (from %s, spec hash %s, %s)\n", MODEL_NAME, MODEL_SPEC, MODEL_HASH,
           RT_REAL_NAME);
    /* the names as the spec gave them, byte for byte, where trainc wrote them otherwise */
    for (int i = 0; i < model_n_renames; i++) {
        const model_rename *r = &model_renames[i];
        printf("renamed    %s '%s'", r->what, r->typed);
        if (r->typed_len > 1024) printf("... (%ld bytes)", r->typed_len);
        printf(" -> %s (line %d)\n", r->written, r->line);
    }
    printf("generator  %s\n", MODEL_GENERATOR);
    printf("data       %d features per row, %d training rows (+%d validation), batch %d, last "
           "batch %d\n",
           MODEL_FEATURES, MODEL_N_TRAIN, MODEL_N_VALID, MODEL_BATCH, MODEL_REMAINDER);
    if (MODEL_N_VALID + MODEL_N_TEST_SPLIT > 0)
        printf("held out   %d validation and %d test rows of the training file, %s\n",
               MODEL_N_VALID, MODEL_N_TEST_SPLIT,
               MODEL_VALID_TAIL && (MODEL_TEST_TAIL || !MODEL_N_TEST_SPLIT) ? "its last rows"
               : MODEL_SPLIT_CLASSES ? "drawn from the seed, stratified by class"
                                     : "drawn from the seed");
    printf("optimizer  %s, lr %g, %d epochs\n\n", MODEL_OPTIMIZER, (double)MODEL_LR, MODEL_EPOCHS);
    printf("%-28s %-18s %12s\n", "parameter", "shape", "values");
    for (int i = 0; i < model_n_param_tensors; i++) {
        const rt_param_info *p = &model_params[i];
        char shape[64];
        int k = 0;
        for (int d = 0; d < p->rank; d++)
            k += snprintf(shape + k, sizeof shape - (size_t)k, "%s%d", d ? " x " : "", p->dim[d]);
        printf("%-28s %-18s %12ld\n", p->name, shape, p->numel);
    }
    printf("%-28s %-18s %12ld\n\n", "total", "", MODEL_N_PARAMS);
    printf("%-6s %-24s %-22s %-22s %10s %12s\n", "line", "layer", "op", "output shape", "params",
           "FLOPs");
    double flops = 0;
    long params = 0;
    for (int i = 0; i < model_n_layers; i++) {
        const model_layer *l = &model_layers[i];
        printf("%-6d %-24s %-22s %-22s %10ld %12.4g\n", l->line, l->name, l->op, l->shape,
               l->params, l->flops);
        flops += l->flops;
        params += l->params;
    }
    char batch[32];
    snprintf(batch, sizeof batch, "(B = %s)", MODEL_BATCH_TEXT);
    printf("%-6s %-24s %-22s %-22s %10ld %12.4g\n\n", "", "total", "", batch, params, flops);
    printf("FLOPs      %.4g per training step (%d rows), %.4g per forward pass\n",
           (double)MODEL_TRAIN_FLOPS, MODEL_BATCH, (double)MODEL_EVAL_FLOPS);
    double kib = sizeof(real) / 1024.0;
    printf("memory     parameters %.1f KiB, gradients %.1f KiB, optimizer state %.1f KiB,\n"
           "           activations (planned arena) %.1f KiB, batch buffers %.1f KiB\n",
           MODEL_N_PARAMS * kib, MODEL_N_PARAMS * kib, MODEL_N_STATE * kib, MODEL_ARENA * kib,
           (double)MODEL_BATCH * (MODEL_FEATURES + MODEL_LABEL_LEN + MODEL_OUTPUT_LEN) * kib);
    printf("           peak %.1f KiB (without the dataset)\n",
           (2.0 * MODEL_N_PARAMS + MODEL_N_STATE + MODEL_ARENA +
            (double)MODEL_BATCH * (MODEL_FEATURES + MODEL_LABEL_LEN + MODEL_OUTPUT_LEN)) *
               kib);
    if (MODEL_TINY_STEP) { /* which of the two training steps runs here */
        int tiny = 0;
#ifdef RT_ACT_VECTOR
        tiny = rt_tiny_step;
#endif
        printf("step       %s\n", tiny ? "in AVX2 registers (a tiny net, gen/emit_tiny.c); "
                                         "TRAINC_GENERIC_STEP=1: the generic one, the same bits"
                                       : "the generic one (its twin in registers needs AVX2 and "
                                         "FMA, and TRAINC_GENERIC_STEP unset)");
    }
    fputs(MODEL_RECOMPUTE, stdout); /* trainc gen --max-memory's recomputation, if any */
    if (MODEL_SHARDS > 1)
        printf("shards     %d per step (train { shards }, or its default rule), each with its "
               "own gradients and "
               "arena: +%.1f KiB\n",
               MODEL_SHARDS, (double)MODEL_SHARDS * (MODEL_N_PARAMS + MODEL_SHARD_ARENA) * kib);
    return o->ranks ? tr_info_ranks(o) : 0;
}

int tr_cmd_info_spec(void)
{
    if (fwrite(model_about.spec, 1, (size_t)model_about.spec_len, stdout) !=
            (size_t)model_about.spec_len ||
        fflush(stdout)) {
        fprintf(stderr, "%s: info --spec: %s\n", MODEL_NAME, strerror(errno));
        return 1;
    }
    return 0;
}

void tr_print_version(void)
{
    printf("%s (%s, %s, spec %s)\n", MODEL_NAME, MODEL_GENERATOR, RT_REAL_NAME, MODEL_HASH);
    printf("spec       %s, %ld bytes (info --spec prints it)\n", MODEL_SPEC, model_about.spec_len);
    printf("generated  %s %s\n", MODEL_GENERATOR, model_about.options);
    printf("compiler   %s (%s)\n", model_about.cc, model_about.compiler);
    printf("flags      %s\n", model_about.flags);
}
