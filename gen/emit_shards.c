/* emit_shards.c — model.c's shard plan (train { shards = S > 1 }): the
 * dispatch to the shards' step variants, rt_pool.c's rt_shard_plan,
 * model_shards_start and, with batch norm, shard_synced and the sync
 * points' places (gen/shards.h). See emit.h. */
#include "cgen.h"
#include "emit.h"
#include "escape.h"
#include "ops.h"
#include "shards.h"

/* Synchronised batch norm: shard_synced, what each sync point's op does
 * once per step after the combine, and the points' places in partial and
 * total (gen/shards.h) */
static void shard_synced(emitter *e, const shard_sync *s, writer *w)
{
    e->w = w;
    e->sync = s;
    wr_line(w, "/* Once per step after sync point `point`'s combine, on every thread's and rank's");
    wr_line(w, " * copy alike: the step's statistics from the shards' sums in total */");
    wr_line(w, "static void shard_synced(int point, int step_rows, real *param, double *total)");
    wr_line(w, "{");
    wr_line(w, "switch (point) {");
    for (int p = 0; p < s->points; p++) {
        const ir_node *n = ir_get(e->g, s->node[p]);
        wr_line(w, "case %d: { /* %s = %s(...) -- %s:%d */", p, n->name, ir_op_name(n->op),
                esc_c_comment(e->g->A, n->file), n->line);
        op_get(n->op)->emit_synced(e, n, s->part[p]);
        wr_line(w, "return;");
        wr_line(w, "}");
    }
    wr_line(w, "default:");
    wr_line(w, "    (void)step_rows, (void)param, (void)total;");
    wr_line(w, "}");
    wr_line(w, "}");
    wr_blank(w);
    wr_line(w, "/* sync point p's doubles in partial and total: shard_sync_at[p] up to p + 1's */");
    const char *at = "";
    for (int p = 0; p <= s->points; p++) at = e_fmt(e, "%s%s%ld", at, p ? ", " : "", s->at[p]);
    wr_line(w, "static const long shard_sync_at[] = {%s};", at);
    wr_blank(w);
    e->sync = NULL;
}

/* train { shards = S }: the shards' step (the train variants are the
 * shards' sizes), the plan rt_pool.c runs, model_shards_start; and
 * model_train_step's body, the sharded step */
void emit_shard_steps(emitter *e, const plan *p, const shard_sync *s, writer *w, writer *tw,
                      const char *dispatch)
{
    wr_line(w, "/* ---- the shard plan: train { shards = %d } (gen/shards.c) ----", p->shards);
    wr_line(w, " * A step of n rows is min(%d, n) shards, the first n %% that many one row",
            p->shards);
    wr_line(w, " * larger; each runs the variant of its rows into its own gradient buffer and");
    wr_line(w, " * arena, then runtime/rt_pool.c sums the gradients in shard order:");
    wr_line(w, " * grad = (((n0 g0 + n1 g1) + n2 g2) + ...) / n, and the loss the same way. */");
    if (s->points) {
        shard_synced(e, s, w);
        wr_line(w, "static real shard_phase(int rows, real *param, real *grad, const real *x, "
                   "const real *y,");
        wr_line(w, "                        real *out, real *arena, uint64_t noise, int phase, "
                   "int step_rows,");
        wr_line(w, "                        double *partial, const double *total)");
    } else {
        wr_line(w, "static real shard_step(int rows, real *param, real *grad, const real *x, const "
                   "real *y,");
        wr_line(w, "                       real *out, real *arena, uint64_t noise)");
    }
    wr_line(w, "{");
    wr_line(w, "%s", dispatch);
    wr_line(w, "    return NAN; /* no step of that size was generated */");
    wr_line(w, "}");
    wr_blank(w);
    if (s->points) {
        wr_line(w, "static const rt_shard_plan shard_plan = {");
        wr_line(w,
                "    NULL, %d, MODEL_N_PARAMS, MODEL_SHARD_ARENA, MODEL_FEATURES, "
                "MODEL_LABEL_LEN, MODEL_OUTPUT_LEN,",
                p->shards);
        wr_line(w, "    shard_phase, %d, shard_sync_at, shard_synced};", s->points);
    } else {
        wr_line(w,
                "static const rt_shard_plan shard_plan = {shard_step, %d, MODEL_N_PARAMS, "
                "MODEL_SHARD_ARENA,",
                p->shards);
        wr_line(w, "                                         MODEL_FEATURES, MODEL_LABEL_LEN, "
                   "MODEL_OUTPUT_LEN,");
        wr_line(w,
                "                                         NULL, 0, NULL, NULL}; /* no batch norm "
                "to synchronise */");
    }
    wr_blank(w);
    wr_line(w, "int model_shards_start(int threads)");
    wr_line(w, "{");
    wr_line(w, "    return rt_shards_start(&shard_plan, threads);");
    wr_line(w, "}");
    wr_blank(w);
    wr_line(tw, "return rt_shards_train(&shard_plan, rows, param, grad, x, y, out, arena, noise);");
}
