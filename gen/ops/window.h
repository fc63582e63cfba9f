/* ops/window.h — what the windowed ops (convolution and pooling) share:
 * the window's geometry, the checks of their NCHW shapes, and making a node
 * with another node's window. Private to gen/ops/ (conv.c defines them). */
#ifndef OPS_WINDOW_H
#define OPS_WINDOW_H

#include <stddef.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"

/* A window of kh x kw swept with strides sh, sw over an input padded by
 * ph, pw, its taps dilated by dh, dw: attributes i = {kh, kw, sh, sw}, f =
 * {ph, pw, dh, dw} of every windowed node */
typedef struct geom {
    int kh, kw, sh, sw, ph, pw, dh, dw;
} geom;

geom window_geom(const ir_node *n);
/* 0 when x is images [B x C x H x W]; else -1 and a message naming what */
int window_check_nchw(ir_graph *g, const ir_node *x, const char *what, char *err, size_t errsize);
/* the output size of window op n on x; -1 and a message when none fits */
int window_out(const ir_node *n, const ir_node *x, int *oh, int *ow, char *err, size_t errsize);
/* a node of op with n's window attributes, inputs in and the shape of like */
int window_node(ir_graph *g, ir_op op, const ir_node *n, int nin, const int *in,
                const ir_node *like);

/* conv.c, for conv_direct.c: the backward ops' shape (given), an optional bias (input 2) of n fits
 * the weight w; the FLOPs of conv2d and of the weight gradient; the second derivatives' rule of the
 * backward ops (b: the patches or the images) */
int shape_conv_grad(ir_graph *g, ir_node *n, char *err, size_t errsize); /* given: col's, w's */
int conv_check_bias(ir_graph *g, const ir_node *n, const ir_node *w, char *err, size_t errsize);
double flops_conv2d(ir_graph *g, const ir_node *n, int b);
double flops_conv_grad_weight(ir_graph *g, const ir_node *n, int b);
void vjp2_conv_grad(ad_ctx *c, const ir_node *n, int u);

/* conv_product.c: the kernel of a convolution's product (conv2d and its
 * input and weight gradients), by the cost model there */
plan_kernel conv_product_kernel(ir_graph *g, const ir_node *n, int b);
/* one image's product of group g (in the caller's loop over g) of conv op
 * n (forward or input gradient) on the group's operands a, b, c: C stored
 * (beta 0) or added to (beta 1) */
void conv_emit_product(emitter *e, const ir_node *n, const char *a, const char *b, const char *c,
                       int beta);
/* the weight gradient n's products over B images (dy, col: the step's
 * buffers), added to dw */
void conv_emit_weight_products(emitter *e, const ir_node *n, long B, const char *dy,
                               const char *col, const char *dw);
/* the cost model's figures for the block, when the kernel is ours */
void conv_emit_product_note(emitter *e, const ir_node *n);

#endif
