/* Unit tests for the mlbackend's pieces around the model: reading a Label Studio export
 * (trainset.c), versions on disk (modelstore.c), project ids and predictions without a
 * server (projects.c), and the JWT check of lsclient.c. */
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

#include "mlbackend/labelcfg.h"
#include "mlbackend/lsclient.h"
#include "mlbackend/modelstore.h"
#include "mlbackend/projects.h"
#include "mlbackend/textclf.h"
#include "mlbackend/trainset.h"

static const char CFG[] =
    "<View><Text name=\"text\" value=\"$text\"/><Choices name=\"sentiment\" toName=\"text\">"
    "<Choice value=\"Positive\"/><Choice value=\"Negative\"/></Choices></View>";

static void parse_cfg(cg_labelcfg *cfg)
{
    char err[256];
    assert_int_equal(cg_labelcfg_parse(CFG, strlen(CFG), cfg, err, sizeof err), 0);
}

static cg_textclf *model_for(const cg_labelcfg *cfg)
{
    char err[128];
    cg_textclf *m = cg_textclf_new((const char *const *)cfg->choices, cfg->n_choices, err, sizeof err);
    assert_non_null(m);
    return m;
}

/* ---- trainset ---------------------------------------------------------------------- */

static void export_counts_usable_annotations_and_skips_the_rest(void **state)
{
    const char *export_json =
        "[{\"id\":1,\"data\":{\"text\":\"lovely great\"},\"annotations\":["
        "  {\"was_cancelled\":false,\"result\":[{\"from_name\":\"sentiment\",\"to_name\":\"text\",\"type\":\"choices\",\"value\":{\"choices\":[\"Positive\"]}}]},"
        "  {\"was_cancelled\":true,\"result\":[{\"from_name\":\"sentiment\",\"type\":\"choices\",\"value\":{\"choices\":[\"Negative\"]}}]},"
        "  {\"result\":[{\"from_name\":\"sentiment\",\"type\":\"choices\",\"value\":{\"choices\":[\"Positive\",\"Maybe\"]}}]}]},"
        " {\"id\":2,\"data\":{\"text\":\"awful\"},\"annotations\":[{\"result\":["
        "  {\"from_name\":\"other\",\"type\":\"choices\",\"value\":{\"choices\":[\"Positive\"]}},"
        "  {\"from_name\":\"sentiment\",\"type\":\"labels\",\"value\":{\"labels\":[\"Positive\"]}},"
        "  {\"from_name\":\"sentiment\",\"type\":\"choices\",\"value\":{\"choices\":[\"Negative\"]}}]}]},"
        " {\"id\":3,\"data\":{\"body\":\"no text field\"},\"annotations\":[{\"result\":[]}]},"
        " {\"id\":4,\"data\":{\"text\":42}},"
        " {\"id\":5,\"data\":{\"text\":\"unlabelled\"},\"annotations\":\"junk\"},"
        " \"not a task\"]";
    cg_labelcfg cfg;
    parse_cfg(&cfg);
    cg_textclf *m = model_for(&cfg);
    json_t *tasks = json_loads(export_json, 0, NULL);
    assert_non_null(tasks);
    cg_trainset_stats st;
    char err[128];
    assert_int_equal(cg_trainset_add_export(m, &cfg, tasks, &st, err, sizeof err), 0);
    assert_int_equal(st.tasks, 6);
    assert_int_equal(st.documents, 3);   /* Positive twice for task 1, Negative for task 2 */
    /* cancelled, "Maybe", tasks 3, 4 and the string */
    assert_int_equal(st.skipped, 5);
    assert_int_equal(cg_textclf_n_docs(m), 3);
    assert_int_equal(cg_textclf_predict(m, "awful", 5, NULL), 1);
    json_decref(tasks);
    cg_textclf_free(m);
    cg_labelcfg_free(&cfg);
}

static void export_that_is_not_a_list_is_an_error(void **state)
{
    cg_labelcfg cfg;
    parse_cfg(&cfg);
    cg_textclf *m = model_for(&cfg);
    json_t *obj = json_loads("{\"detail\":\"Invalid token.\"}", 0, NULL);
    cg_trainset_stats st;
    char err[128] = "";
    assert_int_equal(cg_trainset_add_export(m, &cfg, obj, &st, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a JSON list"));
    json_decref(obj);
    cg_textclf_free(m);
    cg_labelcfg_free(&cfg);
}

/* ---- modelstore -------------------------------------------------------------------- */

typedef struct store_fixture {
    char dir[64];
} store_fixture;

static int store_setup(void **state)
{
    store_fixture *f = calloc(1, sizeof *f);
    strcpy(f->dir, "/tmp/cg-modelstore-XXXXXX");
    if (!mkdtemp(f->dir))
        return -1;
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    store_fixture *f = *state;
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
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
    assert_int_equal(cg_textclf_predict(m, "so broken", 9, a), cg_textclf_predict(back, "so broken", 9, b));
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
    assert_int_equal(cg_modelstore_save("/proc/no-such-dir/models", 1, m, &st, &v, err, sizeof err), -1);
    assert_non_null(strstr(err, "cannot create"));
    cg_textclf_free(m);
    cg_labelcfg_free(&cfg);
}

/* ---- projects ---------------------------------------------------------------------- */

static void project_ids_parse_the_label_studio_forms(void **state)
{
    const char *ok[] = {"\"12\"", "\"12.1764320000\"", "12", "\"1.\""};
    const long want[] = {12, 12, 12, 1};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_loads(ok[i], JSON_DECODE_ANY, NULL);
        assert_int_equal(cg_mlprojects_parse_id(v), want[i]);
        json_decref(v);
    }
    const char *bad[] = {"\"\"", "\"abc\"", "\"-3\"", "0", "-1", "\"12x\"", "null", "1.5", "\"99999999999\"", "\" 12\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *v = json_loads(bad[i], JSON_DECODE_ANY, NULL);
        assert_int_equal(cg_mlprojects_parse_id(v), -1);
        json_decref(v);
    }
    assert_int_equal(cg_mlprojects_parse_id(NULL), -1);
}

static void predictions_before_setup_need_a_label_config(void **state)
{
    char err[256];
    cg_mlprojects_options opt = {.model_dir = "/tmp/cg-no-models-here"};
    cg_mlprojects *r = cg_mlprojects_new(&opt, err, sizeof err);
    assert_non_null(r);
    cg_mlproject *p = cg_mlprojects_get(r, 3);
    assert_non_null(p);
    assert_ptr_equal(p, cg_mlprojects_get(r, 3));
    json_t *tasks = json_loads("[{\"data\":{\"text\":\"hi\"}}]", 0, NULL);
    json_t *results = json_array();
    assert_int_equal(cg_mlproject_predict(p, NULL, tasks, NULL, results, err, sizeof err), -1);
    assert_non_null(strstr(err, "label config"));
    cg_labelcfg cfg;
    parse_cfg(&cfg);
    char version[32];
    cg_mlproject_setup(p, &cfg, CFG, "http://ls", "tok", version, sizeof version);
    assert_string_equal(version, CG_MLBACKEND_UNTRAINED);
    assert_null(cfg.choices);   /* taken over by the project */
    assert_int_equal(cg_mlprojects_last_setup(r), 3);
    assert_int_equal(cg_mlproject_predict(p, NULL, tasks, NULL, results, err, sizeof err), 0);
    char *s = json_dumps(results, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(3));
    assert_string_equal(s, "[{\"model_version\":\"untrained\",\"result\":[{\"from_name\":\"sentiment\","
                           "\"to_name\":\"text\",\"type\":\"choices\",\"value\":{\"choices\":[\"Positive\"]}}],"
                           "\"score\":0.5}]");
    free(s);
    json_decref(results);
    json_decref(tasks);
    cg_mlprojects_free(r);
}

static void training_without_label_studio_fails_clearly(void **state)
{
    char err[256];
    cg_mlprojects_options opt = {.model_dir = "/tmp/cg-no-models-here"};
    cg_mlprojects *r = cg_mlprojects_new(&opt, err, sizeof err);
    cg_mlproject *p = cg_mlprojects_get(r, 4);
    cg_mltrain_result res;
    cg_mlproject_train(p, NULL, 5, &res);
    assert_int_equal(res.finished, 1);
    assert_int_equal(res.status, 400);
    assert_non_null(strstr(res.error, "no label config"));
    cg_mlproject_train(p, CFG, 5, &res);
    assert_int_equal(res.status, 400);
    assert_non_null(strstr(res.error, "LABEL_STUDIO_URL"));
    cg_mlprojects_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(export_counts_usable_annotations_and_skips_the_rest),
        cmocka_unit_test(export_that_is_not_a_list_is_an_error),
        cmocka_unit_test_setup_teardown(store_saves_numbered_versions_and_lists_them_in_order, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(store_loads_what_it_saved, store_setup, store_teardown),
        cmocka_unit_test(store_reports_a_model_dir_it_cannot_create),
        cmocka_unit_test(project_ids_parse_the_label_studio_forms),
        cmocka_unit_test(predictions_before_setup_need_a_label_config),
        cmocka_unit_test(training_without_label_studio_fails_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
