/*
 * arena.h — a bump allocator: many small allocations, one free.
 *
 * The spec model and per-request scratch strings are allocated from an arena so that their
 * owner frees everything with one call (cg_arena_free) and no field is freed piecemeal.
 * Memory comes in blocks of at least 4 KiB; allocations are 16-byte aligned.
 */
#ifndef CG_ARENA_H
#define CG_ARENA_H

#include <stddef.h>

typedef struct cg_arena cg_arena;

/* A new empty arena, or NULL when out of memory. */
cg_arena *cg_arena_new(void);

/* Frees the arena and everything allocated from it. NULL is fine. */
void cg_arena_free(cg_arena *a);

/* n zeroed bytes, or NULL when out of memory. */
void *cg_arena_alloc(cg_arena *a, size_t n);

/* Copies of a string / n bytes as a NUL-terminated string. NULL in, NULL out. */
char *cg_arena_strdup(cg_arena *a, const char *s);
char *cg_arena_strndup(cg_arena *a, const char *s, size_t n);

/* printf into arena memory. */
char *cg_arena_printf(cg_arena *a, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
