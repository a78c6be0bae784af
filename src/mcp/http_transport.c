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
 *     comments (this server sends no unsolicited messages); DELETE ends the session.
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
#include "mcp/protocol.h"
#include "mcp/session.h"

#define MAX_WORKERS 64

/* --- shared by every worker ------------------------------------------------------------ */

struct cg_mcp_shared {
    const cg_spec *spec;
    const cg_mcp_adapter *adapter;
    cg_mcp_http_options opt;
    cg_mcp_core *core;
    cg_mcp_sessions *sessions;
    char address[64];
    int port;                   /* bound port once the first worker started */
    atomic_ullong event_seq;    /* SSE event ids: unique in the process, so in every session
                                 * whichever worker its streams land on */
    pthread_mutex_t lock;       /* guards workers[] */
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
    mreq *req;
    cg_mcp_call *call;
    cg_call_job *job;
    struct mcall *prev, *next;  /* the worker's in-flight list */
    struct mcall *rnext;        /* the request's calls */
    struct timespec t0;         /* for the console's feed */
} mcall;

struct cg_mcp_http {
    cg_mcp_shared *shared;
    cg_engine *engine;
    cg_loop *loop;
    cg_h1s *server;
    int mailbox_fd;
    pthread_mutex_t mailbox_lock;
    cancel_msg *mailbox;
    mcall *calls;               /* calls in progress */
    mreq *streams;              /* open SSE responses (GET and progress streams) */
    int active;
    uint64_t heartbeat_timer;
    bool stopping;
};

enum { M_POST = 1, M_GET, M_DELETE };

struct mreq {
    cg_mcp_http *h;
    cg_h1s_request *hrq;
    int method;
    char sid[CG_MCP_SESSION_ID_LEN + 1];
    char *authorization;        /* the caller's own, forwarded upstream */
    const char *challenge;      /* WWW-Authenticate of a 401, else NULL */
    /* POST */
    cg_buf replies;             /* responses gathered so far, serialised, comma-separated */
    size_t n_replies;
    bool batch;
    int pending;                /* calls still running */
    mcall *calls;
    bool new_session;           /* initialize made sid: send Mcp-Session-Id */
    bool answered;              /* an answer has begun */
    /* SSE */
    bool sse;
    bool get_stream;
    bool sse_ended;             /* we ended the stream (not the peer) */
    mreq *sprev, *snext;        /* the worker's streams */
    int status;                 /* for the access log */
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

static const char *inbound_header(void *c, const char *name) { return hdr(c, name); }

/* Answers r with a whole body (taken over). May run on_end (r freed) when called from the
 * loop outside a handler. */
static void send_buffer(mreq *r, int status, const char *type, char *data, size_t len)
{
    cg_h1s_header hs[4];
    size_t n = 0;
    if (type) hs[n++] = (cg_h1s_header){"Content-Type", type};
    if (r->new_session) hs[n++] = (cg_h1s_header){"Mcp-Session-Id", r->sid};
    if (status == 405) hs[n++] = (cg_h1s_header){"Allow", "GET, POST, DELETE"};
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
    snprintf(host, hostlen, "%.*s", (int)(hl < hostlen ? hl : hostlen - 1), s);
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
        if (!strchr(a, ':') && !strcasecmp(a, host)) return true;  /* a bare name: any port */
    }
    return false;
}

static bool origin_allowed(const cg_mcp_shared *sh, const char *origin)
{
    for (size_t i = 0; i < sh->opt.n_allow_origins; i++)
        if (!strcmp(sh->opt.allow_origins[i], "*") || !strcasecmp(sh->opt.allow_origins[i], origin))
            return true;
    const char *rest = !strncasecmp(origin, "http://", 7) ? origin + 7
                     : !strncasecmp(origin, "https://", 8) ? origin + 8 : NULL;
    if (!rest || strchr(rest, '/')) return false;
    char host[256];
    int port;
    split_host(rest, strlen(rest), host, sizeof host, &port);
    return port != -2 && is_loopback_name(host);  /* a page on this machine, any port */
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

/* Appends one SSE message event carrying msg. */
static void sse_event(mreq *r, cg_buf *out, const json_t *msg)
{
    size_t len;
    char *text = cg_mcp_dump(msg, &len);
    if (!text) return;
    cg_buf_printf(out, "event: message\nid: %llu\ndata: ", next_event_id(r->h));
    cg_buf_append(out, text, len);
    cg_buf_append_str(out, "\n\n");
    free(text);
}

static void sse_progress(mreq *r, cg_buf *out, const cg_mcp_call *c, double progress,
                         const char *message)
{
    json_t *params = cg_mcp_call_progress(c, progress, 1, message);
    if (!params) return;
    json_t *n = cg_mcp_notification("notifications/progress", params);
    if (n) sse_event(r, out, n);
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

/* Answers r as text/event-stream, starting with first. */
static void start_sse(mreq *r, const cg_buf *first)
{
    cg_h1s_header hs[3] = {{"Content-Type", "text/event-stream"}, {"Cache-Control", "no-cache"}};
    size_t n = 2;
    if (r->new_session) hs[n++] = (cg_h1s_header){"Mcp-Session-Id", r->sid};
    r->sse = true;
    r->answered = true;
    r->status = 200;
    stream_link(r);
    if (cg_h1s_stream_begin(r->hrq, 200, hs, n) == 0) sse_send(r, first);
}

/* Ends an SSE response once what is queued has gone out. r may be gone afterwards. */
static void sse_finish(mreq *r)
{
    r->sse_ended = true;
    cg_h1s_stream_end(r->hrq);
}

/* --- calls --------------------------------------------------------------------------------------- */

static void call_unlink(mcall *mc)
{
    cg_mcp_http *h = mc->req->h;
    if (mc->prev) mc->prev->next = mc->next;
    else if (h->calls == mc) h->calls = mc->next;
    if (mc->next) mc->next->prev = mc->prev;
    mc->prev = mc->next = NULL;
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
    if (!text) return;  /* out of memory: the client times out rather than getting half */
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
    cg_call_event ev = {"mcp", "tools/call", cg_mcp_call_tool(mc->call)->name,
                        cg_call_error_status(res), res->upstream_status,
                        (double)(t1.tv_sec - mc->t0.tv_sec) * 1e3 +
                            (double)(t1.tv_nsec - mc->t0.tv_nsec) / 1e6};
    cg_metrics_record_call(mc->req->h->shared->opt.metrics, &ev);
}

static void on_call_done(void *arg, cg_call_result *res)
{
    mcall *mc = arg;
    mreq *r = mc->req;
    mc->job = NULL;
    record_call(mc, res);
    call_unlink(mc);
    if (res->error != CG_CALL_OK)
        cg_log(CG_LOG_INFO, "mcp", "tools/call %s: %s", cg_mcp_call_tool(mc->call)->name, res->message);
    if (r->sse) {  /* progress 1 and the result, as events */
        cg_buf out = CG_BUF_INIT;
        sse_progress(r, &out, mc->call, 1, "upstream answered");
        cg_buf_printf(&out, "event: message\nid: %llu\ndata: ", next_event_id(r->h));
        cg_mcp_call_reply_text(mc->call, res, &out);
        cg_buf_append_str(&out, "\n\n");
        int rc = sse_send(r, &out);
        cg_buf_free(&out);
        call_free(mc);
        if (rc < 0) return;  /* the peer was gone: on_end has run and r is no more */
    } else {
        add_call_reply(r, mc->call, res);
        call_free(mc);
    }
    call_finished(r);
}

/* Starts a prepared call for r; takes call. */
static void start_call(mreq *r, cg_mcp_call *call)
{
    cg_mcp_http *h = r->h;
    mcall *mc = calloc(1, sizeof *mc);
    if (!mc) {
        add_reply(r, cg_mcp_error(cg_mcp_call_id(call), CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL));
        cg_mcp_call_free(call);
        return;
    }
    mc->req = r;
    mc->call = call;
    clock_gettime(CLOCK_MONOTONIC, &mc->t0);
    cg_call_result now;
    if (cg_call_start(h->engine, &cg_mcp_call_tool(call)->call, cg_mcp_call_lookup, call,
                      r->authorization, on_call_done, mc, &mc->job, &now) < 0) {
        record_call(mc, &now);
        add_call_reply(r, call, &now);
        call_free(mc);
        return;
    }
    mc->next = h->calls;
    if (h->calls) h->calls->prev = mc;
    h->calls = mc;
    mc->rnext = r->calls;
    r->calls = mc;
    r->pending++;
}

static void cancel_call(mcall *mc)
{
    mreq *r = mc->req;
    cg_call_cancel(mc->job);
    mc->job = NULL;
    call_unlink(mc);
    call_free(mc);
    call_finished(r);  /* no response for a cancelled request */
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
        (void)n;  /* EAGAIN: already signalled */
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
            if (!strcmp(mc->req->sid, m->sid) && json_equal(cg_mcp_call_id(mc->call), m->id)) {
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
        next = r->snext;  /* r may end (and go) right here */
        if (r->sse_ended) continue;
        if (r->get_stream) {
            cg_mcp_session *s = cg_mcp_sessions_find(h->shared->sessions, r->sid);
            if (!s) {  /* the session ended: so does its stream */
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

/* --- requests ------------------------------------------------------------------------------------- */

/* Checks everything that headers alone decide; answers (refuses) when something is wrong. */
static void screen(mreq *r)
{
    cg_mcp_shared *sh = r->h->shared;
    const char *url = cg_h1s_path(r->hrq), *method = cg_h1s_method(r->hrq);
    const char *prm = cg_inbound_auth_resource_metadata(sh->opt.auth, url);  /* RFC 9728 */
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
    cg_inbound_auth_verdict v = cg_inbound_auth_verify(sh->opt.auth, inbound_header, r,
                                                       &forward, &detail);
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
            refuse(r, 406, CG_JSONRPC_SERVER_ERROR,
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
            refuse(r, 413, CG_JSONRPC_INVALID_REQUEST, "Payload Too Large: messages are limited to 4 MiB");
            return;
        }
    } else if (r->method == M_GET && !accepts(accept, "text/event-stream")) {
        refuse(r, 406, CG_JSONRPC_SERVER_ERROR, "Not Acceptable: Client must accept text/event-stream");
        return;
    }

    const char *version = hdr(r, "MCP-Protocol-Version");
    if (version && !cg_mcp_version_supported(version)) {
        char msg[160];
        snprintf(msg, sizeof msg, "Bad Request: Unsupported protocol version (supported versions: %s)",
                 cg_mcp_supported_versions());
        refuse(r, 400, CG_JSONRPC_SERVER_ERROR, msg);
        return;
    }
    const char *sid = hdr(r, "Mcp-Session-Id");
    if (sid) snprintf(r->sid, sizeof r->sid, "%.*s", CG_MCP_SESSION_ID_LEN, sid);
    if (sid && strlen(sid) > CG_MCP_SESSION_ID_LEN) r->sid[0] = '?';  /* can never match */
    if (r->method != M_POST && !sid) {
        refuse(r, 400, CG_JSONRPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required");
        return;
    }

    const char *auth = forward ? hdr(r, "Authorization") : NULL;
    if (auth && *auth && !(r->authorization = strdup(auth)))
        refuse(r, 503, CG_JSONRPC_INTERNAL_ERROR, "Service Unavailable: out of memory");
}

static void handle_delete(mreq *r)
{
    cg_mcp_http *h = r->h;
    if (!cg_mcp_sessions_end(h->shared->sessions, r->sid)) {
        refuse(r, 404, CG_JSONRPC_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    for (mreq *s = h->streams, *next; s; s = next) {
        next = s->snext;  /* s may end (and go) right here */
        if (s->get_stream && !s->sse_ended && !strcmp(s->sid, r->sid)) sse_finish(s);
    }
    send_empty(r, 200);
}

static void handle_get(mreq *r)
{
    cg_mcp_shared *sh = r->h->shared;
    cg_mcp_session *s = cg_mcp_sessions_find_or_adopt(sh->sessions, r->sid, hdr(r, "MCP-Protocol-Version"));
    if (!s) {
        refuse(r, 404, CG_JSONRPC_SESSION_NOT_FOUND, "Session not found");
        return;
    }
    bool busy = s->get_streams > 0;
    if (!busy) s->get_streams++;
    cg_mcp_sessions_unlock(sh->sessions);
    if (busy) {
        refuse(r, 409, CG_JSONRPC_SERVER_ERROR, "Conflict: Only one SSE stream is allowed per session");
        return;
    }
    r->get_stream = true;
    /* priming event: an id and empty data, which clients skip */
    cg_buf first = CG_BUF_INIT;
    cg_buf_printf(&first, "id: %llu\ndata: \n\n", next_event_id(r->h));
    start_sse(r, &first);
    cg_buf_free(&first);
}

/* Sends what r has gathered: nothing (202), one response, or a batch's array. */
static void send_replies(mreq *r)
{
    if (r->n_replies == 0) {
        send_empty(r, 202);
        return;
    }
    cg_buf b = CG_BUF_INIT;
    if (r->batch && (cg_buf_append_str(&b, "[") < 0 || cg_buf_append(&b, r->replies.data, r->replies.len) < 0 ||
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

static void handle_post(mreq *r)
{
    cg_mcp_shared *sh = r->h->shared;
    char err[160];
    size_t body_len;
    const char *body = cg_h1s_body(r->hrq, &body_len);
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

    /* initialize: a new session (a message of its own, never in a batch) */
    cg_mcp_session *s = NULL;
    if (!r->batch && cg_mcp_is_initialize(doc) && cg_mcp_classify(doc, NULL) == CG_MCP_MSG_REQUEST) {
        if (r->sid[0]) {
            s = cg_mcp_sessions_find(sh->sessions, r->sid);
            if (s) {
                cg_mcp_sessions_unlock(sh->sessions);
                json_decref(doc);
                refuse(r, 400, CG_JSONRPC_INVALID_REQUEST, "Invalid Request: Server already initialized");
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
            send_json(r, 400, cg_mcp_invalid_reply(NULL, CG_JSONRPC_INVALID_REQUEST, "an empty batch"));
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
            refuse(r, 400, CG_JSONRPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required");
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
            send_json(r, 400, cg_mcp_invalid_reply(NULL, CG_JSONRPC_INVALID_REQUEST,
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
        if (kind == CG_MCP_MSG_INVALID) {  /* only in a batch */
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
        cg_mcp_handle(sh->core, &s->state, m, &actions[i]);
    }
    if (r->new_session && actions[0].reply && json_object_get(actions[0].reply, "error")) {
        cg_mcp_sessions_remove_locked(sh->sessions, s);  /* initialize failed: no session */
        r->new_session = false;
    }
    cg_mcp_sessions_unlock(sh->sessions);

    /* carry out the decisions, in order */
    cg_mcp_call *progress_call = NULL;
    for (size_t i = 0; i < n_msgs; i++) {
        cg_mcp_action *a = &actions[i];
        if (a->act == CG_MCP_ACT_REPLY) {
            add_reply(r, a->reply);
            a->reply = NULL;
        } else if (a->act == CG_MCP_ACT_CANCEL) {
            broadcast_cancel(sh, r->sid, a->cancel_id);
        } else if (a->act == CG_MCP_ACT_CALL) {
            cg_mcp_call *c = a->call;
            a->call = NULL;
            if (!r->batch && cg_mcp_call_progress_token(c)) progress_call = c;
            start_call(r, c);
        }
        cg_mcp_action_release(a);
    }
    free(actions);
    json_decref(doc);

    if (r->pending == 0) {
        if (!any_request) send_empty(r, 202);
        else send_replies(r);
        return;
    }
    if (progress_call) {  /* stream progress, then the result */
        cg_buf first = CG_BUF_INIT;
        cg_buf_printf(&first, "id: %llu\ndata: \n\n", next_event_id(r->h));
        sse_progress(r, &first, progress_call, 0, "sent to the upstream API");
        start_sse(r, &first);
        cg_buf_free(&first);
    }
    /* else: on_call_done answers */
}


/* --- the HTTP server's handlers ------------------------------------------------------------------ */

static void on_head(void *ctx, cg_h1s_request *hrq)
{
    cg_mcp_http *h = ctx;
    mreq *r = calloc(1, sizeof *r);
    if (!r) {
        static char oom[] = "{\"jsonrpc\":\"2.0\",\"id\":null,\"error\":{\"code\":-32603,\"message\":\"out of memory\"}}";
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
        refuse(r, 413, CG_JSONRPC_INVALID_REQUEST, "Payload Too Large: messages are limited to 4 MiB");
    else if (h->stopping)
        refuse(r, 503, CG_JSONRPC_SERVER_ERROR, "Service Unavailable: shutting down");
    else if (r->method == M_GET) handle_get(r);
    else if (r->method == M_DELETE) handle_delete(r);
    else handle_post(r);
}

static const char *method_name(const mreq *r)
{
    return r->method == M_GET ? "GET" : r->method == M_DELETE ? "DELETE" : r->method == M_POST ? "POST" : "OTHER";
}

static void on_end(void *ctx, cg_h1s_request *hrq)
{
    cg_mcp_http *h = ctx;
    mreq *r = cg_h1s_data(hrq);
    if (!r) return;
    cg_h1s_set_data(hrq, NULL);
    bool cut = r->calls != NULL || (r->sse && !r->sse_ended);
    while (r->calls) {  /* the client is gone: nobody to answer */
        mcall *mc = r->calls;
        cg_call_cancel(mc->job);
        call_unlink(mc);
        call_free(mc);
    }
    if (r->sse) stream_unlink(r);
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
        cg_metrics_count_request(h->shared->opt.metrics, "/mcp", method_name(r), r->status ? r->status : 499);
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
    if (h->shared->opt.metrics) cg_metrics_count_request(h->shared->opt.metrics, "/mcp", "OTHER", status);
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
             sh->opt.address ? sh->opt.address : adapter->address ? adapter->address : "127.0.0.1");
    sh->port = sh->opt.port >= 0 ? sh->opt.port : adapter->port;
    cg_mcp_core_options co = {.page_size = sh->opt.page_size};
    sh->core = cg_mcp_core_create(spec, adapter, &co);
    sh->sessions = cg_mcp_sessions_create(sh->opt.max_sessions, sh->opt.session_idle_s);
    if (!sh->core || !sh->sessions || pthread_mutex_init(&sh->lock, NULL) != 0) {
        cg_mcp_core_free(sh->core);
        cg_mcp_sessions_free(sh->sessions);
        free(sh);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    return sh;
}

void cg_mcp_shared_free(cg_mcp_shared *sh)
{
    if (!sh) return;
    cg_mcp_core_free(sh->core);
    cg_mcp_sessions_free(sh->sessions);
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
    if (h->mailbox_fd < 0 || cg_loop_io_set(h->loop, h->mailbox_fd, CG_LOOP_READ, on_mailbox, h) < 0) {
        snprintf(err, errlen, "mcp: eventfd: %s", strerror(errno));
        goto http_start_err;
    }
    cg_h1s_options so = {.address = sh->address, .port = port, .max_body = CG_MCP_MAX_MESSAGE,
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
    h->heartbeat_timer = cg_loop_timer_add(h->loop, (long)sh->opt.heartbeat_s * 1000, on_heartbeat, h);
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
        next = r->snext;  /* r may end (and go) right here */
        if (r->get_stream && !r->sse_ended) sse_finish(r);
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
    cg_h1s_stop(h->server);  /* closes every connection: on_end cancels calls, frees each mreq */
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
