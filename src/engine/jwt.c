/*
 * jwt.c — JWKS keys and JWS/JWT verification on libcrypto. See jwt.h.
 *
 * Keys become EVP_PKEYs once, built from their JWK parameters with OSSL_PARAM_BLD (RSA n/e,
 * EC P-256 x/y); oct keys keep their secret bytes for HMAC. A token is checked in the order
 * that gives an attacker the least: shape and algorithm, key, signature over
 * "header.payload", and only then its claims.
 */
#include "engine/jwt.h"

#include "common/base64.h"

#include <jansson.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TOKEN 16384
#define MAX_KEYS 64

typedef enum { K_RSA, K_EC, K_OCT } key_type;

typedef struct jwk {
    key_type type;
    char *kid;             /* NULL when absent */
    char *alg;             /* the key's own alg, or NULL */
    EVP_PKEY *pkey;        /* RSA, EC */
    unsigned char *secret; /* oct */
    size_t secret_len;
} jwk;

struct cg_jwks {
    jwk keys[MAX_KEYS];
    size_t n;
};

/* base64url (padding optional) → bytes; NULL on a bad character. *n gets the length. */
static unsigned char *b64url_decode(const char *s, size_t len, size_t *n)
{
    return cg_base64_decode(s, len, CG_B64_URL, n);
}

static unsigned char *member_bytes(json_t *o, const char *name, size_t *n)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? b64url_decode(s, strlen(s), n) : NULL;
}

static EVP_PKEY *pkey_from(const char *type, OSSL_PARAM_BLD *bld)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (params && ctx && EVP_PKEY_fromdata_init(ctx) > 0)
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(json_t *o)
{
    size_t nn = 0, en = 0;
    unsigned char *n = member_bytes(o, "n", &nn), *e = member_bytes(o, "e", &en);
    EVP_PKEY *pkey = NULL;
    BIGNUM *bn = n ? BN_bin2bn(n, (int)nn, NULL) : NULL,
           *be = e ? BN_bin2bn(e, (int)en, NULL) : NULL;
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (bn && be && bld && nn >= 256 && /* at least 2048-bit moduli */
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) &&
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be))
        pkey = pkey_from("RSA", bld);
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    free(n);
    free(e);
    return pkey;
}

static EVP_PKEY *ec_key(json_t *o)
{
    const char *crv = json_string_value(json_object_get(o, "crv"));
    if (!crv || strcmp(crv, "P-256")) return NULL;
    size_t xn = 0, yn = 0;
    unsigned char *x = member_bytes(o, "x", &xn), *y = member_bytes(o, "y", &yn);
    EVP_PKEY *pkey = NULL;
    unsigned char point[65];
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new();
    if (x && y && xn == 32 && yn == 32 && bld) {
        point[0] = 0x04; /* uncompressed: x || y */
        memcpy(point + 1, x, 32);
        memcpy(point + 33, y, 32);
        if (OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) &&
            OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point))
            pkey = pkey_from("EC", bld);
    }
    OSSL_PARAM_BLD_free(bld);
    free(x);
    free(y);
    return pkey;
}

static char *dup_member(json_t *o, const char *name)
{
    const char *s = json_string_value(json_object_get(o, name));
    return s ? strdup(s) : NULL;
}

/* Adds the JWK o when usable; keys with `use` other than "sig" are skipped. */
static void add_key(cg_jwks *k, json_t *o)
{
    const char *kty = json_string_value(json_object_get(o, "kty"));
    const char *use = json_string_value(json_object_get(o, "use"));
    if (!kty || k->n == MAX_KEYS || (use && strcmp(use, "sig"))) return;
    jwk *key = &k->keys[k->n];
    memset(key, 0, sizeof *key);
    if (!strcmp(kty, "RSA")) {
        key->type = K_RSA;
        key->pkey = rsa_key(o);
        if (!key->pkey) return;
    } else if (!strcmp(kty, "EC")) {
        key->type = K_EC;
        key->pkey = ec_key(o);
        if (!key->pkey) return;
    } else if (!strcmp(kty, "oct")) {
        key->type = K_OCT;
        key->secret = member_bytes(o, "k", &key->secret_len);
        if (!key->secret || key->secret_len < 32) { /* RFC 7518 §3.2: >= 256 bits */
            free(key->secret);
            return;
        }
    } else {
        return;
    }
    key->kid = dup_member(o, "kid");
    key->alg = dup_member(o, "alg");
    k->n++;
}

cg_jwks *cg_jwks_parse(const char *text, size_t len, char *err, size_t errlen)
{
    json_error_t jerr;
    json_t *root = json_loadb(text, len, 0, &jerr);
    if (!json_is_object(root)) {
        snprintf(err, errlen, "the JWKS is not a JSON object%s%s", root ? "" : ": ",
                 root ? "" : jerr.text);
        json_decref(root);
        return NULL;
    }
    cg_jwks *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, errlen, "out of memory");
        json_decref(root);
        return NULL;
    }
    json_t *keys = json_object_get(root, "keys");
    if (json_is_array(keys)) {
        size_t i;
        json_t *o;
        json_array_foreach(keys, i, o) if (json_is_object(o)) add_key(k, o);
    } else {
        add_key(k, root);
    }
    json_decref(root);
    if (!k->n) {
        snprintf(err, errlen,
                 "the JWKS holds no usable key (RSA >= 2048 bits, EC P-256, or oct "
                 ">= 256 bits, with use \"sig\" or no use)");
        cg_jwks_free(k);
        return NULL;
    }
    return k;
}

void cg_jwks_free(cg_jwks *k)
{
    if (!k) return;
    for (size_t i = 0; i < k->n; i++) {
        EVP_PKEY_free(k->keys[i].pkey);
        OPENSSL_clear_free(k->keys[i].secret, k->keys[i].secret_len);
        free(k->keys[i].kid);
        free(k->keys[i].alg);
    }
    free(k);
}

size_t cg_jwks_count(const cg_jwks *k)
{
    return k ? k->n : 0;
}

/* ---- verification -------------------------------------------------------------- */

static bool verify_with(const jwk *key, const char *alg, const unsigned char *msg, size_t mlen,
                        const unsigned char *sig, size_t slen)
{
    if (key->type == K_OCT) {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int maclen = 0;
        if (!HMAC(EVP_sha256(), key->secret, (int)key->secret_len, msg, mlen, mac, &maclen))
            return false;
        return maclen == slen && CRYPTO_memcmp(mac, sig, slen) == 0;
    }
    unsigned char *der = NULL;
    size_t derlen = slen;
    const unsigned char *s = sig;
    if (key->type == K_EC) { /* JWS carries r || s; libcrypto wants DER */
        if (slen != 64) return false;
        ECDSA_SIG *es = ECDSA_SIG_new();
        BIGNUM *r = BN_bin2bn(sig, 32, NULL), *ss = BN_bin2bn(sig + 32, 32, NULL);
        int dl = -1;
        if (es && r && ss && ECDSA_SIG_set0(es, r, ss)) {
            r = ss = NULL;
            dl = i2d_ECDSA_SIG(es, &der);
        }
        BN_free(r);
        BN_free(ss);
        ECDSA_SIG_free(es);
        if (dl <= 0) return false;
        derlen = (size_t)dl;
        s = der;
    }
    (void)alg;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    bool ok = ctx && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
              EVP_DigestVerify(ctx, s, derlen, msg, mlen) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}

static json_t *decode_json(const char *s, size_t n)
{
    size_t len = 0;
    unsigned char *b = b64url_decode(s, n, &len);
    json_t *j = b ? json_loadb((const char *)b, len, 0, NULL) : NULL;
    free(b);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

static bool number_claim(json_t *claims, const char *name, long long *v)
{
    json_t *c = json_object_get(claims, name);
    if (json_is_integer(c)) *v = (long long)json_integer_value(c);
    else if (json_is_real(c)) *v = (long long)json_real_value(c);
    else return false;
    return true;
}

static cg_jwt_result check_claims(json_t *claims, const cg_jwt_expect *x)
{
    long long exp, nbf, iat;
    if (!number_claim(claims, "exp", &exp) || x->now >= exp + x->leeway_s) return CG_JWT_EXPIRED;
    if (number_claim(claims, "nbf", &nbf) && x->now + x->leeway_s < nbf)
        return CG_JWT_NOT_YET_VALID;
    if (number_claim(claims, "iat", &iat) && x->now + x->leeway_s < iat)
        return CG_JWT_NOT_YET_VALID;
    if (x->issuer) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (!iss || strcmp(iss, x->issuer)) return CG_JWT_WRONG_ISSUER;
    }
    if (x->audience) {
        json_t *aud = json_object_get(claims, "aud");
        bool found = json_is_string(aud) && !strcmp(json_string_value(aud), x->audience);
        size_t i;
        json_t *a;
        if (json_is_array(aud))
            json_array_foreach(aud, i, a) if (json_is_string(a) &&
                                              !strcmp(json_string_value(a), x->audience))
                found = true;
        if (!found) return CG_JWT_WRONG_AUDIENCE;
    }
    return CG_JWT_OK;
}

cg_jwt_result cg_jwt_verify(const cg_jwks *keys, const char *token, size_t len,
                            const cg_jwt_expect *x)
{
    if (!keys || !token || len == 0 || len > MAX_TOKEN) return CG_JWT_MALFORMED;
    const char *d1 = memchr(token, '.', len);
    const char *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token))) return CG_JWT_MALFORMED;
    json_t *header = decode_json(token, (size_t)(d1 - token));
    json_t *claims = decode_json(d1 + 1, (size_t)(d2 - d1 - 1));
    size_t slen = 0;
    unsigned char *sig = b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), &slen);
    cg_jwt_result r = CG_JWT_MALFORMED;
    if (!header || !claims || !sig || !slen) goto jwt_verify_out;
    const char *alg = json_string_value(json_object_get(header, "alg"));
    const char *kid = json_string_value(json_object_get(header, "kid"));
    key_type want;
    r = CG_JWT_ALGORITHM;
    if (!alg) goto jwt_verify_out;
    if (!strcmp(alg, "RS256")) want = K_RSA;
    else if (!strcmp(alg, "ES256")) want = K_EC;
    else if (!strcmp(alg, "HS256")) want = K_OCT;
    else goto jwt_verify_out;
    r = CG_JWT_UNKNOWN_KEY;
    bool tried = false;
    for (size_t i = 0; i < keys->n; i++) {
        const jwk *k = &keys->keys[i];
        if (kid && (!k->kid || strcmp(k->kid, kid))) continue;
        if (k->type != want || (k->alg && strcmp(k->alg, alg))) {
            if (kid) r = CG_JWT_ALGORITHM; /* the named key is of another kind */
            continue;
        }
        tried = true;
        if (verify_with(k, alg, (const unsigned char *)token, (size_t)(d2 - token), sig, slen)) {
            r = check_claims(claims, x);
            goto jwt_verify_out;
        }
    }
    if (tried) r = CG_JWT_BAD_SIGNATURE;

jwt_verify_out:
    json_decref(header);
    json_decref(claims);
    free(sig);
    return r;
}

const char *cg_jwt_result_text(cg_jwt_result r)
{
    switch (r) {
    case CG_JWT_OK: return "valid";
    case CG_JWT_MALFORMED: return "the access token is not a well-formed JWT";
    case CG_JWT_ALGORITHM: return "the access token's signing algorithm is not accepted";
    case CG_JWT_UNKNOWN_KEY: return "the access token is signed with an unknown key";
    case CG_JWT_BAD_SIGNATURE: return "the access token's signature does not verify";
    case CG_JWT_EXPIRED: return "the access token has expired (or has no exp)";
    case CG_JWT_NOT_YET_VALID: return "the access token is not valid yet";
    case CG_JWT_WRONG_ISSUER: return "the access token was issued by another authorization server";
    case CG_JWT_WRONG_AUDIENCE: return "the access token is for another audience";
    }
    return "invalid access token";
}
