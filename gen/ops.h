/* ops.h — one row per op: its shape rule, forward code, vector-Jacobian rule,
 * FLOP count, and every fact a pass needs to know about it (its gradient
 * op, what fusion may do with it, its kernel choice). The rows live in
 * gen/ops/<family>.c; ops.c indexes them by ir_op. Passes read the row and
 * never switch on op kinds. Adding an op: one X() line in ir.h and one
 * op_def in its family. */
#ifndef OPS_H
#define OPS_H

#include <stddef.h>

#include "ir.h"
#include "variant.h"

struct emitter;
struct ad_ctx;

/* What the plan may do with an op beyond computing it in a loop of its own
 * (op_def.flags). Elementwise ops (a cexpr) are fused into their reader's
 * loop; these are the rest. */
enum {
    /* its forward emitter stores every value through e_store_ref /
     * e_epilogue: an elementwise reader can run in its store (an epilogue) */
    OPF_EPILOGUE = 1 << 0,
    /* (a convolution) in eval takes a batch norm that alone reads it, as
     * y = v·s + t per channel in its epilogue */
    OPF_FOLDS_BN = 1 << 1,
    /* (batch norm) in eval a per-channel affine map of in[0] with the
     * statistics in[1]: folded into an OPF_FOLDS_BN producer */
    OPF_BN = 1 << 2,
    /* (batch norm) in training its own value is read by the backward: an
     * epilogue stores the activation beside it */
    OPF_KEEP_IN_TRAIN = 1 << 3,
    /* (batch norm statistics) in eval reads the running statistics, not
     * the values of in[0] */
    OPF_EVAL_IGNORES_IN0 = 1 << 4,
    /* its output is in[0]'s storage, reinterpreted (reshape): no code */
    OPF_VIEW = 1 << 5,
    /* in eval its forward is the identity (dropout): a view of in[0] */
    OPF_EVAL_IDENTITY = 1 << 6,
    /* draws counter-based noise (dropout masks): the step says how */
    OPF_NOISE = 1 << 7,
    /* y = a·b and y = a + b elementwise: the folded batch norm recognises
     * its affine part γ·x̂ + β through them */
    OPF_MUL = 1 << 8,
    OPF_ADD = 1 << 9,
    /* writes state besides its own value (batch norm's running statistics):
     * never computed again for the backward (gen/recompute.c) */
    OPF_STATEFUL = 1 << 10,
};

/* A numeric option of an op's spec function, as torch names it, and its
 * default */
typedef struct op_option {
    const char *name;
    double dflt;
} op_option;

/* How a spec calls the op (op_def.dsl): name(x, options...) with the
 * options in f[0], f[1], given positionally or by name, finite; a layer
 * maker for sequential (Name(options...) -> a function of x). The spec
 * layer registers these from the rows (gen/spec/); ops whose calls need
 * more (linear, conv2d, the losses) have spec functions of their own. */
typedef struct op_dsl {
    const char *name;  /* the spec function, or NULL: none */
    const char *layer; /* its layer maker for sequential, or NULL */
    /* a plain number in gives a number out (exp(1) stays a number); NULL:
     * tensors only */
    double (*number)(double x);
    op_option opt[2]; /* name NULL: no option */
    /* a check of the options together: -1 and what is wrong (after "name: ")
     * in msg */
    int (*check)(const double *f, char *msg, size_t size);
} op_dsl;

typedef struct op_def {
    /* the math, as the block comment prints it (A, B = inputs, P = f[0]) */
    const char *math;
    /* C expression of one element for elementwise ops, same placeholders;
     * such ops need no emit: the driver prints them with e_elementwise */
    const char *cexpr;
    /* sets n->rank/dim from the inputs and attributes; on a bad shape writes
     * a message into err and returns -1 */
    int (*shape)(ir_graph *g, ir_node *n, char *err, size_t errsize);
    /* prints the code for the variant's concrete shapes (NULL: elementwise) */
    void (*emit)(struct emitter *e, const ir_node *n);
    /* appends the backward nodes given the node holding d(loss)/d(n) */
    void (*vjp)(struct ad_ctx *c, const ir_node *n, int gout);
    /* floating-point operations at batch size b */
    double (*flops)(ir_graph *g, const ir_node *n, int b);
    /* the backward op its vjp makes (activations and loss terms whose
     * backward is one op of the input(s) and dy), else 0 */
    ir_op grad_op;
    unsigned flags; /* OPF_* */
    /* the cexpr when it depends on the attributes (pow's small powers) */
    const char *(*expr)(const ir_node *n);
    /* whether its epilogue may store over in[0] (each input value is read
     * before the store that could overwrite it); NULL: never */
    int (*in_place)(const ir_node *n);
    /* the kernel at batch size b; NULL: straight-line code for a few
     * values, loops otherwise */
    plan_kernel (*kernel)(ir_graph *g, const ir_node *n, int b);
    /* the math line of the block comment when it names the node's operands
     * (a product's); NULL: math */
    const char *(*describe)(struct emitter *e, const ir_node *n);
    /* a nonlinearity whose output --layer-metrics measures (mean, std, dead,
     * saturated): returns 1 with its bounds in lo, hi when its values are
     * bounded (tanh, sigmoid, hardtanh), 0 when not; NULL: not one */
    int (*act_bounds)(const ir_node *n, double *lo, double *hi);
    /* float only: a runtime function y[i] = op(x[i]) over an array, faster
     * than the cexpr element by element (rt_act.c's vectorised tanh); a
     * product with the op as the last of its epilogue stores the rest and
     * calls it on the stored values. NULL: none */
    const char *array_fn;
    /* what trainc's own products (runtime/rt_gemm.c's rt_gemm_epi) compute
     * of this elementwise op in their store: GEMM_EPI_RELU (y = max(x, 0) of
     * the product's value, or of it plus a bias), GEMM_EPI_MASK (relu's
     * backward, A > 0 ? B : 0 with B the product's value and A a buffer of
     * its shape); 0: nothing (the op runs after the product) */
    int gemm_epi;
    /* a backward op whose emitter can store relu's backward mask with A the
     * node `mask` (a GEMM_EPI_MASK reader: A > 0 ? its value : 0) in place of
     * each value, as trainc's products do (max pooling's backward, windows
     * apart, A its input). NULL: none */
    int (*stores_mask)(struct ir_graph *g, const ir_node *n, int mask);
    op_dsl dsl; /* the spec's function for it, if it is called by name */
    /* a value the block of another node stores besides its own (max
     * pooling's argmax, saved for the backward): that node is of this op,
     * reads the same in[0] with the same attributes and is computed in the
     * same variant (plan.c's side outputs, variant.h); else this row's emit
     * computes it alone. 0: not one */
    ir_op side_of;
    /* a backward op's second derivative for Hessian-vector products
     * (gen/hvp.c): the cexpr of w times d(row's value)/d(its first input)
     * per unit of dy, where w (B; C for the two-input rows whose inputs A,
     * B enter as A - B) is the adjoint times dy. "0": none (piecewise
     * linear, as torch's double backward); NULL: not an elementwise rule */
    const char *d2expr;
    /* train { shards = S > 1 }: an op that needs sums over the whole step's
     * rows (batch norm in training) synchronises the shards (gen/shards.c):
     * sync_points returns how many times (0: never) and each point's
     * number of doubles in len[]; emit_part prints part k = 0..points of its
     * code in a shard's step, where part k < points ends with the shard's
     * sums in `partial` and part k > 0 begins after they were combined in
     * shard order into `total`; emit_synced prints what runs once per step
     * (on every process) after point k's combine. NULL: never syncs */
    int (*sync_points)(const ir_graph *g, const ir_node *n, long *len);
    void (*emit_part)(struct emitter *e, const ir_node *n, int part);
    void (*emit_synced)(struct emitter *e, const ir_node *n, int point);
} op_def;

enum { GEMM_EPI_RELU = 1, GEMM_EPI_MASK = 2 };
/* TRAINC_NO_GEMM_EPILOGUE=1 at generation: rt_gemm.c's products store
 * plain values, their epilogues run in loops after them and relu's
 * backward in a block of its own (gen/ops/matmul.c) */
int ops_gemm_epilogue_off(void);

const op_def *op_get(ir_op op);
/* The backward op of n's row (op_def.grad_op); an internal error if none. */
ir_op op_grad(const ir_node *n);

/* Arguments for making a node: inputs, attributes, and the shape for ops
 * whose output shape is an attribute (reshape, sum, expand). */
typedef struct ir_args {
    int nin;
    int in[IR_MAX_IN];
    double f[4];
    int i[4];
    int rank;
    int dim[IR_MAX_RANK];
} ir_args;

/* Makes a node and runs its shape rule; -1 and a message on a bad shape. */
int ir_make(ir_graph *g, ir_op op, const ir_args *a, char *err, size_t errsize);

/* Shorthands used by autodiff (shapes are known good there): a bad shape
 * is an internal error, reported and trapped. */
int ir_must(ir_graph *g, ir_op op, const ir_args *a);
int ir_unary(ir_graph *g, ir_op op, int x, double p);
int ir_binary(ir_graph *g, ir_op op, int a, int b);
int ir_const(ir_graph *g, double v);
int ir_matmul(ir_graph *g, int a, int b, int ta, int tb);
int ir_shaped(ir_graph *g, ir_op op, int x, const ir_node *like, int mean);

/* The C expression of one element when n maps elements to elements with an
 * expression (A, B, C = inputs; P, Q = attributes), else NULL: such nodes
 * can be fused into the loop of their consumer. */
const char *elementwise_expr(const ir_node *n);

/* Output size of a window of k (dilation d) swept with stride s over in
 * values padded by p on both sides, as PyTorch (floor); 0 if none fits. */
int conv_out_size(int in, int k, int s, int p, int d);
/* The fixed sizes of a convolution, for the choice of its kernel. */
typedef struct conv_sizes {
    int C, OC, kh, kw, sh, sw, ph, pw, OH, OW, groups;
} conv_sizes;
/* The most values (OC·C·kh·kw·OW) of the direct weight gradient's per-image
 * rows, a stack array. */
#define CONV_DIRECT_MAX_ROWS 65536
/* Whether conv2d_direct can compute the convolution of x: groups 1, x free
 * of parameters (no input gradient) and its rows within the limit. */
int conv_direct_possible(ir_graph *g, int x, const conv_sizes *z);
/* Whether the cost model expects conv2d_direct to be faster than im2col
 * and the product (conv.c, calibrated by measurements listed there). */
int conv_direct_cheaper(const conv_sizes *z);
/* The cost model's nanoseconds per image of each kernel (conv.c) */
void conv_estimate(const conv_sizes *z, double *direct, double *im2col);
/* The cost model's nanoseconds of runtime/rt_gemm.c's product of M x N x
 * K, B transposed or not (tb) (gen/ops/matmul.c) */
double matmul_gemm_ns(long m, long n, long k, int tb);
/* which CPU's rates matmul_gemm_ns uses: "AVX-512" or "AVX2" (TRAINC_GEMM_RATES) */
const char *matmul_rates_name(void);

/* Shared shape rules */
int shape_same(ir_graph *g, ir_node *n, char *err, size_t errsize);
int shape_broadcast(ir_graph *g, ir_node *n, char *err, size_t errsize);
int shape_scalar(ir_graph *g, ir_node *n, char *err, size_t errsize);
int shape_given(ir_graph *g, ir_node *n, char *err, size_t errsize);

/* Shared FLOP counts */
double flops_none(ir_graph *g, const ir_node *n, int b);
double flops_elem(ir_graph *g, const ir_node *n, int b);
double flops_elem4(ir_graph *g, const ir_node *n, int b);
double flops_in0(ir_graph *g, const ir_node *n, int b);

/* gen/ops/norm.c: batch_norm in training needs 2 or more values per channel
 * at the batch size and at the remainder (0: none); -1 and a message if not */
int norm_check_batch(ir_graph *g, int batch, int remainder, char *err, size_t errsize);

#endif
