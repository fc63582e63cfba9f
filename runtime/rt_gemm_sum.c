/* rt_gemm_sum.c — rt_sgemm_nt_sum: C += Σ over images t of A_t · B_tᵀ, a
 * convolution's weight gradient over the batch (dW += dy_t · col_tᵀ), in
 * rt_gemm.c's nt tiles (AVX2 and AVX-512, the kernels rt_gemm.c chose).
 * Each element's lanes run through every image before they are added up:
 * one reduction per element, not one per image. */
#include "rt.h"

#include <stdlib.h>
#include <string.h>

#include "rt_gemm_simd.h"

#ifdef GEMM_X86

/* ---- the sum over images ----
 * Every element's lanes run through every image's k in order, as one tile
 * of nt would over the images laid end to end; but a tile meets the images
 * a group at a time (NTS_GROUP_FLOATS of B's rows: the nr rows of each
 * image of the group stay in L1 while every row tile of A passes), its lane
 * sums waiting in a buffer between groups: loading and storing them is
 * exact, so the bits are those of one pass. Rows of A go NTS_ROWS at a time
 * (the buffer's height); NTS_DRIVE orders the rest. */
#define NTS_ROWS 48
#define NTS_GROUP_FLOATS 2048

/* images per group: nr rows of B of k floats each, NTS_GROUP_FLOATS in all */
static inline long nts_group(long k)
{
    const long g = NTS_GROUP_FLOATS / (4 * k);
    return g > 0 ? g : 1;
}

/* The lane sums of a panel of rows, one part per block of columns: a
 * buffer of this thread's, kept (its size only grows), or NULL past
 * NTS_BUFFER_MAX floats (then the images run in one chunk and each block
 * uses a buffer of its own on the stack). */
#define NTS_BUFFER_MAX (1L << 20)
static float *nts_buffer(size_t floats)
{
    static _Thread_local float *buf;
    static _Thread_local size_t have;
    if (floats > NTS_BUFFER_MAX) return NULL;
    if (floats > have) {
        free(buf);
        buf = aligned_alloc(64, floats * sizeof *buf);
        have = buf ? floats : 0;
    }
    return buf;
}

/* The next group's rows of B for the block (j, nr) and a blocks'th of its
 * rows of A, into L2 while this group computes: left to the hardware,
 * images far apart in memory arrive at half the speed of streaming them. */
static inline void nts_prefetch(long t0, long t1, long sa, long sb, long m0, long mi, long k,
                                const float *a, const float *b, long j, int nr, long blk,
                                long blocks)
{
    for (long t = t0; t < t1; t++) {
        const char *bp = (const char *)(b + t * sb + j * k);
        const char *ap = (const char *)(a + t * sa + m0 * k);
        const long bbytes = (long)nr * k * 4, abytes = mi * k * 4;
        for (long o = 0; o < bbytes; o += 64) _mm_prefetch(bp + o, _MM_HINT_T1);
        for (long o = abytes * blk / blocks / 64 * 64; o < abytes * (blk + 1) / blocks; o += 64)
            _mm_prefetch(ap + o, _MM_HINT_T1);
    }
}

/* Both kernels' driver (block: a column block's images [t, t1) onto its
 * lane sums; fold: the sums onto C; L lanes). B's rows go 4 at a time (the
 * column blocks), each block's lane sums in its own part of the buffer; a
 * group of images goes through every block before the next group (whose
 * data is prefetched): B is read in order and the group's rows of A stay
 * in L2. Block by block over all the images (the buffer too large) reads A
 * once per block: fashion_cnn's conv2 weight gradient 1570 -> 1150 us. */
#define NTS_DRIVE(block, fold, L)                                                                  \
    do {                                                                                           \
        const long blocks = n / 4 + 2; /* of 4 columns, then 2 and 1 */                            \
        float *s = nts_buffer((size_t)NTS_ROWS * blocks * 4 * (L));                                \
        float one[NTS_ROWS * 4 * (L)] __attribute__((aligned(64)));                                \
        const long group = s ? nts_group(k) : nb, step = s ? n : 4;                                \
        for (long i0 = 0; i0 < m; i0 += NTS_ROWS) {                                                \
            const long mi = m - i0 < NTS_ROWS ? m - i0 : NTS_ROWS;                                 \
            for (long j0 = 0; j0 < n; j0 += step) {                                                \
                const long j1 = j0 + step < n ? j0 + step : n;                                     \
                for (long t = 0; t < nb; t += group) {                                             \
                    const long t1 = t + group < nb ? t + group : nb;                               \
                    for (long j = j0, blk = 0; j < j1; blk++) {                                    \
                        const int nr = j1 - j >= 4 ? 4 : j1 - j >= 2 ? 2 : 1;                      \
                        float *sj = s ? s + blk * mi * 4 * (L) : one;                              \
                        if (t == 0) memset(sj, 0, (size_t)mi * 4 * (L) * sizeof *sj);              \
                        if (nr == 4)                                                               \
                            block(t, t1, sa, sb, i0, mi, k, a, b, j, 4, sj);                       \
                        else if (nr == 2)                                                          \
                            block(t, t1, sa, sb, i0, mi, k, a, b, j, 2, sj);                       \
                        else                                                                       \
                            block(t, t1, sa, sb, i0, mi, k, a, b, j, 1, sj);                       \
                        if (t1 == nb) fold(sj, nb, sa, sb, i0, mi, n, k, a, b, j, nr, c);          \
                        if (s && t1 < nb)                                                          \
                            nts_prefetch(t1, t1 + group < nb ? t1 + group : nb, sa, sb, i0, mi, k, \
                                         a, b, j, nr, blk, blocks);                                \
                        j += nr;                                                                   \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* images [t0, t1) of one tile (mr rows of A from i, nr rows of B from j),
 * 8 lanes along k up to kv, onto its lane sums in s ([mr][4] vectors) */
AVX2 TILE void nts_part8(long t0, long t1, long sa, long sb, long k, long kv, const float *a,
                         const float *b, long i, long j, int mr, int nr, float *s)
{
    __m256 acc[3][4];
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm256_loadu_ps(s + (r * 4 + q) * 8);
    for (long t = t0; t < t1; t++)
        for (long p = 0; p < kv; p += 8) {
            __m256 av[3];
            for (int r = 0; r < mr; r++) av[r] = _mm256_loadu_ps(a + t * sa + (i + r) * k + p);
            for (int q = 0; q < nr; q++) {
                __m256 bv = _mm256_loadu_ps(b + t * sb + (j + q) * k + p);
                for (int r = 0; r < mr; r++) acc[r][q] = _mm256_fmadd_ps(av[r], bv, acc[r][q]);
            }
        }
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < 4; q++) _mm256_storeu_ps(s + (r * 4 + q) * 8, acc[r][q]);
}

/* images [t0, t1) for rows [m0, m0 + mi) of A and nr rows of B from j,
 * a group at a time, onto their lane sums s ([mi][4] vectors) */
AVX2 TILE void nts_block8(long t0, long t1, long sa, long sb, long m0, long mi, long k,
                          const float *a, const float *b, long j, int nr, float *s)
{
    const long kv = k - k % 8, group = nts_group(k);
    for (long t = t0; t < t1; t += group) {
        const long t2 = t + group < t1 ? t + group : t1;
        long i = 0;
        for (; i + 3 <= mi; i += 3)
            nts_part8(t, t2, sa, sb, k, kv, a, b, m0 + i, j, 3, nr, s + i * 32);
        if (mi - i == 2) nts_part8(t, t2, sa, sb, k, kv, a, b, m0 + i, j, 2, nr, s + i * 32);
        if (mi - i == 1) nts_part8(t, t2, sa, sb, k, kv, a, b, m0 + i, j, 1, nr, s + i * 32);
    }
}

/* the lane sums s added up (as nt_tile8), then each image's k % 8 tail in
 * order, onto C */
AVX2 TILE void nts_fold8(const float *s, long nb, long sa, long sb, long m0, long mi, long n,
                         long k, const float *a, const float *b, long j, int nr, float *c)
{
    const long kv = k - k % 8;
    for (long r = 0; r < mi; r++) {
        const float *v = s + r * 32;
        float out[4];
        _mm_storeu_ps(out, sum4(_mm256_load_ps(v), _mm256_load_ps(v + 8), _mm256_load_ps(v + 16),
                                _mm256_load_ps(v + 24)));
        for (int q = 0; q < nr; q++) {
            for (long t = 0; kv < k && t < nb; t++)
                nt_tail(k, a + t * sa + (m0 + r) * k, b + t * sb + (j + q) * k, out + q, kv);
            c[(m0 + r) * n + j + q] += out[q];
        }
    }
}

AVX2 static void nts_avx2(long nb, long sa, long sb, long m, long n, long k, const float *a,
                          const float *b, float *c)
{
    NTS_DRIVE(nts_block8, nts_fold8, 8);
}

/* ---- AVX-512 ---- */

/* as nts_part8: 16 lanes, the k % 16 tail in masked (zero-filled) loads */
AVX512 TILE void nts_part16(long t0, long t1, long sa, long sb, long k, const float *a,
                            const float *b, long i, long j, int mr, int nr, float *s)
{
    __m512 acc[6][4];
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm512_loadu_ps(s + (r * 4 + q) * 16);
    for (long t = t0; t < t1; t++) {
        const float *at = a + t * sa + i * k, *bt = b + t * sb + j * k;
        for (long p = 0; p < k; p += 16) {
            const __mmask16 lanes =
                k - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - p)) - 1);
            __m512 av[6];
            for (int r = 0; r < mr; r++) av[r] = _mm512_maskz_loadu_ps(lanes, at + r * k + p);
            for (int q = 0; q < nr; q++) {
                __m512 bv = _mm512_maskz_loadu_ps(lanes, bt + q * k + p);
                for (int r = 0; r < mr; r++) acc[r][q] = _mm512_fmadd_ps(av[r], bv, acc[r][q]);
            }
        }
    }
    for (int r = 0; r < mr; r++)
        for (int q = 0; q < 4; q++) _mm512_storeu_ps(s + (r * 4 + q) * 16, acc[r][q]);
}

/* one group of images [t, t1) for every tile of the block */
AVX512 TILE void nts_group16(long t, long t1, long sa, long sb, long mi, long k, const float *a,
                             const float *b, long m0, long j, int nr, float *s)
{
    long i = 0;
    for (; i + 6 <= mi; i += 6) nts_part16(t, t1, sa, sb, k, a, b, m0 + i, j, 6, nr, s + i * 64);
    if (mi - i >= 4) nts_part16(t, t1, sa, sb, k, a, b, m0 + i, j, 4, nr, s + i * 64), i += 4;
    if (mi - i >= 2) nts_part16(t, t1, sa, sb, k, a, b, m0 + i, j, 2, nr, s + i * 64), i += 2;
    if (mi - i >= 1) nts_part16(t, t1, sa, sb, k, a, b, m0 + i, j, 1, nr, s + i * 64);
}

/* images [t0, t1) for rows [m0, m0 + mi) of A and nr rows of B from j,
 * onto their lane sums s ([mi][4] vectors) */
AVX512 TILE void nts_block16(long t0, long t1, long sa, long sb, long m0, long mi, long k,
                             const float *a, const float *b, long j, int nr, float *s)
{
    const long group = nts_group(k);
    for (long t = t0; t < t1; t += group) {
        const long t2 = t + group < t1 ? t + group : t1;
        if (k == 64)
            nts_group16(t, t2, sa, sb, mi, 64, a, b, m0, j, nr, s);
        else
            nts_group16(t, t2, sa, sb, mi, k, a, b, m0, j, nr, s);
    }
}

/* the lane sums s of rows [m0, m0 + mi) by nr columns from j, folded and
 * added up as nt_tile16's, onto C (masked loads left no tail) */
AVX512 TILE void nts_fold16(const float *s, long nb, long sa, long sb, long m0, long mi, long n,
                            long k, const float *a, const float *b, long j, int nr, float *c)
{
    (void)nb, (void)sa, (void)sb, (void)k, (void)a, (void)b;
    for (long r = 0; r < mi; r++) {
        const float *v = s + r * 64;
        float out[4];
        _mm_storeu_ps(out, sum4(fold16(_mm512_load_ps(v)), fold16(_mm512_load_ps(v + 16)),
                                fold16(_mm512_load_ps(v + 32)), fold16(_mm512_load_ps(v + 48))));
        for (int q = 0; q < nr; q++) c[(m0 + r) * n + j + q] += out[q];
    }
}

AVX512 static void nts_avx512(long nb, long sa, long sb, long m, long n, long k, const float *a,
                              const float *b, float *c)
{
    NTS_DRIVE(nts_block16, nts_fold16, 16);
}

#endif /* GEMM_X86 */

int rt_sgemm_nt_sum(long nb, long sa, long sb, long m, long n, long k, const float *a,
                    const float *b, float *c)
{
#ifdef GEMM_X86
    const int lanes = rt_gemm_lanes();
    if (lanes == 16) nts_avx512(nb, sa, sb, m, n, k, a, b, c);
    if (lanes == 8) nts_avx2(nb, sa, sb, m, n, k, a, b, c);
    if (lanes) return 0;
#else
    (void)nb, (void)sa, (void)sb, (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
#endif
    return -1;
}
