/* rt_tiny.h — what a tiny net's register step (gen/emit_tiny.c) calls:
 * loads and stores of rows shorter than a register, the transposes that
 * turn rows into columns, the sigmoid on 8 lanes. Included by rt.h where
 * the activations' vector forms are (RT_ACT_VECTOR: x86-64, float, not
 * the portable build); all AVX2, inline, with constant sizes at every
 * call so that the branches fold away; and plain SGD's update. */
#ifndef RT_TINY_H
#define RT_TINY_H

#ifdef RT_ACT_VECTOR
#define RT_TINY RT_ACT_FMA

/* p[0..n) into lanes 0..n of a register, the rest 0 (n <= 8) */
RT_TINY static inline __m256 rt_tiny_load8(const float *p, int n)
{
    if (n == 8) return _mm256_loadu_ps(p);
    float t[8] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return _mm256_loadu_ps(t);
}
RT_TINY static inline __m128 rt_tiny_load4(const float *p, int n)
{
    if (n == 4) return _mm_loadu_ps(p);
    float t[4] = {0};
    memcpy(t, p, sizeof(float) * (size_t)n);
    return _mm_loadu_ps(t);
}

/* lanes 0..n of v into p[0..n) */
RT_TINY static inline void rt_tiny_store8(float *p, __m256 v, int n)
{
    if (n == 8) {
        _mm256_storeu_ps(p, v);
        return;
    }
    float t[8];
    _mm256_storeu_ps(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}
RT_TINY static inline void rt_tiny_store4(float *p, __m128 v, int n)
{
    if (n == 4) {
        _mm_storeu_ps(p, v);
        return;
    }
    float t[4];
    _mm_storeu_ps(t, v);
    memcpy(p, t, sizeof(float) * (size_t)n);
}

/* col[k] = (row[0][k], .., row[3][k]) for k < 8: up to 4 rows of 8 lanes
 * transposed (rows past `rows` are 0) */
RT_TINY static inline void rt_tiny_columns4(const __m256 *row, int rows, __m128 col[8])
{
    const __m256 z = _mm256_setzero_ps();
    const __m256 r0 = row[0], r1 = rows > 1 ? row[1] : z, r2 = rows > 2 ? row[2] : z,
                 r3 = rows > 3 ? row[3] : z;
    const __m256 u0 = _mm256_unpacklo_ps(r0, r1), u1 = _mm256_unpackhi_ps(r0, r1);
    const __m256 u2 = _mm256_unpacklo_ps(r2, r3), u3 = _mm256_unpackhi_ps(r2, r3);
    const __m256 c0 = _mm256_shuffle_ps(u0, u2, 0x44), c1 = _mm256_shuffle_ps(u0, u2, 0xee);
    const __m256 c2 = _mm256_shuffle_ps(u1, u3, 0x44), c3 = _mm256_shuffle_ps(u1, u3, 0xee);
    col[0] = _mm256_castps256_ps128(c0);
    col[1] = _mm256_castps256_ps128(c1);
    col[2] = _mm256_castps256_ps128(c2);
    col[3] = _mm256_castps256_ps128(c3);
    col[4] = _mm256_extractf128_ps(c0, 1);
    col[5] = _mm256_extractf128_ps(c1, 1);
    col[6] = _mm256_extractf128_ps(c2, 1);
    col[7] = _mm256_extractf128_ps(c3, 1);
}

/* the same for up to 8 rows: col[k] = (row[0][k], .., row[7][k]) */
RT_TINY static inline void rt_tiny_columns8(const __m256 *row, int rows, __m256 col[8])
{
    __m256 r[8];
    for (int i = 0; i < 8; i++) r[i] = i < rows ? row[i] : _mm256_setzero_ps();
    __m256 u[8], s[8];
    for (int i = 0; i < 4; i++) {
        u[2 * i] = _mm256_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        u[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 2; i++) {
        s[4 * i] = _mm256_shuffle_ps(u[4 * i], u[4 * i + 2], 0x44);
        s[4 * i + 1] = _mm256_shuffle_ps(u[4 * i], u[4 * i + 2], 0xee);
        s[4 * i + 2] = _mm256_shuffle_ps(u[4 * i + 1], u[4 * i + 3], 0x44);
        s[4 * i + 3] = _mm256_shuffle_ps(u[4 * i + 1], u[4 * i + 3], 0xee);
    }
    for (int k = 0; k < 4; k++) {
        col[k] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x20);
        col[k + 4] = _mm256_permute2f128_ps(s[k], s[k + 4], 0x31);
    }
}

/* dst[i k + j] = col[j][i] for i < n, j < k: the weight gradient's
 * columns (units in lanes) back into its rows */
RT_TINY static inline void rt_tiny_store_columns(float *dst, const __m256 *col, int n, int k)
{
    if (k == 2) { /* interleave two columns: the common 2-feature input */
        const __m256 lo = _mm256_unpacklo_ps(col[0], col[1]),
                     hi = _mm256_unpackhi_ps(col[0], col[1]);
        const __m256 a = _mm256_permute2f128_ps(lo, hi, 0x20),
                     b = _mm256_permute2f128_ps(lo, hi, 0x31);
        rt_tiny_store8(dst, a, n < 4 ? 2 * n : 8);
        if (n > 4) rt_tiny_store8(dst + 8, b, 2 * n - 8);
        return;
    }
    float t[8][8];
    for (int j = 0; j < k; j++) _mm256_storeu_ps(t[j], col[j]);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < k; j++) dst[i * k + j] = t[j][i];
}

/* p[i] = fma(g[i], -lr, p[i]), i < n: plain SGD's update, as the
 * optimizer's update_loop computes it with the CPU's fma */
RT_TINY static inline void rt_tiny_sgd(float *p, const float *g, long n, float lr)
{
    const __m256 nlr = _mm256_set1_ps(-lr);
    long i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(p + i,
                         _mm256_fmadd_ps(_mm256_loadu_ps(g + i), nlr, _mm256_loadu_ps(p + i)));
    for (; i < n; i++) p[i] = fmaf(g[i], -lr, p[i]);
}

/* rt_sigmoid4 on 8 lanes */
RT_TINY static inline __m256 rt_tiny_sigmoid8(__m256 x)
{
    const __m128 lo = rt_sigmoid4(_mm256_castps256_ps128(x)),
                 hi = rt_sigmoid4(_mm256_extractf128_ps(x, 1));
    return _mm256_insertf128_ps(_mm256_castps128_ps256(lo), hi, 1);
}
#endif

#endif
