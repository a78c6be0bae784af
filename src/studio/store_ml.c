/*
 * store_ml.c — studio's SQL for ML backends, project webhooks and predict-all runs
 * (including the batch commit: a batch's predictions and the run's progress in one
 * transaction). See store.h for the contract and store_int.h for the shared helpers.
 */
#include "studio/store.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "studio/store_int.h"

/* ---- ML backends ---------------------------------------------------------------------- */

void cg_studio_mlb_clear(cg_studio_mlb *m)
{
    free(m->url);
    free(m->error_message);
    free(m->title);
    free(m->auth_method);
    free(m->basic_auth_user);
    free(m->basic_auth_pass);
    free(m->description);
    free(m->extra_params);
    free(m->model_version);
    memset(m, 0, sizeof *m);
}

static void bind_mlb_fields(sqlite3_stmt *st, const cg_studio_mlb *m)
{
    /* ?1..?14 in this order, shared by INSERT and UPDATE */
    cg__st_bind_str(st, 1, m->state);
    sqlite3_bind_int(st, 2, m->is_interactive);
    cg__st_bind_str(st, 3, m->url);
    cg__st_bind_str(st, 4, m->error_message);
    cg__st_bind_str(st, 5, m->title);
    cg__st_bind_str(st, 6, m->auth_method ? m->auth_method : "NONE");
    cg__st_bind_str(st, 7, m->basic_auth_user);
    cg__st_bind_str(st, 8, m->basic_auth_pass);
    cg__st_bind_str(st, 9, m->description);
    cg__st_bind_str(st, 10, m->extra_params);
    cg__st_bind_str(st, 11, m->model_version);
    sqlite3_bind_double(st, 12, m->timeout);
    sqlite3_bind_int(st, 13, m->auto_update);
    sqlite3_bind_int64(st, 14, m->updated_at);
}

/* INSERT or UPDATE with bind_mlb_fields' ?1..?14, ?15 the project and ?16 last. */
static int mlb_write(cg_studio_store *s, cg_studio_mlb *m, const char *sql, int64_t last,
                     int must_change, int64_t *rowid)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (st) {
        bind_mlb_fields(st, m);
        sqlite3_bind_int64(st, 15, m->project);
        sqlite3_bind_int64(st, 16, last);
        rc = cg__st_step_done_locked(s, st);
        if (rc == 0 && must_change && sqlite3_changes(s->db) == 0) rc = CG_STORE_NOTFOUND;
        if (rc == 0 && rowid) *rowid = sqlite3_last_insert_rowid(s->db);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_mlb_create(cg_studio_store *s, cg_studio_mlb *m)
{
    m->created_at = m->updated_at = cg_studio_now_us();
    return mlb_write(s, m,
                     "INSERT INTO ml_backends(state,is_interactive,url,error_message,"
                     "title,auth_method,basic_auth_user,basic_auth_pass,description,"
                     "extra_params,model_version,timeout,auto_update,updated_at,"
                     "project,created_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
                     "?12,?13,?14,?15,?16)",
                     m->created_at, 0, &m->id);
}

static int fill_mlb(sqlite3_stmt *st, void *out)
{
    cg_studio_mlb *m = out;
    m->id = sqlite3_column_int64(st, 0);
    m->project = sqlite3_column_int64(st, 1);
    snprintf(m->state, sizeof m->state, "%s", sqlite3_column_text(st, 2));
    m->is_interactive = sqlite3_column_int(st, 3);
    m->url = cg__st_col_str(st, 4);
    m->error_message = cg__st_col_str(st, 5);
    m->title = cg__st_col_str(st, 6);
    m->auth_method = cg__st_col_str(st, 7);
    m->basic_auth_user = cg__st_col_str(st, 8);
    m->basic_auth_pass = cg__st_col_str(st, 9);
    m->description = cg__st_col_str(st, 10);
    m->extra_params = cg__st_col_str(st, 11);
    m->model_version = cg__st_col_str(st, 12);
    m->timeout = sqlite3_column_double(st, 13);
    m->created_at = sqlite3_column_int64(st, 14);
    m->updated_at = sqlite3_column_int64(st, 15);
    m->auto_update = sqlite3_column_int(st, 16);
    return 0;
}

int cg_studio_store_mlb_get(cg_studio_store *s, int64_t id, cg_studio_mlb *m)
{
    memset(m, 0, sizeof *m);
    return cg__st_row_by_id(s,
                            "SELECT id,project,state,is_interactive,url,error_message,"
                            "title,auth_method,basic_auth_user,basic_auth_pass,"
                            "description,extra_params,model_version,timeout,created_at,"
                            "updated_at,auto_update FROM ml_backends WHERE id=?",
                            id, "ML backend", fill_mlb, m);
}

int cg_studio_store_mlb_save(cg_studio_store *s, cg_studio_mlb *m)
{
    m->updated_at = cg_studio_now_us();
    return mlb_write(s, m,
                     "UPDATE ml_backends SET state=?1,is_interactive=?2,url=?3,"
                     "error_message=?4,title=?5,auth_method=?6,basic_auth_user=?7,"
                     "basic_auth_pass=?8,description=?9,extra_params=?10,"
                     "model_version=?11,timeout=?12,auto_update=?13,updated_at=?14,"
                     "project=?15 WHERE id=?16",
                     m->id, 1, NULL);
}

int cg__st_delete_by_id_locked(cg_studio_store *s, const char *sql, int64_t id)
{
    return cg__st_update_locked(s, sql, "i", id);
}

int cg_studio_store_mlb_delete(cg_studio_store *s, int64_t id)
{
    LOCK(s);
    int rc = cg__st_delete_by_id_locked(s, "DELETE FROM ml_backends WHERE id=?", id);
    if (rc == 0)
        rc = cg__st_write_locked(s,
                                 "UPDATE predict_jobs SET status='cancelled',error="
                                 "'ML backend deleted',finished_at=?1,updated_at=?1 WHERE "
                                 "ml_backend=?2 AND status IN ('queued','running')",
                                 "ii", cg_studio_now_us(), id);
    UNLOCK(s);
    return rc;
}

static int ids_locked(cg_studio_store *s, sqlite3_stmt *st, int64_t **ids, size_t *n)
{
    size_t cap = 16;
    *n = 0;
    *ids = malloc(cap * sizeof **ids);
    int r;
    while (*ids && (r = sqlite3_step(st)) == SQLITE_ROW) {
        if (*n == cap) {
            int64_t *m = realloc(*ids, (cap *= 2) * sizeof **ids);
            if (!m) break;
            *ids = m;
        }
        (*ids)[(*n)++] = sqlite3_column_int64(st, 0);
    }
    int rc = (*ids && r == SQLITE_DONE) ? 0 : -1;
    if (rc) {
        cg__st_log_db_error(s, "ids");
        free(*ids);
        *ids = NULL;
        *n = 0;
    }
    sqlite3_finalize(st);
    return rc;
}

int cg_studio_store_mlb_ids(cg_studio_store *s, int64_t project, int interactive, int64_t **ids,
                            size_t *n)
{
    LOCK(s);
    sqlite3_stmt *st = interactive < 0
                           ? cg__st_prepf(s,
                                          "SELECT id FROM ml_backends WHERE project=? ORDER BY id",
                                          "i", project)
                           : cg__st_prepf(
                                 s,
                                 "SELECT id FROM ml_backends WHERE project=? AND is_interactive=? "
                                 "ORDER BY id",
                                 "ib", project, interactive);
    int rc = st ? ids_locked(s, st, ids, n) : -1;
    UNLOCK(s);
    return rc;
}

/* ---- webhooks ------------------------------------------------------------------------- */

int cg_studio_store_webhook_ensure(cg_studio_store *s, int64_t project, const char *url)
{
    return cg__st_write(s, "INSERT OR IGNORE INTO webhooks(project,url,created_at) VALUES(?,?,?)",
                        "isi", project, url, cg_studio_now_us());
}

int cg_studio_store_webhook_urls(cg_studio_store *s, int64_t project, json_t **urls)
{
    LOCK(s);
    int rc = -1;
    *urls = NULL;
    sqlite3_stmt *st = cg__st_prepf(s, "SELECT url FROM webhooks WHERE project=? ORDER BY id", "i",
                                    project);
    if (st) {
        *urls = json_array();
        int r;
        while ((r = sqlite3_step(st)) == SQLITE_ROW)
            json_array_append_new(*urls, cg__st_col_json_str(st, 0));
        rc = r == SQLITE_DONE ? 0 : -1;
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return rc;
}

/* ---- predict-all jobs ----------------------------------------------------------------- */

void cg_studio_job_clear(cg_studio_job *j)
{
    free(j->model_version);
    free(j->error);
    memset(j, 0, sizeof *j);
}

int cg_studio_store_job_create(cg_studio_store *s, cg_studio_job *j)
{
    j->created_at = j->updated_at = cg_studio_now_us();
    return cg__st_insert(s, &j->id,
                         "INSERT INTO predict_jobs(ml_backend,project,model_version,"
                         "batch_size,status,total,created_at,updated_at) "
                         "VALUES(?,?,?,?,?,?,?,?)",
                         "iisbsiii", j->ml_backend, j->project,
                         j->model_version ? j->model_version : "", j->batch_size, j->status,
                         j->total, j->created_at, j->updated_at);
}

#define JOB_COLS                                                                                   \
    "id,ml_backend,project,model_version,batch_size,status,total,predicted,"                       \
    "failed,cursor,error,created_at,started_at,finished_at,updated_at"

static int fill_job(sqlite3_stmt *st, void *out)
{
    cg_studio_job *j = out;
    j->id = sqlite3_column_int64(st, 0);
    j->ml_backend = sqlite3_column_int64(st, 1);
    j->project = sqlite3_column_int64(st, 2);
    j->model_version = cg__st_col_str(st, 3);
    j->batch_size = sqlite3_column_int(st, 4);
    snprintf(j->status, sizeof j->status, "%s", sqlite3_column_text(st, 5));
    j->total = sqlite3_column_int64(st, 6);
    j->predicted = sqlite3_column_int64(st, 7);
    j->failed = sqlite3_column_int64(st, 8);
    j->cursor = sqlite3_column_int64(st, 9);
    j->error = cg__st_col_str(st, 10);
    j->created_at = sqlite3_column_int64(st, 11);
    j->started_at = sqlite3_column_int64(st, 12);
    j->finished_at = sqlite3_column_int64(st, 13);
    j->updated_at = sqlite3_column_int64(st, 14);
    return 0;
}

/* One job by sql (which binds one id), under the lock. */
static int job_by(cg_studio_store *s, const char *sql, int64_t id, cg_studio_job *j)
{
    memset(j, 0, sizeof *j);
    return cg__st_row_by_id(s, sql, id, "job", fill_job, j);
}

int cg_studio_store_job_get(cg_studio_store *s, int64_t id, cg_studio_job *j)
{
    return job_by(s, "SELECT " JOB_COLS " FROM predict_jobs WHERE id=?", id, j);
}

int cg_studio_store_job_latest(cg_studio_store *s, int64_t ml_backend, cg_studio_job *j)
{
    return job_by(s,
                  "SELECT " JOB_COLS " FROM predict_jobs WHERE ml_backend=? "
                  "ORDER BY id DESC LIMIT 1",
                  ml_backend, j);
}

int cg_studio_store_jobs_unfinished(cg_studio_store *s, int64_t **ids, size_t *n)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT id FROM predict_jobs WHERE status IN ('queued',"
                                      "'running') ORDER BY id");
    if (st) rc = ids_locked(s, st, ids, n);
    UNLOCK(s);
    return rc;
}

static int job_save_locked(cg_studio_store *s, cg_studio_job *j)
{
    j->updated_at = cg_studio_now_us();
    /* A job cancelled behind the worker's back (backend deleted) stays cancelled. */
    return cg__st_update_locked(s,
                                "UPDATE predict_jobs SET status=?,total=?,predicted=?,failed=?,"
                                "cursor=?,error=?,started_at=?,finished_at=?,updated_at=?,"
                                "model_version=? WHERE id=? AND status<>'cancelled'",
                                "siiiiszzisi", j->status, j->total, j->predicted, j->failed,
                                j->cursor, j->error, j->started_at, j->finished_at, j->updated_at,
                                j->model_version ? j->model_version : "", j->id);
}

int cg_studio_store_job_save(cg_studio_store *s, cg_studio_job *j)
{
    LOCK(s);
    int rc = job_save_locked(s, j);
    UNLOCK(s);
    return rc;
}

int cg_studio_store_job_commit_batch(cg_studio_store *s, cg_studio_job *j, int64_t project,
                                     int64_t ml_backend, const cg_studio_pred_in *preds, size_t n)
{
    LOCK(s);
    int rc = -1;
    if (cg__st_exec_locked(s, "BEGIN IMMEDIATE") != 0) goto batch_out;
    int64_t now = cg_studio_now_us();
    for (size_t i = 0; i < n; i++)
        if (cg__st_insert_prediction_locked(s, preds[i].task, project, preds[i].result,
                                            preds[i].has_score, preds[i].score,
                                            preds[i].model_version, ml_backend, now) != 0)
            goto batch_rollback;
    rc = job_save_locked(s, j);
    if (rc != 0) goto batch_rollback;
    if (cg__st_exec_locked(s, "COMMIT") == 0) goto batch_out;
    rc = -1;
batch_rollback:
    cg__st_exec_locked(s, "ROLLBACK");
batch_out:
    UNLOCK(s);
    return rc;
}
