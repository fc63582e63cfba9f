/* rt_act.h — tanh and sigmoid of one float, as the generated code calls
 * them (rt_tanh, rt_sigmoid) and as rt_act.c's array forms compute them,
 * lane for lane: the same operations in the same order, no fma, so that a
 * value is the same bits whichever path computed it. Included by rt.h.
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

/* e^y in double for y in [-104, 0] (sigmoid's range): y = k ln2 + r,
 * |r| <= ln2 / 2, with k rounded by adding 1.5 * 2^52 (its low bits are
 * then k), r from ln2 split in two, 2^k from k's bits, and a degree-8
 * Taylor polynomial (error below 3e-10), its tail q evaluated by Estrin's
 * scheme: pairs, then r^2 and r^4, a chain of 5 operations where Horner's
 * is 12 (a tiny net's step waits on it). Over every one of the 2^32
 * floats, the sigmoid below rounds to the same bits as with Horner's
 * order. */
static inline double rt_act_exp(double y)
{
    const double shift = 6755399441055744.0;
    const double t = y * 1.4426950408889634 + shift;
    const double kf = t - shift;
    const double r = (y - kf * 6.93147180369123816490e-01) - kf * 1.90821492927058770002e-10;
    const double r2 = r * r, r4 = r2 * r2;
    const double q01 = 0.5 + r * (1.0 / 6), q23 = 1.0 / 24 + r * (1.0 / 120);
    const double q45 = 1.0 / 720 + r * (1.0 / 5040);
    const double q = (q01 + r2 * q23) + r4 * (q45 + r2 * (1.0 / 40320));
    const double p = 1.0 + (r + r2 * q);
    uint64_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 1023u) << 52;
    double scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* sigmoid(x) in double, rounded once to float: e = e^-|x| never overflows;
 * 1 / (1 + e) for x >= 0, e / (1 + e) below; |x| > 104 gives 0 or 1 */
static inline float rt_sigmoidf(float x)
{
    const double m = -fabs((double)x);
    const double e = rt_act_exp(-104.0 > m ? -104.0 : m);
    return (float)((x < 0 ? e : 1.0) / (1.0 + e));
}

static inline double rt_sigmoid_d(double x)
{
    return 1 / (1 + exp(-x));
}

/* the generated code's: float through the above, double through libm */
#define rt_tanh(x) _Generic((x), float : rt_tanhf, default : tanh)(x)
#define rt_sigmoid(x) _Generic((x), float : rt_sigmoidf, default : rt_sigmoid_d)(x)

#endif
