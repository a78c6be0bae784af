/*
 * store_items.c — the SQL behind studio's item routes: project updates, single tasks,
 * predictions and annotations by id, imported predictions, the next task to label. See
 * store.h for the contract and store_int.h for the shared helpers. Rows are rendered by
 * render.c's row renderers, so an item reads the same on every route.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "studio/store_int.h"

/* ---- projects --------------------------------------------------------------------------- */

int cg_studio_store_project_update(cg_studio_store *s, const cg_studio_project *p)
{
    int scp = p->show_collab_predictions;
    json_t *keep = (scp == 0 || scp == 1) ? json_boolean(scp) : NULL; /* NULL: unchanged */
    int rc = cg__st_update(s,
                           "UPDATE projects SET title=coalesce(?1,title),"
                           "description=coalesce(?2,description),"
                           "label_config=coalesce(?3,label_config),"
                           "model_version=coalesce(?4,model_version),"
                           "show_collab_predictions=coalesce(?5,show_collab_predictions),"
                           "updated_at=?6 WHERE id=?7",
                           "ssssBii", p->title, p->description, p->label_config, p->model_version,
                           keep, cg_studio_now_us(), p->id);
    json_decref(keep);
    return rc;
}

int cg_studio_store_model_version_known(cg_studio_store *s, int64_t project,
                                        const char *model_version)
{
    int64_t one;
    return cg__st_int(s, &one,
                      "SELECT 1 WHERE EXISTS (SELECT 1 FROM predictions WHERE "
                      "project=?1 AND model_version=?2) OR EXISTS (SELECT 1 "
                      "FROM ml_backends WHERE project=?1 AND title=?2)",
                      "is", project, model_version);
}

int cg_studio_store_next_task(cg_studio_store *s, int64_t project, int64_t *task)
{
    return cg__st_int(s, task,
                      "SELECT t.id FROM tasks t WHERE t.project=? AND NOT "
                      "EXISTS (SELECT 1 FROM annotations a WHERE a.task=t.id) "
                      "ORDER BY t.id LIMIT 1",
                      "i", project);
}

/* ---- tasks ------------------------------------------------------------------------------ */

int cg_studio_store_task_create(cg_studio_store *s, int64_t project, json_t *data, json_t *meta,
                                int64_t *id)
{
    if (!data) return -1;
    return cg__st_insert(s, id,
                         "INSERT INTO tasks(project,data,meta,inner_id,created_at,"
                         "updated_at) VALUES(?1,?2,coalesce(?3,'{}'),(SELECT coalesce(max("
                         "inner_id),0)+1 FROM tasks WHERE project=?1),?4,?4)",
                         "iJJi", project, data, meta, cg_studio_now_us());
}

int cg_studio_store_task_update(cg_studio_store *s, int64_t id, json_t *data, json_t *meta)
{
    return cg__st_update(s,
                         "UPDATE tasks SET data=coalesce(?,data),meta=coalesce(?,meta),"
                         "updated_at=? WHERE id=?",
                         "JJii", data, meta, cg_studio_now_us(), id);
}

/* ---- predictions ------------------------------------------------------------------------ */

static int task_project_locked(cg_studio_store *s, int64_t task, int64_t *project)
{
    sqlite3_stmt *st = cg__st_prepf(s, "SELECT project FROM tasks WHERE id=?", "i", task);
    return st ? cg__st_query_int_locked(s, st, project) : -1;
}

int cg_studio_store_prediction_create(cg_studio_store *s, int64_t task, json_t *result,
                                      json_t *score, const char *model_version, int64_t *id)
{
    LOCK(s);
    int64_t project;
    int rc = task_project_locked(s, task, &project);
    if (rc == 0) {
        rc = cg__st_insert_prediction_locked(s, task, project, result, json_is_number(score),
                                             json_number_value(score), model_version, 0,
                                             cg_studio_now_us());
        if (rc == 0) *id = sqlite3_last_insert_rowid(s->db);
    }
    UNLOCK(s);
    return rc;
}

/* The one row sql (bound with id) selects, rendered by row; NULL when there is none. */
static json_t *row_by_id(cg_studio_store *s, const char *sql, int64_t id,
                         json_t *(*row)(sqlite3_stmt *, cg_studio_store *))
{
    LOCK(s);
    json_t *rows = cg__st_rows_locked(s, sql, id, 0, row);
    UNLOCK(s);
    json_t *o = rows && json_array_size(rows) == 1 ? json_incref(json_array_get(rows, 0)) : NULL;
    json_decref(rows);
    return o;
}

json_t *cg_studio_store_prediction_json(cg_studio_store *s, int64_t id)
{
    return row_by_id(s, "SELECT " PREDICTION_COLS " FROM predictions WHERE id=?", id,
                     cg__st_prediction_row);
}

int cg_studio_store_prediction_update(cg_studio_store *s, int64_t id, json_t *result, json_t *score,
                                      const char *model_version)
{
    return cg__st_update(s,
                         "UPDATE predictions SET result=coalesce(?1,result),"
                         "score=CASE WHEN ?2 THEN ?3 ELSE score END,"
                         "model_version=coalesce(?4,model_version),updated_at=?5 WHERE id=?6",
                         "Jbjsii", result, score != NULL, score, model_version, cg_studio_now_us(),
                         id);
}

static int delete_by_id(cg_studio_store *s, const char *sql, int64_t id)
{
    LOCK(s);
    int rc = cg__st_delete_by_id_locked(s, sql, id);
    UNLOCK(s);
    return rc;
}

int cg_studio_store_prediction_delete(cg_studio_store *s, int64_t id)
{
    return delete_by_id(s, "DELETE FROM predictions WHERE id=?", id);
}

int cg_studio_store_predictions_import(cg_studio_store *s, int64_t project, json_t *items,
                                       char *err, size_t errlen)
{
    LOCK(s);
    if (cg__st_exec_locked(s, "BEGIN IMMEDIATE") != 0) {
        UNLOCK(s);
        snprintf(err, errlen, "database busy");
        return -1;
    }
    int rc = 0;
    int64_t now = cg_studio_now_us();
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v)
    {
        int64_t task = json_integer_value(json_object_get(v, "task")), tp = 0;
        int r = task_project_locked(s, task, &tp);
        if (r < 0) {
            rc = -1;
            break;
        }
        if (r != 0 || tp != project) {
            snprintf(err, errlen, "Prediction #%zu: task %lld is not in project %lld", i,
                     (long long)task, (long long)project);
            rc = CG_STORE_NOTFOUND;
            break;
        }
        json_t *score = json_object_get(v, "score");
        json_t *mv = json_object_get(v, "model_version");
        if (cg__st_insert_prediction_locked(s, task, project, json_object_get(v, "result"),
                                            json_is_number(score), json_number_value(score),
                                            json_is_string(mv) ? json_string_value(mv) : "", 0,
                                            now) != 0) {
            rc = -1;
            break;
        }
    }
    if (rc == 0) rc = cg__st_exec_locked(s, "COMMIT");
    if (rc != 0) {
        cg__st_exec_locked(s, "ROLLBACK");
        if (rc < 0) snprintf(err, errlen, "database error");
    }
    UNLOCK(s);
    return rc;
}

/* ---- annotations ------------------------------------------------------------------------ */

json_t *cg_studio_store_annotation_json(cg_studio_store *s, int64_t id)
{
    return row_by_id(s, "SELECT " ANNOTATION_COLS " FROM annotations WHERE id=?", id,
                     cg__st_annotation_row_json);
}

static int fill_task_project(sqlite3_stmt *st, void *out)
{
    int64_t *tp = out;
    tp[0] = sqlite3_column_int64(st, 0);
    tp[1] = sqlite3_column_int64(st, 1);
    return 0;
}

int cg_studio_store_annotation_task(cg_studio_store *s, int64_t id, int64_t *task, int64_t *project)
{
    int64_t tp[2];
    int rc = cg__st_row_by_id(s, "SELECT task,project FROM annotations WHERE id=?", id,
                              "annotation", fill_task_project, tp);
    if (rc == 0) {
        *task = tp[0];
        *project = tp[1];
    }
    return rc;
}

int cg_studio_store_annotation_update(cg_studio_store *s, int64_t id, json_t *body)
{
    json_t *result = json_object_get(body, "result");
    json_t *lead = json_object_get(body, "lead_time");
    return cg__st_update(s,
                         "UPDATE annotations SET result=coalesce(?1,result),"
                         "was_cancelled=coalesce(?2,was_cancelled),"
                         "ground_truth=coalesce(?3,ground_truth),"
                         "lead_time=CASE WHEN ?4 THEN ?5 ELSE lead_time END,"
                         "updated_at=?6 WHERE id=?7",
                         "JBBbjii", result, json_object_get(body, "was_cancelled"),
                         json_object_get(body, "ground_truth"), lead != NULL, lead,
                         cg_studio_now_us(), id);
}

int cg_studio_store_annotation_delete(cg_studio_store *s, int64_t id)
{
    return delete_by_id(s, "DELETE FROM annotations WHERE id=?", id);
}

/* ---- personal access tokens ------------------------------------------------------------ */

int cg_studio_store_pat_list(cg_studio_store *s, int64_t user, json_t **out)
{
    *out = NULL;
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT jti,created_at,expires_at FROM refresh_tokens "
                                      "WHERE user_id=? AND blacklisted_at IS NULL AND "
                                      "expires_at>? ORDER BY created_at");
    if (st) {
        sqlite3_bind_int64(st, 1, user);
        sqlite3_bind_int64(st, 2, cg_studio_now_us() / 1000000);
        json_t *a = json_array();
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW) {
            char tok[64], exp[32];
            snprintf(tok, sizeof tok, "%.8s...", (const char *)sqlite3_column_text(st, 0));
            cg_studio_format_time(sqlite3_column_int64(st, 2) * 1000000, exp);
            json_array_append_new(a, json_pack("{s:s,s:o,s:s}", "token", tok, "created_at",
                                               cg__st_col_time(st, 1), "expires_at", exp));
        }
        if (r == SQLITE_DONE) {
            *out = a;
            rc = 0;
        } else {
            cg__st_log_db_error(s, "tokens");
            json_decref(a);
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_random_task(cg_studio_store *s, int64_t project, int64_t *task)
{
    return cg__st_int(s, task, "SELECT id FROM tasks WHERE project=? ORDER BY random() LIMIT 1",
                      "i", project);
}
