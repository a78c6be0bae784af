/* Unit tests for src/common/log.c: one JSON object per line on stderr with ts, level, module
 * and msg (quotes and control characters escaped), the level filter, and the redaction of
 * credentials. stderr is redirected to a file for the checks. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <fcntl.h>
#include <jansson.h>
#include <unistd.h>

#include "common/log.h"

/* Runs the logging in FN with stderr going to a temporary file; returns what was written. */
static char *captured(void (*fn)(void))
{
    char path[] = "/tmp/cg-test-log-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    int saved = dup(2);
    dup2(fd, 2);
    fn();
    dup2(saved, 2);
    close(saved);
    static char out[4096];
    ssize_t n = pread(fd, out, sizeof out - 1, 0);
    out[n > 0 ? n : 0] = '\0';
    close(fd);
    unlink(path);
    return out;
}

static void log_two_levels(void)
{
    cg_log_set_level(CG_LOG_INFO);
    cg_log(CG_LOG_DEBUG, "test", "not shown");
    cg_log(CG_LOG_WARN, "test", "a \"quoted\"\nline %d", 7);
}

static void lines_are_json_objects(void **state)
{
    char *out = captured(log_two_levels);
    char *nl = strchr(out, '\n');
    assert_non_null(nl);
    assert_string_equal(nl + 1, ""); /* one line: the debug one was dropped */
    json_error_t err;
    json_t *line = json_loadb(out, (size_t)(nl - out), 0, &err);
    assert_non_null(line);
    assert_string_equal(json_string_value(json_object_get(line, "level")), "warn");
    assert_string_equal(json_string_value(json_object_get(line, "module")), "test");
    assert_string_equal(json_string_value(json_object_get(line, "msg")), "a \"quoted\"\nline 7");
    const char *ts = json_string_value(json_object_get(line, "ts"));
    assert_non_null(ts);
    assert_int_equal(strlen(ts), 24); /* 2026-11-28T15:00:00.123Z */
    assert_int_equal(ts[23], 'Z');
    json_decref(line);
}

static void level_filter(void **state)
{
    cg_log_set_level(CG_LOG_ERROR);
    assert_false(cg_log_enabled(CG_LOG_WARN));
    assert_true(cg_log_enabled(CG_LOG_ERROR));
    cg_log_set_level(CG_LOG_DEBUG);
    assert_true(cg_log_enabled(CG_LOG_DEBUG));
    cg_log_set_level(CG_LOG_INFO);
}

static void credentials_are_redacted(void **state)
{
    assert_string_equal(cg_log_redact("Token abc123"), "Token ***");
    assert_string_equal(cg_log_redact("bearer eyJhbGciOi.x.y"), "Bearer ***");
    assert_string_equal(cg_log_redact("Basic dXNlcjpwYXNz"), "Basic ***");
    assert_string_equal(cg_log_redact("s3cret"), "***");
    assert_string_equal(cg_log_redact(""), "");
    assert_string_equal(cg_log_redact(NULL), "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(lines_are_json_objects),
        cmocka_unit_test(level_filter),
        cmocka_unit_test(credentials_are_redacted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
