/* rt_act.c — tanh over an array (in place allowed), as the generated code
 * applies it to the stored output of a small product: 16 floats at a time
 * with AVX-512 or 8 with AVX2, else rt_act.h's scalar function; the
 * sigmoid's array form (4 in double with AVX2 and FMA) is inline in rt.h,
 * and this file sets its rt_act_vector. Every path does the same IEEE
 * operations in the same order (fma where the scalar form has it), so the
 * bits do not depend on the machine. double: libm. Also tanh's table. */
#include "rt.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int rt_act_vector;

/* made by tests/act_table.py: 26 bins, then zeros to 32 */
/* clang-format off */
_Alignas(64) const float rt_tanh_table[7][32] = {
    /* c (the bin's centre), bins 0 to 31 */
    {0x0p+0f,         0x1.206666p-3f,  0x1.6006ap-3f,   0x1.a09126p-3f,
     0x1.dfb56ap-3f,  0x1.201c7cp-2f,  0x1.602b4ap-2f,  0x1.9fc46p-2f,
     0x1.df82fep-2f,  0x1.1f9f5p-1f,   0x1.5ffc7cp-1f,  0x1.a01cfcp-1f,
     0x1.df8be6p-1f,  0x1.20155cp+0f,  0x1.5fef1ep+0f,  0x1.a037e8p+0f,
     0x1.e094a4p+0f,  0x1.202ec8p+1f,  0x1.5f7744p+1f,  0x1.a05aeap+1f,
     0x1.e0246ep+1f,  0x1.20347ap+2f,  0x1.5fe8bep+2f,  0x1.9fef28p+2f,
     0x1.e09c4p+2f,   0x1.1763cp+3f,   0.0f,            0.0f,
     0.0f,            0.0f,            0.0f,            0.0f},
    /* c0 = tanh(c), bins 0 to 31 */
    {0x0p+0f,         0x1.1e8236p-3f,  0x1.5c9976p-3f,  0x1.9aea6cp-3f,
     0x1.d71fbap-3f,  0x1.18bdf2p-2f,  0x1.52e952p-2f,  0x1.8a551ap-2f,
     0x1.bf4948p-2f,  0x1.04c0dap-1f,  0x1.31559cp-1f,  0x1.5798eep-1f,
     0x1.77a2a6p-1f,  0x1.9e6b72p-1f,  0x1.c27104p-1f,  0x1.d9d70ap-1f,
     0x1.e89342p-1f,  0x1.f4c7f6p-1f,  0x1.fbcc22p-1f,  0x1.fe78a6p-1f,
     0x1.ff6f6ap-1f,  0x1.ffdfdcp-1f,  0x1.fffb9cp-1f,  0x1.ffff68p-1f,
     0x1.ffffecp-1f,  0x1.fffffep-1f,  0.0f,            0.0f,
     0.0f,            0.0f,            0.0f,            0.0f},
    /* c1, bins 0 to 31 */
    {0x1p+0f,         0x1.f5fac6p-1f,  0x1.f12a74p-1f,  0x1.eb6362p-1f,
     0x1.e4e7d2p-1f,  0x1.d983fep-1f,  0x1.c7ea62p-1f,  0x1.b412bep-1f,
     0x1.9e4fep-1f,   0x1.7b33dap-1f,  0x1.49e972p-1f,  0x1.196a6cp-1f,
     0x1.d8d216p-2f,  0x1.61204ep-2f,  0x1.cedcf8p-3f,  0x1.25e75p-3f,
     0x1.6e38fep-4f,  0x1.63125ap-5f,  0x1.0bdcep-6f,   0x1.86c486p-8f,
     0x1.210336p-9f,  0x1.011a2cp-11f, 0x1.190002p-14f, 0x1.300142p-17f,
     0x1.42877p-20f,  0x1.c68082p-24f, 0.0f,            0.0f,
     0.0f,            0.0f,            0.0f,            0.0f},
    /* c2, bins 0 to 31 */
    {0x0p+0f,         -0x1.18e6cp-3f,  -0x1.527fdep-3f, -0x1.8a5f9p-3f,
     -0x1.be314ep-3f, -0x1.03a3d8p-2f, -0x1.2dc97cp-2f, -0x1.4fdae6p-2f,
     -0x1.69f208p-2f, -0x1.823e42p-2f, -0x1.897d7p-2f,  -0x1.79b5b6p-2f,
     -0x1.5ae41ap-2f, -0x1.1dd3bep-2f, -0x1.9736fep-3f, -0x1.0fffdep-3f,
     -0x1.5d77bap-4f, -0x1.5b47fep-5f, -0x1.09a624p-6f, -0x1.8592d2p-8f,
     -0x1.20ac18p-9f, -0x1.00b63ap-11f, -0x1.18a2c8p-14f, -0x1.2f9e6ep-17f,
     -0x1.53fe48p-20f, -0x1.aff8f2p-25f, 0.0f,            0.0f,
     0.0f,            0.0f,            0.0f,            0.0f},
    /* c3, bins 0 to 31 */
    {-0x1.5553e4p-2f, -0x1.3b0132p-2f, -0x1.2ea298p-2f, -0x1.20073p-2f,
     -0x1.0ff2f6p-2f, -0x1.e8fcdcp-3f, -0x1.981fc6p-3f, -0x1.42c31p-3f,
     -0x1.d86fb4p-4f, -0x1.c0c19cp-5f, 0x1.d6fdb6p-7f,  0x1.0776f4p-4f,
     0x1.839328p-4f,  0x1.c6946ap-4f,  0x1.97ef6ep-4f,  0x1.338574p-4f,
     0x1.a6d002p-5f,  0x1.baa534p-6f,  0x1.5c696ap-7f,  0x1.0225e4p-8f,
     0x1.800a1ap-10f, 0x1.560bd4p-12f, 0x1.7649ccp-15f, 0x1.94f1f8p-18f,
     0x1.a1c672p-21f, 0x1.dbaf54p-25f, 0.0f,            0.0f,
     0.0f,            0.0f,            0.0f,            0.0f},
    /* c4, bins 0 to 31 */
    {0x0p+0f,         0x1.6b9778p-4f,  0x1.afa39ep-4f,  0x1.ede9b4p-4f,
     0x1.11caecp-3f,  0x1.32f45p-3f,   0x1.5011c8p-3f,  0x1.5c034p-3f,
     0x1.585216p-3f,  0x1.3a364ap-3f,  0x1.e948dap-4f,  0x1.46f734p-4f,
     0x1.651a0ap-5f,  0x1.da699ap-9f,  -0x1.59b3ap-6f,  -0x1.9b9802p-6f,
     -0x1.54bff4p-6f, -0x1.94edccp-7f, -0x1.53fa6ap-8f, -0x1.01db52p-9f,
     -0x1.82bdap-11f, -0x1.66667p-13f, -0x1.88621ap-16f, -0x1.a89be6p-19f,
     -0x1.b070acp-23f, -0x1.efdf72p-24f, 0.0f,            0.0f,
     0.0f,            0.0f,            0.0f,            0.0f},
    /* c5, bins 0 to 31 */
    {0x1.0eb2acp-3f,  0x1.cd5d24p-4f,  0x1.a2991ap-4f,  0x1.7357b6p-4f,
     0x1.42a678p-4f,  0x1.e5336cp-5f,  0x1.0707cep-5f,  0x1.8a4174p-8f,
     -0x1.1867fp-6f,  -0x1.632ce6p-5f, -0x1.f814a8p-5f, -0x1.00c496p-4f,
     -0x1.b2c86ep-5f, -0x1.07382ap-5f, -0x1.38ae14p-7f, 0x1.6aed48p-10f,
     0x1.2d64fap-8f,  0x1.04c942p-8f,  0x1.f578p-10f,   0x1.94588ap-11f,
     0x1.32fbc6p-12f, 0x1.1ecc74p-14f, 0x1.373beep-17f, 0x1.512fa4p-20f,
     0x1.0eeb4cp-22f, 0x1.5700c4p-25f, 0.0f,            0.0f,
     0.0f,            0.0f,            0.0f,            0.0f},
};
/* clang-format on */

#ifdef RT_ACT_VECTOR
#define RT_AVX2_ONLY __attribute__((target("avx2")))

#define RT_AVX512_ONLY __attribute__((target("avx512f,avx2")))

/* rt_tanhf on 16 lanes: a row's 26 entries fill two registers, which one
 * permute indexes by the lanes' bins */
RT_AVX512_ONLY static __m512 tanh16(__m512 x)
{
    const __m512i sign = _mm512_set1_epi32(INT32_MIN);
    const __m512 a = _mm512_castsi512_ps(_mm512_andnot_si512(sign, _mm512_castps_si512(x)));
    const __m512 ac = _mm512_min_ps(_mm512_set1_ps(9.5f), a); /* 9.5 < a ? 9.5 : a */
    const __m512i bin = _mm512_max_epi32(
        _mm512_sub_epi32(_mm512_srli_epi32(_mm512_castps_si512(ac), 21), _mm512_set1_epi32(495)),
        _mm512_setzero_si512());
#define ROW(k)                                                                                     \
    _mm512_permutex2var_ps(_mm512_load_ps(rt_tanh_table[k]), bin,                                  \
                           _mm512_load_ps(rt_tanh_table[k] + 16))
    const __m512 d = _mm512_sub_ps(ac, ROW(0)), d2 = _mm512_mul_ps(d, d);
    const __m512 r =
        _mm512_add_ps(_mm512_add_ps(ROW(3), _mm512_mul_ps(ROW(4), d)),
                      _mm512_mul_ps(d2, _mm512_add_ps(ROW(5), _mm512_mul_ps(ROW(6), d))));
    const __m512 t =
        _mm512_add_ps(ROW(1), _mm512_add_ps(_mm512_mul_ps(ROW(2), d), _mm512_mul_ps(d2, r)));
#undef ROW
    return _mm512_castsi512_ps(
        _mm512_or_si512(_mm512_and_si512(sign, _mm512_castps_si512(x)), _mm512_castps_si512(t)));
}

/* row k of the table at 8 lanes' bins: a permute in each quarter of 8
 * entries, then the bin's bit 3 and bit 4 (moved to the sign) pick one */
RT_AVX2_ONLY static __m256 row8(int k, __m256i bin, __m256 bit3, __m256 bit4)
{
    const float *const row = rt_tanh_table[k];
    const __m256 q0 = _mm256_permutevar8x32_ps(_mm256_load_ps(row), bin);
    const __m256 q1 = _mm256_permutevar8x32_ps(_mm256_load_ps(row + 8), bin);
    const __m256 q2 = _mm256_permutevar8x32_ps(_mm256_load_ps(row + 16), bin);
    const __m256 q3 = _mm256_permutevar8x32_ps(_mm256_load_ps(row + 24), bin);
    return _mm256_blendv_ps(_mm256_blendv_ps(q0, q1, bit3), _mm256_blendv_ps(q2, q3, bit3), bit4);
}

/* rt_tanhf on 8 lanes */
RT_AVX2_ONLY static __m256 tanh8(__m256 x)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 ac = _mm256_min_ps(_mm256_set1_ps(9.5f), _mm256_andnot_ps(sign, x));
    const __m256i bin = _mm256_max_epi32(
        _mm256_sub_epi32(_mm256_srli_epi32(_mm256_castps_si256(ac), 21), _mm256_set1_epi32(495)),
        _mm256_setzero_si256());
    const __m256 bit3 = _mm256_castsi256_ps(_mm256_slli_epi32(bin, 28));
    const __m256 bit4 = _mm256_castsi256_ps(_mm256_slli_epi32(bin, 27));
#define ROW(k) row8(k, bin, bit3, bit4)
    const __m256 d = _mm256_sub_ps(ac, ROW(0)), d2 = _mm256_mul_ps(d, d);
    const __m256 r =
        _mm256_add_ps(_mm256_add_ps(ROW(3), _mm256_mul_ps(ROW(4), d)),
                      _mm256_mul_ps(d2, _mm256_add_ps(ROW(5), _mm256_mul_ps(ROW(6), d))));
    const __m256 t =
        _mm256_add_ps(ROW(1), _mm256_add_ps(_mm256_mul_ps(ROW(2), d), _mm256_mul_ps(d2, r)));
#undef ROW
    return _mm256_or_ps(_mm256_and_ps(sign, x), t);
}

RT_AVX2_ONLY static void tanh_avx2(real *y, const real *x, long n)
{
    long i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(y + i, tanh8(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) y[i] = rt_tanhf(x[i]);
}

/* 16 lanes a vector, the tail masked. A vector is loaded as two halves:
 * the generated code stores a small product's output 8 floats at a time,
 * and a load that spans two stores waits for them to reach the cache
 * (~4 ns), where one within a store takes its data on the way */
RT_AVX512_ONLY static void tanh_avx512(real *y, const real *x, long n)
{
    long i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512d lo = _mm512_castpd256_pd512(_mm256_castps_pd(_mm256_loadu_ps(x + i)));
        const __m256d hi = _mm256_castps_pd(_mm256_loadu_ps(x + i + 8));
        _mm512_storeu_ps(y + i, tanh16(_mm512_castpd_ps(_mm512_insertf64x4(lo, hi, 1))));
    }
    if (i < n) {
        const __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(y + i, m, tanh16(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* 2 with AVX-512, 1 with AVX2 and FMA, else 0 (TRAINC_ACT=avx2 or off caps it, to
 * compare: tests/unit/test_act.c); chosen on first use, and threads racing
 * here make the same choice */
static int simd_level(void)
{
    static int level = -1;
    int l = __atomic_load_n(&level, __ATOMIC_RELAXED);
    if (l < 0) {
        const char *want = getenv("TRAINC_ACT");
        l = !__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma") ? 0
            : __builtin_cpu_supports("avx512f")                               ? 2
                                                                              : 1;
        if (want && !strcmp(want, "off")) l = 0;
        if (want && !strcmp(want, "avx2") && l > 1) l = 1;
        __atomic_store_n(&level, l, __ATOMIC_RELAXED);
    }
    return l;
}

int rt_tiny_step;

/* rt.h's inline rt_sigmoid_n and the tiny nets' steps read them: chosen
 * before main */
__attribute__((constructor)) static void choose_vector(void)
{
    const char *generic = getenv("TRAINC_GENERIC_STEP");
    rt_act_vector = simd_level() > 0;
    rt_tiny_step = rt_act_vector && !(generic && *generic && strcmp(generic, "0"));
}
#endif

void rt_tanh_n(real *y, const real *x, long n)
{
#ifdef RT_ACT_VECTOR
    const int level = simd_level();
    if (level) {
        (level == 2 ? tanh_avx512 : tanh_avx2)(y, x, n);
        return;
    }
#endif
    for (long i = 0; i < n; i++) y[i] = rt_tanh(x[i]);
}
