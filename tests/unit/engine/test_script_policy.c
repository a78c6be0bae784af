/* Unit tests for src/engine/script_policy.c, the runtime scripting settings: updates,
 * string lifetime, no torn reads under concurrent readers and a writer. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <pthread.h>

#include "engine/script_policy.h"

/* ---- scripting settings --------------------------------------------------------------- */

static void policy_from_the_spec_and_updates(void **state)
{
    const char *langs[] = {"javascript", "python"};
    cg_control_adapter c = {.has_scripting = true,
                            .scripting = true,
                            .script_location = "file:///app/scripts",
                            .script_language = "javascript",
                            .script_timeout_ms = 3000,
                            .script_languages = langs,
                            .n_script_languages = 2};
    cg_script_policy *p = cg_script_policy_create(&c);
    cg_script_policy_view v;
    cg_script_policy_get(p, &v);
    assert_true(v.enabled);
    assert_int_equal(v.timeout_ms, 3000);
    assert_int_equal(v.statement_limit, CG_SCRIPT_DEFAULT_STATEMENTS);
    assert_int_equal(v.n_languages, 2);
    cg_script_settings set;
    cg_script_limits lim;
    cg_script_policy_snapshot(p, &set, &lim);
    const char *old_location = set.default_location;
    assert_string_equal(old_location, "file:///app/scripts");
    assert_int_equal(set.allowed, CG_SCRIPT_LANG_BIT(CG_SCRIPT_JAVASCRIPT) |
                                      CG_SCRIPT_LANG_BIT(CG_SCRIPT_PYTHON));
    v.enabled = false;
    v.timeout_ms = 10;
    v.default_location = "file:///new";
    v.n_languages = 0;
    assert_int_equal(cg_script_policy_set(p, &v), 0);
    cg_script_policy_snapshot(p, &set, &lim);
    assert_true(set.disabled);
    assert_int_equal(lim.timeout_ms, 10);
    assert_string_equal(set.default_location, "file:///new");
    assert_int_equal(set.allowed, 0);
    /* an earlier snapshot's string is still readable (retired, not freed) */
    assert_string_equal(old_location, "file:///app/scripts");
    cg_script_policy_free(p);
}

typedef struct race {
    cg_script_policy *p;
    volatile int stop;
    int torn;
} race;

static void *writer(void *arg)
{
    race *r = arg;
    for (int i = 0; i < 20000; i++) {
        cg_script_policy_view v;
        cg_script_policy_get(r->p, &v);
        v.timeout_ms = v.statement_limit = i % 2 ? 111 : 222;
        v.default_location = i % 2 ? "file:///111" : "file:///222";
        cg_script_policy_set(r->p, &v);
    }
    r->stop = 1;
    return NULL;
}

static void *reader(void *arg)
{
    race *r = arg;
    while (!r->stop) {
        cg_script_settings set;
        cg_script_limits lim;
        cg_script_policy_snapshot(r->p, &set, &lim);
        char want[32];
        snprintf(want, sizeof want, "file:///%ld", lim.timeout_ms);
        if (lim.timeout_ms != lim.statement_limit ||
            (set.default_location && lim.timeout_ms != CG_SCRIPT_DEFAULT_TIMEOUT_MS &&
             strcmp(set.default_location, want)))
            __atomic_add_fetch(&r->torn, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void policy_has_no_torn_reads(void **state)
{
    cg_control_adapter c = {.has_scripting = true,
                            .scripting = true,
                            .script_timeout_ms = 222,
                            .script_statement_limit = 222,
                            .script_location = "file:///222"};
    race r = {.p = cg_script_policy_create(&c)};
    pthread_t w, rd[2];
    pthread_create(&rd[0], NULL, reader, &r);
    pthread_create(&rd[1], NULL, reader, &r);
    pthread_create(&w, NULL, writer, &r);
    pthread_join(w, NULL);
    pthread_join(rd[0], NULL);
    pthread_join(rd[1], NULL);
    assert_int_equal(r.torn, 0);
    cg_script_policy_free(r.p);
}

static void policy_without_scripting_settings_is_enabled_with_defaults(void **state)
{
    cg_script_policy *p = cg_script_policy_create(NULL);
    cg_script_settings set;
    cg_script_limits lim;
    cg_script_policy_snapshot(p, &set, &lim);
    assert_false(set.disabled);
    assert_null(set.default_location);
    assert_int_equal(lim.timeout_ms, CG_SCRIPT_DEFAULT_TIMEOUT_MS);
    cg_script_policy_free(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(policy_from_the_spec_and_updates),
        cmocka_unit_test(policy_has_no_torn_reads),
        cmocka_unit_test(policy_without_scripting_settings_is_enabled_with_defaults),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
