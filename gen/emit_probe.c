/* emit_probe.c — model.c's probe for `train --layer-metrics`: one more
 * step function (the plan's probe variant: evaluation at the batch size,
 * unfused, every activation kept in the arena to the end), model_probe
 * that calls it, and model_acts, the table of the activations the trainer
 * reads after the call (name, op, arena offset, values, bounds). The
 * trainer calls it only when asked: without --layer-metrics it costs no
 * time and no memory (its arena is allocated by the trainer on request). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cgen.h"
#include "emit.h"
#include "escape.h"
#include "ops.h"

/* model_acts: one row per activation of the forward pass, in graph order */
static void acts_table(emitter *e, writer *w)
{
    ir_graph *g = e->g;
    const plan_variant *v = e->pv;
    int rows = 0;
    wr_line(w, "/* the activations --layer-metrics measures, in the probe's arena: name,");
    wr_line(w, " * op, offset, values per batch, bounded (1: saturates at lo or hi) */");
    wr_line(w, "const model_act model_acts[] = {");
    for (int s = 0; s < v->norder; s++) {
        const ir_node *n = ir_get(g, v->order[s]);
        const op_def *d = op_get(n->op);
        if (!d->act_bounds || n->phase == PH_BACKWARD) continue;
        double lo = 0, hi = 0;
        int bounded = d->act_bounds(n, &lo, &hi);
        wr_line(w, "{%s, %s, %ldL, %ldL, %d, %.17g, %.17g}, /* %s:%d */",
                esc_c_string(g->A, n->name), esc_c_string(g->A, ir_op_name(n->op)),
                v->offset[plan_root(v, n->id)], ir_numel(n, v->batch), bounded, lo, hi,
                esc_c_comment(g->A, g->spec_path), n->line);
        rows++;
    }
    if (!rows) wr_line(w, "{NULL, NULL, 0, 0, 0, 0, 0},");
    wr_line(w, "};");
    wr_line(w, "const int model_n_acts = %d;", rows);
}

const char *emit_probe(emitter *e, const plan *p)
{
    writer w;
    wr_init(&w);
    writer *saved = e->w;
    e->w = &w;
    e->pv = &p->probe;
    e->batch = p->probe.batch;
    wr_line(&w, "/* ---- the probe of --layer-metrics: the activations of one batch ---- */");
    const char *fname = arena_printf(e->g->A, "probe_%d", e->batch);
    emit_step(e, fname);
    wr_line(&w, "real model_probe(const real *param, const real *x, const real *y, real *out,");
    wr_line(&w, "                 real *arena)");
    wr_line(&w, "{");
    wr_line(&w, "return %s(param, x, y, out, arena);", fname);
    wr_line(&w, "}");
    wr_blank(&w);
    acts_table(e, &w);
    e->w = saved;
    char *t = wr_take(&w);
    const char *r = arena_strdup(e->g->A, t);
    free(t);
    return r;
}
