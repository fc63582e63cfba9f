/* test_conv_direct.c — trainc's direct convolution kernel
 * (runtime/rt_conv.c, rt_sconv_direct) against the generated loops'
 * arithmetic written out here (y = bias, then + w·x per tap in order, a
 * multiply then an add, no contraction): the same bits, on LeNet's first
 * layer and on odd sizes that exercise every tile and tail: output widths 1
 * to 53 (full vectors of 8 and 16, masked last ones, rows of more than one
 * tile), output channels 1 to 9 (blocks of 8, 4 and 1), 1 to 3 input
 * channels, non-square kernels, with and without a bias. The input ends
 * right before an unreadable page and the output has guards on both sides:
 * a masked load or store that reaches past its row fails. Negative control:
 * the comparison fails when one element of the last (masked) column is one
 * ulp off. The kernel chosen by the CPU runs first, then (a child process,
 * TRAINC_CONV=avx2) the AVX2 tiles; TRAINC_CONV=off declines (-1, y
 * untouched). */
#define _GNU_SOURCE
#include "rt.h"
#include "check.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef TRAINC_DOUBLE
/* the generated loops' order (gen/ops/conv_direct.c, direct_loops) */
static void reference(long B, long C, long H, long W, long OC, long kh, long kw, const float *x,
                      const float *w, const float *bias, float *y)
{
    long OH = H - kh + 1, OW = W - kw + 1;
    for (long b = 0; b < B; b++)
        for (long oc = 0; oc < OC; oc++)
            for (long oy = 0; oy < OH; oy++)
                for (long ox = 0; ox < OW; ox++) {
                    float acc = bias ? bias[oc] : 0;
                    for (long c = 0; c < C; c++)
                        for (long i = 0; i < kh; i++)
                            for (long j = 0; j < kw; j++) {
                                const float p = w[((oc * C + c) * kh + i) * kw + j] *
                                                x[((b * C + c) * H + oy + i) * W + ox + j];
                                acc = acc + p;
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
static int same(long B, long C, long H, long W, long OC, long kh, long kw, int with_bias,
                int ulp_off, unsigned seed)
{
    long OH = H - kh + 1, OW = W - kw + 1, ny = B * OC * OH * OW;
    float *x = at_page_end(B * C * H * W), *w = malloc(sizeof(float) * OC * C * kh * kw);
    float *bias = malloc(sizeof(float) * OC), *y = malloc(sizeof(float) * (ny + 2 * GUARD));
    float *ref = malloc(sizeof(float) * ny);
    for (long k = 0; k < B * C * H * W; k++) x[k] = rnd(&seed);
    for (long k = 0; k < OC * C * kh * kw; k++) w[k] = rnd(&seed);
    for (long k = 0; k < OC; k++) bias[k] = rnd(&seed);
    for (long k = 0; k < ny + 2 * GUARD; k++) y[k] = -7.0f;
    reference(B, C, H, W, OC, kh, kw, x, w, with_bias ? bias : NULL, ref);
    if (ulp_off) ref[ny - 1] = nextafterf(ref[ny - 1], INFINITY);
    int ok = rt_sconv_direct(B, C, H, W, OC, kh, kw, x, w, with_bias ? bias : NULL, y + GUARD) == 0;
    ok = ok && !memcmp(y + GUARD, ref, sizeof(float) * ny);
    for (long k = 0; k < GUARD; k++) ok = ok && y[k] == -7.0f && y[GUARD + ny + k] == -7.0f;
    free(w), free(bias), free(y), free(ref);
    return ok;
}

static void run_all(const char *path)
{
    char name[160];
    snprintf(name, sizeof name, "%s: LeNet's conv1 (32 images, 1 -> 8, 5x5, 28x28)", path);
    CHECK(same(32, 1, 28, 28, 8, 5, 5, 1, 0, 1), name);
    int ok = 1;
    for (long ow = 1; ow <= 53 && ok; ow++) ok = same(2, 1, 6, ow + 4, 5, 3, 5, 1, 0, (unsigned)ow);
    snprintf(name, sizeof name, "%s: output widths 1..53 (3x5 kernel, 5 channels)", path);
    CHECK(ok, name);
    ok = 1;
    for (long oc = 1; oc <= 9 && ok; oc++)
        for (long c = 1; c <= 3 && ok; c++)
            ok = same(3, c, 7, 27, oc, 2, 3, (int)(oc & 1), 0, (unsigned)(oc * 10 + c));
    snprintf(name, sizeof name,
             "%s: 1..9 output channels x 1..3 input channels, 25 columns, bias or none", path);
    CHECK(ok, name);
    snprintf(name, sizeof name, "%s: fashion_cnn-like 16 channels, 1x1 kernel, 28 columns", path);
    CHECK(same(4, 1, 28, 28, 16, 1, 1, 0, 0, 7), name);
    snprintf(name, sizeof name, "%s: negative control: the last masked column one ulp off fails",
             path);
    CHECK(!same(2, 3, 9, 29, 7, 3, 3, 1, 1, 9), name);
}

int main(int argc, char **argv)
{
    float x[16] = {0}, w[1] = {1}, y[16] = {5};
    if (argc > 1 && !strcmp(argv[1], "--avx2")) {
        run_all("AVX2 tiles");
        CHECK_DONE();
    }
    if (argc > 1 && !strcmp(argv[1], "--off"))
        return rt_sconv_direct(1, 1, 4, 4, 1, 1, 1, x, w, NULL, y) == -1 && y[0] == 5 ? 0 : 1;
    setenv("TRAINC_CONV", "off", 1);
    unsetenv("TRAINC_CONV"); /* the kernel the CPU picks, whatever the caller's environment */
    if (!rt_cpu_has_avx2()) {
        CHECK(rt_sconv_direct(1, 1, 4, 4, 1, 1, 1, x, w, NULL, y) == -1 && y[0] == 5,
              "no AVX2: declines, y untouched");
        CHECK_DONE();
    }
    run_all(__builtin_cpu_supports("avx512f") ? "AVX-512 tiles" : "AVX2 tiles");
    /* the AVX2 tiles and TRAINC_CONV=off: the choice is made once per process */
    fflush(stdout);
    pid_t pid = fork();
    if (pid == 0) {
        setenv("TRAINC_CONV", "avx2", 1);
        execl(argv[0], argv[0], "--avx2", (char *)NULL);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the AVX2 run (above) passed");
    fflush(stdout);
    pid = fork();
    if (pid == 0) {
        setenv("TRAINC_CONV", "off", 1);
        execl(argv[0], argv[0], "--off", (char *)NULL);
        _exit(127);
    }
    waitpid(pid, &status, 0);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "TRAINC_CONV=off: declines, y untouched");
    CHECK_DONE();
}
#else
int main(void)
{
    printf("ok - double build: the kernel is float only\n");
    return 0;
}
#endif
