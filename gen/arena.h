/* arena.h — one allocation arena per run of the generator: everything the
 * stages make lives here and is freed at once at the end. */
#ifndef ARENA_H
#define ARENA_H

#include <stddef.h>

typedef struct arena_block arena_block;
typedef struct arena {
    arena_block *head;
} arena;

void *arena_alloc(arena *A, size_t size); /* zeroed; aborts only on OOM */
char *arena_strdup(arena *A, const char *s);
char *arena_printf(arena *A, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void arena_free(arena *A);

#endif
