/* spec.h — runs a spec in a sandboxed Lua state (only math, string, table
 * and the DSL; bounded instructions and memory); each DSL call adds IR
 * nodes or sets the model's data, optimizer and training settings. */
#ifndef SPEC_H
#define SPEC_H

#include <stddef.h>

#include "ir.h"

typedef struct spec_options {
    long instructions;       /* Lua VM instructions before the spec is stopped (0: default) */
    size_t memory;           /* bytes the Lua state may hold (0: default) */
    const char *const *sets; /* "key=value" strings the spec reads as args.key */
    int nsets;
    int *sets_read; /* not NULL: sets_read[i] becomes 1 when the spec reads sets[i]'s
                     * key (args.KEY, or pairs(args)); trainc sweep refuses the others */
    const char *text; /* not NULL: the spec's bytes, read already (path names them) */
    size_t text_len;
} spec_options;

/* Returns 0, or -1 with "file:line: message" in err. */
int spec_run(const char *path, ir_graph *g, const spec_options *opt, char *err, size_t errsize);

#endif
