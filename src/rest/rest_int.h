/*
 * rest_int.h — what rest.c and rest_call.c share (private to them): the adapter and
 * request structs, and the functions one defines for the other.
 */
#ifndef CG_REST_INT_H
#define CG_REST_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "common/buf.h"
#include "engine/trace.h"
#include "net/h1_server.h"
#include "net/loop.h"
#include "rest/rest.h"

#define MAX_PATH_ARGS 8
#define PROBLEM_TYPE "application/problem+json"

typedef enum {
    ROUTE_NONE,
    ROUTE_OPERATION,
    ROUTE_FORWARD, /* a `forward:` resource: relayed as it came */
    ROUTE_HEALTHZ,
    ROUTE_READYZ,
    ROUTE_METRICS,
    ROUTE_OPENAPI,
    ROUTE_CONSOLE,
} route_kind;

struct cg_rest {
    cg_engine *engine;
    cg_loop *loop;
    cg_rest_options opt;
    cg_h1s *server;
    int port;
    int active;
    bool quiesced;
    struct rest_request *requests;
    cg_buf access_log; /* complete lines waiting to be written */
    uint64_t log_timer;
};

/* Access-log lines are batched per worker and written at most every LOG_FLUSH_MS, or as
 * soon as a batch nears PIPE_BUF: one write(2) then carries several complete lines, and a
 * write of at most PIPE_BUF bytes is atomic even on a pipe, so lines from different
 * workers never interleave. This saves a system call per request. */
#define LOG_FLUSH_MS 100
#define LOG_BATCH 3584

#define MAX_REPLY_HEADERS 3

/* A response being put together, sent by answer(). */
typedef struct reply {
    int status;
    cg_h1s_header headers[MAX_REPLY_HEADERS];
    size_t n_headers;
    char *body;
    size_t len;
    void (*free_body)(void *);
} reply;

/* What a request uses of the spec, fixed when its headers arrive: a reload
 * (cg_rest_reload) changes what the next requests get, never a running one. */
typedef struct rest_view {
    const cg_spec *spec;
    const cg_rest_adapter *adapter;
    cg_engine *engine;
    const char *openapi;
    size_t openapi_len;
    cg_console *console;
    cg_rest_hold hold;
} rest_view;

typedef struct rest_request {
    cg_rest *rest;
    rest_view v;
    cg_h1s_request *hrq;
    const char *method;
    const char *url;
    route_kind kind;
    const char *route; /* for logs and metrics */
    const cg_rest_resource *res;
    const cg_rest_operation *op;
    const char *arg_name[MAX_PATH_ARGS];
    const char *arg_value[MAX_PATH_ARGS];
    size_t arg_len[MAX_PATH_ARGS];
    char *arg_decoded[MAX_PATH_ARGS]; /* a value with an encoded slash, decoded */
    int n_args;
    bool forward_authorization; /* false when Authorization carried capgate's token */
    json_t *body_json;          /* the JSON body, parsed once when a field is read */
    char **texts;               /* values built for the call (body fields, lists) */
    size_t n_texts;
    cg_call_job *job;
    cg_upstream_transfer *probe;
    void *console_state; /* what the console keeps for this request */
    reply out;
    int status;
    int upstream_status;
    size_t bytes;
    struct timespec t0;
    struct rest_request *prev, *next; /* every request of this adapter */
} rest_request;

void cg__rest_set_reply(rest_request *rq, int status, const char *type, char *body, size_t len,
                        void (*free_body)(void *));
void cg__rest_add_header(rest_request *rq, const char *name, const char *value);
void cg__rest_problem(rest_request *rq, int status, const char *slug, const char *title,
                      const char *detail, const char *param);
void cg__rest_answer(rest_request *rq);
void cg__rest_start_call(rest_request *rq);
void cg__rest_start_forward(rest_request *rq);

#endif
