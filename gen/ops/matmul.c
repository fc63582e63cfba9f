/* ops/matmul.c — C = op(A) · op(B), op = identity or transpose (i[0], i[1]).
 * Kernels: straight-line for tiny products, constant-bound loops for medium
 * ones, cblas_?gemm for large ones (the plan decides). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../autodiff.h"
#include "../cgen.h"
#include "../fuse_update.h"
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

static void emit_blas(emitter *e, const ir_node *n, long m, long k, long nn, const char *c)
{
    wr_line(e->w,
            "cblas_%cgemm(CblasRowMajor, %s, %s, %ld, %ld, %ld, 1, %s, %ld, %s, %ld, 0, %s, %ld);",
            e->dbl ? 'd' : 's', n->i[0] ? "CblasTrans" : "CblasNoTrans",
            n->i[1] ? "CblasTrans" : "CblasNoTrans", m, nn, k, e_ref(e, n->in[0]), n->i[0] ? m : k,
            e_ref(e, n->in[1]), n->i[1] ? k : nn, c, nn);
}

static double blas_ns(long m, long n, long k);

int ops_gemm_epilogue_off(void)
{
    const char *off = getenv("TRAINC_NO_GEMM_EPILOGUE");
    return off && *off && strcmp(off, "0");
}

/* What runtime/rt_gemm.c's store computes of n's epilogue (rt_gemm_epi):
 * a bias per column added to the product, relu of that, or relu's
 * backward mask; below an array op (tanh), the chain under it. */
typedef struct gemm_store {
    const char *bias, *mask; /* buffers, or NULL */
    int relu;
} gemm_store;

/* Whether the store computes n's whole epilogue (all but its array op
 * when arr), into s: not with A transposed, a folded batch norm, double,
 * or TRAINC_NO_GEMM_EPILOGUE */
static int gemm_store_fits(emitter *e, const ir_node *n, int arr, gemm_store *s)
{
    int a = e->pv->epi[n->id];
    *s = (gemm_store){NULL, NULL, 0};
    if (a < 0 || n->i[0] || e->dbl || e->pv->epi_bn[n->id] >= 0 || ops_gemm_epilogue_off())
        return 0;
    const ir_node *x = ir_get(e->g, a);
    if (arr) { /* the array op's input: n itself, or the chain inlined into it */
        if (x->in[0] == n->id) return 1;
        x = ir_get(e->g, x->in[0]);
    }
    int kind = op_get(x->op)->gemm_epi;
    if (kind == GEMM_EPI_MASK) {
        const ir_node *m = ir_get(e->g, x->in[0]);
        if (arr || x->in[1] != n->id || m->kind == K_CONST || e->pv->inlined[m->id] >= 0 ||
            !ir_same_shape(m, n))
            return 0;
        s->mask = e_ref(e, m->id);
        return 1;
    }
    if (kind == GEMM_EPI_RELU) {
        if (arr) return 0;
        s->relu = 1;
        if (x->in[0] == n->id) return 1;
        x = ir_get(e->g, x->in[0]);
    }
    /* the bias: n + b or b + n, b per column */
    int k = x->in[0] == n->id ? 1 : x->in[1] == n->id ? 0 : -1;
    if (!(op_get(x->op)->flags & OPF_ADD) || k < 0 || x->in[1 - k] != n->id) return 0;
    const ir_node *b = ir_get(e->g, x->in[k]);
    if (b->kind == K_CONST || e->pv->inlined[b->id] >= 0 || !ir_per_channel(b, n)) return 0;
    s->bias = e_ref(e, b->id);
    return 1;
}

/* ours where the CPU has AVX2 (the function says -1 otherwise), in float;
 * st: the epilogue its store computes, or NULL. With st the block of the
 * fallback (cblas_sgemm, then the epilogue's loop) is left open */
static void emit_gemm(emitter *e, const ir_node *n, long m, long k, long nn, const char *c,
                      const gemm_store *st)
{
    if (e->dbl) { /* the kernels are float: double keeps OpenBLAS */
        emit_blas(e, n, m, k, nn, c);
        return;
    }
    wr_line(e->w,
            "/* runtime/rt_gemm.c (OpenBLAS without AVX2): %.1f µs, OpenBLAS %.1f µs by the "
            "cost model of matmul.c (%s) */",
            matmul_gemm_ns(m, nn, k, n->i[1]) / 1e3, blas_ns(m, nn, k) / 1e3, matmul_rates_name());
    const char *a = e_ref(e, n->in[0]), *b = e_ref(e, n->in[1]);
    const int update = st ? -1 : fuse_update_in_store(e, n);
    if (update >= 0) { /* a weight gradient whose update runs in its store */
        fuse_update_store_begin(e, update);
        wr_line(e->w, "if (rt_sgemm_tn_store(%ld, %ld, %ld, %s, %s, %s, &update_store)) {", m, nn,
                k, a, b, c);
        emit_blas(e, n, m, k, nn, c);
        fuse_update_store_after(e, update);
        wr_line(e->w, "}");
        return;
    }
    if (st) {
        wr_line(e->w, "/* in its store, on each finished value: %s%s%s (rt_gemm_epi) */",
                st->bias ? "+ bias" : "", st->bias && (st->relu || st->mask) ? ", " : "",
                st->relu   ? "relu"
                : st->mask ? "relu's backward mask"
                           : "");
        wr_line(e->w, "const rt_gemm_epi epi = {%s, %s, %s};", st->bias ? st->bias : "NULL",
                st->relu ? "RT_EPI_RELU" : "RT_EPI_NONE", st->mask ? st->mask : "NULL");
        wr_line(e->w, "if (rt_sgemm_%s_epi(%ld, %ld, %ld, %s, %s, %s, &epi)) {",
                n->i[1] ? "nt" : "nn", m, nn, k, a, b, c);
    } else if (n->i[1])
        wr_line(e->w, "if (rt_sgemm_nt(%ld, %ld, %ld, %s, %s, %s))", m, nn, k, a, b, c);
    else
        wr_line(e->w, "if (rt_sgemm_xn(%d, %ld, %ld, %ld, %s, %s, %s))", n->i[0], m, nn, k, a, b,
                c);
    emit_blas(e, n, m, k, nn, c);
}

static void emit_matmul(emitter *e, const ir_node *n)
{
    long m, k, nn;
    concrete(e, n, &m, &k, &nn);
    const char *c = e_store_ref(e, n);
    /* a last op with an array form (tanh, sigmoid): the rest of the epilogue
     * in the store, the op on all the stored values after it */
    const int arr = e_epilogue_array_fn(e, n) != NULL;
    epilogue_fn epi = arr ? e_epilogue_inner_at : e_epilogue_at;
    gemm_store st;
    int stored = 0; /* ours stores the epilogue (its fallback's block open) */
    switch (e_kernel(e, n)) {
    case KERN_BLAS:
        if (!e->dbl && !(n->i[0] && n->i[1]))
            wr_line(e->w,
                    "/* OpenBLAS: %.1f µs, runtime/rt_gemm.c %.1f µs by the cost model of "
                    "matmul.c (%s) */",
                    blas_ns(m, nn, k) / 1e3, matmul_gemm_ns(m, nn, k, n->i[1]) / 1e3,
                    matmul_rates_name());
        emit_blas(e, n, m, k, nn, c);
        break;
    case KERN_GEMM:
        /* the epilogue in the kernel's store; the loop below after
         * cblas_sgemm only (the block emit_gemm opened) */
        stored = gemm_store_fits(e, n, arr, &st);
        emit_gemm(e, n, m, k, nn, c, stored ? &st : NULL);
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
    /* a library's product: the fused op (bias, activation) on the finished values */
    const plan_kernel kern = e_kernel(e, n);
    if (e_has_epilogue(e, n) && (kern == KERN_BLAS || kern == KERN_GEMV || kern == KERN_GEMM)) {
        const char *v = epi(e, n, "v", "j", e_fmt(e, "i * %ld + j", nn));
        if (strcmp(v, "v")) { /* not the array op alone */
            wr_line(e->w, "for (long i = 0; i < %ld; i++)", m);
            wr_line(e->w, "for (long j = 0; j < %ld; j++) {", nn);
            wr_line(e->w, "const real v = %s[i * %ld + j];", c, nn);
            wr_line(e->w, "%s[i * %ld + j] = %s;", c, nn, v);
            wr_line(e->w, "}");
        }
    }
    if (stored) wr_line(e->w, "}");
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

/* Products at or above this many multiply-adds go to OpenBLAS or to our
 * kernels (the cost model below); at or below the small limit they are
 * written out as straight-line code. */
#define BLAS_MIN_MACS 32768L
#define UNROLL_MAX_MACS 64L

/* The cost model: nanoseconds per call of cblas_sgemm and of our kernels
 * (runtime/rt_gemm.c) from the fixed shape (M N K multiply-adds):
 *   OpenBLAS                BLAS_CALL + MNK / BLAS_RATE
 *   ours, B not transposed  OURS_CALL + MK·(N16 / xn + R8 / narrow)
 *     (N16: N rounded down to 16, the AVX-512 tiles; R8: the rest rounded
 *     up to 8, masked 8-lane columns, broadcast-bound)
 *   ours, B transposed      OURS_CALL + MNK / nt
 * (the rates: gemm_rates below, per CPU)
 * Calibration: tests/bench/gemm_bench.c (20-50 calls, min of 7 blocks,
 * alternated, thread CPU time; the first eight rows are fashion_mlp's step,
 * as bench.sh prints them), AMD EPYC with AVX-512 (the AVX-512 kernels),
 * OpenBLAS 0.3 (its Cooperlake kernels), 1 thread, load 7-27 on 2 CPUs:
 *
 *   TA TB    M    N    K  OpenBLAS µs  ours µs  model: OpenBLAS  ours   pick
 *   N  T    64  256  784     290.85   155.32      257.90   160.59  ours
 *   N  T    64  128  256      43.48    22.61       42.94    26.24  ours
 *   N  T    64   10  128       2.89     1.13        2.64     1.05  ours
 *   N  N    64  128   10       2.07     0.83        2.64     0.81  ours
 *   T  N    10  128   64       2.65     0.97        2.64     0.81  ours
 *   N  N    64  256  128      42.73    18.74       42.94    20.00  ours
 *   T  N   128  256   64      40.19    19.69       42.94    20.00  ours
 *   T  N   256  784   64     250.65   117.29      257.90   122.36  ours
 *   N  N   200  300  300     348.73   182.01      361.00   185.93  ours
 *   N  N    37   50   19       1.05     0.51        1.70     0.48  ours
 *   N  N    50  203   61      13.38     6.89       13.38     6.69  ours
 *   T  N    61  203   50      13.19     6.45       13.38     6.69  ours
 *   N  T    50  203  784     195.41    92.22      160.15    99.50  ours
 *   N  N    64   10  128       2.86     2.91        2.64     2.94  OpenBLAS
 *   N  N    64    3 2000      37.38    22.35        8.68    22.79  OpenBLAS (!)
 *   N  T     7   13   29       0.32     0.12        1.05     0.06  ours
 *   N  N   256  256  256     315.80   153.00      336.54   159.81  ours
 *   N  T   128  512  512     653.30   407.90      672.09   419.46  ours
 *   N  T    64 1024 1024    1476.40   871.80     1343.18   838.89  ours
 *
 * Every pick is the faster kernel or a tie (within 2%) but one: OpenBLAS
 * is slow on a 3-column product too, which the model does not know, and
 * keeps it. Ours is about 2x OpenBLAS wherever the columns fill vectors of
 * 16; narrow products (N below 16) tie. The AVX2 kernels (TRAINC_GEMM=avx2;
 * a CPU without AVX-512) measured 0.43-0.95 of OpenBLAS on the first eight
 * rows: the same picks. A product with one row or column stays
 * cblas_?gemv; both operands transposed (no layout of ours) and double stay
 * cblas_?gemm. The rows with fewer than BLAS_MIN_MACS multiply-adds are
 * loops in a trainer: they fix the call costs.
 *
 * On a CPU without AVX-512 our kernels are the AVX2 ones, and the A·Bᵀ
 * kernel is slower than OpenBLAS's on the large products. Calibration
 * (2026-12-06, the same EPYC, TRAINC_GEMM=avx2, gemm_bench 20 built -O3
 * and static as bench.sh does; OpenBLAS runs its Haswell kernels on this
 * CPU either way; load 13-20 on 2 CPUs):
 *
 *   TA TB    M    N    K  OpenBLAS µs  ours µs  model: OpenBLAS  ours   pick
 *   N  T    64  256  784     271.84   323.49      257.90   305.86  OpenBLAS
 *   N  T    64  128  256      42.62    46.13       42.94    49.96  OpenBLAS
 *   N  T    64   10  128       2.91     2.26        2.64     1.98  ours
 *   N  N    64  128   10       2.08     1.48        2.64     1.52  ours
 *   T  N    10  128   64       2.69     1.52        2.64     1.52  ours
 *   N  N    64  256  128      43.08    36.43       42.94    38.16  ours
 *   T  N   128  256   64      40.73    38.27       42.94    38.16  ours
 *   T  N   256  784   64     250.08   230.64      257.90   233.58  ours
 *   N  N   200  300  300     344.18   337.21      361.00   338.21  ours
 *   N  N    37   50   19       1.01     0.81        1.70     0.78  ours
 *   N  N    50  203   61      13.28    11.89       13.38    11.90  ours
 *   T  N    61  203   50      13.12    11.59       13.38    11.90  ours
 *   N  T    50  203  784     194.68   166.28      160.15   189.50  OpenBLAS (!)
 *   N  N    64   10  128       2.83     3.33        2.64     3.31  OpenBLAS
 *   N  N    64    3 2000      36.67    26.51        8.68    25.63  OpenBLAS (!)
 *   N  T     7   13   29       0.36     0.41        1.05     0.09  ours (!)
 *   N  N   256  256  256     321.14   304.50      336.54   305.07  ours
 *   N  T   128  512  512     690.84   751.42      672.09   798.95  OpenBLAS
 *   N  T    64 1024 1024    1477.14  1662.41     1343.18  1597.86  OpenBLAS
 *
 * Three picks miss: OpenBLAS is slow on 203 and on 3 columns, which the
 * model does not know, and the smallest row is a loop in a trainer. So
 * the rates are the CPU's the trainer is generated on (the CPU
 * rt_gemm.c's kernels pick at run time: AVX-512 with avx512f and
 * avx512vl); TRAINC_GEMM_RATES=avx512 or avx2 plans for the other (tests/run
 * pins avx512, so that every machine's tests see the same picks). */
#define BLAS_CALL_NS 1000.0
#define BLAS_RATE 50.0 /* multiply-adds per ns */
#define OURS_CALL_NS 30.0

/* our kernels' multiply-adds per ns: xn's 16-column tiles, the narrow
 * 8-lane columns counted whole, nt */
typedef struct gemm_rates {
    const char *name;
    double xn, narrow, nt;
} gemm_rates;
static const gemm_rates RATES_AVX512 = {"AVX-512", 105.0, 45.0, 80.0};
static const gemm_rates RATES_AVX2 = {"AVX2", 55.0, 40.0, 42.0};

static const gemm_rates *rates_here(void)
{
    static const gemm_rates *r;
    if (r) return r;
    const char *want = getenv("TRAINC_GEMM_RATES");
    if (want && *want) {
        if (strcmp(want, "avx512") && strcmp(want, "avx2")) {
            fprintf(stderr, "trainc: TRAINC_GEMM_RATES is '%s': avx512 or avx2\n", want);
            exit(2);
        }
        return r = !strcmp(want, "avx512") ? &RATES_AVX512 : &RATES_AVX2;
    }
#if defined(__GNUC__) && defined(__x86_64__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) return r = &RATES_AVX512;
#endif
    return r = &RATES_AVX2;
}

const char *matmul_rates_name(void)
{
    return rates_here()->name;
}

static double blas_ns(long m, long n, long k)
{
    return BLAS_CALL_NS + (double)m * n * k / BLAS_RATE;
}

double matmul_gemm_ns(long m, long n, long k, int tb)
{
    const gemm_rates *r = rates_here();
    if (tb) return OURS_CALL_NS + (double)m * n * k / r->nt;
    long n16 = n - n % 16, rest8 = (n - n16 + 7) / 8 * 8;
    return OURS_CALL_NS + (double)m * k * ((double)n16 / r->xn + (double)rest8 / r->narrow);
}

static double flops_matmul(ir_graph *g, const ir_node *n, int b);

static plan_kernel matmul_kernel(ir_graph *g, const ir_node *n, int b)
{
    double macs = flops_matmul(g, n, b) / 2;
    long m = n->dim[0] == IR_BATCH ? b : n->dim[0], cols = n->dim[1] == IR_BATCH ? b : n->dim[1];
    long k = (long)(macs / ((double)m * cols) + 0.5);
    /* OpenBLAS's gemm is ~3x slower than its gemv on a width-1 product */
    if (macs >= BLAS_MIN_MACS) {
        if (m == 1 || cols == 1) return KERN_GEMV;
        if (!(n->i[0] && n->i[1]) && matmul_gemm_ns(m, cols, k, n->i[1]) < blas_ns(m, cols, k))
            return KERN_GEMM;
        return KERN_BLAS;
    }
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
