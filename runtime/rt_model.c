/* rt_model.c — what the trainer does with a model's outputs and weights:
 * counting correct predictions per task, and the weights file format. */
#include "rt.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

long rt_count_correct(int task, const real *out, int out_len, const real *y, int label_len,
                      long rows)
{
    long correct = 0;
    for (long r = 0; r < rows; r++) {
        const real *o = out + r * out_len;
        const real *t = y + r * label_len;
        switch (task) {
        case RT_TASK_CLASSIFY: {
            int best = 0;
            for (int c = 1; c < out_len; c++)
                if (o[c] > o[best]) best = c;
            /* labels: a class index, or a distribution (kl_div) read by its argmax */
            int want = 0;
            if (label_len > 1) {
                for (int c = 1; c < label_len; c++)
                    if (t[c] > t[want]) want = c;
            } else {
                want = (int)t[0];
            }
            correct += best == want;
            break;
        }
        case RT_TASK_BINARY:
        case RT_TASK_LOGIT: {
            int all = 1;
            for (int c = 0; c < out_len; c++) {
                int p = task == RT_TASK_BINARY ? o[c] >= 0.5 : o[c] >= 0;
                all &= p == (t[c] > 0.5);
            }
            correct += all;
            break;
        }
        case RT_TASK_SIGN: {
            int all = 1;
            for (int c = 0; c < out_len; c++) all &= (o[c] >= 0) == (t[c] > 0);
            correct += all;
            break;
        }
        default:
            break;
        }
    }
    return correct;
}

/* The class and probabilities (or values) of one row of outputs. */
int rt_decide(int task, const real *z, int out_len, real *p)
{
    int cls = 0;
    switch (task) {
    case RT_TASK_CLASSIFY: {
        /* softmax of the logits, from the largest (no overflow) */
        double m = z[0], s = 0;
        for (int c = 1; c < out_len; c++) {
            if (z[c] > z[cls]) cls = c;
            if (z[c] > m) m = z[c];
        }
        for (int c = 0; c < out_len; c++) s += exp(z[c] - m);
        for (int c = 0; c < out_len; c++) p[c] = (real)(exp(z[c] - m) / s);
        break;
    }
    case RT_TASK_BINARY: /* the output is a probability already */
        cls = z[0] >= 0.5;
        p[0] = z[0];
        break;
    case RT_TASK_LOGIT: /* a logit: the probability is its sigmoid */
    case RT_TASK_SIGN:
        cls = z[0] >= 0 ? 1 : task == RT_TASK_SIGN ? -1 : 0;
        p[0] = (real)(1 / (1 + exp(-(double)z[0])));
        break;
    default: /* values */
        for (int c = 0; c < out_len; c++) p[c] = z[c];
        break;
    }
    return cls;
}

int rt_task_classes(int task, int out_len, int label_len)
{
    if (task == RT_TASK_CLASSIFY) return out_len;
    if ((task == RT_TASK_BINARY || task == RT_TASK_LOGIT || task == RT_TASK_SIGN) && out_len == 1 &&
        label_len == 1)
        return 2;
    return 0;
}

int rt_label_class(int task, const real *y)
{
    if (task == RT_TASK_CLASSIFY) return (int)y[0];
    return task == RT_TASK_BINARY || task == RT_TASK_LOGIT ? y[0] > 0.5 : y[0] > 0;
}

void rt_confusion_add(int task, const real *out, int out_len, const real *y, int label_len,
                      long rows, long *counts)
{
    int k = rt_task_classes(task, out_len, label_len);
    if (!k) return;
    for (long r = 0; r < rows; r++) {
        const real *o = out + r * out_len;
        int predicted = 0;
        if (task == RT_TASK_CLASSIFY) {
            for (int c = 1; c < out_len; c++)
                if (o[c] > o[predicted]) predicted = c;
        } else {
            /* the same thresholds as rt_count_correct */
            predicted = task == RT_TASK_BINARY ? o[0] >= 0.5 : o[0] >= 0;
        }
        int truth = rt_label_class(task, y + r * label_len);
        if (truth >= 0 && truth < k) counts[(long)truth * k + predicted]++;
    }
}

double rt_plateau_step(rt_plateau *p, double metric, double lr)
{
    if (!p->started) {
        p->started = 1;
        p->best = p->mode_max ? -INFINITY : INFINITY;
    }
    /* better than best by the threshold, in torch's four ways */
    double rel = p->mode_max ? 1 + p->threshold : 1 - p->threshold;
    int better =
        p->mode_max ? (p->threshold_abs ? metric > p->best + p->threshold : metric > p->best * rel)
                    : (p->threshold_abs ? metric < p->best - p->threshold : metric < p->best * rel);
    if (better) {
        p->best = metric;
        p->bad_epochs = 0;
    } else {
        p->bad_epochs++;
    }
    if (p->cooldown_left > 0) {
        p->cooldown_left--;
        p->bad_epochs = 0; /* bad epochs during the cooldown do not count */
    }
    if (p->bad_epochs > p->patience) {
        double reduced = lr * p->factor > p->min_lr ? lr * p->factor : p->min_lr;
        if (lr - reduced > p->eps) lr = reduced;
        p->cooldown_left = p->cooldown;
        p->bad_epochs = 0;
    }
    return lr;
}

#define WEIGHTS_MAGIC "TRAINCW\n"
#define WEIGHTS_VERSION 1u

typedef struct weights_header {
    char magic[8];
    uint32_t version;
    uint32_t real_size;
    char model_hash[16];
    uint64_t n_params;
    uint64_t n_stats;
} weights_header;

int rt_weights_save(const char *path, const char *model_hash, const rt_weights *w, rt_error *err)
{
    weights_header h;
    memset(&h, 0, sizeof h);
    memcpy(h.magic, WEIGHTS_MAGIC, 8);
    h.version = WEIGHTS_VERSION;
    h.real_size = sizeof(real);
    size_t hl = strlen(model_hash);
    memcpy(h.model_hash, model_hash, hl < sizeof h.model_hash ? hl : sizeof h.model_hash);
    h.n_params = (uint64_t)w->n_params;
    h.n_stats = (uint64_t)w->n_stats;
    size_t len = sizeof h + sizeof(real) * (size_t)(w->n_params + w->n_stats) + 4;
    unsigned char *buf = malloc(len);
    if (!buf) return rt_fail(err, "%s: out of memory", path);
    unsigned char *p = buf;
    memcpy(p, &h, sizeof h);
    p += sizeof h;
    memcpy(p, w->params, sizeof(real) * (size_t)w->n_params);
    p += sizeof(real) * (size_t)w->n_params;
    if (w->n_stats) memcpy(p, w->stats, sizeof(real) * (size_t)w->n_stats);
    p += sizeof(real) * (size_t)w->n_stats;
    uint32_t crc = (uint32_t)crc32(0L, buf, (uInt)(p - buf));
    memcpy(p, &crc, 4);
    int rc = rt_write_atomic(path, buf, len, err);
    free(buf);
    return rc;
}

int rt_weights_load(const char *path, const char *model_hash, rt_weights *w, rt_error *err)
{
    FILE *f = fopen(path, "rb");
    if (!f) return rt_fail(err, "%s: cannot open: %s", path, strerror(errno));
    /* one byte more than this model's weights file: enough to tell a longer
     * file, whatever its size, without reading it whole */
    size_t want = sizeof(weights_header) + sizeof(real) * (size_t)(w->n_params + w->n_stats) + 4;
    unsigned char *buf = malloc(want + 1);
    if (!buf) {
        fclose(f);
        return rt_fail(err, "%s: out of memory", path);
    }
    size_t len = fread(buf, 1, want + 1, f);
    fclose(f);
    int rc = rt_weights_from_buffer(buf, len, path, model_hash, w, err);
    free(buf);
    return rc;
}

int rt_weights_from_buffer(const void *data, size_t len, const char *name, const char *model_hash,
                           rt_weights *w, rt_error *err)
{
    const unsigned char *buf = data;
    const char *path = name ? name : "weights";
    weights_header h;
    if (!buf || len < sizeof h + 4 || memcmp(buf, WEIGHTS_MAGIC, 8))
        return rt_fail(err, "%s: not a trainc weights file", path);
    memcpy(&h, buf, sizeof h);
    if (h.version != WEIGHTS_VERSION)
        return rt_fail(err, "%s: weights format version %u, this trainer reads version %u", path,
                       h.version, WEIGHTS_VERSION);
    if (h.real_size != sizeof(real))
        return rt_fail(err, "%s: weights are %s, this trainer is %s", path,
                       h.real_size == 8 ? "double" : "float", RT_REAL_NAME);
    if (strncmp(h.model_hash, model_hash, sizeof h.model_hash) ||
        h.n_params != (uint64_t)w->n_params || h.n_stats != (uint64_t)w->n_stats)
        return rt_fail(err,
                       "%s: weights of another model (%.16s, %llu parameters), not of this one "
                       "(%.16s, %ld parameters)",
                       path, h.model_hash, (unsigned long long)h.n_params, model_hash, w->n_params);
    size_t want = sizeof h + sizeof(real) * (size_t)(w->n_params + w->n_stats) + 4;
    if (len > want)
        return rt_fail(err, "%s: damaged: longer than the %zu bytes of this model's weights", path,
                       want);
    if (len < want) return rt_fail(err, "%s: damaged: %zu bytes, expected %zu", path, len, want);
    uint32_t crc, stored;
    crc = (uint32_t)crc32(0L, buf, (uInt)(want - 4));
    memcpy(&stored, buf + want - 4, 4);
    if (crc != stored) return rt_fail(err, "%s: damaged: checksum mismatch", path);
    memcpy(w->params, buf + sizeof h, sizeof(real) * (size_t)w->n_params);
    if (w->n_stats)
        memcpy(w->stats, buf + sizeof h + sizeof(real) * (size_t)w->n_params,
               sizeof(real) * (size_t)w->n_stats);
    return 0;
}

/* ---- checkpoints ---- */

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
