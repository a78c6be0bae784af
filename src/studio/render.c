/*
 * render.c — Label Studio's JSON for studio's rows and records: what each serializer of
 * Label Studio shows for a project, task, annotation, prediction, ML backend or predict-all
 * run. See render.h.
 *
 * No SQL here: the store (store.c, store_items.c) runs the queries and hands over result
 * rows (in the column order of store_int.h's *_COLS) or filled structs; this file only reads
 * columns and builds JSON.
 */
#include "studio/render.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"

/* The store's clock (cg_studio_now_us), read here directly so rendering does not call back
 * into the store. */
static int64_t now_us(void)
{
    return (int64_t)(cg_clock_wall_ns() / 1000u);
}

void cg_studio_format_time(int64_t us, char out[32])
{
    if (us < 0) us = 0;
    time_t sec = (time_t)(us / 1000000);
    struct tm tm;
    gmtime_r(&sec, &tm);
    unsigned year = (unsigned)(tm.tm_year + 1900) % 10000u;
    snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02u.%06uZ", year, (unsigned)tm.tm_mon % 100u + 1,
             (unsigned)tm.tm_mday % 100u, (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
             (unsigned)tm.tm_sec % 100u, (unsigned)(us % 1000000));
}

json_t *cg__st_col_json_str(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return json_null();
    return json_string((const char *)sqlite3_column_text(st, i));
}

/* A JSON text column as a value; unparsable text is shown as a string, never dropped. */
json_t *cg__st_col_json(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return json_null();
    const char *t = (const char *)sqlite3_column_text(st, i);
    json_t *v = json_loads(t ? t : "null", JSON_DECODE_ANY, NULL);
    return v ? v : json_string(t ? t : "");
}

json_t *cg__st_col_time(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return json_null();
    char buf[32];
    cg_studio_format_time(sqlite3_column_int64(st, i), buf);
    return json_string(buf);
}

json_t *cg__st_col_real_or_null(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return json_null();
    return json_real(sqlite3_column_double(st, i));
}

json_t *cg__st_col_int_or_null(sqlite3_stmt *st, int i)
{
    if (sqlite3_column_type(st, i) == SQLITE_NULL) return json_null();
    return json_integer(sqlite3_column_int64(st, i));
}

/* Django's timesince, coarsely: "0 minutes", "3 hours", "2 days". */
json_t *cg__st_created_ago(int64_t created_us)
{
    int64_t sec = (now_us() - created_us) / 1000000;
    if (sec < 0) sec = 0;
    char buf[48];
    const char *unit;
    int64_t n;
    if (sec < 3600) {
        n = sec / 60;
        unit = "minute";
    } else if (sec < 86400) {
        n = sec / 3600;
        unit = "hour";
    } else {
        n = sec / 86400;
        unit = "day";
    }
    snprintf(buf, sizeof buf, "%lld\xc2\xa0%s%s", (long long)n, unit, n == 1 ? "" : "s");
    return json_string(buf);
}

/* Whether a label config has at least one control tag (a tag that produces results). */
static int has_control_tags(const char *cfg)
{
    static const char *const tags[] = {"<Choices",
                                       "<Labels",
                                       "<RectangleLabels",
                                       "<PolygonLabels",
                                       "<KeyPointLabels",
                                       "<BrushLabels",
                                       "<EllipseLabels",
                                       "<TextArea",
                                       "<Rating",
                                       "<Taxonomy",
                                       "<Number",
                                       "<DateTime",
                                       "<Pairwise",
                                       "<Ranker",
                                       "<HyperTextLabels",
                                       "<ParagraphLabels",
                                       "<TimeSeriesLabels",
                                       "<VideoRectangle",
                                       "<Relations",
                                       "<Rectangle",
                                       "<Polygon",
                                       "<KeyPoint",
                                       "<Brush",
                                       "<Ellipse",
                                       NULL};
    for (int i = 0; cfg && tags[i]; i++)
        if (strstr(cfg, tags[i])) return 1;
    return 0;
}

json_t *cg__st_project_render(const cg_studio_project *p, const cg__st_project_counts *c,
                              json_t *created_by)
{
    char created[32];
    cg_studio_format_time(p->created_at, created);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(p->id));
    json_object_set_new(o, "title", p->title ? json_string(p->title) : json_null());
    json_object_set_new(o, "description",
                        p->description ? json_string(p->description) : json_null());
    json_object_set_new(o, "label_config", json_string(p->label_config ? p->label_config : ""));
    json_object_set_new(o, "expert_instruction", json_string(""));
    json_object_set_new(o, "show_instruction", json_false());
    json_object_set_new(o, "show_skip_button", json_true());
    json_object_set_new(o, "enable_empty_annotation", json_true());
    json_object_set_new(o, "show_annotation_history", json_false());
    json_object_set_new(o, "organization", json_integer(1));
    json_object_set_new(o, "color", json_string("#FFFFFF"));
    json_object_set_new(o, "maximum_annotations", json_integer(1));
    json_object_set_new(o, "is_published", json_false());
    json_object_set_new(o, "model_version", json_string(p->model_version ? p->model_version : ""));
    json_object_set_new(o, "is_draft", json_false());
    json_object_set_new(o, "created_by", created_by);
    json_object_set_new(o, "created_at", json_string(created));
    json_object_set_new(o, "min_annotations_to_start_training", json_integer(0));
    json_object_set_new(o, "start_training_on_annotation_update", json_false());
    json_object_set_new(o, "show_collab_predictions", json_boolean(p->show_collab_predictions));
    json_object_set_new(o, "num_tasks_with_annotations", json_integer(c->with_annotations));
    json_object_set_new(o, "task_number", json_integer(c->tasks));
    json_object_set_new(o, "useful_annotation_number", json_integer(c->annotations));
    json_object_set_new(o, "ground_truth_number", json_integer(c->ground_truth));
    json_object_set_new(o, "skipped_annotations_number", json_integer(c->skipped));
    json_object_set_new(o, "total_annotations_number", json_integer(c->annotations + c->skipped));
    json_object_set_new(o, "total_predictions_number", json_integer(c->predictions));
    json_object_set_new(o, "sampling", json_string("Sequential sampling"));
    json_object_set_new(o, "show_ground_truth_first", json_false());
    json_object_set_new(o, "show_overlap_first", json_false());
    json_object_set_new(o, "overlap_cohort_percentage", json_integer(100));
    json_object_set_new(o, "task_data_login", json_null());
    json_object_set_new(o, "task_data_password", json_null());
    json_object_set_new(o, "control_weights", json_object());
    json_object_set_new(o, "parsed_label_config", json_object());
    json_object_set_new(o, "evaluate_predictions_automatically", json_false());
    json_object_set_new(o, "config_has_control_tags",
                        json_boolean(has_control_tags(p->label_config)));
    json_object_set_new(o, "skip_queue", json_string("REQUEUE_FOR_OTHERS"));
    json_object_set_new(o, "reveal_preannotations_interactively", json_false());
    json_object_set_new(o, "pinned_at", json_null());
    json_object_set_new(o, "finished_task_number", json_integer(c->with_annotations));
    json_object_set_new(o, "queue_total", json_integer(c->tasks));
    json_object_set_new(o, "queue_done", json_integer(c->with_annotations));
    return o;
}

json_t *cg__st_annotation_row_json(sqlite3_stmt *st, cg_studio_store *s)
{
    /* columns: id,task,project,result,was_cancelled,ground_truth,lead_time,completed_by,
     *          created_at,updated_at */
    json_t *o = json_object();
    int64_t by = sqlite3_column_int64(st, 7);
    char username[64];
    snprintf(username, sizeof username, " admin@localhost, %lld", (long long)by);
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "result", cg__st_col_json(st, 3));
    json_object_set_new(o, "created_username", json_string(username));
    json_object_set_new(o, "created_ago", cg__st_created_ago(sqlite3_column_int64(st, 8)));
    json_object_set_new(o, "completed_by", cg__st_col_int_or_null(st, 7));
    json_object_set_new(o, "was_cancelled", json_boolean(sqlite3_column_int(st, 4)));
    json_object_set_new(o, "ground_truth", json_boolean(sqlite3_column_int(st, 5)));
    json_object_set_new(o, "created_at", cg__st_col_time(st, 8));
    json_object_set_new(o, "updated_at", cg__st_col_time(st, 9));
    json_object_set_new(o, "draft_created_at", json_null());
    json_object_set_new(o, "lead_time", cg__st_col_real_or_null(st, 6));
    json_object_set_new(o, "import_id", json_null());
    json_object_set_new(o, "last_action", json_null());
    json_object_set_new(o, "bulk_created", json_false());
    json_object_set_new(o, "task", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(o, "project", json_integer(sqlite3_column_int64(st, 2)));
    json_object_set_new(o, "updated_by", cg__st_col_int_or_null(st, 7));
    json_object_set_new(o, "parent_prediction", json_null());
    json_object_set_new(o, "parent_annotation", json_null());
    json_object_set_new(o, "last_created_by", json_null());
    (void)s;
    return o;
}

static json_t *prediction_row_json(sqlite3_stmt *st)
{
    /* columns: id,task,project,result,score,model_version,ml_backend,created_at,updated_at */
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "result", cg__st_col_json(st, 3));
    json_object_set_new(o, "model_version", cg__st_col_json_str(st, 5));
    json_object_set_new(o, "created_ago", cg__st_created_ago(sqlite3_column_int64(st, 7)));
    json_object_set_new(o, "score", cg__st_col_real_or_null(st, 4));
    json_object_set_new(o, "cluster", json_null());
    json_object_set_new(o, "neighbors", json_null());
    json_object_set_new(o, "mislabeling", json_real(0.0));
    json_object_set_new(o, "created_at", cg__st_col_time(st, 7));
    json_object_set_new(o, "updated_at", cg__st_col_time(st, 8));
    json_object_set_new(o, "model", json_null());
    json_object_set_new(o, "model_run", json_null());
    json_object_set_new(o, "task", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(o, "project", json_integer(sqlite3_column_int64(st, 2)));
    return o;
}

json_t *cg__st_prediction_row(sqlite3_stmt *st, cg_studio_store *s)
{
    (void)s;
    return prediction_row_json(st);
}

/* One task in the shape of Label Studio's JSON export (also used by the task endpoints and
 * sent to ML backends); anns and preds are stolen. */
json_t *cg__st_task_render(sqlite3_stmt *st, json_t *anns, json_t *preds)
{
    int64_t total_ann = sqlite3_column_int64(st, 7);
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(sqlite3_column_int64(st, 0)));
    json_object_set_new(o, "annotations", anns ? anns : json_array());
    json_object_set_new(o, "file_upload", json_null());
    json_object_set_new(o, "drafts", json_array());
    json_object_set_new(o, "predictions", preds ? preds : json_array());
    json_object_set_new(o, "data", cg__st_col_json(st, 2));
    json_object_set_new(o, "meta", cg__st_col_json(st, 3));
    json_object_set_new(o, "created_at", cg__st_col_time(st, 5));
    json_object_set_new(o, "updated_at", cg__st_col_time(st, 6));
    json_object_set_new(o, "inner_id", json_integer(sqlite3_column_int64(st, 4)));
    json_object_set_new(o, "total_annotations", json_integer(total_ann));
    json_object_set_new(o, "cancelled_annotations", json_integer(sqlite3_column_int64(st, 8)));
    json_object_set_new(o, "total_predictions", json_integer(sqlite3_column_int64(st, 9)));
    json_object_set_new(o, "comment_count", json_integer(0));
    json_object_set_new(o, "unresolved_comment_count", json_integer(0));
    json_object_set_new(o, "last_comment_updated_at", json_null());
    json_object_set_new(o, "project", json_integer(sqlite3_column_int64(st, 1)));
    json_object_set_new(o, "updated_by", json_null());
    json_object_set_new(o, "comment_authors", json_array());
    json_object_set_new(o, "is_labeled", json_boolean(total_ann > 0));
    json_object_set_new(o, "overlap", json_integer(1));
    return o;
}

static const char *readable_state(const char *state)
{
    if (!strcmp(state, "CO")) return "Connected";
    if (!strcmp(state, "ER")) return "Error";
    if (!strcmp(state, "TR")) return "Training";
    if (!strcmp(state, "PR")) return "Predicting";
    return "Disconnected";
}

static json_t *str_or_null(const char *v)
{
    return v ? json_string(v) : json_null();
}

json_t *cg_studio_mlb_json(const cg_studio_mlb *m)
{
    char created[32], updated[32];
    cg_studio_format_time(m->created_at, created);
    cg_studio_format_time(m->updated_at, updated);
    json_t *extra = m->extra_params ? json_loads(m->extra_params, JSON_DECODE_ANY, NULL) : NULL;
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(m->id));
    json_object_set_new(o, "state", json_string(m->state));
    json_object_set_new(o, "readable_state", json_string(readable_state(m->state)));
    json_object_set_new(o, "is_interactive", json_boolean(m->is_interactive));
    json_object_set_new(o, "url", json_string(m->url ? m->url : ""));
    json_object_set_new(o, "error_message", str_or_null(m->error_message));
    json_object_set_new(o, "title", str_or_null(m->title));
    json_object_set_new(o, "auth_method", json_string(m->auth_method ? m->auth_method : "NONE"));
    json_object_set_new(o, "basic_auth_user", str_or_null(m->basic_auth_user));
    json_object_set_new(o, "basic_auth_pass_is_set",
                        json_boolean(m->basic_auth_pass && m->basic_auth_pass[0]));
    json_object_set_new(o, "description", str_or_null(m->description));
    json_object_set_new(o, "extra_params", extra ? extra : json_null());
    json_object_set_new(o, "model_version", str_or_null(m->model_version));
    json_object_set_new(o, "timeout", json_real(m->timeout));
    json_object_set_new(o, "created_at", json_string(created));
    json_object_set_new(o, "updated_at", json_string(updated));
    json_object_set_new(o, "auto_update", json_boolean(m->auto_update));
    json_object_set_new(o, "project", json_integer(m->project));
    return o;
}

json_t *cg_studio_job_json(const cg_studio_job *j)
{
    char t[32];
    json_t *o = json_object();
    json_object_set_new(o, "id", json_integer(j->id));
    json_object_set_new(o, "ml_backend", json_integer(j->ml_backend));
    json_object_set_new(o, "project", json_integer(j->project));
    json_object_set_new(o, "status", json_string(j->status));
    json_object_set_new(o, "model_version", json_string(j->model_version ? j->model_version : ""));
    json_object_set_new(o, "batch_size", json_integer(j->batch_size));
    json_object_set_new(o, "total", json_integer(j->total));
    json_object_set_new(o, "predicted", json_integer(j->predicted));
    json_object_set_new(o, "failed", json_integer(j->failed));
    int64_t left = j->total - j->predicted - j->failed;
    json_object_set_new(o, "remaining", json_integer(left > 0 ? left : 0));
    json_object_set_new(o, "progress",
                        json_real(j->total > 0
                                      ? (double)(j->predicted + j->failed) / (double)j->total
                                      : (strcmp(j->status, "completed") ? 0.0 : 1.0)));
    double secs = 0;
    if (j->started_at)
        secs = (double)((j->finished_at ? j->finished_at : now_us()) - j->started_at) / 1e6;
    json_object_set_new(o, "tasks_per_second",
                        json_real(secs > 0 ? (double)j->predicted / secs : 0.0));
    json_object_set_new(o, "error", str_or_null(j->error));
    cg_studio_format_time(j->created_at, t);
    json_object_set_new(o, "created_at", json_string(t));
    if (j->started_at) cg_studio_format_time(j->started_at, t);
    json_object_set_new(o, "started_at", j->started_at ? json_string(t) : json_null());
    if (j->finished_at) cg_studio_format_time(j->finished_at, t);
    json_object_set_new(o, "finished_at", j->finished_at ? json_string(t) : json_null());
    return o;
}
