/*
 * store.c — studio's SQLite store. See store.h for the contract.
 *
 * The file is laid out as: connection and schema (open, migrations), small statement
 * helpers, then one section per table. Every public function takes the store mutex for its
 * own statements; static *_locked helpers expect it held. Writes that must be atomic (an
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
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
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
    if (!slash || slash == path)
        return 0;
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
    if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) != SQLITE_OK)
        goto fail;
    if (sqlite3_step(st) == SQLITE_ROW)
        version = sqlite3_column_int(st, 0);
    sqlite3_finalize(st);
    if (version > N_MIGRATIONS) {
        snprintf(err, errlen, "database schema version %d is newer than this capgate (%d)",
                 version, N_MIGRATIONS);
        return -1;
    }
    for (int v = version; v < N_MIGRATIONS; v++) {
        char pragma[64];
        snprintf(pragma, sizeof pragma, "PRAGMA user_version=%d", v + 1);
        if (cg__st_exec_locked(s, "BEGIN IMMEDIATE") != 0)
            goto fail;
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
    if (ensure_parent_dir(path, err, errlen) != 0)
        goto store_open_out;
    if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                        SQLITE_OPEN_FULLMUTEX, NULL) != SQLITE_OK) {
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
    if (migrate_locked(s, err, errlen) != 0)
        goto store_open_out;
    *out = s;
    return 0;
store_open_out:
    cg_studio_store_close(s);
    return -1;
}

void cg_studio_store_close(cg_studio_store *s)
{
    if (!s)
        return;
    if (s->db)
        sqlite3_close_v2(s->db);
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
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* Binds ?1.. from ap, one per character of types (see store_int.h). */
static void bind_v(sqlite3_stmt *st, const char *types, va_list ap)
{
    for (int i = 1; *types; types++, i++) {
        switch (*types) {
        case 'i': sqlite3_bind_int64(st, i, va_arg(ap, int64_t)); break;
        case 'z': {
            int64_t v = va_arg(ap, int64_t);
            if (v)
                sqlite3_bind_int64(st, i, v);
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'b': sqlite3_bind_int(st, i, va_arg(ap, int)); break;
        case 'd': sqlite3_bind_double(st, i, va_arg(ap, double)); break;
        case 'j': {                     /* a JSON number, else NULL */
            json_t *v = va_arg(ap, json_t *);
            if (json_is_number(v))
                sqlite3_bind_double(st, i, json_number_value(v));
            else
                sqlite3_bind_null(st, i);
            break;
        }
        case 'B': {                     /* a JSON boolean, else NULL */
            json_t *v = va_arg(ap, json_t *);
            if (json_is_boolean(v))
                sqlite3_bind_int(st, i, json_is_true(v));
            else
                sqlite3_bind_null(st, i);
            break;
        }
        default: cg__st_bind_str(st, i, va_arg(ap, const char *)); break;
        }
    }
}

sqlite3_stmt *cg__st_prepf(cg_studio_store *s, const char *sql, const char *types, ...)
{
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (st) {
        va_list ap;
        va_start(ap, types);
        bind_v(st, types, ap);
        va_end(ap);
    }
    return st;
}

/* The write helpers' body: 0, CG_STORE_NOTFOUND (must_change and no row changed) or -1. */
static int write_v(cg_studio_store *s, int must_change, const char *sql, const char *types,
                   va_list ap)
{
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (!st)
        return -1;
    bind_v(st, types, ap);
    int rc = cg__st_step_done_locked(s, st);
    if (rc == 0 && must_change && sqlite3_changes(s->db) == 0)
        rc = CG_STORE_NOTFOUND;
    return rc;
}

int cg__st_write_locked(cg_studio_store *s, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = write_v(s, 0, sql, types, ap);
    va_end(ap);
    return rc;
}

int cg__st_update_locked(cg_studio_store *s, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    int rc = write_v(s, 1, sql, types, ap);
    va_end(ap);
    return rc;
}

int cg__st_write(cg_studio_store *s, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    LOCK(s);
    int rc = write_v(s, 0, sql, types, ap);
    UNLOCK(s);
    va_end(ap);
    return rc;
}

int cg__st_update(cg_studio_store *s, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    LOCK(s);
    int rc = write_v(s, 1, sql, types, ap);
    UNLOCK(s);
    va_end(ap);
    return rc;
}

int cg__st_int(cg_studio_store *s, int64_t *out, const char *sql, const char *types, ...)
{
    va_list ap;
    va_start(ap, types);
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (st) {
        bind_v(st, types, ap);
        rc = cg__st_query_int_locked(s, st, out);
    }
    UNLOCK(s);
    va_end(ap);
    return rc;
}

/* The one-row read helpers' step: fill(st, out) on a row; 0, CG_STORE_NOTFOUND or -1.
 * Finalizes st. */
int cg__st_one_row_locked(cg_studio_store *s, sqlite3_stmt *st, const char *what,
                          int (*fill)(sqlite3_stmt *, void *), void *out)
{
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        rc = fill(st, out);
    } else {
        rc = r == SQLITE_DONE ? CG_STORE_NOTFOUND : -1;
        if (rc < 0)
            cg__st_log_db_error(s, what);
    }
    sqlite3_finalize(st);
    return rc;
}

char *cg__st_col_str(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
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
    if (rc)
        cg__st_log_db_error(s, "write");
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
    return cg__st_write(s, "INSERT INTO meta(key,value) VALUES(?,?) "
                           "ON CONFLICT(key) DO UPDATE SET value=excluded.value", "ss", key, value);
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
    return cg__st_write(s, "INSERT INTO users(id,email,username,api_key,created_at) "
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
    if (!st)
        return NULL;
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
    return cg__st_write(s, "INSERT INTO refresh_tokens(jti,user_id,created_at,expires_at) "
                           "VALUES(?,?,?,?)", "siii", jti, user, cg_studio_now_us(), exp);
}

int cg_studio_store_pat_valid(cg_studio_store *s, const char *jti)
{
    int64_t one;
    return cg__st_int(s, &one, "SELECT 1 FROM refresh_tokens WHERE jti=? AND blacklisted_at IS NULL",
                      "s", jti);
}

int cg_studio_store_pat_blacklist(cg_studio_store *s, const char *jti)
{
    return cg__st_update(s, "UPDATE refresh_tokens SET blacklisted_at=? "
                            "WHERE jti=? AND blacklisted_at IS NULL", "is", cg_studio_now_us(), jti);
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
    LOCK(s);
    p->created_at = p->updated_at = cg_studio_now_us();
    int rc = cg__st_write_locked(s, "INSERT INTO projects(title,description,label_config,"
                                    "model_version,created_by,created_at,updated_at,"
                                    "show_collab_predictions) VALUES(?,?,?,?,?,?,?,?)",
                                 "ssssiiib", p->title, p->description,
                                 p->label_config ? p->label_config : "",
                                 p->model_version ? p->model_version : "", p->created_by,
                                 p->created_at, p->updated_at, p->show_collab_predictions);
    if (rc == 0)
        p->id = sqlite3_last_insert_rowid(s->db);
    UNLOCK(s);
    return rc;
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
    sqlite3_stmt *st = cg__st_prepf(s, "SELECT id,title,description,label_config,model_version,"
                                       "created_by,created_at,updated_at,show_collab_predictions "
                                       "FROM projects WHERE id=?", "i", id);
    return st ? cg__st_one_row_locked(s, st, "project get", fill_project, p) : -1;
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
    if (cg__st_project_get_locked(s, id, &p) != 0)
        return NULL;
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
    if (!st)
        goto list_out;
    sqlite3_bind_int64(st, 1, page_size);
    sqlite3_bind_int64(st, 2, (page - 1) * page_size);
    int64_t ids[1000];
    size_t n = 0;
    while (n < 1000 && sqlite3_step(st) == SQLITE_ROW)
        ids[n++] = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    for (size_t i = 0; i < n; i++) {
        json_t *p = project_json_locked(s, ids[i]);
        if (p)
            json_array_append_new(results, p);
    }
    out = json_pack("{s:I,s:n,s:n,s:O}", "count", (json_int_t)count, "next", "previous",
                    "results", results);
list_out:
    json_decref(results);
    UNLOCK(s);
    return out;
}

/* ---- tasks, annotations, predictions -------------------------------------------------- */

json_t *cg__st_rows_locked(cg_studio_store *s, const char *sql, int64_t a, int64_t b,
                           json_t *(*row)(sqlite3_stmt *, cg_studio_store *))
{
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (!st)
        return NULL;
    sqlite3_bind_int64(st, 1, a);
    if (sqlite3_bind_parameter_count(st) >= 2)
        sqlite3_bind_int64(st, 2, b);
    json_t *arr = json_array();
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(arr, row(st, s));
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
    json_t *a = cg__st_rows_locked(s, "SELECT " ANNOTATION_COLS " FROM annotations WHERE task=? "
                               "ORDER BY id", task, 0, cg__st_annotation_row_json);
    UNLOCK(s);
    return a;
}

json_t *cg_studio_store_predictions_json(cg_studio_store *s, int64_t task, int64_t project)
{
    LOCK(s);
    json_t *a;
    if (task)
        a = cg__st_rows_locked(s, "SELECT " PREDICTION_COLS " FROM predictions WHERE task=? "
                           "ORDER BY id", task, 0, cg__st_prediction_row);
    else if (project)
        a = cg__st_rows_locked(s, "SELECT " PREDICTION_COLS " FROM predictions WHERE project=? "
                           "ORDER BY id", project, 0, cg__st_prediction_row);
    else
        a = cg__st_rows_locked(s, "SELECT " PREDICTION_COLS " FROM predictions WHERE ?=0 "
                           "ORDER BY id", 0, 0, cg__st_prediction_row);
    UNLOCK(s);
    return a;
}


/* One task in the shape of Label Studio's JSON export (also used by the task endpoints and
 * sent to ML backends), with its annotations and predictions. */
json_t *cg__st_task_row_json(sqlite3_stmt *st, cg_studio_store *s)
{
    int64_t id = sqlite3_column_int64(st, 0);
    json_t *anns = cg__st_rows_locked(s, "SELECT " ANNOTATION_COLS " FROM annotations WHERE task=? "
                                  "ORDER BY id", id, 0, cg__st_annotation_row_json);
    json_t *preds = cg__st_rows_locked(s, "SELECT " PREDICTION_COLS " FROM predictions WHERE task=? "
                                   "ORDER BY id", id, 0, cg__st_prediction_row);
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
    if (a && json_array_size(a) == 1)
        t = json_incref(json_array_get(a, 0));
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
        snprintf(sql, sizeof sql, "SELECT " TASK_COLS " FROM tasks t WHERE t.project=? "
                 "ORDER BY t.id LIMIT %lld OFFSET ?", (long long)page_size);
        a = cg__st_rows_locked(s, sql, project, (page - 1) * page_size, cg__st_task_row_json);
    }
    UNLOCK(s);
    return a;
}

json_t *cg_studio_store_export_json(cg_studio_store *s, int64_t project, int all_tasks)
{
    LOCK(s);
    json_t *a = cg__st_rows_locked(s, all_tasks
        ? "SELECT " TASK_COLS " FROM tasks t WHERE t.project=? ORDER BY t.id"
        : "SELECT " TASK_COLS " FROM tasks t WHERE t.project=? AND EXISTS (SELECT 1 FROM "
          "annotations a WHERE a.task=t.id) ORDER BY t.id", project, 0, cg__st_task_row_json);
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

int cg_studio_store_count_to_predict(cg_studio_store *s, int64_t project,
                                     const char *model_version, int64_t *n)
{
    return cg__st_int(s, n, "SELECT count(*) FROM tasks t WHERE t.project=? AND NOT EXISTS "
                            "(SELECT 1 FROM predictions p WHERE p.task=t.id AND p.model_version=?)",
                      "is", project, model_version ? model_version : "") < 0 ? -1 : 0;
}

int cg__st_insert_prediction_locked(cg_studio_store *s, int64_t task, int64_t project,
                                    json_t *result, int has_score, double score,
                                    const char *model_version, int64_t ml_backend, int64_t now)
{
    char *text = json_dumps(result, CG_STUDIO_JSON | JSON_ENCODE_ANY);
    if (!text)
        return -1;
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO predictions(task,project,result,score,"
                               "model_version,ml_backend,created_at,updated_at) "
                               "VALUES(?,?,?,?,?,?,?,?)");
    int rc = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, task);
        sqlite3_bind_int64(st, 2, project);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
        if (has_score)
            sqlite3_bind_double(st, 4, score);
        else
            sqlite3_bind_null(st, 4);
        cg__st_bind_str(st, 5, model_version ? model_version : "");
        if (ml_backend)
            sqlite3_bind_int64(st, 6, ml_backend);
        else
            sqlite3_bind_null(st, 6);
        sqlite3_bind_int64(st, 7, now);
        sqlite3_bind_int64(st, 8, now);
        rc = cg__st_step_done_locked(s, st);
    }
    free(text);
    return rc;
}

int cg__st_insert_annotation_locked(cg_studio_store *s, int64_t task, int64_t project,
                                    json_t *result, int cancelled, int ground_truth,
                                    json_t *lead_time, int64_t user, int64_t now)
{
    char *text = json_dumps(result, CG_STUDIO_JSON | JSON_ENCODE_ANY);
    if (!text)
        return -1;
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO annotations(task,project,result,was_cancelled,"
                               "ground_truth,lead_time,completed_by,created_at,updated_at) "
                               "VALUES(?,?,?,?,?,?,?,?,?)");
    int rc = -1;
    if (st) {
        sqlite3_bind_int64(st, 1, task);
        sqlite3_bind_int64(st, 2, project);
        sqlite3_bind_text(st, 3, text, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int(st, 4, cancelled);
        sqlite3_bind_int(st, 5, ground_truth);
        if (json_is_number(lead_time))
            sqlite3_bind_double(st, 6, json_number_value(lead_time));
        else
            sqlite3_bind_null(st, 6);
        sqlite3_bind_int64(st, 7, user);
        sqlite3_bind_int64(st, 8, now);
        sqlite3_bind_int64(st, 9, now);
        rc = cg__st_step_done_locked(s, st);
    }
    free(text);
    return rc;
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
        if (!anns)
            anns = json_object_get(item, "completions");
        preds = json_object_get(item, "predictions");
    }
    char *dtext = json_dumps(data, CG_STUDIO_JSON);
    char *mtext = json_is_object(meta) ? json_dumps(meta, CG_STUDIO_JSON) : strdup("{}");
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO tasks(project,data,meta,inner_id,created_at,"
                               "updated_at) VALUES(?,?,?,?,?,?)");
    if (st && dtext && mtext) {
        sqlite3_bind_int64(st, 1, project);
        sqlite3_bind_text(st, 2, dtext, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(st, 3, mtext, -1, SQLITE_TRANSIENT);
        sqlite3_bind_int64(st, 4, ++*inner_id);
        sqlite3_bind_int64(st, 5, now);
        sqlite3_bind_int64(st, 6, now);
        rc = cg__st_step_done_locked(s, st);
        st = NULL;
    }
    if (st)
        sqlite3_finalize(st);
    free(dtext);
    free(mtext);
    if (rc)
        return rc;
    int64_t task = sqlite3_last_insert_rowid(s->db);
    size_t i;
    json_t *v;
    if (json_is_array(anns)) {
        json_array_foreach(anns, i, v) {
            json_t *res = json_object_get(v, "result");
            if (!json_is_array(res)) {
                snprintf(err, errlen, "Task #%lld: annotation %zu needs a \"result\" list",
                         (long long)idx, i);
                return CG_STORE_NOTFOUND;
            }
            if (cg__st_insert_annotation_locked(s, task, project, res,
                                         json_is_true(json_object_get(v, "was_cancelled")),
                                         json_is_true(json_object_get(v, "ground_truth")),
                                         json_object_get(v, "lead_time"), user, now))
                return -1;
            (*n_ann)++;
        }
    }
    if (json_is_array(preds)) {
        json_array_foreach(preds, i, v) {
            json_t *res = json_object_get(v, "result");
            if (!json_is_array(res)) {
                snprintf(err, errlen, "Task #%lld: prediction %zu needs a \"result\" list",
                         (long long)idx, i);
                return CG_STORE_NOTFOUND;
            }
            json_t *sc = json_object_get(v, "score");
            json_t *mv = json_object_get(v, "model_version");
            if (cg__st_insert_prediction_locked(s, task, project, res, json_is_number(sc),
                                         json_number_value(sc),
                                         json_is_string(mv) ? json_string_value(mv) : "", 0,
                                         now))
                return -1;
            (*n_pred)++;
        }
    }
    return 0;
}

int cg_studio_store_tasks_import(cg_studio_store *s, int64_t project, json_t *items,
                                 int64_t user, json_t *counts, char *err, size_t errlen)
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
    sqlite3_stmt *st = cg__st_prep(s, "SELECT coalesce(max(inner_id),0) FROM tasks WHERE project=?");
    if (!st)
        goto import_out;
    sqlite3_bind_int64(st, 1, project);
    if (cg__st_query_int_locked(s, st, &inner_id) < 0)
        goto import_out;
    int64_t now = cg_studio_now_us();
    size_t i;
    json_t *item;
    json_array_foreach(items, i, item) {
        rc = import_item_locked(s, project, item, (int64_t)i, &inner_id, user, now, &n_ann,
                                &n_pred, err, errlen);
        if (rc)
            goto import_out;
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
        if (rc < 0)
            snprintf(err, errlen, "database error: %s", sqlite3_errmsg(s->db));
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
    if (!st)
        goto ann_out;
    sqlite3_bind_int64(st, 1, task);
    if (cg__st_query_int_locked(s, st, &project) != 0) {
        snprintf(err, errlen, "No Task matches the given query.");
        goto ann_out;
    }
    json_t *result = json_object_get(body, "result");
    json_t *no_result = result ? NULL : json_array();   /* an annotation without a result is [] */
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
                               sqlite3_last_insert_rowid(s->db), 0, cg__st_annotation_row_json);
    if (rows && json_array_size(rows) == 1)
        out = json_incref(json_array_get(rows, 0));
    json_decref(rows);
ann_out:
    UNLOCK(s);
    return out;
}

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

int cg_studio_store_mlb_create(cg_studio_store *s, cg_studio_mlb *m)
{
    LOCK(s);
    int rc = -1;
    m->created_at = m->updated_at = cg_studio_now_us();
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO ml_backends(state,is_interactive,url,error_message,"
                               "title,auth_method,basic_auth_user,basic_auth_pass,description,"
                               "extra_params,model_version,timeout,auto_update,updated_at,"
                               "project,created_at) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,"
                               "?12,?13,?14,?15,?16)");
    if (st) {
        bind_mlb_fields(st, m);
        sqlite3_bind_int64(st, 15, m->project);
        sqlite3_bind_int64(st, 16, m->created_at);
        rc = cg__st_step_done_locked(s, st);
        if (rc == 0)
            m->id = sqlite3_last_insert_rowid(s->db);
    }
    UNLOCK(s);
    return rc;
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
    LOCK(s);
    sqlite3_stmt *st = cg__st_prepf(s, "SELECT id,project,state,is_interactive,url,error_message,"
                                       "title,auth_method,basic_auth_user,basic_auth_pass,"
                                       "description,extra_params,model_version,timeout,created_at,"
                                       "updated_at,auto_update FROM ml_backends WHERE id=?", "i", id);
    int rc = st ? cg__st_one_row_locked(s, st, "ML backend", fill_mlb, m) : -1;
    UNLOCK(s);
    return rc;
}

int cg_studio_store_mlb_save(cg_studio_store *s, cg_studio_mlb *m)
{
    LOCK(s);
    int rc = -1;
    m->updated_at = cg_studio_now_us();
    sqlite3_stmt *st = cg__st_prep(s, "UPDATE ml_backends SET state=?1,is_interactive=?2,url=?3,"
                               "error_message=?4,title=?5,auth_method=?6,basic_auth_user=?7,"
                               "basic_auth_pass=?8,description=?9,extra_params=?10,"
                               "model_version=?11,timeout=?12,auto_update=?13,updated_at=?14,"
                               "project=?15 WHERE id=?16");
    if (st) {
        bind_mlb_fields(st, m);
        sqlite3_bind_int64(st, 15, m->project);
        sqlite3_bind_int64(st, 16, m->id);
        rc = cg__st_step_done_locked(s, st);
        if (rc == 0 && sqlite3_changes(s->db) == 0)
            rc = CG_STORE_NOTFOUND;
    }
    UNLOCK(s);
    return rc;
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
        rc = cg__st_write_locked(s, "UPDATE predict_jobs SET status='cancelled',error="
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
            if (!m)
                break;
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

int cg_studio_store_mlb_ids(cg_studio_store *s, int64_t project, int interactive,
                            int64_t **ids, size_t *n)
{
    LOCK(s);
    sqlite3_stmt *st = interactive < 0
        ? cg__st_prepf(s, "SELECT id FROM ml_backends WHERE project=? ORDER BY id", "i", project)
        : cg__st_prepf(s, "SELECT id FROM ml_backends WHERE project=? AND is_interactive=? "
                          "ORDER BY id", "ib", project, interactive);
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
    sqlite3_stmt *st = cg__st_prepf(s, "SELECT url FROM webhooks WHERE project=? ORDER BY id",
                                    "i", project);
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
    LOCK(s);
    j->created_at = j->updated_at = cg_studio_now_us();
    int rc = cg__st_write_locked(s, "INSERT INTO predict_jobs(ml_backend,project,model_version,"
                                    "batch_size,status,total,created_at,updated_at) "
                                    "VALUES(?,?,?,?,?,?,?,?)",
                                 "iisbsiii", j->ml_backend, j->project,
                                 j->model_version ? j->model_version : "", j->batch_size,
                                 j->status, j->total, j->created_at, j->updated_at);
    if (rc == 0)
        j->id = sqlite3_last_insert_rowid(s->db);
    UNLOCK(s);
    return rc;
}

#define JOB_COLS "id,ml_backend,project,model_version,batch_size,status,total,predicted," \
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
    LOCK(s);
    sqlite3_stmt *st = cg__st_prepf(s, sql, "i", id);
    int rc = st ? cg__st_one_row_locked(s, st, "job", fill_job, j) : -1;
    UNLOCK(s);
    return rc;
}

int cg_studio_store_job_get(cg_studio_store *s, int64_t id, cg_studio_job *j)
{
    return job_by(s, "SELECT " JOB_COLS " FROM predict_jobs WHERE id=?", id, j);
}

int cg_studio_store_job_latest(cg_studio_store *s, int64_t ml_backend, cg_studio_job *j)
{
    return job_by(s, "SELECT " JOB_COLS " FROM predict_jobs WHERE ml_backend=? "
                     "ORDER BY id DESC LIMIT 1", ml_backend, j);
}

int cg_studio_store_jobs_unfinished(cg_studio_store *s, int64_t **ids, size_t *n)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT id FROM predict_jobs WHERE status IN ('queued',"
                               "'running') ORDER BY id");
    if (st)
        rc = ids_locked(s, st, ids, n);
    UNLOCK(s);
    return rc;
}

static int job_save_locked(cg_studio_store *s, cg_studio_job *j)
{
    j->updated_at = cg_studio_now_us();
    /* A job cancelled behind the worker's back (backend deleted) stays cancelled. */
    return cg__st_update_locked(s, "UPDATE predict_jobs SET status=?,total=?,predicted=?,failed=?,"
                                   "cursor=?,error=?,started_at=?,finished_at=?,updated_at=?,"
                                   "model_version=? WHERE id=? AND status<>'cancelled'",
                                "siiiiszzisi", j->status, j->total, j->predicted, j->failed,
                                j->cursor, j->error, j->started_at, j->finished_at,
                                j->updated_at, j->model_version ? j->model_version : "", j->id);
}

int cg_studio_store_job_save(cg_studio_store *s, cg_studio_job *j)
{
    LOCK(s);
    int rc = job_save_locked(s, j);
    UNLOCK(s);
    return rc;
}

int cg_studio_store_job_commit_batch(cg_studio_store *s, cg_studio_job *j, int64_t project,
                                     int64_t ml_backend, const cg_studio_pred_in *preds,
                                     size_t n)
{
    LOCK(s);
    int rc = -1;
    if (cg__st_exec_locked(s, "BEGIN IMMEDIATE") != 0)
        goto batch_out;
    int64_t now = cg_studio_now_us();
    for (size_t i = 0; i < n; i++)
        if (cg__st_insert_prediction_locked(s, preds[i].task, project, preds[i].result,
                                     preds[i].has_score, preds[i].score,
                                     preds[i].model_version, ml_backend, now) != 0)
            goto batch_rollback;
    rc = job_save_locked(s, j);
    if (rc != 0)
        goto batch_rollback;
    if (cg__st_exec_locked(s, "COMMIT") == 0)
        goto batch_out;
    rc = -1;
batch_rollback:
    cg__st_exec_locked(s, "ROLLBACK");
batch_out:
    UNLOCK(s);
    return rc;
}
