/*
 * tests/unit/child.h — a capgate command run in a child process of a unit test, its
 * output in files the test reads while it runs: fork with the output redirected, the
 * files' text, a line awaited in the log, a port read from it, the exit status. Header-only
 * (static inline); cmocka must be included first.
 */
#ifndef CG_TEST_CHILD_H
#define CG_TEST_CHILD_H

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Forks. In the child (0 returned) a crash is a crash again (not cmocka's handler),
 * close_fd is closed when >= 0 (a listener of the test's) and stdout, stderr go to the files
 * out, err (each left alone when NULL). The parent gets the child's pid. */
static inline pid_t child_fork(const char *out, const char *err, int close_fd)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGSEGV, SIG_DFL);
        signal(SIGABRT, SIG_DFL);
        if (close_fd >= 0) close(close_fd);
        const char *paths[2] = {out, err};
        for (int i = 0; i < 2; i++) {
            if (!paths[i]) continue;
            int fd = open(paths[i], O_WRONLY | O_CREAT | O_TRUNC, 0600);
            dup2(fd, i + 1);
            close(fd);
        }
    }
    return pid;
}

/* The text of the file at path so far (a static buffer of 16 KiB; "" when there is none). */
static inline const char *child_slurp(const char *path)
{
    static char buf[16384];
    buf[0] = '\0';
    FILE *in = fopen(path, "r");
    if (!in) return buf;
    size_t n = fread(buf, 1, sizeof buf - 1, in);
    buf[n] = '\0';
    fclose(in);
    return buf;
}

/* Waits up to 5 s for needle in the file at path: its text then, or the test fails. */
static inline const char *child_wait_log(const char *path, const char *needle)
{
    for (int i = 0; i < 250; i++) {
        const char *log = child_slurp(path);
        if (strstr(log, needle)) return log;
        usleep(20 * 1000);
    }
    fail_msg("'%s' never logged; the log:\n%s", needle, child_slurp(path));
    return NULL;
}

/* The port after "WHAT http://127.0.0.1:" in log ("REST on", "listening on"), 0 when it is
 * not there (yet). */
static inline int child_logged_port(const char *log, const char *what)
{
    char needle[64];
    snprintf(needle, sizeof needle, "%s http://127.0.0.1:", what);
    const char *p = strstr(log, needle);
    return p ? atoi(p + strlen(needle)) : 0;
}

/* The exit status of the child *pid (waits up to 5 s), -1 when a signal ended it; *pid
 * becomes 0. */
static inline int child_wait_exit(pid_t *pid)
{
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 500 && (got = waitpid(*pid, &status, WNOHANG)) == 0; i++) usleep(10 * 1000);
    assert_int_equal(got, *pid);
    *pid = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* Kills the child *pid, when there is one, and reaps it. */
static inline void child_kill(pid_t *pid)
{
    if (*pid > 0) {
        kill(*pid, SIGKILL);
        waitpid(*pid, NULL, 0);
    }
    *pid = 0;
}

#endif
