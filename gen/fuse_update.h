/* fuse_update.h — the optimizer's update fused into the training step
 * (fuse_update.c): whether the spec's update can fuse, where each
 * parameter's update goes, and the update_range calls, fused or not. */
#ifndef FUSE_UPDATE_H
#define FUSE_UPDATE_H

#include "cgen.h"
#include "plan.h"

/* NULL when the update fuses into the step; else why not (for model.c's
 * comment): a global quantity is needed before any parameter's update
 * (clipping, stop_grad_norm, the shards' sum), or the optimizer steps
 * through a closure, or TRAINC_NO_FUSE_UPDATE is set */
const char *fuse_update_refusal(ir_graph *g, const plan *p);
/* the same but for the model's size: TRAINC_NO_FUSE_UPDATE, a global
 * quantity first, a closure, NAdam, shards; NULL: none */
const char *fuse_update_blocked(ir_graph *g, const plan *p);
/* parameter p's lr as a multiple of the optimizer's, and its weight decay */
void update_scale_of(ir_graph *g, const ir_node *p, double *lr_scale, double *wd);
/* "update_range(param + off, ...);" for n values at off (a C expression);
 * fused: the step's scalars from its argument u (model_update_args) */
const char *update_range_call(ir_graph *g, const char *off, long n, double lr_scale, double wd,
                              int fused);
/* last[P] for each parameter P: the step (index in v->order) after which
 * P is neither read nor its gradient written, -1 if none is; last has
 * g->n entries */
void fuse_update_points(ir_graph *g, const plan_variant *v, int *last);
/* the fused updates of the trainable parameters whose last step is s */
void fuse_update_emit(emitter *e, const int *last, int s);

/* The update inside the weight-gradient product's store: the trainable
 * parameter whose gradient product n computes, through rt_gemm.c's
 * rt_sgemm_tn_store, as the last block touching it, so that its update runs
 * on each run of rows of the gradient as they are final; else -1 (the
 * update after the block, fuse_update_emit). fuse_update_emit leaves that
 * parameter to the product. */
int fuse_update_in_store(const emitter *e, const ir_node *n);
/* whether a training step of p has such a product (emitter e's pv and
 * fuse_last are restored); then the helper their hooks call
 * (update_strip_done), before the step functions */
int fuse_update_store_used(emitter *e, const plan *p);
void fuse_update_store_helper(writer *w);
/* in the product's block: its hook (update_store), before the kernel's call;
 * and the update after OpenBLAS's product, when the kernel said -1 */
void fuse_update_store_begin(emitter *e, int param);
void fuse_update_store_after(emitter *e, int param);

#endif
