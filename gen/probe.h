/* probe.h — what the spec alone cannot settle, checked before anything is
 * planned: the sizes the data fixes (rows, features, batch) and the memory budget. */
#ifndef PROBE_H
#define PROBE_H

#include <stddef.h>

#include "ir.h"

/* Fixes the sizes that come from the data (rows, features, batch) and
 * checks what stratified batches and augmentation need. Returns 0, or the
 * exit status (1: the data, 2: the spec) with "file:line: message" in err. */
int probe_data(ir_graph *g, char *err, size_t errsize);


/* The rt_source of a CSV's training file, as d says (columns copied into A). */
struct rt_source;
void probe_csv_source(arena *A, const ir_data *d, struct rt_source *s);

/* bytes in words: "512 B", "1.5 MiB" */
const char *probe_bytes(double bytes, char *buf, size_t size);

#endif
