/* cgen.c — the code-printing helpers op rows print through (see cgen.h):
 * references, literals, epilogues, elementwise loop nests, sums. */
#include "cgen.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ops.h"

const char *e_lit(emitter *e, double v)
{
    char buf[64];
    if (isinf(v)) return v > 0 ? "INFINITY" : "(-INFINITY)";
    if (isnan(v)) return "NAN";
    snprintf(buf, sizeof buf, e->dbl ? "%.17g" : "%.9g", v);
    if (!strpbrk(buf, ".en")) strcat(buf, ".0");
    if (!e->dbl) strcat(buf, "f");
    if (v < 0) return e_fmt(e, "(%s)", buf);
    return arena_strdup(e->g->A, buf);
}

int e_dim(const emitter *e, const ir_node *n, int axis)
{
    return n->dim[axis] == IR_BATCH ? e->batch : n->dim[axis];
}

long e_numel(const emitter *e, const ir_node *n)
{
    return ir_numel(n, e->batch);
}

plan_kernel e_kernel(const emitter *e, const ir_node *n)
{
    return e->pv->kernel[n->id];
}

const char *e_upper(arena *A, const char *s)
{
    char *u = arena_strdup(A, s);
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return u;
}

int e_training(const emitter *e)
{
    return e->pv->mode == PLAN_TRAIN;
}

const char *e_ref(emitter *e, int id)
{
    return ir_get(e->g, id)->name;
}

/* ---- epilogues (see emit.h and plan.h) ---- */

int e_has_epilogue(const emitter *e, const ir_node *n)
{
    return e->pv->epi[n->id] >= 0;
}

const char *e_store_ref(emitter *e, const ir_node *n)
{
    int a = e->pv->epi[n->id];
    return e_ref(e, a >= 0 ? a : n->id);
}

const char *e_store_also(emitter *e, const ir_node *n)
{
    return e->pv->epi[n->id] >= 0 && e->pv->epi_keep[n->id] ? e_ref(e, n->id) : NULL;
}

const char *e_side_ref(emitter *e, const ir_node *n)
{
    int t = e->pv->side[n->id];
    return t >= 0 ? e_ref(e, t) : NULL;
}

static int word_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

void e_epilogue_begin(emitter *e, const ir_node *n)
{
    int bn = e->pv->epi_bn[n->id];
    if (bn < 0) return;
    const ir_node *st = ir_get(e->g, ir_get(e->g, bn)->in[1]);
    int gamma = e->pv->epi_gamma[n->id], beta = e->pv->epi_beta[n->id];
    int affine = e->pv->epi_affine[n->id] >= 0;
    long C = e_dim(e, n, 1);
    wr_line(e->w, "/* batch norm in eval as y = x * s + t per channel (torch's inference form):");
    wr_line(e->w,
            " * s = %sinvstd, t = %s - running_mean * s, invstd = 1 / sqrt(running_var + eps) */",
            affine ? "gamma * " : "", affine ? "beta" : "0");
    wr_line(e->w, "real fold_s[%ld], fold_t[%ld];", C, C);
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", C);
    wr_line(e->w, "const real invstd = (real)(1 / sqrt((double)%s[c] + %.17g));",
            e_ref(e, st->in[2]), st->f[0]);
    if (affine) {
        wr_line(e->w, "fold_s[c] = %s[c] * invstd;", e_ref(e, gamma));
        wr_line(e->w, "fold_t[c] = %s[c] - %s[c] * fold_s[c];", e_ref(e, beta),
                e_ref(e, st->in[1]));
    } else {
        wr_line(e->w, "fold_s[c] = invstd;");
        wr_line(e->w, "fold_t[c] = -%s[c] * invstd;", e_ref(e, st->in[1]));
    }
    wr_line(e->w, "}");
}

/* The expression of node n with its placeholders replaced: P Q by the
 * attributes, an input A B C by its value when it is a constant, else by
 * the text operand() gives for it (the one place the letters are read) */
typedef const char *(*operand_text)(emitter *e, const ir_node *x, void *ctx);
static const char *subst_cexpr(emitter *e, const ir_node *n, const char *cexpr,
                               operand_text operand, void *ctx)
{
    writer w;
    wr_init(&w);
    for (const char *s = cexpr; *s; s++) {
        int alone = (s == cexpr || !word_char(s[-1])) && !word_char(s[1]);
        if (alone && (*s == 'A' || *s == 'B' || *s == 'C') && *s - 'A' < n->nin) {
            const ir_node *x = ir_get(e->g, n->in[*s - 'A']);
            wr_raw(&w, x->kind == K_CONST ? e_lit(e, x->f[0]) : operand(e, x, ctx));
        } else if (alone && (*s == 'P' || *s == 'Q')) {
            wr_raw(&w, e_lit(e, n->f[*s - 'P']));
        } else {
            char c[2] = {*s, 0};
            wr_raw(&w, c);
        }
    }
    char *t = wr_take(&w);
    const char *r = arena_strdup(e->g->A, t);
    free(t);
    return r;
}

/* An epilogue of producer n: src's element (and the node `absorbed`, a
 * folded batch norm's affine part) is val; other inputs are read at chan
 * when per channel, else at idx */
typedef struct epi_ctx {
    const ir_node *n;
    int src, absorbed;
    const char *val, *chan, *idx;
} epi_ctx;

static const char *epi_expand(emitter *e, const ir_node *x, epi_ctx *c);

static const char *epi_operand(emitter *e, const ir_node *a, void *ctx)
{
    epi_ctx *c = ctx;
    if (a->id == c->src || a->id == c->absorbed) return c->val;
    if (e->pv->inlined[a->id] >= 0) return e_fmt(e, "(%s)", epi_expand(e, a, c));
    return e_fmt(e, "%s[%s]", a->name, ir_per_channel(a, c->n) ? c->chan : c->idx);
}

/* The expression of chain node x of the epilogue */
static const char *epi_expand(emitter *e, const ir_node *x, epi_ctx *c)
{
    if (x->id == c->absorbed) return c->val;
    return subst_cexpr(e, x, elementwise_expr(x), epi_operand, c);
}

const char *e_epilogue_at(emitter *e, const ir_node *n, const char *v, const char *chan,
                          const char *idx)
{
    int a = e->pv->epi[n->id], bn = e->pv->epi_bn[n->id];
    if (a < 0) return v;
    int absorbed = e->pv->epi_affine[n->id];
    const char *val = v;
    if (bn >= 0) val = e_fmt(e, "(%s * fold_s[%s] + fold_t[%s])", v, chan, chan);
    if (a == bn || a == absorbed) return val;
    epi_ctx c = {n, bn >= 0 ? bn : n->id, absorbed, val, chan, idx};
    return epi_expand(e, ir_get(e->g, a), &c);
}

const char *e_value_at(emitter *e, int id, const char *chan, const char *idx)
{
    const ir_node *x = ir_get(e->g, id);
    if (e->pv->inlined[id] < 0) return e_fmt(e, "%s[%s]", x->name, idx);
    epi_ctx c = {x, -1, -1, NULL, chan, idx};
    return e_fmt(e, "(%s)", epi_expand(e, x, &c));
}

const char *e_epilogue_array_fn(const emitter *e, const ir_node *n)
{
    int a = e->pv->epi[n->id];
    if (a < 0 || e->dbl || e->pv->plain || a == e->pv->epi_bn[n->id] ||
        a == e->pv->epi_affine[n->id])
        return NULL;
    const ir_node *top = ir_get(e->g, a);
    return top->nin == 1 ? op_get(top->op)->array_fn : NULL;
}

const char *e_epilogue_inner_at(emitter *e, const ir_node *n, const char *v, const char *chan,
                                const char *idx)
{
    int bn = e->pv->epi_bn[n->id];
    const char *val = v;
    if (bn >= 0) val = e_fmt(e, "(%s * fold_s[%s] + fold_t[%s])", v, chan, chan);
    epi_ctx c = {n, bn >= 0 ? bn : n->id, e->pv->epi_affine[n->id], val, chan, idx};
    const ir_node *top = ir_get(e->g, e->pv->epi[n->id]);
    return epi_operand(e, ir_get(e->g, top->in[0]), &c);
}

void e_epilogue_array(emitter *e, const ir_node *n, const char *ref, long count)
{
    const ir_node *top = ir_get(e->g, e->pv->epi[n->id]);
    wr_line(e->w, "/* %s of the stored values, vectorised (runtime/rt_act.c) */",
            ir_op_name(top->op));
    wr_line(e->w, "%s(%s, %s, %ld);", e_epilogue_array_fn(e, n), ref, ref, count);
}

const char *e_epilogue(emitter *e, const ir_node *n, const char *v)
{
    return e_epilogue_at(e, n, v, "oc", "i");
}

const char *e_at(emitter *e, int id, const char *idx)
{
    const ir_node *n = ir_get(e->g, id);
    if (n->kind == K_CONST) return e_lit(e, n->f[0]);
    return e_fmt(e, "%s[%s]", n->name, idx);
}

/* A loop nest over an output shape with one stride per operand and axis;
 * adjacent axes that are contiguous for every operand are merged. */
#define NEST_MAX_OPS 8 /* the output and up to 7 distinct inputs of a fused chain */
typedef struct nest {
    int rank, nops;
    long dim[IR_MAX_RANK];
    int op_node[NEST_MAX_OPS]; /* the node of each input operand */
    long stride[NEST_MAX_OPS][IR_MAX_RANK];
} nest;

static void nest_shape(nest *l, const emitter *e, const ir_node *n)
{
    memset(l, 0, sizeof *l);
    l->rank = n->rank;
    for (int i = 0; i < n->rank; i++) l->dim[i] = e_dim(e, n, i);
}

/* strides of operand x (right-aligned, 0 along broadcast axes) over l's shape */
static void nest_operand(nest *l, const emitter *e, const ir_node *x)
{
    long *s = l->stride[l->nops++];
    long step = 1;
    for (int i = l->rank - 1; i >= 0; i--) {
        int xi = x->rank - l->rank + i;
        long d = xi >= 0 ? e_dim(e, x, xi) : 1;
        s[i] = d == 1 ? 0 : step;
        step *= d;
    }
}

static void nest_merge(nest *l)
{
    int w = 0;
    for (int i = 0; i < l->rank; i++) {
        if (l->dim[i] == 1 && l->rank > 1) continue; /* a loop of one */
        if (w > 0) {
            int ok = 1;
            for (int k = 0; k < l->nops; k++)
                if (l->stride[k][w - 1] != l->stride[k][i] * l->dim[i]) ok = 0;
            if (ok) {
                l->dim[w - 1] *= l->dim[i];
                for (int k = 0; k < l->nops; k++) l->stride[k][w - 1] = l->stride[k][i];
                continue;
            }
        }
        l->dim[w] = l->dim[i];
        for (int k = 0; k < l->nops; k++) l->stride[k][w] = l->stride[k][i];
        w++;
    }
    l->rank = w;
}

static const char *const loop_var[] = {"i", "j", "k", "l"};

static const char *nest_index(emitter *e, const nest *l, int op, const long *at)
{
    char buf[256];
    int len = 0;
    long constant = 0;
    buf[0] = 0;
    for (int i = 0; i < l->rank; i++) {
        long s = l->stride[op][i];
        if (!s) continue;
        if (at) {
            constant += at[i] * s;
        } else if (s == 1) {
            len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s", len ? " + " : "",
                            loop_var[i]);
        } else {
            len += snprintf(buf + len, sizeof buf - (size_t)len, "%s%s * %ld", len ? " + " : "",
                            loop_var[i], s);
        }
    }
    if (at || !len) return e_fmt(e, "%ld", constant);
    return arena_strdup(e->g->A, buf);
}

/* text with "@k" replaced by operand k's index expression */
static const char *subst_at(emitter *e, const char *text, const char *const *idx)
{
    writer w;
    wr_init(&w);
    for (const char *s = text; *s; s++) {
        if (s[0] == '@' && s[1] >= '0' && s[1] <= '7') {
            wr_raw(&w, idx[s[1] - '0']);
            s++;
        } else {
            char c[2] = {*s, 0};
            wr_raw(&w, c);
        }
    }
    char *t = wr_take(&w);
    const char *r = arena_strdup(e->g->A, t);
    free(t);
    return r;
}

/* Prints body with "@k" replaced by operand k's index expression; a body
 * may hold several lines. */
static void emit_body(emitter *e, const char *body, const char *const *idx)
{
    const char *text = subst_at(e, body, idx);
    for (const char *s = text; *s;) {
        const char *end = strchr(s, '\n');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len) wr_line(e->w, "%.*s", (int)len, s);
        s += len + (end != NULL);
    }
}

static const char *replace_all(emitter *e, const char *text, const char *from, const char *to)
{
    writer w;
    wr_init(&w);
    size_t fl = strlen(from);
    for (const char *s = text; *s;) {
        if (!strncmp(s, from, fl)) {
            wr_raw(&w, to);
            s += fl;
        } else {
            char c[2] = {*s++, 0};
            wr_raw(&w, c);
        }
    }
    char *t = wr_take(&w);
    const char *r = arena_strdup(e->g->A, t);
    free(t);
    return r;
}

/* Prints body for every point of the nest: as loops, or unrolled into one
 * line per point with constant indices. */
static void nest_emit(emitter *e, const nest *l, const char *body, int unroll)
{
    const char *idx[NEST_MAX_OPS];
    if (unroll) {
        long total = 1, at[IR_MAX_RANK] = {0};
        for (int i = 0; i < l->rank; i++) total *= l->dim[i];
        for (long p = 0; p < total; p++) {
            long rem = p;
            for (int i = l->rank - 1; i >= 0; i--) {
                at[i] = rem % l->dim[i];
                rem /= l->dim[i];
            }
            for (int k = 0; k < l->nops; k++) idx[k] = nest_index(e, l, k, at);
            emit_body(e, body, idx);
        }
        return;
    }
    for (int k = 0; k < l->nops; k++) idx[k] = nest_index(e, l, k, NULL);
    for (int i = 0; i < l->rank; i++)
        wr_line(e->w, "for (long %s = 0; %s < %ld; %s++) {", loop_var[i], loop_var[i], l->dim[i],
                loop_var[i]);
    emit_body(e, body, idx);
    for (int i = 0; i < l->rank; i++) wr_line(e->w, "}");
}

/* An input of a loop nest: an input fused into this loop is its own
 * expression, any other is an operand of the nest ("name[@k]") */
static const char *expand(emitter *e, nest *l, const ir_node *n, const char *cexpr);

static const char *nest_input(emitter *e, const ir_node *x, void *ctx)
{
    nest *l = ctx;
    if (e->pv->inlined[x->id] >= 0) return e_fmt(e, "(%s)", expand(e, l, x, elementwise_expr(x)));
    int k;
    for (k = 1; k < l->nops; k++)
        if (l->op_node[k] == x->id) break;
    if (k == l->nops) {
        if (l->nops == NEST_MAX_OPS) {
            fprintf(stderr, "trainc: internal error: fused loop has too many inputs\n");
            abort();
        }
        l->op_node[l->nops] = x->id;
        nest_operand(l, e, x);
    }
    return e_fmt(e, "%s[@%d]", x->name, k);
}

static const char *expand(emitter *e, nest *l, const ir_node *n, const char *cexpr)
{
    return subst_cexpr(e, n, cexpr, nest_input, l);
}

void e_elementwise(emitter *e, const ir_node *n, const char *cexpr)
{
    nest l;
    nest_shape(&l, e, n);
    nest_operand(&l, e, n);
    const char *expr = expand(e, &l, n, cexpr);
    nest_merge(&l);
    const char *body = e_fmt(e, "%s[@0] = %s;", n->name, expr);
    if (strchr(expr, '?') && e_kernel(e, n) != KERN_UNROLL) {
        /* a load inside ?: is conditional and stops the compiler from
         * vectorising: load every input first */
        writer w;
        wr_init(&w);
        for (int k = 1; k < l.nops; k++) {
            const char *nm = ir_get(e->g, l.op_node[k])->name;
            wr_raw(&w, e_fmt(e, "const real in%d = %s[@%d];\n", k, nm, k));
            expr = replace_all(e, expr, e_fmt(e, "%s[@%d]", nm, k), e_fmt(e, "in%d", k));
        }
        wr_raw(&w, e_fmt(e, "%s[@0] = %s;", n->name, expr));
        char *t = wr_take(&w);
        body = arena_strdup(e->g->A, t);
        free(t);
    }
    nest_emit(e, &l, body, e_kernel(e, n) == KERN_UNROLL);
}

void e_lane_sum(emitter *e, const char *type, const char *s, const char *var, const char *expr,
                long count)
{
    long c8 = count / 8 * 8;
    wr_line(e->w, "%s %s_lane[8] = {0};", type, s);
    if (c8)
        wr_line(e->w,
                "for (long %s0 = 0; %s0 < %ld; %s0 += 8) for (long lane = 0; lane < 8; lane++) "
                "{ const long %s = %s0 + lane; %s_lane[lane] += %s; }",
                var, var, c8, var, var, var, s, expr);
    if (c8 < count)
        wr_line(e->w, "for (long %s = %ld; %s < %ld; %s++) %s_lane[0] += %s;", var, c8, var, count,
                var, s, expr);
    wr_line(e->w,
            "const %s %s = ((%s_lane[0] + %s_lane[1]) + (%s_lane[2] + %s_lane[3])) + "
            "((%s_lane[4] + %s_lane[5]) + (%s_lane[6] + %s_lane[7]));",
            type, s, s, s, s, s, s, s, s, s);
}

/* Sums along a contiguous run this long or longer go through e_lane_sum. */
#define LANE_SUM_MIN 16

void e_reduce_to(emitter *e, const ir_node *out, int xid, const char *scale)
{
    const ir_node *x = ir_get(e->g, xid);
    long total = e_numel(e, out);
    if (total == 1) {
        /* a whole sum: accumulate in double for accuracy, in lanes (a single
         * running sum would not vectorise). The op's block scopes s; a block
         * opened right inside it would read as `{{` to clang-format, which
         * then takes it for an initialiser and stops indenting the function */
        e_lane_sum(e, "double", "s", "i", e_fmt(e, "%s[i]", x->name), e_numel(e, x));
        wr_line(e->w, "%s[0] = (real)(s%s%s);", out->name, scale ? " * " : "", scale ? scale : "");
        return;
    }
    nest l;
    nest_shape(&l, e, x);
    nest_operand(&l, e, out);
    /* x's buffer (operand 1), or the expression of an elementwise x fused
     * into this sum (plan.c's sums_without_batch): its inputs' operands */
    const char *xv = nest_input(e, x, &l);
    nest_merge(&l);
    wr_line(e->w, "for (long i = 0; i < %ld; i++) %s[i] = 0;", total, out->name);
    int last = l.rank - 1, along = last >= 1 && !l.stride[0][last] && l.dim[last] >= LANE_SUM_MIN;
    for (int k = 1; k < l.nops; k++) along &= l.stride[k][last] <= 1;
    if (along) {
        /* the innermost axis is summed and contiguous in x: a lane sum per
         * output element, added to it */
        const char *idx[NEST_MAX_OPS] = {0};
        for (int k = 0; k < l.nops; k++) idx[k] = nest_index(e, &l, k, NULL);
        for (int i = 0; i < last; i++)
            wr_line(e->w, "for (long %s = 0; %s < %ld; %s++) {", loop_var[i], loop_var[i], l.dim[i],
                    loop_var[i]);
        e_lane_sum(e, "real", "s", loop_var[last], subst_at(e, xv, idx), l.dim[last]);
        wr_line(e->w, "%s[%s] += s;", out->name, idx[0]);
        for (int i = 0; i < last; i++) wr_line(e->w, "}");
    } else {
        nest_emit(e, &l, e_fmt(e, "%s[@0] += %s;", out->name, xv), 0);
    }
    if (scale)
        wr_line(e->w, "for (long i = 0; i < %ld; i++) %s[i] *= %s;", total, out->name, scale);
}
