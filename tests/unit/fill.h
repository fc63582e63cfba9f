/* fill.h — the matrix-product unit tests' operands: n floats in
 * [-0.5, 0.5) from a seed (an LCG's high bits), the same on every machine. */
#ifndef FILL_H
#define FILL_H
#include <stdint.h>
#include <stdlib.h>

static inline float *fill(long n, unsigned seed)
{
    float *f = malloc((size_t)(n > 0 ? n : 1) * sizeof *f);
    uint64_t s = seed * 0x9e3779b97f4a7c15ull + 1;
    for (long i = 0; i < n; i++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        f[i] = (float)((double)(s >> 40) / (double)(1ull << 24) - 0.5);
    }
    return f;
}
#endif
