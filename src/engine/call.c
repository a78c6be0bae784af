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
 * Size: one call's life (bind, check, build, credentials, send, 401 retry, shape, steps) is one
 * state machine over cg_call_job, whose fields every part reads; splitting it means an internal
 * header for the job first.
 */
#include "engine/call.h"

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
    char **base_uris;           /* per spec->consumes[i], overrides applied */
    bool *label_studio;         /* per spec->consumes[i]: the Label Studio profile applies */
    cg_digest_challenge *digest;/* per spec->consumes[i]: the last Digest challenge */
    unsigned *digest_nc;        /* its nonce count so far (0: no challenge yet) */
    cg_script_settings scripts; /* the control adapter's scripting defaults */
    cg_script_limits script_limits;
    cg_call_job *jobs;          /* calls in progress */
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
    int auth_header;            /* index in headers of the credential, -1 for none */
    char *body;                 /* copy of the JSON body, NULL for none */
    size_t body_len;
    char *token_key;            /* the configured key when the credential is exchanged */
    const char *auth_name;      /* the credential header's name (for a digest answer) */
    char *user, *pass;          /* digest: the configured username and password */
    bool digest;
    cg_token_oauth2 grant;      /* oauth2: token_url set when the credential is fetched */
    char *grant_strings[3];     /* owned copies behind grant: url, id, secret */
    char *authorization;        /* the credential sent, when exchanged (for invalidation) */
    bool retried_401;
    long timeout_ms;
    bool idempotent;
    cg_token_waiter waiter;
    cg_upstream_transfer *transfer;
    double upstream_seconds;
    int upstream_retries;       /* connection attempts retried, over every upstream request */
    cg_call_lookup lookup;      /* the caller's values, for output `value` templates */
    void *lookup_ctx;
    uint64_t mock_timer;        /* mock mode: the answer is built on the next iteration */
    bool shaping;               /* a shaper thread is working on `shaped` */
    pthread_t shaper;
    int shaper_fd;              /* eventfd the shaper signals when done */
    cg_call_result *shaped;     /* the result the shaper works on (only then allocated) */
    cg_steps_run *steps;        /* orchestrated mode: the steps in progress */
    cg_call_job *sub;           /* orchestrated mode: the call step in progress */
    cg_call_job *parent;        /* a call step's job: the orchestrated job it belongs to */
    char *forward_target;       /* forward mode: the relayed path and query */
    cg_binding *forward_bindings;   /* forward mode: none (the inputs' own values) */
    cg_operation forward_op;    /* forward mode: what job->call->op points to */
    cg_call forward_call;
    char *caller_auth;          /* orchestrated mode: for each call step */
    cg_script_settings scripts; /* orchestrated mode: the scripting settings at its start */
    cg_span *span, *client_span;    /* tracing (trace.h): the call's, its upstream request's */
    cg_call_job *prev, *next;
};

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
    for (size_t i = 0; i < spec->n_consumes; i++)   /* libraries for XML/HTML/Avro bodies, now */
        for (size_t j = 0; j < spec->consumes[i].n_ops; j++)
            cg_formats_prepare(spec->consumes[i].ops[j].output_format);
    for (size_t i = 0; i < spec->n_consumes; i++)
        e->label_studio[i] = cg_ls_profile_applies(spec->consumes[i].namespace_,
                                                   e->opt.label_studio_ns, e->opt.n_label_studio_ns);
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
    if (e->digest) OPENSSL_cleanse(e->digest, (e->spec->n_consumes + 1) * sizeof *e->digest);
    free(e->digest);
    free(e->digest_nc);
    free(e);
}

cg_loop *cg_engine_loop(cg_engine *e) { return e->loop; }
cg_upstream *cg_engine_upstream(cg_engine *e) { return e->up; }
int cg_engine_pending(const cg_engine *e) { return e->n_jobs; }

/* The index of api in the spec's consumes. */
static size_t api_index(const cg_engine *e, const cg_consumes *api)
{
    return (size_t)(api - e->spec->consumes);
}

static bool label_studio(const cg_engine *e, const cg_consumes *api)
{
    return e->label_studio[api_index(e, api)];
}

const char *cg_engine_base_uri(const cg_engine *e, const cg_consumes *api)
{
    for (size_t i = 0; i < e->spec->n_consumes; i++)
        if (&e->spec->consumes[i] == api) return e->base_uris[i];
    return api->base_uri;
}

/* ---- errors --------------------------------------------------------------------- */

int cg_call_error_status(const cg_call_result *res)
{
    switch (res->error) {
    case CG_CALL_OK: return res->status;
    case CG_CALL_BAD_ARGUMENT: return 400;
    case CG_CALL_NO_CREDENTIALS:
    case CG_CALL_CREDENTIALS_REFUSED: return 401;
    case CG_CALL_UNREACHABLE:
    case CG_CALL_BAD_GATEWAY: return 502;
    case CG_CALL_TIMEOUT: return 504;
    case CG_CALL_OVERLOADED: return 503;
    default: return 500;
    }
}

const char *cg_call_error_title(cg_call_error error)
{
    switch (error) {
    case CG_CALL_OK: return "OK";
    case CG_CALL_BAD_ARGUMENT: return "Invalid request parameter";
    case CG_CALL_NO_CREDENTIALS: return "No credentials";
    case CG_CALL_CREDENTIALS_REFUSED: return "Credentials refused";
    case CG_CALL_UNREACHABLE: return "Upstream unreachable";
    case CG_CALL_BAD_GATEWAY: return "Bad upstream response";
    case CG_CALL_TIMEOUT: return "Upstream timeout";
    case CG_CALL_OVERLOADED: return "Too many upstream calls";
    default: return "Internal error";
    }
}

const char *cg_call_error_slug(cg_call_error error)
{
    switch (error) {
    case CG_CALL_OK: return "ok";
    case CG_CALL_BAD_ARGUMENT: return "bad-argument";
    case CG_CALL_NO_CREDENTIALS: return "no-credentials";
    case CG_CALL_CREDENTIALS_REFUSED: return "credentials-refused";
    case CG_CALL_UNREACHABLE: return "upstream-unreachable";
    case CG_CALL_BAD_GATEWAY: return "bad-upstream-response";
    case CG_CALL_TIMEOUT: return "upstream-timeout";
    case CG_CALL_OVERLOADED: return "overloaded";
    default: return "internal";
    }
}

static int fail(cg_call_result *r, cg_call_error error, const char *argument, const char *fmt,
                ...) __attribute__((format(printf, 4, 5)));

static int fail(cg_call_result *r, cg_call_error error, const char *argument, const char *fmt,
                ...)
{
    r->error = error;
    r->argument = argument;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->message, sizeof r->message, fmt, ap);
    va_end(ap);
    return -1;
}

/* The one mapping of upstream transport outcomes to call errors. */
static cg_call_error from_upstream(cg_upstream_result r)
{
    switch (r) {
    case CG_UPSTREAM_OK: return CG_CALL_OK;
    case CG_UPSTREAM_UNREACHABLE: return CG_CALL_UNREACHABLE;
    case CG_UPSTREAM_TIMEOUT: return CG_CALL_TIMEOUT;
    case CG_UPSTREAM_BAD_RESPONSE: return CG_CALL_BAD_GATEWAY;
    case CG_UPSTREAM_OVERLOADED: return CG_CALL_OVERLOADED;
    default: return CG_CALL_INTERNAL;
    }
}

/* ---- values --------------------------------------------------------------------- */

typedef struct value {
    const char *s;
    size_t n;
    bool present;
    cg_buf owned;               /* when the value was built from a template */
} value;

static int resolve_template_depth(cg_engine *e, const cg_call *call, cg_call_lookup lookup,
                                  void *ctx, const cg_template *t, cg_buf *out, cg_buf *missing,
                                  int depth);

static const cg_argument *argument_named(const cg_call *call, const char *name);

/* The value of a template variable, appended to out: a bound variable ({{env.KEY}},
 * {{KEY}}), a with: parameter of the call, an incoming value, or the value a with: entry
 * gives the consumed input of that name. 1 when found, 0 when not, -1 out of memory. */
static int variable_value(cg_engine *e, const cg_call *call, cg_call_lookup lookup, void *ctx,
                          const char *name, cg_buf *out, int depth)
{
    const char *v = cg_spec_bind_value(e->spec, name);
    if (v)
        return cg_buf_append_str(out, v) < 0 ? -1 : 1;
    const cg_binding *b = NULL;
    for (size_t p = 0; p < call->n_params && !b; p++)
        if (!strcmp(call->params[p].name, name))
            b = &call->params[p].binding;
    /* an input fed from an incoming value lends it by the input's name; an input's literal
     * with: value is that input's own (it may read {{name}} itself: no recursion) */
    for (size_t i = 0; call->op && i < call->op->n_inputs && !b; i++)
        if (call->bindings && call->bindings[i].kind == CG_SOURCE_ARGUMENT &&
            !strcmp(call->op->inputs[i].name, name))
            b = &call->bindings[i];
    const char *arg_name = b && b->kind == CG_SOURCE_ARGUMENT ? b->argument : b ? NULL : name;
    if (b && b->kind == CG_SOURCE_LITERAL && depth < 2) {
        cg_buf missing = CG_BUF_INIT;
        size_t before = out->len;
        int rc = resolve_template_depth(e, call, lookup, ctx, b->literal, out, &missing, depth + 1);
        int found = rc == 0 && (!missing.len || out->len > before);
        cg_buf_free(&missing);
        return rc < 0 ? -1 : found;
    }
    const cg_argument *arg = arg_name ? argument_named(call, arg_name) : NULL;
    const char *s;
    size_t n;
    if (arg && lookup(ctx, arg, &s, &n))
        return cg_buf_append(out, s, n) < 0 ? -1 : 1;
    return 0;
}

/* Resolves a template. Unresolved variable names are appended to missing (comma-separated). */
static int resolve_template_depth(cg_engine *e, const cg_call *call, cg_call_lookup lookup,
                                  void *ctx, const cg_template *t, cg_buf *out, cg_buf *missing,
                                  int depth)
{
    for (size_t i = 0; i < t->n_parts; i++) {
        const cg_template_part *p = &t->parts[i];
        if (!p->is_variable) {
            if (cg_buf_append(out, p->text, p->len) < 0) return -1;
            continue;
        }
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)p->len, p->text);
        int found = variable_value(e, call, lookup, ctx, name, out, depth);
        if (found < 0) return -1;
        if (!found && missing) {
            if (missing->len) cg_buf_append_str(missing, ", ");
            cg_buf_append_str(missing, name);
        }
    }
    return 0;
}

static int resolve_template(cg_engine *e, const cg_call *call, cg_call_lookup lookup, void *ctx,
                            const cg_template *t, cg_buf *out, cg_buf *missing)
{
    return resolve_template_depth(e, call, lookup, ctx, t, out, missing, 0);
}

static const cg_argument *argument_named(const cg_call *call, const char *name)
{
    for (size_t a = 0; a < call->n_arguments; a++)
        if (!strcmp(call->arguments[a].name, name)) return &call->arguments[a];
    return NULL;
}

/* Checks a value against a declared type. */
static bool type_ok(cg_type type, const char *s, size_t n)
{
    switch (type) {
    case CG_TYPE_INTEGER:
        return cg_parse_int64(s, n, NULL);
    case CG_TYPE_NUMBER: {
        if (n == 0 || n > 64) return false;
        char tmp[65];
        memcpy(tmp, s, n);
        tmp[n] = '\0';
        char *end;
        double d = strtod(tmp, &end);
        return *end == '\0' && isfinite(d) && !strchr(tmp, ' ') && tmp[0] != '+';
    }
    case CG_TYPE_BOOLEAN:
        return (n == 4 && !memcmp(s, "true", 4)) || (n == 5 && !memcmp(s, "false", 5));
    default:
        return true;
    }
}

static const char *article_type(cg_type t)
{
    switch (t) {
    case CG_TYPE_INTEGER: return "an integer";
    case CG_TYPE_NUMBER: return "a number";
    case CG_TYPE_BOOLEAN: return "a boolean (true or false)";
    case CG_TYPE_OBJECT: return "a JSON object";
    case CG_TYPE_ARRAY: return "a JSON array";
    default: return "a string";
    }
}

/* Finds the value for consumed input i. */
static int input_value(cg_engine *e, const cg_call *call, size_t i, cg_call_lookup lookup,
                       void *ctx, value *v, cg_call_result *r)
{
    const cg_input *in = &call->op->inputs[i];
    const cg_binding *b = &call->bindings[i];
    cg_buf missing = CG_BUF_INIT;
    int rc = 0;
    v->present = false;
    if (b->kind == CG_SOURCE_ARGUMENT) {
        const cg_argument *arg = argument_named(call, b->argument);
        if (arg && lookup(ctx, arg, &v->s, &v->n)) {
            v->present = true;
            if (arg->type != CG_TYPE_STRING && in->in != CG_IN_BODY && !type_ok(arg->type, v->s, v->n))
                rc = fail(r, CG_CALL_BAD_ARGUMENT, arg->name, "parameter '%s' must be %s",
                          arg->name, article_type(arg->type));
        }
    } else {
        const cg_template *t = b->kind == CG_SOURCE_LITERAL ? b->literal : in->value;
        if (t) {
            if (resolve_template(e, call, lookup, ctx, t, &v->owned, &missing) < 0)
                rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
            else if (!missing.len || v->owned.len) {
                v->present = true;
                v->s = v->owned.data ? v->owned.data : "";
                v->n = v->owned.len;
            }
        }
    }
    cg_buf_free(&missing);
    return rc;
}

static bool is_idempotent(const char *method)
{
    return !strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "PUT") ||
           !strcmp(method, "DELETE") || !strcmp(method, "OPTIONS");
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
    cg_span_end(job->client_span, 0, true);     /* cancelled: no-ops once ended */
    cg_span_end(job->span, 0, true);
    if (job->parent) job->parent->sub = NULL;
    cg_arena_free(job->arena);  /* the job itself and all it allocated */
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
static int add_header(cg_call_job *job, const char *name, const char *val, size_t n)
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

static int answer_digest(cg_call_job *job, const char *challenge);
/* ---- output shaping (see shape.h) ---------------------------------------------------- */

static int render_value(void *arg, const cg_template *t, cg_buf *out)
{
    cg_call_job *job = arg;
    return resolve_template(job->e, job->call, job->lookup, job->lookup_ctx, t, out, NULL);
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
        fail(r, rc == 0 ? CG_CALL_INTERNAL : CG_CALL_BAD_GATEWAY, NULL, "output mapping failed: %s",
             rc == 0 ? "out of memory" : err);
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
            fail(r, CG_CALL_BAD_GATEWAY, NULL, "the upstream answer is %s", err);
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
    (void)n;    /* an eventfd write of 1 cannot fail short of overflow */
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
    if (read(fd, &v, sizeof v) != (ssize_t)sizeof v) return;   /* not yet */
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
    job->shaped->content_type = NULL;   /* the upstream's string dies with its response */
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
    if (e->metrics) cg_metrics_observe_upstream(e->metrics, res->seconds, cg_upstream_result_name(res->result));
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
        int rc = answer_digest(job, res->www_authenticate);
        if (rc == 0) {
            if (dispatch(job, &r) < 0) finish_job(job, &r);
            return;
        }
        cg_log(CG_LOG_WARN, "engine", "%s %s: the upstream's Digest challenge cannot be answered "
               "(unsupported algorithm or qop)", job->call->op->method, job->call->op->path);
    }
    cg_call_result r = {.error = from_upstream(res->result)};
    if (res->result == CG_UPSTREAM_OK) {
        r.status = res->status;
        r.upstream_status = res->status;
        r.content_type = res->content_type;
        r.body = cg_upstream_take_body(res, &r.body_len);
        if (!r.body) fail(&r, CG_CALL_INTERNAL, NULL, "out of memory");
        else if (r.status >= 200 && r.status < 300 && r.body_len && cg_shape_needed(job->call)) {
            /* error answers go out as the upstream wrote them */
            if (r.body_len >= SHAPE_OFFLOAD_BYTES && shape_offloaded(job, &r)) return;
            shape_result(job, &r);
        }
    } else {
        snprintf(r.message, sizeof r.message, "%s", res->error ? res->error : "upstream failed");
        cg_log(CG_LOG_WARN, "engine", "%s %s: %s (%s)", job->call->op->method,
               job->call->op->path, r.message, cg_upstream_result_name(res->result));
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
    return job->transfer ? 0 : fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
}

/* Sets the credential header (job->auth_name) to authorization, adding it when the job has
 * none yet (a digest call's first answer). */
static int set_credential(cg_call_job *job, const char *authorization)
{
    size_t n = job->n_headers;
    if (add_header(job, job->auth_name, authorization, strlen(authorization)) < 0) return -1;
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
static int answer_digest(cg_call_job *job, const char *challenge)
{
    cg_engine *e = job->e;
    size_t i = api_index(e, job->call->op->api);
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
        r.error = o->result == CG_UPSTREAM_OK ? CG_CALL_CREDENTIALS_REFUSED : from_upstream(o->result);
        r.upstream_status = o->status;
        snprintf(r.message, sizeof r.message, "%s", o->error ? o->error : "token refresh failed");
        cg_log(CG_LOG_WARN, "engine", "%s", r.message);
        finish_job(job, &r);
        return;
    }
    if (set_credential(job, o->authorization) < 0) {
        fail(&r, CG_CALL_INTERNAL, NULL, "out of memory");
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
        rc = set_credential(job, auth.data) < 0 ? fail(r, CG_CALL_INTERNAL, NULL, "out of memory")
                                                : submit_job(job, r);
    } else if (st == CG_TOKEN_FAILED) {
        rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    }
    cg_buf_free(&refresh);
    cg_buf_free(&auth);
    return rc;
}

/* Names the environment variables a credential template reads, for the 401 message. */
static void describe_sources(const cg_engine *e, const cg_template *t, cg_buf *out)
{
    for (size_t i = 0; t && i < t->n_parts; i++) {
        if (!t->parts[i].is_variable) continue;
        char name[128];
        snprintf(name, sizeof name, "%.*s", (int)t->parts[i].len, t->parts[i].text);
        const char *dot = strrchr(name, '.');
        const char *key = dot ? dot + 1 : name;
        const char *source = key;
        for (size_t b = 0; b < e->spec->n_binds; b++)
            for (size_t k = 0; k < e->spec->binds[b].n_keys; k++)
                if (!strcmp(e->spec->binds[b].keys[k].name, key))
                    source = e->spec->binds[b].keys[k].source;
        if (out->len) cg_buf_append_str(out, " or ");
        cg_buf_append_str(out, source);
    }
}

static const cg_template *auth_template(const cg_auth *a)
{
    switch (a->type) {
    case CG_AUTH_APIKEY: return a->value;
    case CG_AUTH_BEARER: return a->token;
    case CG_AUTH_BASIC:
    case CG_AUTH_DIGEST: return a->password;
    case CG_AUTH_OAUTH2: return a->client_secret;
    default: return NULL;
    }
}

/* The digest/oauth2 parts that are kept on the job for later (the challenge answer, the
 * token fetch). user is the resolved username or client id, secret the password or client
 * secret. 0, or -1 with *r set. */
static int keep_secrets(cg_call_job *job, const cg_auth *a, const cg_buf *user,
                        const cg_buf *secret, cg_call_result *r)
{
    if (a->type == CG_AUTH_DIGEST) {
        job->digest = true;
        job->user = strdup(user->data ? user->data : "");
        job->pass = strdup(secret->data ? secret->data : "");
        if (!job->user || !job->pass) return fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        size_t i = api_index(job->e, job->call->op->api);
        /* a challenge is known: answer it at once (the first call goes without, gets 401) */
        if (job->e->digest_nc[i] > 0 && answer_digest(job, NULL) < 0)
            return fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        return 0;
    }
    cg_buf scope = CG_BUF_INIT;
    for (size_t i = 0; i < a->n_scopes; i++)
        cg_buf_printf(&scope, "%s%s", i ? " " : "", a->scopes[i]);
    job->grant_strings[0] = cg_buf_steal(&scope);
    job->grant_strings[1] = strdup(user->data ? user->data : "");
    job->grant_strings[2] = strdup(secret->data ? secret->data : "");
    if (!job->grant_strings[1] || !job->grant_strings[2])
        return fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    job->grant = (cg_token_oauth2){
        .token_url = a->token_endpoint,
        .client_id = job->grant_strings[1],
        .client_secret = job->grant_strings[2],
        .scope = job->grant_strings[0],
        .resource = a->resource,
        .audience = a->audience,
    };
    return 0;
}

/* Chooses and places the credentials: the consumed API's, exactly as declared, with Label
 * Studio's rules only where its profile applies. A caller's own Authorization replaces the
 * configured credential only when that goes in the Authorization header too: it never
 * replaces a custom header's key or a query key (and is then not forwarded at all).
 * 0, or -1 with *r set. */
static int apply_credentials(cg_call_job *job, cg_call_lookup lookup, void *ctx,
                             const char *caller_auth, bool *query_started, cg_call_result *r)
{
    cg_engine *e = job->e;
    const cg_call *call = job->call;
    const cg_auth *a = &call->op->api->auth;
    bool ls = label_studio(e, call->op->api);
    const char *cred_name = NULL;
    bool cred_required = false;
    for (size_t i = 0; i < call->op->n_inputs; i++)
        if (call->op->inputs[i].is_credential) {
            cred_name = call->op->inputs[i].name;
            cred_required = call->op->inputs[i].required;
        }
    if (a->type == CG_AUTH_APIKEY && a->key) cred_name = a->key;
    else if (a->type != CG_AUTH_NONE) cred_name = "Authorization";
    if (!cred_name) return 0;
    job->auth_name = cred_name;
    bool in_query = a->type == CG_AUTH_APIKEY && a->in_query;
    bool on_authorization = !in_query && !strcasecmp(cred_name, "Authorization");

    if (caller_auth && *caller_auth && on_authorization) {
        if (!cg_header_value_ok(caller_auth, strlen(caller_auth)))
            return fail(r, CG_CALL_BAD_ARGUMENT, "Authorization",
                        "the Authorization header contains control characters");
        job->auth_header = add_header(job, "Authorization", caller_auth, strlen(caller_auth));
        return job->auth_header < 0 ? fail(r, CG_CALL_INTERNAL, NULL, "too many headers") : 0;
    }

    cg_buf val = CG_BUF_INIT, missing = CG_BUF_INIT, cred = CG_BUF_INIT, user = CG_BUF_INIT;
    int rc = 0;
    bool fetched = false;   /* the header is set later (token fetch, digest challenge) */
    const cg_template *t = auth_template(a);
    if (t && resolve_template(e, call, lookup, ctx, t, &val, &missing) < 0) {
        rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        goto apply_credentials_out;
    }
    const cg_template *ut = a->type == CG_AUTH_OAUTH2 ? a->client_id : a->username;
    if (ut && (a->type == CG_AUTH_BASIC || a->type == CG_AUTH_DIGEST || a->type == CG_AUTH_OAUTH2) &&
        resolve_template(e, call, lookup, ctx, ut, &user, &missing) < 0) {
        rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        goto apply_credentials_out;
    }
    switch (a->type) {
    case CG_AUTH_BASIC:
        if (user.len || val.len) {
            cg_buf pair = CG_BUF_INIT;
            cg_buf_printf(&pair, "%s:%s", user.data ? user.data : "", val.data ? val.data : "");
            cg_buf_append_str(&cred, "Basic ");
            char *b64 = pair.data ? cg_base64_encode(pair.data, pair.len, CG_B64_STD) : NULL;
            if (b64) {
                cg_buf_append_str(&cred, b64);
                OPENSSL_cleanse(b64, strlen(b64));
                free(b64);
            }
            if (pair.data) OPENSSL_cleanse(pair.data, pair.len);
            cg_buf_free(&pair);
        }
        break;
    case CG_AUTH_DIGEST:
    case CG_AUTH_OAUTH2:
        if ((a->type == CG_AUTH_DIGEST && (user.len || val.len)) || (user.len && val.len)) {
            fetched = true;
            rc = keep_secrets(job, a, &user, &val, r);
        }
        break;
    case CG_AUTH_BEARER:
        if (val.len) cg_buf_printf(&cred, "Bearer %s", val.data);
        break;
    case CG_AUTH_APIKEY:
        if (val.len && ls && on_authorization) {
            int k = cg_ls_authorization(val.data, &cred);  /* Token <key>, or exchanged */
            if (k < 0) rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
            if (k == 1) {
                fetched = true;
                job->token_key = cg_arena_strdup(job->arena, val.data);
                if (!job->token_key) rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
            }
        } else if (val.len) {
            cg_buf_append(&cred, val.data, val.len);  /* exactly as written */
        }
        break;
    case CG_AUTH_NONE:
        break;
    }
    if (rc < 0 || fetched) goto apply_credentials_out;
    if (!cred.len) {
        if (a->type == CG_AUTH_NONE && !cred_required) goto apply_credentials_out;
        cg_buf src = CG_BUF_INIT;
        describe_sources(e, t, &src);
        rc = fail(r, CG_CALL_NO_CREDENTIALS, NULL,
                  "no credentials for the upstream API: %sstart capgate with %s set%s",
                  on_authorization ? "send an Authorization header, or " : "",
                  src.len ? src.data : "the spec's credential variable",
                  src.len && ls ? " (a Label Studio API key or personal access token)" : "");
        cg_buf_free(&src);
        goto apply_credentials_out;
    }
    if (!cg_header_value_ok(cred.data, cred.len)) {
        rc = fail(r, CG_CALL_NO_CREDENTIALS, NULL,
                  "the configured credential contains control characters");
        goto apply_credentials_out;
    }
    if (in_query) {
        if (cg_buf_append_str(&job->url, *query_started ? "&" : "?") < 0 ||
            cg_encode_percent(&job->url, a->key, strlen(a->key)) < 0 ||
            cg_buf_append_str(&job->url, "=") < 0 ||
            cg_encode_percent(&job->url, cred.data, cred.len) < 0)
            rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        *query_started = true;
    } else {
        if (!cg_header_name_ok(cred_name)) {
            rc = fail(r, CG_CALL_INTERNAL, NULL, "the spec's credential header name is invalid");
            goto apply_credentials_out;
        }
        job->auth_header = add_header(job, cred_name, cred.data, cred.len);
        if (job->auth_header < 0) rc = fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
    }

apply_credentials_out:
    if (val.data) OPENSSL_cleanse(val.data, val.len);
    if (user.data) OPENSSL_cleanse(user.data, user.len);
    if (cred.data) OPENSSL_cleanse(cred.data, cred.len);
    cg_buf_free(&val);
    cg_buf_free(&user);
    cg_buf_free(&missing);
    cg_buf_free(&cred);
    return rc;
}

/* Whether consumed input i takes a list (its type, or the incoming value's). */
static bool input_is_array(const cg_call *call, size_t i)
{
    if (call->op->inputs[i].type == CG_TYPE_ARRAY)
        return true;
    const cg_binding *b = &call->bindings[i];
    const cg_argument *arg = b->kind == CG_SOURCE_ARGUMENT ? argument_named(call, b->argument) : NULL;
    return arg && arg->type == CG_TYPE_ARRAY;
}

/* One query parameter; a list (a JSON array) is sent as the parameter repeated,
 * ?ids=1&ids=2, each element as text (strings without quotes). */
static int append_query(cg_buf *url, const char *name, const value *v, bool is_array, bool *started)
{
    json_t *list = NULL;
    if (is_array && v->n && v->s[0] == '[')
        list = json_loadb(v->s, v->n, 0, NULL);
    int rc = 0;
    if (!json_is_array(list)) {
        rc |= cg_buf_append_str(url, *started ? "&" : "?");
        rc |= cg_encode_percent(url, name, strlen(name));
        rc |= cg_buf_append_str(url, "=");
        rc |= cg_encode_percent(url, v->s, v->n);
        *started = true;
        json_decref(list);
        return rc ? -1 : 0;
    }
    size_t k;
    json_t *item;
    json_array_foreach(list, k, item) {
        char *text = json_is_string(item) ? strdup(json_string_value(item))
                                           : json_dumps(item, JSON_COMPACT | JSON_ENCODE_ANY);
        rc |= cg_buf_append_str(url, *started ? "&" : "?");
        rc |= cg_encode_percent(url, name, strlen(name));
        rc |= cg_buf_append_str(url, "=");
        rc |= text ? cg_encode_percent(url, text, strlen(text)) : -1;
        *started = true;
        free(text);
    }
    json_decref(list);
    return rc ? -1 : 0;
}

/* `in: cookie` inputs go out as one Cookie header: name=value; name=value (RFC 6265). */
static int add_cookie_header(cg_call_job *job, const cg_operation *op, const value *vals,
                             cg_call_result *r)
{
    cg_buf cookie = CG_BUF_INIT;
    int rc = 0;
    for (size_t i = 0; i < op->n_inputs && rc == 0; i++) {
        const cg_input *in = &op->inputs[i];
        if (in->in != CG_IN_COOKIE || !vals[i].present)
            continue;
        if (memchr(vals[i].s, ';', vals[i].n) || !cg_header_value_ok(vals[i].s, vals[i].n)) {
            rc = fail(r, CG_CALL_BAD_ARGUMENT, in->name, "cookie '%s' must not contain ';' or "
                      "control characters", in->name);
            break;
        }
        if (cg_buf_printf(&cookie, "%s%s=%.*s", cookie.len ? "; " : "", in->name,
                          (int)vals[i].n, vals[i].s) < 0)
            rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    }
    if (rc == 0 && cookie.len && add_header(job, "Cookie", cookie.data, cookie.len) < 0)
        rc = fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
    cg_buf_free(&cookie);
    return rc;
}

static bool has_header(const cg_call_job *job, const char *name)
{
    for (size_t i = 0; i < job->n_headers; i++)
        if (!strcasecmp(job->headers[i].name, name)) return true;
    return false;
}

/* The consumed operation's body: template(s) resolved, with the matching Content-Type
 * (unless an input set one). A form's fields and parts are percent-encoded or framed
 * here; a JSON body must come out as valid JSON. */
static int render_body(cg_call_job *job, cg_call_lookup lookup, void *ctx, cg_call_result *r)
{
    cg_engine *e = job->e;
    const cg_call *call = job->call;
    const cg_body *body = call->op->body;
    cg_buf out = CG_BUF_INIT, missing = CG_BUF_INIT;
    char boundary[48] = "";
    const char *type = "application/json";
    int rc = 0;
    switch (body->kind) {
    case CG_BODY_TEXT: type = "text/plain; charset=utf-8"; break;
    case CG_BODY_XML: type = "application/xml"; break;
    case CG_BODY_SPARQL: type = "application/sparql-query"; break;
    case CG_BODY_FORM: type = "application/x-www-form-urlencoded"; break;
    default: break;
    }
    if (body->data) {
        rc = resolve_template(e, call, lookup, ctx, body->data, &out, &missing);
    } else if (body->kind == CG_BODY_FORM) {
        for (size_t i = 0; i < body->n_parts && rc == 0; i++) {
            cg_buf v = CG_BUF_INIT;
            rc = resolve_template(e, call, lookup, ctx, body->parts[i].value, &v, &missing);
            rc |= cg_buf_append_str(&out, i ? "&" : "");
            rc |= cg_encode_percent(&out, body->parts[i].name, strlen(body->parts[i].name));
            rc |= cg_buf_append_str(&out, "=");
            rc |= cg_encode_percent(&out, v.data ? v.data : "", v.len);
            cg_buf_free(&v);
        }
    } else {    /* multipart/form-data (RFC 7578) */
        unsigned char rnd[12];
        RAND_bytes(rnd, sizeof rnd);
        int k = snprintf(boundary, sizeof boundary, "capgate-");
        for (size_t i = 0; i < sizeof rnd; i++)
            k += snprintf(boundary + k, sizeof boundary - (size_t)k, "%02x", rnd[i]);
        for (size_t i = 0; i < body->n_parts && rc == 0; i++) {
            const cg_body_part *part = &body->parts[i];
            rc |= cg_buf_printf(&out, "--%s\r\nContent-Disposition: form-data; name=\"%s\"",
                                boundary, part->name) < 0;
            if (part->filename)
                rc |= cg_buf_printf(&out, "; filename=\"%s\"", part->filename) < 0;
            if (part->content_type)
                rc |= cg_buf_printf(&out, "\r\nContent-Type: %s", part->content_type) < 0;
            rc |= cg_buf_append_str(&out, "\r\n\r\n") < 0;
            rc |= resolve_template(e, call, lookup, ctx, part->value, &out, &missing) < 0;
            rc |= cg_buf_append_str(&out, "\r\n") < 0;
        }
        rc |= cg_buf_printf(&out, "--%s--\r\n", boundary) < 0;
        rc = rc ? -1 : 0;
    }
    if (rc < 0) {
        rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    } else if (missing.len) {
        rc = fail(r, CG_CALL_BAD_ARGUMENT, NULL, "the request body needs %s", missing.data);
    } else if ((body->kind == CG_BODY_JSON ||
                (body->kind == CG_BODY_RAW && !has_header(job, "Content-Type"))) && out.len) {
        json_error_t jerr;
        json_t *doc = json_loadb(out.data, out.len, JSON_DECODE_ANY, &jerr);
        if (!doc)
            rc = fail(r, CG_CALL_BAD_ARGUMENT, NULL, "the request body built from the spec's "
                      "template is not valid JSON: %s", jerr.text);
        json_decref(doc);
    }
    if (rc == 0 && !has_header(job, "Content-Type")) {
        char ct[96];
        if (boundary[0])
            snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", boundary);
        else
            snprintf(ct, sizeof ct, "%s", type);
        if (add_header(job, "Content-Type", ct, strlen(ct)) < 0)
            rc = fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
    }
    if (rc == 0) {
        job->body = cg_arena_strndup(job->arena, out.data ? out.data : "", out.len);
        job->body_len = out.len;
        if (!job->body) rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    }
    cg_buf_free(&out);
    cg_buf_free(&missing);
    return rc;
}

/* Builds URL, headers and body into job. 0, or -1 with *r set. */
static int build_request(cg_call_job *job, cg_call_lookup lookup, void *ctx,
                         const char *caller_auth, cg_call_result *r)
{
    cg_engine *e = job->e;
    const cg_call *call = job->call;
    const cg_operation *op = call->op;
    size_t n = op->n_inputs;
    value *vals = cg_arena_alloc(job->arena, (n ? n : 1) * sizeof *vals);
    if (!vals) return fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    int rc = 0;

    /* 1. every value, checked */
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (op->inputs[i].is_credential || op->inputs[i].in == CG_IN_ENVIRONMENT) continue;
        rc = input_value(e, call, i, lookup, ctx, &vals[i], r);
        const cg_input *in = &op->inputs[i];
        if (rc == 0 && !vals[i].present && (in->required || in->in == CG_IN_PATH))
            rc = fail(r, CG_CALL_BAD_ARGUMENT, in->name, "missing required parameter '%s'",
                      in->name);
        if (rc == 0 && vals[i].present && in->in == CG_IN_PATH && vals[i].n == 0)
            rc = fail(r, CG_CALL_BAD_ARGUMENT, in->name, "parameter '%s' must not be empty",
                      in->name);
        if (rc == 0 && vals[i].present && in->in == CG_IN_HEADER &&
            !cg_header_value_ok(vals[i].s, vals[i].n))
            rc = fail(r, CG_CALL_BAD_ARGUMENT, in->name,
                      "header parameter '%s' contains control characters", in->name);
        if (rc == 0 && vals[i].present && in->in == CG_IN_BODY) {
            json_error_t jerr;
            json_t *doc = json_loadb(vals[i].s, vals[i].n, JSON_DECODE_ANY, &jerr);
            if (!doc)
                rc = fail(r, CG_CALL_BAD_ARGUMENT, in->name,
                          "the request body is not valid JSON: %s (line %d, column %d)",
                          jerr.text, jerr.line, jerr.column);
            else if (in->type == CG_TYPE_OBJECT && !json_is_object(doc))
                rc = fail(r, CG_CALL_BAD_ARGUMENT, in->name, "the request body must be a JSON object");
            else if (in->type == CG_TYPE_ARRAY && !json_is_array(doc))
                rc = fail(r, CG_CALL_BAD_ARGUMENT, in->name, "the request body must be a JSON array");
            json_decref(doc);
        }
    }
    if (rc < 0) goto build_request_out;

    /* 2. URL: base, path with encoded placeholders, query */
    rc = cg_buf_reserve(&job->url, 256);     /* most URLs fit: one allocation */
    rc |= cg_buf_append_str(&job->url, cg_engine_base_uri(e, op->api));
    if (job->forward_target)
        rc |= cg_buf_append_str(&job->url, job->forward_target);
    for (size_t p = 0; p < op->n_path_parts && rc == 0; p++) {
        const cg_path_part *part = &op->path_parts[p];
        if (part->literal) {
            rc = cg_buf_append_str(&job->url, part->literal);
        } else if (part->input >= 0 && (size_t)part->input < n && vals[part->input].present) {
            rc = cg_encode_percent(&job->url, vals[part->input].s, vals[part->input].n);
        } else if (part->input < 0 && part->name) {
            cg_buf v = CG_BUF_INIT;
            int found = variable_value(e, call, lookup, ctx, part->name, &v, 0);
            if (found > 0 && v.len)
                rc = cg_encode_percent(&job->url, v.data, v.len);
            cg_buf_free(&v);
            if (found < 0) {
                rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
                goto build_request_out;
            }
            if (found == 0 || rc != 0) {
                rc = fail(r, CG_CALL_BAD_ARGUMENT, part->name, "missing path parameter '%s'",
                          part->name);
                goto build_request_out;
            }
        } else {
            rc = fail(r, CG_CALL_BAD_ARGUMENT, part->name, "missing path parameter '%s'",
                      part->name ? part->name : "?");
            goto build_request_out;
        }
    }
    bool query_started = job->forward_target && strchr(job->forward_target, '?');
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (op->inputs[i].in != CG_IN_QUERY || !vals[i].present || op->inputs[i].is_credential)
            continue;
        rc = append_query(&job->url, op->inputs[i].name, &vals[i], input_is_array(call, i),
                          &query_started);
    }
    if (rc < 0) {
        rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        goto build_request_out;
    }

    /* 3. headers and body */
    for (size_t i = 0; i < n; i++) {
        const cg_input *in = &op->inputs[i];
        if (!vals[i].present || in->is_credential) continue;
        if (in->in == CG_IN_HEADER) {
            if (!cg_header_name_ok(in->name) ||
                !strcasecmp(in->name, "Host") || !strcasecmp(in->name, "Content-Length") ||
                !strcasecmp(in->name, "Transfer-Encoding") || !strcasecmp(in->name, "Connection")) {
                rc = fail(r, CG_CALL_BAD_ARGUMENT, in->name, "header '%s' cannot be set", in->name);
                goto build_request_out;
            }
            if (add_header(job, in->name, vals[i].s, vals[i].n) < 0) {
                rc = fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
                goto build_request_out;
            }
        } else if (in->in == CG_IN_BODY && !job->body) {
            job->body = cg_arena_strndup(job->arena, vals[i].s, vals[i].n);
            if (!job->body) {
                rc = fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
                goto build_request_out;
            }
            job->body_len = vals[i].n;
            if (add_header(job, "Content-Type", "application/json", 16) < 0) {
                rc = fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
                goto build_request_out;
            }
        }
    }

    if (rc == 0)
        rc = add_cookie_header(job, op, vals, r);
    if (rc == 0 && op->body && !job->body)
        rc = render_body(job, lookup, ctx, r);
    if (rc < 0) goto build_request_out;

    /* 4. credentials */
    rc = apply_credentials(job, lookup, ctx, caller_auth, &query_started, r);
    /* 5. W3C trace context (trace.h): the upstream request's span */
    if (rc == 0 && job->span && (job->client_span = cg_span_begin_client(job->span, op->name))) {
        char tp[56];
        cg_span_traceparent(job->client_span, tp);
        if (add_header(job, "traceparent", tp, strlen(tp)) < 0)
            rc = fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
    }

build_request_out:
    for (size_t i = 0; i < n; i++) cg_buf_free(&vals[i].owned);
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
                           res->error == CG_CALL_BAD_ARGUMENT ? CG_STEPS_ARGUMENT : CG_STEPS_UPSTREAM,
                           res->message);
}

static int start_step_call(void *ctx, const cg_step *step, char *err, size_t errlen)
{
    cg_call_job *job = ctx;
    cg_call_result now;
    cg_trace_set_parent(job->span);     /* the step's span is a child of the call's */
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
        if (arg->is_credential || !job->lookup(job->lookup_ctx, arg, &v, &n))
            continue;
        json_t *j = arg->type != CG_TYPE_STRING ? json_loadb(v, n, JSON_DECODE_ANY, NULL) : NULL;
        json_object_set_new(obj, arg->name, j ? j : json_stringn(v, n));
    }
    return obj;
}

static int render_step_value(void *ctx, const cg_template *t, cg_buf *out)
{
    cg_call_job *job = ctx;
    return resolve_template(job->e, job->call, job->lookup, job->lookup_ctx, t, out, NULL);
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
                               ? CG_CALL_BAD_GATEWAY : CG_CALL_INTERNAL;
        fail(&r, kind, NULL, "%s", message ? message : "a step failed");
        r.upstream_status = upstream_status;
        cg_log(CG_LOG_WARN, "engine", "%s", r.message);
    }
    finish_job(job, &r);
}

static int start_steps(cg_call_job *job, const char *caller_authorization, cg_call_result *now)
{
    cg_engine *e = job->e;
    if (caller_authorization && !(job->caller_auth = cg_arena_strdup(job->arena, caller_authorization)))
        return fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
    job->scripts = e->scripts;
    cg_script_limits limits = e->script_limits;
    if (e->opt.script_policy) cg_script_policy_snapshot(e->opt.script_policy, &job->scripts, &limits);
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
    return job->steps ? 0 : fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
}

int cg_call_start(cg_engine *e, const cg_call *call, cg_call_lookup lookup, void *ctx,
                  const char *caller_authorization, cg_call_done done, void *arg,
                  cg_call_job **out, cg_call_result *now)
{
    memset(now, 0, sizeof *now);
    *out = NULL;
    cg_call_job *job = job_new();
    if (!job) return fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
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
            return fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
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
    job->idempotent = is_idempotent(call->op->method);
    job->timeout_ms = label_studio(e, call->op->api) && cg_ls_is_long_operation(call->op)
                          ? e->opt.long_timeout_ms : e->opt.timeout_ms;
    job->next = e->jobs;
    if (e->jobs) e->jobs->prev = job;
    e->jobs = job;
    e->n_jobs++;
    if (build_request(job, lookup, ctx, caller_authorization, now) < 0) {
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
    if (!job) return fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
    job->e = e;
    job->forward_target = cg_arena_strdup(job->arena, fr->target);
    job->forward_bindings = cg_arena_alloc(job->arena, (api->n_inputs + 1) * sizeof *job->forward_bindings);
    job->forward_op = (cg_operation){.name = "forward", .method = fr->method,
                                     .path = job->forward_target, .inputs = api->inputs,
                                     .n_inputs = api->n_inputs, .output_format = "json", .api = api};
    job->forward_call = (cg_call){.op = &job->forward_op, .bindings = job->forward_bindings};
    job->call = &job->forward_call;
    job->done = done;
    job->arg = arg;
    job->auth_header = -1;
    job->lookup = never_lookup;
    job->idempotent = is_idempotent(fr->method);
    job->timeout_ms = e->opt.timeout_ms;
    job->next = e->jobs;
    if (e->jobs) e->jobs->prev = job;
    e->jobs = job;
    e->n_jobs++;
    int rc = job->forward_target && job->forward_bindings ? 0
             : fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
    if (rc == 0)
        rc = build_request(job, never_lookup, NULL, fr->caller_authorization, now);
    for (size_t i = 0; rc == 0 && i < fr->n_headers; i++)
        if (add_header(job, fr->header_names[i], fr->header_values[i], strlen(fr->header_values[i])) < 0)
            rc = fail(now, CG_CALL_INTERNAL, NULL, "too many headers");
    if (rc == 0 && fr->body_len) {
        job->body = cg_arena_strndup(job->arena, fr->body, fr->body_len);
        if (!job->body)
            rc = fail(now, CG_CALL_INTERNAL, NULL, "out of memory");
        else
            job->body_len = fr->body_len;
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
    if (job->steps) cg_steps_cancel(job->steps);     /* cancels its call step too */
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
