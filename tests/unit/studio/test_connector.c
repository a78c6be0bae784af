/*
 * Unit tests for studio/connector.h (src/studio/connector.c): what studio says to an ML
 * backend, against a loopback backend (loopback.h) and a store on a scratch SQLite file.
 * Covered: the project uid and the /predict body; the /health, /setup (its body field by
 * field), /predict, /webhook START_TRAINING and /versions calls; update_state saving CO with
 * the backend's model version (only with auto_update), ER with the error, DI when the
 * backend is down; project webhooks sent to every URL of the project with the action, the
 * extra fields and the project; and stop joining a sender that is still sending.
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

#include "loopback.h"

#include <jansson.h>

#include "studio/connector.h"

#define MAX_SEEN 16

/* What the backend received, in order (the webhooks come from sender threads). */
typedef struct backend {
    pthread_mutex_t mu;
    loopback_seen seen[MAX_SEEN];
    int n;
    atomic_int release_slow; /* /slow/... answers once this is set (or after 3 s) */
} backend;

typedef struct fixture {
    char dir[64], path[128];
    cg_studio_store *store;
    loopback_upstream upstream;
    backend be;
    atomic_int stopping;
    cg_studio_conn conn;
    char base[64]; /* http://127.0.0.1:PORT */
} fixture;

/* Routes under /ok/ answer as a backend does; under /bad/ setup fails; /slow/ waits. */
static void answer(void *ctx, const loopback_seen *rq, int *status, const char **type, char *body,
                   size_t cap)
{
    backend *b = ctx;
    pthread_mutex_lock(&b->mu);
    if (b->n < MAX_SEEN) b->seen[b->n++] = *rq;
    pthread_mutex_unlock(&b->mu);
    if (!strncmp(rq->target, "/slow/", 6))
        for (int i = 0; i < 300 && !atomic_load(&b->release_slow); i++) usleep(10 * 1000);
    const char *route = strrchr(rq->target, '/');
    if (!strcmp(route, "/health")) snprintf(body, cap, "{\"status\":\"UP\"}");
    else if (!strcmp(route, "/setup") && !strncmp(rq->target, "/bad/", 5)) {
        *status = 500;
        snprintf(body, cap, "{\"error\":\"no model\"}");
    } else if (!strcmp(route, "/setup")) snprintf(body, cap, "{\"model_version\":\"nb-7\"}");
    else if (!strcmp(route, "/versions")) snprintf(body, cap, "{\"versions\":[\"nb-6\",\"nb-7\"]}");
    else if (!strcmp(route, "/predict")) snprintf(body, cap, "{\"results\":[]}");
    else snprintf(body, cap, "{}");
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    if (tempdir_make(f->dir, sizeof f->dir, "connector") != 0) return -1;
    snprintf(f->path, sizeof f->path, "%s/studio.db", f->dir);
    char err[256];
    if (cg_studio_store_open(f->path, &f->store, err, sizeof err) != 0) return -1;
    pthread_mutex_init(&f->be.mu, NULL);
    loopback_upstream_start(&f->upstream, answer, &f->be);
    snprintf(f->base, sizeof f->base, "http://127.0.0.1:%d", f->upstream.port);
    f->conn = (cg_studio_conn){.store = f->store,
                               .public_url = "http://studio.test:8080",
                               .admin_key = "admin-key-1",
                               .stopping = &f->stopping,
                               .webhooks = cg_studio_webhooks_create()};
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    atomic_store(&f->be.release_slow, 1);
    cg_studio_webhooks_stop(f->conn.webhooks);
    loopback_upstream_stop(&f->upstream);
    pthread_mutex_destroy(&f->be.mu);
    cg_studio_store_close(f->store);
    int rc = tempdir_remove_db(f->dir, f->path);
    free(f);
    return rc;
}

static int64_t new_project(fixture *f)
{
    cg_studio_project p = {
        .title = strdup("p"),
        .label_config = strdup("<View><Choices name=\"c\" toName=\"t\"/></View>"),
        .created_by = 1,
        .show_collab_predictions = 1};
    assert_int_equal(cg_studio_store_project_create(f->store, &p), 0);
    int64_t id = p.id;
    cg_studio_project_clear(&p);
    return id;
}

/* A backend row at base + prefix for project. */
static int64_t new_backend(fixture *f, int64_t project, const char *prefix, int auto_update)
{
    char url[128];
    snprintf(url, sizeof url, "%s%s", f->base, prefix);
    cg_studio_mlb m = {.project = project,
                       .state = "DI",
                       .url = strdup(url),
                       .title = strdup("nb"),
                       .extra_params = strdup("{\"threshold\":0.5}"),
                       .timeout = 10,
                       .auto_update = auto_update};
    assert_int_equal(cg_studio_store_mlb_create(f->store, &m), 0);
    int64_t id = m.id;
    cg_studio_mlb_clear(&m);
    return id;
}

/* The n-th request the backend saw (waits up to 3 s for it). */
static loopback_seen seen(fixture *f, int n)
{
    for (int i = 0; i < 300; i++) {
        pthread_mutex_lock(&f->be.mu);
        int have = f->be.n;
        pthread_mutex_unlock(&f->be.mu);
        if (have > n) break;
        usleep(10 * 1000);
    }
    pthread_mutex_lock(&f->be.mu);
    int have = f->be.n;
    loopback_seen s = n < have ? f->be.seen[n] : (loopback_seen){0};
    pthread_mutex_unlock(&f->be.mu);
    if (n >= have) fail_msg("the backend saw %d requests, not %d", have, n + 1);
    return s;
}

static int n_seen(fixture *f)
{
    pthread_mutex_lock(&f->be.mu);
    int n = f->be.n;
    pthread_mutex_unlock(&f->be.mu);
    return n;
}

static json_t *body_of(const loopback_seen *s)
{
    json_t *j = json_loads(s->body, 0, NULL);
    if (!j) fail_msg("not JSON: '%s'", s->body);
    return j;
}

/* ---- bodies ------------------------------------------------------------------------------ */

static void uid_and_predict_body(void **state)
{
    cg_studio_project p = {.id = 3, .created_at = 1700000000123456LL, .label_config = "<View/>"};
    char uid[64];
    cg_studio_project_uid(&p, uid);
    assert_string_equal(uid, "3.1700000000");

    json_t *context = json_pack("{s:i}", "a", 1);
    char *text = cg_studio_predict_body(&p, json_pack("[{s:i}]", "id", 42), context);
    json_t *b = json_loads(text, 0, NULL);
    free(text);
    assert_int_equal(
        json_integer_value(json_object_get(json_array_get(json_object_get(b, "tasks"), 0), "id")),
        42);
    assert_string_equal(json_string_value(json_object_get(b, "project")), "3.1700000000");
    assert_string_equal(json_string_value(json_object_get(b, "label_config")), "<View/>");
    json_t *params = json_object_get(b, "params");
    assert_true(json_is_null(json_object_get(params, "login")));
    assert_true(json_is_null(json_object_get(params, "password")));
    assert_true(json_equal(json_object_get(params, "context"), context));
    json_decref(b);
    json_decref(context);

    text = cg_studio_predict_body(&p, json_array(), NULL);
    b = json_loads(text, 0, NULL);
    free(text);
    assert_true(json_is_null(json_object_get(json_object_get(b, "params"), "context")));
    assert_int_equal(json_array_size(json_object_get(b, "tasks")), 0);
    json_decref(b);
}

/* ---- calls ------------------------------------------------------------------------------- */

static void the_calls_and_their_bodies(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f);
    cg_studio_mlb m;
    assert_int_equal(cg_studio_store_mlb_get(f->store, new_backend(f, p, "/ok", 1), &m), 0);
    cg_studio_project proj;
    assert_int_equal(cg_studio_store_project_get(f->store, p, &proj), 0);
    char uid[64];
    cg_studio_project_uid(&proj, uid);
    cg_studio_project_clear(&proj);
    cg_studio_ml_reply r;

    assert_int_equal(cg_studio_conn_health(&f->conn, &m, &r), 0);
    assert_string_equal(json_string_value(json_object_get(r.json, "status")), "UP");
    cg_studio_ml_reply_clear(&r);
    loopback_seen s = seen(f, 0);
    assert_string_equal(s.method, "GET");
    assert_string_equal(s.target, "/ok/health");

    assert_int_equal(cg_studio_conn_setup(&f->conn, &m, &r), 0);
    assert_string_equal(json_string_value(json_object_get(r.json, "model_version")), "nb-7");
    cg_studio_ml_reply_clear(&r);
    s = seen(f, 1);
    assert_string_equal(s.method, "POST");
    assert_string_equal(s.target, "/ok/setup");
    json_t *b = body_of(&s);
    assert_string_equal(json_string_value(json_object_get(b, "project")), uid);
    assert_string_equal(json_string_value(json_object_get(b, "schema")),
                        "<View><Choices name=\"c\" toName=\"t\"/></View>");
    assert_string_equal(json_string_value(json_object_get(b, "hostname")),
                        "http://studio.test:8080");
    assert_string_equal(json_string_value(json_object_get(b, "access_token")), "admin-key-1");
    assert_true(json_real_value(json_object_get(json_object_get(b, "extra_params"), "threshold")) ==
                0.5);
    json_decref(b);

    assert_int_equal(cg_studio_conn_predict(&f->conn, &m, "{\"tasks\":[]}", &r), 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "results")), 0);
    cg_studio_ml_reply_clear(&r);
    s = seen(f, 2);
    assert_string_equal(s.target, "/ok/predict");
    assert_string_equal(s.body, "{\"tasks\":[]}");

    assert_int_equal(cg_studio_conn_train(&f->conn, &m, &r), 0);
    cg_studio_ml_reply_clear(&r);
    s = seen(f, 3);
    assert_string_equal(s.method, "POST");
    assert_string_equal(s.target, "/ok/webhook");
    b = body_of(&s);
    assert_string_equal(json_string_value(json_object_get(b, "action")), "START_TRAINING");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(b, "project"), "id")), p);
    json_decref(b);

    assert_int_equal(cg_studio_conn_versions(&f->conn, &m, &r), 0);
    assert_int_equal(json_array_size(json_object_get(r.json, "versions")), 2);
    cg_studio_ml_reply_clear(&r);
    assert_string_equal(seen(f, 4).target, "/ok/versions");

    /* setup for a project that is gone: refused before anything is sent */
    m.project = 999;
    assert_int_equal(cg_studio_conn_setup(&f->conn, &m, &r), -1);
    assert_string_equal(r.error, "project 999 not found");
    cg_studio_ml_reply_clear(&r);
    assert_int_equal(n_seen(f), 5);
    cg_studio_mlb_clear(&m);
}

static void update_state_saves_what_the_backend_said(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f);
    cg_studio_mlb m;

    /* healthy, set up, auto_update: CO with the backend's model version */
    int64_t ok = new_backend(f, p, "/ok", 1);
    assert_int_equal(cg_studio_store_mlb_get(f->store, ok, &m), 0);
    cg_studio_ml_update_state(&f->conn, &m);
    cg_studio_mlb_clear(&m);
    assert_int_equal(cg_studio_store_mlb_get(f->store, ok, &m), 0);
    assert_string_equal(m.state, "CO");
    assert_string_equal(m.model_version, "nb-7");
    assert_null(m.error_message);
    cg_studio_mlb_clear(&m);

    /* without auto_update the model version stays as it was */
    int64_t fixed = new_backend(f, p, "/ok", 0);
    assert_int_equal(cg_studio_store_mlb_get(f->store, fixed, &m), 0);
    cg_studio_ml_update_state(&f->conn, &m);
    cg_studio_mlb_clear(&m);
    assert_int_equal(cg_studio_store_mlb_get(f->store, fixed, &m), 0);
    assert_string_equal(m.state, "CO");
    assert_null(m.model_version);
    cg_studio_mlb_clear(&m);

    /* /setup fails: ER, with requests' words for it */
    int64_t bad = new_backend(f, p, "/bad", 1);
    assert_int_equal(cg_studio_store_mlb_get(f->store, bad, &m), 0);
    cg_studio_ml_update_state(&f->conn, &m);
    cg_studio_mlb_clear(&m);
    assert_int_equal(cg_studio_store_mlb_get(f->store, bad, &m), 0);
    assert_string_equal(m.state, "ER");
    char want[256];
    snprintf(want, sizeof want, "500 Server Error: Internal Server Error for url: %s/bad/setup",
             f->base);
    assert_string_equal(m.error_message, want);
    cg_studio_mlb_clear(&m);

    /* nothing listens: DI */
    cg_studio_mlb down = {.project = p, .state = "CO", .url = strdup("http://127.0.0.1:1")};
    assert_int_equal(cg_studio_store_mlb_create(f->store, &down), 0);
    cg_studio_ml_update_state(&f->conn, &down);
    int64_t down_id = down.id;
    cg_studio_mlb_clear(&down);
    assert_int_equal(cg_studio_store_mlb_get(f->store, down_id, &m), 0);
    assert_string_equal(m.state, "DI");
    cg_studio_mlb_clear(&m);
}

/* ---- webhooks ------------------------------------------------------------------------------ */

static void webhooks_go_to_every_url_of_the_project(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f), other = new_project(f);
    char a[128], b[128], c[128];
    snprintf(a, sizeof a, "%s/hooks/a", f->base);
    snprintf(b, sizeof b, "%s/hooks/b", f->base);
    snprintf(c, sizeof c, "%s/hooks/other", f->base);
    assert_int_equal(cg_studio_store_webhook_ensure(f->store, p, a), 0);
    assert_int_equal(cg_studio_store_webhook_ensure(f->store, p, b), 0);
    assert_int_equal(cg_studio_store_webhook_ensure(f->store, other, c), 0);

    cg_studio_send_webhooks(&f->conn, p, "PROJECT_UPDATED", json_pack("{s:i}", "extra", 5));
    loopback_seen s0 = seen(f, 0), s1 = seen(f, 1);
    assert_string_equal(s0.method, "POST");
    assert_string_equal(s0.target, "/hooks/a"); /* one sender, the URLs in order */
    assert_string_equal(s1.target, "/hooks/b");
    json_t *j = body_of(&s1);
    assert_string_equal(json_string_value(json_object_get(j, "action")), "PROJECT_UPDATED");
    assert_int_equal(json_integer_value(json_object_get(j, "extra")), 5);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "project"), "id")), p);
    json_decref(j);

    /* an annotation's webhooks carry it and its task */
    json_t *data = json_pack("{s:s}", "text", "hi");
    int64_t task = 0;
    assert_int_equal(cg_studio_store_task_create(f->store, p, data, NULL, &task), 0);
    json_decref(data);
    json_t *ann = json_pack("{s:i,s:[]}", "id", 77, "result");
    cg_studio_send_annotation_webhooks(&f->conn, p, "ANNOTATION_CREATED", ann, task);
    json_decref(ann);
    loopback_seen s2 = seen(f, 2);
    j = body_of(&s2);
    assert_string_equal(json_string_value(json_object_get(j, "action")), "ANNOTATION_CREATED");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "annotation"), "id")),
                     77);
    assert_int_equal(json_integer_value(json_object_get(json_object_get(j, "task"), "id")), task);
    assert_string_equal(json_string_value(json_object_get(
                            json_object_get(json_object_get(j, "task"), "data"), "text")),
                        "hi");
    json_decref(j);
    seen(f, 3);
    usleep(50 * 1000);
    assert_int_equal(n_seen(f), 4); /* never to the other project's URL */
    for (int i = 0; i < 4; i++) assert_string_not_equal(seen(f, i).target, "/hooks/other");

    /* a project without webhooks: nothing */
    int64_t none = new_project(f);
    cg_studio_send_webhooks(&f->conn, none, "PROJECT_UPDATED", NULL);
    usleep(50 * 1000);
    assert_int_equal(n_seen(f), 4);
}

typedef struct releaser {
    atomic_int *flag;
    pthread_t thread;
} releaser;

static void *release_later(void *arg)
{
    usleep(300 * 1000);
    atomic_store(((releaser *)arg)->flag, 1);
    return NULL;
}

static void stop_joins_a_sender_still_sending(void **state)
{
    fixture *f = *state;
    int64_t p = new_project(f);
    char url[128];
    snprintf(url, sizeof url, "%s/slow/hook", f->base);
    assert_int_equal(cg_studio_store_webhook_ensure(f->store, p, url), 0);
    cg_studio_send_webhooks(&f->conn, p, "PROJECT_UPDATED", NULL);
    seen(f, 0); /* the backend has the request and holds its answer */
    int answered = atomic_load(&f->upstream.requests);
    releaser r = {.flag = &f->be.release_slow};
    pthread_create(&r.thread, NULL, release_later, &r);
    cg_studio_webhooks_stop(f->conn.webhooks); /* waits for the sender (grace: 5 s) */
    f->conn.webhooks = NULL;
    assert_int_equal(atomic_load(&f->upstream.requests), answered + 1); /* it was answered */
    pthread_join(r.thread, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(uid_and_predict_body),
        cmocka_unit_test_setup_teardown(the_calls_and_their_bodies, setup, teardown),
        cmocka_unit_test_setup_teardown(update_state_saves_what_the_backend_said, setup, teardown),
        cmocka_unit_test_setup_teardown(webhooks_go_to_every_url_of_the_project, setup, teardown),
        cmocka_unit_test_setup_teardown(stop_joins_a_sender_still_sending, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
