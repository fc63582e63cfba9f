/* emit.c — prints the plan into out/<model>/ (see emit.h): the op-emitter
 * helpers, model.c in schedule order, and the templates filled by name. */
#include "emit.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../runtime/rt.h"
#include "ops.h"
#include "optim.h"

#ifndef TRAINC_VERSION
#define TRAINC_VERSION "0.0.0"
#endif
#ifndef TRAINC_BLAS_CFLAGS
#define TRAINC_BLAS_CFLAGS "-I/usr/include/x86_64-linux-gnu/openblas-pthread"
#endif
#ifndef TRAINC_BLAS_LIBS
#define TRAINC_BLAS_LIBS                                                                           \
    "-L/usr/lib/x86_64-linux-gnu/openblas-pthread -lopenblas -lgfortran -lquadmath"
#endif
/* trainc built with -Dsanitize=LIST builds its trainers with the same
 * sanitizers and flags (meson.build); they cannot link statically, so those
 * trainers are dynamic */
#ifndef TRAINC_SANITIZE_FLAGS
#define TRAINC_SANITIZE_FLAGS ""
#endif

/* ---- helpers for op emitters ---- */

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

static int word_char(char c)
{
    return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* The nodes of the fused chain (a and the nodes inlined into it), in
 * ids[]; returns their number. */
static int chain_nodes(emitter *e, int a, int *ids, int n, int max)
{
    const ir_node *x = ir_get(e->g, a);
    if (n < max) ids[n++] = a;
    for (int k = 0; k < x->nin; k++)
        if (e->pv->inlined[x->in[k]] >= 0) n = chain_nodes(e, x->in[k], ids, n, max);
    return n;
}

/* A batch norm folded into producer n takes its affine part along when the
 * chain computes bn·γ + β (γ, β per channel): the add node, else -1; gamma
 * and beta are set. */
static int folded_affine(emitter *e, const ir_node *n, int *gamma, int *beta)
{
    int bn = e->pv->epi_bn[n->id], a = e->pv->epi[n->id];
    int ids[64];
    if (bn < 0 || a == bn) return -1;
    int cnt = chain_nodes(e, a, ids, 0, 64);
    for (int q = 0; q < cnt; q++) {
        const ir_node *m = ir_get(e->g, ids[q]);
        if (m->op != OP_MUL || e->pv->inlined[m->id] < 0) continue;
        int k = m->in[0] == bn ? 1 : m->in[1] == bn ? 0 : -1;
        if (k < 0) continue;
        const ir_node *gm = ir_get(e->g, m->in[k]);
        const ir_node *d = ir_get(e->g, e->pv->inlined[m->id]);
        if (gm->kind == K_CONST || !plan_per_channel(gm, n) || d->op != OP_ADD) continue;
        int j = d->in[0] == m->id ? 1 : 0;
        const ir_node *bt = ir_get(e->g, d->in[j]);
        if (d->in[1 - j] != m->id || bt->kind == K_CONST || !plan_per_channel(bt, n)) continue;
        *gamma = gm->id;
        *beta = bt->id;
        return d->id;
    }
    return -1;
}

void e_epilogue_begin(emitter *e, const ir_node *n)
{
    int bn = e->pv->epi_bn[n->id];
    if (bn < 0) return;
    const ir_node *st = ir_get(e->g, ir_get(e->g, bn)->in[1]);
    int gamma = -1, beta = -1;
    int affine = folded_affine(e, n, &gamma, &beta) >= 0;
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
    return e_fmt(e, "%s[%s]", a->name, plan_per_channel(a, c->n) ? c->chan : c->idx);
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
    int gamma, beta;
    int absorbed = folded_affine(e, n, &gamma, &beta);
    const char *val = v;
    if (bn >= 0) val = e_fmt(e, "(%s * fold_s[%s] + fold_t[%s])", v, chan, chan);
    if (a == bn || a == absorbed) return val;
    epi_ctx c = {n, bn >= 0 ? bn : n->id, absorbed, val, chan, idx};
    return epi_expand(e, ir_get(e->g, a), &c);
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

/* Prints body with "@k" replaced by operand k's index expression; a body
 * may hold several lines. */
static void emit_body(emitter *e, const char *body, const char *const *idx)
{
    writer w;
    wr_init(&w);
    for (const char *s = body;; s++) {
        if (s[0] == '@' && s[1] >= '0' && s[1] <= '7') {
            wr_raw(&w, idx[s[1] - '0']);
            s++;
        } else if (*s == '\n' || !*s) {
            char *line = wr_take(&w);
            if (*line) wr_line(e->w, "%s", line);
            free(line);
            if (!*s) break;
        } else {
            char c[2] = {*s, 0};
            wr_raw(&w, c);
        }
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
    nest_operand(&l, e, x);
    nest_merge(&l);
    wr_line(e->w, "for (long i = 0; i < %ld; i++) %s[i] = 0;", total, out->name);
    int last = l.rank - 1;
    if (last >= 1 && !l.stride[0][last] && l.stride[1][last] == 1 && l.dim[last] >= LANE_SUM_MIN) {
        /* the innermost axis is summed and contiguous in x: a lane sum per
         * output element, added to it */
        const char *oi = nest_index(e, &l, 0, NULL), *xi = nest_index(e, &l, 1, NULL);
        for (int i = 0; i < last; i++)
            wr_line(e->w, "for (long %s = 0; %s < %ld; %s++) {", loop_var[i], loop_var[i], l.dim[i],
                    loop_var[i]);
        e_lane_sum(e, "real", "s", loop_var[last], e_fmt(e, "%s[%s]", x->name, xi), l.dim[last]);
        wr_line(e->w, "%s[%s] += s;", out->name, oi);
        for (int i = 0; i < last; i++) wr_line(e->w, "}");
    } else {
        nest_emit(e, &l, e_fmt(e, "%s[@0] += %s[@1];", out->name, x->name), 0);
    }
    if (scale)
        wr_line(e->w, "for (long i = 0; i < %ld; i++) %s[i] *= %s;", total, out->name, scale);
}

/* ---- model.c ---- */

static const char *upper(arena *A, const char *s)
{
    char *u = arena_strdup(A, s);
    for (char *p = u; *p; p++)
        if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
    return u;
}

static int is_const_root(ir_graph *g, const plan_variant *v, int id)
{
    ir_kind k = ir_get(g, plan_root(v, id))->kind;
    return k == K_PARAM || k == K_INPUT || k == K_LABEL;
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
            snprintf(line + len, sizeof line - (size_t)len, "): %s -- %s:%d", op_get(x->op)->math,
                     x->file, x->line);
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
    int gamma, beta, absorbed = folded_affine(e, n, &gamma, &beta);
    if (bn >= 0) {
        const ir_node *b = ir_get(e->g, bn);
        wr_line(w, " *   + batch_norm (eval) folded into %s (%s:%d):", op, b->file, b->line);
        wr_line(w, " *     - %s = (%s - mean) * invstd as %s * s + t per channel", b->name, n->name,
                n->name);
    }
    if (a == bn) return;
    const ir_node *x = ir_get(e->g, a);
    wr_line(w, " *   + %s fused into %s (%s:%d)%s:", ir_op_name(x->op), op, x->file, x->line,
            e->pv->epi_keep[n->id] ? ", its own value kept" : "");
    int ids[64];
    int cnt = chain_nodes(e, a, ids, 0, 64);
    for (int q = 0; q < cnt; q++) {
        const ir_node *c = ir_get(e->g, ids[q]);
        int in_st = absorbed >= 0 && (c->id == absorbed || e->pv->inlined[c->id] == absorbed);
        wr_line(w, " *     - %s%s%s", node_text(e, c), in_st ? " (in s, t)" : "",
                c->line != x->line ? e_fmt(e, " -- line %d", c->line) : "");
    }
}

/* CODE with its COMMENT after it, or the comment above when the line would
 * pass clang-format's 100 columns at INDENT: clang-format would break the
 * code (a #define with a backslash) and leaves long comments long. */
static void wr_commented(writer *w, int indent, const char *code, const char *comment)
{
    if (indent + strlen(code) + 1 + strlen(comment) <= 100)
        wr_line(w, "%s %s", code, comment);
    else
        wr_line(w, "%s\n%s", comment, code);
}

static void emit_block_comment(emitter *e, const ir_node *n)
{
    char shape[64], args[256] = "";
    int len = 0;
    for (int k = 0; k < n->nin; k++) {
        const ir_node *x = ir_get(e->g, n->in[k]);
        const char *nm = x->kind == K_CONST ? e_lit(e, x->f[0]) : x->name;
        len += snprintf(args + len, sizeof args - (size_t)len, "%s%s", k ? ", " : "", nm);
        if (len >= (int)sizeof args) break;
    }
    nest l; /* only for the concrete shape text */
    nest_shape(&l, e, n);
    int sl = snprintf(shape, sizeof shape, "[");
    for (int i = 0; i < l.rank; i++)
        sl += snprintf(shape + sl, sizeof shape - (size_t)sl, "%s%ld", i ? " x " : "", l.dim[i]);
    if (!l.rank) sl += snprintf(shape + sl, sizeof shape - (size_t)sl, "scalar");
    snprintf(shape + sl, sizeof shape - (size_t)sl, "]");
    const char *math = op_get(n->op)->math;
    const char *head = e_fmt(e, "%s = %s(%s)  %s", n->name, ir_op_name(n->op), args, shape);
    const char *from = e_fmt(e, "-- %s:%d", n->file ? n->file : "?", n->line);
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
    describe_fused(e, n, e->w);
    describe_epilogue(e, n, e->w);
    if (n->op == OP_MATMUL)
        wr_line(e->w, " * %s = %s%s · %s%s */", n->name, ir_get(e->g, n->in[0])->name,
                n->i[0] ? "ᵀ" : "", ir_get(e->g, n->in[1])->name, n->i[1] ? "ᵀ" : "");
    else
        wr_line(e->w, " * %s */", math);
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

static void emit_variant(emitter *e, const char *fname)
{
    ir_graph *g = e->g;
    const plan_variant *v = e->pv;
    writer *w = e->w;
    int train = v->mode == PLAN_TRAIN;
    char *used = arena_alloc(g->A, (size_t)g->n);
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
    for (int i = g->n - 1; i >= 0; i--) /* a used view needs its root declared */
        if (used[i] && v->view_of[i] >= 0) used[v->view_of[i]] = 1;
    if (g->output >= 0 && g->task != TASK_NONE) used[g->output] = 1;

    int uses_noise = 0;
    for (int s = 0; s < v->norder; s++)
        if (ir_get(g, v->order[s])->op == OP_DROPOUT) uses_noise = 1;
    wr_line(w, "/* ---- %s: %s on %d rows, %s mode ---- */", fname,
            train ? "forward, loss and backward" : "forward and loss", v->batch,
            train ? "training" : "evaluation");
    if (uses_noise) {
        wr_line(w,
                "/* Dropout masks are counter-based noise of (seed, step, mask number, element),");
        wr_line(w, " * noise = rt_noise_key(seed, step) (runtime/rt.h): no generator state, so a");
        wr_line(w, " * resumed run and any thread count draw the same masks. */");
    }
    if (train)
        wr_line(w,
                "RT_CLONES static real %s(real *restrict param, real *restrict grad, const real "
                "*restrict x,",
                fname);
    else
        wr_line(w, "RT_CLONES static real %s(const real *restrict param, const real *restrict x,",
                fname);
    if (train) /* noise: the step's key for dropout masks, rt_noise_key(seed, step) */
        wr_line(w, "                const real *restrict y, real *restrict out, real *restrict "
                   "arena, uint64_t noise)");
    else
        wr_line(
            w, "                const real *restrict y, real *restrict out, real *restrict arena)");
    wr_line(w, "{");
    int uses_x = 0, uses_y = 0, uses_param = 0, uses_grad = 0, uses_arena = 0;
    for (int i = 0; i < g->n; i++) {
        if (!used[i]) continue;
        const ir_node *n = ir_get(g, i);
        char shape[64];
        nest l;
        nest_shape(&l, e, n);
        int sl = snprintf(shape, sizeof shape, "[");
        for (int a = 0; a < n->rank; a++)
            sl +=
                snprintf(shape + sl, sizeof shape - (size_t)sl, "%s%ld", a ? " x " : "", l.dim[a]);
        snprintf(shape + sl, sizeof shape - (size_t)sl, "%s]", n->rank ? "" : "scalar");
        if (n->kind == K_PARAM) {
            uses_param = 1;
            /* running statistics: the training step updates them in place */
            wr_commented(
                w, 4,
                e_fmt(e, "%sreal *const %s = param + P_%s;", n->buffer && train ? "" : "const ",
                      n->name, upper(g->A, n->name)),
                e_fmt(e, "/* %s %s%s */", n->label, shape, n->buffer ? ", running statistic" : ""));
        } else if (n->kind == K_INPUT) {
            uses_x = 1;
        } else if (n->kind == K_LABEL) {
            uses_y = 1;
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
                    e_fmt(e, "real *const %s = grad + P_%s;", n->name,
                          upper(g->A, ir_get(g, v->grad_of[i])->name)),
                    e_fmt(e, "/* %s, d loss / d %s */", shape, ir_get(g, v->grad_of[i])->label));
            } else {
                uses_arena = 1;
                wr_line(w, "real *const %s = arena + %ld; /* %s */", n->name, v->offset[i], shape);
            }
        }
    }
    if (!uses_param) wr_line(w, "(void)param;");
    if (train && !uses_grad) wr_line(w, "(void)grad;");
    if (train && !uses_noise) wr_line(w, "(void)noise;");
    if (!uses_x) wr_line(w, "(void)x;");
    if (!uses_y) wr_line(w, "(void)y;");
    if (!uses_arena) wr_line(w, "(void)arena;");

    ir_phase phase = (ir_phase)-1;
    static const char *const phase_name[] = {"forward", "loss", "backward"};
    for (int s = 0; s < v->norder; s++) {
        const ir_node *n = ir_get(g, v->order[s]);
        const op_def *d = op_get(n->op);
        if (v->view_of[n->id] >= 0) continue; /* views: no code */
        if (n->phase != phase) {
            phase = n->phase;
            wr_blank(w);
            wr_line(w, "/* ======== %s ======== */", phase_name[phase]);
        }
        wr_blank(w);
        emit_block_comment(e, n);
        wr_line(w, "{");
        d->emit(e, n);
        wr_line(w, "}");
    }
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

/* The model summary `info` prints: one row per op of the forward pass and
 * the loss, in spec order, with its spec line, output shape, the
 * parameters it reads first and its FLOPs at the batch size. */
static void emit_summary(writer *w, ir_graph *g, int batch)
{
    char *seen = arena_alloc(g->A, (size_t)g->n);
    int rows = 0;
    wr_line(w, "const model_layer model_layers[] = {");
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_ACT || n->phase == PH_BACKWARD) continue;
        long params = 0;
        for (int k = 0; k < n->nin; k++) {
            const ir_node *p = ir_get(g, n->in[k]);
            if (p->kind == K_PARAM && !seen[p->id]) {
                seen[p->id] = 1;
                params += ir_numel(p, 1);
            }
        }
        char shape[64];
        wr_line(w, "{%d, \"%s\", \"%s\", \"%s\", %ldL, %.17g},", n->line, n->name,
                ir_op_name(n->op), ir_shape_str(n, shape, sizeof shape), params,
                op_get(n->op)->flops(g, n, batch));
        rows++;
    }
    if (!rows) wr_line(w, "{0, NULL, NULL, NULL, 0, 0},");
    wr_line(w, "};");
    wr_line(w, "const int model_n_layers = %d;", rows);
}

static const char *fmt_init(emitter *e, const ir_node *p)
{
    const ir_init *in = &p->init;
    const char *at = e_fmt(e, "param + P_%s", upper(e->g->A, p->name));
    long n = ir_numel(p, 1);
    switch (in->kind) {
    case INIT_ZEROS:
        return e_fmt(e, "rt_init_constant(%s, %ld, 0);", at, n);
    case INIT_CONSTANT:
        return e_fmt(e, "rt_init_constant(%s, %ld, %.17g);", at, n, in->a);
    case INIT_UNIFORM:
        return e_fmt(e, "rt_init_uniform(rng, %s, %ld, %.17g, %.17g);", at, n, in->a, in->b);
    case INIT_NORMAL:
        return e_fmt(e, "rt_init_normal(rng, %s, %ld, %.17g, %.17g);", at, n, in->a, in->b);
    case INIT_ORTHOGONAL:
        return e_fmt(e, "rt_init_orthogonal(rng, %s, %d, %ld, %.17g);", at, p->dim[0],
                     n / p->dim[0], in->a);
    }
    return "";
}

static const char *c_string(arena *A, const char *s)
{
    if (!s) return "NULL";
    writer w;
    wr_init(&w);
    wr_raw(&w, "\"");
    for (; *s; s++) {
        char c[8];
        if (*s == '"' || *s == '\\')
            snprintf(c, sizeof c, "\\%c", *s);
        else if ((unsigned char)*s < 32 || (unsigned char)*s >= 127)
            snprintf(c, sizeof c, "\\%03o", (unsigned char)*s);
        else
            snprintf(c, sizeof c, "%c", *s);
        wr_raw(&w, c);
    }
    wr_raw(&w, "\"");
    char *t = wr_take(&w);
    char *r = arena_strdup(A, t);
    free(t);
    return r;
}

static void emit_source(writer *w, arena *A, const char *var, const ir_data *d, int test,
                        uint32_t seed)
{
    wr_line(w, "const rt_source %s = {", var);
    if (d->kind == RT_SRC_NONE) {
        wr_line(w, ".kind = RT_SRC_NONE, /* no data: a bare objective */");
        wr_line(w, "};");
        return;
    }
    if (d->kind == RT_SRC_IDX || d->kind == RT_SRC_NPY) {
        if (test && !d->test_images) {
            wr_line(w, ".kind = RT_SRC_NONE,");
        } else {
            wr_line(w, ".kind = %s,", d->kind == RT_SRC_IDX ? "RT_SRC_IDX" : "RT_SRC_NPY");
            wr_line(w, ".images = %s,", c_string(A, test ? d->test_images : d->train_images));
            wr_line(w, ".labels = %s,", c_string(A, test ? d->test_labels : d->train_labels));
        }
    } else if (d->kind == RT_SRC_CSV) {
        if (test && !d->test_path) {
            wr_line(w, ".kind = RT_SRC_NONE,");
        } else {
            wr_line(w, ".kind = RT_SRC_CSV,");
            wr_line(w, ".path = %s,", c_string(A, test ? d->test_path : d->train_path));
            wr_line(w, ".label = %s,", c_string(A, d->label));
            wr_line(w, ".label_col = %d,", d->label_col);
            wr_line(w, ".header = %d,", d->header);
        }
    } else {
        static const char *const kinds[] = {"RT_SRC_NONE", "RT_SRC_IDX",     "RT_SRC_CSV",
                                            "RT_SRC_XOR",  "RT_SRC_SPIRALS", "RT_SRC_LINREG"};
        if (test && d->n_test == 0) {
            wr_line(w, ".kind = RT_SRC_NONE,");
        } else {
            wr_line(w, ".kind = %s,", kinds[d->kind]);
            wr_line(w, ".n = %d,", test ? d->n_test : d->n);
            wr_line(w, ".d = %d,", d->d);
            wr_line(w, ".noise = %.17g,", d->noise);
            /* train and test are different draws of the same problem (same w*) */
            wr_line(w, ".seed = %uu,", test ? seed + 1 : seed);
            wr_line(w, ".wseed = %uu,", seed);
        }
    }
    wr_line(w, "};");
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    if (s && fread(s, 1, (size_t)n, f) != (size_t)n) {
        free(s);
        s = NULL;
    }
    if (s) s[n] = 0;
    fclose(f);
    return s;
}

static int write_file(const char *path, const char *text, char *err, size_t errsize)
{
    FILE *f = fopen(path, "wb");
    if (!f || fputs(text, f) < 0 || fclose(f)) {
        snprintf(err, errsize, "%s: cannot write: %s", path, strerror(errno));
        if (f) fclose(f);
        return -1;
    }
    return 0;
}

/* The trainer's files, one job each (templates/trainer/): written into the
 * model's folder under the same names; templates/build.ninja compiles them. */
const char *const emit_trainer_files[] = {
    "trainer.h",     "main.c",      "options.c", "buffers.c",     "train.c",
    "train_files.c", "eval.c",      "plot.c",    "predict_cmd.c", "export.c",
    "info.c",        "gradcheck.c", NULL};

static char *fill_template(const emit_options *o, const char *name, const tpl_var *vars, int n,
                           char *err, size_t errsize)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/templates/%s", o->home, name);
    char *text = read_file(path);
    if (!text) {
        snprintf(err, errsize, "%s: cannot read the template: %s", path, strerror(errno));
        return NULL;
    }
    const char *missing = NULL;
    char *out = tpl_fill(text, vars, n, &missing);
    free(text);
    if (!out) snprintf(err, errsize, "%s: no value for the hole {{%s}}", path, missing);
    return out;
}

/* Fills the template tpl and writes it into the model's folder as name. */
static int write_template(const emit_options *o, const char *tpl, const char *name,
                          const tpl_var *vars, int n, char *err, size_t errsize)
{
    char path[4096];
    char *text = fill_template(o, tpl, vars, n, err, errsize);
    if (!text) return -1;
    snprintf(path, sizeof path, "%s/%s", o->out_dir, name);
    int rc = write_file(path, text, err, errsize);
    free(text);
    return rc;
}

static const char *task_name(ir_task t)
{
    static const char *const names[] = {"RT_TASK_NONE",  "RT_TASK_CLASSIFY", "RT_TASK_BINARY",
                                        "RT_TASK_LOGIT", "RT_TASK_SIGN",     "RT_TASK_REGRESS"};
    return names[t];
}

/* The calls of the optimizer's update_range: one per run of trainable
 * parameters in the flat buffer (frozen ones are left as they are). */
static const char *update_ranges(ir_graph *g)
{
    writer w;
    wr_init(&w);
    w.indent = 1;
    const opt_def *d = opt_find(g->opt.c.name);
    int wdi = opt_index(d, "weight_decay");
    double wd0 = wdi >= 0 ? g->opt.c.value[wdi][0] : 0;
    /* runs of trainable parameters with the same group options */
    long start = -1, end = 0;
    double lr_scale = 1, wd = 0;
    const char *first = NULL, *last = NULL;
    for (int i = 0; i <= g->n; i++) {
        const ir_node *p = i < g->n ? ir_get(g, i) : NULL;
        if (p && p->kind != K_PARAM) continue;
        double p_scale = p && !isnan(p->group_lr) ? p->group_lr / g->opt.lr : 1;
        double p_wd = p && !isnan(p->group_wd) ? p->group_wd : wd0;
        if (p && p->trainable && start >= 0 && p->offset == end && p_scale == lr_scale &&
            p_wd == wd) {
            end = p->offset + ir_numel(p, 1);
            last = p->label;
            continue;
        }
        if (start >= 0) {
            wr_line(&w, "/* %s%s%s */", first, first == last ? "" : " .. ",
                    first == last ? "" : last);
            if (lr_scale == 1)
                wr_line(&w,
                        "update_range(param + %ld, grad + %ld, state + %ld, %ld, lr, momentum, "
                        "(real)%.17g, t);",
                        start, start, start, end - start, wd);
            else
                /* the group's lr, scaled as the schedule scales the base lr */
                wr_line(
                    &w,
                    "update_range(param + %ld, grad + %ld, state + %ld, %ld, lr / %.17g * %.17g, "
                    "momentum, (real)%.17g, t);",
                    start, start, start, end - start, g->opt.lr, lr_scale * g->opt.lr, wd);
            start = -1;
        }
        if (p && p->trainable) {
            start = p->offset;
            end = p->offset + ir_numel(p, 1);
            first = last = p->label;
            lr_scale = p_scale;
            wd = p_wd;
        }
    }
    if (w.len == 0)
        wr_line(
            &w,
            "(void)param, (void)grad, (void)lr, (void)momentum, (void)t; /* nothing to train */");
    char *ranges = wr_take(&w);
    /* gradient clipping comes first, as torch's clip_grad_*_ before step() */
    w.indent = 1;
    if (g->train.clip_grad_norm > 0) {
        wr_line(&w,
                "/* clip_grad_norm_(max_norm = %g): g <- g * min(1, max_norm / (||g|| + 1e-6)),",
                g->train.clip_grad_norm);
        wr_line(&w, " * ||g|| the L2 norm of all the gradients together */");
        wr_line(&w, "{");
        wr_line(&w, "const double norm = sqrt(rt_sumsq(grad, MODEL_N_PARAMS));");
        wr_line(&w, "const double coef = %.17g / (norm + 1e-6);", g->train.clip_grad_norm);
        wr_line(&w, "if (coef < 1)");
        wr_line(&w, "    for (long i = 0; i < MODEL_N_PARAMS; i++) grad[i] *= (real)coef;");
        wr_line(&w, "}");
    }
    if (g->train.clip_grad_value > 0) {
        wr_line(&w, "/* clip_grad_value_(%g): each g clamped to [-%g, %g] */",
                g->train.clip_grad_value, g->train.clip_grad_value, g->train.clip_grad_value);
        wr_line(&w, "for (long i = 0; i < MODEL_N_PARAMS; i++)");
        wr_line(&w, "    grad[i] = fmin(fmax(grad[i], (real)-%.17g), (real)%.17g);",
                g->train.clip_grad_value, g->train.clip_grad_value);
    }
    wr_raw(&w, ranges);
    free(ranges);
    char *t = wr_take(&w);
    const char *r = arena_strdup(g->A, t);
    free(t);
    return r;
}

static const char *const runtime_files[] = {
    "rt.h",       "rt_util.c",   "rt_rng.c",   "rt_data.c",     "rt_file.c", "rt_simd.c",
    "rt_model.c", "rt_lapack.c", "rt_batch.c", "rt_progress.c", "rt_plot.c", NULL};

/* mkdir -p */
static int make_dirs(const char *dir)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++)
        if (*p == '/') {
            *p = 0;
            if (mkdir(buf, 0777) && errno != EEXIST) return -1;
            *p = '/';
        }
    return mkdir(buf, 0777) && errno != EEXIST ? -1 : 0;
}

int emit_folder(ir_graph *g, const plan *p, const emit_options *o, char *err, size_t errsize)
{
    arena *A = g->A;
    char path[4096];
    if (make_dirs(o->out_dir)) {
        snprintf(err, errsize, "%s: cannot create: %s", o->out_dir, strerror(errno));
        return -1;
    }
    snprintf(path, sizeof path, "%s/runtime", o->out_dir);
    if (mkdir(path, 0777) && errno != EEXIST) {
        snprintf(err, errsize, "%s: cannot create: %s", path, strerror(errno));
        return -1;
    }
    const char *header =
        arena_printf(A, "Generated by trainc %s from %s%s%s (spec hash %s); do not edit.",
                     TRAINC_VERSION, g->spec_path, o->dbl ? " --dtype double" : "",
                     o->argv_line ? o->argv_line : "", g->spec_hash);
    int B = p->batch, R = p->remainder;
    const ir_node *out = g->output >= 0 ? ir_get(g, g->output) : NULL;
    long out_len = out && g->task != TASK_NONE
                       ? (ir_is_batched(out) ? ir_numel(out, 1) : ir_numel(out, 1))
                       : 1;

    /* model.c */
    writer w;
    wr_init(&w);
    emitter e = {.w = &w, .g = g, .dbl = o->dbl};
    wr_line(&w, "/* %s", header);
    wr_line(&w, " *");
    wr_line(&w, " * model.c -- %s: initial weights, then one function per step variant,",
            g->model_name);
    wr_line(&w, " * each reading top to bottom as forward, loss, backward; then the update. */");
    wr_line(&w, "#include <string.h>");
    wr_line(&w, "#include <tgmath.h>");
    wr_blank(&w);
    wr_line(&w, "#include <cblas.h>");
    wr_blank(&w);
    wr_line(&w, "#include \"model.h\"");
    wr_blank(&w);
    wr_line(&w, "/* ---- the flat parameter buffer: offsets of each tensor ---- */");
    int ntensors = 0;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_PARAM) continue;
        char shape[64];
        ntensors++;
        wr_commented(&w, 0, arena_printf(A, "#define P_%s %ldL", upper(A, n->name), n->offset),
                     arena_printf(A, "/* %s %s, %s:%d */", n->label,
                                  ir_shape_str(n, shape, sizeof shape), n->file, n->line));
    }
    wr_blank(&w);
    wr_line(&w, "const rt_param_info model_params[] = {");
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_PARAM) continue;
        wr_line(&w, "{%s, P_%s, %ldL, %d, {%d, %d, %d, %d}, %d, %d, %d},", c_string(A, n->label),
                upper(A, n->name), ir_numel(n, 1), n->rank, n->dim[0], n->rank > 1 ? n->dim[1] : 0,
                n->rank > 2 ? n->dim[2] : 0, n->rank > 3 ? n->dim[3] : 0, n->trainable, n->buffer,
                n->count);
    }
    if (!ntensors) wr_line(&w, "{NULL, 0, 0, 0, {0, 0, 0, 0}, 0, 0, 0},");
    wr_line(&w, "};");
    wr_line(&w, "const int model_n_param_tensors = %d;", ntensors);
    wr_blank(&w);
    emit_summary(&w, g, B);
    wr_blank(&w);
    wr_line(&w, "/* ---- data (%s:%d) ---- */", g->data.file ? g->data.file : g->spec_path,
            g->data.line);
    uint32_t data_seed = g->data.has_seed ? g->data.seed : g->train.seed;
    emit_source(&w, A, "model_train_data", &g->data, 0, data_seed);
    emit_source(&w, A, "model_test_data", &g->data, 1, data_seed);
    wr_blank(&w);
    wr_line(&w, "/* ---- initial weights, drawn in the spec's order ---- */");
    wr_line(&w, "void model_init(real *param, rt_rng *rng)");
    wr_line(&w, "{");
    int uses_rng = 0;
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->kind != K_PARAM) continue;
        wr_line(&w, "/* %s: %s */", n->label, n->init.what);
        wr_line(&w, "%s", fmt_init(&e, n));
        if (n->init.kind != INIT_ZEROS && n->init.kind != INIT_CONSTANT) uses_rng = 1;
    }
    if (!uses_rng) wr_line(&w, "(void)rng;");
    if (!ntensors) wr_line(&w, "(void)param;");
    wr_line(&w, "}");
    wr_blank(&w);

    const char *train_fn[4] = {0}, *eval_fn[4] = {0};
    for (int k = 0; k < p->nv; k++) {
        e.pv = &p->v[k];
        e.batch = p->v[k].batch;
        const char *fname =
            arena_printf(A, "%s_%d", p->v[k].mode == PLAN_TRAIN ? "train" : "eval", e.batch);
        if (p->v[k].mode == PLAN_TRAIN)
            train_fn[k] = fname;
        else
            eval_fn[k] = fname;
        emit_variant(&e, fname);
    }
    wr_line(&w, "real model_train_step(int rows, real *param, real *grad, const real *x, "
                "const real *y,");
    wr_line(&w, "                      real *out, real *arena, uint64_t noise)");
    wr_line(&w, "{");
    for (int k = 0; k < p->nv; k++)
        if (train_fn[k])
            wr_line(&w, "if (rows == %d) return %s(param, grad, x, y, out, arena, noise);",
                    p->v[k].batch, train_fn[k]);
    wr_line(&w, "return NAN; /* no step of that size was generated */");
    wr_line(&w, "}");
    wr_blank(&w);
    wr_line(
        &w,
        "real model_eval(int rows, const real *param, const real *x, const real *y, real *out,");
    wr_line(&w, "                real *arena)");
    wr_line(&w, "{");
    for (int k = 0; k < p->nv; k++)
        if (eval_fn[k])
            wr_line(&w, "if (rows == %d) return %s(param, x, y, out, arena);", p->v[k].batch,
                    eval_fn[k]);
    wr_line(&w, "return NAN;");
    wr_line(&w, "}");
    wr_blank(&w);

    /* the optimizer's update, from its template */
    const char *lit_lr = arena_printf(A, "%.17g", g->opt.lr);
    tpl_var ov[IR_MAX_OPT * 2 + 8];
    const char *ok[IR_MAX_OPT * 2 + 8], *oval[IR_MAX_OPT * 2 + 8];
    int nov = opt_template_vars(g, ok, oval, IR_MAX_OPT * 2 + 6);
    for (int i = 0; i < nov; i++) ov[i] = (tpl_var){ok[i], oval[i]};
    ov[nov++] = (tpl_var){"ranges", update_ranges(g)};
    char *upd =
        fill_template(o, arena_printf(A, "optim/%s.c", g->opt.c.name), ov, nov, err, errsize);
    if (!upd) return -1;
    wr_raw(&w, upd);
    free(upd);

    /* the learning-rate schedule, from its template */
    int nsv = 0;
    const char *sk[IR_MAX_OPT * 4 + 4], *svv[IR_MAX_OPT * 4 + 4];
    tpl_var sv[IR_MAX_OPT * 4 + 4];
    if (g->sched.c.name) nsv = sched_template_vars(g, sk, svv, IR_MAX_OPT * 4 + 2);
    for (int i = 0; i < nsv; i++) sv[i] = (tpl_var){sk[i], svv[i]};
    char *sched = fill_template(
        o, arena_printf(A, "schedule/%s.c", g->sched.c.name ? g->sched.c.name : "constant"), sv,
        nsv, err, errsize);
    if (!sched) return -1;
    wr_blank(&w);
    wr_raw(&w, sched);
    free(sched);
    /* model_momentum: the cycling schedules define it, else the optimizer's own */
    const sched_def *sd = g->sched.c.name ? sched_find(g->sched.c.name) : NULL;
    if (!sd || !sd->momentum) {
        tpl_var mv[] = {{"optimizer_momentum", opt_momentum_text(g)}};
        char *mom = fill_template(o, "schedule/momentum_fixed.c", mv, 1, err, errsize);
        if (!mom) return -1;
        wr_blank(&w);
        wr_raw(&w, mom);
        free(mom);
    }
    char *model_c = wr_take(&w);
    snprintf(path, sizeof path, "%s/model.c", o->out_dir);
    int rc = write_file(path, model_c, err, errsize);
    free(model_c);
    if (rc) return -1;

    /* model.h, predict.c (the inference API), build.ninja, the trainer */
    tpl_var vars[] = {
        {"header", header},
        {"name", g->model_name},
        {"name_upper", upper(A, g->model_name)},
        {"spec", g->spec_path},
        {"hash", g->spec_hash},
        {"version", TRAINC_VERSION},
        {"n_params", arena_printf(A, "%ld", g->n_params)},
        {"n_state", arena_printf(A, "%ld", g->opt.n_state)},
        {"arena", arena_printf(A, "%ld", p->arena_size)},
        {"features", arena_printf(A, "%d", g->features)},
        {"label_len", arena_printf(A, "%d", g->label_len)},
        {"classes", arena_printf(A, "%d", g->classes)},
        {"output_len", arena_printf(A, "%ld", out_len)},
        {"task", task_name(g->task)},
        {"n_train", arena_printf(A, "%d", g->n_train)},
        {"n_valid", arena_printf(A, "%d", g->n_valid)},
        {"batch", arena_printf(A, "%d", B)},
        {"remainder", arena_printf(A, "%d", R)},
        {"train_flops", arena_printf(A, "%.0f", p->train_flops)},
        {"eval_flops", arena_printf(A, "%.0f", p->eval_flops)},
        {"epochs", arena_printf(A, "%d", g->train.epochs)},
        {"seed", arena_printf(A, "%u", g->train.seed)},
        {"shuffle", g->train.shuffle ? "1" : "0"},
        {"lr", lit_lr},
        {"optimizer", g->opt.c.name},
        {"schedule", g->sched.c.name ? g->sched.c.name : "constant"},
        {"per_step", g->sched.per_step ? "1" : "0"},
        {"early_stop", g->train.early_stop ? "1" : "0"},
        {"es_patience", arena_printf(A, "%d", g->train.es_patience)},
        {"es_min_delta", arena_printf(A, "%.17g", g->train.es_min_delta)},
        {"es_restore", g->train.es_restore ? "1" : "0"},
        {"es_monitor_loss", g->train.es_monitor_loss ? "1" : "0"},
        {"stratify", g->train.stratify ? "1" : "0"},
        {"aug_crop", arena_printf(A, "%d", g->train.aug_crop)},
        {"aug_flip", g->train.aug_flip ? "1" : "0"},
        {"img_c", arena_printf(A, "%d", g->train.img_c)},
        {"img_h", arena_printf(A, "%d", g->train.img_h)},
        {"img_w", arena_printf(A, "%d", g->train.img_w)},
        {"plateau",
         g->sched.c.name && !strcmp(g->sched.c.name, "reduce_lr_on_plateau") ? "1" : "0"},
        {"scale", arena_printf(A, "%.17g", g->data.scale)},
        {"standardize", g->data.standardize ? "1" : "0"},
        {"dtype_flag", o->dbl ? "-DTRAINC_DOUBLE" : ""},
        {"blas_cflags", TRAINC_BLAS_CFLAGS},
        {"blas_libs", TRAINC_BLAS_LIBS},
        {"san_flags", TRAINC_SANITIZE_FLAGS},
        {"ldflags", TRAINC_SANITIZE_FLAGS[0] ? TRAINC_SANITIZE_FLAGS : "-static"},
    };
    int nvars = (int)(sizeof vars / sizeof *vars);
    static const char *const files[] = {"model.h", "predict.c", "build.ninja"};
    for (int i = 0; i < 3; i++)
        if (write_template(o, files[i], files[i], vars, nvars, err, errsize)) return -1;
    /* the trainer: templates/trainer/X -> X */
    for (int i = 0; emit_trainer_files[i]; i++) {
        const char *name = emit_trainer_files[i];
        if (write_template(o, arena_printf(A, "trainer/%s", name), name, vars, nvars, err, errsize))
            return -1;
    }

    /* the runtime, as real files, and the spec itself */
    for (int i = 0; runtime_files[i]; i++) {
        char src[4096];
        snprintf(src, sizeof src, "%s/runtime/%s", o->home, runtime_files[i]);
        char *text = read_file(src);
        if (!text) {
            snprintf(err, errsize, "%s: cannot read: %s", src, strerror(errno));
            return -1;
        }
        snprintf(path, sizeof path, "%s/runtime/%s", o->out_dir, runtime_files[i]);
        rc = write_file(path, text, err, errsize);
        free(text);
        if (rc) return -1;
    }
    /* the style the generated files are formatted in travels with them: the
     * project's, but comments keep the lines trainc wrote (reflowing a long
     * one carries its end into the next line, gluing a spec line to the math
     * below it) */
    snprintf(path, sizeof path, "%s/.clang-format", o->home);
    char *style = read_file(path);
    if (style) {
        snprintf(path, sizeof path, "%s/.clang-format", o->out_dir);
        char *generated = arena_printf(g->A, "%sReflowComments: false\n", style);
        free(style);
        if (write_file(path, generated, err, errsize)) return -1;
    }
    char *spec = read_file(g->spec_path);
    if (spec) {
        snprintf(path, sizeof path, "%s/spec.lua", o->out_dir);
        rc = write_file(path, spec, err, errsize);
        free(spec);
        if (rc) return -1;
    }
    return 0;
}
