/*
 * http_transport.c — MCP Streamable HTTP on a worker's event loop. See mcp.h.
 *
 * It runs on capgate's own HTTP/1.1 server (net/h1_server.h), the one the REST adapter
 * uses, so every HTTP-layer rule holds here too: request smuggling refused, 414/431/501/505
 * as problem+json, slow heads closed, pipelining, request lines that cannot be HTTP/1.x
 * refused at once. One endpoint, /mcp. A request is screened in the order of the transport
 * checklist (path, method, Host/Origin, inbound token, Accept, Content-Type, session,
 * protocol version) as soon as its headers are in (on_head), so a refusal never waits for
 * a body. A POST's body (on_body) is parsed and each JSON-RPC message goes through the
 * protocol core (protocol.h) under the session store's lock; what the core decides is
 * carried out here:
 *
 *   - replies that are ready at once are sent as one application/json response;
 *   - a tools/call starts an operation call (engine/call.h); the request simply stays
 *     unanswered until the completion callback (on this loop's thread) answers it — no
 *     suspend/resume, no extra system calls;
 *   - a tools/call that carries a progressToken is answered as text/event-stream (a
 *     streamed, chunked answer): a priming event and a progress notification go out at
 *     once, then progress 1 and the result when the upstream answers, and the stream ends;
 *   - GET opens the session's one server-to-client stream, which carries only heartbeat
 *     comments (this server sends no unsolicited messages); DELETE ends the session;
 *   - a POST of revision 2026-07-28 (era.h: its _meta, or MCP-Protocol-Version 2026-07-28)
 *     skips sessions altogether (handle_modern): the headers are checked against the body,
 *     the answer is the same JSON or SSE without event ids, and the connection closing
 *     before the answer cancels the call (cg_h1s_cancel_on_close); GET and DELETE naming
 *     that revision are 405.
 *
 * The only cross-thread entry is the mailbox: notifications/cancelled may arrive on any
 * worker, which broadcasts "cancel request ID of session S" to every worker's mailbox
 * (a mutex-guarded queue plus an eventfd on the worker's loop); each worker cancels its
 * own matching call. No pointer ever crosses threads.
 *
 * Ownership: an mreq is created in on_head and freed only in on_end (the request is over:
 * answered and sent, or the connection died first), which also cancels whatever calls it
 * still has running. Answering from the loop (cg_h1s_respond, cg_h1s_stream_*) may run
 * on_end before it returns, so nothing touches an mreq after answering it.
 * Size: the whole Streamable HTTP transport (screening, sessions, SSE, mailbox) on one request.
 */
#include "mcp/mcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "common/mediatype.h"
#include "net/h1_server.h"
#include "mcp/era.h"
#include "mcp/notify.h"
#include "mcp/protocol.h"
#include "mcp/redis_store.h"
#include "mcp/replay.h"
#include "mcp/session.h"
#include "mcp/tasks.h"

#define MAX_WORKERS 64
/* A lone tools/call not answered within this time moves to an SSE stream (priming event
 * with an id), so that a dropped connection can be resumed (replay.h). */
#define SSE_AFTER_MS 2000
/* The reconnection delay suggested to clients in the priming event (SSE `retry`). */
#define SSE_RETRY_MS 500
/* How often a resumed stream looks for new events of a call still running (on any worker). */
#define RESUME_POLL_MS 100

/* --- shared by every worker ------------------------------------------------------------ */

struct cg_mcp_shared {
    const cg_spec *spec;
    const cg_mcp_adapter *adapter;
    cg_mcp_http_options opt;
    cg_mcp_core *core;
    cg_mcp_sessions *sessions;
    cg_redis_store *redis; /* CAPGATE_REDIS_URL: session ends shared, else NULL */
    cg_mcp_replay *replay; /* events of the POST streams, for GET + Last-Event-ID */
    cg_mcp_tasks *tasks;   /* task-augmented calls and their results */
    char address[64];
    int port;                /* bound port once the first worker started */
    atomic_ullong event_seq; /* SSE event ids: unique in the process, so in every session
                                 * whichever worker its streams land on */
    pthread_mutex_t lock;    /* guards workers[] */
    cg_mcp_http *workers[MAX_WORKERS];
    int n_workers;
};

/* A cancellation on its way to a worker. */
typedef struct cancel_msg {
    char sid[CG_MCP_SESSION_ID_LEN + 1];
    json_t *id;
    struct cancel_msg *next;
} cancel_msg;

typedef struct mreq mreq;

/* One tools/call in progress. */
typedef struct mcall {
    cg_mcp_http *h;
    mreq *req; /* NULL once detached: its stream dropped, and the call goes
                                 * on so that its result waits in the replay buffer */
    cg_mcp_call *call;
    cg_call_job *job;
    struct mcall *prev, *next; /* the worker's in-flight list */
    struct mcall *rnext;       /* the request's calls */
    struct timespec t0;        /* for the console's feed */
    char sid[CG_MCP_SESSION_ID_LEN + 1];
    cg_mcp_replay_stream rs; /* its SSE stream's events, when resumable */
    bool resumable;
    bool modern;                      /* 2026-07-28 (era.h): no event ids, no replay */
    char task_id[CG_MCP_TASK_ID_MAX]; /* a task-augmented call's task, else "" */
} mcall;

struct cg_mcp_http {
    cg_mcp_shared *shared;
    cg_engine *engine;
    const cg_mcp_core *core; /* the core (and spec) this worker's new messages use:
                                 * the shared one until a reload (cg_mcp_http_reload) */
    cg_loop *loop;
    cg_h1s *server;
    int mailbox_fd;
    pthread_mutex_t mailbox_lock;
    cancel_msg *mailbox;
    mcall *calls;  /* calls in progress */
    mreq *streams; /* open SSE responses (GET and progress streams) */
    int active;
    uint64_t heartbeat_timer;
    uint64_t poll_timer; /* resumed streams looking for new events, tasks/result waiting */
    int n_polled;
    bool stopping;
};

enum { M_POST = 1, M_GET, M_DELETE };

struct mreq {
    cg_mcp_http *h;
    cg_h1s_request *hrq;
    int method;
    char sid[CG_MCP_SESSION_ID_LEN + 1];
    char *authorization;       /* the caller's own, forwarded upstream */
    const char *challenge;     /* WWW-Authenticate of a 401, else NULL */
    cg_redis_wait *redis_wait; /* DELETE: waiting for Redis to relay the end */
    /* POST */
    cg_buf replies; /* responses gathered so far, serialised, comma-separated */
    size_t n_replies;
    bool batch;
    int pending; /* calls still running */
    mcall *calls;
    bool new_session; /* initialize made sid: send Mcp-Session-Id */
    bool answered;    /* an answer has begun */
    bool modern;      /* served under 2026-07-28 (era.h): no session, no event ids */
    bool bad_version; /* MCP-Protocol-Version names no revision we speak */
    /* SSE */
    bool sse;
    bool get_stream;
    bool sse_ended;                         /* we ended the stream (not the peer) */
    uint64_t sse_timer;                     /* moves a slow lone call to SSE (SSE_AFTER_MS) */
    mcall *sse_call;                        /* the lone call of a POST that may stream */
    bool resumed;                           /* a GET + Last-Event-ID following a POST's stream */
    cg_mcp_replay_stream resume_at;         /* ... and the last event it has sent */
    char resume_from[CG_MCP_REPLAY_ID_MAX]; /* with Redis: a Last-Event-ID not known yet */
    uint64_t resume_retry;                  /* ... and the timer that looks again */
    int resume_tries;
    json_t *sync_note; /* the log notification of a lone call that failed at once */
    bool task_wait;    /* a tasks/result waiting for its task to end */
    char wait_task[CG_MCP_TASK_ID_MAX];
    json_t *wait_id;     /* that request's id */
    mreq *sprev, *snext; /* the worker's streams */
    int status;          /* for the access log */
};

/* --- small helpers ------------------------------------------------------------------------ */

static unsigned long long next_event_id(cg_mcp_http *h)
{
    return atomic_fetch_add_explicit(&h->shared->event_seq, 1, memory_order_relaxed) + 1;
}

static const char *hdr(const mreq *r, const char *name)
{
    return cg_h1s_header_value(r->hrq, name);
}

static const char *inbound_header(void *c, const char *name)
{
    return hdr(c, name);
}

/* Answers r with a whole body (taken over). May run on_end (r freed) when called from the
 * loop outside a handler. */
static void send_buffer(mreq *r, int status, const char *type, char *data, size_t len)
{
    cg_h1s_header hs[4];
    size_t n = 0;
    if (type) hs[n++] = (cg_h1s_header){"Content-Type", type};
    if (r->new_session) hs[n++] = (cg_h1s_header){"Mcp-Session-Id", r->sid};
    if (status == 405) hs[n++] = (cg_h1s_header){"Allow", r->modern ? "POST" : "GET, POST, DELETE"};
    if (r->challenge) hs[n++] = (cg_h1s_header){"WWW-Authenticate", r->challenge};
    r->answered = true;
    r->status = status;
    cg_h1s_respond(r->hrq, status, hs, n, data, data ? len : 0, free);
}

static void send_json(mreq *r, int status, json_t *msg)
{
    size_t len = 0;
    char *text = msg ? cg_mcp_dump(msg, &len) : NULL;
    json_decref(msg);
    if (!text) send_buffer(r, 500, NULL, NULL, 0);
    else send_buffer(r, status, "application/json", text, len);
}

/* An HTTP-level refusal with a JSON-RPC error body (id null). */
static void refuse(mreq *r, int status, int code, const char *message)
{
    send_json(r, status, cg_mcp_error(NULL, code, message, NULL));
}

static void send_empty(mreq *r, int status)
{
    send_buffer(r, status, NULL, NULL, 0);
}

/* --- Host and Origin ------------------------------------------------------------------------ */

/* Splits "host[:port]" (host may be "[v6]"). */
static void split_host(const char *s, size_t n, char *host, size_t hostlen, int *port)
{
    *port = -1;
    size_t hl = n;
    if (n && s[0] == '[') {
        const char *end = memchr(s, ']', n);
        hl = end ? (size_t)(end - s) + 1 : n;
    } else {
        const char *colon = memchr(s, ':', n);
        if (colon) hl = (size_t)(colon - s);
    }
    if (hl < n && s[hl] == ':') {
        int p = 0;
        size_t i = hl + 1;
        for (; i < n && s[i] >= '0' && s[i] <= '9' && p < 70000; i++) p = p * 10 + (s[i] - '0');
        *port = (i == n && i > hl + 1) ? p : -2;
    }
    if (hl >= hostlen) hl = hostlen - 1;
    memcpy(host, s, hl); /* not snprintf: every request's Host goes through here */
    host[hl] = '\0';
}

static bool is_loopback_name(const char *host)
{
    return !strcasecmp(host, "localhost") || !strcmp(host, "127.0.0.1") || !strcmp(host, "[::1]");
}

static bool host_allowed(const cg_mcp_shared *sh, const char *value)
{
    char host[256];
    int port;
    split_host(value, strlen(value), host, sizeof host, &port);
    if (port == -2 || !host[0]) return false;
    if (is_loopback_name(host) && (port == -1 || port == sh->port)) return true;
    for (size_t i = 0; i < sh->opt.n_allow_hosts; i++) {
        const char *a = sh->opt.allow_hosts[i];
        if (!strcmp(a, "*")) return true;
        if (!strcasecmp(a, value)) return true;
        if (!strchr(a, ':') && !strcasecmp(a, host)) return true; /* a bare name: any port */
    }
    return false;
}

static bool origin_allowed(const cg_mcp_shared *sh, const char *origin)
{
    for (size_t i = 0; i < sh->opt.n_allow_origins; i++)
        if (!strcmp(sh->opt.allow_origins[i], "*") || !strcasecmp(sh->opt.allow_origins[i], origin))
            return true;
    const char *rest = !strncasecmp(origin, "http://", 7)    ? origin + 7
                       : !strncasecmp(origin, "https://", 8) ? origin + 8
                                                             : NULL;
    if (!rest || strchr(rest, '/')) return false;
    char host[256];
    int port;
    split_host(rest, strlen(rest), host, sizeof host, &port);
    return port != -2 && is_loopback_name(host); /* a page on this machine, any port */
}

/* --- media types ------------------------------------------------------------------------------ */

/* true when an Accept header admits type ("application/json"): exact, "major/ *" or "* / *". */
static bool accepts(const char *accept, const char *type)
{
    if (!accept) return false;
    size_t major = strchr(type, '/') - type;
    for (const char *p = accept; *p;) {
        while (*p == ' ' || *p == ',') p++;
        const char *end = p;
        while (*end && *end != ',' && *end != ';') end++;
        size_t n = (size_t)(end - p);
        while (n && p[n - 1] == ' ') n--;
        if ((n == strlen(type) && !strncasecmp(p, type, n)) || (n == 3 && !strncmp(p, "*/*", 3)) ||
            (n == major + 2 && !strncasecmp(p, type, major + 1) && p[major + 1] == '*'))
            return true;
        while (*end && *end != ',') end++;
        p = end;
    }
    return false;
}

/* --- SSE ----------------------------------------------------------------------------------------- */

/* Sends text on r's stream. -1 when the stream is over (then r may be gone). */
static int sse_send(mreq *r, const cg_buf *text)
{
    return text->len ? cg_h1s_stream_write(r->hrq, text->data, text->len) : 0;
}

/* One message event; id NULL = none (2026-07-28 streams are not resumable). */
static void sse_format(cg_buf *out, const char *id, const char *data, size_t len)
{
    if (id) cg_buf_printf(out, "event: message\nid: %s\ndata: ", id);
    else cg_buf_append_str(out, "event: message\ndata: ");
    cg_buf_append(out, data, len);
    cg_buf_append_str(out, "\n\n");
}

/* Appends one SSE message event carrying data (one JSON-RPC message) on mc's stream, and
 * keeps it in the replay buffer when the stream is resumable; last = the call's result. */
static void call_event(mcall *mc, cg_buf *out, const char *data, size_t len, bool last)
{
    char id[CG_MCP_REPLAY_ID_MAX];
    if (mc->modern) {
        sse_format(out, NULL, data, len);
        return;
    }
    if (mc->resumable) cg_mcp_replay_append(mc->h->shared->replay, &mc->rs, data, len, last, id);
    else snprintf(id, sizeof id, "%llu", next_event_id(mc->h));
    sse_format(out, id, data, len);
}

static void call_event_json(mcall *mc, cg_buf *out, const json_t *msg)
{
    size_t len;
    char *text = cg_mcp_dump(msg, &len);
    if (!text) return;
    call_event(mc, out, text, len, false);
    free(text);
}

static void sse_progress(mcall *mc, cg_buf *out, double progress, const char *message)
{
    json_t *params = cg_mcp_call_progress(mc->call, progress, 1, message);
    if (!params) return;
    json_t *n = cg_mcp_notification("notifications/progress", params);
    if (n) call_event_json(mc, out, n);
    json_decref(n);
}

static void stream_link(mreq *r)
{
    cg_mcp_http *h = r->h;
    r->snext = h->streams;
    if (h->streams) h->streams->sprev = r;
    h->streams = r;
}

static void stream_unlink(mreq *r)
{
    cg_mcp_http *h = r->h;
    if (r->sprev) r->sprev->snext = r->snext;
    else if (h->streams == r) h->streams = r->snext;
    if (r->snext) r->snext->sprev = r->sprev;
    r->sprev = r->snext = NULL;
}

/* Answers r as text/event-stream, starting with first. -1 when the peer was gone (then r
 * is gone too: only from the loop outside a handler). */
static int start_sse(mreq *r, const cg_buf *first)
{
    cg_h1s_header hs[4] = {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
    size_t n = 2;
    if (r->new_session) hs[n++] = (cg_h1s_header){"Mcp-Session-Id", r->sid};
    if (r->modern) hs[n++] = (cg_h1s_header){"X-Accel-Buffering", "no"}; /* 2026-07-28: SHOULD */
    r->sse = true;
    r->answered = true;
    r->status = 200;
    stream_link(r);
    return cg_h1s_stream_begin(r->hrq, 200, hs, n) == 0 ? sse_send(r, first) : 0;
}

/* Ends an SSE response once what is queued has gone out. r may be gone afterwards. */
static void sse_finish(mreq *r)
{
    r->sse_ended = true;
    cg_h1s_stream_end(r->hrq);
}

/* The priming event of mc's SSE answer: its id names a new replay stream; it also suggests
 * the reconnection delay. */
static void call_stream_primer(mreq *r, mcall *mc, cg_buf *first)
{
    char primer[CG_MCP_REPLAY_ID_MAX];
    if (mc->modern) return; /* 2026-07-28: no resumption, so nothing to prime */
    mc->resumable = cg_mcp_replay_open(r->h->shared->replay, r->sid, &mc->rs, primer) == 0;
    if (!mc->resumable) snprintf(primer, sizeof primer, "%llu", next_event_id(r->h));
    cg_buf_printf(first, "id: %s\nretry: %d\ndata: \n\n", primer, SSE_RETRY_MS);
}

/* Moves r's lone call mc to an SSE answer: the priming event, then, when progress is asked
 * for, progress 0. */
static void start_call_stream(mreq *r, mcall *mc, bool progress)
{
    cg_buf first = CG_BUF_INIT;
    call_stream_primer(r, mc, &first);
    if (progress) sse_progress(mc, &first, 0, "sent to the upstream API");
    start_sse(r, &first);
    cg_buf_free(&first);
}

static void on_sse_timer(cg_loop *loop, void *arg)
{
    mreq *r = arg;
    r->sse_timer = 0;
    if (!r->answered && r->sse_call) start_call_stream(r, r->sse_call, false);
}

/* Adds one replayed event to a buffer (a cg_mcp_replay_fn). */
static void replay_into(void *ctx, const char *id, const char *data, size_t len)
{
    sse_format(ctx, id, data, len);
}

/* --- calls --------------------------------------------------------------------------------------- */

static void call_unlink(mcall *mc)
{
    cg_mcp_http *h = mc->h;
    if (mc->prev) mc->prev->next = mc->next;
    else if (h->calls == mc) h->calls = mc->next;
    if (mc->next) mc->next->prev = mc->prev;
    mc->prev = mc->next = NULL;
    if (!mc->req) return;
    for (mcall **pp = &mc->req->calls; *pp; pp = &(*pp)->rnext)
        if (*pp == mc) {
            *pp = mc->rnext;
            break;
        }
}

static void call_free(mcall *mc)
{
    cg_mcp_call_free(mc->call);
    free(mc);
}

/* Adds one response to what r will send. */
static void add_reply(mreq *r, json_t *reply)
{
    size_t len;
    char *text = reply ? cg_mcp_dump(reply, &len) : NULL;
    json_decref(reply);
    if (!text) return; /* out of memory: the client times out rather than getting half */
    if ((r->n_replies == 0 || cg_buf_append_str(&r->replies, ",") == 0) &&
        cg_buf_append(&r->replies, text, len) == 0)
        r->n_replies++;
    free(text);
}

/* Adds a call's response to what r will send (not for SSE: see on_call_done). */
static void add_call_reply(mreq *r, const cg_mcp_call *call, const cg_call_result *res)
{
    size_t mark = r->replies.len;
    if (r->n_replies && cg_buf_append_str(&r->replies, ",") < 0) return;
    if (cg_mcp_call_reply_text(call, res, &r->replies) < 0) {
        r->replies.len = mark;
        if (r->replies.data) r->replies.data[mark] = 0;
        return;
    }
    r->n_replies++;
}

static void send_replies(mreq *r);
static void task_poll(mreq *r);

/* A call of r has ended (its response, if any, is queued). r may be gone afterwards. */
static void call_finished(mreq *r)
{
    r->pending--;
    if (r->sse) sse_finish(r);
    else if (r->pending == 0) send_replies(r);
}

/* The finished call, as the console's feed sees it (engine/metrics.h). */
static void record_call(mcall *mc, const cg_call_result *res)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    cg_call_event ev = {"mcp",
                        "tools/call",
                        cg_mcp_call_tool(mc->call)->name,
                        cg_call_error_status(res),
                        res->upstream_status,
                        (double)(t1.tv_sec - mc->t0.tv_sec) * 1e3 +
                            (double)(t1.tv_nsec - mc->t0.tv_nsec) / 1e6};
    cg_metrics_record_call(mc->h->shared->opt.metrics, &ev);
}

/* A task's call ended: its response goes to the task store for tasks/result. */
static void task_done(mcall *mc, const cg_call_result *res)
{
    cg_buf text = CG_BUF_INIT;
    if (cg_mcp_call_reply_text(mc->call, res, &text) < 0) cg_buf_reset(&text);
    cg_mcp_tasks_complete(mc->h->shared->tasks, mc->task_id, text.data ? text.data : "", text.len);
    cg_buf_free(&text);
}

/* The log notification due for mc's outcome at its session's level (notify.h), or NULL. */
static json_t *call_note(mcall *mc, const cg_call_result *res)
{
    if (res->error == CG_CALL_OK && res->status < 400 && !res->upstream_retries) return NULL;
    cg_mcp_session *s = cg_mcp_sessions_find(mc->h->shared->sessions, mc->sid);
    if (!s) return NULL;
    json_t *note = cg_mcp_call_log(mc->call, res, &s->state);
    cg_mcp_sessions_unlock(mc->h->shared->sessions);
    return note;
}

static void on_call_done(void *arg, cg_call_result *res)
{
    mcall *mc = arg;
    mreq *r = mc->req;
    cg_mcp_http *h = mc->h;
    mc->job = NULL;
    record_call(mc, res);
    call_unlink(mc);
    if (res->error != CG_CALL_OK)
        cg_log(CG_LOG_INFO, "mcp", "tools/call %s: %s", cg_mcp_call_tool(mc->call)->name,
               res->message);
    if (mc->task_id[0]) { /* a task: its result waits in the task store */
        task_done(mc, res);
        call_free(mc);
        h->active--;
        return;
    }
    json_t *note = call_note(mc, res);
    /* a lone call answered as JSON so far moves to SSE to carry its log notification */
    bool begin = note && r && !r->sse && r->sse_call == mc;
    if (!r || r->sse ||
        begin) { /* [the note], progress 1 and the result, as events (kept for a resume) */
        cg_buf out = CG_BUF_INIT, reply = CG_BUF_INIT;
        if (begin) {
            if (r->sse_timer) cg_loop_timer_cancel(h->loop, r->sse_timer);
            r->sse_timer = 0;
            call_stream_primer(r, mc, &out);
        }
        if (note) call_event_json(mc, &out, note);
        sse_progress(mc, &out, 1, "upstream answered");
        if (cg_mcp_call_reply_text(mc->call, res, &reply) == 0)
            call_event(mc, &out, reply.data, reply.len, true);
        cg_buf_free(&reply);
        call_free(mc);
        if (!r) { /* detached: its result waits in the replay buffer */
            cg_buf_free(&out);
            json_decref(note);
            h->active--;
            return;
        }
        r->sse_call = NULL;
        int rc = begin ? start_sse(r, &out) : sse_send(r, &out);
        cg_buf_free(&out);
        json_decref(note);
        if (rc < 0) return; /* the peer was gone: on_end has run and r is no more */
    } else {
        if (r->sse_timer) cg_loop_timer_cancel(h->loop, r->sse_timer);
        r->sse_timer = 0;
        r->sse_call = NULL;
        add_call_reply(r, mc->call, res);
        call_free(mc);
        json_decref(note); /* in a batch: no stream to carry it */
    }
    call_finished(r);
}

/* Starts mc's operation call with r's credentials and puts mc on the worker's in-flight
 * list. -1 when it could not start, with the outcome in *now (mc is on no list then). */
static int launch(mcall *mc, mreq *r, cg_call_result *now)
{
    cg_mcp_http *h = mc->h;
    clock_gettime(CLOCK_MONOTONIC, &mc->t0);
    if (cg_call_start(h->engine, &cg_mcp_call_tool(mc->call)->call, cg_mcp_call_lookup, mc->call,
                      r->authorization, on_call_done, mc, &mc->job, now) < 0)
        return -1;
    mc->next = h->calls;
    if (h->calls) h->calls->prev = mc;
    h->calls = mc;
    return 0;
}

/* Starts a prepared call for r; takes call. The call, or NULL when it is already over. */
static mcall *start_call(mreq *r, cg_mcp_call *call)
{
    cg_mcp_http *h = r->h;
    mcall *mc = calloc(1, sizeof *mc);
    if (!mc) {
        add_reply(r, cg_mcp_error(cg_mcp_call_id(call), CG_JSONRPC_INTERNAL_ERROR, "Internal error",
                                  NULL));
        cg_mcp_call_free(call);
        return NULL;
    }
    mc->h = h;
    mc->req = r;
    mc->modern = r->modern;
    memcpy(mc->sid, r->sid, sizeof mc->sid);
    mc->call = call;
    cg_call_result now;
    if (launch(mc, r, &now) < 0) {
        record_call(mc, &now);
        add_call_reply(r, call, &now);
        if (!r->batch && !r->sync_note) r->sync_note = call_note(mc, &now);
        call_free(mc);
        return NULL;
    }
    mc->rnext = r->calls;
    r->calls = mc;
    r->pending++;
    return mc;
}

/* Starts a task-augmented call (takes call): answers r with a CreateTaskResult at once and
 * runs the call detached from r, its result kept in the task store. */
static void start_task(mreq *r, cg_mcp_call *call)
{
    cg_mcp_http *h = r->h;
    long long ttl;
    cg_mcp_call_task(call, &ttl);
    char tid[CG_MCP_TASK_ID_MAX];
    json_t *reply = cg_mcp_tasks_start(h->shared->tasks, r->sid, cg_mcp_call_id(call), ttl, tid);
    mcall *mc = reply ? calloc(1, sizeof *mc) : NULL;
    if (!mc) {
        json_decref(reply);
        add_reply(r, cg_mcp_error(cg_mcp_call_id(call), CG_JSONRPC_INTERNAL_ERROR,
                                  "Internal error: no task can be created now (too many tasks)",
                                  NULL));
        cg_mcp_call_free(call);
        return;
    }
    mc->h = h;
    memcpy(mc->sid, r->sid, sizeof mc->sid);
    memcpy(mc->task_id, tid, sizeof mc->task_id);
    mc->call = call;
    cg_call_result now;
    if (launch(mc, r, &now) < 0) {
        record_call(mc, &now);
        task_done(mc, &now);
        call_free(mc);
    } else {
        h->active++;
    }
    add_reply(r, reply);
}

static void cancel_call(mcall *mc)
{
    mreq *r = mc->req;
    cg_mcp_http *h = mc->h;
    cg_call_cancel(mc->job);
    mc->job = NULL;
    call_unlink(mc);
    if (r && r->sse_call == mc) r->sse_call = NULL;
    call_free(mc);
    if (!r) { /* detached: nobody waits */
        h->active--;
        return;
    }
    call_finished(r); /* no response for a cancelled request */
}

/* --- cancellation mailbox ------------------------------------------------------------------------- */

static void broadcast_cancel(cg_mcp_shared *sh, const char *sid, const json_t *id)
{
    pthread_mutex_lock(&sh->lock);
    for (int i = 0; i < sh->n_workers; i++) {
        cg_mcp_http *w = sh->workers[i];
        cancel_msg *m = calloc(1, sizeof *m);
        if (!m) continue;
        snprintf(m->sid, sizeof m->sid, "%s", sid);
        m->id = json_deep_copy(id);
        pthread_mutex_lock(&w->mailbox_lock);
        m->next = w->mailbox;
        w->mailbox = m;
        pthread_mutex_unlock(&w->mailbox_lock);
        uint64_t one = 1;
        ssize_t n = write(w->mailbox_fd, &one, sizeof one);
        (void)n; /* EAGAIN: already signalled */
    }
    pthread_mutex_unlock(&sh->lock);
}

static void on_mailbox(cg_loop *loop, int fd, unsigned events, void *arg)
{
    cg_mcp_http *h = arg;
    uint64_t v;
    while (read(fd, &v, sizeof v) > 0) {}
    pthread_mutex_lock(&h->mailbox_lock);
    cancel_msg *list = h->mailbox;
    h->mailbox = NULL;
    pthread_mutex_unlock(&h->mailbox_lock);
    while (list) {
        cancel_msg *m = list;
        list = m->next;
        for (mcall *mc = h->calls; mc; mc = mc->next)
            if (!strcmp(mc->sid, m->sid) && json_equal(cg_mcp_call_id(mc->call), m->id)) {
                cg_log(CG_LOG_INFO, "mcp", "tools/call %s cancelled by the client",
                       cg_mcp_call_tool(mc->call)->name);
                cancel_call(mc);
                break;
            }
        json_decref(m->id);
        free(m);
    }
}

/* --- heartbeats ------------------------------------------------------------------------------------ */

static void on_heartbeat(cg_loop *loop, void *arg)
{
    cg_mcp_http *h = arg;
    h->heartbeat_timer = 0;
    static const cg_buf ping = {.data = ": ping\n\n", .len = 8};
    for (mreq *r = h->streams, *next; r; r = next) {
        next = r->snext;                       /* r may end (and go) right here */
        if (r->sse_ended || !r->sse) continue; /* (a tasks/result waiting is not a stream) */
        if (r->get_stream) {
            cg_mcp_session *s = cg_mcp_sessions_find(h->shared->sessions, r->sid);
            if (!s) { /* the session ended: so does its stream */
                sse_finish(r);
                continue;
            }
            cg_mcp_sessions_unlock(h->shared->sessions);
        }
        sse_send(r, &ping);
    }
    if (!h->stopping)
        h->heartbeat_timer = cg_loop_timer_add(h->loop, (long)h->shared->opt.heartbeat_s * 1000,
                                               on_heartbeat, h);
}

/* --- reload -------------------------------------------------------------------------------------- */

cg_mcp_core *cg_mcp_shared_core_create(const cg_mcp_shared *sh, const cg_spec *spec,
                                       const cg_mcp_adapter *adapter)
{
    cg_mcp_core_options co = {.page_size = sh->opt.page_size,
                              .lists_private = sh->opt.auth != NULL};
    return cg_mcp_core_create(spec, adapter, &co);
}

void cg_mcp_http_reload(cg_mcp_http *h, cg_engine *engine, const cg_mcp_core *core,
                        bool tools_changed)
{
    h->engine = engine;
    h->core = core;
    if (!tools_changed) return;
    json_t *n = cg_mcp_notification("notifications/tools/list_changed", NULL);
    size_t len;
    char *text = n ? cg_mcp_dump(n, &len) : NULL;
    json_decref(n);
    for (mreq *r = h->streams, *next; r && text; r = next) {
        next = r->snext; /* r may end (and go) right here */
        if (!r->get_stream || r->sse_ended || !r->sse) continue;
        char id[32];
        snprintf(id, sizeof id, "%llu", next_event_id(h));
        cg_buf out = CG_BUF_INIT;
        sse_format(&out, id, text, len);
        sse_send(r, &out);
        cg_buf_free(&out);
    }
    free(text);
}

/* --- requests ------------------------------------------------------------------------------------- */

/* Checks everything that headers alone decide; answers (refuses) when something is wrong. */
static void screen(mreq *r)
{
    cg_mcp_shared *sh = r->h->shared;
    const char *url = cg_h1s_path(r->hrq), *method = cg_h1s_method(r->hrq);
    const char *prm = cg_inbound_auth_resource_metadata(sh->opt.auth, url); /* RFC 9728 */
    if (prm && !strcmp(method, "GET")) {
        send_buffer(r, 200, "application/json", strdup(prm), strlen(prm));
        return;
    }
    if (strcmp(url, "/mcp") && strcmp(url, "/mcp/")) {
        refuse(r, 404, CG_JSONRPC_SERVER_ERROR, "Not Found: the MCP endpoint is /mcp");
        return;
    }
    if (!strcmp(method, "POST")) r->method = M_POST;
    else if (!strcmp(method, "GET")) r->method = M_GET;
    else if (!strcmp(method, "DELETE")) r->method = M_DELETE;
    else {
        refuse(r, 405, CG_JSONRPC_SERVER_ERROR, "Method Not Allowed: use GET, POST or DELETE");
        return;
    }

    const char *host = hdr(r, "Host"), *origin = hdr(r, "Origin");
    if (host && !host_allowed(sh, host)) {
        refuse(r, 403, CG_JSONRPC_SERVER_ERROR, "Forbidden: Host not allowed");
        return;
    }
    if (origin && !origin_allowed(sh, origin)) {
        refuse(r, 403, CG_JSONRPC_SERVER_ERROR, "Forbidden: Origin not allowed");
        return;
    }

    /* inbound API tokens (engine/inbound_auth.h): after the rebinding checks, before
     * anything about the request's content */
    bool forward = true;
    const char *detail = NULL;
    cg_inbound_auth_verdict v = cg_inbound_auth_verify(sh->opt.auth, inbound_header, r, &forward,
                                                       &detail);
    if (v != CG_INBOUND_AUTH_ALLOW) {
        char msg[320];
        snprintf(msg, sizeof msg, "Unauthorized: %s", detail);
        r->challenge = cg_inbound_auth_www_authenticate(sh->opt.auth, v);
        refuse(r, 401, CG_JSONRPC_SERVER_ERROR, msg);
        return;
    }

    const char *accept = hdr(r, "Accept");
    if (r->method == M_POST) {
        if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream")) {
            refuse(
                r, 406, CG_JSONRPC_SERVER_ERROR,
                "Not Acceptable: Client must accept both application/json and text/event-stream");
            return;
        }
        if (!cg_mediatype_is_json(hdr(r, "Content-Type"))) {
            refuse(r, 415, CG_JSONRPC_SERVER_ERROR,
                   "Unsupported Media Type: Content-Type must be application/json");
            return;
        }
        const char *cl = hdr(r, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > CG_MCP_MAX_MESSAGE) {
            refuse(r, 413, CG_JSONRPC_INVALID_REQUEST,
                   "Payload Too Large: messages are limited to 4 MiB");
            return;
        }
    } else if (r->method == M_GET && !accepts(accept, "text/event-stream")) {
        refuse(r, 406, CG_JSONRPC_SERVER_ERROR,
               "Not Acceptable: Client must accept text/event-stream");
        return;
    }

    const char *version = hdr(r, "MCP-Protocol-Version");
    if (version && !cg_mcp_era_version_known(version)) {
        /* -32022 with the supported versions (2026-07-28's answer, which dual-era clients
         * read); a POST is answered once its body gives the request's id */
        r->bad_version = true;
        if (r->method != M_POST) {
            send_json(r, 400, cg_mcp_era_unsupported(NULL, version));
            return;
        }
    }
    if (r->method != M_POST && cg_mcp_era_version_modern(version)) {
        r->modern = true; /* 2026-07-28 has no GET stream and no sessions to DELETE */
        refuse(r, 405, CG_JSONRPC_SERVER_ERROR, "Method Not Allowed: 2026-07-28 uses POST only");
        return;
    }
    const char *sid = hdr(r, "Mcp-Session-Id");
    size_t sid_len = sid ? strlen(sid) : 0;
    memcpy(r->sid, sid ? sid : "", sid_len <= CG_MCP_SESSION_ID_LEN ? sid_len : 0);
    if (sid_len > CG_MCP_SESSION_ID_LEN) r->sid[0] = '?'; /* can never match */
    if (r->method != M_POST && !sid) {
        refuse(r, 400, CG_JSONRPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required");
        return;
    }

    const char *auth = forward ? hdr(r, "Authorization") : NULL;
    if (auth && *auth && !(r->authorization = strdup(auth)))
        refuse(r, 503, CG_JSONRPC_INTERNAL_ERROR, "Service Unavailable: out of memory");
}

static void on_end_shared(void *arg, bool shared)
{
    mreq *r = arg;
    r->redis_wait = NULL;
    send_empty(r, 200);
}

static void handle_delete(mreq *r)
{
    cg_mcp_http *h = r->h;
    if (!cg_mcp_sessions_end(h->shared->sessions, r->sid)) {
        refuse(r, 404, CG_JSONRPC_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    cg_mcp_replay_forget_session(h->shared->replay, r->sid);
    cg_mcp_tasks_forget_session(h->shared->tasks, r->sid);
    for (mreq *s = h->streams, *next; s; s = next) {
        next = s->snext; /* s may end (and go) right here */
        if ((s->get_stream || s->resumed) && !s->sse_ended && !strcmp(s->sid, r->sid))
            sse_finish(s);
    }
    /* with Redis, answered once every instance has been told (or after 1 s) */
    if (h->shared->redis && (r->redis_wait = cg_redis_store_end_session(
                                 h->shared->redis, r->sid, h->loop, 1000, on_end_shared, r)))
        return;
    send_empty(r, 200);
}

/* Sends r (a resumed stream) the events its stream has had since the last it sent; ends it
 * when the stream is over or no longer held. From the loop: r may be gone afterwards. */
static void resume_poll(mreq *r)
{
    char last[CG_MCP_REPLAY_ID_MAX];
    snprintf(last, sizeof last, "%s-%llu", r->resume_at.id, r->resume_at.seq);
    cg_buf out = CG_BUF_INIT;
    cg_mcp_replay_status st = cg_mcp_replay_after(r->h->shared->replay, r->sid, last, replay_into,
                                                  &out, &r->resume_at);
    int rc = sse_send(r, &out);
    cg_buf_free(&out);
    if (rc == 0 && st != CG_MCP_REPLAY_OPEN) sse_finish(r);
}

static void on_resume_poll(cg_loop *loop, void *arg)
{
    cg_mcp_http *h = arg;
    h->poll_timer = 0;
    for (mreq *r = h->streams, *next; r; r = next) {
        next = r->snext; /* r may end (and go) right here */
        if (r->resumed && !r->sse_ended) resume_poll(r);
        else if (r->task_wait) task_poll(r);
    }
    if (h->n_polled > 0 && !h->stopping)
        h->poll_timer = cg_loop_timer_add(h->loop, RESUME_POLL_MS, on_resume_poll, h);
}

/* A tasks/result waiting for its task: answers r once the task has ended. From the loop: r
 * may be gone afterwards. */
static void task_poll(mreq *r)
{
    cg_mcp_http *h = r->h;
    json_t *reply = cg_mcp_tasks_answer(h->shared->tasks, r->sid, CG_MCP_TASK_RESULT, r->wait_task,
                                        r->wait_id, NULL);
    if (!reply) return;
    r->task_wait = false;
    stream_unlink(r);
    h->n_polled--;
    add_reply(r, reply);
    r->pending--;
    send_replies(r);
}

/* A tasks/... request: answered from the task store; a tasks/result of a task still working
 * waits (polled with the resumed streams, so the task may run on any worker). */
static void answer_task(mreq *r, const cg_mcp_action *a)
{
    cg_mcp_http *h = r->h;
    json_t *cancel_id = NULL;
    json_t *reply = cg_mcp_tasks_answer(h->shared->tasks, r->sid, a->task_op, a->task_id,
                                        a->task_req_id, &cancel_id);
    if (cancel_id) { /* the task is cancelled: stop its call, on whichever worker runs it */
        broadcast_cancel(h->shared, r->sid, cancel_id);
        json_decref(cancel_id);
    }
    if (reply) {
        add_reply(r, reply);
        return;
    }
    r->task_wait = true;
    snprintf(r->wait_task, sizeof r->wait_task, "%s", a->task_id);
    r->wait_id = json_incref(a->task_req_id);
    r->pending++;
    stream_link(r);
    if (h->n_polled++ == 0 && !h->poll_timer)
        h->poll_timer = cg_loop_timer_add(h->loop, RESUME_POLL_MS, on_resume_poll, h);
}

/* GET + Last-Event-ID naming a POST's stream: the events after it, then (while the call
 * runs, on whichever worker or instance) the rest as they come. */
static void handle_resume(mreq *r, const char *last_id);

static void on_resume_retry(cg_loop *loop, void *arg)
{
    mreq *r = arg;
    r->resume_retry = 0;
    handle_resume(r, r->resume_from);
}

static void handle_resume(mreq *r, const char *last_id)
{
    cg_mcp_http *h = r->h;
    cg_buf first = CG_BUF_INIT;
    cg_mcp_replay_status st = cg_mcp_replay_after(h->shared->replay, r->sid, last_id, replay_into,
                                                  &first, &r->resume_at);
    if (st == CG_MCP_REPLAY_UNKNOWN) {
        cg_buf_free(&first);
        /* with Redis, a stream opened on another instance a moment ago may not have reached
         * this one yet: look again every 100 ms for up to 1 s before refusing */
        if (h->shared->redis && cg_redis_store_up(h->shared->redis) && r->resume_tries < 10) {
            if (last_id != r->resume_from)
                snprintf(r->resume_from, sizeof r->resume_from, "%s", last_id);
            r->resume_tries++;
            if ((r->resume_retry = cg_loop_timer_add(h->loop, 100, on_resume_retry, r))) return;
        }
        refuse(r, 400, CG_JSONRPC_SERVER_ERROR,
               "Bad Request: Last-Event-ID names no stream of this session that is still held "
               "(events are kept 300 s after a stream's last one)");
        return;
    }
    start_sse(r, &first); /* inside a handler: nothing is sent yet, r stays */
    cg_buf_free(&first);
    if (st == CG_MCP_REPLAY_ENDED) {
        sse_finish(r);
        return;
    }
    r->resumed = true;
    if (h->n_polled++ == 0 && !h->poll_timer)
        h->poll_timer = cg_loop_timer_add(h->loop, RESUME_POLL_MS, on_resume_poll, h);
}

static void handle_get(mreq *r)
{
    cg_mcp_shared *sh = r->h->shared;
    cg_mcp_session *s = cg_mcp_sessions_find_or_adopt(sh->sessions, r->sid,
                                                      hdr(r, "MCP-Protocol-Version"));
    if (!s) {
        refuse(r, 404, CG_JSONRPC_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    const char *last_id = hdr(r, "Last-Event-ID");
    char stream[CG_MCP_REPLAY_STREAM_LEN + 1];
    unsigned long long seq;
    if (cg_mcp_replay_parse_id(last_id, stream, &seq)) { /* not the session's own GET stream */
        cg_mcp_sessions_unlock(sh->sessions);
        handle_resume(r, last_id);
        return;
    }
    bool busy = s->get_streams > 0;
    if (!busy) s->get_streams++;
    cg_mcp_sessions_unlock(sh->sessions);
    if (busy) {
        refuse(r, 409, CG_JSONRPC_SERVER_ERROR,
               "Conflict: Only one SSE stream is allowed per session");
        return;
    }
    r->get_stream = true;
    /* priming event: an id and empty data, which clients skip */
    cg_buf first = CG_BUF_INIT;
    cg_buf_printf(&first, "id: %llu\ndata: \n\n", next_event_id(r->h));
    start_sse(r, &first);
    cg_buf_free(&first);
}

/* Inside a handler: answers r's lone call, which failed before anything was sent, as SSE:
 * its log notification, then its response (not resumable: it is over). */
static void send_with_note(mreq *r)
{
    cg_buf out = CG_BUF_INIT;
    char id[32];
    size_t len;
    char *note = cg_mcp_dump(r->sync_note, &len);
    cg_buf_printf(&out, "id: %llu\ndata: \n\n", next_event_id(r->h));
    if (note) {
        snprintf(id, sizeof id, "%llu", next_event_id(r->h));
        sse_format(&out, id, note, len);
        free(note);
    }
    snprintf(id, sizeof id, "%llu", next_event_id(r->h));
    sse_format(&out, id, r->replies.data ? r->replies.data : "", r->replies.len);
    start_sse(r, &out); /* inside a handler: nothing is sent yet, r stays */
    cg_buf_free(&out);
    sse_finish(r);
}

/* Sends what r has gathered: nothing (202), one response, or a batch's array. */
static void send_replies(mreq *r)
{
    if (r->n_replies == 0) {
        send_empty(r, 202);
        return;
    }
    cg_buf b = CG_BUF_INIT;
    if (r->batch &&
        (cg_buf_append_str(&b, "[") < 0 || cg_buf_append(&b, r->replies.data, r->replies.len) < 0 ||
         cg_buf_append_str(&b, "]") < 0)) {
        cg_buf_free(&b);
        refuse(r, 503, CG_JSONRPC_INTERNAL_ERROR, "Service Unavailable: out of memory");
        return;
    }
    cg_buf *out = r->batch ? &b : &r->replies;
    size_t len = out->len;
    char *text = cg_buf_steal(out);
    if (!text) refuse(r, 503, CG_JSONRPC_INTERNAL_ERROR, "Service Unavailable: out of memory");
    else send_buffer(r, 200, "application/json", text, len);
}

/* Starts a 2026-07-28 call for r (takes c): answered as JSON, or as SSE when it asked for
 * progress; closing the response stream cancels it. */
static void start_modern_call(mreq *r, cg_mcp_call *c)
{
    bool progress = cg_mcp_call_progress_token(c) != NULL;
    r->modern = true;
    cg_h1s_cancel_on_close(r->hrq);
    mcall *mc = start_call(r, c); /* c may be gone from here on */
    if (r->pending == 0) send_replies(r);
    else if (progress && mc) start_call_stream(r, mc, true);
}

/* A POST of the 2026-07-28 era (era.h): one request, answered on its own, no session. */
static void handle_modern(mreq *r, json_t *doc)
{
    const char *why = NULL;
    r->modern = true;
    cg_mcp_msg_kind kind = r->batch ? CG_MCP_MSG_INVALID : cg_mcp_classify(doc, &why);
    if (kind == CG_MCP_MSG_INVALID || kind == CG_MCP_MSG_RESPONSE) {
        json_t *reply = cg_mcp_invalid_reply(r->batch ? NULL : doc, CG_JSONRPC_INVALID_REQUEST,
                                             r->batch ? "2026-07-28 has no batches"
                                             : why    ? why
                                                   : "a client sends no responses in 2026-07-28");
        json_decref(doc);
        send_json(r, 400, reply);
        return;
    }
    cg_mcp_era_headers eh = {hdr(r, "MCP-Protocol-Version"), hdr(r, "Mcp-Method"),
                             hdr(r, "Mcp-Name")};
    cg_mcp_action a;
    int status;
    cg_mcp_era_handle(r->h->core, doc, &eh, &a, &status);
    json_decref(doc);
    if (a.act == CG_MCP_ACT_REPLY) {
        json_t *reply = a.reply;
        a.reply = NULL;
        cg_mcp_action_release(&a);
        send_json(r, status, reply);
        return;
    }
    if (a.act != CG_MCP_ACT_CALL) { /* a notification: nothing to cancel over HTTP, where
                                      * closing a response stream is the cancellation */
        cg_mcp_action_release(&a);
        send_empty(r, 202);
        return;
    }
    cg_mcp_call *c = a.call;
    a.call = NULL;
    cg_mcp_action_release(&a);
    start_modern_call(r, c);
}

/* After a POST's messages went through the core: answers now what is answered (nothing
 * running), or waits for the calls; a lone call may move to SSE (progress, or slow). */
static void finish_post(mreq *r, mcall *lone, bool progress, bool any_request)
{
    if (r->pending == 0) {
        if (r->sync_note) send_with_note(r);
        else if (!any_request) send_empty(r, 202);
        else send_replies(r);
        return;
    }
    if (!lone) return; /* on_call_done answers */
    r->sse_call = lone;
    if (progress) start_call_stream(r, lone, true); /* stream progress, then the result */
    else r->sse_timer = cg_loop_timer_add(r->h->loop, SSE_AFTER_MS, on_sse_timer, r);
}

/* The fast way for a plain tools/call in a session (protocol.h cg_mcp_quick_read): no JSON
 * tree. false when the message is not one, or would not start a call as it is; it then takes
 * the general way, which decides it (and says why). */
static bool quick_post(mreq *r, const char *body, size_t len)
{
    cg_mcp_shared *sh = r->h->shared;
    const char *version = hdr(r, "MCP-Protocol-Version");
    cg_mcp_quick q;
    if (r->bad_version || !cg_mcp_quick_read(body, len, &q)) return false;
    if (q.has_meta) { /* 2026-07-28's _meta (or a progress token: the general way) */
        cg_mcp_era_headers eh = {version, hdr(r, "Mcp-Method"), hdr(r, "Mcp-Name")};
        cg_mcp_call *c = cg_mcp_era_quick_call(r->h->core, &q, &eh);
        if (!c) return false;
        start_modern_call(r, c);
        return true;
    }
    if (!r->sid[0] || cg_mcp_era_version_modern(version)) return false;
    cg_mcp_session *s = cg_mcp_sessions_find_or_adopt(sh->sessions, r->sid, version);
    if (!s) return false;
    cg_mcp_call *c = cg_mcp_quick_call(r->h->core, &s->state, &q);
    cg_mcp_sessions_unlock(sh->sessions);
    if (!c) return false;
    finish_post(r, start_call(r, c), false, true);
    return true;
}

static void handle_post(mreq *r)
{
    cg_mcp_shared *sh = r->h->shared;
    char err[160];
    size_t body_len;
    const char *body = cg_h1s_body(r->hrq, &body_len);
    if (body && quick_post(r, body, body_len)) return;
    json_t *doc = cg_mcp_parse(body ? body : "", body_len, err, sizeof err);
    if (!doc) {
        char msg[200];
        snprintf(msg, sizeof msg, "Parse error: %s", err);
        refuse(r, 400, CG_JSONRPC_PARSE_ERROR, msg);
        return;
    }
    const char *why = NULL;
    size_t n_msgs = json_is_array(doc) ? json_array_size(doc) : 1;
    r->batch = json_is_array(doc);

    const char *version = hdr(r, "MCP-Protocol-Version");
    if (r->batch ? cg_mcp_era_version_modern(version) : cg_mcp_era_is_modern(doc, version)) {
        handle_modern(r, doc);
        return;
    }
    if (r->bad_version) {
        json_t *reply = cg_mcp_era_unsupported(r->batch ? NULL : doc, version);
        json_decref(doc);
        send_json(r, 400, reply);
        return;
    }

    /* initialize: a new session (a message of its own, never in a batch) */
    cg_mcp_session *s = NULL;
    if (!r->batch && cg_mcp_is_initialize(doc) &&
        cg_mcp_classify(doc, NULL) == CG_MCP_MSG_REQUEST) {
        if (r->sid[0]) {
            s = cg_mcp_sessions_find(sh->sessions, r->sid);
            if (s) {
                cg_mcp_sessions_unlock(sh->sessions);
                json_decref(doc);
                refuse(r, 400, CG_JSONRPC_INVALID_REQUEST,
                       "Invalid Request: Server already initialized");
                return;
            }
        }
        s = cg_mcp_sessions_create_session(sh->sessions);
        if (!s) {
            json_decref(doc);
            refuse(r, 503, CG_JSONRPC_INTERNAL_ERROR, "Service Unavailable: no session available");
            return;
        }
        memcpy(r->sid, s->id, sizeof r->sid);
        r->new_session = true;
    } else {
        if (r->batch && n_msgs == 0) {
            json_decref(doc);
            send_json(r, 400,
                      cg_mcp_invalid_reply(NULL, CG_JSONRPC_INVALID_REQUEST, "an empty batch"));
            return;
        }
        if (!r->batch && cg_mcp_classify(doc, &why) == CG_MCP_MSG_INVALID) {
            json_t *reply = cg_mcp_invalid_reply(doc, CG_JSONRPC_INVALID_REQUEST, why);
            json_decref(doc);
            send_json(r, 400, reply);
            return;
        }
        if (!r->sid[0]) {
            json_decref(doc);
            refuse(r, 400, CG_JSONRPC_SERVER_ERROR,
                   "Bad Request: Mcp-Session-Id header is required");
            return;
        }
        /* a session another instance started (shared secret) continues here */
        s = cg_mcp_sessions_find_or_adopt(sh->sessions, r->sid, hdr(r, "MCP-Protocol-Version"));
        if (!s) {
            json_decref(doc);
            refuse(r, 404, CG_JSONRPC_SESSION_NOT_FOUND, "Session not found");
            return;
        }
        if (r->batch && strcmp(s->state.version, "2025-03-26")) {
            cg_mcp_sessions_unlock(sh->sessions);
            json_decref(doc);
            send_json(r, 400,
                      cg_mcp_invalid_reply(NULL, CG_JSONRPC_INVALID_REQUEST,
                                           "batches need protocol version 2025-03-26"));
            return;
        }
    }

    /* the session is locked: run every message through the core */
    cg_mcp_action *actions = calloc(n_msgs, sizeof *actions);
    if (!actions) {
        cg_mcp_sessions_unlock(sh->sessions);
        json_decref(doc);
        refuse(r, 503, CG_JSONRPC_INTERNAL_ERROR, "Service Unavailable: out of memory");
        return;
    }
    bool any_request = false;
    for (size_t i = 0; i < n_msgs; i++) {
        const json_t *m = r->batch ? json_array_get(doc, i) : doc;
        cg_mcp_msg_kind kind = cg_mcp_classify(m, &why);
        if (kind == CG_MCP_MSG_INVALID) { /* only in a batch */
            actions[i].act = CG_MCP_ACT_REPLY;
            actions[i].reply = cg_mcp_invalid_reply(m, CG_JSONRPC_INVALID_REQUEST, why);
            any_request = true;
            continue;
        }
        if (kind == CG_MCP_MSG_REQUEST) any_request = true;
        if (r->batch && cg_mcp_is_initialize(m)) {
            actions[i].act = CG_MCP_ACT_REPLY;
            actions[i].reply = cg_mcp_error(json_object_get(m, "id"), CG_JSONRPC_INVALID_REQUEST,
                                            "Invalid Request: initialize cannot be batched", NULL);
            continue;
        }
        cg_mcp_handle(r->h->core, &s->state, m, &actions[i]);
    }
    if (r->new_session && actions[0].reply && json_object_get(actions[0].reply, "error")) {
        cg_mcp_sessions_remove_locked(sh->sessions, s); /* initialize failed: no session */
        r->new_session = false;
    }
    cg_mcp_sessions_unlock(sh->sessions);

    /* carry out the decisions, in order */
    mcall *lone = NULL; /* a single request's call */
    bool progress = false;
    for (size_t i = 0; i < n_msgs; i++) {
        cg_mcp_action *a = &actions[i];
        if (a->act == CG_MCP_ACT_REPLY) {
            add_reply(r, a->reply);
            a->reply = NULL;
        } else if (a->act == CG_MCP_ACT_CANCEL) {
            broadcast_cancel(sh, r->sid, a->cancel_id);
        } else if (a->act == CG_MCP_ACT_TASK) {
            answer_task(r, a);
        } else if (a->act == CG_MCP_ACT_CALL && cg_mcp_call_task(a->call, &(long long){0})) {
            start_task(r, a->call);
            a->call = NULL;
        } else if (a->act == CG_MCP_ACT_CALL) {
            cg_mcp_call *c = a->call;
            a->call = NULL;
            progress = !r->batch && cg_mcp_call_progress_token(c);
            mcall *mc = start_call(r, c);
            if (!r->batch) lone = mc;
        }
        cg_mcp_action_release(a);
    }
    free(actions);
    json_decref(doc);
    finish_post(r, lone, progress, any_request);
}

/* --- the HTTP server's handlers ------------------------------------------------------------------ */

static void on_head(void *ctx, cg_h1s_request *hrq)
{
    cg_mcp_http *h = ctx;
    mreq *r = calloc(1, sizeof *r);
    if (!r) {
        static char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,"
                            "\"message\":\"out of memory\"}}";
        static const cg_h1s_header type = {"Content-Type", "application/json"};
        cg_h1s_respond(hrq, 503, &type, 1, oom, sizeof oom - 1, NULL);
        return;
    }
    r->h = h;
    r->hrq = hrq;
    cg_h1s_set_data(hrq, r);
    h->active++;
    screen(r);
}

static void on_body(void *ctx, cg_h1s_request *hrq)
{
    cg_mcp_http *h = ctx;
    mreq *r = cg_h1s_data(hrq);
    if (!r || r->answered) return;
    if (cg_h1s_body_too_large(hrq))
        refuse(r, 413, CG_JSONRPC_INVALID_REQUEST,
               "Payload Too Large: messages are limited to 4 MiB");
    else if (h->stopping)
        refuse(r, 503, CG_JSONRPC_SERVER_ERROR, "Service Unavailable: shutting down");
    else if (r->method == M_GET) handle_get(r);
    else if (r->method == M_DELETE) handle_delete(r);
    else handle_post(r);
}

static const char *method_name(const mreq *r)
{
    return r->method == M_GET      ? "GET"
           : r->method == M_DELETE ? "DELETE"
           : r->method == M_POST   ? "POST"
                                   : "OTHER";
}

static void on_end(void *ctx, cg_h1s_request *hrq)
{
    cg_mcp_http *h = ctx;
    mreq *r = cg_h1s_data(hrq);
    if (!r) return;
    cg_h1s_set_data(hrq, NULL);
    bool cut = r->calls != NULL || (r->sse && !r->sse_ended);
    cg_redis_wait_cancel(r->redis_wait);
    cg_loop_timer_cancel(h->loop, r->resume_retry);
    if (r->sse_timer) cg_loop_timer_cancel(h->loop, r->sse_timer);
    while (r->calls) {
        mcall *mc = r->calls;
        if (r->sse && mc->resumable && !h->stopping) {
            /* the stream dropped: the call goes on, its result waits in the replay buffer
             * for the client to come back with Last-Event-ID */
            r->calls = mc->rnext;
            mc->rnext = NULL;
            mc->req = NULL;
            h->active++;
            continue;
        }
        cg_call_cancel(mc->job); /* the client is gone: nobody to answer */
        call_unlink(mc);
        call_free(mc);
    }
    if (r->sse || r->task_wait) stream_unlink(r);
    if (r->resumed || r->task_wait) h->n_polled--;
    json_decref(r->wait_id);
    json_decref(r->sync_note);
    if (r->get_stream) {
        cg_mcp_session *s = cg_mcp_sessions_find(h->shared->sessions, r->sid);
        if (s) {
            if (s->get_streams > 0) s->get_streams--;
            cg_mcp_sessions_unlock(h->shared->sessions);
        }
    }
    /* the server's own refusals (a body over the limit, bad chunking) set its status */
    if (cg_h1s_status(hrq) && !r->answered) r->status = cg_h1s_status(hrq);
    if (h->shared->opt.metrics)
        cg_metrics_count_request(h->shared->opt.metrics, "/mcp", method_name(r),
                                 r->status ? r->status : 499);
    if (h->shared->opt.access_log)
        cg_log(CG_LOG_INFO, "mcp", "%s /mcp %d%s", method_name(r), r->status,
               cut || !r->status ? " (connection ended early)" : "");
    h->active--;
    cg_buf_free(&r->replies);
    free(r->authorization);
    free(r);
}

/* A request the server refused before its headers were whole (malformed, too large). */
static void on_reject(void *ctx, int status)
{
    cg_mcp_http *h = ctx;
    if (h->shared->opt.metrics)
        cg_metrics_count_request(h->shared->opt.metrics, "/mcp", "OTHER", status);
}

/* --- lifecycle --------------------------------------------------------------------------------- */

cg_mcp_shared *cg_mcp_shared_create(const cg_spec *spec, const cg_mcp_adapter *adapter,
                                    const cg_mcp_http_options *opt, char *err, size_t errlen)
{
    cg_mcp_shared *sh = calloc(1, sizeof *sh);
    if (!sh) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    sh->spec = spec;
    sh->adapter = adapter;
    if (opt) sh->opt = *opt;
    else sh->opt.port = -1;
    if (!sh->opt.heartbeat_s) sh->opt.heartbeat_s = 15;
    if (!sh->opt.connection_timeout_s) sh->opt.connection_timeout_s = 60;
    snprintf(sh->address, sizeof sh->address, "%s",
             sh->opt.address    ? sh->opt.address
             : adapter->address ? adapter->address
                                : "127.0.0.1");
    sh->port = sh->opt.port >= 0 ? sh->opt.port : adapter->port;
    sh->core = cg_mcp_shared_core_create(sh, spec, adapter);
    sh->sessions = cg_mcp_sessions_create(sh->opt.max_sessions, sh->opt.session_idle_s);
    sh->tasks = cg_mcp_tasks_create(0);
    if (!sh->core || !sh->sessions || !sh->tasks || pthread_mutex_init(&sh->lock, NULL) != 0) {
        cg_mcp_core_free(sh->core);
        cg_mcp_sessions_free(sh->sessions);
        cg_mcp_tasks_free(sh->tasks);
        free(sh);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* with Redis, session ends and the event buffer are shared (mcp/redis_store.h) */
    const char *redis_url = getenv("CAPGATE_REDIS_URL");
    if (redis_url && *redis_url) {
        if (!(sh->redis = cg_redis_store_start(redis_url, sh->sessions, err, errlen))) {
            cg_mcp_shared_free(sh);
            return NULL;
        }
        const char *secret = getenv("CAPGATE_SESSION_SECRET");
        if (!secret || !*secret)
            cg_log(CG_LOG_WARN, "redis",
                   "CAPGATE_REDIS_URL without CAPGATE_SESSION_SECRET: other instances cannot "
                   "accept this one's session ids, so only ends of this one's sessions are shared");
    }
    sh->replay = sh->redis ? cg_redis_store_replay(sh->redis, NULL) : cg_mcp_replay_create(NULL);
    if (!sh->replay) {
        cg_mcp_shared_free(sh);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return sh;
}

void cg_mcp_shared_free(cg_mcp_shared *sh)
{
    if (!sh) return;
    cg_mcp_replay_free(sh->replay); /* before the store it may write through */
    cg_redis_store_stop(sh->redis);
    cg_mcp_core_free(sh->core);
    cg_mcp_sessions_free(sh->sessions);
    cg_mcp_tasks_free(sh->tasks);
    pthread_mutex_destroy(&sh->lock);
    free(sh);
}

int cg_mcp_shared_port(const cg_mcp_shared *sh)
{
    return sh->port;
}

cg_mcp_http *cg_mcp_http_start(cg_engine *engine, cg_mcp_shared *sh, char *err, size_t errlen)
{
    cg_mcp_http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    h->shared = sh;
    h->engine = engine;
    h->core = sh->core;
    h->loop = cg_engine_loop(engine);
    h->mailbox_fd = -1;
    if (pthread_mutex_init(&h->mailbox_lock, NULL) != 0) {
        free(h);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    /* the first worker binds (an ephemeral port when asked for 0); the others join it */
    pthread_mutex_lock(&sh->lock);
    bool full = sh->n_workers == MAX_WORKERS;
    int port = sh->port;
    pthread_mutex_unlock(&sh->lock);
    if (full) {
        snprintf(err, errlen, "mcp: more than %d workers", MAX_WORKERS);
        goto http_start_err;
    }
    h->mailbox_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (h->mailbox_fd < 0 ||
        cg_loop_io_set(h->loop, h->mailbox_fd, CG_LOOP_READ, on_mailbox, h) < 0) {
        snprintf(err, errlen, "mcp: eventfd: %s", strerror(errno));
        goto http_start_err;
    }
    cg_h1s_options so = {.address = sh->address,
                         .port = port,
                         .max_body = CG_MCP_MAX_MESSAGE,
                         .idle_timeout_s = sh->opt.connection_timeout_s};
    static const cg_h1s_handlers handlers = {on_head, on_body, on_end, on_reject};
    char why[256];
    h->server = cg_h1s_start(h->loop, &so, &handlers, h, why, sizeof why);
    if (!h->server) {
        snprintf(err, errlen, "mcp: %s", why);
        goto http_start_err;
    }
    pthread_mutex_lock(&sh->lock);
    if (sh->port == 0) sh->port = cg_h1s_port(h->server);
    sh->workers[sh->n_workers++] = h;
    pthread_mutex_unlock(&sh->lock);
    h->heartbeat_timer = cg_loop_timer_add(h->loop, (long)sh->opt.heartbeat_s * 1000, on_heartbeat,
                                           h);
    return h;

http_start_err:
    if (h->mailbox_fd >= 0) {
        cg_loop_io_remove(h->loop, h->mailbox_fd);
        close(h->mailbox_fd);
    }
    pthread_mutex_destroy(&h->mailbox_lock);
    free(h);
    return NULL;
}

void cg_mcp_http_quiesce(cg_mcp_http *h)
{
    if (!h || h->stopping) return;
    h->stopping = true;
    cg_h1s_quiesce(h->server);
    for (mreq *r = h->streams, *next; r; r = next) {
        next = r->snext; /* r may end (and go) right here */
        if ((r->get_stream || r->resumed) && !r->sse_ended) sse_finish(r);
    }
}

int cg_mcp_http_active(const cg_mcp_http *h)
{
    return h->active;
}

void cg_mcp_http_stop(cg_mcp_http *h)
{
    if (!h) return;
    cg_mcp_shared *sh = h->shared;
    pthread_mutex_lock(&sh->lock);
    for (int i = 0; i < sh->n_workers; i++)
        if (sh->workers[i] == h) {
            sh->workers[i] = sh->workers[--sh->n_workers];
            break;
        }
    pthread_mutex_unlock(&sh->lock);
    h->stopping = true;
    cg_loop_timer_cancel(h->loop, h->heartbeat_timer);
    cg_loop_timer_cancel(h->loop, h->poll_timer);
    cg_h1s_stop(h->server); /* closes every connection: on_end cancels calls, frees each mreq */
    while (h->calls) {      /* detached calls whose client had gone */
        mcall *mc = h->calls;
        cg_call_cancel(mc->job);
        call_unlink(mc);
        call_free(mc);
    }
    cg_loop_io_remove(h->loop, h->mailbox_fd);
    close(h->mailbox_fd);
    while (h->mailbox) {
        cancel_msg *m = h->mailbox;
        h->mailbox = m->next;
        json_decref(m->id);
        free(m);
    }
    pthread_mutex_destroy(&h->mailbox_lock);
    free(h);
}
