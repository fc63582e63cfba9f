/* emit_tiny.h — a tiny net's training step with its tensors in vector
 * registers (emit_tiny.c), beside the generic step it reproduces bit for
 * bit. */
#ifndef EMIT_TINY_H
#define EMIT_TINY_H

#include "cgen.h"
#include "plan.h"

/* After emit_step(e, fname) of a training variant: when the net is a
 * chain of small dense layers ending in sigmoid and bce (each layer at
 * most 8 units and 8 inputs, at most 8 rows, the products written out),
 * prints `fname`_tiny(param, grad, x, y, out), the same step in AVX2
 * registers (and with sgd `fname`_tiny_update(..., u), the step and the
 * update), inside #ifdef RT_ACT_VECTOR, and returns its name; else NULL,
 * printing nothing. */
const char *emit_tiny_step(emitter *e, const char *fname, int sgd);
/* Whether the tiny steps do the optimizer's update too (sgd above: then
 * `fname`_tiny_update, model_train_update's): plain SGD (no momentum,
 * weight decay or maximize, every parameter at the optimizer's lr) where
 * nothing but the model's size keeps the update apart
 * (fuse_update_blocked) */
int emit_tiny_sgd(ir_graph *g, const plan *p);
/* How many of p's training variants get such a step (model.h's
 * MODEL_TINY_STEP, for the trainer's info): those emit_tiny_step takes,
 * where the update is a pass of its own and one step takes the batch */
int emit_tiny_count(ir_graph *g, const plan *p, int dbl);

#endif
