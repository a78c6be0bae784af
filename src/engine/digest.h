/*
 * digest.h — HTTP Digest access authentication, the client side (RFC 7616).
 *
 * A consumed API declared `type: digest` answers the first request with 401 and a
 * `WWW-Authenticate: Digest realm=..., nonce=..., qop="auth", algorithm=...` challenge.
 * cg_digest_parse reads that challenge; cg_digest_authorization computes the Authorization
 * value for one request (method, request-target) with a nonce count and client nonce.
 * The caller (call.c) keeps the last challenge per consumed API so later calls answer it
 * at once, counting nc up, and starts over when the server says the nonce is stale.
 *
 * Algorithms: MD5, MD5-sess, SHA-256, SHA-256-sess (hashes from libcrypto). qop "auth"
 * when offered, none when the server offers no qop (RFC 2069); a challenge that offers only
 * auth-int, or another algorithm, is refused (-1) rather than half-answered.
 * Pure functions, no state: safe from any thread.
 */
#ifndef CG_DIGEST_H
#define CG_DIGEST_H

#include <stdbool.h>

#include "common/buf.h"

#define CG_DIGEST_FIELD_MAX 512

typedef struct cg_digest_challenge {
    char realm[CG_DIGEST_FIELD_MAX];
    char nonce[CG_DIGEST_FIELD_MAX];
    char opaque[CG_DIGEST_FIELD_MAX]; /* "" when absent */
    char algorithm[32];               /* as named by the server; "MD5" when absent */
    bool sha256;                      /* SHA-256 (else MD5) */
    bool sess;                        /* the -sess variant */
    bool qop_auth;                    /* answer with qop=auth (else no qop) */
    bool stale;                       /* stale=true: same credentials, new nonce */
    bool userhash;                    /* userhash=true (hash the username) */
} cg_digest_challenge;

/* Reads the first Digest challenge in a WWW-Authenticate value (several challenges may be
 * joined by commas). 0, or -1 when there is none or it cannot be answered. */
int cg_digest_parse(const char *www_authenticate, cg_digest_challenge *c);

/* Appends the Authorization value ("Digest username=..., response=...") for one request.
 * uri is the request-target as sent (path and query); nc the nonce count (1 for the first
 * use of a nonce); cnonce a fresh client nonce (printable, no quotes). 0, or -1 when out of
 * memory or a value cannot be quoted safely. */
int cg_digest_authorization(const cg_digest_challenge *c, const char *username,
                            const char *password, const char *method, const char *uri, unsigned nc,
                            const char *cnonce, cg_buf *out);

/* Writes a fresh random client nonce (32 hex digits) into out[33]. 0, or -1 when the
 * random generator fails (then nothing may be sent). */
int cg_digest_cnonce(char out[33]);

#endif
