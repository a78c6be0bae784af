/* Unit tests for src/console/console.c outside HTTP: which paths are public (the page and its
 * files, with the shared ones) and which need the token (the API). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "console/console.h"

static void console_page_is_public_and_api_is_not(void **state)
{
    assert_true(cg_console_is_public("GET", "/console/"));
    assert_true(cg_console_is_public("HEAD", "/console/console.js"));
    assert_true(cg_console_is_public("GET", "/console"));
    assert_true(cg_console_is_public("GET", "/console/page.js")); /* src/common/www, shared */
    assert_true(cg_console_is_public("GET", "/console/page.css"));
    assert_true(cg_console_is_public("GET", "/console/favicon.svg"));
    assert_false(cg_console_is_public("POST", "/console/"));
    assert_false(cg_console_is_public("GET", "/console/api/capability"));
    assert_false(cg_console_is_public("GET", "/console/api/stream"));
    assert_false(cg_console_is_public("GET", "/console/../v1/api/ml"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(console_page_is_public_and_api_is_not),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
