/* ops/conv_product.c — the matrix products of a convolution (conv.c's
 * conv2d and its input and weight gradients, per image and group): which
 * kernel computes them (constant-bound loops, trainc's own
 * runtime/rt_gemm.c or OpenBLAS, by the cost model below) and the call of
 * the library kernels. */
#include <stdio.h>

#include "../cgen.h"
#include "../ops.h"
#include "window.h"

/* products below this many multiply-adds per image are loops */
#define CONV_BLAS_MIN_MACS 4096L

/* One image's product of a convolution (forward, input and weight
 * gradient) in one group: form 0 C = A·B, 1 C = Aᵀ·B, 2 C += A·Bᵀ */
typedef struct conv_product {
    int form;
    long m, n, k;
} conv_product;

static conv_product conv_product_of(ir_graph *g, const ir_node *n)
{
    const ir_node *y = n->op == OP_CONV2D ? n : ir_get(g, n->in[0]);
    const ir_node *w = n->op == OP_CONV2D_GRAD_WEIGHT ? n : ir_get(g, n->in[1]);
    long OCg = w->dim[0] / n->i[0], CKg = (long)w->dim[1] * w->dim[2] * w->dim[3];
    long P = (long)y->dim[2] * y->dim[3];
    if (n->op == OP_CONV2D) return (conv_product){0, OCg, P, CKg};
    if (n->op == OP_CONV2D_GRAD_INPUT) return (conv_product){1, CKg, P, OCg};
    return (conv_product){2, OCg, CKg, P};
}

/* The kernel of a convolution's product: loops below CONV_BLAS_MIN_MACS
 * multiply-adds per image, else ours (runtime/rt_gemm.c) or OpenBLAS,
 * whichever the cost model expects faster per image and group:
 *   OpenBLAS  CONV_BLAS_CALL + MNK / CONV_BLAS_RATE
 *   ours      matmul_gemm_ns (gen/ops/matmul.c's model of whole products)
 * OpenBLAS runs slower on these small per-image products than on whole
 * ones (its rate: LeNet conv2's three products in train --profile, 58-70
 * GFLOP/s). Calibration: tests/bench/gemm_bench.c 200 (min of 7 blocks,
 * 1 thread, AMD EPYC AVX-512, load 5-7 on 2 CPUs, 2026-12-06): LeNet's
 * conv2 and conv1 (by im2col) and fashion_cnn's conv2 products
 *   form   M    N    K   OpenBLAS µs  ours µs   model: OpenBLAS  ours  pick
 *   A·B   16   64  200      4.68       2.00             7.02    1.98  ours
 *   Aᵀ·B 200   64   16      4.15       1.88             7.02    1.98  ours
 *   A·Bᵀ  16  200   64      5.29       3.31             7.02    2.59  ours
 *   A·B    8  576   25      2.90       0.97             4.39    1.13  ours
 *   A·Bᵀ   8   25  576      5.93       1.32             4.39    1.47  ours
 *   A·B   32  196  144     18.80       8.12            27.56    9.28  ours
 *   Aᵀ·B 144  196   32     16.76       7.92            27.56    9.28  ours
 *   A·Bᵀ  32  144  196     21.51      11.45            27.56   11.32  ours
 * (in a trainer OpenBLAS's take 1.2-1.6x these: the model's rate). */
#define CONV_BLAS_CALL_NS 1000.0
#define CONV_BLAS_RATE 34.0 /* multiply-adds per ns */

plan_kernel conv_product_kernel(ir_graph *g, const ir_node *n, int b)
{
    (void)b;
    conv_product q = conv_product_of(g, n);
    if (q.m * q.n * q.k * n->i[0] < CONV_BLAS_MIN_MACS) return KERN_LOOP;
    double blas = CONV_BLAS_CALL_NS + (double)q.m * q.n * q.k / CONV_BLAS_RATE;
    return matmul_gemm_ns(q.m, q.n, q.k, q.form == 2) < blas ? KERN_GEMM : KERN_BLAS;
}

/* One image's product of group g, in the caller's loop over g, forward
 * or input gradient: ours with cblas_?gemm beside it (a CPU without AVX2;
 * double: ours is float), or cblas alone. a, b, c: the group's operands;
 * beta 1 adds to C (OpenBLAS only) */
void conv_emit_product(emitter *e, const ir_node *n, const char *a, const char *b, const char *c,
                       int beta)
{
    conv_product q = conv_product_of(e->g, n);
    if (e_kernel(e, n) == KERN_GEMM && !e->dbl)
        wr_line(e->w, "if (rt_sgemm_xn(%d, %ld, %ld, %ld, %s, %s, %s))", q.form, q.m, q.n, q.k, a,
                b, c);
    wr_line(e->w,
            "    cblas_%cgemm(CblasRowMajor, %s, CblasNoTrans, %ld, %ld, %ld, 1, %s, %ld, %s, %ld, "
            "%d, %s, %ld);",
            e->dbl ? 'd' : 's', q.form == 1 ? "CblasTrans" : "CblasNoTrans", q.m, q.n, q.k, a,
            q.form == 1 ? q.m : q.k, b, q.n, beta, c, q.n);
}

/* The weight gradient's products, dW_g += dy_g · col_gᵀ over the B
 * images: ours in one call per group (every image's sum in registers
 * before it is added up) with cblas_?gemm per image beside it, or cblas
 * per image */
void conv_emit_weight_products(emitter *e, const ir_node *n, long B, const char *dy,
                               const char *col, const char *dw)
{
    conv_product q = conv_product_of(e->g, n);
    const long G = n->i[0], sa = G * q.m * q.k, sb = G * q.n * q.k;
    wr_line(e->w, "for (long g = 0; g < %ld; g++)", G);
    if (e_kernel(e, n) == KERN_GEMM && !e->dbl)
        wr_line(e->w,
                "if (rt_sgemm_nt_sum(%ld, %ld, %ld, %ld, %ld, %ld, %s + g * %ld, %s + g * %ld, "
                "%s + g * %ld))",
                B, sa, sb, q.m, q.n, q.k, dy, q.m * q.k, col, q.n * q.k, dw, q.m * q.n);
    wr_line(e->w, "for (long b = 0; b < %ld; b++)", B);
    wr_line(e->w,
            "    cblas_%cgemm(CblasRowMajor, CblasNoTrans, CblasTrans, %ld, %ld, %ld, 1, %s + b * "
            "%ld + g * %ld, %ld, %s + b * %ld + g * %ld, %ld, 1, %s + g * %ld, %ld);",
            e->dbl ? 'd' : 's', q.m, q.n, q.k, dy, sa, q.m * q.k, q.k, col, sb, q.n * q.k, q.k, dw,
            q.m * q.n, q.n);
}

/* the cost model's figures in the block */
void conv_emit_product_note(emitter *e, const ir_node *n)
{
    conv_product q = conv_product_of(e->g, n);
    if (e_kernel(e, n) != KERN_GEMM) return;
    wr_line(e->w,
            "/* runtime/rt_gemm.c (OpenBLAS without AVX2): %.2f µs per image and group, "
            "OpenBLAS %.2f µs by the cost model of conv_product.c (%s) */",
            matmul_gemm_ns(q.m, q.n, q.k, q.form == 2) / 1e3,
            (CONV_BLAS_CALL_NS + (double)q.m * q.n * q.k / CONV_BLAS_RATE) / 1e3,
            matmul_rates_name());
}
