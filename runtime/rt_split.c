/* rt_split.c — which rows of a training file are held out for testing and
 * validation: a random draw from a seed, stratified by class (each class
 * gives its share, within a row), or the file's last rows. The trainer and
 * trainc (which checks the split at generation) both call rt_split_rows. */
#include "rt.h"

#include <stdlib.h>
#include <string.h>

/* Largest remainder: want[c] = floor or ceil of weight[c] * total / sum,
 * summing to total; the rows left over go to the largest remainders, the
 * lower class first on a tie. Exact in integers. */
static void shares(const int32_t *weight, int k, int32_t total, int32_t *want, uint64_t *rem)
{
    uint64_t sum = 0;
    for (int c = 0; c < k; c++) sum += (uint64_t)weight[c];
    int64_t given = 0;
    for (int c = 0; c < k; c++) {
        uint64_t q = (uint64_t)weight[c] * (uint64_t)total;
        want[c] = sum ? (int32_t)(q / sum) : 0;
        rem[c] = sum ? q % sum : 0;
        given += want[c];
    }
    for (; given < total; given++) {
        int best = -1;
        for (int c = 0; c < k; c++)
            if (want[c] < weight[c] && (best < 0 || rem[c] > rem[best])) best = c;
        if (best < 0) break; /* cannot happen: total <= sum */
        want[best]++;
        rem[best] = 0;
    }
}

/* The draw: each class's rows in file order, shuffled (one shuffle per
 * class, classes in order), then its test share first, its validation
 * share next. mark[i]: 0 train, 1 validation, 2 test. */
static int draw(const rt_split *s, const int32_t *cls, int k, int32_t n, unsigned char *mark,
                int32_t *scratch, rt_error *err)
{
    int32_t *rows = scratch, *count = scratch + n, *pool = count + k, *tw = pool + k, *vw = tw + k,
            *start = vw + k;
    uint64_t *rem = malloc(sizeof(uint64_t) * (size_t)k + 1);
    if (!rem) return rt_fail(err, "split: out of memory");
    memset(count, 0, sizeof(int32_t) * (size_t)(2 * k));
    int32_t tail_test = s->test_tail ? s->n_test : 0;
    for (int32_t i = 0; i < n; i++) count[cls ? cls[i] : 0]++;
    for (int32_t i = n - tail_test; i < n; i++) mark[i] = 2;
    for (int32_t i = 0; i < n - tail_test; i++) pool[cls ? cls[i] : 0]++;
    /* test: shares of the file's classes; validation: of the rows it draws
     * from, the file's when the test rows were a stratified draw too */
    shares(count, k, s->test_tail ? 0 : s->n_test, tw, rem);
    shares(s->test_tail ? pool : count, k, s->valid_tail ? 0 : s->n_valid, vw, rem);
    free(rem);
    int32_t at = 0;
    for (int c = 0; c < k; c++) start[c] = at, at += pool[c];
    for (int32_t i = 0; i < n - tail_test; i++) rows[start[cls ? cls[i] : 0]++] = i;
    /* no draw at all (only tails): nothing to shuffle */
    int random = (!s->test_tail && s->n_test) || (!s->valid_tail && s->n_valid);
    rt_rng rng;
    rt_rng_seed(&rng, s->seed ^ RT_SPLIT_STREAM);
    at = 0;
    for (int c = 0; c < k; c++) {
        if (pool[c] && tw[c] + vw[c] + (s->valid_tail ? 0 : 1) > pool[c])
            return rt_fail(err,
                           "class %d: %d rows are too few to hold out %d for testing and %d for "
                           "validation and keep one to train on",
                           c, (int)pool[c], (int)tw[c], (int)vw[c]);
        if (random && pool[c] > 1) rt_shuffle(&rng, rows + at, pool[c]);
        for (int32_t j = 0; j < tw[c] + vw[c]; j++) mark[rows[at + j]] = j < tw[c] ? 2 : 1;
        at += pool[c];
    }
    /* validation from the end: the last rows that are not test rows */
    int32_t left = s->valid_tail ? s->n_valid : 0;
    for (int32_t i = n - 1; i >= 0 && left > 0; i--)
        if (!mark[i]) mark[i] = 1, left--;
    return 0;
}

int rt_split_rows(const rt_split *s, const int32_t *cls, int k, int32_t n, int32_t *train,
                  int32_t *valid, int32_t *test, rt_error *err)
{
    if (s->n_test < 0 || s->n_valid < 0 || (int64_t)s->n_test + s->n_valid >= n)
        return rt_fail(err, "cannot hold out %d test and %d validation rows of %d rows",
                       (int)s->n_test, (int)s->n_valid, (int)n);
    if (!cls) k = 1;
    for (int32_t i = 0; cls && i < n; i++)
        if (cls[i] < 0 || cls[i] >= k)
            return rt_fail(err, "row %d: class %d is not in [0, %d)", (int)i, (int)cls[i], k);
    unsigned char *mark = calloc((size_t)n + 1, 1);
    int32_t *scratch = malloc(sizeof(int32_t) * ((size_t)n + 6 * (size_t)k) + 1);
    int rc = -1;
    if (!mark || !scratch) {
        rt_fail(err, "split: out of memory for %d rows", (int)n);
    } else if (!(rc = draw(s, cls, k, n, mark, scratch, err))) {
        int32_t nt = 0, nv = 0, ne = 0;
        for (int32_t i = 0; i < n; i++) {
            if (mark[i] == 0) train[nt++] = i;
            if (mark[i] == 1) valid[nv++] = i;
            if (mark[i] == 2) test[ne++] = i;
        }
    }
    free(mark);
    free(scratch);
    return rc;
}
