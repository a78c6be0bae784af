/*
 * runtime_int.h — what runtime.c and reload.c share inside src/runtime: the workers, the
 * state every worker reads, and the spec generations a reload swaps. Not an interface for
 * anything outside src/runtime (runtime.h is).
 */
#ifndef CG_RUNTIME_INT_H
#define CG_RUNTIME_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "console/console.h"
#include "console/feed.h"
#include "control/control.h"
#include "engine/call.h"
#include "engine/inbound_auth.h"
#include "engine/metrics.h"
#include "engine/script_policy.h"
#include "mcp/mcp.h"
#include "mcp/protocol.h"
#include "net/loop.h"
#include "rest/rest.h"
#include "runtime/runtime.h"
#include "skill/skill.h"

#define MAX_THREADS CG_RUNTIME_MAX_THREADS
#define MAX_URIS CG_RUNTIME_MAX_URIS
#define MAX_MCP_ALLOW CG_RUNTIME_MAX_ALLOW
#define MAX_ADAPTERS 8
#define MAX_SITES (2 * MAX_ADAPTERS + 2)

typedef cg_runtime_options serve_options;

/* One loaded spec and what every worker derives from it alike (reload.c). The
 * first lives until exit; a later one is freed by whoever lets go of it last. */
typedef struct generation {
    cg_spec *spec;
    const cg_mcp_adapter *mcp_adapter; /* the MCP adapter served, or NULL */
    cg_mcp_core *mcp_core;             /* its protocol core; NULL in the first (the shared one's) */
    char *openapi[MAX_ADAPTERS];       /* per REST adapter (the first's are cg__rt.rest's) */
    size_t openapi_len[MAX_ADAPTERS];
    cg_control_site sites[MAX_SITES]; /* the adapters as the control port lists them: the
                                       * ports bound, this spec's namespaces */
    size_t n_sites;
    bool tools_changed; /* its MCP tools differ from the previous generation's */
    unsigned number;    /* 1 for the spec loaded at start, then 2, 3, ... */
    atomic_int users;   /* worker views on it, + 1 while it is the current one */
} generation;

/* A worker's view of a generation: the engine (upstream client, token cache) and console
 * it built for that spec. Only the worker's loop thread touches it. */
typedef struct view {
    struct worker *w;
    generation *g;
    cg_engine *engine;
    cg_console *console;
    int refs;          /* requests holding it, + 1 while it is the worker's current */
    struct view *next; /* the worker's retired views */
} view;

typedef struct worker {
    int index;
    pthread_t thread;
    cg_loop *loop;
    cg_engine *engine;
    cg_rest *rest[MAX_ADAPTERS];
    cg_mcp_http *mcp; /* NULL when the spec has no HTTP MCP adapter */
    cg_skill_http *skill[MAX_ADAPTERS];
    cg_control *control; /* NULL when the spec has no control adapter */
    cg_console *console; /* /console on the first REST adapter's listener, or NULL */
    uint64_t drain_deadline;
    const serve_options *opt;
    view *view;    /* what new requests use */
    view *retired; /* views of earlier specs, until their last request ends */
    uint64_t reap_timer;
    bool finishing;
    int wake_fd; /* eventfd: the main thread has a new generation for us */
    _Atomic(generation *) next_gen;
} worker;

typedef struct rest_site {
    const cg_rest_adapter *adapter;
    const char *address;
    int port; /* the spec's (or --listen's) until worker 0 binds it */
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
    const char *control_address; /* NULL: no control adapter */
    int control_port;
    cg_control_shared control;           /* what every worker's control adapter reads */
    const cg_mcp_adapter *mcp_adapter;   /* the MCP adapter served over HTTP, or NULL */
    cg_mcp_shared *mcp;                  /* the MCP adapter's shared state, or NULL */
    cg_inbound_auth *auth;               /* REST: inbound API tokens and the first REST adapter's
                                 * declared authentication, or NULL (auth off) */
    cg_inbound_auth *mcp_auth;           /* the same for the MCP adapter */
    cg_feed *feed;                       /* recent calls, for the console (src/console) */
    cg_script_policy *scripts;           /* the control adapter's scripting settings, or NULL */
    generation gen0;                     /* the spec loaded at start */
    generation *gen;                     /* the current one (main thread) */
    _Atomic(const char *) reload_status; /* /readyz's "reload": the last SIGHUP's outcome */
    char *statuses[64]; /* every status string so far (a reader may hold an old one);
                                 * past 64 reloads the oldest is reused, long since read */
    unsigned n_statuses;
} shared;

extern shared cg__rt; /* runtime.c's: set up before the workers start; then only the
                         * main thread changes it (gen, reload_status, statuses) */

/* runtime.c */
const char *cg__rt_bind_address(const char *address);
const cg_mcp_adapter *cg__rt_pick_mcp(const cg_spec *spec, const cg_runtime_options *o);

/* reload.c: the worker side (on its loop thread) */
int cg__rt_views_start(worker *w, char *err, size_t errlen);
void cg__rt_views_finish(worker *w);
cg_console *cg__rt_start_console(cg_engine *engine, const generation *g);
void cg__rt_view_retain(void *view);
void cg__rt_view_release(void *view);
/* reload.c: the main thread's side */
void cg__rt_reload(cg_runtime_options *o, worker *workers, int started);
void cg__rt_generation_unuse(generation *g);

#endif
