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

void cg_studio_format_time(int64_t us, char out[32])
{
    if (us < 0)
        us = 0;
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    unsigned year = (unsigned)(tm.tm_year + 1900) % 10000u;
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", year, (unsigned)tm.tm_mon % 100u + 1,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)(us % 1000000));
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

char *cg__st_col_str(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return NULL;
    const unsigned char *t = sqlite3_column_text(st, i);
    return strdup(t ? (const char *)t : "");
}

json_t *cg__st_col_json_str(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    return json_string((const char *)sqlite3_column_text(st, i));
}

/* A JSON text column as a value; unparsable text is shown as a string, never dropped. */
json_t *cg__st_col_json(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    const char *t = (const char *)sqlite3_column_text(st, i);
    json_t *v = json_loads(t ? t : "null", JSON_DECODE_ANY, NULL);
    return v ? v : json_string(t ? t : "");
}

json_t *cg__st_col_time(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    char buf[32];
    cg_studio_format_time(sqlite3_column_int64(st, i), buf);
    return json_string(buf);
}

json_t *cg__st_col_real_or_null(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    return json_real(sqlite3_column_double(st, i));
}

json_t *cg__st_col_int_or_null(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL)
        return json_null();
    return json_integer(sqlite3_column_int64(st, i));
}

/* Django's timesince, coarsely: "0 minutes", "3 hours", "2 days". */
json_t *cg__st_created_ago(int64_t created_us)
{
    int64_t sec = (cg_studio_now_us() - created_us) / 1000000;
    if (sec < 0)
        sec = 0;
    char buf[48];
    const char *unit;
    int64_t n;
    if (sec < 3600) { n = sec / 60; unit = "minute"; }
    else if (sec < 86400) { n = sec / 3600; unit = "hour"; }
    else { n = sec / 86400; unit = "day"; }
    snprintf(buf, sizeof buf, "%lld\xc2\xa0%s%s", (long long)n, unit, n == 1 ? "" : "s");
    return json_string(buf);
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
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO meta(key,value) VALUES(?,?) "
                               "ON CONFLICT(key) DO UPDATE SET value=excluded.value");
    if (st) {
        cg__st_bind_str(st, 1, key);
        cg__st_bind_str(st, 2, value);
        rc = cg__st_step_done_locked(s, st);
    }
    UNLOCK(s);
    return rc;
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
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO users(id,email,username,api_key,created_at) "
                               "VALUES(1,'admin@localhost','admin',?,?) "
                               "ON CONFLICT(id) DO UPDATE SET api_key=excluded.api_key");
    if (st) {
        cg__st_bind_str(st, 1, key);
        sqlite3_bind_int64(st, 2, cg_studio_now_us());
        rc = cg__st_step_done_locked(s, st);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_user_by_key(cg_studio_store *s, const char *key, int64_t *user)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT id FROM users WHERE api_key=?");
    if (st) {
        cg__st_bind_str(st, 1, key);
        rc = cg__st_query_int_locked(s, st, user);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_user_exists(cg_studio_store *s, int64_t user)
{
    LOCK(s);
    int rc = -1;
    int64_t id;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT id FROM users WHERE id=?");
    if (st) {
        sqlite3_bind_int64(st, 1, user);
        rc = cg__st_query_int_locked(s, st, &id);
    }
    UNLOCK(s);
    return rc;
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
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO refresh_tokens(jti,user_id,created_at,expires_at) "
                               "VALUES(?,?,?,?)");
    if (st) {
        cg__st_bind_str(st, 1, jti);
        sqlite3_bind_int64(st, 2, user);
        sqlite3_bind_int64(st, 3, cg_studio_now_us());
        sqlite3_bind_int64(st, 4, exp);
        rc = cg__st_step_done_locked(s, st);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_pat_valid(cg_studio_store *s, const char *jti)
{
    LOCK(s);
    int rc = -1;
    int64_t one;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT 1 FROM refresh_tokens WHERE jti=? AND blacklisted_at IS NULL");
    if (st) {
        cg__st_bind_str(st, 1, jti);
        rc = cg__st_query_int_locked(s, st, &one);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_pat_blacklist(cg_studio_store *s, const char *jti)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "UPDATE refresh_tokens SET blacklisted_at=? "
                               "WHERE jti=? AND blacklisted_at IS NULL");
    if (st) {
        sqlite3_bind_int64(st, 1, cg_studio_now_us());
        cg__st_bind_str(st, 2, jti);
        rc = cg__st_step_done_locked(s, st);
        if (rc == 0 && sqlite3_changes(s->db) == 0)
            rc = CG_STORE_NOTFOUND;
    }
    UNLOCK(s);
    return rc;
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
    int rc = -1;
    p->created_at = p->updated_at = cg_studio_now_us();
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO projects(title,description,label_config,"
                               "model_version,created_by,created_at,updated_at,"
                               "show_collab_predictions) VALUES(?,?,?,?,?,?,?,?)");
    if (st) {
        cg__st_bind_str(st, 1, p->title);
        cg__st_bind_str(st, 2, p->description);
        cg__st_bind_str(st, 3, p->label_config ? p->label_config : "");
        cg__st_bind_str(st, 4, p->model_version ? p->model_version : "");
        sqlite3_bind_int64(st, 5, p->created_by);
        sqlite3_bind_int64(st, 6, p->created_at);
        sqlite3_bind_int64(st, 7, p->updated_at);
        sqlite3_bind_int(st, 8, p->show_collab_predictions);
        rc = cg__st_step_done_locked(s, st);
        if (rc == 0)
            p->id = sqlite3_last_insert_rowid(s->db);
    }
    UNLOCK(s);
    return rc;
}

int cg__st_project_get_locked(cg_studio_store *s, int64_t id, cg_studio_project *p)
{
    memset(p, 0, sizeof *p);
    sqlite3_stmt *st = cg__st_prep(s, "SELECT id,title,description,label_config,model_version,"
                               "created_by,created_at,updated_at,show_collab_predictions FROM projects "
                               "WHERE id=?");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
        p->id = sqlite3_column_int64(st, 0);
        p->title = cg__st_col_str(st, 1);
        p->description = cg__st_col_str(st, 2);
        p->label_config = cg__st_col_str(st, 3);
        p->model_version = cg__st_col_str(st, 4);
        p->created_by = sqlite3_column_int64(st, 5);
        p->created_at = sqlite3_column_int64(st, 6);
        p->updated_at = sqlite3_column_int64(st, 7);
        p->show_collab_predictions = sqlite3_column_int(st, 8);
        rc = 0;
    } else {
        rc = r == SQLITE_DONE ? CG_STORE_NOTFOUND : -1;
        if (rc < 0)
            cg__st_log_db_error(s, "project get");
    }
    sqlite3_finalize(st);
    return rc;
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
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "UPDATE projects SET model_version=?, updated_at=? WHERE id=?");
    if (st) {
        cg__st_bind_str(st, 1, mv ? mv : "");
        sqlite3_bind_int64(st, 2, cg_studio_now_us());
        sqlite3_bind_int64(st, 3, id);
        rc = cg__st_step_done_locked(s, st);
    }
    UNLOCK(s);
    return rc;
}

int cg__st_count_locked(cg_studio_store *s, const char *sql, int64_t id, int64_t *n)
{
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    return cg__st_query_int_locked(s, st, n) < 0 ? -1 : 0;
}

/* Whether a label config has at least one control tag (a tag that produces results). */
static int has_control_tags(const char *cfg)
{
    static const char *const tags[] = {
        "<Choices", "<Labels", "<RectangleLabels", "<PolygonLabels", "<KeyPointLabels",
        "<BrushLabels", "<EllipseLabels", "<TextArea", "<Rating", "<Taxonomy", "<Number",
        "<DateTime", "<Pairwise", "<Ranker", "<HyperTextLabels", "<ParagraphLabels",
        "<TimeSeriesLabels", "<VideoRectangle", "<Relations", "<Rectangle", "<Polygon",
        "<KeyPoint", "<Brush", "<Ellipse", NULL};
    for (int i = 0; cfg && tags[i]; i++)
        if (strstr(cfg, tags[i]))
            return 1;
    return 0;
}

static json_t *project_json_locked(cg_studio_store *s, int64_t id)
{
    cg_studio_project p;
    if (cg__st_project_get_locked(s, id, &p) != 0)
        return NULL;
    int64_t tasks = 0, with_ann = 0, anns = 0, skipped = 0, gt = 0, preds = 0;
    if (cg__st_count_locked(s, "SELECT count(*) FROM tasks WHERE project=?", id, &tasks) ||
        cg__st_count_locked(s, "SELECT count(DISTINCT task) FROM annotations WHERE project=? AND "
                        "was_cancelled=0", id, &with_ann) ||
        cg__st_count_locked(s, "SELECT count(*) FROM annotations WHERE project=? AND was_cancelled=0",
                     id, &anns) ||
        cg__st_count_locked(s, "SELECT count(*) FROM annotations WHERE project=? AND was_cancelled=1",
                     id, &skipped) ||
        cg__st_count_locked(s, "SELECT count(*) FROM annotations WHERE project=? AND ground_truth=1",
                     id, &gt) ||
        cg__st_count_locked(s, "SELECT count(*) FROM predictions WHERE project=?", id, &preds)) {
        cg_studio_project_clear(&p);
        return NULL;
    }
    char created[32];
    cg_studio_format_time(p.created_at, created);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(p.id));
    json_object_set_new(o, "title", p.title ? json_string(p.title) : json_null());
    json_object_set_new(o, "description", p.description ? json_string(p.description) : json_null());
    json_object_set_new(o, "label_config", json_string(p.label_config ? p.label_config : ""));
    json_object_set_new(o, "expert_instruction", json_string(""));
    json_object_set_new(o, "show_instruction", json_false());
    json_object_set_new(o, "show_skip_button", json_true());
    json_object_set_new(o, "enable_empty_annotation", json_true());
    json_object_set_new(o, "show_annotation_history", json_false());
    json_object_set_new(o, "organization", json_integer(1));
    json_object_set_new(o, "color", json_string("#FFFFFF"));
    json_object_set_new(o, "maximum_annotations", json_integer(1));
    json_object_set_new(o, "is_published", json_false());
    json_object_set_new(o, "model_version", json_string(p.model_version ? p.model_version : ""));
    json_object_set_new(o, "is_draft", json_false());
    json_object_set_new(o, "created_by", cg__st_user_json_locked(s, p.created_by));
    json_object_set_new(o, "created_at", json_string(created));
    json_object_set_new(o, "min_annotations_to_start_training", json_integer(0));
    json_object_set_new(o, "start_training_on_annotation_update", json_false());
    json_object_set_new(o, "show_collab_predictions", json_boolean(p.show_collab_predictions));
    json_object_set_new(o, "num_tasks_with_annotations", json_integer(with_ann));
    json_object_set_new(o, "task_number", json_integer(tasks));
    json_object_set_new(o, "useful_annotation_number", json_integer(anns));
    json_object_set_new(o, "ground_truth_number", json_integer(gt));
    json_object_set_new(o, "skipped_annotations_number", json_integer(skipped));
    json_object_set_new(o, "total_annotations_number", json_integer(anns + skipped));
    json_object_set_new(o, "total_predictions_number", json_integer(preds));
    json_object_set_new(o, "sampling", json_string("Sequential sampling"));
    json_object_set_new(o, "show_ground_truth_first", json_false());
    json_object_set_new(o, "show_overlap_first", json_false());
    json_object_set_new(o, "overlap_cohort_percentage", json_integer(100));
    json_object_set_new(o, "task_data_login", json_null());
    json_object_set_new(o, "task_data_password", json_null());
    json_object_set_new(o, "control_weights", json_object());
    json_object_set_new(o, "parsed_label_config", json_object());
    json_object_set_new(o, "evaluate_predictions_automatically", json_false());
    json_object_set_new(o, "config_has_control_tags",
                        json_boolean(has_control_tags(p.label_config)));
    json_object_set_new(o, "skip_queue", json_string("REQUEUE_FOR_OTHERS"));
    json_object_set_new(o, "reveal_preannotations_interactively", json_false());
    json_object_set_new(o, "pinned_at", json_null());
    json_object_set_new(o, "finished_task_number", json_integer(with_ann));
    json_object_set_new(o, "queue_total", json_integer(tasks));
    json_object_set_new(o, "queue_done", json_integer(with_ann));
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

json_t *cg__st_annotation_row_json(sqlite3_stmt *st, cg_studio_store *s)
{
    /* columns: id,task,project,result,was_cancelled,ground_truth,lead_time,completed_by,
     *          created_at,updated_at */
    json_t *o = json_object();
    int64_t by = sqlite3_column_int64(st, 7);
    char username[64];
    snprintf(username, sizeof username, " admin@localhost, %lld", (long long)by);
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "result", cg__st_col_json(st, 3));
    json_object_set_new(o, "created_username", json_string(username));
    json_object_set_new(o, "created_ago", cg__st_created_ago(sqlite3_column_int64(st, 8)));
    json_object_set_new(o, "completed_by", cg__st_col_int_or_null(st, 7));
    json_object_set_new(o, "was_cancelled", json_boolean(sqlite3_column_int(st, 4)));
    json_object_set_new(o, "ground_truth", json_boolean(sqlite3_column_int(st, 5)));
    json_object_set_new(o, "created_at", cg__st_col_time(st, 8));
    json_object_set_new(o, "updated_at", cg__st_col_time(st, 9));
    json_object_set_new(o, "draft_created_at", json_null());
    json_object_set_new(o, "lead_time", cg__st_col_real_or_null(st, 6));
    json_object_set_new(o, "import_id", json_null());
    json_object_set_new(o, "last_action", json_null());
    json_object_set_new(o, "bulk_created", json_false());
    json_object_set_new(o, "task", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(o, "project", json_integer(sqlite3_column_int64(st, 2)));
    json_object_set_new(o, "updated_by", cg__st_col_int_or_null(st, 7));
    json_object_set_new(o, "parent_prediction", json_null());
    json_object_set_new(o, "parent_annotation", json_null());
    json_object_set_new(o, "last_created_by", json_null());
    (void)s;
    return o;
}


static json_t *prediction_row_json(sqlite3_stmt *st)
{
    /* columns: id,task,project,result,score,model_version,ml_backend,created_at,updated_at */
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "result", cg__st_col_json(st, 3));
    json_object_set_new(o, "model_version", cg__st_col_json_str(st, 5));
    json_object_set_new(o, "created_ago", cg__st_created_ago(sqlite3_column_int64(st, 7)));
    json_object_set_new(o, "score", cg__st_col_real_or_null(st, 4));
    json_object_set_new(o, "cluster", json_null());
    json_object_set_new(o, "neighbors", json_null());
    json_object_set_new(o, "mislabeling", json_real(0.0));
    json_object_set_new(o, "created_at", cg__st_col_time(st, 7));
    json_object_set_new(o, "updated_at", cg__st_col_time(st, 8));
    json_object_set_new(o, "model", json_null());
    json_object_set_new(o, "model_run", json_null());
    json_object_set_new(o, "task", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(o, "project", json_integer(sqlite3_column_int64(st, 2)));
    return o;
}


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

json_t *cg__st_prediction_row(sqlite3_stmt *st, cg_studio_store *s)
{
    (void)s;
    return prediction_row_json(st);
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
    int64_t total_ann = sqlite3_column_int64(st, 7);
    json_t *anns = cg__st_rows_locked(s, "SELECT " ANNOTATION_COLS " FROM annotations WHERE task=? "
                                  "ORDER BY id", id, 0, cg__st_annotation_row_json);
    json_t *preds = cg__st_rows_locked(s, "SELECT " PREDICTION_COLS " FROM predictions WHERE task=? "
                                   "ORDER BY id", id, 0, cg__st_prediction_row);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(id));
    json_object_set_new(o, "annotations", anns ? anns : json_array());
    json_object_set_new(o, "file_upload", json_null());
    json_object_set_new(o, "drafts", json_array());
    json_object_set_new(o, "predictions", preds ? preds : json_array());
    json_object_set_new(o, "data", cg__st_col_json(st, 2));
    json_object_set_new(o, "meta", cg__st_col_json(st, 3));
    json_object_set_new(o, "created_at", cg__st_col_time(st, 5));
    json_object_set_new(o, "updated_at", cg__st_col_time(st, 6));
    json_object_set_new(o, "inner_id", json_integer(sqlite3_column_int64(st, 4)));
    json_object_set_new(o, "total_annotations", json_integer(total_ann));
    json_object_set_new(o, "cancelled_annotations", json_integer(sqlite3_column_int64(st, 8)));
    json_object_set_new(o, "total_predictions", json_integer(sqlite3_column_int64(st, 9)));
    json_object_set_new(o, "comment_count", json_integer(0));
    json_object_set_new(o, "unresolved_comment_count", json_integer(0));
    json_object_set_new(o, "last_comment_updated_at", json_null());
    json_object_set_new(o, "project", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(o, "updated_by", json_null());
    json_object_set_new(o, "comment_authors", json_array());
    json_object_set_new(o, "is_labeled", json_boolean(total_ann > 0));
    json_object_set_new(o, "overlap", json_integer(1));
    return o;
}

int cg_studio_store_task_project(cg_studio_store *s, int64_t task, int64_t *project)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT project FROM tasks WHERE id=?");
    if (st) {
        sqlite3_bind_int64(st, 1, task);
        rc = cg__st_query_int_locked(s, st, project);
    }
    UNLOCK(s);
    return rc;
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
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT count(*) FROM tasks t WHERE t.project=? AND NOT EXISTS "
                               "(SELECT 1 FROM predictions p WHERE p.task=t.id AND "
                               "p.model_version=?)");
    if (st) {
        sqlite3_bind_int64(st, 1, project);
        cg__st_bind_str(st, 2, model_version ? model_version : "");
        rc = cg__st_query_int_locked(s, st, n) < 0 ? -1 : 0;
    }
    UNLOCK(s);
    return rc;
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

static const char *readable_state(const char *state)
{
    if (!strcmp(state, "CO")) return "Connected";
    if (!strcmp(state, "ER")) return "Error";
    if (!strcmp(state, "TR")) return "Training";
    if (!strcmp(state, "PR")) return "Predicting";
    return "Disconnected";
}

static json_t *str_or_null(const char *v)
{
    return v ? json_string(v) : json_null();
}

json_t *cg_studio_mlb_json(const cg_studio_mlb *m)
{
    char created[32], updated[32];
    cg_studio_format_time(m->created_at, created);
    cg_studio_format_time(m->updated_at, updated);
    json_t *extra = m->extra_params ? json_loads(m->extra_params, JSON_DECODE_ANY, NULL) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "state", json_string(m->state));
    json_object_set_new(o, "readable_state", json_string(readable_state(m->state)));
    json_object_set_new(o, "is_interactive", json_boolean(m->is_interactive));
    json_object_set_new(o, "url", json_string(m->url ? m->url : ""));
    json_object_set_new(o, "error_message", str_or_null(m->error_message));
    json_object_set_new(o, "title", str_or_null(m->title));
    json_object_set_new(o, "auth_method", json_string(m->auth_method ? m->auth_method : "NONE"));
    json_object_set_new(o, "basic_auth_user", str_or_null(m->basic_auth_user));
    json_object_set_new(o, "basic_auth_pass_is_set",
                        json_boolean(m->basic_auth_pass && m->basic_auth_pass[0]));
    json_object_set_new(o, "description", str_or_null(m->description));
    json_object_set_new(o, "extra_params", extra ? extra : json_null());
    json_object_set_new(o, "model_version", str_or_null(m->model_version));
    json_object_set_new(o, "timeout", json_real(m->timeout));
    json_object_set_new(o, "created_at", json_string(created));
    json_object_set_new(o, "updated_at", json_string(updated));
    json_object_set_new(o, "auto_update", json_boolean(m->auto_update));
    json_object_set_new(o, "project", json_integer(m->project));
    return o;
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

int cg_studio_store_mlb_get(cg_studio_store *s, int64_t id, cg_studio_mlb *m)
{
    memset(m, 0, sizeof *m);
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT id,project,state,is_interactive,url,error_message,title,"
                               "auth_method,basic_auth_user,basic_auth_pass,description,"
                               "extra_params,model_version,timeout,created_at,updated_at,"
                               "auto_update FROM ml_backends WHERE id=?");
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        int r = sqlite3_step(st);
        if (r == SQLITE_ROW) {
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
            rc = 0;
        } else {
            rc = r == SQLITE_DONE ? CG_STORE_NOTFOUND : -1;
        }
        sqlite3_finalize(st);
    }
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
    sqlite3_stmt *st = cg__st_prep(s, sql);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, id);
    int rc = cg__st_step_done_locked(s, st);
    return rc == 0 && sqlite3_changes(s->db) == 0 ? CG_STORE_NOTFOUND : rc;
}

int cg_studio_store_mlb_delete(cg_studio_store *s, int64_t id)
{
    LOCK(s);
    sqlite3_stmt *st;
    int rc = cg__st_delete_by_id_locked(s, "DELETE FROM ml_backends WHERE id=?", id);
    if (rc == 0 && (st = cg__st_prep(s, "UPDATE predict_jobs SET status='cancelled',error="
                                 "'ML backend deleted',finished_at=?1,updated_at=?1 WHERE "
                                 "ml_backend=?2 AND status IN ('queued','running')"))) {
        sqlite3_bind_int64(st, 1, cg_studio_now_us());
        sqlite3_bind_int64(st, 2, id);
        rc = cg__st_step_done_locked(s, st);
    }
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
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, interactive < 0
        ? "SELECT id FROM ml_backends WHERE project=? ORDER BY id"
        : "SELECT id FROM ml_backends WHERE project=? AND is_interactive=? ORDER BY id");
    if (st) {
        sqlite3_bind_int64(st, 1, project);
        if (interactive >= 0)
            sqlite3_bind_int(st, 2, interactive);
        rc = ids_locked(s, st, ids, n);
    }
    UNLOCK(s);
    return rc;
}

/* ---- webhooks ------------------------------------------------------------------------- */

int cg_studio_store_webhook_ensure(cg_studio_store *s, int64_t project, const char *url)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "INSERT OR IGNORE INTO webhooks(project,url,created_at) "
                               "VALUES(?,?,?)");
    if (st) {
        sqlite3_bind_int64(st, 1, project);
        cg__st_bind_str(st, 2, url);
        sqlite3_bind_int64(st, 3, cg_studio_now_us());
        rc = cg__st_step_done_locked(s, st);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_webhook_urls(cg_studio_store *s, int64_t project, json_t **urls)
{
    LOCK(s);
    int rc = -1;
    *urls = NULL;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT url FROM webhooks WHERE project=? ORDER BY id");
    if (st) {
        sqlite3_bind_int64(st, 1, project);
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

json_t *cg_studio_job_json(const cg_studio_job *j)
{
    char t[32];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "ml_backend", json_integer(j->ml_backend));
    json_object_set_new(o, "project", json_integer(j->project));
    json_object_set_new(o, "status", json_string(j->status));
    json_object_set_new(o, "model_version", json_string(j->model_version ? j->model_version : ""));
    json_object_set_new(o, "batch_size", json_integer(j->batch_size));
    json_object_set_new(o, "total", json_integer(j->total));
    json_object_set_new(o, "predicted", json_integer(j->predicted));
    json_object_set_new(o, "failed", json_integer(j->failed));
    int64_t left = j->total - j->predicted - j->failed;
    json_object_set_new(o, "remaining", json_integer(left > 0 ? left : 0));
    json_object_set_new(o, "progress", json_real(j->total > 0 ? (double)(j->predicted + j->failed) / (double)j->total : (strcmp(j->status, "completed") ? 0.0 : 1.0)));
    double secs = 0;
    if (j->started_at)
        secs = (double)((j->finished_at ? j->finished_at : cg_studio_now_us()) - j->started_at) / 1e6;
    json_object_set_new(o, "tasks_per_second",
                        json_real(secs > 0 ? (double)j->predicted / secs : 0.0));
    json_object_set_new(o, "error", str_or_null(j->error));
    cg_studio_format_time(j->created_at, t);
    json_object_set_new(o, "created_at", json_string(t));
    if (j->started_at) cg_studio_format_time(j->started_at, t);
    json_object_set_new(o, "started_at", j->started_at ? json_string(t) : json_null());
    if (j->finished_at) cg_studio_format_time(j->finished_at, t);
    json_object_set_new(o, "finished_at", j->finished_at ? json_string(t) : json_null());
    return o;
}

int cg_studio_store_job_create(cg_studio_store *s, cg_studio_job *j)
{
    LOCK(s);
    int rc = -1;
    j->created_at = j->updated_at = cg_studio_now_us();
    sqlite3_stmt *st = cg__st_prep(s, "INSERT INTO predict_jobs(ml_backend,project,model_version,"
                               "batch_size,status,total,created_at,updated_at) "
                               "VALUES(?,?,?,?,?,?,?,?)");
    if (st) {
        sqlite3_bind_int64(st, 1, j->ml_backend);
        sqlite3_bind_int64(st, 2, j->project);
        cg__st_bind_str(st, 3, j->model_version ? j->model_version : "");
        sqlite3_bind_int(st, 4, j->batch_size);
        cg__st_bind_str(st, 5, j->status);
        sqlite3_bind_int64(st, 6, j->total);
        sqlite3_bind_int64(st, 7, j->created_at);
        sqlite3_bind_int64(st, 8, j->updated_at);
        rc = cg__st_step_done_locked(s, st);
        if (rc == 0)
            j->id = sqlite3_last_insert_rowid(s->db);
    }
    UNLOCK(s);
    return rc;
}

#define JOB_COLS "id,ml_backend,project,model_version,batch_size,status,total,predicted," \
                 "failed,cursor,error,created_at,started_at,finished_at,updated_at"

static int job_row_locked(cg_studio_store *s, sqlite3_stmt *st, cg_studio_job *j)
{
    memset(j, 0, sizeof *j);
    int r = sqlite3_step(st), rc;
    if (r == SQLITE_ROW) {
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
        rc = 0;
    } else {
        rc = r == SQLITE_DONE ? CG_STORE_NOTFOUND : -1;
        if (rc < 0)
            cg__st_log_db_error(s, "job");
    }
    sqlite3_finalize(st);
    return rc;
}

int cg_studio_store_job_get(cg_studio_store *s, int64_t id, cg_studio_job *j)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT " JOB_COLS " FROM predict_jobs WHERE id=?");
    if (st) {
        sqlite3_bind_int64(st, 1, id);
        rc = job_row_locked(s, st, j);
    }
    UNLOCK(s);
    return rc;
}

int cg_studio_store_job_latest(cg_studio_store *s, int64_t ml_backend, cg_studio_job *j)
{
    LOCK(s);
    int rc = -1;
    sqlite3_stmt *st = cg__st_prep(s, "SELECT " JOB_COLS " FROM predict_jobs WHERE ml_backend=? "
                               "ORDER BY id DESC LIMIT 1");
    if (st) {
        sqlite3_bind_int64(st, 1, ml_backend);
        rc = job_row_locked(s, st, j);
    }
    UNLOCK(s);
    return rc;
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
    sqlite3_stmt *st = cg__st_prep(s, "UPDATE predict_jobs SET status=?,total=?,predicted=?,failed=?,"
                               "cursor=?,error=?,started_at=?,finished_at=?,updated_at=?,"
                               "model_version=? WHERE id=? AND status<>'cancelled'");
    if (!st)
        return -1;
    cg__st_bind_str(st, 1, j->status);
    sqlite3_bind_int64(st, 2, j->total);
    sqlite3_bind_int64(st, 3, j->predicted);
    sqlite3_bind_int64(st, 4, j->failed);
    sqlite3_bind_int64(st, 5, j->cursor);
    cg__st_bind_str(st, 6, j->error);
    if (j->started_at) sqlite3_bind_int64(st, 7, j->started_at); else sqlite3_bind_null(st, 7);
    if (j->finished_at) sqlite3_bind_int64(st, 8, j->finished_at); else sqlite3_bind_null(st, 8);
    sqlite3_bind_int64(st, 9, j->updated_at);
    cg__st_bind_str(st, 10, j->model_version ? j->model_version : "");
    sqlite3_bind_int64(st, 11, j->id);
    int rc = cg__st_step_done_locked(s, st);
    if (rc == 0 && sqlite3_changes(s->db) == 0)
        rc = CG_STORE_NOTFOUND;
    return rc;
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
