/*
 * skill.h — the skill adapter: a spec's `type: skill` catalog, read-only, over HTTP.
 *
 * What the reference engine's skill server answers (engine/exposes/skill), on capgate's own
 * HTTP server (net/h1_server.h) on a worker's loop, one cg_skill_http per worker and
 * adapter, all workers on the same port (SO_REUSEPORT):
 *   GET /skills                      {count, skills: [{name, description, license?, tools}]}
 *   GET /skills/{name}               the frontmatter (license, compatibility, argument-hint,
 *                                    allowed-tools, user-invocable, disable-model-invocation,
 *                                    metadata) and tools: derived ones with invocationRef
 *                                    {targetNamespace, action, mode: rest|mcp} and capgate's
 *                                    inputSchema of the source operation or tool, instruction
 *                                    ones with the instruction file
 *   GET /skills/{name}/contents      {name, files: [{path, size, type}]} under the location
 *   GET /skills/{name}/contents/{f}  one of those files (f may have several segments)
 * Unknown skills, files and routes are 404 problem+json; a path that tries to leave the
 * location (.., empty or hidden-control segments, symlinks) is 400; methods other than
 * GET/HEAD are 405. Nothing here calls an upstream.
 */
#ifndef CG_SKILL_H
#define CG_SKILL_H

#include <stdbool.h>
#include <stddef.h>

#include "net/loop.h"
#include "engine/metrics.h"
#include "spec/spec.h"

typedef struct cg_skill_http cg_skill_http;

typedef struct cg_skill_options {
    const cg_spec *spec;
    const cg_skill_adapter *adapter;
    const char *address;     /* IP literal; default 127.0.0.1 */
    int port;                /* 0 = any free port */
    unsigned idle_timeout_s; /* default 60 */
    cg_metrics *metrics;     /* may be NULL */
} cg_skill_options;

/* Listens on loop. NULL on failure, with a message in err. */
cg_skill_http *cg_skill_http_start(cg_loop *loop, const cg_skill_options *opt, char *err,
                                   size_t errlen);
int cg_skill_http_port(const cg_skill_http *s);
/* On the loop's thread, for a SIGHUP reload: requests from now on answer from spec's
 * adapter (its skills, descriptions, locations). Every answer is built at once, so no
 * request still uses the previous spec afterwards: the caller may free it then. The port
 * and address stay as bound. */
void cg_skill_http_reload(cg_skill_http *s, const cg_spec *spec, const cg_skill_adapter *adapter);
/* Stops accepting; requests in progress are still answered. NULL is ignored. */
void cg_skill_http_quiesce(cg_skill_http *s);
/* Requests received and not yet answered (always 0 between loop iterations: every answer
 * is immediate). */
int cg_skill_http_active(const cg_skill_http *s);
/* Closes every connection and frees. NULL is ignored. */
void cg_skill_http_stop(cg_skill_http *s);

/* The file-name checks of /contents/{f}: true when every '/'-separated segment is a plain
 * name (not empty, ".", ".." or starting with '.', no control bytes or backslash). */
bool cg_skill_safe_relpath(const char *rel);

#endif
