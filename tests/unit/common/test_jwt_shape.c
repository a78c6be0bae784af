/* Unit tests for src/common/jwt_shape.c: the one "is this key a JWT" rule (the SDK's). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/jwt_shape.h"

static void jwt_shape_follows_the_sdk_rule(void **state)
{
    assert_true(cg_jwt_shaped("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_x"));
    assert_false(cg_jwt_shaped("0123456789abcdef0123456789abcdef01234567"));
    assert_false(cg_jwt_shaped("eyJa.b"));
    assert_false(cg_jwt_shaped("eyJa..c"));
    assert_false(cg_jwt_shaped("eyJa.b.c.d"));
    assert_false(cg_jwt_shaped("eyJa.b c.d"));
    assert_false(cg_jwt_shaped("eyJhbGciOiJub25lIn0.eyJ1c2VyX2lkIjoxfQ.")); /* no signature */
    assert_false(cg_jwt_shaped("abc.def.ghi"));
    assert_false(cg_jwt_shaped(""));
    assert_false(cg_jwt_shaped(NULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwt_shape_follows_the_sdk_rule),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
