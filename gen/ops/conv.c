/* ops/conv.c — 2-D convolution over NCHW tensors [B x C x H x W].
 *
 * conv2d is lowered by the spec into two ops, so that its workspace is a
 * node the arena plan covers like any activation (the step allocates
 * nothing):
 *   col = im2col(x)            [B x C·kh·kw x OH·OW], the input patches
 *   y   = conv2d(col, W [, b]) [B x OC x OH x OW], per image and group the
 *                              product W_g [OC/G x C/G·kh·kw] · col_g
 * A 1x1 convolution with stride 1 and no padding skips im2col (col is a
 * view of x). Backward: dcol = W_gᵀ · dy_g, dW_g = Σ_b dy_g · col_gᵀ, db =
 * Σ dy over rows and pixels, dx = col2im(dcol) (the patches summed back).
 * The products go to trainc's own kernels (runtime/rt_gemm.c) or
 * cblas_?gemm when large, by the cost model of conv_product.c, and to
 * constant-bound loops (vectorised along the pixels) when small.
 *
 * A convolution (groups 1) of an x that depends on no parameter (the
 * model's images) may skip both: conv2d_direct, in ops/conv_direct.c.
 *
 * Measured and rejected (LeNet and fashion_cnn, OpenBLAS 0.3 SkylakeX, see
 * git history of branch convfast): one product for the whole batch (col
 * [CK x B x P], W·col [OC x B x P], then a copy back to NCHW) was 35% slower
 * at 1 thread and slower at 2: per image the products are small enough for
 * OpenBLAS's small-matrix kernels, which skip the packing the large product
 * pays (sgemm_itcopy/incopy ~19% of the step), and the copies add two passes.
 * Splitting the padded rows of im2col/col2im into a branch-free valid range
 * cost more instructions than the constant-bound select loop it replaced.
 * With stride 1 and "same" widths they run a tap's rows as one flat run
 * instead (flat_taps): fashion_cnn's conv2 (14 columns) im2col 226 -> 173
 * us a step, col2im 237 -> 187 (1 thread, AMD EPYC Zen 5), the same bits.
 *
 * Pooling is in ops/pool.c; the window helpers both use are in window.h,
 * with what conv_direct.c shares of this file.
 *
 * Attributes of im2col and col2im: i = {kh, kw, sh, sw}, f = {ph, pw, dh,
 * dw}. Of conv2d and its backward ops: i[0] = groups. */
#include <stdio.h>
#include <stdlib.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"
#include "window.h"

geom window_geom(const ir_node *n)
{
    return (geom){n->i[0],      n->i[1],      n->i[2],      n->i[3],
                  (int)n->f[0], (int)n->f[1], (int)n->f[2], (int)n->f[3]};
}

/* output size of a window sweep along one axis (floor, as PyTorch) */
int conv_out_size(int in, int k, int s, int p, int d)
{
    long span = (long)d * (k - 1) + 1;
    if (in + 2L * p < span || s <= 0) return 0;
    return (int)((in + 2L * p - span) / s + 1);
}

int window_check_nchw(ir_graph *g, const ir_node *x, const char *what, char *err, size_t errsize)
{
    (void)g;
    if (x->rank == 4 && x->dim[0] == IR_BATCH && x->dim[1] > 0 && x->dim[2] > 0 && x->dim[3] > 0)
        return 0;
    char s[64];
    snprintf(err, errsize, "%s needs images [B x C x H x W], got %s", what,
             ir_shape_str(x, s, sizeof s));
    return -1;
}

int window_out(const ir_node *n, const ir_node *x, int *oh, int *ow, char *err, size_t errsize)
{
    geom q = window_geom(n);
    *oh = conv_out_size(x->dim[2], q.kh, q.sh, q.ph, q.dh);
    *ow = conv_out_size(x->dim[3], q.kw, q.sw, q.pw, q.dw);
    if (*oh > 0 && *ow > 0) return 0;
    snprintf(err, errsize, "window %dx%d (dilation %dx%d) is larger than the padded input %dx%d",
             q.kh, q.kw, q.dh, q.dw, x->dim[2] + 2 * q.ph, x->dim[3] + 2 * q.pw);
    return -1;
}

/* ---- im2col and col2im ---- */

static int shape_im2col(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    int oh, ow;
    if (window_check_nchw(g, x, "im2col", err, errsize) || window_out(n, x, &oh, &ow, err, errsize))
        return -1;
    geom q = window_geom(n);
    n->rank = 3;
    n->dim[0] = IR_BATCH;
    n->dim[1] = x->dim[1] * q.kh * q.kw;
    n->dim[2] = oh * ow;
    return 0;
}

/* col2im: the shape (x's) is given; it must be the one im2col came from */
static int shape_col2im(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *d = ir_get(g, n->in[0]);
    int oh, ow;
    if (window_check_nchw(g, n, "col2im", err, errsize) || window_out(n, n, &oh, &ow, err, errsize))
        return -1;
    geom q = window_geom(n);
    if (d->rank != 3 || d->dim[1] != n->dim[1] * q.kh * q.kw || d->dim[2] != oh * ow) {
        char s[64];
        snprintf(err, errsize, "col2im: %s are not the patches of this image",
                 ir_shape_str(d, s, sizeof s));
        return -1;
    }
    return 0;
}

/* Opens the loop over the channels bc of the images of img: all of them,
 * or with `image` (an expression) that image's alone */
static void channel_loop_open(emitter *e, const ir_node *img, const char *image)
{
    const long C = e_dim(e, img, 1);
    if (image)
        wr_line(e->w, "for (long bc = %s * %ld; bc < (%s + 1) * %ld; bc++) {", image, C, image, C);
    else
        wr_line(e->w, "for (long bc = 0; bc < %ld; bc++) {", (long)e_dim(e, img, 0) * C);
}

/* The loops over every patch element of an image batch (of one image
 * with `image`, channel_loop_open's): opens the loops and leaves in scope
 * b, c, i, j, oy, ox, the pointers xc (image b, channel c), colr (col row
 * of c, i, j) and iy, ix; the body is the caller's. */
static void patch_loops_open(emitter *e, const ir_node *img, const geom *q, const char *xname,
                             const char *colname, int is_const, const char *image)
{
    long H = e_dim(e, img, 2), W = e_dim(e, img, 3);
    long OH = conv_out_size((int)H, q->kh, q->sh, q->ph, q->dh);
    long OW = conv_out_size((int)W, q->kw, q->sw, q->pw, q->dw);
    long K = (long)q->kh * q->kw;
    channel_loop_open(e, img, image);
    wr_line(e->w, "%sreal *xc = %s + bc * %ld;", is_const ? "const " : "", xname, H * W);
    wr_line(e->w, "for (long i = 0; i < %d; i++) {", q->kh);
    wr_line(e->w, "for (long j = 0; j < %d; j++) {", q->kw);
    wr_line(e->w, "%sreal *colr = %s + (bc * %ld + i * %d + j) * %ld;", is_const ? "" : "const ",
            colname, K, q->kw, OH * OW);
    if (q->pw) {
        /* the columns ox in [lo, hi) read inside the row: the loops along ox
         * need no bounds test (a select or branch per element otherwise) */
        wr_line(e->w, "long lo = 0, hi = %ld;", OW);
        wr_line(e->w, "while (lo < hi && lo * %d - %d + j * %d < 0) lo++;", q->sw, q->pw, q->dw);
        wr_line(e->w, "while (hi > lo && (hi - 1) * %d - %d + j * %d >= %ld) hi--;", q->sw, q->pw,
                q->dw, W);
    }
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    wr_line(e->w, "const long iy = oy * %d - %d + i * %d;", q->sh, q->ph, q->dh);
    if (q->ph) wr_line(e->w, "if (iy < 0 || iy >= %ld) {", H);
}

/* With stride 1 and the rows as wide as the image's (OW == W: "same"
 * padding), a tap's patch row is its channel of the image shifted by one
 * offset: patch element k = oy·OW + ox reads image element k + off. So the
 * rows of a tap inside the image are one flat run [k0, k1) of the plane,
 * a loop long enough to vectorise, where the rows one at a time (fashion_cnn's
 * conv2: 13 or 14 columns) spend their time in a vector's scalar tail:
 * the run's columns outside the image (ox < lo or >= hi, one per row with
 * a 3x3 kernel) are the neighbouring row's pixels, which the caller
 * handles. */
static int flat_taps(const geom *q, long W, long OW)
{
    return q->sh == 1 && q->sw == 1 && OW == W;
}

/* Opens flat_taps' loops over (bc, i, j) (of one image with `image`) and
 * leaves in scope xc, colr, oy0, oy1 (the rows inside), lo, hi, off, k0
 * and k1 */
static void flat_taps_open(emitter *e, const ir_node *img, const geom *q, const char *xname,
                           const char *colname, int is_im2col, const char *image)
{
    long H = e_dim(e, img, 2), W = e_dim(e, img, 3);
    long OH = conv_out_size((int)H, q->kh, q->sh, q->ph, q->dh);
    wr_line(e->w, "/* stride 1, rows as wide as the image's: a tap's rows inside the image are");
    wr_line(e->w, " * one flat run [k0, k1) of its patch row, image element k + off */");
    channel_loop_open(e, img, image);
    wr_line(e->w, "%sreal *xc = %s + bc * %ld;", is_im2col ? "const " : "", xname, H * W);
    wr_line(e->w, "for (long i = 0; i < %d; i++) {", q->kh);
    const char *id = q->dh == 1 ? "i" : e_fmt(e, "i * %d", q->dh);
    const char *jd = q->dw == 1 ? "j" : e_fmt(e, "j * %d", q->dw);
    /* rows oy whose iy = oy - ph + i·dh is inside, columns ox whose ix is */
    wr_line(e->w, "const long oy0 = %s < %d ? %d - %s : 0;", id, q->ph, q->ph, id);
    wr_line(e->w, "const long oy1 = %ld - %s < %ld ? %ld - %s : %ld;", H + q->ph, id, OH, H + q->ph,
            id, OH);
    wr_line(e->w, "for (long j = 0; j < %d; j++) {", q->kw);
    wr_line(e->w, "real *colr = %s + (bc * %d + i * %d + j) * %ld;", colname, q->kh * q->kw, q->kw,
            OH * W);
    wr_line(e->w, "const long lo = %s < %d ? %d - %s : 0;", jd, q->pw, q->pw, jd);
    wr_line(e->w, "const long hi = %ld - %s < %ld ? %ld - %s : %ld;", W + q->pw, jd, W, W + q->pw,
            jd, W);
    wr_line(e->w, "const long off = (%s - %d) * %ld + %s - %d;", id, q->ph, W, jd, q->pw);
    wr_line(e->w, "const long k0 = oy0 * %ld + lo;", W);
    wr_line(e->w, "const long k1 = oy0 < oy1 && lo < hi ? (oy1 - 1) * %ld + hi : k0;", W);
}

/* the patch elements of the rows inside the image whose columns are
 * outside it (ox < lo or >= hi), set to 0 */
static void flat_taps_zero_edges(emitter *e, long W)
{
    wr_line(e->w, "for (long oy = oy0; oy < oy1; oy++) {");
    wr_line(e->w, "for (long ox = 0; ox < lo; ox++) colr[oy * %ld + ox] = 0;", W);
    wr_line(e->w, "for (long ox = hi; ox < %ld; ox++) colr[oy * %ld + ox] = 0;", W, W);
    wr_line(e->w, "}");
}

/* im2col as flat runs (flat_taps): the run copied, then the patch elements
 * outside the image set to 0: those before and after it, and each row's
 * columns outside [lo, hi) */
static void emit_im2col_flat(emitter *e, const ir_node *n, const ir_node *x, const geom *q)
{
    long W = e_dim(e, x, 3), P = (long)e_dim(e, n, 2);
    flat_taps_open(e, x, q, e_ref(e, x->id), e_ref(e, n->id), 1, NULL);
    wr_line(e->w, "for (long k = 0; k < k0; k++) colr[k] = 0;");
    wr_line(e->w, "for (long k = k0; k < k1; k++) colr[k] = xc[k + off];");
    wr_line(e->w, "for (long k = k1; k < %ld; k++) colr[k] = 0;", P);
    flat_taps_zero_edges(e, W);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

static void emit_im2col(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    geom q = window_geom(n);
    long H = e_dim(e, x, 2), W = e_dim(e, x, 3);
    long OW = conv_out_size((int)W, q.kw, q.sw, q.pw, q.dw);
    (void)H;
    if (flat_taps(&q, W, OW)) {
        emit_im2col_flat(e, n, x, &q);
        return;
    }
    patch_loops_open(e, x, &q, e_ref(e, n->in[0]), e_ref(e, n->id), 1, NULL);
    if (q.ph) {
        wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) colr[oy * %ld + ox] = 0;", OW, OW);
        wr_line(e->w, "continue;");
        wr_line(e->w, "}");
    }
    wr_line(e->w, "const real *xr = xc + iy * %ld;", W);
    if (q.pw) {
        wr_line(e->w, "for (long ox = 0; ox < lo; ox++) colr[oy * %ld + ox] = 0;", OW);
        wr_line(
            e->w,
            "for (long ox = lo; ox < hi; ox++) colr[oy * %ld + ox] = xr[ox * %d - %d + j * %d];",
            OW, q.sw, q.pw, q.dw);
        wr_line(e->w, "for (long ox = hi; ox < %ld; ox++) colr[oy * %ld + ox] = 0;", OW, OW);
    } else {
        wr_line(e->w,
                "for (long ox = 0; ox < %ld; ox++) colr[oy * %ld + ox] = xr[ox * %d + j * %d];", OW,
                OW, q.sw, q.dw);
    }
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* col2im as flat runs (flat_taps), when it is its patches' only reader: it
 * sets their elements outside the image (gradients nothing uses) to 0
 * where they are, so that the run adds 0 to the neighbouring rows' pixels
 * it passes over. A pixel of dx is never -0 (a sum from +0), so x + 0 is
 * x: the loops' bits. */
static void emit_col2im_flat(emitter *e, const ir_node *n, const geom *q, const char *image)
{
    long W = e_dim(e, n, 3);
    wr_line(e->w, "/* this op alone reads the patches: those outside the image (gradients that");
    wr_line(e->w, " * nothing uses) become 0, and the run adds 0 where it passes a row's end */");
    flat_taps_open(e, n, q, e_ref(e, n->id), e_ref(e, n->in[0]), 0, image);
    flat_taps_zero_edges(e, W);
    wr_line(e->w, "for (long k = k0; k < k1; k++) xc[k + off] += colr[k];");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* col2im's loops of every image, or with `image` (an expression) of that
 * image alone: its channels zeroed, then the patches added tap by tap */
static void emit_col2im_loops(emitter *e, const ir_node *n, const geom *qp, const char *image)
{
    const geom q = *qp;
    long W = e_dim(e, n, 3);
    long OW = conv_out_size((int)W, q.kw, q.sw, q.pw, q.dw);
    if (image) {
        const long per = e_numel(e, n) / e_dim(e, n, 0);
        wr_line(e->w, "for (long k = %s * %ld; k < (%s + 1) * %ld; k++) %s[k] = 0;", image, per,
                image, per, e_ref(e, n->id));
    } else {
        wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", e_numel(e, n), e_ref(e, n->id));
    }
    if (flat_taps(&q, W, OW) && ir_sole_reader(e->g, n->in[0], n->id)) {
        emit_col2im_flat(e, n, &q, image);
        return;
    }
    patch_loops_open(e, n, &q, e_ref(e, n->id), e_ref(e, n->in[0]), 0, image);
    if (q.ph) {
        wr_line(e->w, "continue;");
        wr_line(e->w, "}");
    }
    wr_line(e->w, "real *xr = xc + iy * %ld;", W);
    wr_line(e->w,
            "for (long ox = %s; ox < %s; ox++) xr[ox * %d - %d + j * %d] += colr[oy * %ld + ox];",
            q.pw ? "lo" : "0", q.pw ? "hi" : e_fmt(e, "%ld", OW), q.sw, q.pw, q.dw, OW);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* opens `if (call) {` where runtime/rt_col2im.c's kernel takes col2im
 * (float, stride 1, not the plain variant): the loops go inside. Its
 * channels: all the images', or the one image's (the fused form) */
static int col2im_kernel_call(emitter *e, const ir_node *n, const geom *q, const char *image)
{
    if (e->dbl || e->pv->plain || q->sh != 1 || q->sw != 1) return 0;
    const long C = e_dim(e, n, 1), H = e_dim(e, n, 2), W = e_dim(e, n, 3);
    const long per_col = C * q->kh * q->kw * conv_out_size((int)H, q->kh, 1, q->ph, q->dh) *
                         conv_out_size((int)W, q->kw, 1, q->pw, q->dw);
    const char *col = e_ref(e, n->in[0]), *dx = e_ref(e, n->id);
    wr_line(e->w, "/* runtime/rt_col2im.c's kernel: each row of dx summed in a register over");
    wr_line(e->w,
            " * the taps, in the loops' order (the same bits); the loops where it declines */");
    wr_line(e->w, "if (rt_col2im_s1(%ld, %ld, %ld, %d, %d, %d, %d, %d, %d, %s, %s)) {",
            image ? C : (long)e_dim(e, n, 0) * C, H, W, q->kh, q->kw, q->ph, q->pw, q->dh, q->dw,
            image ? e_fmt(e, "%s + %s * %ld", col, image, per_col) : col,
            image ? e_fmt(e, "%s + %s * %ld", dx, image, C * H * W) : dx);
    return 1;
}

/* col2im of every image or of `image`: the kernel, or the loops */
static void emit_col2im_images(emitter *e, const ir_node *n, const char *image)
{
    geom q = window_geom(n);
    const int kernel = col2im_kernel_call(e, n, &q, image);
    emit_col2im_loops(e, n, &q, image);
    if (kernel) wr_line(e->w, "}");
}

static void emit_col2im(emitter *e, const ir_node *n)
{
    emit_col2im_images(e, n, NULL);
}

int window_node(ir_graph *g, ir_op op, const ir_node *n, int nin, const int *in,
                const ir_node *like)
{
    ir_args a = {.nin = nin, .rank = like->rank};
    for (int k = 0; k < nin; k++) a.in[k] = in[k];
    for (int k = 0; k < 4; k++) a.i[k] = n->i[k], a.f[k] = n->f[k];
    for (int k = 0; k < like->rank; k++) a.dim[k] = like->dim[k];
    return ir_must(g, op, &a);
}

static void vjp_im2col(ad_ctx *c, const ir_node *n, int gout)
{
    int x = n->in[0];
    if (x >= c->nforward || !c->needs[x]) return;
    ad_accum(c, x, window_node(c->g, OP_COL2IM, n, 1, &gout, ir_get(c->g, x)));
}

/* ---- conv2d: per image and group, y_g = W_g · col_g (+ b) ---- */

typedef struct gemm_dims {
    long B, G, OC, OCg, CK, CKg, P; /* P: output pixels per channel */
} gemm_dims;

/* from the output (or its gradient) and the weight */
static gemm_dims dims_of(emitter *e, const ir_node *y, const ir_node *w, int groups)
{
    gemm_dims d;
    d.B = e_dim(e, y, 0);
    d.G = groups;
    d.OC = w->dim[0];
    d.OCg = d.OC / d.G;
    d.CKg = (long)w->dim[1] * w->dim[2] * w->dim[3];
    d.CK = d.CKg * d.G;
    d.P = (long)e_dim(e, y, 2) * e_dim(e, y, 3);
    return d;
}

/* conv2d(col, w [, b]): the shape [B x OC x OH x OW] is given */

/* an optional bias (input 2): one value per output channel of the weight w */
int conv_check_bias(ir_graph *g, const ir_node *n, const ir_node *w, char *err, size_t errsize)
{
    if (n->nin < 3) return 0;
    const ir_node *b = ir_get(g, n->in[2]);
    char s1[64];
    if (b->rank != 1 || b->dim[0] != w->dim[0]) {
        snprintf(err, errsize, "conv2d: bias %s for %d output channels",
                 ir_shape_str(b, s1, sizeof s1), w->dim[0]);
        return -1;
    }
    return 0;
}

static int shape_conv2d(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *col = ir_get(g, n->in[0]), *w = ir_get(g, n->in[1]);
    int G = n->i[0];
    char s1[64], s2[64];
    if (w->rank != 4 || col->rank != 3 || n->rank != 4 || G < 1 || w->dim[0] % G ||
        col->dim[1] != (long)G * w->dim[1] * w->dim[2] * w->dim[3] || n->dim[1] != w->dim[0] ||
        col->dim[2] != n->dim[2] * n->dim[3] || col->dim[0] != n->dim[0]) {
        snprintf(err, errsize, "conv2d: patches %s do not fit the weight %s in %d groups",
                 ir_shape_str(col, s1, sizeof s1), ir_shape_str(w, s2, sizeof s2), G);
        return -1;
    }
    return conv_check_bias(g, n, w, err, errsize);
}

/* the backward ops' shapes are given (col's, w's) */
int shape_conv_grad(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    (void)g, (void)err, (void)errsize;
    return n->rank > 0 ? 0 : -1;
}

static int shape_conv_bias_grad(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *gy = ir_get(g, n->in[0]);
    if (window_check_nchw(g, gy, "conv2d bias gradient", err, errsize)) return -1;
    n->rank = 1;
    n->dim[0] = gy->dim[1];
    return 0;
}

static void emit_conv2d(emitter *e, const ir_node *n)
{
    const ir_node *w = ir_get(e->g, n->in[1]);
    gemm_dims d = dims_of(e, n, w, n->i[0]);
    const char *y = e_store_ref(e, n), *col = e_ref(e, n->in[0]), *W = e_ref(e, n->in[1]);
    const char *bias = n->nin == 3 ? e_ref(e, n->in[2]) : NULL;
    /* a fused op (activation, folded batch norm) is applied to each value once
     * it is complete: per image after the product, per row in the loops */
    const char *epi =
        e_epilogue_at(e, n, "v", "oc", e_fmt(e, "b * %ld + oc * %ld + p", d.OC * d.P, d.P));
    /* ours stores the product: the bias is added with the fused op after it */
    const int ours = e_kernel(e, n) == KERN_GEMM, bias_after = ours && bias;
    conv_emit_product_note(e, n);
    e_epilogue_begin(e, n);
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", d.B);
    wr_line(e->w, "real *yb = %s + b * %ld;", y, d.OC * d.P);
    wr_line(e->w, "const real *colb = %s + b * %ld;", col, d.CK * d.P);
    if (bias && !ours)
        wr_line(e->w,
                "for (long oc = 0; oc < %ld; oc++) for (long p = 0; p < %ld; p++) "
                "yb[oc * %ld + p] = %s[oc];",
                d.OC, d.P, d.P, bias);
    if (e_kernel(e, n) != KERN_LOOP) {
        if (!bias && !ours) wr_line(e->w, "for (long k = 0; k < %ld; k++) yb[k] = 0;", d.OC * d.P);
        wr_line(e->w, "for (long g = 0; g < %ld; g++) {", d.G);
        conv_emit_product(e, n, e_fmt(e, "%s + g * %ld", W, d.OCg * d.CKg),
                          e_fmt(e, "colb + g * %ld", d.CKg * d.P),
                          e_fmt(e, "yb + g * %ld", d.OCg * d.P), !ours);
        wr_line(e->w, "}");
        if (e_has_epilogue(e, n) || bias_after)
            wr_line(e->w,
                    "for (long oc = 0; oc < %ld; oc++) for (long p = 0; p < %ld; p++) "
                    "{ const real v = yb[oc * %ld + p]%s; yb[oc * %ld + p] = %s; }",
                    d.OC, d.P, d.P, bias_after ? e_fmt(e, " + %s[oc]", bias) : "", d.P, epi);
    } else {
        /* the pixels are the inner loop: contiguous in col and y */
        wr_line(e->w, "for (long oc = 0; oc < %ld; oc++) {", d.OC);
        wr_line(e->w, "real *yr = yb + oc * %ld;", d.P);
        if (!bias) wr_line(e->w, "for (long p = 0; p < %ld; p++) yr[p] = 0;", d.P);
        wr_line(e->w, "const real *cg = colb + oc / %ld * %ld;", d.OCg, d.CKg * d.P);
        wr_line(e->w, "for (long k = 0; k < %ld; k++) {", d.CKg);
        wr_line(e->w, "const real wv = %s[oc * %ld + k];", W, d.CKg);
        wr_line(e->w, "for (long p = 0; p < %ld; p++) yr[p] += wv * cg[k * %ld + p];", d.P, d.P);
        wr_line(e->w, "}");
        if (e_has_epilogue(e, n))
            wr_line(e->w, "for (long p = 0; p < %ld; p++) { const real v = yr[p]; yr[p] = %s; }",
                    d.P, epi);
        wr_line(e->w, "}");
    }
    wr_line(e->w, "}");
}

/* dcol_g = W_gᵀ · dy_g, per image: conv2d_backward_input(dy, w) */
static void emit_conv_grad_col(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[0]), *w = ir_get(e->g, n->in[1]);
    gemm_dims d = dims_of(e, gy, w, n->i[0]);
    const char *dcol = e_ref(e, n->id), *dy = e_ref(e, n->in[0]), *W = e_ref(e, n->in[1]);
    conv_emit_product_note(e, n);
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", d.B);
    wr_line(e->w, "const real *gb = %s + b * %ld;", dy, d.OC * d.P);
    wr_line(e->w, "real *db = %s + b * %ld;", dcol, d.CK * d.P);
    if (e_kernel(e, n) != KERN_LOOP) {
        wr_line(e->w, "for (long g = 0; g < %ld; g++) {", d.G);
        conv_emit_product(e, n, e_fmt(e, "%s + g * %ld", W, d.OCg * d.CKg),
                          e_fmt(e, "gb + g * %ld", d.OCg * d.P),
                          e_fmt(e, "db + g * %ld", d.CKg * d.P), 0);
        wr_line(e->w, "}");
    } else {
        wr_line(e->w, "for (long k = 0; k < %ld; k++) db[k] = 0;", d.CK * d.P);
        wr_line(e->w, "for (long oc = 0; oc < %ld; oc++) {", d.OC);
        wr_line(e->w, "const real *gr = gb + oc * %ld;", d.P);
        wr_line(e->w, "real *dg = db + oc / %ld * %ld;", d.OCg, d.CKg * d.P);
        wr_line(e->w, "for (long k = 0; k < %ld; k++) {", d.CKg);
        wr_line(e->w, "const real wv = %s[oc * %ld + k];", W, d.CKg);
        wr_line(e->w, "for (long p = 0; p < %ld; p++) dg[k * %ld + p] += wv * gr[p];", d.P, d.P);
        wr_line(e->w, "}");
        wr_line(e->w, "}");
    }
    const int t = e->pv->side[n->id];
    if (t >= 0) {
        wr_line(e->w, "/* %s = col2im of this image's patches, while they are in cache (fused:",
                e_ref(e, t));
        wr_line(e->w, " * the op alone reads them; gen/plan.c, fuse_col2im) */");
        emit_col2im_images(e, ir_get(e->g, t), "b");
    }
    wr_line(e->w, "}");
}

/* dW_g = Σ_b dy_g · col_gᵀ: conv2d_backward_weight(dy, col) */
static void emit_conv_grad_weight(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[0]);
    gemm_dims d = dims_of(e, gy, n, n->i[0]);
    const char *dw = e_ref(e, n->id), *dy = e_ref(e, n->in[0]), *col = e_ref(e, n->in[1]);
    conv_emit_product_note(e, n);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", d.OC * d.CKg, dw);
    if (e_kernel(e, n) != KERN_LOOP) {
        conv_emit_weight_products(e, n, d.B, dy, col, dw);
        return;
    }
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", d.B);
    wr_line(e->w, "const real *gb = %s + b * %ld;", dy, d.OC * d.P);
    wr_line(e->w, "const real *colb = %s + b * %ld;", col, d.CK * d.P);
    wr_line(e->w, "for (long oc = 0; oc < %ld; oc++) {", d.OC);
    wr_line(e->w, "const real *gr = gb + oc * %ld;", d.P);
    wr_line(e->w, "const real *cg = colb + oc / %ld * %ld;", d.OCg, d.CKg * d.P);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) {", d.CKg);
    e_lane_sum(e, "real", "s", "p", e_fmt(e, "gr[p] * cg[k * %ld + p]", d.P), d.P);
    wr_line(e->w, "%s[oc * %ld + k] += s;", dw, d.CKg);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* db[oc] = Σ over images and pixels of dy */
static void emit_conv_bias_grad(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[0]);
    long B = e_dim(e, gy, 0), OC = e_dim(e, gy, 1), P = (long)e_dim(e, gy, 2) * e_dim(e, gy, 3);
    const char *db = e_ref(e, n->id), *dy = e_ref(e, n->in[0]);
    wr_line(e->w, "for (long oc = 0; oc < %ld; oc++) {", OC);
    wr_line(e->w, "real sum = 0;");
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", B);
    wr_line(e->w, "const real *gr = %s + (b * %ld + oc) * %ld;", dy, OC, P);
    e_lane_sum(e, "real", "s", "p", "gr[p]", P);
    wr_line(e->w, "sum += s;");
    wr_line(e->w, "}");
    wr_line(e->w, "%s[oc] = sum;", db);
    wr_line(e->w, "}");
}

static void vjp_conv2d(ad_ctx *c, const ir_node *n, int gout)
{
    ir_graph *g = c->g;
    int col = n->in[0], w = n->in[1];
    ir_args a = {.nin = 2, .i = {n->i[0]}};
    if (col < c->nforward && c->needs[col]) {
        const ir_node *cn = ir_get(g, col);
        a.in[0] = gout, a.in[1] = w, a.rank = cn->rank;
        for (int k = 0; k < cn->rank; k++) a.dim[k] = cn->dim[k];
        ad_accum(c, col, ir_must(g, OP_CONV2D_GRAD_INPUT, &a));
    }
    if (w < c->nforward && c->needs[w]) {
        const ir_node *wn = ir_get(g, w);
        a.in[0] = gout, a.in[1] = col, a.rank = 4;
        for (int k = 0; k < 4; k++) a.dim[k] = wn->dim[k];
        ad_accum(c, w, ir_must(g, OP_CONV2D_GRAD_WEIGHT, &a));
    }
    if (n->nin == 3 && n->in[2] < c->nforward && c->needs[n->in[2]]) {
        ir_args b = {.nin = 1, .in = {gout}};
        ad_accum(c, n->in[2], ir_must(g, OP_CONV2D_GRAD_BIAS, &b));
    }
}

double flops_conv2d(ir_graph *g, const ir_node *n, int b)
{
    const ir_node *w = ir_get(g, n->in[1]);
    double per = 2.0 * w->dim[0] * w->dim[1] * w->dim[2] * w->dim[3] * n->dim[2] * n->dim[3];
    return per * b + (n->nin == 3 ? (double)ir_numel(n, b) : 0);
}

static double flops_conv_grad_input(ir_graph *g, const ir_node *n, int b)
{
    const ir_node *gy = ir_get(g, n->in[0]), *w = ir_get(g, n->in[1]);
    return 2.0 * w->dim[0] * w->dim[1] * w->dim[2] * w->dim[3] * gy->dim[2] * gy->dim[3] * b;
}

double flops_conv_grad_weight(ir_graph *g, const ir_node *n, int b)
{
    const ir_node *gy = ir_get(g, n->in[0]);
    return 2.0 * n->dim[0] * n->dim[1] * n->dim[2] * n->dim[3] * gy->dim[2] * gy->dim[3] * b;
}

/* ---- second derivatives (Hessian-vector products, gen/hvp.c): the
 * backward ops are linear in dy and in the weight or patches, so each
 * input's adjoint is another op of the family: with U the adjoint of
 *   col2im(g):                  dg = im2col(U)
 *   grad_input(gy, w) = wᵀ gy:  dgy = conv2d(U, w), dw = grad_weight(gy, U)
 *   grad_weight(gy, col):       dgy = conv2d(col, U), dcol = grad_input(gy, U)
 *   grad_bias(gy):              dgy = U per channel, repeated ---- */

/* op(a, b) with n's attributes, shaped as like */
static int conv_like(ad_ctx *c, ir_op op, int a, int b, const ir_node *n, int like)
{
    const ir_node *l = ir_get(c->g, like);
    ir_args x = {.nin = 2, .in = {a, b}, .rank = l->rank};
    for (int k = 0; k < 4; k++) x.i[k] = n->i[k], x.f[k] = n->f[k], x.dim[k] = l->dim[k];
    return ir_must(c->g, op, &x);
}

static int wants(ad_ctx *c, int x)
{
    return x < c->nforward && c->needs[x];
}

static void vjp2_col2im(ad_ctx *c, const ir_node *n, int u)
{
    if (wants(c, n->in[0]))
        ad_accum(c, n->in[0], window_node(c->g, OP_IM2COL, n, 1, &u, ir_get(c->g, n->in[0])));
}

void vjp2_conv_grad(ad_ctx *c, const ir_node *n, int u)
{
    int gy = n->in[0], b = n->in[1];
    ir_op fwd = n->op == OP_CONV2D_DIRECT_GRAD_WEIGHT ? OP_CONV2D_DIRECT : OP_CONV2D;
    if (n->op == OP_CONV2D_GRAD_INPUT) { /* b: the weight */
        if (wants(c, gy)) ad_accum(c, gy, conv_like(c, OP_CONV2D, u, b, n, gy));
        if (wants(c, b)) ad_accum(c, b, conv_like(c, OP_CONV2D_GRAD_WEIGHT, gy, u, n, b));
        return;
    }
    /* b: the patches (conv2d_direct: the images, free of parameters) */
    if (wants(c, gy)) ad_accum(c, gy, conv_like(c, fwd, b, u, n, gy));
    if (wants(c, b)) ad_accum(c, b, conv_like(c, OP_CONV2D_GRAD_INPUT, gy, u, n, b));
}

static void vjp2_conv_grad_bias(ad_ctx *c, const ir_node *n, int u)
{
    int gy = n->in[0];
    if (!wants(c, gy)) return;
    const ir_node *u_n = ir_get(c->g, u);
    ir_args r = {.nin = 1, .in = {u}, .rank = 3, .dim = {u_n->dim[0], 1, 1}};
    int per_channel = ir_must(c->g, OP_RESHAPE, &r);
    ad_accum(c, gy, ir_shaped(c->g, OP_EXPAND, per_channel, ir_get(c->g, gy), 0));
}

const op_def op_IM2COL = {
    .math = "col[b][(c·kh+i)·kw+j][oy·OW+ox] = x[b][c][oy·sh-ph+i·dh][ox·sw-pw+j·dw] (0 in the "
            "padding)",
    .shape = shape_im2col,
    .emit = emit_im2col,
    .vjp = vjp_im2col,
    .flops = flops_none,
};
const op_def op_COL2IM = {
    .math = "dx = the patches of dcol summed back into the image (im2col's adjoint)",
    .shape = shape_col2im,
    .emit = emit_col2im,
    .flops = flops_in0,
    .vjp = vjp2_col2im,
};
const op_def op_CONV2D = {
    .math = "y[b][g] = W_g · col[b][g] (+ bias), g over the groups",
    .shape = shape_conv2d,
    .emit = emit_conv2d,
    .vjp = vjp_conv2d,
    .flops = flops_conv2d,
    .flags = OPF_EPILOGUE | OPF_FOLDS_BN,
    .kernel = conv_product_kernel,
};
const op_def op_CONV2D_GRAD_INPUT = {
    .math = "dcol[b][g] = W_gᵀ · dy[b][g]",
    .shape = shape_conv_grad,
    .emit = emit_conv_grad_col,
    .flops = flops_conv_grad_input,
    .kernel = conv_product_kernel,
    .vjp = vjp2_conv_grad,
};
const op_def op_CONV2D_GRAD_WEIGHT = {
    .math = "dW_g = sum over b of dy[b][g] · col[b][g]ᵀ",
    .shape = shape_conv_grad,
    .emit = emit_conv_grad_weight,
    .flops = flops_conv_grad_weight,
    .kernel = conv_product_kernel,
    .vjp = vjp2_conv_grad,
};
const op_def op_CONV2D_GRAD_BIAS = {
    .math = "db[oc] = sum of dy[b][oc] over b and the pixels",
    .shape = shape_conv_bias_grad,
    .emit = emit_conv_bias_grad,
    .flops = flops_in0,
    .vjp = vjp2_conv_grad_bias,
};
