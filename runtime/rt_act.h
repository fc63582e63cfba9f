/* rt_act.h — tanh and sigmoid of one float, as the generated code calls
 * them (rt_tanh, rt_sigmoid) and as rt_act.c's array forms compute them,
 * lane for lane: the same operations in the same order (tanh without fma,
 * the sigmoid with fma in double, exact on every path), so that a value is
 * the same bits whichever path computed it. Included by rt.h.
 *
 * Why not libm: glibc's tanhf and expf are scalar calls (tanhf through
 * expm1f: ~110 instructions a value), the bulk of a tiny net's step. These
 * are branch-free and vectorise; measured over every float in [-10, 10]
 * against double tanh and 1 / (1 + exp(-x)) (tests/test_act.c): tanh within
 * 0.74 ulp, sigmoid within 0.51 ulp (it works in double). double models keep
 * libm (rt_tanh, rt_sigmoid pick it by type). */
#ifndef RT_ACT_H
#define RT_ACT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* tanh's table (rt_act.c, printed by tests/act_table.py): per bin of |x|,
 * row 0 its centre c, rows 1 to 6 the polynomial's c0 .. c5 */
extern const float rt_tanh_table[7][32];

/* tanh(x) = sign(x) tanh(a), a = |x| clamped to 9.5 (tanh rounds to 1
 * above): a's bin is 0 below 1/8, else its exponent and two leading
 * mantissa bits (4 bins an octave, 26 in all), so one shift of its bits;
 * then with d = a - c (exact), c0 + (c1 d + d^2 ((c2 + c3 d) + d^2 (c4 +
 * c5 d))). A chain of ~10 operations where e^2a and a division take ~20;
 * the vector forms look the bins' rows up with permutes. A NaN lands in a
 * bin and stays a NaN. */
static inline float rt_tanhf(float x)
{
    const float a = fabsf(x), ac = 9.5f < a ? 9.5f : a;
    uint32_t bits;
    memcpy(&bits, &ac, sizeof bits);
    const int32_t above = (int32_t)(bits >> 21) - 495; /* 496: 1/8's exponent, mantissa 00 */
    const int bin = (above < 0 ? 0 : above) & 31;
    const float d = ac - rt_tanh_table[0][bin], d2 = d * d;
    const float r = (rt_tanh_table[3][bin] + rt_tanh_table[4][bin] * d) +
                    d2 * (rt_tanh_table[5][bin] + rt_tanh_table[6][bin] * d);
    return copysignf(rt_tanh_table[1][bin] + (rt_tanh_table[2][bin] * d + d2 * r), x);
}

/* 2^(j/4), j = 0..3: the sigmoid's e^y = 2^m 2^(j/4) e^r */
static const double rt_exp2_quarters[4] = {1.0, 0x1.306fe0a31b715p+0, 0x1.6a09e667f3bcdp+0,
                                           0x1.ae89f995ad3adp+0};

/* sigmoid(x) in double, rounded once to float: 1 / (1 + e) for x >= 0,
 * e / (1 + e) below, e = e^y, y = -|x| clamped at -104 (never overflows).
 * y = k ln2/4 + r, |r| <= ln2/8: k is rounded by adding 1.5 * 2^52 + 1024
 * (t's low bits are then k + 1024 >= 0), so with k = 4m + j, 2^(j/4) from
 * the table and 2^m from t's bits, e = s (1 + r P(r)), s = 2^m 2^(j/4),
 * P of degree 5 (Taylor: relative error below 1e-11) in pairs (Estrin's
 * scheme); 1 + e is one rounding of s r P + (1 + s). A chain of ~60 cycles
 * where e^y with |r| <= ln2/2 (a degree-8 polynomial) and then 1 + e took
 * ~80: a tiny net's step waits on it. fma in double is exact everywhere
 * (one rounding, IEEE), so every path gives the same bits; without the
 * instruction (the portable build) it is libm's call. Measured over every
 * float in [-110, 20]: within 0.5001 ulp of double 1 / (1 + exp(-x)). */
static inline float rt_sigmoidf(float x)
{
    const double ny = -fabs((double)x);
    const double y = -104.0 > ny ? -104.0 : ny;
    const double shift = 0x1.8p52 + 1024;
    const double t = fma(y, 5.7707801635558535 /* 4 / ln2 */, shift);
    const double kf = t - shift;
    const double r = fma(kf, -0.17328679513998632 /* ln2 / 4 */, y);
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    /* 2^m: (t's bits >> 2) + 767 ends in 1023 + m in its low 12 bits */
    const uint64_t m_bits = ((bits >> 2) + 767u) << 52;
    double two_m;
    memcpy(&two_m, &m_bits, sizeof two_m);
    const double s = rt_exp2_quarters[bits & 3] * two_m;
    const double r2 = r * r, r4 = r2 * r2;
    const double p =
        fma(r4, fma(r, 1.0 / 720, 1.0 / 120), fma(r2, fma(r, 1.0 / 24, 1.0 / 6), fma(r, 0.5, 1.0)));
    const double sr = s * r;
    const double e = fma(sr, p, s), den = fma(sr, p, 1.0 + s);
    return (float)((x < 0 ? e : 1.0) / den);
}

static inline double rt_sigmoid_d(double x)
{
    return 1 / (1 + exp(-x));
}

#if defined(__GNUC__) && defined(__x86_64__) && !defined(RT_PORTABLE) && !defined(TRAINC_DOUBLE)
/* the vector forms: rt_act.c's, and the sigmoid's inline in rt.h */
#define RT_ACT_VECTOR 1
#include <immintrin.h>
#define RT_ACT_FMA __attribute__((target("avx2,fma")))

/* rt_sigmoidf on 4 lanes, in double: the same operations */
RT_ACT_FMA static inline __m128 rt_sigmoid4(__m128 x)
{
    const __m256d xd = _mm256_cvtps_pd(x);
    const __m256d ny = _mm256_or_pd(xd, _mm256_set1_pd(-0.0));   /* -|x| */
    const __m256d y = _mm256_max_pd(_mm256_set1_pd(-104.0), ny); /* -104 > ny ? -104 : ny */
    const __m256d shift = _mm256_set1_pd(0x1.8p52 + 1024);
    const __m256d t = _mm256_fmadd_pd(y, _mm256_set1_pd(5.7707801635558535), shift);
    const __m256d kf = _mm256_sub_pd(t, shift);
    const __m256d r = _mm256_fmadd_pd(kf, _mm256_set1_pd(-0.17328679513998632), y);
    const __m256i bits = _mm256_castpd_si256(t);
    const __m256d two_m = _mm256_castsi256_pd(_mm256_slli_epi64(
        _mm256_add_epi64(_mm256_srli_epi64(bits, 2), _mm256_set1_epi64x(767)), 52));
    /* 2^(j/4): the table's double j is floats 2j and 2j + 1 */
    const __m256i j = _mm256_and_si256(bits, _mm256_set1_epi64x(3));
    const __m256i pair =
        _mm256_or_si256(_mm256_or_si256(_mm256_slli_epi64(j, 1), _mm256_slli_epi64(j, 33)),
                        _mm256_set1_epi64x(INT64_C(1) << 32));
    const __m256 quarters = _mm256_castpd_ps(_mm256_loadu_pd(rt_exp2_quarters));
    const __m256d s =
        _mm256_mul_pd(_mm256_castps_pd(_mm256_permutevar8x32_ps(quarters, pair)), two_m);
    const __m256d r2 = _mm256_mul_pd(r, r), r4 = _mm256_mul_pd(r2, r2);
    const __m256d p = _mm256_fmadd_pd(
        r4, _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 720), _mm256_set1_pd(1.0 / 120)),
        _mm256_fmadd_pd(r2, _mm256_fmadd_pd(r, _mm256_set1_pd(1.0 / 24), _mm256_set1_pd(1.0 / 6)),
                        _mm256_fmadd_pd(r, _mm256_set1_pd(0.5), _mm256_set1_pd(1.0))));
    const __m256d one = _mm256_set1_pd(1.0);
    const __m256d sr = _mm256_mul_pd(s, r);
    const __m256d e = _mm256_fmadd_pd(sr, p, s);
    const __m256d den = _mm256_fmadd_pd(sr, p, _mm256_add_pd(one, s));
    const __m256d num =
        _mm256_blendv_pd(one, e, _mm256_cmp_pd(xd, _mm256_setzero_pd(), _CMP_LT_OQ));
    return _mm256_cvtpd_ps(_mm256_div_pd(num, den));
}

/* y[0..3] = rt_sigmoidf(x[0..3]); y may be x. Pointers, not vectors: the
 * caller (rt.h's rt_sigmoid_n) has no target of its own */
RT_ACT_FMA static inline void rt_sigmoid4_at(float *y, const float *x)
{
    _mm_storeu_ps(y, rt_sigmoid4(_mm_loadu_ps(x)));
}
#endif

/* the generated code's: float through the above, double through libm */
#define rt_tanh(x) _Generic((x), float : rt_tanhf, default : tanh)(x)
#define rt_sigmoid(x) _Generic((x), float : rt_sigmoidf, default : rt_sigmoid_d)(x)

#endif
