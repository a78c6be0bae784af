/*
 * Unit tests for studio/jwt.h (src/studio/jwt.c) beyond test_studio.c's (the jwt.io vector,
 * tampered, expired, foreign and "none" tokens): claims round trip whole; tokens that carry
 * a correct HS256 signature yet must still be refused (another alg in the header, claims
 * that are not an object, exp missing, not an integer, or not in the future), signatures
 * in the padded standard alphabet, overlong tokens; random keys of every size.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "common/base64.h"
#include "studio/jwt.h"

#define SECRET "unit-secret"

/* header.payload.signature with a correct HS256 signature over whatever header and
 * payload say (the way a forger who knew the secret, or a buggy signer, would write it). */
static char *forge(const char *header, const char *payload, cg_b64_alphabet sig_alphabet)
{
    char *h = cg_base64_encode(header, strlen(header), CG_B64_URL);
    char *p = cg_base64_encode(payload, strlen(payload), CG_B64_URL);
    char *input = NULL, *out = NULL;
    assert_true(asprintf(&input, "%s.%s", h, p) > 0);
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    assert_non_null(HMAC(EVP_sha256(), SECRET, (int)strlen(SECRET), (unsigned char *)input,
                         strlen(input), mac, &n));
    char *sig = cg_base64_encode(mac, n, sig_alphabet);
    assert_true(asprintf(&out, "%s.%s", input, sig) > 0);
    free(h);
    free(p);
    free(input);
    free(sig);
    return out;
}

static json_t *verify(const char *token, long long now)
{
    char err[128] = "";
    json_t *claims = cg_studio_jwt_verify(token, SECRET, now, err, sizeof err);
    if (!claims) assert_string_equal(err, "Token is invalid or expired");
    return claims;
}

static void claims_round_trip_whole(void **state)
{
    json_t *claims = json_pack("{s:s, s:I, s:s, s:{s:[i,i]}, s:b, s:s}", "token_type", "refresh",
                               "exp", (json_int_t)4102444800, "jti", "0123abcd", "nested", "list",
                               1, 2, "flag", 1, "name", "Zoë ✓");
    char *token = cg_studio_jwt_sign(claims, SECRET);
    assert_non_null(token);
    /* three URL-safe segments, no padding */
    assert_int_equal(
        strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."),
        strlen(token));
    const char *d1 = strchr(token, '.'), *d2 = strrchr(token, '.');
    assert_true(d1 && d2 && d1 < d2);
    size_t n;
    unsigned char *header = cg_base64_decode(token, (size_t)(d1 - token), CG_B64_URL, &n);
    assert_memory_equal(header, "{\"alg\":\"HS256\",\"typ\":\"JWT\"}", n);
    free(header);

    json_t *got = verify(token, 1700000000);
    assert_non_null(got);
    assert_true(json_equal(got, claims));
    json_decref(got);
    free(token);
    json_decref(claims);
}

static void a_correct_signature_is_not_enough(void **state)
{
    static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    static const char good[] = "{\"exp\":2000,\"sub\":\"1\"}";
    char *t = forge(hs256, good, CG_B64_URL);
    json_t *ok = verify(t, 1000); /* the control: the forger's token verifies */
    assert_non_null(ok);
    json_decref(ok);
    free(t);

    static const char *const headers[] = {
        "{\"alg\":\"HS512\",\"typ\":\"JWT\"}",
        "{\"alg\":\"none\"}",
        "{\"alg\":\"hs256\"}",
        "{\"typ\":\"JWT\"}",
        "[\"HS256\"]",
        "not json",
    };
    for (size_t i = 0; i < sizeof headers / sizeof headers[0]; i++) {
        t = forge(headers[i], good, CG_B64_URL);
        assert_null(verify(t, 1000));
        free(t);
    }
    static const char *const payloads[] = {
        "[1,2]",              /* not an object */
        "{\"sub\":\"1\"}",    /* no exp */
        "{\"exp\":\"2000\"}", /* exp not an integer */
        "{\"exp\":2000.5}",
        "{\"exp\":1000}", /* exp == now: over */
        "not json",
    };
    for (size_t i = 0; i < sizeof payloads / sizeof payloads[0]; i++) {
        t = forge(hs256, payloads[i], CG_B64_URL);
        assert_null(verify(t, 1000));
        free(t);
    }
    /* exp one second ahead still verifies */
    t = forge(hs256, "{\"exp\":1001}", CG_B64_URL);
    ok = verify(t, 1000);
    assert_non_null(ok);
    json_decref(ok);
    free(t);
}

static void malformed_tokens(void **state)
{
    static const char hs256[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";
    /* the same MAC in the padded standard alphabet is another string: refused */
    char *t = forge(hs256, "{\"exp\":2000}", CG_B64_STD);
    assert_non_null(strchr(t, '='));
    assert_null(verify(t, 1000));
    free(t);

    assert_null(verify("", 0));
    assert_null(verify("..", 0));
    assert_null(verify("a..b", 0));

    /* overlong: a valid token padded out past 8 KiB in its claims */
    json_t *claims = json_pack("{s:I}", "exp", (json_int_t)2000);
    char *pad = malloc(9000);
    memset(pad, 'x', 8999);
    pad[8999] = '\0';
    json_object_set_new(claims, "pad", json_string(pad));
    free(pad);
    t = cg_studio_jwt_sign(claims, SECRET);
    assert_true(strlen(t) > 8192);
    assert_null(verify(t, 1000));
    free(t);
    json_decref(claims);
}

static void random_hex_sizes(void **state)
{
    char out[129];
    memset(out, '#', sizeof out);
    assert_int_equal(cg_studio_random_hex(out, 0), 0);
    assert_int_equal(out[0], '#'); /* nothing written for 0 bytes */
    assert_int_equal(cg_studio_random_hex(out, 1), 0);
    assert_int_equal(strlen(out), 2);
    assert_int_equal(cg_studio_random_hex(out, 64), 0);
    assert_int_equal(strlen(out), 128);
    assert_int_equal(strspn(out, "0123456789abcdef"), 128);
    /* 64 random bytes are not all zero */
    assert_true(strspn(out, "0") < 128);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(claims_round_trip_whole),
        cmocka_unit_test(a_correct_signature_is_not_enough),
        cmocka_unit_test(malformed_tokens),
        cmocka_unit_test(random_hex_sizes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
