/* ops/pool.c — max and average pooling over NCHW tensors [B x C x H x W],
 * and their backward ops.
 *
 * Pooling reads x directly. Max pooling's backward reads the argmax the
 * forward saved where argmax_saved says (windows that tile x, rows of 8
 * outputs or more): t = max_pool2d_argmax(x), each window's first maximum
 * (as PyTorch, NaN propagating) as its offset i·W + j from the window's
 * corner, a real, a side output the pool's block stores (variant.h;
 * computed alone only when the plan finds no pool to store it). x then
 * dies after the forward: t is a quarter of it for 2x2 windows, and the
 * backward reads t instead of scanning x again. Elsewhere the backward
 * scans x again for the argmax (x stays alive until then). 2x2 windows
 * with stride 2 over even sizes, in float, try runtime/rt_maxpool.c's AVX2
 * kernel first where the loops vectorise badly (pool2x2_kernel): fashion_cnn's
 * second pool (7 columns) 124 -> 48 us a step forward, 222 -> 129 backward;
 * its first (14, the argmax saved) 157 -> 145 and 145 -> 81; the same bits.
 * Average pooling divides by kh·kw (count_include_pad = True).
 *
 * Attributes: i = {kh, kw, sh, sw}, f = {ph, pw, 1, 1} (window.h). */
#include <stdio.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"
#include "window.h"

static int shape_pool(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    int oh, ow;
    if (window_check_nchw(g, x, ir_op_name(n->op), err, errsize) ||
        window_out(n, x, &oh, &ow, err, errsize))
        return -1;
    n->rank = 4;
    n->dim[0] = IR_BATCH;
    n->dim[1] = x->dim[1];
    n->dim[2] = oh;
    n->dim[3] = ow;
    return 0;
}

/* Opens the loops over the windows (bc, oy, ox) of the images of x, OH x
 * OW of them each: `at` indexes the pool's output, `base` the image. */
static void window_loops_open(emitter *e, const ir_node *x, long OH, long OW)
{
    long B = e_dim(e, x, 0), C = e_dim(e, x, 1), H = e_dim(e, x, 2), W = e_dim(e, x, 3);
    wr_line(e->w, "for (long bc = 0; bc < %ld; bc++)", B * C);
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++)", OH);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) {", OW);
    wr_line(e->w, "const long at = bc * %ld + oy * %ld + ox, base = bc * %ld;", OH * OW, OW, H * W);
}

/* the window's rows i and columns j, skipping the padding; xi indexes x */
static void window_inner_open(emitter *e, const ir_node *x, const ir_node *n)
{
    geom q = window_geom(n);
    long H = e_dim(e, x, 2), W = e_dim(e, x, 3);
    wr_line(e->w, "for (long i = 0; i < %d; i++) {", q.kh);
    wr_line(e->w, "const long iy = oy * %d - %d + i;", q.sh, q.ph);
    if (q.ph) wr_line(e->w, "if (iy < 0 || iy >= %ld) continue;", H);
    wr_line(e->w, "for (long j = 0; j < %d; j++) {", q.kw);
    wr_line(e->w, "const long ix = ox * %d - %d + j;", q.sw, q.pw);
    if (q.pw) wr_line(e->w, "if (ix < 0 || ix >= %ld) continue;", W);
    wr_line(e->w, "const long xi = base + iy * %ld + ix;", W);
}

/* The scan of PyTorch's CPU kernel: the first valid element starts it, a
 * larger one or a NaN replaces it (so a later NaN wins the index). Without
 * padding the window's first element is always valid: it starts the scan
 * and the comparisons become selects, free of branches. */
static void emit_window_max(emitter *e, const ir_node *x, const ir_node *n, const char *X)
{
    geom q = window_geom(n);
    long W = e_dim(e, x, 3);
    if (!q.ph && !q.pw) {
        wr_line(e->w, "long arg = base + oy * %ld + ox * %d;", (long)q.sh * W, q.sw);
        wr_line(e->w, "real m = %s[arg];", X);
    } else {
        wr_line(e->w, "real m = 0;");
        wr_line(e->w, "long arg = -1;");
    }
    window_inner_open(e, x, n);
    wr_line(e->w, "const real v = %s[xi];", X);
    wr_line(e->w, "const int take = %s(v > m) | isnan(v);", q.ph || q.pw ? "(arg < 0) | " : "");
    wr_line(e->w, "m = take ? v : m;");
    wr_line(e->w, "arg = take ? xi : arg;");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* The index of x at the top-left corner of window (oy, ox), padding
 * included: the argmax is saved as arg minus it, i·W + j */
static const char *window_corner(emitter *e, const ir_node *x, const ir_node *n)
{
    geom q = window_geom(n);
    return e_fmt(e, "base + (oy * %d - %d) * %d + ox * %d - %d", q.sh, q.ph, e_dim(e, x, 3), q.sw,
                 q.pw);
}

/* T[at] = the saved argmax of the window just scanned (-1: none valid) */
static void emit_save_argmax(emitter *e, const ir_node *x, const ir_node *n, const char *T)
{
    wr_line(e->w, "%s[at] = arg < 0 ? -1 : (real)(arg - (%s));", T, window_corner(e, x, n));
}

/* Windows that tile x without overlap or padding */
static int pool_disjoint(const ir_node *n)
{
    geom q = window_geom(n);
    return q.sh == q.kh && q.sw == q.kw && !q.ph && !q.pw;
}

/* The pool's input x: max_pool2d_backward's in[0] is x, or the argmax
 * saved from x */
static int pooled_input(ir_graph *g, const ir_node *n)
{
    const ir_node *a = ir_get(g, n->in[0]);
    return a->op == OP_MAX_POOL2D_ARGMAX ? a->in[0] : a->id;
}

/* relu's backward mask stored by max_pool2d_backward (plan.c): windows
 * apart (each dx written once, by its window's row) and the mask relu's
 * output that is the pool's input, so that the mask at a window's argmax
 * is the window's maximum m > 0 (its other dx are 0 either way) */
static int pool_grad_stores_mask(ir_graph *g, const ir_node *n, int mask)
{
    if (!pool_disjoint(n) || pooled_input(g, n) != mask) return 0;
    /* a saved argmax then holds -1 for the masked windows: n must be its
     * only reader (argmax_masked) */
    return ir_get(g, n->in[0])->op != OP_MAX_POOL2D_ARGMAX || ir_sole_reader(g, n->in[0], n->id);
}

/* The buffer of relu's output A whose backward mask the block stores in
 * place of dx (A > 0 ? dx : 0; plan.c's mask_store_fits), or NULL */
static const char *stored_mask(emitter *e, const ir_node *n)
{
    int r = e->pv->epi[n->id];
    return r < 0 ? NULL : e_ref(e, ir_get(e->g, r)->in[0]);
}

/* Whether the backward reading argmax node a (max_pool2d_backward) stores
 * relu's backward mask: then a window whose maximum is not > 0 saves -1,
 * no tap's offset, and its dx are 0 as relu's backward makes them */
static int argmax_masked(emitter *e, int a)
{
    for (int i = 0; a >= 0 && i < e->g->n; i++) {
        const ir_node *r = ir_get(e->g, i);
        if (r->op == OP_MAX_POOL2D_GRAD && r->in[0] == a && stored_mask(e, r)) return 1;
    }
    return 0;
}

/* 2x2 windows with stride 2 that tile x (H and W even) in float:
 * runtime/rt_maxpool.c's kernel, four windows at a time in any row width,
 * before the loops. The loops of the scan without a saved argmax run a
 * window at a time; those that save or read it (rows) vectorise along
 * rows of 8 windows or more, and as well as the kernel where the row's
 * tail is whole vectors of 4 (LeNet's first pool, 12 windows: its backward
 * 15 us a step in the loops, 20 in the kernel; fashion_cnn's, 14: 145 and
 * 81), so rows with such tails keep their loops */
static int pool2x2_kernel(const emitter *e, const ir_node *n, const ir_node *x, int rows)
{
    geom q = window_geom(n);
    const long OW = e_dim(e, x, 3) / 2;
    return !e->dbl && !e->pv->plain && q.kh == 2 && q.kw == 2 && pool_disjoint(n) &&
           e_dim(e, x, 2) % 2 == 0 && e_dim(e, x, 3) % 2 == 0 && !(rows && OW >= 8 && OW % 4 == 0);
}

/* opens `if (call) {` for pool2x2_kernel's pools: the loops go inside */
static int pool2x2_call(emitter *e, const ir_node *n, const ir_node *x, int rows, const char *call)
{
    if (!pool2x2_kernel(e, n, x, rows)) return 0;
    wr_line(e->w, "/* runtime/rt_maxpool.c's AVX2 kernel (4 windows at a time, the same bits);");
    wr_line(e->w, " * these loops where it declines */");
    wr_line(e->w, "if (%s) {", call);
    return 1;
}

/* Max pooling of unpadded windows a row at a time, storing each window's
 * argmax into T and, for pool n (store_value), its value through the
 * epilogue; n is the pool or its argmax node. Along ox every window is the
 * same straight-line scan (emit_window_max's, over the kh·kw taps) with the
 * argmax as a real: an integer index beside the real selects made gcc
 * branch on every comparison (42 ns a window on LeNet's first pool instead
 * of 1), and the row pointers are restrict, so that gcc vectorises along ox
 * (strided loads, selects) without a run-time overlap test whose scalar
 * fallback branches too. They may be: the plan does not store such a pool
 * over its input (plan.c, place_buffers). */
static void emit_max_pool_rows(emitter *e, const ir_node *n, const ir_node *x, const char *T,
                               int store_value)
{
    geom q = window_geom(n);
    long B = e_dim(e, x, 0), C = e_dim(e, x, 1), H = e_dim(e, x, 2), W = e_dim(e, x, 3);
    long OH = e_dim(e, n, 2), OW = e_dim(e, n, 3);
    const int masked = argmax_masked(e, store_value ? e->pv->side[n->id] : n->id);
    const int kernel = !(store_value && e_has_epilogue(e, n)) &&
                       pool2x2_call(e, n, x, 1,
                                    e_fmt(e, "rt_max_pool2x2_argmax(%ld, %ld, %s, %s, %s, %d)",
                                          B * C * OH, W, e_ref(e, n->in[0]),
                                          store_value ? e_store_ref(e, n) : "NULL", T, masked));
    wr_line(e->w, "for (long bc = 0; bc < %ld; bc++)", B * C);
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    wr_line(e->w, "const real *restrict xr = %s + bc * %ld + oy * %ld;", e_ref(e, n->in[0]), H * W,
            (long)q.sh * W);
    wr_line(e->w, "real *restrict tr = %s + bc * %ld + oy * %ld;", T, OH * OW, OW);
    if (store_value)
        wr_line(e->w, "real *restrict yr = %s + bc * %ld + oy * %ld;", e_store_ref(e, n), OH * OW,
                OW);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) {", OW);
    wr_line(e->w, "real m = xr[ox * %d];", q.sw);
    wr_line(e->w, "real t = 0;");
    for (int k = 1; k < q.kh * q.kw; k++) {
        long d = (long)(k / q.kw) * W + k % q.kw;
        wr_line(e->w, "{");
        wr_line(e->w, "const real v = xr[%ld + ox * %d];", d, q.sw);
        wr_line(e->w, "const int take = (v > m) | isnan(v);");
        wr_line(e->w, "m = take ? v : m;");
        wr_line(e->w, "t = take ? %ld : t;", d);
        wr_line(e->w, "}");
    }
    if (masked)
        wr_line(e->w, "tr[ox] = m > 0 ? t : -1; /* -1: relu's backward zeroes the window */");
    else
        wr_line(e->w, "tr[ox] = t;");
    if (store_value)
        wr_line(e->w, "yr[ox] = %s;",
                e_epilogue_at(e, n, "m", e_fmt(e, "bc %% %ld", C),
                              e_fmt(e, "bc * %ld + oy * %ld + ox", OH * OW, OW)));
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    if (kernel) wr_line(e->w, "}");
}

/* An unpadded pool may store over its input: y[at] is stored after reading
 * its window, whose lowest index is at or above at (OH·OW <= H·W, OW <= W,
 * stride >= 1) and increases window by window: no later window reads below
 * it. */
static int pool_in_place(const ir_node *n)
{
    return n->f[0] == 0 && n->f[1] == 0 && n->i[2] >= 1 && n->i[3] >= 1;
}

/* With a side output (training: the argmax for the backward) the pool
 * stores each window's argmax too */
static void emit_max_pool(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    const char *T = e_side_ref(e, n);
    if (T && !n->f[0] && !n->f[1]) {
        emit_max_pool_rows(e, n, x, T, 1);
        return;
    }
    const int kernel = !T && !e_has_epilogue(e, n) &&
                       pool2x2_call(e, n, x, 0,
                                    e_fmt(e, "rt_max_pool2x2(%ld, %d, %s, %s)",
                                          (long)e_dim(e, x, 0) * e_dim(e, x, 1) * e_dim(e, n, 2),
                                          e_dim(e, x, 3), e_ref(e, x->id), e_ref(e, n->id)));
    window_loops_open(e, x, e_dim(e, n, 2), e_dim(e, n, 3));
    emit_window_max(e, x, n, e_ref(e, n->in[0]));
    if (T) emit_save_argmax(e, x, n, T);
    wr_line(e->w, "%s[at] = %s;", e_store_ref(e, n),
            e_epilogue_at(e, n, "m", e_fmt(e, "bc %% %d", n->dim[1]), "at"));
    wr_line(e->w, "}");
    if (kernel) wr_line(e->w, "}");
}

/* max_pool2d_argmax(x) alone, when no pool stores it (emit_max_pool) */
static void emit_max_pool_argmax(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    if (!n->f[0] && !n->f[1]) {
        emit_max_pool_rows(e, n, x, e_ref(e, n->id), 0);
        return;
    }
    window_loops_open(e, x, e_dim(e, n, 2), e_dim(e, n, 3));
    emit_window_max(e, x, n, e_ref(e, n->in[0]));
    wr_line(e->w, "(void)m;");
    emit_save_argmax(e, x, n, e_ref(e, n->id));
    wr_line(e->w, "}");
}

/* The backward of non-overlapping unpadded windows, a row of windows at a
 * time: each element of the window gets dy where the saved argmax is its
 * offset, 0 elsewhere (selects along ox, which the compiler vectorises) */
static void emit_max_pool_grad_rows(emitter *e, const ir_node *n, long OH, long OW)
{
    geom q = window_geom(n);
    long C = e_dim(e, n, 1), B = e_dim(e, n, 0), H = e_dim(e, n, 2), W = e_dim(e, n, 3);
    const char *T = e_ref(e, n->in[0]), *dy = e_ref(e, n->in[1]);
    if (stored_mask(e, n))
        wr_line(e->w, "/* relu's backward mask: the forward saved -1 for a window whose "
                      "maximum is not > 0 */");
    wr_line(e->w, "for (long bc = 0; bc < %ld; bc++)", B * C);
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    wr_line(e->w, "const real *tr = %s + bc * %ld + oy * %ld;", T, OH * OW, OW);
    wr_line(e->w, "real *dr = %s + bc * %ld + oy * %ld;", e_store_ref(e, n), H * W, (long)q.kh * W);
    wr_line(e->w, "const real *gr = %s + bc * %ld + oy * %ld;", dy, OH * OW, OW);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) {", OW);
    wr_line(e->w, "const real t = tr[ox], g = gr[ox];");
    for (int k = 0; k < q.kh * q.kw; k++) {
        long d = (long)(k / q.kw) * W + k % q.kw;
        wr_line(e->w, "dr[%ld + ox * %d] = t == %ld ? g : 0;", d, q.kw, d);
    }
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* The same from x (a pool the argmax is not saved for: argmax_saved), the
 * argmax scanned again: along ox every window is the same straight-line
 * code (the scan of emit_window_max over the kh·kw taps, then each tap's
 * dx = dy or 0), with the window's tap number in place of its index, so
 * that the compiler vectorises it along ox (strided loads and stores,
 * selects) instead of running one window per iteration. */
static void emit_max_pool_grad_rows_x(emitter *e, const ir_node *n, long OH, long OW)
{
    geom q = window_geom(n);
    long C = e_dim(e, n, 1), B = e_dim(e, n, 0), H = e_dim(e, n, 2), W = e_dim(e, n, 3);
    const char *X = e_ref(e, n->in[0]), *dy = e_ref(e, n->in[1]);
    wr_line(e->w, "for (long bc = 0; bc < %ld; bc++)", B * C);
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    wr_line(e->w, "const real *xr = %s + bc * %ld + oy * %ld;", X, H * W, (long)q.kh * W);
    wr_line(e->w, "real *dr = %s + bc * %ld + oy * %ld;", e_store_ref(e, n), H * W, (long)q.kh * W);
    wr_line(e->w, "const real *gr = %s + bc * %ld + oy * %ld;", dy, OH * OW, OW);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) {", OW);
    wr_line(e->w, "real m = xr[ox * %d];", q.kw);
    /* the tap number as a real: an int beside the real selects made gcc
     * emit a branch per comparison instead of vector selects */
    wr_line(e->w, "real arg = 0;");
    for (int t = 1; t < q.kh * q.kw; t++) {
        wr_line(e->w, "{");
        wr_line(e->w, "const real v = xr[%ld + ox * %d];", (long)(t / q.kw) * W + t % q.kw, q.kw);
        wr_line(e->w, "const int take = (v > m) | isnan(v);");
        wr_line(e->w, "m = take ? v : m;");
        wr_line(e->w, "arg = take ? %d : arg;", t);
        wr_line(e->w, "}");
    }
    /* with relu's backward mask stored (stored_mask: relu's output is x),
     * the mask at the argmax is the window's maximum m (dy loaded first: a
     * load inside ?: is conditional and stops the loop vectorising) */
    wr_line(e->w, "const real gy = gr[ox];");
    wr_line(e->w, "const real g = %s;", stored_mask(e, n) ? "m > 0 ? gy : 0" : "gy");
    for (int t = 0; t < q.kh * q.kw; t++)
        wr_line(e->w, "dr[%ld + ox * %d] = arg == %d ? g : 0;", (long)(t / q.kw) * W + t % q.kw,
                q.kw, t);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* max_pool2d_backward(t, dy): each dy goes to its window's saved argmax t
 * (max_pool2d_argmax). When the windows do not overlap (stride = kernel,
 * no padding), every element of dx belongs to at most one window: each
 * window writes all of its elements (dy at the maximum, 0 elsewhere)
 * instead of zeroing dx first and scattering (emit_max_pool_grad_rows), and
 * when the windows also cover x exactly nothing else is left to zero.
 * Overlapping windows add into dx. */
static void emit_max_pool_grad(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[1]);
    const char *dx = e_store_ref(e, n);
    geom q = window_geom(n);
    long OH = e_dim(e, gy, 2), OW = e_dim(e, gy, 3), W = e_dim(e, n, 3);
    int disjoint = pool_disjoint(n);
    int covered = disjoint && OH * q.kh == e_dim(e, n, 2) && OW * q.kw == W;
    if (!covered) wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", e_numel(e, n), dx);
    const int saved = ir_get(e->g, n->in[0])->op == OP_MAX_POOL2D_ARGMAX;
    if (disjoint && saved) {
        const int kernel = pool2x2_call(e, n, n, 1,
                                        e_fmt(e, "rt_max_pool2x2_grad_saved(%ld, %ld, %s, %s, %s)",
                                              (long)e_dim(e, n, 0) * e_dim(e, n, 1) * OH, W,
                                              e_ref(e, n->in[0]), e_ref(e, n->in[1]), dx));
        emit_max_pool_grad_rows(e, n, OH, OW);
        if (kernel) wr_line(e->w, "}");
        return;
    }
    if (disjoint) {
        const int kernel =
            pool2x2_call(e, n, n, 0,
                         e_fmt(e, "rt_max_pool2x2_grad(%ld, %ld, %s, %s, %s, %d)",
                               (long)e_dim(e, n, 0) * e_dim(e, n, 1) * OH, W, e_ref(e, n->in[0]),
                               e_ref(e, n->in[1]), dx, stored_mask(e, n) != NULL));
        emit_max_pool_grad_rows_x(e, n, OH, OW);
        if (kernel) wr_line(e->w, "}");
        return;
    }
    window_loops_open(e, n, OH, OW);
    if (saved) {
        wr_line(e->w, "const real t = %s[at];", e_ref(e, n->in[0]));
        wr_line(e->w, "if (t < 0) continue;");
        wr_line(e->w, "%s[%s + (long)t] += %s[at];", dx, window_corner(e, n, n),
                e_ref(e, n->in[1]));
    } else {
        emit_window_max(e, n, n, e_ref(e, n->in[0]));
        wr_line(e->w, "(void)m;");
        wr_line(e->w, "%s[arg] += %s[at];", dx, e_ref(e, n->in[1]));
    }
    wr_line(e->w, "}");
}

static void emit_avg_pool(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    geom q = window_geom(n);
    window_loops_open(e, x, e_dim(e, n, 2), e_dim(e, n, 3));
    wr_line(e->w, "real s = 0;");
    window_inner_open(e, x, n);
    wr_line(e->w, "s += %s[xi];", e_ref(e, n->in[0]));
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    if (e_has_epilogue(e, n)) {
        wr_line(e->w, "const real v = s / %d;", q.kh * q.kw);
        wr_line(e->w, "%s[at] = %s;", e_store_ref(e, n),
                e_epilogue_at(e, n, "v", e_fmt(e, "bc %% %d", n->dim[1]), "at"));
    } else {
        wr_line(e->w, "%s[at] = s / %d;", e_ref(e, n->id), q.kh * q.kw);
    }
    wr_line(e->w, "}");
}

static void emit_avg_pool_grad(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[0]);
    geom q = window_geom(n);
    const char *dx = e_ref(e, n->id);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", e_numel(e, n), dx);
    window_loops_open(e, n, e_dim(e, gy, 2), e_dim(e, gy, 3));
    wr_line(e->w, "const real share = %s[at] / %d;", e_ref(e, n->in[0]), q.kh * q.kw);
    window_inner_open(e, n, n);
    wr_line(e->w, "%s[xi] += share;", dx);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* Whether max_pool2d's backward reads a saved argmax (else it scans x
 * again): for windows that tile x, rows of 8 outputs or more. Their row
 * loops vectorise along ox, storing the argmax beside the maximum costs
 * the forward little and the backward reads a quarter of x: LeNet's first
 * pool (12 columns) 83 -> 36 us for both backwards, fashion_cnn's first
 * (14) 396 -> 166. Shorter rows run the argmax's selects as branches:
 * fashion_cnn's second pool (7 columns) 134 -> 754 us forward and 185 ->
 * 740 backward (profile, 1 thread, AMD EPYC Zen 5, 2026-12-06). */
static int argmax_saved(const ir_node *n)
{
    return pool_disjoint(n) && n->dim[3] >= 8;
}

static void vjp_max_pool(ad_ctx *c, const ir_node *n, int gout)
{
    int x = n->in[0];
    if (x >= c->nforward || !c->needs[x]) return;
    int in[2] = {x, gout};
    if (argmax_saved(n)) {
        in[0] = window_node(c->g, OP_MAX_POOL2D_ARGMAX, n, 1, &x, n);
        ir_get(c->g, in[0])->name =
            ir_c_name(c->g, arena_printf(c->g->A, "%s_argmax", n->name ? n->name : "pool"));
    }
    ad_accum(c, x, window_node(c->g, OP_MAX_POOL2D_GRAD, n, 2, in, ir_get(c->g, x)));
}

static void vjp_avg_pool(ad_ctx *c, const ir_node *n, int gout)
{
    int x = n->in[0];
    if (x >= c->nforward || !c->needs[x]) return;
    ad_accum(c, x, window_node(c->g, OP_AVG_POOL2D_GRAD, n, 1, &gout, ir_get(c->g, x)));
}

/* The pools' backward ops are linear in dy (Hessian-vector products,
 * gen/hvp.c): avg_pool2d's adjoint is the pool of U; max_pool2d's is U
 * gathered at each window's maximum of x (max_pool2d_gather), and x's is 0
 * almost everywhere, as torch's double backward. */
static void vjp2_avg_pool_grad(ad_ctx *c, const ir_node *n, int u)
{
    int gy = n->in[0];
    if (gy < c->nforward && c->needs[gy])
        ad_accum(c, gy, window_node(c->g, OP_AVG_POOL2D, n, 1, &u, ir_get(c->g, gy)));
}

static void vjp2_max_pool_grad(ad_ctx *c, const ir_node *n, int u)
{
    const ir_node *t = ir_get(c->g, n->in[0]); /* x, or the argmax of x */
    int gy = n->in[1], in[2] = {t->op == OP_MAX_POOL2D_ARGMAX ? t->in[0] : t->id, u};
    if (gy < c->nforward && c->needs[gy])
        ad_accum(c, gy, window_node(c->g, OP_MAX_POOL2D_GATHER, n, 2, in, ir_get(c->g, gy)));
}

/* max_pool2d_gather(x, u): u at each window's maximum of x (the first, as
 * the backward picks it) */
static void emit_max_pool_gather(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    window_loops_open(e, x, e_dim(e, n, 2), e_dim(e, n, 3));
    emit_window_max(e, x, n, e_ref(e, n->in[0]));
    wr_line(e->w, "(void)m;");
    wr_line(e->w, "%s[at] = arg < 0 ? 0 : %s[arg];", e_ref(e, n->id), e_ref(e, n->in[1]));
    wr_line(e->w, "}");
}

/* the backward of a pool: the shape (x's) is given; dy must be the pool's */
static int shape_pool_grad(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *gy = ir_get(g, n->in[n->nin - 1]);
    int oh, ow;
    if (window_check_nchw(g, n, ir_op_name(n->op), err, errsize) ||
        window_out(n, n, &oh, &ow, err, errsize))
        return -1;
    if (gy->rank != 4 || gy->dim[1] != n->dim[1] || gy->dim[2] != oh || gy->dim[3] != ow) {
        char s[64];
        snprintf(err, errsize, "%s: gradient %s is not the pool's output", ir_op_name(n->op),
                 ir_shape_str(gy, s, sizeof s));
        return -1;
    }
    return 0;
}

static double flops_window(ir_graph *g, const ir_node *n, int b)
{
    (void)g;
    return (double)ir_numel(n, b) * n->i[0] * n->i[1];
}

static double flops_window_grad(ir_graph *g, const ir_node *n, int b)
{
    const ir_node *gy = ir_get(g, n->in[n->nin - 1]);
    return (double)ir_numel(gy, b) * n->i[0] * n->i[1];
}

const op_def op_MAX_POOL2D = {
    .math = "y = max of x over each window (padding ignored)",
    .shape = shape_pool,
    .emit = emit_max_pool,
    .vjp = vjp_max_pool,
    .flops = flops_window,
    .flags = OPF_EPILOGUE,
    .in_place = pool_in_place,
};
/* the argmax's compares are the pool's when its block stores it */
static double flops_argmax(ir_graph *g, const ir_node *n, int b)
{
    (void)g, (void)n, (void)b;
    return 0;
}

const op_def op_MAX_POOL2D_GRAD = {
    .math = "dx[each window's argmax (saved, or scanned again in x)] += dy",
    .shape = shape_pool_grad,
    .emit = emit_max_pool_grad,
    .flops = flops_window_grad,
    .vjp = vjp2_max_pool_grad,
    .stores_mask = pool_grad_stores_mask,
};
const op_def op_AVG_POOL2D = {
    .math = "y = sum of x over each window / (kh·kw) (count_include_pad)",
    .shape = shape_pool,
    .emit = emit_avg_pool,
    .vjp = vjp_avg_pool,
    .flops = flops_window,
    .flags = OPF_EPILOGUE,
    .in_place = pool_in_place,
};
const op_def op_AVG_POOL2D_GRAD = {
    .math = "dx[window] += dy / (kh·kw)",
    .shape = shape_pool_grad,
    .emit = emit_avg_pool_grad,
    .flops = flops_window_grad,
    .vjp = vjp2_avg_pool_grad,
};
const op_def op_MAX_POOL2D_GATHER = {
    .math = "y = u at the maximum of x over each window (max_pool2d's second derivative)",
    .shape = shape_pool,
    .emit = emit_max_pool_gather,
    .flops = flops_window,
};
const op_def op_MAX_POOL2D_ARGMAX = {
    .math = "t = i·W + j of the first maximum x[oy·sh-ph+i][ox·sw-pw+j] of each window, NaN "
            "winning (saved for max_pool2d's backward)",
    .shape = shape_pool,
    .emit = emit_max_pool_argmax,
    .flops = flops_argmax,
    .side_of = OP_MAX_POOL2D,
};
