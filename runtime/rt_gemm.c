/* rt_gemm.c — trainc's own single-precision matrix products, for the
 * products of fixed shape the generator's cost model gives them
 * (gen/ops/matmul.c, KERN_GEMM). Register-blocked FMA kernels that read the
 * operands where they are (no packing: each layout gets the loop order that
 * reads contiguous vectors), AVX2 + FMA and an AVX-512 clone, chosen once at
 * run time. Each returns -1 on a CPU without AVX2/FMA, in double, or under
 * RT_PORTABLE: the generated code then calls cblas_sgemm, the portable
 * build's product as before. Operands are contiguous, row-major.
 *
 * C = op(A) · B (B not transposed, "xn"): C[i, j..j+w] += a(i,p) · B[p,
 * j..j+w] for p = 0..k-1, one fma per element and step, in order: every
 * element is the same sequential fma chain whatever the vector width or its
 * place in a tile, so the AVX2 and AVX-512 kernels give identical results.
 * C = A · Bᵀ ("nt", both read along k): lane-wise partial sums of rows of
 * A and B (8 lanes, then the k % 8 tail in order; the AVX-512 clone: 16
 * lanes, the tail in masked loads, folded to 8), added pairwise at the end:
 * the two kernels' results differ in rounding, within a k-term sum's bound
 * (tests/unit/test_gemm.c); rt_gemm_sum.c sums them over images.
 * rt_sgemm_nt_epi and rt_sgemm_nn_epi (A·B, xn's tiles for A not
 * transposed) store each finished value through an epilogue (rt.h's
 * rt_gemm_epi: bias, relu, relu's backward mask) in registers, the
 * generator's separate loop's operations in its order: the same bits
 * (tests/unit/test_gemm_epi.c). */
#include "rt.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "rt_gemm_simd.h"

#ifdef GEMM_X86

/* ---- xn, AVX2: tiles of 6 rows x 2 vectors of 8 (the AVX-512 clone's last
 * columns: 8 x 1) ---- */

/* a(i, p) of op(A): A is [m x k], or [k x m] when transposed */
#define A_AT(ta, a, m, k, i, p) ((ta) ? (a) + (p) * (m) + (i) : (a) + (i) * (k) + (p))

AVX2 TILE void xn_tile8(int ta, long m, long n, long k, const float *a, const float *b, float *c,
                        long i, long j, int mr, int nv)
{
    __m256 acc[8][2];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm256_setzero_ps();
    for (long p = 0; p < k; p++) {
        __m256 bv[2];
        for (int v = 0; v < nv; v++) bv[v] = _mm256_loadu_ps(b + p * n + j + 8 * v);
        for (int r = 0; r < mr; r++) {
            __m256 av = _mm256_broadcast_ss(A_AT(ta, a, m, k, i + r, p));
            for (int v = 0; v < nv; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) _mm256_storeu_ps(c + (i + r) * n + j + 8 * v, acc[r][v]);
}

/* the n % 8 columns past the last full vector, in masked loads and stores:
 * the same fma chains */
AVX2 TILE void xn_tile8_part(int ta, long m, long n, long k, const float *a, const float *b,
                             float *c, long i, long j, int mr)
{
    const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc[8];
    for (int r = 0; r < mr; r++) acc[r] = _mm256_setzero_ps();
    for (long p = 0; p < k; p++) {
        __m256 bv = _mm256_maskload_ps(b + p * n + j, lanes);
        for (int r = 0; r < mr; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(A_AT(ta, a, m, k, i + r, p)), bv, acc[r]);
    }
    for (int r = 0; r < mr; r++) _mm256_maskstore_ps(c + (i + r) * n + j, lanes, acc[r]);
}

/* one strip of rows [i, i + mr), every column */
AVX2 TILE void xn_rows8(int ta, long m, long n, long k, const float *a, const float *b, float *c,
                        long i, int mr)
{
    long j = 0;
    for (; j + 16 <= n; j += 16) xn_tile8(ta, m, n, k, a, b, c, i, j, mr, 2);
    for (; j + 8 <= n; j += 8) xn_tile8(ta, m, n, k, a, b, c, i, j, mr, 1);
    if (j < n) xn_tile8_part(ta, m, n, k, a, b, c, i, j, mr);
}

AVX2 TILE void xn_avx2_t(int ta, long m, long n, long k, const float *a, const float *b, float *c)
{
    long i = 0;
    for (; i + 6 <= m; i += 6) xn_rows8(ta, m, n, k, a, b, c, i, 6);
    /* the last rows in strips of 4, 2, 1: constant heights keep the accumulators in registers */
    if (m - i >= 4) xn_rows8(ta, m, n, k, a, b, c, i, 4), i += 4;
    if (m - i >= 2) xn_rows8(ta, m, n, k, a, b, c, i, 2), i += 2;
    if (m - i >= 1) xn_rows8(ta, m, n, k, a, b, c, i, 1);
}

AVX2 static void xn_avx2(int ta, long m, long n, long k, const float *a, const float *b, float *c)
{
    if (ta)
        xn_avx2_t(1, m, n, k, a, b, c);
    else
        xn_avx2_t(0, m, n, k, a, b, c);
}

/* ---- xn, AVX-512: tiles of 8 rows x 3 vectors of 16 (32 registers) ---- */

AVX512 TILE void xn_tile16(int ta, long m, long n, long k, const float *a, const float *b, float *c,
                           long i, long j, int mr, int nv)
{
    __m512 acc[8][3];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (long p = 0; p < k; p++) {
        __m512 bv[3];
        for (int v = 0; v < nv; v++) bv[v] = _mm512_loadu_ps(b + p * n + j + 16 * v);
        for (int r = 0; r < mr; r++) {
            __m512 av = _mm512_set1_ps(*A_AT(ta, a, m, k, i + r, p));
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) _mm512_storeu_ps(c + (i + r) * n + j + 16 * v, acc[r][v]);
}

AVX512 TILE void xn_rows16(int ta, long m, long n, long k, const float *a, const float *b, float *c,
                           long i, int mr)
{
    long j = 0;
    for (; j + 48 <= n; j += 48) xn_tile16(ta, m, n, k, a, b, c, i, j, mr, 3);
    if (j + 32 <= n) xn_tile16(ta, m, n, k, a, b, c, i, j, mr, 2), j += 32;
    if (j + 16 <= n) xn_tile16(ta, m, n, k, a, b, c, i, j, mr, 1), j += 16;
    for (; j + 8 <= n; j += 8) xn_tile8(ta, m, n, k, a, b, c, i, j, mr, 1);
    if (j < n) xn_tile8_part(ta, m, n, k, a, b, c, i, j, mr);
}

AVX512 TILE void xn_avx512_t(int ta, long m, long n, long k, const float *a, const float *b,
                             float *c)
{
    long i = 0;
    for (; i + 8 <= m; i += 8) xn_rows16(ta, m, n, k, a, b, c, i, 8);
    if (m - i >= 4) xn_rows16(ta, m, n, k, a, b, c, i, 4), i += 4;
    if (m - i >= 2) xn_rows16(ta, m, n, k, a, b, c, i, 2), i += 2;
    if (m - i >= 1) xn_rows16(ta, m, n, k, a, b, c, i, 1);
}

AVX512 static void xn_avx512(int ta, long m, long n, long k, const float *a, const float *b,
                             float *c)
{
    if (ta)
        xn_avx512_t(1, m, n, k, a, b, c);
    else
        xn_avx512_t(0, m, n, k, a, b, c);
}

/* ---- the epilogue (rt.h's rt_gemm_epi) on a vector of finished values:
 * the generated loop's operations in its order ---- */

/* 8 values of row i from column j (lanes: the columns that exist). max
 * returns its second operand (0) for a NaN or two zeros, as v > 0 ? v : 0
 * does; the mask's compare is false for NaN, as m > 0 is */
AVX2 TILE __m256 epi8(const rt_gemm_epi *e, __m256 v, long n, long i, long j, __m256i lanes)
{
    const __m256 zero = _mm256_setzero_ps();
    if (e->bias) v = _mm256_add_ps(v, _mm256_maskload_ps(e->bias + j, lanes));
    if (e->act == RT_EPI_RELU) v = _mm256_max_ps(v, zero);
    if (e->mask)
        v = _mm256_and_ps(
            v, _mm256_cmp_ps(_mm256_maskload_ps(e->mask + i * n + j, lanes), zero, _CMP_GT_OQ));
    return v;
}

AVX512 TILE __m512 epi16(const rt_gemm_epi *e, __m512 v, long n, long i, long j)
{
    const __m512 zero = _mm512_setzero_ps();
    if (e->bias) v = _mm512_add_ps(v, _mm512_loadu_ps(e->bias + j));
    if (e->act == RT_EPI_RELU) v = _mm512_max_ps(v, zero);
    if (e->mask)
        v = _mm512_maskz_mov_ps(
            _mm512_cmp_ps_mask(_mm512_loadu_ps(e->mask + i * n + j), zero, _CMP_GT_OQ), v);
    return v;
}

/* ---- nn: A·B with the epilogue in the store; xn's tiles and its fma
 * chains for A not transposed (the same bits with e NULL) ---- */

AVX2 TILE void nn_tile8(long n, long k, const float *a, const float *b, float *c, long i, long j,
                        int mr, int nv, const rt_gemm_epi *e)
{
    __m256 acc[8][2];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm256_setzero_ps();
    for (long p = 0; p < k; p++) {
        __m256 bv[2];
        for (int v = 0; v < nv; v++) bv[v] = _mm256_loadu_ps(b + p * n + j + 8 * v);
        for (int r = 0; r < mr; r++) {
            __m256 av = _mm256_broadcast_ss(a + (i + r) * k + p);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    const __m256i all = _mm256_set1_epi32(-1);
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            _mm256_storeu_ps(c + (i + r) * n + j + 8 * v,
                             e ? epi8(e, acc[r][v], n, i + r, j + 8 * v, all) : acc[r][v]);
}

AVX2 TILE void nn_tile8_part(long n, long k, const float *a, const float *b, float *c, long i,
                             long j, int mr, const rt_gemm_epi *e)
{
    const __m256i lanes = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(n - j)),
                                             _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256 acc[8];
    for (int r = 0; r < mr; r++) acc[r] = _mm256_setzero_ps();
    for (long p = 0; p < k; p++) {
        __m256 bv = _mm256_maskload_ps(b + p * n + j, lanes);
        for (int r = 0; r < mr; r++)
            acc[r] = _mm256_fmadd_ps(_mm256_broadcast_ss(a + (i + r) * k + p), bv, acc[r]);
    }
    for (int r = 0; r < mr; r++)
        _mm256_maskstore_ps(c + (i + r) * n + j, lanes,
                            e ? epi8(e, acc[r], n, i + r, j, lanes) : acc[r]);
}

AVX2 TILE void nn_rows8(long n, long k, const float *a, const float *b, float *c, long i, int mr,
                        const rt_gemm_epi *e)
{
    long j = 0;
    for (; j + 16 <= n; j += 16) nn_tile8(n, k, a, b, c, i, j, mr, 2, e);
    for (; j + 8 <= n; j += 8) nn_tile8(n, k, a, b, c, i, j, mr, 1, e);
    if (j < n) nn_tile8_part(n, k, a, b, c, i, j, mr, e);
}

AVX2 static void nn_avx2(long m, long n, long k, const float *a, const float *b, float *c,
                         const rt_gemm_epi *e)
{
    long i = 0;
    for (; i + 6 <= m; i += 6) nn_rows8(n, k, a, b, c, i, 6, e);
    if (m - i >= 4) nn_rows8(n, k, a, b, c, i, 4, e), i += 4;
    if (m - i >= 2) nn_rows8(n, k, a, b, c, i, 2, e), i += 2;
    if (m - i >= 1) nn_rows8(n, k, a, b, c, i, 1, e);
}

AVX512 TILE void nn_tile16(long n, long k, const float *a, const float *b, float *c, long i, long j,
                           int mr, int nv, const rt_gemm_epi *e)
{
    __m512 acc[8][3];
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++) acc[r][v] = _mm512_setzero_ps();
    for (long p = 0; p < k; p++) {
        __m512 bv[3];
        for (int v = 0; v < nv; v++) bv[v] = _mm512_loadu_ps(b + p * n + j + 16 * v);
        for (int r = 0; r < mr; r++) {
            __m512 av = _mm512_set1_ps(a[(i + r) * k + p]);
            for (int v = 0; v < nv; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
        }
    }
    for (int r = 0; r < mr; r++)
        for (int v = 0; v < nv; v++)
            _mm512_storeu_ps(c + (i + r) * n + j + 16 * v,
                             e ? epi16(e, acc[r][v], n, i + r, j + 16 * v) : acc[r][v]);
}

AVX512 TILE void nn_rows16(long n, long k, const float *a, const float *b, float *c, long i, int mr,
                           const rt_gemm_epi *e)
{
    long j = 0;
    for (; j + 48 <= n; j += 48) nn_tile16(n, k, a, b, c, i, j, mr, 3, e);
    if (j + 32 <= n) nn_tile16(n, k, a, b, c, i, j, mr, 2, e), j += 32;
    if (j + 16 <= n) nn_tile16(n, k, a, b, c, i, j, mr, 1, e), j += 16;
    for (; j + 8 <= n; j += 8) nn_tile8(n, k, a, b, c, i, j, mr, 1, e);
    if (j < n) nn_tile8_part(n, k, a, b, c, i, j, mr, e);
}

AVX512 static void nn_avx512(long m, long n, long k, const float *a, const float *b, float *c,
                             const rt_gemm_epi *e)
{
    long i = 0;
    for (; i + 8 <= m; i += 8) nn_rows16(n, k, a, b, c, i, 8, e);
    if (m - i >= 4) nn_rows16(n, k, a, b, c, i, 4, e), i += 4;
    if (m - i >= 2) nn_rows16(n, k, a, b, c, i, 2, e), i += 2;
    if (m - i >= 1) nn_rows16(n, k, a, b, c, i, 1, e);
}

/* ---- nt, AVX2: tiles of 3 rows of A x 4 rows of B, 8 lanes along k ---- */

/* the epilogue on the nr <= 4 values of row i from column j */
AVX2 TILE __m128 epi4(const rt_gemm_epi *e, __m128 v, long n, long i, long j, int nr)
{
    const __m128 zero = _mm_setzero_ps();
    const __m128i lanes = _mm_cmpgt_epi32(_mm_set1_epi32(nr), _mm_setr_epi32(0, 1, 2, 3));
    if (e->bias) v = _mm_add_ps(v, _mm_maskload_ps(e->bias + j, lanes));
    if (e->act == RT_EPI_RELU) v = _mm_max_ps(v, zero);
    if (e->mask) v = _mm_and_ps(v, _mm_cmpgt_ps(_mm_maskload_ps(e->mask + i * n + j, lanes), zero));
    return v;
}

AVX2 TILE void nt_store4(float *c, long n, long i, long j, int nr, __m128 v)
{
    if (nr == 4) {
        _mm_storeu_ps(c + i * n + j, v);
        return;
    }
    float out[4];
    _mm_storeu_ps(out, v);
    for (int q = 0; q < nr; q++) c[i * n + j + q] = out[q];
}

/* One tile: rows i.. of A (mr) against rows j.. of B (nr), along k, stored
 * through the epilogue e (or NULL) */
AVX2 TILE void nt_tile8(long n, long k, const float *a, const float *b, float *c, long i, long j,
                        int mr, int nr, const rt_gemm_epi *e)
{
    __m256 acc[3][4];
    for (int r = 0; r < 3; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm256_setzero_ps();
    const long kv = k - k % 8;
    for (long p = 0; p < kv; p += 8) {
        __m256 av[3];
        for (int r = 0; r < mr; r++) av[r] = _mm256_loadu_ps(a + (i + r) * k + p);
        for (int q = 0; q < nr; q++) {
            __m256 bv = _mm256_loadu_ps(b + (j + q) * k + p);
            for (int r = 0; r < mr; r++) acc[r][q] = _mm256_fmadd_ps(av[r], bv, acc[r][q]);
        }
    }
    for (int r = 0; r < mr; r++) {
        __m128 s = sum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]);
        if (kv < k) {
            float out[4];
            _mm_storeu_ps(out, s);
            for (int q = 0; q < nr; q++) nt_tail(k, a + (i + r) * k, b + (j + q) * k, out + q, kv);
            s = _mm_loadu_ps(out);
        }
        nt_store4(c, n, i + r, j, nr, e ? epi4(e, s, n, i + r, j, nr) : s);
    }
}

AVX2 TILE void nt_rows8(long n, long k, const float *a, const float *b, float *c, long i, int mr,
                        const rt_gemm_epi *e)
{
    long j = 0;
    for (; j + 4 <= n; j += 4) nt_tile8(n, k, a, b, c, i, j, mr, 4, e);
    if (n - j >= 2) nt_tile8(n, k, a, b, c, i, j, mr, 2, e), j += 2;
    if (n - j >= 1) nt_tile8(n, k, a, b, c, i, j, mr, 1, e);
}

AVX2 TILE void nt_all8(long m, long n, long k, const float *a, const float *b, float *c,
                       const rt_gemm_epi *e)
{
    long i = 0;
    for (; i + 3 <= m; i += 3) nt_rows8(n, k, a, b, c, i, 3, e);
    if (m - i == 2) nt_rows8(n, k, a, b, c, i, 2, e);
    if (m - i == 1) nt_rows8(n, k, a, b, c, i, 1, e);
}

/* with and without the epilogue, as nt_avx512 */
AVX2 static void nt_avx2(long m, long n, long k, const float *a, const float *b, float *c,
                         const rt_gemm_epi *e)
{
    if (e)
        nt_all8(m, n, k, a, b, c, e);
    else
        nt_all8(m, n, k, a, b, c, NULL);
}

/* ---- nt, AVX-512: tiles of 6 rows of A x 4 rows of B, 16 lanes along k,
 * the k % 16 tail in masked (zero-filled) loads ---- */

AVX512 TILE void nt_tile16(long n, long k, const float *a, const float *b, float *c, long i, long j,
                           int mr, int nr, const rt_gemm_epi *e)
{
    __m512 acc[6][4];
    for (int r = 0; r < 6; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm512_setzero_ps();
    for (long p = 0; p < k; p += 16) {
        const __mmask16 lanes = k - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - p)) - 1);
        __m512 av[6];
        for (int r = 0; r < mr; r++) av[r] = _mm512_maskz_loadu_ps(lanes, a + (i + r) * k + p);
        for (int q = 0; q < nr; q++) {
            __m512 bv = _mm512_maskz_loadu_ps(lanes, b + (j + q) * k + p);
            for (int r = 0; r < mr; r++) acc[r][q] = _mm512_fmadd_ps(av[r], bv, acc[r][q]);
        }
    }
    for (int r = 0; r < mr; r++) {
        __m128 s = sum4(fold16(acc[r][0]), fold16(acc[r][1]), fold16(acc[r][2]), fold16(acc[r][3]));
        nt_store4(c, n, i + r, j, nr, e ? epi4(e, s, n, i + r, j, nr) : s);
    }
}

AVX512 TILE void nt_rows16(long n, long k, const float *a, const float *b, float *c, long i, int mr,
                           const rt_gemm_epi *e)
{
    long j = 0;
    for (; j + 4 <= n; j += 4) nt_tile16(n, k, a, b, c, i, j, mr, 4, e);
    if (n - j >= 2) nt_tile16(n, k, a, b, c, i, j, mr, 2, e), j += 2;
    if (n - j >= 1) nt_tile16(n, k, a, b, c, i, j, mr, 1, e);
}

AVX512 TILE void nt_all16(long m, long n, long k, const float *a, const float *b, float *c,
                          const rt_gemm_epi *e)
{
    long i = 0;
    for (; i + 6 <= m; i += 6) nt_rows16(n, k, a, b, c, i, 6, e);
    if (m - i >= 4) nt_rows16(n, k, a, b, c, i, 4, e), i += 4;
    if (m - i >= 2) nt_rows16(n, k, a, b, c, i, 2, e), i += 2;
    if (m - i >= 1) nt_rows16(n, k, a, b, c, i, 1, e);
}

/* a copy without the epilogue: the test of e in every tile's store kept
 * the product from its registers (2.4x slower on 64 x 256 x 784) */
AVX512 static void nt_avx512(long m, long n, long k, const float *a, const float *b, float *c,
                             const rt_gemm_epi *e)
{
    if (e)
        nt_all16(m, n, k, a, b, c, e);
    else
        nt_all16(m, n, k, a, b, c, NULL);
}

/* ---- Aᵀ·B with a store hook (the weight gradient's product,
 * rt_sgemm_tn_store): strip by strip of rows of C, the strips of
 * rt_sgemm_xn's kernels (the same fma chains, so the same bits) ---- */

/* what a strip fetches ahead while it computes: rows [i, i + rows) of C
 * and of the arrays of s->ahead (the next strip's), none if rows is 0 */
typedef struct tn_fetch {
    const rt_gemm_store *s;
    const float *c;
    long i, rows;
} tn_fetch;

/* columns [j, j + w) of f's rows, into L2 for writing: a tile's share, so
 * that the fetches spread over the strip's arithmetic */
static inline void fetch_cols(const tn_fetch *f, long n, long j, long w)
{
    for (int q = 0; f->rows && q <= f->s->nahead; q++) {
        const char *base = q < f->s->nahead ? (const char *)f->s->ahead[q] : (const char *)f->c;
        for (long r = f->i; r < f->i + f->rows; r++) {
            const char *p = base + ((size_t)r * (size_t)n + (size_t)j) * sizeof(float);
            const char *end = p + (size_t)w * sizeof(float);
            for (p -= (uintptr_t)p % 64; p < end; p += 64) __builtin_prefetch(p, 1, 2);
        }
    }
}

/* rows [i, i + mr) of C = Aᵀ·B: xn_rows8's tiles, each followed by its fetch */
AVX2 TILE void tn_strip8(long m, long n, long k, const float *a, const float *b, float *c, long i,
                         int mr, const tn_fetch *f)
{
    long j = 0;
    for (; j + 16 <= n; j += 16) {
        xn_tile8(1, m, n, k, a, b, c, i, j, mr, 2);
        /* every fourth tile: 64 columns, a line of each row (fewer loop instructions) */
        if ((j + 16) % 64 == 0) fetch_cols(f, n, j - 48, 64);
    }
    fetch_cols(f, n, j - j % 64, n - (j - j % 64));
    for (; j + 8 <= n; j += 8) xn_tile8(1, m, n, k, a, b, c, i, j, mr, 1);
    if (j < n) xn_tile8_part(1, m, n, k, a, b, c, i, j, mr);
}

/* xn_rows16's tiles, each followed by its fetch */
AVX512 TILE void tn_strip16(long m, long n, long k, const float *a, const float *b, float *c,
                            long i, int mr, const tn_fetch *f)
{
    long j = 0;
    for (; j + 48 <= n; j += 48) {
        xn_tile16(1, m, n, k, a, b, c, i, j, mr, 3);
        fetch_cols(f, n, j, 48);
    }
    fetch_cols(f, n, j, n - j);
    if (j + 32 <= n) xn_tile16(1, m, n, k, a, b, c, i, j, mr, 2), j += 32;
    if (j + 16 <= n) xn_tile16(1, m, n, k, a, b, c, i, j, mr, 1), j += 16;
    for (; j + 8 <= n; j += 8) xn_tile8(1, m, n, k, a, b, c, i, j, mr, 1);
    if (j < n) xn_tile8_part(1, m, n, k, a, b, c, i, j, mr);
}

typedef void tn_rows_fn(long m, long n, long k, const float *a, const float *b, float *c, long i,
                        int mr, const tn_fetch *f);

/* rows [i, i + mr) of C, mr a height the kernel's strips have (constant in each copy) */
AVX2 static void tn_rows_avx2(long m, long n, long k, const float *a, const float *b, float *c,
                              long i, int mr, const tn_fetch *f)
{
    if (mr == 6)
        tn_strip8(m, n, k, a, b, c, i, 6, f);
    else if (mr == 4)
        tn_strip8(m, n, k, a, b, c, i, 4, f);
    else if (mr == 2)
        tn_strip8(m, n, k, a, b, c, i, 2, f);
    else
        tn_strip8(m, n, k, a, b, c, i, 1, f);
}

AVX512 static void tn_rows_avx512(long m, long n, long k, const float *a, const float *b, float *c,
                                  long i, int mr, const tn_fetch *f)
{
    if (mr == 8)
        tn_strip16(m, n, k, a, b, c, i, 8, f);
    else if (mr == 4)
        tn_strip16(m, n, k, a, b, c, i, 4, f);
    else if (mr == 2)
        tn_strip16(m, n, k, a, b, c, i, 2, f);
    else
        tn_strip16(m, n, k, a, b, c, i, 1, f);
}

/* done covers at least this many values (but at the last rows): fewer calls on narrow C */
#define STORE_MIN_VALUES 4096L

static void tn_store(tn_rows_fn *rows, int tall, long m, long n, long k, const float *a,
                     const float *b, float *c, const rt_gemm_store *s)
{
    const int hook = s && s->done;
    long from = 0; /* the first row done has not had */
    for (long i = 0; i < m;) {
        const int mr = m - i >= tall ? tall : m - i >= 4 ? 4 : m - i >= 2 ? 2 : 1;
        const long next = m - i - mr < tall ? m - i - mr : tall;
        const tn_fetch f = {s, c, i + mr, hook ? next : 0};
        rows(m, n, k, a, b, c, i, mr, &f);
        i += mr;
        if (hook && ((i - from) * n >= STORE_MIN_VALUES || i == m)) {
            s->done(s->ctx, from * n, (i - from) * n);
            from = i;
        }
    }
}

/* ---- dispatch ---- */

typedef struct gemm_ops {
    void (*xn)(int, long, long, long, const float *, const float *, float *);
    void (*nt)(long, long, long, const float *, const float *, float *, const rt_gemm_epi *);
    void (*nn)(long, long, long, const float *, const float *, float *, const rt_gemm_epi *);
    tn_rows_fn *tn_rows; /* a strip of Aᵀ·B, strips tn_tall rows high */
    int tn_tall;
    int lanes; /* rt_gemm_lanes' answer */
} gemm_ops;

static const gemm_ops ops_avx2 = {xn_avx2, nt_avx2, nn_avx2, tn_rows_avx2, 6, 8};
static const gemm_ops ops_avx512 = {xn_avx512, nt_avx512, nn_avx512, tn_rows_avx512, 8, 16};

/* TRAINC_GEMM=avx2 keeps the AVX2 kernels on an AVX-512 CPU, TRAINC_GEMM=off
 * leaves every product to OpenBLAS (to compare: tests/bench/bench.sh) */
static const gemm_ops *gemm_pick(void)
{
    const char *want = getenv("TRAINC_GEMM");
    if (!rt_cpu_has_avx2() || (want && !strcmp(want, "off"))) return NULL;
    if (want && !strcmp(want, "avx2")) return &ops_avx2;
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") ? &ops_avx512
                                                                                   : &ops_avx2;
}

/* chosen on first use; threads racing here pick the same table */
static const gemm_ops *gemm(void)
{
    static int chosen;
    static const gemm_ops *o;
    if (!__atomic_load_n(&chosen, __ATOMIC_ACQUIRE)) {
        __atomic_store_n(&o, gemm_pick(), __ATOMIC_RELAXED);
        __atomic_store_n(&chosen, 1, __ATOMIC_RELEASE);
    }
    return __atomic_load_n(&o, __ATOMIC_RELAXED);
}


int rt_gemm_lanes(void)
{
    const gemm_ops *o = gemm();
    return o ? o->lanes : 0;
}
#endif /* GEMM_X86 */

int rt_sgemm_xn(int ta, long m, long n, long k, const float *a, const float *b, float *c)
{
#ifdef GEMM_X86
    const gemm_ops *o = gemm();
    if (o) {
        o->xn(ta, m, n, k, a, b, c);
        return 0;
    }
#else
    (void)ta, (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
#endif
    return -1;
}

int rt_sgemm_nt(long m, long n, long k, const float *a, const float *b, float *c)
{
    return rt_sgemm_nt_epi(m, n, k, a, b, c, NULL);
}

int rt_sgemm_nt_epi(long m, long n, long k, const float *a, const float *b, float *c,
                    const rt_gemm_epi *e)
{
#ifdef GEMM_X86
    const gemm_ops *o = gemm();
    if (o) {
        o->nt(m, n, k, a, b, c, e);
        return 0;
    }
#else
    (void)m, (void)n, (void)k, (void)a, (void)b, (void)c, (void)e;
#endif
    return -1;
}

int rt_sgemm_nn_epi(long m, long n, long k, const float *a, const float *b, float *c,
                    const rt_gemm_epi *e)
{
#ifdef GEMM_X86
    const gemm_ops *o = gemm();
    if (o) {
        o->nn(m, n, k, a, b, c, e);
        return 0;
    }
#else
    (void)m, (void)n, (void)k, (void)a, (void)b, (void)c, (void)e;
#endif
    return -1;
}

int rt_sgemm_tn_store(long m, long n, long k, const float *a, const float *b, float *c,
                      const rt_gemm_store *s)
{
#ifdef GEMM_X86
    const gemm_ops *o = gemm();
    if (o) {
        tn_store(o->tn_rows, o->tn_tall, m, n, k, a, b, c, s);
        return 0;
    }
#else
    (void)m, (void)n, (void)k, (void)a, (void)b, (void)c, (void)s;
#endif
    return -1;
}
