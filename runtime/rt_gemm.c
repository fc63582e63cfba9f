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
 * (tests/unit/test_gemm.c). rt_sgemm_nt_sum adds to C the sum over
 * images of A_t · B_tᵀ (a convolution's weight gradient over the batch):
 * each element's lanes run through every image before they are added up
 * (one reduction per element, not one per image). */
#include "rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(RT_PORTABLE) &&    \
    !defined(TRAINC_DOUBLE)
#define GEMM_X86 1
#include <immintrin.h>
#endif

#ifdef GEMM_X86
#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define TILE static inline __attribute__((always_inline))

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

/* ---- nt, AVX2: tiles of 3 rows of A x 4 rows of B, 8 lanes along k ---- */

/* the 8-lane sums of four accumulators, as four floats: lanes added
 * pairwise (hadd twice), then the two halves */
AVX2 TILE __m128 sum4(__m256 s0, __m256 s1, __m256 s2, __m256 s3)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* the k % 8 tail, in order, onto the lane sums */
static inline void nt_tail(long k, const float *a, const float *b, float *c, long kv)
{
    float s = *c;
    for (long p = kv; p < k; p++) s += a[p] * b[p];
    *c = s;
}

/* One tile: rows i.. of A (mr) against rows j.. of B (nr), along k; with
 * images (sum: nb of them, A and B each stepping by sa and sb floats), the
 * lanes run on through every image's k before they are added up, and the
 * sums are added to C */
AVX2 TILE void nt_tile8(int sum, long nb, long sa, long sb, long n, long k, const float *a,
                        const float *b, float *c, long i, long j, int mr, int nr)
{
    __m256 acc[3][4];
    for (int r = 0; r < 3; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm256_setzero_ps();
    const long kv = k - k % 8;
    for (long t = 0; t < nb; t++)
        for (long p = 0; p < kv; p += 8) {
            __m256 av[3];
            for (int r = 0; r < mr; r++) av[r] = _mm256_loadu_ps(a + t * sa + (i + r) * k + p);
            for (int q = 0; q < nr; q++) {
                __m256 bv = _mm256_loadu_ps(b + t * sb + (j + q) * k + p);
                for (int r = 0; r < mr; r++) acc[r][q] = _mm256_fmadd_ps(av[r], bv, acc[r][q]);
            }
        }
    for (int r = 0; r < mr; r++) {
        float out[4];
        _mm_storeu_ps(out, sum4(acc[r][0], acc[r][1], acc[r][2], acc[r][3]));
        for (int q = 0; q < nr; q++) {
            float s = out[q];
            for (long t = 0; kv < k && t < nb; t++)
                nt_tail(k, a + t * sa + (i + r) * k, b + t * sb + (j + q) * k, &s, kv);
            float *cq = c + (i + r) * n + j + q;
            *cq = sum ? *cq + s : s;
        }
    }
}

AVX2 TILE void nt_rows8(long n, long k, const float *a, const float *b, float *c, long i, int mr)
{
    long j = 0;
    for (; j + 4 <= n; j += 4) nt_tile8(0, 1, 0, 0, n, k, a, b, c, i, j, mr, 4);
    if (n - j >= 2) nt_tile8(0, 1, 0, 0, n, k, a, b, c, i, j, mr, 2), j += 2;
    if (n - j >= 1) nt_tile8(0, 1, 0, 0, n, k, a, b, c, i, j, mr, 1);
}

AVX2 static void nt_avx2(long m, long n, long k, const float *a, const float *b, float *c)
{
    long i = 0;
    for (; i + 3 <= m; i += 3) nt_rows8(n, k, a, b, c, i, 3);
    if (m - i == 2) nt_rows8(n, k, a, b, c, i, 2);
    if (m - i == 1) nt_rows8(n, k, a, b, c, i, 1);
}

/* the sum over images: every row tile of A against nr rows of B (from j),
 * so that those rows of every image stay in L1 while A's tiles pass */
AVX2 TILE void nts_cols8(long nb, long sa, long sb, long m, long n, long k, const float *a,
                         const float *b, float *c, long j, int nr)
{
    long i = 0;
    for (; i + 3 <= m; i += 3) nt_tile8(1, nb, sa, sb, n, k, a, b, c, i, j, 3, nr);
    if (m - i == 2) nt_tile8(1, nb, sa, sb, n, k, a, b, c, i, j, 2, nr);
    if (m - i == 1) nt_tile8(1, nb, sa, sb, n, k, a, b, c, i, j, 1, nr);
}

AVX2 static void nts_avx2(long nb, long sa, long sb, long m, long n, long k, const float *a,
                          const float *b, float *c)
{
    long j = 0;
    for (; j + 4 <= n; j += 4) nts_cols8(nb, sa, sb, m, n, k, a, b, c, j, 4);
    if (n - j >= 2) nts_cols8(nb, sa, sb, m, n, k, a, b, c, j, 2), j += 2;
    if (n - j >= 1) nts_cols8(nb, sa, sb, m, n, k, a, b, c, j, 1);
}

/* ---- nt, AVX-512: tiles of 6 rows of A x 4 rows of B, 16 lanes along k,
 * the k % 16 tail in masked (zero-filled) loads ---- */

AVX512 TILE __m256 fold16(__m512 v)
{
    return _mm256_add_ps(_mm512_castps512_ps256(v),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

AVX512 TILE void nt_tile16(int sum, long nb, long sa, long sb, long n, long k, const float *a,
                           const float *b, float *c, long i, long j, int mr, int nr)
{
    __m512 acc[6][4];
    for (int r = 0; r < 6; r++)
        for (int q = 0; q < 4; q++) acc[r][q] = _mm512_setzero_ps();
    for (long t = 0; t < nb; t++)
        for (long p = 0; p < k; p += 16) {
            const __mmask16 lanes =
                k - p >= 16 ? (__mmask16)0xffff : (__mmask16)((1u << (k - p)) - 1);
            __m512 av[6];
            for (int r = 0; r < mr; r++)
                av[r] = _mm512_maskz_loadu_ps(lanes, a + t * sa + (i + r) * k + p);
            for (int q = 0; q < nr; q++) {
                __m512 bv = _mm512_maskz_loadu_ps(lanes, b + t * sb + (j + q) * k + p);
                for (int r = 0; r < mr; r++) acc[r][q] = _mm512_fmadd_ps(av[r], bv, acc[r][q]);
            }
        }
    for (int r = 0; r < mr; r++) {
        float out[4];
        _mm_storeu_ps(
            out, sum4(fold16(acc[r][0]), fold16(acc[r][1]), fold16(acc[r][2]), fold16(acc[r][3])));
        for (int q = 0; q < nr; q++) {
            float *cq = c + (i + r) * n + j + q;
            *cq = sum ? *cq + out[q] : out[q];
        }
    }
}

AVX512 TILE void nt_rows16(long n, long k, const float *a, const float *b, float *c, long i, int mr)
{
    long j = 0;
    for (; j + 4 <= n; j += 4) nt_tile16(0, 1, 0, 0, n, k, a, b, c, i, j, mr, 4);
    if (n - j >= 2) nt_tile16(0, 1, 0, 0, n, k, a, b, c, i, j, mr, 2), j += 2;
    if (n - j >= 1) nt_tile16(0, 1, 0, 0, n, k, a, b, c, i, j, mr, 1);
}

AVX512 static void nt_avx512(long m, long n, long k, const float *a, const float *b, float *c)
{
    long i = 0;
    for (; i + 6 <= m; i += 6) nt_rows16(n, k, a, b, c, i, 6);
    if (m - i >= 4) nt_rows16(n, k, a, b, c, i, 4), i += 4;
    if (m - i >= 2) nt_rows16(n, k, a, b, c, i, 2), i += 2;
    if (m - i >= 1) nt_rows16(n, k, a, b, c, i, 1);
}

AVX512 TILE void nts_cols16(long nb, long sa, long sb, long m, long n, long k, const float *a,
                            const float *b, float *c, long j, int nr)
{
    long i = 0;
    for (; i + 6 <= m; i += 6) nt_tile16(1, nb, sa, sb, n, k, a, b, c, i, j, 6, nr);
    if (m - i >= 4) nt_tile16(1, nb, sa, sb, n, k, a, b, c, i, j, 4, nr), i += 4;
    if (m - i >= 2) nt_tile16(1, nb, sa, sb, n, k, a, b, c, i, j, 2, nr), i += 2;
    if (m - i >= 1) nt_tile16(1, nb, sa, sb, n, k, a, b, c, i, j, 1, nr);
}

AVX512 static void nts_avx512(long nb, long sa, long sb, long m, long n, long k, const float *a,
                              const float *b, float *c)
{
    long j = 0;
    for (; j + 4 <= n; j += 4) nts_cols16(nb, sa, sb, m, n, k, a, b, c, j, 4);
    if (n - j >= 2) nts_cols16(nb, sa, sb, m, n, k, a, b, c, j, 2), j += 2;
    if (n - j >= 1) nts_cols16(nb, sa, sb, m, n, k, a, b, c, j, 1);
}

/* ---- dispatch ---- */

typedef struct gemm_ops {
    void (*xn)(int, long, long, long, const float *, const float *, float *);
    void (*nt)(long, long, long, const float *, const float *, float *);
    void (*nts)(long, long, long, long, long, long, const float *, const float *, float *);
} gemm_ops;

static const gemm_ops ops_avx2 = {xn_avx2, nt_avx2, nts_avx2};
static const gemm_ops ops_avx512 = {xn_avx512, nt_avx512, nts_avx512};

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
#ifdef GEMM_X86
    const gemm_ops *o = gemm();
    if (o) {
        o->nt(m, n, k, a, b, c);
        return 0;
    }
#else
    (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
#endif
    return -1;
}

int rt_sgemm_nt_sum(long nb, long sa, long sb, long m, long n, long k, const float *a,
                    const float *b, float *c)
{
#ifdef GEMM_X86
    const gemm_ops *o = gemm();
    if (o) {
        o->nts(nb, sa, sb, m, n, k, a, b, c);
        return 0;
    }
#else
    (void)nb, (void)sa, (void)sb, (void)m, (void)n, (void)k, (void)a, (void)b, (void)c;
#endif
    return -1;
}
