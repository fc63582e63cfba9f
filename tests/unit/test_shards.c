/* test_shards.c — the shard plan's runtime (rt_pool.c): the shard sizes,
 * the ordered reduce (against a sum in another order, which the test must
 * tell apart), and a sharded step on 3 threads against the same arithmetic
 * written out by hand. */
#include "check.h"
#include "rt.h"

#include <math.h>
#include <string.h>

static void test_sizes(void)
{
    int ok = 1;
    for (int S = 1; S <= 9; S++)
        for (int n = 1; n <= 100; n++) {
            int c = rt_shard_count(S, n), sum = 0;
            ok &= c == (S < n ? S : n);
            for (int k = 0; k < c; k++) {
                int r = rt_shard_rows(S, n, k);
                sum += r;
                ok &= r >= 1 && r <= rt_shard_rows(S, n, 0) && rt_shard_rows(S, n, 0) - r <= 1;
            }
            ok &= sum == n;
        }
    CHECK(ok, "shard sizes: min(S, n) shards of whole rows, summing to n, differing by at most 1, "
              "the larger first");
    CHECK(rt_shard_rows(3, 32, 0) == 11 && rt_shard_rows(3, 32, 2) == 10 &&
              rt_shard_rows(3, 22, 0) == 8 && rt_shard_rows(3, 22, 1) == 7,
          "shard sizes: 32 rows in 3 shards are 11 11 10, 22 rows 8 7 7");
}

static void test_reduce(void)
{
    /* a + -a + 1 is 1 in shard order; (1 + a) + -a is 0 (a > 2^53) */
    real g0[1] = {1e16f}, g1[1] = {-1e16f}, g2[1] = {1};
    const real *g[] = {g0, g1, g2}, *other[] = {g2, g0, g1};
    int rows[] = {1, 1, 1};
    real grad[1], wrong[1];
    rt_shards_reduce(grad, g, rows, 3, 3, 0, 1);
    rt_shards_reduce(wrong, other, rows, 3, 3, 0, 1);
    CHECK(grad[0] == (real)(1.0 / 3), "reduce: ((g0 + g1) + g2) / n in shard order");
    CHECK(wrong[0] != grad[0], "reduce: the negative control, another order, differs");
    /* rows weigh the shards: (2 * 3 + 1 * 6) / 3 */
    real h0[1] = {3}, h1[1] = {6};
    const real *h[] = {h0, h1};
    int hr[] = {2, 1};
    rt_shards_reduce(grad, h, hr, 2, 3, 0, 1);
    CHECK(grad[0] == 4, "reduce: each shard's mean gradient weighs by its rows");
}

enum { NP = 5, FEAT = 2 };

/* A fake step: grad[i] = sum of the shard's x times (i + 1), loss = the
 * mean of x's first column, out = x's second column */
static real fake_step(int rows, real *param, real *grad, const real *x, const real *y, real *out,
                      real *arena, uint64_t noise)
{
    (void)param, (void)y, (void)arena, (void)noise;
    double s = 0, first = 0;
    for (int r = 0; r < rows; r++) {
        s += x[r * FEAT] + x[r * FEAT + 1];
        first += x[r * FEAT];
        out[r] = x[r * FEAT + 1];
    }
    for (int i = 0; i < NP; i++) grad[i] = (real)(s / rows * (i + 1));
    return (real)(first / rows);
}

static void test_step(void)
{
    static const rt_shard_plan plan = {fake_step, 4, NP, 8, FEAT, 1, 1, NULL, 0, NULL, NULL};
    CHECK(rt_shards_start(&plan, 3) == 0, "pool: 3 threads start");
    enum { N = 10 };
    real x[N * FEAT], y[N] = {0}, out[N], grad[NP], param[NP] = {0};
    for (int i = 0; i < N * FEAT; i++) x[i] = (real)(0.1 * i * i - i);
    real loss = rt_shards_train(&plan, N, param, grad, x, y, out, NULL, 1);
    /* by hand: shards 3 3 2 2 */
    int rows[] = {3, 3, 2, 2}, start = 0;
    double l = 0, acc[NP] = {0};
    for (int k = 0; k < 4; k++) {
        real gk[NP], outk[3];
        real lk = fake_step(rows[k], param, gk, x + start * FEAT, y, outk, NULL, 0);
        l += (double)rows[k] * lk;
        for (int i = 0; i < NP; i++) acc[i] += (double)rows[k] * gk[i];
        start += rows[k];
    }
    int same = loss == (real)(l / N);
    for (int i = 0; i < NP; i++) same &= grad[i] == (real)(acc[i] / N);
    for (int r = 0; r < N; r++) same &= out[r] == x[r * FEAT + 1];
    CHECK(same, "pool: a step of 10 rows on 3 threads is the hand-made ordered sum of shards 3 3 "
                "2 2, outputs in row order");
    CHECK(isnan(rt_shards_train(&plan, 0, param, grad, x, y, out, NULL, 1)), "pool: 0 rows is NaN");
}

int main(void)
{
    test_sizes();
    test_reduce();
    test_step();
    CHECK_DONE();
}
