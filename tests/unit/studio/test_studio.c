/* Unit tests for src/studio: JWT and keys, reply helpers, label configs, the SQLite store
 * (items too), the ML client's error texts and timeouts. Whole-server behaviour is tested in tests/e2e/studio_*.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "tempdir.h"

#include "common/http_client.h"
#include "studio/app.h"
#include "studio/jwt.h"
#include "studio/mlclient.h"
#include "studio/store.h"
#include "studio/studio.h"

/* ---- jwt ---- */

static void jwt_sign_matches_the_jwt_io_vector(void **state)
{
    json_t *claims = json_pack("{s:s,s:s,s:I}", "sub", "1234567890", "name", "John Doe", "iat",
                               (json_int_t)1516239022);
    char *tok = cg_studio_jwt_sign(claims, "your-256-bit-secret");
    assert_string_equal(
        tok, "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9."
             "eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIiwiaWF0IjoxNTE2MjM5MDIyfQ."
             "SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c");
    free(tok);
    json_decref(claims);
}

static void jwt_verify_accepts_valid_and_rejects_tampered_expired_and_foreign(void **state)
{
    char err[128];
    json_t *claims = json_pack("{s:s,s:I}", "token_type", "access", "exp", (json_int_t)2000);
    char *tok = cg_studio_jwt_sign(claims, "k1");
    json_t *got = cg_studio_jwt_verify(tok, "k1", 1000, err, sizeof err);
    assert_non_null(got);
    assert_string_equal(json_string_value(json_object_get(got, "token_type")), "access");
    json_decref(got);
    assert_null(cg_studio_jwt_verify(tok, "k1", 2000, err, sizeof err)); /* expired */
    assert_string_equal(err, "Token is invalid or expired");
    assert_null(cg_studio_jwt_verify(tok, "k2", 1000, err, sizeof err)); /* other key */
    tok[strlen(tok) - 2] ^= 1;                                           /* tampered */
    assert_null(cg_studio_jwt_verify(tok, "k1", 1000, err, sizeof err));
    assert_null(cg_studio_jwt_verify("a.b", "k1", 0, err, sizeof err));
    assert_null(cg_studio_jwt_verify("a.b.c.d", "k1", 0, err, sizeof err));
    /* alg "none" with an empty signature */
    assert_null(cg_studio_jwt_verify("eyJhbGciOiJub25lIn0.eyJleHAiOjk5OTk5OTk5OTl9.", "k1", 0, err,
                                     sizeof err));
    free(tok);
    json_decref(claims);
}

static void random_hex_gives_distinct_lowercase_keys(void **state)
{
    char a[41], b[41];
    assert_int_equal(cg_studio_random_hex(a, 20), 0);
    assert_int_equal(cg_studio_random_hex(b, 20), 0);
    assert_int_equal(strlen(a), 40);
    assert_int_equal(strspn(a, "0123456789abcdef"), 40);
    assert_string_not_equal(a, b);
    char big[200];
    assert_int_equal(cg_studio_random_hex(big, 65), -1);
}

/* ---- reply helpers ---- */

static void uuid4_has_the_version_and_variant_bits(void **state)
{
    char u[37];
    cg_studio_uuid4(u);
    assert_int_equal(strlen(u), 36);
    assert_int_equal(u[8], '-');
    assert_int_equal(u[14], '4');
    assert_non_null(strchr("89ab", u[19]));
}

static void parse_id_accepts_only_positive_decimal(void **state)
{
    assert_int_equal(cg_studio_parse_id("12"), 12);
    assert_int_equal(cg_studio_parse_id(""), 0);
    assert_int_equal(cg_studio_parse_id(NULL), 0);
    assert_int_equal(cg_studio_parse_id("1a"), 0);
    assert_int_equal(cg_studio_parse_id("-1"), 0);
    assert_int_equal(cg_studio_parse_id(" 1"), 0);
    assert_int_equal(cg_studio_parse_id("1234567890123456789"), 0);
}

static void error_body_has_label_studios_keys_in_order(void **state)
{
    cg_http_response res = {.status = 200};
    cg_studio_reply_error(&res, 404, "No MLBackend matches the given query.", NULL);
    assert_int_equal(res.status, 404);
    json_t *o = json_loads(res.body.data, 0, NULL);
    const char *want[] = {"id", "status_code", "version", "detail", "exc_info"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) assert_string_equal(k, want[i++]);
    assert_int_equal(i, 5);
    assert_int_equal(json_integer_value(json_object_get(o, "status_code")), 404);
    assert_true(json_is_null(json_object_get(o, "exc_info")));
    json_decref(o);
    cg_buf_free(&res.body);
}

static void time_is_formatted_with_microseconds_and_z(void **state)
{
    char t[32];
    cg_studio_format_time(0, t);
    assert_string_equal(t, "1970-01-01T00:00:00.000000Z");
    cg_studio_format_time(1795879326123456LL, t);
    assert_string_equal(t, "2026-11-28T15:22:06.123456Z");
}

/* ---- store ---- */

typedef struct fixture {
    char dir[64];
    char path[128];
    cg_studio_store *s;
} fixture;

static int store_setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (tempdir_make(f->dir, sizeof f->dir, "studio-test") != 0) return -1;
    snprintf(f->path, sizeof f->path, "%s/sub/studio.db", f->dir);
    char err[256];
    if (cg_studio_store_open(f->path, &f->s, err, sizeof err) != 0) return -1;
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    fixture *f = *state;
    cg_studio_store_close(f->s);
    int rc = tempdir_remove(f->dir);
    free(f);
    return rc;
}

static int64_t new_project(cg_studio_store *s)
{
    cg_studio_project p = {
        .title = strdup("t"), .label_config = strdup("<View/>"), .created_by = 1};
    assert_int_equal(cg_studio_store_project_create(s, &p), 0);
    int64_t id = p.id;
    cg_studio_project_clear(&p);
    return id;
}

/* Imports the JSON list text into project p as user 1: the store's answer, the counts in
 * counts (when not NULL) and a refusal's message in err. */
static int import(cg_studio_store *s, int64_t p, const char *text, json_t *counts, char *err,
                  size_t errlen)
{
    json_t *items = json_loads(text, 0, NULL), *dropped = counts ? NULL : json_object();
    int rc = cg_studio_store_tasks_import(s, p, items, 1, counts ? counts : dropped, err, errlen);
    json_decref(items);
    json_decref(dropped);
    return rc;
}

static void store_reopens_an_existing_database_without_migrating_again(void **state)
{
    fixture *f = *state;
    assert_int_equal(cg_studio_store_meta_set(f->s, "k", "v"), 0);
    cg_studio_store_close(f->s);
    char err[256];
    assert_int_equal(cg_studio_store_open(f->path, &f->s, err, sizeof err), 0);
    char *v = NULL;
    assert_int_equal(cg_studio_store_meta_get(f->s, "k", &v), 0);
    assert_string_equal(v, "v");
    free(v);
    assert_int_equal(cg_studio_store_meta_get(f->s, "missing", &v), CG_STORE_NOTFOUND);
}

static void store_open_reports_an_unusable_path(void **state)
{
    cg_studio_store *s = NULL;
    char err[256] = "";
    assert_int_equal(cg_studio_store_open("/proc/nope/deeper/x.db", &s, err, sizeof err), -1);
    assert_null(s);
    assert_true(strlen(err) > 0);
}

static void store_import_is_all_or_nothing(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s);
    json_t *counts = json_object();
    char err[200];
    assert_int_equal(import(f->s, p,
                            "[{\"text\":\"a\"},{\"data\":{\"text\":\"b\"},\"predictions\":"
                            "[{\"result\":[],\"model_version\":\"v1\"}]}]",
                            counts, err, sizeof err),
                     0);
    assert_int_equal(json_integer_value(json_object_get(counts, "task_count")), 2);
    assert_int_equal(json_integer_value(json_object_get(counts, "prediction_count")), 1);
    assert_int_equal(import(f->s, p, "[{\"text\":\"c\"},{\"data\":5}]", counts, err, sizeof err),
                     CG_STORE_NOTFOUND);
    assert_string_equal(err, "Task #1: \"data\" must be a JSON object");
    int64_t total = 0;
    json_t *page = cg_studio_store_task_page_json(f->s, p, 1, 100, &total);
    assert_int_equal(total, 2); /* "c" was rolled back */
    assert_int_equal(json_integer_value(json_object_get(json_array_get(page, 1), "inner_id")), 2);
    json_decref(page);
    json_decref(counts);
}

static void store_tasks_to_predict_skips_the_current_version_and_follows_the_cursor(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s);
    char err[200];
    assert_int_equal(import(f->s, p,
                            "[{\"t\":1},{\"data\":{\"t\":2},\"predictions\":[{\"result\":[],"
                            "\"model_version\":\"v1\"}]},{\"t\":3},{\"t\":4}]",
                            NULL, err, sizeof err),
                     0);
    int64_t n = 0;
    assert_int_equal(cg_studio_store_count_to_predict(f->s, p, "v1", &n), 0);
    assert_int_equal(n, 3);
    assert_int_equal(cg_studio_store_count_to_predict(f->s, p, "v2", &n), 0);
    assert_int_equal(n, 4);
    json_t *batch = cg_studio_store_tasks_to_predict(f->s, p, "v1", 0, 2);
    assert_int_equal(json_array_size(batch), 2);
    int64_t first = json_integer_value(json_object_get(json_array_get(batch, 0), "id"));
    int64_t second = json_integer_value(json_object_get(json_array_get(batch, 1), "id"));
    assert_int_equal(second, first + 2); /* task 2 is already predicted */

    cg_studio_job j = {
        .ml_backend = 7, .project = p, .model_version = strdup("v1"), .batch_size = 2};
    snprintf(j.status, sizeof j.status, "running");
    assert_int_equal(cg_studio_store_job_create(f->s, &j), 0);
    json_t *res = json_array();
    cg_studio_pred_in preds[2] = {{.task = first, .result = res, .model_version = "v1"},
                                  {.task = second, .result = res, .has_score = 1, .score = 0.5}};
    j.cursor = second;
    j.predicted = 2;
    assert_int_equal(cg_studio_store_job_commit_batch(f->s, &j, p, 7, preds, 2), 0);
    json_decref(batch);
    batch = cg_studio_store_tasks_to_predict(f->s, p, "v1", j.cursor, 2);
    assert_int_equal(json_array_size(batch), 1); /* only task 4 is left */
    cg_studio_job got;
    assert_int_equal(cg_studio_store_job_get(f->s, j.id, &got), 0);
    assert_int_equal(got.cursor, second);
    assert_int_equal(got.predicted, 2);
    cg_studio_job_clear(&got);
    json_t *pj = cg_studio_store_predictions_json(f->s, second, 0);
    assert_true(json_real_value(json_object_get(json_array_get(pj, 0), "score")) == 0.5);
    assert_string_equal(json_string_value(json_object_get(json_array_get(pj, 0), "model_version")),
                        "");
    json_decref(pj);
    json_decref(res);
    json_decref(batch);
    cg_studio_job_clear(&j);
}

static void store_cancelled_job_is_not_overwritten(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s);
    cg_studio_mlb m = {.project = p, .url = strdup("http://x"), .timeout = 100, .auto_update = 1};
    snprintf(m.state, sizeof m.state, "DI");
    assert_int_equal(cg_studio_store_mlb_create(f->s, &m), 0);
    cg_studio_job j = {.ml_backend = m.id, .project = p, .batch_size = 10};
    snprintf(j.status, sizeof j.status, "running");
    assert_int_equal(cg_studio_store_job_create(f->s, &j), 0);
    assert_int_equal(cg_studio_store_mlb_delete(f->s, m.id), 0); /* cancels its runs */
    j.predicted = 5;
    assert_int_equal(cg_studio_store_job_save(f->s, &j), CG_STORE_NOTFOUND);
    cg_studio_job got;
    assert_int_equal(cg_studio_store_job_latest(f->s, m.id, &got), 0);
    assert_string_equal(got.status, "cancelled");
    cg_studio_job_clear(&got);
    int64_t *ids;
    size_t n;
    assert_int_equal(cg_studio_store_jobs_unfinished(f->s, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(cg_studio_store_mlb_delete(f->s, m.id), CG_STORE_NOTFOUND);
    cg_studio_mlb_clear(&m);
    cg_studio_job_clear(&j);
}

static void store_ml_backend_round_trips_in_label_studio_order(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f->s);
    cg_studio_mlb m = {.project = p,
                       .url = strdup("http://x:9090"),
                       .title = strdup("default"),
                       .auth_method = strdup("BASIC_AUTH"),
                       .basic_auth_user = strdup("u"),
                       .basic_auth_pass = strdup("secret"),
                       .extra_params = strdup("{\"a\":1}"),
                       .timeout = 100,
                       .auto_update = 1};
    snprintf(m.state, sizeof m.state, "CO");
    assert_int_equal(cg_studio_store_mlb_create(f->s, &m), 0);
    cg_studio_mlb got;
    assert_int_equal(cg_studio_store_mlb_get(f->s, m.id, &got), 0);
    assert_string_equal(got.basic_auth_pass, "secret");
    assert_null(got.model_version);
    json_t *o = cg_studio_mlb_json(&got);
    const char *want[] = {"id",
                          "state",
                          "readable_state",
                          "is_interactive",
                          "url",
                          "error_message",
                          "title",
                          "auth_method",
                          "basic_auth_user",
                          "basic_auth_pass_is_set",
                          "description",
                          "extra_params",
                          "model_version",
                          "timeout",
                          "created_at",
                          "updated_at",
                          "auto_update",
                          "project"};
    size_t i = 0;
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) assert_string_equal(k, want[i++]);
    assert_int_equal(i, 18);
    assert_true(json_is_true(json_object_get(o, "basic_auth_pass_is_set")));
    assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "extra_params"), "a")),
                     1);
    assert_string_equal(json_string_value(json_object_get(o, "readable_state")), "Connected");
    json_decref(o);
    int64_t *ids;
    size_t n;
    assert_int_equal(cg_studio_store_mlb_ids(f->s, p, 1, &ids, &n), 0);
    assert_int_equal(n, 0);
    free(ids);
    assert_int_equal(cg_studio_store_mlb_ids(f->s, p, -1, &ids, &n), 0);
    assert_int_equal(n, 1);
    free(ids);
    cg_studio_mlb_clear(&got);
    cg_studio_mlb_clear(&m);
    assert_int_equal(cg_studio_store_mlb_get(f->s, 999, &got), CG_STORE_NOTFOUND);
}

static void store_webhooks_are_unique_per_project_and_url(void **state)
{
    fixture *f = *state;
    assert_int_equal(cg_studio_store_webhook_ensure(f->s, 1, "http://x/webhook"), 0);
    assert_int_equal(cg_studio_store_webhook_ensure(f->s, 1, "http://x/webhook"), 0);
    assert_int_equal(cg_studio_store_webhook_ensure(f->s, 2, "http://x/webhook"), 0);
    json_t *urls;
    assert_int_equal(cg_studio_store_webhook_urls(f->s, 1, &urls), 0);
    assert_int_equal(json_array_size(urls), 1);
    json_decref(urls);
}

static void store_tokens_can_be_blacklisted_once(void **state)
{
    fixture *f = *state;
    assert_int_equal(cg_studio_store_admin_set_key(f->s, "abc"), 0);
    int64_t user = 0;
    assert_int_equal(cg_studio_store_user_by_key(f->s, "abc", &user), 0);
    assert_int_equal(user, 1);
    assert_int_equal(cg_studio_store_user_by_key(f->s, "abd", &user), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_pat_add(f->s, "j1", 1, 99), 0);
    assert_int_equal(cg_studio_store_pat_valid(f->s, "j1"), 0);
    assert_int_equal(cg_studio_store_pat_blacklist(f->s, "j1"), 0);
    assert_int_equal(cg_studio_store_pat_valid(f->s, "j1"), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_pat_blacklist(f->s, "j1"), CG_STORE_NOTFOUND);
}

static void store_items_update_delete_and_know_model_versions(void **state)
{
    fixture *f = *state;
    cg_studio_project p = {.title = strdup("proj"),
                           .label_config = strdup("<View/>"),
                           .created_by = 1,
                           .show_collab_predictions = 1};
    assert_int_equal(cg_studio_store_project_create(f->s, &p), 0);
    json_t *data = json_pack("{s:s}", "text", "a");
    int64_t t1 = 0, t2 = 0, pr = 0, next = 0;
    assert_int_equal(cg_studio_store_task_create(f->s, p.id, data, NULL, &t1), 0);
    assert_int_equal(cg_studio_store_task_create(f->s, p.id, data, NULL, &t2), 0);
    json_t *t = cg_studio_store_task_json(f->s, t2);
    assert_int_equal(json_integer_value(json_object_get(t, "inner_id")), 2);
    json_decref(t);
    assert_int_equal(cg_studio_store_model_version_known(f->s, p.id, "v1"), CG_STORE_NOTFOUND);
    json_t *result = json_array();
    assert_int_equal(cg_studio_store_prediction_create(f->s, t1, result, NULL, "v1", &pr), 0);
    assert_int_equal(cg_studio_store_model_version_known(f->s, p.id, "v1"), 0);
    json_t *score = json_real(0.5);
    assert_int_equal(cg_studio_store_prediction_update(f->s, pr, NULL, score, "v2"), 0);
    json_t *o = cg_studio_store_prediction_json(f->s, pr);
    assert_string_equal(json_string_value(json_object_get(o, "model_version")), "v2");
    assert_true(json_real_value(json_object_get(o, "score")) == 0.5);
    json_decref(o);
    assert_int_equal(cg_studio_store_prediction_delete(f->s, pr), 0);
    assert_int_equal(cg_studio_store_prediction_delete(f->s, pr), CG_STORE_NOTFOUND);
    assert_int_equal(cg_studio_store_next_task(f->s, p.id, &next), 0);
    assert_int_equal(next, t1);
    char err[128];
    json_t *abody = json_pack("{s:[]}", "result");
    json_t *ann = cg_studio_store_annotation_create(f->s, t1, 1, abody, err, sizeof err);
    json_decref(abody);
    assert_non_null(ann);
    int64_t aid = json_integer_value(json_object_get(ann, "id")), at = 0, ap = 0;
    assert_int_equal(cg_studio_store_next_task(f->s, p.id, &next), 0);
    assert_int_equal(next, t2);
    assert_int_equal(cg_studio_store_annotation_task(f->s, aid, &at, &ap), 0);
    assert_int_equal(at, t1);
    assert_int_equal(ap, p.id);
    assert_int_equal(cg_studio_store_annotation_delete(f->s, aid), 0);
    assert_int_equal(cg_studio_store_annotation_task(f->s, aid, &at, &ap), CG_STORE_NOTFOUND);
    json_t *items = json_pack("[{s:I,s:[]},{s:I,s:[]}]", "task", (json_int_t)t1, "result", "task",
                              (json_int_t)99999, "result");
    assert_int_equal(cg_studio_store_predictions_import(f->s, p.id, items, err, sizeof err),
                     CG_STORE_NOTFOUND);
    o = cg_studio_store_predictions_json(f->s, t1, 0);
    assert_int_equal(json_array_size(o), 0); /* all or nothing */
    json_decref(o);
    json_decref(items);
    json_decref(ann);
    json_decref(score);
    json_decref(result);
    json_decref(data);
    cg_studio_project_clear(&p);
}

/* ---- ML client ---- */

static void ml_timeouts_follow_label_studio_defaults_and_env(void **state)
{
    double c, r;
    unsetenv("ML_TIMEOUT_PREDICT");
    unsetenv("ML_CONNECTION_TIMEOUT");
    cg_studio_ml_timeouts(CG_ML_HEALTH, &c, &r);
    assert_true(c == 1.0 && r == 1.0);
    cg_studio_ml_timeouts(CG_ML_SETUP, &c, &r);
    assert_true(r == 3.0);
    cg_studio_ml_timeouts(CG_ML_PREDICT, &c, &r);
    assert_true(r == 100.0);
    setenv("ML_TIMEOUT_PREDICT", "250.5", 1);
    setenv("ML_CONNECTION_TIMEOUT", "junk", 1);
    cg_studio_ml_timeouts(CG_ML_PREDICT, &c, &r);
    assert_true(r == 250.5 && c == 1.0);
    unsetenv("ML_TIMEOUT_PREDICT");
    unsetenv("ML_CONNECTION_TIMEOUT");
}

static void ml_call_to_a_closed_port_reads_like_python_requests(void **state)
{
    cg_http_client_init();
    cg_studio_ml_target t = {"http://127.0.0.1:1", NULL, NULL};
    cg_studio_ml_reply r;
    assert_int_equal(cg_studio_ml_call(&t, "GET", "health", NULL, CG_ML_HEALTH, NULL, &r), -1);
    assert_int_equal(r.status, 0);
    assert_null(r.json);
    assert_string_equal(r.error, "HTTPConnectionPool(host='127.0.0.1', port=1): Max retries "
                                 "exceeded with url: /health (Caused by NewConnectionError("
                                 "'Failed to establish a new connection: [Errno 111] Connection "
                                 "refused'))");
    cg_studio_ml_reply_clear(&r);
}

/* ---- the server, in process ---- */

static void studio_starts_generates_a_key_once_and_stops(void **state)
{
    char dir[64], db[96], err[256];
    assert_int_equal(tempdir_make(dir, sizeof dir, "studio-srv"), 0);
    snprintf(db, sizeof db, "%s/studio.db", dir);
    cg_studio_options opt = {.port = 0, .db_path = db};
    char *key = NULL;
    cg_studio *s = cg_studio_start(&opt, &key, err, sizeof err);
    assert_non_null(s);
    assert_non_null(key);
    assert_int_equal(strlen(key), 40);
    assert_true(cg_studio_port(s) > 0);
    cg_studio_stop(s);
    char *again = NULL;
    s = cg_studio_start(&opt, &again, err, sizeof err);
    assert_non_null(s);
    assert_null(again); /* stored: not generated, not shown again */
    cg_studio_stop(s);
    opt.api_key = "has space";
    assert_null(cg_studio_start(&opt, NULL, err, sizeof err));
    assert_non_null(strstr(err, "LABEL_STUDIO_API_KEY"));
    free(key);
    assert_int_equal(tempdir_remove(dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(jwt_sign_matches_the_jwt_io_vector),
        cmocka_unit_test(jwt_verify_accepts_valid_and_rejects_tampered_expired_and_foreign),
        cmocka_unit_test(random_hex_gives_distinct_lowercase_keys),
        cmocka_unit_test(uuid4_has_the_version_and_variant_bits),
        cmocka_unit_test(parse_id_accepts_only_positive_decimal),
        cmocka_unit_test(error_body_has_label_studios_keys_in_order),
        cmocka_unit_test(time_is_formatted_with_microseconds_and_z),
        cmocka_unit_test_setup_teardown(store_reopens_an_existing_database_without_migrating_again,
                                        store_setup, store_teardown),
        cmocka_unit_test(store_open_reports_an_unusable_path),
        cmocka_unit_test_setup_teardown(store_import_is_all_or_nothing, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(
            store_tasks_to_predict_skips_the_current_version_and_follows_the_cursor, store_setup,
            store_teardown),
        cmocka_unit_test_setup_teardown(store_cancelled_job_is_not_overwritten, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(store_ml_backend_round_trips_in_label_studio_order,
                                        store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(store_webhooks_are_unique_per_project_and_url, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(store_tokens_can_be_blacklisted_once, store_setup,
                                        store_teardown),
        cmocka_unit_test_setup_teardown(store_items_update_delete_and_know_model_versions,
                                        store_setup, store_teardown),
        cmocka_unit_test(ml_timeouts_follow_label_studio_defaults_and_env),
        cmocka_unit_test(ml_call_to_a_closed_port_reads_like_python_requests),
        cmocka_unit_test(studio_starts_generates_a_key_once_and_stops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
