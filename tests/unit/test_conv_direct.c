/* test_conv_direct.c — trainc's direct convolution kernel
 * (runtime/rt_conv.c, rt_sconv_direct) against the generated loops'
 * arithmetic written out here (y = bias, then + w·x per tap in order, a
 * multiply then an add, no contraction): the same bits, on LeNet's first
 * layer and on odd sizes that exercise every tile and tail: output widths 1
 * to 53 (full vectors of 8 and 16, masked last ones, rows of more than one
 * tile), output channels 1 to 9 (blocks of 8, 4 and 1), 1 to 3 input
 * channels, non-square kernels, with and without a bias, and padding
 * (fashion_cnn's first layer; rows and columns apart; past the kernel; an
 * infinite weight, whose padding-row taps the loops skip). The input ends
 * right before an unreadable page and the output has guards on both sides:
 * a masked load or store that reaches past its row fails. Negative control:
 * the comparison fails when one element of the last (masked) column is one
 * ulp off. The kernel chosen by the CPU runs first, then (a child process,
 * TRAINC_CONV=avx2) the AVX2 tiles; TRAINC_CONV=off declines (-1, y
 * untouched). */
#define _GNU_SOURCE
#include "rt.h"
#include "check.h"
#include "check_child.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef TRAINC_DOUBLE
/* the generated loops' order (gen/ops/conv_direct.c, direct_loops): a
 * padding row's taps skipped, a padding column's multiplied by 0 (xp) */
static void reference(long B, long C, long H, long W, long OC, long kh, long kw, long ph, long pw,
                      const float *x, const float *w, const float *bias, float *y)
{
    long OH = H + 2 * ph - kh + 1, OW = W + 2 * pw - kw + 1;
    for (long b = 0; b < B; b++)
        for (long oc = 0; oc < OC; oc++)
            for (long oy = 0; oy < OH; oy++)
                for (long ox = 0; ox < OW; ox++) {
                    float acc = bias ? bias[oc] : 0;
                    for (long c = 0; c < C; c++)
                        for (long i = 0; i < kh; i++) {
                            const long iy = oy + i - ph;
                            if (iy < 0 || iy >= H) continue;
                            for (long j = 0; j < kw; j++) {
                                const long ix = ox + j - pw;
                                const float xv =
                                    ix < 0 || ix >= W ? 0 : x[((b * C + c) * H + iy) * W + ix];
                                const float p = w[((oc * C + c) * kh + i) * kw + j] * xv;
                                acc = acc + p;
                            }
                        }
                    y[((b * OC + oc) * OH + oy) * OW + ox] = acc;
                }
}

/* n floats that end where an unreadable page begins */
static float *at_page_end(long n)
{
    long page = sysconf(_SC_PAGESIZE), bytes = (n * (long)sizeof(float) + page - 1) / page * page;
    char *m = mmap(NULL, (size_t)(bytes + page), PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) abort();
    if (mprotect(m + bytes, (size_t)page, PROT_NONE)) abort();
    return (float *)(m + bytes) - n;
}

static float rnd(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) & 0xffff) / 32768.0f - 1.0f;
}

#define GUARD 16
/* 1 when the kernel matches the reference bit for bit and keeps its guards;
 * ulp_off: the negative control (the reference's last element moved) */
static int same(long B, long C, long H, long W, long OC, long kh, long kw, long ph, long pw,
                int with_bias, int ulp_off, unsigned seed)
{
    long OH = H + 2 * ph - kh + 1, OW = W + 2 * pw - kw + 1, ny = B * OC * OH * OW;
    float *x = at_page_end(B * C * H * W), *w = malloc(sizeof(float) * OC * C * kh * kw);
    float *bias = malloc(sizeof(float) * OC), *y = malloc(sizeof(float) * (ny + 2 * GUARD));
    float *ref = malloc(sizeof(float) * ny);
    for (long k = 0; k < B * C * H * W; k++) x[k] = rnd(&seed);
    for (long k = 0; k < OC * C * kh * kw; k++) w[k] = rnd(&seed);
    for (long k = 0; k < OC; k++) bias[k] = rnd(&seed);
    for (long k = 0; k < ny + 2 * GUARD; k++) y[k] = -7.0f;
    if (ulp_off == 2) w[OC * C * kh * kw - 1] = INFINITY; /* inf · 0 is NaN: a row skipped */
    reference(B, C, H, W, OC, kh, kw, ph, pw, x, w, with_bias ? bias : NULL, ref);
    if (ulp_off == 1) ref[ny - 1] = nextafterf(ref[ny - 1], INFINITY);
    int ok = rt_sconv_direct(B, C, H, W, OC, kh, kw, ph, pw, x, w, with_bias ? bias : NULL,
                             y + GUARD) == 0;
    ok = ok && !memcmp(y + GUARD, ref, sizeof(float) * ny);
    for (long k = 0; k < GUARD; k++) ok = ok && y[k] == -7.0f && y[GUARD + ny + k] == -7.0f;
    free(w), free(bias), free(y), free(ref);
    return ok;
}

/* the weight gradient in the generated loops' lanes
 * (emit_conv_direct_grad_weight): per image and (oc, tap), output column
 * ox in lane ox mod 8, the row's partial last vector from lane 0, a
 * padding row skipped, a padding column's x 0; the lanes added pairwise
 * onto dw */
static void reference_dw(long B, long C, long H, long W, long OC, long kh, long kw, long ph,
                         long pw, const float *x, const float *dy, float *dw)
{
    long OH = H + 2 * ph - kh + 1, OW = W + 2 * pw - kw + 1, OW8 = OW / 8 * 8;
    memset(dw, 0, sizeof(float) * (size_t)(OC * C * kh * kw));
    for (long b = 0; b < B; b++)
        for (long oc = 0; oc < OC; oc++)
            for (long c = 0; c < C; c++)
                for (long i = 0; i < kh; i++)
                    for (long j = 0; j < kw; j++) {
                        float l[8] = {0};
                        for (long oy = 0; oy < OH; oy++) {
                            const long iy = oy + i - ph;
                            if (iy < 0 || iy >= H) continue;
                            for (long ox = 0; ox < OW; ox++) {
                                const long ix = ox + j - pw;
                                const float xv =
                                    ix < 0 || ix >= W ? 0 : x[((b * C + c) * H + iy) * W + ix];
                                const float p = dy[((b * OC + oc) * OH + oy) * OW + ox] * xv;
                                float *lane = &l[ox < OW8 ? ox % 8 : ox - OW8];
                                *lane = *lane + p;
                            }
                        }
                        float *d = &dw[((oc * C + c) * kh + i) * kw + j];
                        *d += ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
                    }
}

/* 1 when rt_sconv_direct_dw matches reference_dw bit for bit; dy ends at
 * an unreadable page; ulp_off: the negative control */
static int same_dw(long B, long C, long H, long W, long OC, long kh, long kw, long ph, long pw,
                   int ulp_off, unsigned seed)
{
    long OH = H + 2 * ph - kh + 1, OW = W + 2 * pw - kw + 1, nw = OC * C * kh * kw;
    float *x = at_page_end(B * C * H * W), *dy = at_page_end(B * OC * OH * OW);
    float *dw = malloc(sizeof(float) * nw), *ref = malloc(sizeof(float) * nw);
    for (long k = 0; k < B * C * H * W; k++) x[k] = rnd(&seed);
    for (long k = 0; k < B * OC * OH * OW; k++) dy[k] = rnd(&seed);
    for (long k = 0; k < nw; k++) dw[k] = -7.0f;
    reference_dw(B, C, H, W, OC, kh, kw, ph, pw, x, dy, ref);
    if (ulp_off) ref[nw - 1] = nextafterf(ref[nw - 1], INFINITY);
    int ok = rt_sconv_direct_dw(B, C, H, W, OC, kh, kw, ph, pw, x, dy, dw) == 0 &&
             !memcmp(dw, ref, sizeof(float) * nw);
    free(dw), free(ref);
    return ok;
}

static void run_all(const char *path)
{
    char name[160];
    snprintf(name, sizeof name, "%s: LeNet's conv1 (32 images, 1 -> 8, 5x5, 28x28)", path);
    CHECK(same(32, 1, 28, 28, 8, 5, 5, 0, 0, 1, 0, 1), name);
    int ok = 1;
    for (long ow = 1; ow <= 53 && ok; ow++)
        ok = same(2, 1, 6, ow + 4, 5, 3, 5, 0, 0, 1, 0, (unsigned)ow);
    snprintf(name, sizeof name, "%s: output widths 1..53 (3x5 kernel, 5 channels)", path);
    CHECK(ok, name);
    ok = 1;
    for (long oc = 1; oc <= 9 && ok; oc++)
        for (long c = 1; c <= 3 && ok; c++)
            ok = same(3, c, 7, 27, oc, 2, 3, 0, 0, (int)(oc & 1), 0, (unsigned)(oc * 10 + c));
    snprintf(name, sizeof name,
             "%s: 1..9 output channels x 1..3 input channels, 25 columns, bias or none", path);
    CHECK(ok, name);
    snprintf(name, sizeof name, "%s: fashion_cnn-like 16 channels, 1x1 kernel, 28 columns", path);
    CHECK(same(4, 1, 28, 28, 16, 1, 1, 0, 0, 0, 0, 7), name);
    snprintf(name, sizeof name, "%s: negative control: the last masked column one ulp off fails",
             path);
    CHECK(!same(2, 3, 9, 29, 7, 3, 3, 0, 0, 1, 1, 9), name);
    snprintf(name, sizeof name, "%s: fashion_cnn's conv1 (32 images, 1 -> 16, 3x3, padding 1)",
             path);
    CHECK(same(32, 1, 28, 28, 16, 3, 3, 1, 1, 0, 0, 11), name);
    ok = 1;
    for (long ow = 1; ow <= 40 && ok; ow++)
        for (long p = 1; p <= 3 && ok; p++) {
            const long pw = 3 - p, W = ow + 3 - 2 * pw; /* OW = ow */
            if (W >= 1) ok = same(2, 2, 5, W, 5, 4, 4, p, pw, 1, 0, (unsigned)(ow * 4 + p));
        }
    snprintf(name, sizeof name,
             "%s: padding 1..3 rows with 2..0 columns, 4x4 kernel, output widths 1..40", path);
    CHECK(ok, name);
    snprintf(name, sizeof name, "%s: padding past the kernel (5 rows and columns, 3x2 kernel)",
             path);
    CHECK(same(2, 3, 4, 6, 9, 3, 2, 5, 5, 1, 0, 12), name);
    snprintf(name, sizeof name,
             "%s: an infinite weight: a padding row's taps skipped (not inf · 0), as the loops",
             path);
    CHECK(same(3, 2, 8, 30, 6, 3, 3, 1, 1, 1, 2, 13), name);
    snprintf(name, sizeof name, "%s: weight gradient: LeNet's conv1 (32 images, 24 columns)", path);
    CHECK(same_dw(32, 1, 28, 28, 8, 5, 5, 0, 0, 0, 21), name);
    snprintf(name, sizeof name,
             "%s: weight gradient: fashion_cnn's conv1 (32 images, padding 1, 28 columns)", path);
    CHECK(same_dw(32, 1, 28, 28, 16, 3, 3, 1, 1, 0, 22), name);
    ok = 1;
    for (long ow = 1; ow <= 27 && ok; ow++)
        for (long oc = 1; oc <= 6 && ok; oc += 5)
            for (long p = 0; p <= 2 && ok; p++) {
                const long W = ow + 2 - 2 * p; /* OW = ow */
                if (W >= 1) ok = same_dw(2, 2, 4, W, oc, 3, 3, p, p, 0, (unsigned)(ow * 31 + p));
            }
    snprintf(name, sizeof name,
             "%s: weight gradient: output widths 1..27, 1 and 6 channels, padding 0..2", path);
    CHECK(ok, name);
    snprintf(name, sizeof name, "%s: weight gradient: 3 channels, 13 taps a tile and more (5x5)",
             path);
    CHECK(same_dw(3, 3, 9, 17, 9, 5, 5, 2, 1, 0, 23), name);
    snprintf(name, sizeof name, "%s: weight gradient: negative control: one ulp off fails", path);
    CHECK(!same_dw(4, 1, 28, 28, 16, 3, 3, 1, 1, 1, 24), name);
    snprintf(name, sizeof name, "%s: negative control: with padding, one ulp off fails", path);
    CHECK(!same(2, 1, 28, 28, 16, 3, 3, 1, 1, 0, 1, 14), name);
}

int main(int argc, char **argv)
{
    float x[16] = {0}, w[1] = {1}, y[16] = {5};
    if (argc > 1 && !strcmp(argv[1], "--avx2")) {
        run_all("AVX2 tiles");
        CHECK_DONE();
    }
    if (argc > 1 && !strcmp(argv[1], "--off"))
        return rt_sconv_direct(1, 1, 4, 4, 1, 1, 1, 0, 0, x, w, NULL, y) == -1 && y[0] == 5 &&
                       rt_sconv_direct_dw(1, 1, 4, 4, 1, 1, 1, 0, 0, x, x, y) == -1 && y[0] == 5
                   ? 0
                   : 1;
    setenv("TRAINC_CONV", "off", 1);
    unsetenv("TRAINC_CONV"); /* the kernel the CPU picks, whatever the caller's environment */
    if (!rt_cpu_has_avx2()) {
        CHECK(rt_sconv_direct(1, 1, 4, 4, 1, 1, 1, 0, 0, x, w, NULL, y) == -1 && y[0] == 5,
              "no AVX2: declines, y untouched");
        CHECK_DONE();
    }
    run_all(__builtin_cpu_supports("avx512f") ? "AVX-512 tiles" : "AVX2 tiles");
    /* the AVX2 tiles and TRAINC_CONV=off: the choice is made once per process */
    CHECK(check_child(argv[0], "TRAINC_CONV", "avx2", "--avx2"), "the AVX2 run (above) passed");
    CHECK(check_child(argv[0], "TRAINC_CONV", "off", "--off"),
          "TRAINC_CONV=off: declines, y untouched");
    CHECK_DONE();
}
#else
int main(void)
{
    printf("ok - double build: the kernel is float only\n");
    return 0;
}
#endif
