/*
 * Unit tests for cli/cli.h: `validate`, `tools` and `routes` run in-process with stdout and
 * stderr captured: exit codes (0 valid, 1 invalid, 2 usage), file:line:col messages, a
 * directory of specs counted, tools as tools/list shows them, routes as text.
 * Run from the repository root (make unit does).
 */
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

#include "tempdir.h"

#include <jansson.h>

#include "cli/cli.h"
#include "mcp/tool_schema.h"

#define PETS "tests/unit/spec_valid_pets.yaml"
#define BAD "tests/unit/spec_corpus/bad-method.yaml"

typedef struct output {
    int rc;
    char out[16384], err[8192];
} output;

static void slurp(FILE *f, char *buf, size_t size)
{
    rewind(f);
    size_t n = fread(buf, 1, size - 1, f);
    buf[n] = '\0';
    fclose(f);
}

/* Runs main with argv (NULL-terminated), stdout and stderr going to temporary files. */
static output *run(int (*main_fn)(int, char **), const char *const *args)
{
    static output o;
    char *argv[8];
    int argc = 0;
    while (args[argc] && argc < 7) {
        argv[argc] = (char *)args[argc];
        argc++;
    }
    argv[argc] = NULL;
    FILE *out = tmpfile(), *err = tmpfile();
    assert_non_null(out);
    assert_non_null(err);
    fflush(stdout);
    fflush(stderr);
    int saved_out = dup(1), saved_err = dup(2);
    dup2(fileno(out), 1);
    dup2(fileno(err), 2);
    optind = 0; /* in case a main uses getopt */
    o.rc = main_fn(argc, argv);
    fflush(stdout);
    fflush(stderr);
    dup2(saved_out, 1);
    dup2(saved_err, 2);
    close(saved_out);
    close(saved_err);
    slurp(out, o.out, sizeof o.out);
    slurp(err, o.err, sizeof o.err);
    return &o;
}

static void validate_exit_codes_and_messages(void **state)
{
    output *o = run(cg_cli_validate_main, (const char *[]){"validate", PETS, NULL});
    assert_int_equal(o->rc, 0);
    assert_string_equal(o->out, PETS ": ok (1 consumed operations, 1 REST operations on 1 "
                                     "routes, 1 MCP tools)\n");
    o = run(cg_cli_validate_main, (const char *[]){"validate", BAD, NULL});
    assert_int_equal(o->rc, 1);
    assert_string_equal(o->err, BAD ":19:17: 'method' in an operation must be one of GET, "
                                    "POST, PUT, PATCH, DELETE, not 'FETCH'\n");
    o = run(cg_cli_validate_main, (const char *[]){"validate", "/nonexistent/x.yaml", NULL});
    assert_int_equal(o->rc, 1);
    assert_non_null(strstr(o->err, "/nonexistent/x.yaml: cannot read: No such file"));
    o = run(cg_cli_validate_main, (const char *[]){"validate", NULL});
    assert_int_equal(o->rc, 2);
    assert_non_null(strstr(o->err, "no file given"));
    o = run(cg_cli_validate_main, (const char *[]){"validate", "--bogus", NULL});
    assert_int_equal(o->rc, 2);
    assert_non_null(strstr(o->err, "unknown option '--bogus'"));
    o = run(cg_cli_validate_main, (const char *[]){"validate", "--help", NULL});
    assert_int_equal(o->rc, 0);
    assert_non_null(strstr(o->out, "usage: capgate validate"));
}

static void validate_counts_a_directory(void **state)
{
    char dir[32];
    assert_int_equal(tempdir_make(dir, sizeof dir, "cli"), 0);
    char cmd[512];
    snprintf(cmd, sizeof cmd, "cp %s %s/a.yaml && cp %s %s/b.yml && echo 'x: 1' > %s/c.yaml", PETS,
             dir, BAD, dir, dir);
    assert_int_equal(system(cmd), 0);
    output *o = run(cg_cli_validate_main, (const char *[]){"validate", dir, NULL});
    assert_int_equal(o->rc, 1);
    char want[128];
    snprintf(want, sizeof want, "%s: 1 of 2 specs valid", dir); /* c.yaml is no spec */
    assert_non_null(strstr(o->out, want));
    snprintf(want, sizeof want, "%s/b.yml:19:17:", dir);
    assert_non_null(strstr(o->err, want));
    assert_int_equal(tempdir_remove(dir), 0);
}

static void tools_prints_what_tools_list_shows(void **state)
{
    output *o = run(cg_cli_tools_main, (const char *[]){"tools", PETS, NULL});
    assert_int_equal(o->rc, 0);
    json_t *printed = json_loads(o->out, 0, NULL);
    assert_non_null(printed);
    cg_spec *spec = NULL;
    assert_int_equal(cg_spec_load(PETS, &spec, NULL), CG_SPEC_OK);
    json_t *want = cg_mcp_tools_json(&spec->mcp[0]);
    assert_true(json_equal(printed, want));
    assert_string_equal(json_string_value(json_object_get(json_array_get(printed, 0), "name")),
                        "get-pet");
    json_decref(want);
    json_decref(printed);
    cg_spec_free(spec);

    o = run(cg_cli_tools_main, (const char *[]){"tools", PETS, PETS, NULL});
    assert_int_equal(o->rc, 2);
    assert_non_null(strstr(o->err, "one file at a time"));
    o = run(cg_cli_tools_main, (const char *[]){"tools", BAD, NULL});
    assert_int_equal(o->rc, 1);
    assert_non_null(strstr(o->err, ":19:17:"));
    assert_string_equal(o->out, "");
}

static void routes_prints_each_route_and_its_upstream(void **state)
{
    output *o = run(cg_cli_routes_main, (const char *[]){"routes", PETS, NULL});
    assert_int_equal(o->rc, 0);
    assert_non_null(strstr(o->out, "# REST adapter pets-rest on port 8080\n"));
    assert_non_null(strstr(o->out, "GET    /v1/pets/{id}\n"));
    assert_non_null(strstr(o->out, "-> GET http://localhost:8000/pets/{id}?verbose={verbose}"));
    assert_non_null(strstr(o->out, "(pets.get)"));
    assert_non_null(strstr(o->out, "path integer required -> path id"));
    o = run(cg_cli_routes_main, (const char *[]){"routes", "/nonexistent/x.yaml", NULL});
    assert_int_equal(o->rc, 1);
    assert_string_equal(o->out, "");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(validate_exit_codes_and_messages),
        cmocka_unit_test(validate_counts_a_directory),
        cmocka_unit_test(tools_prints_what_tools_list_shows),
        cmocka_unit_test(routes_prints_each_route_and_its_upstream),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
