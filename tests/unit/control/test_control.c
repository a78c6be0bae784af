/*
 * Unit tests for control/control.h through real requests on loopback: a control adapter
 * from a small spec (health, info, validate, reload, logs on; metrics and traces off) runs
 * on a loop thread; each route's status and body, the readiness states, the 404 for routes
 * the spec leaves off, the 405 for a wrong method and problem+json errors. Then a reload
 * (cg_control_reload on the loop's thread, as the runtime does on SIGHUP): routes, /status
 * and /config follow the new spec, the last reload's outcome shows in /health/ready, and
 * POST /config/reload asks the process for one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "spec_fixture.h"

#include "loop_thread.h"
#include "loopback.h"

#include <jansson.h>

#include "common/log.h"
#include "control/control.h"

static const char SPEC[] = "naftiko: 1.0.0-alpha2\n"
                           "info: {label: Control Test, description: control unit test}\n"
                           "binds:\n"
                           "- namespace: env\n"
                           "  keys: {CTL_KEY: CTL_KEY}\n"
                           "capability:\n"
                           "  consumes:\n"
                           "  - type: http\n"
                           "    namespace: pets\n"
                           "    baseUri: http://127.0.0.1:1/api\n"
                           "    authentication: {type: bearer, token: '{{env.CTL_KEY}}'}\n"
                           "    resources:\n"
                           "    - name: pet\n"
                           "      path: /pets\n"
                           "      operations:\n"
                           "      - {name: list, method: GET}\n"
                           "  exposes:\n"
                           "  - type: rest\n"
                           "    namespace: pets-rest\n"
                           "    port: 8080\n"
                           "    resources:\n"
                           "    - path: /pets\n"
                           "      operations:\n"
                           "      - {method: GET, call: pets.list}\n"
                           "  - type: control\n"
                           "    port: 8081\n"
                           "    management:\n"
                           "      health: true\n"
                           "      info: true\n"
                           "      validate: true\n"
                           "      reload: true\n"
                           "      logs: true\n"
                           "    observability: {enabled: false}\n";

typedef struct fixture {
    cg_loop *loop;
    cg_spec *spec;
    cg_control_site sites[2];
    cg_control_shared shared;
    cg_control *control;
    pthread_t thread;
    int port;
    loop_wake wake; /* makes the loop thread reload to next/next_sites */
    cg_spec *next;
    cg_control_site next_sites[2];
} fixture;

static void reload(cg_loop *loop, void *arg)
{
    fixture *f = arg;
    cg_control_reload(f->control, f->next, f->next_sites, 2);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    setenv("CTL_KEY", "very-secret-token", 1);
    if (!(f->spec = spec_fixture_load("control.yaml", SPEC, sizeof SPEC - 1))) return -1;
    char err[256];
    f->loop = cg_loop_create(err, sizeof err);
    f->sites[0] = (cg_control_site){"rest", "pets-rest", 18080};
    f->sites[1] = (cg_control_site){"control", NULL, 0};
    f->shared.spec = f->spec;
    f->shared.file = "control.yaml";
    f->shared.sites = f->sites;
    f->shared.n_sites = 2;
    f->shared.started_ms = 0;
    atomic_store(&f->shared.state, 0);
    cg_control_options o = {.shared = &f->shared, .port = 0, .idle_timeout_s = 5};
    f->control = f->loop ? cg_control_start(f->loop, &o, err, sizeof err) : NULL;
    if (!f->control) {
        print_error("setup: %s\n", err);
        return -1;
    }
    f->port = cg_control_port(f->control);
    if (loop_wake_add(&f->wake, f->loop, reload, f) < 0) return -1;
    loop_thread_start(f->loop, &f->thread);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    loop_thread_stop(f->loop, f->thread);
    cg_control_stop(f->control);
    loop_wake_remove(&f->wake, f->loop);
    cg_loop_free(f->loop);
    cg_spec_free(f->spec);
    cg_spec_free(f->next);
    free(f);
    return 0;
}

typedef loopback_reply reply;

/* One request on a new connection (Connection: close); the parsed answer. */
static reply request(int port, const char *method, const char *path, const char *body)
{
    return loopback_request(port, method, path, NULL, body, 5);
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

static void health_live_and_ready(void **state)
{
    fixture *f = *state;
    reply r = request(f->port, "GET", "/health/live", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.body, "status"), "UP");
    json_decref(r.body);

    r = request(f->port, "GET", "/health/ready", NULL); /* starting */
    assert_int_equal(r.status, 503);
    assert_string_equal(str(r.body, "status"), "DEGRADED");
    json_t *rest = json_array_get(json_object_get(r.body, "adapters"), 0);
    assert_string_equal(str(rest, "type"), "rest");
    assert_string_equal(str(rest, "namespace"), "pets-rest");
    assert_int_equal(json_integer_value(json_object_get(rest, "port")), 18080);
    assert_string_equal(str(rest, "state"), "starting");
    json_decref(r.body);

    atomic_store(&f->shared.state, 1);
    r = request(f->port, "GET", "/health/ready", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.body, "status"), "UP");
    assert_string_equal(str(json_array_get(json_object_get(r.body, "adapters"), 0), "state"),
                        "started");
    json_decref(r.body);

    atomic_store(&f->shared.state, 2); /* draining */
    r = request(f->port, "GET", "/health/ready", NULL);
    assert_int_equal(r.status, 503);
    assert_string_equal(str(json_array_get(json_object_get(r.body, "adapters"), 0), "state"),
                        "stopping");
    json_decref(r.body);
}

static void status_and_config_keep_secrets(void **state)
{
    fixture *f = *state;
    reply r = request(f->port, "GET", "/status", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(json_object_get(r.body, "capability"), "label"), "Control Test");
    assert_string_equal(str(json_object_get(r.body, "capability"), "specVersion"), "1.0.0-alpha2");
    assert_string_equal(str(json_object_get(r.body, "engine"), "implementation"), "capgate (C)");
    assert_true(strncmp(str(r.body, "uptime"), "PT", 2) == 0);
    json_decref(r.body);

    r = request(f->port, "GET", "/config", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.body, "file"), "control.yaml");
    json_t *c = json_array_get(json_object_get(r.body, "consumes"), 0);
    assert_string_equal(str(c, "namespace"), "pets");
    assert_string_equal(str(c, "baseUri"), "http://127.0.0.1:1/api");
    char *text = json_dumps(r.body, 0);
    assert_null(strstr(text, "very-secret-token"));
    free(text);
    json_decref(r.body);
}

static void validate_a_posted_spec(void **state)
{
    fixture *f = *state;
    reply r = request(f->port, "POST", "/config/validate", SPEC);
    assert_int_equal(r.status, 200);
    assert_true(json_is_true(json_object_get(r.body, "valid")));
    assert_int_equal(json_array_size(json_object_get(r.body, "errors")), 0);
    json_decref(r.body);

    r = request(f->port, "POST", "/config/validate", "naftiko: 1.0.0-alpha2\nnope: 1\n");
    assert_int_equal(r.status, 422);
    assert_true(json_is_false(json_object_get(r.body, "valid")));
    json_t *errors = json_object_get(r.body, "errors");
    assert_true(json_array_size(errors) >= 1);
    assert_true(strncmp(json_string_value(json_array_get(errors, 0)), "body:", 5) == 0);
    json_decref(r.body);

    r = request(f->port, "POST", "/config/validate", NULL);
    assert_int_equal(r.status, 400);
    assert_non_null(strstr(r.head, "application/problem+json"));
    assert_string_equal(str(r.body, "error"), str(r.body, "detail"));
    json_decref(r.body);
}

static void logs_level_and_refusals(void **state)
{
    fixture *f = *state;
    reply r = request(f->port, "PUT", "/logs", "{\"level\":\"warn\"}");
    assert_int_equal(r.status, 200);
    json_decref(r.body);
    r = request(f->port, "GET", "/logs", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(r.body, "level"), "warn");
    json_decref(r.body);
    assert_false(cg_log_enabled(CG_LOG_INFO)); /* applied to the process */
    assert_true(cg_log_enabled(CG_LOG_WARN));
    r = request(f->port, "PUT", "/logs", "{\"level\":\"loud\"}");
    assert_int_equal(r.status, 400);
    assert_string_equal(str(r.body, "instance"), "/logs");
    json_decref(r.body);
    cg_log_set_level(CG_LOG_INFO);

    r = request(f->port, "POST", "/config/reload", NULL);
    assert_int_equal(r.status, 501);
    json_decref(r.body);
    r = request(f->port, "GET", "/metrics", NULL); /* observability is off */
    assert_int_equal(r.status, 404);
    assert_string_equal(str(r.body, "type"), "urn:capgate:problem:not-found");
    json_decref(r.body);
    r = request(f->port, "DELETE", "/health/live", NULL);
    assert_int_equal(r.status, 405);
    json_decref(r.body);
}

static _Atomic int reloads_requested;
static void count_reload(void)
{
    atomic_fetch_add(&reloads_requested, 1);
}

/* Has the loop thread reload to spec and sites, and waits until /status shows label. */
static void reload_to(fixture *f, cg_spec *spec, const char *rest_ns, const char *label)
{
    f->next = spec;
    f->next_sites[0] = (cg_control_site){"rest", rest_ns, 18080};
    f->next_sites[1] = (cg_control_site){"control", NULL, 0};
    loop_wake_send(&f->wake);
    for (int i = 0; i < 100; i++) {
        reply r = request(f->port, "GET", "/status", NULL);
        json_t *cap = json_object_get(r.body, "capability");
        bool there = cap && !strcmp(str(cap, "label"), label);
        json_decref(r.body);
        if (there) return;
        usleep(20 * 1000);
    }
    fail_msg("/status never showed %s", label);
}

static void a_reload_swaps_the_spec(void **state)
{
    fixture *f = *state;
    /* the same spec with another label, validate off, metrics on */
    static const char validate[] = "      validate: true\n";
    char text[sizeof SPEC + 64];
    const char *cut = strstr(SPEC, validate), *obs = strstr(SPEC, "    observability:");
    assert_non_null(cut);
    assert_non_null(obs);
    const char *after = cut + strlen(validate);
    snprintf(text, sizeof text, "%.*s%.*s    observability: {metrics: {local: {enabled: true}}}\n",
             (int)(cut - SPEC), SPEC, (int)(obs - after), after);
    char *label = strstr(text, "Control Test");
    memcpy(label, "Control Two!", 12);
    cg_spec *two = NULL;
    cg_buf errors = CG_BUF_INIT;
    assert_int_equal(cg_spec_load_string("two.yaml", text, strlen(text), &two, &errors),
                     CG_SPEC_OK);
    cg_buf_free(&errors);
    cg_spec *one = f->spec;

    _Atomic(const char *) status = "{\"status\":\"ok\",\"generation\":2}";
    f->shared.reload_status = &status;
    reload_to(f, two, "pets-two", "Control Two!");
    reply r = request(f->port, "POST", "/config/validate", SPEC);
    assert_int_equal(r.status, 404); /* turned off */
    json_decref(r.body);
    r = request(f->port, "GET", "/metrics", NULL);
    assert_int_equal(r.status, 200); /* turned on */
    assert_non_null(strstr(r.head, "text/plain"));
    json_decref(r.body);
    r = request(f->port, "GET", "/config", NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(str(json_array_get(json_object_get(r.body, "exposes"), 0), "namespace"),
                        "pets-two");
    assert_string_equal(str(r.body, "label"), "Control Two!");
    json_decref(r.body);
    r = request(f->port, "GET", "/health/ready", NULL);
    json_t *reload = json_object_get(r.body, "reload");
    assert_string_equal(str(reload, "status"), "ok");
    assert_int_equal(json_integer_value(json_object_get(reload, "generation")), 2);
    json_decref(r.body);

    /* POST /config/reload: 202 and one request to the process */
    f->shared.request_reload = count_reload;
    r = request(f->port, "POST", "/config/reload", NULL);
    assert_int_equal(r.status, 202);
    assert_string_equal(str(r.body, "status"), "accepted");
    json_decref(r.body);
    assert_int_equal(atomic_load(&reloads_requested), 1);
    f->shared.request_reload = NULL;

    /* back to the first spec (the fixture frees both) */
    reload_to(f, one, "pets-rest", "Control Test");
    f->next = two;
    f->shared.reload_status = NULL;
    r = request(f->port, "POST", "/config/validate", SPEC);
    assert_int_equal(r.status, 200);
    json_decref(r.body);
    r = request(f->port, "GET", "/health/ready", NULL);
    assert_null(json_object_get(r.body, "reload"));
    json_decref(r.body);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(health_live_and_ready),   cmocka_unit_test(status_and_config_keep_secrets),
        cmocka_unit_test(validate_a_posted_spec),  cmocka_unit_test(logs_level_and_refusals),
        cmocka_unit_test(a_reload_swaps_the_spec),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
