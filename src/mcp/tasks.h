/*
 * tasks.h — MCP tasks (2025-11-25, experimental): the store behind a task-augmented
 * tools/call and tasks/get, tasks/result, tasks/list, tasks/cancel.
 *
 * A tools/call that carries `task` (in a session that negotiated 2025-11-25, where the
 * `tasks` capability is declared) is answered at once with a CreateTaskResult; the call runs
 * on, and its JSON-RPC response is kept here until the client fetches it with tasks/result.
 * One store per process, shared by every worker (one mutex); a task belongs to the session
 * that created it and is invisible to others. Ids are 32 random hex characters.
 *
 * Bounded: at most `max` tasks (a new one beyond that is refused with -32603); a task ends
 * its life `ttl` ms after its creation (the client's ttl, capped at one hour; 10 minutes
 * when it asks none) once it is terminal — a task still working is never dropped.
 */
#ifndef CG_MCP_TASKS_H
#define CG_MCP_TASKS_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "mcp/protocol.h"

typedef struct cg_mcp_tasks cg_mcp_tasks;

/* A store of at most max tasks (0 = 10000). NULL when out of memory. */
cg_mcp_tasks *cg_mcp_tasks_create(size_t max);
void cg_mcp_tasks_free(cg_mcp_tasks *t);

/* A new working task of session sid for a call whose request id is req_id, asked to live
 * ttl_ms (-1: none asked). Writes its id and returns the whole response to the tools/call
 * (a CreateTaskResult), or NULL when the store is full or out of memory (then answer
 * cg_mcp_error(req_id, -32603, ...)). */
json_t *cg_mcp_tasks_start(cg_mcp_tasks *t, const char *sid, const json_t *req_id, long long ttl_ms,
                           char id[CG_MCP_TASK_ID_MAX]);

/* The task's call ended with this JSON-RPC response (one line, the call's own id): the task
 * is completed, unless it was cancelled (then the response is dropped). */
void cg_mcp_tasks_complete(cg_mcp_tasks *t, const char *id, const char *response, size_t len);

/* Answers a tasks/... request (op, task_id, the request's id req_id) for session sid: the
 * whole JSON-RPC response, or NULL for a tasks/result whose task is still working (ask
 * again later). For a tasks/cancel of a working task, *cancel_req_id (may be NULL) receives
 * the id of the task's tools/call request, which the caller must abort (json_decref it). */
json_t *cg_mcp_tasks_answer(cg_mcp_tasks *t, const char *sid, cg_mcp_task_op op,
                            const char *task_id, const json_t *req_id, json_t **cancel_req_id);

/* Drops every task of session sid (the session ended); their calls' results are dropped
 * when they come. */
void cg_mcp_tasks_forget_session(cg_mcp_tasks *t, const char *sid);

#endif
