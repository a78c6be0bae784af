/*
 * Unit tests for the SIGHUP reload of runtime.h (src/runtime/reload.c): a child process runs
 * cg_runtime_run on a spec in a temporary directory (REST only, port 0, one worker); the
 * test (which also plays the upstream) rewrites the spec and sends SIGHUP: the new route
 * answers and the old one is gone,
 * /readyz names the generation; a broken spec leaves the running one in place and /readyz
 * says why (file:line:col); SIGTERM then ends the process with status 0.
 * With skill and control adapters too: a reload changes the skill catalog and what the
 * control port serves; a control port that moves is refused, and the old spec keeps
 * serving. tests/e2e/reload.sh and reload_adapters.sh cover the same under load.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <jansson.h>

#include "runtime/runtime.h"

typedef struct fixture {
    char dir[64], spec[128], log[128];
    pid_t pid;
    int port;
    bool adapters;                  /* a skill and a control adapter too */
    int skill_port, control_port;   /* the skill's (port 0), the control's (the spec's) */
    char skill_desc[32];            /* the skill's description */
    bool metrics;                   /* the control port's /metrics on */
    int upstream_fd, upstream_port; /* a tiny upstream: 200 {} to every request */
    pthread_t upstream;
} fixture;

static void *serve_upstream(void *arg)
{
    fixture *f = arg;
    for (;;) {
        int c = accept(f->upstream_fd, NULL, NULL);
        if (c < 0) return NULL;
        char buf[4096];
        struct timeval tv = {.tv_sec = 2};
        setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        ssize_t n = read(c, buf, sizeof buf); /* one small request */
        static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Content-Length: 2\r\nConnection: close\r\n\r\n{}";
        if (n > 0 && write(c, answer, sizeof answer - 1) < 0) {}
        close(c);
    }
}

static void write_spec(const fixture *f, const char *route)
{
    FILE *out = fopen(f->spec, "w");
    assert_non_null(out);
    fprintf(out,
            "naftiko: 1.0.0-alpha2\n"
            "info: {label: Reload, description: reload unit test}\n"
            "capability:\n"
            "  consumes:\n"
            "  - type: http\n"
            "    namespace: api\n"
            "    baseUri: http://127.0.0.1:%d\n"
            "    resources:\n"
            "    - name: ping\n"
            "      path: /ping\n"
            "      operations:\n"
            "      - {name: ping, method: GET}\n"
            "  exposes:\n"
            "  - type: rest\n"
            "    namespace: r\n"
            "    port: 8080\n"
            "    resources:\n"
            "    - path: %s\n"
            "      operations:\n"
            "      - {method: GET, call: api.ping}\n",
            f->upstream_port, route);
    if (f->adapters)
        fprintf(out,
                "  - type: skill\n"
                "    namespace: s\n"
                "    port: 8090\n"
                "    skills:\n"
                "    - {name: one, description: %s}\n"
                "  - type: control\n"
                "    port: %d\n"
                "    management: {health: true, info: true}\n"
                "    observability: {metrics: {local: {enabled: %s}}, traces: {local: {enabled: "
                "false}}}\n",
                f->skill_desc, f->control_port, f->metrics ? "true" : "false");
    fclose(out);
}

/* The status of GET path, or 0 when there was no answer. */
static int get(int port, const char *path, json_t **body)
{
    char req[256];
    snprintf(req, sizeof req, "GET %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n", path);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return 0;
    }
    if (write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
        close(fd);
        return 0;
    }
    static char buf[16384];
    size_t n = 0;
    ssize_t r;
    while (n < sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0) n += (size_t)r;
    buf[n] = '\0';
    close(fd);
    int status = 0;
    sscanf(buf, "HTTP/1.1 %d", &status);
    if (body) {
        char *b = strstr(buf, "\r\n\r\n");
        *body = b ? json_loads(b + 4, 0, NULL) : NULL;
    }
    return status;
}

/* A port nothing listens on, for the control adapter (the spec must name it): as
 * tests/e2e/lib.sh's free_port, in 10000-31999, below the kernel's range for outgoing
 * connections, so no client socket takes it before the child binds it. */
static int spare_port(void)
{
    for (int i = 0; i < 100; i++) {
        int port = 10000 + rand() % 22000;
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a = {.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        int rc = bind(fd, (struct sockaddr *)&a, sizeof a);
        close(fd);
        if (rc == 0) return port;
    }
    return 0;
}

/* The port after "WHAT on http://127.0.0.1:" in the log's "serving" line, or 0. */
static int logged_port(const fixture *f, const char *what)
{
    char needle[64];
    snprintf(needle, sizeof needle, "%s on http://127.0.0.1:", what);
    FILE *in = fopen(f->log, "r");
    char line[2048];
    int port = 0;
    while (in && fgets(line, sizeof line, in)) {
        char *p = strstr(line, needle);
        if (p && !port) port = atoi(p + strlen(needle));
    }
    if (in) fclose(in);
    return port;
}

static int start(void **state, bool adapters)
{
    fixture *f = calloc(1, sizeof *f);
    f->adapters = adapters;
    srand((unsigned)getpid() ^ (unsigned)time(NULL));
    snprintf(f->skill_desc, sizeof f->skill_desc, "First");
    if (adapters && !(f->control_port = spare_port())) return -1;
    snprintf(f->dir, sizeof f->dir, "/tmp/cg-reload-XXXXXX");
    if (!mkdtemp(f->dir)) return -1;
    snprintf(f->spec, sizeof f->spec, "%s/cap.yaml", f->dir);
    snprintf(f->log, sizeof f->log, "%s/log", f->dir);
    f->upstream_fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    if (bind(f->upstream_fd, (struct sockaddr *)&a, sizeof a) || listen(f->upstream_fd, 64) ||
        getsockname(f->upstream_fd, (struct sockaddr *)&a, &alen))
        return -1;
    f->upstream_port = ntohs(a.sin_port);
    write_spec(f, "/a");
    fflush(stdout);
    fflush(stderr);
    f->pid = fork();
    if (f->pid < 0) return -1;
    if (f->pid == 0) {
        signal(SIGSEGV, SIG_DFL); /* not cmocka's handler: a crash shows as one */
        signal(SIGABRT, SIG_DFL);
        close(f->upstream_fd);
        int fd = open(f->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        dup2(fd, 2);
        close(fd);
        cg_runtime_options o;
        cg_runtime_defaults(&o, "serve");
        o.file = f->spec;
        o.listen_port = 0;
        o.skill_port = 0;
        o.threads = 1;
        o.access_log = false;
        _exit(cg_runtime_run(&o));
    }
    *state = f;
    pthread_create(&f->upstream, NULL, serve_upstream, f);
    /* the ports, from the "serving FILE: REST on http://127.0.0.1:PORT, ..." line */
    for (int i = 0; i < 200 && !f->port; i++) {
        usleep(50 * 1000);
        f->port = logged_port(f, "REST");
    }
    if (adapters) f->skill_port = logged_port(f, "skill");
    return f->port && (!adapters || f->skill_port) ? 0 : -1;
}

static int setup(void **state)
{
    return start(state, false);
}

static int setup_adapters(void **state)
{
    return start(state, true);
}

static int teardown(void **state)
{
    fixture *f = *state;
    if (f->pid > 0) {
        kill(f->pid, SIGKILL);
        waitpid(f->pid, NULL, 0);
    }
    shutdown(f->upstream_fd, SHUT_RDWR); /* ends the upstream's accept */
    pthread_join(f->upstream, NULL);
    close(f->upstream_fd);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    int rc = getenv("KEEP") ? 0 : system(cmd);
    free(f);
    return rc == 0 ? 0 : -1;
}

/* Polls GET path until its status is (or is not, with negate) want; the last status. */
static int wait_status(int port, const char *path, int want, bool negate)
{
    int s = 0;
    for (int i = 0; i < 100; i++) {
        s = get(port, path, NULL);
        if ((s == want) != negate) break;
        usleep(50 * 1000);
    }
    return s;
}

static json_t *reload_status_at(int port, const char *path)
{
    json_t *body = NULL;
    assert_int_equal(get(port, path, &body), 200);
    assert_non_null(body);
    json_t *r = json_incref(json_object_get(body, "reload"));
    json_decref(body);
    return r;
}

static json_t *reload_status(int port)
{
    return reload_status_at(port, "/readyz");
}

static void sighup_swaps_the_spec_and_keeps_a_good_one(void **state)
{
    fixture *f = *state;
    assert_int_equal(get(f->port, "/a", NULL), 200);
    assert_int_equal(get(f->port, "/b", NULL), 404);

    write_spec(f, "/b");
    assert_int_equal(kill(f->pid, SIGHUP), 0);
    assert_int_equal(wait_status(f->port, "/b", 200, false), 200);
    assert_int_equal(get(f->port, "/a", NULL), 404); /* the old route is gone */
    json_t *r = reload_status(f->port);
    assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(r, "generation")), 2);
    json_decref(r);

    FILE *out = fopen(f->spec, "w");
    fputs("naftiko: 1.0.0-alpha2\ncapability:\n  exposes:\n  - type: rest\n    port: [\n", out);
    fclose(out);
    assert_int_equal(kill(f->pid, SIGHUP), 0);
    for (int i = 0; i < 100; i++) {
        r = reload_status(f->port);
        const char *st = json_string_value(json_object_get(r, "status"));
        if (st && !strcmp(st, "failed")) break;
        json_decref(r);
        r = NULL;
        usleep(50 * 1000);
    }
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "generation")), 2); /* still */
    const char *why = json_string_value(json_object_get(r, "error"));
    assert_non_null(why);
    assert_non_null(strstr(why, "cap.yaml:"));
    json_decref(r);
    assert_int_equal(get(f->port, "/b", NULL), 200); /* still serving generation 2 */

    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int status;
    assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
    f->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

/* The skill's description in GET /skills, or "" */
static const char *skill_description(const fixture *f, char *out, size_t len)
{
    json_t *body = NULL;
    out[0] = '\0';
    if (get(f->skill_port, "/skills", &body) == 200) {
        const char *d = json_string_value(
            json_object_get(json_array_get(json_object_get(body, "skills"), 0), "description"));
        snprintf(out, len, "%s", d ? d : "");
    }
    json_decref(body);
    return out;
}

static void sighup_reloads_skill_and_control_adapters(void **state)
{
    fixture *f = *state;
    char desc[64];
    assert_string_equal(skill_description(f, desc, sizeof desc), "First");
    assert_int_equal(get(f->control_port, "/status", NULL), 200);
    assert_int_equal(get(f->control_port, "/metrics", NULL), 404); /* observability off */

    /* the skill's description and the control's routes change; the ports stay */
    snprintf(f->skill_desc, sizeof f->skill_desc, "Second");
    f->metrics = true;
    write_spec(f, "/a");
    assert_int_equal(kill(f->pid, SIGHUP), 0);
    for (int i = 0; i < 100 && strcmp(skill_description(f, desc, sizeof desc), "Second"); i++)
        usleep(50 * 1000);
    assert_string_equal(desc, "Second");
    assert_int_equal(get(f->control_port, "/metrics", NULL), 200); /* turned on */
    json_t *r = reload_status_at(f->control_port, "/health/ready");
    assert_string_equal(json_string_value(json_object_get(r, "status")), "ok");
    assert_int_equal(json_integer_value(json_object_get(r, "generation")), 2);
    json_decref(r);

    /* the control port moves: refused, generation 2 keeps serving on the old ports */
    int old_control = f->control_port;
    f->control_port = spare_port();
    snprintf(f->skill_desc, sizeof f->skill_desc, "Third");
    write_spec(f, "/a");
    assert_int_equal(kill(f->pid, SIGHUP), 0);
    for (int i = 0; i < 100; i++) {
        r = reload_status_at(old_control, "/health/ready");
        const char *st = json_string_value(json_object_get(r, "status"));
        if (st && !strcmp(st, "failed")) break;
        json_decref(r);
        r = NULL;
        usleep(50 * 1000);
    }
    assert_non_null(r);
    assert_int_equal(json_integer_value(json_object_get(r, "generation")), 2);
    const char *why = json_string_value(json_object_get(r, "error"));
    assert_non_null(why);
    assert_non_null(strstr(why, "the control adapter moves to 127.0.0.1:"));
    json_decref(r);
    assert_string_equal(skill_description(f, desc, sizeof desc), "Second");
    assert_int_equal(get(f->control_port, "/status", NULL), 0); /* nothing there */
    json_t *rz = reload_status(f->port);
    assert_string_equal(json_string_value(json_object_get(rz, "status")), "failed");
    json_decref(rz);

    assert_int_equal(kill(f->pid, SIGTERM), 0);
    int status;
    assert_int_equal(waitpid(f->pid, &status, 0), f->pid);
    f->pid = 0;
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sighup_swaps_the_spec_and_keeps_a_good_one, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(sighup_reloads_skill_and_control_adapters, setup_adapters,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
