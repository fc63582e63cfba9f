/* ops/conv.c — 2-D convolution and pooling over NCHW tensors [B x C x H x W].
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
 * The products go to cblas_?gemm when large and to constant-bound loops
 * (vectorised along the pixels) when small: the plan decides per layer.
 *
 * A convolution with few taps (C·kh·kw ≤ CONV_DIRECT_MAX_TAPS, groups 1) of
 * an x that depends on no parameter (the model's images) skips both: the
 * spec makes y = conv2d_direct(x, W [, b]), whose loops run over (b, oc, oy)
 * and the taps, all bounds constants, vectorised along ox; its backward is
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
 * Pooling reads x directly. Max pooling's backward recomputes the argmax
 * from x instead of storing indices (x stays alive until then; no index
 * buffer, and the first maximum wins as in PyTorch, NaN propagating).
 * Average pooling divides by kh·kw (count_include_pad = True).
 *
 * Attributes of im2col, col2im and the pools: i = {kh, kw, sh, sw}, f =
 * {ph, pw, dh, dw} (pools: dilation 1). Of conv2d and its backward ops:
 * i[0] = groups. */
#include <stdio.h>
#include <stdlib.h>

#include "../autodiff.h"
#include "../emit.h"
#include "../ops.h"

/* products at or above this many multiply-adds per image go to OpenBLAS */
#define CONV_BLAS_MIN_MACS 4096L

typedef struct geom {
    int kh, kw, sh, sw, ph, pw, dh, dw;
} geom;

static geom geom_of(const ir_node *n)
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

static int check_nchw(ir_graph *g, const ir_node *x, const char *what, char *err, size_t errsize)
{
    (void)g;
    if (x->rank == 4 && x->dim[0] == IR_BATCH && x->dim[1] > 0 && x->dim[2] > 0 && x->dim[3] > 0)
        return 0;
    char s[64];
    snprintf(err, errsize, "%s needs images [B x C x H x W], got %s", what,
             ir_shape_str(x, s, sizeof s));
    return -1;
}

/* the output size of a window op on x; -1 and a message when none fits */
static int window_out(const ir_node *n, const ir_node *x, int *oh, int *ow, char *err,
                      size_t errsize)
{
    geom q = geom_of(n);
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
    if (check_nchw(g, x, "im2col", err, errsize) || window_out(n, x, &oh, &ow, err, errsize))
        return -1;
    geom q = geom_of(n);
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
    if (check_nchw(g, n, "col2im", err, errsize) || window_out(n, n, &oh, &ow, err, errsize))
        return -1;
    geom q = geom_of(n);
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
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    wr_line(e->w, "const long iy = oy * %d - %d + i * %d;", q->sh, q->ph, q->dh);
    if (q->ph) wr_line(e->w, "if (iy < 0 || iy >= %ld) {", H);
}

static void emit_im2col(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    geom q = geom_of(n);
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
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) {", OW);
    wr_line(e->w, "const long ix = ox * %d - %d + j * %d;", q.sw, q.pw, q.dw);
    if (q.pw)
        wr_line(e->w, "colr[oy * %ld + ox] = ix >= 0 && ix < %ld ? xr[ix] : 0;", OW, W);
    else
        wr_line(e->w, "colr[oy * %ld + ox] = xr[ix];", OW);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

static void emit_col2im(emitter *e, const ir_node *n)
{
    geom q = geom_of(n);
    long W = e_dim(e, n, 3);
    long OW = conv_out_size((int)W, q.kw, q.sw, q.pw, q.dw);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", e_numel(e, n), e_ref(e, n->id));
    patch_loops_open(e, n, &q, e_ref(e, n->id), e_ref(e, n->in[0]), 0);
    if (q.ph) {
        wr_line(e->w, "continue;");
        wr_line(e->w, "}");
    }
    wr_line(e->w, "real *xr = xc + iy * %ld;", W);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) {", OW);
    wr_line(e->w, "const long ix = ox * %d - %d + j * %d;", q.sw, q.pw, q.dw);
    if (q.pw) wr_line(e->w, "if (ix >= 0 && ix < %ld)", W);
    wr_line(e->w, "xr[ix] += colr[oy * %ld + ox];", OW);
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

static int make_or_die(ir_graph *g, ir_op op, const ir_args *a)
{
    char err[256];
    int id = ir_make(g, op, a, err, sizeof err);
    if (id < 0) {
        fprintf(stderr, "trainc: internal error: %s: %s\n", ir_op_name(op), err);
        __builtin_trap();
    }
    return id;
}

/* a node of op with n's window attributes, input in and the shape of like */
static int windowed(ir_graph *g, ir_op op, const ir_node *n, int nin, const int *in,
                    const ir_node *like)
{
    ir_args a = {.nin = nin, .rank = like->rank};
    for (int k = 0; k < nin; k++) a.in[k] = in[k];
    for (int k = 0; k < 4; k++) a.i[k] = n->i[k], a.f[k] = n->f[k];
    for (int k = 0; k < like->rank; k++) a.dim[k] = like->dim[k];
    return make_or_die(g, op, &a);
}

static void vjp_im2col(ad_ctx *c, const ir_node *n, int gout)
{
    int x = n->in[0];
    if (x >= c->nforward || !c->needs[x]) return;
    ad_accum(c, x, windowed(c->g, OP_COL2IM, n, 1, &gout, ir_get(c->g, x)));
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
    if (check_nchw(g, gy, "conv2d bias gradient", err, errsize)) return -1;
    n->rank = 1;
    n->dim[0] = gy->dim[1];
    return 0;
}

int conv_kernel(ir_graph *g, const ir_node *n, int b)
{
    (void)b;
    if (n->op != OP_CONV2D && n->op != OP_CONV2D_GRAD_INPUT && n->op != OP_CONV2D_GRAD_WEIGHT)
        return -1;
    /* multiply-adds of one image's product, the same for all three */
    const ir_node *y = n->op == OP_CONV2D ? n : ir_get(g, n->in[0]);
    const ir_node *w = ir_get(g, n->op == OP_CONV2D_GRAD_WEIGHT ? n->id : n->in[1]);
    long macs = (long)w->dim[0] * w->dim[1] * w->dim[2] * w->dim[3] * y->dim[2] * y->dim[3];
    return macs >= CONV_BLAS_MIN_MACS ? KERN_BLAS : KERN_LOOP;
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
    e_epilogue_begin(e, n);
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", d.B);
    wr_line(e->w, "real *yb = %s + b * %ld;", y, d.OC * d.P);
    wr_line(e->w, "const real *colb = %s + b * %ld;", col, d.CK * d.P);
    if (bias)
        wr_line(e->w,
                "for (long oc = 0; oc < %ld; oc++) for (long p = 0; p < %ld; p++) "
                "yb[oc * %ld + p] = %s[oc];",
                d.OC, d.P, d.P, bias);
    if (e_kernel(e, n) == KERN_BLAS) {
        if (!bias) wr_line(e->w, "for (long k = 0; k < %ld; k++) yb[k] = 0;", d.OC * d.P);
        wr_line(e->w, "for (long g = 0; g < %ld; g++)", d.G);
        wr_line(e->w,
                "    cblas_%cgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, %ld, %ld, %ld, 1, "
                "%s + g * %ld, %ld, colb + g * %ld, %ld, 1, yb + g * %ld, %ld);",
                e->dbl ? 'd' : 's', d.OCg, d.P, d.CKg, W, d.OCg * d.CKg, d.CKg, d.CKg * d.P, d.P,
                d.OCg * d.P, d.P);
        if (e_has_epilogue(e, n))
            wr_line(e->w,
                    "for (long oc = 0; oc < %ld; oc++) for (long p = 0; p < %ld; p++) "
                    "{ const real v = yb[oc * %ld + p]; yb[oc * %ld + p] = %s; }",
                    d.OC, d.P, d.P, d.P, epi);
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

/* s = the sum of expr (of p) for p < P, in 8 interleaved partial sums so
 * that the compiler can vectorise it (a single running sum cannot be
 * reordered without -ffast-math). Declares s. */
static void emit_lane_sum(emitter *e, const char *s, const char *expr, long P)
{
    long P8 = P / 8 * 8;
    wr_line(e->w, "real acc[8] = {0};");
    if (P8)
        wr_line(e->w,
                "for (long p0 = 0; p0 < %ld; p0 += 8) for (long lane = 0; lane < 8; lane++) "
                "{ const long p = p0 + lane; acc[lane] += %s; }",
                P8, expr);
    if (P8 < P) wr_line(e->w, "for (long p = %ld; p < %ld; p++) acc[0] += %s;", P8, P, expr);
    wr_line(e->w,
            "const real %s = ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + "
            "(acc[6] + acc[7]));",
            s);
}

/* dcol_g = W_gᵀ · dy_g, per image: conv2d_backward_input(dy, w) */
static void emit_conv_grad_col(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[0]), *w = ir_get(e->g, n->in[1]);
    gemm_dims d = dims_of(e, gy, w, n->i[0]);
    const char *dcol = e_ref(e, n->id), *dy = e_ref(e, n->in[0]), *W = e_ref(e, n->in[1]);
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", d.B);
    wr_line(e->w, "const real *gb = %s + b * %ld;", dy, d.OC * d.P);
    wr_line(e->w, "real *db = %s + b * %ld;", dcol, d.CK * d.P);
    if (e_kernel(e, n) == KERN_BLAS) {
        wr_line(e->w, "for (long g = 0; g < %ld; g++)", d.G);
        wr_line(e->w,
                "    cblas_%cgemm(CblasRowMajor, CblasTrans, CblasNoTrans, %ld, %ld, %ld, 1, "
                "%s + g * %ld, %ld, gb + g * %ld, %ld, 0, db + g * %ld, %ld);",
                e->dbl ? 'd' : 's', d.CKg, d.P, d.OCg, W, d.OCg * d.CKg, d.CKg, d.OCg * d.P, d.P,
                d.CKg * d.P, d.P);
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
    wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", d.OC * d.CKg, dw);
    wr_line(e->w, "for (long b = 0; b < %ld; b++) {", d.B);
    wr_line(e->w, "const real *gb = %s + b * %ld;", dy, d.OC * d.P);
    wr_line(e->w, "const real *colb = %s + b * %ld;", col, d.CK * d.P);
    if (e_kernel(e, n) == KERN_BLAS) {
        wr_line(e->w, "for (long g = 0; g < %ld; g++)", d.G);
        wr_line(e->w,
                "    cblas_%cgemm(CblasRowMajor, CblasNoTrans, CblasTrans, %ld, %ld, %ld, 1, "
                "gb + g * %ld, %ld, colb + g * %ld, %ld, 1, %s + g * %ld, %ld);",
                e->dbl ? 'd' : 's', d.OCg, d.CKg, d.P, d.OCg * d.P, d.P, d.CKg * d.P, d.P, dw,
                d.OCg * d.CKg, d.CKg);
    } else {
        wr_line(e->w, "for (long oc = 0; oc < %ld; oc++) {", d.OC);
        wr_line(e->w, "const real *gr = gb + oc * %ld;", d.P);
        wr_line(e->w, "const real *cg = colb + oc / %ld * %ld;", d.OCg, d.CKg * d.P);
        wr_line(e->w, "for (long k = 0; k < %ld; k++) {", d.CKg);
        emit_lane_sum(e, "s", e_fmt(e, "gr[p] * cg[k * %ld + p]", d.P), d.P);
        wr_line(e->w, "%s[oc * %ld + k] += s;", dw, d.CKg);
        wr_line(e->w, "}");
        wr_line(e->w, "}");
    }
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
    emit_lane_sum(e, "s", "gr[p]", P);
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
        ad_accum(c, col, make_or_die(g, OP_CONV2D_GRAD_INPUT, &a));
    }
    if (w < c->nforward && c->needs[w]) {
        const ir_node *wn = ir_get(g, w);
        a.in[0] = gout, a.in[1] = col, a.rank = 4;
        for (int k = 0; k < 4; k++) a.dim[k] = wn->dim[k];
        ad_accum(c, w, make_or_die(g, OP_CONV2D_GRAD_WEIGHT, &a));
    }
    if (n->nin == 3 && n->in[2] < c->nforward && c->needs[n->in[2]]) {
        ir_args b = {.nin = 1, .in = {gout}};
        ad_accum(c, n->in[2], make_or_die(g, OP_CONV2D_GRAD_BIAS, &b));
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

/* Most taps (C·kh·kw) of a direct convolution. Its forward reads each tap
 * row of x once per output row, which costs no more than the im2col copy
 * alone when the taps are few (LeNet's and fashion_cnn's first layers, C =
 * 1, 25 taps); the product by loops or OpenBLAS then disappears with the
 * col buffer. */
#define CONV_DIRECT_MAX_TAPS 32

/* whether x depends on no parameter: then it never needs a gradient */
static int free_of_params(ir_graph *g, int x)
{
    char *reach = calloc((size_t)x + 1, 1);
    if (!reach) {
        fprintf(stderr, "trainc: out of memory\n");
        exit(1);
    }
    int found = 0;
    reach[x] = 1;
    for (int i = x; i >= 0 && !found; i--) {
        if (!reach[i]) continue;
        const ir_node *n = ir_get(g, i);
        if (n->kind == K_PARAM) found = 1;
        for (int k = 0; k < n->nin; k++)
            if (n->in[k] >= 0 && n->in[k] <= x) reach[n->in[k]] = 1;
    }
    free(reach);
    return !found;
}

int conv_direct_fits(ir_graph *g, int x, long taps, int groups)
{
    return groups == 1 && taps <= CONV_DIRECT_MAX_TAPS && free_of_params(g, x);
}

/* conv2d_direct(x, w [, b]): the shape [B x OC x OH x OW] is given */
static int shape_conv_direct(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]), *w = ir_get(g, n->in[1]);
    geom q = geom_of(n);
    int oh, ow;
    char s1[64], s2[64];
    if (check_nchw(g, x, "conv2d", err, errsize) || window_out(n, x, &oh, &ow, err, errsize))
        return -1;
    if (w->rank != 4 || n->rank != 4 || w->dim[1] != x->dim[1] || w->dim[2] != q.kh ||
        w->dim[3] != q.kw || n->dim[1] != w->dim[0] || n->dim[2] != oh || n->dim[3] != ow) {
        snprintf(err, errsize, "conv2d: images %s do not fit the weight %s",
                 ir_shape_str(x, s1, sizeof s1), ir_shape_str(w, s2, sizeof s2));
        return -1;
    }
    return check_bias(g, n, w, err, errsize);
}

/* Opens, inside the loops over b and oc, the loops over the output rows oy
 * and the taps (c, i, j) of one output channel: leaves in scope the row xr
 * of x under tap row i (padding rows skipped) and the tap's index t. */
static void direct_taps_open(emitter *e, const ir_node *x, const geom *q)
{
    long C = e_dim(e, x, 1), H = e_dim(e, x, 2), W = e_dim(e, x, 3);
    wr_line(e->w, "for (long c = 0; c < %ld; c++)", C);
    wr_line(e->w, "for (long i = 0; i < %d; i++) {", q->kh);
    wr_line(e->w, "const long iy = oy * %d - %d + i * %d;", q->sh, q->ph, q->dh);
    if (q->ph) wr_line(e->w, "if (iy < 0 || iy >= %ld) continue;", H);
    wr_line(e->w, "const real *xr = %s + ((b * %ld + c) * %ld + iy) * %ld;", e_ref(e, x->id), C, H,
            W);
    wr_line(e->w, "for (long j = 0; j < %d; j++) {", q->kw);
    wr_line(e->w, "const long t = (c * %d + i) * %d + j;", q->kh, q->kw);
}

/* x[ix] of the row xr at output column ox and tap column j, 0 in the padding */
static const char *direct_x(emitter *e, const ir_node *x, const geom *q)
{
    long W = e_dim(e, x, 3);
    const char *ix = e_fmt(e, "ox * %d - %d + j * %d", q->sw, q->pw, q->dw);
    if (!q->pw) return e_fmt(e, "xr[%s]", ix);
    return e_fmt(e, "(%s >= 0 && %s < %ld ? xr[%s] : 0)", ix, ix, W, ix);
}

/* y[b][oc][oy] = Σ over the taps of w[oc][t] · the tap's row of x: the
 * taps' bounds are constants and the inner loop runs along ox */
static void emit_conv_direct(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]), *w = ir_get(e->g, n->in[1]);
    geom q = geom_of(n);
    long B = e_dim(e, n, 0), OC = n->dim[1], OH = n->dim[2], OW = n->dim[3];
    long T = (long)w->dim[1] * w->dim[2] * w->dim[3];
    e_epilogue_begin(e, n);
    wr_line(e->w, "for (long b = 0; b < %ld; b++)", B);
    wr_line(e->w, "for (long oc = 0; oc < %ld; oc++) {", OC);
    wr_line(e->w, "const real *wo = %s + oc * %ld;", e_ref(e, n->in[1]), T);
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    wr_line(e->w, "real *yo = %s + (b * %ld + oc) * %ld + oy * %ld;", e_store_ref(e, n), OC,
            OH * OW, OW);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) yo[ox] = %s;", OW,
            n->nin == 3 ? e_fmt(e, "%s[oc]", e_ref(e, n->in[2])) : "0");
    direct_taps_open(e, x, &q);
    wr_line(e->w, "const real wv = wo[t];");
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) yo[ox] += wv * %s;", OW, direct_x(e, x, &q));
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    if (e_has_epilogue(e, n)) /* the fused op on the finished row */
        wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) { const real v = yo[ox]; yo[ox] = %s; }",
                OW,
                e_epilogue_at(e, n, "v", "oc",
                              e_fmt(e, "(b * %ld + oc) * %ld + oy * %ld + ox", OC, OH * OW, OW)));
    wr_line(e->w, "}");
    wr_line(e->w, "}");
}

/* dW[oc][t] = Σ over b, oy, ox of dy · the tap's x: per tap, the products
 * summed along oy into one row (vectorised along ox), then the row summed */
static void emit_conv_direct_grad_weight(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[0]), *x = ir_get(e->g, n->in[1]);
    geom q = geom_of(n);
    long B = e_dim(e, gy, 0), OC = gy->dim[1], OH = gy->dim[2], OW = gy->dim[3];
    long T = (long)n->dim[1] * n->dim[2] * n->dim[3];
    const char *dw = e_ref(e, n->id);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", OC * T, dw);
    wr_line(e->w, "for (long b = 0; b < %ld; b++)", B);
    wr_line(e->w, "for (long oc = 0; oc < %ld; oc++) {", OC);
    wr_line(e->w, "const real *gr = %s + (b * %ld + oc) * %ld;", e_ref(e, n->in[0]), OC, OH * OW);
    wr_line(e->w, "real rows[%ld][%ld] = {{0}};", T, OW);
    wr_line(e->w, "for (long oy = 0; oy < %ld; oy++) {", OH);
    direct_taps_open(e, x, &q);
    wr_line(e->w, "for (long ox = 0; ox < %ld; ox++) rows[t][ox] += gr[oy * %ld + ox] * %s;", OW,
            OW, direct_x(e, x, &q));
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "}");
    wr_line(e->w, "for (long t = 0; t < %ld; t++) {", T);
    emit_lane_sum(e, "s", "rows[t][p]", OW);
    wr_line(e->w, "%s[oc * %ld + t] += s;", dw, T);
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
        ad_accum(c, w, make_or_die(g, OP_CONV2D_DIRECT_GRAD_WEIGHT, &a));
    }
    if (n->nin == 3 && n->in[2] < c->nforward && c->needs[n->in[2]]) {
        ir_args b = {.nin = 1, .in = {gout}};
        ad_accum(c, n->in[2], make_or_die(g, OP_CONV2D_GRAD_BIAS, &b));
    }
}

/* ---- pooling ---- */

static int shape_pool(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *x = ir_get(g, n->in[0]);
    int oh, ow;
    if (check_nchw(g, x, ir_op_name(n->op), err, errsize) ||
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
    geom q = geom_of(n);
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
    geom q = geom_of(n);
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

static void emit_max_pool(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    window_loops_open(e, x, e_dim(e, n, 2), e_dim(e, n, 3));
    emit_window_max(e, x, n, e_ref(e, n->in[0]));
    wr_line(e->w, "%s[at] = %s;", e_store_ref(e, n),
            e_epilogue_at(e, n, "m", e_fmt(e, "bc %% %d", n->dim[1]), "at"));
    wr_line(e->w, "}");
}

/* max_pool2d_backward(x, dy): each dy goes to its window's maximum */
static void emit_max_pool_grad(emitter *e, const ir_node *n)
{
    const ir_node *gy = ir_get(e->g, n->in[1]);
    const char *dx = e_ref(e, n->id);
    wr_line(e->w, "for (long k = 0; k < %ld; k++) %s[k] = 0;", e_numel(e, n), dx);
    window_loops_open(e, n, e_dim(e, gy, 2), e_dim(e, gy, 3));
    emit_window_max(e, n, n, e_ref(e, n->in[0]));
    wr_line(e->w, "(void)m;");
    wr_line(e->w, "%s[arg] += %s[at];", dx, e_ref(e, n->in[1]));
    wr_line(e->w, "}");
}

static void emit_avg_pool(emitter *e, const ir_node *n)
{
    const ir_node *x = ir_get(e->g, n->in[0]);
    geom q = geom_of(n);
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
    geom q = geom_of(n);
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

static void vjp_max_pool(ad_ctx *c, const ir_node *n, int gout)
{
    int x = n->in[0];
    if (x >= c->nforward || !c->needs[x]) return;
    int in[2] = {x, gout};
    ad_accum(c, x, windowed(c->g, OP_MAX_POOL2D_GRAD, n, 2, in, ir_get(c->g, x)));
}

static void vjp_avg_pool(ad_ctx *c, const ir_node *n, int gout)
{
    int x = n->in[0];
    if (x >= c->nforward || !c->needs[x]) return;
    ad_accum(c, x, windowed(c->g, OP_AVG_POOL2D_GRAD, n, 1, &gout, ir_get(c->g, x)));
}

/* the backward of a pool: the shape (x's) is given; dy must be the pool's */
static int shape_pool_grad(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *gy = ir_get(g, n->in[n->nin - 1]);
    int oh, ow;
    if (check_nchw(g, n, ir_op_name(n->op), err, errsize) ||
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

const op_def op_IM2COL = {
    "col[b][(c·kh + i)·kw + j][oy·OW + ox] = x[b][c][oy·sh - ph + i·dh][ox·sw - "
    "pw + j·dw] (0 in the padding)",
    NULL,
    shape_im2col,
    emit_im2col,
    vjp_im2col,
    flops_none};
const op_def op_COL2IM = {"dx = the patches of dcol summed back into the image (im2col's adjoint)",
                          NULL,
                          shape_col2im,
                          emit_col2im,
                          NULL,
                          flops_in0};
const op_def op_CONV2D = {"y[b][g] = W_g · col[b][g] (+ bias), g over the groups",
                          NULL,
                          shape_conv2d,
                          emit_conv2d,
                          vjp_conv2d,
                          flops_conv2d};
const op_def op_CONV2D_GRAD_INPUT = {
    "dcol[b][g] = W_gᵀ · dy[b][g]", NULL, shape_conv_grad, emit_conv_grad_col, NULL,
    flops_conv_grad_input};
const op_def op_CONV2D_GRAD_WEIGHT = {"dW_g = sum over b of dy[b][g] · col[b][g]ᵀ",
                                      NULL,
                                      shape_conv_grad,
                                      emit_conv_grad_weight,
                                      NULL,
                                      flops_conv_grad_weight};
const op_def op_CONV2D_GRAD_BIAS = {"db[oc] = sum of dy[b][oc] over b and the pixels",
                                    NULL,
                                    shape_conv_bias_grad,
                                    emit_conv_bias_grad,
                                    NULL,
                                    flops_in0};
const op_def op_CONV2D_DIRECT = {
    "y[b][oc] = sum over the taps (c, i, j) of W[oc][c][i][j] · x[b][c] "
    "shifted (+ bias), straight from x",
    NULL,
    shape_conv_direct,
    emit_conv_direct,
    vjp_conv_direct,
    flops_conv2d};
const op_def op_CONV2D_DIRECT_GRAD_WEIGHT = {
    "dW[oc][c][i][j] = sum over b and the pixels of dy[b][oc] · x[b][c] shifted",
    NULL,
    shape_conv_grad,
    emit_conv_direct_grad_weight,
    NULL,
    flops_conv_grad_weight};
const op_def op_MAX_POOL2D = {"y = max of x over each window (padding ignored)",
                              NULL,
                              shape_pool,
                              emit_max_pool,
                              vjp_max_pool,
                              flops_window};
const op_def op_MAX_POOL2D_GRAD = {
    "dx[argmax of each window of x] += dy (argmax recomputed: the first maximum)",
    NULL,
    shape_pool_grad,
    emit_max_pool_grad,
    NULL,
    flops_window_grad};
const op_def op_AVG_POOL2D = {"y = sum of x over each window / (kh·kw) (count_include_pad)",
                              NULL,
                              shape_pool,
                              emit_avg_pool,
                              vjp_avg_pool,
                              flops_window};
const op_def op_AVG_POOL2D_GRAD = {"dx[window] += dy / (kh·kw)", NULL, shape_pool_grad,
                                   emit_avg_pool_grad,           NULL, flops_window_grad};
