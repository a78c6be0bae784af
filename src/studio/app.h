/*
 * app.h — what studio's request handlers share (private to src/studio).
 *
 * One cg_studio_app lives for the whole server: the store, the secrets, the server's own
 * base URL and the predict-all runner. Handlers are plain functions of (app, request,
 * response, user); studio.c routes to them after authentication. The reply helpers build
 * Label Studio's error body ({"id","status_code","version","detail","exc_info"[,
 * "validation_errors"]}) and its HTML 404 so every handler answers errors the same way.
 */
#ifndef CG_STUDIO_APP_H
#define CG_STUDIO_APP_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdint.h>

#include "common/httpd.h"
#include "studio/connector.h"
#include "studio/mlclient.h"
#include "studio/render.h"
#include "studio/store.h"

typedef struct cg_studio_app cg_studio_app;
typedef struct cg_studio_jobs cg_studio_jobs;

struct cg_studio_app {
    cg_studio_store *store;
    char public_url[512]; /* sent to backends as /setup's hostname */
    char admin_key[256];  /* the admin's legacy token; sent as /setup's access_token */
    char jwt_secret[65];  /* HS256 key for personal and access tokens */
    cg_studio_jobs *jobs;
    atomic_int stopping; /* set at shutdown: long backend calls abort */
    cg_studio_conn conn; /* connector.h's view of the above; owns the webhook senders */
};

/* ---- replies (reply.c) ---- */

/* Sends value (stolen) as compact JSON, as Django REST framework renders it. */
void cg_studio_reply(cg_http_response *res, int status, json_t *value);
/* Label Studio's error body. validation_errors (stolen) may be NULL. */
void cg_studio_reply_error(cg_http_response *res, int status, const char *detail,
                           json_t *validation_errors);
/* A failed store read: rc < 0 is a 500 "database error", else a 404 with not_found. */
void cg_studio_reply_lookup_error(cg_http_response *res, int rc, const char *not_found);
/* Reads project id into *p (NULL: only checks it exists). On failure replies Label Studio's
 * 404 "No Project matches the given query." (500 on a database error) and returns -1. */
int cg_studio_project_or_404(cg_studio_app *app, int64_t id, cg_studio_project *p,
                             cg_http_response *res);
/* {"field": ["message"]} validation error, 400. */
void cg_studio_reply_field_error(cg_http_response *res, const char *field, const char *msg);
/* Django's HTML 404 page (unknown route, non-integer id). */
void cg_studio_reply_html404(cg_http_response *res);
/* Parses the body as Django REST framework would: JSON (any value), form-urlencoded or
 * multipart/form-data without files (an object of strings), or nothing. On failure replies (400/415) and returns NULL. An empty
 * body gives an empty object. */
json_t *cg_studio_parse_body(const cg_http_request *req, cg_http_response *res);
/* cg_studio_parse_body, then DRF's 400 "Invalid data. Expected a dictionary, but got list."
 * unless the body is an object. NULL after replying. */
json_t *cg_studio_object_body(const cg_http_request *req, cg_http_response *res);
/* Whether the body is an HTML form (urlencoded or multipart): Django REST framework reads
 * a boolean field left out of a form as false on create. */
int cg_studio_body_is_form(const cg_http_request *req);
/* A Django REST framework field error: appends msg to errors[field] (a list). */
void cg_studio_add_error(json_t *errors, const char *field, const char *msg);
/* Python's type name for a JSON value, for DRF's "got type"/"received" messages. */
const char *cg_studio_py_type(json_t *v);
/* Parses a decimal id ("12"); 0 when it is not a positive integer. */
int64_t cg_studio_parse_id(const char *s);
/* A v4 UUID string. */
void cg_studio_uuid4(char out[37]);

/* ---- ML backends (ml_api.c; what is said to them is connector.h) ---- */

void cg_studio_api_ml_list(cg_studio_app *app, const cg_http_request *req, cg_http_response *res);
void cg_studio_api_ml_create(cg_studio_app *app, const cg_http_request *req, cg_http_response *res);
void cg_studio_api_ml_get(cg_studio_app *app, int64_t id, cg_http_response *res);
void cg_studio_api_ml_update(cg_studio_app *app, int64_t id, const cg_http_request *req,
                             cg_http_response *res);
void cg_studio_api_ml_delete(cg_studio_app *app, int64_t id, cg_http_response *res);
void cg_studio_api_ml_interactive(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                  cg_http_response *res);
void cg_studio_api_ml_predict(cg_studio_app *app, int64_t id, const cg_http_request *req,
                              cg_http_response *res);
void cg_studio_api_ml_predict_status(cg_studio_app *app, int64_t id, cg_http_response *res);
void cg_studio_api_ml_predict_test(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                   cg_http_response *res);
void cg_studio_api_ml_train(cg_studio_app *app, int64_t id, cg_http_response *res);
void cg_studio_api_ml_versions(cg_studio_app *app, int64_t id, cg_http_response *res);

/* ---- projects, tasks, annotations, predictions, tokens (lsapi.c) ---- */

void cg_studio_api_projects_create(cg_studio_app *app, const cg_http_request *req,
                                   cg_http_response *res, int64_t user);
void cg_studio_api_projects_list(cg_studio_app *app, const cg_http_request *req,
                                 cg_http_response *res);
void cg_studio_api_project_get(cg_studio_app *app, int64_t id, cg_http_response *res);
void cg_studio_api_project_import(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                  cg_http_response *res, int64_t user);
void cg_studio_api_project_tasks(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                 cg_http_response *res);
void cg_studio_api_tasks_list(cg_studio_app *app, const cg_http_request *req,
                              cg_http_response *res);
void cg_studio_api_project_export(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                  cg_http_response *res);
void cg_studio_api_task_get(cg_studio_app *app, int64_t id, cg_http_response *res);
void cg_studio_api_task_annotations(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                    cg_http_response *res, int64_t user);
void cg_studio_api_predictions(cg_studio_app *app, const cg_http_request *req,
                               cg_http_response *res);
void cg_studio_api_token_create(cg_studio_app *app, cg_http_response *res, int64_t user);
void cg_studio_api_token_list(cg_studio_app *app, cg_http_response *res, int64_t user);
void cg_studio_api_token_rotate(cg_studio_app *app, const cg_http_request *req,
                                cg_http_response *res, int64_t user);
void cg_studio_api_token_refresh(cg_studio_app *app, const cg_http_request *req,
                                 cg_http_response *res);
void cg_studio_api_token_blacklist(cg_studio_app *app, const cg_http_request *req,
                                   cg_http_response *res);

/* ---- single items (items_api.c) ---- */

void cg_studio_api_project_update(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                  cg_http_response *res);
void cg_studio_api_project_next(cg_studio_app *app, int64_t id, cg_http_response *res);
void cg_studio_api_project_import_predictions(cg_studio_app *app, int64_t id,
                                              const cg_http_request *req, cg_http_response *res);
void cg_studio_api_tasks_create(cg_studio_app *app, const cg_http_request *req,
                                cg_http_response *res);
void cg_studio_api_task_update(cg_studio_app *app, int64_t id, const cg_http_request *req,
                               cg_http_response *res);
void cg_studio_api_predictions_create(cg_studio_app *app, const cg_http_request *req,
                                      cg_http_response *res);
/* GET, PUT/PATCH, DELETE /api/predictions/{id}/ */
void cg_studio_api_prediction(cg_studio_app *app, int64_t id, const cg_http_request *req,
                              cg_http_response *res);
/* GET, PUT/PATCH, DELETE /api/annotations/{id}/ (updates and deletes reach the webhooks) */
void cg_studio_api_annotation(cg_studio_app *app, int64_t id, const cg_http_request *req,
                              cg_http_response *res);

/* ---- authentication (auth.c) ---- */

/* Authenticates a request as Label Studio does (Token, X-Api-Key, Bearer). Returns the user
 * id, or 0 after writing the 401 into res. */
int64_t cg_studio_authenticate(cg_studio_app *app, const cg_http_request *req,
                               cg_http_response *res);
/* Mints a personal access token (a refresh JWT) for user. malloc'd or NULL. */
char *cg_studio_pat_mint(cg_studio_app *app, int64_t user);
/* Exchanges a refresh token for a 5-minute access token. NULL with err set on failure. */
char *cg_studio_pat_refresh(cg_studio_app *app, const char *refresh, char *err, size_t errlen);

/* ---- predict-all runs (jobs.c) ---- */

/* Creates the runner (no thread yet). NULL when out of memory. */
cg_studio_jobs *cg_studio_jobs_create(cg_studio_app *app);
/* Starts a worker for every queued or running run in the store (after a restart). */
int cg_studio_jobs_resume(cg_studio_jobs *jobs);
/* Starts a run for a backend, or returns the one already going. *job is filled either way.
 * Returns 0, or -1 on a database error. */
int cg_studio_jobs_submit(cg_studio_jobs *jobs, const cg_studio_mlb *m, int batch_size,
                          cg_studio_job *job);
/* Stops workers after their current batch; unfinished runs stay resumable. NULL is fine. */
void cg_studio_jobs_stop(cg_studio_jobs *jobs);

#endif
