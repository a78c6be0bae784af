/* Unit tests for src/common/mediatype.c: the one JSON content-type rule. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "common/mediatype.h"

static void json_media_types(void **state)
{
    assert_true(cg_mediatype_is_json("application/json"));
    assert_true(cg_mediatype_is_json("Application/JSON; charset=utf-8"));
    assert_true(cg_mediatype_is_json("  application/json ;charset=utf-8"));
    assert_true(cg_mediatype_is_json("application/merge-patch+json"));
    assert_true(cg_mediatype_is_json("application/vnd.api+json; ext=x"));
    assert_false(cg_mediatype_is_json(NULL));
    assert_false(cg_mediatype_is_json(""));
    assert_false(cg_mediatype_is_json("text/plain"));
    assert_false(cg_mediatype_is_json("application/jsonx"));
    assert_false(cg_mediatype_is_json("application/+json"));
    assert_false(cg_mediatype_is_json("text/x+json"));
    assert_false(cg_mediatype_is_json("application/json foo"));
    assert_false(cg_mediatype_is_json("application/x-www-form-urlencoded"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(json_media_types),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
