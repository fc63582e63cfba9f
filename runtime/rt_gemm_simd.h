/* rt_gemm_simd.h — what rt_gemm.c's products and rt_gemm_sum.c's sums
 * over images share: whether the x86 kernels are built (GEMM_X86), the
 * target attributes of their AVX2 and AVX-512 forms, and the lane folds
 * both end with (the same folds, so the same bits as one product over the
 * images laid end to end). Included by those two files only. */
#ifndef RT_GEMM_SIMD_H
#define RT_GEMM_SIMD_H

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__)) && !defined(RT_PORTABLE) &&    \
    !defined(TRAINC_DOUBLE)
#define GEMM_X86 1
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,fma")))
#define AVX512 __attribute__((target("avx512f,avx512vl,avx2,fma")))
#define TILE static inline __attribute__((always_inline))

/* The kernels rt_gemm.c chose for this CPU (TRAINC_GEMM), as lanes: 16
 * (AVX-512), 8 (AVX2 + FMA) or 0 (none: the callers' fallbacks) */
int rt_gemm_lanes(void);

/* the 8-lane sums of four accumulators, as four floats: lanes added
 * pairwise (hadd twice), then the two halves */
AVX2 TILE __m128 sum4(__m256 s0, __m256 s1, __m256 s2, __m256 s3)
{
    __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(s0, s1), _mm256_hadd_ps(s2, s3));
    return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

/* 16 lanes folded to 8: the upper half onto the lower */
AVX512 TILE __m256 fold16(__m512 v)
{
    return _mm256_add_ps(_mm512_castps512_ps256(v),
                         _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
}

/* the k % 8 tail, in order, onto the lane sums */
static inline void nt_tail(long k, const float *a, const float *b, float *c, long kv)
{
    float s = *c;
    for (long p = kv; p < k; p++) s += a[p] * b[p];
    *c = s;
}
#endif

#endif
