/* hvp.h — the Hessian-vector product's graph (train { hvp = true }, trainc
 * --hvp): after autodiff, a second reverse pass over the forward and
 * backward nodes gives (Hv)_p for a vector v, one slice per trainable
 * parameter: K_VECTOR leaves (op hvp_vector, i[0] = the parameter, i[1] =
 * the node holding its slice of Hv). The plan's hvp variants compute those
 * nodes (model_hvp in model.c). */
#ifndef HVP_H
#define HVP_H

#include <stddef.h>

#include "ir.h"

/* Appends the second pass; -1 and a message naming the op and its spec
 * line when an op on the way has no second-derivative rule. */
int hvp_build(ir_graph *g, char *err, size_t errsize);

#endif
