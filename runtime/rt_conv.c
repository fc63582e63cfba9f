/* rt_conv.c — trainc's direct convolution kernel (gen/ops/conv_direct.c):
 * the forward of a convolution of the model's images (stride 1, dilation
 * 1, groups 1; padding: rows of it skipped, columns of it zeros in a copy
 * of each image's rows, as the loops' xp) without im2col, its accumulators in
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

/* H rows of W floats an image channel (W: with the column padding), ph
 * rows of padding above and below that no tap reads */
typedef struct conv_shape {
    long C, H, W, OC, kh, kw, OH, OW, ph;
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
            const long iy = oy + i - s->ph; /* a padding row: the loops skip its taps */
            if (iy < 0 || iy >= s->H) continue;
            const float *xr = xb + (c * s->H + iy) * s->W + ox0;
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
            const long iy = oy + i - s->ph; /* a padding row: the loops skip its taps */
            if (iy < 0 || iy >= s->H) continue;
            const float *xr = xb + (c * s->H + iy) * s->W + ox0;
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

/* ---- the weight gradient (rt_sconv_direct_dw), in the loops' lanes ----
 * (gen/ops/conv_direct.c, emit_conv_direct_grad_weight): per image, dW's
 * element (oc, tap) sums dy · x in 8 lanes, output column ox in lane ox
 * mod 8 along each row and the row's last partial vector in the lanes from
 * 0 (the masked lanes add 0 · 0), rows in order, a padding row's taps
 * skipped; then its 8 lanes added pairwise onto dW, image after image. A
 * tile: ocb output channels x tb taps of 8-lane accumulators in registers
 * (tb 2 in AVX2's 16 registers, 6 in AVX-512's 32), every tap a row of x
 * shifted by its column, each load of dy used tb times. */
/* one row of dy against the tb taps' rows of x (xr; on: not a padding row,
 * looked at only when `check`): the whole vectors, then the partial one */
AVX2 TILE void dw_row(__m256 acc[4][6], const float *gr, long P, const float *const *xr,
                      const int *on, long full, long OW, __m256i mask, const int ocb, const int tb,
                      const int check)
{
    for (long ox = 0; ox < full; ox += 8) {
        __m256 gv[4];
        for (int k = 0; k < ocb; k++) gv[k] = _mm256_loadu_ps(gr + k * P + ox);
        for (int q = 0; q < tb; q++) {
            if (check && !on[q]) continue;
            const __m256 xv = _mm256_loadu_ps(xr[q] + ox);
            for (int k = 0; k < ocb; k++)
                acc[k][q] = _mm256_add_ps(acc[k][q], _mm256_mul_ps(gv[k], xv));
        }
    }
    if (full < OW) {
        __m256 gv[4];
        for (int k = 0; k < ocb; k++) gv[k] = _mm256_maskload_ps(gr + k * P + full, mask);
        for (int q = 0; q < tb; q++) {
            if (check && !on[q]) continue;
            const __m256 xv = _mm256_maskload_ps(xr[q] + full, mask);
            for (int k = 0; k < ocb; k++)
                acc[k][q] = _mm256_add_ps(acc[k][q], _mm256_mul_ps(gv[k], xv));
        }
    }
}

AVX2 TILE void dw_tile(const conv_shape *s, const float *xb, const float *gb, long o0, long t0,
                       const int ocb, const int tb, float *dw)
{
    const long T = s->C * s->kh * s->kw, P = s->OH * s->OW, full = s->OW / 8 * 8;
    const __m256i mask = lanes_below(s->OW - full);
    __m256 acc[4][6];
    for (int k = 0; k < ocb; k++)
        for (int q = 0; q < tb; q++) acc[k][q] = _mm256_setzero_ps();
    long ti[6], at[6]; /* each tap's row i and its x's offset for iy = 0 */
    for (int q = 0; q < tb; q++) {
        const long t = t0 + q, j = t % s->kw, c = t / (s->kw * s->kh);
        ti[q] = t / s->kw % s->kh;
        at[q] = c * s->H * s->W + j;
    }
    for (long oy = 0; oy < s->OH; oy++) {
        const float *xr[6];
        int on[6], all = 1;
        for (int q = 0; q < tb; q++) {
            const long iy = oy + ti[q] - s->ph;
            on[q] = iy >= 0 && iy < s->H;
            all &= on[q];
            xr[q] = xb + at[q] + (on[q] ? iy : 0) * s->W;
        }
        const float *gr = gb + o0 * P + oy * s->OW;
        if (all)
            dw_row(acc, gr, P, xr, on, full, s->OW, mask, ocb, tb, 0);
        else
            dw_row(acc, gr, P, xr, on, full, s->OW, mask, ocb, tb, 1);
    }
    for (int k = 0; k < ocb; k++)
        for (int q = 0; q < tb; q++) {
            float l[8];
            _mm256_storeu_ps(l, acc[k][q]);
            dw[(o0 + k) * T + t0 + q] +=
                ((l[0] + l[1]) + (l[2] + l[3])) + ((l[4] + l[5]) + (l[6] + l[7]));
        }
}

/* the tile's constant sizes: ocb 4 or 1, tb up to `most` (2 or 6) */
#define DW_TB(ocb, tb) dw_tile(s, xb, gb, o0, t0, ocb, tb, dw)
#define DW_OCB(ocb)                                                                                \
    (tb == 6   ? DW_TB(ocb, 6)                                                                     \
     : tb == 5 ? DW_TB(ocb, 5)                                                                     \
     : tb == 4 ? DW_TB(ocb, 4)                                                                     \
     : tb == 3 ? DW_TB(ocb, 3)                                                                     \
     : tb == 2 ? DW_TB(ocb, 2)                                                                     \
               : DW_TB(ocb, 1))
#define DW_IMAGE(most)                                                                             \
    do {                                                                                           \
        const long T = s->C * s->kh * s->kw;                                                       \
        for (long t0 = 0; t0 < T; t0 += (most)) {                                                  \
            const int tb = (int)(T - t0 < (most) ? T - t0 : (most));                               \
            long o0 = 0;                                                                           \
            for (; o0 + 4 <= s->OC; o0 += 4) DW_OCB(4);                                            \
            for (; o0 < s->OC; o0++) DW_OCB(1);                                                    \
        }                                                                                          \
    } while (0)

AVX2 static void dw_image(const conv_shape *s, const float *xb, const float *gb, float *dw)
{
    DW_IMAGE(2);
}

AVX512 static void dw16_image(const conv_shape *s, const float *xb, const float *gb, float *dw)
{
    DW_IMAGE(6);
}

typedef void conv_fwd_fn(const conv_shape *, const float *, const float *, const float *, float *);
typedef void conv_dw_fn(const conv_shape *, const float *, const float *, float *);
typedef struct conv_ops {
    conv_fwd_fn *fwd;
    conv_dw_fn *dw;
} conv_ops;

static const conv_ops ops_avx2 = {fwd_image, dw_image}, ops_avx512 = {fwd16_image, dw16_image};

/* TRAINC_CONV=avx2 keeps the AVX2 kernels on an AVX-512 CPU, TRAINC_CONV=off
 * leaves both to the generated loops (to compare; tests/test_conv_direct) */
static const conv_ops *conv_pick(void)
{
    const char *want = getenv("TRAINC_CONV");
    if (!rt_cpu_has_avx2() || (want && !strcmp(want, "off"))) return NULL;
    if (want && !strcmp(want, "avx2")) return &ops_avx2;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? &ops_avx512
                                                                                   : &ops_avx2;
}

/* chosen on first use; threads racing here make the same choice */
static const conv_ops *conv(void)
{
    static int chosen;
    static const conv_ops *o;
    if (!__atomic_load_n(&chosen, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&o, conv_pick(), __ATOMIC_RELAXED);
        __atomic_store_n(&chosen, 1, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&o, __ATOMIC_RELAXED);
}

/* The images' rows with pw zeros either side (the loops' xp), into a
 * buffer of this thread's that only grows; NULL if it cannot */
static float *padded_columns(long C, long H, long W, long pw, const float *x)
{
    static _Thread_local float *buf;
    static _Thread_local long have;
    const long Wp = W + 2 * pw, need = C * H * Wp;
    if (need > have) {
        free(buf);
        buf = malloc(sizeof(float) * (size_t)need);
        have = buf ? need : 0;
        if (!buf) return NULL;
    }
    for (long r = 0; r < C * H; r++) {
        float *row = buf + r * Wp;
        memset(row, 0, sizeof(float) * (size_t)pw);
        memcpy(row + pw, x + r * W, sizeof(float) * (size_t)W);
        memset(row + pw + W, 0, sizeof(float) * (size_t)pw);
    }
    return buf;
}
#endif /* CONV_X86 */

int rt_sconv_direct(long B, long C, long H, long W, long OC, long kh, long kw, long ph, long pw,
                    const float *x, const float *w, const float *bias, float *y)
{
#ifdef CONV_X86
    const conv_ops *o = conv();
    const long OH = H + 2 * ph - kh + 1, OW = W + 2 * pw - kw + 1;
    if (o && OH >= 1 && OW >= 1) {
        const conv_shape s = {C, H, W + 2 * pw, OC, kh, kw, OH, OW, ph};
        for (long b = 0; b < B; b++) {
            const float *xb = x + b * C * H * W;
            if (pw && !(xb = padded_columns(C, H, W, pw, xb))) return -1;
            o->fwd(&s, xb, w, bias, y + b * OC * OH * OW);
        }
        return 0;
    }
#endif
    (void)B, (void)C, (void)H, (void)W, (void)OC, (void)kh, (void)kw, (void)ph, (void)pw;
    (void)x, (void)w, (void)bias, (void)y;
    return -1;
}

int rt_sconv_direct_dw(long B, long C, long H, long W, long OC, long kh, long kw, long ph, long pw,
                       const float *x, const float *dy, float *dw)
{
#ifdef CONV_X86
    const conv_ops *o = conv();
    const long OH = H + 2 * ph - kh + 1, OW = W + 2 * pw - kw + 1;
    if (o && OH >= 1 && OW >= 1) {
        const conv_shape s = {C, H, W + 2 * pw, OC, kh, kw, OH, OW, ph};
        memset(dw, 0, sizeof(float) * (size_t)(OC * C * kh * kw));
        for (long b = 0; b < B; b++) {
            const float *xb = x + b * C * H * W;
            if (pw && !(xb = padded_columns(C, H, W, pw, xb))) return -1;
            o->dw(&s, xb, dy + b * OC * OH * OW, dw);
        }
        return 0;
    }
#endif
    (void)B, (void)C, (void)H, (void)W, (void)OC, (void)kh, (void)kw, (void)ph, (void)pw;
    (void)x, (void)dy, (void)dw;
    return -1;
}
