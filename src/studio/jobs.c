/*
 * jobs.c — predictions for all tasks, in the background (POST /api/ml/{id}/predict).
 *
 * Label Studio Enterprise answers the request at once and predicts in the background; OSS
 * has only a synchronous Data Manager action that sends every task in one /predict call,
 * which is why large projects hit proxy timeouts. Here each run is a row in predict_jobs
 * and a worker thread that:
 *   1. runs update_state (retrying a while if the backend is down) to learn the current
 *      model version;
 *   2. counts the tasks lacking a prediction of that version (the run's total);
 *   3. repeatedly takes the next batch_size such tasks after its cursor, POSTs them to
 *      /predict (retrying transient failures), and stores the predictions together with
 *      the new cursor and counters in one transaction.
 * Because progress and predictions commit together, a kill -9 loses at most the batch in
 * flight, and the next start resumes every queued or running run from its cursor.
 *
 * Reply handling follows Label Studio's: one result per task (an item may be a list of
 * predictions); a single result for a multi-task batch means the backend handles one task
 * per call, so the batch is retried task by task; any other count mismatch stores nothing
 * and counts the batch as failed. At most one run per backend is active.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/log.h"
#include "common/threadlist.h"
#include "studio/app.h"
#include "studio/connector.h"

#define CONNECT_ATTEMPTS 6 /* update_state tries before a run fails: ~31 s of backoff */
#define PREDICT_ATTEMPTS 3 /* /predict tries per batch */

typedef struct worker {
    cg_thread_node node; /* first: the thread list hands this back */
    struct cg_studio_jobs *jobs;
    int64_t job_id;
    int64_t ml_backend;
} worker;

struct cg_studio_jobs {
    cg_studio_app *app;
    pthread_mutex_t mu;
    pthread_cond_t wake; /* signalled at stop, so backoff sleeps end early */
    cg_thread_node *workers;
    int stopping;
};

/* Sleeps up to seconds; returns non-zero when the runner is stopping. */
static int nap(cg_studio_jobs *jobs, double seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)seconds;
    until.tv_nsec += (long)((seconds - (double)(time_t)seconds) * 1e9);
    if (until.tv_nsec >= 1000000000L) {
        until.tv_sec++;
        until.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&jobs->mu);
    while (!jobs->stopping && pthread_cond_timedwait(&jobs->wake, &jobs->mu, &until) == 0)
        ;
    int stop = jobs->stopping;
    pthread_mutex_unlock(&jobs->mu);
    return stop;
}

static int stopping(cg_studio_jobs *jobs)
{
    pthread_mutex_lock(&jobs->mu);
    int s = jobs->stopping;
    pthread_mutex_unlock(&jobs->mu);
    return s;
}

static void finish(cg_studio_jobs *jobs, cg_studio_job *j, const char *status, const char *error)
{
    snprintf(j->status, sizeof j->status, "%s", status);
    free(j->error);
    j->error = error ? strdup(error) : NULL;
    j->finished_at = cg_studio_now_us();
    cg_studio_store_job_save(jobs->app->store, j);
    cg_log(!strcmp(status, "completed") ? CG_LOG_INFO : CG_LOG_WARN, "studio",
           "predict job %lld %s: %lld predicted, %lld failed of %lld%s%s", (long long)j->id, status,
           (long long)j->predicted, (long long)j->failed, (long long)j->total, error ? ": " : "",
           error ? error : "");
}

/* Adds the predictions in one backend item (an object, or a list of objects) for task. */
static int add_item(json_t *item, int64_t task, const char *dflt_version, cg_studio_pred_in *out,
                    size_t *n, size_t cap)
{
    int added = 0;
    json_t *one = item;
    size_t i = 0, count = json_is_array(item) ? json_array_size(item) : 1;
    for (; i < count; i++) {
        if (json_is_array(item)) one = json_array_get(item, i);
        json_t *result = json_object_get(one, "result");
        if (!json_is_object(one) || !json_is_array(result) || *n >= cap) continue;
        json_t *score = json_object_get(one, "score");
        json_t *mv = json_object_get(one, "model_version");
        out[*n] = (cg_studio_pred_in){
            .task = task,
            .result = result,
            .has_score = json_is_number(score),
            .score = json_number_value(score),
            .model_version = json_is_string(mv) ? json_string_value(mv) : dflt_version,
        };
        (*n)++;
        added = 1;
    }
    return added;
}

/* POSTs tasks (borrowed) to /predict, retrying; 0 with the reply in *r. */
static int predict_call(cg_studio_jobs *jobs, const cg_studio_mlb *m, const cg_studio_project *p,
                        json_t *tasks, cg_studio_ml_reply *r)
{
    char *text = cg_studio_predict_body(p, json_incref(tasks), NULL);
    if (!text) {
        memset(r, 0, sizeof *r);
        snprintf(r->error, sizeof r->error, "out of memory");
        return -1;
    }
    int rc = -1;
    for (int attempt = 0; attempt < PREDICT_ATTEMPTS; attempt++) {
        rc = cg_studio_conn_predict(&jobs->app->conn, m, text, r);
        if (rc == 0 || stopping(jobs) || (r->status >= 400 && r->status < 500)) break;
        cg_log(CG_LOG_WARN, "studio", "predict batch failed (attempt %d): %s", attempt + 1,
               r->error);
        if (nap(jobs, 1 << attempt)) break;
    }
    free(text);
    return rc;
}

/* Predicts one batch and commits it with the job's progress. 0 = go on, 1 = run ended. */
static int run_batch(cg_studio_jobs *jobs, cg_studio_job *j, const cg_studio_mlb *m,
                     const cg_studio_project *p, json_t *tasks)
{
    size_t n = json_array_size(tasks), cap = n * 4 + 16, np = 0;
    cg_studio_pred_in *preds = calloc(cap, sizeof *preds);
    json_t *replies = json_array(); /* keeps every reply alive until the commit */
    const char *mv = j->model_version;
    int64_t ok = 0, bad = 0,
            last = json_integer_value(json_object_get(json_array_get(tasks, n - 1), "id"));
    int ended = 0;
    cg_studio_ml_reply r;
    if (!preds || !replies) {
        finish(jobs, j, "failed", "out of memory");
        ended = 1;
        goto batch_out;
    }
    if (predict_call(jobs, m, p, tasks, &r) != 0) {
        if (!stopping(jobs)) finish(jobs, j, "failed", r.error);
        cg_studio_ml_reply_clear(&r);
        ended = 1;
        goto batch_out;
    }
    json_array_append_new(replies, r.json);
    json_t *results = json_object_get(r.json, "results");
    size_t nr = json_array_size(results);
    if (nr == n) {
        for (size_t i = 0; i < n; i++) {
            int64_t task = json_integer_value(json_object_get(json_array_get(tasks, i), "id"));
            if (add_item(json_array_get(results, i), task, mv, preds, &np, cap)) ok++;
            else bad++;
        }
    } else if (nr == 1 && n > 1) {
        /* One result for many tasks: the backend predicts one task per call (older
         * backends read tasks[0] only), so the result is the first task's and the others
         * are sent one by one: n calls in all, as Label Studio makes. */
        int64_t first = json_integer_value(json_object_get(json_array_get(tasks, 0), "id"));
        if (add_item(json_array_get(results, 0), first, mv, preds, &np, cap)) ok++;
        else bad++;
        for (size_t i = 1; i < n && !stopping(jobs); i++) {
            json_t *one = json_pack("[O]", json_array_get(tasks, i));
            int64_t task = json_integer_value(json_object_get(json_array_get(tasks, i), "id"));
            cg_studio_ml_reply r1;
            int got = 0;
            if (one && predict_call(jobs, m, p, one, &r1) == 0) {
                json_array_append_new(replies, r1.json);
                json_t *res1 = json_object_get(r1.json, "results");
                if (json_array_size(res1) == 1)
                    got = add_item(json_array_get(res1, 0), task, mv, preds, &np, cap);
            }
            json_decref(one);
            if (got) ok++;
            else bad++;
        }
        if (stopping(jobs)) {
            ended = 1;
            goto batch_out;
        }
    } else {
        cg_log(CG_LOG_WARN, "studio",
               "predict job %lld: backend returned %zu results for %zu "
               "tasks; nothing stored for this batch",
               (long long)j->id, nr, n);
        bad = (int64_t)n;
    }
    j->predicted += ok;
    j->failed += bad;
    j->cursor = last;
    int rc = cg_studio_store_job_commit_batch(jobs->app->store, j, m->project, m->id, preds, np);
    if (rc == CG_STORE_NOTFOUND) {
        cg_log(CG_LOG_INFO, "studio", "predict job %lld was cancelled", (long long)j->id);
        ended = 1;
    } else if (rc != 0) {
        finish(jobs, j, "failed", "database error while storing predictions");
        ended = 1;
    }
batch_out:
    free(preds);
    json_decref(replies);
    return ended;
}

/* Brings the backend to CO, retrying with backoff. 0 when connected. */
static int connect_backend(cg_studio_jobs *jobs, cg_studio_job *j, cg_studio_mlb *m)
{
    for (int attempt = 0; attempt < CONNECT_ATTEMPTS; attempt++) {
        cg_studio_ml_update_state(&jobs->app->conn, m);
        if (!strcmp(m->state, "CO")) return 0;
        if (attempt + 1 < CONNECT_ATTEMPTS && nap(jobs, 1 << attempt)) return -1;
    }
    char err[1200];
    snprintf(err, sizeof err, "ML backend is not connected (state %s)%s%s", m->state,
             m->error_message ? ": " : "", m->error_message ? m->error_message : "");
    finish(jobs, j, "failed", err);
    return -1;
}

static void run_job(cg_studio_jobs *jobs, int64_t job_id)
{
    cg_studio_app *app = jobs->app;
    cg_studio_job j;
    cg_studio_mlb m = {0};
    cg_studio_project p = {0};
    if (cg_studio_store_job_get(app->store, job_id, &j) != 0) return;
    if (strcmp(j.status, "queued") && strcmp(j.status, "running")) goto run_out;
    if (cg_studio_store_mlb_get(app->store, j.ml_backend, &m) != 0) {
        finish(jobs, &j, "cancelled", "ML backend deleted");
        goto run_out;
    }
    if (cg_studio_store_project_get(app->store, m.project, &p) != 0) {
        finish(jobs, &j, "failed", "project not found");
        goto run_out;
    }
    if (connect_backend(jobs, &j, &m) != 0) goto run_out;
    const char *mv = m.model_version ? m.model_version : "";
    int resumed = j.started_at != 0;
    if (strcmp(j.model_version ? j.model_version : "", mv)) {
        free(j.model_version); /* a new version: its tasks are all to do */
        j.model_version = strdup(mv);
        j.cursor = 0;
        resumed = 0;
    }
    if (!resumed) {
        int64_t total = 0;
        cg_studio_store_count_to_predict(app->store, m.project, mv, &total);
        j.total = total + j.predicted + j.failed;
        j.started_at = cg_studio_now_us();
    }
    snprintf(j.status, sizeof j.status, "running");
    if (cg_studio_store_job_save(app->store, &j) != 0) goto run_out;
    cg_log(CG_LOG_INFO, "studio",
           "predict job %lld %s: backend %lld, project %lld, model "
           "version '%s', %lld tasks, batch size %d",
           (long long)j.id, resumed ? "resumed" : "started", (long long)m.id, (long long)m.project,
           mv, (long long)(j.total - j.predicted - j.failed), j.batch_size);
    int64_t last_log = cg_studio_now_us();
    while (!stopping(jobs)) {
        json_t *tasks = cg_studio_store_tasks_to_predict(app->store, m.project, mv, j.cursor,
                                                         j.batch_size);
        if (!tasks) {
            finish(jobs, &j, "failed", "database error while reading tasks");
            break;
        }
        if (json_array_size(tasks) == 0) {
            json_decref(tasks);
            finish(jobs, &j, "completed", NULL);
            break;
        }
        int ended = run_batch(jobs, &j, &m, &p, tasks);
        json_decref(tasks);
        if (ended) break;
        int64_t now = cg_studio_now_us();
        if (now - last_log >= 5000000) {
            last_log = now;
            cg_log(CG_LOG_INFO, "studio", "predict job %lld: %lld/%lld predicted, %lld failed",
                   (long long)j.id, (long long)j.predicted, (long long)j.total,
                   (long long)j.failed);
        }
    }
run_out:
    cg_studio_project_clear(&p);
    cg_studio_mlb_clear(&m);
    cg_studio_job_clear(&j);
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    run_job(w->jobs, w->job_id);
    cg_threads_done(&w->node);
    return NULL;
}

static void worker_free(cg_thread_node *n)
{
    free(n);
}

static int spawn_locked(cg_studio_jobs *jobs, int64_t job_id, int64_t ml_backend)
{
    worker *w = calloc(1, sizeof *w);
    if (!w) return -1;
    w->jobs = jobs;
    w->job_id = job_id;
    w->ml_backend = ml_backend;
    if (cg_threads_start(&jobs->workers, &w->node, worker_main) != 0) {
        free(w);
        return -1;
    }
    return 0;
}

cg_studio_jobs *cg_studio_jobs_create(cg_studio_app *app)
{
    cg_studio_jobs *jobs = calloc(1, sizeof *jobs);
    if (!jobs) return NULL;
    jobs->app = app;
    pthread_mutex_init(&jobs->mu, NULL);
    pthread_cond_init(&jobs->wake, NULL);
    return jobs;
}

int cg_studio_jobs_resume(cg_studio_jobs *jobs)
{
    int64_t *ids = NULL;
    size_t n = 0;
    if (cg_studio_store_jobs_unfinished(jobs->app->store, &ids, &n) != 0) return -1;
    pthread_mutex_lock(&jobs->mu);
    for (size_t i = 0; i < n; i++) {
        cg_studio_job j;
        if (cg_studio_store_job_get(jobs->app->store, ids[i], &j) != 0) continue;
        cg_log(CG_LOG_INFO, "studio", "resuming predict job %lld (%lld/%lld done)", (long long)j.id,
               (long long)(j.predicted + j.failed), (long long)j.total);
        if (spawn_locked(jobs, j.id, j.ml_backend) != 0)
            cg_log(CG_LOG_ERROR, "studio", "cannot start a worker for predict job %lld",
                   (long long)j.id);
        cg_studio_job_clear(&j);
    }
    pthread_mutex_unlock(&jobs->mu);
    free(ids);
    return 0;
}

int cg_studio_jobs_submit(cg_studio_jobs *jobs, const cg_studio_mlb *m, int batch_size,
                          cg_studio_job *job)
{
    int rc = -1;
    pthread_mutex_lock(&jobs->mu);
    cg_threads_reap(&jobs->workers, worker_free);
    for (cg_thread_node *n = jobs->workers; n; n = n->next) {
        worker *w = (worker *)n;
        if (w->ml_backend == m->id && !atomic_load(&n->done)) {
            rc = cg_studio_store_job_get(jobs->app->store, w->job_id, job);
            goto submit_out;
        }
    }
    memset(job, 0, sizeof *job);
    job->ml_backend = m->id;
    job->project = m->project;
    job->model_version = strdup(m->model_version ? m->model_version : "");
    job->batch_size = batch_size;
    snprintf(job->status, sizeof job->status, "queued");
    if (cg_studio_store_job_create(jobs->app->store, job) != 0) goto submit_out;
    if (spawn_locked(jobs, job->id, m->id) != 0) {
        snprintf(job->status, sizeof job->status, "failed");
        job->error = strdup("cannot start a worker thread");
        job->finished_at = cg_studio_now_us();
        cg_studio_store_job_save(jobs->app->store, job);
    }
    rc = 0;
submit_out:
    pthread_mutex_unlock(&jobs->mu);
    return rc;
}

void cg_studio_jobs_stop(cg_studio_jobs *jobs)
{
    if (!jobs) return;
    pthread_mutex_lock(&jobs->mu);
    jobs->stopping = 1;
    pthread_cond_broadcast(&jobs->wake);
    cg_thread_node *all = jobs->workers;
    jobs->workers = NULL;
    pthread_mutex_unlock(&jobs->mu);
    cg_threads_join_all(all, worker_free);
    pthread_cond_destroy(&jobs->wake);
    pthread_mutex_destroy(&jobs->mu);
    free(jobs);
}
