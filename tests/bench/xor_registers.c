/* tests/bench/xor_registers.c — models/xor.lua's training step written by
 * hand with every tensor in AVX2 registers: the floor against which
 * gen/emit_tiny.c's generated step in registers (train_4_tiny) is
 * measured. xor_registers.sh includes it into a copy of the generated
 * model.c, in place of train_4, and checks that it, train_4 and
 * train_4_tiny train to the same bits.
 *
 * Each block does the generic block's operations in its order (no fma:
 * -std=c11 contracts nothing), so the results are the same bits; what
 * differs is where the values live. The generic step keeps its tensors in
 * the arena and lets gcc vectorise each block alone (~470 instructions a
 * step); this one keeps a row's 8 hidden units in one register from linear1
 * to the weight gradients, sums linear2's rows 4 at a time after a
 * transpose, and has no timers (~250), as train_4_tiny does.
 *
 * Layout (model.c): linear1.weight [8 x 2] at 0, linear1.bias [8] at 16,
 * linear2.weight [1 x 8] at 24, linear2.bias at 32. */
#include <immintrin.h>

__attribute__((target("avx2,fma"))) static real
xor_registers_step(real *restrict param, real *restrict grad, const real *restrict x,
                   const real *restrict y, real *restrict out, real *restrict arena)
{
    /* linear1 + tanh: row r's 8 pre-activations, (x0 w[:,0] + x1 w[:,1]) + b */
    const __m256 w0 = _mm256_setr_ps(param[0], param[2], param[4], param[6], param[8], param[10],
                                     param[12], param[14]);
    const __m256 w1 = _mm256_setr_ps(param[1], param[3], param[5], param[7], param[9], param[11],
                                     param[13], param[15]);
    const __m256 b1 = _mm256_loadu_ps(param + 16), w2 = _mm256_loadu_ps(param + 24);
    __m256 t[4];
    for (int r = 0; r < 4; r++)
        t[r] = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_set1_ps(x[2 * r]), w0),
                                           _mm256_mul_ps(_mm256_set1_ps(x[2 * r + 1]), w1)),
                             b1);
    for (int r = 0; r < 4; r++) _mm256_storeu_ps(arena + 8 * r, t[r]);
    rt_tanh_n(arena, arena, 32); /* the generated step's call */
    for (int r = 0; r < 4; r++) t[r] = _mm256_loadu_ps(arena + 8 * r);

    /* linear2 + sigmoid: the 4 rows' sums in the lanes of one register,
     * terms in order (t[r][0] w[0] + t[r][1] w[1]) + ...: a 4 x 8 transpose
     * makes column j of the rows one vector */
    const __m256 u0 = _mm256_unpacklo_ps(t[0], t[1]), u1 = _mm256_unpackhi_ps(t[0], t[1]);
    const __m256 u2 = _mm256_unpacklo_ps(t[2], t[3]), u3 = _mm256_unpackhi_ps(t[2], t[3]);
    const __m256 c0 = _mm256_shuffle_ps(u0, u2, 0x44), c1 = _mm256_shuffle_ps(u0, u2, 0xee);
    const __m256 c2 = _mm256_shuffle_ps(u1, u3, 0x44), c3 = _mm256_shuffle_ps(u1, u3, 0xee);
    const __m128 col[8] = {_mm256_castps256_ps128(c0),   _mm256_castps256_ps128(c1),
                           _mm256_castps256_ps128(c2),   _mm256_castps256_ps128(c3),
                           _mm256_extractf128_ps(c0, 1), _mm256_extractf128_ps(c1, 1),
                           _mm256_extractf128_ps(c2, 1), _mm256_extractf128_ps(c3, 1)};
    __m128 z = _mm_mul_ps(col[0], _mm_set1_ps(param[24]));
    for (int j = 1; j < 8; j++) z = _mm_add_ps(z, _mm_mul_ps(col[j], _mm_set1_ps(param[24 + j])));
    const __m128 p = rt_sigmoid4(_mm_add_ps(z, _mm_set1_ps(param[32])));
    _mm_storeu_ps(out, p);

    /* bce, as the generated loss block */
    float pv[4];
    _mm_storeu_ps(pv, p);
    double total = 0;
    for (long i = 0; i < 4; i++) {
        const real xi = pv[i], yi = y[i];
        total += yi == 1   ? -rt_fmax_const_d(logf(xi), -100)
                 : yi == 0 ? -rt_fmax_const_d(logf(1 - xi), -100)
                           : -(yi * rt_fmax_const_d(logf(xi), -100) +
                               (1 - yi) * rt_fmax_const_d(logf(1 - xi), -100));
    }

    /* bce_backward, sigmoid_backward: dz = (1/4 (p - y) / max((1 - p) p,
     * 1e-12)) (1 - p) p */
    const __m128 one = _mm_set1_ps(1.0f), q = _mm_sub_ps(one, p);
    const __m128 ds = _mm_mul_ps(_mm_set1_ps(1.0f / 4),
                                 _mm_div_ps(_mm_sub_ps(p, _mm_loadu_ps(y)),
                                            _mm_max_ps(_mm_mul_ps(q, p), _mm_set1_ps(1e-12f))));
    float dz[4];
    _mm_storeu_ps(dz, _mm_mul_ps(_mm_mul_ps(ds, q), p));

    /* linear2.bias: the sum in double, in the generated lanes' order */
    double s = 0;
    for (int i = 0; i < 4; i++) s += dz[i];
    grad[32] = (real)(((s + 0) + (0 + 0)) + ((0 + 0) + (0 + 0)));

    /* linear2.weight = dz^T tanh1; d_linear1_out[r] = (dz[r] w2) (1 - t^2) */
    __m256 dw2 = _mm256_mul_ps(_mm256_set1_ps(dz[0]), t[0]);
    for (int r = 1; r < 4; r++)
        dw2 = _mm256_add_ps(dw2, _mm256_mul_ps(_mm256_set1_ps(dz[r]), t[r]));
    _mm256_storeu_ps(grad + 24, dw2);
    __m256 dl[4];
    for (int r = 0; r < 4; r++)
        dl[r] = _mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(dz[r]), w2),
                              _mm256_sub_ps(_mm256_set1_ps(1.0f), _mm256_mul_ps(t[r], t[r])));

    /* linear1.bias = sum of the rows (from 0); linear1.weight = dl^T x,
     * interleaved back into [8 x 2] */
    __m256 db1 = _mm256_add_ps(_mm256_setzero_ps(), dl[0]);
    for (int r = 1; r < 4; r++) db1 = _mm256_add_ps(db1, dl[r]);
    _mm256_storeu_ps(grad + 16, db1);
    __m256 g0 = _mm256_mul_ps(dl[0], _mm256_set1_ps(x[0]));
    __m256 g1 = _mm256_mul_ps(dl[0], _mm256_set1_ps(x[1]));
    for (int r = 1; r < 4; r++) {
        g0 = _mm256_add_ps(g0, _mm256_mul_ps(dl[r], _mm256_set1_ps(x[2 * r])));
        g1 = _mm256_add_ps(g1, _mm256_mul_ps(dl[r], _mm256_set1_ps(x[2 * r + 1])));
    }
    const __m256 lo = _mm256_unpacklo_ps(g0, g1), hi = _mm256_unpackhi_ps(g0, g1);
    _mm256_storeu_ps(grad + 0, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(grad + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
    return (real)(total / 4);
}
