/*
 * token.h — access tokens fetched from an endpoint, cached per loop: Label Studio's
 * personal access token exchange (used by the Label Studio profile only, see
 * profile_label_studio.h) and OAuth 2.0 client credentials (a consumed API declared
 * `type: oauth2`).
 *
 * OAuth2: cg_token_client_credentials POSTs grant_type=client_credentials (with scope,
 * resource and audience when given) to the token endpoint, the client authenticated with
 * HTTP Basic (RFC 6749 §2.3.1), and caches the `access_token` until 30 s before
 * `expires_in` runs out; cg_token_invalidate drops it when the API answers 401.
 *
 * Label Studio: a configured key becomes an Authorization value:
 *   - a value that already names a scheme ("Token x", "Bearer x", "Basic x") is used as is;
 *   - a JWT (three base64url parts, the header starting "eyJ") is a personal access token:
 *     a refresh token that is exchanged at the refresh endpoint (POST {"refresh": key} →
 *     {"access": jwt}) for a short-lived access token sent as "Bearer <access>";
 *   - anything else is a legacy key, sent as "Token <key>".
 * Access tokens are cached per loop until 30 s before their `exp`, renewed from a timer
 * shortly before that, and dropped by cg_token_invalidate when the upstream answers 401.
 * The exchange is an ordinary upstream call on the loop; requests that need a token while
 * one is being fetched wait on that one fetch (a waiter list), never on a sleep.
 *
 * One cg_token per loop (no locking); each worker fetches its own access token.
 */
#ifndef CG_TOKEN_H
#define CG_TOKEN_H

#include <stdbool.h>

#include "common/buf.h"
#include "net/upstream.h"

typedef struct cg_token cg_token;

typedef enum {
    CG_TOKEN_READY,   /* the Authorization value is in *out */
    CG_TOKEN_PENDING, /* the waiter's callback will run once the exchange ends */
    CG_TOKEN_FAILED,  /* out of memory */
} cg_token_status;

/* How an exchange ended, for the waiter. */
typedef struct cg_token_outcome {
    const char *authorization; /* "Bearer ..." on success, else NULL */
    cg_upstream_result result; /* transport outcome of the exchange */
    int status;                /* HTTP status of the exchange (0 when none) */
    const char *error;         /* why it failed, no secrets */
} cg_token_outcome;

typedef struct cg_token_waiter {
    void (*cb)(void *arg, const cg_token_outcome *outcome);
    void *arg;
    struct cg_token_waiter *_next; /* private */
    void *_entry;                  /* private */
} cg_token_waiter;

/* A manager on loop that exchanges tokens through up (timeout per exchange in ms).
 * NULL when out of memory. */
cg_token *cg_token_create(cg_loop *loop, cg_upstream *up, long timeout_ms);
void cg_token_free(cg_token *tm);

/* The Authorization value for key. refresh_url is the absolute URL of the exchange
 * endpoint (used only for personal access tokens). On CG_TOKEN_PENDING, w (owned by the
 * caller, cb and arg set) is called later exactly once unless cancelled. */
cg_token_status cg_token_authorization(cg_token *tm, const char *key, const char *refresh_url,
                                       cg_buf *out, cg_token_waiter *w);

/* An OAuth2 client-credentials grant. Strings are copied as needed. */
typedef struct cg_token_oauth2 {
    const char *token_url; /* absolute */
    const char *client_id;
    const char *client_secret;
    const char *scope;    /* space-separated, or NULL */
    const char *resource; /* RFC 8707, or NULL */
    const char *audience; /* or NULL */
} cg_token_oauth2;

/* "Bearer <access_token>" for the grant into out, like cg_token_authorization. */
cg_token_status cg_token_client_credentials(cg_token *tm, const cg_token_oauth2 *grant, cg_buf *out,
                                            cg_token_waiter *w);

/* Removes a waiter whose callback has not run. */
void cg_token_cancel(cg_token *tm, cg_token_waiter *w);

/* Forgets the cached access token for key (NULL: any key) if it is still `authorization`
 * (the one the upstream just refused), so the next request fetches a new one. */
void cg_token_invalidate(cg_token *tm, const char *key, const char *authorization);

/* Seconds since the epoch in a JWT's "exp" claim, or -1 when absent or unreadable. */
long long cg_token_jwt_exp(const char *jwt);

#endif
