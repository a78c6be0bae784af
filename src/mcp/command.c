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
        "                          'Authorization: Bearer T' or 'X-Capgate-Token: T' (unset: no auth)\n"
        "  CAPGATE_API_TOKENS_FILE the same, one token per line (# comments, blank lines ignored)\n",
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

int cg_mcp_main(int argc, char **argv)
{
    cg_runtime_options o;
    cg_runtime_defaults(&o, "mcp");
    bool use_stdio = false;
    cg_opts c;
    cg_opts_init(&c, "mcp", argc, argv);
    while (cg_opts_next(&c)) {
        long v;
        int rc = cg_runtime_option(&o, &c);
        if (rc < 0) return 2;
        if (rc > 0) continue;
        if (cg_opts_is_help(&c)) {
            usage(stdout);
            return 0;
        } else if (cg_opts_is(&c, "--stdio")) {
            use_stdio = true;
        } else if (cg_opts_is(&c, "--port")) {
            if (cg_opts_int(&c, 0, 65535, &v) < 0) return 2;
            o.mcp_port = (int)v;
        } else if (cg_opts_is(&c, "--address")) {
            if (!(o.listen_addr = cg_opts_value(&c))) return 2;
        } else if (c.arg && !o.file) {
            o.file = c.arg;
        } else if (c.arg) {
            fprintf(stderr, "capgate mcp: one capability file only ('%s' and '%s')\n", o.file,
                    c.arg);
            return 2;
        } else {
            cg_opts_unknown(&c);
            return 2;
        }
    }
    return use_stdio ? run_stdio(&o) : cg_runtime_run(&o);
}
