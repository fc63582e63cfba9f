/* rtlist.h — the runtime's files as runtime/FILES lists them (the one place
 * the list is written): trainc copies exactly those into out/<model>/runtime/
 * and fills build.ninja's runtime lines from the same list. */
#ifndef RTLIST_H
#define RTLIST_H

#include "arena.h"

#define RTLIST_MAX 64

typedef struct rtlist {
    const char *files[RTLIST_MAX]; /* "rt.h", "rt_util.c", ... */
    int n;
    const char *build;   /* "build obj/rt_util.o: cc runtime/rt_util.c" lines, one per .c */
    const char *objects; /* their objects as build.ninja continuation lines */
} rtlist;

/* Parses the text of runtime/FILES (one name a line; '#' starts a comment
 * line); path names it in errors. */
int rtlist_parse(arena *A, const char *text, const char *path, rtlist *l, char *err,
                 size_t errsize);

#endif
