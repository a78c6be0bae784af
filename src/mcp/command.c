/*
 * command.c — `capgate mcp`: one spec's MCP adapter on its own, over HTTP or stdio.
 *
 * `capgate serve` runs the MCP adapter next to the REST adapter on the same loops; this
 * command is for desktop clients (--stdio) and for running or testing the MCP adapter
 * alone. It uses the same pieces serve does: one loop + engine + Streamable HTTP endpoint
 * per worker thread, one cg_mcp_shared for all of them. Signals are taken by the main
 * thread with sigwait (workers block them), which then asks every loop to stop.
 */
#include "mcp/mcp.h"

#include <curl/curl.h>
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "engine/profile_label_studio.h"

#define MAX_LIST 32

typedef struct worker {
    cg_loop *loop;
    cg_engine *engine;
    cg_mcp_http *http;
    pthread_t thread;
    bool running;
} worker;

static void usage(FILE *out)
{
    fprintf(out,
        "usage: capgate mcp [OPTIONS] [FILE]\n"
        "       capgate mcp --stdio [OPTIONS] [FILE]\n\n"
        "Serves the MCP tools of capability FILE (default capabilities/label-studio-ml.yaml)\n"
        "over Streamable HTTP at http://ADDRESS:PORT/mcp, or over stdin/stdout with --stdio.\n\n"
        "  --stdio               speak MCP on stdin/stdout (for desktop clients)\n"
        "  --port N              listen on N (default: the spec's port; 0 = any free port)\n"
        "  --address IP          bind to IP (default: the spec's address, else 127.0.0.1)\n"
        "  --workers N           worker threads (default 1)\n"
        "  --upstream URL        base URI of every consumed API (default: the spec's baseUri;\n"
        "                        $LABEL_STUDIO_URL for APIs under the Label Studio profile)\n"
        "  --profile NS=label-studio  apply the Label Studio profile to consumed namespace NS\n"
        "                        too (it applies to namespaces starting with label-studio)\n"
        "  --allow-host H        also accept Host H (name = any port, name:port, or *)\n"
        "  --allow-origin O      also accept Origin O (e.g. https://app.example.com, or *)\n"
        "  --page-size N         tools/list page size (default: all tools on one page)\n"
        "  --session-idle S      end sessions idle for S seconds (default 1800)\n"
        "  --max-sessions N      keep at most N sessions (default 10000)\n"
        "  --heartbeat S         SSE heartbeat interval in seconds (default 15)\n"
        "  --adapter NAMESPACE   which MCP adapter of the spec (default: the first)\n"
        "  --retries N           retries of idempotent calls on connection failure (default 2,\n"
        "                        as capgate serve)\n"
        "  --upstream-client C   native (default, as capgate serve): capgate's own HTTP/1.1\n"
        "                        client for http:// to an IP; curl: libcurl for everything\n"
        "  --idle-timeout S      close a connection idle (or sending its headers) this long\n"
        "                        (default 60)\n"
        "  --access-log          one log line per HTTP request\n\n"
        "environment (HTTP only; stdio is local and needs no token):\n"
        "  CAPGATE_API_TOKENS      comma-separated tokens every /mcp request must present, as\n"
        "                          'Authorization: Bearer T' or 'X-Capgate-Token: T' (unset: no auth)\n"
        "  CAPGATE_API_TOKENS_FILE the same, one token per line (# comments, blank lines ignored)\n");
}

static bool parse_uint(const char *s, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < 0 || v > max) return false;
    *out = v;
    return true;
}

static void *run_worker(void *arg)
{
    worker *w = arg;
    cg_loop_run(w->loop);
    return NULL;
}

int cg_mcp_main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"stdio", no_argument, NULL, 's'},        {"port", required_argument, NULL, 'p'},
        {"address", required_argument, NULL, 'a'}, {"workers", required_argument, NULL, 'w'},
        {"upstream", required_argument, NULL, 'u'}, {"allow-host", required_argument, NULL, 'H'},
        {"allow-origin", required_argument, NULL, 'O'}, {"page-size", required_argument, NULL, 'P'},
        {"session-idle", required_argument, NULL, 'i'}, {"max-sessions", required_argument, NULL, 'm'},
        {"heartbeat", required_argument, NULL, 'b'}, {"adapter", required_argument, NULL, 'n'},
        {"access-log", no_argument, NULL, 'l'}, {"profile", required_argument, NULL, 'R'},   {"help", no_argument, NULL, 'h'},
        {"retries", required_argument, NULL, 'r'}, {"upstream-client", required_argument, NULL, 'c'},
        {"idle-timeout", required_argument, NULL, 't'},
        {NULL, 0, NULL, 0},
    };
    bool use_stdio = false;
    long port = -1, workers = 1, v;
    const char *upstream = NULL, *adapter_ns = NULL, *profiles[MAX_LIST];
    size_t n_profiles = 0;
    char perr[160];
    const char *hosts[MAX_LIST], *origins[MAX_LIST];
    cg_mcp_http_options opt = {.port = -1, .allow_hosts = hosts, .allow_origins = origins};
    /* the upstream side as `capgate serve` has it: retries and capgate's own client */
    cg_upstream_config upstream_cfg = {.retries = 2, .native_http = true};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
        case 's': use_stdio = true; break;
        case 'p':
            if (!parse_uint(optarg, 65535, &port)) goto bad_value;
            opt.port = (int)port;
            break;
        case 'a': opt.address = optarg; break;
        case 'w':
            if (!parse_uint(optarg, 64, &workers) || workers < 1) goto bad_value;
            break;
        case 'u': upstream = optarg; break;
        case 'H':
            if (opt.n_allow_hosts == MAX_LIST) goto bad_value;
            hosts[opt.n_allow_hosts++] = optarg;
            break;
        case 'O':
            if (opt.n_allow_origins == MAX_LIST) goto bad_value;
            origins[opt.n_allow_origins++] = optarg;
            break;
        case 'P':
            if (!parse_uint(optarg, 1000000, &v)) goto bad_value;
            opt.page_size = (size_t)v;
            break;
        case 'i':
            if (!parse_uint(optarg, 86400 * 30, &v) || v < 1) goto bad_value;
            opt.session_idle_s = (unsigned)v;
            break;
        case 'm':
            if (!parse_uint(optarg, 10000000, &v) || v < 1) goto bad_value;
            opt.max_sessions = (size_t)v;
            break;
        case 'b':
            if (!parse_uint(optarg, 3600, &v) || v < 1) goto bad_value;
            opt.heartbeat_s = (unsigned)v;
            break;
        case 'n': adapter_ns = optarg; break;
        case 'R':
            if (n_profiles == MAX_LIST ||
                cg_ls_parse_profile_option(optarg, &profiles[n_profiles], perr, sizeof perr) < 0) {
                fprintf(stderr, "capgate mcp: %s\n", n_profiles == MAX_LIST ? "too many --profile" : perr);
                return 2;
            }
            n_profiles++;
            break;
        case 'l': opt.access_log = true; break;
        case 'r':
            if (!parse_uint(optarg, 10, &v)) goto bad_value;
            upstream_cfg.retries = (int)v;
            break;
        case 'c':
            if (!strcmp(optarg, "native")) upstream_cfg.native_http = true;
            else if (!strcmp(optarg, "curl")) upstream_cfg.native_http = false;
            else goto bad_value;
            break;
        case 't':
            if (!parse_uint(optarg, 86400, &v) || v < 1) goto bad_value;
            opt.connection_timeout_s = (unsigned)v;
            break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
        continue;
    bad_value:
        fprintf(stderr, "capgate mcp: bad option value '%s'\n", optarg);
        return 2;
    }
    if (argc - optind > 1) {
        usage(stderr);
        return 2;
    }
    const char *file = optind < argc ? argv[optind] : "capabilities/label-studio-ml.yaml";

    cg_spec *spec = NULL;
    cg_buf errors = CG_BUF_INIT;
    if (cg_spec_load(file, &spec, &errors) != CG_SPEC_OK) {
        fprintf(stderr, "%s", errors.data ? errors.data : "capgate mcp: cannot load the spec\n");
        cg_buf_free(&errors);
        return 1;
    }
    cg_buf_reset(&errors);
    if (cg_spec_check_binds(spec, &errors) > 0) {
        for (char *line = strtok(errors.data, "\n"); line; line = strtok(NULL, "\n"))
            cg_log(CG_LOG_WARN, "mcp", "%s", line);
    }
    cg_buf_free(&errors);
    const cg_mcp_adapter *adapter = NULL;
    for (size_t i = 0; i < spec->n_mcp; i++)
        if (!adapter_ns || !strcmp(spec->mcp[i].namespace_, adapter_ns)) {
            adapter = &spec->mcp[i];
            break;
        }
    if (!adapter) {
        fprintf(stderr, "capgate mcp: %s has no MCP adapter%s%s\n", file,
                adapter_ns ? " named " : "", adapter_ns ? adapter_ns : "");
        cg_spec_free(spec);
        return 1;
    }
    const char *unknown = cg_ls_unknown_profile(spec, profiles, n_profiles);
    if (unknown) {
        fprintf(stderr, "capgate mcp: --profile %s=label-studio: %s consumes no API named '%s'\n",
                unknown, file, unknown);
        cg_spec_free(spec);
        return 2;
    }
    /* LABEL_STUDIO_URL for the profiled APIs first, so --upstream overrides it */
    cg_engine_upstream_uri uris[MAX_LIST + 1];
    size_t n_uris = 0;
    const char *ls_url = getenv(CG_LS_ENV_URL);
    for (size_t i = 0; ls_url && *ls_url && i < spec->n_consumes && n_uris < MAX_LIST; i++)
        if (cg_ls_profile_applies(spec->consumes[i].namespace_, profiles, n_profiles))
            uris[n_uris++] = (cg_engine_upstream_uri){spec->consumes[i].namespace_, ls_url};
    if (upstream && *upstream) uris[n_uris++] = (cg_engine_upstream_uri){NULL, upstream};
    cg_engine_options eopt = {.uris = n_uris ? uris : NULL, .n_uris = n_uris,
                              .label_studio_ns = profiles, .n_label_studio_ns = n_profiles,
                              .upstream = upstream_cfg};

    if (use_stdio) {
        int rc = cg_mcp_stdio_run(spec, adapter, &eopt);
        cg_spec_free(spec);
        return rc;
    }

    /* Streamable HTTP: inbound tokens first, so a bad configuration stops us at once */
    cg_inbound_auth *auth = NULL;
    char aerr[320];
    if (cg_inbound_auth_from_env(&auth, aerr, sizeof aerr) != CG_INBOUND_AUTH_OK ||
        cg_inbound_auth_declare(&auth, spec, &adapter->auth, aerr, sizeof aerr)) {
        fprintf(stderr, "capgate mcp: %s\n", aerr);
        cg_inbound_auth_free(auth);
        cg_spec_free(spec);
        return 2;
    }
    opt.auth = auth;

    /* workers block the stop signals; the main thread waits for them */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    int rc = 1;
    char err[256] = "";
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        cg_inbound_auth_free(auth);
        cg_spec_free(spec);
        return 1;
    }
    worker *ws = calloc((size_t)workers, sizeof *ws);
    cg_mcp_shared *shared = ws ? cg_mcp_shared_create(spec, adapter, &opt, err, sizeof err) : NULL;
    if (!shared) goto mcp_main_out;
    for (long i = 0; i < workers; i++) {
        ws[i].loop = cg_loop_create(err, sizeof err);
        if (!ws[i].loop) goto mcp_main_out;
        ws[i].engine = cg_engine_create(ws[i].loop, spec, &eopt, NULL, err, sizeof err);
        if (!ws[i].engine) goto mcp_main_out;
        ws[i].http = cg_mcp_http_start(ws[i].engine, shared, err, sizeof err);
        if (!ws[i].http) goto mcp_main_out;
    }
    for (long i = 0; i < workers; i++) {
        if (pthread_create(&ws[i].thread, NULL, run_worker, &ws[i]) != 0) {
            snprintf(err, sizeof err, "cannot start a worker thread");
            goto mcp_main_out;
        }
        ws[i].running = true;
    }
    cg_log(CG_LOG_INFO, "mcp", "listening on http://%s:%d/mcp (%zu tools, %ld worker%s)",
           opt.address ? opt.address : adapter->address ? adapter->address : "127.0.0.1",
           cg_mcp_shared_port(shared), adapter->n_tools, workers, workers == 1 ? "" : "s");
    if (auth)
        cg_log(CG_LOG_INFO, "mcp", "inbound auth: on, %zu token%s%s%s; every /mcp request must present one",
               cg_inbound_auth_count(auth), cg_inbound_auth_count(auth) == 1 ? "" : "s",
               cg_inbound_auth_scheme(auth) ? " and the adapter's " : "",
               cg_inbound_auth_scheme(auth) ? cg_inbound_auth_scheme(auth) : "");
    else
        cg_log(CG_LOG_INFO, "mcp", "inbound auth: off (set %s or %s to require a token)",
               CG_INBOUND_AUTH_ENV_TOKENS, CG_INBOUND_AUTH_ENV_FILE);
    int sig = 0;
    sigwait(&sigs, &sig);
    cg_log(CG_LOG_INFO, "mcp", "stopping (signal %d)", sig);
    rc = 0;

mcp_main_out:
    if (rc) cg_log(CG_LOG_ERROR, "mcp", "%s", err[0] ? err : "out of memory");
    for (long i = 0; ws && i < workers; i++)
        if (ws[i].running) cg_loop_request_stop(ws[i].loop);
    for (long i = 0; ws && i < workers; i++) {
        if (ws[i].running) pthread_join(ws[i].thread, NULL);
        /* the loop has stopped: the endpoint can go */
        cg_mcp_http_stop(ws[i].http);
        cg_engine_free(ws[i].engine);
        if (ws[i].loop) cg_loop_free(ws[i].loop);
    }
    cg_mcp_shared_free(shared);
    cg_inbound_auth_free(auth);
    free(ws);
    cg_spec_free(spec);
    curl_global_cleanup();
    return rc;
}
