/*
 * tasks.c — the MCP task store (tasks.h): a list under one mutex (tasks are few and
 * long-lived; a linear walk is fine at the bound), swept of expired terminal tasks on
 * every operation.
 */
#include "mcp/tasks.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#define DEFAULT_TTL_MS 600000LL /* when the client asks none */
#define MAX_TTL_MS 3600000LL
#define POLL_INTERVAL_MS 1000

typedef enum { WORKING, COMPLETED, CANCELLED } task_status;

typedef struct task {
    char id[CG_MCP_TASK_ID_MAX];
    char sid[72];
    json_t *req_id; /* the tools/call's id */
    task_status status;
    long long ttl_ms;
    time_t created, updated; /* wall clock, for createdAt/lastUpdatedAt */
    uint64_t created_ms;     /* monotonic, for expiry */
    char *response;          /* COMPLETED: the call's JSON-RPC response */
    size_t response_len;
    struct task *next;
} task;

struct cg_mcp_tasks {
    pthread_mutex_t lock;
    task *list;
    size_t n, max;
};

static uint64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

cg_mcp_tasks *cg_mcp_tasks_create(size_t max)
{
    cg_mcp_tasks *t = calloc(1, sizeof *t);
    if (!t) return NULL;
    t->max = max ? max : 10000;
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

static void task_free(task *k)
{
    json_decref(k->req_id);
    free(k->response);
    free(k);
}

void cg_mcp_tasks_free(cg_mcp_tasks *t)
{
    if (!t) return;
    while (t->list) {
        task *k = t->list;
        t->list = k->next;
        task_free(k);
    }
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* With the lock held: drops terminal tasks whose ttl has passed. */
static void sweep(cg_mcp_tasks *t)
{
    uint64_t now = mono_ms();
    for (task **pp = &t->list; *pp;) {
        task *k = *pp;
        if (k->status != WORKING && k->created_ms + (uint64_t)k->ttl_ms <= now) {
            *pp = k->next;
            t->n--;
            task_free(k);
        } else {
            pp = &k->next;
        }
    }
}

static task *find(cg_mcp_tasks *t, const char *sid, const char *id)
{
    for (task *k = t->list; k; k = k->next)
        if (!strcmp(k->id, id) && !strcmp(k->sid, sid)) return k;
    return NULL;
}

static json_t *iso_time(time_t when)
{
    struct tm tm;
    char text[32];
    gmtime_r(&when, &tm);
    strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string(text);
}

static const char *status_name(task_status s)
{
    return s == WORKING ? "working" : s == COMPLETED ? "completed" : "cancelled";
}

/* The Task object. */
static json_t *task_json(const task *k)
{
    json_t *o = json_pack("{s:s, s:s, s:o, s:o, s:I, s:i}", "taskId", k->id, "status",
                          status_name(k->status), "createdAt", iso_time(k->created),
                          "lastUpdatedAt", iso_time(k->updated), "ttl", (json_int_t)k->ttl_ms,
                          "pollInterval", POLL_INTERVAL_MS);
    if (o && k->status == CANCELLED)
        json_object_set_new(o, "statusMessage", json_string("The task was cancelled by request."));
    return o;
}

json_t *cg_mcp_tasks_start(cg_mcp_tasks *t, const char *sid, const json_t *req_id, long long ttl_ms,
                           char id[CG_MCP_TASK_ID_MAX])
{
    unsigned char raw[16];
    if (getrandom(raw, sizeof raw, 0) != (ssize_t)sizeof raw) return NULL;
    task *k = calloc(1, sizeof *k);
    if (!k) return NULL;
    for (size_t i = 0; i < sizeof raw; i++) snprintf(k->id + 2 * i, 3, "%02x", raw[i]);
    snprintf(k->sid, sizeof k->sid, "%s", sid);
    k->req_id = json_deep_copy(req_id);
    k->ttl_ms = ttl_ms < 0 ? DEFAULT_TTL_MS : ttl_ms > MAX_TTL_MS ? MAX_TTL_MS : ttl_ms;
    k->created = k->updated = time(NULL);
    k->created_ms = mono_ms();
    json_t *obj = task_json(k);
    json_t *reply = obj ? cg_mcp_result(req_id, json_pack("{s:o}", "task", obj)) : NULL;
    pthread_mutex_lock(&t->lock);
    sweep(t);
    bool room = t->n < t->max;
    if (room && reply && k->req_id) {
        k->next = t->list;
        t->list = k;
        t->n++;
    }
    pthread_mutex_unlock(&t->lock);
    if (!room || !reply || !k->req_id) {
        json_decref(reply);
        task_free(k);
        return NULL;
    }
    memcpy(id, k->id, CG_MCP_TASK_ID_MAX);
    return reply;
}

void cg_mcp_tasks_complete(cg_mcp_tasks *t, const char *id, const char *response, size_t len)
{
    char *copy = malloc(len + 1);
    if (copy) {
        memcpy(copy, response, len);
        copy[len] = 0;
    }
    pthread_mutex_lock(&t->lock);
    task *k = NULL;
    for (task *i = t->list; i; i = i->next)
        if (!strcmp(i->id, id)) k = i;
    if (k && k->status == WORKING) {
        k->status = COMPLETED;
        k->updated = time(NULL);
        k->response = copy;
        k->response_len = copy ? len : 0;
        copy = NULL;
    }
    pthread_mutex_unlock(&t->lock);
    free(copy);
}

/* tasks/result of a terminal task: exactly what the call answered, with the request's id
 * and the related-task _meta. */
static json_t *result_reply(const task *k, const json_t *req_id)
{
    if (k->status == CANCELLED || !k->response)
        return cg_mcp_error(req_id, CG_JSONRPC_INTERNAL_ERROR,
                            k->status == CANCELLED ? "The task was cancelled by request."
                                                   : "The task's result was lost (out of memory)",
                            NULL);
    json_t *resp = cg_mcp_parse(k->response, k->response_len, NULL, 0);
    json_t *result = json_object_get(resp, "result");
    json_t *reply;
    if (result) {
        json_t *meta = json_object_get(result, "_meta");
        if (!json_is_object(meta)) {
            meta = json_object();
            json_object_set_new(result, "_meta", meta);
        }
        json_object_set_new(meta, "io.modelcontextprotocol/related-task",
                            json_pack("{s:s}", "taskId", k->id));
        reply = cg_mcp_result(req_id, json_incref(result));
    } else {
        json_t *err = json_object_get(resp, "error");
        reply = err ? json_pack("{s:s, s:O, s:O}", "jsonrpc", "2.0", "id",
                                req_id ? req_id : json_null(), "error", err)
                    : cg_mcp_error(req_id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    }
    json_decref(resp);
    return reply;
}

json_t *cg_mcp_tasks_answer(cg_mcp_tasks *t, const char *sid, cg_mcp_task_op op,
                            const char *task_id, const json_t *req_id, json_t **cancel_req_id)
{
    if (cancel_req_id) *cancel_req_id = NULL;
    json_t *reply = NULL;
    pthread_mutex_lock(&t->lock);
    sweep(t);
    if (op == CG_MCP_TASK_LIST) {
        json_t *list = json_array();
        for (task *k = t->list; list && k; k = k->next)
            if (!strcmp(k->sid, sid)) json_array_append_new(list, task_json(k));
        reply = list ? cg_mcp_result(req_id, json_pack("{s:o}", "tasks", list)) : NULL;
        pthread_mutex_unlock(&t->lock);
        return reply ? reply
                     : cg_mcp_error(req_id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    }
    task *k = find(t, sid, task_id);
    if (!k) {
        reply = cg_mcp_error(req_id, CG_JSONRPC_INVALID_PARAMS, "Invalid params: unknown taskId",
                             NULL);
    } else if (op == CG_MCP_TASK_GET) {
        reply = cg_mcp_result(req_id, task_json(k));
    } else if (op == CG_MCP_TASK_RESULT) {
        reply = k->status == WORKING ? NULL : result_reply(k, req_id);
    } else if (k->status != WORKING) { /* cancel */
        reply = cg_mcp_error(req_id, CG_JSONRPC_INVALID_PARAMS,
                             "Invalid params: the task is already in a terminal status", NULL);
    } else {
        k->status = CANCELLED;
        k->updated = time(NULL);
        if (cancel_req_id) *cancel_req_id = json_incref(k->req_id);
        reply = cg_mcp_result(req_id, task_json(k));
    }
    pthread_mutex_unlock(&t->lock);
    if (!reply && op != CG_MCP_TASK_RESULT)
        reply = cg_mcp_error(req_id, CG_JSONRPC_INTERNAL_ERROR, "Internal error", NULL);
    return reply;
}

void cg_mcp_tasks_forget_session(cg_mcp_tasks *t, const char *sid)
{
    pthread_mutex_lock(&t->lock);
    for (task **pp = &t->list; *pp;) {
        task *k = *pp;
        if (!strcmp(k->sid, sid)) { /* a call still running finds no task when it ends */
            *pp = k->next;
            t->n--;
            task_free(k);
        } else {
            pp = &k->next;
        }
    }
    pthread_mutex_unlock(&t->lock);
}
