/* test_gemm_store.c — rt_sgemm_tn_store (runtime/rt_gemm.c), the weight
 * gradient's product with the fused update in its store: C is bit for bit
 * rt_sgemm_xn(1, ...)'s on every M, N, K in a sweep of odd and tile-sized
 * shapes and fashion_mlp's three weight gradients; the hook's calls cover C
 * once, in order, in runs of whole rows of at least 4096 values but the
 * last, each after its rows are final (the hook compares them with the
 * reference as it is called); a NULL hook and a NULL store compute the same
 * C. Negative control: a hook that sees a run whose values differ from the
 * reference reports it. Declines (-1, C and the hook untouched) where
 * rt_sgemm_xn does. */
#include "rt.h"
#include "check.h"
#include "fill.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifndef TRAINC_DOUBLE
/* what the hook saw: C so far against the reference, the runs' order */
typedef struct seen {
    const float *c, *ref;
    long n, next, calls, bad; /* n: C's columns; next: the offset the next run must start at */
} seen;

static void hook(void *ctx, long off, long count)
{
    seen *s = ctx;
    s->calls++;
    if (off != s->next || count <= 0 || count % s->n || off % s->n) s->bad++;
    if (memcmp(s->c + off, s->ref + off, sizeof(float) * (size_t)count)) s->bad++;
    s->next = off + count;
}

/* 0: every check of one shape held; else the number of failures */
static long one(long m, long n, long k, int spoil)
{
    float *a = fill(k * m, 1), *b = fill(k * n, 2), *ref = fill(m * n, 3), *c = fill(m * n, 4);
    long bad = rt_sgemm_xn(1, m, n, k, a, b, ref) != 0;
    if (spoil) ref[m * n - 1] += 1; /* the negative control: the last run differs */
    seen s = {c, ref, n, 0, 0, 0};
    const rt_gemm_store st = {hook, &s, {0}, 0};
    bad += rt_sgemm_tn_store(m, n, k, a, b, c, &st) != 0;
    bad += s.bad + (s.next != m * n);
    /* runs of >= 4096 values but the last: at most this many calls */
    bad += s.calls > 1 + m * n / 4096;
    if (!spoil) bad += memcmp(c, ref, sizeof(float) * (size_t)(m * n)) != 0;
    const rt_gemm_store none = {NULL, NULL, {0}, 0};
    float *c2 = fill(m * n, 5), *c3 = fill(m * n, 6);
    bad +=
        rt_sgemm_tn_store(m, n, k, a, b, c2, &none) || rt_sgemm_tn_store(m, n, k, a, b, c3, NULL);
    if (!spoil) bad += memcmp(c2, ref, sizeof(float) * (size_t)(m * n)) != 0;
    bad += memcmp(c2, c3, sizeof(float) * (size_t)(m * n)) != 0;
    free(a), free(b), free(ref), free(c), free(c2), free(c3);
    return bad;
}

int main(void)
{
    const char *env = getenv("TRAINC_GEMM");
    if ((env && !strcmp(env, "off")) || !rt_cpu_has_avx2()) {
        float a[6] = {1, 2, 3, 4, 5, 6}, c[4] = {7, 7, 7, 7};
        seen s = {c, c, 2, 0, 0, 0};
        const rt_gemm_store st = {hook, &s, {0}, 0};
        CHECK(rt_sgemm_tn_store(2, 2, 3, a, a, c, &st) == -1 && c[0] == 7 && s.calls == 0,
              "the kernel declines (-1, C untouched, no hook call): OpenBLAS's turn");
        CHECK_DONE();
    }
    static const long sizes[] = {1, 2, 5, 7, 8, 9, 16, 17, 47, 49, 65, 130};
    const int ns = (int)(sizeof sizes / sizeof *sizes);
    long bad = 0;
    for (int x = 0; x < ns; x++)
        for (int y = 0; y < ns; y++)
            for (int z = 0; z < ns; z += 3) bad += one(sizes[x], sizes[y], sizes[z], 0);
    CHECK(bad == 0, "every M, N in {1 .. 130}: rt_sgemm_xn(1)'s bits, the hook's runs in order, "
                    "whole rows, final when called, covering C once");
    bad = one(256, 784, 64, 0) + one(128, 256, 64, 0) + one(10, 128, 64, 0);
    CHECK(bad == 0, "fashion_mlp's weight gradients (256x784, 128x256, 10x128, K 64): the same");
    CHECK(one(256, 784, 64, 1) > 0, "negative control: a run differing from the reference is seen");
    CHECK_DONE();
}
#else
int main(void)
{
    printf("ok - double: rt_sgemm_tn_store is float only\n");
    return 0;
}
#endif
