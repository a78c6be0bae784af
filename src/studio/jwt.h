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

/* Signs claims (an object) as header.payload.signature. malloc'd, NULL on failure. */
char *cg_studio_jwt_sign(json_t *claims, const char *secret);

/* Verifies signature and `exp` (seconds, against now). Returns the claims (caller decrefs)
 * or NULL with a reason in err. */
json_t *cg_studio_jwt_verify(const char *token, const char *secret, long long now, char *err,
                             size_t errlen);

/* Fills out with 2*nbytes lowercase hex chars of getrandom() bytes plus NUL. 0 or -1. */
int cg_studio_random_hex(char *out, size_t nbytes);

#endif
