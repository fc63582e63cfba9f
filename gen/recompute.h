/* recompute.h — trainc gen --max-memory MIB: a plan whose buffers exceed
 * the budget computes some forward activations again in the backward
 * (the cheapest FLOPs per byte saved) when that fits, else a refusal. The
 * training stays bit for bit the unconstrained plan's. See recompute.c. */
#ifndef RECOMPUTE_H
#define RECOMPUTE_H

#include <stddef.h>

#include "plan.h"

/* After plan_make: 0 when the buffers (parameters, gradients, optimizer
 * state and arena, elem bytes each) fit max_mib, with g and p changed to
 * recompute what they must (g->recompute_mib set); else 2 and the error,
 * naming the spec, the MiB needed and the budget. */
int recompute_fit(ir_graph *g, plan *p, int fuse, double elem, double max_mib, char *err,
                  size_t errsize);

/* The trainer's info lines on what is recomputed ("" when nothing is) */
const char *recompute_text(ir_graph *g, const plan *p, double elem);

#endif
