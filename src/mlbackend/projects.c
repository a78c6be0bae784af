/*
 * projects.c — per-project models, predictions and training runs.
 *
 * Two locks, each with one job. The registry mutex guards the project list and the
 * small mutable facts a request or a training thread reads and writes briefly: the raw
 * label config, Label Studio address and token, and the training bookkeeping (is a run
 * going, is another booked, how many ran, how the last one ended). Each project's
 * rwlock guards what predictions read: the parsed label config and the model with its
 * version. Lock order, when both are needed: registry mutex first (in practice no code
 * path holds both).
 *
 * A training run: snapshot config and credentials under the mutex, fetch the export,
 * count it into a fresh model, save it as the next version on disk, then swap it in under
 * the write lock. Everything slow happens with no lock held.
 */
#include "mlbackend/projects.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/buf.h"
#include "common/log.h"
#include "mlbackend/lsclient.h"
#include "mlbackend/modelstore.h"
#include "mlbackend/textclf.h"

struct cg_mlproject {
    long id;
    cg_mlprojects *reg;
    struct cg_mlproject *next;
    /* guarded by lock */
    pthread_rwlock_t lock;
    cg_labelcfg cfg;
    int has_cfg;
    cg_textclf *model; /* NULL = untrained */
    long version;      /* version of model; 0 when untrained */
    /* guarded by reg->mu */
    char *label_config;
    char *hostname;
    char *token;
    int training; /* a training thread runs for this project */
    int rerun;    /* run once more when the current run ends */
    unsigned long runs_started;
    unsigned long runs_finished;
    cg_mltrain_result last;
    unsigned pending_annotations;
};

struct cg_mlprojects {
    char *model_dir;
    char *ls_url;
    char *ls_api_key;
    long timeout_s;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* signalled when a run ends or a thread exits */
    cg_mlproject *head;
    atomic_long last_setup; /* written under mu, read without */
    int threads;            /* training threads alive */
    int n_projects;
    atomic_int stopping; /* set by cg_mlprojects_free: cancels transfers */
};

/* ---- registry -------------------------------------------------------------------- */

static char *strdup_or_null(const char *s)
{
    return s ? strdup(s) : NULL;
}

cg_mlprojects *cg_mlprojects_new(const cg_mlprojects_options *opt, char *err, size_t errlen)
{
    cg_mlprojects *r = calloc(1, sizeof *r);
    if (!r) goto mlprojects_new_oom;
    r->model_dir = strdup(opt->model_dir);
    r->ls_url = strdup_or_null(opt->ls_url);
    r->ls_api_key = strdup_or_null(opt->ls_api_key);
    r->timeout_s = opt->export_timeout_s > 0 ? opt->export_timeout_s : 120;
    r->last_setup = -1;
    if (!r->model_dir || (opt->ls_url && !r->ls_url) || (opt->ls_api_key && !r->ls_api_key))
        goto mlprojects_new_oom;
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
    return r;
mlprojects_new_oom:
    if (r) {
        free(r->model_dir);
        free(r->ls_url);
        free(r->ls_api_key);
        free(r);
    }
    snprintf(err, errlen, "out of memory");
    return NULL;
}

static void project_free(cg_mlproject *p)
{
    pthread_rwlock_destroy(&p->lock);
    cg_labelcfg_free(&p->cfg);
    cg_textclf_free(p->model);
    free(p->label_config);
    free(p->hostname);
    free(p->token);
    free(p);
}

void cg_mlprojects_cancel(cg_mlprojects *r)
{
    pthread_mutex_lock(&r->mu);
    atomic_store(&r->stopping, 1);
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

void cg_mlprojects_free(cg_mlprojects *r)
{
    if (!r) return;
    cg_mlprojects_cancel(r);
    pthread_mutex_lock(&r->mu);
    while (r->threads > 0) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    for (cg_mlproject *p = r->head, *next; p; p = next) {
        next = p->next;
        project_free(p);
    }
    pthread_mutex_destroy(&r->mu);
    pthread_cond_destroy(&r->cv);
    free(r->model_dir);
    free(r->ls_url);
    free(r->ls_api_key);
    free(r);
}

long cg_mlprojects_parse_id(const json_t *v)
{
    if (json_is_integer(v))
        return json_integer_value(v) > 0 && json_integer_value(v) <= INT_MAX
                   ? (long)json_integer_value(v)
                   : -1;
    const char *s = json_string_value(v);
    if (!s || *s < '0' || *s > '9') return -1;
    char *end;
    errno = 0;
    long id = strtol(s, &end, 10);
    if (errno || id <= 0 || id > INT_MAX || (*end && *end != '.')) return -1;
    return id;
}

/* Loads the latest version from disk into a new project (no locks needed yet). */
static void project_load_latest(cg_mlproject *p)
{
    char err[512];
    long latest = cg_modelstore_latest(p->reg->model_dir, p->id, err, sizeof err);
    if (latest < 0) {
        cg_log(CG_LOG_WARN, "mlbackend", "project %ld: %s", p->id, err);
        return;
    }
    if (latest == 0) return;
    cg_textclf *m = cg_modelstore_load(p->reg->model_dir, p->id, latest, err, sizeof err);
    if (!m) {
        cg_log(CG_LOG_WARN, "mlbackend",
               "project %ld: %s; answering untrained until the next training", p->id, err);
        return;
    }
    p->model = m;
    p->version = latest;
    cg_log(CG_LOG_INFO, "mlbackend", "project %ld: loaded model version %ld (%zu documents)", p->id,
           latest, cg_textclf_n_docs(m));
}

cg_mlproject *cg_mlprojects_get(cg_mlprojects *r, long id)
{
    pthread_mutex_lock(&r->mu);
    cg_mlproject *p = r->head;
    while (p && p->id != id) p = p->next;
    if (!p && r->n_projects < CG_MLPROJECTS_MAX && (p = calloc(1, sizeof *p))) {
        r->n_projects++;
        p->id = id;
        p->reg = r;
        pthread_rwlock_init(&p->lock, NULL);
        project_load_latest(p);
        p->next = r->head;
        r->head = p;
    }
    pthread_mutex_unlock(&r->mu);
    return p;
}

long cg_mlprojects_last_setup(cg_mlprojects *r)
{
    return r->last_setup;
}

/* ---- versions and setup ---------------------------------------------------------- */

/* Whether model m can answer for cfg: the same set of labels. */
static int model_fits(const cg_textclf *m, const cg_labelcfg *cfg)
{
    if (!m || !cfg || cg_textclf_n_labels(m) != cfg->n_choices) return 0;
    for (size_t i = 0; i < cfg->n_choices; i++)
        if (cg_textclf_label_index(m, cfg->choices[i]) < 0) return 0;
    return 1;
}

/* Version string for a model (read lock held by the caller). */
static void version_string(const cg_mlproject *p, const cg_labelcfg *cfg, char *out, size_t outlen)
{
    if (p && p->model && (!cfg || model_fits(p->model, cfg)))
        snprintf(out, outlen, "%ld", p->version);
    else snprintf(out, outlen, "%s", CG_MLBACKEND_UNTRAINED);
}

void cg_mlproject_version(cg_mlproject *p, char *version, size_t versionlen)
{
    pthread_rwlock_rdlock(&p->lock);
    version_string(p, p->has_cfg ? &p->cfg : NULL, version, versionlen);
    pthread_rwlock_unlock(&p->lock);
}

/* Replaces *slot with a copy of s unless s is NULL or empty. */
static void replace_string(char **slot, const char *s)
{
    if (!s || !*s) return;
    char *copy = strdup(s);
    if (!copy) return;
    free(*slot);
    *slot = copy;
}

void cg_mlproject_setup(cg_mlproject *p, cg_labelcfg *cfg, const char *label_config,
                        const char *hostname, const char *access_token, char *version,
                        size_t versionlen)
{
    pthread_mutex_lock(&p->reg->mu);
    replace_string(&p->label_config, label_config);
    replace_string(&p->hostname, hostname);
    replace_string(&p->token, access_token);
    p->reg->last_setup = p->id;
    pthread_mutex_unlock(&p->reg->mu);

    pthread_rwlock_wrlock(&p->lock);
    cg_labelcfg_free(&p->cfg);
    p->cfg = *cfg;
    p->has_cfg = 1;
    memset(cfg, 0, sizeof *cfg);
    version_string(p, &p->cfg, version, versionlen);
    pthread_rwlock_unlock(&p->lock);
}

/* ---- prediction ------------------------------------------------------------------ */

/* Text selected in an interactive context: the value.text of its result items (strings
 * or lists of strings), joined by spaces into b. 1 when there was any. */
static int context_text(const json_t *context, cg_buf *b)
{
    size_t i;
    const json_t *item;
    json_array_foreach(json_object_get(context, "result"), i, item)
    {
        const json_t *t = json_object_get(json_object_get(item, "value"), "text");
        size_t j;
        const json_t *s;
        if (json_is_string(t)) {
            cg_buf_printf(b, "%s%s", b->len ? " " : "", json_string_value(t));
        } else {
            json_array_foreach(t, j, s) if (json_is_string(s))
                cg_buf_printf(b, "%s%s", b->len ? " " : "", json_string_value(s));
        }
    }
    return b->len > 0;
}

static json_t *predict_one(const cg_labelcfg *cfg, const cg_textclf *m, const char *version,
                           const json_t *task, const json_t *context)
{
    cg_buf ctx = CG_BUF_INIT;
    const char *text = context_text(context, &ctx)
                           ? ctx.data
                           : json_string_value(
                                 json_object_get(json_object_get(task, "data"), cfg->text_field));
    json_t *item;
    if (!text) {
        /* Nothing to classify: an empty prediction keeps results aligned with tasks. */
        item = json_pack("{s:[], s:f, s:s}", "result", "score", 0.0, "model_version", version);
    } else {
        const char *label = cfg->choices[0];
        double score = 1.0 / (double)cfg->n_choices;
        if (m) {
            double probs[CG_TEXTCLF_MAX_LABELS];
            size_t best = cg_textclf_predict(m, text, strlen(text), probs);
            label = cg_textclf_label(m, best);
            score = probs[best];
        }
        item = json_pack("{s:[{s:s, s:s, s:s, s:{s:[s]}}], s:f, s:s}", "result", "from_name",
                         cfg->choices_name, "to_name", cfg->text_name, "type", "choices", "value",
                         "choices", label, "score", score, "model_version", version);
    }
    cg_buf_free(&ctx);
    return item;
}

int cg_mlproject_predict(cg_mlproject *p, const cg_labelcfg *cfg, const json_t *tasks,
                         const json_t *context, json_t *results, char *err, size_t errlen)
{
    int rc = -1;
    if (p) pthread_rwlock_rdlock(&p->lock);
    if (!cfg && p && p->has_cfg) cfg = &p->cfg;
    if (!cfg) {
        snprintf(err, errlen,
                 "no label config: send \"label_config\" with the request or call /setup first");
        goto predict_out;
    }
    const cg_textclf *m = p && model_fits(p->model, cfg) ? p->model : NULL;
    char version[32];
    version_string(m ? p : NULL, cfg, version, sizeof version);
    size_t i;
    const json_t *task;
    json_array_foreach(tasks, i, task)
    {
        if (json_array_append_new(results, predict_one(cfg, m, version, task, context)) != 0) {
            snprintf(err, errlen, "out of memory");
            goto predict_out;
        }
    }
    rc = 0;
predict_out:
    if (p) pthread_rwlock_unlock(&p->lock);
    return rc;
}

/* ---- training -------------------------------------------------------------------- */

typedef struct train_input {
    char *label_config;
    char *url;
    char *key;
} train_input;

static void train_input_free(train_input *in)
{
    free(in->label_config);
    free(in->url);
    free(in->key);
}

static void fail(cg_mltrain_result *res, int status, const char *msg)
{
    res->status = status;
    snprintf(res->error, sizeof res->error, "%s", msg);
}

/* One run: export → model → disk → swap. Fills res; runs with no lock held. */
static void train_once(cg_mlproject *p, const train_input *in, cg_mltrain_result *res)
{
    char err[512];
    cg_labelcfg cfg;
    cg_textclf *m = NULL;
    cg_buf body = CG_BUF_INIT;
    json_t *tasks = NULL;
    memset(res, 0, sizeof *res);
    res->finished = 1;
    if (!in->label_config) {
        fail(res, 400, "no label config for this project: Label Studio must call /setup first");
        return;
    }
    if (cg_labelcfg_parse(in->label_config, strlen(in->label_config), &cfg, err, sizeof err) != 0) {
        fail(res, 400, err);
        return;
    }
    if (!in->url) {
        fail(res, 400, "no Label Studio URL: /setup sent no hostname; set LABEL_STUDIO_URL");
        goto train_once_out;
    }
    if (!in->key) {
        fail(res, 400,
             "no Label Studio API key: /setup sent no access_token; set LABEL_STUDIO_API_KEY");
        goto train_once_out;
    }
    if (cg_lsclient_export(in->url, in->key, p->id, p->reg->timeout_s, &p->reg->stopping, &body,
                           err, sizeof err) != 0) {
        fail(res, 502, err);
        goto train_once_out;
    }
    json_error_t je;
    tasks = json_loadb(body.data ? body.data : "", body.len, 0, &je);
    if (!tasks) {
        snprintf(err, sizeof err, "the project export is not JSON: %s", je.text);
        fail(res, 502, err);
        goto train_once_out;
    }
    m = cg_textclf_new((const char *const *)cfg.choices, cfg.n_choices, err, sizeof err);
    if (!m) {
        fail(res, 500, err);
        goto train_once_out;
    }
    if (cg_trainset_add_export(m, &cfg, tasks, &res->stats, err, sizeof err) != 0) {
        fail(res, 502, err);
        goto train_once_out;
    }
    if (res->stats.documents == 0) {
        snprintf(err, sizeof err,
                 "nothing to train on: the export of project %ld has %zu tasks but no annotation "
                 "choosing one of the <Choices name=\"%s\"> values",
                 p->id, res->stats.tasks, cfg.choices_name);
        fail(res, 400, err);
        goto train_once_out;
    }
    if (cg_modelstore_save(p->reg->model_dir, p->id, m, &res->stats, &res->version, err,
                           sizeof err) != 0) {
        fail(res, 500, err);
        goto train_once_out;
    }
    pthread_rwlock_wrlock(&p->lock);
    cg_textclf *old = p->model;
    p->model = m;
    p->version = res->version;
    pthread_rwlock_unlock(&p->lock);
    cg_textclf_free(old);
    m = NULL;
    res->status = 201;
train_once_out:
    cg_textclf_free(m);
    json_decref(tasks);
    cg_buf_free(&body);
    cg_labelcfg_free(&cfg);
}

/* Copies what a run needs (registry mutex held). */
static void snapshot(const cg_mlproject *p, train_input *in)
{
    const cg_mlprojects *r = p->reg;
    in->label_config = strdup_or_null(p->label_config);
    in->url = strdup_or_null(r->ls_url ? r->ls_url : p->hostname);
    in->key = strdup_or_null(r->ls_api_key ? r->ls_api_key : p->token);
}

static void *training_thread(void *arg)
{
    cg_mlproject *p = arg;
    cg_mlprojects *r = p->reg;
    pthread_mutex_lock(&r->mu);
    for (;;) {
        train_input in;
        snapshot(p, &in);
        unsigned long run = p->runs_started;
        pthread_mutex_unlock(&r->mu);

        cg_mltrain_result res;
        uint64_t t0 = cg_clock_mono_ns();
        train_once(p, &in, &res);
        double ms = (double)(cg_clock_mono_ns() - t0) / 1e6;
        if (res.status == 201)
            cg_log(CG_LOG_INFO, "mlbackend",
                   "project %ld: training run %lu made version %ld from %zu documents (%zu tasks, "
                   "%zu skipped) in %.1f ms",
                   p->id, run, res.version, res.stats.documents, res.stats.tasks, res.stats.skipped,
                   ms);
        else
            cg_log(CG_LOG_WARN, "mlbackend", "project %ld: training run %lu failed: %s", p->id, run,
                   res.error);
        train_input_free(&in);

        pthread_mutex_lock(&r->mu);
        p->last = res;
        p->runs_finished = run;
        if (!p->rerun || atomic_load(&r->stopping)) break;
        p->rerun = 0;
        p->runs_started++;
        pthread_cond_broadcast(&r->cv);
    }
    p->training = 0;
    r->threads--;
    pthread_cond_broadcast(&r->cv);
    pthread_mutex_unlock(&r->mu);
    return NULL;
}

/* Starts a run or books one after the current run (registry mutex held). Returns the
 * number of the run that will cover this request, or 0 when no thread could start. */
static unsigned long book_run(cg_mlproject *p, const char *label_config)
{
    if (!p->label_config && label_config) p->label_config = strdup(label_config);
    if (atomic_load(&p->reg->stopping)) return 0;
    p->pending_annotations = 0;
    if (p->training) {
        p->rerun = 1;
        return p->runs_started + 1;
    }
    pthread_attr_t attr;
    pthread_t t;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    p->runs_started++;
    p->training = 1;
    p->reg->threads++;
    int rc = pthread_create(&t, &attr, training_thread, p);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        p->runs_started--;
        p->training = 0;
        p->reg->threads--;
        return 0;
    }
    return p->runs_started;
}

void cg_mlproject_train(cg_mlproject *p, const char *label_config, double wait_s,
                        cg_mltrain_result *out)
{
    cg_mlprojects *r = p->reg;
    memset(out, 0, sizeof *out);
    pthread_mutex_lock(&r->mu);
    unsigned long ticket = book_run(p, label_config);
    if (!ticket) {
        pthread_mutex_unlock(&r->mu);
        out->finished = 1;
        fail(out, 500, "cannot start a training thread");
        return;
    }
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    double whole = (double)(long)wait_s;
    deadline.tv_sec += (time_t)whole;
    deadline.tv_nsec += (long)((wait_s - whole) * 1e9);
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    while (p->runs_finished < ticket && !atomic_load(&r->stopping))
        if (pthread_cond_timedwait(&r->cv, &r->mu, &deadline) == ETIMEDOUT) break;
    if (p->runs_finished >= ticket) *out = p->last;
    pthread_mutex_unlock(&r->mu);
}

int cg_mlproject_note_annotation(cg_mlproject *p, unsigned train_every, const char *label_config,
                                 unsigned *pending)
{
    cg_mlprojects *r = p->reg;
    int started = 0;
    pthread_mutex_lock(&r->mu);
    p->pending_annotations++;
    *pending = p->pending_annotations;
    if (train_every > 0 && p->pending_annotations >= train_every)
        started = book_run(p, label_config) != 0;
    pthread_mutex_unlock(&r->mu);
    return started;
}
