/* profile.c — the table train --profile prints beside its measurements:
 * each op block of the training step at the full batch (in model.c's
 * order, PROFILE_BEGIN(k); with shards, summed over the shards' steps),
 * its spec line, kernel, FLOPs and bytes, and the time a simple cost model
 * predicts for it. See emit.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/rt.h"
#include "cgen.h"
#include "emit.h"
#include "escape.h"
#include "ops.h"

/* The cost model: a roofline per block, from the fixed shapes,
 *   predicted µs = max(FLOPs / rate of its kernel, bytes / BANDWIDTH) + CALL_US
 * where bytes are the buffers the block reads and the one it stores. An
 * epilogue is its producer's block: the bias and relu of a forward product
 * of ours and relu's backward mask in the input gradient's store
 * (rt_gemm_epi) add their few FLOPs and the bytes of the bias and mask they
 * read to the product's, instead of a block of their own that streams the
 * whole value again (fashion_mlp's relu backward blocks, predicted 2.8 and
 * 5.2 µs, are gone; d_relu1's prediction is 23.7 µs, the product's). (The
 * convolution's own model in conv.c ranks its two kernels; this one times
 * every block, so that train --profile checks it against the clock.)
 * Calibration: `train --epochs 1 --threads 1 --profile` of fashion_mlp and
 * of LeNet (--limit 19200; its default 2 shards of 32 rows), twice each, on
 * a quiet 2-core AMD EPYC (AVX-512, OpenBLAS 0.3's Cooperlake kernels),
 * 2026-12-06; the GFLOP/s and GB/s each block ran at:
 *   gemm   fashion_mlp fc1 166-184, its weight gradient 200, fc2 160-164,
 *          d_relu1 and dW2 200
 *          LeNet's conv2 and its input gradient, per image: 140-155;
 *          rt_sgemm_nt_sum alone on conv2's weight gradient (32 images of
 *          16 x 200 x 64, under load 20): 95-111
 *   blas   OpenBLAS alone on the same whole products (gemm_bench.c):
 *          94-103; the convolutions' per-image products (LeNet conv2, its
 *          input and weight gradients): 59-78
 *   loops  LeNet conv1 (direct) 43-47; its weight gradient, which reduces
 *          over every pixel in long contiguous runs, 67-83
 *   direct LeNet conv1 by runtime/rt_conv.c (AVX-512; the plan's KERN_GEMM),
 *          32 images alone: 98 GFLOP/s; in the step (2 shards, min of 8
 *          profiles on a loaded machine): 104, 141 µs against 159 predicted
 *   bytes  LeNet im2col, col2im, the pools and their backward: 30-45 GB/s;
 *          blocks whose buffers stay in L2 (fashion_mlp's relu backward,
 *          196 kB in 1.2 µs) run far faster
 * The measured µs against these predictions are in the closing note of
 * that day. Recalibrated the same evening on another 2-core AMD EPYC (Zen
 * 5, AVX-512 at full width; OpenBLAS 115-124 GFLOP/s) where every block
 * ran faster: gemm 196-247 (fashion_mlp), 217-227 (LeNet's conv2 and its
 * input gradient), the image sum 139, the direct forward 128 and its
 * loops' weight gradient 104; im2col 72 GB/s, col2im 42. The rates below
 * sit between the two machines' figures, so that both are within 30% on
 * the large blocks; im2col, a plain copy, gets a rate of its own.
 * Recalibrated 2026-12-07 on the Zen 5 EPYC (the kind of machine of the
 * last sittings), after our kernels got faster (shard arenas on cache
 * lines, AVX-512 kernels): min of 3 profiles (fashion_mlp 200 steps,
 * LeNet 150 of --limit 59968): gemm 250-265 GFLOP/s (fashion_mlp's five
 * products, LeNet's conv2 and its input gradient), the image sum 210
 * (LeNet), the direct forward 142, its loops' weight gradient 117, im2col
 * 84 GB/s, col2im 40. Every block of fashion_mlp and LeNet of 5% of the
 * step or more is now within 30% (the closing note of that day has the
 * tables). fashion_cnn's larger buffers run slower than these rates say:
 * its conv1 (a direct forward that writes 3.2 MB) 58 GFLOP/s, its image
 * sum 110, im2col 47 GB/s, so its predictions of those are 35-60% short.
 * col2im fused per image into the input gradient's product adds its adds
 * at 16 G/s (LeNet 17, fashion_cnn 15: masked loads from L2).
 * Misses, the model's limits:
 * blocks of a few µs are within the timer's and the call's noise, and the loss blocks (a log per
 * row) are not compute-bound as counted. (Until December 2026 the rates were a 2-core Xeon's: cblas
 * 115, loops 37 GFLOP/s, 20 GB/s.) */
#define RATE_BLAS 98.0         /* GFLOP/s of cblas_?gemm (and gemv) on whole products */
#define RATE_BLAS_CONV 68.0    /* ... on a convolution's per-image products */
#define RATE_GEMM 255.0        /* GFLOP/s of runtime/rt_gemm.c (AVX-512; gen/ops/matmul.c) */
#define RATE_GEMM_SUM 190.0    /* ... its sum over images (a convolution's weight gradient) */
#define RATE_LOOPS 48.0        /* GFLOP/s of generated product loops (conv direct, small matmul) */
#define RATE_LOOPS_DW 115.0    /* ... of the direct convolution's weight gradient */
#define RATE_DIRECT 140.0      /* GFLOP/s of runtime/rt_conv.c's direct forward (AVX-512) */
#define RATE_DIRECT_DW 60.0    /* ... and of its weight gradient (28 columns: 32 images, 118 µs) */
#define BANDWIDTH 40.0         /* GB/s through a block's buffers */
#define BANDWIDTH_IM2COL 75.0  /* ... through im2col's (a copy: its input small, read again) */
#define RATE_COL2IM_FUSED 16.0 /* G adds/s of col2im per image in its product's block */
#define CALL_US 0.3            /* µs a block costs whatever its size (calls, loop set-up) */

/* The block that computes node j: j itself, or the op whose loop or store
 * computes it (inlined, an epilogue, a folded batch norm) */
int emit_block_of(const plan_variant *v, int j)
{
    for (int hops = 0; hops < 64; hops++) {
        int up = v->inlined[j] >= 0 ? v->inlined[j] : v->fused_into[j];
        if (up < 0) return j;
        j = up;
    }
    return j;
}

/* FLOPs and bytes of the block of node id: its nodes' FLOPs, the buffers
 * they read from outside it, and the block's stored value */
void emit_block_cost(ir_graph *g, const plan_variant *v, int dbl, int id, double *flops,
                     double *bytes)
{
    double elems = 0;
    *flops = 0;
    for (int j = 0; j < g->n; j++) {
        if (emit_block_of(v, j) != id || ir_get(g, j)->kind != K_ACT) continue;
        const ir_node *x = ir_get(g, j);
        *flops += op_get(x->op)->flops(g, x, v->batch);
        if (v->fused_into[j] >= 0 && v->side[v->fused_into[j]] == j) continue; /* reads as it */
        for (int k = 0; k < x->nin; k++) {
            const ir_node *in = ir_get(g, x->in[k]);
            int dup = 0;
            for (int q = 0; q < k; q++) dup |= x->in[q] == x->in[k];
            if (in->kind != K_CONST && !dup && emit_block_of(v, in->id) != id)
                elems += (double)ir_numel(in, v->batch);
        }
    }
    int stored = v->epi[id] >= 0 ? v->epi[id] : id;
    elems += (double)ir_numel(ir_get(g, stored), v->batch);
    if (v->side[id] >= 0) elems += (double)ir_numel(ir_get(g, v->side[id]), v->batch);
    *bytes = elems * (dbl ? 8.0 : 4.0);
}

const char *emit_kernel_name(plan_kernel k)
{
    switch (k) {
    case KERN_BLAS:
        return "blas";
    case KERN_GEMV:
        return "gemv";
    case KERN_GEMM:
        return "gemm";
    case KERN_UNROLL:
        return "unrolled";
    default:
        return "loops";
    }
}

static int conv_product(const ir_node *n)
{
    return n->op == OP_CONV2D || n->op == OP_CONV2D_GRAD_INPUT || n->op == OP_CONV2D_GRAD_WEIGHT;
}

double emit_predict_us(ir_graph *g, const plan_variant *v, const ir_node *n, double flops,
                       double bytes)
{
    const plan_kernel k = v->kernel[n->id];
    double rate = k == KERN_BLAS && conv_product(n)                         ? RATE_BLAS_CONV
                  : k == KERN_BLAS || k == KERN_GEMV                        ? RATE_BLAS
                  : k == KERN_GEMM && n->op == OP_CONV2D_GRAD_WEIGHT        ? RATE_GEMM_SUM
                  : k == KERN_GEMM && n->op == OP_CONV2D_DIRECT             ? RATE_DIRECT
                  : k == KERN_GEMM && n->op == OP_CONV2D_DIRECT_GRAD_WEIGHT ? RATE_DIRECT_DW
                  : k == KERN_GEMM                                          ? RATE_GEMM
                  : n->op == OP_CONV2D_DIRECT_GRAD_WEIGHT                   ? RATE_LOOPS_DW
                                                                            : RATE_LOOPS;
    double compute = flops / (rate * 1e3);
    double memory = bytes / ((n->op == OP_IM2COL ? BANDWIDTH_IM2COL : BANDWIDTH) * 1e3);
    /* a col2im run per image in the block (plan.c's fuse_col2im): its masked
     * loads after the product's, at their own rate */
    const int t = v->side[n->id];
    const double side =
        t >= 0 && ir_get(g, t)->op == OP_COL2IM
            ? op_get(OP_COL2IM)->flops(g, ir_get(g, t), v->batch) / (RATE_COL2IM_FUSED * 1e3)
            : 0;
    return (compute > memory ? compute : memory) + side + CALL_US;
}

int emit_profiled_block(const plan_variant *v, int s)
{
    return v->view_of[v->order[s]] < 0;
}

/* The training variant of `rows` rows */
/* Block j's FLOPs, bytes and predicted µs in a step of the full batch: with
 * shards, the sum over the shards' steps (their blocks are the same, in the
 * same order; their kernels may differ with the rows) */
static void step_cost(emitter *e, const plan *p, int j, double *flops, double *bytes, double *us)
{
    *flops = *bytes = *us = 0;
    for (int k = 0; k < rt_shard_count(p->shards, p->batch); k++) {
        const plan_variant *v =
            plan_find_variant(p, PLAN_TRAIN, rt_shard_rows(p->shards, p->batch, k));
        for (int s = 0, b = 0; v && s < v->norder; s++) {
            if (!emit_profiled_block(v, s) || b++ != j) continue;
            const ir_node *n = ir_get(e->g, v->order[s]);
            double f, by;
            emit_block_cost(e->g, v, e->dbl, n->id, &f, &by);
            *flops += f;
            *bytes += by;
            *us += emit_predict_us(e->g, v, n, f, by);
        }
    }
}

const char *emit_profile_table(emitter *e, const plan *p)
{
    ir_graph *g = e->g;
    writer w;
    wr_init(&w);
    /* with shards: the blocks of the largest shard's step, their figures
     * summed over the shards */
    const plan_variant *v = plan_find_variant(p, PLAN_TRAIN, rt_shard_rows(p->shards, p->batch, 0));
    if (p->shards > 1)
        wr_line(&w,
                "/* train --profile: the op blocks of the shards' steps (train_%d...), "
                "PROFILE_BEGIN(k)",
                v ? v->batch : 0);
    else
        wr_line(&w,
                "/* train --profile: the op blocks of train_%d, PROFILE_BEGIN(k) in order, with",
                p->batch);
    wr_line(&w, " * the FLOPs, bytes and µs the cost model of gen/profile.c gives them */");
    wr_line(&w, "const model_prof_op model_prof_ops[] = {");
    int rows = 0;
    for (int s = 0; v && s < v->norder; s++) {
        if (!emit_profiled_block(v, s)) continue;
        const ir_node *n = ir_get(g, v->order[s]);
        double flops, bytes, us;
        step_cost(e, p, rows, &flops, &bytes, &us);
        /* the spec's file name without its folders: "fashion_mlp.lua:15" */
        const char *file = n->file ? n->file : "?", *slash = strrchr(file, '/');
        const char *at = arena_printf(g->A, "%s:%d", slash ? slash + 1 : file, n->line);
        wr_line(&w, "{%s, %s, %s, \"%s\", %.17g, %.17g, %.3f},", esc_c_string(g->A, at),
                esc_c_string(g->A, n->name), esc_c_string(g->A, ir_op_name(n->op)),
                emit_kernel_name(v->kernel[n->id]), flops, bytes, us);
        rows++;
    }
    if (!rows) wr_line(&w, "{NULL, NULL, NULL, NULL, 0, 0, 0},");
    wr_line(&w, "};");
    wr_line(&w, "const int model_n_prof_ops = %d;", rows);
    char *t = wr_take(&w);
    size_t len = strlen(t);
    if (len && t[len - 1] == '\n') t[len - 1] = 0;
    const char *r = arena_strdup(g->A, t);
    free(t);
    return r;
}
