/* about.h — what a trainer was made from, carried inside it: the spec's
 * bytes and trainc's options as one marked block of bytes (the generated
 * about.c), which `<model> info --spec` prints and `trainc gen
 * --from-binary` finds in the trainer's file and generates from again. */
#ifndef ABOUT_H
#define ABOUT_H

#include <stddef.h>

#include "arena.h"

#define ABOUT_MAX_SETS 64

typedef struct about {
    const char *version; /* trainc's */
    const char *path;    /* the spec's path as it was given */
    const char *text;    /* the spec's bytes */
    size_t len;
    char hash[17];
    int dbl, fuse, hvp;
    const char *sets[ABOUT_MAX_SETS]; /* "key=value", as --set gave them */
    int nsets;
} about;

/* FNV-1a over the spec's bytes and the --set values: the spec hash that
 * names the model in every generated file and in its weights */
void about_hash(const char *text, size_t len, const char *const *sets, int nsets, char out[17]);

/* The block's text lines; the spec's bytes follow them */
const char *about_header(arena *A, const about *a);

/* The block's bytes as a C initialiser (decimal, 16 to a line) and their
 * count; the spec's bytes start at *spec_at */
const char *about_c_bytes(arena *A, const about *a, long *count, long *spec_at);

/* A spec file's path and bytes into a (the options left 0): 0, or -1
 * with "PATH: cannot open: why" in err */
int about_spec_file(arena *A, const char *path, about *a, char *err, size_t errsize);

/* Reads the block back from a trainer's file: 0, or -1 with "PATH: what
 * is wrong" in err (no block, a cut or altered one) */
int about_read(arena *A, const char *binary, about *a, char *err, size_t errsize);

#endif
