/*
 * main.c — the `capgate` command: dispatches to one subcommand.
 *
 * Each subcommand lives in its module and is declared in that module's header as
 * `int cg_<module>_main(int argc, char **argv)` (argv[0] is the subcommand's name). This
 * file knows only the table below, the global flags and the usage text.
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "mcp/mcp.h"
#include "mlbackend/mlbackend.h"
#include "serve/serve.h"
#include "studio/studio.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"validate", cg_cli_validate_main, "check capability specs; print file:line:col errors"},
    {"tools", cg_cli_tools_main, "print a spec's MCP tools as tools/list shows them"},
    {"routes", cg_cli_routes_main, "print a spec's REST routes and the upstream requests"},
    {"mcp", cg_mcp_main, "serve a spec's MCP tools alone (Streamable HTTP, or --stdio)"},
    {"serve", cg_serve_main, "serve a spec's REST adapter, forwarding calls upstream"},
    {"mlbackend", cg_mlbackend_main,
     "serve a Label Studio ML backend (naive Bayes text classifier)"},
    {"studio", cg_studio_main, "serve a Label Studio-compatible API (SQLite) for ML backends"},
    {NULL, NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out, "usage: capgate COMMAND [OPTIONS] [ARGS]\n"
                 "       capgate --help | --version\n\n"
                 "capgate runs Naftiko capability specs: it serves a spec's REST and MCP adapters\n"
                 "and forwards each call to the HTTP API the spec consumes.\n\ncommands:\n");
    for (size_t i = 0; commands[i].name; i++)
        fprintf(out, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\nRun 'capgate COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *name = argv[1];
    if (!strcmp(name, "--help") || !strcmp(name, "-h") || !strcmp(name, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(name, "--version") || !strcmp(name, "-V")) {
        printf("capgate %s\n", CAPGATE_VERSION);
        return 0;
    }
    for (size_t i = 0; commands[i].name; i++)
        if (!strcmp(name, commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "capgate: unknown %s '%s'\n", name[0] == '-' ? "option" : "command", name);
    usage(stderr);
    return 2;
}
