/*
 * inbound_auth.h — optional API tokens that callers of capgate's own adapters must present.
 *
 * capgate forwards calls to an upstream API with credentials of its own, so a gateway that
 * listens beyond loopback needs a way to say who may call it. When the operator configures
 * tokens (CAPGATE_API_TOKENS, a comma-separated list, and/or CAPGATE_API_TOKENS_FILE, one
 * token per line), every REST and MCP-over-HTTP request must present one of them, as
 * `Authorization: Bearer <token>` or `X-Capgate-Token: <token>`. With neither variable set
 * inbound auth is off and everybody is served, as before.
 *
 * Only SHA-256 digests of the tokens are kept. A presented token is hashed and compared
 * with CRYPTO_memcmp against every configured digest, without stopping at a match, so the
 * time taken says nothing about which token matched or how much of one did: hashing first
 * also hides the configured tokens' lengths. Nothing here logs; errors go into a caller's
 * buffer and never contain a token.
 *
 * An exposed adapter may also declare its own `authentication` in the spec
 * (cg_inbound_auth_declare): bearer (a token from binds, checked like the tokens above),
 * apikey (a header and value from binds), basic (username and password from binds), or
 * oauth2 as a resource server: `Authorization: Bearer <JWT>` verified against the
 * authorization server's JWKS (jwt.h) for issuer, audience, expiry and not-before. The JWKS
 * is read once at start-up, before any worker runs: from CAPGATE_OAUTH2_JWKS (a file path
 * or URL) when set, else from the jwks_uri of the server's RFC 8414 metadata
 * (authorizationServerUri + /.well-known/oauth-authorization-server, then
 * /.well-known/openid-configuration). For oauth2 the RFC 9728 protected-resource metadata
 * document is served (cg_inbound_auth_resource_metadata) and refusals carry
 * `WWW-Authenticate: Bearer resource_metadata="..."`. Tokens from CAPGATE_API_TOKENS keep
 * working beside a declared scheme: either lets a request in.
 *
 * A cg_inbound_auth is immutable once loaded, so every worker thread may share one.
 */
#ifndef CG_INBOUND_AUTH_H
#define CG_INBOUND_AUTH_H

#include <stdbool.h>
#include <stddef.h>

/* The environment variables, and the header that carries a token besides Authorization. */
#define CG_INBOUND_AUTH_ENV_TOKENS "CAPGATE_API_TOKENS"
#define CG_INBOUND_AUTH_ENV_FILE "CAPGATE_API_TOKENS_FILE"
#define CG_INBOUND_AUTH_HEADER "X-Capgate-Token"

#define CG_INBOUND_AUTH_MAX_TOKENS 1024    /* distinct tokens, list and file together */
#define CG_INBOUND_AUTH_MAX_TOKEN_LEN 4096 /* bytes per token (and per file line) */

typedef struct cg_inbound_auth cg_inbound_auth;

typedef enum {
    CG_INBOUND_AUTH_OK = 0,   /* loaded (or nothing configured: *out is NULL) */
    CG_INBOUND_AUTH_EIO,      /* the tokens file cannot be read */
    CG_INBOUND_AUTH_EEMPTY,   /* a variable is set but yields no token at all */
    CG_INBOUND_AUTH_EINVALID, /* a token has a forbidden byte, is too long, or too many */
    CG_INBOUND_AUTH_ENOMEM,
} cg_inbound_auth_result;

/* Loads tokens from list (comma-separated; spaces and tabs around each token and empty
 * items are ignored) and from the file at path file (one token per line; surrounding
 * whitespace, blank lines and lines whose first non-blank character is '#' are ignored).
 * Either may be NULL (not configured); both contribute when both are given. A token is
 * 1..4096 bytes of printable ASCII (0x21-0x7E); the list's tokens cannot contain ','.
 *
 * Returns CG_INBOUND_AUTH_OK with *out set, or with *out NULL when list and file are both
 * NULL (inbound auth off). Any other result leaves *out NULL and describes the problem in
 * err (variable name, file path, line number; never a token). A list or file that is
 * given but holds no token is CG_INBOUND_AUTH_EEMPTY: setting the variable to an empty
 * value (often a missing shell variable) must not silently turn auth off. */
cg_inbound_auth_result cg_inbound_auth_load(const char *list, const char *file,
                                            cg_inbound_auth **out, char *err, size_t errlen);

/* cg_inbound_auth_load with the values of CAPGATE_API_TOKENS and CAPGATE_API_TOKENS_FILE
 * (an unset variable is NULL; a set one, even empty, is given). */
cg_inbound_auth_result cg_inbound_auth_from_env(cg_inbound_auth **out, char *err, size_t errlen);

/* Frees it. NULL is fine. */
void cg_inbound_auth_free(cg_inbound_auth *a);

/* Distinct tokens configured (0 for NULL: auth off). */
size_t cg_inbound_auth_count(const cg_inbound_auth *a);

/* true when token (len bytes) is one of the configured tokens. The time taken depends
 * only on len and on how many tokens are configured. false for NULL. */
bool cg_inbound_auth_match(const cg_inbound_auth *a, const char *token, size_t len);

/* What a request presented. */
typedef enum {
    CG_INBOUND_AUTH_ALLOW = 0, /* auth is off, or a configured token was presented */
    CG_INBOUND_AUTH_MISSING,   /* auth is on and the request carries no token */
    CG_INBOUND_AUTH_INVALID,   /* a token was presented (possibly empty) and matches none */
} cg_inbound_auth_verdict;

/* Decides a request from its Authorization and X-Capgate-Token header values (either may
 * be NULL). X-Capgate-Token, when present, is the token, and Authorization is left alone.
 * Otherwise an Authorization of the Bearer scheme (case-insensitive, RFC 6750) is the
 * token; any other Authorization (e.g. "Token <Label Studio key>") presents nothing.
 *
 * *forward_authorization (may be NULL) says whether the caller's Authorization may still be
 * forwarded upstream: false when Authorization carried the inbound token (it is capgate's
 * credential, not the upstream's) or when a is on and the request is refused; true when
 * auth is off, or the token came in X-Capgate-Token. */
cg_inbound_auth_verdict cg_inbound_auth_check(const cg_inbound_auth *a, const char *authorization,
                                              const char *x_token, bool *forward_authorization);

/* The WWW-Authenticate value for a refusal: `Bearer realm="capgate"`, plus
 * `, error="invalid_token"` when a wrong token was presented. */
const char *cg_inbound_auth_challenge(cg_inbound_auth_verdict v);

/* One sentence for the refusal's body: what was wrong and how to send a token. */
const char *cg_inbound_auth_detail(cg_inbound_auth_verdict v);

/* ---- authentication declared on an exposed adapter ---------------------------------- */

#define CG_INBOUND_AUTH_ENV_JWKS "CAPGATE_OAUTH2_JWKS"

struct cg_auth;
struct cg_spec;

/* Adds the scheme an adapter declares (decl; CG_AUTH_NONE adds nothing) to *a, creating
 * it when NULL. Values come from the spec's binds now; a value that is unset, or an oauth2
 * JWKS that cannot be fetched or holds no key, is an error (the adapter must not start
 * open or locked). Blocks on the JWKS fetch: call before the workers start. */
cg_inbound_auth_result cg_inbound_auth_declare(cg_inbound_auth **a, const struct cg_spec *spec,
                                               const struct cg_auth *decl, char *err,
                                               size_t errlen);

/* The declared scheme's name ("apikey", "basic", "oauth2"), or NULL (a declared bearer
 * token counts among the tokens). */
const char *cg_inbound_auth_scheme(const cg_inbound_auth *a);

/* Reads a request header by name (case-insensitive); NULL when absent. */
typedef const char *(*cg_inbound_header_fn)(void *ctx, const char *name);

/* Decides a request with everything configured: the tokens (as cg_inbound_auth_check)
 * and the declared scheme. *detail (may be NULL) gets the refusal's sentence.
 * *forward_authorization as for cg_inbound_auth_check: false when Authorization carried
 * the inbound credential. */
cg_inbound_auth_verdict cg_inbound_auth_verify(const cg_inbound_auth *a,
                                               cg_inbound_header_fn header, void *ctx,
                                               bool *forward_authorization, const char **detail);

/* The WWW-Authenticate value for a refusal by a (with resource_metadata for oauth2). */
const char *cg_inbound_auth_www_authenticate(const cg_inbound_auth *a, cg_inbound_auth_verdict v);

/* The RFC 9728 protected-resource metadata document when a declares oauth2 and path is
 * /.well-known/oauth-protected-resource (optionally followed by the resource's path);
 * NULL otherwise. The JSON is owned by a. */
const char *cg_inbound_auth_resource_metadata(const cg_inbound_auth *a, const char *path);

#endif
