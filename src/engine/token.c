/*
 * token.c — personal access token exchange and caching. See token.h.
 *
 * Each (key, refresh URL) pair gets an entry holding the current access token, when it
 * stops being usable, the one exchange in flight (if any) and the requests waiting for it.
 * Entries live as long as the manager; a process has one or two keys, so a list will do.
 */
#include "engine/token.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define EARLY_S 30              /* stop using an access token this long before exp */
#define DEFAULT_LIFETIME_S 240  /* when exp cannot be read (Label Studio issues 5 min) */

typedef struct token_entry {
    char *key;
    char *refresh_url;
    char *authorization;        /* "Bearer <access>", or NULL */
    uint64_t usable_until;      /* monotonic ms */
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

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static bool is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
           c == '-' || c == '_' || c == '=';
}

bool cg_token_is_jwt(const char *key)
{
    if (!key || strncmp(key, "eyJ", 3)) return false;
    int dots = 0;
    size_t part = 0;
    for (const char *p = key; *p; p++) {
        if (*p == '.') {
            if (part == 0) return false;
            dots++;
            part = 0;
        } else if (!is_b64url(*p)) {
            return false;
        } else {
            part++;
        }
    }
    return dots == 2 && part > 0;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-' || c == '+') return 62;
    if (c == '_' || c == '/') return 63;
    return -1;
}

long long cg_token_jwt_exp(const char *jwt)
{
    const char *p = jwt ? strchr(jwt, '.') : NULL;
    if (!p) return -1;
    p++;
    const char *end = strchr(p, '.');
    if (!end || end - p > 8192) return -1;
    cg_buf json = CG_BUF_INIT;
    unsigned acc = 0;
    int bits = 0;
    for (; p < end && *p != '='; p++) {
        int v = b64url_value(*p);
        if (v < 0) {
            cg_buf_free(&json);
            return -1;
        }
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            char c = (char)((acc >> bits) & 0xff);
            if (cg_buf_append(&json, &c, 1) < 0) {
                cg_buf_free(&json);
                return -1;
            }
        }
    }
    long long exp = -1;
    json_t *root = json_loadb(json.data ? json.data : "", json.len, 0, NULL);
    json_t *e = root ? json_object_get(root, "exp") : NULL;
    if (json_is_integer(e)) exp = (long long)json_integer_value(e);
    else if (json_is_real(e)) exp = (long long)json_real_value(e);
    json_decref(root);
    cg_buf_free(&json);
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

static token_entry *entry_find(cg_token *tm, const char *key, const char *refresh_url)
{
    for (token_entry *e = tm->entries; e; e = e->next)
        if (!strcmp(e->key, key) && !strcmp(e->refresh_url, refresh_url)) return e;
    token_entry *e = calloc(1, sizeof *e);
    if (!e) return NULL;
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
                 "the personal access token was refused by the token refresh endpoint "
                 "(HTTP %d)", res->status);
        o.error = msg;
    } else {
        root = json_loadb(res->body.data ? res->body.data : "", res->body.len, 0, NULL);
        json_t *access = root ? json_object_get(root, "access") : NULL;
        const char *tok = json_string_value(access);
        cg_buf auth = CG_BUF_INIT;
        if (!tok || !*tok) {
            snprintf(msg, sizeof msg, "token refresh: the reply has no \"access\" token");
            o.error = msg;
            o.result = CG_UPSTREAM_BAD_RESPONSE;
        } else if (cg_buf_printf(&auth, "Bearer %s", tok) < 0) {
            snprintf(msg, sizeof msg, "token refresh: out of memory");
            o.error = msg;
            o.result = CG_UPSTREAM_INTERNAL;
        } else {
            free(e->authorization);
            e->authorization = cg_buf_steal(&auth);
            long long exp = cg_token_jwt_exp(tok);
            long long now_s = (long long)time(NULL);
            long long life = exp > 0 ? exp - now_s - EARLY_S : DEFAULT_LIFETIME_S;
            if (life < 1) life = 1;
            e->usable_until = mono_ms() + (uint64_t)life * 1000u;
            o.authorization = e->authorization;
            /* renew ahead of expiry so no request waits for it; short-lived tokens are
             * only renewed on demand (a timer would just spin) */
            if (tm->loop) cg_loop_timer_cancel(tm->loop, e->renew_timer);
            e->renew_timer = 0;
            if (tm->loop && life > 10)
                e->renew_timer = cg_loop_timer_add(tm->loop, (long)(life - 5) * 1000, on_renew_due, e);
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
    json_t *body = json_pack("{s:s}", "refresh", e->key);
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    static const char *const headers[] = {"Content-Type: application/json",
                                          "Accept: application/json"};
    cg_upstream_request req = {
        .method = "POST",
        .url = e->refresh_url,
        .headers = headers,
        .n_headers = 2,
        .body = text ? text : "",
        .body_len = text ? strlen(text) : 0,
        .timeout_ms = tm->timeout_ms,
        .idempotent = true,     /* exchanging the same refresh token twice is harmless */
    };
    e->fetch = text ? cg_upstream_submit(tm->up, &req, on_fetched, e) : NULL;
    free(text);
    return e->fetch != NULL;
}

cg_token_status cg_token_authorization(cg_token *tm, const char *key, const char *refresh_url,
                                       cg_buf *out, cg_token_waiter *w)
{
    if (strchr(key, ' ')) /* already "Scheme value" */
        return cg_buf_append_str(out, key) < 0 ? CG_TOKEN_FAILED : CG_TOKEN_READY;
    if (!cg_token_is_jwt(key))
        return cg_buf_printf(out, "Token %s", key) < 0 ? CG_TOKEN_FAILED : CG_TOKEN_READY;
    token_entry *e = entry_find(tm, key, refresh_url);
    if (!e) return CG_TOKEN_FAILED;
    if (e->authorization && mono_ms() < e->usable_until)
        return cg_buf_append_str(out, e->authorization) < 0 ? CG_TOKEN_FAILED : CG_TOKEN_READY;
    if (!e->fetch && !start_fetch(e)) return CG_TOKEN_FAILED;
    w->_next = e->waiters;
    w->_entry = e;
    e->waiters = w;
    return CG_TOKEN_PENDING;
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
        if (!strcmp(e->key, key) && e->authorization && authorization &&
            !strcmp(e->authorization, authorization)) {
            free(e->authorization);
            e->authorization = NULL;
            e->usable_until = 0;
        }
}
