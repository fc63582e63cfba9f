/* ops/norm.c — the layers whose code depends on the mode (training or
 * evaluation): batch normalisation and dropout. The plan makes separate
 * train and eval functions, so each op prints the code of one mode, never a
 * run-time flag:
 *
 *   batch_norm(x)  = stats -> xhat -> xhat * gamma + beta (the affine part is
 *                    ordinary broadcast mul and add, fused and differentiated
 *                    as such)
 *     stats [2 x C]: train: the batch's mean and 1/sqrt(biased var + eps) per
 *                    channel, and the running statistics updated in place;
 *                    eval: from the running statistics
 *     xhat:          (x - mean) * invstd, channel = axis 1 (NC, NCL, NCHW)
 *   dropout(x)     = train: x * (kept ? 1/(1-p) : 0); eval: a view of x. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"
#include "../shards.h"

/* x [N x C x ...]: rows, channels and values per (row, channel) */
typedef struct bn_layout {
    long rows, channels, inner;
} bn_layout;

static bn_layout layout(const emitter *e, const ir_node *x)
{
    bn_layout l = {e_dim(e, x, 0), e_dim(e, x, 1), 1};
    for (int i = 2; i < x->rank; i++) l.inner *= e_dim(e, x, i);
    return l;
}

/* The loops over the values of channel c, with `i` the element's index. */
static void open_channel_loops(emitter *e, const bn_layout *l)
{
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", l->rows);
    if (l->inner == 1) {
        wr_line(e->w, "const long i = b * %ld + c;", l->channels);
    } else {
        wr_line(e->w, "for (long k = 0; k < %ld; k++) {", l->inner);
        wr_line(e->w, "const long i = (b * %ld + c) * %ld + k;", l->channels, l->inner);
    }
}

static void close_channel_loops(emitter *e, const bn_layout *l)
{
    wr_line(e->w, "}");
    if (l->inner != 1) wr_line(e->w, "}");
}

/* Declares `double name` = the sum over the values of channel c of expr,
 * where expr reads element `base + k` (k along the contiguous inner axis):
 * per row, a lane sum that vectorises (e_lane_sum), added up in double. */
static void channel_sum(emitter *e, const bn_layout *l, const char *name, const char *expr)
{
    wr_line(e->w, "double %s = 0;", name);
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", l->rows);
    wr_line(e->w, "const long base = (b * %ld + c) * %ld;", l->channels, l->inner);
    e_lane_sum(e, "double", "part", "k", expr, l->inner);
    wr_line(e->w, "%s += part;", name);
    wr_line(e->w, "}");
}

/* [rows x features]: loops row by row over contiguous features (they
 * vectorise), with per-feature sums in double on the stack */
#define ROW_MAJOR_MAX_FEATURES 4096
static int row_major(const bn_layout *l)
{
    return l->inner == 1 && l->channels <= ROW_MAJOR_MAX_FEATURES;
}

/* ---- batch_norm_stats(x, running_mean, running_var) -> [2 x C] ---- */

/* The end of the training comment: how the running statistics move over
 * a batch of count values per channel */
static void running_comment(emitter *e, const ir_node *n, long count)
{
    if (n->f[1] == BN_CUMULATIVE) {
        wr_line(e->w, " * double; the running statistics average every batch's mean and the");
        wr_line(e->w,
                " * unbiased variance (x %ld/%ld), as torch.nn.BatchNorm with momentum=None */",
                count, count - 1);
        return;
    }
    wr_line(e->w, " * double; the running statistics move by momentum %g toward the mean and",
            n->f[1]);
    wr_line(e->w, " * the unbiased variance (x %ld/%ld), as torch.nn.BatchNorm */", count,
            count - 1);
}

/* running = (1 - m) running + m batch, for channel c whose batch mean is
 * the double `mean` and whose sum of squared deviations is `sq`, over
 * `less1` (the C text of count - 1) */
static void running_update_of(emitter *e, const ir_node *n, const char *rm, const char *rv,
                              const char *mean, const char *sq, const char *less1)
{
    if (n->f[1] == BN_CUMULATIVE) {
        wr_line(e->w, "%s[c] = (real)(momentum * %s + (1 - momentum) * %s[c]);", rm, mean, rm);
        wr_line(e->w, "%s[c] = (real)(momentum * (%s / %s) + (1 - momentum) * %s[c]);", rv, sq,
                less1, rv);
        return;
    }
    double m = n->f[1];
    wr_line(e->w, "%s[c] = (real)(%.17g * %s + %.17g * %s[c]);", rm, m, mean, 1 - m, rm);
    wr_line(e->w, "%s[c] = (real)(%.17g * (%s / %s) + %.17g * %s[c]);", rv, m, sq, less1, 1 - m,
            rv);
}

static void running_update(emitter *e, const ir_node *n, const char *mean, const char *sq,
                           long count)
{
    running_update_of(e, n, e_ref(e, n->in[1]), e_ref(e, n->in[2]), mean, sq,
                      e_fmt(e, "%ld.0", count - 1));
}

static void emit_bn_stats_rows(emitter *e, const ir_node *n, const bn_layout *l)
{
    const char *st = e_ref(e, n->id), *xs = e_ref(e, n->in[0]);
    long r = l->rows, c = l->channels;
    wr_line(e->w, "/* train: mean and biased variance of each feature over the %ld rows, summed in",
            r);
    running_comment(e, n, r);
    wr_line(e->w, "double s[%ld] = {0}, q[%ld] = {0};", c, c);
    wr_line(e->w, "for (long b = 0; b < %ld; b++)", r);
    wr_line(e->w, "    for (long c = 0; c < %ld; c++) s[c] += %s[b * %ld + c];", c, xs, c);
    wr_line(e->w, "for (long c = 0; c < %ld; c++) s[c] /= %ld.0;", c, r);
    wr_line(e->w, "for (long b = 0; b < %ld; b++)", r);
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", c);
    wr_line(e->w, "const double d = %s[b * %ld + c] - s[c];", xs, c);
    wr_line(e->w, "q[c] += d * d;");
    wr_line(e->w, "}");
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", c);
    wr_line(e->w, "%s[c] = (real)s[c];", st);
    wr_line(e->w, "%s[%ld + c] = (real)(1 / sqrt(q[c] / %ld.0 + %.17g));", st, c, r, n->f[0]);
    running_update(e, n, "s[c]", "q[c]", r);
    wr_line(e->w, "}");
}

static int shape_bn_stats(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    char a[64];
    if (x->rank < 2 || x->dim[1] == IR_BATCH) {
        snprintf(err, errsize,
                 "batch_norm needs [rows x features] or [rows x channels x ...], got %s",
                 ir_shape_str(x, a, sizeof a));
        return -1;
    }
    const ir_node *nb = ir_get(g, n->in[3]);
    if (nb->rank != 0) {
        snprintf(err, errsize, "batch_norm: the batch count must be a scalar, not %s",
                 ir_shape_str(nb, a, sizeof a));
        return -1;
    }
    for (int k = 1; k < 3; k++) {
        const ir_node *r = ir_get(g, n->in[k]);
        if (r->rank != 1 || r->dim[0] != x->dim[1]) {
            snprintf(err, errsize, "batch_norm: running statistics of shape %s for %s",
                     ir_shape_str(r, a, sizeof a), ir_shape_str(x, a, sizeof a));
            return -1;
        }
    }
    n->rank = 2;
    n->dim[0] = 2;
    n->dim[1] = x->dim[1];
    return 0;
}

static void emit_bn_stats(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    const char *st = e_ref(e, n->id), *xs = e_ref(e, x->id);
    const char *rm = e_ref(e, n->in[1]), *rv = e_ref(e, n->in[2]);
    bn_layout l = layout(e, x);
    double eps = n->f[0];
    if (!e_training(e)) {
        wr_line(e->w,
                "/* eval: the running statistics (the batch count moves in training only) */");
        wr_line(e->w, "(void)%s;", e_ref(e, n->in[3]));
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
        wr_line(e->w, "%s[c] = %s[c];", st, rm);
        wr_line(e->w, "%s[%ld + c] = (real)(1 / sqrt((double)%s[c] + %.17g));", st, l.channels, rv,
                eps);
        wr_line(e->w, "}");
        return;
    }
    wr_line(e->w, "%s[0] += 1; /* num_batches_tracked */", e_ref(e, n->in[3]));
    if (n->f[1] == BN_CUMULATIVE)
        wr_line(e->w, "const double momentum = 1 / (double)%s[0]; /* cumulative average */",
                e_ref(e, n->in[3]));
    long count = l.rows * l.inner;
    if (row_major(&l)) {
        emit_bn_stats_rows(e, n, &l);
        return;
    }
    wr_line(e->w, "/* train: mean and biased variance of the %ld values of each channel, summed in",
            count);
    running_comment(e, n, count);
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
    channel_sum(e, &l, "s", e_fmt(e, "%s[base + k]", xs));
    wr_line(e->w, "const double mean = s / %ld.0;", count);
    channel_sum(e, &l, "q", e_fmt(e, "(%s[base + k] - mean) * (%s[base + k] - mean)", xs, xs));
    wr_line(e->w, "%s[c] = (real)mean;", st);
    wr_line(e->w, "%s[%ld + c] = (real)(1 / sqrt(q / %ld.0 + %.17g));", st, l.channels, count, eps);
    running_update(e, n, "mean", "q", count);
    wr_line(e->w, "}");
}

static double flops_bn_stats(ir_graph *g, const ir_node *n, int b)
{
    return 3.0 * (double)ir_numel(ir_get(g, n->in[0]), b);
}

/* the gradient through the batch statistics is batch_norm_backward's */
static void vjp_bn_stats(ad_ctx *c, const ir_node *n, int g)
{
    (void)c, (void)n, (void)g;
}

/* ---- synchronised batch norm: train { shards = S > 1 } (gen/shards.h) ----
 * Two sync points in the forward, so that the variance stays the two-pass
 * sum of squared deviations from the step's mean (a sum of squares minus
 * the squared mean cancels digits when the mean is large against the
 * spread): point 0, each channel's sum of x; point 1, its sum of
 * (x - mean)^2. shard_synced makes the mean, then invstd and the running
 * statistics, once per step from the combined sums. */

static int sync_bn_stats(const ir_graph *g, const ir_node *n, long *len)
{
    len[0] = len[1] = ir_get((ir_graph *)g, n->in[0])->dim[1];
    return 2;
}

static void emit_part_bn_stats(emitter *e, const ir_node *n, int part)
{
    const char *st = e_ref(e, n->id), *xs = e_ref(e, n->in[0]);
    bn_layout l = layout(e, ir_get(e->g, n->in[0]));
    long a0 = shard_sync_at(e->sync, n->id, 0), a1 = shard_sync_at(e->sync, n->id, 1);
    if (part == 0) {
        wr_line(e->w, "/* this shard's sum of each channel's %ld values, in double: partial[%ld ..] */",
                l.rows * l.inner, a0);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
        channel_sum(e, &l, "s", e_fmt(e, "%s[base + k]", xs));
        wr_line(e->w, "partial[%ld + c] = s;", a0);
        wr_line(e->w, "}");
    } else if (part == 1) {
        wr_line(e->w, "/* the step's mean of each channel (shard_synced: total[%ld ..]); this shard's",
                a0);
        wr_line(e->w, " * sum of squared deviations from it, in double: partial[%ld ..] */", a1);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
        wr_line(e->w, "const double mean = total[%ld + c];", a0);
        channel_sum(e, &l, "q", e_fmt(e, "(%s[base + k] - mean) * (%s[base + k] - mean)", xs, xs));
        wr_line(e->w, "partial[%ld + c] = q;", a1);
        wr_line(e->w, "}");
    } else {
        wr_line(e->w, "/* the step's mean and 1/sqrt(biased var + eps) per channel (shard_synced, which");
        wr_line(e->w, " * also moves the running statistics, once per step) */");
        wr_line(e->w, "(void)%s, (void)%s, (void)%s;", e_ref(e, n->in[1]), e_ref(e, n->in[2]),
                e_ref(e, n->in[3]));
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
        wr_line(e->w, "%s[c] = (real)total[%ld + c];", st, a0);
        wr_line(e->w, "%s[%ld + c] = (real)total[%ld + c];", st, l.channels, a1);
        wr_line(e->w, "}");
    }
}

/* once per step: the mean from the sums (point 0); invstd, the running
 * statistics and the batch count (point 1) */
static void emit_synced_bn_stats(emitter *e, const ir_node *n, int point)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    long C = x->dim[1], inner = ir_numel(x, 1) / C;
    long a0 = shard_sync_at(e->sync, n->id, 0), a1 = shard_sync_at(e->sync, n->id, 1);
    wr_line(e->w, "const double count = (double)step_rows * %ld; /* values per channel */", inner);
    if (point == 0) {
        wr_line(e->w, "for (long c = 0; c < %ld; c++) total[%ld + c] /= count; /* the mean */", C,
                a0);
        return;
    }
    const char *rm = e_ref(e, n->in[1]), *rv = e_ref(e, n->in[2]), *nb = e_ref(e, n->in[3]);
    for (int k = 1; k <= 3; k++)
        wr_line(e->w, "real *const %s = param + P_%s;", e_ref(e, n->in[k]),
                e_upper(e->g->A, ir_get(e->g, n->in[k])->name));
    wr_line(e->w, "%s[0] += 1; /* num_batches_tracked */", nb);
    if (n->f[1] == BN_CUMULATIVE)
        wr_line(e->w, "const double momentum = 1 / (double)%s[0]; /* cumulative average */", nb);
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", C);
    wr_line(e->w, "const double mean = total[%ld + c], q = total[%ld + c];", a0, a1);
    wr_line(e->w, "total[%ld + c] = 1 / sqrt(q / count + %.17g); /* invstd */", a1, n->f[0]);
    wr_line(e->w, "/* the running statistics: the unbiased variance (x count/(count - 1)) */");
    running_update_of(e, n, rm, rv, "mean", "q", "(count - 1)");
    wr_line(e->w, "}");
}

const op_def op_BN_STATS = {
    .math = "per channel: mean, 1/sqrt(var + eps) of the batch (training) or "
            "running statistics (eval)",
    .shape = shape_bn_stats,
    .emit = emit_bn_stats,
    .vjp = vjp_bn_stats,
    .flops = flops_bn_stats,
    .flags = OPF_EVAL_IGNORES_IN0 | OPF_STATEFUL,
    .sync_points = sync_bn_stats,
    .emit_part = emit_part_bn_stats,
    .emit_synced = emit_synced_bn_stats,
};

/* ---- batch_norm(x, stats) = xhat ---- */

static int shape_like_x(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    (void)err, (void)errsize;
    const ir_node *x = ir_get(g, n->in[0]);
    n->rank = x->rank;
    for (int i = 0; i < x->rank; i++) n->dim[i] = x->dim[i];
    return 0;
}

/* Stores xhat = v at index i, or through the epilogue the fused op of it
 * (beside xhat itself when the backward reads xhat) */
static void store_xhat(emitter *e, const ir_node *n, const char *i)
{
    const char *also = e_store_also(e, n);
    if (also) wr_line(e->w, "%s[%s] = v;", also, i);
    wr_line(e->w, "%s[%s] = %s;", e_store_ref(e, n), i, e_epilogue_at(e, n, "v", "c", i));
}

/* batch norm reads each x at the index it stores */
static int in_place_always(const ir_node *n)
{
    (void)n;
    return 1;
}

static void emit_bn_norm(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    const char *st = e_ref(e, n->in[1]);
    bn_layout l = layout(e, x);
    if (row_major(&l)) {
        wr_line(e->w, "for (long b = 0; b < %ld; b++)", l.rows);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
        wr_line(e->w, "const real v = (%s[b * %ld + c] - %s[c]) * %s[%ld + c];", e_ref(e, x->id),
                l.channels, st, st, l.channels);
        store_xhat(e, n, e_fmt(e, "b * %ld + c", l.channels));
        wr_line(e->w, "}");
        return;
    }
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
    wr_line(e->w, "const real mean = %s[c], invstd = %s[%ld + c];", st, st, l.channels);
    open_channel_loops(e, &l);
    wr_line(e->w, "const real v = (%s[i] - mean) * invstd;", e_ref(e, x->id));
    store_xhat(e, n, "i");
    close_channel_loops(e, &l);
    wr_line(e->w, "}");
}

static void vjp_bn_norm(ad_ctx *c, const ir_node *n, int g)
{
    ir_graph *G = c->g;
    if (ir_get(G, g)->kind == K_CONST) g = ir_shaped(G, OP_EXPAND, g, n, 0);
    ir_args a = {.nin = 3, .in = {n->id, n->in[1], g}};
    ad_accum(c, n->in[0], ir_must(G, OP_BN_NORM_GRAD, &a));
}

const op_def op_BN_NORM = {
    .math = "xhat = (x - mean[c]) * invstd[c], c the channel (axis 1)",
    .shape = shape_like_x,
    .emit = emit_bn_norm,
    .vjp = vjp_bn_norm,
    .flops = flops_elem,
    .flags = OPF_EPILOGUE | OPF_BN | OPF_KEEP_IN_TRAIN,
    .in_place = in_place_always,
};

/* dxhat (batch norm backward n's input 2) at element idx of channel c: its
 * buffer, or dy·γ computed there when plan.c inlined it */
static const char *dxhat_at(emitter *e, const ir_node *n, const char *idx)
{
    return e_value_at(e, n->in[2], "c", idx);
}

/* the sums of dxhat and of dxhat · xhat over channel c: double sg, sgx */
static void dxhat_sums(emitter *e, const ir_node *n, const bn_layout *l, const char *xs)
{
    const char *g = dxhat_at(e, n, "base + k");
    channel_sum(e, l, "sg", g);
    channel_sum(e, l, "sgx", e_fmt(e, "(double)%s * %s[base + k]", g, xs));
}

/* ---- batch_norm_backward(xhat, stats, dxhat) = dx ----
 * In training mean and var depend on x: with n values per channel,
 * dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)). */
static void emit_bn_norm_grad(emitter *e, const ir_node *n)
{
    const ir_node *xh = ir_get(e->g, n->in[0]);
    const char *st = e_ref(e, n->in[1]), *xs = e_ref(e, xh->id);
    bn_layout l = layout(e, xh);
    long count = l.rows * l.inner;
    if (row_major(&l)) {
        long r = l.rows, c = l.channels;
        const char *dx = e_ref(e, n->id), *g = dxhat_at(e, n, e_fmt(e, "b * %ld + c", c));
        wr_line(e->w, "double sg[%ld] = {0}, sgx[%ld] = {0};", c, c);
        wr_line(e->w, "for (long b = 0; b < %ld; b++)", r);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", c);
        wr_line(e->w, "sg[c] += %s;", g);
        wr_line(e->w, "sgx[c] += (double)%s * %s[b * %ld + c];", g, xs, c);
        wr_line(e->w, "}");
        wr_line(e->w, "real mg[%ld], mgx[%ld];", c, c);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", c);
        wr_line(e->w, "mg[c] = (real)(sg[c] / %ld.0);", r);
        wr_line(e->w, "mgx[c] = (real)(sgx[c] / %ld.0);", r);
        wr_line(e->w, "}");
        wr_line(e->w, "for (long b = 0; b < %ld; b++)", r);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", c);
        wr_line(e->w, "const long i = b * %ld + c;", c);
        wr_line(e->w, "%s[i] = %s[%ld + c] * (%s - mg[c] - %s[i] * mgx[c]);", dx, st, c,
                dxhat_at(e, n, "i"), xs);
        wr_line(e->w, "}");
        return;
    }
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
    dxhat_sums(e, n, &l, xs);
    wr_line(e->w, "const real mg = (real)(sg / %ld.0), mgx = (real)(sgx / %ld.0);", count, count);
    wr_line(e->w, "const real invstd = %s[%ld + c];", st, l.channels);
    open_channel_loops(e, &l);
    wr_line(e->w, "%s[i] = invstd * (%s - mg - %s[i] * mgx);", e_ref(e, n->id),
            dxhat_at(e, n, "i"), xs);
    close_channel_loops(e, &l);
    wr_line(e->w, "}");
}

/* Synchronised (shards > 1): one sync point, each channel's sums of dxhat
 * and of dxhat * xhat. A shard's loss is the mean over its own rows, so
 * its dxhat is the step's times step_rows / rows: the shard adds its sums
 * times its rows, and reads the step's means back in its own scale,
 *   mean(dxhat) = total / (rows x values per row x step_rows). */
static int sync_bn_grad(const ir_graph *g, const ir_node *n, long *len)
{
    len[0] = 2L * ir_get((ir_graph *)g, n->in[0])->dim[1];
    return 1;
}

static void emit_part_bn_grad(emitter *e, const ir_node *n, int part)
{
    const ir_node *xh = ir_get(e->g, n->in[0]);
    const char *st = e_ref(e, n->in[1]), *xs = e_ref(e, xh->id);
    bn_layout l = layout(e, xh);
    long count = l.rows * l.inner, a = shard_sync_at(e->sync, n->id, 0);
    if (part == 0) {
        wr_line(e->w, "/* this shard's sums of dxhat and dxhat * xhat per channel, times its %ld",
                l.rows);
        wr_line(e->w, " * rows, in double: partial[%ld ..] and partial[%ld ..] */", a,
                a + l.channels);
        wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
        dxhat_sums(e, n, &l, xs);
        wr_line(e->w, "partial[%ld + c] = %ld.0 * sg;", a, l.rows);
        wr_line(e->w, "partial[%ld + c] = %ld.0 * sgx;", a + l.channels, l.rows);
        wr_line(e->w, "}");
        return;
    }
    wr_line(e->w, "/* dx from the step's sums (total[%ld ..]), in this shard's scale */", a);
    wr_line(e->w, "for (long c = 0; c < %ld; c++) {", l.channels);
    wr_line(e->w, "const real mg = (real)(total[%ld + c] / (%ld.0 * step_rows));", a, count);
    wr_line(e->w, "const real mgx = (real)(total[%ld + c] / (%ld.0 * step_rows));", a + l.channels,
            count);
    wr_line(e->w, "const real invstd = %s[%ld + c];", st, l.channels);
    open_channel_loops(e, &l);
    wr_line(e->w, "%s[i] = invstd * (%s - mg - %s[i] * mgx);", e_ref(e, n->id),
            dxhat_at(e, n, "i"), xs);
    close_channel_loops(e, &l);
    wr_line(e->w, "}");
}

static void emit_synced_bn_grad(emitter *e, const ir_node *n, int point)
{
    (void)n, (void)point;
    wr_line(e->w, "(void)step_rows, (void)param, (void)total; /* each shard reads the sums */");
}

static double flops_bn_grad(ir_graph *g, const ir_node *n, int b)
{
    return 6.0 * (double)ir_numel(ir_get(g, n->in[0]), b);
}

/* ---- its second derivative (Hessian-vector products, gen/hvp.c) ----
 * dx = s (g - mean(g) - xhat mean(g xhat)) per channel, s = invstd. For
 * an adjoint U: g's is the same op of U (the Jacobian is symmetric);
 * xhat's is -s (U mean(g xhat) + g mean(U xhat)), carried to x by
 * batch_norm's own rule (through the statistics); and s's, through
 * ds/dx = -s² xhat / n, is -s² xhat mean(U h), h = dx / s. s is computed
 * again from x with the elementwise ops and channel means. */

/* the mean over every axis but the channel's (axis 1), as [C] or [C x 1 ...] */
static int channel_mean(ir_graph *g, int t)
{
    const ir_node *n = ir_get(g, t);
    ir_args a = {.nin = 1, .in = {t}, .i = {1}, .rank = n->rank - 1, .dim = {n->dim[1], 1, 1}};
    return ir_must(g, OP_SUM_TO, &a);
}

static int mul(ir_graph *g, int a, int b)
{
    return ir_binary(g, OP_MUL, a, b);
}

static void vjp2_bn_norm_grad(ad_ctx *c, const ir_node *n, int u)
{
    ir_graph *G = c->g;
    int xh = n->in[0], st = n->in[1], dy = n->in[2];
    int x = ir_get(G, xh)->in[0];
    double eps = ir_get(G, st)->f[0];
    if (dy < c->nforward && c->needs[dy]) {
        ir_args a = {.nin = 3, .in = {xh, st, u}};
        ad_accum(c, dy, ir_must(G, OP_BN_NORM_GRAD, &a));
    }
    if (x >= c->nforward || !c->needs[x]) return;
    int centred = ir_binary(G, OP_SUB, x, channel_mean(G, x));
    int var = channel_mean(G, ir_unary(G, OP_POW, centred, 2));
    int s = ir_unary(G, OP_POW, ir_binary(G, OP_ADD, var, ir_const(G, eps)), -0.5);
    int m_gx = channel_mean(G, mul(G, dy, xh)), m_ux = channel_mean(G, mul(G, u, xh));
    int sum = ir_binary(G, OP_ADD, mul(G, u, m_gx), mul(G, dy, m_ux));
    ad_accum(c, xh, ir_unary(G, OP_NEG, mul(G, s, sum), 0));
    int h = ir_binary(G, OP_SUB, ir_binary(G, OP_SUB, dy, channel_mean(G, dy)), mul(G, xh, m_gx));
    int m_uh = channel_mean(G, mul(G, u, h));
    ad_accum(c, x, ir_unary(G, OP_NEG, mul(G, mul(G, mul(G, s, s), xh), m_uh), 0));
}

const op_def op_BN_NORM_GRAD = {
    .math = "dx = invstd * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat)) per channel",
    .shape = shape_like_x,
    .emit = emit_bn_norm_grad,
    .flops = flops_bn_grad,
    .vjp = vjp2_bn_norm_grad,
    .sync_points = sync_bn_grad,
    .emit_part = emit_part_bn_grad,
    .emit_synced = emit_synced_bn_grad,
};

/* ---- dropout(x) ----
 * The mask is counter-based noise, a pure function of (training seed, step,
 * the dropout's number in the spec, element index): nothing to save in a
 * checkpoint, the same on any thread count, and the same mask for the
 * forward and the backward (which is dropout of the gradient with the same
 * key). See rt_noise_* in runtime/rt.h. */

/* keep element i iff its 32 noise bits >= p * 2^32 */
static uint32_t drop_threshold(double p)
{
    double t = nearbyint(p * 4294967296.0);
    return t >= 4294967295.0 ? 0xFFFFFFFFu : (uint32_t)t;
}

static void emit_dropout(emitter *e, const ir_node *n)
{
    double p = n->f[0];
    /* torch scales by 1/(1-p) in the element type: (float)1 / (float)(1 - p) */
    double scale = e->dbl ? 1 / (1 - p) : (double)(1.0f / (float)(1 - p));
    wr_line(e->w, "/* kept with probability %g, then scaled by 1/(1-p); element i of mask %d is",
            1 - p, n->i[0]);
    wr_line(e->w,
            " * kept iff rt_noise_bits(stream, i) >= %g * 2^32; every element kept, unscaled,", p);
    wr_line(e->w, " * when train --overfit turns regularisation off (model_regularise 0) */");
    wr_line(e->w, "const uint64_t stream = rt_noise_stream(noise, %d);", n->i[0]);
    wr_line(e->w, "const real scale = model_regularise ? %s : 1;", e_lit(e, scale));
    wr_line(e->w, "const uint32_t keep_from = model_regularise ? %uu : 0;", drop_threshold(p));
    wr_line(e->w, "for (long i = 0; i < %ld; i++)", e_numel(e, n));
    wr_line(e->w, "    %s[i] = %s[i] * (rt_noise_bits(stream, i) >= keep_from ? scale : 0);",
            e_ref(e, n->id), e_ref(e, n->in[0]));
}

/* the same mask on the gradient */
static void vjp_dropout(ad_ctx *c, const ir_node *n, int g)
{
    ir_graph *G = c->g;
    if (ir_get(G, g)->kind == K_CONST) g = ir_shaped(G, OP_EXPAND, g, n, 0);
    ir_args a = {.nin = 1, .in = {g}, .f = {n->f[0]}, .i = {n->i[0]}};
    ad_accum(c, n->in[0], ir_must(G, OP_DROPOUT, &a));
}

static double flops_dropout(ir_graph *g, const ir_node *n, int b)
{
    (void)g;
    return 2.0 * (double)ir_numel(n, b);
}

const op_def op_DROPOUT = {
    .math = "train: y = x * (kept ? 1/(1-p) : 0), kept with probability 1-p; "
            "eval: y = x (a view)",
    .shape = shape_same,
    .emit = emit_dropout,
    .vjp = vjp_dropout,
    .flops = flops_dropout,
    .flags = OPF_EVAL_IDENTITY | OPF_NOISE,
};

/* ---- penalty_switch(x): l1_penalty and l2_penalty pass through it, so
 * that train --overfit can turn them off at run time (model_regularise 0):
 * the penalty and its gradient are then 0. Not a DSL function. */

static void emit_penalty_switch(emitter *e, const ir_node *n)
{
    wr_line(e->w, "/* the penalty, or 0 when train --overfit turns regularisation off */");
    wr_line(e->w, "for (long i = 0; i < %ld; i++)", e_numel(e, n));
    wr_line(e->w, "    %s[i] = model_regularise ? %s[i] : 0;", e_ref(e, n->id), e_ref(e, n->in[0]));
}

static void vjp_penalty_switch(ad_ctx *c, const ir_node *n, int g)
{
    ir_graph *G = c->g;
    if (ir_get(G, g)->kind == K_CONST) g = ir_shaped(G, OP_EXPAND, g, n, 0);
    ir_args a = {.nin = 1, .in = {g}};
    ad_accum(c, n->in[0], ir_must(G, OP_PENALTY_SWITCH, &a));
}

static double flops_penalty_switch(ir_graph *g, const ir_node *n, int b)
{
    (void)g;
    return (double)ir_numel(n, b);
}

const op_def op_PENALTY_SWITCH = {
    .math = "y = model_regularise ? x : 0 (train --overfit sets it to 0)",
    .shape = shape_same,
    .emit = emit_penalty_switch,
    .vjp = vjp_penalty_switch,
    .flops = flops_penalty_switch,
};

/* ---- checks that need the batch size ---- */

int norm_check_batch(ir_graph *g, int batch, int remainder, char *err, size_t errsize)
{
    for (int i = 0; i < g->n; i++) {
        const ir_node *n = ir_get(g, i);
        if (n->op != OP_BN_STATS) continue;
        const ir_node *x = ir_get(g, n->in[0]);
        long per_row = ir_numel(x, 1) / x->dim[1];
        for (int k = 0; k < 2; k++) {
            int b = k ? remainder : batch;
            if (b <= 0) continue;
            long per_channel = ir_is_batched(x) ? per_row * b : ir_numel(x, 1) / x->dim[1];
            if (per_channel > 1) continue;
            snprintf(err, errsize,
                     "%s:%d: batch_norm: a %s of %d row%s gives 1 value per channel in training "
                     "(as torch, at least 2 are needed); use a larger batch%s",
                     n->file, n->line, k ? "last partial batch" : "batch", b, b == 1 ? "" : "s",
                     k ? " or train { drop_last = true }" : "");
            return -1;
        }
    }
    return 0;
}
