/* owner.h — which spec an output folder was generated from, kept in the
 * folder's .trainc-spec: two specs whose models have one name must not
 * overwrite each other's folder (and its trained weights) unseen. */
#ifndef OWNER_H
#define OWNER_H

#include <stddef.h>

#include "arena.h"

#define OWNER_FILE ".trainc-spec"

/* 0: dir may be written for spec (no .trainc-spec, the same spec, edited
 * or not, or force); 2: it was generated from another spec (err says
 * which); 1: .trainc-spec cannot be read. */
int owner_check(arena *A, const char *dir, const char *spec, int force, char *err, size_t errsize);
/* Records spec (its absolute path) and its hash in dir: 0, or -1 and err. */
int owner_write(arena *A, const char *dir, const char *spec, const char *hash, char *err,
                size_t errsize);

#endif
