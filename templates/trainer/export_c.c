/* {{header}}
 *
 * export_c.c — the export-c command of the trainer of {{name}}: DIR/{{name}}_infer.h
 * and DIR/{{name}}_infer.c, the forward pass in evaluation mode as plain C
 * with the trained weights as static const arrays. trainc wrote the text
 * (gen/emit_export.c); this fills in the weights, each with %.9g (float:
 * read back exactly) or %.17g (double), and writes both files atomically. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "trainer.h"

/* the files' text, a line a string; the weights go between head and body */
static const char *const infer_h[] = {
{{infer_h}}    NULL};
static const char *const infer_head[] = {
{{infer_head}}    NULL};
static const char *const infer_body[] = {
{{infer_body}}    NULL};

/* each array the forward pass reads: its C name, what it is, and where its
 * values are: the statistics (mean, std) or the weights, at offset */
typedef struct infer_array {
    const char *name, *what;
    int stats;
    long offset, count;
} infer_array;
static const infer_array infer_arrays[] = {
{{infer_arrays}}    {NULL, NULL, 0, 0, 0}};

static void put_lines(FILE *f, const char *const *lines)
{
    for (; *lines; lines++) fputs(*lines, f);
}

/* one value as a C literal of the element type that reads back as its bits */
static void put_value(FILE *f, real v)
{
    char t[40];
    snprintf(t, sizeof t, sizeof(real) == sizeof(float) ? "%.9g" : "%.17g", (double)v);
    fputs(t, f);
    if (!strpbrk(t, ".e")) fputc('.', f); /* 1 -> 1.f, not 1f */
    if (sizeof(real) == sizeof(float)) fputc('f', f);
}

/* the arrays, or -1 (the message printed) when a value is not finite */
static int put_arrays(FILE *f, const real *param, const real *stats)
{
    for (const infer_array *a = infer_arrays; a->name; a++) {
        const real *v = (a->stats ? stats : param) + a->offset;
        fprintf(f, "\n/* %s */\nstatic const real %s[%ld] = {", a->what, a->name, a->count);
        for (long i = 0; i < a->count; i++) {
            if (!isfinite(v[i])) {
                fprintf(stderr, "%s: export-c: %s[%ld] is %g: the weights are not finite\n",
                        MODEL_NAME, a->name, i, (double)v[i]);
                return -1;
            }
            fputs(i % 8 ? ", " : i ? ",\n    " : "\n    ", f);
            put_value(f, v[i]);
        }
        fputs("\n};\n", f);
    }
    return 0;
}

/* text in memory, then path atomically (a reader never sees half a file) */
static int write_text(const char *path, char *text, size_t len)
{
    rt_error err;
    int rc = rt_write_atomic(path, text, len, &err);
    free(text);
    if (rc) fprintf(stderr, "%s: %s\n", MODEL_NAME, err.msg);
    return rc;
}

int tr_cmd_export_c(const options *o)
{
    if (!o->arg) tr_die_usage("%s", "export-c needs a folder");
    if (!infer_body[0]) {
        fprintf(stderr, "%s: export-c: the model has no output to predict (a bare objective)\n",
                MODEL_NAME);
        return 1;
    }
    buffers b = tr_alloc_buffers(0);
    tr_load_weights(o, &b);
    if (mkdir(o->arg, 0777) && errno != EEXIST) {
        fprintf(stderr, "%s: %s: cannot create: %s\n", MODEL_NAME, o->arg, strerror(errno));
        return 1;
    }
    char path[4096];
    char *text = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&text, &len);
    if (!f) tr_die_usage("%s", "out of memory");
    put_lines(f, infer_head);
    int bad = put_arrays(f, b.param, b.stats);
    put_lines(f, infer_body);
    if (fclose(f) || bad) {
        free(text);
        return 1;
    }
    snprintf(path, sizeof path, "%s/%s_infer.c", o->arg, MODEL_NAME);
    if (write_text(path, text, len)) return 1;
    f = open_memstream(&text, &len);
    if (!f) tr_die_usage("%s", "out of memory");
    put_lines(f, infer_h);
    fclose(f);
    snprintf(path, sizeof path, "%s/%s_infer.h", o->arg, MODEL_NAME);
    if (write_text(path, text, len)) return 1;
    if (!o->quiet)
        printf("wrote %s/%s_infer.c and %s_infer.h (%s_predict, weights built in)\n", o->arg,
               MODEL_NAME, MODEL_NAME, MODEL_NAME);
    return 0;
}
