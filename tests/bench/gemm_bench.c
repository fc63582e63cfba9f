/* gemm_bench.c — trainc's own products (runtime/rt_gemm.c) against
 * cblas_sgemm on given shapes, side by side: the numbers behind the cost
 * model in gen/ops/matmul.c.
 *
 * usage: gemm_bench REPS TA:TB:M:N:K...   (TA/TB = N or T; TT is not ours)
 * For each shape: the largest difference between the two results relative
 * to the largest |C| element, the min µs per call of each over 7 blocks of
 * REPS calls (alternated, so that the machine's load hits both), and
 * ours/blas. TRAINC_GEMM=avx2 forces the AVX2 kernels. 1 thread
 * (openblas_set_num_threads(1)). Not part of the test run; build (-O3,
 * as the trainers compile the runtime: at -O2 gcc leaves the tiles'
 * loops rolled, their accumulators in memory, 3x slower):
 *   cc -O3 -std=c11 -D_POSIX_C_SOURCE=200809L -Iruntime -I<openblas include> \
 *      tests/bench/gemm_bench.c runtime/rt_gemm.c runtime/rt_simd.c -o gemm_bench \
 *      -lopenblas -lm */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cblas.h>

#include "rt.h"

void openblas_set_num_threads(int num_threads);

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}

static float *buffer(long n, unsigned seed)
{
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    for (long i = 0; i < n; i++) f[i] = (float)(((i + 1) * 7919u * seed) % 1000) * 1e-3f - 0.5f;
    return f;
}

static void blas(int ta, int tb, long m, long n, long k, const float *a, const float *b, float *c)
{
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, 1, a, (int)(ta ? m : k), b, (int)(tb ? k : n), 0, c,
                (int)n);
}

static int ours(int ta, int tb, long m, long n, long k, const float *a, const float *b, float *c)
{
    return tb ? rt_sgemm_nt(m, n, k, a, b, c) : rt_sgemm_xn(ta, m, n, k, a, b, c);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: gemm_bench REPS TA:TB:M:N:K...\n");
        return 2;
    }
    openblas_set_num_threads(1);
    int reps = atoi(argv[1]);
    for (int s = 2; s < argc; s++) {
        char ta, tb;
        long m, n, k;
        if (sscanf(argv[s], "%c:%c:%ld:%ld:%ld", &ta, &tb, &m, &n, &k) != 5 ||
            (ta == 'T' && tb == 'T')) {
            fprintf(stderr, "gemm_bench: bad shape %s\n", argv[s]);
            return 2;
        }
        int t_a = ta == 'T', t_b = tb == 'T';
        float *a = buffer(m * k, 3), *b = buffer(k * n, 5), *c1 = buffer(m * n, 1),
              *c2 = buffer(m * n, 1);
        blas(t_a, t_b, m, n, k, a, b, c1);
        if (ours(t_a, t_b, m, n, k, a, b, c2)) {
            fprintf(stderr, "gemm_bench: no AVX2 kernels on this CPU\n");
            return 1;
        }
        double big = 0, diff = 0;
        for (long i = 0; i < m * n; i++) {
            big = fmax(big, fabs(c1[i]));
            diff = fmax(diff, fabs(c1[i] - c2[i]));
        }
        double tb_best = 1e30, to_best = 1e30;
        for (int blk = 0; blk < 7; blk++) {
            double t0 = now();
            for (int r = 0; r < reps; r++) blas(t_a, t_b, m, n, k, a, b, c1);
            double t1 = now();
            for (int r = 0; r < reps; r++) ours(t_a, t_b, m, n, k, a, b, c2);
            double t2 = now();
            tb_best = fmin(tb_best, (t1 - t0) / reps);
            to_best = fmin(to_best, (t2 - t1) / reps);
        }
        double flop = 2.0 * m * n * k;
        printf(
            "%c%c %4ld x %4ld x %4ld  rel diff %.1e  blas %8.2f us (%5.1f GFLOP/s)  ours %8.2f us "
            "(%5.1f GFLOP/s)  ours/blas %.2f\n",
            ta, tb, m, n, k, big > 0 ? diff / big : diff, tb_best * 1e6, flop / tb_best * 1e-9,
            to_best * 1e6, flop / to_best * 1e-9, to_best / tb_best);
        free(a), free(b), free(c1), free(c2);
    }
    return 0;
}
