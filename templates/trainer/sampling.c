/* {{header}}
 *
 * sampling.c — which rows a training step of {{name}} takes: the next
 * stretch of the epoch's order (shuffled, stratified or as the file holds
 * them), or, with train { sampling = "replacement" }, rows drawn uniformly
 * with replacement from all the training rows, as torch's
 * RandomSampler(replacement = True) does (an epoch is still rows / batch
 * steps, so rows may come twice in an epoch or not at all). The draws come
 * from the data order's stream, which checkpoints keep: a resumed run draws
 * what an uninterrupted one would. */
#include "trainer.h"

const int32_t *tr_batch_rows(train_run *r, long start, int rows)
{
    /* the draws of one step, outside the stack (a full batch may be large),
     * made once */
    static int32_t *drawn;
    /* train --overfit takes its rows in file order (overfit.c) */
    if (!MODEL_SAMPLE_REPLACE || r->overfit) return r->b.order + start;
    if (!drawn) drawn = tr_alloc_or_die((size_t)MODEL_BATCH, sizeof *drawn);
    rt_sample_with_replacement(&r->shuffle_rng, (int32_t)r->n, drawn, rows);
    return drawn;
}
