/* test_act.c — the float tanh and sigmoid of runtime/rt_act.h and rt_act.c
 * that replace libm's in the generated code: every 16th float in [-10, 10]
 * (137 million; every float, 2.2 billion, with TRAINC_ACT_ALL=1: about four
 * CPU minutes) against double tanh and 1 / (1 + exp(-x)) in ulps of the
 * float result, the array form (AVX-512 or AVX2 on a machine with it) bit
 * for bit against the scalar one, the tail of an array that is not a whole
 * vector, in place, and the edges (signed zeros, NaN, infinities,
 * saturation); the sigmoid also over [-110, -10) and (10, 20]. Then, in
 * child processes (the choice is made once a process), the AVX2 form
 * (TRAINC_ACT=avx2) and the scalar loop (TRAINC_ACT=off) bit for bit
 * against the scalar form over the same floats. A negative control: the
 * naive 1 - 2 / (e^2x + 1) fails the bound. */
#include "rt.h"
#include "check.h"
#include "check_child.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* |got - want| in units of the last place of the float nearest want */
static double ulps(float got, double want)
{
    if (isnan(want)) return isnan(got) ? 0 : INFINITY;
    int ex;
    frexp(want, &ex);
    double u = ldexp(1.0, ex - 24);
    if (u < 0x1p-149) u = 0x1p-149; /* subnormal: the spacing is fixed */
    return fabs((double)got - want) / u;
}

static double naive_tanh(float x)
{
    return 1.0f - 2.0f / (expf(x + x) + 1.0f);
}

static int same_bits(float a, float b)
{
    return (isnan(a) && isnan(b)) || !memcmp(&a, &b, sizeof a);
}

#define CHUNK 4096

/* every stride-th float in [-10, 10] through the array forms (the path
 * TRAINC_ACT leaves) against the scalar forms' bits; with measure, the
 * ulps against double too (and the naive tanh's, every 64th) */
typedef struct {
    long count, mismatch;
    double max_t, max_s, max_naive;
    float at_t, at_s;
} sweep_result;

/* floats in order as unsigned keys: stepping a key by 1 is nextafterf's
 * step (-0 and +0 are two keys), without its cost */
static uint32_t key_of(float v)
{
    uint32_t b;
    memcpy(&b, &v, sizeof b);
    return b >> 31 ? ~b : b | 0x80000000u;
}

static float float_of(uint32_t k)
{
    const uint32_t b = k >> 31 ? k & 0x7fffffffu : ~k;
    float v;
    memcpy(&v, &b, sizeof v);
    return v;
}

static sweep_result sweep(int stride, int measure)
{
    static float x[CHUNK], t[CHUNK], s[CHUNK];
    sweep_result r = {0};
    const uint32_t last = key_of(10.0f);
    uint32_t k = key_of(-10.0f);
    while (k <= last) {
        int n = 0;
        for (; n < CHUNK && k <= last; n++, k += (uint32_t)stride) x[n] = float_of(k);
        rt_tanh_n(t, x, n);
        rt_sigmoid_n(s, x, n);
        for (int i = 0; i < n; i++) {
            r.mismatch += !same_bits(t[i], rt_tanhf(x[i])) || !same_bits(s[i], rt_sigmoidf(x[i]));
            if (!measure) continue;
            double et = ulps(t[i], tanh((double)x[i]));
            double es = ulps(s[i], 1 / (1 + exp(-(double)x[i])));
            if (et > r.max_t) r.max_t = et, r.at_t = x[i];
            if (es > r.max_s) r.max_s = es, r.at_s = x[i];
            if (i % 64 == 0) {
                double en = ulps((float)naive_tanh(x[i]), tanh((double)x[i]));
                if (en > r.max_naive) r.max_naive = en;
            }
        }
        r.count += n;
    }
    return r;
}

/* the sigmoid beyond [-10, 10], where tanh has saturated and it has not:
 * (10, 20] and [-110, -10) (its e^-|x| down to the subnormals and the
 * clamp at -104): the array form against the scalar one's bits, and with
 * measure its ulps against double */
static sweep_result sigmoid_tails(int stride, int measure)
{
    static float x[CHUNK], s[CHUNK];
    const float ranges[2][2] = {{-110.0f, -10.0f}, {10.0f, 20.0f}};
    sweep_result r = {0};
    for (int q = 0; q < 2; q++) {
        const uint32_t last = key_of(ranges[q][1]);
        uint32_t k = key_of(ranges[q][0]);
        while (k <= last) {
            int n = 0;
            for (; n < CHUNK && k <= last; n++, k += (uint32_t)stride) x[n] = float_of(k);
            rt_sigmoid_n(s, x, n);
            for (int i = 0; i < n; i++) {
                r.mismatch += !same_bits(s[i], rt_sigmoidf(x[i]));
                if (!measure) continue;
                double es = ulps(s[i], 1 / (1 + exp(-(double)x[i])));
                if (es > r.max_s) r.max_s = es, r.at_s = x[i];
            }
            r.count += n;
        }
    }
    return r;
}

/* 37 values computed in place: two AVX-512 vectors or four AVX2 ones, then
 * a tail of 5 */
static int tail_in_place(void)
{
    float in[37], out[37];
    for (int i = 0; i < 37; i++) in[i] = out[i] = (float)i * 0.37f - 6.0f;
    rt_tanh_n(out, out, 37);
    int ok = 1;
    for (int i = 0; i < 37; i++) ok &= same_bits(out[i], rt_tanhf(in[i]));
    for (int i = 0; i < 37; i++) out[i] = in[i];
    rt_sigmoid_n(out, out, 37);
    for (int i = 0; i < 37; i++) ok &= same_bits(out[i], rt_sigmoidf(in[i]));
    return ok;
}

int main(int argc, char **argv)
{
    const char *all = getenv("TRAINC_ACT_ALL");
    const int stride = all && *all == '1' ? 1 : 16; /* tests/run: a sample of every exponent */
    if (argc > 1 && !strcmp(argv[1], "--bits")) {
        const char *path = getenv("TRAINC_ACT");
        char name[128];
        snprintf(name, sizeof name, "TRAINC_ACT=%s: the array form gives the scalar form's bits",
                 path);
        CHECK(sweep(stride, 0).mismatch == 0, name);
        snprintf(name, sizeof name, "TRAINC_ACT=%s: the sigmoid beyond [-10, 10] too", path);
        CHECK(sigmoid_tails(stride, 0).mismatch == 0, name);
        snprintf(name, sizeof name, "TRAINC_ACT=%s: 37 values in place as the scalar form", path);
        CHECK(tail_in_place(), name);
        CHECK_DONE();
    }
    unsetenv("TRAINC_ACT"); /* the path the CPU picks, whatever the caller's environment */
    const sweep_result r = sweep(stride, 1);
    printf("# %ld floats in [-10, 10]: tanh within %.3f ulp (worst at %.9g), sigmoid within %.3f "
           "ulp (worst at %.9g); the naive tanh %.3g ulp\n",
           r.count, r.max_t, r.at_t, r.max_s, r.at_s, r.max_naive);
    CHECK(r.count > 2000000000L / stride, stride == 1 ? "every float in [-10, 10] is checked"
                                                      : "every 16th float in [-10, 10] is checked");
    CHECK(r.max_t <= 1.0, "tanh within 1 ulp of double tanh over [-10, 10]");
    CHECK(r.max_s <= 0.51, "sigmoid within 0.51 ulp of double 1 / (1 + e^-x) over [-10, 10]");
    CHECK(r.mismatch == 0, "the array form gives the scalar form's bits");
    CHECK(r.max_naive > 1.0, "negative control: the naive 1 - 2 / (e^2x + 1) fails the bound");
    const sweep_result tails = sigmoid_tails(stride, 1);
    printf("# %ld floats in [-110, -10) and (10, 20]: sigmoid within %.4f ulp (worst at %.9g)\n",
           tails.count, tails.max_s, tails.at_s);
    CHECK(tails.max_s <= 0.51 && tails.mismatch == 0,
          "the sigmoid beyond [-10, 10] (to the subnormals and its clamp at -104): within 0.51 "
          "ulp, the array form as the scalar one");

    /* the edges, through both forms */
    const float edge[] = {
        0.0f,   -0.0f,       NAN,     -NAN,    INFINITY, -INFINITY, 0x1p-149f, -0x1p-149f, 1e-30f,
        0.125f, 0.12499999f, 9.5f,    -9.5f,   9.50001f, 20.0f,     88.0f,     103.0f,     104.5f,
        200.0f, -88.0f,      -103.0f, -104.5f, -200.0f,  0.625f,    -0.625f,   0.62499994f};
    const int ne = (int)(sizeof edge / sizeof *edge);
    float et[32], es[32];
    rt_tanh_n(et, edge, ne);
    rt_sigmoid_n(es, edge, ne);
    int edges_ok = 1;
    for (int i = 0; i < ne; i++) {
        double wt = tanh((double)edge[i]), ws = 1 / (1 + exp(-(double)edge[i]));
        int ok = ulps(et[i], wt) <= 1 && ulps(es[i], ws) <= 1 &&
                 same_bits(et[i], rt_tanhf(edge[i])) && same_bits(es[i], rt_sigmoidf(edge[i])) &&
                 signbit(et[i]) == signbit(edge[i]);
        if (!ok) printf("# edge %g: tanh %a sigmoid %a\n", edge[i], et[i], es[i]);
        edges_ok &= ok;
    }
    CHECK(edges_ok,
          "signed zeros, NaN, infinities, subnormals and saturation as double tanh and sigmoid");
    CHECK(tail_in_place(), "37 values in place: the vectors and the tail as the scalar form");
    if (__builtin_cpu_supports("avx512f"))
        CHECK(check_child(argv[0], "TRAINC_ACT", "avx2", "--bits"), "the AVX2 run (above) passed");
    CHECK(check_child(argv[0], "TRAINC_ACT", "off", "--bits"), "the scalar run (above) passed");
    CHECK_DONE();
}
