/*
 * Unit tests for studio/store.h (src/studio/store.c, store_tasks.c, store_items.c,
 * store_ml.c) on a scratch SQLite file in a temporary directory: projects, tasks,
 * annotations, predictions, ML backends, webhooks, users and tokens, predict-all jobs, each
 * written, read back field by field, changed and deleted; what survives a reopen; and the
 * errors: missing rows (CG_STORE_NOTFOUND), constraint violations (-1, nothing written),
 * all-or-nothing imports. (test_studio.c covers the task import and the predict cursor.)
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

#include "studio/store.h"

typedef struct fixture {
    char dir[64], path[128];
    cg_studio_store *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (tempdir_make(f->dir, sizeof f->dir, "store") != 0) return -1;
    snprintf(f->path, sizeof f->path, "%s/studio.db", f->dir);
    char err[256];
    if (cg_studio_store_open(f->path, &f->s, err, sizeof err) != 0) {
        print_error("open: %s\n", err);
        return -1;
    }
    *state = f;
    return 0;
}

/* Removes the database and its WAL files, then the directory (fails when anything else was
 * left behind). */
static int teardown(void **state)
{
    fixture *f = *state;
    cg_studio_store_close(f->s);
    int rc = tempdir_remove_db(f->dir, f->path);
    free(f);
    return rc;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static json_int_t num(const json_t *o, const char *key)
{
    return json_integer_value(json_object_get(o, key));
}

static int64_t new_project(cg_studio_store *s, const char *title)
{
    cg_studio_project p = {
        .title = strdup(title),
        .label_config = strdup("<View><Text name=\"t\" value=\"$text\"/></View>"),
        .created_by = 1,
        .show_collab_predictions = 1};
    assert_int_equal(cg_studio_store_project_create(s, &p), 0);
    assert_true(p.id > 0);
    int64_t id = p.id;
    cg_studio_project_clear(&p);
    return id;
}

static int64_t new_task(cg_studio_store *s, int64_t project, const char *text)
{
    json_t *data = json_pack("{s:s}", "text", text);
    int64_t id = 0;
    assert_int_equal(cg_studio_store_task_create(s, project, data, NULL, &id), 0);
    json_decref(data);
    assert_true(id > 0);
    return id;
}

/* ---- projects ------------------------------------------------------------------------- */

static void projects_round_trip(void **state)
{
    fixture *f = *state;
    int64_t a = new_project(f->s, "first"), b = new_project(f->s, "second");
    assert_true(b > a);

    cg_studio_project p;
    assert_int_equal(cg_studio_store_project_get(f->s, a, &p), 0);
    assert_int_equal(p.id, a);
    assert_string_equal(p.title, "first");
    assert_string_equal(p.label_config, "<View><Text name=\"t\" value=\"$text\"/></View>");
    assert_string_equal(p.model_version, "");
    assert_int_equal(p.created_by, 1);
    assert_int_equal(p.show_collab_predictions, 1);
    assert_true(p.created_at > 0 && p.created_at == p.updated_at);
    cg_studio_project_clear(&p);

    /* an update changes the fields given, keeps the rest */
    cg_studio_project u = {.id = a, .description = "about", .show_collab_predictions = 0};
    assert_int_equal(cg_studio_store_project_update(f->s, &u), 0);
    assert_int_equal(cg_studio_store_project_set_model_version(f->s, a, "v7"), 0);
    assert_int_equal(cg_studio_store_project_get(f->s, a, &p), 0);
    assert_string_equal(p.title, "first");
    assert_string_equal(p.description, "about");
    assert_string_equal(p.model_version, "v7");
    assert_int_equal(p.show_collab_predictions, 0);
    assert_true(p.updated_at >= p.created_at);
    cg_studio_project_clear(&p);

    json_t *j = cg_studio_store_project_json(f->s, a);
    assert_int_equal(num(j, "id"), a);
    assert_string_equal(str(j, "title"), "first");
    assert_string_equal(str(j, "model_version"), "v7");
    assert_int_equal(num(j, "task_number"), 0);
    assert_false(json_is_true(json_object_get(j, "config_has_control_tags"))); /* <Text> only */
    json_decref(j);

    json_t *list = cg_studio_store_project_list_json(f->s, 1, 1);
    assert_int_equal(num(list, "count"), 2);
    json_t *results = json_object_get(list, "results");
    assert_int_equal(json_array_size(results), 1); /* page size 1, newest first */
    assert_int_equal(num(json_array_get(results, 0), "id"), b);
    json_decref(list);
    list = cg_studio_store_project_list_json(f->s, 2, 1);
    assert_int_equal(num(json_array_get(json_object_get(list, "results"), 0), "id"), a);
    json_decref(list);

    /* no such project */
    assert_int_equal(cg_studio_store_project_get(f->s, 999, &p), CG_STORE_NOTFOUND);
    assert_null(cg_studio_store_project_json(f->s, 999));
    u.id = 999;
    assert_int_equal(cg_studio_store_project_update(f->s, &u), CG_STORE_NOTFOUND);
}

/* ---- tasks, annotations, predictions ------------------------------------------------------ */

static void tasks_round_trip(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s, "p"), q = new_project(f->s, "q");
    int64_t t1 = new_task(f->s, p, "one"), t2 = new_task(f->s, p, "two");
    int64_t other = new_task(f->s, q, "elsewhere");

    json_t *t = cg_studio_store_task_json(f->s, t2);
    assert_int_equal(num(t, "id"), t2);
    assert_int_equal(num(t, "project"), p);
    assert_int_equal(num(t, "inner_id"), 2); /* numbered within its project */
    assert_string_equal(str(json_object_get(t, "data"), "text"), "two");
    assert_int_equal(json_object_size(json_object_get(t, "meta")), 0);
    assert_false(json_is_true(json_object_get(t, "is_labeled")));
    json_decref(t);
    t = cg_studio_store_task_json(f->s, other);
    assert_int_equal(num(t, "inner_id"), 1);
    json_decref(t);

    json_t *meta = json_pack("{s:s}", "source", "unit");
    assert_int_equal(cg_studio_store_task_update(f->s, t1, NULL, meta), 0);
    json_decref(meta);
    t = cg_studio_store_task_json(f->s, t1);
    assert_string_equal(str(json_object_get(t, "data"), "text"), "one"); /* kept */
    assert_string_equal(str(json_object_get(t, "meta"), "source"), "unit");
    json_decref(t);

    int64_t project = 0;
    assert_int_equal(cg_studio_store_task_project(f->s, other, &project), 0);
    assert_int_equal(project, q);
    assert_int_equal(cg_studio_store_task_project(f->s, 999, &project), CG_STORE_NOTFOUND);
    assert_null(cg_studio_store_task_json(f->s, 999));
    json_t *empty_meta = json_object();
    assert_int_equal(cg_studio_store_task_update(f->s, 999, NULL, empty_meta), CG_STORE_NOTFOUND);
    json_decref(empty_meta);

    int64_t total = 0;
    json_t *page = cg_studio_store_task_page_json(f->s, p, 1, 10, &total);
    assert_int_equal(total, 2);
    json_decref(page);

    int64_t next = 0, any = 0;
    assert_int_equal(cg_studio_store_next_task(f->s, p, &next), 0);
    assert_int_equal(next, t1);
    assert_int_equal(cg_studio_store_random_task(f->s, p, &any), 0);
    assert_true(any == t1 || any == t2);
    int64_t empty = new_project(f->s, "empty");
    assert_int_equal(cg_studio_store_random_task(f->s, empty, &any), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_next_task(f->s, empty, &next), CG_STORE_NOTFOUND);
}

static void annotations_round_trip(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s, "p");
    int64_t t1 = new_task(f->s, p, "one"), t2 = new_task(f->s, p, "two");
    char err[200] = "";
    json_t *body = json_loads(
        "{\"result\":[{\"type\":\"choices\",\"value\":{\"choices\":[\"A\"]}}],"
        "\"lead_time\":2.5}",
        0, NULL);
    json_t *a = cg_studio_store_annotation_create(f->s, t1, 1, body, err, sizeof err);
    json_decref(body);
    assert_non_null(a);
    int64_t id = num(a, "id");
    assert_int_equal(num(a, "task"), t1);
    assert_int_equal(num(a, "project"), p);
    assert_int_equal(num(a, "completed_by"), 1);
    assert_false(json_is_true(json_object_get(a, "was_cancelled")));
    assert_true(json_real_value(json_object_get(a, "lead_time")) == 2.5);
    json_t *choice = json_array_get(json_object_get(a, "result"), 0);
    assert_string_equal(str(choice, "type"), "choices");
    json_decref(a);

    /* the task now counts as labelled: the next task to label is the other one */
    int64_t next = 0;
    assert_int_equal(cg_studio_store_next_task(f->s, p, &next), 0);
    assert_int_equal(next, t2);
    json_t *t = cg_studio_store_task_json(f->s, t1);
    assert_int_equal(num(t, "total_annotations"), 1);
    assert_true(json_is_true(json_object_get(t, "is_labeled")));
    json_decref(t);
    json_t *pj = cg_studio_store_project_json(f->s, p);
    assert_int_equal(num(pj, "num_tasks_with_annotations"), 1);
    assert_int_equal(num(pj, "total_annotations_number"), 1);
    json_decref(pj);

    int64_t task = 0, project = 0;
    assert_int_equal(cg_studio_store_annotation_task(f->s, id, &task, &project), 0);
    assert_int_equal(task, t1);
    assert_int_equal(project, p);

    body = json_loads("{\"was_cancelled\":true,\"result\":[]}", 0, NULL);
    assert_int_equal(cg_studio_store_annotation_update(f->s, id, body), 0);
    json_decref(body);
    a = cg_studio_store_annotation_json(f->s, id);
    assert_true(json_is_true(json_object_get(a, "was_cancelled")));
    assert_int_equal(json_array_size(json_object_get(a, "result")), 0);
    assert_true(json_real_value(json_object_get(a, "lead_time")) == 2.5); /* kept */
    json_decref(a);
    json_t *list = cg_studio_store_annotations_json(f->s, t1);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);

    assert_int_equal(cg_studio_store_annotation_delete(f->s, id), 0);
    assert_null(cg_studio_store_annotation_json(f->s, id));
    assert_int_equal(cg_studio_store_annotation_delete(f->s, id), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_annotation_task(f->s, id, &task, &project), CG_STORE_NOTFOUND);

    /* on a task that does not exist: nothing written, and why */
    body = json_loads("{\"result\":[]}", 0, NULL);
    assert_null(cg_studio_store_annotation_create(f->s, 999, 1, body, err, sizeof err));
    json_decref(body);
    assert_string_equal(err, "No Task matches the given query.");
}

static void predictions_round_trip(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s, "p"), q = new_project(f->s, "q");
    int64_t t1 = new_task(f->s, p, "one"), t2 = new_task(f->s, p, "two"),
            tq = new_task(f->s, q, "other");
    json_t *result = json_loads("[{\"type\":\"choices\",\"value\":{\"choices\":[\"B\"]}}]", 0,
                                NULL);
    json_t *score = json_real(0.55);
    int64_t id = 0;
    assert_int_equal(cg_studio_store_prediction_create(f->s, t1, result, score, "m1", &id), 0);
    json_t *pr = cg_studio_store_prediction_json(f->s, id);
    assert_int_equal(num(pr, "task"), t1);
    assert_int_equal(num(pr, "project"), p);
    assert_string_equal(str(pr, "model_version"), "m1");
    assert_true(json_real_value(json_object_get(pr, "score")) == 0.55);
    assert_true(json_equal(json_object_get(pr, "result"), result));
    json_decref(pr);
    assert_int_equal(cg_studio_store_model_version_known(f->s, p, "m1"), 0);
    assert_int_equal(cg_studio_store_model_version_known(f->s, p, "m2"), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_model_version_known(f->s, q, "m1"), CG_STORE_NOTFOUND);

    /* update: a JSON null score clears it; the model version changes, the result stays */
    json_t *null = json_null();
    assert_int_equal(cg_studio_store_prediction_update(f->s, id, NULL, null, "m2"), 0);
    pr = cg_studio_store_prediction_json(f->s, id);
    assert_true(json_is_null(json_object_get(pr, "score")));
    assert_string_equal(str(pr, "model_version"), "m2");
    assert_true(json_equal(json_object_get(pr, "result"), result));
    json_decref(pr);

    /* on a task that does not exist */
    int64_t none = 0;
    assert_int_equal(cg_studio_store_prediction_create(f->s, 999, result, score, "m1", &none),
                     CG_STORE_NOTFOUND);

    /* an import is all or nothing: a task of another project fails it */
    char err[200] = "";
    json_t *items = json_pack("[{s:I,s:O,s:f,s:s},{s:I,s:O}]", "task", (json_int_t)t2, "result",
                              result, "score", 0.9, "model_version", "m3", "task", (json_int_t)tq,
                              "result", result);
    assert_int_equal(cg_studio_store_predictions_import(f->s, p, items, err, sizeof err),
                     CG_STORE_NOTFOUND);
    char want[128];
    snprintf(want, sizeof want, "Prediction #1: task %lld is not in project %lld", (long long)tq,
             (long long)p);
    assert_string_equal(err, want);
    json_decref(items);
    json_t *all = cg_studio_store_predictions_json(f->s, 0, p);
    assert_int_equal(json_array_size(all), 1); /* only the first one, from before */
    json_decref(all);
    assert_int_equal(cg_studio_store_model_version_known(f->s, p, "m3"), CG_STORE_NOTFOUND);

    items = json_pack("[{s:I,s:O,s:f,s:s}]", "task", (json_int_t)t2, "result", result, "score", 0.9,
                      "model_version", "m3");
    assert_int_equal(cg_studio_store_predictions_import(f->s, p, items, err, sizeof err), 0);
    json_decref(items);
    all = cg_studio_store_predictions_json(f->s, t2, 0);
    assert_int_equal(json_array_size(all), 1);
    assert_string_equal(str(json_array_get(all, 0), "model_version"), "m3");
    json_decref(all);

    assert_int_equal(cg_studio_store_prediction_delete(f->s, id), 0);
    assert_null(cg_studio_store_prediction_json(f->s, id));
    assert_int_equal(cg_studio_store_prediction_delete(f->s, id), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_prediction_update(f->s, id, NULL, NULL, "x"),
                     CG_STORE_NOTFOUND);
    json_decref(null);
    json_decref(score);
    json_decref(result);
}

/* ---- ML backends, webhooks, jobs ------------------------------------------------------------- */

static void ml_backends_round_trip(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s, "p");
    cg_studio_mlb m = {.project = p,
                       .state = "DI",
                       .is_interactive = 1,
                       .url = strdup("http://127.0.0.1:9090"),
                       .title = strdup("nb"),
                       .auth_method = strdup("BASIC_AUTH"),
                       .basic_auth_user = strdup("u"),
                       .basic_auth_pass = strdup("p@ss"),
                       .extra_params = strdup("{\"k\":1}"),
                       .timeout = 12.5,
                       .auto_update = 1};
    assert_int_equal(cg_studio_store_mlb_create(f->s, &m), 0);
    int64_t id = m.id;
    assert_true(id > 0);
    cg_studio_mlb_clear(&m);

    cg_studio_mlb g;
    assert_int_equal(cg_studio_store_mlb_get(f->s, id, &g), 0);
    assert_int_equal(g.project, p);
    assert_string_equal(g.state, "DI");
    assert_int_equal(g.is_interactive, 1);
    assert_string_equal(g.url, "http://127.0.0.1:9090");
    assert_string_equal(g.title, "nb");
    assert_string_equal(g.auth_method, "BASIC_AUTH");
    assert_string_equal(g.basic_auth_user, "u");
    assert_string_equal(g.basic_auth_pass, "p@ss");
    assert_string_equal(g.extra_params, "{\"k\":1}");
    assert_null(g.description);
    assert_null(g.error_message);
    assert_true(g.timeout == 12.5);
    assert_int_equal(g.auto_update, 1);
    assert_int_equal(cg_studio_store_model_version_known(f->s, p, "nb"), 0); /* its title */

    /* save: every column, updated_at moves */
    snprintf(g.state, sizeof g.state, "ER");
    free(g.error_message);
    g.error_message = strdup("connection refused");
    int64_t before = g.updated_at;
    usleep(2000);
    assert_int_equal(cg_studio_store_mlb_save(f->s, &g), 0);
    cg_studio_mlb_clear(&g);
    assert_int_equal(cg_studio_store_mlb_get(f->s, id, &g), 0);
    assert_string_equal(g.state, "ER");
    assert_string_equal(g.error_message, "connection refused");
    assert_true(g.updated_at > before);

    /* ids by interactivity */
    cg_studio_mlb m2 = {.project = p, .state = "CO", .url = strdup("http://127.0.0.1:9091")};
    assert_int_equal(cg_studio_store_mlb_create(f->s, &m2), 0);
    int64_t *ids = NULL;
    size_t n = 0;
    assert_int_equal(cg_studio_store_mlb_ids(f->s, p, -1, &ids, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], id);
    assert_int_equal(ids[1], m2.id);
    free(ids);
    assert_int_equal(cg_studio_store_mlb_ids(f->s, p, 0, &ids, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], m2.id);
    free(ids);
    cg_studio_mlb_clear(&m2);

    /* a job of the backend is cancelled when the backend goes */
    cg_studio_job j = {.ml_backend = id,
                       .project = p,
                       .model_version = "nb",
                       .batch_size = 5,
                       .status = "queued",
                       .total = 3};
    assert_int_equal(cg_studio_store_job_create(f->s, &j), 0);
    int64_t job = j.id;
    int64_t *unfinished = NULL;
    assert_int_equal(cg_studio_store_jobs_unfinished(f->s, &unfinished, &n), 0);
    assert_int_equal(n, 1);
    assert_int_equal(unfinished[0], job);
    free(unfinished);

    assert_int_equal(cg_studio_store_mlb_delete(f->s, id), 0);
    assert_int_equal(cg_studio_store_mlb_get(f->s, id, &m2), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_mlb_delete(f->s, id), CG_STORE_NOTFOUND);
    cg_studio_job got;
    assert_int_equal(cg_studio_store_job_get(f->s, job, &got), 0);
    assert_string_equal(got.status, "cancelled");
    assert_string_equal(got.error, "ML backend deleted");
    assert_true(got.finished_at > 0);
    cg_studio_job_clear(&got);
    assert_int_equal(cg_studio_store_jobs_unfinished(f->s, &unfinished, &n), 0);
    assert_int_equal(n, 0);
    free(unfinished);

    /* saving a backend that is gone */
    assert_int_equal(cg_studio_store_mlb_save(f->s, &g), CG_STORE_NOTFOUND);
    cg_studio_mlb_clear(&g);
}

static void webhooks_and_jobs(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s, "p");
    assert_int_equal(cg_studio_store_webhook_ensure(f->s, p, "http://127.0.0.1:1/hook"), 0);
    assert_int_equal(cg_studio_store_webhook_ensure(f->s, p, "http://127.0.0.1:1/hook"), 0);
    assert_int_equal(cg_studio_store_webhook_ensure(f->s, p, "http://127.0.0.1:2/hook"), 0);
    json_t *urls = NULL;
    assert_int_equal(cg_studio_store_webhook_urls(f->s, p, &urls), 0);
    assert_int_equal(json_array_size(urls), 2); /* one per (project, url) */
    assert_string_equal(json_string_value(json_array_get(urls, 0)), "http://127.0.0.1:1/hook");
    json_decref(urls);

    cg_studio_job j = {.ml_backend = 4,
                       .project = p,
                       .model_version = "v",
                       .batch_size = 2,
                       .status = "queued",
                       .total = 10};
    assert_int_equal(cg_studio_store_job_create(f->s, &j), 0);
    cg_studio_job got;
    assert_int_equal(cg_studio_store_job_latest(f->s, 4, &got), 0);
    assert_int_equal(got.id, j.id);
    assert_string_equal(got.model_version, "v");
    assert_int_equal(got.batch_size, 2);
    assert_int_equal(got.total, 10);
    assert_int_equal(got.predicted, 0);
    snprintf(got.status, sizeof got.status, "completed");
    got.predicted = 9;
    got.failed = 1;
    got.cursor = 77;
    assert_int_equal(cg_studio_store_job_save(f->s, &got), 0);
    cg_studio_job_clear(&got);
    assert_int_equal(cg_studio_store_job_get(f->s, j.id, &got), 0);
    assert_string_equal(got.status, "completed");
    assert_int_equal(got.predicted, 9);
    assert_int_equal(got.failed, 1);
    assert_int_equal(got.cursor, 77);
    cg_studio_job_clear(&got);
    assert_int_equal(cg_studio_store_job_get(f->s, 999, &got), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_job_latest(f->s, 999, &got), CG_STORE_NOTFOUND);
}

/* ---- users and tokens ------------------------------------------------------------------------- */

static void users_and_tokens(void **state)
{
    fixture *f = *state;
    char *key = NULL;
    int64_t user = 0;
    int rc = cg_studio_store_admin_key(f->s, &key);
    assert_true(rc == 0 || rc == CG_STORE_NOTFOUND);
    free(key);
    assert_int_equal(cg_studio_store_admin_set_key(f->s, "k1"), 0);
    assert_int_equal(cg_studio_store_admin_set_key(f->s, "k2"), 0); /* replaced, one admin */
    assert_int_equal(cg_studio_store_admin_key(f->s, &key), 0);
    assert_string_equal(key, "k2");
    free(key);
    assert_int_equal(cg_studio_store_user_by_key(f->s, "k2", &user), 0);
    assert_int_equal(user, 1);
    assert_int_equal(cg_studio_store_user_by_key(f->s, "k1", &user), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_user_exists(f->s, 1), 0);
    assert_int_equal(cg_studio_store_user_exists(f->s, 2), CG_STORE_NOTFOUND);
    json_t *u = cg_studio_store_user_json(f->s, 1);
    assert_int_equal(num(u, "id"), 1);
    assert_string_equal(str(u, "email"), "admin@localhost");
    json_decref(u);

    int64_t later = cg_studio_now_us() / 1000000 + 3600;
    assert_int_equal(cg_studio_store_pat_add(f->s, "jti-0123456789", 1, later), 0);
    assert_int_equal(cg_studio_store_pat_add(f->s, "jti-expired", 1, 1), 0);
    /* the same jti twice: a primary key violation, refused */
    assert_int_equal(cg_studio_store_pat_add(f->s, "jti-0123456789", 1, later), -1);
    assert_int_equal(cg_studio_store_pat_valid(f->s, "jti-0123456789"), 0);
    assert_int_equal(cg_studio_store_pat_valid(f->s, "unknown"), CG_STORE_NOTFOUND);
    json_t *list = NULL;
    assert_int_equal(cg_studio_store_pat_list(f->s, 1, &list), 0);
    assert_int_equal(json_array_size(list), 1); /* the expired one is not listed */
    assert_string_equal(str(json_array_get(list, 0), "token"), "jti-0123...");
    json_decref(list);
    assert_int_equal(cg_studio_store_pat_blacklist(f->s, "jti-0123456789"), 0);
    assert_int_equal(cg_studio_store_pat_valid(f->s, "jti-0123456789"), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_pat_blacklist(f->s, "jti-0123456789"), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_pat_list(f->s, 1, &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
}

/* ---- constraints and durability ----------------------------------------------------------- */

static void constraint_violations_write_nothing(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s, "p");
    /* an ML backend without a URL (NOT NULL) */
    cg_studio_mlb m = {.project = p, .state = "DI"};
    assert_int_equal(cg_studio_store_mlb_create(f->s, &m), -1);
    int64_t *ids = NULL;
    size_t n = 9;
    assert_int_equal(cg_studio_store_mlb_ids(f->s, p, -1, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
    /* the store still works afterwards */
    assert_true(new_project(f->s, "after") > p);
}

static void what_was_written_survives_a_reopen(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s, "kept");
    int64_t t = new_task(f->s, p, "kept too");
    assert_int_equal(cg_studio_store_meta_set(f->s, "jwt_secret", "s3"), 0);
    assert_int_equal(cg_studio_store_meta_set(f->s, "jwt_secret", "s4"), 0);
    cg_studio_store_close(f->s);
    f->s = NULL;
    char err[256];
    assert_int_equal(cg_studio_store_open(f->path, &f->s, err, sizeof err), 0);
    cg_studio_project got;
    assert_int_equal(cg_studio_store_project_get(f->s, p, &got), 0);
    assert_string_equal(got.title, "kept");
    cg_studio_project_clear(&got);
    json_t *task = cg_studio_store_task_json(f->s, t);
    assert_string_equal(str(json_object_get(task, "data"), "text"), "kept too");
    json_decref(task);
    char *v = NULL;
    assert_int_equal(cg_studio_store_meta_get(f->s, "jwt_secret", &v), 0);
    assert_string_equal(v, "s4");
    free(v);
    /* the file itself is a database: not a directory, not empty */
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_true(S_ISREG(st.st_mode) && st.st_size > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(projects_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(tasks_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(annotations_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(predictions_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(ml_backends_round_trip, setup, teardown),
        cmocka_unit_test_setup_teardown(webhooks_and_jobs, setup, teardown),
        cmocka_unit_test_setup_teardown(users_and_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(constraint_violations_write_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(what_was_written_survives_a_reopen, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
