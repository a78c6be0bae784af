/*
 * call.c — binding, checking, building and sending one operation call. See call.h.
 *
 * The order of work in cg_call_start is the order of trust: first every incoming value is
 * looked up and checked against its declared type (nothing is built yet), then the URL,
 * headers and body are built into the job (each value through its encoder), then the
 * credentials are chosen, and only then is anything sent.
 *
 * Credentials are the consumed API's, exactly as declared (apikey, bearer, basic, digest,
 * oauth2), with Label Studio's rules only where its profile applies
 * (profile_label_studio.h). A token that must be fetched first (an OAuth2 client
 * credentials grant, a Label Studio personal access token) parks the job on the token
 * manager's waiter list; the job is sent from on_token. An upstream 401 on a fetched token
 * drops it and sends the call once more with a fresh one; a 401 with a Digest challenge
 * is answered once (on_upstream_done), and the challenge kept for the next calls.
 *
 * The request itself (values checked and encoded, URL, headers, body, credentials) is built
 * in call_request.c, and call errors are named in call_error.c; the three share the engine
 * and job structs through call_int.h.
 */
#include "engine/call.h"
#include "engine/call_int.h"

#include <jansson.h>
#include <math.h>
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "common/arena.h"
#include "common/base64.h"
#include "common/log.h"
#include "engine/digest.h"
#include "engine/encode.h"
#include "engine/profile_label_studio.h"
#include "engine/formats.h"
#include "engine/shape.h"
#include "engine/script_policy.h"
#include "engine/steps.h"
#include "engine/trace.h"
#include "engine/token.h"

/* ---- the engine ----------------------------------------------------------------- */

static char *trimmed_uri(const char *uri)
{
    size_t n = strlen(uri);
    while (n > 0 && uri[n - 1] == '/') n--;
    return strndup(uri, n);
}

cg_engine *cg_engine_create(cg_loop *loop, const cg_spec *spec, const cg_engine_options *opt,
                            cg_metrics *metrics, char *err, size_t errlen)
{
    cg_engine *e = calloc(1, sizeof *e);
    if (!e) goto engine_create_err;
    e->loop = loop;
    e->spec = spec;
    e->metrics = metrics;
    if (opt) e->opt = *opt;
    if (e->opt.connect_timeout_ms <= 0) e->opt.connect_timeout_ms = 3000;
    if (e->opt.timeout_ms <= 0) e->opt.timeout_ms = 30000;
    if (e->opt.long_timeout_ms <= 0) e->opt.long_timeout_ms = 300000;
    if (!e->opt.token_refresh_path) e->opt.token_refresh_path = CG_LS_REFRESH_PATH;
    e->up = cg_upstream_create(loop, &e->opt.upstream, err, errlen);
    if (!e->up) goto engine_create_err;
    e->tokens = cg_token_create(loop, e->up, e->opt.connect_timeout_ms + 10000);
    if (!e->tokens) goto engine_create_err;
    e->base_uris = calloc(spec->n_consumes + 1, sizeof *e->base_uris);
    e->label_studio = calloc(spec->n_consumes + 1, sizeof *e->label_studio);
    e->digest = calloc(spec->n_consumes + 1, sizeof *e->digest);
    e->digest_nc = calloc(spec->n_consumes + 1, sizeof *e->digest_nc);
    if (!e->base_uris || !e->label_studio || !e->digest || !e->digest_nc) goto engine_create_err;
    for (size_t i = 0; i < spec->n_consumes; i++) /* libraries for XML/HTML/Avro bodies, now */
        for (size_t j = 0; j < spec->consumes[i].n_ops; j++)
            cg_formats_prepare(spec->consumes[i].ops[j].output_format);
    for (size_t i = 0; i < spec->n_consumes; i++)
        e->label_studio[i] = cg_ls_profile_applies(
            spec->consumes[i].namespace_, e->opt.label_studio_ns, e->opt.n_label_studio_ns);
    if (!(e->timeout_ms = calloc(spec->n_consumes + 1, sizeof *e->timeout_ms)))
        goto engine_create_err;
    for (size_t i = 0; i < spec->n_consumes; i++) {
        const cg_consumes *api = &spec->consumes[i];
        if (!(e->timeout_ms[i] = calloc(api->n_ops + 1, sizeof **e->timeout_ms)))
            goto engine_create_err;
        for (size_t j = 0; j < api->n_ops; j++)
            e->timeout_ms[i][j] = e->label_studio[i] && cg_ls_is_long_operation(&api->ops[j])
                                      ? e->opt.long_timeout_ms
                                      : e->opt.timeout_ms;
    }
    for (size_t i = 0; i < spec->n_consumes; i++) {
        const char *uri = spec->consumes[i].base_uri;
        for (size_t k = 0; k < e->opt.n_uris; k++)
            if (!e->opt.uris[k].ns || !strcmp(e->opt.uris[k].ns, spec->consumes[i].namespace_))
                uri = e->opt.uris[k].uri;
        e->base_uris[i] = trimmed_uri(uri ? uri : "");
        if (!e->base_uris[i]) goto engine_create_err;
    }
    const cg_control_adapter *c = spec->control;
    if (c) {
        e->scripts.disabled = c->has_scripting && !c->scripting;
        e->scripts.default_location = c->script_location;
        e->scripts.default_language = c->script_language;
        for (size_t i = 0; i < c->n_script_languages; i++)
            e->scripts.allowed |= CG_SCRIPT_LANG_BIT(cg_script_lang_parse(c->script_languages[i]));
        e->script_limits.timeout_ms = c->script_timeout_ms;
        e->script_limits.statement_limit = c->script_statement_limit;
    }
    return e;

engine_create_err:
    if (err && errlen && (!e || e->up)) snprintf(err, errlen, "engine: out of memory");
    cg_engine_free(e);
    return NULL;
}

void cg_engine_free(cg_engine *e)
{
    if (!e) return;
    while (e->jobs) cg_call_cancel(e->jobs);
    cg_token_free(e->tokens);
    cg_upstream_free(e->up);
    if (e->base_uris)
        for (size_t i = 0; i < e->spec->n_consumes; i++) free(e->base_uris[i]);
    free(e->base_uris);
    free(e->label_studio);
    if (e->timeout_ms)
        for (size_t i = 0; i < e->spec->n_consumes; i++) free(e->timeout_ms[i]);
    free(e->timeout_ms);
    if (e->digest) OPENSSL_cleanse(e->digest, (e->spec->n_consumes + 1) * sizeof *e->digest);
    free(e->digest);
    free(e->digest_nc);
    free(e);
}

cg_loop *cg_engine_loop(cg_engine *e)
{
    return e->loop;
}
cg_upstream *cg_engine_upstream(cg_engine *e)
{
    return e->up;
}
int cg_engine_pending(const cg_engine *e)
{
    return e->n_jobs;
}

/* The index of api in the spec's consumes. */
size_t cg__call_api_index(const cg_engine *e, const cg_consumes *api)
{
    return (size_t)(api - e->spec->consumes);
}

bool cg__call_label_studio(const cg_engine *e, const cg_consumes *api)
{
    return e->label_studio[cg__call_api_index(e, api)];
}

/* The timeout of a call of op (one of the spec's consumed operations). */
static long op_timeout(const cg_engine *e, const cg_operation *op)
{
    const cg_consumes *api = op->api;
    size_t j = (size_t)(op - api->ops);
    return j < api->n_ops ? e->timeout_ms[cg__call_api_index(e, api)][j] : e->opt.timeout_ms;
}

const char *cg_engine_base_uri(const cg_engine *e, const cg_consumes *api)
{
    for (size_t i = 0; i < e->spec->n_consumes; i++)
        if (&e->spec->consumes[i] == api) return e->base_uris[i];
    return api->base_uri;
}

/* ---- jobs ----------------------------------------------------------------------- */

static void free_secret(char *s)
{
    if (s) OPENSSL_cleanse(s, strlen(s));
    free(s);
}

static void job_free(cg_call_job *job)
{
    cg_engine *e = job->e;
    if (job->prev) job->prev->next = job->next;
    else if (e->jobs == job) e->jobs = job->next;
    if (job->next) job->next->prev = job->prev;
    e->n_jobs--;
    cg_buf_free(&job->url);
    for (size_t i = 0; i < 3; i++) free_secret(job->grant_strings[i]);
    free_secret(job->user);
    free_secret(job->pass);
    cg_span_end(job->client_span, 0, true); /* cancelled: no-ops once ended */
    cg_span_end(job->span, 0, true);
    if (job->parent) job->parent->sub = NULL;
    cg_arena_free(job->arena); /* the job itself and all it allocated */
}

/* A new job in an arena of its own, or NULL when out of memory. */
static cg_call_job *job_new(void)
{
    cg_arena *a = cg_arena_new();
    cg_call_job *job = a ? cg_arena_alloc(a, sizeof *job) : NULL;
    if (!job) {
        cg_arena_free(a);
        return NULL;
    }
    job->arena = a;
    return job;
}

/* Adds header name: val[0..n) (both copied into the job's arena). Its index, or -1. */
int cg__call_add_header(cg_call_job *job, const char *name, const char *val, size_t n)
{
    if (job->n_headers == MAX_HEADERS) return -1;
    const char *name_copy = cg_arena_strdup(job->arena, name);
    const char *val_copy = cg_arena_strndup(job->arena, val, n);
    if (!name_copy || !val_copy) return -1;
    job->headers[job->n_headers++] = (cg_upstream_header){name_copy, val_copy};
    return (int)job->n_headers - 1;
}

static void finish_job(cg_call_job *job, cg_call_result *r)
{
    r->upstream_seconds = job->upstream_seconds;
    r->upstream_retries = job->upstream_retries;
    cg_span_end(job->span, r->status, r->error != CG_CALL_OK);
    job->span = NULL;
    job->done(job->arg, r);
    free(r->body);
    job_free(job);
}

static int dispatch(cg_call_job *job, cg_call_result *r);

/* ---- output shaping (see shape.h) ---------------------------------------------------- */

static int render_value(void *arg, const cg_template *t, cg_buf *out)
{
    cg_call_job *job = arg;
    return cg__call_resolve_template(job->e, job->call, job->lookup, job->lookup_ctx, t, out, NULL);
}

/* Replaces r's body with the answer shaped from doc (NULL in mock mode). */
static void shape_document(cg_call_job *job, json_t *doc, cg_call_result *r)
{
    char err[256] = "";
    json_t *answer = NULL;
    int rc = cg_shape_answer(job->call, doc, render_value, job, &answer, err, sizeof err);
    char *text = rc == 0 ? json_dumps(answer, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
    json_decref(answer);
    free(r->body);
    r->body = NULL;
    if (!text) {
        cg__call_fail(r, rc == 0 ? CG_CALL_INTERNAL : CG_CALL_BAD_GATEWAY, NULL,
                      "output mapping failed: %s", rc == 0 ? "out of memory" : err);
        return;
    }
    r->body = text;
    r->body_len = strlen(text);
    r->content_type = "application/json";
}

/* Replaces r's body with the shaped answer: the body converted from the operation's raw
 * format (nothing in mock mode), the outputs filled from it. On failure r becomes a bad
 * gateway (the upstream's answer could not be read) or an internal error. */
static void shape_result(cg_call_job *job, cg_call_result *r)
{
    const cg_call *call = job->call;
    char err[256] = "";
    json_t *doc = NULL;
    if (!call->mock) {
        doc = cg_format_to_json(call->op->output_format, call->op->output_schema, r->body,
                                r->body_len, err, sizeof err);
        if (!doc) {
            cg_log(CG_LOG_WARN, "engine", "%s %s: the upstream answer is %s", call->op->method,
                   call->op->path, err);
            free(r->body);
            r->body = NULL;
            cg__call_fail(r, CG_CALL_BAD_GATEWAY, NULL, "the upstream answer is %s", err);
            return;
        }
    }
    shape_document(job, doc, r);
    json_decref(doc);
}

static void on_mock(cg_loop *loop, void *arg)
{
    cg_call_job *job = arg;
    job->mock_timer = 0;
    cg_call_result r = {.error = CG_CALL_OK, .status = 200};
    shape_result(job, &r);
    if (r.error == CG_CALL_OK) r.status = 200;
    finish_job(job, &r);
}

static void *shaper_main(void *arg)
{
    cg_call_job *job = arg;
    shape_result(job, job->shaped);
    uint64_t one = 1;
    ssize_t n = write(job->shaper_fd, &one, sizeof one);
    (void)n; /* an eventfd write of 1 cannot fail short of overflow */
    return NULL;
}

static void shaper_join(cg_call_job *job)
{
    pthread_join(job->shaper, NULL);
    cg_loop_io_remove(job->e->loop, job->shaper_fd);
    close(job->shaper_fd);
    job->shaper_fd = -1;
    job->shaping = false;
}

static void on_shaped(cg_loop *loop, int fd, unsigned events, void *arg)
{
    cg_call_job *job = arg;
    uint64_t v;
    if (read(fd, &v, sizeof v) != (ssize_t)sizeof v) return; /* not yet */
    shaper_join(job);
    cg_call_result r = *job->shaped;
    free(job->shaped);
    job->shaped = NULL;
    finish_job(job, &r);
}

/* Shapes r on a thread of its own; the job finishes from on_shaped. false when no thread
 * could be started (the caller shapes inline). */
static bool shape_offloaded(cg_call_job *job, cg_call_result *r)
{
    job->shaped = malloc(sizeof *job->shaped);
    job->shaper_fd = job->shaped ? eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC) : -1;
    if (job->shaper_fd < 0) goto shape_offloaded_err;
    *job->shaped = *r;
    job->shaped->content_type = NULL; /* the upstream's string dies with its response */
    if (cg_loop_io_set(job->e->loop, job->shaper_fd, CG_LOOP_READ, on_shaped, job) < 0) {
        close(job->shaper_fd);
        goto shape_offloaded_err;
    }
    if (pthread_create(&job->shaper, NULL, shaper_main, job) != 0) {
        cg_loop_io_remove(job->e->loop, job->shaper_fd);
        close(job->shaper_fd);
        goto shape_offloaded_err;
    }
    job->shaping = true;
    return true;

shape_offloaded_err:
    free(job->shaped);
    job->shaped = NULL;
    return false;
}

static void on_upstream_done(void *arg, cg_upstream_response *res)
{
    cg_call_job *job = arg;
    cg_engine *e = job->e;
    job->transfer = NULL;
    job->upstream_seconds += res->seconds;
    if (res->attempts > 1) job->upstream_retries += res->attempts - 1;
    cg_span_end(job->client_span, res->status, res->result != CG_UPSTREAM_OK);
    job->client_span = NULL;
    if (e->metrics)
        cg_metrics_observe_upstream(e->metrics, res->seconds, cg_upstream_result_name(res->result));
    bool refused = res->result == CG_UPSTREAM_OK && res->status == 401 && !job->retried_401;
    if (refused && (job->token_key || job->grant.token_url)) {
        /* the access token expired early or was revoked: fetch a new one, once */
        cg_token_invalidate(e->tokens, job->token_key, job->authorization);
        job->retried_401 = true;
        cg_call_result r = {0};
        if (dispatch(job, &r) < 0) finish_job(job, &r);
        return;
    }
    if (refused && job->digest && res->www_authenticate) {
        /* the Digest challenge (first call, or a stale nonce): answer it, once */
        job->retried_401 = true;
        cg_call_result r = {0};
        int rc = cg__call_answer_digest(job, res->www_authenticate);
        if (rc == 0) {
            if (dispatch(job, &r) < 0) finish_job(job, &r);
            return;
        }
        cg_log(CG_LOG_WARN, "engine",
               "%s %s: the upstream's Digest challenge cannot be answered "
               "(unsupported algorithm or qop)",
               job->call->op->method, job->call->op->path);
    }
    cg_call_result r = {.error = cg__call_from_upstream(res->result)};
    if (res->result == CG_UPSTREAM_OK) {
        r.status = res->status;
        r.upstream_status = res->status;
        r.content_type = res->content_type;
        r.body = cg_upstream_take_body(res, &r.body_len);
        if (!r.body) cg__call_fail(&r, CG_CALL_INTERNAL, NULL, "out of memory");
        else if (r.status >= 200 && r.status < 300 && r.body_len && cg_shape_needed(job->call)) {
            /* error answers go out as the upstream wrote them */
            if (r.body_len >= SHAPE_OFFLOAD_BYTES && shape_offloaded(job, &r)) return;
            shape_result(job, &r);
        }
    } else {
        snprintf(r.message, sizeof r.message, "%s", res->error ? res->error : "upstream failed");
        cg_log(CG_LOG_WARN, "engine", "%s %s: %s (%s)", job->call->op->method, job->call->op->path,
               r.message, cg_upstream_result_name(res->result));
    }
    finish_job(job, &r);
}

/* Hands the built request to the upstream client. 0, or -1 with *r set. */
static int submit_job(cg_call_job *job, cg_call_result *r)
{
    cg_upstream_request req = {
        .method = job->call->op->method,
        .url = job->url.data,
        .headers = job->headers,
        .n_headers = job->n_headers,
        .body = job->body,
        .body_len = job->body_len,
        .connect_timeout_ms = job->e->opt.connect_timeout_ms,
        .timeout_ms = job->timeout_ms,
        .idempotent = job->idempotent,
    };
    job->transfer = cg_upstream_submit(job->e->up, &req, on_upstream_done, job);
    return job->transfer ? 0 : cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
}

/* Sets the credential header (job->auth_name) to authorization, adding it when the job has
 * none yet (a digest call's first answer). */
static int set_credential(cg_call_job *job, const char *authorization)
{
    size_t n = job->n_headers;
    if (cg__call_add_header(job, job->auth_name, authorization, strlen(authorization)) < 0)
        return -1;
    if (job->auth_header >= 0) {
        /* the old slot takes the new header (the old value stays in the arena, unused) */
        job->headers[job->auth_header] = job->headers[n];
        job->n_headers = n;
    } else {
        job->auth_header = (int)n;
    }
    job->authorization = cg_arena_strdup(job->arena, authorization);
    return job->authorization ? 0 : -1;
}

/* The request-target of the job's URL (path and query), for the digest response. */
static const char *request_target(const cg_call_job *job)
{
    const char *u = job->url.data ? job->url.data : "/";
    const char *p = strstr(u, "://");
    p = p ? strchr(p + 3, '/') : NULL;
    return p ? p : "/";
}

/* Answers the API's Digest challenge (cached in the engine, nc counted up) into the
 * credential header. 0, or -1 when the challenge cannot be answered. */
int cg__call_answer_digest(cg_call_job *job, const char *challenge)
{
    cg_engine *e = job->e;
    size_t i = cg__call_api_index(e, job->call->op->api);
    if (challenge) {
        cg_digest_challenge c;
        if (cg_digest_parse(challenge, &c) < 0) return -1;
        e->digest[i] = c;
        e->digest_nc[i] = 0;
        OPENSSL_cleanse(&c, sizeof c);
    }
    char cnonce[33];
    if (cg_digest_cnonce(cnonce) < 0) return -1;
    cg_buf v = CG_BUF_INIT;
    int rc = cg_digest_authorization(&e->digest[i], job->user, job->pass, job->call->op->method,
                                     request_target(job), ++e->digest_nc[i], cnonce, &v);
    if (rc == 0) rc = set_credential(job, v.data);
    cg_buf_free(&v);
    return rc;
}

static void on_token(void *arg, const cg_token_outcome *o)
{
    cg_call_job *job = arg;
    cg_call_result r = {0};
    if (!o->authorization) {
        r.error = o->result == CG_UPSTREAM_OK ? CG_CALL_CREDENTIALS_REFUSED
                                              : cg__call_from_upstream(o->result);
        r.upstream_status = o->status;
        snprintf(r.message, sizeof r.message, "%s", o->error ? o->error : "token refresh failed");
        cg_log(CG_LOG_WARN, "engine", "%s", r.message);
        finish_job(job, &r);
        return;
    }
    if (set_credential(job, o->authorization) < 0) {
        cg__call_fail(&r, CG_CALL_INTERNAL, NULL, "out of memory");
        finish_job(job, &r);
    } else if (submit_job(job, &r) < 0) {
        finish_job(job, &r);
    }
}

/* Sends the job, fetching its token first when needed (a Label Studio personal access
 * token exchange, an OAuth2 client credentials grant; then it is sent from on_token).
 * Never completes the job itself: 0, or -1 with *r set. */
static int dispatch(cg_call_job *job, cg_call_result *r)
{
    if (!job->token_key && !job->grant.token_url) return submit_job(job, r);
    cg_engine *e = job->e;
    cg_buf refresh = CG_BUF_INIT, auth = CG_BUF_INIT;
    int rc = 0;
    job->waiter = (cg_token_waiter){.cb = on_token, .arg = job};
    cg_token_status st;
    if (job->grant.token_url) {
        st = cg_token_client_credentials(e->tokens, &job->grant, &auth, &job->waiter);
    } else {
        cg_buf_printf(&refresh, "%s%s", cg_engine_base_uri(e, job->call->op->api),
                      e->opt.token_refresh_path);
        st = refresh.data ? cg_token_authorization(e->tokens, job->token_key, refresh.data, &auth,
                                                   &job->waiter)
                          : CG_TOKEN_FAILED;
    }
    if (st == CG_TOKEN_READY) {
        rc = set_credential(job, auth.data) < 0
                 ? cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory")
                 : submit_job(job, r);
    } else if (st == CG_TOKEN_FAILED) {
        rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    }
    cg_buf_free(&refresh);
    cg_buf_free(&auth);
    return rc;
}

/* ---- orchestrated mode (see steps.h): the steps runner drives, this file does the I/O -- */

static void on_step_call_done(void *arg, cg_call_result *res)
{
    cg_call_job *job = arg;
    /* the steps may end (and free) this job before the finished call step is freed:
     * that one must not reach back into it */
    if (job->sub) job->sub->parent = NULL;
    job->sub = NULL;
    job->upstream_seconds += res->upstream_seconds;
    job->upstream_retries += res->upstream_retries;
    if (res->error == CG_CALL_OK)
        cg_steps_call_done(job->steps, res->status, res->body, res->body_len, CG_STEPS_OK, NULL);
    else
        cg_steps_call_done(job->steps, res->upstream_status, NULL, 0,
                           res->error == CG_CALL_BAD_ARGUMENT ? CG_STEPS_ARGUMENT
                                                              : CG_STEPS_UPSTREAM,
                           res->message);
}

static int start_step_call(void *ctx, const cg_step *step, char *err, size_t errlen)
{
    cg_call_job *job = ctx;
    cg_call_result now;
    cg_trace_set_parent(job->span); /* the step's span is a child of the call's */
    int rc = cg_call_start(job->e, &step->call, job->lookup, job->lookup_ctx, job->caller_auth,
                           on_step_call_done, job, &job->sub, &now);
    cg_trace_set_parent(NULL);
    if (rc < 0) {
        snprintf(err, errlen, "%s", now.message);
        return -1;
    }
    job->sub->parent = job;
    return 0;
}

static void cancel_step_call(void *ctx)
{
    cg_call_job *job = ctx;
    cg_call_cancel(job->sub);
}

/* The exposed operation's inputs as typed JSON (a script step's context). */
static json_t *step_inputs(void *ctx)
{
    cg_call_job *job = ctx;
    json_t *obj = json_object();
    for (size_t a = 0; obj && a < job->call->n_arguments; a++) {
        const cg_argument *arg = &job->call->arguments[a];
        const char *v;
        size_t n;
        if (arg->is_credential || !job->lookup(job->lookup_ctx, arg, &v, &n)) continue;
        json_t *j = arg->type != CG_TYPE_STRING ? json_loadb(v, n, JSON_DECODE_ANY, NULL) : NULL;
        json_object_set_new(obj, arg->name, j ? j : json_stringn(v, n));
    }
    return obj;
}

static int render_step_value(void *ctx, const cg_template *t, cg_buf *out)
{
    cg_call_job *job = ctx;
    return cg__call_resolve_template(job->e, job->call, job->lookup, job->lookup_ctx, t, out, NULL);
}

static void on_steps_finished(void *ctx, cg_steps_status status, json_t *mapped,
                              const char *message, int upstream_status)
{
    cg_call_job *job = ctx;
    job->steps = NULL;
    cg_call_result r = {.error = CG_CALL_OK, .status = 200};
    if (status == CG_STEPS_OK) {
        shape_document(job, mapped, &r);
        json_decref(mapped);
    } else {
        cg_call_error kind = status == CG_STEPS_ARGUMENT ? CG_CALL_BAD_ARGUMENT
                             : status == CG_STEPS_UPSTREAM || status == CG_STEPS_BAD_ANSWER
                                 ? CG_CALL_BAD_GATEWAY
                                 : CG_CALL_INTERNAL;
        cg__call_fail(&r, kind, NULL, "%s", message ? message : "a step failed");
        r.upstream_status = upstream_status;
        cg_log(CG_LOG_WARN, "engine", "%s", r.message);
    }
    finish_job(job, &r);
}

static int start_steps(cg_call_job *job, const char *caller_authorization, cg_call_result *now)
{
    cg_engine *e = job->e;
    if (caller_authorization &&
        !(job->caller_auth = cg_arena_strdup(job->arena, caller_authorization)))
        return cg__call_fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
    job->scripts = e->scripts;
    cg_script_limits limits = e->script_limits;
    if (e->opt.script_policy)
        cg_script_policy_snapshot(e->opt.script_policy, &job->scripts, &limits);
    cg_steps_io io = {
        .ctx = job,
        .loop = e->loop,
        .scripts = &job->scripts,
        .script_limits = limits,
        .start_call = start_step_call,
        .cancel_call = cancel_step_call,
        .inputs = step_inputs,
        .render = render_step_value,
        .finished = on_steps_finished,
    };
    job->steps = cg_steps_start(job->call, &io);
    return job->steps ? 0 : cg__call_fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
}

int cg_call_start(cg_engine *e, const cg_call *call, cg_call_lookup lookup, void *ctx,
                  const char *caller_authorization, cg_call_done done, void *arg, cg_call_job **out,
                  cg_call_result *now)
{
    memset(now, 0, sizeof *now);
    *out = NULL;
    cg_call_job *job = job_new();
    if (!job) return cg__call_fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
    job->e = e;
    job->call = call;
    job->done = done;
    job->arg = arg;
    job->auth_header = -1;
    job->lookup = lookup;
    job->lookup_ctx = ctx;
    job->span = cg_span_begin(CG_SPAN_SERVER, call->op ? call->op->name : "call");
    if (call->mock) {
        /* mock mode: no upstream; the answer comes on the next loop iteration */
        job->next = e->jobs;
        if (e->jobs) e->jobs->prev = job;
        e->jobs = job;
        e->n_jobs++;
        job->mock_timer = cg_loop_timer_add(e->loop, 0, on_mock, job);
        if (!job->mock_timer) {
            job_free(job);
            return cg__call_fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
        }
        *out = job;
        return 0;
    }
    if (call->n_steps) {
        job->next = e->jobs;
        if (e->jobs) e->jobs->prev = job;
        e->jobs = job;
        e->n_jobs++;
        if (start_steps(job, caller_authorization, now) < 0) {
            job_free(job);
            return -1;
        }
        *out = job;
        return 0;
    }
    job->idempotent = cg__call_is_idempotent(call->op->method);
    job->timeout_ms = op_timeout(e, call->op);
    job->next = e->jobs;
    if (e->jobs) e->jobs->prev = job;
    e->jobs = job;
    e->n_jobs++;
    if (cg__call_build_request(job, lookup, ctx, caller_authorization, now) < 0) {
        job_free(job);
        return -1;
    }
    if (dispatch(job, now) < 0) {
        job_free(job);
        return -1;
    }
    *out = job;
    return 0;
}

static bool never_lookup(void *ctx, const cg_argument *arg, const char **v, size_t *len)
{
    return false;
}

int cg_call_forward(cg_engine *e, const cg_consumes *api, const cg_call_forward_request *fr,
                    cg_call_done done, void *arg, cg_call_job **out, cg_call_result *now)
{
    memset(now, 0, sizeof *now);
    *out = NULL;
    cg_call_job *job = job_new();
    if (!job) return cg__call_fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
    job->e = e;
    job->forward_target = cg_arena_strdup(job->arena, fr->target);
    job->forward_bindings = cg_arena_alloc(job->arena,
                                           (api->n_inputs + 1) * sizeof *job->forward_bindings);
    job->forward_op = (cg_operation){.name = "forward",
                                     .method = fr->method,
                                     .path = job->forward_target,
                                     .inputs = api->inputs,
                                     .n_inputs = api->n_inputs,
                                     .output_format = "json",
                                     .api = api};
    job->forward_call = (cg_call){.op = &job->forward_op, .bindings = job->forward_bindings};
    job->call = &job->forward_call;
    job->done = done;
    job->arg = arg;
    job->auth_header = -1;
    job->lookup = never_lookup;
    job->idempotent = cg__call_is_idempotent(fr->method);
    job->timeout_ms = e->opt.timeout_ms;
    job->next = e->jobs;
    if (e->jobs) e->jobs->prev = job;
    e->jobs = job;
    e->n_jobs++;
    int rc = job->forward_target && job->forward_bindings
                 ? 0
                 : cg__call_fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
    if (rc == 0)
        rc = cg__call_build_request(job, never_lookup, NULL, fr->caller_authorization, now);
    for (size_t i = 0; rc == 0 && i < fr->n_headers; i++)
        if (cg__call_add_header(job, fr->header_names[i], fr->header_values[i],
                                strlen(fr->header_values[i])) < 0)
            rc = cg__call_fail(now, CG_CALL_INTERNAL, NULL, "too many headers");
    if (rc == 0 && fr->body_len) {
        job->body = cg_arena_strndup(job->arena, fr->body, fr->body_len);
        if (!job->body) rc = cg__call_fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
        else job->body_len = fr->body_len;
    }
    if (rc < 0 || dispatch(job, now) < 0) {
        job_free(job);
        return -1;
    }
    *out = job;
    return 0;
}

void cg_call_cancel(cg_call_job *job)
{
    if (!job) return;
    if (job->mock_timer) cg_loop_timer_cancel(job->e->loop, job->mock_timer);
    if (job->shaping) {
        /* the shaper reads the job and the caller's values: wait for it (bounded: the
         * JSONPath visit budget and the upstream body limit) */
        shaper_join(job);
        free(job->shaped->body);
        free(job->shaped);
    }
    if (job->steps) cg_steps_cancel(job->steps); /* cancels its call step too */
    cg_token_cancel(job->e->tokens, &job->waiter);
    cg_upstream_cancel(job->transfer);
    job_free(job);
}

char *cg_call_take_body(cg_call_result *res, size_t *len)
{
    char *b = res->body ? res->body : strdup("");
    if (len) *len = res->body ? res->body_len : 0;
    res->body = NULL;
    res->body_len = 0;
    return b;
}
