/*
 * mlclient.h — studio's calls to ML backends, as Label Studio's api_connector makes them
 * (private to src/studio).
 *
 * Blocking calls through common/http_client.h, made from the request's own thread (the
 * server runs a thread per connection) or a predict-all worker. The rules mirror Label
 * Studio (reference §7): route joined to the backend URL with a '/', User-Agent heartex/<v>,
 * JSON bodies, basic auth only when both user and password are non-empty, connection
 * errors retried twice, per-call connect/read timeouts from ML_TIMEOUT_HEALTH,
 * ML_TIMEOUT_SETUP, ML_TIMEOUT_PREDICT and ML_CONNECTION_TIMEOUT. An error is a transport
 * failure, a non-2xx status or a non-JSON 2xx body, described the way Python requests
 * describes it ("404 Client Error: NOT FOUND for url: http://h:9090/versions").
 */
#ifndef CG_STUDIO_MLCLIENT_H
#define CG_STUDIO_MLCLIENT_H

#include <jansson.h>
#include <stdatomic.h>

typedef enum {
    CG_ML_HEALTH,  /* 1 s connect / 1 s read */
    CG_ML_SETUP,   /* 1 s / 3 s, also /versions */
    CG_ML_PREDICT, /* 1 s / 100 s, also /webhook */
} cg_studio_ml_timeout;

typedef struct cg_studio_ml_target {
    const char *url;  /* backend base URL */
    const char *user; /* basic auth, used when both are non-empty */
    const char *pass;
} cg_studio_ml_target;

typedef struct cg_studio_ml_reply {
    long status;      /* HTTP status; 0 when no response arrived */
    json_t *json;     /* parsed 2xx body, or NULL */
    char error[1024]; /* set when the call failed */
} cg_studio_ml_reply;

/* Calls method route (e.g. "POST", "setup") with body (JSON text or NULL). Returns 0 on
 * success (2xx with a JSON body in reply->json), -1 otherwise with reply->error set.
 * A non-NULL cancel that becomes non-zero aborts the call. Free with _reply_clear. */
int cg_studio_ml_call(const cg_studio_ml_target *t, const char *method, const char *route,
                      const char *body, cg_studio_ml_timeout kind, const atomic_int *cancel,
                      cg_studio_ml_reply *reply);
void cg_studio_ml_reply_clear(cg_studio_ml_reply *reply);

/* The connect and read timeouts (seconds) for a kind, after environment overrides. */
void cg_studio_ml_timeouts(cg_studio_ml_timeout kind, double *connect_s, double *read_s);

#endif
