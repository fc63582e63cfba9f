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
 * model's images) skips both when the cost model (conv_direct_cheaper)
 * expects it faster or the spec asks (algo = "direct"): the spec makes y =
 * conv2d_direct(x, W [, b]), whose loops run over (b, oy), blocks of output
 * channels and the taps, all bounds constants, vectorised along ox; its backward is
 * dW straight from x and dy (conv2d_direct_backward_weight) and db; x never
 * needs a gradient, so there is no dx and no col2im.
 *
 * Measured and rejected (LeNet and fashion_cnn, OpenBLAS 0.3 SkylakeX, see
 * git history of branch convfast): one product for the whole batch (col
 * [CK x B x P], W·col [OC x B x P], then a copy back to NCHW) was 35% slower
 * at 1 thread and slower at 2: per image the products are small enough for
 * OpenBLAS's small-matrix kernels, which skip the packing the large product
 * pays (sgemm_itcopy/incopy ~19% of the step), and the copies add two passes.
 * Splitting the padded rows of im2col/col2im into a branch-free valid range
 * cost more instructions than the constant-bound select loop it replaced.
 *
 * Pooling is in ops/pool.c; the window helpers both use are in window.h.
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

/* The loops over every patch element of an image batch: opens the loops
 * and leaves in scope b, c, i, j, oy, ox, the pointers xc (image b, channel
 * c), colr (col row of c, i, j) and iy, ix; the body is the caller's. */
static void patch_loops_open(emitter *e, const ir_node *img, const geom *q, const char *xname,
                             const char *colname, int is_const)
{
    long B = e_dim(e, img, 0), C = e_dim(e, img, 1), H = e_dim(e, img, 2), W = e_dim(e, img, 3);
    long OH = conv_out_size((int)H, q->kh, q->sh, q->ph, q->dh);
    long OW = conv_out_size((int)W, q->kw, q->sw, q->pw, q->dw);
    long K = (long)q->kh * q->kw;
    wr_line(e->w, "for (long bc = 0; bc < %ld; bc++) {", B * C);
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

static void emit_im2col(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    geom q = window_geom(n);
    long H = e_dim(e, x, 2), W = e_dim(e, x, 3);
    long OW = conv_out_size((int)W, q.kw, q.sw, q.pw, q.dw);
    (void)H;
    patch_loops_open(e, x, &q, e_ref(e, n->in[0]), e_ref(e, n->id), 1);
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

static void emit_col2im(emitter *e, const ir_node *n)
{
    geom q = window_geom(n);
    long W = e_dim(e, n, 3);
    long OW = conv_out_size((int)W, q.kw, q.sw, q.pw, q.dw);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", e_numel(e, n), e_ref(e, n->id));
    patch_loops_open(e, n, &q, e_ref(e, n->id), e_ref(e, n->in[0]), 0);
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
static int check_bias(ir_graph *g, const ir_node *n, const ir_node *w, char *err, size_t errsize)
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
    return check_bias(g, n, w, err, errsize);
}

/* the backward ops' shapes are given (col's, w's) */
static int shape_conv_grad(ir_graph *g, ir_node *n, char *err, size_t errsize)
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

static double flops_conv2d(ir_graph *g, const ir_node *n, int b)
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

static double flops_conv_grad_weight(ir_graph *g, const ir_node *n, int b)
{
    const ir_node *gy = ir_get(g, n->in[0]);
    return 2.0 * n->dim[0] * n->dim[1] * n->dim[2] * n->dim[3] * gy->dim[2] * gy->dim[3] * b;
}

/* ---- conv2d_direct: few taps, straight from x (no im2col) ---- */

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
 *   direct = 2·OC·T·OH · (ALPHA + BETA·⌈OW/8⌉)   per row loop and 8-wide MAC
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
 *    1  3  1  16  28   28      3.44       3.34 (i)              54029   55626
 *    1  3  1  32  14   14      2.10       0.98 (i)              41126   26696
 *    1  5  0  16  14   10      0.90       0.32                  40800   21000
 *    3  3  1  16  28   28      4.68       5.30 (i)             162086  162877
 *    3  5  0  32  28   24     15.90      13.56                 679680  606800
 *    3  3  1  32  14   14      4.20       1.74                 123379   76088
 *    8  3  1  16  28   28     11.70      11.36                 432230  431005
 *    8  5  0  16  14   10      5.64       2.16                 326400  154000
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
 * keeps them for stride 1. */
#define DIRECT_ALPHA 3.5 /* ns per row loop (of the forward or dW: OC·T·OH each) */
#define DIRECT_BETA 0.8  /* ns per 8-wide multiply-add */
#define IM2COL_GAMMA 1.2 /* ns per element of the col buffer */
#define BLAS_DELTA 0.2   /* ns per multiply-add in OpenBLAS */
#define BLAS_EPS 2000.0  /* ns per image: the calls */

/* the model's nanoseconds per image of each kernel */
void conv_estimate(const conv_sizes *z, double *direct, double *im2col)
{
    double T = (double)z->C * z->kh * z->kw, P = (double)z->OH * z->OW;
    *direct = 2.0 * z->OC * T * z->OH * (DIRECT_ALPHA + DIRECT_BETA * ((z->OW + 7) / 8));
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
    return check_bias(g, n, w, err, errsize);
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

/* y[b][oc][oy] = bias + Σ over the taps (c, i, j) of w[oc][c][i][j] · the
 * tap's row of x, in the taps' order (padding contributes nothing). Per
 * image and output row, OCB output channels at a time accumulate rows in
 * acc: every bound is a constant and the inner loop runs along ox. */
static void emit_conv_direct(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]), *w = ir_get(e->g, n->in[1]);
    geom q = window_geom(n);
    long B = e_dim(e, n, 0), OC = n->dim[1], OH = n->dim[2], OW = n->dim[3];
    long T = (long)w->dim[1] * w->dim[2] * w->dim[3], OCB = direct_block(OC);
    const char *W = e_ref(e, n->in[1]);
    conv_sizes z = {
        (int)e_dim(e, x, 1), (int)OC, q.kh, q.kw, q.sh, q.sw, q.ph, q.pw, (int)OH, (int)OW, 1};
    double direct, im2col;
    conv_estimate(&z, &direct, &im2col);
    wr_line(e->w,
            "/* the cost model (conv.c): direct %.0f ns per image, im2col and product %.0f */",
            direct, im2col);
    e_epilogue_begin(e, n);
    wr_line(e->w, "for (long b = 0; b < %ld; b++)", B);
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    direct_rows_copy(e, x, &q);
    wr_line(e->w, "for (long o0 = 0; o0 < %ld; o0 += %ld) {", OC, OCB);
    wr_line(e->w, "real acc[%ld][%ld];", OCB, OW);
    wr_line(e->w, "for (long k = 0; k < %ld; k++)", OCB);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) acc[k][ox] = %s;", OW,
            n->nin == 3 ? e_fmt(e, "%s[o0 + k]", e_ref(e, n->in[2])) : "0");
    direct_rows_open(e, x, &q);
    wr_line(e->w, "for (long j = 0; j < %d; j++)", q.kw);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) {", OCB);
    wr_line(e->w, "const real wv = %s[(o0 + k) * %ld + (c * %d + i) * %d + j];", W, T, q.kh, q.kw);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) acc[k][ox] += wv * xr[ox * %d + j * %d];", OW,
            q.sw, q.dw);
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

/* dW[oc][t] = Σ over b, oy, ox of dy · the tap's x: per image, the
 * products summed into rows[oc][t][lane], the pixel ox in lane ox mod 8
 * (vectorised along ox; each row of x read once per OCB output channels;
 * the accumulators fit the L1 cache: OC·T·8 values, not OC·T·OW), then
 * each summed in lanes into dW */
static void emit_conv_direct_grad_weight(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[0]), *x = ir_get(e->g, n->in[1]);
    geom q = window_geom(n);
    long B = e_dim(e, gy, 0), OC = gy->dim[1], OH = gy->dim[2], OW = gy->dim[3];
    long T = (long)n->dim[1] * n->dim[2] * n->dim[3], OCB = direct_block(OC), OW8 = OW / 8 * 8;
    const char *dw = e_ref(e, n->id);
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
        wr_line(e->w, "for (long lane = 0; lane < %ld; lane++) { const long ox = %ld + lane; "
                "r[lane] += %s; }", OW - OW8, OW8, term);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "for (long oc = 0; oc < %ld; oc++)", OC);
    wr_line(e->w, "for (long t = 0; t < %ld; t++) {", T);
    wr_line(e->w, "const real *s_lane = rows[oc][t];");
    wr_line(e->w, "%s[oc * %ld + t] += ((s_lane[0] + s_lane[1]) + (s_lane[2] + s_lane[3])) + "
            "((s_lane[4] + s_lane[5]) + (s_lane[6] + s_lane[7]));", dw, T);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
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

static void vjp2_conv_grad(ad_ctx *c, const ir_node *n, int u)
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
const op_def op_CONV2D_DIRECT = {
    .math = "y[b][oc] = sum over the taps of W[oc][c][i][j] · x[b][c] shifted (+ bias), no im2col",
    .shape = shape_conv_direct,
    .emit = emit_conv_direct,
    .vjp = vjp_conv_direct,
    .flops = flops_conv2d,
    .flags = OPF_EPILOGUE | OPF_FOLDS_BN,
};
const op_def op_CONV2D_DIRECT_GRAD_WEIGHT = {
    .math = "dW[oc][c][i][j] = sum over b and the pixels of dy[b][oc] · x[b][c] shifted",
    .shape = shape_conv_grad,
    .emit = emit_conv_direct_grad_weight,
    .flops = flops_conv_grad_weight,
    .vjp = vjp2_conv_grad,
};
