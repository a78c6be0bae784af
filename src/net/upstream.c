/*
 * upstream.c — curl multi on the worker's loop. See upstream.h.
 *
 * How the pieces fit (curl's "multi_socket" API, the one meant for external loops):
 *   - curl tells us which sockets to watch through on_curl_socket (CURLMOPT_SOCKETFUNCTION);
 *     we mirror that into the loop with cg_loop_io_set/remove;
 *   - curl tells us when it next wants to be called without socket activity through
 *     on_curl_timer (CURLMOPT_TIMERFUNCTION); we keep exactly one loop timer for it;
 *   - when a socket is ready or the timer fires we call curl_multi_socket_action and then
 *     collect finished transfers with curl_multi_info_read (collect_done), each of which
 *     either is retried after a back-off timer or completes through finish().
 * curl's calls into us never call back into curl (it forbids that); completion callbacks
 * run after curl_multi_socket_action has returned, so they may submit or cancel freely.
 *
 * The pool: connections live in the multi handle's cache and outlive easy handles, so a
 * recycled easy handle (curl_easy_reset keeps nothing but the handle) still gets a warm
 * keep-alive connection. The in-flight cap is ours (a FIFO queue), not curl's pending
 * list, so queued requests do not eat into their own timeout before they start.
 */
#include "net/upstream.h"

#include "common/clock.h"

#include "net/h1.h"

#include <curl/curl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#define FREE_EASY_MAX 64

struct cg_upstream_transfer {
    cg_upstream *up;
    CURL *easy;      /* NULL while queued or waiting to retry */
    cg__h1_call *h1; /* instead of easy, on capgate's own client */
    /* the request, copied into the same allocation as the transfer (see copy_request) */
    cg_upstream_header *headers;
    size_t n_headers;
    struct curl_slist *curl_headers; /* built for the first attempt through libcurl */
    char *method, *url, *body;
    size_t body_len;
    bool has_body;
    long connect_timeout_ms, timeout_ms;
    bool idempotent;
    int attempts;
    uint64_t started; /* ms, monotonic */
    uint64_t retry_timer;
    cg_upstream_cb cb;
    void *arg;
    cg_buf response;
    bool too_large;
    bool holds_slot; /* counted in up->running */
    char errbuf[CURL_ERROR_SIZE];
    cg_upstream_transfer *next;                /* queue link */
    cg_upstream_transfer *all_prev, *all_next; /* every live transfer, for cg_upstream_free */
};

struct cg_upstream {
    cg_loop *loop;
    CURLM *multi;
    cg_upstream_config cfg;
    uint64_t curl_timer;
    int running; /* transfers holding an in-flight slot */
    int queued;
    cg_upstream_transfer *queue_head, *queue_tail;
    cg_upstream_transfer *all;
    CURL *free_easy[FREE_EASY_MAX];
    int n_free_easy;
    cg__h1 *h1;         /* capgate's own HTTP/1.1 client, when cfg.native_http */
    unsigned char *reg; /* per fd: REG_* bits and the watched CG_LOOP_* events */
    size_t n_reg;
};

const char *cg_upstream_result_name(cg_upstream_result r)
{
    switch (r) {
    case CG_UPSTREAM_OK: return "ok";
    case CG_UPSTREAM_UNREACHABLE: return "unreachable";
    case CG_UPSTREAM_TIMEOUT: return "timeout";
    case CG_UPSTREAM_BAD_RESPONSE: return "bad_response";
    case CG_UPSTREAM_OVERLOADED: return "overloaded";
    default: return "internal";
    }
}

/* ---- curl → loop ---------------------------------------------------------------- */

static void collect_done(cg_upstream *up);

/* Socket registration, lazily undone. curl asks to stop watching a connection's socket at
 * the end of every transfer and to watch it again at the start of the next one on the same
 * keep-alive connection: two epoll_ctl calls per request for nothing. So CURL_POLL_REMOVE
 * only marks the socket unwanted and leaves it in the epoll set with the same events; the
 * next request's identical registration costs nothing. An event on an unwanted socket (the
 * server closed an idle connection) removes it for real, and so does curl closing it
 * (on_curl_close, CURLOPT_CLOSESOCKETFUNCTION), so a reused fd number is never mistaken for
 * a registered one. */
#define REG_ACTIVE 0x80u   /* in the epoll set */
#define REG_UNWANTED 0x40u /* curl no longer asks for it */

static unsigned char *reg_slot(cg_upstream *up, int fd)
{
    if (fd < 0) return NULL;
    if ((size_t)fd >= up->n_reg) {
        size_t n = up->n_reg ? up->n_reg : 256;
        while (n <= (size_t)fd) n *= 2;
        unsigned char *r = realloc(up->reg, n);
        if (!r) return NULL;
        memset(r + up->n_reg, 0, n - up->n_reg);
        up->reg = r;
        up->n_reg = n;
    }
    return &up->reg[fd];
}

static void reg_drop(cg_upstream *up, int fd)
{
    unsigned char *r = reg_slot(up, fd);
    if (r && *r) {
        cg_loop_io_remove(up->loop, fd);
        *r = 0;
    }
}

static void on_socket_ready(cg_loop *loop, int fd, unsigned events, void *arg)
{
    cg_upstream *up = arg;
    unsigned char *r = reg_slot(up, fd);
    if (r && (*r & REG_UNWANTED)) {
        reg_drop(up, fd);
        return;
    }
    int flags = ((events & CG_LOOP_READ) ? CURL_CSELECT_IN : 0) |
                ((events & CG_LOOP_WRITE) ? CURL_CSELECT_OUT : 0);
    int still;
    curl_multi_socket_action(up->multi, fd, flags, &still);
    collect_done(up);
}

static int on_curl_socket(CURL *easy, curl_socket_t s, int what, void *userp, void *socketp)
{
    cg_upstream *up = userp;
    unsigned char *r = reg_slot(up, s);
    if (!r) return -1;
    if (what == CURL_POLL_REMOVE) {
        if (*r) *r |= REG_UNWANTED;
        return 0;
    }
    unsigned ev = ((what & CURL_POLL_IN) ? CG_LOOP_READ : 0u) |
                  ((what & CURL_POLL_OUT) ? CG_LOOP_WRITE : 0u);
    if ((*r & REG_ACTIVE) && (*r & 3u) == ev) {
        *r = (unsigned char)(REG_ACTIVE | ev); /* wanted again, already watched */
        return 0;
    }
    if (cg_loop_io_set(up->loop, s, ev, on_socket_ready, up) < 0) return -1;
    *r = (unsigned char)(REG_ACTIVE | ev);
    return 0;
}

static int on_curl_close(void *clientp, curl_socket_t s)
{
    reg_drop(clientp, s);
    return close(s);
}

static void on_timer_due(cg_loop *loop, void *arg)
{
    cg_upstream *up = arg;
    int still;
    up->curl_timer = 0;
    curl_multi_socket_action(up->multi, CURL_SOCKET_TIMEOUT, 0, &still);
    collect_done(up);
}

static int on_curl_timer(CURLM *multi, long timeout_ms, void *userp)
{
    cg_upstream *up = userp;
    cg_loop_timer_cancel(up->loop, up->curl_timer);
    up->curl_timer = 0;
    if (timeout_ms >= 0) {
        up->curl_timer = cg_loop_timer_add(up->loop, timeout_ms, on_timer_due, up);
        if (!up->curl_timer) return -1;
    }
    return 0;
}

/* ---- transfers ------------------------------------------------------------------ */

static size_t on_body(char *data, size_t size, size_t nmemb, void *userp)
{
    cg_upstream_transfer *t = userp;
    size_t n = size * nmemb;
    if (cg_buf_append(&t->response, data, n) < 0) {
        t->too_large = true;
        return 0; /* aborts the transfer with CURLE_WRITE_ERROR */
    }
    return n;
}

static CURL *easy_get(cg_upstream *up)
{
    if (up->n_free_easy > 0) {
        CURL *e = up->free_easy[--up->n_free_easy];
        curl_easy_reset(e);
        return e;
    }
    return curl_easy_init();
}

static void easy_put(cg_upstream *up, CURL *e)
{
    if (!e) return;
    if (up->n_free_easy < FREE_EASY_MAX) up->free_easy[up->n_free_easy++] = e;
    else curl_easy_cleanup(e);
}

static void transfer_free(cg_upstream_transfer *t)
{
    if (t->all_prev) t->all_prev->all_next = t->all_next;
    else if (t->up->all == t) t->up->all = t->all_next;
    if (t->all_next) t->all_next->all_prev = t->all_prev;
    curl_slist_free_all(t->curl_headers);
    cg_buf_free(&t->response);
    free(t);
}

/* Configures a fresh easy handle for t's current attempt. 0 or -1. */
static void on_h1_done(void *arg, const cg__h1_outcome *o);

/* The multi handle is made on first use: creating one initialises libcurl and OpenSSL
 * (~3 MB of resident library pages), which plain-http upstreams never need. */
static int ensure_multi(cg_upstream *up)
{
    if (up->multi) return 0;
    up->multi = curl_multi_init();
    if (!up->multi) return -1;
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETFUNCTION, on_curl_socket);
    curl_multi_setopt(up->multi, CURLMOPT_SOCKETDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERFUNCTION, on_curl_timer);
    curl_multi_setopt(up->multi, CURLMOPT_TIMERDATA, up);
    curl_multi_setopt(up->multi, CURLMOPT_MAX_HOST_CONNECTIONS, (long)up->cfg.max_host_connections);
    curl_multi_setopt(up->multi, CURLMOPT_MAXCONNECTS, (long)up->cfg.max_host_connections);
    return 0;
}

static int curl_header_list(cg_upstream_transfer *t);

static int transfer_setup(cg_upstream_transfer *t)
{
    cg_upstream *up = t->up;
    long remaining = t->timeout_ms - (long)(cg_clock_mono_ms() - t->started);
    if (remaining < 1) remaining = 1;
    if (up->h1 && cg__h1_supports(up->h1, t->url)) {
        t->errbuf[0] = '\0';
        t->too_large = false;
        cg_buf_reset(&t->response);
        t->attempts++;
        t->h1 = cg__h1_start(up->h1, t->method, t->url, t->headers, t->n_headers, t->body,
                             t->body_len, t->has_body, t->idempotent, up->cfg.user_agent,
                             t->connect_timeout_ms < remaining ? t->connect_timeout_ms : remaining,
                             remaining, on_h1_done, t);
        return t->h1 ? 0 : -1;
    }
    if (ensure_multi(up) < 0) return -1;
    if (!t->curl_headers && curl_header_list(t) < 0) return -1;
    CURL *e = easy_get(up);
    if (!e) return -1;
    t->easy = e;
    long elapsed = (long)(cg_clock_mono_ms() - t->started);
    long left = t->timeout_ms - elapsed;
    if (left < 1) left = 1;
    CURLcode rc = CURLE_OK;
#define SET(opt, val)                                                                              \
    if (rc == CURLE_OK) rc = curl_easy_setopt(e, opt, val)
    SET(CURLOPT_URL, t->url);
    SET(CURLOPT_NOSIGNAL, 1L);
    SET(CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    SET(CURLOPT_PROTOCOLS_STR, "http,https");
    SET(CURLOPT_FOLLOWLOCATION, 0L);
    SET(CURLOPT_TCP_NODELAY, 1L);
    SET(CURLOPT_CONNECTTIMEOUT_MS, t->connect_timeout_ms < left ? t->connect_timeout_ms : left);
    SET(CURLOPT_TIMEOUT_MS, left);
    SET(CURLOPT_USERAGENT, up->cfg.user_agent);
    SET(CURLOPT_HTTPHEADER, t->curl_headers);
    SET(CURLOPT_WRITEFUNCTION, on_body);
    SET(CURLOPT_WRITEDATA, t);
    SET(CURLOPT_PRIVATE, t);
    SET(CURLOPT_ERRORBUFFER, t->errbuf);
    SET(CURLOPT_CLOSESOCKETFUNCTION, on_curl_close);
    SET(CURLOPT_CLOSESOCKETDATA, up);
    /* libcurl sends a request again, whatever its method, when a reused connection dies
     * before any answer byte: the server may have read it already. A request that must not
     * be sent twice gets a new connection, where libcurl never does that. */
    if (!t->idempotent) SET(CURLOPT_FRESH_CONNECT, 1L);
    if (!strcmp(t->method, "GET")) {
        SET(CURLOPT_HTTPGET, 1L);
    } else if (!strcmp(t->method, "HEAD")) {
        SET(CURLOPT_NOBODY, 1L);
    } else {
        SET(CURLOPT_CUSTOMREQUEST, t->method);
    }
    if (t->has_body) {
        SET(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)t->body_len);
        SET(CURLOPT_POSTFIELDS, t->body);
        if (rc == CURLE_OK && strcmp(t->method, "POST"))
            rc = curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, t->method);
    }
#undef SET
    t->errbuf[0] = '\0';
    t->too_large = false;
    cg_buf_reset(&t->response);
    t->response.max = up->cfg.max_response;
    t->attempts++;
    if (rc != CURLE_OK || curl_multi_add_handle(up->multi, e) != CURLM_OK) {
        easy_put(up, e);
        t->easy = NULL;
        return -1;
    }
    return 0;
}

static void finish(cg_upstream_transfer *t, cg_upstream_result result, int status,
                   const char *content_type, const char *www_auth, const char *error)
{
    cg_upstream_response res = {
        .result = result,
        .status = status,
        .content_type = content_type,
        .www_authenticate = result == CG_UPSTREAM_OK && status == 401 ? www_auth : NULL,
        .body = t->response,
        .error = error,
        .seconds = (double)(cg_clock_mono_ms() - t->started) / 1000.0,
        .attempts = t->attempts,
    };
    t->response = (cg_buf)CG_BUF_INIT;
    t->cb(t->arg, &res);
    cg_buf_free(&res.body);
    transfer_free(t);
}

static void start_queued(cg_upstream *up);

/* Gives back an in-flight slot and lets the next queued transfer run. */
static void release_slot(cg_upstream *up)
{
    up->running--;
    start_queued(up);
}

static void take_slot(cg_upstream_transfer *t)
{
    t->up->running++;
    t->holds_slot = true;
}

static void on_setup_failed(cg_loop *loop, void *arg)
{
    cg_upstream_transfer *t = arg;
    cg_upstream *up = t->up;
    t->retry_timer = 0;
    finish(t, CG_UPSTREAM_INTERNAL, 0, NULL, NULL, "could not set up the upstream request");
    release_slot(up);
}

static void start_now(cg_upstream_transfer *t)
{
    if (t->attempts == 0) t->started = cg_clock_mono_ms(); /* time in the queue is not counted */
    if (transfer_setup(t) < 0)
        t->retry_timer = cg_loop_timer_add(t->up->loop, 0, on_setup_failed, t);
}

static void start_queued(cg_upstream *up)
{
    while (up->queue_head && up->running < up->cfg.max_in_flight) {
        cg_upstream_transfer *t = up->queue_head;
        up->queue_head = t->next;
        if (!up->queue_head) up->queue_tail = NULL;
        t->next = NULL;
        up->queued--;
        take_slot(t);
        start_now(t);
    }
}

static void on_retry_due(cg_loop *loop, void *arg)
{
    cg_upstream_transfer *t = arg;
    t->retry_timer = 0;
    start_now(t);
}

/* curl's code → our result. The one place transport failures are classified. */
static cg_upstream_result classify(CURLcode code, bool too_large)
{
    switch (code) {
    case CURLE_OK: return CG_UPSTREAM_OK;
    case CURLE_OPERATION_TIMEDOUT: return CG_UPSTREAM_TIMEOUT;
    case CURLE_WRITE_ERROR: return too_large ? CG_UPSTREAM_BAD_RESPONSE : CG_UPSTREAM_INTERNAL;
#if LIBCURL_VERSION_NUM >= 0x080600
    case CURLE_TOO_LARGE:
#endif
    case CURLE_PARTIAL_FILE:
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_BAD_CONTENT_ENCODING: return CG_UPSTREAM_BAD_RESPONSE;
    case CURLE_OUT_OF_MEMORY:
    case CURLE_FAILED_INIT: return CG_UPSTREAM_INTERNAL;
    default: return CG_UPSTREAM_UNREACHABLE; /* refused, reset, resolve, got nothing, ... */
    }
}

/* One attempt ended, on either client: retry it after a back-off, or finish the transfer.
 * connect_failed: no connection could be made, so nothing was sent. */
static void attempt_done(cg_upstream_transfer *t, cg_upstream_result r, int status,
                         const char *content_type, const char *www_auth, const char *error,
                         bool connect_failed)
{
    cg_upstream *up = t->up;
    long elapsed = (long)(cg_clock_mono_ms() - t->started);
    if (connect_failed && t->idempotent && t->attempts <= up->cfg.retries) {
        long backoff = up->cfg.retry_backoff_ms << (t->attempts - 1);
        if (elapsed + backoff < t->timeout_ms) {
            t->retry_timer = cg_loop_timer_add(up->loop, backoff, on_retry_due, t);
            if (t->retry_timer) return;
        }
    }
    char msgbuf[CURL_ERROR_SIZE + 64];
    if (r != CG_UPSTREAM_OK) {
        if (t->too_large)
            snprintf(msgbuf, sizeof msgbuf, "upstream response larger than %zu bytes",
                     up->cfg.max_response);
        else snprintf(msgbuf, sizeof msgbuf, "%s", error ? error : "upstream call failed");
        error = msgbuf;
    }
    finish(t, r, r == CG_UPSTREAM_OK ? status : 0, content_type, www_auth,
           r == CG_UPSTREAM_OK ? NULL : error);
    release_slot(up);
}

static void on_h1_done(void *arg, const cg__h1_outcome *o)
{
    cg_upstream_transfer *t = arg;
    t->h1 = NULL;
    cg_buf_free(&t->response);
    t->response = *o->body;
    *o->body = (cg_buf)CG_BUF_INIT;
    attempt_done(t, o->result, o->status, o->content_type, o->www_authenticate, o->error,
                 o->connect_failed);
}

/* A 401's WWW-Authenticate from libcurl: the Digest challenge when there are several. */
static char *curl_www_authenticate(CURL *e)
{
    struct curl_header *h = NULL, *first = NULL;
    size_t amount = 0;
    for (size_t i = 0;; i++) {
        if (curl_easy_header(e, "WWW-Authenticate", i, CURLH_HEADER, -1, &h) != CURLHE_OK) break;
        if (i == 0) {
            first = h;
            amount = h->amount;
        }
        if (!strncasecmp(h->value, "Digest", 6)) return strdup(h->value);
        if (i + 1 >= amount) break;
    }
    return first && curl_easy_header(e, "WWW-Authenticate", 0, CURLH_HEADER, -1, &h) == CURLHE_OK
               ? strdup(h->value)
               : NULL;
}

static void collect_done(cg_upstream *up)
{
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(up->multi, &left))) {
        if (msg->msg != CURLMSG_DONE) continue;
        CURL *e = msg->easy_handle;
        CURLcode code = msg->data.result;
        cg_upstream_transfer *t = NULL;
        curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&t);
        long status = 0;
        char *ct = NULL;
        curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e, CURLINFO_CONTENT_TYPE, &ct);
        char *content_type = ct ? strdup(ct) : NULL;
        char *www_auth = status == 401 ? curl_www_authenticate(e) : NULL;
        long head_bytes = 0;
        curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &head_bytes);
        cg_upstream_result r = classify(code, t->too_large);
        /* An answer that began and then broke (reset or closed mid-body, bad chunking) is a
         * bad response, not an unreachable upstream: the same as capgate's own client. */
        if (r == CG_UPSTREAM_UNREACHABLE && (head_bytes > 0 || code == CURLE_PARTIAL_FILE))
            r = CG_UPSTREAM_BAD_RESPONSE;
        /* Before 8.6 libcurl refuses a header line over its 100 KB limit with
         * CURLE_OUT_OF_MEMORY (sometimes with "Rejected N bytes header"): once the head has
         * begun to arrive, that is the upstream's oversized head, not our memory. */
        const char *why = t->errbuf[0] ? t->errbuf : curl_easy_strerror(code);
        if (code == CURLE_OUT_OF_MEMORY &&
            (head_bytes > 0 || !strncmp(t->errbuf, "Rejected ", 9))) {
            r = CG_UPSTREAM_BAD_RESPONSE;
            why = "upstream response head too large";
        }
        curl_multi_remove_handle(up->multi, e);
        easy_put(up, e);
        t->easy = NULL;
        attempt_done(t, r, (int)status, content_type, www_auth, why, code == CURLE_COULDNT_CONNECT);
        free(content_type);
        free(www_auth);
    }
}

/* ---- public --------------------------------------------------------------------- */

cg_upstream *cg_upstream_create(cg_loop *loop, const cg_upstream_config *cfg, char *err,
                                size_t errlen)
{
    cg_upstream *up = calloc(1, sizeof *up);
    if (!up) goto upstream_create_err;
    up->loop = loop;
    if (cfg) up->cfg = *cfg;
    if (up->cfg.max_in_flight <= 0) up->cfg.max_in_flight = 64;
    if (up->cfg.max_queued <= 0) up->cfg.max_queued = 4096;
    if (up->cfg.max_host_connections <= 0) up->cfg.max_host_connections = up->cfg.max_in_flight;
    if (up->cfg.retries < 0) up->cfg.retries = 0;
    if (up->cfg.retry_backoff_ms <= 0) up->cfg.retry_backoff_ms = 50;
    if (!up->cfg.max_response) up->cfg.max_response = 64u << 20;
    if (!up->cfg.user_agent) up->cfg.user_agent = "capgate";
    if (up->cfg.native_http) {
        up->h1 = cg__h1_create(loop, up->cfg.max_host_connections, up->cfg.max_response);
        if (!up->h1) goto upstream_create_err;
    }
    return up;

upstream_create_err:
    if (err && errlen) snprintf(err, errlen, "upstream client: out of memory or curl failure");
    cg_upstream_free(up);
    return NULL;
}

void cg_upstream_free(cg_upstream *up)
{
    if (!up) return;
    while (up->all) {
        cg_upstream_transfer *t = up->all;
        if (t->h1) cg__h1_cancel(t->h1);
        if (t->easy) {
            curl_multi_remove_handle(up->multi, t->easy);
            curl_easy_cleanup(t->easy);
        }
        cg_loop_timer_cancel(up->loop, t->retry_timer);
        transfer_free(t);
    }
    cg__h1_free(up->h1);
    for (int i = 0; i < up->n_free_easy; i++) curl_easy_cleanup(up->free_easy[i]);
    if (up->multi) curl_multi_cleanup(up->multi);
    cg_loop_timer_cancel(up->loop, up->curl_timer);
    for (size_t fd = 0; fd < up->n_reg; fd++)
        if (up->reg[fd]) cg_loop_io_remove(up->loop, (int)fd);
    free(up->reg);
    free(up);
}

static void on_overloaded(cg_loop *loop, void *arg)
{
    cg_upstream_transfer *t = arg;
    t->retry_timer = 0;
    finish(t, CG_UPSTREAM_OVERLOADED, 0, NULL, NULL, "too many upstream calls waiting");
}

static bool has_header(const cg_upstream_transfer *t, const char *name)
{
    for (size_t i = 0; i < t->n_headers; i++)
        if (!strcasecmp(t->headers[i].name, name)) return true;
    return false;
}

/* The header lines libcurl wants ("Name: value"), plus "Expect:" and, unless the request
 * has its own, "Content-Type:": libcurl adds those on its own, an empty value removes them. */
static int curl_header_list(cg_upstream_transfer *t)
{
    struct curl_slist *list = NULL;
    cg_buf line = CG_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < t->n_headers + 2 && rc == 0; i++) {
        cg_buf_reset(&line);
        if (i < t->n_headers)
            rc = cg_buf_printf(&line, "%s: %s", t->headers[i].name, t->headers[i].value);
        else if (i == t->n_headers) rc = cg_buf_append_str(&line, "Expect:");
        else if (!has_header(t, "Content-Type")) rc = cg_buf_append_str(&line, "Content-Type:");
        else continue;
        struct curl_slist *l = rc == 0 ? curl_slist_append(list, line.data) : NULL;
        if (!l) rc = -1;
        else list = l;
    }
    cg_buf_free(&line);
    if (rc < 0) {
        curl_slist_free_all(list);
        return -1;
    }
    t->curl_headers = list;
    return 0;
}

/* A transfer with a copy of req (method, URL, headers, body) in the same allocation: one
 * malloc per call, however many headers it has. NULL when out of memory. */
static cg_upstream_transfer *copy_request(const cg_upstream_request *req)
{
    size_t method_len = strlen(req->method), url_len = strlen(req->url);
    size_t size = sizeof(cg_upstream_transfer) + req->n_headers * sizeof(cg_upstream_header) +
                  method_len + 1 + url_len + 1 + (req->body ? req->body_len + 1 : 0);
    for (size_t i = 0; i < req->n_headers; i++)
        size += strlen(req->headers[i].name) + 1 + strlen(req->headers[i].value) + 1;
    cg_upstream_transfer *t = calloc(1, size);
    if (!t) return NULL;
    t->headers = (cg_upstream_header *)(void *)(t + 1);
    t->n_headers = req->n_headers;
    char *p = (char *)(t->headers + req->n_headers);
#define COPY(dst, src, n)                                                                          \
    do {                                                                                           \
        dst = p;                                                                                   \
        memcpy(p, src, n);                                                                         \
        p[n] = '\0';                                                                               \
        p += (n) + 1;                                                                              \
    } while (0)
    COPY(t->method, req->method, method_len);
    COPY(t->url, req->url, url_len);
    if (req->body) {
        COPY(t->body, req->body, req->body_len);
        t->body_len = req->body_len;
        t->has_body = true;
    }
    for (size_t i = 0; i < req->n_headers; i++) {
        const char *name, *value;
        COPY(name, req->headers[i].name, strlen(req->headers[i].name));
        COPY(value, req->headers[i].value, strlen(req->headers[i].value));
        t->headers[i] = (cg_upstream_header){name, value};
    }
#undef COPY
    return t;
}

cg_upstream_transfer *cg_upstream_submit(cg_upstream *up, const cg_upstream_request *req,
                                         cg_upstream_cb cb, void *arg)
{
    cg_upstream_transfer *t = copy_request(req);
    if (!t) return NULL;
    t->up = up;
    t->all_next = up->all;
    if (up->all) up->all->all_prev = t;
    up->all = t;
    t->cb = cb;
    t->arg = arg;
    t->idempotent = req->idempotent;
    t->connect_timeout_ms = req->connect_timeout_ms > 0 ? req->connect_timeout_ms : 3000;
    t->timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 30000;
    t->started = cg_clock_mono_ms();

    if (up->running < up->cfg.max_in_flight && !up->queue_head) {
        take_slot(t);
        start_now(t);
    } else if (up->queued < up->cfg.max_queued) {
        if (up->queue_tail) up->queue_tail->next = t;
        else up->queue_head = t;
        up->queue_tail = t;
        up->queued++;
    } else {
        t->retry_timer = cg_loop_timer_add(up->loop, 0, on_overloaded, t);
        if (!t->retry_timer) goto submit_err;
    }
    return t;

submit_err:
    transfer_free(t);
    return NULL;
}

void cg_upstream_cancel(cg_upstream_transfer *t)
{
    if (!t) return;
    cg_upstream *up = t->up;
    bool in_queue = false;
    for (cg_upstream_transfer **p = &up->queue_head, *prev = NULL; *p; prev = *p, p = &(*p)->next)
        if (*p == t) {
            *p = t->next;
            if (up->queue_tail == t) up->queue_tail = prev;
            up->queued--;
            in_queue = true;
            break;
        }
    if (t->retry_timer) {
        cg_loop_timer_cancel(up->loop, t->retry_timer);
    }
    if (t->easy) {
        curl_multi_remove_handle(up->multi, t->easy);
        easy_put(up, t->easy);
        t->easy = NULL;
    }
    if (t->h1) {
        cg__h1_cancel(t->h1);
        t->h1 = NULL;
    }
    (void)in_queue;
    bool held = t->holds_slot;
    transfer_free(t);
    if (held) release_slot(up);
}

int cg_upstream_pending(const cg_upstream *up)
{
    return up->running + up->queued;
}

char *cg_upstream_take_body(cg_upstream_response *res, size_t *len)
{
    if (len) *len = res->body.len;
    return cg_buf_steal(&res->body);
}
