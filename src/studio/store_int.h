/*
 * store_int.h — what studio's storage files share (private to store*.c).
 *
 * store.c owns the connection, the schema and the tables the handlers reason about;
 * store_items.c adds the single-row reads and writes of tasks, annotations and predictions
 * behind the item routes. Both use the statement helpers below, which expect the store
 * mutex held (LOCK) unless their name says otherwise, and render.h's row renderers.
 */
#ifndef CG_STUDIO_STORE_INT_H
#define CG_STUDIO_STORE_INT_H

#include <jansson.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "studio/render.h"
#include "studio/store.h"

struct cg_studio_store {
    sqlite3 *db;
    pthread_mutex_t mu;
};

#define LOCK(s) pthread_mutex_lock(&(s)->mu)
#define UNLOCK(s) pthread_mutex_unlock(&(s)->mu)

/* Columns the row renderers (render.h) read, in their order. */
#define ANNOTATION_COLS                                                                            \
    "id,task,project,result,was_cancelled,ground_truth,lead_time,"                                 \
    "completed_by,created_at,updated_at"
#define PREDICTION_COLS                                                                            \
    "id,task,project,result,score,model_version,ml_backend,created_at,"                            \
    "updated_at"
#define TASK_COLS                                                                                  \
    "t.id,t.project,t.data,t.meta,t.inner_id,t.created_at,t.updated_at,"                           \
    "(SELECT count(*) FROM annotations a WHERE a.task=t.id AND a.was_cancelled=0),"                \
    "(SELECT count(*) FROM annotations a WHERE a.task=t.id AND a.was_cancelled=1),"                \
    "(SELECT count(*) FROM predictions p WHERE p.task=t.id)"

/* statements: NULL / -1 after logging the database error */
sqlite3_stmt *cg__st_prep(cg_studio_store *s, const char *sql);
void cg__st_bind_str(sqlite3_stmt *st, int i, const char *v);
int cg__st_exec_locked(cg_studio_store *s, const char *sql);
void cg__st_log_db_error(cg_studio_store *s, const char *what);
/* Statements with their parameters: ?1.. bound from the arguments, one per character of
 * types: 'i' int64_t, 'z' int64_t with 0 bound as SQL NULL, 'b' int, 'd' double, 'o' an
 * optional double (two arguments: int present, double value), 's' const char * (NULL binds
 * SQL NULL), 'j' json_t * number as a double and 'B' json_t * boolean as
 * 0/1 (anything else, NULL included, binds SQL NULL), 'J' json_t * as its compact JSON
 * text (NULL binds SQL NULL; out of memory fails the statement). */
sqlite3_stmt *cg__st_prepf(cg_studio_store *s, const char *sql, const char *types, ...);
/* A write run to completion: 0 or -1, or CG_STORE_NOTFOUND with CG_ST_CHANGE when no row
 * changed. CG_ST_LOCK takes the mutex; without it the caller holds it. A non-NULL rowid
 * gets the inserted row's id. */
#define CG_ST_LOCK 1u
#define CG_ST_CHANGE 2u
int cg__st_execf(cg_studio_store *s, unsigned how, int64_t *rowid, const char *sql,
                 const char *types, ...);
#define cg__st_write_locked(s, ...) cg__st_execf((s), 0, NULL, __VA_ARGS__)
#define cg__st_update_locked(s, ...) cg__st_execf((s), CG_ST_CHANGE, NULL, __VA_ARGS__)
#define cg__st_write(s, ...) cg__st_execf((s), CG_ST_LOCK, NULL, __VA_ARGS__)
#define cg__st_update(s, ...) cg__st_execf((s), CG_ST_LOCK | CG_ST_CHANGE, NULL, __VA_ARGS__)
#define cg__st_insert(s, id, ...) cg__st_execf((s), CG_ST_LOCK, (id), __VA_ARGS__)
/* One integer from a one-row query, taking the mutex: 0, CG_STORE_NOTFOUND or -1. */
int cg__st_int(cg_studio_store *s, int64_t *out, const char *sql, const char *types, ...);
/* The first row of sql, which binds one id: fill(st, out) gives the result on a row;
 * CG_STORE_NOTFOUND without one; -1 (logged as what) on an error. The plain one takes the
 * mutex. */
int cg__st_row_by_id_locked(cg_studio_store *s, const char *sql, int64_t id, const char *what,
                            int (*fill)(sqlite3_stmt *, void *), void *out);
int cg__st_row_by_id(cg_studio_store *s, const char *sql, int64_t id, const char *what,
                     int (*fill)(sqlite3_stmt *, void *), void *out);
/* One integer from a one-row query (finalizes st): 0, CG_STORE_NOTFOUND or -1. */
int cg__st_query_int_locked(cg_studio_store *s, sqlite3_stmt *st, int64_t *out);
/* Steps a write to completion (finalizes st): 0 or -1. */
int cg__st_step_done_locked(cg_studio_store *s, sqlite3_stmt *st);
/* Runs a one-parameter DELETE (sql binds id): 0, CG_STORE_NOTFOUND when no row went, or -1. */
int cg__st_delete_by_id_locked(cg_studio_store *s, const char *sql, int64_t id);
/* Every row of sql (bound with a, and b when it has a second parameter) through row. */
json_t *cg__st_rows_locked(cg_studio_store *s, const char *sql, int64_t a, int64_t b,
                           json_t *(*row)(sqlite3_stmt *, cg_studio_store *));
int cg__st_count_locked(cg_studio_store *s, const char *sql, int64_t id, int64_t *n);
json_t *cg__st_user_json_locked(cg_studio_store *s, int64_t user);
int cg__st_project_get_locked(cg_studio_store *s, int64_t id, cg_studio_project *p);

/* A text column as a malloc'd string, NULL for SQL NULL. */
char *cg__st_col_str(sqlite3_stmt *st, int i);

/* A row of TASK_COLS with its annotations and predictions, as Label Studio shows it. */
json_t *cg__st_task_row_json(sqlite3_stmt *st, cg_studio_store *s);

int cg__st_insert_prediction_locked(cg_studio_store *s, int64_t task, int64_t project,
                                    json_t *result, int has_score, double score,
                                    const char *model_version, int64_t ml_backend, int64_t now);
int cg__st_insert_annotation_locked(cg_studio_store *s, int64_t task, int64_t project,
                                    json_t *result, int cancelled, int ground_truth,
                                    json_t *lead_time, int64_t user, int64_t now);

#endif
