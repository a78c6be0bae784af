/*
 * store.c — studio's SQLite store. See store.h for the contract.
 *
 * The file is laid out as: connection and schema (open, migrations), small statement
 * helpers, then meta, users and tokens, and projects. Tasks, annotations and predictions
 * are store_tasks.c; ML backends, webhooks and predict-all runs store_ml.c; the single-row
 * item routes store_items.c; Label Studio's JSON for all of them render.c. Every public
 * function takes the store mutex for its own statements; *_locked helpers expect it held. Writes that must be atomic (an
 * import, a batch of predictions with the job's progress) run in one BEGIN IMMEDIATE
 * transaction, and COMMIT returns only once SQLite has the WAL frame on disk
 * (synchronous=FULL), which is what "nothing acknowledged is lost on kill -9" rests on.
 *
 * The schema version lives in PRAGMA user_version; `migrations` below is applied from the
 * stored version up, each step in its own transaction, at every start.
 */
#include "studio/store.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "studio/store_int.h"

/* ---- schema ------------------------------------------------------------------------- */

static const char *const migrations[] = {
    /* 1: the initial schema */
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);"
    "CREATE TABLE users(id INTEGER PRIMARY KEY, email TEXT NOT NULL, username TEXT NOT NULL,"
    "  api_key TEXT UNIQUE, created_at INTEGER NOT NULL);"
    "CREATE TABLE refresh_tokens(jti TEXT PRIMARY KEY, user_id INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, blacklisted_at INTEGER);"
    "CREATE TABLE projects(id INTEGER PRIMARY KEY AUTOINCREMENT, title TEXT, description TEXT,"
    "  label_config TEXT NOT NULL, model_version TEXT, created_by INTEGER,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE TABLE tasks(id INTEGER PRIMARY KEY AUTOINCREMENT, project INTEGER NOT NULL,"
    "  data TEXT NOT NULL, meta TEXT NOT NULL DEFAULT '{}', inner_id INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX tasks_project ON tasks(project, id);"
    "CREATE TABLE annotations(id INTEGER PRIMARY KEY AUTOINCREMENT, task INTEGER NOT NULL,"
    "  project INTEGER NOT NULL, result TEXT NOT NULL, was_cancelled INTEGER NOT NULL DEFAULT 0,"
    "  ground_truth INTEGER NOT NULL DEFAULT 0, lead_time REAL, completed_by INTEGER,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX annotations_task ON annotations(task);"
    "CREATE INDEX annotations_project ON annotations(project);"
    "CREATE TABLE predictions(id INTEGER PRIMARY KEY AUTOINCREMENT, task INTEGER NOT NULL,"
    "  project INTEGER NOT NULL, result TEXT NOT NULL, score REAL,"
    "  model_version TEXT NOT NULL DEFAULT '', ml_backend INTEGER,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX predictions_task ON predictions(task, model_version);"
    "CREATE INDEX predictions_project ON predictions(project);"
    "CREATE TABLE ml_backends(id INTEGER PRIMARY KEY AUTOINCREMENT, project INTEGER NOT NULL,"
    "  state TEXT NOT NULL DEFAULT 'DI', is_interactive INTEGER NOT NULL DEFAULT 0,"
    "  url TEXT NOT NULL, error_message TEXT, title TEXT, auth_method TEXT NOT NULL,"
    "  basic_auth_user TEXT, basic_auth_pass TEXT, description TEXT, extra_params TEXT,"
    "  model_version TEXT, timeout REAL NOT NULL, auto_update INTEGER NOT NULL,"
    "  created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);"
    "CREATE INDEX ml_backends_project ON ml_backends(project, id);"
    "CREATE TABLE webhooks(id INTEGER PRIMARY KEY AUTOINCREMENT, project INTEGER NOT NULL,"
    "  url TEXT NOT NULL, created_at INTEGER NOT NULL, UNIQUE(project, url));"
    "CREATE TABLE predict_jobs(id INTEGER PRIMARY KEY AUTOINCREMENT,"
    "  ml_backend INTEGER NOT NULL, project INTEGER NOT NULL, model_version TEXT NOT NULL,"
    "  batch_size INTEGER NOT NULL, status TEXT NOT NULL, total INTEGER NOT NULL DEFAULT 0,"
    "  predicted INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL DEFAULT 0,"
    "  cursor INTEGER NOT NULL DEFAULT 0, error TEXT, created_at INTEGER NOT NULL,"
    "  started_at INTEGER, finished_at INTEGER, updated_at INTEGER NOT NULL);"
    "CREATE INDEX predict_jobs_backend ON predict_jobs(ml_backend, id);",
    /* 2: the project setting that decides whether a new backend's title becomes the
     * project's model_version */
    "ALTER TABLE projects ADD COLUMN show_collab_predictions INTEGER NOT NULL DEFAULT 1;",
};
#define N_MIGRATIONS ((int)(sizeof migrations / sizeof migrations[0]))

int64_t cg_studio_now_us(void)
{
    return (int64_t)(cg_clock_wall_ns() / 1000u);
}

void cg__st_log_db_error(cg_studio_store *s, const char *what)
{
    cg_log(CG_LOG_ERROR, "studio", "database: %s: %s", what, sqlite3_errmsg(s->db));
}

int cg__st_exec_locked(cg_studio_store *s, const char *sql)
{
    char *msg = NULL;
    if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
        cg_log(CG_LOG_ERROR, "studio", "database: %.60s: %s", sql, msg ? msg : "?");
        sqlite3_free(msg);
        return -1;
    }
    return 0;
}

/* Creates the directory holding path when it is missing (one level, like data/). */
static int ensure_parent_dir(const char *path, char *err, size_t errlen)
{
    const char *slash = strrchr(path, '/');
    if (!slash || slash == path) return 0;
    char dir[4096];
    size_t n = (size_t)(slash - path);
    if (n >= sizeof dir) {
        snprintf(err, errlen, "database path too long");
        return -1;
    }
    memcpy(dir, path, n);
    dir[n] = '\0';
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(err, errlen, "cannot create directory %s: %s", dir, strerror(errno));
        return -1;
    }
    return 0;
}

static int migrate_locked(cg_studio_store *s, char *err, size_t errlen)
{
    sqlite3_stmt *st;
    int version = 0;
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK) goto fail;
    if (sqlite3_step(st) == SQLITE_ROW) version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > N_MIGRATIONS) {
        snprintf(err, errlen, "database schema version %d is newer than this capgate (%d)", version,
                 N_MIGRATIONS);
        return -1;
    }
    for (int v = version; v < N_MIGRATIONS; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
        if (cg__st_exec_locked(s, "BEGIN IMMEDIATE") != 0) goto fail;
        if (cg__st_exec_locked(s, migrations[v]) != 0 || cg__st_exec_locked(s, pragma) != 0 ||
            cg__st_exec_locked(s, "COMMIT") != 0) {
            cg__st_exec_locked(s, "ROLLBACK");
            goto fail;
        }
        cg_log(CG_LOG_INFO, "studio", "database schema migrated to version %d", v + 1);
    }
    return 0;
fail:
    snprintf(err, errlen, "database migration failed: %s", sqlite3_errmsg(s->db));
    return -1;
}

int cg_studio_store_open(const char *path, cg_studio_store **out, char *err, size_t errlen)
{
    *out = NULL;
    cg_studio_store *s = calloc(1, sizeof *s);
    if (!s) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    pthread_mutex_init(&s->mu, NULL);
    if (ensure_parent_dir(path, err, errlen) != 0) goto store_open_out;
    if (sqlite3_open_v2(path, &s->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX,
                        NULL) != SQLITE_OK) {
        snprintf(err, errlen, "cannot open database %s: %s", path,
                 s->db ? sqlite3_errmsg(s->db) : "out of memory");
        goto store_open_out;
    }
    sqlite3_busy_timeout(s->db, 10000);
    if (cg__st_exec_locked(s, "PRAGMA journal_mode=WAL") != 0 ||
        cg__st_exec_locked(s, "PRAGMA synchronous=FULL") != 0 ||
        cg__st_exec_locked(s, "PRAGMA foreign_keys=ON") != 0) {
        snprintf(err, errlen, "cannot configure database %s: %s", path, sqlite3_errmsg(s->db));
        goto store_open_out;
    }
    if (migrate_locked(s, err, errlen) != 0) goto store_open_out;
    *out = s;
    return 0;
store_open_out:
    cg_studio_store_close(s);
    return -1;
}

void cg_studio_store_close(cg_studio_store *s)
{
    if (!s) return;
    if (s->db) sqlite3_close_v2(s->db);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* ---- statement helpers -------------------------------------------------------------- */

sqlite3_stmt *cg__st_prep(cg_studio_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK) {
        cg__st_log_db_error(s, "prepare");
        return NULL;
    }
    return st;
}

void cg__st_bind_str(sqlite3_stmt *st, int i, const char *v)
{
    if (v) sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else sqlite3_bind_null(st, i);
}

/* Binds ?1.. from ap, one per character of types (see store_int.h): 0, or -1 when a JSON
 * value could not be written (out of memory). */
static int bind_v(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 1; *types; types++, i++) {
        switch (*types) {
        case 'i': sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
        case 'z': {
            int64_t v = va_arg(ap, int64_t);
            if (v) sqlite3_bind_int64(st, i, v);
            else sqlite3_bind_null(st, i);
            break;
        }
        case 'b': sqlite3_bind_int(st, i, va_arg(ap, int)); break;
        case 'd': sqlite3_bind_double(st, i, va_arg(ap, double)); break;
        case 'o': { /* an optional double: int present, double value */
            int present = va_arg(ap, int);
            double v = va_arg(ap, double);
            if (present) sqlite3_bind_double(st, i, v);
            else sqlite3_bind_null(st, i);
            break;
        }
        case 'j': { /* a JSON number, else NULL */
            json_t *v = va_arg(ap, json_t *);
            if (json_is_number(v)) sqlite3_bind_double(st, i, json_number_value(v));
            else sqlite3_bind_null(st, i);
            break;
        }
        case 'B': { /* a JSON boolean, else NULL */
            json_t *v = va_arg(ap, json_t *);
            if (json_is_boolean(v)) sqlite3_bind_int(st, i, json_is_true(v));
            else sqlite3_bind_null(st, i);
            break;
        }
        case 'J': { /* a JSON value as its text, else NULL */
            json_t *v = va_arg(ap, json_t *);
            if (!v) {
                sqlite3_bind_null(st, i);
                break;
            }
            char *text = json_dumps(v, CG_STUDIO_JSON | JSON_ENCODE_ANY);
            if (!text) return -1;
            sqlite3_bind_text(st, i, text, -1, free);
            break;
        }
        default: cg__st_bind_str(st, i, va_arg(ap, const char *)); break;
        }
    }
    return 0;
}

/* sql prepared and bound from ap, or NULL (logged when the SQL is at fault). */
static sqlite3_stmt *prep_v(cg_studio_store *s, const char *sql, const char *types, va_list ap)
{
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (st && bind_v(st, types, ap) < 0) {
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *cg__st_prepf(cg_studio_store *s, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    sqlite3_stmt *st = prep_v(s, sql, types, ap);
    va_end(ap);
    return st;
}

int cg__st_execf(cg_studio_store *s, unsigned how, int64_t *rowid, const char *sql,
                 const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    if (how & CG_ST_LOCK) LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = prep_v(s, sql, types, ap);
    if (st) {
        rc = cg__st_step_done_locked(s, st);
        if (rc == 0 && (how & CG_ST_CHANGE) && sqlite3_changes(s->db) == 0) rc = CG_STORE_NOTFOUND;
        if (rc == 0 && rowid) *rowid = sqlite3_last_insert_rowid(s->db);
    }
    if (how & CG_ST_LOCK) UNLOCK(s);
    va_end(ap);
    return rc;
}

int cg__st_int(cg_studio_store *s, int64_t *out, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = prep_v(s, sql, types, ap);
    if (st) rc = cg__st_query_int_locked(s, st, out);
    UNLOCK(s);
    va_end(ap);
    return rc;
}

int cg__st_row_by_id_locked(cg_studio_store *s, const char *sql, int64_t id, const char *what,
                            int (*fill)(sqlite3_stmt *, void *), void *out)
{
    sqlite3_stmt *st = cg__st_prepf(s, sql, "i", id);
    if (!st) return -1;
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        rc = fill(st, out);
    } else {
        rc = r == SQLITE_DONE ? CG_STORE_NOTFOUND : -1;
        if (rc < 0) cg__st_log_db_error(s, what);
    }
    sqlite3_finalize(st);
    return rc;
}

int cg__st_row_by_id(cg_studio_store *s, const char *sql, int64_t id, const char *what,
                     int (*fill)(sqlite3_stmt *, void *), void *out)
{
    LOCK(s);
    int rc = cg__st_row_by_id_locked(s, sql, id, what, fill, out);
    UNLOCK(s);
    return rc;
}

char *cg__st_col_str(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return NULL;
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

/* Runs a statement expected to return one integer (a count, an id). */
int cg__st_query_int_locked(cg_studio_store *s, sqlite3_stmt *st, int64_t *out)
{
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(st, 0);
        rc = 0;
    } else if (rc == SQLITE_DONE) {
        rc = CG_STORE_NOTFOUND;
    } else {
        cg__st_log_db_error(s, "step");
        rc = -1;
    }
    sqlite3_finalize(st);
    return rc;
}

/* Steps a write statement to completion and finalizes it. */
int cg__st_step_done_locked(cg_studio_store *s, sqlite3_stmt *st)
{
    int rc = sqlite3_step(st) == SQLITE_DONE ? 0 : -1;
    if (rc) cg__st_log_db_error(s, "write");
    sqlite3_finalize(st);
    return rc;
}

/* ---- meta --------------------------------------------------------------------------- */

int cg_studio_store_meta_get(cg_studio_store *s, const char *key, char **out)
{
    *out = NULL;
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT value FROM meta WHERE key=?");
    if (st) {
        cg__st_bind_str(st, 1, key);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
            *out = cg__st_col_str(st, 0);
            rc = *out ? 0 : -1;
        } else {
            rc = r == SQLITE_DONE ? CG_STORE_NOTFOUND : -1;
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_meta_set(cg_studio_store *s, const char *key, const char *value)
{
    return cg__st_write(s,
                        "INSERT INTO meta(key,value) VALUES(?,?) "
                        "ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        "ss", key, value);
}

/* ---- users and tokens ---------------------------------------------------------------- */

int cg_studio_store_admin_key(cg_studio_store *s, char **key)
{
    *key = NULL;
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT api_key FROM users WHERE id=1");
    if (st) {
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL) {
            *key = cg__st_col_str(st, 0);
            rc = *key ? 0 : -1;
        } else {
            rc = (r == SQLITE_ROW || r == SQLITE_DONE) ? CG_STORE_NOTFOUND : -1;
        }
        sqlite3_finalize(st);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_admin_set_key(cg_studio_store *s, const char *key)
{
    return cg__st_write(s,
                        "INSERT INTO users(id,email,username,api_key,created_at) "
                        "VALUES(1,'admin@localhost','admin',?,?) "
                        "ON CONFLICT(id) DO UPDATE SET api_key=excluded.api_key",
                        "si", key, cg_studio_now_us());
}

int cg_studio_store_user_by_key(cg_studio_store *s, const char *key, int64_t *user)
{
    return cg__st_int(s, user, "SELECT id FROM users WHERE api_key=?", "s", key);
}

int cg_studio_store_user_exists(cg_studio_store *s, int64_t user)
{
    int64_t id;
    return cg__st_int(s, &id, "SELECT id FROM users WHERE id=?", "i", user);
}

json_t *cg__st_user_json_locked(cg_studio_store *s, int64_t user)
{
    sqlite3_stmt *st = cg__st_prep(s, "SELECT id,email FROM users WHERE id=?");
    if (!st) return NULL;
    sqlite3_bind_int64(st, 1, user);
    json_t *u = NULL;
    if (sqlite3_step(st) == SQLITE_ROW)
        u = json_pack("{s:I,s:s,s:s,s:o,s:s}", "id", (json_int_t)sqlite3_column_int64(st, 0),
                      "first_name", "", "last_name", "", "email", cg__st_col_json_str(st, 1),
                      "avatar", "");
    sqlite3_finalize(st);
    return u ? u : json_null();
}

json_t *cg_studio_store_user_json(cg_studio_store *s, int64_t user)
{
    LOCK(s);
    json_t *u = cg__st_user_json_locked(s, user);
    UNLOCK(s);
    return u;
}

int cg_studio_store_pat_add(cg_studio_store *s, const char *jti, int64_t user, int64_t exp)
{
    return cg__st_write(s,
                        "INSERT INTO refresh_tokens(jti,user_id,created_at,expires_at) "
                        "VALUES(?,?,?,?)",
                        "siii", jti, user, cg_studio_now_us(), exp);
}

int cg_studio_store_pat_valid(cg_studio_store *s, const char *jti)
{
    int64_t one;
    return cg__st_int(
        s, &one, "SELECT 1 FROM refresh_tokens WHERE jti=? AND blacklisted_at IS NULL", "s", jti);
}

int cg_studio_store_pat_blacklist(cg_studio_store *s, const char *jti)
{
    return cg__st_update(s,
                         "UPDATE refresh_tokens SET blacklisted_at=? "
                         "WHERE jti=? AND blacklisted_at IS NULL",
                         "is", cg_studio_now_us(), jti);
}

/* ---- projects ----------------------------------------------------------------------- */

void cg_studio_project_clear(cg_studio_project *p)
{
    free(p->title);
    free(p->description);
    free(p->label_config);
    free(p->model_version);
    memset(p, 0, sizeof *p);
}

int cg_studio_store_project_create(cg_studio_store *s, cg_studio_project *p)
{
    p->created_at = p->updated_at = cg_studio_now_us();
    return cg__st_insert(s, &p->id,
                         "INSERT INTO projects(title,description,label_config,"
                         "model_version,created_by,created_at,updated_at,"
                         "show_collab_predictions) VALUES(?,?,?,?,?,?,?,?)",
                         "ssssiiib", p->title, p->description,
                         p->label_config ? p->label_config : "",
                         p->model_version ? p->model_version : "", p->created_by, p->created_at,
                         p->updated_at, p->show_collab_predictions);
}

static int fill_project(sqlite3_stmt *st, void *out)
{
    cg_studio_project *p = out;
    p->id = sqlite3_column_int64(st, 0);
    p->title = cg__st_col_str(st, 1);
    p->description = cg__st_col_str(st, 2);
    p->label_config = cg__st_col_str(st, 3);
    p->model_version = cg__st_col_str(st, 4);
    p->created_by = sqlite3_column_int64(st, 5);
    p->created_at = sqlite3_column_int64(st, 6);
    p->updated_at = sqlite3_column_int64(st, 7);
    p->show_collab_predictions = sqlite3_column_int(st, 8);
    return 0;
}

int cg__st_project_get_locked(cg_studio_store *s, int64_t id, cg_studio_project *p)
{
    memset(p, 0, sizeof *p);
    return cg__st_row_by_id_locked(s,
                                   "SELECT id,title,description,label_config,model_version,"
                                   "created_by,created_at,updated_at,show_collab_predictions "
                                   "FROM projects WHERE id=?",
                                   id, "project get", fill_project, p);
}

int cg_studio_store_project_get(cg_studio_store *s, int64_t id, cg_studio_project *p)
{
    LOCK(s);
    int rc = cg__st_project_get_locked(s, id, p);
    UNLOCK(s);
    return rc;
}

int cg_studio_store_project_set_model_version(cg_studio_store *s, int64_t id, const char *mv)
{
    return cg__st_write(s, "UPDATE projects SET model_version=?, updated_at=? WHERE id=?", "sii",
                        mv ? mv : "", cg_studio_now_us(), id);
}

int cg__st_count_locked(cg_studio_store *s, const char *sql, int64_t id, int64_t *n)
{
    sqlite3_stmt *st = cg__st_prepf(s, sql, "i", id);
    return st && cg__st_query_int_locked(s, st, n) >= 0 ? 0 : -1;
}

static json_t *project_json_locked(cg_studio_store *s, int64_t id)
{
    cg_studio_project p;
    if (cg__st_project_get_locked(s, id, &p) != 0) return NULL;
    /* in the order of cg__st_project_counts' fields */
    static const char *const count_sql[] = {
        "SELECT count(*) FROM tasks WHERE project=?",
        "SELECT count(DISTINCT task) FROM annotations WHERE project=? AND was_cancelled=0",
        "SELECT count(*) FROM annotations WHERE project=? AND was_cancelled=0",
        "SELECT count(*) FROM annotations WHERE project=? AND was_cancelled=1",
        "SELECT count(*) FROM annotations WHERE project=? AND ground_truth=1",
        "SELECT count(*) FROM predictions WHERE project=?",
    };
    int64_t n[6] = {0};
    for (size_t i = 0; i < 6; i++) {
        if (cg__st_count_locked(s, count_sql[i], id, &n[i]) != 0) {
            cg_studio_project_clear(&p);
            return NULL;
        }
    }
    cg__st_project_counts c = {n[0], n[1], n[2], n[3], n[4], n[5]};
    json_t *o = cg__st_project_render(&p, &c, cg__st_user_json_locked(s, p.created_by));
    cg_studio_project_clear(&p);
    return o;
}

json_t *cg_studio_store_project_json(cg_studio_store *s, int64_t id)
{
    LOCK(s);
    json_t *o = project_json_locked(s, id);
    UNLOCK(s);
    return o;
}

json_t *cg_studio_store_project_list_json(cg_studio_store *s, int64_t page, int64_t page_size)
{
    LOCK(s);
    json_t *out = NULL, *results = json_array();
    int64_t count = 0;
    if (cg__st_count_locked(s, "SELECT count(*) FROM projects WHERE id>?", 0, &count) != 0)
        goto list_out;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT id FROM projects ORDER BY id DESC LIMIT ? OFFSET ?");
    if (!st) goto list_out;
    sqlite3_bind_int64(st, 1, page_size);
    sqlite3_bind_int64(st, 2, (page - 1) * page_size);
    int64_t ids[1000];
    size_t n = 0;
    while (n < 1000 && sqlite3_step(st) == SQLITE_ROW) ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) {
        json_t *p = project_json_locked(s, ids[i]);
        if (p) json_array_append_new(results, p);
    }
    out = json_pack("{s:I,s:n,s:n,s:O}", "count", (json_int_t)count, "next", "previous", "results",
                    results);
list_out:
    json_decref(results);
    UNLOCK(s);
    return out;
}
