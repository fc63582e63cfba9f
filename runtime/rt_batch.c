/* rt_batch.c — what the training loop does to its batches on request:
 * stratified data order (each batch holds the classes in proportion) and
 * image augmentation (random crop with padding, horizontal flip). Both draw
 * from streams the checkpoint keeps, so a resumed run goes on bit for bit. */
#include "rt.h"

#include <string.h>

void rt_stratified_order(rt_rng *rng, const int32_t *cls, int32_t n, int k, int shuffle,
                         int32_t *order, int32_t *scratch)
{
    /* scratch: the rows grouped by class (n), then per class its count and
     * how many of its rows are placed so far (2k) */
    int32_t *rows = scratch, *count = scratch + n, *taken = count + k;
    memset(count, 0, sizeof(int32_t) * (size_t)(2 * k));
    for (int32_t i = 0; i < n; i++) count[cls[i]]++;
    /* group by class, in row order, each group at its own offset */
    int32_t start = 0;
    for (int c = 0; c < k; c++) taken[c] = start, start += count[c];
    for (int32_t i = 0; i < n; i++) rows[taken[cls[i]]++] = i;
    start = 0;
    for (int c = 0; c < k; c++) {
        if (shuffle && count[c] > 1) rt_shuffle(rng, rows + start, count[c]);
        taken[c] = 0;
        start += count[c];
    }
    /* Position t goes to the class furthest behind its share (t + 1) *
     * count / n, in integers: every prefix of the order, and so every
     * batch, holds each class in proportion to within a row or two. */
    for (int32_t t = 0; t < n; t++) {
        int best = -1;
        int64_t best_deficit = 0;
        int32_t offset = 0, best_offset = 0;
        for (int c = 0; c < k; c++) {
            if (taken[c] < count[c]) {
                int64_t deficit = (int64_t)(t + 1) * count[c] - (int64_t)taken[c] * n;
                if (best < 0 || deficit > best_deficit) {
                    best = c;
                    best_deficit = deficit;
                    best_offset = offset;
                }
            }
            offset += count[c];
        }
        order[t] = rows[best_offset + taken[best]++];
    }
}

void rt_image_crop(const real *src, real *dst, int channels, int height, int width, int pad, int dy,
                   int dx)
{
    for (int ch = 0; ch < channels; ch++) {
        const real *s = src + (long)ch * height * width;
        real *d = dst + (long)ch * height * width;
        for (int i = 0; i < height; i++) {
            int si = i + dy - pad;
            for (int j = 0; j < width; j++) {
                int sj = j + dx - pad;
                d[(long)i * width + j] =
                    si >= 0 && si < height && sj >= 0 && sj < width ? s[(long)si * width + sj] : 0;
            }
        }
    }
}

void rt_image_flip(real *img, int channels, int height, int width)
{
    for (long r = 0; r < (long)channels * height; r++) {
        real *row = img + r * width;
        for (int a = 0, b = width - 1; a < b; a++, b--) {
            real t = row[a];
            row[a] = row[b];
            row[b] = t;
        }
    }
}

void rt_augment_batch(const rt_augment *a, rt_rng *rng, real *x, int rows, real *scratch)
{
    long size = (long)a->channels * a->height * a->width;
    for (int r = 0; r < rows; r++) {
        real *img = x + r * size;
        if (a->crop > 0) {
            int dy = (int)rt_rng_below(rng, (uint32_t)(2 * a->crop + 1));
            int dx = (int)rt_rng_below(rng, (uint32_t)(2 * a->crop + 1));
            rt_image_crop(img, scratch, a->channels, a->height, a->width, a->crop, dy, dx);
            memcpy(img, scratch, sizeof(real) * (size_t)size);
        }
        if (a->flip && rt_rng_below(rng, 2)) rt_image_flip(img, a->channels, a->height, a->width);
    }
}
