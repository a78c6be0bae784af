/*
 * control.h — the control adapter: a spec's `type: control` management port.
 *
 * The reference engine's control port (engine/exposes/control), on capgate's own HTTP
 * server (net/h1_server.h) on a worker's loop; every worker listens on the same port.
 * Routes exist only when the spec turns them on (else 404, as in the reference):
 *   management.health      GET /health/live {"status":"UP"}; GET /health/ready: 200 UP
 *                          once every worker serves, 503 DEGRADED before that and while
 *                          draining, with the adapters and their ports
 *   management.info        GET /status (capability, engine, uptime, otel, adapters);
 *                          GET /config (the loaded spec's outline, never its secrets)
 *   management.validate    POST /config/validate: the body (a capability YAML) is loaded
 *                          and checked like `capgate validate`: 200 {valid:true} or 422
 *                          {valid:false, errors:[file:line:col: …]}
 *   management.reload      POST /config/reload: 202, the process reloads its spec as on
 *                          SIGHUP (request_reload); 501 when nothing can reload it
 *   management.logs        GET /logs {"level"}; PUT /logs {"level":"debug|info|warn|error"}
 *                          changes the process's log level; /logs/stream is 501
 *   management.scripting   GET /scripting (settings and stats), PUT /scripting (any subset
 *                          of enabled, defaultLocation, defaultLanguage, timeout,
 *                          statementLimit, allowedLanguages; checked, then applied at once
 *                          to every worker's later script steps: engine/script_policy.h)
 *   observability.metrics  GET /metrics: Prometheus text (engine/metrics.h) plus the
 *                          trace exporter's counters
 *   observability.traces   GET /traces[?operation=&status=], GET /traces/{traceId}: the
 *                          local buffer of recent traces (engine/trace.h)
 * A SIGHUP reload (cg_control_reload) points a worker's adapter at the new spec: its
 * routes, outline and adapters list; /health/ready and /status also show the last
 * reload's outcome (reload_status). Errors are RFC 9457 problem+json (with an "error"
 * member carrying the reference engine's message where it has one).
 */
#ifndef CG_CONTROL_H
#define CG_CONTROL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"
#include "engine/metrics.h"
#include "engine/script_policy.h"
#include "spec/spec.h"

/* One served adapter, as /health/ready and /status list it. */
typedef struct cg_control_site {
    const char *type;       /* "rest", "mcp", "skill", "control" */
    const char *namespace_; /* NULL for control */
    int port;               /* the port actually bound */
} cg_control_site;

/* What the process shares with every worker's control adapter (read-only once the
 * workers run, but for the atomics). */
typedef struct cg_control_shared {
    const cg_spec *spec;       /* the spec at start (cg_control_reload moves a worker's on) */
    const char *file;          /* the spec's path */
    cg_metrics *metrics;       /* may be NULL */
    cg_script_policy *scripts; /* NULL: no /scripting (else it exists when the spec has
                                * management.scripting) */
    const cg_control_site *sites;
    size_t n_sites;
    atomic_int state;                     /* 0 starting, 1 serving, 2 draining */
    long long started_ms;                 /* process start, Unix ms */
    _Atomic(const char *) *reload_status; /* the last reload's outcome, a JSON object shown
                                           * as "reload"; NULL or pointing at NULL: none */
    void (*request_reload)(void);         /* POST /config/reload; NULL: 501 */
} cg_control_shared;

typedef struct cg_control cg_control;

typedef struct cg_control_options {
    const cg_control_shared *shared;
    const char *address;     /* IP literal; default 127.0.0.1 */
    int port;                /* 0 = any free port */
    unsigned idle_timeout_s; /* default 60 */
} cg_control_options;

cg_control *cg_control_start(cg_loop *loop, const cg_control_options *opt, char *err,
                             size_t errlen);
int cg_control_port(const cg_control *c);
/* On the loop's thread, for a SIGHUP reload: requests from now on answer from spec (its
 * control adapter turns routes on and off; /status and /config describe it) and sites (the
 * same ports, the new spec's namespaces). Every answer is built at once, so the previous
 * spec and sites may be freed afterwards. spec must have a control adapter. */
void cg_control_reload(cg_control *c, const cg_spec *spec, const cg_control_site *sites,
                       size_t n_sites);
void cg_control_quiesce(cg_control *c); /* NULL is ignored */
void cg_control_stop(cg_control *c);    /* NULL is ignored */

#endif
