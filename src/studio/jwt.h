/*
 * jwt.h — HS256 JSON Web Tokens and random keys for studio's token auth (private).
 *
 * Label Studio's personal access tokens are djangorestframework-simplejwt refresh tokens;
 * the access tokens they are exchanged for are 5-minute JWTs. Both are HS256-signed with the
 * server's secret. This module signs and verifies them (HMAC-SHA256 from libcrypto; the
 * signature comparison is constant-time) and knows nothing of users or storage.
 */
#ifndef CG_STUDIO_JWT_H
#define CG_STUDIO_JWT_H

#include <jansson.h>
#include <stddef.h>

/* Base64url without padding. Returns a malloc'd string, or NULL when out of memory. */
char *cg_studio_b64url_encode(const unsigned char *data, size_t n);
/* Decodes base64url (padding optional) into a malloc'd buffer; NULL on bad input. */
unsigned char *cg_studio_b64url_decode(const char *s, size_t n, size_t *outlen);

/* Signs claims (an object) as header.payload.signature. malloc'd, NULL on failure. */
char *cg_studio_jwt_sign(json_t *claims, const char *secret);

/* Verifies signature and `exp` (seconds, against now). Returns the claims (caller decrefs)
 * or NULL with a reason in err. */
json_t *cg_studio_jwt_verify(const char *token, const char *secret, long long now,
                             char *err, size_t errlen);

/* Whether s looks like a JWT (three base64url parts, the first decoding to {"alg":...}). */
int cg_studio_jwt_looks_like(const char *s);

/* Fills out with 2*nbytes lowercase hex chars of getrandom() bytes plus NUL. 0 or -1. */
int cg_studio_random_hex(char *out, size_t nbytes);

#endif
