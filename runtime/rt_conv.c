/* rt_conv.c — trainc's direct convolution kernel (gen/ops/conv_direct.c):
 * the forward of a convolution of the model's images (stride 1, no
 * padding, dilation 1, groups 1) without im2col, its accumulators in
 * registers, vectors along the output columns: AVX2 (tiles of 4 output
 * channels x 3 vectors of 8 columns) and an AVX-512 clone (8 channels x up
 * to 3 vectors of 16, the last one masked), chosen once at run time.
 * rt_sconv_direct returns -1 on a CPU without AVX2/FMA, in double, under
 * RT_PORTABLE or with TRAINC_CONV=off in the environment: the generated
 * code then runs its own loops (the portable build's kernel, and the
 * reference tests/test_conv_direct.sh compares this one with).
 *
 * The loops' arithmetic in their order, so the same bits on every path:
 * each output y = bias (or 0), then + w·x for each tap (c, i, j) in order,
 * a multiply then an add (the loops' -std=c11 has no contraction; this
 * EPYC's two FADD pipes beside its two FMUL/FMA pipes make the pair as
 * fast as one fma: 1.9 pairs a cycle against 2.0 fmas, 8 or 16 lanes).
 *
 * Why: LeNet's first layer (1 -> 8 channels, 5x5, 24x24 outputs), 32
 * images, CPU us, min of 7, load 3-8: the loops (x86-64-v3 clone) 160, the
 * AVX2 tiles 90, the AVX-512 ones 75: the loops keep their accumulator rows
 * in memory, a store per multiply-add. The weight gradient stays in the
 * loops: these tiles (4 channels x 3 taps down a column of 8 or 16, in
 * registers) measured no faster than the loops' ~100. */
#include "rt.h"

#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(RT_PORTABLE) &&    \
    !defined(TRAINC_DOUBLE)
#define CONV_X86 1
#include <immintrin.h>
#endif

#ifdef CONV_X86
#define AVX2 __attribute__((target("avx2,fma")))
#define TILE static inline __attribute__((always_inline))

typedef struct conv_shape {
    long C, H, W, OC, kh, kw, OH, OW;
} conv_shape;

/* lanes below n on (n >= 8: all) */
AVX2 TILE __m256i lanes_below(long n)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n < 8 ? n : 8)), idx);
}

/* ---- AVX2: ocb output channels x nv vectors of columns from ox0 (the
 * last one masked to `mask` when partial) of output row oy ---- */
AVX2 TILE void fwd_tile(const conv_shape *s, const float *xb, const float *w, const float *bias,
                        float *yb, long oy, long o0, long ox0, const int ocb, const int nv,
                        const int partial, __m256i mask)
{
    const long T = s->C * s->kh * s->kw;
    __m256 acc[4][3];
    for (int k = 0; k < ocb; k++)
        for (int v = 0; v < nv; v++) acc[k][v] = _mm256_set1_ps(bias ? bias[o0 + k] : 0.0f);
    for (long c = 0; c < s->C; c++)
        for (long i = 0; i < s->kh; i++) {
            const float *xr = xb + (c * s->H + oy + i) * s->W + ox0;
            const float *wr = w + o0 * T + (c * s->kh + i) * s->kw;
            for (long j = 0; j < s->kw; j++) {
                __m256 xv[3];
                for (int v = 0; v < nv; v++)
                    xv[v] = partial && v == nv - 1 ? _mm256_maskload_ps(xr + j + 8 * v, mask)
                                                   : _mm256_loadu_ps(xr + j + 8 * v);
                for (int k = 0; k < ocb; k++) {
                    const __m256 wv = _mm256_broadcast_ss(wr + k * T + j);
                    for (int v = 0; v < nv; v++)
                        acc[k][v] = _mm256_add_ps(acc[k][v], _mm256_mul_ps(wv, xv[v]));
                }
            }
        }
    const long P = s->OH * s->OW;
    for (int k = 0; k < ocb; k++) {
        float *yr = yb + (o0 + k) * P + oy * s->OW + ox0;
        for (int v = 0; v < nv; v++) {
            if (partial && v == nv - 1)
                _mm256_maskstore_ps(yr + 8 * v, mask, acc[k][v]);
            else
                _mm256_storeu_ps(yr + 8 * v, acc[k][v]);
        }
    }
}

/* the tile's constant sizes: ocb 4 or 1, nv 1..3, partial or not */
#define FWD_NV(ocb, nv)                                                                            \
    (partial ? fwd_tile(s, xb, w, bias, yb, oy, o0, ox0, ocb, nv, 1, mask)                         \
             : fwd_tile(s, xb, w, bias, yb, oy, o0, ox0, ocb, nv, 0, mask))
#define FWD_OCB(ocb) (nv == 3 ? FWD_NV(ocb, 3) : nv == 2 ? FWD_NV(ocb, 2) : FWD_NV(ocb, 1))

AVX2 static void fwd_image(const conv_shape *s, const float *xb, const float *w, const float *bias,
                           float *yb)
{
    for (long oy = 0; oy < s->OH; oy++)
        for (long ox0 = 0; ox0 < s->OW; ox0 += 24) {
            const long left = s->OW - ox0;
            const int nv = left >= 24 ? 3 : (int)((left + 7) / 8), partial = left < 8L * nv;
            const __m256i mask = lanes_below(left - 8L * (nv - 1));
            long o0 = 0;
            for (; o0 + 4 <= s->OC; o0 += 4) FWD_OCB(4);
            for (; o0 < s->OC; o0++) FWD_OCB(1);
        }
}

/* ---- AVX-512 (this EPYC runs 16 lanes at the rate of 8): ocb channels x
 * nv vectors of 16 columns, the last masked (`last`: its lanes) ---- */
#define AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))

AVX512 TILE __mmask16 mask16(long n)
{
    return (__mmask16)(n >= 16 ? 0xffff : (1u << n) - 1);
}

AVX512 TILE void fwd16_tile(const conv_shape *s, const float *xb, const float *w, const float *bias,
                            float *yb, long oy, long o0, long ox0, const int ocb, const int nv,
                            __mmask16 last)
{
    const long T = s->C * s->kh * s->kw;
    __m512 acc[8][3];
    for (int k = 0; k < ocb; k++)
        for (int v = 0; v < nv; v++) acc[k][v] = _mm512_set1_ps(bias ? bias[o0 + k] : 0.0f);
    for (long c = 0; c < s->C; c++)
        for (long i = 0; i < s->kh; i++) {
            const float *xr = xb + (c * s->H + oy + i) * s->W + ox0;
            const float *wr = w + o0 * T + (c * s->kh + i) * s->kw;
            for (long j = 0; j < s->kw; j++) {
                __m512 xv[3];
                for (int v = 0; v < nv; v++)
                    xv[v] = v == nv - 1 ? _mm512_maskz_loadu_ps(last, xr + j + 16 * v)
                                        : _mm512_loadu_ps(xr + j + 16 * v);
                for (int k = 0; k < ocb; k++) {
                    const __m512 wv = _mm512_set1_ps(wr[k * T + j]);
                    for (int v = 0; v < nv; v++)
                        acc[k][v] = _mm512_add_ps(acc[k][v], _mm512_mul_ps(wv, xv[v]));
                }
            }
        }
    const long P = s->OH * s->OW;
    for (int k = 0; k < ocb; k++) {
        float *yr = yb + (o0 + k) * P + oy * s->OW + ox0;
        for (int v = 0; v < nv; v++) {
            if (v == nv - 1)
                _mm512_mask_storeu_ps(yr + 16 * v, last, acc[k][v]);
            else
                _mm512_storeu_ps(yr + 16 * v, acc[k][v]);
        }
    }
}

#define FWD16_OCB(ocb)                                                                             \
    (nv == 3   ? fwd16_tile(s, xb, w, bias, yb, oy, o0, ox0, ocb, 3, last)                         \
     : nv == 2 ? fwd16_tile(s, xb, w, bias, yb, oy, o0, ox0, ocb, 2, last)                         \
               : fwd16_tile(s, xb, w, bias, yb, oy, o0, ox0, ocb, 1, last))

AVX512 static void fwd16_image(const conv_shape *s, const float *xb, const float *w,
                               const float *bias, float *yb)
{
    for (long oy = 0; oy < s->OH; oy++)
        for (long ox0 = 0; ox0 < s->OW; ox0 += 48) {
            const long left = s->OW - ox0;
            const int nv = left >= 48 ? 3 : (int)((left + 15) / 16);
            const __mmask16 last = mask16(left - 16L * (nv - 1));
            long o0 = 0;
            for (; o0 + 8 <= s->OC; o0 += 8) FWD16_OCB(8);
            for (; o0 + 4 <= s->OC; o0 += 4) FWD16_OCB(4);
            for (; o0 < s->OC; o0++) FWD16_OCB(1);
        }
}

typedef void conv_fwd_fn(const conv_shape *, const float *, const float *, const float *, float *);

/* TRAINC_CONV=avx2 keeps the AVX2 kernels on an AVX-512 CPU, TRAINC_CONV=off
 * leaves both to the generated loops (to compare; tests/test_conv_direct) */
static conv_fwd_fn *conv_pick(void)
{
    const char *want = getenv("TRAINC_CONV");
    if (!rt_cpu_has_avx2() || (want && !strcmp(want, "off"))) return NULL;
    if (want && !strcmp(want, "avx2")) return fwd_image;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? fwd16_image
                                                                                   : fwd_image;
}

/* chosen on first use; threads racing here make the same choice */
static conv_fwd_fn *conv(void)
{
    static int chosen;
    static conv_fwd_fn *o;
    if (!__atomic_load_n(&chosen, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&o, conv_pick(), __ATOMIC_RELAXED);
        __atomic_store_n(&chosen, 1, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&o, __ATOMIC_RELAXED);
}
#endif /* CONV_X86 */

int rt_sconv_direct(long B, long C, long H, long W, long OC, long kh, long kw, const float *x,
                    const float *w, const float *bias, float *y)
{
#ifdef CONV_X86
    conv_fwd_fn *fwd = conv();
    if (fwd && kh <= H && kw <= W) {
        const conv_shape s = {C, H, W, OC, kh, kw, H - kh + 1, W - kw + 1};
        for (long b = 0; b < B; b++) fwd(&s, x + b * C * H * W, w, bias, y + b * OC * s.OH * s.OW);
        return 0;
    }
#endif
    (void)B, (void)C, (void)H, (void)W, (void)OC, (void)kh, (void)kw, (void)x, (void)w;
    (void)bias, (void)y;
    return -1;
}
