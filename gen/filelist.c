/* filelist.c — reads a FILES list and writes the build.ninja lines of the
 * files it lists (see filelist.h). */
#include "filelist.h"

#include <stdio.h>
#include <string.h>

/* build.ninja's continuation lines hold the objects up to this column */
#define NINJA_COLUMNS 100

int filelist_parse(arena *A, const char *text, const char *path, const char *dir, filelist *l,
                   char *err, size_t errsize)
{
    memset(l, 0, sizeof *l);
    const char *build = "", *objects = "    ";
    size_t column = 4;
    for (const char *p = text; *p;) {
        size_t len = strcspn(p, "\n");
        if (len > 0 && *p != '#') {
            if (l->n == FILELIST_MAX) {
                snprintf(err, errsize, "%s: more than %d files", path, FILELIST_MAX);
                return -1;
            }
            const char *name = arena_printf(A, "%.*s", (int)len, p);
            l->files[l->n++] = name;
            if (len > 2 && !strcmp(name + len - 2, ".c")) {
                int stem = (int)len - 2;
                build = arena_printf(A, "%s%sbuild obj/%.*s.o: cc %s%s", build, *build ? "\n" : "",
                                     stem, name, dir, name);
                /* "obj/" stem ".o", a space before it, " $" after it when wrapped */
                size_t width = 4 + (size_t)stem + 2;
                if (column > 4 && column + 1 + width + 2 > NINJA_COLUMNS) {
                    objects = arena_printf(A, "%s $\n    ", objects);
                    column = 4;
                }
                objects =
                    arena_printf(A, "%s%sobj/%.*s.o", objects, column > 4 ? " " : "", stem, name);
                column += (column > 4) + width;
            }
        }
        p += len + (p[len] == '\n');
    }
    l->build = build;
    l->objects = objects;
    return 0;
}

const char *filelist_mpi_build(arena *A, const filelist *trainer, const filelist *runtime,
                               const char *target, int have_mpi)
{
    if (!have_mpi) return arena_printf(A, "build %s-mpi: mpi_missing", target);
    /* the trainer's objects with obj/mpi.o as obj-mpi/mpi.o */
    const char *objects = trainer->objects, *at = strstr(objects, "obj/mpi.o");
    if (at)
        objects = arena_printf(A, "%.*sobj-mpi/mpi.o%s", (int)(at - objects), objects,
                               at + strlen("obj/mpi.o"));
    return arena_printf(
        A,
        "build obj-mpi/mpi.o: mpicc mpi.c\n"
        "build %s-mpi: mpilink obj/model.o obj/model_consts.o obj/predict.o obj/about.o $\n%s $\n%s",
        target, objects, runtime->objects);
}
