/* test_rng.c — the runtime's RNG and SIMD helpers: MT19937 reference
 * outputs, draw ranges and statistics, bit-exact fused axpy. (Equality with
 * PyTorch's initial weights is tests/test_init_torch.py; files are tested in
 * test_atomic.c, test_npy.c and test_safetensors.c.) */
#include "check.h"
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void test_mt19937(void)
{
    /* mt19937ar.c / std::mt19937 default seed: first outputs, and the
     * 10000th output that the C++ standard fixes (4123659995). */
    static const uint32_t want[] = {3499211612u, 581869302u, 3890346734u, 3586334585u, 545404204u};
    rt_rng rng;
    rt_rng_seed(&rng, 5489u);
    int ok = 1;
    for (int i = 0; i < 5; i++) ok &= rt_rng_u32(&rng) == want[i];
    CHECK(ok, "mt19937 seed 5489 first outputs match the reference");
    for (int i = 5; i < 9999; i++) rt_rng_u32(&rng);
    CHECK(rt_rng_u32(&rng) == 4123659995u, "mt19937 seed 5489 10000th output is 4123659995");

    rt_rng a, b;
    rt_rng_seed(&a, 42);
    rt_rng_seed(&b, 42);
    ok = 1;
    for (int i = 0; i < 2000; i++) ok &= rt_rng_u32(&a) == rt_rng_u32(&b);
    CHECK(ok, "same seed gives the same stream");
}

static void test_uniform(void)
{
    rt_rng rng;
    rt_rng_seed(&rng, 1);
    int in24 = 1, in53 = 1, grid = 1;
    double lo = 1, hi = 0;
    for (int i = 0; i < 100000; i++) {
        double u = rt_rng_uniform24(&rng);
        in24 &= u >= 0.0 && u < 1.0;
        grid &= u * 16777216.0 == floor(u * 16777216.0);
        lo = u < lo ? u : lo;
        hi = u > hi ? u : hi;
        double v = rt_rng_uniform53(&rng);
        in53 &= v >= 0.0 && v < 1.0;
    }
    CHECK(in24 && grid, "uniform24 lies in [0, 1) on the 2^-24 grid");
    CHECK(lo < 1e-3 && hi > 1 - 1e-3, "uniform24 covers [0, 1)");
    CHECK(in53, "uniform53 lies in [0, 1)");

    real p[1000];
    rt_init_uniform(&rng, p, 1000, -0.25, 0.5);
    int ok = 1;
    for (int i = 0; i < 1000; i++) ok &= p[i] >= (real)-0.25 && p[i] <= (real)0.5;
    CHECK(ok, "rt_init_uniform stays within [a, b]");
    rt_init_constant(p, 1000, 0.1);
    ok = 1;
    for (int i = 0; i < 1000; i++) ok &= p[i] == (real)0.1;
    CHECK(ok, "rt_init_constant fills every element");
}

static void test_below_and_shuffle(void)
{
    rt_rng rng;
    rt_rng_seed(&rng, 7);
    int ok = 1, hits[7] = {0};
    for (int i = 0; i < 70000; i++) {
        uint32_t r = rt_rng_below(&rng, 7);
        ok &= r < 7;
        if (r < 7) hits[r]++;
    }
    /* each count ~ Binomial(70000, 1/7): sd ~ 93, allow 6 sd */
    for (int k = 0; k < 7; k++) ok &= abs(hits[k] - 10000) < 560;
    CHECK(ok, "rt_rng_below(7) is in range and roughly uniform");
    CHECK(rt_rng_below(&rng, 1) == 0 && rt_rng_below(&rng, 0) == 0, "rt_rng_below(0 or 1) is 0");

    enum { N = 1000 };
    int32_t a[N], b[N], seen[N] = {0};
    for (int i = 0; i < N; i++) a[i] = b[i] = i;
    rt_rng r1, r2;
    rt_rng_seed(&r1, 3);
    rt_rng_seed(&r2, 3);
    rt_shuffle(&r1, a, N);
    rt_shuffle(&r2, b, N);
    int perm = 1, moved = 0;
    for (int i = 0; i < N; i++) {
        perm &= a[i] >= 0 && a[i] < N && !seen[a[i]];
        if (a[i] >= 0 && a[i] < N) seen[a[i]] = 1;
        moved += a[i] != i;
    }
    CHECK(perm, "shuffle is a permutation");
    CHECK(moved > N / 2, "shuffle moves most elements");
    CHECK(memcmp(a, b, sizeof a) == 0, "shuffle is deterministic for a seed");
    int32_t one = 5;
    rt_shuffle(&r1, &one, 1);
    rt_shuffle(&r1, NULL, 0);
    CHECK(one == 5, "shuffle of 0 or 1 elements is a no-op");
}

static void test_normal(void)
{
    rt_rng rng;
    rt_rng_seed(&rng, 11);
    enum { N = 100000 };
    double s = 0, ss = 0, s4 = 0;
    int finite = 1;
    for (int i = 0; i < N; i++) {
        double z = rt_rng_normal(&rng);
        finite &= isfinite(z);
        s += z;
        ss += z * z;
        s4 += z * z * z * z;
    }
    double mean = s / N, var = ss / N - mean * mean;
    /* sd of the mean 1/sqrt(N) ~ 0.0032, of the variance sqrt(2/N) ~ 0.0045:
     * allow ~5 sd; kurtosis 3 catches a non-normal shape */
    CHECK(finite, "normal draws are finite");
    CHECK(fabs(mean) < 0.016, "normal mean ~ 0 over 1e5 draws");
    CHECK(fabs(var - 1) < 0.025, "normal variance ~ 1 over 1e5 draws");
    CHECK(fabs(s4 / N - 3) < 0.15, "normal fourth moment ~ 3 over 1e5 draws");

    real p[20000];
    rt_init_normal(&rng, p, 20000, 2.0, 0.5);
    s = ss = 0;
    for (int i = 0; i < 20000; i++) s += p[i], ss += (double)p[i] * p[i];
    mean = s / 20000;
    CHECK(fabs(mean - 2) < 0.02 && fabs(sqrt(ss / 20000 - mean * mean) - 0.5) < 0.02,
          "rt_init_normal has the requested mean and std");
}

static void test_simd(void)
{
    enum { M = 1000 };
    real p[M], q[M], g[M];
    rt_rng rng;
    rt_rng_seed(&rng, 99);
    rt_init_uniform(&rng, g, M, -1, 1);
    const real alpha = (real)-0.0123456789;
    int ok = 1;
    /* n = 0..40 covers empty, tail-only, one body + every tail length */
    for (long n = 0; n <= 41; n++) {
        long len = n == 41 ? M : n;
        rt_init_uniform(&rng, p, len, -1, 1);
        memcpy(q, p, sizeof(real) * (size_t)len);
        rt_axpy_fma(p, g, alpha, len);
#ifdef TRAINC_DOUBLE
        for (long i = 0; i < len; i++) q[i] = fma(g[i], alpha, q[i]);
#else
        for (long i = 0; i < len; i++) q[i] = fmaf(g[i], alpha, q[i]);
#endif
        ok &= memcmp(p, q, sizeof(real) * (size_t)len) == 0;
    }
    CHECK(ok, "axpy_fma equals a scalar fma loop bit for bit (n = 0..40, 1000)");
    double dref = 0, sref = 0;
    for (long i = 0; i < M; i++) dref += (double)p[i] * g[i], sref += (double)g[i] * g[i];
    CHECK(fabs((double)rt_dot(p, g, M) - dref) <= 1e-5 * fabs(dref) + 1e-6,
          "rt_dot matches a double loop");
    CHECK(fabs(rt_sumsq(g, M) - sref) <= 1e-12 * sref, "rt_sumsq matches a double loop");
    ok = 1;
    for (long n = 0; n <= 20; n++) {
        double s = 0;
        for (long i = 0; i < n; i++) s += (double)g[i] * g[i];
        ok &= fabs(rt_sumsq(g, n) - s) <= 1e-12 * s;
        ok &= fabs((double)rt_dot(g, g, n) - s) <= 1e-6 * s + 1e-30;
    }
    CHECK(ok, "rt_dot and rt_sumsq handle every tail length 0..20");
    CHECK(rt_cpu_has_avx2() == 0 || rt_cpu_has_avx2() == 1, "rt_cpu_has_avx2 answers 0 or 1");
    /* rt_sum_finite: the divergence guard's test. A NaN or an infinity at
     * any place of any length (the masked tail too) is seen; finite values
     * pass (an overflowing sum may say 0: the guard then asks rt_sumsq) */
    real v[40];
    int seen = 1, pass = 1;
    const real bad[3] = {NAN, INFINITY, -INFINITY};
    for (long n = 0; n <= 40; n++) {
        for (long i = 0; i < n; i++) v[i] = g[i];
        pass &= rt_sum_finite(v, n) == 1;
        for (long at = 0; at < n; at++)
            for (int k = 0; k < 3; k++) {
                v[at] = bad[k];
                seen &= rt_sum_finite(v, n) == 0;
                v[at] = g[at];
            }
    }
    CHECK(pass, "rt_sum_finite: 1 for finite values, every length 0..40");
    CHECK(seen, "rt_sum_finite: 0 for a NaN, +inf or -inf at any place of every length 1..40");
    v[5] = NAN;
    CHECK(rt_sum_finite(v, 5) == 1, "rt_sum_finite: reads no value past n (a NaN after the end)");
}

int main(void)
{
    test_mt19937();
    test_uniform();
    test_below_and_shuffle();
    test_normal();
    test_simd();
    CHECK_DONE();
}
