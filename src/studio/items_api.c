/*
 * items_api.c — Label Studio's routes for single items that an ML workflow touches besides
 * the ML API: PATCH a project, the next task to label, POST/PATCH tasks, predictions CRUD
 * (with the minified result format) and their bulk import, and annotations by id (which
 * send ANNOTATION_UPDATED / ANNOTATIONS_DELETED to the project's webhooks, as Label Studio
 * does). SQL lives in store_items.c; this file validates, renders and replies.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/buf.h"
#include "common/log.h"
#include "studio/app.h"
#include "studio/labelconfig.h"

/* ---- small helpers ---------------------------------------------------------------------- */

static void reply_db_error(cg_http_response *res)
{
    cg_studio_reply_error(res, 500, "database error", NULL);
}

/* A primary-key field (an integer or a numeric string, as DRF's PrimaryKeyRelatedField).
 * 0 when absent (with "required" added when required), -1 after adding a type error. */
static int64_t pk_field(json_t *body, const char *name, int required, json_t *errors)
{
    json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v)) {
        if (required)
            cg_studio_add_error(errors, name,
                                v ? "This field may not be null." : "This field is required.");
        return 0;
    }
    int64_t id = json_is_integer(v)  ? json_integer_value(v)
                 : json_is_string(v) ? cg_studio_parse_id(json_string_value(v))
                                     : 0;
    if (id <= 0) {
        char msg[120];
        snprintf(msg, sizeof msg, "Incorrect type. Expected pk value, received %s.",
                 cg_studio_py_type(v));
        cg_studio_add_error(errors, name, msg);
        return -1;
    }
    return id;
}

static void missing_pk(json_t *errors, const char *name, int64_t id)
{
    char msg[120];
    snprintf(msg, sizeof msg, "Invalid pk \"%lld\" - object does not exist.", (long long)id);
    cg_studio_add_error(errors, name, msg);
}

/* A string field: NULL when absent or null; an error when it is another type. */
static const char *str_field(json_t *body, const char *name, json_t *errors)
{
    json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        cg_studio_add_error(errors, name, "Not a valid string.");
        return NULL;
    }
    return json_string_value(v);
}

/* A number field (score): NULL when absent; json null is kept; strings that parse count. */
static json_t *number_field(json_t *body, const char *name, json_t *errors)
{
    json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v) || json_is_number(v)) return v ? json_incref(v) : NULL;
    if (json_is_string(v)) {
        char *end;
        double d = strtod(json_string_value(v), &end);
        if (end != json_string_value(v) && !*end) return json_real(d);
    }
    cg_studio_add_error(errors, name, "A valid number is required.");
    return NULL;
}

static int reply_errors(cg_http_response *res, json_t *errors)
{
    if (json_object_size(errors) == 0) {
        json_decref(errors);
        return 0;
    }
    cg_studio_reply_error(res, 400, "Validation error", errors);
    return -1;
}

/* ---- tasks ------------------------------------------------------------------------------- */

/* "a,b,c": the values joined as Label Studio's aggregates render them. */
static json_t *joined(json_t *values)
{
    cg_buf b = CG_BUF_INIT;
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        if (json_is_integer(v))
            cg_buf_printf(&b, "%s%lld", i ? "," : "", (long long)json_integer_value(v));
        else cg_buf_printf(&b, "%s%s", i ? "," : "", json_string_value(v));
    }
    json_t *s = json_stringn(b.data ? b.data : "", b.len);
    cg_buf_free(&b);
    return s;
}

static json_t *mean_or_null(double sum, int n)
{
    return n ? json_real(sum / n) : json_null();
}

/* A task as GET /api/tasks/{id}/ shows it (Label Studio's data manager task serializer):
 * the export shape plus the aggregated columns, in Label Studio's order. Takes t. */
static json_t *task_detail(json_t *t)
{
    static const char *const order[] = {
        "id",
        "predictions",
        "annotations",
        "drafts",
        "annotators",
        "inner_id",
        "cancelled_annotations",
        "total_annotations",
        "total_predictions",
        "completed_at",
        "annotations_results",
        "predictions_results",
        "predictions_score",
        "file_upload",
        "storage_filename",
        "annotations_ids",
        "predictions_model_versions",
        "avg_lead_time",
        "draft_exists",
        "updated_by",
        "data",
        "meta",
        "created_at",
        "updated_at",
        "is_labeled",
        "overlap",
        "comment_count",
        "unresolved_comment_count",
        "last_comment_updated_at",
        "project",
        "comment_authors",
        NULL,
    };
    json_t *ids = json_array(), *annotators = json_array(), *versions = json_array();
    double score_sum = 0, lead_sum = 0;
    int n_score = 0, n_lead = 0;
    size_t i, k;
    json_t *v, *seen;
    json_array_foreach(json_object_get(t, "annotations"), i, v)
    {
        json_array_append(ids, json_object_get(v, "id"));
        if (json_is_integer(json_object_get(v, "completed_by")))
            json_array_append(annotators, json_object_get(v, "completed_by"));
        if (json_is_number(json_object_get(v, "lead_time"))) {
            lead_sum += json_number_value(json_object_get(v, "lead_time"));
            n_lead++;
        }
    }
    json_array_foreach(json_object_get(t, "predictions"), i, v)
    {
        json_t *mv = json_object_get(v, "model_version");
        int dup = !json_is_string(mv) || !*json_string_value(mv);
        json_array_foreach(versions, k, seen) dup |= json_equal(seen, mv);
        if (!dup) json_array_append(versions, mv);
        if (json_is_number(json_object_get(v, "score"))) {
            score_sum += json_number_value(json_object_get(v, "score"));
            n_score++;
        }
    }
    json_t *extra = json_pack(
        "{s:o,s:n,s:s,s:s,s:o,s:n,s:o,s:o,s:o,s:b,s:[]}", "annotators", annotators, "completed_at",
        "annotations_results", "", "predictions_results", "", "predictions_score",
        mean_or_null(score_sum, n_score), "storage_filename", "annotations_ids", joined(ids),
        "predictions_model_versions", joined(versions), "avg_lead_time",
        mean_or_null(lead_sum, n_lead), "draft_exists", 0, "updated_by");
    json_t *o = json_object();
    for (int n = 0; order[n]; n++) {
        json_t *val = json_object_get(extra, order[n]);
        if (!val) val = json_object_get(t, order[n]);
        if (val) json_object_set(o, order[n], val);
    }
    json_decref(ids);
    json_decref(versions);
    json_decref(extra);
    json_decref(t);
    return o;
}

static void reply_task(cg_studio_app *app, int64_t id, int status, cg_http_response *res)
{
    json_t *t = cg_studio_store_task_json(app->store, id);
    if (t) cg_studio_reply(res, status, task_detail(t));
    else cg_studio_reply_error(res, 404, "No Task matches the given query.", NULL);
}

void cg_studio_api_task_get(cg_studio_app *app, int64_t id, cg_http_response *res)
{
    reply_task(app, id, 200, res);
}

/* data must be an object (Label Studio stores any JSON, but every importer and backend
 * reads it as one). */
static json_t *data_field(json_t *body, int required, json_t *errors)
{
    json_t *d = json_object_get(body, "data");
    if (!d) {
        if (required) cg_studio_add_error(errors, "data", "This field is required.");
        return NULL;
    }
    if (!json_is_object(d)) {
        char msg[120];
        snprintf(msg, sizeof msg, "Expected a dictionary of items but got type \"%s\".",
                 cg_studio_py_type(d));
        cg_studio_add_error(errors, "data", msg);
        return NULL;
    }
    return d;
}

/* A task's `meta`: an object (returned), null or absent (NULL); anything else is an error. */
static json_t *meta_field(json_t *body, json_t *errors)
{
    json_t *meta = json_object_get(body, "meta");
    if (meta && !json_is_object(meta) && !json_is_null(meta))
        cg_studio_add_error(errors, "meta", "Expected a dictionary of items.");
    return json_is_object(meta) ? meta : NULL;
}

/* A task's body with its data (required on create) and meta checked: NULL after replying,
 * else the body, *errors holding what is wrong (an empty object when nothing is). */
static json_t *task_body(const cg_http_request *req, cg_http_response *res, int creating,
                         json_t **errors, json_t **data, json_t **meta)
{
    json_t *body = cg_studio_object_body(req, res);
    if (body) {
        *errors = json_object();
        *data = data_field(body, creating, *errors);
        *meta = meta_field(body, *errors);
    }
    return body;
}

void cg_studio_api_tasks_create(cg_studio_app *app, const cg_http_request *req,
                                cg_http_response *res)
{
    json_t *errors, *data, *meta;
    json_t *body = task_body(req, res, 1, &errors, &data, &meta);
    if (!body) return;
    int64_t project = pk_field(body, "project", 1, errors);
    cg_studio_project p;
    if (project > 0) {
        int rc = cg_studio_store_project_get(app->store, project, &p);
        if (rc < 0) {
            json_decref(errors);
            reply_db_error(res);
            goto tasks_create_out;
        }
        if (rc == 0) cg_studio_project_clear(&p);
        else missing_pk(errors, "project", project);
    }
    if (reply_errors(res, errors) != 0) goto tasks_create_out;
    int64_t id;
    if (cg_studio_store_task_create(app->store, project, data, meta, &id) != 0) {
        reply_db_error(res);
        goto tasks_create_out;
    }
    reply_task(app, id, 201, res);
tasks_create_out:
    json_decref(body);
}

void cg_studio_api_task_update(cg_studio_app *app, int64_t id, const cg_http_request *req,
                               cg_http_response *res)
{
    json_t *errors, *data, *meta;
    json_t *body = task_body(req, res, 0, &errors, &data, &meta);
    if (!body) return;
    if (reply_errors(res, errors) == 0) {
        int rc = cg_studio_store_task_update(app->store, id, data, meta);
        if (rc == 0) reply_task(app, id, 200, res);
        else if (rc == CG_STORE_NOTFOUND)
            cg_studio_reply_error(res, 404, "No Task matches the given query.", NULL);
        else reply_db_error(res);
    }
    json_decref(body);
}

/* ---- projects ----------------------------------------------------------------------------- */

static int title_error(const char *title, json_t *errors)
{
    if (title && strlen(title) > 50)
        cg_studio_add_error(errors, "title", "Ensure this field has no more than 50 characters.");
    else if (title && *title && strlen(title) < 3)
        cg_studio_add_error(errors, "title", "Ensure this field has at least 3 characters.");
    else return 0;
    return -1;
}

void cg_studio_api_project_update(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                  cg_http_response *res)
{
    cg_studio_project cur;
    if (cg_studio_project_or_404(app, id, &cur, res) != 0) return;
    json_t *body = cg_studio_object_body(req, res);
    if (!body) {
        cg_studio_project_clear(&cur);
        return;
    }
    json_t *errors = json_object();
    cg_studio_project p = {.id = id, .show_collab_predictions = -1};
    const char *title = str_field(body, "title", errors);
    const char *desc = str_field(body, "description", errors);
    const char *mv = str_field(body, "model_version", errors);
    title_error(title, errors);
    json_t *cfg = json_object_get(body, "label_config");
    char msg[700];
    if (cfg && (!json_is_string(cfg) && !json_is_null(cfg)))
        cg_studio_add_error(errors, "label_config", "Not a valid string.");
    else if (cfg && cg_studio_labelcfg_validate(json_string_value(cfg), msg, sizeof msg) != 0)
        cg_studio_add_error(errors, "label_config", msg);
    /* validate_model_version: a new, non-empty version must be a backend's title or the
     * version of a prediction in the project. */
    if (mv && *mv && strcmp(mv, cur.model_version ? cur.model_version : "")) {
        int known = cg_studio_store_model_version_known(app->store, id, mv);
        if (known == CG_STORE_NOTFOUND)
            cg_studio_add_error(errors, "model_version",
                                "Model version doesn't exist either as live "
                                "model or as static predictions.");
    }
    json_t *scp = json_object_get(body, "show_collab_predictions");
    if (json_is_boolean(scp)) p.show_collab_predictions = json_is_true(scp);
    else if (json_is_string(scp))
        p.show_collab_predictions = !strcasecmp(json_string_value(scp), "true") ||
                                    !strcmp(json_string_value(scp), "1");
    cg_studio_project_clear(&cur);
    if (reply_errors(res, errors) != 0) goto project_update_out;
    p.title = (char *)title;
    p.description = (char *)desc;
    p.label_config = cfg ? (char *)json_string_value(cfg) : NULL;
    p.model_version = (char *)mv;
    if (!mv && json_is_null(json_object_get(body, "model_version"))) p.model_version = "";
    if (cg_studio_store_project_update(app->store, &p) != 0) {
        reply_db_error(res);
        goto project_update_out;
    }
    json_t *o = cg_studio_store_project_json(app->store, id);
    if (o) cg_studio_reply(res, 200, o);
    else reply_db_error(res);
project_update_out:
    json_decref(body);
}

void cg_studio_api_project_next(cg_studio_app *app, int64_t id, cg_http_response *res)
{
    if (cg_studio_project_or_404(app, id, NULL, res) != 0) return;
    int64_t task;
    int rc = cg_studio_store_next_task(app->store, id, &task);
    if (rc == 0) reply_task(app, task, 200, res);
    else if (rc == CG_STORE_NOTFOUND)
        cg_studio_reply_error(res, 404, "There are no more tasks to label in this project.", NULL);
    else reply_db_error(res);
}

/* ---- predictions ------------------------------------------------------------------------ */

/* Expands a result (list, or minified string/number/object) with the project's config.
 * NULL after adding the error. */
static json_t *expand_result(cg_studio_app *app, int64_t project, json_t *result, json_t *errors)
{
    cg_studio_project p;
    if (cg_studio_store_project_get(app->store, project, &p) != 0) {
        cg_studio_add_error(errors, "result", "the task's project is gone");
        return NULL;
    }
    char msg[300];
    json_t *r = cg_studio_labelcfg_expand_result(p.label_config, result, msg, sizeof msg);
    cg_studio_project_clear(&p);
    if (!r) cg_studio_add_error(errors, "result", msg);
    return r;
}

static void reply_prediction(cg_studio_app *app, int64_t id, int status, cg_http_response *res)
{
    json_t *o = cg_studio_store_prediction_json(app->store, id);
    if (o) cg_studio_reply(res, status, o);
    else cg_studio_reply_error(res, 404, "No Prediction matches the given query.", NULL);
}

void cg_studio_api_predictions_create(cg_studio_app *app, const cg_http_request *req,
                                      cg_http_response *res)
{
    json_t *body = cg_studio_object_body(req, res);
    if (!body) return;
    json_t *errors = json_object(), *result = NULL, *score = NULL;
    int64_t task = pk_field(body, "task", 1, errors), project = 0;
    if (task > 0) {
        int rc = cg_studio_store_task_project(app->store, task, &project);
        if (rc < 0) {
            json_decref(errors);
            reply_db_error(res);
            goto predictions_create_out;
        }
        if (rc != 0) missing_pk(errors, "task", task);
    }
    json_t *raw = json_object_get(body, "result");
    if (!raw) cg_studio_add_error(errors, "result", "This field is required.");
    else if (project) result = expand_result(app, project, raw, errors);
    score = number_field(body, "score", errors);
    const char *mv = str_field(body, "model_version", errors);
    if (reply_errors(res, errors) != 0) goto predictions_create_out;
    int64_t id;
    if (cg_studio_store_prediction_create(app->store, task, result, score, mv ? mv : "", &id))
        reply_db_error(res);
    else reply_prediction(app, id, 201, res);
predictions_create_out:
    json_decref(result);
    json_decref(score);
    json_decref(body);
}

void cg_studio_api_prediction(cg_studio_app *app, int64_t id, const cg_http_request *req,
                              cg_http_response *res)
{
    const char *m = req->method;
    if (!strcmp(m, "GET")) {
        reply_prediction(app, id, 200, res);
        return;
    }
    if (!strcmp(m, "DELETE")) {
        int rc = cg_studio_store_prediction_delete(app->store, id);
        if (rc == 0) {
            res->status = 204;
            res->content_type = NULL;
        } else {
            cg_studio_reply_lookup_error(res, rc, "No Prediction matches the given query.");
        }
        return;
    }
    json_t *cur = cg_studio_store_prediction_json(app->store, id);
    if (!cur) {
        cg_studio_reply_error(res, 404, "No Prediction matches the given query.", NULL);
        return;
    }
    json_t *body = cg_studio_object_body(req, res), *result = NULL, *score = NULL;
    if (!body) goto prediction_out;
    json_t *errors = json_object();
    json_t *raw = json_object_get(body, "result");
    if (raw)
        result = expand_result(app, json_integer_value(json_object_get(cur, "project")), raw,
                               errors);
    score = number_field(body, "score", errors);
    const char *mv = str_field(body, "model_version", errors);
    if (reply_errors(res, errors) == 0) {
        if (cg_studio_store_prediction_update(app->store, id, result, score, mv) != 0)
            reply_db_error(res);
        else reply_prediction(app, id, 200, res);
    }
prediction_out:
    json_decref(cur);
    json_decref(result);
    json_decref(score);
    json_decref(body);
}

void cg_studio_api_project_import_predictions(cg_studio_app *app, int64_t id,
                                              const cg_http_request *req, cg_http_response *res)
{
    cg_studio_project p;
    if (cg_studio_project_or_404(app, id, &p, res) != 0) return;
    json_t *body = cg_studio_parse_body(req, res), *items = json_array();
    if (!body) goto import_predictions_out;
    if (!json_is_array(body)) {
        char msg[120];
        snprintf(msg, sizeof msg, "Expected a list of items but got type \"%s\".",
                 cg_studio_py_type(body));
        cg_studio_reply_error(res, 400, "Validation error",
                              json_pack("{s:[s]}", "non_field_errors", msg));
        goto import_predictions_out;
    }
    size_t i;
    json_t *v;
    char msg[400];
    json_array_foreach(body, i, v)
    {
        json_t *errors = json_object(), *result = NULL;
        int64_t task = json_is_object(v) ? pk_field(v, "task", 1, errors) : 0;
        json_t *raw = json_object_get(v, "result");
        if (!json_is_object(v))
            cg_studio_add_error(errors, "non_field_errors", "Invalid data. Expected a dictionary.");
        else if (!raw) cg_studio_add_error(errors, "result", "This field is required.");
        else if (!(result = cg_studio_labelcfg_expand_result(p.label_config, raw, msg, sizeof msg)))
            cg_studio_add_error(errors, "result", msg);
        json_t *score = json_object_get(v, "score"), *mv = json_object_get(v, "model_version");
        if (score && !json_is_number(score) && !json_is_null(score))
            cg_studio_add_error(errors, "score", "A valid number is required.");
        if (mv && !json_is_string(mv) && !json_is_null(mv))
            cg_studio_add_error(errors, "model_version", "Not a valid string.");
        if (json_object_size(errors)) {
            json_decref(result);
            cg_studio_reply_error(
                res, 400, "Validation error",
                json_pack("{s:{s:o}}", "predictions", "item",
                          json_pack("{s:I,s:o}", "index", (json_int_t)i, "errors", errors)));
            goto import_predictions_out;
        }
        json_decref(errors);
        json_array_append_new(items,
                              json_pack("{s:I,s:o,s:O,s:O}", "task", (json_int_t)task, "result",
                                        result, "score", score ? score : json_null(),
                                        "model_version", mv ? mv : json_null()));
    }
    int rc = cg_studio_store_predictions_import(app->store, id, items, msg, sizeof msg);
    if (rc == 0)
        cg_studio_reply(res, 201,
                        json_pack("{s:I}", "created", (json_int_t)json_array_size(items)));
    else if (rc == CG_STORE_NOTFOUND)
        cg_studio_reply_error(res, 400, "Validation error",
                              json_pack("{s:[s]}", "non_field_errors", msg));
    else reply_db_error(res);
import_predictions_out:
    cg_studio_project_clear(&p);
    json_decref(items);
    json_decref(body);
}

/* ---- annotations ------------------------------------------------------------------------ */

static void reply_annotation_missing(cg_http_response *res, int rc)
{
    cg_studio_reply_lookup_error(res, rc, "No Annotation matches the given query.");
}

void cg_studio_api_annotation(cg_studio_app *app, int64_t id, const cg_http_request *req,
                              cg_http_response *res)
{
    int64_t task, project;
    int rc = cg_studio_store_annotation_task(app->store, id, &task, &project);
    if (rc != 0) {
        reply_annotation_missing(res, rc);
        return;
    }
    const char *m = req->method;
    if (!strcmp(m, "GET")) {
        json_t *a = cg_studio_store_annotation_json(app->store, id);
        if (a) cg_studio_reply(res, 200, a);
        else reply_annotation_missing(res, CG_STORE_NOTFOUND);
        return;
    }
    if (!strcmp(m, "DELETE")) {
        rc = cg_studio_store_annotation_delete(app->store, id);
        if (rc != 0) {
            reply_annotation_missing(res, rc);
            return;
        }
        cg_log(CG_LOG_INFO, "studio", "annotation %lld deleted", (long long)id);
        cg_studio_send_webhooks(&app->conn, project, "ANNOTATIONS_DELETED",
                                json_pack("{s:[{s:I}]}", "annotations", "id", (json_int_t)id));
        res->status = 204;
        res->content_type = NULL;
        return;
    }
    json_t *body = cg_studio_object_body(req, res);
    if (!body) return;
    json_t *errors = json_object();
    json_t *result = json_object_get(body, "result");
    if (result && !json_is_array(result)) {
        char msg[80];
        snprintf(msg, sizeof msg, "Expected a list of items but got type \"%s\".",
                 cg_studio_py_type(result));
        cg_studio_add_error(errors, "result", msg);
    }
    static const char *const bools[] = {"was_cancelled", "ground_truth", NULL};
    for (int i = 0; bools[i]; i++) {
        json_t *b = json_object_get(body, bools[i]);
        if (b && !json_is_boolean(b))
            cg_studio_add_error(errors, bools[i], "Must be a valid boolean.");
    }
    json_t *lead = json_object_get(body, "lead_time");
    if (lead && !json_is_number(lead) && !json_is_null(lead))
        cg_studio_add_error(errors, "lead_time", "A valid number is required.");
    if (reply_errors(res, errors) == 0) {
        rc = cg_studio_store_annotation_update(app->store, id, body);
        json_t *a = rc == 0 ? cg_studio_store_annotation_json(app->store, id) : NULL;
        if (!a) {
            reply_annotation_missing(res, rc ? rc : CG_STORE_NOTFOUND);
        } else {
            cg_studio_send_annotation_webhooks(&app->conn, project, "ANNOTATION_UPDATED", a, task);
            cg_studio_reply(res, 200, a);
        }
    }
    json_decref(body);
}
