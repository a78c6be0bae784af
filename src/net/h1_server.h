/*
 * h1_server.h — capgate's own HTTP/1.1 server connections on a worker's loop.
 *
 * Why not libmicrohttpd here: a proxied request has to wait for the upstream, and
 * libmicrohttpd can only wait by suspending the connection, which costs two epoll_ctl
 * calls and a wasted recv() per request — 7 system calls against nginx's 5. This server
 * registers each connection once, edge-triggered, and never changes its registration: a
 * keep-alive request costs one recv() and one writev() (the upstream hop adds its own send
 * and recv). It is small because it serves only what an API gateway needs: origin-form
 * targets, Content-Length or chunked request bodies up to a limit, keep-alive, pipelining,
 * Expect: 100-continue, HEAD, idle timeouts and a connection cap. Malformed requests are
 * answered here with RFC 9457 problem+json (400, 413, 414, 431, 501, 505) and closed; a
 * request line that cannot be HTTP/1.x (no version, binary bytes, a TLS handshake) is
 * refused as soon as its bytes show it, not at the idle timeout.
 *
 * One cg_h1s per worker; every worker listens on the same port with SO_REUSEPORT. A
 * connection carries one request at a time; the handlers see it as a cg_h1s_request:
 *   on_head  — request line and headers are in (the body is not): answer now to refuse;
 *   on_body  — the whole body is in (also for requests without one), or it went over
 *              max_body (cg_h1s_body_too_large; answer 413): answer now or later;
 *   on_end   — the request is over (answered and sent, or the connection died first);
 *              the handler's per-request data must be released here, calls cancelled.
 * Exactly one answer per request: cg_h1s_respond, or a streamed one (cg_h1s_stream_begin,
 * _write..., _end), from any handler or later from the loop.
 */
#ifndef CG_H1_SERVER_H
#define CG_H1_SERVER_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"

typedef struct cg_h1s cg_h1s;
typedef struct cg_h1s_request cg_h1s_request;

typedef struct cg_h1s_handlers {
    void (*on_head)(void *ctx, cg_h1s_request *rq);
    void (*on_body)(void *ctx, cg_h1s_request *rq);
    void (*on_end)(void *ctx, cg_h1s_request *rq);
    /* A request refused before it was parsed far enough to reach on_head (may be NULL). */
    void (*on_reject)(void *ctx, int status);
} cg_h1s_handlers;

typedef struct cg_h1s_options {
    const char *address;     /* IP literal */
    int port;                /* 0 = any free port */
    size_t max_body;         /* request bodies over this are refused with 413 */
    unsigned idle_timeout_s; /* a connection with nothing to do is closed after this */
    int max_connections;     /* per server; further connections are closed at once */
} cg_h1s_options;

typedef struct cg_h1s_header {
    const char *name, *value;
} cg_h1s_header;

/* Listens and joins loop. NULL on failure, with a message in err. */
cg_h1s *cg_h1s_start(cg_loop *loop, const cg_h1s_options *opt, const cg_h1s_handlers *h, void *ctx,
                     char *err, size_t errlen);

int cg_h1s_port(const cg_h1s *s);

/* Stops accepting (closes the listening socket) and closes idle connections; requests in
 * progress are still answered, then their connections close. */
void cg_h1s_quiesce(cg_h1s *s);

/* Closes every connection (on_end runs for requests in progress) and frees the server. */
void cg_h1s_stop(cg_h1s *s);

/* ---- a request ---- */
const char *cg_h1s_method(const cg_h1s_request *rq);
/* The path without the query, %XY decoded except %00 and %2F (common/unescape.h: an
 * encoded slash never splits a segment; decode routed values with cg_unescape_keep_nul). */
const char *cg_h1s_path(const cg_h1s_request *rq);
/* The request target exactly as received (path and query, nothing decoded). */
const char *cg_h1s_target(const cg_h1s_request *rq);
/* A request header (case-insensitive name), or NULL. */
const char *cg_h1s_header_value(const cg_h1s_request *rq, const char *name);
/* A decoded query parameter (first occurrence), or NULL. */
const char *cg_h1s_query(const cg_h1s_request *rq, const char *name);
/* The body (NULL with *len 0 when there is none). */
const char *cg_h1s_body(const cg_h1s_request *rq, size_t *len);
/* true when on_body was called because the body went over max_body. */
bool cg_h1s_body_too_large(const cg_h1s_request *rq);
/* true when the request declared a body (Content-Length > 0 or chunked). */
bool cg_h1s_has_body(const cg_h1s_request *rq);
/* The status answered so far (0 = none yet). */
int cg_h1s_status(const cg_h1s_request *rq);

void cg_h1s_set_data(cg_h1s_request *rq, void *data);

/* While rq waits for its answer, a peer that shuts its side of the connection (FIN or
 * reset) closes the connection at once, and on_end runs (the handler cancels its work),
 * instead of being noticed when the answer is written. For protocols where closing is the
 * cancellation (MCP 2026-07-28); a client that half-closes and still reads loses its answer. */
void cg_h1s_cancel_on_close(cg_h1s_request *rq);
void *cg_h1s_data(const cg_h1s_request *rq);

/* Answers. body is taken over and released with free_body (NULL: not freed, must outlive
 * the request). Content-Length, Date and, when the connection will close, Connection:
 * close are added here. 0, or -1 when the request was already answered. */
int cg_h1s_respond(cg_h1s_request *rq, int status, const cg_h1s_header *headers, size_t n_headers,
                   char *body, size_t len, void (*free_body)(void *));

/* Streamed answer (SSE and other open-ended bodies): the head goes out now with Transfer-Encoding: chunked (HTTP/1.1; HTTP/1.0: no length, Connection: close); each write sends one chunk (buffered when the socket is full; returns -1 when the request is over); end sends the last chunk. If the peer goes away first, on_end runs as usual. Loop thread only. */
int cg_h1s_stream_begin(cg_h1s_request *rq, int status, const cg_h1s_header *headers,
                        size_t n_headers);
int cg_h1s_stream_write(cg_h1s_request *rq, const char *data, size_t len);
int cg_h1s_stream_end(cg_h1s_request *rq);
/* Details of the three above:
 *   - begin answers the request (as cg_h1s_respond would; -1 when it was already
 *     answered); Date and Connection are added as for any answer; a HEAD request gets
 *     the head only, and its writes are accepted and dropped;
 *   - write copies data (len 0 is a no-op, never the last chunk). Called from the loop
 *     outside a handler it tries to send at once: when the peer turns out to be gone the
 *     connection closes inside the call, on_end runs before it returns, and it returns -1;
 *   - end returns -1 when the stream was not open; once the last chunk is out, on_end
 *     runs and the connection serves its next request (or closes, for HTTP/1.0);
 *   - while the stream is open the connection is never closed for being idle; it is closed
 *     (on_end runs) when the peer hangs up or when buffered output has not moved for the
 *     idle timeout (a peer that stopped reading). */

#endif
