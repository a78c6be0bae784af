/*
 * jwt.c — HS256 JWTs and random keys. See jwt.h.
 *
 * Only HS256 is accepted: a token whose header names another algorithm (including "none")
 * is rejected before any signature work, so the algorithm can never be chosen by the
 * token's holder.
 */
#include "studio/jwt.h"

#include <errno.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

static const char b64url[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *cg_studio_b64url_encode(const unsigned char *data, size_t n)
{
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out)
        return NULL;
    size_t o = 0, i = 0;
    for (; i + 2 < n; i += 3) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8 | data[i + 2];
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
        out[o++] = b64url[v & 63];
    }
    if (n - i == 1) {
        unsigned v = (unsigned)data[i] << 16;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
    } else if (n - i == 2) {
        unsigned v = (unsigned)data[i] << 16 | (unsigned)data[i + 1] << 8;
        out[o++] = b64url[v >> 18 & 63];
        out[o++] = b64url[v >> 12 & 63];
        out[o++] = b64url[v >> 6 & 63];
    }
    out[o] = '\0';
    return out;
}

static int b64url_value(char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '-') return 62;
    if (c == '_') return 63;
    return -1;
}

unsigned char *cg_studio_b64url_decode(const char *s, size_t n, size_t *outlen)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return NULL;
    unsigned char *out = malloc(n / 4 * 3 + 3);
    if (!out)
        return NULL;
    size_t o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = b64url_value(s[i]);
        if (v < 0) {
            free(out);
            return NULL;
        }
        acc = acc << 6 | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits & 0xff);
        }
    }
    *outlen = o;
    return out;
}

static char *sign_part(const char *signing_input, size_t n, const char *secret)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)signing_input,
              n, mac, &maclen))
        return NULL;
    return cg_studio_b64url_encode(mac, maclen);
}

char *cg_studio_jwt_sign(json_t *claims, const char *secret)
{
    static const char header[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    char *payload = json_dumps(claims, JSON_COMPACT);
    char *h = cg_studio_b64url_encode((const unsigned char *)header, sizeof header - 1);
    char *p = payload ? cg_studio_b64url_encode((unsigned char *)payload, strlen(payload)) : NULL;
    char *input = NULL, *sig = NULL, *out = NULL;
    if (!h || !p || asprintf(&input, "%s.%s", h, p) < 0) {
        input = NULL;
        goto sign_out;
    }
    sig = sign_part(input, strlen(input), secret);
    if (sig && asprintf(&out, "%s.%s", input, sig) < 0)
        out = NULL;
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
    unsigned char *raw = cg_studio_b64url_decode(s, n, &len);
    if (!raw)
        return NULL;
    json_t *v = json_loadb((const char *)raw, len, 0, NULL);
    free(raw);
    return v;
}

json_t *cg_studio_jwt_verify(const char *token, const char *secret, long long now,
                             char *err, size_t errlen)
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

int cg_studio_jwt_looks_like(const char *s)
{
    const char *d1 = strchr(s, '.');
    if (!d1 || !strchr(d1 + 1, '.'))
        return 0;
    json_t *h = decode_part(s, (size_t)(d1 - s));
    int ok = json_is_string(json_object_get(h, "alg"));
    json_decref(h);
    return ok;
}

int cg_studio_random_hex(char *out, size_t nbytes)
{
    unsigned char raw[64];
    if (nbytes > sizeof raw)
        return -1;
    size_t got = 0;
    while (got < nbytes) {
        ssize_t r = getrandom(raw + got, nbytes - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        got += (size_t)r;
    }
    for (size_t i = 0; i < nbytes; i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
    return 0;
}
