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
            correct += best == (int)t[0];
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
    unsigned char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len == cap) {
            cap = cap ? cap * 2 : 1 << 16;
            unsigned char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return rt_fail(err, "%s: out of memory", path);
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) break;
    }
    fclose(f);
    int rc = -1;
    weights_header h;
    if (len < sizeof h + 4 || memcmp(buf, WEIGHTS_MAGIC, 8)) {
        rt_fail(err, "%s: not a trainc weights file", path);
        goto done;
    }
    memcpy(&h, buf, sizeof h);
    if (h.version != WEIGHTS_VERSION) {
        rt_fail(err, "%s: weights format version %u, this trainer reads version %u", path,
                h.version, WEIGHTS_VERSION);
        goto done;
    }
    if (h.real_size != sizeof(real)) {
        rt_fail(err, "%s: weights are %s, this trainer is %s", path,
                h.real_size == 8 ? "double" : "float", RT_REAL_NAME);
        goto done;
    }
    if (strncmp(h.model_hash, model_hash, sizeof h.model_hash) ||
        h.n_params != (uint64_t)w->n_params || h.n_stats != (uint64_t)w->n_stats) {
        rt_fail(err,
                "%s: weights of another model (%.16s, %llu parameters), not of this one (%.16s, "
                "%ld parameters)",
                path, h.model_hash, (unsigned long long)h.n_params, model_hash, w->n_params);
        goto done;
    }
    size_t want = sizeof h + sizeof(real) * (size_t)(w->n_params + w->n_stats) + 4;
    if (len != want) {
        rt_fail(err, "%s: damaged: %zu bytes, expected %zu", path, len, want);
        goto done;
    }
    uint32_t crc, stored;
    crc = (uint32_t)crc32(0L, buf, (uInt)(want - 4));
    memcpy(&stored, buf + want - 4, 4);
    if (crc != stored) {
        rt_fail(err, "%s: damaged: checksum mismatch", path);
        goto done;
    }
    memcpy(w->params, buf + sizeof h, sizeof(real) * (size_t)w->n_params);
    if (w->n_stats)
        memcpy(w->stats, buf + sizeof h + sizeof(real) * (size_t)w->n_params,
               sizeof(real) * (size_t)w->n_stats);
    rc = 0;
done:
    free(buf);
    return rc;
}
