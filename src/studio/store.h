/*
 * store.h — studio's SQLite store (private to src/studio).
 *
 * One database file in WAL mode with synchronous=FULL: every function that writes commits
 * before it returns, so whatever a handler acknowledged survives kill -9. One connection is
 * shared by all threads behind a mutex; each function holds it for its own statements only
 * (never across a call to an ML backend), so a slow backend never blocks the database.
 *
 * Rows the handlers reason about (projects, ML backends, prediction jobs) come out as C
 * structs. Rows that are only shown (tasks, annotations, predictions) come out as jansson
 * values already in Label Studio's field order.
 *
 * Return convention: 0 = done, CG_STORE_NOTFOUND = no such row, -1 = database error (logged
 * with the module name "studio").
 */
#ifndef CG_STUDIO_STORE_H
#define CG_STUDIO_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "studio/records.h"

#define CG_STORE_NOTFOUND 1

int cg_studio_store_open(const char *path, cg_studio_store **out, char *err, size_t errlen);
void cg_studio_store_close(cg_studio_store *s);
int64_t cg_studio_now_us(void);

/* meta: small key/value settings (jwt secret). *out is malloc'd. */
int cg_studio_store_meta_get(cg_studio_store *s, const char *key, char **out);
int cg_studio_store_meta_set(cg_studio_store *s, const char *key, const char *value);

/* users: the admin user (id 1) and its legacy key. */
int cg_studio_store_admin_key(cg_studio_store *s, char **key);
int cg_studio_store_admin_set_key(cg_studio_store *s, const char *key);
int cg_studio_store_user_by_key(cg_studio_store *s, const char *key, int64_t *user);
int cg_studio_store_user_exists(cg_studio_store *s, int64_t user);
json_t *cg_studio_store_user_json(cg_studio_store *s, int64_t user);

/* refresh tokens (personal access tokens) by jti. */
int cg_studio_store_pat_add(cg_studio_store *s, const char *jti, int64_t user, int64_t exp);
/* 0 when known and not blacklisted, CG_STORE_NOTFOUND otherwise. */
int cg_studio_store_pat_valid(cg_studio_store *s, const char *jti);
int cg_studio_store_pat_blacklist(cg_studio_store *s, const char *jti);
/* The user's valid (neither blacklisted nor expired) tokens, oldest first: [{token (a
 * truncated id), created_at, expires_at}] (store_items.c). */
int cg_studio_store_pat_list(cg_studio_store *s, int64_t user, json_t **out);

/* projects */
int cg_studio_store_project_create(cg_studio_store *s, cg_studio_project *p);
int cg_studio_store_project_get(cg_studio_store *s, int64_t id, cg_studio_project *p);
int cg_studio_store_project_set_model_version(cg_studio_store *s, int64_t id, const char *mv);
void cg_studio_project_clear(cg_studio_project *p);
json_t *cg_studio_store_project_json(cg_studio_store *s, int64_t id);
json_t *cg_studio_store_project_list_json(cg_studio_store *s, int64_t page, int64_t page_size);

/* tasks: import items ({"data":…,"annotations"?,"predictions"?} or a bare data object) in one
 * transaction; a bad item fails the whole import with a message in err. */
int cg_studio_store_tasks_import(cg_studio_store *s, int64_t project, json_t *items, int64_t user,
                                 json_t *counts, char *err, size_t errlen);
int cg_studio_store_task_project(cg_studio_store *s, int64_t task, int64_t *project);
json_t *cg_studio_store_task_json(cg_studio_store *s, int64_t task);
json_t *cg_studio_store_task_page_json(cg_studio_store *s, int64_t project, int64_t page,
                                       int64_t page_size, int64_t *total);
json_t *cg_studio_store_export_json(cg_studio_store *s, int64_t project, int all_tasks);
/* Up to limit tasks of project with id > after and no prediction of model_version, oldest
 * first, each in the shape sent to ML backends. */
json_t *cg_studio_store_tasks_to_predict(cg_studio_store *s, int64_t project,
                                         const char *model_version, int64_t after, int limit);
int cg_studio_store_count_to_predict(cg_studio_store *s, int64_t project, const char *model_version,
                                     int64_t *n);

/* annotations: returns the created annotation, or NULL (err says why). */
json_t *cg_studio_store_annotation_create(cg_studio_store *s, int64_t task, int64_t user,
                                          json_t *body, char *err, size_t errlen);
json_t *cg_studio_store_annotations_json(cg_studio_store *s, int64_t task);

/* predictions: filter by task or project (0 = any). */
json_t *cg_studio_store_predictions_json(cg_studio_store *s, int64_t task, int64_t project);

/* ---- single items (store_items.c) ---- */

/* Sets the project's non-NULL string fields (title, description, label_config,
 * model_version) and show_collab_predictions when it is 0 or 1. */
int cg_studio_store_project_update(cg_studio_store *s, const cg_studio_project *p);
/* 0 when a prediction of the project or one of its backends' titles is model_version. */
int cg_studio_store_model_version_known(cg_studio_store *s, int64_t project,
                                        const char *model_version);
/* Any one task of the project; CG_STORE_NOTFOUND when it has none. */
int cg_studio_store_random_task(cg_studio_store *s, int64_t project, int64_t *task);
/* The first task without an annotation (oldest first); CG_STORE_NOTFOUND when none. */
int cg_studio_store_next_task(cg_studio_store *s, int64_t project, int64_t *task);

/* A task from its data (an object) and meta (an object or NULL); *id is set. */
int cg_studio_store_task_create(cg_studio_store *s, int64_t project, json_t *data, json_t *meta,
                                int64_t *id);
/* Replaces data and/or meta (NULL = keep). */
int cg_studio_store_task_update(cg_studio_store *s, int64_t id, json_t *data, json_t *meta);

/* predictions: result is stored as given (already expanded); *id is set. */
int cg_studio_store_prediction_create(cg_studio_store *s, int64_t task, json_t *result,
                                      json_t *score, const char *model_version, int64_t *id);
json_t *cg_studio_store_prediction_json(cg_studio_store *s, int64_t id);
/* Changes the fields that are non-NULL (score may be JSON null). */
int cg_studio_store_prediction_update(cg_studio_store *s, int64_t id, json_t *result, json_t *score,
                                      const char *model_version);
int cg_studio_store_prediction_delete(cg_studio_store *s, int64_t id);
/* Imports predictions [{task, result, score?, model_version?}] of a project in one
 * transaction; a bad item (or a task of another project) fails all with err set and
 * CG_STORE_NOTFOUND. results must already be lists. */
int cg_studio_store_predictions_import(cg_studio_store *s, int64_t project, json_t *items,
                                       char *err, size_t errlen);

/* annotations by id */
json_t *cg_studio_store_annotation_json(cg_studio_store *s, int64_t id);
int cg_studio_store_annotation_task(cg_studio_store *s, int64_t id, int64_t *task,
                                    int64_t *project);
/* Changes result, was_cancelled, ground_truth, lead_time where present in body (the
 * annotator, completed_by, stays who created it). */
int cg_studio_store_annotation_update(cg_studio_store *s, int64_t id, json_t *body);
int cg_studio_store_annotation_delete(cg_studio_store *s, int64_t id);

/* ML backends */
int cg_studio_store_mlb_create(cg_studio_store *s, cg_studio_mlb *m);
int cg_studio_store_mlb_get(cg_studio_store *s, int64_t id, cg_studio_mlb *m);
/* Every column but id, project, created_at; updated_at is set to now. */
int cg_studio_store_mlb_save(cg_studio_store *s, cg_studio_mlb *m);
int cg_studio_store_mlb_delete(cg_studio_store *s, int64_t id);
/* ids of a project's backends (interactive: -1 any, 0/1 filter); *ids malloc'd. */
int cg_studio_store_mlb_ids(cg_studio_store *s, int64_t project, int interactive, int64_t **ids,
                            size_t *n);
void cg_studio_mlb_clear(cg_studio_mlb *m);

/* webhooks: one per (project, url); kept when the backend goes, as Label Studio does. */
int cg_studio_store_webhook_ensure(cg_studio_store *s, int64_t project, const char *url);
int cg_studio_store_webhook_urls(cg_studio_store *s, int64_t project, json_t **urls);

/* predict-all jobs */
int cg_studio_store_job_create(cg_studio_store *s, cg_studio_job *j);
int cg_studio_store_job_get(cg_studio_store *s, int64_t id, cg_studio_job *j);
int cg_studio_store_job_latest(cg_studio_store *s, int64_t ml_backend, cg_studio_job *j);
/* ids of queued or running jobs, oldest first. */
int cg_studio_store_jobs_unfinished(cg_studio_store *s, int64_t **ids, size_t *n);
/* Saves status, counters, cursor, error, timestamps. */
int cg_studio_store_job_save(cg_studio_store *s, cg_studio_job *j);
/* Stores a batch's predictions and the job's progress in one transaction. */
int cg_studio_store_job_commit_batch(cg_studio_store *s, cg_studio_job *j, int64_t project,
                                     int64_t ml_backend, const cg_studio_pred_in *preds, size_t n);
void cg_studio_job_clear(cg_studio_job *j);

#endif
