/* sgemm_floor.c — the OpenBLAS floor of one training step: times exactly the
 * cblas_sgemm (or cblas_dgemm) calls of one step, at the same shapes,
 * transposes, leading dimensions and betas, each on its own buffers, run back
 * to back as in the step, with openblas_set_num_threads(T).
 *
 * usage: sgemm_floor THREADS STEPS CALL...
 *   CALL = TA:TB:M:N:K:ALPHA:LDA:LDB:BETA:LDC, TA/TB = N or T (row-major),
 *   as in cblas_sgemm(CblasRowMajor, TA, TB, M, N, K, ALPHA, A, LDA, B, LDB,
 *   BETA, C, LDC). tests/bench/bench.sh extracts them from the generated
 *   model.c (function train_64).
 * Prints one line per call ("call i: ... us") and then "floor_us <min us per
 * step>" (wall) and "floor_cpu_us" (process CPU time, all threads), the
 * minimum over 7 blocks of STEPS steps each after a warm-up.
 * Not part of the test run. Build: see bench.sh (same flags as the trainer). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cblas.h>

void openblas_set_num_threads(int num_threads);

typedef struct call {
    int ta, tb, m, n, k, lda, ldb, ldc;
    float alpha, beta;
    float *a, *b, *c;
} call;

static double clock_of(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return ts.tv_sec + ts.tv_nsec * 1e-9;
}
static double now(void) { return clock_of(CLOCK_MONOTONIC); }
static double cpu_now(void) { return clock_of(CLOCK_PROCESS_CPUTIME_ID); }

static float *buffer(long n)
{
    void *p = NULL;
    if (posix_memalign(&p, 64, (size_t)(n > 0 ? n : 1) * sizeof(float))) {
        fprintf(stderr, "sgemm_floor: out of memory\n");
        exit(1);
    }
    float *f = p;
    for (long i = 0; i < n; i++) f[i] = (float)((i * 7919 % 1000) - 500) * 1e-3f;
    return f;
}

static int parse(const char *s, call *c)
{
    char ta, tb;
    if (sscanf(s, "%c:%c:%d:%d:%d:%f:%d:%d:%f:%d", &ta, &tb, &c->m, &c->n, &c->k, &c->alpha, &c->lda,
               &c->ldb, &c->beta, &c->ldc) != 10)
        return -1;
    if ((ta != 'N' && ta != 'T') || (tb != 'N' && tb != 'T')) return -1;
    c->ta = ta == 'T';
    c->tb = tb == 'T';
    /* row-major: A is M x K (or K x M when transposed), B is K x N (or N x K) */
    long arows = c->ta ? c->k : c->m, brows = c->tb ? c->n : c->k;
    c->a = buffer(arows * c->lda);
    c->b = buffer(brows * c->ldb);
    c->c = buffer((long)c->m * c->ldc);
    return 0;
}

static void run(const call *c)
{
    cblas_sgemm(CblasRowMajor, c->ta ? CblasTrans : CblasNoTrans, c->tb ? CblasTrans : CblasNoTrans,
                c->m, c->n, c->k, c->alpha, c->a, c->lda, c->b, c->ldb, c->beta, c->c, c->ldc);
}

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: sgemm_floor THREADS STEPS TA:TB:M:N:K:ALPHA:LDA:LDB:BETA:LDC...\n");
        return 2;
    }
    int threads = atoi(argv[1]);
    long steps = atol(argv[2]);
    int nc = argc - 3;
    call *calls = calloc((size_t)nc, sizeof *calls);
    for (int i = 0; i < nc; i++)
        if (parse(argv[3 + i], &calls[i])) {
            fprintf(stderr, "sgemm_floor: bad call '%s'\n", argv[3 + i]);
            return 2;
        }
    openblas_set_num_threads(threads);

    /* per call, alone (the same call back to back: its warm-cache time) */
    double sum_alone = 0;
    for (int i = 0; i < nc; i++) {
        for (int w = 0; w < 20; w++) run(&calls[i]);
        double best = 1e30;
        for (int blk = 0; blk < 5; blk++) {
            double t0 = now();
            for (long s = 0; s < steps; s++) run(&calls[i]);
            double t = (now() - t0) / steps;
            if (t < best) best = t;
        }
        sum_alone += best;
        const call *c = &calls[i];
        printf("call %d: %c%c m=%d n=%d k=%d  %.2f us  %.1f GFLOP/s\n", i + 1, c->ta ? 'T' : 'N',
               c->tb ? 'T' : 'N', c->m, c->n, c->k, best * 1e6, 2.0 * c->m * c->n * c->k / best * 1e-9);
    }
    printf("sum_alone_us %.2f\n", sum_alone * 1e6);

    /* the step's sequence, back to back */
    for (long s = 0; s < 20; s++)
        for (int i = 0; i < nc; i++) run(&calls[i]);
    double best = 1e30, best_cpu = 1e30;
    for (int blk = 0; blk < 7; blk++) {
        double t0 = now(), c0 = cpu_now();
        for (long s = 0; s < steps; s++)
            for (int i = 0; i < nc; i++) run(&calls[i]);
        double t = (now() - t0) / steps, c = (cpu_now() - c0) / steps;
        if (t < best) best = t;
        if (c < best_cpu) best_cpu = c;
    }
    printf("floor_us %.2f\n", best * 1e6);
    printf("floor_cpu_us %.2f\n", best_cpu * 1e6);
    return 0;
}
