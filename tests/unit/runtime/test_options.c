/* Unit tests for src/runtime/options.c: the options `capgate serve` and `capgate mcp` share,
 * with the same defaults except where the commands differ on purpose. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "runtime/runtime.h"

/* Reads every option of argv with cg_runtime_option; the first rc that is not 1. */
static int read_all(cg_runtime_options *o, int argc, char **argv)
{
    cg_opts c;
    cg_opts_init(&c, o->command, argc, argv);
    while (cg_opts_next(&c)) {
        int rc = cg_runtime_option(o, &c);
        if (rc != 1) return rc;
    }
    return 1;
}

static void serve_and_mcp_share_the_upstream_defaults(void **state)
{
    cg_runtime_options s, m;
    cg_runtime_defaults(&s, "serve");
    cg_runtime_defaults(&m, "mcp");
    assert_int_equal(s.engine.upstream.retries, 2);
    assert_int_equal(m.engine.upstream.retries, 2);
    assert_true(s.engine.upstream.native_http);
    assert_true(m.engine.upstream.native_http);
    assert_int_equal(s.max_body, m.max_body);
    assert_int_equal(s.idle_timeout_s, 60);
    assert_int_equal(m.idle_timeout_s, 60);
    assert_int_equal(s.drain_timeout_ms, m.drain_timeout_ms);
    /* where they differ on purpose: mcp is the MCP adapter alone, one worker, no access log */
    assert_false(s.mcp_only);
    assert_true(m.mcp_only);
    assert_int_equal(s.threads, 0);
    assert_int_equal(m.threads, 1);
    assert_true(s.access_log);
    assert_false(m.access_log);
}

static void upstream_takes_a_url_or_ns_equals_url(void **state)
{
    cg_runtime_options o;
    cg_runtime_defaults(&o, "serve");
    char a1[] = "serve", a2[] = "--upstream", a3[] = "http://127.0.0.1:9", a4[] = "--upstream",
         a5[] = "ls=https://ls.example.com", a6[] = "--base-uri=http://x:1";
    char *argv[] = {a1, a2, a3, a4, a5, a6};
    assert_int_equal(read_all(&o, 6, argv), 1);
    assert_int_equal(o.n_uris, 3);
    assert_null(o.uris[0].ns);
    assert_string_equal(o.uris[0].uri, "http://127.0.0.1:9");
    assert_string_equal(o.uris[1].ns, "ls");
    assert_string_equal(o.uris[1].uri, "https://ls.example.com");
    assert_null(o.uris[2].ns);
    assert_string_equal(o.uris[2].uri, "http://x:1");
}

static void durations_sizes_and_counts(void **state)
{
    cg_runtime_options o;
    cg_runtime_defaults(&o, "mcp");
    char *argv[] = {"mcp",
                    "--timeout",
                    "2s",
                    "--connect-timeout=250",
                    "--idle-timeout",
                    "2m",
                    "--max-body",
                    "64k",
                    "--workers",
                    "3",
                    "--heartbeat",
                    "5",
                    "--session-idle",
                    "1h",
                    "--upstream-client",
                    "curl",
                    "--access-log",
                    "--listen",
                    "[::1]:0"};
    assert_int_equal(read_all(&o, 19, argv), 1);
    assert_int_equal(o.engine.timeout_ms, 2000);
    assert_int_equal(o.engine.connect_timeout_ms, 250);
    assert_int_equal(o.idle_timeout_s, 120);
    assert_int_equal(o.max_body, 65536);
    assert_int_equal(o.threads, 3);
    assert_int_equal(o.heartbeat_s, 5);
    assert_int_equal(o.session_idle_s, 3600);
    assert_false(o.engine.upstream.native_http);
    assert_true(o.access_log);
    assert_string_equal(o.listen_addr, "::1");
    assert_int_equal(o.listen_port, 0);
}

static void bad_values_and_foreign_options(void **state)
{
    cg_runtime_options o;
    cg_runtime_defaults(&o, "serve");
    const char *bad[][2] = {
        {"--threads", "0"},        {"--threads", "65"},         {"--retries", "x"},
        {"--max-body", "0"},       {"--idle-timeout", "0"},     {"--timeout", "-1"},
        {"--upstream", "ftp://x"}, {"--upstream", "=http://x"}, {"--upstream-client", "wget"},
        {"--listen", "[::1"}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"serve", (char *)bad[i][0], (char *)bad[i][1]};
        assert_int_equal(read_all(&o, 3, argv), -1);
    }
    char *missing[] = {"serve", "--timeout"};
    assert_int_equal(read_all(&o, 2, missing), -1);
    /* not the runtime's: the command's own (--port, --stdio) or a positional */
    char *own[] = {"mcp", "--stdio"};
    assert_int_equal(read_all(&o, 2, own), 0);
    char *file[] = {"serve", "cap.yaml"};
    assert_int_equal(read_all(&o, 2, file), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(serve_and_mcp_share_the_upstream_defaults),
        cmocka_unit_test(upstream_takes_a_url_or_ns_equals_url),
        cmocka_unit_test(durations_sizes_and_counts),
        cmocka_unit_test(bad_values_and_foreign_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
