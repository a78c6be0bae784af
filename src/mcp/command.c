/*
 * command.c — `capgate mcp`: one spec's MCP adapter on its own, over HTTP or stdio.
 *
 * Over HTTP this is the runtime `capgate serve` runs (src/runtime) with only the MCP
 * adapter: the same workers, signals, drain, SIGHUP reload, options and defaults. --stdio
 * is its own path (cg_mcp_stdio_run): one loop on stdin/stdout, for desktop clients.
 */
#include "mcp/mcp.h"

#include <stdio.h>
#include <string.h>

#include "common/options.h"
#include "runtime/runtime.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: capgate mcp [OPTIONS] [FILE]\n"
            "       capgate mcp --stdio [OPTIONS] [FILE]\n\n"
            "Serves the MCP tools of capability FILE (default " CG_RUNTIME_DEFAULT_SPEC ")\n"
            "over Streamable HTTP at http://ADDRESS:PORT/mcp, or over stdin/stdout with --stdio.\n"
            "Over HTTP it is `capgate serve` with only the MCP adapter (docs/mcp.md).\n\n"
            "  --stdio                speak MCP on stdin/stdout (for desktop clients)\n"
            "  --port N               listen on N (default: the spec's port; 0 = any free port)\n"
            "  --address IP           bind to IP (default: the spec's address, else 127.0.0.1)\n"
            "%s\n"
            "environment (HTTP only; stdio is local and needs no token):\n"
            "  CAPGATE_API_TOKENS      comma-separated tokens every /mcp request must present, as\n"
            "                          'Authorization: Bearer T' or 'X-Capgate-Token: T' (unset: "
            "no auth)\n"
            "  CAPGATE_API_TOKENS_FILE the same, one token per line (# comments, blank lines "
            "ignored)\n",
            cg_runtime_options_help);
}

/* --stdio: the adapter on stdin/stdout. */
static int run_stdio(cg_runtime_options *o)
{
    cg_spec *spec = NULL;
    int rc = cg_runtime_load(o, &spec);
    if (rc) return rc;
    const cg_mcp_adapter *adapter = NULL;
    for (size_t i = 0; i < spec->n_mcp && !adapter; i++)
        if (!o->mcp_adapter || !strcmp(spec->mcp[i].namespace_, o->mcp_adapter))
            adapter = &spec->mcp[i];
    if (!adapter) {
        fprintf(stderr, "capgate mcp: %s has no MCP adapter%s%s\n", o->file,
                o->mcp_adapter ? " named " : "", o->mcp_adapter ? o->mcp_adapter : "");
        cg_spec_free(spec);
        return 1;
    }
    rc = cg_mcp_stdio_run(spec, adapter, &o->engine);
    cg_spec_free(spec);
    return rc;
}

/* mcp's own options: stdio, and its one port and address. */
static int mcp_option(cg_runtime_options *o, cg_opts *c, void *ctx)
{
    long v;
    if (cg_opts_is(c, "--stdio")) {
        *(bool *)ctx = true;
    } else if (cg_opts_is(c, "--port")) {
        if (cg_opts_int(c, 0, 65535, &v) < 0) return -1;
        o->mcp_port = (int)v;
    } else if (cg_opts_is(c, "--address")) {
        if (!(o->listen_addr = cg_opts_value(c))) return -1;
    } else {
        return 0;
    }
    return 1;
}

int cg_mcp_main(int argc, char **argv)
{
    cg_runtime_options o;
    cg_runtime_defaults(&o, "mcp");
    bool use_stdio = false;
    int rc = cg_runtime_parse(&o, argc, argv, mcp_option, &use_stdio, usage);
    if (rc) return rc == 1 ? 0 : rc;
    return use_stdio ? run_stdio(&o) : cg_runtime_run(&o);
}
