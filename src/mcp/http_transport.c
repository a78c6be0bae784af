/*
 * http_transport.c — MCP Streamable HTTP on a worker's event loop. See mcp.h.
 *
 * One endpoint, /mcp. A request is screened in the order of the transport checklist
 * (path, method, Host/Origin, inbound token, Accept, Content-Type, session, protocol
 * version) as soon as its headers are in, so a refusal never waits for a body. A POST's
 * body is then parsed and each JSON-RPC message goes through the protocol core
 * (protocol.h) under the session store's lock; what the core decides is carried out here:
 *
 *   - replies that are ready at once are sent as one application/json response;
 *   - a tools/call starts an operation call (engine/call.h) and the connection is
 *     suspended until it completes; the completion callback (on this loop's thread)
 *     resumes it and the next MHD_run sends the response;
 *   - a tools/call that carries a progressToken is answered as text/event-stream: a
 *     priming event and a progress notification go out at once, then progress 1 and the
 *     result when the upstream answers, and the stream ends;
 *   - GET opens the session's one server-to-client stream, which carries only heartbeat
 *     comments (this server sends no unsolicited messages); DELETE ends the session.
 *
 * SSE bodies come from a content-reader callback that suspends the connection when it has
 * nothing to send and returns 0; whoever queues more data resumes it. Suspending and
 * resuming happen only on this loop's thread (MHD's rule for external-epoll mode), so the
 * only cross-thread entry is the mailbox: notifications/cancelled may arrive on any
 * worker, which broadcasts "cancel request ID of session S" to every worker's mailbox
 * (a mutex-guarded queue plus an eventfd on the worker's loop); each worker cancels its
 * own matching call. No pointer ever crosses threads.
 *
 * Ownership: an mreq is created at a request's first handler call and freed only in the
 * request-completed callback, which also cancels whatever calls it still has running.
 */
#include "mcp/mcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
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
    struct MHD_Daemon *daemon;
    int mailbox_fd;
    pthread_mutex_t mailbox_lock;
    cancel_msg *mailbox;
    mcall *calls;               /* calls in progress */
    mreq *streams;              /* open SSE responses (GET and progress streams) */
    mreq *suspended;            /* not used for lookup: count only */
    int active;
    uint64_t heartbeat_timer;
    bool stopping;
};

enum { M_POST = 1, M_GET, M_DELETE };

struct mreq {
    cg_mcp_http *h;
    struct MHD_Connection *conn;
    int method;
    bool screened;              /* headers checked */
    cg_buf body;
    char sid[CG_MCP_SESSION_ID_LEN + 1];
    char *authorization;        /* the caller's own, forwarded upstream */
    const char *challenge;      /* WWW-Authenticate of a 401, else NULL */
    /* POST */
    bool handled;               /* the body went through the core */
    cg_buf replies;             /* responses gathered so far, serialised, comma-separated */
    size_t n_replies;
    bool batch;
    int pending;                /* calls still running */
    mcall *calls;
    bool new_session;           /* initialize made sid: send Mcp-Session-Id */
    bool answered;              /* a response has been queued */
    bool suspended;
    /* SSE */
    bool sse;
    bool get_stream;
    cg_buf out;
    size_t out_off;
    bool out_end;
    mreq *sprev, *snext;        /* the worker's streams */
    int status;                 /* for the access log */
};

/* --- small helpers ------------------------------------------------------------------------ */

static unsigned long long next_event_id(cg_mcp_http *h)
{
    return atomic_fetch_add_explicit(&h->shared->event_seq, 1, memory_order_relaxed) + 1;
}

static const char *hdr(struct MHD_Connection *c, const char *name)
{
    return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

static const char *inbound_header(void *c, const char *name) { return hdr(c, name); }

static void suspend_req(mreq *r)
{
    if (r->suspended) return;
    MHD_suspend_connection(r->conn);
    r->suspended = true;
}

static void resume_req(mreq *r)
{
    if (!r->suspended) return;
    r->suspended = false;
    MHD_resume_connection(r->conn);
    cg_loop_kick(r->h->loop);
}

static enum MHD_Result send_buffer(mreq *r, int status, const char *type, char *data, size_t len)
{
    struct MHD_Response *resp = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(data);
        return MHD_NO;
    }
    if (type) MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, type);
    if (r->new_session) MHD_add_response_header(resp, "Mcp-Session-Id", r->sid);
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED) MHD_add_response_header(resp, "Allow", "GET, POST, DELETE");
    if (r->challenge) MHD_add_response_header(resp, MHD_HTTP_HEADER_WWW_AUTHENTICATE, r->challenge);
    enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)status, resp);
    MHD_destroy_response(resp);
    r->answered = true;
    r->status = status;
    return ok;
}

static enum MHD_Result send_json(mreq *r, int status, json_t *msg)
{
    size_t len = 0;
    char *text = msg ? cg_mcp_dump(msg, &len) : NULL;
    json_decref(msg);
    if (!text) return send_buffer(r, 500, NULL, strdup(""), 0);
    return send_buffer(r, status, "application/json", text, len);
}

/* An HTTP-level refusal with a JSON-RPC error body (id null). */
static enum MHD_Result refuse(mreq *r, int status, int code, const char *message)
{
    return send_json(r, status, cg_mcp_error(NULL, code, message, NULL));
}

static enum MHD_Result send_empty(mreq *r, int status)
{
    return send_buffer(r, status, NULL, strdup(""), 0);
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

static bool is_json_type(const char *ct)
{
    if (!ct) return false;
    while (*ct == ' ') ct++;
    size_t n = strcspn(ct, "; ");
    return n == 16 && !strncasecmp(ct, "application/json", 16);
}

/* --- SSE ----------------------------------------------------------------------------------------- */

static void sse_event(mreq *r, const json_t *msg)
{
    size_t len;
    char *text = cg_mcp_dump(msg, &len);
    if (!text) return;
    cg_buf_printf(&r->out, "event: message\nid: %llu\ndata: ", next_event_id(r->h));
    cg_buf_append(&r->out, text, len);
    cg_buf_append_str(&r->out, "\n\n");
    free(text);
}

static void sse_progress(mreq *r, const cg_mcp_call *c, double progress, const char *message)
{
    json_t *params = cg_mcp_call_progress(c, progress, 1, message);
    if (!params) return;
    json_t *n = cg_mcp_notification("notifications/progress", params);
    if (n) sse_event(r, n);
    json_decref(n);
}

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    mreq *r = cls;
    size_t avail = r->out.len - r->out_off;
    if (avail) {
        size_t n = avail < max ? avail : max;
        memcpy(buf, r->out.data + r->out_off, n);
        r->out_off += n;
        if (r->out_off == r->out.len) {
            cg_buf_reset(&r->out);
            r->out_off = 0;
        }
        return (ssize_t)n;
    }
    if (r->out_end) return MHD_CONTENT_READER_END_OF_STREAM;
    /* nothing to send yet: park the connection until someone queues more */
    suspend_req(r);
    return 0;
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

static enum MHD_Result start_sse(mreq *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, sse_read, r, NULL);
    if (!resp) return MHD_NO;
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/event-stream");
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-cache");
    if (r->new_session) MHD_add_response_header(resp, "Mcp-Session-Id", r->sid);
    enum MHD_Result ok = MHD_queue_response(r->conn, MHD_HTTP_OK, resp);
    MHD_destroy_response(resp);
    r->sse = true;
    r->answered = true;
    r->status = 200;
    stream_link(r);
    return ok;
}

/* Ends an SSE response once what is queued has gone out. */
static void sse_finish(mreq *r)
{
    r->out_end = true;
    resume_req(r);
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

/* Adds a call's response to what r will send (or to its SSE stream). */
static void add_call_reply(mreq *r, const cg_mcp_call *call, const cg_call_result *res)
{
    if (r->sse) {
        cg_buf_printf(&r->out, "event: message\nid: %llu\ndata: ", next_event_id(r->h));
        cg_mcp_call_reply_text(call, res, &r->out);
        cg_buf_append_str(&r->out, "\n\n");
        return;
    }
    size_t mark = r->replies.len;
    if (r->n_replies && cg_buf_append_str(&r->replies, ",") < 0) return;
    if (cg_mcp_call_reply_text(call, res, &r->replies) < 0) {
        r->replies.len = mark;
        if (r->replies.data) r->replies.data[mark] = 0;
        return;
    }
    r->n_replies++;
}

/* A call of r has ended (its response, if any, is queued). */
static void call_finished(mreq *r)
{
    r->pending--;
    if (r->sse) sse_finish(r);
    else if (r->pending == 0) resume_req(r);  /* the handler runs again and answers */
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
    if (r->sse) sse_progress(r, mc->call, 1, "upstream answered");
    add_call_reply(r, mc->call, res);
    if (res->error != CG_CALL_OK)
        cg_log(CG_LOG_INFO, "mcp", "tools/call %s: %s", cg_mcp_call_tool(mc->call)->name, res->message);
    call_free(mc);
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
    for (mreq *r = h->streams; r; r = r->snext) {
        if (r->out_end) continue;
        if (r->get_stream) {
            cg_mcp_session *s = cg_mcp_sessions_find(h->shared->sessions, r->sid);
            if (!s) {  /* the session ended: so does its stream */
                sse_finish(r);
                continue;
            }
            cg_mcp_sessions_unlock(h->shared->sessions);
        }
        cg_buf_append_str(&r->out, ": ping\n\n");
        resume_req(r);
    }
    if (!h->stopping)
        h->heartbeat_timer = cg_loop_timer_add(h->loop, (long)h->shared->opt.heartbeat_s * 1000,
                                               on_heartbeat, h);
}

/* --- requests ------------------------------------------------------------------------------------- */

/* Checks everything that headers alone decide. MHD_YES to go on reading the body. */
static enum MHD_Result screen(mreq *r, const char *url, const char *method)
{
    cg_mcp_shared *sh = r->h->shared;
    struct MHD_Connection *c = r->conn;
    const char *prm = cg_inbound_auth_resource_metadata(sh->opt.auth, url);  /* RFC 9728 */
    if (prm && !strcmp(method, "GET")) return send_buffer(r, 200, "application/json", strdup(prm), strlen(prm));
    if (strcmp(url, "/mcp") && strcmp(url, "/mcp/"))
        return refuse(r, 404, CG_JSONRPC_SERVER_ERROR, "Not Found: the MCP endpoint is /mcp");
    if (!strcmp(method, "POST")) r->method = M_POST;
    else if (!strcmp(method, "GET")) r->method = M_GET;
    else if (!strcmp(method, "DELETE")) r->method = M_DELETE;
    else return refuse(r, 405, CG_JSONRPC_SERVER_ERROR, "Method Not Allowed: use GET, POST or DELETE");

    const char *host = hdr(c, MHD_HTTP_HEADER_HOST), *origin = hdr(c, "Origin");
    if (host && !host_allowed(sh, host))
        return refuse(r, 403, CG_JSONRPC_SERVER_ERROR, "Forbidden: Host not allowed");
    if (origin && !origin_allowed(sh, origin))
        return refuse(r, 403, CG_JSONRPC_SERVER_ERROR, "Forbidden: Origin not allowed");

    /* inbound API tokens (engine/inbound_auth.h): after the rebinding checks, before
     * anything about the request's content */
    bool forward = true;
    const char *detail = NULL;
    cg_inbound_auth_verdict v = cg_inbound_auth_verify(sh->opt.auth, inbound_header, c,
                                                       &forward, &detail);
    if (v != CG_INBOUND_AUTH_ALLOW) {
        char msg[320];
        snprintf(msg, sizeof msg, "Unauthorized: %s", detail);
        r->challenge = cg_inbound_auth_www_authenticate(sh->opt.auth, v);
        return refuse(r, 401, CG_JSONRPC_SERVER_ERROR, msg);
    }

    const char *accept = hdr(c, MHD_HTTP_HEADER_ACCEPT);
    if (r->method == M_POST) {
        if (!accepts(accept, "application/json") || !accepts(accept, "text/event-stream"))
            return refuse(r, 406, CG_JSONRPC_SERVER_ERROR,
                          "Not Acceptable: Client must accept both application/json and text/event-stream");
        if (!is_json_type(hdr(c, MHD_HTTP_HEADER_CONTENT_TYPE)))
            return refuse(r, 415, CG_JSONRPC_SERVER_ERROR,
                          "Unsupported Media Type: Content-Type must be application/json");
        const char *cl = hdr(c, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > CG_MCP_MAX_MESSAGE)
            return refuse(r, 413, CG_JSONRPC_INVALID_REQUEST, "Payload Too Large: messages are limited to 4 MiB");
    } else if (r->method == M_GET && !accepts(accept, "text/event-stream")) {
        return refuse(r, 406, CG_JSONRPC_SERVER_ERROR,
                      "Not Acceptable: Client must accept text/event-stream");
    }

    const char *version = hdr(c, "MCP-Protocol-Version");
    if (version && !cg_mcp_version_supported(version)) {
        char msg[160];
        snprintf(msg, sizeof msg, "Bad Request: Unsupported protocol version (supported versions: %s)",
                 cg_mcp_supported_versions());
        return refuse(r, 400, CG_JSONRPC_SERVER_ERROR, msg);
    }
    const char *sid = hdr(c, "Mcp-Session-Id");
    if (sid) snprintf(r->sid, sizeof r->sid, "%.*s", CG_MCP_SESSION_ID_LEN, sid);
    if (sid && strlen(sid) > CG_MCP_SESSION_ID_LEN) r->sid[0] = '?';  /* can never match */
    if (r->method != M_POST && !sid)
        return refuse(r, 400, CG_JSONRPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required");

    const char *auth = forward ? hdr(c, MHD_HTTP_HEADER_AUTHORIZATION) : NULL;
    if (auth && *auth && !(r->authorization = strdup(auth))) return MHD_NO;
    return MHD_YES;
}

static enum MHD_Result handle_delete(mreq *r)
{
    cg_mcp_http *h = r->h;
    if (!cg_mcp_sessions_end(h->shared->sessions, r->sid))
        return refuse(r, 404, CG_JSONRPC_SESSION_NOT_FOUND, "Session not found");
    for (mreq *s = h->streams; s; s = s->snext)
        if (s->get_stream && !strcmp(s->sid, r->sid)) sse_finish(s);
    return send_empty(r, 200);
}

static enum MHD_Result handle_get(mreq *r)
{
    cg_mcp_shared *sh = r->h->shared;
    cg_mcp_session *s = cg_mcp_sessions_find_or_adopt(sh->sessions, r->sid,
                                                      hdr(r->conn, "MCP-Protocol-Version"));
    if (!s) return refuse(r, 404, CG_JSONRPC_SESSION_NOT_FOUND, "Session not found");
    bool busy = s->get_streams > 0;
    if (!busy) s->get_streams++;
    cg_mcp_sessions_unlock(sh->sessions);
    if (busy)
        return refuse(r, 409, CG_JSONRPC_SERVER_ERROR,
                      "Conflict: Only one SSE stream is allowed per session");
    r->get_stream = true;
    /* priming event: an id and empty data, which clients skip */
    cg_buf_printf(&r->out, "id: %llu\ndata: \n\n", next_event_id(r->h));
    return start_sse(r);
}

/* Sends what r has gathered: nothing (202), one response, or a batch's array. */
static enum MHD_Result send_replies(mreq *r)
{
    if (r->n_replies == 0) return send_empty(r, 202);
    if (r->batch) {
        cg_buf b = CG_BUF_INIT;
        if (cg_buf_append_str(&b, "[") < 0 || cg_buf_append(&b, r->replies.data, r->replies.len) < 0 ||
            cg_buf_append_str(&b, "]") < 0) {
            cg_buf_free(&b);
            return MHD_NO;
        }
        size_t len = b.len;
        return send_buffer(r, 200, "application/json", cg_buf_steal(&b), len);
    }
    size_t len = r->replies.len;
    char *text = cg_buf_steal(&r->replies);
    return text ? send_buffer(r, 200, "application/json", text, len) : MHD_NO;
}

static enum MHD_Result handle_post(mreq *r)
{
    cg_mcp_shared *sh = r->h->shared;
    char err[160];
    json_t *doc = cg_mcp_parse(r->body.data ? r->body.data : "", r->body.len, err, sizeof err);
    if (!doc) {
        char msg[200];
        snprintf(msg, sizeof msg, "Parse error: %s", err);
        return refuse(r, 400, CG_JSONRPC_PARSE_ERROR, msg);
    }
    r->handled = true;
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
                return refuse(r, 400, CG_JSONRPC_INVALID_REQUEST,
                              "Invalid Request: Server already initialized");
            }
        }
        s = cg_mcp_sessions_create_session(sh->sessions);
        if (!s) {
            json_decref(doc);
            return refuse(r, 503, CG_JSONRPC_INTERNAL_ERROR, "Service Unavailable: no session available");
        }
        memcpy(r->sid, s->id, sizeof r->sid);
        r->new_session = true;
    } else {
        if (r->batch && n_msgs == 0) {
            json_decref(doc);
            return send_json(r, 400, cg_mcp_invalid_reply(NULL, CG_JSONRPC_INVALID_REQUEST,
                                                          "an empty batch"));
        }
        if (!r->batch && cg_mcp_classify(doc, &why) == CG_MCP_MSG_INVALID) {
            json_t *reply = cg_mcp_invalid_reply(doc, CG_JSONRPC_INVALID_REQUEST, why);
            json_decref(doc);
            return send_json(r, 400, reply);
        }
        if (!r->sid[0]) {
            json_decref(doc);
            return refuse(r, 400, CG_JSONRPC_SERVER_ERROR, "Bad Request: Mcp-Session-Id header is required");
        }
        /* a session another instance started (shared secret) continues here */
        s = cg_mcp_sessions_find_or_adopt(sh->sessions, r->sid, hdr(r->conn, "MCP-Protocol-Version"));
        if (!s) {
            json_decref(doc);
            return refuse(r, 404, CG_JSONRPC_SESSION_NOT_FOUND, "Session not found");
        }
        if (r->batch && strcmp(s->state.version, "2025-03-26")) {
            cg_mcp_sessions_unlock(sh->sessions);
            json_decref(doc);
            return send_json(r, 400, cg_mcp_invalid_reply(NULL, CG_JSONRPC_INVALID_REQUEST,
                                                          "batches need protocol version 2025-03-26"));
        }
    }

    /* the session is locked: run every message through the core */
    cg_mcp_action *actions = calloc(n_msgs, sizeof *actions);
    if (!actions) {
        cg_mcp_sessions_unlock(sh->sessions);
        json_decref(doc);
        return MHD_NO;
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
        if (!any_request) return send_empty(r, 202);
        return send_replies(r);
    }
    if (progress_call) {  /* stream progress, then the result */
        cg_buf_printf(&r->out, "id: %llu\ndata: \n\n", next_event_id(r->h));
        sse_progress(r, progress_call, 0, "sent to the upstream API");
        return start_sse(r);
    }
    suspend_req(r);  /* on_call_done resumes us */
    return MHD_YES;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **req_cls)
{
    cg_mcp_http *h = cls;
    mreq *r = *req_cls;
    if (!r) {
        r = calloc(1, sizeof *r);
        if (!r) return MHD_NO;
        r->h = h;
        r->conn = conn;
        r->body.max = CG_MCP_MAX_MESSAGE;
        *req_cls = r;
        h->active++;
        if (screen(r, url, method) != MHD_YES || r->answered) return r->answered ? MHD_YES : MHD_NO;
        r->screened = true;
        return MHD_YES;
    }
    if (r->answered) {  /* a refusal was queued before the body: drop the body */
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (cg_buf_append(&r->body, upload_data, *upload_data_size) < 0) {
            *upload_data_size = 0;
            return refuse(r, 413, CG_JSONRPC_INVALID_REQUEST, "Payload Too Large");
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (r->handled && r->pending == 0)  /* resumed: every call is done */
        return send_replies(r);
    if (r->handled) return MHD_YES;  /* spurious: still waiting */
    if (h->stopping) return refuse(r, 503, CG_JSONRPC_SERVER_ERROR, "Service Unavailable: shutting down");
    switch (r->method) {
    case M_GET: return handle_get(r);
    case M_DELETE: return handle_delete(r);
    default: return handle_post(r);
    }
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **req_cls,
                         enum MHD_RequestTerminationCode toe)
{
    cg_mcp_http *h = cls;
    mreq *r = *req_cls;
    if (!r) return;
    *req_cls = NULL;
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
    if (h->shared->opt.metrics)
        cg_metrics_count_request(h->shared->opt.metrics, "/mcp",
                                 r->method == M_GET ? "GET" : r->method == M_DELETE ? "DELETE" : "POST",
                                 r->status ? r->status : 499);
    if (h->shared->opt.access_log)
        cg_log(CG_LOG_INFO, "mcp", "%s /mcp %d%s", r->method == M_GET ? "GET" : r->method == M_DELETE ? "DELETE" : "POST",
               r->status, toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection ended early)");
    h->active--;
    cg_buf_free(&r->body);
    cg_buf_free(&r->out);
    cg_buf_free(&r->replies);
    free(r->authorization);
    free(r);
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

static struct MHD_Daemon *start_daemon(cg_mcp_http *h, char *err, size_t errlen)
{
    cg_mcp_shared *sh = h->shared;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    unsigned flags = MHD_USE_EPOLL | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_TURBO;
    if (inet_pton(AF_INET, sh->address, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)sh->port);
    } else if (inet_pton(AF_INET6, sh->address, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)sh->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "mcp: '%s' is not an IP address", sh->address);
        return NULL;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, (uint16_t)sh->port, NULL, NULL, on_request, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
        MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)sh->opt.connection_timeout_s,
        MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned)1024,
        /* headers and the read buffer; bodies are copied out as they arrive. MHD clears
         * the pool for every request, so smaller is faster (the REST adapter does the same) */
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)16 * 1024,
        MHD_OPTION_END);
    if (!d) snprintf(err, errlen, "mcp: cannot listen on %s:%d: %s", sh->address, sh->port, strerror(errno));
    return d;
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
    pthread_mutex_lock(&sh->lock);
    bool full = sh->n_workers == MAX_WORKERS;
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
    h->daemon = start_daemon(h, err, errlen);
    if (!h->daemon) goto http_start_err;
    if (cg_loop_add_daemon(h->loop, h->daemon) < 0) {
        snprintf(err, errlen, "mcp: cannot add the daemon to the loop: %s", strerror(errno));
        goto http_start_err;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_BIND_PORT);
    pthread_mutex_lock(&sh->lock);
    if (info && sh->port == 0) sh->port = info->port;
    sh->workers[sh->n_workers++] = h;
    pthread_mutex_unlock(&sh->lock);
    h->heartbeat_timer = cg_loop_timer_add(h->loop, (long)sh->opt.heartbeat_s * 1000, on_heartbeat, h);
    return h;

http_start_err:
    if (h->daemon) MHD_stop_daemon(h->daemon);
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
    MHD_socket fd = MHD_quiesce_daemon(h->daemon);
    if (fd != MHD_INVALID_SOCKET) close(fd);
    for (mreq *r = h->streams; r; r = r->snext)
        if (r->get_stream) sse_finish(r);
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
    /* cancel the calls; their requests are resumed so MHD can close them */
    while (h->calls) {
        mcall *mc = h->calls;
        mreq *r = mc->req;
        cg_call_cancel(mc->job);
        call_unlink(mc);
        call_free(mc);
        r->pending--;
        r->out_end = true;
        resume_req(r);
    }
    for (mreq *r = h->streams; r; r = r->snext) {
        r->out_end = true;
        resume_req(r);
    }
    MHD_stop_daemon(h->daemon);  /* closes every connection: on_completed frees each mreq */
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
