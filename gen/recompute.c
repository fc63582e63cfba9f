/* recompute.c — trainc gen --max-memory: when the planned buffers exceed
 * the budget, some activations the backward reads are computed again in
 * the backward instead of kept from the forward (see recompute.h).
 *
 * A recomputed node x gets a copy x' in the graph: the same op on the same
 * inputs (through the copies of the chain fused into x's loop, and of the
 * inputs recomputed themselves), phase backward, and every backward node
 * that read x reads x' instead. x's buffer then dies after its last forward
 * reader; plan.c runs x' right before its first backward reader, in a
 * buffer of its own, with the same emitter: the same code on the same
 * values, so the same bits (contraction is off: -std=c11), and the
 * training is the unconstrained plan's bit for bit. Never copied: dropout
 * (its noise), batch norm's statistics (they move the running statistics),
 * views (they follow their root), the loss and the output.
 *
 * The choice: greedy, the node whose copy adds the fewest FLOPs per byte
 * the arena shrinks, the plan made again after each, until the buffers
 * fit; then the choices the budget does not need are dropped. Recomputing
 * is not always smaller: a copy keeps its inputs alive into the backward,
 * so copying everything can need more than copying nothing. */
#include "recompute.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "probe.h"

typedef struct rc_ctx {
    ir_graph *g;
    int fuse;
    double elem, budget;
    int n0;    /* nodes before any copy: the originals */
    int *copy; /* per original: its copy, or -1 */
} rc_ctx;

/* what the budget counts: parameters, gradients, optimizer state, arena */
static double plan_bytes(const rc_ctx *c, const plan *p)
{
    const ir_graph *g = c->g;
    /* with shards each has its own gradients and arena (rt_pool.c) beside
     * the trainer's, which the evaluations use */
    double shards = p->shards > 1 ? p->shards * ((double)g->n_params + (double)p->shard_arena) : 0;
    return c->elem *
           (2.0 * (double)g->n_params + (double)g->opt.n_state + (double)p->arena_size + shards);
}

/* The arena the training step runs in: the trainer's, or with shards each
 * shard's own (recompute_text's figures) */
static long training_arena(const plan *p)
{
    return p->shards > 1 ? p->shard_arena : p->arena_size;
}

/* Whether a backward node reads x, or a view of x */
static int read_by_backward(ir_graph *g, int x)
{
    for (int i = 0; i < g->n; i++) {
        const ir_node *r = ir_get(g, i);
        for (int k = 0; k < r->nin; k++) {
            if (r->in[k] != x) continue;
            if (r->phase == PH_BACKWARD) return 1;
            if ((op_get(r->op)->flags & OPF_VIEW) && k == 0 && read_by_backward(g, i)) return 1;
        }
    }
    return 0;
}

/* Whether x may be computed again for the backward: a forward value with a
 * buffer of its own in the training step, pure, read by the backward */
static int recomputable(const rc_ctx *c, const plan_variant *v, int x)
{
    ir_graph *g = c->g;
    const ir_node *n = ir_get(g, x);
    if (x >= c->n0 || c->copy[x] >= 0 || n->kind != K_ACT || n->phase == PH_BACKWARD) return 0;
    if (op_get(n->op)->flags & (OPF_NOISE | OPF_STATEFUL | OPF_VIEW)) return 0;
    if (x == g->loss || x == g->output || v->inlined[x] >= 0 || v->grad_of[x] >= 0 ||
        v->view_of[x] >= 0 || v->offset[x] < 0)
        return 0;
    return read_by_backward(g, x);
}

/* Whether a's value has no buffer in v: computed inside its reader's loop,
 * or a producer that stores only its epilogue's value (linear + tanh) */
static int unstored(const plan_variant *v, int a)
{
    return v->inlined[a] >= 0 || (v->epi[a] >= 0 && !v->epi_keep[a] && v->offset[a] < 0);
}

/* A copy of x, phase backward: its inputs through the copies made, and the
 * inputs without a buffer (the chain fused into x's loop, the product whose
 * epilogue stored x) copied too */
static int copy_node(rc_ctx *c, const plan_variant *v, int x)
{
    ir_graph *g = c->g;
    int in[IR_MAX_IN], nin = ir_get(g, x)->nin;
    for (int k = 0; k < nin; k++) {
        int a = ir_get(g, x)->in[k];
        in[k] = c->copy[a] >= 0 ? c->copy[a] : unstored(v, a) ? copy_node(c, v, a) : a;
    }
    const char *name = arena_printf(g->A, "%s_again", ir_get(g, x)->name);
    int id = ir_add(g, ir_get(g, x)->op, nin, in);
    ir_node *n = ir_get(g, id);
    const ir_node *o = ir_get(g, x);
    n->rank = o->rank;
    memcpy(n->dim, o->dim, sizeof n->dim);
    memcpy(n->f, o->f, sizeof n->f);
    memcpy(n->i, o->i, sizeof n->i);
    n->label = o->label;
    n->file = o->file;
    n->line = o->line;
    n->via = o->via;
    n->why = o->why;
    n->phase = PH_BACKWARD;
    n->recomputes = x;
    n->name = ir_c_name(g, name);
    c->copy[x] = id;
    return id;
}

/* The views of x the backward reads, copied onto x's copy */
static void copy_views(rc_ctx *c, const plan_variant *v, int x)
{
    ir_graph *g = c->g;
    for (int i = 0; i < c->n0; i++) {
        const ir_node *r = ir_get(g, i);
        if (r->phase == PH_BACKWARD || !(op_get(r->op)->flags & OPF_VIEW) || r->in[0] != x ||
            c->copy[i] >= 0 || !read_by_backward(g, i))
            continue;
        copy_node(c, v, i);
        copy_views(c, v, i);
    }
}

/* x computed again for the backward: its copy, and every backward node
 * reading an original that has a copy reads the copy */
static void recompute(rc_ctx *c, const plan_variant *v, int x)
{
    ir_graph *g = c->g;
    copy_node(c, v, x);
    copy_views(c, v, x);
    for (int i = 0; i < g->n; i++) {
        ir_node *r = ir_get(g, i);
        if (r->phase != PH_BACKWARD) continue;
        for (int k = 0; k < r->nin; k++) {
            int a = r->in[k];
            if (a < c->n0 && c->copy[a] >= 0 && c->copy[a] != i) r->in[k] = c->copy[a];
        }
    }
}

/* The graph as it was, to undo copies */
typedef struct snapshot {
    int n;
    ir_node *nodes;
    int *copy;
} snapshot;

static snapshot save(const rc_ctx *c)
{
    snapshot s = {c->g->n, malloc(sizeof(ir_node) * (size_t)c->g->n),
                  malloc(sizeof(int) * (size_t)c->n0)};
    if (!s.nodes || !s.copy) abort();
    memcpy(s.nodes, c->g->nodes, sizeof(ir_node) * (size_t)s.n);
    memcpy(s.copy, c->copy, sizeof(int) * (size_t)c->n0);
    return s;
}

static void restore(rc_ctx *c, const snapshot *s)
{
    memcpy(c->g->nodes, s->nodes, sizeof(ir_node) * (size_t)s->n);
    c->g->n = s->n;
    memcpy(c->copy, s->copy, sizeof(int) * (size_t)c->n0);
}

static void drop(snapshot *s)
{
    free(s->nodes);
    free(s->copy);
}

/* The next node to recompute: the fewest FLOPs added per byte the arena
 * shrinks; when no single copy shrinks it, one that leaves it as it is
 * (two together may shrink it), the fewest FLOPs per byte of its buffer.
 * -1: none left that does not grow it (a copy keeps its inputs alive) */
static int pick(rc_ctx *c, const plan *p)
{
    ir_graph *g = c->g;
    const plan_variant *v = &p->v[0];
    int best = -1, fallback = -1;
    double best_score = INFINITY, fallback_score = INFINITY;
    plan *trial = malloc(sizeof *trial);
    if (!trial) abort();
    for (int x = 0; x < c->n0; x++) {
        if (!recomputable(c, v, x)) continue;
        const ir_node *n = ir_get(g, x);
        double own = op_get(n->op)->flops(g, n, v->batch) / (double)ir_numel(n, v->batch);
        snapshot s = save(c);
        recompute(c, v, x);
        plan_variants(g, trial, c->fuse);
        double saved = plan_bytes(c, p) - plan_bytes(c, trial);
        double added = trial->train_flops - p->train_flops;
        restore(c, &s);
        drop(&s);
        if (saved > 0 && added / saved < best_score) best = x, best_score = added / saved;
        if (saved == 0 && own < fallback_score) fallback = x, fallback_score = own;
    }
    free(trial);
    return best >= 0 ? best : fallback;
}

/* The chosen nodes recomputed again from the graph of snapshot s (skipping
 * those left unread by the backward) and the plan made */
static void apply(rc_ctx *c, plan *p, const snapshot *s, const int *chosen, int n, int skip)
{
    restore(c, s);
    plan_variants(c->g, p, c->fuse);
    for (int k = 0; k < n; k++)
        if (k != skip && chosen[k] >= 0 && read_by_backward(c->g, chosen[k]))
            recompute(c, &p->v[0], chosen[k]);
    plan_variants(c->g, p, c->fuse);
}

static int refuse(const rc_ctx *c, double need, double least, const char *why, char *err,
                  size_t errsize)
{
    char h1[32], h3[32];
    probe_bytes(need, h1, sizeof h1);
    probe_bytes(c->budget, h3, sizeof h3);
    if (least > 0 && least < need) /* in MiB to the hundredth: the budget's own unit */
        snprintf(err, errsize,
                 "%s: the model needs %.2f MiB of buffers, %.2f MiB at the least with "
                 "activations computed again in the backward, more than the budget of %.2f MiB "
                 "(--max-memory)",
                 c->g->spec_path, need / 1048576.0, least / 1048576.0, c->budget / 1048576.0);
    else
        snprintf(err, errsize,
                 "%s: the model needs about %s of buffers, more than the budget of %s "
                 "(--max-memory)%s",
                 c->g->spec_path, h1, h3, why);
    return 2;
}

/* Greedy choices until the buffers fit (the least they needed in *least),
 * then those the budget does not need dropped (the earliest first); the
 * final graph and plan. Returns whether they fit. */
static int choose(rc_ctx *c, plan *p, const snapshot *s0, double *least)
{
    int *chosen = malloc(sizeof(int) * (size_t)c->n0), n = 0;
    if (!chosen) abort();
    *least = plan_bytes(c, p);
    while (plan_bytes(c, p) > c->budget && n < c->n0) {
        int x = pick(c, p);
        if (x < 0) break;
        chosen[n++] = x;
        recompute(c, &p->v[0], x);
        plan_variants(c->g, p, c->fuse);
        if (plan_bytes(c, p) < *least) *least = plan_bytes(c, p);
    }
    int fits = plan_bytes(c, p) <= c->budget;
    for (int k = 0; fits && k < n; k++) {
        apply(c, p, s0, chosen, n, k);
        if (plan_bytes(c, p) <= c->budget) chosen[k] = -1;
    }
    apply(c, p, s0, chosen, fits ? n : 0, -1);
    free(chosen);
    return fits;
}

int recompute_fit(ir_graph *g, plan *p, int fuse, double elem, double max_mib, char *err,
                  size_t errsize)
{
    rc_ctx c = {g, fuse, elem, max_mib * 1048576.0, g->n, NULL};
    double need = plan_bytes(&c, p), least;
    if (need <= c.budget) return 0;
    if (g->train.hvp)
        return refuse(&c, need, 0, "; activations are not recomputed with hvp", err, errsize);
    c.copy = malloc(sizeof(int) * (size_t)g->n);
    if (!c.copy) abort();
    for (int i = 0; i < g->n; i++) c.copy[i] = -1;
    long arena0 = training_arena(p);
    double flops0 = p->train_flops;
    snapshot s0 = save(&c);
    int rc = 0;
    if (!choose(&c, p, &s0, &least)) {
        rc = refuse(&c, need, least, "", err, errsize);
    } else {
        g->recompute_mib = max_mib;
        p->arena_unconstrained = arena0;
        p->train_flops_unconstrained = flops0;
    }
    drop(&s0);
    free(c.copy);
    return rc;
}

/* "name = op(...) -- spec:line" of what the copy id recomputes */
static const char *what(ir_graph *g, int id)
{
    const ir_node *o = ir_get(g, ir_get(g, id)->recomputes);
    return arena_printf(g->A, "%s = %s -- %s:%d", o->name, ir_op_name(o->op), o->file, o->line);
}

const char *recompute_text(ir_graph *g, const plan *p, double elem)
{
    if (!g->recompute_mib) return "";
    const plan_variant *v = &p->v[0];
    char h1[32], h2[32];
    const char *list = "";
    int n = 0;
    for (int s = 0; s < v->norder; s++) {
        int id = v->order[s];
        if (ir_get(g, id)->recomputes < 0 || v->offset[id] < 0) continue;
        list = arena_printf(
            g->A, "%s           %s, %s\n", list, what(g, id),
            probe_bytes((double)ir_numel(ir_get(g, id), v->batch) * elem, h1, sizeof h1));
        n++;
    }
    double added = p->train_flops - p->train_flops_unconstrained;
    return arena_printf(
        g->A,
        "recompute  %d value%s computed again in the backward (budget --max-memory %g): "
        "%s %s instead of %s, +%.4g FLOPs per step (+%.1f%%)\n%s",
        n, n == 1 ? "" : "s", g->recompute_mib, p->shards > 1 ? "each shard's arena" : "arena",
        probe_bytes((double)training_arena(p) * elem, h1, sizeof h1),
        probe_bytes((double)p->arena_unconstrained * elem, h2, sizeof h2), added,
        100.0 * added / p->train_flops_unconstrained, list);
}
