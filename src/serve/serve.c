/*
 * serve.c — `capgate serve`: options, worker threads, signals and the drain.
 *
 * The process runs N workers (default: one per core). Each worker is a thread with its own
 * loop, engine (upstream client + token cache) and adapter servers, all listening on the
 * same ports through SO_REUSEPORT, so the kernel spreads connections over the workers and
 * nothing is handed from one thread to another (reference/c-dependencies.md §5). Worker 0
 * is set up first on the main thread so that a port of 0 becomes a real port the others
 * reuse. The main thread then only waits for SIGTERM/SIGINT (sigwait; every thread blocks
 * them) and asks each loop to stop: a worker stops accepting, lets its requests in flight
 * finish (at most --drain-timeout), then closes its connections and exits.
 *
 * The MCP adapter joins a worker the same way the REST adapter does: start its server on
 * the worker's engine in worker_start, quiesce it in on_stop_requested, count its active
 * requests in drain_check, and stop it in worker_finish.
 */
#include "serve/serve.h"

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

#include "common/log.h"
#include "console/console.h"
#include "console/feed.h"
#include "engine/call.h"
#include "engine/inbound_auth.h"
#include "engine/profile_label_studio.h"
#include "net/loop.h"
#include "engine/metrics.h"
#include "mcp/mcp.h"
#include "rest/rest.h"
#include "skill/skill.h"
#include "control/control.h"
#include "engine/script_policy.h"
#include "engine/trace.h"
#include "spec/spec.h"

#define DEFAULT_SPEC "capabilities/label-studio-ml.yaml"
#define MAX_THREADS 64
#define MAX_URIS 16
#define MAX_MCP_ALLOW 16

typedef struct serve_options {
    const char *file;
    const char *listen_addr;    /* NULL: the adapter's address, else 127.0.0.1 */
    char listen_buf[256];       /* --listen's value, split in place */
    int listen_port;            /* -1: the adapter's port */
    int threads;
    size_t max_body;
    unsigned idle_timeout_s;
    int max_upstream;
    long drain_timeout_ms;
    bool access_log;
    cg_engine_upstream_uri uris[MAX_URIS];
    size_t n_uris;
    const char *profiles[MAX_URIS];     /* --profile NS=label-studio namespaces */
    size_t n_profiles;
    cg_engine_options engine;
    /* MCP adapter (src/mcp) */
    bool no_mcp;
    int mcp_port;               /* -1: the MCP adapter's port */
    const char *mcp_allow_hosts[MAX_MCP_ALLOW];
    size_t n_mcp_allow_hosts;
    const char *mcp_allow_origins[MAX_MCP_ALLOW];
    size_t n_mcp_allow_origins;
    int skill_port;             /* -1: the first skill adapter's port */
    int control_port;           /* -1: the control adapter's port */
} serve_options;

#define MAX_ADAPTERS 8

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
} worker;

static void usage(FILE *out)
{
    fprintf(out,
"usage: capgate serve [OPTIONS] [FILE]\n"
"\n"
"Serves the capability FILE's exposed adapters (REST, MCP over HTTP, skill, control) and\n"
"forwards each call to the API it consumes.\n"
"FILE defaults to " DEFAULT_SPEC ".\n"
"\n"
"options:\n"
"  --listen ADDR[:PORT]   REST (and MCP) address, and the first REST adapter's port\n"
"                         (default: the spec's address or 127.0.0.1, the spec's port; 0 = any)\n"
"  --threads N            worker threads (default: number of cores)\n"
"  --base-uri URL         send every consumed API's calls to URL instead of its baseUri\n"
"  --upstream NS=URL      the same for the consumed API with namespace NS (repeatable)\n"
"  --connect-timeout MS   upstream connect timeout (default 3000)\n"
"  --timeout MS           upstream total timeout (default 30000)\n"
"  --long-timeout MS      Label Studio profile: predict/train/interactive operations (default 300000)\n"
"  --profile NS=label-studio  apply the Label Studio profile to consumed namespace NS too (it\n"
"                         applies to namespaces starting with label-studio; repeatable)\n"
"  --retries N            retries of idempotent calls on connection failure (default 2)\n"
"  --max-upstream N       concurrent upstream calls, all workers together (default 256)\n"
"  --max-body BYTES       request body limit, suffix k or m allowed (default 10m)\n"
"  --idle-timeout S       REST and MCP: close a connection idle (or sending its headers) this long (default 60)\n"
"  --drain-timeout MS     how long SIGTERM waits for calls in flight (default 30000)\n"
"  --upstream-client C    native (default): capgate's own HTTP/1.1 client for http:// to an IP\n"
"                         or localhost, libcurl otherwise; curl: libcurl for everything\n"
"  --no-access-log        no per-request log line on stderr\n"
"  --mcp-port N           the MCP adapter's port (default: the spec's; 0 = any)\n"
"  --mcp-allow-host H     MCP: also accept Host H (name, name:port or *; repeatable)\n"
"  --mcp-allow-origin O   MCP: also accept Origin O (e.g. https://app.example.com, or *)\n"
"  --no-mcp               do not serve the spec's MCP adapter\n"
"  --skill-port N         the first skill adapter's port (default: the spec's; 0 = any)\n"
"  --control-port N       the control adapter's port (default: the spec's; 0 = any)\n"
"\n"
"environment:\n"
"  LABEL_STUDIO_URL       base URI for consumed APIs under the Label Studio profile\n"
"  LABEL_STUDIO_API_KEY   the shipped spec's credential: a legacy key or a personal access token\n"
"  CAPGATE_API_TOKENS     inbound auth: comma-separated tokens callers must present, as\n"
"                         'Authorization: Bearer T' or 'X-Capgate-Token: T' (unset: no auth)\n"
"  CAPGATE_API_TOKENS_FILE  the same, one token per line (# comments and blank lines ignored)\n"
"  CAPGATE_SESSION_SECRET MCP: the session ids' signing key; instances sharing it continue\n"
"                         each other's sessions (docs/scale-out.md)\n"
"  CAPGATE_SESSION_MAX_AGE  MCP: seconds after issue another instance still accepts an id (86400)\n"
"  CAPGATE_LOG_LEVEL      debug, info, warn or error\n");
}

/* Strict positive integer option. */
static bool parse_long(const char *s, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max) return false;
    *out = v;
    return true;
}

static bool parse_size(const char *s, size_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || s[0] == '-') return false;
    unsigned long long mult = 1;
    if (!strcasecmp(end, "k")) mult = 1024;
    else if (!strcasecmp(end, "m")) mult = 1024 * 1024;
    else if (*end) return false;
    if (v == 0 || v > (1ULL << 40) / mult) return false;
    *out = (size_t)(v * mult);
    return true;
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
        if (!parse_long(port, 0, 65535, &p)) return false;
        o->listen_port = (int)p;
    }
    return true;
}

static int parse_args(int argc, char **argv, serve_options *o)
{
    long v;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *val = i + 1 < argc ? argv[i + 1] : NULL;
#define NEED_VALUE() do { if (!val) { fprintf(stderr, "capgate serve: %s needs a value\n", a); return -1; } i++; } while (0)
#define BAD_VALUE() do { fprintf(stderr, "capgate serve: bad value for %s: '%s'\n", a, val); return -1; } while (0)
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) {
            usage(stdout);
            return 1;
        } else if (!strcmp(a, "--listen")) {
            NEED_VALUE();
            if (!parse_listen(val, o)) BAD_VALUE();
        } else if (!strcmp(a, "--threads")) {
            NEED_VALUE();
            if (!parse_long(val, 1, MAX_THREADS, &v)) BAD_VALUE();
            o->threads = (int)v;
        } else if (!strcmp(a, "--profile")) {
            NEED_VALUE();
            char perr[160];
            if (o->n_profiles == MAX_URIS ||
                cg_ls_parse_profile_option(argv[i], &o->profiles[o->n_profiles], perr, sizeof perr) < 0) {
                fprintf(stderr, "capgate serve: %s\n", o->n_profiles == MAX_URIS ? "too many --profile" : perr);
                return -1;
            }
            o->n_profiles++;
        } else if (!strcmp(a, "--base-uri") || !strcmp(a, "--upstream")) {
            NEED_VALUE();
            if (o->n_uris == MAX_URIS) BAD_VALUE();
            cg_engine_upstream_uri *u = &o->uris[o->n_uris];
            const char *uri = val;
            if (!strcmp(a, "--upstream")) {
                char *eq = strchr(argv[i], '=');
                if (!eq || eq == argv[i]) BAD_VALUE();
                *eq = '\0';
                u->ns = argv[i];
                uri = eq + 1;
            }
            if (strncmp(uri, "http://", 7) && strncmp(uri, "https://", 8)) BAD_VALUE();
            u->uri = uri;
            o->n_uris++;
        } else if (!strcmp(a, "--connect-timeout")) {
            NEED_VALUE();
            if (!parse_long(val, 1, 3600000, &v)) BAD_VALUE();
            o->engine.connect_timeout_ms = v;
        } else if (!strcmp(a, "--timeout")) {
            NEED_VALUE();
            if (!parse_long(val, 1, 86400000, &v)) BAD_VALUE();
            o->engine.timeout_ms = v;
        } else if (!strcmp(a, "--long-timeout")) {
            NEED_VALUE();
            if (!parse_long(val, 1, 86400000, &v)) BAD_VALUE();
            o->engine.long_timeout_ms = v;
        } else if (!strcmp(a, "--retries")) {
            NEED_VALUE();
            if (!parse_long(val, 0, 10, &v)) BAD_VALUE();
            o->engine.upstream.retries = (int)v;
        } else if (!strcmp(a, "--max-upstream")) {
            NEED_VALUE();
            if (!parse_long(val, 1, 100000, &v)) BAD_VALUE();
            o->max_upstream = (int)v;
        } else if (!strcmp(a, "--max-body")) {
            NEED_VALUE();
            if (!parse_size(val, &o->max_body)) BAD_VALUE();
        } else if (!strcmp(a, "--idle-timeout")) {
            NEED_VALUE();
            if (!parse_long(val, 1, 86400, &v)) BAD_VALUE();
            o->idle_timeout_s = (unsigned)v;
        } else if (!strcmp(a, "--drain-timeout")) {
            NEED_VALUE();
            if (!parse_long(val, 0, 3600000, &v)) BAD_VALUE();
            o->drain_timeout_ms = v;
        } else if (!strcmp(a, "--upstream-client")) {
            NEED_VALUE();
            if (!strcmp(val, "native")) o->engine.upstream.native_http = true;
            else if (!strcmp(val, "curl")) o->engine.upstream.native_http = false;
            else BAD_VALUE();
        } else if (!strcmp(a, "--no-access-log")) {
            o->access_log = false;
        } else if (!strcmp(a, "--no-mcp")) {
            o->no_mcp = true;
        } else if (!strcmp(a, "--mcp-port")) {
            NEED_VALUE();
            if (!parse_long(val, 0, 65535, &v)) BAD_VALUE();
            o->mcp_port = (int)v;
        } else if (!strcmp(a, "--skill-port") || !strcmp(a, "--control-port")) {
            NEED_VALUE();
            if (!parse_long(val, 0, 65535, &v)) BAD_VALUE();
            *(a[2] == 's' ? &o->skill_port : &o->control_port) = (int)v;
        } else if (!strcmp(a, "--mcp-allow-host")) {
            NEED_VALUE();
            if (o->n_mcp_allow_hosts == MAX_MCP_ALLOW) BAD_VALUE();
            o->mcp_allow_hosts[o->n_mcp_allow_hosts++] = val;
        } else if (!strcmp(a, "--mcp-allow-origin")) {
            NEED_VALUE();
            if (o->n_mcp_allow_origins == MAX_MCP_ALLOW) BAD_VALUE();
            o->mcp_allow_origins[o->n_mcp_allow_origins++] = val;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "capgate serve: unknown option '%s' (see --help)\n", a);
            return -1;
        } else if (o->file) {
            fprintf(stderr, "capgate serve: one capability file only ('%s' and '%s')\n", o->file, a);
            return -1;
        } else {
            o->file = a;
        }
#undef NEED_VALUE
#undef BAD_VALUE
    }
    return 0;
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
    cg_mcp_shared *mcp;         /* the MCP adapter's shared state, or NULL */
    cg_inbound_auth *auth;      /* REST: inbound API tokens and the first REST adapter's
                                 * declared authentication, or NULL (auth off) */
    cg_inbound_auth *mcp_auth;  /* the same for the MCP adapter */
    cg_feed *feed;              /* recent calls, for the console (src/console) */
    cg_script_policy *scripts;  /* the control adapter's scripting settings, or NULL */
} shared;

static shared g_shared; /* set once before the workers start; read-only afterwards */

static int worker_active(const worker *w)
{
    int n = cg_engine_pending(w->engine) + (w->mcp ? cg_mcp_http_active(w->mcp) : 0);
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

static int worker_start(worker *w, char *err, size_t errlen)
{
    w->loop = cg_loop_create(err, errlen);
    if (!w->loop) return -1;
    w->engine = cg_engine_create(w->loop, g_shared.spec, &w->opt->engine, g_shared.metrics, err,
                                 errlen);
    if (!w->engine) return -1;
    if (g_shared.mcp && !(w->mcp = cg_mcp_http_start(w->engine, g_shared.mcp, err, errlen)))
        return -1;
    if (g_shared.n_rest) {
        cg_console_options co = {
            .spec = g_shared.spec,
            .rest = g_shared.rest[0].adapter,
            .mcp = g_shared.mcp ? &g_shared.spec->mcp[0] : NULL,
            .feed = g_shared.feed,
            .metrics = g_shared.metrics,
            .auth = cg_inbound_auth_count(g_shared.auth) > 0,
            .mcp_port = g_shared.mcp ? cg_mcp_shared_port(g_shared.mcp) : 0,
        };
        if (!(w->console = cg_console_start(w->engine, &co))) {
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
    if (cg_loop_run(w->loop) < 0) cg_log(CG_LOG_ERROR, "serve", "worker %d: epoll failed", w->index);
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

/* Which adapters this process serves, where, and with which ports (before binding).
 * 0, or -1 with a message on stderr. */
static int plan_adapters(const cg_spec *spec, const serve_options *o)
{
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
    bool mcp_http = !o->no_mcp && spec->n_mcp && !spec->mcp[0].stdio;
    if (!g_shared.n_rest && !g_shared.n_skill && !spec->control && !mcp_http) {
        fprintf(stderr, "capgate serve: %s exposes no adapter to serve over HTTP%s\n", o->file,
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
                                      o->mcp_port >= 0 ? o->mcp_port : spec->mcp[0].port};
    for (size_t i = 0; i < g_shared.n_skill; i++)
        used[n++] = (port_use){"a skill adapter", g_shared.skill[i].port};
    if (spec->control) used[n++] = (port_use){"the control adapter", g_shared.control_port};
    for (size_t i = 0; i < n; i++)
        for (size_t k = i + 1; k < n; k++)
            if (used[i].port > 0 && used[i].port == used[k].port) {
                fprintf(stderr, "capgate serve: %s and %s both use port %d\n", used[i].what,
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
        g_shared.sites[n++] = (cg_control_site){"mcp", g_shared.spec->mcp[0].namespace_,
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
                                                         : g_shared.spec->mcp[0].address);
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
    for (size_t i = 0; i < g_shared.n_rest; i++) free(g_shared.rest[i].openapi);
    cg_mcp_shared_free(g_shared.mcp);
    cg_inbound_auth_free(g_shared.auth);
    cg_inbound_auth_free(g_shared.mcp_auth);
    cg_metrics_free(g_shared.metrics);
    cg_feed_free(g_shared.feed);
    cg_script_policy_free(g_shared.scripts);
}

int cg_serve_main(int argc, char **argv)
{
    serve_options o = {
        .listen_port = -1,
        .mcp_port = -1,
        .skill_port = -1,
        .control_port = -1,
        .max_body = 10u << 20,
        .max_upstream = 256,
        .drain_timeout_ms = 30000,
        .access_log = true,
        .engine.upstream.retries = 2,
        .engine.upstream.native_http = true,
    };
    int rc = parse_args(argc, argv, &o);
    if (rc) return rc > 0 ? 0 : 2;
    if (!o.file) o.file = DEFAULT_SPEC;
    if (!o.threads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        o.threads = n < 1 ? 1 : n > MAX_THREADS ? MAX_THREADS : (int)n;
    }

    cg_spec *spec = NULL;
    cg_buf errors = CG_BUF_INIT;
    cg_spec_result sr = cg_spec_load(o.file, &spec, &errors);
    if (sr != CG_SPEC_OK) {
        fprintf(stderr, "%s", errors.len ? errors.data : "");
        fprintf(stderr, "capgate serve: cannot load %s\n", o.file);
        cg_buf_free(&errors);
        return sr == CG_SPEC_EIO ? 1 : 2;
    }
    cg_buf_reset(&errors);
    if (cg_spec_check_binds(spec, &errors) > 0) {
        char *line = errors.data, *nl;
        while (line && (nl = strchr(line, '\n'))) {
            *nl = '\0';
            cg_log(CG_LOG_WARN, "serve", "%s (calls need the caller's Authorization header)", line);
            line = nl + 1;
        }
    }
    cg_buf_free(&errors);
    if (plan_adapters(spec, &o) < 0) {
        cg_spec_free(spec);
        return 2;
    }
    char aerr[320];
    if (cg_inbound_auth_from_env(&g_shared.auth, aerr, sizeof aerr) != CG_INBOUND_AUTH_OK ||
        (spec->n_rest &&
         cg_inbound_auth_declare(&g_shared.auth, spec, &spec->rest[0].auth, aerr, sizeof aerr)) ||
        cg_inbound_auth_from_env(&g_shared.mcp_auth, aerr, sizeof aerr) != CG_INBOUND_AUTH_OK ||
        (spec->n_mcp && cg_inbound_auth_declare(&g_shared.mcp_auth, spec, &spec->mcp[0].auth,
                                                aerr, sizeof aerr))) {
        fprintf(stderr, "capgate serve: %s\n", aerr);
        cg_inbound_auth_free(g_shared.auth);
        cg_inbound_auth_free(g_shared.mcp_auth);
        cg_spec_free(spec);
        return 2;
    }
    const char *unknown = cg_ls_unknown_profile(spec, o.profiles, o.n_profiles);
    if (unknown) {
        fprintf(stderr, "capgate serve: --profile %s=label-studio: %s consumes no API named '%s'\n",
                unknown, o.file, unknown);
        cg_inbound_auth_free(g_shared.auth);
        cg_inbound_auth_free(g_shared.mcp_auth);
        cg_spec_free(spec);
        return 2;
    }
    label_studio_url(spec, &o);
    o.engine.uris = o.uris;
    o.engine.n_uris = o.n_uris;
    o.engine.label_studio_ns = o.profiles;
    o.engine.n_label_studio_ns = o.n_profiles;
    o.engine.upstream.max_in_flight = o.max_upstream / o.threads > 0 ? o.max_upstream / o.threads : 1;
    o.engine.upstream.user_agent = "capgate/" CAPGATE_VERSION;

    g_shared.spec = spec;
    g_shared.metrics = cg_metrics_create();
    g_shared.feed = cg_feed_create(1024);
    if (g_shared.metrics && g_shared.feed)
        cg_metrics_set_call_sink(g_shared.metrics, cg_feed_record, g_shared.feed);
    if (spec->control && spec->control->has_scripting) {
        g_shared.scripts = cg_script_policy_create(spec->control);
        o.engine.script_policy = g_shared.scripts;
    }
    g_shared.control.spec = spec;
    g_shared.control.file = o.file;
    g_shared.control.metrics = g_shared.metrics;
    g_shared.control.scripts = g_shared.scripts;
    {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        g_shared.control.started_ms = (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
    }
    /* libcurl is initialised on first use (curl_easy_init does it, thread-safely since
     * 7.84): with upstreams that capgate's own client serves, OpenSSL is never loaded,
     * which keeps ~3 MB of library pages out of the resident set. */
    if (!g_shared.metrics || !g_shared.feed || (spec->control && spec->control->has_scripting && !g_shared.scripts)) {
        fprintf(stderr, "capgate serve: out of memory\n");
        release_shared();
        cg_spec_free(spec);
        return 1;
    }
    cg_mcp_http_options mo = {
        .address = o.listen_addr,
        .port = o.mcp_port,
        .allow_hosts = o.mcp_allow_hosts,
        .n_allow_hosts = o.n_mcp_allow_hosts,
        .allow_origins = o.mcp_allow_origins,
        .n_allow_origins = o.n_mcp_allow_origins,
        .connection_timeout_s = o.idle_timeout_s,
        .access_log = o.access_log,
        .metrics = g_shared.metrics,
        .auth = g_shared.mcp_auth,
    };
    if (!o.no_mcp && spec->n_mcp && !spec->mcp[0].stdio) {
        char merr[256];
        g_shared.mcp = cg_mcp_shared_create(spec, &spec->mcp[0], &mo, merr, sizeof merr);
        if (!g_shared.mcp) {
            fprintf(stderr, "capgate serve: %s\n", merr);
            release_shared();
            cg_spec_free(spec);
            return 1;
        }
    }
    if (start_tracing(spec) < 0) {
        release_shared();
        cg_spec_free(spec);
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    sigset_t stop_signals;
    sigemptyset(&stop_signals);
    sigaddset(&stop_signals, SIGTERM);
    sigaddset(&stop_signals, SIGINT);
    pthread_sigmask(SIG_BLOCK, &stop_signals, NULL);

    worker workers[MAX_THREADS];
    memset(workers, 0, sizeof workers);
    char err[512] = "";
    int started = 0, status = 0;
    for (int i = 0; i < o.threads; i++) {
        workers[i].index = i;
        workers[i].opt = &o;
        if (worker_start(&workers[i], err, sizeof err) < 0) {
            fprintf(stderr, "capgate serve: %s\n", err);
            worker_finish(&workers[i]);
            status = 1;
            break;
        }
        if (i == 0 && settle_ports(&workers[0]) < 0) {
            /* a port of 0 is now a real port: the other workers share it */
            fprintf(stderr, "capgate serve: out of memory building the OpenAPI document\n");
            worker_finish(&workers[0]);
            status = 1;
            break;
        }
        started++;
    }
    if (status == 0) {
        for (int i = 0; i < started; i++)
            if (pthread_create(&workers[i].thread, NULL, worker_main, &workers[i]) != 0) {
                fprintf(stderr, "capgate serve: cannot start worker thread %d\n", i);
                started = i;
                status = 1;
                break;
            }
    }
    if (status == 0) {
        atomic_store(&g_shared.control.state, 1);
        cg_buf up = CG_BUF_INIT, where = CG_BUF_INIT;
        for (size_t i = 0; i < spec->n_consumes; i++)
            cg_buf_printf(&up, "%s%s", i ? ", " : "",
                          cg_engine_base_uri(workers[0].engine, &spec->consumes[i]));
        describe(&where, &o, started);
        cg_log(CG_LOG_INFO, "serve", "serving %s: %s, upstream %s", o.file,
               where.data ? where.data : "-", up.data ? up.data : "-");
        if (g_shared.n_rest)
            cg_log(CG_LOG_INFO, "serve", "console on http://%s:%d/console/",
                   g_shared.rest[0].address, g_shared.rest[0].port);
        cg_buf_free(&up);
        cg_buf_free(&where);
        if (g_shared.n_rest || g_shared.mcp)
            log_inbound_auth(g_shared.auth, g_shared.n_rest ? g_shared.rest[0].address
                                                            : o.listen_addr ? o.listen_addr
                                                                            : "127.0.0.1");
        int sig = 0;
        sigwait(&stop_signals, &sig);
        atomic_store(&g_shared.control.state, 2);
        cg_log(CG_LOG_INFO, "serve", "%s: draining calls in flight, then exiting",
               sig == SIGTERM ? "SIGTERM" : "SIGINT");
        for (int i = 0; i < started; i++) cg_loop_request_stop(workers[i].loop);
        for (int i = 0; i < started; i++) pthread_join(workers[i].thread, NULL);
        cg_log(CG_LOG_INFO, "serve", "stopped");
    } else {
        for (int i = 0; i < started; i++)
            if (workers[i].thread) {
                cg_loop_request_stop(workers[i].loop);
                pthread_join(workers[i].thread, NULL);
            }
    }
    for (int i = 0; i < started; i++) worker_finish(&workers[i]);
    cg_trace_shutdown(2000);    /* after the workers: their last spans are queued */
    release_shared();
    cg_spec_free(spec);
    curl_global_cleanup();
    return status;
}
