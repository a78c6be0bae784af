/*
 * http_client.h — the one blocking HTTP client (libcurl's easy API), for the commands that
 * call out from their own threads: studio's calls to ML backends (studio/mlclient.c) and the
 * mlbackend's calls to Label Studio (mlbackend/lsclient.c). The engine's non-blocking clients
 * are src/net/; this one is never used on an event loop.
 *
 * One easy handle per call, so calls from different threads share nothing. The body of the
 * answer is collected into a capped cg_buf; a body over the cap aborts the transfer. A
 * cancel flag (C11 atomic) that becomes non-zero stops a transfer within about a second.
 * Connection-refused errors can be retried a given number of times. Outcomes are reported
 * as a kind plus libcurl's text, so callers can word errors their own way (studio imitates
 * Python requests). Only http:// and https:// URLs are followed.
 */
#ifndef CG_HTTP_CLIENT_H
#define CG_HTTP_CLIENT_H

#include <stdatomic.h>
#include <stddef.h>

#include "common/buf.h"

typedef enum {
    CG_HTTP_OK = 0,          /* an answer arrived (any status) */
    CG_HTTP_REFUSED,         /* connection refused */
    CG_HTTP_UNRESOLVED,      /* the host name does not resolve */
    CG_HTTP_CONNECT_TIMEOUT, /* no connection within connect_timeout_ms */
    CG_HTTP_READ_TIMEOUT,    /* connected, but no full answer within timeout_ms */
    CG_HTTP_CANCELLED,       /* *cancel became non-zero */
    CG_HTTP_TOO_LARGE,       /* the answer's body is over max_body (or out of memory) */
    CG_HTTP_FAILED,          /* anything else (bad URL, TLS, protocol error, ...) */
} cg_http_outcome;

typedef struct cg_http_request_spec {
    const char *method; /* NULL: POST when body is set, else GET */
    const char *url;
    const char *body;           /* NUL-terminated request body, or NULL */
    const char *const *headers; /* extra "Name: value" lines, NULL-terminated, or NULL */
    const char *user_agent;
    const char *user, *pass;  /* HTTP basic auth when both are non-NULL */
    long connect_timeout_ms;  /* 0: libcurl's default */
    long timeout_ms;          /* the whole call, 0: none */
    int connect_retries;      /* extra attempts after CG_HTTP_REFUSED */
    int accept_encoding;      /* offer every content encoding libcurl decodes */
    size_t max_body;          /* largest answer body, 0: no limit */
    const atomic_int *cancel; /* may be NULL */
} cg_http_request_spec;

typedef struct cg_http_answer {
    cg_http_outcome outcome;
    long status;      /* HTTP status; 0 when no answer arrived */
    char reason[128]; /* reason phrase of the last status line */
    cg_buf body;      /* the answer's body (always NUL-terminated when set) */
    const char *what; /* libcurl's name for the error (static), "" when OK */
    char detail[256]; /* libcurl's detail for the error, maybe "" */
} cg_http_answer;

/* One-time libcurl set-up; call before any thread starts. 0 or -1. Cleanup undoes it once
 * every thread that made calls has ended. */
int cg_http_client_init(void);
void cg_http_client_cleanup(void);

/* Makes the call. 0 when an answer arrived (a->status says which), -1 otherwise with
 * a->outcome, a->what and a->detail set. Free a with cg_http_answer_free in both cases. */
int cg_http_fetch(const cg_http_request_spec *rq, cg_http_answer *a);
void cg_http_answer_free(cg_http_answer *a);

/* The scheme, host, port (the scheme's default when absent) and path of url, for messages;
 * "?" (path "/") for a part that cannot be read. */
void cg_http_url_parts(const char *url, char scheme[16], char host[256], char port[16],
                       char path[1024]);

#endif
