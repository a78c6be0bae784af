/* Unit tests for src/engine/token.c: JWTs told from legacy keys, and legacy keys formatted
 * without an exchange. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/token.h"

/* {"alg":"HS256"} . {"exp":1900000000,"token_type":"refresh"} . sig */
#define JWT "eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjE5MDAwMDAwMDAsInRva2VuX3R5cGUiOiJyZWZyZXNoIn0.c2ln"

static void token_reads_a_jwts_expiry(void **state)
{
    assert_int_equal(cg_token_jwt_exp(JWT), 1900000000LL);
    assert_int_equal(cg_token_jwt_exp("eyJhbGciOiJIUzI1NiJ9.e30.c2ln"), -1); /* {} */
    assert_int_equal(cg_token_jwt_exp("not a jwt"), -1);
}

static void token_formats_legacy_keys_without_an_exchange(void **state)
{
    cg_buf out = CG_BUF_INIT;
    cg_token_waiter w = {0};
    cg_token *tm = cg_token_create(NULL, NULL, 1000);
    assert_int_equal(cg_token_authorization(tm, "abc123", "http://x/r", &out, &w), CG_TOKEN_READY);
    assert_string_equal(out.data, "Token abc123");
    cg_buf_reset(&out);
    assert_int_equal(cg_token_authorization(tm, "Bearer xyz", "http://x/r", &out, &w),
                     CG_TOKEN_READY);
    assert_string_equal(out.data, "Bearer xyz");
    cg_buf_free(&out);
    cg_token_free(tm);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(token_reads_a_jwts_expiry),
        cmocka_unit_test(token_formats_legacy_keys_without_an_exchange),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
