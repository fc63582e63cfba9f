/* files.h — the unit tests' file helpers: raw writes, sizes, contents and
 * folder listings, to check what the runtime's writers leave on disk. */
#ifndef FILES_H
#define FILES_H

#include "check.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline int contains(const char *s, const char *part)
{
    return strstr(s, part) != NULL;
}

static inline int write_raw(const char *path, const void *buf, size_t len)
{
    FILE *f = fopen(path, "wb");
    if (!f) return -1;
    size_t w = fwrite(buf, 1, len, f);
    return fclose(f) == 0 && w == len ? 0 : -1;
}

static inline long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f) return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* A file's bytes, NUL-terminated (NULL if unreadable); free it */
static inline char *read_text(const char *path)
{
    long size = file_size(path);
    FILE *f = fopen(path, "rb");
    char *t = size >= 0 && f ? malloc((size_t)size + 1) : NULL;
    if (t && fread(t, 1, (size_t)size, f) == (size_t)size) {
        t[size] = 0;
    } else {
        free(t);
        t = NULL;
    }
    if (f) fclose(f);
    return t;
}

static inline int count_entries(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
    closedir(d);
    return n;
}

/* Runs test(dir) in a new temporary folder (named after the test), which
 * the test leaves empty, then removes it. */
static inline void in_temp_dir(const char *name, void (*test)(const char *dir))
{
    char dir[128];
    snprintf(dir, sizeof dir, "/tmp/trainc_%s_XXXXXX", name);
    if (mkdtemp(dir)) {
        test(dir);
        rmdir(dir);
    } else {
        CHECK(0, "create a temporary directory");
    }
}

#endif
