/* emit.h — prints the planned graph into out/<model>/: model.h, model.c,
 * the trainer (from templates/), build.ninja, the runtime copy and the spec.
 * The driver: it walks the plan and calls each op row's emitter, which
 * prints through cgen.h. */
#ifndef EMIT_H
#define EMIT_H

#include "ir.h"
#include "plan.h"

typedef struct emit_options {
    const char *out_dir;
    const char *home; /* where runtime/ and templates/ are */
    int dbl;
    const char *argv_line;     /* the --set options, as given */
    int force;                 /* overwrite a folder generated from another spec */
    const struct about *about; /* the spec's bytes and options, for about.c and spec.lua */
} emit_options;

struct emitter;
/* The step function fname of the emitter's variant: forward, loss (and
 * backward) in schedule order, each op under its comment (emit_step.c) */
void emit_step(struct emitter *e, const char *fname);
/* Where node n comes from, for a comment: "spec.lua:12", with the prelude
 * function that made it ("spec.lua:12, via mish at gen/prelude.lua:7"),
 * escaped for a C comment */
const char *emit_spec_at(struct emitter *e, const ir_node *n);
/* The op blocks alone of the emitter's variant, under their comments
 * (export-c's forward pass, emit_export.c) */
void emit_step_ops(struct emitter *e);
/* export-c (emit_export.c): the trainer's holes infer_h, infer_head,
 * infer_body (the exported files' text as C string lines) and
 * infer_arrays (which weights go where); returns how many vars it set */
struct tpl_var;
int emit_export_vars(ir_graph *g, const plan *p, int dbl, const char *header, struct tpl_var *v);
/* train { hvp = true }: the hvp step functions and model_hvp, which picks
 * one by the number of rows, after the steps (emit_step.c); nothing
 * otherwise */
void emit_hvp_steps(struct emitter *e, const plan *p);

/* train { shards = S > 1 } (emit_shards.c): into w, the shard plan
 * (shard_step or, with batch norm, shard_phase and shard_synced, from the
 * variants' dispatch lines), into tw model_train_step's sharded body */
struct shard_sync;
struct writer;
void emit_shard_steps(struct emitter *e, const plan *p, const struct shard_sync *s,
                      struct writer *w, struct writer *tw, const char *dispatch);

/* model.c's probe for --layer-metrics: its step function, model_probe and
 * the model_acts table (emit_probe.c) */
const char *emit_probe(struct emitter *e, const plan *p);
/* train --profile (profile.c): whether step s of variant v is an op block
 * of its own (views have no code), and the table of the blocks of the
 * training step at the full batch, with the cost model's prediction */
int emit_profiled_block(const plan_variant *v, int s);
/* The block that computes node j (j, or the op whose loop or store does);
 * its FLOPs and bytes; the kernel's name and the µs the cost model gives
 * (profile.c) */
int emit_block_of(const plan_variant *v, int j);
void emit_block_cost(ir_graph *g, const plan_variant *v, int dbl, int id, double *flops,
                     double *bytes);
const char *emit_kernel_name(plan_kernel k);
double emit_predict_us(ir_graph *g, const plan_variant *v, const ir_node *n, double flops,
                       double bytes);
const char *emit_profile_table(struct emitter *e, const plan *p);

/* Writes the folder; returns 0, or -1 with a message in err. */
/* Writes out_dir: 0 done, 1 failed (err says why), 2 refused: the folder
 * was generated from another spec (and o->force is not set). */
int emit_folder(ir_graph *g, const plan *p, const emit_options *o, char *err, size_t errsize);

#endif
