/*
 * records.h — studio's records and Label Studio's constants (private to src/studio).
 *
 * The lowest studio header: the structs the store fills and the handlers and renderers
 * read, the Label Studio version studio reports and how it writes JSON. The store
 * (store.h), the renderers (render.h) and the ML client (mlclient.h) all build on it, so
 * none of them has to include a header above it.
 */
#ifndef CG_STUDIO_RECORDS_H
#define CG_STUDIO_RECORDS_H

#include <jansson.h>
#include <stdint.h>

/* The Label Studio version studio reports (error bodies, User-Agent: heartex/<version>). */
#define CG_STUDIO_LS_VERSION "1.23.0"

/* How studio writes JSON: compact like Django REST framework, and reals with 16 significant
 * digits so 0.55 stays 0.55 (jansson's default 17 prints 0.55000000000000004). */
#define CG_STUDIO_JSON (JSON_COMPACT | JSON_REAL_PRECISION(16))

typedef struct cg_studio_store cg_studio_store;

typedef struct cg_studio_project {
    int64_t id;
    char *title;
    char *description;
    char *label_config;
    char *model_version;
    int64_t created_by;
    int64_t created_at; /* microseconds since the epoch, like every timestamp here */
    int64_t updated_at;
    int show_collab_predictions; /* a new backend's title becomes an empty model_version */
} cg_studio_project;

/* An ML backend row. NULL strings are JSON null. */
typedef struct cg_studio_mlb {
    int64_t id;
    int64_t project;
    char state[3]; /* CO, DI, ER, TR, PR */
    int is_interactive;
    char *url;
    char *error_message;
    char *title;
    char *auth_method; /* NONE or BASIC_AUTH */
    char *basic_auth_user;
    char *basic_auth_pass; /* write-only: never returned */
    char *description;
    char *extra_params; /* JSON text, NULL = null */
    char *model_version;
    double timeout;
    int64_t created_at;
    int64_t updated_at;
    int auto_update;
} cg_studio_mlb;

/* A predict-all run. status: queued, running, completed, failed, cancelled. */
typedef struct cg_studio_job {
    int64_t id;
    int64_t ml_backend;
    int64_t project;
    char *model_version;
    int batch_size;
    char status[12];
    int64_t total;     /* tasks lacking a prediction of model_version at start */
    int64_t predicted; /* tasks that got one */
    int64_t failed;    /* tasks the backend gave no usable prediction for */
    int64_t cursor;    /* last task id handled: the run resumes after it */
    char *error;
    int64_t created_at, started_at, finished_at, updated_at;
} cg_studio_job;

/* A prediction the ML backend returned, ready to store. */
typedef struct cg_studio_pred_in {
    int64_t task;
    json_t *result; /* borrowed */
    int has_score;
    double score;
    const char *model_version; /* borrowed; NULL = "" */
} cg_studio_pred_in;

#endif
