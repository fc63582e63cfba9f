/* test_trainer_rt.c — the runtime pieces of the training loop: image
 * augmentation (flip, pad-and-crop, the batch driver and its draws),
 * stratified data order, the progress line and the confusion matrix. */
#include "check.h"
#include "rt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { C = 2, H = 4, W = 5, SIZE = C * H * W };

/* pixel values that name their place: 100 c + 10 i + j + 1 (never 0) */
static void numbered(real *img)
{
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) img[(c * H + i) * W + j] = (real)(100 * c + 10 * i + j + 1);
}

static real at(const real *img, int c, int i, int j)
{
    return img[(c * H + i) * W + j];
}

static void test_flip(void)
{
    real a[SIZE], b[SIZE];
    numbered(a);
    memcpy(b, a, sizeof a);
    rt_image_flip(b, C, H, W);
    int moved = 1;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++) moved &= at(b, c, i, j) == at(a, c, i, W - 1 - j);
    CHECK(moved, "flip: pixel (c, i, j) goes to (c, i, W-1-j) in every channel");
    rt_image_flip(b, C, H, W);
    CHECK(!memcmp(a, b, sizeof a), "flip twice is the identity");
}

static void test_crop(void)
{
    real a[SIZE], b[SIZE];
    numbered(a);
    rt_image_crop(a, b, C, H, W, 0, 0, 0);
    CHECK(!memcmp(a, b, sizeof a), "crop with pad 0 is the identity");
    rt_image_crop(a, b, C, H, W, 2, 2, 2);
    CHECK(!memcmp(a, b, sizeof a), "crop at the centre of the padded image is the identity");
    /* offsets (0, 0) of pad 2: the image moves 2 down and 2 right, zeros come in */
    rt_image_crop(a, b, C, H, W, 2, 0, 0);
    int ok = 1;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                ok &= at(b, c, i, j) == (i >= 2 && j >= 2 ? at(a, c, i - 2, j - 2) : 0);
    CHECK(
        ok,
        "crop (pad 2, offsets 0, 0): pixels move 2 down and 2 right, zeros fill the top and left");
    /* offsets (4, 3) of pad 2: up 2 and left 1 */
    rt_image_crop(a, b, C, H, W, 2, 4, 3);
    ok = 1;
    for (int c = 0; c < C; c++)
        for (int i = 0; i < H; i++)
            for (int j = 0; j < W; j++)
                ok &= at(b, c, i, j) == (i + 2 < H && j + 1 < W ? at(a, c, i + 2, j + 1) : 0);
    CHECK(
        ok,
        "crop (pad 2, offsets 4, 3): pixels move 2 up and 1 left, zeros fill the bottom and right");
}

static void test_augment_batch(void)
{
    enum { ROWS = 50 };
    static real x[ROWS * SIZE], want[ROWS * SIZE], y[ROWS * SIZE];
    real scratch[SIZE];
    for (int r = 0; r < ROWS; r++) numbered(x + r * SIZE);
    memcpy(y, x, sizeof x);
    rt_rng rng, copy;
    rt_rng_seed(&rng, 7);
    rt_augment none = {C, H, W, 0, 0};
    rt_augment_batch(&none, &rng, y, ROWS, scratch);
    CHECK(!memcmp(x, y, sizeof x), "augment with crop 0 and no flip leaves the batch alone");

    /* crop then flip, drawn in that order per row, reproduced by hand */
    rt_augment a = {C, H, W, 1, 1};
    rt_rng_seed(&rng, 11);
    copy = rng;
    memcpy(y, x, sizeof x);
    rt_augment_batch(&a, &rng, y, ROWS, scratch);
    int flips = 0, shifts = 0;
    for (int r = 0; r < ROWS; r++) {
        int dy = (int)rt_rng_below(&copy, 3), dx = (int)rt_rng_below(&copy, 3);
        rt_image_crop(x + r * SIZE, want + r * SIZE, C, H, W, 1, dy, dx);
        if (rt_rng_below(&copy, 2)) rt_image_flip(want + r * SIZE, C, H, W), flips++;
        shifts += dy != 1 || dx != 1;
    }
    CHECK(!memcmp(want, y, sizeof y),
          "augment: each row is cropped at its drawn offsets, then flipped as drawn");
    CHECK(flips > 10 && flips < 40 && shifts > 20,
          "augment: about half the rows flipped, most shifted");
    rt_rng_seed(&rng, 11);
    memcpy(want, x, sizeof x);
    rt_augment_batch(&a, &rng, want, ROWS, scratch);
    CHECK(!memcmp(want, y, sizeof y), "augment is deterministic with the seed");
}

/* class counts in each batch against the class's share, at most `slack` off */
static int batches_in_proportion(const int32_t *order, const int32_t *cls, int32_t n, int k,
                                 int batch, double slack)
{
    int count[8];
    int total[8] = {0};
    for (int32_t i = 0; i < n; i++) total[cls[i]]++;
    for (int32_t s = 0; s + batch <= n; s += batch) {
        memset(count, 0, sizeof count);
        for (int r = 0; r < batch; r++) count[cls[order[s + r]]]++;
        for (int c = 0; c < k; c++)
            if (fabs(count[c] - (double)batch * total[c] / n) > slack) return 0;
    }
    return 1;
}

static void test_stratified(void)
{
    enum { N = 1000, K = 3 };
    static int32_t cls[N], order[N], other[N], scratch[N + 2 * K];
    /* 70 % class 0, 20 % class 1, 10 % class 2, the minority clumped at the end */
    for (int i = 0; i < N; i++) cls[i] = i < 700 ? 0 : i < 900 ? 1 : 2;
    rt_rng rng;
    rt_rng_seed(&rng, 3);
    rt_stratified_order(&rng, cls, N, K, 1, order, scratch);
    static char seen[N];
    int perm = 1;
    for (int i = 0; i < N; i++) perm &= !seen[order[i]]++;
    CHECK(perm, "stratified order is a permutation of the rows");
    CHECK(batches_in_proportion(order, cls, N, K, 50, 1.0),
          "stratified: every batch of 50 holds 35/10/5 of the classes, within one row");
    CHECK(batches_in_proportion(order, cls, N, K, 64, 1.0),
          "stratified: every batch of 64 holds the classes in proportion, within one row");
    int shuffled = 0;
    for (int i = 1; i < N; i++) shuffled += cls[order[i]] == 0 && order[i] < order[i - 1];
    CHECK(shuffled > 0, "stratified: the rows of a class come in a random order");
    rt_stratified_order(&rng, cls, N, K, 1, other, scratch);
    CHECK(memcmp(order, other, sizeof order) != 0, "stratified: each epoch draws a new order");
    rt_rng_seed(&rng, 3);
    rt_stratified_order(&rng, cls, N, K, 1, other, scratch);
    CHECK(!memcmp(order, other, sizeof order), "stratified: the same seed gives the same order");
    rt_stratified_order(&rng, cls, N, K, 0, other, scratch);
    int sorted = 1, last[K] = {-1, -1, -1};
    for (int i = 0; i < N; i++)
        sorted &= other[i] > last[cls[other[i]]], last[cls[other[i]]] = other[i];
    CHECK(sorted, "stratified without shuffle: each class's rows in file order");
    /* a plainly shuffled order is not in proportion: the check can fail */
    for (int i = 0; i < N; i++) other[i] = i;
    rt_shuffle(&rng, other, N);
    CHECK(!batches_in_proportion(other, cls, N, K, 50, 1.0),
          "a plain shuffle misses the proportions somewhere (the check can fail)");
}

static void test_progress(void)
{
    rt_progress p = {.interval = 0.25, .last = 0};
    int a = rt_progress_due(&p, 100.0), b = rt_progress_due(&p, 100.1),
        c = rt_progress_due(&p, 100.3);
    CHECK(a && !b && c, "progress: the first redraw at once, then at most one per interval");
    char buf[256];
    rt_progress_format(buf, sizeof buf, 200, 3, 10, 500, 1000, 0.4123, 51234.4, 65);
    CHECK(
        !strcmp(buf, "epoch 3/10 [##########..........]  50%  loss 0.4123  51234 rows/s  ETA 1:05"),
        "progress line: epoch, bar, percent, loss so far, rows/s, ETA");
    rt_progress_format(buf, sizeof buf, 200, 1, 1, 1, 3, 1, 1, 3725);
    CHECK(strstr(buf, "ETA 1:02:05") != NULL, "progress line: hours in the ETA");
    rt_progress_format(buf, sizeof buf, 30, 1, 1, 1, 3, 1, 1, 1);
    CHECK(strlen(buf) == 29, "progress line: cut to one less than the terminal's width");
}

static void test_confusion(void)
{
    /* 3 classes, 4 rows: predicted 0, 2, 2, 1 against labels 0, 2, 1, 1 */
    real out[] = {5, 1, 0, 0, 1, 3, 0, 1, 2, 0, 4, 1};
    real y[] = {0, 2, 1, 1};
    long counts[9] = {0};
    rt_confusion_add(RT_TASK_CLASSIFY, out, 3, y, 1, 4, counts);
    long want[9] = {1, 0, 0, 0, 1, 1, 0, 0, 1};
    CHECK(!memcmp(counts, want, sizeof want) && rt_task_classes(RT_TASK_CLASSIFY, 3, 1) == 3,
          "confusion matrix: counts[true][predicted]");
    /* sign labels: -1 is class 0 */
    real z[] = {-2, 3, 1}, s[] = {-1, -1, 1};
    long c2[4] = {0};
    rt_confusion_add(RT_TASK_SIGN, z, 1, s, 1, 3, c2);
    CHECK(c2[0] == 1 && c2[1] == 1 && c2[2] == 0 && c2[3] == 1 &&
              rt_task_classes(RT_TASK_REGRESS, 1, 1) == 0,
          "confusion matrix of sign labels; none for regression");
}

int main(void)
{
    test_flip();
    test_crop();
    test_augment_batch();
    test_stratified();
    test_progress();
    test_confusion();
    CHECK_DONE();
}
