/* test_gemm_epi.c — the epilogues of trainc's own products (runtime/
 * rt_gemm.c's rt_sgemm_nt_epi and rt_sgemm_nn_epi, rt.h's rt_gemm_epi): the
 * bias, relu and relu's backward mask applied in the kernel's store give
 * the same bits as the product stored first and the generator's loop run
 * over it afterwards (v + b, v > 0 ? v : 0, m > 0 ? v : 0, in that order),
 * NaN rows included; and every value is within a k-term sum's bound of a
 * double reference, (k + 3)·u·(Σ|a||b| + |bias|). Negative controls: the
 * epilogue changes the values (a kernel ignoring it fails), and one element
 * moved by 4 bounds fails the reference check. TRAINC_GEMM=off, a CPU
 * without AVX2 and RT_PORTABLE: both decline (-1, C untouched). */
#include "rt.h"
#include "check.h"
#include "fill.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef TRAINC_DOUBLE
/* layout 0: C = A·B (rt_sgemm_nn_epi), 1: A·Bᵀ (rt_sgemm_nt_epi) */
static int run_epi(int nt, long m, long n, long k, const float *a, const float *b, float *c,
                   const rt_gemm_epi *e)
{
    return nt ? rt_sgemm_nt_epi(m, n, k, a, b, c, e) : rt_sgemm_nn_epi(m, n, k, a, b, c, e);
}

/* the unfused order: the plain product, then the generated loop's operations */
static void unfused(int nt, long m, long n, long k, const float *a, const float *b, float *c,
                    const rt_gemm_epi *e)
{
    if (nt)
        rt_sgemm_nt(m, n, k, a, b, c);
    else
        rt_sgemm_xn(0, m, n, k, a, b, c);
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            float v = c[i * n + j];
            if (e->bias) v = v + e->bias[j];
            if (e->act == RT_EPI_RELU) v = v > 0 ? v : 0;
            if (e->mask) v = e->mask[i * n + j] > 0 ? v : 0;
            c[i * n + j] = v;
        }
}

/* the largest |c - ref| over its bound, ref in double */
static double worst(int nt, long m, long n, long k, const float *a, const float *b, const float *c,
                    const rt_gemm_epi *e)
{
    double w = 0;
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double s = 0, abs = 0;
            for (long p = 0; p < k; p++) {
                double x = a[i * k + p], y = nt ? b[j * k + p] : b[p * n + j];
                s += x * y, abs += fabs(x * y);
            }
            if (e->bias) s += e->bias[j], abs += fabs(e->bias[j]);
            if (e->act == RT_EPI_RELU) s = s > 0 ? s : 0;
            if (e->mask && !(e->mask[i * n + j] > 0)) s = 0;
            double bound = (double)(k + 3) * 0x1p-24 * abs + 1e-30;
            w = fmax(w, fabs((double)c[i * n + j] - s) / bound);
        }
    return w;
}

/* the four epilogues the generator asks for */
static rt_gemm_epi kind(int q, const float *bias, const float *mask)
{
    rt_gemm_epi e[4] = {
        {bias, RT_EPI_RELU, NULL}, /* a hidden layer's forward */
        {bias, RT_EPI_NONE, NULL}, /* the last layer's */
        {NULL, RT_EPI_NONE, mask}, /* relu's backward */
        {bias, RT_EPI_RELU, mask}, /* all three, in order */
    };
    return e[q];
}

/* one shape, every epilogue: 1 if the bits equal the unfused order's and
 * each value is within its bound; nan: row 0 of A is NaN */
static int one(int nt, long m, long n, long k, int nan, double *w)
{
    float *a = fill(m * k, 1), *b = fill(k * n, 2), *bias = fill(n, 3), *mask = fill(m * n, 4);
    float *c = fill(m * n, 5), *u = fill(m * n, 5);
    if (nan) a[0] = NAN;
    int good = 1;
    for (int q = 0; q < 4; q++) {
        rt_gemm_epi e = kind(q, bias, mask);
        if (run_epi(nt, m, n, k, a, b, c, &e)) good = 0;
        unfused(nt, m, n, k, a, b, u, &e);
        if (memcmp(c, u, sizeof(float) * (size_t)(m * n))) good = 0;
        if (!nan) *w = fmax(*w, worst(nt, m, n, k, a, b, c, &e));
    }
    free(a), free(b), free(bias), free(mask), free(c), free(u);
    return good;
}

static void layout(int nt)
{
    static const long sizes[] = {1, 2, 3, 5, 7, 8, 9, 16, 17, 33, 48, 49, 65};
    const int ns = (int)(sizeof sizes / sizeof *sizes);
    static const long shapes[][3] = {{64, 256, 784}, {64, 128, 256}, {64, 10, 128},
                                     {64, 128, 10},  {64, 256, 128}, {97, 203, 301}};
    const char *name = nt ? "A·Bᵀ" : "A·B";
    char msg[200];
    int same = 1, nan = 1;
    double w = 0;
    for (int x = 0; x < ns; x++)
        for (int y = 0; y < ns; y++)
            for (int z = 0; z < ns; z += 3) same &= one(nt, sizes[x], sizes[y], sizes[z], 0, &w);
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        same &= one(nt, shapes[s][0], shapes[s][1], shapes[s][2], 0, &w);
    for (int x = 0; x < ns; x += 2)
        nan &= one(nt, sizes[x], sizes[x + 1 < ns ? x + 1 : x], 17, 1, &w);
    snprintf(msg, sizeof msg,
             "%s: bias + relu, bias, mask, all three in the store: the unfused order's bits "
             "(M, N in {1 .. 65}, K every third, fashion_mlp's shapes)",
             name);
    CHECK(same, msg);
    snprintf(msg, sizeof msg, "%s: a NaN row: relu and the mask give the unfused order's 0s", name);
    CHECK(nan, msg);
    snprintf(msg, sizeof msg,
             "%s: every value within the bound of the double reference (worst %.3f)", name, w);
    CHECK(w <= 1, msg);
}

/* the epilogue does something a kernel ignoring it would miss, and the
 * reference check catches one element off by 4 bounds */
static void controls(void)
{
    long m = 9, n = 17, k = 33;
    float *a = fill(m * k, 7), *b = fill(k * n, 8), *bias = fill(n, 9), *mask = fill(m * n, 10);
    float *c = fill(m * n, 11), *p = fill(m * n, 11);
    rt_gemm_epi e = kind(3, bias, mask);
    rt_sgemm_nn_epi(m, n, k, a, b, c, &e);
    rt_sgemm_nn_epi(m, n, k, a, b, p, NULL);
    CHECK(worst(0, m, n, k, a, b, p, &e) > 1 && memcmp(c, p, sizeof(float) * (size_t)(m * n)),
          "negative control: the product without its epilogue fails the check");
    double abs = fabs(bias[11]);
    for (long q = 0; q < k; q++) abs += fabs((double)a[5 * k + q] * b[q * n + 11]);
    e = kind(1, bias, mask);
    rt_sgemm_nn_epi(m, n, k, a, b, c, &e);
    c[5 * n + 11] += (float)(4 * (k + 3) * 0x1p-24 * abs);
    CHECK(worst(0, m, n, k, a, b, c, &e) > 1, "negative control: one element moved 4 bounds fails");
    free(a), free(b), free(bias), free(mask), free(c), free(p);
}

int main(void)
{
    const char *env = getenv("TRAINC_GEMM");
    const int off = env && !strcmp(env, "off");
    if (off || !rt_cpu_has_avx2()) {
        float a[6] = {1, 2, 3, 4, 5, 6}, c[4] = {7, 7, 7, 7};
        rt_gemm_epi e = {a, RT_EPI_RELU, NULL};
        CHECK(
            rt_sgemm_nn_epi(2, 2, 3, a, a, c, &e) == -1 &&
                rt_sgemm_nt_epi(2, 2, 3, a, a, c, &e) == -1 && c[0] == 7 && c[3] == 7,
            "the epilogue kernels decline (-1, C untouched) without AVX2 or with TRAINC_GEMM=off");
        CHECK_DONE();
    }
    layout(0);
    layout(1);
    controls();
    CHECK_DONE();
}
#else
int main(void)
{
    printf("ok - double build: the kernels are float only\n");
    return 0;
}
#endif
