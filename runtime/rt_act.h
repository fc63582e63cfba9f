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

/* the generated code's: float through the above, double through libm */
#define rt_tanh(x) _Generic((x), float : rt_tanhf, default : tanh)(x)
#define rt_sigmoid(x) _Generic((x), float : rt_sigmoidf, default : rt_sigmoid_d)(x)

#endif
