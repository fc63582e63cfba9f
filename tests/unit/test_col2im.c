/* test_col2im.c — runtime/rt_col2im.c's col2im (stride 1) bit for bit
 * against the generated loops' arithmetic (dx from +0, tap by tap, each
 * tap's patch rows added in order): every H, W in 1..19 with 1..5 by 1..5
 * taps, padding 0..2 and dilation 1..2 where the patches exist, 1..2
 * images; LeNet's and fashion_cnn's shapes. The patch values include
 * signed zeros and NaNs (any NaN matches one), and dx starts as garbage (the kernel
 * writes it whole). The kernel the CPU picks runs first, then (child
 * processes: the choice is made once a process) the AVX2 loop with
 * TRAINC_CONV=avx2; TRAINC_CONV=off declines (-1, dx untouched). Negative
 * control: the loops with their taps in the other order differ. */
#include "rt.h"
#include "check.h"
#include "check_child.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#if !defined(TRAINC_DOUBLE)
typedef struct {
    long BC, H, W, kh, kw, ph, pw, dh, dw, OH, OW;
} shape;

/* the generated loops (gen/ops/conv.c, emit_col2im); reversed: the taps
 * backwards, the negative control */
static void reference(const shape *s, const float *col, float *dx, int reversed)
{
    for (long k = 0; k < s->BC * s->H * s->W; k++) dx[k] = 0;
    for (long bc = 0; bc < s->BC; bc++)
        for (long t0 = 0; t0 < s->kh * s->kw; t0++) {
            const long t = reversed ? s->kh * s->kw - 1 - t0 : t0, i = t / s->kw, j = t % s->kw;
            const float *colr = col + (bc * s->kh * s->kw + t) * s->OH * s->OW;
            for (long oy = 0; oy < s->OH; oy++) {
                const long iy = oy - s->ph + i * s->dh;
                if (iy < 0 || iy >= s->H) continue;
                for (long ox = 0; ox < s->OW; ox++) {
                    const long ix = ox - s->pw + j * s->dw;
                    if (ix >= 0 && ix < s->W)
                        dx[(bc * s->H + iy) * s->W + ix] += colr[oy * s->OW + ox];
                }
            }
        }
}

static uint32_t next(uint32_t *r)
{
    *r = *r * 1664525u + 1013904223u;
    return *r >> 8;
}

/* a patch value: mostly small numbers, some signed zeros and NaNs */
static float value(uint32_t *r)
{
    const uint32_t v = next(r);
    if (v % 97 == 0) return -0.0f;
    if (v % 89 == 0) return 0.0f;
    if (v % 251 == 0) {
        const uint32_t bits = 0x7fc00000u | (v & 0xffff);
        float f;
        memcpy(&f, &bits, sizeof f);
        return f;
    }
    return ((float)(v % 2001) - 1000.0f) / 37.0f;
}

/* the same bits, NaNs aside: which NaN a sum of two keeps depends on the
 * order of an add's operands, which the compiler may swap in the loops too */
static int same_bits(const float *a, const float *b, long n)
{
    for (long k = 0; k < n; k++)
        if (!(isnan(a[k]) && isnan(b[k])) && memcmp(a + k, b + k, sizeof *a)) return 0;
    return 1;
}

/* the kernel against the reference (reversed taps for the control) on one
 * shape (its OH and OW computed here); 1 where the bits agree */
static int agrees(shape s, uint32_t seed, int reversed)
{
    s.OH = s.H + 2 * s.ph - s.dh * (s.kh - 1);
    s.OW = s.W + 2 * s.pw - s.dw * (s.kw - 1);
    if (s.OH <= 0 || s.OW <= 0) return 1;
    const long ncol = s.BC * s.kh * s.kw * s.OH * s.OW, nx = s.BC * s.H * s.W;
    float *col = malloc(sizeof(float) * (size_t)ncol);
    float *want = malloc(sizeof(float) * (size_t)nx), *got = malloc(sizeof(float) * (size_t)nx);
    for (long k = 0; k < ncol; k++) col[k] = value(&seed);
    for (long k = 0; k < nx; k++) got[k] = 1e30f;
    reference(&s, col, want, reversed);
    const int rc = rt_col2im_s1(s.BC, s.H, s.W, s.kh, s.kw, s.ph, s.pw, s.dh, s.dw, col, got);
    const int ok = rc == 0 && same_bits(want, got, nx);
    free(col), free(want), free(got);
    return ok;
}

static void run_all(const char *path)
{
    char name[160];
    int ok = 1;
    long cases = 0;
    uint32_t seed = 7;
    for (long H = 1; H <= 19 && ok; H++)
        for (long W = 1; W <= 19 && ok; W++)
            for (long kh = 1; kh <= 5 && ok; kh++)
                for (long kw = 1; kw <= 5 && ok; kw++) {
                    const long p = (H + W + kh + kw) % 3, d = (H * W) % 5 == 0 ? 2 : 1;
                    ok =
                        agrees((shape){1 + (H + kw) % 2, H, W, kh, kw, p, (p + kw) % 3, d, d, 0, 0},
                               seed++, 0);
                    cases++;
                }
    snprintf(name, sizeof name,
             "%s: %ld shapes (H, W 1..19, taps 1..5, padding 0..2, dilation 1..2)", path, cases);
    CHECK(ok, name);
    snprintf(name, sizeof name, "%s: LeNet's conv2 (8 channels of 12x12, 5x5, 8x8 patches)", path);
    CHECK(agrees((shape){64 * 8, 12, 12, 5, 5, 0, 0, 1, 1, 0, 0}, 11, 0), name);
    snprintf(name, sizeof name, "%s: fashion_cnn's conv2 (16 channels of 14x14, 3x3, padding 1)",
             path);
    CHECK(agrees((shape){64 * 16, 14, 14, 3, 3, 1, 1, 1, 1, 0, 0}, 12, 0), name);
    snprintf(name, sizeof name, "%s: rows wider than a vector (40 columns, padding 2)", path);
    CHECK(agrees((shape){3, 9, 40, 3, 5, 1, 2, 1, 1, 0, 0}, 13, 0), name);
    snprintf(name, sizeof name, "%s: negative control: the taps in the other order differ", path);
    CHECK(!agrees((shape){64 * 8, 12, 12, 5, 5, 0, 0, 1, 1, 0, 0}, 11, 1), name);
}

int main(int argc, char **argv)
{
    float col[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9}, dx[9] = {5};
    if (argc > 1 && !strcmp(argv[1], "--avx2")) {
        run_all("AVX2");
        CHECK_DONE();
    }
    if (argc > 1 && !strcmp(argv[1], "--off"))
        return rt_col2im_s1(1, 3, 3, 1, 1, 0, 0, 1, 1, col, dx) == -1 && dx[0] == 5 ? 0 : 1;
    unsetenv("TRAINC_CONV"); /* the kernel the CPU picks, whatever the caller's environment */
    if (!rt_cpu_has_avx2()) {
        CHECK(rt_col2im_s1(1, 3, 3, 1, 1, 0, 0, 1, 1, col, dx) == -1 && dx[0] == 5,
              "no AVX2: declines, dx untouched");
        CHECK_DONE();
    }
    run_all(__builtin_cpu_supports("avx512f") ? "AVX-512" : "AVX2");
    if (__builtin_cpu_supports("avx512f"))
        CHECK(check_child(argv[0], "TRAINC_CONV", "avx2", "--avx2"), "the AVX2 run (above) passed");
    CHECK(check_child(argv[0], "TRAINC_CONV", "off", "--off"),
          "TRAINC_CONV=off: declines, dx untouched");
    CHECK_DONE();
}
#else
int main(void)
{
    printf("ok - double build: the kernel is float only\n");
    return 0;
}
#endif
