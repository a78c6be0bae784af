/*
 * call_request.c — building one operation call's upstream request. See call.h.
 *
 * Every incoming value is looked up and checked against its declared type before anything
 * is built; then the URL, headers and body are built into the job (each value through its
 * encoder), and the credentials are chosen (apply_credentials): the consumed API's, exactly
 * as declared, with Label Studio's rules only where its profile applies.
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

/* ---- values --------------------------------------------------------------------- */

typedef struct value {
    const char *s;
    size_t n;
    bool present;
    cg_buf owned; /* when the value was built from a template */
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
    if (v) return cg_buf_append_str(out, v) < 0 ? -1 : 1;
    const cg_binding *b = NULL;
    for (size_t p = 0; p < call->n_params && !b; p++)
        if (!strcmp(call->params[p].name, name)) b = &call->params[p].binding;
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
    if (arg && lookup(ctx, arg, &s, &n)) return cg_buf_append(out, s, n) < 0 ? -1 : 1;
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
        size_t n = p->len < sizeof name ? p->len : sizeof name - 1;
        memcpy(name, p->text, n); /* not snprintf: this runs on every call */
        name[n] = '\0';
        int found = variable_value(e, call, lookup, ctx, name, out, depth);
        if (found < 0) return -1;
        if (!found && missing) {
            if (missing->len) cg_buf_append_str(missing, ", ");
            cg_buf_append_str(missing, name);
        }
    }
    return 0;
}

int cg__call_resolve_template(cg_engine *e, const cg_call *call, cg_call_lookup lookup, void *ctx,
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
    case CG_TYPE_INTEGER: return cg_parse_int64(s, n, NULL);
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
    default: return true;
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
            if (arg->type != CG_TYPE_STRING && in->in != CG_IN_BODY &&
                !type_ok(arg->type, v->s, v->n))
                rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, arg->name, "parameter '%s' must be %s",
                                   arg->name, article_type(arg->type));
        }
    } else {
        const cg_template *t = b->kind == CG_SOURCE_LITERAL ? b->literal : in->value;
        if (t) {
            if (cg__call_resolve_template(e, call, lookup, ctx, t, &v->owned, &missing) < 0)
                rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
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

bool cg__call_is_idempotent(const char *method)
{
    return !strcmp(method, "GET") || !strcmp(method, "HEAD") || !strcmp(method, "PUT") ||
           !strcmp(method, "DELETE") || !strcmp(method, "OPTIONS");
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
        if (!job->user || !job->pass)
            return cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        size_t i = cg__call_api_index(job->e, job->call->op->api);
        /* a challenge is known: answer it at once (the first call goes without, gets 401) */
        if (job->e->digest_nc[i] > 0 && cg__call_answer_digest(job, NULL) < 0)
            return cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        return 0;
    }
    cg_buf scope = CG_BUF_INIT;
    for (size_t i = 0; i < a->n_scopes; i++)
        cg_buf_printf(&scope, "%s%s", i ? " " : "", a->scopes[i]);
    job->grant_strings[0] = cg_buf_steal(&scope);
    job->grant_strings[1] = strdup(user->data ? user->data : "");
    job->grant_strings[2] = strdup(secret->data ? secret->data : "");
    if (!job->grant_strings[1] || !job->grant_strings[2])
        return cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
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
    bool ls = cg__call_label_studio(e, call->op->api);
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
            return cg__call_fail(r, CG_CALL_BAD_ARGUMENT, "Authorization",
                                 "the Authorization header contains control characters");
        job->auth_header = cg__call_add_header(job, "Authorization", caller_auth,
                                               strlen(caller_auth));
        return job->auth_header < 0 ? cg__call_fail(r, CG_CALL_INTERNAL, NULL, "too many headers")
                                    : 0;
    }

    cg_buf val = CG_BUF_INIT, missing = CG_BUF_INIT, cred = CG_BUF_INIT, user = CG_BUF_INIT;
    int rc = 0;
    bool fetched = false; /* the header is set later (token fetch, digest challenge) */
    const cg_template *t = auth_template(a);
    if (t && cg__call_resolve_template(e, call, lookup, ctx, t, &val, &missing) < 0) {
        rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        goto apply_credentials_out;
    }
    const cg_template *ut = a->type == CG_AUTH_OAUTH2 ? a->client_id : a->username;
    if (ut &&
        (a->type == CG_AUTH_BASIC || a->type == CG_AUTH_DIGEST || a->type == CG_AUTH_OAUTH2) &&
        cg__call_resolve_template(e, call, lookup, ctx, ut, &user, &missing) < 0) {
        rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
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
            int k = cg_ls_authorization(val.data, &cred); /* Token <key>, or exchanged */
            if (k < 0) rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
            if (k == 1) {
                fetched = true;
                job->token_key = cg_arena_strdup(job->arena, val.data);
                if (!job->token_key) rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
            }
        } else if (val.len) {
            cg_buf_append(&cred, val.data, val.len); /* exactly as written */
        }
        break;
    case CG_AUTH_NONE: break;
    }
    if (rc < 0 || fetched) goto apply_credentials_out;
    if (!cred.len) {
        if (a->type == CG_AUTH_NONE && !cred_required) goto apply_credentials_out;
        cg_buf src = CG_BUF_INIT;
        describe_sources(e, t, &src);
        rc = cg__call_fail(r, CG_CALL_NO_CREDENTIALS, NULL,
                           "no credentials for the upstream API: %sstart capgate with %s set%s",
                           on_authorization ? "send an Authorization header, or " : "",
                           src.len ? src.data : "the spec's credential variable",
                           src.len && ls ? " (a Label Studio API key or personal access token)"
                                         : "");
        cg_buf_free(&src);
        goto apply_credentials_out;
    }
    if (!cg_header_value_ok(cred.data, cred.len)) {
        rc = cg__call_fail(r, CG_CALL_NO_CREDENTIALS, NULL,
                           "the configured credential contains control characters");
        goto apply_credentials_out;
    }
    if (in_query) {
        if (cg_buf_append_str(&job->url, *query_started ? "&" : "?") < 0 ||
            cg_encode_percent(&job->url, a->key, strlen(a->key)) < 0 ||
            cg_buf_append_str(&job->url, "=") < 0 ||
            cg_encode_percent(&job->url, cred.data, cred.len) < 0)
            rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        *query_started = true;
    } else {
        if (!cg_header_name_ok(cred_name)) {
            rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL,
                               "the spec's credential header name is invalid");
            goto apply_credentials_out;
        }
        job->auth_header = cg__call_add_header(job, cred_name, cred.data, cred.len);
        if (job->auth_header < 0) rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
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
    if (call->op->inputs[i].type == CG_TYPE_ARRAY) return true;
    const cg_binding *b = &call->bindings[i];
    const cg_argument *arg = b->kind == CG_SOURCE_ARGUMENT ? argument_named(call, b->argument)
                                                           : NULL;
    return arg && arg->type == CG_TYPE_ARRAY;
}

/* One query parameter; a list (a JSON array) is sent as the parameter repeated,
 * ?ids=1&ids=2, each element as text (strings without quotes). */
static int append_query(cg_buf *url, const char *name, const value *v, bool is_array, bool *started)
{
    json_t *list = NULL;
    if (is_array && v->n && v->s[0] == '[') list = json_loadb(v->s, v->n, 0, NULL);
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
    json_array_foreach(list, k, item)
    {
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
        if (in->in != CG_IN_COOKIE || !vals[i].present) continue;
        if (memchr(vals[i].s, ';', vals[i].n) || !cg_header_value_ok(vals[i].s, vals[i].n)) {
            rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, in->name,
                               "cookie '%s' must not contain ';' or "
                               "control characters",
                               in->name);
            break;
        }
        if (cg_buf_printf(&cookie, "%s%s=%.*s", cookie.len ? "; " : "", in->name, (int)vals[i].n,
                          vals[i].s) < 0)
            rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    }
    if (rc == 0 && cookie.len && cg__call_add_header(job, "Cookie", cookie.data, cookie.len) < 0)
        rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
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
        rc = cg__call_resolve_template(e, call, lookup, ctx, body->data, &out, &missing);
    } else if (body->kind == CG_BODY_FORM) {
        for (size_t i = 0; i < body->n_parts && rc == 0; i++) {
            cg_buf v = CG_BUF_INIT;
            rc = cg__call_resolve_template(e, call, lookup, ctx, body->parts[i].value, &v,
                                           &missing);
            rc |= cg_buf_append_str(&out, i ? "&" : "");
            rc |= cg_encode_percent(&out, body->parts[i].name, strlen(body->parts[i].name));
            rc |= cg_buf_append_str(&out, "=");
            rc |= cg_encode_percent(&out, v.data ? v.data : "", v.len);
            cg_buf_free(&v);
        }
    } else { /* multipart/form-data (RFC 7578) */
        unsigned char rnd[12];
        RAND_bytes(rnd, sizeof rnd);
        int k = snprintf(boundary, sizeof boundary, "capgate-");
        for (size_t i = 0; i < sizeof rnd; i++)
            k += snprintf(boundary + k, sizeof boundary - (size_t)k, "%02x", rnd[i]);
        for (size_t i = 0; i < body->n_parts && rc == 0; i++) {
            const cg_body_part *part = &body->parts[i];
            rc |= cg_buf_printf(&out, "--%s\r\nContent-Disposition: form-data; name=\"%s\"",
                                boundary, part->name) < 0;
            if (part->filename) rc |= cg_buf_printf(&out, "; filename=\"%s\"", part->filename) < 0;
            if (part->content_type)
                rc |= cg_buf_printf(&out, "\r\nContent-Type: %s", part->content_type) < 0;
            rc |= cg_buf_append_str(&out, "\r\n\r\n") < 0;
            rc |= cg__call_resolve_template(e, call, lookup, ctx, part->value, &out, &missing) < 0;
            rc |= cg_buf_append_str(&out, "\r\n") < 0;
        }
        rc |= cg_buf_printf(&out, "--%s--\r\n", boundary) < 0;
        rc = rc ? -1 : 0;
    }
    if (rc < 0) {
        rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    } else if (missing.len) {
        rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, NULL, "the request body needs %s",
                           missing.data);
    } else if ((body->kind == CG_BODY_JSON ||
                (body->kind == CG_BODY_RAW && !has_header(job, "Content-Type"))) &&
               out.len) {
        json_error_t jerr;
        json_t *doc = json_loadb(out.data, out.len, JSON_DECODE_ANY, &jerr);
        if (!doc)
            rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, NULL,
                               "the request body built from the spec's "
                               "template is not valid JSON: %s",
                               jerr.text);
        json_decref(doc);
    }
    if (rc == 0 && !has_header(job, "Content-Type")) {
        char ct[96];
        if (boundary[0]) snprintf(ct, sizeof ct, "multipart/form-data; boundary=%s", boundary);
        else snprintf(ct, sizeof ct, "%s", type);
        if (cg__call_add_header(job, "Content-Type", ct, strlen(ct)) < 0)
            rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
    }
    if (rc == 0) {
        job->body = cg_arena_strndup(job->arena, out.data ? out.data : "", out.len);
        job->body_len = out.len;
        if (!job->body) rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    }
    cg_buf_free(&out);
    cg_buf_free(&missing);
    return rc;
}

/* Builds URL, headers and body into job. 0, or -1 with *r set. */
int cg__call_build_request(cg_call_job *job, cg_call_lookup lookup, void *ctx,
                           const char *caller_auth, cg_call_result *r)
{
    cg_engine *e = job->e;
    const cg_call *call = job->call;
    const cg_operation *op = call->op;
    size_t n = op->n_inputs;
    value *vals = cg_arena_alloc(job->arena, (n ? n : 1) * sizeof *vals);
    if (!vals) return cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
    int rc = 0;

    /* 1. every value, checked */
    for (size_t i = 0; i < n && rc == 0; i++) {
        if (op->inputs[i].is_credential || op->inputs[i].in == CG_IN_ENVIRONMENT) continue;
        rc = input_value(e, call, i, lookup, ctx, &vals[i], r);
        const cg_input *in = &op->inputs[i];
        if (rc == 0 && !vals[i].present && (in->required || in->in == CG_IN_PATH))
            rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, in->name, "missing required parameter '%s'",
                               in->name);
        if (rc == 0 && vals[i].present && in->in == CG_IN_PATH && vals[i].n == 0)
            rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, in->name,
                               "parameter '%s' must not be empty", in->name);
        if (rc == 0 && vals[i].present && in->in == CG_IN_HEADER &&
            !cg_header_value_ok(vals[i].s, vals[i].n))
            rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, in->name,
                               "header parameter '%s' contains control characters", in->name);
        if (rc == 0 && vals[i].present && in->in == CG_IN_BODY) {
            json_error_t jerr;
            json_t *doc = json_loadb(vals[i].s, vals[i].n, JSON_DECODE_ANY, &jerr);
            if (!doc)
                rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, in->name,
                                   "the request body is not valid JSON: %s (line %d, column %d)",
                                   jerr.text, jerr.line, jerr.column);
            else if (in->type == CG_TYPE_OBJECT && !json_is_object(doc))
                rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, in->name,
                                   "the request body must be a JSON object");
            else if (in->type == CG_TYPE_ARRAY && !json_is_array(doc))
                rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, in->name,
                                   "the request body must be a JSON array");
            json_decref(doc);
        }
    }
    if (rc < 0) goto build_request_out;

    /* 2. URL: base, path with encoded placeholders, query */
    rc = cg_buf_reserve(&job->url, 256); /* most URLs fit: one allocation */
    rc |= cg_buf_append_str(&job->url, cg_engine_base_uri(e, op->api));
    if (job->forward_target) rc |= cg_buf_append_str(&job->url, job->forward_target);
    for (size_t p = 0; p < op->n_path_parts && rc == 0; p++) {
        const cg_path_part *part = &op->path_parts[p];
        if (part->literal) {
            rc = cg_buf_append_str(&job->url, part->literal);
        } else if (part->input >= 0 && (size_t)part->input < n && vals[part->input].present) {
            rc = cg_encode_percent(&job->url, vals[part->input].s, vals[part->input].n);
        } else if (part->input < 0 && part->name) {
            cg_buf v = CG_BUF_INIT;
            int found = variable_value(e, call, lookup, ctx, part->name, &v, 0);
            if (found > 0 && v.len) rc = cg_encode_percent(&job->url, v.data, v.len);
            cg_buf_free(&v);
            if (found < 0) {
                rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
                goto build_request_out;
            }
            if (found == 0 || rc != 0) {
                rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, part->name,
                                   "missing path parameter '%s'", part->name);
                goto build_request_out;
            }
        } else {
            rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, part->name, "missing path parameter '%s'",
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
        rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
        goto build_request_out;
    }

    /* 3. headers and body */
    for (size_t i = 0; i < n; i++) {
        const cg_input *in = &op->inputs[i];
        if (!vals[i].present || in->is_credential) continue;
        if (in->in == CG_IN_HEADER) {
            if (!cg_header_name_ok(in->name) || !strcasecmp(in->name, "Host") ||
                !strcasecmp(in->name, "Content-Length") ||
                !strcasecmp(in->name, "Transfer-Encoding") || !strcasecmp(in->name, "Connection")) {
                rc = cg__call_fail(r, CG_CALL_BAD_ARGUMENT, in->name, "header '%s' cannot be set",
                                   in->name);
                goto build_request_out;
            }
            if (cg__call_add_header(job, in->name, vals[i].s, vals[i].n) < 0) {
                rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
                goto build_request_out;
            }
        } else if (in->in == CG_IN_BODY && !job->body) {
            job->body = cg_arena_strndup(job->arena, vals[i].s, vals[i].n);
            if (!job->body) {
                rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "out of memory");
                goto build_request_out;
            }
            job->body_len = vals[i].n;
            if (cg__call_add_header(job, "Content-Type", "application/json", 16) < 0) {
                rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
                goto build_request_out;
            }
        }
    }

    if (rc == 0) rc = add_cookie_header(job, op, vals, r);
    if (rc == 0 && op->body && !job->body) rc = render_body(job, lookup, ctx, r);
    if (rc < 0) goto build_request_out;

    /* 4. credentials */
    rc = apply_credentials(job, lookup, ctx, caller_auth, &query_started, r);
    /* 5. W3C trace context (trace.h): the upstream request's span */
    if (rc == 0 && job->span && (job->client_span = cg_span_begin_client(job->span, op->name))) {
        char tp[56];
        cg_span_traceparent(job->client_span, tp);
        if (cg__call_add_header(job, "traceparent", tp, strlen(tp)) < 0)
            rc = cg__call_fail(r, CG_CALL_INTERNAL, NULL, "too many headers");
    }

build_request_out:
    for (size_t i = 0; i < n; i++) cg_buf_free(&vals[i].owned);
    return rc;
}
