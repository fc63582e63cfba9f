/* plan.c — variants, schedules, memory and kernels (see plan.h). */
#include "plan.h"

#include <stdlib.h>
#include <string.h>

#include "ops.h"

/* Products at or above this many multiply-adds go to OpenBLAS; at or below
 * the small limit they are written out as straight-line code. */
#define BLAS_MIN_MACS 32768L
#define UNROLL_MAX_MACS 64L
#define UNROLL_MAX_ELEMS 8L
/* arena offsets are multiples of 16 elements (64 bytes for float) */
#define ALIGN 16L

int plan_root(const plan_variant *v, int id)
{
    while (v->view_of[id] >= 0) id = v->view_of[id];
    return id;
}

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
        int ok = gn->kind == K_ACT && gn->op != OP_RESHAPE && gn->id < nstart && !claimed[gn->id];
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

static plan_kernel choose_kernel(ir_graph *g, const ir_node *n, int b)
{
    int conv = conv_kernel(g, n, b);
    if (conv >= 0) return (plan_kernel)conv;
    if (n->op == OP_MATMUL) {
        double macs = op_get(OP_MATMUL)->flops(g, n, b) / 2;
        long m = n->dim[0] == IR_BATCH ? b : n->dim[0],
             cols = n->dim[1] == IR_BATCH ? b : n->dim[1];
        /* OpenBLAS's gemm is ~3x slower than its gemv on a width-1 product */
        if (macs >= BLAS_MIN_MACS) return m == 1 || cols == 1 ? KERN_GEMV : KERN_BLAS;
        if (macs <= UNROLL_MAX_MACS) return KERN_UNROLL;
        return KERN_LOOP;
    }
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

/* Elementwise chains: a node whose only reader is an elementwise node of
 * the same shape is computed inside that reader's loop (bias + activation,
 * the terms of an expression) instead of through a buffer of its own. */
static void fuse_elementwise(ir_graph *g, plan_variant *v)
{
    int n = g->n;
    int *uses = arena_alloc(g->A, sizeof(int) * (size_t)n);
    int *reader = arena_alloc(g->A, sizeof(int) * (size_t)n);
    for (int i = 0; i < n; i++) v->inlined[i] = -1;
    for (int s = 0; s < v->norder; s++) {
        const ir_node *x = ir_get(g, v->order[s]);
        for (int k = 0; k < x->nin; k++) {
            uses[x->in[k]]++;
            reader[x->in[k]] = x->id;
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
            if (elementwise_expr(r) && ir_same_shape(x, r) && v->kernel[r->id] == v->kernel[id] &&
                fused_inputs(g, v, r->id, id) <= FUSE_MAX_INPUTS) {
                v->inlined[id] = r->id;
                continue;
            }
        }
        v->order[w++] = id;
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

typedef struct block {
    long off, size;
    int death;
} block;

static void plan_variant_make(ir_graph *g, plan_variant *v, plan_mode mode, int batch)
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
    char *live = arena_alloc(g->A, (size_t)n);
    for (int i = 0; i < n; i++) {
        v->offset[i] = -1;
        v->grad_of[i] = -1;
        const ir_node *x = ir_get(g, i);
        /* dropout is the identity in evaluation: a view, no code */
        int identity = mode == PLAN_EVAL && x->op == OP_DROPOUT && x->phase != PH_BACKWARD;
        v->view_of[i] = x->op == OP_RESHAPE || identity ? x->in[0] : -1;
    }

    /* what the variant must produce: the loss and output; in training also
     * every parameter's gradient */
    if (g->loss >= 0) live[g->loss] = 1;
    if (g->output >= 0) live[g->output] = 1;
    if (mode == PLAN_TRAIN)
        for (int i = 0; i < n; i++) {
            const ir_node *p = ir_get(g, i);
            if (p->kind == K_PARAM && p->grad >= 0) {
                live[p->grad] = 1;
                v->grad_of[p->grad] = i;
            }
        }
    /* eval computes forward nodes only */
    for (int i = n - 1; i >= 0; i--) {
        const ir_node *x = ir_get(g, i);
        if (!live[i]) continue;
        if (mode == PLAN_EVAL && x->phase == PH_BACKWARD) {
            live[i] = 0;
            continue;
        }
        for (int k = 0; k < x->nin; k++) live[x->in[k]] = 1;
    }
    v->norder = 0;
    for (int i = 0; i < n; i++) {
        const ir_node *x = ir_get(g, i);
        if (live[i] && x->kind == K_ACT) {
            v->kernel[i] = choose_kernel(g, x, batch);
            v->order[v->norder++] = i;
        }
    }

    fuse_elementwise(g, v);

    /* liveness: a buffer dies after the last step that reads it or a view of
     * it; a fused node's inputs are read by its consumer */
    int *death = arena_alloc(g->A, sizeof(int) * (size_t)n);
    for (int s = 0; s < v->norder; s++) {
        int r = plan_root(v, v->order[s]);
        if (s > death[r]) death[r] = s;
        mark_reads(g, v, v->order[s], death, s);
    }
    if (g->loss >= 0) death[plan_root(v, g->loss)] = v->norder;
    if (g->output >= 0) death[plan_root(v, g->output)] = v->norder;

    /* first fit among the blocks still alive */
    block *blocks = arena_alloc(g->A, sizeof(block) * (size_t)(v->norder + 1));
    int nb = 0;
    long top = 0;
    for (int s = 0; s < v->norder; s++) {
        int id = v->order[s];
        const ir_node *x = ir_get(g, id);
        if (v->view_of[id] >= 0 || v->grad_of[id] >= 0) continue;
        int w = 0;
        for (int k = 0; k < nb; k++)
            if (blocks[k].death >= s) blocks[w++] = blocks[k];
        nb = w;
        long size = (ir_numel(x, batch) + ALIGN - 1) / ALIGN * ALIGN;
        /* blocks sorted by offset: take the first gap that fits */
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
        v->offset[id] = off;
        blocks[nb++] = (block){off, size, death[id]};
        if (off + size > top) top = off + size;
    }
    v->arena_size = top;
}

void plan_make(ir_graph *g, plan *p)
{
    memset(p, 0, sizeof *p);
    own_gradients(g);
    int B = g->train.batch, R = 0;
    p->nv = 0;
    plan_variant_make(g, &p->v[p->nv++], PLAN_TRAIN, B);
    if (g->n_train % B && !g->train.drop_last) {
        R = g->n_train % B;
        plan_variant_make(g, &p->v[p->nv++], PLAN_TRAIN, R);
    }
    plan_variant_make(g, &p->v[p->nv++], PLAN_EVAL, B);
    if (B != 1) plan_variant_make(g, &p->v[p->nv++], PLAN_EVAL, 1);
    p->batch = B;
    p->remainder = R;
    for (int i = 0; i < p->nv; i++)
        if (p->v[i].arena_size > p->arena_size) p->arena_size = p->v[i].arena_size;
    for (int k = 0; k < 2; k++) {
        plan_variant *v = &p->v[k == 0 ? 0 : (R ? 2 : 1)];
        double f = 0;
        for (int s = 0; s < v->norder; s++) {
            const ir_node *x = ir_get(g, v->order[s]);
            f += op_get(x->op)->flops(g, x, v->batch);
        }
        if (k == 0)
            p->train_flops = f;
        else
            p->eval_flops = f;
    }
}
