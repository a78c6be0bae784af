/*
 * h1_server.c — the HTTP/1.1 server the REST adapter runs on. See h1_server.h.
 *
 * Each connection owns a fixed HEAD_MAX input buffer. The request line and headers are
 * parsed in place (names and values become NUL-terminated slices of the buffer, so the
 * head must stay put until the request ends); body bytes are copied out into the request's
 * body buffer and removed from the input as they arrive, which keeps the space after the
 * head free for more body. Bytes after the body are the next, pipelined request: they wait
 * in the buffer until the current response has been written.
 *
 * Connections are registered once, edge-triggered. A recv() shorter than the space offered
 * means the socket is drained, so a keep-alive request costs exactly one recv(); when an
 * edge arrives while the request is with its handler, `readable` remembers it and the
 * socket is read once the response is out. A single timer per server sweeps the
 * connections once a second for idle ones and slow heads.
 *
 * Size: one connection state machine; parsing, body framing, writing and streaming all work on the
 * connection's buffer and state, which a split would have to publish.
 */
#include "net/h1_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "common/buf.h"
#include "common/log.h"
#include "common/unescape.h"

#define HEAD_MAX 16384 /* request line + headers; also the input buffer size */
_Static_assert(HEAD_MAX <= UINT16_MAX, "a header name's length fits name_len");
#define MAX_HEADERS 64
#define CHUNK_LINE_MAX 1024
#define SWEEP_MS 1000
#define ACCEPT_BATCH 64
#define ACCEPT_PAUSE_MS 100 /* after EMFILE: let descriptors free up */
#define LINGER_MS 2000      /* how long a closing connection drains the peer's bytes */

/* S_STREAM: a streamed answer is open (cg_h1s_stream_begin); its head and chunks go out
 * through c->out as they are written, until cg_h1s_stream_end. */
/* S_LINGER: the last answer is out and our side is shut down; what the peer still sends
 * is read and dropped until it closes or LINGER_MS pass, so that unread request bytes never
 * turn our close into a reset that destroys the answer before the client reads it. */
typedef enum { S_HEAD, S_BODY, S_HANDLER, S_WRITE, S_STREAM, S_LINGER } conn_state;
typedef enum { CH_SIZE, CH_DATA, CH_DATA_END, CH_TRAILER } chunk_state;

typedef struct query_pair {
    const char *name, *value;
} query_pair;

struct cg_h1s_request {
    struct h1s_conn *conn;
    const char *method;
    const char *target; /* raw, in the input buffer */
    char *path;         /* decoded copy */
    const char *query;  /* raw, after '?', in the input buffer; NULL if none */
    char *query_copy;   /* decoded pairs point into this */
    query_pair *pairs;
    size_t n_pairs;
    bool pairs_parsed;
    cg_h1s_header headers[MAX_HEADERS];
    uint16_t name_len[MAX_HEADERS]; /* strlen of each name (a head is at most HEAD_MAX
                                     * bytes): lookups compare lengths before letters */
    size_t n_headers;
    bool chunked;
    bool too_large;
    unsigned long long content_length;
    cg_buf body;
    int status;
    bool answered;
    bool cancel_on_close; /* cg_h1s_cancel_on_close: the peer going away ends it */
    void *data;
};

typedef struct h1s_conn {
    cg_h1s *server;
    int fd;
    conn_state state;
    char *in; /* HEAD_MAX + 1 bytes */
    size_t in_len;
    size_t head_len;       /* bytes of in that hold the current request's head */
    size_t scan;           /* where the search for the head's end resumes */
    uint64_t head_started; /* when the first byte of this head arrived (0: none) */
    uint64_t last_active;
    bool readable; /* an edge said there may be bytes we have not read */
    bool hup;      /* the peer shut down: read on to the end, not just once */
    bool peer_closed;
    bool keep_alive;
    bool http10;
    bool close_after;
    bool in_request; /* on_head ran and on_end has not */
    bool in_callback;
    bool expect_continue;
    chunk_state chunk;
    unsigned long long chunk_left;
    cg_h1s_request rq;
    cg_buf out; /* status line + headers */
    char *body;
    size_t body_len;
    void (*free_body)(void *);
    size_t sent;
    bool stream_chunked; /* chunked framing (HTTP/1.1); else close-delimited */
    bool stream_quiet;   /* a HEAD request: the head goes out, the body does not */
    bool stream_ended;   /* cg_h1s_stream_end was called */
    struct h1s_conn *prev, *next;
} h1s_conn;

struct cg_h1s {
    cg_loop *loop;
    cg_h1s_options opt;
    cg_h1s_handlers h;
    void *ctx;
    int listen_fd;
    int port;
    int n_conns;
    bool quiesced;
    h1s_conn *conns;
    uint64_t sweep_timer, accept_timer;
    time_t date_sec;
    char date[40];
};

static void drive(h1s_conn *c);
static void body_too_large(h1s_conn *c);

/* ---- small helpers ---------------------------------------------------------------- */

static const char *reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Content";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    default:
        return status < 200   ? "Informational"
               : status < 300 ? "Success"
               : status < 400 ? "Redirection"
               : status < 500 ? "Client Error"
                              : "Server Error";
    }
}

static const char *http_date(cg_h1s *s)
{
    time_t now = time(NULL);
    if (now != s->date_sec) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(s->date, sizeof s->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        s->date_sec = now;
    }
    return s->date;
}

static bool is_tchar(unsigned char ch)
{
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
           ch == '-' || (ch && strchr("!#$%&'*+.^_`|~", ch));
}

/* true when list (a comma-separated header value) holds token, case-insensitively */
static bool has_token(const char *list, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = list; p && *p;) {
        while (*p == ' ' || *p == '\t' || *p == ',') p++;
        size_t len = strcspn(p, ",");
        size_t t = len;
        while (t && (p[t - 1] == ' ' || p[t - 1] == '\t')) t--;
        if (t == n && !strncasecmp(p, token, n)) return true;
        p += len;
    }
    return false;
}

/* ---- connections ------------------------------------------------------------------- */

static void release_request(h1s_conn *c)
{
    cg_h1s_request *rq = &c->rq;
    if (c->in_request) {
        c->in_request = false;
        if (c->server->h.on_end) c->server->h.on_end(c->server->ctx, rq);
    }
    free(rq->path);
    free(rq->query_copy);
    free(rq->pairs);
    cg_buf_free(&rq->body);
    memset(rq, 0, sizeof *rq);
    rq->conn = c;
    if (c->free_body) c->free_body(c->body);
    c->body = NULL;
    c->free_body = NULL;
    c->body_len = 0;
    c->sent = 0;
    c->stream_chunked = c->stream_quiet = c->stream_ended = false;
    cg_buf_reset(&c->out);
}

static void close_conn(h1s_conn *c)
{
    cg_h1s *s = c->server;
    release_request(c);
    cg_loop_io_remove(s->loop, c->fd);
    close(c->fd);
    if (c->prev) c->prev->next = c->next;
    else s->conns = c->next;
    if (c->next) c->next->prev = c->prev;
    s->n_conns--;
    cg_buf_free(&c->out);
    free(c->in);
    free(c);
}

/* Reads what the socket has into the free end of the buffer. Returns the bytes read (0 when
 * nothing was there or the buffer is full), or -1 when the connection is gone (closed). */
static ssize_t read_some(h1s_conn *c)
{
    ssize_t total = 0;
    while (c->readable && c->in_len < HEAD_MAX) {
        size_t room = HEAD_MAX - c->in_len;
        ssize_t n = recv(c->fd, c->in + c->in_len, room, 0);
        if (n > 0) {
            if (!c->head_started && c->state == S_HEAD)
                c->head_started = cg_loop_now(c->server->loop);
            c->in_len += (size_t)n;
            total += n;
            c->last_active = cg_loop_now(c->server->loop);
            if ((size_t)n < room && !c->hup) c->readable = false; /* drained */
            continue;
        }
        if (n == 0) {
            c->peer_closed = true;
            c->readable = false;
            break;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            c->readable = false;
            break;
        }
        close_conn(c);
        return -1;
    }
    c->in[c->in_len] = '\0';
    return total;
}

/* ---- writing ------------------------------------------------------------------------- */

/* Writes what is pending. 1 when all is out, 0 when the socket is full, -1 when closed. */
static int flush(h1s_conn *c)
{
    for (;;) {
        size_t head_left = c->out.len > c->sent ? c->out.len - c->sent : 0;
        size_t body_sent = c->sent > c->out.len ? c->sent - c->out.len : 0;
        size_t body_left = c->body_len - body_sent;
        if (!head_left && !body_left) return 1;
        struct iovec iov[2];
        int n_iov = 0;
        if (head_left) iov[n_iov++] = (struct iovec){c->out.data + c->sent, head_left};
        if (body_left) iov[n_iov++] = (struct iovec){c->body + body_sent, body_left};
        struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
        ssize_t n = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
        if (n >= 0) {
            c->sent += (size_t)n;
            c->last_active = cg_loop_now(c->server->loop);
            continue;
        }
        if (errno == EINTR) continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) return 0;
        close_conn(c);
        return -1;
    }
}

/* How a response's body is delimited. */
typedef enum { FRAME_LENGTH, FRAME_CHUNKED, FRAME_CLOSE } framing;

/* Writes the status line and headers into c->out (replacing what was there). len is the
 * Content-Length for FRAME_LENGTH. */
static void compose_head(h1s_conn *c, int status, const cg_h1s_header *headers, size_t n_headers,
                         framing frame, size_t len)
{
    cg_h1s *s = c->server;
    if (s->quiesced || frame == FRAME_CLOSE) c->close_after = true;
    bool close = c->close_after || !c->keep_alive;
    /* appends, not printf: this runs for every response */
    cg_buf *o = &c->out;
    cg_buf_reset(o);
    cg_buf_append(o, "HTTP/1.1 ", 9);
    cg_buf_append_uint(o, (unsigned)status);
    cg_buf_append(o, " ", 1);
    cg_buf_append_str(o, reason(status));
    cg_buf_append(o, "\r\n", 2);
    for (size_t i = 0; i < n_headers; i++) {
        /* a value from upstream can never split our head */
        if (!headers[i].value || strpbrk(headers[i].value, "\r\n")) continue;
        cg_buf_append_str(o, headers[i].name);
        cg_buf_append(o, ": ", 2);
        cg_buf_append_str(o, headers[i].value);
        cg_buf_append(o, "\r\n", 2);
    }
    if (frame == FRAME_CHUNKED) cg_buf_append_str(o, "Transfer-Encoding: chunked\r\n");
    else if (frame == FRAME_LENGTH && status != 204 && status != 304) {
        cg_buf_append_str(o, "Content-Length: ");
        cg_buf_append_uint(o, len);
        cg_buf_append(o, "\r\n", 2);
    }
    cg_buf_append_str(o, "Date: ");
    cg_buf_append_str(o, http_date(s));
    cg_buf_append(o, "\r\n", 2);
    if (close) cg_buf_append_str(o, "Connection: close\r\n");
    else if (c->http10) cg_buf_append_str(o, "Connection: keep-alive\r\n");
    cg_buf_append(o, "\r\n", 2);
    c->close_after = close;
}

/* Builds a whole response (head in c->out, body by reference) and moves to S_WRITE. */
static void compose(h1s_conn *c, int status, const cg_h1s_header *headers, size_t n_headers,
                    char *body, size_t len, void (*free_body)(void *), bool head_only)
{
    compose_head(c, status, headers, n_headers, FRAME_LENGTH, len);
    c->body = body;
    c->free_body = free_body;
    c->body_len = (head_only || status == 204 || status == 304) ? 0 : len;
    c->sent = 0;
    c->state = S_WRITE;
}

/* A problem+json answer made here (malformed requests, oversized bodies). */
static void refuse(h1s_conn *c, int status, const char *detail)
{
    cg_buf b = CG_BUF_INIT;
    cg_buf_printf(&b,
                  "{\"type\":\"urn:capgate:problem:bad-request\",\"title\":\"%s\","
                  "\"status\":%d,\"detail\":\"",
                  reason(status), status);
    cg_buf_append_json_escaped(&b, detail, strlen(detail));
    cg_buf_append_str(&b, "\"}");
    size_t len = b.len;
    char *body = cg_buf_steal(&b);
    cg_buf_free(&b);
    static const cg_h1s_header type = {"Content-Type", "application/problem+json"};
    c->close_after = true;
    if (c->in_request) {
        c->rq.answered = true;
        c->rq.status = status;
    } else if (c->server->h.on_reject) {
        c->server->h.on_reject(c->server->ctx, status);
    }
    compose(c, status, &type, 1, body, body ? len : 0, free, false);
}

/* ---- parsing the head ---------------------------------------------------------------- */

/* Finds the blank line that ends the head. Returns its end offset, or 0 when not yet in. */
static size_t head_end(h1s_conn *c)
{
    const char *in = c->in, *end = in + c->in_len;
    for (const char *p = in + c->scan; (p = memchr(p, '\n', (size_t)(end - p))); p++) {
        size_t i = (size_t)(p - in);
        if (i >= 1 && in[i - 1] == '\n') return i + 1;
        if (i >= 2 && in[i - 1] == '\r' && in[i - 2] == '\n') return i + 1;
    }
    c->scan = c->in_len;
    return 0;
}

/* Cuts the next line out of [*p, end): NUL-terminates it (dropping CR LF) and advances.
 * NULL when the line holds a bare CR or a NUL. */
static char *next_line(char **p, char *end)
{
    char *line = *p;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    if (!nl) return NULL;
    char *stop = nl;
    if (stop > line && stop[-1] == '\r') stop--;
    if (memchr(line, '\r', (size_t)(stop - line)) || memchr(line, '\0', (size_t)(stop - line)))
        return NULL;
    *stop = '\0';
    *p = nl + 1;
    return line;
}

/* Parses "METHOD SP target SP HTTP/1.x". 0, or an HTTP status to refuse with. */
static int parse_request_line(h1s_conn *c, char *line)
{
    cg_h1s_request *rq = &c->rq;
    char *sp = line;
    while (is_tchar((unsigned char)*sp)) sp++;
    if (sp == line || *sp != ' ' || sp - line > 32) return 400;
    *sp = '\0';
    rq->method = line;
    char *target = sp + 1;
    char *t = target;
    while ((unsigned char)*t > 0x20 && (unsigned char)*t < 0x7f) t++;
    if (*t != ' ' || *target != '/') return 400;
    *t = '\0';
    if (strchr(target, '#')) return 400;
    rq->target = target;
    const char *version = t + 1;
    c->http10 = !strcmp(version, "HTTP/1.0");
    if (!strcmp(version, "HTTP/1.1")) c->keep_alive = true;
    else if (c->http10) c->keep_alive = false;
    else if (!strncmp(version, "HTTP/", 5) && version[5] >= '0' && version[5] <= '9') return 505;
    else return 400;
    return 0;
}

static int parse_header_line(h1s_conn *c, char *line)
{
    cg_h1s_request *rq = &c->rq;
    char *colon = line;
    while (is_tchar((unsigned char)*colon)) colon++;
    if (colon == line || *colon != ':') return 400; /* also obs-fold and "Name :" */
    if (rq->n_headers == MAX_HEADERS) return 431;
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t') v++;
    char *e = v + strlen(v);
    while (e > v && (e[-1] == ' ' || e[-1] == '\t')) e--;
    *e = '\0';
    for (const unsigned char *p = (const unsigned char *)v; *p; p++)
        if ((*p < 0x20 && *p != '\t') || *p == 0x7f) return 400;
    rq->name_len[rq->n_headers] = (uint16_t)(colon - line);
    rq->headers[rq->n_headers++] = (cg_h1s_header){line, v};
    return 0;
}

/* Whether header i is called name (len = strlen(name)), in any case. */
static bool header_is(const cg_h1s_request *rq, size_t i, const char *name, size_t len)
{
    return rq->name_len[i] == len && !strcasecmp(rq->headers[i].name, name);
}
#define HEADER_IS(rq, i, literal) header_is(rq, i, literal, sizeof literal - 1)

/* Framing and connection headers. 0, or a status. */
static int check_headers(h1s_conn *c, const char **why)
{
    cg_h1s_request *rq = &c->rq;
    const char *cl = NULL, *te = NULL;
    int hosts = 0;
    for (size_t i = 0; i < rq->n_headers; i++) {
        const cg_h1s_header *h = &rq->headers[i];
        if (HEADER_IS(rq, i, "Content-Length")) {
            if (cl && strcmp(cl, h->value)) return *why = "conflicting Content-Length headers", 400;
            cl = h->value;
        } else if (HEADER_IS(rq, i, "Transfer-Encoding")) {
            if (te) return *why = "more than one Transfer-Encoding header", 400;
            te = h->value;
        } else if (HEADER_IS(rq, i, "Host")) {
            hosts++;
        } else if (HEADER_IS(rq, i, "Connection")) {
            if (has_token(h->value, "close")) c->keep_alive = false;
            else if (has_token(h->value, "keep-alive")) c->keep_alive = true;
        } else if (HEADER_IS(rq, i, "Expect")) {
            c->expect_continue = has_token(h->value, "100-continue");
        }
    }
    if (hosts > 1) return *why = "more than one Host header", 400;
    if (cl && te) return *why = "both Content-Length and Transfer-Encoding", 400;
    if (te) {
        if (strcasecmp(te, "chunked"))
            return *why = "only chunked transfer coding is supported", 501;
        rq->chunked = true;
    }
    if (cl) {
        size_t n = strlen(cl);
        if (!n || n > 18 || strspn(cl, "0123456789") != n)
            return *why = "Content-Length is not a number", 400;
        rq->content_length = strtoull(cl, NULL, 10);
    }
    return 0;
}

/* Parses a complete head of `end` bytes. 0, or a status (why says what is wrong). */
static int parse_head(h1s_conn *c, size_t end, const char **why)
{
    char *p = c->in, *stop = c->in + end;
    char *line = next_line(&p, stop);
    *why = "malformed request line";
    if (!line) return 400;
    int st = parse_request_line(c, line);
    if (st == 505) *why = "only HTTP/1.0 and HTTP/1.1 are served";
    if (st) return st;
    *why = "malformed header line";
    for (;;) {
        line = next_line(&p, stop);
        if (!line) return 400;
        if (!*line) break;
        if ((st = parse_header_line(c, line))) {
            if (st == 431) *why = "too many header fields";
            return st;
        }
    }
    if (c->keep_alive && !cg_h1s_header_value(&c->rq, "Host"))
        return *why = "the Host header is missing", 400;
    if ((st = check_headers(c, why))) return st;
    /* the path, decoded once; the query stays raw until asked for */
    const char *q = strchr(c->rq.target, '?');
    size_t plen = q ? (size_t)(q - c->rq.target) : strlen(c->rq.target);
    c->rq.query = q ? q + 1 : NULL;
    c->rq.path = strndup(c->rq.target, plen);
    if (!c->rq.path) return *why = "out of memory", 503;
    cg_unescape_path(c->rq.path);
    return 0;
}

/* true while the first n bytes of in can still begin "METHOD SP /target SP HTTP/d": a
 * line that cannot (no version, control or binary bytes, a TLS handshake) is refused as
 * soon as its bytes show it, instead of waiting for a head that will never come. Past
 * "HTTP/" and a digit the full parse decides (400 or 505). */
static bool request_line_plausible(const char *in, size_t n)
{
    size_t i = 0, start;
    while (i < n && is_tchar((unsigned char)in[i])) i++;
    if (i == n) return i <= 32;
    if (!i || i > 32 || in[i] != ' ') return false;
    start = ++i;
    while (i < n && (unsigned char)in[i] > 0x20 && (unsigned char)in[i] < 0x7f) i++;
    if (i > start && in[start] != '/') return false;
    if (i == n) return true;
    if (i == start || in[i] != ' ') return false;
    static const char version[] = "HTTP/";
    for (size_t k = 0; k < sizeof version - 1 && ++i < n; k++)
        if (in[i] != version[k]) return false;
    return i + 1 >= n || (in[i + 1] >= '0' && in[i + 1] <= '9');
}

/* S_HEAD: parse when complete. 1 = a request was dispatched or refused, 0 = need more. */
static int step_head(h1s_conn *c)
{
    /* a client may send blank lines between requests */
    size_t skip = 0;
    while (skip < c->in_len && (c->in[skip] == '\r' || c->in[skip] == '\n')) skip++;
    if (skip) {
        memmove(c->in, c->in + skip, c->in_len - skip + 1);
        c->in_len -= skip;
        c->scan = 0;
    }
    size_t end = head_end(c);
    if (!end) {
        if (c->in_len && !request_line_plausible(c->in, c->in_len)) {
            refuse(c, 400, "malformed request line: not HTTP/1.x");
            return 1;
        }
        if (c->in_len < HEAD_MAX) return 0;
        if (memchr(c->in, '\n', c->in_len))
            refuse(c, 431, "the request headers are larger than 16 KiB");
        else refuse(c, 414, "the request line is longer than 16 KiB");
        return 1;
    }
    const char *why = NULL;
    int st = parse_head(c, end, &why);
    c->head_len = end;
    if (st) {
        refuse(c, st, why);
        return 1;
    }
    cg_h1s *s = c->server;
    c->in_request = true;
    c->state = S_BODY;
    c->chunk = CH_SIZE;
    c->rq.body.max = s->opt.max_body + 1;
    c->in_callback = true;
    s->h.on_head(s->ctx, &c->rq);
    c->in_callback = false;
    if (c->rq.answered) {
        if (cg_h1s_has_body(&c->rq)) c->close_after = true; /* its body is not read */
        return 1;
    }
    if (c->rq.content_length > s->opt.max_body) {
        body_too_large(c);
        return 1;
    }
    if (c->expect_continue && cg_h1s_has_body(&c->rq) && c->in_len == c->head_len) {
        static const char cont[] = "HTTP/1.1 100 Continue\r\n\r\n";
        if (send(c->fd, cont, sizeof cont - 1, MSG_NOSIGNAL) != (ssize_t)(sizeof cont - 1))
            c->close_after = true;
    }
    return 1;
}

/* ---- the body ------------------------------------------------------------------------ */

/* Removes n bytes right after the head (they were body). */
static void consume(h1s_conn *c, size_t n)
{
    memmove(c->in + c->head_len, c->in + c->head_len + n, c->in_len - c->head_len - n + 1);
    c->in_len -= n;
}

/* The body is over the limit: the handler answers (cg_h1s_body_too_large says why) and
 * the connection closes after, its unread body discarded. */
static void body_too_large(h1s_conn *c)
{
    c->rq.too_large = true;
    c->close_after = true;
    c->state = S_HANDLER;
    c->in_callback = true;
    c->server->h.on_body(c->server->ctx, &c->rq);
    c->in_callback = false;
}

static int take_bytes(h1s_conn *c, size_t n)
{
    if (c->rq.body.len + n > c->server->opt.max_body ||
        cg_buf_append(&c->rq.body, c->in + c->head_len, n) < 0) {
        body_too_large(c);
        return -1;
    }
    consume(c, n);
    return 0;
}

/* Decodes chunked framing from what is buffered. 1 = body complete, 0 = need more,
 * -1 = refused. */
static int step_chunked(h1s_conn *c)
{
    for (;;) {
        char *p = c->in + c->head_len;
        size_t avail = c->in_len - c->head_len;
        if (c->chunk == CH_DATA) {
            size_t n = avail < c->chunk_left ? avail : (size_t)c->chunk_left;
            if (!n) return 0;
            if (take_bytes(c, n) < 0) return -1;
            c->chunk_left -= n;
            if (!c->chunk_left) c->chunk = CH_DATA_END;
            continue;
        }
        char *nl = memchr(p, '\n', avail);
        if (!nl) {
            if (avail > CHUNK_LINE_MAX) break;
            return 0;
        }
        size_t line_len = (size_t)(nl - p);
        if (line_len > CHUNK_LINE_MAX) break;
        size_t text = line_len && p[line_len - 1] == '\r' ? line_len - 1 : line_len;
        if (c->chunk == CH_DATA_END) {
            if (text) break;
            consume(c, line_len + 1);
            c->chunk = CH_SIZE;
        } else if (c->chunk == CH_TRAILER) {
            consume(c, line_len + 1);
            if (!text) return 1;
        } else {
            unsigned long long size = 0;
            size_t i = 0;
            for (; i < text && i < 16; i++) {
                char ch = p[i];
                int d = ch >= '0' && ch <= '9'   ? ch - '0'
                        : ch >= 'a' && ch <= 'f' ? ch - 'a' + 10
                        : ch >= 'A' && ch <= 'F' ? ch - 'A' + 10
                                                 : -1;
                if (d < 0) break;
                size = size * 16 + (unsigned)d;
            }
            if (!i || (i < text && p[i] != ';' && p[i] != ' ' && p[i] != '\t')) break;
            if (size > c->server->opt.max_body) {
                body_too_large(c);
                return -1;
            }
            consume(c, line_len + 1);
            c->chunk_left = size;
            c->chunk = size ? CH_DATA : CH_TRAILER;
        }
    }
    refuse(c, 400, "malformed chunked body");
    return -1;
}

/* S_BODY: 1 = complete (handed to on_body) or refused, 0 = need more. */
static int step_body(h1s_conn *c)
{
    cg_h1s_request *rq = &c->rq;
    if (rq->chunked) {
        int r = step_chunked(c);
        if (r <= 0) return r < 0;
    } else if (rq->body.len < rq->content_length) {
        size_t avail = c->in_len - c->head_len;
        size_t want = (size_t)(rq->content_length - rq->body.len);
        size_t n = avail < want ? avail : want;
        if (n && take_bytes(c, n) < 0) return 1;
        if (rq->body.len < rq->content_length) return 0;
    }
    c->state = S_HANDLER;
    c->in_callback = true;
    c->server->h.on_body(c->server->ctx, rq);
    c->in_callback = false;
    return 1;
}

/* ---- the connection's state machine ---------------------------------------------------- */

/* Reads and drops what the peer sends; closes on its end (or an error). */
static void drain_linger(h1s_conn *c)
{
    char scratch[4096];
    for (;;) {
        ssize_t n = recv(c->fd, scratch, sizeof scratch, 0);
        if (n > 0) continue;
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
        close_conn(c);
        return;
    }
}

/* Closes a connection whose last answer is out: at once when the peer has nothing more to
 * send, else after a lingering drain (S_LINGER). */
static void linger(h1s_conn *c)
{
    if (c->peer_closed || shutdown(c->fd, SHUT_WR) < 0) {
        close_conn(c);
        return;
    }
    c->state = S_LINGER;
    c->last_active = cg_loop_now(c->server->loop);
    drain_linger(c);
}

/* The response is out: end the request, keep the connection for the next one or close. */
static bool finish(h1s_conn *c)
{
    bool close = c->close_after || c->server->quiesced;
    release_request(c);
    if (close) {
        linger(c);
        return false;
    }
    /* whatever follows the finished request's head is the next request */
    memmove(c->in, c->in + c->head_len, c->in_len - c->head_len + 1);
    c->in_len -= c->head_len;
    c->head_len = 0;
    c->scan = 0;
    c->head_started = c->in_len ? cg_loop_now(c->server->loop) : 0;
    c->expect_continue = false;
    c->state = S_HEAD;
    return true;
}

static void drive(h1s_conn *c)
{
    for (;;) {
        int progressed = 0;
        switch (c->state) {
        case S_HEAD: progressed = step_head(c); break;
        case S_BODY: progressed = step_body(c); break;
        case S_HANDLER:
        case S_LINGER: return; /* cg_h1s_respond continues from here */
        case S_WRITE: {
            int r = flush(c);
            if (r <= 0) return; /* socket full (an edge will come) or closed */
            if (!finish(c)) return;
            progressed = 1;
            break;
        }
        case S_STREAM: {
            int r = flush(c);
            if (r < 0) return;
            if (r > 0) { /* all out: the buffer starts over */
                cg_buf_reset(&c->out);
                c->sent = 0;
                if (c->stream_ended) {
                    if (!finish(c)) return;
                    progressed = 1;
                }
            }
            /* an open stream still reads, only to learn when the peer goes away; bytes
             * of a pipelined request wait in the buffer */
            if (!progressed && !c->readable && !c->peer_closed) return;
            break;
        }
        }
        if (progressed) continue;
        /* need more input */
        if (c->readable && c->in_len < HEAD_MAX) {
            ssize_t n = read_some(c);
            if (n < 0) return;
            if (n > 0) continue;
        }
        if (c->peer_closed) { /* nothing more will come: the request is cut */
            close_conn(c);
            return;
        }
        if (c->state == S_BODY && c->in_len == HEAD_MAX && c->head_len == HEAD_MAX) {
            refuse(c, 431, "the request headers are larger than 16 KiB");
            continue;
        }
        return;
    }
}

static void on_conn_event(cg_loop *loop, int fd, unsigned events, void *arg)
{
    h1s_conn *c = arg;
    if (events & CG_LOOP_READ) c->readable = true;
    if (events & CG_LOOP_HUP) c->hup = true;
    if (c->state == S_HANDLER) { /* read once the response is out, unless the handler
                                         * asked to learn at once that the peer went away */
        if (c->rq.cancel_on_close && (events & CG_LOOP_HUP) && !c->in_callback &&
            read_some(c) >= 0 && c->peer_closed)
            close_conn(c);
        return;
    }
    if (c->state == S_LINGER) {
        if (events & (CG_LOOP_READ | CG_LOOP_HUP)) drain_linger(c);
        return;
    }
    drive(c);
}

/* ---- accepting and sweeping -------------------------------------------------------------- */

static void on_accept(cg_loop *loop, int fd, unsigned events, void *arg);

static void on_accept_resume(cg_loop *loop, void *arg)
{
    cg_h1s *s = arg;
    s->accept_timer = 0;
    if (s->listen_fd >= 0) cg_loop_io_set(loop, s->listen_fd, CG_LOOP_READ, on_accept, s);
}

static void on_accept(cg_loop *loop, int fd, unsigned events, void *arg)
{
    cg_h1s *s = arg;
    for (int i = 0; i < ACCEPT_BATCH; i++) {
        int cfd = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (cfd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) continue;
            if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
                /* level-triggered: stop watching for a moment instead of spinning */
                cg_log(CG_LOG_WARN, "http", "accept: %s; pausing %d ms", strerror(errno),
                       ACCEPT_PAUSE_MS);
                cg_loop_io_remove(loop, fd);
                if (!s->accept_timer)
                    s->accept_timer = cg_loop_timer_add(loop, ACCEPT_PAUSE_MS, on_accept_resume, s);
            }
            return;
        }
        h1s_conn *c = s->n_conns < s->opt.max_connections ? calloc(1, sizeof *c) : NULL;
        char *in = c ? malloc(HEAD_MAX + 1) : NULL;
        if (!in) {
            free(c);
            close(cfd);
            continue;
        }
        int one = 1;
        setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        c->server = s;
        c->fd = cfd;
        c->in = in;
        c->in[0] = '\0';
        c->rq.conn = c;
        c->last_active = cg_loop_now(loop);
        if (cg_loop_io_set(loop, cfd, CG_LOOP_READ | CG_LOOP_WRITE | CG_LOOP_EDGE, on_conn_event,
                           c) < 0) {
            free(in);
            free(c);
            close(cfd);
            continue;
        }
        c->next = s->conns;
        if (s->conns) s->conns->prev = c;
        s->conns = c;
        s->n_conns++;
    }
}

static void on_sweep(cg_loop *loop, void *arg)
{
    cg_h1s *s = arg;
    uint64_t now = cg_loop_now(loop), limit = (uint64_t)s->opt.idle_timeout_s * 1000;
    for (h1s_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        /* an open stream is never idle while it has nothing to send (its owner sends
         * keep-alives); it is stuck when what it has to send has not moved */
        bool idle = c->state != S_HANDLER && c->state != S_LINGER && now - c->last_active > limit &&
                    (c->state != S_STREAM || c->out.len > c->sent);
        /* a head must arrive whole within the timeout, however slowly it trickles */
        bool slow_head = c->state == S_HEAD && c->head_started && now - c->head_started > limit;
        bool lingered = c->state == S_LINGER && now - c->last_active > LINGER_MS;
        if (idle || slow_head || lingered) close_conn(c);
    }
    s->sweep_timer = cg_loop_timer_add(loop, SWEEP_MS, on_sweep, s);
}

/* ---- the server ---------------------------------------------------------------------- */

static int open_listener(const cg_h1s_options *opt, int *port, char *err, size_t errlen)
{
    struct sockaddr_storage ss;
    socklen_t sl;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, opt->address, &sin->sin_addr) == 1) {
        sin->sin_family = AF_INET;
        sin->sin_port = htons((uint16_t)opt->port);
        sl = sizeof *sin;
    } else if (inet_pton(AF_INET6, opt->address, &sin6->sin6_addr) == 1) {
        sin6->sin6_family = AF_INET6;
        sin6->sin6_port = htons((uint16_t)opt->port);
        sl = sizeof *sin6;
    } else {
        snprintf(err, errlen, "listen address '%s' is not an IP address", opt->address);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one) < 0 ||
        bind(fd, (struct sockaddr *)&ss, sl) < 0 || listen(fd, 1024) < 0 ||
        getsockname(fd, (struct sockaddr *)&ss, &sl) < 0) {
        snprintf(err, errlen, "cannot listen on %s:%d: %s", opt->address, opt->port,
                 strerror(errno));
        if (fd >= 0) close(fd);
        return -1;
    }
    *port = ntohs(ss.ss_family == AF_INET ? sin->sin_port : sin6->sin6_port);
    return fd;
}

cg_h1s *cg_h1s_start(cg_loop *loop, const cg_h1s_options *opt, const cg_h1s_handlers *h, void *ctx,
                     char *err, size_t errlen)
{
    cg_h1s *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    s->loop = loop;
    s->opt = *opt;
    s->h = *h;
    s->ctx = ctx;
    if (!s->opt.address) s->opt.address = "127.0.0.1";
    if (!s->opt.idle_timeout_s) s->opt.idle_timeout_s = 60;
    if (s->opt.max_connections <= 0) s->opt.max_connections = 10000;
    s->listen_fd = open_listener(&s->opt, &s->port, err, errlen);
    if (s->listen_fd < 0) {
        free(s);
        return NULL;
    }
    s->sweep_timer = cg_loop_timer_add(loop, SWEEP_MS, on_sweep, s);
    if (!s->sweep_timer || cg_loop_io_set(loop, s->listen_fd, CG_LOOP_READ, on_accept, s) < 0) {
        snprintf(err, errlen, "cannot watch the listening socket: %s", strerror(errno));
        cg_loop_timer_cancel(loop, s->sweep_timer);
        close(s->listen_fd);
        free(s);
        return NULL;
    }
    return s;
}

int cg_h1s_port(const cg_h1s *s)
{
    return s->port;
}

static void close_listener(cg_h1s *s)
{
    if (s->listen_fd < 0) return;
    cg_loop_io_remove(s->loop, s->listen_fd);
    close(s->listen_fd);
    s->listen_fd = -1;
    cg_loop_timer_cancel(s->loop, s->accept_timer);
    s->accept_timer = 0;
}

void cg_h1s_quiesce(cg_h1s *s)
{
    if (s->quiesced) return;
    s->quiesced = true;
    close_listener(s);
    for (h1s_conn *c = s->conns, *next; c; c = next) {
        next = c->next;
        if (c->state == S_HEAD && !c->in_request) close_conn(c);
    }
}

void cg_h1s_stop(cg_h1s *s)
{
    if (!s) return;
    close_listener(s);
    while (s->conns) close_conn(s->conns);
    cg_loop_timer_cancel(s->loop, s->sweep_timer);
    free(s);
}

/* ---- requests ---------------------------------------------------------------------- */

const char *cg_h1s_method(const cg_h1s_request *rq)
{
    return rq->method;
}

const char *cg_h1s_path(const cg_h1s_request *rq)
{
    return rq->path;
}

const char *cg_h1s_target(const cg_h1s_request *rq)
{
    return rq->target;
}

const char *cg_h1s_header_value(const cg_h1s_request *rq, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < rq->n_headers; i++)
        if (header_is(rq, i, name, len)) return rq->headers[i].value;
    return NULL;
}

/* Splits the query into decoded name/value pairs ('+' is a space, as in forms). */
static void parse_query(cg_h1s_request *rq)
{
    rq->pairs_parsed = true;
    if (!rq->query || !*rq->query) return;
    size_t n = 1;
    for (const char *p = rq->query; *p; p++) n += *p == '&';
    rq->query_copy = strdup(rq->query);
    rq->pairs = calloc(n, sizeof *rq->pairs);
    if (!rq->query_copy || !rq->pairs) return;
    char *save = NULL;
    for (char *part = strtok_r(rq->query_copy, "&", &save); part;
         part = strtok_r(NULL, "&", &save)) {
        char *eq = strchr(part, '=');
        char *value = eq ? eq + 1 : part + strlen(part);
        if (eq) *eq = '\0';
        for (char *p = part; *p; p++)
            if (*p == '+') *p = ' ';
        for (char *p = value; *p; p++)
            if (*p == '+') *p = ' ';
        cg_unescape_keep_nul(part);
        cg_unescape_keep_nul(value);
        rq->pairs[rq->n_pairs++] = (query_pair){part, value};
    }
}

const char *cg_h1s_query(const cg_h1s_request *rq_c, const char *name)
{
    cg_h1s_request *rq = (cg_h1s_request *)rq_c; /* parsed on first use */
    if (!rq->pairs_parsed) parse_query(rq);
    for (size_t i = 0; i < rq->n_pairs; i++)
        if (!strcmp(rq->pairs[i].name, name)) return rq->pairs[i].value;
    return NULL;
}

const char *cg_h1s_body(const cg_h1s_request *rq, size_t *len)
{
    *len = rq->body.len;
    return rq->body.len ? rq->body.data : NULL;
}

bool cg_h1s_body_too_large(const cg_h1s_request *rq)
{
    return rq->too_large;
}

bool cg_h1s_has_body(const cg_h1s_request *rq)
{
    return rq->chunked || rq->content_length > 0;
}

int cg_h1s_status(const cg_h1s_request *rq)
{
    return rq->status;
}

void cg_h1s_cancel_on_close(cg_h1s_request *rq)
{
    rq->cancel_on_close = true;
}

void cg_h1s_set_data(cg_h1s_request *rq, void *data)
{
    rq->data = data;
}

void *cg_h1s_data(const cg_h1s_request *rq)
{
    return rq->data;
}

int cg_h1s_respond(cg_h1s_request *rq, int status, const cg_h1s_header *headers, size_t n_headers,
                   char *body, size_t len, void (*free_body)(void *))
{
    h1s_conn *c = rq->conn;
    if (rq->answered || !c->in_request) {
        if (free_body) free_body(body);
        return -1;
    }
    rq->answered = true;
    rq->status = status;
    compose(c, status, headers, n_headers, body, len, free_body, !strcmp(rq->method, "HEAD"));
    if (!c->in_callback) drive(c); /* answered later, from the loop */
    return 0;
}

/* ---- streamed answers ------------------------------------------------------------------ */

int cg_h1s_stream_begin(cg_h1s_request *rq, int status, const cg_h1s_header *headers,
                        size_t n_headers)
{
    h1s_conn *c = rq->conn;
    if (rq->answered || !c->in_request) return -1;
    rq->answered = true;
    rq->status = status;
    c->stream_quiet = !strcmp(rq->method, "HEAD");
    c->stream_chunked = !c->http10;
    compose_head(c, status, headers, n_headers, c->stream_chunked ? FRAME_CHUNKED : FRAME_CLOSE, 0);
    /* answered before its body was read (from on_head): the body is never read */
    if (c->state == S_BODY && cg_h1s_has_body(rq)) c->close_after = true;
    c->sent = 0;
    c->state = S_STREAM;
    if (!c->in_callback) drive(c);
    return 0;
}

/* true when rq's stream is open for writing */
static bool stream_open(const cg_h1s_request *rq)
{
    const h1s_conn *c = rq->conn;
    return c->in_request && c->state == S_STREAM && !c->stream_ended && rq->answered;
}

int cg_h1s_stream_write(cg_h1s_request *rq, const char *data, size_t len)
{
    h1s_conn *c = rq->conn;
    if (!stream_open(rq)) return -1;
    if (!len || c->stream_quiet) return 0; /* an empty chunk would end the stream */
    int rc = 0;
    if (c->stream_chunked) rc = cg_buf_printf(&c->out, "%zx\r\n", len);
    if (rc == 0) rc = cg_buf_append(&c->out, data, len);
    if (rc == 0 && c->stream_chunked) rc = cg_buf_append_str(&c->out, "\r\n");
    if (rc < 0) { /* out of memory: the stream cannot go on */
        if (!c->in_callback) close_conn(c);
        else c->close_after = c->stream_ended = true;
        return -1;
    }
    if (c->in_callback) return 0; /* drive() flushes after the handler */
    int r = flush(c);
    if (r < 0) return -1; /* the peer is gone (on_end has run) */
    if (r > 0) {
        cg_buf_reset(&c->out);
        c->sent = 0;
    }
    return 0;
}

int cg_h1s_stream_end(cg_h1s_request *rq)
{
    h1s_conn *c = rq->conn;
    if (!stream_open(rq)) return -1;
    c->stream_ended = true;
    if (c->stream_chunked && !c->stream_quiet && cg_buf_append_str(&c->out, "0\r\n\r\n") < 0)
        c->close_after = true; /* the client sees a cut stream, not a whole one */
    if (!c->in_callback) drive(c);
    return 0;
}
