/*
 * options.c — the options `capgate serve` and `capgate mcp` share (runtime.h): one table of
 * defaults, one reader, one help text.
 */
#include "runtime/runtime.h"

#include <stdio.h>
#include <string.h>

#include "engine/profile_label_studio.h"

#define MAX_URIS CG_RUNTIME_MAX_URIS
#define MAX_MCP_ALLOW CG_RUNTIME_MAX_ALLOW
#define MAX_THREADS CG_RUNTIME_MAX_THREADS

typedef cg_runtime_options serve_options;

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
    "  --upstream-client C    native (default): capgate's own HTTP/1.1 client for http:// to an "
    "IP\n"
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
        if (!eq || eq == val) return cg_opts_bad(c, "an http:// or https:// URL, or NS=URL", val);
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
        if (!parse_listen(val, o))
            return cg_opts_bad(c, "ADDR, ADDR:PORT, :PORT or [V6]:PORT", val);
        if (o->mcp_only && o->listen_port >= 0) o->mcp_port = o->listen_port; /* its one port */
    } else {
        return 0;
    }
    return rc < 0 ? -1 : 1;
}

int cg_runtime_parse(cg_runtime_options *o, int argc, char **argv, cg_runtime_own_option own,
                     void *ctx, void (*usage)(FILE *out))
{
    cg_opts c;
    cg_opts_init(&c, o->command, argc, argv);
    while (cg_opts_next(&c)) {
        if (cg_opts_is_help(&c)) {
            usage(stdout);
            return 1;
        }
        int rc = cg_runtime_option(o, &c);
        if (rc == 0 && own) rc = own(o, &c, ctx);
        if (rc < 0) return 2;
        if (rc > 0) continue;
        if (c.arg && !o->file) {
            o->file = c.arg;
        } else if (c.arg) {
            fprintf(stderr, "capgate %s: one capability file only ('%s' and '%s')\n", o->command,
                    o->file, c.arg);
            return 2;
        } else {
            cg_opts_unknown(&c);
            return 2;
        }
    }
    return 0;
}
