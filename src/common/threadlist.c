/*
 * threadlist.c — see threadlist.h.
 */
#include "common/threadlist.h"

#include <stddef.h>

int cg_threads_start(cg_thread_node **list, cg_thread_node *node, void *(*fn)(void *))
{
    atomic_store(&node->done, 0);
    if (pthread_create(&node->thread, NULL, fn, node) != 0) return -1;
    node->next = *list;
    *list = node;
    return 0;
}

void cg_threads_done(cg_thread_node *node)
{
    atomic_store(&node->done, 1);
}

void cg_threads_reap(cg_thread_node **list, void (*release)(cg_thread_node *))
{
    while (*list) {
        cg_thread_node *n = *list;
        if (atomic_load(&n->done)) {
            pthread_join(n->thread, NULL);
            *list = n->next;
            release(n);
        } else {
            list = &n->next;
        }
    }
}

void cg_threads_join_all(cg_thread_node *list, void (*release)(cg_thread_node *))
{
    while (list) {
        cg_thread_node *next = list->next;
        pthread_join(list->thread, NULL);
        release(list);
        list = next;
    }
}
