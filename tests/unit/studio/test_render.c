/*
 * Unit tests for studio/render.h: Label Studio's time format, ML backend and predict-all run
 * records as JSON, the column helpers on a scratch SQLite statement, and tasks and projects
 * rendered from the rows of a scratch studio database (written through the store API).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "tempdir.h"

#include "studio/render.h"
#include "studio/store.h"

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void time_format(void **state)
{
    char t[32];
    cg_studio_format_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
    cg_studio_format_time(INT64_C(1764342000123456), t);
    assert_string_equal(t, "2025-11-28T15:00:00.123456Z");
    cg_studio_format_time(INT64_C(1764342000000001), t);
    assert_string_equal(t, "2025-11-28T15:00:00.000001Z");
    cg_studio_format_time(-5, t); /* before the epoch: clamped */
    assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
}

static void mlb_json_shape(void **state)
{
    cg_studio_mlb m = {.id = 3,
                       .project = 9,
                       .state = "ER",
                       .is_interactive = 1,
                       .url = "http://127.0.0.1:9090",
                       .error_message = "refused",
                       .auth_method = "BASIC_AUTH",
                       .basic_auth_user = "u",
                       .basic_auth_pass = "secret-pass",
                       .extra_params = "{\"k\":[1]}",
                       .timeout = 100.5,
                       .created_at = INT64_C(1764342000123456),
                       .updated_at = INT64_C(1764342001000000),
                       .auto_update = 1};
    json_t *o = cg_studio_mlb_json(&m);
    assert_int_equal(json_integer_value(json_object_get(o, "id")), 3);
    assert_int_equal(json_integer_value(json_object_get(o, "project")), 9);
    assert_string_equal(str(o, "state"), "ER");
    assert_string_equal(str(o, "readable_state"), "Error");
    assert_true(json_is_true(json_object_get(o, "is_interactive")));
    assert_string_equal(str(o, "error_message"), "refused");
    assert_true(json_is_null(json_object_get(o, "title"))); /* NULL string: null */
    assert_true(json_is_null(json_object_get(o, "model_version")));
    assert_string_equal(str(o, "auth_method"), "BASIC_AUTH");
    assert_true(json_is_true(json_object_get(o, "basic_auth_pass_is_set")));
    assert_int_equal(json_integer_value(json_array_get(
                         json_object_get(json_object_get(o, "extra_params"), "k"), 0)),
                     1);
    assert_true(json_real_value(json_object_get(o, "timeout")) == 100.5);
    assert_string_equal(str(o, "created_at"), "2025-11-28T15:00:00.123456Z");
    assert_string_equal(str(o, "updated_at"), "2025-11-28T15:00:01.000000Z");
    char *text = json_dumps(o, 0);
    assert_null(strstr(text, "secret-pass")); /* the password is write-only */
    free(text);
    json_decref(o);

    cg_studio_mlb bare = {.id = 1, .state = "CO"};
    o = cg_studio_mlb_json(&bare);
    assert_string_equal(str(o, "readable_state"), "Connected");
    assert_string_equal(str(o, "url"), "");
    assert_string_equal(str(o, "auth_method"), "NONE");
    assert_true(json_is_false(json_object_get(o, "basic_auth_pass_is_set")));
    assert_true(json_is_null(json_object_get(o, "extra_params")));
    json_decref(o);
    const char *states[][2] = {{"TR", "Training"}, {"PR", "Predicting"}, {"DI", "Disconnected"}};
    for (int i = 0; i < 3; i++) {
        cg_studio_mlb s = {.state = ""};
        memcpy(s.state, states[i][0], 3);
        o = cg_studio_mlb_json(&s);
        assert_string_equal(str(o, "readable_state"), states[i][1]);
        json_decref(o);
    }
}

static void job_json_shape(void **state)
{
    cg_studio_job j = {.id = 4,
                       .ml_backend = 2,
                       .project = 1,
                       .model_version = "v7",
                       .batch_size = 50,
                       .status = "running",
                       .total = 10,
                       .predicted = 3,
                       .failed = 1,
                       .created_at = INT64_C(1764342000000000),
                       .started_at = INT64_C(1764342000000000),
                       .finished_at = INT64_C(1764342002000000)};
    json_t *o = cg_studio_job_json(&j);
    assert_string_equal(str(o, "status"), "running");
    assert_string_equal(str(o, "model_version"), "v7");
    assert_int_equal(json_integer_value(json_object_get(o, "batch_size")), 50);
    assert_int_equal(json_integer_value(json_object_get(o, "remaining")), 6);
    assert_true(json_real_value(json_object_get(o, "progress")) == 0.4);
    assert_true(json_real_value(json_object_get(o, "tasks_per_second")) == 1.5); /* 3 in 2 s */
    assert_string_equal(str(o, "started_at"), "2025-11-28T15:00:00.000000Z");
    assert_string_equal(str(o, "finished_at"), "2025-11-28T15:00:02.000000Z");
    assert_true(json_is_null(json_object_get(o, "error")));
    json_decref(o);

    /* nothing to do and completed: progress 1; never started: null times, 0/s */
    cg_studio_job done = {.id = 5, .status = "completed", .error = "none left"};
    o = cg_studio_job_json(&done);
    assert_true(json_real_value(json_object_get(o, "progress")) == 1.0);
    assert_int_equal(json_integer_value(json_object_get(o, "remaining")), 0);
    assert_true(json_is_null(json_object_get(o, "started_at")));
    assert_true(json_is_null(json_object_get(o, "finished_at")));
    assert_true(json_real_value(json_object_get(o, "tasks_per_second")) == 0.0);
    assert_string_equal(str(o, "error"), "none left");
    assert_string_equal(str(o, "model_version"), "");
    json_decref(o);
}

static void column_helpers(void **state)
{
    sqlite3 *db;
    assert_int_equal(sqlite3_open(":memory:", &db), SQLITE_OK);
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_prepare_v2(db,
                                        "SELECT NULL, '{\"a\":1}', 'not json', "
                                        "1764342000123456, 2.5, 7, '[1,2]'",
                                        -1, &st, NULL),
                     SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    json_t *v;
    assert_true(json_is_null(v = cg__st_col_json(st, 0)));
    json_decref(v);
    assert_true(json_is_null(v = cg__st_col_json_str(st, 0)));
    json_decref(v);
    assert_true(json_is_null(v = cg__st_col_time(st, 0)));
    json_decref(v);
    assert_true(json_is_null(v = cg__st_col_real_or_null(st, 0)));
    json_decref(v);
    assert_true(json_is_null(v = cg__st_col_int_or_null(st, 0)));
    json_decref(v);
    v = cg__st_col_json(st, 1);
    assert_int_equal(json_integer_value(json_object_get(v, "a")), 1);
    json_decref(v);
    v = cg__st_col_json_str(st, 1); /* the text itself, not parsed */
    assert_string_equal(json_string_value(v), "{\"a\":1}");
    json_decref(v);
    v = cg__st_col_json(st, 2); /* unparsable: kept as a string */
    assert_string_equal(json_string_value(v), "not json");
    json_decref(v);
    v = cg__st_col_time(st, 3);
    assert_string_equal(json_string_value(v), "2025-11-28T15:00:00.123456Z");
    json_decref(v);
    v = cg__st_col_real_or_null(st, 4);
    assert_true(json_real_value(v) == 2.5);
    json_decref(v);
    v = cg__st_col_int_or_null(st, 5);
    assert_int_equal(json_integer_value(v), 7);
    json_decref(v);
    v = cg__st_col_json(st, 6);
    assert_int_equal(json_array_size(v), 2);
    json_decref(v);
    sqlite3_finalize(st);
    sqlite3_close(db);

    v = cg__st_created_ago(0); /* long ago: days */
    assert_non_null(strstr(json_string_value(v), "\xc2\xa0"
                                                 "days"));
    json_decref(v);
}

/* ---- rows of a scratch database --------------------------------------------------------- */

typedef struct fixture {
    char dir[64], path[128];
    cg_studio_store *s;
    int64_t project;
} fixture;

static const char ITEMS[] =
    "[{\"data\":{\"text\":\"hello\"},"
    "\"annotations\":[{\"result\":[{\"from_name\":\"c\",\"to_name\":\"t\",\"type\":\"choices\","
    "\"value\":{\"choices\":[\"a\"]}}]}],"
    "\"predictions\":[{\"result\":[],\"score\":0.5,\"model_version\":\"v1\"}]},"
    "{\"text\":\"bare\"}]";

static int db_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (tempdir_make(f->dir, sizeof f->dir, "render") != 0) return -1;
    snprintf(f->path, sizeof f->path, "%s/studio.db", f->dir);
    char err[256];
    if (cg_studio_store_open(f->path, &f->s, err, sizeof err) != 0) return -1;
    cg_studio_project p = {.title = strdup("Ships"),
                           .label_config = strdup("<View><Text name=\"t\" value=\"$text\"/>"
                                                  "<Choices name=\"c\" toName=\"t\"><Choice "
                                                  "value=\"a\"/></Choices></View>"),
                           .created_by = 1};
    if (cg_studio_store_project_create(f->s, &p) != 0) return -1;
    f->project = p.id;
    cg_studio_project_clear(&p);
    json_t *items = json_loads(ITEMS, 0, NULL), *counts = json_object();
    int rc = cg_studio_store_tasks_import(f->s, f->project, items, 1, counts, err, sizeof err);
    json_decref(items);
    json_decref(counts);
    *state = f;
    return rc;
}

static int db_teardown(void **state)
{
    fixture *f = *state;
    cg_studio_store_close(f->s);
    int rc = tempdir_remove(f->dir);
    free(f);
    return rc;
}

static int looks_like_ls_time(const char *t)
{
    return t && strlen(t) == 27 && t[4] == '-' && t[10] == 'T' && t[19] == '.' && t[26] == 'Z';
}

static void task_rows_render_like_label_studio(void **state)
{
    fixture *f = *state;
    json_t *t = cg_studio_store_task_json(f->s, 1);
    assert_non_null(t);
    assert_int_equal(json_integer_value(json_object_get(t, "id")), 1);
    assert_int_equal(json_integer_value(json_object_get(t, "project")), f->project);
    assert_string_equal(str(json_object_get(t, "data"), "text"), "hello");
    assert_int_equal(json_object_size(json_object_get(t, "meta")), 0);
    assert_int_equal(json_integer_value(json_object_get(t, "total_annotations")), 1);
    assert_int_equal(json_integer_value(json_object_get(t, "total_predictions")), 1);
    assert_true(json_is_true(json_object_get(t, "is_labeled")));
    assert_true(looks_like_ls_time(str(t, "created_at")));
    assert_true(json_is_null(json_object_get(t, "file_upload")));

    json_t *ann = json_array_get(json_object_get(t, "annotations"), 0);
    assert_int_equal(json_integer_value(json_object_get(ann, "task")), 1);
    assert_int_equal(json_integer_value(json_object_get(ann, "completed_by")), 1);
    assert_true(json_is_false(json_object_get(ann, "was_cancelled")));
    assert_true(json_is_false(json_object_get(ann, "ground_truth")));
    assert_true(json_is_null(json_object_get(ann, "lead_time")));
    json_t *item = json_array_get(json_object_get(ann, "result"), 0);
    assert_string_equal(str(item, "from_name"), "c");
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(item, "value"), "choices"), 0)),
                        "a");
    assert_string_equal(str(ann, "created_ago"), "0\xc2\xa0minutes");

    json_t *pred = json_array_get(json_object_get(t, "predictions"), 0);
    assert_string_equal(str(pred, "model_version"), "v1");
    assert_true(json_real_value(json_object_get(pred, "score")) == 0.5);
    assert_int_equal(json_array_size(json_object_get(pred, "result")), 0);
    assert_true(json_is_null(json_object_get(pred, "cluster")));
    assert_int_equal(json_integer_value(json_object_get(pred, "task")), 1);
    json_decref(t);

    t = cg_studio_store_task_json(f->s, 2); /* a bare data object */
    assert_string_equal(str(json_object_get(t, "data"), "text"), "bare");
    assert_int_equal(json_array_size(json_object_get(t, "annotations")), 0);
    assert_int_equal(json_array_size(json_object_get(t, "predictions")), 0);
    assert_true(json_is_false(json_object_get(t, "is_labeled")));
    json_decref(t);
    assert_null(cg_studio_store_task_json(f->s, 99));
}

static void project_row_renders_its_counts(void **state)
{
    fixture *f = *state;
    json_t *p = cg_studio_store_project_json(f->s, f->project);
    assert_non_null(p);
    assert_string_equal(str(p, "title"), "Ships");
    assert_true(json_is_null(json_object_get(p, "description")));
    assert_int_equal(json_integer_value(json_object_get(p, "task_number")), 2);
    assert_int_equal(json_integer_value(json_object_get(p, "num_tasks_with_annotations")), 1);
    assert_int_equal(json_integer_value(json_object_get(p, "total_annotations_number")), 1);
    assert_int_equal(json_integer_value(json_object_get(p, "total_predictions_number")), 1);
    assert_int_equal(json_integer_value(json_object_get(p, "finished_task_number")), 1);
    assert_true(json_is_true(json_object_get(p, "config_has_control_tags")));
    assert_true(looks_like_ls_time(str(p, "created_at")));
    json_decref(p);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(time_format),
        cmocka_unit_test(mlb_json_shape),
        cmocka_unit_test(job_json_shape),
        cmocka_unit_test(column_helpers),
        cmocka_unit_test_setup_teardown(task_rows_render_like_label_studio, db_setup, db_teardown),
        cmocka_unit_test_setup_teardown(project_row_renders_its_counts, db_setup, db_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
