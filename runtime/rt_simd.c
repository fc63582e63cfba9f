/* rt_simd.c — the vector helpers the generated code calls: the optimizer's
 * fused axpy, dot products and sums of squares, with an AVX2/FMA path chosen
 * once at run time and a portable C path that rounds identically. */
#include "rt.h"

#include <math.h>

/* -DRT_PORTABLE forces the portable path (to test it on AVX2 machines). */
#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(RT_PORTABLE)
#define RT_X86 1
#include <immintrin.h>
#endif

#ifdef TRAINC_DOUBLE
#define rt_fma fma
#else
#define rt_fma fmaf
#endif

/* ---- portable C ---- */

static void axpy_c(real *p, const real *g, real alpha, long n)
{
    /* fmaf, not p + g * alpha: torch's add_(g, alpha) is one rounding */
    for (long i = 0; i < n; i++) p[i] = rt_fma(g[i], alpha, p[i]);
}

static real dot_c(const real *a, const real *b, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++) s += (double)a[i] * (double)b[i];
    return (real)s;
}

static double sumsq_c(const real *a, long n)
{
    double s = 0.0;
    for (long i = 0; i < n; i++) s += (double)a[i] * (double)a[i];
    return s;
}

/* a sum of the values: a NaN or an infinity stays in it (it may also
 * overflow where every value is finite) */
static int sum_finite_c(const real *a, long n)
{
    real s = 0;
    for (long i = 0; i < n; i++) s += a[i];
    return isfinite(s);
}

/* ---- AVX2 + FMA ---- */

#ifdef RT_X86
#define RT_AVX2 __attribute__((target("avx2,fma")))

RT_AVX2 static double hsum_pd(__m256d v)
{
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}

/* _mm256_fmadd rounds once per lane, exactly as fmaf/fma on the tail. */
#ifndef TRAINC_DOUBLE
RT_AVX2 static void axpy_avx2(real *p, const real *g, real alpha, long n)
{
    __m256 va = _mm256_set1_ps(alpha);
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 vp = _mm256_loadu_ps(p + i);
        _mm256_storeu_ps(p + i, _mm256_fmadd_ps(_mm256_loadu_ps(g + i), va, vp));
    }
    for (; i < n; i++) p[i] = fmaf(g[i], alpha, p[i]);
}

/* float products are exact in double, so widen and accumulate in double */
RT_AVX2 static __m256d widen_lo(__m256 v)
{
    return _mm256_cvtps_pd(_mm256_castps256_ps128(v));
}

RT_AVX2 static __m256d widen_hi(__m256 v)
{
    return _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
}

RT_AVX2 static real dot_avx2(const real *a, const real *b, long n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 va = _mm256_loadu_ps(a + i), vb = _mm256_loadu_ps(b + i);
        s0 = _mm256_fmadd_pd(widen_lo(va), widen_lo(vb), s0);
        s1 = _mm256_fmadd_pd(widen_hi(va), widen_hi(vb), s1);
    }
    double s = hsum_pd(_mm256_add_pd(s0, s1));
    for (; i < n; i++) s += (double)a[i] * (double)b[i];
    return (real)s;
}

RT_AVX2 static double sumsq_avx2(const real *a, long n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 va = _mm256_loadu_ps(a + i);
        __m256d lo = widen_lo(va), hi = widen_hi(va);
        s0 = _mm256_fmadd_pd(lo, lo, s0);
        s1 = _mm256_fmadd_pd(hi, hi, s1);
    }
    double s = hsum_pd(_mm256_add_pd(s0, s1));
    for (; i < n; i++) s += (double)a[i] * (double)a[i];
    return s;
}

/* 8 sums, one a lane; the tail by a masked load (zeros past the end); a
 * lane's sum minus itself is 0 when finite, NaN when not */
/* four sums side by side: one waits on each addition's latency (fashion_mlp's
 * 235K gradients, warm: 13.7 us in one, 6.2 in four) */
RT_AVX2 static int sum_finite_avx2(const real *a, long n)
{
    __m256 s = _mm256_setzero_ps(), s1 = s, s2 = s, s3 = s;
    long i = 0;
    for (; i + 32 <= n; i += 32) {
        s = _mm256_add_ps(s, _mm256_loadu_ps(a + i));
        s1 = _mm256_add_ps(s1, _mm256_loadu_ps(a + i + 8));
        s2 = _mm256_add_ps(s2, _mm256_loadu_ps(a + i + 16));
        s3 = _mm256_add_ps(s3, _mm256_loadu_ps(a + i + 24));
    }
    s = _mm256_add_ps(_mm256_add_ps(s, s1), _mm256_add_ps(s2, s3));
    for (; i + 8 <= n; i += 8) s = _mm256_add_ps(s, _mm256_loadu_ps(a + i));
    if (i < n) {
        const __m256i left = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - i)),
                                                _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        s = _mm256_add_ps(s, _mm256_maskload_ps(a + i, left));
    }
    const __m256 d = _mm256_sub_ps(s, s);
    return _mm256_movemask_ps(_mm256_cmp_ps(d, d, _CMP_ORD_Q)) == 0xff;
}
#else
RT_AVX2 static void axpy_avx2(real *p, const real *g, real alpha, long n)
{
    __m256d va = _mm256_set1_pd(alpha);
    long i = 0;
    for (; i + 4 <= n; i += 4) {
        __m256d vp = _mm256_loadu_pd(p + i);
        _mm256_storeu_pd(p + i, _mm256_fmadd_pd(_mm256_loadu_pd(g + i), va, vp));
    }
    for (; i < n; i++) p[i] = fma(g[i], alpha, p[i]);
}

RT_AVX2 static real dot_avx2(const real *a, const real *b, long n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        s0 = _mm256_fmadd_pd(_mm256_loadu_pd(a + i), _mm256_loadu_pd(b + i), s0);
        s1 = _mm256_fmadd_pd(_mm256_loadu_pd(a + i + 4), _mm256_loadu_pd(b + i + 4), s1);
    }
    double s = hsum_pd(_mm256_add_pd(s0, s1));
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

RT_AVX2 static double sumsq_avx2(const real *a, long n)
{
    __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
    long i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256d lo = _mm256_loadu_pd(a + i), hi = _mm256_loadu_pd(a + i + 4);
        s0 = _mm256_fmadd_pd(lo, lo, s0);
        s1 = _mm256_fmadd_pd(hi, hi, s1);
    }
    double s = hsum_pd(_mm256_add_pd(s0, s1));
    for (; i < n; i++) s += a[i] * a[i];
    return s;
}

RT_AVX2 static int sum_finite_avx2(const real *a, long n)
{
    __m256d s = _mm256_setzero_pd();
    long i = 0;
    for (; i + 4 <= n; i += 4) s = _mm256_add_pd(s, _mm256_loadu_pd(a + i));
    if (i < n) {
        const __m256i left = _mm256_cmpgt_epi64(_mm256_set1_epi64x(n - i), _mm256_setr_epi64x(0, 1, 2, 3));
        s = _mm256_add_pd(s, _mm256_maskload_pd(a + i, left));
    }
    const __m256d d = _mm256_sub_pd(s, s);
    return _mm256_movemask_pd(_mm256_cmp_pd(d, d, _CMP_ORD_Q)) == 0xf;
}
#endif
#endif /* RT_X86 */

/* ---- dispatch ---- */

int rt_cpu_has_avx2(void)
{
#ifdef RT_X86
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#else
    return 0;
#endif
}

typedef struct simd_ops {
    void (*axpy)(real *, const real *, real, long);
    real (*dot)(const real *, const real *, long);
    double (*sumsq)(const real *, long);
    int (*sum_finite)(const real *, long);
} simd_ops;

static const simd_ops ops_c = {axpy_c, dot_c, sumsq_c, sum_finite_c};
#ifdef RT_X86
static const simd_ops ops_avx2 = {axpy_avx2, dot_avx2, sumsq_avx2, sum_finite_avx2};
#endif

/* Chosen on first use; atomic so that threads racing here at worst both
 * pick the same table. */
static const simd_ops *ops;

static const simd_ops *simd(void)
{
    const simd_ops *o = __atomic_load_n(&ops, __ATOMIC_ACQUIRE);
    if (!o) {
        o = &ops_c;
#ifdef RT_X86
        if (rt_cpu_has_avx2()) o = &ops_avx2;
#endif
        __atomic_store_n(&ops, o, __ATOMIC_RELEASE);
    }
    return o;
}

void rt_axpy_fma(real *p, const real *g, real alpha, long n)
{
    simd()->axpy(p, g, alpha, n);
}

real rt_dot(const real *a, const real *b, long n)
{
    return simd()->dot(a, b, n);
}

double rt_sumsq(const real *a, long n)
{
    return simd()->sumsq(a, n);
}

int rt_sum_finite(const real *a, long n)
{
    return simd()->sum_finite(a, n);
}
