/* ir.h — the graph every stage reads and writes: nodes with fixed shapes
 * (the batch dimension symbolic), attributes, names and spec positions, plus
 * the model's settings (data, optimizer, training). The only thing stages share. */
#ifndef IR_H
#define IR_H

#include <stdint.h>

#include "arena.h"

#define IR_MAX_RANK 4
#define IR_MAX_IN 4
#define IR_BATCH (-1) /* a dimension equal to the batch size of the variant */
#define IR_ALL 99     /* reduce over every axis */
#define BN_CUMULATIVE                                                                              \
    (-1.0) /* batch_norm_stats f[1]: average all batches (torch momentum=None)                     \
            */

/* The op list: one row per op, X(ENUM, "spec name"). Each op's duties (shape,
 * forward code, vector-Jacobian rule, FLOPs) live in one op_def in gen/ops/. */
#define IR_OPS(X)                                                                                  \
    X(INPUT, "input")                                                                              \
    X(LABELS, "labels")                                                                            \
    X(PARAM, "param")                                                                              \
    X(CONST, "const")                                                                              \
    X(ADD, "add")                                                                                  \
    X(SUB, "sub")                                                                                  \
    X(MUL, "mul")                                                                                  \
    X(DIV, "div")                                                                                  \
    X(NEG, "neg")                                                                                  \
    X(POW, "pow")                                                                                  \
    X(EXP, "exp")                                                                                  \
    X(LOG, "log")                                                                                  \
    X(SQRT, "sqrt")                                                                                \
    X(ABS, "abs")                                                                                  \
    X(SIGN, "sign")                                                                                \
    X(RELU, "relu")                                                                                \
    X(LEAKY_RELU, "leaky_relu")                                                                    \
    X(SIGMOID, "sigmoid")                                                                          \
    X(TANH, "tanh")                                                                                \
    X(SOFTPLUS, "softplus")                                                                        \
    X(RELU_GRAD, "relu_backward")                                                                  \
    X(LEAKY_RELU_GRAD, "leaky_relu_backward")                                                      \
    X(SIGMOID_GRAD, "sigmoid_backward")                                                            \
    X(TANH_GRAD, "tanh_backward")                                                                  \
    X(SOFTMAX, "softmax")                                                                          \
    X(LOG_SOFTMAX, "log_softmax")                                                                  \
    X(SOFTMAX_GRAD, "softmax_backward")                                                            \
    X(LOG_SOFTMAX_GRAD, "log_softmax_backward")                                                    \
    X(SUM_TO, "sum")                                                                               \
    X(EXPAND, "expand")                                                                            \
    X(RESHAPE, "reshape")                                                                          \
    X(TRANSPOSE, "transpose")                                                                      \
    X(COPY, "copy")                                                                                \
    X(MATMUL, "matmul")                                                                            \
    X(CROSS_ENTROPY, "cross_entropy")                                                              \
    X(CROSS_ENTROPY_GRAD, "cross_entropy_backward")                                                \
    X(BCE, "bce")                                                                                  \
    X(BCE_GRAD, "bce_backward")                                                                    \
    X(BCE_LOGITS, "bce_with_logits")                                                               \
    X(BCE_LOGITS_GRAD, "bce_with_logits_backward")                                                 \
    X(LOGISTIC, "logistic")                                                                        \
    X(LOGISTIC_GRAD, "logistic_backward")                                                          \
    /* normalisation and regularisation layers: gen/ops/norm.c */                                  \
    X(BN_STATS, "batch_norm_stats")                                                                \
    X(BN_NORM, "batch_norm")                                                                       \
    X(BN_NORM_GRAD, "batch_norm_backward")                                                         \
    X(DROPOUT, "dropout")                                                                          \
    X(PENALTY_SWITCH, "penalty_switch")                                                            \
    /* activations and losses: gen/ops/elementwise.c, gen/ops/loss.c */                            \
    X(ELU, "elu")                                                                                  \
    X(ELU_GRAD, "elu_backward")                                                                    \
    X(GELU, "gelu")                                                                                \
    X(GELU_GRAD, "gelu_backward")                                                                  \
    X(GELU_TANH, "gelu_tanh")                                                                      \
    X(GELU_TANH_GRAD, "gelu_tanh_backward")                                                        \
    X(SOFTPLUS_GRAD, "softplus_backward")                                                          \
    X(HARDTANH, "hardtanh")                                                                        \
    X(HARDTANH_GRAD, "hardtanh_backward")                                                          \
    X(HUBER, "huber")                                                                              \
    X(HUBER_GRAD, "huber_backward")                                                                \
    X(SMOOTH_L1, "smooth_l1")                                                                      \
    X(SMOOTH_L1_GRAD, "smooth_l1_backward")                                                        \
    X(XLOGX, "xlogx")                                                                              \
    X(XLOGX_GRAD, "xlogx_backward")                                                                \
    X(NLL, "nll")                                                                                  \
    X(NLL_GRAD, "nll_backward")                                                                    \
    /* convolution and pooling: gen/ops/conv.c */                                                  \
    X(IM2COL, "im2col")                                                                            \
    X(COL2IM, "col2im")                                                                            \
    X(CONV2D, "conv2d")                                                                            \
    X(CONV2D_GRAD_INPUT, "conv2d_backward_input")                                                  \
    X(CONV2D_GRAD_WEIGHT, "conv2d_backward_weight")                                                \
    X(CONV2D_GRAD_BIAS, "conv2d_backward_bias")                                                    \
    X(CONV2D_DIRECT, "conv2d_direct")                                                              \
    X(CONV2D_DIRECT_GRAD_WEIGHT, "conv2d_direct_backward_weight")                                  \
    X(MAX_POOL2D, "max_pool2d")                                                                    \
    X(MAX_POOL2D_GRAD, "max_pool2d_backward")                                                      \
    X(AVG_POOL2D, "avg_pool2d")                                                                    \
    X(AVG_POOL2D_GRAD, "avg_pool2d_backward")                                                      \
    /* Hessian-vector products: gen/hvp.c, gen/ops/elementwise.c */                                \
    X(HVP_VECTOR, "hvp_vector")                                                                    \
    X(SECOND_DERIV, "second_derivative")                                                          \
    X(MAX_POOL2D_GATHER, "max_pool2d_gather")                                                      \
    X(MAX_POOL2D_ARGMAX, "max_pool2d_argmax")

typedef enum ir_op {
#define X(e, s) OP_##e,
    IR_OPS(X)
#undef X
        OP_COUNT
} ir_op;

/* What a node's buffer is: where it lives at run time. */
typedef enum ir_kind {
    K_ACT,   /* activation or gradient in the planned arena */
    K_INPUT, /* the batch's features */
    K_LABEL, /* the batch's labels */
    K_PARAM, /* the flat parameter buffer */
    K_CONST, /* a literal in the code */
    K_VECTOR, /* the vector v of a Hessian-vector product: one slice per parameter (gen/hvp.c) */
} ir_kind;

/* Which part of the step a node belongs to, for ordering and comments. */
typedef enum ir_phase { PH_FORWARD, PH_LOSS, PH_BACKWARD } ir_phase;

typedef enum ir_init_kind {
    INIT_ZEROS,
    INIT_CONSTANT,
    INIT_UNIFORM,
    INIT_NORMAL,
    INIT_ORTHOGONAL, /* a = gain */
} ir_init_kind;

/* How a parameter is drawn; bounds are final (fans and gains applied). */
typedef struct ir_init {
    ir_init_kind kind;
    double a, b;      /* uniform bounds, normal mean/std, constant value in a */
    const char *what; /* the initialiser as written, for the comment */
} ir_init;

typedef struct ir_node {
    int id;
    ir_op op;
    ir_kind kind;
    ir_phase phase;
    int nin;
    int in[IR_MAX_IN];
    int rank;
    int dim[IR_MAX_RANK]; /* IR_BATCH marks the batch dimension */
    double f[4];          /* float attributes (op-specific) */
    int i[4];             /* int attributes (op-specific) */
    const char *name;     /* C-safe, unique */
    const char *label;    /* as the spec names it (parameters: "fc1.weight") */
    const char *file;     /* spec file and line it came from */
    int line;
    const char *via; /* made inside a prelude function: "mish, gen/prelude.lua:7" */
    const char *why; /* where the spec chose this node's kernel: why (trainc explain) */
    int grad;        /* autodiff: node holding d(loss)/d(this), or -1 */
    int recomputes;  /* a copy gen/recompute.c made: the forward node whose value it computes
                      * again for the backward (under --max-memory), else -1 */
    long offset;     /* K_PARAM: offset in the flat buffer */
    ir_init init;    /* K_PARAM */
    int trainable;   /* K_PARAM */
    int buffer;      /* K_PARAM: a running statistic (PyTorch's "buffer"): updated by the
                      * training step itself, never by the optimizer; trainable = 0 */
    int count;       /* K_PARAM: a whole-number buffer (num_batches_tracked): int64 in exports */
    double group_lr,
        group_wd; /* K_PARAM: its optimizer group's lr and weight decay (NAN: the optimizer's) */
} ir_node;

/* The task the objective implies: how predictions and accuracy are read. */
typedef enum ir_task {
    TASK_NONE,     /* a bare objective: loss only */
    TASK_CLASSIFY, /* argmax over classes */
    TASK_BINARY,   /* probability >= 0.5 */
    TASK_LOGIT,    /* logit >= 0 */
    TASK_SIGN,     /* sign, labels in {-1, +1} */
    TASK_REGRESS,  /* values */
} ir_task;

#define IR_MAX_OPT 16
#define IR_MAX_LIST 8
/* A choice the spec makes by name with options (the optimizer, the
 * schedule): as written, then resolved by optim.c with PyTorch's defaults.
 * A value is a number, a boolean (0/1), a pair (betas) or a list
 * (milestones) of up to IR_MAX_LIST numbers. */
typedef struct ir_choice {
    const char *name;
    const char *file;
    int line;
    int nset; /* as written */
    const char *set_key[IR_MAX_OPT];
    double set_value[IR_MAX_OPT][IR_MAX_LIST];
    int set_len[IR_MAX_OPT];
    const char *set_word[IR_MAX_OPT];      /* a string value ("min", "epoch"), else NULL */
    double value[IR_MAX_OPT][IR_MAX_LIST]; /* resolved, in the definition's option order */
    int len[IR_MAX_OPT];
} ir_choice;

typedef struct ir_optimizer {
    ir_choice c;
    double lr;    /* the base learning rate */
    int nbuffers; /* state buffers of N_PARAMS values each */
    int nscalars; /* state values after the buffers */
    long n_state;
} ir_optimizer;

typedef struct ir_schedule {
    ir_choice c;  /* c.name NULL: a constant learning rate */
    int per_step; /* counts optimizer steps, not epochs */
} ir_schedule;

/* a CSV column by name, or (name NULL) by index; as rt_column */
typedef struct ir_column {
    const char *name;
    int index;
} ir_column;

typedef struct ir_data {
    int kind; /* rt_source_kind of the training set */
    const char *train_images, *train_labels, *test_images, *test_labels;
    const char *train_path, *test_path; /* CSV */
    const char *label;                  /* CSV label column name */
    int label_col, header;              /* label_col RT_CSV_LAST: the last */
    char sep;                           /* CSV: 0 detected */
    const ir_column *features, *drop;   /* CSV: chosen or dropped columns */
    int n_features, n_drop;
    int n, n_test, d; /* synthetic sizes */
    double noise;
    uint32_t seed; /* synthetic: the data's own seed (default: the training seed) */
    int has_seed;
    double scale; /* 0 = none */
    int standardize;
    double valid;              /* fraction of the training rows held out for validation */
    double test_frac;          /* test = 0.2: fraction of the training rows held out for testing */
    int valid_tail, test_tail; /* order = "tail": the last rows, not a draw */
    int test_split;            /* test is a fraction (test_frac), not a file */
    uint32_t split_seed;       /* the draw's seed (default: the training seed) */
    int has_split_seed;        /* given in the spec (valid = { seed = S }) */
    const char *file;
    int line;
} ir_data;

#define IR_SHARDS_AUTO (-2)
typedef struct ir_train {
    int batch; /* 0 = full batch */
    int epochs;
    uint32_t seed;
    int shuffle;
    int drop_last;
    double clip_grad_norm;  /* 0: none; else torch.nn.utils.clip_grad_norm_(max_norm) */
    double clip_grad_value; /* 0: none; else clip_grad_value_(v) */
    int early_stop;         /* stop when the monitored loss stops improving */
    int es_patience, es_restore, es_monitor_loss;
    double es_min_delta;
    int stratify;            /* batches hold the classes in proportion */
    int aug_crop, aug_flip;  /* image augmentation: pad-and-crop margin, left-right flip */
    int img_c, img_h, img_w; /* the image shape augmentation works on (gen/main.c) */
    int sample_replace;      /* sampling = "replacement": rows drawn with replacement */
    double stop_grad_norm;   /* > 0: stop at a full-batch gradient norm this low */
    int shards;              /* the step's batch in this many shards (gen/shards.c); 0 (not
                                given): the default rule; IR_SHARDS_AUTO: shards = "auto" */
    int shards_by_rule;      /* shard_check took shards from the rule (not given, or "auto") */
    int hvp;                 /* hvp = true (or trainc --hvp): generate model_hvp (gen/hvp.c) */
    int track_sharpness;     /* N > 0: λmax every N epochs in the metrics (needs model_hvp) */
    int line;                /* of the train { } call */
} ir_train;

/* A name the spec gave that trainc writes otherwise (a model name for C,
 * a layer name for file names): reported as a warning, shown by `info`. */
typedef struct ir_rename {
    const char *what; /* "model" or "layer" */
    const char *typed, *written;
    const char *file; /* where it was given; line 0: the spec's file name */
    int line;
} ir_rename;
#define IR_MAX_RENAMES 64

typedef struct ir_graph {
    arena *A;
    ir_node *nodes;
    int n, cap;
    const char *model_name;  /* C-safe */
    const char *model_typed; /* as the spec gave it (or its file name's stem) */
    int model_line;          /* of model "..." (0: the file name's) */
    ir_rename renames[IR_MAX_RENAMES];
    int nrenames; /* more than IR_MAX_RENAMES: counted, the first kept */
    const char *spec_path;
    char spec_hash[17];
    int loss;   /* the scalar minimised */
    int output; /* the prediction node */
    int input, labels;
    int classes;   /* from labels { classes = K }; 0 = values */
    /* class names (labels { classes = { "a", "b" } }, or the CSV label
     * column's distinct names, sorted): n_class_names == classes, or 0 */
    const char *const *class_names;
    int n_class_names;
    int classes_from_data; /* labels { }: the classes are the CSV's (probe re-reads) */
    int label_len; /* label values per row */
    ir_task task;
    long n_params;
    int has_data;
    ir_data data;
    ir_optimizer opt;
    ir_schedule sched;
    ir_train train;
    /* sizes fixed at generation time from the data */
    int32_t n_train, n_valid, n_test, features;
    int32_t n_test_split; /* training rows held out for testing (test = fraction) */
    int split_classes;    /* the held-out rows are stratified over this many classes (0: not) */
    double recompute_mib; /* the --max-memory (MiB) that made gen/recompute.c recompute nodes; 0 */
} ir_graph;

void ir_init_graph(ir_graph *g, arena *A);
/* Appends a node; returns its id. Shape and checks are the caller's. */
int ir_add(ir_graph *g, ir_op op, int nin, const int *in);
ir_node *ir_get(ir_graph *g, int id);
const char *ir_op_name(ir_op op);

/* Shapes */
long ir_numel(const ir_node *n, int batch); /* with IR_BATCH = batch */
int ir_same_shape(const ir_node *a, const ir_node *b);
int ir_is_batched(const ir_node *n);
/* "[B x 784]" into buf */
const char *ir_shape_str(const ir_node *n, char *buf, int size);
/* numpy broadcasting of two shapes; 0 if incompatible */
int ir_broadcast(const ir_node *a, const ir_node *b, int *rank, int *dim);
/* Whether node reader is the only node that reads node id */
int ir_sole_reader(ir_graph *g, int id, int reader);
/* Whether x broadcasts over y with one value per channel (axis 1 of y):
 * a bias, batch norm's γ and β. */
int ir_per_channel(const ir_node *x, const ir_node *y);

/* A C identifier from any text: letters, digits, '_'; never empty, never a
 * keyword, never starting with a digit. Unique within the graph. */
const char *ir_c_name(ir_graph *g, const char *text);
/* Records that the spec's name typed is written as written (see ir_rename). */
void ir_renamed(ir_graph *g, const char *what, const char *typed, const char *written,
                const char *file, int line);

#endif
