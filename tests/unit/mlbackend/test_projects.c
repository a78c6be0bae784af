/* Unit tests for src/mlbackend/projects.c: project ids in the Label Studio forms, and
 * predictions and training without a label config or a Label Studio. */
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

#include "mlbackend/fixture.h"
#include "mlbackend/projects.h"

static void project_ids_parse_the_label_studio_forms(void **state)
{
    const char *ok[] = {"\"12\"", "\"12.1764320000\"", "12", "\"1.\""};
    const long want[] = {12, 12, 12, 1};
    for (size_t i = 0; i < 4; i++) {
        json_t *v = json_loads(ok[i], JSON_DECODE_ANY, NULL);
        assert_int_equal(cg_mlprojects_parse_id(v), want[i]);
        json_decref(v);
    }
    const char *bad[] = {"\"\"", "\"abc\"", "\"-3\"",          "0",      "-1", "\"12x\"",
                         "null", "1.5",     "\"99999999999\"", "\" 12\""};
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
    assert_null(cfg.choices); /* taken over by the project */
    assert_int_equal(cg_mlprojects_last_setup(r), 3);
    assert_int_equal(cg_mlproject_predict(p, NULL, tasks, NULL, results, err, sizeof err), 0);
    char *s = json_dumps(results, JSON_COMPACT | JSON_SORT_KEYS | JSON_REAL_PRECISION(3));
    assert_string_equal(
        s, "[{\"model_version\":\"untrained\",\"result\":[{\"from_name\":\"sentiment\","
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
        cmocka_unit_test(project_ids_parse_the_label_studio_forms),
        cmocka_unit_test(predictions_before_setup_need_a_label_config),
        cmocka_unit_test(training_without_label_studio_fails_clearly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
