/*
 * arena.c — bump allocator over a list of blocks. See arena.h.
 */
#include "common/arena.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARENA_BLOCK_MIN 4096
#define ARENA_ALIGN 16

typedef struct block {
    struct block *next;
    size_t size; /* usable bytes after the header */
    size_t used;
    _Alignas(ARENA_ALIGN) unsigned char data[];
} block;

struct cg_arena {
    block *head;
};

/* The arena itself lives at the start of its first block: a new arena costs one malloc. */
cg_arena *cg_arena_new(void)
{
    block *b = malloc(sizeof(block) + ARENA_BLOCK_MIN);
    if (!b) return NULL;
    size_t self = (sizeof(cg_arena) + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    b->next = NULL;
    b->size = ARENA_BLOCK_MIN;
    b->used = self;
    cg_arena *a = (cg_arena *)(void *)b->data;
    a->head = b;
    return a;
}

void cg_arena_free(cg_arena *a)
{
    if (!a) return;
    block *b = a->head; /* a is inside the last block of the list: not read after this */
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
}

void *cg_arena_alloc(cg_arena *a, size_t n)
{
    size_t need = (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
    if (need < n) return NULL;
    block *b = a->head;
    if (!b || b->size - b->used < need) {
        size_t size = need > ARENA_BLOCK_MIN ? need : ARENA_BLOCK_MIN;
        if (size > SIZE_MAX - sizeof(block)) return NULL;
        b = malloc(sizeof(block) + size);
        if (!b) return NULL;
        b->size = size;
        b->used = 0;
        b->next = a->head;
        a->head = b;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

char *cg_arena_strndup(cg_arena *a, const char *s, size_t n)
{
    if (!s) return NULL;
    char *p = cg_arena_alloc(a, n + 1);
    if (!p) return NULL;
    memcpy(p, s, n);
    p[n] = '\0';
    return p;
}

char *cg_arena_strdup(cg_arena *a, const char *s)
{
    return s ? cg_arena_strndup(a, s, strlen(s)) : NULL;
}

char *cg_arena_printf(cg_arena *a, const char *fmt, ...)
{
    va_list ap, copy;
    va_start(ap, fmt);
    va_copy(copy, ap);
    int n = vsnprintf(NULL, 0, fmt, copy);
    va_end(copy);
    char *p = n < 0 ? NULL : cg_arena_alloc(a, (size_t)n + 1);
    if (p) vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
