/* owner.c — the spec an output folder belongs to (see owner.h): the
 * spec's absolute path, as esc_visible shows it (one line whatever the
 * path), and its hash for people reading the file. */
#include "owner.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../runtime/rt.h"
#include "escape.h"

/* The spec's identity: its absolute path on one line (a spec moved
 * elsewhere is another spec; an edited one is the same). */
static const char *identity(arena *A, const char *spec)
{
    char *abs = realpath(spec, NULL);
    const char *id = esc_visible(A, abs ? abs : spec, 0);
    free(abs);
    return id;
}

/* The "spec " line of the file at path: NULL (and errno) when unreadable,
 * "" when the file has none. */
static const char *stored_spec(arena *A, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) return NULL;
    char line[16384];
    const char *found = "";
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, "spec ", 5)) {
            line[strcspn(line, "\n")] = 0;
            found = arena_strdup(A, line + 5);
            break;
        }
    fclose(f);
    return found;
}

int owner_check(arena *A, const char *dir, const char *spec, int force, char *err, size_t errsize)
{
    const char *path = arena_printf(A, "%s/%s", dir, OWNER_FILE);
    const char *stored = stored_spec(A, path);
    if (!stored) {
        if (errno == ENOENT) return 0;
        snprintf(err, errsize, "%s: cannot read: %s", path, strerror(errno));
        return 1;
    }
    const char *mine = identity(A, spec);
    if (force || !*stored || !strcmp(stored, mine)) return 0;
    snprintf(err, errsize,
             "%s: generated from another spec, %s (this one is %s); give this model another "
             "name (model \"...\") or folder (-o DIR), or overwrite it with --force",
             esc_visible(A, dir, 0), stored, mine);
    return 2;
}

int owner_write(arena *A, const char *dir, const char *spec, const char *hash, char *err,
                size_t errsize)
{
    const char *text = arena_printf(A,
                                    "# trainc: the spec this folder was generated from; trainc "
                                    "refuses to overwrite it from another spec unless --force\n"
                                    "spec %s\nhash %s\n",
                                    identity(A, spec), hash);
    rt_error e;
    if (rt_write_atomic(arena_printf(A, "%s/%s", dir, OWNER_FILE), text, strlen(text), &e) == 0)
        return 0;
    snprintf(err, errsize, "%s", e.msg);
    return -1;
}
