/*
 * session.h — MCP sessions for Streamable HTTP: ids, protocol state, expiry.
 *
 * One store per process, shared by every worker thread (a connection may land on any
 * worker, so a session must be visible to all of them); one mutex guards it, held only for
 * the few microseconds it takes to look a session up and run the protocol core on it.
 *
 * Session ids are 32 bytes written as 64 lowercase hex characters (visible ASCII, as the
 * transport requires): 9 bytes from getrandom(2), the issuing process's random 3-byte tag
 * and the issue time (4 bytes, seconds), followed by the first 16 bytes of HMAC-SHA256(secret, those 16 bytes). The secret comes
 * from CAPGATE_SESSION_SECRET, or is 32 random bytes drawn when the store is created.
 *
 * Scale-out: with CAPGATE_SESSION_SECRET set, every instance sharing it accepts every
 * other's ids (cg_mcp_sessions_find_or_adopt): a signed id it does not hold becomes a
 * session here, already initialized, at the version the request names. Nothing else about
 * a session matters after initialize except logging/setLevel, which starts again at info
 * on a new instance. A process never adopts its own ids (its ended sessions stay ended;
 * after a restart it is a new process and does). An id can be adopted until it is CAPGATE_SESSION_MAX_AGE seconds old
 * (default 86400); a DELETE ends the session on the instance that receives it, which then
 * refuses the id, and cannot revoke it on the others before that age unless they share a
 * Redis (CAPGATE_REDIS_URL, mcp/redis_store.h), which tells every instance of the end
 * (cg_mcp_sessions_mark_ended).
 * Without a configured secret, an id not in this store is 404, as before.
 *
 * A session ends when the client DELETEs it, when it has been idle longer than the idle
 * timeout, or when the store is full and it is the least recently used one. An ended
 * session's id is unknown from then on, which the transport answers with HTTP 404 so the
 * client re-initializes.
 */
#ifndef CG_MCP_SESSION_H
#define CG_MCP_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "mcp/protocol.h"

#define CG_MCP_SESSION_ID_LEN 64

typedef struct cg_mcp_session {
    char id[CG_MCP_SESSION_ID_LEN + 1];
    cg_mcp_state state;           /* the protocol core's state for this session */
    int get_streams;              /* open GET (server-to-client) SSE streams: at most 1 */
    uint64_t last_used_ms;        /* monotonic */
    bool adopted;                 /* issued by another instance (or before a restart) */
    bool _ended;                  /* private: DELETEd; kept to refuse the id */
    struct cg_mcp_session *_next; /* private: hash chain */
} cg_mcp_session;

typedef struct cg_mcp_sessions cg_mcp_sessions;

/* A store of at most max sessions (0 = 10000) that expire after idle_timeout_s seconds
 * without a request (0 = 1800), signing ids with secret (secret_len bytes; NULL = the
 * CAPGATE_SESSION_SECRET environment variable, else random). NULL when out of memory or
 * when no random bytes could be had. */
cg_mcp_sessions *cg_mcp_sessions_create(size_t max, unsigned idle_timeout_s);
cg_mcp_sessions *cg_mcp_sessions_create_with_secret(size_t max, unsigned idle_timeout_s,
                                                    const void *secret, size_t secret_len);

/* true when id is well-formed and carries a valid MAC for this store's secret (whether or
 * not the session still exists). */
bool cg_mcp_sessions_id_signed(const cg_mcp_sessions *store, const char *id);
void cg_mcp_sessions_free(cg_mcp_sessions *store);

/* Creates a session with a fresh id and returns it with the store LOCKED (release with
 * cg_mcp_sessions_unlock), or NULL (unlocked) when the random source or memory failed. */
cg_mcp_session *cg_mcp_sessions_create_session(cg_mcp_sessions *store);

/* Finds a live session and marks it used; returns it with the store LOCKED, or NULL
 * (unlocked) when the id is unknown, malformed, ended or expired. */
cg_mcp_session *cg_mcp_sessions_find(cg_mcp_sessions *store, const char *id);

/* As cg_mcp_sessions_find; when the id is not here but is signed with the shared secret
 * (configured, not random) and young enough, adopts it: a new initialized session at
 * version (an MCP-Protocol-Version value; NULL or unsupported = 2025-03-26). Returned
 * LOCKED, or NULL (unlocked). */
cg_mcp_session *cg_mcp_sessions_find_or_adopt(cg_mcp_sessions *store, const char *id,
                                              const char *version);

/* With the store locked: ends a session (the pointer is invalid afterwards). */
void cg_mcp_sessions_remove_locked(cg_mcp_sessions *store, cg_mcp_session *s);

void cg_mcp_sessions_unlock(cg_mcp_sessions *store);

/* Ends the session with this id (adopting it first if need be). true when it existed. */
bool cg_mcp_sessions_end(cg_mcp_sessions *store, const char *id);

/* Records that id ended on another instance (told through Redis, mcp/redis_store.h): a
 * session held here ends; an id this store would adopt gets a tombstone so it is refused
 * from now on. Ids that are malformed, unsigned or too old are ignored. */
void cg_mcp_sessions_mark_ended(cg_mcp_sessions *store, const char *id);

/* The Unix time after which id can no longer be adopted anywhere (its issue time plus
 * CAPGATE_SESSION_MAX_AGE); 0 for a malformed id. */
uint64_t cg_mcp_sessions_adoptable_until(const cg_mcp_sessions *store, const char *id);

/* Live sessions now (expired ones not yet swept may count). */
size_t cg_mcp_sessions_count(cg_mcp_sessions *store);

#endif
