/*
 * fuzz_rest.c — libFuzzer target for the REST adapter (src/rest/rest.c: routing, screening,
 * inbound checks) and parameter binding (src/engine/call.c), end to end in one process:
 * the input goes as raw bytes over a loopback connection to `capgate serve`'s adapter for
 * the shipped capability, whose upstream is a second in-process HTTP server on the same
 * loop that records nothing but checks every request capgate forwards.
 *
 * Invariants (abort() when broken), on every forwarded request: the method is one the spec
 * uses; the path is /api/ml/ followed only by an integer id and the spec's suffixes, so no
 * value ever added a segment, a "..", a query key or a header; a credential is there (the
 * configured key or the caller's own); a body, when present, is JSON (the adapter refuses anything else).
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loopback.h"
#include "engine/call.h"
#include "net/h1_server.h"
#include "net/loop.h"
#include "rest/rest.h"
#include "spec/spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static cg_loop *loop;
static cg_h1s *upstream;
static cg_rest *rest;

/* "/api/ml/" then [int [/suffix]] and at most "?project=INT" or "?batch_size=INT", raw */
static bool target_allowed(const char *target)
{
    char p_[4096];
    snprintf(p_, sizeof p_, "%s", target);
    char *query = strchr(p_, '?');
    if (query) *query++ = '\0';
    const char *p = p_;
    if (strncmp(p, "/api/ml/", 8)) return false;
    p += 8;
    if (*p == '-') p++;
    const char *digits = p;
    while (*p >= '0' && *p <= '9') p++;
    if (p == digits && *p) return false;
    static const char *const suffixes[] = {"",         "/",      "/interactive-annotating",
                                           "/predict", "/train", "/versions"};
    bool ok = false;
    for (size_t i = 0; i < sizeof suffixes / sizeof suffixes[0]; i++)
        if (!strcmp(p, suffixes[i])) ok = true;
    if (!ok) return false;
    if (!query) return true;
    const char *v = NULL;
    if (!strncmp(query, "project=", 8)) v = query + 8;
    else if (!strncmp(query, "batch_size=", 11)) v = query + 11;
    if (!v) return false;
    if (*v == '-') v++;
    return *v && strspn(v, "0123456789") == strlen(v);
}

static void on_up_head(void *ctx, cg_h1s_request *rq) {}

static void on_up_body(void *ctx, cg_h1s_request *rq)
{
    const char *m = cg_h1s_method(rq);
    static const cg_h1s_header type = {"Content-Type", "application/json"};
    if (!strcmp(m, "GET") && !strcmp(cg_h1s_target(rq), "/")) { /* GET /readyz's probe */
        cg_h1s_respond(rq, 200, &type, 1, "{}", 2, NULL);
        return;
    }
    if (strcmp(m, "GET") && strcmp(m, "POST") && strcmp(m, "PATCH") && strcmp(m, "DELETE")) abort();
    if (!target_allowed(cg_h1s_target(rq))) {
        fprintf(stderr, "forwarded a disallowed target: %s %s\n", m, cg_h1s_target(rq));
        abort();
    }
    /* the configured key, or the caller's own Authorization, forwarded as is */
    if (!cg_h1s_header_value(rq, "Authorization")) abort();
    size_t len;
    const char *body = cg_h1s_body(rq, &len);
    if (body && len && body[0] != '{' && body[0] != '[' && body[0] != ' ' && body[0] != '\t' &&
        body[0] != '\r' && body[0] != '\n')
        abort();
    cg_h1s_respond(rq, 200, &type, 1, "{\"id\":1}", 8, NULL);
}

static void on_up_end(void *ctx, cg_h1s_request *rq) {}

static void on_client(cg_loop *l, int fd, unsigned events, void *arg)
{
    char buf[65536];
    for (;;) {
        ssize_t n = recv(fd, buf, sizeof buf, 0);
        if (n > 0) continue;
        if (n == 0 || (errno != EAGAIN && errno != EINTR)) cg_loop_break(l);
        return;
    }
}

static void on_deadline(cg_loop *l, void *arg)
{
    cg_loop_break(l);
}

static void init(void)
{
    if (rest) return;
    static cg_spec *spec;
    static char uri[64];
    char err[256];
    if (cg_spec_load("capabilities/label-studio-ml.yaml", &spec, NULL) != CG_SPEC_OK) abort();
    setenv("LABEL_STUDIO_API_KEY", "fuzz-key", 1);
    loop = cg_loop_create(err, sizeof err);
    static const cg_h1s_handlers up = {on_up_head, on_up_body, on_up_end, NULL};
    cg_h1s_options uo = {.address = "127.0.0.1", .max_body = 1 << 20, .idle_timeout_s = 30};
    upstream = loop ? cg_h1s_start(loop, &uo, &up, NULL, err, sizeof err) : NULL;
    if (!upstream) abort();
    snprintf(uri, sizeof uri, "http://127.0.0.1:%d", cg_h1s_port(upstream));
    static cg_engine_upstream_uri override;
    override = (cg_engine_upstream_uri){NULL, uri};
    cg_engine_options eo = {.uris = &override,
                            .n_uris = 1,
                            .timeout_ms = 2000,
                            .upstream = {.retries = 0, .native_http = true}};
    cg_engine *engine = cg_engine_create(loop, spec, &eo, NULL, err, sizeof err);
    if (!engine) abort();
    cg_rest_options ro = {.spec = spec,
                          .adapter = &spec->rest[0],
                          .address = "127.0.0.1",
                          .max_body = 64 * 1024,
                          .openapi = "{}",
                          .openapi_len = 2};
    rest = cg_rest_start(engine, &ro, err, sizeof err);
    if (!rest) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    init();
    int fd = loopback_connect(cg_rest_port(rest));
    loopback_send_input(fd, data, size);
    fcntl(fd, F_SETFL, O_NONBLOCK);
    if (cg_loop_io_set(loop, fd, CG_LOOP_READ, on_client, NULL) < 0) abort();
    uint64_t t = cg_loop_timer_add(loop, 3000, on_deadline, NULL);
    cg_loop_run(loop);
    cg_loop_timer_cancel(loop, t);
    cg_loop_io_remove(loop, fd);
    loopback_close(fd);
    return 0;
}
