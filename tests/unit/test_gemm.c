/* test_gemm.c — trainc's own float products (runtime/rt_gemm.c) against a
 * double reference, on every layout it serves (A·B, Aᵀ·B, A·Bᵀ) and shapes
 * that are and are not multiples of its tiles and vectors (1 to 65 each way,
 * then fashion_mlp's eight and larger odd ones), and C += Σ_t A_t·B_tᵀ over
 * images on the convolutions' weight-gradient shapes: every element within the
 * float error bound of a k-term sum, (k + 2)·u·Σ|a||b| (u = 2^-24). A
 * negative control: one element moved by 4 bounds fails the check. With
 * TRAINC_GEMM=off, on a CPU without AVX2 or under RT_PORTABLE the functions
 * return -1 and leave C untouched. `test_gemm
 * --hash` prints a hash of the A·B and Aᵀ·B results (tests/test_gemm.sh
 * compares the AVX2 and AVX-512 kernels' bits). */
#include "rt.h"
#include "check.h"
#include "fill.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef TRAINC_DOUBLE
/* 0 ta: C = A·B, 1: Aᵀ·B, 2: A·Bᵀ */
static int run(int layout, long m, long n, long k, const float *a, const float *b, float *c)
{
    return layout == 2 ? rt_sgemm_nt(m, n, k, a, b, c) : rt_sgemm_xn(layout, m, n, k, a, b, c);
}

/* the largest |c - ref| over its bound, ref and bound in double */
static double worst(int layout, long m, long n, long k, const float *a, const float *b,
                    const float *c)
{
    double w = 0;
    for (long i = 0; i < m; i++)
        for (long j = 0; j < n; j++) {
            double s = 0, abs = 0;
            for (long p = 0; p < k; p++) {
                double x = layout == 1 ? a[p * m + i] : a[i * k + p];
                double y = layout == 2 ? b[j * k + p] : b[p * n + j];
                s += x * y, abs += fabs(x * y);
            }
            double bound = (double)(k + 2) * 0x1p-24 * abs + 1e-30;
            w = fmax(w, fabs((double)c[i * n + j] - s) / bound);
        }
    return w;
}

static uint64_t hash;

static void mix(const float *c, long n)
{
    for (long i = 0; i < n; i++) {
        uint32_t u;
        memcpy(&u, &c[i], sizeof u);
        hash = (hash ^ u) * 0x100000001b3ull;
    }
}

/* the worst ratio over every shape of one layout; -1 if a call declined */
static double sweep(int layout, const long *sizes, int ns)
{
    double w = 0;
    for (int x = 0; x < ns; x++)
        for (int y = 0; y < ns; y++)
            for (int z = 0; z < ns; z++) {
                long m = sizes[x], n = sizes[y], k = sizes[z];
                float *a = fill(m * k, 1), *b = fill(k * n, 2), *c = fill(m * n, 3);
                if (run(layout, m, n, k, a, b, c)) w = -1;
                if (w >= 0) w = fmax(w, worst(layout, m, n, k, a, b, c));
                if (layout < 2) mix(c, m * n);
                free(a), free(b), free(c);
            }
    return w;
}

static double big(int layout, long m, long n, long k)
{
    float *a = fill(m * k, 4), *b = fill(k * n, 5), *c = fill(m * n, 6);
    double w = run(layout, m, n, k, a, b, c) ? -1 : worst(layout, m, n, k, a, b, c);
    if (layout < 2) mix(c, m * n);
    free(a), free(b), free(c);
    return w;
}

/* rt_sgemm_nt_sum over nb images of [m x k] and [n x k] (strides past
 * their sizes) onto C0: the worst |C - (C0 + Σ A_t·B_tᵀ)| over its bound
 * (nb·k + 3)·u·(|C0| + Σ|a||b|), in double; with drop (the negative
 * control) the reference leaves C0 out */
static double sum_worst(long nb, long m, long n, long k, int drop)
{
    const long sa = m * k + 3, sb = n * k + 5;
    float *a = fill(nb * sa, 10), *b = fill(nb * sb, 11), *c = fill(m * n, 12);
    float *c0 = malloc((size_t)(m * n) * sizeof *c0);
    memcpy(c0, c, (size_t)(m * n) * sizeof *c);
    double w = rt_sgemm_nt_sum(nb, sa, sb, m, n, k, a, b, c) ? -1 : 0;
    for (long i = 0; w >= 0 && i < m; i++)
        for (long j = 0; j < n; j++) {
            double s = drop ? 0 : c0[i * n + j], abs = fabs((double)c0[i * n + j]);
            for (long t = 0; t < nb; t++)
                for (long p = 0; p < k; p++) {
                    double x = (double)a[t * sa + i * k + p] * b[t * sb + j * k + p];
                    s += x, abs += fabs(x);
                }
            double bound = (double)(nb * k + 3) * 0x1p-24 * abs + 1e-30;
            w = fmax(w, fabs((double)c[i * n + j] - s) / bound);
        }
    free(a), free(b), free(c), free(c0);
    return w;
}

/* With k a multiple of 16 (no tails) rt_sgemm_nt_sum onto zeros is the
 * same bits as rt_sgemm_nt over the images laid end to end along k: every
 * element's lanes run through the images in order, whichever order the
 * kernel visits the tiles, groups and column blocks in. 1 when identical;
 * rev (the negative control) lays the images end to end in reverse. */
static int sum_same_as_nt(long nb, long m, long n, long k, int rev)
{
    float *a = fill(nb * m * k, 13), *b = fill(nb * n * k, 14);
    float *at = malloc(sizeof(float) * (size_t)(m * nb * k));
    float *bt = malloc(sizeof(float) * (size_t)(n * nb * k));
    float *c = calloc((size_t)(m * n), sizeof *c), *d = calloc((size_t)(m * n), sizeof *d);
    for (long t = 0; t < nb; t++) {
        const long u = rev ? nb - 1 - t : t;
        for (long i = 0; i < m; i++)
            memcpy(at + i * nb * k + u * k, a + (t * m + i) * k, 4 * (size_t)k);
        for (long j = 0; j < n; j++)
            memcpy(bt + j * nb * k + u * k, b + (t * n + j) * k, 4 * (size_t)k);
    }
    int same = !rt_sgemm_nt_sum(nb, m * k, n * k, m, n, k, a, b, c) &&
               !rt_sgemm_nt(m, n, nb * k, at, bt, d);
    for (long i = 0; same && i < m * n; i++) same = c[i] == d[i];
    free(a), free(b), free(at), free(bt), free(c), free(d);
    return same;
}

int main(int argc, char **argv)
{
    const char *env = getenv("TRAINC_GEMM");
    const int off = env && !strcmp(env, "off");
    if (off || !rt_cpu_has_avx2()) {
        float a[6] = {1, 2, 3, 4, 5, 6}, c[4] = {7, 7, 7, 7};
        CHECK(rt_sgemm_xn(0, 2, 2, 3, a, a, c) == -1 && rt_sgemm_nt(2, 2, 3, a, a, c) == -1 &&
                  rt_sgemm_nt_sum(1, 0, 0, 2, 2, 3, a, a, c) == -1 && c[0] == 7 && c[3] == 7,
              off ? "TRAINC_GEMM=off: the kernels decline (-1, C untouched): OpenBLAS's turn"
                  : "no AVX2/FMA (or RT_PORTABLE): the kernels decline (-1, C untouched)");
        CHECK_DONE();
    }
    static const long sizes[] = {1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 33, 47, 48, 49, 65};
    const int ns = (int)(sizeof sizes / sizeof *sizes);
    static const char *names[] = {"A·B", "Aᵀ·B", "A·Bᵀ"};
    static const long shapes[][4] = {
        /* fashion_mlp's eight products at batch 64, then odd large ones */
        {2, 64, 256, 784},  {2, 64, 128, 256}, {2, 64, 10, 128},  {0, 64, 128, 10},
        {1, 10, 128, 64},   {0, 64, 256, 128}, {1, 128, 256, 64}, {1, 256, 784, 64},
        {0, 203, 301, 297}, {1, 301, 203, 97}, {2, 97, 203, 301}, {2, 61, 57, 1001},
    };
    char name[160];
    for (int layout = 0; layout < 3; layout++) {
        double w = sweep(layout, sizes, ns);
        snprintf(name, sizeof name, "%s: every M, N, K in {1 .. 65} within the bound (worst %.3f)",
                 names[layout], w);
        CHECK(w >= 0 && w <= 1, name);
    }
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        const long *q = shapes[s];
        double w = big((int)q[0], q[1], q[2], q[3]);
        snprintf(name, sizeof name, "%s %ld x %ld x %ld within the bound (worst %.3f)", names[q[0]],
                 q[1], q[2], q[3], w);
        CHECK(w >= 0 && w <= 1, name);
    }
    /* the negative control: the check catches one element off by 4 bounds */
    {
        long m = 9, n = 17, k = 33;
        float *a = fill(m * k, 7), *b = fill(k * n, 8), *c = fill(m * n, 9);
        rt_sgemm_xn(0, m, n, k, a, b, c);
        double abs = 0;
        for (long p = 0; p < k; p++) abs += fabs((double)a[5 * k + p] * b[p * n + 11]);
        c[5 * n + 11] += (float)(4 * (k + 2) * 0x1p-24 * abs);
        CHECK(worst(0, m, n, k, a, b, c) > 1, "negative control: one element moved 4 bounds fails");
        free(a), free(b), free(c);
    }
    /* C += Σ_t A_t·B_tᵀ (a convolution's weight gradient over the images) */
    static const long sums[][4] = {{32, 16, 200, 64}, {32, 8, 25, 576}, {3, 32, 144, 196},
                                   {5, 7, 13, 29},    {1, 1, 1, 1},     {4, 5, 3, 17}};
    for (size_t s = 0; s < sizeof sums / sizeof *sums; s++) {
        const long *q = sums[s];
        double w = sum_worst(q[0], q[1], q[2], q[3], 0);
        snprintf(name, sizeof name,
                 "C += Σ A_t·B_tᵀ, %ld images of %ld x %ld x %ld, within the bound (worst %.3f)",
                 q[0], q[1], q[2], q[3], w);
        CHECK(w >= 0 && w <= 1, name);
    }
    /* two panels of rows (m > 48), column blocks of 4, 2 and 1, many groups;
     * n = 1403: the lane sums past the buffer (one block at a time) */
    static const long exact[][4] = {
        {7, 53, 203, 64}, {32, 16, 200, 64}, {5, 32, 144, 192}, {3, 5, 1403, 16}};
    for (size_t s = 0; s < sizeof exact / sizeof *exact; s++) {
        const long *q = exact[s];
        snprintf(name, sizeof name,
                 "C += Σ A_t·B_tᵀ, %ld images of %ld x %ld x %ld: the bits of A·Bᵀ over the "
                 "images laid end to end",
                 q[0], q[1], q[2], q[3]);
        CHECK(sum_same_as_nt(q[0], q[1], q[2], q[3], 0), name);
    }
    CHECK(!sum_same_as_nt(7, 53, 203, 64, 1),
          "negative control: the images laid end to end in reverse are other bits");
    CHECK(sum_worst(4, 16, 200, 64, 1) > 1, "negative control: C += Σ A_t·B_tᵀ checked against a "
                                            "reference without C's old value fails");
    if (argc > 1 && !strcmp(argv[1], "--hash")) printf("hash %016llx\n", (unsigned long long)hash);
    CHECK_DONE();
}
#else
int main(void)
{
    printf("ok - double build: the kernels are float only\n");
    return 0;
}
#endif
