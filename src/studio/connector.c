/*
 * connector.c — what studio says to ML backends. See connector.h.
 *
 * Webhook senders are joinable threads on a common/threadlist.h list; a finished one is
 * joined by the next send (or by stop), so threads never pile up and stop can wait for
 * every one.
 */
#include "studio/connector.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/threadlist.h"

void cg_studio_project_uid(const cg_studio_project *p, char out[64])
{
    snprintf(out, 64, "%lld.%lld", (long long)p->id, (long long)(p->created_at / 1000000));
}

char *cg_studio_predict_body(const cg_studio_project *p, json_t *tasks, json_t *context)
{
    char uid[64];
    cg_studio_project_uid(p, uid);
    json_t *b = json_pack("{s:o,s:s,s:s,s:{s:n,s:n,s:O}}", "tasks", tasks, "project", uid,
                          "label_config", p->label_config ? p->label_config : "", "params", "login",
                          "password", "context", context ? context : json_null());
    char *text = b ? json_dumps(b, CG_STUDIO_JSON) : NULL;
    json_decref(b);
    return text;
}

static int fail(cg_studio_ml_reply *r, const char *msg)
{
    memset(r, 0, sizeof *r);
    snprintf(r->error, sizeof r->error, "%s", msg);
    return -1;
}

/* One call to backend m; body is JSON text or NULL. */
static int call(const cg_studio_conn *c, const cg_studio_mlb *m, const char *method,
                const char *route, const char *body, cg_studio_ml_timeout kind,
                cg_studio_ml_reply *r)
{
    cg_studio_ml_target t = {m->url, m->basic_auth_user, m->basic_auth_pass};
    return cg_studio_ml_call(&t, method, route, body, kind, c->stopping, r);
}

/* Sends value (stolen) as JSON to route. */
static int post_json(const cg_studio_conn *c, const cg_studio_mlb *m, const char *route,
                     json_t *value, cg_studio_ml_timeout kind, cg_studio_ml_reply *r)
{
    char *text = value ? json_dumps(value, CG_STUDIO_JSON) : NULL;
    json_decref(value);
    if (!text) return fail(r, "out of memory");
    int rc = call(c, m, "POST", route, text, kind, r);
    free(text);
    return rc;
}

int cg_studio_conn_health(const cg_studio_conn *c, const cg_studio_mlb *m, cg_studio_ml_reply *r)
{
    return call(c, m, "GET", "health", NULL, CG_ML_HEALTH, r);
}

int cg_studio_conn_setup(const cg_studio_conn *c, const cg_studio_mlb *m, cg_studio_ml_reply *r)
{
    cg_studio_project p;
    if (cg_studio_store_project_get(c->store, m->project, &p) != 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "project %lld not found", (long long)m->project);
        return fail(r, msg);
    }
    char uid[64];
    cg_studio_project_uid(&p, uid);
    json_t *extra = m->extra_params ? json_loads(m->extra_params, JSON_DECODE_ANY, NULL) : NULL;
    json_t *body = json_pack("{s:s,s:s,s:s,s:s,s:o}", "project", uid, "schema",
                             p.label_config ? p.label_config : "", "hostname", c->public_url,
                             "access_token", c->admin_key, "extra_params",
                             extra ? extra : json_null());
    cg_studio_project_clear(&p);
    return post_json(c, m, "setup", body, CG_ML_SETUP, r);
}

int cg_studio_conn_predict(const cg_studio_conn *c, const cg_studio_mlb *m, const char *body,
                           cg_studio_ml_reply *r)
{
    return call(c, m, "POST", "predict", body, CG_ML_PREDICT, r);
}

int cg_studio_conn_train(const cg_studio_conn *c, const cg_studio_mlb *m, cg_studio_ml_reply *r)
{
    json_t *payload = json_pack("{s:s,s:o}", "action", "START_TRAINING", "project",
                                cg_studio_store_project_json(c->store, m->project));
    return post_json(c, m, "webhook", payload, CG_ML_PREDICT, r);
}

int cg_studio_conn_versions(const cg_studio_conn *c, const cg_studio_mlb *m, cg_studio_ml_reply *r)
{
    return call(c, m, "GET", "versions", NULL, CG_ML_SETUP, r);
}

static void set_str(char **dst, const char *v)
{
    free(*dst);
    *dst = v ? strdup(v) : NULL;
}

void cg_studio_ml_update_state(const cg_studio_conn *c, cg_studio_mlb *m)
{
    cg_studio_ml_reply r;
    if (cg_studio_conn_health(c, m, &r) != 0) {
        snprintf(m->state, sizeof m->state, "DI");
    } else {
        cg_studio_ml_reply_clear(&r);
        if (cg_studio_conn_setup(c, m, &r) != 0) {
            snprintf(m->state, sizeof m->state, "ER");
            set_str(&m->error_message, r.error);
        } else {
            snprintf(m->state, sizeof m->state, "CO");
            set_str(&m->error_message, NULL);
            if (m->auto_update) {
                json_t *mv = json_object_get(r.json, "model_version");
                set_str(&m->model_version, json_is_string(mv) ? json_string_value(mv) : NULL);
            }
        }
    }
    cg_studio_ml_reply_clear(&r);
    cg_studio_store_mlb_save(c->store, m);
}

/* ---- webhooks -------------------------------------------------------------------------- */

typedef struct sender {
    cg_thread_node node; /* first: the thread list hands this back */
    struct cg_studio_webhooks *reg;
    json_t *urls;
    char *payload;
} sender;

struct cg_studio_webhooks {
    pthread_mutex_t mu;
    pthread_cond_t idle; /* signalled when a sender ends */
    cg_thread_node *senders;
    int running;
    int closed;        /* stop has begun: no new sender */
    atomic_int cancel; /* the grace is over: running transfers abort */
};

cg_studio_webhooks *cg_studio_webhooks_create(void)
{
    cg_studio_webhooks *w = calloc(1, sizeof *w);
    if (!w) return NULL;
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->idle, NULL);
    return w;
}

static void sender_free(sender *s)
{
    json_decref(s->urls);
    free(s->payload);
    free(s);
}

static void *sender_main(void *arg)
{
    sender *s = arg;
    size_t i;
    json_t *u;
    json_array_foreach(s->urls, i, u)
    {
        if (atomic_load(&s->reg->cancel)) break;
        cg_studio_ml_target t = {json_string_value(u), NULL, NULL};
        cg_studio_ml_reply r;
        if (cg_studio_ml_call(&t, "POST", "", s->payload, CG_ML_PREDICT, &s->reg->cancel, &r) != 0)
            cg_log(CG_LOG_WARN, "studio", "webhook %s failed: %s", json_string_value(u), r.error);
        cg_studio_ml_reply_clear(&r);
    }
    pthread_mutex_lock(&s->reg->mu);
    s->reg->running--;
    cg_threads_done(&s->node);
    pthread_cond_broadcast(&s->reg->idle);
    pthread_mutex_unlock(&s->reg->mu);
    return NULL;
}

static void release_sender(cg_thread_node *n)
{
    sender_free((sender *)n);
}

/* Starts a sender for s; takes s in every case. */
static void start_sender(cg_studio_webhooks *w, sender *s)
{
    pthread_mutex_lock(&w->mu);
    cg_threads_reap(&w->senders, release_sender);
    s->reg = w;
    if (!w->closed && cg_threads_start(&w->senders, &s->node, sender_main) == 0) {
        w->running++;
        s = NULL;
    }
    pthread_mutex_unlock(&w->mu);
    if (s) {
        cg_log(CG_LOG_WARN, "studio", "webhooks not sent: studio is stopping or out of threads");
        sender_free(s);
    }
}

void cg_studio_send_webhooks(const cg_studio_conn *c, int64_t project, const char *action,
                             json_t *extra)
{
    json_t *urls = NULL;
    json_t *payload = NULL;
    sender *s = NULL;
    if (!c->webhooks || cg_studio_store_webhook_urls(c->store, project, &urls) != 0 ||
        json_array_size(urls) == 0)
        goto webhooks_out;
    payload = json_pack("{s:s}", "action", action);
    if (extra) json_object_update(payload, extra);
    json_object_set_new(payload, "project", cg_studio_store_project_json(c->store, project));
    s = calloc(1, sizeof *s);
    if (!s || !payload || !(s->payload = json_dumps(payload, CG_STUDIO_JSON))) goto webhooks_out;
    s->urls = urls;
    urls = NULL;
    start_sender(c->webhooks, s);
    s = NULL;
webhooks_out:
    if (s) sender_free(s);
    json_decref(urls);
    json_decref(payload);
    json_decref(extra);
}

void cg_studio_send_annotation_webhooks(const cg_studio_conn *c, int64_t project,
                                        const char *action, json_t *annotation, int64_t task)
{
    json_t *t = cg_studio_store_task_json(c->store, task);
    cg_studio_send_webhooks(
        c, project, action,
        json_pack("{s:O,s:o}", "annotation", annotation, "task", t ? t : json_null()));
}

void cg_studio_webhooks_stop(cg_studio_webhooks *w)
{
    if (!w) return;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* pthread_cond_timedwait's clock */
    until.tv_sec += CG_STUDIO_WEBHOOK_GRACE_S;
    pthread_mutex_lock(&w->mu);
    w->closed = 1;
    while (w->running > 0 && pthread_cond_timedwait(&w->idle, &w->mu, &until) == 0)
        ;
    if (w->running > 0)
        cg_log(CG_LOG_WARN, "studio", "%d webhook sender(s) still running after %d s: cancelled",
               w->running, CG_STUDIO_WEBHOOK_GRACE_S);
    atomic_store(&w->cancel, 1);
    cg_thread_node *all = w->senders;
    w->senders = NULL;
    pthread_mutex_unlock(&w->mu);
    cg_threads_join_all(all, release_sender);
    pthread_cond_destroy(&w->idle);
    pthread_mutex_destroy(&w->mu);
    free(w);
}
