/*
 * threadlist.h — a list of joinable threads that are joined, never detached: each thread
 * says when it is done, whoever starts the next one joins the finished ones, and a stop
 * joins them all. studio's predict-all workers and webhook senders are kept this way.
 *
 * Intrusive: a caller's record starts with a cg_thread_node, and the thread function gets
 * that record. The list itself takes no lock; callers serialize start, reap and detach.
 */
#ifndef CG_THREADLIST_H
#define CG_THREADLIST_H

#include <pthread.h>
#include <stdatomic.h>

typedef struct cg_thread_node {
    struct cg_thread_node *next;
    pthread_t thread;
    atomic_int done; /* set by the thread as it ends: it can be joined */
} cg_thread_node;

/* Runs fn(node) on a new thread and puts node on *list. 0, or -1 (node is not linked). */
int cg_threads_start(cg_thread_node **list, cg_thread_node *node, void *(*fn)(void *));
/* A thread's last step: marks its node joinable. */
void cg_threads_done(cg_thread_node *node);
/* Joins and unlinks the threads that are done, handing each node to release. */
void cg_threads_reap(cg_thread_node **list, void (*release)(cg_thread_node *));
/* Joins every thread of list (waiting for each), handing each node to release. */
void cg_threads_join_all(cg_thread_node *list, void (*release)(cg_thread_node *));

#endif
