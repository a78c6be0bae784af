/*
 * store_tasks.c — studio's SQL for tasks with their annotations and predictions: reads of
 * one task, a page or an export (rendered by render.c), the tasks still to predict, the
 * inserts every write path shares, task import in one transaction, and annotation
 * creation. See store.h for the contract and store_int.h for the shared helpers.
 */
#include "studio/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "studio/store_int.h"

/* ---- tasks, annotations, predictions -------------------------------------------------- */

json_t *cg__st_rows_locked(cg_studio_store *s, const char *sql, int64_t a, int64_t b,
                           json_t *(*row)(sqlite3_stmt *, cg_studio_store *))
{
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (!st) return NULL;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) >= 2) sqlite3_bind_int64(st, 2, b);
    json_t *arr = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) json_array_append_new(arr, row(st, s));
    if (r != SQLITE_DONE) {
        cg__st_log_db_error(s, "rows");
        json_decref(arr);
        arr = NULL;
    }
    sqlite3_finalize(st);
    return arr;
}

json_t *cg_studio_store_annotations_json(cg_studio_store *s, int64_t task)
{
    LOCK(s);
    json_t *a = cg__st_rows_locked(s,
                                   "SELECT " ANNOTATION_COLS " FROM annotations WHERE task=? "
                                   "ORDER BY id",
                                   task, 0, cg__st_annotation_row_json);
    UNLOCK(s);
    return a;
}

json_t *cg_studio_store_predictions_json(cg_studio_store *s, int64_t task, int64_t project)
{
    LOCK(s);
    json_t *a;
    if (task)
        a = cg__st_rows_locked(s,
                               "SELECT " PREDICTION_COLS " FROM predictions WHERE task=? "
                               "ORDER BY id",
                               task, 0, cg__st_prediction_row);
    else if (project)
        a = cg__st_rows_locked(s,
                               "SELECT " PREDICTION_COLS " FROM predictions WHERE project=? "
                               "ORDER BY id",
                               project, 0, cg__st_prediction_row);
    else
        a = cg__st_rows_locked(s,
                               "SELECT " PREDICTION_COLS " FROM predictions WHERE ?=0 "
                               "ORDER BY id",
                               0, 0, cg__st_prediction_row);
    UNLOCK(s);
    return a;
}

/* One task in the shape of Label Studio's JSON export (also used by the task endpoints and
 * sent to ML backends), with its annotations and predictions. */
json_t *cg__st_task_row_json(sqlite3_stmt *st, cg_studio_store *s)
{
    int64_t id = sqlite3_column_int64(st, 0);
    json_t *anns = cg__st_rows_locked(s,
                                      "SELECT " ANNOTATION_COLS " FROM annotations WHERE task=? "
                                      "ORDER BY id",
                                      id, 0, cg__st_annotation_row_json);
    json_t *preds = cg__st_rows_locked(s,
                                       "SELECT " PREDICTION_COLS " FROM predictions WHERE task=? "
                                       "ORDER BY id",
                                       id, 0, cg__st_prediction_row);
    return cg__st_task_render(st, anns, preds);
}

int cg_studio_store_task_project(cg_studio_store *s, int64_t task, int64_t *project)
{
    return cg__st_int(s, project, "SELECT project FROM tasks WHERE id=?", "i", task);
}

json_t *cg_studio_store_task_json(cg_studio_store *s, int64_t task)
{
    LOCK(s);
    json_t *a = cg__st_rows_locked(s, "SELECT " TASK_COLS " FROM tasks t WHERE t.id=?", task, 0,
                                   cg__st_task_row_json);
    UNLOCK(s);
    json_t *t = NULL;
    if (a && json_array_size(a) == 1) t = json_incref(json_array_get(a, 0));
    json_decref(a);
    return t;
}

json_t *cg_studio_store_task_page_json(cg_studio_store *s, int64_t project, int64_t page,
                                       int64_t page_size, int64_t *total)
{
    LOCK(s);
    json_t *a = NULL;
    *total = 0;
    if (cg__st_count_locked(s, "SELECT count(*) FROM tasks WHERE project=?", project, total) == 0) {
        char sql[512];
        snprintf(sql, sizeof sql,
                 "SELECT " TASK_COLS " FROM tasks t WHERE t.project=? "
                 "ORDER BY t.id LIMIT %lld OFFSET ?",
                 (long long)page_size);
        a = cg__st_rows_locked(s, sql, project, (page - 1) * page_size, cg__st_task_row_json);
    }
    UNLOCK(s);
    return a;
}

json_t *cg_studio_store_export_json(cg_studio_store *s, int64_t project, int all_tasks)
{
    LOCK(s);
    json_t *a = cg__st_rows_locked(
        s,
        all_tasks ? "SELECT " TASK_COLS " FROM tasks t WHERE t.project=? ORDER BY t.id"
                  : "SELECT " TASK_COLS " FROM tasks t WHERE t.project=? AND EXISTS (SELECT 1 FROM "
                    "annotations a WHERE a.task=t.id) ORDER BY t.id",
        project, 0, cg__st_task_row_json);
    UNLOCK(s);
    return a;
}

json_t *cg_studio_store_tasks_to_predict(cg_studio_store *s, int64_t project,
                                         const char *model_version, int64_t after, int limit)
{
    LOCK(s);
    json_t *arr = NULL;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT " TASK_COLS " FROM tasks t WHERE t.project=? AND "
                                      "t.id>? AND NOT EXISTS (SELECT 1 FROM predictions p WHERE "
                                      "p.task=t.id AND p.model_version=?) ORDER BY t.id LIMIT ?");
    if (st) {
        sqlite3_bind_int64(st, 1, project);
        sqlite3_bind_int64(st, 2, after);
        cg__st_bind_str(st, 3, model_version ? model_version : "");
        sqlite3_bind_int(st, 4, limit);
        arr = json_array();
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW)
            json_array_append_new(arr, cg__st_task_row_json(st, s));
        if (r != SQLITE_DONE) {
            cg__st_log_db_error(s, "tasks to predict");
            json_decref(arr);
            arr = NULL;
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return arr;
}

int cg_studio_store_count_to_predict(cg_studio_store *s, int64_t project, const char *model_version,
                                     int64_t *n)
{
    return cg__st_int(s, n,
                      "SELECT count(*) FROM tasks t WHERE t.project=? AND NOT EXISTS "
                      "(SELECT 1 FROM predictions p WHERE p.task=t.id AND p.model_version=?)",
                      "is", project, model_version ? model_version : "") < 0
               ? -1
               : 0;
}

int cg__st_insert_prediction_locked(cg_studio_store *s, int64_t task, int64_t project,
                                    json_t *result, int has_score, double score,
                                    const char *model_version, int64_t ml_backend, int64_t now)
{
    return cg__st_write_locked(s,
                               "INSERT INTO predictions(task,project,result,score,"
                               "model_version,ml_backend,created_at,updated_at) "
                               "VALUES(?,?,?,?,?,?,?,?)",
                               "iiJoszii", task, project, result, has_score, score,
                               model_version ? model_version : "", ml_backend, now, now);
}

int cg__st_insert_annotation_locked(cg_studio_store *s, int64_t task, int64_t project,
                                    json_t *result, int cancelled, int ground_truth,
                                    json_t *lead_time, int64_t user, int64_t now)
{
    return cg__st_write_locked(s,
                               "INSERT INTO annotations(task,project,result,was_cancelled,"
                               "ground_truth,lead_time,completed_by,created_at,updated_at) "
                               "VALUES(?,?,?,?,?,?,?,?,?)",
                               "iiJbbjiii", task, project, result, cancelled, ground_truth,
                               lead_time, user, now, now);
}

/* The "result" list of an imported annotation or prediction (what: which, i: its index in
 * task idx); NULL with the message in err when there is none. */
static json_t *item_result(json_t *v, const char *what, long long idx, size_t i, char *err,
                           size_t errlen)
{
    json_t *res = json_object_get(v, "result");
    if (!json_is_array(res))
        snprintf(err, errlen, "Task #%lld: %s %zu needs a \"result\" list", idx, what, i);
    return json_is_array(res) ? res : NULL;
}

/* Imports one item: a task with optional annotations/predictions. */
static int import_item_locked(cg_studio_store *s, int64_t project, json_t *item, int64_t idx,
                              int64_t *inner_id, int64_t user, int64_t now, json_int_t *n_ann,
                              json_int_t *n_pred, char *err, size_t errlen)
{
    json_t *data = item, *meta = NULL, *anns = NULL, *preds = NULL;
    if (!json_is_object(item)) {
        snprintf(err, errlen, "Task #%lld: a task must be a JSON object", (long long)idx);
        return CG_STORE_NOTFOUND;
    }
    json_t *d = json_object_get(item, "data");
    if (d) {
        if (!json_is_object(d)) {
            snprintf(err, errlen, "Task #%lld: \"data\" must be a JSON object", (long long)idx);
            return CG_STORE_NOTFOUND;
        }
        data = d;
        meta = json_object_get(item, "meta");
        anns = json_object_get(item, "annotations");
        if (!anns) anns = json_object_get(item, "completions");
        preds = json_object_get(item, "predictions");
    }
    int64_t task;
    int rc = cg__st_execf(s, 0, &task,
                          "INSERT INTO tasks(project,data,meta,inner_id,created_at,updated_at) "
                          "VALUES(?,?,coalesce(?,'{}'),?,?,?)",
                          "iJJiii", project, data, json_is_object(meta) ? meta : NULL, ++*inner_id,
                          now, now);
    if (rc) return rc;
    size_t i;
    json_t *v;
    if (json_is_array(anns)) {
        json_array_foreach(anns, i, v)
        {
            json_t *res = item_result(v, "annotation", idx, i, err, errlen);
            if (!res) return CG_STORE_NOTFOUND;
            if (cg__st_insert_annotation_locked(s, task, project, res,
                                                json_is_true(json_object_get(v, "was_cancelled")),
                                                json_is_true(json_object_get(v, "ground_truth")),
                                                json_object_get(v, "lead_time"), user, now))
                return -1;
            (*n_ann)++;
        }
    }
    if (json_is_array(preds)) {
        json_array_foreach(preds, i, v)
        {
            json_t *res = item_result(v, "prediction", idx, i, err, errlen);
            if (!res) return CG_STORE_NOTFOUND;
            json_t *sc = json_object_get(v, "score");
            json_t *mv = json_object_get(v, "model_version");
            if (cg__st_insert_prediction_locked(
                    s, task, project, res, json_is_number(sc), json_number_value(sc),
                    json_is_string(mv) ? json_string_value(mv) : "", 0, now))
                return -1;
            (*n_pred)++;
        }
    }
    return 0;
}

int cg_studio_store_tasks_import(cg_studio_store *s, int64_t project, json_t *items, int64_t user,
                                 json_t *counts, char *err, size_t errlen)
{
    LOCK(s);
    int rc = -1;
    int64_t inner_id = 0;
    json_int_t n_ann = 0, n_pred = 0;
    if (cg__st_exec_locked(s, "BEGIN IMMEDIATE") != 0) {
        snprintf(err, errlen, "database busy");
        UNLOCK(s);
        return -1;
    }
    sqlite3_stmt *st = cg__st_prep(s,
                                   "SELECT coalesce(max(inner_id),0) FROM tasks WHERE project=?");
    if (!st) goto import_out;
    sqlite3_bind_int64(st, 1, project);
    if (cg__st_query_int_locked(s, st, &inner_id) < 0) goto import_out;
    int64_t now = cg_studio_now_us();
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item)
    {
        rc = import_item_locked(s, project, item, (int64_t)i, &inner_id, user, now, &n_ann, &n_pred,
                                err, errlen);
        if (rc) goto import_out;
    }
    rc = cg__st_exec_locked(s, "COMMIT");
    if (rc == 0) {
        json_object_set_new(counts, "task_count", json_integer((json_int_t)json_array_size(items)));
        json_object_set_new(counts, "annotation_count", json_integer(n_ann));
        json_object_set_new(counts, "prediction_count", json_integer(n_pred));
    }
import_out:
    if (rc) {
        cg__st_exec_locked(s, "ROLLBACK");
        if (rc < 0) snprintf(err, errlen, "database error: %s", sqlite3_errmsg(s->db));
    }
    UNLOCK(s);
    return rc;
}

json_t *cg_studio_store_annotation_create(cg_studio_store *s, int64_t task, int64_t user,
                                          json_t *body, char *err, size_t errlen)
{
    LOCK(s);
    json_t *out = NULL;
    int64_t project;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT project FROM tasks WHERE id=?");
    if (!st) goto ann_out;
    sqlite3_bind_int64(st, 1, task);
    if (cg__st_query_int_locked(s, st, &project) != 0) {
        snprintf(err, errlen, "No Task matches the given query.");
        goto ann_out;
    }
    json_t *result = json_object_get(body, "result");
    json_t *no_result = result ? NULL : json_array(); /* an annotation without a result is [] */
    int rc = cg__st_insert_annotation_locked(s, task, project, result ? result : no_result,
                                             json_is_true(json_object_get(body, "was_cancelled")),
                                             json_is_true(json_object_get(body, "ground_truth")),
                                             json_object_get(body, "lead_time"), user,
                                             cg_studio_now_us());
    json_decref(no_result);
    if (rc != 0) {
        snprintf(err, errlen, "database error");
        goto ann_out;
    }
    json_t *rows = cg__st_rows_locked(s, "SELECT " ANNOTATION_COLS " FROM annotations WHERE id=?",
                                      sqlite3_last_insert_rowid(s->db), 0,
                                      cg__st_annotation_row_json);
    if (rows && json_array_size(rows) == 1) out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
ann_out:
    UNLOCK(s);
    return out;
}
