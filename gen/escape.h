/* escape.h — strings from a spec or a path (file names, names, --set
 * values) made safe for the context they are written into: a file name
 * must never become code. One function per context; each returns the text
 * in the arena. */
#ifndef ESCAPE_H
#define ESCAPE_H

#include "arena.h"

/* A C string literal, quotes included ("NULL" for NULL), that the compiler
 * reads back as exactly the bytes of s under any standard: '"', '\\' and
 * '?' (trigraphs: -std=c11 reads "??/" as a backslash) escaped, every byte
 * outside printable ASCII as a 3-digit octal escape. */
const char *esc_c_string(arena *A, const char *s);

/* Text for the inside of a C block comment: never ends it ("* /" and
 * "/ *" are split by a backslash), no line break or control byte (as \n,
 * \xNN; a backslash as \\), no invalid UTF-8 and no Unicode control or
 * direction mark (as \xNN: text that would display otherwise than it
 * reads). It must not be glued to a '*' or '/' of the template. */
const char *esc_c_comment(arena *A, const char *s);

/* Text for a ninja comment (a line from '#'): no line break or control
 * byte, as esc_visible. */
const char *esc_ninja_comment(arena *A, const char *s);

/* A path or name as a ninja build statement reads it: '$', ' ' and ':'
 * escaped with '$'. NULL when s has a line break or control byte, which
 * ninja cannot escape: the caller refuses the name. */
const char *esc_ninja_path(arena *A, const char *s);

/* A name or path for a message on a terminal: printable text and valid
 * UTF-8 as they are, '\\' as \\, line breaks and other control bytes,
 * invalid UTF-8 and Unicode control marks as \n, \t, \xNN (a name cannot
 * move the cursor or recolour the terminal). Longer than max bytes (0: no
 * limit): the first max bytes, "...", and the length. */
const char *esc_visible(arena *A, const char *s, size_t max);

#endif
