/*
 * call.h — the operation call: where an exposed request becomes an upstream request.
 *
 * Both adapters come here with the same three things: a resolved cg_call from the spec
 * (which consumed operation, and where each of its inputs gets its value), a way to look
 * up the incoming values by argument (REST: path, query, header, body; MCP: the tool's
 * arguments), and the caller's own Authorization if it sent one. cg_call_start checks
 * every value against its declared type, builds the upstream URL (percent-encoded path
 * values, encoded query), headers (screened for CR/LF/NUL) and body (must be JSON), picks
 * the credentials (the caller's for the same header, else the spec's authentication as
 * declared, with Label Studio's rules only where its profile applies, see
 * profile_label_studio.h) and sends it through the worker's upstream client. Nothing is sent
 * when any check fails: the error comes back at once, in *now.
 *
 * A cg_engine is one worker's context: its loop, upstream client, token cache, the spec,
 * and the process-wide options. It is used by one thread only.
 */
#ifndef CG_CALL_H
#define CG_CALL_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"
#include "engine/metrics.h"
#include "net/upstream.h"
#include "spec/spec.h"

/* A base URI override for one consumed namespace (or every one, when ns is NULL). */
typedef struct cg_engine_upstream_uri {
    const char *ns;
    const char *uri;
} cg_engine_upstream_uri;

/* Process-wide options, read-only once workers start. Zero values mean the defaults. */
typedef struct cg_engine_options {
    const cg_engine_upstream_uri *uris; /* later entries win */
    size_t n_uris;
    long connect_timeout_ms;        /* default 3000 */
    long timeout_ms;                /* default 30000: every operation but the long ones */
    long long_timeout_ms;           /* default 300000: Label Studio profile operations whose name
                                 * or path contains "predict", "train" or "interactive" (Label
                                 * Studio waits 100 s on the ML backend for these) */
    const char *token_refresh_path; /* Label Studio profile; default "/api/token/refresh/" */
    const char *const *label_studio_ns; /* --profile NS=label-studio namespaces */
    size_t n_label_studio_ns;
    cg_upstream_config upstream;
    struct cg_script_policy *script_policy; /* shared, changeable scripting settings (control
                                             * adapter); NULL: the spec's, fixed */
} cg_engine_options;

typedef struct cg_engine cg_engine;
typedef struct cg_call_job cg_call_job;

/* Creates a worker's engine on loop. metrics may be NULL. NULL on failure, with err. */
cg_engine *cg_engine_create(cg_loop *loop, const cg_spec *spec, const cg_engine_options *opt,
                            cg_metrics *metrics, char *err, size_t errlen);
/* Cancels every call in progress (no callbacks) and frees the engine. */
void cg_engine_free(cg_engine *e);

cg_loop *cg_engine_loop(cg_engine *e);
cg_upstream *cg_engine_upstream(cg_engine *e);
/* The base URI in effect for a consumed API (overrides applied), no trailing slash. */
const char *cg_engine_base_uri(const cg_engine *e, const cg_consumes *api);
/* Calls in progress on this engine. */
int cg_engine_pending(const cg_engine *e);

/* What a call ended with. The mapping to HTTP statuses is cg_call_error_status. */
typedef enum {
    CG_CALL_OK = 0,              /* the upstream answered (any status): status, body, type */
    CG_CALL_BAD_ARGUMENT,        /* a value is missing, of the wrong type or unsafe */
    CG_CALL_NO_CREDENTIALS,      /* neither the caller nor the configuration has any */
    CG_CALL_CREDENTIALS_REFUSED, /* a token endpoint refused the configured credential */
    CG_CALL_UNREACHABLE,         /* no connection, reset, nothing received */
    CG_CALL_BAD_GATEWAY,         /* the upstream's answer was not usable HTTP */
    CG_CALL_TIMEOUT,             /* connect or total timeout */
    CG_CALL_OVERLOADED,          /* too many upstream calls waiting */
    CG_CALL_INTERNAL,            /* out of memory */
} cg_call_error;

typedef struct cg_call_result {
    cg_call_error error;
    int status;               /* CG_CALL_OK: the upstream's status */
    const char *content_type; /* CG_CALL_OK: the upstream's, or NULL */
    char *body;               /* CG_CALL_OK: the upstream's body (owned by the result) */
    size_t body_len;
    const char *argument;    /* CG_CALL_BAD_ARGUMENT: the argument's name */
    char message[320];       /* errors: what went wrong, for the caller (no secrets) */
    int upstream_status;     /* 0 when no HTTP response came */
    double upstream_seconds; /* time spent in upstream calls */
    int upstream_retries;    /* connection attempts retried after a connection failure */
} cg_call_result;

/* Looks up the incoming value for arg. Sets *value and *len (not necessarily NUL-terminated,
 * valid until the call completes or is cancelled) and returns true, or false when the
 * caller did not send it. The body argument's value is the raw JSON text. */
typedef bool (*cg_call_lookup)(void *ctx, const cg_argument *arg, const char **value, size_t *len);

/* Runs once per started call, on the loop's thread. res->body may be taken with
 * cg_call_take_body; everything else in res is gone after the callback returns. */
typedef void (*cg_call_done)(void *arg, cg_call_result *res);

/* Starts a call. Returns 0 with *job set (done will run later, never inside this call), or
 * -1 when the call failed before anything was sent: then *now holds the error (and done
 * never runs). caller_authorization may be NULL. */
int cg_call_start(cg_engine *e, const cg_call *call, cg_call_lookup lookup, void *ctx,
                  const char *caller_authorization, cg_call_done done, void *arg, cg_call_job **job,
                  cg_call_result *now);

/* A request relayed as it came (a REST resource's `forward:`): method, the rest of the path
 * and the query as received (still percent-encoded), the trusted headers, the body. The
 * consumed API's own inputParameters (headers, query) and credentials are added. */
typedef struct cg_call_forward_request {
    const char *method;
    const char *target;              /* "/rest/of/path?query", relative to the base URI */
    const char *const *header_names; /* the trusted headers the caller sent */
    const char *const *header_values;
    size_t n_headers;
    const char *body;
    size_t body_len;
    const char *caller_authorization; /* may be NULL */
} cg_call_forward_request;

/* Starts a forwarded request to api; the same contract as cg_call_start. */
int cg_call_forward(cg_engine *e, const cg_consumes *api, const cg_call_forward_request *fr,
                    cg_call_done done, void *arg, cg_call_job **job, cg_call_result *now);

/* Abandons a started call: done will not run. */
void cg_call_cancel(cg_call_job *job);

/* Moves the body out of a result (free() it). Never NULL unless out of memory. */
char *cg_call_take_body(cg_call_result *res, size_t *len);

/* The one mapping of capgate's own failures to HTTP: 400, 401, 502, 504, 503, 500 (and
 * the upstream's status for CG_CALL_OK), with a short title and a problem type slug. */
int cg_call_error_status(const cg_call_result *res);
const char *cg_call_error_title(cg_call_error error);
const char *cg_call_error_slug(cg_call_error error);

#endif
