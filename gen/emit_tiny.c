/* emit_tiny.c — a tiny net's training step with its tensors in AVX2
 * registers: each row's activations in the lanes of one register from the
 * first product to the weight gradients, the last layer's rows summed in
 * the lanes of one register after a transpose, the loss's gradient on
 * those lanes.
 *
 * Why: on a net like models/xor.lua (2-8-1, 4 rows) the generic step's
 * blocks each go through the arena and gcc vectorises them one at a time
 * (linear2's rows gathered with 32 inserts, d_linear2_out broadcast again
 * for d_tanh1): 71-73 ns a step against 63-64 in registers, the same as
 * tests/bench/xor_registers.c's step by hand (xor_registers.sh). With plain
 * SGD the step also does the update (emit_tiny_sgd), where a pass of its
 * own cost xor ~3 ns of calls and tests.
 *
 * Exactness: every block does the generic block's operations in its order
 * (products' terms in order, the KERN_LOOP products from +0, the bias
 * sums from 0 in row order, the width-1 sum in double lanes through
 * e_lane_sum, the loss through its own op row), with no fma (the
 * generic code contracts none), so the step gives the same bits as the
 * generic one, which stays beside it as the readable step and the oracle:
 * tests/test_tiny.sh trains both on random nets and compares the weights.
 *
 * What it takes: input -> (linear, then tanh, sigmoid, relu or nothing)
 * repeated, the last layer one unit with sigmoid, bce against the labels;
 * at most 8 rows, 8 units and 8 inputs a layer (2 units or more in the
 * hidden layers), every product written out or in loops (no BLAS), no
 * other node in the step (dropout, penalties, batch norm: the generic
 * step). Anything else: NULL, and the generic step alone. */
#include <stdio.h>
#include <string.h>

#include "emit.h"
#include "emit_tiny.h"
#include "escape.h"
#include "fuse_update.h"
#include "optim.h"
#include "ops.h"

#define TINY_MAX_LAYERS 4
#define TINY_MAX_UNITS 8

typedef struct tiny_layer {
    int matmul, add, out; /* out: the activation, or the add without one */
    ir_op act;            /* OP_TANH, OP_SIGMOID, OP_RELU, or OP_ADD: none */
    const ir_node *weight, *bias;
    int units, inputs;
    /* the products' sums start from +0 (KERN_LOOP) rather than the first
     * term (KERN_UNROLL): forward, weight gradient, input gradient */
    int fwd0, dw0, din0;
} tiny_layer;

typedef struct tiny_net {
    tiny_layer layer[TINY_MAX_LAYERS];
    int nl;
} tiny_net;

static int trainable(const ir_node *n)
{
    return n->kind == K_PARAM && n->trainable && !n->buffer;
}

/* the kernel of a product the step has: 1 from +0, 0 from its first
 * term, -1 another (a library's: its own order) */
static int from_zero(const plan_variant *v, const ir_node *n)
{
    if (!n || n->op != OP_MATMUL) return -1;
    return v->kernel[n->id] == KERN_LOOP ? 1 : v->kernel[n->id] == KERN_UNROLL ? 0 : -1;
}

static const ir_node *grad_node(ir_graph *g, int id)
{
    int d = ir_get(g, id)->grad;
    return d >= 0 ? ir_get(g, d) : NULL;
}

/* whether node id of the step is one of the net's: its forward nodes, the
 * loss and their gradients' ops */
static int known_node(ir_graph *g, const tiny_net *t, int id)
{
    const ir_node *n = ir_get(g, id);
    if (n->kind != K_ACT || id == g->loss) return 1;
    for (int l = 0; l < t->nl; l++) {
        const tiny_layer *L = &t->layer[l];
        if (id == L->matmul || id == L->add || id == L->out) return 1;
    }
    if (n->phase != PH_BACKWARD) return 0;
    switch (n->op) {
    case OP_BCE_GRAD:
    case OP_SIGMOID_GRAD:
    case OP_TANH_GRAD:
    case OP_RELU_GRAD:
    case OP_SUM_TO:
    case OP_MATMUL:
        return 1;
    default:
        return 0;
    }
}

/* The chain from the loss back to the input, into t; 0: not a tiny net */
static int tiny_match(ir_graph *g, const plan_variant *v, tiny_net *t)
{
    if (v->mode != PLAN_TRAIN || v->hvp || v->noise || v->plain || v->batch > 8) return 0;
    const ir_node *loss = ir_get(g, g->loss);
    if (loss->op != OP_BCE || ir_get(g, loss->in[1])->kind != K_LABEL) return 0;
    tiny_layer rev[TINY_MAX_LAYERS];
    int nl = 0, cur = loss->in[0];
    long params = 0;
    for (;;) {
        if (nl == TINY_MAX_LAYERS) return 0;
        tiny_layer L = {.out = cur, .act = OP_ADD};
        const ir_node *c = ir_get(g, cur);
        if (c->op == OP_TANH || c->op == OP_SIGMOID || c->op == OP_RELU) {
            L.act = c->op;
            c = ir_get(g, c->in[0]);
        }
        if (c->op != OP_ADD) return 0;
        L.add = c->id;
        const ir_node *m = ir_get(g, c->in[0]), *b = ir_get(g, c->in[1]);
        if (m->op != OP_MATMUL) {
            const ir_node *s = m;
            m = b, b = s;
        }
        if (m->op != OP_MATMUL || m->i[0] || !m->i[1] || !trainable(b) || b->rank != 1) return 0;
        const ir_node *w = ir_get(g, m->in[1]), *in = ir_get(g, m->in[0]);
        if (!trainable(w) || w->rank != 2 || in->rank != 2 || in->dim[0] != IR_BATCH) return 0;
        L.matmul = m->id;
        L.weight = w, L.bias = b;
        L.units = w->dim[0], L.inputs = w->dim[1];
        if (b->dim[0] != L.units || L.units > TINY_MAX_UNITS || L.inputs > TINY_MAX_UNITS ||
            in->dim[1] != L.inputs)
            return 0;
        params += (long)L.units * L.inputs + L.units;
        rev[nl++] = L;
        if (in->kind == K_INPUT) break;
        cur = in->id;
    }
    t->nl = nl;
    for (int l = 0; l < nl; l++) t->layer[l] = rev[nl - 1 - l];
    const tiny_layer *last = &t->layer[nl - 1];
    /* the step's output (out) is the last layer's, as the generic step copies it */
    if (last->act != OP_SIGMOID || last->units != 1 || params != g->n_params ||
        g->output != last->out || g->task == TASK_NONE)
        return 0;
    /* each product's order, and the gradients' ops the step computes */
    for (int l = 0; l < nl; l++) {
        tiny_layer *L = &t->layer[l];
        if (l < nl - 1 && L->units < 2) return 0; /* a width-1 hidden bias sums in double */
        const ir_node *dw = grad_node(g, L->weight->id), *db = grad_node(g, L->bias->id);
        L->fwd0 = from_zero(v, ir_get(g, L->matmul));
        L->dw0 = from_zero(v, dw);
        L->din0 = l ? from_zero(v, grad_node(g, t->layer[l - 1].out)) : 0;
        if (L->fwd0 < 0 || L->dw0 < 0 || L->din0 < 0 || !db || db->op != OP_SUM_TO) return 0;
    }
    const ir_node *dp = grad_node(g, last->out), *dz = grad_node(g, last->add);
    if (!dp || dp->op != OP_BCE_GRAD || !dz || dz->op != OP_SIGMOID_GRAD) return 0;
    for (int k = 0; k < v->norder; k++)
        if (!known_node(g, t, v->order[k])) return 0;
    return 1;
}

int emit_tiny_count(ir_graph *g, const plan *p, int dbl)
{
    int n = 0;
    tiny_net t;
    if (dbl || p->shards > 1 || !fuse_update_refusal(g, p)) return 0;
    for (int k = 0; k < p->nv; k++) n += tiny_match(g, &p->v[k], &t);
    return n;
}

/* The first term of a product's sum: itself, or (from0, the KERN_LOOP
 * order) +0 plus it; pre: the vectors' prefix (_mm256, _mm) */
static const char *first_term(emitter *e, int from0, const char *pre, const char *term)
{
    return from0 ? e_fmt(e, "%s_add_ps(%s_setzero_ps(), %s)", pre, pre, term) : term;
}

/* the column lanes: a register of 4 rows or of 8 */
typedef struct lanes {
    const char *type, *pre; /* __m128 and _mm, or __m256 and _mm256 */
    int n;
} lanes;

/* The forward of hidden layer L: its rows in registers `out`_r[r]; `in`
 * the input's row-major values (stride) in memory */
static void hidden_forward(emitter *e, const tiny_layer *L, const char *in, int stride)
{
    writer *w = e->w;
    const ir_node *o = ir_get(e->g, L->out);
    const char *name = o->name, *wn = L->weight->name, *bn = L->bias->name;
    int R = e->batch, K = L->inputs, N = L->units;
    wr_blank(w);
    wr_line(w, "/* %s = %s(%s · %sᵀ + %s)  [%d x %d]  -- %s", name,
            L->act == OP_ADD ? "" : ir_op_name(L->act), in, wn, bn, R, N, emit_spec_at(e, o));
    wr_line(w,
            " * row r of it in one register, its %d units in the lanes: the terms x[r][k] "
            "w[:, k] in order of k%s, then + b */",
            N, L->fwd0 ? " from +0" : "");
    wr_line(w, "__m256 %s_r[%d];", name, R);
    wr_line(w, "{");
    for (int k = 0; k < K; k++) {
        char buf[1024];
        int len = 0;
        for (int n = 0; n < 8; n++)
            len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s", n ? ", " : "",
                            n < N ? e_fmt(e, "%s[%d]", wn, n * K + k) : "0");
        wr_line(w, "const __m256 w%d = _mm256_setr_ps(%s);", k, buf);
    }
    wr_line(w, "const __m256 b = rt_tiny_load8(%s, %d);", bn, N);
    wr_line(w, "for (int r = 0; r < %d; r++) {", R);
    wr_line(w, "__m256 s = %s;",
            first_term(e, L->fwd0, "_mm256",
                       e_fmt(e, "_mm256_mul_ps(_mm256_set1_ps(%s[%d * r]), w0)", in, stride)));
    for (int k = 1; k < K; k++)
        wr_line(w, "s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(%s[%d * r + %d]), w%d));", in,
                stride, k, k);
    if (L->act == OP_RELU) { /* y > 0 ? y : 0 */
        wr_line(w, "s = _mm256_add_ps(s, b);");
        wr_line(w, "%s_r[r] = _mm256_and_ps(_mm256_cmp_ps(s, _mm256_setzero_ps(), _CMP_GT_OQ), s);",
                name);
    } else
        wr_line(w, "%s_r[r] = _mm256_add_ps(s, b);", name);
    wr_line(w, "}");
    /* the next layer reads its rows' values from memory too */
    wr_line(w, "for (int r = 0; r < %d; r++) _mm256_storeu_ps(%s_m + 8 * r, %s_r[r]);", R, name,
            name);
    if (L->act == OP_TANH || L->act == OP_SIGMOID) {
        wr_line(w, "/* %s of the stored values, as the generic step (runtime/rt_act.c) */",
                ir_op_name(L->act));
        wr_line(w, "rt_%s_n(%s_m, %s_m, %d);", ir_op_name(L->act), name, name, 8 * R);
        wr_line(w, "for (int r = 0; r < %d; r++) %s_r[r] = _mm256_loadu_ps(%s_m + 8 * r);", R, name,
                name);
    }
    wr_line(w, "}");
}

int emit_tiny_sgd(ir_graph *g, const plan *p)
{
    static const char *const zero[] = {"momentum", "maximize", "weight_decay"};
    const opt_def *d = opt_find("sgd");
    if (fuse_update_blocked(g, p) || strcmp(g->opt.c.name, "sgd") || sched_cycles_momentum(g))
        return 0;
    for (int k = 0; k < 3; k++) {
        int i = opt_index(d, zero[k]);
        if (i >= 0 && g->opt.c.value[i][0] != 0) return 0;
    }
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        double lr_scale, wd;
        if (n->kind != K_PARAM || !n->trainable) continue;
        update_scale_of(g, n, &lr_scale, &wd);
        if (lr_scale != 1 || wd != 0) return 0;
    }
    return 1;
}

const char *emit_tiny_step(emitter *e, const char *fname, int sgd)
{
    ir_graph *g = e->g;
    const plan_variant *v = e->pv;
    tiny_net t;
    if (e->dbl || e->sync || e->fuse_last || !tiny_match(g, v, &t)) return NULL;
    writer *w = e->w;
    const int R = e->batch, nl = t.nl;
    const lanes c = R <= 4 ? (lanes){"__m128", "_mm", 4} : (lanes){"__m256", "_mm256", 8};
    const char *tiny = e_fmt(e, "%s_tiny", fname);
    const tiny_layer *last = &t.layer[nl - 1];
    const ir_node *p = ir_get(g, last->out), *loss = ir_get(g, g->loss);
    const ir_node *dp = grad_node(g, last->out), *dz = grad_node(g, last->add);
    const ir_node *y = ir_get(g, loss->in[1]);

    wr_line(w, "#ifdef RT_ACT_VECTOR");
    wr_line(w, "/* ---- %s: %s with every tensor in AVX2 registers (gen/emit_tiny.c) ----", tiny,
            fname);
    wr_line(w, " * The same operations in the same order as %s, so the same bits; what", fname);
    wr_line(w, " * differs is where the values live: a row's activations in the lanes of one");
    wr_line(w, " * register, the last layer's %d rows in the lanes of one. model_train_step", R);
    wr_line(w, " * runs it where the CPU has AVX2 and FMA (rt_tiny_step), unless train");
    wr_line(w, " * --profile times the blocks of %s or TRAINC_GENERIC_STEP=1 is set.", fname);
    wr_line(w, " * u: the optimizer's update after the step (SGD), or NULL. */");
    wr_line(w,
            "RT_TINY static inline __attribute__((always_inline)) real %s_body(real *restrict "
            "param, real *restrict grad,",
            tiny);
    wr_line(w, "                const real *restrict x, const real *restrict y, real *restrict "
               "out, const model_update_args *u)");
    wr_line(w, "{");
    for (int l = 0; l < nl; l++) {
        const tiny_layer *L = &t.layer[l];
        const ir_node *dw = grad_node(g, L->weight->id), *db = grad_node(g, L->bias->id);
        const ir_node *pr[2] = {L->weight, L->bias}, *gr[2] = {dw, db};
        for (int k = 0; k < 2; k++) {
            wr_line(w, "const real *const %s = param + P_%s; /* %s */", pr[k]->name,
                    e_upper(g->A, pr[k]->name), esc_c_comment(g->A, pr[k]->label));
            wr_line(w, "real *const %s = grad + P_%s; /* d loss / d %s */", gr[k]->name,
                    e_upper(g->A, pr[k]->name), esc_c_comment(g->A, pr[k]->label));
        }
        if (l < nl - 1) /* a hidden layer's rows in memory, 8 floats apart */
            wr_line(w, "_Alignas(32) real %s_m[%d];", ir_get(g, L->out)->name, 8 * R);
    }
    if (y->name && strcmp(y->name, "y")) wr_line(w, "const real *const %s = y;", y->name);

    wr_blank(w);
    wr_line(w, "/* ======== forward ======== */");
    const char *in = "x";
    int stride = t.layer[0].inputs;
    for (int l = 0; l < nl - 1; l++) {
        hidden_forward(e, &t.layer[l], in, stride);
        in = e_fmt(e, "%s_m", ir_get(g, t.layer[l].out)->name);
        stride = 8;
    }

    /* the last layer: one unit, the rows in the lanes of one register */
    const int K = last->inputs;
    const char *h = nl > 1 ? ir_get(g, t.layer[nl - 2].out)->name : NULL;
    wr_blank(w);
    wr_line(w, "/* %s = sigmoid(%s · %sᵀ + %s)  [%d x 1]  -- %s", p->name, h ? h : "x",
            last->weight->name, last->bias->name, R, emit_spec_at(e, p));
    wr_line(w,
            " * the %d rows' sums in the lanes of one register: column k of the input "
            "times w[k], in order of k%s */",
            R, last->fwd0 ? " from +0" : "");
    wr_line(w, "%s %s_c;", c.type, p->name);
    wr_line(w, "{");
    wr_line(w, "%s col[%d];", c.type, h ? 8 : K);
    if (h)
        wr_line(w, "rt_tiny_columns%d(%s_r, %d, col); /* a transpose of its rows */", c.n, h, R);
    else
        for (int k = 0; k < K; k++) {
            char buf[512];
            int len = 0;
            for (int r = 0; r < c.n; r++)
                len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s", r ? ", " : "",
                                r < R ? e_fmt(e, "x[%d]", r * K + k) : "0");
            wr_line(w, "col[%d] = %s_setr_ps(%s);", k, c.pre, buf);
        }
    const char *wn = last->weight->name;
    wr_line(w, "%s s = %s;", c.type,
            first_term(e, last->fwd0, c.pre,
                       e_fmt(e, "%s_mul_ps(col[0], %s_set1_ps(%s[0]))", c.pre, c.pre, wn)));
    if (K > 1)
        wr_line(
            w,
            "for (int k = 1; k < %d; k++) s = %s_add_ps(s, %s_mul_ps(col[k], %s_set1_ps(%s[k])));",
            K, c.pre, c.pre, c.pre, wn);
    wr_line(w, "%s_c = %s(%s_add_ps(s, %s_set1_ps(%s[0])));", p->name,
            c.n == 4 ? "rt_sigmoid4" : "rt_tiny_sigmoid8", c.pre, c.pre, last->bias->name);
    wr_line(w, "rt_tiny_store%d(out, %s_c, %d); /* the step's output */", c.n, p->name, R);
    wr_line(w, "}");

    wr_blank(w);
    wr_line(w, "/* ======== loss ======== */");
    wr_blank(w);
    wr_line(w, "/* %s = %s(%s, %s)  -- %s: the generic block, on the output in out */", loss->name,
            ir_op_name(loss->op), p->name, y->name, emit_spec_at(e, loss));
    wr_line(w, "const real *const %s = out;", p->name);
    wr_line(w, "real %s[1];", loss->name);
    wr_line(w, "{");
    op_get(loss->op)->emit(e, loss);
    wr_line(w, "}");

    wr_blank(w);
    wr_line(w, "/* ======== backward ======== */");
    wr_blank(w);
    wr_line(w, "/* %s = bce_backward, then %s = sigmoid_backward  -- %s", dp->name, dz->name,
            emit_spec_at(e, loss));
    wr_line(w, " * dp = dloss / n (p - y) / max((1 - p) p, 1e-12), dz = dp (1 - p) p: the rows "
               "in lanes */");
    wr_line(w, "_Alignas(32) real %s[%d];", dz->name, c.n);
    wr_line(w, "{");
    wr_line(w, "const %s one = %s_set1_ps(1.0f), q = %s_sub_ps(one, %s_c);", c.type, c.pre, c.pre,
            p->name);
    wr_line(w, "const real scale = %s / %d;", e_at(e, dp->in[2], "0"), R);
    wr_line(w, "const %s yv = rt_tiny_load%d(%s, %d);", c.type, c.n, y->name, R);
    wr_line(w,
            "const %s d = %s_mul_ps(%s_set1_ps(scale), %s_div_ps(%s_sub_ps(%s_c, yv), "
            "%s_max_ps(%s_mul_ps(q, %s_c), %s_set1_ps(%s))));",
            c.type, c.pre, c.pre, c.pre, c.pre, p->name, c.pre, c.pre, p->name, c.pre,
            e_lit(e, 1e-12));
    wr_line(w, "%s_store_ps(%s, %s_mul_ps(%s_mul_ps(d, q), %s_c));", c.pre, dz->name, c.pre, c.pre,
            p->name);
    wr_line(w, "}");

    const ir_node *db = grad_node(g, last->bias->id), *dw = grad_node(g, last->weight->id);
    wr_blank(w);
    wr_line(w, "/* %s = sum(%s): in double, as the generic step's sum */", db->name, dz->name);
    wr_line(w, "{");
    e_lane_sum(e, "double", "s", "i", e_fmt(e, "%s[i]", dz->name), R);
    wr_line(w, "%s[0] = (real)(s);", db->name);
    wr_line(w, "}");

    /* the last layer's weight gradient: the rows of its input, each times
     * the row's dz, summed in row order */
    wr_blank(w);
    wr_line(w, "/* %s = %sᵀ · %s: the rows' sum, in order of r%s */", dw->name, dz->name,
            h ? h : "x", last->dw0 ? " from +0" : "");
    wr_line(w, "{");
    for (int r = 0; r < R; r++) {
        const char *row =
            h ? e_fmt(e, "%s_r[%d]", h, r) : e_fmt(e, "rt_tiny_load8(x + %d, %d)", r * K, K);
        const char *term = e_fmt(e, "_mm256_mul_ps(_mm256_set1_ps(%s[%d]), %s)", dz->name, r, row);
        if (r == 0)
            wr_line(w, "__m256 s = %s;", first_term(e, last->dw0, "_mm256", term));
        else
            wr_line(w, "s = _mm256_add_ps(s, %s);", term);
    }
    wr_line(w, "rt_tiny_store8(%s, s, %d);", dw->name, K);
    wr_line(w, "}");

    /* the gradient of each hidden layer's output, from the layer after it */
    const char *dnext = dz->name; /* the rows' values of the gradient after, in memory */
    for (int l = nl - 2; l >= 0; l--) {
        const tiny_layer *L = &t.layer[l], *A = &t.layer[l + 1];
        const ir_node *o = ir_get(g, L->out), *dout = grad_node(g, L->out);
        const ir_node *dadd = L->act == OP_ADD ? dout : grad_node(g, L->add);
        const ir_node *lb = grad_node(g, L->bias->id), *lw = grad_node(g, L->weight->id);
        const int N = L->units, KL = L->inputs, stride_in = l ? 8 : KL;
        const char *lin = l ? e_fmt(e, "%s_m", ir_get(g, t.layer[l - 1].out)->name) : "x";
        wr_blank(w);
        wr_line(w,
                "/* %s = %s · %s  -- %s: row r the sum over the units n after of d[r][n] "
                "w[n, :]%s */",
                dout->name, A == last ? dz->name : grad_node(g, A->add)->name, A->weight->name,
                emit_spec_at(e, o), A->din0 ? " from +0" : "");
        wr_line(w, "__m256 %s_r[%d];", dout->name, R);
        wr_line(w, "{");
        for (int n = 0; n < A->units; n++)
            wr_line(w, "const __m256 w%d = rt_tiny_load8(%s + %d, %d);", n, A->weight->name,
                    n * A->inputs, A->inputs);
        wr_line(w, "for (int r = 0; r < %d; r++) {", R);
        const int dstride = A == last ? 1 : 8;
        const char *t0 = e_fmt(e, "_mm256_mul_ps(_mm256_set1_ps(%s[%d * r]), w0)", dnext, dstride);
        wr_line(w, "__m256 s = %s;", first_term(e, A->din0, "_mm256", t0));
        for (int n = 1; n < A->units; n++)
            wr_line(w, "s = _mm256_add_ps(s, _mm256_mul_ps(_mm256_set1_ps(%s[%d * r + %d]), w%d));",
                    dnext, dstride, n, n);
        wr_line(w, "%s_r[r] = s;", dout->name);
        wr_line(w, "}");
        wr_line(w, "}");

        if (L->act != OP_ADD) {
            wr_blank(w);
            wr_line(w, "/* %s = %s_backward(%s, %s)  -- %s: %s */", dadd->name, ir_op_name(L->act),
                    o->name, dout->name, emit_spec_at(e, o), op_get(dadd->op)->math);
            wr_line(w, "__m256 %s_r[%d];", dadd->name, R);
            wr_line(w, "for (int r = 0; r < %d; r++) {", R);
            wr_line(w, "const __m256 yr = %s_r[r], dy = %s_r[r];", o->name, dout->name);
            if (L->act == OP_TANH)
                wr_line(w,
                        "%s_r[r] = _mm256_mul_ps(dy, _mm256_sub_ps(_mm256_set1_ps(1.0f), "
                        "_mm256_mul_ps(yr, yr)));",
                        dadd->name);
            else if (L->act == OP_SIGMOID)
                wr_line(w,
                        "%s_r[r] = _mm256_mul_ps(_mm256_mul_ps(dy, "
                        "_mm256_sub_ps(_mm256_set1_ps(1.0f), yr)), yr);",
                        dadd->name);
            else
                wr_line(w,
                        "%s_r[r] = _mm256_and_ps(_mm256_cmp_ps(yr, _mm256_setzero_ps(), "
                        "_CMP_GT_OQ), dy);",
                        dadd->name);
            wr_line(w, "}");
        }

        wr_blank(w);
        wr_line(w, "/* %s = sum(%s) over the rows, from 0 in row order */", lb->name, dadd->name);
        wr_line(w, "{");
        wr_line(w, "__m256 s = _mm256_setzero_ps();");
        wr_line(w, "for (int r = 0; r < %d; r++) s = _mm256_add_ps(s, %s_r[r]);", R, dadd->name);
        wr_line(w, "rt_tiny_store8(%s, s, %d);", lb->name, N);
        wr_line(w, "}");

        wr_blank(w);
        wr_line(w,
                "/* %s = %sᵀ · %s: column k (the %d units in lanes) the rows' sum of "
                "d[r] %s[r][k], in order of r%s */",
                lw->name, dadd->name, lin, N, lin, L->dw0 ? " from +0" : "");
        wr_line(w, "{");
        wr_line(w, "__m256 col[%d];", KL);
        wr_line(w, "for (int k = 0; k < %d; k++) {", KL);
        const char *f0 = e_fmt(e, "_mm256_mul_ps(%s_r[0], _mm256_set1_ps(%s[k]))", dadd->name, lin);
        wr_line(w, "__m256 s = %s;", first_term(e, L->dw0, "_mm256", f0));
        wr_line(w, "for (int r = 1; r < %d; r++)", R);
        wr_line(w,
                "    s = _mm256_add_ps(s, _mm256_mul_ps(%s_r[r], _mm256_set1_ps(%s[%d * r + k])));",
                dadd->name, lin, stride_in);
        wr_line(w, "col[k] = s;");
        wr_line(w, "}");
        wr_line(w, "rt_tiny_store_columns(%s, col, %d, %d);", lw->name, N, KL);
        wr_line(w, "}");

        if (l > 0) { /* the rows of the gradient, for the layer before */
            wr_line(w, "_Alignas(32) real %s_m[%d];", dadd->name, 8 * R);
            wr_line(w, "for (int r = 0; r < %d; r++) _mm256_storeu_ps(%s_m + 8 * r, %s_r[r]);", R,
                    dadd->name, dadd->name);
            dnext = e_fmt(e, "%s_m", dadd->name);
        }
    }
    wr_blank(w);
    wr_line(w, "/* the optimizer's update, as model_update's: p = fma(g, -lr, p) (SGD) */");
    wr_line(w, "if (u) rt_tiny_sgd(param, grad, %ld, (real)u->lr);", g->n_params);
    wr_line(w, "return %s[0];", loss->name);
    wr_line(w, "}");
    wr_blank(w);
    wr_line(w, "/* the step alone (model_train_step's) */");
    wr_line(w,
            "RT_TINY static real %s(real *restrict param, real *restrict grad, const real "
            "*restrict x,",
            tiny);
    wr_line(w, "                const real *restrict y, real *restrict out)");
    wr_line(w, "{");
    wr_line(w, "return %s_body(param, grad, x, y, out, NULL);", tiny);
    wr_line(w, "}");
    if (sgd) {
        wr_blank(w);
        wr_line(w, "/* the step, then SGD's update of every parameter (model_train_update's) */");
        wr_line(w,
                "RT_TINY static real %s_update(real *restrict param, real *restrict grad, const "
                "real *restrict x,",
                tiny);
        wr_line(w, "                const real *restrict y, real *restrict out, const "
                   "model_update_args *u)");
        wr_line(w, "{");
        wr_line(w, "return %s_body(param, grad, x, y, out, u);", tiny);
        wr_line(w, "}");
    }
    wr_line(w, "#endif");
    wr_blank(w);
    return tiny;
}
