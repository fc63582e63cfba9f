/* rt_act.c — tanh and sigmoid over an array (in place allowed), as the
 * generated code applies them to the stored output of a small product: 8
 * floats at a time with AVX2 when the CPU has it, else rt_act.h's scalar
 * functions. Both paths do the same IEEE operations in the same order (no
 * fma), so the bits do not depend on the machine. double: libm. */
#include "rt.h"

#include <math.h>

#if defined(__GNUC__) && defined(__x86_64__) && !defined(RT_PORTABLE) && !defined(TRAINC_DOUBLE)
#define RT_ACT_AVX2 1
#include <immintrin.h>
#define RT_AVX2_ONLY __attribute__((target("avx2")))

/* rt_act_expf on 8 lanes */
RT_AVX2_ONLY static __m256 expf8(__m256 y)
{
    const __m256 shift = _mm256_set1_ps(12582912.0f);
    const __m256 t = _mm256_add_ps(_mm256_mul_ps(y, _mm256_set1_ps(1.44269504f)), shift);
    const __m256 kf = _mm256_sub_ps(t, shift);
    const __m256 r =
        _mm256_sub_ps(_mm256_sub_ps(y, _mm256_mul_ps(kf, _mm256_set1_ps(0.693145751953125f))),
                      _mm256_mul_ps(kf, _mm256_set1_ps(1.42860682030941723212e-6f)));
    __m256 q = _mm256_add_ps(_mm256_set1_ps(0.008368916f),
                             _mm256_mul_ps(r, _mm256_set1_ps(0.0013751407f)));
    q = _mm256_add_ps(_mm256_set1_ps(0.041669533f), _mm256_mul_ps(r, q));
    q = _mm256_add_ps(_mm256_set1_ps(0.16666518f), _mm256_mul_ps(r, q));
    q = _mm256_add_ps(_mm256_set1_ps(0.49999988f), _mm256_mul_ps(r, q));
    const __m256 p = _mm256_add_ps(_mm256_set1_ps(1.0f),
                                   _mm256_add_ps(r, _mm256_mul_ps(_mm256_mul_ps(r, r), q)));
    __m256i bits = _mm256_add_epi32(_mm256_castps_si256(t), _mm256_set1_epi32(127));
    return _mm256_mul_ps(p, _mm256_castsi256_ps(_mm256_slli_epi32(bits, 23)));
}

/* rt_tanhf on 8 lanes */
RT_AVX2_ONLY static __m256 tanh8(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 a = _mm256_andnot_ps(sign, x), a2 = _mm256_mul_ps(a, a);
    __m256 poly = _mm256_add_ps(_mm256_set1_ps(0.020626292f),
                                _mm256_mul_ps(a2, _mm256_set1_ps(-0.005691986f)));
    poly = _mm256_add_ps(_mm256_set1_ps(-0.05373532f), _mm256_mul_ps(a2, poly));
    poly = _mm256_add_ps(_mm256_set1_ps(0.13331382f), _mm256_mul_ps(a2, poly));
    poly = _mm256_add_ps(_mm256_set1_ps(-0.3333328f), _mm256_mul_ps(a2, poly));
    const __m256 small = _mm256_add_ps(a, _mm256_mul_ps(a, _mm256_mul_ps(a2, poly)));
    const __m256 ac = _mm256_min_ps(_mm256_set1_ps(9.5f), a); /* 9.5 < a ? 9.5 : a */
    const __m256 e = expf8(_mm256_add_ps(ac, ac));
    const __m256 one = _mm256_set1_ps(1.0f);
    const __m256 big =
        _mm256_sub_ps(one, _mm256_div_ps(_mm256_set1_ps(2.0f), _mm256_add_ps(e, one)));
    const __m256 t =
        _mm256_blendv_ps(big, small, _mm256_cmp_ps(a, _mm256_set1_ps(0.625f), _CMP_LT_OQ));
    return _mm256_or_ps(_mm256_and_ps(sign, x), t);
}

/* rt_sigmoidf on 4 lanes, in double */
RT_AVX2_ONLY static __m128 sigmoid4(__m128 x)
{
    const __m256d xd = _mm256_cvtps_pd(x);
    const __m256d m = _mm256_or_pd(xd, _mm256_set1_pd(-0.0)); /* -|x| */
    const __m256d y = _mm256_max_pd(_mm256_set1_pd(-104.0), m); /* -104 > m ? -104 : m */
    const __m256d shift = _mm256_set1_pd(6755399441055744.0);
    const __m256d t = _mm256_add_pd(_mm256_mul_pd(y, _mm256_set1_pd(1.4426950408889634)), shift);
    const __m256d kf = _mm256_sub_pd(t, shift);
    const __m256d r = _mm256_sub_pd(
        _mm256_sub_pd(y, _mm256_mul_pd(kf, _mm256_set1_pd(6.93147180369123816490e-01))),
        _mm256_mul_pd(kf, _mm256_set1_pd(1.90821492927058770002e-10)));
    const __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2);
    const __m256d q01 = _mm256_add_pd(_mm256_set1_pd(0.5), _mm256_mul_pd(r, _mm256_set1_pd(1.0 / 6)));
    const __m256d q23 =
        _mm256_add_pd(_mm256_set1_pd(1.0 / 24), _mm256_mul_pd(r, _mm256_set1_pd(1.0 / 120)));
    const __m256d q45 =
        _mm256_add_pd(_mm256_set1_pd(1.0 / 720), _mm256_mul_pd(r, _mm256_set1_pd(1.0 / 5040)));
    const __m256d q67 = _mm256_add_pd(q45, _mm256_mul_pd(r2, _mm256_set1_pd(1.0 / 40320)));
    const __m256d q = _mm256_add_pd(_mm256_add_pd(q01, _mm256_mul_pd(r2, q23)), _mm256_mul_pd(r4, q67));
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256d p = _mm256_add_pd(one, _mm256_add_pd(r, _mm256_mul_pd(r2, q)));
    const __m256i bits = _mm256_add_epi64(_mm256_castpd_si256(t), _mm256_set1_epi64x(1023));
    const __m256d e = _mm256_mul_pd(p, _mm256_castsi256_pd(_mm256_slli_epi64(bits, 52)));
    const __m256d num = _mm256_blendv_pd(one, e, _mm256_cmp_pd(xd, _mm256_setzero_pd(), _CMP_LT_OQ));
    return _mm256_cvtpd_ps(_mm256_div_pd(num, _mm256_add_pd(one, e)));
}

RT_AVX2_ONLY static void tanh_avx2(real *y, const real *x, long n)
{
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, tanh8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = rt_tanhf(x[i]);
}

RT_AVX2_ONLY static void sigmoid_avx2(real *y, const real *x, long n)
{
    long i = 0;
    for (; i + 4 <= n; i += 4) _mm_storeu_ps(y + i, sigmoid4(_mm_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = rt_sigmoidf(x[i]);
}

/* checked once: the answer does not change while the program runs */
static int use_avx2(void)
{
    static int has = -1;
    int h = __atomic_load_n(&has, __ATOMIC_RELAXED);
    if (h < 0) __atomic_store_n(&has, h = __builtin_cpu_supports("avx2"), __ATOMIC_RELAXED);
    return h;
}
#endif

void rt_tanh_n(real *y, const real *x, long n)
{
#ifdef RT_ACT_AVX2
    if (use_avx2()) {
        tanh_avx2(y, x, n);
        return;
    }
#endif
    for (long i = 0; i < n; i++) y[i] = rt_tanh(x[i]);
}

void rt_sigmoid_n(real *y, const real *x, long n)
{
#ifdef RT_ACT_AVX2
    if (use_avx2()) {
        sigmoid_avx2(y, x, n);
        return;
    }
#endif
    for (long i = 0; i < n; i++) y[i] = rt_sigmoid(x[i]);
}
