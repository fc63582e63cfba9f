/* warn_init.h — warnings about initialisation from the course notes
 * (symmetric units; a deep sigmoid/tanh stack with the default init),
 * printed on stderr with the spec's file and line; generation goes on. */
#ifndef WARN_INIT_H
#define WARN_INIT_H

#include "ir.h"

void warn_init(ir_graph *g);

#endif
