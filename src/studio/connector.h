/*
 * connector.h — everything studio says to an ML backend, as Label Studio's
 * ml/api_connector.py says it (private to src/studio).
 *
 * The bodies (setup, predict, the START_TRAINING webhook), the calls that carry them
 * (health, setup, predict, webhook, versions, through mlclient.h), update_state (health then
 * setup, saving CO/DI/ER and the model version) and the project webhooks with their sender
 * threads. The ML API (ml_api.c) and predict-all runs (jobs.c) both use this module, so
 * neither calls the other for it. Every call is blocking and cancelled by c->stopping.
 * It sits below the handlers: it sees only a cg_studio_conn, never the app (app.h).
 */
#ifndef CG_STUDIO_CONNECTOR_H
#define CG_STUDIO_CONNECTOR_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "studio/mlclient.h"
#include "studio/store.h"

typedef struct cg_studio_webhooks cg_studio_webhooks;

/* What the connector needs from the server; the app (app.h) holds one for its lifetime. */
typedef struct cg_studio_conn {
    cg_studio_store *store;
    const char *public_url;       /* sent to backends as /setup's hostname */
    const char *admin_key;        /* sent as /setup's access_token */
    const atomic_int *stopping;   /* set at shutdown: long backend calls abort */
    cg_studio_webhooks *webhooks; /* the project webhook senders (below) */
} cg_studio_conn;

/* "<project id>.<project created_at epoch>" */
void cg_studio_project_uid(const cg_studio_project *p, char out[64]);

/* The body of POST /predict for tasks (an array, stolen): tasks, project uid, label_config,
 * params {login, password, context}. malloc'd JSON text, NULL when out of memory. */
char *cg_studio_predict_body(const cg_studio_project *p, json_t *tasks, json_t *context);

/* The calls. 0 on success with the answer in *r, -1 with r->error (and r->status when an
 * answer came); clear r with cg_studio_ml_reply_clear either way. */
int cg_studio_conn_health(const cg_studio_conn *c, const cg_studio_mlb *m, cg_studio_ml_reply *r);
int cg_studio_conn_setup(const cg_studio_conn *c, const cg_studio_mlb *m, cg_studio_ml_reply *r);
int cg_studio_conn_predict(const cg_studio_conn *c, const cg_studio_mlb *m, const char *body,
                           cg_studio_ml_reply *r);
int cg_studio_conn_train(const cg_studio_conn *c, const cg_studio_mlb *m, cg_studio_ml_reply *r);
int cg_studio_conn_versions(const cg_studio_conn *c, const cg_studio_mlb *m, cg_studio_ml_reply *r);

/* Label Studio's update_state: /health, then /setup; saves CO, DI or ER and the model
 * version. */
void cg_studio_ml_update_state(const cg_studio_conn *c, cg_studio_mlb *m);

/* ---- project webhooks ---- */

/* The senders' registry. NULL when out of memory. */
cg_studio_webhooks *cg_studio_webhooks_create(void);
/* POSTs {"action": action, ...extra, "project": {...}} to every webhook of the project on a
 * sender thread (extra is stolen; may be NULL). Nothing is sent once stopping has begun. */
void cg_studio_send_webhooks(const cg_studio_conn *c, int64_t project, const char *action,
                             json_t *extra);
/* cg_studio_send_webhooks with {"annotation": annotation (borrowed), "task": the task}. */
void cg_studio_send_annotation_webhooks(const cg_studio_conn *c, int64_t project,
                                        const char *action, json_t *annotation, int64_t task);
/* Stops sending: no new sender starts, the running ones get CG_STUDIO_WEBHOOK_GRACE_S
 * seconds to finish, then their transfers are cancelled (within about a second) and every
 * sender thread is joined. A webhook is either sent whole or its connection is closed
 * before the request is complete, so no receiver acts on half a request. NULL is fine. */
void cg_studio_webhooks_stop(cg_studio_webhooks *w);

#define CG_STUDIO_WEBHOOK_GRACE_S 5

#endif
