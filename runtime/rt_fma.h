/* rt_fma.h — the exact fused multiply-add of the optimizer updates
 * (templates/optim/), and the builds of their update loops. Included by
 * rt.h.
 *
 * torch's update kernels round a * b + c once (fma). An x86-64-v3 CPU (AVX2 +
 * FMA) has the instruction, 8 lanes of it; plain x86-64 (SSE2) has none, and
 * libm's fmaf is a scalar call that keeps the loop from vectorising. So an
 * update loop is written once, with rt_fma(a, b, c, native), and compiled
 * three times by RT_UPDATE_CLONES: with native = 1 for x86-64-v4 (AVX-512,
 * 16 lanes) and x86-64-v3 (8 lanes; one vfmadd), and with native = 0 for
 * any x86-64, where rt_fmaf_sse2 computes the same correctly rounded result
 * in double arithmetic that vectorises 4 lanes wide. update_range picks one
 * when it is called. The weights are the same bits on each
 * (tests/test_optim_clones.sh, tests/unit/test_fma.c).
 *
 * Why AVX-512 too: Adam's loop is bound by the divider and the square root
 * (a vsqrtps and two vdivps a vector), which this AMD EPYC runs on 16
 * floats at a time: over 235146 floats, warm, 86 us in ymm and 55 in zmm;
 * in fashion_mlp's step, its state coming from L3, 80 -> 73 us (min of
 * 2000 steps at load 10).
 *
 * Why not AVX-512 for a short range: the step has just stored the gradient
 * 8 floats at a time (its code is the x86-64-v3 clone), and a 64-byte load
 * that spans two of those stores waits for them to reach the cache, where a
 * load within one store takes its data on the way. Over a long range only
 * the first vectors wait; over xor's 33 parameters every one did: its step
 * 78.4 -> 71.0 ns with the v3 copy below RT_UPDATE_V4_MIN elements.
 *
 * double keeps libm's fma in the SSE2 copy: no wider type to emulate it in. */
#ifndef RT_FMA_H
#define RT_FMA_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* a * b + c rounded once to float, in double arithmetic only.
 * a * b is exact in double (24 + 24 bits of 53). The sum s = a * b + c is
 * rounded to double, and its error e (s + e is the exact sum: Knuth's
 * two-sum) says which way: if s was inexact and its last bit is even, it
 * steps one ulp towards the exact sum, to its odd neighbour. That is
 * rounding to odd, and a value rounded to odd in 53 bits rounds to float
 * (24 bits, 53 >= 24 + 2) as the exact sum would: no double rounding.
 * Infinite and NaN sums (from infinite or NaN operands) are left to the
 * plain arithmetic, which gives fmaf's result. Branch-free, no 64-bit
 * integer compare or multiply (SSE2 has neither): it vectorises. */
static inline float rt_fmaf_sse2(float a, float b, float c)
{
    const double p = (double)a * (double)b, cd = c;
    double s = p + cd;
    const double z = s - p;
    const double e = (p - (s - z)) + (cd - z);
    uint64_t sb, eb;
    memcpy(&sb, &s, sizeof s);
    memcpy(&eb, &e, sizeof e);
    const uint64_t towards_zero = 0 - ((sb ^ eb) >> 63); /* all ones if e and s differ in sign */
    const uint64_t even = ~sb & 1;
    const uint64_t step = (even ^ towards_zero) - towards_zero; /* +1, -1 or 0 */
    sb += ((e != 0) & (s - s == 0)) ? step : 0; /* inexact, s finite; & keeps it branch-free */
    memcpy(&s, &sb, sizeof s);
    return (float)s;
}

/* fma(a, b, c) of the element type: the CPU's (native) or the emulation */
static inline __attribute__((always_inline)) real rt_fma(real a, real b, real c, int native)
{
#ifdef TRAINC_DOUBLE
    (void)native;
    return fma(a, b, c);
#else
    return native ? fmaf(a, b, c) : rt_fmaf_sse2(a, b, c);
#endif
}

/* update_range(p, grad, state, n, lr, momentum, weight_decay, t) over an
 * optimizer's RT_INLINE_LOOP loop(the same, int native): x86-64-v4, -v3 and
 * SSE2 copies chosen per call where GCC builds for x86-64; elsewhere, and in the
 * portable build (-DRT_PORTABLE, SSE2 only), one copy. The SSE2 copy is
 * inlined eight times, under each answer to weight_decay != 0, momentum != 0
 * and t == 1, so that the loop's own tests of them fold away: SSE2 has no
 * 64-bit compare, and the emulated fma is too long to if-convert, so a test
 * left in the loop keeps it scalar. */
#define RT_UPDATE_PARAMS                                                                           \
    real *restrict p, const real *restrict grad, real *restrict state, long n, double lr,          \
        double momentum, real weight_decay, long t
#define RT_UPDATE_ARGS p, grad, state, n, lr, momentum, weight_decay, t
#define RT_UPDATE_SETTLE_T(loop)                                                                   \
    do {                                                                                           \
        if (t == 1)                                                                                \
            loop(RT_UPDATE_ARGS, 0);                                                               \
        else                                                                                       \
            loop(RT_UPDATE_ARGS, 0);                                                               \
    } while (0)
#define RT_UPDATE_SETTLE_MT(loop)                                                                  \
    do {                                                                                           \
        if (momentum != 0)                                                                         \
            RT_UPDATE_SETTLE_T(loop);                                                              \
        else                                                                                       \
            RT_UPDATE_SETTLE_T(loop);                                                              \
    } while (0)
#define RT_UPDATE_SSE2(loop)                                                                       \
    static void update_range_sse2(RT_UPDATE_PARAMS)                                                \
    {                                                                                              \
        if (weight_decay != 0)                                                                     \
            RT_UPDATE_SETTLE_MT(loop);                                                             \
        else                                                                                       \
            RT_UPDATE_SETTLE_MT(loop);                                                             \
    }
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(RT_PORTABLE)
#define RT_UPDATE_V4_MIN 256 /* elements: shorter ranges take the v3 copy (above) */
#define RT_UPDATE_CLONES(loop)                                                                     \
    __attribute__((target("arch=x86-64-v4"))) static void update_range_v4(RT_UPDATE_PARAMS)        \
    {                                                                                              \
        loop(RT_UPDATE_ARGS, 1);                                                                   \
    }                                                                                              \
    __attribute__((target("arch=x86-64-v3"))) static void update_range_v3(RT_UPDATE_PARAMS)        \
    {                                                                                              \
        loop(RT_UPDATE_ARGS, 1);                                                                   \
    }                                                                                              \
    RT_UPDATE_SSE2(loop)                                                                           \
    static void update_range(RT_UPDATE_PARAMS)                                                     \
    {                                                                                              \
        if (n >= RT_UPDATE_V4_MIN && __builtin_cpu_supports("x86-64-v4"))                          \
            update_range_v4(RT_UPDATE_ARGS);                                                       \
        else if (__builtin_cpu_supports("x86-64-v3"))                                              \
            update_range_v3(RT_UPDATE_ARGS);                                                       \
        else                                                                                       \
            update_range_sse2(RT_UPDATE_ARGS);                                                     \
    }
#elif defined(__x86_64__) && !defined(__FMA__)
#define RT_UPDATE_CLONES(loop)                                                                     \
    RT_UPDATE_SSE2(loop)                                                                           \
    static void update_range(RT_UPDATE_PARAMS)                                                     \
    {                                                                                              \
        update_range_sse2(RT_UPDATE_ARGS);                                                         \
    }
#else
#define RT_UPDATE_CLONES(loop)                                                                     \
    static void update_range(RT_UPDATE_PARAMS)                                                     \
    {                                                                                              \
        loop(RT_UPDATE_ARGS, 1);                                                                   \
    }
#endif

#endif
