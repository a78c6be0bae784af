/* Unit tests for src/common/base64.c (on libcrypto): RFC 4648 vectors, base64url, bad input. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/base64.h"

static void base64_matches_rfc4648_vectors(void **state)
{
    static const char *const plain[] = {"", "f", "fo", "foo", "foob", "fooba", "foobar"};
    static const char *const std[] = {"",         "Zg==",     "Zm8=",    "Zm9v",
                                      "Zm9vYg==", "Zm9vYmE=", "Zm9vYmFy"};
    for (size_t i = 0; i < 7; i++) {
        char *e = cg_base64_encode(plain[i], strlen(plain[i]), CG_B64_STD);
        assert_string_equal(e, std[i]);
        size_t n = 99;
        unsigned char *d = cg_base64_decode(e, strlen(e), CG_B64_STD, &n);
        assert_non_null(d);
        assert_int_equal(n, strlen(plain[i]));
        assert_memory_equal(d, plain[i], n);
        assert_int_equal(d[n], 0);
        free(e);
        free(d);
    }
}

static void base64url_round_trips_without_padding(void **state)
{
    const unsigned char in[] = {0xfb, 0xff, 0x00, 'a', 'b'};
    for (size_t n = 0; n <= sizeof in; n++) {
        char *enc = cg_base64_encode(in, n, CG_B64_URL);
        assert_null(strpbrk(enc, "+/="));
        size_t len = 99;
        unsigned char *dec = cg_base64_decode(enc, strlen(enc), CG_B64_URL, &len);
        assert_non_null(dec);
        assert_int_equal(len, n);
        assert_memory_equal(dec, in, n);
        free(enc);
        free(dec);
    }
    size_t len;
    unsigned char *d = cg_base64_decode("-_8=", 4, CG_B64_URL, &len); /* padding allowed */
    assert_non_null(d);
    assert_int_equal(len, 2);
    assert_int_equal(d[0], 0xfb);
    assert_int_equal(d[1], 0xff);
    free(d);
}

static void base64_refuses_bad_input(void **state)
{
    size_t len;
    assert_null(cg_base64_decode("ab+c", 4, CG_B64_URL, &len)); /* other alphabet */
    assert_null(cg_base64_decode("ab-c", 4, CG_B64_STD, &len));
    assert_null(cg_base64_decode("a", 1, CG_B64_STD, &len));        /* cannot be base64 */
    assert_null(cg_base64_decode("Zm 9v", 5, CG_B64_STD, &len));    /* whitespace */
    assert_null(cg_base64_decode("Zg=a", 4, CG_B64_STD, &len));     /* '=' inside */
    assert_null(cg_base64_decode("Zm8==", 5, CG_B64_STD, &len));    /* padding that does not fit */
    unsigned char *d = cg_base64_decode("Zg", 2, CG_B64_STD, &len); /* padding optional */
    assert_non_null(d);
    assert_string_equal((char *)d, "f");
    free(d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_matches_rfc4648_vectors),
        cmocka_unit_test(base64url_round_trips_without_padding),
        cmocka_unit_test(base64_refuses_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
