/*
 * test_common.c — src/common/unescape: URL decoding that never yields NUL and, for paths
 * still to be routed, never turns %2F into a segment separator.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "common/unescape.h"

static void decodes(const char *in, const char *want, int path)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", in);
    size_t n = path ? cg_unescape_path(buf) : cg_unescape_keep_nul(buf);
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_keep_nul(void **state)
{
    decodes("a%20b", "a b", 0);
    decodes("7%00junk", "7%00junk", 0); /* a NUL would cut the value */
    decodes("%2f%2F", "//", 0);
    decodes("%zz%4", "%zz%4", 0); /* malformed escapes stay as they are */
    decodes("%e2%82%ac", "\xe2\x82\xac", 0);
}

static void test_path_keeps_encoded_slash(void **state)
{
    decodes("/v1/api/ml/7%2fversions", "/v1/api/ml/7%2fversions", 1);
    decodes("/v1/api/ml/7%2F..%2Fadmin", "/v1/api/ml/7%2F..%2Fadmin", 1);
    decodes("/v1/api/ml/%37", "/v1/api/ml/7", 1);
    decodes("/a%00b", "/a%00b", 1);
    decodes("/a%252f", "/a%2f", 1); /* decoded once: %25 is '%', no more */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_keep_nul),
        cmocka_unit_test(test_path_keeps_encoded_slash),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
