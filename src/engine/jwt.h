/*
 * jwt.h — verifying JWT access tokens (RFC 7519) against a JWKS (RFC 7517).
 *
 * An exposed adapter declared `authentication: {type: oauth2}` is a resource server: each
 * request's `Authorization: Bearer <jwt>` must be a JWS signed by one of the authorization
 * server's keys, issued by it, for this resource, and current. cg_jwks_parse turns a JWKS
 * document into keys once (at start-up); cg_jwt_verify checks one token.
 *
 * Algorithms: RS256 (kty RSA), ES256 (kty EC, crv P-256) and HS256 (kty oct). The token's
 * `alg` must be one of those and match its key's type (and the key's own `alg`, when it
 * names one): "none" and algorithm confusion (an RSA public key used as an HMAC secret) are
 * refused. A token with a `kid` is checked only against the key with that kid.
 * Signatures and hashes come from libcrypto (OpenSSL 3). A cg_jwks is immutable: every
 * worker thread may share one.
 */
#ifndef CG_JWT_H
#define CG_JWT_H

#include <stddef.h>

typedef struct cg_jwks cg_jwks;

/* Keys from a JWKS document ({"keys": [...]}; a single JWK object is accepted too). Keys of
 * other types or curves are skipped. NULL with a message in err when the document is not
 * JSON, or holds no usable key. */
cg_jwks *cg_jwks_parse(const char *json, size_t len, char *err, size_t errlen);
void cg_jwks_free(cg_jwks *k);
size_t cg_jwks_count(const cg_jwks *k);

typedef enum {
    CG_JWT_OK = 0,
    CG_JWT_MALFORMED,   /* not three base64url parts of JSON */
    CG_JWT_ALGORITHM,   /* alg none, unknown, or not the key's */
    CG_JWT_UNKNOWN_KEY, /* no key with that kid / of that type */
    CG_JWT_BAD_SIGNATURE,
    CG_JWT_EXPIRED,       /* exp missing or past */
    CG_JWT_NOT_YET_VALID, /* nbf or iat in the future */
    CG_JWT_WRONG_ISSUER,
    CG_JWT_WRONG_AUDIENCE,
} cg_jwt_result;

/* What the claims must say. issuer/audience NULL: not checked. */
typedef struct cg_jwt_expect {
    const char *issuer;   /* iss must equal it */
    const char *audience; /* aud (string, or array containing it) must equal it */
    long long now;        /* seconds since the epoch */
    long leeway_s;        /* clock skew allowed on exp/nbf/iat */
} cg_jwt_expect;

/* Checks token (len bytes): signature, then exp (required), nbf, iat, iss, aud. */
cg_jwt_result cg_jwt_verify(const cg_jwks *keys, const char *token, size_t len,
                            const cg_jwt_expect *x);

/* A short phrase for a result ("the token has expired"), never containing the token. */
const char *cg_jwt_result_text(cg_jwt_result r);

#endif
