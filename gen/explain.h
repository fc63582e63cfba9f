/* explain.h — `trainc explain SPEC`: after gen, one self-contained HTML
 * page (no network, no external script or font) beside the generated
 * folder's files: the spec and model.c side by side, each spec line linked
 * to the blocks of C it produced, the op graph as SVG and a table per op
 * (shape, FLOPs, bytes, kernel and why, what was fused, arena space). */
#ifndef EXPLAIN_H
#define EXPLAIN_H

#include <stddef.h>

#include "about.h"
#include "ir.h"
#include "plan.h"

/* Writes out_dir/explain.html from out_dir/model.c, the spec's bytes and
 * the plan: 0, or -1 with a message in err. */
int explain_write(ir_graph *g, const plan *p, const about *a, const char *out_dir, int dbl,
                  char *err, size_t errsize);

#endif
