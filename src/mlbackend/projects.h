/*
 * projects.h — the mlbackend's per-project state: label config, Label Studio address,
 * the current model and its version, and training runs.
 *
 * Label Studio identifies a project to a backend as "<id>.<created epoch>"; the registry
 * keys projects by the id alone (cg_mlprojects_parse_id), so a backend restart or a
 * different spelling still finds the same model directory. A project is created on first
 * use and then lives as long as the registry; creating it loads its latest model version
 * from disk, so a restarted backend answers with the model it had.
 *
 * Concurrency. Predictions take a project's read lock for the time it takes to classify
 * their tasks; training never holds it while it fetches or counts, only for the pointer
 * swap that installs a new model. Training runs on its own thread, one run at a time per
 * project: a request to train while a run is going marks the project for one more run
 * after it (which will see the newer annotations), and callers may wait for "their" run.
 */
#ifndef CG_MLPROJECTS_H
#define CG_MLPROJECTS_H

#include <jansson.h>

#include "mlbackend/labelcfg.h"
#include "mlbackend/trainset.h"

/* The version string answered before any training (or when the model's labels do not
 * match the label config any more). */
#define CG_MLBACKEND_UNTRAINED "untrained"

typedef struct cg_mlprojects cg_mlprojects;
typedef struct cg_mlproject cg_mlproject;

typedef struct cg_mlprojects_options {
    const char *model_dir;  /* where versions live (copied) */
    const char *ls_url;     /* overrides /setup's hostname when non-NULL (copied) */
    const char *ls_api_key; /* overrides /setup's access_token when non-NULL (copied) */
    long export_timeout_s;  /* bound on each call to Label Studio */
} cg_mlprojects_options;

/* The outcome of a training run. */
typedef struct cg_mltrain_result {
    int finished; /* 0 when the caller stopped waiting before the run ended */
    int status;   /* HTTP status that describes it: 201 ok, 400, 502, 500 */
    long version; /* the new version when status is 201 */
    cg_trainset_stats stats;
    char error[512]; /* the reason when status is not 201 */
} cg_mltrain_result;

cg_mlprojects *cg_mlprojects_new(const cg_mlprojects_options *opt, char *err, size_t errlen);

/* Cancels running training transfers (they end within about a second), stops booked
 * reruns and wakes callers waiting for a run. Call it before stopping the server so no
 * request stays blocked; cg_mlprojects_free() calls it too. */
void cg_mlprojects_cancel(cg_mlprojects *r);

/* Cancels, waits for running training threads, then frees every project. NULL is fine. */
void cg_mlprojects_free(cg_mlprojects *r);

/* The project id in "12", "12.1700000000" or the JSON integer 12; -1 when there is none
 * or it is not a positive integer. */
long cg_mlprojects_parse_id(const json_t *v);

/* Most projects one backend keeps (each costs a model in memory). */
#define CG_MLPROJECTS_MAX 10000

/* The project, created (and its latest model loaded) on first use. NULL when out of
 * memory or past CG_MLPROJECTS_MAX projects. The pointer stays valid until
 * cg_mlprojects_free(). */
cg_mlproject *cg_mlprojects_get(cg_mlprojects *r, long id);

/* The project that most recently completed /setup, or -1. */
long cg_mlprojects_last_setup(cg_mlprojects *r);

/* Installs a label config (already parsed: taken over by the project) and the Label
 * Studio address and token that /setup carried (copied; NULL or "" keeps the old ones).
 * Writes the version predictions will now carry into version. */
void cg_mlproject_setup(cg_mlproject *p, cg_labelcfg *cfg, const char *label_config,
                        const char *hostname, const char *access_token, char *version,
                        size_t versionlen);

/* Answers a /predict: one result item per task, appended to results. cfg is the request's
 * own label config, or NULL to use the project's; p may be NULL (no project given).
 * context is the interactive-annotation context (may be NULL). -1 with err when there is
 * no label config to use. */
int cg_mlproject_predict(cg_mlproject *p, const cg_labelcfg *cfg, const json_t *tasks,
                         const json_t *context, json_t *results, char *err, size_t errlen);

/* Starts a training run (or books one after the current run) and waits up to wait_s
 * seconds for it. label_config is used when the project has none yet (may be NULL). */
void cg_mlproject_train(cg_mlproject *p, const char *label_config, double wait_s,
                        cg_mltrain_result *out);

/* Counts one annotation event. When train_every > 0 and that many have arrived since the
 * last run started, starts a run (without waiting) and returns 1; else 0. The count so
 * far goes to *pending. */
int cg_mlproject_note_annotation(cg_mlproject *p, unsigned train_every, const char *label_config,
                                 unsigned *pending);

/* The version predictions carry now, as a string. */
void cg_mlproject_version(cg_mlproject *p, char *version, size_t versionlen);

#endif
