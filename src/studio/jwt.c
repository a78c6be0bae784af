/*
 * jwt.c — HS256 JWTs and random keys. See jwt.h.
 *
 * Only HS256 is accepted: a token whose header names another algorithm (including "none")
 * is rejected before any signature work, so the algorithm can never be chosen by the
 * token's holder.
 */
#include "studio/jwt.h"

#include "common/base64.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static char *sign_part(const char *signing_input, size_t n, const char *secret)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signing_input, n,
              mac, &maclen))
        return NULL;
    return cg_base64_encode(mac, maclen, CG_B64_URL);
}

char *cg_studio_jwt_sign(json_t *claims, const char *secret)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *payload = json_dumps(claims, JSON_COMPACT);
    char *h = cg_base64_encode(header, sizeof header - 1, CG_B64_URL);
    char *p = payload ? cg_base64_encode(payload, strlen(payload), CG_B64_URL) : NULL;
    char *input = NULL, *sig = NULL, *out = NULL;
    if (!h || !p || asprintf(&input, "%s.%s", h, p) < 0) {
        input = NULL;
        goto sign_out;
    }
    sig = sign_part(input, strlen(input), secret);
    if (sig && asprintf(&out, "%s.%s", input, sig) < 0) out = NULL;
sign_out:
    free(payload);
    free(h);
    free(p);
    free(input);
    free(sig);
    return out;
}

static json_t *decode_part(const char *s, size_t n)
{
    size_t len;
    unsigned char *raw = cg_base64_decode(s, n, CG_B64_URL, &len);
    if (!raw) return NULL;
    json_t *v = json_loadb((const char *)raw, len, 0, NULL);
    free(raw);
    return v;
}

json_t *cg_studio_jwt_verify(const char *token, const char *secret, long long now, char *err,
                             size_t errlen)
{
    const char *d1 = strchr(token, '.');
    const char *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
    if (!d1 || !d2 || strchr(d2 + 1, '.') || strlen(token) > 8192) {
        snprintf(err, errlen, "Token is invalid or expired");
        return NULL;
    }
    json_t *header = decode_part(token, (size_t)(d1 - token));
    const char *alg = json_string_value(json_object_get(header, "alg"));
    int hs256 = alg && !strcmp(alg, "HS256");
    json_decref(header);
    if (!hs256) {
        snprintf(err, errlen, "Token is invalid or expired");
        return NULL;
    }
    char *sig = sign_part(token, (size_t)(d2 - token), secret);
    size_t given = strlen(d2 + 1);
    int good = sig && strlen(sig) == given && CRYPTO_memcmp(sig, d2 + 1, given) == 0;
    free(sig);
    if (!good) {
        snprintf(err, errlen, "Token is invalid or expired");
        return NULL;
    }
    json_t *claims = decode_part(d1 + 1, (size_t)(d2 - d1 - 1));
    json_t *exp = json_object_get(claims, "exp");
    if (!json_is_object(claims) || !json_is_integer(exp) || json_integer_value(exp) <= now) {
        snprintf(err, errlen, "Token is invalid or expired");
        json_decref(claims);
        return NULL;
    }
    return claims;
}

int cg_studio_random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw) return -1;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(raw + got, nbytes - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return -1;
        got += (size_t)r;
    }
    for (size_t i = 0; i < nbytes; i++) snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}
