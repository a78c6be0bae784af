/*
 * httpd.h — a small synchronous HTTP/1.1 server for capgate's own services.
 *
 * studio and mlbackend answer each request in a plain function that may take its time
 * (a database write, a call to an ML backend): libmicrohttpd runs one thread per
 * connection, so a slow handler only holds its own connection. The gateway itself does
 * not use this module; its adapters run on the non-blocking engine loop.
 *
 * The handler sees the whole request (headers parsed, body collected up to max_body) and
 * fills a cg_http_response. Bodies over max_body get 413 before the handler runs.
 */
#ifndef CG_HTTPD_H
#define CG_HTTPD_H

#include <stddef.h>

#include "common/buf.h"

typedef struct cg_httpd cg_httpd;

typedef struct cg_http_request {
    const char *method; /* "GET", "POST", ... */
    const char *path;   /* decoded path without the query */
    const char *body;   /* NUL-terminated; "" when there is none */
    size_t body_len;
    const char *remote_addr; /* peer address as text */
    void *_conn;             /* private: the libmicrohttpd connection */
} cg_http_request;

#define CG_HTTP_MAX_EXTRA_HEADERS 8

typedef struct cg_http_response {
    int status;               /* default 200 */
    const char *content_type; /* static string or NULL for none; default application/json */
    cg_buf body;              /* owned by the response; freed after sending */
    int n_headers;
    char *header_names[CG_HTTP_MAX_EXTRA_HEADERS]; /* owned copies */
    char *header_values[CG_HTTP_MAX_EXTRA_HEADERS];
} cg_http_response;

typedef void (*cg_httpd_handler)(void *ctx, const cg_http_request *req, cg_http_response *res);

/* Starts serving on address:port (address NULL = 127.0.0.1; port 0 = pick one, see
 * cg_httpd_port). Returns NULL and writes a message into err on failure. */
cg_httpd *cg_httpd_start(const char *address, int port, size_t max_body, cg_httpd_handler handler,
                         void *ctx, char *err, size_t errlen);

/* The port actually bound. */
int cg_httpd_port(const cg_httpd *d);

/* Stops accepting, waits for the connection threads, frees everything. NULL is fine. */
void cg_httpd_stop(cg_httpd *d);

/* Request accessors: the first value, or NULL. Header names are case-insensitive. */
const char *cg_http_header(const cg_http_request *req, const char *name);
const char *cg_http_query(const cg_http_request *req, const char *name);

/* Adds a response header (copied). 0 on success, -1 when full or out of memory. */
int cg_http_response_header(cg_http_response *res, const char *name, const char *value);

/* Sets status and a JSON body in one call (body copied). */
void cg_http_response_json(cg_http_response *res, int status, const char *json);

#endif
