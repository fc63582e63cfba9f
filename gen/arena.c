/* arena.c — the generator's bump allocator (see arena.h). */
#include "arena.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct arena_block {
    arena_block *next;
    size_t used, size;
    max_align_t data[];
};

void *arena_alloc(arena *A, size_t size)
{
    size = (size + sizeof(max_align_t) - 1) / sizeof(max_align_t) * sizeof(max_align_t);
    arena_block *b = A->head;
    if (!b || b->used + size > b->size) {
        size_t cap = size > 65536 ? size : 65536;
        b = malloc(sizeof *b + cap);
        if (!b) {
            fputs("trainc: out of memory\n", stderr);
            abort();
        }
        b->next = A->head;
        b->used = 0;
        b->size = cap;
        A->head = b;
    }
    void *p = (char *)b->data + b->used;
    b->used += size;
    memset(p, 0, size);
    return p;
}

char *arena_strdup(arena *A, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = arena_alloc(A, n);
    memcpy(p, s, n);
    return p;
}

char *arena_printf(arena *A, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    char *p = arena_alloc(A, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}

void arena_free(arena *A)
{
    while (A->head) {
        arena_block *next = A->head->next;
        free(A->head);
        A->head = next;
    }
}
