/* test_act.c — the float tanh and sigmoid of runtime/rt_act.h and rt_act.c
 * that replace libm's in the generated code: every 16th float in [-10, 10]
 * (137 million; every float, 2.2 billion, with TRAINC_ACT_ALL=1: about four
 * CPU minutes) against double tanh and 1 / (1 + exp(-x)) in ulps of the
 * float result, the array form (AVX2 on a machine with it) bit for bit
 * against the scalar one, the tail of an array that is not a whole vector,
 * in place, and the edges (signed zeros, NaN, infinities, saturation). A
 * negative control: the naive 1 - 2 / (e^2x + 1) fails the same bound. */
#include "rt.h"
#include "check.h"

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

int main(void)
{
    static float x[CHUNK], t[CHUNK], s[CHUNK];
    double max_t = 0, max_s = 0, max_naive = 0;
    float at_t = 0, at_s = 0;
    long mismatch = 0, count = 0;
    const char *all = getenv("TRAINC_ACT_ALL");
    const int stride = all && *all == '1' ? 1 : 16; /* tests/run: a sample of every exponent */
    float v = -10.0f;
    while (v <= 10.0f) {
        int n = 0;
        for (; n < CHUNK && v <= 10.0f; n++) {
            x[n] = v;
            for (int k = 0; k < stride; k++) v = nextafterf(v, 11.0f);
        }
        rt_tanh_n(t, x, n);
        rt_sigmoid_n(s, x, n);
        for (int i = 0; i < n; i++) {
            double et = ulps(t[i], tanh((double)x[i]));
            double es = ulps(s[i], 1 / (1 + exp(-(double)x[i])));
            if (et > max_t) max_t = et, at_t = x[i];
            if (es > max_s) max_s = es, at_s = x[i];
            mismatch += !same_bits(t[i], rt_tanhf(x[i])) || !same_bits(s[i], rt_sigmoidf(x[i]));
            if (i % 64 == 0) {
                double en = ulps((float)naive_tanh(x[i]), tanh((double)x[i]));
                if (en > max_naive) max_naive = en;
            }
        }
        count += n;
    }
    printf("# %ld floats in [-10, 10]: tanh within %.3f ulp (worst at %.9g), sigmoid within %.3f "
           "ulp (worst at %.9g); the naive tanh %.3g ulp\n",
           count, max_t, at_t, max_s, at_s, max_naive);
    CHECK(count > 2000000000L / stride, stride == 1 ? "every float in [-10, 10] is checked"
                                                    : "every 16th float in [-10, 10] is checked");
    CHECK(max_t <= 1.5, "tanh within 1.5 ulp of double tanh over [-10, 10]");
    CHECK(max_s <= 0.6, "sigmoid within 0.6 ulp of double 1 / (1 + e^-x) over [-10, 10]");
    CHECK(mismatch == 0, "the array form gives the scalar form's bits");
    CHECK(max_naive > 1.5, "negative control: the naive 1 - 2 / (e^2x + 1) fails the bound");

    /* the edges, through both forms */
    const float edge[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 0x1p-149f, -0x1p-149f, 1e-30f,
                          9.5f, -9.5f, 20.0f, 88.0f, 103.0f, 104.5f, 200.0f, -88.0f, -103.0f,
                          -104.5f, -200.0f, 0.625f, -0.625f, 0.62499994f};
    const int ne = (int)(sizeof edge / sizeof *edge);
    float et[32], es[32];
    rt_tanh_n(et, edge, ne);
    rt_sigmoid_n(es, edge, ne);
    int edges_ok = 1;
    for (int i = 0; i < ne; i++) {
        double wt = tanh((double)edge[i]), ws = 1 / (1 + exp(-(double)edge[i]));
        int ok = ulps(et[i], wt) <= 1.5 && ulps(es[i], ws) <= 1 && same_bits(et[i], rt_tanhf(edge[i])) &&
                 same_bits(es[i], rt_sigmoidf(edge[i])) && signbit(et[i]) == signbit(edge[i]);
        if (!ok) printf("# edge %g: tanh %a sigmoid %a\n", edge[i], et[i], es[i]);
        edges_ok &= ok;
    }
    CHECK(edges_ok, "signed zeros, NaN, infinities, subnormals and saturation as double tanh and sigmoid");

    /* an array that is not a whole number of vectors, computed in place */
    float in[13], out[13];
    for (int i = 0; i < 13; i++) in[i] = out[i] = (float)i * 0.37f - 2.0f;
    rt_tanh_n(out, out, 13);
    int tail_ok = 1;
    for (int i = 0; i < 13; i++) tail_ok &= same_bits(out[i], rt_tanhf(in[i]));
    for (int i = 0; i < 13; i++) out[i] = in[i];
    rt_sigmoid_n(out, out, 13);
    for (int i = 0; i < 13; i++) tail_ok &= same_bits(out[i], rt_sigmoidf(in[i]));
    CHECK(tail_ok, "13 values in place: the vector part and the tail as the scalar form");
    CHECK_DONE();
}
