/* test_fma.c — runtime/rt_fma.h's rt_fmaf_sse2, the exact float fma that
 * the optimizer updates' SSE2 copy computes in double arithmetic, against
 * glibc's correctly rounded fmaf: 30 million random triples (any bits,
 * products near -c so the sum cancels, tiny and subnormal values), cases
 * where rounding the double sum straight to float is off by one ulp (double
 * rounding; the negative control: that naive version fails them), and the
 * edges (signed zeros, infinities, NaN, overflow, underflow). Also
 * rt_fma(.., native = 0) against native = 1. */
#include "rt.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static int same_bits(float a, float b)
{
    return (isnan(a) && isnan(b)) || !memcmp(&a, &b, sizeof a);
}

/* the sum rounded twice, to double and then to float: what rt_fmaf_sse2
 * would be without its rounding to odd */
static float naive_fmaf(float a, float b, float c)
{
    return (float)((double)a * (double)b + (double)c);
}

static uint64_t state = 88172645463325252ull;
static uint32_t next(void)
{
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return (uint32_t)state;
}

static float any_float(void)
{
    uint32_t u = next();
    float f;
    switch (next() % 4) {
    case 0: /* any bit pattern: NaN, infinities, subnormals included */
        memcpy(&f, &u, sizeof f);
        return f;
    case 1: /* subnormal or among the smallest normals */
        u = (u & 0x807fffffu) | (next() % 4) << 23;
        memcpy(&f, &u, sizeof f);
        return f;
    default: /* weights and gradients: magnitudes 2^-30 .. 2^30 */
        return ldexpf((float)(int32_t)u / 2147483648.0f, (int)(next() % 60) - 30);
    }
}

/* a, b, c with fmaf(a, b, c) != the double-rounded sum (found by search) */
static const float hard[][3] = {
    {0x1.4804p+19f, 0x1.78cp+23f, -0x1.e3105p-40f},
    {0x1.fcp+80f, -0x1.49a18p-25f, -0x1.b508d2p-124f},
    {-0x1.ap+114f, 0x1.3ef8dp-12f, -0x1.c8a6eep-126f},
    {0x1.38p+117f, 0x1.83d0ep-22f, 0x1.3a84ep-19f},
    {-0x1.05p+97f, -0x1.85fbp-9f, -0x1.a5c022p-125f},
    {-0x1.08p-39f, 0x1.95602p+115f, -0x1.22c2b8p+21f},
    {-0x1.cp-3f, 0x1.4c8ee8p-22f, 0x1.b278f2p-126f},
    {0x1.18p+19f, 0x1.95efep-5f, 0x1.9e78p-132f},
    {-0x1.d478p-27f, 0x1.48cp+5f, -0x1.f918p-75f},
    {-0x1.17p-31f, 0x1.3c05p-15f, 0x1.000b74p-124f},
    {0x1.04c95p-33f, 0x1.7p+23f, -0x1.dd30a2p-124f},
    {0x1.3ap-31f, -0x1.4bbb8p+2f, 0x1.12c1dp-126f},
};

int main(void)
{
    long bad = 0, n = 30000000;
    for (long i = 0; i < n; i++) {
        float a = any_float(), b = any_float(), c = any_float();
        if (next() % 4 == 0) /* c near -a * b: the sum cancels */
            c = -(float)((double)a * b) * (1 + ldexpf((float)(int)(next() % 64) - 32, -24));
        if (!same_bits(rt_fmaf_sse2(a, b, c), fmaf(a, b, c)) && bad++ < 5)
            printf("# fma(%a, %a, %a): %a, fmaf %a\n", a, b, c, rt_fmaf_sse2(a, b, c),
                   fmaf(a, b, c));
    }
    CHECK(bad == 0, "30 million random triples: rt_fmaf_sse2 is fmaf bit for bit");

    int hard_ok = 1, naive_off = 1;
    for (size_t i = 0; i < sizeof hard / sizeof hard[0]; i++) {
        const float *t = hard[i];
        hard_ok &= same_bits(rt_fmaf_sse2(t[0], t[1], t[2]), fmaf(t[0], t[1], t[2]));
        naive_off &= !same_bits(naive_fmaf(t[0], t[1], t[2]), fmaf(t[0], t[1], t[2]));
    }
    CHECK(hard_ok, "12 double-rounding cases: rt_fmaf_sse2 is fmaf");
    CHECK(naive_off, "negative control: the double sum rounded straight to float misses all 12");

    const float inf = INFINITY, big = 0x1.fffffep+127f;
    const float edge[][3] = {
        {-0.0f, 1.0f, -0.0f}, {-0.0f, 1.0f, 0.0f},  {1.0f, -1.0f, 1.0f}, {0.0f, inf, 1.0f},
        {inf, 1.0f, -inf},    {inf, 2.0f, 1.0f},    {-inf, 2.0f, 1.0f},  {NAN, 1.0f, 1.0f},
        {1.0f, 1.0f, NAN},    {big, 2.0f, 0.0f},    {big, 1.0f, big},    {big, -2.0f, big},
        {0x1p-75f, 0x1p-75f, 0.0f}, {0x1p-75f, 0x1.8p-75f, 0x1p-149f}, {0x1p-100f, -0x1p-50f, 0x1p-149f},
        {3.0f, 0x1p-149f, -0x1p-148f},
    };
    int edge_ok = 1;
    for (size_t i = 0; i < sizeof edge / sizeof edge[0]; i++) {
        const float *t = edge[i], got = rt_fmaf_sse2(t[0], t[1], t[2]), want = fmaf(t[0], t[1], t[2]);
        if (!same_bits(got, want)) {
            printf("# edge fma(%a, %a, %a): %a, fmaf %a\n", t[0], t[1], t[2], got, want);
            edge_ok = 0;
        }
    }
    CHECK(edge_ok, "edges: signed zeros, infinities, NaN, overflow, underflow as fmaf");

    int native_ok = 1;
    for (long i = 0; i < 1000000; i++) {
        real a = any_float(), b = any_float(), c = any_float();
        native_ok &= same_bits(rt_fma(a, b, c, 0), rt_fma(a, b, c, 1));
    }
    CHECK(native_ok, "rt_fma: the emulation (native = 0) is the CPU's fma (native = 1)");
    CHECK_DONE();
}
