/* cgen.h — the helpers op rows print C through: a node's buffer and
 * elements, literals of the element type, the epilogue a producer stores
 * through, elementwise loop nests over broadcasting, and the generated sums.
 * Below the op rows; reads the plan's decisions (variant.h), never makes
 * them. */
#ifndef CGEN_H
#define CGEN_H

#include "ir.h"
#include "variant.h"
#include "writer.h"

typedef struct emitter {
    writer *w;
    ir_graph *g;
    const plan_variant *pv;
    int batch;
    int dbl;     /* element type double */
    int profile; /* wrap each op block in PROFILE_BEGIN(k) / PROFILE_END(k) (train --profile) */
    /* train { shards } with batch norm: a shard's step in phases between
     * the sync points (gen/shards.h); NULL otherwise */
    const struct shard_sync *sync;
    /* the optimizer's update fused into a training step (gen/fuse_update.c):
     * per node, the step after which a parameter's update goes; NULL: none */
    const int *fuse_last;
} emitter;

/* A node's buffer, as a C expression (its local pointer's name). */
const char *e_ref(emitter *e, int id);
/* One element of a node at index expression idx; a literal for constants. */
const char *e_at(emitter *e, int id, const char *idx);
/* s in capitals, for macro names (P_FC1_WEIGHT) */
const char *e_upper(arena *A, const char *s);
/* A literal of the element type: 0.5f or 0.5 */
const char *e_lit(emitter *e, double v);
int e_dim(const emitter *e, const ir_node *n, int axis);
long e_numel(const emitter *e, const ir_node *n);
plan_kernel e_kernel(const emitter *e, const ir_node *n);
/* Whether the variant is a training step (else evaluation) */
int e_training(const emitter *e);
/* Fusion of an elementwise op into the op that produces its input (an
 * epilogue, decided by the plan): the producer n stores into e_store_ref(e, n)
 * the expression e_epilogue_at(e, n, v, chan, idx) of each of its values v,
 * where chan is the C expression of v's channel (axis 1: output channel,
 * feature) and idx of its flat index in n. Without a fused op these are n's
 * own buffer and v itself; the fused op then emits no code. v should be a
 * variable (an activation's expression may repeat it). Before its loops the
 * producer calls e_epilogue_begin (a batch norm folded into a convolution
 * computes its per-channel scale and shift there); e_store_also names n's own
 * buffer when n's value must be stored too (read by other ops), else NULL.
 * e_epilogue is e_epilogue_at with the channel in `oc` and the flat index in
 * `i`. */
int e_has_epilogue(const emitter *e, const ir_node *n);
const char *e_store_ref(emitter *e, const ir_node *n);
const char *e_store_also(emitter *e, const ir_node *n);
void e_epilogue_begin(emitter *e, const ir_node *n);
const char *e_epilogue_at(emitter *e, const ir_node *n, const char *v, const char *chan,
                          const char *idx);
const char *e_epilogue(emitter *e, const ir_node *n, const char *v);
/* Node id's value at element idx: its buffer's, or (an elementwise node
 * inlined into the caller, plan.c) its expression, inputs per channel of
 * it read at chan and the others at idx */
const char *e_value_at(emitter *e, int id, const char *chan, const char *idx);
/* The array form of the epilogue's last op (op_def.array_fn, float only),
 * or NULL. When there is one, a producer may store e_epilogue_inner_at (the
 * epilogue without that op) and then call e_epilogue_array on the stored
 * count values at ref, instead of storing e_epilogue_at. */
const char *e_epilogue_array_fn(const emitter *e, const ir_node *n);
const char *e_epilogue_inner_at(emitter *e, const ir_node *n, const char *v, const char *chan,
                                const char *idx);
void e_epilogue_array(emitter *e, const ir_node *n, const char *ref, long count);
/* The buffer of the node n's block stores besides its value (a side
 * output, variant.h: max pooling's argmax), or NULL: none in this variant */
const char *e_side_ref(emitter *e, const ir_node *n);
/* printf into an arena string */
#define e_fmt(e, ...) arena_printf((e)->g->A, __VA_ARGS__)

/* Elementwise loops over numpy broadcasting: out[...] = expr, where expr is
 * the op's cexpr with A, B, C replaced by the inputs' elements and P, Q by
 * f[0], f[1]. accumulate: out[...] += expr (used by sum). */
void e_elementwise(emitter *e, const ir_node *n, const char *cexpr);
/* Declares `const type s` = the sum of expr (of the index var) for var <
 * count, in 8 interleaved partial sums (lanes) so that the compiler can
 * vectorise it: a single running sum cannot be reordered without
 * -ffast-math. One place for the summation order of the generated sums. */
void e_lane_sum(emitter *e, const char *type, const char *s, const char *var, const char *expr,
                long count);
/* out = sum of x over the axes where out has 1 (or is shorter), times scale */
void e_reduce_to(emitter *e, const ir_node *out, int x, const char *scale);

#endif
