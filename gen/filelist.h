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

/* The -mpi trainer's build.ninja lines: target linked (rule mpilink) from
 * the plain trainer's objects but obj/mpi.o, which trainer's mpi.c gives
 * compiled with -DTRAINC_MPI (rule mpicc) as obj-mpi/mpi.o; with have_mpi
 * 0 (no Open MPI when trainc was configured) a target that says so. */
const char *filelist_mpi_build(arena *A, const filelist *trainer, const filelist *runtime,
                               const char *target, int have_mpi);

#endif
