/* fuzz.h — shared by the libFuzzer targets in tests/fuzz/. The readers take
 * paths, so each input is written to an in-memory file (memfd) and read back
 * through /proc/self/fd/N: no disk traffic, nothing left behind.
 *
 * Besides "no crash, no sanitizer report", the targets check the readers'
 * promises and abort (a crash to libFuzzer) when one is broken: a refusal
 * names the file in its message; what is accepted is well formed. */
#ifndef FUZZ_H
#define FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>

#include "rt.h"

#define FUZZ_SLOTS 2

/* The path of a file holding data[0..size) (slot: which of the files). */
static inline const char *fuzz_file(int slot, const uint8_t *data, size_t size)
{
    static int fd[FUZZ_SLOTS] = {-1, -1};
    static char path[FUZZ_SLOTS][64];
    if (fd[slot] < 0) {
        fd[slot] = memfd_create("trainc-fuzz", 0);
        if (fd[slot] < 0) {
            perror("memfd_create");
            abort();
        }
        snprintf(path[slot], sizeof path[slot], "/proc/self/fd/%d", fd[slot]);
    }
    if (ftruncate(fd[slot], 0) != 0 || (size && pwrite(fd[slot], data, size, 0) != (ssize_t)size)) {
        perror("writing the fuzz input");
        abort();
    }
    return path[slot];
}

/* The path of a checksummed trainer file (weights, checkpoint) holding
 * data[0..size); when fix_crc, its last 4 bytes are first set to the CRC32
 * of the rest, so mutations get past the checksum to the code behind it. */
static inline const char *fuzz_crc_file(const uint8_t *data, size_t size, int fix_crc)
{
    uint8_t *file = malloc(size + 1);
    memcpy(file, data, size);
    if (fix_crc && size >= 4) {
        uint32_t crc = (uint32_t)crc32(0L, file, (uInt)(size - 4));
        memcpy(file + size - 4, &crc, 4);
    }
    const char *path = fuzz_file(0, file, size);
    free(file);
    return path;
}

/* A broken promise: say which and stop (libFuzzer keeps the input). */
#define FUZZ_REQUIRE(cond, ...)                                                                    \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: broken promise: %s: ", #cond);                                  \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* A refusal names one of the files it read and says something. */
static inline void fuzz_check_refusal(const rt_error *err, const char *path, const char *path2)
{
    FUZZ_REQUIRE(memchr(err->msg, '\0', sizeof err->msg) != NULL, "message not terminated");
    FUZZ_REQUIRE(strstr(err->msg, path) || (path2 && strstr(err->msg, path2)),
                 "the message does not name the file: %s", err->msg);
    FUZZ_REQUIRE(strlen(err->msg) > strlen(path) + 2, "no reason given: %s", err->msg);
}

/* A loaded data set: the shape asked for, finite features, labels that are
 * classes when classes > 0. */
static inline void fuzz_check_dataset(const rt_dataset *ds, int32_t d_expected, int32_t ylen,
                                      int32_t classes)
{
    FUZZ_REQUIRE(ds->n > 0 && ds->d > 0, "n %d d %d", (int)ds->n, (int)ds->d);
    FUZZ_REQUIRE(d_expected <= 0 || ds->d == d_expected, "d %d", (int)ds->d);
    FUZZ_REQUIRE(ds->ylen == ylen, "ylen %d", (int)ds->ylen);
    for (size_t i = 0; i < (size_t)ds->n * (size_t)ds->d; i++)
        FUZZ_REQUIRE(ds->x[i] - ds->x[i] == 0, "feature %zu is %g", i, (double)ds->x[i]);
    for (size_t i = 0; i < (size_t)ds->n * (size_t)ds->ylen; i++) {
        double v = ds->y[i];
        FUZZ_REQUIRE(v - v == 0, "label %zu is %g", i, v);
        if (classes > 0) FUZZ_REQUIRE(v >= 0 && v < classes && v == (int)v, "label %g", v);
    }
}

/* The features kept as stored (rt_data_open: IDX bytes, .npy mapped) give
 * the rows rt_data_load read as real; it refuses what loading refused.
 * loaded: the loaded data set (load_rc 0), or nothing. */
static inline void fuzz_check_stored(const rt_source *src, int32_t d_expected, int32_t ylen,
                                     int32_t classes, const rt_dataset *loaded, int load_rc)
{
    rt_dataset ds;
    rt_error err;
    int rc = rt_data_open(src, d_expected, ylen, classes, &ds, &err);
    FUZZ_REQUIRE((rc == 0) == (load_rc == 0), "open %d, load %d", rc, load_rc);
    if (rc) {
        fuzz_check_refusal(&err, src->images, src->labels);
        FUZZ_REQUIRE(!ds.x && !ds.y && !ds.xs.kind, "a refused open keeps buffers");
        return;
    }
    FUZZ_REQUIRE(ds.n == loaded->n && ds.d == loaded->d && ds.ylen == loaded->ylen,
                 "open %d x %d, load %d x %d", (int)ds.n, (int)ds.d, (int)loaded->n,
                 (int)loaded->d);
    real *row = malloc(sizeof(real) * (size_t)ds.d + 1), y[4];
    for (int32_t i = 0; i < ds.n; i++) {
        rt_data_gather(&ds, &i, 1, row, ds.ylen <= 4 ? y : NULL);
        FUZZ_REQUIRE(
            !memcmp(row, loaded->x + (size_t)i * (size_t)ds.d, sizeof(real) * (size_t)ds.d),
            "row %d differs from the loaded one", (int)i);
    }
    free(row);
    FUZZ_REQUIRE(!rt_data_read_error(&ds), "read error");
    rt_data_free(&ds);
}

#endif
