/* Unit tests for src/engine/digest.c: RFC 7616 challenge parsing and the response
 * computation against the RFC's own worked examples, MD5 and SHA-256. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/digest.h"

/* RFC 7616 §3.9.1: the same request answered with SHA-256 and with MD5. */
static const char RFC_CHALLENGE_FMT[] =
    "Digest realm=\"http-auth@example.org\", qop=\"auth, auth-int\", algorithm=%s, "
    "nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", "
    "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\"";
static const char RFC_CNONCE[] = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

static void rfc7616_example(const char *alg, const char *expected_response)
{
    char h[512];
    snprintf(h, sizeof h, RFC_CHALLENGE_FMT, alg);
    cg_digest_challenge c;
    assert_int_equal(cg_digest_parse(h, &c), 0);
    assert_string_equal(c.realm, "http-auth@example.org");
    assert_true(c.qop_auth);
    cg_buf out = CG_BUF_INIT;
    assert_int_equal(cg_digest_authorization(&c, "Mufasa", "Circle of Life", "GET",
                                             "/dir/index.html", 1, RFC_CNONCE, &out),
                     0);
    char want[128];
    snprintf(want, sizeof want, "response=\"%s\"", expected_response);
    assert_non_null(strstr(out.data, want));
    assert_non_null(
        strstr(out.data,
               "qop=auth, nc=00000001, cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\""));
    assert_non_null(strstr(out.data, "opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""));
    assert_non_null(strstr(out.data, "uri=\"/dir/index.html\""));
    cg_buf_free(&out);
}

static void digest_rfc7616_sha256(void **state)
{
    rfc7616_example("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1");
}

static void digest_rfc7616_md5(void **state)
{
    rfc7616_example("MD5", "8ca523f5e9506fed4657c9700eebdbec");
}

static void digest_parse_finds_digest_among_challenges(void **state)
{
    cg_digest_challenge c;
    assert_int_equal(cg_digest_parse("Basic realm=\"x\", Digest realm=\"r\", nonce=\"n1\", "
                                     "algorithm=SHA-256-sess, qop=auth, stale=TRUE",
                                     &c),
                     0);
    assert_string_equal(c.realm, "r");
    assert_string_equal(c.nonce, "n1");
    assert_true(c.sha256);
    assert_true(c.sess);
    assert_true(c.stale);
    /* a following challenge does not leak its params into the first */
    assert_int_equal(
        cg_digest_parse("Digest realm=\"a\", nonce=\"n\", Digest realm=\"b\", nonce=\"m\"", &c), 0);
    assert_string_equal(c.realm, "a");
    assert_string_equal(c.nonce, "n");
    assert_false(c.qop_auth); /* no qop offered: RFC 2069 form */
}

static void digest_parse_refuses_what_it_cannot_answer(void **state)
{
    cg_digest_challenge c;
    assert_int_equal(cg_digest_parse("Basic realm=\"x\"", &c), -1);
    assert_int_equal(cg_digest_parse("Digest realm=\"x\"", &c), -1); /* no nonce */
    assert_int_equal(cg_digest_parse("Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"", &c), -1);
    assert_int_equal(cg_digest_parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256", &c),
                     -1);
    assert_int_equal(cg_digest_parse("Digest realm=\"x, nonce=\"n", &c), -1); /* unterminated */
    assert_int_equal(cg_digest_parse(NULL, &c), -1);
}

static void digest_without_qop_and_unsafe_values(void **state)
{
    cg_digest_challenge c;
    assert_int_equal(cg_digest_parse("Digest realm=\"r\", nonce=\"n\"", &c), 0);
    cg_buf out = CG_BUF_INIT;
    assert_int_equal(cg_digest_authorization(&c, "u", "p", "GET", "/x", 1, "cn", &out), 0);
    assert_null(strstr(out.data, "qop="));
    assert_null(strstr(out.data, "nc="));
    cg_buf_reset(&out);
    /* a quote in the username could rewrite the header's fields: refused */
    assert_int_equal(
        cg_digest_authorization(&c, "u\", response=\"x", "p", "GET", "/x", 1, "cn", &out), -1);
    cg_buf_free(&out);
    char cn[33], cn2[33];
    assert_int_equal(cg_digest_cnonce(cn), 0);
    assert_int_equal(cg_digest_cnonce(cn2), 0);
    assert_int_equal(strlen(cn), 32);
    assert_string_not_equal(cn, cn2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(digest_rfc7616_sha256),
        cmocka_unit_test(digest_rfc7616_md5),
        cmocka_unit_test(digest_parse_finds_digest_among_challenges),
        cmocka_unit_test(digest_parse_refuses_what_it_cannot_answer),
        cmocka_unit_test(digest_without_qop_and_unsafe_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
