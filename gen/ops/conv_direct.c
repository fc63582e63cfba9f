/* ops/conv_direct.c — conv2d_direct: a convolution (groups 1) of an x that
 * depends on no parameter (the model's images) without im2col and its
 * product, when the cost model (conv_direct_cheaper) expects it faster or
 * the spec asks (algo = "direct"): y = conv2d_direct(x, W [, b]). Its
 * backward is dW straight from x and dy (conv2d_direct_backward_weight) and
 * db (conv.c's conv2d_backward_bias); x never needs a gradient, so there
 * is no dx and no col2im.
 *
 * The forward has two kernels: trainc's (runtime/rt_conv.c: AVX2 and
 * AVX-512, accumulators in registers) for stride 1 and dilation 1 in float (the plan's KERN_GEMM,
 * "ours", as the products'), with the loops below behind it for a CPU without AVX2 (the same bits);
 * and the loops alone otherwise (double, export-c's plain C, strides,
 * dilation). The loops run over (b, oy), blocks of output channels and the
 * taps, all bounds constants, vectorised along ox; the weight gradient is
 * loops only.
 *
 * Attributes: those of im2col (window.h's geom). */
#include <stdio.h>
#include <stdlib.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"
#include "window.h"

/* whether x depends on no parameter: then it never needs a gradient */
static int free_of_params(ir_graph *g, int x)
{
    char *reach = arena_alloc(g->A, (size_t)x + 1);
    int found = 0;
    reach[x] = 1;
    for (int i = x; i >= 0 && !found; i--) {
        if (!reach[i]) continue;
        const ir_node *n = ir_get(g, i);
        if (n->kind == K_PARAM) found = 1;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && n->in[k] <= x) reach[n->in[k]] = 1;
    }
    return !found;
}

int conv_direct_possible(ir_graph *g, int x, const conv_sizes *z)
{
    long rows = (long)z->OC * z->C * z->kh * z->kw * z->OW;
    return z->groups == 1 && rows <= CONV_DIRECT_MAX_ROWS && free_of_params(g, x);
}

/* The cost model of conv_direct_cheaper: estimated nanoseconds per image of
 * a training step's forward and weight gradient (the input needs none) by
 * each kernel, from the fixed shapes (T = C·kh·kw taps, P = OH·OW pixels,
 * M = OC·T·P multiply-adds):
 *   direct = OC·T·OH · (ALPHA + BETA·⌈OW/8⌉)       the weight gradient's loops
 *          + OC·T·OH · (ALPHA + BETA·⌈OW/8⌉)       the forward's loops, or
 *          + OC·T·OH · (K_ALPHA + K_BETA·⌈OW/16⌉)  its kernel (rt_conv.c: stride
 *                                                  1; 16 lanes)
 *   im2col = GAMMA·T·P + 2·M·DELTA + EPS          the copy, the two products
 * Calibration: `conv2d(x, OC, { kernel = k, padding = p, algo = ... })` of
 * random images, then linear -> 10 and cross entropy, SGD, batch 64, 1
 * thread; CPU ms per step, min of 3-4 runs of (60 - 10) steps (the rest of
 * the step is the same for both); Xeon (Skylake-SP, AVX-512) under load
 * 10-14, OpenBLAS 0.3's SKYLAKEX kernels, the step in its x86-64-v3 clone.
 * (i): both trainers built at once and their runs alternated; the other
 * rows ran one kernel's runs after the other's, which the load skewed: a
 * first LeNet-conv1 row read 1.52 vs 1.30, alternated 1.74 vs 1.96.
 *
 *    C  k  p  OC  H -> OH   direct ms  im2col ms   model ns/image: direct  im2col
 *    1  5  0   8  28   24      1.74       1.96 (i)              56640   65360
 *                                       (the forward's kernel:) 41760
 *    1  3  1  16  28   28      3.44       3.34 (i)              54029   55626
 *    1  3  1  32  14   14      2.10       0.98 (i)              41126   26696
 *    1  5  0  16  14   10      0.90       0.32                  40800   21000
 *                                                               29000
 *    3  3  1  16  28   28      4.68       5.30 (i)             162086  162877
 *    3  5  0  32  28   24     15.90      13.56                 679680  606800
 *                                                              501120
 *    3  3  1  32  14   14      4.20       1.74                 123379   76088
 *    8  3  1  16  28   28     11.70      11.36                 432230  431005
 *    8  5  0  16  14   10      5.64       2.16                 326400  154000
 *                                                              232000
 *    8  3  1  32  14   14      9.76       3.70                 329011  199568
 *   16  3  1  16  14  14       8.54       4.96                 329011  216502
 *   16  3  1   8  28   28     11.20      21.20                 432230  498742
 *
 * The constants are the plausible ones (a grid search) that lose the least
 * measured time over these shapes: every pick is the faster kernel but
 * fashion_cnn's first layer's (1 -> 16, 28x28: a 3% tie, direct taken).
 * They rank, they do not time: rows within ~10% are ties on a loaded
 * machine. OpenBLAS's AVX-512 FMA kernels beat the direct loops (no
 * contraction: a multiply and an add per MAC, 8 wide) on short rows (14
 * and less: lanes wasted, loop overhead per row) and many MACs; the direct
 * kernel wins on 28-wide rows with few channels (LeNet's and fashion_cnn's
 * first layers) and where the col buffer is large (16 channels, OC 8).
 * Strided direct kernels read x with gaps and were not measured: auto
 * keeps them for stride 1.
 * The forward's kernel (runtime/rt_conv.c, 2026-12-06, AMD EPYC with
 * AVX-512, load 3-8): LeNet's conv1 forward, 32 images, 75 us against the
 * loops' 160 (x86-64-v3 clone), so K_ALPHA, K_BETA put it at 0.47 of the
 * loops' estimate on that shape (13440 against 28320 ns). Only the rows
 * without padding move: LeNet's stays direct, 1 -> 16 and 8 -> 16 of
 * 14x14 stay im2col (29000 against 21000, 232000 against 154000), and
 * 3 -> 32 of 28x28 (kernel 5) turns direct (501120 against 606800; the
 * loops' 15.90 ms, about half of it the forward, against 13.56: not
 * measured again). Dilation is not in conv_sizes: a dilated convolution
 * without padding is estimated as the kernel's, though the loops run it. */
#define DIRECT_ALPHA 3.5 /* ns per row loop (of the forward or dW: OC·T·OH each) */
#define DIRECT_BETA 0.8  /* ns per 8-wide multiply-add */
#define KERNEL_ALPHA 1.5 /* ns per row of the forward's kernel (OC·T·OH) */
#define KERNEL_BETA 0.65 /* ns per 16-wide multiply-add of the kernel */
#define IM2COL_GAMMA 1.2 /* ns per element of the col buffer */
#define BLAS_DELTA 0.2   /* ns per multiply-add in OpenBLAS */
#define BLAS_EPS 2000.0  /* ns per image: the calls */

/* the model's nanoseconds per image of each kernel */
void conv_estimate(const conv_sizes *z, double *direct, double *im2col)
{
    double T = (double)z->C * z->kh * z->kw, P = (double)z->OH * z->OW;
    double rows = (double)z->OC * T * z->OH, loops = DIRECT_ALPHA + DIRECT_BETA * ((z->OW + 7) / 8);
    int kernel = z->sh == 1 && z->sw == 1; /* conv_direct_kernel's case */
    *direct =
        rows * loops + rows * (kernel ? KERNEL_ALPHA + KERNEL_BETA * ((z->OW + 15) / 16) : loops);
    *im2col = IM2COL_GAMMA * T * P + 2.0 * z->OC * T * P * BLAS_DELTA + BLAS_EPS;
}

int conv_direct_cheaper(const conv_sizes *z)
{
    double direct, im2col;
    conv_estimate(z, &direct, &im2col);
    return z->sh == 1 && z->sw == 1 && direct < im2col;
}

/* conv2d_direct(x, w [, b]): the shape [B x OC x OH x OW] is given */
static int shape_conv_direct(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]), *w = ir_get(g, n->in[1]);
    geom q = window_geom(n);
    int oh, ow;
    char s1[64], s2[64];
    if (window_check_nchw(g, x, "conv2d", err, errsize) || window_out(n, x, &oh, &ow, err, errsize))
        return -1;
    if (w->rank != 4 || n->rank != 4 || w->dim[1] != x->dim[1] || w->dim[2] != q.kh ||
        w->dim[3] != q.kw || n->dim[1] != w->dim[0] || n->dim[2] != oh || n->dim[3] != ow) {
        snprintf(err, errsize, "conv2d: images %s do not fit the weight %s",
                 ir_shape_str(x, s1, sizeof s1), ir_shape_str(w, s2, sizeof s2));
        return -1;
    }
    return conv_check_bias(g, n, w, err, errsize);
}

/* Output channels computed together by the direct kernels: each load of a
 * row of x serves this many accumulators. */
static long direct_block(long OC)
{
    return OC % 4 == 0 ? 4 : OC % 2 == 0 ? 2 : 1;
}

/* Inside the loops over b and oy: the rows of x under the window of output
 * row oy. With column padding they are copied into xp [C][kh][pw + W + pw]
 * with zeros at both ends, so that the tap loops read every column without
 * a bounds test (no select in the vector loop); rows in the vertical
 * padding are skipped by direct_rows_open. */
static void direct_rows_copy(emitter *e, const ir_node *x, const geom *q)
{
    long C = e_dim(e, x, 1), H = e_dim(e, x, 2), W = e_dim(e, x, 3), WP = W + 2L * q->pw;
    if (!q->pw) return;
    /* all zero first: the compiler cannot tell that the skipped rows are
     * never read, and the copy is small next to the products */
    wr_line(e->w, "real xp[%ld][%d][%ld] = {{{0}}};", C, q->kh, WP);
    wr_line(e->w, "for (long c = 0; c < %ld; c++)", C);
    wr_line(e->w, "for (long i = 0; i < %d; i++) {", q->kh);
    wr_line(e->w, "const long iy = oy * %d - %d + i * %d;", q->sh, q->ph, q->dh);
    if (q->ph) wr_line(e->w, "if (iy < 0 || iy >= %ld) continue;", H);
    wr_line(e->w, "const real *xr = %s + ((b * %ld + c) * %ld + iy) * %ld;", e_ref(e, x->id), C, H,
            W);
    wr_line(e->w, "for (long ix = 0; ix < %ld; ix++) xp[c][i][%d + ix] = xr[ix];", W, q->pw);
    wr_line(e->w, "}");
}

/* Opens the loops over the taps' rows (c, i) of output row oy, padding
 * rows skipped: leaves in scope xr, the row under tap row i whose column
 * ox·sw + j·dw is the tap (c, i, j)'s input (in xp with column padding). */
static void direct_rows_open(emitter *e, const ir_node *x, const geom *q)
{
    long C = e_dim(e, x, 1), H = e_dim(e, x, 2), W = e_dim(e, x, 3);
    wr_line(e->w, "for (long c = 0; c < %ld; c++)", C);
    wr_line(e->w, "for (long i = 0; i < %d; i++) {", q->kh);
    if (q->ph || !q->pw)
        wr_line(e->w, "const long iy = oy * %d - %d + i * %d;", q->sh, q->ph, q->dh);
    if (q->ph) wr_line(e->w, "if (iy < 0 || iy >= %ld) continue;", H);
    if (q->pw)
        wr_line(e->w, "const real *xr = xp[c][i];");
    else
        wr_line(e->w, "const real *xr = %s + ((b * %ld + c) * %ld + iy) * %ld;", e_ref(e, x->id), C,
                H, W);
}

/* Whether runtime/rt_conv.c computes the forward (the plan's KERN_GEMM):
 * stride 1, dilation 1 (any padding); in float (e->dbl: the loops). Else
 * the loops. */
static plan_kernel conv_direct_kernel(ir_graph *g, const ir_node *n, int b)
{
    (void)g, (void)b;
    geom q = window_geom(n);
    int plain = q.sh == 1 && q.sw == 1 && q.dh == 1 && q.dw == 1;
    return plain ? KERN_GEMM : KERN_LOOP;
}

/* Whether runtime/rt_conv.c computes the weight gradient: where the
 * forward's kernel would and the output rows end in a partial vector of 8.
 * The loops run rows of whole vectors faster (LeNet's 24 columns, 32
 * images: 72 us against the kernel's 102) but GCC vectorises a row's
 * partial last vector badly (fashion_cnn's 28 columns: 250 us against
 * 118); AMD EPYC (Zen 5), quiet, 2026-12-06. */
static plan_kernel conv_direct_dw_kernel(ir_graph *g, const ir_node *n, int b)
{
    const ir_node *gy = ir_get(g, n->in[0]);
    return gy->dim[3] % 8 ? conv_direct_kernel(g, n, b) : KERN_LOOP;
}

/* the kernel's call (its sizes, x: the images) when the op has it, in an
 * if whose block the caller fills with the loops it falls back to; 0 when
 * only the loops run */
static int direct_kernel_if(emitter *e, const ir_node *n, const ir_node *x, const char *call,
                            const char *args)
{
    if (e_kernel(e, n) != KERN_GEMM || e->dbl) return 0;
    wr_line(e->w, "/* runtime/rt_conv.c's AVX2/AVX-512 kernel (accumulators in registers, the");
    wr_line(e->w, " * same bits); these loops where it declines (no AVX2, TRAINC_CONV=off) */");
    wr_line(e->w, "if (%s(%d, %d, %d, %d, %s)) {", call, e_dim(e, x, 0), e_dim(e, x, 1),
            e_dim(e, x, 2), e_dim(e, x, 3), args);
    return 1;
}

/* y[b][oc][oy] = bias + Σ over the taps (c, i, j) of w[oc][c][i][j] · the
 * tap's row of x, in the taps' order (padding contributes nothing). Per
 * image and output row, OCB output channels at a time accumulate rows in
 * acc: every bound is a constant and the inner loop runs along ox. */
static void direct_loops(emitter *e, const ir_node *n, const ir_node *x, const geom *q)
{
    const ir_node *w = ir_get(e->g, n->in[1]);
    long B = e_dim(e, n, 0), OC = n->dim[1], OH = n->dim[2], OW = n->dim[3];
    long T = (long)w->dim[1] * w->dim[2] * w->dim[3], OCB = direct_block(OC);
    const char *W = e_ref(e, n->in[1]);
    wr_line(e->w, "for (long b = 0; b < %ld; b++)", B);
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    direct_rows_copy(e, x, q);
    wr_line(e->w, "for (long o0 = 0; o0 < %ld; o0 += %ld) {", OC, OCB);
    wr_line(e->w, "real acc[%ld][%ld];", OCB, OW);
    wr_line(e->w, "for (long k = 0; k < %ld; k++)", OCB);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) acc[k][ox] = %s;", OW,
            n->nin == 3 ? e_fmt(e, "%s[o0 + k]", e_ref(e, n->in[2])) : "0");
    direct_rows_open(e, x, q);
    wr_line(e->w, "for (long j = 0; j < %d; j++)", q->kw);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) {", OCB);
    wr_line(e->w, "const real wv = %s[(o0 + k) * %ld + (c * %d + i) * %d + j];", W, T, q->kh,
            q->kw);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) acc[k][ox] += wv * xr[ox * %d + j * %d];", OW,
            q->sw, q->dw);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    /* the finished rows, through the op fused into this one (if any) */
    const char *at = e_fmt(e, "((b * %ld + o0 + k) * %ld + oy) * %ld + ox", OC, OH, OW);
    const char *also = e_store_also(e, n);
    wr_line(e->w, "for (long k = 0; k < %ld; k++)", OCB);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) {", OW);
    wr_line(e->w, "const real v = acc[k][ox];");
    if (also) wr_line(e->w, "%s[%s] = v;", also, at);
    wr_line(e->w, "%s[%s] = %s;", e_store_ref(e, n), at, e_epilogue_at(e, n, "v", "o0 + k", at));
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* conv2d_direct: the kernel, which stores the sums (into n's own buffer
 * when an op fused into n stores elsewhere), then the fused op in a pass
 * over them; or the loops, which apply it to each finished row */
static void emit_conv_direct(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]), *w = ir_get(e->g, n->in[1]);
    geom q = window_geom(n);
    long OC = n->dim[1], P = (long)n->dim[2] * n->dim[3], BOC = e_dim(e, n, 0) * OC;
    conv_sizes z = {(int)e_dim(e, x, 1), (int)OC,   q.kh, q.kw, q.sh, q.sw, q.ph, q.pw,
                    n->dim[2],           n->dim[3], 1};
    double direct, im2col;
    conv_estimate(&z, &direct, &im2col);
    wr_line(e->w,
            "/* the cost model (conv_direct.c): direct %.0f ns per image, im2col and product %.0f "
            "*/",
            direct, im2col);
    e_epilogue_begin(e, n);
    const char *also = e_store_also(e, n), *y = also ? also : e_store_ref(e, n);
    const int pass = also || e_has_epilogue(e, n);
    const char *args =
        e_fmt(e, "%ld, %d, %d, %d, %d, %s, %s, %s, %s", OC, w->dim[2], w->dim[3], q.ph, q.pw,
              e_ref(e, x->id), e_ref(e, w->id), n->nin == 3 ? e_ref(e, n->in[2]) : "NULL", y);
    if (!direct_kernel_if(e, n, x, "rt_sconv_direct", args)) {
        direct_loops(e, n, x, &q);
        return;
    }
    direct_loops(e, n, x, &q);
    if (pass) {
        wr_line(e->w, "} else {");
        /* the channel (bo mod OC) written where the fused op reads it */
        wr_line(e->w, "for (long bo = 0; bo < %ld; bo++) {", BOC);
        wr_line(e->w, "for (long p = 0; p < %ld; p++) {", P);
        wr_line(e->w, "const long at = bo * %ld + p;", P);
        wr_line(e->w, "const real v = %s[at];", y);
        wr_line(e->w, "%s[at] = %s;", e_store_ref(e, n),
                e_epilogue_at(e, n, "v", e_fmt(e, "bo %% %ld", OC), "at"));
        wr_line(e->w, "}");
        wr_line(e->w, "}");
    }
    wr_line(e->w, "}");
}

/* dW[oc][t] = Σ over b, oy, ox of dy · the tap's x: per image, the
 * products summed into rows[oc][t][lane], the pixel ox in lane ox mod 8
 * (vectorised along ox; each row of x read once per OCB output channels;
 * the accumulators fit the L1 cache: OC·T·8 values, not OC·T·OW), then
 * each summed in lanes into dW. runtime/rt_conv.c's kernel does the same
 * in registers where these loops are slow (conv_direct_dw_kernel). */
static void emit_conv_direct_grad_weight(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[0]), *x = ir_get(e->g, n->in[1]);
    geom q = window_geom(n);
    long B = e_dim(e, gy, 0), OC = gy->dim[1], OH = gy->dim[2], OW = gy->dim[3];
    long T = (long)n->dim[1] * n->dim[2] * n->dim[3], OCB = direct_block(OC), OW8 = OW / 8 * 8;
    const char *dw = e_ref(e, n->id);
    const char *args = e_fmt(e, "%ld, %d, %d, %d, %d, %s, %s, %s", OC, q.kh, q.kw, q.ph, q.pw,
                             e_ref(e, x->id), e_ref(e, gy->id), dw);
    const int kernel = direct_kernel_if(e, n, x, "rt_sconv_direct_dw", args);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", OC * T, dw);
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", B);
    wr_line(e->w, "real rows[%ld][%ld][8];", OC, T);
    wr_line(e->w, "memset(rows, 0, sizeof rows);");
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    direct_rows_copy(e, x, &q);
    wr_line(e->w, "for (long o0 = 0; o0 < %ld; o0 += %ld) {", OC, OCB);
    wr_line(e->w, "const real *gr = %s + ((b * %ld + o0) * %ld + oy) * %ld;", e_ref(e, n->in[0]),
            OC, OH, OW);
    direct_rows_open(e, x, &q);
    wr_line(e->w, "for (long j = 0; j < %d; j++)", q.kw);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) {", OCB);
    wr_line(e->w, "real *r = rows[o0 + k][(c * %d + i) * %d + j];", q.kh, q.kw);
    const char *term = e_fmt(e, "gr[k * %ld + ox] * xr[ox * %d + j * %d]", OH * OW, q.sw, q.dw);
    if (OW8)
        wr_line(e->w,
                "for (long ox0 = 0; ox0 < %ld; ox0 += 8) for (long lane = 0; lane < 8; lane++) "
                "{ const long ox = ox0 + lane; r[lane] += %s; }",
                OW8, term);
    if (OW8 < OW)
        wr_line(e->w,
                "for (long lane = 0; lane < %ld; lane++) { const long ox = %ld + lane; "
                "r[lane] += %s; }",
                OW - OW8, OW8, term);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "for (long oc = 0; oc < %ld; oc++)", OC);
    wr_line(e->w, "for (long t = 0; t < %ld; t++) {", T);
    wr_line(e->w, "const real *s_lane = rows[oc][t];");
    wr_line(e->w,
            "%s[oc * %ld + t] += ((s_lane[0] + s_lane[1]) + (s_lane[2] + s_lane[3])) + "
            "((s_lane[4] + s_lane[5]) + (s_lane[6] + s_lane[7]));",
            dw, T);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    if (kernel) wr_line(e->w, "}");
}

static void vjp_conv_direct(ad_ctx *c, const ir_node *n, int gout)
{
    ir_graph *g = c->g;
    int x = n->in[0], w = n->in[1];
    if (x < c->nforward && c->needs[x]) {
        /* conv_direct_fits chose this op only for x free of parameters */
        fprintf(stderr, "trainc: internal error: conv2d_direct's input needs a gradient\n");
        __builtin_trap();
    }
    if (w < c->nforward && c->needs[w]) {
        const ir_node *wn = ir_get(g, w);
        ir_args a = {.nin = 2, .in = {gout, x}, .rank = 4};
        for (int k = 0; k < 4; k++) a.i[k] = n->i[k], a.f[k] = n->f[k], a.dim[k] = wn->dim[k];
        ad_accum(c, w, ir_must(g, OP_CONV2D_DIRECT_GRAD_WEIGHT, &a));
    }
    if (n->nin == 3 && n->in[2] < c->nforward && c->needs[n->in[2]]) {
        ir_args b = {.nin = 1, .in = {gout}};
        ad_accum(c, n->in[2], ir_must(g, OP_CONV2D_GRAD_BIAS, &b));
    }
}

const op_def op_CONV2D_DIRECT = {
    .math = "y[b][oc] = sum over the taps of W[oc][c][i][j] · x[b][c] shifted (+ bias), no im2col",
    .shape = shape_conv_direct,
    .emit = emit_conv_direct,
    .vjp = vjp_conv_direct,
    .flops = flops_conv2d,
    .flags = OPF_EPILOGUE | OPF_FOLDS_BN,
    .kernel = conv_direct_kernel,
};
const op_def op_CONV2D_DIRECT_GRAD_WEIGHT = {
    .math = "dW[oc][c][i][j] = sum over b and the pixels of dy[b][oc] · x[b][c] shifted",
    .shape = shape_conv_grad,
    .emit = emit_conv_direct_grad_weight,
    .flops = flops_conv_grad_weight,
    .vjp = vjp2_conv_grad,
    .kernel = conv_direct_dw_kernel,
};
