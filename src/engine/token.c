/*
 * token.c — access tokens fetched from an endpoint and cached: Label Studio's personal
 * access token exchange and OAuth 2.0 client credentials. See token.h.
 *
 * Each (key, URL) pair gets an entry holding the current access token, when it stops
 * being usable, the one fetch in flight (if any) and the requests waiting for it. For
 * OAuth2 the key is the client id, secret and parameters joined, so two consumed APIs
 * with the same client share a token. Entries live as long as the manager; a process has
 * one or two keys, so a list will do.
 */
#include "engine/token.h"

#include "common/base64.h"
#include "common/clock.h"
#include "common/jwt_shape.h"

#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define EARLY_S 30             /* stop using an access token this long before exp */
#define DEFAULT_LIFETIME_S 240 /* when exp cannot be read (Label Studio issues 5 min) */
#define OAUTH2_DEFAULT_S 300   /* a client-credentials reply without expires_in */

typedef enum { KIND_LABEL_STUDIO, KIND_OAUTH2 } entry_kind;

typedef struct token_entry {
    entry_kind kind;
    char *key;
    char *form;        /* oauth2: the token request body */
    char *client_auth; /* oauth2: the client's Authorization value, "Basic ..." */
    char *refresh_url;
    char *authorization;   /* "Bearer <access>", or NULL */
    uint64_t usable_until; /* monotonic ms */
    cg_upstream_transfer *fetch;
    uint64_t renew_timer;
    cg_token_waiter *waiters;
    cg_token *tm;
    struct token_entry *next;
} token_entry;

struct cg_token {
    cg_upstream *up;
    cg_loop *loop;
    long timeout_ms;
    token_entry *entries;
};

long long cg_token_jwt_exp(const char *jwt)
{
    const char *p = jwt ? strchr(jwt, '.') : NULL;
    if (!p) return -1;
    p++;
    const char *end = strchr(p, '.');
    if (!end || end - p > 8192) return -1;
    size_t len = 0;
    unsigned char *json = cg_base64_decode(p, (size_t)(end - p), CG_B64_URL, &len);
    if (!json) return -1;
    long long exp = -1;
    json_t *root = json_loadb((const char *)json, len, 0, NULL);
    json_t *e = root ? json_object_get(root, "exp") : NULL;
    if (json_is_integer(e)) exp = (long long)json_integer_value(e);
    else if (json_is_real(e)) exp = (long long)json_real_value(e);
    json_decref(root);
    free(json);
    return exp;
}

cg_token *cg_token_create(cg_loop *loop, cg_upstream *up, long timeout_ms)
{
    cg_token *tm = calloc(1, sizeof *tm);
    if (!tm) return NULL;
    tm->loop = loop;
    tm->up = up;
    tm->timeout_ms = timeout_ms > 0 ? timeout_ms : 10000;
    return tm;
}

static void entry_free(token_entry *e)
{
    free(e->key);
    free(e->form);
    if (e->client_auth) OPENSSL_cleanse(e->client_auth, strlen(e->client_auth));
    free(e->client_auth);
    free(e->refresh_url);
    free(e->authorization);
    free(e);
}

void cg_token_free(cg_token *tm)
{
    if (!tm) return;
    while (tm->entries) {
        token_entry *e = tm->entries;
        tm->entries = e->next;
        cg_upstream_cancel(e->fetch);
        if (tm->loop) cg_loop_timer_cancel(tm->loop, e->renew_timer);
        entry_free(e);
    }
    free(tm);
}

static token_entry *entry_find(cg_token *tm, entry_kind kind, const char *key,
                               const char *refresh_url)
{
    for (token_entry *e = tm->entries; e; e = e->next)
        if (e->kind == kind && !strcmp(e->key, key) && !strcmp(e->refresh_url, refresh_url))
            return e;
    token_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
    e->kind = kind;
    e->key = strdup(key);
    e->refresh_url = strdup(refresh_url);
    if (!e->key || !e->refresh_url) {
        entry_free(e);
        return NULL;
    }
    e->tm = tm;
    e->next = tm->entries;
    tm->entries = e;
    return e;
}

static void notify(token_entry *e, const cg_token_outcome *o)
{
    cg_token_waiter *w = e->waiters;
    e->waiters = NULL;
    while (w) {
        cg_token_waiter *next = w->_next;
        w->_next = NULL;
        w->_entry = NULL;
        w->cb(w->arg, o);
        w = next;
    }
}

static bool start_fetch(token_entry *e);

static void on_renew_due(cg_loop *loop, void *arg)
{
    token_entry *e = arg;
    e->renew_timer = 0;
    if (!e->fetch && !start_fetch(e)) {
        cg_token_outcome o = {.result = CG_UPSTREAM_INTERNAL,
                              .error = "token refresh: out of memory"};
        notify(e, &o);
    }
}

static void on_fetched(void *arg, cg_upstream_response *res)
{
    token_entry *e = arg;
    cg_token *tm = e->tm;
    e->fetch = NULL;
    cg_token_outcome o = {.result = res->result, .status = res->status};
    char msg[256];
    json_t *root = NULL;
    if (res->result != CG_UPSTREAM_OK) {
        snprintf(msg, sizeof msg, "token refresh: %s", res->error ? res->error : "failed");
        o.error = msg;
    } else if (res->status != 200) {
        snprintf(msg, sizeof msg,
                 e->kind == KIND_OAUTH2
                     ? "the OAuth2 token endpoint refused the client credentials (HTTP %d)"
                     : "the personal access token was refused by the token refresh endpoint "
                       "(HTTP %d)",
                 res->status);
        o.error = msg;
    } else {
        root = json_loadb(res->body.data ? res->body.data : "", res->body.len, 0, NULL);
        bool oauth2 = e->kind == KIND_OAUTH2;
        json_t *access = root ? json_object_get(root, oauth2 ? "access_token" : "access") : NULL;
        const char *tok = json_string_value(access);
        const char *type = json_string_value(json_object_get(root, "token_type"));
        cg_buf auth = CG_BUF_INIT;
        if (tok && oauth2 && type && strcasecmp(type, "bearer")) {
            snprintf(msg, sizeof msg, "OAuth2 token endpoint: token_type '%.40s' is not Bearer",
                     type);
            o.error = msg;
            o.result = CG_UPSTREAM_BAD_RESPONSE;
        } else if (!tok || !*tok) {
            snprintf(msg, sizeof msg, "%s: the reply has no \"%s\" token",
                     oauth2 ? "OAuth2 token endpoint" : "token refresh",
                     oauth2 ? "access_token" : "access");
            o.error = msg;
            o.result = CG_UPSTREAM_BAD_RESPONSE;
        } else if (cg_buf_printf(&auth, "Bearer %s", tok) < 0) {
            snprintf(msg, sizeof msg, "token refresh: out of memory");
            o.error = msg;
            o.result = CG_UPSTREAM_INTERNAL;
        } else {
            free(e->authorization);
            e->authorization = cg_buf_steal(&auth);
            long long life;
            if (oauth2) {
                json_t *ei = json_object_get(root, "expires_in");
                long long in = json_is_integer(ei) ? (long long)json_integer_value(ei)
                               : json_is_real(ei)  ? (long long)json_real_value(ei)
                                                   : OAUTH2_DEFAULT_S;
                life = in > 2 * EARLY_S ? in - EARLY_S : in / 2;
            } else {
                long long exp = cg_token_jwt_exp(tok);
                long long now_s = (long long)time(NULL);
                life = exp > 0 ? exp - now_s - EARLY_S : DEFAULT_LIFETIME_S;
            }
            if (life < 1) life = 1;
            e->usable_until = cg_clock_mono_ms() + (uint64_t)life * 1000u;
            o.authorization = e->authorization;
            /* renew ahead of expiry so no request waits for it; short-lived tokens are
             * only renewed on demand (a timer would just spin) */
            if (tm->loop) cg_loop_timer_cancel(tm->loop, e->renew_timer);
            e->renew_timer = 0;
            if (tm->loop && life > 10)
                e->renew_timer = cg_loop_timer_add(tm->loop, (long)(life - 5) * 1000, on_renew_due,
                                                   e);
        }
        cg_buf_free(&auth);
    }
    notify(e, &o);
    json_decref(root);
}

/* Starts the exchange; false when out of memory (nobody is notified). */
static bool start_fetch(token_entry *e)
{
    cg_token *tm = e->tm;
    if (e->kind == KIND_OAUTH2) {
        const cg_upstream_header headers[] = {{"Content-Type", "application/x-www-form-urlencoded"},
                                              {"Accept", "application/json"},
                                              {"Authorization", e->client_auth}};
        cg_upstream_request req = {
            .method = "POST",
            .url = e->refresh_url,
            .headers = headers,
            .n_headers = 3,
            .body = e->form,
            .body_len = strlen(e->form),
            .timeout_ms = tm->timeout_ms,
            .idempotent = true, /* asking for another token is harmless */
        };
        e->fetch = cg_upstream_submit(tm->up, &req, on_fetched, e);
        return e->fetch != NULL;
    }
    json_t *body = json_pack("{s:s}", "refresh", e->key);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    static const cg_upstream_header headers[] = {{"Content-Type", "application/json"},
                                                 {"Accept", "application/json"}};
    cg_upstream_request req = {
        .method = "POST",
        .url = e->refresh_url,
        .headers = headers,
        .n_headers = 2,
        .body = text ? text : "",
        .body_len = text ? strlen(text) : 0,
        .timeout_ms = tm->timeout_ms,
        .idempotent = true, /* exchanging the same refresh token twice is harmless */
    };
    e->fetch = text ? cg_upstream_submit(tm->up, &req, on_fetched, e) : NULL;
    free(text);
    return e->fetch != NULL;
}

/* The entry's header while it is still usable; otherwise w waits for the fetch (started
 * here unless one is under way). */
static cg_token_status cached_or_wait(token_entry *e, cg_buf *out, cg_token_waiter *w)
{
    if (e->authorization && cg_clock_mono_ms() < e->usable_until)
        return cg_buf_append_str(out, e->authorization) < 0 ? CG_TOKEN_FAILED : CG_TOKEN_READY;
    if (!e->fetch && !start_fetch(e)) return CG_TOKEN_FAILED;
    w->_next = e->waiters;
    w->_entry = e;
    e->waiters = w;
    return CG_TOKEN_PENDING;
}

cg_token_status cg_token_authorization(cg_token *tm, const char *key, const char *refresh_url,
                                       cg_buf *out, cg_token_waiter *w)
{
    if (strchr(key, ' ')) /* already "Scheme value" */
        return cg_buf_append_str(out, key) < 0 ? CG_TOKEN_FAILED : CG_TOKEN_READY;
    if (!cg_jwt_shaped(key))
        return cg_buf_printf(out, "Token %s", key) < 0 ? CG_TOKEN_FAILED : CG_TOKEN_READY;
    token_entry *e = entry_find(tm, KIND_LABEL_STUDIO, key, refresh_url);
    if (!e) return CG_TOKEN_FAILED;
    return cached_or_wait(e, out, w);
}

void cg_token_cancel(cg_token *tm, cg_token_waiter *w)
{
    token_entry *e = w->_entry;
    if (!e) return;
    for (cg_token_waiter **p = &e->waiters; *p; p = &(*p)->_next)
        if (*p == w) {
            *p = w->_next;
            break;
        }
    w->_entry = NULL;
}

void cg_token_invalidate(cg_token *tm, const char *key, const char *authorization)
{
    for (token_entry *e = tm->entries; e; e = e->next)
        if ((!key || !strcmp(e->key, key)) && e->authorization && authorization &&
            !strcmp(e->authorization, authorization)) {
            free(e->authorization);
            e->authorization = NULL;
            e->usable_until = 0;
        }
}

/* ---- OAuth 2.0 client credentials (RFC 6749 §4.4) ------------------------------------ */

/* application/x-www-form-urlencoded value (RFC 6749 Appendix B). */
static int form_encode(cg_buf *out, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        int rc;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '*')
            rc = cg_buf_append(out, (const char *)&c, 1);
        else if (c == ' ') rc = cg_buf_append(out, "+", 1);
        else rc = cg_buf_printf(out, "%%%c%c", hex[c >> 4], hex[c & 15]);
        if (rc < 0) return -1;
    }
    return 0;
}

/* The Authorization value "Basic b64(form(id):form(secret))" (RFC 6749 §2.3.1). */
static char *client_auth_header(const char *id, const char *secret)
{
    cg_buf pair = CG_BUF_INIT, out = CG_BUF_INIT;
    char *res = NULL;
    if (form_encode(&pair, id) == 0 && cg_buf_append(&pair, ":", 1) == 0 &&
        form_encode(&pair, secret) == 0) {
        size_t n = 4 * ((pair.len + 2) / 3) + 1;
        unsigned char *b64 = malloc(n);
        if (b64) {
            EVP_EncodeBlock(b64, (const unsigned char *)pair.data, (int)pair.len);
            if (cg_buf_printf(&out, "Basic %s", b64) == 0) res = cg_buf_steal(&out);
            OPENSSL_cleanse(b64, n);
            free(b64);
        }
    }
    if (pair.data) OPENSSL_cleanse(pair.data, pair.len);
    cg_buf_free(&pair);
    cg_buf_free(&out);
    return res;
}

cg_token_status cg_token_client_credentials(cg_token *tm, const cg_token_oauth2 *rq, cg_buf *out,
                                            cg_token_waiter *w)
{
    cg_buf key = CG_BUF_INIT;
    cg_buf_printf(&key, "%s\n%s\n%s\n%s\n%s", rq->client_id, rq->client_secret,
                  rq->scope ? rq->scope : "", rq->resource ? rq->resource : "",
                  rq->audience ? rq->audience : "");
    token_entry *e = key.data ? entry_find(tm, KIND_OAUTH2, key.data, rq->token_url) : NULL;
    if (key.data) OPENSSL_cleanse(key.data, key.len);
    cg_buf_free(&key);
    if (!e) return CG_TOKEN_FAILED;
    if (!e->form) {
        cg_buf form = CG_BUF_INIT;
        int rc = cg_buf_append_str(&form, "grant_type=client_credentials");
        if (rc == 0 && rq->scope && *rq->scope)
            rc = cg_buf_append_str(&form, "&scope=") | form_encode(&form, rq->scope);
        if (rc == 0 && rq->resource && *rq->resource)
            rc = cg_buf_append_str(&form, "&resource=") | form_encode(&form, rq->resource);
        if (rc == 0 && rq->audience && *rq->audience)
            rc = cg_buf_append_str(&form, "&audience=") | form_encode(&form, rq->audience);
        e->client_auth = rc == 0 ? client_auth_header(rq->client_id, rq->client_secret) : NULL;
        e->form = rc == 0 && e->client_auth ? cg_buf_steal(&form) : NULL;
        cg_buf_free(&form);
        if (!e->form) return CG_TOKEN_FAILED;
    }
    return cached_or_wait(e, out, w);
}
