/*
 * Unit tests for rest/rest.h on a real loop (src/rest/rest.c, src/rest/rest_call.c): the REST
 * adapter of a small spec whose upstream is the loopback upstream of loopback.h. Covered: a
 * route matched with its path and query parameters forwarded, a JSON body forwarded, the
 * upstream's own status passed through, a forward route (trusted headers only, `..`
 * refused), capgate's problem+json answers (404, 405 with Allow, 400 naming the argument,
 * 413, 415, 502 for an upstream that refuses connections), /healthz, /readyz (with the last
 * reload's outcome), /v1/openapi.json, a reload (cg_rest_reload: new routes and document
 * at once, a request already at the upstream finished as it started), and the drain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <sys/eventfd.h>

#include "loop_thread.h"
#include "spec_fixture.h"
#include "loopback.h"

#include <jansson.h>

#include "engine/call.h"
#include "net/loop.h"
#include "rest/rest.h"

static const char SPEC[] = "naftiko: 1.0.0-alpha2\n"
                           "info: {label: Pets, description: rest unit test}\n"
                           "capability:\n"
                           "  consumes:\n"
                           "  - type: http\n"
                           "    namespace: pets\n"
                           "    baseUri: http://127.0.0.1:%d/api\n"
                           "    resources:\n"
                           "    - name: pet\n"
                           "      path: /pets/{id}\n"
                           "      operations:\n"
                           "      - name: get\n"
                           "        method: GET\n"
                           "        inputParameters:\n"
                           "        - {name: id, in: path, type: integer, required: true}\n"
                           "        - {name: verbose, in: query, type: boolean}\n"
                           "    - name: pets\n"
                           "      path: /pets\n"
                           "      operations:\n"
                           "      - name: create\n"
                           "        method: POST\n"
                           "        inputParameters:\n"
                           "        - {name: body, in: body, type: object, required: true}\n"
                           "  - type: http\n"
                           "    namespace: dead\n"
                           "    baseUri: http://127.0.0.1:1\n"
                           "    resources:\n"
                           "    - name: thing\n"
                           "      path: /thing\n"
                           "      operations:\n"
                           "      - {name: get, method: GET}\n"
                           "  exposes:\n"
                           "  - type: rest\n"
                           "    namespace: pets-rest\n"
                           "    port: 8080\n"
                           "    resources:\n"
                           "    - path: /v1/pets/{id}\n"
                           "      name: pet\n"
                           "      operations:\n"
                           "      - method: GET\n"
                           "        name: get\n"
                           "        call: pets.get\n"
                           "        with: {id: rest.id, verbose: rest.verbose}\n"
                           "    - path: /v1/pets\n"
                           "      name: pets\n"
                           "      operations:\n"
                           "      - method: POST\n"
                           "        name: create\n"
                           "        call: pets.create\n"
                           "        with: {body: rest.body}\n"
                           "    - path: /v1/dead\n"
                           "      name: dead\n"
                           "      operations:\n"
                           "      - {method: GET, name: get, call: dead.get}\n"
                           "    - path: /relay/{{rest}}\n"
                           "      forward:\n"
                           "        targetNamespace: pets\n"
                           "        trustedHeaders: [X-Trace]\n";

#define MAX_BODY 1024

typedef struct fixture {
    loopback_upstream upstream;
    cg_spec *spec;
    cg_loop *loop;
    cg_engine *engine;
    cg_rest *rest;
    cg_buf openapi;
    _Atomic(const char *) reload_status;
    loop_drain drain;
    int port;
    cg_engine_options eo;
    /* the reload: the test wakes the loop thread, which switches to spec2 */
    loop_wake wake;
    cg_spec *spec2;
    cg_engine *engine2;
    cg_buf openapi2;
    atomic_int reloaded;
    /* /api/pets/999 waits for release (up to 3 s) */
    atomic_int slow_started, release;
} fixture;

/* The upstream: /api/pets/404 is a 404 of its own, /api/pets/999 answers once released,
 * everything else is the echo. */
static void answer(void *ctx, const loopback_seen *rq, int *status, const char **type, char *body,
                   size_t cap)
{
    fixture *f = ctx;
    if (!strcmp(rq->target, "/api/pets/999")) {
        atomic_store(&f->slow_started, 1);
        for (int i = 0; i < 300 && !atomic_load(&f->release); i++) usleep(10 * 1000);
    }
    if (!strcmp(rq->target, "/api/pets/404")) {
        *status = 404;
        *type = "application/json";
        snprintf(body, cap, "{\"detail\":\"no such pet\"}");
        return;
    }
    json_t *echo = json_pack("{s:s, s:s, s:s}", "method", rq->method, "target", rq->target, "body",
                             rq->body);
    char *text = json_dumps(echo, JSON_COMPACT);
    snprintf(body, cap, "%s", text);
    free(text);
    json_decref(echo);
}

static void quiesce(void *rest)
{
    cg_rest_quiesce(rest);
}

static int active(const void *rest)
{
    return cg_rest_active(rest);
}

/* On the loop thread, as the runtime's reload does it: a new engine for spec2 and the
 * adapter switched to it. */
static void reload(cg_loop *loop, void *arg)
{
    fixture *f = arg;
    char err[256];
    f->engine2 = cg_engine_create(loop, f->spec2, &f->eo, NULL, err, sizeof err);
    if (f->engine2) {
        cg_rest_options ro = {.spec = f->spec2,
                              .adapter = &f->spec2->rest[0],
                              .openapi = f->openapi2.data,
                              .openapi_len = f->openapi2.len};
        cg_rest_reload(f->rest, f->engine2, &ro);
    }
    atomic_store(&f->reloaded, f->engine2 ? 1 : -1);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    loopback_upstream_start(&f->upstream, answer, f);
    char text[sizeof SPEC + 16];
    int n = snprintf(text, sizeof text, SPEC, f->upstream.port);
    if (!(f->spec = spec_fixture_load("rest.yaml", text, (size_t)n))) return -1;
    /* spec2: the same with the pet under /v2 */
    char *v1 = strstr(text, "/v1/pets/{id}");
    v1[2] = '2';
    if (!(f->spec2 = spec_fixture_load("rest2.yaml", text, (size_t)n)) ||
        cg_rest_openapi(f->spec2, &f->spec2->rest[0], "http://127.0.0.1:8080", &f->openapi2) < 0)
        return -1;
    char err[256];
    f->eo = (cg_engine_options){
        .connect_timeout_ms = 2000, .timeout_ms = 3000, .upstream = {.native_http = true}};
    const cg_engine_options eo = f->eo;
    if (cg_rest_openapi(f->spec, &f->spec->rest[0], "http://127.0.0.1:8080", &f->openapi) < 0)
        return -1;
    if (!(f->loop = cg_loop_create(err, sizeof err)) ||
        !(f->engine = cg_engine_create(f->loop, f->spec, &eo, NULL, err, sizeof err))) {
        print_error("setup: %s\n", err);
        return -1;
    }
    cg_rest_options ro = {.spec = f->spec,
                          .adapter = &f->spec->rest[0],
                          .address = "127.0.0.1",
                          .port = 0,
                          .max_body = MAX_BODY,
                          .reload_status = &f->reload_status};
    if (!(f->rest = cg_rest_start(f->engine, &ro, err, sizeof err))) {
        print_error("setup: %s\n", err);
        return -1;
    }
    cg_rest_set_openapi(f->rest, f->openapi.data, f->openapi.len);
    f->port = cg_rest_port(f->rest);
    if (loop_wake_add(&f->wake, f->loop, reload, f) < 0) return -1;
    f->drain = (loop_drain){
        .loop = f->loop, .adapter = f->rest, .quiesce = quiesce, .active = active};
    loop_drain_start(&f->drain);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (!f) return 0; /* setup failed */
    loop_drain_stop(&f->drain);
    cg_rest_stop(f->rest);
    cg_engine_free(f->engine);
    cg_engine_free(f->engine2);
    loop_wake_remove(&f->wake, f->loop);
    cg_loop_free(f->loop);
    cg_buf_free(&f->openapi);
    cg_buf_free(&f->openapi2);
    cg_spec_free(f->spec);
    cg_spec_free(f->spec2);
    loopback_upstream_stop(&f->upstream);
    free(f);
    return 0;
}

/* ---- the client side ------------------------------------------------------------------ */

typedef struct reply {
    int status;
    char head[2048];
    char body[16384];
} reply;

/* METHOD target on a new connection, with the given header lines and body (or none). */
static reply exchange(const fixture *f, const char *method, const char *target, const char *headers,
                      const char *body)
{
    char req[8192];
    snprintf(req, sizeof req,
             "%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n%sContent-Length: "
             "%zu\r\n\r\n%s",
             method, target, headers ? headers : "", body ? strlen(body) : 0, body ? body : "");
    const char *answer = loopback_exchange(f->port, req, 5);
    reply r = {0};
    sscanf(answer, "HTTP/1.1 %d", &r.status);
    const char *b = strstr(answer, "\r\n\r\n");
    size_t head_len = b ? (size_t)(b - answer) : strlen(answer);
    snprintf(r.head, sizeof r.head, "%.*s", (int)head_len, answer);
    snprintf(r.body, sizeof r.body, "%s", b ? b + 4 : "");
    return r;
}

static const char *header(const reply *r, const char *name, char *out, size_t cap)
{
    char needle[128];
    snprintf(needle, sizeof needle, "\r\n%s: ", name);
    const char *h = strcasestr(r->head, needle);
    out[0] = '\0';
    if (h) {
        h += strlen(needle);
        snprintf(out, cap, "%.*s", (int)strcspn(h, "\r"), h);
    }
    return out;
}

static json_t *body_json(const reply *r)
{
    json_t *j = json_loads(r->body, 0, NULL);
    if (!j) fail_msg("not JSON: '%s'", r->body);
    return j;
}

static const char *str(const json_t *o, const char *key)
{
    return json_string_value(json_object_get(o, key));
}

/* r is the problem+json of status with the given type slug; returns it parsed. */
static json_t *problem(const reply *r, int status, const char *slug)
{
    assert_int_equal(r->status, status);
    char type[128], want[128];
    assert_string_equal(header(r, "Content-Type", type, sizeof type), "application/problem+json");
    json_t *j = body_json(r);
    snprintf(want, sizeof want, "urn:capgate:problem:%s", slug);
    assert_string_equal(str(j, "type"), want);
    assert_int_equal(json_integer_value(json_object_get(j, "status")), status);
    assert_non_null(str(j, "title"));
    assert_non_null(str(j, "detail"));
    return j;
}

/* ---- routes ---------------------------------------------------------------------------- */

static void a_route_forwards_path_and_query(void **state)
{
    fixture *f = *state;
    int before = atomic_load(&f->upstream.requests);
    reply r = exchange(f, "GET", "/v1/pets/5?verbose=true", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_int_equal(atomic_load(&f->upstream.requests), before + 1);
    json_t *j = body_json(&r);
    assert_string_equal(str(j, "method"), "GET");
    assert_string_equal(str(j, "target"), "/api/pets/5?verbose=true");
    json_decref(j);

    /* no query parameter: none sent; a trailing slash is the same route */
    r = exchange(f, "GET", "/v1/pets/6/", NULL, NULL);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(str(j, "target"), "/api/pets/6");
    json_decref(j);

    /* the upstream's own status and body come back as they are */
    r = exchange(f, "GET", "/v1/pets/404", NULL, NULL);
    assert_int_equal(r.status, 404);
    j = body_json(&r);
    assert_string_equal(str(j, "detail"), "no such pet");
    assert_null(json_object_get(j, "type")); /* not capgate's problem */
    json_decref(j);
}

static void a_json_body_is_forwarded(void **state)
{
    fixture *f = *state;
    reply r = exchange(f, "POST", "/v1/pets", "Content-Type: application/json\r\n",
                       "{\"name\":\"rex\",\"age\":3}");
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_string_equal(str(j, "method"), "POST");
    assert_string_equal(str(j, "target"), "/api/pets");
    json_t *sent = json_loads(str(j, "body"), 0, NULL);
    assert_non_null(sent);
    assert_string_equal(str(sent, "name"), "rex");
    assert_int_equal(json_integer_value(json_object_get(sent, "age")), 3);
    json_decref(sent);
    json_decref(j);
    assert_non_null(strcasestr(f->upstream.last.head, "\r\nContent-Type: application/json"));
}

static void a_forward_route_relays_trusted_headers_only(void **state)
{
    fixture *f = *state;
    reply r = exchange(f, "GET", "/relay/pets/7?x=1&y=a%20b",
                       "X-Trace: abc123\r\nX-Other: secret\r\n", NULL);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_string_equal(str(j, "target"), "/api/pets/7?x=1&y=a%20b");
    json_decref(j);
    assert_non_null(strcasestr(f->upstream.last.head, "\r\nX-Trace: abc123"));
    assert_null(strcasestr(f->upstream.last.head, "X-Other"));

    /* a relayed path never climbs out of the base path */
    int before = atomic_load(&f->upstream.requests);
    r = exchange(f, "GET", "/relay/pets/../../secret", NULL, NULL);
    json_decref(problem(&r, 400, "bad-path"));
    assert_int_equal(atomic_load(&f->upstream.requests), before);
}

/* ---- problems ---------------------------------------------------------------------------- */

static void problems_for_what_capgate_refuses(void **state)
{
    fixture *f = *state;
    int before = atomic_load(&f->upstream.requests);

    reply r = exchange(f, "GET", "/v1/cats", NULL, NULL);
    json_t *j = problem(&r, 404, "not-found");
    assert_string_equal(str(j, "instance"), "/v1/cats");
    json_decref(j);

    r = exchange(f, "DELETE", "/v1/pets/5", NULL, NULL);
    json_decref(problem(&r, 405, "method-not-allowed"));
    char allow[64];
    assert_string_equal(header(&r, "Allow", allow, sizeof allow), "GET");

    r = exchange(f, "GET", "/v1/pets/abc", NULL, NULL);
    j = problem(&r, 400, "bad-argument");
    json_t *p = json_array_get(json_object_get(j, "invalid-params"), 0);
    assert_string_equal(str(p, "name"), "id");
    json_decref(j);

    r = exchange(f, "GET", "/v1/pets/5?verbose=perhaps", NULL, NULL);
    j = problem(&r, 400, "bad-argument");
    assert_string_equal(str(json_array_get(json_object_get(j, "invalid-params"), 0), "name"),
                        "verbose");
    json_decref(j);

    r = exchange(f, "POST", "/v1/pets", "Content-Type: text/plain\r\n", "{\"name\":\"rex\"}");
    json_decref(problem(&r, 415, "unsupported-media-type"));

    r = exchange(f, "POST", "/v1/pets", "Content-Type: application/json\r\n", "{\"name\":");
    json_decref(problem(&r, 400, "bad-argument"));

    static char big[MAX_BODY + 64];
    memset(big, ' ', sizeof big - 1);
    big[0] = '{';
    big[sizeof big - 2] = '}';
    r = exchange(f, "POST", "/v1/pets", "Content-Type: application/json\r\n", big);
    json_decref(problem(&r, 413, "body-too-large"));

    assert_int_equal(atomic_load(&f->upstream.requests), before); /* none reached it */

    r = exchange(f, "GET", "/v1/dead", NULL, NULL);
    json_decref(problem(&r, 502, "upstream-unreachable"));
}

/* ---- built-in routes ------------------------------------------------------------------- */

static void health_readiness_and_openapi(void **state)
{
    fixture *f = *state;
    reply r = exchange(f, "GET", "/healthz", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ok\"}");

    int before = atomic_load(&f->upstream.requests);
    r = exchange(f, "GET", "/readyz", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(r.body, "{\"status\":\"ready\"}");
    assert_int_equal(atomic_load(&f->upstream.requests), before + 1); /* it asked the upstream */
    assert_string_equal(f->upstream.last.target, "/api/");

    atomic_store(&f->reload_status, "{\"generation\":2,\"ok\":true}");
    r = exchange(f, "GET", "/readyz", NULL, NULL);
    json_t *j = body_json(&r);
    assert_int_equal(
        json_integer_value(json_object_get(json_object_get(j, "reload"), "generation")), 2);
    json_decref(j);
    atomic_store(&f->reload_status, NULL);

    r = exchange(f, "GET", "/v1/openapi.json", NULL, NULL);
    assert_int_equal(r.status, 200);
    j = body_json(&r);
    assert_string_equal(str(j, "openapi"), "3.1.0");
    json_t *paths = json_object_get(j, "paths");
    assert_non_null(json_object_get(json_object_get(paths, "/v1/pets/{id}"), "get"));
    assert_non_null(json_object_get(json_object_get(paths, "/v1/pets"), "post"));
    json_decref(j);

    r = exchange(f, "POST", "/v1/openapi.json", NULL, NULL);
    json_decref(problem(&r, 405, "method-not-allowed"));
    char allow[64];
    assert_string_equal(header(&r, "Allow", allow, sizeof allow), "GET, HEAD");
}

typedef struct in_flight {
    const fixture *f;
    reply r;
    pthread_t thread;
} in_flight;

static void *get_999(void *arg)
{
    in_flight *c = arg;
    c->r = exchange(c->f, "GET", "/v1/pets/999", NULL, NULL);
    return NULL;
}

static void a_reload_serves_new_requests_and_finishes_old_ones(void **state)
{
    fixture *f = *state;
    in_flight c = {.f = f};
    pthread_create(&c.thread, NULL, get_999, &c);
    for (int i = 0; i < 300 && !atomic_load(&f->slow_started); i++) usleep(10 * 1000);
    assert_true(atomic_load(&f->slow_started)); /* the old route's call is at the upstream */
    assert_int_equal(cg_rest_active(f->rest), 1);

    loop_wake_send(&f->wake);
    for (int i = 0; i < 300 && !atomic_load(&f->reloaded); i++) usleep(10 * 1000);
    assert_int_equal(atomic_load(&f->reloaded), 1);

    /* new requests: the new spec */
    reply r = exchange(f, "GET", "/v2/pets/5", NULL, NULL);
    assert_int_equal(r.status, 200);
    json_t *j = body_json(&r);
    assert_string_equal(str(j, "target"), "/api/pets/5");
    json_decref(j);
    r = exchange(f, "GET", "/v1/pets/5", NULL, NULL);
    json_decref(problem(&r, 404, "not-found"));
    r = exchange(f, "GET", "/v1/openapi.json", NULL, NULL);
    j = body_json(&r);
    assert_non_null(json_object_get(json_object_get(j, "paths"), "/v2/pets/{id}"));
    assert_null(json_object_get(json_object_get(j, "paths"), "/v1/pets/{id}"));
    json_decref(j);

    /* the request that came before: finished as it started */
    atomic_store(&f->release, 1);
    pthread_join(c.thread, NULL);
    assert_int_equal(c.r.status, 200);
    j = body_json(&c.r);
    assert_string_equal(str(j, "target"), "/api/pets/999");
    json_decref(j);
    assert_int_equal(cg_rest_active(f->rest), 0);
}

/* Last: the drain stops accepting, and the adapter is idle. */
static void quiesce_stops_accepting(void **state)
{
    fixture *f = *state;
    assert_true(f->port > 0 && f->port != 8080);
    assert_int_equal(cg_rest_active(f->rest), 0);
    loop_drain_stop(&f->drain);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)f->port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), -1);
    close(fd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_route_forwards_path_and_query),
        cmocka_unit_test(a_json_body_is_forwarded),
        cmocka_unit_test(a_forward_route_relays_trusted_headers_only),
        cmocka_unit_test(problems_for_what_capgate_refuses),
        cmocka_unit_test(health_readiness_and_openapi),
        cmocka_unit_test(a_reload_serves_new_requests_and_finishes_old_ones),
        cmocka_unit_test(quiesce_stops_accepting),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
