/* fma_peak.c — the measured single-precision FMA peak of one core, the
 * physical limit bench.sh divides a step's FLOP count by.
 *
 * usage: fma_peak [SECONDS_PER_TRY]
 * Runs independent chains of fused multiply-adds (enough to cover the FMA
 * latency times the FMA ports of any current x86 core: 8) in 256-bit (AVX2
 * + FMA, 12 chains: with a and b they fill 14 of the 16 registers; 16 spilt
 * three chains to the stack, whose store-load round trips halved the
 * figure) and, where the CPU has it, 512-bit (AVX-512F, 16 chains of 32
 * registers) registers; each width tried 5 times, the best kept. Prints "fma_avx2_gflops X",
 * "fma_avx512_gflops Y" (0 when absent) and "fma_peak_gflops <max>" (one
 * FMA = 2 FLOP), per second of the thread's CPU time. One thread: bench.sh
 * compares 1-thread steps with it.
 * Build: cc -O2 -ffp-contract=fast fma_peak.c (contraction wanted here:
 * a * b + c must become one vfmadd).
 * Not part of the test run. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define INNER 1000 /* FMAs per chain per timed block */

typedef float v8 __attribute__((vector_size(32)));
typedef float v16 __attribute__((vector_size(64)));

/* the thread's CPU time: a core shared with other processes gives the probe
 * fewer seconds, not fewer FMAs per second */
static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static volatile float sink; /* keeps the chains' results alive */

/* FMAs per second over `seconds` of CHAINS chains of `lanes`-wide FMAs */
#define PEAK_FN(name, vec, lanes, CHAINS, isa)                                           \
    __attribute__((target(isa)))   static double name(double seconds)                     \
    {                                                                                       \
        vec acc[CHAINS], a, b;                                                              \
        for (int l = 0; l < (lanes); l++) a[l] = 0.999999f, b[l] = 1e-7f;                  \
        for (int c = 0; c < CHAINS; c++)                                                    \
            for (int l = 0; l < (lanes); l++) acc[c][l] = (float)(c + l);                   \
        long blocks = 0;                                                                    \
        double t0 = now(), t;                                                               \
        do {                                                                                \
            for (int i = 0; i < INNER; i++) {                                               \
                _Pragma("GCC unroll 16") /* all chains in registers */                      \
                for (int c = 0; c < CHAINS; c++) acc[c] = acc[c] * a + b;                   \
            }                                                                               \
            blocks++;                                                                       \
        } while ((t = now() - t0) < seconds);                                               \
        float s = 0;                                                                        \
        for (int c = 0; c < CHAINS; c++) s += acc[c][0];                                    \
        sink = s;                                                                           \
        return (double)blocks * INNER * CHAINS * (lanes) / t;                               \
    }

PEAK_FN(fma_per_s_avx2, v8, 8, 12, "avx2,fma")
PEAK_FN(fma_per_s_avx512, v16, 16, 16, "avx512f")

static double best_gflops(double (*fn)(double), double seconds)
{
    double best = 0;
    fn(seconds / 2); /* warm-up: lets the clock settle at the vector width */
    for (int i = 0; i < 5; i++) {
        double f = fn(seconds);
        if (f > best) best = f;
    }
    return 2 * best * 1e-9;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 0.2;
    __builtin_cpu_init();
    double g2 = 0, g5 = 0;
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        g2 = best_gflops(fma_per_s_avx2, seconds);
    if (__builtin_cpu_supports("avx512f")) g5 = best_gflops(fma_per_s_avx512, seconds);
    printf("fma_avx2_gflops %.1f\n", g2);
    printf("fma_avx512_gflops %.1f\n", g5);
    printf("fma_peak_gflops %.1f\n", g5 > g2 ? g5 : g2);
    return 0;
}
