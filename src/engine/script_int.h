/*
 * script_int.h — what script.c and script_child.c share (private to them): the script and
 * job structs, and the child entry points the parent starts.
 */
#ifndef CG_SCRIPT_INT_H
#define CG_SCRIPT_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "common/buf.h"
#include "engine/script.h"

#define PYTHON_BIN "/usr/bin/python3"
#define PY_DIST "/usr/lib/python3/dist-packages" /* where python3-seccomp lives */
#define MAX_SOURCE (1u << 20)                    /* one script file */
#define MAX_STDERR 4096         /* kept for messages; the rest is read and dropped */
#define PY_BASE_AS (160u << 20) /* the interpreter's own address space, over the cap */

typedef struct script_source {
    char *name; /* as written in the spec (relative path), or "inline" */
    char *code;
    size_t len;
} script_source;

struct cg_script {
    char *name;
    cg_script_lang lang;
    script_source *src; /* dependencies in order, then the main script */
    size_t n_src;
};

struct cg_script_job {
    cg_loop *loop;
    const cg_script *script;
    cg_script_done_cb done;
    void *arg;
    pid_t pid;
    int pidfd, out_fd, err_fd;
    cg_buf out, err;
    uint64_t timer;      /* the timeout, or an early failure's report */
    uint64_t reap_timer; /* retries waitpid when there is no pidfd */
    bool out_eof, err_eof;
    uint64_t start_ns;
    long timeout_ms, statements;
    size_t memory;
    bool timed_out, too_big;
    cg_script_status early; /* a failure before the child ran, reported from a timer */
    char *early_msg;
};

_Noreturn void cg__script_child_emit(char code, const char *payload, size_t n);
_Noreturn void cg__script_js_child(const cg_script *s, const char *context_json, size_t memcap,
                                   long statements);
int cg__script_js_seccomp(void);
int cg__script_python_request(const cg_script *s, json_t *context, long statements);
void cg__script_child_fds(int out, int errfd);
void cg__script_child_rlimits(long timeout_ms);
/* the Python child's wrapper program (python3 -c), defined in script_child.c */
extern const char cg__script_py_wrapper[];

#endif
