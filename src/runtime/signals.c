/*
 * signals.c — blocked stop signals, waited for by the main thread (see signals.h).
 */
#include "runtime/signals.h"

#include <pthread.h>

void cg_signals_block(sigset_t *set, bool with_reload)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    if (with_reload) sigaddset(set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

int cg_signals_wait(const sigset_t *set)
{
    int sig = 0;
    while (sigwait(set, &sig) != 0) {}
    return sig;
}

const char *cg_signals_name(int sig)
{
    return sig == SIGTERM  ? "SIGTERM"
           : sig == SIGINT ? "SIGINT"
           : sig == SIGHUP ? "SIGHUP"
                           : "a signal";
}
