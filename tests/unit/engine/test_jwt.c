/* Unit tests for src/engine/jwt.c: JWKS keys and JWT checks (RS256, ES256, HS256 signed
 * here with fresh keys; expiry, not-before, issuer, audience, tampering, alg none and
 * algorithm confusion). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rsa.h>

#include "engine/jwt.h"

static void b64url(const unsigned char *in, size_t n, char *out)
{
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    int j = 0;
    for (int i = 0; i < len; i++) {
        if (out[i] == '=') break;
        out[j++] = out[i] == '+' ? '-' : out[i] == '/' ? '_' : out[i];
    }
    out[j] = '\0';
}

static void b64url_str(const char *s, char *out)
{
    b64url((const unsigned char *)s, strlen(s), out);
}

static char *bn_b64(EVP_PKEY *k, const char *param, size_t pad)
{
    BIGNUM *bn = NULL;
    assert_int_equal(EVP_PKEY_get_bn_param(k, param, &bn), 1);
    unsigned char buf[600];
    int n = pad ? BN_bn2binpad(bn, buf, (int)pad) : BN_bn2bin(bn, buf);
    BN_free(bn);
    char *out = malloc(900);
    b64url(buf, (size_t)n, out);
    return out;
}

typedef struct keys {
    EVP_PKEY *rsa, *ec;
    unsigned char secret[32];
    cg_jwks *jwks;
} keys;

static keys K;

static int setup_keys(void **state)
{
    K.rsa = EVP_RSA_gen(2048);
    K.ec = EVP_EC_gen("P-256");
    assert_non_null(K.rsa);
    assert_non_null(K.ec);
    memset(K.secret, 0x42, sizeof K.secret);
    char *n = bn_b64(K.rsa, OSSL_PKEY_PARAM_RSA_N, 0), *e = bn_b64(K.rsa, OSSL_PKEY_PARAM_RSA_E, 0);
    char *x = bn_b64(K.ec, OSSL_PKEY_PARAM_EC_PUB_X, 32),
         *y = bn_b64(K.ec, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    char k[64];
    b64url(K.secret, sizeof K.secret, k);
    char doc[4096];
    snprintf(
        doc, sizeof doc,
        "{\"keys\":[{\"kty\":\"RSA\",\"kid\":\"r1\",\"n\":\"%s\",\"e\":\"%s\",\"alg\":\"RS256\"},"
        "{\"kty\":\"EC\",\"kid\":\"e1\",\"crv\":\"P-256\",\"x\":\"%s\",\"y\":\"%s\"},"
        "{\"kty\":\"oct\",\"kid\":\"h1\",\"k\":\"%s\"},"
        "{\"kty\":\"RSA\",\"kid\":\"enc\",\"use\":\"enc\",\"n\":\"%s\",\"e\":\"%s\"}]}",
        n, e, x, y, k, n, e);
    free(n);
    free(e);
    free(x);
    free(y);
    char err[200];
    K.jwks = cg_jwks_parse(doc, strlen(doc), err, sizeof err);
    assert_non_null(K.jwks);
    assert_int_equal(cg_jwks_count(K.jwks), 3); /* the "enc" key is skipped */
    return 0;
}

static int teardown_keys(void **state)
{
    cg_jwks_free(K.jwks);
    EVP_PKEY_free(K.rsa);
    EVP_PKEY_free(K.ec);
    return 0;
}

/* A JWT with header {"alg":alg,"kid":kid} and claims, signed for alg. */
static char *make_jwt(const char *alg, const char *kid, const char *claims)
{
    char head[128], h64[256], c64[1024], input[1400];
    snprintf(head, sizeof head, "{\"alg\":\"%s\",\"kid\":\"%s\",\"typ\":\"JWT\"}", alg, kid);
    b64url_str(head, h64);
    b64url_str(claims, c64);
    snprintf(input, sizeof input, "%s.%s", h64, c64);
    unsigned char sig[512];
    size_t slen = sizeof sig;
    if (!strcmp(alg, "HS256")) {
        unsigned int l = 0;
        HMAC(EVP_sha256(), K.secret, sizeof K.secret, (unsigned char *)input, strlen(input), sig,
             &l);
        slen = l;
    } else if (!strcmp(alg, "none")) {
        slen = 0;
    } else {
        EVP_PKEY *k = !strcmp(alg, "RS256") ? K.rsa : K.ec;
        EVP_MD_CTX *ctx = EVP_MD_CTX_new();
        unsigned char der[512];
        size_t dlen = sizeof der;
        assert_int_equal(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, k), 1);
        assert_int_equal(EVP_DigestSign(ctx, der, &dlen, (unsigned char *)input, strlen(input)), 1);
        EVP_MD_CTX_free(ctx);
        if (k == K.rsa) {
            memcpy(sig, der, dlen);
            slen = dlen;
        } else { /* DER -> r || s */
            const unsigned char *p = der;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dlen);
            BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
            ECDSA_SIG_free(es);
            slen = 64;
        }
    }
    char s64[800];
    b64url(sig, slen, s64);
    char *out = malloc(strlen(input) + strlen(s64) + 2);
    sprintf(out, "%s.%s", input, s64);
    return out;
}

static const cg_jwt_expect X = {.issuer = "https://as.example",
                                .audience = "https://api.example",
                                .now = 2000000000LL,
                                .leeway_s = 30};
#define GOOD_CLAIMS                                                                                \
    "{\"iss\":\"https://as.example\",\"aud\":\"https://"                                           \
    "api.example\",\"exp\":2000000600,\"iat\":1999999990}"

static cg_jwt_result verify(const char *jwt)
{
    return cg_jwt_verify(K.jwks, jwt, strlen(jwt), &X);
}

static void jwt_each_algorithm_verifies(void **state)
{
    const char *algs[][2] = {{"RS256", "r1"}, {"ES256", "e1"}, {"HS256", "h1"}};
    for (int i = 0; i < 3; i++) {
        char *t = make_jwt(algs[i][0], algs[i][1], GOOD_CLAIMS);
        assert_int_equal(verify(t), CG_JWT_OK);
        free(t);
    }
    /* an audience array containing ours */
    char *t = make_jwt("RS256", "r1",
                       "{\"iss\":\"https://as.example\",\"aud\":[\"x\",\"https://"
                       "api.example\"],\"exp\":2000000600}");
    assert_int_equal(verify(t), CG_JWT_OK);
    free(t);
}

static void jwt_claims_are_checked(void **state)
{
    struct {
        const char *claims;
        cg_jwt_result want;
    } cases[] = {
        {"{\"iss\":\"https://as.example\",\"aud\":\"https://api.example\",\"exp\":1999999900}",
         CG_JWT_EXPIRED},
        {"{\"iss\":\"https://as.example\",\"aud\":\"https://api.example\"}",
         CG_JWT_EXPIRED}, /* no exp */
        {"{\"iss\":\"https://as.example\",\"aud\":\"https://"
         "api.example\",\"exp\":2000000600,\"nbf\":2000000100}",
         CG_JWT_NOT_YET_VALID},
        {"{\"iss\":\"https://evil.example\",\"aud\":\"https://api.example\",\"exp\":2000000600}",
         CG_JWT_WRONG_ISSUER},
        {"{\"iss\":\"https://as.example\",\"aud\":\"https://other.example\",\"exp\":2000000600}",
         CG_JWT_WRONG_AUDIENCE},
        {"{\"iss\":\"https://as.example\",\"exp\":2000000600}", CG_JWT_WRONG_AUDIENCE},
        /* within the leeway */
        {"{\"iss\":\"https://as.example\",\"aud\":\"https://api.example\",\"exp\":1999999990}",
         CG_JWT_OK},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *t = make_jwt("ES256", "e1", cases[i].claims);
        assert_int_equal(verify(t), cases[i].want);
        free(t);
    }
}

static void jwt_tampering_and_confusion_are_refused(void **state)
{
    char *t = make_jwt("RS256", "r1", GOOD_CLAIMS);
    /* change one character of the signature, then one of the payload */
    char *sig = strrchr(t, '.') + 10;
    *sig = *sig == 'A' ? 'B' : 'A';
    assert_int_equal(verify(t), CG_JWT_BAD_SIGNATURE);
    free(t);
    t = make_jwt("ES256", "e1", GOOD_CLAIMS);
    char *dot = strchr(t, '.');
    dot[5] = dot[5] == 'A' ? 'B' : 'A';
    assert_int_not_equal(verify(t), CG_JWT_OK);
    free(t);
    /* a payload re-encoded with a later exp, the old signature kept */
    t = make_jwt("HS256", "h1", GOOD_CLAIMS);
    char c64[512], forged[1024];
    b64url_str(
        "{\"iss\":\"https://as.example\",\"aud\":\"https://api.example\",\"exp\":2100000000}", c64);
    *strchr(t, '.') = '\0';
    snprintf(forged, sizeof forged, "%s.%s.%s", t, c64, strrchr(t + strlen(t) + 1, '.') + 1);
    assert_int_equal(verify(forged), CG_JWT_BAD_SIGNATURE);
    free(t);
    /* alg none */
    t = make_jwt("none", "r1", GOOD_CLAIMS);
    assert_int_equal(verify(t), CG_JWT_MALFORMED); /* empty signature */
    free(t);
    /* HS256 claiming the RSA key's kid: the RSA key never becomes an HMAC secret */
    t = make_jwt("HS256", "r1", GOOD_CLAIMS);
    assert_int_equal(verify(t), CG_JWT_ALGORITHM);
    free(t);
    /* an unknown kid */
    t = make_jwt("RS256", "zz", GOOD_CLAIMS);
    assert_int_equal(verify(t), CG_JWT_UNKNOWN_KEY);
    free(t);
    /* not a JWT at all */
    assert_int_equal(verify("a.b"), CG_JWT_MALFORMED);
    assert_int_equal(verify("a.b.c.d"), CG_JWT_MALFORMED);
    assert_int_equal(verify("!!.??.**"), CG_JWT_MALFORMED);
    assert_int_equal(verify(""), CG_JWT_MALFORMED);
}

static void jwks_refuses_unusable_documents(void **state)
{
    char err[200];
    assert_null(cg_jwks_parse("not json", 8, err, sizeof err));
    assert_null(cg_jwks_parse("{\"keys\":[]}", 11, err, sizeof err));
    assert_non_null(strstr(err, "no usable key"));
    /* a short HMAC secret and a small RSA modulus are not usable keys */
    const char *weak = "{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2hvcnQ\"},{\"kty\":\"RSA\",\"n\":"
                       "\"AQAB\",\"e\":\"AQAB\"}]}";
    assert_null(cg_jwks_parse(weak, strlen(weak), err, sizeof err));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwt_each_algorithm_verifies),
        cmocka_unit_test(jwt_claims_are_checked),
        cmocka_unit_test(jwt_tampering_and_confusion_are_refused),
        cmocka_unit_test(jwks_refuses_unusable_documents),
    };
    return cmocka_run_group_tests(tests, setup_keys, teardown_keys);
}
