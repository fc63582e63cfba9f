/* test_maxpool.c — runtime/rt_maxpool.c's 2x2 max pooling (forward and
 * backward, with and without relu's mask; the forward saving the argmax
 * and the backward reading it) against the generated loops'
 * scan written out here (gen/ops/pool.c: the first tap starts it, a larger
 * value or a NaN takes it, in tap order): the same bits, for rows of 1 to
 * 21 windows (full groups of 4 and every masked tail) and 1 to 5 row
 * pairs, on values with ties, signed zeros, negatives and NaNs of distinct
 * payloads. x ends right before an unreadable page and the outputs have
 * guards on both sides: a masked load or store past its row fails.
 * Negative control: the same comparison against a scan that keeps the
 * last of equal maxima differs on these values. */
#define _GNU_SOURCE
#include "rt.h"
#include "check.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#ifndef TRAINC_DOUBLE
/* the loops' window: the maximum m and its tap (0..3); last_of_ties: the
 * negative control's scan (>= instead of >) */
static float scan(const float *top, long W, long ox, int last_of_ties, int *arg)
{
    const float v[4] = {top[2 * ox], top[2 * ox + 1], top[W + 2 * ox], top[W + 2 * ox + 1]};
    float m = v[0];
    *arg = 0;
    for (int t = 1; t < 4; t++) {
        const int take = (last_of_ties ? v[t] >= m : v[t] > m) | isnan(v[t]);
        m = take ? v[t] : m;
        *arg = take ? t : *arg;
    }
    return m;
}

static void reference(long pairs, long W, const float *x, const float *dy, float *y, float *dx,
                      int relu_mask, int last_of_ties)
{
    const long OW = W / 2;
    for (long r = 0; r < pairs; r++)
        for (long ox = 0; ox < OW; ox++) {
            int arg;
            const float m = scan(x + r * 2 * W, W, ox, last_of_ties, &arg);
            y[r * OW + ox] = m;
            const float gy = dy[r * OW + ox], g = relu_mask ? (m > 0 ? gy : 0) : gy;
            for (int t = 0; t < 4; t++)
                dx[r * 2 * W + (t / 2) * W + 2 * ox + t % 2] = arg == t ? g : 0;
        }
}

/* the loops that save the argmax (offset 0, 1, W or W + 1; -1 where the
 * maximum is not > 0 with relu_masked) and the backward reading it */
static void reference_saved(long pairs, long W, const float *x, const float *dy, float *t,
                            float *dx, int relu_masked)
{
    const long OW = W / 2;
    for (long r = 0; r < pairs; r++)
        for (long ox = 0; ox < OW; ox++) {
            int arg;
            const float m = scan(x + r * 2 * W, W, ox, 0, &arg);
            const float off = (float)((arg / 2) * W + arg % 2);
            t[r * OW + ox] = relu_masked && !(m > 0) ? -1 : off;
            for (int k = 0; k < 4; k++) {
                const float at = (float)((k / 2) * W + k % 2);
                dx[r * 2 * W + (k / 2) * W + 2 * ox + k % 2] =
                    t[r * OW + ox] == at ? dy[r * OW + ox] : 0;
            }
        }
}

static float nan_with(uint32_t payload)
{
    const uint32_t bits = 0x7fc00000u | (payload & 0x3fffffu);
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* few distinct values, so that windows tie; some NaNs and signed zeros */
static float value(unsigned *seed)
{
    *seed = *seed * 1103515245u + 12345u;
    const unsigned k = (*seed >> 16) % 23;
    if (k == 0) return nan_with(*seed >> 8);
    if (k == 1) return -0.0f;
    if (k == 2) return 0.0f;
    return (float)((int)(k % 7) - 3) * 0.5f;
}

#define GUARD 8
static int same(const float *a, const float *b, long n)
{
    return !memcmp(a, b, sizeof(float) * (size_t)n);
}
#endif

int main(void)
{
#ifdef TRAINC_DOUBLE
    printf("ok - rt_maxpool.c is float only\n");
#else
    const long page = sysconf(_SC_PAGESIZE), max_floats = 5 * 2 * 42;
    const long span = (max_floats * 4 + page - 1) / page * page;
    char *map = mmap(NULL, (size_t)(span + page), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK(map != MAP_FAILED && !mprotect(map + span, (size_t)page, PROT_NONE),
          "x can end right before an unreadable page");
    if (map == MAP_FAILED) CHECK_DONE();
    static float dy[5 * 21], y[GUARD + 5 * 21 + GUARD], dx[GUARD + 5 * 84 + GUARD];
    static float want_y[5 * 21], want_dx[5 * 84], last_y[5 * 21], last_dx[5 * 84];
    static float t[GUARD + 5 * 21 + GUARD], want_t[5 * 21];
    unsigned seed = 7;
    int all_same = 1, saved_same = 1, guards = 1, declined = 0, control_differs = 0;
    for (long W = 2; W <= 42; W += 2)
        for (long pairs = 1; pairs <= 5; pairs++)
            for (int mask = 0; mask < 2; mask++) {
                const long n = pairs * 2 * W, on = pairs * W / 2;
                float *x = (float *)(map + span) - n; /* its last float before the page */
                for (long i = 0; i < n; i++) x[i] = value(&seed);
                for (long i = 0; i < on; i++) dy[i] = value(&seed);
                for (long i = 0; i < GUARD; i++)
                    y[i] = y[GUARD + on + i] = dx[i] = dx[GUARD + n + i] = 9;
                reference(pairs, W, x, dy, want_y, want_dx, mask, 0);
                reference(pairs, W, x, dy, last_y, last_dx, mask, 1);
                declined |= rt_max_pool2x2(pairs, W, x, y + GUARD) != 0;
                declined |= rt_max_pool2x2_grad(pairs, W, x, dy, dx + GUARD, mask) != 0;
                all_same &= same(y + GUARD, want_y, on) && same(dx + GUARD, want_dx, n);
                /* the saved argmax: forward with and without y, then its backward */
                reference_saved(pairs, W, x, dy, want_t, want_dx, mask);
                for (long i = 0; i < GUARD; i++) t[i] = t[GUARD + on + i] = 9;
                declined |= rt_max_pool2x2_argmax(pairs, W, x, NULL, t + GUARD, mask) != 0;
                saved_same &= same(t + GUARD, want_t, on);
                declined |= rt_max_pool2x2_argmax(pairs, W, x, y + GUARD, t + GUARD, mask) != 0;
                declined |= rt_max_pool2x2_grad_saved(pairs, W, t + GUARD, dy, dx + GUARD) != 0;
                saved_same &= same(t + GUARD, want_t, on) && same(y + GUARD, want_y, on) &&
                              same(dx + GUARD, want_dx, n);
                for (long i = 0; i < GUARD; i++) guards &= t[i] == 9 && t[GUARD + on + i] == 9;
                control_differs |= !same(dx + GUARD, last_dx, n);
                for (long i = 0; i < GUARD; i++)
                    guards &=
                        y[i] == 9 && y[GUARD + on + i] == 9 && dx[i] == 9 && dx[GUARD + n + i] == 9;
            }
    if (declined) {
        printf("ok - # no AVX2 here: rt_maxpool.c declines and the loops run\n");
    } else {
        CHECK(all_same, "forward and backward (with and without relu's mask) give the loops' bits, "
                        "1 to 21 windows a row, 1 to 5 row pairs, ties, signed zeros and NaNs");
        CHECK(saved_same, "the saved argmax (offsets, -1 under relu's mask, with and without y) "
                          "and the backward reading it give the loops' bits");
        CHECK(guards, "no store outside y, t and dx");
        CHECK(control_differs, "negative control: a scan keeping the last of equal maxima differs");
    }
    /* in place, as the plan may store a pool over its input */
    float *x = (float *)(map + span) - 2 * 2 * 14;
    for (long i = 0; i < 2 * 2 * 14; i++) x[i] = value(&seed);
    reference(2, 14, x, dy, want_y, want_dx, 0, 0);
    if (!rt_max_pool2x2(2, 14, x, x)) CHECK(same(x, want_y, 14), "a pool stored over its input");
    munmap(map, (size_t)(span + page));
#endif
    CHECK_DONE();
}
