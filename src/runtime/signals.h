/*
 * signals.h — how every long-running capgate command takes its signals.
 *
 * The main thread blocks the stop signals (and SIGHUP when the command reloads) before it
 * starts any thread, so every thread inherits the mask and none is interrupted; SIGPIPE is
 * ignored (a peer that goes away is an EPIPE, not a death). The main thread then waits in
 * cg_signals_wait (sigwait) and acts on what arrives.
 */
#ifndef CG_SIGNALS_H
#define CG_SIGNALS_H

#include <signal.h>
#include <stdbool.h>

/* Blocks SIGTERM and SIGINT (and SIGHUP when with_reload) in the calling thread and those
 * it starts, fills set with them, and ignores SIGPIPE. */
void cg_signals_block(sigset_t *set, bool with_reload);

/* Waits for one of the signals in set; returns it. */
int cg_signals_wait(const sigset_t *set);

/* "SIGTERM", "SIGINT", "SIGHUP" or "signal N" (a static string for the first three). */
const char *cg_signals_name(int sig);

#endif
