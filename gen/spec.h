/* spec.h — runs a spec in a sandboxed Lua state (only math, string, table
 * and the DSL; bounded instructions and memory); each DSL call adds IR
 * nodes or sets the model's data, optimizer and training settings. */
#ifndef SPEC_H
#define SPEC_H

#include <stddef.h>

#include "ir.h"

typedef struct spec_limits {
    long instructions; /* Lua VM instructions before the spec is stopped */
    size_t memory;     /* bytes the Lua state may hold */
} spec_limits;

/* Returns 0, or -1 with "file:line: message" in err. */
int spec_run(const char *path, ir_graph *g, const spec_limits *lim, char *err, size_t errsize);

#endif
