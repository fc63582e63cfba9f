/* emit_step.c — the step functions of model.c, one per variant of the plan
 * (train_64, eval_1, ...): the block comment of each op (its math, spec
 * line, what was fused into it), the buffers the variant declares, and each
 * scheduled op's code from its row. See emit.h. */
#include <stdio.h>
#include <string.h>

#include "cgen.h"
#include "emit.h"
#include "escape.h"
#include "fuse_update.h"
#include "ops.h"
#include "shards.h"

/* "[64 x 784]" (the variant's sizes), "[scalar]" */
static const char *shape_text(emitter *e, const ir_node *n)
{
    const char *t = "[";
    for (int i = 0; i < n->rank; i++) t = e_fmt(e, "%s%s%d", t, i ? " x " : "", e_dim(e, n, i));
    return e_fmt(e, "%s%s]", t, n->rank ? "" : "scalar");
}

static int is_const_root(ir_graph *g, const plan_variant *v, int id)
{
    ir_kind k = ir_get(g, plan_root(v, id))->kind;
    return k == K_PARAM || k == K_INPUT || k == K_LABEL || k == K_VECTOR;
}

/* Where node n comes from: "spec.lua:12", and the prelude function and
 * line when a composite op made it ("spec.lua:12, via mish at
 * gen/prelude.lua:7") */
const char *emit_spec_at(emitter *e, const ir_node *n)
{
    const char *at = e_fmt(e, "%s:%d", n->file ? n->file : "?", n->line);
    return esc_c_comment(e->g->A, n->via ? e_fmt(e, "%s, via %s", at, n->via) : at);
}

/* Names the nodes fused into n's loop, for its comment. */
static void describe_fused(emitter *e, const ir_node *n, writer *w)
{
    for (int k = 0; k < n->nin; k++) {
        const ir_node *x = ir_get(e->g, n->in[k]);
        if (e->pv->inlined[x->id] < 0) continue;
        describe_fused(e, x, w);
        char line[512];
        int len = snprintf(line, sizeof line, " *   - fused: %s = %s(", x->name, ir_op_name(x->op));
        for (int j = 0; j < x->nin; j++) {
            const ir_node *a = ir_get(e->g, x->in[j]);
            len += snprintf(line + len, sizeof line - (size_t)len, "%s%s", j ? ", " : "",
                            a->kind == K_CONST ? e_lit(e, a->f[0]) : a->name);
            if (len >= (int)sizeof line) break;
        }
        if (len < (int)sizeof line)
            snprintf(line + len, sizeof line - (size_t)len, "): %s -- %s", op_get(x->op)->math,
                     emit_spec_at(e, x));
        wr_line(w, "%s", line);
    }
}

/* "name = op(args): math" of node x, for comments */
static const char *node_text(emitter *e, const ir_node *x)
{
    const char *t = e_fmt(e, "%s = %s(", x->name, ir_op_name(x->op));
    for (int j = 0; j < x->nin; j++) {
        const ir_node *in = ir_get(e->g, x->in[j]);
        t = e_fmt(e, "%s%s%s", t, j ? ", " : "",
                  in->kind == K_CONST ? e_lit(e, in->f[0]) : in->name);
    }
    return e_fmt(e, "%s): %s", t, op_get(x->op)->math);
}

/* Names what n's stores compute besides n (plan.h's epilogues): a folded
 * batch norm, the fused op and the nodes inlined into it, with spec lines. */
static void describe_epilogue(emitter *e, const ir_node *n, writer *w)
{
    int a = e->pv->epi[n->id], bn = e->pv->epi_bn[n->id];
    if (a < 0) return;
    const char *op = ir_op_name(n->op);
    int absorbed = e->pv->epi_affine[n->id];
    if (bn >= 0) {
        const ir_node *b = ir_get(e->g, bn);
        wr_line(w, " *   + batch_norm (eval) folded into %s (%s:%d):", op,
                esc_c_comment(e->g->A, b->file), b->line);
        wr_line(w, " *     - %s = (%s - mean) * invstd as %s * s + t per channel", b->name, n->name,
                n->name);
    }
    if (a == bn) return;
    const ir_node *x = ir_get(e->g, a);
    wr_line(w, " *   + %s fused into %s (%s)%s:", ir_op_name(x->op), op, emit_spec_at(e, x),
            e->pv->epi_keep[n->id] ? ", its own value kept" : "");
    int ids[64];
    int cnt = plan_chain(e->g, e->pv, a, ids, 0, 64);
    for (int q = 0; q < cnt; q++) {
        const ir_node *c = ir_get(e->g, ids[q]);
        int in_st = absorbed >= 0 && (c->id == absorbed || e->pv->inlined[c->id] == absorbed);
        wr_line(w, " *     - %s%s%s", node_text(e, c), in_st ? " (in s, t)" : "",
                c->line != x->line ? e_fmt(e, " -- line %d", c->line) : "");
    }
}

static void emit_block_comment(emitter *e, const ir_node *n)
{
    char args[256] = "";
    int len = 0;
    for (int k = 0; k < n->nin; k++) {
        const ir_node *x = ir_get(e->g, n->in[k]);
        const char *nm = x->kind == K_CONST ? e_lit(e, x->f[0]) : x->name;
        len += snprintf(args + len, sizeof args - (size_t)len, "%s%s", k ? ", " : "", nm);
        if (len >= (int)sizeof args) break;
    }
    const char *shape = shape_text(e, n);
    const char *math = op_get(n->op)->math;
    const char *head = e_fmt(e, "%s = %s(%s)  %s", n->name, ir_op_name(n->op), args, shape);
    const char *from = e_fmt(e, "-- %s", emit_spec_at(e, n));
    /* within clang-format's 100 columns at the op's indent of 4 (it leaves
     * comments as written): the spec line on a line of its own when it does
     * not fit after the head, a long head broken after a comma */
    const size_t room = 100 - 4 - strlen("/* ");
    if (strlen(head) + 2 + strlen(from) <= room) {
        wr_line(e->w, "/* %s  %s", head, from);
    } else {
        const char *lead = "/* ";
        while (strlen(head) > room) {
            const char *cut = NULL;
            for (const char *c = strstr(head, ", "); c && (size_t)(c - head) < room - 1;
                 c = strstr(c + 1, ", "))
                cut = c;
            if (!cut) break;
            wr_line(e->w, "%s%.*s,", lead, (int)(cut - head), head);
            head = cut + 2;
            lead = " *     ";
        }
        wr_line(e->w, "%s%s", lead, head);
        wr_line(e->w, " *   %s", from);
    }
    if (n->recomputes >= 0) { /* gen/recompute.c: the forward's value again, same code */
        const ir_node *o = ir_get(e->g, n->recomputes);
        const char *why = e_fmt(e, "recomputed for the backward (budget --max-memory %g): %s",
                                e->g->recompute_mib, ir_op_name(o->op));
        const char *at = e_fmt(e, "-- %s", emit_spec_at(e, o));
        if (strlen(why) + 1 + strlen(at) <= room - 4) {
            wr_line(e->w, " *   %s %s", why, at);
        } else {
            wr_line(e->w, " *   %s", why);
            wr_line(e->w, " *     %s", at);
        }
        wr_line(e->w, " *   (the forward's %s, not kept)", o->name);
    }
    describe_fused(e, n, e->w);
    describe_epilogue(e, n, e->w);
    if (e->pv->side[n->id] >= 0) { /* a side output (variant.h); its math apart when long */
        const char *text = node_text(e, ir_get(e->g, e->pv->side[n->id]));
        const char *math = strstr(text, ": ");
        if (strlen(text) > 80 && math) {
            wr_line(e->w, " *   + stores %.*s too:", (int)(math - text), text);
            wr_line(e->w, " *     %s", math + 2);
        } else {
            wr_line(e->w, " *   + stores %s too", text);
        }
    }
    const op_def *d = op_get(n->op);
    wr_line(e->w, " * %s */", d->describe ? d->describe(e, n) : math);
}

/* The variant's comment and signature */
static void variant_head(emitter *e, const char *fname)
{
    const plan_variant *v = e->pv;
    writer *w = e->w;
    int train = v->mode == PLAN_TRAIN;
    wr_line(w, "/* ---- %s: %s on %d rows, %s mode ---- */", fname,
            v->hvp  ? "Hessian-vector product hv = H vec (reverse over reverse, gen/hvp.c)"
            : train ? "forward, loss and backward"
                    : "forward and loss",
            v->batch, train ? "training" : "evaluation");
    if (v->noise) {
        wr_line(w,
                "/* Dropout masks are counter-based noise of (seed, step, mask number, element),");
        wr_line(w, " * noise = rt_noise_key(seed, step) (runtime/rt.h): no generator state, so a");
        wr_line(w, " * resumed run and any thread count draw the same masks. */");
    }
    if (v->hvp)
        wr_line(w,
                "static real %s(real *restrict param, const real *restrict vec, real *restrict hv, "
                "const real *restrict x,",
                fname);
    else if (train)
        wr_line(w,
                "RT_CLONES static real %s(real *restrict param, real *restrict grad, const real "
                "*restrict x,",
                fname);
    else
        wr_line(w, "RT_CLONES static real %s(const real *restrict param, const real *restrict x,",
                fname);
    if (train && e->sync) /* a shard's step in phases (sync_phases) */
        wr_line(w, "                const real *restrict y, real *restrict out, real *restrict "
                   "arena, uint64_t noise,\n                int phase, int step_rows, double "
                   "*restrict partial, const double *restrict total)");
    else if (train && e->fuse_last) /* u: the update's scalars and state */
        wr_line(w, "                const real *restrict y, real *restrict out, real *restrict "
                   "arena, uint64_t noise,\n                const model_update_args *u)");
    else if (train) /* noise: the step's key for dropout masks, rt_noise_key(seed, step) */
        wr_line(w, "                const real *restrict y, real *restrict out, real *restrict "
                   "arena, uint64_t noise)");
    else
        wr_line(
            w, "                const real *restrict y, real *restrict out, real *restrict arena)");
}

/* A pointer to each buffer the variant declares (plan's `declared`), with
 * its shape; (void) for the arguments it does not read */
static void variant_buffers(emitter *e)
{
    ir_graph *g = e->g;
    const plan_variant *v = e->pv;
    writer *w = e->w;
    int train = v->mode == PLAN_TRAIN;
    int uses_x = 0, uses_y = 0, uses_param = 0, uses_grad = 0, uses_arena = 0, uses_vec = 0;
    for (int i = 0; i < g->n; i++) {
        if (!v->declared[i]) continue;
        const ir_node *n = ir_get(g, i);
        const char *shape = shape_text(e, n);
        if (n->kind == K_PARAM) {
            uses_param = 1;
            /* running statistics: the training step updates them in place */
            wr_commented(
                w, 4,
                e_fmt(e, "%sreal *const %s = param + P_%s;", n->buffer && train ? "" : "const ",
                      n->name, e_upper(g->A, n->name)),
                e_fmt(e, "/* %s %s%s */", n->label, shape, n->buffer ? ", running statistic" : ""));
        } else if (n->kind == K_INPUT) {
            uses_x = 1;
        } else if (n->kind == K_LABEL) {
            uses_y = 1;
        } else if (n->kind == K_VECTOR) {
            uses_vec = 1;
            const ir_node *p = ir_get(g, n->i[0]);
            wr_commented(
                w, 4,
                e_fmt(e, "const real *const %s = vec + P_%s;", n->name, e_upper(g->A, p->name)),
                e_fmt(e, "/* %s, v's slice of %s */", shape, p->label));
        } else if (n->kind == K_ACT) {
            const char *cq = is_const_root(g, v, i) ? "const " : "";
            if (v->view_of[i] >= 0)
                wr_commented(
                    w, 4,
                    e_fmt(e, "%sreal *const %s = %s;", cq, n->name, ir_get(g, v->view_of[i])->name),
                    e_fmt(e, "/* %s, a view */", shape));
            else if (v->grad_of[i] >= 0) {
                uses_grad = 1;
                wr_commented(
                    w, 4,
                    e_fmt(e, "real *const %s = %s + P_%s;", n->name, v->hvp ? "hv" : "grad",
                          e_upper(g->A, ir_get(g, v->grad_of[i])->name)),
                    e_fmt(e, v->hvp ? "/* %s, (H v)'s slice of %s */" : "/* %s, d loss / d %s */",
                          shape, ir_get(g, v->grad_of[i])->label));
            } else {
                uses_arena = 1;
                wr_line(w, "real *const %s = arena + %ld; /* %s */", n->name, v->offset[i], shape);
            }
        }
    }
    if (!uses_param) wr_line(w, "(void)param;");
    if (train && !uses_grad) wr_line(w, v->hvp ? "(void)hv;" : "(void)grad;");
    if (v->hvp && !uses_vec) wr_line(w, "(void)vec;");
    if (train && !v->noise) wr_line(w, "(void)noise;");
    if (!uses_x) wr_line(w, "(void)x;");
    if (!uses_y) wr_line(w, "(void)y;");
    if (!uses_arena) wr_line(w, "(void)arena;");
    if (e->profile) /* read once: the blocks' tests of it stay in a register */
        wr_line(w,
                "const int prof_on = rt_prof_acc != NULL; /* train --profile (PROFILE_BEGIN) */");
}

/* train { shards } with batch norm (gen/shards.h): where each phase of the
 * shard's step starts */
static void sync_phases(emitter *e)
{
    const shard_sync *s = e->sync;
    writer *w = e->w;
    int reads_rows = 0;
    for (int p = 0; p < s->points; p++)
        reads_rows |= ir_get(e->g, s->node[p])->op == OP_BN_NORM_GRAD;
    wr_line(w, "/* Synchronised batch norm: this shard's step runs in %d phases; phase p ends",
            s->points + 1);
    wr_line(w, " * with its sums of sync point p in partial, and the next starts after");
    wr_line(w, " * runtime/rt_pool.c combined every shard's in shard order into total and ran");
    wr_line(w, " * shard_synced. Between phases its values stay in its own arena. */");
    if (!reads_rows) wr_line(w, "(void)step_rows;");
    for (int p = 1; p <= s->points; p++) wr_line(w, "if (phase == %d) goto phase_%d;", p, p);
}

/* The op's block, or its part `part` of a synchronised op */
static void op_block(emitter *e, const ir_node *n, int block, int part)
{
    const op_def *d = op_get(n->op);
    writer *w = e->w;
    wr_blank(w);
    if (part <= 0)
        emit_block_comment(e, n);
    else
        wr_line(w, "/* %s = %s(...), continued -- %s */", n->name, ir_op_name(n->op),
                emit_spec_at(e, n));
    wr_line(w, "{");
    if (e->profile) wr_line(w, "PROFILE_BEGIN(%d);", block);
    if (part >= 0)
        d->emit_part(e, n, part);
    else if (d->emit)
        d->emit(e, n);
    else
        e_elementwise(e, n, elementwise_expr(n));
    if (e->profile) wr_line(w, "PROFILE_END(%d);", block);
    wr_line(w, "}");
}

/* A synchronised op: its parts, a phase boundary after each but the last */
static void synced_blocks(emitter *e, const ir_node *n, int block, int *phase)
{
    long len[8];
    int points = op_get(n->op)->sync_points(e->g, n, len);
    for (int k = 0; k <= points; k++) {
        op_block(e, n, block, k);
        if (k == points) break;
        ++*phase;
        wr_blank(e->w);
        wr_line(e->w, "return 0; /* phase %d ends: sync point %d, %ld doubles */", *phase - 1,
                *phase - 1, len[k]);
        wr_line(e->w, "phase_%d: /* after the shards' sums were combined */", *phase);
    }
}

/* One block per scheduled op, under its comment, by its row's emitter (an
 * elementwise row: its cexpr), phase by phase */
static void variant_ops(emitter *e)
{
    const plan_variant *v = e->pv;
    writer *w = e->w;
    ir_phase phase = (ir_phase)-1;
    static const char *const phase_name[] = {"forward", "loss", "backward"};
    int block = 0; /* the op block's number, for train --profile */
    int sync_phase = 0;
    if (e->sync) sync_phases(e);
    for (int s = 0; s < v->norder; s++) {
        const ir_node *n = ir_get(e->g, v->order[s]);
        const op_def *d = op_get(n->op);
        if (!emit_profiled_block(v, s)) { /* views: no code */
            if (e->fuse_last) fuse_update_emit(e, e->fuse_last, s);
            continue;
        }
        if (n->phase != phase) {
            phase = n->phase;
            wr_blank(w);
            wr_line(w, "/* ======== %s ======== */", phase_name[phase]);
        }
        if (e->sync && d->sync_points)
            synced_blocks(e, n, block, &sync_phase);
        else
            op_block(e, n, block, -1);
        if (e->fuse_last) fuse_update_emit(e, e->fuse_last, s);
        block++;
    }
    if (e->fuse_last) fuse_update_emit(e, e->fuse_last, -1); /* never read: at the end */
}

void emit_step_ops(emitter *e)
{
    variant_ops(e);
}

/* The function of one step variant: forward, loss (and backward) */
void emit_step(emitter *e, const char *fname)
{
    ir_graph *g = e->g;
    writer *w = e->w;
    variant_head(e, fname);
    wr_line(w, "{");
    variant_buffers(e);
    variant_ops(e);
    wr_blank(w);
    if (g->output >= 0 && g->task != TASK_NONE)
        wr_line(w, "memcpy(out, %s, sizeof(real) * %ld);", e_ref(e, g->output),
                e_numel(e, ir_get(g, g->output)));
    else
        wr_line(w, "(void)out;");
    wr_line(w, "return %s[0];", e_ref(e, g->loss));
    wr_line(w, "}");
    wr_blank(w);
}

void emit_hvp_steps(emitter *e, const plan *p)
{
    if (!p->nhvp) return;
    writer *w = e->w;
    for (int k = 0; k < p->nhvp; k++) {
        e->pv = &p->hvp[k];
        e->batch = p->hvp[k].batch;
        emit_step(e, e_fmt(e, "hvp_%d", e->batch));
    }
    wr_line(w, "/* hv = H vec, H the Hessian of the loss of these rows with respect to the");
    wr_line(w, " * trainable parameters (training mode), vec and hv flat as the parameters;");
    wr_line(w, " * the loss is returned. Frozen parameters and running statistics get 0. */");
    wr_line(w, "real model_hvp(int rows, real *param, const real *vec, real *hv, const real *x,");
    wr_line(w, "               const real *y, real *out, real *arena, uint64_t noise)");
    wr_line(w, "{");
    wr_line(w, "memset(hv, 0, sizeof(real) * MODEL_N_PARAMS);");
    for (int k = 0; k < p->nhvp; k++)
        wr_line(w, "if (rows == %d) return hvp_%d(param, vec, hv, x, y, out, arena, noise);",
                p->hvp[k].batch, p->hvp[k].batch);
    wr_line(w, "return NAN; /* no step of that size was generated */");
    wr_line(w, "}");
    wr_blank(w);
}
