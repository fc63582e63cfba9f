/* rt_maxpool.c — max pooling over 2x2 windows with stride 2 and no
 * padding, as gen/ops/pool.c's loops compute it, for rows too short for
 * those loops to vectorise along the output columns (fewer than 8:
 * fashion_cnn's second pool, 7 columns, ran 1.1 ns a window forward and 2
 * backward, one window at a time).
 *
 * The images tile into row pairs (H and W even): pair r is x's rows 2r and
 * 2r + 1, 2W floats from x + 2rW, and its W/2 windows, so every pair of the
 * batch is one loop. Four windows at a time: a row's 8 floats split into
 * the windows' left and right columns (one permute), the four taps scanned
 * as the loops scan them (a larger value or a NaN takes the maximum, in
 * tap order), selects in 4 lanes, a row's last windows in masked loads and
 * stores. The same operations on the same values: the loops' bits. AVX2;
 * -1 without it (or in double, or under RT_PORTABLE): the caller then runs
 * its loops. */
#include "rt.h"

#if defined(__GNUC__) && defined(__x86_64__) && !defined(RT_PORTABLE) && !defined(TRAINC_DOUBLE)
#define POOL_X86 1
#include <immintrin.h>
#define POOL_AVX2 __attribute__((target("avx2")))

/* the first n of 4 lanes, and the first 2n of 8 */
POOL_AVX2 static inline __m128i lanes4(long n)
{
    return _mm_cmpgt_epi32(_mm_set1_epi32((int)n), _mm_setr_epi32(0, 1, 2, 3));
}
POOL_AVX2 static inline __m256i lanes8(long n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(2 * n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* the left and right columns of n windows (2n floats) of a row at p */
POOL_AVX2 static inline void split_row(const float *p, long n, __m128 *left, __m128 *right)
{
    const __m256 v = n == 4 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, lanes8(n));
    const __m256 lr = _mm256_permutevar8x32_ps(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
    *left = _mm256_castps256_ps128(lr);
    *right = _mm256_extractf128_ps(lr, 1);
}

/* tap t of value v into the scan: a larger value or a NaN takes it */
POOL_AVX2 static inline void scan_tap(__m128 v, float t, __m128 *m, __m128 *arg)
{
    const __m128 take = _mm_or_ps(_mm_cmp_ps(v, *m, _CMP_GT_OQ), _mm_cmp_ps(v, v, _CMP_UNORD_Q));
    *m = _mm_blendv_ps(*m, v, take);
    *arg = _mm_blendv_ps(*arg, _mm_set1_ps(t), take);
}

/* the maximum of n windows from column 2·ox0 of the row pair at top, and
 * its tap as its offset from the window's corner (0, 1, W, W + 1: the
 * argmax the loops save) */
POOL_AVX2 static inline void scan_windows(const float *top, long W, long ox0, long n, __m128 *m,
                                          __m128 *arg)
{
    __m128 a, b, c, d;
    split_row(top + 2 * ox0, n, &a, &b);
    split_row(top + W + 2 * ox0, n, &c, &d);
    *m = a;
    *arg = _mm_setzero_ps();
    scan_tap(b, 1, m, arg);
    scan_tap(c, (float)W, m, arg);
    scan_tap(d, (float)(W + 1), m, arg);
}

/* n windows' dx of taps t and t + 1 (one row), interleaved back, at p */
POOL_AVX2 static inline void store_row(float *p, long n, __m128 arg, __m128 g, float t)
{
    const __m128 l = _mm_and_ps(_mm_cmp_ps(arg, _mm_set1_ps(t), _CMP_EQ_OQ), g);
    const __m128 r = _mm_and_ps(_mm_cmp_ps(arg, _mm_set1_ps(t + 1), _CMP_EQ_OQ), g);
    const __m256 v = _mm256_set_m128(_mm_unpackhi_ps(l, r), _mm_unpacklo_ps(l, r));
    if (n == 4)
        _mm256_storeu_ps(p, v);
    else
        _mm256_maskstore_ps(p, lanes8(n), v);
}

/* the row pairs' windows: their maxima into out (dy NULL), or the
 * backward's dx from dy into out */
POOL_AVX2 static void pairs_avx2(long pairs, long W, const float *x, const float *dy, float *out,
                                 int relu_mask)
{
    const long OW = W / 2;
    for (long r = 0; r < pairs; r++)
        for (long ox0 = 0; ox0 < OW; ox0 += 4) {
            const long n = OW - ox0 < 4 ? OW - ox0 : 4;
            __m128 m, arg;
            scan_windows(x + r * 2 * W, W, ox0, n, &m, &arg);
            if (!dy) {
                if (n == 4)
                    _mm_storeu_ps(out + r * OW + ox0, m);
                else
                    _mm_maskstore_ps(out + r * OW + ox0, lanes4(n), m);
                continue;
            }
            const float *gr = dy + r * OW + ox0;
            __m128 g = n == 4 ? _mm_loadu_ps(gr) : _mm_maskload_ps(gr, lanes4(n));
            if (relu_mask) g = _mm_and_ps(_mm_cmp_ps(m, _mm_setzero_ps(), _CMP_GT_OQ), g);
            store_row(out + r * 2 * W + 2 * ox0, n, arg, g, 0);
            store_row(out + r * 2 * W + W + 2 * ox0, n, arg, g, (float)W);
        }
}
/* the maxima into y (unless NULL) and their taps into t (-1 where the
 * maximum is not > 0 with relu_masked: relu's backward zeroes the window) */
POOL_AVX2 static void argmax_avx2(long pairs, long W, const float *x, float *y, float *t,
                                  int relu_masked)
{
    const long OW = W / 2;
    for (long r = 0; r < pairs; r++)
        for (long ox0 = 0; ox0 < OW; ox0 += 4) {
            const long n = OW - ox0 < 4 ? OW - ox0 : 4, at = r * OW + ox0;
            __m128 m, arg;
            scan_windows(x + r * 2 * W, W, ox0, n, &m, &arg);
            if (relu_masked)
                arg = _mm_blendv_ps(_mm_set1_ps(-1), arg,
                                    _mm_cmp_ps(m, _mm_setzero_ps(), _CMP_GT_OQ));
            if (n == 4) {
                if (y) _mm_storeu_ps(y + at, m);
                _mm_storeu_ps(t + at, arg);
            } else {
                if (y) _mm_maskstore_ps(y + at, lanes4(n), m);
                _mm_maskstore_ps(t + at, lanes4(n), arg);
            }
        }
}

/* dx from dy at the saved taps t */
POOL_AVX2 static void saved_grad_avx2(long pairs, long W, const float *t, const float *dy,
                                      float *dx)
{
    const long OW = W / 2;
    for (long r = 0; r < pairs; r++)
        for (long ox0 = 0; ox0 < OW; ox0 += 4) {
            const long n = OW - ox0 < 4 ? OW - ox0 : 4, at = r * OW + ox0;
            const __m128 tv = n == 4 ? _mm_loadu_ps(t + at) : _mm_maskload_ps(t + at, lanes4(n));
            const __m128 g = n == 4 ? _mm_loadu_ps(dy + at) : _mm_maskload_ps(dy + at, lanes4(n));
            store_row(dx + r * 2 * W + 2 * ox0, n, tv, g, 0);
            store_row(dx + r * 2 * W + W + 2 * ox0, n, tv, g, (float)W);
        }
}
#endif

/* One call of an entry point below: its arguments, the loop that runs them */
typedef enum { POOL, POOL_GRAD, POOL_ARGMAX, POOL_GRAD_SAVED } pool_kind;
typedef struct pool_call {
    pool_kind kind;
    long pairs, W;
    const float *in, *dy; /* x (t for POOL_GRAD_SAVED), dy */
    float *out, *t;       /* y or dx, the saved argmax */
    int relu;
} pool_call;

/* the AVX2 loop (0), or -1 without AVX2 here */
static int run(const pool_call *c)
{
#ifdef POOL_X86
    if (rt_cpu_has_avx2()) {
        if (c->kind == POOL || c->kind == POOL_GRAD)
            pairs_avx2(c->pairs, c->W, c->in, c->dy, c->out, c->relu);
        else if (c->kind == POOL_ARGMAX)
            argmax_avx2(c->pairs, c->W, c->in, c->out, c->t, c->relu);
        else
            saved_grad_avx2(c->pairs, c->W, c->in, c->dy, c->out);
        return 0;
    }
#endif
    (void)c;
    return -1;
}

int rt_max_pool2x2(long pairs, long W, const float *x, float *y)
{
    return run(&(pool_call){POOL, pairs, W, x, NULL, y, NULL, 0});
}

int rt_max_pool2x2_grad(long pairs, long W, const float *x, const float *dy, float *dx,
                        int relu_mask)
{
    return run(&(pool_call){POOL_GRAD, pairs, W, x, dy, dx, NULL, relu_mask});
}

int rt_max_pool2x2_argmax(long pairs, long W, const float *x, float *y, float *t, int relu_masked)
{
    return run(&(pool_call){POOL_ARGMAX, pairs, W, x, NULL, y, t, relu_masked});
}

int rt_max_pool2x2_grad_saved(long pairs, long W, const float *t, const float *dy, float *dx)
{
    return run(&(pool_call){POOL_GRAD_SAVED, pairs, W, t, dy, dx, NULL, 0});
}
