/*
 * redis_store.h — what MCP instances share through Redis (CAPGATE_REDIS_URL): session ends
 * and the resumable event buffer.
 *
 * Several capgate instances behind a balancer with no affinity accept each other's session
 * ids (mcp/session.h). With a Redis, a DELETE on one of them ends the session on all of
 * them: the instance that ends it records the id in a sorted set (scored by the time the id
 * stops being adoptable anyway, so the set trims itself) and appends it to a log (a Redis
 * stream) that every instance reads; each one marks the id ended in its own session store.
 * An instance that (re)connects loads the set first, so it also learns the ends it missed.
 *
 * Redis is never on a request's path: the link runs on its own thread with its own event
 * loop (net/loop.h; hiredis' async API through a small adapter), so a slow, hung or absent
 * Redis never blocks a worker. The link reconnects with back-off (0.1 s doubling to 5 s)
 * and logs one line when Redis goes away and one when it is back; meanwhile every instance
 * works as it would without Redis (ends are per instance), and the ends made in the
 * meantime are published once it is back. The URL's password is never logged.
 *
 * URL: redis://[[user]:password@]host[:port][/db] (port 6379, db 0 by default).
 */
#ifndef CG_MCP_REDIS_STORE_H
#define CG_MCP_REDIS_STORE_H

#include <stdbool.h>
#include <stddef.h>

#include "mcp/replay.h"
#include "mcp/session.h"
#include "net/loop.h"

typedef struct cg_redis_store cg_redis_store;
typedef struct cg_redis_wait cg_redis_wait;

/* Called on the caller's loop: shared is true once Redis has the end in its log (the
 * other instances' blocked reads get it at once), false when it could not within the time
 * given (Redis down, slow). */
typedef void (*cg_redis_done_cb)(void *arg, bool shared);

/* Parses url and starts the link's thread (it connects in the background: a Redis that is
 * down is not an error here). NULL with a message in err for a URL that cannot work
 * (malformed, rediss://, a port out of range) or when the thread could not start. */
cg_redis_store *cg_redis_store_start(const char *url, cg_mcp_sessions *sessions, char *err,
                                     size_t errlen);

/* Stops the thread and closes the connections (pending waits are released first: stop
 * the workers that wait before calling this). NULL is ignored. */
void cg_redis_store_stop(cg_redis_store *rs);

/* true while both connections are up (a snapshot: it may change right after). */
bool cg_redis_store_up(const cg_redis_store *rs);

/* The URL without its credentials (redis://host:port/db), for logs and messages. */
const char *cg_redis_store_display(const cg_redis_store *rs);

/* Tells every instance that session id ended (the caller has ended it locally). With done,
 * when Redis is up, returns a wait: done(arg, shared) runs later on loop (never inside this
 * call), after at most timeout_ms; cancel it with cg_redis_wait_cancel if the caller goes
 * first. Returns NULL when there is nothing to wait for: no done, or Redis is down (the end
 * is then kept, up to a bound, and published once Redis is back). Any thread. */
cg_redis_wait *cg_redis_store_end_session(cg_redis_store *rs, const char *id, cg_loop *loop,
                                          long timeout_ms, cg_redis_done_cb done, void *arg);

/* The shared event buffer (one per store; lim as for cg_mcp_replay_create). Free it (with
 * cg_mcp_replay_free) before stopping the store. NULL when out of memory or already made. */
cg_mcp_replay *cg_redis_store_replay(cg_redis_store *rs, const cg_mcp_replay_limits *lim);

/* On the loop the wait was made for, before done ran: done will never run. */
void cg_redis_wait_cancel(cg_redis_wait *w);

#endif
