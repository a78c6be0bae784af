/*
 * runtime.h — the one runtime behind `capgate serve` and `capgate mcp`: options with shared
 * defaults, worker threads, signals, the drain, and the reload on SIGHUP.
 *
 * `capgate serve` runs every HTTP adapter a spec exposes; `capgate mcp` (over HTTP) is the
 * same runtime with only the MCP adapter. Both read their options with cg_runtime_option,
 * so an option that both have means the same, with the same default, in both:
 *
 *     cg_runtime_options o;
 *     cg_runtime_defaults(&o, "serve");
 *     int rc = cg_runtime_parse(&o, argc, argv, serve_option, NULL, usage);
 *     return rc == 1 ? 0 : rc ? rc : cg_runtime_run(&o);
 */
#ifndef CG_RUNTIME_H
#define CG_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "common/options.h"
#include "engine/call.h"
#include "spec/spec.h"

#define CG_RUNTIME_DEFAULT_SPEC "capabilities/label-studio-ml.yaml"
#define CG_RUNTIME_MAX_THREADS 64
#define CG_RUNTIME_MAX_URIS 16
#define CG_RUNTIME_MAX_ALLOW 32

typedef struct cg_runtime_options {
    const char *command;     /* "serve" or "mcp": the log module and message prefix */
    const char *file;        /* the capability spec (CG_RUNTIME_DEFAULT_SPEC) */
    bool mcp_only;           /* serve only the MCP adapter (`capgate mcp`) */
    const char *mcp_adapter; /* which MCP adapter (namespace); NULL: the first */
    const char *listen_addr; /* NULL: each adapter's address, else 127.0.0.1 */
    char listen_buf[256];    /* --listen's value, split in place */
    int listen_port;         /* -1: the first REST adapter's port from the spec */
    int threads;             /* 0: one per core */
    size_t max_body;         /* request body limit, bytes */
    unsigned idle_timeout_s;
    int max_upstream; /* concurrent upstream calls, all workers together */
    long drain_timeout_ms;
    bool access_log;
    cg_engine_upstream_uri uris[CG_RUNTIME_MAX_URIS];
    size_t n_uris;
    const char *profiles[CG_RUNTIME_MAX_URIS]; /* --profile NS=label-studio namespaces */
    size_t n_profiles;
    cg_engine_options engine; /* timeouts, retries, client */
    /* the MCP adapter */
    bool no_mcp;
    int mcp_port; /* -1: the adapter's port */
    const char *mcp_allow_hosts[CG_RUNTIME_MAX_ALLOW];
    size_t n_mcp_allow_hosts;
    const char *mcp_allow_origins[CG_RUNTIME_MAX_ALLOW];
    size_t n_mcp_allow_origins;
    size_t page_size;        /* tools/list page size; 0: one page */
    unsigned session_idle_s; /* 0: the adapter's default */
    size_t max_sessions;     /* 0: the adapter's default */
    unsigned heartbeat_s;    /* 0: the adapter's default */
    int skill_port;          /* -1: the first skill adapter's port */
    int control_port;        /* -1: the control adapter's port */
} cg_runtime_options;

/* The defaults both commands share; command is "serve" or "mcp". */
void cg_runtime_defaults(cg_runtime_options *o, const char *command);

/* Reads the option at the cursor if it is one of the runtime's (upstream, timeouts, limits,
 * MCP sessions and allowlists, workers): 1 when taken, 0 when it is not one of them, -1 on
 * a bad value (the message is printed). */
int cg_runtime_option(cg_runtime_options *o, cg_opts *c);

/* A command's own options: 1 when it took the one at the cursor, 0 when it is not one of
 * its own, -1 on a bad value (printed). */
typedef int (*cg_runtime_own_option)(cg_runtime_options *o, cg_opts *c, void *ctx);

/* Reads a command line: --help (prints usage on stdout), the runtime's options, the
 * command's own (own, may be NULL) and one FILE. 0 to go on, 1 after --help, 2 on a bad
 * command line (the message printed). */
int cg_runtime_parse(cg_runtime_options *o, int argc, char **argv, cg_runtime_own_option own,
                     void *ctx, void (*usage)(FILE *out));

/* The --help lines for the options cg_runtime_option reads. */
extern const char cg_runtime_options_help[];

/* Loads o->file and fills o->engine (profiles, LABEL_STUDIO_URL, overrides). On failure
 * prints why and returns the exit status (1: I/O, 2: invalid); 0 with *spec set. */
int cg_runtime_load(cg_runtime_options *o, cg_spec **spec);

/* Serves until SIGTERM or SIGINT (then drains) and reloads the spec on SIGHUP. Returns the
 * process exit status. */
int cg_runtime_run(cg_runtime_options *o);

#endif
