/* Unit tests for src/mlbackend/modelstore.c: numbered model versions on disk, listed in
 * order, loaded back, and a model dir it cannot create. */
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

#include "mlbackend/fixture.h"
#include "mlbackend/modelstore.h"

typedef struct store_fixture {
    char dir[64];
} store_fixture;

static int store_setup(void **state)
{
    store_fixture *f = calloc(1, sizeof *f);
    if (tempdir_make(f->dir, sizeof f->dir, "modelstore") != 0) return -1;
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    store_fixture *f = *state;
    int rc = tempdir_remove(f->dir);
    free(f);
    return rc;
}

static void store_saves_numbered_versions_and_lists_them_in_order(void **state)
{
    store_fixture *f = *state;
    char err[256], path[256];
    cg_labelcfg cfg;
    parse_cfg(&cfg);
    cg_textclf *m = model_for(&cfg);
    assert_int_equal(cg_textclf_add(m, "great", 5, 0), 0);
    assert_int_equal(cg_textclf_add(m, "awful", 5, 1), 0);
    cg_trainset_stats st = {.tasks = 2, .documents = 2};
    assert_int_equal(cg_modelstore_latest(f->dir, 5, err, sizeof err), 0);
    long v = 0;
    for (long want = 1; want <= 11; want++) {
        assert_int_equal(cg_modelstore_save(f->dir, 5, m, &st, &v, err, sizeof err), 0);
        assert_int_equal(v, want);
    }
    /* Files that are not versions are ignored. */
    const char *junk[] = {"notes.json", "07.json", "3.json.bak", ".12.json.1.tmp", "0.json"};
    for (size_t i = 0; i < sizeof junk / sizeof *junk; i++) {
        snprintf(path, sizeof path, "%s/5/%s", f->dir, junk[i]);
        FILE *fp = fopen(path, "w");
        assert_non_null(fp);
        fclose(fp);
    }
    assert_int_equal(cg_modelstore_latest(f->dir, 5, err, sizeof err), 11);
    json_t *list = json_array();
    assert_int_equal(cg_modelstore_list(f->dir, 5, list, err, sizeof err), 0);
    char *s = json_dumps(list, JSON_COMPACT);
    assert_string_equal(s, "[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\",\"10\",\"11\"]");
    free(s);
    json_decref(list);
    /* Another project has none. */
    list = json_array();
    assert_int_equal(cg_modelstore_list(f->dir, 6, list, err, sizeof err), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    cg_textclf_free(m);
    cg_labelcfg_free(&cfg);
}

static void store_loads_what_it_saved(void **state)
{
    store_fixture *f = *state;
    char err[256];
    cg_labelcfg cfg;
    parse_cfg(&cfg);
    cg_textclf *m = model_for(&cfg);
    assert_int_equal(cg_textclf_add(m, "great lovely", 12, 0), 0);
    assert_int_equal(cg_textclf_add(m, "awful broken", 12, 1), 0);
    cg_trainset_stats st = {.tasks = 2, .documents = 2};
    long v;
    assert_int_equal(cg_modelstore_save(f->dir, 9, m, &st, &v, err, sizeof err), 0);
    cg_textclf *back = cg_modelstore_load(f->dir, 9, v, err, sizeof err);
    assert_non_null(back);
    double a[2], b[2];
    assert_int_equal(cg_textclf_predict(m, "so broken", 9, a),
                     cg_textclf_predict(back, "so broken", 9, b));
    assert_memory_equal(a, b, sizeof a);
    cg_textclf_free(back);
    assert_null(cg_modelstore_load(f->dir, 9, 2, err, sizeof err));
    assert_non_null(strstr(err, "9/2.json"));
    cg_textclf_free(m);
    cg_labelcfg_free(&cfg);
}

static void store_reports_a_model_dir_it_cannot_create(void **state)
{
    char err[256] = "";
    cg_labelcfg cfg;
    parse_cfg(&cfg);
    cg_textclf *m = model_for(&cfg);
    cg_trainset_stats st = {0};
    long v;
    assert_int_equal(cg_modelstore_save("/proc/no-such-dir/models", 1, m, &st, &v, err, sizeof err),
                     -1);
    assert_non_null(strstr(err, "cannot create"));
    cg_textclf_free(m);
    cg_labelcfg_free(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(store_saves_numbered_versions_and_lists_them_in_order,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(store_loads_what_it_saved, store_setup, store_teardown),
        cmocka_unit_test(store_reports_a_model_dir_it_cannot_create),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
