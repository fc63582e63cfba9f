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

/* Shared with diff.c: */
/* Text for HTML: & < > " as entities; other control bytes and invalid
 * UTF-8 as a visible \xNN */
const char *ex_html(arena *A, const char *s, size_t n);
/* The spec lines a line of model.c names ("KEY:15"), appended to lines
 * (" 15 16 ": each between spaces) */
const char *ex_named_lines(arena *A, const char *line, const char *key, const char *lines);
/* A text file whole (malloc'd; NULL with errno when it cannot be opened) */
char *ex_slurp(const char *path);
/* text's lines (without their '\n'), in the arena: their count */
int ex_lines(arena *A, const char *text, const char ***out);
/* model.c in chunks: each op block (its comment names a spec line: KEY:N)
 * and the code between blocks */
typedef struct ex_chunk {
    int block;           /* an op block, else code between blocks */
    const char *section; /* forward, loss, backward, update or "" */
    const char *lines;   /* " 15 16 ": the spec lines a block names */
    const char **text;   /* its lines, n of them */
    int n;
} ex_chunk;
int ex_chunks(arena *A, const char *code, const char *key, ex_chunk **out);

#endif
