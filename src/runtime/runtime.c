/*
 * runtime.c — the runtime of `capgate serve` and `capgate mcp`: options, worker threads,
 * signals, the drain and the reload.
 *
 * The process runs N workers (serve: one per core by default; mcp: one). Each worker is a
 * thread with its own loop, engine (upstream client + token cache) and adapter servers,
 * all listening on the same ports through SO_REUSEPORT, so the kernel spreads connections
 * over the workers and nothing is handed from one thread to another
 * (reference/c-dependencies.md §5). Worker 0 is set up first on the main thread so that a
 * port of 0 becomes a real port the others reuse. The main thread then only waits for
 * signals (sigwait; every thread blocks them): SIGTERM/SIGINT ask each loop to stop — a
 * worker stops accepting, lets its requests in flight finish (at most --drain-timeout),
 * then closes its connections and exits; SIGHUP re-reads the spec (see reload below).
 *
 * `capgate mcp` over HTTP is this runtime with only the MCP adapter (o->mcp_only): no
 * REST, skill or control adapter is planned, so a worker is a loop, an engine and /mcp.
 *
 * An adapter joins a worker by being started in worker_start, quiesced in
 * on_stop_requested, counted in worker_active, and stopped in worker_finish. The options
 * are read in options.c; the reload's generations live in reload.c.
 */
#include "runtime/runtime_int.h"

#include <curl/curl.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/log.h"
#include "engine/profile_label_studio.h"
#include "engine/trace.h"
#include "runtime/signals.h"
#include "spec/spec.h"

shared cg__rt;

/* ---- workers -------------------------------------------------------------------- */

static int worker_active(const worker *w)
{
    int n = cg_engine_pending(w->engine) + (w->mcp ? cg_mcp_http_active(w->mcp) : 0);
    for (const view *v = w->retired; v; v = v->next) n += cg_engine_pending(v->engine);
    for (size_t i = 0; i < cg__rt.n_rest; i++) n += w->rest[i] ? cg_rest_active(w->rest[i]) : 0;
    for (size_t i = 0; i < cg__rt.n_skill; i++)
        n += w->skill[i] ? cg_skill_http_active(w->skill[i]) : 0;
    return n;
}

static void drain_check(cg_loop *loop, void *arg)
{
    worker *w = arg;
    if (worker_active(w) == 0 || cg_loop_now(loop) >= w->drain_deadline) {
        cg_loop_break(loop);
        return;
    }
    cg_loop_timer_add(loop, 20, drain_check, w);
}

static void on_stop_requested(cg_loop *loop, void *arg)
{
    worker *w = arg;
    for (size_t i = 0; i < cg__rt.n_rest; i++) cg_rest_quiesce(w->rest[i]);
    cg_mcp_http_quiesce(w->mcp);
    for (size_t i = 0; i < cg__rt.n_skill; i++) cg_skill_http_quiesce(w->skill[i]);
    cg_control_quiesce(w->control);
    w->drain_deadline = cg_loop_now(loop) + (uint64_t)w->opt->drain_timeout_ms;
    drain_check(loop, w);
}

static int worker_start(worker *w, char *err, size_t errlen)
{
    w->loop = cg_loop_create(err, errlen);
    if (!w->loop) return -1;
    w->engine = cg_engine_create(w->loop, cg__rt.spec, &w->opt->engine, cg__rt.metrics, err,
                                 errlen);
    if (!w->engine || cg__rt_views_start(w, err, errlen) < 0) return -1;
    if (cg__rt.mcp && !(w->mcp = cg_mcp_http_start(w->engine, cg__rt.mcp, err, errlen))) return -1;
    if (cg__rt.n_rest) {
        if (!(w->console = w->view->console = cg__rt_start_console(w->engine, &cg__rt.gen0))) {
            snprintf(err, errlen, "console: out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < cg__rt.n_rest; i++) {
        const rest_site *rs = &cg__rt.rest[i];
        cg_rest_options ro = {
            .spec = cg__rt.spec,
            .adapter = rs->adapter,
            .address = rs->address,
            .port = rs->port,
            .max_body = w->opt->max_body,
            .connection_timeout_s = w->opt->idle_timeout_s,
            .access_log = w->opt->access_log,
            .openapi = rs->openapi,
            .openapi_len = rs->openapi_len,
            .metrics = cg__rt.metrics,
            .auth = cg__rt.auth,
            .console = i == 0 ? w->console : NULL,
            .hold = {cg__rt_view_retain, cg__rt_view_release, w->view},
            .reload_status = &cg__rt.reload_status,
        };
        if (!(w->rest[i] = cg_rest_start(w->engine, &ro, err, errlen))) return -1;
    }
    for (size_t i = 0; i < cg__rt.n_skill; i++) {
        cg_skill_options so = {
            .spec = cg__rt.spec,
            .adapter = cg__rt.skill[i].adapter,
            .address = cg__rt.skill[i].address,
            .port = cg__rt.skill[i].port,
            .idle_timeout_s = w->opt->idle_timeout_s,
            .metrics = cg__rt.metrics,
        };
        if (!(w->skill[i] = cg_skill_http_start(w->loop, &so, err, errlen))) return -1;
    }
    if (cg__rt.control_address) {
        cg_control_options co = {
            .shared = &cg__rt.control,
            .address = cg__rt.control_address,
            .port = cg__rt.control_port,
            .idle_timeout_s = w->opt->idle_timeout_s,
        };
        if (!(w->control = cg_control_start(w->loop, &co, err, errlen))) return -1;
    }
    cg_loop_on_stop(w->loop, on_stop_requested, w);
    return 0;
}

static void worker_finish(worker *w)
{
    for (size_t i = 0; i < MAX_ADAPTERS; i++) {
        cg_rest_stop(w->rest[i]); /* the first ends the console's requests too */
        w->rest[i] = NULL;
        cg_skill_http_stop(w->skill[i]);
        w->skill[i] = NULL;
    }
    cg_control_stop(w->control);
    w->control = NULL;
    cg_mcp_http_stop(w->mcp); /* after the loop has returned: see mcp.h */
    w->mcp = NULL;
    if (w->loop) cg__rt_views_finish(w);
    cg_console_stop(w->console);
    w->console = NULL;
    cg_engine_free(w->engine);
    cg_loop_free(w->loop);
    w->engine = NULL;
    w->loop = NULL;
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    if (cg_loop_run(w->loop) < 0)
        cg_log(CG_LOG_ERROR, w->opt->command, "worker %d: epoll failed", w->index);
    return NULL;
}

static bool is_loopback_address(const char *a)
{
    return !strncmp(a, "127.", 4) || !strcmp(a, "::1") || !strcasecmp(a, "localhost");
}

/* The IP literal to bind for an adapter's address (the servers take literals only). */
const char *cg__rt_bind_address(const char *a)
{
    return !a || !*a || !strcasecmp(a, "localhost") ? "127.0.0.1" : a;
}

/* Says once whether inbound auth is on and for how many tokens (never which). */
static void log_inbound_auth(const cg_inbound_auth *auth, const char *address)
{
    size_t n = cg_inbound_auth_count(auth);
    const char *scheme = cg_inbound_auth_scheme(auth);
    if (n || scheme)
        cg_log(CG_LOG_INFO, "serve",
               "inbound auth: on, %zu token%s%s%s; every request but GET /healthz and /readyz must "
               "present one",
               n, n == 1 ? "" : "s", scheme ? " and the adapter's " : "", scheme ? scheme : "");
    else
        cg_log(is_loopback_address(address) ? CG_LOG_INFO : CG_LOG_WARN, "serve",
               "inbound auth: off (set %s or %s to require a token)%s", CG_INBOUND_AUTH_ENV_TOKENS,
               CG_INBOUND_AUTH_ENV_FILE,
               is_loopback_address(address) ? ""
                                            : "; anyone who can reach this address can call the "
                                              "upstream API with capgate's credentials");
}

static const char *label_studio_url(const cg_spec *spec, serve_options *o)
{
    const char *url = getenv(CG_LS_ENV_URL);
    if (!url || !*url) return NULL;
    /* LABEL_STUDIO_URL applies first, so --base-uri and --upstream override it */
    for (size_t i = 0; i < spec->n_consumes && o->n_uris < MAX_URIS; i++)
        if (cg_ls_profile_applies(spec->consumes[i].namespace_, o->profiles, o->n_profiles)) {
            memmove(&o->uris[1], &o->uris[0], o->n_uris * sizeof o->uris[0]);
            o->uris[0] = (cg_engine_upstream_uri){spec->consumes[i].namespace_, url};
            o->n_uris++;
        }
    return url;
}

/* The HTTP MCP adapter to serve: --adapter's, else the first; NULL if none (or stdio). */
const cg_mcp_adapter *cg__rt_pick_mcp(const cg_spec *spec, const serve_options *o)
{
    if (o->no_mcp) return NULL;
    for (size_t i = 0; i < spec->n_mcp; i++)
        if (!o->mcp_adapter || !strcmp(spec->mcp[i].namespace_, o->mcp_adapter))
            /* serve skips a stdio adapter; `capgate mcp` serves the one asked for */
            return spec->mcp[i].stdio && !o->mcp_adapter && !o->mcp_only ? NULL : &spec->mcp[i];
    return NULL;
}

/* Which adapters this process serves, where, and with which ports (before binding).
 * 0, or -1 with a message on stderr. */
static int plan_adapters(const cg_spec *spec, const serve_options *o)
{
    const char *cmd = o->command;
    cg__rt.mcp_adapter = cg__rt_pick_mcp(spec, o);
    if (o->mcp_only) {
        /* capgate mcp: the MCP adapter alone */
        if (!cg__rt.mcp_adapter) {
            fprintf(stderr, "capgate %s: %s has no MCP adapter%s%s\n", cmd, o->file,
                    o->mcp_adapter ? " named " : "", o->mcp_adapter ? o->mcp_adapter : "");
            return -1;
        }
        return 0;
    }
    if (o->mcp_adapter && !cg__rt.mcp_adapter && !o->no_mcp) {
        fprintf(stderr, "capgate %s: %s has no MCP adapter named %s\n", cmd, o->file,
                o->mcp_adapter);
        return -1;
    }
    cg__rt.n_rest = spec->n_rest < MAX_ADAPTERS ? spec->n_rest : MAX_ADAPTERS;
    for (size_t i = 0; i < cg__rt.n_rest; i++) {
        rest_site *rs = &cg__rt.rest[i];
        rs->adapter = &spec->rest[i];
        rs->address = cg__rt_bind_address(o->listen_addr ? o->listen_addr : rs->adapter->address);
        rs->port = i == 0 && o->listen_port >= 0 ? o->listen_port : rs->adapter->port;
    }
    cg__rt.n_skill = spec->n_skill < MAX_ADAPTERS ? spec->n_skill : MAX_ADAPTERS;
    for (size_t i = 0; i < cg__rt.n_skill; i++) {
        skill_site *ss = &cg__rt.skill[i];
        ss->adapter = &spec->skill[i];
        ss->address = cg__rt_bind_address(ss->adapter->address);
        ss->port = i == 0 && o->skill_port >= 0 ? o->skill_port : ss->adapter->port;
    }
    if (spec->control) {
        cg__rt.control_address = cg__rt_bind_address(spec->control->address);
        cg__rt.control_port = o->control_port >= 0 ? o->control_port : spec->control->port;
    }
    bool mcp_http = cg__rt.mcp_adapter != NULL;
    if (!cg__rt.n_rest && !cg__rt.n_skill && !spec->control && !mcp_http) {
        fprintf(stderr, "capgate %s: %s exposes no adapter to serve over HTTP%s\n", cmd, o->file,
                spec->n_mcp && spec->mcp[0].stdio ? " (its MCP adapter uses stdio: run "
                                                    "`capgate mcp`)"
                                                  : "");
        return -1;
    }
    /* two adapters on one port would share it silently (SO_REUSEPORT): refuse */
    typedef struct {
        const char *what;
        int port;
    } port_use;
    port_use used[2 * MAX_ADAPTERS + 2];
    size_t n = 0;
    for (size_t i = 0; i < cg__rt.n_rest; i++)
        used[n++] = (port_use){"a REST adapter", cg__rt.rest[i].port};
    if (mcp_http)
        used[n++] = (port_use){"the MCP adapter",
                               o->mcp_port >= 0 ? o->mcp_port : cg__rt.mcp_adapter->port};
    for (size_t i = 0; i < cg__rt.n_skill; i++)
        used[n++] = (port_use){"a skill adapter", cg__rt.skill[i].port};
    if (spec->control) used[n++] = (port_use){"the control adapter", cg__rt.control_port};
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (used[i].port > 0 && used[i].port == used[k].port) {
                fprintf(stderr, "capgate %s: %s and %s both use port %d\n", cmd, used[i].what,
                        used[k].what, used[i].port);
                return -1;
            }
    return 0;
}

/* After worker 0 bound everything: real ports (a port of 0 became one), the OpenAPI
 * documents, and the adapter list the control port shows. 0, or -1 (memory). */
static int settle_ports(worker *w0)
{
    size_t n = 0;
    for (size_t i = 0; i < cg__rt.n_rest; i++) {
        rest_site *rs = &cg__rt.rest[i];
        rs->port = cg_rest_port(w0->rest[i]);
        cg_buf doc = CG_BUF_INIT, url = CG_BUF_INIT;
        cg_buf_printf(&url, strchr(rs->address, ':') ? "http://[%s]:%d" : "http://%s:%d",
                      rs->address, rs->port);
        int rc = url.data ? cg_rest_openapi(cg__rt.spec, rs->adapter, url.data, &doc) : -1;
        cg_buf_free(&url);
        if (rc < 0) {
            cg_buf_free(&doc);
            return -1;
        }
        rs->openapi_len = doc.len;
        rs->openapi = cg_buf_steal(&doc);
        cg_rest_set_openapi(w0->rest[i], rs->openapi, rs->openapi_len);
        cg__rt.gen0.sites[n++] = (cg_control_site){"rest", rs->adapter->namespace_, rs->port};
    }
    if (cg__rt.mcp)
        cg__rt.gen0.sites[n++] = (cg_control_site){"mcp", cg__rt.mcp_adapter->namespace_,
                                                   cg_mcp_shared_port(cg__rt.mcp)};
    for (size_t i = 0; i < cg__rt.n_skill; i++) {
        cg__rt.skill[i].port = cg_skill_http_port(w0->skill[i]);
        cg__rt.gen0.sites[n++] = (cg_control_site){"skill", cg__rt.skill[i].adapter->namespace_,
                                                   cg__rt.skill[i].port};
    }
    if (w0->control) {
        cg__rt.control_port = cg_control_port(w0->control);
        cg__rt.gen0.sites[n++] = (cg_control_site){"control", NULL, cg__rt.control_port};
    }
    cg__rt.gen0.n_sites = n;
    cg__rt.control.sites = cg__rt.gen0.sites;
    cg__rt.control.n_sites = n;
    return 0;
}

/* Observability from the control adapter: tracing on when it keeps traces or exports them. */
static int start_tracing(const cg_spec *spec)
{
    const cg_control_adapter *c = spec->control;
    if (!c || !c->observability || (!c->traces && !c->otlp_endpoint)) return 0;
    cg_trace_config tc = {
        .sampling = c->trace_sampling,
        .buffer_size = c->traces ? (c->trace_buffer > 0 ? c->trace_buffer : 100) : 0,
        .otlp_endpoint = c->otlp_endpoint,
        .service_name = spec->label ? spec->label : "capgate",
    };
    if (cg_trace_init(&tc) < 0) {
        fprintf(stderr, "capgate serve: cannot start tracing (out of memory or threads)\n");
        return -1;
    }
    if (c->otlp_endpoint)
        cg_log(CG_LOG_INFO, "serve", "traces: exported over OTLP/HTTP to %s (sampling %g)",
               c->otlp_endpoint, c->trace_sampling);
    return 0;
}

static void describe(cg_buf *b, const serve_options *o, int started)
{
    for (size_t i = 0; i < cg__rt.control.n_sites; i++) {
        const cg_control_site *s = &cg__rt.control.sites[i];
        const char *addr = !strcmp(s->type, "control") ? cg__rt.control_address
                           : cg__rt.mcp_adapter && !strcmp(s->type, "mcp")
                               ? cg__rt_bind_address(o->listen_addr ? o->listen_addr
                                                                    : cg__rt.mcp_adapter->address)
                               : "127.0.0.1";
        for (size_t k = 0; k < cg__rt.n_rest; k++)
            if (!strcmp(s->type, "rest") && cg__rt.rest[k].port == s->port)
                addr = cg__rt.rest[k].address;
        for (size_t k = 0; k < cg__rt.n_skill; k++)
            if (!strcmp(s->type, "skill") && cg__rt.skill[k].port == s->port)
                addr = cg__rt.skill[k].address;
        cg_buf_printf(b, "%s%s on http://%s:%d%s", i ? ", " : "",
                      !strcmp(s->type, "rest")  ? "REST"
                      : !strcmp(s->type, "mcp") ? "MCP"
                                                : s->type,
                      addr, s->port, !strcmp(s->type, "mcp") ? "/mcp" : "");
    }
    cg_buf_printf(b, " (%d workers)", started);
}

static void release_shared(void)
{
    for (size_t i = 0; i < 64; i++) free(cg__rt.statuses[i]);
    if (cg__rt.gen && cg__rt.gen != &cg__rt.gen0) cg__rt_generation_unuse(cg__rt.gen);
    cg__rt.gen = NULL;
    for (size_t i = 0; i < cg__rt.n_rest; i++) free(cg__rt.rest[i].openapi);
    cg_mcp_shared_free(cg__rt.mcp);
    cg_inbound_auth_free(cg__rt.auth);
    cg_inbound_auth_free(cg__rt.mcp_auth);
    cg_metrics_free(cg__rt.metrics);
    cg_feed_free(cg__rt.feed);
    cg_script_policy_free(cg__rt.scripts);
}

int cg_runtime_load(cg_runtime_options *o, cg_spec **out)
{
    const char *cmd = o->command;
    *out = NULL;
    if (!o->file) o->file = CG_RUNTIME_DEFAULT_SPEC;
    cg_spec *spec = NULL;
    cg_buf errors = CG_BUF_INIT;
    cg_spec_result sr = cg_spec_load(o->file, &spec, &errors);
    if (sr != CG_SPEC_OK) {
        fprintf(stderr, "%s", errors.len ? errors.data : "");
        fprintf(stderr, "capgate %s: cannot load %s\n", cmd, o->file);
        cg_buf_free(&errors);
        return sr == CG_SPEC_EIO ? 1 : 2;
    }
    cg_buf_reset(&errors);
    if (cg_spec_check_binds(spec, &errors) > 0) {
        char *line = errors.data, *nl;
        while (line && (nl = strchr(line, '\n'))) {
            *nl = '\0';
            cg_log(CG_LOG_WARN, cmd, "%s (calls need the caller's Authorization header)", line);
            line = nl + 1;
        }
    }
    cg_buf_free(&errors);
    const char *unknown = cg_ls_unknown_profile(spec, o->profiles, o->n_profiles);
    if (unknown) {
        fprintf(stderr, "capgate %s: --profile %s=label-studio: %s consumes no API named '%s'\n",
                cmd, unknown, o->file, unknown);
        cg_spec_free(spec);
        return 2;
    }
    label_studio_url(spec, o);
    o->engine.uris = o->uris;
    o->engine.n_uris = o->n_uris;
    o->engine.label_studio_ns = o->profiles;
    o->engine.n_label_studio_ns = o->n_profiles;
    *out = spec;
    return 0;
}

/* Inbound tokens and each adapter's declared authentication: 0, or -1 (printed). */
static int setup_auth(const cg_spec *spec, const serve_options *o)
{
    char aerr[320];
    if (cg_inbound_auth_from_env(&cg__rt.auth, aerr, sizeof aerr) != CG_INBOUND_AUTH_OK ||
        (cg__rt.n_rest &&
         cg_inbound_auth_declare(&cg__rt.auth, spec, &spec->rest[0].auth, aerr, sizeof aerr)) ||
        cg_inbound_auth_from_env(&cg__rt.mcp_auth, aerr, sizeof aerr) != CG_INBOUND_AUTH_OK ||
        (cg__rt.mcp_adapter &&
         cg_inbound_auth_declare(&cg__rt.mcp_auth, spec, &cg__rt.mcp_adapter->auth, aerr,
                                 sizeof aerr))) {
        fprintf(stderr, "capgate %s: %s\n", o->command, aerr);
        return -1;
    }
    return 0;
}

/* POST /config/reload: the main thread takes it as any SIGHUP (every thread blocks it). */
static void request_reload(void)
{
    kill(getpid(), SIGHUP);
}

/* The shared state every worker reads: metrics, the console's feed, scripting, control,
 * the MCP adapter's sessions. 0, or the exit status (printed). */
static int setup_shared(cg_spec *spec, serve_options *o, cg_mcp_http_options *mo)
{
    cg__rt.spec = spec;
    cg__rt.metrics = cg_metrics_create();
    cg__rt.feed = cg_feed_create(1024);
    if (cg__rt.metrics && cg__rt.feed)
        cg_metrics_set_call_sink(cg__rt.metrics, cg_feed_record, cg__rt.feed);
    /* with a control adapter, always: a reload may add management.scripting (reload.c) */
    bool scripting = !o->mcp_only && spec->control;
    if (scripting) {
        cg__rt.scripts = cg_script_policy_create(spec->control);
        o->engine.script_policy = cg__rt.scripts;
    }
    cg__rt.control.spec = spec;
    cg__rt.control.file = o->file;
    cg__rt.control.metrics = cg__rt.metrics;
    cg__rt.control.scripts = cg__rt.scripts;
    cg__rt.control.reload_status = &cg__rt.reload_status;
    cg__rt.control.request_reload = request_reload;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    cg__rt.control.started_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* libcurl is initialised on first use (curl_easy_init does it, thread-safely since
     * 7.84): with upstreams that capgate's own client serves, OpenSSL is never loaded,
     * which keeps ~3 MB of library pages out of the resident set. */
    if (!cg__rt.metrics || !cg__rt.feed || (scripting && !cg__rt.scripts)) {
        fprintf(stderr, "capgate %s: out of memory\n", o->command);
        return 1;
    }
    *mo = (cg_mcp_http_options){
        .address = o->listen_addr,
        .port = o->mcp_port,
        .allow_hosts = o->mcp_allow_hosts,
        .n_allow_hosts = o->n_mcp_allow_hosts,
        .allow_origins = o->mcp_allow_origins,
        .n_allow_origins = o->n_mcp_allow_origins,
        .max_sessions = o->max_sessions,
        .session_idle_s = o->session_idle_s,
        .page_size = o->page_size,
        .heartbeat_s = o->heartbeat_s,
        .connection_timeout_s = o->idle_timeout_s,
        .access_log = o->access_log,
        .metrics = cg__rt.metrics,
        .auth = cg__rt.mcp_auth,
    };
    if (cg__rt.mcp_adapter) {
        char merr[256];
        cg__rt.mcp = cg_mcp_shared_create(spec, cg__rt.mcp_adapter, mo, merr, sizeof merr);
        if (!cg__rt.mcp) {
            fprintf(stderr, "capgate %s: %s\n", o->command, merr);
            return 1;
        }
    }
    return 0;
}

/* The "listening" lines once every worker runs. */
static void log_started(const serve_options *o, worker *w0, int started)
{
    const cg_spec *spec = cg__rt.spec;
    if (o->mcp_only) {
        const cg_mcp_adapter *a = cg__rt.mcp_adapter;
        cg_log(CG_LOG_INFO, "mcp", "listening on http://%s:%d/mcp (%zu tools, %d worker%s)",
               o->listen_addr ? o->listen_addr
               : a->address   ? a->address
                              : "127.0.0.1",
               cg_mcp_shared_port(cg__rt.mcp), a->n_tools, started, started == 1 ? "" : "s");
        const cg_inbound_auth *auth = cg__rt.mcp_auth;
        if (auth)
            cg_log(CG_LOG_INFO, "mcp",
                   "inbound auth: on, %zu token%s%s%s; every /mcp request "
                   "must present one",
                   cg_inbound_auth_count(auth), cg_inbound_auth_count(auth) == 1 ? "" : "s",
                   cg_inbound_auth_scheme(auth) ? " and the adapter's " : "",
                   cg_inbound_auth_scheme(auth) ? cg_inbound_auth_scheme(auth) : "");
        else
            cg_log(CG_LOG_INFO, "mcp", "inbound auth: off (set %s or %s to require a token)",
                   CG_INBOUND_AUTH_ENV_TOKENS, CG_INBOUND_AUTH_ENV_FILE);
        return;
    }
    cg_buf up = CG_BUF_INIT, where = CG_BUF_INIT;
    for (size_t i = 0; i < spec->n_consumes; i++)
        cg_buf_printf(&up, "%s%s", i ? ", " : "",
                      cg_engine_base_uri(w0->engine, &spec->consumes[i]));
    describe(&where, o, started);
    cg_log(CG_LOG_INFO, "serve", "serving %s: %s, upstream %s", o->file,
           where.data ? where.data : "-", up.data ? up.data : "-");
    if (cg__rt.n_rest)
        cg_log(CG_LOG_INFO, "serve", "console on http://%s:%d/console/", cg__rt.rest[0].address,
               cg__rt.rest[0].port);
    cg_buf_free(&up);
    cg_buf_free(&where);
    if (cg__rt.n_rest || cg__rt.mcp)
        log_inbound_auth(cg__rt.auth, cg__rt.n_rest    ? cg__rt.rest[0].address
                                      : o->listen_addr ? o->listen_addr
                                                       : "127.0.0.1");
}

/* Starts the workers: worker 0 first (it binds the ports), then the others on the real
 * ports, then their threads. The number started, or -1 (printed; those started are
 * finished). */
static int start_workers(worker *workers, serve_options *o)
{
    char err[512] = "";
    int started = 0;
    for (int i = 0; i < o->threads; i++) {
        workers[i].index = i;
        workers[i].opt = o;
        if (worker_start(&workers[i], err, sizeof err) < 0) {
            fprintf(stderr, "capgate %s: %s\n", o->command, err);
            worker_finish(&workers[i]);
            goto start_workers_fail;
        }
        if (i == 0 && settle_ports(&workers[0]) < 0) {
            /* a port of 0 is now a real port: the other workers share it */
            fprintf(stderr, "capgate %s: out of memory building the OpenAPI document\n",
                    o->command);
            worker_finish(&workers[0]);
            goto start_workers_fail;
        }
        started++;
    }
    for (int i = 0; i < started; i++)
        if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
            fprintf(stderr, "capgate %s: cannot start worker thread %d\n", o->command, i);
            for (int k = 0; k < i; k++) {
                cg_loop_request_stop(workers[k].loop);
                pthread_join(workers[k].thread, NULL);
            }
            goto start_workers_fail;
        }
    return started;
start_workers_fail:
    for (int i = 0; i < started; i++) worker_finish(&workers[i]);
    return -1;
}

int cg_runtime_run(cg_runtime_options *o)
{
    const char *cmd = o->command;
    /* before anything can start a thread (the MCP sessions' store, tracing, libraries):
     * a thread that does not block them would take the signals with their default action */
    sigset_t signals;
    cg_signals_block(&signals, true);
    if (!o->threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o->threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }
    cg_spec *spec = NULL;
    int rc = cg_runtime_load(o, &spec);
    if (rc) return rc;
    if (plan_adapters(spec, o) < 0 || setup_auth(spec, o) < 0) {
        release_shared();
        cg_spec_free(spec);
        return 2;
    }
    o->engine.upstream.max_in_flight = o->max_upstream / o->threads > 0
                                           ? o->max_upstream / o->threads
                                           : 1;
    o->engine.upstream.user_agent = "capgate/" CAPGATE_VERSION;
    cg__rt.gen0 = (generation){.spec = spec, .mcp_adapter = cg__rt.mcp_adapter, .number = 1};
    atomic_init(&cg__rt.gen0.users, 1);
    cg__rt.gen = &cg__rt.gen0;
    cg_mcp_http_options mo;
    if ((rc = setup_shared(spec, o, &mo)) != 0 || (!o->mcp_only && start_tracing(spec) < 0)) {
        release_shared();
        cg_spec_free(spec);
        return rc ? rc : 1;
    }
    worker workers[MAX_THREADS];
    memset(workers, 0, sizeof workers);
    int started = start_workers(workers, o);
    if (started < 0) {
        cg_trace_shutdown(2000);
        release_shared();
        cg_spec_free(spec);
        return 1;
    }
    atomic_store(&cg__rt.control.state, 1);
    log_started(o, &workers[0], started);
    int sig;
    while ((sig = cg_signals_wait(&signals)) == SIGHUP) cg__rt_reload(o, workers, started);
    atomic_store(&cg__rt.control.state, 2);
    cg_log(CG_LOG_INFO, cmd, "%s: draining calls in flight, then exiting", cg_signals_name(sig));
    for (int i = 0; i < started; i++) cg_loop_request_stop(workers[i].loop);
    for (int i = 0; i < started; i++) pthread_join(workers[i].thread, NULL);
    cg_log(CG_LOG_INFO, cmd, "stopped");
    for (int i = 0; i < started; i++) worker_finish(&workers[i]);
    if (!o->mcp_only) cg_trace_shutdown(2000); /* after the workers: their last spans are queued */
    release_shared();
    cg_spec_free(spec);
    curl_global_cleanup();
    return 0;
}
