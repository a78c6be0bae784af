/*
 * render.h — Label Studio's JSON for studio's rows and records (private to src/studio).
 *
 * What Label Studio's serializers show for a project, task, annotation, prediction, ML
 * backend and predict-all run, and its time format. The store runs the SQL and hands rows
 * (in store_int.h's *_COLS order) or records to these functions; handlers render records
 * they hold (an ML backend, a run) directly.
 */
#ifndef CG_STUDIO_RENDER_H
#define CG_STUDIO_RENDER_H

#include <jansson.h>
#include <sqlite3.h>
#include <stdint.h>

#include "studio/records.h"

/* Time as Label Studio prints it: 2026-11-28T15:00:00.123456Z. */
void cg_studio_format_time(int64_t us, char out[32]);

json_t *cg_studio_mlb_json(const cg_studio_mlb *m);
json_t *cg_studio_job_json(const cg_studio_job *j);

/* columns as JSON: NULL columns are null; JSON text is parsed; times are LS's format */
json_t *cg__st_col_json_str(sqlite3_stmt *st, int i);
json_t *cg__st_col_json(sqlite3_stmt *st, int i);
json_t *cg__st_col_time(sqlite3_stmt *st, int i);
json_t *cg__st_col_real_or_null(sqlite3_stmt *st, int i);
json_t *cg__st_col_int_or_null(sqlite3_stmt *st, int i);
json_t *cg__st_created_ago(int64_t created_us);

/* row renderers: one row of ANNOTATION_COLS / PREDICTION_COLS as Label Studio shows it (the
 * store argument is unused; it lets them be passed to cg__st_rows_locked) */
json_t *cg__st_annotation_row_json(sqlite3_stmt *st, cg_studio_store *s);
json_t *cg__st_prediction_row(sqlite3_stmt *st, cg_studio_store *s);
/* A row of TASK_COLS with its annotations and predictions (both stolen). */
json_t *cg__st_task_render(sqlite3_stmt *st, json_t *anns, json_t *preds);

/* A project's counters, as the store counts them. */
typedef struct cg__st_project_counts {
    int64_t tasks, with_annotations, annotations, skipped, ground_truth, predictions;
} cg__st_project_counts;
/* A project as ProjectSerializer shows it; created_by (the user's JSON) is stolen. */
json_t *cg__st_project_render(const cg_studio_project *p, const cg__st_project_counts *c,
                              json_t *created_by);

#endif
