/* rt_checkpoint.c — checkpoints: everything a run needs to go on exactly
 * where it stopped, with the same header, checksum and atomic write as
 * weights files. */
#include "rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define CHECKPOINT_MAGIC "TRAINCK\n"
#define CHECKPOINT_VERSION                                                                         \
    4u /* 2: early stopping's state and best weights; 3: gradient norms;                           \
          4: the seed */

typedef struct checkpoint_header {
    char magic[8];
    uint32_t version;
    uint32_t real_size;
    char model_hash[16];
    uint64_t n_params, n_state, n_stats, n_order, run_size, n_best;
} checkpoint_header;

/* The parts in file order, after the header: run state, order, params,
 * optimizer state, standardisation statistics, early stopping's best
 * weights; then a CRC32 of all. */
#define CHECKPOINT_PARTS 6
static size_t checkpoint_parts(const rt_checkpoint *c, const void **ptr, size_t *len)
{
    ptr[0] = &c->run, len[0] = sizeof c->run;
    ptr[1] = c->order, len[1] = sizeof(int32_t) * (size_t)c->n_order;
    ptr[2] = c->params, len[2] = sizeof(real) * (size_t)c->n_params;
    ptr[3] = c->state, len[3] = sizeof(real) * (size_t)c->n_state;
    ptr[4] = c->stats, len[4] = sizeof(real) * (size_t)c->n_stats;
    ptr[5] = c->best, len[5] = sizeof(real) * (size_t)c->n_best;
    return CHECKPOINT_PARTS;
}

static void checkpoint_header_of(const char *model_hash, const rt_checkpoint *c,
                                 checkpoint_header *h)
{
    memset(h, 0, sizeof *h);
    memcpy(h->magic, CHECKPOINT_MAGIC, 8);
    h->version = CHECKPOINT_VERSION;
    h->real_size = sizeof(real);
    size_t hl = strlen(model_hash);
    memcpy(h->model_hash, model_hash, hl < sizeof h->model_hash ? hl : sizeof h->model_hash);
    h->n_params = (uint64_t)c->n_params;
    h->n_state = (uint64_t)c->n_state;
    h->n_stats = (uint64_t)c->n_stats;
    h->n_order = (uint64_t)c->n_order;
    h->run_size = sizeof c->run;
    h->n_best = (uint64_t)c->n_best;
}

int rt_checkpoint_save(const char *path, const char *model_hash, const rt_checkpoint *c,
                       rt_error *err)
{
    checkpoint_header h;
    checkpoint_header_of(model_hash, c, &h);
    const void *ptr[CHECKPOINT_PARTS];
    size_t len[CHECKPOINT_PARTS], total = sizeof h + 4;
    size_t np = checkpoint_parts(c, ptr, len);
    for (size_t i = 0; i < np; i++) total += len[i];
    unsigned char *buf = malloc(total), *p = buf;
    if (!buf) return rt_fail(err, "%s: out of memory", path);
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    for (size_t i = 0; i < np; i++) {
        if (len[i]) memcpy(p, ptr[i], len[i]);
        p += len[i];
    }
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(p - buf));
    memcpy(p, &crc, 4);
    int rc = rt_write_atomic(path, buf, total, err);
    free(buf);
    return rc;
}

/* Whether the run state and data order at p (as in the file) are ones a
 * trainer can go on from: 0 if so. */
static int checkpoint_run_check(const unsigned char *p, int64_t n_order)
{
    rt_train_state run;
    memcpy(&run, p, sizeof run);
    if (run.step < 0 || run.epoch < 0 || run.pos < 0 || run.pos > n_order || run.correct < 0 ||
        run.seen < 0)
        return -1;
    const unsigned char *order = p + sizeof run;
    unsigned char *seen = calloc((size_t)n_order / 8 + 1, 1);
    if (!seen) return -1;
    int rc = 0;
    for (int64_t i = 0; i < n_order && !rc; i++) {
        int32_t r;
        memcpy(&r, order + sizeof r * (size_t)i, sizeof r);
        if (r < 0 || r >= n_order || seen[r / 8] & 1 << r % 8)
            rc = -1;
        else
            seen[r / 8] |= (unsigned char)(1 << r % 8);
    }
    free(seen);
    return rc;
}

int rt_checkpoint_load(const char *path, const char *model_hash, rt_checkpoint *c, rt_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    checkpoint_header want, h;
    checkpoint_header_of(model_hash, c, &want);
    const void *ptr[CHECKPOINT_PARTS];
    size_t len[CHECKPOINT_PARTS], total = sizeof h + 4;
    size_t np = checkpoint_parts(c, ptr, len);
    for (size_t i = 0; i < np; i++) total += len[i];
    unsigned char *buf = malloc(total + 1);
    int rc = -1;
    if (!buf) {
        fclose(f);
        return rt_fail(err, "%s: out of memory", path);
    }
    size_t got = fread(buf, 1, total + 1, f);
    fclose(f);
    if (got < sizeof h || memcmp(buf, CHECKPOINT_MAGIC, 8)) {
        rt_fail(err, "%s: not a trainc checkpoint", path);
        goto done;
    }
    memcpy(&h, buf, sizeof h);
    if (h.version != CHECKPOINT_VERSION || h.real_size != sizeof(real) ||
        h.run_size != want.run_size) {
        rt_fail(err,
                "%s: a checkpoint of another trainer (format %u, %u-byte values), not of this one",
                path, h.version, h.real_size);
        goto done;
    }
    if (memcmp(h.model_hash, want.model_hash, sizeof h.model_hash) || h.n_params != want.n_params ||
        h.n_state != want.n_state || h.n_stats != want.n_stats || h.n_order != want.n_order ||
        h.n_best != want.n_best) {
        rt_fail(err,
                "%s: a checkpoint of another model, optimizer or data (%.16s, %llu parameters, "
                "%llu optimizer state values, %llu rows), not of this one (%.16s, %ld, %ld, %lld)",
                path, h.model_hash, (unsigned long long)h.n_params, (unsigned long long)h.n_state,
                (unsigned long long)h.n_order, model_hash, c->n_params, c->n_state,
                (long long)c->n_order);
        goto done;
    }
    if (got > total) {
        rt_fail(err, "%s: damaged: longer than the %zu bytes of this model's checkpoint", path,
                total);
        goto done;
    }
    if (got < total) {
        rt_fail(err, "%s: damaged: %zu bytes, expected %zu", path, got, total);
        goto done;
    }
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(total - 4)), stored;
    memcpy(&stored, buf + total - 4, 4);
    if (crc != stored) {
        rt_fail(err, "%s: damaged: checksum mismatch", path);
        goto done;
    }
    /* the checksum only says the file is as written: a file made elsewhere
     * could still send the trainer outside its data, so the run state must
     * be one a trainer saves (the order a permutation, the row within it) */
    if (checkpoint_run_check(buf + sizeof h, c->n_order)) {
        rt_fail(err, "%s: damaged: the run state (steps, row, data order) is out of range", path);
        goto done;
    }
    unsigned char *p = buf + sizeof h;
    void *dst[CHECKPOINT_PARTS] = {&c->run, c->order, c->params, c->state, c->stats, c->best};
    for (size_t i = 0; i < np; i++) {
        if (len[i]) memcpy(dst[i], p, len[i]);
        p += len[i];
    }
    rc = 0;
done:
    free(buf);
    return rc;
}
