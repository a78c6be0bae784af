/*
 * lsapi.c — the Label Studio endpoints around the ML API that the chain needs: projects,
 * task import and listing, annotations, predictions, export, and tokens. Paths and shapes are
 * Label Studio's (compact subsets of its serializers, in its field order); see docs/studio.md
 * for what is left out.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"
#include "studio/app.h"
#include "studio/jwt.h"
#include "studio/labelconfig.h"

#define DEFAULT_LABEL_CONFIG "<View></View>"

/* ?name= as a positive integer, dflt when absent; -1 (after a 400) when malformed. */
static int64_t query_int(const cg_http_request *req, cg_http_response *res, const char *name,
                         int64_t dflt, int64_t max)
{
    const char *v = cg_http_query(req, name);
    if (!v) return dflt;
    int64_t n = cg_studio_parse_id(v);
    if (n <= 0) {
        cg_studio_reply_error(res, 404, "Invalid page.", NULL);
        return -1;
    }
    return n > max ? max : n;
}

static json_t *object_body(const cg_http_request *req, cg_http_response *res)
{
    json_t *b = cg_studio_parse_body(req, res);
    if (b && !json_is_object(b)) {
        cg_studio_reply_error(
            res, 400, "Validation error",
            json_pack("{s:[s]}", "non_field_errors", "Invalid data. Expected a dictionary."));
        json_decref(b);
        return NULL;
    }
    return b;
}

/* An optional string field: NULL when absent; "bad" is set when present but not a string. */
static const char *opt_string(json_t *body, const char *name, json_t *errors)
{
    json_t *v = json_object_get(body, name);
    if (!v || json_is_null(v)) return NULL;
    if (!json_is_string(v)) {
        json_object_set_new(errors, name, json_pack("[s]", "Not a valid string."));
        return NULL;
    }
    return json_string_value(v);
}

void cg_studio_api_projects_create(cg_studio_app *app, const cg_http_request *req,
                                   cg_http_response *res, int64_t user)
{
    json_t *body = object_body(req, res);
    if (!body) return;
    json_t *errors = json_object();
    const char *title = opt_string(body, "title", errors);
    const char *desc = opt_string(body, "description", errors);
    const char *cfg = opt_string(body, "label_config", errors);
    json_t *cfgv = json_object_get(body, "label_config");
    char msg[700];
    if (cfgv && (json_is_null(cfgv) || (cfg && *cfg)) &&
        cg_studio_labelcfg_validate(cfg, msg, sizeof msg) != 0)
        json_object_set_new(errors, "label_config", json_pack("[s]", msg));
    /* show_collab_predictions defaults to true, but a form leaving it out means false. */
    json_t *scp = json_object_get(body, "show_collab_predictions");
    int collab = scp ? json_is_true(scp) ||
                           (json_is_string(scp) && (!strcasecmp(json_string_value(scp), "true") ||
                                                    !strcmp(json_string_value(scp), "1")))
                     : !cg_studio_body_is_form(req);
    const char *mv = opt_string(body, "model_version", errors);
    if (title && strlen(title) > 50)
        json_object_set_new(errors, "title",
                            json_pack("[s]", "Ensure this field has no more than 50 characters."));
    else if (title && *title && strlen(title) < 3)
        json_object_set_new(errors, "title",
                            json_pack("[s]", "Ensure this field has at least 3 characters."));
    if (json_object_size(errors)) {
        cg_studio_reply_error(res, 400, "Validation error", errors);
        json_decref(body);
        return;
    }
    json_decref(errors);
    cg_studio_project p = {
        .title = strdup(title ? title : ""),
        .description = strdup(desc ? desc : ""),
        .label_config = strdup(cfg && *cfg ? cfg : DEFAULT_LABEL_CONFIG),
        .model_version = strdup(mv ? mv : ""),
        .created_by = user,
        .show_collab_predictions = collab,
    };
    if (cg_studio_store_project_create(app->store, &p) != 0) {
        cg_studio_reply_error(res, 500, "database error", NULL);
    } else {
        cg_log(CG_LOG_INFO, "studio", "project %lld created", (long long)p.id);
        json_t *o = cg_studio_store_project_json(app->store, p.id);
        if (o) cg_studio_reply(res, 201, o);
        else cg_studio_reply_error(res, 500, "database error", NULL);
    }
    cg_studio_project_clear(&p);
    json_decref(body);
}

void cg_studio_api_projects_list(cg_studio_app *app, const cg_http_request *req,
                                 cg_http_response *res)
{
    int64_t page = query_int(req, res, "page", 1, INT32_MAX);
    int64_t size = page < 0 ? -1 : query_int(req, res, "page_size", 30, 1000);
    if (page < 0 || size < 0) return;
    json_t *o = cg_studio_store_project_list_json(app->store, page, size);
    if (o) cg_studio_reply(res, 200, o);
    else cg_studio_reply_error(res, 500, "database error", NULL);
}

void cg_studio_api_project_get(cg_studio_app *app, int64_t id, cg_http_response *res)
{
    if (cg_studio_project_or_404(app, id, NULL, res) != 0) return;
    json_t *o = cg_studio_store_project_json(app->store, id);
    if (o) cg_studio_reply(res, 200, o);
    else cg_studio_reply_error(res, 500, "database error", NULL);
}

/* Splits "a,b" of ?preannotated_from_fields= into a list of field names. */
static json_t *preannotated_fields(const cg_http_request *req)
{
    const char *q = cg_http_query(req, "preannotated_from_fields");
    json_t *a = json_array();
    for (const char *p = q; p && *p;) {
        size_t n = strcspn(p, ",");
        if (n) json_array_append_new(a, json_stringn(p, n));
        p += n + (p[n] == ',');
    }
    return a;
}

/* Before an import is stored: the fields named by ?preannotated_from_fields= move out of
 * each task's data into a prediction (Label Studio's reformat_predictions), and prediction
 * results in the minified format (a label, a number, a value object) are expanded with the
 * project's label config. Replies 400 and returns -1 on a result it cannot expand. */
static int prepare_predictions(cg_studio_app *app, int64_t project, const cg_http_request *req,
                               json_t *items, cg_http_response *res)
{
    json_t *fields = preannotated_fields(req);
    cg_studio_project p;
    if (cg_studio_store_project_get(app->store, project, &p) != 0) {
        json_decref(fields);
        cg_studio_reply_error(res, 500, "database error", NULL);
        return -1;
    }
    size_t i, k;
    json_t *item, *f;
    int rc = 0;
    json_array_foreach(items, i, item)
    {
        if (!json_is_object(item)) continue;
        json_t *data = json_object_get(item, "data");
        if (json_array_size(fields)) {
            if (!json_is_object(data)) { /* a bare data object: wrap it */
                json_t *wrapped = json_pack("{s:O}", "data", item);
                json_array_set_new(items, i, wrapped);
                item = wrapped;
                data = json_object_get(item, "data");
            }
            json_t *preds = json_array();
            json_array_foreach(fields, k, f)
            {
                json_t *v = json_object_get(data, json_string_value(f));
                if (v) {
                    json_array_append_new(preds, json_pack("{s:O}", "result", v));
                    json_object_del(data, json_string_value(f));
                }
            }
            json_object_set_new(item, "predictions", preds);
        }
        json_t *preds = json_is_object(data) ? json_object_get(item, "predictions") : NULL;
        json_t *pr;
        json_array_foreach(preds, k, pr)
        {
            json_t *r = json_object_get(pr, "result");
            if (!r || json_is_array(r) || !json_is_object(pr)) continue;
            char msg[300];
            json_t *full = cg_studio_labelcfg_expand_result(p.label_config, r, msg, sizeof msg);
            if (!full) {
                char detail[400];
                snprintf(detail, sizeof detail, "Task #%zu, prediction %zu: %s", i, k, msg);
                cg_studio_reply_error(res, 400, "Validation error",
                                      json_pack("{s:[s]}", "non_field_errors", detail));
                rc = -1;
                break;
            }
            json_object_set_new(pr, "result", full);
        }
        if (rc) break;
    }
    cg_studio_project_clear(&p);
    json_decref(fields);
    return rc;
}

void cg_studio_api_project_import(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                  cg_http_response *res, int64_t user)
{
    if (cg_studio_project_or_404(app, id, NULL, res) != 0) return;
    json_t *body = cg_studio_parse_body(req, res);
    if (!body) return;
    if (json_is_object(body)) { /* a single task */
        json_t *one = json_pack("[O]", body);
        json_decref(body);
        body = one;
    }
    if (json_is_array(body) && prepare_predictions(app, id, req, body, res) != 0) {
        json_decref(body);
        return;
    }
    if (!json_is_array(body) || json_array_size(body) == 0) {
        cg_studio_reply_error(res, 400, "Validation error",
                              json_pack("{s:[s]}", "non_field_errors",
                                        "No tasks found in the uploaded data: send a JSON list "
                                        "of tasks."));
        json_decref(body);
        return;
    }
    uint64_t t0 = cg_clock_mono_ns();
    json_t *counts = json_object();
    char err[300] = "";
    int rc = cg_studio_store_tasks_import(app->store, id, body, user, counts, err, sizeof err);
    double secs = (double)(cg_clock_mono_ns() - t0) / 1e9;
    if (rc == CG_STORE_NOTFOUND) {
        cg_studio_reply_error(res, 400, "Validation error",
                              json_pack("{s:[s]}", "non_field_errors", err));
    } else if (rc != 0) {
        cg_studio_reply_error(res, 500, err[0] ? err : "database error", NULL);
    } else {
        json_object_set_new(counts, "duration", json_real(secs));
        json_object_set_new(counts, "file_upload_ids", json_array());
        json_object_set_new(counts, "could_be_tasks_list", json_false());
        json_object_set_new(counts, "found_formats", json_array());
        json_object_set_new(counts, "data_columns", json_array());
        cg_log(CG_LOG_INFO, "studio", "project %lld: imported %lld tasks", (long long)id,
               (long long)json_integer_value(json_object_get(counts, "task_count")));
        cg_studio_reply(res, 201, counts);
        counts = NULL;
    }
    json_decref(counts);
    json_decref(body);
}

/* ?page= and ?page_size= (defaults 1 and 100). -1 after replying 400. */
static int page_args(const cg_http_request *req, cg_http_response *res, int64_t *page,
                     int64_t *size)
{
    *page = query_int(req, res, "page", 1, INT32_MAX);
    *size = *page < 0 ? -1 : query_int(req, res, "page_size", 100, 10000);
    return *page < 0 || *size < 0 ? -1 : 0;
}

/* The page of project's tasks the query asks for (*total: all the project's tasks); NULL
 * after replying (404, 400, 500). */
static json_t *task_page(cg_studio_app *app, int64_t project, const cg_http_request *req,
                         cg_http_response *res, int64_t *total)
{
    int64_t page, size;
    if (cg_studio_project_or_404(app, project, NULL, res) != 0 ||
        page_args(req, res, &page, &size) != 0)
        return NULL;
    json_t *a = cg_studio_store_task_page_json(app->store, project, page, size, total);
    if (!a) cg_studio_reply_error(res, 500, "database error", NULL);
    return a;
}

void cg_studio_api_project_tasks(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                 cg_http_response *res)
{
    int64_t total;
    json_t *a = task_page(app, id, req, res, &total);
    if (a) cg_studio_reply(res, 200, a);
}

void cg_studio_api_tasks_list(cg_studio_app *app, const cg_http_request *req, cg_http_response *res)
{
    const char *pq = cg_http_query(req, "project");
    int64_t project = cg_studio_parse_id(pq);
    if (!pq) {
        cg_studio_reply_field_error(res, "project", "This field is required.");
        return;
    }
    if (!project) {
        cg_studio_reply_error(res, 404, "Not found.", NULL);
        return;
    }
    int64_t total;
    json_t *a = task_page(app, project, req, res, &total);
    if (!a) return;
    json_t *p = cg_studio_store_project_json(app->store, project);
    if (!p) {
        json_decref(a);
        cg_studio_reply_error(res, 500, "database error", NULL);
        return;
    }
    json_t *o = json_pack("{s:O,s:O,s:I,s:o}", "total_annotations",
                          json_object_get(p, "total_annotations_number"), "total_predictions",
                          json_object_get(p, "total_predictions_number"), "total",
                          (json_int_t)total, "tasks", a);
    json_decref(p);
    cg_studio_reply(res, 200, o);
}

void cg_studio_api_project_export(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                  cg_http_response *res)
{
    if (cg_studio_project_or_404(app, id, NULL, res) != 0) return;
    const char *type = cg_http_query(req, "exportType");
    if (type && strcmp(type, "JSON")) {
        char msg[160];
        snprintf(msg, sizeof msg, "\"%.100s\" is not a valid choice.", type);
        cg_studio_reply_field_error(res, "exportType", msg);
        return;
    }
    const char *all = cg_http_query(req, "download_all_tasks");
    json_t *a = cg_studio_store_export_json(app->store, id,
                                            all && (!strcmp(all, "true") || !strcmp(all, "1")));
    if (!a) {
        cg_studio_reply_error(res, 500, "database error", NULL);
        return;
    }
    char cd[160], ts[32];
    cg_studio_format_time(cg_studio_now_us(), ts);
    snprintf(cd, sizeof cd, "attachment; filename=\"project-%lld-at-%.19s.json\"", (long long)id,
             ts);
    cg_studio_reply(res, 200, a);
    cg_http_response_header(res, "Content-Disposition", cd);
}

void cg_studio_api_task_annotations(cg_studio_app *app, int64_t id, const cg_http_request *req,
                                    cg_http_response *res, int64_t user)
{
    int64_t project;
    int rc = cg_studio_store_task_project(app->store, id, &project);
    if (rc != 0) {
        cg_studio_reply_lookup_error(res, rc, "No Task matches the given query.");
        return;
    }
    if (!strcmp(req->method, "GET")) {
        json_t *a = cg_studio_store_annotations_json(app->store, id);
        if (a) cg_studio_reply(res, 200, a);
        else cg_studio_reply_error(res, 500, "database error", NULL);
        return;
    }
    json_t *body = object_body(req, res);
    if (!body) return;
    json_t *result = json_object_get(body, "result");
    if (result && !json_is_array(result)) {
        char msg[80];
        snprintf(msg, sizeof msg, "Expected a list of items but got type \"%s\".",
                 json_is_object(result)    ? "dict"
                 : json_is_string(result)  ? "str"
                 : json_is_boolean(result) ? "bool"
                 : json_is_null(result)    ? "NoneType"
                 : json_is_integer(result) ? "int"
                                           : "float");
        cg_studio_reply_field_error(res, "result", msg);
        json_decref(body);
        return;
    }
    char err[200] = "";
    json_t *ann = cg_studio_store_annotation_create(app->store, id, user, body, err, sizeof err);
    if (!ann) {
        cg_studio_reply_error(res, 500, err[0] ? err : "database error", NULL);
    } else {
        cg_studio_send_annotation_webhooks(&app->conn, project, "ANNOTATION_CREATED", ann, id);
        cg_studio_reply(res, 201, ann);
    }
    json_decref(body);
}

void cg_studio_api_predictions(cg_studio_app *app, const cg_http_request *req,
                               cg_http_response *res)
{
    const char *tq = cg_http_query(req, "task"), *pq = cg_http_query(req, "project");
    int64_t task = tq ? cg_studio_parse_id(tq) : 0, project = pq ? cg_studio_parse_id(pq) : 0;
    if ((tq && !task) || (pq && !project)) {
        cg_studio_reply_field_error(res, tq && !task ? "task" : "project",
                                    "Select a valid choice. That choice is not one of the "
                                    "available choices.");
        return;
    }
    json_t *a = cg_studio_store_predictions_json(app->store, task, project);
    if (a) cg_studio_reply(res, 200, a);
    else cg_studio_reply_error(res, 500, "database error", NULL);
}

void cg_studio_api_token_list(cg_studio_app *app, cg_http_response *res, int64_t user)
{
    json_t *a;
    if (cg_studio_store_pat_list(app->store, user, &a) == 0) cg_studio_reply(res, 200, a);
    else cg_studio_reply_error(res, 500, "database error", NULL);
}

void cg_studio_api_token_create(cg_studio_app *app, cg_http_response *res, int64_t user)
{
    json_t *valid;
    if (cg_studio_store_pat_list(app->store, user, &valid) != 0) {
        cg_studio_reply_error(res, 500, "database error", NULL);
        return;
    }
    size_t n = json_array_size(valid);
    json_decref(valid);
    if (n) {
        cg_studio_reply_error(res, 409,
                              "You already have a valid token. Please revoke it "
                              "before creating a new one.",
                              NULL);
        return;
    }
    char *tok = cg_studio_pat_mint(app, user);
    if (!tok) {
        cg_studio_reply_error(res, 500, "cannot create a token", NULL);
        return;
    }
    cg_studio_reply(res, 201, json_pack("{s:s}", "token", tok));
    free(tok);
}

static const char *refresh_field(const cg_http_request *req, cg_http_response *res, json_t **body)
{
    *body = object_body(req, res);
    if (!*body) return NULL;
    json_t *v = json_object_get(*body, "refresh");
    if (!v) {
        cg_studio_reply_field_error(res, "refresh", "This field is required.");
        return NULL;
    }
    if (!json_is_string(v) || !*json_string_value(v)) {
        cg_studio_reply_field_error(res, "refresh",
                                    json_is_string(v) ? "This field may not be blank."
                                                      : "Not a valid string.");
        return NULL;
    }
    return json_string_value(v);
}

/* The claims of a refresh token that verifies (NULL when it does not) and its jti (NULL when
 * it has none): what blacklisting and rotating start from. */
static json_t *refresh_claims(const cg_studio_app *app, const char *refresh, const char **jti)
{
    char err[160];
    json_t *claims = cg_studio_jwt_verify(refresh, app->jwt_secret, (long long)time(NULL), err,
                                          sizeof err);
    *jti = json_string_value(json_object_get(claims, "jti"));
    return claims;
}

void cg_studio_api_token_refresh(cg_studio_app *app, const cg_http_request *req,
                                 cg_http_response *res)
{
    json_t *body;
    const char *refresh = refresh_field(req, res, &body);
    if (refresh) {
        char err[160];
        char *access = cg_studio_pat_refresh(app, refresh, err, sizeof err);
        if (access) cg_studio_reply(res, 200, json_pack("{s:s}", "access", access));
        else cg_studio_reply_error(res, 401, err, NULL);
        free(access);
    }
    json_decref(body);
}

void cg_studio_api_token_blacklist(cg_studio_app *app, const cg_http_request *req,
                                   cg_http_response *res)
{
    json_t *body;
    const char *refresh = refresh_field(req, res, &body), *jti;
    if (refresh) {
        json_t *claims = refresh_claims(app, refresh, &jti);
        if (jti && cg_studio_store_pat_blacklist(app->store, jti) == 0) {
            res->status = 204;
            res->content_type = NULL;
        } else {
            cg_studio_reply_error(res, 404, "Token is invalid or already blacklisted.", NULL);
        }
        json_decref(claims);
    }
    json_decref(body);
}

/* Blacklists the given refresh token of the caller and mints a new one in its place. */
void cg_studio_api_token_rotate(cg_studio_app *app, const cg_http_request *req,
                                cg_http_response *res, int64_t user)
{
    json_t *body;
    const char *refresh = refresh_field(req, res, &body), *jti;
    if (refresh) {
        json_t *claims = refresh_claims(app, refresh, &jti);
        const char *type = json_string_value(json_object_get(claims, "token_type"));
        json_t *uid = json_object_get(claims, "user_id");
        if (!jti || !type || strcmp(type, "refresh") || json_integer_value(uid) != user ||
            cg_studio_store_pat_blacklist(app->store, jti) != 0) {
            cg_studio_reply_error(res, 400, "Token is invalid or expired", NULL);
        } else {
            char *tok = cg_studio_pat_mint(app, user);
            if (tok) cg_studio_reply(res, 200, json_pack("{s:s}", "refresh", tok));
            else cg_studio_reply_error(res, 500, "cannot create a token", NULL);
            free(tok);
        }
        json_decref(claims);
    }
    json_decref(body);
}
