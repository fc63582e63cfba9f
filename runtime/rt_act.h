/* rt_act.h — tanh and sigmoid of one float, as the generated code calls
 * them (rt_tanh, rt_sigmoid) and as rt_act.c's array forms compute them,
 * lane for lane: the same operations in the same order, no fma, so that a
 * value is the same bits whichever path computed it. Included by rt.h.
 *
 * Why not libm: glibc's tanhf and expf are scalar calls (tanhf through
 * expm1f: ~110 instructions a value), the bulk of a tiny net's step. These
 * are branch-free and vectorise; measured over every float in [-10, 10]
 * against double tanh and 1 / (1 + exp(-x)) (tests/test_act.c): tanh within
 * 1.4 ulp, sigmoid within 0.51 ulp (it works in double). double models keep
 * libm (rt_tanh, rt_sigmoid pick it by type). */
#ifndef RT_ACT_H
#define RT_ACT_H

#include <math.h>
#include <stdint.h>
#include <string.h>

/* e^y for y in [0, 19] (tanh's range): y = k ln2 + r, |r| <= ln2 / 2, with
 * k rounded by adding 1.5 * 2^23 (its low bits are then k), r from ln2 split
 * in two (k * ln2_hi is exact), e^r by a degree-6 polynomial fitted to its
 * relative error, and 2^k built from k's bits. A NaN stays a NaN. */
static inline float rt_act_expf(float y)
{
    const float shift = 12582912.0f;
    const float t = y * 1.44269504f + shift;
    const float kf = t - shift;
    const float r = (y - kf * 0.693145751953125f) - kf * 1.42860682030941723212e-6f;
    const float q =
        0.49999988f + r * (0.16666518f + r * (0.041669533f + r * (0.008368916f + r * 0.0013751407f)));
    const float p = 1.0f + (r + (r * r) * q);
    uint32_t bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits + 127u) << 23;
    float scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh(x): below |x| = 0.625 the odd polynomial x + x^3 P(x^2) (degree 4 in
 * x^2, fitted to tanh's relative error there), above it 1 - 2 / (e^2|x| + 1)
 * (no cancellation: tanh >= 0.55 there); |x| > 9.5 rounds to 1 */
static inline float rt_tanhf(float x)
{
    const float a = fabsf(x), a2 = a * a;
    const float poly =
        -0.3333328f + a2 * (0.13331382f + a2 * (-0.05373532f + a2 * (0.020626292f + a2 * -0.005691986f)));
    const float small = a + a * (a2 * poly);
    const float ac = 9.5f < a ? 9.5f : a;
    const float e = rt_act_expf(ac + ac);
    const float big = 1.0f - 2.0f / (e + 1.0f);
    return copysignf(a < 0.625f ? small : big, x);
}

/* e^y in double for y in [-104, 0] (sigmoid's range), as rt_act_expf with
 * 1.5 * 2^52 and a degree-8 Taylor polynomial (error below 3e-10), its
 * tail q evaluated by Estrin's scheme: pairs, then r^2 and r^4, a chain of
 * 5 operations where Horner's is 12 (a tiny net's step waits on it). Over
 * every one of the 2^32 floats, the sigmoid below rounds to the same bits
 * as with Horner's order. */
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
#define rt_tanh(x) _Generic((x), float: rt_tanhf, default: tanh)(x)
#define rt_sigmoid(x) _Generic((x), float: rt_sigmoidf, default: rt_sigmoid_d)(x)

#endif
