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
 * on_stop_requested, counted in worker_active, and stopped in worker_finish.
 */
#include "runtime/runtime.h"
#include "runtime/signals.h"

#include <curl/curl.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <sys/eventfd.h>
#include <stdatomic.h>

#include "common/log.h"
#include "console/console.h"
#include "console/feed.h"
#include "engine/call.h"
#include "engine/inbound_auth.h"
#include "engine/profile_label_studio.h"
#include "net/loop.h"
#include "engine/metrics.h"
#include "mcp/mcp.h"
#include "mcp/protocol.h"
#include "mcp/tool_schema.h"
#include "rest/rest.h"
#include "skill/skill.h"
#include "control/control.h"
#include "engine/script_policy.h"
#include "engine/trace.h"
#include "spec/spec.h"

#define MAX_THREADS CG_RUNTIME_MAX_THREADS
#define MAX_URIS CG_RUNTIME_MAX_URIS
#define MAX_MCP_ALLOW CG_RUNTIME_MAX_ALLOW
#define MAX_ADAPTERS 8

typedef cg_runtime_options serve_options;

/* One loaded spec and what every worker derives from it alike (see "reload" below). The
 * first lives until exit; a later one is freed by whoever lets go of it last. */
typedef struct generation {
    cg_spec *spec;
    const cg_mcp_adapter *mcp_adapter;  /* the MCP adapter served, or NULL */
    cg_mcp_core *mcp_core;      /* its protocol core; NULL in the first (the shared one's) */
    char *openapi[MAX_ADAPTERS];/* per REST adapter (the first's are g_shared.rest's) */
    size_t openapi_len[MAX_ADAPTERS];
    bool tools_changed;         /* its MCP tools differ from the previous generation's */
    unsigned number;            /* 1 for the spec loaded at start, then 2, 3, ... */
    atomic_int users;           /* worker views on it, + 1 while it is the current one */
} generation;

/* A worker's view of a generation: the engine (upstream client, token cache) and console
 * it built for that spec. Only the worker's loop thread touches it. */
typedef struct view {
    struct worker *w;
    generation *g;
    cg_engine *engine;
    cg_console *console;
    int refs;                   /* requests holding it, + 1 while it is the worker's current */
    struct view *next;          /* the worker's retired views */
} view;

typedef struct worker {
    int index;
    pthread_t thread;
    cg_loop *loop;
    cg_engine *engine;
    cg_rest *rest[MAX_ADAPTERS];
    cg_mcp_http *mcp;           /* NULL when the spec has no HTTP MCP adapter */
    cg_skill_http *skill[MAX_ADAPTERS];
    cg_control *control;        /* NULL when the spec has no control adapter */
    cg_console *console;        /* /console on the first REST adapter's listener, or NULL */
    uint64_t drain_deadline;
    const serve_options *opt;
    view *view;                 /* what new requests use */
    view *retired;              /* views of earlier specs, until their last request ends */
    uint64_t reap_timer;
    bool finishing;
    int wake_fd;                /* eventfd: the main thread has a new generation for us */
    _Atomic(generation *) next_gen;
} worker;

/* ---- options -------------------------------------------------------------------- */

void cg_runtime_defaults(cg_runtime_options *o, const char *command)
{
    *o = (cg_runtime_options){
        .command = command,
        .mcp_only = !strcmp(command, "mcp"),
        .listen_port = -1,
        .mcp_port = -1,
        .skill_port = -1,
        .control_port = -1,
        .max_body = 10u << 20,
        .idle_timeout_s = 60,
        .max_upstream = 256,
        .drain_timeout_ms = 30000,
        .access_log = strcmp(command, "mcp") != 0,
        .threads = strcmp(command, "mcp") ? 0 : 1,
        .engine.upstream.retries = 2,
        .engine.upstream.native_http = true,
    };
}

const char cg_runtime_options_help[] =
"  --upstream URL         send every consumed API's calls to URL instead of its baseUri\n"
"  --upstream NS=URL      the same for the consumed API with namespace NS (repeatable)\n"
"  --base-uri URL         the same as --upstream URL\n"
"  --profile NS=label-studio  apply the Label Studio profile to consumed namespace NS too (it\n"
"                         applies to namespaces starting with label-studio; repeatable)\n"
"  --connect-timeout T    upstream connect timeout (default 3000 ms; a number is ms, or 3s)\n"
"  --timeout T            upstream total timeout (default 30000 ms)\n"
"  --long-timeout T       Label Studio profile: predict/train/interactive (default 300000 ms)\n"
"  --retries N            retries of idempotent calls on connection failure (default 2)\n"
"  --upstream-client C    native (default): capgate's own HTTP/1.1 client for http:// to an IP\n"
"                         or localhost, libcurl otherwise; curl: libcurl for everything\n"
"  --max-upstream N       concurrent upstream calls, all workers together (default 256)\n"
"  --max-body SIZE        request body limit, suffix k, m or g allowed (default 10m)\n"
"  --idle-timeout T       close a connection idle (or sending its headers) this long\n"
"                         (default 60 s; a number is seconds)\n"
"  --drain-timeout T      how long SIGTERM waits for calls in flight (default 30000 ms)\n"
"  --threads N, --workers N  worker threads (serve: one per core; mcp: 1)\n"
"  --access-log, --no-access-log  one log line per request (serve: on; mcp: off)\n"
"  --allow-host H, --mcp-allow-host H  MCP: also accept Host H (name, name:port or *;\n"
"                         repeatable)\n"
"  --allow-origin O, --mcp-allow-origin O  MCP: also accept Origin O (e.g.\n"
"                         https://app.example.com, or *)\n"
"  --page-size N          MCP: tools/list page size (default: all tools on one page)\n"
"  --session-idle T       MCP: end sessions idle this long (default 1800 s)\n"
"  --max-sessions N       MCP: keep at most N sessions (default 10000)\n"
"  --heartbeat T          MCP: SSE keep-alive comment interval (default 15 s)\n"
"  --adapter NAMESPACE    MCP: which MCP adapter of the spec (default: the first)\n";

/* --upstream URL, --upstream NS=URL, --base-uri URL */
static int take_upstream(cg_runtime_options *o, cg_opts *c)
{
    bool base_only = cg_opts_is(c, "--base-uri");
    const char *val = cg_opts_value(c);
    if (!val) return -1;
    if (o->n_uris == MAX_URIS) return cg_opts_bad(c, "at most 16 of them", val);
    cg_engine_upstream_uri *u = &o->uris[o->n_uris];
    const char *uri = val;
    bool is_url = !strncmp(val, "http://", 7) || !strncmp(val, "https://", 8);
    if (!is_url && !base_only) {
        /* NS=URL: split a copy in place (argv is ours to write, as serve always did) */
        char *eq = strchr(val, '=');
        if (!eq || eq == val)
            return cg_opts_bad(c, "an http:// or https:// URL, or NS=URL", val);
        *eq = '\0';
        u->ns = val;
        uri = eq + 1;
    } else {
        u->ns = NULL;
    }
    if (strncmp(uri, "http://", 7) && strncmp(uri, "https://", 8))
        return cg_opts_bad(c, "an http:// or https:// URL, or NS=URL", uri);
    u->uri = uri;
    o->n_uris++;
    return 1;
}

/* ADDR, ADDR:PORT, :PORT, [V6]:PORT */
static bool parse_listen(const char *value, serve_options *o)
{
    if (strlen(value) >= sizeof o->listen_buf) return false;
    char *s = strcpy(o->listen_buf, value);
    char *port = NULL;
    if (s[0] == '[') {
        char *close = strchr(s, ']');
        if (!close) return false;
        *close = '\0';
        o->listen_addr = s + 1;
        if (close[1] == ':') port = close + 2;
        else if (close[1]) return false;
    } else {
        char *colon = strrchr(s, ':');
        if (colon && strchr(s, ':') == colon) {
            *colon = '\0';
            port = colon + 1;
        }
        o->listen_addr = *s ? s : NULL;
    }
    if (port) {
        long p;
        if (cg_opt_parse_int(port, 0, 65535, &p) < 0) return false;
        o->listen_port = (int)p;
    }
    return true;
}

static int take_list(cg_opts *c, const char **list, size_t *n)
{
    const char *v = cg_opts_value(c);
    if (!v) return -1;
    if (*n == MAX_MCP_ALLOW) return cg_opts_bad(c, "at most 32 of them", v);
    list[(*n)++] = v;
    return 1;
}

int cg_runtime_option(cg_runtime_options *o, cg_opts *c)
{
    long v;
    size_t sz;
    int rc = 1;
    if (!c->name) return 0;
    if (cg_opts_is(c, "--upstream") || cg_opts_is(c, "--base-uri")) {
        return take_upstream(o, c);
    } else if (cg_opts_is(c, "--profile")) {
        const char *val = cg_opts_value(c);
        char perr[160];
        if (!val) return -1;
        if (o->n_profiles == MAX_URIS) return cg_opts_bad(c, "at most 16 of them", val);
        if (cg_ls_parse_profile_option((char *)val, &o->profiles[o->n_profiles], perr,
                                       sizeof perr) < 0) {
            fprintf(stderr, "capgate %s: %s\n", o->command, perr);
            return -1;
        }
        o->n_profiles++;
    } else if (cg_opts_is(c, "--connect-timeout")) {
        if ((rc = cg_opts_duration(c, 1, 1, 3600000, &v)) == 0) o->engine.connect_timeout_ms = v;
    } else if (cg_opts_is(c, "--timeout")) {
        if ((rc = cg_opts_duration(c, 1, 1, 86400000, &v)) == 0) o->engine.timeout_ms = v;
    } else if (cg_opts_is(c, "--long-timeout")) {
        if ((rc = cg_opts_duration(c, 1, 1, 86400000, &v)) == 0) o->engine.long_timeout_ms = v;
    } else if (cg_opts_is(c, "--retries")) {
        if ((rc = cg_opts_int(c, 0, 10, &v)) == 0) o->engine.upstream.retries = (int)v;
    } else if (cg_opts_is(c, "--upstream-client")) {
        static const char *const clients[] = {"native", "curl", NULL};
        int k = cg_opts_choice(c, clients);
        if (k < 0) return -1;
        o->engine.upstream.native_http = k == 0;
        return 1;
    } else if (cg_opts_is(c, "--max-upstream")) {
        if ((rc = cg_opts_int(c, 1, 100000, &v)) == 0) o->max_upstream = (int)v;
    } else if (cg_opts_is(c, "--max-body")) {
        if ((rc = cg_opts_size(c, 1, (size_t)1 << 40, &sz)) == 0) o->max_body = sz;
    } else if (cg_opts_is(c, "--idle-timeout")) {
        if ((rc = cg_opts_duration(c, 1000, 1000, 86400000, &v)) == 0)
            o->idle_timeout_s = (unsigned)(v / 1000);
    } else if (cg_opts_is(c, "--drain-timeout")) {
        if ((rc = cg_opts_duration(c, 1, 0, 3600000, &v)) == 0) o->drain_timeout_ms = v;
    } else if (cg_opts_is(c, "--threads") || cg_opts_is(c, "--workers")) {
        if ((rc = cg_opts_int(c, 1, MAX_THREADS, &v)) == 0) o->threads = (int)v;
    } else if (cg_opts_is(c, "--access-log")) {
        o->access_log = true;
    } else if (cg_opts_is(c, "--no-access-log")) {
        o->access_log = false;
    } else if (cg_opts_is(c, "--allow-host") || cg_opts_is(c, "--mcp-allow-host")) {
        return take_list(c, o->mcp_allow_hosts, &o->n_mcp_allow_hosts);
    } else if (cg_opts_is(c, "--allow-origin") || cg_opts_is(c, "--mcp-allow-origin")) {
        return take_list(c, o->mcp_allow_origins, &o->n_mcp_allow_origins);
    } else if (cg_opts_is(c, "--page-size")) {
        if ((rc = cg_opts_int(c, 0, 1000000, &v)) == 0) o->page_size = (size_t)v;
    } else if (cg_opts_is(c, "--session-idle")) {
        if ((rc = cg_opts_duration(c, 1000, 1000, 86400000L * 30, &v)) == 0)
            o->session_idle_s = (unsigned)(v / 1000);
    } else if (cg_opts_is(c, "--max-sessions")) {
        if ((rc = cg_opts_int(c, 1, 10000000, &v)) == 0) o->max_sessions = (size_t)v;
    } else if (cg_opts_is(c, "--heartbeat")) {
        if ((rc = cg_opts_duration(c, 1000, 1000, 3600000, &v)) == 0)
            o->heartbeat_s = (unsigned)(v / 1000);
    } else if (cg_opts_is(c, "--adapter")) {
        if (!(o->mcp_adapter = cg_opts_value(c))) return -1;
    } else if (cg_opts_is(c, "--listen")) {
        const char *val = cg_opts_value(c);
        if (!val) return -1;
        if (!parse_listen(val, o)) return cg_opts_bad(c, "ADDR, ADDR:PORT, :PORT or [V6]:PORT", val);
    } else {
        return 0;
    }
    return rc < 0 ? -1 : 1;
}

/* ---- workers -------------------------------------------------------------------- */

typedef struct rest_site {
    const cg_rest_adapter *adapter;
    const char *address;
    int port;                   /* the spec's (or --listen's) until worker 0 binds it */
    char *openapi;
    size_t openapi_len;
} rest_site;

typedef struct skill_site {
    const cg_skill_adapter *adapter;
    const char *address;
    int port;
} skill_site;

typedef struct shared {
    const cg_spec *spec;
    cg_metrics *metrics;
    rest_site rest[MAX_ADAPTERS];
    size_t n_rest;
    skill_site skill[MAX_ADAPTERS];
    size_t n_skill;
    const char *control_address;    /* NULL: no control adapter */
    int control_port;
    cg_control_shared control;      /* what every worker's control adapter reads */
    cg_control_site sites[2 * MAX_ADAPTERS + 2];
    const cg_mcp_adapter *mcp_adapter;  /* the MCP adapter served over HTTP, or NULL */
    cg_mcp_shared *mcp;         /* the MCP adapter's shared state, or NULL */
    cg_inbound_auth *auth;      /* REST: inbound API tokens and the first REST adapter's
                                 * declared authentication, or NULL (auth off) */
    cg_inbound_auth *mcp_auth;  /* the same for the MCP adapter */
    cg_feed *feed;              /* recent calls, for the console (src/console) */
    cg_script_policy *scripts;  /* the control adapter's scripting settings, or NULL */
    generation gen0;            /* the spec loaded at start */
    generation *gen;            /* the current one (main thread) */
    _Atomic(const char *) reload_status;    /* /readyz's "reload": the last SIGHUP's outcome */
    char *statuses[64];         /* every status string so far (a reader may hold an old one);
                                 * past 64 reloads the oldest is reused, long since read */
    unsigned n_statuses;
} shared;

static shared g_shared; /* set once before the workers start; read-only afterwards */

static int worker_active(const worker *w)
{
    int n = cg_engine_pending(w->engine) + (w->mcp ? cg_mcp_http_active(w->mcp) : 0);
    for (const view *v = w->retired; v; v = v->next) n += cg_engine_pending(v->engine);
    for (size_t i = 0; i < g_shared.n_rest; i++) n += w->rest[i] ? cg_rest_active(w->rest[i]) : 0;
    for (size_t i = 0; i < g_shared.n_skill; i++)
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
    for (size_t i = 0; i < g_shared.n_rest; i++) cg_rest_quiesce(w->rest[i]);
    cg_mcp_http_quiesce(w->mcp);
    for (size_t i = 0; i < g_shared.n_skill; i++) cg_skill_http_quiesce(w->skill[i]);
    cg_control_quiesce(w->control);
    w->drain_deadline = cg_loop_now(loop) + (uint64_t)w->opt->drain_timeout_ms;
    drain_check(loop, w);
}

/* ---- reload: spec generations ----------------------------------------------------
 *
 * SIGHUP makes the main thread load the spec again. If it loads and keeps every port and
 * address, it becomes a new generation, handed to each worker through its wake eventfd.
 * The worker builds a view of it (an engine and a console for that spec) on its own loop
 * thread and points its adapters at it (cg_rest_reload, cg_mcp_http_reload): requests
 * from then on use the new spec; each request that started before holds the old view
 * (cg_rest_hold) and finishes on it. A retired view is freed once no request holds it and
 * its engine has no call in flight; a generation once no worker's view is on it. The
 * listening sockets and connections are the adapters' own and never move.
 */

static void generation_unuse(generation *g)
{
    if (!g || atomic_fetch_sub(&g->users, 1) != 1 || g == &g_shared.gen0) return;
    for (size_t i = 0; i < MAX_ADAPTERS; i++) free(g->openapi[i]);
    cg_mcp_core_free(g->mcp_core);
    cg_spec_free(g->spec);
    free(g);
}

static void view_free(view *v)
{
    cg_console_stop(v->console);
    cg_engine_free(v->engine);
    generation_unuse(v->g);
    free(v);
}

static void reap_views(cg_loop *loop, void *arg)
{
    worker *w = arg;
    w->reap_timer = 0;
    for (view **p = &w->retired; *p;) {
        view *v = *p;
        if (v->refs == 0 && cg_engine_pending(v->engine) == 0) {
            *p = v->next;
            view_free(v);
        } else {
            p = &v->next;
        }
    }
    /* calls still running on an old engine: look again soon */
    if (w->retired && !w->finishing) w->reap_timer = cg_loop_timer_add(loop, 100, reap_views, w);
}

static void view_retain(void *ctx)
{
    ((view *)ctx)->refs++;
}

static void view_release(void *ctx)
{
    view *v = ctx;
    worker *w = v->w;
    /* freed from a timer, never inside the request's own callbacks */
    if (--v->refs == 0 && v != w->view && !w->finishing && !w->reap_timer)
        w->reap_timer = cg_loop_timer_add(w->loop, 0, reap_views, w);
}

/* The console for a generation (on the first REST adapter's listener), or NULL. */
static cg_console *start_console(cg_engine *engine, const generation *g)
{
    cg_console_options co = {
        .spec = g->spec,
        .rest = &g->spec->rest[0],
        .mcp = g_shared.mcp ? g->mcp_adapter : NULL,
        .feed = g_shared.feed,
        .metrics = g_shared.metrics,
        .auth = cg_inbound_auth_count(g_shared.auth) > 0,
        .mcp_port = g_shared.mcp ? cg_mcp_shared_port(g_shared.mcp) : 0,
    };
    return cg_console_start(engine, &co);
}

/* On the worker's thread: new requests go to generation g. */
static void apply_generation(worker *w, generation *g)
{
    char err[256] = "out of memory";
    view *v = calloc(1, sizeof *v);
    cg_engine *engine = v ? cg_engine_create(w->loop, g->spec, &w->opt->engine,
                                             g_shared.metrics, err, sizeof err)
                          : NULL;
    cg_console *console = engine && g_shared.n_rest ? start_console(engine, g) : NULL;
    if (!engine || (g_shared.n_rest && !console)) {
        cg_log(CG_LOG_ERROR, w->opt->command, "worker %d: reload to generation %u failed "
               "(%s); it keeps the previous spec", w->index, g->number, err);
        cg_engine_free(engine);
        free(v);
        generation_unuse(g);
        return;
    }
    *v = (view){.w = w, .g = g, .engine = engine, .console = console, .refs = 1};
    for (size_t i = 0; i < g_shared.n_rest; i++) {
        cg_rest_options ro = {
            .spec = g->spec,
            .adapter = &g->spec->rest[i],
            .openapi = g->openapi[i],
            .openapi_len = g->openapi_len[i],
            .console = i == 0 ? console : NULL,
            .hold = {view_retain, view_release, v},
        };
        cg_rest_reload(w->rest[i], engine, &ro);
    }
    if (w->mcp) cg_mcp_http_reload(w->mcp, engine, g->mcp_core, g->tools_changed);
    view *old = w->view;
    w->view = v;
    w->engine = engine;
    w->console = console;
    cg_console_quiesce(old->console);   /* its live streams end; the page reconnects */
    old->next = w->retired;
    w->retired = old;
    view_release(old);
}

static void on_wake(cg_loop *loop, int fd, unsigned events, void *arg)
{
    worker *w = arg;
    uint64_t n;
    while (read(fd, &n, sizeof n) > 0) {
    }
    generation *g = atomic_exchange(&w->next_gen, NULL);
    if (g) apply_generation(w, g);
}

/* The worker's first view (generation 1) and its wake eventfd. 0, or -1 with err. */
static int worker_start_views(worker *w, char *err, size_t errlen)
{
    w->view = calloc(1, sizeof *w->view);
    if (!w->view) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *w->view = (view){.w = w, .g = &g_shared.gen0, .engine = w->engine, .refs = 1};
    atomic_fetch_add(&g_shared.gen0.users, 1);
    w->wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (w->wake_fd < 0 || cg_loop_io_set(w->loop, w->wake_fd, CG_LOOP_READ, on_wake, w) < 0) {
        snprintf(err, errlen, "cannot create an eventfd: %s", strerror(errno));
        return -1;
    }
    return 0;
}

/* After the adapters stopped (no request holds a view any more): every view goes. */
static void worker_finish_views(worker *w)
{
    w->finishing = true;
    cg_loop_timer_cancel(w->loop, w->reap_timer);
    if (w->wake_fd > 0) {
        cg_loop_io_remove(w->loop, w->wake_fd);
        close(w->wake_fd);
    }
    w->wake_fd = -1;
    generation_unuse(atomic_exchange(&w->next_gen, NULL));   /* sent, never applied */
    for (view *v = w->retired, *next; v; v = next) {
        next = v->next;
        view_free(v);
    }
    w->retired = NULL;
    if (w->view) {
        w->view->engine = NULL;     /* w->engine and w->console: worker_finish frees them */
        w->view->console = NULL;
        view_free(w->view);
    }
    w->view = NULL;
}

static int worker_start(worker *w, char *err, size_t errlen)
{
    w->loop = cg_loop_create(err, errlen);
    if (!w->loop) return -1;
    w->engine = cg_engine_create(w->loop, g_shared.spec, &w->opt->engine, g_shared.metrics, err,
                                 errlen);
    if (!w->engine || worker_start_views(w, err, errlen) < 0) return -1;
    if (g_shared.mcp && !(w->mcp = cg_mcp_http_start(w->engine, g_shared.mcp, err, errlen)))
        return -1;
    if (g_shared.n_rest) {
        if (!(w->console = w->view->console = start_console(w->engine, &g_shared.gen0))) {
            snprintf(err, errlen, "console: out of memory");
            return -1;
        }
    }
    for (size_t i = 0; i < g_shared.n_rest; i++) {
        const rest_site *rs = &g_shared.rest[i];
        cg_rest_options ro = {
            .spec = g_shared.spec,
            .adapter = rs->adapter,
            .address = rs->address,
            .port = rs->port,
            .max_body = w->opt->max_body,
            .connection_timeout_s = w->opt->idle_timeout_s,
            .access_log = w->opt->access_log,
            .openapi = rs->openapi,
            .openapi_len = rs->openapi_len,
            .metrics = g_shared.metrics,
            .auth = g_shared.auth,
            .console = i == 0 ? w->console : NULL,
            .hold = {view_retain, view_release, w->view},
            .reload_status = &g_shared.reload_status,
        };
        if (!(w->rest[i] = cg_rest_start(w->engine, &ro, err, errlen))) return -1;
    }
    for (size_t i = 0; i < g_shared.n_skill; i++) {
        cg_skill_options so = {
            .spec = g_shared.spec,
            .adapter = g_shared.skill[i].adapter,
            .address = g_shared.skill[i].address,
            .port = g_shared.skill[i].port,
            .idle_timeout_s = w->opt->idle_timeout_s,
            .metrics = g_shared.metrics,
        };
        if (!(w->skill[i] = cg_skill_http_start(w->loop, &so, err, errlen))) return -1;
    }
    if (g_shared.control_address) {
        cg_control_options co = {
            .shared = &g_shared.control,
            .address = g_shared.control_address,
            .port = g_shared.control_port,
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
        cg_rest_stop(w->rest[i]);   /* the first ends the console's requests too */
        w->rest[i] = NULL;
        cg_skill_http_stop(w->skill[i]);
        w->skill[i] = NULL;
    }
    cg_control_stop(w->control);
    w->control = NULL;
    cg_mcp_http_stop(w->mcp);   /* after the loop has returned: see mcp.h */
    w->mcp = NULL;
    if (w->loop) worker_finish_views(w);
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
    if (cg_loop_run(w->loop) < 0) cg_log(CG_LOG_ERROR, w->opt->command, "worker %d: epoll failed", w->index);
    return NULL;
}

static bool is_loopback_address(const char *a)
{
    return !strncmp(a, "127.", 4) || !strcmp(a, "::1") || !strcasecmp(a, "localhost");
}

/* The IP literal to bind for an adapter's address (the servers take literals only). */
static const char *bind_address(const char *a)
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
               "present one", n, n == 1 ? "" : "s", scheme ? " and the adapter's " : "",
               scheme ? scheme : "");
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
static const cg_mcp_adapter *pick_mcp(const cg_spec *spec, const serve_options *o)
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
    g_shared.mcp_adapter = pick_mcp(spec, o);
    if (o->mcp_only) {
        /* capgate mcp: the MCP adapter alone */
        if (!g_shared.mcp_adapter) {
            fprintf(stderr, "capgate %s: %s has no MCP adapter%s%s\n", cmd, o->file,
                    o->mcp_adapter ? " named " : "", o->mcp_adapter ? o->mcp_adapter : "");
            return -1;
        }
        return 0;
    }
    if (o->mcp_adapter && !g_shared.mcp_adapter && !o->no_mcp) {
        fprintf(stderr, "capgate %s: %s has no MCP adapter named %s\n", cmd, o->file,
                o->mcp_adapter);
        return -1;
    }
    g_shared.n_rest = spec->n_rest < MAX_ADAPTERS ? spec->n_rest : MAX_ADAPTERS;
    for (size_t i = 0; i < g_shared.n_rest; i++) {
        rest_site *rs = &g_shared.rest[i];
        rs->adapter = &spec->rest[i];
        rs->address = bind_address(o->listen_addr ? o->listen_addr : rs->adapter->address);
        rs->port = i == 0 && o->listen_port >= 0 ? o->listen_port : rs->adapter->port;
    }
    g_shared.n_skill = spec->n_skill < MAX_ADAPTERS ? spec->n_skill : MAX_ADAPTERS;
    for (size_t i = 0; i < g_shared.n_skill; i++) {
        skill_site *ss = &g_shared.skill[i];
        ss->adapter = &spec->skill[i];
        ss->address = bind_address(ss->adapter->address);
        ss->port = i == 0 && o->skill_port >= 0 ? o->skill_port : ss->adapter->port;
    }
    if (spec->control) {
        g_shared.control_address = bind_address(spec->control->address);
        g_shared.control_port = o->control_port >= 0 ? o->control_port : spec->control->port;
    }
    bool mcp_http = g_shared.mcp_adapter != NULL;
    if (!g_shared.n_rest && !g_shared.n_skill && !spec->control && !mcp_http) {
        fprintf(stderr, "capgate %s: %s exposes no adapter to serve over HTTP%s\n", cmd, o->file,
                spec->n_mcp && spec->mcp[0].stdio ? " (its MCP adapter uses stdio: run "
                                                    "`capgate mcp`)" : "");
        return -1;
    }
    /* two adapters on one port would share it silently (SO_REUSEPORT): refuse */
    typedef struct { const char *what; int port; } port_use;
    port_use used[2 * MAX_ADAPTERS + 2];
    size_t n = 0;
    for (size_t i = 0; i < g_shared.n_rest; i++)
        used[n++] = (port_use){"a REST adapter", g_shared.rest[i].port};
    if (mcp_http)
        used[n++] = (port_use){"the MCP adapter",
                               o->mcp_port >= 0 ? o->mcp_port : g_shared.mcp_adapter->port};
    for (size_t i = 0; i < g_shared.n_skill; i++)
        used[n++] = (port_use){"a skill adapter", g_shared.skill[i].port};
    if (spec->control) used[n++] = (port_use){"the control adapter", g_shared.control_port};
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
    for (size_t i = 0; i < g_shared.n_rest; i++) {
        rest_site *rs = &g_shared.rest[i];
        rs->port = cg_rest_port(w0->rest[i]);
        cg_buf doc = CG_BUF_INIT, url = CG_BUF_INIT;
        cg_buf_printf(&url, strchr(rs->address, ':') ? "http://[%s]:%d" : "http://%s:%d",
                      rs->address, rs->port);
        int rc = url.data ? cg_rest_openapi(g_shared.spec, rs->adapter, url.data, &doc) : -1;
        cg_buf_free(&url);
        if (rc < 0) {
            cg_buf_free(&doc);
            return -1;
        }
        rs->openapi_len = doc.len;
        rs->openapi = cg_buf_steal(&doc);
        cg_rest_set_openapi(w0->rest[i], rs->openapi, rs->openapi_len);
        g_shared.sites[n++] = (cg_control_site){"rest", rs->adapter->namespace_, rs->port};
    }
    if (g_shared.mcp)
        g_shared.sites[n++] = (cg_control_site){"mcp", (*g_shared.mcp_adapter).namespace_,
                                                cg_mcp_shared_port(g_shared.mcp)};
    for (size_t i = 0; i < g_shared.n_skill; i++) {
        g_shared.skill[i].port = cg_skill_http_port(w0->skill[i]);
        g_shared.sites[n++] = (cg_control_site){"skill", g_shared.skill[i].adapter->namespace_,
                                                g_shared.skill[i].port};
    }
    if (w0->control) {
        g_shared.control_port = cg_control_port(w0->control);
        g_shared.sites[n++] = (cg_control_site){"control", NULL, g_shared.control_port};
    }
    g_shared.control.sites = g_shared.sites;
    g_shared.control.n_sites = n;
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
    for (size_t i = 0; i < g_shared.control.n_sites; i++) {
        const cg_control_site *s = &g_shared.control.sites[i];
        const char *addr = !strcmp(s->type, "control") ? g_shared.control_address
                           : bind_address(o->listen_addr ? o->listen_addr
                                                         : (*g_shared.mcp_adapter).address);
        for (size_t k = 0; k < g_shared.n_rest; k++)
            if (!strcmp(s->type, "rest") && g_shared.rest[k].port == s->port)
                addr = g_shared.rest[k].address;
        for (size_t k = 0; k < g_shared.n_skill; k++)
            if (!strcmp(s->type, "skill") && g_shared.skill[k].port == s->port)
                addr = g_shared.skill[k].address;
        cg_buf_printf(b, "%s%s on http://%s:%d%s", i ? ", " : "",
                      !strcmp(s->type, "rest") ? "REST" : !strcmp(s->type, "mcp") ? "MCP"
                      : s->type, addr, s->port, !strcmp(s->type, "mcp") ? "/mcp" : "");
    }
    cg_buf_printf(b, " (%d workers)", started);
}

static void release_shared(void)
{
    for (size_t i = 0; i < 64; i++) free(g_shared.statuses[i]);
    if (g_shared.gen && g_shared.gen != &g_shared.gen0) generation_unuse(g_shared.gen);
    g_shared.gen = NULL;
    for (size_t i = 0; i < g_shared.n_rest; i++) free(g_shared.rest[i].openapi);
    cg_mcp_shared_free(g_shared.mcp);
    cg_inbound_auth_free(g_shared.auth);
    cg_inbound_auth_free(g_shared.mcp_auth);
    cg_metrics_free(g_shared.metrics);
    cg_feed_free(g_shared.feed);
    cg_script_policy_free(g_shared.scripts);
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
    if (cg_inbound_auth_from_env(&g_shared.auth, aerr, sizeof aerr) != CG_INBOUND_AUTH_OK ||
        (g_shared.n_rest &&
         cg_inbound_auth_declare(&g_shared.auth, spec, &spec->rest[0].auth, aerr, sizeof aerr)) ||
        cg_inbound_auth_from_env(&g_shared.mcp_auth, aerr, sizeof aerr) != CG_INBOUND_AUTH_OK ||
        (g_shared.mcp_adapter && cg_inbound_auth_declare(&g_shared.mcp_auth, spec,
                                                         &g_shared.mcp_adapter->auth, aerr,
                                                         sizeof aerr))) {
        fprintf(stderr, "capgate %s: %s\n", o->command, aerr);
        return -1;
    }
    return 0;
}

/* The shared state every worker reads: metrics, the console's feed, scripting, control,
 * the MCP adapter's sessions. 0, or the exit status (printed). */
static int setup_shared(cg_spec *spec, serve_options *o, cg_mcp_http_options *mo)
{
    g_shared.spec = spec;
    g_shared.metrics = cg_metrics_create();
    g_shared.feed = cg_feed_create(1024);
    if (g_shared.metrics && g_shared.feed)
        cg_metrics_set_call_sink(g_shared.metrics, cg_feed_record, g_shared.feed);
    bool scripting = !o->mcp_only && spec->control && spec->control->has_scripting;
    if (scripting) {
        g_shared.scripts = cg_script_policy_create(spec->control);
        o->engine.script_policy = g_shared.scripts;
    }
    g_shared.control.spec = spec;
    g_shared.control.file = o->file;
    g_shared.control.metrics = g_shared.metrics;
    g_shared.control.scripts = g_shared.scripts;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    g_shared.control.started_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    /* libcurl is initialised on first use (curl_easy_init does it, thread-safely since
     * 7.84): with upstreams that capgate's own client serves, OpenSSL is never loaded,
     * which keeps ~3 MB of library pages out of the resident set. */
    if (!g_shared.metrics || !g_shared.feed || (scripting && !g_shared.scripts)) {
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
        .metrics = g_shared.metrics,
        .auth = g_shared.mcp_auth,
    };
    if (g_shared.mcp_adapter) {
        char merr[256];
        g_shared.mcp = cg_mcp_shared_create(spec, g_shared.mcp_adapter, mo, merr, sizeof merr);
        if (!g_shared.mcp) {
            fprintf(stderr, "capgate %s: %s\n", o->command, merr);
            return 1;
        }
    }
    return 0;
}

/* The "listening" lines once every worker runs. */
static void log_started(const serve_options *o, worker *w0, int started)
{
    const cg_spec *spec = g_shared.spec;
    if (o->mcp_only) {
        const cg_mcp_adapter *a = g_shared.mcp_adapter;
        cg_log(CG_LOG_INFO, "mcp", "listening on http://%s:%d/mcp (%zu tools, %d worker%s)",
               o->listen_addr ? o->listen_addr : a->address ? a->address : "127.0.0.1",
               cg_mcp_shared_port(g_shared.mcp), a->n_tools, started, started == 1 ? "" : "s");
        const cg_inbound_auth *auth = g_shared.mcp_auth;
        if (auth)
            cg_log(CG_LOG_INFO, "mcp", "inbound auth: on, %zu token%s%s%s; every /mcp request "
                   "must present one", cg_inbound_auth_count(auth),
                   cg_inbound_auth_count(auth) == 1 ? "" : "s",
                   cg_inbound_auth_scheme(auth) ? " and the adapter's " : "",
                   cg_inbound_auth_scheme(auth) ? cg_inbound_auth_scheme(auth) : "");
        else
            cg_log(CG_LOG_INFO, "mcp", "inbound auth: off (set %s or %s to require a token)",
                   CG_INBOUND_AUTH_ENV_TOKENS, CG_INBOUND_AUTH_ENV_FILE);
        return;
    }
    cg_buf up = CG_BUF_INIT, where = CG_BUF_INIT;
    for (size_t i = 0; i < spec->n_consumes; i++)
        cg_buf_printf(&up, "%s%s", i ? ", " : "", cg_engine_base_uri(w0->engine, &spec->consumes[i]));
    describe(&where, o, started);
    cg_log(CG_LOG_INFO, "serve", "serving %s: %s, upstream %s", o->file,
           where.data ? where.data : "-", up.data ? up.data : "-");
    if (g_shared.n_rest)
        cg_log(CG_LOG_INFO, "serve", "console on http://%s:%d/console/", g_shared.rest[0].address,
               g_shared.rest[0].port);
    cg_buf_free(&up);
    cg_buf_free(&where);
    if (g_shared.n_rest || g_shared.mcp)
        log_inbound_auth(g_shared.auth, g_shared.n_rest ? g_shared.rest[0].address
                                        : o->listen_addr ? o->listen_addr : "127.0.0.1");
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
            fprintf(stderr, "capgate %s: out of memory building the OpenAPI document\n", o->command);
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

/* Records the outcome /readyz shows as "reload" and logs it. */
static void reload_report(const serve_options *o, unsigned number, const char *error)
{
    json_t *st = json_pack("{s:s, s:I, s:s}", "status", error ? "failed" : "ok", "generation",
                           (json_int_t)number, "file", o->file);
    if (st && error) json_object_set_new(st, "error", json_string(error));
    char *text = st ? json_dumps(st, JSON_COMPACT) : NULL;
    json_decref(st);
    if (text) {
        unsigned slot = g_shared.n_statuses++ % 64;
        atomic_store(&g_shared.reload_status, text);
        free(g_shared.statuses[slot]);
        g_shared.statuses[slot] = text;
    }
    if (error)
        cg_log(CG_LOG_ERROR, o->command, "SIGHUP: %s not applied, still serving generation %u: %s",
               o->file, number, error);
}

/* Can spec replace the running one? Ports, addresses and the set of adapters stay as they
 * were bound; skill and control adapters are not reloaded. NULL, or why not (in buf). */
static const char *reload_refusal(const cg_spec *spec, const serve_options *o, char *buf,
                                  size_t len)
{
    const cg_spec *cur = g_shared.gen->spec;
    if (!o->mcp_only && (spec->n_skill || spec->control || cur->n_skill || cur->control)) {
        snprintf(buf, len, "a spec with a skill or control adapter is reloaded only by a restart");
        return buf;
    }
    const char *unknown = cg_ls_unknown_profile(spec, o->profiles, o->n_profiles);
    if (unknown) {
        snprintf(buf, len, "--profile %s=label-studio: it consumes no API named '%s'", unknown,
                 unknown);
        return buf;
    }
    const cg_mcp_adapter *m = pick_mcp(spec, o);
    if (!m != !g_shared.mcp) {
        snprintf(buf, len, "the MCP adapter %s; adapters come and go only with a restart",
                 m ? "is new" : "is gone");
        return buf;
    }
    if (m && ((o->mcp_port < 0 && m->port != g_shared.mcp_adapter->port) ||
              (!o->listen_addr && strcmp(bind_address(m->address),
                                         bind_address(g_shared.mcp_adapter->address))))) {
        snprintf(buf, len, "the MCP adapter moves to %s:%d; ports and addresses change only "
                 "with a restart", bind_address(m->address), m->port);
        return buf;
    }
    if (o->mcp_only) return NULL;
    size_t n_rest = spec->n_rest < MAX_ADAPTERS ? spec->n_rest : MAX_ADAPTERS;
    if (n_rest != g_shared.n_rest) {
        snprintf(buf, len, "it has %zu REST adapters, not %zu; adapters come and go only with "
                 "a restart", n_rest, g_shared.n_rest);
        return buf;
    }
    for (size_t i = 0; i < n_rest; i++) {
        const cg_rest_adapter *a = &spec->rest[i], *was = g_shared.rest[i].adapter;
        bool port_fixed = i == 0 && o->listen_port >= 0;
        if ((!port_fixed && a->port != was->port) ||
            (!o->listen_addr && strcmp(bind_address(a->address), bind_address(was->address)))) {
            snprintf(buf, len, "the REST adapter %s moves to %s:%d; ports and addresses change "
                     "only with a restart", a->namespace_ ? a->namespace_ : "",
                     bind_address(a->address), a->port);
            return buf;
        }
    }
    return NULL;
}

/* The derived parts of a new generation: OpenAPI documents on the bound ports, the MCP
 * core, whether the tools changed. 0, or -1 (memory). */
static int build_generation(generation *g, const serve_options *o)
{
    for (size_t i = 0; i < g_shared.n_rest; i++) {
        const rest_site *rs = &g_shared.rest[i];
        cg_buf doc = CG_BUF_INIT, url = CG_BUF_INIT;
        cg_buf_printf(&url, strchr(rs->address, ':') ? "http://[%s]:%d" : "http://%s:%d",
                      rs->address, rs->port);
        int rc = url.data ? cg_rest_openapi(g->spec, &g->spec->rest[i], url.data, &doc) : -1;
        cg_buf_free(&url);
        if (rc < 0) {
            cg_buf_free(&doc);
            return -1;
        }
        g->openapi_len[i] = doc.len;
        g->openapi[i] = cg_buf_steal(&doc);
    }
    g->mcp_adapter = g_shared.mcp ? pick_mcp(g->spec, o) : NULL;
    if (g->mcp_adapter) {
        cg_mcp_core_options co = {.page_size = o->page_size};
        if (!(g->mcp_core = cg_mcp_core_create(g->spec, g->mcp_adapter, &co))) return -1;
        json_t *before = cg_mcp_tools_json(g_shared.gen->mcp_adapter);
        json_t *after = cg_mcp_tools_json(g->mcp_adapter);
        g->tools_changed = !before || !after || !json_equal(before, after);
        json_decref(before);
        json_decref(after);
    }
    return 0;
}

/* SIGHUP: re-reads the spec (with its imports and bind files) and, when it loads and fits
 * the ports already bound, hands it to every worker. */
static void reload(serve_options *o, worker *workers, int started)
{
    unsigned current = g_shared.gen->number;
    cg_spec *spec = NULL;
    cg_buf errors = CG_BUF_INIT;
    if (cg_spec_load(o->file, &spec, &errors) != CG_SPEC_OK) {
        /* every cause on its own line in the log; the first in /readyz */
        char *line = errors.data, *nl;
        while (line && (nl = strchr(line, '\n'))) {
            *nl = '\0';
            if (*line) cg_log(CG_LOG_ERROR, o->command, "SIGHUP: %s", line);
            line = nl + 1;
        }
        char first[512];
        snprintf(first, sizeof first, "%s does not load: %s", o->file,
                 errors.data && *errors.data ? errors.data : "cannot read it");
        reload_report(o, current, first);
        cg_buf_free(&errors);
        return;
    }
    cg_buf_free(&errors);
    char why[512];
    if (reload_refusal(spec, o, why, sizeof why)) {
        reload_report(o, current, why);
        cg_spec_free(spec);
        return;
    }
    generation *g = calloc(1, sizeof *g);
    if (g) {
        g->spec = spec;
        g->number = current + 1;
        atomic_init(&g->users, 1);
    }
    if (!g || build_generation(g, o) < 0) {
        reload_report(o, current, "out of memory");
        if (g) {
            atomic_store(&g->users, 1);
            generation_unuse(g);
        } else {
            cg_spec_free(spec);
        }
        return;
    }
    /* one use per worker it is sent to, one as the current generation */
    atomic_fetch_add(&g->users, started);
    for (int i = 0; i < started; i++) {
        generation_unuse(atomic_exchange(&workers[i].next_gen, g));  /* one not yet taken */
        uint64_t one = 1;
        if (write(workers[i].wake_fd, &one, sizeof one) < 0)
            cg_log(CG_LOG_ERROR, o->command, "SIGHUP: cannot wake worker %d", i);
    }
    generation *old = g_shared.gen;
    g_shared.gen = g;
    generation_unuse(old);
    reload_report(o, g->number, NULL);
    size_t routes = 0;
    for (size_t i = 0; i < spec->n_rest; i++)
        for (size_t k = 0; k < spec->rest[i].n_resources; k++) routes += spec->rest[i].resources[k].n_ops;
    cg_log(CG_LOG_INFO, o->command, "SIGHUP: reloaded %s as generation %u: %zu REST operations, "
           "%zu MCP tools%s", o->file, g->number, routes,
           g->mcp_adapter ? g->mcp_adapter->n_tools : 0,
           !g->mcp_adapter ? "" : g->tools_changed ? " (tools changed: list_changed sent)"
                                                   : " (tools unchanged)");
}

int cg_runtime_run(cg_runtime_options *o)
{
    const char *cmd = o->command;
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
    o->engine.upstream.max_in_flight = o->max_upstream / o->threads > 0 ? o->max_upstream / o->threads : 1;
    o->engine.upstream.user_agent = "capgate/" CAPGATE_VERSION;
    g_shared.gen0 = (generation){.spec = spec, .mcp_adapter = g_shared.mcp_adapter, .number = 1};
    atomic_init(&g_shared.gen0.users, 1);
    g_shared.gen = &g_shared.gen0;
    cg_mcp_http_options mo;
    if ((rc = setup_shared(spec, o, &mo)) != 0 || (!o->mcp_only && start_tracing(spec) < 0)) {
        release_shared();
        cg_spec_free(spec);
        return rc ? rc : 1;
    }
    sigset_t signals;
    cg_signals_block(&signals, true);

    worker workers[MAX_THREADS];
    memset(workers, 0, sizeof workers);
    int started = start_workers(workers, o);
    if (started < 0) {
        cg_trace_shutdown(2000);
        release_shared();
        cg_spec_free(spec);
        return 1;
    }
    atomic_store(&g_shared.control.state, 1);
    log_started(o, &workers[0], started);
    int sig;
    while ((sig = cg_signals_wait(&signals)) == SIGHUP) reload(o, workers, started);
    atomic_store(&g_shared.control.state, 2);
    cg_log(CG_LOG_INFO, cmd, "%s: draining calls in flight, then exiting", cg_signals_name(sig));
    for (int i = 0; i < started; i++) cg_loop_request_stop(workers[i].loop);
    for (int i = 0; i < started; i++) pthread_join(workers[i].thread, NULL);
    cg_log(CG_LOG_INFO, cmd, "stopped");
    for (int i = 0; i < started; i++) worker_finish(&workers[i]);
    if (!o->mcp_only) cg_trace_shutdown(2000);    /* after the workers: their last spans are queued */
    release_shared();
    cg_spec_free(spec);
    curl_global_cleanup();
    return 0;
}
