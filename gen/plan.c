/* plan.c — variants, schedules, memory and kernels (see plan.h). */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"
#include "rt.h"

/* arena offsets are multiples of 16 elements (64 bytes for float) */
#define ALIGN 16L

/* A parameter's gradient must be a node of its own in the arena's place:
 * when autodiff left it on a view, a constant, a leaf or a node another
 * parameter already claimed, a copy is added. */
static void own_gradients(ir_graph *g)
{
    char *claimed = arena_alloc(g->A, (size_t)g->n * 4 + 64);
    int nstart = g->n;
    for (int i = 0; i < nstart; i++) {
        ir_node *p = ir_get(g, i);
        if (p->kind != K_PARAM || p->grad < 0) continue;
        ir_node *gn = ir_get(g, p->grad);
        int ok = gn->kind == K_ACT && !(op_get(gn->op)->flags & OPF_VIEW) && gn->id < nstart &&
                 !claimed[gn->id];
        if (!ok) {
            int c = ir_unary(g, OP_COPY, p->grad, 0);
            ir_get(g, c)->phase = PH_BACKWARD;
            ir_get(g, c)->file = p->file;
            ir_get(g, c)->line = p->line;
            p = ir_get(g, i);
            p->grad = c;
        } else {
            claimed[gn->id] = 1;
        }
        ir_get(g, p->grad)->name = ir_c_name(g, arena_printf(g->A, "d_%s", p->name));
    }
}

/* Elementwise ops and reductions of at most this many values are written
 * out as straight-line code; the op row chooses for products and
 * convolutions (op_def.kernel). */
#define UNROLL_MAX_ELEMS 8L

static plan_kernel choose_kernel(ir_graph *g, const ir_node *n, int b)
{
    const op_def *d = op_get(n->op);
    if (d->kernel) return d->kernel(g, n, b);
    return ir_numel(n, b) <= UNROLL_MAX_ELEMS ? KERN_UNROLL : KERN_LOOP;
}

/* Buffers read by the loop of node r if `extra` (one of its inputs) is fused
 * into it too; the emitter's loop nest holds FUSE_MAX_INPUTS of them. */
#define FUSE_MAX_INPUTS 7
static int count_inputs(ir_graph *g, const plan_variant *v, int id, int extra, int *seen, int n)
{
    const ir_node *x = ir_get(g, id);
    for (int k = 0; k < x->nin; k++) {
        int in = x->in[k];
        if (ir_get(g, in)->kind == K_CONST) continue;
        if (v->inlined[in] >= 0 || in == extra) {
            n = count_inputs(g, v, in, extra, seen, n);
            continue;
        }
        int dup = 0;
        for (int j = 0; j < n && j < 64; j++)
            if (seen[j] == in) dup = 1;
        if (!dup && n < 64) seen[n++] = in;
    }
    return n;
}

static int fused_inputs(ir_graph *g, const plan_variant *v, int r, int extra)
{
    int seen[64];
    return count_inputs(g, v, r, extra, seen, 0);
}

/* A node computed again for the backward (gen/recompute.c) read by
 * reader x: the copy keeps a buffer of its own (its block runs alone), and
 * the forward node it copies counts the backward's reads still, so the
 * forward fuses as it would without the copy. The copies of a chain inlined
 * into it (read by copies only) fuse as the chain did. */
static void count_recomputed(ir_graph *g, const ir_node *x, int in, int *uses)
{
    int orig = ir_get(g, in)->recomputes;
    if (orig < 0 || x->recomputes >= 0) return;
    uses[in] += 2;
    uses[orig] += 2;
}

/* Whether r sums its input to a fixed shape of more than one value, the
 * batch axis summed away (a batch norm's γ gradient: Σ dy·xhat per
 * channel): e_reduce_to's loops then take an elementwise input's
 * expression in place of its buffer, the same operations in the same order */
static int sums_without_batch(ir_graph *g, const ir_node *r)
{
    if (r->op != OP_SUM_TO || r->rank < 1) return 0;
    const ir_node *x = ir_get(g, r->in[0]);
    if (r->rank == x->rank && r->dim[0] != 1) return 0;
    long count = 1;
    for (int i = 0; i < r->rank; i++) count *= r->dim[i];
    return count > 1;
}

/* Whether every input of elementwise x (through the chain inlined into it)
 * is a constant, of x's shape or per channel of it: what e_value_at reads
 * at an element and its channel (batch norm's backward takes dxhat = dy·γ
 * so, in its sums and its last pass, instead of from a buffer) */
static int reads_per_element(ir_graph *g, const plan_variant *v, const ir_node *x)
{
    for (int k = 0; k < x->nin; k++) {
        const ir_node *a = ir_get(g, x->in[k]);
        if (v->inlined[a->id] >= 0 ? !reads_per_element(g, v, a)
                                   : a->kind != K_CONST && !ir_same_shape(a, x) &&
                                         !ir_per_channel(a, x))
            return 0;
    }
    return 1;
}

/* Elementwise chains: a node whose only reader is an elementwise node of
 * the same shape is computed inside that reader's loop (bias + activation,
 * the terms of an expression) instead of through a buffer of its own; so is
 * one read only by a sum without the batch axis (sums_without_batch), and
 * batch norm's dxhat read only by its backward (reads_per_element). */
static void fuse_elementwise(ir_graph *g, plan_variant *v)
{
    int n = g->n;
    int *uses = arena_alloc(g->A, sizeof(int) * (size_t)n);
    int *reader = arena_alloc(g->A, sizeof(int) * (size_t)n);
    for (int s = 0; s < v->norder; s++) {
        const ir_node *x = ir_get(g, v->order[s]);
        for (int k = 0; k < x->nin; k++) {
            uses[x->in[k]]++;
            reader[x->in[k]] = x->id;
            count_recomputed(g, x, x->in[k], uses);
        }
    }
    /* what leaves the step must stay a buffer */
    if (g->loss >= 0) uses[g->loss] += 2;
    if (g->output >= 0) uses[g->output] += 2;
    for (int i = 0; i < n; i++)
        if (v->grad_of[i] >= 0 || v->view_of[i] >= 0)
            uses[v->view_of[i] >= 0 ? v->view_of[i] : i] += 2;
    int w = 0;
    for (int s = 0; s < v->norder; s++) {
        int id = v->order[s];
        const ir_node *x = ir_get(g, id);
        if (uses[id] == 1 && elementwise_expr(x)) {
            const ir_node *r = ir_get(g, reader[id]);
            int into = elementwise_expr(r) ? ir_same_shape(x, r) && v->kernel[r->id] == v->kernel[id]
                       : r->op == OP_BN_NORM_GRAD ? r->in[2] == id && reads_per_element(g, v, x)
                                                  : sums_without_batch(g, r);
            if (into && fused_inputs(g, v, r->id, id) <= FUSE_MAX_INPUTS) {
                v->inlined[id] = r->id;
                continue;
            }
        }
        v->order[w++] = id;
    }
    v->norder = w;
}

/* ---- epilogues: an elementwise node stored by the op producing its input ---- */

static int has(const ir_node *n, unsigned flag)
{
    return (op_get(n->op)->flags & flag) != 0;
}

/* ops whose emitters store every value through e_store_ref / e_epilogue */
static int epi_producer(const ir_node *x)
{
    return has(x, OPF_EPILOGUE) && x->phase == PH_FORWARD;
}

static int chain_root(const plan_variant *v, int id)
{
    while (v->inlined[id] >= 0) id = v->inlined[id];
    return id;
}

/* Whether the loop of node id (with the nodes inlined into it) can run as
 * the epilogue of producer x at step `at`, src standing for x's value:
 * everything else it reads is a constant, one value per channel of x, or a
 * tensor of x's shape computed before that step (pos: step of each node, -1
 * for leaves). */
static int chain_fits(ir_graph *g, const plan_variant *v, int id, int src, const ir_node *x,
                      const int *pos, int at)
{
    const ir_node *n = ir_get(g, id);
    for (int k = 0; k < n->nin; k++) {
        int in = n->in[k];
        const ir_node *a = ir_get(g, in);
        if (in == src || a->kind == K_CONST) continue;
        if (v->inlined[in] >= 0) {
            if (!chain_fits(g, v, in, src, x, pos, at)) return 0;
            continue;
        }
        if (!ir_per_channel(a, x) && !ir_same_shape(a, x)) return 0;
        if (pos[plan_root(v, in)] >= at) return 0;
    }
    return 1;
}

/* Whether reader r of producer x leads to an epilogue run at step `at`: r
 * is elementwise of x's shape and the loop computing it (r or the node it is
 * inlined into) fits. Returns that loop's node, or -1. */
static int epi_candidate(ir_graph *g, const plan_variant *v, int x, int src, int r, const int *pos,
                         int at)
{
    const ir_node *xn = ir_get(g, x), *rn = ir_get(g, r);
    if (!elementwise_expr(rn) || !ir_same_shape(rn, xn) || rn->phase != PH_FORWARD) return -1;
    int a = chain_root(v, r);
    const ir_node *an = ir_get(g, a);
    if (!ir_same_shape(an, xn) || an->phase != PH_FORWARD || pos[a] < 0 || v->fused_into[a] >= 0 ||
        v->view_of[a] >= 0 || v->grad_of[a] >= 0)
        return -1;
    return chain_fits(g, v, a, src, xn, pos, at) ? a : -1;
}

/* Relu's backward mask in the store of the op computing its dy: the input
 * gradient of a product (runtime/rt_gemm.c's epilogue: a backward product
 * of ours, KERN_GEMM) or an op whose row says it can (stores_mask: max
 * pooling's backward), read only by r, an op whose row says that store
 * computes it whole (GEMM_EPI_MASK: A > 0 ? x : 0), A a buffer of x's shape
 * computed before step `at`. (Forward products take their chains as above.) */
static int mask_store_fits(ir_graph *g, const plan_variant *v, int x, int r, const int *pos, int at)
{
    const ir_node *xn = ir_get(g, x), *rn = ir_get(g, r);
    int (*stores_mask)(ir_graph *, const ir_node *, int) = op_get(xn->op)->stores_mask;
    if (stores_mask ? !stores_mask(g, xn, rn->in[0])
                    : !has(xn, OPF_EPILOGUE) || v->kernel[x] != KERN_GEMM || ops_gemm_epilogue_off())
        return 0;
    if (op_get(rn->op)->gemm_epi != GEMM_EPI_MASK || rn->in[1] != x || rn->in[0] == x ||
        !ir_same_shape(rn, xn) || pos[r] < 0 || v->inlined[r] >= 0 || v->fused_into[r] >= 0 ||
        v->view_of[r] >= 0 || v->grad_of[r] >= 0)
        return 0;
    const ir_node *m = ir_get(g, rn->in[0]);
    return m->kind != K_CONST && v->inlined[m->id] < 0 && ir_same_shape(m, xn) &&
           pos[plan_root(v, m->id)] < at;
}

/* A batch norm folded into producer n takes its affine part along when the
 * chain computes bn·γ + β (γ, β per channel): the add node, else -1; gamma
 * and beta are set. */
static int folded_affine(ir_graph *g, const plan_variant *v, const ir_node *n, int *gamma,
                         int *beta)
{
    int bn = v->epi_bn[n->id], a = v->epi[n->id];
    int ids[64];
    if (bn < 0 || a == bn) return -1;
    int cnt = plan_chain(g, v, a, ids, 0, 64);
    for (int q = 0; q < cnt; q++) {
        const ir_node *m = ir_get(g, ids[q]);
        if (!has(m, OPF_MUL) || v->inlined[m->id] < 0) continue;
        int k = m->in[0] == bn ? 1 : m->in[1] == bn ? 0 : -1;
        if (k < 0) continue;
        const ir_node *gm = ir_get(g, m->in[k]);
        const ir_node *d = ir_get(g, v->inlined[m->id]);
        if (gm->kind == K_CONST || !ir_per_channel(gm, n) || !has(d, OPF_ADD)) continue;
        int j = d->in[0] == m->id ? 1 : 0;
        const ir_node *bt = ir_get(g, d->in[j]);
        if (d->in[1 - j] != m->id || bt->kind == K_CONST || !ir_per_channel(bt, n)) continue;
        *gamma = gm->id;
        *beta = bt->id;
        return d->id;
    }
    return -1;
}

/* Decides the epilogues of the variant (see plan.h) and drops the nodes they
 * compute from the schedule. A producer's own buffer goes when nothing else
 * reads its value, forward or backward (relu's backward reads relu's
 * output, so conv -> relu fuses in training; elu's reads its input, so it
 * fuses only in eval). Batch norm in training keeps its xhat (its backward
 * reads it) and stores the activation beside it. In eval a convolution read
 * only by a batch norm also takes the normalisation: y = conv·s + t per
 * channel, s = γ / sqrt(running_var + eps), t = β - running_mean·s. */
static void fuse_epilogues(ir_graph *g, plan_variant *v)
{
    int n = g->n;
    int *uses = arena_alloc(g->A, sizeof(int) * (size_t)n);
    int *reader = arena_alloc(g->A, sizeof(int) * (size_t)n);
    int *pos = arena_alloc(g->A, sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) pos[i] = -1;
    for (int s = 0; s < v->norder; s++) pos[v->order[s]] = s;
    for (int i = 0; i < n; i++) {
        const ir_node *x = ir_get(g, i);
        if (pos[i] < 0 && v->inlined[i] < 0) continue; /* not computed */
        for (int k = 0; k < x->nin; k++) {
            /* eval's statistics come from the running ones: x's values are not read */
            if (k == 0 && has(x, OPF_EVAL_IGNORES_IN0) && v->mode == PLAN_EVAL) continue;
            uses[x->in[k]]++;
            reader[x->in[k]] = i;
            count_recomputed(g, x, x->in[k], uses);
        }
    }
    if (g->loss >= 0) uses[g->loss] += 2;
    if (g->output >= 0) uses[g->output] += 2;
    for (int i = 0; i < n; i++)
        if (v->grad_of[i] >= 0 || v->view_of[i] >= 0)
            uses[v->view_of[i] >= 0 ? v->view_of[i] : i] += 2;

    for (int s = 0; s < v->norder; s++) {
        int x = v->order[s];
        const ir_node *xn = ir_get(g, x);
        if (v->fused_into[x] >= 0 || v->view_of[x] >= 0 || v->grad_of[x] >= 0) continue;
        if (!epi_producer(xn)) {
            if (uses[x] == 1 && mask_store_fits(g, v, x, reader[x], pos, s)) {
                v->epi[x] = reader[x];
                v->fused_into[reader[x]] = x;
                pos[reader[x]] = s;
            }
            continue;
        }
        if (has(xn, OPF_FOLDS_BN) && v->mode == PLAN_EVAL && uses[x] == 1) {
            /* batch norm folded into the convolution */
            int bn = reader[x];
            const ir_node *bnn = ir_get(g, bn);
            if (has(bnn, OPF_BN) && bnn->in[0] == x && pos[bn] >= 0 && uses[bnn->in[1]] == 1 &&
                pos[bnn->in[1]] >= 0 && v->grad_of[bn] < 0) {
                int a = bn;
                if (uses[bn] == 1) { /* else the normalised value is stored in bn's buffer */
                    int c = epi_candidate(g, v, bn, bn, reader[bn], pos, s);
                    if (c >= 0) a = c;
                }
                v->epi[x] = a;
                v->epi_bn[x] = bn;
                v->epi_affine[x] = folded_affine(g, v, xn, &v->epi_gamma[x], &v->epi_beta[x]);
                v->fused_into[a] = v->fused_into[bn] = v->fused_into[bnn->in[1]] = x;
                pos[a] = pos[bn] = s;
                continue;
            }
        }
        int a = -1, keep = 0;
        if (uses[x] == 1) {
            a = epi_candidate(g, v, x, x, reader[x], pos, s);
        } else if (has(xn, OPF_KEEP_IN_TRAIN) && v->mode == PLAN_TRAIN) {
            /* xhat is read by the backward too: stored beside the activation */
            for (int i = 0; i < n && a < 0; i++) {
                const ir_node *r = ir_get(g, i);
                if (pos[i] < 0 && v->inlined[i] < 0) continue;
                for (int k = 0; k < r->nin && a < 0; k++)
                    if (r->in[k] == x) a = epi_candidate(g, v, x, x, i, pos, s);
            }
            keep = 1;
        }
        if (a < 0) continue;
        v->epi[x] = a;
        v->epi_keep[x] = keep;
        v->fused_into[a] = x;
        pos[a] = s;
    }
    int w = 0;
    for (int s = 0; s < v->norder; s++)
        if (v->fused_into[v->order[s]] < 0) v->order[w++] = v->order[s];
    v->norder = w;
}

/* ---- side outputs: a value stored by the block of another node ---- */

/* Whether producer p's block can store side node t (op_def.side_of): p is
 * of that op, computed in its own block, and reads t's input with t's
 * attributes (so its loops meet the same values) */
static int side_fits(ir_graph *g, const plan_variant *v, int p, int t)
{
    const ir_node *pn = ir_get(g, p), *tn = ir_get(g, t);
    if (pn->op != op_get(tn->op)->side_of || v->fused_into[p] >= 0 || v->side[p] >= 0 ||
        v->view_of[p] >= 0 || pn->nin < 1 || pn->in[0] != tn->in[0])
        return 0;
    return !memcmp(pn->i, tn->i, sizeof pn->i) && !memcmp(pn->f, tn->f, sizeof pn->f);
}

/* A node whose row names a producer op (max pooling's argmax) is stored by
 * the block of such a producer scheduled before it, and leaves the
 * schedule; with none (the producer not in the variant, or reading another
 * copy of the input) it is computed by its own row. */
static void fuse_sides(ir_graph *g, plan_variant *v)
{
    int w = 0;
    for (int s = 0; s < v->norder; s++) {
        int t = v->order[s], found = -1;
        if (op_get(ir_get(g, t)->op)->side_of && v->grad_of[t] < 0 && v->view_of[t] < 0)
            for (int q = 0; q < w && found < 0; q++)
                if (side_fits(g, v, v->order[q], t)) found = v->order[q];
        if (found >= 0) {
            v->side[found] = t;
            v->fused_into[t] = found;
            continue;
        }
        v->order[w++] = t;
    }
    v->norder = w;
}

/* col2im of an input-gradient product's patches, read by it alone, runs
 * per image in the product's loop, a side output of its block: the
 * image's patches (LeNet's conv2: 51 kB) are still in cache, where the
 * whole batch's (1.6 MB a shard) went to L3 and came back. The same
 * additions in the same order: the bits of its own block. With
 * runtime/rt_col2im.c's kernel, LeNet's two blocks 173 -> 147 us a step,
 * fashion_cnn's 635 -> 596 (the loops alone per image gained nothing). */
static void fuse_col2im(ir_graph *g, plan_variant *v)
{
    for (int s = 0; s < v->norder; s++) {
        int t = v->order[s];
        const ir_node *tn = ir_get(g, t);
        int p = tn->op == OP_COL2IM ? tn->in[0] : -1;
        if (p >= 0 && ir_get(g, p)->op == OP_CONV2D_GRAD_INPUT && v->side[p] < 0 &&
            v->fused_into[p] < 0 && v->view_of[p] < 0 && v->view_of[t] < 0 && v->grad_of[t] < 0 &&
            v->epi[p] < 0 && ir_sole_reader(g, p, t)) {
            v->side[p] = t;
            v->fused_into[t] = p;
        }
    }
    /* the product moves to col2im's place: nothing between reads it, and its
     * patches then live for its step alone (not beside the ops between,
     * such as the weight gradient and its patches: fashion_cnn's need would
     * grow by 0.8 MiB a shard where it now shrinks) */
    int w = 0;
    for (int s = 0; s < v->norder; s++) {
        int x = v->order[s];
        if (v->side[x] >= 0 && ir_get(g, v->side[x])->op == OP_COL2IM) continue;
        v->order[w++] = v->fused_into[x] >= 0 ? v->fused_into[x] : x;
    }
    v->norder = w;
}

/* Sets death[root of each buffer node `id` reads] to at least s. */
static void mark_reads(ir_graph *g, const plan_variant *v, int id, int *death, int s)
{
    const ir_node *x = ir_get(g, id);
    for (int k = 0; k < x->nin; k++) {
        int in = x->in[k];
        if (v->inlined[in] >= 0) {
            mark_reads(g, v, in, death, s);
            continue;
        }
        int r = plan_root(v, in);
        if (s > death[r]) death[r] = s;
    }
}

/* Whether producer n may store over its input (op_def.in_place) */
static int in_place(const ir_node *n)
{
    const op_def *d = op_get(n->op);
    return d->in_place && d->in_place(n);
}

/* A node and what its code reads, through the nodes fused into it. */
static void mark_used(ir_graph *g, const plan_variant *v, int id, char *used)
{
    const ir_node *n = ir_get(g, id);
    used[id] = v->inlined[id] < 0;
    for (int k = 0; k < n->nin; k++) {
        if (v->inlined[n->in[k]] >= 0)
            mark_used(g, v, n->in[k], used);
        else
            used[n->in[k]] = 1;
    }
}

/* What the variant's function declares: the buffers its code reads or
 * writes, through fused chains and epilogues, and the roots of its views;
 * and whether it draws noise (dropout). */
static void declare(ir_graph *g, plan_variant *v)
{
    char *used = v->declared = arena_alloc(g->A, (size_t)g->n);
    for (int s = 0; s < v->norder; s++) mark_used(g, v, v->order[s], used);
    for (int s = 0; s < v->norder; s++) { /* epilogues: what the fused code reads */
        int id = v->order[s], a = v->epi[id], bn = v->epi_bn[id];
        if (a < 0) continue;
        mark_used(g, v, a, used);
        if (bn >= 0) {
            const ir_node *st = ir_get(g, ir_get(g, bn)->in[1]);
            used[st->in[1]] = used[st->in[2]] = 1;
            if (a != bn) used[bn] = 0;
            used[ir_get(g, bn)->in[1]] = 0; /* the statistics node is not computed */
        }
        if (!v->epi_keep[id]) used[id] = 0;
    }
    for (int s = 0; s < v->norder; s++) /* side outputs (fuse_sides) */
        if (v->side[v->order[s]] >= 0) used[v->side[v->order[s]]] = 1;
    for (int i = g->n - 1; i >= 0; i--) /* a used view needs its root declared */
        if (used[i] && v->view_of[i] >= 0) used[v->view_of[i]] = 1;
    if (g->output >= 0 && g->task != TASK_NONE) used[g->output] = 1;

    for (int s = 0; s < v->norder; s++)
        if (has(ir_get(g, v->order[s]), OPF_NOISE)) v->noise = 1;
}

typedef struct block {
    long off, size;
    int death;
} block;

/* The variant's per-node arrays, every node unplaced and unfused; views:
 * a reshape, and dropout in evaluation (the identity) */
static void variant_init(ir_graph *g, plan_variant *v, plan_mode mode, int batch)
{
    int n = g->n;
    v->mode = mode;
    v->batch = batch;
    v->order = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->offset = arena_alloc(g->A, sizeof(long) * (size_t)n);
    v->grad_of = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->view_of = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->kernel = arena_alloc(g->A, sizeof(plan_kernel) * (size_t)n);
    v->inlined = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->epi = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->epi_keep = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->epi_bn = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->fused_into = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->side = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->epi_affine = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->epi_gamma = arena_alloc(g->A, sizeof(int) * (size_t)n);
    v->epi_beta = arena_alloc(g->A, sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) {
        v->offset[i] = -1;
        v->grad_of[i] = -1;
        v->inlined[i] = v->epi[i] = v->epi_bn[i] = v->fused_into[i] = v->side[i] = -1;
        v->epi_affine[i] = v->epi_gamma[i] = v->epi_beta[i] = -1;
        const ir_node *x = ir_get(g, i);
        int identity = mode == PLAN_EVAL && has(x, OPF_EVAL_IDENTITY) && x->phase != PH_BACKWARD;
        v->view_of[i] = has(x, OPF_VIEW) || identity ? x->in[0] : -1;
    }
}

/* Node id into out (after the copies it reads that are not placed yet) */
static int place_after_copies(ir_graph *g, int id, const char *live, char *done, int *out, int no)
{
    const ir_node *x = ir_get(g, id);
    for (int k = 0; k < x->nin; k++) {
        int a = x->in[k];
        if (live[a] && !done[a] && ir_get(g, a)->recomputes >= 0)
            no = place_after_copies(g, a, live, done, out, no);
    }
    done[id] = 1;
    out[no] = id;
    return no + 1;
}

/* The copies gen/recompute.c made come last in the graph: each runs right
 * before the first step that reads it, so its buffer lives no longer than
 * the backward needs it */
static void order_recomputed(ir_graph *g, plan_variant *v, const char *live)
{
    char *done = arena_alloc(g->A, (size_t)g->n);
    int *out = arena_alloc(g->A, sizeof(int) * (size_t)v->norder), no = 0;
    for (int s = 0; s < v->norder; s++)
        if (ir_get(g, v->order[s])->recomputes < 0)
            no = place_after_copies(g, v->order[s], live, done, out, no);
    memcpy(v->order, out, sizeof(int) * (size_t)no);
    v->norder = no;
}

/* The schedule: the nodes the variant must compute, in graph order, each
 * with its kernel. It produces the loss and output; in training also every
 * parameter's gradient; eval computes forward nodes only. */
static void schedule(ir_graph *g, plan_variant *v)
{
    int n = g->n;
    char *live = arena_alloc(g->A, (size_t)n);
    if (g->loss >= 0 && !v->plain) live[g->loss] = 1;
    if (g->output >= 0) live[g->output] = 1;
    if (v->hvp) /* (Hv)_p written into the flat hv buffer (gen/hvp.c) */
        for (int i = 0; i < n; i++) {
            const ir_node *vec = ir_get(g, i);
            if (vec->kind != K_VECTOR) continue;
            live[vec->i[1]] = 1;
            v->grad_of[vec->i[1]] = vec->i[0];
        }
    else if (v->mode == PLAN_TRAIN)
        for (int i = 0; i < n; i++) {
            const ir_node *p = ir_get(g, i);
            if (p->kind == K_PARAM && p->grad >= 0) {
                live[p->grad] = 1;
                v->grad_of[p->grad] = i;
            }
        }
    /* the copies gen/recompute.c made come after their readers: again
     * until nothing more is live */
    for (int more = 1; more;) {
        more = 0;
        for (int i = n - 1; i >= 0; i--) {
            const ir_node *x = ir_get(g, i);
            if (!live[i]) continue;
            if (v->mode == PLAN_EVAL && x->phase == PH_BACKWARD) {
                live[i] = 0;
                continue;
            }
            for (int k = 0; k < x->nin; k++) {
                more |= x->in[k] > i && !live[x->in[k]];
                live[x->in[k]] = 1;
            }
        }
    }
    v->norder = 0;
    int copies = 0;
    for (int i = 0; i < n; i++) {
        const ir_node *x = ir_get(g, i);
        if (live[i] && x->kind == K_ACT) {
            v->kernel[i] = choose_kernel(g, x, v->batch);
            if (v->plain && (v->kernel[i] == KERN_BLAS || v->kernel[i] == KERN_GEMV ||
                             v->kernel[i] == KERN_GEMM))
                v->kernel[i] = KERN_LOOP;
            v->order[v->norder++] = i;
            copies |= x->recomputes >= 0;
        }
    }
    if (copies) order_recomputed(g, v, live);
}

/* The step after which each buffer dies: the last step that reads it or a
 * view of it; a fused node's inputs are read by its consumer */
static int *deaths(ir_graph *g, const plan_variant *v)
{
    int *death = arena_alloc(g->A, sizeof(int) * (size_t)g->n);
    for (int s = 0; s < v->norder; s++) {
        int r = plan_root(v, v->order[s]);
        if (s > death[r]) death[r] = s;
        mark_reads(g, v, v->order[s], death, s);
        int a = v->epi[v->order[s]]; /* computed at this step, alive from it */
        if (a >= 0) {
            if (s > death[a]) death[a] = s;
            mark_reads(g, v, a, death, s);
        }
        int t = v->side[v->order[s]];
        if (t >= 0 && s > death[t]) death[t] = s;
    }
    if (g->loss >= 0) death[plan_root(v, g->loss)] = v->norder;
    if (g->output >= 0) death[plan_root(v, g->output)] = v->norder;
    return death;
}

/* The lowest offset where size elements fit between the live blocks (sorted
 * by offset here) */
static long first_fit(block *blocks, int nb, long size)
{
    for (int a = 0; a < nb; a++)
        for (int b2 = a + 1; b2 < nb; b2++)
            if (blocks[b2].off < blocks[a].off) {
                block t = blocks[a];
                blocks[a] = blocks[b2];
                blocks[b2] = t;
            }
    long off = 0;
    for (int k = 0; k < nb; k++) {
        if (blocks[k].off - off >= size) break;
        if (blocks[k].off + blocks[k].size > off) off = blocks[k].off + blocks[k].size;
    }
    return off;
}

/* Arena offsets: first fit among the blocks still alive; a producer with
 * an epilogue places the fused node's buffer (and its own only if kept) */
static void place_buffers(ir_graph *g, plan_variant *v, const int *death)
{
    block *blocks = arena_alloc(g->A, sizeof(block) * (size_t)(2 * v->norder + 1));
    int nb = 0;
    long top = 0;
    for (int s = 0; s < v->norder; s++) {
        int id = v->order[s];
        if (v->view_of[id] >= 0 || v->grad_of[id] >= 0) continue;
        int w = 0;
        for (int k = 0; k < nb; k++)
            if (blocks[k].death >= s) blocks[w++] = blocks[k];
        nb = w;
        int place[3], np = 0;
        if (v->epi[id] < 0 || v->epi_keep[id]) place[np++] = id;
        if (v->side[id] >= 0) place[np++] = v->side[id];
        if (v->epi[id] >= 0) place[np++] = v->epi[id];
        for (int q = 0; q < np; q++) {
            const ir_node *x = ir_get(g, place[q]);
            long size = (ir_numel(x, v->batch) + ALIGN - 1) / ALIGN * ALIGN;
            long off = first_fit(blocks, nb, size);
            /* the fused op may take the place of x when x dies here (as it
             * would unfused) and the producer never overwrites a value of x
             * it still needs (in_place); not with a side output, whose
             * emitter counts on buffers apart (pool.c's restrict rows) */
            if (q == np - 1 && v->epi[id] >= 0 && v->side[id] < 0 && in_place(ir_get(g, id))) {
                int r = plan_root(v, ir_get(g, id)->in[0]);
                if (v->offset[r] >= 0 && death[r] == s &&
                    ir_numel(ir_get(g, r), v->batch) >= ir_numel(x, v->batch))
                    off = v->offset[r];
            }
            v->offset[place[q]] = off;
            blocks[nb++] = (block){off, size, death[place[q]]};
            if (off + size > top) top = off + size;
        }
    }
    v->arena_size = top;
}

/* (v->hvp and v->plain, set before, are kept) */
static void plan_variant_make(ir_graph *g, plan_variant *v, plan_mode mode, int batch, int fuse)
{
    int hvp = v->hvp, plain = v->plain;
    variant_init(g, v, mode, batch);
    v->hvp = hvp;
    v->plain = plain;
    schedule(g, v);
    if (fuse) {
        fuse_elementwise(g, v);
        fuse_epilogues(g, v);
        fuse_col2im(g, v);
    }
    fuse_sides(g, v);
    place_buffers(g, v, deaths(g, v));
    declare(g, v);
}

/* export-c's variant (see plan.h): eval at one row, the output only, plain */
static void plan_infer(ir_graph *g, plan_variant *v, int fuse)
{
    v->plain = 1;
    plan_variant_make(g, v, PLAN_EVAL, 1, fuse);
}

/* The probe (see plan.h): each activation of the forward pass lives to the
 * end, so the trainer reads them all after one call. */
static void plan_probe(ir_graph *g, plan_variant *v, int batch)
{
    variant_init(g, v, PLAN_EVAL, batch);
    schedule(g, v);
    int *death = deaths(g, v);
    for (int s = 0; s < v->norder; s++) {
        const ir_node *x = ir_get(g, v->order[s]);
        if (op_get(x->op)->act_bounds && x->phase != PH_BACKWARD)
            death[plan_root(v, v->order[s])] = v->norder;
    }
    place_buffers(g, v, death);
    declare(g, v);
}

/* FLOPs of one call of variant v, fused nodes included */
static double variant_flops(ir_graph *g, const plan_variant *v)
{
    double f = 0;
    for (int i = 0; i < g->n; i++) /* fused nodes count too */
        if (v->fused_into[i] >= 0) f += op_get(ir_get(g, i)->op)->flops(g, ir_get(g, i), v->batch);
    for (int s = 0; s < v->norder; s++) {
        const ir_node *x = ir_get(g, v->order[s]);
        f += op_get(x->op)->flops(g, x, v->batch);
    }
    return f;
}

/* train { shards = S }: a training variant per distinct shard size of the
 * batch and of the remainder (gen/shards.c's rule), the largest first */
static void plan_shard_variants(ir_graph *g, plan *p, int B, int R, int fuse)
{
    for (int k = 0; k < 2; k++) {
        int n = k ? R : B;
        if (n <= 0) continue;
        for (int extra = 1; extra >= 0; extra--) {
            int rows = n / rt_shard_count(p->shards, n) + extra;
            if (extra && n % rt_shard_count(p->shards, n) == 0) continue;
            int seen = 0;
            for (int j = 0; j < p->nv; j++) seen |= p->v[j].batch == rows;
            if (!seen) plan_variant_make(g, &p->v[p->nv++], PLAN_TRAIN, rows, fuse);
        }
    }
}

void plan_make(ir_graph *g, plan *p, int fuse)
{
    own_gradients(g);
    plan_variants(g, p, fuse);
}

void plan_variants(ir_graph *g, plan *p, int fuse)
{
    memset(p, 0, sizeof *p);
    int B = g->train.batch, R = 0;
    p->nv = 0;
    p->shards = g->train.shards > 1 ? g->train.shards : 1;
    if (p->shards > 1) {
        R = g->n_train % B && !g->train.drop_last ? g->n_train % B : 0;
        plan_shard_variants(g, p, B, R, fuse);
    } else {
        plan_variant_make(g, &p->v[p->nv++], PLAN_TRAIN, B, fuse);
        if (g->n_train % B && !g->train.drop_last) {
            R = g->n_train % B;
            plan_variant_make(g, &p->v[p->nv++], PLAN_TRAIN, R, fuse);
        }
    }
    int eval_at_batch = p->nv;
    plan_variant_make(g, &p->v[p->nv++], PLAN_EVAL, B, fuse);
    if (B != 1) plan_variant_make(g, &p->v[p->nv++], PLAN_EVAL, 1, fuse);
    p->batch = B;
    p->remainder = R;
    plan_probe(g, &p->probe, B);
    plan_infer(g, &p->infer, fuse);
    for (int k = 0; g->train.hvp && k < (R ? 2 : 1); k++) {
        p->hvp[k].hvp = 1;
        plan_variant_make(g, &p->hvp[p->nhvp++], PLAN_TRAIN, k ? R : B, fuse);
        if (p->hvp[k].arena_size > p->arena_size) p->arena_size = p->hvp[k].arena_size;
    }
    /* with shards the training steps run in the shards' own arenas
     * (shard_arena, below); the trainer's holds the evaluations and hvp */
    for (int i = 0; i < p->nv; i++)
        if ((p->shards == 1 || p->v[i].mode != PLAN_TRAIN) && p->v[i].arena_size > p->arena_size)
            p->arena_size = p->v[i].arena_size;
    p->eval_flops = variant_flops(g, &p->v[eval_at_batch]);
    if (p->shards == 1) {
        p->train_flops = variant_flops(g, &p->v[0]);
        return;
    }
    for (int j = 0; j < p->nv; j++)
        if (p->v[j].mode == PLAN_TRAIN && p->v[j].arena_size > p->shard_arena)
            p->shard_arena = p->v[j].arena_size;
    /* a step of B rows: its shards' steps */
    p->train_flops = 0;
    for (int k = 0; k < rt_shard_count(p->shards, B); k++)
        for (int j = 0; j < p->nv; j++)
            if (p->v[j].mode == PLAN_TRAIN && p->v[j].batch == rt_shard_rows(p->shards, B, k)) {
                p->train_flops += variant_flops(g, &p->v[j]);
                break;
            }
}

const plan_variant *plan_find_variant(const plan *p, plan_mode mode, int rows)
{
    const plan_variant *best = NULL;
    for (int k = 0; k < p->nv; k++) {
        const plan_variant *v = &p->v[k];
        if (v->mode != mode || (rows && v->batch != rows)) continue;
        if (!best || v->batch > best->batch) best = v;
    }
    return best;
}

int plan_draws_noise(const plan *p)
{
    for (int k = 0; k < p->nv; k++)
        if (p->v[k].mode == PLAN_TRAIN && p->v[k].noise) return 1;
    return 0;
}
