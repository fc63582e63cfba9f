/* rt_weights.c — the weights file: a header (magic, format version, element
 * size, model hash, counts), the parameters, the standardisation statistics
 * and a CRC32 of all that, written atomically. */
#include "rt.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

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
