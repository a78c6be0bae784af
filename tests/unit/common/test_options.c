/* Unit tests for src/common/options.c: the integer, size and duration readers and the
 * command-line cursor every capgate command uses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "common/options.h"

static void int_takes_whole_numbers_in_range_only(void **state)
{
    long v = -7;
    assert_int_equal(cg_opt_parse_int("42", 1, 64, &v), 0);
    assert_int_equal(v, 42);
    assert_int_equal(cg_opt_parse_int("0", 0, 10, &v), 0);
    assert_int_equal(v, 0);
    v = -7;
    const char *bad[] = {"", "x", "65", "0", "4x", " 4", "+4", "4 ", "99999999999999999999", NULL};
    for (int i = 0; bad[i]; i++) assert_int_equal(cg_opt_parse_int(bad[i], 1, 64, &v), -1);
    assert_int_equal(v, -7); /* untouched on failure */
}

static void size_takes_k_m_g_suffixes(void **state)
{
    size_t v = 0;
    assert_int_equal(cg_opt_parse_size("10m", 1, (size_t)1 << 40, &v), 0);
    assert_int_equal(v, 10u << 20);
    assert_int_equal(cg_opt_parse_size("2K", 1, (size_t)1 << 40, &v), 0);
    assert_int_equal(v, 2048);
    assert_int_equal(cg_opt_parse_size("1g", 1, (size_t)1 << 40, &v), 0);
    assert_int_equal(v, (size_t)1 << 30);
    assert_int_equal(cg_opt_parse_size("512", 1, (size_t)1 << 40, &v), 0);
    assert_int_equal(v, 512);
    const char *bad[] = {"", "0", "-1", "1t", "m", "1mb", "2000g", "18446744073709551615k", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(cg_opt_parse_size(bad[i], 1, (size_t)1 << 40, &v), -1);
}

static void duration_counts_bare_numbers_in_the_options_unit(void **state)
{
    long ms = 0;
    assert_int_equal(cg_opt_parse_duration("30000", 1, 1, 86400000, &ms), 0);
    assert_int_equal(ms, 30000);
    assert_int_equal(cg_opt_parse_duration("60", 1000, 1000, 86400000, &ms), 0);
    assert_int_equal(ms, 60000);
    assert_int_equal(cg_opt_parse_duration("1.5", 1000, 0, 86400000, &ms), 0);
    assert_int_equal(ms, 1500);
    assert_int_equal(cg_opt_parse_duration("250ms", 1000, 0, 86400000, &ms), 0);
    assert_int_equal(ms, 250);
    assert_int_equal(cg_opt_parse_duration("3s", 1, 1, 86400000, &ms), 0);
    assert_int_equal(ms, 3000);
    assert_int_equal(cg_opt_parse_duration("2m", 1, 1, 86400000, &ms), 0);
    assert_int_equal(ms, 120000);
    assert_int_equal(cg_opt_parse_duration("1h", 1, 1, 86400000, &ms), 0);
    assert_int_equal(ms, 3600000);
    const char *bad[] = {"", "-1", "x", "1d", "1e3", "0x10", "inf", "nan", "2h", "1 s", NULL};
    for (int i = 0; bad[i]; i++)
        assert_int_equal(cg_opt_parse_duration(bad[i], 1, 1, 3600000, &ms), -1);
}

static void cursor_reads_name_value_inline_value_and_arguments(void **state)
{
    char *argv[] = {"serve", "--threads", "4", "--max-body=2k", "file.yaml", "--", "--odd", NULL};
    cg_opts c;
    cg_opts_init(&c, "serve", 7, argv);
    long v;
    size_t sz;
    assert_true(cg_opts_next(&c));
    assert_true(cg_opts_is(&c, "--threads"));
    assert_false(cg_opts_is(&c, "--thread"));
    assert_int_equal(cg_opts_int(&c, 1, 64, &v), 0);
    assert_int_equal(v, 4);
    assert_true(cg_opts_next(&c));
    assert_true(cg_opts_is(&c, "--max-body"));
    assert_int_equal(cg_opts_size(&c, 1, 1 << 20, &sz), 0);
    assert_int_equal(sz, 2048);
    assert_true(cg_opts_next(&c));
    assert_string_equal(c.arg, "file.yaml");
    assert_true(cg_opts_next(&c)); /* "--" is skipped; what follows is an argument */
    assert_string_equal(c.arg, "--odd");
    assert_false(cg_opts_next(&c));
}

static void cursor_refuses_a_missing_or_bad_value(void **state)
{
    char *argv[] = {"mcp", "--workers", "x", "--port", NULL};
    cg_opts c;
    cg_opts_init(&c, "mcp", 4, argv);
    long v = 9;
    assert_true(cg_opts_next(&c));
    assert_int_equal(cg_opts_int(&c, 1, 64, &v), -1);
    assert_int_equal(v, 9);
    assert_true(cg_opts_next(&c));
    assert_true(cg_opts_is(&c, "--port"));
    assert_null(cg_opts_value(&c));
    static const char *const words[] = {"native", "curl", NULL};
    char *argv2[] = {"serve", "--upstream-client", "curl", "--upstream-client=x", NULL};
    cg_opts_init(&c, "serve", 4, argv2);
    assert_true(cg_opts_next(&c));
    assert_int_equal(cg_opts_choice(&c, words), 1);
    assert_true(cg_opts_next(&c));
    assert_int_equal(cg_opts_choice(&c, words), -1);
}

static void cursor_takes_listen_port_and_nonempty_paths(void **state)
{
    char *argv[] = {"studio", "--port=0",    "--listen", "0.0.0.0", "--db", "",
                    "--db=x", "--model-dir", "--port",   "65536",   NULL};
    cg_opts c;
    cg_opts_init(&c, "studio", 10, argv);
    const char *listen = "127.0.0.1";
    int port = 8000;
    assert_true(cg_opts_next(&c));
    assert_int_equal(cg_opts_listen_port(&c, &listen, &port), 1);
    assert_int_equal(port, 0);
    assert_true(cg_opts_next(&c));
    assert_int_equal(cg_opts_listen_port(&c, &listen, &port), 1);
    assert_string_equal(listen, "0.0.0.0");
    assert_true(cg_opts_next(&c));
    assert_int_equal(cg_opts_listen_port(&c, &listen, &port), 0); /* --db is not one of them */
    assert_null(cg_opts_nonempty(&c, "a path"));                  /* "" is refused */
    assert_true(cg_opts_next(&c));
    assert_string_equal(cg_opts_nonempty(&c, "a path"), "x");
    assert_true(cg_opts_next(&c));
    assert_true(cg_opts_is(&c, "--model-dir"));
    assert_string_equal(cg_opts_nonempty(&c, "a directory"), "--port"); /* takes the next word */
    assert_true(cg_opts_next(&c));
    assert_string_equal(c.arg, "65536");
    char *argv2[] = {"mlbackend", "--port", "65536", "--listen", NULL};
    cg_opts_init(&c, "mlbackend", 4, argv2);
    assert_true(cg_opts_next(&c));
    assert_int_equal(cg_opts_listen_port(&c, &listen, &port), -1);
    assert_int_equal(port, 0); /* untouched */
    assert_true(cg_opts_next(&c));
    assert_int_equal(cg_opts_listen_port(&c, &listen, &port), -1); /* needs a value */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(int_takes_whole_numbers_in_range_only),
        cmocka_unit_test(size_takes_k_m_g_suffixes),
        cmocka_unit_test(duration_counts_bare_numbers_in_the_options_unit),
        cmocka_unit_test(cursor_reads_name_value_inline_value_and_arguments),
        cmocka_unit_test(cursor_refuses_a_missing_or_bad_value),
        cmocka_unit_test(cursor_takes_listen_port_and_nonempty_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
