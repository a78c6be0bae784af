/* Unit tests for src/engine/profile_label_studio.c: which APIs the profile reaches, its
 * Authorization rules and the --profile option. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/buf.h"
#include "engine/profile_label_studio.h"

static void label_studio_profile_reaches_only_label_studio(void **state)
{
    const char *named[] = {"my-ls"};
    assert_true(cg_ls_profile_applies("label-studio", NULL, 0));
    assert_true(cg_ls_profile_applies("label-studio-ml", NULL, 0));
    assert_false(cg_ls_profile_applies("dock", NULL, 0));
    assert_false(cg_ls_profile_applies("my-ls", NULL, 0));
    assert_true(cg_ls_profile_applies("my-ls", named, 1));
    cg_buf out = CG_BUF_INIT;
    assert_int_equal(cg_ls_authorization("abc", &out), 0);
    assert_string_equal(out.data, "Token abc");
    cg_buf_reset(&out);
    assert_int_equal(cg_ls_authorization("Bearer x", &out), 0);
    assert_string_equal(out.data, "Bearer x");
    cg_buf_reset(&out);
    assert_int_equal(cg_ls_authorization("eyJhbGciOiJIUzI1NiJ9.eyJleHAiOjF9.c2ln", &out), 1);
    cg_buf_free(&out);
    char opt[] = "ns1=label-studio", bad[] = "ns1=jira", err[160];
    const char *ns = NULL;
    assert_int_equal(cg_ls_parse_profile_option(opt, &ns, err, sizeof err), 0);
    assert_string_equal(ns, "ns1");
    assert_int_equal(cg_ls_parse_profile_option(bad, &ns, err, sizeof err), -1);
    assert_non_null(strstr(err, "unknown profile 'jira'"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(label_studio_profile_reaches_only_label_studio),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
