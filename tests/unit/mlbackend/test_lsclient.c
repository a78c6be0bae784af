/* Unit tests for src/mlbackend/lsclient.c: the JWT check (the SDK's rule). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "mlbackend/lsclient.h"

static void jwt_detection_follows_the_sdk_rule(void **state)
{
    assert_true(cg_lsclient_is_jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x"));
    assert_false(cg_lsclient_is_jwt("0123456789abcdef0123456789abcdef01234567"));
    assert_false(cg_lsclient_is_jwt("eyJa.b"));
    assert_false(cg_lsclient_is_jwt("eyJa..c"));
    assert_false(cg_lsclient_is_jwt("eyJa.b.c.d"));
    assert_false(cg_lsclient_is_jwt("eyJa.b c.d"));
    assert_false(cg_lsclient_is_jwt("abc.def.ghi"));
    assert_false(cg_lsclient_is_jwt(""));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwt_detection_follows_the_sdk_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
