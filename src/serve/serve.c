/*
 * serve.c — `capgate serve`: every HTTP adapter a capability exposes, on the runtime
 * (src/runtime): this file is the command's own options and its help.
 */
#include "serve/serve.h"

#include <stdio.h>

#include "common/options.h"
#include "runtime/runtime.h"

static void usage(FILE *out)
{
    fprintf(
        out,
        "usage: capgate serve [OPTIONS] [FILE]\n"
        "\n"
        "Serves the capability FILE's exposed adapters (REST, MCP over HTTP, skill, control) and\n"
        "forwards each call to the API it consumes. SIGTERM/SIGINT drain and exit; SIGHUP "
        "re-reads\n"
        "FILE (docs/serve.md).\n"
        "FILE defaults to " CG_RUNTIME_DEFAULT_SPEC ".\n"
        "\n"
        "options:\n"
        "  --listen ADDR[:PORT]   REST (and MCP) address, and the first REST adapter's port\n"
        "                         (default: the spec's address or 127.0.0.1, the spec's port; 0 = "
        "any)\n"
        "  --mcp-port N           the MCP adapter's port (default: the spec's; 0 = any)\n"
        "  --no-mcp               do not serve the spec's MCP adapter\n"
        "  --skill-port N         the first skill adapter's port (default: the spec's; 0 = any)\n"
        "  --control-port N       the control adapter's port (default: the spec's; 0 = any)\n"
        "%s"
        "\n"
        "environment:\n"
        "  LABEL_STUDIO_URL       base URI for consumed APIs under the Label Studio profile\n"
        "  LABEL_STUDIO_API_KEY   the shipped spec's credential: a legacy key or a personal access "
        "token\n"
        "  CAPGATE_API_TOKENS     inbound auth: comma-separated tokens callers must present, as\n"
        "                         'Authorization: Bearer T' or 'X-Capgate-Token: T' (unset: no "
        "auth)\n"
        "  CAPGATE_API_TOKENS_FILE  the same, one token per line (# comments and blank lines "
        "ignored)\n"
        "  CAPGATE_SESSION_SECRET MCP: the session ids' signing key; instances sharing it "
        "continue\n"
        "                         each other's sessions (docs/scale-out.md)\n"
        "  CAPGATE_SESSION_MAX_AGE  MCP: seconds after issue another instance still accepts an id "
        "(86400)\n"
        "  CAPGATE_LOG_LEVEL      debug, info, warn or error\n",
        cg_runtime_options_help);
}

/* serve's own options: where the other adapters listen. */
static int serve_option(cg_runtime_options *o, cg_opts *c, void *ctx)
{
    long v;
    int *port = cg_opts_is(c, "--mcp-port")       ? &o->mcp_port
                : cg_opts_is(c, "--skill-port")   ? &o->skill_port
                : cg_opts_is(c, "--control-port") ? &o->control_port
                                                  : NULL;
    if (port) {
        if (cg_opts_int(c, 0, 65535, &v) < 0) return -1;
        *port = (int)v;
        return 1;
    }
    if (!cg_opts_is(c, "--no-mcp")) return 0;
    o->no_mcp = true;
    return 1;
}

int cg_serve_main(int argc, char **argv)
{
    cg_runtime_options o;
    cg_runtime_defaults(&o, "serve");
    int rc = cg_runtime_parse(&o, argc, argv, serve_option, NULL, usage);
    return rc == 1 ? 0 : rc ? rc : cg_runtime_run(&o);
}
