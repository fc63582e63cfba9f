/* rt_rng.c — random numbers and initialisers: MT19937 seeded as
 * torch.manual_seed / numpy.random.RandomState, the uniform, normal, integer
 * and shuffle draws built on it, and the parameter initialisers. */
#include "rt.h"

#include <math.h>

#define MT_N 624
#define MT_M 397
#define MT_UPPER 0x80000000u
#define MT_LOWER 0x7fffffffu

/* init_genrand of the reference mt19937ar.c; torch and numpy both seed this
 * way, which is what makes our uniform draws equal theirs. */
void rt_rng_seed(rt_rng *rng, uint32_t seed)
{
    rng->mt[0] = seed;
    for (int i = 1; i < MT_N; i++) {
        uint32_t prev = rng->mt[i - 1];
        rng->mt[i] = 1812433253u * (prev ^ (prev >> 30)) + (uint32_t)i;
    }
    rng->mti = MT_N;
    rng->has_normal = 0;
    rng->next_normal = 0.0;
}

static void mt_twist(rt_rng *rng)
{
    uint32_t *mt = rng->mt;
    for (int i = 0; i < MT_N; i++) {
        uint32_t y = (mt[i] & MT_UPPER) | (mt[(i + 1) % MT_N] & MT_LOWER);
        mt[i] = mt[(i + MT_M) % MT_N] ^ (y >> 1) ^ ((y & 1u) ? 0x9908b0dfu : 0u);
    }
    rng->mti = 0;
}

uint32_t rt_rng_u32(rt_rng *rng)
{
    /* An unseeded (zeroed or garbage) state would twist to all zeros
     * forever; seed it with mt19937ar's default instead. */
    if (rng->mti < 0 || rng->mti > MT_N) rt_rng_seed(rng, 5489u);
    if (rng->mti == MT_N) mt_twist(rng);
    uint32_t y = rng->mt[rng->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

double rt_rng_uniform24(rt_rng *rng)
{
    /* torch's float uniform_ keeps the low 24 bits of one output */
    return (double)(rt_rng_u32(rng) & 0xFFFFFFu) * (1.0 / 16777216.0);
}

double rt_rng_uniform53(rt_rng *rng)
{
    /* numpy's random_sample (genrand_res53): 27 + 26 bits of two outputs */
    uint32_t a = rt_rng_u32(rng) >> 5, b = rt_rng_u32(rng) >> 6;
    return ((double)a * 67108864.0 + (double)b) * (1.0 / 9007199254740992.0);
}

double rt_rng_normal(rt_rng *rng)
{
    if (rng->has_normal) {
        rng->has_normal = 0;
        return rng->next_normal;
    }
    const double two_pi = 6.283185307179586476925286766559;
    double u1 = rt_rng_uniform53(rng), u2 = rt_rng_uniform53(rng);
    /* 1 - u1 lies in (0, 1], so the log is finite */
    double r = sqrt(-2.0 * log(1.0 - u1));
    rng->next_normal = r * sin(two_pi * u2);
    rng->has_normal = 1;
    return r * cos(two_pi * u2);
}

uint32_t rt_rng_below(rt_rng *rng, uint32_t n)
{
    if (n <= 1) return 0;
    /* Reject the lowest 2^32 mod n values so every residue has the same
     * number of preimages. */
    uint32_t threshold = (uint32_t)(-n) % n;
    for (;;) {
        uint32_t r = rt_rng_u32(rng);
        if (r >= threshold) return r % n;
    }
}

void rt_shuffle(rt_rng *rng, int32_t *idx, int32_t n)
{
    for (int32_t i = n - 1; i > 0; i--) {
        int32_t j = (int32_t)rt_rng_below(rng, (uint32_t)i + 1u);
        int32_t t = idx[i];
        idx[i] = idx[j];
        idx[j] = t;
    }
}

#ifndef TRAINC_DOUBLE
void rt_init_uniform(rt_rng *rng, real *p, long n, double a, double b)
{
    /* torch 1.13's float uniform_(a, b), measured against it bit for bit
     * (tests/test_init_torch.py): a and b are first rounded to float and
     * b - a is taken in float; then u * span + a is formed in double (the
     * product is exact: 24 x 24 bits) and rounded once to float. Taking
     * b - a in double instead differs for bounds like 1/sqrt(784). */
    float from = (float)a, to = (float)b;
    double span = (double)(float)(to - from);
    for (long i = 0; i < n; i++) p[i] = (float)(rt_rng_uniform24(rng) * span + (double)from);
}
#else
void rt_init_uniform(rt_rng *rng, real *p, long n, double a, double b)
{
    /* torch 1.13's float64 uniform_(a, b), so double trainers start from
     * the weights of a float64 PyTorch model: u takes the low 53 bits of
     * (first output << 32 | second output), and u * (b - a) + a is one fused
     * multiply-add (torch's AVX2 kernel contracts it). */
    double span = b - a;
    for (long i = 0; i < n; i++) {
        uint64_t hi = rt_rng_u32(rng), lo = rt_rng_u32(rng);
        uint64_t bits = ((hi << 32) | lo) & ((UINT64_C(1) << 53) - 1);
        p[i] = fma((double)bits * (1.0 / 9007199254740992.0), span, a);
    }
}
#endif

void rt_init_normal(rt_rng *rng, real *p, long n, double mean, double std)
{
    for (long i = 0; i < n; i++) p[i] = (real)(mean + std * rt_rng_normal(rng));
}

void rt_init_constant(real *p, long n, double value)
{
    real v = (real)value;
    for (long i = 0; i < n; i++) p[i] = v;
}
