/* classify.c — a C program that uses a model trained by trainc, through the
 * inference API of its generated model.h, without the trainer: it loads
 * models/spirals.lua's weights and classifies the rows of a CSV file of
 * features, writing what the trainer's `predict` writes for them.
 *
 *   usage: classify WEIGHTS [FILE.csv]        (standard input without FILE)
 *          classify --from-memory WEIGHTS [FILE.csv]
 *
 * --from-memory reads the weights file into memory first and loads it with
 * spirals_load_buffer, as a program that embeds its weights would. How to
 * build it: models/embed/README.md. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h" /* from the generated folder, out/spirals/ */

/* Reads rows of SPIRALS_FEATURES numbers; a first line that is not numbers
 * is a header. Returns the rows (caller frees) and their count, or NULL. */
static real *read_rows(FILE *f, const char *name, int *rows)
{
    char line[1 << 16];
    real *x = NULL;
    int n = 0, cap = 0;
    long lineno = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            fprintf(stderr, "classify: %s:%ld: line too long\n", name, lineno);
            goto fail;
        }
        if (line[strspn(line, " \t\r\n")] == 0) continue; /* blank */
        if (n == cap) {
            cap = cap ? 2 * cap : 256;
            real *nx = realloc(x, sizeof(real) * (size_t)cap * SPIRALS_FEATURES);
            if (!nx) {
                fprintf(stderr, "classify: out of memory\n");
                goto fail;
            }
            x = nx;
        }
        char *p = line;
        for (int j = 0; j < SPIRALS_FEATURES; j++) {
            char *end;
            errno = 0;
            double v = strtod(p, &end);
            end += strspn(end, " \t");
            int sep_ok =
                j + 1 < SPIRALS_FEATURES ? *end == ',' : (*end == 0 || strchr("\r\n", *end));
            if (end == p || errno == ERANGE || !sep_ok) {
                if (lineno == 1 && n == 0 && j == 0) goto next_line; /* a header */
                fprintf(stderr, "classify: %s:%ld: expected %d numbers separated by commas\n", name,
                        lineno, SPIRALS_FEATURES);
                goto fail;
            }
            x[(size_t)n * SPIRALS_FEATURES + (size_t)j] = (real)v;
            p = end + 1;
        }
        n++;
    next_line:;
    }
    if (ferror(f)) {
        fprintf(stderr, "classify: %s: cannot read\n", name);
        goto fail;
    }
    *rows = n;
    return x ? x : malloc(sizeof(real));
fail:
    free(x);
    return NULL;
}

/* The whole file in memory, as a program that embeds its weights has them. */
static void *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    char *buf = NULL;
    size_t n = 0, cap = 0, got;
    do {
        if (n == cap) {
            char *nb = realloc(buf, cap = cap ? 2 * cap : 1 << 16);
            if (!nb) break;
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

int main(int argc, char **argv)
{
    int from_memory = argc > 1 && !strcmp(argv[1], "--from-memory");
    if (argc - from_memory < 2 || argc - from_memory > 3) {
        fprintf(stderr, "usage: classify [--from-memory] WEIGHTS [FILE.csv]\n");
        return 2;
    }
    const char *weights = argv[1 + from_memory];
    const char *input = argc - from_memory == 3 ? argv[2 + from_memory] : NULL;

    /* 1. the trained weights */
    int rc;
    if (from_memory) {
        size_t len = 0;
        void *buf = read_file(weights, &len);
        if (!buf) {
            fprintf(stderr, "classify: %s: %s\n", weights, strerror(errno));
            return 1;
        }
        rc = spirals_load_buffer(buf, len);
        free(buf); /* the model keeps its own copy */
    } else {
        rc = spirals_load(weights);
    }
    if (rc) {
        fprintf(stderr, "classify: %s\n", spirals_error());
        return 1;
    }

    /* 2. the rows */
    FILE *f = input ? fopen(input, "r") : stdin;
    if (!f) {
        fprintf(stderr, "classify: %s: %s\n", input, strerror(errno));
        return 1;
    }
    int rows = 0;
    real *x = read_rows(f, input ? input : "standard input", &rows);
    if (f != stdin) fclose(f);
    if (!x) return 1;

    /* 3. all rows in one call: the class and the probabilities of each */
    real *p = malloc(sizeof(real) * ((size_t)rows * SPIRALS_OUTPUTS + 1));
    int *cls = malloc(sizeof(int) * ((size_t)rows + 1));
    if (!p || !cls) {
        fprintf(stderr, "classify: out of memory\n");
        return 1;
    }
    if (spirals_classify(x, rows, cls, p)) {
        fprintf(stderr, "classify: %s\n", spirals_error());
        return 1;
    }

    /* 4. written as the trainer's predict writes them */
    printf("class");
    for (int k = 0; k < SPIRALS_OUTPUTS; k++) printf(",p%d", k);
    printf("\n");
    for (int r = 0; r < rows; r++) {
        printf("%d", cls[r]);
        for (int k = 0; k < SPIRALS_OUTPUTS; k++)
            printf(",%.6g", (double)p[(size_t)r * SPIRALS_OUTPUTS + (size_t)k]);
        printf("\n");
    }
    free(x);
    free(p);
    free(cls);
    spirals_free();
    return 0;
}
