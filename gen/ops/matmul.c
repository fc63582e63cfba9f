/* ops/matmul.c — C = op(A) · op(B), op = identity or transpose (i[0], i[1]).
 * Kernels: straight-line for tiny products, constant-bound loops for medium
 * ones, cblas_?gemm for large ones (the plan decides). */
#include <stdio.h>
#include <string.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../ops.h"

/* A is [m x k] (ta: [k x m]), B is [k x n] (tb: [n x k]) */
static void dims(const ir_node *a, const ir_node *b, int ta, int tb, int *m, int *ka, int *kb,
                 int *n)
{
    *m = ta ? a->dim[1] : a->dim[0];
    *ka = ta ? a->dim[0] : a->dim[1];
    *kb = tb ? b->dim[1] : b->dim[0];
    *n = tb ? b->dim[0] : b->dim[1];
}

static int shape_matmul(ir_graph *g, ir_node *n, char *err, size_t errsize)
{
    const ir_node *a = ir_get(g, n->in[0]), *b = ir_get(g, n->in[1]);
    char sa[64], sb[64];
    if (a->rank != 2 || b->rank != 2) {
        snprintf(err, errsize, "matmul needs two matrices, got %s and %s",
                 ir_shape_str(a, sa, sizeof sa), ir_shape_str(b, sb, sizeof sb));
        return -1;
    }
    int m, ka, kb, nn;
    dims(a, b, n->i[0], n->i[1], &m, &ka, &kb, &nn);
    if (ka != kb) {
        snprintf(err, errsize, "matmul: inner dimensions differ: %s%s and %s%s",
                 ir_shape_str(a, sa, sizeof sa), n->i[0] ? "ᵀ" : "", ir_shape_str(b, sb, sizeof sb),
                 n->i[1] ? "ᵀ" : "");
        return -1;
    }
    n->rank = 2;
    n->dim[0] = m;
    n->dim[1] = nn;
    return 0;
}

static void concrete(emitter *e, const ir_node *n, long *m, long *k, long *nn)
{
    const ir_node *a = ir_get(e->g, n->in[0]);
    *m = e_dim(e, n, 0);
    *nn = e_dim(e, n, 1);
    *k = n->i[0] ? e_dim(e, a, 0) : e_dim(e, a, 1);
}

static const char *elem_a_at(emitter *e, const ir_node *n, long m, long k, long i, long p)
{
    return e_fmt(e, "%s[%ld]", e_ref(e, n->in[0]), n->i[0] ? p * m + i : i * k + p);
}

static const char *elem_b_at(emitter *e, const ir_node *n, long k, long nn, long p, long j)
{
    return e_fmt(e, "%s[%ld]", e_ref(e, n->in[1]), n->i[1] ? j * k + p : p * nn + j);
}

static const char *elem_a(emitter *e, const ir_node *n, long m, long k, const char *i,
                          const char *p)
{
    return n->i[0] ? e_fmt(e, "%s[%s * %ld + %s]", e_ref(e, n->in[0]), p, m, i)
                   : e_fmt(e, "%s[%s * %ld + %s]", e_ref(e, n->in[0]), i, k, p);
}

static const char *elem_b(emitter *e, const ir_node *n, long k, long nn, const char *p,
                          const char *j)
{
    return n->i[1] ? e_fmt(e, "%s[%s * %ld + %s]", e_ref(e, n->in[1]), j, k, p)
                   : e_fmt(e, "%s[%s * %ld + %s]", e_ref(e, n->in[1]), p, nn, j);
}

typedef const char *(*epilogue_fn)(emitter *e, const ir_node *n, const char *v, const char *chan,
                                   const char *idx);

static void emit_matmul(emitter *e, const ir_node *n)
{
    long m, k, nn;
    concrete(e, n, &m, &k, &nn);
    const char *c = e_store_ref(e, n);
    /* a last op with an array form (tanh, sigmoid): the rest of the epilogue
     * in the store, the op on all the stored values after it */
    const int arr = e_epilogue_array_fn(e, n) != NULL;
    epilogue_fn epi = arr ? e_epilogue_inner_at : e_epilogue_at;
    switch (e_kernel(e, n)) {
    case KERN_BLAS:
        wr_line(
            e->w,
            "cblas_%cgemm(CblasRowMajor, %s, %s, %ld, %ld, %ld, 1, %s, %ld, %s, %ld, 0, %s, %ld);",
            e->dbl ? 'd' : 's', n->i[0] ? "CblasTrans" : "CblasNoTrans",
            n->i[1] ? "CblasTrans" : "CblasNoTrans", m, nn, k, e_ref(e, n->in[0]), n->i[0] ? m : k,
            e_ref(e, n->in[1]), n->i[1] ? k : nn, c, nn);
        break;
    case KERN_GEMV: {
        char t = e->dbl ? 'd' : 's';
        const char *a = e_ref(e, n->in[0]), *b = e_ref(e, n->in[1]);
        if (nn == 1) /* c = op(A) b, b a vector of k */
            wr_line(e->w, "cblas_%cgemv(CblasRowMajor, %s, %ld, %ld, 1, %s, %ld, %s, 1, 0, %s, 1);",
                    t, n->i[0] ? "CblasTrans" : "CblasNoTrans", n->i[0] ? k : m, n->i[0] ? m : k, a,
                    n->i[0] ? m : k, b, c);
        else /* c = a op(B), a a vector of k: c = op(B)ᵀ a */
            wr_line(e->w, "cblas_%cgemv(CblasRowMajor, %s, %ld, %ld, 1, %s, %ld, %s, 1, 0, %s, 1);",
                    t, n->i[1] ? "CblasNoTrans" : "CblasTrans", n->i[1] ? nn : k, n->i[1] ? k : nn,
                    b, n->i[1] ? k : nn, a, c);
        break;
    }
    case KERN_UNROLL:
        for (long i = 0; i < m; i++)
            for (long j = 0; j < nn; j++) {
                char buf[4096];
                int len = 0;
                for (long p = 0; p < k && len < (int)sizeof buf - 200; p++)
                    len +=
                        snprintf(buf + len, sizeof buf - (size_t)len, "%s%s * %s", p ? " + " : "",
                                 elem_a_at(e, n, m, k, i, p), elem_b_at(e, n, k, nn, p, j));
                /* with the fused op of the sum, straight-line too */
                wr_line(e->w, "%s[%ld] = %s;", c, i * nn + j,
                        epi(e, n, e_fmt(e, "(%s)", buf), e_fmt(e, "%ld", j),
                                      e_fmt(e, "%ld", i * nn + j)));
            }
        break;
    case KERN_LOOP:
        if (!n->i[1]) {
            /* i-p-j order: the inner loop runs along rows of B and C */
            wr_line(e->w, "for (long i = 0; i < %ld; i++) {", m);
            wr_line(e->w, "real *ci = %s + i * %ld;", c, nn);
            wr_line(e->w, "for (long j = 0; j < %ld; j++) ci[j] = 0;", nn);
            wr_line(e->w, "for (long p = 0; p < %ld; p++) {", k);
            wr_line(e->w, "const real aip = %s;", elem_a(e, n, m, k, "i", "p"));
            wr_line(e->w, "for (long j = 0; j < %ld; j++) ci[j] += aip * %s;", nn,
                    elem_b(e, n, k, nn, "p", "j"));
            wr_line(e->w, "}");
            if (e_has_epilogue(e, n)) /* the fused op on the finished row */
                wr_line(e->w,
                        "for (long j = 0; j < %ld; j++) { const real v = ci[j]; ci[j] = %s; }", nn,
                        epi(e, n, "v", "j", e_fmt(e, "i * %ld + j", nn)));
            wr_line(e->w, "}");
        } else {
            /* B transposed: each C element is a dot product along rows of B */
            wr_line(e->w, "for (long i = 0; i < %ld; i++) {", m);
            wr_line(e->w, "for (long j = 0; j < %ld; j++) {", nn);
            const char *term =
                e_fmt(e, "%s * %s", elem_a(e, n, m, k, "i", "p"), elem_b(e, n, k, nn, "p", "j"));
            if (e->pv->plain && k >= 16) /* export-c: in 8 lanes, which vectorise */
                e_lane_sum(e, "real", "s", "p", term, k);
            else {
                wr_line(e->w, "real s = 0;");
                wr_line(e->w, "for (long p = 0; p < %ld; p++) s += %s;", k, term);
            }
            wr_line(e->w, "%s[i * %ld + j] = %s;", c, nn,
                    epi(e, n, "s", "j", e_fmt(e, "i * %ld + j", nn)));
            wr_line(e->w, "}");
            wr_line(e->w, "}");
        }
        break;
    }
    /* OpenBLAS's product: the fused op (bias, activation) on the finished values */
    if (e_has_epilogue(e, n) && (e_kernel(e, n) == KERN_BLAS || e_kernel(e, n) == KERN_GEMV)) {
        const char *v = epi(e, n, "v", "j", e_fmt(e, "i * %ld + j", nn));
        if (strcmp(v, "v")) { /* not the array op alone */
            wr_line(e->w, "for (long i = 0; i < %ld; i++)", m);
            wr_line(e->w, "for (long j = 0; j < %ld; j++) {", nn);
            wr_line(e->w, "const real v = %s[i * %ld + j];", c, nn);
            wr_line(e->w, "%s[i * %ld + j] = %s;", c, nn, v);
            wr_line(e->w, "}");
        }
    }
    if (arr) e_epilogue_array(e, n, c, m * nn);
}

/* C = op(A) op(B). With G = dC:
 *   plain:  dA = G Bᵀ,      dB = Aᵀ G
 *   tb:     dA = G B,       dB = Gᵀ A
 *   ta:     dA = B Gᵀ,      dB = A G
 *   ta, tb: dA = Bᵀ Gᵀ,     dB = Gᵀ Aᵀ */
static void vjp_matmul(ad_ctx *c, const ir_node *n, int g)
{
    int a = n->in[0], b = n->in[1], ta = n->i[0], tb = n->i[1];
    ir_graph *G = c->g;
    if (c->needs[a]) {
        int da = !ta ? (!tb ? ir_matmul(G, g, b, 0, 1) : ir_matmul(G, g, b, 0, 0))
                     : (!tb ? ir_matmul(G, b, g, 0, 1) : ir_matmul(G, b, g, 1, 1));
        ad_accum(c, a, da);
    }
    if (b < c->nforward && c->needs[b]) {
        int db = !tb ? (!ta ? ir_matmul(G, a, g, 1, 0) : ir_matmul(G, a, g, 0, 0))
                     : (!ta ? ir_matmul(G, g, a, 1, 0) : ir_matmul(G, g, a, 1, 1));
        ad_accum(c, b, db);
    }
}

/* Products at or above this many multiply-adds go to OpenBLAS; at or below
 * the small limit they are written out as straight-line code. */
#define BLAS_MIN_MACS 32768L
#define UNROLL_MAX_MACS 64L

static double flops_matmul(ir_graph *g, const ir_node *n, int b);

static plan_kernel matmul_kernel(ir_graph *g, const ir_node *n, int b)
{
    double macs = flops_matmul(g, n, b) / 2;
    long m = n->dim[0] == IR_BATCH ? b : n->dim[0], cols = n->dim[1] == IR_BATCH ? b : n->dim[1];
    /* OpenBLAS's gemm is ~3x slower than its gemv on a width-1 product */
    if (macs >= BLAS_MIN_MACS) return m == 1 || cols == 1 ? KERN_GEMV : KERN_BLAS;
    if (macs <= UNROLL_MAX_MACS) return KERN_UNROLL;
    return KERN_LOOP;
}

/* the block comment names the operands: "h1 = x · fc1_weightᵀ" */
static const char *matmul_describe(emitter *e, const ir_node *n)
{
    return e_fmt(e, "%s = %s%s · %s%s", n->name, ir_get(e->g, n->in[0])->name, n->i[0] ? "ᵀ" : "",
                 ir_get(e->g, n->in[1])->name, n->i[1] ? "ᵀ" : "");
}

static double flops_matmul(ir_graph *g, const ir_node *n, int b)
{
    const ir_node *a = ir_get(g, n->in[0]);
    long k = n->i[0] ? a->dim[0] : a->dim[1];
    if (k == IR_BATCH) k = b;
    return 2.0 * (double)ir_numel(n, b) * (double)k;
}

const op_def op_MATMUL = {
    .math = "C = op(A) · op(B)",
    .shape = shape_matmul,
    .emit = emit_matmul,
    .vjp = vjp_matmul,
    .flops = flops_matmul,
    .flags = OPF_EPILOGUE,
    .kernel = matmul_kernel,
    .describe = matmul_describe,
};
