/* writer.h — prints C text with indentation that follows the braces, into a
 * growable buffer; templates are filled from it by name. */
#ifndef WRITER_H
#define WRITER_H

#include <stddef.h>

typedef struct writer {
    char *buf;
    size_t len, cap;
    int indent;
} writer;

void wr_init(writer *w);
void wr_free(writer *w);
/* One line: leading '}' dedents, trailing '{' indents the lines after it. */
void wr_line(writer *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wr_blank(writer *w);
/* CODE with its COMMENT after it, or the comment above when the line would
 * pass clang-format's 100 columns at INDENT: clang-format would break the
 * code (a #define with a backslash) and leaves long comments long. */
void wr_commented(writer *w, int indent, const char *code, const char *comment);
void wr_raw(writer *w, const char *s);
/* takes the text, leaving the writer empty */
char *wr_take(writer *w);

/* Named holes: "{{name}}" in the template is replaced by the value of the key
 * of that name; a hole without a key is an error (returns NULL, sets *missing). */
typedef struct tpl_var {
    const char *key;
    const char *value;
} tpl_var;
char *tpl_fill(const char *text, const tpl_var *vars, int nvars, const char **missing);

#endif
