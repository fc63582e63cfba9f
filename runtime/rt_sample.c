/* rt_sample.c — rows drawn with replacement for a training batch
 * (train { sampling = "replacement" }), as torch's RandomSampler(replacement
 * = True) draws them: each uniformly from all the rows, independently. The
 * draws come from the data order's stream, which checkpoints keep, so a
 * resumed run draws what an uninterrupted one would. */
#include "rt.h"

void rt_sample_with_replacement(rt_rng *rng, int32_t n, int32_t *rows, int count)
{
    for (int i = 0; i < count; i++) rows[i] = (int32_t)rt_rng_below(rng, (uint32_t)n);
}
