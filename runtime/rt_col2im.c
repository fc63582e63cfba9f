/* rt_col2im.c — col2im with stride 1 (the backward of a convolution's
 * patches: each pixel of dx the sum of the patch elements that copied it),
 * as gen/ops/conv.c's loops compute it, for any padding and dilation.
 *
 * The loops run tap by tap, adding a tap's patch rows into dx's rows: on
 * LeNet's conv2 (8 columns a row) or fashion_cnn's (14) each is a short
 * run with a tail, and a tap's row adds into memory the previous tap's
 * row has just written, shifted by one float, which waits for that store.
 * Here a row of dx (16 of its pixels with AVX-512, 8 with AVX2) is summed
 * in a register over the taps, in the loops' order (i, then j), each
 * tap's patch row loaded at the offset that lines it up with the pixels,
 * lanes outside the patch masked to 0, then stored once; 8 channels at a
 * time, which share the taps' masks and offsets, keep the adders busy. A
 * pixel's sum is the loops' sum from +0 plus zeros; such a sum is never
 * -0, so adding 0 changes nothing: the loops' bits.
 *
 * Measured (1 thread, AMD EPYC Zen 5): over the whole batch after the
 * input gradient's product, no faster than the loops (LeNet 74 us a step
 * either way: both wait for the patches, 1.6 MB a shard, from L3). Per
 * image inside that product (gen/plan.c, fuse_col2im), the image's
 * patches in L2: LeNet's product and col2im 173 -> 147 us, fashion_cnn's
 * 635 -> 596; the loops per image alone were no faster (the stores).
 * -1 (dx untouched) without AVX2, in double, under RT_PORTABLE or with
 * TRAINC_CONV=off: the caller then runs its loops. */
#include "rt.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    long BC, H, W, kh, kw, ph, pw, dh, dw, OH, OW;
} col2im_shape;

#if defined(__GNUC__) && defined(__x86_64__) && !defined(RT_PORTABLE) && !defined(TRAINC_DOUBLE)
#define COL2IM_X86 1
#include <immintrin.h>
#define AVX2 __attribute__((target("avx2")))
#define AVX512 __attribute__((target("avx512f,avx2")))

/* lanes [lo, hi) of L: where ox = ox0 + lane is a patch column (0 <= ox <
 * OW) and the pixel x0 + lane is in the row (lane < rest) */
static inline unsigned lane_mask(long ox0, long OW, long rest, long L)
{
    long lo = ox0 < 0 ? -ox0 : 0, hi = OW - ox0;
    if (hi > rest) hi = rest;
    if (hi > L) hi = L;
    if (hi <= lo) return 0;
    return (unsigned)(((1ul << hi) - 1) & ~((1ul << lo) - 1));
}

#define INLINE __attribute__((always_inline)) inline
#define MAX_KW 32 /* wider kernels: the loops */

/* mask[j]: the lanes of tap column j that are patch columns, for the
 * block of L pixels from column x0 */
static void tap_masks(const col2im_shape *s, long x0, long L, unsigned *mask)
{
    for (long j = 0; j < s->kw; j++)
        mask[j] = lane_mask(x0 + s->pw - j * s->dw, s->OW, s->W - x0, L);
}

/* G images' rows iy, from column x0, summed over the taps in G registers
 * (the images share the taps' masks and offsets; G independent sums keep
 * the adders busy, where one row's taps are a chain of adds). Unrolled, so
 * that the sums stay in registers at -O2 too. Tap (i, j)'s patch row oy =
 * iy + ph - i·dh, loaded from the column that lines up with x0 */
AVX512 static INLINE void rows16(const col2im_shape *s, const float *cb, float *xr, long iy,
                                 long x0, const unsigned *mask, int G)
{
    const long plane = s->OH * s->OW, cstride = s->kh * s->kw * plane, xstride = s->H * s->W;
    __m512 acc[8];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) acc[g] = _mm512_setzero_ps();
    for (long i = 0; i < s->kh; i++) {
        const long oy = iy + s->ph - i * s->dh;
        if (oy < 0 || oy >= s->OH) continue;
        const float *row = cb + i * s->kw * plane + oy * s->OW + x0 + s->pw;
        for (long j = 0; j < s->kw; j++) {
            const __mmask16 m = (__mmask16)mask[j];
            const float *src = row + j * (plane - s->dw);
            if (!m) continue;
#pragma GCC unroll 8
            for (int g = 0; g < G; g++)
                acc[g] = _mm512_add_ps(acc[g], _mm512_maskz_loadu_ps(m, src + g * cstride));
        }
    }
    const __mmask16 out = (__mmask16)lane_mask(0, 16, s->W - x0, 16);
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) _mm512_mask_storeu_ps(xr + g * xstride + x0, out, acc[g]);
}

/* the lanes of an 8-bit mask as an AVX2 mask vector */
AVX2 static inline __m256i mask8(unsigned m)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)m), bit), bit);
}

/* rows16 with AVX2's 8 lanes */
AVX2 static INLINE void rows8(const col2im_shape *s, const float *cb, float *xr, long iy, long x0,
                              const unsigned *mask, int G)
{
    const long plane = s->OH * s->OW, cstride = s->kh * s->kw * plane, xstride = s->H * s->W;
    __m256 acc[8];
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) acc[g] = _mm256_setzero_ps();
    for (long i = 0; i < s->kh; i++) {
        const long oy = iy + s->ph - i * s->dh;
        if (oy < 0 || oy >= s->OH) continue;
        const float *row = cb + i * s->kw * plane + oy * s->OW + x0 + s->pw;
        for (long j = 0; j < s->kw; j++) {
            const float *src = row + j * (plane - s->dw);
            if (!mask[j]) continue;
            const __m256i mv = mask8(mask[j]);
#pragma GCC unroll 8
            for (int g = 0; g < G; g++)
                acc[g] = _mm256_add_ps(acc[g], _mm256_maskload_ps(src + g * cstride, mv));
        }
    }
    const __m256i out = mask8(lane_mask(0, 8, s->W - x0, 8));
#pragma GCC unroll 8
    for (int g = 0; g < G; g++) _mm256_maskstore_ps(xr + g * xstride + x0, out, acc[g]);
}

/* col2im over every channel with ROWS (rows16 or rows8) of L lanes: the
 * taps' masks per block of L columns, then 8 channels at a time (the last
 * ones alone) row by row */
#define COL2IM_DRIVER(name, target, L, ROWS)                                                       \
    target static void name(const col2im_shape *s, const float *col, float *dx)                    \
    {                                                                                              \
        const long cstride = s->kh * s->kw * s->OH * s->OW;                                        \
        unsigned mask[MAX_KW];                                                                     \
        for (long x0 = 0; x0 < s->W; x0 += (L)) {                                                  \
            tap_masks(s, x0, (L), mask);                                                           \
            for (long b = 0; b < s->BC; b += 8) {                                                  \
                const int G = s->BC - b >= 8 ? 8 : 1;                                              \
                for (long g = 0; g < 8 && b + g < s->BC; g += G)                                   \
                    for (long iy = 0; iy < s->H; iy++) {                                           \
                        float *xr = dx + ((b + g) * s->H + iy) * s->W;                             \
                        if (G == 8)                                                                \
                            ROWS(s, col + (b + g) * cstride, xr, iy, x0, mask, 8);                 \
                        else                                                                       \
                            ROWS(s, col + (b + g) * cstride, xr, iy, x0, mask, 1);                 \
                    }                                                                              \
            }                                                                                      \
        }                                                                                          \
    }
COL2IM_DRIVER(col2im16, AVX512, 16, rows16)
COL2IM_DRIVER(col2im8, AVX2, 8, rows8)

/* 16 (AVX-512), 8 (AVX2) or 0 lanes: TRAINC_CONV=avx2 keeps the AVX2 loop
 * on an AVX-512 CPU, TRAINC_CONV=off leaves col2im to the generated loops
 * (as rt_conv.c's kernels); chosen on first use, and threads racing here
 * make the same choice */
static int lanes(void)
{
    static int chosen = -1;
    int l = __atomic_load_n(&chosen, __ATOMIC_RELAXED);
    if (l < 0) {
        const char *want = getenv("TRAINC_CONV");
        l = !rt_cpu_has_avx2() || (want && !strcmp(want, "off"))                    ? 0
            : !(want && !strcmp(want, "avx2")) && __builtin_cpu_supports("avx512f") ? 16
                                                                                    : 8;
        __atomic_store_n(&chosen, l, __ATOMIC_RELAXED);
    }
    return l;
}
#endif

int rt_col2im_s1(long BC, long H, long W, long kh, long kw, long ph, long pw, long dh, long dw,
                 const float *col, float *dx)
{
    const col2im_shape s = {
        BC, H, W, kh, kw, ph, pw, dh, dw, H + 2 * ph - dh * (kh - 1), W + 2 * pw - dw * (kw - 1)};
#ifdef COL2IM_X86
    const int l = s.OH > 0 && s.OW > 0 && kw <= MAX_KW ? lanes() : 0;
    if (l == 16) col2im16(&s, col, dx);
    if (l == 8) col2im8(&s, col, dx);
    if (l) return 0;
#endif
    (void)s, (void)col, (void)dx;
    return -1;
}
