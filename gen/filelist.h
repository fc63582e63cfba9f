/* filelist.h — the files of the runtime and of the trainer as their FILES
 * lists them (runtime/FILES, templates/trainer/FILES: the one place each
 * list is written): trainc writes exactly those into out/<model>/ and fills
 * build.ninja's lines from the same list. */
#ifndef FILELIST_H
#define FILELIST_H

#include "arena.h"

#define FILELIST_MAX 64

typedef struct filelist {
    const char *files[FILELIST_MAX]; /* "rt.h", "rt_util.c", ... */
    int n;
    const char *build;   /* "build obj/rt_util.o: cc runtime/rt_util.c" lines, one per .c */
    const char *objects; /* their objects as build.ninja continuation lines */
} filelist;

/* Parses the text of a FILES list (one name a line; '#' starts a comment
 * line); path names it in errors; dir is where build.ninja finds the
 * files ("runtime/", or "" for the folder itself). */
int filelist_parse(arena *A, const char *text, const char *path, const char *dir, filelist *l,
                   char *err, size_t errsize);

#endif
