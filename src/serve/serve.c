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
#include <unistd.h>

#include "common/log.h"
#include "console/console.h"
#include "console/feed.h"
#include "engine/call.h"
#include "engine/inbound_auth.h"
#include "engine/profile_label_studio.h"
#include "engine/loop.h"
#include "engine/metrics.h"
#include "mcp/mcp.h"
#include "rest/rest.h"
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
} serve_options;

typedef struct worker {
    int index;
    pthread_t thread;
    cg_loop *loop;
    cg_engine *engine;
    cg_rest *rest;
    cg_mcp_http *mcp;           /* NULL when the spec has no HTTP MCP adapter */
    cg_console *console;        /* /console on the REST adapter's listener */
    uint64_t drain_deadline;
    const serve_options *opt;
} worker;

static void usage(FILE *out)
{
    fprintf(out,
"usage: capgate serve [OPTIONS] [FILE]\n"
"\n"
"Serves the capability FILE's REST adapter and forwards each call to the API it consumes.\n"
"FILE defaults to " DEFAULT_SPEC ".\n"
"\n"
"options:\n"
"  --listen ADDR[:PORT]   address and port (default 127.0.0.1 and the spec's port; 0 = any)\n"
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

typedef struct shared {
    const cg_spec *spec;
    const cg_rest_adapter *adapter;
    cg_metrics *metrics;
    char *openapi;
    size_t openapi_len;
    const char *address;
    int port;
    cg_mcp_shared *mcp;         /* the MCP adapter's shared state, or NULL */
    cg_inbound_auth *auth;      /* REST: inbound API tokens and the adapter's declared
                                 * authentication, or NULL (auth off) */
    cg_inbound_auth *mcp_auth;  /* the same for the MCP adapter */
    cg_feed *feed;              /* recent calls, for the console (src/console) */
} shared;

static shared g_shared; /* set once before the workers start; read-only afterwards */

static void drain_check(cg_loop *loop, void *arg)
{
    worker *w = arg;
    if ((cg_rest_active(w->rest) == 0 && cg_engine_pending(w->engine) == 0 &&
         (!w->mcp || cg_mcp_http_active(w->mcp) == 0)) ||
        cg_loop_now(loop) >= w->drain_deadline) {
        cg_loop_break(loop);
        return;
    }
    cg_loop_timer_add(loop, 20, drain_check, w);
}

static void on_stop_requested(cg_loop *loop, void *arg)
{
    worker *w = arg;
    cg_rest_quiesce(w->rest);
    cg_mcp_http_quiesce(w->mcp);
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
    cg_console_options co = {
        .spec = g_shared.spec,
        .rest = g_shared.adapter,
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
    cg_rest_options ro = {
        .spec = g_shared.spec,
        .adapter = g_shared.adapter,
        .address = g_shared.address,
        .port = g_shared.port,
        .max_body = w->opt->max_body,
        .connection_timeout_s = w->opt->idle_timeout_s,
        .access_log = w->opt->access_log,
        .openapi = g_shared.openapi,
        .openapi_len = g_shared.openapi_len,
        .metrics = g_shared.metrics,
        .auth = g_shared.auth,
        .console = w->console,
    };
    w->rest = cg_rest_start(w->engine, &ro, err, errlen);
    if (!w->rest) return -1;
    cg_loop_on_stop(w->loop, on_stop_requested, w);
    return 0;
}

static void worker_finish(worker *w)
{
    cg_rest_stop(w->rest);      /* ends the console's requests too */
    cg_mcp_http_stop(w->mcp);   /* after the loop has returned: see mcp.h */
    w->mcp = NULL;
    cg_console_stop(w->console);
    w->console = NULL;
    cg_engine_free(w->engine);
    cg_loop_free(w->loop);
    w->rest = NULL;
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

int cg_serve_main(int argc, char **argv)
{
    serve_options o = {
        .listen_port = -1,
        .mcp_port = -1,
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
    if (spec->n_rest == 0) {
        fprintf(stderr, "capgate serve: %s exposes no REST adapter\n", o.file);
        cg_spec_free(spec);
        return 2;
    }
    char aerr[320];
    if (cg_inbound_auth_from_env(&g_shared.auth, aerr, sizeof aerr) != CG_INBOUND_AUTH_OK ||
        cg_inbound_auth_declare(&g_shared.auth, spec, &spec->rest[0].auth, aerr, sizeof aerr) ||
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
    g_shared.adapter = &spec->rest[0];
    g_shared.address = o.listen_addr ? o.listen_addr
                       : g_shared.adapter->address ? g_shared.adapter->address : "127.0.0.1";
    g_shared.port = o.listen_port >= 0 ? o.listen_port : g_shared.adapter->port;
    g_shared.metrics = cg_metrics_create();
    g_shared.feed = cg_feed_create(1024);
    if (g_shared.metrics && g_shared.feed)
        cg_metrics_set_call_sink(g_shared.metrics, cg_feed_record, g_shared.feed);
    /* libcurl is initialised on first use (curl_easy_init does it, thread-safely since
     * 7.84): with upstreams that capgate's own client serves, OpenSSL is never loaded,
     * which keeps ~3 MB of library pages out of the resident set. */
    if (!g_shared.metrics || !g_shared.feed) {
        fprintf(stderr, "capgate serve: out of memory\n");
        cg_feed_free(g_shared.feed);
        cg_metrics_free(g_shared.metrics);
        cg_inbound_auth_free(g_shared.auth);
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
            cg_inbound_auth_free(g_shared.auth);
            cg_inbound_auth_free(g_shared.mcp_auth);
            cg_metrics_free(g_shared.metrics);
            cg_feed_free(g_shared.feed);
            cg_spec_free(spec);
            return 1;
        }
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
        if (i == 0) {
            /* a port of 0 is now a real port: the other workers share it */
            g_shared.port = cg_rest_port(workers[0].rest);
            cg_buf doc = CG_BUF_INIT, url = CG_BUF_INIT;
            cg_buf_printf(&url, strchr(g_shared.address, ':') ? "http://[%s]:%d" : "http://%s:%d",
                          g_shared.address, g_shared.port);
            if (cg_rest_openapi(spec, g_shared.adapter, url.data, &doc) < 0) {
                fprintf(stderr, "capgate serve: out of memory building the OpenAPI document\n");
                worker_finish(&workers[0]);
                cg_buf_free(&url);
                cg_buf_free(&doc);
                status = 1;
                break;
            }
            g_shared.openapi_len = doc.len;
            g_shared.openapi = cg_buf_steal(&doc);
            cg_buf_free(&url);
            cg_rest_set_openapi(workers[0].rest, g_shared.openapi, g_shared.openapi_len);
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
        cg_buf up = CG_BUF_INIT;
        for (size_t i = 0; i < spec->n_consumes; i++)
            cg_buf_printf(&up, "%s%s", i ? ", " : "",
                          cg_engine_base_uri(workers[0].engine, &spec->consumes[i]));
        char mcp_url[128] = "";
        if (g_shared.mcp)
            snprintf(mcp_url, sizeof mcp_url, ", MCP on http://%s:%d/mcp", g_shared.address,
                     cg_mcp_shared_port(g_shared.mcp));
        cg_log(CG_LOG_INFO, "serve",
               "serving %s: REST on http://%s:%d%s (%d workers), upstream %s", o.file,
               g_shared.address, g_shared.port, mcp_url, started, up.data ? up.data : "-");
        cg_log(CG_LOG_INFO, "serve", "console on http://%s:%d/console/", g_shared.address,
               g_shared.port);
        cg_buf_free(&up);
        log_inbound_auth(g_shared.auth, g_shared.address);
        int sig = 0;
        sigwait(&stop_signals, &sig);
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
    free(g_shared.openapi);
    cg_mcp_shared_free(g_shared.mcp);
    cg_inbound_auth_free(g_shared.auth);
    cg_inbound_auth_free(g_shared.mcp_auth);
    cg_metrics_free(g_shared.metrics);
    cg_feed_free(g_shared.feed);
    cg_spec_free(spec);
    curl_global_cleanup();
    return status;
}
