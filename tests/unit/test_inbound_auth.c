/* Unit tests for src/engine/inbound_auth.c: loading tokens from the list and the file
 * (separators, whitespace, comments, bad bytes, empty sets, unreadable files), matching
 * (exact only, any configured token, tokens of other lengths), how a request's headers are
 * read (Bearer, X-Capgate-Token, other schemes) and that no error message ever holds a
 * token. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <unistd.h>

#include "engine/inbound_auth.h"

/* Writes text to a fresh temporary file; returns its path (free it, unlink it). */
static char *temp_file(const char *text)
{
    char *path = strdup("/tmp/capgate-inauth-XXXXXX");
    assert_non_null(path);
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    size_t n = strlen(text);
    assert_int_equal(write(fd, text, n), (ssize_t)n);
    close(fd);
    return path;
}

static bool matches(const cg_inbound_auth *a, const char *tok)
{
    return cg_inbound_auth_match(a, tok, strlen(tok));
}

/* ---- loading -------------------------------------------------------------------------- */

static void nothing_configured_is_auth_off(void **state)
{
    cg_inbound_auth *a = (cg_inbound_auth *)1;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(NULL, NULL, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_null(a);
    assert_int_equal(cg_inbound_auth_count(NULL), 0);
    assert_false(matches(NULL, "anything"));
    bool fwd = false;
    assert_int_equal(cg_inbound_auth_check(NULL, NULL, NULL, &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd);
    fwd = false;
    assert_int_equal(cg_inbound_auth_check(NULL, "Bearer x", NULL, &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd);  /* auth off: the caller's Authorization goes upstream as before */
    cg_inbound_auth_free(NULL);
}

static void list_splits_on_commas_and_trims_whitespace(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(" alpha-1 ,\tbeta_2,,gamma.3 , ", NULL, &a, err, sizeof err),
                     CG_INBOUND_AUTH_OK);
    assert_non_null(a);
    assert_int_equal(cg_inbound_auth_count(a), 3);
    assert_true(matches(a, "alpha-1"));
    assert_true(matches(a, "beta_2"));
    assert_true(matches(a, "gamma.3"));
    assert_false(matches(a, " alpha-1"));
    assert_false(matches(a, ""));
    cg_inbound_auth_free(a);
}

static void duplicate_tokens_count_once(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    assert_int_equal(cg_inbound_auth_load("same,same, same", NULL, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_int_equal(cg_inbound_auth_count(a), 1);
    cg_inbound_auth_free(a);
}

static void empty_list_is_an_error_not_auth_off(void **state)
{
    const char *lists[] = {"", " ", ",", " , ,\t"};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        cg_inbound_auth *a = (cg_inbound_auth *)1;
        char err[256] = "";
        assert_int_equal(cg_inbound_auth_load(lists[i], NULL, &a, err, sizeof err),
                         CG_INBOUND_AUTH_EEMPTY);
        assert_null(a);
        assert_non_null(strstr(err, "CAPGATE_API_TOKENS"));
        assert_non_null(strstr(err, "no token"));
    }
}

static void list_token_with_a_space_or_control_byte_is_refused_without_echo(void **state)
{
    const char *lists[] = {"QQgood,ZZsec ret", "ZZsecret\x01value", ("QQgood,ZZs\xC3\xA9" "cret")};
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        cg_inbound_auth *a = (cg_inbound_auth *)1;
        char err[256] = "";
        assert_int_equal(cg_inbound_auth_load(lists[i], NULL, &a, err, sizeof err),
                         CG_INBOUND_AUTH_EINVALID);
        assert_null(a);
        assert_non_null(strstr(err, "printable ASCII"));
        assert_null(strstr(err, "ZZs"));
        assert_null(strstr(err, "QQgood"));
    }
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    cg_inbound_auth_load("QQgood,ZZsec ret", NULL, &a, err, sizeof err);
    assert_non_null(strstr(err, "item 2"));
}

static void overlong_token_is_refused(void **state)
{
    size_t n = CG_INBOUND_AUTH_MAX_TOKEN_LEN + 1;
    char *big = malloc(n + 1);
    assert_non_null(big);
    memset(big, 'k', n);
    big[n] = '\0';
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(big, NULL, &a, err, sizeof err), CG_INBOUND_AUTH_EINVALID);
    assert_non_null(strstr(err, "longer than"));
    assert_null(strstr(err, "kkkk"));
    big[n - 1] = '\0';  /* exactly the limit is fine */
    assert_int_equal(cg_inbound_auth_load(big, NULL, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_true(cg_inbound_auth_match(a, big, n - 1));
    cg_inbound_auth_free(a);
    free(big);
}

static void too_many_tokens_are_refused(void **state)
{
    size_t n = CG_INBOUND_AUTH_MAX_TOKENS + 1;
    char *list = malloc(n * 8 + 1), *p = list;
    assert_non_null(list);
    for (size_t i = 0; i < n; i++) p += sprintf(p, "%s%06zu", i ? "," : "", i);
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(list, NULL, &a, err, sizeof err), CG_INBOUND_AUTH_EINVALID);
    assert_null(a);
    assert_non_null(strstr(err, "more than"));
    free(list);
}

static void file_skips_blank_lines_and_comments_and_trims(void **state)
{
    char *path = temp_file("# the ops team's tokens\n"
                           "\n"
                           "  file-token-one  \r\n"
                           "\t# indented comment\n"
                           "file-token-two\n"
                           "has#hash\n"
                           "   \n"
                           "last-without-newline");
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(NULL, path, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_int_equal(cg_inbound_auth_count(a), 4);
    assert_true(matches(a, "file-token-one"));
    assert_true(matches(a, "file-token-two"));
    assert_true(matches(a, "has#hash"));  /* only whole-line comments */
    assert_true(matches(a, "last-without-newline"));
    assert_false(matches(a, "# the ops team's tokens"));
    assert_false(matches(a, "#"));
    cg_inbound_auth_free(a);
    unlink(path);
    free(path);
}

static void list_and_file_together(void **state)
{
    char *path = temp_file("from-file\n");
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load("from-list", path, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_int_equal(cg_inbound_auth_count(a), 2);
    assert_true(matches(a, "from-list"));
    assert_true(matches(a, "from-file"));
    cg_inbound_auth_free(a);
    unlink(path);
    free(path);
}

static void file_of_only_comments_is_an_error(void **state)
{
    char *path = temp_file("# nothing yet\n\n   \n");
    cg_inbound_auth *a = (cg_inbound_auth *)1;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(NULL, path, &a, err, sizeof err), CG_INBOUND_AUTH_EEMPTY);
    assert_null(a);
    assert_non_null(strstr(err, "CAPGATE_API_TOKENS_FILE"));
    unlink(path);
    free(path);
    /* a good list does not excuse an empty file */
    path = temp_file("");
    assert_int_equal(cg_inbound_auth_load("fine", path, &a, err, sizeof err), CG_INBOUND_AUTH_EEMPTY);
    assert_null(a);
    unlink(path);
    free(path);
}

static void file_line_with_a_space_names_the_line_not_the_token(void **state)
{
    char *path = temp_file("ok-token\nsecret value here\n");
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_load(NULL, path, &a, err, sizeof err), CG_INBOUND_AUTH_EINVALID);
    assert_non_null(strstr(err, "line 2"));
    assert_null(strstr(err, "secret"));
    assert_null(strstr(err, "ok-token"));
    unlink(path);
    free(path);
}

static void unreadable_file_is_an_io_error_that_does_not_echo_the_value(void **state)
{
    cg_inbound_auth *a = (cg_inbound_auth *)1;
    char err[256] = "";
    /* someone put a token where the path goes */
    assert_int_equal(cg_inbound_auth_load(NULL, "tok-instead-of-path", &a, err, sizeof err),
                     CG_INBOUND_AUTH_EIO);
    assert_null(a);
    assert_non_null(strstr(err, "CAPGATE_API_TOKENS_FILE"));
    assert_non_null(strstr(err, "No such file"));
    assert_null(strstr(err, "tok-instead"));
    assert_int_equal(cg_inbound_auth_load(NULL, "", &a, err, sizeof err), CG_INBOUND_AUTH_EIO);
    assert_int_equal(cg_inbound_auth_load(NULL, "/tmp", &a, err, sizeof err), CG_INBOUND_AUTH_EIO);
    assert_non_null(strstr(err, "directory"));
    assert_null(a);
}

static void from_env_reads_both_variables(void **state)
{
    char *path = temp_file("env-file-token\n");
    setenv("CAPGATE_API_TOKENS", "env-list-token", 1);
    setenv("CAPGATE_API_TOKENS_FILE", path, 1);
    cg_inbound_auth *a = NULL;
    char err[256] = "";
    assert_int_equal(cg_inbound_auth_from_env(&a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_int_equal(cg_inbound_auth_count(a), 2);
    assert_true(matches(a, "env-list-token"));
    assert_true(matches(a, "env-file-token"));
    cg_inbound_auth_free(a);
    setenv("CAPGATE_API_TOKENS", "", 1);  /* set but empty: an error, not "off" */
    assert_int_equal(cg_inbound_auth_from_env(&a, err, sizeof err), CG_INBOUND_AUTH_EEMPTY);
    unsetenv("CAPGATE_API_TOKENS");
    unsetenv("CAPGATE_API_TOKENS_FILE");
    assert_int_equal(cg_inbound_auth_from_env(&a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_null(a);
    unlink(path);
    free(path);
}

/* ---- matching ------------------------------------------------------------------------- */

static void match_is_exact_whatever_the_length(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    assert_int_equal(cg_inbound_auth_load("s3cret-token,other", NULL, &a, err, sizeof err), CG_INBOUND_AUTH_OK);
    assert_true(matches(a, "s3cret-token"));
    assert_true(matches(a, "other"));
    assert_false(matches(a, "s3cret-toke"));     /* a prefix */
    assert_false(matches(a, "s3cret-token2"));   /* longer */
    assert_false(matches(a, "S3CRET-TOKEN"));    /* case matters */
    assert_false(matches(a, "s3cret-tokeN"));    /* last byte */
    assert_false(matches(a, "x"));
    assert_false(cg_inbound_auth_match(a, "s3cret-token\0", 13));  /* a NUL is a byte */
    assert_true(cg_inbound_auth_match(a, "s3cret-token-and-more", 12));
    assert_false(cg_inbound_auth_match(a, NULL, 0));
    cg_inbound_auth_free(a);
}

/* ---- reading a request ------------------------------------------------------------------ */

static void check_bearer_consumes_authorization(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    cg_inbound_auth_load("tok-A,tok-B", NULL, &a, err, sizeof err);
    bool fwd = true;
    assert_int_equal(cg_inbound_auth_check(a, "Bearer tok-A", NULL, &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_false(fwd);  /* the inbound token is never forwarded upstream */
    fwd = true;
    assert_int_equal(cg_inbound_auth_check(a, "bearer   tok-B  ", NULL, &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_false(fwd);
    assert_int_equal(cg_inbound_auth_check(a, "BEARER\ttok-A", NULL, NULL), CG_INBOUND_AUTH_ALLOW);
    assert_int_equal(cg_inbound_auth_check(a, "Bearer tok-C", NULL, &fwd), CG_INBOUND_AUTH_INVALID);
    assert_int_equal(cg_inbound_auth_check(a, "Bearer", NULL, &fwd), CG_INBOUND_AUTH_INVALID);
    assert_int_equal(cg_inbound_auth_check(a, "Bearer   ", NULL, &fwd), CG_INBOUND_AUTH_INVALID);
    assert_int_equal(cg_inbound_auth_check(a, "Bearertok-A", NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_int_equal(cg_inbound_auth_check(a, "Bearer tok-A extra", NULL, &fwd), CG_INBOUND_AUTH_INVALID);
    cg_inbound_auth_free(a);
}

static void check_x_capgate_token_leaves_authorization_to_the_upstream(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    cg_inbound_auth_load("tok-A", NULL, &a, err, sizeof err);
    bool fwd = false;
    assert_int_equal(cg_inbound_auth_check(a, "Token label-studio-key", "tok-A", &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd);
    fwd = false;
    assert_int_equal(cg_inbound_auth_check(a, NULL, " tok-A ", &fwd), CG_INBOUND_AUTH_ALLOW);
    assert_true(fwd);
    /* X-Capgate-Token decides when present, even next to a valid Bearer */
    assert_int_equal(cg_inbound_auth_check(a, "Bearer tok-A", "wrong", &fwd), CG_INBOUND_AUTH_INVALID);
    assert_false(fwd);
    assert_int_equal(cg_inbound_auth_check(a, NULL, "", &fwd), CG_INBOUND_AUTH_INVALID);
    cg_inbound_auth_free(a);
}

static void check_without_a_token_is_missing(void **state)
{
    cg_inbound_auth *a = NULL;
    char err[256];
    cg_inbound_auth_load("tok-A", NULL, &a, err, sizeof err);
    bool fwd = true;
    assert_int_equal(cg_inbound_auth_check(a, NULL, NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_false(fwd);
    /* a Label Studio key alone is not an inbound token, even if it equals one */
    assert_int_equal(cg_inbound_auth_check(a, "Token tok-A", NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_int_equal(cg_inbound_auth_check(a, "tok-A", NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    assert_int_equal(cg_inbound_auth_check(a, "Basic dXNlcjpwdw==", NULL, &fwd), CG_INBOUND_AUTH_MISSING);
    cg_inbound_auth_free(a);
}

static void challenge_and_detail_never_hold_a_token(void **state)
{
    assert_string_equal(cg_inbound_auth_challenge(CG_INBOUND_AUTH_MISSING), "Bearer realm=\"capgate\"");
    assert_string_equal(cg_inbound_auth_challenge(CG_INBOUND_AUTH_INVALID),
                        "Bearer realm=\"capgate\", error=\"invalid_token\"");
    assert_non_null(strstr(cg_inbound_auth_detail(CG_INBOUND_AUTH_MISSING), "X-Capgate-Token"));
    assert_non_null(strstr(cg_inbound_auth_detail(CG_INBOUND_AUTH_INVALID), "not valid"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(nothing_configured_is_auth_off),
        cmocka_unit_test(list_splits_on_commas_and_trims_whitespace),
        cmocka_unit_test(duplicate_tokens_count_once),
        cmocka_unit_test(empty_list_is_an_error_not_auth_off),
        cmocka_unit_test(list_token_with_a_space_or_control_byte_is_refused_without_echo),
        cmocka_unit_test(overlong_token_is_refused),
        cmocka_unit_test(too_many_tokens_are_refused),
        cmocka_unit_test(file_skips_blank_lines_and_comments_and_trims),
        cmocka_unit_test(list_and_file_together),
        cmocka_unit_test(file_of_only_comments_is_an_error),
        cmocka_unit_test(file_line_with_a_space_names_the_line_not_the_token),
        cmocka_unit_test(unreadable_file_is_an_io_error_that_does_not_echo_the_value),
        cmocka_unit_test(from_env_reads_both_variables),
        cmocka_unit_test(match_is_exact_whatever_the_length),
        cmocka_unit_test(check_bearer_consumes_authorization),
        cmocka_unit_test(check_x_capgate_token_leaves_authorization_to_the_upstream),
        cmocka_unit_test(check_without_a_token_is_missing),
        cmocka_unit_test(challenge_and_detail_never_hold_a_token),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
