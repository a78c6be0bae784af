/*
 * stdio_transport.c — MCP over stdin/stdout, for desktop clients that start capgate as a
 * child process. See mcp.h.
 *
 * The same protocol core as Streamable HTTP, framed as the stdio transport asks: one
 * JSON-RPC message per line on stdin, one per line on stdout (the core serialises with no
 * newline inside), nothing else on stdout, logs on stderr. There is one session, the
 * process itself; no headers, so no Origin checks and no caller credentials: upstream
 * calls use the configured key. A message carrying 2026-07-28's _meta (or server/discover)
 * is served statelessly by era.h beside that session, as on HTTP. Batches are refused (-32600): no stdio client sends them.
 *
 * It runs on its own cg_loop with its own engine, so tool calls are as asynchronous as on
 * HTTP: several may be in flight, answers go out in completion order, and a
 * notifications/cancelled aborts the upstream call. At end of input the calls still
 * running are answered, then the process exits 0; SIGTERM or SIGINT ends it at once (calls
 * cancelled), exiting 0 as cleanly. stdin that epoll cannot watch (a
 * regular file, /dev/null) is read from a zero-delay timer instead.
 */
#include "mcp/mcp.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/log.h"
#include "mcp/era.h"
#include "mcp/notify.h"
#include "mcp/protocol.h"
#include "mcp/tasks.h"

#define READ_CHUNK 65536

typedef struct scall {
    struct stdio_server *srv;
    cg_mcp_call *call;
    cg_call_job *job;
    struct scall *prev, *next;
    char task_id[CG_MCP_TASK_ID_MAX]; /* a task-augmented call's task, else "" */
} scall;

/* A tasks/result waiting for its task to end. */
typedef struct swait {
    char task_id[CG_MCP_TASK_ID_MAX];
    json_t *id;
    struct swait *next;
} swait;

typedef struct stdio_server {
    cg_loop *loop;
    cg_engine *engine;
    cg_mcp_core *core;
    cg_mcp_state state;
    cg_buf in;
    bool discarding; /* inside an over-long line: drop until its newline */
    bool eof;
    bool watched;    /* stdin is on the loop (else read from a timer) */
    bool out_broken; /* stdout is gone */
    scall *calls;
    cg_mcp_tasks *tasks; /* tasks.h; one session, whose id is "" */
    swait *waiting;
} stdio_server;

static void write_message(stdio_server *srv, json_t *msg)
{
    size_t len;
    char *text = msg ? cg_mcp_dump(msg, &len) : NULL;
    json_decref(msg);
    if (!text || srv->out_broken) {
        free(text);
        return;
    }
    text[len] = '\n'; /* replaces the terminator: len + 1 bytes go out */
    for (size_t off = 0; off < len + 1;) {
        ssize_t n = write(STDOUT_FILENO, text + off, len + 1 - off);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            srv->out_broken = true;
            break;
        }
        off += (size_t)n;
    }
    free(text);
}

/* Writes a call's response line (the fast path of protocol.h). */
static void write_call_reply(stdio_server *srv, const cg_mcp_call *c, const cg_call_result *res)
{
    cg_buf line = CG_BUF_INIT;
    if (cg_mcp_call_reply_text(c, res, &line) == 0 && cg_buf_append_str(&line, "\n") == 0 &&
        !srv->out_broken) {
        for (size_t off = 0; off < line.len;) {
            ssize_t n = write(STDOUT_FILENO, line.data + off, line.len - off);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) {
                srv->out_broken = true;
                break;
            }
            off += (size_t)n;
        }
    }
    cg_buf_free(&line);
}

static void maybe_finish(stdio_server *srv)
{
    if ((srv->eof || srv->out_broken) && !srv->calls) cg_loop_break(srv->loop);
}

static void progress(stdio_server *srv, const cg_mcp_call *c, double value, const char *message)
{
    json_t *p = cg_mcp_call_progress(c, value, 1, message);
    if (p) write_message(srv, cg_mcp_notification("notifications/progress", p));
}

static void unlink_call(scall *sc)
{
    stdio_server *srv = sc->srv;
    if (sc->prev) sc->prev->next = sc->next;
    else srv->calls = sc->next;
    if (sc->next) sc->next->prev = sc->prev;
}

/* Answers the tasks/result requests whose task has ended. */
static void answer_waiting(stdio_server *srv)
{
    for (swait **pp = &srv->waiting; *pp;) {
        swait *w = *pp;
        json_t *reply = cg_mcp_tasks_answer(srv->tasks, "", CG_MCP_TASK_RESULT, w->task_id, w->id,
                                            NULL);
        if (!reply) {
            pp = &w->next;
            continue;
        }
        write_message(srv, reply);
        *pp = w->next;
        json_decref(w->id);
        free(w);
    }
}

/* A task's call ended: its response goes to the task store. */
static void task_done(stdio_server *srv, scall *sc, const cg_call_result *res)
{
    cg_buf text = CG_BUF_INIT;
    if (cg_mcp_call_reply_text(sc->call, res, &text) < 0) cg_buf_reset(&text);
    cg_mcp_tasks_complete(srv->tasks, sc->task_id, text.data ? text.data : "", text.len);
    cg_buf_free(&text);
    answer_waiting(srv);
}

static void on_call_done(void *arg, cg_call_result *res)
{
    scall *sc = arg;
    stdio_server *srv = sc->srv;
    unlink_call(sc);
    if (sc->task_id[0]) {
        progress(srv, sc->call, 1, "upstream answered");
        task_done(srv, sc, res);
        cg_mcp_call_free(sc->call);
        free(sc);
        maybe_finish(srv);
        return;
    }
    json_t *note = cg_mcp_call_log(sc->call, res, &srv->state); /* notify.h */
    if (note) write_message(srv, note);
    progress(srv, sc->call, 1, "upstream answered");
    write_call_reply(srv, sc->call, res);
    cg_mcp_call_free(sc->call);
    free(sc);
    maybe_finish(srv);
}

static void start_call(stdio_server *srv, cg_mcp_call *call)
{
    scall *sc = calloc(1, sizeof *sc);
    if (!sc) {
        write_message(srv, cg_mcp_error(cg_mcp_call_id(call), CG_JSONRPC_INTERNAL_ERROR,
                                        "Internal error", NULL));
        cg_mcp_call_free(call);
        return;
    }
    sc->srv = srv;
    sc->call = call;
    long long ttl;
    if (cg_mcp_call_task(call, &ttl)) { /* answered at once with the task; the result waits */
        json_t *created = cg_mcp_tasks_start(srv->tasks, "", cg_mcp_call_id(call), ttl,
                                             sc->task_id);
        if (!created) {
            write_message(
                srv,
                cg_mcp_error(cg_mcp_call_id(call), CG_JSONRPC_INTERNAL_ERROR,
                             "Internal error: no task can be created now (too many tasks)", NULL));
            cg_mcp_call_free(call);
            free(sc);
            return;
        }
        write_message(srv, created);
    }
    cg_call_result now;
    if (cg_call_start(srv->engine, &cg_mcp_call_tool(call)->call, cg_mcp_call_lookup, call, NULL,
                      on_call_done, sc, &sc->job, &now) < 0) {
        json_t *note = sc->task_id[0] ? NULL : cg_mcp_call_log(call, &now, &srv->state);
        if (note) write_message(srv, note);
        if (sc->task_id[0]) task_done(srv, sc, &now);
        else write_call_reply(srv, call, &now);
        cg_mcp_call_free(call);
        free(sc);
        return;
    }
    sc->next = srv->calls;
    if (srv->calls) srv->calls->prev = sc;
    srv->calls = sc;
    progress(srv, call, 0, "sent to the upstream API");
}

static void cancel_call(stdio_server *srv, const json_t *id)
{
    for (scall *sc = srv->calls; sc; sc = sc->next)
        if (json_equal(cg_mcp_call_id(sc->call), id)) {
            cg_call_cancel(sc->job);
            unlink_call(sc);
            cg_mcp_call_free(sc->call);
            free(sc);
            return;
        }
}

/* A tasks/... request, from the task store; a tasks/result of a task still working waits. */
static void answer_task(stdio_server *srv, const cg_mcp_action *a)
{
    json_t *cancel_id = NULL;
    json_t *reply = cg_mcp_tasks_answer(srv->tasks, "", a->task_op, a->task_id, a->task_req_id,
                                        &cancel_id);
    if (cancel_id) {
        cancel_call(srv, cancel_id);
        json_decref(cancel_id);
    }
    if (reply) {
        write_message(srv, reply);
        answer_waiting(srv); /* a cancel ends the task: its waiters get their answer */
        return;
    }
    swait *w = calloc(1, sizeof *w);
    if (!w) {
        write_message(
            srv, cg_mcp_error(a->task_req_id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL));
        return;
    }
    snprintf(w->task_id, sizeof w->task_id, "%s", a->task_id);
    w->id = json_incref(a->task_req_id);
    w->next = srv->waiting;
    srv->waiting = w;
}

static void handle_line(stdio_server *srv, const char *line, size_t len)
{
    while (len && (line[len - 1] == '\r' || line[len - 1] == ' ' || line[len - 1] == '\t')) len--;
    if (!len) return;
    cg_mcp_quick q; /* a plain tools/call: no JSON tree (protocol.h) */
    cg_mcp_call *quick = !cg_mcp_quick_read(line, len, &q) ? NULL
                         : q.has_meta ? cg_mcp_era_quick_call(srv->core, &q, NULL)
                                      : cg_mcp_quick_call(srv->core, &srv->state, &q);
    if (quick) {
        start_call(srv, quick);
        return;
    }
    char err[160];
    json_t *msg = cg_mcp_parse(line, len, err, sizeof err);
    if (!msg) {
        write_message(srv, cg_mcp_invalid_reply(NULL, CG_JSONRPC_PARSE_ERROR, err));
        return;
    }
    const char *why = NULL;
    if (json_is_array(msg)) {
        write_message(srv, cg_mcp_invalid_reply(NULL, CG_JSONRPC_INVALID_REQUEST,
                                                "batches are not supported on stdio"));
    } else if (cg_mcp_classify(msg, &why) == CG_MCP_MSG_INVALID) {
        write_message(srv, cg_mcp_invalid_reply(msg, CG_JSONRPC_INVALID_REQUEST, why));
    } else {
        cg_mcp_action a;
        int status; /* unused: stdio has no HTTP status */
        if (cg_mcp_era_is_modern(msg, NULL)) cg_mcp_era_handle(srv->core, msg, NULL, &a, &status);
        else cg_mcp_handle(srv->core, &srv->state, msg, &a);
        if (a.act == CG_MCP_ACT_REPLY) {
            write_message(srv, a.reply);
            a.reply = NULL;
        } else if (a.act == CG_MCP_ACT_CALL) {
            start_call(srv, a.call);
            a.call = NULL;
        } else if (a.act == CG_MCP_ACT_CANCEL) {
            cancel_call(srv, a.cancel_id);
        } else if (a.act == CG_MCP_ACT_TASK) {
            answer_task(srv, &a);
        }
        cg_mcp_action_release(&a);
    }
    json_decref(msg);
}

/* Feeds bytes in; every complete line is a message. */
static void feed(stdio_server *srv, const char *data, size_t n)
{
    while (n) {
        const char *nl = memchr(data, '\n', n);
        size_t take = nl ? (size_t)(nl - data) : n;
        if (!srv->discarding && cg_buf_append(&srv->in, data, take) < 0) {
            write_message(
                srv, cg_mcp_invalid_reply(NULL, CG_JSONRPC_INVALID_REQUEST, "message too large"));
            cg_buf_reset(&srv->in);
            srv->discarding = true;
        }
        if (nl) {
            if (!srv->discarding) handle_line(srv, srv->in.data ? srv->in.data : "", srv->in.len);
            cg_buf_reset(&srv->in);
            srv->discarding = false;
            take++;
        }
        data += take;
        n -= take;
    }
}

static void read_some(stdio_server *srv)
{
    char buf[READ_CHUNK];
    ssize_t n = read(STDIN_FILENO, buf, sizeof buf);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) return;
    if (n <= 0) {
        if (srv->in.len && !srv->discarding) handle_line(srv, srv->in.data, srv->in.len);
        cg_buf_reset(&srv->in);
        srv->eof = true;
        if (srv->watched) cg_loop_io_remove(srv->loop, STDIN_FILENO);
        maybe_finish(srv);
        return;
    }
    feed(srv, buf, (size_t)n);
    if (srv->out_broken) maybe_finish(srv);
}

static void on_stdin(cg_loop *loop, int fd, unsigned events, void *arg)
{
    read_some(arg);
}

/* SIGTERM or SIGINT (a client that stops its server escalates to them): end at once, the
 * calls in progress cancelled, everything freed as on a normal end. */
static void on_signal(cg_loop *loop, int fd, unsigned events, void *arg)
{
    struct signalfd_siginfo si;
    if (read(fd, &si, sizeof si) == (ssize_t)sizeof si)
        cg_log(CG_LOG_INFO, "mcp", "stopping (signal %u)", si.ssi_signo);
    cg_loop_break(loop);
}

static void on_read_timer(cg_loop *loop, void *arg)
{
    stdio_server *srv = arg;
    read_some(srv);
    if (!srv->eof && !srv->out_broken) cg_loop_timer_add(loop, 0, on_read_timer, srv);
}

int cg_mcp_stdio_run(const cg_spec *spec, const cg_mcp_adapter *adapter,
                     const cg_engine_options *engine_options)
{
    char err[256];
    int rc = 1;
    stdio_server srv = {0};
    srv.in.max = CG_MCP_MAX_MESSAGE;
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop, old;
    sigemptyset(&stop);
    sigaddset(&stop, SIGTERM);
    sigaddset(&stop, SIGINT);
    sigprocmask(SIG_BLOCK, &stop, &old); /* before any thread starts: they inherit it */
    int sfd = signalfd(-1, &stop, SFD_NONBLOCK | SFD_CLOEXEC);
    srv.loop = cg_loop_create(err, sizeof err);
    if (!srv.loop) goto stdio_run_out;
    if (sfd >= 0) cg_loop_io_set(srv.loop, sfd, CG_LOOP_READ, on_signal, &srv);
    srv.engine = cg_engine_create(srv.loop, spec, engine_options, NULL, err, sizeof err);
    if (!srv.engine) goto stdio_run_out;
    srv.core = cg_mcp_core_create(spec, adapter, NULL);
    srv.tasks = cg_mcp_tasks_create(0);
    if (!srv.core || !srv.tasks) {
        snprintf(err, sizeof err, "out of memory");
        goto stdio_run_out;
    }
    if (cg_loop_io_set(srv.loop, STDIN_FILENO, CG_LOOP_READ, on_stdin, &srv) == 0)
        srv.watched = true;
    else if (!cg_loop_timer_add(srv.loop, 0, on_read_timer, &srv)) goto stdio_run_out;
    cg_log(CG_LOG_INFO, "mcp", "serving %zu tools on stdio", adapter->n_tools);
    if (cg_loop_run(srv.loop) < 0)
        snprintf(err, sizeof err, "event loop failed: %s", strerror(errno));
    else rc = 0;

stdio_run_out:
    if (rc) cg_log(CG_LOG_ERROR, "mcp", "%s", err);
    while (srv.calls) {
        scall *sc = srv.calls;
        srv.calls = sc->next;
        cg_call_cancel(sc->job);
        cg_mcp_call_free(sc->call);
        free(sc);
    }
    while (srv.waiting) {
        swait *w = srv.waiting;
        srv.waiting = w->next;
        json_decref(w->id);
        free(w);
    }
    cg_mcp_tasks_free(srv.tasks);
    cg_mcp_core_free(srv.core);
    cg_engine_free(srv.engine);
    if (sfd >= 0 && srv.loop) cg_loop_io_remove(srv.loop, sfd);
    cg_loop_free(srv.loop);
    if (sfd >= 0) close(sfd);
    sigprocmask(SIG_SETMASK, &old, NULL);
    cg_buf_free(&srv.in);
    return rc;
}
