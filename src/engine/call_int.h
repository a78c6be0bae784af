/*
 * call_int.h — what call.c, call_request.c and call_error.c share (private to them): the
 * engine and job structs, and the functions one of them defines for another.
 */
#ifndef CG_CALL_INT_H
#define CG_CALL_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "common/arena.h"
#include "common/buf.h"
#include "engine/call.h"
#include "engine/digest.h"
#include "engine/script_policy.h"
#include "engine/steps.h"
#include "engine/token.h"
#include "engine/trace.h"

#define MAX_HEADERS 16
/* Upstream bodies at least this large are shaped on a thread of their own, so parsing
 * (about 40 ms per MB) never holds up the worker's other connections. */
#define SHAPE_OFFLOAD_BYTES (1u << 20)

struct cg_engine {
    cg_loop *loop;
    cg_upstream *up;
    cg_token *tokens;
    const cg_spec *spec;
    cg_engine_options opt;
    cg_metrics *metrics;
    char **base_uris;            /* per spec->consumes[i], overrides applied */
    bool *label_studio;          /* per spec->consumes[i]: the Label Studio profile applies */
    long **timeout_ms;           /* per spec->consumes[i].ops[j]: its call's timeout (the
                                  * profile's long ones decided once, not per call) */
    cg_digest_challenge *digest; /* per spec->consumes[i]: the last Digest challenge */
    unsigned *digest_nc;         /* its nonce count so far (0: no challenge yet) */
    cg_script_settings scripts;  /* the control adapter's scripting defaults */
    cg_script_limits script_limits;
    cg_call_job *jobs; /* calls in progress */
    int n_jobs;
};

/* A job lives in its own arena, with what it builds for the call: header values, the body,
 * copies of strings it keeps; everything goes with one cg_arena_free when the call ends.
 * The URL (grown piece by piece) and the secrets (wiped before they are freed) are
 * allocated apart. */
struct cg_call_job {
    cg_arena *arena;
    cg_engine *e;
    const cg_call *call;
    cg_call_done done;
    void *arg;
    cg_buf url;
    cg_upstream_header headers[MAX_HEADERS];
    size_t n_headers;
    int auth_header; /* index in headers of the credential, -1 for none */
    char *body;      /* copy of the JSON body, NULL for none */
    size_t body_len;
    char *token_key;       /* the configured key when the credential is exchanged */
    const char *auth_name; /* the credential header's name (for a digest answer) */
    char *user, *pass;     /* digest: the configured username and password */
    bool digest;
    cg_token_oauth2 grant;  /* oauth2: token_url set when the credential is fetched */
    char *grant_strings[3]; /* owned copies behind grant: url, id, secret */
    char *authorization;    /* the credential sent, when exchanged (for invalidation) */
    bool retried_401;
    long timeout_ms;
    bool idempotent;
    cg_token_waiter waiter;
    cg_upstream_transfer *transfer;
    double upstream_seconds;
    int upstream_retries;  /* connection attempts retried, over every upstream request */
    cg_call_lookup lookup; /* the caller's values, for output `value` templates */
    void *lookup_ctx;
    uint64_t mock_timer; /* mock mode: the answer is built on the next iteration */
    bool shaping;        /* a shaper thread is working on `shaped` */
    pthread_t shaper;
    int shaper_fd;                /* eventfd the shaper signals when done */
    cg_call_result *shaped;       /* the result the shaper works on (only then allocated) */
    cg_steps_run *steps;          /* orchestrated mode: the steps in progress */
    cg_call_job *sub;             /* orchestrated mode: the call step in progress */
    cg_call_job *parent;          /* a call step's job: the orchestrated job it belongs to */
    char *forward_target;         /* forward mode: the relayed path and query */
    cg_binding *forward_bindings; /* forward mode: none (the inputs' own values) */
    cg_operation forward_op;      /* forward mode: what job->call->op points to */
    cg_call forward_call;
    char *caller_auth;           /* orchestrated mode: for each call step */
    cg_script_settings scripts;  /* orchestrated mode: the scripting settings at its start */
    cg_span *span, *client_span; /* tracing (trace.h): the call's, its upstream request's */
    cg_call_job *prev, *next;
};

/* defined in one of call.c, call_request.c, call_error.c and used by another */
size_t cg__call_api_index(const cg_engine *e, const cg_consumes *api);
bool cg__call_label_studio(const cg_engine *e, const cg_consumes *api);
int cg__call_add_header(cg_call_job *job, const char *name, const char *val, size_t n);
int cg__call_answer_digest(cg_call_job *job, const char *challenge);
int cg__call_fail(cg_call_result *r, cg_call_error error, const char *argument, const char *fmt,
                  ...) __attribute__((format(printf, 4, 5)));
cg_call_error cg__call_from_upstream(cg_upstream_result r);
int cg__call_resolve_template(cg_engine *e, const cg_call *call, cg_call_lookup lookup, void *ctx,
                              const cg_template *t, cg_buf *out, cg_buf *missing);
bool cg__call_is_idempotent(const char *method);
int cg__call_build_request(cg_call_job *job, cg_call_lookup lookup, void *ctx,
                           const char *caller_auth, cg_call_result *r);

#endif
