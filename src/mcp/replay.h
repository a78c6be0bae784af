/*
 * replay.h — the resumable event buffer of MCP Streamable HTTP (2025 revisions).
 *
 * Every SSE stream that answers a POST (a tools/call in progress) is a replay stream: each
 * event sent on it is also appended here, so a client whose connection drops can come back
 * with GET + Last-Event-ID and get the events it missed, then the rest as they come
 * (transports.mdx, "Resumability and Redelivery"). Events are JSON-RPC messages, one line
 * of text each; the buffer never parses them.
 *
 * Event ids name their stream, as the spec suggests: "<stream>-<seq>", where <stream> is 16
 * lowercase hex characters drawn at random when the stream opens (unique across processes
 * and instances) and <seq> counts from 1; "<stream>-0" is the stream's priming event. A
 * stream belongs to one session: a Last-Event-ID is honoured only with that session's id,
 * and never replays another stream's events.
 *
 * Bounded: a stream keeps at most its last `stream_events` events and `stream_bytes` bytes
 * (older ones are dropped, and a Last-Event-ID that points before them is answered as
 * unknown); a process keeps at most `total_bytes` and `max_streams` (the streams written
 * longest ago go first); a stream is kept `window_s` seconds after its last event, open or
 * ended. All functions are thread-safe (any worker may call them).
 *
 * The buffer sits behind cg_mcp_replay_ops so another backend (shared between instances)
 * can replace the in-memory one without the transport knowing.
 */
#ifndef CG_MCP_REPLAY_H
#define CG_MCP_REPLAY_H

#include <stdbool.h>
#include <stddef.h>

#define CG_MCP_REPLAY_STREAM_LEN 16 /* hex characters of a stream id */
#define CG_MCP_REPLAY_ID_MAX 40     /* room for any event id, with its NUL */

typedef struct cg_mcp_replay_limits {
    size_t stream_events; /* events kept per stream (0 = 64) */
    size_t stream_bytes;  /* bytes kept per stream (0 = 4 MiB) */
    size_t total_bytes;   /* bytes kept by the process (0 = 64 MiB) */
    size_t max_streams;   /* streams kept by the process (0 = 10000) */
    unsigned window_s;    /* a stream is kept this long after its last event (0 = 300) */
} cg_mcp_replay_limits;

/* What cg_mcp_replay_after found. */
typedef enum {
    CG_MCP_REPLAY_UNKNOWN = -1, /* no such stream here (never, expired, evicted, another
                                 * session's), or the id points before what is kept */
    CG_MCP_REPLAY_OPEN = 0,     /* replayed; more events may come */
    CG_MCP_REPLAY_ENDED = 1,    /* replayed; the stream's last event is among those sent
                                 * (or was sent before last_id) */
} cg_mcp_replay_status;

/* Called once per replayed event, in order, with its id and data (data is not
 * NUL-terminated; both are valid only during the call). */
typedef void (*cg_mcp_replay_fn)(void *ctx, const char *id, const char *data, size_t len);

/* A backend: the operations below, with self as first argument. stream is a stream id
 * (CG_MCP_REPLAY_STREAM_LEN hex characters, NUL-terminated). */
typedef struct cg_mcp_replay_ops {
    int (*open)(void *self, const char *sid, const char *stream);
    int (*append)(void *self, const char *stream, unsigned long long seq, const char *data,
                  size_t len, bool last);
    cg_mcp_replay_status (*after)(void *self, const char *sid, const char *stream,
                                  unsigned long long seq, cg_mcp_replay_fn fn, void *ctx);
    void (*forget_session)(void *self, const char *sid);
    void (*free)(void *self);
} cg_mcp_replay_ops;

typedef struct cg_mcp_replay cg_mcp_replay;

/* The in-memory backend (one per process; lim may be NULL for the defaults). NULL when out
 * of memory. */
cg_mcp_replay *cg_mcp_replay_create(const cg_mcp_replay_limits *lim);
/* The in-memory backend's operations and a new instance of it (NULL when out of memory),
 * for a backend that keeps a local copy of shared events (mcp/redis_store.h). */
const cg_mcp_replay_ops *cg_mcp_replay_memory_ops(void);
void *cg_mcp_replay_memory_new(const cg_mcp_replay_limits *lim);
/* Any backend: takes self, which ops->free releases. NULL (self freed) when out of memory. */
cg_mcp_replay *cg_mcp_replay_wrap(const cg_mcp_replay_ops *ops, void *self);
void cg_mcp_replay_free(cg_mcp_replay *rp);

/* One stream of events, opened by the transport for one SSE response. */
typedef struct cg_mcp_replay_stream {
    char id[CG_MCP_REPLAY_STREAM_LEN + 1];
    unsigned long long seq; /* the last event's number (0 = only the priming event) */
} cg_mcp_replay_stream;

/* Opens a stream for session sid: fills st and writes the priming event's id ("<id>-0")
 * into primer. 0, or -1 (no random bytes, out of memory): then the stream is not
 * resumable, and the transport sends no event ids on it. */
int cg_mcp_replay_open(cg_mcp_replay *rp, const char *sid, cg_mcp_replay_stream *st,
                       char primer[CG_MCP_REPLAY_ID_MAX]);

/* Appends one event (data, one line of len bytes) to st; last = nothing follows it. Writes
 * the event's id into id (it is the id to send, even when this returns -1: the event just
 * cannot be replayed then). 0, or -1 (the stream is gone, out of memory). */
int cg_mcp_replay_append(cg_mcp_replay *rp, cg_mcp_replay_stream *st, const char *data, size_t len,
                         bool last, char id[CG_MCP_REPLAY_ID_MAX]);

/* For a GET with Last-Event-ID last_id from session sid: calls fn for each event of that
 * id's stream that follows it, and says whether the stream goes on. When the stream is
 * still open, *st (may be NULL) names it and its last sequence number, for polling. */
cg_mcp_replay_status cg_mcp_replay_after(cg_mcp_replay *rp, const char *sid, const char *last_id,
                                         cg_mcp_replay_fn fn, void *ctx, cg_mcp_replay_stream *st);

/* Parses an event id: true when it is "<16 hex>-<decimal>" (writes the stream and seq). */
bool cg_mcp_replay_parse_id(const char *id, char stream[CG_MCP_REPLAY_STREAM_LEN + 1],
                            unsigned long long *seq);

/* Drops every stream of session sid (the session ended). */
void cg_mcp_replay_forget_session(cg_mcp_replay *rp, const char *sid);

#endif
