/* {{header}}
 *
 * model.c -- {{name}}: initial weights, then one function per step variant,
 * each reading top to bottom as forward, loss, backward; then the update. */
#include <stdlib.h>
#include <string.h>
#include <tgmath.h>

#include <cblas.h>

#include "model.h"

/* 1: dropout, dropconnect, penalties and weight decay as the spec says;
 * 0: off (train --overfit) */
int model_regularise = 1;

/* ---- the flat parameter buffer: offsets of each tensor ---- */
{{param_offsets}}

const rt_param_info model_params[] = {
{{param_table}}
};
const int model_n_param_tensors = {{n_param_tensors}};

{{layer_table}}

{{renames}}

/* ---- data ({{data_at}}) ---- */
{{data_sources}}

/* ---- initial weights, drawn in the spec's order ---- */
void model_init(real *param, rt_rng *rng)
{
{{init}}
}

/* train --profile times each op block of the training step at the full
 * batch into rt_prof_acc[k] (runtime/rt_profile.c); otherwise it is NULL,
 * and timing a block costs a test of prof_on (the step reads it once) at
 * each end: a read of the global at each end made a tiny net's step reload
 * it after every call (xor: 1.5 ns of its 70) */
#define PROFILE_BEGIN(k) const double prof_start = prof_on ? rt_now() : 0
#define PROFILE_END(k) (prof_on ? rt_prof_end(k, prof_start) : (void)0)

{{steps}}
real model_train_step(int rows, real *param, real *grad, const real *x, const real *y,
                      real *out, real *arena, uint64_t noise)
{
{{train_dispatch}}
    return NAN; /* no step of that size was generated */
}

real model_eval(int rows, const real *param, const real *x, const real *y, real *out,
                real *arena)
{
{{eval_dispatch}}
    return NAN;
}

{{probe}}
{{profile_table}}

{{update}}

{{schedule}}
