/* ir.c — the graph: node storage, shapes, broadcasting and C-safe names. */
#include "ir.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const op_names[] = {
#define X(e, s) s,
    IR_OPS(X)
#undef X
};

const char *ir_op_name(ir_op op)
{
    return op < OP_COUNT ? op_names[op] : "?";
}

void ir_init_graph(ir_graph *g, arena *A)
{
    memset(g, 0, sizeof *g);
    g->A = A;
    g->loss = g->output = g->input = g->labels = -1;
    g->train.epochs = 1;
    g->train.seed = 1;
    g->train.shuffle = 1;
    g->train.batch = 0;
}

int ir_add(ir_graph *g, ir_op op, int nin, const int *in)
{
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 256;
        ir_node *nodes = arena_alloc(g->A, sizeof *nodes * (size_t)cap);
        if (g->n) memcpy(nodes, g->nodes, sizeof *nodes * (size_t)g->n);
        g->nodes = nodes;
        g->cap = cap;
    }
    ir_node *n = &g->nodes[g->n];
    memset(n, 0, sizeof *n);
    n->id = g->n;
    n->op = op;
    n->kind = K_ACT;
    n->nin = nin;
    for (int i = 0; i < nin; i++) n->in[i] = in[i];
    n->grad = -1;
    n->recomputes = -1;
    n->trainable = 1;
    n->group_lr = n->group_wd = NAN;
    return g->n++;
}

ir_node *ir_get(ir_graph *g, int id)
{
    return &g->nodes[id];
}

long ir_numel(const ir_node *n, int batch)
{
    long k = 1;
    for (int i = 0; i < n->rank; i++) k *= n->dim[i] == IR_BATCH ? batch : n->dim[i];
    return k;
}

int ir_same_shape(const ir_node *a, const ir_node *b)
{
    if (a->rank != b->rank) return 0;
    for (int i = 0; i < a->rank; i++)
        if (a->dim[i] != b->dim[i]) return 0;
    return 1;
}

int ir_is_batched(const ir_node *n)
{
    for (int i = 0; i < n->rank; i++)
        if (n->dim[i] == IR_BATCH) return 1;
    return 0;
}

const char *ir_shape_str(const ir_node *n, char *buf, int size)
{
    int k = snprintf(buf, (size_t)size, "[");
    if (n->rank == 0) k += snprintf(buf + k, (size_t)(size - k), "scalar");
    for (int i = 0; i < n->rank && k < size; i++) {
        if (n->dim[i] == IR_BATCH)
            k += snprintf(buf + k, (size_t)(size - k), "%sB", i ? " x " : "");
        else
            k += snprintf(buf + k, (size_t)(size - k), "%s%d", i ? " x " : "", n->dim[i]);
    }
    if (k < size) snprintf(buf + k, (size_t)(size - k), "]");
    return buf;
}

int ir_broadcast(const ir_node *a, const ir_node *b, int *rank, int *dim)
{
    int r = a->rank > b->rank ? a->rank : b->rank;
    for (int i = 0; i < r; i++) {
        int ia = a->rank - r + i, ib = b->rank - r + i;
        int da = ia >= 0 ? a->dim[ia] : 1, db = ib >= 0 ? b->dim[ib] : 1;
        if (da == db || db == 1)
            dim[i] = da;
        else if (da == 1)
            dim[i] = db;
        else
            return 0;
    }
    *rank = r;
    return 1;
}

static const char *const c_keywords[] = {
    "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else", "enum",
    "extern", "float", "for", "goto", "if", "inline", "int", "long", "register", "restrict",
    "return", "short", "signed", "sizeof", "static", "struct", "switch", "typedef", "union",
    "unsigned", "void", "volatile", "while", "real", "main", "param", "grad", "arena", "x", "y",
    "out", "state", "lr", "t", "i", "j", "k", "_Bool", "_Complex", "_Imaginary", "bool", "true",
    "false", "NULL", "errno",
    /* names the generated code calls (tgmath, libc, the runtime) */
    "exp", "log", "sqrt", "fabs", "abs", "tanh", "pow", "fmax", "fmin", "sin", "cos", "log1p",
    "expm1", "fma", "memset", "memcpy", "model", "loss", "rows", "batch",
    /* locals of the emitted blocks */
    "l", "r", "c", "s", "m", "p", "xr", "yr", "zr", "dr", "gr", "xi", "yi", "scale", "total", "lse",
    "aip", "ci", "rng",
    /* batch_norm's and dropout's locals (gen/ops/norm.c) and the step's noise key */
    "b", "d", "q", "mean", "invstd", "sg", "sgx", "mg", "mgx", "noise", "stream",
    /* synchronised batch norm's (train { shards }: gen/shards.h) */
    "partial", "phase", "step_rows", "count",
    /* locals of the convolution and pooling blocks (gen/ops/conv.c) */
    "g", "bc", "oc", "oy", "ox", "iy", "ix", "xi", "at", "base", "arg", "wv", "yb", "colb", "colr",
    "cg", "gb", "db", "dg", "xc", "share", "acc", "lane", "p0", "sum", "v", "take",
    /* PROFILE_BEGIN's locals (templates/model.c) */
    "prof_start", "prof_on",
    /* the fused update's argument and function (gen/fuse_update.c) */
    "u", "update_range", "model_update_args", "update_strip", "update_strip_done",
    "update_strip_ctx", "update_store",
    /* the optimizer update's loop and its builds (runtime/rt_fma.h) */
    "update_loop", "update_range_v4", "update_range_v3", "update_range_sse2"};

int ir_sole_reader(ir_graph *g, int id, int reader)
{
    for (int i = 0; i < g->n; i++)
        for (int k = 0; k < ir_get(g, i)->nin; k++)
            if (i != reader && ir_get(g, i)->in[k] == id) return 0;
    return 1;
}

int ir_per_channel(const ir_node *x, const ir_node *y)
{
    if (y->rank < 2 || x->rank > y->rank || y->dim[1] == IR_BATCH) return 0;
    for (int i = 0; i < y->rank; i++) {
        int xi = x->rank - y->rank + i;
        int d = xi >= 0 ? x->dim[xi] : 1;
        if (d != (i == 1 ? y->dim[1] : 1)) return 0;
    }
    return 1;
}

const char *ir_c_name(ir_graph *g, const char *text)
{
    char buf[64];
    int k = 0;
    for (const char *s = text; *s && k < 48; s++) {
        unsigned char c = (unsigned char)*s;
        if (isalnum(c) && c < 128)
            buf[k++] = (char)tolower(c);
        else if (k > 0 && buf[k - 1] != '_')
            buf[k++] = '_';
    }
    while (k > 0 && buf[k - 1] == '_') k--;
    buf[k] = 0;
    if (k == 0) snprintf(buf, sizeof buf, "t");
    char base[80];
    if (isdigit((unsigned char)buf[0]) || buf[0] == '_')
        snprintf(base, sizeof base, "t_%s", buf);
    else
        snprintf(base, sizeof base, "%s", buf);
    for (size_t i = 0; i < sizeof c_keywords / sizeof *c_keywords; i++)
        if (!strcmp(base, c_keywords[i])) {
            snprintf(base + strlen(base), sizeof base - strlen(base), "_");
            break;
        }
    /* unique: append a counter when taken (names are few; linear scan) */
    char cand[96];
    snprintf(cand, sizeof cand, "%s", base);
    for (int suffix = 2;; suffix++) {
        int taken = !strcmp(cand, g->model_name ? g->model_name : "");
        for (int i = 0; i < g->n && !taken; i++)
            if (g->nodes[i].name && !strcmp(g->nodes[i].name, cand)) taken = 1;
        if (!taken) break;
        snprintf(cand, sizeof cand, "%s_%d", base, suffix);
    }
    return arena_strdup(g->A, cand);
}

void ir_renamed(ir_graph *g, const char *what, const char *typed, const char *written,
                const char *file, int line)
{
    if (g->nrenames < IR_MAX_RENAMES)
        g->renames[g->nrenames] =
            (ir_rename){what, arena_strdup(g->A, typed), arena_strdup(g->A, written), file, line};
    g->nrenames++;
}
